/*
 * runslots: how many of a worker's serving threads run at once.
 *
 * A worker has many threads (16 deployed) so that requests waiting on Google
 * do not hold up the others; but a thread that sleeps in epoll_wait between
 * requests must be woken for the next one, and that wake-up (in nginx, which
 * writes the request, and in the worker, which is scheduled in) was a third
 * of /health's CPU. So only as many threads as there are slots
 * (FLUXORI_WORKER_RUNNING; 0, the default, sets none) take requests; the
 * others are parked. A thread about to wait on something other
 * than its CPU (a call to Google, a key lock, a back-off sleep) gives its
 * slot to a parked thread for the wait (fx_blocking_begin/end); a thread
 * that finds more threads running than slots at the top of its loop parks.
 * A fast request is then served by a thread that is already awake and finds
 * it ready in epoll_wait: no wake-up at all under load. A slot is handed
 * over only when no running thread waits for the next request
 * (fx_runslots_idle/busy): at the wait itself when none does, else when the
 * last idle one takes a request. Handing it over at every wait cost a
 * wake-up and a park per call to Google, 6-14 % of those routes' CPU
 * (docs/performance.md).
 *
 * Only threads that joined (fx_runslots_join) count; fx_blocking_* on any
 * other thread, or with no slots set up, do nothing.
 */
#ifndef FX_RUNSLOTS_H
#define FX_RUNSLOTS_H

/* Sets the number of slots (>= 1); 0 lets every thread run (no parking). Before any thread joins. */
void fx_runslots_init(int slots);

/* The calling thread is a serving thread and runs now. */
void fx_runslots_join(void);

/* The calling serving thread ends (it no longer runs). */
void fx_runslots_leave(void);

/*
 * At the top of a serving thread's loop: parks the thread while more
 * threads run than there are slots, until a slot frees up or
 * fx_runslots_stop. Returns at once in the common case (one atomic load).
 */
void fx_runslots_check(void);

/* The calling serving thread is about to wait for the next request (epoll_wait). */
void fx_runslots_idle(void);

/* The calling serving thread has its next request (after fx_runslots_idle). */
void fx_runslots_busy(void);

/* Wakes every parked thread and parks none from now on (the worker stops). */
void fx_runslots_stop(void);

/* The calling thread is about to wait outside its CPU: its slot may go to a parked thread. Nests. */
void fx_blocking_begin(void);

/* The wait fx_blocking_begin announced is over: the thread runs again (possibly over the slots until its next check). */
void fx_blocking_end(void);

/* Threads parked now (tests, metrics). */
int fx_runslots_parked(void);

#endif
