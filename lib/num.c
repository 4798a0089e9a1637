#include "num.h"

#include <stdbool.h>
#include <stddef.h>

static int fail(const char **why, const char *what)
{
	if (why)
		*why = what;
	return -1;
}

/*
 * Reads s as [-]digits into a sign and a magnitude; a magnitude past
 * UINT64_MAX sets *over instead. Fails only on the grammar.
 */
static int scan(const char *s, bool *neg, uint64_t *mag, bool *over, const char **why)
{
	const char *p = s;
	uint64_t v = 0;

	if (!s || !*s)
		return fail(why, FX_NUM_EMPTY);
	*neg = *p == '-';
	if (*neg)
		p++;
	if (!*p)
		return fail(why, FX_NUM_NOT_DECIMAL);
	*over = false;
	for (; *p; p++) {
		unsigned digit = (unsigned)(*p - '0');

		if (*p < '0' || *p > '9')
			return fail(why, FX_NUM_NOT_DECIMAL);
		if (v > (UINT64_MAX - digit) / 10)
			*over = true;
		else
			v = v * 10 + digit;
	}
	*mag = v;
	return 0;
}

int fx_num_parse(const char *s, int64_t min, int64_t max, int64_t *out, const char **why)
{
	bool neg, over;
	uint64_t mag;
	int64_t v;

	if (scan(s, &neg, &mag, &over, why) < 0)
		return -1;
	if (neg && min >= 0)
		return fail(why, FX_NUM_TOO_SMALL);
	if (neg) {
		if (over || mag > (uint64_t)INT64_MAX + 1)
			return fail(why, FX_NUM_TOO_SMALL);
		v = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
	} else {
		if (over || mag > (uint64_t)INT64_MAX)
			return fail(why, FX_NUM_TOO_LARGE);
		v = (int64_t)mag;
	}
	if (v < min)
		return fail(why, FX_NUM_TOO_SMALL);
	if (v > max)
		return fail(why, FX_NUM_TOO_LARGE);
	*out = v;
	return 0;
}

int fx_num_parse_u64(const char *s, uint64_t max, uint64_t *out, const char **why)
{
	bool neg, over;
	uint64_t mag;

	if (scan(s, &neg, &mag, &over, why) < 0)
		return -1;
	if (neg)
		return fail(why, FX_NUM_TOO_SMALL);
	if (over || mag > max)
		return fail(why, FX_NUM_TOO_LARGE);
	*out = mag;
	return 0;
}

int fx_num_cents(const char *s, int64_t min, int64_t max, int64_t *out, const char **why)
{
	const char *p = s;
	bool neg, over = false;
	uint64_t mag = 0;
	int nd = 0, nf = 0;
	int64_t v;

	if (!s || !*s)
		return fail(why, FX_NUM_EMPTY);
	neg = *p == '-';
	if (neg)
		p++;
	/* Whole rand, then two decimal places: the digits of the cents. */
	for (; *p >= '0' && *p <= '9'; p++, nd++) {
		if (mag > (UINT64_MAX - 9) / 10)
			over = true;
		else
			mag = mag * 10 + (unsigned)(*p - '0');
	}
	if (nd == 0)
		return fail(why, FX_NUM_NOT_AMOUNT);
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, nf++)
			if (nf >= 2 && *p != '0')
				return fail(why, FX_NUM_SUB_CENT);
		if (nf == 0)
			return fail(why, FX_NUM_NOT_AMOUNT);
	}
	if (*p)
		return fail(why, FX_NUM_NOT_AMOUNT);
	{
		const char *dot = s + (neg ? 1 : 0) + nd;
		unsigned frac = 0;

		if (nf >= 1)
			frac = (unsigned)(dot[1] - '0') * 10;
		if (nf >= 2)
			frac += (unsigned)(dot[2] - '0');
		if (over || mag > (UINT64_MAX - frac) / 100)
			over = true;
		else
			mag = mag * 100 + frac;
	}
	if (neg && min >= 0)
		return fail(why, FX_NUM_TOO_SMALL);
	if (neg) {
		if (over || mag > (uint64_t)INT64_MAX + 1)
			return fail(why, FX_NUM_TOO_SMALL);
		v = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
	} else {
		if (over || mag > (uint64_t)INT64_MAX)
			return fail(why, FX_NUM_TOO_LARGE);
		v = (int64_t)mag;
	}
	if (v < min)
		return fail(why, FX_NUM_TOO_SMALL);
	if (v > max)
		return fail(why, FX_NUM_TOO_LARGE);
	*out = v;
	return 0;
}

int fx_num_digits(const char *p, int n, int *out)
{
	int v = 0;

	if (n < 1 || n > 9)
		return -1;
	for (int i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	*out = v;
	return 0;
}
