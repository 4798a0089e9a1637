#include "idtoken.h"

#include "b64.h"
#include "config.h"
#include "defaults.h"
#include "httpc.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "num.h"
#include "str.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_DECODED (FX_IDTOKEN_MAX_LEN / 4 * 3)
#define MAX_SIG 512 /* RSA-4096 */
#define MAX_KID 128
#define MAX_KEYS 16
#define KEYS_MAX_BODY (64 * 1024)
#define MAX_TIME INT64_C(253402300799) /* 9999-12-31T23:59:59Z */

#define FIREBASE_SKEW 60 /* PROTOCOLS.md §1.4 */
#define OIDC_SKEW 300 /* google-auth-library CLOCK_SKEW_SECS_ */
#define OIDC_MAX_LIFETIME 86400 /* google-auth-library DEFAULT_MAX_TOKEN_LIFETIME_SECS_ */

#define MIN_CACHE_S 60 /* floor for a missing or tiny max-age, so keys are not fetched per request */
#define MAX_CACHE_S 86400
#define UNKNOWN_KID_REFETCH_S 60
#define RETRY_AFTER_FAILURE_S 10
#define STALE_GRACE_S 86400 /* how long past max-age keys still serve while refreshes fail */

static const char firebase_issuer[] = "https://securetoken.google.com/";

typedef time_t (*clock_fn)(void);
static _Atomic(clock_fn) clock_override;
static atomic_bool warned_emulator_refused;

struct key {
	char kid[MAX_KID + 1];
	EVP_PKEY *pkey;
};

struct keyset {
	int n;
	struct key keys[MAX_KEYS];
};

/*
 * One cache per key URL. The set is replaced whole on each successful
 * fetch; callers take their own reference to the EVP_PKEY they verify
 * with, so a replaced set can be freed at once.
 */
struct keycache {
	const char *name;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* Under mu: */
	struct keyset *set;
	time_t fetched; /* when set arrived */
	time_t expires; /* set is fresh until this time */
	time_t retry_at; /* after a failed fetch, none before this time */
	time_t kid_fetch_at; /* last fetch caused by an unknown kid */
	bool kid_fetched;
	bool fetching;
	char last_error[160];
};

static struct keycache firebase_keys = {
	.name = "firebase", .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
static struct keycache oidc_keys = {
	.name = "google oidc", .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

/* A split and decoded compact JWS. */
struct jwt {
	const char *signed_part; /* b64(header) "." b64(payload) */
	size_t signed_len;
	char header[MAX_DECODED + 1];
	size_t header_len;
	char payload[MAX_DECODED + 1];
	size_t payload_len;
	unsigned char sig[MAX_SIG];
	size_t sig_len;
	json_object *h;
	json_object *p;
	bool unsigned_token; /* an accepted emulator token: no signature to check */
	const char *kid;
};

void fx_idtoken_set_clock(time_t (*now)(void))
{
	atomic_store(&clock_override, now);
}

static time_t now_s(void)
{
	clock_fn f = atomic_load(&clock_override);

	return f ? f() : time(NULL);
}

static int unauthenticated(struct fx_err *e, const char *why)
{
	return fx_err_set(e, FX_UNAUTHENTICATED, "invalid token: %s", why);
}

static void keyset_free(struct keyset *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->n; i++)
		EVP_PKEY_free(s->keys[i].pkey);
	free(s);
}

/* max-age of a Cache-Control value, clamped to [MIN_CACHE_S, MAX_CACHE_S]. */
static long max_age(const char *cc)
{
	long best = 0;

	while (cc && *cc) {
		const char *end = strchr(cc, ','), *p = cc;
		size_t n = end ? (size_t)(end - cc) : strlen(cc);

		while (n && (*p == ' ' || *p == '\t')) {
			p++;
			n--;
		}
		if (n > 8 && strncasecmp(p, "max-age=", 8) == 0) {
			char digits[16];
			size_t dn = n - 8;
			int64_t v;

			while (dn && (p[8 + dn - 1] == ' ' || p[8 + dn - 1] == '\t'))
				dn--;
			if (fx_str_copy(digits, sizeof(digits), p + 8, dn) == 0 &&
			    fx_num_parse(digits, 0, INT64_MAX, &v, NULL) == 0)
				best = (long)v;
		}
		cc = end ? end + 1 : NULL;
	}
	if (best < MIN_CACHE_S)
		return MIN_CACHE_S;
	return best > MAX_CACHE_S ? MAX_CACHE_S : best;
}

/* Parses one PEM certificate into its RSA (>= 2048 bit) public key, or NULL. */
static EVP_PKEY *cert_key(const char *pem, size_t n)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)n);
	X509 *x = NULL;
	EVP_PKEY *k = NULL;

	if (!bio)
		goto out;
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	if (!x)
		goto out;
	k = X509_get_pubkey(x);
	if (k && (EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA || EVP_PKEY_get_bits(k) < 2048)) {
		EVP_PKEY_free(k);
		k = NULL;
	}
out:
	X509_free(x);
	BIO_free(bio);
	ERR_clear_error();
	return k;
}

/*
 * Fetches url (a JSON map kid -> PEM certificate) into a new key set.
 * Runs without the cache lock. Returns 0, or -1 with why filled.
 */
static int fetch_keys(struct keycache *c, const char *url, struct keyset **out, long *ttl, char *why, size_t why_len)
{
	struct fx_httpc_req req = {
		.url = url,
		.timeout_ms = FX_TOKEN_CALL_TIMEOUT_MS,
		.max_response = KEYS_MAX_BODY,
		.retry = FX_RETRY_IDEMPOTENT,
		.max_attempts = FX_TOKEN_CALL_ATTEMPTS,
		.service = "google-keys",
	};
	struct fx_httpc_resp resp;
	struct fx_err e;
	json_object *root = NULL;
	struct keyset *s = NULL;
	char cc[256];
	int rc = -1;

	*out = NULL;
	fx_err_clear(&e);
	fx_httpc_resp_init(&resp);
	if (!url) {
		fx_str_text(why, why_len, "no key URL configured");
		goto out;
	}
	if (fx_httpc_do(&req, &resp, &e) < 0) {
		fx_str_text(why, why_len, "%.150s", e.message);
		goto out;
	}
	if (resp.status != 200) {
		fx_str_text(why, why_len, "key server answered HTTP %ld", resp.status);
		goto out;
	}
	if (fx_json_parse(resp.body.data, resp.body.len, 2, &root, &e) < 0 ||
	    !json_object_is_type(root, json_type_object)) {
		fx_str_text(why, why_len, "key server answer is not a JSON object");
		goto out;
	}
	s = fx_mem_xcalloc(1, sizeof(*s));
	json_object_object_foreach(root, kid, val)
	{
		size_t kid_len = strlen(kid);
		EVP_PKEY *k;

		if (s->n == MAX_KEYS) {
			fx_log_warn("%s key server lists more than %d keys: ignoring the rest", c->name, MAX_KEYS);
			break;
		}
		if (kid_len == 0 || kid_len > MAX_KID || !json_object_is_type(val, json_type_string)) {
			fx_log_warn("%s key server entry skipped: not a kid -> certificate pair", c->name);
			continue;
		}
		k = cert_key(json_object_get_string(val), (size_t)json_object_get_string_len(val));
		if (!k) {
			fx_log_warn("%s key server entry %.*s skipped: not an RSA-2048+ X.509 certificate", c->name,
				    (int)kid_len, kid);
			continue;
		}
		if (fx_str_copy(s->keys[s->n].kid, sizeof(s->keys[s->n].kid), kid, kid_len) < 0) {
			EVP_PKEY_free(k); /* cannot happen: kid_len <= MAX_KID was checked */
			continue;
		}
		s->keys[s->n].pkey = k;
		s->n++;
	}
	if (s->n == 0) {
		fx_str_text(why, why_len, "key server answer holds no usable certificate");
		goto out;
	}
	*ttl = max_age(fx_httpc_header(&resp, "Cache-Control", cc, sizeof(cc)));
	*out = s;
	s = NULL;
	rc = 0;
out:
	keyset_free(s);
	json_object_put(root);
	fx_httpc_resp_cleanup(&resp);
	return rc;
}

/* Runs one fetch for c; called and returns with c->mu held. */
static void refresh(struct keycache *c, const char *url)
{
	struct keyset *s = NULL;
	char why[sizeof(c->last_error)];
	long ttl = 0;
	int rc;
	time_t now;

	c->fetching = true;
	pthread_mutex_unlock(&c->mu);
	rc = fetch_keys(c, url, &s, &ttl, why, sizeof(why));
	now = now_s();
	pthread_mutex_lock(&c->mu);
	c->fetching = false;
	if (rc == 0) {
		keyset_free(c->set);
		c->set = s;
		c->fetched = now;
		c->expires = now + ttl;
		c->retry_at = 0;
		c->last_error[0] = '\0';
		fx_log_debug("%s signing keys fetched: %d keys for %ld s", c->name, s->n, ttl);
	} else {
		c->retry_at = now + RETRY_AFTER_FAILURE_S;
		fx_str_text(c->last_error, sizeof(c->last_error), "%s", why);
		if (c->set && now < c->expires + STALE_GRACE_S)
			fx_log_warn("%s signing keys refresh failed (%s): still serving the keys fetched %ld s ago",
				    c->name, why, (long)(now - c->fetched));
		else
			fx_log_error("%s signing keys unavailable: %s", c->name, why);
	}
	pthread_cond_broadcast(&c->cv);
}

static struct key *find(struct keyset *s, const char *kid)
{
	if (!s)
		return NULL;
	if (!kid)
		return s->n > 0 ? &s->keys[0] : NULL;
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->keys[i].kid, kid) == 0)
			return &s->keys[i];
	return NULL;
}

/*
 * Returns in *out a reference (EVP_PKEY_free it) to the key named kid, or
 * to any key when kid is NULL, fetching when the set is missing, past its
 * max-age, or lacks kid (then at most once per UNKNOWN_KID_REFETCH_S).
 * A fetch runs in one thread; others wait for it, or keep verifying with
 * the current keys when those hold theirs. Fails with 401 for a kid the
 * keys do not hold, 503 when there are no usable keys.
 */
static int get_key(struct keycache *c, const char *url, const char *kid, EVP_PKEY **out, struct fx_err *e)
{
	bool waited = false;
	int rc = 0;

	*out = NULL;
	pthread_mutex_lock(&c->mu);
	for (;;) {
		time_t now = now_s();
		bool usable = c->set && now < c->expires + STALE_GRACE_S;
		bool fresh = c->set && now < c->expires;
		struct key *k = usable ? find(c->set, kid) : NULL;

		if (k && (fresh || c->fetching || waited || now < c->retry_at)) {
			EVP_PKEY_up_ref(k->pkey);
			*out = k->pkey;
			break;
		}
		if (!k && c->fetching) {
			while (c->fetching) /* another thread is fetching the keys */
				pthread_cond_wait(&c->cv, &c->mu);
			waited = true;
			continue;
		}
		if (!k && (waited || now < c->retry_at ||
			   (fresh && c->kid_fetched && now - c->kid_fetch_at < UNKNOWN_KID_REFETCH_S))) {
			if (usable)
				rc = unauthenticated(e, "signed by a key that is not among Google's current keys");
			else
				rc = fx_err_set(e, FX_UNAVAILABLE, "no %s signing keys available: %s", c->name,
						c->last_error[0] ? c->last_error : "not fetched");
			break;
		}
		if (!k && fresh) {
			c->kid_fetched = true;
			c->kid_fetch_at = now;
		}
		refresh(c, url);
		waited = true;
	}
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static void cache_reset(struct keycache *c)
{
	pthread_mutex_lock(&c->mu);
	keyset_free(c->set);
	c->set = NULL;
	c->fetched = c->expires = c->retry_at = c->kid_fetch_at = 0;
	c->kid_fetched = false;
	c->last_error[0] = '\0';
	pthread_mutex_unlock(&c->mu);
}

void fx_idtoken_reset_cache(void)
{
	cache_reset(&firebase_keys);
	cache_reset(&oidc_keys);
}

/*
 * Unsigned emulator tokens: only with emulated_auth, which fx_config_load
 * grants only to a demo- project; checked again here so no other path to a
 * config (tests, a future loader) can accept them for a real project.
 */
static bool emulator_allowed(const struct fx_config *cfg)
{
	if (!cfg->emulated_auth)
		return false;
	if (!cfg->project || strncmp(cfg->project, "demo-", 5) != 0) {
		if (!atomic_exchange(&warned_emulator_refused, true))
			fx_log_error("emulated auth refused: the project is not a demo- one");
		return false;
	}
	return true;
}

static void jwt_cleanup(struct jwt *t)
{
	json_object_put(t->h);
	json_object_put(t->p);
}

static int decode_segment(const char *seg, size_t n, void *out, size_t out_len, size_t *out_n, const char *what,
			  struct fx_err *e)
{
	struct fx_err de;
	char why[96];

	fx_err_clear(&de);
	if (memchr(seg, '=', n)) {
		fx_str_text(why, sizeof(why), "%s segment is padded", what);
		return unauthenticated(e, why);
	}
	if (fx_b64_url_decode(seg, n, out, out_len, out_n, &de) < 0) {
		fx_str_text(why, sizeof(why), "%s segment is not base64url", what);
		return unauthenticated(e, why);
	}
	return 0;
}

static int parse_part(const char *p, size_t n, int depth, json_object **out, const char *what, struct fx_err *e)
{
	struct fx_err je;
	char why[192];

	fx_err_clear(&je);
	if (fx_json_parse(p, n, depth, out, &je) < 0 || !json_object_is_type(*out, json_type_object)) {
		/* The parser names the problem, its offset and at most a key name, never a value. */
		fx_str_text(why, sizeof(why), "%s is not a strict JSON object (%.120s)", what,
			    !fx_err_is(&je, FX_OK) ? je.message : "not an object");
		return unauthenticated(e, why);
	}
	return 0;
}

/*
 * Splits token into its three segments, decodes them and checks the
 * header: alg RS256 with a kid, or (allow_unsigned) alg none with an
 * empty signature segment.
 */
static int jwt_open(struct jwt *t, const char *token, size_t len, bool allow_unsigned, struct fx_err *e)
{
	const char *d1, *d2, *alg;
	size_t sig_b64_len;
	json_object *v;

	if (len == 0 || !token)
		return unauthenticated(e, "token is empty");
	if (len > FX_IDTOKEN_MAX_LEN)
		return unauthenticated(e, "token is longer than 4096 bytes");
	d1 = memchr(token, '.', len);
	d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
	if (!d1 || !d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)))
		return unauthenticated(e, "token does not have exactly 3 segments");
	if (d1 == token || d2 == d1 + 1)
		return unauthenticated(e, "token header or payload segment is empty");
	t->signed_part = token;
	t->signed_len = (size_t)(d2 - token);
	sig_b64_len = len - (size_t)(d2 + 1 - token);
	if (decode_segment(token, (size_t)(d1 - token), t->header, MAX_DECODED, &t->header_len, "header", e) < 0 ||
	    decode_segment(d1 + 1, (size_t)(d2 - d1 - 1), t->payload, MAX_DECODED, &t->payload_len, "payload", e) < 0 ||
	    decode_segment(d2 + 1, sig_b64_len, t->sig, sizeof(t->sig), &t->sig_len, "signature", e) < 0)
		return -1;
	t->header[t->header_len] = '\0';
	t->payload[t->payload_len] = '\0';
	if (parse_part(t->header, t->header_len, 4, &t->h, "header", e) < 0 ||
	    parse_part(t->payload, t->payload_len, 8, &t->p, "payload", e) < 0)
		return -1;

	/* jku, x5u, jwk and the like are ignored: keys come only from the configured URL. */
	if (!json_object_object_get_ex(t->h, "alg", &v) || !json_object_is_type(v, json_type_string))
		return unauthenticated(e, "header has no alg");
	alg = json_object_get_string(v);
	if (strcmp(alg, "none") == 0) {
		if (!allow_unsigned)
			return unauthenticated(e, "unsigned tokens (alg none) are not accepted");
		if (sig_b64_len != 0)
			return unauthenticated(e, "an unsigned token must have an empty signature segment");
		t->unsigned_token = true;
		return 0;
	}
	if (strcmp(alg, "RS256") != 0)
		return unauthenticated(e, "algorithm is not RS256");
	if (!json_object_object_get_ex(t->h, "kid", &v) || !json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) < 1 || json_object_get_string_len(v) > MAX_KID)
		return unauthenticated(e, "header has no usable kid");
	t->kid = json_object_get_string(v);
	if (t->sig_len == 0)
		return unauthenticated(e, "signature is missing");
	return 0;
}

/* Verifies the RS256 signature of t with the key for t->kid from c. */
static int jwt_verify_signature(struct jwt *t, struct keycache *c, const char *url, struct fx_err *e)
{
	EVP_PKEY *k = NULL;
	EVP_MD_CTX *ctx = NULL;
	int ok;

	if (get_key(c, url, t->kid, &k, e) < 0)
		return -1;
	ctx = EVP_MD_CTX_new();
	ok = ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, k) == 1 &&
	     EVP_DigestVerify(ctx, t->sig, t->sig_len, (const unsigned char *)t->signed_part, t->signed_len) == 1;
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(k);
	ERR_clear_error();
	if (!ctx)
		return fx_err_set(e, FX_INTERNAL, "digest context allocation failed");
	return ok ? 0 : unauthenticated(e, "signature does not verify");
}

/*
 * A string claim no longer than max bytes, copied into out (out_len >
 * max). Missing: "" and an error only when required.
 */
static int claim_string(json_object *p, const char *key, bool required, size_t min, size_t max, char *out,
			size_t out_len, struct fx_err *e)
{
	json_object *v;
	size_t n;
	char why[96];

	out[0] = '\0';
	if (!json_object_object_get_ex(p, key, &v) || !v) {
		if (!required)
			return 0;
		fx_str_text(why, sizeof(why), "claim %s is missing", key);
		return unauthenticated(e, why);
	}
	if (!json_object_is_type(v, json_type_string)) {
		fx_str_text(why, sizeof(why), "claim %s is not a string", key);
		return unauthenticated(e, why);
	}
	n = (size_t)json_object_get_string_len(v);
	if (n < min || n > max || fx_str_copy(out, out_len, json_object_get_string(v), n) < 0) {
		fx_str_text(why, sizeof(why), "claim %s must be %zu to %zu bytes", key, min, max);
		return unauthenticated(e, why);
	}
	return 0;
}

/* A required NumericDate claim (integer or fractional seconds). */
static int claim_time(json_object *p, const char *key, int64_t *out, struct fx_err *e)
{
	json_object *v;
	char why[96];

	if (!json_object_object_get_ex(p, key, &v) || !v) {
		fx_str_text(why, sizeof(why), "claim %s is missing", key);
		return unauthenticated(e, why);
	}
	if (json_object_is_type(v, json_type_int)) {
		*out = json_object_get_int64(v);
	} else if (json_object_is_type(v, json_type_double)) {
		double d = json_object_get_double(v);

		if (!(d >= 0 && d <= (double)MAX_TIME))
			goto bad;
		*out = (int64_t)d;
	} else {
		goto bad;
	}
	if (*out >= 0 && *out <= MAX_TIME)
		return 0;
bad:
	fx_str_text(why, sizeof(why), "claim %s is not a timestamp", key);
	return unauthenticated(e, why);
}

static int claim_bool(json_object *p, const char *key, bool *out, struct fx_err *e)
{
	json_object *v;
	char why[96];

	*out = false;
	if (!json_object_object_get_ex(p, key, &v) || !v)
		return 0;
	if (!json_object_is_type(v, json_type_boolean)) {
		fx_str_text(why, sizeof(why), "claim %s is not a boolean", key);
		return unauthenticated(e, why);
	}
	*out = json_object_get_boolean(v);
	return 0;
}

static bool claim_equals(json_object *p, const char *key, const char *want, size_t want_len)
{
	json_object *v;

	return json_object_object_get_ex(p, key, &v) && json_object_is_type(v, json_type_string) &&
	       (size_t)json_object_get_string_len(v) == want_len &&
	       memcmp(json_object_get_string(v), want, want_len) == 0;
}

/* The Firebase claim rules of PROTOCOLS.md §1.3/§1.4 and the claims callers use. */
static int firebase_claims(json_object *p, const char *project, time_t now, struct fx_claims *out, struct fx_err *e)
{
	char iss[sizeof(firebase_issuer) + 64];
	json_object *fb;

	if (!claim_equals(p, "aud", project, strlen(project)))
		return unauthenticated(e, "audience (aud) is not this project");
	if (fx_str_fmt(iss, sizeof(iss), "%s%s", firebase_issuer, project) < 0 ||
	    !claim_equals(p, "iss", iss, strlen(iss)))
		return unauthenticated(e, "issuer (iss) is not this project's securetoken issuer");
	if (claim_string(p, "sub", true, 1, 128, out->uid, sizeof(out->uid), e) < 0 ||
	    claim_time(p, "iat", &out->iat, e) < 0 || claim_time(p, "exp", &out->exp, e) < 0 ||
	    claim_time(p, "auth_time", &out->auth_time, e) < 0)
		return -1;
	if (out->exp <= (int64_t)now - FIREBASE_SKEW)
		return unauthenticated(e, "token has expired");
	if (out->iat > (int64_t)now + FIREBASE_SKEW)
		return unauthenticated(e, "token was issued in the future (iat)");
	if (out->auth_time > (int64_t)now + FIREBASE_SKEW)
		return unauthenticated(e, "sign-in time (auth_time) is in the future");
	if (claim_string(p, "email", false, 0, 320, out->email, sizeof(out->email), e) < 0 ||
	    claim_bool(p, "email_verified", &out->email_verified, e) < 0 ||
	    claim_string(p, "organizationId", false, 0, 128, out->organization_id, sizeof(out->organization_id), e) <
		    0 ||
	    claim_string(p, "role", false, 0, 15, out->role, sizeof(out->role), e) < 0)
		return -1;
	if (json_object_object_get_ex(p, "firebase", &fb) && json_object_is_type(fb, json_type_object) &&
	    claim_string(fb, "sign_in_provider", false, 0, 63, out->sign_in_provider, sizeof(out->sign_in_provider),
			 e) < 0)
		return -1;
	return 0;
}

int fx_idtoken_verify(const char *token, size_t len, struct fx_claims *out, struct fx_err *e)
{
	const struct fx_config *cfg = fx_config_get();
	struct jwt *t = NULL;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (!cfg || !cfg->project)
		return fx_err_set(e, FX_UNAVAILABLE, "configuration is not loaded");
	t = fx_mem_xcalloc(1, sizeof(*t));
	if (jwt_open(t, token, len, emulator_allowed(cfg), e) < 0 ||
	    firebase_claims(t->p, cfg->project, now_s(), out, e) < 0)
		goto out;
	/* Signature last: cheap checks first, and no key fetch for a token that fails them. */
	if (!t->unsigned_token && jwt_verify_signature(t, &firebase_keys, cfg->firebase_keys_url, e) < 0)
		goto out;
	rc = 0;
out:
	if (rc < 0)
		memset(out, 0, sizeof(*out));
	jwt_cleanup(t);
	free(t);
	return rc;
}

/* Whether email is one of the comma-separated entries of list (blanks around entries ignored). */
static bool allowlisted(const char *list, const char *email)
{
	size_t elen = strlen(email);

	while (list && *list) {
		const char *end = strchr(list, ','), *p = list;
		size_t n = end ? (size_t)(end - list) : strlen(list);

		while (n && (*p == ' ' || *p == '\t')) {
			p++;
			n--;
		}
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n == elen && n > 0 && memcmp(p, email, n) == 0)
			return true;
		list = end ? end + 1 : NULL;
	}
	return false;
}

static int oidc_claims(json_object *p, const char *audience, time_t now, struct fx_claims *out, struct fx_err *e)
{
	if (!claim_equals(p, "iss", "https://accounts.google.com", 27) &&
	    !claim_equals(p, "iss", "accounts.google.com", 19))
		return unauthenticated(e, "issuer (iss) is not accounts.google.com");
	if (!claim_equals(p, "aud", audience, strlen(audience)))
		return unauthenticated(e, "audience (aud) is not this service");
	if (claim_string(p, "sub", true, 1, 128, out->uid, sizeof(out->uid), e) < 0 ||
	    claim_time(p, "iat", &out->iat, e) < 0 || claim_time(p, "exp", &out->exp, e) < 0)
		return -1;
	if (out->exp >= out->iat + OIDC_MAX_LIFETIME || out->exp >= (int64_t)now + OIDC_MAX_LIFETIME)
		return unauthenticated(e, "token lifetime exceeds one day");
	if ((int64_t)now < out->iat - OIDC_SKEW)
		return unauthenticated(e, "token was issued in the future (iat)");
	if ((int64_t)now > out->exp + OIDC_SKEW)
		return unauthenticated(e, "token has expired");
	if (claim_string(p, "email", true, 1, 320, out->email, sizeof(out->email), e) < 0 ||
	    claim_bool(p, "email_verified", &out->email_verified, e) < 0)
		return -1;
	if (!out->email_verified)
		return unauthenticated(e, "email is not verified");
	return 0;
}

int fx_idtoken_verify_oidc(const char *token, size_t len, const char *audience, const char *allowed_emails,
			   struct fx_claims *out, struct fx_err *e)
{
	const struct fx_config *cfg = fx_config_get();
	struct jwt *t = NULL;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (!cfg)
		return fx_err_set(e, FX_UNAVAILABLE, "configuration is not loaded");
	if (!audience || !*audience)
		return fx_err_set(e, FX_INTERNAL, "jobs audience is not configured");
	t = fx_mem_xcalloc(1, sizeof(*t));
	if (jwt_open(t, token, len, false, e) < 0 || oidc_claims(t->p, audience, now_s(), out, e) < 0 ||
	    jwt_verify_signature(t, &oidc_keys, cfg->oidc_keys_url, e) < 0)
		goto out;
	if (!allowlisted(allowed_emails, out->email)) {
		fx_err_set(e, FX_PERMISSION_DENIED, "caller service account is not allowed to run jobs");
		goto out;
	}
	rc = 0;
out:
	if (rc < 0)
		memset(out, 0, sizeof(*out));
	jwt_cleanup(t);
	free(t);
	return rc;
}

int fx_idtoken_ready(struct fx_err *e)
{
	const struct fx_config *cfg = fx_config_get();
	EVP_PKEY *k = NULL;

	if (!cfg)
		return fx_err_set(e, FX_UNAVAILABLE, "configuration is not loaded");
	if (emulator_allowed(cfg))
		return 0;
	if (get_key(&firebase_keys, cfg->firebase_keys_url, NULL, &k, e) < 0)
		return -1;
	EVP_PKEY_free(k);
	return 0;
}

/* A failed warm-up holds no request back: the first one tries the fetch again itself. */
static int warmed(struct keycache *c, int rc)
{
	if (rc < 0) {
		pthread_mutex_lock(&c->mu);
		if (!c->fetching)
			c->retry_at = 0;
		pthread_mutex_unlock(&c->mu);
	}
	return rc;
}

int fx_idtoken_warm_up(struct fx_err *e)
{
	return warmed(&firebase_keys, fx_idtoken_ready(e));
}

int fx_idtoken_warm_up_oidc(struct fx_err *e)
{
	const struct fx_config *cfg = fx_config_get();
	EVP_PKEY *k = NULL;
	int rc;

	if (!cfg)
		return fx_err_set(e, FX_UNAVAILABLE, "configuration is not loaded");
	rc = get_key(&oidc_keys, cfg->oidc_keys_url, NULL, &k, e);
	EVP_PKEY_free(k);
	return warmed(&oidc_keys, rc);
}
