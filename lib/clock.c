#include "clock.h"

#include <errno.h>
#include <sys/random.h>

long fx_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long fx_clock_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void fx_clock_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

	if (ms <= 0)
		return;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

long fx_clock_jitter_ms(long base)
{
	unsigned r = 0;

	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (unsigned)fx_clock_ms();
	return base / 2 + (long)(r % (unsigned)(base + 1));
}

void fx_clock_deadline(long ms, struct timespec *out)
{
	clock_gettime(CLOCK_REALTIME, out);
	out->tv_sec += ms / 1000;
	out->tv_nsec += ms % 1000 * 1000000;
	if (out->tv_nsec >= 1000000000) {
		out->tv_sec++;
		out->tv_nsec -= 1000000000;
	}
}
