/*
 * fx_barcode: GS1 barcode numbers (GTIN) and their check digits.
 * Nothing here allocates or keeps state; strings are borrowed.
 *
 * A product barcode is the number printed under the bars: EAN-13 (13
 * digits, the rest of the world, South Africa's prefixes are 600-601),
 * UPC-A (12 digits, North America), EAN-8 (8 digits, small packs) or
 * GTIN-14 (14 digits, cases of units). All four end in the same GS1
 * mod-10 check digit: from the rightmost digit before the check digit
 * leftwards, digits are weighted 3, 1, 3, 1, ...; the check digit brings
 * the sum to a multiple of 10. A number of 8 digits is read as EAN-8:
 * UPC-E (also 8 digits, its check digit is that of its UPC-A expansion)
 * is not accepted; store its UPC-A form instead.
 */
#ifndef FX_BARCODE_H
#define FX_BARCODE_H

#include "err.h"

#include <stdbool.h>
#include <stddef.h>

/* The lengths fx_barcode_validate accepts. */
enum fx_barcode_kind {
	FX_BARCODE_EAN8 = 8,
	FX_BARCODE_UPCA = 12,
	FX_BARCODE_EAN13 = 13,
	FX_BARCODE_GTIN14 = 14,
};

/*
 * The GS1 check digit (0-9) for the n payload digits at p (the barcode
 * without its last digit), or -1 when n is 0 or above 17, or a byte of
 * p[0..n) is not an ASCII digit. Reads exactly n bytes.
 */
FX_MUST_USE int fx_barcode_check_digit(const char *p, size_t n);

/*
 * Whether s is a barcode this API stores: 8, 12, 13 or 14 ASCII digits
 * whose last digit is the GS1 check digit of the others. Returns 0, or -1
 * with 400 INVALID_ARGUMENT naming field (for the JSON error body and the
 * import errors CSV) and a reason a merchant can act on: not only digits,
 * a length that is no EAN/UPC, or a wrong check digit (the message gives
 * the digit that was expected, so a typo is found). NULL is refused as empty.
 */
FX_MUST_USE int fx_barcode_validate(const char *s, const char *field, struct fx_err *e);

#endif
