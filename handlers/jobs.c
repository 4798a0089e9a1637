/*
 * jobs: Cloud Scheduler's targets. POST /v1/jobs/{name} runs a job for every
 * organization (Google-signed OIDC token of an allowed service account) or
 * for the caller's own (an admin's Firebase token). A lease document keeps
 * overlapping runs out (409 ABORTED) and expires if a run dies; every run
 * is recorded in jobRuns with its summary; organizations are walked in
 * pages, and one organization's failure is recorded while the others go on.
 * A run over all organizations is recorded once whole (organizationId "*",
 * for the platform's operators and logs only) and once per organization
 * (its part: that organization's own figures, runId naming the whole). An
 * admin lists only the documents of their own organization.
 */
#include "authz.h"
#include "chanpoll.h"
#include "chanpush.h"
#include "files.h"
#include "firestore.h"
#include "fswrite.h"
#include "gcs.h"
#include "http.h"
#include "importer.h"
#include "insights.h"
#include "lease.h"
#include "json.h"
#include "log.h"
#include "map.h"
#include "mem.h"
#include "model.h"
#include "order.h"
#include "report.h"
#include "stock.h"
#include "str.h"
#include "tenant.h"
#include "whdeliver.h"
#include "ts.h"
#include "worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int run(struct fx_req *r, struct fx_err *e);
static int runs(struct fx_req *r, struct fx_err *e);

static const struct fx_route routes[] = {
	{"GET", "/v1/jobs/runs", runs, FX_MEMBER, FX_ROLE_ADMIN, 0, 0},
	{"POST", "/v1/jobs/{name}", run, FX_JOB, FX_ROLE_ADMIN, 0, 0},
};

#define LEASE_SECONDS 900 /* a run that dies frees its job after 15 minutes */
/*
 * webhook-deliver runs every minute and holds its own lease per organization
 * (lib/whdeliver): a killed run must not stop deliveries for 15 minutes.
 */
#define WEBHOOK_LEASE_SECONDS 120
#define ORG_PAGE 100
#define MAX_ERRORS 20
#define STALE_UPLOAD_S (24 * 3600)
/*
 * An import record still running whose updatedAt (written after every
 * group of 250 rows) is an hour old has lost its worker: a group's
 * retries take minutes at worst (lib/importer.c).
 */
#define STALE_IMPORT_S 3600
#define OLD_RUN_S (30 * 24 * 3600)
#define OLD_INSIGHT_S (90 * 24 * 3600)
/*
 * importRows/{hash}: an applied delta row's record, which makes the same
 * file posted again by mistake (a double upload, a re-run after a crash)
 * change stock once. Those mistakes happen within hours or days; after 90
 * days the same file is a deliberate adjustment again (docs/imports.md).
 */
#define OLD_IMPORT_ROW_S (90 * 24 * 3600)
#define CLEANUP_BATCH 200
#define CHANNELS_MAX 500 /* channels of one organization the cleanup visits (far more than a merchant has) */
#define OLD_DELIVERY_S (7 * 24 * 3600) /* channels/{cid}/deliveries markers: channels retry for 48 h at most */
#define OLD_WEBHOOK_DELIVERY_S (30 * 24 * 3600) /* webhooks/{wid}/deliveries: the log shows 30 days */
#define RUNS_BATCH 500 /* a commit takes at most 500 writes */
#define RUNS_BATCHES 20

static const char *const jobs[] = {"inventory-check", "sync", "reports", "cleanup", "channel-push",
				   "webhook-deliver", NULL};

/* What one run (or one organization's part of a run over all) did, as recorded in its jobRuns document. */
struct run_state {
	const char *job;
	const char *scope; /* "all" or the organization id */
	const char *org; /* whose record it is: the organization id, or "*" for a whole run over all */
	const char *run_id; /* for a part: the run over all it belongs to; else NULL */
	const char *by; /* service account email or uid */
	struct fx_value summary; /* FX_V_MAP of counters and repairs */
	struct fx_value errors; /* FX_V_ARRAY of {organizationId, message} */
	int organizations;
	int failed;
};

/* Acts for an organization without a client: the arena and principal the tenant layer needs. */
struct org_ctx {
	struct fx_req req;
	struct fx_principal principal;
};

static void org_ctx_init(struct org_ctx *c, struct fx_arena *arena, const char *org)
{
	memset(c, 0, sizeof(*c));
	c->principal.uid = "fluxori-jobs";
	c->principal.organization_id = org;
	c->principal.role = FX_ROLE_OWNER;
	c->req.arena = arena;
	c->req.principal = &c->principal;
}

static void counter_add(struct fx_value *map, const char *name, int64_t n)
{
	int64_t v = 0;

	fx_value_path_int(map, name, &v);
	fx_map_set_int(map, name, v + n);
}

/* ---- leases ---- */

/* The job's lease for this scope: -1 with 409 ABORTED and Retry-After when another run holds it. */
static int lease(const char *job, const char *scope, const char *run_id, bool release, struct fx_err *e)
{
	char rel[300];
	struct fx_lease l = {.rel = rel,
			     .holder = run_id,
			     .seconds = strcmp(job, "webhook-deliver") == 0 ? WEBHOOK_LEASE_SECONDS : LEASE_SECONDS};

	if (fx_str_fmt(rel, sizeof(rel), "jobLeases/%s-%s", job, scope) < 0)
		return fx_err_set(e, FX_INTERNAL, "lease path over %zu bytes", sizeof(rel));
	if (release)
		return fx_lease_release(&l, e);
	if (fx_lease_take(&l, e) < 0)
		return -1;
	if (l.busy) {
		int64_t left = l.busy_until - (int64_t)time(NULL);

		fx_err_set(e, FX_ABORTED, "this job is already running (run %s)",
			   l.busy_holder[0] ? l.busy_holder : "?");
		e->retry_after = left > 0 ? (int)left : 1;
		return -1;
	}
	return 0;
}

/* ---- the jobs, each for one organization ---- */

static int inventory_check(struct org_ctx *o, struct run_state *st, struct fx_err *e)
{
	int created = 0, updated = 0;

	if (fx_insights_generate(o->principal.organization_id, st->by, &created, &updated, e) < 0)
		return -1;
	counter_add(&st->summary, "insightsCreated", created);
	counter_add(&st->summary, "insightsUpdated", updated);
	return 0;
}

/*
 * sync: stock.reserved must equal what open orders hold; repairs drift,
 * reports each repair. The transaction body only collects (checked and
 * repairs are rebuilt by each attempt); what is logged and counted is what
 * the committed attempt wrote.
 */
struct sync_ctx {
	struct org_ctx *o;
	struct run_state *st;
	int checked;
	struct fx_value repairs; /* FX_V_ARRAY, rebuilt on each attempt */
};

#define SYNC_MAX_ORDERS 5000
#define SYNC_MAX_PRODUCTS 5000

/* Reads in t the organization's collection (status in states when given), at most max documents. */
static int sync_read(struct fx_txn *t, struct fx_req *r, const char *collection, const struct fx_value *states, int max,
		     const char *what, struct fx_doc **docs, size_t *n, struct fx_err *e)
{
	const char *parent;
	struct fx_query *q = fx_tenant_query(r, NULL, collection, &parent, e);
	int rc = -1;

	if (!q || (states && fx_fsquery_where(q, "status", "in", states, e) < 0))
		goto out;
	fx_fsquery_limit(q, max + 1);
	if (fx_firestore_query(parent, q, t->id, docs, n, e) < 0)
		goto out;
	if (*n > (size_t)max) {
		fx_err_set(e, FX_FAILED_PRECONDITION, "more than %d %s: sync needs paging", max, what);
		goto out;
	}
	rc = 0;
out:
	fx_fsquery_free(q);
	return rc;
}

/* Writes in t each product's reserved stock that differs from expected, and notes the repair in c. */
static int sync_repair(struct fx_txn *t, struct sync_ctx *c, const struct fx_doc *products, size_t nproducts,
		       const int64_t *expected, struct fx_err *e)
{
	for (size_t p = 0; p < nproducts; p++) {
		int64_t reserved = fx_stock(&products[p], "reserved"), on_hand = fx_stock(&products[p], "onHand");
		struct fx_value *rep;

		c->checked++;
		if (reserved == expected[p])
			continue;
		if (fx_stock_write(&c->o->req, t->writes, &products[p], on_hand, expected[p], e) < 0)
			return -1;
		/* Logged by sync_org once the commit holds: this attempt may still abort. */
		rep = fx_value_push(&c->repairs);
		fx_value_map(rep);
		fx_map_set_str(rep, "organizationId", c->o->principal.organization_id);
		fx_map_set_str(rep, "productId", products[p].id);
		fx_map_set_int(rep, "reservedWas", reserved);
		fx_map_set_int(rep, "reservedNow", expected[p]);
	}
	return 0;
}

static int sync_txn(struct fx_txn *t, void *arg, struct fx_err *e)
{
	struct sync_ctx *c = arg;
	struct fx_req *r = &c->o->req;
	struct fx_doc *orders = NULL, *products = NULL;
	size_t norders = 0, nproducts = 0;
	struct fx_value states = {0};
	int64_t *expected = NULL;
	int rc = -1;

	fx_value_cleanup(&c->repairs);
	fx_value_array(&c->repairs);
	c->checked = 0;
	fx_value_array(&states);
	for (int i = 0; fx_order_reserving[i]; i++)
		fx_value_string(fx_value_push(&states), fx_order_reserving[i], strlen(fx_order_reserving[i]));
	if (sync_read(t, r, "orders", &states, SYNC_MAX_ORDERS, "open orders", &orders, &norders, e) < 0 ||
	    sync_read(t, r, "products", NULL, SYNC_MAX_PRODUCTS, "products", &products, &nproducts, e) < 0)
		goto out;
	expected = fx_mem_xcalloc(nproducts ? nproducts : 1, sizeof(*expected));
	if (fx_order_reserved(orders, norders, products, nproducts, expected) < 0) {
		fx_err_set(e, FX_INTERNAL, "the open orders reserve more of a product than 64 bits hold");
		goto out;
	}
	rc = sync_repair(t, c, products, nproducts, expected, e);
out:
	fx_firestore_docs_free(orders, norders);
	fx_firestore_docs_free(products, nproducts);
	fx_value_cleanup(&states);
	free(expected);
	return rc;
}

/* The channels' orders since each one's cursor: what a webhook that never came missed (lib/chanpoll). */
static int sync_channels(struct org_ctx *o, struct run_state *st, struct fx_err *e)
{
	struct fx_chanpoll_stats ps;

	memset(&ps, 0, sizeof(ps));
	if (fx_chanpoll_run(o->principal.organization_id, NULL, &ps, e) < 0)
		return -1;
	counter_add(&st->summary, "channelsPolled", ps.channels);
	counter_add(&st->summary, "channelsFailed", ps.channels_failed);
	counter_add(&st->summary, "ordersPolled", ps.orders_seen);
	counter_add(&st->summary, "ordersCreated", ps.orders_created);
	counter_add(&st->summary, "ordersUpdated", ps.orders_updated);
	return 0;
}

static int sync_org(struct org_ctx *o, struct run_state *st, struct fx_err *e)
{
	struct sync_ctx c = {o, st, 0, {0}};
	struct fx_value *all;

	fx_value_array(&c.repairs);
	if (fx_firestore_run_transaction(sync_txn, &c, e) < 0) {
		fx_value_cleanup(&c.repairs);
		return -1;
	}
	for (size_t i = 0; i < c.repairs.u.arr.n; i++) {
		const struct fx_value *rep = &c.repairs.u.arr.items[i];
		int64_t was = 0, now = 0;

		fx_value_path_int(rep, "reservedWas", &was);
		fx_value_path_int(rep, "reservedNow", &now);
		fx_log_info("sync: organization %s product %s reserved %lld, open orders hold %lld: repaired",
			    o->principal.organization_id, fx_value_path_str(rep, "productId"), (long long)was,
			    (long long)now);
	}
	counter_add(&st->summary, "productsChecked", c.checked);
	counter_add(&st->summary, "repaired", (int64_t)c.repairs.u.arr.n);
	all = (struct fx_value *)fx_map_get(&st->summary, "repairs");
	if (!all) {
		all = fx_map_set(&st->summary, "repairs");
		fx_value_array(all);
	}
	for (size_t i = 0; i < c.repairs.u.arr.n && all->u.arr.n < 500; i++)
		fx_value_copy(fx_value_push(all), &c.repairs.u.arr.items[i]);
	fx_value_cleanup(&c.repairs);
	return sync_channels(o, st, e);
}

/* channel-push: the outbox's stock changes to the channels (lib/chanpush). */
static int channel_push_org(struct org_ctx *o, struct run_state *st, struct fx_err *e)
{
	struct fx_chanpush_stats ps;

	memset(&ps, 0, sizeof(ps));
	if (fx_chanpush_run(o->principal.organization_id, NULL, false, &ps, e) < 0)
		return -1;
	counter_add(&st->summary, "outboxRead", ps.entries_read);
	counter_add(&st->summary, "outboxDeleted", ps.entries_deleted);
	counter_add(&st->summary, "listingsPushed", ps.listings_pushed);
	counter_add(&st->summary, "listingsUnchanged", ps.listings_unchanged);
	counter_add(&st->summary, "listingsFailed", ps.listings_failed);
	counter_add(&st->summary, "pushCalls", ps.calls);
	counter_add(&st->summary, "pushCallsFailed", ps.calls_failed);
	counter_add(&st->summary, "channelsWaiting", ps.channels_waiting);
	counter_add(&st->summary, "channelsRefused", ps.channels_refused);
	counter_add(&st->summary, "organizationsBusy", ps.busy ? 1 : 0);
	return 0;
}

/* webhook-deliver: the outbox's events to the organization's webhook subscriptions (lib/whdeliver). */
static int webhook_deliver_org(struct org_ctx *o, struct run_state *st, struct fx_err *e)
{
	struct fx_whdeliver_stats ws;

	memset(&ws, 0, sizeof(ws));
	if (fx_whdeliver_run(o->principal.organization_id, &ws, e) < 0)
		return -1;
	counter_add(&st->summary, "outboxRead", ws.events_read);
	counter_add(&st->summary, "deliveriesCreated", ws.deliveries_created);
	counter_add(&st->summary, "delivered", ws.delivered);
	counter_add(&st->summary, "deliveriesFailed", ws.failed);
	counter_add(&st->summary, "deliveriesGivenUp", ws.given_up);
	counter_add(&st->summary, "webhooksDisabled", ws.disabled);
	counter_add(&st->summary, "fanoutIncomplete", ws.fanout_incomplete ? 1 : 0);
	counter_add(&st->summary, "organizationsBusy", ws.busy ? 1 : 0);
	return 0;
}

/* reports: yesterday's sales report in the organization's own timezone. */
static int reports_org(struct org_ctx *o, struct run_state *st, struct fx_err *e)
{
	struct fx_doc file = {0};
	char day[11];
	int rc;

	rc = fx_report_yesterday(&o->req, day, e);
	if (rc == 0)
		rc = fx_report_run(&o->req, "sales", day, day, &file, e);
	if (rc == 0)
		counter_add(&st->summary, "reportsWritten", 1);
	fx_firestore_doc_cleanup(&file);
	return rc;
}

/*
 * cleanup: the query of the organization's documents in every collection
 * named collection, at any depth: a collection group from the root (the
 * emulator refuses one below a document), limited to the organization by
 * its organizationId like fx_tenant_query's.
 */
static struct fx_query *group_query(struct org_ctx *o, const char *collection, const char **parent_rel,
				    struct fx_err *e)
{
	struct fx_query *q = fx_fsquery_new(collection, true);
	struct fx_value org = {0};
	int rc;

	fx_value_string(&org, o->principal.organization_id, strlen(o->principal.organization_id));
	rc = fx_fsquery_where(q, "organizationId", "==", &org, e);
	fx_value_cleanup(&org);
	if (rc < 0) {
		fx_fsquery_free(q);
		return NULL;
	}
	*parent_rel = "";
	return q;
}

/*
 * cleanup: deletes the documents q finds in collection below under (relative to the organization, NULL for
 * the organization itself; EVERY_DEPTH: every collection of that name at any depth, the organization's documents)
 * and their objects for files, in batches.
 */
static const char EVERY_DEPTH[] = "(every depth)"; /* compared by address */
static int delete_found(struct org_ctx *o, const char *under, const char *collection, const char *field, const char *op,
			const struct fx_value *v, const char *also_field, const struct fx_value *also,
			const char *counter, struct run_state *st, struct fx_err *e)
{
	for (;;) {
		const char *parent;
		struct fx_query *q = under == EVERY_DEPTH ? group_query(o, collection, &parent, e)
							  : fx_tenant_query(&o->req, under, collection, &parent, e);
		struct fx_doc *docs = NULL;
		size_t n = 0;
		json_object *writes;
		int rc = -1;

		if (!q || fx_fsquery_where(q, field, op, v, e) < 0 ||
		    (also_field && fx_fsquery_where(q, also_field, "==", also, e) < 0)) {
			fx_fsquery_free(q);
			return -1;
		}
		fx_fsquery_limit(q, CLEANUP_BATCH);
		rc = fx_firestore_query(parent, q, NULL, &docs, &n, e);
		fx_fsquery_free(q);
		if (rc < 0)
			return -1;
		if (n == 0)
			return 0;
		writes = json_object_new_array();
		for (size_t i = 0; i < n && rc == 0; i++) {
			const char *object = fx_value_path_str(&docs[i].fields, "object");

			/* A file's object goes first; a missing one is already what we want. */
			if (object && fx_gcs_delete(object, -1, e) < 0) {
				if (!fx_err_is(e, FX_NOT_FOUND)) {
					rc = -1;
					break;
				}
				fx_err_clear(e);
			}
			rc = fx_fswrite_delete(writes, docs[i].name, -1, docs[i].update_time, e);
		}
		if (rc == 0)
			rc = fx_firestore_commit(writes, NULL, NULL, NULL, e);
		json_object_put(writes);
		fx_firestore_docs_free(docs, n);
		if (rc < 0)
			return -1;
		counter_add(&st->summary, counter, (int64_t)n);
		if (n < CLEANUP_BATCH)
			return 0;
	}
}

/* cleanup: every channel's delivery markers (channels/{cid}/deliveries) seen before cutoff. */
static int delete_markers(struct org_ctx *o, const struct fx_value *cutoff, struct run_state *st, struct fx_err *e)
{
	static const char *const mask[] = {"organizationId", NULL};
	const char *parent;
	struct fx_query *q = fx_tenant_query(&o->req, NULL, "channels", &parent, e);
	struct fx_doc *docs = NULL;
	size_t n = 0;
	int rc;

	if (!q || fx_fsquery_select(q, mask, 1, e) < 0) {
		fx_fsquery_free(q);
		return -1;
	}
	fx_fsquery_limit(q, CHANNELS_MAX);
	rc = fx_firestore_query(parent, q, NULL, &docs, &n, e);
	fx_fsquery_free(q);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const char *under = fx_arena_printf(o->req.arena, "channels/%s", docs[i].id);

		rc = under ? delete_found(o, under, "deliveries", "at", "<", cutoff, NULL, NULL,
					  "deliveryMarkersRemoved", st, e)
			   : fx_err_set(e, FX_INTERNAL, "out of request memory");
	}
	fx_firestore_docs_free(docs, n);
	return rc;
}

/*
 * cleanup: every webhook delivery (webhooks/{wid}/deliveries) of an event
 * before cutoff, its subscription deleted or not: one query over the
 * "deliveries" collections, the organization's documents (channels'
 * markers have no createdAt, so none is among them; the index is
 * firestore.indexes.json's COLLECTION_GROUP deliveries one). Listing the subscriptions instead
 * would never find a deleted one's log, which then stayed forever.
 */
static int delete_hook_deliveries(struct org_ctx *o, const struct fx_value *cutoff, struct run_state *st,
				  struct fx_err *e)
{
	return delete_found(o, EVERY_DEPTH, "deliveries", "createdAt", "<", cutoff, NULL, NULL,
			    "webhookDeliveriesRemoved", st, e);
}

static int cleanup_org(struct org_ctx *o, struct run_state *st, struct fx_err *e)
{
	int64_t now = (int64_t)time(NULL);
	struct fx_value cutoff = {0}, pending = {0}, expired = {0}, resolved = {0}, dismissed = {0};
	int64_t ended = 0;
	int rc;

	fx_value_ts(&cutoff, now - STALE_UPLOAD_S, 0);
	fx_value_string(&pending, "pending", 7);
	fx_value_int(&expired, now);
	rc = delete_found(o, NULL, "files", "createdAt", "<", &cutoff, "status", &pending, "staleUploadsRemoved", st,
			  e);
	if (rc == 0)
		rc = delete_found(o, NULL, "idempotency", "expiresAt", "<", &expired, NULL, NULL,
				  "idempotencyKeysRemoved", st, e);
	fx_value_cleanup(&cutoff);
	fx_value_ts(&cutoff, now - OLD_DELIVERY_S, 0);
	if (rc == 0)
		rc = delete_markers(o, &cutoff, st, e);
	fx_value_ts(&cutoff, now - OLD_WEBHOOK_DELIVERY_S, 0);
	if (rc == 0)
		rc = delete_hook_deliveries(o, &cutoff, st, e);
	fx_value_ts(&cutoff, now - OLD_IMPORT_ROW_S, 0);
	if (rc == 0)
		rc = delete_found(o, NULL, "importRows", "at", "<", &cutoff, NULL, NULL, "importRowsRemoved", st, e);
	if (rc == 0)
		rc = fx_import_fail_stale(&o->req, now, STALE_IMPORT_S, &ended, e);
	if (rc == 0)
		counter_add(&st->summary, "staleImportsFailed", ended);
	fx_value_ts(&cutoff, now - OLD_INSIGHT_S, 0);
	fx_value_string(&resolved, "resolved", 8);
	fx_value_string(&dismissed, "dismissed", 9);
	if (rc == 0)
		rc = delete_found(o, NULL, "insights", "updatedAt", "<", &cutoff, "status", &resolved,
				  "insightsRemoved", st, e);
	if (rc == 0)
		rc = delete_found(o, NULL, "insights", "updatedAt", "<", &cutoff, "status", &dismissed,
				  "insightsRemoved", st, e);
	fx_value_cleanup(&cutoff);
	fx_value_cleanup(&pending);
	fx_value_cleanup(&expired);
	fx_value_cleanup(&resolved);
	fx_value_cleanup(&dismissed);
	return rc;
}

/*
 * Job runs older than 30 days are global documents, removed by the cleanup
 * run over all organizations: up to RUNS_BATCHES batches of 500 per run, as
 * runs over all organizations leave one document per organization.
 */
static int cleanup_runs(struct run_state *st, struct fx_err *e)
{
	for (int batch = 0; batch < RUNS_BATCHES; batch++) {
		struct fx_value cutoff = {0};
		struct fx_query *q = fx_fsquery_new("jobRuns", false);
		struct fx_doc *docs = NULL;
		size_t n = 0;
		json_object *writes = NULL;
		int rc = -1;

		fx_value_ts(&cutoff, (int64_t)time(NULL) - OLD_RUN_S, 0);
		if (fx_fsquery_where(q, "startedAt", "<", &cutoff, e) < 0)
			goto next;
		fx_fsquery_limit(q, RUNS_BATCH);
		if (fx_firestore_query("", q, NULL, &docs, &n, e) < 0)
			goto next;
		writes = json_object_new_array();
		for (size_t i = 0; i < n; i++)
			if (fx_fswrite_delete(writes, docs[i].name, -1, NULL, e) < 0)
				goto next;
		if (n && fx_firestore_commit(writes, NULL, NULL, NULL, e) < 0)
			goto next;
		counter_add(&st->summary, "jobRunsRemoved", (int64_t)n);
		rc = n < RUNS_BATCH ? 1 : 0;
	next:
		fx_value_cleanup(&cutoff);
		fx_fsquery_free(q);
		fx_firestore_docs_free(docs, n);
		json_object_put(writes);
		if (rc != 0)
			return rc < 0 ? -1 : 0;
	}
	return 0;
}

typedef int (*org_job)(struct org_ctx *o, struct run_state *st, struct fx_err *e);

/* Runs job for one organization; a failure is recorded and the run goes on. */
static void run_org(struct fx_req *r, org_job job, const char *org, struct run_state *st)
{
	struct fx_arena arena;
	struct org_ctx o;
	struct fx_err e;

	fx_err_clear(&e);
	fx_arena_init(&arena, 32u * 1024 * 1024);
	org_ctx_init(&o, &arena, org);
	st->organizations++;
	if (job(&o, st, &e) < 0) {
		struct fx_value *err;

		st->failed++;
		fx_log_warn("job %s: organization %s failed: %s", st->job, org, e.message);
		if (st->errors.u.arr.n < MAX_ERRORS) {
			err = fx_value_push(&st->errors);
			fx_value_map(err);
			fx_map_set_str(err, "organizationId", org);
			fx_map_set_str(err, "message", e.message);
		}
	}
	fx_arena_cleanup(&arena);
	(void)r;
}

static int record_run(const char *id, const struct run_state *st, const char *status, bool start, bool finish,
		      const int64_t started[2], struct fx_err *e);

static void add_counters(struct fx_value *into, const struct fx_value *from)
{
	for (size_t i = 0; from->type == FX_V_MAP && i < from->u.map.n; i++)
		if (from->u.map.fields[i].value.type == FX_V_INT)
			counter_add(into, from->u.map.fields[i].name, from->u.map.fields[i].value.u.i);
}

/*
 * Whether a part is not worth its own jobRuns document: a channel-push run
 * every minute over every organization would otherwise record 1440 parts
 * a day per organization, almost all of them with nothing to push.
 */
static bool idle_part(const struct run_state *part)
{
	int64_t read = 0;
	int64_t tried = 0;

	if (strcmp(part->job, "webhook-deliver") == 0)
		return part->failed == 0 && (!fx_value_path_int(&part->summary, "outboxRead", &read) || read == 0) &&
		       (!fx_value_path_int(&part->summary, "delivered", &tried) || tried == 0) &&
		       (!fx_value_path_int(&part->summary, "deliveriesFailed", &tried) || tried == 0) &&
		       (!fx_value_path_int(&part->summary, "organizationsBusy", &read) || read == 0);
	return strcmp(part->job, "channel-push") == 0 && part->failed == 0 &&
	       (!fx_value_path_int(&part->summary, "outboxRead", &read) || read == 0) &&
	       (!fx_value_path_int(&part->summary, "organizationsBusy", &read) || read == 0);
}

/*
 * One organization's part of the run over all organizations run_id: run in
 * its own state, recorded as a jobRuns document of that organization (its
 * own id, runId naming the whole), then added to the whole run's totals.
 */
static void run_part(struct fx_req *r, org_job job, const char *org, const char *run_id, struct run_state *all)
{
	struct run_state part = {0};
	struct fx_err e;
	int64_t started[2];
	int32_t nanos;
	char id[FX_ID_LEN + 1];

	part.job = all->job;
	part.scope = "all";
	part.org = org;
	part.run_id = run_id;
	part.by = all->by;
	fx_value_map(&part.summary);
	fx_value_array(&part.errors);
	fx_ts_now(&started[0], &nanos);
	started[1] = nanos / 1000000 * 1000000;
	run_org(r, job, org, &part);
	fx_model_id_new(id);
	fx_err_clear(&e);
	if (idle_part(&part))
		; /* nothing to record: the whole run counts it */
	else if (record_run(id, &part, part.failed ? "failed" : "succeeded", true, true, started, &e) < 0)
		fx_log_warn("job %s: the part of organization %s was not recorded: %s", all->job, org, e.message);
	add_counters(&all->summary, &part.summary);
	all->organizations += part.organizations;
	all->failed += part.failed;
	for (size_t i = 0; i < part.errors.u.arr.n && all->errors.u.arr.n < MAX_ERRORS; i++)
		fx_value_copy(fx_value_push(&all->errors), &part.errors.u.arr.items[i]);
	fx_value_cleanup(&part.summary);
	fx_value_cleanup(&part.errors);
}

/* Every organization, a page at a time, each as its part of run_id. */
static int run_all(struct fx_req *r, org_job job, const char *run_id, struct run_state *st, struct fx_err *e)
{
	char last[200] = "";

	for (;;) {
		struct fx_query *q = fx_fsquery_new("organizations", false);
		char *root = fx_firestore_name("");
		struct fx_doc *docs = NULL;
		size_t n = 0;
		int rc = fx_fsquery_parent(q, root, e);

		if (rc == 0)
			rc = fx_fsquery_order_by(q, "__name__", false, e);
		if (rc == 0 && last[0]) {
			struct fx_value v = {0};

			fx_value_string(&v, last, strlen(last));
			rc = fx_fsquery_start_after(q, &v, 1, e);
			fx_value_cleanup(&v);
		}
		fx_fsquery_limit(q, ORG_PAGE);
		if (rc == 0)
			rc = fx_firestore_query("", q, NULL, &docs, &n, e);
		fx_fsquery_free(q);
		free(root);
		if (rc < 0)
			return -1;
		for (size_t i = 0; i < n; i++)
			run_part(r, job, docs[i].id, run_id, st);
		if (n && fx_str_set(last, sizeof(last), docs[n - 1].id) < 0) {
			fx_firestore_docs_free(docs, n);
			return fx_err_set(e, FX_INTERNAL, "organization id over %zu bytes", sizeof(last));
		}
		fx_firestore_docs_free(docs, n);
		if (n < ORG_PAGE)
			return 0;
	}
}

/*
 * Writes the jobRuns document id of st: start creates it (with its header
 * and startedAt: started {secs, nanos}, or now when NULL), else the finish
 * fields are updated; finish adds finishedAt. A whole run over all
 * organizations ("*") keeps counts only: each organization's details are in
 * its own part (and the run's log lines).
 */
static int record_run(const char *id, const struct run_state *st, const char *status, bool start, bool finish,
		      const int64_t started[2], struct fx_err *e)
{
	static const char *const finish_mask[] = {"status", "summary", "errors", "finishedAt", NULL};
	struct fx_value doc = {0}, *summary;
	json_object *writes;
	bool whole = strcmp(st->org, "*") == 0;
	char rel[400], *name;
	int rc;

	if (fx_str_fmt(rel, sizeof(rel), "jobRuns/%s", id) < 0)
		return fx_err_set(e, FX_INTERNAL, "run path over %zu bytes", sizeof(rel));
	writes = json_object_new_array();
	name = fx_firestore_name(rel);
	fx_value_map(&doc);
	if (start) {
		fx_map_set_str(&doc, "job", st->job);
		fx_map_set_str(&doc, "scope", strcmp(st->scope, "all") == 0 ? "all" : "organization");
		fx_map_set_str(&doc, "organizationId", st->org);
		if (st->run_id)
			fx_map_set_str(&doc, "runId", st->run_id);
		fx_map_set_str(&doc, "triggeredBy", st->by);
		if (started)
			fx_map_set_ts(&doc, "startedAt", started[0], (int32_t)started[1]);
		else
			fx_model_map_set_now(&doc, "startedAt");
	}
	fx_map_set_str(&doc, "status", status);
	summary = fx_map_set(&doc, "summary");
	fx_value_copy(summary, &st->summary);
	fx_map_set_int(summary, "organizations", st->organizations);
	fx_map_set_int(summary, "organizationsFailed", st->failed);
	if (whole) {
		fx_value_array(fx_map_set(summary, "repairs"));
		fx_value_array(fx_map_set(&doc, "errors"));
	} else {
		fx_value_copy(fx_map_set(&doc, "errors"), &st->errors);
	}
	if (finish)
		fx_model_map_set_now(&doc, "finishedAt");
	if (start)
		rc = fx_fswrite_create(writes, name, &doc, NULL, e);
	else
		rc = fx_fswrite_update(writes, name, &doc, finish_mask, NULL, NULL, e);
	if (rc == 0)
		rc = fx_firestore_commit(writes, NULL, NULL, NULL, e);
	json_object_put(writes);
	fx_value_cleanup(&doc);
	free(name);
	return rc;
}

static int run(struct fx_req *r, struct fx_err *e)
{
	static const org_job table[] = {inventory_check, sync_org,	   reports_org,
					cleanup_org,	 channel_push_org, webhook_deliver_org};
	const struct fx_principal *p = r->principal;
	const char *name = fx_http_req_param(r, "name");
	struct run_state st = {0};
	struct fx_doc doc = {0};
	struct fx_err ignored;
	char run_id[FX_ID_LEN + 1], rel[64];
	const char *status;
	int job = name ? fx_json_enum_index(name, jobs) : -1;
	int rc = -1;

	if (job < 0)
		return fx_err_set(e, FX_NOT_FOUND, "%s not found", "job");
	st.job = jobs[job];
	st.scope = p->scheduler ? "all" : p->organization_id;
	st.org = p->scheduler ? "*" : p->organization_id;
	st.by = p->email ? p->email : p->uid;
	fx_value_map(&st.summary);
	fx_value_array(&st.errors);
	fx_model_id_new(run_id);
	if (lease(st.job, st.scope, run_id, false, e) < 0)
		goto out;
	if (record_run(run_id, &st, "running", true, false, NULL, e) < 0) {
		fx_err_clear(&ignored);
		lease(st.job, st.scope, run_id, true, &ignored);
		goto out;
	}
	if (p->scheduler) {
		if (run_all(r, table[job], run_id, &st, e) < 0) {
			fx_log_error("job %s: walking organizations failed: %s", st.job, e->message);
			st.failed++;
			fx_err_clear(e);
		}
		if (strcmp(st.job, "cleanup") == 0) {
			struct fx_err err;

			fx_err_clear(&err);
			if (cleanup_runs(&st, &err) < 0)
				st.failed++;
		}
	} else {
		run_org(r, table[job], p->organization_id, &st);
	}
	status = st.failed == 0 ? "succeeded" : st.failed < st.organizations ? "partial" : "failed";
	if (fx_str_fmt(rel, sizeof(rel), "jobRuns/%s", run_id) < 0)
		fx_err_set(e, FX_INTERNAL, "run path over %zu bytes", sizeof(rel));
	else if (record_run(run_id, &st, status, false, true, NULL, e) == 0 && fx_firestore_get(rel, &doc, e) == 0)
		rc = fx_model_resp_doc(r, 200, &doc, NULL);
	fx_err_clear(&ignored);
	if (lease(st.job, st.scope, run_id, true, &ignored) < 0)
		fx_log_warn("job %s: lease not released (it expires): %s", st.job, ignored.message);
out:
	fx_value_cleanup(&st.summary);
	fx_value_cleanup(&st.errors);
	fx_firestore_doc_cleanup(&doc);
	return rc;
}

/*
 * The caller's organization's records, newest first: its own runs and its
 * parts of the runs over all organizations; never another organization's
 * record nor a whole run over all (organizationId "*").
 */
static int runs(struct fx_req *r, struct fx_err *e)
{
	static const char *const params[] = {"pageSize", "pageToken", NULL};
	static const char *const cursor[] = {"startedAt", NULL};
	struct fx_query *q = fx_fsquery_new("jobRuns", false);
	struct fx_value mine = {0};
	char *root = fx_firestore_name(""), sig[200];
	const char *org = r->principal->organization_id;
	int size, rc = -1;

	fx_value_string(&mine, org, strlen(org));
	if (fx_str_fmt(sig, sizeof(sig), "jobRuns|%s", org) < 0)
		fx_err_set(e, FX_INTERNAL, "list signature over %zu bytes", sizeof(sig));
	else if (fx_http_req_query_allow(r, params, e) == 0 && fx_model_page_size(r, &size, e) == 0 &&
		 fx_fsquery_parent(q, root, e) == 0 && fx_fsquery_where(q, "organizationId", "==", &mine, e) == 0)
		rc = fx_model_list_ordered(r, "", q, "startedAt", true, size, sig, cursor, NULL, e);
	fx_fsquery_free(q);
	fx_value_cleanup(&mine);
	free(root);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct fx_app app = {"jobs", routes, sizeof(routes) / sizeof(routes[0]), fx_report_init};

	return fx_worker_main(&app, argc, argv);
}
