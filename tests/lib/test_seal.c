/*
 * lib/seal: AES-256-GCM sealing of merchants' secrets, the key files, the
 * demo key, rotation, and a value sealed by a second implementation.
 */
#include "b64.h"
#include "log.h"
#include "seal.h"
#include "sig.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define AAD "organizations/org-1/channels/ch-1"
/* The key of the independent vector below: bytes 00..1f. */
#define KEY_HEX "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define KEY_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define OTHER_HEX "f0e1d2c3b4a5968778695a4b3c2d1e0f00112233445566778899aabbccddeeff"

static struct fx_err err;
static char paths[16][32];
static int npaths;

/* Writes text to a new temporary file; its path lives until the test ends. */
static const char *key_file(const char *text)
{
	char *p;
	int fd;

	cr_assert_lt(npaths, 16);
	p = paths[npaths++];
	strcpy(p, "/tmp/fx-seal-XXXXXX");
	fd = mkstemp(p);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return p;
}

static void setup(void)
{
	fx_err_clear(&err);
	npaths = 0;
}

static void teardown(void)
{
	for (int i = 0; i < npaths; i++)
		unlink(paths[i]);
	fx_seal_keys_clear();
}

TestSuite(seal, .init = setup, .fini = teardown);

static void load(const char *hex, const char *old_hex)
{
	const char *k = key_file(hex), *o = old_hex ? key_file(old_hex) : NULL;

	cr_assert_eq(fx_seal_keys_load("fluxori-prod", k, o, &err), 0, "%s", err.message);
}

static char *seal(const char *plain, size_t n, const char *aad)
{
	char *out = NULL;

	cr_assert_eq(fx_seal(plain, n, aad, &out, &err), 0, "%s", err.message);
	cr_assert_not_null(out);
	return out;
}

/* Whether sealed opens under aad; when it does, its text must be want[0..want_n). */
static bool opens(const char *sealed, const char *aad, const char *want, size_t want_n)
{
	char *plain = (char *)"unset";
	size_t n = 99;
	struct fx_err e;

	fx_err_clear(&e);
	if (fx_seal_open(sealed, aad, &plain, &n, &e) < 0) {
		cr_assert_null(plain, "nothing is handed out on failure");
		cr_assert(fx_err_is(&e, FX_INTERNAL), "a value that does not open is 500 INTERNAL");
		cr_assert_eq(e.ndetails, 0, "with no detail");
		return false;
	}
	cr_assert_eq(n, want_n);
	cr_assert_eq(memcmp(plain, want, n), 0);
	cr_assert_eq(plain[n], '\0');
	fx_seal_clear_free(plain, n);
	return true;
}

/* Decodes the payload of sealed into raw; returns its length. */
static size_t payload(const char *sealed, unsigned char *raw, size_t raw_len)
{
	size_t n = 0;

	cr_assert_eq(fx_b64_decode(sealed + 12, strlen(sealed + 12), raw, raw_len, &n, &err), 0);
	return n;
}

/* sealed with its payload replaced by raw[0..n). */
static void repack(char *out, size_t out_len, const char *sealed, const unsigned char *raw, size_t n)
{
	cr_assert_geq(out_len, 12 + fx_b64_encoded_len(n) + 1);
	memcpy(out, sealed, 12);
	cr_assert_eq(fx_b64_encode(raw, n, out + 12, out_len - 12, &err), 0);
}

Test(seal, a_sealed_secret_opens_under_its_aad_and_shows_no_plain_text)
{
	const char *secret = "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";
	char *s;

	load(KEY_HEX, NULL);
	s = seal(secret, strlen(secret), AAD);
	cr_assert_eq(strncmp(s, "v1:630dcd29:", 12), 0, "the key id is SHA-256(key)'s first 8 hex: %s", s);
	cr_assert_null(strstr(s, "shpat_"));
	cr_assert(opens(s, AAD, secret, strlen(secret)));
	free(s);
}

Test(seal, binary_empty_and_largest_secrets_round_trip)
{
	static char big[FX_SEAL_MAX_PLAIN];
	const char bin[] = {'a', '\0', 'b', '\xff', '\n'};
	char *s, *out = (char *)"unset";

	load(KEY_HEX, NULL);
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7);
	s = seal(bin, sizeof(bin), AAD);
	cr_assert(opens(s, AAD, bin, sizeof(bin)));
	free(s);
	s = seal("", 0, AAD);
	cr_assert(opens(s, AAD, "", 0));
	free(s);
	s = seal(big, sizeof(big), AAD);
	cr_assert(opens(s, AAD, big, sizeof(big)));
	free(s);
	cr_assert_eq(fx_seal(big, sizeof(big) + 1, AAD, &out, &err), -1, "one byte past the cap");
	cr_assert(fx_err_is(&err, FX_INVALID_ARGUMENT));
	cr_assert_null(out);
}

Test(seal, two_seals_of_one_secret_differ)
{
	char *a, *b;

	load(KEY_HEX, NULL);
	a = seal("same", 4, AAD);
	b = seal("same", 4, AAD);
	cr_assert_str_neq(a, b, "a fresh nonce each time");
	free(a);
	free(b);
}

Test(seal, a_value_copied_to_another_document_does_not_open)
{
	char *s;

	load(KEY_HEX, NULL);
	s = seal("secret", 6, AAD);
	cr_assert_not(opens(s, "organizations/org-2/channels/ch-1", NULL, 0));
	cr_assert_not(opens(s, "organizations/org-1/channels/ch-", NULL, 0));
	cr_assert_not(opens(s, "", NULL, 0));
	cr_assert(opens(s, AAD, "secret", 6), "the control opens");
	free(s);
}

Test(seal, a_flipped_bit_in_nonce_ciphertext_or_tag_does_not_open)
{
	unsigned char raw[256];
	char changed[512], *s;
	size_t n;
	/* Offsets in nonce(12) | ciphertext(6) | tag(16). */
	const size_t at[] = {0, 11, 12, 17, 18, 33};

	load(KEY_HEX, NULL);
	s = seal("secret", 6, AAD);
	n = payload(s, raw, sizeof(raw));
	cr_assert_eq(n, 12 + 6 + 16);
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		raw[at[i]] ^= 0x01;
		repack(changed, sizeof(changed), s, raw, n);
		cr_assert_not(opens(changed, AAD, NULL, 0), "byte %zu flipped", at[i]);
		raw[at[i]] ^= 0x01;
	}
	repack(changed, sizeof(changed), s, raw, n);
	cr_assert(opens(changed, AAD, "secret", 6), "the control opens");
	free(s);
}

Test(seal, a_cut_or_malformed_value_does_not_open)
{
	unsigned char raw[256];
	char changed[512], *s;
	size_t n;

	load(KEY_HEX, NULL);
	s = seal("secret", 6, AAD);
	n = payload(s, raw, sizeof(raw));
	repack(changed, sizeof(changed), s, raw, n - 1);
	cr_assert_not(opens(changed, AAD, NULL, 0), "tag cut by a byte");
	repack(changed, sizeof(changed), s, raw, 27);
	cr_assert_not(opens(changed, AAD, NULL, 0), "shorter than nonce and tag");
	snprintf(changed, sizeof(changed), "%.*s", (int)strlen(s) - 4, s);
	cr_assert_not(opens(changed, AAD, NULL, 0), "text cut");
	snprintf(changed, sizeof(changed), "%s ", s);
	cr_assert_not(opens(changed, AAD, NULL, 0), "text with a trailing space");
	snprintf(changed, sizeof(changed), "v2%s", s + 2);
	cr_assert_not(opens(changed, AAD, NULL, 0), "another version");
	cr_assert_not(opens("", AAD, NULL, 0));
	cr_assert_not(opens("v1:630dcd29:", AAD, NULL, 0));
	cr_assert_not(opens("secret", AAD, NULL, 0), "plain text is not a sealed value");
	cr_assert_not(opens(NULL, AAD, NULL, 0));
	free(s);
}

Test(seal, a_value_naming_another_key_id_does_not_open)
{
	char *s;

	load(KEY_HEX, NULL);
	s = seal("secret", 6, AAD);
	s[3] = s[3] == '0' ? '1' : '0';
	cr_assert_not(opens(s, AAD, NULL, 0));
	free(s);
}

Test(seal, after_a_rotation_the_old_key_opens_and_new_seals_use_the_new_key)
{
	char *under_old, *under_new, id[FX_SEAL_KEY_ID_LEN + 1];

	load(KEY_HEX, NULL);
	under_old = seal("old secret", 10, AAD);
	cr_assert(fx_seal_is_current(under_old));

	load(OTHER_HEX, KEY_HEX);
	cr_assert(opens(under_old, AAD, "old secret", 10), "the old key opens what it sealed");
	cr_assert_not(fx_seal_is_current(under_old), "to be re-sealed");
	under_new = seal("new secret", 10, AAD);
	fx_seal_key_id(id);
	cr_assert_str_neq(id, "630dcd29");
	cr_assert_eq(strncmp(under_new + 3, id, 8), 0, "sealed under the new key");
	cr_assert(fx_seal_is_current(under_new));

	load(OTHER_HEX, NULL);
	cr_assert_not(opens(under_old, AAD, NULL, 0), "once the old key is removed its values no longer open");
	cr_assert(opens(under_new, AAD, "new secret", 10));
	free(under_old);
	free(under_new);
}

/*
 * Sealed by Python's cryptography (AESGCM), not by this module:
 *   key = bytes 00..1f; nonce = bytes.fromhex('cafebabefacedbaddecaf888')
 *   aad = b'organizations/org-1/channels/ch-1'; pt = 'shpat_0123456789abcdef Zoë'.encode()
 *   'v1:%s:%s' % (sha256(key).hexdigest()[:8], b64encode(nonce + AESGCM(key).encrypt(nonce, pt, aad)))
 */
Test(seal, a_value_sealed_by_another_aes_gcm_implementation_opens)
{
	const char *sealed = "v1:630dcd29:yv66vvrO263eyviI+cvQR94lfyp0OGnoTSqxBmxCozW6f0ouIRyvHAwXHd7KjVZMkmvQlcgybg==";
	const char *want = "shpat_0123456789abcdef Zoë";

	load(KEY_B64 "\n", NULL);
	cr_assert(opens(sealed, AAD, want, strlen(want)));
	cr_assert_not(opens(sealed, "organizations/org-1/channels/ch-2", NULL, 0));
}

Test(seal, a_key_file_in_hex_or_base64_with_a_final_newline_gives_the_same_key)
{
	char a[FX_SEAL_KEY_ID_LEN + 1], b[FX_SEAL_KEY_ID_LEN + 1], c[FX_SEAL_KEY_ID_LEN + 1];

	load(KEY_HEX, NULL);
	fx_seal_key_id(a);
	load(KEY_B64 "\n", NULL);
	fx_seal_key_id(b);
	load("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F\r\n", NULL);
	fx_seal_key_id(c);
	cr_assert_str_eq(a, "630dcd29");
	cr_assert_str_eq(b, a);
	cr_assert_str_eq(c, a);
}

static void refused(const char *var, const char *key_text, const char *old_text)
{
	const char *k = key_text ? key_file(key_text) : "/nonexistent/fx-seal-key";
	const char *o = old_text ? key_file(old_text) : NULL;
	char id[FX_SEAL_KEY_ID_LEN + 1];
	char *out = (char *)"unset";

	fx_err_clear(&err);
	cr_assert_eq(fx_seal_keys_load("fluxori-prod", k, o, &err), -1, "%s", key_text ? key_text : "missing");
	cr_assert(strstr(err.message, var), "names %s: %s", var, err.message);
	if (key_text && strlen(key_text) > 8)
		cr_assert_null(strstr(err.message, key_text + 4), "never quotes the key: %s", err.message);
	fx_seal_key_id(id);
	cr_assert_str_eq(id, "", "no key is left loaded");
	cr_assert_eq(fx_seal("x", 1, AAD, &out, &err), -1);
	cr_assert_null(out);
}

Test(seal, a_malformed_key_file_refuses_the_start_naming_the_variable_only)
{
	refused("FLUXORI_SECRETS_KEY_FILE", KEY_HEX + 2, NULL); /* 62 digits */
	refused("FLUXORI_SECRETS_KEY_FILE", KEY_HEX "00", NULL); /* 66 digits */
	refused("FLUXORI_SECRETS_KEY_FILE", "z00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", NULL);
	refused("FLUXORI_SECRETS_KEY_FILE", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==", NULL); /* 31 bytes */
	refused("FLUXORI_SECRETS_KEY_FILE", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", NULL); /* no padding */
	refused("FLUXORI_SECRETS_KEY_FILE", "", NULL);
	refused("FLUXORI_SECRETS_KEY_FILE", NULL, NULL);
	refused("FLUXORI_SECRETS_OLD_KEY_FILE", KEY_HEX, "not a key at all, but long enough to be quoted");
}

Test(seal, without_a_key_file_only_a_demo_project_starts_with_the_demo_key)
{
	char id[FX_SEAL_KEY_ID_LEN + 1], *s;

	cr_assert_eq(fx_seal_keys_load("fluxori-prod", NULL, NULL, &err), -1);
	cr_assert(strstr(err.message, "FLUXORI_SECRETS_KEY_FILE"), "%s", err.message);
	cr_assert_eq(fx_seal_keys_load("fluxori-prod", "", NULL, &err), -1, "an empty variable counts as unset");

	cr_assert_eq(fx_seal_keys_load("demo-fluxori", NULL, NULL, &err), 0, "%s", err.message);
	fx_seal_key_id(id);
	cr_assert_eq(strlen(id), 8);
	s = seal("demo", 4, AAD);
	cr_assert(opens(s, AAD, "demo", 4));
	free(s);
}

/* ---- secrets never reach the log (lib/log writes to stderr) ---- */

#define SECRET "shpat_NEVERLOGGED_1234"
#define WEBHOOK_KEY "whsec_NEVERLOGGED_5678"

static void every_path_with_known_secrets(void)
{
	const char *body = "{\"id\":1}";
	char *s = NULL, *plain = NULL, mac[FX_SIG_BASE64_LEN + 1];
	size_t n = 0;
	struct fx_err e;

	fx_log_init("test", FX_LOG_DEBUG);
	fx_err_clear(&e);
	/* A malformed key file, then the demo key (its warning), then a real key. */
	fx_err_ignore(fx_seal_keys_load("fluxori-prod", key_file("short " KEY_HEX), NULL, &e));
	fx_log_error("load: %s", e.message);
	fx_err_ignore(fx_seal_keys_load("demo-logcheck", NULL, NULL, &e));
	fx_err_ignore(fx_seal_keys_load("fluxori-prod", key_file(KEY_B64), NULL, &e));
	fx_err_ignore(fx_seal(SECRET, strlen(SECRET), AAD, &s, &e));
	fx_err_ignore(fx_seal_open(s, AAD, &plain, &n, &e));
	fx_seal_clear_free(plain, n);
	if (fx_seal_open(s, "organizations/other", &plain, &n, &e) < 0)
		fx_log_error("open: %s", e.message); /* what a handler logs for a failed open */
	free(s);
	fx_err_ignore(fx_sig_hmac_sha256(WEBHOOK_KEY, strlen(WEBHOOK_KEY), body, strlen(body), FX_SIG_BASE64, mac,
					 sizeof(mac)));
	fx_log_info("verified: %d",
		    fx_sig_verify(WEBHOOK_KEY, strlen(WEBHOOK_KEY), body, strlen(body), FX_SIG_BASE64, mac));
	fx_log_info("refused: %d", fx_sig_verify(WEBHOOK_KEY, strlen(WEBHOOK_KEY), body, strlen(body), FX_SIG_BASE64,
						 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="));
	fx_log_init("test", FX_LOG_INFO);
}

Test(seal, no_secret_key_or_signature_key_reaches_the_log)
{
	char path[] = "/tmp/fx-seal-log-XXXXXX", log[16384];
	int fd = mkstemp(path), saved = dup(2);
	ssize_t got;

	cr_assert_geq(fd, 0);
	cr_assert_geq(saved, 0);
	unlink(path);
	cr_assert_eq(dup2(fd, 2), 2);
	every_path_with_known_secrets();
	cr_assert_eq(dup2(saved, 2), 2);
	close(saved);
	cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
	got = read(fd, log, sizeof(log) - 1);
	close(fd);
	cr_assert_gt(got, 0);
	log[got] = '\0';
	cr_assert(strstr(log, "public demo key"), "the capture holds the log: %s", log);
	cr_assert(strstr(log, "FLUXORI_SECRETS_KEY_FILE"), "%s", log);
	cr_assert(strstr(log, "verified: 1") && strstr(log, "refused: 0"), "%s", log);
	cr_assert_null(strstr(log, "NEVERLOGGED"), "%s", log);
	cr_assert_null(strstr(log, "0102030405060708"), "the key in hex: %s", log);
	cr_assert_null(strstr(log, "AAECAwQFBgcICQoL"), "the key in base64: %s", log);
	cr_assert_null(strstr(log, "d5026b6eb6141a08"), "the demo key: %s", log);
}
