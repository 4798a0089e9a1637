#include "err.h"

#include "str.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Every (HTTP status, canonical name) pair a client can see, by code. */
static const struct {
	int http;
	const char *name;
} codes[FX_CODE_COUNT] = {
	[FX_OK] = {200, "OK"},
	[FX_INVALID_ARGUMENT] = {400, "INVALID_ARGUMENT"},
	[FX_OUT_OF_RANGE] = {400, "OUT_OF_RANGE"},
	[FX_UNAUTHENTICATED] = {401, "UNAUTHENTICATED"},
	[FX_PERMISSION_DENIED] = {403, "PERMISSION_DENIED"},
	[FX_NOT_FOUND] = {404, "NOT_FOUND"},
	[FX_ABORTED] = {409, "ABORTED"},
	[FX_ALREADY_EXISTS] = {409, "ALREADY_EXISTS"},
	[FX_FAILED_PRECONDITION] = {409, "FAILED_PRECONDITION"},
	[FX_RESOURCE_EXHAUSTED] = {429, "RESOURCE_EXHAUSTED"},
	[FX_CANCELLED] = {499, "CANCELLED"},
	[FX_INTERNAL] = {500, "INTERNAL"},
	[FX_UNKNOWN] = {500, "UNKNOWN"},
	[FX_DATA_LOSS] = {500, "DATA_LOSS"},
	[FX_UNIMPLEMENTED] = {501, "UNIMPLEMENTED"},
	[FX_UNAVAILABLE] = {503, "UNAVAILABLE"},
	[FX_DEADLINE_EXCEEDED] = {504, "DEADLINE_EXCEEDED"},
	[FX_METHOD_NOT_ALLOWED] = {405, "UNIMPLEMENTED"},
	[FX_REQUEST_TIMEOUT] = {408, "DEADLINE_EXCEEDED"},
	[FX_LENGTH_REQUIRED] = {411, "INVALID_ARGUMENT"},
	[FX_CONDITION_NOT_MET] = {412, "FAILED_PRECONDITION"},
	[FX_PAYLOAD_TOO_LARGE] = {413, "INVALID_ARGUMENT"},
	[FX_URI_TOO_LONG] = {414, "INVALID_ARGUMENT"},
	[FX_UNSUPPORTED_MEDIA_TYPE] = {415, "INVALID_ARGUMENT"},
	[FX_HEADERS_TOO_LARGE] = {431, "INVALID_ARGUMENT"},
	[FX_BAD_GATEWAY] = {502, "UNAVAILABLE"},
};

static bool known(enum fx_code code)
{
	return (unsigned)code < FX_CODE_COUNT;
}

int fx_err_http(enum fx_code code)
{
	return known(code) ? codes[code].http : codes[FX_INTERNAL].http;
}

const char *fx_err_name(enum fx_code code)
{
	return known(code) ? codes[code].name : codes[FX_INTERNAL].name;
}

enum fx_code fx_err_from_name(const char *name)
{
	for (int i = FX_OK + 1; name && i < FX_CODE_COUNT; i++)
		if (strcmp(codes[i].name, name) == 0)
			return (enum fx_code)i;
	return FX_OK;
}

enum fx_code fx_err_for_http(int http)
{
	for (int i = FX_OK + 1; i < FX_CODE_COUNT; i++)
		if (codes[i].http == http)
			return (enum fx_code)i;
	return http >= 500 ? FX_INTERNAL : FX_UNKNOWN;
}

const char *fx_err_status_for(int http)
{
	return fx_err_name(fx_err_for_http(http));
}

void fx_err_clear(struct fx_err *e)
{
	memset(e, 0, sizeof(*e));
}

bool fx_err_is(const struct fx_err *e, enum fx_code code)
{
	return e->kind == code;
}

int fx_err_set(struct fx_err *e, enum fx_code code, const char *fmt, ...)
{
	va_list ap;

	e->kind = known(code) && code != FX_OK ? code : FX_INTERNAL;
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
	return fx_err_set(e, FX_INVALID_ARGUMENT, "invalid %s: %s", field, d.reason);
}
