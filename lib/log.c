#include "log.h"

#include "buf.h"
#include "str.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 16384

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
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	out[n] = '\0';
	/* 19 + 5 bytes always fit 32: the milliseconds cannot be refused. */
	if (fx_str_add(out, 32, &n, ".%03dZ", (int)(ts.tv_nsec / 1000000)) < 0)
		out[n] = '\0';
}

static void begin(struct fx_buf *b, enum fx_log_level level)
{
	char now[32];

	fx_log_now(now);
	fx_buf_printf(b, "{\"severity\":\"%s\",\"time\":\"%s\",", severity[level], now);
}

static void finish(struct fx_buf *b)
{
	ssize_t r;

	fx_buf_puts(b, "\"logging.googleapis.com/labels\":{\"group\":");
	fx_buf_json_string(b, log_group, strlen(log_group));
	if (fx_buf_puts(b, "}}\n") < 0) {
		/* Over the cap: keep the line valid JSON by truncating hard. */
		b->len = 0;
		fx_buf_puts(b, "{\"severity\":\"ERROR\",\"message\":\"log line too long\"}\n");
	}
	r = write(2, b->data, b->len);
	(void)r;
}

void fx_log(enum fx_log_level level, const char *fmt, ...)
{
	char msg[2048];
	struct fx_buf b;
	va_list ap;

	if (level < threshold)
		return;
	va_start(ap, fmt);
	fx_str_vtext(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fx_buf_init(&b, LINE_MAX_BYTES);
	begin(&b, level);
	fx_buf_puts(&b, "\"message\":");
	fx_buf_json_string(&b, msg, strlen(msg));
	fx_buf_puts(&b, ",");
	finish(&b);
	fx_buf_cleanup(&b);
}

static void json_field(struct fx_buf *b, const char *key, const char *v)
{
	if (!v)
		return;
	fx_buf_printf(b, "\"%s\":", key);
	fx_buf_json_string(b, v, strlen(v));
	fx_buf_puts(b, ",");
}

void fx_log_request(const struct fx_log_request *r)
{
	enum fx_log_level level = r->status >= 500 ? FX_LOG_ERROR : r->status >= 400 ? FX_LOG_WARNING : FX_LOG_INFO;
	const char *project = fx_cfg() ? fx_cfg()->project : "unknown";
	struct fx_buf b;
	char msg[512];

	if (level < threshold)
		return;
	fx_buf_init(&b, LINE_MAX_BYTES);
	begin(&b, level);
	fx_str_text(msg, sizeof(msg), "%s %s %d%s%s", r->method, r->path, r->status, r->message ? ": " : "",
		    r->message ? r->message : "");
	json_field(&b, "message", msg);
	fx_buf_puts(&b, "\"httpRequest\":{");
	json_field(&b, "requestMethod", r->method);
	json_field(&b, "requestUrl", r->path);
	json_field(&b, "userAgent", r->user_agent);
	json_field(&b, "remoteIp", r->remote_ip);
	fx_buf_printf(&b, "\"requestSize\":\"%zu\",\"responseSize\":\"%zu\",\"status\":%d,\"latency\":\"%.6fs\"},",
		      r->request_size, r->response_size, r->status, r->latency_s);
	json_field(&b, "requestId", r->request_id);
	json_field(&b, "errorStatus", r->error);
	if (r->trace_id) {
		fx_buf_printf(&b, "\"logging.googleapis.com/trace\":\"projects/%s/traces/%s\",", project, r->trace_id);
		if (r->span_id)
			fx_buf_printf(&b, "\"logging.googleapis.com/spanId\":\"%s\",", r->span_id);
		fx_buf_printf(&b, "\"logging.googleapis.com/trace_sampled\":%s,", r->sampled ? "true" : "false");
	}
	finish(&b);
	fx_buf_cleanup(&b);
}
