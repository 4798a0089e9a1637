/*
 * fx_price: a money cell as a spreadsheet writes it, in rand, to cents,
 * exactly (no floating point). The strict decimal-to-cents step is
 * fx_num_cents (lib/num); this module only reads the spreadsheet's
 * spellings around it. Nothing here allocates.
 *
 * What is read:
 * - Spaces around the amount (ASCII space, TAB, NBSP U+00A0, narrow NBSP
 *   U+202F) are ignored, and so is a leading currency "R" or "ZAR",
 *   attached or followed by spaces: "R149.99", "R 149.99", "ZAR 149.99".
 * - Digits, with at most one decimal separator ('.' or ',') and optional
 *   thousands separators: one kind throughout, either spaces (ASCII space, NBSP
 *   or U+202F, mixed freely: LibreOffice and Excel write NBSP) or the
 *   punctuation mark that is not the decimal one. Thousands separators
 *   must sit between digits in groups of exactly three, never a TAB ("1 499,00",
 *   "12,345,678.90"; "14 99" is refused).
 * - Which mark is the decimal separator: when both '.' and ',' appear, the
 *   last one ("1,499.00" and "1.499,00" are both 1499.00). When one of them
 *   appears more than once, it separates thousands ("1,499,000"). When one
 *   appears once, it is the decimal separator, except that the mark that is
 *   NOT the file's decimal mark (',' when decimal_comma is false, '.' when
 *   true) followed by exactly three digits separates thousands. So with
 *   decimal_comma false: "1,499" is 1499.00, "149,99" is 149.99, "1.5" is
 *   1.50; with decimal_comma true: "1.499" is 1499.00, "149.99" is 149.99,
 *   "1,499" has three decimals (refused).
 * - At most two decimals; further decimals are accepted only when they are
 *   zeros ("149.990"). A separator must have digits on both sides ("149.",
 *   ".99" are refused).
 * - Prices are never negative: '-', '+' and accounting "(149.99)" are
 *   refused, and so is anything else (letters, other currencies, a second
 *   decimal separator, more than FX_PRICE_MAX_TEXT bytes, past INT64_MAX).
 */
#ifndef FX_PRICE_H
#define FX_PRICE_H

#include "err.h"

#include <stdbool.h>
#include <stdint.h>

#define FX_PRICE_MAX_TEXT 64 /* bytes of a money cell, spaces and currency included */

/*
 * A spreadsheet money cell in rand to cents: "149.99", "149,99" (decimal comma), "R 149.99",
 * "R1 499,00", "R 1 499,00", "1,499.00", "1 499.00" (space, NBSP U+00A0 or U+202F as group
 * separators), by the rules above; decimal_comma is the file's decimal mark (fx_csvin's
 * decimal_comma). Returns 0 and *cents (>= 0), or -1 with *cents untouched and 400
 * INVALID_ARGUMENT whose detail names field and says how to write the amount. s NULL or
 * empty (spaces only) is refused as empty.
 */
FX_MUST_USE int fx_price_parse(const char *s, bool decimal_comma, const char *field, int64_t *cents, struct fx_err *e);

#endif
