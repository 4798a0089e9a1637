/*
 * fakechannel: the three sales channels as one small HTTP server on
 * 127.0.0.1 for tests (there is no emulator for any of them). It speaks
 * what lib/channel calls, in the shapes the channels document:
 *   Shopify      POST /admin/api/{version}/graphql.json (X-Shopify-Access-Token):
 *                inventorySetQuantities as in 2026-04 and later (an @idempotent
 *                key required, a key seen before answers its first answer again;
 *                changeFromQuantity required on every quantity, checked against
 *                the quantity the fake holds unless null), the orders query
 *                (orders(first:) honoured), { shop { name } };
 *                THROTTLED with extensions.cost when throttled.
 *   WooCommerce  /wp-json/wc/v3/... (HTTP Basic): POST products/batch,
 *                POST products/{id}/variations/batch, GET orders?modified_after=,
 *                GET system_status; 401 and 429 + Retry-After.
 *   Takealot     /v2/... (Authorization: Key): POST /v2/offers/batch,
 *                GET /v2/sales, GET /v2/offers; x-RateLimit-* on every answer,
 *                429 when throttled.
 * Any path is served for any type, so one server stands in for all three
 * (point settings.baseUrl of each channel at fakechannel_url).
 *
 * Every connection gets its own thread (a push job and a webhook test may
 * call at once); each answer closes its connection. The server records
 * every quantity set (per channel type and external id: last value, how
 * many times, when), holds the orders a poll returns, and can be told to
 * fail, throttle, hang or refuse credentials. Client-side helpers build a
 * webhook delivery exactly as each channel sends it (body + signed headers).
 * Everything here is for tests: failures abort the test.
 */
#ifndef FX_TEST_FAKECHANNEL_H
#define FX_TEST_FAKECHANNEL_H

#include "channel.h"

#include <stdbool.h>
#include <stddef.h>

/* The credentials the fake accepts until told otherwise. */
#define FAKECHANNEL_SHOPIFY_TOKEN "shpat_fake0123456789"
#define FAKECHANNEL_WOO_KEY "ck_fake0123456789"
#define FAKECHANNEL_WOO_SECRET "cs_fake0123456789"
#define FAKECHANNEL_TAKEALOT_KEY "takealot-fake-0123456789"
/* Takealot's x-RateLimit-Limit per window of FAKECHANNEL_TAKEALOT_WINDOW_S. */
#define FAKECHANNEL_TAKEALOT_LIMIT 60
#define FAKECHANNEL_TAKEALOT_WINDOW_S 60

struct fakechannel;

/* Starts the server on an ephemeral port; NULL when it cannot. */
struct fakechannel *fakechannel_start(void);

/* Stops it (a hanging answer ends at once) and frees everything; accepts NULL. */
void fakechannel_stop(struct fakechannel *f);

/* "http://127.0.0.1:PORT", valid until fakechannel_stop. */
const char *fakechannel_url(const struct fakechannel *f);

/* ---- what the fake is told ---- */

/* While refused, every call answers the type's 401 (Shopify/Takealot) or 401 WooCommerce error. */
void fakechannel_refuse_credentials(struct fakechannel *f, bool refuse);

/*
 * The WooCommerce store has no product (or variation) external_id ("812",
 * "812:815"): a batch answers that item with WooCommerce's own
 * woocommerce_rest_product_invalid_id error and the others as usual.
 */
void fakechannel_woocommerce_unknown(struct fakechannel *f, const char *external_id);

/* The next n calls answer status (a 5xx; the channel's error body) instead of doing anything. */
void fakechannel_fail(struct fakechannel *f, int n, int status);

/*
 * For ms from now every call is throttled: Shopify 200 with THROTTLED and
 * a throttleStatus that says the bucket is empty, WooCommerce 429 with
 * Retry-After, Takealot 429 with x-RateLimit-Remaining: 0 and Reset. 0 ends it.
 */
void fakechannel_throttle(struct fakechannel *f, long ms);

/* From now every call waits ms before answering (0: answer at once again). */
void fakechannel_hang(struct fakechannel *f, long ms);

/*
 * Waits until n calls are hanging at once (a readiness signal for tests of
 * concurrent or timed-out calls); false when deadline_ms passed first.
 */
bool fakechannel_wait_hanging(struct fakechannel *f, int n, long deadline_ms);

/* The channel's own quantity of an offer changed (a sale on the channel): Shopify compares against it. */
void fakechannel_set_quantity(struct fakechannel *f, enum fx_channel_type t, const char *external_id, long long q);

/*
 * Adds (or replaces, by external id) an order the poll returns: json is
 * fakechannel_order_json(t, o, true) or the channel's own shape; updated_at
 * (RFC 3339) decides whether a poll "changed since" includes it.
 */
void fakechannel_add_order(struct fakechannel *f, enum fx_channel_type t, const char *external_id,
			   const char *updated_at, const char *json);

/* ---- what the fake saw ---- */

/* The quantity last set for external_id (*q), or false when none was ever set. */
bool fakechannel_quantity(struct fakechannel *f, enum fx_channel_type t, const char *external_id, long long *q);

/* How many times a quantity was set for external_id. */
unsigned fakechannel_sets(struct fakechannel *f, enum fx_channel_type t, const char *external_id);

/* fx_clock_ms() of the last set for external_id, -1 when none. */
long fakechannel_set_at_ms(struct fakechannel *f, enum fx_channel_type t, const char *external_id);

/* Calls of a kind so far: "push", "poll", "test", "refused", "throttled", "failed", or NULL for all. */
unsigned fakechannel_calls(struct fakechannel *f, const char *kind);

/* fx_clock_ms() of each push call answered (not refused, throttled or failed) for type t, oldest first; returns how many (at most max copied). */
size_t fakechannel_push_times(struct fakechannel *f, enum fx_channel_type t, long *out, size_t max);

/* ---- client side: deliveries as the channel sends them ---- */

struct fakechannel_line {
	const char *line_id; /* the channel's line id (digits) */
	const char *listing_key; /* Shopify inventory item id, WooCommerce "PID" or "PID:VID", Takealot offer id */
	const char *sku; /* may be NULL */
	const char *title;
	long long quantity;
	long long unit_price_cents; /* Takealot: whole rands are written, cents dropped */
};

struct fakechannel_order {
	const char *external_id; /* digits */
	const char *number; /* NULL: "#<id>" (Shopify), the id otherwise */
	/* The channel's own status word; NULL: a new open order. Shopify: "paid", "fulfilled",
	 * "cancelled", "refunded"; WooCommerce: its order statuses; Takealot: a sale status. */
	const char *status;
	const char *updated_at; /* RFC 3339 */
	const char *first_name, *last_name, *email;
	const struct fakechannel_line *lines;
	size_t nlines;
	long long shipping_cents;
};

/*
 * The order as the channel writes it, malloc'd: poll false gives a webhook
 * body (Shopify's REST order, WooCommerce's order, Takealot's
 * {order_id, sales:[...]}), poll true the node a poll answer carries
 * (Shopify's GraphQL Order; the others are the same). Totals are the sum
 * of the lines plus shipping.
 */
char *fakechannel_order_json(enum fx_channel_type t, const struct fakechannel_order *o, bool poll);

/*
 * The header lines ("Name: value", NULL-terminated, malloc'd; free with
 * fakechannel_headers_free) the channel sends with body: its signature
 * (HMAC-SHA256 under secret over the raw bytes: base64 for Shopify and
 * WooCommerce, hex for Takealot), delivery id, topic and the rest. topic
 * NULL: the type's order-update topic. The Content-Type line is included.
 */
char **fakechannel_webhook_headers(enum fx_channel_type t, const char *secret, const char *topic,
				   const char *delivery_id, const char *body, size_t len);
void fakechannel_headers_free(char **h);

#endif
