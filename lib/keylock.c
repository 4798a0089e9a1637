#include "keylock.h"

#include <pthread.h>
#include <stdint.h>

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
