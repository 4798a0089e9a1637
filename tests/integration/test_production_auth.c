/*
 * The production token path through nginx: a worker instance that
 * verifies Firebase ID tokens as on Google (RS256, keys fetched from a
 * certificate endpoint with Cache-Control), served here by a local server
 * with the test signer's certificate. Tokens are minted with the test key
 * for users of the Auth emulator, which the instance asks, as it would ask
 * Firebase Auth, whether each user still exists, is enabled and was not
 * revoked: at most FLUXORI_REVOCATION_CHECK_SECONDS (here 2) apart.
 * The instance has the Auth emulator but no FLUXORI_AUTH_EMULATOR_TOKENS:
 * the setting under which unsigned tokens used to pass (defect 5).
 */
#include "buf.h"
#include "client.h"
#include "instance.h"
#include "testjwt.h"
#include "testserver.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WINDOW 2 /* FLUXORI_REVOCATION_CHECK_SECONDS of the instance */
#define DEADLINE 30 /* seconds a test waits for what must happen within WINDOW */

static struct testserver *certs;
static struct instance api;

static void setup(void)
{
	char extra[512];

	certs = test_cert_server();
	/* An empty value unsets the opt-in the base env file carries. */
	snprintf(extra, sizeof(extra),
		 "FLUXORI_AUTH_EMULATOR_TOKENS=\nFLUXORI_FIREBASE_KEYS_URL=%s/certs\n"
		 "FLUXORI_REVOCATION_CHECK_SECONDS=%d\nFLUXORI_LOG_LEVEL=INFO\n",
		 ts_url(certs), WINDOW);
	instance_start(&api, extra);
}

static void teardown(void)
{
	instance_stop(&api);
	ts_stop(certs);
}

TestSuite(rs256, .init = setup, .fini = teardown, .timeout = 120);

enum alg { RS256_SIGNER1, RS256_SIGNER2, HS256_PUBLIC_KEY, NONE };

/*
 * A Firebase-shaped ID token for uid signed in at auth_time, with claims
 * (JSON members or NULL), minted with libjwt and signed as alg says.
 */
static char *mint_at(enum alg alg, const char *uid, long auth_time, const char *claims)
{
	struct fx_buf payload;
	long now = (long)time(NULL);
	char *key = NULL, *tok = NULL;

	fx_buf_init(&payload, 4096);
	cr_assert_eq(fx_buf_printf(&payload,
				   "{\"iss\":\"https://securetoken.google.com/"
				   "demo-fluxori\",\"aud\":\"demo-fluxori\",\"sub\":\"%s\","
				   "\"auth_time\":%ld,\"iat\":%ld,\"exp\":%ld,\"email\":\"%s@example.co.za\"%s%s}",
				   uid, auth_time, now - 10, now + 3600, uid, claims ? "," : "", claims ? claims : ""),
		     0);
	switch (alg) {
	case RS256_SIGNER1:
	case RS256_SIGNER2:
		key = test_slurp(test_data(alg == RS256_SIGNER1 ? "signer1.key.pem" : "signer2.key.pem"));
		tok = tj_mint(JWT_ALG_RS256, key, "kid1", payload.data);
		break;
	case HS256_PUBLIC_KEY:
		/* The classic confusion attack: the RSA certificate as an HMAC secret. */
		key = test_slurp(test_data("signer1.cert.pem"));
		tok = tj_mint(JWT_ALG_HS256, key, "kid1", payload.data);
		break;
	case NONE: tok = tj_mint(JWT_ALG_NONE, NULL, NULL, payload.data); break;
	}
	free(key);
	fx_buf_cleanup(&payload);
	return tok;
}

static char *mint(enum alg alg, const char *uid)
{
	return mint_at(alg, uid, (long)time(NULL) - 10, NULL);
}

static struct http_resp *me(const char *token)
{
	char url[128], auth[8192];
	const char *h[] = {auth, NULL};

	snprintf(url, sizeof(url), "%s/v1/users/me", api.base);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	return http_url("GET", url, h, NULL, 0);
}

/*
 * Each worker with authenticated routes fetches the keys once, right after
 * it is ready, before any request (lib/worker.c's warm-up); the first
 * request then fetches none: they are cached (max-age).
 */
Test(rs256, a_token_signed_by_a_published_key_is_accepted)
{
	struct test_user u;
	char *t;
	struct http_resp *r;
	static const char *const keys_ok[] = {" warm-up in ", "signing keys ok", NULL};
	int warmed = instance_warmed_up(&api, keys_ok);

	cr_assert_gt(warmed, 0, "no worker warmed its signing keys");
	cr_assert_eq(ts_count(certs), (unsigned)warmed, "each warm-up fetched the keys once: %u fetches, %d warm-ups",
		     ts_count(certs), warmed);
	cr_assert_eq(test_user_signup(&u, "rs256"), 0);
	t = mint_at(RS256_SIGNER1, u.uid, (long)time(NULL), NULL);
	r = me(t);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "id"), u.uid);
	http_resp_free(r);
	free(t);
	cr_assert_eq(ts_count(certs), (unsigned)warmed, "the first request fetched the keys again");
}

/*
 * A worker whose warm-up cannot reach the key server (down: connections
 * closed unanswered) still starts and serves: the warm-up says so once
 * (no token, no key in the line), and once the key server is back the
 * first request fetches the keys itself, without waiting out the pause
 * that follows a failed fetch. With FLUXORI_WARM_UP=all the emulators are
 * called too (Firestore, Auth), which auto skips for plain-http backends.
 */
Test(rs256, a_worker_whose_key_server_is_unreachable_still_starts_and_serves)
{
	static const char *const keys_ok[] = {" warm-up in ", "signing keys ok", NULL},
				 *const keys_failed[] = {" warm-up in ", "signing keys failed", "firestore ok",
							 "firebase auth ok", "left cold: signing keys: ", NULL};
	struct testserver *down = test_cert_server();
	struct instance cold;
	struct test_user u;
	char extra[256], url[160], auth[8192], *t;
	const char *h[] = {auth, NULL};
	struct http_resp *r;

	ts_down(down, true);
	snprintf(extra, sizeof(extra),
		 "FLUXORI_AUTH_EMULATOR_TOKENS=\nFLUXORI_FIREBASE_KEYS_URL=%s/certs\nFLUXORI_WARM_UP=all\n"
		 "FLUXORI_LOG_LEVEL=INFO\n",
		 ts_url(down));
	instance_start(&cold, extra);
	cr_assert_eq(instance_warmed_up(&cold, keys_ok), 0);
	if (instance_warmed_up(&cold, keys_failed) == 0)
		test_sh("grep -m3 ' warm-up' '%s/api.log' >&2", cold.run);
	cr_assert_gt(instance_warmed_up(&cold, keys_failed), 0, "the warm-up's line names what failed (%s/api.log)", cold.run);
	snprintf(url, sizeof(url), "%s/health", cold.base);
	r = http_url("GET", url, NULL, NULL, 0);
	cr_assert_eq(r->status, 200, "%s", r->body);
	http_resp_free(r);
	ts_down(down, false);
	cr_assert_eq(test_user_signup(&u, "rs256cold"), 0);
	t = mint_at(RS256_SIGNER1, u.uid, (long)time(NULL), NULL);
	snprintf(url, sizeof(url), "%s/v1/users/me", cold.base);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", t);
	r = http_url("GET", url, h, NULL, 0);
	cr_assert_eq(r->status, 200, "the key server is back: the first request fetches the keys (%s)", r->body);
	http_resp_free(r);
	free(t);
	instance_stop(&cold);
	ts_stop(down);
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

/* ---- Firebase Auth's own word (issue 12, defect 9 and section 1b) ---- */

/* One request to the instance; body NULL for none. */
static long api_status(const char *method, const char *path, const char *token, const char *body, char *out,
		       size_t out_len)
{
	char url[256], auth[8192];
	const char *h[] = {auth, "Content-Type: application/json", NULL};
	struct http_resp *r;
	long s;

	snprintf(url, sizeof(url), "%s%s", api.base, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	r = http_url(method, url, h, body, body ? strlen(body) : 0);
	s = r->status;
	if (out)
		snprintf(out, out_len, "%s", r->body);
	http_resp_free(r);
	return s;
}

/* Repeats the request until it answers want or DEADLINE passes; returns the last status. */
static long wait_for(long want, const char *method, const char *path, const char *token, const char *body)
{
	char last[512] = "";
	time_t end = time(NULL) + DEADLINE;
	long s;

	while ((s = api_status(method, path, token, body, last, sizeof(last))) != want && time(NULL) < end)
		usleep(100 * 1000);
	cr_assert_eq(s, want, "%s %s: wanted %ld within %d s, still %ld: %s", method, path, want, DEADLINE, s, last);
	return s;
}

/* A signed-up user who owns an organization (made through the shared stack), and an RS256 token carrying it. */
struct owner {
	struct test_user u;
	char org[64], org_path[128];
	long signed_in_at;
	char *token;
};

static void make_owner(struct owner *o)
{
	struct http_resp *r;
	char claims[200];

	cr_assert_eq(test_user_signup(&o->u, "prodowner"), 0);
	r = http_json("POST", "/v1/organizations", o->u.id_token, "{\"name\":\"Production Traders\"}");
	cr_assert_eq(r->status, 201, "%s", r->body);
	snprintf(o->org, sizeof(o->org), "%s", json_str(r, "id"));
	http_resp_free(r);
	snprintf(o->org_path, sizeof(o->org_path), "/v1/organizations/%s", o->org);
	snprintf(claims, sizeof(claims), "\"organizationId\":\"%s\",\"role\":\"owner\"", o->org);
	o->signed_in_at = (long)time(NULL);
	o->token = mint_at(RS256_SIGNER1, o->u.uid, o->signed_in_at, claims);
	cr_assert_eq(api_status("GET", "/v1/users/me", o->token, NULL, NULL, 0), 200);
	cr_assert_eq(api_status("GET", o->org_path, o->token, NULL, NULL, 0), 200);
}

Test(rs256, a_validly_signed_token_for_a_uid_firebase_does_not_know_is_refused)
{
	char uid[64], *t;
	struct http_resp *r;

	snprintf(uid, sizeof(uid), "ghost-%s", test_unique());
	t = mint(RS256_SIGNER1, uid);
	r = me(t);
	cr_assert_eq(r->status, 401, "%s", r->body);
	cr_assert_str_eq(json_str(r, "error.status"), "UNAUTHENTICATED");
	http_resp_free(r);
	free(t);
}

Test(rs256, a_validly_signed_token_of_a_user_deleted_in_firebase_is_refused_on_every_route)
{
	const struct {
		const char *method, *path, *body;
	} routes[] = {
		{"GET", "/v1/users/me", NULL},
		{"PATCH", "/v1/users/me", "{\"displayName\":\"Ghost\"}"},
		{"POST", "/v1/organizations", "{\"name\":\"Ghost Traders\"}"},
		{"GET", "/v1/products", NULL},
		{"GET", "/v1/users", NULL},
		{"POST", "/v1/jobs/cleanup", NULL},
		{"DELETE", "/v1/users/me", NULL},
	};
	struct owner o;
	char body[200];

	make_owner(&o);
	snprintf(body, sizeof(body), "{\"localId\":\"%s\"}", o.u.uid);
	cr_assert_eq(test_auth_admin(":delete", body), 200, "deleted in Firebase Auth directly");
	wait_for(401, "GET", o.org_path, o.token, NULL);
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		wait_for(401, routes[i].method, routes[i].path, o.token, routes[i].body);
	free(o.token);
}

Test(rs256, revoking_a_users_sessions_in_firebase_refuses_their_token_within_the_window)
{
	struct owner o;
	char body[200], *fresh;
	long valid_since;

	make_owner(&o);
	/* As revokeRefreshTokens: validSince, in seconds, after the token's sign-in. */
	valid_since = o.signed_in_at + 1;
	snprintf(body, sizeof(body), "{\"localId\":\"%s\",\"validSince\":\"%ld\"}", o.u.uid, valid_since);
	cr_assert_eq(test_auth_admin(":update", body), 200);
	wait_for(401, "GET", "/v1/users/me", o.token, NULL);
	wait_for(401, "PATCH", "/v1/users/me", o.token, "{\"displayName\":\"Revoked\"}");
	wait_for(401, "POST", "/v1/organizations", o.token, "{\"name\":\"Revoked Traders\"}");
	wait_for(401, "GET", o.org_path, o.token, NULL);
	/* Signing in again (a session from validSince on) works. */
	{
		char claims[200];

		snprintf(claims, sizeof(claims), "\"organizationId\":\"%s\",\"role\":\"owner\"", o.org);
		while (time(NULL) < valid_since)
			usleep(50 * 1000);
		fresh = mint_at(RS256_SIGNER1, o.u.uid, valid_since, claims);
		wait_for(200, "GET", o.org_path, fresh, NULL);
		free(fresh);
	}
	free(o.token);
}

Test(rs256, disabling_a_user_in_firebase_refuses_their_token_within_the_window)
{
	struct owner o;
	char body[200];

	make_owner(&o);
	snprintf(body, sizeof(body), "{\"localId\":\"%s\",\"disableUser\":true}", o.u.uid);
	cr_assert_eq(test_auth_admin(":update", body), 200);
	wait_for(401, "GET", "/v1/users/me", o.token, NULL);
	wait_for(401, "PATCH", "/v1/users/me", o.token, "{\"displayName\":\"Disabled\"}");
	wait_for(401, "GET", o.org_path, o.token, NULL);
	/* Enabled again: the same token counts again (it was never revoked). */
	snprintf(body, sizeof(body), "{\"localId\":\"%s\",\"disableUser\":false}", o.u.uid);
	cr_assert_eq(test_auth_admin(":update", body), 200);
	wait_for(200, "GET", "/v1/users/me", o.token, NULL);
	wait_for(200, "GET", o.org_path, o.token, NULL);
	free(o.token);
}
