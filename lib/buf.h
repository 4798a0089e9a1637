/*
 * fx_buf: a growable byte buffer with a hard cap. The buffer owns its data;
 * fx_buf_cleanup frees it. Data is always NUL-terminated (the NUL is not
 * counted in len). Appending past max fails and leaves the buffer unchanged.
 */
#ifndef FX_BUF_H
#define FX_BUF_H

#include "err.h"
#include "str.h"

#include <stdarg.h>
#include <stddef.h>

struct fx_buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;
};

/* Prepares an empty buffer that may grow to max bytes. */
void fx_buf_init(struct fx_buf *b, size_t max);

/* Frees the data; b may then be reused after fx_buf_init. Accepts NULL. */
void fx_buf_cleanup(struct fx_buf *b);

/* Drops the contents, keeps the allocation. */
void fx_buf_reset(struct fx_buf *b);

/*
 * Makes room for n more bytes in one allocation, so that appending them
 * does not grow the buffer step by step; returns 0, or -1 (b unchanged)
 * when len + n would exceed the cap.
 */
FX_MUST_USE int fx_buf_reserve(struct fx_buf *b, size_t n);

/* fx_buf_append when n bytes and the NUL do not fit in the allocation: grows first. */
FX_MUST_USE int fx_buf_append_grow_(struct fx_buf *b, const void *p, size_t n);

/*
 * Appends n bytes; returns 0, or -1 when the cap would be exceeded. Inline:
 * most appends fit (a list's answer makes ~2,000 of them, most of 1 to 8
 * bytes) and then cost a compare and a copy. n below the room left also
 * leaves room for the NUL, and within the cap, as cap never passes max + 1.
 */
FX_MUST_USE static inline int fx_buf_append(struct fx_buf *b, const void *p, size_t n)
{
	if (n >= b->cap - b->len)
		return fx_buf_append_grow_(b, p, n);
	if (fx_str_mem_copy(b->data + b->len, b->cap - b->len, p, n) < 0)
		return -1;
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

/* Appends a C string; same contract as fx_buf_append. */
FX_MUST_USE int fx_buf_puts(struct fx_buf *b, const char *s);

/* Appends v in decimal, without printf (the per-request head and log line); same contract as fx_buf_append. */
FX_MUST_USE int fx_buf_put_uint(struct fx_buf *b, unsigned long long v);

/* Appends formatted text; same contract as fx_buf_append. */
FX_MUST_USE int fx_buf_printf(struct fx_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* fx_buf_printf with a va_list. */
FX_MUST_USE int fx_buf_vprintf(struct fx_buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* Appends s as a JSON string literal (with quotes); same contract. */
FX_MUST_USE int fx_buf_json_string(struct fx_buf *b, const char *s, size_t n);

/* Gives the data away (caller frees) and leaves b empty. Never NULL. */
char *fx_buf_take(struct fx_buf *b);

#endif
