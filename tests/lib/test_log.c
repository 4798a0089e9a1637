/* lib/log.c: the time of a line and the request log line's fields. */
#include "log.h"

#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static void redirect(void)
{
	cr_redirect_stderr();
}

/* The second part made once a second is the current second's, in UTC, with the milliseconds after it. */
Test(log, now_is_rfc3339_utc_with_milliseconds_of_the_current_second)
{
	for (int i = 0; i < 3; i++) {
		char now[32], want0[32], want1[32];
		struct timespec t0, t1;
		struct tm tm;

		/* The clock fx_log_now reads: time() is the coarse clock, a tick behind at a second's turn. */
		clock_gettime(CLOCK_REALTIME, &t0);
		fx_log_now(now);
		clock_gettime(CLOCK_REALTIME, &t1);
		strftime(want0, sizeof(want0), "%Y-%m-%dT%H:%M:%S.", gmtime_r(&t0.tv_sec, &tm));
		strftime(want1, sizeof(want1), "%Y-%m-%dT%H:%M:%S.", gmtime_r(&t1.tv_sec, &tm));
		cr_assert_eq(strlen(now), 24, "%s", now);
		cr_assert(strncmp(now, want0, 20) == 0 || strncmp(now, want1, 20) == 0, "%s (expected %s or %s)", now,
			  want0, want1);
		for (int d = 20; d < 23; d++)
			cr_assert(now[d] >= '0' && now[d] <= '9', "%s", now);
		cr_assert_eq(now[23], 'Z', "%s", now);
		if (i == 1) { /* the next second: the cached part must follow the clock */
			struct timespec pause = {1, 50000000};

			nanosleep(&pause, NULL);
		}
	}
}

static const char *logged(double latency_s)
{
	static char line[4096];
	struct fx_log_request r = {
		.method = "GET", .path = "/health", .request_id = "r1", .status = 200, .latency_s = latency_s};
	size_t n;

	fx_log_init("test", FX_LOG_INFO);
	fx_log_request(&r);
	fflush(stderr);
	n = fread(line, 1, sizeof(line) - 1, cr_get_redirected_stderr());
	line[n] = '\0';
	return line;
}

Test(log, request_latency_is_seconds_with_six_decimals, .init = redirect)
{
	const char *line = logged(1.2345675);

	cr_assert_not_null(strstr(line, "\"latency\":\"1.234568s\""), "%s", line);
	cr_assert_not_null(strstr(line, "\"message\":\"GET /health 200\""), "%s", line);
	cr_assert_not_null(strstr(line, "\"requestMethod\":\"GET\",\"requestUrl\":\"/health\""), "%s", line);
}

Test(log, a_sub_millisecond_latency_keeps_its_microseconds, .init = redirect)
{
	const char *line = logged(0.000014);

	cr_assert_not_null(strstr(line, "\"latency\":\"0.000014s\""), "%s", line);
}

Test(log, request_sizes_and_status_are_written_in_decimal, .init = redirect)
{
	static char line[4096];
	struct fx_log_request r = {.method = "POST",
				   .path = "/v1/orders",
				   .request_id = "r2",
				   .status = 201,
				   .request_size = 1048576,
				   .response_size = 0,
				   .latency_s = 12.5};
	size_t n;

	fx_log_init("test", FX_LOG_INFO);
	fx_log_request(&r);
	fflush(stderr);
	n = fread(line, 1, sizeof(line) - 1, cr_get_redirected_stderr());
	line[n] = '\0';
	cr_assert_not_null(strstr(line, "\"requestSize\":\"1048576\",\"responseSize\":\"0\",\"status\":201,"
					"\"latency\":\"12.500000s\"},"),
			   "%s", line);
	cr_assert_not_null(strstr(line, "\"message\":\"POST /v1/orders 201\""), "%s", line);
}

/* Lines written while fd 2 is a temporary file; returns the file's text (malloc'd). */
static char *capture_begin(int *saved)
{
	FILE *f = tmpfile();

	cr_assert_not_null(f);
	fflush(stderr);
	*saved = dup(2);
	cr_assert(*saved >= 0 && dup2(fileno(f), 2) == 2);
	return (char *)f;
}

static char *capture_end(char *handle, int saved)
{
	FILE *f = (FILE *)handle;
	long n;
	char *text;

	fflush(stderr);
	cr_assert_eq(dup2(saved, 2), 2);
	close(saved);
	n = ftell(f);
	cr_assert(n >= 0);
	rewind(f);
	text = malloc((size_t)n + 1);
	cr_assert_not_null(text);
	cr_assert_eq(fread(text, 1, (size_t)n, f), (size_t)n);
	text[n] = '\0';
	fclose(f);
	return text;
}

#define LOG_THREADS 8
#define LOG_LINES 500

static void *log_many(void *arg)
{
	int t = (int)(intptr_t)arg;
	char big[8000];

	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';

	for (int i = 0; i < LOG_LINES; i++) {
		char path[64];
		struct fx_log_request r = {.method = "GET", .path = path, .request_id = "r", .status = 200};

		snprintf(path, sizeof(path), "/t%d/%d", t, i);
		/* Every 50th line is long (over what a thread keeps), and one in 7 a plain event line. */
		if (i % 50 == 49)
			r.user_agent = big;
		fx_log_request(&r);
		if (i % 7 == 0)
			fx_log_info("event t%d/%d", t, i);
	}
	return NULL;
}

/* Each thread's lines all arrive, whole (one JSON object a line) and in the thread's order. */
Test(log, lines_of_many_threads_arrive_whole_and_in_order_per_thread)
{
	pthread_t th[LOG_THREADS];
	int next[LOG_THREADS] = {0}, nextev[LOG_THREADS] = {0}, saved, lines = 0;
	char *h, *text, *line, *save = NULL;

	fx_log_init("test", FX_LOG_INFO);
	h = capture_begin(&saved);
	for (int t = 0; t < LOG_THREADS; t++)
		cr_assert_eq(pthread_create(&th[t], NULL, log_many, (void *)(intptr_t)t), 0);
	for (int t = 0; t < LOG_THREADS; t++)
		pthread_join(th[t], NULL);
	text = capture_end(h, saved);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		int t, i;
		const char *m;

		lines++;
		cr_assert(line[0] == '{' &&
				  strstr(line, "\"logging.googleapis.com/labels\":{\"group\":\"test\"}}") ==
					  line + strlen(line) -
						  strlen("\"logging.googleapis.com/labels\":{\"group\":\"test\"}}"),
			  "not a whole line: %.200s", line);
		if ((m = strstr(line, "\"message\":\"GET /t")) != NULL) {
			cr_assert_eq(sscanf(m, "\"message\":\"GET /t%d/%d 200\"", &t, &i), 2, "%.200s", line);
			cr_assert(t >= 0 && t < LOG_THREADS);
			cr_assert_eq(i, next[t], "thread %d: line %d after %d", t, i, next[t] - 1);
			next[t]++;
		} else {
			m = strstr(line, "\"message\":\"event t");
			cr_assert_not_null(m, "%.200s", line);
			cr_assert_eq(sscanf(m, "\"message\":\"event t%d/%d\"", &t, &i), 2, "%.200s", line);
			cr_assert(t >= 0 && t < LOG_THREADS);
			cr_assert_eq(i, nextev[t], "thread %d: event %d after %d", t, i, nextev[t] - 7);
			cr_assert(next[t] == i + 1, "thread %d: event %d out of order with its request lines", t, i);
			nextev[t] += 7;
		}
	}
	for (int t = 0; t < LOG_THREADS; t++)
		cr_assert_eq(next[t], LOG_LINES, "thread %d: %d of %d request lines", t, next[t], LOG_LINES);
	cr_assert_eq(lines, LOG_THREADS * (LOG_LINES + (LOG_LINES + 6) / 7));
	free(text);
}

/* The message "METHOD PATH STATUS: message" is cut at 511 bytes at a whole character, as before. */
Test(log, a_long_message_is_cut_at_a_whole_character, .init = redirect)
{
	static char path[700], line[8192];
	struct fx_log_request r = {.method = "GET", .path = path, .status = 404, .message = "not found"};
	const char *m, *end;
	size_t n;

	/* "GET " and 503 bytes of 'p', then 'é' (2 bytes) at 507 and 509; the next one would end at byte 512: dropped. */
	memset(path, 'p', 503);
	for (size_t i = 503; i + 2 < sizeof(path); i += 2)
		memcpy(path + i, "\xc3\xa9", 2);
	fx_log_init("test", FX_LOG_INFO);
	fx_log_request(&r);
	fflush(stderr);
	n = fread(line, 1, sizeof(line) - 1, cr_get_redirected_stderr());
	line[n] = '\0';
	m = strstr(line, "\"message\":\"GET ppp");
	cr_assert_not_null(m, "%s", line);
	end = strchr(m + 11, '"');
	cr_assert_not_null(end);
	cr_assert_eq((size_t)(end - (m + 11)), 511, "%.*s", (int)(end - m), m);
	cr_assert(memcmp(end - 5, "p\xc3\xa9\xc3\xa9", 5) == 0);
}
