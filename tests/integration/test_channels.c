/*
 * Channels and listings through nginx: each type created with its
 * settings, secrets never in an answer, in Firestore's plain text or in the
 * workers' logs; settings refused per type naming the field; local
 * addresses refused (fx_egress) for the real target even in a demo
 * project; roles (viewer reads, manager lists, admin connects); another
 * organization's channel is 404; listing uniqueness both ways and
 * a delete that frees both keys; PATCH with If-Match; DELETE refused while
 * listings exist; racing listing creates make one listing per key;
 * settings.baseUrl refused by an instance whose project is not demo-*;
 * :test against the fake channel server (ok, refused,
 * unreachable), storing nothing. Stored state is read from the Firestore emulator
 * directly (audit.h), not through the API under test.
 */
#include "audit.h"
#include "client.h"
#include "fakechannel.h"
#include "instance.h"
#include "testjwt.h"
#include "testserver.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Secrets the tests send; each must never come back or reach a log. */
#define SHOPIFY_TOKEN "shpat_t0ken5ecretAAAA9f3e"
#define WOO_KEY "ck_c0nsumerKeyBBBB71c2"
#define WOO_SECRET "cs_c0nsumer5ecretCCCC5d0e"
#define TAKEALOT_KEY "tk_ap1KeyDDDD8b4a\xc3\xa9\xc3\xa9\xc3\xa9"
#define HOOK_SECRET "whsec_h00kEEEE3c2b"

struct tenant {
	struct test_user owner;
	char org[128];
};

static void assert_error(struct http_resp *r, long code, const char *status, const char *field)
{
	cr_assert_eq(r->status, code, "expected %ld, got %ld: %s", code, r->status, r->body);
	cr_assert_str_eq(json_str(r, "error.status"), status, "%s", r->body);
	if (field)
		cr_assert_str_eq(json_str(r, "error.details.0.field"), field, "%s", r->body);
}

static void add_member(const struct tenant *t, struct test_user *u, const char *role)
{
	char body[600];
	struct http_resp *r;

	cr_assert_eq(test_user_signup(u, role), 0);
	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"role\":\"%s\"}", u->email, role);
	r = http_json("POST", "/v1/users", t->owner.id_token, body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	http_resp_free(r);
	cr_assert_eq(test_user_refresh(u), 0);
}

static void tenant_new(struct tenant *t, const char *prefix)
{
	test_owner_signup(&t->owner, prefix, "Channel Traders", t->org, sizeof(t->org));
}

/* No secret the tests send appears in the answer. */
static void assert_no_secret(const struct http_resp *r)
{
	static const char *const secrets[] = {SHOPIFY_TOKEN, WOO_KEY, WOO_SECRET, TAKEALOT_KEY, HOOK_SECRET, NULL};

	for (size_t i = 0; secrets[i]; i++)
		cr_assert_null(strstr(r->body ? r->body : "", secrets[i]), "a secret in the answer: %s", r->body);
	cr_assert_null(strstr(r->body ? r->body : "", "sealed"), "sealed values in the answer: %s", r->body);
}

/* POST /v1/channels with body as token; the new id goes to id (when 201). */
static struct http_resp *create_channel(const char *token, const char *body, char *id, size_t id_len)
{
	struct http_resp *r = http_json("POST", "/v1/channels", token, body);

	if (r->status == 201 && id)
		snprintf(id, id_len, "%s", json_str(r, "id"));
	return r;
}

/* A takealot channel pointed at a local address (demo project): its id into id. */
static void takealot_channel(const struct tenant *t, char *id, size_t id_len)
{
	struct http_resp *r =
		create_channel(t->owner.id_token,
			       "{\"type\":\"takealot\",\"name\":\"Takealot\",\"settings\":{\"baseUrl\":"
			       "\"http://127.0.0.1:9\"},\"credentials\":{\"apiKey\":\"" TAKEALOT_KEY "\"}}",
			       id, id_len);

	cr_assert_eq(r->status, 201, "%s", r->body);
	http_resp_free(r);
}

static void product(const struct tenant *t, const char *sku, char *id, size_t id_len)
{
	char body[200];

	snprintf(body, sizeof(body), "{\"sku\":\"%s-%s\",\"name\":\"Mug %s\",\"priceCents\":14999}", sku, test_unique(),
		 sku);
	test_product_stocked(t->owner.id_token, body, 5, id, id_len);
}

static struct http_resp *create_listing(const char *token, const char *cid, const char *pid, const char *external)
{
	char path[512], body[600];

	snprintf(path, sizeof(path), "/v1/channels/%s/listings", cid);
	snprintf(body, sizeof(body), "{\"productId\":\"%s\",\"externalId\":\"%s\"}", pid, external);
	return http_json("POST", path, token, body);
}

Test(channels, creates_each_type_with_its_settings_and_shows_only_the_last_four, .timeout = 120)
{
	struct tenant t;
	struct http_resp *r;
	char id[64], path[512], want[512];
	json_object *doc, *hook;

	tenant_new(&t, "chcreate");
	r = create_channel(t.owner.id_token,
			   "{\"type\":\"shopify\",\"name\":\"My Shopify\",\"settings\":{\"shopDomain\":\"Kaapse-"
			   "Mugs.myshopify.com\",\"locationId\":\"42\",\"bufferDefault\":2,\"baseUrl\":\"http://"
			   "127.0.0.1:9\"},\"credentials\":{\"accessToken\":\"" SHOPIFY_TOKEN
			   "\"},\"webhookSecret\":\"" HOOK_SECRET "\"}",
			   id, sizeof(id));
	cr_assert_eq(r->status, 201, "%s", r->body);
	assert_no_secret(r);
	snprintf(want, sizeof(want), "/v1/channels/%s", id);
	cr_assert_str_eq(http_header(r, "Location"), want);
	cr_assert_str_eq(json_str(r, "type"), "shopify");
	cr_assert_str_eq(json_str(r, "status"), "active");
	cr_assert_str_eq(json_str(r, "settings.shopDomain"), "kaapse-mugs.myshopify.com");
	cr_assert_str_eq(json_str(r, "settings.locationId"), "gid://shopify/Location/42");
	cr_assert_eq(json_int(r, "settings.bufferDefault"), 2);
	cr_assert_str_eq(json_str(r, "credentialsLast4"), "9f3e");
	cr_assert_eq(json_int(r, "counts.listings"), 0);
	cr_assert_not_null(json_str(r, "etag"));
	cr_assert_not_null(strstr(r->body, "\"credentialsSet\":true"), "%s", r->body);
	cr_assert_not_null(strstr(r->body, "\"webhookSecretSet\":true"), "%s", r->body);
	snprintf(want, sizeof(want), "/v1/channels/%s/webhooks", id);
	cr_assert_not_null(json_str(r, "webhookUrl"), "%s", r->body);
	cr_assert(strncmp(json_str(r, "webhookUrl"), "http", 4) == 0, "%s", r->body);
	cr_assert_not_null(strstr(json_str(r, "webhookUrl"), want), "%s", r->body);
	http_resp_free(r);

	/* Stored sealed, with the hook document naming the organization. */
	snprintf(path, sizeof(path), "organizations/%s/channels/%s", t.org, id);
	doc = fs_read(path);
	cr_assert_not_null(doc);
	cr_assert_not_null(fs_str(doc, "sealed.credentials"));
	cr_assert_not_null(fs_str(doc, "sealed.webhookSecret"));
	cr_assert_null(strstr(json_object_to_json_string(doc), "t0ken5ecret"), "plain text stored");
	cr_assert_null(strstr(json_object_to_json_string(doc), "h00kEEEE"), "plain text stored");
	json_object_put(doc);
	snprintf(path, sizeof(path), "channelHooks/%s", id);
	hook = fs_read(path);
	cr_assert_not_null(hook, "no channelHooks document");
	cr_assert_str_eq(fs_str(hook, "organizationId"), t.org);
	json_object_put(hook);

	r = create_channel(
		t.owner.id_token,
		"{\"type\":\"woocommerce\",\"name\":\"Woo\",\"settings\":{\"siteUrl\":\"https://shop.example."
		"co.za/\",\"baseUrl\":\"http://127.0.0.1:9\"},\"credentials\":{\"consumerKey\":\"" WOO_KEY
		"\",\"consumerSecret\":\"" WOO_SECRET "\"}}",
		id, sizeof(id));
	cr_assert_eq(r->status, 201, "%s", r->body);
	assert_no_secret(r);
	cr_assert_str_eq(json_str(r, "settings.siteUrl"), "https://shop.example.co.za");
	cr_assert_str_eq(json_str(r, "credentialsLast4"), "5d0e");
	cr_assert_not_null(strstr(r->body, "\"webhookSecretSet\":false"), "%s", r->body);
	http_resp_free(r);

	takealot_channel(&t, id, sizeof(id));
	snprintf(path, sizeof(path), "/v1/channels/%s", id);
	r = http_get(path, t.owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	assert_no_secret(r);
	cr_assert_str_eq(json_str(r, "credentialsLast4"), "a\xc3\xa9\xc3\xa9\xc3\xa9", "four characters, not bytes");
	http_resp_free(r);

	r = http_get("/v1/channels", t.owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	assert_no_secret(r);
	cr_assert_eq(json_object_array_length(json_object_object_get(r->json, "data")), 3, "%s", r->body);
	http_resp_free(r);
	r = http_get("/v1/channels?pageSize=2", t.owner.id_token);
	cr_assert_eq(json_object_array_length(json_object_object_get(r->json, "data")), 2, "%s", r->body);
	cr_assert_not_null(json_str(r, "nextPageToken"), "%s", r->body);
	snprintf(path, sizeof(path), "/v1/channels?pageSize=2&pageToken=%s", json_str(r, "nextPageToken"));
	http_resp_free(r);
	r = http_get(path, t.owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(json_object_array_length(json_object_object_get(r->json, "data")), 1, "%s", r->body);
	cr_assert_null(json_str(r, "nextPageToken"), "%s", r->body);
	http_resp_free(r);

	/* The workers' logs never hold a secret either: the log is where grep looks (it names the channel)... */
	cr_assert_eq(test_sh("grep -q -F 'channel %s (takealot) created' \"$FLUXORI_TEST_RUN/workers.log\"", id), 0,
		     "the workers' log is not where the test looks");
	/* ...and none of the secrets (grep exits 1 when nothing matches). */
	cr_assert_eq(test_sh("grep -r -F -e '" SHOPIFY_TOKEN "' -e '" WOO_SECRET "' -e '" WOO_KEY "' -e '" HOOK_SECRET
			     "' -e 'tk_ap1KeyDDDD' \"$FLUXORI_TEST_RUN\" --include='*.log'; test $? -eq 1"),
		     0, "a secret reached a log file");
}

Test(channels, refuses_bad_settings_per_type_naming_the_field, .timeout = 60)
{
	static const struct {
		const char *body, *field;
	} bad[] = {
		{"{\"type\":\"shopify\",\"name\":\"S\",\"settings\":{\"shopDomain\":\"shop.example.com\","
		 "\"locationId\":\"1\"},"
		 "\"credentials\":{\"accessToken\":\"" SHOPIFY_TOKEN "\"}}",
		 "settings.shopDomain"},
		{"{\"type\":\"shopify\",\"name\":\"S\",\"settings\":{\"shopDomain\":\"https://a.myshopify.com\","
		 "\"locationId\":\"1\"},\"credentials\":{\"accessToken\":\"" SHOPIFY_TOKEN "\"}}",
		 "settings.shopDomain"},
		{"{\"type\":\"woocommerce\",\"name\":\"W\",\"settings\":{\"siteUrl\":\"http://shop.example.com\"},"
		 "\"credentials\":{\"consumerKey\":\"" WOO_KEY "\",\"consumerSecret\":\"" WOO_SECRET "\"}}",
		 "settings.siteUrl"},
		{"{\"type\":\"woocommerce\",\"name\":\"W\",\"settings\":{\"siteUrl\":\"https://shop.example.com\"},"
		 "\"credentials\":{\"consumerKey\":\"" WOO_KEY "\"}}",
		 "credentials.consumerSecret"},
		{"{\"type\":\"takealot\",\"name\":\"T\",\"settings\":{\"merchantWarehouseId\":\"abc\"},"
		 "\"credentials\":{\"apiKey\":\"" TAKEALOT_KEY "\"}}",
		 "settings.merchantWarehouseId"},
		{"{\"type\":\"takealot\",\"name\":\"T\",\"settings\":{\"shopDomain\":\"a.myshopify.com\"},"
		 "\"credentials\":{\"apiKey\":\"" TAKEALOT_KEY "\"}}",
		 "settings.shopDomain"},
		{"{\"type\":\"takealot\",\"name\":\"T\",\"settings\":{\"bufferDefault\":1000001},"
		 "\"credentials\":{\"apiKey\":\"" TAKEALOT_KEY "\"}}",
		 "settings.bufferDefault"},
		{"{\"type\":\"takealot\",\"name\":\"\",\"settings\":{},\"credentials\":{\"apiKey\":\"" TAKEALOT_KEY
		 "\"}}",
		 "name"},
		{"{\"type\":\"amazon\",\"name\":\"A\",\"settings\":{},\"credentials\":{}}", "type"},
		{"{\"type\":\"takealot\",\"name\":\"T\",\"settings\":{},\"credentials\":{\"apiKey\":\"" TAKEALOT_KEY
		 "\"},\"status\":\"active\"}",
		 "status"},
		/* The real target of a demo project's channel is checked too: loopback, metadata, private. */
		{"{\"type\":\"woocommerce\",\"name\":\"W\",\"settings\":{\"siteUrl\":\"https://127.0.0.1:8443\"},"
		 "\"credentials\":{\"consumerKey\":\"" WOO_KEY "\",\"consumerSecret\":\"" WOO_SECRET "\"}}",
		 "settings.siteUrl"},
		{"{\"type\":\"woocommerce\",\"name\":\"W\",\"settings\":{\"siteUrl\":\"https://169.254.169.254\"},"
		 "\"credentials\":{\"consumerKey\":\"" WOO_KEY "\",\"consumerSecret\":\"" WOO_SECRET "\"}}",
		 "settings.siteUrl"},
		{"{\"type\":\"woocommerce\",\"name\":\"W\",\"settings\":{\"siteUrl\":\"https://10.1.2.3\"},"
		 "\"credentials\":{\"consumerKey\":\"" WOO_KEY "\",\"consumerSecret\":\"" WOO_SECRET "\"}}",
		 "settings.siteUrl"},
	};
	struct tenant t;
	struct http_resp *r;
	json_object *all;
	char path[512];

	tenant_new(&t, "chbad");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = create_channel(t.owner.id_token, bad[i].body, NULL, 0);
		assert_error(r, 400, "INVALID_ARGUMENT", bad[i].field);
		assert_no_secret(r);
		http_resp_free(r);
	}
	snprintf(path, sizeof(path), "organizations/%s/channels", t.org);
	all = fs_list(path);
	cr_assert_eq(json_object_array_length(all), 0, "nothing written: %s", json_object_to_json_string(all));
	json_object_put(all);
}

Test(channels, roles_viewer_reads_manager_lists_admin_connects, .timeout = 120)
{
	struct tenant t;
	struct test_user viewer, manager, admin;
	struct http_resp *r;
	char cid[64], pid[64], path[512], lid[64];

	tenant_new(&t, "chroles");
	add_member(&t, &viewer, "viewer");
	add_member(&t, &manager, "manager");
	add_member(&t, &admin, "admin");
	takealot_channel(&t, cid, sizeof(cid));
	product(&t, "ROLE", pid, sizeof(pid));

	r = create_channel(
		manager.id_token,
		"{\"type\":\"takealot\",\"name\":\"T\",\"settings\":{},\"credentials\":{\"apiKey\":\"" TAKEALOT_KEY
		"\"}}",
		NULL, 0);
	assert_error(r, 403, "PERMISSION_DENIED", NULL);
	http_resp_free(r);
	r = create_channel(
		admin.id_token,
		"{\"type\":\"takealot\",\"name\":\"T2\",\"settings\":{},\"credentials\":{\"apiKey\":\"" TAKEALOT_KEY
		"\"}}",
		NULL, 0);
	cr_assert_eq(r->status, 201, "an admin connects: %s", r->body);
	http_resp_free(r);
	snprintf(path, sizeof(path), "/v1/channels/%s", cid);
	r = http_json("PATCH", path, manager.id_token, "{\"name\":\"x\"}");
	assert_error(r, 403, "PERMISSION_DENIED", NULL);
	http_resp_free(r);
	r = http_do("DELETE", path, viewer.id_token, NULL, NULL, 0, NULL);
	assert_error(r, 403, "PERMISSION_DENIED", NULL);
	http_resp_free(r);
	snprintf(path, sizeof(path), "/v1/channels/%s:test", cid);
	r = http_json("POST", path, manager.id_token, NULL);
	assert_error(r, 403, "PERMISSION_DENIED", NULL);
	http_resp_free(r);

	r = create_listing(viewer.id_token, cid, pid, "1001");
	assert_error(r, 403, "PERMISSION_DENIED", NULL);
	http_resp_free(r);
	r = create_listing(manager.id_token, cid, pid, "1001");
	cr_assert_eq(r->status, 201, "a manager lists: %s", r->body);
	snprintf(lid, sizeof(lid), "%s", json_str(r, "id"));
	http_resp_free(r);

	snprintf(path, sizeof(path), "/v1/channels/%s", cid);
	r = http_get(path, viewer.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	assert_no_secret(r);
	http_resp_free(r);
	snprintf(path, sizeof(path), "/v1/channels/%s/listings", cid);
	r = http_get(path, viewer.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(json_object_array_length(json_object_object_get(r->json, "data")), 1, "%s", r->body);
	http_resp_free(r);
	snprintf(path, sizeof(path), "/v1/channels/%s/listings/%s", cid, lid);
	r = http_do("DELETE", path, viewer.id_token, NULL, NULL, 0, NULL);
	assert_error(r, 403, "PERMISSION_DENIED", NULL);
	http_resp_free(r);
	r = http_do("DELETE", path, manager.id_token, NULL, NULL, 0, NULL);
	cr_assert_eq(r->status, 204, "%s", r->body);
	http_resp_free(r);
}

Test(channels, another_organizations_channel_is_not_found, .timeout = 120)
{
	struct tenant a, b;
	struct http_resp *r;
	char cid[64], pid[64], path[512];
	json_object *doc;

	tenant_new(&a, "chorga");
	tenant_new(&b, "chorgb");
	takealot_channel(&a, cid, sizeof(cid));
	product(&b, "OTHER", pid, sizeof(pid));

	snprintf(path, sizeof(path), "/v1/channels/%s", cid);
	r = http_get(path, b.owner.id_token);
	assert_error(r, 404, "NOT_FOUND", NULL);
	http_resp_free(r);
	r = http_json("PATCH", path, b.owner.id_token, "{\"name\":\"mine now\"}");
	assert_error(r, 404, "NOT_FOUND", NULL);
	http_resp_free(r);
	r = http_do("DELETE", path, b.owner.id_token, NULL, NULL, 0, NULL);
	assert_error(r, 404, "NOT_FOUND", NULL);
	http_resp_free(r);
	snprintf(path, sizeof(path), "/v1/channels/%s:test", cid);
	r = http_json("POST", path, b.owner.id_token, NULL);
	assert_error(r, 404, "NOT_FOUND", NULL);
	http_resp_free(r);
	snprintf(path, sizeof(path), "/v1/channels/%s/listings", cid);
	r = http_get(path, b.owner.id_token);
	assert_error(r, 404, "NOT_FOUND", NULL);
	http_resp_free(r);
	r = create_listing(b.owner.id_token, cid, pid, "77");
	assert_error(r, 404, "NOT_FOUND", NULL);
	http_resp_free(r);
	r = http_get("/v1/channels", b.owner.id_token);
	cr_assert_eq(json_object_array_length(json_object_object_get(r->json, "data")), 0, "%s", r->body);
	http_resp_free(r);

	snprintf(path, sizeof(path), "organizations/%s/channels/%s", a.org, cid);
	doc = fs_read(path);
	cr_assert_not_null(doc);
	cr_assert_str_eq(fs_str(doc, "name"), "Takealot", "unchanged");
	cr_assert_eq(fs_int(doc, "counts.listings"), 0);
	json_object_put(doc);
}

/* The number of outbox stock entries for product pid. */
static size_t outbox_entries(const struct tenant *t, const char *pid)
{
	char path[512];
	json_object *all;
	size_t n = 0;

	snprintf(path, sizeof(path), "organizations/%s/outbox", t->org);
	all = fs_list(path);
	for (size_t i = 0; i < json_object_array_length(all); i++) {
		json_object *d = json_object_array_get_idx(all, i);
		const char *res = fs_str(d, "resource"), *kind = fs_str(d, "kind");

		if (res && kind && strcmp(res, pid) == 0 && strcmp(kind, "stock") == 0)
			n++;
	}
	json_object_put(all);
	return n;
}

/* The product's stored listings refs as JSON text ("" when none). */
static void product_refs(const struct tenant *t, const char *pid, char *out, size_t len)
{
	char path[512];
	json_object *doc, *refs;

	snprintf(path, sizeof(path), "organizations/%s/products/%s", t->org, pid);
	doc = fs_read(path);
	cr_assert_not_null(doc);
	refs = fs_field(doc, "listings");
	snprintf(out, len, "%s", refs ? json_object_to_json_string_ext(refs, JSON_C_TO_STRING_NOSLASHESCAPE) : "");
	json_object_put(doc);
}

Test(listings, are_unique_per_product_and_external_id_and_a_delete_frees_both, .timeout = 120)
{
	struct tenant t;
	struct http_resp *r;
	char cid[64], p1[64], p2[64], lid[64], path[512], refs[512], want[512];
	size_t before;

	tenant_new(&t, "chlist");
	takealot_channel(&t, cid, sizeof(cid));
	product(&t, "ONE", p1, sizeof(p1));
	product(&t, "TWO", p2, sizeof(p2));
	before = outbox_entries(&t, p1);

	r = create_listing(t.owner.id_token, cid, p1, "91625331");
	cr_assert_eq(r->status, 201, "%s", r->body);
	snprintf(lid, sizeof(lid), "%s", json_str(r, "id"));
	snprintf(want, sizeof(want), "/v1/channels/%s/listings/%s", cid, lid);
	cr_assert_str_eq(http_header(r, "Location"), want);
	cr_assert_str_eq(json_str(r, "productId"), p1);
	cr_assert_str_eq(json_str(r, "externalId"), "91625331");
	cr_assert_str_eq(json_str(r, "status"), "pending");
	cr_assert_not_null(json_str(r, "sku"), "%s", r->body);
	cr_assert_null(strstr(r->body, "organizationId"), "%s", r->body);
	http_resp_free(r);
	cr_assert_eq(outbox_entries(&t, p1), before + 1, "the first push is owed");
	product_refs(&t, p1, refs, sizeof(refs));
	snprintf(want, sizeof(want), "\"%s/%s\"", cid, lid);
	cr_assert_not_null(strstr(refs, want), "product listings %s", refs);
	snprintf(path, sizeof(path), "/v1/channels/%s", cid);
	r = http_get(path, t.owner.id_token);
	cr_assert_eq(json_int(r, "counts.listings"), 1, "%s", r->body);
	/* The count is a transform on the channel, which keeps every other field. */
	cr_assert_str_eq(json_str(r, "name"), "Takealot", "%s", r->body);
	cr_assert_str_eq(json_str(r, "settings.baseUrl"), "http://127.0.0.1:9", "%s", r->body);
	cr_assert_eq(json_int(r, "counts.ordersImported"), 0, "%s", r->body);
	cr_assert_not_null(strstr(r->body, "\"credentialsSet\":true"), "%s", r->body);
	http_resp_free(r);
	snprintf(path, sizeof(path), "/v1/products/%s", p1);
	r = http_get(path, t.owner.id_token);
	cr_assert_null(strstr(r->body, "listings"), "not API output: %s", r->body);
	http_resp_free(r);

	r = create_listing(t.owner.id_token, cid, p1, "91625332");
	assert_error(r, 409, "ALREADY_EXISTS", "productId");
	http_resp_free(r);
	r = create_listing(t.owner.id_token, cid, p2, "91625331");
	assert_error(r, 409, "ALREADY_EXISTS", "externalId");
	http_resp_free(r);
	r = create_listing(t.owner.id_token, cid, "NoSuchProduct1234567", "91625339");
	assert_error(r, 400, "INVALID_ARGUMENT", "productId");
	http_resp_free(r);
	snprintf(path, sizeof(path), "/v1/channels/%s/listings", cid);
	r = http_json("POST", path, t.owner.id_token, "{\"productId\":\"x\",\"externalId\":\"1\",\"stock\":3}");
	assert_error(r, 400, "INVALID_ARGUMENT", "stock");
	http_resp_free(r);

	/* A channel with listings is not deleted. */
	snprintf(path, sizeof(path), "/v1/channels/%s", cid);
	r = http_do("DELETE", path, t.owner.id_token, NULL, NULL, 0, NULL);
	assert_error(r, 409, "FAILED_PRECONDITION", "listings");
	http_resp_free(r);

	snprintf(path, sizeof(path), "/v1/channels/%s/listings/%s", cid, lid);
	r = http_do("DELETE", path, t.owner.id_token, NULL, NULL, 0, NULL);
	cr_assert_eq(r->status, 204, "%s", r->body);
	http_resp_free(r);
	r = http_get(path, t.owner.id_token);
	assert_error(r, 404, "NOT_FOUND", NULL);
	http_resp_free(r);
	product_refs(&t, p1, refs, sizeof(refs));
	cr_assert_null(strstr(refs, lid), "product listings still %s", refs);

	/* Both keys are free again: the product elsewhere, the external id for another product. */
	r = create_listing(t.owner.id_token, cid, p1, "91625333");
	cr_assert_eq(r->status, 201, "%s", r->body);
	http_resp_free(r);
	r = create_listing(t.owner.id_token, cid, p2, "91625331");
	cr_assert_eq(r->status, 201, "%s", r->body);
	http_resp_free(r);
	snprintf(path, sizeof(path), "/v1/channels/%s", cid);
	r = http_get(path, t.owner.id_token);
	cr_assert_eq(json_int(r, "counts.listings"), 2, "%s", r->body);
	http_resp_free(r);
}

/* A channel of type ("shopify" or "woocommerce") pointed at a local address: its id into id. */
static void typed_channel(const struct tenant *t, const char *type, char *id, size_t id_len)
{
	char body[600];
	struct http_resp *r;

	if (strcmp(type, "shopify") == 0)
		snprintf(body, sizeof(body),
			 "{\"type\":\"shopify\",\"name\":\"Shop\",\"settings\":{\"shopDomain\":\"key-mugs.myshopify."
			 "com\",\"locationId\":\"42\",\"baseUrl\":\"http://127.0.0.1:9\"},\"credentials\":{"
			 "\"accessToken\":\"" SHOPIFY_TOKEN "\"}}");
	else
		snprintf(body, sizeof(body),
			 "{\"type\":\"woocommerce\",\"name\":\"Woo\",\"settings\":{\"siteUrl\":\"https://"
			 "shop.example.co.za/\",\"baseUrl\":\"http://"
			 "127.0.0.1:9\"},\"credentials\":{\"consumerKey\":\"" WOO_KEY
			 "\",\"consumerSecret\":\"" WOO_SECRET "\"}}");
	r = create_channel(t->owner.id_token, body, id, id_len);
	cr_assert_eq(r->status, 201, "%s", r->body);
	http_resp_free(r);
}

/*
 * A listing's externalId is stored in the form order lines carry
 * (fx_channel_listing_key): Shopify's gid is cut to its number, so the gid
 * and the bare number are one listing; WooCommerce "PID:VID" spelled with
 * leading zeros is the same variation; an id the channel never uses is
 * refused naming externalId, nothing written.
 */
Test(listings, external_ids_are_stored_in_the_channels_own_form_and_unique_in_it, .timeout = 180)
{
	struct tenant t;
	struct http_resp *r;
	char shop[64], woo[64], tak[64], p1[64], p2[64], p3[64], path[512];
	json_object *all;

	tenant_new(&t, "chkey");
	typed_channel(&t, "shopify", shop, sizeof(shop));
	typed_channel(&t, "woocommerce", woo, sizeof(woo));
	takealot_channel(&t, tak, sizeof(tak));
	product(&t, "K1", p1, sizeof(p1));
	product(&t, "K2", p2, sizeof(p2));
	product(&t, "K3", p3, sizeof(p3));

	r = create_listing(t.owner.id_token, shop, p1, "gid://shopify/InventoryItem/43729076");
	cr_assert_eq(r->status, 201, "%s", r->body);
	cr_assert_str_eq(json_str(r, "externalId"), "43729076", "%s", r->body);
	http_resp_free(r);
	r = create_listing(t.owner.id_token, shop, p2, "43729076");
	assert_error(r, 409, "ALREADY_EXISTS", "externalId");
	http_resp_free(r);

	r = create_listing(t.owner.id_token, woo, p1, "812:815");
	cr_assert_eq(r->status, 201, "%s", r->body);
	cr_assert_str_eq(json_str(r, "externalId"), "812:815", "%s", r->body);
	http_resp_free(r);
	r = create_listing(t.owner.id_token, woo, p2, "0812:0815");
	assert_error(r, 409, "ALREADY_EXISTS", "externalId");
	http_resp_free(r);

	/* Not the channel's form: 400 naming the field, no listing, no key. */
	r = create_listing(t.owner.id_token, shop, p3, "gid://shopify/ProductVariant/43729077");
	assert_error(r, 400, "INVALID_ARGUMENT", "externalId");
	http_resp_free(r);
	r = create_listing(t.owner.id_token, woo, p3, "SKU-MUG-1");
	assert_error(r, 400, "INVALID_ARGUMENT", "externalId");
	http_resp_free(r);
	r = create_listing(t.owner.id_token, tak, p3, "offer-1");
	assert_error(r, 400, "INVALID_ARGUMENT", "externalId");
	http_resp_free(r);
	r = create_listing(t.owner.id_token, tak, p3, "0");
	assert_error(r, 400, "INVALID_ARGUMENT", "externalId");
	http_resp_free(r);
	snprintf(path, sizeof(path), "organizations/%s/channels/%s/listings", t.org, tak);
	all = fs_list(path);
	cr_assert_eq(json_object_array_length(all), 0, "%s", json_object_to_json_string(all));
	json_object_put(all);
	snprintf(path, sizeof(path), "organizations/%s/channels/%s/listingKeys", t.org, tak);
	all = fs_list(path);
	cr_assert_eq(json_object_array_length(all), 0, "%s", json_object_to_json_string(all));
	json_object_put(all);
}

/* Sets the push and poll job's bookkeeping on channel cid directly in the emulator, as those jobs write it. */
static void job_bookkeeping(const struct tenant *t, const char *cid)
{
	const char *h[] = {"Content-Type: application/json", "Authorization: Bearer owner", NULL};
	static const char body[] = "{\"fields\":{\"orderCursor\":{\"stringValue\":\"v1|cursor-secret\"},"
				   "\"pushNotBefore\":{\"stringValue\":\"2026-12-02T00:00:00.000Z\"},"
				   "\"pushFailures\":{\"integerValue\":\"3\"}}}";
	char url[1024];
	struct http_resp *r;

	snprintf(url, sizeof(url),
		 "http://127.0.0.1:%s/v1/projects/demo-fluxori/databases/(default)/documents/organizations/%s/channels/"
		 "%s?updateMask.fieldPaths=orderCursor&updateMask.fieldPaths=pushNotBefore&updateMask.fieldPaths="
		 "pushFailures",
		 test_env("FLUXORI_FIRESTORE_PORT"), t->org, cid);
	r = http_url("PATCH", url, h, body, strlen(body));
	cr_assert_eq(r->status, 200, "%s", r->body);
	http_resp_free(r);
}

Test(channels, patch_honours_if_match_and_reseals_credentials, .timeout = 120)
{
	struct tenant t;
	struct http_resp *r;
	char cid[64], path[512], etag[128], hdr[512];
	const char *h[2] = {hdr, NULL};
	json_object *doc;

	tenant_new(&t, "chpatch");
	takealot_channel(&t, cid, sizeof(cid));
	job_bookkeeping(&t, cid);
	snprintf(path, sizeof(path), "/v1/channels/%s", cid);
	r = http_get(path, t.owner.id_token);
	/* The jobs' bookkeeping is no API output. */
	cr_assert_null(strstr(r->body, "orderCursor"), "%s", r->body);
	cr_assert_null(strstr(r->body, "pushNotBefore"), "%s", r->body);
	cr_assert_null(strstr(r->body, "pushFailures"), "%s", r->body);
	snprintf(etag, sizeof(etag), "%s", json_str(r, "etag"));
	http_resp_free(r);

	snprintf(hdr, sizeof(hdr), "If-Match: %s", etag);
	r = http_json_h(
		"PATCH", path, t.owner.id_token,
		"{\"name\":\"Takealot ZA\",\"status\":\"paused\",\"credentials\":{\"apiKey\":\"new-key-0000ZZ99\"},"
		"\"webhookSecret\":\"" HOOK_SECRET "\"}",
		h);
	cr_assert_eq(r->status, 200, "%s", r->body);
	assert_no_secret(r);
	cr_assert_str_eq(json_str(r, "name"), "Takealot ZA");
	cr_assert_str_eq(json_str(r, "status"), "paused");
	cr_assert_str_eq(json_str(r, "credentialsLast4"), "ZZ99");
	cr_assert_not_null(strstr(r->body, "\"webhookSecretSet\":true"), "%s", r->body);
	cr_assert_str_neq(json_str(r, "etag"), etag);
	http_resp_free(r);

	/* The old etag is stale now. */
	r = http_json_h("PATCH", path, t.owner.id_token, "{\"name\":\"Lost update\"}", h);
	assert_error(r, 412, "FAILED_PRECONDITION", NULL);
	http_resp_free(r);
	r = http_json("PATCH", path, t.owner.id_token, "{\"status\":\"error\"}");
	assert_error(r, 400, "INVALID_ARGUMENT", "status");
	http_resp_free(r);
	r = http_json("PATCH", path, t.owner.id_token, "{\"settings\":{\"siteUrl\":\"https://x.example\"}}");
	assert_error(r, 400, "INVALID_ARGUMENT", "settings.siteUrl");
	http_resp_free(r);
	r = http_json("PATCH", path, t.owner.id_token, "{\"webhookSecret\":null}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_not_null(strstr(r->body, "\"webhookSecretSet\":false"), "%s", r->body);
	cr_assert_str_eq(json_str(r, "name"), "Takealot ZA");
	http_resp_free(r);

	snprintf(hdr, sizeof(hdr), "organizations/%s/channels/%s", t.org, cid);
	doc = fs_read(hdr);
	cr_assert_null(fs_str(doc, "sealed.webhookSecret"), "removed");
	cr_assert_not_null(fs_str(doc, "sealed.credentials"));
	cr_assert_null(strstr(json_object_to_json_string(doc), "new-key-0000"), "plain text stored");
	json_object_put(doc);

	/* Without listings it is deleted, with its hook document. */
	r = http_do("DELETE", path, t.owner.id_token, NULL, NULL, 0, NULL);
	cr_assert_eq(r->status, 204, "%s", r->body);
	http_resp_free(r);
	r = http_get(path, t.owner.id_token);
	assert_error(r, 404, "NOT_FOUND", NULL);
	http_resp_free(r);
	snprintf(hdr, sizeof(hdr), "channelHooks/%s", cid);
	cr_assert_null(fs_read(hdr), "hook document left behind");
}

/* POST :test of channel cid: 200 and ok as expected; the message goes to msg. */
static void run_test(const struct tenant *t, const char *cid, bool want_ok, char *msg, size_t len)
{
	char path[512];
	struct http_resp *r;
	json_object *ok = NULL;

	snprintf(path, sizeof(path), "/v1/channels/%s:test", cid);
	r = http_json("POST", path, t->owner.id_token, NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	assert_no_secret(r);
	cr_assert(json_object_object_get_ex(r->json, "ok", &ok) && json_object_is_type(ok, json_type_boolean), "%s",
		  r->body);
	cr_assert_eq(json_object_get_boolean(ok), want_ok, "%s", r->body);
	cr_assert_not_null(json_str(r, "message"), "%s", r->body);
	snprintf(msg, len, "%s", json_str(r, "message"));
	http_resp_free(r);
}

Test(channels, test_calls_the_channel_with_the_stored_credentials_and_stores_nothing, .timeout = 120)
{
	/* Each body around the fake's URL (settings.baseUrl). */
	static const char *const bodies[][2] = {
		{"{\"type\":\"shopify\",\"name\":\"S\",\"settings\":{\"shopDomain\":\"a.myshopify.com\",\"locationId\":"
		 "\"1\","
		 "\"baseUrl\":\"",
		 "\"},\"credentials\":{\"accessToken\":\"" FAKECHANNEL_SHOPIFY_TOKEN "\"}}"},
		{"{\"type\":\"woocommerce\",\"name\":\"W\",\"settings\":{\"siteUrl\":\"https://shop.example.com\","
		 "\"baseUrl\":\"",
		 "\"},\"credentials\":{\"consumerKey\":\"" FAKECHANNEL_WOO_KEY
		 "\",\"consumerSecret\":\"" FAKECHANNEL_WOO_SECRET "\"}}"},
		{"{\"type\":\"takealot\",\"name\":\"T\",\"settings\":{\"baseUrl\":\"",
		 "\"},\"credentials\":{\"apiKey\":\"" FAKECHANNEL_TAKEALOT_KEY "\"}}"},
	};
	struct fakechannel *f = fakechannel_start();
	struct tenant t;
	struct http_resp *r;
	char ids[3][64], body[1024], msg[512], path[512], etag[128];
	unsigned calls;

	cr_assert_not_null(f);
	tenant_new(&t, "chtest");
	for (size_t i = 0; i < 3; i++) {
		snprintf(body, sizeof(body), "%s%s%s", bodies[i][0], fakechannel_url(f), bodies[i][1]);
		r = create_channel(t.owner.id_token, body, ids[i], sizeof(ids[i]));
		cr_assert_eq(r->status, 201, "%s", r->body);
		http_resp_free(r);
	}
	snprintf(path, sizeof(path), "/v1/channels/%s", ids[0]);
	r = http_get(path, t.owner.id_token);
	snprintf(etag, sizeof(etag), "%s", json_str(r, "etag"));
	http_resp_free(r);

	calls = fakechannel_calls(f, "test");
	for (size_t i = 0; i < 3; i++)
		run_test(&t, ids[i], true, msg, sizeof(msg));
	cr_assert_eq(fakechannel_calls(f, "test"), calls + 3, "each :test called the channel once");

	/* The channel refuses the credentials: ok false with its own text. */
	fakechannel_refuse_credentials(f, true);
	for (size_t i = 0; i < 3; i++) {
		run_test(&t, ids[i], false, msg, sizeof(msg));
		cr_assert_neq(msg[0], '\0', "the channel's text is shown");
	}
	fakechannel_refuse_credentials(f, false);

	/* Nothing stored: the channel's version is the same. */
	r = http_get(path, t.owner.id_token);
	cr_assert_str_eq(json_str(r, "etag"), etag, "a :test changed the channel: %s", r->body);
	http_resp_free(r);

	/* Unreachable: ok false, still a 200 answer. */
	fakechannel_stop(f);
	run_test(&t, ids[2], false, msg, sizeof(msg));
}

#define RACERS 8

struct racer {
	const char *token, *cid, *pid;
	char external[64];
	pthread_barrier_t *go;
	long status;
	char field[64];
};

static void *race(void *arg)
{
	struct racer *x = arg;
	struct http_resp *r;

	pthread_barrier_wait(x->go);
	r = create_listing(x->token, x->cid, x->pid, x->external);
	x->status = r->status;
	snprintf(x->field, sizeof(x->field), "%s",
		 json_str(r, "error.details.0.field") ? json_str(r, "error.details.0.field") : "");
	http_resp_free(r);
	return NULL;
}

/* RACERS creates at once; returns how many answered 201, and checks the others are 409 naming field. */
static int run_race(struct racer *x, const char *field)
{
	pthread_t th[RACERS];
	pthread_barrier_t go;
	int created = 0;

	pthread_barrier_init(&go, NULL, RACERS);
	for (int i = 0; i < RACERS; i++) {
		x[i].go = &go;
		cr_assert_eq(pthread_create(&th[i], NULL, race, &x[i]), 0);
	}
	for (int i = 0; i < RACERS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&go);
	for (int i = 0; i < RACERS; i++) {
		if (x[i].status == 201) {
			created++;
			continue;
		}
		/* The loser sees the key (409 naming it), or gives up on contention (409 ABORTED, no field). */
		cr_assert_eq(x[i].status, 409, "racer %d: %ld", i, x[i].status);
		cr_assert(x[i].field[0] == '\0' || strcmp(x[i].field, field) == 0, "racer %d named %s", i, x[i].field);
	}
	return created;
}

Test(listings, racing_creates_make_one_listing_per_product_and_per_external_id, .timeout = 180)
{
	struct tenant t;
	struct racer x[RACERS];
	char cid[64], pid[64], others[RACERS][64], path[512];
	struct http_resp *r;
	json_object *all;

	tenant_new(&t, "chrace");
	takealot_channel(&t, cid, sizeof(cid));
	product(&t, "RACE", pid, sizeof(pid));
	for (int i = 0; i < RACERS; i++)
		product(&t, "RACEX", others[i], sizeof(others[i]));

	/* One product, a different offer each: one listing. */
	memset(x, 0, sizeof(x));
	for (int i = 0; i < RACERS; i++) {
		x[i].token = t.owner.id_token, x[i].cid = cid, x[i].pid = pid;
		snprintf(x[i].external, sizeof(x[i].external), "7700%d", i + 1);
	}
	cr_assert_eq(run_race(x, "productId"), 1);

	/* One offer, a different product each: one listing. */
	memset(x, 0, sizeof(x));
	for (int i = 0; i < RACERS; i++) {
		x[i].token = t.owner.id_token, x[i].cid = cid, x[i].pid = others[i];
		snprintf(x[i].external, sizeof(x[i].external), "7799");
	}
	cr_assert_eq(run_race(x, "externalId"), 1);

	snprintf(path, sizeof(path), "organizations/%s/channels/%s/listings", t.org, cid);
	all = fs_list(path);
	cr_assert_eq(json_object_array_length(all), 2, "%s", json_object_to_json_string(all));
	json_object_put(all);
	snprintf(path, sizeof(path), "/v1/channels/%s", cid);
	r = http_get(path, t.owner.id_token);
	cr_assert_eq(json_int(r, "counts.listings"), 2, "%s", r->body);
	http_resp_free(r);
}

/* ---- outside demo projects: an instance of its own ---- */

#define PROD_PROJECT "fluxori-chantest"

/* POST to the emulators' REST (admin, as the console would), answering the status; fails the test on 0. */
static long emulator_post(const char *url, const char *body)
{
	const char *h[] = {"Content-Type: application/json", "Authorization: Bearer owner", NULL};
	struct http_resp *r = http_url("POST", url, h, body, strlen(body));
	long status = r->status;

	cr_assert_neq(status, 0, "no answer from %s", url);
	http_resp_free(r);
	return status;
}

/*
 * An admin of organization org in project PROD_PROJECT, made directly in the
 * emulators (the stack's API serves demo-fluxori only): the Firebase account,
 * the member profile, and an RS256 ID token with the claims, signed by the
 * test signer whose certificate the instance trusts.
 */
static char *prod_admin(const char *uid, const char *org)
{
	char url[512], body[1024], claims[4096];
	long now = (long)time(NULL);
	char *key, *tok;

	snprintf(url, sizeof(url),
		 "http://127.0.0.1:%s/identitytoolkit.googleapis.com/v1/projects/" PROD_PROJECT "/accounts",
		 test_env("FLUXORI_AUTH_PORT"));
	snprintf(body, sizeof(body), "{\"localId\":\"%s\",\"email\":\"%s@example.co.za\",\"emailVerified\":true}", uid,
		 uid);
	cr_assert_eq(emulator_post(url, body), 200, "creating the account in %s", PROD_PROJECT);
	snprintf(url, sizeof(url),
		 "http://127.0.0.1:%s/v1/projects/" PROD_PROJECT "/databases/(default)/documents/users?documentId=%s",
		 test_env("FLUXORI_FIRESTORE_PORT"), uid);
	snprintf(body, sizeof(body),
		 "{\"fields\":{\"organizationId\":{\"stringValue\":\"%s\"},\"role\":{\"stringValue\":\"admin\"},"
		 "\"email\":{\"stringValue\":\"%s@example.co.za\"}}}",
		 org, uid);
	cr_assert_eq(emulator_post(url, body), 200, "writing the profile in %s", PROD_PROJECT);
	snprintf(claims, sizeof(claims),
		 "{\"iss\":\"https://securetoken.google.com/" PROD_PROJECT "\",\"aud\":\"" PROD_PROJECT
		 "\",\"sub\":\"%s\",\"auth_time\":%ld,\"iat\":%ld,\"exp\":%ld,\"email\":\"%s@example.co.za\","
		 "\"organizationId\":\"%s\",\"role\":\"admin\"}",
		 uid, now - 10, now - 10, now + 3600, uid, org);
	key = test_slurp(test_data("signer1.key.pem"));
	tok = tj_mint(JWT_ALG_RS256, key, "kid1", claims);
	free(key);
	cr_assert_not_null(tok);
	return tok;
}

static struct http_resp *prod_create(const struct instance *api, const char *token, const char *json)
{
	char url[128], auth[8192];
	const char *h[] = {auth, "Content-Type: application/json", NULL};

	snprintf(url, sizeof(url), "%s/v1/channels", api->base);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	return http_url("POST", url, h, json, strlen(json));
}

Test(channels, base_url_is_refused_outside_demo_projects, .timeout = 240)
{
	struct testserver *certs = test_cert_server();
	struct instance api;
	struct http_resp *r;
	char extra[1024], keyfile[256], uid[64], org[64];
	char *token;
	FILE *f;

	/* A deployment key (64 hex digits), as Cloud Run would mount it from Secret Manager. */
	snprintf(keyfile, sizeof(keyfile), "%s/chantest.key",
		 test_env("FLUXORI_TEST_RUN") ? test_env("FLUXORI_TEST_RUN") : "/tmp");
	cr_assert_not_null(f = fopen(keyfile, "w"));
	fputs("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", f);
	fclose(f);
	snprintf(extra, sizeof(extra),
		 "GOOGLE_CLOUD_PROJECT=" PROD_PROJECT "\nFLUXORI_BUCKET=" PROD_PROJECT ".appspot.com\n"
		 "FLUXORI_AUTH_EMULATOR_TOKENS=\nFLUXORI_FIREBASE_KEYS_URL=%s/certs\nFLUXORI_SECRETS_KEY_FILE=%s\n",
		 ts_url(certs), keyfile);
	instance_start(&api, extra);
	snprintf(uid, sizeof(uid), "chprod%s", test_unique());
	snprintf(org, sizeof(org), "orgprod%s", test_unique());
	token = prod_admin(uid, org);

	r = prod_create(&api, token,
			"{\"type\":\"takealot\",\"name\":\"T\",\"settings\":{\"baseUrl\":\"http://127.0.0.1:9\"},"
			"\"credentials\":{\"apiKey\":\"" TAKEALOT_KEY "\"}}");
	assert_error(r, 400, "INVALID_ARGUMENT", "settings.baseUrl");
	http_resp_free(r);
	/* The same admin connects the channel without baseUrl: the refusal is the rule, not the caller. */
	r = prod_create(
		&api, token,
		"{\"type\":\"takealot\",\"name\":\"T\",\"settings\":{},\"credentials\":{\"apiKey\":\"" TAKEALOT_KEY
		"\"}}");
	cr_assert_eq(r->status, 201, "%s", r->body);
	cr_assert_str_eq(json_str(r, "type"), "takealot", "%s", r->body);
	http_resp_free(r);
	free(token);
	instance_stop(&api);
	ts_stop(certs);
}

Test(listings, a_listed_product_is_not_deleted_until_its_listings_are, .timeout = 120)
{
	struct tenant t;
	struct http_resp *r;
	char cid[64], pid[64], lid[64], path[512];

	tenant_new(&t, "chpdel");
	takealot_channel(&t, cid, sizeof(cid));
	product(&t, "LISTED", pid, sizeof(pid));
	r = create_listing(t.owner.id_token, cid, pid, "4401");
	cr_assert_eq(r->status, 201, "%s", r->body);
	snprintf(lid, sizeof(lid), "%s", json_str(r, "id"));
	http_resp_free(r);

	/* A listing would point at a product that is gone, its keys would stay taken. */
	snprintf(path, sizeof(path), "/v1/products/%s", pid);
	r = http_do("DELETE", path, t.owner.id_token, NULL, NULL, 0, NULL);
	assert_error(r, 409, "FAILED_PRECONDITION", "listings");
	http_resp_free(r);
	r = http_get(path, t.owner.id_token);
	cr_assert_eq(r->status, 200, "the product is still there: %s", r->body);
	http_resp_free(r);

	snprintf(path, sizeof(path), "/v1/channels/%s/listings/%s", cid, lid);
	r = http_do("DELETE", path, t.owner.id_token, NULL, NULL, 0, NULL);
	cr_assert_eq(r->status, 204, "%s", r->body);
	http_resp_free(r);
	snprintf(path, sizeof(path), "/v1/products/%s", pid);
	r = http_do("DELETE", path, t.owner.id_token, NULL, NULL, 0, NULL);
	cr_assert_eq(r->status, 204, "%s", r->body);
	http_resp_free(r);
}
