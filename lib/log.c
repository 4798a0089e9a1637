#include "log.h"

#include "buf.h"
#include "mem.h"
#include "str.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 16384
/* A thread keeps its line buffer between lines up to this size (a request line is ~0.5 KiB). */
#define LINE_KEEP_BYTES 2048

static const char *log_group = "fluxori";
static enum fx_log_level threshold = FX_LOG_INFO;

static const char *const severity[] = {"DEBUG", "INFO", "WARNING", "ERROR"};

void fx_log_init(const char *group, enum fx_log_level level)
{
	log_group = group;
	threshold = level;
}

void fx_log_now(char out[32])
{
	/* The date and time to the second, made once a second per thread: strftime cost a line more than the rest. */
	static __thread time_t cached_sec = -1;
	static __thread char cached[32];
	struct timespec ts;
	size_t n;
	int ms;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != cached_sec) {
		struct tm tm;

		gmtime_r(&ts.tv_sec, &tm);
		n = strftime(cached, sizeof(cached), "%Y-%m-%dT%H:%M:%S", &tm);
		cached[n] = '\0';
		cached_sec = ts.tv_sec;
	}
	/* 19 + 5 bytes always fit 32: neither can be refused. */
	if (fx_str_set(out, 32, cached) < 0)
		out[0] = '\0';
	n = strlen(out);
	ms = (int)(ts.tv_nsec / 1000000);
	out[n++] = '.';
	out[n++] = (char)('0' + ms / 100);
	out[n++] = (char)('0' + ms / 10 % 10);
	out[n++] = (char)('0' + ms % 10);
	out[n++] = 'Z';
	out[n] = '\0';
}

/*
 * Each thread's line buffer, kept from line to line: a line was a malloc, a
 * realloc as it grew past 256 bytes and a free, on every request. Freed when
 * the thread ends (the key's destructor).
 */
static pthread_key_t line_key;
static pthread_once_t line_once = PTHREAD_ONCE_INIT;
static bool line_key_made;

static void line_free(void *p)
{
	fx_buf_cleanup(p);
	free(p);
}

static void line_key_make(void)
{
	line_key_made = pthread_key_create(&line_key, line_free) == 0;
}

/* This thread's buffer, empty; local (initialised here) when there is no thread buffer. */
static struct fx_buf *line_start(struct fx_buf *local)
{
	struct fx_buf *b;
	bool made;

	pthread_once(&line_once, line_key_make);
	made = line_key_made; /* set under pthread_once, which orders it before every return */
	b = made ? pthread_getspecific(line_key) : NULL;
	if (!b && made) {
		b = fx_mem_xmalloc(sizeof(*b));
		fx_buf_init(b, LINE_MAX_BYTES);
		if (pthread_setspecific(line_key, b) != 0) {
			free(b);
			b = NULL;
		}
	}
	if (!b) {
		fx_buf_init(local, LINE_MAX_BYTES);
		return local;
	}
	fx_buf_reset(b);
	return b;
}

/* After a line: a local buffer freed, a thread's one kept unless a long line grew it. */
static void line_end(struct fx_buf *b, struct fx_buf *local)
{
	if (b == local || b->cap > LINE_KEEP_BYTES) {
		fx_buf_cleanup(b);
		fx_buf_init(b, LINE_MAX_BYTES);
	}
}

static int begin(struct fx_buf *b, enum fx_log_level level)
{
	char now[32];

	fx_log_now(now);
	if (fx_buf_puts(b, "{\"severity\":\"") < 0 || fx_buf_puts(b, severity[level]) < 0 ||
	    fx_buf_puts(b, "\",\"time\":\"") < 0 || fx_buf_puts(b, now) < 0 || fx_buf_puts(b, "\",") < 0)
		return -1;
	return 0;
}

/* Ends and writes the line; bad says an earlier append hit the cap (the line would not be JSON). */
static void finish(struct fx_buf *b, int bad)
{
	static const char too_long[] = "{\"severity\":\"ERROR\",\"message\":\"log line too long\"}\n";
	const char *p;
	size_t n;
	ssize_t r;

	bad |= fx_buf_puts(b, "\"logging.googleapis.com/labels\":{\"group\":") < 0;
	bad |= fx_buf_json_string(b, log_group, strlen(log_group)) < 0;
	bad |= fx_buf_puts(b, "}}\n") < 0;
	/* Over the cap: write a valid line that says so rather than a cut one. */
	p = bad ? too_long : b->data;
	n = bad ? sizeof(too_long) - 1 : b->len;
	r = write(2, p, n);
	(void)r;
}

void fx_log(enum fx_log_level level, const char *fmt, ...)
{
	char msg[2048];
	struct fx_buf local, *b;
	va_list ap;
	int bad;

	if (level < threshold)
		return;
	va_start(ap, fmt);
	fx_str_vtext(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	b = line_start(&local);
	bad = begin(b, level) < 0;
	bad |= fx_buf_puts(b, "\"message\":") < 0;
	bad |= fx_buf_json_string(b, msg, strlen(msg)) < 0;
	bad |= fx_buf_puts(b, ",") < 0;
	finish(b, bad);
	line_end(b, &local);
}

/* "key":"v", when v is set; -1 when the cap was hit. */
static int json_field(struct fx_buf *b, const char *key, const char *v)
{
	if (!v)
		return 0;
	if (fx_buf_puts(b, "\"") < 0 || fx_buf_puts(b, key) < 0 || fx_buf_puts(b, "\":") < 0 ||
	    fx_buf_json_string(b, v, strlen(v)) < 0 || fx_buf_puts(b, ",") < 0)
		return -1;
	return 0;
}

static int put_int(struct fx_buf *b, int v)
{
	if (v < 0 && fx_buf_puts(b, "-") < 0)
		return -1;
	return fx_buf_put_uint(b, v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v);
}

/* v in decimal into out (a status code: the log line's message), without printf. */
static void int_text(char out[12], int v)
{
	char d[11];
	unsigned u = v < 0 ? 0u - (unsigned)v : (unsigned)v;
	size_t n = 0, o = 0;

	do {
		d[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u && n < sizeof(d));
	if (v < 0)
		out[o++] = '-';
	while (n > 0 && o < 11)
		out[o++] = d[--n];
	out[o] = '\0';
}

/* ".dddddd": a fraction of a second in microseconds (below 1,000,000), six digits. */
static int put_micros(struct fx_buf *b, unsigned long long us)
{
	char d[7];

	d[0] = '.';
	for (int i = 6; i > 0; i--) {
		d[i] = (char)('0' + us % 10);
		us /= 10;
	}
	return fx_buf_append(b, d, sizeof(d));
}

void fx_log_request(const struct fx_log_request *r)
{
	enum fx_log_level level = r->status >= 500 ? FX_LOG_ERROR : r->status >= 400 ? FX_LOG_WARNING : FX_LOG_INFO;
	const char *project = fx_config_get() ? fx_config_get()->project : "unknown";
	struct fx_buf local, *b;
	char msg[512], status[12];
	const char *parts[7];
	long long us;
	int bad;

	if (level < threshold)
		return;
	b = line_start(&local);
	bad = begin(b, level) < 0;
	/* "METHOD PATH STATUS[: message]", joined without printf (the one printf a request had). */
	int_text(status, r->status);
	parts[0] = r->method;
	parts[1] = " ";
	parts[2] = r->path;
	parts[3] = " ";
	parts[4] = status;
	parts[5] = r->message ? ": " : "";
	parts[6] = r->message ? r->message : "";
	fx_str_text_join(msg, sizeof(msg), parts, 7);
	bad |= json_field(b, "message", msg) < 0;
	bad |= fx_buf_puts(b, "\"httpRequest\":{") < 0;
	bad |= json_field(b, "requestMethod", r->method) < 0;
	bad |= json_field(b, "requestUrl", r->path) < 0;
	bad |= json_field(b, "userAgent", r->user_agent) < 0;
	bad |= json_field(b, "remoteIp", r->remote_ip) < 0;
	/* The latency in whole microseconds, without floating-point formatting. */
	us = r->latency_s > 0 ? (long long)(r->latency_s * 1e6 + 0.5) : 0;
	/* Appends, not printf: fx_buf_printf formats twice, on every request. */
	bad |= fx_buf_puts(b, "\"requestSize\":\"") < 0 || fx_buf_put_uint(b, r->request_size) < 0 ||
	       fx_buf_puts(b, "\",\"responseSize\":\"") < 0 || fx_buf_put_uint(b, r->response_size) < 0 ||
	       fx_buf_puts(b, "\",\"status\":") < 0 || put_int(b, r->status) < 0 ||
	       fx_buf_puts(b, ",\"latency\":\"") < 0 || fx_buf_put_uint(b, (unsigned long long)us / 1000000) < 0 ||
	       put_micros(b, (unsigned long long)us % 1000000) < 0 || fx_buf_puts(b, "s\"},") < 0;
	bad |= json_field(b, "requestId", r->request_id) < 0;
	bad |= json_field(b, "errorStatus", r->error) < 0;
	if (r->trace_id) {
		bad |= fx_buf_printf(b, "\"logging.googleapis.com/trace\":\"projects/%s/traces/%s\",", project,
				     r->trace_id) < 0;
		if (r->span_id)
			bad |= fx_buf_printf(b, "\"logging.googleapis.com/spanId\":\"%s\",", r->span_id) < 0;
		bad |= fx_buf_printf(b, "\"logging.googleapis.com/trace_sampled\":%s,", r->sampled ? "true" : "false") <
		       0;
	}
	finish(b, bad);
	line_end(b, &local);
}
