/*
 * organizations: create (the caller becomes its owner), get, update.
 * Documents: organizations/{id}; the owner's profile users/{uid}.
 */
#include "authz.h"
#include "defaults.h"
#include "firestore.h"
#include "fswrite.h"
#include "http.h"
#include "identity.h"
#include "json.h"
#include "log.h"
#include "map.h"
#include "model.h"
#include "patch.h"
#include "str.h"
#include "tz.h"
#include "worker.h"

#include <stdio.h>
#include <string.h>

static int create(struct fx_req *r, struct fx_err *e);
static int get(struct fx_req *r, struct fx_err *e);
static int update(struct fx_req *r, struct fx_err *e);

static const struct fx_route routes[] = {
	{"POST", "/v1/organizations", create, FX_SIGNED_IN, FX_ROLE_NONE, FX_BODY_JSON, 0},
	{"GET", "/v1/organizations/{id}", get, FX_MEMBER, FX_ROLE_VIEWER, 0, 0},
	{"PATCH", "/v1/organizations/{id}", update, FX_MEMBER, FX_ROLE_ADMIN, FX_BODY_JSON, 0},
};

#define MAX_RATE_BPS 10000
#define MAX_LOW_STOCK 1000000

static const char *const hidden[] = {"ownerUid", NULL};

/* SA VAT numbers: 10 digits starting with 4. */
static int take_vat_number(struct fx_value *map, json_object *in, struct fx_err *e)
{
	const char *s = NULL;
	bool present;

	if (fx_json_string(in, "vatNumber", "vatNumber", false, 0, 10, &s, &present, e) < 0)
		return -1;
	if (!present)
		return 0;
	if (strlen(s) != 10 || s[0] != '4' || strspn(s, "0123456789") != 10)
		return fx_err_invalid(e, "vatNumber", "must be 10 digits starting with 4");
	fx_map_set_str(map, "vatNumber", s);
	return 0;
}

/* Fields a client may set, shared by create and update; mask collects what was given. */
static int decode_settable(json_object *in, struct fx_value *map, const char **mask, size_t *nmask, struct fx_err *e)
{
	static const char *const settings_allowed[] = {"lowStockDefault", NULL};
	json_object *o;
	bool present;
	const char *s;
	int64_t n;

	if (fx_model_map_take_string(map, in, "name", "name", false, 1, 200, e) < 0)
		return -1;
	if (fx_map_get(map, "name"))
		mask[(*nmask)++] = "name";
	if (fx_model_map_take_string(map, in, "legalName", "legalName", false, 1, 200, e) < 0)
		return -1;
	if (fx_map_get(map, "legalName"))
		mask[(*nmask)++] = "legalName";
	if (take_vat_number(map, in, e) < 0)
		return -1;
	if (fx_map_get(map, "vatNumber"))
		mask[(*nmask)++] = "vatNumber";
	if (fx_json_object(in, "address", "address", false, &o, &present, e) < 0)
		return -1;
	if (present) {
		if (fx_model_address_decode(o, "address", fx_map_set(map, "address"), e) < 0)
			return -1;
		mask[(*nmask)++] = "address";
	}
	if (fx_json_string(in, "timezone", "timezone", false, 1, 64, &s, &present, e) < 0)
		return -1;
	if (present) {
		if (!fx_tz_known(s))
			return fx_err_invalid(
				e, "timezone",
				"must be an IANA time zone this server knows, such as " FX_DEFAULT_TIMEZONE);
		fx_map_set_str(map, "timezone", s);
		mask[(*nmask)++] = "timezone";
	}
	if (fx_json_int64(in, "vatRateBps", "vatRateBps", false, 0, MAX_RATE_BPS, &n, &present, e) < 0)
		return -1;
	if (present) {
		fx_map_set_int(map, "vatRateBps", n);
		mask[(*nmask)++] = "vatRateBps";
	}
	if (fx_json_object(in, "settings", "settings", false, &o, &present, e) < 0)
		return -1;
	if (present) {
		if (fx_json_allow(o, settings_allowed, "settings.", e) < 0 ||
		    fx_json_int64(o, "lowStockDefault", "settings.lowStockDefault", true, 0, MAX_LOW_STOCK, &n,
				  &present, e) < 0)
			return -1;
		struct fx_value *settings = fx_map_set(map, "settings");

		fx_value_map(settings);
		fx_map_set_int(settings, "lowStockDefault", n);
		mask[(*nmask)++] = "settings.lowStockDefault";
	}
	return 0;
}

struct create_ctx {
	const struct fx_principal *p;
	const char *org_name; /* full resource names */
	const char *user_name;
	const struct fx_value *org;
	const struct fx_value *profile;
};

/* One organization per user: the profile is read in the transaction that writes both. */
static int create_txn(struct fx_txn *t, void *arg, struct fx_err *e)
{
	struct create_ctx *c = arg;
	char path[200];
	const char *paths[1] = {path};
	struct fx_doc doc = {0};
	int rc;

	if (fx_str_fmt(path, sizeof(path), "users/%s", c->p->uid) < 0)
		return fx_err_set(e, FX_INTERNAL, "uid over %zu bytes", sizeof(path));
	if (fx_firestore_batch_get(paths, 1, t->id, &doc, e) < 0)
		return -1;
	rc = doc.name && fx_value_path_str(&doc.fields, "organizationId") &&
	     *fx_value_path_str(&doc.fields, "organizationId");
	fx_firestore_doc_cleanup(&doc);
	if (rc)
		return fx_err_set(e, FX_ALREADY_EXISTS, "you already belong to an organization");
	if (fx_fswrite_create(t->writes, c->org_name, c->org, NULL, e) < 0 ||
	    fx_fswrite_set(t->writes, c->user_name, c->profile, NULL, e) < 0)
		return -1;
	return 0;
}

/* The defaults of a new organization id owned by p into org (its decoded fields), and p's owner profile. */
static void new_organization(struct fx_value *org, struct fx_value *profile, const struct fx_principal *p,
			     const char *id)
{
	fx_map_set_str(org, "country", "ZA");
	fx_map_set_str(org, "currency", FX_DEFAULT_CURRENCY);
	fx_map_set_str(org, "timezone", FX_DEFAULT_TIMEZONE);
	fx_map_set_int(org, "vatRateBps", FX_DEFAULT_VAT_RATE_BPS);
	fx_value_map(fx_map_set(org, "settings"));
	fx_map_set_int((struct fx_value *)fx_map_get(org, "settings"), "lowStockDefault", 5);
	fx_map_set_str(org, "ownerUid", p->uid);
	fx_model_map_set_now(org, "createdAt");
	fx_model_map_set_now(org, "updatedAt");

	fx_value_map(profile);
	fx_map_set_str(profile, "email", p->email ? p->email : "");
	fx_map_set_str(profile, "organizationId", id);
	fx_map_set_str(profile, "role", "owner");
	fx_map_set_bool(profile, "disabled", false);
	fx_model_map_set_now(profile, "createdAt");
	fx_model_map_set_now(profile, "updatedAt");
}

/* Deletes what a create wrote when its claims could not be set, so a retry starts clean; logs a failure. */
static void undo_create(const char *id, const char *org_name, const char *user_name)
{
	json_object *undo = json_object_new_array();
	struct fx_err ignored;

	fx_err_clear(&ignored);
	if (fx_fswrite_delete(undo, org_name, -1, NULL, &ignored) < 0 ||
	    fx_fswrite_delete(undo, user_name, -1, NULL, &ignored) < 0 ||
	    fx_firestore_commit(undo, NULL, NULL, NULL, &ignored) < 0)
		fx_log_error("organization %s: claims failed and undo failed: %s", id, ignored.message);
	json_object_put(undo);
}

/* Answers 201 with the organization id as stored and its Location. */
static int answer_created(struct fx_req *r, const char *id, struct fx_err *e)
{
	struct fx_doc doc = {0};
	json_object *out = NULL;
	char path[200];
	int rc = -1;

	/* The same id fitted the same buffer in create: these cannot fail. */
	if (fx_str_fmt(path, sizeof(path), "organizations/%s", id) < 0)
		return fx_err_set(e, FX_INTERNAL, "organization id over %zu bytes", sizeof(path));
	if (fx_firestore_get(path, &doc, e) < 0)
		goto out;
	out = fx_model_doc_json(&doc, hidden);
	if (fx_str_fmt(path, sizeof(path), "/v1/organizations/%s", id) < 0) {
		fx_err_set(e, FX_INTERNAL, "organization id over %zu bytes", sizeof(path));
		goto out;
	}
	rc = fx_model_resp_created(r, path, out);
out:
	json_object_put(out);
	fx_firestore_doc_cleanup(&doc);
	return rc;
}

static int create(struct fx_req *r, struct fx_err *e)
{
	static const char *const allowed[] = {"name", "legalName", "vatNumber", "address", NULL};
	const struct fx_principal *p = r->principal;
	struct fx_value org = {0}, profile = {0};
	struct create_ctx ctx = {0};
	json_object *in = NULL;
	char id[FX_ID_LEN + 1], claims[400], path[200], *org_name = NULL, *user_name = NULL;
	const char *mask[16];
	size_t nmask = 0;
	int rc = -1;

	if (p->organization_id)
		return fx_err_set(e, FX_ALREADY_EXISTS, "you already belong to an organization");
	if (fx_http_req_json(r, false, &in, e) < 0 || fx_json_allow(in, allowed, "", e) < 0)
		goto out;
	fx_value_map(&org);
	if (decode_settable(in, &org, mask, &nmask, e) < 0)
		goto out;
	if (!fx_map_get(&org, "name")) {
		fx_err_invalid(e, "name", "is required");
		goto out;
	}
	fx_model_id_new(id);
	new_organization(&org, &profile, p, id);
	if (fx_str_fmt(path, sizeof(path), "organizations/%s", id) < 0) {
		fx_err_set(e, FX_INTERNAL, "organization id over %zu bytes", sizeof(path));
		goto out;
	}
	org_name = fx_firestore_name(path);
	if (fx_str_fmt(path, sizeof(path), "users/%s", p->uid) < 0 ||
	    fx_str_fmt(claims, sizeof(claims), "{\"organizationId\":\"%s\",\"role\":\"owner\"}", id) < 0) {
		fx_err_set(e, FX_INTERNAL, "uid over %zu bytes", sizeof(path));
		goto out;
	}
	user_name = fx_firestore_name(path);
	ctx = (struct create_ctx){p, org_name, user_name, &org, &profile};
	if (fx_firestore_run_transaction(create_txn, &ctx, e) < 0)
		goto out;

	/* Claims last: if they cannot be set, undo the documents so a retry starts clean. */
	if (fx_identity_set_claims(p->uid, claims, e) < 0) {
		undo_create(id, org_name, user_name);
		goto out;
	}
	fx_authz_forget(p->uid);
	rc = answer_created(r, id, e);
out:
	json_object_put(in);
	fx_value_cleanup(&org);
	fx_value_cleanup(&profile);
	free(org_name);
	free(user_name);
	return rc;
}

/* The caller's own organization, or 404 for any other id. */
static int own_org_path(struct fx_req *r, char *path, size_t len, struct fx_err *e)
{
	const char *id = fx_http_req_param(r, "id");

	if (!id || strcmp(id, r->principal->organization_id) != 0)
		return fx_err_set(e, FX_NOT_FOUND, "%s not found", "organization");
	if (fx_str_fmt(path, len, "organizations/%s", id) < 0)
		return fx_err_set(e, FX_INTERNAL, "organization id over %zu bytes", len);
	return 0;
}

static int get(struct fx_req *r, struct fx_err *e)
{
	struct fx_doc doc = {0};
	json_object *out;
	char path[200];
	int rc;

	if (own_org_path(r, path, sizeof(path), e) < 0 || fx_firestore_get(path, &doc, e) < 0)
		return -1;
	out = fx_model_doc_json(&doc, hidden);
	rc = fx_http_resp_json(r, 200, out);
	json_object_put(out);
	fx_firestore_doc_cleanup(&doc);
	return rc;
}

static int update(struct fx_req *r, struct fx_err *e)
{
	static const char *const allowed[] = {"name",	  "legalName",	"vatNumber", "address",
					      "timezone", "vatRateBps", "settings",  NULL};
	struct fx_value map = {0};
	struct fx_doc doc = {0};
	json_object *in = NULL, *out = NULL;
	const char *mask[16], *if_match;
	size_t nmask = 0;
	char path[200];
	int rc = -1;

	if (own_org_path(r, path, sizeof(path), e) < 0 || fx_model_if_match(r, &if_match, e) < 0)
		return -1;
	if (fx_http_req_json(r, false, &in, e) < 0 || fx_json_allow(in, allowed, "", e) < 0)
		goto out;
	fx_value_map(&map);
	if (decode_settable(in, &map, mask, &nmask, e) < 0)
		goto out;
	if (json_object_object_get_ex(in, "name", NULL) && !fx_map_get(&map, "name")) {
		fx_err_invalid(e, "name", "must not be null");
		goto out;
	}
	fx_model_map_set_now(&map, "updatedAt");
	mask[nmask++] = "updatedAt";
	mask[nmask] = NULL;
	if (fx_patch_write(path, &map, mask, if_match, FX_PATCH_IF_MATCH, "organization", e) < 0)
		goto out;
	if (fx_firestore_get(path, &doc, e) < 0)
		goto out;
	out = fx_model_doc_json(&doc, hidden);
	rc = fx_http_resp_json(r, 200, out);
out:
	json_object_put(in);
	json_object_put(out);
	fx_value_cleanup(&map);
	fx_firestore_doc_cleanup(&doc);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct fx_app app = {"organizations", routes, sizeof(routes) / sizeof(routes[0]), NULL};

	return fx_worker_main(&app, argc, argv);
}
