/*
 * fx_keylock: serialises work on one key (a document, an organization)
 * across every worker process of the container (a shared table in
 * FLUXORI_METRICS_DIR; without it, inside this process). Firestore
 * transactions on one document from many threads at once mostly abort and
 * retry; taking the key's lock first turns that contention into a short
 * queue. Keys map onto a fixed set of stripes, so two keys may share a
 * lock: hold at most one at a time. A holder that dies releases its lock.
 */
#ifndef FX_KEYLOCK_H
#define FX_KEYLOCK_H

#include "err.h"

void fx_keylock(const char *key);
void fx_keyunlock(const char *key);

/* Like fx_keylock but gives up after ms milliseconds: 0 locked, -1 timed out. */
FX_MUST_USE int fx_keylock_timed(const char *key, long ms);

/*
 * A queue on one key must not wait out a backend's outage once per member:
 * when the work under the lock failed because a backend is unavailable
 * (503), the holder says so as it releases the lock, and for the next
 * FX_KEYLOCK_OUTAGE_MS the ones queued behind it answer 503 at once
 * instead of each calling the same dead backend in turn. The next caller
 * after that asks the backend again.
 */
#define FX_KEYLOCK_OUTAGE_MS 1000

/*
 * With key's lock held: -1 with 503 UNAVAILABLE (Retry-After 1) when the
 * last holder of key released it less than FX_KEYLOCK_OUTAGE_MS ago after
 * failing for want of a backend; 0 otherwise. The caller then unlocks with
 * fx_keyunlock (the mark stays as it was).
 */
FX_MUST_USE int fx_keylock_outage(const char *key, struct fx_err *e);

/* Releases key's lock; failed (NULL after success) with code 503 marks the key for fx_keylock_outage. */
void fx_keyunlock_after(const char *key, const struct fx_err *failed);

#endif
