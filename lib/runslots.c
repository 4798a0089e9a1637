#include "runslots.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

static int slots; /* 0: no limit */
static atomic_int running; /* joined threads not parked and not in a blocking wait */
static int parked, tokens; /* under lock: parked threads, wake-ups given to them not yet taken */
static bool stopped; /* under lock */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static _Thread_local bool joined;
static _Thread_local int depth; /* nested fx_blocking_begin */

void fx_runslots_init(int n)
{
	slots = n > 0 ? n : 0;
}

void fx_runslots_join(void)
{
	joined = true;
	atomic_fetch_add(&running, 1);
}

/* Called with lock held: a slot is free and a thread is parked: hand the slot over. */
static void hand_over(void)
{
	if (parked > tokens && atomic_load(&running) < slots) {
		tokens++;
		atomic_fetch_add(&running, 1); /* counted for the woken thread now, so one slot wakes one thread */
		pthread_cond_signal(&cv);
	}
}

void fx_runslots_leave(void)
{
	if (!joined)
		return;
	joined = false;
	pthread_mutex_lock(&lock);
	atomic_fetch_sub(&running, 1);
	hand_over();
	pthread_mutex_unlock(&lock);
}

void fx_runslots_check(void)
{
	if (!slots || atomic_load(&running) <= slots)
		return;
	pthread_mutex_lock(&lock);
	if (!stopped && atomic_load(&running) > slots) {
		atomic_fetch_sub(&running, 1);
		parked++;
		while (tokens == 0 && !stopped)
			pthread_cond_wait(&cv, &lock);
		parked--;
		if (tokens > 0)
			tokens--; /* running was counted by hand_over */
		else
			atomic_fetch_add(&running, 1); /* woken by the stop */
	}
	pthread_mutex_unlock(&lock);
}

void fx_runslots_stop(void)
{
	pthread_mutex_lock(&lock);
	stopped = true;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&lock);
}

void fx_blocking_begin(void)
{
	if (!joined || !slots || depth++ > 0)
		return;
	pthread_mutex_lock(&lock);
	atomic_fetch_sub(&running, 1);
	hand_over();
	pthread_mutex_unlock(&lock);
}

void fx_blocking_end(void)
{
	if (!joined || !slots || depth == 0 || --depth > 0)
		return;
	atomic_fetch_add(&running, 1);
}

int fx_runslots_parked(void)
{
	int n;

	pthread_mutex_lock(&lock);
	n = parked - tokens;
	pthread_mutex_unlock(&lock);
	return n;
}
