#include "gauth.h"

#include "b64.h"
#include "buf.h"
#include "config.h"
#include "defaults.h"
#include "httpc.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "str.h"

#include <errno.h>
#include <fcntl.h>
#include <jwt.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define SCOPE "https://www.googleapis.com/auth/cloud-platform"
#define GRANT_TYPE "urn:ietf:params:oauth:grant-type:jwt-bearer"
#define ASSERTION_LIFETIME_S 3600
#define REFRESH_MARGIN_S 300 /* google-auth-library-nodejs eager refresh threshold */
#define USE_MARGIN_S 30 /* never hand out a token closer than this to expiry */
#define MIN_REFRESH_INTERVAL_S 10 /* at most one refresh per interval while a token is usable */
#define KEY_FILE_MAX (64 * 1024)
#define MAX_EMAIL 254
#define MAX_SIGN_INPUT (64 * 1024)
#define TOKEN_ANSWER_MAX (64 * 1024)
#define METADATA_TOKEN_PATH "/computeMetadata/v1/instance/service-accounts/default/token"
#define METADATA_EMAIL_PATH "/computeMetadata/v1/instance/service-accounts/default/email"

typedef time_t (*clock_fn)(void);
static _Atomic(clock_fn) clock_override;

/*
 * Process-wide state under mu. The key file is loaded once and then only
 * read (sa_key is safe for concurrent signing), so signers use it without
 * the lock.
 */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool sa_loaded;
	EVP_PKEY *sa_key;
	char sa_email[MAX_EMAIL + 1];
	char sa_key_id[128];
	char sa_token_uri[512];
	char token[FX_GAUTH_MAX_TOKEN + 1];
	time_t token_exp; /* 0: no token */
	time_t next_try; /* no refresh before this while the token is usable */
	bool refreshing;
	char last_error[200];
	char md_email[MAX_EMAIL + 1];
} g = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

void fx_gauth_set_clock(time_t (*now)(void))
{
	atomic_store(&clock_override, now);
}

static time_t now_s(void)
{
	clock_fn f = atomic_load(&clock_override);

	return f ? f() : time(NULL);
}

void fx_gauth_reset(void)
{
	pthread_mutex_lock(&g.mu);
	EVP_PKEY_free(g.sa_key);
	g.sa_key = NULL;
	g.sa_loaded = false;
	g.sa_email[0] = g.sa_key_id[0] = g.sa_token_uri[0] = '\0';
	OPENSSL_cleanse(g.token, sizeof(g.token));
	g.token_exp = g.next_try = 0;
	g.last_error[0] = g.md_email[0] = '\0';
	pthread_mutex_unlock(&g.mu);
}

static bool emulated(const struct fx_config *c, enum fx_gauth_target target)
{
	switch (target) {
	case FX_GAUTH_FIRESTORE: return c->firestore_emulator != NULL;
	case FX_GAUTH_IDENTITY: return c->auth_emulator != NULL;
	case FX_GAUTH_STORAGE: return c->storage_emulator != NULL;
	default: return false;
	}
}

/* Copies string member key of obj (min..max bytes) into out; -1 with why when absent or out of bounds. */
static int copy_field(json_object *obj, const char *key, size_t min, size_t max, char *out, size_t out_len, char *why,
		      size_t why_len)
{
	json_object *v;
	size_t n;

	out[0] = '\0';
	if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string)) {
		if (min == 0)
			return 0;
		fx_str_text(why, why_len, "has no string %s", key);
		return -1;
	}
	n = (size_t)json_object_get_string_len(v);
	if (n < min || n > max || fx_str_copy(out, out_len, json_object_get_string(v), n) < 0) {
		fx_str_text(why, why_len, "has a %s of %zu bytes (allowed %zu..%zu)", key, n, min, max);
		return -1;
	}
	return 0;
}

/* Reads path (at most KEY_FILE_MAX bytes) into a NUL-terminated heap buffer. */
static char *read_small_file(const char *path, size_t *len, char *why, size_t why_len)
{
	struct stat st;
	char *data = NULL;
	size_t have = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		fx_str_text(why, why_len, "cannot open: %s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size > KEY_FILE_MAX) {
		fx_str_text(why, why_len, "is not a regular file of 1..%d bytes", KEY_FILE_MAX);
		close(fd);
		return NULL;
	}
	data = fx_mem_xmalloc((size_t)st.st_size + 1);
	while (have < (size_t)st.st_size) {
		ssize_t r = read(fd, data + have, (size_t)st.st_size - have);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		have += (size_t)r;
	}
	close(fd);
	data[have] = '\0';
	*len = have;
	return data;
}

/* Loads the service-account key file named by config credentials; called with g.mu held. */
static int load_key_file(const char *path, struct fx_err *e)
{
	char why[160] = "", *data;
	size_t len = 0;
	json_object *root = NULL, *v;
	struct fx_err je;
	BIO *bio = NULL;
	EVP_PKEY *k = NULL;
	int rc = -1;

	fx_err_clear(&je);
	data = read_small_file(path, &len, why, sizeof(why));
	if (!data)
		goto out;
	if (fx_json_parse(data, len, 4, &root, &je) < 0 || !json_object_is_type(root, json_type_object)) {
		fx_str_text(why, sizeof(why), "is not a JSON object");
		goto out;
	}
	if (!json_object_object_get_ex(root, "type", &v) || !json_object_is_type(v, json_type_string) ||
	    strcmp(json_object_get_string(v), "service_account") != 0) {
		fx_str_text(why, sizeof(why), "is not a service_account key");
		goto out;
	}
	if (copy_field(root, "client_email", 3, MAX_EMAIL, g.sa_email, sizeof(g.sa_email), why, sizeof(why)) < 0 ||
	    copy_field(root, "private_key_id", 0, sizeof(g.sa_key_id) - 1, g.sa_key_id, sizeof(g.sa_key_id), why,
		       sizeof(why)) < 0 ||
	    copy_field(root, "token_uri", 0, sizeof(g.sa_token_uri) - 1, g.sa_token_uri, sizeof(g.sa_token_uri), why,
		       sizeof(why)) < 0)
		goto out;
	if (!json_object_object_get_ex(root, "private_key", &v) || !json_object_is_type(v, json_type_string)) {
		fx_str_text(why, sizeof(why), "has no private_key");
		goto out;
	}
	bio = BIO_new_mem_buf(json_object_get_string(v), json_object_get_string_len(v));
	k = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	/* The key's text must not outlive the parse. */
	OPENSSL_cleanse((char *)json_object_get_string(v), (size_t)json_object_get_string_len(v));
	if (!k || EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA || EVP_PKEY_get_bits(k) < 2048) {
		fx_str_text(why, sizeof(why), "has a private_key that is not a PEM RSA-2048+ key");
		goto out;
	}
	g.sa_key = k;
	k = NULL;
	g.sa_loaded = true;
	rc = 0;
out:
	if (rc < 0) {
		g.sa_email[0] = g.sa_key_id[0] = g.sa_token_uri[0] = '\0';
		fx_err_set(e, FX_UNAVAILABLE, "service-account key file %s", why);
	}
	EVP_PKEY_free(k);
	BIO_free(bio);
	ERR_clear_error();
	json_object_put(root);
	if (data)
		OPENSSL_cleanse(data, len);
	free(data);
	return rc;
}

/* The loaded key file, loading it on first use; NULL (no error) when credentials is unset. */
static int key_file(const struct fx_config *cfg, bool *have, struct fx_err *e)
{
	int rc = 0;

	*have = false;
	if (!cfg->credentials)
		return 0;
	pthread_mutex_lock(&g.mu);
	if (!g.sa_loaded)
		rc = load_key_file(cfg->credentials, e);
	pthread_mutex_unlock(&g.mu);
	*have = rc == 0;
	return rc;
}

/* RSASSA-PKCS1-v1_5 SHA-256 of data with k into sig (capacity *sig_len). */
static int rsa_sign(EVP_PKEY *k, const void *data, size_t n, unsigned char *sig, size_t *sig_len, struct fx_err *e)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t need = 0;
	int rc = -1;

	if (!ctx || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k) != 1 ||
	    EVP_DigestSign(ctx, NULL, &need, data, n) != 1) {
		fx_err_set(e, FX_INTERNAL, "RSA signing setup failed");
		goto out;
	}
	if (need > *sig_len) {
		fx_err_set(e, FX_INTERNAL, "signature needs %zu bytes, buffer has %zu", need, *sig_len);
		goto out;
	}
	if (EVP_DigestSign(ctx, sig, sig_len, data, n) != 1) {
		fx_err_set(e, FX_INTERNAL, "RSA signing failed");
		goto out;
	}
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

/*
 * Appends the signed JWT assertion for the token endpoint aud to b
 * (PROTOCOLS.md 3.2): header alg RS256, typ JWT, kid the key file's
 * private_key_id; claims iss, scope, aud, iat, exp. libjwt builds and signs
 * it. It takes keys only as PEM text, so the key is written out for it here,
 * once per token refresh, and cleansed after; jwt_free scrubs libjwt's copy.
 */
static int build_assertion(struct fx_buf *b, const char *aud, time_t iat, struct fx_err *e)
{
	BIO *pem = BIO_new(BIO_s_mem());
	char *key = NULL, *jws = NULL;
	long key_len = 0;
	jwt_t *jwt = NULL;
	int rc = -1, jr;

	if (!pem || PEM_write_bio_PrivateKey(pem, g.sa_key, NULL, NULL, 0, NULL, NULL) != 1 ||
	    (key_len = BIO_get_mem_data(pem, &key)) <= 0 || key_len > INT_MAX) {
		fx_err_set(e, FX_INTERNAL, "service-account key cannot be written as PEM");
		goto out;
	}
	if ((jr = jwt_new(&jwt)) != 0 ||
	    (jr = jwt_set_alg(jwt, JWT_ALG_RS256, (const unsigned char *)key, (int)key_len)) != 0 ||
	    (jr = jwt_add_header(jwt, "typ", "JWT")) != 0 ||
	    (g.sa_key_id[0] && (jr = jwt_add_header(jwt, "kid", g.sa_key_id)) != 0) ||
	    (jr = jwt_add_grant(jwt, "iss", g.sa_email)) != 0 || (jr = jwt_add_grant(jwt, "scope", SCOPE)) != 0 ||
	    (jr = jwt_add_grant(jwt, "aud", aud)) != 0 || (jr = jwt_add_grant_int(jwt, "iat", (long)iat)) != 0 ||
	    (jr = jwt_add_grant_int(jwt, "exp", (long)iat + ASSERTION_LIFETIME_S)) != 0) {
		fx_err_set(e, FX_INTERNAL, "token assertion cannot be built: %s", strerror(jr));
		goto out;
	}
	jws = jwt_encode_str(jwt);
	if (!jws) {
		fx_err_set(e, FX_INTERNAL, "token assertion cannot be signed: %s", strerror(errno));
		goto out;
	}
	if (fx_buf_puts(b, jws) < 0) {
		fx_err_set(e, FX_INTERNAL, "token assertion exceeds its bound");
		goto out;
	}
	rc = 0;
out:
	/* A signed assertion is worth an access token for an hour. */
	if (jws)
		OPENSSL_cleanse(jws, strlen(jws));
	free(jws);
	jwt_free(jwt);
	if (key_len > 0)
		OPENSSL_cleanse(key, (size_t)key_len);
	BIO_free(pem);
	ERR_clear_error();
	return rc;
}

/* Reads {access_token, expires_in} from a token answer; -1 with why. */
static int parse_token(const struct fx_httpc_resp *resp, char *token, long *expires_in, char *why, size_t why_len)
{
	json_object *root = NULL, *v;
	struct fx_err je;
	int64_t exp_in;
	int rc = -1;

	fx_err_clear(&je);
	if (fx_json_parse(resp->body.data, resp->body.len, 8, &root, &je) < 0 ||
	    !json_object_is_type(root, json_type_object)) {
		fx_str_text(why, why_len, "answer is not a JSON object");
		goto out;
	}
	if (copy_field(root, "access_token", 1, FX_GAUTH_MAX_TOKEN, token, FX_GAUTH_MAX_TOKEN + 1, why, why_len) < 0)
		goto out;
	/* The token goes into a header line: printable ASCII without spaces only. */
	for (const char *p = token; *p; p++)
		if (*p < 0x21 || *p > 0x7e) {
			fx_str_text(why, why_len,
				    "answer holds an access_token with characters not allowed in a header");
			goto out;
		}
	if (json_object_object_get_ex(root, "token_type", &v) &&
	    (!json_object_is_type(v, json_type_string) || strcasecmp(json_object_get_string(v), "Bearer") != 0)) {
		fx_str_text(why, why_len, "answer has a token_type other than Bearer");
		goto out;
	}
	if (!json_object_object_get_ex(root, "expires_in", &v) || !json_object_is_type(v, json_type_int)) {
		fx_str_text(why, why_len, "answer has no integer expires_in");
		goto out;
	}
	exp_in = json_object_get_int64(v);
	if (exp_in <= USE_MARGIN_S || exp_in > 86400) {
		fx_str_text(why, why_len, "answer has expires_in %lld outside %d..86400", (long long)exp_in,
			    USE_MARGIN_S + 1);
		goto out;
	}
	*expires_in = (long)exp_in;
	rc = 0;
out:
	if (rc < 0)
		OPENSSL_cleanse(token, FX_GAUTH_MAX_TOKEN + 1);
	json_object_put(root);
	return rc;
}

/* "HTTP n" plus Google's short OAuth error code when the body carries one. */
static void describe_failure(const struct fx_httpc_resp *resp, const char *what, char *why, size_t why_len)
{
	json_object *root = NULL, *v;
	const char *code = NULL;
	struct fx_err je;

	fx_err_clear(&je);
	if (resp->body.len && fx_json_parse(resp->body.data, resp->body.len, 8, &root, &je) == 0 &&
	    json_object_is_type(root, json_type_object) && json_object_object_get_ex(root, "error", &v) &&
	    json_object_is_type(v, json_type_string) && json_object_get_string_len(v) <= 64)
		code = json_object_get_string(v);
	fx_str_text(why, why_len, "%s answered HTTP %ld%s%s%s", what, resp->status, code ? " (" : "", code ? code : "",
		    code ? ")" : "");
	json_object_put(root);
}

/* Whether the answer carries Metadata-Flavor: Google, as only the real metadata server's does. */
static bool from_metadata_server(const struct fx_httpc_resp *resp)
{
	char flavor[32];

	return fx_httpc_header(resp, "Metadata-Flavor", flavor, sizeof(flavor)) && strcmp(flavor, "Google") == 0;
}

/* Fetches a fresh token without holding g.mu; -1 with why. */
static int fetch_token(const struct fx_config *cfg, bool keyfile, char *token, long *expires_in, char *why,
		       size_t why_len)
{
	struct fx_httpc_req req = {
		.timeout_ms = FX_TOKEN_CALL_TIMEOUT_MS,
		.max_response = TOKEN_ANSWER_MAX,
		.retry = FX_RETRY_IDEMPOTENT,
		.max_attempts = FX_TOKEN_CALL_ATTEMPTS,
	};
	struct fx_httpc_resp resp;
	struct fx_buf url, body;
	struct fx_err e;
	const char *headers[2] = {NULL, NULL};
	int rc = -1;

	fx_err_clear(&e);
	fx_httpc_resp_init(&resp);
	fx_buf_init(&url, 2048);
	fx_buf_init(&body, 16384);
	if (keyfile) {
		const char *aud = cfg->token_url ? cfg->token_url : g.sa_token_uri;

		if (!aud || !*aud) {
			fx_str_text(why, why_len, "no token endpoint configured");
			goto out;
		}
		if (fx_buf_puts(&body, "grant_type=") < 0 ||
		    fx_httpc_url_encode(&body, GRANT_TYPE, strlen(GRANT_TYPE)) < 0 ||
		    fx_buf_puts(&body, "&assertion=") < 0 || build_assertion(&body, aud, now_s(), &e) < 0) {
			fx_str_text(why, why_len, "%.190s", e.message);
			goto out;
		}
		headers[0] = "Content-Type: application/x-www-form-urlencoded";
		req.method = "POST";
		req.url = aud;
		req.body = body.data;
		req.body_len = body.len;
		req.service = "oauth2";
	} else {
		if (!cfg->metadata_url || fx_buf_printf(&url, "%s" METADATA_TOKEN_PATH, cfg->metadata_url) < 0) {
			fx_str_text(why, why_len, "no usable metadata server URL configured");
			goto out;
		}
		headers[0] = "Metadata-Flavor: Google";
		req.url = url.data;
		req.service = "metadata";
	}
	req.headers = headers;
	if (fx_httpc_do(&req, &resp, &e) < 0) {
		fx_str_text(why, why_len, "%.190s", e.message);
		goto out;
	}
	if (resp.status != 200) {
		describe_failure(&resp, keyfile ? "token endpoint" : "metadata server", why, why_len);
		goto out;
	}
	if (!keyfile && !from_metadata_server(&resp)) {
		fx_str_text(why, why_len, "metadata server answer lacks Metadata-Flavor: Google");
		goto out;
	}
	rc = parse_token(&resp, token, expires_in, why, why_len);
out:
	if (body.data)
		OPENSSL_cleanse(body.data, body.len);
	if (resp.body.data)
		OPENSSL_cleanse(resp.body.data, resp.body.len);
	fx_buf_cleanup(&body);
	fx_buf_cleanup(&url);
	fx_httpc_resp_cleanup(&resp);
	return rc;
}

/*
 * Copies a usable access token into out (FX_GAUTH_MAX_TOKEN + 1 bytes).
 * Refreshes when less than REFRESH_MARGIN_S are left; one thread refreshes
 * while the others use the still-valid token, or wait when there is none.
 */
static int get_token(const struct fx_config *cfg, char out[FX_GAUTH_MAX_TOKEN + 1], struct fx_err *e)
{
	char fresh[FX_GAUTH_MAX_TOKEN + 1], why[sizeof(g.last_error)];
	bool keyfile, attempted = false;
	long expires_in = 0;
	int rc = -1;

	if (key_file(cfg, &keyfile, e) < 0)
		return -1;
	pthread_mutex_lock(&g.mu);
	for (;;) {
		time_t now = now_s();
		bool usable = g.token_exp && now < g.token_exp - USE_MARGIN_S;

		if (usable && (g.token_exp - now > REFRESH_MARGIN_S || g.refreshing || now < g.next_try)) {
			rc = fx_str_set(out, FX_GAUTH_MAX_TOKEN + 1, g.token) < 0
				     ? fx_err_set(e, FX_INTERNAL, "access token over %d bytes", FX_GAUTH_MAX_TOKEN)
				     : 0;
			break;
		}
		if (!usable && g.refreshing) {
			while (g.refreshing) /* another thread is asking Google */
				pthread_cond_wait(&g.cv, &g.mu);
			attempted = true;
			continue;
		}
		if (!usable && attempted) {
			rc = fx_err_set(e, FX_UNAVAILABLE, "no Google access token: %s",
					g.last_error[0] ? g.last_error : "refresh failed");
			break;
		}
		g.refreshing = true;
		pthread_mutex_unlock(&g.mu);
		rc = fetch_token(cfg, keyfile, fresh, &expires_in, why, sizeof(why));
		now = now_s();
		pthread_mutex_lock(&g.mu);
		g.refreshing = false;
		g.next_try = now + MIN_REFRESH_INTERVAL_S;
		if (rc == 0) {
			FX_ARRAY_COPY(g.token, fresh);
			g.token_exp = now + expires_in;
			g.last_error[0] = '\0';
		} else {
			FX_ARRAY_COPY(g.last_error, why);
			if (g.token_exp && now < g.token_exp - USE_MARGIN_S)
				fx_log_warn("Google access token refresh failed (%s): using the current one", why);
			else
				fx_log_error("Google access token unavailable: %s", why);
		}
		pthread_cond_broadcast(&g.cv);
		attempted = true;
		rc = -1;
	}
	pthread_mutex_unlock(&g.mu);
	OPENSSL_cleanse(fresh, sizeof(fresh));
	return rc;
}

/* The header did not fit out: nothing of the token is left in it. */
static int header_too_long(char *out, size_t out_len, struct fx_err *e)
{
	if (out_len)
		OPENSSL_cleanse(out, out_len);
	return fx_err_set(e, FX_INTERNAL, "authorization header does not fit %zu bytes", out_len);
}

/*
 * The header with Google's access token. Not inlined: its buffers (the
 * token, and get_token's fresh one) would otherwise be in the frame of
 * every call to fx_gauth_header, emulated or not; with
 * -fstack-clash-protection every page of a frame is touched, so every
 * worker thread kept ~13 KiB more stack resident than its path used.
 */
static __attribute__((noinline)) int token_header(const struct fx_config *cfg, char *out, size_t out_len,
						  struct fx_err *e)
{
	char token[FX_GAUTH_MAX_TOKEN + 1];
	int rc;

	if (get_token(cfg, token, e) < 0)
		return -1;
	rc = fx_str_fmt(out, out_len, "Authorization: Bearer %s", token);
	OPENSSL_cleanse(token, sizeof(token));
	return rc < 0 ? header_too_long(out, out_len, e) : 0;
}

int fx_gauth_header(enum fx_gauth_target target, char *out, size_t out_len, struct fx_err *e)
{
	const struct fx_config *cfg = fx_config_get();

	if (!cfg)
		return fx_err_set(e, FX_UNAVAILABLE, "configuration is not loaded");
	if (!emulated(cfg, target))
		return token_header(cfg, out, out_len, e);
	if (fx_str_set(out, out_len, "Authorization: Bearer owner") < 0)
		return header_too_long(out, out_len, e);
	return 0;
}

/* The metadata server's default service account email (fetched without g.mu). */
static int metadata_email(const struct fx_config *cfg, char *out, size_t out_len, struct fx_err *e)
{
	const char *headers[] = {"Metadata-Flavor: Google", NULL};
	struct fx_httpc_req req = {
		.headers = headers,
		.timeout_ms = FX_TOKEN_CALL_TIMEOUT_MS,
		.max_response = 1024,
		.retry = FX_RETRY_IDEMPOTENT,
		.max_attempts = FX_TOKEN_CALL_ATTEMPTS,
		.service = "metadata",
	};
	struct fx_httpc_resp resp;
	struct fx_buf url;
	char why[160];
	size_t n;
	int rc = -1;

	fx_buf_init(&url, 2048);
	fx_httpc_resp_init(&resp);
	if (!cfg->metadata_url || fx_buf_printf(&url, "%s" METADATA_EMAIL_PATH, cfg->metadata_url) < 0) {
		fx_err_set(e, FX_UNAVAILABLE, "no usable metadata server URL configured");
		goto out;
	}
	req.url = url.data;
	if (fx_httpc_do(&req, &resp, e) < 0)
		goto out;
	if (resp.status != 200) {
		describe_failure(&resp, "metadata server", why, sizeof(why));
		fx_err_set(e, FX_UNAVAILABLE, "service account email unavailable: %s", why);
		goto out;
	}
	if (!from_metadata_server(&resp)) {
		fx_err_set(e, FX_UNAVAILABLE, "metadata server answer lacks Metadata-Flavor: Google");
		goto out;
	}
	n = resp.body.len;
	while (n && (resp.body.data[n - 1] == '\n' || resp.body.data[n - 1] == '\r'))
		n--;
	if (n < 3 || n > MAX_EMAIL || !memchr(resp.body.data, '@', n)) {
		fx_err_set(e, FX_UNAVAILABLE, "metadata server answered an email of unexpected shape");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (resp.body.data[i] < 0x21 || resp.body.data[i] > 0x7e) {
			fx_err_set(e, FX_UNAVAILABLE, "metadata server answered an email of unexpected shape");
			goto out;
		}
	if (fx_str_copy(out, out_len, resp.body.data, n) < 0) {
		fx_err_set(e, FX_INTERNAL, "service account email needs %zu bytes, buffer has %zu", n + 1, out_len);
		goto out;
	}
	rc = 0;
out:
	fx_httpc_resp_cleanup(&resp);
	fx_buf_cleanup(&url);
	return rc;
}

int fx_gauth_service_account(char *email, size_t len, struct fx_err *e)
{
	const struct fx_config *cfg = fx_config_get();
	char fetched[MAX_EMAIL + 1];
	bool keyfile;
	int rc = 0;

	if (!cfg)
		return fx_err_set(e, FX_UNAVAILABLE, "configuration is not loaded");
	if (key_file(cfg, &keyfile, e) < 0)
		return -1;
	pthread_mutex_lock(&g.mu);
	if (keyfile)
		FX_ARRAY_COPY(fetched, g.sa_email);
	else
		FX_ARRAY_COPY(fetched, g.md_email);
	pthread_mutex_unlock(&g.mu);
	if (!fetched[0]) {
		if (metadata_email(cfg, fetched, sizeof(fetched), e) < 0)
			return -1;
		pthread_mutex_lock(&g.mu);
		FX_ARRAY_COPY(g.md_email, fetched);
		pthread_mutex_unlock(&g.mu);
	}
	if (fx_str_set(email, len, fetched) < 0)
		rc = fx_err_set(e, FX_INTERNAL, "service account email needs %zu bytes, buffer has %zu",
				strlen(fetched) + 1, len);
	return rc;
}

/* IAM Credentials signBlob (PROTOCOLS.md §5.2). */
static int sign_blob(const struct fx_config *cfg, const char *data, size_t n, unsigned char *sig, size_t *sig_len,
		     struct fx_err *e)
{
	char email[MAX_EMAIL + 1], auth[FX_GAUTH_HEADER_MAX];
	const char *headers[] = {auth, "Content-Type: application/json", NULL};
	struct fx_httpc_req req = {
		.method = "POST",
		.headers = headers,
		.max_response = 64 * 1024,
		.retry = FX_RETRY_IDEMPOTENT,
		.service = "iamcredentials",
	};
	struct fx_httpc_resp resp;
	struct fx_buf url, body;
	json_object *root = NULL, *v;
	struct fx_err je;
	char why[sizeof(e->message)];
	int rc = -1;

	fx_err_clear(&je);
	fx_buf_init(&url, 2048);
	fx_buf_init(&body, MAX_SIGN_INPUT / 3 * 4 + 64);
	fx_httpc_resp_init(&resp);
	if (fx_gauth_service_account(email, sizeof(email), e) < 0 ||
	    fx_gauth_header(FX_GAUTH_GOOGLE, auth, sizeof(auth), e) < 0)
		goto out;
	/* The email goes into the path as is ("@" is a path character), as Google's clients send it. */
	if (strspn(email, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@.-_+") != strlen(email)) {
		fx_err_set(e, FX_INTERNAL, "service account email has characters not allowed in a URL path");
		goto out;
	}
	if (!cfg->iam_credentials_url ||
	    fx_buf_printf(&url, "%s/v1/projects/-/serviceAccounts/%s:signBlob", cfg->iam_credentials_url, email) < 0) {
		fx_err_set(e, FX_INTERNAL, "no usable IAM Credentials URL configured");
		goto out;
	}
	if (fx_buf_puts(&body, "{\"payload\":\"") < 0 || fx_b64_append(&body, data, n) < 0 ||
	    fx_buf_puts(&body, "\"}") < 0) {
		fx_err_set(e, FX_INTERNAL, "signBlob request exceeds its bound");
		goto out;
	}
	req.url = url.data;
	req.body = body.data;
	req.body_len = body.len;
	if (fx_httpc_do(&req, &resp, e) < 0)
		goto out;
	if (resp.status != 200) {
		fx_httpc_google_error(&resp, "IAM Credentials signBlob", e);
		FX_ARRAY_COPY(why, e->message);
		/* Our own credentials failing is the server's problem, not the caller's. */
		fx_err_set(e, resp.status == 429 || resp.status >= 500 ? FX_UNAVAILABLE : FX_INTERNAL, "%s", why);
		goto out;
	}
	if (fx_json_parse(resp.body.data, resp.body.len, 4, &root, &je) < 0 ||
	    !json_object_is_type(root, json_type_object) || !json_object_object_get_ex(root, "signedBlob", &v) ||
	    !json_object_is_type(v, json_type_string)) {
		fx_err_set(e, FX_UNAVAILABLE, "signBlob answer has no signedBlob");
		goto out;
	}
	if (fx_b64_decode(json_object_get_string(v), (size_t)json_object_get_string_len(v), sig, *sig_len, sig_len,
			  &je) < 0) {
		fx_err_set(e, FX_INTERNAL, "signBlob signedBlob unusable: %s", je.message);
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(auth, sizeof(auth));
	json_object_put(root);
	fx_httpc_resp_cleanup(&resp);
	fx_buf_cleanup(&body);
	fx_buf_cleanup(&url);
	return rc;
}

int fx_gauth_sign(const char *data, size_t n, unsigned char *sig, size_t *sig_len, struct fx_err *e)
{
	const struct fx_config *cfg = fx_config_get();
	bool keyfile;

	if (!cfg)
		return fx_err_set(e, FX_UNAVAILABLE, "configuration is not loaded");
	if (n > MAX_SIGN_INPUT)
		return fx_err_set(e, FX_INVALID_ARGUMENT, "data to sign exceeds %d bytes", MAX_SIGN_INPUT);
	if (key_file(cfg, &keyfile, e) < 0)
		return -1;
	if (keyfile)
		return rsa_sign(g.sa_key, data, n, sig, sig_len, e);
	return sign_blob(cfg, data, n, sig, sig_len, e);
}
