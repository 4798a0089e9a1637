/*
 * users: the caller's own profile (me, export, erasure) and the members of
 * the caller's organization (list, add, change, remove).
 * Documents: users/{uid} {email, displayName, organizationId, role,
 * disabled, preferences, createdAt, updatedAt, tokensValidAfter}.
 */
#include "authz.h"
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
#include "worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int me_get(struct fx_req *r, struct fx_err *e);
static int me_patch(struct fx_req *r, struct fx_err *e);
static int me_export(struct fx_req *r, struct fx_err *e);
static int me_delete(struct fx_req *r, struct fx_err *e);
static int list(struct fx_req *r, struct fx_err *e);
static int add(struct fx_req *r, struct fx_err *e);
static int get(struct fx_req *r, struct fx_err *e);
static int change(struct fx_req *r, struct fx_err *e);
static int remove_member(struct fx_req *r, struct fx_err *e);
static int me_leave(struct fx_req *r, struct fx_err *e);

static const struct fx_route routes[] = {
	{"GET", "/v1/users/me", me_get, FX_SIGNED_IN, FX_ROLE_NONE, 0, 0},
	{"PATCH", "/v1/users/me", me_patch, FX_SIGNED_IN, FX_ROLE_NONE, FX_BODY_JSON, 0},
	{"DELETE", "/v1/users/me", me_delete, FX_SIGNED_IN, FX_ROLE_NONE, 0, 0},
	{"GET", "/v1/users/me/export", me_export, FX_SIGNED_IN, FX_ROLE_NONE, 0, 0},
	{"POST", "/v1/users/me:leave", me_leave, FX_MEMBER, FX_ROLE_VIEWER, 0, 0},
	{"GET", "/v1/users", list, FX_MEMBER, FX_ROLE_ADMIN, 0, 0},
	{"POST", "/v1/users", add, FX_MEMBER, FX_ROLE_ADMIN, FX_BODY_JSON, 0},
	{"GET", "/v1/users/{id}", get, FX_MEMBER, FX_ROLE_VIEWER, 0, 0},
	{"PATCH", "/v1/users/{id}", change, FX_MEMBER, FX_ROLE_ADMIN, FX_BODY_JSON, 0},
	{"DELETE", "/v1/users/{id}", remove_member, FX_MEMBER, FX_ROLE_ADMIN, 0, 0},
};

#define MAX_PREFERENCES 50

static int user_path(char *out, size_t len, const char *uid, struct fx_err *e)
{
	return fx_str_fmt(out, len, "users/%s", uid) < 0 ? fx_err_set(e, FX_INTERNAL, "uid over %zu bytes", len) : 0;
}

/* Reads a profile; 404 "user" when it is missing. */
static int read_profile(const char *uid, struct fx_doc *doc, struct fx_err *e)
{
	char path[200];

	if (user_path(path, sizeof(path), uid, e) < 0)
		return -1;
	if (fx_firestore_get(path, doc, e) < 0) {
		if (fx_err_is(e, FX_NOT_FOUND))
			fx_err_set(e, FX_NOT_FOUND, "%s not found", "user");
		return -1;
	}
	return 0;
}

/* A member of the caller's organization, or 404 as if it did not exist. */
static int read_member(struct fx_req *r, const char *uid, struct fx_doc *doc, struct fx_err *e)
{
	const char *org;

	if (!uid || !fx_model_id_valid(uid))
		return fx_err_set(e, FX_NOT_FOUND, "%s not found", "user");
	if (read_profile(uid, doc, e) < 0)
		return -1;
	org = fx_value_path_str(&doc->fields, "organizationId");
	if (!org || strcmp(org, r->principal->organization_id) != 0) {
		fx_firestore_doc_cleanup(doc);
		return fx_err_set(e, FX_NOT_FOUND, "%s not found", "user");
	}
	return 0;
}

static enum fx_role role_of(const struct fx_doc *doc)
{
	const char *s = fx_value_path_str(&doc->fields, "role");
	int role = s ? fx_authz_role_parse(s) : -1;

	return role > 0 ? (enum fx_role)role : FX_ROLE_NONE;
}

static int me_get(struct fx_req *r, struct fx_err *e)
{
	const struct fx_principal *p = r->principal;
	struct fx_doc doc = {0};
	json_object *out;
	int rc;

	/* The profile this request was authorized with is current enough (lib/authz.h). */
	if (p->profile)
		return fx_http_resp_send(r, 200, "application/json", p->profile, strlen(p->profile));
	if (p->has_profile && read_profile(p->uid, &doc, e) == 0) {
		rc = fx_model_resp_doc(r, 200, &doc, fx_profile_hidden);
		fx_firestore_doc_cleanup(&doc);
		return rc;
	}
	if (p->has_profile && !fx_err_is(e, FX_NOT_FOUND))
		return -1;
	/* Signed in, no profile yet: what the token says. */
	fx_err_clear(e);
	out = json_object_new_object();
	json_object_object_add(out, "id", json_object_new_string(p->uid));
	json_object_object_add(out, "email", p->email ? json_object_new_string(p->email) : NULL);
	json_object_object_add(out, "displayName", NULL);
	json_object_object_add(out, "organizationId", NULL);
	json_object_object_add(out, "role", NULL);
	json_object_object_add(out, "disabled", json_object_new_boolean(0));
	json_object_object_add(out, "preferences", json_object_new_object());
	rc = fx_http_resp_json(r, 200, out);
	json_object_put(out);
	return rc;
}

/* preferences: a flat object of at most 50 string, number or boolean values. */
static int take_preferences(json_object *in, struct fx_value *map, struct fx_err *e)
{
	json_object *prefs;
	bool present;
	struct fx_value *out;
	int n = 0;

	if (fx_json_object(in, "preferences", "preferences", false, &prefs, &present, e) < 0)
		return -1;
	if (!present)
		return 0;
	out = fx_map_set(map, "preferences");
	fx_value_map(out);
	json_object_object_foreach(prefs, key, val)
	{
		char field[96];
		enum json_type t = json_object_get_type(val);

		fx_str_text(field, sizeof(field), "preferences.%.60s", key);
		if (++n > MAX_PREFERENCES)
			return fx_err_invalid(e, "preferences", "must have at most %d entries", MAX_PREFERENCES);
		if (strlen(key) == 0 || strlen(key) > 64)
			return fx_err_invalid(e, field, "names must be 1 to 64 characters");
		if (t == json_type_string &&
		    fx_json_utf8_len(json_object_get_string(val), strlen(json_object_get_string(val))) > 500)
			return fx_err_invalid(e, field, "must be at most 500 characters");
		if (t != json_type_string && t != json_type_boolean && t != json_type_int && t != json_type_double)
			return fx_err_invalid(e, field, "must be a string, number or boolean");
		if (fx_model_map_set_plain(out, key, val, field, e) < 0)
			return -1;
	}
	return 0;
}

/* The fields a user sets on their own profile into map, and mask (4 slots) naming them and updatedAt. */
static int decode_profile(json_object *in, struct fx_value *map, const char **mask, struct fx_err *e)
{
	size_t nmask = 0;

	if (fx_model_map_take_string(map, in, "displayName", "displayName", false, 1, 100, e) < 0 ||
	    take_preferences(in, map, e) < 0)
		return -1;
	if (fx_map_get(map, "displayName"))
		mask[nmask++] = "displayName";
	if (fx_map_get(map, "preferences"))
		mask[nmask++] = "preferences";
	fx_model_map_set_now(map, "updatedAt");
	mask[nmask++] = "updatedAt";
	mask[nmask] = NULL;
	return 0;
}

static int me_patch(struct fx_req *r, struct fx_err *e)
{
	static const char *const allowed[] = {"displayName", "preferences", NULL};
	const struct fx_principal *p = r->principal;
	struct fx_value map = {0};
	struct fx_doc doc = {0};
	json_object *in = NULL, *writes = NULL;
	const char *mask[4], *if_match;
	char path[200], *name = NULL;
	int rc = -1, exists;

	if (fx_model_if_match(r, &if_match, e) < 0)
		return -1;
	if (fx_http_req_json(r, false, &in, e) < 0 || fx_json_allow(in, allowed, "", e) < 0)
		goto out;
	fx_value_map(&map);
	if (decode_profile(in, &map, mask, e) < 0)
		goto out;

	exists = read_profile(p->uid, &doc, e) == 0;
	if (!exists && !fx_err_is(e, FX_NOT_FOUND))
		goto out;
	fx_err_clear(e);
	fx_firestore_doc_cleanup(&doc);
	if (user_path(path, sizeof(path), p->uid, e) < 0)
		goto out;
	name = fx_firestore_name(path);
	writes = json_object_new_array();
	if (exists) {
		if (fx_fswrite_update(writes, name, &map, mask, if_match, NULL, e) < 0)
			goto out;
	} else {
		if (if_match) {
			fx_err_set(e, FX_CONDITION_NOT_MET, "If-Match does not name a current version");
			goto out;
		}
		fx_map_set_str(&map, "email", p->email ? p->email : "");
		fx_map_set_bool(&map, "disabled", false);
		fx_model_map_set_now(&map, "createdAt");
		if (fx_fswrite_create(writes, name, &map, NULL, e) < 0)
			goto out;
	}
	if (fx_patch_commit(writes, FX_PATCH_IF_MATCH, "profile", e) < 0)
		goto out;
	fx_authz_forget(p->uid);
	if (read_profile(p->uid, &doc, e) < 0)
		goto out;
	rc = fx_model_resp_doc(r, 200, &doc, fx_profile_hidden);
out:
	json_object_put(in);
	json_object_put(writes);
	fx_value_cleanup(&map);
	fx_firestore_doc_cleanup(&doc);
	free(name);
	return rc;
}

/* POPIA: every personal datum held about the caller. */
static int me_export(struct fx_req *r, struct fx_err *e)
{
	const struct fx_principal *p = r->principal;
	struct fx_user_record rec;
	struct fx_doc doc = {0};
	json_object *out = json_object_new_object(), *account;
	int rc = -1;

	if (read_profile(p->uid, &doc, e) == 0) {
		json_object_object_add(out, "profile", fx_model_doc_json(&doc, fx_profile_hidden));
	} else if (fx_err_is(e, FX_NOT_FOUND)) {
		fx_err_clear(e);
		json_object_object_add(out, "profile", NULL);
	} else {
		goto out;
	}
	if (fx_identity_lookup(p->uid, &rec, e) < 0)
		goto out;
	account = json_object_new_object();
	json_object_object_add(account, "uid", json_object_new_string(rec.uid));
	json_object_object_add(account, "email", json_object_new_string(rec.email));
	json_object_object_add(account, "emailVerified", json_object_new_boolean(rec.email_verified));
	json_object_object_add(account, "displayName", json_object_new_string(rec.display_name));
	json_object_object_add(account, "disabled", json_object_new_boolean(rec.disabled));
	json_object_object_add(out, "account", account);
	json_object_object_add(out, "exportedFor", json_object_new_string(p->uid));
	fx_http_resp_header(r, "Content-Disposition", "attachment; filename=\"fluxori-personal-data.json\"");
	rc = fx_http_resp_json(r, 200, out);
out:
	json_object_put(out);
	fx_firestore_doc_cleanup(&doc);
	return rc;
}

/* POPIA erasure: the profile and the account go; an owner must hand over first. */
static int me_delete(struct fx_req *r, struct fx_err *e)
{
	const struct fx_principal *p = r->principal;
	struct fx_doc doc = {0};
	char path[200];

	if (read_profile(p->uid, &doc, e) == 0) {
		enum fx_role role = role_of(&doc);

		fx_firestore_doc_cleanup(&doc);
		if (role == FX_ROLE_OWNER)
			return fx_err_set(e, FX_FAILED_PRECONDITION,
					  "the owner of an organization cannot erase their account");
	} else if (!fx_err_is(e, FX_NOT_FOUND)) {
		return -1;
	}
	fx_err_clear(e);
	if (user_path(path, sizeof(path), p->uid, e) < 0)
		return -1;
	/* The profile first: if the account delete then fails, the caller can still ask again. */
	if (fx_firestore_delete(path, e) < 0)
		return -1;
	fx_authz_forget(p->uid);
	if (fx_identity_delete(p->uid, e) < 0)
		return -1;
	fx_authz_forget(p->uid);
	return fx_http_resp_send(r, 204, NULL, NULL, 0);
}

static int list(struct fx_req *r, struct fx_err *e)
{
	static const char *const params[] = {"pageSize", "pageToken", NULL};
	struct fx_query *q = fx_fsquery_new("users", false);
	struct fx_value org = {0};
	char *root = fx_firestore_name("");
	char sig[200];
	int size, rc = -1;

	fx_value_string(&org, r->principal->organization_id, strlen(r->principal->organization_id));
	if (fx_str_fmt(sig, sizeof(sig), "users|%s", r->principal->organization_id) < 0) {
		fx_err_set(e, FX_INTERNAL, "list signature over %zu bytes", sizeof(sig));
		goto out;
	}
	if (fx_http_req_query_allow(r, params, e) < 0 || fx_model_page_size(r, &size, e) < 0 ||
	    fx_fsquery_parent(q, root, e) < 0 || fx_fsquery_where(q, "organizationId", "==", &org, e) < 0 ||
	    fx_fsquery_order_by(q, "__name__", false, e) < 0 || fx_model_list_cursor(r, q, sig, e) < 0)
		goto out;
	rc = fx_model_list_answer(r, "", q, size, sig, NULL, fx_profile_hidden, e);
out:
	fx_fsquery_free(q);
	fx_value_cleanup(&org);
	free(root);
	return rc;
}

static int get(struct fx_req *r, struct fx_err *e)
{
	struct fx_doc doc = {0};
	int rc;

	if (read_member(r, fx_http_req_param(r, "id"), &doc, e) < 0)
		return -1;
	rc = fx_model_resp_doc(r, 200, &doc, fx_profile_hidden);
	fx_firestore_doc_cleanup(&doc);
	return rc;
}

static int set_claims(const char *uid, const char *org, enum fx_role role, struct fx_err *e)
{
	char claims[300];

	if (fx_str_fmt(claims, sizeof(claims), "{\"organizationId\":\"%s\",\"role\":\"%s\"}", org,
		       fx_authz_role_name(role)) < 0)
		return fx_err_set(e, FX_INTERNAL, "claims over %zu bytes", sizeof(claims));
	return fx_identity_set_claims(uid, claims, e);
}

/* Who may grant role to a member or change a member who has old_role. */
static int may_manage(const struct fx_principal *p, enum fx_role old_role, enum fx_role new_role, struct fx_err *e)
{
	if (old_role == FX_ROLE_OWNER)
		return fx_err_set(e, FX_PERMISSION_DENIED, "nobody changes or removes the owner");
	if (new_role == FX_ROLE_OWNER)
		return fx_err_invalid(e, "role", "must be viewer, staff, manager or admin");
	if ((old_role == FX_ROLE_ADMIN || new_role == FX_ROLE_ADMIN) && p->role != FX_ROLE_OWNER)
		return fx_err_set(e, FX_PERMISSION_DENIED, "only the owner makes or unmakes an admin");
	return 0;
}

static int take_role(json_object *in, bool required, enum fx_role *out, bool *present, struct fx_err *e)
{
	const char *s;
	int role;

	if (fx_json_string(in, "role", "role", required, 1, 16, &s, present, e) < 0)
		return -1;
	if (!*present)
		return 0;
	role = fx_authz_role_parse(s);
	if (role < FX_ROLE_VIEWER)
		return fx_err_invalid(e, "role", "must be viewer, staff, manager or admin");
	*out = (enum fx_role)role;
	return 0;
}

static bool valid_email(const char *s)
{
	const char *at = strchr(s, '@');

	return at && at != s && !strchr(at + 1, '@') && strchr(at + 1, '.') && at[1] != '.' &&
	       s[strlen(s) - 1] != '.' && !strpbrk(s, " \t\r\n\"<>(),;:\\[]");
}

struct add_ctx {
	const char *org;
	const char *name; /* profile resource name */
	const struct fx_value *profile;
};

static int add_txn(struct fx_txn *t, void *arg, struct fx_err *e)
{
	struct add_ctx *c = arg;
	const char *paths[1];
	struct fx_doc doc = {0};
	const char *org;
	char rel[200];
	int rc = 0;

	if (fx_str_set(rel, sizeof(rel), strstr(c->name, "/documents/") + strlen("/documents/")) < 0)
		return fx_err_set(e, FX_INTERNAL, "document path over %zu bytes", sizeof(rel));
	paths[0] = rel;
	if (fx_firestore_batch_get(paths, 1, t->id, &doc, e) < 0)
		return -1;
	org = doc.name ? fx_value_path_str(&doc.fields, "organizationId") : NULL;
	if (org && *org)
		rc = strcmp(org, c->org) == 0
			     ? fx_err_set(e, FX_ALREADY_EXISTS, "already a member")
			     : fx_err_set(e, FX_ALREADY_EXISTS, "this user belongs to another organization");
	fx_firestore_doc_cleanup(&doc);
	if (rc < 0)
		return -1;
	return fx_fswrite_set(t->writes, c->name, c->profile, NULL, e);
}

/* The account of email into *rec: an existing one its owner may receive a role on, or a new one. */
static int take_account(const char *email, const char *display, struct fx_user_record *rec, struct fx_err *e)
{
	if (fx_identity_lookup_email(email, rec, e) == 0) {
		/*
		 * Anyone can sign up with an address they do not own: only an account
		 * whose owner proved the address may receive the invitation's role. An
		 * account nobody can sign in to (no password, no provider: what an add
		 * cut off after making it left, or one made in the console) is taken
		 * like a new one: only the address's owner can ever use it.
		 */
		if (!rec->email_verified && rec->can_sign_in)
			return fx_err_set(e, FX_FAILED_PRECONDITION,
					  "an account with this email exists but its email is not verified: its owner "
					  "must verify the address before they can be added");
		return 0;
	}
	if (!fx_err_is(e, FX_NOT_FOUND))
		return -1;
	fx_err_clear(e);
	return fx_identity_create(email, display, rec, e);
}

/*
 * The permission rules of a change by p of member uid (old_role; new_role
 * when the role or disabled flag changes, given): 403 PERMISSION_DENIED.
 */
static int may_change(const struct fx_principal *p, const char *uid, enum fx_role old_role, bool manages,
		      enum fx_role new_role, struct fx_err *e)
{
	if (manages && may_manage(p, old_role, new_role, e) < 0)
		return -1;
	if (old_role == FX_ROLE_OWNER && p->role != FX_ROLE_OWNER)
		return fx_err_set(e, FX_PERMISSION_DENIED, "nobody changes the owner");
	if (old_role == FX_ROLE_ADMIN && p->role != FX_ROLE_OWNER && strcmp(uid, p->uid) != 0)
		return fx_err_set(e, FX_PERMISSION_DENIED, "only the owner changes an admin");
	return 0;
}

/* A new member's profile: the account's email and name (display first), organization and role. */
static void member_profile(struct fx_value *profile, const struct fx_user_record *rec, const char *display,
			   const char *org, enum fx_role role)
{
	fx_value_map(profile);
	fx_map_set_str(profile, "email", rec->email);
	if (display || rec->display_name[0])
		fx_map_set_str(profile, "displayName", display ? display : rec->display_name);
	fx_map_set_str(profile, "organizationId", org);
	fx_map_set_str(profile, "role", fx_authz_role_name(role));
	fx_map_set_bool(profile, "disabled", false);
	fx_model_map_set_now(profile, "createdAt");
	fx_model_map_set_now(profile, "updatedAt");
}

static int add(struct fx_req *r, struct fx_err *e)
{
	static const char *const allowed[] = {"email", "role", "displayName", NULL};
	const struct fx_principal *p = r->principal;
	struct fx_user_record rec;
	struct fx_value profile = {0};
	struct fx_doc doc = {0};
	struct add_ctx ctx;
	json_object *in = NULL;
	const char *email = NULL, *display = NULL;
	enum fx_role role = FX_ROLE_NONE;
	bool present;
	char path[200], *name = NULL;
	int rc = -1;

	if (fx_http_req_json(r, false, &in, e) < 0 || fx_json_allow(in, allowed, "", e) < 0 ||
	    fx_json_string(in, "email", "email", true, 3, 320, &email, &present, e) < 0 ||
	    take_role(in, true, &role, &present, e) < 0 ||
	    fx_json_string(in, "displayName", "displayName", false, 1, 100, &display, &present, e) < 0)
		goto out;
	if (!valid_email(email)) {
		fx_err_invalid(e, "email", "must be an email address");
		goto out;
	}
	if (may_manage(p, FX_ROLE_NONE, role, e) < 0)
		goto out;
	if (take_account(email, display, &rec, e) < 0)
		goto out;
	member_profile(&profile, &rec, display, p->organization_id, role);
	if (user_path(path, sizeof(path), rec.uid, e) < 0)
		goto out;
	name = fx_firestore_name(path);
	ctx = (struct add_ctx){p->organization_id, name, &profile};
	if (fx_firestore_run_transaction(add_txn, &ctx, e) < 0)
		goto out;
	if (set_claims(rec.uid, p->organization_id, role, e) < 0) {
		struct fx_err ignored;

		fx_err_clear(&ignored);
		if (fx_firestore_delete(path, &ignored) < 0)
			fx_log_error("user %s: claims failed and the new profile stayed: %s", rec.uid, ignored.message);
		goto out;
	}
	fx_authz_forget(rec.uid);
	if (read_profile(rec.uid, &doc, e) < 0)
		goto out;
	if (fx_str_fmt(path, sizeof(path), "/v1/users/%s", rec.uid) < 0) {
		fx_err_set(e, FX_INTERNAL, "uid over %zu bytes", sizeof(path));
		goto out;
	}
	fx_http_resp_header(r, "Location", path);
	rc = fx_model_resp_doc(r, 201, &doc, fx_profile_hidden);
out:
	json_object_put(in);
	fx_value_cleanup(&profile);
	fx_firestore_doc_cleanup(&doc);
	free(name);
	return rc;
}

/* Sessions issued before now stop working (with the Identity Toolkit revocation). */
static void set_revoked_now(struct fx_value *map)
{
	fx_map_set_int(map, "tokensValidAfter", (int64_t)time(NULL));
}

/*
 * Sets a member's role and disabled flag (each when given; disabling also
 * revokes tokens issued before now) and updatedAt in map, naming them in
 * mask; terminates mask.
 */
static void set_member_fields(struct fx_value *map, const char **mask, size_t *nmask, const enum fx_role *role,
			      const bool *disabled)
{
	if (role) {
		fx_map_set_str(map, "role", fx_authz_role_name(*role));
		mask[(*nmask)++] = "role";
	}
	if (disabled) {
		fx_map_set_bool(map, "disabled", *disabled);
		mask[(*nmask)++] = "disabled";
	}
	if (disabled && *disabled) {
		set_revoked_now(map);
		mask[(*nmask)++] = "tokensValidAfter";
	}
	fx_model_map_set_now(map, "updatedAt");
	mask[(*nmask)++] = "updatedAt";
	mask[*nmask] = NULL;
}

/*
 * Disables (and revokes the tokens of) or enables the account of uid in
 * Firebase Auth, before the profile says so: once Firebase says disabled
 * and revoked, the old token is refused however the profile write ends
 * (fx_authz checks both); forgotten at once so this container asks
 * Firebase again.
 */
static int set_account_disabled(const char *uid, bool disabled, struct fx_err *e)
{
	int rc = fx_identity_set_disabled(uid, disabled, e);

	if (rc == 0 && disabled)
		rc = fx_identity_revoke(uid, e);
	fx_authz_forget(uid);
	return rc;
}

static int change(struct fx_req *r, struct fx_err *e)
{
	static const char *const allowed[] = {"role", "displayName", "disabled", NULL};
	const struct fx_principal *p = r->principal;
	const char *uid = fx_http_req_param(r, "id"), *mask[8], *if_match;
	struct fx_value map = {0};
	struct fx_doc doc = {0};
	json_object *in = NULL;
	enum fx_role old_role, role = FX_ROLE_NONE;
	bool has_role = false, has_disabled = false, disabled = false;
	size_t nmask = 0;
	char path[200];
	int rc = -1;

	if (fx_model_if_match(r, &if_match, e) < 0 || read_member(r, uid, &doc, e) < 0)
		return -1;
	/* Checked before the Identity Toolkit changes below, which no precondition guards. */
	if (fx_patch_if_match(if_match, &doc, "member", e) < 0) {
		fx_firestore_doc_cleanup(&doc);
		return -1;
	}
	old_role = role_of(&doc);
	if (fx_http_req_json(r, false, &in, e) < 0 || fx_json_allow(in, allowed, "", e) < 0 ||
	    take_role(in, false, &role, &has_role, e) < 0 ||
	    fx_json_bool(in, "disabled", "disabled", false, &disabled, &has_disabled, e) < 0)
		goto out;
	fx_value_map(&map);
	if (fx_model_map_take_string(&map, in, "displayName", "displayName", false, 1, 100, e) < 0)
		goto out;
	if (fx_map_get(&map, "displayName"))
		mask[nmask++] = "displayName";
	if (may_change(p, uid, old_role, has_role || has_disabled, has_role ? role : old_role, e) < 0)
		goto out;
	set_member_fields(&map, mask, &nmask, has_role ? &role : NULL, has_disabled ? &disabled : NULL);
	/* Firebase Auth first: see set_account_disabled. */
	if (has_disabled && set_account_disabled(uid, disabled, e) < 0)
		goto out;
	if (has_role && role != old_role && set_claims(uid, p->organization_id, role, e) < 0)
		goto out;
	if (user_path(path, sizeof(path), uid, e) < 0)
		goto out;
	if (fx_patch_write(path, &map, mask, if_match, FX_PATCH_IF_MATCH, "member", e) < 0)
		goto out;
	fx_authz_forget(uid);
	fx_firestore_doc_cleanup(&doc);
	if (read_profile(uid, &doc, e) < 0)
		goto out;
	rc = fx_model_resp_doc(r, 200, &doc, fx_profile_hidden);
out:
	json_object_put(in);
	fx_value_cleanup(&map);
	fx_firestore_doc_cleanup(&doc);
	return rc;
}

/*
 * Takes uid out of its organization: sessions revoked, claims cleared,
 * profile removed, in that order. Revoking first makes every later failure
 * safe: from then on Firebase Auth refuses the old token (fx_authz asks it)
 * whether or not the profile is gone yet, and the caller's retry finishes
 * the job (the profile is still there to find). The cache is dropped after
 * each step, so this container sees every step at once.
 */
static int take_out(const char *uid, struct fx_err *e)
{
	char path[200];
	int rc;

	rc = fx_identity_revoke(uid, e);
	fx_authz_forget(uid);
	/* A user already deleted from Firebase Auth has no sessions or claims left: its profile still goes. */
	if (rc < 0 && !fx_err_is(e, FX_NOT_FOUND))
		return -1;
	if (rc == 0 && fx_identity_set_claims(uid, "{}", e) < 0)
		return -1;
	fx_err_clear(e);
	rc = user_path(path, sizeof(path), uid, e) < 0 ? -1 : fx_firestore_delete(path, e);
	fx_authz_forget(uid);
	return rc;
}

static int remove_member(struct fx_req *r, struct fx_err *e)
{
	const struct fx_principal *p = r->principal;
	const char *uid = fx_http_req_param(r, "id");
	struct fx_doc doc = {0};
	enum fx_role old_role;

	if (read_member(r, uid, &doc, e) < 0)
		return -1;
	old_role = role_of(&doc);
	fx_firestore_doc_cleanup(&doc);
	if (may_manage(p, old_role, FX_ROLE_VIEWER, e) < 0)
		return -1;
	if (take_out(uid, e) < 0)
		return -1;
	return fx_http_resp_send(r, 204, NULL, NULL, 0);
}

/* Any member but the owner leaves their organization, exactly as if an admin had removed them. */
static int me_leave(struct fx_req *r, struct fx_err *e)
{
	const struct fx_principal *p = r->principal;
	struct fx_doc doc = {0};
	enum fx_role role;

	if (read_member(r, p->uid, &doc, e) < 0)
		return -1;
	role = role_of(&doc);
	fx_firestore_doc_cleanup(&doc);
	if (role == FX_ROLE_OWNER)
		return fx_err_set(e, FX_FAILED_PRECONDITION, "the owner cannot leave their organization");
	if (take_out(p->uid, e) < 0)
		return -1;
	return fx_http_resp_send(r, 204, NULL, NULL, 0);
}

int main(int argc, char **argv)
{
	static const struct fx_app app = {"users", routes, sizeof(routes) / sizeof(routes[0]), NULL};

	return fx_worker_main(&app, argc, argv);
}
