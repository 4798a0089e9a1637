/*
 * fx_authz: who is calling. Turns the request's bearer token into a
 * principal and enforces the route's declared access before its handler
 * runs. Membership comes from the token's custom claims and is checked
 * against the member profile in Firestore (users/{uid}), cached per uid
 * for FX_AUTHZ_CACHE_SECONDS and dropped at once in every process of the
 * container when fx_authz_forget says it changed: a removed, disabled or
 * demoted member, or one whose sessions were revoked, is refused within
 * that time (at once when the change came through this container) although
 * the token is still valid. Principals live in the request arena.
 */
#ifndef FX_AUTHZ_H
#define FX_AUTHZ_H

#include "err.h"
#include "router.h"

#include <stdbool.h>
#include <stdint.h>

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

/* Forgets the cached profile of uid in every process of this container (after a change to users/{uid}). */
void fx_authz_forget(const char *uid);

/* Role names as in the contract; fx_role_parse returns -1 for others. */
const char *fx_role_name(enum fx_role role);
FX_MUST_USE int fx_role_parse(const char *s);

#endif
