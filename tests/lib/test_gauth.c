#include "gauth.h"

#include "b64.h"
#include "buf.h"
#include "config.h"
#include "log.h"
#include "testserver.h"

#include <criterion/criterion.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T0 1700000000L
#define SA_EMAIL "fluxori-test@demo-fluxori.iam.gserviceaccount.com"
#define SA_KEY_ID "0123456789abcdef0123456789abcdef01234567"
#define MD_EMAIL "123456789-compute@developer.gserviceaccount.com"
#define TOKEN_PATH "/computeMetadata/v1/instance/service-accounts/default/token"
#define EMAIL_PATH "/computeMetadata/v1/instance/service-accounts/default/email"
#define SCOPE "https://www.googleapis.com/auth/cloud-platform"

static time_t clock_now = T0;
static struct fx_config cfg;
static struct testserver *google;
static struct fx_err err;
static char key_path[1024], token_url[256], header[FX_GAUTH_HEADER_MAX];
static EVP_PKEY *sa_public, *sa_private;

/*
 * The fake Google: token endpoint, metadata server and IAM Credentials in
 * one. Configured before ts_handle, then touched only on the server thread.
 */
static struct google_conf {
	int expires_in;
	bool metadata_flavor;
	const char *token_prefix;
	int sign_blob_status;
	int served;
} conf;

static time_t fake_now(void)
{
	return clock_now;
}

static char *slurp(const char *path)
{
	struct fx_buf b;
	char chunk[4096];
	size_t n;
	FILE *f = fopen(path, "r");

	cr_assert(f, "cannot open %s", path);
	fx_buf_init(&b, 1 << 20);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		cr_assert_eq(fx_buf_append(&b, chunk, n), 0);
	fclose(f);
	return fx_buf_take(&b);
}

static EVP_PKEY *pem_key(const char *pem, bool private)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k =
		private ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);

	cr_assert(k);
	BIO_free(bio);
	return k;
}

static bool rs256_ok(EVP_PKEY *k, const void *data, size_t n, const unsigned char *sig, size_t sig_len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, k) == 1 &&
		  EVP_DigestVerify(ctx, sig, sig_len, data, n) == 1;

	EVP_MD_CTX_free(ctx);
	return ok;
}

static void answer(struct ts_response *resp, int status, const char *body)
{
	resp->status = status;
	resp->body_len = (size_t)snprintf(resp->body, sizeof(resp->body), "%s", body);
	snprintf(resp->headers, sizeof(resp->headers), "Content-Type: application/json\r\n%s",
		 conf.metadata_flavor ? "Metadata-Flavor: Google\r\n" : "");
}

/* signBlob as IAM Credentials does it, signing with the test account's key. */
static void sign_blob(const struct ts_request *req, struct ts_response *resp)
{
	json_object *root = json_tokener_parse(req->body), *v;
	unsigned char data[4096], sig[512];
	size_t n = 0, sig_len = sizeof(sig);
	struct fx_buf body;
	struct fx_err e;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (conf.sign_blob_status != 200) {
		answer(resp, conf.sign_blob_status,
		       "{\"error\":{\"code\":403,\"status\":\"PERMISSION_DENIED\",\"message\":\"Permission "
		       "'iam.serviceAccounts.signBlob' denied\"}}");
		goto out;
	}
	if (!root || !json_object_object_get_ex(root, "payload", &v) ||
	    fx_b64_decode(json_object_get_string(v), (size_t)json_object_get_string_len(v), data, sizeof(data), &n,
			  &e) < 0) {
		answer(resp, 400, "{\"error\":{\"code\":400,\"status\":\"INVALID_ARGUMENT\"}}");
		goto out;
	}
	EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, sa_private);
	EVP_DigestSign(ctx, sig, &sig_len, data, n);
	fx_buf_init(&body, 4096);
	cr_assert_eq(fx_buf_puts(&body, "{\"keyId\":\"k1\",\"signedBlob\":\""), 0);
	cr_assert_eq(fx_b64_append(&body, sig, sig_len), 0);
	cr_assert_eq(fx_buf_puts(&body, "\"}"), 0);
	answer(resp, 200, body.data);
	fx_buf_cleanup(&body);
out:
	EVP_MD_CTX_free(ctx);
	json_object_put(root);
}

static void fake_google(const struct ts_request *req, struct ts_response *resp, void *ctx)
{
	char body[512];

	(void)ctx;
	if (strstr(req->path, ":signBlob")) {
		sign_blob(req, resp);
		return;
	}
	if (strcmp(req->path, EMAIL_PATH) == 0) {
		answer(resp, 200, MD_EMAIL);
		return;
	}
	conf.served++;
	snprintf(body, sizeof(body), "{\"access_token\":\"%s%d\",\"expires_in\":%d,\"token_type\":\"Bearer\"}",
		 conf.token_prefix, conf.served, conf.expires_in);
	answer(resp, 200, body);
}

static void setup(void)
{
	const char *top = getenv("top_srcdir");
	char path[1024];
	char *text;
	json_object *sa, *pk;

	fx_log_init("test_gauth", FX_LOG_ERROR + 1);
	snprintf(key_path, sizeof(key_path), "%s/tests/data/service_account.json", top ? top : ".");
	snprintf(path, sizeof(path), "%s/tests/data/service_account.pub.pem", top ? top : ".");
	text = slurp(path);
	sa_public = pem_key(text, false);
	free(text);
	text = slurp(key_path);
	sa = json_tokener_parse(text);
	cr_assert(json_object_object_get_ex(sa, "private_key", &pk));
	sa_private = pem_key(json_object_get_string(pk), true);
	json_object_put(sa);
	free(text);

	google = ts_start();
	snprintf(token_url, sizeof(token_url), "%s/token", ts_url(google));
	conf = (struct google_conf){
		.expires_in = 3599, .metadata_flavor = true, .token_prefix = "ya29.token-", .sign_blob_status = 200};
	memset(&cfg, 0, sizeof(cfg));
	cfg.project = "demo-fluxori";
	cfg.credentials = key_path;
	cfg.token_url = token_url;
	cfg.metadata_url = ts_url(google);
	cfg.iam_credentials_url = ts_url(google);
	cfg.http_timeout_ms = 3000;
	cfg.connect_timeout_ms = 1000;
	fx_config_set(&cfg);
	clock_now = T0;
	fx_gauth_set_clock(fake_now);
	fx_gauth_reset();
	fx_err_clear(&err);
}

static void teardown(void)
{
	fx_gauth_reset();
	fx_gauth_set_clock(NULL);
	ts_stop(google);
	EVP_PKEY_free(sa_public);
	EVP_PKEY_free(sa_private);
}

TestSuite(gauth, .init = setup, .fini = teardown);

static void start_google(void)
{
	ts_handle(google, fake_google, NULL);
}

static int get_header(void)
{
	fx_err_clear(&err);
	return fx_gauth_header(FX_GAUTH_GOOGLE, header, sizeof(header), &err);
}

static void use_metadata_server(void)
{
	cfg.credentials = NULL;
}

/* The assertion of the last token request, split into decoded JSON parts and its signature. */
struct assertion {
	json_object *header, *claims;
	bool signature_ok;
};

static json_object *decode_part(const char *p, size_t n)
{
	char json[4096];
	size_t len;
	struct fx_err e;

	cr_assert_eq(fx_b64_url_decode(p, n, json, sizeof(json) - 1, &len, &e), 0, "%s", e.message);
	json[len] = '\0';
	return json_tokener_parse(json);
}

static struct assertion last_assertion(void)
{
	static struct ts_request req;
	struct assertion a = {0};
	const char *jwt, *d1, *d2;
	unsigned char sig[512];
	size_t sig_len;
	struct fx_err e;

	cr_assert(ts_last(google, &req));
	cr_assert(strncmp(req.body, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=",
			  strlen("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=")) == 0,
		  "form body: %.80s", req.body);
	jwt = strstr(req.body, "&assertion=") + strlen("&assertion=");
	d1 = strchr(jwt, '.');
	d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	cr_assert(d1 && d2, "assertion is not a JWS");
	a.header = decode_part(jwt, (size_t)(d1 - jwt));
	a.claims = decode_part(d1 + 1, (size_t)(d2 - d1 - 1));
	cr_assert_eq(fx_b64_url_decode(d2 + 1, strlen(d2 + 1), sig, sizeof(sig), &sig_len, &e), 0);
	a.signature_ok = rs256_ok(sa_public, jwt, (size_t)(d2 - jwt), sig, sig_len);
	return a;
}

static const char *str(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "(missing)";
}

static long num(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? (long)json_object_get_int64(v) : -1;
}

Test(gauth, key_file_exchanges_its_assertion_for_a_bearer_header)
{
	struct ts_request req;
	char ct[128];

	start_google();
	cr_assert_eq(get_header(), 0, "%s", err.message);
	cr_assert_str_eq(header, "Authorization: Bearer ya29.token-1");
	cr_assert(ts_last(google, &req));
	cr_assert_str_eq(req.method, "POST");
	cr_assert_str_eq(req.path, "/token");
	cr_assert_str_eq(ts_header(&req, "Content-Type", ct, sizeof(ct)), "application/x-www-form-urlencoded");
}

Test(gauth, assertion_is_rs256_signed_with_the_key_file)
{
	struct assertion a;

	start_google();
	cr_assert_eq(get_header(), 0, "%s", err.message);
	a = last_assertion();
	cr_assert(a.signature_ok, "assertion signature does not verify with the account's public key");
	cr_assert_str_eq(str(a.header, "alg"), "RS256");
	cr_assert_str_eq(str(a.header, "kid"), SA_KEY_ID);
	json_object_put(a.header);
	json_object_put(a.claims);
}

Test(gauth, assertion_claims_name_account_scope_endpoint_and_an_hour)
{
	struct assertion a;

	start_google();
	cr_assert_eq(get_header(), 0, "%s", err.message);
	a = last_assertion();
	cr_assert_str_eq(str(a.claims, "iss"), SA_EMAIL);
	cr_assert_str_eq(str(a.claims, "scope"), SCOPE);
	cr_assert_str_eq(str(a.claims, "aud"), token_url);
	cr_assert_eq(num(a.claims, "iat"), T0);
	cr_assert_eq(num(a.claims, "exp"), T0 + 3600);
	json_object_put(a.header);
	json_object_put(a.claims);
}

/* The member names of a JSON object, sorted and comma-joined, so a test can say "exactly these". */
static const char *members(json_object *o, char *out, size_t len)
{
	const char *names[16];
	size_t n = 0, used = 0;

	out[0] = '\0';
	json_object_object_foreach(o, key, val)
	{
		(void)val;
		cr_assert_lt(n, 16);
		names[n++] = key;
	}
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (strcmp(names[j], names[i]) < 0) {
				const char *t = names[i];

				names[i] = names[j];
				names[j] = t;
			}
	for (size_t i = 0; i < n; i++)
		used += (size_t)snprintf(out + used, len - used, "%s%s", i ? "," : "", names[i]);
	cr_assert_lt(used, len);
	return out;
}

static json_type type_of(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_type(v) : json_type_null;
}

/*
 * Everything Google's token endpoint reads from the assertion (PROTOCOLS.md
 * 3.2), and nothing else: header alg RS256, typ JWT, kid the key file's
 * private_key_id; claims iss, scope, aud, iat, exp with their types; the
 * three segments unpadded base64url; an RSA-2048 signature that OpenSSL
 * verifies with the account's public key from tests/data.
 */
Test(gauth, assertion_holds_exactly_googles_header_and_claims_and_verifies_with_openssl)
{
	struct ts_request req;
	struct assertion a;
	char names[256];
	const char *jwt;

	start_google();
	cr_assert_eq(get_header(), 0, "%s", err.message);
	a = last_assertion();
	cr_assert(ts_last(google, &req));
	jwt = strstr(req.body, "&assertion=") + strlen("&assertion=");
	cr_assert_eq(strspn(jwt, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."), strlen(jwt),
		     "assertion is not unpadded base64url: %s", jwt);
	cr_assert_eq(strlen(strrchr(jwt, '.') + 1), 342, "an RSA-2048 signature is 256 bytes, 342 in base64url");
	cr_assert(a.signature_ok, "assertion signature does not verify with the account's public key");
	cr_assert_str_eq(members(a.header, names, sizeof(names)), "alg,kid,typ");
	cr_assert_str_eq(str(a.header, "alg"), "RS256");
	cr_assert_str_eq(str(a.header, "typ"), "JWT");
	cr_assert_str_eq(str(a.header, "kid"), SA_KEY_ID);
	cr_assert_str_eq(members(a.claims, names, sizeof(names)), "aud,exp,iat,iss,scope");
	cr_assert_str_eq(str(a.claims, "iss"), SA_EMAIL);
	cr_assert_str_eq(str(a.claims, "scope"), SCOPE);
	cr_assert_str_eq(str(a.claims, "aud"), token_url);
	cr_assert_eq(type_of(a.claims, "iat"), json_type_int, "iat is a JSON number");
	cr_assert_eq(type_of(a.claims, "exp"), json_type_int, "exp is a JSON number");
	cr_assert_eq(num(a.claims, "iat"), T0);
	cr_assert_eq(num(a.claims, "exp"), T0 + 3600);
	json_object_put(a.header);
	json_object_put(a.claims);
}

Test(gauth, assertion_of_a_key_file_without_private_key_id_has_no_kid)
{
	char path[] = "/tmp/fx-gauth-XXXXXX", names[256];
	char *text = slurp(key_path);
	json_object *sa = json_tokener_parse(text);
	const char *out;
	struct assertion a;
	FILE *f;
	int fd;

	cr_assert(sa);
	json_object_object_del(sa, "private_key_id");
	out = json_object_to_json_string_ext(sa, JSON_C_TO_STRING_PLAIN);
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	f = fdopen(fd, "w");
	cr_assert(f);
	cr_assert_eq(fputs(out, f) >= 0 && fclose(f) == 0, true);
	cfg.credentials = path;
	start_google();
	cr_assert_eq(get_header(), 0, "%s", err.message);
	unlink(path);
	a = last_assertion();
	cr_assert(a.signature_ok);
	cr_assert_str_eq(members(a.header, names, sizeof(names)), "alg,typ");
	json_object_put(a.header);
	json_object_put(a.claims);
	json_object_put(sa);
	free(text);
}

Test(gauth, second_call_uses_the_cached_token)
{
	start_google();
	cr_assert_eq(get_header(), 0, "%s", err.message);
	clock_now = T0 + 1000;
	cr_assert_eq(get_header(), 0, "%s", err.message);
	cr_assert_str_eq(header, "Authorization: Bearer ya29.token-1");
	cr_assert_eq(ts_count(google), 1);
}

Test(gauth, refreshes_when_less_than_five_minutes_are_left)
{
	start_google();
	cr_assert_eq(get_header(), 0, "%s", err.message);
	clock_now = T0 + 3599 - 301;
	cr_assert_eq(get_header(), 0, "%s", err.message);
	cr_assert_str_eq(header, "Authorization: Bearer ya29.token-1", "5 min 1 s left: still cached");
	clock_now = T0 + 3599 - 299;
	cr_assert_eq(get_header(), 0, "%s", err.message);
	cr_assert_str_eq(header, "Authorization: Bearer ya29.token-2");
	cr_assert_eq(ts_count(google), 2);
}

Test(gauth, keeps_using_a_valid_token_when_a_refresh_fails)
{
	start_google();
	cr_assert_eq(get_header(), 0, "%s", err.message);
	ts_handle(google, NULL, NULL);
	ts_reply(google, 500, NULL, "{\"error\":\"internal_failure\"}");
	clock_now = T0 + 3599 - 200;
	cr_assert_eq(get_header(), 0, "%s", err.message);
	cr_assert_str_eq(header, "Authorization: Bearer ya29.token-1");
	cr_assert_gt(ts_count(google), 1, "a refresh was attempted");
}

Test(gauth, answers_503_when_the_token_endpoint_is_down)
{
	ts_down(google, true);
	cr_assert_eq(get_header(), -1);
	cr_assert_eq(fx_err_http(err.kind), 503);
	cr_assert_str_eq(fx_err_name(err.kind), "UNAVAILABLE");
}

Test(gauth, answers_503_when_the_assertion_is_refused)
{
	ts_reply(google, 400, NULL, "{\"error\":\"invalid_grant\",\"error_description\":\"Invalid JWT Signature.\"}");
	cr_assert_eq(get_header(), -1);
	cr_assert_eq(fx_err_http(err.kind), 503);
	cr_assert(strstr(err.message, "HTTP 400 (invalid_grant)"), "%s", err.message);
}

Test(gauth, refuses_a_token_that_would_break_the_header_line)
{
	ts_reply(google, 200, NULL, "{\"access_token\":\"ya29.x\\r\\nX-Injected: 1\",\"expires_in\":3599}");
	cr_assert_eq(get_header(), -1);
	cr_assert_eq(fx_err_http(err.kind), 503);
	cr_assert(!strstr(err.message, "X-Injected"), "%s", err.message);
}

Test(gauth, answers_503_for_an_unreadable_key_file)
{
	cfg.credentials = "/nonexistent/key.json";
	cr_assert_eq(get_header(), -1);
	cr_assert_eq(fx_err_http(err.kind), 503);
	cr_assert(strstr(err.message, "key file"), "%s", err.message);
	cr_assert_eq(ts_count(google), 0, "no silent fallback to the metadata server");
}

Test(gauth, metadata_server_token_is_asked_with_metadata_flavor)
{
	struct ts_request req;
	char flavor[32];

	use_metadata_server();
	start_google();
	cr_assert_eq(get_header(), 0, "%s", err.message);
	cr_assert_str_eq(header, "Authorization: Bearer ya29.token-1");
	cr_assert(ts_last(google, &req));
	cr_assert_str_eq(req.method, "GET");
	cr_assert_str_eq(req.path, TOKEN_PATH);
	cr_assert_str_eq(ts_header(&req, "Metadata-Flavor", flavor, sizeof(flavor)), "Google");
	cr_assert_eq(get_header(), 0, "%s", err.message);
	cr_assert_eq(ts_count(google), 1, "metadata tokens are cached too");
}

Test(gauth, metadata_answer_without_metadata_flavor_is_refused)
{
	use_metadata_server();
	conf.metadata_flavor = false;
	start_google();
	cr_assert_eq(get_header(), -1);
	cr_assert_eq(fx_err_http(err.kind), 503);
	cr_assert(strstr(err.message, "Metadata-Flavor"), "%s", err.message);
}

Test(gauth, emulator_targets_get_owner_without_a_request)
{
	cfg.firestore_emulator = "127.0.0.1:8080";
	cr_assert_eq(fx_gauth_header(FX_GAUTH_FIRESTORE, header, sizeof(header), &err), 0);
	cr_assert_str_eq(header, "Authorization: Bearer owner");
	cr_assert_eq(ts_count(google), 0);
}

Test(gauth, too_small_a_header_buffer_is_an_error_not_a_truncated_token)
{
	char small[30];

	start_google();
	cr_assert_eq(fx_gauth_header(FX_GAUTH_GOOGLE, small, sizeof(small), &err), -1);
	cr_assert_eq(fx_err_http(err.kind), 500);
	cr_assert_eq(small[0], '\0');
}

Test(gauth, sign_with_the_key_file_verifies_with_its_public_key)
{
	const char *data = "GOOG4-RSA-SHA256\n20261124T000000Z\n20261124/auto/storage/goog4_request\nabc";
	unsigned char sig[512];
	size_t sig_len = sizeof(sig);

	cr_assert_eq(fx_gauth_sign(data, strlen(data), sig, &sig_len, &err), 0, "%s", err.message);
	cr_assert_eq(sig_len, 256);
	cr_assert(rs256_ok(sa_public, data, strlen(data), sig, sig_len));
	cr_assert_eq(ts_count(google), 0, "a key file signs locally");
}

Test(gauth, sign_refuses_a_too_small_signature_buffer)
{
	unsigned char sig[128];
	size_t sig_len = sizeof(sig);

	cr_assert_eq(fx_gauth_sign("x", 1, sig, &sig_len, &err), -1);
	cr_assert_eq(fx_err_http(err.kind), 500);
}

Test(gauth, sign_without_a_key_file_uses_sign_blob)
{
	const char *data = "string to sign";
	unsigned char sig[512];
	size_t sig_len = sizeof(sig);
	struct ts_request req;
	char auth[128];

	use_metadata_server();
	start_google();
	cr_assert_eq(fx_gauth_sign(data, strlen(data), sig, &sig_len, &err), 0, "%s", err.message);
	cr_assert(rs256_ok(sa_public, data, strlen(data), sig, sig_len));
	cr_assert(ts_last(google, &req));
	cr_assert_str_eq(req.method, "POST");
	cr_assert_str_eq(req.path, "/v1/projects/-/serviceAccounts/" MD_EMAIL ":signBlob");
	cr_assert_str_eq(ts_header(&req, "Authorization", auth, sizeof(auth)), "Bearer ya29.token-1");
}

Test(gauth, sign_blob_permission_denied_is_an_internal_error)
{
	unsigned char sig[512];
	size_t sig_len = sizeof(sig);

	use_metadata_server();
	conf.sign_blob_status = 403;
	start_google();
	cr_assert_eq(fx_gauth_sign("x", 1, sig, &sig_len, &err), -1);
	cr_assert_eq(fx_err_http(err.kind), 500);
	cr_assert(strstr(err.message, "signBlob"), "%s", err.message);
}

Test(gauth, service_account_comes_from_the_key_file)
{
	char email[256];

	cr_assert_eq(fx_gauth_service_account(email, sizeof(email), &err), 0, "%s", err.message);
	cr_assert_str_eq(email, SA_EMAIL);
	cr_assert_eq(ts_count(google), 0);
}

Test(gauth, service_account_comes_from_the_metadata_server_once)
{
	char email[256];

	use_metadata_server();
	start_google();
	cr_assert_eq(fx_gauth_service_account(email, sizeof(email), &err), 0, "%s", err.message);
	cr_assert_str_eq(email, MD_EMAIL);
	cr_assert_eq(fx_gauth_service_account(email, sizeof(email), &err), 0, "%s", err.message);
	cr_assert_eq(ts_count(google), 1);
}

static void *header_in_thread(void *arg)
{
	char *out = arg;
	struct fx_err e;

	fx_err_clear(&e);
	return (void *)(long)fx_gauth_header(FX_GAUTH_GOOGLE, out, FX_GAUTH_HEADER_MAX, &e);
}

Test(gauth, sixteen_threads_share_one_token_request)
{
	static char out[16][FX_GAUTH_HEADER_MAX];
	pthread_t th[16];

	start_google();
	for (int i = 0; i < 16; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, header_in_thread, out[i]), 0);
	for (int i = 0; i < 16; i++) {
		void *rc;

		pthread_join(th[i], &rc);
		cr_assert_eq((long)rc, 0, "thread %d got no token", i);
		cr_assert_str_eq(out[i], "Authorization: Bearer ya29.token-1");
	}
	cr_assert_eq(ts_count(google), 1);
}
