#include "str.h"

#include <stdio.h>
#include <string.h>

int fx_str_copy(char *dst, size_t size, const char *src, size_t n)
{
	if (size == 0)
		return -1;
	if (n >= size) {
		dst[0] = '\0';
		return -1;
	}
	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
	return 0;
}

int fx_str_set(char *dst, size_t size, const char *src)
{
	return fx_str_copy(dst, size, src, strlen(src));
}

int fx_str_vfmt(char *dst, size_t size, const char *fmt, va_list ap)
{
	int n;

	if (size == 0)
		return -1;
	n = vsnprintf(dst, size, fmt, ap);
	if (n < 0 || (size_t)n >= size) {
		dst[0] = '\0';
		return -1;
	}
	return 0;
}

int fx_str_fmt(char *dst, size_t size, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = fx_str_vfmt(dst, size, fmt, ap);
	va_end(ap);
	return rc;
}

int fx_str_add(char *dst, size_t size, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int rc;

	if (*len >= size)
		return -1;
	va_start(ap, fmt);
	rc = fx_str_vfmt(dst + *len, size - *len, fmt, ap);
	va_end(ap);
	if (rc < 0)
		return -1; /* fx_str_vfmt left dst[*len] = '\0': the old text */
	*len += strlen(dst + *len);
	return 0;
}

int fx_str_hex(char *dst, size_t size, const void *src, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = src;

	if (size == 0)
		return -1;
	if (n > (size - 1) / 2) {
		dst[0] = '\0';
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		dst[2 * i] = hex[p[i] >> 4];
		dst[2 * i + 1] = hex[p[i] & 15];
	}
	dst[2 * n] = '\0';
	return 0;
}

int fx_str_vlen(const char *fmt, va_list ap)
{
	return vsnprintf(NULL, 0, fmt, ap);
}

void fx_str_array_copy_(void *dst, const void *src, size_t n)
{
	memcpy(dst, src, n);
}

int fx_str_mem_move(void *dst, size_t size, const void *src, size_t n)
{
	if (n > size)
		return -1;
	if (n)
		memmove(dst, src, n);
	return 0;
}

size_t fx_str_utf8_char(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned c = n ? p[0] : 0, cp;
	size_t len;

	if (c == 0)
		return 0;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Replaces every byte of dst's len bytes that is not part of a valid UTF-8 character with '?'. */
static void text_utf8(char *dst, size_t len)
{
	for (size_t i = 0; i < len;) {
		size_t k = fx_str_utf8_char(dst + i, len - i);

		if (k == 0) {
			dst[i] = '?';
			k = 1;
		}
		i += k;
	}
}

/* dst holds the first bytes of a text n bytes long (cut at size - 1): shortened at a whole character, made UTF-8. */
static void text_finish(char *dst, size_t size, size_t n)
{
	size_t len, lead;

	if (n < size) {
		text_utf8(dst, strlen(dst));
		return;
	}
	/* Cut: drop a last character that lost some of its bytes. */
	len = size - 1;
	lead = len;
	while (lead > 0 && ((unsigned char)dst[lead - 1] & 0xc0) == 0x80 && len - lead < 3)
		lead--;
	if (lead > 0) {
		unsigned char c = (unsigned char)dst[lead - 1];
		size_t need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;

		if (c >= 0x80 && len - (lead - 1) < need)
			len = lead - 1;
	}
	dst[len] = '\0';
	text_utf8(dst, len);
}

void fx_str_vtext(char *dst, size_t size, const char *fmt, va_list ap)
{
	int n;

	if (size == 0)
		return;
	n = vsnprintf(dst, size, fmt, ap);
	if (n < 0) {
		dst[0] = '\0';
		return;
	}
	text_finish(dst, size, (size_t)n);
}

void fx_str_text_join(char *dst, size_t size, const char *const parts[], size_t nparts)
{
	size_t len = 0, total = 0;

	if (size == 0)
		return;
	for (size_t i = 0; i < nparts; i++) {
		size_t n = strlen(parts[i]), room = size - 1 - len;
		size_t k = n < room ? n : room;

		memcpy(dst + len, parts[i], k);
		len += k;
		total += n;
	}
	dst[len] = '\0';
	text_finish(dst, size, total);
}

void fx_str_text(char *dst, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fx_str_vtext(dst, size, fmt, ap);
	va_end(ap);
}

static int hex4(const char *p, unsigned *out)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

int fx_str_json_unescape_u(const char *p, size_t n, char out[4], size_t *used, const char **why)
{
	unsigned cp, lo;

	*used = 6;
	if (n < 6 || hex4(p + 2, &cp) < 0) {
		*why = "bad \\u escape";
		return -1;
	}
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (n < 12 || p[6] != '\\' || p[7] != 'u' || hex4(p + 8, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff) {
			*why = "unpaired surrogate";
			return -1;
		}
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		*used = 12;
	} else if (cp >= 0xdc00 && cp <= 0xdfff) {
		*why = "unpaired surrogate";
		return -1;
	}
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}
