/*
 * The production token path through nginx: a worker instance that
 * verifies Firebase ID tokens as on Google (RS256, keys fetched from a
 * certificate endpoint with Cache-Control), served here by a local server
 * with the test signer's certificate. Tokens are minted with the test key.
 */
#include "b64.h"
#include "buf.h"
#include "client.h"
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
static pid_t api;
static char run[] = "/tmp/fluxori-rs.XXXXXX";
static char base[64];

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *p = calloc(1, 65536);

	cr_assert_not_null(f, "%s", path);
	fread(p, 1, 65535, f);
	fclose(f);
	return p;
}

static char *data_path(const char *name)
{
	static __thread char path[512];

	snprintf(path, sizeof(path), "%s/tests/data/%s", getenv("FLUXORI_SRCDIR"), name);
	return path;
}

static int free_port(void)
{
	char cmd[64];
	int port;

	for (;;) {
		port = 20000 + rand() % 12000;
		snprintf(cmd, sizeof(cmd), "exec 3<>/dev/tcp/127.0.0.1/%d", port);
		if (test_sh("bash -c '%s' 2>/dev/null", cmd) != 0)
			return port;
	}
}

static long status_of(const char *url)
{
	struct http_resp *r = http_url("GET", url, NULL, NULL, 0);
	long s = r->status;

	http_resp_free(r);
	return s;
}

static void setup(void)
{
	char env_path[300], body[8192], *cert = slurp(data_path("signer1.cert.pem")), url[128];
	struct fx_buf json;
	FILE *env;
	int port;

	srand((unsigned)getpid());
	cr_assert_not_null(mkdtemp(run));
	certs = ts_start();
	fx_buf_init(&json, sizeof(body));
	fx_buf_puts(&json, "{\"kid1\":");
	fx_buf_json_string(&json, cert, strlen(cert));
	fx_buf_puts(&json, "}");
	ts_reply(certs, 200, "Cache-Control: public, max-age=3600\r\nContent-Type: application/json\r\n", json.data);
	fx_buf_cleanup(&json);
	free(cert);

	snprintf(env_path, sizeof(env_path), "%s/env", run);
	env = fopen(env_path, "w");
	fprintf(env,
		"GOOGLE_CLOUD_PROJECT=demo-fluxori\nFIRESTORE_EMULATOR_HOST=127.0.0.1:%s\n"
		"FIREBASE_AUTH_EMULATOR_HOST=127.0.0.1:%s\nFLUXORI_AUTH_EMULATOR_TOKENS=false\n"
		"FLUXORI_FIREBASE_KEYS_URL=%s/certs\nFLUXORI_LOG_LEVEL=WARNING\n",
		test_env("FLUXORI_FIRESTORE_PORT"), test_env("FLUXORI_AUTH_PORT"), ts_url(certs));
	fclose(env);
	port = free_port();
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
	api = fork();
	if (api == 0) {
		char log[320], listen_at[64], cmd[400];

		snprintf(log, sizeof(log), "%s/api.log", run);
		freopen(log, "w", stderr);
		snprintf(listen_at, sizeof(listen_at), "127.0.0.1:%d", port);
		setenv("FLUXORI_RUN_DIR", run, 1);
		setenv("FLUXORI_ENV_FILE", env_path, 1);
		setenv("FLUXORI_LISTEN", listen_at, 1);
		snprintf(cmd, sizeof(cmd), "%s/scripts/entrypoint", getenv("FLUXORI_SRCDIR"));
		execl(cmd, cmd, (char *)NULL);
		_exit(127);
	}
	snprintf(url, sizeof(url), "%s/health", base);
	for (int i = 0; i < 200 && status_of(url) != 200; i++)
		usleep(50 * 1000);
}

static void teardown(void)
{
	int status;

	if (api > 0) {
		kill(api, SIGTERM);
		waitpid(api, &status, 0);
	}
	ts_stop(certs);
	test_sh("rm -rf '%s'", run);
}

TestSuite(rs256, .init = setup, .fini = teardown, .timeout = 60);

enum alg { RS256_SIGNER1, RS256_SIGNER2, HS256_PUBLIC_KEY, NONE };

/* A Firebase-shaped ID token for uid, signed as alg says. */
static char *mint(enum alg alg, const char *uid)
{
	struct fx_buf tok, payload;
	const char *header = alg == HS256_PUBLIC_KEY ? "{\"alg\":\"HS256\",\"kid\":\"kid1\",\"typ\":\"JWT\"}"
			     : alg == NONE		 ? "{\"alg\":\"none\",\"typ\":\"JWT\"}"
							 : "{\"alg\":\"RS256\",\"kid\":\"kid1\",\"typ\":\"JWT\"}";
	unsigned char sig[1024];
	size_t sig_len = sizeof(sig);
	long now = (long)time(NULL);

	fx_buf_init(&tok, 1 << 16);
	fx_buf_init(&payload, 4096);
	fx_buf_printf(&payload,
		      "{\"iss\":\"https://securetoken.google.com/demo-fluxori\",\"aud\":\"demo-fluxori\",\"sub\":\"%s\","
		      "\"auth_time\":%ld,\"iat\":%ld,\"exp\":%ld,\"email\":\"%s@example.co.za\"}",
		      uid, now - 10, now - 10, now + 3600, uid);
	fx_b64url_append(&tok, header, strlen(header));
	fx_buf_puts(&tok, ".");
	fx_b64url_append(&tok, payload.data, payload.len);
	if (alg == RS256_SIGNER1 || alg == RS256_SIGNER2) {
		char *pem = slurp(data_path(alg == RS256_SIGNER1 ? "signer1.key.pem" : "signer2.key.pem"));
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
		char *pub = slurp(data_path("signer1.cert.pem"));
		unsigned int n = 0;

		HMAC(EVP_sha256(), pub, (int)strlen(pub), (const unsigned char *)tok.data, tok.len, sig, &n);
		sig_len = n;
		free(pub);
	} else {
		sig_len = 0;
	}
	fx_buf_puts(&tok, ".");
	if (sig_len)
		fx_b64url_append(&tok, sig, sig_len);
	fx_buf_cleanup(&payload);
	return fx_buf_take(&tok);
}

static struct http_resp *me(const char *token)
{
	char url[128], auth[8192];
	const char *h[] = {auth, NULL};

	snprintf(url, sizeof(url), "%s/v1/users/me", base);
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

	snprintf(url, sizeof(url), "%s/health/ready", base);
	r = http_url("GET", url, NULL, NULL, 0);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "tokenKeys"), "ok");
	http_resp_free(r);
}
