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

void fx_array_copy_(void *dst, const void *src, size_t n)
{
	memcpy(dst, src, n);
}

int fx_mem_copy(void *dst, size_t size, const void *src, size_t n)
{
	if (n > size)
		return -1;
	if (n)
		memcpy(dst, src, n);
	return 0;
}

int fx_mem_move(void *dst, size_t size, const void *src, size_t n)
{
	if (n > size)
		return -1;
	if (n)
		memmove(dst, src, n);
	return 0;
}

void fx_str_vtext(char *dst, size_t size, const char *fmt, va_list ap)
{
	int n;
	size_t len, lead;

	if (size == 0)
		return;
	n = vsnprintf(dst, size, fmt, ap);
	if (n < 0) {
		dst[0] = '\0';
		return;
	}
	if ((size_t)n < size)
		return;
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
}

void fx_str_text(char *dst, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fx_str_vtext(dst, size, fmt, ap);
	va_end(ap);
}
