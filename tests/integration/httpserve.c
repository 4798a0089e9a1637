/*
 * httpserve: the tests' small HTTP/1.1 server (see httpserve.h).
 */
#include "httpserve.h"

#include "httpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct httpserve {
	httpserve_fn fn;
	void *ctx;
	size_t max_request;
	int fd, port;
	pthread_t accept_thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stopping;
	int active; /* connection threads running */
};

struct conn {
	struct httpserve *s;
	int fd;
};

const char *httpserve_header(const struct httpserve_req *r, const char *name, char *out, size_t out_len)
{
	return fx_httpc_header_in(r->headers, name, out, out_len);
}

static bool write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 302: return "Found";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 410: return "Gone";
	case 413: return "Payload Too Large";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	}
	return "Status";
}

bool httpserve_answer(int fd, int status, const char *extra_headers, const char *body)
{
	char *head = NULL;
	bool ok;

	if (asprintf(&head,
		     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
		     "Connection: close\r\n%s\r\n",
		     status, reason(status), strlen(body), extra_headers ? extra_headers : "") < 0)
		abort();
	ok = write_all(fd, head, strlen(head)) && write_all(fd, body, strlen(body));
	free(head);
	return ok;
}

/* Reads one request whole into *buf (malloc'd, the caller frees) and r; false when the connection gave none. */
static bool read_request(struct httpserve *s, int fd, char **buf, struct httpserve_req *r)
{
	size_t cap = 65536, len = 0, need = 0;
	char *hend = NULL, cl[32];

	*buf = malloc(cap + 1);
	if (!*buf)
		abort();
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;
		if (poll(&p, 1, 30000) <= 0)
			return false;
		n = recv(fd, *buf + len, cap - len, 0);
		if (n <= 0)
			return false;
		len += (size_t)n;
		(*buf)[len] = '\0';
		if (!hend && (hend = strstr(*buf, "\r\n\r\n"))) {
			*hend = '\0';
			r->headers = strstr(*buf, "\r\n") ? strstr(*buf, "\r\n") + 2 : hend;
			need = (size_t)(hend + 4 - *buf);
			if (httpserve_header(r, "Content-Length", cl, sizeof cl))
				need += strtoul(cl, NULL, 10);
			if (need > s->max_request)
				return false;
			if (need > cap) {
				size_t off = (size_t)(hend - *buf);
				char *nb = realloc(*buf, need + 1);
				if (!nb)
					abort();
				*buf = nb;
				cap = need;
				hend = *buf + off;
				r->headers = strstr(*buf, "\r\n") + 2;
			}
		}
		if (hend && len >= need)
			break;
		if (len == cap)
			return false;
	}
	if (sscanf(*buf, "%15s %4095s", r->method, r->path) != 2)
		return false;
	/* The request line ends at the first CRLF, which r->headers follows. */
	r->body = hend + 4;
	r->body_len = need - (size_t)(hend + 4 - *buf);
	r->body[r->body_len] = '\0';
	return true;
}

static void *serve(void *arg)
{
	struct conn *c = arg;
	struct httpserve *s = c->s;
	struct httpserve_req r;
	char *buf = NULL;

	memset(&r, 0, sizeof r);
	r.fd = c->fd;
	if (read_request(s, c->fd, &buf, &r))
		s->fn(s->ctx, &r);
	free(buf);
	close(c->fd);
	pthread_mutex_lock(&s->mu);
	s->active--;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	free(c);
	return NULL;
}

static void *accept_loop(void *arg)
{
	struct httpserve *s = arg;

	for (;;) {
		int fd = accept(s->fd, NULL, NULL);
		struct conn *c;
		pthread_t t;
		pthread_attr_t at;

		pthread_mutex_lock(&s->mu);
		if (s->stopping) {
			pthread_mutex_unlock(&s->mu);
			if (fd >= 0)
				close(fd);
			return NULL;
		}
		if (fd < 0) {
			pthread_mutex_unlock(&s->mu);
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL;
		}
		s->active++;
		pthread_mutex_unlock(&s->mu);
		c = malloc(sizeof *c);
		if (!c)
			abort();
		c->s = s;
		c->fd = fd;
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &at, serve, c) != 0) {
			close(fd);
			free(c);
			pthread_mutex_lock(&s->mu);
			s->active--;
			pthread_cond_broadcast(&s->cv);
			pthread_mutex_unlock(&s->mu);
		}
		pthread_attr_destroy(&at);
	}
}

struct httpserve *httpserve_start(httpserve_fn fn, void *ctx, size_t max_request, int backlog)
{
	struct httpserve *s = calloc(1, sizeof *s);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof sa;

	if (!s)
		return NULL;
	s->fn = fn;
	s->ctx = ctx;
	s->max_request = max_request;
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(s->fd, backlog) < 0 ||
	    getsockname(s->fd, (struct sockaddr *)&sa, &sl) < 0) {
		if (s->fd >= 0)
			close(s->fd);
		free(s);
		return NULL;
	}
	s->port = ntohs(sa.sin_port);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	if (pthread_create(&s->accept_thread, NULL, accept_loop, s) != 0) {
		close(s->fd);
		pthread_cond_destroy(&s->cv);
		pthread_mutex_destroy(&s->mu);
		free(s);
		return NULL;
	}
	return s;
}

int httpserve_port(const struct httpserve *s)
{
	return s->port;
}

void httpserve_stop(struct httpserve *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	pthread_mutex_unlock(&s->mu);
	shutdown(s->fd, SHUT_RDWR);
	pthread_join(s->accept_thread, NULL);
	close(s->fd);
	pthread_mutex_lock(&s->mu);
	while (s->active > 0)
		pthread_cond_wait(&s->cv, &s->mu);
	pthread_mutex_unlock(&s->mu);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}
