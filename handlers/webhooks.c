/*
 * webhooks: an organization's subscriptions to its own events (API.md §
 * Webhooks out, issue 17). Documents below organizations/{org}:
 * webhooks/{wid} {url, events, description, enabled, disabledReason,
 * disabledAt, failingSince, lastDeliveryAt, sealed {secret,
 * previousSecret?} (fx_seal, AAD the document's path; never answered),
 * previousSecretUntil, createdAt, updatedAt} and its deliveries/{eventId}
 * (lib/whdeliver writes them). Every route is the admin's; another
 * organization's subscription is 404 like a missing one.
 *
 * POST /v1/webhooks {url, events, description?}: 201 with secret shown
 * this once. The URL must be https and its host must resolve only to
 * public addresses (lib/egress); a demo- project may also use a loopback
 * address literal (http or https). At most FX_WEBHOOK_MAX_PER_ORG per
 * organization (409 FAILED_PRECONDITION).
 * GET /v1/webhooks, GET /v1/webhooks/{id}.
 * PATCH /v1/webhooks/{id} {url?, events?, description?, enabled?}
 * (If-Match honoured): enabled true re-enables a disabled subscription
 * (its reason and failure clock cleared).
 * DELETE /v1/webhooks/{id}: 204 (its delivery log stays until the
 * cleanup; nothing is delivered to it any more).
 * POST /v1/webhooks/{id}:rotateSecret: a new secret, shown this once; the
 * previous one keeps signing (a second v1= entry) for 24 h.
 * GET /v1/webhooks/{id}/deliveries: the last 30 days, newest first, paged.
 */
#include "authz.h"
#include "config.h"
#include "egress.h"
#include "firestore.h"
#include "fswrite.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "map.h"
#include "mem.h"
#include "model.h"
#include "plain.h"
#include "seal.h"
#include "str.h"
#include "tenant.h"
#include "ts.h"
#include "webhook.h"
#include "worker.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int list(struct fx_req *r, struct fx_err *e);
static int create(struct fx_req *r, struct fx_err *e);
static int get(struct fx_req *r, struct fx_err *e);
static int update(struct fx_req *r, struct fx_err *e);
static int destroy(struct fx_req *r, struct fx_err *e);
static int rotate(struct fx_req *r, struct fx_err *e);
static int deliveries(struct fx_req *r, struct fx_err *e);

static const struct fx_route routes[] = {
	{"GET", "/v1/webhooks", list, FX_MEMBER, FX_ROLE_ADMIN, 0, 0},
	{"POST", "/v1/webhooks", create, FX_MEMBER, FX_ROLE_ADMIN, FX_BODY_JSON, 0},
	{"GET", "/v1/webhooks/{id}", get, FX_MEMBER, FX_ROLE_ADMIN, 0, 0},
	{"PATCH", "/v1/webhooks/{id}", update, FX_MEMBER, FX_ROLE_ADMIN, FX_BODY_JSON, 0},
	{"DELETE", "/v1/webhooks/{id}", destroy, FX_MEMBER, FX_ROLE_ADMIN, 0, 0},
	{"POST", "/v1/webhooks/{id}:rotateSecret", rotate, FX_MEMBER, FX_ROLE_ADMIN, FX_BODY_JSON, 0},
	{"GET", "/v1/webhooks/{id}/deliveries", deliveries, FX_MEMBER, FX_ROLE_ADMIN, 0, 0},
};

/* Secrets and bookkeeping no answer shows. */
static const char *const hidden[] = {"organizationId", "sealed", "previousSecretUntil", NULL};
static const char *const delivery_hidden[] = {"organizationId", "body", "pending", "seq", "sub", "webhookId", NULL};

#define DELIVERY_LOG_S (30 * 24 * 3600)

static bool demo_project(void)
{
	const struct fx_config *c = fx_config_get();

	return c && c->project && strncmp(c->project, "demo-", 5) == 0;
}

/*
 * The URL rules of a subscription: https and a public host (every address
 * it resolves to); a demo- project's loopback literal passes too.
 */
static int check_url(const char *url, struct fx_err *e)
{
	bool loopback = demo_project() && fx_webhook_url_loopback_literal(url);

	if (strlen(url) > FX_WEBHOOK_URL_MAX)
		return fx_err_invalid(e, "url", "must be at most %d bytes", FX_WEBHOOK_URL_MAX);
	if (fx_egress_check_url(url, loopback, e) < 0) {
		if (fx_err_is(e, FX_INVALID_ARGUMENT) && e->ndetails == 0)
			fx_err_detail(e, "url", "%s", e->message);
		return -1;
	}
	return 0;
}

/* The subscription's API JSON, with secret (shown once) when not NULL. Caller puts. */
static json_object *hook_json(const struct fx_doc *doc, const char *secret)
{
	json_object *out = fx_model_doc_json(doc, hidden);

	if (secret)
		json_object_object_add(out, "secret", json_object_new_string(secret));
	return out;
}

static int answer(struct fx_req *r, int status, const struct fx_doc *doc, const char *secret)
{
	json_object *out = hook_json(doc, secret);
	int rc;

	if (status == 201) {
		char location[128];

		fx_str_text(location, sizeof(location), "/v1/webhooks/%s", doc->id);
		rc = fx_model_resp_created(r, location, out);
	} else {
		rc = fx_http_resp_json(r, status, out);
	}
	json_object_put(out);
	return rc;
}

static const char *hook_rel(const struct fx_req *r, struct fx_err *e)
{
	return fx_tenant_path(r, NULL, "webhooks", fx_http_req_param(r, "id"), "webhook", e);
}

static int list(struct fx_req *r, struct fx_err *e)
{
	static const char *const params[] = {NULL};
	const char *parent_rel;
	struct fx_query *q = NULL;
	struct fx_doc *docs = NULL;
	json_object *out = NULL, *data;
	size_t n = 0;
	int rc = -1;

	if (fx_http_req_query_allow(r, params, e) < 0)
		goto out;
	q = fx_tenant_query(r, NULL, "webhooks", &parent_rel, e);
	if (!q || fx_fsquery_order_by(q, "createdAt", false, e) < 0 || fx_fsquery_order_by(q, "__name__", false, e) < 0)
		goto out;
	fx_fsquery_limit(q, FX_WEBHOOK_MAX_PER_ORG + 5);
	if (fx_firestore_query(parent_rel, q, NULL, &docs, &n, e) < 0)
		goto out;
	out = json_object_new_object();
	data = json_object_new_array();
	json_object_object_add(out, "data", data);
	for (size_t i = 0; i < n; i++)
		json_object_array_add(data, hook_json(&docs[i], NULL));
	rc = fx_http_resp_json(r, 200, out);
out:
	json_object_put(out);
	fx_firestore_docs_free(docs, n);
	fx_fsquery_free(q);
	return rc;
}

static int get(struct fx_req *r, struct fx_err *e)
{
	const char *rel = hook_rel(r, e);
	struct fx_doc doc = {0};
	int rc;

	if (!rel || fx_tenant_get(r, rel, "webhook", &doc, e) < 0)
		return -1;
	rc = answer(r, 200, &doc, NULL);
	fx_firestore_doc_cleanup(&doc);
	return rc;
}

/* What a create or a change takes from the body, checked. */
struct input {
	const char *url;
	json_object *events;
	const char *description;
	bool has_description, description_null, has_enabled, enabled;
};

static int take_input(json_object *body, bool creating, struct input *in, struct fx_err *e)
{
	json_object *v = NULL;
	bool present = false;

	if (fx_json_string(body, "url", "url", creating, 1, FX_WEBHOOK_URL_MAX, &in->url, &present, e) < 0)
		return -1;
	if (fx_json_array(body, "events", "events", creating, 16, &in->events, &present, e) < 0)
		return -1;
	if (present && fx_webhook_events_check(in->events, "events", e) < 0)
		return -1;
	if (json_object_object_get_ex(body, "description", &v) && !v) {
		in->description_null = true;
	} else {
		if (fx_json_string(body, "description", "description", false, 0, FX_WEBHOOK_DESCRIPTION_MAX,
				   &in->description, &in->has_description, e) < 0)
			return -1;
		if (in->has_description && strlen(in->description) > FX_WEBHOOK_DESCRIPTION_MAX)
			return fx_err_invalid(e, "description", "must be at most %d bytes", FX_WEBHOOK_DESCRIPTION_MAX);
	}
	if (!creating && fx_json_bool(body, "enabled", "enabled", false, &in->enabled, &in->has_enabled, e) < 0)
		return -1;
	/* The address last: it resolves the host, so every cheap check speaks first. */
	return in->url ? check_url(in->url, e) : 0;
}

static int set_events(struct fx_value *map, json_object *events, struct fx_err *e)
{
	return fx_model_map_set_plain(map, "events", events, "events", e);
}

static int seal_secret(struct fx_value *sealed_map, const char *name, const char *secret, const char *rel,
		       struct fx_err *e)
{
	char *sealed = NULL;

	if (fx_seal(secret, strlen(secret), rel, &sealed, e) < 0)
		return -1;
	fx_map_set_str(sealed_map, name, sealed);
	free(sealed);
	return 0;
}

struct create_ctx {
	struct fx_req *r;
	const char *rel;
	const struct fx_value *map;
};

static int create_txn(struct fx_txn *t, void *arg, struct fx_err *e)
{
	struct create_ctx *c = arg;
	struct fx_query *q;
	struct fx_doc *docs = NULL;
	const char *parent_rel;
	size_t n = 0;
	char *name = NULL;
	int rc = -1;

	q = fx_tenant_query(c->r, NULL, "webhooks", &parent_rel, e);
	if (!q || fx_fsquery_select(q, NULL, 0, e) < 0)
		goto out;
	fx_fsquery_limit(q, FX_WEBHOOK_MAX_PER_ORG);
	if (fx_firestore_query(parent_rel, q, t->id, &docs, &n, e) < 0)
		goto out;
	if (n >= FX_WEBHOOK_MAX_PER_ORG) {
		fx_err_set(e, FX_FAILED_PRECONDITION, "the organization has %d webhooks: delete one first",
			   FX_WEBHOOK_MAX_PER_ORG);
		fx_err_detail(e, "webhooks", "at most %d per organization", FX_WEBHOOK_MAX_PER_ORG);
		goto out;
	}
	name = fx_tenant_name(c->rel);
	rc = fx_fswrite_create(t->writes, name, c->map, NULL, e);
out:
	free(name);
	fx_firestore_docs_free(docs, n);
	fx_fsquery_free(q);
	return rc;
}

static int create(struct fx_req *r, struct fx_err *e)
{
	static const char *const allowed[] = {"url", "events", "description", NULL};
	struct input in = {0};
	struct fx_value map = {0}, *sealed;
	struct fx_doc doc = {0};
	json_object *body = NULL;
	char id[FX_ID_LEN + 1], secret[FX_WEBHOOK_SECRET_LEN + 1] = "";
	struct create_ctx c = {r, NULL, &map};
	int rc = -1;

	if (fx_http_req_json(r, false, &body, e) < 0 || fx_json_allow(body, allowed, "", e) < 0 ||
	    take_input(body, true, &in, e) < 0)
		goto out;
	fx_model_id_new(id);
	if (!(c.rel = fx_tenant_path(r, NULL, "webhooks", id, "webhook", e)) || fx_webhook_secret_new(secret, e) < 0)
		goto out;
	fx_value_map(&map);
	fx_map_set_str(&map, "url", in.url);
	if (set_events(&map, in.events, e) < 0)
		goto out;
	if (in.has_description)
		fx_map_set_str(&map, "description", in.description);
	else
		fx_value_null(fx_map_set(&map, "description"));
	fx_map_set_bool(&map, "enabled", true);
	fx_value_null(fx_map_set(&map, "disabledReason"));
	fx_value_null(fx_map_set(&map, "disabledAt"));
	fx_value_null(fx_map_set(&map, "failingSince"));
	fx_value_null(fx_map_set(&map, "lastDeliveryAt"));
	sealed = fx_map_set(&map, "sealed");
	fx_value_map(sealed);
	if (seal_secret(sealed, "secret", secret, c.rel, e) < 0)
		goto out;
	fx_value_null(fx_map_set(&map, "previousSecretUntil"));
	fx_tenant_stamp(r, &map);
	fx_model_map_set_now(&map, "createdAt");
	fx_model_map_set_now(&map, "updatedAt");
	if (fx_firestore_run_transaction(create_txn, &c, e) < 0 || fx_firestore_get(c.rel, &doc, e) < 0)
		goto out;
	fx_log_info("webhook %s created in %s", id, r->principal->organization_id);
	rc = answer(r, 201, &doc, secret);
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	json_object_put(body);
	fx_value_cleanup(&map);
	fx_firestore_doc_cleanup(&doc);
	return rc;
}

struct update_ctx {
	struct fx_req *r;
	const char *rel;
	const char *if_match;
	struct input in;
	const char *secret; /* rotate: the new secret */
	int64_t rotation_s;
};

static int update_txn(struct fx_txn *t, void *arg, struct fx_err *e)
{
	struct update_ctx *c = arg;
	struct input *in = &c->in;
	struct fx_value map = {0};
	struct fx_doc doc = {0};
	const char *mask[16];
	size_t n = 0;
	char *name = NULL;
	int rc = -1;

	if (fx_tenant_txn_get(c->r, t->id, c->rel, "webhook", c->if_match, &doc, e) < 0)
		return -1;
	fx_value_map(&map);
	if (in->url)
		fx_map_set_str(&map, "url", in->url), mask[n++] = "url";
	if (in->events) {
		if (set_events(&map, in->events, e) < 0)
			goto out;
		mask[n++] = "events";
	}
	if (in->has_description)
		fx_map_set_str(&map, "description", in->description), mask[n++] = "description";
	else if (in->description_null)
		fx_value_null(fx_map_set(&map, "description")), mask[n++] = "description";
	if (in->has_enabled) {
		fx_map_set_bool(&map, "enabled", in->enabled);
		mask[n++] = "enabled";
		if (in->enabled) {
			/* re-enabled: the reason goes, the failure clock starts again */
			fx_value_null(fx_map_set(&map, "disabledReason"));
			fx_value_null(fx_map_set(&map, "disabledAt"));
			fx_value_null(fx_map_set(&map, "failingSince"));
			mask[n++] = "disabledReason";
			mask[n++] = "disabledAt";
			mask[n++] = "failingSince";
		}
	}
	if (c->secret) {
		const char *cur = fx_value_path_str(&doc.fields, "sealed.secret");
		struct fx_value *sealed = fx_map_set(&map, "sealed");
		int64_t secs;
		int32_t nanos;

		fx_value_map(sealed);
		if (seal_secret(sealed, "secret", c->secret, c->rel, e) < 0)
			goto out;
		/* the previous secret is the same document's: its sealed text moves as it is */
		if (cur)
			fx_map_set_str(sealed, "previousSecret", cur);
		fx_ts_now(&secs, &nanos);
		fx_map_set_ts(&map, "previousSecretUntil", secs + c->rotation_s, 0);
		mask[n++] = "sealed";
		mask[n++] = "previousSecretUntil";
	}
	fx_model_map_set_now(&map, "updatedAt");
	mask[n++] = "updatedAt";
	mask[n] = NULL;
	name = fx_tenant_name(c->rel);
	rc = fx_fswrite_update(t->writes, name, &map, mask, doc.update_time, NULL, e);
out:
	free(name);
	fx_value_cleanup(&map);
	fx_firestore_doc_cleanup(&doc);
	return rc;
}

static int update(struct fx_req *r, struct fx_err *e)
{
	static const char *const allowed[] = {"url", "events", "description", "enabled", NULL};
	struct update_ctx c = {0};
	struct fx_doc doc = {0};
	json_object *body = NULL;
	int rc = -1;

	c.r = r;
	if (!(c.rel = hook_rel(r, e)) || fx_model_if_match(r, &c.if_match, e) < 0)
		return -1;
	if (fx_http_req_json(r, false, &body, e) < 0 || fx_json_allow(body, allowed, "", e) < 0 ||
	    take_input(body, false, &c.in, e) < 0 || fx_firestore_run_transaction(update_txn, &c, e) < 0 ||
	    fx_tenant_get(r, c.rel, "webhook", &doc, e) < 0)
		goto out;
	rc = answer(r, 200, &doc, NULL);
out:
	json_object_put(body);
	fx_firestore_doc_cleanup(&doc);
	return rc;
}

static int rotate(struct fx_req *r, struct fx_err *e)
{
	static const char *const none[] = {NULL};
	struct update_ctx c = {0};
	struct fx_webhook_windows w;
	struct fx_doc doc = {0};
	json_object *body = NULL;
	char secret[FX_WEBHOOK_SECRET_LEN + 1] = "";
	int rc = -1;

	c.r = r;
	fx_webhook_windows(&w);
	c.rotation_s = w.rotation_s;
	if (!(c.rel = hook_rel(r, e)) || fx_model_if_match(r, &c.if_match, e) < 0)
		return -1;
	if (fx_http_req_json(r, true, &body, e) < 0 || fx_json_allow(body, none, "", e) < 0 ||
	    fx_webhook_secret_new(secret, e) < 0)
		goto out;
	c.secret = secret;
	if (fx_firestore_run_transaction(update_txn, &c, e) < 0 || fx_tenant_get(r, c.rel, "webhook", &doc, e) < 0)
		goto out;
	fx_log_info("webhook %s: secret rotated in %s", doc.id, r->principal->organization_id);
	rc = answer(r, 200, &doc, secret);
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	json_object_put(body);
	fx_firestore_doc_cleanup(&doc);
	return rc;
}

struct destroy_ctx {
	struct fx_req *r;
	const char *rel;
	const char *if_match;
};

static int destroy_txn(struct fx_txn *t, void *arg, struct fx_err *e)
{
	struct destroy_ctx *c = arg;
	struct fx_doc doc = {0};
	char *name;
	int rc;

	if (fx_tenant_txn_get(c->r, t->id, c->rel, "webhook", c->if_match, &doc, e) < 0)
		return -1;
	name = fx_tenant_name(c->rel);
	rc = fx_fswrite_delete(t->writes, name, -1, doc.update_time, e);
	free(name);
	fx_firestore_doc_cleanup(&doc);
	return rc;
}

static int destroy(struct fx_req *r, struct fx_err *e)
{
	struct destroy_ctx c = {r, NULL, NULL};

	if (!(c.rel = hook_rel(r, e)) || fx_model_if_match(r, &c.if_match, e) < 0 ||
	    fx_firestore_run_transaction(destroy_txn, &c, e) < 0)
		return -1;
	fx_log_info("webhook %s deleted in %s", fx_http_req_param(r, "id"), r->principal->organization_id);
	return fx_http_resp_send(r, 204, NULL, NULL, 0);
}

static int deliveries(struct fx_req *r, struct fx_err *e)
{
	static const char *const params[] = {"pageSize", "pageToken", NULL};
	static const char *const cursor_fields[] = {"createdAt", NULL};
	const char *rel = hook_rel(r, e), *parent, *parent_rel;
	struct fx_query *q = NULL;
	struct fx_doc hook = {0}, *docs = NULL;
	struct fx_value since = {0};
	struct fx_buf token;
	json_object *out = NULL, *data;
	size_t n = 0, shown;
	int size, rc = -1;

	fx_buf_init(&token, 8192);
	if (!rel || fx_http_req_query_allow(r, params, e) < 0 || fx_model_page_size(r, &size, e) < 0 ||
	    fx_tenant_get(r, rel, "webhook", &hook, e) < 0)
		goto out;
	parent = fx_arena_printf(r->arena, "webhooks/%s", hook.id);
	if (!parent) {
		fx_err_set(e, FX_INTERNAL, "out of request memory");
		goto out;
	}
	fx_value_ts(&since, (int64_t)time(NULL) - DELIVERY_LOG_S, 0);
	q = fx_tenant_query(r, parent, "deliveries", &parent_rel, e);
	if (!q || fx_fsquery_where(q, "createdAt", ">=", &since, e) < 0 ||
	    fx_fsquery_order_by(q, "createdAt", true, e) < 0 || fx_fsquery_order_by(q, "__name__", true, e) < 0 ||
	    fx_model_list_cursor(r, q, "deliveries", e) < 0)
		goto out;
	fx_fsquery_limit(q, size + 1);
	if (fx_firestore_query(parent_rel, q, NULL, &docs, &n, e) < 0)
		goto out;
	shown = n > (size_t)size ? (size_t)size : n;
	out = json_object_new_object();
	data = json_object_new_array();
	json_object_object_add(out, "data", data);
	for (size_t i = 0; i < shown; i++) {
		json_object *d = fx_model_doc_json(&docs[i], delivery_hidden);

		json_object_object_del(d, "etag");
		json_object_array_add(data, d);
	}
	if (n > (size_t)size) {
		if (fx_model_page_token_next("deliveries", &docs[shown - 1], cursor_fields, &token, e) < 0)
			goto out;
		json_object_object_add(out, "nextPageToken", json_object_new_string(token.data ? token.data : ""));
	}
	rc = fx_http_resp_json(r, 200, out);
out:
	json_object_put(out);
	fx_value_cleanup(&since);
	fx_firestore_docs_free(docs, n);
	fx_firestore_doc_cleanup(&hook);
	fx_fsquery_free(q);
	fx_buf_cleanup(&token);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct fx_app app = {"webhooks", routes, sizeof(routes) / sizeof(routes[0]), NULL};

	return fx_worker_main(&app, argc, argv);
}
