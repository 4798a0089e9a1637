/*
 * lib/egress: the guarded client for addresses users choose. Forbidden
 * addresses are refused before any connection is opened, so the literal and
 * name cases need no network; the cases that do connect use
 * tests/lib/testserver on 127.0.0.1 with allow_private, as demo- projects do.
 */
#include "egress.h"
#include "log.h"
#include "testserver.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct testserver *ts;
static struct fx_err err;
static struct fx_httpc_resp resp;

static void start(void)
{
	ts = ts_start();
	fx_err_clear(&err);
	fx_httpc_resp_init(&resp);
}

static void stop(void)
{
	fx_httpc_resp_cleanup(&resp);
	fx_egress_thread_cleanup();
	ts_stop(ts);
}

TestSuite(egress, .init = start, .fini = stop);

/* A GET of url; returns fx_egress_do's result. */
static int get(const char *url, bool allow_private)
{
	struct fx_egress_req req = {.url = url, .allow_private = allow_private, .service = "test"};

	fx_err_clear(&err);
	return fx_egress_do(&req, &resp, &err);
}

struct refused {
	const char *host; /* as written in a URL */
	const char *rule;
};

static const struct refused literals[] = {
	{"0.0.0.0", "unspecified"},
	{"0.1.2.3", "unspecified"},
	{"127.0.0.1", "loopback"},
	{"127.255.255.254", "loopback"},
	{"10.0.0.1", "private"},
	{"10.255.255.255", "private"},
	{"172.16.0.1", "private"},
	{"172.31.255.255", "private"},
	{"192.168.0.1", "private"},
	{"192.168.255.255", "private"},
	{"169.254.0.1", "link-local"},
	{"169.254.169.254", "metadata"},
	{"100.64.0.1", "CGNAT"},
	{"100.127.255.255", "CGNAT"},
	{"224.0.0.1", "multicast"},
	{"239.255.255.255", "multicast"},
	{"240.0.0.1", "reserved"},
	{"255.255.255.255", "broadcast"},
	{"[::]", "unspecified"},
	{"[::1]", "loopback"},
	{"[::7f00:1]", "reserved"},
	{"[fc00::1]", "unique-local"},
	{"[fdff:ffff::1]", "unique-local"},
	{"[fe80::1]", "link-local"},
	{"[febf::1]", "link-local"},
	{"[fec0::1]", "site-local"},
	{"[ff02::1]", "multicast"},
	{"[2001:0:4136:e378::1]", "reserved"},
	/* IPv4-mapped, NAT64 and 6to4 forms carry the IPv4 address they are judged by. */
	{"[::ffff:0.0.0.0]", "unspecified"},
	{"[::ffff:127.0.0.1]", "loopback"},
	{"[::ffff:10.0.0.1]", "private"},
	{"[::ffff:172.16.0.1]", "private"},
	{"[::ffff:192.168.1.1]", "private"},
	{"[::ffff:169.254.0.1]", "link-local"},
	{"[::ffff:169.254.169.254]", "metadata"},
	{"[::ffff:100.64.0.1]", "CGNAT"},
	{"[::ffff:224.0.0.1]", "multicast"},
	{"[::ffff:255.255.255.255]", "broadcast"},
	{"[64:ff9b::127.0.0.1]", "loopback"},
	{"[64:ff9b::10.0.0.1]", "private"},
	{"[64:ff9b::169.254.169.254]", "metadata"},
	{"[64:ff9b::100.64.0.1]", "CGNAT"},
	{"[64:ff9b:1::1]", "reserved"},
	{"[2002:7f00:1::1]", "loopback"},
	{"[2002:c0a8:101::1]", "private"},
	/* Other spellings of loopback that resolvers accept. */
	{"127.1", "loopback"},
	{"2130706433", "loopback"},
	{"0x7f000001", "loopback"},
};

#define NLITERALS (sizeof(literals) / sizeof(literals[0]))

Test(egress, every_forbidden_range_as_a_literal_is_refused_at_creation_and_at_connect)
{
	for (size_t i = 0; i < NLITERALS; i++) {
		char url[128];

		snprintf(url, sizeof(url), "https://%s/admin/api/graphql.json?token=q", literals[i].host);
		fx_err_clear(&err);
		cr_assert_eq(fx_egress_check_url(url, false, &err), -1, "%s", literals[i].host);
		cr_assert(fx_err_is(&err, FX_INVALID_ARGUMENT), "%s: %s", literals[i].host, err.message);
		cr_assert(strstr(err.message, literals[i].rule), "%s: %s (want %s)", literals[i].host, err.message,
			  literals[i].rule);
		cr_assert_eq(get(url, false), -1, "%s", literals[i].host);
		cr_assert(fx_err_is(&err, FX_INVALID_ARGUMENT), "%s: %s", literals[i].host, err.message);
		cr_assert(strstr(err.message, literals[i].rule), "%s: %s", literals[i].host, err.message);
		cr_assert_null(strstr(err.message, "token"), "never the query: %s", err.message);
	}
}

static const char *rule_of(const char *text)
{
	struct sockaddr_in a4 = {.sin_family = AF_INET};
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};

	if (inet_pton(AF_INET, text, &a4.sin_addr) == 1)
		return fx_egress_forbidden((struct sockaddr *)&a4, false);
	cr_assert_eq(inet_pton(AF_INET6, text, &a6.sin6_addr), 1, "%s", text);
	return fx_egress_forbidden((struct sockaddr *)&a6, false);
}

Test(egress, public_addresses_next_to_each_range_are_allowed)
{
	static const char *const allowed[] = {
		"1.1.1.1",	   "9.255.255.255",  "11.0.0.0",	"126.255.255.255",  "128.0.0.0",
		"172.15.255.255",  "172.32.0.0",     "192.167.255.255", "192.169.0.0",	    "169.253.255.255",
		"169.255.0.0",	   "100.63.255.255", "100.128.0.0",	"223.255.255.255",  "41.0.0.1",
		"2001:4860::8888", "2c0f:fb50::1",   "::ffff:8.8.8.8",	"64:ff9b::808:808", "2002:808:808::1",
		"fbff::1",	   "fe7f::1",
	};

	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		cr_assert_null(rule_of(allowed[i]), "%s is public", allowed[i]);
	cr_assert_str_eq(rule_of("172.16.0.0"), "private", "the control is refused");
}

Test(egress, allow_private_lifts_every_rule_but_the_metadata_servers)
{
	struct sockaddr_in a4 = {.sin_family = AF_INET};
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};

	for (size_t i = 0; i < NLITERALS; i++) {
		char url[128];

		snprintf(url, sizeof(url), "http://%s/", literals[i].host);
		fx_err_clear(&err);
		if (strcmp(literals[i].rule, "metadata") == 0) {
			cr_assert_eq(fx_egress_check_url(url, true, &err), -1, "%s", literals[i].host);
			cr_assert(strstr(err.message, "metadata"), "%s", err.message);
		} else {
			cr_assert_eq(fx_egress_check_url(url, true, &err), 0, "%s: %s", literals[i].host, err.message);
		}
	}
	inet_pton(AF_INET, "169.254.169.254", &a4.sin_addr);
	cr_assert_str_eq(fx_egress_forbidden((struct sockaddr *)&a4, true), "metadata");
	inet_pton(AF_INET6, "::ffff:169.254.169.254", &a6.sin6_addr);
	cr_assert_str_eq(fx_egress_forbidden((struct sockaddr *)&a6, true), "metadata");
}

Test(egress, the_metadata_server_is_refused_by_name_even_with_allow_private)
{
	static const char *const urls[] = {"http://metadata.google.internal/computeMetadata/v1/",
					   "https://METADATA.google.INTERNAL./", "http://metadata/"};

	for (size_t i = 0; i < 3; i++) {
		cr_assert_eq(fx_egress_check_url(urls[i], true, &err), -1, "%s", urls[i]);
		cr_assert(strstr(err.message, "metadata"), "%s", err.message);
		cr_assert_eq(get(urls[i], true), -1, "%s", urls[i]);
		cr_assert(fx_err_is(&err, FX_INVALID_ARGUMENT), "%s", err.message);
	}
}

Test(egress, localhost_by_name_is_refused_without_allow_private_and_nothing_connects)
{
	char url[128];
	const char *port = strrchr(ts_url(ts), ':') + 1;
	static const char *const names[] = {"localhost", "LOCALHOST"};

	ts_reply(ts, 200, NULL, "reached");
	for (size_t i = 0; i < 2; i++) {
		snprintf(url, sizeof(url), "https://%s:%s/", names[i], port);
		cr_assert_eq(fx_egress_check_url(url, false, &err), -1, "%s", url);
		cr_assert(strstr(err.message, "loopback"), "%s", err.message);
		/* fx_egress_do does not rely on the creation-time check: the connected address is refused. */
		cr_assert_eq(get(url, false), -1, "%s", url);
		cr_assert(fx_err_is(&err, FX_INVALID_ARGUMENT), "%s", err.message);
		cr_assert(strstr(err.message, "loopback"), "%s", err.message);
	}
	cr_assert_eq(ts_count(ts), 0, "no connection reached the server");

	snprintf(url, sizeof(url), "http://localhost:%s/", port);
	cr_assert_eq(fx_egress_check_url(url, true, &err), 0, "%s", err.message);
	cr_assert_eq(get(url, true), 0, "%s", err.message);
	cr_assert_eq(resp.status, 200);
	cr_assert_str_eq(resp.body.data, "reached");
	cr_assert_eq(ts_count(ts), 1);
}

Test(egress, http_is_refused_without_allow_private_before_anything_connects)
{
	ts_reply(ts, 200, NULL, "reached");
	cr_assert_eq(get(ts_url(ts), false), -1);
	cr_assert(fx_err_is(&err, FX_INVALID_ARGUMENT));
	cr_assert(strstr(err.message, "https"), "%s", err.message);
	cr_assert_eq(fx_egress_check_url("http://example.com/", false, &err), -1);
	cr_assert(strstr(err.message, "https"), "%s", err.message);
	cr_assert_eq(fx_egress_check_url("ftp://example.com/", true, &err), -1);
	cr_assert_eq(fx_egress_check_url("file:///etc/passwd", true, &err), -1);
	cr_assert_eq(fx_egress_check_url("example.com", true, &err), -1, "no scheme is no URL");
	cr_assert_eq(ts_count(ts), 0);
}

Test(egress, a_url_with_a_user_or_password_is_refused)
{
	cr_assert_eq(fx_egress_check_url("https://ck_123:cs_456@shop.example.com/", false, &err), -1);
	cr_assert(fx_err_is(&err, FX_INVALID_ARGUMENT));
	cr_assert_null(strstr(err.message, "cs_456"), "%s", err.message);
	cr_assert_eq(fx_egress_check_url("https://admin@shop.example.com/", false, &err), -1);
}

static void redirect_to_metadata(const struct ts_request *req, struct ts_response *r, void *ctx)
{
	(void)req;
	(void)ctx;
	r->status = 302;
	snprintf(r->headers, sizeof(r->headers), "Location: http://169.254.169.254/computeMetadata/v1/\r\n");
	r->body_len = (size_t)snprintf(r->body, sizeof(r->body), "moved");
}

Test(egress, a_redirect_is_the_answer_and_is_not_followed)
{
	char loc[128];

	ts_handle(ts, redirect_to_metadata, NULL);
	cr_assert_eq(get(ts_url(ts), true), 0, "%s", err.message);
	cr_assert_eq(resp.status, 302);
	cr_assert_not_null(fx_httpc_header(&resp, "Location", loc, sizeof(loc)));
	cr_assert_str_eq(loc, "http://169.254.169.254/computeMetadata/v1/");
	cr_assert_eq(ts_count(ts), 1, "one request, no second one to the Location");
}

static void rate_limited(const struct ts_request *req, struct ts_response *r, void *ctx)
{
	(void)ctx;
	r->status = 429;
	snprintf(r->headers, sizeof(r->headers), "Retry-After: 7\r\nX-RateLimit-Remaining: 0\r\n");
	r->body_len = (size_t)snprintf(r->body, sizeof(r->body), "%s %s %.*s", req->method, req->path,
				       (int)req->body_len, req->body);
}

Test(egress, the_status_body_and_headers_of_any_answer_come_back)
{
	const char *const headers[] = {"Content-Type: application/json", "X-Shopify-Access-Token: shpat_x", NULL};
	struct fx_egress_req req = {.method = "POST",
				    .headers = headers,
				    .body = "{\"q\":1}",
				    .body_len = 7,
				    .allow_private = true,
				    .service = "shopify"};
	char url[160], v[32];
	struct ts_request seen;

	snprintf(url, sizeof(url), "%s/admin/api/2025-01/graphql.json", ts_url(ts));
	req.url = url;
	ts_handle(ts, rate_limited, NULL);
	cr_assert_eq(fx_egress_do(&req, &resp, &err), 0, "%s", err.message);
	cr_assert_eq(resp.status, 429, "a 429 is an answer, not an error");
	cr_assert_str_eq(resp.body.data, "POST /admin/api/2025-01/graphql.json {\"q\":1}");
	cr_assert_str_eq(fx_httpc_header(&resp, "Retry-After", v, sizeof(v)), "7");
	cr_assert_str_eq(fx_httpc_header(&resp, "x-ratelimit-remaining", v, sizeof(v)), "0");
	cr_assert(ts_last(ts, &seen));
	cr_assert_str_eq(ts_header(&seen, "X-Shopify-Access-Token", v, sizeof(v)), "shpat_x");
	cr_assert_eq(ts_count(ts), 1, "never retried here");
}

Test(egress, an_answer_over_the_cap_is_a_502_and_one_at_the_cap_passes)
{
	static char body[2001];
	struct fx_egress_req req = {.allow_private = true, .max_response = 2000, .service = "test"};

	req.url = ts_url(ts);
	memset(body, 'x', 2000);
	ts_reply(ts, 200, NULL, body);
	cr_assert_eq(fx_egress_do(&req, &resp, &err), 0, "%s", err.message);
	cr_assert_eq(resp.body.len, 2000);
	req.max_response = 1999;
	cr_assert_eq(fx_egress_do(&req, &resp, &err), -1);
	cr_assert(fx_err_is(&err, FX_BAD_GATEWAY), "%s", err.message);
}

/* The status in ctx, a header, and the test server's largest body (64 KiB of 'z'). */
static void long_answer(const struct ts_request *req, struct ts_response *r, void *ctx)
{
	(void)req;
	r->status = *(const int *)ctx;
	snprintf(r->headers, sizeof(r->headers), "X-Kept: yes\r\n");
	r->body_len = TS_MAX_BODY;
	memset(r->body, 'z', r->body_len);
}

/*
 * A caller that ignores the body (webhook deliveries) asks for it to be
 * discarded past the cap: the call succeeds with the status, the headers and
 * the first bytes, and the buffer never grows past the cap. Callers that read
 * the body (channel clients, which leave discard_past_cap false) still get
 * the 502, so a cut body is never parsed as a whole one.
 */
Test(egress, a_body_past_the_cap_is_discarded_when_asked_and_the_status_kept)
{
	struct fx_egress_req req = {.allow_private = true, .max_response = 2000, .service = "test"};
	int status = 201;
	char v[16];

	req.url = ts_url(ts);
	ts_handle(ts, long_answer, &status);
	cr_assert_eq(fx_egress_do(&req, &resp, &err), -1, "without the option");
	cr_assert(fx_err_is(&err, FX_BAD_GATEWAY), "%s", err.message);

	req.discard_past_cap = true;
	fx_err_clear(&err);
	cr_assert_eq(fx_egress_do(&req, &resp, &err), 0, "%s", err.message);
	cr_assert_eq(resp.status, 201);
	cr_assert_str_eq(fx_httpc_header(&resp, "X-Kept", v, sizeof(v)), "yes");
	cr_assert_eq(resp.body.len, 2000, "the first bytes, up to the cap");
	cr_assert_eq(strspn(resp.body.data, "z"), 2000);
	cr_assert_leq(resp.body.cap, 2001, "memory bounded by the cap (and its NUL), not by the answer");

	/* Any status is kept: a 500 with a long body is the receiver's 500, not a 502. */
	status = 500;
	cr_assert_eq(fx_egress_do(&req, &resp, &err), 0, "%s", err.message);
	cr_assert_eq(resp.status, 500);
	cr_assert_eq(resp.body.len, 2000);

	/* An answer within the cap comes whole, as without the option. */
	req.max_response = TS_MAX_BODY;
	status = 200;
	cr_assert_eq(fx_egress_do(&req, &resp, &err), 0, "%s", err.message);
	cr_assert_eq(resp.status, 200);
	cr_assert_eq(resp.body.len, TS_MAX_BODY);
}

static void largest_body(const struct ts_request *req, struct ts_response *r, void *ctx)
{
	(void)req;
	(void)ctx;
	r->status = 200;
	r->body_len = 1500000;
	if (r->body_len > sizeof(r->body))
		r->body_len = sizeof(r->body);
	memset(r->body, 'y', r->body_len);
}

Test(egress, the_default_cap_is_one_mebibyte_of_body)
{
	/* The test server's largest body (64 KiB) passes the default cap, which is 1 MiB. */
	struct fx_egress_req req = {.allow_private = true, .service = "test"};

	req.url = ts_url(ts);
	ts_handle(ts, largest_body, NULL);
	cr_assert_eq(fx_egress_do(&req, &resp, &err), 0, "%s", err.message);
	cr_assert_eq(resp.body.max, FX_EGRESS_DEFAULT_MAX_RESPONSE);
	cr_assert_eq(resp.body.len, TS_MAX_BODY);
}

static void stalled(const struct ts_request *req, struct ts_response *r, void *ctx)
{
	(void)req;
	(void)ctx;
	r->status = 200;
	r->body_len = (size_t)snprintf(r->body, sizeof(r->body), "slow slow slow slow slow slow");
	r->drip_ms = 1000; /* six pieces a second apart: 5 s in all */
}

Test(egress, a_stalled_server_times_out_as_unavailable)
{
	struct fx_egress_req req = {.allow_private = true, .timeout_ms = 300, .service = "test"};

	req.url = ts_url(ts);
	ts_handle(ts, stalled, NULL);
	cr_assert_eq(fx_egress_do(&req, &resp, &err), -1);
	cr_assert(fx_err_is(&err, FX_UNAVAILABLE), "%s", err.message);
}

Test(egress, an_unreachable_port_is_unavailable_not_refused)
{
	char url[64];
	struct testserver *gone = ts_start();

	/* A port that was just listening and is closed now. */
	snprintf(url, sizeof(url), "%s/", ts_url(gone));
	ts_stop(gone);
	cr_assert_eq(get(url, true), -1);
	cr_assert(fx_err_is(&err, FX_UNAVAILABLE), "%s", err.message);
}

Test(egress, a_proxy_from_the_environment_is_not_used)
{
	struct testserver *proxy = ts_start();
	char url[96];

	ts_reply(proxy, 200, NULL, "proxied");
	ts_reply(ts, 200, NULL, "direct");
	setenv("http_proxy", ts_url(proxy), 1);
	setenv("HTTPS_PROXY", ts_url(proxy), 1);
	setenv("ALL_PROXY", ts_url(proxy), 1);
	/* A public host: through the proxy it would be answered "proxied"; directly it cannot resolve here or is refused. */
	snprintf(url, sizeof(url), "%s/", ts_url(ts));
	cr_assert_eq(get(url, true), 0, "%s", err.message);
	cr_assert_str_eq(resp.body.data, "direct");
	cr_assert_eq(get("https://127.0.0.1/", false), -1, "the address rule, not a proxy, decides");
	cr_assert(strstr(err.message, "loopback"), "%s", err.message);
	cr_assert_eq(ts_count(proxy), 0, "nothing went to the proxy");
	unsetenv("http_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("ALL_PROXY");
	ts_stop(proxy);
}

/* Runs f with stderr (where lib/log writes) captured into out; returns what was written. */
static size_t captured(void (*f)(void), char *out, size_t out_len)
{
	char path[] = "/tmp/fx-egress-log-XXXXXX";
	int fd = mkstemp(path), saved = dup(2);
	ssize_t n;

	cr_assert_geq(fd, 0);
	cr_assert_geq(saved, 0);
	unlink(path);
	cr_assert_eq(dup2(fd, 2), 2);
	f();
	cr_assert_eq(dup2(saved, 2), 2);
	close(saved);
	cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
	n = read(fd, out, out_len - 1);
	close(fd);
	cr_assert_geq(n, 0);
	out[n] = '\0';
	return (size_t)n;
}

static void calls_with_secrets(void)
{
	const char *const headers[] = {"X-Shopify-Access-Token: shpat_SECRETVALUE", NULL};
	struct fx_egress_req req = {.headers = headers, .service = "shopify"};
	char url[160];

	fx_log_init("test", FX_LOG_DEBUG);
	snprintf(url, sizeof(url), "%s/orders.json?consumer_secret=cs_SECRETVALUE", ts_url(ts));
	req.url = url;
	req.allow_private = true;
	ts_reply(ts, 200, NULL, "{}");
	fx_err_ignore(fx_egress_do(&req, &resp, &err)); /* answered */
	ts_down(ts, true);
	fx_err_ignore(fx_egress_do(&req, &resp, &err)); /* unreachable */
	req.allow_private = false;
	fx_err_ignore(fx_egress_do(&req, &resp, &err)); /* refused: http */
	snprintf(url, sizeof(url), "https://10.0.0.1/orders.json?consumer_secret=cs_SECRETVALUE");
	fx_err_ignore(fx_egress_do(&req, &resp, &err)); /* refused: private */
	fx_log_init("test", FX_LOG_INFO);
}

Test(egress, no_header_value_or_query_string_reaches_the_log)
{
	char log[16384];

	captured(calls_with_secrets, log, sizeof(log));
	cr_assert(strstr(log, "egress shopify GET 127.0.0.1"), "the calls are logged: %s", log);
	cr_assert(strstr(log, "private"), "the refusal is logged: %s", log);
	cr_assert_null(strstr(log, "SECRETVALUE"), "%s", log);
	cr_assert_null(strstr(log, "orders.json"), "not even the path: %s", log);
}

Test(egress, allow_private_is_ignored_outside_a_demo_project)
{
	struct fx_config cfg = {.project = "fluxori-prod"};
	char url[96];

	ts_reply(ts, 200, NULL, "reached");
	snprintf(url, sizeof(url), "%s/", ts_url(ts));
	fx_config_set(&cfg);
	cr_assert_not(fx_egress_private_allowed());
	cr_assert_eq(fx_egress_check_url(url, true, &err), -1);
	cr_assert(strstr(err.message, "https"), "%s", err.message);
	cr_assert_eq(get(url, true), -1);
	cr_assert(fx_err_is(&err, FX_INVALID_ARGUMENT), "%s", err.message);
	cr_assert_eq(fx_egress_check_url("https://localhost/", true, &err), -1);
	cr_assert(strstr(err.message, "loopback"), "%s", err.message);
	cr_assert_eq(ts_count(ts), 0);

	cfg.project = "demo-fluxori";
	cr_assert(fx_egress_private_allowed());
	cr_assert_eq(get(url, true), 0, "the control: %s", err.message);
	cr_assert_str_eq(resp.body.data, "reached");
	fx_config_set(NULL);
}
