/* lib/runslots.c: how many serving threads run at once. */
#include "runslots.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

static atomic_int passed; /* threads through their check */
static atomic_bool holding; /* threads through their check keep running until it is false */

static void *second(void *arg)
{
	struct timespec step = {0, 1000000};

	(void)arg;
	fx_runslots_join();
	fx_runslots_check();
	atomic_fetch_add(&passed, 1);
	while (atomic_load(&holding))
		nanosleep(&step, NULL);
	fx_runslots_leave();
	return NULL;
}

/* Waits (10 s at most) until n threads are parked; false if they never are. */
static bool parked_within(int n)
{
	struct timespec step = {0, 1000000};

	for (int i = 0; i < 10000; i++) {
		if (fx_runslots_parked() == n)
			return true;
		nanosleep(&step, NULL);
	}
	return false;
}

static bool passed_within(int n)
{
	struct timespec step = {0, 1000000};

	for (int i = 0; i < 10000; i++) {
		if (atomic_load(&passed) == n)
			return true;
		nanosleep(&step, NULL);
	}
	return false;
}

Test(runslots, a_thread_over_the_slots_parks_until_a_running_one_waits_on_google)
{
	pthread_t t;

	fx_runslots_init(1);
	fx_runslots_join();
	pthread_create(&t, NULL, second, NULL);
	cr_assert(parked_within(1), "the second thread parks: one slot, taken");
	cr_assert_eq(atomic_load(&passed), 0);
	fx_blocking_begin();
	cr_assert(passed_within(1), "a blocking wait gives the slot to the parked thread");
	pthread_join(t, NULL);
	fx_blocking_end();
	cr_assert_eq(fx_runslots_parked(), 0);
	fx_runslots_leave();
}

Test(runslots, nested_blocking_waits_give_the_slot_once)
{
	pthread_t t[2];

	atomic_store(&holding, true);
	fx_runslots_init(1);
	fx_runslots_join();
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, second, NULL);
	cr_assert(parked_within(2));
	fx_blocking_begin();
	fx_blocking_begin(); /* a key lock, then Google under it: still one slot */
	cr_assert(passed_within(1), "one parked thread runs");
	cr_assert(parked_within(1), "the other stays parked");
	cr_assert_eq(atomic_load(&passed), 1);
	fx_blocking_end();
	fx_blocking_end();
	cr_assert_eq(fx_runslots_parked(), 1, "two threads run again, over the one slot: nobody else may");
	atomic_store(&holding, false);
	fx_runslots_leave(); /* once both have left, the slot goes to the parked one */
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	cr_assert_eq(atomic_load(&passed), 2);
}

Test(runslots, the_stop_wakes_every_parked_thread)
{
	pthread_t t[3];

	fx_runslots_init(1);
	fx_runslots_join();
	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, second, NULL);
	cr_assert(parked_within(3));
	fx_runslots_stop();
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	cr_assert_eq(atomic_load(&passed), 3);
	fx_runslots_leave();
}

Test(runslots, without_slots_no_thread_parks)
{
	pthread_t t[3];

	fx_runslots_init(0);
	fx_runslots_join();
	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, second, NULL);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	cr_assert_eq(atomic_load(&passed), 3);
	cr_assert_eq(fx_runslots_parked(), 0);
	fx_runslots_leave();
}

Test(runslots, blocking_on_a_thread_that_never_joined_changes_nothing)
{
	pthread_t t;

	fx_runslots_init(1);
	fx_blocking_begin(); /* this thread is no serving thread */
	fx_runslots_join();
	pthread_create(&t, NULL, second, NULL);
	cr_assert(parked_within(1));
	fx_blocking_end();
	fx_runslots_stop();
	pthread_join(t, NULL);
	fx_runslots_leave();
}

static atomic_bool idle_waiting; /* the idle thread has said it waits for a request */
static atomic_bool request_came; /* the idle thread takes one now */

/* A serving thread that waits for the next request (epoll_wait), then serves one until holding ends. */
static void *idle_thread(void *arg)
{
	struct timespec step = {0, 1000000};

	(void)arg;
	fx_runslots_join();
	fx_runslots_check();
	fx_runslots_idle();
	atomic_store(&idle_waiting, true);
	while (!atomic_load(&request_came))
		nanosleep(&step, NULL);
	fx_runslots_busy();
	while (atomic_load(&holding))
		nanosleep(&step, NULL);
	fx_runslots_leave();
	return NULL;
}

static bool idle_within(void)
{
	struct timespec step = {0, 1000000};

	for (int i = 0; i < 10000; i++) {
		if (atomic_load(&idle_waiting))
			return true;
		nanosleep(&step, NULL);
	}
	return false;
}

Test(runslots, a_wait_on_google_wakes_nobody_while_a_running_thread_waits_for_requests)
{
	pthread_t idle, parked;

	atomic_store(&holding, true);
	fx_runslots_init(2);
	fx_runslots_join();
	pthread_create(&idle, NULL, idle_thread, NULL);
	cr_assert(idle_within());
	pthread_create(&parked, NULL, second, NULL);
	cr_assert(parked_within(1), "two slots, both taken: the third thread parks");
	fx_blocking_begin();
	cr_assert_eq(fx_runslots_parked(), 1, "the idle thread takes the next request: no wake-up for the wait");
	atomic_store(&request_came, true);
	cr_assert(passed_within(1), "once the idle thread is busy, the free slot goes to the parked thread");
	cr_assert_eq(fx_runslots_parked(), 0);
	fx_blocking_end();
	atomic_store(&holding, false);
	pthread_join(idle, NULL);
	pthread_join(parked, NULL);
	fx_runslots_leave();
}

Test(runslots, a_wait_on_google_hands_its_slot_over_when_no_thread_waits_for_requests)
{
	pthread_t t;

	fx_runslots_init(1);
	fx_runslots_join();
	fx_runslots_idle();
	fx_runslots_busy(); /* this thread took a request: nobody waits for the next */
	pthread_create(&t, NULL, second, NULL);
	cr_assert(parked_within(1));
	fx_blocking_begin();
	cr_assert(passed_within(1), "the slot goes to the parked thread at once");
	pthread_join(t, NULL);
	fx_blocking_end();
	fx_runslots_leave();
}
