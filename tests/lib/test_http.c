#include "http.h"
#include "testreq.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A FastCGI output stream into memory: what the worker would send to nginx. */
static unsigned char sent[1 << 20];
static FCGX_Stream stream;
static struct fx_arena arena;
static struct fx_req req;

static void start_request(void)
{
	static char *env[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/v1/files/f1/content", "HTTP_X_REQUEST_ID=req-1",
			      NULL};

	testreq_start(&req, env, NULL, &stream, sent, sizeof(sent), &arena);
}

static void end_request(void)
{
	fx_http_req_cleanup(&req);
	fx_arena_cleanup(&arena);
}

static size_t nsent(void)
{
	return (size_t)(stream.wrNext - sent);
}

/* The head and body sent so far, NUL-terminated (static). */
static const char *text(void)
{
	static char copy[sizeof(sent) + 1];

	memcpy(copy, sent, nsent());
	copy[nsent()] = '\0';
	return copy;
}

/* s repeated until n bytes (a multiple of its length). */
static char *repeat(const char *s, size_t n)
{
	size_t len = strlen(s);
	char *p = malloc(n + 1);

	cr_assert_not_null(p);
	for (size_t i = 0; i < n; i += len)
		memcpy(p + i, s, len);
	p[n] = '\0';
	return p;
}

/* The contract's 500 went out, and nothing of the refused answer. */
static void assert_refused_then_500(void)
{
	struct fx_err e;

	cr_assert_eq(nsent(), 0, "nothing was written: %s", text());
	cr_assert_eq(req.status, 0, "no response started");
	fx_err_clear(&e);
	fx_err_set(&e, FX_NOT_FOUND, "%s not found", "file");
	cr_assert_eq(fx_http_resp_error(&req, &e), 0);
	cr_assert_eq(req.status, 500, "a refused answer becomes the 500, whatever error came after it");
	cr_assert(strncmp(text(), "Status: 500 Internal Server Error\r\n", 35) == 0, "%s", text());
	cr_assert_not_null(strstr(text(), "\r\nContent-Type: application/json\r\n"), "%s", text());
	cr_assert_not_null(strstr(text(), "\"status\":\"INTERNAL\""), "%s", text());
	cr_assert_null(strstr(text(), "X-Evil"), "%s", text());
	cr_assert_null(strstr(text(), "Content-Disposition"), "%s", text());
}

TestSuite(http, .init = start_request, .fini = end_request);

/* Issue 12, defect 3: 478 bytes of content type overran a 512-byte head and sent stack bytes. */
Test(http, a_content_type_of_478_bytes_is_written_whole_and_nothing_else)
{
	char *ctype = repeat("\xf0\x9f\x98\x80", 468), expect[1024];
	int n;

	memcpy(ctype, "image/png;", 10); /* 10 + 117 four-byte characters */
	n = snprintf(expect, sizeof(expect),
		     "Status: 200 OK\r\nX-Request-Id: req-1\r\nCache-Control: no-store\r\nContent-Type: %s\r\n"
		     "Content-Length: 5000\r\n\r\n",
		     ctype);
	cr_assert_lt((size_t)n, sizeof(expect));
	cr_assert_eq(fx_http_resp_start(&req, 200, ctype, 5000), 0);
	cr_assert_eq(nsent(), (size_t)n, "%zu bytes sent, %d expected: %s", nsent(), n, text());
	cr_assert_str_eq(text(), expect);
	free(ctype);
}

Test(http, a_content_type_at_the_cap_is_sent_and_one_byte_more_is_refused)
{
	char *ctype = repeat("a", FX_RESP_VALUE_MAX + 1);

	ctype[FX_RESP_VALUE_MAX] = '\0';
	cr_assert_eq(fx_http_resp_start(&req, 200, ctype, 1), 0);
	cr_assert_not_null(strstr(text(), ctype));
	end_request();
	start_request();
	ctype[FX_RESP_VALUE_MAX] = 'a';
	cr_assert_eq(fx_http_resp_start(&req, 200, ctype, 1), -1);
	assert_refused_then_500();
	free(ctype);
}

Test(http, a_content_type_with_cr_lf_or_a_control_byte_is_refused)
{
	static const char *const bad[] = {"text/csv\r\nX-Evil: 1", "text/csv\nX-Evil: 1", "text/csv\rX-Evil: 1",
					  "text/csv\x01X-Evil",	   "text/csv\x7fX-Evil",  NULL};

	for (int i = 0; bad[i]; i++) {
		if (i) {
			end_request();
			start_request();
		}
		cr_assert_eq(fx_http_resp_start(&req, 200, bad[i], 3), -1, "refuses %s", bad[i]);
		assert_refused_then_500();
	}
}

Test(http, a_refused_extra_header_refuses_the_answer_it_belongs_to)
{
	static const char body[] = "{}";

	fx_http_resp_header(&req, "Content-Disposition", "attachment; filename=\"a.csv\"");
	fx_http_resp_header(&req, "X-Evil", "a\r\nSet-Cookie: session=1");
	cr_assert_eq(fx_http_resp_send(&req, 200, "application/json", body, 2), -1);
	assert_refused_then_500();
}

Test(http, header_names_must_be_tokens_and_values_fit_the_cap)
{
	char *big = repeat("v", FX_RESP_VALUE_MAX + 1);

	fx_http_resp_header(&req, "X-Evil: 1\r\nX-Other", "v");
	cr_assert_eq(fx_http_resp_send(&req, 204, NULL, NULL, 0), -1);
	assert_refused_then_500();
	end_request();
	start_request();
	fx_http_resp_header(&req, "X-Big", big);
	cr_assert_eq(fx_http_resp_send(&req, 204, NULL, NULL, 0), -1);
	assert_refused_then_500();
	free(big);
}

Test(http, many_headers_past_the_head_cap_are_refused_not_cut)
{
	char *v = repeat("v", 1000);

	for (int i = 0; i < 20; i++)
		fx_http_resp_header(&req, "X-Many", v);
	cr_assert_eq(fx_http_resp_send(&req, 200, "text/plain", "x", 1), -1);
	assert_refused_then_500();
	free(v);
}

Test(http, extra_headers_and_the_body_follow_the_head)
{
	fx_http_resp_header(&req, "Location", "/v1/files/f1");
	cr_assert_eq(fx_http_resp_send(&req, 201, "application/json", "{}", 2), 0);
	cr_assert_str_eq(text(),
			 "Status: 201 Created\r\nX-Request-Id: req-1\r\nCache-Control: no-store\r\n"
			 "Content-Type: application/json\r\nContent-Length: 2\r\nLocation: /v1/files/f1\r\n\r\n{}");
}

/* What fx_http_forwarded_client finds in xff behind a front end ("-" when nothing). */
static const char *client(const char *xff)
{
	static char out[64];

	if (fx_http_forwarded_client(xff, true, out, sizeof(out)) < 0)
		return "-";
	return out;
}

Test(forwarded_client, without_a_front_end_the_header_is_never_believed)
{
	char out[64] = "untouched";

	cr_assert_eq(fx_http_forwarded_client("203.0.113.9", false, out, sizeof(out)), -1);
	cr_assert_eq(fx_http_forwarded_client("203.0.113.9, 34.120.0.1", false, out, sizeof(out)), -1);
	cr_assert_str_eq(out, "untouched");
}

Test(forwarded_client, behind_the_load_balancer_is_the_second_entry_from_the_end)
{
	/* The load balancer appends "<client>,<load balancer>" after what the client sent. */
	cr_assert_str_eq(client("203.0.113.9,34.120.0.1"), "203.0.113.9");
	cr_assert_str_eq(client("203.0.113.9, 34.120.0.1"), "203.0.113.9");
	cr_assert_str_eq(client("198.51.100.7, 203.0.113.9, 34.120.0.1"), "203.0.113.9");
	cr_assert_str_eq(client("1.1.1.1, 2.2.2.2, 3.3.3.3, 203.0.113.9, 34.120.0.1"), "203.0.113.9");
	cr_assert_str_eq(client("evil <script>, 2001:db8::5 ,34.120.0.1"), "2001:db8::5");
	cr_assert_str_eq(client("\t203.0.113.9\t,34.120.0.1"), "203.0.113.9");
}

Test(forwarded_client, a_single_entry_is_the_one_cloud_run_appended)
{
	cr_assert_str_eq(client("203.0.113.9"), "203.0.113.9");
	cr_assert_str_eq(client(" ::1 "), "::1");
}

Test(forwarded_client, an_entry_that_is_not_an_address_is_no_client)
{
	cr_assert_str_eq(client(NULL), "-");
	cr_assert_str_eq(client(""), "-");
	cr_assert_str_eq(client("unknown, 34.120.0.1"), "-");
	cr_assert_str_eq(client("203.0.113.9, , 34.120.0.1"), "-", "the entry before the last is empty");
	cr_assert_str_eq(client(",34.120.0.1"), "-");
	cr_assert_str_eq(client("203.0.113.9:443, 34.120.0.1"), "-", "a port is not part of the address");
	cr_assert_str_eq(client("203.0.113.256, 34.120.0.1"), "-");
	cr_assert_str_eq(client("[2001:db8::5], 34.120.0.1"), "-");
}

Test(forwarded_client, fails_cleanly_when_out_is_too_small)
{
	char out[8];

	cr_assert_eq(fx_http_forwarded_client("203.0.113.9, 34.120.0.1", true, out, sizeof(out)), -1);
	cr_assert_eq(fx_http_forwarded_client("1.2.3.4, 34.120.0.1", true, out, sizeof(out)), 0);
	cr_assert_str_eq(out, "1.2.3.4");
}

/* A request of its own from the FastCGI params env (NULL-terminated "NAME=value"), with no body stream. */
static void start_with(char **env)
{
	testreq_start(&req, env, &stream, &stream, sent, sizeof(sent), &arena);
}

/* fx_http_req_content_length of a request declaring cl: false when refused (*n is then 77). */
static bool declared(const char *cl, uint64_t *n)
{
	char param[64];
	char *env[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/v1/things", param, NULL};
	bool ok;

	snprintf(param, sizeof(param), "CONTENT_LENGTH=%s", cl);
	start_with(env);
	*n = 77;
	ok = fx_http_req_content_length(&req, n) == 0;
	if (!ok)
		*n = 77;
	end_request();
	return ok;
}

Test(request, content_length_is_a_whole_decimal_count)
{
	static const char *const bad[] = {"12abc", " 12", "12 ", "+12", "-0", "-1", "0x10", "18446744073709551616"};
	uint64_t n;

	cr_assert(declared("12", &n));
	cr_assert_eq(n, 12);
	cr_assert(declared("", &n), "nginx sends an empty CONTENT_LENGTH without a body");
	cr_assert_eq(n, 0);
	cr_assert(declared("18446744073709551615", &n), "the largest count is still a count");
	cr_assert_eq(n, UINT64_MAX);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_not(declared(bad[i], &n), "accepted \"%s\" as %llu", bad[i], (unsigned long long)n);
}

Test(request, without_content_length_nothing_is_declared)
{
	char *env[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/v1/things", NULL};
	uint64_t n = 77;

	start_with(env);
	cr_assert_eq(fx_http_req_content_length(&req, &n), 0);
	cr_assert_eq(n, 0);
	end_request();
}

Test(request, a_malformed_content_length_is_a_400_and_no_body_is_read)
{
	char *env[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/v1/things", "CONTENT_LENGTH=2x", NULL};
	struct fx_err e;

	start_with(env);
	fx_err_clear(&e);
	cr_assert_eq(fx_http_req_read_body(&req, 1024, &e), -1);
	cr_assert_eq(fx_err_http(e.kind), 400);
	cr_assert_str_eq(e.message, "malformed Content-Length");
	cr_assert_null(req.body);
	end_request();
}

/* The span id fx_http_req_init keeps from an X-Cloud-Trace-Context header. */
static const char *span_of(const char *xc, bool *sampled)
{
	static char span[sizeof(req.span_id)];
	char param[256];
	char *env[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/v1/things", param, NULL};

	snprintf(param, sizeof(param), "HTTP_X_CLOUD_TRACE_CONTEXT=0123456789abcdef0123456789ABCDEF%s", xc);
	start_with(env);
	cr_assert_str_eq(req.trace_id, "0123456789abcdef0123456789ABCDEF");
	snprintf(span, sizeof(span), "%s", req.span_id);
	*sampled = req.sampled;
	end_request();
	return span;
}

Test(request, cloud_trace_context_span_ids_are_whole_decimal_numbers)
{
	bool sampled;

	cr_assert_str_eq(span_of("/123;o=1", &sampled), "000000000000007b");
	cr_assert(sampled);
	cr_assert_str_eq(span_of("/123", &sampled), "000000000000007b");
	cr_assert_not(sampled);
	cr_assert_str_eq(span_of("/18446744073709551615;o=0", &sampled), "ffffffffffffffff");
	cr_assert_str_eq(span_of("/18446744073709551616;o=1", &sampled), "", "past 64 bits: no span");
	cr_assert_str_eq(span_of("/123abc;o=1", &sampled), "", "strtoull made 123 of this");
	cr_assert_str_eq(span_of("/-1;o=1", &sampled), "", "strtoull made 2^64 - 1 of this");
	cr_assert_str_eq(span_of("/ 123;o=1", &sampled), "");
	cr_assert_str_eq(span_of("/;o=1", &sampled), "");
	cr_assert(sampled, "the options still count without a span");
}

/*
 * A FastCGI input stream from memory: the request body arrives in records of
 * `chunk` bytes, then the input ends (or, with fail set, the connection
 * breaks). fills counts the records read, the empty one that ends the input
 * included.
 */
static struct {
	char data[40000];
	size_t len, at, chunk;
	int fills;
	bool fail;
} input;

static void fill(FCGX_Stream *s)
{
	size_t n = input.len - input.at < input.chunk ? input.len - input.at : input.chunk;

	input.fills++;
	if (n == 0) {
		s->isClosed = 1;
		s->FCGI_errno = input.fail ? -1 : 0;
		s->rdNext = s->stop = (unsigned char *)input.data + input.at;
		return;
	}
	s->rdNext = (unsigned char *)input.data + input.at;
	s->stop = s->rdNext + n;
	input.at += n;
}

static FCGX_Stream *input_of(size_t len, size_t chunk, bool fail)
{
	static FCGX_Stream in;

	memset(&input, 0, sizeof(input));
	memset(input.data, 'x', sizeof(input.data));
	input.len = len;
	input.chunk = chunk;
	input.fail = fail;
	memset(&in, 0, sizeof(in));
	in.isReader = 1;
	in.rdNext = in.stop = (unsigned char *)input.data;
	in.fillBuffProc = fill;
	return &in;
}

/* Answered before the body was read: the rest is read and the end of the input too. */
Test(http, drain_reads_the_rest_of_the_input_to_its_end)
{
	req.in = input_of(30000, 4096, false);
	cr_assert_eq(fx_http_req_drain(&req, 64 * 1024), 0);
	cr_assert_eq(input.at, 30000, "every byte of the body was read");
	cr_assert(req.in->isClosed, "the record that ends the input was read");
	cr_assert_eq(fx_http_req_drain(&req, 64 * 1024), 0, "an input at its end drains at once");
}

/* A body read to its Content-Length leaves the empty record that ends the input: that is read too. */
Test(http, drain_after_a_body_read_to_its_length_reads_the_last_record)
{
	char body[100];

	req.in = input_of(100, 100, false);
	cr_assert_eq(FCGX_GetStr(body, 100, req.in), 100);
	cr_assert_not(req.in->isClosed);
	cr_assert_eq(fx_http_req_drain(&req, 0), 0);
	cr_assert(req.in->isClosed);
	cr_assert_eq(input.fills, 2, "the body's record and the empty one");
}

Test(http, drain_reads_at_most_max_bytes)
{
	req.in = input_of(30000, 4096, false);
	cr_assert_eq(fx_http_req_drain(&req, 29999), -1, "one byte over the bound");
	cr_assert_leq(input.at, 30000);
	req.in = input_of(30000, 4096, false);
	cr_assert_eq(fx_http_req_drain(&req, 30000), 0, "exactly the bound");
	req.in = input_of(30000, 30000, false);
	cr_assert_eq(fx_http_req_drain(&req, 100), -1, "over the bound in one record");
}

Test(http, drain_fails_when_the_connection_breaks)
{
	req.in = input_of(5000, 1000, true);
	cr_assert_eq(fx_http_req_drain(&req, 64 * 1024), -1);
	req.in = NULL;
	cr_assert_eq(fx_http_req_drain(&req, 0), 0, "no input stream, nothing to read");
}

/* The id of a request that brings none, made by the worker (nginx sends none): 32 hex digits. */
static void fresh_id(char *out, size_t size, char **env)
{
	start_with(env);
	cr_assert_eq(strlen(req.request_id), 32, "id %s", req.request_id);
	cr_assert_eq(strspn(req.request_id, "0123456789abcdef"), 32, "id %s", req.request_id);
	snprintf(out, size, "%s", req.request_id);
	end_request();
}

Test(request_id, a_request_without_one_gets_a_new_id_every_time)
{
	char *env[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/health", NULL};
	static char seen[2000][40];

	for (int i = 0; i < 2000; i++) {
		fresh_id(seen[i], sizeof(seen[i]), env);
		for (int j = 0; j < i; j++)
			cr_assert_str_neq(seen[i], seen[j], "request %d repeats request %d's id", i, j);
	}
}

Test(request_id, an_insane_client_id_is_replaced_by_a_new_one)
{
	char *env[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/health", "HTTP_X_REQUEST_ID=<script>", NULL};
	char a[40], b[40];

	fresh_id(a, sizeof(a), env);
	fresh_id(b, sizeof(b), env);
	cr_assert_str_neq(a, b);
}

Test(request_id, a_sane_client_id_is_kept)
{
	char *env[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/health", "HTTP_X_REQUEST_ID=client-req.42", NULL};

	start_with(env);
	cr_assert_str_eq(req.request_id, "client-req.42");
	end_request();
}
