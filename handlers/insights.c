/*
 * insights: what the rules of lib/insights found in an organization's stock
 * and sales, and their lifecycle (open -> acknowledged -> resolved or
 * dismissed). Documents below organizations/{org}: insights/{id},
 * insightKeys/{type}_{productId|org} (names the one open insight of its key;
 * released in the same commit when that insight is resolved or dismissed,
 * so the next generation may open a new one), and rate/insights-generate
 * {lastRunAt} (one generation a minute per organization, checked and
 * written in a transaction).
 */
#include "authz.h"
#include "firestore.h"
#include "fswrite.h"
#include "http.h"
#include "insights.h"
#include "json.h"
#include "log.h"
#include "map.h"
#include "model.h"
#include "str.h"
#include "tenant.h"
#include "ts.h"
#include "worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int list(struct fx_req *r, struct fx_err *e);
static int get(struct fx_req *r, struct fx_err *e);
static int update(struct fx_req *r, struct fx_err *e);
static int generate(struct fx_req *r, struct fx_err *e);

static const struct fx_route routes[] = {
	{"GET", "/v1/insights", list, FX_MEMBER, FX_ROLE_VIEWER, 0, 0},
	{"POST", "/v1/insights:generate", generate, FX_MEMBER, FX_ROLE_MANAGER, FX_BODY_JSON, 0},
	{"GET", "/v1/insights/{id}", get, FX_MEMBER, FX_ROLE_VIEWER, 0, 0},
	{"PATCH", "/v1/insights/{id}", update, FX_MEMBER, FX_ROLE_STAFF, FX_BODY_JSON, 0},
};

#define GENERATE_INTERVAL_MS 60000LL /* at most one generation a minute per organization */
#define RATE_ID "insights-generate"

static const char *const statuses[] = {"open", "acknowledged", "resolved", "dismissed", NULL};
static const char *const settable[] = {"acknowledged", "resolved", "dismissed", NULL};
static const char *const severities[] = {"info", "warning", "critical", NULL};
/* Server bookkeeping that the API does not show. */
static const char *const hidden[] = {"organizationId", "generatedBy", "statusChangedBy", NULL};

static bool closed(const char *status)
{
	return status && (strcmp(status, "resolved") == 0 || strcmp(status, "dismissed") == 0);
}

/* ?status= ?type= ?severity=, newest first. */
static int list(struct fx_req *r, struct fx_err *e)
{
	static const char *const params[] = {"pageSize", "pageToken", "status", "type", "severity", NULL};
	const char *status = fx_http_req_query(r, "status"), *type = fx_http_req_query(r, "type");
	const char *severity = fx_http_req_query(r, "severity"), *parent_rel, *cursor[] = {"createdAt", NULL};
	const char *filters[3][2] = {{"status", status}, {"type", type}, {"severity", severity}};
	struct fx_query *q;
	char sig[200];
	int size, rc = -1;

	if (fx_http_req_query_allow(r, params, e) < 0 || fx_model_page_size(r, &size, e) < 0)
		return -1;
	if (status && fx_json_enum_index(status, statuses) < 0)
		return fx_err_invalid(e, "status", "must be open, acknowledged, resolved or dismissed");
	if (type && fx_json_enum_index(type, fx_insight_types) < 0)
		return fx_err_invalid(e, "type",
				      "must be low_stock, stockout_risk, slow_mover, sales_trend, top_seller, oversold "
				      "or channel_error");
	if (severity && fx_json_enum_index(severity, severities) < 0)
		return fx_err_invalid(e, "severity", "must be info, warning or critical");
	if (fx_str_fmt(sig, sizeof(sig), "insights|%s|%s|%s", status ? status : "", type ? type : "",
		       severity ? severity : "") < 0)
		return fx_err_set(e, FX_INTERNAL, "list signature over %zu bytes", sizeof(sig));
	q = fx_tenant_query(r, NULL, "insights", &parent_rel, e);
	if (!q)
		return -1;
	for (int i = 0; i < 3; i++)
		if (filters[i][1] && fx_fsquery_where_str(q, filters[i][0], "==", filters[i][1], e) < 0)
			goto out;
	rc = fx_model_list_ordered(r, parent_rel, q, "createdAt", true, size, sig, cursor, hidden, e);
out:
	fx_fsquery_free(q);
	return rc;
}

static int get(struct fx_req *r, struct fx_err *e)
{
	return fx_tenant_answer(r, "insights", "insight", hidden, e);
}

struct update_ctx {
	struct fx_req *r;
	const char *rel;
	const char *if_match;
	const char *status;
};

/* Releases the insight's key when it still names this insight (deleted at the version read). */
static int release_key(struct fx_txn *t, struct update_ctx *c, const struct fx_doc *doc, struct fx_err *e)
{
	const char *type = fx_value_path_str(&doc->fields, "type"), *key_rel, *paths[1], *owner;
	struct fx_doc key = {0};
	char id[160], *name = NULL;
	int rc = -1;

	if (!type || fx_insights_key(type, fx_value_path_str(&doc->fields, "productId"), id, sizeof(id), e) < 0 ||
	    !(key_rel = fx_tenant_path(c->r, NULL, "insightKeys", id, "insight key", e)))
		return -1;
	paths[0] = key_rel;
	if (fx_firestore_batch_get(paths, 1, t->id, &key, e) < 0)
		return -1;
	owner = fx_tenant_owns(c->r, &key) ? fx_value_path_str(&key.fields, "insightId") : NULL;
	if (!owner || strcmp(owner, doc->id) != 0) {
		rc = 0; /* the key already moved on (or never pointed here) */
		goto out;
	}
	name = fx_tenant_name(key_rel);
	rc = fx_fswrite_delete(t->writes, name, -1, key.update_time, e);
out:
	free(name);
	fx_firestore_doc_cleanup(&key);
	return rc;
}

static int update_txn(struct fx_txn *t, void *arg, struct fx_err *e)
{
	static const char *const mask[] = {"status", "statusChangedBy", "updatedAt", NULL};
	struct update_ctx *c = arg;
	struct fx_value map = {0};
	struct fx_doc doc = {0};
	const char *now;
	char *name = NULL;
	int rc = -1;

	if (fx_tenant_txn_get(c->r, t->id, c->rel, "insight", c->if_match, &doc, e) < 0)
		return -1;
	now = fx_value_path_str(&doc.fields, "status");
	if (now && strcmp(now, c->status) == 0) {
		rc = 0; /* already there: nothing to write */
		goto out;
	}
	if (!now || closed(now)) {
		fx_err_set(e, FX_FAILED_PRECONDITION, "the insight is %s: a closed insight does not change",
			   now ? now : "in an unknown state");
		fx_err_detail(e, "status", "open and acknowledged insights can change");
		goto out;
	}
	if (closed(c->status) && release_key(t, c, &doc, e) < 0)
		goto out;
	fx_value_map(&map);
	fx_map_set_str(&map, "status", c->status);
	fx_map_set_str(&map, "statusChangedBy", c->r->principal->uid);
	fx_model_map_set_now(&map, "updatedAt");
	name = fx_tenant_name(c->rel);
	rc = fx_fswrite_update(t->writes, name, &map, mask, doc.update_time, NULL, e);
out:
	free(name);
	fx_value_cleanup(&map);
	fx_firestore_doc_cleanup(&doc);
	return rc;
}

/* PATCH {status}: acknowledged, resolved or dismissed. */
static int update(struct fx_req *r, struct fx_err *e)
{
	static const char *const allowed[] = {"status", NULL};
	struct update_ctx c = {0};
	struct fx_doc doc = {0};
	json_object *in = NULL;
	bool present;
	int rc = -1;

	c.r = r;
	c.rel = fx_tenant_path(r, NULL, "insights", fx_http_req_param(r, "id"), "insight", e);
	if (!c.rel || fx_model_if_match(r, &c.if_match, e) < 0)
		return -1;
	if (fx_http_req_json(r, false, &in, e) < 0 || fx_json_allow(in, allowed, "", e) < 0 ||
	    fx_json_string(in, "status", "status", true, 1, 16, &c.status, &present, e) < 0)
		goto out;
	if (fx_json_enum_index(c.status, settable) < 0) {
		fx_err_invalid(e, "status", "must be acknowledged, resolved or dismissed");
		goto out;
	}
	if (fx_firestore_run_transaction(update_txn, &c, e) < 0 || fx_tenant_get(r, c.rel, "insight", &doc, e) < 0)
		goto out;
	rc = fx_model_resp_doc(r, 200, &doc, hidden);
out:
	json_object_put(in);
	fx_firestore_doc_cleanup(&doc);
	return rc;
}

struct rate_ctx {
	struct fx_req *r;
	const char *rel;
};

/* Claims this minute's generation of the organization, or answers 429 with the seconds left. */
static int rate_txn(struct fx_txn *t, void *arg, struct fx_err *e)
{
	static const char *const mask[] = {"lastRunAt", "by", "organizationId", NULL};
	struct rate_ctx *c = arg;
	const char *paths[1] = {c->rel};
	const struct fx_value *last;
	struct fx_value map = {0};
	struct fx_doc doc = {0};
	int64_t secs;
	int32_t nanos;
	char *name = NULL;
	int rc = -1;

	if (fx_firestore_batch_get(paths, 1, t->id, &doc, e) < 0)
		return -1;
	fx_ts_now(&secs, &nanos);
	last = doc.name ? fx_value_path(&doc.fields, "lastRunAt") : NULL;
	if (last && last->type == FX_V_TIMESTAMP) {
		long long elapsed = (secs - last->u.ts.secs) * 1000LL + (nanos - last->u.ts.nanos) / 1000000;

		if (elapsed < GENERATE_INTERVAL_MS) {
			long long wait = (GENERATE_INTERVAL_MS - elapsed + 999) / 1000;

			fx_err_set(e, FX_RESOURCE_EXHAUSTED, "insights were generated less than a minute ago");
			e->retry_after = wait < 1 ? 1 : wait > 60 ? 60 : (int)wait;
			goto out;
		}
	}
	fx_value_map(&map);
	fx_map_set_ts(&map, "lastRunAt", secs, nanos / 1000000 * 1000000);
	fx_map_set_str(&map, "by", c->r->principal->uid);
	fx_tenant_stamp(c->r, &map);
	name = fx_tenant_name(c->rel);
	if (doc.name)
		rc = fx_fswrite_update(t->writes, name, &map, mask, doc.update_time, NULL, e);
	else
		rc = fx_fswrite_create(t->writes, name, &map, NULL, e);
out:
	free(name);
	fx_value_cleanup(&map);
	fx_firestore_doc_cleanup(&doc);
	return rc;
}

/* POST /v1/insights:generate (empty body or {}): 200 {created, updated}. */
static int generate(struct fx_req *r, struct fx_err *e)
{
	static const char *const none[] = {NULL};
	struct rate_ctx c = {r, NULL};
	json_object *in = NULL, *out = NULL;
	int created = 0, updated = 0, rc = -1;

	if (fx_http_req_json(r, true, &in, e) < 0 || fx_json_allow(in, none, "", e) < 0)
		goto done;
	c.rel = fx_tenant_path(r, NULL, "rate", RATE_ID, "rate", e);
	if (!c.rel || fx_firestore_run_transaction(rate_txn, &c, e) < 0)
		goto done;
	if (fx_insights_generate(r->principal->organization_id, r->principal->uid, &created, &updated, e) < 0) {
		if (created || updated)
			fx_log_warn("insights of %s: generation failed after %d created, %d updated: %s",
				    r->principal->organization_id, created, updated, e->message);
		goto done;
	}
	out = json_object_new_object();
	json_object_object_add(out, "created", json_object_new_int(created));
	json_object_object_add(out, "updated", json_object_new_int(updated));
	rc = fx_http_resp_json(r, 200, out);
done:
	json_object_put(in);
	json_object_put(out);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct fx_app app = {"insights", routes, sizeof(routes) / sizeof(routes[0]), NULL};

	return fx_worker_main(&app, argc, argv);
}
