/*
 * fx_str: the one way a fixed-size buffer is filled. Sizes are bytes, always
 * the destination's whole size (sizeof(array), or the size a caller passed
 * along with its pointer); a result that would not fit is an error, never a
 * cut value.
 *
 * The rule (STYLE 6, enforced by scripts/lint): in lib/ and handlers/, a
 * fixed buffer is written only through this module, or it is a growable
 * fx_buf / fx_arena allocation with its own cap. snprintf, vsnprintf,
 * memcpy, memmove, mempcpy, strncat, strlcpy, strlcat, stpcpy, stpncpy and
 * memccpy appear nowhere else (lib/str.c wraps them). A loop that stores
 * bytes into an array is bounded by that array's size in its condition.
 * Character limits (fx_json_utf8_len) are validation rules, never buffer sizes:
 * 40 characters of UTF-8 are up to 160 bytes.
 *
 * The functions that can fail return 0, or -1 with nothing copied past the
 * bytes that were already there: dst holds "" after fx_str_copy, fx_str_set
 * and fx_str_fmt fail, and its old text after fx_str_add fails. Their result
 * must be used (FX_MUST_USE). fx_str_text alone never fails: it is for
 * human-readable text (error messages, log lines) that may be shortened, and
 * it shortens at a whole UTF-8 character. Never use it for anything that is
 * parsed, compared, or sent as an identifier, path, or header.
 */
#ifndef FX_STR_H
#define FX_STR_H

#include "err.h"

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

/* Copies n bytes of src and a NUL into dst of size bytes. */
FX_MUST_USE int fx_str_copy(char *dst, size_t size, const char *src, size_t n);

/* Copies the C string src into dst of size bytes. */
FX_MUST_USE int fx_str_set(char *dst, size_t size, const char *src);

/* Formats into dst of size bytes; -1 (dst "") when the text would not fit or cannot be formatted. */
FX_MUST_USE int fx_str_fmt(char *dst, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
FX_MUST_USE int fx_str_vfmt(char *dst, size_t size, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));

/*
 * Appends formatted text at dst + *len (dst holds *len bytes of text) and
 * advances *len; -1 leaves dst and *len as they were.
 */
FX_MUST_USE int fx_str_add(char *dst, size_t size, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Writes n bytes of src as 2n lower-case hex digits and a NUL into dst of size bytes. */
FX_MUST_USE int fx_str_hex(char *dst, size_t size, const void *src, size_t n);

/* The number of bytes fmt would produce (no NUL), or -1 when it cannot be formatted. */
FX_MUST_USE int fx_str_vlen(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/*
 * Copies the array src into the array dst of the same type and size (a
 * struct member, a local): refused at compile time for pointers or arrays
 * of different sizes, so it cannot fail at run time.
 */
#define FX_ARRAY_COPY(dst, src)                                                                               \
	do {                                                                                                  \
		_Static_assert(__builtin_types_compatible_p(__typeof__(dst), __typeof__(src)) &&              \
				       !__builtin_types_compatible_p(__typeof__(dst), __typeof__(&(dst)[0])), \
			       "FX_ARRAY_COPY needs two arrays of one type and size");                        \
		fx_str_array_copy_((dst), (src), sizeof(dst));                                                \
	} while (0)
void fx_str_array_copy_(void *dst, const void *src, size_t n);

/*
 * Copies n bytes into dst of size bytes (memcpy); -1 copies nothing when n > size.
 * Inline, so that a copy of a few bytes known at compile time (the answer
 * writers append 1 to 8 at a time) becomes a few stores, not two calls.
 */
FX_MUST_USE static inline int fx_str_mem_copy(void *dst, size_t size, const void *src, size_t n)
{
	if (n > size)
		return -1;
	if (n)
		memcpy(dst, src, n);
	return 0;
}

/* Like fx_str_mem_copy, for overlapping regions (memmove). */
FX_MUST_USE int fx_str_mem_move(void *dst, size_t size, const void *src, size_t n);

/*
 * Length in bytes (1 to 4) of the UTF-8 character that starts the n bytes
 * at p, or 0 when they start with no valid one: a NUL, a stray continuation
 * byte, an overlong form, a surrogate, a code point past U+10FFFF, or a
 * character cut short by the end.
 */
size_t fx_str_utf8_char(const char *p, size_t n);

/*
 * Reads the JSON escape \uXXXX at the n bytes of p (p[0] is the backslash,
 * p[1] 'u'), with the \uXXXX of its low surrogate when it is a high one, as
 * RFC 8259 has them, into the UTF-8 bytes of its code point: returns their
 * count (1 to 4) in out and the input bytes read (6 or 12) in *used, or -1
 * with *why naming the fault (a bad escape, an unpaired surrogate).
 * U+0000 is returned as one NUL byte: refusing it is the caller's rule.
 */
int fx_str_json_unescape_u(const char *p, size_t n, char out[4], size_t *used, const char **why);

/*
 * Formats human-readable text into dst of size bytes, shortened at a whole
 * UTF-8 character when it does not fit. Every byte that is not part of a
 * valid UTF-8 character becomes '?', so the text is always UTF-8 (JSON,
 * Cloud Logging) whatever bytes a request put into it. Never fails; dst is
 * always a string.
 */
void fx_str_text(char *dst, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void fx_str_vtext(char *dst, size_t size, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));

/*
 * fx_str_text of the nparts strings parts[] one after the other, without
 * printf (the request log line's message, on every request): the same
 * bytes as fx_str_text(dst, size, "%s%s...", parts[0], parts[1], ...).
 */
void fx_str_text_join(char *dst, size_t size, const char *const parts[], size_t nparts);

#endif
