/* lib/price: spreadsheet money cells in rand to exact cents. */
#include "price.h"

#include <criterion/criterion.h>
#include <string.h>

#define NBSP "\xC2\xA0"
#define NNBSP "\xE2\x80\xAF"

static int64_t price(const char *s, bool decimal_comma)
{
	struct fx_err e;
	int64_t c = -77;

	fx_err_clear(&e);
	cr_assert_eq(fx_price_parse(s, decimal_comma, "price", &c, &e), 0, "\"%s\" (decimal comma %d): %s", s,
		     decimal_comma, e.message);
	return c;
}

/* Expects s refused, *cents untouched, a 400 naming the field, and a reason holding want. */
static void refused(const char *s, bool decimal_comma, const char *want)
{
	struct fx_err e;
	int64_t c = -77;

	fx_err_clear(&e);
	cr_assert_eq(fx_price_parse(s, decimal_comma, "price", &c, &e), -1, "accepted \"%s\" as %lld", s ? s : "(null)",
		     (long long)c);
	cr_assert_eq(c, -77, "\"%s\": untouched on failure", s ? s : "(null)");
	cr_assert(fx_err_is(&e, FX_INVALID_ARGUMENT));
	cr_assert_eq(e.ndetails, 1);
	cr_assert_str_eq(e.details[0].field, "price");
	cr_assert(strstr(e.details[0].reason, want), "\"%s\": reason \"%s\" lacks \"%s\"", s ? s : "(null)",
		  e.details[0].reason, want);
}

Test(price, reads_the_spellings_the_issue_lists_in_both_kinds_of_file)
{
	for (int dc = 0; dc <= 1; dc++) {
		cr_assert_eq(price("149.99", dc), 14999);
		cr_assert_eq(price("149,99", dc), 14999);
		cr_assert_eq(price("R 149.99", dc), 14999);
		cr_assert_eq(price("R1 499,00", dc), 149900);
		cr_assert_eq(price("R 1 499,00", dc), 149900);
		cr_assert_eq(price("1,499.00", dc), 149900);
		cr_assert_eq(price("1.499,00", dc), 149900);
		cr_assert_eq(price("1 499.00", dc), 149900);
		cr_assert_eq(price("149", dc), 14900);
		cr_assert_eq(price("0", dc), 0);
		cr_assert_eq(price("0,5", dc), 50);
		cr_assert_eq(price("149.9", dc), 14990);
	}
}

Test(price, takes_nbsp_and_narrow_nbsp_as_thousands_separators)
{
	cr_assert_eq(price("1" NBSP "499,00", true), 149900);
	cr_assert_eq(price("R" NBSP "1" NBSP "499,00", true), 149900);
	cr_assert_eq(price("1" NNBSP "499.00", false), 149900);
	cr_assert_eq(price("12" NBSP "345 678" NNBSP "901,23", true), 1234567890123);
	cr_assert_eq(price(NBSP " 149.99 " NNBSP, false), 14999, "spaces of every kind around the amount");
}

Test(price, takes_a_currency_prefix_attached_or_spaced)
{
	cr_assert_eq(price("R149.99", false), 14999);
	cr_assert_eq(price("R  149.99", false), 14999);
	cr_assert_eq(price("ZAR 149.99", false), 14999);
	cr_assert_eq(price("ZAR1 499,00", true), 149900);
	cr_assert_eq(price("  R 5 ", true), 500);
}

Test(price, reads_a_lone_separator_by_the_files_decimal_mark)
{
	/* ',' in a ',' file (a quoted cell) with three digits after it groups thousands... */
	cr_assert_eq(price("1,499", false), 149900);
	/* ...but in a ';' file it is the decimal comma, and three decimals are refused. */
	refused("1,499", true, "more than 2 decimals");
	/* The same for '.' the other way round. */
	cr_assert_eq(price("1.499", true), 149900);
	refused("1.499", false, "more than 2 decimals");
	/* Fewer or more than three digits after the foreign mark: a decimal separator all the same. */
	cr_assert_eq(price("149,99", false), 14999);
	cr_assert_eq(price("149.99", true), 14999);
	cr_assert_eq(price("1,5000", false), 150, "four decimals, the last two zeros");
	/* The file's own mark is the decimal separator even before three digits (zeros are exact). */
	cr_assert_eq(price("1.500", false), 150);
	cr_assert_eq(price("1,500", true), 150);
	/* A mark written more than once separates thousands, whatever the file. */
	cr_assert_eq(price("1,499,000", true), 149900000);
	cr_assert_eq(price("1.499.000", false), 149900000);
	cr_assert_eq(price("1.499.000,50", false), 149900050);
}

Test(price, keeps_extra_decimals_only_when_they_are_zeros)
{
	cr_assert_eq(price("149.990", false), 14999);
	cr_assert_eq(price("149,9900", true), 14999);
	refused("149.995", false, "more than 2 decimals");
	refused("0,001", true, "more than 2 decimals");
}

Test(price, refuses_negative_amounts)
{
	refused("-149.99", false, "must not be negative");
	refused("R -5", true, "must not be negative");
	refused("(149.99)", false, "must not be negative");
	refused("R-1", false, "must not be negative");
}

Test(price, refuses_badly_grouped_thousands)
{
	refused("14 99", false, "grouped by three");
	refused("1 4990", false, "grouped by three");
	refused("1499 000", false, "grouped by three");
	refused("1,49,900.00", false, "grouped by three");
	refused("1 499,000.00", false, "mixes separators");
	refused("1.499.000.00", false, "grouped by three");
	refused("1,5 000", false, "follows the decimal");
	refused("1,499.000,00", false, "mixes separators");
}

Test(price, refuses_what_is_not_an_amount)
{
	static const char *const bad[] = {"abc",  "149.",      "149,",	     ".99",	 ",99",	   "1..5",    "1  499",
					  "+149", "$149.99",   "149.99 R",   "1e3",	 "0x10",   "USD 149", "R",
					  "R R1", "149.99.99", "1 499,00 -", "149\t.99", "1\t499", "\xC2\xA0"};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct fx_err e;
		int64_t c = -77;

		fx_err_clear(&e);
		cr_assert_eq(fx_price_parse(bad[i], false, "price", &c, &e), -1, "accepted \"%s\"", bad[i]);
		cr_assert_eq(c, -77);
		cr_assert_str_eq(e.details[0].field, "price");
	}
	refused("$149.99", false, "149.99, 149,99 or R 1 499,00");
}

Test(price, refuses_empty_and_space_only_cells_as_empty)
{
	refused(NULL, false, "is empty");
	refused("", true, "is empty");
	refused(" " NBSP "\t", false, "is empty");
	refused("R ", false, "not an amount");
}

Test(price, refuses_past_int64_and_overlong_text)
{
	char big[FX_PRICE_MAX_TEXT + 2];

	cr_assert_eq(price("92233720368547758.07", false), INT64_MAX);
	refused("92233720368547758.08", false, "too large");
	refused("99 999 999 999 999 999 999", false, "too large");
	memset(big, '1', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	refused(big, false, "too long");
	big[FX_PRICE_MAX_TEXT] = '\0';
	refused(big, false, "too large"); /* exactly the cap: read, then too large */
}

Test(price, names_the_field_in_the_message)
{
	struct fx_err e;
	int64_t c;

	fx_err_clear(&e);
	cr_assert_eq(fx_price_parse("abc", false, "cost", &c, &e), -1);
	cr_assert_str_eq(e.details[0].field, "cost");
	cr_assert(strstr(e.message, "cost is not an amount in rand"), "%s", e.message);
}
