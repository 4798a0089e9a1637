/*
 * fx_chanpoll: reconciliation of channel orders by polling. For each
 * active channel of an organization (or one channel), asks the channel for
 * the orders changed since its cursor (orderCursor on the channel document,
 * stored after each page; none: the channel's default window) and applies
 * each through fx_chanorder_apply, the same path as the webhooks, so a
 * webhook that never came is caught and both converge on one order. A
 * channel whose poll fails records lastError (refused credentials: status
 * error and a critical channel_error insight) and the others go on.
 * Ownership: every argument is borrowed.
 */
#ifndef FX_CHANPOLL_H
#define FX_CHANPOLL_H

#include "err.h"

#include <stdint.h>

/* Pages polled per channel and run (the cursor resumes the rest next run), and channels per run. */
#define FX_CHANPOLL_MAX_PAGES 20
#define FX_CHANPOLL_MAX_CHANNELS 200

/* What a run did (added to). */
struct fx_chanpoll_stats {
	int64_t channels; /* polled (active and opened) */
	int64_t channels_failed; /* a call or an order failed: see the channel's lastError */
	int64_t orders_seen;
	int64_t orders_created;
	int64_t orders_updated;
	int64_t orders_failed; /* refused by fx_chanorder_apply as not acceptable (4xx) */
};

/*
 * Polls the organization's active channels, or only channel_id when not
 * NULL (a channel that is not active is skipped: stats->channels stays 0;
 * a missing one is 404 NOT_FOUND). The cursor moves only past pages whose
 * orders were all applied or refused as malformed: a Firestore failure
 * stops that channel where it was. -1 only when Firestore fails reading
 * the channels or writing a cursor (its errors, lib/firestore.h).
 */
FX_MUST_USE int fx_chanpoll_run(const char *org, const char *channel_id, struct fx_chanpoll_stats *stats,
				struct fx_err *e);

#endif
