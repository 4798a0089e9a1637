/*
 * fx_http: one FastCGI request as the API sees it (fx_req), and the
 * response writer. Everything a request allocates lives in its arena and
 * dies with it; json_object values passed to fx_http_resp_json are borrowed.
 */
#ifndef FX_HTTP_H
#define FX_HTTP_H

#include "arena.h"
#include "buf.h"
#include "err.h"
#include "router.h"

#include <fcgiapp.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <time.h>

struct fx_principal;

struct fx_qparam {
	const char *name;
	const char *value;
};

#define FX_MAX_QUERY_PARAMS 32

struct fx_req {
	FCGX_Stream *in;
	FCGX_Stream *out;
	FCGX_ParamArray envp;
	struct fx_arena *arena;

	const char *method;
	const char *path; /* raw (percent-encoded), without the query */
	const char *query; /* raw, "" when absent */
	struct fx_qparam qparams[FX_MAX_QUERY_PARAMS];
	int nq;

	const struct fx_route *route;
	struct fx_params params;
	struct fx_principal *principal; /* set by authz for non-public routes */

	char request_id[65];
	char trace_id[33]; /* empty when the request carried no trace */
	char span_id[17];
	bool sampled;

	const char *body; /* NUL-terminated copy, NULL when empty */
	size_t body_len;

	struct fx_buf headers; /* extra response header lines */
	int status; /* 0 until a response started */
	size_t resp_bytes;
	const char *err_status; /* canonical status of an error answer */
	const char *refused; /* why the response cannot be sent as meant, or NULL */
	bool broken; /* a started response was cut short: see fx_http_resp_break */
	char err_message[160];
	struct timespec start;
};

/*
 * Prepares r from a FastCGI request's params. Fails with 400 on a
 * malformed request line (bad escapes, too many query parameters).
 * r->method and r->request_id are always set, so an error can be answered.
 */
FX_MUST_USE int fx_http_req_init(struct fx_req *r, FCGX_ParamArray envp, FCGX_Stream *in, FCGX_Stream *out,
				 struct fx_arena *arena, struct fx_err *e);

/* Frees what fx_http_req_init allocated outside the arena. Accepts NULL. */
void fx_http_req_cleanup(struct fx_req *r);

/* A FastCGI param ("REMOTE_ADDR") or NULL. */
const char *fx_http_req_env(const struct fx_req *r, const char *name);

/* A request header by its HTTP name ("If-Match"), or NULL. */
const char *fx_http_req_header(const struct fx_req *r, const char *name);

/*
 * The client address that a trusted front end appended to X-Forwarded-For
 * (xff, the header's lines joined with ',' by nginx; may be NULL), into
 * out (len bytes). Without a front end (front_end false) the header holds
 * only what the client chose to send: -1. Behind Google's external
 * Application Load Balancer, which appends "<client>,<load balancer>"
 * after whatever the client sent (deploy/README.md: LB, serverless NEG,
 * Cloud Run), the client is the second entry from the end; with a single
 * entry (a direct call through run.app: Cloud Run's front end appends the
 * client alone) that entry. The entry must be an IPv4 or IPv6 address,
 * else -1. Returns 0 with out filled.
 */
FX_MUST_USE int fx_http_forwarded_client(const char *xff, bool front_end, char *out, size_t len);

/*
 * The request's client address for the log (httpRequest.remoteIp): on
 * Cloud Run (K_SERVICE set) fx_http_forwarded_client of nginx's
 * FLUXORI_FORWARDED_FOR, else (or when that has no usable entry) nginx's
 * REMOTE_ADDR, the peer. Arena or request memory; NULL when unknown.
 */
const char *fx_http_req_client_ip(const struct fx_req *r);

/* The decoded value of query parameter name (first occurrence), or NULL. */
const char *fx_http_req_query(const struct fx_req *r, const char *name);

/* Refuses query parameters not in the NULL-terminated list (400 naming it). */
FX_MUST_USE int fx_http_req_query_allow(const struct fx_req *r, const char *const *allowed, struct fx_err *e);

/* The decoded path parameter name, or NULL. */
const char *fx_http_req_param(const struct fx_req *r, const char *name);

/*
 * The body length the request declares (CONTENT_LENGTH, which nginx fills
 * from Content-Length): 0 with *n, which is 0 when the param is absent or
 * empty; -1 (*n untouched) when it is not a whole decimal count
 * (fx_num_parse_u64: no sign, no spaces, nothing after the digits).
 */
FX_MUST_USE int fx_http_req_content_length(const struct fx_req *r, uint64_t *n);

/*
 * Reads the body (at most max bytes, else 413) into the arena. Checks the
 * declared Content-Length first so an oversized body is refused unread;
 * one that fx_http_req_content_length refuses is a 400.
 */
FX_MUST_USE int fx_http_req_read_body(struct fx_req *r, size_t max, struct fx_err *e);

/*
 * Reads and discards what is left of the request's input, up to the empty
 * FCGI_STDIN record that ends it: the rest of a body the handler did not
 * read (it answered first) or only that last record. A worker that closes
 * its connection with input unread makes the kernel reset it, and nginx
 * then loses the answer it was sent; so every request's input is read to
 * its end before the connection is closed. Reads at most max bytes; nginx
 * caps what it passes (client_max_body_size), so max is a bound, never a
 * limit a request meets. Returns 0 once the input has ended (also when
 * there is no input stream), -1 when more than max bytes are left or the
 * stream failed (nginx closed it or sent garbage).
 */
FX_MUST_USE int fx_http_req_drain(struct fx_req *r, size_t max);

/*
 * The body as a JSON object after the strict checks of fx_json; an empty
 * body yields an empty object when allow_empty, else 400. Caller puts.
 */
FX_MUST_USE int fx_http_req_json(struct fx_req *r, bool allow_empty, json_object **out, struct fx_err *e);

/*
 * The most bytes one response header value may have. Header values come
 * from stored data (a file's content type and name), so the writer holds
 * them to this cap whatever validated them.
 */
#define FX_RESP_VALUE_MAX 4096

/*
 * Adds a response header line. A name that is not an RFC 9110 token, a value
 * with a control byte other than HTAB (CR, LF, NUL) or over
 * FX_RESP_VALUE_MAX bytes, or extra headers over their cap are not added:
 * the response they belong to is then refused by fx_http_resp_start (nothing is
 * written) and fx_http_resp_error answers the contract's 500 instead, without
 * the extra headers gathered so far.
 */
void fx_http_resp_header(struct fx_req *r, const char *name, const char *value);

/* Sends a complete response. Returns 0, or -1 if it was refused (see fx_http_resp_start) or the client went away. */
FX_MUST_USE int fx_http_resp_send(struct fx_req *r, int status, const char *content_type, const void *body, size_t len);

/* Sends obj as JSON with status. */
FX_MUST_USE int fx_http_resp_json(struct fx_req *r, int status, json_object *obj);

/*
 * Sends the contract's JSON error body for e (with WWW-Authenticate,
 * Retry-After as needed). After a refused response it sends a 500 instead.
 */
FX_MUST_USE int fx_http_resp_error(struct fx_req *r, const struct fx_err *e);

/*
 * Starts a streamed response; then fx_http_resp_write the body. The head is built
 * in a bounded buffer and written at once, or not at all: a content_type
 * that fx_http_resp_header would refuse as a value, an earlier refused header, or
 * a head over 12 KiB (nginx's fastcgi_buffer_size is 16k) return -1 with
 * nothing written and r->status still 0, so the error answer can follow.
 * -1 with r->status set means the client went away.
 */
FX_MUST_USE int fx_http_resp_start(struct fx_req *r, int status, const char *content_type, long long content_length);
FX_MUST_USE int fx_http_resp_write(struct fx_req *r, const void *p, size_t n);

/*
 * Marks a started response as cut short: the worker then closes the
 * connection to nginx without ending the request, and nginx closes the
 * client's connection without the end of the body. A response streamed
 * without Content-Length (chunked) would otherwise end cleanly, and a
 * client could not tell it from a whole one. For the handler that fails
 * after fx_http_resp_start; it then returns 0 (the answer has a status).
 */
void fx_http_resp_break(struct fx_req *r);

/* Reason phrase for a status code. */
const char *fx_http_reason(int status);

#endif
