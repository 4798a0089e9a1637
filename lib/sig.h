/*
 * fx_sig: HMAC-SHA256 signatures of webhook bodies (Shopify and WooCommerce
 * send base64, Takealot hex; ../shared/CHANNELS.md) and of the ones Fluxori
 * sends (issue 17). Verification compares in constant time in the length of
 * the MAC and never parses the body. Nothing here allocates or keeps state;
 * every argument is borrowed for the call.
 */
#ifndef FX_SIG_H
#define FX_SIG_H

#include "err.h"

#include <stdbool.h>
#include <stddef.h>

enum fx_sig_encoding { FX_SIG_HEX, FX_SIG_BASE64 };

/* Text lengths of an HMAC-SHA256, without the NUL. */
#define FX_SIG_HEX_LEN 64
#define FX_SIG_BASE64_LEN 44

/*
 * HMAC-SHA256(key, msg) written as text into out (hex: 64 lower-case
 * digits; base64: 44 characters, padded standard alphabet) and a NUL.
 * Returns 0, or -1 (out "" when out_len > 0) if out is too small or
 * OpenSSL fails. key and msg may be empty (NULL with length 0).
 */
FX_MUST_USE int fx_sig_hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len,
				   enum fx_sig_encoding enc, char *out, size_t out_len);

/*
 * Whether given is HMAC-SHA256(key, msg) in enc: hex exactly 64 digits of
 * either case; base64 exactly the 44 padded characters (no white space, no
 * other padding, case matters). given NULL, of another length or with a
 * foreign character is false. Constant time in the length of the MAC.
 */
bool fx_sig_verify(const void *key, size_t key_len, const void *msg, size_t msg_len, enum fx_sig_encoding enc,
		   const char *given);

#endif
