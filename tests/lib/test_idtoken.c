#include "idtoken.h"

#include "b64.h"
#include "buf.h"
#include "config.h"
#include "log.h"
#include "testjwt.h"
#include "testserver.h"

#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROJECT "demo-fluxori"
#define T0 1700000000L
#define AUDIENCE "https://api.fluxori.test/jobs"
#define SCHEDULER "scheduler@demo-fluxori.iam.gserviceaccount.com"
#define ALLOWED "ops@demo-fluxori.iam.gserviceaccount.com, " SCHEDULER

static time_t clock_now = T0;
static struct fx_config cfg;
static struct testserver *keys;
static struct fx_err err;
static struct fx_claims claims;
/* A test signer: the key for hand-signed tokens and its PEM text for libjwt. */
struct signer {
	EVP_PKEY *pkey;
	char *pem;
};

static struct signer signer1, signer2;
static char *cert1, *cert2, *pub1_pem;

static time_t fake_now(void)
{
	return clock_now;
}

static char *slurp(const char *name)
{
	const char *top = getenv("top_srcdir");
	char path[1024];
	struct fx_buf b;
	char chunk[4096];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/tests/data/%s", top ? top : ".", name);
	f = fopen(path, "r");
	cr_assert(f, "cannot open %s", path);
	fx_buf_init(&b, 1 << 20);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		cr_assert_eq(fx_buf_append(&b, chunk, n), 0);
	fclose(f);
	return fx_buf_take(&b);
}

static struct signer load_signer(const char *name)
{
	struct signer sg = {.pem = slurp(name)};
	BIO *bio = BIO_new_mem_buf(sg.pem, -1);

	sg.pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	cr_assert(sg.pkey, "cannot parse %s", name);
	BIO_free(bio);
	return sg;
}

static char *public_pem(EVP_PKEY *k)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *p, *copy;
	long n;

	PEM_write_bio_PUBKEY(bio, k);
	n = BIO_get_mem_data(bio, &p);
	copy = strndup(p, (size_t)n);
	BIO_free(bio);
	return copy;
}

/* The certificate map Google serves: {"kid": "PEM", ...}. */
static void serve_keys(struct testserver *ts, const char *cache_control, int nkeys, ...)
{
	struct fx_buf b;
	char headers[256] = "";
	va_list ap;

	fx_buf_init(&b, TS_MAX_BODY - 1);
	cr_assert_eq(fx_buf_puts(&b, "{"), 0);
	va_start(ap, nkeys);
	for (int i = 0; i < nkeys; i++) {
		const char *kid = va_arg(ap, const char *);
		const char *pem = va_arg(ap, const char *);

		cr_assert_eq(fx_buf_printf(&b, "%s\"%s\":", i ? "," : "", kid), 0);
		cr_assert_eq(fx_buf_json_string(&b, pem, strlen(pem)), 0);
	}
	va_end(ap);
	cr_assert_eq(fx_buf_puts(&b, "}"), 0);
	if (cache_control)
		snprintf(headers, sizeof(headers), "Cache-Control: %s\r\nContent-Type: application/json\r\n",
			 cache_control);
	ts_reply(ts, 200, headers, b.data);
	fx_buf_cleanup(&b);
}

static void setup(void)
{
	fx_log_init("test_idtoken", FX_LOG_ERROR + 1);
	signer1 = load_signer("signer1.key.pem");
	signer2 = load_signer("signer2.key.pem");
	cert1 = slurp("signer1.cert.pem");
	cert2 = slurp("signer2.cert.pem");
	pub1_pem = public_pem(signer1.pkey);
	keys = ts_start();
	serve_keys(keys, "public, max-age=3600, must-revalidate, no-transform", 1, "kid1", cert1);
	memset(&cfg, 0, sizeof(cfg));
	cfg.project = PROJECT;
	cfg.firebase_keys_url = ts_url(keys);
	cfg.oidc_keys_url = ts_url(keys);
	cfg.http_timeout_ms = 3000;
	cfg.connect_timeout_ms = 1000;
	cfg.emulated_auth = false;
	fx_config_set(&cfg);
	clock_now = T0;
	fx_idtoken_set_clock(fake_now);
	fx_idtoken_reset_cache();
	fx_err_clear(&err);
}

static void teardown(void)
{
	fx_idtoken_reset_cache();
	fx_idtoken_set_clock(NULL);
	ts_stop(keys);
	EVP_PKEY_free(signer1.pkey);
	EVP_PKEY_free(signer2.pkey);
	free(signer1.pem);
	free(signer2.pem);
	free(cert1);
	free(cert2);
	free(pub1_pem);
}

/*
 * How a test token is made. Well-formed tokens are minted with libjwt
 * (tests/lib/testjwt.h), as a Google signer, or an attacker who has only the
 * public key, would: header {alg, typ, kid}, signed as sign says. A raw
 * header or payload, or a claim given twice, is what libjwt will not write:
 * such tokens are put together and signed here. Shape and tamper then alter
 * either kind.
 */
enum sign { SIGN_RS256, SIGN_RS512, SIGN_HS256_WITH_PUBLIC_KEY, SIGN_NONE };
enum shape { SHAPE_OK, SHAPE_TWO_SEGMENTS, SHAPE_FOUR_SEGMENTS, SHAPE_PADDED, SHAPE_BAD_CHAR, SHAPE_EMPTY_SIGNATURE };

struct spec {
	const char *kid; /* libjwt's header; NULL: no kid */
	const char *header; /* raw header JSON: the token is put together by hand */
	const char *iss, *aud, *sub; /* NULL: claim left out */
	long iat, exp, auth_time;
	bool no_iat, no_exp, no_auth_time;
	const char *extra; /* raw members appended to the payload */
	const char *raw_payload; /* replaces the whole payload */
	enum sign sign;
	const struct signer *key;
	enum shape shape;
	bool tamper; /* payload changed after signing */
};

static struct spec firebase_spec(void)
{
	struct spec s = {
		.kid = "kid1",
		.iss = "https://securetoken.google.com/" PROJECT,
		.aud = PROJECT,
		.sub = "uid_ada",
		.iat = clock_now - 100,
		.exp = clock_now + 3500,
		.auth_time = clock_now - 5000,
		.extra = "\"email\":\"ada@example.com\",\"email_verified\":true,\"organizationId\":\"org_1\","
			 "\"role\":\"manager\",\"firebase\":{\"identities\":{\"email\":[\"ada@example.com\"]},"
			 "\"sign_in_provider\":\"password\"}",
		.sign = SIGN_RS256,
		.key = &signer1,
	};
	return s;
}

static void member(struct fx_buf *b, const char *key, const char *s, long n, bool is_string)
{
	cr_assert_eq(fx_buf_printf(b, "%s\"%s\":", b->len > 1 ? "," : "", key), 0);
	if (is_string)
		cr_assert_eq(fx_buf_json_string(b, s, strlen(s)), 0);
	else
		cr_assert_eq(fx_buf_printf(b, "%ld", n), 0);
}

static void payload_json(const struct spec *s, struct fx_buf *b, const char *sub)
{
	if (s->raw_payload) {
		cr_assert_eq(fx_buf_puts(b, s->raw_payload), 0);
		return;
	}
	cr_assert_eq(fx_buf_puts(b, "{"), 0);
	if (s->iss)
		member(b, "iss", s->iss, 0, true);
	if (s->aud)
		member(b, "aud", s->aud, 0, true);
	if (!s->no_auth_time)
		member(b, "auth_time", NULL, s->auth_time, false);
	if (sub)
		member(b, "sub", sub, 0, true);
	if (!s->no_iat)
		member(b, "iat", NULL, s->iat, false);
	if (!s->no_exp)
		member(b, "exp", NULL, s->exp, false);
	if (s->extra)
		cr_assert_eq(fx_buf_printf(b, "%s%s", b->len > 1 ? "," : "", s->extra), 0);
	cr_assert_eq(fx_buf_puts(b, "}"), 0);
}

static void sign_input(const struct spec *s, const char *input, struct fx_buf *out)
{
	unsigned char sig[1024];
	size_t sig_len = sizeof(sig);
	unsigned int hlen = 0;
	EVP_MD_CTX *ctx;

	switch (s->sign) {
	case SIGN_NONE: return;
	case SIGN_HS256_WITH_PUBLIC_KEY:
		HMAC(EVP_sha256(), pub1_pem, (int)strlen(pub1_pem), (const unsigned char *)input, strlen(input), sig,
		     &hlen);
		sig_len = hlen;
		break;
	case SIGN_RS256:
	case SIGN_RS512:
		ctx = EVP_MD_CTX_new();
		cr_assert_eq(EVP_DigestSignInit(ctx, NULL, s->sign == SIGN_RS256 ? EVP_sha256() : EVP_sha512(), NULL,
						s->key->pkey),
			     1);
		cr_assert_eq(EVP_DigestSign(ctx, sig, &sig_len, (const unsigned char *)input, strlen(input)), 1);
		EVP_MD_CTX_free(ctx);
		break;
	}
	cr_assert_eq(fx_b64_url_append(out, sig, sig_len), 0);
}

/* The token with libjwt: header {alg, typ JWT, kid}, s's claims, signed as s->sign says. */
static char *mint_with_libjwt(const struct spec *s)
{
	struct fx_buf json;
	char *tok = NULL;

	fx_buf_init(&json, 1 << 16);
	payload_json(s, &json, s->sub);
	switch (s->sign) {
	case SIGN_RS256: tok = tj_mint(JWT_ALG_RS256, s->key->pem, s->kid, json.data); break;
	case SIGN_RS512: tok = tj_mint(JWT_ALG_RS512, s->key->pem, s->kid, json.data); break;
	case SIGN_HS256_WITH_PUBLIC_KEY: tok = tj_mint(JWT_ALG_HS256, pub1_pem, s->kid, json.data); break;
	case SIGN_NONE: tok = tj_mint(JWT_ALG_NONE, NULL, s->kid, json.data); break;
	}
	fx_buf_cleanup(&json);
	return tok;
}

/*
 * The token by hand: s->header as is (without one, RS256 with s->kid), s's
 * payload, signed as s->sign says over both.
 */
static char *mint_by_hand(const struct spec *s)
{
	struct fx_buf tok, json;

	fx_buf_init(&tok, 1 << 16);
	fx_buf_init(&json, 1 << 16);
	if (s->header) {
		cr_assert_eq(fx_buf_puts(&json, s->header), 0);
	} else {
		cr_assert(s->kid && s->sign == SIGN_RS256, "a token by hand without a header is RS256 with a kid");
		cr_assert_eq(fx_buf_printf(&json, "{\"alg\":\"RS256\",\"kid\":\"%s\",\"typ\":\"JWT\"}", s->kid), 0);
	}
	cr_assert_eq(fx_b64_url_append(&tok, json.data, json.len), 0);
	fx_buf_reset(&json);
	cr_assert_eq(fx_buf_puts(&tok, "."), 0);
	payload_json(s, &json, s->sub);
	cr_assert_eq(fx_b64_url_append(&tok, json.data, json.len), 0);
	fx_buf_reset(&json);
	sign_input(s, tok.data, &json);
	cr_assert_eq(fx_buf_printf(&tok, ".%s", json.data ? json.data : ""), 0);
	fx_buf_cleanup(&json);
	return fx_buf_take(&tok);
}

/* Mints the token s describes; the caller frees it. */
static char *mint(const struct spec *s)
{
	char *made = s->header || s->raw_payload ? mint_by_hand(s) : mint_with_libjwt(s);
	char *payload = strchr(made, '.') + 1, *sig = strrchr(made, '.') + 1;
	struct fx_buf tok, json;

	fx_buf_init(&tok, 1 << 16);
	fx_buf_init(&json, 1 << 16);
	cr_assert_eq(fx_buf_append(&tok, made, (size_t)(payload - made)), 0);
	if (s->tamper) {
		/* Same header and signature, another subject. */
		payload_json(s, &json, "uid_mallory");
		cr_assert_eq(fx_b64_url_append(&tok, json.data, json.len), 0);
	} else {
		cr_assert_eq(fx_buf_append(&tok, payload, (size_t)(sig - 1 - payload)), 0);
	}
	switch (s->shape) {
	case SHAPE_OK: cr_assert_eq(fx_buf_printf(&tok, ".%s", sig), 0); break;
	case SHAPE_TWO_SEGMENTS: break;
	case SHAPE_FOUR_SEGMENTS: cr_assert_eq(fx_buf_printf(&tok, ".%s.e30", sig), 0); break;
	case SHAPE_PADDED: cr_assert_eq(fx_buf_printf(&tok, "=.%s", sig), 0); break;
	case SHAPE_BAD_CHAR:
		tok.data[payload - made] = '*';
		cr_assert_eq(fx_buf_printf(&tok, ".%s", sig), 0);
		break;
	case SHAPE_EMPTY_SIGNATURE: cr_assert_eq(fx_buf_puts(&tok, "."), 0); break;
	}
	fx_buf_cleanup(&json);
	free(made);
	return fx_buf_take(&tok);
}

static int verify(const struct spec *s)
{
	char *t = mint(s);
	int rc;

	fx_err_clear(&err);
	rc = fx_idtoken_verify(t, strlen(t), &claims, &err);
	free(t);
	return rc;
}

static int verify_oidc(const struct spec *s)
{
	char *t = mint(s);
	int rc;

	fx_err_clear(&err);
	rc = fx_idtoken_verify_oidc(t, strlen(t), AUDIENCE, ALLOWED, &claims, &err);
	free(t);
	return rc;
}

/* A refusal: 401, the reason in the message, the token not echoed, no claims handed out. */
static void expect_refused(const struct spec *s, int code, const char *why, bool oidc)
{
	char *t = mint(s);
	const char *payload = strchr(t, '.');
	char probe[17] = "";
	int rc;

	if (payload && strlen(payload + 1) >= 16)
		memcpy(probe, payload + 1, 16);
	fx_err_clear(&err);
	rc = oidc ? fx_idtoken_verify_oidc(t, strlen(t), AUDIENCE, ALLOWED, &claims, &err)
		  : fx_idtoken_verify(t, strlen(t), &claims, &err);
	cr_assert_eq(rc, -1, "token accepted");
	cr_assert_eq(fx_err_http(err.kind), code, "code %d: %s", fx_err_http(err.kind), err.message);
	cr_assert_str_eq(fx_err_name(err.kind), code == 401   ? "UNAUTHENTICATED"
						: code == 403 ? "PERMISSION_DENIED"
							      : "?");
	cr_assert(strstr(err.message, why), "message \"%s\" lacks \"%s\"", err.message, why);
	cr_assert(!probe[0] || !strstr(err.message, probe), "message echoes the token: %s", err.message);
	cr_assert_str_eq(claims.uid, "", "claims handed out for a refused token");
	free(t);
}

TestSuite(idtoken_rejects, .init = setup, .fini = teardown);
TestSuite(idtoken, .init = setup, .fini = teardown);
TestSuite(idtoken_keys, .init = setup, .fini = teardown);
TestSuite(idtoken_emulator, .init = setup, .fini = teardown);
TestSuite(oidc, .init = setup, .fini = teardown);

/* One row per attack or malformation: name, the reason the message must give, how the token differs. */
#define REJECTS(name, why, ...)                      \
	Test(idtoken_rejects, name)                  \
	{                                            \
		struct spec s = firebase_spec();     \
		__VA_ARGS__;                         \
		expect_refused(&s, 401, why, false); \
	}

REJECTS(alg_none_unsigned, "alg none", s.kid = NULL, s.sign = SIGN_NONE)
REJECTS(alg_none_with_kid, "alg none", s.sign = SIGN_NONE)
REJECTS(alg_none_carrying_a_valid_signature, "alg none", s.header = "{\"alg\":\"none\",\"kid\":\"kid1\"}")
REJECTS(hs256_signed_with_the_public_key_pem, "not RS256", s.sign = SIGN_HS256_WITH_PUBLIC_KEY)
REJECTS(rs512, "not RS256", s.sign = SIGN_RS512)
REJECTS(lowercase_rs256, "not RS256", s.header = "{\"alg\":\"rs256\",\"kid\":\"kid1\"}")
REJECTS(alg_that_is_not_a_string, "no alg", s.header = "{\"alg\":[\"RS256\"],\"kid\":\"kid1\"}")
REJECTS(missing_kid, "no usable kid", s.kid = NULL)
REJECTS(unknown_kid, "not among Google's current keys", s.kid = "kid9")
REJECTS(kid_naming_a_file, "not among Google's current keys", s.kid = "../../../../etc/passwd")
REJECTS(signature_by_another_key, "signature does not verify", s.key = &signer2)
REJECTS(payload_tampered_after_signing, "signature does not verify", s.tamper = true)
REJECTS(embedded_jwk_for_the_attackers_key, "signature does not verify",
	s.header = "{\"alg\":\"RS256\",\"kid\":\"kid1\",\"jku\":\"http://127.0.0.1:1/keys\",\"jwk\":{\"kty\":\"RSA\"}}",
	s.key = &signer2)
REJECTS(expired, "expired", s.exp = clock_now - 61, s.iat = clock_now - 3000)
REJECTS(expired_exactly_at_the_skew, "expired", s.exp = clock_now - 60, s.iat = clock_now - 3000)
REJECTS(issued_in_the_future, "issued in the future", s.iat = clock_now + 61)
REJECTS(auth_time_in_the_future, "auth_time", s.auth_time = clock_now + 61)
REJECTS(wrong_audience, "aud", s.aud = "another-project")
REJECTS(audience_as_an_array, "aud", s.aud = NULL, s.extra = "\"aud\":[\"" PROJECT "\"]")
REJECTS(wrong_issuer, "iss", s.iss = "https://securetoken.google.com/another-project")
REJECTS(issuer_extending_the_project_id, "iss", s.iss = "https://securetoken.google.com/" PROJECT "-evil")
REJECTS(google_oidc_issuer, "iss", s.iss = "https://accounts.google.com")
REJECTS(empty_sub, "sub", s.sub = "")
REJECTS(sub_of_129_bytes, "sub",
	s.sub = "uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu"
		"uuu"
		"uuuuuuuuuuuuuuuuuuuuuuuu")
REJECTS(sub_that_is_a_number, "sub", s.sub = NULL, s.extra = "\"sub\":42")
REJECTS(missing_sub, "sub is missing", s.sub = NULL)
REJECTS(missing_exp, "exp is missing", s.no_exp = true)
REJECTS(missing_iat, "iat is missing", s.no_iat = true)
REJECTS(missing_auth_time, "auth_time is missing", s.no_auth_time = true)
REJECTS(exp_as_a_string, "exp is not a timestamp", s.no_exp = true, s.extra = "\"exp\":\"1800000000\"")
REJECTS(two_segments, "3 segments", s.shape = SHAPE_TWO_SEGMENTS)
REJECTS(four_segments, "3 segments", s.shape = SHAPE_FOUR_SEGMENTS)
REJECTS(padded_base64, "padded", s.shape = SHAPE_PADDED)
REJECTS(malformed_base64, "not base64url", s.shape = SHAPE_BAD_CHAR)
REJECTS(empty_signature_segment, "signature is missing", s.shape = SHAPE_EMPTY_SIGNATURE)
REJECTS(malformed_json_payload, "not a strict JSON object", s.raw_payload = "{\"sub\":\"uid_ada\",")
REJECTS(json_payload_that_is_not_an_object, "not a strict JSON object", s.raw_payload = "[1,2]")
REJECTS(malformed_json_header, "header is not a strict JSON object", s.header = "{alg:RS256}")
REJECTS(duplicate_claim_keys, "duplicate key", s.header = "{\"alg\":\"RS256\",\"kid\":\"kid1\"}",
	s.extra = "\"sub\":\"uid_admin\"")
REJECTS(duplicate_header_keys, "duplicate key", s.header = "{\"alg\":\"none\",\"alg\":\"RS256\",\"kid\":\"kid1\"}")
REJECTS(custom_claim_of_the_wrong_type, "organizationId", s.extra = "\"organizationId\":7")

/*
 * Why verification is ours and not libjwt's (idtoken.h, PROTOCOLS.md 0.1):
 * Debian's libjwt 1.10 takes the algorithm from the token header and checks
 * no claim, so jwt_decode accepts both forgeries below, minted with libjwt
 * from public material only. fx_idtoken_verify refuses them. Should a newer
 * libjwt refuse them too, the first assertion says so.
 */
Test(idtoken_rejects, hs256_signed_with_the_public_key_that_libjwt_itself_accepts)
{
	struct spec s = firebase_spec();
	jwt_t *jwt = NULL;
	char *t;

	s.sign = SIGN_HS256_WITH_PUBLIC_KEY;
	t = mint(&s);
	cr_assert_eq(jwt_decode(&jwt, t, (const unsigned char *)pub1_pem, (int)strlen(pub1_pem)), 0,
		     "libjwt now refuses HS256 keyed with the RSA public key: revisit idtoken.h's reason");
	cr_assert_eq(jwt_get_alg(jwt), JWT_ALG_HS256);
	cr_assert_str_eq(jwt_get_grant(jwt, "sub"), "uid_ada");
	jwt_free(jwt);
	free(t);
	expect_refused(&s, 401, "not RS256", false);
}

Test(idtoken_rejects, alg_none_that_libjwt_itself_accepts_without_a_key)
{
	struct spec s = firebase_spec();
	jwt_t *jwt = NULL;
	char *t;

	s.sign = SIGN_NONE;
	s.exp = clock_now - 86400;
	s.iat = clock_now - 90000;
	t = mint(&s);
	cr_assert_eq(jwt_decode(&jwt, t, NULL, 0), 0,
		     "libjwt now refuses an unsigned token: revisit idtoken.h's reason");
	cr_assert_eq(jwt_get_alg(jwt), JWT_ALG_NONE);
	cr_assert_eq(jwt_get_grant_int(jwt, "exp"), T0 - 86400, "libjwt checks no expiry");
	jwt_free(jwt);
	free(t);
	expect_refused(&s, 401, "alg none", false);
}

Test(idtoken_rejects, oversized_token)
{
	static char big[5000];
	struct spec s = firebase_spec();

	memcpy(big, "\"pad\":\"", 7);
	memset(big + 7, 'a', 3100);
	memcpy(big + 3107, "\"", 2);
	s.extra = big;
	expect_refused(&s, 401, "longer than 4096 bytes", false);
}

Test(idtoken_rejects, empty_token)
{
	cr_assert_eq(fx_idtoken_verify("", 0, &claims, &err), -1);
	cr_assert_eq(fx_err_http(err.kind), 401);
	cr_assert(strstr(err.message, "empty"));
}

Test(idtoken, accepts_a_good_token_and_extracts_its_claims)
{
	struct spec s = firebase_spec();

	cr_assert_eq(verify(&s), 0, "%s", err.message);
	cr_assert_str_eq(claims.uid, "uid_ada");
	cr_assert_str_eq(claims.email, "ada@example.com");
	cr_assert(claims.email_verified);
	cr_assert_str_eq(claims.organization_id, "org_1");
	cr_assert_str_eq(claims.role, "manager");
	cr_assert_eq(claims.iat, T0 - 100);
	cr_assert_eq(claims.exp, T0 + 3500);
	cr_assert_eq(claims.auth_time, T0 - 5000);
	cr_assert_str_eq(claims.sign_in_provider, "password");
}

Test(idtoken, absent_custom_claims_come_back_empty)
{
	struct spec s = firebase_spec();

	s.extra = NULL;
	cr_assert_eq(verify(&s), 0, "%s", err.message);
	cr_assert_str_eq(claims.organization_id, "");
	cr_assert_str_eq(claims.role, "");
	cr_assert_str_eq(claims.email, "");
	cr_assert(!claims.email_verified);
}

Test(idtoken, accepts_a_128_byte_sub)
{
	char sub[129];
	struct spec s = firebase_spec();

	memset(sub, 'u', 128);
	sub[128] = '\0';
	s.sub = sub;
	cr_assert_eq(verify(&s), 0, "%s", err.message);
	cr_assert_str_eq(claims.uid, sub);
}

Test(idtoken, tolerates_a_minute_of_clock_skew)
{
	struct spec s = firebase_spec();

	s.exp = clock_now - 59;
	s.iat = clock_now + 60;
	s.auth_time = clock_now + 60;
	cr_assert_eq(verify(&s), 0, "%s", err.message);
}

Test(idtoken, ignores_jku_and_x5u_headers)
{
	struct spec s = firebase_spec();

	s.header = "{\"alg\":\"RS256\",\"kid\":\"kid1\",\"jku\":\"http://127.0.0.1:1/k\",\"x5u\":\"http://127.0.0.1:1/"
		   "c\"}";
	cr_assert_eq(verify(&s), 0, "%s", err.message);
	cr_assert_eq(ts_count(keys), 1, "keys come only from the configured URL");
}

Test(idtoken, does_not_fetch_keys_for_a_token_that_fails_its_claims)
{
	struct spec s = firebase_spec();

	s.aud = "another-project";
	cr_assert_eq(verify(&s), -1);
	cr_assert_eq(ts_count(keys), 0);
}

static void *verify_in_thread(void *arg)
{
	const char *token = arg;
	struct fx_claims c;
	struct fx_err e;

	fx_err_clear(&e);
	return (void *)(long)fx_idtoken_verify(token, strlen(token), &c, &e);
}

Test(idtoken_keys, sixteen_threads_share_a_single_key_fetch)
{
	struct spec s = firebase_spec();
	char *t = mint(&s);
	pthread_t th[16];

	for (int i = 0; i < 16; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, verify_in_thread, t), 0);
	for (int i = 0; i < 16; i++) {
		void *rc;

		pthread_join(th[i], &rc);
		cr_assert_eq((long)rc, 0, "thread %d refused a good token", i);
	}
	cr_assert_eq(ts_count(keys), 1);
	free(t);
}

Test(idtoken_keys, no_refetch_within_max_age)
{
	struct spec s = firebase_spec();

	cr_assert_eq(verify(&s), 0, "%s", err.message);
	cr_assert_eq(ts_count(keys), 1);
	clock_now = T0 + 3599;
	s = firebase_spec();
	cr_assert_eq(verify(&s), 0, "%s", err.message);
	cr_assert_eq(ts_count(keys), 1);
}

Test(idtoken_keys, refetches_after_max_age)
{
	struct spec s = firebase_spec();

	cr_assert_eq(verify(&s), 0, "%s", err.message);
	clock_now = T0 + 3600;
	s = firebase_spec();
	cr_assert_eq(verify(&s), 0, "%s", err.message);
	cr_assert_eq(ts_count(keys), 2);
}

Test(idtoken_keys, keys_without_max_age_are_kept_a_minute)
{
	struct spec s = firebase_spec();

	serve_keys(keys, NULL, 1, "kid1", cert1);
	cr_assert_eq(verify(&s), 0, "%s", err.message);
	cr_assert_eq(verify(&s), 0, "%s", err.message);
	cr_assert_eq(ts_count(keys), 1, "a missing max-age must not mean a fetch per request");
	clock_now = T0 + 61;
	s = firebase_spec();
	cr_assert_eq(verify(&s), 0, "%s", err.message);
	cr_assert_eq(ts_count(keys), 2);
}

Test(idtoken_keys, refetches_for_a_rotated_key)
{
	struct spec s = firebase_spec();

	cr_assert_eq(verify(&s), 0, "%s", err.message);
	serve_keys(keys, "max-age=3600", 2, "kid1", cert1, "kid2", cert2);
	s.kid = "kid2";
	s.key = &signer2;
	cr_assert_eq(verify(&s), 0, "rotated key refused: %s", err.message);
	cr_assert_eq(ts_count(keys), 2);
}

Test(idtoken_keys, unknown_kid_refetches_at_most_once_a_minute)
{
	struct spec s = firebase_spec();

	cr_assert_eq(verify(&s), 0, "%s", err.message);
	s.kid = "kid2";
	s.key = &signer2;
	cr_assert_eq(verify(&s), -1);
	cr_assert_eq(ts_count(keys), 2, "first unknown kid refetches");
	cr_assert_eq(verify(&s), -1);
	clock_now = T0 + 59;
	cr_assert_eq(verify(&s), -1);
	cr_assert_eq(fx_err_http(err.kind), 401);
	cr_assert_eq(ts_count(keys), 2, "no refetch within a minute of the last one");
	serve_keys(keys, "max-age=3600", 2, "kid1", cert1, "kid2", cert2);
	clock_now = T0 + 60;
	cr_assert_eq(verify(&s), 0, "%s", err.message);
	cr_assert_eq(ts_count(keys), 3);
}

Test(idtoken_keys, survives_the_key_server_going_down_while_keys_are_cached)
{
	struct spec s = firebase_spec();

	cr_assert_eq(verify(&s), 0, "%s", err.message);
	ts_down(keys, true);
	clock_now = T0 + 1800;
	s = firebase_spec();
	cr_assert_eq(verify(&s), 0, "%s", err.message);
	cr_assert_eq(ts_count(keys), 1);
}

Test(idtoken_keys, keeps_serving_fetched_keys_when_a_refresh_fails)
{
	struct spec s = firebase_spec();
	unsigned before;

	cr_assert_eq(verify(&s), 0, "%s", err.message);
	ts_down(keys, true);
	clock_now = T0 + 4000;
	s = firebase_spec();
	cr_assert_eq(verify(&s), 0, "stale keys must still verify: %s", err.message);
	before = ts_count(keys);
	cr_assert_gt(before, 1, "a refresh was attempted");
	s.key = &signer2;
	cr_assert_eq(verify(&s), -1);
	cr_assert_eq(fx_err_http(err.kind), 401, "a bad signature stays 401 while refreshes fail");
	cr_assert_eq(ts_count(keys), before, "a failed refresh is not retried on every request");
}

Test(idtoken_keys, answers_503_when_no_keys_can_be_had)
{
	struct spec s = firebase_spec();

	ts_down(keys, true);
	cr_assert_eq(verify(&s), -1);
	cr_assert_eq(fx_err_http(err.kind), 503);
	cr_assert_str_eq(fx_err_name(err.kind), "UNAVAILABLE");
}

Test(idtoken_keys, answers_503_when_the_key_server_answers_an_error)
{
	struct spec s = firebase_spec();

	ts_reply(keys, 500, NULL, "{\"error\":\"backend\"}");
	cr_assert_eq(verify(&s), -1);
	cr_assert_eq(fx_err_http(err.kind), 503);
	cr_assert(strstr(err.message, "HTTP 500"), "%s", err.message);
}

Test(idtoken_keys, answers_503_when_the_key_map_holds_no_certificate)
{
	struct spec s = firebase_spec();

	ts_reply(keys, 200, "Cache-Control: max-age=3600\r\n", "{\"kid1\":\"not a certificate\"}");
	cr_assert_eq(verify(&s), -1);
	cr_assert_eq(fx_err_http(err.kind), 503);
	cr_assert(strstr(err.message, "no usable certificate"), "%s", err.message);
}

Test(idtoken_keys, ready_fetches_keys_once)
{
	cr_assert_eq(fx_idtoken_ready(&err), 0, "%s", err.message);
	cr_assert_eq(fx_idtoken_ready(&err), 0, "%s", err.message);
	cr_assert_eq(ts_count(keys), 1);
}

Test(idtoken_keys, not_ready_without_keys)
{
	ts_down(keys, true);
	cr_assert_eq(fx_idtoken_ready(&err), -1);
	cr_assert_eq(fx_err_http(err.kind), 503);
}

static struct spec emulator_spec(void)
{
	struct spec s = firebase_spec();

	s.kid = NULL;
	s.sign = SIGN_NONE;
	return s;
}

static void emulated(void)
{
	cfg.emulated_auth = true;
}

Test(idtoken_emulator, accepts_an_unsigned_emulator_token)
{
	struct spec s = emulator_spec();

	emulated();
	cr_assert_eq(verify(&s), 0, "%s", err.message);
	cr_assert_str_eq(claims.uid, "uid_ada");
	cr_assert_str_eq(claims.organization_id, "org_1");
	cr_assert_eq(ts_count(keys), 0, "no keys are needed for emulator tokens");
}

Test(idtoken_emulator, refuses_the_same_token_without_emulated_auth)
{
	struct spec s = emulator_spec();

	expect_refused(&s, 401, "alg none", false);
}

Test(idtoken_emulator, refuses_an_unsigned_token_carrying_a_signature)
{
	struct spec s = emulator_spec();

	emulated();
	s.header = "{\"alg\":\"none\",\"typ\":\"JWT\"}";
	s.sign = SIGN_RS256;
	expect_refused(&s, 401, "empty signature segment", false);
}

Test(idtoken_emulator, still_checks_expiry)
{
	struct spec s = emulator_spec();

	emulated();
	s.exp = clock_now - 61;
	expect_refused(&s, 401, "expired", false);
}

Test(idtoken_emulator, still_checks_audience_issuer_and_sub)
{
	struct spec s = emulator_spec();

	emulated();
	s.aud = "another-project";
	expect_refused(&s, 401, "aud", false);
	s = emulator_spec();
	s.iss = "https://securetoken.google.com/another-project";
	expect_refused(&s, 401, "iss", false);
	s = emulator_spec();
	s.sub = "";
	expect_refused(&s, 401, "sub", false);
}

Test(idtoken_emulator, refused_for_a_real_project_even_when_configured)
{
	struct spec s;

	emulated();
	cfg.project = "fluxori-prod";
	s = emulator_spec();
	s.iss = "https://securetoken.google.com/fluxori-prod";
	s.aud = "fluxori-prod";
	expect_refused(&s, 401, "alg none", false);
}

Test(idtoken_emulator, allowed_on_cloud_run_with_a_demo_project)
{
	struct spec s = emulator_spec();

	emulated();
	cfg.k_service = "fluxori-api";
	cr_assert_eq(verify(&s), 0, "%s", err.message);
}

Test(idtoken_emulator, ready_without_fetching_keys)
{
	emulated();
	ts_down(keys, true);
	cr_assert_eq(fx_idtoken_ready(&err), 0, "%s", err.message);
	cr_assert_eq(ts_count(keys), 0);
}

static struct spec oidc_spec(void)
{
	struct spec s = {
		.kid = "kid1",
		.iss = "https://accounts.google.com",
		.aud = AUDIENCE,
		.sub = "113700000000000000001",
		.iat = clock_now - 60,
		.exp = clock_now + 3540,
		.no_auth_time = true,
		.extra = "\"azp\":\"113700000000000000001\",\"email\":\"" SCHEDULER "\",\"email_verified\":true",
		.sign = SIGN_RS256,
		.key = &signer1,
	};
	return s;
}

Test(oidc, accepts_the_scheduler_token)
{
	struct spec s = oidc_spec();

	cr_assert_eq(verify_oidc(&s), 0, "%s", err.message);
	cr_assert_str_eq(claims.email, SCHEDULER);
	cr_assert_str_eq(claims.uid, "113700000000000000001");
	cr_assert(claims.email_verified);
	cr_assert_eq(claims.exp, T0 + 3540);
}

Test(oidc, accepts_the_issuer_without_scheme)
{
	struct spec s = oidc_spec();

	s.iss = "accounts.google.com";
	cr_assert_eq(verify_oidc(&s), 0, "%s", err.message);
}

Test(oidc, tolerates_five_minutes_of_clock_skew)
{
	struct spec s = oidc_spec();

	s.exp = clock_now - 300;
	s.iat = clock_now - 3900;
	cr_assert_eq(verify_oidc(&s), 0, "%s", err.message);
}

Test(oidc, rejects_a_wrong_audience)
{
	struct spec s = oidc_spec();

	s.aud = AUDIENCE "/";
	expect_refused(&s, 401, "aud", true);
}

Test(oidc, rejects_an_email_not_in_the_allowlist_with_403)
{
	struct spec s = oidc_spec();

	s.extra = "\"email\":\"intruder@other-project.iam.gserviceaccount.com\",\"email_verified\":true";
	expect_refused(&s, 403, "not allowed", true);
}

Test(oidc, rejects_an_allowlist_entry_that_is_only_a_prefix)
{
	struct spec s = oidc_spec();

	s.extra = "\"email\":\"scheduler@demo-fluxori.iam.gserviceaccount.co\",\"email_verified\":true";
	expect_refused(&s, 403, "not allowed", true);
}

Test(oidc, rejects_an_unverified_email)
{
	struct spec s = oidc_spec();

	s.extra = "\"email\":\"" SCHEDULER "\",\"email_verified\":false";
	expect_refused(&s, 401, "not verified", true);
	s.extra = "\"email\":\"" SCHEDULER "\"";
	expect_refused(&s, 401, "not verified", true);
}

Test(oidc, rejects_an_expired_token)
{
	struct spec s = oidc_spec();

	s.exp = clock_now - 301;
	s.iat = clock_now - 3901;
	expect_refused(&s, 401, "expired", true);
}

Test(oidc, rejects_a_token_issued_in_the_future)
{
	struct spec s = oidc_spec();

	s.iat = clock_now + 301;
	s.exp = clock_now + 3901;
	expect_refused(&s, 401, "issued in the future", true);
}

Test(oidc, rejects_a_lifetime_over_a_day)
{
	struct spec s = oidc_spec();

	s.exp = s.iat + 86400;
	expect_refused(&s, 401, "lifetime", true);
}

Test(oidc, rejects_a_wrong_issuer)
{
	struct spec s = oidc_spec();

	s.iss = "https://securetoken.google.com/" PROJECT;
	expect_refused(&s, 401, "iss", true);
}

Test(oidc, rejects_a_bad_signature)
{
	struct spec s = oidc_spec();

	s.key = &signer2;
	expect_refused(&s, 401, "signature does not verify", true);
}

Test(oidc, rejects_alg_none_even_in_emulator_mode)
{
	struct spec s = oidc_spec();

	emulated();
	s.kid = NULL;
	s.sign = SIGN_NONE;
	expect_refused(&s, 401, "alg none", true);
}

Test(oidc, rejects_a_firebase_id_token)
{
	struct spec s = firebase_spec();

	expect_refused(&s, 401, "iss", true);
}

Test(oidc, refuses_when_no_audience_is_configured)
{
	struct spec s = oidc_spec();
	char *t = mint(&s);

	cr_assert_eq(fx_idtoken_verify_oidc(t, strlen(t), NULL, ALLOWED, &claims, &err), -1);
	cr_assert_eq(fx_err_http(err.kind), 500);
	free(t);
}

Test(oidc, keeps_its_own_key_cache)
{
	struct testserver *google = ts_start();
	struct spec s = oidc_spec();

	serve_keys(google, "max-age=3600", 1, "kid1", cert1);
	cfg.oidc_keys_url = ts_url(google);
	cr_assert_eq(verify_oidc(&s), 0, "%s", err.message);
	s = firebase_spec();
	cr_assert_eq(verify(&s), 0, "%s", err.message);
	cr_assert_eq(ts_count(google), 1);
	cr_assert_eq(ts_count(keys), 1, "firebase keys come from their own URL");
	ts_stop(google);
}

Test(oidc, answers_503_when_no_keys_can_be_had)
{
	struct spec s = oidc_spec();

	ts_down(keys, true);
	cr_assert_eq(verify_oidc(&s), -1);
	cr_assert_eq(fx_err_http(err.kind), 503);
}
