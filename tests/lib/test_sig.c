/*
 * lib/sig: HMAC-SHA256 in hex and base64 against vectors computed with
 * OpenSSL's command line, and what fx_sig_verify refuses.
 *
 * The vectors (key K='whsec_fluxori-test-key'; each body written with
 * printf '%s' '<body>' >body, the trailing-newline one with printf '%s\n'):
 *   openssl dgst -sha256 -hmac "$K" -r <body | cut -d' ' -f1          (hex)
 *   openssl dgst -sha256 -hmac "$K" -binary <body | openssl base64 -A (base64)
 * The long key (100 times 'k', longer than SHA-256's block, so HMAC hashes it):
 *   K=$(printf 'k%.0s' $(seq 100)); openssl dgst -sha256 -hmac "$K" -r <ascii-body
 * The multi-byte body is UTF-8 as written below (80 bytes: ë, an en dash, ✓, 日本).
 */
#include "sig.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#define KEY "whsec_fluxori-test-key"

struct vector {
	const char *name;
	const char *body;
	size_t len;
	const char *hex;
	const char *b64;
};

static const struct vector vectors[] = {
	{"ascii", "{\"id\":1001,\"total_price\":\"199.00\",\"note\":\"plain ASCII\"}", 55,
	 "0945210bd183f7622165980cad76bbf512f0ec31d02c538837f956fa24b3fe05",
	 "CUUhC9GD92IhZZgMrXa79RLw7DHQLFOIN/lW+iSz/gU="},
	{"utf8", "{\"id\":1002,\"customer\":\"Zoë Nkosi–Dlamini\",\"note\":\"Vir die winkel ✓ 日本\"}", 80,
	 "ca0dc4e3c5c5aa50e627c77e4b12de06ad07e12649c1456274370891420dcd99",
	 "yg3E48XFqlDmJ8d+SxLeBq0H4SZJwUVidDcIkUINzZk="},
	{"trailing newline", "{\"id\":1003,\"note\":\"trailing newline\"}\n", 38,
	 "b27df7baff38bc8c08e2953c3bb802fcb7e3176d7c375b422bc177eec9b910ec",
	 "sn33uv84vIwI4pU8O7gC/LfjF218N1tCK8F37sm5EOw="},
	{"empty", "", 0, "56538084628763c30fbfc64d9fa481f00005fbcf0f8db5d5d46e2b61bd1457da",
	 "VlOAhGKHY8MPv8ZNn6SB8AAF+88PjbXV1G4rYb0UV9o="},
};

#define NVECTORS (sizeof(vectors) / sizeof(vectors[0]))

Test(sig, hex_and_base64_match_openssl_for_every_body)
{
	for (size_t i = 0; i < NVECTORS; i++) {
		const struct vector *v = &vectors[i];
		char out[FX_SIG_HEX_LEN + 1];

		cr_assert_eq(strlen(v->body), v->len, "%s: the body is the bytes openssl signed", v->name);
		cr_assert_eq(fx_sig_hmac_sha256(KEY, strlen(KEY), v->body, v->len, FX_SIG_HEX, out, FX_SIG_HEX_LEN + 1),
			     0);
		cr_assert_str_eq(out, v->hex, "%s hex", v->name);
		cr_assert_eq(fx_sig_hmac_sha256(KEY, strlen(KEY), v->body, v->len, FX_SIG_BASE64, out, sizeof(out)), 0);
		cr_assert_str_eq(out, v->b64, "%s base64", v->name);
		cr_assert(fx_sig_verify(KEY, strlen(KEY), v->body, v->len, FX_SIG_HEX, v->hex), "%s", v->name);
		cr_assert(fx_sig_verify(KEY, strlen(KEY), v->body, v->len, FX_SIG_BASE64, v->b64), "%s", v->name);
	}
}

Test(sig, a_key_longer_than_the_block_matches_openssl)
{
	char key[100], out[FX_SIG_HEX_LEN + 1];

	memset(key, 'k', sizeof(key));
	cr_assert_eq(
		fx_sig_hmac_sha256(key, sizeof(key), vectors[0].body, vectors[0].len, FX_SIG_HEX, out, sizeof(out)), 0);
	cr_assert_str_eq(out, "32f0bdf08187b9be8906e64578ebd5fb708438e8f4702644564411b167b92918");
}

Test(sig, an_output_buffer_one_byte_short_is_refused_and_left_empty)
{
	char out[FX_SIG_BASE64_LEN + 1];

	out[0] = 'x';
	cr_assert_eq(fx_sig_hmac_sha256(KEY, strlen(KEY), "a", 1, FX_SIG_HEX, out, FX_SIG_HEX_LEN), -1);
	cr_assert_str_eq(out, "");
	out[0] = 'x';
	cr_assert_eq(fx_sig_hmac_sha256(KEY, strlen(KEY), "a", 1, FX_SIG_BASE64, out, FX_SIG_BASE64_LEN), -1);
	cr_assert_str_eq(out, "");
}

Test(sig, upper_case_hex_is_accepted)
{
	char upper[FX_SIG_HEX_LEN + 1];

	for (size_t i = 0; i <= FX_SIG_HEX_LEN; i++)
		upper[i] = (char)(vectors[1].hex[i] >= 'a' && vectors[1].hex[i] <= 'f' ? vectors[1].hex[i] - 32
										       : vectors[1].hex[i]);
	cr_assert(fx_sig_verify(KEY, strlen(KEY), vectors[1].body, vectors[1].len, FX_SIG_HEX, upper));
}

Test(sig, base64_with_one_letter_in_the_other_case_is_refused)
{
	char s[FX_SIG_BASE64_LEN + 1];

	strcpy(s, vectors[0].b64);
	s[0] = 'c'; /* "CUUh..." */
	cr_assert_not(fx_sig_verify(KEY, strlen(KEY), vectors[0].body, vectors[0].len, FX_SIG_BASE64, s));
}

Test(sig, a_different_body_key_or_encoding_is_refused)
{
	const struct vector *v = &vectors[0];

	cr_assert_not(fx_sig_verify(KEY, strlen(KEY), v->body, v->len - 1, FX_SIG_BASE64, v->b64));
	cr_assert_not(fx_sig_verify("whsec_other", 11, v->body, v->len, FX_SIG_BASE64, v->b64));
	cr_assert_not(fx_sig_verify(KEY, strlen(KEY), v->body, v->len, FX_SIG_HEX, v->b64), "base64 is not hex");
	cr_assert_not(fx_sig_verify(KEY, strlen(KEY), v->body, v->len, FX_SIG_BASE64, v->hex), "hex is not base64");
	cr_assert_not(fx_sig_verify(KEY, strlen(KEY), v->body, v->len, FX_SIG_HEX, NULL));
	/* The trailing newline is part of the signed bytes. */
	cr_assert_not(fx_sig_verify(KEY, strlen(KEY), vectors[2].body, vectors[2].len - 1, FX_SIG_HEX, vectors[2].hex));
}

Test(sig, a_signature_of_the_wrong_length_is_refused)
{
	const struct vector *v = &vectors[1];
	char s[128];

	/* Truncated by one character. */
	snprintf(s, sizeof(s), "%.*s", FX_SIG_HEX_LEN - 1, v->hex);
	cr_assert_not(fx_sig_verify(KEY, strlen(KEY), v->body, v->len, FX_SIG_HEX, s));
	snprintf(s, sizeof(s), "%.*s", FX_SIG_BASE64_LEN - 1, v->b64);
	cr_assert_not(fx_sig_verify(KEY, strlen(KEY), v->body, v->len, FX_SIG_BASE64, s));
	/* Padded or followed by white space or another digit. */
	snprintf(s, sizeof(s), "%s=", v->b64);
	cr_assert_not(fx_sig_verify(KEY, strlen(KEY), v->body, v->len, FX_SIG_BASE64, s));
	snprintf(s, sizeof(s), "%s\n", v->b64);
	cr_assert_not(fx_sig_verify(KEY, strlen(KEY), v->body, v->len, FX_SIG_BASE64, s));
	snprintf(s, sizeof(s), "%s0", v->hex);
	cr_assert_not(fx_sig_verify(KEY, strlen(KEY), v->body, v->len, FX_SIG_HEX, s));
	snprintf(s, sizeof(s), " %s", v->hex);
	cr_assert_not(fx_sig_verify(KEY, strlen(KEY), v->body, v->len, FX_SIG_HEX, s));
	cr_assert_not(fx_sig_verify(KEY, strlen(KEY), v->body, v->len, FX_SIG_HEX, ""));
	cr_assert_not(fx_sig_verify(KEY, strlen(KEY), v->body, v->len, FX_SIG_BASE64, ""));
}

Test(sig, a_nul_inside_the_given_signature_ends_it_and_is_refused)
{
	const struct vector *v = &vectors[0];
	char s[FX_SIG_HEX_LEN + 1];

	/* A header value "<first half>\0<second half>": C sees only the first half. */
	strcpy(s, v->hex);
	s[32] = '\0';
	cr_assert_not(fx_sig_verify(KEY, strlen(KEY), v->body, v->len, FX_SIG_HEX, s));
	strcpy(s, v->b64);
	s[20] = '\0';
	cr_assert_not(fx_sig_verify(KEY, strlen(KEY), v->body, v->len, FX_SIG_BASE64, s));
}

Test(sig, a_foreign_character_in_place_of_a_hex_digit_is_refused)
{
	const struct vector *v = &vectors[0];
	char s[FX_SIG_HEX_LEN + 1];

	/*
	 * 'g' and '/' would decode to some nibble if the reader were sloppy ('g' & 15 = 7 = the digit '7' & 15):
	 * put one where the true digit is that nibble, so only the foreign-character check can refuse it.
	 */
	strcpy(s, v->hex); /* "0945..." */
	s[0] = 'p'; /* 'p' & 15 == 0 == the true digit '0' */
	cr_assert_not(fx_sig_verify(KEY, strlen(KEY), v->body, v->len, FX_SIG_HEX, s));
	strcpy(s, v->hex);
	s[0] = '0';
	cr_assert(fx_sig_verify(KEY, strlen(KEY), v->body, v->len, FX_SIG_HEX, s), "the control passes");
}
