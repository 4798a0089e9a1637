/*
 * Webhooks out through nginx, the core (wh-core; the full suite with the
 * merchant receiver is test_webhooks.c): the routes' contract (admin only,
 * validation, secret shown once, another organization's webhook a 404),
 * and the path of one event: an order created commits an order.created
 * event that one webhook-deliver run delivers once, signed as the
 * contract says, to a local receiver (a demo project may target
 * 127.0.0.1); later changes of the order follow in order, a failing
 * receiver holds the order's later events back until it recovers.
 */
#include "audit.h"
#include "client.h"
#include "testserver.h"

#include <criterion/criterion.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SEEN 32

/* What the receiver recorded: each request's headers of interest and body. */
struct seen {
	char event[64];
	char delivery[128];
	char signature[512];
	char body[8192];
};

struct receiver {
	pthread_mutex_t mu;
	struct seen seen[MAX_SEEN];
	int n;
	int fail; /* answer 500 while > 0 (decremented) or while < 0 */
};

static void on_request(const struct ts_request *req, struct ts_response *resp, void *ctx)
{
	struct receiver *rc = ctx;

	pthread_mutex_lock(&rc->mu);
	if (rc->n < MAX_SEEN) {
		struct seen *s = &rc->seen[rc->n++];

		ts_header(req, "X-Fluxori-Event", s->event, sizeof(s->event));
		ts_header(req, "X-Fluxori-Delivery", s->delivery, sizeof(s->delivery));
		ts_header(req, "X-Fluxori-Signature", s->signature, sizeof(s->signature));
		snprintf(s->body, sizeof(s->body), "%.*s", (int)req->body_len, req->body);
	}
	if (rc->fail != 0) {
		resp->status = 500;
		if (rc->fail > 0)
			rc->fail--;
	} else {
		resp->status = 200;
	}
	snprintf(resp->body, sizeof(resp->body), "ok");
	resp->body_len = 2;
	pthread_mutex_unlock(&rc->mu);
}

static int seen_count(struct receiver *rc)
{
	int n;

	pthread_mutex_lock(&rc->mu);
	n = rc->n;
	pthread_mutex_unlock(&rc->mu);
	return n;
}

/* Whether header (t=..,v1=..[,v1=..]) holds a v1 entry that is HMAC-SHA256(secret, "<t>.<body>"). */
static bool signature_valid(const char *header, const char *body, const char *secret)
{
	char msg[9000], hex[65];
	unsigned char mac[32];
	unsigned len = 0;
	long long t = 0;
	const char *v;

	if (sscanf(header, "t=%lld,", &t) != 1 || llabs((long long)time(NULL) - t) > 300)
		return false;
	snprintf(msg, sizeof(msg), "%lld.%s", t, body);
	HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)msg, strlen(msg), mac, &len);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
	for (v = strstr(header, "v1="); v; v = strstr(v + 3, "v1="))
		if (strncmp(v + 3, hex, 64) == 0)
			return true;
	return false;
}

static void add_member(const char *owner_token, struct test_user *u, const char *role)
{
	char body[600];
	struct http_resp *r;

	cr_assert_eq(test_user_signup(u, role), 0);
	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"role\":\"%s\"}", u->email, role);
	r = http_json("POST", "/v1/users", owner_token, body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	http_resp_free(r);
	cr_assert_eq(test_user_refresh(u), 0);
}

static void assert_error(struct http_resp *r, long code, const char *status, const char *field)
{
	cr_assert_eq(r->status, code, "expected %ld, got %ld: %s", code, r->status, r->body);
	cr_assert_str_eq(json_str(r, "error.status"), status, "%s", r->body);
	if (field)
		cr_assert_str_eq(json_str(r, "error.details.0.field"), field, "%s", r->body);
	http_resp_free(r);
}

/* Creates a webhook to url for events (a JSON array); its id and secret copied out. */
static void webhook_new(const char *token, const char *url, const char *events, char *id, size_t id_len, char *secret,
			size_t secret_len)
{
	char body[1024];
	struct http_resp *r;

	snprintf(body, sizeof(body), "{\"url\":\"%s\",\"events\":%s,\"description\":\"core test\"}", url, events);
	r = http_json("POST", "/v1/webhooks", token, body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	snprintf(id, id_len, "%s", json_str(r, "id"));
	snprintf(secret, secret_len, "%s", json_str(r, "secret"));
	cr_assert_eq(strncmp(secret, "whsec_", 6), 0, "%s", r->body);
	http_resp_free(r);
}

static void run_job(const char *token)
{
	struct http_resp *r = http_json("POST", "/v1/jobs/webhook-deliver", token, NULL);

	cr_assert_eq(r->status, 200, "%s", r->body);
	http_resp_free(r);
}

static void order_new(const char *token, char *id, size_t id_len)
{
	char pid[64], body[600];
	struct http_resp *r;

	snprintf(body, sizeof(body),
		 "{\"sku\":\"WH-%s\",\"name\":\"Hook item\",\"priceCents\":1500,\"status\":\"active\"}", test_unique());
	test_product_stocked(token, body, 10, pid, sizeof(pid));
	snprintf(body, sizeof(body),
		 "{\"customer\":{\"name\":\"Lerato\"},\"shippingAddress\":{\"line1\":\"12 Long St\",\"city\":\"Cape "
		 "Town\",\"province\":\"Western Cape\",\"postalCode\":\"8001\"},\"items\":[{\"productId\":\"%s\","
		 "\"quantity\":2}]}",
		 pid);
	r = http_json("POST", "/v1/orders", token, body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	snprintf(id, id_len, "%s", json_str(r, "id"));
	http_resp_free(r);
}

/* Moves the event time of delivery eid of webhook wid back by days, straight in the emulator. */
static void age_delivery(const char *org, const char *wid, const char *eid, int days)
{
	const char *h[] = {"Authorization: Bearer owner", "Content-Type: application/json", NULL};
	char url[700], body[200], when[40];
	time_t t = time(NULL) - (time_t)days * 86400;
	struct tm tm;
	struct http_resp *r;

	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(url, sizeof(url),
		 "http://127.0.0.1:%s/v1/projects/demo-fluxori/databases/(default)/documents/organizations/%s/webhooks/"
		 "%s/"
		 "deliveries/%s?updateMask.fieldPaths=createdAt",
		 test_env("FLUXORI_FIRESTORE_PORT"), org, wid, eid);
	snprintf(body, sizeof(body), "{\"fields\":{\"createdAt\":{\"timestampValue\":\"%s\"}}}", when);
	r = http_url("PATCH", url, h, body, strlen(body));
	cr_assert_eq(r->status, 200, "%s", r->body);
	http_resp_free(r);
}

Test(webhooks_core, routes_validate_show_the_secret_once_and_keep_tenants_apart, .timeout = 120)
{
	struct test_user owner, other, manager;
	char org[64], org2[64], id[64], secret[128], path[200];
	struct http_resp *r;

	test_owner_signup(&owner, "whcore", "Hook Traders", org, sizeof(org));
	test_owner_signup(&other, "whother", "Other Traders", org2, sizeof(org2));
	add_member(owner.id_token, &manager, "manager");

	/* validation: nothing written */
	assert_error(http_json("POST", "/v1/webhooks", owner.id_token,
			       "{\"url\":\"http://example.com/h\",\"events\":[\"order.created\"]}"),
		     400, "INVALID_ARGUMENT", "url");
	assert_error(http_json("POST", "/v1/webhooks", owner.id_token,
			       "{\"url\":\"https://10.0.0.1/h\",\"events\":[\"order.created\"]}"),
		     400, "INVALID_ARGUMENT", "url");
	assert_error(http_json("POST", "/v1/webhooks", owner.id_token,
			       "{\"url\":\"https://100.64.0.1/h\",\"events\":[\"order.created\"]}"),
		     400, "INVALID_ARGUMENT", "url");
	assert_error(http_json("POST", "/v1/webhooks", owner.id_token,
			       "{\"url\":\"https://169.254.169.254/h\",\"events\":[\"order.created\"]}"),
		     400, "INVALID_ARGUMENT", "url");
	assert_error(http_json("POST", "/v1/webhooks", owner.id_token,
			       "{\"url\":\"http://localhost:9/h\",\"events\":[\"order.created\"]}"),
		     400, "INVALID_ARGUMENT", "url");
	assert_error(
		http_json("POST", "/v1/webhooks", owner.id_token, "{\"url\":\"http://127.0.0.1:9/h\",\"events\":[]}"),
		400, "INVALID_ARGUMENT", "events");
	assert_error(http_json("POST", "/v1/webhooks", owner.id_token,
			       "{\"url\":\"http://127.0.0.1:9/h\",\"events\":[\"order.created\",\"order.created\"]}"),
		     400, "INVALID_ARGUMENT", "events[1]");
	assert_error(http_json("POST", "/v1/webhooks", owner.id_token,
			       "{\"url\":\"http://127.0.0.1:9/h\",\"events\":[\"order.shipped\"]}"),
		     400, "INVALID_ARGUMENT", "events[0]");
	r = http_get("/v1/webhooks", owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_null(json_str(r, "data.0.id"), "nothing was written: %s", r->body);
	http_resp_free(r);

	/* roles: admin only */
	assert_error(http_json("POST", "/v1/webhooks", manager.id_token,
			       "{\"url\":\"http://127.0.0.1:9/h\",\"events\":[\"order.created\"]}"),
		     403, "PERMISSION_DENIED", NULL);
	assert_error(http_get("/v1/webhooks", manager.id_token), 403, "PERMISSION_DENIED", NULL);

	webhook_new(owner.id_token, "http://127.0.0.1:9/h", "[\"order.created\"]", id, sizeof(id), secret,
		    sizeof(secret));
	snprintf(path, sizeof(path), "/v1/webhooks/%s", id);
	r = http_get(path, owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_null(strstr(r->body, secret), "the secret is shown once: %s", r->body);
	cr_assert_null(strstr(r->body, "sealed"), "%s", r->body);
	cr_assert_null(json_str(r, "secret"), "%s", r->body);
	http_resp_free(r);

	/* another organization's webhook does not exist for them */
	assert_error(http_get(path, other.id_token), 404, "NOT_FOUND", NULL);
	assert_error(http_json("PATCH", path, other.id_token, "{\"enabled\":false}"), 404, "NOT_FOUND", NULL);
	assert_error(http_json("DELETE", path, other.id_token, NULL), 404, "NOT_FOUND", NULL);

	/* rotation: a new secret, shown once */
	snprintf(path, sizeof(path), "/v1/webhooks/%s:rotateSecret", id);
	r = http_json("POST", path, owner.id_token, NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_neq(json_str(r, "secret"), secret, "%s", r->body);
	http_resp_free(r);

	snprintf(path, sizeof(path), "/v1/webhooks/%s", id);
	r = http_json("PATCH", path, owner.id_token, "{\"description\":\"renamed\",\"enabled\":false}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "description"), "renamed", "%s", r->body);
	cr_assert_not_null(strstr(r->body, "\"enabled\":false"), "%s", r->body);
	http_resp_free(r);
	r = http_json("DELETE", path, owner.id_token, NULL);
	cr_assert_eq(r->status, 204, "%s", r->body);
	http_resp_free(r);
	assert_error(http_get(path, owner.id_token), 404, "NOT_FOUND", NULL);
}

Test(webhooks_core, an_order_is_delivered_once_signed_and_its_changes_follow_in_order, .timeout = 180)
{
	struct receiver rc = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct testserver *ts = ts_start();
	struct test_user owner;
	char org[64], id[64], secret[128], url[200], oid[64], path[512];
	struct http_resp *r;
	long deadline;

	ts_handle(ts, on_request, &rc);
	test_owner_signup(&owner, "whdeliver", "Hook Deliveries", org, sizeof(org));
	snprintf(url, sizeof(url), "%s/hooks", ts_url(ts));
	webhook_new(owner.id_token, url, "[\"order.created\",\"order.updated\"]", id, sizeof(id), secret,
		    sizeof(secret));

	order_new(owner.id_token, oid, sizeof(oid));
	run_job(owner.id_token);
	cr_assert_eq(seen_count(&rc), 1, "one order, one delivery");
	cr_assert_str_eq(rc.seen[0].event, "order.created");
	cr_assert(signature_valid(rc.seen[0].signature, rc.seen[0].body, secret), "%s over %s", rc.seen[0].signature,
		  rc.seen[0].body);
	cr_assert_not_null(strstr(rc.seen[0].body, oid), "the body names the order: %s", rc.seen[0].body);
	cr_assert_not_null(strstr(rc.seen[0].body, "\"type\":\"order.created\""), "%s", rc.seen[0].body);
	cr_assert(strstr(rc.seen[0].body, rc.seen[0].delivery), "the delivery id is the event id: %s", rc.seen[0].body);
	run_job(owner.id_token);
	cr_assert_eq(seen_count(&rc), 1, "a delivered event is never sent again");

	snprintf(path, sizeof(path), "/v1/webhooks/%s/deliveries", id);
	r = http_get(path, owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "data.0.status"), "delivered", "%s", r->body);
	cr_assert_eq(json_int(r, "data.0.statusCode"), 200, "%s", r->body);
	cr_assert_eq(json_int(r, "data.0.attempt"), 1, "%s", r->body);
	cr_assert_null(strstr(r->body, "\"body\""), "%s", r->body);
	http_resp_free(r);

	/* The receiver fails once: the confirmation waits, the cancellation stays behind it. */
	rc.fail = 1;
	snprintf(path, sizeof(path), "/v1/orders/%s:confirm", oid);
	r = http_json("POST", path, owner.id_token, NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	http_resp_free(r);
	snprintf(path, sizeof(path), "/v1/orders/%s:cancel", oid);
	r = http_json("POST", path, owner.id_token, "{\"reason\":\"changed mind\"}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	http_resp_free(r);
	run_job(owner.id_token);
	cr_assert_eq(seen_count(&rc), 2, "the first attempt failed; the later event of the order waits");
	cr_assert_not_null(strstr(rc.seen[1].body, "\"status\":\"confirmed\""), "%s", rc.seen[1].body);
	/* The retry comes after the test stack's backoff (1 s): run the job until both arrived. */
	deadline = (long)time(NULL) + 60;
	while (seen_count(&rc) < 4 && (long)time(NULL) < deadline)
		run_job(owner.id_token);
	cr_assert_eq(seen_count(&rc), 4, "the retry and then the cancellation: %d", seen_count(&rc));
	cr_assert_str_eq(rc.seen[2].delivery, rc.seen[1].delivery, "a retry carries the same delivery id");
	cr_assert_not_null(strstr(rc.seen[2].body, "\"status\":\"confirmed\""), "%s", rc.seen[2].body);
	cr_assert_not_null(strstr(rc.seen[3].body, "\"status\":\"cancelled\""), "%s", rc.seen[3].body);
	cr_assert(signature_valid(rc.seen[3].signature, rc.seen[3].body, secret));

	/* Any change of the order is an order.updated, naming what changed. */
	snprintf(path, sizeof(path), "/v1/orders/%s", oid);
	r = http_json("PATCH", path, owner.id_token, "{\"notes\":\"leave at the gate\"}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	http_resp_free(r);
	run_job(owner.id_token);
	cr_assert_eq(seen_count(&rc), 5, "the notes change was delivered");
	cr_assert_str_eq(rc.seen[4].event, "order.updated");
	cr_assert_not_null(strstr(rc.seen[4].body, "\"changed\":[\"notes\"]"), "%s", rc.seen[4].body);
	cr_assert_not_null(strstr(rc.seen[4].body, "\"status\":\"cancelled\""), "%s", rc.seen[4].body);

	/* The log keeps 30 days: the cleanup job removes a delivery whose event is older, and only it. */
	age_delivery(org, id, rc.seen[0].delivery, 31);
	r = http_json("POST", "/v1/jobs/cleanup", owner.id_token, NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(json_int(r, "summary.webhookDeliveriesRemoved"), 1, "%s", r->body);
	http_resp_free(r);
	snprintf(path, sizeof(path), "organizations/%s/webhooks/%s/deliveries/%s", org, id, rc.seen[0].delivery);
	cr_assert_null(fs_read(path), "the old delivery is gone");
	snprintf(path, sizeof(path), "organizations/%s/webhooks/%s/deliveries/%s", org, id, rc.seen[3].delivery);
	json_object_put(fs_read(path)); /* fails the test when it is not there any more */

	/* The log pages: 3 events left (the confirmation, the cancellation, the notes), newest first. */
	{
		char token[256], first[3][64], page[1024];
		int k = 0;

		snprintf(path, sizeof(path), "/v1/webhooks/%s/deliveries?pageSize=2", id);
		r = http_get(path, owner.id_token);
		cr_assert_eq(r->status, 200, "%s", r->body);
		cr_assert_not_null(json_str(r, "nextPageToken"), "%s", r->body);
		snprintf(token, sizeof(token), "%s", json_str(r, "nextPageToken"));
		snprintf(first[k++], sizeof(first[0]), "%s", json_str(r, "data.0.eventId"));
		snprintf(first[k++], sizeof(first[0]), "%s", json_str(r, "data.1.eventId"));
		cr_assert_str_eq(first[0], rc.seen[4].delivery, "newest first: %s", r->body);
		http_resp_free(r);
		snprintf(page, sizeof(page), "/v1/webhooks/%s/deliveries?pageSize=2&pageToken=%s", id, token);
		r = http_get(page, owner.id_token);
		cr_assert_eq(r->status, 200, "%s", r->body);
		cr_assert_null(json_str(r, "nextPageToken"), "%s", r->body);
		cr_assert_null(json_str(r, "data.1.eventId"), "one left: %s", r->body);
		cr_assert_str_eq(json_str(r, "data.0.eventId"), rc.seen[1].delivery, "the oldest last: %s", r->body);
		cr_assert_str_neq(json_str(r, "data.0.eventId"), first[1], "no overlap");
		http_resp_free(r);
	}
	ts_stop(ts);
}
