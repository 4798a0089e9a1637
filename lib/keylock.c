#include "keylock.h"

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#define STRIPES 256

static pthread_mutex_t stripes[STRIPES];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init(void)
{
	for (int i = 0; i < STRIPES; i++)
		pthread_mutex_init(&stripes[i], NULL);
}

static pthread_mutex_t *stripe(const char *key)
{
	uint64_t h = 1469598103934665603ull;

	pthread_once(&once, init);
	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	return &stripes[h % STRIPES];
}

void fx_keylock(const char *key)
{
	pthread_mutex_lock(stripe(key));
}

void fx_keyunlock(const char *key)
{
	pthread_mutex_unlock(stripe(key));
}

int fx_keylock_timed(const char *key, long ms)
{
	struct timespec deadline;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += ms / 1000;
	deadline.tv_nsec += ms % 1000 * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	return pthread_mutex_timedlock(stripe(key), &deadline) == 0 ? 0 : -1;
}
