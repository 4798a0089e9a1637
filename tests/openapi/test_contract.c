/*
 * tests/openapi/contract.c: a small document that agrees with its route
 * tables, then one disagreement at a time, each of which must be named.
 */
#include "contract.h"
#include "yaml.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char doc_text[] = "openapi: 3.1.0\n"
			       "security:\n"
			       "- firebaseIdToken: []\n"
			       "paths:\n"
			       "  /health:\n"
			       "    get:\n"
			       "      x-access: public\n"
			       "      x-min-role: public\n"
			       "      security: []\n"
			       "  /_nginx:\n"
			       "    get:\n"
			       "      x-served-by: nginx\n"
			       "      x-access: public\n"
			       "      x-min-role: public\n"
			       "      security: []\n"
			       "  /v1/orders:\n"
			       "    get:\n"
			       "      x-access: member\n"
			       "      x-min-role: viewer\n"
			       "    post:\n"
			       "      x-access: member\n"
			       "      x-min-role: staff\n"
			       "      requestBody:\n"
			       "        $ref: '#/components/requestBodies/Order'\n"
			       "  /v1/orders/{id}:\n"
			       "    parameters:\n"
			       "    - $ref: '#/components/parameters/Id'\n"
			       "    patch:\n"
			       "      x-access: member\n"
			       "      x-min-role: staff\n"
			       "      requestBody:\n"
			       "        content:\n"
			       "          application/json: {}\n"
			       "  /v1/files:\n"
			       "    post:\n"
			       "      x-access: member\n"
			       "      x-min-role: staff\n"
			       "      requestBody:\n"
			       "        content:\n"
			       "          image/png: {}\n"
			       "  /v1/users/me:\n"
			       "    get:\n"
			       "      x-access: signed-in\n"
			       "      x-min-role: signed-in\n"
			       "  /v1/jobs/{name}:\n"
			       "    post:\n"
			       "      x-access: job\n"
			       "      x-min-role: admin\n"
			       "      security:\n"
			       "      - firebaseIdToken: []\n"
			       "      - schedulerOidc: []\n"
			       "      parameters:\n"
			       "      - name: name\n"
			       "        in: path\n"
			       "        required: true\n"
			       "components:\n"
			       "  parameters:\n"
			       "    Id:\n"
			       "      name: id\n"
			       "      in: path\n"
			       "      required: true\n"
			       "  requestBodies:\n"
			       "    Order:\n"
			       "      content:\n"
			       "        application/json: {}\n";

#define ROUTE(m, p, a, r, b)                                                                                   \
	"{\"method\":\"" m "\",\"pattern\":\"" p "\",\"access\":\"" a "\",\"minRole\":\"" r "\",\"body\":\"" b \
	"\",\"maxBody\":1048576}"

static const char *const table_texts[] = {
	"{\"group\":\"health\",\"routes\":[" ROUTE("GET", "/health", "public", "none", "none") "]}",
	"{\"group\":\"orders\",\"routes\":[" ROUTE("GET", "/v1/orders", "member", "viewer", "none") "," ROUTE(
		"POST", "/v1/orders", "member", "staff", "json") "," ROUTE("PATCH", "/v1/orders/{id}", "member",
									   "staff", "json") "]}",
	"{\"group\":\"files\",\"routes\":[" ROUTE("POST", "/v1/files", "member", "staff", "raw") "]}",
	"{\"group\":\"users\",\"routes\":[" ROUTE("GET", "/v1/users/me", "signed-in", "none", "none") "]}",
	"{\"group\":\"jobs\",\"routes\":[" ROUTE("POST", "/v1/jobs/{name}", "job", "admin", "none") "]}",
};
#define NTABLES (sizeof(table_texts) / sizeof(table_texts[0]))

static struct fx_buf out;
static struct oa_stats st;

/* text with its one occurrence of from replaced by to (freed by the caller). */
static char *swap(const char *text, const char *from, const char *to)
{
	const char *at = strstr(text, from);
	char *s;

	cr_assert_not_null(at, "no %s in the fixture", from);
	cr_assert_null(strstr(at + 1, from), "%s is not unique in the fixture", from);
	cr_assert_geq(asprintf(&s, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from)), 0);
	return s;
}

/* The check of a document against tables (the fixture's where NULL); its disagreements are in out. */
static int run(const char *doc, const char *const *tables, size_t n)
{
	json_object *d, *t[16];
	char err[256];
	int rc;

	d = oa_yaml_parse(doc, strlen(doc), err, sizeof(err));
	cr_assert_not_null(d, "fixture: %s", err);
	for (size_t i = 0; i < n; i++)
		cr_assert_not_null(t[i] = json_tokener_parse(tables[i]), "table %zu", i);
	fx_buf_reset(&out);
	rc = oa_contract_check(d, t, n, &out, &st);
	for (size_t i = 0; i < n; i++)
		json_object_put(t[i]);
	json_object_put(d);
	return rc;
}

static int run_doc(const char *doc)
{
	return run(doc, table_texts, NTABLES);
}

static void assert_says(const char *line)
{
	cr_assert(out.data && strstr(out.data, line), "no \"%s\" in:\n%s", line, out.data ? out.data : "");
}

static void setup(void)
{
	fx_buf_init(&out, 1 << 20);
}

static void teardown(void)
{
	fx_buf_cleanup(&out);
}

TestSuite(contract, .init = setup, .fini = teardown);

Test(contract, agreeing_document_and_tables_have_no_disagreement)
{
	cr_assert_eq(run_doc(doc_text), 0, "%s", out.data);
	cr_assert_eq(st.routes, 7);
	cr_assert_eq(st.operations, 8);
	cr_assert_eq(st.nginx, 1);
}

Test(contract, route_under_another_path_in_the_document_is_both_undocumented_and_unserved)
{
	char *doc = swap(doc_text, "  /v1/users/me:\n", "  /v1/users/myself:\n");

	cr_assert_eq(run_doc(doc), 2, "%s", out.data);
	assert_says("GET /v1/users/me: served by fluxori-users (signed-in, signed-in), not in the document\n");
	assert_says("GET /v1/users/myself: documented, but no worker serves it");
	free(doc);
}

Test(contract, operation_of_a_group_that_is_not_built_is_unserved)
{
	cr_assert_eq(run(doc_text, table_texts, NTABLES - 1), 1, "%s", out.data);
	assert_says("POST /v1/jobs/{name}: documented, but no worker serves it");
}

Test(contract, another_method_on_the_same_path_is_a_disagreement)
{
	char *doc = swap(doc_text, "    patch:\n", "    put:\n");

	cr_assert_eq(run_doc(doc), 2, "%s", out.data);
	assert_says("PUT /v1/orders/{id}: documented, but no worker serves it");
	assert_says("PATCH /v1/orders/{id}: served by fluxori-orders (member, staff), not in the document");
	free(doc);
}

Test(contract, a_lower_or_higher_role_than_the_route_is_named)
{
	char *doc = swap(doc_text, "      x-min-role: viewer\n", "      x-min-role: staff\n");

	cr_assert_eq(run_doc(doc), 1, "%s", out.data);
	assert_says("GET /v1/orders: x-min-role is staff, the route's is viewer (fluxori-orders)\n");
	free(doc);
}

Test(contract, missing_or_other_access_is_named)
{
	char *doc = swap(doc_text, "      x-access: signed-in\n", "      x-access: member\n");
	char *doc2 = swap(doc_text, "      x-access: job\n", "");

	cr_assert_eq(run_doc(doc), 1, "%s", out.data);
	assert_says("GET /v1/users/me: x-access is member, the route's access is signed-in (fluxori-users)\n");
	cr_assert_eq(run_doc(doc2), 1, "%s", out.data);
	assert_says("POST /v1/jobs/{name}: x-access is missing, the route's access is job (fluxori-jobs)\n");
	free(doc);
	free(doc2);
}

Test(contract, public_route_must_take_no_token_and_others_must)
{
	char *doc = swap(doc_text, "      x-min-role: public\n      security: []\n  /_nginx",
			 "      x-min-role: public\n  /_nginx");
	char *doc2 = swap(doc_text, "      x-min-role: viewer\n", "      x-min-role: viewer\n      security: []\n");

	cr_assert_eq(run_doc(doc), 1, "%s", out.data);
	assert_says("GET /health: the route is public: security must be []\n");
	cr_assert_eq(run_doc(doc2), 1, "%s", out.data);
	assert_says("GET /v1/orders: the route is member: security must be firebaseIdToken alone\n");
	free(doc);
	free(doc2);
}

Test(contract, job_route_must_take_the_scheduler_token)
{
	char *doc = swap(doc_text, "      - schedulerOidc: []\n", "");

	cr_assert_eq(run_doc(doc), 1, "%s", out.data);
	assert_says("POST /v1/jobs/{name}: the route takes a job token: security must be firebaseIdToken or "
		    "schedulerOidc\n");
	free(doc);
}

Test(contract, body_kinds_must_match)
{
	char *raw_as_json = swap(doc_text, "          image/png: {}\n", "          application/json: {}\n");
	char *json_and_csv = swap(doc_text, "          application/json: {}\n",
				  "          application/json: {}\n          text/csv: {}\n");
	char *body_on_get = swap(
		doc_text, "      x-min-role: viewer\n",
		"      x-min-role: viewer\n      requestBody:\n        content:\n          application/json: {}\n");
	char *no_body = swap(doc_text, "      requestBody:\n        $ref: '#/components/requestBodies/Order'\n", "");

	cr_assert_eq(run_doc(raw_as_json), 1, "%s", out.data);
	assert_says("POST /v1/files: the route takes raw bytes: requestBody content must not be application/json\n");
	cr_assert_eq(run_doc(json_and_csv), 1, "%s", out.data);
	assert_says("PATCH /v1/orders/{id}: the route takes a JSON body: requestBody content must be application/json "
		    "alone\n");
	cr_assert_eq(run_doc(body_on_get), 1, "%s", out.data);
	assert_says("GET /v1/orders: the route takes no body: drop requestBody\n");
	cr_assert_eq(run_doc(no_body), 1, "%s", out.data);
	assert_says("POST /v1/orders: the route takes a json body: requestBody is missing\n");
	free(raw_as_json);
	free(json_and_csv);
	free(body_on_get);
	free(no_body);
}

Test(contract, path_parameters_must_be_the_patterns)
{
	char *undeclared = swap(doc_text, "    parameters:\n    - $ref: '#/components/parameters/Id'\n", "");
	char *dangling = swap(doc_text, "    - $ref: '#/components/parameters/Id'\n",
			      "    - $ref: '#/components/parameters/Ids'\n");
	char *optional = swap(doc_text, "        in: path\n        required: true\n", "        in: path\n");
	char *extra = swap(doc_text, "      - name: name\n",
			   "      - name: id\n        in: path\n        required: true\n      - name: name\n");

	cr_assert_eq(run_doc(undeclared), 1, "%s", out.data);
	assert_says("PATCH /v1/orders/{id}: path parameter id is not declared in: path\n");
	cr_assert_eq(run_doc(dangling), 2, "%s", out.data);
	assert_says("PATCH /v1/orders/{id}: parameter 0 has no name or in (or a dangling $ref)\n");
	cr_assert_eq(run_doc(optional), 1, "%s", out.data);
	assert_says("POST /v1/jobs/{name}: path parameter name must be required: true\n");
	cr_assert_eq(run_doc(extra), 1, "%s", out.data);
	assert_says("POST /v1/jobs/{name}: 2 path parameters declared, the path has 1\n");
	free(undeclared);
	free(dangling);
	free(optional);
	free(extra);
}

Test(contract, operation_nginx_serves_must_not_be_a_route)
{
	const char *tables[NTABLES];

	memcpy(tables, table_texts, sizeof(tables));
	tables[0] = "{\"group\":\"health\",\"routes\":[" ROUTE("GET", "/health", "public", "none", "none") "," ROUTE(
		"GET", "/_nginx", "public", "none", "none") "]}";
	cr_assert_eq(run(doc_text, tables, NTABLES), 1, "%s", out.data);
	assert_says("GET /_nginx: x-served-by: nginx, but group health serves it\n");
}

Test(contract, planned_operation_must_not_be_built_yet)
{
	char *planned =
		swap(doc_text, "  /v1/files:\n", "  /v1/channels:\n    get:\n      x-status: planned\n  /v1/files:\n");
	char *built =
		swap(doc_text, "      x-access: signed-in\n", "      x-status: planned\n      x-access: signed-in\n");

	cr_assert_eq(run_doc(planned), 0, "%s", out.data);
	cr_assert_eq(st.planned, 1);
	cr_assert_eq(run_doc(built), 1, "%s", out.data);
	assert_says("GET /v1/users/me: x-status: planned, but group users serves it: drop x-status\n");
	free(planned);
	free(built);
}

Test(contract, route_served_by_two_groups_is_named)
{
	const char *tables[NTABLES + 1];

	memcpy(tables, table_texts, sizeof(table_texts));
	tables[NTABLES] =
		"{\"group\":\"me\",\"routes\":[" ROUTE("GET", "/v1/users/me", "signed-in", "none", "none") "]}";
	cr_assert_eq(run(doc_text, tables, NTABLES + 1), 1, "%s", out.data);
	assert_says("GET /v1/users/me: served by two groups: users and me\n");
}

Test(contract, input_that_is_not_a_route_table_or_a_document_is_refused)
{
	const char *tables[] = {"{\"routes\":[]}"};

	cr_assert_eq(run(doc_text, tables, 1), -1);
	assert_says("route table 0 is not");
	cr_assert_eq(run("openapi: 3.1.0\n", table_texts, NTABLES), -1);
	assert_says("the document has no paths mapping");
}
