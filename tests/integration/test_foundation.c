/*
 * Foundation through nginx: health, routing and error answers, request
 * ids, body limits, and swapping a worker group while it serves.
 */
#include "client.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

Test(health, ready_when_firestore_answers)
{
	struct http_resp *r = http_get("/health/ready", NULL);

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
	cr_assert(r->status == 400 || r->status == 414, "status %ld", r->status);
	cr_assert_not_null(r->json, "JSON, not nginx's HTML: %s", r->body);
	http_resp_free(r);
}

/* A swap of the health group while clients keep calling it. */
static atomic_int failures, successes;
static atomic_bool hammering;

static void *hammer(void *arg)
{
	(void)arg;
	while (atomic_load(&hammering)) {
		struct http_resp *r = http_get("/health", NULL);

		if (r->status == 200)
			atomic_fetch_add(&successes, 1);
		else
			atomic_fetch_add(&failures, 1);
		http_resp_free(r);
	}
	return NULL;
}

Test(control, restart_swaps_a_group_without_failing_a_request, .timeout = 60)
{
	pthread_t t[8];
	int before;

	atomic_store(&hammering, true);
	for (int i = 0; i < 8; i++)
		pthread_create(&t[i], NULL, hammer, NULL);
	for (int i = 0; i < 1000 && atomic_load(&successes) < 200; i++)
		usleep(10000);
	before = atomic_load(&successes);
	cr_assert_eq(test_sh("\"$FLUXORI_SRCDIR/scripts/fluxorictl\" restart health >>\"$FLUXORI_RUN_DIR/workers.log\" 2>&1"),
		     0, "restart succeeded");
	for (int i = 0; i < 1000 && atomic_load(&successes) < before + 500; i++)
		usleep(10000);
	atomic_store(&hammering, false);
	for (int i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	cr_assert_eq(atomic_load(&failures), 0, "%d of %d requests failed during the swap", atomic_load(&failures),
		     atomic_load(&successes));
	cr_assert_gt(atomic_load(&successes), before, "requests kept succeeding after the swap");
}

/* The live pid of a group's worker, from the control script's state. */
static long worker_pid(const char *group)
{
	char cmd[512], out[64] = "";
	FILE *p;

	snprintf(cmd, sizeof(cmd),
		 "cd \"$FLUXORI_RUN_DIR/state\" && g=$(readlink ../sock/%s.sock | sed 's/^%s\\.//; s/\\.sock$//') && "
		 "cat %s.$g.pid",
		 group, group, group);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	if (!fgets(out, sizeof(out), p))
		out[0] = '\0';
	pclose(p);
	return strtol(out, NULL, 10);
}

/* The reports group: no other test of this file uses it while it restarts. */
Test(control, a_killed_worker_is_restarted_and_serves_again, .timeout = 30)
{
	long before = worker_pid("reports"), after = -1;
	struct http_resp *r;
	int ok = 0;

	cr_assert_gt(before, 0, "a reports worker runs");
	cr_assert_eq(test_sh("kill -9 %ld", before), 0);
	/* The supervisor starts a new process at once; within a second it serves again. */
	for (int i = 0; i < 100 && !ok; i++) {
		r = http_json("POST", "/v1/reports", NULL, "{}");
		ok = r->status == 401; /* the worker itself answers: no token */
		if (!ok)
			cr_assert(r->status == 503, "while it restarts the answer is the JSON 503: %ld", r->status);
		http_resp_free(r);
		if (!ok)
			usleep(20 * 1000);
	}
	cr_assert(ok, "the group answers again after the kill");
	after = worker_pid("reports");
	cr_assert_gt(after, 0);
	cr_assert_neq(after, before, "a new worker process serves");
}
