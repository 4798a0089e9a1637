#include "authz.h"

#include "config.h"
#include "firestore.h"
#include "b64.h"
#include "clock.h"
#include "defaults.h"
#include "http.h"
#include "httpc.h"
#include "json.h"
#include "identity.h"
#include "idtoken.h"
#include "log.h"
#include "model.h"
#include "str.h"
#include "tokencache.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define CACHE_SLOTS 4096 /* bounded: a slot is reused by the next uid hashing to it */
#define PROFILE_MAX 4096 /* a bigger profile is not kept; GET /v1/users/me then reads it */

const char *const fx_profile_hidden[] = {"tokensValidAfter", NULL};

static const char *const role_names[] = {"none", "viewer", "staff", "manager", "admin", "owner", NULL};

const char *fx_authz_role_name(enum fx_role role)
{
	return role_names[role];
}

int fx_authz_role_parse(const char *s)
{
	for (int i = FX_ROLE_VIEWER; role_names[i]; i++)
		if (strcmp(s, role_names[i]) == 0)
			return i;
	return -1;
}

/*
 * What authz knows of a uid, each half as of its own fetch: the member
 * profile (users/{uid} in Firestore) for FX_AUTHZ_CACHE_SECONDS, and the
 * Firebase Auth account (Identity Toolkit accounts:lookup) for config
 * revocation_check_seconds. One snapshot per uid, one epoch: forgetting a
 * uid drops both.
 */
struct member {
	char uid[129];
	uint64_t epoch; /* of the uid's slot when fetched */
	/* users/{uid}, read at fetched (0: not read) */
	time_t fetched;
	bool exists;
	bool disabled;
	char organization_id[129];
	enum fx_role role;
	int64_t valid_after; /* sessions revoked before this time (seconds) */
	char *profile; /* the profile's API JSON (malloc'd), NULL when absent or too big */
	/* the Firebase Auth account, asked at account_fetched (0: not asked) */
	time_t account_fetched;
	bool account_exists;
	bool account_disabled;
	int64_t valid_since; /* tokens with auth_time before this (seconds) are revoked */
};

static struct member cache[CACHE_SLOTS];
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static time_t (*clock_fn)(void);

static time_t now(void)
{
	return clock_fn ? clock_fn() : time(NULL);
}

void fx_authz_set_clock(time_t (*fn)(void))
{
	clock_fn = fn;
}

/*
 * Epochs, one per slot, shared by every worker process of the container
 * through a file beside the metrics (FLUXORI_METRICS_DIR/authz.epochs):
 * fx_authz_forget bumps the uid's, and a cached snapshot counts only while
 * its epoch is current. A change made through any group is seen by all of
 * them at once; other Cloud Run instances see it within the cache times.
 */
static _Atomic uint64_t local_epochs[CACHE_SLOTS];
static _Atomic uint64_t *epochs = local_epochs;
static pthread_once_t epochs_once = PTHREAD_ONCE_INIT;

static void map_epochs(void)
{
	const struct fx_config *c = fx_config_get();
	char path[512];
	void *p;
	int fd;

	if (!c || !c->metrics_dir || !*c->metrics_dir)
		return;
	if (fx_str_fmt(path, sizeof(path), "%s/authz.epochs", c->metrics_dir) < 0) {
		fx_log_warn("FLUXORI_METRICS_DIR is too long: member changes reach other processes only after %d s",
			    FX_AUTHZ_CACHE_SECONDS);
		return;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, sizeof(local_epochs)) < 0 ||
	    (p = mmap(NULL, sizeof(local_epochs), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED)
		fx_log_warn("%s: member changes reach other processes only after %d s", path, FX_AUTHZ_CACHE_SECONDS);
	else
		epochs = p;
	if (fd >= 0)
		close(fd);
}

static size_t slot_of(const char *uid)
{
	uint64_t h = 1469598103934665603ull;

	for (const unsigned char *p = (const unsigned char *)uid; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	return (size_t)(h % CACHE_SLOTS);
}

void fx_authz_forget(const char *uid)
{
	size_t s = slot_of(uid);

	pthread_once(&epochs_once, map_epochs);
	atomic_fetch_add(&epochs[s], 1);
	pthread_mutex_lock(&cache_lock);
	if (strcmp(cache[s].uid, uid) == 0)
		cache[s].uid[0] = '\0';
	pthread_mutex_unlock(&cache_lock);
}

void fx_authz_reset(void)
{
	pthread_mutex_lock(&cache_lock);
	for (size_t s = 0; s < CACHE_SLOTS; s++) {
		free(cache[s].profile);
		memset(&cache[s], 0, sizeof(cache[s]));
	}
	pthread_mutex_unlock(&cache_lock);
}

/*
 * Reads users/{uid} into the profile half of out; *profile_json gets its API
 * JSON (caller frees). Not inlined (nor job_caller, google_issued): their
 * buffers stay out of fx_authz_request's frame, which every request's stack
 * holds (stack-clash probing touches every page of a frame).
 */
static __attribute__((noinline)) int fetch_profile(const char *uid, time_t t, struct member *out, char **profile_json,
						   struct fx_err *e)
{
	struct fx_doc doc = {0};
	struct fx_err ferr;
	char path[160];
	const char *s;
	int64_t n;

	*profile_json = NULL;
	out->fetched = t;
	out->exists = out->disabled = false;
	out->organization_id[0] = '\0';
	out->role = FX_ROLE_NONE;
	out->valid_after = 0;
	out->profile = NULL;
	if (fx_str_fmt(path, sizeof(path), "users/%s", uid) < 0)
		return fx_err_set(e, FX_INTERNAL, "uid over %zu bytes", sizeof(path) - sizeof("users/"));
	fx_err_clear(&ferr);
	if (fx_firestore_get(path, &doc, &ferr) < 0) {
		if (fx_err_is(&ferr, FX_NOT_FOUND))
			return 0;
		*e = ferr;
		return -1;
	}
	out->exists = true;
	{
		json_object *j = fx_model_doc_json(&doc, fx_profile_hidden);
		size_t len = 0;
		const char *text = fx_json_text(j, &len);

		*profile_json = len < PROFILE_MAX ? strdup(text) : NULL;
		json_object_put(j);
	}
	if ((s = fx_value_path_str(&doc.fields, "organizationId")) &&
	    fx_str_set(out->organization_id, sizeof(out->organization_id), s) < 0) {
		free(*profile_json);
		*profile_json = NULL;
		fx_firestore_doc_cleanup(&doc);
		return fx_err_set(e, FX_INTERNAL, "%s: organizationId over %zu bytes", path,
				  sizeof(out->organization_id) - 1);
	}
	if ((s = fx_value_path_str(&doc.fields, "role")) && fx_authz_role_parse(s) > 0)
		out->role = (enum fx_role)fx_authz_role_parse(s);
	{
		const struct fx_value *d = fx_value_path(&doc.fields, "disabled");

		out->disabled = d && d->type == FX_V_BOOL && d->u.b;
	}
	if (fx_value_path_int(&doc.fields, "tokensValidAfter", &n))
		out->valid_after = n;
	fx_firestore_doc_cleanup(&doc);
	return 0;
}

/*
 * Asks Firebase Auth about uid, as verifyIdToken(token, checkRevoked) does,
 * into the account half of out. No such user is an answer (account_exists
 * false); Identity Toolkit failing is not: then there is no answer and the
 * request fails closed with 503 (500 when our own request was refused).
 */
static int fetch_account(const char *uid, time_t t, struct member *out, struct fx_err *e)
{
	struct fx_user_record rec;

	out->account_exists = out->account_disabled = false;
	out->valid_since = 0;
	/*
	 * The lookup's error goes into e itself, then is replaced: a struct
	 * fx_err of its own (4.4 KiB) here sat on the deepest stack path of
	 * every worker thread.
	 */
	if (fx_identity_lookup(uid, &rec, e) < 0) {
		/* 404: no such user; 400: a uid Firebase could never have issued. */
		if (!fx_err_is(e, FX_NOT_FOUND) && !fx_err_is(e, FX_INVALID_ARGUMENT)) {
			bool internal = fx_err_is(e, FX_INTERNAL);

			fx_log_warn("revocation check of a user failed: %s", e->message);
			fx_err_clear(e);
			if (internal)
				return fx_err_set(e, FX_INTERNAL, "cannot check this account with Firebase Auth");
			return fx_err_set(e, FX_UNAVAILABLE, "cannot check this account with Firebase Auth: try again");
		}
		fx_err_clear(e);
	} else {
		out->account_exists = true;
		out->account_disabled = rec.disabled;
		out->valid_since = rec.valid_since;
	}
	out->account_fetched = t;
	return 0;
}

/* fetch_account and fetch_profile as fx_httpc_both runs them: each fills its own half of out. */
struct half_call {
	const char *uid;
	time_t t;
	struct member *out;
	char **profile_json; /* fetch_profile only */
	struct fx_err *e;
	int rc;
};

static void account_half(void *arg)
{
	struct half_call *c = arg;

	c->rc = fetch_account(c->uid, c->t, c->out, c->e);
}

static void profile_half(void *arg)
{
	struct half_call *c = arg;

	c->rc = fetch_profile(c->uid, c->t, c->out, c->profile_json, c->e);
}

/*
 * Both halves of uid's snapshot at once, the revocation lookup on a thread
 * beside this one (they write different members of out): a miss waits for
 * the longer of the two calls, not their sum. Fails as the two did one
 * after the other: the lookup's failure first, else the read's; then
 * *profile_json is NULL. Not inlined: the lookup's struct fx_err (4.4 KiB)
 * stays out of fx_authz_request's frame.
 */
static __attribute__((noinline)) int fetch_both(const char *uid, time_t t, struct member *out, char **profile_json,
						struct fx_err *e)
{
	struct fx_err account_err;
	struct half_call account = {uid, t, out, NULL, &account_err, 0};
	struct half_call profile = {uid, t, out, profile_json, e, 0};

	fx_err_clear(&account_err);
	fx_httpc_both(profile_half, &profile, account_half, &account);
	if (account.rc < 0) {
		free(*profile_json);
		*profile_json = NULL;
		*e = account_err;
		return -1;
	}
	return profile.rc;
}

static bool fresh(time_t fetched, time_t t, int window)
{
	return fetched > 0 && t >= fetched && t - fetched < window;
}

/*
 * A fetch of a uid's snapshot in flight in this process. The other threads
 * missing the same uid meanwhile wait for its outcome instead of making the
 * same calls: at a snapshot's expiry every serving thread can miss at once,
 * and each would otherwise start a side thread with handles of its own
 * (fx_httpc_both) and ask Firestore and Firebase Auth the same question.
 * Process-local, and only a saving: nothing depends on it being the only
 * fetch (another process, or a thread after a failed wait, may fetch too).
 * Listed in flights under cache_lock while in flight; freed by the last of
 * its users.
 */
struct flight {
	struct flight *next;
	char uid[129];
	bool done;
	int rc;
	unsigned users; /* the fetcher and its waiters */
	struct fx_err err; /* the fetch's failure, for its waiters */
};

static struct flight *flights;
static pthread_cond_t flight_ended = PTHREAD_COND_INITIALIZER;

static struct flight *flight_of(const char *uid)
{
	for (struct flight *f = flights; f; f = f->next)
		if (strcmp(f->uid, uid) == 0)
			return f;
	return NULL;
}

/* Drops one user of f (cache_lock held); the last one frees it. */
static void flight_leave(struct flight *f)
{
	if (--f->users == 0)
		free(f);
}

/*
 * Ends this thread's fetch f with rc (and e when it failed), cache_lock
 * held: unlisted at once, so a waiter that finds the cache still stale
 * (an epoch moved on) starts a fetch of its own instead of finding f again.
 */
static void flight_end(struct flight *f, int rc, const struct fx_err *e)
{
	for (struct flight **p = &flights; *p; p = &(*p)->next)
		if (*p == f) {
			*p = f->next;
			break;
		}
	f->done = true;
	f->rc = rc;
	if (rc < 0)
		f->err = *e;
	pthread_cond_broadcast(&flight_ended);
	flight_leave(f);
}

/*
 * Waits (cache_lock held, and released while waiting) for f to end, at most
 * as long as a call of this thread's own could take (http_timeout_ms).
 * Returns 0 when it succeeded (its answers are in the cache, unless an
 * epoch moved on meanwhile), or -1 with e set: the fetch's own failure, or
 * 503 when it outlasted the wait.
 */
static int flight_wait(struct flight *f, struct fx_err *e)
{
	const struct fx_config *c = fx_config_get();
	long ms = c && c->http_timeout_ms > 0 ? c->http_timeout_ms : FX_DEFAULT_HTTP_TIMEOUT_MS;
	struct timespec until;
	int rc = 0;

	fx_clock_deadline(ms, &until);
	f->users++;
	while (!f->done && rc == 0)
		rc = pthread_cond_timedwait(&flight_ended, &cache_lock, &until);
	if (!f->done) {
		rc = fx_err_set(e, FX_UNAVAILABLE, "cannot check this account: try again");
	} else if (f->rc < 0) {
		*e = f->err;
		rc = -1;
	} else {
		rc = 0;
	}
	flight_leave(f);
	return rc;
}

/*
 * The snapshot of uid: each half from the cache while fresh, else fetched
 * now and cached, by one thread of the process at a time (struct flight).
 * The profile JSON is copied into arena (out->profile).
 */
static int member_of(const char *uid, struct fx_arena *arena, struct member *out, struct fx_err *e)
{
	const struct fx_config *c = fx_config_get();
	int window = c && c->revocation_check_seconds > 0 ? c->revocation_check_seconds : 60;
	size_t s = slot_of(uid);
	struct member *slot = &cache[s];
	struct flight *f;
	time_t t;
	bool profile_fresh, account_fresh;
	char *mine = NULL, key[sizeof(out->uid)];
	uint64_t epoch;
	int rc = 0;

	pthread_once(&epochs_once, map_epochs);
	if (fx_str_set(key, sizeof(key), uid) < 0)
		return fx_err_set(e, FX_INTERNAL, "uid over %zu bytes", sizeof(key) - 1);
	pthread_mutex_lock(&cache_lock);
	for (;;) {
		t = now();
		epoch = atomic_load(&epochs[s]);
		profile_fresh = account_fresh = false;
		memset(out, 0, sizeof(*out));
		if (strcmp(slot->uid, uid) == 0 && slot->epoch == epoch) {
			profile_fresh = fresh(slot->fetched, t, FX_AUTHZ_CACHE_SECONDS);
			account_fresh = fresh(slot->account_fetched, t, window);
			*out = *slot;
			out->profile = profile_fresh && slot->profile ? fx_arena_strdup(arena, slot->profile) : NULL;
		}
		if (profile_fresh && account_fresh) {
			pthread_mutex_unlock(&cache_lock);
			return 0;
		}
		if (!(f = flight_of(uid)))
			break;
		if (flight_wait(f, e) < 0) {
			pthread_mutex_unlock(&cache_lock);
			return -1;
		}
	}
	/* This thread fetches; without memory for a flight it fetches alone, as any thread would. */
	if ((f = calloc(1, sizeof(*f)))) {
		FX_ARRAY_COPY(f->uid, key);
		f->users = 1;
		f->next = flights;
		flights = f;
	}
	pthread_mutex_unlock(&cache_lock);
	FX_ARRAY_COPY(out->uid, key);
	out->epoch = epoch;
	if (!account_fresh && !profile_fresh)
		rc = fetch_both(uid, t, out, &mine, e);
	else if (!account_fresh)
		rc = fetch_account(uid, t, out, e);
	else
		rc = fetch_profile(uid, t, out, &mine, e);
	if (rc == 0 && !profile_fresh)
		out->profile = mine ? fx_arena_strdup(arena, mine) : NULL;
	pthread_mutex_lock(&cache_lock);
	/* What was read under an epoch that moved on since is not kept; nothing is when a call failed. */
	if (rc == 0 && atomic_load(&epochs[s]) == epoch) {
		if (strcmp(slot->uid, uid) != 0 || slot->epoch != epoch) {
			free(slot->profile);
			memset(slot, 0, sizeof(*slot));
			FX_ARRAY_COPY(slot->uid, out->uid);
			slot->epoch = epoch;
		}
		if (!account_fresh) {
			slot->account_fetched = out->account_fetched;
			slot->account_exists = out->account_exists;
			slot->account_disabled = out->account_disabled;
			slot->valid_since = out->valid_since;
		}
		if (!profile_fresh) {
			slot->fetched = out->fetched;
			slot->exists = out->exists;
			slot->disabled = out->disabled;
			FX_ARRAY_COPY(slot->organization_id, out->organization_id);
			slot->role = out->role;
			slot->valid_after = out->valid_after;
			free(slot->profile);
			slot->profile = mine;
			mine = NULL;
		}
	}
	if (f)
		flight_end(f, rc, e);
	pthread_mutex_unlock(&cache_lock);
	free(mine);
	return rc;
}

/* Why uid's token (signed in at auth_time) no longer counts, or NULL when it does. */
static const char *refusal(const struct member *m, int64_t auth_time)
{
	if (!m->account_exists)
		return "this account no longer exists";
	if (m->account_disabled || (m->exists && m->disabled))
		return "this account is disabled";
	if (auth_time < m->valid_since || (m->exists && auth_time < m->valid_after))
		return "this session was revoked: sign in again";
	return NULL;
}

static const char *bearer(const struct fx_req *r, size_t *len)
{
	const char *h = fx_http_req_header(r, "Authorization");

	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	*len = strlen(h);
	return *len ? h : NULL;
}

static __attribute__((noinline)) int job_caller(struct fx_req *r, const char *token, size_t len, struct fx_err *e)
{
	const struct fx_config *c = fx_config_get();
	struct fx_principal *p;
	struct fx_claims claims;

	if (!c->jobs_audience || !c->jobs_service_accounts)
		return fx_err_set(e, FX_UNAUTHENTICATED, "scheduler tokens are not configured");
	if (!fx_tokencache_get(FX_TOKEN_OIDC, token, len, &claims)) {
		if (fx_idtoken_verify_oidc(token, len, c->jobs_audience, c->jobs_service_accounts, &claims, e) < 0)
			return -1;
		fx_tokencache_put(FX_TOKEN_OIDC, token, len, &claims);
	}
	p = fx_arena_alloc(r->arena, sizeof(*p));
	if (!p)
		return fx_err_set(e, FX_INTERNAL, "out of request memory");
	memset(p, 0, sizeof(*p));
	p->uid = fx_arena_strdup(r->arena, claims.uid);
	p->email = fx_arena_strdup(r->arena, claims.email);
	p->scheduler = true;
	r->principal = p;
	return 0;
}

/*
 * Which verifier a token is for: Google's OIDC tokens (Cloud Scheduler) say
 * so in iss. Only a routing hint, read without trust: each verifier then
 * checks the token in full.
 */
static __attribute__((noinline)) bool google_issued(const char *token, size_t len)
{
	const char *dot1 = memchr(token, '.', len), *dot2;
	char payload[4096];
	size_t n = 0;
	json_object *o = NULL, *iss;
	struct fx_err ignored;
	bool google = false;

	fx_err_clear(&ignored);
	if (!dot1 || !(dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token))))
		return false;
	if (fx_b64_url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), payload, sizeof(payload), &n, &ignored) < 0 ||
	    fx_json_parse(payload, n, 8, &o, &ignored) < 0)
		return false;
	if (json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, "iss", &iss) &&
	    json_object_is_type(iss, json_type_string))
		google = strcmp(json_object_get_string(iss), "https://accounts.google.com") == 0 ||
			 strcmp(json_object_get_string(iss), "accounts.google.com") == 0;
	json_object_put(o);
	return google;
}

int fx_authz_request(struct fx_req *r, struct fx_err *e)
{
	const struct fx_route *route = r->route;
	struct fx_principal *p;
	struct fx_claims claims;
	struct member m;
	const char *token, *why;
	size_t len = 0;
	int claimed_role;

	token = bearer(r, &len);
	if (!token)
		return fx_err_set(e, FX_UNAUTHENTICATED, "a bearer token is required");
	/* A job route also takes Cloud Scheduler's Google-signed OIDC token. */
	if (route->access == FX_JOB && google_issued(token, len))
		return job_caller(r, token, len, e);
	if (!fx_tokencache_get(FX_TOKEN_FIREBASE, token, len, &claims)) {
		if (fx_idtoken_verify(token, len, &claims, e) < 0)
			return -1;
		fx_tokencache_put(FX_TOKEN_FIREBASE, token, len, &claims);
	}
	/*
	 * Checked on every request, cached token or not: Firebase Auth's own word
	 * (the user exists, is enabled, and auth_time is not before validSince),
	 * at most revocation_check_seconds old, and the member profile's.
	 */
	if (member_of(claims.uid, r->arena, &m, e) < 0)
		return -1;
	if ((why = refusal(&m, claims.auth_time))) {
		fx_tokencache_forget_uid(claims.uid);
		return fx_err_set(e, FX_UNAUTHENTICATED, "%s", why);
	}

	p = fx_arena_alloc(r->arena, sizeof(*p));
	if (!p)
		return fx_err_set(e, FX_INTERNAL, "out of request memory");
	memset(p, 0, sizeof(*p));
	p->uid = fx_arena_strdup(r->arena, claims.uid);
	p->email = claims.email[0] ? fx_arena_strdup(r->arena, claims.email) : NULL;
	p->auth_time = claims.auth_time;
	p->has_profile = m.exists;
	p->profile = m.profile;
	r->principal = p;

	/*
	 * Organization and role come from the token's claims, and count only
	 * while the profile agrees: a member removed from the organization is
	 * out at once, a demotion applies at once, a promotion with the next
	 * token (the claims).
	 */
	claimed_role = claims.role[0] ? fx_authz_role_parse(claims.role) : -1;
	if (claims.organization_id[0] && claimed_role > 0 && m.exists &&
	    strcmp(m.organization_id, claims.organization_id) == 0 && m.role > FX_ROLE_NONE) {
		p->organization_id = fx_arena_strdup(r->arena, claims.organization_id);
		p->role = (enum fx_role)claimed_role < m.role ? (enum fx_role)claimed_role : m.role;
	}

	switch (route->access) {
	case FX_PUBLIC:
	case FX_SIGNED_IN: return 0;
	case FX_MEMBER:
	case FX_JOB:
		if (!p->organization_id)
			return fx_err_set(e, FX_PERMISSION_DENIED, "you are not a member of an organization");
		if (p->role < route->min_role)
			return fx_err_set(e, FX_PERMISSION_DENIED, "this needs the %s role or higher",
					  fx_authz_role_name(route->min_role));
		return 0;
	}
	return fx_err_set(e, FX_INTERNAL, "route without access rule");
}
