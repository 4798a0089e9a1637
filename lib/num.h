/*
 * fx_num: the one way text becomes an integer, in the spirit of OpenBSD's
 * strtonum(3): the whole string is one decimal number within the caller's
 * range, or the call fails and says why. Nothing here allocates or keeps
 * state; the result is written only on success.
 *
 * The grammar is strict, because every caller reads machine-written text
 * (query parameters, headers, environment variables, upstream JSON): ASCII
 * digits, leading zeros allowed, a '-' only when the range admits negative
 * numbers; no spaces, no '+', no "0x", nothing after the last digit.
 * strtol and its family appear nowhere else (scripts/lint).
 */
#ifndef FX_NUM_H
#define FX_NUM_H

#include "err.h"

#include <stdint.h>

/* The phrases fx_num_parse and fx_num_parse_u64 give in *why. */
#define FX_NUM_EMPTY "is empty"
#define FX_NUM_NOT_DECIMAL "is not a decimal integer"
#define FX_NUM_TOO_SMALL "is below the minimum"
#define FX_NUM_TOO_LARGE "is above the maximum"
/* And the ones only fx_num_cents gives. */
#define FX_NUM_NOT_AMOUNT "is not a decimal amount"
#define FX_NUM_SUB_CENT "has more than 2 decimals"

/*
 * Parses all of s as a decimal integer in [min, max]. Returns 0 and *out,
 * or -1 with *out untouched and, when why is not NULL, *why pointing to one
 * of the static FX_NUM_* phrases: FX_NUM_EMPTY for NULL or "";
 * FX_NUM_NOT_DECIMAL for anything but [-]digits; FX_NUM_TOO_SMALL below min
 * (and for any '-' when min >= 0, "-0" included); FX_NUM_TOO_LARGE above
 * max, also past INT64_MAX. Never reads past the NUL; never sets errno.
 */
FX_MUST_USE int fx_num_parse(const char *s, int64_t min, int64_t max, int64_t *out, const char **why);

/* Like fx_num_parse for [0, max] in the unsigned range (up to UINT64_MAX); a '-' is FX_NUM_TOO_SMALL. */
FX_MUST_USE int fx_num_parse_u64(const char *s, uint64_t max, uint64_t *out, const char **why);

/*
 * Parses all of s as a decimal amount of money into cents, exactly (no
 * floating point): [-]digits, optionally '.' and at least one digit;
 * "149.99", "149.9", "149", "-5.00", "0.500" (decimals past the second are
 * accepted only when they are zeros). The one home of that arithmetic:
 * channel answers call it directly, spreadsheet cells after fx_price_parse
 * (lib/price) has read their spellings. Returns 0 and *out in [min, max],
 * or -1 with *out untouched and, when why is not NULL, FX_NUM_EMPTY (NULL
 * or ""), FX_NUM_NOT_AMOUNT (spaces, '+', ',', exponent, "1.", ".5", a
 * second '.', anything else), FX_NUM_SUB_CENT ("1.005"), FX_NUM_TOO_SMALL
 * (below min, and any '-' when min >= 0) or FX_NUM_TOO_LARGE (above max,
 * also past INT64_MAX cents).
 */
FX_MUST_USE int fx_num_cents(const char *s, int64_t min, int64_t max, int64_t *out, const char **why);

/*
 * Reads exactly n (1..9) ASCII digits at p as a number, for fixed-width
 * fields such as the "2026" and "04" of a date. Returns 0 and *out, or -1
 * (*out untouched) when one of them is not a digit; it stops at the first
 * that is not, so a NUL ends it safely.
 */
FX_MUST_USE int fx_num_digits(const char *p, int n, int *out);

#endif
