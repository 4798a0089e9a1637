/*
 * fx_clock: the process's clocks for timeouts, backoff and waits. Elapsed
 * time is measured on CLOCK_MONOTONIC in milliseconds (immune to the wall
 * clock being set); pthread timed waits want absolute CLOCK_REALTIME
 * deadlines, which fx_clock_deadline makes. Wall-clock timestamps for
 * documents are fx_ts_now (ts.h). Nothing here fails, allocates or keeps
 * state.
 */
#ifndef FX_CLOCK_H
#define FX_CLOCK_H

#include <time.h>

/* Milliseconds on CLOCK_MONOTONIC: only differences between two readings mean anything. */
long fx_clock_ms(void);

/* Microseconds on CLOCK_MONOTONIC, for a call's duration in the metrics. */
long fx_clock_us(void);

/* Sleeps ms milliseconds (nothing for ms <= 0), resuming after a signal until all of it has passed. */
void fx_clock_sleep_ms(long ms);

/*
 * A wait for retry backoff: base +- 50 %, uniformly from getrandom (the
 * monotonic clock when that fails), so clients that failed together do not
 * retry together. base must be at least 0.
 */
long fx_clock_jitter_ms(long base);

/* The CLOCK_REALTIME instant ms milliseconds from now, normalised, for pthread_*_timedlock and friends. */
void fx_clock_deadline(long ms, struct timespec *out);

#endif
