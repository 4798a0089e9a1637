/*
 * fx_router: a group's route table. A pattern is a path of literal and
 * {name} segments; the last segment may carry a Google custom method
 * ("/v1/orders/{id}:cancel", "/v1/insights:generate"). Each route declares
 * who may call it; the worker enforces that before the handler runs.
 */
#ifndef FX_ROUTER_H
#define FX_ROUTER_H

#include "err.h"

#include <stddef.h>

struct fx_req;

/* Roles in increasing power; FX_ROLE_NONE is a signed-in user without one. */
enum fx_role { FX_ROLE_NONE, FX_ROLE_VIEWER, FX_ROLE_STAFF, FX_ROLE_MANAGER, FX_ROLE_ADMIN, FX_ROLE_OWNER };

/* Who may call a route. */
enum fx_access {
	FX_PUBLIC, /* no token */
	FX_SIGNED_IN, /* any valid Firebase token, organization optional */
	FX_MEMBER, /* a member of an organization with at least min_role */
	FX_JOB, /* Cloud Scheduler's OIDC token, or a member with min_role */
};

/* Route flags. */
#define FX_BODY_JSON 0x1u /* body, if any, must be application/json */
#define FX_BODY_RAW 0x2u /* body taken as bytes (files) */

/* A handler answers through fx_http_resp_* and returns 0, or returns -1 with e set. */
typedef int (*fx_handler)(struct fx_req *r, struct fx_err *e);

struct fx_route {
	const char *method;
	const char *pattern;
	fx_handler handler;
	enum fx_access access;
	enum fx_role min_role;
	unsigned flags;
	size_t max_body; /* 0: FX_DEFAULT_MAX_BODY */
};

/* API.md "bodies": at most 1 MiB unless a route says more (files); nginx gets it from the route table. */
#define FX_DEFAULT_MAX_BODY (1024 * 1024)
#define FX_MAX_PARAMS 4

struct fx_params {
	int n;
	const char *name[FX_MAX_PARAMS]; /* points into the pattern, ends at '}' */
	char *value[FX_MAX_PARAMS]; /* percent-decoded, malloc'd by the caller's arena */
};

struct fx_arena;

/*
 * Finds the route for method and raw path (percent-encoded, no query).
 * Returns the route and fills params (values decoded into arena), or NULL
 * with e set: 404 when no pattern matches, 405 (allow filled with the
 * methods the path accepts, comma-separated) when only the method differs,
 * 400 for a malformed path.
 */
FX_MUST_USE const struct fx_route *fx_router_match(const struct fx_route *routes, size_t n, const char *method,
						   const char *path, struct fx_arena *arena, struct fx_params *params,
						   char *allow, size_t allow_len, struct fx_err *e);

/* The decoded value of path parameter name, or NULL. */
const char *fx_router_params_get(const struct fx_params *p, const char *name);

/* Decodes %XX escapes of s[0..n) into arena; NULL on a bad escape or NUL. */
FX_MUST_USE char *fx_router_percent_decode(struct fx_arena *arena, const char *s, size_t n, int plus_is_space);

#endif
