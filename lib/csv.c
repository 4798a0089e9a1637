#include "csv.h"

#include "str.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Drops whatever a failed call appended after len. */
static int restore(struct fx_buf *b, size_t len)
{
	b->len = len;
	if (b->data)
		b->data[len] = '\0';
	return -1;
}

/* Appends p[0..n) followed by the cell separator, all or nothing. */
static int cell(struct fx_buf *b, const char *p, size_t n)
{
	size_t len = b->len;

	if (fx_buf_append(b, p, n) < 0 || fx_buf_append(b, ",", 1) < 0)
		return restore(b, len);
	return 0;
}

int fx_csv_text(struct fx_buf *b, const char *s)
{
	size_t len = b->len, n;
	bool quote, guard;

	if (!s)
		s = "";
	n = strlen(s);
	/* Quotes already in front count too, so that removing one quote gives the text back. */
	guard = strspn(s, "'") < n && strchr("=+-@\t\r", s[strspn(s, "'")]) != NULL;
	quote = strpbrk(s, ",\"\r\n") != NULL;
	if (!guard && !quote)
		return cell(b, s, n);
	if ((quote && fx_buf_append(b, "\"", 1) < 0) || (guard && fx_buf_append(b, "'", 1) < 0))
		return restore(b, len);
	for (const char *p = s, *q; *p; p = q + 1) {
		q = quote ? strchr(p, '"') : NULL;
		if (!q) {
			if (fx_buf_puts(b, p) < 0)
				return restore(b, len);
			break;
		}
		/* Through the quote, then the quote again: "" inside a quoted cell. */
		if (fx_buf_append(b, p, (size_t)(q - p) + 1) < 0 || fx_buf_append(b, "\"", 1) < 0)
			return restore(b, len);
	}
	if ((quote && fx_buf_append(b, "\"", 1) < 0) || fx_buf_append(b, ",", 1) < 0)
		return restore(b, len);
	return 0;
}

int fx_csv_int(struct fx_buf *b, int64_t n)
{
	char s[24];

	if (fx_str_fmt(s, sizeof(s), "%" PRId64, n) < 0)
		return -1;
	return cell(b, s, strlen(s));
}

int fx_csv_cents(struct fx_buf *b, int64_t cents)
{
	/* The magnitude as unsigned: INT64_MIN has no positive int64. */
	uint64_t m = cents < 0 ? (uint64_t)0 - (uint64_t)cents : (uint64_t)cents;
	char s[32];

	if (fx_str_fmt(s, sizeof(s), "%s%" PRIu64 ".%02u", cents < 0 ? "-" : "", m / 100, (unsigned)(m % 100)) < 0)
		return -1;
	return cell(b, s, strlen(s));
}

/*
 * Every cell leaves a trailing ',' (a cell's own commas are always inside
 * quotes, so an unquoted trailing ',' can only be a separator): the row end
 * replaces it with CRLF.
 */
int fx_csv_end_row(struct fx_buf *b)
{
	size_t len = b->len;

	if (len > 0 && b->data[len - 1] == ',')
		b->len--;
	if (fx_buf_append(b, "\r\n", 2) < 0)
		return restore(b, len); /* the ',' was not overwritten */
	return 0;
}
