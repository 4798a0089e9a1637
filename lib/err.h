/*
 * fx_err: the one error value every fallible libfluxori call fills.
 * Ownership: a struct fx_err is caller-owned and holds no heap memory.
 */
#ifndef FX_ERR_H
#define FX_ERR_H

/*
 * FX_MUST_USE marks every exported fx_ function whose result says whether it
 * failed (an int 0/-1, an index or length that is -1 on failure, a pointer
 * that is NULL on failure): under -Werror a call that drops the result does
 * not compile. gcc does not count a (void) cast as a use, so where ignoring
 * a failure is right the call goes through fx_ignore / fx_ignore_ptr, with a
 * comment saying why.
 */
#define FX_MUST_USE __attribute__((warn_unused_result))

/* Drops a result on purpose; the call site says why ignoring it is right. */
static inline void fx_ignore(long long result)
{
	(void)result;
}

static inline void fx_ignore_ptr(const void *result)
{
	(void)result;
}

#define FX_ERR_MAX_DETAILS 16

struct fx_err_detail {
	char field[96];
	char reason[160];
};

struct fx_err {
	int code; /* HTTP status, 0 when no error is set */
	const char *status; /* Google canonical name, a static string */
	char message[256];
	int ndetails;
	struct fx_err_detail details[FX_ERR_MAX_DETAILS];
	int retry_after; /* seconds for a Retry-After header, 0 for none */
};

/* Clears e so it holds no error. */
void fx_err_clear(struct fx_err *e);

/*
 * Sets code, canonical status and a printf-style message; keeps details
 * already added. Always returns -1 so callers can `return fx_err_set(...)`.
 */
int fx_err_set(struct fx_err *e, int code, const char *status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Appends a {field, reason} detail; silently drops it past FX_ERR_MAX_DETAILS. */
void fx_err_detail(struct fx_err *e, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* 400 INVALID_ARGUMENT with one detail naming field; returns -1. */
int fx_err_invalid(struct fx_err *e, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * The canonical status name for an HTTP status when only one fits: the
 * contract's pairs (Google's mapping, plus 405 UNIMPLEMENTED, 408
 * DEADLINE_EXCEEDED and INVALID_ARGUMENT for 411, 413, 414, 415 and 431).
 * nginx's own error pages use the same pairs (a test checks them).
 */
const char *fx_err_status_for(int code);

#define FX_ERR_NOT_FOUND(e, what) fx_err_set((e), 404, "NOT_FOUND", "%s not found", (what))
#define FX_ERR_INTERNAL(e, ...) fx_err_set((e), 500, "INTERNAL", __VA_ARGS__)
#define FX_ERR_UNAVAILABLE(e, ...) fx_err_set((e), 503, "UNAVAILABLE", __VA_ARGS__)

#endif
