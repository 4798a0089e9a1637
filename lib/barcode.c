#include "barcode.h"

#include <string.h>

int fx_barcode_check_digit(const char *p, size_t n)
{
	unsigned sum = 0;

	if (n == 0 || n > 17)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned char)p[n - 1 - i] - '0';

		if (d > 9)
			return -1;
		sum += i % 2 == 0 ? 3 * d : d;
	}
	return (int)((10 - sum % 10) % 10);
}

int fx_barcode_validate(const char *s, const char *field, struct fx_err *e)
{
	size_t n;
	int want;

	if (!s || !*s)
		return fx_err_invalid(e, field, "is empty");
	n = strlen(s);
	if (strspn(s, "0123456789") != n)
		return fx_err_invalid(e, field, "must be only digits (EAN-13, UPC-A, EAN-8 or GTIN-14)");
	if (n != FX_BARCODE_EAN8 && n != FX_BARCODE_UPCA && n != FX_BARCODE_EAN13 && n != FX_BARCODE_GTIN14)
		return fx_err_invalid(e, field,
				      "must be 13 digits (EAN-13), 12 (UPC-A), 8 (EAN-8) or 14 (GTIN-14), not %zu", n);
	want = fx_barcode_check_digit(s, n - 1);
	if (want < 0)
		return fx_err_invalid(e, field, "must be only digits (EAN-13, UPC-A, EAN-8 or GTIN-14)");
	if (s[n - 1] - '0' != want)
		return fx_err_invalid(e, field, "has a wrong check digit: the last digit should be %d, not %c", want,
				      s[n - 1]);
	return 0;
}
