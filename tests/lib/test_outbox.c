/*
 * lib/outbox, and the hook lib/stock puts on it: against Google's Cloud
 * Firestore emulator (this binary starts it, as tests/lib/test_insights.c
 * does). A listed product's stock change commits exactly one outbox entry
 * with it; an unlisted product's, or a change that leaves available as it
 * was, none; a commit that fails (the product changed since its read)
 * writes neither the change nor the entry.
 */
#include "outbox.h"
#include "webhook.h"

#include "arena.h"
#include "authz.h"
#include "emulator.h"
#include "firestore.h"
#include "fsquery.h"
#include "fswrite.h"
#include "http.h"
#include "log.h"
#include "map.h"
#include "model.h"
#include "stock.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#define PORT_ENV "FLUXORI_TEST_OUTBOX_FIRESTORE" /* host:port, set once the emulator answers */

const struct emu_fixture emu_fixture = {"outbox", EMU_ALONE, EMU_FIRESTORE, PORT_ENV, NULL};

static struct emu_client emu;

static void setup(void)
{
	fx_log_init("test_outbox", FX_LOG_ERROR + 1);
	emu_firestore_use(&emu, PORT_ENV);
}

TestSuite(outbox, .init = setup, .timeout = 180);

/* An organization of its own per test, acting as the tenant layer expects. */
struct org {
	char id[FX_ID_LEN + 1];
	char product[FX_ID_LEN + 1];
	struct fx_arena arena;
	struct fx_principal principal;
	struct fx_req req;
};

static void org_init(struct org *o, bool listed, int64_t on_hand, int64_t reserved)
{
	struct fx_value f = {0}, *l;
	struct fx_err e;
	char rel[200];

	memset(o, 0, sizeof(*o));
	fx_model_id_new(o->id);
	fx_model_id_new(o->product);
	fx_arena_init(&o->arena, 1 << 20);
	o->principal.uid = "test";
	o->principal.organization_id = o->id;
	o->principal.role = FX_ROLE_OWNER;
	o->req.arena = &o->arena;
	o->req.principal = &o->principal;
	fx_value_map(&f);
	fx_map_set_str(&f, "sku", "SKU-1");
	fx_map_set_str(&f, "organizationId", o->id);
	fx_stock_set(&f, on_hand, reserved, 0);
	if (listed) {
		l = fx_map_set(&f, "listings");
		fx_value_array(l);
		fx_value_string(fx_value_push(l), "c1/l1", 5);
	}
	snprintf(rel, sizeof(rel), "organizations/%s/products/%s", o->id, o->product);
	fx_err_clear(&e);
	cr_assert_eq(fx_firestore_create(rel, &f, NULL, &e), 0, "create %s: %s", rel, e.message);
	fx_value_cleanup(&f);
}

static void org_cleanup(struct org *o)
{
	fx_arena_cleanup(&o->arena);
}

static void read_product(struct org *o, struct fx_doc *out)
{
	struct fx_err e;
	char rel[200];

	snprintf(rel, sizeof(rel), "organizations/%s/products/%s", o->id, o->product);
	fx_err_clear(&e);
	cr_assert_eq(fx_firestore_get(rel, out, &e), 0, "%s", e.message);
}

/* The organization's outbox stock entries (the webhook events beside them are lib/webhook's). */
static size_t outbox(struct org *o, struct fx_doc **docs)
{
	struct fx_query *q = fx_fsquery_new("outbox", false);
	struct fx_err e;
	char parent[200];
	size_t n = 0;

	snprintf(parent, sizeof(parent), "organizations/%s", o->id);
	fx_err_clear(&e);
	cr_assert_eq(fx_fsquery_where_str(q, "kind", "==", "stock", &e), 0, "%s", e.message);
	cr_assert_eq(fx_firestore_query(parent, q, NULL, docs, &n, &e), 0, "%s", e.message);
	fx_fsquery_free(q);
	return n;
}

/* Commits one stock change of o's product as read now; the commit's result. */
static int change(struct org *o, const struct fx_doc *p, int64_t on_hand, int64_t reserved, struct fx_err *e)
{
	json_object *writes = json_object_new_array();
	int rc;

	fx_err_clear(e);
	rc = fx_stock_write(&o->req, writes, p, on_hand, reserved, e);
	if (rc == 0)
		rc = fx_firestore_commit(writes, NULL, NULL, NULL, e);
	json_object_put(writes);
	return rc;
}

Test(outbox, a_listed_products_stock_change_commits_exactly_one_entry_naming_it)
{
	struct org o;
	struct fx_doc p = {0}, *docs = NULL;
	struct fx_err e;
	size_t n;

	org_init(&o, true, 10, 0);
	read_product(&o, &p);
	cr_assert_eq(change(&o, &p, 7, 0, &e), 0, "%s", e.message);
	n = outbox(&o, &docs);
	cr_assert_eq(n, 1, "one entry for one change, found %zu", n);
	cr_assert_str_eq(fx_value_path_str(&docs[0].fields, "kind"), "stock");
	cr_assert_str_eq(fx_value_path_str(&docs[0].fields, "resource"), o.product);
	cr_assert_str_eq(fx_value_path_str(&docs[0].fields, "organizationId"), o.id);
	cr_assert_not_null(fx_map_get(&docs[0].fields, "at"));
	fx_firestore_docs_free(docs, n);
	fx_firestore_doc_cleanup(&p);
	read_product(&o, &p);
	cr_assert_eq(fx_stock(&p, "available"), 7, "the change itself committed with its entry");
	fx_firestore_doc_cleanup(&p);
	org_cleanup(&o);
}

Test(outbox, an_unlisted_products_stock_change_writes_no_entry)
{
	struct org o;
	struct fx_doc p = {0}, *docs = NULL;
	struct fx_err e;

	org_init(&o, false, 10, 0);
	read_product(&o, &p);
	cr_assert_eq(change(&o, &p, 4, 0, &e), 0, "%s", e.message);
	cr_assert_eq(outbox(&o, &docs), 0);
	fx_firestore_doc_cleanup(&p);
	read_product(&o, &p);
	cr_assert_eq(fx_stock(&p, "onHand"), 4);
	fx_firestore_doc_cleanup(&p);
	org_cleanup(&o);
}

Test(outbox, a_change_that_keeps_available_writes_no_entry)
{
	struct org o;
	struct fx_doc p = {0}, *docs = NULL;
	struct fx_err e;

	org_init(&o, true, 10, 2);
	read_product(&o, &p);
	/* Shipping 2 reserved units: onHand and reserved drop together, available stays 8. */
	cr_assert_eq(change(&o, &p, 8, 0, &e), 0, "%s", e.message);
	cr_assert_eq(outbox(&o, &docs), 0);
	fx_firestore_doc_cleanup(&p);
	org_cleanup(&o);
}

Test(outbox, a_commit_that_fails_writes_neither_the_change_nor_the_entry)
{
	struct org o;
	struct fx_doc p = {0}, now = {0}, *docs = NULL;
	struct fx_err e;

	org_init(&o, true, 10, 0);
	read_product(&o, &p);
	/* Someone else changes the product after our read: our commit's precondition fails. */
	read_product(&o, &now);
	cr_assert_eq(change(&o, &now, 9, 0, &e), 0, "%s", e.message);
	fx_firestore_doc_cleanup(&now);
	cr_assert_eq(change(&o, &p, 3, 0, &e), -1, "a write on a stale read must fail");
	read_product(&o, &now);
	cr_assert_eq(fx_stock(&now, "onHand"), 9, "the stale change did not land");
	cr_assert_eq(outbox(&o, &docs), 1, "only the change that committed left an entry");
	fx_firestore_docs_free(docs, 1);
	fx_firestore_doc_cleanup(&now);
	fx_firestore_doc_cleanup(&p);
	org_cleanup(&o);
}

static int aborting_txn(struct fx_txn *t, void *arg, struct fx_err *e)
{
	struct org *o = arg;
	struct fx_doc p = {0};
	const char *paths[1];
	char rel[200];
	int rc;

	snprintf(rel, sizeof(rel), "organizations/%s/products/%s", o->id, o->product);
	paths[0] = rel;
	if (fx_firestore_batch_get(paths, 1, t->id, &p, e) < 0)
		return -1;
	rc = fx_stock_write(&o->req, t->writes, &p, 1, 0, e);
	fx_firestore_doc_cleanup(&p);
	if (rc < 0)
		return -1;
	/* Something later in the same transaction refuses: nothing may be written. */
	return fx_err_set(e, FX_FAILED_PRECONDITION, "refused after the stock write");
}

Test(outbox, an_aborted_transaction_writes_no_entry)
{
	struct org o;
	struct fx_doc p = {0}, *docs = NULL;
	struct fx_err e;

	org_init(&o, true, 10, 0);
	fx_err_clear(&e);
	cr_assert_eq(fx_firestore_run_transaction(aborting_txn, &o, &e), -1);
	cr_assert(fx_err_is(&e, FX_FAILED_PRECONDITION), "the transaction's own refusal, got %s", e.message);
	cr_assert_eq(outbox(&o, &docs), 0);
	read_product(&o, &p);
	cr_assert_eq(fx_stock(&p, "onHand"), 10);
	fx_firestore_doc_cleanup(&p);
	org_cleanup(&o);
}

Test(outbox, add_refuses_an_empty_resource_and_leaves_writes_unchanged)
{
	json_object *writes = json_object_new_array();
	struct fx_err e;

	fx_err_clear(&e);
	cr_assert_eq(fx_outbox_add(writes, "org1", "stock", "", NULL, &e), -1);
	cr_assert(fx_err_is(&e, FX_INVALID_ARGUMENT));
	fx_err_clear(&e);
	cr_assert_eq(fx_outbox_add(writes, "org/1", "stock", "p1", NULL, &e), -1);
	cr_assert_eq(json_object_array_length(writes), 0);
	fx_err_clear(&e);
	cr_assert_eq(fx_outbox_add(writes, "org1", "stock", "p1", NULL, &e), 0, "%s", e.message);
	cr_assert_eq(json_object_array_length(writes), 1);
	json_object_put(writes);
}

/* The organization's outbox webhook events (kind event), oldest first by their sequence. */
static size_t events(struct org *o, struct fx_doc **docs)
{
	struct fx_query *q = fx_fsquery_new("outbox", false);
	struct fx_err e;
	char parent[200];
	size_t n = 0;

	snprintf(parent, sizeof(parent), "organizations/%s", o->id);
	fx_err_clear(&e);
	cr_assert_eq(fx_fsquery_where_str(q, "kind", "==", FX_OUTBOX_EVENT, &e), 0, "%s", e.message);
	cr_assert_eq(fx_fsquery_order_by(q, "payload.seq", false, &e), 0, "%s", e.message);
	cr_assert_eq(fx_fsquery_order_by(q, "payload.sub", false, &e), 0, "%s", e.message);
	cr_assert_eq(fx_firestore_query(parent, q, NULL, docs, &n, &e), 0, "%s", e.message);
	fx_fsquery_free(q);
	return n;
}

Test(outbox, every_stock_change_commits_its_webhook_events_ordered_by_the_version_it_read)
{
	struct org o;
	struct fx_doc p = {0}, *docs = NULL;
	struct fx_err e;
	int64_t seq0 = 0, seq1 = 0, seq2 = 0, avail = -1, sub = -1;
	size_t n;

	org_init(&o, false, 10, 0); /* unlisted: no stock entry, but the merchant's webhooks hear of it */
	read_product(&o, &p);
	cr_assert_eq(change(&o, &p, 3, 0, &e), 0, "%s", e.message);
	fx_firestore_doc_cleanup(&p);
	read_product(&o, &p);
	/* 3 -> 0 with reorderPoint 0: lowStock turns true */
	cr_assert_eq(change(&o, &p, 0, 0, &e), 0, "%s", e.message);
	fx_firestore_doc_cleanup(&p);
	read_product(&o, &p);
	cr_assert_eq(change(&o, &p, 0, 0, &e), 0, "%s", e.message); /* nothing changed: no event */
	n = events(&o, &docs);
	cr_assert_eq(n, 3, "stock_changed, stock_changed, low_stock; found %zu", n);
	cr_assert_str_eq(fx_value_path_str(&docs[0].fields, "payload.type"), "product.stock_changed");
	cr_assert_str_eq(fx_value_path_str(&docs[1].fields, "payload.type"), "product.stock_changed");
	cr_assert_str_eq(fx_value_path_str(&docs[2].fields, "payload.type"), "product.low_stock");
	cr_assert_str_eq(fx_value_path_str(&docs[0].fields, "resource"), o.product);
	cr_assert_str_eq(fx_value_path_str(&docs[0].fields, "payload.resourceType"), "product");
	cr_assert(fx_value_path_int(&docs[0].fields, "payload.seq", &seq0));
	cr_assert(fx_value_path_int(&docs[1].fields, "payload.seq", &seq1));
	cr_assert(fx_value_path_int(&docs[2].fields, "payload.seq", &seq2));
	cr_assert_gt(seq0, 0, "a change of an existing product carries the version it read");
	cr_assert_gt(seq1, seq0, "the later change read the version the earlier one made");
	cr_assert_eq(seq2, seq1, "low_stock is of the same commit");
	cr_assert(fx_value_path_int(&docs[2].fields, "payload.sub", &sub));
	cr_assert_eq(sub, 1, "and comes after its stock_changed");
	cr_assert(fx_value_path_int(&docs[0].fields, "payload.data.stock.available", &avail));
	cr_assert_eq(avail, 3);
	cr_assert(fx_value_path_int(&docs[0].fields, "payload.data.previous.available", &avail));
	cr_assert_eq(avail, 10);
	fx_firestore_docs_free(docs, n);
	fx_firestore_doc_cleanup(&p);
	org_cleanup(&o);
}
