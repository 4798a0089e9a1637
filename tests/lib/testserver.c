#include "testserver.h"

#include "httpc.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

struct testserver {
	int fd;
	char url[64];
	pthread_t thread;
	atomic_bool stop;
	pthread_mutex_t mu;
	/* Under mu: */
	struct ts_response canned;
	ts_handler handler;
	void *ctx;
	bool down;
	unsigned count;
	bool have_last;
	struct ts_request last;
	/* Server thread only: */
	struct ts_request req;
	struct ts_response resp;
};

static void die(const char *what)
{
	perror(what);
	abort();
}

const char *ts_header(const struct ts_request *r, const char *name, char *out, size_t out_len)
{
	return fx_httpc_header_in(r->headers, name, out, out_len);
}

/* Reads one request into ts->req; returns 0, or -1 when it is malformed or too big. */
static int read_request(int c, struct ts_request *req)
{
	char head[sizeof(req->headers) + sizeof(req->path) + 64];
	size_t have = 0, hlen, clen = 0;
	char *end, *line_end, *sp1, *sp2, value[32];

	for (;;) {
		ssize_t n;

		if (have == sizeof(head) - 1)
			return -1;
		n = read(c, head + have, sizeof(head) - 1 - have);
		if (n <= 0)
			return -1;
		have += (size_t)n;
		head[have] = '\0';
		if ((end = strstr(head, "\r\n\r\n")))
			break;
	}
	hlen = (size_t)(end - head) + 4;
	line_end = strstr(head, "\r\n");
	sp1 = memchr(head, ' ', (size_t)(line_end - head));
	sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(line_end - sp1 - 1)) : NULL;
	if (!sp1 || !sp2 || (size_t)(sp1 - head) >= sizeof(req->method) ||
	    (size_t)(sp2 - sp1 - 1) >= sizeof(req->path) || (size_t)(end + 2 - line_end - 2) >= sizeof(req->headers))
		return -1;
	memcpy(req->method, head, (size_t)(sp1 - head));
	req->method[sp1 - head] = '\0';
	memcpy(req->path, sp1 + 1, (size_t)(sp2 - sp1 - 1));
	req->path[sp2 - sp1 - 1] = '\0';
	memcpy(req->headers, line_end + 2, (size_t)(end + 2 - line_end - 2));
	req->headers[end + 2 - line_end - 2] = '\0';
	if (ts_header(req, "Content-Length", value, sizeof(value)))
		clen = strtoul(value, NULL, 10);
	if (clen > sizeof(req->body))
		return -1;
	req->body_len = have - hlen < clen ? have - hlen : clen;
	memcpy(req->body, head + hlen, req->body_len);
	while (req->body_len < clen) {
		ssize_t n = read(c, req->body + req->body_len, clen - req->body_len);

		if (n <= 0)
			return -1;
		req->body_len += (size_t)n;
	}
	return 0;
}

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Status";
	}
}

static void write_all(int c, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(c, p, n);

		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* The body in TS_DRIP_PIECES pieces, ms apart; a client that gave up ends it (no SIGPIPE). */
static void drip(int c, const char *p, size_t n, unsigned ms)
{
	size_t piece = (n + TS_DRIP_PIECES - 1) / TS_DRIP_PIECES;
	struct timespec gap = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

	for (size_t off = 0; off < n; off += piece) {
		size_t len = n - off < piece ? n - off : piece;

		if (off > 0)
			nanosleep(&gap, NULL);
		if (send(c, p + off, len, MSG_NOSIGNAL) != (ssize_t)len)
			return;
	}
}

static void serve(struct testserver *ts, int c)
{
	char head[4096];
	bool down;
	int n;

	memset(&ts->req, 0, sizeof(ts->req));
	if (read_request(c, &ts->req) < 0)
		return;
	pthread_mutex_lock(&ts->mu);
	ts->count++;
	ts->last = ts->req;
	ts->have_last = true;
	down = ts->down;
	if (!down) {
		if (ts->handler) {
			memset(&ts->resp, 0, sizeof(ts->resp));
			ts->resp.status = 200;
			ts->handler(&ts->req, &ts->resp, ts->ctx);
		} else {
			ts->resp = ts->canned;
		}
	}
	pthread_mutex_unlock(&ts->mu);
	if (down)
		return;
	n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n",
		     ts->resp.status, reason(ts->resp.status), ts->resp.body_len, ts->resp.headers);
	write_all(c, head, (size_t)n);
	if (ts->resp.drip_ms)
		drip(c, ts->resp.body, ts->resp.body_len, ts->resp.drip_ms);
	else
		write_all(c, ts->resp.body, ts->resp.body_len);
}

static void *run(void *arg)
{
	struct testserver *ts = arg;

	while (!atomic_load(&ts->stop)) {
		struct pollfd p = {.fd = ts->fd, .events = POLLIN};
		int c;

		if (poll(&p, 1, 20) <= 0)
			continue;
		c = accept(ts->fd, NULL, NULL);
		if (c < 0)
			continue;
		serve(ts, c);
		shutdown(c, SHUT_WR);
		close(c);
	}
	return NULL;
}

struct testserver *ts_start(void)
{
	struct testserver *ts = calloc(1, sizeof(*ts));
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);

	if (!ts)
		die("calloc");
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ts->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ts->fd < 0 || bind(ts->fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ts->fd, 64) < 0 ||
	    getsockname(ts->fd, (struct sockaddr *)&a, &alen) < 0)
		die("testserver socket");
	snprintf(ts->url, sizeof(ts->url), "http://127.0.0.1:%d", ntohs(a.sin_port));
	pthread_mutex_init(&ts->mu, NULL);
	ts_reply(ts, 404, NULL, "not found");
	if (pthread_create(&ts->thread, NULL, run, ts) != 0)
		die("pthread_create");
	return ts;
}

void ts_stop(struct testserver *ts)
{
	if (!ts)
		return;
	atomic_store(&ts->stop, true);
	pthread_join(ts->thread, NULL);
	close(ts->fd);
	pthread_mutex_destroy(&ts->mu);
	free(ts);
}

const char *ts_url(const struct testserver *ts)
{
	return ts->url;
}

void ts_reply(struct testserver *ts, int status, const char *headers, const char *body)
{
	pthread_mutex_lock(&ts->mu);
	ts->canned.status = status;
	snprintf(ts->canned.headers, sizeof(ts->canned.headers), "%s", headers ? headers : "");
	ts->canned.body_len = (size_t)snprintf(ts->canned.body, sizeof(ts->canned.body), "%s", body ? body : "");
	if (ts->canned.body_len >= sizeof(ts->canned.body))
		die("ts_reply body too long");
	pthread_mutex_unlock(&ts->mu);
}

void ts_handle(struct testserver *ts, ts_handler h, void *ctx)
{
	pthread_mutex_lock(&ts->mu);
	ts->handler = h;
	ts->ctx = ctx;
	pthread_mutex_unlock(&ts->mu);
}

void ts_down(struct testserver *ts, bool down)
{
	pthread_mutex_lock(&ts->mu);
	ts->down = down;
	pthread_mutex_unlock(&ts->mu);
}

unsigned ts_count(struct testserver *ts)
{
	unsigned n;

	pthread_mutex_lock(&ts->mu);
	n = ts->count;
	pthread_mutex_unlock(&ts->mu);
	return n;
}

bool ts_last(struct testserver *ts, struct ts_request *out)
{
	bool have;

	pthread_mutex_lock(&ts->mu);
	have = ts->have_last;
	if (have)
		*out = ts->last;
	pthread_mutex_unlock(&ts->mu);
	return have;
}
