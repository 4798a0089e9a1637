/*
 * fx_authz: who is calling. Turns the request's bearer token into a
 * principal and enforces the route's declared access before its handler
 * runs. On every request with a Firebase ID token, however the route is
 * declared, two sources must agree that the token still counts:
 *   - Firebase Auth itself, as the Admin SDK's verifyIdToken(token,
 *     checkRevoked) asks it (Identity Toolkit accounts:lookup): the user
 *     exists, is not disabled, and the token's auth_time is not before the
 *     user's validSince. The answer is kept per uid for at most config
 *     revocation_check_seconds (FLUXORI_REVOCATION_CHECK_SECONDS, at most
 *     60): a user deleted, disabled or revoked in Firebase Auth, through
 *     this API or directly, is refused (401) within that time in every
 *     instance, since each asks Firebase itself. When no answer that young
 *     exists and Identity Toolkit cannot be asked, the request fails closed:
 *     503 UNAVAILABLE (500 if Identity Toolkit refuses our own credentials).
 *   - The member profile in Firestore (users/{uid}), kept for
 *     FX_AUTHZ_CACHE_SECONDS: its disabled and tokensValidAfter refuse the
 *     token too, and membership (organization, role) comes from the token's
 *     custom claims only while the profile agrees.
 * Both halves are one snapshot per uid, dropped at once in every process of
 * the container when fx_authz_forget says the uid changed. When both are
 * to be fetched (a uid's first request in a process), the two calls run at
 * once (fx_httpc_both); Identity Toolkit's failure answers first, as if it
 * had been asked first, and nothing is kept when either fails. One thread
 * of a process fetches a uid at a time: the others missing it meanwhile
 * wait for that answer (its failure too; 503 if it outlasts a call's
 * http_timeout_ms) instead of making the same calls. Cloud
 * Scheduler's OIDC tokens (job routes) are service accounts, not Firebase
 * users: they are not looked up. Principals live in the request arena.
 */
#ifndef FX_AUTHZ_H
#define FX_AUTHZ_H

#include "err.h"
#include "router.h"

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define FX_AUTHZ_CACHE_SECONDS 30

struct fx_req;

struct fx_principal {
	const char *uid;
	const char *email;
	const char *organization_id; /* NULL before joining one */
	enum fx_role role; /* FX_ROLE_NONE without an organization */
	bool scheduler; /* Cloud Scheduler's service account (jobs only) */
	int64_t auth_time;
	bool has_profile; /* users/{uid} exists */
	const char *profile; /* its API JSON as authorized with (at most FX_AUTHZ_CACHE_SECONDS old,
				and never older than a change made in this container); NULL when too big */
};

/* Fields of users/{uid} that no answer shows. */
extern const char *const fx_profile_hidden[];

/* Decides r->route's access for r; sets r->principal. 401/403/503 on refusal. */
FX_MUST_USE int fx_authz_request(struct fx_req *r, struct fx_err *e);

/*
 * Forgets what is cached of uid (profile and Firebase Auth account) in every
 * process of this container: call it after changing users/{uid} or the
 * user's Firebase account, as soon as the change is made (before any later
 * step that may fail), so the next request asks again.
 */
void fx_authz_forget(const char *uid);

/* Tests: replaces the clock of the cache (NULL restores time()); empties the cache of this process. */
void fx_authz_set_clock(time_t (*now)(void));
void fx_authz_reset(void);

/* Role names as in the contract; fx_authz_role_parse returns -1 for others. */
const char *fx_authz_role_name(enum fx_role role);
FX_MUST_USE int fx_authz_role_parse(const char *s);

#endif
