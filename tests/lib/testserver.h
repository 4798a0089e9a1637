/*
 * testserver: a tiny HTTP/1.1 server on 127.0.0.1 (ephemeral port) for unit
 * tests that need an upstream (key servers, token endpoints, the metadata
 * server). One thread, one connection at a time, "Connection: close" on
 * every answer. The test decides each answer (a canned reply or a handler),
 * and can count and inspect the requests that arrived. Handlers run on the
 * server thread with the server's lock held, so they may read test state
 * that the test changes only through ts_* calls.
 */
#ifndef FX_TESTSERVER_H
#define FX_TESTSERVER_H

#include <stdbool.h>
#include <stddef.h>

#define TS_MAX_BODY 65536

struct ts_request {
	char method[16];
	char path[2048];
	char headers[8192]; /* raw "Name: value\r\n" lines */
	char body[TS_MAX_BODY];
	size_t body_len;
};

struct ts_response {
	int status;
	char headers[2048]; /* extra "Name: value\r\n" lines */
	char body[TS_MAX_BODY];
	size_t body_len;
	unsigned drip_ms; /* 0: the body at once; else in TS_DRIP_PIECES pieces, drip_ms apart (a slow upstream) */
};

#define TS_DRIP_PIECES 6

typedef void (*ts_handler)(const struct ts_request *req, struct ts_response *resp, void *ctx);

struct testserver;

/* Starts a server answering 404 until told otherwise; aborts the test on failure. */
struct testserver *ts_start(void);

/* Stops the thread and frees everything; accepts NULL. */
void ts_stop(struct testserver *ts);

/* "http://127.0.0.1:<port>", valid until ts_stop. */
const char *ts_url(const struct testserver *ts);

/* Answers every request with status, extra header lines (or NULL) and body. */
void ts_reply(struct testserver *ts, int status, const char *headers, const char *body);

/* Lets h decide every answer from now on (NULL goes back to the canned reply). */
void ts_handle(struct testserver *ts, ts_handler h, void *ctx);

/* While down, each connection is closed without an answer (the peer sees an empty reply). */
void ts_down(struct testserver *ts, bool down);

/* Requests received so far, answered or not. */
unsigned ts_count(struct testserver *ts);

/* Copies the last request into out; returns false when none arrived yet. */
bool ts_last(struct testserver *ts, struct ts_request *out);

/* The value of header name (case-insensitive) of r copied into out, or NULL. */
const char *ts_header(const struct ts_request *r, const char *name, char *out, size_t out_len);

#endif
