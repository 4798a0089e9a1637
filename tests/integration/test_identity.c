/*
 * Identity through nginx with Auth-emulator users: tokens, organizations,
 * members, roles, revocation and tenant isolation; and the request-body
 * rules of the contract on a real JSON route.
 */
#include "client.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void assert_error(struct http_resp *r, long code, const char *status)
{
	cr_assert_eq(r->status, code, "expected %ld, got %ld: %s", code, r->status, r->body);
	cr_assert_str_eq(json_str(r, "error.status"), status, "%s", r->body);
	cr_assert_not_null(json_str(r, "error.requestId"));
}

static void assert_field(struct http_resp *r, const char *field)
{
	assert_error(r, 400, "INVALID_ARGUMENT");
	cr_assert_str_eq(json_str(r, "error.details.0.field"), field, "%s", r->body);
}

/* A signed-up user who owns a new organization, with a token that carries it. */
struct org {
	struct test_user owner;
	char id[64];
};

static void make_org(struct org *o, const char *name)
{
	char body[256];
	struct http_resp *r;

	cr_assert_eq(test_user_signup(&o->owner, "owner"), 0);
	snprintf(body, sizeof(body), "{\"name\":\"%s\",\"vatNumber\":\"4123456789\"}", name);
	r = http_json("POST", "/v1/organizations", o->owner.id_token, body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	snprintf(o->id, sizeof(o->id), "%s", json_str(r, "id"));
	http_resp_free(r);
	cr_assert_eq(test_user_refresh(&o->owner), 0);
}

/* Adds a signed-up user to o with role; returns them with a fresh token. */
static void add_member(struct org *o, struct test_user *u, const char *role)
{
	char body[400];
	struct http_resp *r;

	cr_assert_eq(test_user_signup(u, role), 0);
	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"role\":\"%s\"}", u->email, role);
	r = http_json("POST", "/v1/users", o->owner.id_token, body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	cr_assert_str_eq(json_str(r, "role"), role);
	http_resp_free(r);
	cr_assert_eq(test_user_refresh(u), 0);
}

static char *org_path(const struct org *o)
{
	static __thread char path[128];

	snprintf(path, sizeof(path), "/v1/organizations/%s", o->id);
	return path;
}

Test(auth, no_token_is_401_with_www_authenticate)
{
	struct http_resp *r = http_get("/v1/users/me", NULL);

	assert_error(r, 401, "UNAUTHENTICATED");
	cr_assert_str_eq(http_header(r, "WWW-Authenticate"), "Bearer");
	http_resp_free(r);
}

Test(auth, a_garbage_token_is_401)
{
	struct http_resp *r = http_get("/v1/users/me", "not.a.token");

	assert_error(r, 401, "UNAUTHENTICATED");
	http_resp_free(r);
}

Test(auth, an_unsigned_token_for_another_project_is_401)
{
	/* {"alg":"none"} . {"aud":"other","iss":"https://securetoken.google.com/other","sub":"x",...} . */
	const char *tok = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0."
			  "eyJhdWQiOiJvdGhlciIsImlzcyI6Imh0dHBzOi8vc2VjdXJldG9rZW4uZ29vZ2xlLmNvbS9vdGhlciIsInN1YiI6Ingi"
			  "LCJpYXQiOjE3MDAwMDAwMDAsImV4cCI6NDEwMjQ0NDgwMCwiYXV0aF90aW1lIjoxNzAwMDAwMDAwfQ.";
	struct http_resp *r = http_get("/v1/users/me", tok);

	assert_error(r, 401, "UNAUTHENTICATED");
	http_resp_free(r);
}

Test(users, me_before_joining_has_no_organization)
{
	struct test_user u;
	struct http_resp *r;

	cr_assert_eq(test_user_signup(&u, "solo"), 0);
	r = http_get("/v1/users/me", u.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "id"), u.uid);
	cr_assert_str_eq(json_str(r, "email"), u.email);
	cr_assert_null(json_str(r, "organizationId"));
	cr_assert_null(json_str(r, "role"));
	http_resp_free(r);
}

Test(organizations, create_makes_the_caller_owner_after_a_token_refresh)
{
	struct test_user u;
	struct http_resp *r;
	char id[64], path[128];

	cr_assert_eq(test_user_signup(&u, "founder"), 0);
	r = http_json("POST", "/v1/organizations", u.id_token,
		      "{\"name\":\"Kasi Kicks\",\"legalName\":\"Kasi Kicks (Pty) Ltd\",\"address\":{\"line1\":\"1 Main "
		      "Rd\",\"city\":\"Soweto\",\"province\":\"Gauteng\",\"postalCode\":\"1804\"}}");
	cr_assert_eq(r->status, 201, "%s", r->body);
	snprintf(id, sizeof(id), "%s", json_str(r, "id"));
	snprintf(path, sizeof(path), "/v1/organizations/%s", id);
	cr_assert_str_eq(http_header(r, "Location"), path);
	cr_assert_str_eq(json_str(r, "currency"), "ZAR");
	cr_assert_str_eq(json_str(r, "country"), "ZA");
	cr_assert_str_eq(json_str(r, "timezone"), "Africa/Johannesburg");
	cr_assert_eq(json_int(r, "vatRateBps"), 1500);
	cr_assert_str_eq(json_str(r, "address.country"), "ZA");
	cr_assert_not_null(json_str(r, "etag"));
	cr_assert_not_null(json_str(r, "createdAt"));
	cr_assert_null(json_str(r, "ownerUid"), "server bookkeeping stays hidden");
	http_resp_free(r);

	/* The old token has no claims yet: not a member. */
	r = http_get(path, u.id_token);
	assert_error(r, 403, "PERMISSION_DENIED");
	http_resp_free(r);

	cr_assert_eq(test_user_refresh(&u), 0);
	r = http_get(path, u.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "name"), "Kasi Kicks");
	http_resp_free(r);
	r = http_get("/v1/users/me", u.id_token);
	cr_assert_str_eq(json_str(r, "role"), "owner");
	cr_assert_str_eq(json_str(r, "organizationId"), id);
	http_resp_free(r);
}

Test(organizations, one_organization_per_user)
{
	struct org o;
	struct http_resp *r;

	make_org(&o, "First");
	r = http_json("POST", "/v1/organizations", o.owner.id_token, "{\"name\":\"Second\"}");
	assert_error(r, 409, "ALREADY_EXISTS");
	http_resp_free(r);
}

Test(organizations, validation_errors_name_the_field)
{
	struct test_user u;
	struct http_resp *r;

	cr_assert_eq(test_user_signup(&u, "val"), 0);
#define CHECK(body, field)                                                    \
	do {                                                                  \
		r = http_json("POST", "/v1/organizations", u.id_token, body); \
		assert_field(r, field);                                       \
		http_resp_free(r);                                            \
	} while (0)
	CHECK("{}", "name");
	CHECK("{\"name\":\"\"}", "name");
	CHECK("{\"name\":42}", "name");
	CHECK("{\"name\":\"x\",\"organizationId\":\"evil\"}", "organizationId");
	CHECK("{\"name\":\"x\",\"vatNumber\":\"5123456789\"}", "vatNumber");
	CHECK("{\"name\":\"x\",\"vatNumber\":\"412345678\"}", "vatNumber");
	CHECK("{\"name\":\"x\",\"address\":{\"line1\":\"a\",\"city\":\"b\",\"province\":\"Atlantis\",\"postalCode\":"
	      "\"8001\"}}",
	      "address.province");
	CHECK("{\"name\":\"x\",\"address\":{\"line1\":\"a\",\"city\":\"b\",\"province\":\"Western "
	      "Cape\",\"postalCode\":\"80011\"}}",
	      "address.postalCode");
	CHECK("{\"name\":\"x\",\"address\":{\"line1\":\"a\",\"city\":\"b\",\"province\":\"Western "
	      "Cape\",\"postalCode\":\"8001\",\"planet\":\"earth\"}}",
	      "address.planet");
	CHECK("{\"name\":\"x\",\"address\":{\"city\":\"b\",\"province\":\"Western Cape\",\"postalCode\":\"8001\"}}",
	      "address.line1");
#undef CHECK
	r = http_get("/v1/users/me", u.id_token);
	cr_assert_null(json_str(r, "organizationId"), "nothing was created by the refused requests");
	http_resp_free(r);
}

Test(organizations, timezone_is_an_iana_zone_this_system_knows)
{
	static const char *const good[] = {"Africa/Johannesburg",
					   "UTC",
					   "Etc/UTC",
					   "Europe/London",
					   "America/Argentina/Buenos_Aires",
					   "America/Port-au-Prince",
					   "Etc/GMT+2",
					   "Asia/Kolkata",
					   "Pacific/Kiritimati"};
	static const char *const bad[] = {
		"Mars/Olympus",
		"Africa/Gotham",
		"africa/johannesburg",
		"AFRICA/JOHANNESBURG",
		"Africa",
		"Africa/",
		"/Africa/Johannesburg",
		"Africa//Johannesburg",
		"Africa/Johannesburg/",
		"../../../etc/passwd",
		"Africa/../Africa/Johannesburg",
		"Africa/./Johannesburg",
		"/usr/share/zoneinfo/UTC",
		"/etc/passwd",
		":Africa/Johannesburg",
		"posixrules",
		"localtime",
		"Factory",
		"posix/Africa/Johannesburg",
		"right/UTC",
		"zone.tab",
		"zone1970.tab",
		"tzdata.zi",
		"leapseconds",
		"leap-seconds.list",
		"iso3166.tab",
		"+VERSION",
		"SECURITY",
		"Etc/GMT+15",
		"EST5EDT,M3.2.0,M11.1.0",
		"<+02>-2",
		"Africa/Johannesburg\\n",
		"Africa/Johannesburg ",
		" UTC",
		"Africa\\\\Johannesburg",
		"Africa/Johannesburg\\u0000",
		".",
		"..",
		"Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"};
	struct org o;
	struct http_resp *r;
	char body[300];

	make_org(&o, "Zones");
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(body, sizeof(body), "{\"timezone\":\"%s\"}", good[i]);
		r = http_json("PATCH", org_path(&o), o.owner.id_token, body);
		cr_assert_eq(r->status, 200, "%s: %s", good[i], r->body);
		cr_assert_str_eq(json_str(r, "timezone"), good[i]);
		http_resp_free(r);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(body, sizeof(body), "{\"timezone\":\"%s\"}", bad[i]);
		r = http_json("PATCH", org_path(&o), o.owner.id_token, body);
		/* A NUL inside a string is refused by the JSON reader before any field. */
		if (strstr(bad[i], "\\u0000"))
			assert_error(r, 400, "INVALID_ARGUMENT");
		else
			assert_field(r, "timezone");
		http_resp_free(r);
	}
	r = http_get(org_path(&o), o.owner.id_token);
	cr_assert_str_eq(json_str(r, "timezone"), good[sizeof(good) / sizeof(good[0]) - 1],
			 "no refused value was written");
	http_resp_free(r);
}

Test(bodies, malformed_json_is_400_naming_the_problem)
{
	struct test_user u;
	struct http_resp *r;

	cr_assert_eq(test_user_signup(&u, "json"), 0);
	r = http_json("POST", "/v1/organizations", u.id_token, "{\"name\":\"x\"");
	assert_error(r, 400, "INVALID_ARGUMENT");
	cr_assert(strstr(json_str(r, "error.message"), "invalid JSON"), "%s", r->body);
	http_resp_free(r);
	r = http_json("POST", "/v1/organizations", u.id_token, "{\"name\":\"a\",\"name\":\"b\"}");
	assert_error(r, 400, "INVALID_ARGUMENT");
	cr_assert(strstr(json_str(r, "error.message"), "duplicate key \"name\""), "%s", r->body);
	http_resp_free(r);
	r = http_json("POST", "/v1/organizations", u.id_token, "[1,2]");
	assert_error(r, 400, "INVALID_ARGUMENT");
	http_resp_free(r);
}

Test(bodies, nesting_deeper_than_32_is_400)
{
	struct test_user u;
	struct http_resp *r;
	char body[256] = "{\"name\":\"x\",\"address\":";

	cr_assert_eq(test_user_signup(&u, "deep"), 0);
	for (int i = 0; i < 40; i++)
		strcat(body, "[");
	for (int i = 0; i < 40; i++)
		strcat(body, "]");
	strcat(body, "}");
	r = http_json("POST", "/v1/organizations", u.id_token, body);
	assert_error(r, 400, "INVALID_ARGUMENT");
	cr_assert(strstr(json_str(r, "error.message"), "nesting"), "%s", r->body);
	http_resp_free(r);
}

Test(bodies, wrong_content_type_is_415)
{
	struct test_user u;
	struct http_resp *r;

	cr_assert_eq(test_user_signup(&u, "ctype"), 0);
	r = http_do("POST", "/v1/organizations", u.id_token, "text/plain", "{\"name\":\"x\"}", 12, NULL);
	assert_error(r, 415, "INVALID_ARGUMENT");
	http_resp_free(r);
}

Test(bodies, body_over_1_mib_is_413)
{
	struct test_user u;
	struct http_resp *r;
	size_t n = 1024 * 1024 + 10;
	char *big = malloc(n);

	cr_assert_eq(test_user_signup(&u, "big"), 0);
	memset(big, ' ', n);
	memcpy(big, "{\"name\":\"x\"}", 12);
	r = http_do("POST", "/v1/organizations", u.id_token, "application/json", big, n, NULL);
	assert_error(r, 413, "INVALID_ARGUMENT");
	http_resp_free(r);
	free(big);
}

Test(organizations, patch_honours_if_match)
{
	struct org o;
	struct http_resp *r;
	char etag[128];
	const char *stale[] = {"If-Match: \"2001-01-01T00:00:00.000000Z\"", NULL};
	char match_line[160];
	const char *match[] = {match_line, NULL};

	make_org(&o, "Etag Traders");
	r = http_get(org_path(&o), o.owner.id_token);
	snprintf(etag, sizeof(etag), "%s", json_str(r, "etag"));
	http_resp_free(r);
	r = http_json_h("PATCH", org_path(&o), o.owner.id_token, "{\"name\":\"Stale\"}", stale);
	assert_error(r, 412, "FAILED_PRECONDITION");
	http_resp_free(r);
	snprintf(match_line, sizeof(match_line), "If-Match: %s", etag);
	r = http_json_h("PATCH", org_path(&o), o.owner.id_token,
			"{\"name\":\"Fresh\",\"vatRateBps\":1400,\"settings\":{\"lowStockDefault\":3}}", match);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "name"), "Fresh");
	cr_assert_eq(json_int(r, "vatRateBps"), 1400);
	cr_assert_eq(json_int(r, "settings.lowStockDefault"), 3);
	cr_assert_str_neq(json_str(r, "etag"), etag, "a change gives a new etag");
	http_resp_free(r);
	r = http_json_h("PATCH", org_path(&o), o.owner.id_token, "{\"name\":\"Again\"}", match);
	assert_error(r, 412, "FAILED_PRECONDITION");
	http_resp_free(r);
}

Test(roles, each_role_meets_its_allowed_and_forbidden_routes, .timeout = 120)
{
	static const char *const roles[] = {"viewer", "staff", "manager", "admin"};
	struct org o;

	make_org(&o, "Role Matrix");
	for (int i = 0; i < 4; i++) {
		struct test_user m;
		struct http_resp *r;
		bool admin = strcmp(roles[i], "admin") == 0;
		char body[400];

		/* Only the owner makes admins, so admins come from the owner. */
		add_member(&o, &m, roles[i]);
		r = http_get(org_path(&o), m.id_token);
		cr_assert_eq(r->status, 200, "%s reads its organization: %s", roles[i], r->body);
		http_resp_free(r);
		r = http_json("PATCH", org_path(&o), m.id_token, "{\"name\":\"Renamed\"}");
		cr_assert_eq(r->status, admin ? 200 : 403, "%s updates settings: %s", roles[i], r->body);
		http_resp_free(r);
		r = http_get("/v1/users", m.id_token);
		cr_assert_eq(r->status, admin ? 200 : 403, "%s lists members: %s", roles[i], r->body);
		http_resp_free(r);
		snprintf(body, sizeof(body), "{\"email\":\"x-%s@example.co.za\",\"role\":\"admin\"}", test_unique());
		r = http_json("POST", "/v1/users", m.id_token, body);
		cr_assert_eq(r->status, 403, "%s cannot make an admin: %s", roles[i], r->body);
		http_resp_free(r);
	}
}

Test(users, admin_adds_members_but_only_the_owner_makes_admins)
{
	struct org o;
	struct test_user admin, staff;
	struct http_resp *r;
	char body[400], path[200];

	make_org(&o, "Hierarchy");
	add_member(&o, &admin, "admin");
	cr_assert_eq(test_user_signup(&staff, "newstaff"), 0);
	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"role\":\"staff\",\"displayName\":\"Thandi\"}", staff.email);
	r = http_json("POST", "/v1/users", admin.id_token, body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	cr_assert_str_eq(json_str(r, "displayName"), "Thandi");
	http_resp_free(r);
	snprintf(path, sizeof(path), "/v1/users/%s", staff.uid);
	r = http_json("PATCH", path, admin.id_token, "{\"role\":\"admin\"}");
	assert_error(r, 403, "PERMISSION_DENIED");
	http_resp_free(r);
	r = http_json("PATCH", path, o.owner.id_token, "{\"role\":\"admin\"}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "role"), "admin");
	http_resp_free(r);
	snprintf(path, sizeof(path), "/v1/users/%s", o.owner.uid);
	r = http_json("DELETE", path, admin.id_token, NULL);
	assert_error(r, 403, "PERMISSION_DENIED");
	http_resp_free(r);
	r = http_json("PATCH", path, admin.id_token, "{\"disabled\":true}");
	assert_error(r, 403, "PERMISSION_DENIED");
	http_resp_free(r);
	r = http_json("POST", "/v1/users", o.owner.id_token, "{\"email\":\"o@example.co.za\",\"role\":\"owner\"}");
	assert_field(r, "role");
	http_resp_free(r);
}

Test(users, a_member_of_another_organization_cannot_be_added)
{
	struct org a, b;
	struct http_resp *r;
	char body[400];

	make_org(&a, "A Traders");
	make_org(&b, "B Traders");
	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"role\":\"staff\"}", b.owner.email);
	r = http_json("POST", "/v1/users", a.owner.id_token, body);
	assert_error(r, 409, "ALREADY_EXISTS");
	http_resp_free(r);
}

static long status_of(const char *path, const char *token)
{
	struct http_resp *r = http_get(path, token);
	long s = r->status;

	http_resp_free(r);
	return s;
}

Test(revocation, a_removed_member_is_refused_within_60_seconds, .timeout = 120)
{
	struct org o;
	struct test_user m;
	struct http_resp *r;
	char path[200];
	long s = 0;

	make_org(&o, "Revokers");
	add_member(&o, &m, "staff");
	cr_assert_eq(status_of(org_path(&o), m.id_token), 200);
	snprintf(path, sizeof(path), "/v1/users/%s", m.uid);
	r = http_json("DELETE", path, o.owner.id_token, NULL);
	cr_assert_eq(r->status, 204, "%s", r->body);
	http_resp_free(r);
	for (int i = 0; i < 60; i++) {
		s = status_of(org_path(&o), m.id_token);
		if (s == 403 || s == 401)
			break;
		sleep(1);
	}
	cr_assert(s == 403 || s == 401, "the removed member's still-valid token is refused (last status %ld)", s);
	r = http_get(path, o.owner.id_token);
	assert_error(r, 404, "NOT_FOUND");
	http_resp_free(r);
}

/* Member snapshots are cached per process; a change through one group reaches every other at once. */
Test(revocation, a_demotion_through_users_applies_at_once_in_other_groups)
{
	struct org o;
	struct test_user m;
	struct http_resp *r;
	char path[200];

	make_org(&o, "Demoters");
	add_member(&o, &m, "staff");
	for (int i = 0; i < 4; i++) /* every products process caches the staff member */
		cr_assert_eq(status_of("/v1/products", m.id_token), 200);
	snprintf(path, sizeof(path), "/v1/users/%s", m.uid);
	r = http_json("PATCH", path, o.owner.id_token, "{\"role\":\"viewer\"}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	http_resp_free(r);
	for (int i = 0; i < 4; i++) {
		r = http_json("POST", "/v1/products", m.id_token,
			      "{\"sku\":\"D-1\",\"name\":\"Demoted\",\"priceCents\":1}");
		assert_error(r, 403, "PERMISSION_DENIED");
		http_resp_free(r);
	}
}

Test(users, my_profile_change_is_what_every_next_read_shows)
{
	struct test_user u;
	struct http_resp *r;
	char body[64], name[16];

	cr_assert_eq(test_user_signup(&u, "reader"), 0);
	for (int round = 0; round < 3; round++) {
		snprintf(name, sizeof(name), "Name %d", round);
		snprintf(body, sizeof(body), "{\"displayName\":\"%s\"}", name);
		r = http_json("PATCH", "/v1/users/me", u.id_token, body);
		cr_assert_eq(r->status, 200, "%s", r->body);
		http_resp_free(r);
		for (int i = 0; i < 6; i++) {
			r = http_get("/v1/users/me", u.id_token);
			cr_assert_eq(r->status, 200, "%s", r->body);
			cr_assert_str_eq(json_str(r, "displayName"), name, "read %d after change %d", i, round);
			http_resp_free(r);
		}
	}
}

Test(revocation, a_disabled_member_is_refused_within_60_seconds, .timeout = 120)
{
	struct org o;
	struct test_user m;
	struct http_resp *r;
	char path[200];
	long s = 0;

	make_org(&o, "Disablers");
	add_member(&o, &m, "manager");
	snprintf(path, sizeof(path), "/v1/users/%s", m.uid);
	r = http_json("PATCH", path, o.owner.id_token, "{\"disabled\":true}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(json_object_get_boolean(json_object_object_get(r->json, "disabled")), 1);
	http_resp_free(r);
	for (int i = 0; i < 60; i++) {
		s = status_of(org_path(&o), m.id_token);
		if (s == 401)
			break;
		sleep(1);
	}
	cr_assert_eq(s, 401, "the disabled member is refused");
	cr_assert_neq(test_user_refresh(&m), 0, "and cannot refresh a token");
}

Test(isolation, users_of_one_organization_never_see_another)
{
	struct org a, b;
	struct http_resp *r;
	char path[200], bpath[128];

	make_org(&a, "Iso A");
	make_org(&b, "Iso B");
	snprintf(bpath, sizeof(bpath), "/v1/organizations/%s", b.id);
	r = http_get(bpath, a.owner.id_token);
	assert_error(r, 404, "NOT_FOUND");
	http_resp_free(r);
	r = http_json("PATCH", bpath, a.owner.id_token, "{\"name\":\"Mine\"}");
	assert_error(r, 404, "NOT_FOUND");
	http_resp_free(r);
	snprintf(path, sizeof(path), "/v1/users/%s", b.owner.uid);
	r = http_get(path, a.owner.id_token);
	assert_error(r, 404, "NOT_FOUND");
	http_resp_free(r);
	r = http_json("DELETE", path, a.owner.id_token, NULL);
	assert_error(r, 404, "NOT_FOUND");
	http_resp_free(r);
	r = http_get("/v1/users", a.owner.id_token);
	cr_assert_eq(r->status, 200);
	cr_assert_eq(json_object_array_length(json_object_object_get(r->json, "data")), 1, "%s", r->body);
	cr_assert_str_eq(json_str(r, "data.0.id"), a.owner.uid);
	http_resp_free(r);
}

Test(users, members_list_pages_with_tokens_tied_to_the_query)
{
	struct org o;
	struct test_user m[3];
	struct http_resp *r;
	char path[256];
	int seen = 0;
	static const char *const bad_sizes[] = {"0", "%202", "%2B2"};

	make_org(&o, "Pager");
	for (int i = 0; i < 3; i++)
		add_member(&o, &m[i], "viewer");
	snprintf(path, sizeof(path), "/v1/users?pageSize=2");
	for (;;) {
		r = http_get(path, o.owner.id_token);
		cr_assert_eq(r->status, 200, "%s", r->body);
		seen += (int)json_object_array_length(json_object_object_get(r->json, "data"));
		if (!json_str(r, "nextPageToken")) {
			http_resp_free(r);
			break;
		}
		snprintf(path, sizeof(path), "/v1/users?pageSize=2&pageToken=%s", json_str(r, "nextPageToken"));
		http_resp_free(r);
	}
	cr_assert_eq(seen, 4, "owner and three members, each once");
	/* Digits only, from 1: strtol let a leading space or sign through. */
	for (size_t i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
		snprintf(path, sizeof(path), "/v1/users?pageSize=%s", bad_sizes[i]);
		r = http_get(path, o.owner.id_token);
		assert_field(r, "pageSize");
		http_resp_free(r);
	}
	r = http_get("/v1/users?pageToken=bm9wZQ", o.owner.id_token);
	assert_field(r, "pageToken");
	http_resp_free(r);
	r = http_get("/v1/users?colour=red", o.owner.id_token);
	assert_field(r, "colour");
	http_resp_free(r);
}

Test(popia, export_returns_personal_data_and_erasure_removes_it)
{
	struct org o;
	struct test_user m;
	struct http_resp *r;
	char path[200];

	make_org(&o, "Privacy");
	add_member(&o, &m, "staff");
	r = http_json("PATCH", "/v1/users/me", m.id_token,
		      "{\"displayName\":\"Sipho\",\"preferences\":{\"lang\":\"zu\"}}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	http_resp_free(r);
	r = http_get("/v1/users/me/export", m.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "profile.displayName"), "Sipho");
	cr_assert_str_eq(json_str(r, "profile.preferences.lang"), "zu");
	cr_assert_str_eq(json_str(r, "account.email"), m.email);
	http_resp_free(r);
	r = http_json("DELETE", "/v1/users/me", o.owner.id_token, NULL);
	assert_error(r, 409, "FAILED_PRECONDITION");
	http_resp_free(r);
	r = http_json("DELETE", "/v1/users/me", m.id_token, NULL);
	cr_assert_eq(r->status, 204, "%s", r->body);
	http_resp_free(r);
	snprintf(path, sizeof(path), "/v1/users/%s", m.uid);
	r = http_get(path, o.owner.id_token);
	assert_error(r, 404, "NOT_FOUND");
	http_resp_free(r);
}

/* ---- revocation on every kind of route (issue 12, defect 9) ---- */

/* A request that answers 401 UNAUTHENTICATED for a token that no longer counts, whatever the route. */
struct route_kind {
	const char *method, *path, *body, *kind;
};

/* Every kind of route that takes a Firebase token, DELETE /v1/users/me last (it erases when it succeeds). */
static void expect_401_everywhere(const struct org *o, const char *token)
{
	const struct route_kind routes[] = {
		{"GET", "/v1/users/me", NULL, "signed in"},
		{"PATCH", "/v1/users/me", "{\"displayName\":\"Still Here\"}", "signed in, writes"},
		{"POST", "/v1/organizations", "{\"name\":\"Comeback Traders\"}", "signed in, creates"},
		{"GET", org_path(o), NULL, "member"},
		{"GET", "/v1/products", NULL, "member"},
		{"GET", "/v1/users", NULL, "admin"},
		{"POST", "/v1/jobs/cleanup", NULL, "job"},
		{"DELETE", "/v1/users/me", NULL, "signed in, erases"},
	};

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		struct http_resp *r = http_json(routes[i].method, routes[i].path, token, routes[i].body);

		cr_assert_eq(r->status, 401, "%s %s (%s): %ld %s", routes[i].method, routes[i].path, routes[i].kind,
			     r->status, r->body);
		cr_assert_str_eq(json_str(r, "error.status"), "UNAUTHENTICATED");
		http_resp_free(r);
	}
}

Test(revocation, a_removed_members_old_token_is_refused_on_every_route)
{
	struct org o;
	struct test_user m;
	struct http_resp *r;
	char path[200];

	make_org(&o, "Removers");
	add_member(&o, &m, "admin");
	/* Every group has seen the member's token and holds its snapshot. */
	cr_assert_eq(status_of("/v1/users/me", m.id_token), 200);
	cr_assert_eq(status_of(org_path(&o), m.id_token), 200);
	cr_assert_eq(status_of("/v1/products", m.id_token), 200);
	snprintf(path, sizeof(path), "/v1/users/%s", m.uid);
	r = http_json("DELETE", path, o.owner.id_token, NULL);
	cr_assert_eq(r->status, 204, "%s", r->body);
	http_resp_free(r);
	/* Through this container: at once, in every group. */
	expect_401_everywhere(&o, m.id_token);
	r = http_get("/v1/users", o.owner.id_token);
	cr_assert_eq(json_object_array_length(json_object_object_get(r->json, "data")), 1, "%s", r->body);
	http_resp_free(r);
}

Test(revocation, a_member_deleted_in_firebase_can_still_be_removed)
{
	struct org o;
	struct test_user m;
	struct http_resp *r;
	char path[200], body[200];

	make_org(&o, "Tidy Traders");
	add_member(&o, &m, "staff");
	snprintf(body, sizeof(body), "{\"localId\":\"%s\"}", m.uid);
	cr_assert_eq(test_auth_admin(":delete", body), 200, "deleted in the Firebase console");
	snprintf(path, sizeof(path), "/v1/users/%s", m.uid);
	r = http_json("DELETE", path, o.owner.id_token, NULL);
	cr_assert_eq(r->status, 204, "the stale profile goes: %s", r->body);
	http_resp_free(r);
	r = http_get(path, o.owner.id_token);
	assert_error(r, 404, "NOT_FOUND");
	http_resp_free(r);
}

/* Waits (on the clock, not a guess) until a session started now begins after the revocation's second. */
static void wait_past_second(time_t t)
{
	for (int i = 0; i < 60 && time(NULL) <= t; i++)
		usleep(50 * 1000);
	cr_assert_gt(time(NULL), t);
}

Test(users, a_member_leaves_and_a_new_session_has_no_organization)
{
	struct org o;
	struct test_user m;
	struct http_resp *r;
	char path[200];
	time_t left;

	make_org(&o, "Leavers");
	add_member(&o, &m, "manager");
	cr_assert_eq(status_of(org_path(&o), m.id_token), 200);
	r = http_json("POST", "/v1/users/me:leave", m.id_token, NULL);
	left = time(NULL);
	cr_assert_eq(r->status, 204, "%s", r->body);
	http_resp_free(r);
	/* Claims cleared, sessions revoked, profile removed: as a removal. */
	expect_401_everywhere(&o, m.id_token);
	snprintf(path, sizeof(path), "/v1/users/%s", m.uid);
	r = http_get(path, o.owner.id_token);
	assert_error(r, 404, "NOT_FOUND");
	http_resp_free(r);
	wait_past_second(left);
	cr_assert_eq(test_user_signin(&m), 0);
	r = http_get("/v1/users/me", m.id_token);
	cr_assert_eq(r->status, 200, "a new session works: %s", r->body);
	cr_assert_null(json_str(r, "organizationId"), "%s", r->body);
	cr_assert_null(json_str(r, "role"), "%s", r->body);
	http_resp_free(r);
	r = http_get(org_path(&o), m.id_token);
	assert_error(r, 403, "PERMISSION_DENIED");
	http_resp_free(r);
	/* Free to found their own. */
	r = http_json("POST", "/v1/organizations", m.id_token, "{\"name\":\"Next Venture\"}");
	cr_assert_eq(r->status, 201, "%s", r->body);
	http_resp_free(r);
}

Test(users, the_owner_cannot_leave_and_a_non_member_has_nothing_to_leave)
{
	struct org o;
	struct test_user u;
	struct http_resp *r;

	make_org(&o, "Stayers");
	r = http_json("POST", "/v1/users/me:leave", o.owner.id_token, NULL);
	assert_error(r, 409, "FAILED_PRECONDITION");
	cr_assert(strstr(json_str(r, "error.message"), "owner"), "%s", r->body);
	http_resp_free(r);
	cr_assert_eq(status_of(org_path(&o), o.owner.id_token), 200, "the owner is still in");
	cr_assert_eq(test_user_signup(&u, "loner"), 0);
	r = http_json("POST", "/v1/users/me:leave", u.id_token, NULL);
	assert_error(r, 403, "PERMISSION_DENIED");
	http_resp_free(r);
}

/* ---- invitations (issue 12, defect 4) ---- */

Test(users, an_unverified_account_is_not_adopted_by_an_invitation)
{
	struct org o;
	struct test_user squatter;
	struct http_resp *r;
	char body[400], path[200];

	make_org(&o, "Hijack Targets");
	/* Someone signed up with the invitee's address without being able to verify it. */
	cr_assert_eq(test_user_signup_unverified(&squatter, "alice"), 0);
	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"role\":\"admin\"}", squatter.email);
	r = http_json("POST", "/v1/users", o.owner.id_token, body);
	assert_error(r, 409, "FAILED_PRECONDITION");
	cr_assert(strstr(json_str(r, "error.message"), "verified"), "the answer says why: %s", r->body);
	http_resp_free(r);
	snprintf(path, sizeof(path), "/v1/users/%s", squatter.uid);
	r = http_get(path, o.owner.id_token);
	assert_error(r, 404, "NOT_FOUND");
	http_resp_free(r);
	cr_assert_eq(test_user_refresh(&squatter), 0);
	r = http_get("/v1/users/me", squatter.id_token);
	cr_assert_null(json_str(r, "organizationId"), "no claims, no profile: %s", r->body);
	http_resp_free(r);
	cr_assert_eq(status_of(org_path(&o), squatter.id_token), 403);

	/* Once the address is proven, the same invitation adopts the account. */
	snprintf(body, sizeof(body), "{\"localId\":\"%s\",\"emailVerified\":true}", squatter.uid);
	cr_assert_eq(test_auth_admin(":update", body), 200);
	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"role\":\"staff\"}", squatter.email);
	r = http_json("POST", "/v1/users", o.owner.id_token, body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	cr_assert_str_eq(json_str(r, "id"), squatter.uid);
	http_resp_free(r);
}

Test(users, an_invitation_for_a_new_address_creates_the_account)
{
	struct org o;
	struct http_resp *r;
	char body[400], path[200], id[129];

	make_org(&o, "Recruiters");
	snprintf(body, sizeof(body), "{\"email\":\"newhire-%s@example.co.za\",\"role\":\"staff\"}", test_unique());
	r = http_json("POST", "/v1/users", o.owner.id_token, body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	snprintf(id, sizeof(id), "%s", json_str(r, "id"));
	cr_assert_str_eq(json_str(r, "role"), "staff");
	http_resp_free(r);
	snprintf(path, sizeof(path), "/v1/users/%s", id);
	cr_assert_eq(status_of(path, o.owner.id_token), 200);
}

/* accounts:lookup at the Auth emulator, as the Admin SDK would ask it. */
static struct http_resp *auth_lookup(const char *body)
{
	const char *h[] = {"Content-Type: application/json", "Authorization: Bearer owner", NULL};
	char url[512];

	snprintf(url, sizeof(url),
		 "http://127.0.0.1:%s/identitytoolkit.googleapis.com/v1/projects/demo-fluxori/accounts:lookup",
		 test_env("FLUXORI_AUTH_PORT"));
	return http_url("POST", url, h, body, strlen(body));
}

/*
 * The 400 for an invitation's display name names the contract's field,
 * displayName: a control character in it was refused by lib/identity.c
 * under its own name, display_name, which the client never sent. Nothing is
 * created: the invited address has no account afterwards.
 */
Test(users, an_invalid_display_name_is_refused_naming_display_name)
{
	static const char *const names[] = {"a\\u0001b", "tab\\u0009in", "del\\u007f"};
	struct org o;

	make_org(&o, "Names");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char body[400], lookup[300];
		struct http_resp *r;

		snprintf(body, sizeof(body),
			 "{\"email\":\"named%zu-%s@example.co.za\",\"role\":\"staff\",\"displayName\":\"%s\"}", i,
			 test_unique(), names[i]);
		r = http_json("POST", "/v1/users", o.owner.id_token, body);
		assert_field(r, "displayName");
		http_resp_free(r);
		snprintf(lookup, sizeof(lookup), "{\"email\":[\"named%zu-%s@example.co.za\"]}", i, test_unique());
		r = auth_lookup(lookup);
		cr_assert_eq(r->status, 200, "%s", r->body);
		cr_assert_null(json_object_object_get(r->json, "users"), "no account was created: %s", r->body);
		http_resp_free(r);
	}
}

/*
 * A preference whose number does not fit in 64 bits was refused naming the
 * field "(top)", a name the contract does not have (found by the route
 * fuzzer's field check). The error names the preference, and nothing is
 * written.
 */
Test(users, a_preference_out_of_range_is_refused_naming_the_preference)
{
	static const char *const numbers[] = {"9223372036854775808", "-9223372036854775809",
					      "123456789012345678901234567890123456789"};
	struct org o;

	make_org(&o, "Prefs");
	for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
		char body[200];
		struct http_resp *r;

		snprintf(body, sizeof(body), "{\"preferences\":{\"theme\":\"dark\",\"pageSize\":%s}}", numbers[i]);
		r = http_json("PATCH", "/v1/users/me", o.owner.id_token, body);
		assert_field(r, "preferences.pageSize");
		http_resp_free(r);
		r = http_get("/v1/users/me", o.owner.id_token);
		cr_assert_eq(r->status, 200, "%s", r->body);
		cr_assert_null(json_object_object_get(json_object_object_get(r->json, "preferences"), "theme"),
			       "nothing was written: %s", r->body);
		http_resp_free(r);
	}
}
