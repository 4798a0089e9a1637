/*
 * channels: the sales channels an organization sells through (Shopify,
 * WooCommerce, Takealot) and the listings that link its products to their
 * offers there (API.md § Channels). Documents below organizations/{org}:
 * channels/{cid} (credentials and the webhook secret sealed with fx_seal
 * under sealed{}, never answered), channels/{cid}/listings/{lid}, and the
 * uniqueness keys channels/{cid}/listingKeys/p-{productId} and
 * x-{hex of externalId}; top-level channelHooks/{cid} {organizationId}
 * lets the public webhook route find the organization from the path.
 *
 * GET /v1/channels: the channels, oldest first, paged.
 * POST /v1/channels {type, name, settings, credentials, webhookSecret?}
 * (admin): 201 with the channel; the address its calls go to is checked
 * with fx_egress (loopback, private and link-local refused, except a
 * demo project's settings.baseUrl).
 * GET /v1/channels/{id}: the channel.
 * PATCH /v1/channels/{id} {name?, settings?, credentials?, webhookSecret?,
 * status? (active|paused)} (admin, If-Match): settings and credentials are
 * replaced as a whole; webhookSecret null removes it.
 * DELETE /v1/channels/{id} (admin, If-Match): 204; 409 FAILED_PRECONDITION
 * while the channel has listings (delete them first), so no product keeps
 * a reference to a channel that is gone.
 * POST /v1/channels/{id}:test (admin): calls the channel with the stored
 * credentials, {ok, message} with the channel's own text; nothing stored.
 * GET /v1/channels/{id}/listings, GET .../listings/{listingId}.
 * POST /v1/channels/{id}/listings {productId, externalId, buffer?,
 * maxQuantity?} (manager): one transaction writes the listing, both keys
 * (a duplicate is 409 ALREADY_EXISTS naming the field), the product's
 * listings ref, the channel's counts.listings and an outbox stock entry.
 * DELETE /v1/channels/{id}/listings/{listingId} (manager): undoes it all.
 */
#include "authz.h"
#include "chandoc.h"
#include "chanpoll.h"
#include "chanpush.h"
#include "channel.h"
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
#include "outbox.h"
#include "seal.h"
#include "str.h"
#include "tenant.h"
#include "worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int list(struct fx_req *r, struct fx_err *e);
static int create(struct fx_req *r, struct fx_err *e);
static int get(struct fx_req *r, struct fx_err *e);
static int update(struct fx_req *r, struct fx_err *e);
static int destroy(struct fx_req *r, struct fx_err *e);
static int test_channel(struct fx_req *r, struct fx_err *e);
static int list_listings(struct fx_req *r, struct fx_err *e);
static int create_listing(struct fx_req *r, struct fx_err *e);
static int get_listing(struct fx_req *r, struct fx_err *e);
static int destroy_listing(struct fx_req *r, struct fx_err *e);
static int sync_now(struct fx_req *r, struct fx_err *e);

static const struct fx_route routes[] = {
	{"GET", "/v1/channels", list, FX_MEMBER, FX_ROLE_VIEWER, 0, 0},
	{"POST", "/v1/channels", create, FX_MEMBER, FX_ROLE_ADMIN, FX_BODY_JSON, 0},
	{"GET", "/v1/channels/{id}", get, FX_MEMBER, FX_ROLE_VIEWER, 0, 0},
	{"PATCH", "/v1/channels/{id}", update, FX_MEMBER, FX_ROLE_ADMIN, FX_BODY_JSON, 0},
	{"DELETE", "/v1/channels/{id}", destroy, FX_MEMBER, FX_ROLE_ADMIN, 0, 0},
	{"POST", "/v1/channels/{id}:test", test_channel, FX_MEMBER, FX_ROLE_ADMIN, FX_BODY_JSON, 0},
	{"GET", "/v1/channels/{id}/listings", list_listings, FX_MEMBER, FX_ROLE_VIEWER, 0, 0},
	{"POST", "/v1/channels/{id}/listings", create_listing, FX_MEMBER, FX_ROLE_MANAGER, FX_BODY_JSON, 0},
	{"GET", "/v1/channels/{id}/listings/{listingId}", get_listing, FX_MEMBER, FX_ROLE_VIEWER, 0, 0},
	{"DELETE", "/v1/channels/{id}/listings/{listingId}", destroy_listing, FX_MEMBER, FX_ROLE_MANAGER, 0, 0},
	{"POST", "/v1/channels/{id}:sync", sync_now, FX_MEMBER, FX_ROLE_ADMIN, FX_BODY_JSON, 0},
};

/* Server bookkeeping and secrets that no answer shows. */
static const char *const hidden[] = {"organizationId", "sealed", "orderCursor", "pushNotBefore", "pushFailures", NULL};
static const char *const listing_hidden[] = {"organizationId", "channelId", "failures", NULL};

#define MAX_LISTINGS_PER_PRODUCT 20
#define EXTERNAL_ID_MAX 255
#define MAX_QUANTITY_MAX 1000000000

/* ---- channels ---- */

/* The channel's API JSON: the document minus hidden, with credentialsSet and webhookUrl. Caller puts. */
static json_object *channel_json(const struct fx_req *r, const struct fx_doc *doc)
{
	const struct fx_config *c = fx_config_get();
	json_object *out = fx_model_doc_json(doc, hidden);
	char url[512];

	json_object_object_add(out, "credentialsSet",
			       json_object_new_boolean(fx_value_path_str(&doc->fields, "sealed.credentials") != NULL));
	if (fx_chandoc_webhook_url(c ? c->public_url : NULL, fx_http_req_header(r, "X-Forwarded-Proto"),
				   fx_http_req_header(r, "Host"), doc->id, url, sizeof(url)) == 0)
		json_object_object_add(out, "webhookUrl", json_object_new_string(url));
	else
		json_object_object_add(out, "webhookUrl", NULL);
	return out;
}

static int answer_channel(struct fx_req *r, int status, const struct fx_doc *doc)
{
	json_object *out = channel_json(r, doc);
	int rc;

	if (status == 201) {
		char location[128];

		fx_str_text(location, sizeof(location), "/v1/channels/%s", doc->id);
		rc = fx_model_resp_created(r, location, out);
	} else {
		rc = fx_http_resp_json(r, status, out);
	}
	json_object_put(out);
	return rc;
}

static int list(struct fx_req *r, struct fx_err *e)
{
	static const char *const params[] = {"pageSize", "pageToken", NULL};
	const char *parent_rel, *cursor_fields[] = {"createdAt", NULL};
	struct fx_query *q = NULL;
	struct fx_doc *docs = NULL;
	struct fx_buf token;
	json_object *out = NULL, *data;
	size_t n = 0, shown;
	int size, rc = -1;

	fx_buf_init(&token, 8192);
	if (fx_http_req_query_allow(r, params, e) < 0 || fx_model_page_size(r, &size, e) < 0)
		goto out;
	q = fx_tenant_query(r, NULL, "channels", &parent_rel, e);
	if (!q || fx_fsquery_order_by(q, "createdAt", false, e) < 0 ||
	    fx_fsquery_order_by(q, "__name__", false, e) < 0 || fx_model_list_cursor(r, q, "channels", e) < 0)
		goto out;
	fx_fsquery_limit(q, size + 1);
	if (fx_firestore_query(parent_rel, q, NULL, &docs, &n, e) < 0)
		goto out;
	shown = n > (size_t)size ? (size_t)size : n;
	out = json_object_new_object();
	data = json_object_new_array();
	json_object_object_add(out, "data", data);
	for (size_t i = 0; i < shown; i++)
		json_object_array_add(data, channel_json(r, &docs[i]));
	if (n > (size_t)size) {
		if (fx_model_page_token_next("channels", &docs[shown - 1], cursor_fields, &token, e) < 0)
			goto out;
		json_object_object_add(out, "nextPageToken", json_object_new_string(token.data ? token.data : ""));
	}
	rc = fx_http_resp_json(r, 200, out);
out:
	json_object_put(out);
	fx_firestore_docs_free(docs, n);
	fx_fsquery_free(q);
	fx_buf_cleanup(&token);
	return rc;
}

/* The channel {id} of the path: its relative path, or NULL with 404. */
static const char *channel_rel(const struct fx_req *r, struct fx_err *e)
{
	return fx_tenant_path(r, NULL, "channels", fx_http_req_param(r, "id"), "channel", e);
}

/* "channels/{id}" relative to the organization (a listing's parent), in the arena; NULL with 404. */
static const char *channel_parent(struct fx_req *r, struct fx_err *e)
{
	const char *id = fx_http_req_param(r, "id");

	if (!channel_rel(r, e))
		return NULL;
	return fx_arena_printf(r->arena, "channels/%s", id);
}

static int get(struct fx_req *r, struct fx_err *e)
{
	const char *rel = channel_rel(r, e);
	struct fx_doc doc = {0};
	int rc;

	if (!rel || fx_tenant_get(r, rel, "channel", &doc, e) < 0)
		return -1;
	rc = answer_channel(r, 200, &doc);
	fx_firestore_doc_cleanup(&doc);
	return rc;
}

/* Which settings field names the address a channel of type calls (for an error's detail). */
static const char *target_field(const char *type, bool overridden)
{
	if (overridden)
		return "settings.baseUrl";
	return strcmp(type, "shopify") == 0 ? "settings.shopDomain" : "settings.siteUrl";
}

/*
 * Checks the address the channel's calls will go to (fx_egress_check_url):
 * a demo project's baseUrl may be local, every other target must be a
 * public https host. Takealot's own host is not checked (it is ours to name).
 */
static int check_target(const char *type, const struct fx_value *settings, struct fx_err *e)
{
	char url[FX_CHANDOC_URL_MAX + 64];
	bool overridden;

	if (fx_chandoc_target(type, settings, url, sizeof(url), &overridden, e) < 0)
		return -1;
	if (!overridden && strcmp(type, "takealot") == 0)
		return 0;
	if (fx_egress_check_url(url, overridden, e) < 0) {
		if (fx_err_is(e, FX_INVALID_ARGUMENT) && e->ndetails == 0)
			fx_err_detail(e, target_field(type, overridden), "%s", e->message);
		return -1;
	}
	return 0;
}

/* Seals n bytes of plain for the channel document rel into map[name]. */
static int seal_into(struct fx_value *map, const char *name, const char *plain, size_t n, const char *rel,
		     struct fx_err *e)
{
	char *sealed = NULL;

	if (fx_seal(plain, n, rel, &sealed, e) < 0)
		return -1;
	fx_map_set_str(map, name, sealed);
	free(sealed);
	return 0;
}

/* What a create or a change takes from the request body, checked. */
struct channel_input {
	const char *type;
	const char *name;
	bool has_settings, has_credentials, has_secret, secret_null;
	struct fx_value settings;
	char *credentials; /* plain JSON text, wiped and freed in input_cleanup */
	char last4[FX_CHANDOC_LAST4_SIZE];
	const char *secret;
	const char *status;
};

static void input_cleanup(struct channel_input *in)
{
	fx_value_cleanup(&in->settings);
	if (in->credentials)
		fx_seal_clear_free(in->credentials, strlen(in->credentials));
	in->credentials = NULL;
}

static int take_name(json_object *body, bool required, struct channel_input *in, struct fx_err *e)
{
	bool present;

	if (fx_json_string(body, "name", "name", required, 1, FX_CHANDOC_NAME_MAX, &in->name, &present, e) < 0)
		return -1;
	if (present && strlen(in->name) > FX_CHANDOC_NAME_MAX)
		return fx_err_invalid(e, "name", "must be at most %d bytes", FX_CHANDOC_NAME_MAX);
	return 0;
}

/* Reads settings, credentials and webhookSecret of a channel of in->type from body, then checks the call target. */
static int take_config(json_object *body, bool creating, struct channel_input *in, struct fx_err *e)
{
	const struct fx_config *c = fx_config_get();
	json_object *obj = NULL, *v = NULL;

	if (fx_json_object(body, "settings", "settings", creating, &obj, &in->has_settings, e) < 0)
		return -1;
	if (in->has_settings) {
		fx_value_map(&in->settings);
		if (fx_chandoc_settings(in->type, obj, fx_chandoc_demo(c ? c->project : NULL), &in->settings, e) < 0)
			return -1;
	}
	if (fx_json_object(body, "credentials", "credentials", creating, &obj, &in->has_credentials, e) < 0)
		return -1;
	if (in->has_credentials && fx_chandoc_credentials(in->type, obj, &in->credentials, in->last4, e) < 0)
		return -1;
	if (json_object_object_get_ex(body, "webhookSecret", &v) && !v && !creating)
		in->secret_null = true;
	else if (fx_chandoc_secret(body, "webhookSecret", "webhookSecret", false, &in->secret, &in->has_secret, e) < 0)
		return -1;
	/* The address last: it resolves the host, so every cheap check speaks first. */
	return in->has_settings ? check_target(in->type, &in->settings, e) : 0;
}

static void zero_counts(struct fx_value *map)
{
	struct fx_value *counts = fx_map_set(map, "counts");

	fx_value_map(counts);
	fx_map_set_int(counts, "listings", 0);
	fx_map_set_int(counts, "ordersImported", 0);
	fx_map_set_int(counts, "pushesFailed", 0);
}

/* The channel document of a create, sealed for rel. */
static int new_channel(const struct fx_req *r, struct channel_input *in, const char *rel, struct fx_value *map,
		       struct fx_err *e)
{
	struct fx_value *sealed;

	fx_value_map(map);
	fx_map_set_str(map, "type", in->type);
	fx_map_set_str(map, "name", in->name);
	fx_map_set_str(map, "status", "active");
	fx_value_copy(fx_map_set(map, "settings"), &in->settings);
	sealed = fx_map_set(map, "sealed");
	fx_value_map(sealed);
	if (seal_into(sealed, "credentials", in->credentials, strlen(in->credentials), rel, e) < 0)
		return -1;
	if (in->has_secret && seal_into(sealed, "webhookSecret", in->secret, strlen(in->secret), rel, e) < 0)
		return -1;
	fx_map_set_str(map, "credentialsLast4", in->last4);
	fx_map_set_bool(map, "webhookSecretSet", in->has_secret);
	fx_value_null(fx_map_set(map, "lastOrderSyncAt"));
	fx_value_null(fx_map_set(map, "lastStockPushAt"));
	fx_value_null(fx_map_set(map, "lastError"));
	zero_counts(map);
	fx_tenant_stamp(r, map);
	fx_model_map_set_now(map, "createdAt");
	fx_model_map_set_now(map, "updatedAt");
	return 0;
}

/* The channel and its channelHooks/{id} document in one commit. */
static int write_channel(const struct fx_req *r, const char *rel, const char *id, const struct fx_value *map,
			 struct fx_err *e)
{
	struct fx_value hook = {0};
	json_object *writes = json_object_new_array();
	char *name = fx_tenant_name(rel), *hook_name = NULL, hook_rel[64];
	int rc = -1;

	if (fx_str_fmt(hook_rel, sizeof(hook_rel), "channelHooks/%s", id) < 0) {
		fx_err_set(e, FX_INTERNAL, "channel id over %zu bytes", sizeof(hook_rel));
		goto out;
	}
	hook_name = fx_firestore_name(hook_rel);
	fx_value_map(&hook);
	fx_tenant_stamp(r, &hook);
	if (fx_fswrite_create(writes, name, map, NULL, e) < 0 ||
	    fx_fswrite_create(writes, hook_name, &hook, NULL, e) < 0)
		goto out;
	rc = fx_firestore_commit(writes, NULL, NULL, NULL, e);
out:
	json_object_put(writes);
	fx_value_cleanup(&hook);
	free(name);
	free(hook_name);
	return rc;
}

static int create(struct fx_req *r, struct fx_err *e)
{
	static const char *const allowed[] = {"type", "name", "settings", "credentials", "webhookSecret", NULL};
	struct channel_input in = {0};
	struct fx_value map = {0};
	struct fx_doc doc = {0};
	json_object *body = NULL;
	char id[FX_ID_LEN + 1];
	const char *rel;
	int rc = -1;

	if (fx_http_req_json(r, false, &body, e) < 0 || fx_json_allow(body, allowed, "", e) < 0 ||
	    fx_json_string(body, "type", "type", true, 1, 32, &in.type, NULL, e) < 0)
		goto out;
	if (fx_json_enum_index(in.type, fx_chandoc_types) < 0) {
		fx_err_invalid(e, "type", "must be shopify, woocommerce or takealot");
		goto out;
	}
	if (take_name(body, true, &in, e) < 0 || take_config(body, true, &in, e) < 0)
		goto out;
	fx_model_id_new(id);
	if (!(rel = fx_tenant_path(r, NULL, "channels", id, "channel", e)) || new_channel(r, &in, rel, &map, e) < 0 ||
	    write_channel(r, rel, id, &map, e) < 0 || fx_firestore_get(rel, &doc, e) < 0)
		goto out;
	fx_log_info("channel %s (%s) created in %s", id, in.type, r->principal->organization_id);
	rc = answer_channel(r, 201, &doc);
out:
	input_cleanup(&in);
	json_object_put(body);
	fx_value_cleanup(&map);
	fx_firestore_doc_cleanup(&doc);
	return rc;
}

struct update_ctx {
	struct fx_req *r;
	const char *rel;
	const char *if_match;
	json_object *body;
	struct channel_input in;
	bool read; /* in holds the body's checked input */
};

/* Checks the body against the stored channel's type (once: attempts reuse it). */
static int read_change(struct update_ctx *c, const struct fx_doc *doc, struct fx_err *e)
{
	struct channel_input *in = &c->in;
	bool present;

	if (c->read)
		return 0;
	in->type = fx_value_path_str(&doc->fields, "type");
	if (!in->type || fx_json_enum_index(in->type, fx_chandoc_types) < 0)
		return fx_err_set(e, FX_INTERNAL, "channel %s has no known type", doc->id);
	if (take_name(c->body, false, in, e) < 0 || take_config(c->body, false, in, e) < 0 ||
	    fx_json_string(c->body, "status", "status", false, 1, 16, &in->status, &present, e) < 0)
		return -1;
	if (present && strcmp(in->status, "active") != 0 && strcmp(in->status, "paused") != 0)
		return fx_err_invalid(e, "status", "must be active or paused (error is set by the server)");
	c->read = true;
	return 0;
}

/* The map and mask of a change to the channel rel. */
static int change_map(struct update_ctx *c, struct fx_value *map, const char **mask, size_t *n, struct fx_err *e)
{
	struct channel_input *in = &c->in;
	struct fx_value *sealed = NULL;

	fx_value_map(map);
	if (in->name)
		fx_map_set_str(map, "name", in->name), mask[(*n)++] = "name";
	if (in->status)
		fx_map_set_str(map, "status", in->status), mask[(*n)++] = "status";
	if (in->has_settings)
		fx_value_copy(fx_map_set(map, "settings"), &in->settings), mask[(*n)++] = "settings";
	if (in->has_credentials || in->has_secret) {
		sealed = fx_map_set(map, "sealed");
		fx_value_map(sealed);
	}
	if (in->has_credentials) {
		if (seal_into(sealed, "credentials", in->credentials, strlen(in->credentials), c->rel, e) < 0)
			return -1;
		fx_map_set_str(map, "credentialsLast4", in->last4);
		mask[(*n)++] = "sealed.credentials";
		mask[(*n)++] = "credentialsLast4";
	}
	if (in->has_secret && seal_into(sealed, "webhookSecret", in->secret, strlen(in->secret), c->rel, e) < 0)
		return -1;
	if (in->has_secret || in->secret_null) {
		fx_map_set_bool(map, "webhookSecretSet", in->has_secret);
		mask[(*n)++] = "sealed.webhookSecret"; /* absent from map when null: deleted */
		mask[(*n)++] = "webhookSecretSet";
	}
	fx_model_map_set_now(map, "updatedAt");
	mask[(*n)++] = "updatedAt";
	mask[*n] = NULL;
	return 0;
}

static int update_txn(struct fx_txn *t, void *arg, struct fx_err *e)
{
	struct update_ctx *c = arg;
	struct fx_value map = {0};
	struct fx_doc doc = {0};
	const char *mask[16];
	size_t n = 0;
	char *name = NULL;
	int rc = -1;

	if (fx_tenant_txn_get(c->r, t->id, c->rel, "channel", c->if_match, &doc, e) < 0)
		return -1;
	if (read_change(c, &doc, e) < 0 || change_map(c, &map, mask, &n, e) < 0)
		goto out;
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
	static const char *const allowed[] = {"name", "settings", "credentials", "webhookSecret", "status", NULL};
	struct update_ctx c = {0};
	struct fx_doc doc = {0};
	int rc = -1;

	c.r = r;
	if (!(c.rel = channel_rel(r, e)) || fx_model_if_match(r, &c.if_match, e) < 0)
		return -1;
	if (fx_http_req_json(r, false, &c.body, e) < 0 || fx_json_allow(c.body, allowed, "", e) < 0 ||
	    fx_firestore_run_transaction(update_txn, &c, e) < 0 || fx_tenant_get(r, c.rel, "channel", &doc, e) < 0)
		goto out;
	rc = answer_channel(r, 200, &doc);
out:
	input_cleanup(&c.in);
	json_object_put(c.body);
	fx_firestore_doc_cleanup(&doc);
	return rc;
}

struct destroy_ctx {
	struct fx_req *r;
	const char *rel;
	const char *parent; /* channels/{id} */
	const char *if_match;
};

static int destroy_txn(struct fx_txn *t, void *arg, struct fx_err *e)
{
	struct destroy_ctx *c = arg;
	struct fx_doc doc = {0}, *found = NULL;
	struct fx_query *q = NULL;
	const char *parent_rel;
	size_t nfound = 0;
	char *name = NULL, *hook_name = NULL, hook_rel[64];
	int rc = -1;

	if (fx_tenant_txn_get(c->r, t->id, c->rel, "channel", c->if_match, &doc, e) < 0)
		return -1;
	q = fx_tenant_query(c->r, c->parent, "listings", &parent_rel, e);
	if (!q)
		goto out;
	fx_fsquery_limit(q, 1);
	if (fx_firestore_query(parent_rel, q, t->id, &found, &nfound, e) < 0)
		goto out;
	if (nfound > 0) {
		fx_err_set(e, FX_FAILED_PRECONDITION, "the channel has listings: delete them first");
		fx_err_detail(e, "listings", "must be empty");
		goto out;
	}
	if (fx_str_fmt(hook_rel, sizeof(hook_rel), "channelHooks/%s", doc.id) < 0) {
		fx_err_set(e, FX_INTERNAL, "channel id over %zu bytes", sizeof(hook_rel));
		goto out;
	}
	name = fx_tenant_name(c->rel);
	hook_name = fx_firestore_name(hook_rel);
	if (fx_fswrite_delete(t->writes, name, -1, doc.update_time, e) < 0 ||
	    fx_fswrite_delete(t->writes, hook_name, -1, NULL, e) < 0)
		goto out;
	rc = 0;
out:
	free(name);
	free(hook_name);
	fx_firestore_docs_free(found, nfound);
	fx_fsquery_free(q);
	fx_firestore_doc_cleanup(&doc);
	return rc;
}

static int destroy(struct fx_req *r, struct fx_err *e)
{
	struct destroy_ctx c = {r, NULL, NULL, NULL};

	if (!(c.rel = channel_rel(r, e)) || !(c.parent = channel_parent(r, e)) ||
	    fx_model_if_match(r, &c.if_match, e) < 0 || fx_firestore_run_transaction(destroy_txn, &c, e) < 0)
		return -1;
	fx_log_info("channel %s deleted in %s", fx_http_req_param(r, "id"), r->principal->organization_id);
	return fx_http_resp_send(r, 204, NULL, NULL, 0);
}

/* A failure of the call itself (not of our own machinery): the answer's ok:false. */
static bool call_failure(const struct fx_err *e)
{
	return fx_err_is(e, FX_INVALID_ARGUMENT) || fx_err_is(e, FX_UNAVAILABLE) || fx_err_is(e, FX_BAD_GATEWAY) ||
	       fx_err_is(e, FX_DEADLINE_EXCEEDED) || fx_err_is(e, FX_UNAUTHENTICATED) ||
	       fx_err_is(e, FX_PERMISSION_DENIED) || fx_err_is(e, FX_RESOURCE_EXHAUSTED);
}

static int test_channel(struct fx_req *r, struct fx_err *e)
{
	static const char *const none[] = {NULL};
	const char *rel = channel_rel(r, e), *if_match = NULL;
	struct fx_channel ch = {0};
	struct fx_doc doc = {0};
	json_object *body = NULL, *out = NULL;
	char message[512] = "";
	bool ok = false;
	int rc = -1;

	if (!rel || fx_model_if_match(r, &if_match, e) < 0 || fx_http_req_json(r, true, &body, e) < 0 ||
	    fx_json_allow(body, none, "", e) < 0 || fx_tenant_get(r, rel, "channel", &doc, e) < 0)
		goto out;
	if (if_match && strcmp(if_match, doc.update_time) != 0) {
		fx_err_set(e, FX_CONDITION_NOT_MET, "the channel has changed since it was read");
		goto out;
	}
	if (fx_chandoc_open(&doc, r->principal->organization_id, r->arena, &ch, e) < 0)
		goto out;
	if (fx_channel_test(&ch, &ok, message, sizeof(message), e) < 0) {
		if (!call_failure(e))
			goto out;
		ok = false;
		fx_str_text(message, sizeof(message), "%s", e->message);
		fx_err_clear(e);
	}
	out = json_object_new_object();
	json_object_object_add(out, "ok", json_object_new_boolean(ok));
	json_object_object_add(out, "message", json_object_new_string(message));
	rc = fx_http_resp_json(r, 200, out);
out:
	fx_chandoc_close(&ch);
	json_object_put(body);
	json_object_put(out);
	fx_firestore_doc_cleanup(&doc);
	return rc;
}

/* ---- listings ---- */

/* Answers 404 unless the path's channel is the caller's. */
static int channel_exists(struct fx_req *r, struct fx_err *e)
{
	static const char *const mask[] = {"organizationId", NULL};
	const char *rel = channel_rel(r, e);
	struct fx_doc doc = {0};
	int rc;

	if (!rel)
		return -1;
	rc = fx_tenant_get_mask(r, rel, "channel", mask, &doc, e);
	fx_firestore_doc_cleanup(&doc);
	return rc;
}

static int list_listings(struct fx_req *r, struct fx_err *e)
{
	static const char *const params[] = {"pageSize", "pageToken", NULL};
	const char *parent = channel_parent(r, e), *parent_rel, *cursor[] = {"createdAt", NULL};
	struct fx_query *q;
	int size, rc;

	if (!parent || fx_http_req_query_allow(r, params, e) < 0 || fx_model_page_size(r, &size, e) < 0 ||
	    channel_exists(r, e) < 0)
		return -1;
	if (!(q = fx_tenant_query(r, parent, "listings", &parent_rel, e)))
		return -1;
	rc = fx_model_list_ordered(r, parent_rel, q, "createdAt", false, size, "listings", cursor, listing_hidden, e);
	fx_fsquery_free(q);
	return rc;
}

static int get_listing(struct fx_req *r, struct fx_err *e)
{
	const char *parent = channel_parent(r, e), *rel;
	struct fx_doc doc = {0};
	int rc;

	if (!parent ||
	    !(rel = fx_tenant_path(r, parent, "listings", fx_http_req_param(r, "listingId"), "listing", e)) ||
	    fx_tenant_get(r, rel, "listing", &doc, e) < 0)
		return -1;
	rc = fx_model_resp_doc(r, 200, &doc, listing_hidden);
	fx_firestore_doc_cleanup(&doc);
	return rc;
}

/* Everything a listing create or delete reads and writes. */
struct listing_ctx {
	struct fx_req *r;
	const char *parent; /* channels/{cid} */
	const char *channel_rel, *listing_rel, *product_rel, *pkey_rel, *xkey_rel;
	const char *product_id, *external_id;
	char listing_id[FX_ID_LEN + 1];
	char ref[2 * FX_ID_LEN + 160]; /* "{cid}/{lid}" in the product's listings */
	int64_t buffer, max_quantity;
	bool has_buffer, has_max;
};

/* The key documents' paths: p-{productId} and x-{hex of externalId}. */
static int key_paths(struct listing_ctx *c, struct fx_err *e)
{
	char pid[160], xid[2 * EXTERNAL_ID_MAX + 3];

	if (fx_str_fmt(pid, sizeof(pid), "p-%s", c->product_id) < 0 || fx_str_set(xid, sizeof(xid), "x-") < 0 ||
	    fx_str_hex(xid + 2, sizeof(xid) - 2, c->external_id, strlen(c->external_id)) < 0)
		return fx_err_set(e, FX_INTERNAL, "listing key over its buffer");
	c->pkey_rel = fx_tenant_path(c->r, c->parent, "listingKeys", pid, "listing key", e);
	c->xkey_rel = fx_tenant_path(c->r, c->parent, "listingKeys", xid, "listing key", e);
	return c->pkey_rel && c->xkey_rel ? 0 : -1;
}

/* externalId: 1..255 bytes of printable text, or a non-negative JSON integer (WooCommerce and Takealot ids). */
static int take_external_id(struct listing_ctx *c, json_object *body, struct fx_err *e)
{
	json_object *v = NULL;

	if (json_object_object_get_ex(body, "externalId", &v) && v && json_object_is_type(v, json_type_int)) {
		int64_t n = json_object_get_int64(v);

		if (n < 0 || n == INT64_MAX)
			return fx_err_invalid(e, "externalId", "must be a non-negative number or a string");
		c->external_id = fx_arena_printf(c->r->arena, "%lld", (long long)n);
		return c->external_id ? 0 : fx_err_set(e, FX_INTERNAL, "request memory spent");
	}
	if (fx_json_string(body, "externalId", "externalId", true, 1, EXTERNAL_ID_MAX, &c->external_id, NULL, e) < 0)
		return -1;
	if (strlen(c->external_id) > EXTERNAL_ID_MAX)
		return fx_err_invalid(e, "externalId", "must be at most %d bytes", EXTERNAL_ID_MAX);
	for (const unsigned char *p = (const unsigned char *)c->external_id; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return fx_err_invalid(e, "externalId", "must not contain control characters");
	return 0;
}

static int read_listing_input(struct listing_ctx *c, json_object *body, struct fx_err *e)
{
	static const char *const allowed[] = {"productId", "externalId", "buffer", "maxQuantity", NULL};

	if (fx_json_allow(body, allowed, "", e) < 0 ||
	    fx_json_string(body, "productId", "productId", true, 1, 128, &c->product_id, NULL, e) < 0 ||
	    take_external_id(c, body, e) < 0 ||
	    fx_json_int64(body, "buffer", "buffer", false, 0, FX_CHANDOC_BUFFER_MAX, &c->buffer, &c->has_buffer, e) <
		    0 ||
	    fx_json_int64(body, "maxQuantity", "maxQuantity", false, 0, MAX_QUANTITY_MAX, &c->max_quantity, &c->has_max,
			  e) < 0)
		return -1;
	if (!fx_model_id_valid(c->product_id))
		return fx_err_invalid(e, "productId", "no such product");
	return 0;
}

static void listing_map(const struct listing_ctx *c, const char *sku, struct fx_value *map)
{
	fx_value_map(map);
	fx_map_set_str(map, "channelId", fx_http_req_param(c->r, "id"));
	fx_map_set_str(map, "productId", c->product_id);
	if (sku)
		fx_map_set_str(map, "sku", sku);
	else
		fx_value_null(fx_map_set(map, "sku"));
	fx_map_set_str(map, "externalId", c->external_id);
	if (c->has_buffer)
		fx_map_set_int(map, "buffer", c->buffer);
	else
		fx_value_null(fx_map_set(map, "buffer"));
	if (c->has_max)
		fx_map_set_int(map, "maxQuantity", c->max_quantity);
	else
		fx_value_null(fx_map_set(map, "maxQuantity"));
	fx_value_null(fx_map_set(map, "pushedQuantity"));
	fx_value_null(fx_map_set(map, "pushedAt"));
	fx_map_set_str(map, "status", "pending");
	fx_value_null(fx_map_set(map, "lastError"));
	fx_map_set_int(map, "failures", 0);
	fx_tenant_stamp(c->r, map);
	fx_model_map_set_now(map, "createdAt");
	fx_model_map_set_now(map, "updatedAt");
}

/* A key document {listingId} stamped with the organization, created in writes (exists=false). */
static int write_key(const struct listing_ctx *c, json_object *writes, const char *rel, struct fx_err *e)
{
	struct fx_value key = {0};
	char *name = fx_tenant_name(rel);
	int rc;

	fx_value_map(&key);
	fx_map_set_str(&key, "listingId", c->listing_id);
	fx_tenant_stamp(c->r, &key);
	rc = fx_fswrite_create(writes, name, &key, NULL, e);
	fx_value_cleanup(&key);
	free(name);
	return rc;
}

/*
 * The product's listings array with ref added (add) or removed, written
 * with the product's updateTime as precondition.
 */
static int write_refs(const struct listing_ctx *c, json_object *writes, const struct fx_doc *product, bool add,
		      struct fx_err *e)
{
	static const char *const mask[] = {"listings", NULL};
	const struct fx_value *old = fx_value_path(&product->fields, "listings");
	struct fx_value map = {0}, *refs;
	char *name = NULL;
	int rc = -1;

	fx_value_map(&map);
	refs = fx_map_set(&map, "listings");
	fx_value_array(refs);
	for (size_t i = 0; old && old->type == FX_V_ARRAY && i < old->u.arr.n; i++) {
		const struct fx_value *v = &old->u.arr.items[i];

		if (v->type == FX_V_STRING && strcmp(v->u.s.p, c->ref) == 0)
			continue;
		fx_value_copy(fx_value_push(refs), v);
	}
	if (add) {
		if (refs->u.arr.n >= MAX_LISTINGS_PER_PRODUCT) {
			fx_err_set(e, FX_FAILED_PRECONDITION, "the product has %d listings already",
				   MAX_LISTINGS_PER_PRODUCT);
			fx_err_detail(e, "productId", "may have at most %d listings", MAX_LISTINGS_PER_PRODUCT);
			goto out;
		}
		fx_value_string(fx_value_push(refs), c->ref, strlen(c->ref));
	}
	name = fx_tenant_name(c->product_rel);
	rc = fx_fswrite_update(writes, name, &map, mask, product->update_time, NULL, e);
out:
	free(name);
	fx_value_cleanup(&map);
	return rc;
}

/* counts.listings += by on the channel, at the version read. */
static int count_listing(const struct listing_ctx *c, json_object *writes, const struct fx_doc *channel, int64_t by,
			 struct fx_err *e)
{
	struct fx_value delta = {0};
	struct fx_transform tr = {"counts.listings", FX_TR_INCREMENT, &delta};
	char *name = fx_tenant_name(c->channel_rel);
	int rc;

	fx_value_int(&delta, by);
	rc = fx_fswrite_doc(writes, FX_WRITE_UPDATE, name, NULL, NULL, channel->update_time, &tr, 1, e);
	free(name);
	return rc;
}

/* 409 ALREADY_EXISTS naming field when the key document was read as existing. */
static int key_taken(const struct fx_doc *key, const char *field, const char *what, struct fx_err *e)
{
	if (!key->name)
		return 0;
	fx_err_set(e, FX_ALREADY_EXISTS, "the channel has a listing for this %s", what);
	fx_err_detail(e, field, "must be unique in the channel");
	return -1;
}

static int create_listing_txn(struct fx_txn *t, void *arg, struct fx_err *e)
{
	struct listing_ctx *c = arg;
	const char *paths[4] = {c->channel_rel, c->product_rel, c->pkey_rel, c->xkey_rel};
	struct fx_doc docs[4] = {{0}};
	struct fx_value map = {0};
	char *name = NULL;
	int rc = -1;

	if (fx_firestore_batch_get(paths, 4, t->id, docs, e) < 0)
		return -1;
	if (!fx_tenant_owns(c->r, &docs[0])) {
		fx_err_set(e, FX_NOT_FOUND, "channel not found");
		goto out;
	}
	if (!fx_tenant_owns(c->r, &docs[1])) {
		fx_err_invalid(e, "productId", "no such product");
		goto out;
	}
	if (key_taken(&docs[2], "productId", "product", e) < 0 ||
	    key_taken(&docs[3], "externalId", "externalId", e) < 0)
		goto out;
	listing_map(c, fx_value_path_str(&docs[1].fields, "sku"), &map);
	name = fx_tenant_name(c->listing_rel);
	if (fx_fswrite_create(t->writes, name, &map, NULL, e) < 0 || write_key(c, t->writes, c->pkey_rel, e) < 0 ||
	    write_key(c, t->writes, c->xkey_rel, e) < 0 || write_refs(c, t->writes, &docs[1], true, e) < 0 ||
	    count_listing(c, t->writes, &docs[0], 1, e) < 0 ||
	    fx_outbox_add(t->writes, c->r->principal->organization_id, FX_OUTBOX_STOCK, c->product_id, NULL, e) < 0)
		goto out;
	rc = 0;
out:
	free(name);
	fx_value_cleanup(&map);
	for (size_t i = 0; i < 4; i++)
		fx_firestore_doc_cleanup(&docs[i]);
	return rc;
}

/* Fills the paths shared by a listing create and delete. */
static int listing_paths(struct listing_ctx *c, struct fx_err *e)
{
	if (!(c->parent = channel_parent(c->r, e)) || !(c->channel_rel = channel_rel(c->r, e)) ||
	    !(c->listing_rel = fx_tenant_path(c->r, c->parent, "listings", c->listing_id, "listing", e)) ||
	    !(c->product_rel = fx_tenant_path(c->r, NULL, "products", c->product_id, "product", e)))
		return -1;
	if (fx_str_fmt(c->ref, sizeof(c->ref), "%s/%s", fx_http_req_param(c->r, "id"), c->listing_id) < 0)
		return fx_err_set(e, FX_INTERNAL, "listing ref over %zu bytes", sizeof(c->ref));
	return key_paths(c, e);
}

/*
 * externalId in the form the channel's order lines carry
 * (fx_channel_listing_key), so lines match it and the uniqueness key is one
 * per offer however it was pasted; 400 naming externalId when the channel
 * never uses that form. The type is read first: it never changes.
 */
static int normalize_external_id(struct listing_ctx *c, struct fx_err *e)
{
	static const char *const mask[] = {"organizationId", "type", NULL};
	const char *rel = channel_rel(c->r, e), *key;
	struct fx_doc doc = {0};
	int type;

	if (!rel || fx_tenant_get_mask(c->r, rel, "channel", mask, &doc, e) < 0)
		return -1;
	type = fx_channel_type_parse(fx_value_path_str(&doc.fields, "type"));
	fx_firestore_doc_cleanup(&doc);
	if (type < 0)
		return fx_err_set(e, FX_INTERNAL, "channel has no known type");
	if (!(key = fx_channel_listing_key((enum fx_channel_type)type, c->external_id, c->r->arena)))
		return fx_err_invalid(e, "externalId",
				      type == FX_CHANNEL_SHOPIFY ? "must be an inventory item id (number or gid)"
				      : type == FX_CHANNEL_WOOCOMMERCE
					      ? "must be a product id or \"productId:variationId\""
					      : "must be an offer id (a number)");
	c->external_id = key;
	return 0;
}

static int create_listing(struct fx_req *r, struct fx_err *e)
{
	struct listing_ctx c = {0};
	struct fx_doc doc = {0};
	json_object *body = NULL;
	char location[200];
	int rc = -1;

	c.r = r;
	if (!channel_rel(r, e) || fx_http_req_json(r, false, &body, e) < 0 || read_listing_input(&c, body, e) < 0 ||
	    normalize_external_id(&c, e) < 0)
		goto out;
	fx_model_id_new(c.listing_id);
	if (listing_paths(&c, e) < 0 || fx_firestore_run_transaction(create_listing_txn, &c, e) < 0 ||
	    fx_tenant_get(r, c.listing_rel, "listing", &doc, e) < 0)
		goto out;
	fx_str_text(location, sizeof(location), "/v1/channels/%s/listings/%s", fx_http_req_param(r, "id"),
		    c.listing_id);
	fx_http_resp_header(r, "Location", location);
	rc = fx_model_resp_doc(r, 201, &doc, listing_hidden);
out:
	json_object_put(body);
	fx_firestore_doc_cleanup(&doc);
	return rc;
}

/* Deletes doc (read in the transaction) when it exists. */
static int delete_if_read(json_object *writes, const char *rel, const struct fx_doc *doc, struct fx_err *e)
{
	char *name;
	int rc;

	if (!doc->name)
		return 0;
	name = fx_tenant_name(rel);
	rc = fx_fswrite_delete(writes, name, -1, doc->update_time, e);
	free(name);
	return rc;
}

static int destroy_listing_txn(struct fx_txn *t, void *arg, struct fx_err *e)
{
	struct listing_ctx *c = arg;
	const char *paths[4];
	struct fx_doc listing = {0}, docs[4] = {{0}};
	int rc = -1;

	if (fx_tenant_txn_get(c->r, t->id, c->listing_rel, "listing", NULL, &listing, e) < 0)
		return -1;
	c->product_id = fx_arena_strdup(c->r->arena, fx_value_path_str(&listing.fields, "productId"));
	c->external_id = fx_arena_strdup(c->r->arena, fx_value_path_str(&listing.fields, "externalId"));
	if (!c->product_id || !c->external_id) {
		fx_err_set(e, FX_INTERNAL, "listing %s lacks productId or externalId", listing.id);
		goto out;
	}
	if (!(c->product_rel = fx_tenant_path(c->r, NULL, "products", c->product_id, "product", e)) ||
	    key_paths(c, e) < 0)
		goto out;
	paths[0] = c->channel_rel, paths[1] = c->product_rel, paths[2] = c->pkey_rel, paths[3] = c->xkey_rel;
	if (fx_firestore_batch_get(paths, 4, t->id, docs, e) < 0)
		goto out;
	if (delete_if_read(t->writes, c->listing_rel, &listing, e) < 0 ||
	    delete_if_read(t->writes, c->pkey_rel, &docs[2], e) < 0 ||
	    delete_if_read(t->writes, c->xkey_rel, &docs[3], e) < 0 ||
	    (docs[1].name && write_refs(c, t->writes, &docs[1], false, e) < 0) ||
	    (docs[0].name && count_listing(c, t->writes, &docs[0], -1, e) < 0))
		goto out;
	rc = 0;
out:
	fx_firestore_doc_cleanup(&listing);
	for (size_t i = 0; i < 4; i++)
		fx_firestore_doc_cleanup(&docs[i]);
	return rc;
}

static int destroy_listing(struct fx_req *r, struct fx_err *e)
{
	struct listing_ctx c = {0};
	const char *lid = fx_http_req_param(r, "listingId");

	c.r = r;
	if (!lid || !fx_model_id_valid(lid) || fx_str_set(c.listing_id, sizeof(c.listing_id), lid) < 0)
		return fx_err_set(e, FX_NOT_FOUND, "listing not found");
	if (!(c.parent = channel_parent(r, e)) || !(c.channel_rel = channel_rel(r, e)) ||
	    !(c.listing_rel = fx_tenant_path(r, c.parent, "listings", c.listing_id, "listing", e)) ||
	    fx_str_fmt(c.ref, sizeof(c.ref), "%s/%s", fx_http_req_param(r, "id"), c.listing_id) < 0 ||
	    fx_firestore_run_transaction(destroy_listing_txn, &c, e) < 0)
		return -1;
	return fx_http_resp_send(r, 204, NULL, NULL, 0);
}

/*
 * POST /v1/channels/{id}:sync (admin): this channel's order poll and stock
 * push now (lib/chanpoll, lib/chanpush), every listing checked against its
 * product's stock, outbox or not. Only an active channel; 409 ABORTED while
 * a push of the organization runs. Answers what was done and the channel.
 */
static int sync_now(struct fx_req *r, struct fx_err *e)
{
	static const char *const none[] = {NULL};
	const char *rel = channel_rel(r, e), *status;
	struct fx_chanpoll_stats poll;
	struct fx_chanpush_stats push;
	struct fx_doc doc = {0};
	json_object *in = NULL, *out = NULL, *orders, *stock;
	int rc = -1;

	memset(&poll, 0, sizeof(poll));
	memset(&push, 0, sizeof(push));
	if (!rel || fx_http_req_json(r, true, &in, e) < 0 || fx_json_allow(in, none, "", e) < 0 ||
	    fx_tenant_get(r, rel, "channel", &doc, e) < 0)
		goto out;
	status = fx_value_path_str(&doc.fields, "status");
	if (!status || strcmp(status, "active") != 0) {
		fx_err_set(e, FX_FAILED_PRECONDITION, "the channel is %s: set it active first",
			   status ? status : "not active");
		fx_err_detail(e, "status", "must be active");
		goto out;
	}
	if (fx_chanpoll_run(r->principal->organization_id, doc.id, &poll, e) < 0 ||
	    fx_chanpush_run(r->principal->organization_id, doc.id, true, &push, e) < 0)
		goto out;
	if (push.busy) {
		fx_err_set(e, FX_ABORTED, "a stock push of this organization is running: retry");
		e->retry_after = FX_ERR_RETRY_AFTER_S;
		goto out;
	}
	fx_firestore_doc_cleanup(&doc);
	if (fx_tenant_get(r, rel, "channel", &doc, e) < 0)
		goto out;
	out = json_object_new_object();
	orders = json_object_new_object();
	json_object_object_add(orders, "polled", json_object_new_int64(poll.orders_seen));
	json_object_object_add(orders, "created", json_object_new_int64(poll.orders_created));
	json_object_object_add(orders, "updated", json_object_new_int64(poll.orders_updated));
	json_object_object_add(orders, "failed", json_object_new_int64(poll.orders_failed));
	json_object_object_add(out, "orders", orders);
	stock = json_object_new_object();
	json_object_object_add(stock, "pushed", json_object_new_int64(push.listings_pushed));
	json_object_object_add(stock, "unchanged", json_object_new_int64(push.listings_unchanged));
	json_object_object_add(stock, "failed", json_object_new_int64(push.listings_failed));
	json_object_object_add(stock, "calls", json_object_new_int64(push.calls));
	json_object_object_add(out, "stock", stock);
	json_object_object_add(out, "channel", channel_json(r, &doc));
	rc = fx_http_resp_json(r, 200, out);
out:
	json_object_put(in);
	json_object_put(out);
	fx_firestore_doc_cleanup(&doc);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct fx_app app = {"channels", routes, sizeof(routes) / sizeof(routes[0]), NULL};

	return fx_worker_main(&app, argc, argv);
}
