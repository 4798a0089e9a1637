#include "identity.h"

#include "buf.h"
#include "config.h"
#include "gauth.h"
#include "httpc.h"
#include "json.h"
#include "str.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define URL_MAX 2048
#define BODY_MAX 16384
#define LOOKUP_ANSWER_MAX (256 * 1024) /* a user record with every provider and MFA factor */
#define WRITE_ANSWER_MAX (64 * 1024)
#define EMAIL_LOCAL_MAX 64

/* Claim names Firebase keeps for itself (firebase-admin RESERVED_CLAIMS, PROTOCOLS §1.9). */
static const char *const reserved_claims[] = {"acr", "amr",    "at_hash", "aud",      "auth_time", "azp",
					      "cnf", "c_hash", "exp",	  "firebase", "iat",	   "iss",
					      "jti", "nbf",    "nonce",	  "sub",      NULL};

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static int check_uid(const char *uid, struct fx_err *e)
{
	size_t n;

	if (!uid || !*uid)
		return fx_err_invalid(e, "uid", "is required");
	n = strlen(uid);
	if (n > FX_IDENTITY_UID_MAX)
		return fx_err_invalid(e, "uid", "must be at most %d bytes", FX_IDENTITY_UID_MAX);
	if (!fx_json_utf8_valid(uid, n) || has_control(uid))
		return fx_err_invalid(e, "uid", "must be UTF-8 without control characters");
	return 0;
}

static bool domain_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

/* One "@" between a local part of printable ASCII and a dotted host name; no quoted forms. */
static int check_email(const char *email, struct fx_err *e)
{
	const char *at, *domain;
	size_t n, dn;

	if (!email || !*email)
		return fx_err_invalid(e, "email", "is required");
	n = strlen(email);
	if (n > FX_IDENTITY_EMAIL_MAX)
		return fx_err_invalid(e, "email", "must be at most %d characters", FX_IDENTITY_EMAIL_MAX);
	at = strchr(email, '@');
	if (!at || strchr(at + 1, '@'))
		return fx_err_invalid(e, "email", "must contain exactly one @");
	if (at == email || (size_t)(at - email) > EMAIL_LOCAL_MAX)
		return fx_err_invalid(e, "email", "must have 1 to %d characters before the @", EMAIL_LOCAL_MAX);
	for (const char *p = email; p < at; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || strchr("\"(),:;<>[\\]", *p))
			return fx_err_invalid(e, "email", "has a character not allowed before the @");
	domain = at + 1;
	dn = strlen(domain);
	for (const char *p = domain; *p; p++)
		if (!domain_char(*p))
			return fx_err_invalid(e, "email", "has a character not allowed in a domain name");
	if (dn < 3 || !strchr(domain, '.') || domain[0] == '.' || domain[dn - 1] == '.' || domain[0] == '-' ||
	    strstr(domain, ".."))
		return fx_err_invalid(e, "email", "must end in a dotted domain name");
	return 0;
}

static int check_display_name(const char *name, struct fx_err *e)
{
	size_t n = strlen(name);

	if (!fx_json_utf8_valid(name, n) || has_control(name))
		return fx_err_invalid(e, "displayName", "must be UTF-8 without control characters");
	if (fx_json_utf8_len(name, n) > FX_IDENTITY_DISPLAY_NAME_MAX)
		return fx_err_invalid(e, "displayName", "must be at most %d characters", FX_IDENTITY_DISPLAY_NAME_MAX);
	return 0;
}

static int check_claims(const char *claims, struct fx_err *e)
{
	size_t n = strlen(claims);
	json_object *obj = NULL;
	struct fx_err je;

	if (n > FX_IDENTITY_CLAIMS_MAX)
		return fx_err_invalid(e, "claims", "must be at most %d bytes of JSON, not %zu", FX_IDENTITY_CLAIMS_MAX,
				      n);
	fx_err_clear(&je);
	if (fx_json_parse(claims, n, FX_JSON_MAX_DEPTH, &obj, &je) < 0)
		return fx_err_invalid(e, "claims", "%s", je.message);
	if (!json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		return fx_err_invalid(e, "claims", "must be a JSON object");
	}
	json_object_object_foreach(obj, key, val)
	{
		(void)val;
		for (const char *const *r = reserved_claims; *r; r++) {
			if (strcmp(key, *r) == 0) {
				json_object_put(obj);
				return fx_err_invalid(e, "claims", "%s is a claim name reserved by Firebase", *r);
			}
		}
	}
	json_object_put(obj);
	return 0;
}

/* Google's reason code: error.message up to " " or ":" when it is all capitals and underscores. */
static void error_reason(const struct fx_httpc_resp *resp, char *reason, size_t len, char *msg, size_t msg_len)
{
	json_object *root = NULL, *err, *m;
	const char *s;
	size_t n = 0;

	reason[0] = msg[0] = '\0';
	if (resp->body.data && resp->body.len)
		root = json_tokener_parse(resp->body.data);
	if (!root || !json_object_object_get_ex(root, "error", &err) ||
	    !json_object_object_get_ex(err, "message", &m) || !json_object_is_type(m, json_type_string))
		goto out;
	s = json_object_get_string(m);
	fx_str_text(msg, msg_len, "%s", s);
	while ((s[n] >= 'A' && s[n] <= 'Z') || s[n] == '_')
		n++;
	if (n > 0 && (s[n] == '\0' || s[n] == ' ' || s[n] == ':') && fx_str_copy(reason, len, s, n) < 0)
		reason[0] = '\0'; /* longer than any reason code: none */
out:
	json_object_put(root);
}

/* Maps an Identity Toolkit error answer to e (see the header for the table); returns -1. */
static int map_error(const struct fx_httpc_resp *resp, const char *what, struct fx_err *e)
{
	char reason[64], msg[160];
	long st = resp->status;

	error_reason(resp, reason, sizeof(reason), msg, sizeof(msg));
	if (st >= 500 || st == 429 || strcmp(reason, "QUOTA_EXCEEDED") == 0 ||
	    strcmp(reason, "TOO_MANY_ATTEMPTS_TRY_LATER") == 0)
		return fx_err_set(e, FX_UNAVAILABLE, "%s failed: identity toolkit answered HTTP %ld%s%s", what, st,
				  msg[0] ? ": " : "", msg);
	if (strcmp(reason, "USER_NOT_FOUND") == 0)
		return fx_err_set(e, FX_NOT_FOUND, "user not found");
	if (strcmp(reason, "EMAIL_EXISTS") == 0 || strcmp(reason, "DUPLICATE_EMAIL") == 0)
		return fx_err_set(e, FX_ALREADY_EXISTS, "email already in use by another account");
	if (strcmp(reason, "INVALID_EMAIL") == 0)
		return fx_err_invalid(e, "email", "refused by identity toolkit");
	if (strcmp(reason, "CLAIMS_TOO_LARGE") == 0 || strcmp(reason, "FORBIDDEN_CLAIM") == 0 ||
	    strcmp(reason, "INVALID_CLAIMS") == 0)
		return fx_err_invalid(e, "claims", "refused by identity toolkit: %s", msg);
	return fx_err_set(e, FX_INTERNAL, "%s refused: identity toolkit answered HTTP %ld%s%s", what, st,
			  msg[0] ? ": " : "", msg);
}

/*
 * POSTs body to {identity_url}/v1/projects/{project}/accounts{suffix}.
 * Returns 0 with the parsed answer object in *answer (caller puts; pass
 * NULL to ignore it), or -1 with e mapped.
 */
/*
 * *answer: the JSON object resp holds; else 502. Not inlined into post: its
 * struct fx_err (4.4 KiB) would sit in post's frame during every call to
 * Identity Toolkit, on the deepest stack path of a worker thread.
 */
static __attribute__((noinline)) int parse_object(const struct fx_httpc_resp *resp, const char *what,
						  json_object **answer, struct fx_err *e)
{
	struct fx_err je;

	fx_err_clear(&je);
	if (fx_json_parse(resp->body.data ? resp->body.data : "", resp->body.len, FX_JSON_MAX_DEPTH, answer, &je) < 0 ||
	    !json_object_is_type(*answer, json_type_object)) {
		json_object_put(*answer);
		*answer = NULL;
		return fx_err_set(e, FX_BAD_GATEWAY, "%s: identity toolkit answer is not a JSON object", what);
	}
	return 0;
}

static int post(const char *suffix, const struct fx_buf *body, enum fx_retry retry, size_t max_answer, const char *what,
		json_object **answer, struct fx_err *e)
{
	const struct fx_config *c = fx_config_get();
	char auth[FX_GAUTH_HEADER_MAX];
	const char *headers[] = {auth, "Content-Type: application/json", NULL};
	struct fx_httpc_req req = {0};
	struct fx_httpc_resp resp;
	struct fx_buf url;
	int rc = -1;

	if (answer)
		*answer = NULL;
	if (!c || !c->identity_url || !c->project)
		return fx_err_set(e, FX_INTERNAL, "%s: identity toolkit is not configured", what);
	fx_buf_init(&url, URL_MAX);
	fx_httpc_resp_init(&resp);
	if (fx_buf_printf(&url, "%s/v1/projects/", c->identity_url) < 0 ||
	    fx_httpc_url_encode(&url, c->project, strlen(c->project)) < 0 ||
	    fx_buf_printf(&url, "/accounts%s", suffix) < 0) {
		fx_err_set(e, FX_INTERNAL, "%s: identity toolkit URL exceeds %d bytes", what, URL_MAX);
		goto out;
	}
	if (fx_gauth_header(FX_GAUTH_IDENTITY, auth, sizeof(auth), e) < 0)
		goto out;
	req.method = "POST";
	req.url = url.data;
	req.headers = headers;
	req.body = body->data;
	req.body_len = body->len;
	req.max_response = max_answer;
	req.retry = retry;
	req.service = "identitytoolkit";
	if (fx_httpc_do(&req, &resp, e) < 0)
		goto out;
	if (resp.status < 200 || resp.status > 299) {
		map_error(&resp, what, e);
		goto out;
	}
	if (answer && parse_object(&resp, what, answer, e) < 0)
		goto out;
	rc = 0;
out:
	fx_buf_cleanup(&url);
	fx_httpc_resp_cleanup(&resp);
	return rc;
}

/* Copies string member key of obj into out; absent is "", anything else not fitting is a 502. */
static int copy_string(json_object *obj, const char *key, char *out, size_t out_len, struct fx_err *e)
{
	json_object *v;
	size_t n;

	out[0] = '\0';
	if (!json_object_object_get_ex(obj, key, &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return fx_err_set(e, FX_BAD_GATEWAY, "identity toolkit answer: %s is not a string", key);
	n = (size_t)json_object_get_string_len(v);
	if (fx_str_copy(out, out_len, json_object_get_string(v), n) < 0)
		return fx_err_set(e, FX_BAD_GATEWAY, "identity toolkit answer: %s exceeds %zu bytes", key, out_len - 1);
	if (strlen(out) != n)
		return fx_err_set(e, FX_BAD_GATEWAY, "identity toolkit answer: %s holds a NUL", key);
	return 0;
}

static int copy_bool(json_object *obj, const char *key, bool *out, struct fx_err *e)
{
	json_object *v;

	*out = false;
	if (!json_object_object_get_ex(obj, key, &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return fx_err_set(e, FX_BAD_GATEWAY, "identity toolkit answer: %s is not a boolean", key);
	*out = json_object_get_boolean(v);
	return 0;
}

/* validSince: decimal seconds as a string (proto3 JSON int64), a plain number tolerated. */
static int copy_valid_since(json_object *obj, int64_t *out, struct fx_err *e)
{
	json_object *v;

	*out = 0;
	if (!json_object_object_get_ex(obj, "validSince", &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (fx_json_get_int64(v, 0, INT64_MAX, out))
		return 0;
	return fx_err_set(e, FX_BAD_GATEWAY, "identity toolkit answer: validSince is not a count of seconds");
}

/* A password, or any provider linked (password, phone, federated): a way to sign in. */
static bool can_sign_in(json_object *u)
{
	json_object *v;

	if (json_object_object_get_ex(u, "passwordHash", &v) && !json_object_is_type(v, json_type_null))
		return true;
	return json_object_object_get_ex(u, "providerUserInfo", &v) && json_object_is_type(v, json_type_array) &&
	       json_object_array_length(v) > 0;
}

static int fill_record(json_object *u, struct fx_user_record *out, struct fx_err *e)
{
	out->can_sign_in = can_sign_in(u);
	if (copy_string(u, "localId", out->uid, sizeof(out->uid), e) < 0 ||
	    copy_string(u, "email", out->email, sizeof(out->email), e) < 0 ||
	    copy_string(u, "displayName", out->display_name, sizeof(out->display_name), e) < 0 ||
	    copy_string(u, "customAttributes", out->custom_claims, sizeof(out->custom_claims), e) < 0 ||
	    copy_bool(u, "disabled", &out->disabled, e) < 0 ||
	    copy_bool(u, "emailVerified", &out->email_verified, e) < 0 || copy_valid_since(u, &out->valid_since, e) < 0)
		return -1;
	if (!out->uid[0])
		return fx_err_set(e, FX_BAD_GATEWAY, "identity toolkit answer: user without localId");
	return 0;
}

/* accounts:lookup by one localId or one email (key "localId" or "email"). */
static int lookup_by(const char *key, const char *value, struct fx_user_record *out, struct fx_err *e)
{
	struct fx_buf body;
	json_object *answer = NULL, *users, *u;
	size_t n;
	int rc = -1;

	fx_buf_init(&body, BODY_MAX);
	if (fx_buf_printf(&body, "{\"%s\":[", key) < 0 || fx_buf_json_string(&body, value, strlen(value)) < 0 ||
	    fx_buf_puts(&body, "]}") < 0) {
		fx_err_set(e, FX_INTERNAL, "identity lookup: request exceeds %d bytes", BODY_MAX);
		goto out;
	}
	if (post(":lookup", &body, FX_RETRY_IDEMPOTENT, LOOKUP_ANSWER_MAX, "identity lookup", &answer, e) < 0)
		goto out;
	/* No match is a 200 without "users" (PROTOCOLS §1.5; the emulator does the same). */
	if (!json_object_object_get_ex(answer, "users", &users) || json_object_is_type(users, json_type_null) ||
	    (json_object_is_type(users, json_type_array) && json_object_array_length(users) == 0)) {
		fx_err_set(e, FX_NOT_FOUND, "%s not found", "user");
		goto out;
	}
	if (!json_object_is_type(users, json_type_array)) {
		fx_err_set(e, FX_BAD_GATEWAY, "identity toolkit answer: users is not an array");
		goto out;
	}
	n = json_object_array_length(users);
	if (n > 1) {
		if (strcmp(key, "email") == 0)
			fx_err_set(e, FX_INTERNAL, "identity lookup: %zu accounts share this email", n);
		else
			fx_err_set(e, FX_BAD_GATEWAY, "identity toolkit answer: %zu users for one uid", n);
		goto out;
	}
	u = json_object_array_get_idx(users, 0);
	if (!json_object_is_type(u, json_type_object)) {
		fx_err_set(e, FX_BAD_GATEWAY, "identity toolkit answer: a user is not an object");
		goto out;
	}
	if (fill_record(u, out, e) < 0)
		goto out;
	if (strcmp(key, "localId") == 0 && strcmp(out->uid, value) != 0) {
		fx_err_set(e, FX_BAD_GATEWAY, "identity toolkit answer: lookup returned another user");
		goto out;
	}
	rc = 0;
out:
	if (rc < 0)
		memset(out, 0, sizeof(*out));
	json_object_put(answer);
	fx_buf_cleanup(&body);
	return rc;
}

int fx_identity_lookup(const char *uid, struct fx_user_record *out, struct fx_err *e)
{
	memset(out, 0, sizeof(*out));
	if (check_uid(uid, e) < 0)
		return -1;
	return lookup_by("localId", uid, out, e);
}

int fx_identity_lookup_email(const char *email, struct fx_user_record *out, struct fx_err *e)
{
	memset(out, 0, sizeof(*out));
	if (check_email(email, e) < 0)
		return -1;
	return lookup_by("email", email, out, e);
}

int fx_identity_create(const char *email, const char *display_name, struct fx_user_record *out, struct fx_err *e)
{
	struct fx_buf body;
	json_object *answer = NULL;
	struct fx_user_record created;
	struct fx_err le;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (display_name && !*display_name)
		display_name = NULL;
	if (check_email(email, e) < 0 || (display_name && check_display_name(display_name, e) < 0))
		return -1;
	fx_buf_init(&body, BODY_MAX);
	if (fx_buf_puts(&body, "{\"email\":") < 0 || fx_buf_json_string(&body, email, strlen(email)) < 0 ||
	    (display_name && (fx_buf_puts(&body, ",\"displayName\":") < 0 ||
			      fx_buf_json_string(&body, display_name, strlen(display_name)) < 0)) ||
	    fx_buf_puts(&body, "}") < 0) {
		fx_err_set(e, FX_INTERNAL, "identity create: request exceeds %d bytes", BODY_MAX);
		goto out;
	}
	if (post("", &body, FX_RETRY_UNAVAILABLE, WRITE_ANSWER_MAX, "identity create", &answer, e) < 0)
		goto out;
	memset(&created, 0, sizeof(created));
	if (fill_record(answer, &created, e) < 0)
		goto out;
	/* Like the Admin SDKs, read the stored record back; the user exists either way. */
	fx_err_clear(&le);
	if (lookup_by("localId", created.uid, out, &le) < 0)
		*out = created;
	rc = 0;
out:
	json_object_put(answer);
	fx_buf_cleanup(&body);
	return rc;
}

/* accounts:update on uid with the members in fields (JSON object members without braces). */
static int update(const char *uid, const char *what, struct fx_buf *fields, struct fx_err *e)
{
	struct fx_buf body;
	int rc = -1;

	fx_buf_init(&body, BODY_MAX);
	if (fx_buf_puts(&body, "{\"localId\":") < 0 || fx_buf_json_string(&body, uid, strlen(uid)) < 0 ||
	    fx_buf_printf(&body, ",%s}", fields->data ? fields->data : "") < 0) {
		fx_err_set(e, FX_INTERNAL, "%s: request exceeds %d bytes", what, BODY_MAX);
		goto out;
	}
	rc = post(":update", &body, FX_RETRY_UNAVAILABLE, WRITE_ANSWER_MAX, what, NULL, e);
out:
	fx_buf_cleanup(&body);
	return rc;
}

int fx_identity_set_claims(const char *uid, const char *claims_json, struct fx_err *e)
{
	struct fx_buf fields;
	int rc = -1;

	if (!claims_json)
		claims_json = "{}";
	if (check_uid(uid, e) < 0 || check_claims(claims_json, e) < 0)
		return -1;
	fx_buf_init(&fields, BODY_MAX);
	/* customAttributes is the claims object's JSON text carried as a JSON string. */
	if (fx_buf_puts(&fields, "\"customAttributes\":") < 0 ||
	    fx_buf_json_string(&fields, claims_json, strlen(claims_json)) < 0) {
		fx_err_set(e, FX_INTERNAL, "identity set claims: request exceeds %d bytes", BODY_MAX);
		goto out;
	}
	rc = update(uid, "identity set claims", &fields, e);
out:
	fx_buf_cleanup(&fields);
	return rc;
}

int fx_identity_set_disabled(const char *uid, bool disabled, struct fx_err *e)
{
	struct fx_buf fields;
	int rc = -1;

	if (check_uid(uid, e) < 0)
		return -1;
	fx_buf_init(&fields, 64);
	if (fx_buf_printf(&fields, "\"disableUser\":%s", disabled ? "true" : "false") < 0) {
		fx_err_set(e, FX_INTERNAL, "identity set disabled: request too long");
		goto out;
	}
	rc = update(uid, "identity set disabled", &fields, e);
out:
	fx_buf_cleanup(&fields);
	return rc;
}

int fx_identity_revoke(const char *uid, struct fx_err *e)
{
	struct fx_buf fields;
	struct timespec ts;
	long long secs;
	int rc = -1;

	if (check_uid(uid, e) < 0)
		return -1;
	clock_gettime(CLOCK_REALTIME, &ts);
	secs = (long long)ts.tv_sec + (ts.tv_nsec > 0);
	fx_buf_init(&fields, 64);
	if (fx_buf_printf(&fields, "\"validSince\":\"%lld\"", secs) < 0) {
		fx_err_set(e, FX_INTERNAL, "identity revoke: request too long");
		goto out;
	}
	rc = update(uid, "identity revoke", &fields, e);
out:
	fx_buf_cleanup(&fields);
	return rc;
}

int fx_identity_delete(const char *uid, struct fx_err *e)
{
	struct fx_buf body;
	int rc = -1;

	if (check_uid(uid, e) < 0)
		return -1;
	fx_buf_init(&body, BODY_MAX);
	if (fx_buf_puts(&body, "{\"localId\":") < 0 || fx_buf_json_string(&body, uid, strlen(uid)) < 0 ||
	    fx_buf_puts(&body, "}") < 0) {
		fx_err_set(e, FX_INTERNAL, "identity delete: request exceeds %d bytes", BODY_MAX);
		goto out;
	}
	rc = post(":delete", &body, FX_RETRY_UNAVAILABLE, WRITE_ANSWER_MAX, "identity delete", NULL, e);
	if (rc < 0 && fx_err_is(e, FX_NOT_FOUND)) {
		fx_err_clear(e);
		rc = 0;
	}
out:
	fx_buf_cleanup(&body);
	return rc;
}
