/*
 * fx_identity against a real Auth emulator that this binary starts once
 * (scripts/emulators, free loopback ports) before the first test and stops
 * after the last, plus a canned upstream (testserver) for the answers the
 * emulator never gives: 5xx, 429, refused credentials, garbage.
 */
#include "identity.h"

#include "b64.h"
#include "buf.h"
#include "config.h"
#include "emulator.h"
#include "httpc.h"
#include "json.h"
#include "log.h"
#include "testserver.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROJECT "demo-fluxori"
/* The runner process starts the emulators; test processes are exec'd anew and learn of them from these. */
#define ENV_AUTH_PORT "FX_TEST_IDENTITY_AUTH_PORT"
#define ENV_START_ERROR "FX_TEST_IDENTITY_START_ERROR"

static const char *const reserved[] = {"acr", "amr",	  "at_hash", "aud", "auth_time", "azp", "cnf",	 "c_hash",
				       "exp", "firebase", "iat",     "iss", "jti",	 "nbf", "nonce", "sub"};

/* ---- emulator lifetime (runner process) ---- */

const struct emu_fixture emu_fixture = {"identity", EMU_SCRIPT, EMU_AUTH, ENV_AUTH_PORT, ENV_START_ERROR};

/* ---- per test ---- */

static struct fx_config cfg;
static char auth_host[64], identity_url[160], emulator_base[96];
static struct fx_err err;
static struct testserver *ts;

static void base_config(void)
{
	fx_log_init("test_identity", FX_LOG_ERROR + 1);
	memset(&cfg, 0, sizeof(cfg));
	cfg.project = PROJECT;
	/* Only bounds a hang: the JVM emulator on a busy 2-core machine can take seconds per call. */
	cfg.http_timeout_ms = 60000;
	cfg.connect_timeout_ms = 2000;
	fx_err_clear(&err);
}

static void setup_emulator(void)
{
	const char *port = emu_suite_port(EMU_AUTH, ENV_AUTH_PORT, ENV_START_ERROR);

	base_config();
	snprintf(auth_host, sizeof(auth_host), "127.0.0.1:%s", port);
	snprintf(emulator_base, sizeof(emulator_base), "http://%s", auth_host);
	snprintf(identity_url, sizeof(identity_url), "%s/identitytoolkit.googleapis.com", emulator_base);
	cfg.auth_emulator = auth_host;
	cfg.identity_url = identity_url;
	fx_config_set(&cfg);
}

/* A canned upstream instead of Identity Toolkit; still "emulated" so the bearer is "owner". */
static void setup_canned(void)
{
	base_config();
	ts = ts_start();
	cfg.auth_emulator = "127.0.0.1:1";
	cfg.identity_url = ts_url(ts);
	fx_config_set(&cfg);
}

static void teardown_canned(void)
{
	ts_stop(ts);
	ts = NULL;
}

TestSuite(identity, .init = setup_emulator);
TestSuite(identity_wire, .init = setup_canned, .fini = teardown_canned);

/* An address no other test (or earlier run) uses: tests run in parallel on one emulator. */
static void unique_email(char *out, size_t len, const char *tag)
{
	static unsigned seq;
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	snprintf(out, len, "%s-%d-%ld-%u@example.com", tag, (int)getpid(), now.tv_nsec, seq++);
}

static void create_user(const char *tag, struct fx_user_record *rec, char *email, size_t email_len)
{
	unique_email(email, email_len, tag);
	cr_assert_eq(fx_identity_create(email, NULL, rec, &err), 0, "create %s: %s", email, err.message);
}

static void expect_error(int rc, int code, const char *status)
{
	cr_assert_eq(rc, -1);
	cr_assert_eq(fx_err_http(err.kind), code, "expected %d, got %d %s: %s", code, fx_err_http(err.kind),
		     fx_err_name(err.kind), err.message);
	cr_assert_str_eq(fx_err_name(err.kind), status);
}

static void expect_invalid(int rc, const char *field)
{
	expect_error(rc, 400, "INVALID_ARGUMENT");
	cr_assert_geq(err.ndetails, 1);
	cr_assert_str_eq(err.details[0].field, field);
	fx_err_clear(&err);
}

static void assert_same_record(const struct fx_user_record *a, const struct fx_user_record *b)
{
	cr_assert_str_eq(a->uid, b->uid);
	cr_assert_str_eq(a->email, b->email);
	cr_assert_str_eq(a->display_name, b->display_name);
	cr_assert_eq(a->disabled, b->disabled);
	cr_assert_eq(a->email_verified, b->email_verified);
	cr_assert_eq(a->valid_since, b->valid_since);
	cr_assert_str_eq(a->custom_claims, b->custom_claims);
}

/* POSTs to the emulator's REST surface as a client app or as admin (Bearer owner). */
static json_object *emulator_post(const char *path, const char *body, bool admin)
{
	char url[512];
	const char *admin_headers[] = {"Authorization: Bearer owner", "Content-Type: application/json", NULL};
	const char *client_headers[] = {"Content-Type: application/json", NULL};
	struct fx_httpc_req req = {0};
	struct fx_httpc_resp resp;
	json_object *obj;

	snprintf(url, sizeof(url), "%s%s", emulator_base, path);
	req.method = "POST";
	req.url = url;
	req.headers = admin ? admin_headers : client_headers;
	req.body = body;
	req.body_len = strlen(body);
	fx_httpc_resp_init(&resp);
	cr_assert_eq(fx_httpc_do(&req, &resp, &err), 0, "POST %s: %s", path, err.message);
	cr_assert_eq(resp.status, 200, "POST %s: HTTP %ld %s", path, resp.status, resp.body.data);
	obj = json_tokener_parse(resp.body.data);
	cr_assert(obj, "POST %s: not JSON", path);
	fx_httpc_resp_cleanup(&resp);
	return obj;
}

/*
 * Gives the user a password (admin accounts:update), signs in as a client
 * would and returns the ID token's decoded payload (caller puts).
 */
static json_object *fresh_token_payload(const char *uid, const char *email)
{
	char body[1024], payload[4096];
	json_object *ans, *tok;
	const char *token, *dot1, *dot2;
	size_t n;
	struct fx_err be;

	snprintf(body, sizeof(body), "{\"localId\":\"%s\",\"password\":\"correct-horse-42\"}", uid);
	json_object_put(
		emulator_post("/identitytoolkit.googleapis.com/v1/projects/" PROJECT "/accounts:update", body, true));
	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"correct-horse-42\",\"returnSecureToken\":true}",
		 email);
	ans = emulator_post("/identitytoolkit.googleapis.com/v1/accounts:signInWithPassword?key=fake-api-key", body,
			    false);
	cr_assert(json_object_object_get_ex(ans, "idToken", &tok), "sign-in answer has no idToken");
	token = json_object_get_string(tok);
	dot1 = strchr(token, '.');
	cr_assert(dot1);
	dot2 = strchr(dot1 + 1, '.');
	cr_assert(dot2);
	fx_err_clear(&be);
	cr_assert_eq(fx_b64_url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), payload, sizeof(payload) - 1, &n, &be), 0,
		     "payload: %s", be.message);
	payload[n] = '\0';
	json_object_put(ans);
	tok = json_tokener_parse(payload);
	cr_assert(tok, "token payload is not JSON");
	return tok;
}

static const char *claim_string(json_object *payload, const char *name)
{
	json_object *v;

	if (!json_object_object_get_ex(payload, name, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* ---- against the emulator ---- */

Test(identity, create_returns_the_record_that_lookups_by_uid_and_by_email_find)
{
	struct fx_user_record created, by_uid, by_email;
	char email[128];

	unique_email(email, sizeof(email), "create");
	cr_assert_eq(fx_identity_create(email, "Zoë Ndlovu", &created, &err), 0, "%s", err.message);
	cr_assert_gt(strlen(created.uid), 0);
	cr_assert_str_eq(created.email, email);
	cr_assert_str_eq(created.display_name, "Zoë Ndlovu");
	cr_assert_not(created.disabled);
	cr_assert_not(created.email_verified);
	cr_assert_str_eq(created.custom_claims, "");

	cr_assert_eq(fx_identity_lookup(created.uid, &by_uid, &err), 0, "%s", err.message);
	assert_same_record(&created, &by_uid);
	cr_assert_eq(fx_identity_lookup_email(email, &by_email, &err), 0, "%s", err.message);
	assert_same_record(&created, &by_email);
}

Test(identity, an_account_made_without_a_password_has_no_way_to_sign_in_until_it_gets_one)
{
	struct fx_user_record rec, looked;
	char email[128], body[512];

	create_user("nosignin", &rec, email, sizeof(email));
	cr_assert_eq(fx_identity_lookup(rec.uid, &looked, &err), 0, "%s", err.message);
	cr_assert_not(looked.can_sign_in);
	snprintf(body, sizeof(body), "{\"localId\":\"%s\",\"password\":\"correct-horse-42\"}", rec.uid);
	json_object_put(
		emulator_post("/identitytoolkit.googleapis.com/v1/projects/" PROJECT "/accounts:update", body, true));
	cr_assert_eq(fx_identity_lookup_email(email, &looked, &err), 0, "%s", err.message);
	cr_assert(looked.can_sign_in, "a password is a way in");
}

Test(identity, create_without_display_name_leaves_it_empty)
{
	struct fx_user_record rec, looked;
	char email[128];

	unique_email(email, sizeof(email), "noname");
	cr_assert_eq(fx_identity_create(email, "", &rec, &err), 0, "%s", err.message);
	cr_assert_eq(fx_identity_lookup(rec.uid, &looked, &err), 0, "%s", err.message);
	cr_assert_str_eq(looked.display_name, "");
	cr_assert_str_eq(looked.email, email);
}

Test(identity, create_keeps_a_256_character_display_name_intact)
{
	struct fx_user_record rec, looked;
	char email[128], name[4 * 256 + 1] = "";

	for (int i = 0; i < 256; i++)
		strcat(name, i % 2 ? "ä" : "€"); /* 2- and 3-byte characters: 640 bytes, 256 characters */
	unique_email(email, sizeof(email), "longname");
	cr_assert_eq(fx_identity_create(email, name, &rec, &err), 0, "%s", err.message);
	cr_assert_eq(fx_identity_lookup(rec.uid, &looked, &err), 0, "%s", err.message);
	cr_assert_str_eq(looked.display_name, name);
}

Test(identity, create_with_a_taken_email_is_already_exists)
{
	struct fx_user_record first, second;
	char email[128], upper[128];

	create_user("dup", &first, email, sizeof(email));
	expect_error(fx_identity_create(email, "Someone Else", &second, &err), 409, "ALREADY_EXISTS");
	cr_assert_str_eq(second.uid, "");

	/* Emails compare without case: the same address in capitals is taken too. */
	for (size_t i = 0; i <= strlen(email); i++)
		upper[i] = (char)(email[i] >= 'a' && email[i] <= 'z' ? email[i] - 32 : email[i]);
	fx_err_clear(&err);
	expect_error(fx_identity_create(upper, NULL, &second, &err), 409, "ALREADY_EXISTS");
}

Test(identity, lookup_of_an_unknown_uid_is_not_found)
{
	struct fx_user_record rec;

	expect_error(fx_identity_lookup("no-such-user-4711", &rec, &err), 404, "NOT_FOUND");
	cr_assert_str_eq(rec.uid, "");
}

Test(identity, lookup_of_an_unknown_email_is_not_found)
{
	struct fx_user_record rec;
	char email[128];

	unique_email(email, sizeof(email), "nobody");
	expect_error(fx_identity_lookup_email(email, &rec, &err), 404, "NOT_FOUND");
}

Test(identity, claims_show_in_lookup_and_in_the_next_id_token)
{
	const char *claims = "{\"organization_id\":\"org-7\",\"role\":\"admin\",\"plan\":{\"tier\":2}}";
	struct fx_user_record rec, looked;
	char email[128];
	json_object *payload, *plan, *tier;

	create_user("claims", &rec, email, sizeof(email));
	cr_assert_eq(fx_identity_set_claims(rec.uid, claims, &err), 0, "%s", err.message);
	cr_assert_eq(fx_identity_lookup(rec.uid, &looked, &err), 0, "%s", err.message);
	cr_assert_str_eq(looked.custom_claims, claims);

	payload = fresh_token_payload(rec.uid, email);
	cr_assert_str_eq(claim_string(payload, "sub"), rec.uid);
	cr_assert_str_eq(claim_string(payload, "role"), "admin");
	cr_assert_str_eq(claim_string(payload, "organization_id"), "org-7");
	cr_assert(json_object_object_get_ex(payload, "plan", &plan));
	cr_assert(json_object_object_get_ex(plan, "tier", &tier));
	cr_assert_eq(json_object_get_int(tier), 2);
	json_object_put(payload);
}

Test(identity, empty_object_clears_claims_from_the_next_id_token)
{
	struct fx_user_record rec, looked;
	char email[128];
	json_object *payload;

	create_user("clear", &rec, email, sizeof(email));
	cr_assert_eq(fx_identity_set_claims(rec.uid, "{\"role\":\"owner\"}", &err), 0, "%s", err.message);
	cr_assert_eq(fx_identity_set_claims(rec.uid, "{}", &err), 0, "%s", err.message);
	cr_assert_eq(fx_identity_lookup(rec.uid, &looked, &err), 0, "%s", err.message);
	cr_assert_str_eq(looked.custom_claims, "{}");
	payload = fresh_token_payload(rec.uid, email);
	cr_assert_null(claim_string(payload, "role"));
	cr_assert_str_eq(claim_string(payload, "sub"), rec.uid);
	json_object_put(payload);
}

Test(identity, reserved_claim_names_are_refused_and_nothing_changes)
{
	struct fx_user_record rec, looked;
	char email[128], claims[128];

	create_user("reserved", &rec, email, sizeof(email));
	cr_assert_eq(fx_identity_set_claims(rec.uid, "{\"role\":\"viewer\"}", &err), 0, "%s", err.message);
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		snprintf(claims, sizeof(claims), "{\"role\":\"admin\",\"%s\":\"x\"}", reserved[i]);
		expect_invalid(fx_identity_set_claims(rec.uid, claims, &err), "claims");
	}
	cr_assert_eq(fx_identity_lookup(rec.uid, &looked, &err), 0, "%s", err.message);
	cr_assert_str_eq(looked.custom_claims, "{\"role\":\"viewer\"}");
}

Test(identity, reserved_names_inside_a_nested_object_are_allowed)
{
	struct fx_user_record rec, looked;
	char email[128];

	create_user("nested", &rec, email, sizeof(email));
	cr_assert_eq(fx_identity_set_claims(rec.uid, "{\"app\":{\"sub\":\"x\",\"exp\":1}}", &err), 0, "%s",
		     err.message);
	cr_assert_eq(fx_identity_lookup(rec.uid, &looked, &err), 0, "%s", err.message);
	cr_assert_str_eq(looked.custom_claims, "{\"app\":{\"sub\":\"x\",\"exp\":1}}");
}

/* {"k":"vvv…"} of exactly n bytes. */
static void claims_of_length(char *out, size_t n)
{
	size_t fill = n - strlen("{\"k\":\"\"}");

	memcpy(out, "{\"k\":\"", 6);
	memset(out + 6, 'v', fill);
	memcpy(out + 6 + fill, "\"}", 3);
	cr_assert_eq(strlen(out), n);
}

Test(identity, claims_of_1000_bytes_are_kept_and_1001_bytes_refused)
{
	struct fx_user_record rec, looked;
	char email[128], claims[1100];

	create_user("size", &rec, email, sizeof(email));
	claims_of_length(claims, 1000);
	cr_assert_eq(fx_identity_set_claims(rec.uid, claims, &err), 0, "%s", err.message);
	cr_assert_eq(fx_identity_lookup(rec.uid, &looked, &err), 0, "%s", err.message);
	cr_assert_str_eq(looked.custom_claims, claims);

	claims_of_length(claims, 1001);
	expect_invalid(fx_identity_set_claims(rec.uid, claims, &err), "claims");
	cr_assert_eq(fx_identity_lookup(rec.uid, &looked, &err), 0, "%s", err.message);
	cr_assert_eq(strlen(looked.custom_claims), 1000);
}

Test(identity, claims_that_are_not_one_json_object_are_refused)
{
	const char *bad[] = {"", "[1]", "\"role\"", "null", "{", "{\"a\":1} {}", "{\"a\":1,\"a\":2}", "{'a':1}"};
	struct fx_user_record rec;
	char email[128];

	create_user("notobj", &rec, email, sizeof(email));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_invalid(fx_identity_set_claims(rec.uid, bad[i], &err), "claims");
}

Test(identity, disable_shows_in_lookup_and_enable_clears_it)
{
	struct fx_user_record rec, looked;
	char email[128];

	create_user("disable", &rec, email, sizeof(email));
	cr_assert_eq(fx_identity_set_disabled(rec.uid, true, &err), 0, "%s", err.message);
	cr_assert_eq(fx_identity_lookup(rec.uid, &looked, &err), 0, "%s", err.message);
	cr_assert(looked.disabled);
	cr_assert_eq(fx_identity_set_disabled(rec.uid, false, &err), 0, "%s", err.message);
	cr_assert_eq(fx_identity_lookup(rec.uid, &looked, &err), 0, "%s", err.message);
	cr_assert_not(looked.disabled);
}

Test(identity, revoke_sets_valid_since_to_now_in_seconds)
{
	struct fx_user_record rec, looked;
	char email[128];
	time_t before, after;

	create_user("revoke", &rec, email, sizeof(email));
	before = time(NULL);
	cr_assert_eq(fx_identity_revoke(rec.uid, &err), 0, "%s", err.message);
	after = time(NULL);
	cr_assert_eq(fx_identity_lookup(rec.uid, &looked, &err), 0, "%s", err.message);
	/* Rounded up to whole seconds, so a token issued in the revoking second is older. */
	cr_assert_geq(looked.valid_since, (int64_t)before);
	cr_assert_leq(looked.valid_since, (int64_t)after + 1);
}

Test(identity, delete_then_lookup_is_not_found)
{
	struct fx_user_record rec, looked;
	char email[128];

	create_user("delete", &rec, email, sizeof(email));
	cr_assert_eq(fx_identity_delete(rec.uid, &err), 0, "%s", err.message);
	expect_error(fx_identity_lookup(rec.uid, &looked, &err), 404, "NOT_FOUND");
	fx_err_clear(&err);
	expect_error(fx_identity_lookup_email(email, &looked, &err), 404, "NOT_FOUND");
}

Test(identity, delete_of_a_missing_user_succeeds)
{
	struct fx_user_record rec;
	char email[128];

	cr_assert_eq(fx_identity_delete("never-created-0815", &err), 0, "%s", err.message);
	create_user("delete2", &rec, email, sizeof(email));
	cr_assert_eq(fx_identity_delete(rec.uid, &err), 0, "%s", err.message);
	cr_assert_eq(fx_identity_delete(rec.uid, &err), 0, "second delete: %s", err.message);
	cr_assert(fx_err_is(&err, FX_OK), "%s", err.message);
}

Test(identity, writes_to_an_unknown_user_are_not_found)
{
	expect_error(fx_identity_set_claims("no-such-user-4712", "{\"role\":\"admin\"}", &err), 404, "NOT_FOUND");
	fx_err_clear(&err);
	expect_error(fx_identity_set_disabled("no-such-user-4712", true, &err), 404, "NOT_FOUND");
	fx_err_clear(&err);
	expect_error(fx_identity_revoke("no-such-user-4712", &err), 404, "NOT_FOUND");
}

Test(identity, a_320_byte_email_is_accepted)
{
	struct fx_user_record rec, looked;
	char email[321], local[65];
	int n;

	snprintf(local, sizeof(local), "max%d-%ld", (int)getpid(), (long)time(NULL));
	n = snprintf(email, sizeof(email), "%s", local);
	memset(email + n, 'x', 64 - (size_t)n);
	email[64] = '@';
	memset(email + 65, 'd', 320 - 65 - 4);
	memcpy(email + 316, ".com", 5);
	cr_assert_eq(strlen(email), 320);
	cr_assert_eq(fx_identity_create(email, NULL, &rec, &err), 0, "%s", err.message);
	cr_assert_eq(fx_identity_lookup_email(email, &looked, &err), 0, "%s", err.message);
	cr_assert_str_eq(looked.uid, rec.uid);
	cr_assert_str_eq(looked.email, email);
}

/* ---- against a canned upstream ---- */

Test(identity_wire, lookup_sends_the_admin_request_with_the_bearer)
{
	struct ts_request req;
	struct fx_user_record rec;
	char h[128];

	ts_reply(ts, 200, "Content-Type: application/json\r\n",
		 "{\"users\":[{\"localId\":\"u1\",\"email\":\"a@example.com\",\"emailVerified\":true,"
		 "\"validSince\":\"1700000000\",\"customAttributes\":\"{\\\"role\\\":\\\"admin\\\"}\"}]}");
	cr_assert_eq(fx_identity_lookup("u1", &rec, &err), 0, "%s", err.message);
	cr_assert(ts_last(ts, &req));
	cr_assert_str_eq(req.method, "POST");
	cr_assert_str_eq(req.path, "/v1/projects/" PROJECT "/accounts:lookup");
	cr_assert_str_eq(req.body, "{\"localId\":[\"u1\"]}");
	cr_assert_str_eq(ts_header(&req, "Authorization", h, sizeof(h)), "Bearer owner");
	cr_assert_str_eq(ts_header(&req, "Content-Type", h, sizeof(h)), "application/json");
	cr_assert(rec.email_verified);
	cr_assert_eq(rec.valid_since, 1700000000);
	cr_assert_str_eq(rec.custom_claims, "{\"role\":\"admin\"}");
	cr_assert_not(rec.can_sign_in, "no password, no provider");
}

Test(identity_wire, a_password_or_a_linked_provider_is_a_way_to_sign_in)
{
	static const char *const answers[] = {
		"{\"users\":[{\"localId\":\"u1\",\"passwordHash\":\"REDACTED\"}]}",
		"{\"users\":[{\"localId\":\"u1\",\"providerUserInfo\":[{\"providerId\":\"phone\"}]}]}",
		"{\"users\":[{\"localId\":\"u1\",\"providerUserInfo\":[]}]}",
	};
	static const bool can[] = {true, true, false};
	struct fx_user_record rec;

	for (size_t i = 0; i < sizeof(can) / sizeof(can[0]); i++) {
		ts_reply(ts, 200, "Content-Type: application/json\r\n", answers[i]);
		cr_assert_eq(fx_identity_lookup("u1", &rec, &err), 0, "%s", err.message);
		cr_assert_eq(rec.can_sign_in, can[i], "%s", answers[i]);
	}
}

Test(identity_wire, revoke_sends_valid_since_as_a_string_of_seconds)
{
	struct ts_request req;
	char expect_lo[128], expect_hi[128];
	time_t before = time(NULL), after;

	ts_reply(ts, 200, NULL, "{\"localId\":\"u1\"}");
	cr_assert_eq(fx_identity_revoke("u1", &err), 0, "%s", err.message);
	after = time(NULL);
	cr_assert(ts_last(ts, &req));
	cr_assert_str_eq(req.path, "/v1/projects/" PROJECT "/accounts:update");
	snprintf(expect_lo, sizeof(expect_lo), "{\"localId\":\"u1\",\"validSince\":\"%lld\"}", (long long)before);
	snprintf(expect_hi, sizeof(expect_hi), "{\"localId\":\"u1\",\"validSince\":\"%lld\"}", (long long)after + 1);
	cr_assert(strcmp(req.body, expect_lo) >= 0 && strcmp(req.body, expect_hi) <= 0, "body %s", req.body);
}

Test(identity_wire, set_claims_sends_the_object_as_a_json_string)
{
	struct ts_request req;

	ts_reply(ts, 200, NULL, "{\"localId\":\"u1\"}");
	cr_assert_eq(fx_identity_set_claims("u1", "{\"role\":\"a\\\"b\"}", &err), 0, "%s", err.message);
	cr_assert(ts_last(ts, &req));
	cr_assert_str_eq(req.body, "{\"localId\":\"u1\",\"customAttributes\":\"{\\\"role\\\":\\\"a\\\\\\\"b\\\"}\"}");
}

Test(identity_wire, server_errors_are_unavailable)
{
	struct fx_user_record rec;

	ts_reply(ts, 500, NULL, "{\"error\":{\"code\":500,\"message\":\"INTERNAL_ERROR\"}}");
	expect_error(fx_identity_set_disabled("u1", true, &err), 503, "UNAVAILABLE");
	cr_assert_eq(ts_count(ts), 1, "a write that reached Google is not repeated");
	fx_err_clear(&err);
	ts_reply(ts, 503, NULL, "{\"error\":{\"code\":503,\"message\":\"Service Unavailable\"}}");
	expect_error(fx_identity_lookup("u1", &rec, &err), 503, "UNAVAILABLE");
	cr_assert_gt(ts_count(ts), 2, "a lookup is retried");
}

Test(identity_wire, rate_limits_are_unavailable)
{
	ts_reply(ts, 429, NULL, "{\"error\":{\"code\":429,\"message\":\"QUOTA_EXCEEDED : Exceeded quota\"}}");
	expect_error(fx_identity_delete("u1", &err), 503, "UNAVAILABLE");
	fx_err_clear(&err);
	ts_reply(ts, 400, NULL, "{\"error\":{\"code\":400,\"message\":\"TOO_MANY_ATTEMPTS_TRY_LATER\"}}");
	expect_error(fx_identity_revoke("u1", &err), 503, "UNAVAILABLE");
}

Test(identity_wire, refused_credentials_and_bad_requests_are_internal)
{
	struct fx_user_record rec;

	ts_reply(ts, 401, NULL,
		 "{\"error\":{\"code\":401,\"message\":\"Request had invalid authentication credentials.\","
		 "\"status\":\"UNAUTHENTICATED\"}}");
	expect_error(fx_identity_lookup("u1", &rec, &err), 500, "INTERNAL");
	cr_assert(strstr(err.message, "invalid authentication credentials"), "%s", err.message);
	fx_err_clear(&err);
	ts_reply(ts, 403, NULL, "{\"error\":{\"code\":403,\"message\":\"INSUFFICIENT_PERMISSION\"}}");
	expect_error(fx_identity_set_claims("u1", "{}", &err), 500, "INTERNAL");
	fx_err_clear(&err);
	ts_reply(ts, 400, NULL,
		 "{\"error\":{\"code\":400,\"message\":\"Invalid JSON payload received. /localId must be array\","
		 "\"status\":\"INVALID_ARGUMENT\"}}");
	expect_error(fx_identity_create("a@example.com", NULL, &rec, &err), 500, "INTERNAL");
	fx_err_clear(&err);
	ts_reply(ts, 404, "Content-Type: text/html\r\n", "<html>Not Found</html>");
	expect_error(fx_identity_delete("u1", &err), 500, "INTERNAL");
}

Test(identity_wire, reasons_with_a_detail_suffix_are_recognised)
{
	ts_reply(ts, 400, NULL, "{\"error\":{\"code\":400,\"message\":\"USER_NOT_FOUND : no user record\"}}");
	expect_error(fx_identity_set_disabled("u1", true, &err), 404, "NOT_FOUND");
	fx_err_clear(&err);
	ts_reply(ts, 400, NULL, "{\"error\":{\"code\":400,\"message\":\"FORBIDDEN_CLAIM : sub\"}}");
	expect_invalid(fx_identity_set_claims("u1", "{\"x\":1}", &err), "claims");
	ts_reply(ts, 400, NULL, "{\"error\":{\"code\":400,\"message\":\"DUPLICATE_EMAIL\"}}");
	expect_error(fx_identity_create("a@example.com", NULL, &(struct fx_user_record){0}, &err), 409,
		     "ALREADY_EXISTS");
}

Test(identity_wire, malformed_or_oversized_answers_are_bad_gateway)
{
	struct fx_user_record rec;
	char body[2048];

	ts_reply(ts, 200, NULL, "<html>hello</html>");
	expect_error(fx_identity_lookup("u1", &rec, &err), 502, "UNAVAILABLE");
	fx_err_clear(&err);
	ts_reply(ts, 200, NULL, "{\"users\":[{\"localId\":\"u1\",\"validSince\":\"soon\"}]}");
	expect_error(fx_identity_lookup("u1", &rec, &err), 502, "UNAVAILABLE");
	fx_err_clear(&err);
	ts_reply(ts, 200, NULL, "{\"users\":[{\"localId\":\"someone-else\"}]}");
	expect_error(fx_identity_lookup("u1", &rec, &err), 502, "UNAVAILABLE");
	fx_err_clear(&err);
	/* A field too long for the record is an error, never a truncated copy. */
	snprintf(body, sizeof(body), "{\"users\":[{\"localId\":\"u1\",\"email\":\"%0330d@example.com\"}]}", 0);
	ts_reply(ts, 200, NULL, body);
	expect_error(fx_identity_lookup("u1", &rec, &err), 502, "UNAVAILABLE");
	cr_assert_str_eq(rec.email, "");
}

Test(identity_wire, several_accounts_for_one_email_are_internal)
{
	struct fx_user_record rec;

	ts_reply(ts, 200, NULL, "{\"users\":[{\"localId\":\"u1\"},{\"localId\":\"u2\"}]}");
	expect_error(fx_identity_lookup_email("a@example.com", &rec, &err), 500, "INTERNAL");
}

Test(identity_wire, unreachable_service_is_unavailable)
{
	struct fx_user_record rec;

	cfg.identity_url = "http://127.0.0.1:1";
	fx_config_set(&cfg);
	expect_error(fx_identity_lookup("u1", &rec, &err), 503, "UNAVAILABLE");
	fx_err_clear(&err);
	expect_error(fx_identity_delete("u1", &err), 503, "UNAVAILABLE");
}

Test(identity_wire, invalid_uids_are_refused_before_any_request)
{
	struct fx_user_record rec;
	char long_uid[130];

	memset(long_uid, 'u', 129);
	long_uid[129] = '\0';
	expect_invalid(fx_identity_lookup(NULL, &rec, &err), "uid");
	expect_invalid(fx_identity_lookup("", &rec, &err), "uid");
	expect_invalid(fx_identity_lookup(long_uid, &rec, &err), "uid");
	expect_invalid(fx_identity_set_claims("bad\xff", "{}", &err), "uid");
	expect_invalid(fx_identity_set_disabled("line\nbreak", true, &err), "uid");
	expect_invalid(fx_identity_revoke("", &err), "uid");
	expect_invalid(fx_identity_delete(long_uid, &err), "uid");
	cr_assert_eq(ts_count(ts), 0);
	long_uid[128] = '\0';
	ts_reply(ts, 200, NULL, "{}");
	expect_error(fx_identity_lookup(long_uid, &rec, &err), 404, "NOT_FOUND");
	cr_assert_eq(ts_count(ts), 1, "a 128-byte uid is sent");
}

Test(identity_wire, invalid_emails_are_refused_before_any_request)
{
	const char *bad[] = {NULL,
			     "",
			     "plain",
			     "two@at@example.com",
			     "@example.com",
			     "someone@",
			     "someone@localhost",
			     "some one@example.com",
			     "someone@example..com",
			     "someone@.example.com",
			     "someone@example.com.",
			     "some\"one@example.com",
			     "someone@exa_mple.com",
			     "zoë@example.com",
			     "x\n@example.com"};
	struct fx_user_record rec;
	char long_email[400], long_local[100];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		expect_invalid(fx_identity_create(bad[i], NULL, &rec, &err), "email");
		expect_invalid(fx_identity_lookup_email(bad[i], &rec, &err), "email");
	}
	memset(long_email, 'x', 64);
	long_email[64] = '@';
	memset(long_email + 65, 'd', 321 - 65 - 4);
	memcpy(long_email + 317, ".com", 5); /* 321 bytes */
	expect_invalid(fx_identity_create(long_email, NULL, &rec, &err), "email");
	memset(long_local, 'x', 65);
	memcpy(long_local + 65, "@example.com", 13);
	expect_invalid(fx_identity_create(long_local, NULL, &rec, &err), "email");
	cr_assert_eq(ts_count(ts), 0);
}

Test(identity_wire, invalid_display_names_are_refused_before_any_request)
{
	struct fx_user_record rec;
	char name[4 * 257 + 1] = "";

	for (int i = 0; i < 257; i++)
		strcat(name, "ä");
	expect_invalid(fx_identity_create("a@example.com", name, &rec, &err), "displayName");
	expect_invalid(fx_identity_create("a@example.com", "bad \xc3\x28 utf8", &rec, &err), "displayName");
	expect_invalid(fx_identity_create("a@example.com", "tab\there", &rec, &err), "displayName");
	cr_assert_eq(ts_count(ts), 0);
}

Test(identity_wire, oversized_claims_are_refused_before_any_request)
{
	char claims[1100];

	claims_of_length(claims, 1001);
	expect_invalid(fx_identity_set_claims("u1", claims, &err), "claims");
	expect_invalid(fx_identity_set_claims("u1", "{\"firebase\":{}}", &err), "claims");
	cr_assert_eq(ts_count(ts), 0);
}
