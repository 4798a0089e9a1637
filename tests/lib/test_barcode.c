#include "barcode.h"
#include "err.h"

#include <criterion/criterion.h>
#include <string.h>

/*
 * Real barcodes, as printed on the products and published: the Wikipedia
 * articles' examples (a Stabilo Boss highlighter, the ISBN-13 of the ISBN
 * article, the UPC-A and EAN-8 articles' pictures) and products from the
 * Open Food Facts database (Coca-Cola 330 ml, Nutella 400 g).
 */
static const char *const real[] = {
	"4006381333931", /* EAN-13, Stabilo Boss (Wikipedia, International Article Number) */
	"9780306406157", /* EAN-13, ISBN 978-0-306-40615-7 (Wikipedia, ISBN) */
	"5449000000996", /* EAN-13, Coca-Cola 330 ml can (Open Food Facts) */
	"3017620422003", /* EAN-13, Nutella 400 g (Open Food Facts) */
	"036000291452", /* UPC-A (Wikipedia, Universal Product Code) */
	"737628064502", /* UPC-A, Thai peanut noodle kit (Open Food Facts) */
	"96385074", /* EAN-8 (Wikipedia, EAN-8) */
	"73513537", /* EAN-8 (Wikipedia, EAN-8) */
	"14006381333938", /* GTIN-14: indicator 1 before the Stabilo's first 12 digits, GS1's rule */
};

Test(barcode, accepts_real_published_barcodes)
{
	struct fx_err e = {0};

	for (size_t i = 0; i < sizeof real / sizeof *real; i++)
		cr_assert_eq(fx_barcode_validate(real[i], "barcode", &e), 0, "%s: %s", real[i], e.message);
}

Test(barcode, computes_the_check_digit_printed_on_real_barcodes)
{
	for (size_t i = 0; i < sizeof real / sizeof *real; i++) {
		size_t n = strlen(real[i]);

		cr_assert_eq(fx_barcode_check_digit(real[i], n - 1), real[i][n - 1] - '0', "%s", real[i]);
	}
}

Test(barcode, refuses_every_other_last_digit_of_a_real_barcode)
{
	for (size_t i = 0; i < sizeof real / sizeof *real; i++) {
		char s[16];
		size_t n = strlen(real[i]);

		memcpy(s, real[i], n + 1);
		for (char d = '0'; d <= '9'; d++) {
			struct fx_err e = {0};

			s[n - 1] = d;
			if (d == real[i][n - 1])
				continue;
			cr_assert_eq(fx_barcode_validate(s, "barcode", &e), -1, "%s", s);
			cr_assert(fx_err_is(&e, FX_INVALID_ARGUMENT));
			cr_assert_str_eq(e.details[0].field, "barcode");
			cr_assert(strstr(e.details[0].reason, "check digit"), "%s", e.details[0].reason);
		}
	}
}

Test(barcode, catches_two_swapped_neighbouring_digits)
{
	/*
	 * 4006381333931 with its 4th and 5th digits swapped (6,3 -> 3,6). GS1 mod 10 catches every
	 * such swap except of two digits 5 apart (3,8): weights 3 and 1 then differ by a multiple of 10.
	 */
	struct fx_err e = {0};

	cr_assert_eq(fx_barcode_validate("4003681333931", "barcode", &e), -1);
	cr_assert(strstr(e.details[0].reason, "check digit"));
}

Test(barcode, names_the_expected_check_digit)
{
	struct fx_err e = {0};

	cr_assert_eq(fx_barcode_validate("4006381333930", "barcode", &e), -1);
	cr_assert(strstr(e.details[0].reason, "should be 1, not 0"), "%s", e.details[0].reason);
}

Test(barcode, refuses_lengths_that_are_no_ean_or_upc)
{
	static const char *const bad[] = {"1",		 "1234567",	    "123456789",
					  "12345678901", "123456789012345", "400638133393100"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct fx_err e = {0};

		cr_assert_eq(fx_barcode_validate(bad[i], "barcode", &e), -1, "%s", bad[i]);
		cr_assert(fx_err_is(&e, FX_INVALID_ARGUMENT));
		cr_assert(strstr(e.details[0].reason, "must be 13 digits"), "%s: %s", bad[i], e.details[0].reason);
	}
}

Test(barcode, refuses_anything_but_ascii_digits)
{
	static const char *const bad[] = {"400638133393A",
					  " 4006381333931",
					  "4006381333931 ",
					  "4006-381333931",
					  "+006381333931",
					  "\xd9\xa4"
					  "006381333931" /* Arabic-Indic four */};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct fx_err e = {0};

		cr_assert_eq(fx_barcode_validate(bad[i], "barcode", &e), -1, "%s", bad[i]);
		cr_assert(strstr(e.details[0].reason, "only digits"), "%s", e.details[0].reason);
	}
}

Test(barcode, refuses_empty_and_null)
{
	struct fx_err e = {0};

	cr_assert_eq(fx_barcode_validate("", "barcode", &e), -1);
	cr_assert_str_eq(e.details[0].field, "barcode");
	fx_err_clear(&e);
	cr_assert_eq(fx_barcode_validate(NULL, "row.barcode", &e), -1);
	cr_assert_str_eq(e.details[0].field, "row.barcode");
}

Test(barcode, check_digit_refuses_bad_payloads)
{
	cr_assert_eq(fx_barcode_check_digit("", 0), -1);
	cr_assert_eq(fx_barcode_check_digit("12345678901234567", 17), 5); /* 17 digits: SSCC's payload */
	cr_assert_eq(fx_barcode_check_digit("123456789012345678", 18), -1);
	cr_assert_eq(fx_barcode_check_digit("12x4", 4), -1);
	cr_assert_eq(fx_barcode_check_digit("0000000", 7), 0);
}
