/* lib/clock: monotonic milliseconds, sleeping, backoff jitter and timed-wait deadlines. */
#include "clock.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdbool.h>

Test(clock, milliseconds_never_go_back_and_a_sleep_lasts_at_least_its_length)
{
	long before = fx_clock_ms(), after;

	cr_assert_geq(fx_clock_ms(), before);
	fx_clock_sleep_ms(30);
	after = fx_clock_ms();
	cr_assert_geq(after - before, 30, "slept %ld ms", after - before);
	fx_clock_sleep_ms(0);
	fx_clock_sleep_ms(-5);
	cr_assert_geq(fx_clock_ms(), after, "no sleep for zero or less, and no hang");
}

Test(clock, jitter_stays_within_half_and_one_and_a_half_of_the_base_and_varies)
{
	bool low = false, high = false;

	for (int i = 0; i < 2000; i++) {
		long w = fx_clock_jitter_ms(1000);

		cr_assert(w >= 500 && w <= 1500, "%ld", w);
		low |= w < 900;
		high |= w > 1100;
	}
	cr_assert(low && high, "2000 draws cover both ends of the range");
	cr_assert_eq(fx_clock_jitter_ms(0), 0);
	cr_assert(fx_clock_jitter_ms(1) <= 1);
}

Test(clock, a_deadline_is_normalised_and_ends_a_timed_lock_wait)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	struct timespec d, now;

	for (long ms = 0; ms < 2000; ms += 7) {
		fx_clock_deadline(ms, &d);
		cr_assert(d.tv_nsec >= 0 && d.tv_nsec < 1000000000, "%ld ms: tv_nsec %ld", ms, d.tv_nsec);
	}
	fx_clock_deadline(1500, &d);
	clock_gettime(CLOCK_REALTIME, &now);
	cr_assert_geq((d.tv_sec - now.tv_sec) * 1000 + (d.tv_nsec - now.tv_nsec) / 1000000, 1490,
		      "1.5 s from now (less what this line took)");
	pthread_mutex_lock(&m);
	fx_clock_deadline(20, &d);
	cr_assert_neq(pthread_mutex_timedlock(&m, &d), 0, "a held lock times out at the deadline");
	pthread_mutex_unlock(&m);
}
