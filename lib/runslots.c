#include "runslots.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

static int slots; /* 0: no limit */
static atomic_int running; /* joined threads not parked and not in a blocking wait */
static int parked, tokens; /* under lock: parked threads, wake-ups given to them not yet taken */
static atomic_int waiting; /* parked - tokens, readable without the lock */
static atomic_int idle; /* running threads waiting for the next request (fx_runslots_idle) */
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
		atomic_store(&waiting, parked - tokens);
		atomic_fetch_add(&running, 1); /* counted for the woken thread now, so one slot wakes one thread */
		pthread_cond_signal(&cv);
	}
}

static void hand_over_locked(void)
{
	pthread_mutex_lock(&lock);
	hand_over();
	pthread_mutex_unlock(&lock);
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
		atomic_store(&waiting, parked - tokens);
		while (tokens == 0 && !stopped)
			pthread_cond_wait(&cv, &lock);
		parked--;
		if (tokens > 0)
			tokens--; /* running was counted by hand_over */
		else
			atomic_fetch_add(&running, 1); /* woken by the stop */
		atomic_store(&waiting, parked - tokens);
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
	atomic_fetch_sub(&running, 1);
	/*
	 * A running thread waiting in epoll_wait takes the next request: a
	 * parked thread woken now would only wait beside it, and park again
	 * when this one is back (a wake-up and a park per call to Google,
	 * 6-14 % of those routes' CPU). The slot is handed over when the last
	 * idle thread takes a request (fx_runslots_busy) instead.
	 */
	if (atomic_load(&idle) > 0)
		return;
	hand_over_locked();
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

void fx_runslots_idle(void)
{
	if (joined && slots)
		atomic_fetch_add(&idle, 1);
}

void fx_runslots_busy(void)
{
	if (!joined || !slots)
		return;
	/*
	 * The last idle thread takes a request: the next one finds nobody
	 * waiting for it. A slot that a wait on Google left free (running
	 * below slots) now goes to a parked thread. Sequentially consistent
	 * with fx_blocking_begin: of a thread leaving its slot and the last
	 * idle thread taking a request, at least one sees the other.
	 */
	if (atomic_fetch_sub(&idle, 1) == 1 && atomic_load(&waiting) > 0 && atomic_load(&running) < slots)
		hand_over_locked();
}
