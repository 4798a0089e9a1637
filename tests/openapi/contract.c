/*
 * contract: docs/openapi.yaml against the route tables (contract.h). Routes
 * are collected from the tables first; then every operation of the
 * document is compared with its route and marks it seen; routes left
 * unseen are undocumented.
 */
#include "contract.h"

#include "mem.h"
#include "str.h"

#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

/* The document's security schemes, by the route access that takes them. */
#define SCHEME_FIREBASE "firebaseIdToken"
#define SCHEME_SCHEDULER "schedulerOidc"

#define MAX_ROUTES 1024
#define MAX_PATH_PARAMS 8

struct route {
	const char *group, *method, *pattern, *access, *role, *body;
	bool seen;
};

struct ctx {
	json_object *doc;
	struct route *routes;
	int nroutes;
	struct fx_buf *out;
	int problems;
};

__attribute__((format(printf, 4, 5))) static void problem(struct ctx *c, const char *method, const char *path,
							  const char *fmt, ...)
{
	va_list ap;

	c->problems++;
	va_start(ap, fmt);
	/* Past the buffer's cap a line is lost, never the count. */
	if (fx_buf_printf(c->out, "%s %s: ", method, path) == 0 && fx_buf_vprintf(c->out, fmt, ap) == 0)
		fx_err_ignore(fx_buf_puts(c->out, "\n"));
	va_end(ap);
}

static const char *str_at(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v)
		       : NULL;
}

static json_object *member(json_object *o, const char *key)
{
	json_object *v;

	return o && json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* Follows a local "$ref" to #/components/<kind>/<name>; the object itself when it has none; NULL when dangling. */
static json_object *resolve(struct ctx *c, json_object *o, const char *kind)
{
	const char *ref = str_at(o, "$ref");
	char prefix[64];
	size_t n;

	if (!ref)
		return o;
	if (fx_str_fmt(prefix, sizeof(prefix), "#/components/%s/", kind) < 0)
		return NULL;
	n = strlen(prefix);
	if (strncmp(ref, prefix, n) != 0)
		return NULL;
	return member(member(member(c->doc, "components"), kind), ref + n);
}

static struct route *find_route(struct ctx *c, const char *method, const char *path)
{
	for (int k = 0; k < c->nroutes; k++)
		if (strcmp(c->routes[k].method, method) == 0 && strcmp(c->routes[k].pattern, path) == 0)
			return &c->routes[k];
	return NULL;
}

static int load_routes(struct ctx *c, json_object *const *tables, size_t n)
{
	for (size_t t = 0; t < n; t++) {
		json_object *list = member(tables[t], "routes");
		const char *group = str_at(tables[t], "group");

		if (!group || !list || !json_object_is_type(list, json_type_array)) {
			problem(c, "-", "-", "route table %zu is not {\"group\", \"routes\": [...]}", t);
			return -1;
		}
		for (size_t i = 0; i < json_object_array_length(list); i++) {
			json_object *r = json_object_array_get_idx(list, i);
			struct route rt = {group,
					   str_at(r, "method"),
					   str_at(r, "pattern"),
					   str_at(r, "access"),
					   str_at(r, "minRole"),
					   str_at(r, "body"),
					   false};

			if (!rt.method || !rt.pattern || !rt.access || !rt.role || !rt.body ||
			    c->nroutes >= MAX_ROUTES) {
				problem(c, "-", "-", "route %zu of group %s is incomplete (or too many routes)", i,
					group);
				return -1;
			}
			struct route *dup = find_route(c, rt.method, rt.pattern);

			if (dup)
				problem(c, rt.method, rt.pattern, "served by two groups: %s and %s", dup->group, group);
			else
				c->routes[c->nroutes++] = rt;
		}
	}
	return 0;
}

/* x-min-role as the document writes it for a route. */
static const char *expected_role(const struct route *r)
{
	if (strcmp(r->access, "public") == 0 || strcmp(r->access, "signed-in") == 0)
		return r->access;
	return r->role;
}

/* Whether a security requirement list is exactly the given alternatives, each one scheme with no scopes. */
static bool security_is(json_object *sec, const char *const *schemes, size_t n)
{
	if (!sec || !json_object_is_type(sec, json_type_array) || json_object_array_length(sec) != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool found = false;

		for (size_t k = 0; k < n && !found; k++) {
			json_object *req = json_object_array_get_idx(sec, k), *scopes = member(req, schemes[i]);

			found = json_object_is_type(req, json_type_object) && json_object_object_length(req) == 1 &&
				scopes && json_object_is_type(scopes, json_type_array) &&
				json_object_array_length(scopes) == 0;
		}
		if (!found)
			return false;
	}
	return true;
}

static void check_security(struct ctx *c, const char *method, const char *path, json_object *op, const struct route *r)
{
	static const char *const member_schemes[] = {SCHEME_FIREBASE};
	static const char *const job_schemes[] = {SCHEME_FIREBASE, SCHEME_SCHEDULER};
	json_object *sec = member(op, "security");

	if (!sec)
		sec = member(c->doc, "security");
	if (strcmp(r->access, "public") == 0) {
		if (!security_is(sec, NULL, 0))
			problem(c, method, path, "the route is public: security must be []");
	} else if (strcmp(r->access, "job") == 0) {
		if (!security_is(sec, job_schemes, 2))
			problem(c, method, path, "the route takes a job token: security must be %s or %s",
				SCHEME_FIREBASE, SCHEME_SCHEDULER);
	} else if (!security_is(sec, member_schemes, 1)) {
		problem(c, method, path, "the route is %s: security must be %s alone", r->access, SCHEME_FIREBASE);
	}
}

static void check_body(struct ctx *c, const char *method, const char *path, json_object *op, const struct route *r)
{
	json_object *rb = member(op, "requestBody"), *content;
	bool json = false;
	size_t ntypes;

	if (!rb) {
		if (strcmp(r->body, "none") != 0)
			problem(c, method, path, "the route takes a %s body: requestBody is missing", r->body);
		return;
	}
	if (strcmp(r->body, "none") == 0) {
		problem(c, method, path, "the route takes no body: drop requestBody");
		return;
	}
	rb = resolve(c, rb, "requestBodies");
	content = member(rb, "content");
	if (!content || !json_object_is_type(content, json_type_object) || json_object_object_length(content) == 0) {
		problem(c, method, path, "requestBody has no content (or a dangling $ref)");
		return;
	}
	ntypes = (size_t)json_object_object_length(content);
	json = member(content, "application/json") != NULL;
	if (strcmp(r->body, "json") == 0 && (!json || ntypes != 1))
		problem(c, method, path,
			"the route takes a JSON body: requestBody content must be application/json alone");
	if (strcmp(r->body, "raw") == 0 && json)
		problem(c, method, path, "the route takes raw bytes: requestBody content must not be application/json");
}

/* Adds the names of the `in: path` parameters of list (a parameters array) to names; problems for bad ones. */
static void path_params(struct ctx *c, const char *method, const char *path, json_object *list, const char **names,
			int *n)
{
	if (!list)
		return;
	if (!json_object_is_type(list, json_type_array)) {
		problem(c, method, path, "parameters is not a list");
		return;
	}
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *p = resolve(c, json_object_array_get_idx(list, i), "parameters");
		const char *in = str_at(p, "in"), *name = str_at(p, "name"), *req = str_at(p, "required");
		bool dup = false;

		if (!p || !in || !name) {
			problem(c, method, path, "parameter %zu has no name or in (or a dangling $ref)", i);
			continue;
		}
		if (strcmp(in, "path") != 0)
			continue;
		if (!req || strcmp(req, "true") != 0)
			problem(c, method, path, "path parameter %s must be required: true", name);
		for (int k = 0; k < *n; k++)
			dup = dup || strcmp(names[k], name) == 0;
		if (!dup && *n < MAX_PATH_PARAMS)
			names[(*n)++] = name;
	}
}

static void check_path_params(struct ctx *c, const char *method, const char *path, json_object *item, json_object *op)
{
	const char *declared[MAX_PATH_PARAMS], *p = path;
	int ndeclared = 0, npattern = 0;

	path_params(c, method, path, member(item, "parameters"), declared, &ndeclared);
	path_params(c, method, path, member(op, "parameters"), declared, &ndeclared);
	while ((p = strchr(p, '{')) != NULL) {
		const char *end = strchr(p, '}');
		bool found = false;

		if (!end)
			break;
		npattern++;
		for (int k = 0; k < ndeclared && !found; k++)
			found = strlen(declared[k]) == (size_t)(end - p - 1) &&
				strncmp(declared[k], p + 1, (size_t)(end - p - 1)) == 0;
		if (!found)
			problem(c, method, path, "path parameter %.*s is not declared in: path", (int)(end - p - 1),
				p + 1);
		p = end + 1;
	}
	if (ndeclared > npattern)
		problem(c, method, path, "%d path parameters declared, the path has %d", ndeclared, npattern);
}

static void check_operation(struct ctx *c, const char *method, const char *path, json_object *item, json_object *op)
{
	struct route *r = find_route(c, method, path);
	const char *served = str_at(op, "x-served-by"), *status = str_at(op, "x-status");
	const char *access = str_at(op, "x-access"), *role = str_at(op, "x-min-role");

	check_path_params(c, method, path, item, op);
	if (served && strcmp(served, "nginx") == 0) {
		if (r) {
			problem(c, method, path, "x-served-by: nginx, but group %s serves it", r->group);
			r->seen = true;
		}
		return;
	}
	if (served)
		problem(c, method, path, "x-served-by is %s: only nginx is known", served);
	if (status && strcmp(status, "planned") == 0) {
		if (r) {
			problem(c, method, path, "x-status: planned, but group %s serves it: drop x-status", r->group);
			r->seen = true;
		}
		return;
	}
	if (!r) {
		problem(c, method, path, "documented, but no worker serves it (and it is not x-served-by: nginx)");
		return;
	}
	r->seen = true;
	if (!access || strcmp(access, r->access) != 0)
		problem(c, method, path, "x-access is %s, the route's access is %s (fluxori-%s)",
			access ? access : "missing", r->access, r->group);
	if (!role || strcmp(role, expected_role(r)) != 0)
		problem(c, method, path, "x-min-role is %s, the route's is %s (fluxori-%s)", role ? role : "missing",
			expected_role(r), r->group);
	check_security(c, method, path, op, r);
	check_body(c, method, path, op, r);
}

static const char *upper_method(const char *key)
{
	static const char *const keys[] = {"get", "put", "post", "delete", "options", "head", "patch", "trace"};
	static const char *const names[] = {"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE"};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(key, keys[i]) == 0)
			return names[i];
	return NULL;
}

static void check_path(struct ctx *c, const char *path, json_object *item, struct oa_stats *st)
{
	if (path[0] != '/' || !json_object_is_type(item, json_type_object)) {
		problem(c, "-", path, "a path must start with / and hold a mapping");
		return;
	}
	json_object_object_foreach(item, key, op)
	{
		const char *method = upper_method(key);

		if (!method) {
			if (strcmp(key, "parameters") != 0 && strcmp(key, "summary") != 0 &&
			    strcmp(key, "description") != 0 && strcmp(key, "servers") != 0 &&
			    strncmp(key, "x-", 2) != 0)
				problem(c, "-", path, "unknown path item key %s", key);
			continue;
		}
		st->operations++;
		if (!op || !json_object_is_type(op, json_type_object)) {
			problem(c, method, path, "the operation is not a mapping");
			continue;
		}
		if (str_at(op, "x-served-by"))
			st->nginx++;
		else if (str_at(op, "x-status"))
			st->planned++;
		check_operation(c, method, path, item, op);
	}
}

int oa_contract_check(json_object *doc, json_object *const *tables, size_t n, struct fx_buf *out, struct oa_stats *st)
{
	struct ctx c = {.doc = doc, .out = out};
	json_object *paths = member(doc, "paths");
	int rc = -1;

	memset(st, 0, sizeof(*st));
	c.routes = fx_mem_xcalloc(MAX_ROUTES, sizeof(*c.routes));
	if (!paths || !json_object_is_type(paths, json_type_object)) {
		problem(&c, "-", "-", "the document has no paths mapping");
		goto out;
	}
	if (load_routes(&c, tables, n) < 0)
		goto out;
	st->routes = c.nroutes;
	json_object_object_foreach(paths, path, item) check_path(&c, path, item, st);
	for (int k = 0; k < c.nroutes; k++)
		if (!c.routes[k].seen)
			problem(&c, c.routes[k].method, c.routes[k].pattern,
				"served by fluxori-%s (%s, %s), not in the document", c.routes[k].group,
				c.routes[k].access, expected_role(&c.routes[k]));
	rc = c.problems;
out:
	free(c.routes);
	return rc;
}
