/* lib/log.c: the time of a line and the request log line's fields. */
#include "log.h"

#include <criterion/criterion.h>
#include <criterion/redirect.h>
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
