/*
 * lib/chanorder against Google's Cloud Firestore emulator (this binary
 * starts it, as tests/lib/test_insights.c does): a channel order becomes
 * one Fluxori order with the channel's totals, lines mapped through
 * listings then SKU, unknown lines kept and flagged, short lines accepted
 * and flagged with an insight, a replayed delivery writing nothing,
 * cancellations releasing what was held, shipments followed only when
 * covered, and two threads applying the same order at once making one
 * order, reserved once.
 */
#include "chanorder.h"

#include "emulator.h"
#include "firestore.h"
#include "fsquery.h"
#include "log.h"
#include "map.h"
#include "model.h"
#include "sig.h"
#include "stock.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <stdlib.h>

#define PORT_ENV "FLUXORI_TEST_CHANORDER_FIRESTORE" /* host:port, set once the emulator answers */

const struct emu_fixture emu_fixture = {"chanorder", EMU_ALONE, EMU_FIRESTORE, PORT_ENV, NULL};

static struct emu_client emu;

static void setup(void)
{
	fx_log_init("test_chanorder", FX_LOG_ERROR + 1);
	emu_firestore_use(&emu, PORT_ENV);
}

TestSuite(ids);

Test(ids, the_order_id_is_c_and_19_hex_digits_of_sha256_of_channel_newline_external_id)
{
	char id[FX_CHANORDER_ID_LEN + 1], again[FX_CHANORDER_ID_LEN + 1], other[FX_CHANORDER_ID_LEN + 1];

	/* printf 'ch1\n1001' | sha256sum: ce3104aab6cce706048ffb0a22dfd446... */
	fx_chanorder_id("ch1", "1001", id);
	cr_assert_str_eq(id, "cce3104aab6cce706048");
	fx_chanorder_id("ch1", "1001", again);
	cr_assert_str_eq(id, again);
	fx_chanorder_id("ch2", "1001", other);
	cr_assert_str_neq(id, other, "another channel's order 1001 is another order");
	cr_assert(fx_model_id_valid(id));
}

Test(ids, the_delivery_key_is_40_hex_digits_of_sha256)
{
	char k[41];

	/* printf 'delivery-1' | sha256sum */
	fx_chanorder_delivery_key("delivery-1", k);
	cr_assert_str_eq(k, "0b220df1969115139ffebb337981298d243a44f8");
}

TestSuite(apply, .init = setup, .timeout = 240);

struct org {
	char id[FX_ID_LEN + 1];
	char cid[FX_ID_LEN + 1];
	char p[3][FX_ID_LEN + 1]; /* listed (L-1), by SKU (S-2), spare (S-3) */
	struct fx_channel ch;
};

static void put(const char *rel, struct fx_value *fields)
{
	struct fx_err e;

	fx_err_clear(&e);
	cr_assert_eq(fx_firestore_create(rel, fields, NULL, &e), 0, "create %s: %s", rel, e.message);
	fx_value_cleanup(fields);
}

static void seed_product(struct org *o, int i, const char *sku, int64_t on_hand)
{
	struct fx_value f = {0};
	char rel[300];

	fx_model_id_new(o->p[i]);
	fx_value_map(&f);
	fx_map_set_str(&f, "sku", sku);
	fx_map_set_str(&f, "name", sku);
	fx_map_set_str(&f, "status", "active");
	fx_map_set_int(&f, "priceCents", 999);
	fx_stock_set(&f, on_hand, 0, 0);
	fx_map_set_str(&f, "organizationId", o->id);
	snprintf(rel, sizeof(rel), "organizations/%s/products/%s", o->id, o->p[i]);
	put(rel, &f);
	fx_value_map(&f);
	fx_map_set_str(&f, "productId", o->p[i]);
	fx_map_set_str(&f, "sku", sku);
	fx_map_set_str(&f, "organizationId", o->id);
	snprintf(rel, sizeof(rel), "organizations/%s/skus/s_%s", o->id, sku); /* SKUs here are lower-case */
	put(rel, &f);
}

/* An organization (VAT 15 %), a Takealot channel, p0 listed as offer 9001, p1 and p2 known by SKU only. */
static void seed(struct org *o, int64_t stock0, int64_t stock1)
{
	struct fx_value f = {0};
	char rel[300], lid[FX_ID_LEN + 1];

	memset(o, 0, sizeof(*o));
	fx_model_id_new(o->id);
	fx_model_id_new(o->cid);
	fx_value_map(&f);
	fx_map_set_str(&f, "name", "Merchant");
	fx_map_set_int(&f, "vatRateBps", 1500);
	snprintf(rel, sizeof(rel), "organizations/%s", o->id);
	put(rel, &f);
	seed_product(o, 0, "l-1", stock0);
	seed_product(o, 1, "s-2", stock1);
	seed_product(o, 2, "s-3", 100);
	fx_model_id_new(lid);
	fx_value_map(&f);
	fx_map_set_str(&f, "productId", o->p[0]);
	fx_map_set_str(&f, "externalId", "9001");
	fx_map_set_str(&f, "organizationId", o->id);
	snprintf(rel, sizeof(rel), "organizations/%s/channels/%s/listings/%s", o->id, o->cid, lid);
	put(rel, &f);
	o->ch.type = FX_CHANNEL_TAKEALOT;
	o->ch.id = o->cid;
	o->ch.organization_id = o->id;
}

static int64_t stock_of(struct org *o, int i, const char *field)
{
	struct fx_doc d = {0};
	struct fx_err e;
	char rel[300];
	int64_t n;

	snprintf(rel, sizeof(rel), "organizations/%s/products/%s", o->id, o->p[i]);
	fx_err_clear(&e);
	cr_assert_eq(fx_firestore_get(rel, &d, &e), 0, "%s", e.message);
	n = fx_stock(&d, field);
	fx_firestore_doc_cleanup(&d);
	return n;
}

static void read_order(struct org *o, const char *id, struct fx_doc *d)
{
	struct fx_err e;
	char rel[300];

	snprintf(rel, sizeof(rel), "organizations/%s/orders/%s", o->id, id);
	fx_err_clear(&e);
	cr_assert_eq(fx_firestore_get(rel, d, &e), 0, "%s", e.message);
}

static size_t count(struct org *o, const char *collection, const char *field, const char *value)
{
	struct fx_query *q = fx_fsquery_new(collection, false);
	struct fx_doc *docs = NULL;
	struct fx_err e;
	char parent[200];
	size_t n = 0;

	snprintf(parent, sizeof(parent), "organizations/%s", o->id);
	fx_err_clear(&e);
	if (field)
		cr_assert_eq(fx_fsquery_where_str(q, field, "==", value, &e), 0);
	cr_assert_eq(fx_firestore_query(parent, q, NULL, &docs, &n, &e), 0, "%s", e.message);
	fx_fsquery_free(q);
	fx_firestore_docs_free(docs, n);
	return n;
}

/* A Takealot order: 3 x offer 9001 (listed), 2 x SKU s-2, 1 x an offer and SKU nobody knows. */
struct corder {
	struct fx_channel_line lines[3];
	struct fx_channel_order o;
};

static void corder(struct corder *c, const char *external_id, enum fx_channel_order_state state, int64_t q0, int64_t q1)
{
	memset(c, 0, sizeof(*c));
	c->lines[0] = (struct fx_channel_line){"li-1", "9001", NULL, "Listed thing", q0, 15000};
	c->lines[1] = (struct fx_channel_line){"li-2", "7777", "S-2", "Thing by SKU", q1, 2500};
	c->lines[2] = (struct fx_channel_line){"li-3", "5555", "NOPE-9", "Unknown thing", 1, 1000};
	c->o.external_id = external_id;
	c->o.number = "TAK-42";
	c->o.state = state;
	c->o.customer_name = "Thandi";
	c->o.lines = c->lines;
	c->o.nlines = 3;
	c->o.subtotal_cents = q0 * 15000 + q1 * 2500 + 1000;
	c->o.shipping_cents = 0;
	c->o.total_cents = c->o.subtotal_cents - 500; /* a channel discount: never recomputed */
}

/* The delivery of id (NULL: polled, no delivery) in *dv. */
static const struct fx_chanorder_delivery *hook(const char *id, struct fx_chanorder_delivery *dv)
{
	memset(dv, 0, sizeof(*dv));
	dv->id = id;
	return id ? dv : NULL;
}

static void apply_ok(struct org *o, const struct corder *c, const char *delivery, struct fx_chanorder_result *r)
{
	struct fx_chanorder_delivery dv;
	struct fx_err e;

	fx_err_clear(&e);
	cr_assert_eq(fx_chanorder_apply(o->id, &o->ch, &c->o, hook(delivery, &dv), r, &e), 0, "%s", e.message);
}

Test(apply, an_order_maps_lines_by_listing_then_sku_keeps_channel_totals_and_flags_unknown_lines)
{
	struct org o;
	struct corder c;
	struct fx_chanorder_result r;
	struct fx_doc d = {0};
	const struct fx_value *items;
	int64_t n = 0;

	seed(&o, 10, 10);
	corder(&c, "T-1", FX_CHANNEL_ORDER_OPEN, 3, 2);
	apply_ok(&o, &c, "d-1", &r);
	cr_assert_eq(r.outcome, FX_CHANORDER_CREATED);
	cr_assert_str_eq(r.number, "FX-000001");
	cr_assert_not(r.oversold);
	cr_assert(r.needs_attention);
	read_order(&o, r.order_id, &d);
	items = fx_value_path(&d.fields, "items");
	cr_assert_str_eq(fx_value_path_str(&items->u.arr.items[0], "productId"), o.p[0], "offer 9001's listing");
	cr_assert_str_eq(fx_value_path_str(&items->u.arr.items[1], "productId"), o.p[1], "S-2 by SKU, any case");
	cr_assert_eq(fx_value_path(&items->u.arr.items[2], "productId")->type, FX_V_NULL, "unknown: null");
	cr_assert_str_eq(fx_value_path_str(&d.fields, "channel"), "takealot");
	cr_assert_str_eq(fx_value_path_str(&d.fields, "channelId"), o.cid);
	cr_assert_str_eq(fx_value_path_str(&d.fields, "externalId"), "T-1");
	cr_assert_str_eq(fx_value_path_str(&d.fields, "externalNumber"), "TAK-42");
	cr_assert_str_eq(fx_value_path_str(&d.fields, "status"), "pending");
	fx_value_path_int(&d.fields, "totalCents", &n);
	cr_assert_eq(n, 3 * 15000 + 2 * 2500 + 1000 - 500, "the channel's total, discount kept");
	fx_value_path_int(&d.fields, "vatCents", &n);
	cr_assert_eq(n, 6587, "VAT inside the channel total at the organization's 15 %%: 50500 x 15/115 = 6586.96");
	fx_firestore_doc_cleanup(&d);
	cr_assert_eq(stock_of(&o, 0, "reserved"), 3);
	cr_assert_eq(stock_of(&o, 1, "reserved"), 2);
	cr_assert_eq(count(&o, "insights", NULL, NULL), 0, "nothing oversold, no insight");
}

Test(apply, a_replayed_delivery_is_a_duplicate_and_writes_nothing)
{
	struct org o;
	struct corder c;
	struct fx_chanorder_result r, r2;
	struct fx_doc d = {0};
	char etag[64];

	seed(&o, 10, 10);
	corder(&c, "T-2", FX_CHANNEL_ORDER_OPEN, 1, 1);
	apply_ok(&o, &c, "d-2", &r);
	read_order(&o, r.order_id, &d);
	snprintf(etag, sizeof(etag), "%s", d.update_time);
	fx_firestore_doc_cleanup(&d);
	c.o.state = FX_CHANNEL_ORDER_CANCELLED; /* even a different body: the delivery id was seen */
	apply_ok(&o, &c, "d-2", &r2);
	cr_assert_eq(r2.outcome, FX_CHANORDER_DUPLICATE);
	cr_assert_str_eq(r2.order_id, r.order_id);
	read_order(&o, r.order_id, &d);
	cr_assert_str_eq(d.update_time, etag, "the order was not written");
	cr_assert_str_eq(fx_value_path_str(&d.fields, "status"), "pending");
	fx_firestore_doc_cleanup(&d);
	cr_assert_eq(stock_of(&o, 0, "reserved"), 1);
	cr_assert_eq(count(&o, "orders", NULL, NULL), 1);
}

Test(apply, a_new_delivery_of_the_same_order_updates_it_and_never_makes_a_second)
{
	struct org o;
	struct corder c;
	struct fx_chanorder_result r, r2;

	seed(&o, 10, 10);
	corder(&c, "T-3", FX_CHANNEL_ORDER_OPEN, 2, 1);
	apply_ok(&o, &c, "d-3a", &r);
	apply_ok(&o, &c, NULL, &r2); /* the poll finds it too */
	cr_assert_eq(r2.outcome, FX_CHANORDER_UNCHANGED);
	cr_assert_str_eq(r2.order_id, r.order_id);
	cr_assert_str_eq(r2.number, "FX-000001");
	cr_assert_eq(count(&o, "orders", NULL, NULL), 1);
	cr_assert_eq(stock_of(&o, 0, "reserved"), 2, "reserved once");
}

Test(apply, a_short_order_is_accepted_reserves_what_is_available_and_raises_one_insight)
{
	struct org o;
	struct corder c;
	struct fx_chanorder_result r, r2;
	struct fx_doc d = {0};
	const struct fx_value *items;
	int64_t b = -1;

	seed(&o, 2, 10);
	corder(&c, "T-4", FX_CHANNEL_ORDER_OPEN, 5, 1);
	apply_ok(&o, &c, "d-4", &r);
	cr_assert_eq(r.outcome, FX_CHANORDER_CREATED);
	cr_assert(r.oversold);
	read_order(&o, r.order_id, &d);
	items = fx_value_path(&d.fields, "items");
	cr_assert(fx_value_path_int(&items->u.arr.items[0], "backorderedQuantity", &b));
	cr_assert_eq(b, 3, "5 ordered, 2 available");
	cr_assert_null(fx_value_path(&items->u.arr.items[1], "backorderedQuantity"), "a covered line has none");
	cr_assert(fx_value_path(&d.fields, "oversold")->u.b);
	fx_firestore_doc_cleanup(&d);
	cr_assert_eq(stock_of(&o, 0, "reserved"), 2);
	cr_assert_eq(stock_of(&o, 0, "available"), 0);
	cr_assert_eq(count(&o, "insights", "type", "oversold"), 1);
	/* A second short order of the same product: the open insight stands, no second one. */
	corder(&c, "T-5", FX_CHANNEL_ORDER_OPEN, 1, 1);
	apply_ok(&o, &c, "d-5", &r2);
	cr_assert(r2.oversold);
	cr_assert_str_eq(r2.number, "FX-000002");
	cr_assert_eq(count(&o, "insights", "type", "oversold"), 1);
	cr_assert_eq(stock_of(&o, 0, "reserved"), 2);
}

Test(apply, a_channel_cancellation_cancels_and_releases_exactly_what_was_held)
{
	struct org o;
	struct corder c;
	struct fx_chanorder_result r;
	struct fx_doc d = {0};

	seed(&o, 2, 10);
	corder(&c, "T-6", FX_CHANNEL_ORDER_OPEN, 5, 3);
	apply_ok(&o, &c, "d-6", &r);
	cr_assert_eq(stock_of(&o, 0, "reserved"), 2);
	cr_assert_eq(stock_of(&o, 1, "reserved"), 3);
	c.o.state = FX_CHANNEL_ORDER_CANCELLED;
	apply_ok(&o, &c, "d-6-cancel", &r);
	cr_assert_eq(r.outcome, FX_CHANORDER_UPDATED);
	read_order(&o, r.order_id, &d);
	cr_assert_str_eq(fx_value_path_str(&d.fields, "status"), "cancelled");
	fx_firestore_doc_cleanup(&d);
	cr_assert_eq(stock_of(&o, 0, "reserved"), 0, "2 held, 2 released");
	cr_assert_eq(stock_of(&o, 1, "reserved"), 0);
	cr_assert_eq(stock_of(&o, 0, "onHand"), 2);
}

Test(apply, shipped_on_the_channel_ships_a_covered_order_and_flags_a_short_one)
{
	struct org o;
	struct corder c;
	struct fx_chanorder_result r;
	struct fx_doc d = {0};

	seed(&o, 2, 10);
	corder(&c, "T-7", FX_CHANNEL_ORDER_OPEN, 1, 2);
	apply_ok(&o, &c, "d-7", &r);
	c.o.state = FX_CHANNEL_ORDER_SHIPPED;
	apply_ok(&o, &c, "d-7s", &r);
	cr_assert_eq(r.outcome, FX_CHANORDER_UPDATED);
	read_order(&o, r.order_id, &d);
	cr_assert_str_eq(fx_value_path_str(&d.fields, "status"), "shipped", "pending, confirmed, shipped");
	fx_firestore_doc_cleanup(&d);
	cr_assert_eq(stock_of(&o, 0, "onHand"), 1);
	cr_assert_eq(stock_of(&o, 0, "reserved"), 0);
	cr_assert_eq(stock_of(&o, 1, "onHand"), 8);

	corder(&c, "T-8", FX_CHANNEL_ORDER_OPEN, 4, 1); /* p0 has 1 left: 3 short */
	apply_ok(&o, &c, "d-8", &r);
	cr_assert(r.oversold);
	c.o.state = FX_CHANNEL_ORDER_SHIPPED;
	apply_ok(&o, &c, "d-8s", &r);
	cr_assert(r.needs_attention);
	read_order(&o, r.order_id, &d);
	cr_assert_str_eq(fx_value_path_str(&d.fields, "status"), "pending", "a short order does not ship");
	fx_firestore_doc_cleanup(&d);
	cr_assert_eq(stock_of(&o, 0, "onHand"), 1);
	cr_assert_eq(stock_of(&o, 0, "reserved"), 1);
}

Test(apply, an_order_without_lines_is_refused_and_writes_nothing)
{
	struct org o;
	struct corder c;
	struct fx_chanorder_result r;
	struct fx_err e;

	seed(&o, 2, 10);
	corder(&c, "T-9", FX_CHANNEL_ORDER_OPEN, 1, 1);
	c.o.nlines = 0;
	fx_err_clear(&e);
	cr_assert_eq(fx_chanorder_apply(o.id, &o.ch, &c.o, &(struct fx_chanorder_delivery){.id = "d-9"}, &r, &e), -1);
	cr_assert(fx_err_is(&e, FX_INVALID_ARGUMENT));
	c.o.nlines = 3;
	c.lines[1].quantity = 0;
	cr_assert_eq(fx_chanorder_apply(o.id, &o.ch, &c.o, &(struct fx_chanorder_delivery){.id = "d-9"}, &r, &e), -1);
	cr_assert(fx_err_is(&e, FX_INVALID_ARGUMENT));
	cr_assert_eq(count(&o, "orders", NULL, NULL), 0);
}

struct racer {
	struct org *o;
	const struct corder *c;
	char delivery[32];
	struct fx_chanorder_result r;
	int rc;
	char message[256];
};

static void *race(void *arg)
{
	struct racer *x = arg;
	struct fx_chanorder_delivery dv;
	struct fx_err e;

	fx_err_clear(&e);
	x->rc = fx_chanorder_apply(x->o->id, &x->o->ch, &x->c->o, hook(x->delivery[0] ? x->delivery : NULL, &dv), &x->r,
				   &e);
	snprintf(x->message, sizeof(x->message), "%s", e.message);
	return NULL;
}

Test(apply, eight_threads_applying_one_order_at_once_make_one_order_reserved_once)
{
	struct org o;
	struct corder c;
	struct racer x[8];
	pthread_t th[8];
	int created = 0;

	seed(&o, 4, 10);
	corder(&c, "T-10", FX_CHANNEL_ORDER_OPEN, 3, 2);
	for (int i = 0; i < 8; i++) {
		memset(&x[i], 0, sizeof(x[i]));
		x[i].o = &o;
		x[i].c = &c;
		/* Half share one delivery id (a channel's double send), the rest differ or poll. */
		if (i % 4 != 3)
			snprintf(x[i].delivery, sizeof(x[i].delivery), "dup-%d", i % 2);
		cr_assert_eq(pthread_create(&th[i], NULL, race, &x[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		cr_assert_eq(x[i].rc, 0, "thread %d: %s", i, x[i].message);
		created += x[i].r.outcome == FX_CHANORDER_CREATED;
		cr_assert_str_eq(x[i].r.order_id, x[0].r.order_id);
	}
	cr_assert_eq(created, 1, "exactly one thread created the order");
	cr_assert_eq(count(&o, "orders", NULL, NULL), 1);
	cr_assert_eq(stock_of(&o, 0, "reserved"), 3, "reserved once");
	cr_assert_eq(stock_of(&o, 1, "reserved"), 2);
}

static const char *fixture_header(void *ctx, const char *name)
{
	const char *const *h = ctx;

	for (; h[0]; h += 2)
		if (strcasecmp(h[0], name) == 0)
			return h[1];
	return NULL;
}

/* A channel's own webhook body (tests/data/channels), read by lib/channel, applied. */
static void apply_fixture(struct org *o, enum fx_channel_type type, const char *file, const char *topic,
			  struct fx_chanorder_result *r)
{
	static const char *const sig_h[] = {"X-Shopify-Hmac-Sha256", "X-WC-Webhook-Signature", "X-Takealot-Signature"};
	static const char *const id_h[] = {"X-Shopify-Webhook-Id", "X-WC-Webhook-Delivery-ID", "X-Takealot-Delivery"};
	static const char *const topic_h[] = {"X-Shopify-Topic", "X-WC-Webhook-Topic", "X-Takealot-Event"};
	char path[512], mac[100];
	const char *h[8];
	static char body[1 << 16];
	struct fx_channel_delivery d;
	struct fx_arena arena;
	struct fx_err e;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/tests/data/channels/%s", getenv("srcdir") ? getenv("srcdir") : ".", file);
	f = fopen(path, "rb");
	cr_assert_not_null(f, "%s", path);
	n = fread(body, 1, sizeof(body) - 1, f);
	fclose(f);
	o->ch.type = type;
	o->ch.webhook_secret = "fixture-secret";
	cr_assert_eq(fx_sig_hmac_sha256("fixture-secret", 14, body, n,
					type == FX_CHANNEL_TAKEALOT ? FX_SIG_HEX : FX_SIG_BASE64, mac, sizeof(mac)),
		     0);
	h[0] = sig_h[type], h[1] = mac, h[2] = id_h[type], h[3] = "fixture-1", h[4] = topic_h[type], h[5] = topic;
	h[6] = NULL;
	fx_arena_init(&arena, 1 << 22);
	fx_err_clear(&e);
	cr_assert_eq(fx_channel_read_webhook(&o->ch, fixture_header, h, body, n, &arena, &d, &e), 0, "%s", e.message);
	cr_assert_eq(d.event, FX_CHANNEL_EVENT_ORDER);
	cr_assert_eq(fx_chanorder_apply(o->id, &o->ch, &d.order,
					&(struct fx_chanorder_delivery){.id = d.delivery_id, .topic = d.topic}, r, &e),
		     0, "%s", e.message);
	fx_arena_cleanup(&arena);
}

Test(apply, a_shopify_webhook_body_maps_by_sku_and_keeps_shopifys_total)
{
	struct org o;
	struct fx_chanorder_result r;
	struct fx_doc d = {0};
	int64_t total = 0;

	seed(&o, 10, 10);
	seed_product(&o, 1, "tea-roo-250", 10);
	seed_product(&o, 2, "ket-cls-slv", 0);
	apply_fixture(&o, FX_CHANNEL_SHOPIFY, "shopify_orders_create.json", "orders/create", &r);
	cr_assert_eq(r.outcome, FX_CHANORDER_CREATED);
	cr_assert(r.oversold, "the kettle is sold out");
	read_order(&o, r.order_id, &d);
	fx_value_path_int(&d.fields, "totalCents", &total);
	cr_assert_eq(total, 164899);
	fx_firestore_doc_cleanup(&d);
}

Test(apply, a_woocommerce_webhook_body_keeps_its_unknown_line)
{
	struct org o;
	struct fx_chanorder_result r;

	seed(&o, 10, 10);
	seed_product(&o, 1, "woo-single-1", 10);
	apply_fixture(&o, FX_CHANNEL_WOOCOMMERCE, "woocommerce_order_updated.json", "order.updated", &r);
	cr_assert_eq(r.outcome, FX_CHANORDER_CREATED);
	cr_assert(r.needs_attention);
}

Test(apply, a_cancellation_without_lines_cancels_an_order_and_creates_none)
{
	struct org o;
	struct corder c;
	struct fx_chanorder_result r;

	seed(&o, 10, 10);
	corder(&c, "T-11", FX_CHANNEL_ORDER_OPEN, 2, 1);
	apply_ok(&o, &c, "d-11", &r);
	cr_assert_eq(stock_of(&o, 0, "reserved"), 2);
	c.o.state = FX_CHANNEL_ORDER_CANCELLED;
	c.o.nlines = 0; /* Takealot leaves cancelled items out of the order */
	apply_ok(&o, &c, "d-11c", &r);
	cr_assert_eq(r.outcome, FX_CHANORDER_UPDATED);
	cr_assert_eq(stock_of(&o, 0, "reserved"), 0);
	cr_assert_eq(stock_of(&o, 1, "reserved"), 0);
	corder(&c, "T-12", FX_CHANNEL_ORDER_CANCELLED, 1, 1);
	c.o.nlines = 0;
	apply_ok(&o, &c, "d-12", &r);
	cr_assert_eq(r.outcome, FX_CHANORDER_UNCHANGED);
	cr_assert_eq(count(&o, "orders", NULL, NULL), 1, "nothing to make of an order cancelled before it was seen");
}
