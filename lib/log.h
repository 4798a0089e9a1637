/*
 * fx_log: structured logging for Cloud Logging. Each call writes one JSON
 * line to stderr with a single write(2), so lines from threads never mix.
 * Never pass tokens, signed URLs or customer data in a message.
 */
#ifndef FX_LOG_H
#define FX_LOG_H

#include "config.h"

#include <stddef.h>

/* Sets the group label and threshold; safe to call before config exists. */
void fx_log_init(const char *group, enum fx_log_level level);

/* Logs an event at level with a printf-style message. */
void fx_log(enum fx_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define fx_log_debug(...) fx_log(FX_LOG_DEBUG, __VA_ARGS__)
#define fx_log_info(...) fx_log(FX_LOG_INFO, __VA_ARGS__)
#define fx_log_warn(...) fx_log(FX_LOG_WARNING, __VA_ARGS__)
#define fx_log_error(...) fx_log(FX_LOG_ERROR, __VA_ARGS__)

/* One finished request, as Cloud Logging's httpRequest. */
struct fx_log_request {
	const char *method;
	const char *path;
	const char *user_agent;
	const char *remote_ip;
	const char *request_id;
	const char *trace_id; /* 32 hex or NULL */
	const char *span_id; /* 16 hex or NULL */
	int sampled;
	int status;
	size_t request_size;
	size_t response_size;
	double latency_s;
	const char *error; /* canonical status of an error answer, or NULL */
	const char *message; /* error message, or NULL */
};

void fx_log_request(const struct fx_log_request *r);

/* Writes the current UTC time as RFC 3339 with milliseconds into out[25]. */
void fx_log_now(char out[32]);

#endif
