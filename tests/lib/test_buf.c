#include "arena.h"
#include "buf.h"

#include <criterion/criterion.h>
#include <string.h>

Test(buf, appends_until_the_cap_and_refuses_beyond)
{
	struct fx_buf b;

	fx_buf_init(&b, 8);
	cr_assert_eq(fx_buf_puts(&b, "abcd"), 0);
	cr_assert_eq(fx_buf_puts(&b, "efgh"), 0);
	cr_assert_eq(fx_buf_puts(&b, "i"), -1);
	cr_assert_str_eq(b.data, "abcdefgh", "a refused append leaves the buffer unchanged");
	cr_assert_eq(b.len, 8);
	fx_buf_cleanup(&b);
}

Test(buf, printf_respects_the_cap)
{
	struct fx_buf b;

	fx_buf_init(&b, 10);
	cr_assert_eq(fx_buf_printf(&b, "%d-%s", 42, "abc"), 0);
	cr_assert_eq(fx_buf_printf(&b, "%s", "0123456789"), -1);
	cr_assert_str_eq(b.data, "42-abc");
	fx_buf_cleanup(&b);
}

Test(buf, json_string_escapes_quotes_controls_and_keeps_utf8)
{
	struct fx_buf b;
	const char in[] = "a\"b\\c\n\x01 é";

	fx_buf_init(&b, 100);
	cr_assert_eq(fx_buf_json_string(&b, in, strlen(in)), 0);
	cr_assert_str_eq(b.data, "\"a\\\"b\\\\c\\n\\u0001 é\"");
	fx_buf_cleanup(&b);
}

Test(arena, refuses_allocations_past_its_budget)
{
	struct fx_arena a;

	fx_arena_init(&a, 64 * 1024);
	cr_assert_not_null(fx_arena_alloc(&a, 40000));
	cr_assert_null(fx_arena_alloc(&a, 40000));
	fx_arena_reset(&a);
	cr_assert_not_null(fx_arena_alloc(&a, 40000), "reset gives the budget back");
	cr_assert_str_eq(fx_arena_printf(&a, "%s-%d", "x", 7), "x-7");
	fx_arena_cleanup(&a);
}

Test(buf, put_uint_appends_decimal_digits_from_zero_to_the_largest)
{
	struct fx_buf b;

	fx_buf_init(&b, 64);
	cr_assert_eq(fx_buf_put_uint(&b, 0), 0);
	cr_assert_eq(fx_buf_puts(&b, ","), 0);
	cr_assert_eq(fx_buf_put_uint(&b, 1234567890), 0);
	cr_assert_eq(fx_buf_puts(&b, ","), 0);
	cr_assert_eq(fx_buf_put_uint(&b, 18446744073709551615ull), 0);
	cr_assert_str_eq(b.data, "0,1234567890,18446744073709551615");
	fx_buf_cleanup(&b);
}

Test(buf, put_uint_past_the_cap_fails_and_leaves_the_buffer_unchanged)
{
	struct fx_buf b;

	fx_buf_init(&b, 5);
	cr_assert_eq(fx_buf_puts(&b, "ab"), 0);
	cr_assert_eq(fx_buf_put_uint(&b, 1234), -1);
	cr_assert_str_eq(b.data, "ab");
	cr_assert_eq(fx_buf_put_uint(&b, 123), 0);
	cr_assert_str_eq(b.data, "ab123");
	fx_buf_cleanup(&b);
}

Test(buf, reserve_makes_room_in_one_allocation_and_respects_the_cap)
{
	struct fx_buf b;
	char chunk[1000];
	const char *data;

	memset(chunk, 'x', sizeof(chunk));
	fx_buf_init(&b, 30000);
	cr_assert_eq(fx_buf_reserve(&b, 30000), 0);
	cr_assert_eq(b.len, 0);
	cr_assert_str_eq(b.data, "", "a reserved empty buffer is an empty string");
	cr_assert_eq(b.cap, 30001);
	data = b.data;
	for (int i = 0; i < 30; i++)
		cr_assert_eq(fx_buf_append(&b, chunk, sizeof(chunk)), 0);
	cr_assert_eq(b.data, data, "appends within the reserved room do not move the data");
	cr_assert_eq(b.len, 30000);
	cr_assert_eq(fx_buf_reserve(&b, 1), -1, "past the cap");
	cr_assert_eq(fx_buf_append(&b, "y", 1), -1);
	cr_assert_eq(b.len, 30000);
	cr_assert_eq(b.data[b.len], '\0');
	fx_buf_reset(&b);
	cr_assert_eq(fx_buf_reserve(&b, 10), 0);
	cr_assert_eq(b.cap, 30001, "a smaller reservation keeps the room there is");
	fx_buf_cleanup(&b);
	fx_buf_init(&b, 8);
	cr_assert_eq(fx_buf_reserve(&b, 9), -1);
	cr_assert_null(b.data, "a refused reservation allocates nothing");
	cr_assert_eq(fx_buf_puts(&b, "abc"), 0);
	cr_assert_eq(fx_buf_reserve(&b, 5), 0);
	cr_assert_eq(fx_buf_reserve(&b, 6), -1);
	cr_assert_str_eq(b.data, "abc");
	fx_buf_cleanup(&b);
}

/*
 * Appends that fit the room there is take no grow step; one that would
 * leave no room for the NUL grows first, and every append leaves the NUL
 * inside the allocation (cap > len), up to the cap and not past it.
 */
Test(buf, an_append_filling_the_room_but_its_nul_grows_first_and_the_nul_stays_inside)
{
	struct fx_buf b;
	const char *data;

	fx_buf_init(&b, 6);
	cr_assert_eq(fx_buf_append(&b, "", 0), 0);
	cr_assert_not_null(b.data, "an empty append to an empty buffer makes its string");
	cr_assert_str_eq(b.data, "");
	fx_buf_cleanup(&b);
	fx_buf_init(&b, 100);
	cr_assert_eq(fx_buf_reserve(&b, 4), 0);
	cr_assert_eq(b.cap, 5);
	data = b.data;
	cr_assert_eq(fx_buf_append(&b, "abc", 3), 0);
	cr_assert_eq(fx_buf_append(&b, "d", 1), 0);
	cr_assert_eq(b.data, data, "within the room: no growth");
	cr_assert_eq(b.cap, 5);
	cr_assert_eq(fx_buf_append(&b, "", 0), 0);
	cr_assert_eq(b.cap, 5, "nothing appended, the NUL already inside");
	cr_assert_eq(fx_buf_append(&b, "e", 1), 0);
	cr_assert_gt(b.cap, b.len, "the NUL stays inside the allocation");
	cr_assert_str_eq(b.data, "abcde");
	fx_buf_cleanup(&b);
	fx_buf_init(&b, 5);
	cr_assert_eq(fx_buf_reserve(&b, 5), 0);
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(fx_buf_append(&b, "x", 1), 0);
		cr_assert_gt(b.cap, b.len);
	}
	cr_assert_eq(fx_buf_append(&b, "", 0), 0, "an empty append at the cap");
	cr_assert_eq(fx_buf_append(&b, "y", 1), -1);
	cr_assert_str_eq(b.data, "xxxxx");
	fx_buf_cleanup(&b);
}
