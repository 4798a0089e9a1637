#include "sig.h"

#include "b64.h"
#include "str.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#define MAC_LEN 32

/* HMAC-SHA256 of msg under key into mac[MAC_LEN]; -1 when OpenSSL fails. */
static int mac_of(const void *key, size_t key_len, const void *msg, size_t msg_len, unsigned char mac[MAC_LEN])
{
	static const unsigned char none = 0;
	unsigned int n = 0;

	/* OpenSSL's HMAC takes a NULL key as "reuse the last one": an empty key is passed as a pointer. */
	if (key_len > (size_t)0x7fffffff ||
	    !HMAC(EVP_sha256(), key_len ? key : &none, (int)key_len, msg_len ? msg : &none, msg_len, mac, &n) ||
	    n != MAC_LEN)
		return -1;
	return 0;
}

int fx_sig_hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len, enum fx_sig_encoding enc,
		       char *out, size_t out_len)
{
	unsigned char mac[MAC_LEN];
	struct fx_err ignored;
	int rc = -1;

	if (out_len > 0)
		out[0] = '\0';
	if (mac_of(key, key_len, msg, msg_len, mac) < 0)
		goto out;
	if (enc == FX_SIG_HEX)
		rc = fx_str_hex(out, out_len, mac, MAC_LEN);
	else
		rc = fx_b64_encode(mac, MAC_LEN, out, out_len, &ignored);
out:
	OPENSSL_cleanse(mac, sizeof(mac));
	return rc;
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20; /* either case */
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

bool fx_sig_verify(const void *key, size_t key_len, const void *msg, size_t msg_len, enum fx_sig_encoding enc,
		   const char *given)
{
	unsigned char mac[MAC_LEN], got[MAC_LEN];
	char text[FX_SIG_BASE64_LEN + 1];
	bool ok = false;

	if (!given || mac_of(key, key_len, msg, msg_len, mac) < 0)
		return false;
	if (enc == FX_SIG_HEX) {
		int bad = 0;

		/* The length is public (every valid MAC has it); the digits are compared in constant time. */
		if (strnlen(given, FX_SIG_HEX_LEN + 1) != FX_SIG_HEX_LEN)
			goto out;
		for (size_t i = 0; i < MAC_LEN; i++) {
			int hi = hexval((unsigned char)given[2 * i]), lo = hexval((unsigned char)given[2 * i + 1]);

			bad |= (hi | lo) < 0;
			got[i] = (unsigned char)((hi & 15) << 4 | (lo & 15));
		}
		ok = !bad && CRYPTO_memcmp(got, mac, MAC_LEN) == 0;
	} else {
		struct fx_err ignored;

		if (strnlen(given, FX_SIG_BASE64_LEN + 1) != FX_SIG_BASE64_LEN ||
		    fx_b64_encode(mac, MAC_LEN, text, sizeof(text), &ignored) < 0)
			goto out;
		ok = CRYPTO_memcmp(text, given, FX_SIG_BASE64_LEN) == 0;
	}
out:
	OPENSSL_cleanse(mac, sizeof(mac));
	OPENSSL_cleanse(got, sizeof(got));
	OPENSSL_cleanse(text, sizeof(text));
	return ok;
}
