/*
 * lib/insights: each rule's threshold on both sides with seeded products
 * and sales (pure, no I/O), then generation against Google's Cloud
 * Firestore emulator, which this binary starts itself (as
 * tests/lib/test_firestore.c does): the expected insights with their
 * metrics, regeneration that updates instead of duplicating, the key
 * released by a resolve, and two generations racing; and Gemini on
 * Vertex AI (a local test server) writing the text, or failing and
 * leaving the rule text.
 */
#include "insights.h"

#include "config.h"
#include "emulator.h"
#include "fswrite.h"
#include "gauth.h"
#include "log.h"
#include "map.h"
#include "mem.h"
#include "model.h"
#include "stock.h"
#include "testserver.h"
#include "ts.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DAY 86400
#define NOW 1790000000LL /* 2026-09-21, a fixed "now" for the rules */

/* ---- seeded data for the rules ---- */

struct seed {
	struct fx_doc products[16];
	size_t np;
	struct fx_sales sales[16];
	size_t ns;
	struct fx_candidate *c;
	size_t n;
};

/* Adds a product: stock as lib/stock keeps it, created age_days before NOW. */
static void product(struct seed *s, const char *id, const char *status, int64_t on_hand, int64_t reserved,
		    int64_t reorder, int64_t price, int64_t age_days)
{
	struct fx_doc *d = &s->products[s->np++];
	char name[256], label[64];
	struct fx_value *stock;

	memset(d, 0, sizeof(*d));
	snprintf(name, sizeof(name), "projects/demo-fluxori/databases/(default)/documents/organizations/o1/products/%s",
		 id);
	d->name = fx_mem_xstrdup(name);
	d->id = strrchr(d->name, '/') + 1;
	fx_value_map(&d->fields);
	snprintf(label, sizeof(label), "Product %s", id);
	fx_map_set_str(&d->fields, "name", label);
	fx_map_set_str(&d->fields, "sku", id);
	fx_map_set_str(&d->fields, "status", status);
	fx_map_set_int(&d->fields, "priceCents", price);
	stock = fx_map_set(&d->fields, "stock");
	fx_value_map(stock);
	fx_map_set_int(stock, "onHand", on_hand);
	fx_map_set_int(stock, "reserved", reserved);
	fx_map_set_int(stock, "available", on_hand - reserved);
	fx_map_set_int(stock, "reorderPoint", reorder);
	fx_map_set_bool(&d->fields, "lowStock", on_hand - reserved <= reorder);
	fx_map_set_ts(&d->fields, "createdAt", NOW - age_days * DAY, 0);
}

static void sold(struct seed *s, const char *id, int64_t units, int64_t revenue, int64_t days_ago)
{
	struct fx_sales *x = &s->sales[s->ns++];

	x->product_id = id;
	x->units_30d = units;
	x->revenue_30d_cents = revenue;
	x->last_sale_secs = days_ago < 0 ? 0 : NOW - days_ago * DAY;
}

static void run(struct seed *s, int64_t this_week, int64_t last_week)
{
	struct fx_err e;

	fx_err_clear(&e);
	cr_assert_eq(
		fx_insights_rules(s->products, s->np, s->sales, s->ns, this_week, last_week, NOW, &s->c, &s->n, &e), 0,
		"%s", e.message);
	for (size_t i = 0; i < s->n; i++) {
		cr_assert(s->c[i].title[0] && s->c[i].summary[0], "%s has a title and a summary", s->c[i].type);
		cr_assert(s->c[i].nrec >= 1 && s->c[i].nrec <= 3, "%s has 1 to 3 recommendations", s->c[i].type);
		cr_assert_eq(s->c[i].metrics.type, FX_V_MAP);
	}
}

static void seed_free(struct seed *s)
{
	for (size_t i = 0; i < s->np; i++)
		fx_firestore_doc_cleanup(&s->products[i]);
	fx_insights_candidates_free(s->c, s->n);
}

static const struct fx_candidate *find(const struct seed *s, const char *type, const char *product_id)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->c[i].type, type) == 0 && strcmp(s->c[i].product_id, product_id) == 0)
			return &s->c[i];
	return NULL;
}

static size_t count(const struct seed *s, const char *type)
{
	size_t k = 0;

	for (size_t i = 0; i < s->n; i++)
		k += strcmp(s->c[i].type, type) == 0;
	return k;
}

static int64_t metric(const struct fx_candidate *c, const char *name)
{
	int64_t v = 0;

	cr_assert(fx_value_path_int(&c->metrics, name, &v), "%s has no integer metric %s", c->type, name);
	return v;
}

static double metric_d(const struct fx_candidate *c, const char *name)
{
	const struct fx_value *v = fx_map_get(&c->metrics, name);

	cr_assert(v && v->type == FX_V_DOUBLE, "%s has no decimal metric %s", c->type, name);
	return v->u.d;
}

static void quiet(void)
{
	fx_log_init("test_insights", FX_LOG_ERROR + 1);
}

TestSuite(rules, .init = quiet);

Test(rules, low_stock_when_available_equals_the_reorder_point_not_one_above)
{
	struct seed s = {0};
	const struct fx_candidate *c;

	product(&s, "at", "active", 8, 3, 5, 1000, 10);
	product(&s, "above", "active", 9, 3, 5, 1000, 10);
	run(&s, 0, 0);
	c = find(&s, "low_stock", "at");
	cr_assert_not_null(c, "available 5 = reorderPoint 5 is low stock");
	cr_assert_str_eq(c->severity, "warning");
	cr_assert_eq(metric(c, "available"), 5);
	cr_assert_eq(metric(c, "reorderPoint"), 5);
	cr_assert_eq(metric(c, "onHand"), 8);
	cr_assert_eq(metric(c, "reserved"), 3);
	cr_assert_null(find(&s, "low_stock", "above"), "available 6 > reorderPoint 5 is not");
	cr_assert_eq(s.n, 1, "nothing else fires");
	seed_free(&s);
}

Test(rules, low_stock_is_critical_when_nothing_is_available)
{
	struct seed s = {0};

	product(&s, "empty", "active", 3, 3, 2, 1000, 10);
	product(&s, "one", "active", 1, 0, 2, 1000, 10);
	product(&s, "draft", "draft", 0, 0, 0, 1000, 10);
	run(&s, 0, 0);
	cr_assert_str_eq(find(&s, "low_stock", "empty")->severity, "critical");
	cr_assert_eq(metric(find(&s, "low_stock", "empty"), "available"), 0);
	cr_assert_str_eq(find(&s, "low_stock", "one")->severity, "warning");
	cr_assert_str_eq(find(&s, "low_stock", "draft")->severity, "critical", "only archived products are exempt");
	seed_free(&s);
}

Test(rules, stockout_risk_below_fourteen_days_of_cover_not_at_fourteen)
{
	struct seed s = {0};
	const struct fx_candidate *c;

	/* 300 units in 30 days: 10 a day. */
	product(&s, "d139", "active", 139, 0, 0, 100, 90);
	product(&s, "d140", "active", 140, 0, 0, 100, 90);
	sold(&s, "d139", 300, 30000, 1);
	sold(&s, "d140", 300, 30000, 1);
	run(&s, 0, 0);
	c = find(&s, "stockout_risk", "d139");
	cr_assert_not_null(c, "13.9 days of cover is a risk");
	cr_assert_str_eq(c->severity, "warning");
	cr_assert_float_eq(metric_d(c, "daysOfCover"), 13.9, 1e-9);
	cr_assert_float_eq(metric_d(c, "dailyVelocity"), 10.0, 1e-9);
	cr_assert_eq(metric(c, "unitsSold30d"), 300);
	cr_assert_eq(metric(c, "available"), 139);
	cr_assert_null(find(&s, "stockout_risk", "d140"), "14.0 days of cover is not");
	seed_free(&s);
}

Test(rules, stockout_risk_is_critical_under_seven_days)
{
	struct seed s = {0};
	const struct fx_candidate *c;

	product(&s, "d69", "active", 69, 0, 0, 100, 90);
	product(&s, "d70", "active", 70, 0, 0, 100, 90);
	product(&s, "slowly", "active", 1, 0, 0, 100, 90);
	sold(&s, "d69", 300, 30000, 1);
	sold(&s, "d70", 300, 30000, 1);
	/* 1 unit in 30 days: 30 days of cover for the last one. */
	sold(&s, "slowly", 1, 100, 20);
	run(&s, 0, 0);
	c = find(&s, "stockout_risk", "d69");
	cr_assert_str_eq(c->severity, "critical", "6.9 days");
	cr_assert_float_eq(metric_d(c, "daysOfCover"), 6.9, 1e-9);
	cr_assert_str_eq(find(&s, "stockout_risk", "d70")->severity, "warning", "7.0 days");
	cr_assert_null(find(&s, "stockout_risk", "slowly"));
	seed_free(&s);
}

Test(rules, no_sales_means_no_stockout_risk)
{
	struct seed s = {0};

	product(&s, "idle", "active", 1, 0, 0, 100, 10);
	sold(&s, "idle", 0, 0, 40);
	run(&s, 0, 0);
	cr_assert_eq(count(&s, "stockout_risk"), 0);
	seed_free(&s);
}

Test(rules, slow_mover_after_sixty_days_without_a_sale_not_fifty_nine)
{
	struct seed s = {0};
	const struct fx_candidate *c;

	product(&s, "d60", "active", 10, 0, 0, 2500, 200);
	product(&s, "d59", "active", 10, 0, 0, 2500, 200);
	product(&s, "never", "active", 4, 0, 0, 2500, 200);
	product(&s, "none_left", "active", 0, 0, -1, 2500, 200);
	sold(&s, "d60", 0, 0, 60);
	sold(&s, "d59", 0, 0, 59);
	run(&s, 0, 0);
	c = find(&s, "slow_mover", "d60");
	cr_assert_not_null(c);
	cr_assert_str_eq(c->severity, "info");
	cr_assert_eq(metric(c, "daysSinceLastSale"), 60);
	cr_assert_eq(metric(c, "onHand"), 10);
	cr_assert_eq(metric(c, "stockValueCents"), 25000);
	cr_assert_eq(metric(c, "daysSinceCreated"), 200);
	cr_assert_null(find(&s, "slow_mover", "d59"), "a sale 59 days ago");
	c = find(&s, "slow_mover", "never");
	cr_assert_not_null(c, "never sold");
	cr_assert_eq(fx_map_get(&c->metrics, "daysSinceLastSale")->type, FX_V_NULL);
	cr_assert_null(find(&s, "slow_mover", "none_left"), "nothing on hand");
	seed_free(&s);
}

Test(rules, young_products_are_not_slow_movers)
{
	struct seed s = {0};

	product(&s, "young", "active", 10, 0, 0, 100, 59);
	product(&s, "of_age", "active", 10, 0, 0, 100, 60);
	run(&s, 0, 0);
	cr_assert_null(find(&s, "slow_mover", "young"), "59 days old");
	cr_assert_not_null(find(&s, "slow_mover", "of_age"), "60 days old");
	seed_free(&s);
}

Test(rules, sales_trend_from_twenty_percent_up_not_nineteen_point_nine)
{
	struct seed s = {0}, t = {0}, u = {0};
	const struct fx_candidate *c;

	run(&s, 12000, 10000);
	c = find(&s, "sales_trend", "");
	cr_assert_not_null(c, "+20 %% is a trend");
	cr_assert_str_eq(c->severity, "info");
	cr_assert_float_eq(metric_d(c, "changePct"), 20.0, 1e-9);
	cr_assert_eq(metric(c, "revenueThisWeekCents"), 12000);
	cr_assert_eq(metric(c, "revenueLastWeekCents"), 10000);
	run(&t, 11990, 10000);
	cr_assert_eq(count(&t, "sales_trend"), 0, "+19.9 %% is not");
	run(&u, 11999, 10000);
	cr_assert_eq(count(&u, "sales_trend"), 0, "+19.99 %% is not");
	seed_free(&s);
	seed_free(&t);
	seed_free(&u);
}

Test(rules, sales_trend_down_twenty_percent_is_a_warning)
{
	struct seed s = {0}, t = {0}, u = {0};
	const struct fx_candidate *c;

	run(&s, 8000, 10000);
	c = find(&s, "sales_trend", "");
	cr_assert_not_null(c);
	cr_assert_str_eq(c->severity, "warning");
	cr_assert_float_eq(metric_d(c, "changePct"), -20.0, 1e-9);
	run(&t, 8001, 10000);
	cr_assert_eq(count(&t, "sales_trend"), 0, "-19.99 %% is not");
	run(&u, 5000, 0);
	cr_assert_eq(count(&u, "sales_trend"), 0, "no revenue in the earlier week: no trend");
	seed_free(&s);
	seed_free(&t);
	seed_free(&u);
}

Test(rules, top_sellers_are_the_three_best_by_revenue)
{
	struct seed s = {0}, t = {0};
	const struct fx_candidate *c;

	product(&s, "a", "active", 1000, 0, 0, 100, 10);
	product(&s, "b", "active", 1000, 0, 0, 100, 10);
	product(&s, "c", "active", 1000, 0, 0, 100, 10);
	product(&s, "d", "active", 1000, 0, 0, 100, 10);
	product(&s, "e", "active", 1000, 0, 0, 100, 10);
	sold(&s, "a", 5, 500, 1);
	sold(&s, "b", 3, 300, 1);
	sold(&s, "c", 9, 900, 1);
	sold(&s, "d", 2, 0, 1);
	sold(&s, "e", 6, 300, 1);
	run(&s, 0, 0);
	cr_assert_eq(count(&s, "top_seller"), 3);
	c = find(&s, "top_seller", "c");
	cr_assert_eq(metric(c, "rank"), 1);
	cr_assert_eq(metric(c, "revenue30dCents"), 900);
	cr_assert_eq(metric(find(&s, "top_seller", "a"), "rank"), 2);
	cr_assert_eq(metric(find(&s, "top_seller", "e"), "rank"), 3, "a revenue tie goes to more units");
	cr_assert_null(find(&s, "top_seller", "b"));
	cr_assert_null(find(&s, "top_seller", "d"));
	cr_assert_str_eq(c->severity, "info");

	product(&t, "x", "active", 5, 0, 0, 100, 10);
	sold(&t, "x", 0, 0, -1);
	run(&t, 0, 0);
	cr_assert_eq(count(&t, "top_seller"), 0, "no revenue, no top seller");
	seed_free(&s);
	seed_free(&t);
}

Test(rules, archived_products_never_produce_insights)
{
	struct seed s = {0};

	product(&s, "gone", "archived", 2, 0, 5, 100, 365);
	product(&s, "live", "active", 100, 0, 0, 100, 10);
	sold(&s, "gone", 3000, 9000000, 1);
	sold(&s, "live", 1, 100, 1);
	run(&s, 0, 0);
	for (size_t i = 0; i < s.n; i++)
		cr_assert_str_neq(s.c[i].product_id, "gone", "archived product got %s", s.c[i].type);
	cr_assert_eq(metric(find(&s, "top_seller", "live"), "rank"), 1, "an archived product takes no rank");
	seed_free(&s);
}

Test(rules, refuses_more_products_than_generation_reads)
{
	struct fx_doc *many = fx_mem_xcalloc(FX_INSIGHTS_MAX_PRODUCTS + 1, sizeof(*many));
	struct fx_candidate *c = NULL;
	struct fx_err e;
	size_t n = 7;

	fx_err_clear(&e);
	cr_assert_eq(fx_insights_rules(many, FX_INSIGHTS_MAX_PRODUCTS + 1, NULL, 0, 0, 0, NOW, &c, &n, &e), -1);
	cr_assert_eq(fx_err_http(e.kind), 409);
	cr_assert_str_eq(fx_err_name(e.kind), "FAILED_PRECONDITION");
	cr_assert_null(c);
	cr_assert_eq(n, 0);
	free(many);
}

Test(rules, the_key_names_type_and_product_or_the_organization)
{
	struct fx_err e;
	char key[160];

	fx_err_clear(&e);
	cr_assert_eq(fx_insights_key("low_stock", "P1", key, sizeof(key), &e), 0);
	cr_assert_str_eq(key, "low_stock_P1");
	cr_assert_eq(fx_insights_key("sales_trend", "", key, sizeof(key), &e), 0);
	cr_assert_str_eq(key, "sales_trend_org");
	cr_assert_eq(fx_insights_key("low_stock", "bad/id", key, sizeof(key), &e), -1, "never a path");
}

/* ---- the Firestore emulator (started once by the runner process) ---- */

#define PORT_ENV "FLUXORI_TEST_INSIGHTS_FIRESTORE" /* host:port, set once the emulator answers */

const struct emu_fixture emu_fixture = {"insights", EMU_ALONE, EMU_FIRESTORE, PORT_ENV, NULL};

/* ---- generation against the emulator ---- */

static struct emu_client emu;

static void setup(void)
{
	quiet();
	emu_firestore_use(&emu, PORT_ENV); /* no vertex_model: the rules write the text */
}

TestSuite(generate, .init = setup, .timeout = 180);

struct org {
	char id[FX_ID_LEN + 1];
	char p[7][FX_ID_LEN + 1]; /* low, hot, old, archived, cancelled-only, steady, young */
	int64_t now;
};

static void put(const char *rel, struct fx_value *fields)
{
	struct fx_err e;

	fx_err_clear(&e);
	cr_assert_eq(fx_firestore_create(rel, fields, NULL, &e), 0, "create %s: %s", rel, e.message);
	fx_value_cleanup(fields);
}

static void seed_product(struct org *o, int i, const char *name, const char *status, int64_t on_hand, int64_t reorder,
			 int64_t age_days)
{
	struct fx_value f = {0}, *stock;
	char rel[200];

	fx_model_id_new(o->p[i]);
	fx_value_map(&f);
	fx_map_set_str(&f, "name", name);
	fx_map_set_str(&f, "sku", name);
	fx_map_set_str(&f, "status", status);
	fx_map_set_int(&f, "priceCents", 1000);
	fx_map_set_str(&f, "description", "not read by generation");
	stock = fx_map_set(&f, "stock");
	fx_value_map(stock);
	fx_map_set_int(stock, "onHand", on_hand);
	fx_map_set_int(stock, "reserved", 0);
	fx_map_set_int(stock, "available", on_hand);
	fx_map_set_int(stock, "reorderPoint", reorder);
	fx_map_set_bool(&f, "lowStock", on_hand <= reorder);
	fx_map_set_ts(&f, "createdAt", o->now - age_days * DAY, 0);
	fx_map_set_str(&f, "organizationId", o->id);
	snprintf(rel, sizeof(rel), "organizations/%s/products/%s", o->id, o->p[i]);
	put(rel, &f);
}

static void seed_order(struct org *o, const char *status, int p, int64_t quantity, int64_t days_ago)
{
	struct fx_value f = {0}, *items, *it;
	char rel[200], id[FX_ID_LEN + 1];

	fx_model_id_new(id);
	fx_value_map(&f);
	fx_map_set_str(&f, "status", status);
	fx_map_set_ts(&f, "createdAt", o->now - days_ago * DAY, 0);
	items = fx_map_set(&f, "items");
	fx_value_array(items);
	it = fx_value_push(items);
	fx_value_map(it);
	fx_map_set_str(it, "productId", o->p[p]);
	fx_map_set_int(it, "quantity", quantity);
	fx_map_set_int(it, "unitPriceCents", 1000);
	fx_map_set_int(it, "lineTotalCents", quantity * 1000);
	fx_map_set_int(&f, "totalCents", quantity * 1000);
	fx_map_set_str(&f, "organizationId", o->id);
	snprintf(rel, sizeof(rel), "organizations/%s/orders/%s", o->id, id);
	put(rel, &f);
}

/*
 * An organization where each rule fires once: low (2 on hand, reorder 5),
 * hot (20 on hand, 60 sold this week: 10 days of cover), old (10 on hand,
 * 90 days old, never sold), archived (would be low), cancelled (only a
 * cancelled order), steady (1000 on hand, 10 sold 10 days ago), young.
 * Revenue this week 60000 against 100000 the week before: -40 %.
 */
static void seed_org(struct org *o)
{
	int32_t nanos;

	fx_model_id_new(o->id);
	fx_ts_now(&o->now, &nanos);
	seed_product(o, 0, "Low", "active", 2, 5, 10);
	seed_product(o, 1, "Hot", "active", 20, 0, 10);
	seed_product(o, 2, "Old", "active", 10, 0, 90);
	seed_product(o, 3, "Archived", "archived", 0, 5, 90);
	seed_product(o, 4, "Cancelled", "active", 10, 0, 10);
	seed_product(o, 5, "Steady", "active", 1000, 0, 10);
	seed_product(o, 6, "Young", "active", 10, 0, 20);
	seed_order(o, "pending", 1, 60, 1);
	seed_order(o, "cancelled", 4, 100, 2);
	seed_order(o, "delivered", 5, 100, 10);
	seed_order(o, "delivered", 6, 1, 61); /* outside the 60-day window */
}

#define EXPECTED 6 /* sales_trend, low_stock, stockout_risk, slow_mover, top_seller x2 */

/* The organization's documents of a collection. */
static size_t docs_of(const struct org *o, const char *collection, struct fx_doc **docs)
{
	struct fx_query *q = fx_fsquery_new(collection, false);
	char rel[100];
	size_t n = 0;
	struct fx_err e;

	fx_err_clear(&e);
	snprintf(rel, sizeof(rel), "organizations/%s", o->id);
	cr_assert_eq(fx_firestore_query(rel, q, NULL, docs, &n, &e), 0, "%s", e.message);
	fx_fsquery_free(q);
	return n;
}

static const struct fx_doc *insight(const struct fx_doc *docs, size_t n, const char *type, const char *product_id,
				    const char *status)
{
	for (size_t i = 0; i < n; i++) {
		const char *t = fx_value_path_str(&docs[i].fields, "type");
		const char *p = fx_value_path_str(&docs[i].fields, "productId");
		const char *s = fx_value_path_str(&docs[i].fields, "status");

		if (t && strcmp(t, type) == 0 && strcmp(p ? p : "", product_id) == 0 && s && strcmp(s, status) == 0)
			return &docs[i];
	}
	return NULL;
}

static int64_t field_int(const struct fx_doc *d, const char *path)
{
	int64_t v = 0;

	cr_assert(fx_value_path_int(&d->fields, path, &v), "%s has no %s", d->id, path);
	return v;
}

static void generate(const struct org *o, int want_created, int want_updated)
{
	struct fx_err e;
	int created = -1, updated = -1;

	fx_err_clear(&e);
	cr_assert_eq(fx_insights_generate(o->id, "test", &created, &updated, &e), 0, "%d %s", fx_err_http(e.kind),
		     e.message);
	cr_assert_eq(created, want_created);
	cr_assert_eq(updated, want_updated);
}

/* Sets an insight's status as PATCH does; release drops its key too. */
static void set_status(const struct org *o, const struct fx_doc *d, const char *status, bool release)
{
	static const char *const mask[] = {"status", NULL};
	json_object *writes = json_object_new_array();
	struct fx_value map = {0};
	struct fx_err e;
	char key[160], rel[300], *name;

	fx_err_clear(&e);
	fx_value_map(&map);
	fx_map_set_str(&map, "status", status);
	cr_assert_eq(fx_fswrite_update(writes, d->name, &map, mask, d->update_time, NULL, &e), 0);
	if (release) {
		cr_assert_eq(fx_insights_key(fx_value_path_str(&d->fields, "type"),
					     fx_value_path_str(&d->fields, "productId"), key, sizeof(key), &e),
			     0);
		snprintf(rel, sizeof(rel), "organizations/%s/insightKeys/%s", o->id, key);
		name = fx_firestore_name(rel);
		cr_assert_eq(fx_fswrite_delete(writes, name, 1, NULL, &e), 0);
		free(name);
	}
	cr_assert_eq(fx_firestore_commit(writes, NULL, NULL, NULL, &e), 0, "%s", e.message);
	json_object_put(writes);
	fx_value_cleanup(&map);
}

Test(generate, finds_each_rule_once_with_its_metrics)
{
	struct org o;
	struct fx_doc *docs = NULL, *keys = NULL;
	const struct fx_doc *d;
	size_t n, nk;

	seed_org(&o);
	generate(&o, EXPECTED, 0);
	n = docs_of(&o, "insights", &docs);
	cr_assert_eq(n, EXPECTED);
	d = insight(docs, n, "low_stock", o.p[0], "open");
	cr_assert_not_null(d);
	cr_assert_str_eq(fx_value_path_str(&d->fields, "severity"), "warning");
	cr_assert_eq(field_int(d, "metrics.available"), 2);
	cr_assert_eq(field_int(d, "metrics.reorderPoint"), 5);
	cr_assert_str_eq(fx_value_path_str(&d->fields, "source"), "rules");
	cr_assert_str_eq(fx_value_path_str(&d->fields, "organizationId"), o.id);
	cr_assert_not_null(fx_value_path(&d->fields, "createdAt"));
	cr_assert_eq(fx_value_path(&d->fields, "recommendations")->type, FX_V_ARRAY);
	d = insight(docs, n, "stockout_risk", o.p[1], "open");
	cr_assert_not_null(d, "60 sold in 30 days, 20 left: 10 days of cover");
	cr_assert_eq(field_int(d, "metrics.unitsSold30d"), 60);
	cr_assert_float_eq(fx_value_path(&d->fields, "metrics.daysOfCover")->u.d, 10.0, 1e-9);
	cr_assert_not_null(insight(docs, n, "slow_mover", o.p[2], "open"));
	d = insight(docs, n, "sales_trend", "", "open");
	cr_assert_not_null(d);
	cr_assert_str_eq(fx_value_path_str(&d->fields, "severity"), "warning");
	cr_assert_eq(field_int(d, "metrics.revenueThisWeekCents"), 60000, "the cancelled order does not count");
	cr_assert_eq(field_int(d, "metrics.revenueLastWeekCents"), 100000);
	cr_assert_null(fx_value_path(&d->fields, "productId"));
	cr_assert_eq(field_int(insight(docs, n, "top_seller", o.p[5], "open"), "metrics.rank"), 1);
	cr_assert_eq(field_int(insight(docs, n, "top_seller", o.p[1], "open"), "metrics.rank"), 2);
	for (size_t i = 0; i < n; i++) {
		const char *p = fx_value_path_str(&docs[i].fields, "productId");

		cr_assert(!p || (strcmp(p, o.p[3]) != 0 && strcmp(p, o.p[4]) != 0 && strcmp(p, o.p[6]) != 0),
			  "no insight for the archived, cancelled-only or young product");
	}
	nk = docs_of(&o, "insightKeys", &keys);
	cr_assert_eq(nk, EXPECTED, "one key per open insight");
	fx_firestore_docs_free(docs, n);
	fx_firestore_docs_free(keys, nk);
}

Test(generate, generating_again_updates_instead_of_duplicating)
{
	struct org o;
	struct fx_doc *before = NULL, *after = NULL;
	const struct fx_doc *d;
	char id[64], updated_at[40];
	size_t n, m;

	seed_org(&o);
	generate(&o, EXPECTED, 0);
	n = docs_of(&o, "insights", &before);
	d = insight(before, n, "low_stock", o.p[0], "open");
	snprintf(id, sizeof(id), "%s", d->id);
	snprintf(updated_at, sizeof(updated_at), "%s", d->update_time);
	/* An acknowledged insight is still open: it is updated, and stays acknowledged. */
	set_status(&o, insight(before, n, "slow_mover", o.p[2], "open"), "acknowledged", false);
	generate(&o, 0, EXPECTED);
	m = docs_of(&o, "insights", &after);
	cr_assert_eq(m, EXPECTED, "no duplicates");
	d = insight(after, m, "low_stock", o.p[0], "open");
	cr_assert_str_eq(d->id, id, "the same insight");
	cr_assert_str_neq(d->update_time, updated_at, "updated");
	cr_assert_not_null(insight(after, m, "slow_mover", o.p[2], "acknowledged"));
	fx_firestore_docs_free(before, n);
	fx_firestore_docs_free(after, m);
}

Test(generate, a_closed_insight_makes_way_for_a_new_one)
{
	struct org o;
	struct fx_doc *docs = NULL;
	char resolved[64], dismissed[64];
	size_t n;

	seed_org(&o);
	generate(&o, EXPECTED, 0);
	n = docs_of(&o, "insights", &docs);
	snprintf(resolved, sizeof(resolved), "%s", insight(docs, n, "low_stock", o.p[0], "open")->id);
	snprintf(dismissed, sizeof(dismissed), "%s", insight(docs, n, "stockout_risk", o.p[1], "open")->id);
	/* As PATCH resolves (key released), and a dismissal whose key still names it. */
	set_status(&o, insight(docs, n, "low_stock", o.p[0], "open"), "resolved", true);
	set_status(&o, insight(docs, n, "stockout_risk", o.p[1], "open"), "dismissed", false);
	fx_firestore_docs_free(docs, n);
	generate(&o, 2, EXPECTED - 2);
	n = docs_of(&o, "insights", &docs);
	cr_assert_eq(n, EXPECTED + 2);
	cr_assert_str_eq(insight(docs, n, "low_stock", o.p[0], "resolved")->id, resolved, "left resolved");
	cr_assert_str_neq(insight(docs, n, "low_stock", o.p[0], "open")->id, resolved, "a new open one");
	cr_assert_str_eq(insight(docs, n, "stockout_risk", o.p[1], "dismissed")->id, dismissed);
	cr_assert_not_null(insight(docs, n, "stockout_risk", o.p[1], "open"));
	fx_firestore_docs_free(docs, n);
}

Test(generate, conditions_that_stopped_leave_open_insights_alone)
{
	struct org o;
	struct fx_doc *docs = NULL;
	json_object *writes = json_object_new_array();
	static const char *const mask[] = {"stock", "lowStock", NULL};
	struct fx_value map = {0};
	struct fx_err e;
	char rel[200], *name;
	size_t n;

	seed_org(&o);
	generate(&o, EXPECTED, 0);
	/* Low is restocked: low_stock no longer holds. */
	fx_err_clear(&e);
	fx_value_map(&map);
	fx_stock_set(&map, 50, 0, 5);
	snprintf(rel, sizeof(rel), "organizations/%s/products/%s", o.id, o.p[0]);
	name = fx_firestore_name(rel);
	cr_assert_eq(fx_fswrite_update(writes, name, &map, mask, NULL, NULL, &e), 0);
	cr_assert_eq(fx_firestore_commit(writes, NULL, NULL, NULL, &e), 0, "%s", e.message);
	free(name);
	json_object_put(writes);
	fx_value_cleanup(&map);
	generate(&o, 0, EXPECTED - 1);
	n = docs_of(&o, "insights", &docs);
	cr_assert_eq(n, EXPECTED);
	cr_assert_not_null(insight(docs, n, "low_stock", o.p[0], "open"), "the merchant resolves it");
	fx_firestore_docs_free(docs, n);
}

struct racer {
	const struct org *o;
	int created, updated, rc;
	struct fx_err e;
};

static void *race(void *arg)
{
	struct racer *x = arg;

	fx_err_clear(&x->e);
	x->rc = fx_insights_generate(x->o->id, "racer", &x->created, &x->updated, &x->e);
	return NULL;
}

Test(generate, two_generations_at_once_open_each_insight_once)
{
	struct org o;
	struct racer x[2] = {{0}, {0}};
	struct fx_doc *docs = NULL;
	pthread_t th[2];
	size_t n;

	seed_org(&o);
	for (int i = 0; i < 2; i++) {
		x[i].o = &o;
		pthread_create(&th[i], NULL, race, &x[i]);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 2; i++)
		cr_assert_eq(x[i].rc, 0, "%d %s", fx_err_http(x[i].e.kind), x[i].e.message);
	cr_assert_eq(x[0].created + x[1].created, EXPECTED, "each insight created once");
	cr_assert_eq(x[0].updated + x[1].updated, EXPECTED, "and updated by the other run");
	n = docs_of(&o, "insights", &docs);
	cr_assert_eq(n, EXPECTED, "no duplicates");
	fx_firestore_docs_free(docs, n);
}

Test(generate, refuses_an_organization_id_that_is_not_one)
{
	struct fx_err e;
	int created, updated;

	fx_err_clear(&e);
	cr_assert_eq(fx_insights_generate("../other", "test", &created, &updated, &e), -1);
	cr_assert_eq(fx_err_http(e.kind), 404);
	cr_assert_eq(created + updated, 0);
}

/* ---- Gemini on Vertex AI writes the text (a local test server stands in for Google) ---- */

#define GEMINI_TEXT "Written by Gemini from the figures."
static const char gemini_ok[] =
	"{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"{\\\"summary\\\": "
	"\\\"" GEMINI_TEXT "\\\", \\\"recommendations\\\": [\\\"Reorder soon.\\\", \\\"Watch the "
	"trend.\\\"]}\"}]},\"finishReason\":\"STOP\"}],\"modelVersion\":\"gemini-2.5-flash-001\"}";

static struct testserver *google, *gemini;
static char key_path[1024], token_url[256];

static void vertex_setup(void)
{
	const char *top = getenv("top_srcdir");

	setup();
	signal(SIGPIPE, SIG_IGN);
	google = ts_start();
	gemini = ts_start();
	snprintf(key_path, sizeof(key_path), "%s/tests/data/service_account.json", top ? top : ".");
	snprintf(token_url, sizeof(token_url), "%s/token", ts_url(google));
	ts_reply(google, 200, "Content-Type: application/json\r\n",
		 "{\"access_token\":\"ya29.insights\",\"expires_in\":3599,\"token_type\":\"Bearer\"}");
	emu.cfg.credentials = key_path;
	emu.cfg.token_url = token_url;
	emu.cfg.metadata_url = ts_url(google);
	emu.cfg.vertex_location = "europe-west4";
	emu.cfg.vertex_model = "gemini-2.5-flash";
	emu.cfg.vertex_url = ts_url(gemini);
	fx_config_set(&emu.cfg);
	fx_gauth_reset();
}

static void vertex_teardown(void)
{
	fx_gauth_reset();
	ts_stop(gemini);
	ts_stop(google);
}

TestSuite(vertex, .init = vertex_setup, .fini = vertex_teardown, .timeout = 180);

Test(vertex, gemini_writes_summary_and_recommendations_from_the_figures_only)
{
	struct org o;
	struct fx_doc *docs = NULL;
	struct ts_request req;
	size_t n;

	ts_reply(gemini, 200, "Content-Type: application/json\r\n", gemini_ok);
	seed_org(&o);
	generate(&o, EXPECTED, 0);
	cr_assert_eq(ts_count(gemini), EXPECTED, "one request per insight");
	cr_assert(ts_last(gemini, &req));
	cr_assert_null(strstr(req.body, o.id), "nothing about the organization leaves");
	n = docs_of(&o, "insights", &docs);
	for (size_t i = 0; i < n; i++) {
		cr_assert_str_eq(fx_value_path_str(&docs[i].fields, "source"), "vertex-ai");
		cr_assert_str_eq(fx_value_path_str(&docs[i].fields, "model"), "gemini-2.5-flash-001");
		cr_assert_str_eq(fx_value_path_str(&docs[i].fields, "summary"), GEMINI_TEXT);
		cr_assert_eq(fx_value_path(&docs[i].fields, "recommendations")->u.arr.n, 2);
	}
	cr_assert_eq(field_int(insight(docs, n, "low_stock", o.p[0], "open"), "metrics.available"), 2,
		     "the metrics stay the rules' own");
	fx_firestore_docs_free(docs, n);

	/* Vertex AI switched off: the next run writes the rule text and drops the model. */
	emu.cfg.vertex_model = NULL;
	fx_config_set(&emu.cfg);
	generate(&o, 0, EXPECTED);
	n = docs_of(&o, "insights", &docs);
	for (size_t i = 0; i < n; i++) {
		cr_assert_str_eq(fx_value_path_str(&docs[i].fields, "source"), "rules");
		cr_assert_null(fx_value_path(&docs[i].fields, "model"));
		cr_assert_str_neq(fx_value_path_str(&docs[i].fields, "summary"), GEMINI_TEXT);
	}
	fx_firestore_docs_free(docs, n);
}

Test(vertex, an_unavailable_vertex_leaves_the_rule_text_and_is_not_asked_again)
{
	struct org o;
	struct fx_doc *docs = NULL;
	size_t n;

	ts_reply(gemini, 503, "Content-Type: application/json\r\n",
		 "{\"error\":{\"code\":503,\"message\":\"overloaded\",\"status\":\"UNAVAILABLE\"}}");
	seed_org(&o);
	generate(&o, EXPECTED, 0);
	cr_assert(ts_count(gemini) >= 1 && ts_count(gemini) <= 2, "the first insight's attempts only, got %u",
		  ts_count(gemini));
	n = docs_of(&o, "insights", &docs);
	cr_assert_eq(n, EXPECTED);
	for (size_t i = 0; i < n; i++) {
		cr_assert_str_eq(fx_value_path_str(&docs[i].fields, "source"), "rules");
		cr_assert_null(fx_value_path(&docs[i].fields, "model"));
		cr_assert_str_neq(fx_value_path_str(&docs[i].fields, "summary"), "");
	}
	fx_firestore_docs_free(docs, n);
}

Test(vertex, a_bad_answer_for_one_insight_keeps_its_rule_text_and_asks_for_the_next)
{
	struct org o;
	struct fx_doc *docs = NULL;
	size_t n;

	ts_reply(gemini, 200, "Content-Type: application/json\r\n",
		 "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"not json\"}]},\"finishReason\":\"STOP\"}]}");
	seed_org(&o);
	generate(&o, EXPECTED, 0);
	cr_assert_geq(ts_count(gemini), EXPECTED, "every insight was tried");
	n = docs_of(&o, "insights", &docs);
	for (size_t i = 0; i < n; i++)
		cr_assert_str_eq(fx_value_path_str(&docs[i].fields, "source"), "rules");
	fx_firestore_docs_free(docs, n);
}
