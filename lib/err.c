#include "err.h"

#include "str.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void fx_err_clear(struct fx_err *e)
{
	memset(e, 0, sizeof(*e));
}

int fx_err_set(struct fx_err *e, int code, const char *status, const char *fmt, ...)
{
	va_list ap;

	e->code = code;
	e->status = status ? status : fx_err_status_for(code);
	va_start(ap, fmt);
	fx_str_vtext(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return -1;
}

__attribute__((format(printf, 3, 0))) static void add_detail(struct fx_err *e, const char *field, const char *fmt,
							     va_list ap)
{
	struct fx_err_detail *d;

	if (e->ndetails >= FX_ERR_MAX_DETAILS)
		return;
	d = &e->details[e->ndetails++];
	/* Text for the client: callers bound what a request put into the field. */
	fx_str_text(d->field, sizeof(d->field), "%s", field ? field : "");
	fx_str_vtext(d->reason, sizeof(d->reason), fmt, ap);
}

void fx_err_detail(struct fx_err *e, const char *field, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add_detail(e, field, fmt, ap);
	va_end(ap);
}

int fx_err_invalid(struct fx_err *e, const char *field, const char *fmt, ...)
{
	struct fx_err_detail d;
	va_list ap;

	/* The reason of this error, whether or not its detail still fits. */
	va_start(ap, fmt);
	fx_str_vtext(d.reason, sizeof(d.reason), fmt, ap);
	va_end(ap);
	fx_err_detail(e, field, "%s", d.reason);
	return fx_err_set(e, 400, "INVALID_ARGUMENT", "invalid %s: %s", field, d.reason);
}

const char *fx_err_status_for(int code)
{
	switch (code) {
	case 400: return "INVALID_ARGUMENT";
	case 401: return "UNAUTHENTICATED";
	case 403: return "PERMISSION_DENIED";
	case 404: return "NOT_FOUND";
	case 405: return "UNIMPLEMENTED";
	case 408: return "DEADLINE_EXCEEDED";
	case 409: return "ABORTED";
	case 411: return "INVALID_ARGUMENT";
	case 412: return "FAILED_PRECONDITION";
	case 413: return "INVALID_ARGUMENT";
	case 414: return "INVALID_ARGUMENT";
	case 415: return "INVALID_ARGUMENT";
	case 429: return "RESOURCE_EXHAUSTED";
	case 431: return "INVALID_ARGUMENT";
	case 501: return "UNIMPLEMENTED";
	case 502: return "UNAVAILABLE";
	case 503: return "UNAVAILABLE";
	case 504: return "DEADLINE_EXCEEDED";
	default: return code >= 500 ? "INTERNAL" : "UNKNOWN";
	}
}
