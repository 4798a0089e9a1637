/*
 * Foundation through nginx: health, routing and error answers, request
 * ids, body limits. Swapping and killing workers: test_control.c.
 */
#include "client.h"
#include "err.h"
#include "instance.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static void assert_error_shape(struct http_resp *r, long code, const char *status)
{
	const char *rid = http_header(r, "X-Request-Id");

	cr_assert_eq(r->status, code, "status %ld, body %s", r->status, r->body);
	cr_assert_not_null(r->json, "error body is JSON: %s", r->body);
	cr_assert_eq(json_int(r, "error.code"), code);
	cr_assert_str_eq(json_str(r, "error.status"), status);
	cr_assert_not_null(json_str(r, "error.message"));
	cr_assert_not_null(rid, "X-Request-Id header");
	cr_assert_str_eq(json_str(r, "error.requestId"), rid, "requestId in the body is the header's");
	cr_assert(strstr(http_header(r, "Content-Type"), "application/json"));
}

Test(health, answers_ok_without_any_backend)
{
	struct http_resp *r = http_get("/health", NULL);

	cr_assert_eq(r->status, 200);
	cr_assert_str_eq(r->body, "{\"status\":\"ok\"}");
	cr_assert_not_null(http_header(r, "X-Request-Id"));
	http_resp_free(r);
}

/*
 * Readiness asks Firestore with a 2 s deadline: on a machine loaded past that the JVM emulator
 * can miss it, and a probe is asked again (Cloud Run's every period), so this one is too, for
 * up to a minute; a 503 whose body is not the contract's fails at once.
 */
Test(health, ready_when_firestore_answers, .timeout = 120)
{
	struct http_resp *r = http_get("/health/ready", NULL);

	for (int i = 0; i < 60 && r->status == 503; i++) {
		assert_error_shape(r, 503, "UNAVAILABLE");
		http_resp_free(r);
		sleep(1);
		r = http_get("/health/ready", NULL);
	}
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "firestore"), "ok");
	http_resp_free(r);
}

Test(routing, unknown_prefix_is_a_json_404_from_nginx)
{
	struct http_resp *r = http_get("/v1/nothing-here", NULL);

	assert_error_shape(r, 404, "NOT_FOUND");
	http_resp_free(r);
	r = http_get("/index.html", NULL);
	assert_error_shape(r, 404, "NOT_FOUND");
	http_resp_free(r);
}

Test(routing, unknown_path_in_a_group_is_a_json_404_from_the_worker)
{
	struct http_resp *r = http_get("/health/nope", NULL);

	assert_error_shape(r, 404, "NOT_FOUND");
	http_resp_free(r);
}

Test(routing, wrong_method_is_405_with_allow)
{
	struct http_resp *r = http_json("DELETE", "/health", NULL, NULL);

	assert_error_shape(r, 405, "UNIMPLEMENTED");
	cr_assert_str_eq(http_header(r, "Allow"), "GET");
	http_resp_free(r);
}

Test(routing, unknown_custom_method_is_404)
{
	struct http_resp *r = http_json("GET", "/health:explode", NULL, NULL);

	assert_error_shape(r, 404, "NOT_FOUND");
	http_resp_free(r);
}

Test(routing, a_quote_in_the_path_still_gives_valid_json)
{
	struct http_resp *r = http_get("/v1/a%22b%5C", NULL);

	assert_error_shape(r, 404, "NOT_FOUND");
	http_resp_free(r);
}

/* The worker makes the id of a request that brings none (nginx passes it none): 32 hex digits, new each time. */
Test(request_id, a_request_without_one_gets_a_new_one_every_time)
{
	char seen[50][64];

	for (int i = 0; i < 50; i++) {
		struct http_resp *r = http_get("/health", NULL);
		const char *rid = http_header(r, "X-Request-Id");

		cr_assert_eq(r->status, 200);
		cr_assert_not_null(rid);
		cr_assert_eq(strlen(rid), 32, "%s", rid);
		cr_assert_eq(strspn(rid, "0123456789abcdef"), 32, "%s", rid);
		for (int j = 0; j < i; j++)
			cr_assert_str_neq(rid, seen[j], "answer %d repeats answer %d's id", i, j);
		snprintf(seen[i], sizeof(seen[i]), "%s", rid);
		http_resp_free(r);
	}
}

Test(request_id, a_sane_client_id_is_echoed)
{
	const char *h[] = {"X-Request-Id: client-req.42:a_b", NULL};
	struct http_resp *r = http_do("GET", "/health", NULL, NULL, NULL, 0, h);

	cr_assert_str_eq(http_header(r, "X-Request-Id"), "client-req.42:a_b");
	http_resp_free(r);
}

Test(request_id, an_insane_client_id_is_replaced)
{
	const char *h[] = {"X-Request-Id: <script>alert(1)</script>", NULL};
	struct http_resp *r = http_do("GET", "/health", NULL, NULL, NULL, 0, h);
	const char *rid = http_header(r, "X-Request-Id");

	cr_assert_not_null(rid);
	cr_assert_null(strchr(rid, '<'));
	cr_assert_geq(strlen(rid), 16);
	http_resp_free(r);
}

Test(request_id, every_answer_has_exactly_one)
{
	struct http_resp *r = http_get("/health", NULL);
	const char *first = strstr(r->headers, "X-Request-Id:");

	cr_assert_not_null(first);
	cr_assert_null(strstr(first + 1, "X-Request-Id:"), "one X-Request-Id header: %s", r->headers);
	http_resp_free(r);
}

Test(limits, body_over_the_group_cap_is_a_json_413)
{
	size_t n = 1024 * 1024 + 1;
	char *big = malloc(n);
	struct http_resp *r;

	memset(big, 'a', n);
	r = http_do("POST", "/health", NULL, "application/json", big, n, NULL);
	assert_error_shape(r, 413, "INVALID_ARGUMENT");
	http_resp_free(r);
	free(big);
}

Test(limits, a_body_on_a_route_that_takes_none_is_refused)
{
	struct http_resp *r = http_do("GET", "/health", NULL, "application/json", "{}", 2, NULL);

	assert_error_shape(r, 400, "INVALID_ARGUMENT");
	http_resp_free(r);
}

Test(limits, oversized_headers_are_a_json_error)
{
	static char big[40000];
	const char *h[] = {big, NULL};
	struct http_resp *r;

	memcpy(big, "X-Big: ", 7);
	memset(big + 7, 'x', sizeof(big) - 8);
	r = http_do("GET", "/health", NULL, NULL, NULL, 0, h);
	assert_error_shape(r, 431, "INVALID_ARGUMENT");
	http_resp_free(r);
}

/* ---- nginx's own answers, driven with raw bytes (request lines curl would not send) ---- */

struct raw_resp {
	long status;
	char request_id[80];
	char allow[200]; /* "" when the answer has no Allow header */
	char *body; /* NUL-terminated */
	json_object *json; /* NULL when the body is not JSON */
};

/* Sends len bytes of req to nginx's listener port_var (an env name) and reads the answer until it closes. */
static void raw_send_to(const char *port_var, const char *req, size_t len, struct raw_resp *out)
{
	struct sockaddr_in a = {0};
	struct timeval tv = {20, 0};
	size_t cap = 1 << 16, n = 0, sent = 0;
	char *buf = malloc(cap + 1), *body, *h;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ssize_t k;

	memset(out, 0, sizeof(*out));
	cr_assert_geq(fd, 0);
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)atoi(test_env(port_var)));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0, "connect to nginx");
	/* nginx may answer (and close) before it has read everything: a failed send is fine. */
	while (sent < len && (k = send(fd, req + sent, len - sent, MSG_NOSIGNAL)) > 0)
		sent += (size_t)k;
	while (n < cap && (k = recv(fd, buf + n, cap - n, 0)) > 0)
		n += (size_t)k;
	close(fd);
	buf[n] = '\0';
	cr_assert_eq(sscanf(buf, "HTTP/1.1 %ld", &out->status), 1, "a status line: %.200s", buf);
	body = strstr(buf, "\r\n\r\n");
	cr_assert_not_null(body, "a complete head: %.200s", buf);
	*body = '\0';
	h = strcasestr(buf, "\r\nX-Request-Id: ");
	if (h)
		sscanf(h + 16, "%79[^\r\n]", out->request_id);
	h = strcasestr(buf, "\r\nAllow: ");
	if (h)
		sscanf(h + 9, "%199[^\r\n]", out->allow);
	out->body = strdup(body + 4);
	out->json = json_tokener_parse(out->body);
	free(buf);
}

/* Sends len bytes of req to nginx's API listener on a new connection and reads the answer until it closes. */
static void raw_send(const char *req, size_t len, struct raw_resp *out)
{
	raw_send_to("FLUXORI_HTTP_PORT", req, len, out);
}

static void raw_free(struct raw_resp *r)
{
	json_object_put(r->json);
	free(r->body);
}

/* The contract's error body, its code the HTTP status and its status the canonical name of that code. */
static void assert_agreeing_error(const struct raw_resp *r, const char *what)
{
	json_object *err = r->json ? json_object_object_get(r->json, "error") : NULL;
	const char *status = json_object_get_string(json_object_object_get(err, "status"));
	const char *rid = json_object_get_string(json_object_object_get(err, "requestId"));

	cr_assert_not_null(err, "%s: %ld with a JSON error body, not %.200s", what, r->status, r->body);
	cr_assert_eq(json_object_get_int(json_object_object_get(err, "code")), r->status, "%s: code is the status: %s",
		     what, r->body);
	cr_assert_str_eq(status, fx_err_status_for((int)r->status), "%s: %ld is %s, not %s", what, r->status,
			 fx_err_status_for((int)r->status), status);
	cr_assert_not_null(json_object_object_get(err, "message"), "%s", what);
	cr_assert(rid && *rid && strcmp(rid, r->request_id) == 0, "%s: requestId %s, header %s", what, rid,
		  r->request_id);
}

static void raw_get(const char *target, const char *extra_headers, struct raw_resp *out)
{
	size_t len = strlen(target) + (extra_headers ? strlen(extra_headers) : 0) + 128;
	char *req = malloc(len);

	snprintf(req, len, "GET %s HTTP/1.1\r\nHost: api\r\n%sConnection: close\r\n\r\n", target,
		 extra_headers ? extra_headers : "");
	raw_send(req, strlen(req), out);
	free(req);
}

Test(nginx_errors, malformed_paths_are_json_4xx_never_5xx)
{
	static const char *const targets[] = {
		"/v1/products/%00",
		"/v1/products/a%00b",
		"/v1/products/%",
		"/v1/products/%zz",
		"/v1/products/%2",
		"/v1/products/%2F",
		"/v1/products/a%2Fb",
		"/v1/products/%C0%AE",
		"/v1/products/%C0%AE%C0%AE",
		"/v1/products/%c0%af",
		"/v1/products/%E2%82",
		"/v1/products/%ff",
		"/v1/products/\xc0\xae",
		"/v1/products/\xff",
		"/v1/products/..%2F..%2Fusers",
		"/v1/products/%2e%2e/%2e%2e/health",
		"/v1/products/%00?q=%00",
		"/v1/products?q=%",
		"/v1/products?q=%C0%AE",
		"/%00",
		"/health%00",
		"/health/%00",
		"/health?%00",
		"/../../etc/passwd",
		"/v1/../../x",
		"health",
		"*",
		"//v1//products",
		"/v1/products/x:y:z",
		"/v1/orders/%00:cancel",
	};
	struct test_user u;
	char auth[4200];

	cr_assert_eq(test_user_signup(&u, "paths"), 0);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s\r\n", u.id_token);
	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		for (int with_token = 0; with_token < 2; with_token++) {
			struct raw_resp r;

			raw_get(targets[i], with_token ? auth : NULL, &r);
			cr_assert(r.status >= 400 && r.status < 500, "GET %s%s: %ld %.200s", targets[i],
				  with_token ? " (signed in)" : "", r.status, r.body);
			assert_agreeing_error(&r, targets[i]);
			raw_free(&r);
		}
	}
}

Test(nginx_errors, every_error_nginx_makes_is_json_whose_code_and_name_agree)
{
	static char big_uri[20000], big_auth[65700], many[40000];
	struct {
		const char *what;
		const char *req; /* NULL: built below */
		long status;
	} cases[] = {
		{"bad method", "G@T /health HTTP/1.1\r\nHost: api\r\nConnection: close\r\n\r\n", 400},
		{"no Host", "GET /health HTTP/1.1\r\nConnection: close\r\n\r\n", 400},
		{"HTTP/3.0 request line", "GET /health HTTP/3.0\r\nHost: api\r\nConnection: close\r\n\r\n", 400},
		{"bad Content-Length",
		 "POST /v1/products HTTP/1.1\r\nHost: api\r\nContent-Length: x\r\nConnection: close\r\n\r\n", 400},
		{"bad chunk",
		 "POST /v1/products HTTP/1.1\r\nHost: api\r\nTransfer-Encoding: chunked\r\n"
		 "Connection: close\r\n\r\nzz\r\n\r\n",
		 400},
		{"unknown route", "GET /nothing HTTP/1.1\r\nHost: api\r\nConnection: close\r\n\r\n", 404},
		{"nginx's internal error page", "GET /_fx/e500 HTTP/1.1\r\nHost: api\r\nConnection: close\r\n\r\n",
		 404},
		{"TRACE", "TRACE /health HTTP/1.1\r\nHost: api\r\nConnection: close\r\n\r\n", 405},
		{"body over the cap",
		 "POST /health HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"
		 "Content-Length: 2000000\r\nConnection: close\r\n\r\n{}",
		 413},
		{"unknown transfer coding",
		 "POST /v1/products HTTP/1.1\r\nHost: api\r\nTransfer-Encoding: gzip\r\n"
		 "Connection: close\r\n\r\n",
		 501},
		{"20 KB request line", big_uri, 414},
		{"64 KB Authorization header", big_auth, 431},
		{"4000 headers", many, 431},
	};
	size_t o;

	o = (size_t)snprintf(big_uri, sizeof(big_uri), "GET /health?a=");
	memset(big_uri + o, 'a', sizeof(big_uri) - o - 64);
	snprintf(big_uri + sizeof(big_uri) - 64, 64, " HTTP/1.1\r\nHost: api\r\nConnection: close\r\n\r\n");
	o = (size_t)snprintf(big_auth, sizeof(big_auth), "GET /health HTTP/1.1\r\nHost: api\r\nAuthorization: Bearer ");
	memset(big_auth + o, 'x', 65536);
	snprintf(big_auth + o + 65536, sizeof(big_auth) - o - 65536, "\r\nConnection: close\r\n\r\n");
	o = (size_t)snprintf(many, sizeof(many), "GET /health HTTP/1.1\r\nHost: api\r\n");
	for (int i = 0; o + 64 < sizeof(many); i++)
		o += (size_t)snprintf(many + o, sizeof(many) - o, "X-H%d: y\r\n", i);
	snprintf(many + o, sizeof(many) - o, "Connection: close\r\n\r\n");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct raw_resp r;

		raw_send(cases[i].req, strlen(cases[i].req), &r);
		cr_assert_eq(r.status, cases[i].status, "%s: %ld %.200s", cases[i].what, r.status, r.body);
		assert_agreeing_error(&r, cases[i].what);
		raw_free(&r);
	}
}

/*
 * nginx refuses TRACE itself, before any worker sees it, and its 405 had no
 * Allow header, which the contract gives every 405. The worker's router
 * knows the path's methods: TRACE on a path of a group answers the group's
 * 405 with Allow; on a path no route has, the 404 of an unknown path. A
 * TRACE with a body over a mebibyte to /v1/files (whose cap is 10 MiB) got
 * nginx's HTML 413: the error page's location had the server's 1 MiB cap.
 */
Test(nginx_errors, trace_answers_the_paths_405_with_its_allow_or_an_unknown_paths_404)
{
	static const struct {
		const char *target;
		long status;
		const char *allow;
	} cases[] = {
		{"/v1/products", 405, "GET, POST"},
		{"/v1/products/p1", 405, "GET, PATCH, DELETE"},
		{"/v1/products/p1?x=1", 405, "GET, PATCH, DELETE"},
		{"/v1/files/f1:complete", 405, "POST"},
		{"/health", 405, "GET"},
		{"/health/ready", 405, "GET"},
		{"/v1/products/p1/nothing", 404, ""},
		{"/nothing", 404, ""},
		{"/v1/nothing", 404, ""},
	};
	char req[600];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct raw_resp r;

		snprintf(req, sizeof(req), "TRACE %s HTTP/1.1\r\nHost: api\r\nConnection: close\r\n\r\n",
			 cases[i].target);
		raw_send(req, strlen(req), &r);
		cr_assert_eq(r.status, cases[i].status, "TRACE %s: %ld %.200s", cases[i].target, r.status, r.body);
		assert_agreeing_error(&r, cases[i].target);
		cr_assert_str_eq(r.allow, cases[i].allow, "TRACE %s: Allow", cases[i].target);
		raw_free(&r);
	}
	{
		size_t n = 2000000;
		char *body = malloc(n);
		struct http_resp *r;

		cr_assert_not_null(body);
		memset(body, 'a', n);
		r = http_do("TRACE", "/v1/files/f1", NULL, "application/json", body, n, NULL);
		cr_assert_eq(r->status, 405, "TRACE with 2 MB to /v1/files: %ld %.200s", r->status, r->body);
		cr_assert_str_eq(json_str(r, "error.status"), "UNIMPLEMENTED", "%.200s", r->body);
		cr_assert_str_eq(http_header(r, "Allow"), "GET, DELETE");
		http_resp_free(r);
		free(body);
	}
}

/*
 * The internal /metrics listener answered what it did not route with
 * nginx's HTML (a malformed request, TRACE, an HTTP/3.0 request line): it
 * answers the contract's JSON as the public listener does.
 */
Test(nginx_errors, the_metrics_listener_answers_errors_in_agreeing_json)
{
	static char big_uri[20000];
	struct {
		const char *what;
		const char *req;
		long status;
		const char *allow;
	} cases[] = {
		{"bad method", "G@T /metrics HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n", 400, ""},
		{"HTTP/3.0 request line", "GET /metrics HTTP/3.0\r\nHost: m\r\nConnection: close\r\n\r\n", 400, ""},
		{"no Host", "GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n", 400, ""},
		{"TRACE", "TRACE /metrics HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n", 405, "GET"},
		{"TRACE elsewhere", "TRACE /v1/products HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n", 404, ""},
		{"POST", "POST /metrics HTTP/1.1\r\nHost: m\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", 405,
		 "GET"},
		{"unknown route", "GET /nothing HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n", 404, ""},
		{"20 KB request line", big_uri, 414, ""},
	};
	size_t o = (size_t)snprintf(big_uri, sizeof(big_uri), "GET /metrics?a=");

	memset(big_uri + o, 'a', sizeof(big_uri) - o - 64);
	snprintf(big_uri + sizeof(big_uri) - 64, 64, " HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct raw_resp r;

		raw_send_to("FLUXORI_METRICS_PORT", cases[i].req, strlen(cases[i].req), &r);
		cr_assert_eq(r.status, cases[i].status, "metrics listener, %s: %ld %.200s", cases[i].what, r.status,
			     r.body);
		assert_agreeing_error(&r, cases[i].what);
		cr_assert_str_eq(r.allow, cases[i].allow, "metrics listener, %s: Allow", cases[i].what);
		raw_free(&r);
	}
}

/*
 * The answers nginx makes that no request here can provoke (408 after 15 s,
 * 500, a group that is down): read from the configuration nginx runs, every
 * JSON error it returns has code = its status and the canonical name of it,
 * and every error nginx itself can raise has a JSON page in the API server.
 */
Test(nginx_errors, the_running_configuration_answers_every_error_code_in_agreeing_json)
{
	static const int raised[] = {400, 404, 405, 408, 411, 413, 414, 494, 500, 501, 502, 503, 504, 505};
	char path[600], *conf, *api_end, *p;
	int returns = 0;

	snprintf(path, sizeof(path), "%s/nginx.conf", getenv("FLUXORI_TEST_RUN"));
	conf = test_slurp(path);
	for (p = conf; (p = strstr(p, "return ")) != NULL; p++) {
		int status, code;
		char name[40];

		if (sscanf(p, "return %d '{\"error\":{\"code\":%d,\"status\":\"%39[A-Z_]\"", &status, &code, name) != 3)
			continue;
		returns++;
		cr_assert_eq(code, status, "%.120s", p);
		cr_assert_str_eq(name, fx_err_status_for(status), "%.120s", p);
	}
	cr_assert_geq(returns, 8, "the configuration's JSON answers were found");
	api_end = strstr(conf, "# GET /metrics on its own loopback listener");
	cr_assert_not_null(api_end);
	*api_end = '\0';
	for (size_t i = 0; i < sizeof(raised) / sizeof(raised[0]); i++) {
		bool found = false;

		for (p = conf; !found && (p = strstr(p, "error_page ")) != NULL; p++) {
			const char *end = strchr(p, ';');
			char code[8];

			snprintf(code, sizeof(code), " %d", raised[i]);
			for (const char *c = strstr(p, code); c && c < end && !found; c = strstr(c + 1, code))
				found = c[4] == ' ' || c[4] == ';';
		}
		cr_assert(found, "no error_page for %d in the API server", raised[i]);
	}
	free(conf);
}

/* ---- readiness with its backends down ---- */

Test(health, ready_names_what_is_down_without_the_backends_words, .timeout = 120)
{
	static const char *const leaks[] = {"127.0.0.1", ":9",	    "connect", "Connect", "curl",
					    "http",	 "refused", "Failed",  "failed",  "timed out"};
	struct instance api;
	struct http_resp *r;
	json_object *details;
	char url[128], path[200], *log = NULL;
	bool firestore = false, keys = false;

	/* Firestore and the token key endpoint both at a port where nothing listens. */
	instance_start(&api, "FIRESTORE_EMULATOR_HOST=127.0.0.1:9\nFLUXORI_AUTH_EMULATOR_TOKENS=false\n"
			     "FLUXORI_FIREBASE_KEYS_URL=http://127.0.0.1:9/certs\n");
	snprintf(url, sizeof(url), "%s/health/ready", api.base);
	r = http_url("GET", url, NULL, NULL, 0);
	/* The backends' own words go to the log, where operators look. */
	snprintf(path, sizeof(path), "%s/api.log", api.run);
	for (int i = 0; i < 100; i++) {
		log = test_slurp(path);
		if (strstr(log, "not ready: token keys: ") && strstr(log, "not ready: firestore: "))
			break;
		free(log);
		log = NULL;
		usleep(50 * 1000);
	}
	instance_stop(&api);
	cr_assert_not_null(log, "the worker logged why it is not ready, backend by backend");
	free(log);
	cr_assert_eq(r->status, 503, "%s", r->body);
	cr_assert_str_eq(json_str(r, "error.status"), "UNAVAILABLE");
	cr_assert(strstr(json_str(r, "error.message"), "firestore"), "%s", r->body);
	cr_assert(strstr(json_str(r, "error.message"), "token keys"), "%s", r->body);
	details = json_object_object_get(json_object_object_get(r->json, "error"), "details");
	for (size_t i = 0; details && i < json_object_array_length(details); i++) {
		const char *field =
			json_object_get_string(json_object_object_get(json_object_array_get_idx(details, i), "field"));

		firestore |= strcmp(field, "firestore") == 0;
		keys |= strcmp(field, "tokenKeys") == 0;
	}
	cr_assert(firestore && keys, "details name both: %s", r->body);
	for (size_t i = 0; i < sizeof(leaks) / sizeof(leaks[0]); i++)
		cr_assert_null(strstr(r->body, leaks[i]), "the answer carries no backend text (%s): %s", leaks[i],
			       r->body);
	http_resp_free(r);
}

/* ---- the client address in the request log ---- */

/*
 * The remoteIp of the request log line of request id rid in the log at
 * path, waiting 10 s at most for it; "(no log line)" when it never came.
 * Fails no test itself, so a caller can stop what it started first.
 */
static void logged_remote_ip(const char *path, const char *rid, char *out, size_t len)
{
	char needle[128];

	snprintf(needle, sizeof(needle), "\"requestId\":\"%s\"", rid);
	out[0] = '\0';
	for (int i = 0; i < 200 && !out[0]; i++) {
		FILE *f = fopen(path, "r");
		char *line = NULL, *ip;
		size_t cap = 0;

		while (f && getline(&line, &cap, f) > 0 && !out[0]) {
			if (!strstr(line, needle) || !strstr(line, "\"httpRequest\""))
				continue;
			ip = strstr(line, "\"remoteIp\":\"");
			snprintf(out, len, "%.*s", ip ? (int)strcspn(ip + 12, "\"") : 0, ip ? ip + 12 : "");
			if (!out[0])
				snprintf(out, len, "(no remoteIp)");
		}
		free(line);
		if (f)
			fclose(f);
		if (!out[0])
			usleep(50 * 1000);
	}
	if (!out[0])
		snprintf(out, len, "(no log line)");
}

/*
 * GET base/health with X-Forwarded-For xff (NULL: none; a '|' starts a
 * second header line) and a fresh request id into rid.
 */
static void get_forwarded(const char *base, const char *xff, char rid[64])
{
	char url[160], h_rid[100], h_xff[200], h_xff2[200];
	const char *bar = xff ? strchr(xff, '|') : NULL;
	const char *h[] = {h_rid, xff ? h_xff : NULL, bar ? h_xff2 : NULL, NULL};
	struct http_resp *r;

	snprintf(rid, 64, "xff-%s-%ld", test_unique(), random());
	snprintf(h_rid, sizeof(h_rid), "X-Request-Id: %s", rid);
	snprintf(h_xff, sizeof(h_xff), "X-Forwarded-For: %.*s", bar ? (int)(bar - xff) : 150, xff ? xff : "");
	snprintf(h_xff2, sizeof(h_xff2), "X-Forwarded-For: %s", bar ? bar + 1 : "");
	snprintf(url, sizeof(url), "%s/health", base);
	r = http_url("GET", url, h, NULL, 0);
	cr_assert_eq(r->status, 200, "%s", r->body);
	http_resp_free(r);
}

Test(logs, without_a_front_end_the_logged_client_is_the_peer_not_a_forged_header)
{
	static const char *const forged[] = {"203.0.113.66", "198.51.100.1, 203.0.113.66", "127.0.0.2", "not an ip",
					     ""};
	char path[300], rid[64], ip[64];

	snprintf(path, sizeof(path), "%s/workers.log", getenv("FLUXORI_TEST_RUN"));
	for (size_t i = 0; i < sizeof(forged) / sizeof(forged[0]); i++) {
		get_forwarded(test_url(), forged[i], rid);
		logged_remote_ip(path, rid, ip, sizeof(ip));
		cr_assert_str_eq(ip, "127.0.0.1", "X-Forwarded-For: %s", forged[i]);
	}
	get_forwarded(test_url(), NULL, rid);
	logged_remote_ip(path, rid, ip, sizeof(ip));
	cr_assert_str_eq(ip, "127.0.0.1", "no X-Forwarded-For");
}

/*
 * On Cloud Run (K_SERVICE) behind Google's external Application Load
 * Balancer, X-Forwarded-For ends "<client>, <load balancer>": what the
 * client sent before that is its own and is not believed.
 */
Test(logs, on_cloud_run_the_logged_client_is_the_address_the_load_balancer_appended, .timeout = 120)
{
	static const struct {
		const char *xff, *client;
	} cases[] = {
		{"203.0.113.9, 34.120.0.1", "203.0.113.9"},
		{"198.51.100.7, 203.0.113.9, 34.120.0.1", "203.0.113.9"},
		{"evil, 10.0.0.1,2001:db8::5,34.120.0.1", "2001:db8::5"},
		{"203.0.113.9", "203.0.113.9"}, /* a direct call through run.app: Cloud Run appended the one entry */
		/* The client's own line, then the front end's: nginx joins them. */
		{"198.51.100.7|203.0.113.9, 34.120.0.1", "203.0.113.9"},
		{"198.51.100.7, not-an-ip, 34.120.0.1", "127.0.0.1"}, /* no usable address: the peer */
	};
	struct instance api;
	char path[300], rid[sizeof(cases) / sizeof(cases[0])][64], ip[64];

	instance_start(&api, "K_SERVICE=fluxori-api\nFLUXORI_LOG_LEVEL=INFO\n");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		get_forwarded(api.base, cases[i].xff, rid[i]);
	snprintf(path, sizeof(path), "%s/api.log", api.run);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		logged_remote_ip(path, rid[i], ip, sizeof(ip));
		if (strcmp(ip, cases[i].client) != 0) {
			instance_stop(&api);
			cr_assert_fail("X-Forwarded-For: %s logged %s, not %s", cases[i].xff, ip, cases[i].client);
		}
	}
	instance_stop(&api);
}
