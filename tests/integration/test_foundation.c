/*
 * Foundation through nginx: health, routing and error answers, request
 * ids, body limits. Swapping and killing workers: test_control.c.
 */
#include "client.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
