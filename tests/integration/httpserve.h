/*
 * httpserve: the small HTTP/1.1 server the tests' stand-ins share
 * (fakechannel: the sales channels' APIs; whreceiver: a merchant's
 * webhook endpoint). It listens on 127.0.0.1 on an ephemeral port, runs
 * one thread per connection, reads one request whole (headers, then a
 * Content-Length body; 30 s of silence or more than max_request bytes
 * drops the connection) and hands it to the owner's handler on that
 * thread, then closes the connection: every answer is Connection: close.
 * The handler answers (httpserve_answer), or not (the connection then
 * closes unanswered). Nothing here aborts a test; out of memory aborts.
 */
#ifndef FX_TEST_HTTPSERVE_H
#define FX_TEST_HTTPSERVE_H

#include <stdbool.h>
#include <stddef.h>

struct httpserve;

/* One request, valid during the handler's call. */
struct httpserve_req {
	char method[16];
	char path[4096];
	const char *headers; /* the raw header lines after the request line */
	char *body; /* NUL-terminated, body_len bytes */
	size_t body_len;
	int fd; /* the connection: to answer on, or to see whether the client left */
};

/* Called once per request, on its connection's thread (handlers of several connections run at once). */
typedef void (*httpserve_fn)(void *ctx, struct httpserve_req *r);

/* Starts serving: fn(ctx, request) per request; backlog for listen(2). NULL when it cannot. */
struct httpserve *httpserve_start(httpserve_fn fn, void *ctx, size_t max_request, int backlog);

/* The port it listens on. */
int httpserve_port(const struct httpserve *s);

/*
 * Stops accepting, waits until every connection's thread has ended, and
 * frees s (accepts NULL). A handler that waits for something must be woken
 * by its owner first.
 */
void httpserve_stop(struct httpserve *s);

/* The value of header name (case-insensitive) into out; NULL when absent or not fitting in out_len. */
const char *httpserve_header(const struct httpserve_req *r, const char *name, char *out, size_t out_len);

/*
 * Answers status with a JSON body: "HTTP/1.1 status reason", Content-Type
 * application/json, Content-Length, Connection: close, then extra_headers
 * (whole "Name: value\r\n" lines, may be NULL). false when the client left.
 */
bool httpserve_answer(int fd, int status, const char *extra_headers, const char *body);

#endif
