/*
 * fx_whdeliver: the webhook-deliver job for one organization (issue 17).
 *
 * 1. Fan-out: the outbox's "event" entries (lib/webhook), a bounded page at
 *    a time, each become one delivery document per enabled subscription
 *    of its type, organizations/{org}/webhooks/{wid}/deliveries/{eventId}
 *    {eventId, type, resource, seq, sub, body (the exact text sent on every
 *    attempt), pending, status (pending|delivered|failed), attempt, nextAt,
 *    createdAt (the event's), statusCode, latencyMs, error, at,
 *    webhookId, organizationId}, written in the commit that deletes the
 *    entry (precondition: it still exists), so an event is fanned out once
 *    or not at all. Entries no subscription wants are just deleted.
 * 2. Delivery. A fresh read of the outbox after the fan-out finds the
 *    events committed meanwhile: their resources deliver nothing this run
 *    (an event committed before one that was fanned out is always among
 *    them or fanned out, so an earlier event of a resource never arrives
 *    after a later one); more than FX_WHDELIVER_LEFT_MAX left: nothing is
 *    delivered this run (fanout_incomplete). Per subscription, pending
 *    deliveries are read in (seq, sub) order, pages of FX_WHDELIVER_PAGE;
 *    per resource only the first pending one is tried: one not yet due, or
 *    failing now, holds back every later one of its resource for this run.
 *    A POST through lib/egress (https only, every connected address
 *    checked, no redirect followed, answer read up to
 *    FX_WHDELIVER_MAX_ANSWER, 10 s timeout) signed with the secret (and the
 *    previous one within 24 h of a rotation). 2xx: delivered (also when
 *    its body runs past the cap: only the body's first bytes are read, and
 *    they are ignored). Anything
 *    else: backoff (fx_webhook_backoff_s) until the give-up window, then
 *    status failed; the subscription remembers since when it fails and is
 *    disabled with a reason after the disable window. A subscription
 *    stops for the run after FX_WHDELIVER_RUN_FAILURES failures (a dead
 *    receiver costs one timeout per run, not one per resource).
 * The outcomes of a page's attempts commit together after it: a crash
 * before that commit repeats those deliveries (the same ids), loses none.
 * Runs of one organization never overlap (lease jobLeases/whdeliver-{org}).
 * Memory is bounded by the page sizes, not by the backlog.
 * Ownership: every argument is borrowed; nothing returned needs freeing.
 */
#ifndef FX_WHDELIVER_H
#define FX_WHDELIVER_H

#include "err.h"

#include <stdbool.h>
#include <stdint.h>

#define FX_WHDELIVER_FANOUT_PAGE 200
#define FX_WHDELIVER_FANOUT_PAGES 50
#define FX_WHDELIVER_LEFT_MAX 1000
#define FX_WHDELIVER_PAGE 100
#define FX_WHDELIVER_PAGES 50
#define FX_WHDELIVER_RUN_FAILURES 3
#define FX_WHDELIVER_MAX_ANSWER (64 * 1024)
#define FX_WHDELIVER_LEASE_S 120
/*
 * A run stops fanning out and starting deliveries after this long (the
 * scheduler calls again each minute), so it ends well within its lease:
 * the budget, one 10 s delivery and a page's commit.
 */
#define FX_WHDELIVER_RUN_BUDGET_S 45

struct fx_whdeliver_stats {
	int64_t events_read;
	int64_t deliveries_created;
	int64_t delivered;
	int64_t failed; /* attempts that failed (retried later) */
	int64_t given_up;
	int64_t disabled; /* subscriptions disabled by this run */
	bool fanout_incomplete; /* over FX_WHDELIVER_LEFT_MAX events left in the outbox: nothing delivered this run */
	bool busy; /* another run holds the organization's lease */
};

/*
 * Runs both steps for organization org (see above), adding to stats. -1
 * only when Firestore fails (what a delivery or a subscription does is
 * recorded on its documents, not returned).
 */
FX_MUST_USE int fx_whdeliver_run(const char *org, struct fx_whdeliver_stats *stats, struct fx_err *e);

#endif
