#include "chanpush.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

/* ---- the quantity a listing shows ---- */

Test(quantity, is_available_less_the_buffer)
{
	cr_assert_eq(fx_chanpush_quantity(10, 0, -1), 10);
	cr_assert_eq(fx_chanpush_quantity(10, 3, -1), 7);
}

Test(quantity, is_never_negative)
{
	cr_assert_eq(fx_chanpush_quantity(3, 3, -1), 0, "a buffer equal to available leaves nothing");
	cr_assert_eq(fx_chanpush_quantity(2, 5, -1), 0, "a buffer above available is 0, not -3");
	cr_assert_eq(fx_chanpush_quantity(-4, 0, -1), 0, "oversold stock (available below 0) shows 0");
	cr_assert_eq(fx_chanpush_quantity(0, 0, 10), 0);
}

Test(quantity, is_capped_by_max_quantity)
{
	cr_assert_eq(fx_chanpush_quantity(100, 0, 25), 25);
	cr_assert_eq(fx_chanpush_quantity(100, 80, 25), 20, "the cap applies after the buffer");
	cr_assert_eq(fx_chanpush_quantity(100, 0, 0), 0, "a cap of 0 hides the listing's stock");
	cr_assert_eq(fx_chanpush_quantity(7, 0, 25), 7, "below the cap the cap does nothing");
}

Test(quantity, negative_buffer_counts_as_none_and_extremes_do_not_overflow)
{
	cr_assert_eq(fx_chanpush_quantity(10, -5, -1), 10, "a negative buffer never adds stock");
	cr_assert_eq(fx_chanpush_quantity(INT64_MAX, 0, -1), INT64_MAX);
	cr_assert_eq(fx_chanpush_quantity(INT64_MAX, INT64_MAX, -1), 0);
	cr_assert_eq(fx_chanpush_quantity(INT64_MIN, INT64_MAX, -1), 0);
	cr_assert_eq(fx_chanpush_quantity(INT64_MAX, INT64_MIN, 5), 5);
}

/* ---- backoff after failed calls ---- */

Test(backoff, doubles_from_one_second_per_repeated_failure)
{
	cr_assert_eq(fx_chanpush_backoff_ms(1, 0), 1000);
	cr_assert_eq(fx_chanpush_backoff_ms(2, 0), 2000);
	cr_assert_eq(fx_chanpush_backoff_ms(3, 0), 4000);
	cr_assert_eq(fx_chanpush_backoff_ms(7, 0), 64000, "the 7th failure in a row waits past the next minute's run");
}

Test(backoff, stops_growing_at_fifteen_minutes)
{
	cr_assert_eq(fx_chanpush_backoff_ms(11, 0), 15 * 60 * 1000, "2^10 s would be 17 min");
	cr_assert_eq(fx_chanpush_backoff_ms(1000, 0), 15 * 60 * 1000, "no overflow however long it fails");
	cr_assert_eq(fx_chanpush_backoff_ms(INT32_MAX, 0), 15 * 60 * 1000);
}

Test(backoff, never_calls_before_the_channel_said)
{
	cr_assert_eq(fx_chanpush_backoff_ms(1, 30000), 30000, "Retry-After: 30 beats our 1 s");
	cr_assert_eq(fx_chanpush_backoff_ms(6, 3000), 32000, "our backoff beats a shorter Retry-After");
	cr_assert_eq(fx_chanpush_backoff_ms(20, 3600 * 1000), 3600 * 1000,
		     "what the channel asks is honoured above our own cap");
}

Test(backoff, a_first_failure_below_one_counts_as_one)
{
	cr_assert_eq(fx_chanpush_backoff_ms(0, 0), 1000);
	cr_assert_eq(fx_chanpush_backoff_ms(-3, 0), 1000);
}

/* ---- a listing that keeps failing ---- */

Test(failures, a_listing_goes_error_after_five_failures_in_a_row)
{
	for (int64_t f = 1; f < FX_CHANPUSH_MAX_FAILURES; f++)
		cr_assert_str_eq(fx_chanpush_failed_status(f), "pending", "failure %lld of 5 keeps retrying",
				 (long long)f);
	cr_assert_eq(FX_CHANPUSH_MAX_FAILURES, 5);
	cr_assert_str_eq(fx_chanpush_failed_status(5), "error");
	cr_assert_str_eq(fx_chanpush_failed_status(6), "error");
}
