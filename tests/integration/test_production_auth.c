/*
 * The production token path through nginx: a worker instance that
 * verifies Firebase ID tokens as on Google (RS256, keys fetched from a
 * certificate endpoint with Cache-Control), served here by a local server
 * with the test signer's certificate. Tokens are minted with the test key.
 */
#include "b64.h"
#include "buf.h"
#include "client.h"
#include "instance.h"
#include "testserver.h"

#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct testserver *certs;
static struct instance api;

static void setup(void)
{
	char extra[512];

	certs = test_cert_server();
	snprintf(extra, sizeof(extra), "FLUXORI_AUTH_EMULATOR_TOKENS=false\nFLUXORI_FIREBASE_KEYS_URL=%s/certs\n",
		 ts_url(certs));
	instance_start(&api, extra);
}

static void teardown(void)
{
	instance_stop(&api);
	ts_stop(certs);
}

TestSuite(rs256, .init = setup, .fini = teardown, .timeout = 60);

enum alg { RS256_SIGNER1, RS256_SIGNER2, HS256_PUBLIC_KEY, NONE };

/* A Firebase-shaped ID token for uid, signed as alg says. */
static char *mint(enum alg alg, const char *uid)
{
	struct fx_buf tok, payload;
	const char *header = alg == HS256_PUBLIC_KEY ? "{\"alg\":\"HS256\",\"kid\":\"kid1\",\"typ\":\"JWT\"}"
			     : alg == NONE	     ? "{\"alg\":\"none\",\"typ\":\"JWT\"}"
						     : "{\"alg\":\"RS256\",\"kid\":\"kid1\",\"typ\":\"JWT\"}";
	unsigned char sig[1024];
	size_t sig_len = sizeof(sig);
	long now = (long)time(NULL);

	fx_buf_init(&tok, 1 << 16);
	fx_buf_init(&payload, 4096);
	cr_assert_eq(fx_buf_printf(
		&payload,
		"{\"iss\":\"https://securetoken.google.com/demo-fluxori\",\"aud\":\"demo-fluxori\",\"sub\":\"%s\","
		"\"auth_time\":%ld,\"iat\":%ld,\"exp\":%ld,\"email\":\"%s@example.co.za\"}",
		uid, now - 10, now - 10, now + 3600, uid), 0);
	cr_assert_eq(fx_b64url_append(&tok, header, strlen(header)), 0);
	cr_assert_eq(fx_buf_puts(&tok, "."), 0);
	cr_assert_eq(fx_b64url_append(&tok, payload.data, payload.len), 0);
	if (alg == RS256_SIGNER1 || alg == RS256_SIGNER2) {
		char *pem = test_slurp(test_data(alg == RS256_SIGNER1 ? "signer1.key.pem" : "signer2.key.pem"));
		BIO *bio = BIO_new_mem_buf(pem, -1);
		EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();

		cr_assert_eq(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key), 1);
		cr_assert_eq(EVP_DigestSign(ctx, sig, &sig_len, (const unsigned char *)tok.data, tok.len), 1);
		EVP_MD_CTX_free(ctx);
		EVP_PKEY_free(key);
		BIO_free(bio);
		free(pem);
	} else if (alg == HS256_PUBLIC_KEY) {
		/* The classic confusion attack: the RSA certificate as an HMAC secret. */
		char *pub = test_slurp(test_data("signer1.cert.pem"));
		unsigned int n = 0;

		HMAC(EVP_sha256(), pub, (int)strlen(pub), (const unsigned char *)tok.data, tok.len, sig, &n);
		sig_len = n;
		free(pub);
	} else {
		sig_len = 0;
	}
	cr_assert_eq(fx_buf_puts(&tok, "."), 0);
	if (sig_len)
		cr_assert_eq(fx_b64url_append(&tok, sig, sig_len), 0);
	fx_buf_cleanup(&payload);
	return fx_buf_take(&tok);
}

static struct http_resp *me(const char *token)
{
	char url[128], auth[8192];
	const char *h[] = {auth, NULL};

	snprintf(url, sizeof(url), "%s/v1/users/me", api.base);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	return http_url("GET", url, h, NULL, 0);
}

Test(rs256, a_token_signed_by_a_published_key_is_accepted)
{
	char uid[64], *t;
	struct http_resp *r;

	snprintf(uid, sizeof(uid), "rs256-%s", test_unique());
	t = mint(RS256_SIGNER1, uid);
	r = me(t);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "id"), uid);
	http_resp_free(r);
	free(t);
	cr_assert_eq(ts_count(certs), 1, "the keys were fetched once and cached (max-age)");
}

Test(rs256, the_emulators_unsigned_tokens_are_refused)
{
	char *t = mint(NONE, "unsigned-user");
	struct http_resp *r = me(t);

	cr_assert_eq(r->status, 401, "%s", r->body);
	http_resp_free(r);
	free(t);
}

Test(rs256, hs256_signed_with_the_public_key_is_refused)
{
	char *t = mint(HS256_PUBLIC_KEY, "confused-user");
	struct http_resp *r = me(t);

	cr_assert_eq(r->status, 401, "%s", r->body);
	http_resp_free(r);
	free(t);
}

Test(rs256, a_token_signed_by_another_key_is_refused)
{
	char *t = mint(RS256_SIGNER2, "forged-user");
	struct http_resp *r = me(t);

	cr_assert_eq(r->status, 401, "%s", r->body);
	cr_assert_str_eq(json_str(r, "error.status"), "UNAUTHENTICATED");
	http_resp_free(r);
	free(t);
}

Test(rs256, readiness_reports_the_token_keys)
{
	char url[128];
	struct http_resp *r;

	snprintf(url, sizeof(url), "%s/health/ready", api.base);
	r = http_url("GET", url, NULL, NULL, 0);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "tokenKeys"), "ok");
	http_resp_free(r);
}
