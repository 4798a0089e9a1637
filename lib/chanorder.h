/*
 * fx_chanorder: a channel's order (struct fx_channel_order, as lib/channel
 * reads it from a webhook or a poll page) becomes at most one Fluxori
 * order per (channel, external id), however often and however concurrently
 * it arrives. Every channel order goes through fx_chanorder_apply.
 *
 * Documents below organizations/{org}: orders/{id} (id derived from the
 * channel and external id, created with exists=false), counters/orders
 * (the same gapless numbers as POST /v1/orders), products/{id} (stock),
 * channels/{cid}/listings (externalId -> productId), skus/{key} (SKU ->
 * productId), channels/{cid}/deliveries/{hex} {topic, at} (a delivery's
 * marker, created with exists=false in the order's own commit),
 * insights/{id} and insightKeys/oversold_{productId} (the critical
 * "oversold" insight), channels/{cid} counts.ordersImported (incremented).
 *
 * Ownership: every argument is borrowed; the result is the caller's struct.
 */
#ifndef FX_CHANORDER_H
#define FX_CHANORDER_H

#include "channel.h"
#include "err.h"
#include "model.h"

#include <stdbool.h>
#include <stddef.h>

/* Length of a channel order's id: "c" and 19 hex digits of a SHA-256. */
#define FX_CHANORDER_ID_LEN 20

/* Lines a channel order may have (as many as POST /v1/orders takes). */
#define FX_CHANORDER_MAX_LINES 100
/* Largest quantity of one line a channel order may carry. */
#define FX_CHANORDER_MAX_QUANTITY 1000000

enum fx_chanorder_outcome {
	FX_CHANORDER_CREATED, /* a new order */
	FX_CHANORDER_UPDATED, /* the existing order moved (status, or flagged) */
	FX_CHANORDER_UNCHANGED, /* the existing order already says what the channel says */
	FX_CHANORDER_DUPLICATE /* the delivery id was seen before: nothing written */
};

struct fx_chanorder_result {
	char order_id[FX_CHANORDER_ID_LEN + 1];
	char number[24]; /* "FX-000042"; "" for a duplicate whose order was not read */
	enum fx_chanorder_outcome outcome;
	bool oversold; /* some line lacks units (backorderedQuantity > 0) */
	bool needs_attention; /* some line matched no product, or a shipped status could not be followed */
};

/* "created", "updated", "unchanged", "duplicate". */
const char *fx_chanorder_outcome_name(enum fx_chanorder_outcome o);

/*
 * The order document id of (channel_id, external_id): "c" followed by the
 * first 19 lower-case hex digits of SHA-256(channel_id "\n" external_id),
 * into out (at least FX_CHANORDER_ID_LEN + 1 bytes). Deterministic, so two
 * deliveries of one order, by webhook or by poll, name the same document.
 */
void fx_chanorder_id(const char *channel_id, const char *external_id, char *out);

/*
 * The delivery marker id of delivery_id: the first 40 lower-case hex
 * digits of SHA-256(delivery_id), into out (at least 41 bytes).
 */
void fx_chanorder_delivery_key(const char *delivery_id, char *out);

/*
 * Creates or updates the Fluxori order of o, received from channel ch of
 * organization org (d: the webhook's delivery, its id, topic and how long
 * it may wait for the order queue; NULL when polled). In one Firestore transaction (queued on the organization's
 * order lock like POST /v1/orders):
 *
 *  - a delivery_id whose marker exists: DUPLICATE, nothing written;
 *  - no order yet: lines are mapped to products through the channel's
 *    listings (externalId == line's listing_key), then by SKU; a line
 *    neither finds keeps productId null and flags needsAttention. Each
 *    mapped line reserves what its product has available and backorders
 *    the rest (backorderedQuantity; the order oversold, and a critical
 *    "oversold" insight for the product unless one is open). Totals are
 *    the channel's; VAT derived with the organization's rate. The number
 *    comes from the organization's counter. A CANCELLED order first seen
 *    is created cancelled and reserves nothing; one with no line left
 *    (Takealot leaves cancelled items out) creates nothing: UNCHANGED,
 *    the delivery marked seen. CREATED.
 *  - an order exists: CANCELLED cancels it when pending or confirmed
 *    (releasing what its lines hold); SHIPPED and DELIVERED move it through
 *    confirm, ship, deliver as far as the channel says, shipping only when
 *    no line lacks units (else needsAttention is set and the status left);
 *    anything else changes nothing. UPDATED or UNCHANGED.
 *
 * The delivery marker {topic, at} is created in the same commit, so a
 * delivery that failed half-way is not marked seen. Two concurrent calls
 * for one order make one order: the loser's transaction retries, sees the
 * order and updates it. -1 with 400 INVALID_ARGUMENT when o is not an
 * order the contract takes (empty external id, no line unless cancelled, over
 * FX_CHANORDER_MAX_LINES lines, a quantity outside 1..FX_CHANORDER_MAX_QUANTITY,
 * negative money), nothing written; Firestore's errors otherwise.
 */
/* A webhook delivery as fx_chanorder_apply records it. */
struct fx_chanorder_delivery {
	const char *id; /* the channel's delivery id (1..256 bytes) */
	const char *
		topic; /* the channel's topic header, stored on the marker; NULL or not 1..128 printable ASCII: "webhook" */
	long queue_wait_ms; /* longest wait for the organization's order queue, then 503 UNAVAILABLE with Retry-After; 0: 20 s, 409 ABORTED */
};

FX_MUST_USE int fx_chanorder_apply(const char *org, const struct fx_channel *ch, const struct fx_channel_order *o,
				   const struct fx_chanorder_delivery *d, struct fx_chanorder_result *out,
				   struct fx_err *e);

#endif
