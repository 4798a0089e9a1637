/* lib/httpc: calls to an upstream (tests/lib/testserver), retries and their backoff, handles handed over. */
#include "httpc.h"
#include "clock.h"
#include "config.h"
#include "testserver.h"
#include "testtls.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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

/* A loopback port where nothing listens (bound, read, closed). */
static int closed_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

/*
 * A backend that cannot be reached: the error (which becomes the client's 503) names the service
 * and libcurl's words for what failed, never the address or the port, on either path.
 */
Test(httpc, an_unreachable_backend_is_unavailable_without_its_address)
{
	for (int lean = 0; lean < 2; lean++) {
		int port = closed_port();
		char url[128], digits[16];
		struct fx_httpc_req req = {.url = url,
					   .timeout_ms = 4000,
					   .retry = FX_RETRY_NONE,
					   .max_attempts = 1,
					   .service = "firestore",
					   .lean = lean == 1};
		struct fx_httpc_resp resp;

		snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/thing", port);
		snprintf(digits, sizeof(digits), "%d", port);
		fx_err_clear(&err);
		fx_httpc_resp_init(&resp);
		cr_assert_eq(fx_httpc_do(&req, &resp, &err), -1);
		cr_assert(fx_err_is(&err, FX_UNAVAILABLE), "%s", err.message);
		cr_assert(strncmp(err.message, "firestore unreachable: ", 23) == 0, "%s", err.message);
		cr_assert_null(strstr(err.message, "127.0.0.1"), "%s", err.message);
		cr_assert_null(strstr(err.message, digits), "%s", err.message);
		fx_httpc_resp_cleanup(&resp);
	}
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
	char url[256];
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

/*
 * Handles handed over between threads (fx_httpc_thread_handover), against
 * a keep-alive server of its own (testserver closes every connection):
 * one thread per connection, each GET answered with its path and the
 * connection's number, so a call shows which connection carried it.
 */
struct keepalive {
	int fd, port;
	atomic_int conns;
	atomic_int meeting; /* GETs of /meet... arrived */
	pthread_t thread;
};

#define MEET_MS 1000

struct ka_conn {
	struct keepalive *ka;
	int fd, id;
};

static void *ka_serve(void *arg)
{
	struct ka_conn *c = arg;
	char in[4096];
	size_t have = 0;

	for (;;) {
		char *end = memmem(in, have, "\r\n\r\n", 4), path[256], out[512];
		ssize_t n;
		int len, hl;

		if (!end) {
			if (have == sizeof(in))
				break;
			n = read(c->fd, in + have, sizeof(in) - have);
			if (n <= 0)
				break;
			have += (size_t)n;
			continue;
		}
		if (sscanf(in, "GET %255s", path) != 1)
			break;
		/* A GET of /meet... is answered once a second one has arrived, or fails after MEET_MS. */
		if (strncmp(path, "/meet", 5) == 0) {
			int waited = 0;

			atomic_fetch_add(&c->ka->meeting, 1);
			while (atomic_load(&c->ka->meeting) < 2 && waited++ < MEET_MS)
				usleep(1000);
		}
		len = snprintf(out + 256, 256, "%s %d", path, c->id);
		hl = snprintf(out, 256, "HTTP/1.1 %s\r\nContent-Length: %d\r\n\r\n",
			      strncmp(path, "/meet", 5) != 0 || atomic_load(&c->ka->meeting) >= 2 ? "200 OK"
											 : "504 Alone",
			      len);
		memmove(out + hl, out + 256, (size_t)len);
		if (write(c->fd, out, (size_t)(hl + len)) != hl + len)
			break;
		have -= (size_t)(end + 4 - in);
		memmove(in, end + 4, have);
	}
	close(c->fd);
	free(c);
	return NULL;
}

static void *ka_accept(void *arg)
{
	struct keepalive *ka = arg;
	int fd;

	while ((fd = accept(ka->fd, NULL, NULL)) >= 0) {
		struct ka_conn *c = malloc(sizeof(*c));
		pthread_t t;

		cr_assert_not_null(c);
		*c = (struct ka_conn){ka, fd, atomic_fetch_add(&ka->conns, 1) + 1};
		cr_assert_eq(pthread_create(&t, NULL, ka_serve, c), 0);
		pthread_detach(t);
	}
	return NULL;
}

/* A socket listening on 127.0.0.1 at a free port (*port); aborts the test on failure. */
static int listen_loopback(int *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(fd, 64) == 0 &&
		  getsockname(fd, (struct sockaddr *)&a, &alen) == 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static void ka_start(struct keepalive *ka)
{
	ka->fd = listen_loopback(&ka->port);
	atomic_init(&ka->conns, 0);
	atomic_init(&ka->meeting, 0);
	cr_assert_eq(pthread_create(&ka->thread, NULL, ka_accept, ka), 0);
}

static void ka_stop(struct keepalive *ka)
{
	shutdown(ka->fd, SHUT_RDWR);
	pthread_join(ka->thread, NULL);
	close(ka->fd);
}

/* GET /path on this thread's handle: the number of the connection that answered, or -1. */
static int ka_call(const struct keepalive *ka, const char *path)
{
	char url[128], want[160];
	struct fx_httpc_req req = {.url = url, .timeout_ms = 4000};
	struct fx_httpc_resp resp;
	struct fx_err e;
	int id = -1;

	fx_err_clear(&e);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", ka->port, path);
	snprintf(want, sizeof(want), "%s ", path);
	fx_httpc_resp_init(&resp);
	/* Only this call's answer, with its own path: never another thread's. */
	if (fx_httpc_do(&req, &resp, &e) == 0 && resp.status == 200 && resp.body.data &&
	    strncmp(resp.body.data, want, strlen(want)) == 0)
		id = atoi(resp.body.data + strlen(want));
	fx_httpc_resp_cleanup(&resp);
	return id;
}

struct first_call {
	const struct keepalive *ka;
	int conn;
};

static void *call_once(void *arg)
{
	struct first_call *f = arg;

	f->conn = ka_call(f->ka, "/second");
	fx_httpc_thread_cleanup();
	return NULL;
}

/*
 * What a warm-up thread connected serves the first call of another
 * thread: the handle goes over with its open connection.
 */
Test(httpc_handover, the_next_thread_calls_on_the_connection_handed_over)
{
	struct keepalive ka;
	struct first_call f;
	pthread_t t;

	ka_start(&ka);
	f.ka = &ka;
	cr_assert_eq(ka_call(&ka, "/warm"), 1);
	fx_httpc_thread_handover();
	cr_assert_eq(pthread_create(&t, NULL, call_once, &f), 0);
	pthread_join(t, NULL);
	cr_assert_eq(f.conn, 1, "the other thread's first call used connection %d, not the warm one", f.conn);
	cr_assert_eq(atomic_load(&ka.conns), 1);
	cr_assert_eq(ka_call(&ka, "/again"), 2, "this thread gave its handle away: a new one, a new connection");
	fx_httpc_thread_cleanup();
	fx_httpc_spare_cleanup();
	ka_stop(&ka);
}

#define HANDOVER_THREADS 8
#define HANDOVER_ROUNDS 200

static void *hand_around(void *arg)
{
	const struct keepalive *ka = arg;
	char path[64];
	long bad = 0;

	for (int i = 0; i < HANDOVER_ROUNDS; i++) {
		snprintf(path, sizeof(path), "/t%lu/%d", (unsigned long)pthread_self() % 100000, i);
		bad += ka_call(ka, path) < 0;
		fx_httpc_thread_handover();
	}
	return (void *)bad;
}

/*
 * Eight threads each make a call, hand their handle over and take the next
 * spare one, 200 times: a handle is never in two threads at once (each
 * answer is the call's own), and the spares are reused, not leaked (under
 * ASan: scripts/memcheck). Without the spare list's lock two threads take
 * the same handle: wrong answers, or a crash.
 */
Test(httpc_handover, threads_handing_handles_around_each_get_their_own_answers)
{
	struct keepalive ka;
	pthread_t t[HANDOVER_THREADS];
	long bad = 0;

	ka_start(&ka);
	for (int i = 0; i < HANDOVER_THREADS; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, hand_around, &ka), 0);
	for (int i = 0; i < HANDOVER_THREADS; i++) {
		void *r;

		pthread_join(t[i], &r);
		bad += (long)r;
	}
	cr_assert_eq(bad, 0, "%ld calls got no answer or another call's", bad);
	/* Handles are reused with their connections: far fewer than one per call. */
	cr_assert_lt(atomic_load(&ka.conns), HANDOVER_THREADS * HANDOVER_ROUNDS / 4);
	fx_httpc_spare_cleanup();
	ka_stop(&ka);
}

/*
 * The lean path (fx_httpc_req.lean) against a canned upstream of its own
 * that keeps connections open: one connection at a time, each request
 * (head and Content-Length body) answered as the test's mode says, the
 * answer's bytes written in pieces so that they arrive over several reads
 * (over TLS, each piece a record of its own).
 */
enum canned_mode {
	CANNED_LENGTH, /* 200 with a Content-Length: {"req":R,"conn":C} */
	CANNED_CHUNKED, /* the same body in chunks of 3 bytes, an extension and a trailer */
	CANNED_DROP_SECOND, /* the second request on a connection: closed without a byte */
	CANNED_PARTIAL_SECOND, /* the second request on a connection: part of an answer, then closed */
	CANNED_STALL, /* the head and 3 of 10 bytes, then nothing until the client goes */
	CANNED_BIG, /* 2000 bytes with a Content-Length */
	CANNED_BIG_CHUNKED, /* 2000 bytes in chunks of 100 */
	CANNED_BAD_STATUS, /* "HTTP/1.1 2x0 OK" */
	CANNED_BAD_HEADER, /* a header line without a colon */
	CANNED_NUL_STATUS, /* a NUL byte right after the status code */
	CANNED_NUL_HEADER, /* a NUL byte inside a header line */
	CANNED_ONE_PIECE, /* CANNED_LENGTH's answer written at once: head and body in one TLS record */
	CANNED_CLOSE_IDLE, /* CANNED_LENGTH, then the connection closed while idle (TLS: close_notify first) */
	CANNED_FIN_IDLE, /* CANNED_LENGTH, then the connection closed while idle (TLS: no close_notify) */
	CANNED_TICKET_IDLE, /* CANNED_LENGTH, then (TLS) a new session ticket sent while idle */
	CANNED_LONG_LENGTH, /* a Content-Length of 2 written in 70 digits, the connection kept open */
	CANNED_LONG_CODING, /* a Transfer-Encoding list of 67 bytes ending in chunked, kept open */
};

struct canned {
	int fd, port;
	enum canned_mode mode;
	SSL_CTX *tls; /* NULL: plain http */
	atomic_int conns, requests;
	atomic_int handshakes_failed; /* TLS handshakes the client broke off (a certificate it refused) */
	atomic_int idle_done; /* answers after which the idle close or ticket has been sent */
	pthread_t thread;
	char alpn[64]; /* the protocols the client offered in ALPN, comma-separated */
	char last[4096]; /* the last request's text, head and body */
};

/* One connection of the canned upstream: its socket and, over TLS, its session. */
struct canned_conn {
	int fd;
	SSL *ssl;
};

static ssize_t canned_in(const struct canned_conn *k, char *p, size_t n)
{
	return k->ssl ? SSL_read(k->ssl, p, (int)n) : read(k->fd, p, n);
}

static void canned_write(const struct canned_conn *k, const char *p, size_t n, size_t piece)
{
	while (n > 0) {
		size_t k_n = n < piece ? n : piece;

		if (k->ssl ? SSL_write(k->ssl, p, (int)k_n) != (int)k_n
			   : send(k->fd, p, k_n, MSG_NOSIGNAL) != (ssize_t)k_n)
			return;
		p += k_n;
		n -= k_n;
		usleep(2000);
	}
}

/* Reads one request into c->last: false when the client closed the connection. */
static bool canned_read(struct canned *c, const struct canned_conn *k)
{
	size_t have = 0, want = 0;

	for (;;) {
		char *end = memmem(c->last, have, "\r\n\r\n", 4);
		ssize_t n;

		if (end && !want) {
			const char *cl = strcasestr(c->last, "\r\nContent-Length: ");

			want = (size_t)(end + 4 - c->last) + (cl && cl < end ? (size_t)atoi(cl + 18) : 0);
		}
		if (want && have >= want) {
			c->last[have] = '\0';
			return true;
		}
		if (have + 1 >= sizeof(c->last))
			return false;
		n = canned_in(k, c->last + have, sizeof(c->last) - 1 - have);
		if (n <= 0)
			return false;
		have += (size_t)n;
	}
}

/* ALPN: notes what the client offered, and picks http/1.1 when it is among it. */
static int canned_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
		       unsigned int inlen, void *arg)
{
	struct canned *c = arg;
	size_t at = 0;

	(void)ssl;
	c->alpn[0] = '\0';
	for (unsigned int i = 0; i < inlen && i + 1 + in[i] <= inlen; i += 1u + in[i])
		at += (size_t)snprintf(c->alpn + at, at < sizeof(c->alpn) ? sizeof(c->alpn) - at : 0, "%s%.*s",
				       i ? "," : "", (int)in[i], (const char *)in + i + 1);
	if (SSL_select_next_proto((unsigned char **)out, outlen, (const unsigned char *)"\x08http/1.1", 9, in,
				  inlen) == OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_OK;
	return SSL_TLSEXT_ERR_NOACK;
}

/* After an answer: what the idle modes do to the connection; false when it is closed. */
static bool canned_idle(struct canned *c, struct canned_conn *k)
{
	bool open = true;

	if (c->mode == CANNED_CLOSE_IDLE || c->mode == CANNED_FIN_IDLE) {
		if (k->ssl && c->mode == CANNED_CLOSE_IDLE)
			SSL_shutdown(k->ssl);
		close(k->fd);
		k->fd = -1;
		open = false;
	} else if (c->mode == CANNED_TICKET_IDLE && k->ssl) {
		cr_assert_eq(SSL_new_session_ticket(k->ssl), 1);
		cr_assert_eq(SSL_do_handshake(k->ssl), 1);
	} else {
		return true;
	}
	/* On loopback the bytes are in the client's socket once the call above returns. */
	atomic_fetch_add(&c->idle_done, 1);
	return open;
}

static void *canned_serve(void *arg)
{
	struct canned *c = arg;
	int fd;

	while ((fd = accept(c->fd, NULL, NULL)) >= 0) {
		int conn = atomic_fetch_add(&c->conns, 1) + 1, on_conn = 0;
		struct canned_conn k = {fd, NULL};

		if (c->tls) {
			k.ssl = SSL_new(c->tls);
			cr_assert_not_null(k.ssl);
			SSL_set_fd(k.ssl, fd);
			if (SSL_accept(k.ssl) != 1) {
				atomic_fetch_add(&c->handshakes_failed, 1);
				SSL_free(k.ssl);
				close(fd);
				continue;
			}
		}
		while (canned_read(c, &k)) {
			int req = atomic_fetch_add(&c->requests, 1) + 1;
			char body[2048], out[8192];
			int blen = snprintf(body, sizeof(body), "{\"req\":%d,\"conn\":%d}", req, conn), len = 0;
			bool close_after = false;

			on_conn++;
			switch (c->mode) {
			case CANNED_LENGTH:
			case CANNED_ONE_PIECE:
			case CANNED_CLOSE_IDLE:
			case CANNED_FIN_IDLE:
			case CANNED_TICKET_IDLE:
				len = snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\nX-Answer: yes\r\nContent-Length: %d\r\n\r\n%s",
					       blen, body);
				break;
			case CANNED_CHUNKED:
				len = snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
				for (int i = 0; i < blen; i += 3)
					len += snprintf(out + len, sizeof(out) - (size_t)len, "%x%s\r\n%.3s\r\n",
							blen - i < 3 ? blen - i : 3, i == 0 ? ";ext=1" : "", body + i);
				len += snprintf(out + len, sizeof(out) - (size_t)len, "0\r\nX-Trailer: t\r\n\r\n");
				break;
			case CANNED_DROP_SECOND:
			case CANNED_PARTIAL_SECOND:
				if (on_conn == 2) {
					if (c->mode == CANNED_PARTIAL_SECOND)
						canned_write(&k, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 42, 64);
					close_after = true;
					break;
				}
				len = snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", blen,
					       body);
				break;
			case CANNED_STALL:
				canned_write(&k, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 42, 64);
				while (canned_in(&k, out, sizeof(out)) > 0) {
				}
				close_after = true;
				break;
			case CANNED_BIG:
				memset(body, 'x', 2000);
				len = snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n%.2000s", body);
				break;
			case CANNED_BIG_CHUNKED:
				memset(body, 'x', 100);
				len = snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
				for (int i = 0; i < 20; i++)
					len += snprintf(out + len, sizeof(out) - (size_t)len, "64\r\n%.100s\r\n", body);
				len += snprintf(out + len, sizeof(out) - (size_t)len, "0\r\n\r\n");
				break;
			case CANNED_BAD_STATUS:
				len = snprintf(out, sizeof(out), "HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\n{}");
				break;
			case CANNED_BAD_HEADER:
				len = snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\nNoColonHere\r\nContent-Length: 2\r\n\r\n{}");
				break;
			case CANNED_LONG_LENGTH:
				len = snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\nContent-Length: %070d\r\n\r\n{}", 2);
				break;
			case CANNED_LONG_CODING:
				len = snprintf(out, sizeof(out),
					       "HTTP/1.1 200 OK\r\nTransfer-Encoding: identity, identity, identity, identity, "
					       "identity, identity, chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n");
				break;
			case CANNED_NUL_STATUS: {
				static const char nul_status[] = "HTTP/1.1 200 \0K\r\nContent-Length: 2\r\n\r\n{}";

				len = (int)sizeof(nul_status) - 1;
				memcpy(out, nul_status, (size_t)len);
				break;
			}
			case CANNED_NUL_HEADER: {
				static const char nul_header[] = "HTTP/1.1 200 OK\r\nX-A: b\0c\r\nContent-Length: 2\r\n\r\n{}";

				len = (int)sizeof(nul_header) - 1;
				memcpy(out, nul_header, (size_t)len);
				break;
			}
			}
			if (close_after)
				break;
			canned_write(&k, out, (size_t)len, c->mode == CANNED_ONE_PIECE ? (size_t)len : len > 300 ? 512 : 7);
			if (!canned_idle(c, &k))
				break;
		}
		SSL_free(k.ssl);
		if (k.fd >= 0)
			close(k.fd);
	}
	return NULL;
}

static void canned_start_tls(struct canned *c, enum canned_mode mode, SSL_CTX *tls)
{
	memset(c, 0, sizeof(*c));
	c->mode = mode;
	c->tls = tls;
	if (tls)
		SSL_CTX_set_alpn_select_cb(tls, canned_alpn, c);
	c->fd = listen_loopback(&c->port);
	atomic_init(&c->conns, 0);
	atomic_init(&c->requests, 0);
	atomic_init(&c->handshakes_failed, 0);
	atomic_init(&c->idle_done, 0);
	cr_assert_eq(pthread_create(&c->thread, NULL, canned_serve, c), 0);
}

static struct tt_ca *test_ca; /* set by the TLS suites (tls_setup): their upstreams speak TLS */

/* The upstream in mode: over TLS in the TLS suites, its certificate from test_ca for 127.0.0.1. */
static void canned_start(struct canned *c, enum canned_mode mode)
{
	canned_start_tls(c, mode, test_ca ? tt_server_ctx(test_ca, "IP:127.0.0.1,DNS:localhost") : NULL);
}

static void canned_stop(struct canned *c)
{
	fx_httpc_thread_cleanup(); /* the client's kept connection closed: the server's read ends */
	shutdown(c->fd, SHUT_RDWR);
	pthread_join(c->thread, NULL);
	close(c->fd);
	SSL_CTX_free(c->tls);
}

/*
 * One lean call to the canned upstream: fx_httpc_do's result, the answer in
 * resp (caller cleans up). 4 s: ample for the pieces on a loaded machine, or
 * under valgrind; the stalled upstream's test sets less.
 */
static long lean_timeout_ms = 4000;
static bool lean_path = true; /* false: the same call through curl_easy_perform */
static const char *lean_target = "/v1/doc?mask.fieldPaths=a"; /* the URL's path and query */

static int lean_call(struct canned *c, const char *method, const char *body, size_t max_response,
		     struct fx_httpc_resp *resp)
{
	static const char *const headers[] = {"Authorization: Bearer t0ken", "Accept: application/json", "Expect:",
					      NULL};
	char url[256];
	struct fx_httpc_req req = {.method = method,
				   .url = url,
				   .headers = headers,
				   .body = body,
				   .body_len = body ? strlen(body) : 0,
				   .timeout_ms = lean_timeout_ms,
				   .max_response = max_response,
				   .retry = FX_RETRY_NONE,
				   .max_attempts = 1,
				   .service = "test",
				   .lean = lean_path};

	snprintf(url, sizeof(url), "%s://127.0.0.1:%d%s", c->tls ? "https" : "http", c->port, lean_target);
	fx_err_clear(&err);
	fx_httpc_resp_init(resp);
	return fx_httpc_do(&req, resp, &err);
}

/* Two calls, each answered whole, on one kept connection: the bodies as sent, the request written as asked. */
static void lean_two_calls(enum canned_mode mode)
{
	struct canned c;
	struct fx_httpc_resp resp;
	char host[64], v[16];

	canned_start(&c, mode);
	cr_assert_eq(lean_call(&c, "GET", NULL, 0, &resp), 0, "%s", err.message);
	cr_assert_eq(resp.status, 200);
	cr_assert_str_eq(resp.body.data, "{\"req\":1,\"conn\":1}");
	fx_httpc_resp_cleanup(&resp);
	cr_assert_eq(lean_call(&c, "POST", "{\"x\":1}", 0, &resp), 0, "%s", err.message);
	cr_assert_str_eq(resp.body.data, "{\"req\":2,\"conn\":1}", "the second call on the kept connection");
	if (mode == CANNED_LENGTH)
		cr_assert_str_eq(fx_httpc_header(&resp, "X-Answer", v, sizeof(v)), "yes", "the answer's headers kept");
	fx_httpc_resp_cleanup(&resp);
	snprintf(host, sizeof(host), "Host: 127.0.0.1:%d\r\n", c.port);
	cr_assert(strncmp(c.last, "POST /v1/doc?mask.fieldPaths=a HTTP/1.1\r\n", 41) == 0, "%s", c.last);
	cr_assert(strstr(c.last, host), "%s", c.last);
	cr_assert(strstr(c.last, "\r\nAuthorization: Bearer t0ken\r\n"), "%s", c.last);
	cr_assert(strstr(c.last, "\r\nContent-Length: 7\r\n\r\n{\"x\":1}"), "%s", c.last);
	/* Only the caller's headers: none of curl's own ("Accept: * / *", "Expect:"). */
	cr_assert_null(strstr(c.last, "Expect"), "%s", c.last);
	cr_assert_null(strstr(c.last, "*/*"), "%s", c.last);
	canned_stop(&c);
	cr_assert_eq(atomic_load(&c.conns), 1);
}

/*
 * The lean path writes the URL's path as it is, so only a path of visible
 * ASCII without a fragment takes it; any other goes to curl, which never
 * sends a fragment, a space, a control byte or DEL on the request line.
 */
Test(httpc_lean, a_path_with_a_fragment_a_space_or_a_control_byte_is_never_sent_raw)
{
	static const char *const refused[] = {"/v1/doc#frag", "/v1/d oc", "/v1/d\toc", "/v1/d\x7foc", "/v1/d\x01oc"};
	struct canned c;
	struct fx_httpc_resp resp;

	canned_start(&c, CANNED_LENGTH);
	lean_target = "/v1/d%20o~c?a=!$&'()*+,;=:@/b";
	cr_assert_eq(lean_call(&c, "GET", NULL, 0, &resp), 0, "%s", err.message);
	fx_httpc_resp_cleanup(&resp);
	cr_assert(strncmp(c.last, "GET /v1/d%20o~c?a=!$&'()*+,;=:@/b HTTP/1.1\r\n", 44) == 0, "%s", c.last);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		int got = atomic_load(&c.requests);

		lean_target = refused[i];
		if (lean_call(&c, "GET", NULL, 0, &resp) == 0 || atomic_load(&c.requests) > got) {
			const char *eol = strstr(c.last, "\r\n");
			size_t line = eol ? (size_t)(eol - c.last) : strlen(c.last);

			cr_assert(strncmp(c.last, "GET /v1/d", 9) == 0, "%zu: %s", i, c.last);
			for (size_t k = 0; k < line; k++)
				cr_assert(c.last[k] != '#' && c.last[k] != 0x7f && (unsigned char)c.last[k] >= 0x20 &&
						  (c.last[k] != ' ' || k == 3 || c.last + k == c.last + line - 9),
					  "%zu: byte %zu of the request line: %s", i, k, c.last);
		}
		fx_httpc_resp_cleanup(&resp);
	}
	lean_target = "/v1/doc?mask.fieldPaths=a";
	canned_stop(&c);
}

Test(httpc_lean, an_answer_with_a_content_length_is_read_and_the_connection_kept)
{
	lean_two_calls(CANNED_LENGTH);
}

Test(httpc_lean, a_chunked_answer_with_an_extension_and_a_trailer_is_read_and_the_connection_kept)
{
	lean_two_calls(CANNED_CHUNKED);
}

/* The upstream started in mode, and a first call answered on its first connection. */
static void lean_answered_once(struct canned *c, enum canned_mode mode)
{
	struct fx_httpc_resp resp;

	canned_start(c, mode);
	cr_assert_eq(lean_call(c, "GET", NULL, 0, &resp), 0, "%s", err.message);
	cr_assert_str_eq(resp.body.data, "{\"req\":1,\"conn\":1}");
	fx_httpc_resp_cleanup(&resp);
}

/* The plain tests below that the TLS suite runs again over TLS. */
static void lean_dropped_before_the_answer(void)
{
	struct canned c;
	struct fx_httpc_resp resp;

	lean_answered_once(&c, CANNED_DROP_SECOND);
	/* No retry policy and one attempt: the request goes again only because nothing came back. */
	cr_assert_eq(lean_call(&c, "GET", NULL, 0, &resp), 0, "%s", err.message);
	cr_assert_str_eq(resp.body.data, "{\"req\":3,\"conn\":2}");
	cr_assert_eq(resp.attempts, 1);
	fx_httpc_resp_cleanup(&resp);
	canned_stop(&c);
	cr_assert_eq(atomic_load(&c.requests), 3);
}

static void lean_closed_within_the_answer(void)
{
	struct canned c;
	struct fx_httpc_resp resp;

	lean_answered_once(&c, CANNED_PARTIAL_SECOND);
	cr_assert_eq(lean_call(&c, "POST", "{}", 0, &resp), -1);
	cr_assert(fx_err_is(&err, FX_UNAVAILABLE), "%s", err.message);
	fx_httpc_resp_cleanup(&resp);
	/* The next call makes a connection of its own. */
	cr_assert_eq(lean_call(&c, "GET", NULL, 0, &resp), 0, "%s", err.message);
	cr_assert_str_eq(resp.body.data, "{\"req\":3,\"conn\":2}");
	fx_httpc_resp_cleanup(&resp);
	canned_stop(&c);
	cr_assert_eq(atomic_load(&c.requests), 3);
}

static void lean_stalled(void)
{
	struct canned c;
	struct fx_httpc_resp resp;
	long t0 = fx_clock_ms();

	canned_start(&c, CANNED_STALL);
	lean_timeout_ms = 400;
	cr_assert_eq(lean_call(&c, "GET", NULL, 0, &resp), -1);
	cr_assert(fx_err_is(&err, FX_UNAVAILABLE), "%s", err.message);
	/* Not a timing assertion: only that the call ended, long before the test's own timeout. */
	cr_assert_lt(fx_clock_ms() - t0, 20000);
	fx_httpc_resp_cleanup(&resp);
	canned_stop(&c);
}

Test(httpc_lean, a_kept_connection_closed_before_any_byte_of_the_answer_is_retried_once_on_a_fresh_one)
{
	lean_dropped_before_the_answer();
}

Test(httpc_lean, a_connection_closed_after_part_of_the_answer_fails_the_call_without_sending_it_again)
{
	lean_closed_within_the_answer();
}

Test(httpc_lean, an_answer_that_stalls_ends_the_call_at_its_deadline)
{
	lean_stalled();
}

static void lean_capped(enum canned_mode mode)
{
	struct canned c;
	struct fx_httpc_resp resp;

	canned_start(&c, mode);
	cr_assert_eq(lean_call(&c, "GET", NULL, 1999, &resp), -1, "one byte over the cap");
	cr_assert(fx_err_is(&err, FX_BAD_GATEWAY), "%s", err.message);
	fx_httpc_resp_cleanup(&resp);
	cr_assert_eq(lean_call(&c, "GET", NULL, 2000, &resp), 0, "%s", err.message);
	cr_assert_eq(resp.body.len, 2000);
	fx_httpc_resp_cleanup(&resp);
	canned_stop(&c);
}

Test(httpc_lean, an_answer_over_the_cap_with_a_content_length_is_refused)
{
	lean_capped(CANNED_BIG);
}

Test(httpc_lean, a_chunked_answer_over_the_cap_is_refused)
{
	lean_capped(CANNED_BIG_CHUNKED);
}

/* The call fails (503, no token in the message), and the message says why when why is given. */
static void lean_refused(enum canned_mode mode, const char *why)
{
	struct canned c;
	struct fx_httpc_resp resp;

	canned_start(&c, mode);
	cr_assert_eq(lean_call(&c, "GET", NULL, 0, &resp), -1);
	cr_assert(fx_err_is(&err, FX_UNAVAILABLE), "%s", err.message);
	if (why)
		cr_assert(strstr(err.message, why), "%s", err.message);
	cr_assert_null(strstr(err.message, "t0ken"), "%s", err.message);
	fx_httpc_resp_cleanup(&resp);
	canned_stop(&c);
}

static void lean_malformed(enum canned_mode mode)
{
	lean_refused(mode, NULL);
}

/*
 * A framing header whose value is longer than the parser reads (63 bytes)
 * is refused for what it is, not taken as absent: the body was then read
 * "to the close", which on a kept connection never comes (the call waited
 * for its deadline).
 */
Test(httpc_lean, a_content_length_too_long_to_read_fails_the_call_clearly)
{
	lean_refused(CANNED_LONG_LENGTH, "malformed Content-Length");
}

Test(httpc_lean, a_transfer_encoding_too_long_to_read_fails_the_call_clearly)
{
	lean_refused(CANNED_LONG_CODING, "unsupported transfer coding");
}

Test(httpc_lean, a_malformed_status_line_fails_the_call)
{
	lean_malformed(CANNED_BAD_STATUS);
}

Test(httpc_lean, a_header_line_without_a_colon_fails_the_call)
{
	lean_malformed(CANNED_BAD_HEADER);
}

/* The head is read as text: a NUL inside it must not end a line early (or end the head's scan). */
Test(httpc_lean, a_nul_byte_in_the_answers_head_fails_the_call)
{
	lean_malformed(CANNED_NUL_STATUS);
	lean_malformed(CANNED_NUL_HEADER);
}

/*
 * The lean path over TLS, as on Cloud Run (https://firestore.googleapis.com,
 * ALPN http/1.1): the canned upstream behind a certificate of a test CA made
 * here, which the client trusts through FLUXORI_CA_BUNDLE
 * (fx_config.ca_bundle), never by turning verification off.
 */
static struct fx_config tls_cfg;

static void tls_setup(void)
{
	fx_err_clear(&err);
	/* The upstream's TLS writes to a client that went (a certificate it refused): no SIGPIPE, as in the workers. */
	signal(SIGPIPE, SIG_IGN);
	test_ca = tt_ca_new("fluxori test CA");
	/* Both ends' handshakes in this one process: under valgrind on a loaded machine, seconds. */
	tls_cfg = (struct fx_config){
		.http_timeout_ms = 20000, .connect_timeout_ms = 20000, .ca_bundle = tt_ca_file(test_ca)};
	lean_timeout_ms = 20000;
	fx_config_set(&tls_cfg);
	/* Only the proxy tests' own proxy, never one of the machine's. */
	unsetenv("https_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("http_proxy");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	unsetenv("no_proxy");
	unsetenv("NO_PROXY");
}

static void tls_teardown(void)
{
	fx_httpc_thread_cleanup();
	fx_config_set(NULL);
	tt_ca_free(test_ca);
	test_ca = NULL;
}

TestSuite(httpc_lean_tls, .init = tls_setup, .fini = tls_teardown);

/* The upstream in mode over TLS, its certificate from ca for san. */
static void tls_start_as(struct canned *c, enum canned_mode mode, const struct tt_ca *ca, const char *san)
{
	canned_start_tls(c, mode, tt_server_ctx(ca, san));
}


/* Waits until the upstream has done its idle move (close, ticket) after n answers. */
static void wait_idle(struct canned *c, int n)
{
	for (int ms = 0; atomic_load(&c->idle_done) < n; ms++) {
		cr_assert_lt(ms, 20000, "the upstream's idle move after answer %d never came", n);
		usleep(1000);
	}
}

#define TLS_CALLS 5

/*
 * TLS_CALLS calls, POST and GET in turn (the last a POST), each after the upstream's idle
 * move (if its mode has one): each answered whole on its first attempt,
 * the request origin-form, ALPN offering http/1.1 only. The number of
 * connections the upstream accepted.
 */
static int tls_calls(struct canned *c)
{
	struct fx_httpc_resp resp;
	char want[64];

	for (int i = 1; i <= TLS_CALLS; i++) {
		if (i > 1)
			wait_idle(c, c->mode >= CANNED_CLOSE_IDLE ? i - 1 : 0);
		cr_assert_eq(lean_call(c, i % 2 ? "POST" : "GET", i % 2 ? "{\"x\":1}" : NULL, 0, &resp), 0,
			     "call %d: %s", i, err.message);
		cr_assert_eq(resp.status, 200);
		cr_assert_eq(resp.attempts, 1);
		snprintf(want, sizeof(want), "{\"req\":%d,\"conn\":%d}", i,
			 c->mode == CANNED_CLOSE_IDLE || c->mode == CANNED_FIN_IDLE ? i : 1);
		cr_assert_str_eq(resp.body.data, want, "call %d answered %s", i, resp.body.data);
		fx_httpc_resp_cleanup(&resp);
	}
	cr_assert(strncmp(c->last, "POST /v1/doc?mask.fieldPaths=a HTTP/1.1\r\n", 41) == 0, "%s", c->last);
	cr_assert(strstr(c->last, "\r\nContent-Length: 7\r\n") && strstr(c->last, "\r\n\r\n{\"x\":1}"), "%s", c->last);
	if (lean_path)
		cr_assert_str_eq(c->alpn, "http/1.1", "ALPN offered %s", c->alpn);
	return atomic_load(&c->conns);
}

/* tls_calls on an upstream started in mode: the connections it accepted. */
static int calls_in_mode(enum canned_mode mode)
{
	struct canned c;
	int conns;

	canned_start(&c, mode);
	conns = tls_calls(&c);
	canned_stop(&c);
	cr_assert_eq(atomic_load(&c.requests), TLS_CALLS, "no request sent twice");
	if (mode >= CANNED_CLOSE_IDLE)
		cr_assert_eq(atomic_load(&c.idle_done), TLS_CALLS);
	return conns;
}

/* Each answer in 7-byte pieces, each piece a TLS record: several records per answer. */
Test(httpc_lean_tls, calls_answered_in_small_records_with_a_content_length_share_one_connection)
{
	cr_assert_eq(calls_in_mode(CANNED_LENGTH), 1, "N calls on a healthy kept TLS connection: one connect");
}

Test(httpc_lean_tls, chunked_answers_in_small_records_share_one_connection)
{
	cr_assert_eq(calls_in_mode(CANNED_CHUNKED), 1);
}

Test(httpc_lean_tls, answers_each_in_one_record_head_and_body_share_one_connection)
{
	cr_assert_eq(calls_in_mode(CANNED_ONE_PIECE), 1);
}

/*
 * A TLS 1.3 server may send session tickets at any time, also while the
 * connection is idle between calls: bytes on the socket that are TLS's own,
 * not an answer. The kept connection is not judged stale for them.
 */
Test(httpc_lean_tls, session_tickets_sent_while_idle_do_not_cost_the_kept_connection)
{
	cr_assert_eq(calls_in_mode(CANNED_TICKET_IDLE), 1, "a ticket is not a close: one connect for all the calls");
}

/* The server closes the kept connection while idle: each next call connects again, with no error. */
Test(httpc_lean_tls, a_kept_connection_closed_with_close_notify_while_idle_is_replaced_quietly)
{
	cr_assert_eq(calls_in_mode(CANNED_CLOSE_IDLE), TLS_CALLS);
}

Test(httpc_lean_tls, a_kept_connection_closed_without_close_notify_while_idle_is_replaced_quietly)
{
	cr_assert_eq(calls_in_mode(CANNED_FIN_IDLE), TLS_CALLS);
}

/* Closed as the request arrives, before any byte of the answer: sent once more on a fresh connection. */
Test(httpc_lean_tls, a_kept_connection_closed_before_any_byte_of_the_answer_is_retried_once_on_a_fresh_one)
{
	lean_dropped_before_the_answer();
}

Test(httpc_lean_tls, a_connection_closed_after_part_of_the_answer_fails_the_call_without_sending_it_again)
{
	lean_closed_within_the_answer();
}

Test(httpc_lean_tls, an_answer_that_stalls_ends_the_call_at_its_deadline)
{
	lean_stalled();
}

Test(httpc_lean_tls, answers_over_the_cap_are_refused)
{
	lean_capped(CANNED_BIG);
	lean_capped(CANNED_BIG_CHUNKED);
}

/*
 * A certificate that does not verify fails the call with the usual error;
 * nothing is sent. The handshakes the upstream saw fail.
 */
static int tls_refused(const struct tt_ca *ca, const char *san)
{
	struct canned c;
	struct fx_httpc_resp resp;

	tls_start_as(&c, CANNED_LENGTH, ca, san);
	cr_assert_eq(lean_call(&c, "GET", NULL, 0, &resp), -1, "a certificate that does not verify was accepted");
	cr_assert(fx_err_is(&err, FX_UNAVAILABLE), "%s", err.message);
	cr_assert_null(strstr(err.message, "t0ken"), "%s", err.message);
	fx_httpc_resp_cleanup(&resp);
	canned_stop(&c);
	cr_assert_eq(atomic_load(&c.requests), 0);
	return atomic_load(&c.handshakes_failed);
}

Test(httpc_lean_tls, a_certificate_of_another_ca_fails_the_call)
{
	struct tt_ca *other = tt_ca_new("another CA");

	/* The chain is refused inside the handshake; a host name by curl once it is done (TLS 1.3). */
	cr_assert_geq(tls_refused(other, "IP:127.0.0.1,DNS:localhost"), 1);
	tt_ca_free(other);
}

Test(httpc_lean_tls, a_certificate_for_another_host_fails_the_call)
{
	tls_refused(test_ca, "DNS:firestore.googleapis.com");
}

/* curl's own path (not lean) trusts the same FLUXORI_CA_BUNDLE, and refuses the same certificates. */
Test(httpc_lean_tls, curls_path_trusts_the_same_ca_bundle)
{
	lean_path = false;
	cr_assert_eq(calls_in_mode(CANNED_LENGTH), 1);
	tls_refused(test_ca, "DNS:firestore.googleapis.com");
}

/*
 * The same through an HTTP proxy, as libcurl finds one on Cloud Run or
 * anywhere else (https_proxy in the environment): a CONNECT tunnel per
 * connection, TLS to the origin inside it. The test proxy counts the
 * CONNECTs it was asked for, then relays bytes both ways until either
 * side closes.
 */
struct tproxy {
	int fd, port;
	atomic_int connects;
	pthread_t thread;
	char target[128]; /* the last CONNECT's request target */
};

static void *tproxy_relay(void *arg)
{
	int *fds = arg;
	struct pollfd p[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
	char buf[16384];

	for (;;) {
		ssize_t n = 0;
		int i;

		if (poll(p, 2, -1) < 0)
			break;
		for (i = 0; i < 2 && !(p[i].revents & (POLLIN | POLLHUP | POLLERR)); i++) {
		}
		if (i == 2)
			continue;
		n = read(fds[i], buf, sizeof(buf));
		if (n <= 0 || send(fds[1 - i], buf, (size_t)n, MSG_NOSIGNAL) != n)
			break;
	}
	close(fds[0]);
	close(fds[1]);
	free(fds);
	return NULL;
}

static void *tproxy_accept(void *arg)
{
	struct tproxy *x = arg;
	int fd;

	while ((fd = accept(x->fd, NULL, NULL)) >= 0) {
		char in[2048], target[128];
		size_t have = 0;
		int port = 0, *fds;
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		pthread_t t;

		/* The CONNECT's head; the client sends nothing more before the proxy answers. */
		while (have < sizeof(in) - 1 && !memmem(in, have, "\r\n\r\n", 4)) {
			ssize_t n = read(fd, in + have, sizeof(in) - 1 - have);

			if (n <= 0)
				break;
			have += (size_t)n;
		}
		in[have] = '\0';
		if (sscanf(in, "CONNECT %127s HTTP/1.1", target) != 1 || sscanf(target, "127.0.0.1:%d", &port) != 1) {
			close(fd);
			continue;
		}
		snprintf(x->target, sizeof(x->target), "%s", target);
		atomic_fetch_add(&x->connects, 1);
		fds = malloc(2 * sizeof(int));
		cr_assert_not_null(fds);
		fds[0] = fd;
		fds[1] = socket(AF_INET, SOCK_STREAM, 0);
		a.sin_port = htons((uint16_t)port);
		cr_assert(fds[1] >= 0 && connect(fds[1], (struct sockaddr *)&a, sizeof(a)) == 0);
		cr_assert_eq(send(fd, "HTTP/1.1 200 Connection established\r\n\r\n", 39, MSG_NOSIGNAL), 39);
		cr_assert_eq(pthread_create(&t, NULL, tproxy_relay, fds), 0);
		pthread_detach(t);
	}
	return NULL;
}

static struct tproxy proxy;

/* The TLS suite's set-up, and the proxy named by https_proxy. */
static void proxy_setup(void)
{
	char url[64];

	tls_setup();
	memset(&proxy, 0, sizeof(proxy));
	atomic_init(&proxy.connects, 0);
	proxy.fd = listen_loopback(&proxy.port);
	cr_assert_eq(pthread_create(&proxy.thread, NULL, tproxy_accept, &proxy), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", proxy.port);
	setenv("https_proxy", url, 1);
}

static void proxy_teardown(void)
{
	tls_teardown();
	shutdown(proxy.fd, SHUT_RDWR);
	pthread_join(proxy.thread, NULL);
	close(proxy.fd);
}

TestSuite(httpc_lean_proxy, .init = proxy_setup, .fini = proxy_teardown);

/* Origin-form requests inside the tunnel (tls_calls checks), one CONNECT per kept connection. */
Test(httpc_lean_proxy, calls_through_the_tunnel_share_one_connect_and_one_tls_connection)
{
	struct canned c;
	char want[64];

	canned_start(&c, CANNED_LENGTH);
	cr_assert_eq(tls_calls(&c), 1);
	canned_stop(&c);
	cr_assert_eq(atomic_load(&proxy.connects), 1, "%d CONNECTs for one kept connection",
		     atomic_load(&proxy.connects));
	snprintf(want, sizeof(want), "127.0.0.1:%d", c.port);
	cr_assert_str_eq(proxy.target, want);
}

Test(httpc_lean_proxy, session_tickets_sent_while_idle_do_not_cost_the_tunnel)
{
	cr_assert_eq(calls_in_mode(CANNED_TICKET_IDLE), 1);
	cr_assert_eq(atomic_load(&proxy.connects), 1);
}

/* The origin closes each connection while idle: a new tunnel for each call, one CONNECT each. */
Test(httpc_lean_proxy, a_connection_the_origin_closed_while_idle_is_replaced_by_one_new_tunnel)
{
	cr_assert_eq(calls_in_mode(CANNED_CLOSE_IDLE), TLS_CALLS);
	cr_assert_eq(atomic_load(&proxy.connects), TLS_CALLS);
}

Test(httpc_lean_proxy, a_certificate_for_another_host_fails_the_call_through_the_tunnel)
{
	tls_refused(test_ca, "DNS:firestore.googleapis.com");
	cr_assert_eq(atomic_load(&proxy.connects), 1);
}

/* fx_httpc_both: two calls at once, the side one on a handle that is handed on. */
struct both_call {
	const struct keepalive *ka;
	const char *path;
	int conn;
};

static void both_call(void *arg)
{
	struct both_call *c = arg;

	c->conn = ka_call(c->ka, c->path);
}

/*
 * Each of the two calls is answered only once the other has arrived (one
 * after the other, the first fails after MEET_MS): both are in flight at
 * once, each on its own connection. The side thread hands its handle on,
 * so the next pair's side call goes out on the same connection.
 */
Test(httpc_both, two_calls_are_in_flight_at_once_and_the_side_handle_is_kept)
{
	struct keepalive ka;
	struct both_call own = {&ka, "/meet/own", -1}, side = {&ka, "/meet/side", -1};

	ka_start(&ka);
	fx_httpc_both(both_call, &own, both_call, &side);
	cr_assert(own.conn > 0 && side.conn > 0, "both answered (%d, %d): the calls were not in flight together",
		  own.conn, side.conn);
	cr_assert_neq(own.conn, side.conn, "each on its own connection");
	own.path = "/own";
	side.path = "/side";
	fx_httpc_both(both_call, &own, both_call, &side);
	cr_assert_eq(atomic_load(&ka.conns), 2, "the second pair reused both connections (own %d, side %d)",
		     own.conn, side.conn);
	fx_httpc_thread_cleanup();
	fx_httpc_spare_cleanup();
	ka_stop(&ka);
}
