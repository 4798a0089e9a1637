#include "tokencache.h"

#include "metrics.h"
#include "str.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>

#define STRIPES 64

struct entry {
	unsigned char key[32]; /* SHA-256 of kind and token; all zero when empty */
	bool used;
	struct fx_claims claims;
};

static struct entry table[FX_TOKENCACHE_SLOTS];
static pthread_mutex_t locks[STRIPES] = {[0 ... STRIPES - 1] = PTHREAD_MUTEX_INITIALIZER};
static time_t (*clock_fn)(void);

static time_t now(void)
{
	return clock_fn ? clock_fn() : time(NULL);
}

void fx_tokencache_set_clock(time_t (*fn)(void))
{
	clock_fn = fn;
}

/*
 * SHA-256 fetched once per process and one digest context per thread: the
 * implicit fetch of EVP_sha256() and a context allocated per call took
 * OpenSSL's provider store lock and the allocator on every request.
 */
static EVP_MD *sha256;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static pthread_key_t ctx_key;

static void ctx_free(void *ctx)
{
	EVP_MD_CTX_free(ctx);
}

static void sha256_fetch(void)
{
	sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (pthread_key_create(&ctx_key, ctx_free) != 0) {
		EVP_MD_free(sha256);
		sha256 = NULL;
	}
}

static EVP_MD_CTX *thread_ctx(void)
{
	EVP_MD_CTX *ctx;

	pthread_once(&sha256_once, sha256_fetch);
	if (!sha256)
		return NULL;
	ctx = pthread_getspecific(ctx_key);
	if (!ctx) {
		ctx = EVP_MD_CTX_new();
		if (ctx && pthread_setspecific(ctx_key, ctx) != 0) {
			EVP_MD_CTX_free(ctx);
			ctx = NULL;
		}
	}
	return ctx;
}

static bool key_of(enum fx_token_kind kind, const char *token, size_t len, unsigned char key[32])
{
	unsigned char k = (unsigned char)kind;
	unsigned int n = 0;
	EVP_MD_CTX *ctx = thread_ctx();

	return ctx && EVP_DigestInit_ex2(ctx, sha256, NULL) == 1 && EVP_DigestUpdate(ctx, &k, 1) == 1 &&
	       EVP_DigestUpdate(ctx, token, len) == 1 && EVP_DigestFinal_ex(ctx, key, &n) == 1 && n == 32;
}

static size_t slot_of(const unsigned char key[32])
{
	size_t s = 0;

	for (size_t i = 0; i < sizeof(s); i++)
		s = s << 8 | key[i];
	return s % FX_TOKENCACHE_SLOTS;
}

bool fx_tokencache_get(enum fx_token_kind kind, const char *token, size_t len, struct fx_claims *out)
{
	unsigned char key[32];
	struct entry *en;
	size_t s;
	bool hit = false;

	if (!key_of(kind, token, len, key))
		return false;
	s = slot_of(key);
	en = &table[s];
	pthread_mutex_lock(&locks[s % STRIPES]);
	if (en->used && memcmp(en->key, key, sizeof(key)) == 0) {
		if (now() < en->claims.exp) {
			*out = en->claims;
			hit = true;
		} else {
			en->used = false;
		}
	}
	pthread_mutex_unlock(&locks[s % STRIPES]);
	fx_metrics_token_cache(hit);
	return hit;
}

void fx_tokencache_put(enum fx_token_kind kind, const char *token, size_t len, const struct fx_claims *claims)
{
	unsigned char key[32];
	size_t s;

	if (!key_of(kind, token, len, key))
		return;
	s = slot_of(key);
	pthread_mutex_lock(&locks[s % STRIPES]);
	FX_ARRAY_COPY(table[s].key, key);
	table[s].claims = *claims;
	table[s].used = true;
	pthread_mutex_unlock(&locks[s % STRIPES]);
}

void fx_tokencache_forget_uid(const char *uid)
{
	for (size_t s = 0; s < FX_TOKENCACHE_SLOTS; s++) {
		pthread_mutex_lock(&locks[s % STRIPES]);
		if (table[s].used && strcmp(table[s].claims.uid, uid) == 0)
			table[s].used = false;
		pthread_mutex_unlock(&locks[s % STRIPES]);
	}
}

void fx_tokencache_reset(void)
{
	for (size_t s = 0; s < FX_TOKENCACHE_SLOTS; s++) {
		pthread_mutex_lock(&locks[s % STRIPES]);
		table[s].used = false;
		pthread_mutex_unlock(&locks[s % STRIPES]);
	}
}
