#include "model.h"

#include <criterion/criterion.h>
#include <string.h>

/* VAT inside VAT-inclusive totals: round(total × rate / (10000 + rate)). */
Test(vat, fifteen_percent_of_an_inclusive_total)
{
	cr_assert_eq(fx_vat_inclusive(11500, 1500), 1500, "R115.00 incl. holds R15.00 VAT");
	cr_assert_eq(fx_vat_inclusive(100, 1500), 13, "13.04 rounds down to 13");
	cr_assert_eq(fx_vat_inclusive(0, 1500), 0);
}

Test(vat, halves_round_away_from_zero)
{
	/* 23 × 1500 / 11500 = 3.0 exactly; 115 × 1000 / 11000 = 10.4545…; 231 × 1500 / 11500 = 30.13… */
	cr_assert_eq(fx_vat_inclusive(23, 1500), 3);
	cr_assert_eq(fx_vat_inclusive(115, 1000), 10);
	/* 1 × 10000 / 20000 = 0.5 exactly: rounds up. */
	cr_assert_eq(fx_vat_inclusive(1, 10000), 1);
	cr_assert_eq(fx_vat_inclusive(3, 10000), 2, "1.5 rounds to 2");
	cr_assert_eq(fx_vat_inclusive(-3, 10000), -2, "and -1.5 to -2");
}

Test(vat, shipping_is_part_of_the_inclusive_total)
{
	/* Lines R199.99 × 2 + R60.00 shipping = R459.98: VAT 459.98 × 15/115 = 59.997… → R60.00. */
	int64_t total = 19999 * 2 + 6000;

	cr_assert_eq(total, 45998);
	cr_assert_eq(fx_vat_inclusive(total, 1500), 6000);
}

Test(vat, zero_rate_and_huge_totals_are_exact)
{
	cr_assert_eq(fx_vat_inclusive(123456789, 0), 0);
	/* 10^17 cents at 15 %: 10^17 × 1500 overflows int64 without 128-bit arithmetic. */
	cr_assert_eq(fx_vat_inclusive(100000000000000000LL, 1500), 13043478260869565LL);
}

Test(ids, are_twenty_safe_characters_and_differ)
{
	char a[FX_ID_LEN + 1], b[FX_ID_LEN + 1];

	fx_id_new(a);
	fx_id_new(b);
	cr_assert_eq(strlen(a), 20);
	cr_assert(fx_id_valid(a));
	cr_assert_str_neq(a, b);
	cr_assert_not(fx_id_valid("../etc"));
	cr_assert_not(fx_id_valid(""));
	cr_assert_not(fx_id_valid("a b"));
}

Test(page_tokens, round_trip_and_refuse_another_query)
{
	struct fx_value values[2], back = {0};
	struct fx_buf token;
	struct fx_err e;

	fx_err_clear(&e);
	fx_buf_init(&token, 4096);
	fx_value_string(&values[0], "blue shirt", 10);
	fx_value_string(&values[1], "doc123", 6);
	cr_assert_eq(fx_page_token_make("products|active", values, 2, &token), 0);
	cr_assert_eq(fx_page_token_read(token.data, "products|active", &back, &e), 0, "%s", e.message);
	cr_assert_eq(back.u.arr.n, 2);
	cr_assert(fx_value_equal(&back.u.arr.items[0], &values[0]));
	fx_value_cleanup(&back);
	cr_assert_eq(fx_page_token_read(token.data, "products|archived", &back, &e), -1);
	cr_assert_eq(e.code, 400);
	cr_assert_str_eq(e.details[0].field, "pageToken");
	fx_err_clear(&e);
	cr_assert_eq(fx_page_token_read("!!!", "products|active", &back, &e), -1);
	fx_buf_cleanup(&token);
	fx_value_cleanup(&values[0]);
	fx_value_cleanup(&values[1]);
}
