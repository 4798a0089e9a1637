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

#endif
