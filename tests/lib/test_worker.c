#include "worker.h"

#include "arena.h"
#include "http.h"
#include "testreq.h"

#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <string.h>

static int h(struct fx_req *r, struct fx_err *e)
{
	(void)r;
	(void)e;
	return 0;
}

static const struct fx_route routes[] = {
	{"GET", "/health", h, FX_PUBLIC, FX_ROLE_NONE, 0, 0},
	{"PATCH", "/v1/users/me", h, FX_SIGNED_IN, FX_ROLE_NONE, FX_BODY_JSON, 0},
	{"POST", "/v1/files", h, FX_MEMBER, FX_ROLE_STAFF, FX_BODY_RAW, 10u * 1024 * 1024},
	{"POST", "/v1/jobs/{name}", h, FX_JOB, FX_ROLE_ADMIN, 0, 0},
	{"DELETE", "/v1/products/{id}/images/{fileId}", h, FX_MEMBER, FX_ROLE_MANAGER, 0, 0},
};

static const struct fx_app app = {"sample", routes, sizeof(routes) / sizeof(routes[0]), NULL};

static const char *str(json_object *o, const char *key)
{
	json_object *v;

	cr_assert(json_object_object_get_ex(o, key, &v), "%s present", key);
	return json_object_get_string(v);
}

Test(worker, routes_json_lists_every_route_with_its_access_role_and_body)
{
	json_object *o = fx_worker_routes_json(&app), *list, *r;

	cr_assert_str_eq(str(o, "group"), "sample");
	cr_assert(json_object_object_get_ex(o, "routes", &list));
	cr_assert_eq(json_object_array_length(list), 5);
	r = json_object_array_get_idx(list, 0);
	cr_assert_str_eq(str(r, "method"), "GET");
	cr_assert_str_eq(str(r, "pattern"), "/health");
	cr_assert_str_eq(str(r, "access"), "public");
	cr_assert_str_eq(str(r, "minRole"), "none");
	cr_assert_str_eq(str(r, "body"), "none");
	cr_assert_str_eq(str(r, "maxBody"), "1048576", "0 means the default body limit");
	r = json_object_array_get_idx(list, 1);
	cr_assert_str_eq(str(r, "access"), "signed-in");
	cr_assert_str_eq(str(r, "body"), "json");
	r = json_object_array_get_idx(list, 2);
	cr_assert_str_eq(str(r, "access"), "member");
	cr_assert_str_eq(str(r, "minRole"), "staff");
	cr_assert_str_eq(str(r, "body"), "raw");
	cr_assert_str_eq(str(r, "maxBody"), "10485760");
	r = json_object_array_get_idx(list, 3);
	cr_assert_str_eq(str(r, "access"), "job");
	cr_assert_str_eq(str(r, "minRole"), "admin");
	r = json_object_array_get_idx(list, 4);
	cr_assert_str_eq(str(r, "pattern"), "/v1/products/{id}/images/{fileId}");
	cr_assert_str_eq(str(r, "minRole"), "manager");
	json_object_put(o);
}

Test(worker, routes_flag_prints_the_table_without_configuration_or_socket, .init = cr_redirect_stdout)
{
	char *argv[] = {"fluxori-sample", "--routes", NULL};
	json_object *o = fx_worker_routes_json(&app);
	char expected[2048];

	snprintf(expected, sizeof(expected), "%s\n",
		 json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	/* No FLUXORI_* configuration and fd 0 is no socket: the serving path would refuse to start. */
	cr_assert_eq(fx_worker_main(&app, 2, argv), 0);
	fflush(stdout);
	cr_assert_stdout_eq_str(expected);
}

/* Serves one request made of the FastCGI params env (no body arrives) and returns its request log line. */
static const char *serve_logged(char **env)
{
	static unsigned char sent[1 << 16];
	static char line[8192];
	FCGX_Stream stream;
	struct fx_arena arena;
	struct fx_req r;
	size_t n;
	FILE *log;

	testreq_start(&r, env, &stream, &stream, sent, sizeof(sent), &arena);
	fx_worker_handle(&app, &r);
	fx_http_req_cleanup(&r);
	fx_arena_cleanup(&arena);
	fflush(stderr);
	log = cr_get_redirected_stderr();
	n = fread(line, 1, sizeof(line) - 1, log);
	line[n] = '\0';
	return line;
}

Test(worker, a_content_length_that_is_not_a_number_is_logged_as_no_declared_body, .init = cr_redirect_stderr)
{
	char *env[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/health", "CONTENT_LENGTH=12abc", NULL};
	const char *line = serve_logged(env);

	cr_assert_not_null(strstr(line, "\"status\":400"), "fx_http_req_read_body refused it: %s", line);
	/* strtoull(cl, NULL, 10) logged the 12 it read before the junk. */
	cr_assert_not_null(strstr(line, "\"requestSize\":\"0\""), "%s", line);
}
