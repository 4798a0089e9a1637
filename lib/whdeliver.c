/*
 * fx_whdeliver: the outbox's event entries fanned out to the
 * subscriptions, then delivered in order per resource (see the header).
 */
#include "whdeliver.h"

#include "clock.h"
#include "egress.h"
#include "firestore.h"
#include "fsquery.h"
#include "fswrite.h"
#include "httpc.h"
#include "lease.h"
#include "log.h"
#include "map.h"
#include "mem.h"
#include "model.h"
#include "plain.h"
#include "seal.h"
#include "str.h"
#include "ts.h"
#include "value.h"
#include "webhook.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PATH_MAX_BYTES 512
#define RESOURCE_MAX 160
#define COMMIT_MAX_WRITES 500

/* One subscription as the run sees it. */
struct hook {
	char id[FX_ID_LEN + 1];
	char url[FX_WEBHOOK_URL_MAX + 1];
	bool enabled;
	struct fx_value events; /* FX_V_ARRAY of strings */
	int64_t failing_since; /* 0: not failing */
};

struct run {
	const char *org;
	struct fx_whdeliver_stats *st;
	struct fx_webhook_windows w;
	struct hook hooks[FX_WEBHOOK_MAX_PER_ORG];
	size_t nhooks;
	long started_ms;
	char (*left)[RESOURCE_MAX]; /* resources with events not fanned out (left_behind) */
	size_t nleft;
};

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

static bool hook_wants(const struct hook *h, const char *type)
{
	if (!h->enabled || h->events.type != FX_V_ARRAY)
		return false;
	for (size_t i = 0; i < h->events.u.arr.n; i++) {
		const struct fx_value *v = &h->events.u.arr.items[i];

		if (v->type == FX_V_STRING && strcmp(v->u.s.p, type) == 0)
			return true;
	}
	return false;
}

static void hooks_cleanup(struct run *r)
{
	for (size_t i = 0; i < r->nhooks; i++)
		fx_value_cleanup(&r->hooks[i].events);
	r->nhooks = 0;
}

static int64_t ts_secs(const struct fx_value *fields, const char *name)
{
	const struct fx_value *v = fx_value_path(fields, name);

	return v && v->type == FX_V_TIMESTAMP ? v->u.ts.secs : 0;
}

/* The organization's subscriptions (at most FX_WEBHOOK_MAX_PER_ORG + 1 read: more are ignored). */
static int read_hooks(struct run *r, struct fx_err *e)
{
	struct fx_query *q = fx_fsquery_new("webhooks", false);
	struct fx_doc *docs = NULL;
	size_t n = 0;
	char parent[PATH_MAX_BYTES];
	int rc = -1;

	if (fx_str_fmt(parent, sizeof(parent), "organizations/%s", r->org) < 0) {
		fx_err_set(e, FX_INTERNAL, "organization path over %zu bytes", sizeof(parent));
		goto out;
	}
	if (fx_fsquery_order_by(q, "__name__", false, e) < 0)
		goto out;
	fx_fsquery_limit(q, FX_WEBHOOK_MAX_PER_ORG);
	if (fx_firestore_query(parent, q, NULL, &docs, &n, e) < 0)
		goto out;
	for (size_t i = 0; i < n && r->nhooks < FX_WEBHOOK_MAX_PER_ORG; i++) {
		struct hook *h = &r->hooks[r->nhooks];
		const char *url = fx_value_path_str(&docs[i].fields, "url");
		const struct fx_value *en = fx_value_path(&docs[i].fields, "enabled");
		const struct fx_value *ev = fx_value_path(&docs[i].fields, "events");

		memset(h, 0, sizeof(*h));
		if (!url || fx_str_set(h->id, sizeof(h->id), docs[i].id) < 0 ||
		    fx_str_set(h->url, sizeof(h->url), url) < 0)
			continue;
		h->enabled = en && en->type == FX_V_BOOL && en->u.b;
		if (ev)
			fx_value_copy(&h->events, ev);
		h->failing_since = ts_secs(&docs[i].fields, "failingSince");
		r->nhooks++;
	}
	rc = 0;
out:
	fx_fsquery_free(q);
	fx_firestore_docs_free(docs, n);
	return rc;
}

/* ---- fan-out ---- */

static bool out_of_time(const struct run *r)
{
	return fx_clock_ms() - r->started_ms > FX_WHDELIVER_RUN_BUDGET_S * 1000L;
}

/* The delivery document of entry for hook h: its map, body included. */
static int delivery_map(struct run *r, const struct fx_doc *entry, const char *type, struct fx_value *map,
			struct fx_err *e)
{
	const struct fx_value *at = fx_value_path(&entry->fields, "at");
	const struct fx_value *data = fx_value_path(&entry->fields, "payload.data");
	const char *rtype = fx_value_path_str(&entry->fields, "payload.resourceType");
	const char *rid = fx_value_path_str(&entry->fields, "resource");
	int64_t seq = 0, sub = 0;
	char created[40], resource[RESOURCE_MAX], *body;
	json_object *json = NULL;

	if (!at || at->type != FX_V_TIMESTAMP || !rtype || !rid)
		return fx_err_set(e, FX_INTERNAL, "outbox event %s is malformed", entry->id);
	if (fx_str_fmt(resource, sizeof(resource), "%s/%s", rtype, rid) < 0)
		return fx_err_set(e, FX_INTERNAL, "outbox event %s: resource over %zu bytes", entry->id,
				  sizeof(resource));
	fx_value_path_int(&entry->fields, "payload.seq", &seq);
	fx_value_path_int(&entry->fields, "payload.sub", &sub);
	fx_ts_format(at->u.ts.secs, at->u.ts.nanos, 3, created);
	json = data ? fx_plain_encode(data) : NULL;
	body = fx_webhook_body(entry->id, type, created, r->org, json);
	json_object_put(json);
	if (!body)
		return fx_err_set(e, FX_INTERNAL, "outbox event %s: body not made", entry->id);
	fx_value_map(map);
	fx_map_set_str(map, "eventId", entry->id);
	fx_map_set_str(map, "type", type);
	fx_map_set_str(map, "resource", resource);
	fx_map_set_int(map, "seq", seq);
	fx_map_set_int(map, "sub", sub);
	fx_map_set_str(map, "body", body);
	fx_map_set_bool(map, "pending", true);
	fx_map_set_str(map, "status", "pending");
	fx_map_set_int(map, "attempt", 0);
	fx_map_set_ts(map, "createdAt", at->u.ts.secs, at->u.ts.nanos);
	fx_model_map_set_now(map, "nextAt");
	fx_value_null(fx_map_set(map, "statusCode"));
	fx_value_null(fx_map_set(map, "latencyMs"));
	fx_value_null(fx_map_set(map, "error"));
	fx_value_null(fx_map_set(map, "at"));
	fx_map_set_str(map, "organizationId", r->org);
	free(body);
	return 0;
}

/*
 * Appends entry's fan-out (a delivery per wanting subscription, the
 * entry's delete) to writes; *nwrites grows. A malformed entry (not one
 * lib/webhook writes) is logged and only deleted: it must not stop the
 * events behind it.
 */
static int fan_out_entry(struct run *r, const struct fx_doc *entry, json_object *writes, size_t *nwrites,
			 struct fx_err *e)
{
	const char *type = fx_value_path_str(&entry->fields, "payload.type");
	struct fx_value map = {0};
	struct fx_err bad;

	fx_err_clear(&bad);
	if (!type || !fx_webhook_event_known(type) || delivery_map(r, entry, type, &map, &bad) < 0) {
		fx_log_warn("webhooks: organization %s: outbox event %s dropped: %s", r->org, entry->id,
			    bad.message[0] ? bad.message : "unknown type");
		fx_value_cleanup(&map);
		fx_value_map(&map);
		type = NULL;
	}
	for (size_t i = 0; type && i < r->nhooks; i++) {
		char rel[PATH_MAX_BYTES], *name;
		int rc;

		if (!hook_wants(&r->hooks[i], type))
			continue;
		if (fx_str_fmt(rel, sizeof(rel), "organizations/%s/webhooks/%s/deliveries/%s", r->org, r->hooks[i].id,
			       entry->id) < 0) {
			fx_value_cleanup(&map);
			return fx_err_set(e, FX_INTERNAL, "delivery path over %zu bytes", sizeof(rel));
		}
		fx_map_set_str(&map, "webhookId", r->hooks[i].id);
		name = fx_firestore_name(rel);
		rc = fx_fswrite_set(writes, name, &map, NULL, e);
		free(name);
		if (rc < 0) {
			fx_value_cleanup(&map);
			return -1;
		}
		(*nwrites)++;
		r->st->deliveries_created++;
	}
	fx_value_cleanup(&map);
	if (fx_fswrite_delete(writes, entry->name, 1, NULL, e) < 0)
		return -1;
	(*nwrites)++;
	return 0;
}

static size_t wanting(const struct run *r, const struct fx_doc *entry)
{
	const char *type = fx_value_path_str(&entry->fields, "payload.type");
	size_t n = 0;

	for (size_t i = 0; type && i < r->nhooks; i++)
		n += hook_wants(&r->hooks[i], type);
	return n;
}

/*
 * The first page of the outbox's events (deleted ones are gone: always
 * from the start); keys_only reads just what names their resource.
 */
static int events_page(struct run *r, int limit, bool keys_only, struct fx_doc **docs, size_t *n, struct fx_err *e)
{
	static const char *const keys[] = {"resource", "payload.resourceType"};
	struct fx_query *q = fx_fsquery_new("outbox", false);
	char parent[PATH_MAX_BYTES];
	int rc = -1;

	if (fx_str_fmt(parent, sizeof(parent), "organizations/%s", r->org) < 0)
		fx_err_set(e, FX_INTERNAL, "organization path over %zu bytes", sizeof(parent));
	else if (fx_fsquery_where_str(q, "kind", "==", FX_OUTBOX_EVENT, e) == 0 &&
		 fx_fsquery_order_by(q, "at", false, e) == 0 && fx_fsquery_order_by(q, "__name__", false, e) == 0 &&
		 (!keys_only || fx_fsquery_select(q, keys, 2, e) == 0)) {
		fx_fsquery_limit(q, limit);
		rc = fx_firestore_query(parent, q, NULL, docs, n, e);
	}
	fx_fsquery_free(q);
	return rc;
}

/*
 * Fans out pages of events until a page is short (what arrives meanwhile
 * waits for the next run) or the run's budget is spent.
 */
static int fan_out(struct run *r, struct fx_err *e)
{
	for (int page = 0; page < FX_WHDELIVER_FANOUT_PAGES; page++) {
		struct fx_doc *docs = NULL;
		json_object *writes = NULL;
		size_t n = 0, nwrites = 0;
		int rc = 0;

		if (events_page(r, FX_WHDELIVER_FANOUT_PAGE, false, &docs, &n, e) < 0)
			return -1;
		r->st->events_read += (int64_t)n;
		writes = json_object_new_array();
		for (size_t i = 0; rc == 0 && i < n; i++) {
			if (nwrites + wanting(r, &docs[i]) + 1 > COMMIT_MAX_WRITES) {
				rc = fx_firestore_commit(writes, NULL, NULL, NULL, e);
				json_object_put(writes);
				writes = json_object_new_array();
				nwrites = 0;
			}
			if (rc == 0)
				rc = fan_out_entry(r, &docs[i], writes, &nwrites, e);
		}
		if (rc == 0 && nwrites > 0)
			rc = fx_firestore_commit(writes, NULL, NULL, NULL, e);
		json_object_put(writes);
		fx_firestore_docs_free(docs, n);
		if (rc < 0)
			return -1;
		if (n < FX_WHDELIVER_FANOUT_PAGE || out_of_time(r))
			break;
	}
	return 0;
}

/* ---- delivery ---- */

/* The resources held back in this run for one subscription (bounded by what a run reads). */
struct blocked {
	char (*res)[RESOURCE_MAX];
	size_t n, cap;
};

/*
 * The resources with an event still in the outbox after the fan-out (one
 * committed meanwhile): an earlier event of theirs may not be a delivery
 * yet, so none of their deliveries goes this run. Every event committed
 * before one that was fanned out is seen here (it committed first), so an
 * earlier event is never overtaken. 1 with r->left filled, 0 when more
 * than FX_WHDELIVER_LEFT_MAX are left (nothing is delivered this run),
 * -1 Firestore.
 */
static int left_behind(struct run *r, struct fx_err *e)
{
	struct fx_doc *docs = NULL;
	size_t n = 0;

	if (events_page(r, FX_WHDELIVER_LEFT_MAX, true, &docs, &n, e) < 0)
		return -1;
	if (n >= FX_WHDELIVER_LEFT_MAX) {
		fx_firestore_docs_free(docs, n);
		return 0;
	}
	r->left = fx_mem_xcalloc(n ? n : 1, sizeof(*r->left));
	for (size_t i = 0; i < n; i++) {
		const char *rtype = fx_value_path_str(&docs[i].fields, "payload.resourceType");
		const char *rid = fx_value_path_str(&docs[i].fields, "resource");

		if (rtype && rid && fx_str_fmt(r->left[r->nleft], sizeof(r->left[r->nleft]), "%s/%s", rtype, rid) == 0)
			r->nleft++;
	}
	fx_firestore_docs_free(docs, n);
	return 1;
}

static bool is_blocked(const struct blocked *b, const char *res)
{
	for (size_t i = 0; i < b->n; i++)
		if (strcmp(b->res[i], res) == 0)
			return true;
	return false;
}

static void block(struct blocked *b, const char *res)
{
	if (is_blocked(b, res) || b->n >= b->cap)
		return;
	if (fx_str_set(b->res[b->n], sizeof(b->res[b->n]), res) == 0)
		b->n++;
}

/* The secrets a delivery is signed with (1 or 2), opened for the hook's document; *n set. */
struct secrets {
	char *s[2];
	size_t len[2];
	size_t n;
};

static void secrets_cleanup(struct secrets *s)
{
	for (size_t i = 0; i < s->n; i++)
		fx_seal_clear_free(s->s[i], s->len[i]);
	s->n = 0;
}

static int open_secrets(struct run *r, const struct hook *h, struct secrets *s, struct fx_err *e)
{
	char rel[PATH_MAX_BYTES];
	struct fx_doc doc = {0};
	const char *cur, *prev;
	int rc = -1;

	memset(s, 0, sizeof(*s));
	if (fx_str_fmt(rel, sizeof(rel), "organizations/%s/webhooks/%s", r->org, h->id) < 0)
		return fx_err_set(e, FX_INTERNAL, "webhook path over %zu bytes", sizeof(rel));
	if (fx_firestore_get(rel, &doc, e) < 0)
		return -1;
	cur = fx_value_path_str(&doc.fields, "sealed.secret");
	prev = fx_value_path_str(&doc.fields, "sealed.previousSecret");
	if (!cur || fx_seal_open(cur, rel, &s->s[0], &s->len[0], e) < 0) {
		fx_err_set(e, FX_INTERNAL, "webhook %s: the secret does not open", h->id);
		goto out;
	}
	s->n = 1;
	if (prev && ts_secs(&doc.fields, "previousSecretUntil") > now_s() &&
	    fx_seal_open(prev, rel, &s->s[1], &s->len[1], e) == 0)
		s->n = 2;
	fx_err_clear(e);
	rc = 0;
out:
	fx_firestore_doc_cleanup(&doc);
	return rc;
}

/* Appends the outcome of one attempt on the delivery document to writes (committed once per page). */
static int record_attempt(json_object *writes, const struct fx_doc *d, int64_t attempt, const char *status, long code,
			  int64_t latency_ms, const char *error, int64_t next_s, struct fx_err *e)
{
	static const char *const mask[] = {"pending", "status", "attempt", "statusCode", "latencyMs",
					   "error",   "at",	"nextAt",  NULL};
	struct fx_value map = {0};
	int rc;

	fx_value_map(&map);
	fx_map_set_bool(&map, "pending", strcmp(status, "pending") == 0);
	fx_map_set_str(&map, "status", status);
	fx_map_set_int(&map, "attempt", attempt);
	if (code > 0)
		fx_map_set_int(&map, "statusCode", code);
	else
		fx_value_null(fx_map_set(&map, "statusCode"));
	fx_map_set_int(&map, "latencyMs", latency_ms);
	if (error)
		fx_map_set_str(&map, "error", error);
	else
		fx_value_null(fx_map_set(&map, "error"));
	fx_model_map_set_now(&map, "at");
	fx_map_set_ts(&map, "nextAt", next_s, 0);
	rc = fx_fswrite_update(writes, d->name, &map, mask, NULL, NULL, e);
	fx_value_cleanup(&map);
	return rc;
}

/* The subscription's failure bookkeeping: failingSince, and the disabling once the window passed. */
static int record_hook(struct run *r, struct hook *h, bool success, const char *last_error, struct fx_err *e)
{
	static const char *const ok_mask[] = {"failingSince", "lastDeliveryAt", NULL};
	static const char *const fail_mask[] = {"failingSince", NULL};
	static const char *const off_mask[] = {"enabled", "disabledReason", "disabledAt", "updatedAt", NULL};
	struct fx_value map = {0};
	json_object *writes;
	char rel[PATH_MAX_BYTES], *name, reason[400];
	const char *const *mask;
	int64_t now = now_s();
	int rc;

	if (fx_str_fmt(rel, sizeof(rel), "organizations/%s/webhooks/%s", r->org, h->id) < 0)
		return fx_err_set(e, FX_INTERNAL, "webhook path over %zu bytes", sizeof(rel));
	fx_value_map(&map);
	if (success) {
		fx_value_null(fx_map_set(&map, "failingSince"));
		fx_model_map_set_now(&map, "lastDeliveryAt");
		mask = ok_mask;
		h->failing_since = 0;
	} else if (h->failing_since == 0) {
		fx_model_map_set_now(&map, "failingSince");
		mask = fail_mask;
		h->failing_since = now;
	} else if (fx_webhook_disables(h->failing_since, now, r->w.disable_s)) {
		fx_str_text(reason, sizeof(reason), "every delivery failed for %lld s (since %lld); last error: %s",
			    (long long)(now - h->failing_since), (long long)h->failing_since,
			    last_error ? last_error : "unknown");
		fx_map_set_bool(&map, "enabled", false);
		fx_map_set_str(&map, "disabledReason", reason);
		fx_model_map_set_now(&map, "disabledAt");
		fx_model_map_set_now(&map, "updatedAt");
		mask = off_mask;
		h->enabled = false;
		r->st->disabled++;
		fx_log_warn("webhooks: organization %s: subscription %s disabled after %lld s of failures", r->org,
			    h->id, (long long)(now - h->failing_since));
	} else {
		fx_value_cleanup(&map);
		return 0;
	}
	writes = json_object_new_array();
	name = fx_firestore_name(rel);
	rc = fx_fswrite_update(writes, name, &map, mask, NULL, NULL, e);
	if (rc == 0)
		rc = fx_firestore_commit(writes, NULL, NULL, NULL, e);
	/* A subscription deleted meanwhile has nothing left to record. */
	if (rc < 0 && (fx_err_is(e, FX_NOT_FOUND) || fx_err_is(e, FX_FAILED_PRECONDITION))) {
		fx_err_clear(e);
		h->enabled = false;
		rc = 0;
	}
	json_object_put(writes);
	free(name);
	fx_value_cleanup(&map);
	return rc;
}

/* One attempt of delivery d: 1 delivered, 0 failed (recorded), -1 Firestore failed. */
static int deliver_one(struct run *r, struct hook *h, const struct secrets *s, const struct fx_doc *d,
		       json_object *writes, char *error, size_t error_len, struct fx_err *e)
{
	const char *body = fx_value_path_str(&d->fields, "body");
	const char *type = fx_value_path_str(&d->fields, "type");
	const char *event_id = fx_value_path_str(&d->fields, "eventId");
	const char *secrets[2] = {s->s[0], s->n > 1 ? s->s[1] : NULL};
	char sig[FX_WEBHOOK_SIG_MAX], h_sig[FX_WEBHOOK_SIG_MAX + 32], h_event[96], h_id[FX_ID_LEN + 64];
	const char *headers[] = {"Content-Type: application/json", h_sig, h_event, h_id, NULL};
	struct fx_egress_req req = {0};
	struct fx_httpc_resp resp;
	struct fx_err call;
	int64_t attempt = 0, created = ts_secs(&d->fields, "createdAt"), now, latency;
	long t0;
	bool ok;

	fx_value_path_int(&d->fields, "attempt", &attempt);
	attempt++;
	error[0] = '\0';
	if (!body || !type || !event_id)
		return record_attempt(writes, d, attempt, "failed", 0, 0, "the delivery is malformed", now_s(), e) < 0
			       ? -1
			       : 0;
	if (fx_webhook_signature(now_s(), body, strlen(body), secrets, s->n, sig, sizeof(sig)) < 0 ||
	    fx_str_fmt(h_sig, sizeof(h_sig), "X-Fluxori-Signature: %s", sig) < 0 ||
	    fx_str_fmt(h_event, sizeof(h_event), "X-Fluxori-Event: %s", type) < 0 ||
	    fx_str_fmt(h_id, sizeof(h_id), "X-Fluxori-Delivery: %s", event_id) < 0)
		return fx_err_set(e, FX_INTERNAL, "webhook headers over their buffers");
	req.method = "POST";
	req.url = h->url;
	req.headers = headers;
	req.body = body;
	req.body_len = strlen(body);
	req.timeout_ms = FX_EGRESS_DEFAULT_TIMEOUT_MS;
	req.max_response = FX_WHDELIVER_MAX_ANSWER;
	req.discard_past_cap = true; /* the answer's body is ignored (docs/webhooks.md) */
	req.allow_private = fx_webhook_url_loopback_literal(h->url); /* demo- projects only (fx_egress) */
	req.service = "webhook";
	fx_httpc_resp_init(&resp);
	fx_err_clear(&call);
	t0 = fx_clock_ms();
	ok = fx_egress_do(&req, &resp, &call) == 0;
	latency = fx_clock_ms() - t0;
	if (ok && resp.status >= 200 && resp.status < 300) {
		fx_httpc_resp_cleanup(&resp);
		if (record_attempt(writes, d, attempt, "delivered", resp.status, latency, NULL, now_s(), e) < 0)
			return -1;
		r->st->delivered++;
		return 1;
	}
	if (ok)
		fx_str_text(error, error_len, "the receiver answered %ld", resp.status);
	else
		fx_str_text(error, error_len, "%s", call.message);
	now = now_s();
	if (fx_webhook_gives_up(created, now, r->w.give_up_s)) {
		if (record_attempt(writes, d, attempt, "failed", ok ? resp.status : 0, latency, error, now, e) < 0)
			goto fail;
		r->st->given_up++;
	} else {
		int64_t next = now + fx_webhook_backoff_s(attempt, r->w.backoff_base_s, r->w.backoff_max_s);

		if (record_attempt(writes, d, attempt, "pending", ok ? resp.status : 0, latency, error, next, e) < 0)
			goto fail;
	}
	r->st->failed++;
	fx_httpc_resp_cleanup(&resp);
	return 0;
fail:
	fx_httpc_resp_cleanup(&resp);
	return -1;
}

/* One page of h's pending deliveries after *last (none: from the start). */
static int pending_page(struct run *r, const struct hook *h, struct fx_doc *last, struct fx_doc **docs, size_t *n,
			struct fx_err *e)
{
	struct fx_query *q = fx_fsquery_new("deliveries", false);
	struct fx_value yes = {0};
	char parent[PATH_MAX_BYTES];
	int rc = -1;

	fx_value_bool(&yes, true);
	if (fx_str_fmt(parent, sizeof(parent), "organizations/%s/webhooks/%s", r->org, h->id) < 0)
		fx_err_set(e, FX_INTERNAL, "webhook path over %zu bytes", sizeof(parent));
	else if (fx_fsquery_where(q, "pending", "==", &yes, e) == 0 && fx_fsquery_order_by(q, "seq", false, e) == 0 &&
		 fx_fsquery_order_by(q, "sub", false, e) == 0 && fx_fsquery_order_by(q, "__name__", false, e) == 0 &&
		 (!last->name || fx_fsquery_cursor_doc(q, FX_CURSOR_START_AFTER, last->name, &last->fields, e) == 0)) {
		fx_fsquery_limit(q, FX_WHDELIVER_PAGE);
		rc = fx_firestore_query(parent, q, NULL, docs, n, e);
	}
	fx_value_cleanup(&yes);
	fx_fsquery_free(q);
	return rc;
}

/* Delivers h's due deliveries, the first pending one of each resource only. */
static int deliver_hook(struct run *r, struct hook *h, struct fx_err *e)
{
	struct blocked b = {0};
	struct secrets s;
	struct fx_doc last = {0};
	char error[300] = "", last_error[300] = "";
	int failures = 0, successes = 0, rc = 0;

	if (!h->enabled)
		return 0;
	if (open_secrets(r, h, &s, e) < 0) {
		fx_log_error("webhooks: organization %s: subscription %s: %s", r->org, h->id, e->message);
		fx_err_clear(e);
		return 0;
	}
	b.cap = FX_WHDELIVER_PAGE * FX_WHDELIVER_PAGES + r->nleft;
	b.res = fx_mem_xcalloc(b.cap, sizeof(*b.res));
	for (size_t i = 0; i < r->nleft; i++)
		block(&b, r->left[i]);
	for (int page = 0; rc == 0 && page < FX_WHDELIVER_PAGES && failures < FX_WHDELIVER_RUN_FAILURES && h->enabled;
	     page++) {
		struct fx_doc *docs = NULL;
		json_object *writes;
		size_t n = 0;

		if (pending_page(r, h, &last, &docs, &n, e) < 0) {
			rc = -1;
			break;
		}
		/* Outcomes commit once per page: a crash before it repeats those deliveries (same ids), never loses one. */
		writes = json_object_new_array();
		for (size_t i = 0; rc == 0 && i < n && failures < FX_WHDELIVER_RUN_FAILURES && h->enabled; i++) {
			const char *res = fx_value_path_str(&docs[i].fields, "resource");
			int got;

			if (!res || is_blocked(&b, res))
				continue;
			if (ts_secs(&docs[i].fields, "nextAt") > now_s() || out_of_time(r)) {
				block(&b, res);
				continue;
			}
			got = deliver_one(r, h, &s, &docs[i], writes, error, sizeof(error), e);
			if (got < 0) {
				rc = -1;
			} else if (got == 0) {
				failures++;
				fx_str_text(last_error, sizeof(last_error), "%s", error);
				block(&b, res);
				if (record_hook(r, h, false, last_error, e) < 0)
					rc = -1;
			} else {
				successes++;
				if (h->failing_since && record_hook(r, h, true, NULL, e) < 0)
					rc = -1;
			}
		}
		if (json_object_array_length(writes) > 0 && fx_firestore_commit(writes, NULL, NULL, NULL, e) < 0)
			rc = -1;
		json_object_put(writes);
		if (n > 0) {
			fx_firestore_doc_cleanup(&last);
			last.name = fx_mem_xstrdup(docs[n - 1].name);
			fx_value_copy(&last.fields, &docs[n - 1].fields);
		}
		fx_firestore_docs_free(docs, n);
		if (n < FX_WHDELIVER_PAGE)
			break;
	}
	if (rc == 0 && successes > 0 && failures == 0 && record_hook(r, h, true, NULL, e) < 0)
		rc = -1;
	fx_firestore_doc_cleanup(&last);
	free(b.res);
	secrets_cleanup(&s);
	return rc;
}

/* 1 when the organization has work (an event waiting, or a subscription), 0 not, -1 Firestore. */
static int has_work(struct run *r, struct fx_err *e)
{
	struct fx_doc *docs = NULL;
	size_t n = 0;

	if (events_page(r, 1, true, &docs, &n, e) < 0)
		return -1;
	fx_firestore_docs_free(docs, n);
	return n > 0 || r->nhooks > 0;
}

int fx_whdeliver_run(const char *org, struct fx_whdeliver_stats *stats, struct fx_err *e)
{
	char rel[PATH_MAX_BYTES], holder[FX_ID_LEN + 1];
	struct fx_lease lc = {.rel = rel, .holder = holder, .seconds = FX_WHDELIVER_LEASE_S};
	struct run *r;
	struct fx_err ignored;
	int rc = -1, work, left = 0;

	if (!org || !fx_model_id_valid(org))
		return fx_err_set(e, FX_NOT_FOUND, "organization not found");
	if (fx_str_fmt(rel, sizeof(rel), "jobLeases/whdeliver-%s", org) < 0)
		return fx_err_set(e, FX_INTERNAL, "lease path over %zu bytes", sizeof(rel));
	r = fx_mem_xcalloc(1, sizeof(*r));
	r->org = org;
	r->st = stats;
	r->started_ms = fx_clock_ms();
	fx_webhook_windows(&r->w);
	/* Every minute for every organization: one with no subscription and no event costs two reads, no lease. */
	if (read_hooks(r, e) < 0 || (work = has_work(r, e)) < 0)
		goto out;
	if (work == 0) {
		rc = 0;
		goto out;
	}
	fx_model_id_new(holder);
	if (fx_lease_take(&lc, e) < 0)
		goto out;
	if (lc.busy) {
		stats->busy = true;
		rc = 0;
		goto out;
	}
	rc = fan_out(r, e);
	if (rc == 0 && (left = left_behind(r, e)) < 0)
		rc = -1;
	if (rc == 0 && left == 0)
		stats->fanout_incomplete = true;
	for (size_t i = 0; rc == 0 && left == 1 && i < r->nhooks; i++)
		rc = deliver_hook(r, &r->hooks[i], e);
	fx_err_clear(&ignored);
	if (fx_lease_release(&lc, &ignored) < 0)
		fx_log_warn("webhooks: organization %s: lease not released (it expires): %s", org, ignored.message);
out:
	hooks_cleanup(r);
	free(r->left);
	free(r);
	return rc;
}
