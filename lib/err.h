/*
 * fx_err: the one error value every fallible libfluxori call fills.
 * Ownership: a struct fx_err is caller-owned and holds no heap memory.
 */
#ifndef FX_ERR_H
#define FX_ERR_H

#include <stdbool.h>

/*
 * FX_MUST_USE marks every exported fx_ function whose result says whether it
 * failed (an int 0/-1, an index or length that is -1 on failure, a pointer
 * that is NULL on failure): under -Werror a call that drops the result does
 * not compile. gcc does not count a (void) cast as a use, so where ignoring
 * a failure is right the call goes through fx_err_ignore / fx_err_ignore_ptr, with a
 * comment saying why.
 */
#define FX_MUST_USE __attribute__((warn_unused_result))

/* Drops a result on purpose; the call site says why ignoring it is right. */
static inline void fx_err_ignore(long long result)
{
	(void)result;
}

static inline void fx_err_ignore_ptr(const void *result)
{
	(void)result;
}

#define FX_ERR_MAX_DETAILS 16

/*
 * Retry-After, in seconds, of an answer the client should simply send again:
 * a backend outage (503 UNAVAILABLE) or contention (409 ABORTED). nginx's own
 * 503 page (nginx/errors.conf.in) says the same.
 */
#define FX_ERR_RETRY_AFTER_S 1

struct fx_err_detail {
	char field[96];
	char reason[160];
};

/*
 * The error codes: Google's canonical codes, each with the HTTP status the
 * contract (../shared/API.md) gives it, and after them the few pairs where
 * the contract gives a canonical name another HTTP status. Those are distinct
 * codes rather than an HTTP status passed beside a name, so that every pair a
 * client can see is one row of the table in err.c, and fx_err_is() tells a
 * 412 FAILED_PRECONDITION (If-Match) from a 409 one (a state rule).
 *
 * Order matters once: for an HTTP status several codes share,
 * fx_err_status_for() answers the first (400 INVALID_ARGUMENT, 409 ABORTED,
 * 500 INTERNAL), as Google's HTTP-to-code mapping does.
 */
enum fx_code {
	FX_OK = 0, /* 200: no error; a cleared struct fx_err holds it */
	FX_INVALID_ARGUMENT, /* 400 */
	FX_OUT_OF_RANGE, /* 400 */
	FX_UNAUTHENTICATED, /* 401 */
	FX_PERMISSION_DENIED, /* 403 */
	FX_NOT_FOUND, /* 404 */
	FX_ABORTED, /* 409: a concurrent change, or a job already running */
	FX_ALREADY_EXISTS, /* 409 */
	FX_FAILED_PRECONDITION, /* 409, not Google's 400: API.md lists it among the 409s */
	FX_RESOURCE_EXHAUSTED, /* 429 */
	FX_CANCELLED, /* 499: the client went away */
	FX_INTERNAL, /* 500: our defect */
	FX_UNKNOWN, /* 500 */
	FX_DATA_LOSS, /* 500 */
	FX_UNIMPLEMENTED, /* 501 */
	FX_UNAVAILABLE, /* 503: a Google backend is down; the request did nothing */
	FX_DEADLINE_EXCEEDED, /* 504 */

	/* The contract's other HTTP statuses for a canonical name. */
	FX_METHOD_NOT_ALLOWED, /* 405 UNIMPLEMENTED */
	FX_REQUEST_TIMEOUT, /* 408 DEADLINE_EXCEEDED (nginx) */
	FX_LENGTH_REQUIRED, /* 411 INVALID_ARGUMENT (nginx) */
	FX_CONDITION_NOT_MET, /* 412 FAILED_PRECONDITION: If-Match or a generation precondition */
	FX_PAYLOAD_TOO_LARGE, /* 413 INVALID_ARGUMENT */
	FX_URI_TOO_LONG, /* 414 INVALID_ARGUMENT (nginx) */
	FX_UNSUPPORTED_MEDIA_TYPE, /* 415 INVALID_ARGUMENT */
	FX_HEADERS_TOO_LARGE, /* 431 INVALID_ARGUMENT (nginx) */
	FX_BAD_GATEWAY, /* 502 UNAVAILABLE: a backend answered, but not in a way we can use */

	FX_CODE_COUNT
};

struct fx_err {
	enum fx_code kind; /* FX_OK when no error is set; read it through fx_err_is() */
	char message[256];
	int ndetails;
	struct fx_err_detail details[FX_ERR_MAX_DETAILS];
	int retry_after; /* seconds for a Retry-After header, 0 for none */
};

/* The HTTP status of code (200 for FX_OK; 500 for a value outside the enum). */
int fx_err_http(enum fx_code code);

/* The canonical name of code, a static string ("INTERNAL" for a value outside the enum). */
const char *fx_err_name(enum fx_code code);

/*
 * The code whose canonical name is name (the first: FX_FAILED_PRECONDITION,
 * not FX_CONDITION_NOT_MET), or FX_OK when name is NULL or no canonical
 * error name (an upstream's status we do not know).
 */
enum fx_code fx_err_from_name(const char *name);

/*
 * The code for an HTTP status when only one fits: the first in the table
 * with that status; else FX_INTERNAL for 5xx, FX_UNKNOWN for the rest.
 */
enum fx_code fx_err_for_http(int http);

/* Clears e so it holds no error (FX_OK). */
void fx_err_clear(struct fx_err *e);

/* Whether e holds exactly code (FX_OK: no error set). */
bool fx_err_is(const struct fx_err *e, enum fx_code code);

/*
 * Sets code and a printf-style message; keeps details already added. Always
 * returns -1 so callers can `return fx_err_set(...)`.
 */
int fx_err_set(struct fx_err *e, enum fx_code code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Appends a {field, reason} detail; silently drops it past FX_ERR_MAX_DETAILS. */
void fx_err_detail(struct fx_err *e, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* 400 INVALID_ARGUMENT with one detail naming field; returns -1. */
int fx_err_invalid(struct fx_err *e, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * The canonical name for an HTTP status: fx_err_name(fx_err_for_http(http)).
 * nginx's own error pages use the same pairs (a test checks them).
 */
const char *fx_err_status_for(int http);

#endif
