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
void fx_keylock_release(const char *key);

/* Like fx_keylock but gives up after ms milliseconds: 0 locked, -1 timed out. */
FX_MUST_USE int fx_keylock_timed(const char *key, long ms);

/*
 * A queue on one key must not wait out a backend's outage once per member:
 * when the work under the lock failed because a backend is unavailable
 * (503), the holder says so as it releases the lock, and the ones that were
 * already queued behind it then answer 503 at once instead of each calling
 * the same dead backend in turn. A caller that comes later asks the backend
 * itself.
 */

/*
 * With key's lock held (taken by this thread's last fx_keylock or
 * fx_keylock_timed): -1 with 503 UNAVAILABLE (Retry-After 1) when a holder
 * of key failed for want of a backend while this thread waited for the
 * lock; 0 otherwise. The caller then unlocks with fx_keylock_release.
 */
FX_MUST_USE int fx_keylock_outage(const char *key, struct fx_err *e);

/* Releases key's lock; failed (NULL after success) with code 503 marks the key for fx_keylock_outage. */
void fx_keylock_release_after(const char *key, const struct fx_err *failed);

#endif
