/*
 * fx_httpc: calls to Google over libcurl. Each thread keeps one reused
 * easy handle, so connections (and TLS sessions) survive between requests;
 * a handle handed over (fx_httpc_thread_handover) moves to another thread.
 * Every call has connect and total timeouts and a response cap, and may be
 * retried with exponential backoff and jitter when the policy allows it.
 * Response bodies are owned by the fx_httpc_resp (fx_httpc_resp_cleanup).
 */
#ifndef FX_HTTPC_H
#define FX_HTTPC_H

#include "buf.h"
#include "err.h"

#include <stdbool.h>
#include <stddef.h>

enum fx_retry {
	FX_RETRY_NONE, /* never retried: not safe to repeat */
	FX_RETRY_UNAVAILABLE, /* 503/UNAVAILABLE and connect failures: nothing reached the backend */
	FX_RETRY_IDEMPOTENT, /* also 429, 500, 502, 504, ABORTED, timeouts: the call is safe to repeat */
};

/* Receives streamed body bytes; returns 0, or -1 to stop the transfer. */
typedef int (*fx_httpc_sink)(void *ctx, const char *p, size_t n);

struct fx_httpc_req {
	const char *method; /* "GET" when NULL */
	const char *url;
	const char *const *headers; /* NULL-terminated "Name: value" lines, or NULL */
	const char *body;
	size_t body_len;
	long timeout_ms; /* 0: the configured default; with a sink, the longest stall (defaults.h) */
	size_t max_response; /* 0: 8 MiB */
	enum fx_retry retry;
	int max_attempts; /* 0: FX_DEFAULT_HTTP_ATTEMPTS */
	fx_httpc_sink sink; /* when set, a 2xx body streams here instead of the buffer */
	void *sink_ctx;
	const char *service; /* label for metrics/logs: "firestore", "storage", ... */
	/*
	 * A simple request/response call (no sink): the request's text written
	 * straight to a kept HTTP/1.1 connection of this thread's own (curl
	 * connects it, TLS included), the answer read here; the same deadline,
	 * cap, retries, metrics and errors as the curl path. For Firestore's
	 * calls; a URL the lean path does not take goes through curl.
	 */
	bool lean;
};

struct fx_httpc_resp {
	long status;
	struct fx_buf body;
	struct fx_buf headers; /* raw header lines of the final response */
	int attempts;
};

void fx_httpc_resp_init(struct fx_httpc_resp *r);
void fx_httpc_resp_cleanup(struct fx_httpc_resp *r);

/*
 * Performs the call. Returns 0 when an HTTP response arrived (any status:
 * the caller maps it), or -1 with e set (503 UNAVAILABLE when the backend
 * could not be reached or timed out, 502 when its answer exceeded the cap).
 */
FX_MUST_USE int fx_httpc_do(const struct fx_httpc_req *req, struct fx_httpc_resp *resp, struct fx_err *e);

/*
 * libcurl's CURLOPT_HEADERFUNCTION for a call answered into an
 * fx_httpc_resp (CURLOPT_HEADERDATA: that resp): keeps the final
 * response's raw header lines, up to the headers buffer's cap.
 */
size_t fx_httpc_header_line(char *p, size_t size, size_t nmemb, void *resp);

/*
 * Sets the method of the next transfer on curl handle h (a CURL *), and
 * its body: POST, PUT and PATCH always send one (empty when body is NULL),
 * other methods when body is set; HEAD reads no body. Clears what an
 * earlier transfer on h set. For every curl_easy_perform of a call
 * (lib/httpc's, lib/egress's).
 */
void fx_httpc_curl_method(void *h, const char *method, const char *body, size_t body_len);

/* Value of response header name (case-insensitive) copied into out, or NULL. */
FX_MUST_USE const char *fx_httpc_header(const struct fx_httpc_resp *resp, const char *name, char *out, size_t out_len);

/*
 * The same over raw header lines ("Name: value\r\n"..., NULL accepted):
 * the first line of header name (case-insensitive), its value without
 * surrounding spaces or tabs copied into out; NULL when there is none or
 * it does not fit in out_len (out then holds no partial value).
 */
FX_MUST_USE const char *fx_httpc_header_in(const char *lines, const char *name, char *out, size_t out_len);

/*
 * Maps a Google error response ({"error":{"code","status","message"}}) to
 * e: the code of Google's canonical status (FX_FAILED_PRECONDITION for
 * "FAILED_PRECONDITION", whatever HTTP status came with it); a body naming
 * none we know maps by the HTTP status's canonical name (fx_err_status_for).
 * The caller maps that to what its client sees. what names the call for the
 * message ("firestore get"). Always returns -1, as fx_err_set does.
 */
int fx_httpc_google_error(const struct fx_httpc_resp *resp, const char *what, struct fx_err *e);

/* The canonical status of a Google error body, copied into out ("" if none). */
void fx_httpc_error_status(const struct fx_httpc_resp *resp, char *out, size_t out_len);

/* Percent-encodes s for a URL path segment or query value (RFC 3986 unreserved kept). */
FX_MUST_USE int fx_httpc_url_encode(struct fx_buf *b, const char *s, size_t n);

/* Frees this thread's handle (also done at thread exit). */
void fx_httpc_thread_cleanup(void);

/*
 * Gives this thread's handle, and the connections it keeps open, to the
 * next thread that makes its first call (up to 4 wait; beyond, it is
 * freed). This thread's next call starts a new handle. For a warm-up
 * thread: what it connected serves the first request, whichever thread
 * takes it.
 */
void fx_httpc_thread_handover(void);

/* Frees the handles handed over and not taken (before curl_global_cleanup). */
void fx_httpc_spare_cleanup(void);

/*
 * Two calls at once: runs side(side_ctx) on a thread of its own while this
 * thread runs own(own_ctx), and returns when both are done, so the caller
 * waits for the longer of the two, not their sum. Each makes its calls on
 * its own handle: the side thread takes a handed-over one when one waits
 * (fx_httpc_thread_handover) and hands its own over when done, so its
 * connections serve the next side call. When no thread can be started,
 * side runs here after own: the same outcome, one after the other. own and
 * side must not write what the other reads or writes; what side wrote is
 * the caller's to read once this returns.
 */
void fx_httpc_both(void (*own)(void *), void *own_ctx, void (*side)(void *), void *side_ctx);

#endif
