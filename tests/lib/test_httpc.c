/* lib/httpc: calls to an upstream (tests/lib/testserver), retries and their backoff. */
#include "httpc.h"
#include "testserver.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static struct testserver *ts;
static struct fx_err err;

static void start(void)
{
	ts = ts_start();
	fx_err_clear(&err);
}

static void stop(void)
{
	fx_httpc_thread_cleanup();
	ts_stop(ts);
}

TestSuite(httpc, .init = start, .fini = stop);

struct once {
	const char *retry_after;
	unsigned answered;
};

/* The first request gets a 503 with the Retry-After header of ctx, every later one a 200. */
static void unavailable_once(const struct ts_request *req, struct ts_response *resp, void *ctx)
{
	struct once *o = ctx;

	(void)req;
	if (o->answered++ == 0) {
		resp->status = 503;
		snprintf(resp->headers, sizeof(resp->headers), "Retry-After: %s\r\n", o->retry_after);
		return;
	}
	resp->status = 200;
	resp->body_len = (size_t)snprintf(resp->body, sizeof(resp->body), "ok");
}

/*
 * One call with a 4 s budget and at most two attempts, after a first 503
 * carrying Retry-After: ra. A Retry-After of 5 s or more is waited for
 * only while the budget lasts, so the call ends on the 503 after one
 * attempt; otherwise the backoff (100 ms +- 50 %) fits and the second
 * attempt gets the 200.
 */
static long call_after(const char *ra, int *attempts)
{
	char url[128];
	struct fx_httpc_req req = {.url = url, .timeout_ms = 4000, .retry = FX_RETRY_UNAVAILABLE, .max_attempts = 2};
	struct fx_httpc_resp resp;
	struct once o = {ra, 0};
	long status;

	snprintf(url, sizeof(url), "%s/thing", ts_url(ts));
	ts_handle(ts, unavailable_once, &o);
	fx_httpc_resp_init(&resp);
	cr_assert_eq(fx_httpc_do(&req, &resp, &err), 0, "%s", err.message);
	status = resp.status;
	*attempts = resp.attempts;
	fx_httpc_resp_cleanup(&resp);
	ts_handle(ts, NULL, NULL);
	return status;
}

Test(httpc, a_retry_after_past_the_budget_ends_the_call_on_the_503)
{
	int attempts;

	cr_assert_eq(call_after("9", &attempts), 503);
	cr_assert_eq(attempts, 1);
	cr_assert_eq(ts_count(ts), 1);
}

Test(httpc, a_retry_after_that_is_not_a_number_is_ignored_not_read_up_to_the_junk)
{
	int attempts;

	/* strtol read "9junk" as 9 s and gave up on a call the normal backoff would have saved. */
	cr_assert_eq(call_after("9junk", &attempts), 200);
	cr_assert_eq(attempts, 2);
	cr_assert_eq(ts_count(ts), 2);
}

Test(httpc, a_retry_after_in_the_http_date_form_is_ignored)
{
	int attempts;

	cr_assert_eq(call_after("Wed, 21 Oct 2026 07:28:00 GMT", &attempts), 200);
	cr_assert_eq(attempts, 2);
}

Test(httpc, a_short_retry_after_is_waited_for_and_the_retry_succeeds)
{
	int attempts;

	cr_assert_eq(call_after("1", &attempts), 200);
	cr_assert_eq(attempts, 2);
}

struct sunk {
	size_t n;
};

static int count_bytes(void *ctx, const char *p, size_t n)
{
	(void)p;
	((struct sunk *)ctx)->n += n;
	return 0;
}

/* Answers with the response ctx points to. */
static void reply_with(const struct ts_request *req, struct ts_response *resp, void *ctx)
{
	(void)req;
	*resp = *(const struct ts_response *)ctx;
}

/* A body of n bytes in six pieces, drip_ms apart, streamed to a sink under a 2 s budget. */
static int stream_dripped(size_t n, unsigned drip_ms, struct sunk *got)
{
	static struct ts_response slow;
	char url[128];
	struct fx_httpc_req req = {.url = url, .timeout_ms = 2000, .sink = count_bytes, .sink_ctx = got};
	struct fx_httpc_resp resp;
	int rc;

	slow.status = 200;
	slow.body_len = n;
	memset(slow.body, 'b', slow.body_len);
	slow.drip_ms = drip_ms;
	snprintf(url, sizeof(url), "%s/object", ts_url(ts));
	ts_handle(ts, reply_with, &slow);
	fx_httpc_resp_init(&resp);
	rc = fx_httpc_do(&req, &resp, &err);
	fx_httpc_resp_cleanup(&resp);
	return rc;
}

/*
 * A streamed body (a file download) is bounded by how long it stalls, not
 * by its total time: six pieces 700 ms apart take 3.5 s, well past the 2 s
 * budget of a JSON call, and arrive whole because bytes keep coming.
 */
Test(httpc, a_streamed_body_that_keeps_coming_outlasts_the_call_budget)
{
	struct sunk got = {0};

	cr_assert_eq(stream_dripped(60 * 1024, 700, &got), 0, "%s", err.message);
	cr_assert_eq(got.n, 60 * 1024);
}

/*
 * A streamed body that comes slower than FX_STREAM_MIN_BYTES_PER_S for the
 * budget (here a byte, then 6 s of nothing) is given up.
 */
Test(httpc, a_streamed_body_that_stalls_past_the_budget_is_given_up)
{
	struct sunk got = {0};

	cr_assert_eq(stream_dripped(6, 6000, &got), -1, "a 6 s stall must end the call");
	cr_assert_lt(got.n, 6);
}

/* One home for reading header lines: responses here, requests in the tests' servers (testserver, httpserve). */
Test(httpc_header_in, finds_the_first_line_of_a_name_in_any_case_trimmed_and_only_whole)
{
	const char *lines = "Content-Type: text/plain\r\nX-Fluxori-Event:\t order.created \r\nX-Long: 0123456789\r\n"
			    "x-fluxori-event: second\r\nLast:no-space";
	char out[8], big[64];

	cr_assert_str_eq(fx_httpc_header_in(lines, "x-FLUXORI-event", big, sizeof(big)), "order.created");
	cr_assert_str_eq(fx_httpc_header_in(lines, "Last", big, sizeof(big)), "no-space");
	cr_assert_null(fx_httpc_header_in(lines, "Content", big, sizeof(big)), "a prefix of a name is not the name");
	cr_assert_null(fx_httpc_header_in(lines, "Missing", big, sizeof(big)));
	cr_assert_null(fx_httpc_header_in(NULL, "Last", big, sizeof(big)));
	cr_assert_null(fx_httpc_header_in(lines, "X-Long", out, sizeof(out)), "a value that does not fit is refused");
	cr_assert_str_eq(fx_httpc_header_in(lines, "X-Long", out, 11), "0123456789");
}

/* One call on this thread's handle; the request the server saw goes to seen. */
static long call_as(const char *method, const char *body, const char *const *headers, struct ts_request *seen,
		    size_t *answered)
{
	char url[128];
	struct fx_httpc_req req = {.method = method,
				   .url = url,
				   .headers = headers,
				   .body = body,
				   .body_len = body ? strlen(body) : 0,
				   .timeout_ms = 4000};
	struct fx_httpc_resp resp;
	long status;

	snprintf(url, sizeof(url), "%s/thing", ts_url(ts));
	fx_httpc_resp_init(&resp);
	cr_assert_eq(fx_httpc_do(&req, &resp, &err), 0, "%s %s", method, err.message);
	status = resp.status;
	*answered = resp.body.len;
	fx_httpc_resp_cleanup(&resp);
	cr_assert(ts_last(ts, seen));
	return status;
}

/*
 * Calls of every kind one after another on one thread (one curl handle,
 * kept between calls): each goes out with its own method, body and headers
 * only, and a GET after a HEAD reads its answer's body again.
 */
Test(httpc, each_call_on_a_thread_sends_its_own_method_body_and_headers)
{
	static const char *const with_header[] = {"X-Only-Once: 1", NULL};
	static const struct {
		const char *method, *body;
		bool header;
		size_t answered; /* the answer's body bytes the caller gets */
	} calls[] = {
		{"POST", "{\"a\":1}", true, 2}, {"GET", NULL, false, 2},    {"HEAD", NULL, false, 0},
		{"GET", NULL, false, 2},	{"DELETE", NULL, false, 2}, {"GET", NULL, false, 2},
		{"PATCH", "{}", false, 2},	{"DELETE", "x", false, 2},  {"GET", NULL, true, 2},
		{"PUT", NULL, false, 2},	{"HEAD", NULL, false, 0},   {"POST", NULL, false, 2},
	};
	struct ts_request seen;
	char value[16];
	size_t answered;

	ts_reply(ts, 200, NULL, "ok");
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		size_t want_len = calls[i].body ? strlen(calls[i].body) : 0;

		cr_assert_eq(
			call_as(calls[i].method, calls[i].body, calls[i].header ? with_header : NULL, &seen, &answered),
			200);
		cr_assert_str_eq(seen.method, calls[i].method, "call %zu", i);
		cr_assert_eq(seen.body_len, want_len, "call %zu (%s): %zu body bytes sent", i, calls[i].method,
			     seen.body_len);
		cr_assert_eq(memcmp(seen.body, calls[i].body ? calls[i].body : "", want_len), 0, "call %zu", i);
		cr_assert_eq(ts_header(&seen, "X-Only-Once", value, sizeof(value)) != NULL, calls[i].header,
			     "call %zu: a header of another call", i);
		cr_assert_eq(answered, calls[i].answered, "call %zu (%s): %zu answer bytes", i, calls[i].method,
			     answered);
	}
}

struct sized {
	size_t n;
	unsigned drip_ms;
};

/* A 200 of ctx's n bytes (a pattern no shift or cut leaves equal), with its Content-Length. */
static void sized_body(const struct ts_request *req, struct ts_response *resp, void *ctx)
{
	const struct sized *s = ctx;

	(void)req;
	resp->status = 200;
	for (size_t i = 0; i < s->n; i++)
		resp->body[i] = (char)('a' + (i * 7 + i / 251) % 26);
	resp->body_len = s->n;
	resp->drip_ms = s->drip_ms;
}

/*
 * A body with a Content-Length is read into one allocation of its size
 * (before: grown by doubling from 256 bytes, eight reallocations for a
 * 30 KB runQuery answer), whole and NUL-terminated, whether it comes at
 * once or in pieces; a Content-Length over the call's cap still refuses it.
 */
Test(httpc, a_body_with_a_content_length_is_read_whole_into_one_allocation_of_its_size)
{
	static const size_t sizes[] = {1, 255, 256, 257, 4096, 30012, TS_MAX_BODY};
	char url[128];

	snprintf(url, sizeof(url), "%s/body", ts_url(ts));
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		for (unsigned drip = 0; drip <= 1; drip++) {
			struct sized s = {sizes[k], drip};
			struct fx_httpc_req req = {.url = url, .timeout_ms = 4000, .max_attempts = 1};
			struct fx_httpc_resp resp;

			ts_handle(ts, sized_body, &s);
			fx_httpc_resp_init(&resp);
			cr_assert_eq(fx_httpc_do(&req, &resp, &err), 0, "%s", err.message);
			cr_assert_eq(resp.status, 200);
			cr_assert_eq(resp.body.len, s.n, "%zu bytes (drip %u): %zu read", s.n, drip, resp.body.len);
			cr_assert_eq(resp.body.cap, s.n + 1, "%zu bytes: one allocation of the body's size, not %zu",
				     s.n, resp.body.cap);
			cr_assert_eq(resp.body.data[s.n], '\0');
			for (size_t i = 0; i < s.n; i++)
				cr_assert_eq(resp.body.data[i], (char)('a' + (i * 7 + i / 251) % 26), "byte %zu of %zu",
					     i, s.n);
			fx_httpc_resp_cleanup(&resp);
		}
	}
	{
		struct sized s = {30012, 0};
		struct fx_httpc_req req = {.url = url, .timeout_ms = 4000, .max_attempts = 1, .max_response = 30011};
		struct fx_httpc_resp resp;

		ts_handle(ts, sized_body, &s);
		fx_httpc_resp_init(&resp);
		cr_assert_eq(fx_httpc_do(&req, &resp, &err), -1, "a body one byte over the cap is refused");
		fx_httpc_resp_cleanup(&resp);
	}
	ts_handle(ts, NULL, NULL);
}
