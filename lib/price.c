/* fx_price: spreadsheet money cells to cents (the rules are in price.h). */
#include "price.h"

#include "num.h"
#include "str.h"

#include <stddef.h>
#include <string.h>

#define HOW "(write it like 149.99, 149,99 or R 1 499,00)"

enum sep { SPACE, DOT, COMMA };

/* The length of the space (ASCII space, TAB, NBSP, U+202F) at p, or 0. */
static size_t space_at(const char *p, const char *end)
{
	if (p < end && (*p == ' ' || *p == '\t'))
		return 1;
	if (end - p >= 2 && (unsigned char)p[0] == 0xC2 && (unsigned char)p[1] == 0xA0)
		return 2;
	if (end - p >= 3 && (unsigned char)p[0] == 0xE2 && (unsigned char)p[1] == 0x80 && (unsigned char)p[2] == 0xAF)
		return 3;
	return 0;
}

/* The length of the space that ends at end (after p), or 0. */
static size_t space_before(const char *p, const char *end)
{
	for (size_t n = 1; n <= 3 && (size_t)(end - p) >= n; n++)
		if (space_at(end - n, end) == n)
			return n;
	return 0;
}

static int bad(struct fx_err *e, const char *field, const char *why)
{
	return fx_err_invalid(e, field, "%s %s", field, why);
}

int fx_price_parse(const char *s, bool decimal_comma, const char *field, int64_t *cents, struct fx_err *e)
{
	/* The number as runs of digits between single separators. */
	const char *run[FX_PRICE_MAX_TEXT];
	size_t run_len[FX_PRICE_MAX_TEXT];
	enum sep sep[FX_PRICE_MAX_TEXT];
	size_t nrun = 0, ndot = 0, ncomma = 0, n, dec, ngroup;
	const char *p, *end, *why = NULL;
	char canon[FX_PRICE_MAX_TEXT + 2], *o = canon;
	int64_t v;

	if (!s || !*s)
		return bad(e, field, "is empty " HOW);
	n = strlen(s);
	if (n > FX_PRICE_MAX_TEXT)
		return bad(e, field, "is too long to be an amount " HOW);
	p = s;
	end = s + n;
	while ((n = space_at(p, end)) > 0)
		p += n;
	while (end > p && (n = space_before(p, end)) > 0)
		end -= n;
	if (p == end)
		return bad(e, field, "is empty " HOW);
	if (end - p >= 3 && memcmp(p, "ZAR", 3) == 0)
		p += 3;
	else if (*p == 'R')
		p++;
	while ((n = space_at(p, end)) > 0)
		p += n;
	if (p < end && (*p == '-' || *p == '('))
		return bad(e, field, "must not be negative");
	for (;;) {
		const char *start = p;

		while (p < end && *p >= '0' && *p <= '9')
			p++;
		if (p == start)
			return bad(e, field, "is not an amount in rand " HOW);
		run[nrun] = start;
		run_len[nrun] = (size_t)(p - start);
		nrun++;
		if (p == end)
			break;
		if (*p == '.' || *p == ',') {
			sep[nrun - 1] = *p == '.' ? DOT : COMMA;
			*(*p == '.' ? &ndot : &ncomma) += 1;
			p++;
		} else if (*p != '\t' && (n = space_at(p, end)) > 0) {
			sep[nrun - 1] = SPACE; /* a TAB only surrounds the amount */
			p += n;
		} else {
			return bad(e, field, "is not an amount in rand " HOW);
		}
	}
	/* sep[i] lies between run[i] and run[i + 1]; dec is the decimal separator's index, or nrun - 1 for none. */
	dec = nrun - 1;
	if (ndot + ncomma > 0) {
		size_t last = nrun - 1;

		for (size_t i = 0; i + 1 < nrun; i++)
			if (sep[i] != SPACE)
				last = i;
		if (ndot > 0 && ncomma > 0)
			dec = last;
		else if (ndot + ncomma == 1)
			dec = (sep[last] == COMMA) == decimal_comma || run_len[last + 1] != 3 ? last : nrun - 1;
	}
	if (dec < nrun - 1 && dec + 2 != nrun)
		return bad(e, field, "is not an amount in rand: a thousands separator follows the decimal one " HOW);
	/* Thousands: one kind, not the decimal mark's, groups of three after the first. */
	ngroup = dec < nrun - 1 ? dec : nrun - 1;
	for (size_t i = 0; i < ngroup; i++) {
		if (sep[i] != sep[0] || (dec < nrun - 1 && sep[i] == sep[dec]))
			return bad(e, field, "is not an amount in rand: it mixes separators " HOW);
		if (run_len[i + 1] != 3 || run_len[0] > 3)
			return bad(e, field, "is not an amount in rand: thousands are grouped by three digits " HOW);
	}
	for (size_t i = 0; i <= ngroup; i++) {
		if (fx_str_mem_copy(o, sizeof canon - 2 - (size_t)(o - canon), run[i], run_len[i]) < 0)
			return bad(e, field, "is too long to be an amount " HOW);
		o += run_len[i];
	}
	if (dec < nrun - 1) {
		*o++ = '.';
		if (fx_str_mem_copy(o, sizeof canon - 1 - (size_t)(o - canon), run[nrun - 1], run_len[nrun - 1]) < 0)
			return bad(e, field, "is too long to be an amount " HOW);
		o += run_len[nrun - 1];
	}
	*o = '\0';
	if (fx_num_cents(canon, 0, INT64_MAX, &v, &why) < 0) {
		if (strcmp(why, FX_NUM_SUB_CENT) == 0)
			return bad(e, field, "has more than 2 decimals: prices are in whole cents");
		if (strcmp(why, FX_NUM_TOO_LARGE) == 0)
			return bad(e, field, "is too large");
		return bad(e, field, "is not an amount in rand " HOW);
	}
	*cents = v;
	return 0;
}
