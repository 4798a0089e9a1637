/*
 * fx_lease: one holder at a time across every instance, through a
 * Firestore document {runId, expiresAt (Unix seconds), takenAt}: a job's
 * run (jobLeases/{job}-{scope}) or an organization's stock push
 * (jobLeases/chanpush-{org}). It is taken in a transaction when absent or
 * expired; only its holder releases it; a holder that dies leaves it to
 * expire. Ownership: the caller's struct; nothing is allocated.
 */
#ifndef FX_LEASE_H
#define FX_LEASE_H

#include "err.h"

#include <stdbool.h>
#include <stdint.h>

struct fx_lease {
	const char *rel; /* the document's path relative to the database */
	const char *holder; /* who takes it: a run id */
	int64_t seconds; /* how long a taken lease lasts unless released */
	/* set by fx_lease_take: */
	bool busy; /* another holder has it */
	int64_t busy_until; /* its expiresAt, when busy */
	char busy_holder[64]; /* its runId when busy ("" unknown or too long) */
};

/* Takes l's lease for l->holder. 0 with l->busy false: taken; 0 with l->busy true: held by another; -1 with e set when Firestore fails. */
FX_MUST_USE int fx_lease_take(struct fx_lease *l, struct fx_err *e);

/* Frees l's lease when l->holder still holds it (an expired lease another took is left alone). -1 with e set when Firestore fails. */
FX_MUST_USE int fx_lease_release(struct fx_lease *l, struct fx_err *e);

#endif
