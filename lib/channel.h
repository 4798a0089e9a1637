/*
 * fx_channel: the three sales channels' protocols (Shopify GraphQL Admin
 * API, WooCommerce REST v3, Takealot Seller API), behind one interface:
 * verify and read a webhook delivery, poll orders changed since a cursor,
 * push available quantities in batches, test credentials. Facts from
 * ../shared/CHANNELS.md. Everything a channel says is turned into the
 * normalized structs below; nothing here touches Firestore.
 * Ownership: strings in the structs point into memory from the caller's
 * arena (or into the channel's own strings); nothing needs freeing except
 * through that arena.
 *
 * The lead's sketch (session 4) fixed the shapes of struct fx_channel,
 * fx_channel_order, fx_channel_line, fx_channel_push_item and
 * fx_channel_limits: other modules code against them; add, never rename.
 *
 * Each network call is split in two halves that do not touch the network,
 * so recorded answers test them: fx_channel_*_call builds the request
 * (struct fx_channel_call) and fx_channel_*_answer reads the answer (a
 * struct fx_httpc_resp, as fx_egress_do gives it). fx_channel_push,
 * fx_channel_poll_orders and fx_channel_test join them through lib/egress.
 *
 * Identifiers, as a listing's externalId names them and a line's
 * listing_key carries them:
 *   Shopify      the numeric inventory item id ("43729076"); a listing may
 *                also hold the gid ("gid://shopify/InventoryItem/43729076").
 *                Webhook lines carry no inventory item id, so their
 *                listing_key is the variant id and they match by SKU.
 *   WooCommerce  the product id ("812"), or for a variation its parent and
 *                its own id joined by a colon ("812:815"): a variation's
 *                stock is set through /products/{parent}/variations/batch.
 *   Takealot     the offer id ("91625339").
 *
 * Order states (enum fx_channel_order_state), per channel:
 *   Shopify      cancelled_at set, or financial status voided: CANCELLED;
 *                financial status refunded: RETURNED; fulfillment status
 *                fulfilled: SHIPPED; anything else (partial, unfulfilled,
 *                restocked, null): OPEN. The poll reads the same from
 *                cancelledAt, displayFinancialStatus, displayFulfillmentStatus.
 *                A line's quantity is what is left after edits and refunds
 *                (current_quantity / currentQuantity); a line with none left
 *                is left out, and an order with no line left is CANCELLED
 *                (RETURNED when refunded).
 *   WooCommerce  pending, processing, on-hold (and any custom status): OPEN;
 *                completed: SHIPPED; cancelled, failed: CANCELLED;
 *                refunded: RETURNED. A checkout-draft (block checkout, not
 *                paid yet) is no order: IGNORED in a webhook, skipped by a poll.
 *
 * Webhook topics read as orders: Shopify orders/create, orders/updated,
 * orders/cancelled, orders/fulfilled, orders/paid, orders/partially_fulfilled;
 * WooCommerce order.created, order.updated, order.restored; Takealot any
 * event whose body carries order_id or sales. Every other signed topic is
 * FX_CHANNEL_EVENT_IGNORED (answer 200: a 4xx makes the sender retry and,
 * in the end, drop the subscription).
 *   Takealot     per sale (item) status: "Cancelled..." CANCELLED,
 *                "Returned..." RETURNED, "Delivered" DELIVERED, "Shipped..."
 *                SHIPPED, anything else OPEN. An order is CANCELLED when
 *                every item is, else its cancelled items are left out of
 *                lines and the order takes the least advanced state of the
 *                rest (OPEN < SHIPPED < DELIVERED < RETURNED).
 *
 * Money: Shopify and WooCommerce decimal strings are read exactly
 * (fx_num_cents, no floating point); Takealot whole rands x 100.
 */
#ifndef FX_CHANNEL_H
#define FX_CHANNEL_H

#include "arena.h"
#include "err.h"
#include "httpc.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum fx_channel_type { FX_CHANNEL_SHOPIFY, FX_CHANNEL_WOOCOMMERCE, FX_CHANNEL_TAKEALOT };

/* "shopify", "woocommerce", "takealot"; -1 from fx_channel_type_parse for anything else. */
const char *fx_channel_type_name(enum fx_channel_type t);
int fx_channel_type_parse(const char *s);

/* A connected channel with its secrets decrypted (fx_seal), as a call needs it. */
struct fx_channel {
	enum fx_channel_type type;
	const char *id; /* channel document id */
	const char *organization_id;
	const char
		*base_url; /* https://{shopDomain}, siteUrl, Takealot's API host, or settings.baseUrl (demo-* only) */
	bool allow_private; /* demo-* project: loopback/private base URLs allowed (fx_egress) */
	const char *location_id; /* shopify settings.locationId (gid://shopify/Location/N) */
	const char *warehouse_id; /* takealot settings.merchantWarehouseId, may be NULL */
	/* credentials (plain text, never logged) */
	const char *access_token; /* shopify */
	const char *consumer_key, *consumer_secret; /* woocommerce */
	const char *api_key; /* takealot */
	const char *webhook_secret; /* may be NULL: no webhooks accepted */
};

/* One line of a channel order, as the channel sold it. */
struct fx_channel_line {
	const char *external_line_id; /* the channel's line id */
	const char *listing_key; /* what a listing's externalId matches: Shopify inventoryItemId
				    (or variant id when absent), WooCommerce variation_id or product_id,
				    Takealot offer_id; NULL when the channel gave none */
	const char *sku; /* may be NULL */
	const char *title;
	int64_t quantity; /* ≥ 1 */
	int64_t unit_price_cents; /* VAT-inclusive, converted from the channel's decimal/rands */
};

/* Fluxori's view of a channel order's state. */
enum fx_channel_order_state {
	FX_CHANNEL_ORDER_OPEN, /* to be fulfilled: a new order is created pending */
	FX_CHANNEL_ORDER_SHIPPED, /* fulfilled/shipped by the channel */
	FX_CHANNEL_ORDER_DELIVERED,
	FX_CHANNEL_ORDER_CANCELLED,
	FX_CHANNEL_ORDER_RETURNED,
};

struct fx_channel_order {
	const char *external_id; /* the channel's order id, non-empty */
	const char *number; /* the channel's own order name/number, for people; may be NULL */
	enum fx_channel_order_state state;
	const char *updated_at; /* RFC 3339 as the channel sent it, may be NULL */
	const char *customer_name, *customer_email, *customer_phone; /* name never NULL ("" when absent) */
	const char *address_line1, *address_line2, *address_city, *address_province, *address_postal_code,
		*address_country; /* may be NULL */
	struct fx_channel_line *lines;
	size_t nlines; /* >= 1, except 0 for a CANCELLED or RETURNED order (removed or cancelled lines are left out) */
	int64_t subtotal_cents, shipping_cents, total_cents; /* from the channel, never recomputed */
};

/* What a webhook delivery is, once verified and read. */
enum fx_channel_event { FX_CHANNEL_EVENT_ORDER, FX_CHANNEL_EVENT_PING, FX_CHANNEL_EVENT_IGNORED };

struct fx_channel_delivery {
	const char *delivery_id; /* X-Shopify-Webhook-Id, X-WC-Webhook-Delivery-ID, X-Takealot-Delivery */
	const char *topic;
	enum fx_channel_event event;
	struct fx_channel_order order; /* when event is FX_CHANNEL_EVENT_ORDER */
};

/* Looks up a request header by name (case-insensitive); NULL when absent. */
typedef const char *(*fx_channel_header_fn)(void *ctx, const char *name);

/*
 * Verifies a webhook's signature over the raw body (before any parsing,
 * constant-time compare: Shopify and WooCommerce base64, Takealot hex
 * HMAC-SHA256 under ch->webhook_secret), then reads it. WooCommerce's
 * unsigned creation ping (form body webhook_id=N) is FX_CHANNEL_EVENT_PING.
 * -1 with 401 UNAUTHENTICATED when the signature is missing or wrong (or
 * no secret is set), 400 INVALID_ARGUMENT when a signed body is not an
 * order the contract can take (message names what is wrong).
 */
FX_MUST_USE int fx_channel_read_webhook(const struct fx_channel *ch, fx_channel_header_fn header, void *hctx,
					const char *body, size_t len, struct fx_arena *arena,
					struct fx_channel_delivery *out, struct fx_err *e);

/* What the channel said about its limits on the last call. */
struct fx_channel_limits {
	int64_t retry_after_ms; /* > 0: do not call again before this (429 Retry-After, THROTTLED, x-RateLimit-Reset) */
	bool auth_refused; /* 401/403: credentials refused */
	char message[256]; /* the channel's own error text, "" when none */
};

/*
 * One page of orders changed since cursor (the channel's updated-at
 * filter; NULL: the last 24 h). Calls each(order) for every order; sets
 * next_cursor (arena) to resume from and *more when another page waits.
 * -1 on a call failure with limits filled (e as fx_channel_push_answer;
 * 503 UNAVAILABLE unreachable or timed out, 400 for a refused address), or
 * the first -1 each returned. The cursor is opaque text this module wrote
 * ("v1|since|page|latest seen"): store it as it is. Takealot filters sales
 * by order date, not by change, so its poll re-reads the last 7 days.
 */
typedef int (*fx_channel_order_fn)(void *ctx, const struct fx_channel_order *o, struct fx_err *e);
FX_MUST_USE int fx_channel_poll_orders(const struct fx_channel *ch, const char *cursor, struct fx_arena *arena,
				       fx_channel_order_fn each, void *ctx, const char **next_cursor, bool *more,
				       struct fx_channel_limits *limits, struct fx_err *e);

/* One quantity to set on the channel. */
struct fx_channel_push_item {
	const char *external_id; /* the listing's externalId */
	const char *sku; /* the product's SKU (Takealot may address by SKU) */
	int64_t quantity; /* max(0, min(available - buffer, maxQuantity)) */
	int64_t compare_quantity; /* last pushed quantity (Shopify changeFromQuantity), -1 unknown: no compare */
	/* filled by fx_channel_push: */
	bool ok;
	bool stale; /* Shopify CHANGE_FROM_QUANTITY_STALE: the channel's quantity moved since compare_quantity */
	char error[256]; /* the channel's message for this item when !ok */
};

/* Largest batch the channel takes in one call: Shopify 250, WooCommerce 100, Takealot per CHANNELS.md. */
size_t fx_channel_batch_max(enum fx_channel_type t);

/*
 * Pushes n (≤ fx_channel_batch_max) quantities in one call. 0 when the
 * call was answered (each item's ok/error says how it went); -1 when the
 * whole call failed (unreachable, 429/THROTTLED, 401/403, 5xx), limits
 * filled. WooCommerce makes one call per variation parent besides the
 * products' call (fx_channel_push_calls): when one of them fails the rest
 * are not sent, -1, and only the items of calls answered before have ok
 * set. Every item's ok starts false. limits->retry_after_ms is the longest
 * any answer asked for, also on success (Takealot's last request of a window).
 */
FX_MUST_USE int fx_channel_push(const struct fx_channel *ch, struct fx_channel_push_item *items, size_t n,
				struct fx_channel_limits *limits, struct fx_err *e);

/*
 * Calls a cheap read with the credentials (POST :test): *ok and the
 * channel's own text in message ("connected ..." when ok; an unreachable
 * or refused address is *ok false with the reason, still 0). -1 only when
 * the call cannot be built.
 */
FX_MUST_USE int fx_channel_test(const struct fx_channel *ch, bool *ok, char *message, size_t message_len,
				struct fx_err *e);

/*
 * A listing's externalId in the one form order lines carry as listing_key
 * (the header's Identifiers paragraph): Shopify the inventory item number
 * (a gid://shopify/InventoryItem/N is cut to N), WooCommerce "PID" or
 * "PID:VID", Takealot the offer id, all positive decimal numbers. In the
 * arena; NULL when external_id is not in the type's form (a 400 for the
 * caller) or the arena is full. Store listings through it, so a line
 * matches its listing however the merchant pasted the id.
 */
FX_MUST_USE const char *fx_channel_listing_key(enum fx_channel_type t, const char *external_id, struct fx_arena *arena);

/* One HTTP call to a channel, built without sending it. Strings are in the caller's arena. */
#define FX_CHANNEL_CALL_MAX_HEADERS 6
struct fx_channel_call {
	const char *method;
	const char *url;
	const char *headers[FX_CHANNEL_CALL_MAX_HEADERS + 1]; /* "Name: value" lines, NULL-terminated */
	const char *body; /* NULL for none */
	size_t body_len;
	size_t *items; /* push: the indexes of the items this call sets */
	size_t nitems;
};

/*
 * Builds the calls that push items[0..n) (n <= fx_channel_batch_max):
 * Shopify one GraphQL inventorySetQuantities (Admin API 2026-07: name
 * "available", reason "correction", changeFromQuantity = compare_quantity
 * or null when unknown, a fresh @idempotent key per call: CHANNELS.md's
 * compareQuantity is gone since 2026-07 and the key is required since 2026-04);
 * WooCommerce one POST /products/batch for plain products and one POST
 * /products/{parent}/variations/batch per parent; Takealot one POST
 * /v2/offers/batch. *calls (arena) holds *ncalls calls, each naming its
 * items. -1 with 400 INVALID_ARGUMENT when an item's external id is not in
 * the channel's form (the header's Identifiers paragraph); nothing is built.
 */
FX_MUST_USE int fx_channel_push_calls(const struct fx_channel *ch, const struct fx_channel_push_item *items, size_t n,
				      struct fx_arena *arena, struct fx_channel_call **calls, size_t *ncalls,
				      struct fx_err *e);

/*
 * Reads the answer to one push call: 0 when the channel answered the
 * call (each of its items' ok/error set from the per-item results:
 * Shopify userErrors by their field index, WooCommerce per-item "error",
 * Takealot per-offer results); -1 when the whole call failed (limits
 * filled: 401/403 auth_refused, 429 or THROTTLED retry_after_ms, 5xx),
 * e 503 UNAVAILABLE (401/403: 401 UNAUTHENTICATED, 429: 429 RESOURCE_EXHAUSTED).
 * Limits are filled from the answer's headers either way.
 */
FX_MUST_USE int fx_channel_push_answer(const struct fx_channel *ch, const struct fx_channel_call *call,
				       const struct fx_httpc_resp *resp, struct fx_channel_push_item *items,
				       struct fx_channel_limits *limits, struct fx_err *e);

/*
 * Builds the call that reads one page of orders changed since cursor (an
 * opaque text this module wrote as next_cursor, or NULL: the last 24 h
 * before now_secs). Shopify a GraphQL orders query (updated_at >= since,
 * sorted by UPDATED_AT, 5 orders of up to 40 lines a page: Shopify's
 * 1000-point query cost cap; an order with more lines is skipped by the
 * poll and comes in by its webhooks only); WooCommerce GET
 * /orders?modified_after=&orderby=modified&order=asc&per_page=50&page=;
 * Takealot GET /v2/sales?filters=start_date:...;end_date:...&page_number=&page_size=100.
 * -1 with 400 INVALID_ARGUMENT for a cursor this module did not write.
 */
FX_MUST_USE int fx_channel_poll_call(const struct fx_channel *ch, const char *cursor, int64_t now_secs,
				     struct fx_arena *arena, struct fx_channel_call *call, struct fx_err *e);

/*
 * Reads one page answering fx_channel_poll_call(cursor): calls each(order)
 * in the channel's order (stopping at the first -1, returned as is), sets
 * *next_cursor and *more. -1 on a failed call (limits as
 * fx_channel_push_answer) or 502 BAD_GATEWAY for an answer that is not
 * the channel's shape.
 */
FX_MUST_USE int fx_channel_poll_answer(const struct fx_channel *ch, const char *cursor, int64_t now_secs,
				       const struct fx_httpc_resp *resp, struct fx_arena *arena,
				       fx_channel_order_fn each, void *ctx, const char **next_cursor, bool *more,
				       struct fx_channel_limits *limits, struct fx_err *e);

/* Builds the cheap read fx_channel_test makes: Shopify `{ shop { name } }`, WooCommerce GET /system_status?_fields=environment, Takealot GET /v2/offers?page_size=1. */
FX_MUST_USE int fx_channel_test_call(const struct fx_channel *ch, struct fx_arena *arena, struct fx_channel_call *call,
				     struct fx_err *e);

/* Reads its answer: *ok for a 2xx that is the channel's shape, else message gets the channel's own error text. */
void fx_channel_test_answer(const struct fx_channel *ch, const struct fx_httpc_resp *resp, bool *ok, char *message,
			    size_t message_len);

/*
 * Fills limits from an answer's status, headers and body: 401/403
 * auth_refused; Retry-After (seconds or an HTTP date, against now_secs);
 * Takealot x-RateLimit-Remaining 0 with x-RateLimit-Reset (seconds to
 * wait); Shopify THROTTLED with extensions.cost (the wait until the bucket
 * holds the requested cost, at restoreRate); a 429 with nothing else says
 * 1 s. message gets the channel's error text.
 */
void fx_channel_limits_read(const struct fx_channel *ch, const struct fx_httpc_resp *resp, int64_t now_secs,
			    struct fx_channel_limits *limits);

#endif
