#include "b64.h"

#include <stdbool.h>
#include <stdint.h>

static const char std_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t fx_b64_encoded_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

size_t fx_b64_url_encoded_len(size_t n)
{
	return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

size_t fx_b64_decoded_max(size_t n)
{
	return n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
}

/* Writes the encoding of p into out, which has room for it; returns its length. */
static size_t encode(const unsigned char *p, size_t n, char *out, const char *alphabet, bool pad)
{
	size_t o = 0, i = 0;

	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = alphabet[v >> 6 & 63];
		out[o++] = alphabet[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;

		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		if (pad) {
			out[o++] = '=';
			out[o++] = '=';
		}
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;

		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = alphabet[v >> 6 & 63];
		if (pad)
			out[o++] = '=';
	}
	return o;
}

static int encode_into(const void *p, size_t n, char *out, size_t out_len, bool url, struct fx_err *e)
{
	size_t need = url ? fx_b64_url_encoded_len(n) : fx_b64_encoded_len(n);

	if (out_len == 0 || need > out_len - 1) {
		if (out_len > 0)
			out[0] = '\0';
		return fx_err_set(e, FX_INTERNAL, "base64 output needs %zu bytes, buffer has %zu", need + 1, out_len);
	}
	out[encode(p, n, out, url ? url_alphabet : std_alphabet, !url)] = '\0';
	return 0;
}

int fx_b64_encode(const void *p, size_t n, char *out, size_t out_len, struct fx_err *e)
{
	return encode_into(p, n, out, out_len, false, e);
}

int fx_b64_url_encode(const void *p, size_t n, char *out, size_t out_len, struct fx_err *e)
{
	return encode_into(p, n, out, out_len, true, e);
}

/* Encodes in slices through a stack buffer; the whole result is checked against the cap first. */
static int append(struct fx_buf *b, const unsigned char *p, size_t n, bool url)
{
	size_t need = url ? fx_b64_url_encoded_len(n) : fx_b64_encoded_len(n);
	char chunk[4 * 256];

	if (need > b->max || b->len > b->max - need)
		return -1;
	while (n > 0) {
		size_t take = n > 3 * 256 ? 3 * 256 : n;

		if (fx_buf_append(b, chunk, encode(p, take, chunk, url ? url_alphabet : std_alphabet, !url)) < 0)
			return -1;
		p += take;
		n -= take;
	}
	return 0;
}

int fx_b64_append(struct fx_buf *b, const void *p, size_t n)
{
	return append(b, p, n, false);
}

int fx_b64_url_append(struct fx_buf *b, const void *p, size_t n)
{
	return append(b, p, n, true);
}

enum alphabet { STD, URL, EITHER };

/* The 6-bit value of c in the alphabet, or -1; the first of "+/" or "-_" turns EITHER into STD or URL. */
static int value(unsigned char c, enum alphabet *a)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if ((c == '+' || c == '/') && *a != URL) {
		*a = STD;
		return c == '+' ? 62 : 63;
	}
	if ((c == '-' || c == '_') && *a != STD) {
		*a = URL;
		return c == '-' ? 62 : 63;
	}
	return -1;
}

static int decode(const char *s, size_t n, unsigned char *out, size_t out_len, size_t *out_n, enum alphabet a,
		  struct fx_err *e)
{
	const char *what = a == URL ? "base64url" : "base64";
	bool padded = a == STD;
	size_t pad = 0, m, need, o = 0, i;
	uint32_t acc = 0;

	*out_n = 0;
	while (pad < n && s[n - 1 - pad] == '=')
		pad++;
	if (pad > 2)
		return fx_err_set(e, FX_INVALID_ARGUMENT, "invalid %s: more than two padding characters", what);
	if ((pad > 0 || padded) && n % 4 != 0)
		return fx_err_set(e, FX_INVALID_ARGUMENT, "invalid %s: padded length is not a multiple of 4", what);
	m = n - pad;
	if (m % 4 == 1)
		return fx_err_set(e, FX_INVALID_ARGUMENT, "invalid %s: truncated (length %zu)", what, n);
	need = fx_b64_decoded_max(m);
	if (need > out_len)
		return fx_err_set(e, FX_INVALID_ARGUMENT, "invalid %s: decoded data exceeds %zu bytes", what, out_len);
	for (i = 0; i < m; i++) {
		int v = value((unsigned char)s[i], &a);

		if (v < 0)
			return fx_err_set(e, FX_INVALID_ARGUMENT,
					  "invalid %s: character at offset %zu is not in the alphabet", what, i);
		acc = acc << 6 | (uint32_t)v;
		if (i % 4 == 3) {
			out[o++] = (unsigned char)(acc >> 16);
			out[o++] = (unsigned char)(acc >> 8);
			out[o++] = (unsigned char)acc;
			acc = 0;
		}
	}
	/* A partial group carries 12 or 18 bits; the unused low bits must be zero (canonical form). */
	if (m % 4 == 2) {
		if (acc & 0xf)
			return fx_err_set(e, FX_INVALID_ARGUMENT, "invalid %s: non-zero trailing bits", what);
		out[o++] = (unsigned char)(acc >> 4);
	} else if (m % 4 == 3) {
		if (acc & 0x3)
			return fx_err_set(e, FX_INVALID_ARGUMENT, "invalid %s: non-zero trailing bits", what);
		out[o++] = (unsigned char)(acc >> 10);
		out[o++] = (unsigned char)(acc >> 2);
	}
	*out_n = o;
	return 0;
}

int fx_b64_decode(const char *s, size_t n, void *out, size_t out_len, size_t *out_n, struct fx_err *e)
{
	return decode(s, n, out, out_len, out_n, STD, e);
}

int fx_b64_url_decode(const char *s, size_t n, void *out, size_t out_len, size_t *out_n, struct fx_err *e)
{
	return decode(s, n, out, out_len, out_n, URL, e);
}

int fx_b64_decode_any(const char *s, size_t n, void *out, size_t out_len, size_t *out_n, struct fx_err *e)
{
	return decode(s, n, out, out_len, out_n, EITHER, e);
}
