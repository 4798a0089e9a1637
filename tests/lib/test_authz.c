/*
 * fx_authz: the checks every token-taking request passes, against a canned
 * upstream (testserver) that plays both Identity Toolkit (accounts:lookup)
 * and Firestore (users/{uid}) (or two, one each, where the two calls of a
 * miss must be in flight at once), with the cache on a test clock. Tokens are
 * the Auth emulator's unsigned ones (config emulated_auth, demo- project):
 * the signature path has its own tests in test_idtoken.
 */
#include "authz.h"

#include "arena.h"
#include "buf.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "testjwt.h"
#include "testserver.h"
#include "tokencache.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROJECT "demo-fluxori"
#define UID "uid_ada"

/* What the canned upstream answers; changed by tests between requests only. */
static struct upstream {
	int lookup_status; /* 200, or the HTTP status Identity Toolkit fails with */
	bool exists;
	bool disabled;
	long long valid_since; /* 0: absent */
	const char *profile_fields; /* Firestore typed fields of users/{uid}, NULL: no profile */
	int profile_status; /* 0: as profile_fields says; else the HTTP status Firestore fails with */
	bool meet; /* each lookup waits (up to MEET_MS) for a profile read to have arrived, else fails */
	/* each lookup waits (up to HOLD_MAX_MS) until this many callers are in fx_authz_request, then HOLD_MS */
	unsigned hold_for_callers;
	bool hold_lookups; /* each lookup waits (up to HOLD_MAX_MS) until lookups_released */
	_Atomic bool lookups_released;
	/* counted on the upstreams' threads (two servers: two threads) */
	_Atomic unsigned lookups, profile_reads, lookups_met;
	_Atomic unsigned callers_in; /* test threads that entered fx_authz_request */
	_Atomic unsigned token_calls; /* arrived at the held metadata server (held_token) */
	_Atomic bool token_released; /* it may answer */
} up;

#define MEET_MS 1000
#define HOLD_MS 300
#define HOLD_MAX_MS 5000

static struct fx_config cfg;
static struct testserver *ts, *ts_identity, *ts_metadata;
static char identity_url[128], firestore_host[64];
static time_t clock_now;
static struct fx_err err;

static time_t fake_now(void)
{
	return clock_now;
}

static void answer(const struct ts_request *req, struct ts_response *resp, void *ctx)
{
	(void)ctx;
	resp->status = 200;
	snprintf(resp->headers, sizeof(resp->headers), "Content-Type: application/json\r\n");
	if (strstr(req->path, "/accounts:lookup")) {
		int waited = 0;

		up.lookups++;
		while (up.meet && up.profile_reads == 0 && waited++ < MEET_MS)
			usleep(1000);
		while (up.hold_for_callers && up.callers_in < up.hold_for_callers && waited++ < HOLD_MAX_MS)
			usleep(1000);
		if (up.hold_for_callers)
			usleep(HOLD_MS * 1000);
		while (up.hold_lookups && !up.lookups_released && waited++ < HOLD_MAX_MS)
			usleep(1000);
		if (up.meet && up.profile_reads > 0)
			up.lookups_met++;
		if (up.meet && up.profile_reads == 0) {
			resp->status = 503;
			resp->body_len = (size_t)snprintf(resp->body, sizeof(resp->body),
							  "{\"error\":{\"code\":503,\"message\":\"NO_READ_BESIDE\"}}");
		} else if (up.lookup_status != 200) {
			resp->status = up.lookup_status;
			resp->body_len = (size_t)snprintf(
				resp->body, sizeof(resp->body),
				"{\"error\":{\"code\":%d,\"message\":\"BACKEND_SECRET_WORDS\"}}", up.lookup_status);
		} else if (!up.exists) {
			resp->body_len = (size_t)snprintf(resp->body, sizeof(resp->body),
							  "{\"kind\":\"identitytoolkit#GetAccountInfoResponse\"}");
		} else {
			char vs[48] = "";

			if (up.valid_since)
				snprintf(vs, sizeof(vs), ",\"validSince\":\"%lld\"", up.valid_since);
			resp->body_len =
				(size_t)snprintf(resp->body, sizeof(resp->body),
						 "{\"users\":[{\"localId\":\"" UID "\",\"email\":\"ada@example.com\","
						 "\"emailVerified\":true,\"disabled\":%s%s}]}",
						 up.disabled ? "true" : "false", vs);
		}
	} else if (strstr(req->path, "/documents/users/")) {
		up.profile_reads++;
		if (up.profile_status) {
			resp->status = up.profile_status;
			resp->body_len = (size_t)snprintf(resp->body, sizeof(resp->body),
							  "{\"error\":{\"code\":%d,\"message\":\"denied\","
							  "\"status\":\"PERMISSION_DENIED\"}}",
							  up.profile_status);
		} else if (up.profile_fields) {
			resp->body_len = (size_t)snprintf(
				resp->body, sizeof(resp->body),
				"{\"name\":\"projects/" PROJECT "/databases/(default)/documents/"
				"users/" UID "\",\"fields\":%s,\"createTime\":\"2026-01-01T00:00:00Z\","
				"\"updateTime\":\"2026-01-01T00:00:00Z\"}",
				up.profile_fields);
		} else {
			resp->status = 404;
			resp->body_len = (size_t)snprintf(resp->body, sizeof(resp->body),
							  "{\"error\":{\"code\":404,\"message\":\"no entity\","
							  "\"status\":\"NOT_FOUND\"}}");
		}
	} else {
		resp->status = 404;
		resp->body_len = (size_t)snprintf(resp->body, sizeof(resp->body), "{}");
	}
}

static void setup(void)
{
	fx_log_init("test_authz", FX_LOG_ERROR + 1);
	memset(&up, 0, sizeof(up));
	up.lookup_status = 200;
	up.exists = true;
	ts = ts_start();
	ts_handle(ts, answer, NULL);
	memset(&cfg, 0, sizeof(cfg));
	cfg.project = PROJECT;
	cfg.database = "(default)";
	cfg.emulated_auth = true;
	/* "Emulators" so no OAuth2 token is fetched: both are the canned upstream. */
	snprintf(firestore_host, sizeof(firestore_host), "%s", ts_url(ts) + strlen("http://"));
	cfg.firestore_emulator = firestore_host;
	cfg.auth_emulator = firestore_host;
	cfg.firestore_url = ts_url(ts);
	snprintf(identity_url, sizeof(identity_url), "%s/identitytoolkit.googleapis.com", ts_url(ts));
	cfg.identity_url = identity_url;
	cfg.http_timeout_ms = 3000;
	cfg.connect_timeout_ms = 1000;
	cfg.revocation_check_seconds = 60;
	fx_config_set(&cfg);
	clock_now = time(NULL);
	fx_authz_set_clock(fake_now);
	fx_authz_reset();
	fx_tokencache_reset();
	fx_err_clear(&err);
}

static void teardown(void)
{
	fx_authz_set_clock(NULL);
	fx_authz_reset();
	ts_stop(ts);
	ts_stop(ts_identity);
	ts_identity = NULL;
	ts_stop(ts_metadata);
	ts_metadata = NULL;
}

/* Identity Toolkit on an upstream of its own, so a lookup and a profile read can be in flight together. */
static void identity_apart(void)
{
	ts_identity = ts_start();
	ts_handle(ts_identity, answer, NULL);
	snprintf(identity_url, sizeof(identity_url), "%s/identitytoolkit.googleapis.com", ts_url(ts_identity));
}

TestSuite(authz, .init = setup, .fini = teardown, .timeout = 30);

/* The Auth emulator's unsigned ID token for UID, signed in at auth_time (real time: the token checks use it). */
static char *token(long auth_time, const char *claims)
{
	struct fx_buf payload;
	long t = (long)time(NULL);
	char *tok;

	fx_buf_init(&payload, 4096);
	cr_assert_eq(fx_buf_printf(&payload,
				   "{\"iss\":\"https://securetoken.google.com/" PROJECT "\",\"aud\":\"" PROJECT
				   "\",\"sub\":\"" UID "\",\"auth_time\":%ld,\"iat\":%ld,\"exp\":%ld,"
				   "\"email\":\"ada@example.com\"%s%s}",
				   auth_time, t - 1, t + 3600, claims ? "," : "", claims ? claims : ""),
		     0);
	tok = tj_mint(JWT_ALG_NONE, NULL, NULL, payload.data);
	fx_buf_cleanup(&payload);
	return tok;
}

static const struct fx_route signed_in = {"PATCH", "/v1/users/me", NULL, FX_SIGNED_IN, FX_ROLE_NONE, 0, 0};
static const struct fx_route member = {"GET", "/v1/products", NULL, FX_MEMBER, FX_ROLE_VIEWER, 0, 0};

/* fx_authz_request for a request carrying tok on route; 0 or -1 with err set. */
static int authorize(const struct fx_route *route, const char *tok)
{
	struct fx_arena arena;
	struct fx_req r;
	char auth[8192];
	char *envp[] = {auth, NULL};
	int rc;

	snprintf(auth, sizeof(auth), "HTTP_AUTHORIZATION=Bearer %s", tok);
	fx_arena_init(&arena, 1 << 20);
	memset(&r, 0, sizeof(r));
	r.envp = envp;
	r.arena = &arena;
	r.route = route;
	fx_err_clear(&err);
	rc = fx_authz_request(&r, &err);
	fx_arena_cleanup(&arena);
	return rc;
}

static void expect_refused(int rc, int code, const char *why)
{
	cr_assert_eq(rc, -1, "refused (%s)", why);
	cr_assert_eq(fx_err_http(err.kind), code, "%d %s: %s", fx_err_http(err.kind), fx_err_name(err.kind),
		     err.message);
	cr_assert(strstr(err.message, why), "\"%s\" says %s", err.message, why);
}

Test(authz, a_live_account_passes_and_firebase_is_asked_once_per_window)
{
	char *t = token((long)time(NULL) - 100, NULL);

	for (int i = 0; i < 5; i++)
		cr_assert_eq(authorize(&signed_in, t), 0, "%s", err.message);
	cr_assert_eq(up.lookups, 1, "one lookup serves the window");
	clock_now += 59;
	cr_assert_eq(authorize(&signed_in, t), 0, "%s", err.message);
	cr_assert_eq(up.lookups, 1, "59 s later the answer still counts");
	clock_now += 1;
	cr_assert_eq(authorize(&signed_in, t), 0, "%s", err.message);
	cr_assert_eq(up.lookups, 2, "60 s after it was asked, Firebase is asked again");
	free(t);
}

Test(authz, a_deleted_user_is_refused_on_a_route_that_needs_no_membership)
{
	char *t = token((long)time(NULL) - 100, NULL);

	up.exists = false;
	expect_refused(authorize(&signed_in, t), 401, "no longer exists");
	cr_assert_str_eq(fx_err_name(err.kind), "UNAUTHENTICATED");
	free(t);
}

Test(authz, a_deleted_user_is_refused_although_their_profile_and_claims_agree)
{
	char *t = token((long)time(NULL) - 100, "\"organizationId\":\"org_1\",\"role\":\"manager\"");

	up.exists = false;
	up.profile_fields = "{\"organizationId\":{\"stringValue\":\"org_1\"},\"role\":{\"stringValue\":\"manager\"}}";
	expect_refused(authorize(&member, t), 401, "no longer exists");
	free(t);
}

Test(authz, a_disabled_user_is_refused)
{
	char *t = token((long)time(NULL) - 100, NULL);

	up.disabled = true;
	expect_refused(authorize(&signed_in, t), 401, "disabled");
	free(t);
}

Test(authz, a_token_signed_in_before_valid_since_is_refused)
{
	long signed_in_at = (long)time(NULL) - 100;
	char *t = token(signed_in_at, NULL);

	up.valid_since = signed_in_at + 1;
	expect_refused(authorize(&signed_in, t), 401, "revoked");
	free(t);
}

Test(authz, a_token_signed_in_at_valid_since_counts)
{
	long signed_in_at = (long)time(NULL) - 100;
	char *t = token(signed_in_at, NULL);

	/* As verifyIdToken: revoked only when auth_time is before validSince (both in seconds). */
	up.valid_since = signed_in_at;
	cr_assert_eq(authorize(&signed_in, t), 0, "%s", err.message);
	free(t);
}

Test(authz, a_revocation_in_firebase_is_seen_once_the_answer_is_a_window_old)
{
	long signed_in_at = (long)time(NULL) - 100;
	char *t = token(signed_in_at, NULL);

	cfg.revocation_check_seconds = 5;
	cr_assert_eq(authorize(&signed_in, t), 0, "%s", err.message);
	up.valid_since = signed_in_at + 50; /* revoked in the Firebase console */
	clock_now += 4;
	cr_assert_eq(authorize(&signed_in, t), 0, "the cached answer is at most 5 s old: %s", err.message);
	clock_now += 1;
	expect_refused(authorize(&signed_in, t), 401, "revoked");
	cr_assert_eq(up.lookups, 2);
	free(t);
}

Test(authz, identity_toolkit_down_with_no_fresh_answer_fails_closed_with_503)
{
	char *t = token((long)time(NULL) - 100, NULL);

	up.lookup_status = 503;
	expect_refused(authorize(&signed_in, t), 503, "Firebase Auth");
	cr_assert_str_eq(fx_err_name(err.kind), "UNAVAILABLE");
	cr_assert_null(strstr(err.message, "BACKEND_SECRET_WORDS"), "the backend's words stay in the log");
	cr_assert_eq(up.profile_reads, 1, "the profile was read at the same time, once");
	free(t);
}

Test(authz, a_fresh_answer_serves_while_identity_toolkit_is_down_and_no_longer)
{
	char *t = token((long)time(NULL) - 100, NULL);

	cr_assert_eq(authorize(&signed_in, t), 0, "%s", err.message);
	up.lookup_status = 500;
	clock_now += 30;
	cr_assert_eq(authorize(&signed_in, t), 0, "an answer 30 s old still counts: %s", err.message);
	clock_now += 30;
	expect_refused(authorize(&signed_in, t), 503, "Firebase Auth");
	up.lookup_status = 429;
	expect_refused(authorize(&signed_in, t), 503, "Firebase Auth");
	/* Our own credentials refused is no outage: still closed, as the internal error it is. */
	up.lookup_status = 403;
	expect_refused(authorize(&signed_in, t), 500, "Firebase Auth");
	free(t);
}

Test(authz, forget_makes_the_next_request_ask_firebase_again)
{
	char *t = token((long)time(NULL) - 100, NULL);

	cr_assert_eq(authorize(&signed_in, t), 0, "%s", err.message);
	up.disabled = true;
	fx_authz_forget(UID);
	expect_refused(authorize(&signed_in, t), 401, "disabled");
	cr_assert_eq(up.lookups, 2);
	free(t);
}

Test(authz, the_profile_still_refuses_what_firebase_accepts)
{
	long signed_in_at = (long)time(NULL) - 100;
	char *t = token(signed_in_at, NULL);
	char fields[200];

	up.profile_fields = "{\"disabled\":{\"booleanValue\":true}}";
	expect_refused(authorize(&signed_in, t), 401, "disabled");
	fx_authz_forget(UID);
	snprintf(fields, sizeof(fields), "{\"tokensValidAfter\":{\"integerValue\":\"%ld\"}}", signed_in_at + 1);
	up.profile_fields = fields;
	expect_refused(authorize(&signed_in, t), 401, "revoked");
	free(t);
}

Test(authz, a_clock_that_went_back_asks_again)
{
	char *t = token((long)time(NULL) - 100, NULL);

	cr_assert_eq(authorize(&signed_in, t), 0, "%s", err.message);
	clock_now -= 3600;
	cr_assert_eq(authorize(&signed_in, t), 0, "%s", err.message);
	cr_assert_eq(up.lookups, 2, "an answer from the future is not trusted as fresh");
	free(t);
}

/*
 * A miss asks Firebase Auth and reads the profile at once: the lookup
 * (on an upstream of its own) answers only once the profile read has
 * arrived. One after the other, the lookup waits for a read that never
 * comes and fails (503).
 */
Test(authz, a_miss_looks_up_the_account_and_reads_the_profile_at_once)
{
	char *t = token((long)time(NULL) - 100, "\"organizationId\":\"org_1\",\"role\":\"manager\"");

	identity_apart();
	up.meet = true;
	up.profile_fields = "{\"organizationId\":{\"stringValue\":\"org_1\"},\"role\":{\"stringValue\":\"manager\"}}";
	cr_assert_eq(authorize(&member, t), 0, "the lookup waited for a profile read that never came: %s", err.message);
	cr_assert_eq(up.lookups_met, 1, "the lookup was in flight while the profile was read");
	cr_assert_eq(up.lookups, 1, "a miss makes one lookup");
	cr_assert_eq(up.profile_reads, 1, "and one profile read");
	up.meet = false;
	cr_assert_eq(authorize(&member, t), 0, "%s", err.message);
	cr_assert_eq(up.lookups + up.profile_reads, 2, "both answers are kept: the next request asks nothing");
	free(t);
}

/* The two answers, fetched at once, combine as before: Firebase's revocation refuses a member. */
Test(authz, a_revoked_token_is_refused_whatever_the_profile_says)
{
	long signed_in_at = (long)time(NULL) - 100;
	char *t = token(signed_in_at, "\"organizationId\":\"org_1\",\"role\":\"manager\"");

	identity_apart();
	up.valid_since = signed_in_at + 1;
	up.profile_fields = "{\"organizationId\":{\"stringValue\":\"org_1\"},\"role\":{\"stringValue\":\"manager\"}}";
	expect_refused(authorize(&member, t), 401, "revoked");
	cr_assert_eq(up.lookups, 1);
	cr_assert_eq(up.profile_reads, 1);
	free(t);
}

/* A live account whose profile names no organization is signed in, not a member. */
Test(authz, a_live_account_without_a_membership_is_refused_a_member_route)
{
	char *t = token((long)time(NULL) - 100, "\"organizationId\":\"org_1\",\"role\":\"manager\"");

	identity_apart();
	expect_refused(authorize(&member, t), 403, "not a member");
	cr_assert_eq(authorize(&signed_in, t), 0, "%s", err.message);
	cr_assert_eq(up.lookups, 1, "one lookup and one read served both requests");
	cr_assert_eq(up.profile_reads, 1);
	free(t);
}

/*
 * Either call failing answers what it answered when the lookup came
 * first: the lookup's failure wins, then the read's; and neither answer
 * is kept, so the next request asks both again.
 */
Test(authz, a_failed_call_answers_as_before_and_nothing_is_kept)
{
	char *t = token((long)time(NULL) - 100, NULL);

	identity_apart();
	up.profile_status = 403; /* Firestore refusing: 503 to the caller, not retried */
	expect_refused(authorize(&signed_in, t), 503, "firestore get failed");
	cr_assert_eq(up.lookups, 1);
	cr_assert_eq(up.profile_reads, 1);

	up.lookup_status = 403; /* both failing: the lookup's answer (ours refused: 500) */
	expect_refused(authorize(&signed_in, t), 500, "Firebase Auth");
	cr_assert_eq(up.lookups, 2, "the failed read kept nothing: asked again");
	cr_assert_eq(up.profile_reads, 2);

	up.profile_status = 0; /* the lookup alone failing */
	expect_refused(authorize(&signed_in, t), 500, "Firebase Auth");
	cr_assert_eq(up.lookups, 3);
	cr_assert_eq(up.profile_reads, 3, "the good read was not kept either");

	up.lookup_status = 200;
	cr_assert_eq(authorize(&signed_in, t), 0, "%s", err.message);
	cr_assert_eq(authorize(&signed_in, t), 0, "%s", err.message);
	cr_assert_eq(up.lookups, 4);
	cr_assert_eq(up.profile_reads, 4);
	free(t);
}

/* One request of a thread of its own, for requests in flight together. */
struct caller {
	const char *token;
	pthread_t thread;
	int rc;
	struct fx_err err;
};

static void *call(void *arg)
{
	struct caller *c = arg;
	struct fx_arena arena;
	struct fx_req r;
	char auth[8192];
	char *envp[] = {auth, NULL};

	snprintf(auth, sizeof(auth), "HTTP_AUTHORIZATION=Bearer %s", c->token);
	fx_arena_init(&arena, 1 << 20);
	memset(&r, 0, sizeof(r));
	r.envp = envp;
	r.arena = &arena;
	r.route = &member;
	fx_err_clear(&c->err);
	up.callers_in++;
	c->rc = fx_authz_request(&r, &c->err);
	fx_arena_cleanup(&arena);
	return NULL;
}

#define CALLERS 4

/* CALLERS requests for one uid at once, its lookup held until all of them are in fx_authz_request. */
static void call_together(struct caller *c, const char *tok)
{
	up.hold_for_callers = CALLERS;
	for (int i = 0; i < CALLERS; i++) {
		c[i].token = tok;
		cr_assert_eq(pthread_create(&c[i].thread, NULL, call, &c[i]), 0);
	}
	for (int i = 0; i < CALLERS; i++)
		pthread_join(c[i].thread, NULL);
	up.hold_for_callers = 0;
}

/*
 * Every serving thread can miss a uid at once (its snapshot expired): one
 * of them asks Firebase Auth and Firestore, the others wait for its answer.
 * Before, each made both calls itself (and started a side thread of its own).
 */
Test(authz, threads_missing_one_uid_together_make_one_lookup_and_one_read)
{
	char *t = token((long)time(NULL) - 100, "\"organizationId\":\"org_1\",\"role\":\"manager\"");
	struct caller c[CALLERS];

	identity_apart();
	up.profile_fields = "{\"organizationId\":{\"stringValue\":\"org_1\"},\"role\":{\"stringValue\":\"manager\"}}";
	call_together(c, t);
	for (int i = 0; i < CALLERS; i++)
		cr_assert_eq(c[i].rc, 0, "request %d: %s", i, c[i].err.message);
	cr_assert_eq(up.lookups, 1, "%u requests missing one uid together made %u lookups", CALLERS, up.lookups);
	cr_assert_eq(up.profile_reads, 1, "and %u profile reads", up.profile_reads);
	free(t);
}

/* The threads that waited answer what the fetch failed with, and nothing is kept: the next miss asks again. */
Test(authz, a_waiter_gets_the_fetchers_failure)
{
	char *t = token((long)time(NULL) - 100, "\"organizationId\":\"org_1\",\"role\":\"manager\"");
	struct caller c[CALLERS];

	identity_apart();
	up.lookup_status = 403; /* our credentials refused: 500 */
	call_together(c, t);
	for (int i = 0; i < CALLERS; i++) {
		cr_assert_eq(c[i].rc, -1, "request %d was refused", i);
		cr_assert_eq(fx_err_http(c[i].err.kind), 500, "request %d: %d %s", i, fx_err_http(c[i].err.kind),
			     c[i].err.message);
		cr_assert(strstr(c[i].err.message, "Firebase Auth"), "request %d: %s", i, c[i].err.message);
	}
	cr_assert_eq(up.lookups, 1, "one lookup for all of them, not %u", up.lookups);
	cr_assert_eq(up.profile_reads, 1);
	up.lookup_status = 200;
	expect_refused(authorize(&member, t), 403, "not a member");
	cr_assert_eq(up.lookups, 2, "the failure was not kept");
	free(t);
}

/* A metadata server whose token answer waits until the test releases it (at most HOLD_MAX_MS). */
static void held_token(const struct ts_request *req, struct ts_response *resp, void *ctx)
{
	(void)req;
	(void)ctx;
	up.token_calls++;
	for (int waited = 0; !up.token_released && waited < HOLD_MAX_MS; waited++)
		usleep(1000);
	resp->status = 200;
	snprintf(resp->headers, sizeof(resp->headers), "Content-Type: application/json\r\nMetadata-Flavor: Google\r\n");
	resp->body_len =
		(size_t)snprintf(resp->body, sizeof(resp->body),
				 "{\"access_token\":\"ya29.held\",\"expires_in\":3599,\"token_type\":\"Bearer\"}");
}

/*
 * A thread waiting for another's fetch waits no longer than a call of its
 * own could take (http_timeout_ms), then answers 503 without asking itself.
 * Here the fetch outlasts it in the access token for Identity Toolkit,
 * which has a budget of its own.
 */
Test(authz, a_waiter_gives_up_after_a_calls_time)
{
	char *t = token((long)time(NULL) - 100, "\"organizationId\":\"org_1\",\"role\":\"manager\"");
	struct caller fetcher = {0};
	int waited = 0, rc;

	identity_apart();
	ts_metadata = ts_start();
	ts_handle(ts_metadata, held_token, NULL);
	cfg.auth_emulator = NULL; /* Identity Toolkit's calls need an access token: the metadata server's */
	cfg.metadata_url = ts_url(ts_metadata);
	cfg.http_timeout_ms = 1000;
	up.profile_fields = "{\"organizationId\":{\"stringValue\":\"org_1\"},\"role\":{\"stringValue\":\"manager\"}}";
	fetcher.token = t;
	cr_assert_eq(pthread_create(&fetcher.thread, NULL, call, &fetcher), 0);
	/* (not ts_count: it waits for the handler's answer) */
	while (up.token_calls == 0 && waited++ < HOLD_MAX_MS)
		usleep(1000);
	cr_assert_eq(up.token_calls, 1, "the fetch is waiting for its access token");
	rc = authorize(&member, t);
	cr_assert_eq(up.lookups + up.token_calls, 1,
		     "the waiter asked nothing itself, and gave up before the fetch ended");
	up.token_released = true;
	pthread_join(fetcher.thread, NULL);
	expect_refused(rc, 503, "try again");
	cr_assert_eq(fetcher.rc, 0, "the fetch itself succeeded: %s", fetcher.err.message);
	cr_assert_eq(up.lookups, 1);
	cr_assert_eq(up.profile_reads, 1);
	cr_assert_eq(authorize(&member, t), 0, "its answers are kept: %s", err.message);
	cr_assert_eq(up.lookups + up.profile_reads, 2);
	free(t);
}

/*
 * A uid forgotten while its fetch is in flight: that fetch's answers are not
 * kept, and the threads that waited for it fetch again, once between them.
 */
Test(authz, a_uid_forgotten_during_its_fetch_is_fetched_again_once)
{
	char *t = token((long)time(NULL) - 100, "\"organizationId\":\"org_1\",\"role\":\"manager\"");
	struct caller c[CALLERS];
	int waited = 0;

	identity_apart();
	up.profile_fields = "{\"organizationId\":{\"stringValue\":\"org_1\"},\"role\":{\"stringValue\":\"manager\"}}";
	up.hold_lookups = true;
	for (int i = 0; i < CALLERS; i++) {
		c[i].token = t;
		cr_assert_eq(pthread_create(&c[i].thread, NULL, call, &c[i]), 0);
	}
	while ((up.lookups == 0 || up.callers_in < CALLERS) && waited++ < HOLD_MAX_MS)
		usleep(1000);
	cr_assert_eq(up.lookups, 1, "one lookup in flight for %u callers", up.callers_in);
	fx_authz_forget(UID);
	up.lookups_released = true;
	for (int i = 0; i < CALLERS; i++)
		pthread_join(c[i].thread, NULL);
	for (int i = 0; i < CALLERS; i++)
		cr_assert_eq(c[i].rc, 0, "request %d: %s", i, c[i].err.message);
	cr_assert_eq(up.lookups, 2, "the forgotten answer was fetched again once, not %u times", up.lookups - 1);
	cr_assert_eq(up.profile_reads, 2);
	free(t);
}
