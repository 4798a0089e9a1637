/*
 * fuzz_request: what nginx hands a worker for a request. The input is
 * lines: the method, the request target, then FastCGI params "NAME=value"
 * (HTTP_IF_MATCH=..., HTTP_TRACEPARENT=...). fx_req_init parses the target,
 * query string, request id and trace headers; then the route table of
 * every handler matches the path (percent-escapes, custom methods), and
 * the client-controlled parts handlers read are decoded: query
 * allowlist, pageSize, pageToken, If-Match and Idempotency-Key.
 */
#include "arena.h"
#include "authz.h"
#include "http.h"
#include "idempotency.h"
#include "model.h"
#include "router.h"
#include "value.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINES 40

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int h(struct fx_req *r, struct fx_err *e)
{
	(void)r;
	(void)e;
	return 0;
}

/* Every route of the handlers. */
static const struct fx_route routes[] = {
	{"GET", "/v1/health", h, FX_PUBLIC, FX_ROLE_NONE, 0, 0},
	{"POST", "/v1/files", h, FX_MEMBER, FX_ROLE_STAFF, FX_BODY_RAW, 0},
	{"POST", "/v1/files:signUpload", h, FX_MEMBER, FX_ROLE_STAFF, FX_BODY_JSON, 0},
	{"POST", "/v1/files/{id}:complete", h, FX_MEMBER, FX_ROLE_STAFF, FX_BODY_JSON, 0},
	{"GET", "/v1/files", h, FX_MEMBER, FX_ROLE_VIEWER, 0, 0},
	{"GET", "/v1/files/{id}", h, FX_MEMBER, FX_ROLE_VIEWER, 0, 0},
	{"GET", "/v1/files/{id}/content", h, FX_MEMBER, FX_ROLE_VIEWER, 0, 0},
	{"DELETE", "/v1/files/{id}", h, FX_MEMBER, FX_ROLE_MANAGER, 0, 0},
	{"GET", "/v1/insights", h, FX_MEMBER, FX_ROLE_VIEWER, 0, 0},
	{"POST", "/v1/insights:generate", h, FX_MEMBER, FX_ROLE_MANAGER, FX_BODY_JSON, 0},
	{"GET", "/v1/insights/{id}", h, FX_MEMBER, FX_ROLE_VIEWER, 0, 0},
	{"PATCH", "/v1/insights/{id}", h, FX_MEMBER, FX_ROLE_STAFF, FX_BODY_JSON, 0},
	{"GET", "/v1/jobs/runs", h, FX_MEMBER, FX_ROLE_ADMIN, 0, 0},
	{"POST", "/v1/jobs/{name}", h, FX_JOB, FX_ROLE_ADMIN, 0, 0},
	{"POST", "/v1/orders", h, FX_MEMBER, FX_ROLE_STAFF, FX_BODY_JSON, 0},
	{"GET", "/v1/orders", h, FX_MEMBER, FX_ROLE_VIEWER, 0, 0},
	{"GET", "/v1/orders/{id}", h, FX_MEMBER, FX_ROLE_VIEWER, 0, 0},
	{"PATCH", "/v1/orders/{id}", h, FX_MEMBER, FX_ROLE_STAFF, FX_BODY_JSON, 0},
	{"POST", "/v1/orders/{id}:confirm", h, FX_MEMBER, FX_ROLE_STAFF, FX_BODY_JSON, 0},
	{"POST", "/v1/orders/{id}:cancel", h, FX_MEMBER, FX_ROLE_STAFF, FX_BODY_JSON, 0},
	{"POST", "/v1/organizations", h, FX_SIGNED_IN, FX_ROLE_NONE, FX_BODY_JSON, 0},
	{"GET", "/v1/organizations/{id}", h, FX_MEMBER, FX_ROLE_VIEWER, 0, 0},
	{"GET", "/v1/products", h, FX_MEMBER, FX_ROLE_VIEWER, 0, 0},
	{"GET", "/v1/products/{id}", h, FX_MEMBER, FX_ROLE_VIEWER, 0, 0},
	{"POST", "/v1/products/{id}/stock:adjust", h, FX_MEMBER, FX_ROLE_STAFF, FX_BODY_JSON, 0},
	{"GET", "/v1/products/{id}/movements", h, FX_MEMBER, FX_ROLE_VIEWER, 0, 0},
	{"DELETE", "/v1/products/{id}/images/{fileId}", h, FX_MEMBER, FX_ROLE_MANAGER, 0, 0},
	{"POST", "/v1/reports", h, FX_MEMBER, FX_ROLE_MANAGER, FX_BODY_JSON, 0},
	{"GET", "/v1/users/me", h, FX_SIGNED_IN, FX_ROLE_NONE, 0, 0},
	{"GET", "/v1/users/me/export", h, FX_SIGNED_IN, FX_ROLE_NONE, 0, 0},
	{"GET", "/v1/users/{id}", h, FX_MEMBER, FX_ROLE_VIEWER, 0, 0},
};

static const char *const allowed[] = {"pageSize", "pageToken", "status", "filter", "q", NULL};

static void handle(struct fx_req *r)
{
	struct fx_principal who = {.uid = "u1", .organization_id = "org1", .role = FX_ROLE_OWNER};
	const struct fx_route *route;
	struct fx_value cursor = {0};
	struct fx_idem idem;
	struct fx_err e;
	const char *s;
	char allow[128];
	int n;

	fx_err_clear(&e);
	route = fx_router_match(routes, sizeof(routes) / sizeof(routes[0]), r->method, r->path, r->arena, &r->params,
				allow, sizeof(allow), &e);
	if (route) {
		r->route = route;
		for (int i = 0; i < r->params.n; i++)
			if (!r->params.value[i] || !fx_req_param(r, "id") != !strstr(route->pattern, "{id}"))
				abort();
	} else if (e.code != 400 && e.code != 404 && e.code != 405) {
		abort();
	}
	r->principal = &who;
	fx_err_clear(&e);
	fx_ignore(fx_req_query_allow(r, allowed, &e));
	fx_ignore(fx_page_size(r, &n, &e));
	s = fx_req_query(r, "pageToken");
	if (s && fx_page_token_read(s, "fuzz", &cursor, &e) == 0)
		fx_value_cleanup(&cursor);
	if (fx_if_match(r, &s, &e) < 0 && e.code != 412)
		abort();
	fx_err_clear(&e);
	if (fx_idem_init(r, "orders.create", "p1", &idem, &e) == 0)
		fx_idem_cleanup(&idem);
	else if (e.code != 400)
		abort();
	(void)fx_req_header(r, "Content-Type");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *env[MAX_LINES + 1] = {0}, *p, *end;
	size_t n = 0;
	struct fx_arena arena;
	struct fx_req r;
	struct fx_err e;

	memcpy(text, data, size);
	text[size] = '\0';
	for (p = text; n < MAX_LINES; p = end + 1) {
		end = strchr(p, '\n');
		if (end)
			*end = '\0';
		if (n < 2) {
			size_t len = strlen(p) + 16;

			env[n] = malloc(len);
			snprintf(env[n], len, "%s=%s", n == 0 ? "REQUEST_METHOD" : "REQUEST_URI", p);
		} else {
			env[n] = strdup(p);
		}
		n++;
		if (!end)
			break;
	}
	fx_arena_init(&arena, 64 * 1024);
	fx_err_clear(&e);
	if (fx_req_init(&r, env, NULL, NULL, &arena, &e) == 0)
		handle(&r);
	else if (e.code != 400 && e.code != 413)
		abort();
	if (!r.method || !r.request_id[0])
		abort();
	fx_req_cleanup(&r);
	fx_arena_cleanup(&arena);
	for (size_t i = 0; i < n; i++)
		free(env[i]);
	free(text);
	return 0;
}
