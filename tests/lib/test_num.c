/* lib/num: bounded decimal parsing (whole string, range, clear error). */
#include "num.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

/* Parses s in [min, max] and expects it refused with why; *out must stay as it was. */
static void refused(const char *s, int64_t min, int64_t max, const char *want)
{
	int64_t out = 77;
	const char *why = NULL;

	cr_assert_eq(fx_num_parse(s, min, max, &out, &why), -1, "accepted \"%s\"", s ? s : "(null)");
	cr_assert_eq(out, 77, "\"%s\": the result is written only on success", s ? s : "(null)");
	cr_assert_str_eq(why, want, "\"%s\"", s ? s : "(null)");
}

static int64_t parsed(const char *s, int64_t min, int64_t max)
{
	int64_t out = 77;
	const char *why = "not set";

	cr_assert_eq(fx_num_parse(s, min, max, &out, &why), 0, "\"%s\" %s", s, why);
	return out;
}

Test(num, empty_and_null_are_refused_as_empty)
{
	refused("", 0, 10, FX_NUM_EMPTY);
	refused(NULL, 0, 10, FX_NUM_EMPTY);
	refused("", -10, 10, FX_NUM_EMPTY);
}

Test(num, signs_plus_and_lone_minus_are_not_numbers)
{
	refused("+1", 0, 10, FX_NUM_NOT_DECIMAL);
	refused("+1", -10, 10, FX_NUM_NOT_DECIMAL);
	refused("-", -10, 10, FX_NUM_NOT_DECIMAL);
	refused("--1", -10, 10, FX_NUM_NOT_DECIMAL);
	refused("1-", -10, 10, FX_NUM_NOT_DECIMAL);
}

Test(num, a_minus_is_read_only_where_the_range_admits_negatives)
{
	cr_assert_eq(parsed("-7", -10, 10), -7);
	cr_assert_eq(parsed("-0", -10, 10), 0);
	refused("-7", 0, 10, FX_NUM_TOO_SMALL);
	refused("-0", 0, 10, FX_NUM_TOO_SMALL);
	refused("-0", 1, 10, FX_NUM_TOO_SMALL);
}

Test(num, leading_and_trailing_spaces_and_junk_are_refused)
{
	static const char *const bad[] = {" 5", "5 ", "\t5", "5\n", "5x", "x5", "1.0", "1e3", "0x10", "５", "1,000"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refused(bad[i], -1000, 1000, FX_NUM_NOT_DECIMAL);
}

Test(num, leading_zeros_are_the_same_number)
{
	cr_assert_eq(parsed("007", 0, 10), 7);
	cr_assert_eq(parsed("0", 0, 10), 0);
	cr_assert_eq(parsed("-0009", -10, 10), -9);
	cr_assert_eq(parsed("000000000000000000000000000042", 0, 100), 42, "length alone is no overflow");
}

Test(num, values_at_min_and_max_are_accepted_and_one_past_is_refused)
{
	cr_assert_eq(parsed("1", 1, 200), 1);
	cr_assert_eq(parsed("200", 1, 200), 200);
	refused("0", 1, 200, FX_NUM_TOO_SMALL);
	refused("201", 1, 200, FX_NUM_TOO_LARGE);
	cr_assert_eq(parsed("-5", -5, 5), -5);
	refused("-6", -5, 5, FX_NUM_TOO_SMALL);
}

Test(num, the_int64_limits_parse_and_overflow_is_out_of_range_not_saturated)
{
	cr_assert_eq(parsed("9223372036854775807", INT64_MIN, INT64_MAX), INT64_MAX);
	cr_assert_eq(parsed("-9223372036854775808", INT64_MIN, INT64_MAX), INT64_MIN);
	refused("9223372036854775808", INT64_MIN, INT64_MAX, FX_NUM_TOO_LARGE);
	refused("-9223372036854775809", INT64_MIN, INT64_MAX, FX_NUM_TOO_SMALL);
	refused("18446744073709551616", INT64_MIN, INT64_MAX, FX_NUM_TOO_LARGE);
	refused("99999999999999999999999999999", INT64_MIN, INT64_MAX, FX_NUM_TOO_LARGE);
	refused("-99999999999999999999999999999", INT64_MIN, INT64_MAX, FX_NUM_TOO_SMALL);
}

Test(num, errno_is_left_alone)
{
	int64_t out;

	errno = EINTR;
	cr_assert_eq(fx_num_parse("99999999999999999999", 0, 10, &out, NULL), -1, "why may be NULL");
	cr_assert_eq(errno, EINTR);
}

Test(num, u64_reaches_the_top_of_the_unsigned_range)
{
	uint64_t out = 77;
	const char *why = NULL;

	cr_assert_eq(fx_num_parse_u64("18446744073709551615", UINT64_MAX, &out, &why), 0);
	cr_assert_eq(out, UINT64_MAX);
	cr_assert_eq(fx_num_parse_u64("18446744073709551616", UINT64_MAX, &out, &why), -1);
	cr_assert_str_eq(why, FX_NUM_TOO_LARGE);
	cr_assert_eq(out, UINT64_MAX, "untouched on failure");
	cr_assert_eq(fx_num_parse_u64("11", 10, &out, &why), -1);
	cr_assert_str_eq(why, FX_NUM_TOO_LARGE);
	cr_assert_eq(fx_num_parse_u64("-0", 10, &out, &why), -1);
	cr_assert_str_eq(why, FX_NUM_TOO_SMALL);
	cr_assert_eq(fx_num_parse_u64(" 1", 10, &out, &why), -1);
	cr_assert_str_eq(why, FX_NUM_NOT_DECIMAL);
	cr_assert_eq(fx_num_parse_u64("", 10, &out, &why), -1);
	cr_assert_str_eq(why, FX_NUM_EMPTY);
	cr_assert_eq(fx_num_parse_u64("10", 10, &out, &why), 0);
	cr_assert_eq(out, 10);
}

Test(num, digits_reads_a_fixed_width_field_and_stops_at_the_first_non_digit)
{
	int out = 77;

	cr_assert_eq(fx_num_digits("2026-04", 4, &out), 0);
	cr_assert_eq(out, 2026);
	cr_assert_eq(fx_num_digits("04", 2, &out), 0);
	cr_assert_eq(out, 4);
	cr_assert_eq(fx_num_digits("999999999", 9, &out), 0);
	cr_assert_eq(out, 999999999);
	out = 77;
	cr_assert_eq(fx_num_digits("2-26", 4, &out), -1);
	cr_assert_eq(fx_num_digits("20", 4, &out), -1, "the NUL is not a digit: nothing past it is read");
	cr_assert_eq(fx_num_digits("+1", 2, &out), -1);
	cr_assert_eq(fx_num_digits(" 1", 2, &out), -1);
	cr_assert_eq(fx_num_digits("1234567890", 10, &out), -1, "more than 9 digits could overflow an int");
	cr_assert_eq(fx_num_digits("1", 0, &out), -1);
	cr_assert_eq(out, 77);
}

Test(num, cents_reads_decimal_money_exactly)
{
	static const struct {
		const char *s;
		int64_t cents;
	} ok[] = {{"149.99", 14999},   {"149.9", 14990}, {"149", 14900},
		  {"-5.00", -500},     {"0.500", 50},	 {"0.07", 7},
		  {"1300.00", 130000}, {"0.1", 10},	 {"92233720368547758.07", INT64_MAX},
		  {"007.50", 750},     {"-0.01", -1}};
	static const struct {
		const char *s, *why;
	} bad[] = {{"", FX_NUM_EMPTY},
		   {NULL, FX_NUM_EMPTY},
		   {"1.005", FX_NUM_SUB_CENT},
		   {"0.0001", FX_NUM_SUB_CENT},
		   {"1e3", FX_NUM_NOT_AMOUNT},
		   {"1.2.3", FX_NUM_NOT_AMOUNT},
		   {" 1", FX_NUM_NOT_AMOUNT},
		   {"1 ", FX_NUM_NOT_AMOUNT},
		   {"1.", FX_NUM_NOT_AMOUNT},
		   {".5", FX_NUM_NOT_AMOUNT},
		   {"+1", FX_NUM_NOT_AMOUNT},
		   {"1,50", FX_NUM_NOT_AMOUNT},
		   {"R149", FX_NUM_NOT_AMOUNT},
		   {"0x10", FX_NUM_NOT_AMOUNT},
		   {"-", FX_NUM_NOT_AMOUNT},
		   {"99999999999999999999", FX_NUM_TOO_LARGE},
		   {"184467440737095516.16", FX_NUM_TOO_LARGE},
		   {"92233720368547758.08", FX_NUM_TOO_LARGE},
		   {"-92233720368547758.09", FX_NUM_TOO_SMALL}};
	int64_t c;
	const char *why;

	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		why = "not set";
		cr_assert_eq(fx_num_cents(ok[i].s, INT64_MIN, INT64_MAX, &c, &why), 0, "%s: %s", ok[i].s, why);
		cr_assert_eq(c, ok[i].cents, "%s gave %lld", ok[i].s, (long long)c);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		c = 77;
		why = NULL;
		cr_assert_eq(fx_num_cents(bad[i].s, INT64_MIN, INT64_MAX, &c, &why), -1, "accepted %s", bad[i].s);
		cr_assert_eq(c, 77, "%s: untouched on failure", bad[i].s);
		cr_assert_str_eq(why, bad[i].why, "%s", bad[i].s ? bad[i].s : "(null)");
	}
}

Test(num, cents_keeps_to_the_callers_range)
{
	int64_t c = 77;
	const char *why = NULL;

	cr_assert_eq(fx_num_cents("-92233720368547758.08", INT64_MIN, INT64_MAX, &c, &why), 0, "INT64_MIN cents");
	cr_assert_eq(c, INT64_MIN);
	c = 77;
	cr_assert_eq(fx_num_cents("-0.00", 0, 100, &c, &why), -1, "any '-' below a minimum of 0");
	cr_assert_str_eq(why, FX_NUM_TOO_SMALL);
	cr_assert_eq(fx_num_cents("1.01", 0, 100, &c, &why), -1);
	cr_assert_str_eq(why, FX_NUM_TOO_LARGE);
	cr_assert_eq(fx_num_cents("0.99", 100, 200, &c, &why), -1);
	cr_assert_str_eq(why, FX_NUM_TOO_SMALL);
	cr_assert_eq(c, 77);
	cr_assert_eq(fx_num_cents("1.00", 0, 100, &c, &why), 0);
	cr_assert_eq(c, 100);
}
