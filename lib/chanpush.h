/*
 * fx_chanpush: stock out to the sales channels. One run for an
 * organization reads its outbox "stock" entries (oldest first, a bounded
 * page at a time), the listed products' current stock and their listings,
 * pushes per listing max(0, min(available - buffer, maxQuantity)) where it
 * differs from what the channel was last told, batched per channel, and
 * deletes the entries it read once every listing they name is settled
 * (pushed, already equal, in error, or its channel gone, paused or
 * refusing our credentials). A channel that asks us to wait (429,
 * Retry-After, THROTTLED, rate-limit headers) or cannot be reached keeps
 * its entries and is not called again before its pushNotBefore, which
 * grows exponentially while failures repeat.
 * Runs of one organization never overlap: each run holds the lease
 * jobLeases/chanpush-{org} (expiring after FX_CHANPUSH_LEASE_S), so an
 * older quantity can never be pushed after a newer one.
 * Ownership: every argument is borrowed; nothing returned needs freeing.
 */
#ifndef FX_CHANPUSH_H
#define FX_CHANPUSH_H

#include "err.h"
#include "firestore.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Outbox entries read per page, and pages per run (the rest waits for the next run). */
#define FX_CHANPUSH_PAGE 300
#define FX_CHANPUSH_MAX_PAGES 20
/* A listing whose pushes failed this many times in a row goes status "error". */
#define FX_CHANPUSH_MAX_FAILURES 5
/* Backoff of a channel after a failed call: 1 s doubling per repeated failure, at most 15 min. */
#define FX_CHANPUSH_BACKOFF_BASE_MS 1000
#define FX_CHANPUSH_BACKOFF_MAX_MS (15 * 60 * 1000)
/* How long a run's lease holds when the run dies. */
#define FX_CHANPUSH_LEASE_S 300

/*
 * The quantity a listing shows: max(0, min(available - buffer,
 * max_quantity)), with max_quantity < 0 meaning no cap and a negative
 * buffer taken as 0. Saturating: never overflows.
 */
int64_t fx_chanpush_quantity(int64_t available, int64_t buffer, int64_t max_quantity);

/*
 * How long (ms) a channel waits after its failures-th consecutive failed
 * call (failures >= 1): FX_CHANPUSH_BACKOFF_BASE_MS doubled per earlier
 * failure, capped at FX_CHANPUSH_BACKOFF_MAX_MS, and never less than what
 * the channel asked for (retry_after_ms, 0 when it asked nothing; that
 * request is honoured even above the cap).
 */
int64_t fx_chanpush_backoff_ms(int failures, int64_t retry_after_ms);

/* The status of a listing whose push failed failures times in a row: "error" from FX_CHANPUSH_MAX_FAILURES, else "pending". */
const char *fx_chanpush_failed_status(int64_t failures);

/* What a run did (added to, so one struct can sum several runs). */
struct fx_chanpush_stats {
	int64_t entries_read;
	int64_t entries_deleted;
	int64_t listings_pushed; /* accepted by the channel */
	int64_t listings_unchanged; /* the channel already shows the quantity */
	int64_t listings_failed; /* refused by the channel for that item, or in a failed call */
	int64_t calls; /* push calls made */
	int64_t calls_failed;
	int64_t channels_waiting; /* skipped: before their pushNotBefore */
	int64_t channels_refused; /* credentials refused: status error */
	bool busy; /* another run of the organization holds the lease: nothing done */
};

/*
 * Pushes the organization's pending stock changes (the outbox), for every
 * channel, or only channel_id's listings when channel_id is not NULL (the
 * other channels' listings of a product keep its entry for the next full
 * run). With all_listings (channel_id required), every listing of that
 * channel is also checked against its product's stock, outbox or not (what
 * POST /v1/channels/{id}:sync and a resumed channel need). Per-channel and
 * per-listing failures are recorded on the channel and listing documents,
 * not returned: -1 only when Firestore fails (its errors, lib/firestore.h).
 * When another run holds the organization's lease, returns 0 with
 * stats->busy set and does nothing.
 */
FX_MUST_USE int fx_chanpush_run(const char *org, const char *channel_id, bool all_listings,
				struct fx_chanpush_stats *stats, struct fx_err *e);

/*
 * Raises (or refreshes) the critical channel_error insight of the channel
 * doc (one open per channel, lib/insights) after it refused our
 * credentials; message is the channel's own text (never a secret). by is
 * recorded on it. Errors are Firestore's.
 */
FX_MUST_USE int fx_chanpush_raise_refused(const char *org, const struct fx_doc *doc, const char *message,
					  const char *by, struct fx_err *e);

#endif
