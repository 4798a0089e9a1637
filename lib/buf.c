#include "buf.h"

#include "mem.h"
#include "str.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fx_buf_init(struct fx_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void fx_buf_cleanup(struct fx_buf *b)
{
	if (!b)
		return;
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void fx_buf_reset(struct fx_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

/* Grows b to hold n more bytes and the NUL: doubling from 256 when exact is false, else to exactly that. */
static int grow(struct fx_buf *b, size_t n, bool exact)
{
	size_t need, cap;

	if (n > b->max || b->len > b->max - n)
		return -1;
	need = b->len + n + 1;
	if (need <= b->cap)
		return 0;
	cap = exact ? need : b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	if (b->max < SIZE_MAX && cap > b->max + 1)
		cap = b->max + 1;
	b->data = fx_mem_xrealloc(b->data, cap);
	b->data[b->len] = '\0';
	b->cap = cap;
	return 0;
}

static int reserve(struct fx_buf *b, size_t n)
{
	return grow(b, n, false);
}

int fx_buf_reserve(struct fx_buf *b, size_t n)
{
	return grow(b, n, true);
}

int fx_buf_append_grow_(struct fx_buf *b, const void *p, size_t n)
{
	/* Grown, n and the NUL fit: fx_buf_append's copy, the one place it is written. */
	return reserve(b, n) < 0 ? -1 : fx_buf_append(b, p, n);
}

int fx_buf_puts(struct fx_buf *b, const char *s)
{
	return fx_buf_append(b, s, strlen(s));
}

int fx_buf_put_uint(struct fx_buf *b, unsigned long long v)
{
	char digits[20]; /* 18446744073709551615 */
	size_t i = sizeof(digits);

	do {
		digits[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v && i > 0);
	return fx_buf_append(b, digits + i, sizeof(digits) - i);
}

int fx_buf_vprintf(struct fx_buf *b, const char *fmt, va_list ap)
{
	va_list again;
	int n;

	va_copy(again, ap);
	n = fx_str_vlen(fmt, ap);
	if (n < 0 || reserve(b, (size_t)n) < 0 || fx_str_vfmt(b->data + b->len, b->cap - b->len, fmt, again) < 0) {
		va_end(again);
		return -1;
	}
	va_end(again);
	b->len += (size_t)n;
	return 0;
}

int fx_buf_printf(struct fx_buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = fx_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

int fx_buf_json_string(struct fx_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, start = 0;

	if (fx_buf_append(b, "\"", 1) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[7];
		size_t elen = 2;

		if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f)
			continue;
		if (fx_buf_append(b, s + start, i - start) < 0)
			return -1;
		esc[0] = '\\';
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			esc[1] = 'u';
			esc[2] = esc[3] = '0';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			elen = 6;
		}
		if (fx_buf_append(b, esc, elen) < 0)
			return -1;
		start = i + 1;
	}
	if (fx_buf_append(b, s + start, n - start) < 0)
		return -1;
	return fx_buf_append(b, "\"", 1);
}

char *fx_buf_take(struct fx_buf *b)
{
	char *p = b->data ? b->data : fx_mem_xstrdup("");

	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}
