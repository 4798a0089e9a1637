/*
 * fx_authz: who is calling. Turns the request's bearer token into a
 * principal and enforces the route's declared access before its handler
 * runs. Principals live in the request arena.
 */
#ifndef FX_AUTHZ_H
#define FX_AUTHZ_H

#include "err.h"
#include "router.h"

#include <stdbool.h>

struct fx_req;

struct fx_principal {
	const char *uid;
	const char *email;
	const char *organization_id; /* NULL before joining one */
	enum fx_role role;
	bool scheduler; /* Cloud Scheduler's service account (jobs only) */
};

/* Decides r->route's access for r; sets r->principal. 401/403/503 on refusal. */
int fx_authz_request(struct fx_req *r, struct fx_err *e);

/* Role names as in the contract; fx_role_parse returns -1 for others. */
const char *fx_role_name(enum fx_role role);
int fx_role_parse(const char *s);

#endif
