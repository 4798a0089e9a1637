/*
 * Webhooks out (issue 17) through nginx, against a receiver the test runs
 * (whreceiver: it verifies signatures exactly as docs/webhooks.md tells
 * merchants): subscriptions' CRUD, validation and roles, another
 * organization's subscription is 404, the secret shown once and never in
 * an answer, in Firestore's plain text or in the workers' log; an order
 * created becomes one signed order.created whose data is the order; a
 * receiver down for a while gets everything afterwards, in order per
 * resource, each event accepted once, retries with the same delivery id; a
 * receiver that never recovers disables the subscription with a reason
 * admins see; a redirect is not followed; a rotation signs with both
 * secrets; every forbidden range is refused at creation outside demo-*
 * projects. The windows (backoff, give-up, disable) are the test stack's
 * short ones (scripts/stack). The kill -9 of the delivering worker is
 * test_webhookcrash (it kills a shared group).
 */
#include "audit.h"
#include "client.h"
#include "instance.h"
#include "testjwt.h"
#include "testserver.h"
#include "webhook.h"
#include "whreceiver.h"
#include "whworld.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void assert_error(struct http_resp *r, long code, const char *status, const char *field)
{
	cr_assert_eq(r->status, code, "expected %ld, got %ld: %s", code, r->status, r->body);
	cr_assert_str_eq(json_str(r, "error.status"), status, "%s", r->body);
	if (field)
		cr_assert_str_eq(json_str(r, "error.details.0.field"), field, "%s", r->body);
}

static void add_member(const struct whworld *w, struct test_user *u, const char *role)
{
	char body[600];
	struct http_resp *r;

	cr_assert_eq(test_user_signup(u, role), 0);
	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"role\":\"%s\"}", u->email, role);
	r = http_json("POST", "/v1/users", w->owner.id_token, body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	http_resp_free(r);
	cr_assert_eq(test_user_refresh(u), 0);
}

static struct http_resp *create(const char *token, const char *url, const char *events, const char *extra)
{
	char body[4096];

	snprintf(body, sizeof(body), "{\"url\":\"%s\",\"events\":%s%s%s}", url, events, extra ? "," : "",
		 extra ? extra : "");
	return http_json("POST", "/v1/webhooks", token, body);
}

static size_t list_len(const char *token)
{
	struct http_resp *r = http_get("/v1/webhooks", token);
	size_t n;

	cr_assert_eq(r->status, 200, "%s", r->body);
	n = json_object_array_length(json_object_object_get(r->json, "data"));
	http_resp_free(r);
	return n;
}

static json_object *deliveries(const struct whworld *w, const char *wid)
{
	char path[300];
	struct http_resp *r;
	json_object *d;

	snprintf(path, sizeof(path), "/v1/webhooks/%s/deliveries", wid);
	r = wh_call(w, "GET", path, w->owner.id_token, NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	d = json_object_get(json_object_object_get(r->json, "data"));
	cr_assert_not_null(d, "%s", r->body);
	http_resp_free(r);
	return d;
}

static const char *jstr(json_object *o, const char *k)
{
	json_object *v = NULL;

	return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v)
		       : NULL;
}

Test(webhooks, crud_shows_the_secret_once_and_validates_every_field, .timeout = 120)
{
	struct whworld w;
	struct http_resp *r;
	char id[64], secret[128], path[300], desc[600], extra[700];

	wh_world_new(&w, "whcrud");
	r = create(w.owner.id_token, whreceiver_url(w.recv), "[\"order.created\",\"product.low_stock\"]",
		   "\"description\":\"ERP\"");
	cr_assert_eq(r->status, 201, "%s", r->body);
	cr_assert_str_eq(json_str(r, "url"), whreceiver_url(w.recv), "%s", r->body);
	cr_assert_str_eq(json_str(r, "events.0"), "order.created", "%s", r->body);
	cr_assert_str_eq(json_str(r, "events.1"), "product.low_stock", "%s", r->body);
	cr_assert_str_eq(json_str(r, "description"), "ERP", "%s", r->body);
	cr_assert_not_null(json_str(r, "secret"), "%s", r->body);
	cr_assert_eq(strncmp(json_str(r, "secret"), "whsec_", 6), 0, "%s", r->body);
	snprintf(secret, sizeof(secret), "%s", json_str(r, "secret"));
	snprintf(id, sizeof(id), "%s", json_str(r, "id"));
	http_resp_free(r);

	snprintf(path, sizeof(path), "/v1/webhooks/%s", id);
	r = http_get(path, w.owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_null(strstr(r->body, secret), "the secret is shown once only: %s", r->body);
	cr_assert_null(json_str(r, "secret"), "%s", r->body);
	http_resp_free(r);
	r = http_get("/v1/webhooks", w.owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_null(strstr(r->body, secret), "%s", r->body);
	cr_assert_str_eq(json_str(r, "data.0.id"), id, "%s", r->body);
	http_resp_free(r);

	r = http_json("PATCH", path, w.owner.id_token, "{\"events\":[\"order.updated\"],\"description\":\"ERP 2\"}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "events.0"), "order.updated", "%s", r->body);
	cr_assert_null(json_str(r, "events.1"), "%s", r->body);
	cr_assert_null(strstr(r->body, secret), "%s", r->body);
	http_resp_free(r);

	/* Validation: the field named, nothing written. */
	r = create(w.owner.id_token, whreceiver_url(w.recv), "[]", NULL);
	assert_error(r, 400, "INVALID_ARGUMENT", "events");
	http_resp_free(r);
	r = create(w.owner.id_token, whreceiver_url(w.recv), "[\"order.deleted\"]", NULL);
	assert_error(r, 400, "INVALID_ARGUMENT", NULL);
	cr_assert_not_null(strstr(json_str(r, "error.details.0.field"), "events"), "%s", r->body);
	http_resp_free(r);
	r = create(w.owner.id_token, whreceiver_url(w.recv), "[\"order.created\",\"order.created\"]", NULL);
	assert_error(r, 400, "INVALID_ARGUMENT", NULL);
	cr_assert_not_null(strstr(json_str(r, "error.details.0.field"), "events"), "%s", r->body);
	http_resp_free(r);
	r = create(w.owner.id_token, "ftp://127.0.0.1/x", "[\"order.created\"]", NULL);
	assert_error(r, 400, "INVALID_ARGUMENT", "url");
	http_resp_free(r);
	r = create(w.owner.id_token, "https://metadata.google.internal/computeMetadata/v1/", "[\"order.created\"]",
		   NULL);
	assert_error(r, 400, "INVALID_ARGUMENT", "url");
	http_resp_free(r);
	r = create(w.owner.id_token, "http://169.254.169.254/latest/", "[\"order.created\"]", NULL);
	assert_error(r, 400, "INVALID_ARGUMENT", "url");
	http_resp_free(r);
	memset(desc, 'd', 501);
	desc[501] = '\0';
	snprintf(extra, sizeof(extra), "\"description\":\"%s\"", desc);
	r = create(w.owner.id_token, whreceiver_url(w.recv), "[\"order.created\"]", extra);
	assert_error(r, 400, "INVALID_ARGUMENT", "description");
	http_resp_free(r);
	r = create(w.owner.id_token, whreceiver_url(w.recv), "[\"order.created\"]", "\"secret\":\"whsec_mine\"");
	assert_error(r, 400, "INVALID_ARGUMENT", NULL);
	http_resp_free(r);
	cr_assert_eq(list_len(w.owner.id_token), 1, "nothing written by a refused create");

	/* At most 20 per organization. */
	for (int i = 1; i < 20; i++) {
		r = create(w.owner.id_token, whreceiver_url(w.recv), "[\"order.created\"]", NULL);
		cr_assert_eq(r->status, 201, "subscription %d: %s", i + 1, r->body);
		http_resp_free(r);
	}
	r = create(w.owner.id_token, whreceiver_url(w.recv), "[\"order.created\"]", NULL);
	assert_error(r, 409, "FAILED_PRECONDITION", NULL);
	http_resp_free(r);
	cr_assert_eq(list_len(w.owner.id_token), 20);

	r = http_do("DELETE", path, w.owner.id_token, NULL, NULL, 0, NULL);
	cr_assert_eq(r->status, 204, "%s", r->body);
	http_resp_free(r);
	r = http_get(path, w.owner.id_token);
	assert_error(r, 404, "NOT_FOUND", NULL);
	http_resp_free(r);
	wh_world_end(&w);
}

Test(webhooks, only_admins_manage_webhooks, .timeout = 120)
{
	struct whworld w;
	struct test_user viewer, manager, admin;
	struct http_resp *r;
	char id[64], secret[128], path[300];
	const struct test_user *refused[] = {&viewer, &manager};

	wh_world_new(&w, "whroles");
	add_member(&w, &viewer, "viewer");
	add_member(&w, &manager, "manager");
	add_member(&w, &admin, "admin");
	r = create(admin.id_token, whreceiver_url(w.recv), "[\"order.created\"]", NULL);
	cr_assert_eq(r->status, 201, "an admin subscribes: %s", r->body);
	snprintf(id, sizeof(id), "%s", json_str(r, "id"));
	snprintf(secret, sizeof(secret), "%s", json_str(r, "secret"));
	http_resp_free(r);
	for (size_t i = 0; i < 2; i++) {
		const char *tok = refused[i]->id_token;
		r = create(tok, whreceiver_url(w.recv), "[\"order.created\"]", NULL);
		assert_error(r, 403, "PERMISSION_DENIED", NULL);
		http_resp_free(r);
		r = http_get("/v1/webhooks", tok);
		assert_error(r, 403, "PERMISSION_DENIED", NULL);
		http_resp_free(r);
		snprintf(path, sizeof(path), "/v1/webhooks/%s", id);
		r = http_get(path, tok);
		assert_error(r, 403, "PERMISSION_DENIED", NULL);
		http_resp_free(r);
		r = http_json("PATCH", path, tok, "{\"enabled\":false}");
		assert_error(r, 403, "PERMISSION_DENIED", NULL);
		http_resp_free(r);
		r = http_do("DELETE", path, tok, NULL, NULL, 0, NULL);
		assert_error(r, 403, "PERMISSION_DENIED", NULL);
		http_resp_free(r);
		snprintf(path, sizeof(path), "/v1/webhooks/%s:rotateSecret", id);
		r = http_json("POST", path, tok, NULL);
		assert_error(r, 403, "PERMISSION_DENIED", NULL);
		cr_assert_null(strstr(r->body, "whsec_"), "%s", r->body);
		http_resp_free(r);
		snprintf(path, sizeof(path), "/v1/webhooks/%s/deliveries", id);
		r = http_get(path, tok);
		assert_error(r, 403, "PERMISSION_DENIED", NULL);
		http_resp_free(r);
	}
	snprintf(path, sizeof(path), "/v1/webhooks/%s", id);
	r = http_get(path, w.owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(json_object_get_boolean(json_object_object_get(r->json, "enabled")), 1, "untouched: %s", r->body);
	http_resp_free(r);
	wh_world_end(&w);
}

Test(webhooks, another_organizations_webhook_is_not_found, .timeout = 120)
{
	struct whworld a, b;
	struct http_resp *r;
	char id[64], secret[128], path[300];
	json_object *doc;

	wh_world_new(&a, "whorga");
	wh_world_new(&b, "whorgb");
	wh_subscribe(&a, whreceiver_url(a.recv), "[\"order.created\"]", id, sizeof(id), secret, sizeof(secret));
	snprintf(path, sizeof(path), "/v1/webhooks/%s", id);
	r = http_get(path, b.owner.id_token);
	assert_error(r, 404, "NOT_FOUND", NULL);
	http_resp_free(r);
	r = http_json("PATCH", path, b.owner.id_token, "{\"url\":\"http://127.0.0.1:9/mine\"}");
	assert_error(r, 404, "NOT_FOUND", NULL);
	http_resp_free(r);
	r = http_do("DELETE", path, b.owner.id_token, NULL, NULL, 0, NULL);
	assert_error(r, 404, "NOT_FOUND", NULL);
	http_resp_free(r);
	snprintf(path, sizeof(path), "/v1/webhooks/%s:rotateSecret", id);
	r = http_json("POST", path, b.owner.id_token, NULL);
	assert_error(r, 404, "NOT_FOUND", NULL);
	cr_assert_null(strstr(r->body, "whsec_"), "%s", r->body);
	http_resp_free(r);
	snprintf(path, sizeof(path), "/v1/webhooks/%s/deliveries", id);
	r = http_get(path, b.owner.id_token);
	assert_error(r, 404, "NOT_FOUND", NULL);
	http_resp_free(r);
	cr_assert_eq(list_len(b.owner.id_token), 0);

	snprintf(path, sizeof(path), "organizations/%s/webhooks/%s", a.org, id);
	doc = fs_read(path);
	cr_assert_not_null(doc, "stored under its organization");
	cr_assert_str_eq(fs_str(doc, "url"), whreceiver_url(a.recv), "unchanged");
	cr_assert_null(strstr(json_object_to_json_string(doc), secret), "sealed, not plain: %s",
		       json_object_to_json_string(doc));
	json_object_put(doc);
	wh_world_end(&a);
	wh_world_end(&b);
}

/* The order's event of type on the receiver: delivery index, or -1. */
static long find_event(struct whworld *w, const char *type, const char *order_id)
{
	for (size_t i = 0;; i++) {
		struct whreceiver_delivery d;
		json_object *j = wh_body(w, i, &d);
		bool hit;
		if (!j)
			return -1;
		hit = jstr(j, "type") && strcmp(jstr(j, "type"), type) == 0 &&
		      jstr(json_object_object_get(j, "data"), "id") &&
		      strcmp(jstr(json_object_object_get(j, "data"), "id"), order_id) == 0;
		json_object_put(j);
		whreceiver_delivery_free(&d);
		if (hit)
			return (long)i;
	}
}

Test(webhooks, an_order_created_is_delivered_once_signed_with_the_order_as_data, .timeout = 180)
{
	struct whworld w;
	char wid[64], secret[128], pid[64], oid[64], number[32];
	struct whreceiver_delivery d;
	json_object *j, *data, *log;
	struct http_resp *r;
	char path[300];

	wh_world_new(&w, "whorder");
	wh_product(&w, "HOOK", 10, pid, sizeof(pid));
	wh_subscribe(&w, whreceiver_url(w.recv), "[\"order.created\"]", wid, sizeof(wid), secret, sizeof(secret));
	wh_order(&w, pid, 2, oid, sizeof(oid), number, sizeof(number));
	cr_assert_eq(wh_run(&w), 200);
	cr_assert_eq(whreceiver_accepted(w.recv), 1, "one run of the job delivered order.created (%zu requests)",
		     whreceiver_count(w.recv));
	j = wh_body(&w, 0, &d);
	cr_assert(d.valid, "the signature verifies as the docs say: %s (%s)", d.why, d.signature);
	cr_assert_str_eq(d.method, "POST");
	cr_assert_str_eq(d.event, "order.created");
	cr_assert_str_eq(jstr(j, "type"), "order.created", "%s", d.body);
	cr_assert_str_eq(jstr(j, "id"), d.delivery, "X-Fluxori-Delivery is the event id: %s", d.body);
	cr_assert_str_eq(jstr(j, "organizationId"), w.org, "%s", d.body);
	cr_assert_not_null(jstr(j, "createdAt"), "%s", d.body);
	data = json_object_object_get(j, "data");
	cr_assert_str_eq(jstr(data, "id"), oid, "%s", d.body);
	cr_assert_str_eq(jstr(data, "number"), number, "%s", d.body);
	cr_assert_str_eq(jstr(data, "status"), "pending", "%s", d.body);
	/* The order as GET answers it: the same total and the line's product. */
	snprintf(path, sizeof(path), "/v1/orders/%s", oid);
	r = http_get(path, w.owner.id_token);
	cr_assert_eq(json_object_get_int64(json_object_object_get(data, "totalCents")), json_int(r, "totalCents"), "%s",
		     d.body);
	http_resp_free(r);
	json_object_put(j);
	whreceiver_delivery_free(&d);

	/* Not subscribed: the order's confirmation sends nothing; the next runs send nothing again. */
	cr_assert_eq(wh_order_do(&w, oid, "confirm", NULL), 200);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(wh_run(&w), 200);
	cr_assert_eq(whreceiver_count(w.recv), 1, "one event, one request");

	log = deliveries(&w, wid);
	cr_assert_eq(json_object_array_length(log), 1, "%s", json_object_to_json_string(log));
	json_object_put(log);
	wh_world_end(&w);
}

/* Uploads csv as a CSV upload of w's organization; its file id into id. */
static void upload_csv(const struct whworld *w, const char *csv, char *id, size_t len)
{
	const char *h[] = {"X-File-Name: catalogue.csv", NULL};
	struct http_resp *r =
		http_do("POST", "/v1/files?kind=upload", w->owner.id_token, "text/csv", csv, strlen(csv), h);

	cr_assert_eq(r->status, 201, "upload: %s", r->body);
	snprintf(id, len, "%s", json_str(r, "id"));
	http_resp_free(r);
}

/* POST /v1/imports of file_id (kind products, extra JSON members or NULL); the answer is the caller's. */
static struct http_resp *import_file(const struct whworld *w, const char *file_id, const char *extra)
{
	char body[400];

	snprintf(body, sizeof(body), "{\"fileId\":\"%s\",\"kind\":\"products\"%s%s}", file_id, extra ? "," : "",
		 extra ? extra : "");
	return http_json("POST", "/v1/imports", w->owner.id_token, body);
}

Test(webhooks, a_real_import_finished_is_one_event_carrying_the_import_record, .timeout = 240)
{
	struct whworld w;
	char wid[64], secret[128], file[64], bad[64], iid[64], dry[64], path[300], csv[600];
	struct whreceiver_delivery d;
	struct http_resp *r;
	json_object *j, *data, *record;
	const char *u;
	size_t n;

	wh_world_new(&w, "whimport");
	wh_subscribe(&w, whreceiver_url(w.recv), "[\"import.finished\"]", wid, sizeof(wid), secret, sizeof(secret));
	/* Two good rows and one the importer refuses: a partial import with an errors file. */
	u = test_unique();
	snprintf(csv, sizeof(csv),
		 "sku,name,price\r\nA-%s,Kettle,149.99\r\nB-%s,Toaster,R 299.00\r\nC-%s,Bad,not money\r\n", u, u, u);
	upload_csv(&w, csv, file, sizeof(file));

	/* A dry run and a refused file end no real import: nothing is owed. */
	r = import_file(&w, file, "\"dryRun\":true");
	cr_assert_eq(r->status, 201, "%s", r->body);
	cr_assert_str_eq(json_str(r, "status"), "partial", "%s", r->body);
	snprintf(dry, sizeof(dry), "%s", json_str(r, "id"));
	http_resp_free(r);
	upload_csv(&w, "sku,name,price,colour\r\nIMP-X,Refused,1.00,red\r\n", bad, sizeof(bad));
	r = import_file(&w, bad, NULL);
	cr_assert_eq(r->status, 400, "an unknown column refuses the file: %s", r->body);
	http_resp_free(r);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(wh_run(&w), 200);
	cr_assert_eq(whreceiver_count(w.recv), 0, "a dry run and a refused file deliver nothing (%zu requests)",
		     whreceiver_count(w.recv));

	r = import_file(&w, file, NULL);
	cr_assert_eq(r->status, 201, "%s", r->body);
	cr_assert_str_eq(json_str(r, "status"), "partial", "%s", r->body);
	snprintf(iid, sizeof(iid), "%s", json_str(r, "id"));
	http_resp_free(r);
	cr_assert_str_neq(iid, dry);
	cr_assert(wh_deliver_until(&w, 1, 90000), "import.finished delivered (%zu requests)", whreceiver_count(w.recv));
	for (int i = 0; i < 3; i++)
		cr_assert_eq(wh_run(&w), 200);
	n = whreceiver_count(w.recv);
	cr_assert_eq(n, 1, "exactly one event for three imports posted (%zu requests)", n);

	j = wh_body(&w, 0, &d);
	cr_assert(d.valid, "the signature verifies as the docs say: %s", d.why);
	cr_assert_str_eq(d.event, "import.finished");
	cr_assert_str_eq(jstr(j, "type"), "import.finished", "%s", d.body);
	cr_assert_str_eq(jstr(j, "id"), d.delivery, "%s", d.body);
	cr_assert_str_eq(jstr(j, "organizationId"), w.org, "%s", d.body);
	cr_assert_not_null(jstr(j, "createdAt"), "%s", d.body);
	data = json_object_object_get(j, "data");
	cr_assert_str_eq(jstr(data, "id"), iid, "the real import's, not the dry run's: %s", d.body);
	cr_assert_str_eq(jstr(data, "status"), "partial", "%s", d.body);

	/* data is the import's record (API.md, docs/webhooks.md): every field GET /v1/imports/{id} shows but etag. */
	snprintf(path, sizeof(path), "/v1/imports/%s", iid);
	r = http_get(path, w.owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(json_int(r, "counts.rows"), 3, "%s", r->body);
	cr_assert_eq(json_int(r, "counts.created"), 2, "%s", r->body);
	cr_assert_eq(json_int(r, "counts.failed"), 1, "%s", r->body);
	cr_assert_not_null(json_str(r, "errorsFileId"), "%s", r->body);
	record = json_object_get(r->json);
	json_object_object_del(record, "etag");
	json_object_object_foreach(record, key, want)
	{
		json_object *got = NULL;
		cr_assert(json_object_object_get_ex(data, key, &got), "data lacks the record's %s: %s", key, d.body);
		cr_assert(json_object_equal(got, want), "data.%s is %s, the record's %s", key,
			  json_object_to_json_string(got), json_object_to_json_string(want));
	}
	json_object_object_foreach(data, dkey, dval)
	{
		(void)dval;
		cr_assert(json_object_object_get_ex(record, dkey, NULL), "data.%s is not in the record: %s", dkey,
			  r->body);
	}
	json_object_put(record);
	http_resp_free(r);
	json_object_put(j);
	whreceiver_delivery_free(&d);
	wh_world_end(&w);
}

Test(webhooks, a_receiver_down_for_a_while_gets_everything_afterwards_in_order_once, .timeout = 300)
{
	struct whworld w;
	char wid[64], secret[128], pid[64], oid[64];
	const char *want[] = {"pending", "confirmed", "cancelled"};
	size_t failed, n;
	char ids[3][128] = {"", "", ""};
	int next = 0;
	json_object *log;

	wh_world_new(&w, "whdown");
	wh_product(&w, "DOWN", 10, pid, sizeof(pid));
	wh_subscribe(&w, whreceiver_url(w.recv), "[\"order.created\",\"order.updated\"]", wid, sizeof(wid), secret,
		     sizeof(secret));
	whreceiver_fail(w.recv, -1, 503);
	wh_order(&w, pid, 1, oid, sizeof(oid), NULL, 0);
	cr_assert_eq(wh_order_do(&w, oid, "confirm", NULL), 200);
	cr_assert_eq(wh_order_do(&w, oid, "cancel", "{\"reason\":\"customer changed their mind\"}"), 200);
	/* Down: attempts arrive and fail, more than one (retries). */
	for (time_t end = time(NULL) + 90; whreceiver_count(w.recv) < 2 && time(NULL) < end; usleep(200 * 1000))
		wh_run(&w);
	failed = whreceiver_count(w.recv);
	cr_assert_geq(failed, 2, "attempts were made while the receiver was down");
	cr_assert_eq(whreceiver_accepted(w.recv), 0);
	/* Ordering: while order.created has not succeeded, no later event of the order was sent. */
	for (size_t i = 0; i < failed; i++) {
		struct whreceiver_delivery d;
		json_object *j = wh_body(&w, i, &d);
		cr_assert_str_eq(jstr(j, "type"), "order.created", "a later event overtook the first: %s", d.body);
		json_object_put(j);
		whreceiver_delivery_free(&d);
	}
	log = deliveries(&w, wid);
	cr_assert_geq(json_object_array_length(log), 1, "failed attempts are logged: %s",
		      json_object_to_json_string(log));
	json_object_put(log);

	whreceiver_fail(w.recv, 0, 503);
	cr_assert(wh_deliver_until(&w, 3, 120000), "all three delivered after the receiver recovered (%zu accepted)",
		  whreceiver_accepted(w.recv));
	/* A few more runs: nothing more is owed. */
	for (int i = 0; i < 3; i++)
		wh_run(&w);
	n = whreceiver_count(w.recv);
	for (size_t i = 0; i < n; i++) {
		struct whreceiver_delivery d;
		json_object *j = wh_body(&w, i, &d);
		if (d.status == 200) {
			cr_assert_lt(next, 3, "a fourth accepted delivery: %s", d.body);
			cr_assert_str_eq(jstr(json_object_object_get(j, "data"), "status"), want[next],
					 "in the order of the changes: %s", d.body);
			snprintf(ids[next], sizeof(ids[next]), "%s", d.delivery);
			next++;
		}
		json_object_put(j);
		whreceiver_delivery_free(&d);
	}
	cr_assert_eq(next, 3);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(whreceiver_accepted_id(w.recv, ids[i]), 1, "event %d accepted once", i);
	cr_assert_str_neq(ids[0], ids[1]);
	cr_assert_str_neq(ids[1], ids[2]);
	/* Every failed attempt was a retry of the first event: the same delivery id. */
	for (size_t i = 0; i < failed; i++) {
		struct whreceiver_delivery d;
		cr_assert(whreceiver_get(w.recv, i, &d));
		cr_assert_str_eq(d.delivery, ids[0], "a retry carries the same X-Fluxori-Delivery");
		whreceiver_delivery_free(&d);
	}
	cr_assert_geq(find_event(&w, "order.updated", oid), 0);
	wh_world_end(&w);
}

Test(webhooks, a_receiver_that_never_recovers_is_disabled_with_a_reason, .timeout = 300)
{
	struct whworld w;
	char wid[64], secret[128], pid[64], path[300];
	struct http_resp *r = NULL;
	bool disabled = false;
	size_t before;

	wh_world_new(&w, "whdead");
	wh_product(&w, "DEAD", 10, pid, sizeof(pid));
	wh_subscribe(&w, whreceiver_url(w.recv), "[\"product.stock_changed\"]", wid, sizeof(wid), secret,
		     sizeof(secret));
	whreceiver_fail(w.recv, -1, 500);
	cr_assert_eq(wh_adjust(&w, pid, -1), 200);
	snprintf(path, sizeof(path), "/v1/webhooks/%s", wid);
	for (time_t end = time(NULL) + 240; !disabled && time(NULL) < end; usleep(500 * 1000)) {
		wh_run(&w);
		http_resp_free(r);
		r = http_get(path, w.owner.id_token);
		cr_assert_eq(r->status, 200, "%s", r->body);
		disabled = !json_object_get_boolean(json_object_object_get(r->json, "enabled"));
	}
	cr_assert(disabled, "disabled after the (test stack's) window: %s", r->body);
	cr_assert_not_null(json_str(r, "disabledReason"), "admins see why: %s", r->body);
	cr_assert_gt(strlen(json_str(r, "disabledReason")), 0, "%s", r->body);
	cr_assert_geq(whreceiver_count(w.recv), 2, "it was tried more than once");
	cr_assert_eq(whreceiver_accepted(w.recv), 0);
	http_resp_free(r);
	/* Disabled: nothing more is sent. */
	before = whreceiver_count(w.recv);
	cr_assert_eq(wh_adjust(&w, pid, -1), 200);
	for (int i = 0; i < 3; i++)
		wh_run(&w);
	cr_assert_eq(whreceiver_count(w.recv), before, "a disabled subscription gets nothing");
	/* Re-enabled by an admin, a recovered receiver gets events again. */
	whreceiver_fail(w.recv, 0, 500);
	r = http_json("PATCH", path, w.owner.id_token, "{\"enabled\":true}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(json_object_get_boolean(json_object_object_get(r->json, "enabled")), 1, "%s", r->body);
	http_resp_free(r);
	cr_assert_eq(wh_adjust(&w, pid, -1), 200);
	cr_assert(wh_deliver_until(&w, 1, 120000), "delivered again after PATCH enabled:true");
	wh_world_end(&w);
}

Test(webhooks, a_redirect_is_not_followed, .timeout = 180)
{
	struct whworld w;
	struct whreceiver *elsewhere = whreceiver_start();
	char wid[64], secret[128], pid[64];
	struct whreceiver_delivery d;
	json_object *log;

	cr_assert_not_null(elsewhere);
	wh_world_new(&w, "whredir");
	wh_product(&w, "REDIR", 10, pid, sizeof(pid));
	wh_subscribe(&w, whreceiver_url(w.recv), "[\"product.stock_changed\"]", wid, sizeof(wid), secret,
		     sizeof(secret));
	whreceiver_set_secrets(elsewhere, (const char *const[]){secret}, 1);
	whreceiver_redirect(w.recv, whreceiver_url(elsewhere));
	cr_assert_eq(wh_adjust(&w, pid, -1), 200);
	for (time_t end = time(NULL) + 90; whreceiver_count(w.recv) < 2 && time(NULL) < end; usleep(200 * 1000))
		wh_run(&w);
	cr_assert_geq(whreceiver_count(w.recv), 2, "the 302 was a failure, retried");
	cr_assert(whreceiver_get(w.recv, 0, &d));
	cr_assert_eq(d.status, 302);
	whreceiver_delivery_free(&d);
	cr_assert_eq(whreceiver_count(elsewhere), 0, "the redirect's target was never called");
	log = deliveries(&w, wid);
	cr_assert_geq(json_object_array_length(log), 1);
	cr_assert_not_null(strstr(json_object_to_json_string(log), "302"), "the log shows the 302: %s",
			   json_object_to_json_string(log));
	json_object_put(log);
	whreceiver_stop(elsewhere);
	wh_world_end(&w);
}

Test(webhooks, a_rotation_signs_with_both_secrets_for_a_while, .timeout = 180)
{
	struct whworld w;
	char wid[64], old[128], fresh[128], pid[64], path[300];
	struct whreceiver_delivery d;
	struct http_resp *r;
	const char *why = NULL;

	wh_world_new(&w, "whrotate");
	wh_product(&w, "ROT", 10, pid, sizeof(pid));
	wh_subscribe(&w, whreceiver_url(w.recv), "[\"product.stock_changed\"]", wid, sizeof(wid), old, sizeof(old));
	snprintf(path, sizeof(path), "/v1/webhooks/%s:rotateSecret", wid);
	r = http_json("POST", path, w.owner.id_token, NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_not_null(json_str(r, "secret"), "the new secret is shown once: %s", r->body);
	snprintf(fresh, sizeof(fresh), "%s", json_str(r, "secret"));
	cr_assert_str_neq(fresh, old);
	cr_assert_null(strstr(r->body, old), "the old secret is not shown again: %s", r->body);
	http_resp_free(r);
	snprintf(path, sizeof(path), "/v1/webhooks/%s", wid);
	r = http_get(path, w.owner.id_token);
	cr_assert_null(strstr(r->body, fresh), "%s", r->body);
	http_resp_free(r);

	/* The receiver still holds only the old secret: it keeps accepting. */
	cr_assert_eq(wh_adjust(&w, pid, -1), 200);
	cr_assert(wh_deliver_until(&w, 1, 90000), "accepted with the old secret");
	cr_assert(whreceiver_get(w.recv, 0, &d));
	cr_assert_not_null(strstr(strstr(d.signature, "v1=") + 3, "v1="), "two v1 entries: %s", d.signature);
	cr_assert(whreceiver_verify(d.signature, d.body, d.body_len, (const char *const[]){fresh}, 1,
				    (long long)time(NULL), &why),
		  "and the new secret verifies it too: %s", why);
	cr_assert_not(whreceiver_verify(d.signature, d.body, d.body_len, (const char *const[]){"whsec_other"}, 1,
					(long long)time(NULL), &why));
	whreceiver_delivery_free(&d);
	wh_world_end(&w);
}

/* ---- forbidden targets outside demo projects ---- */

#define PROD_PROJECT "fluxori-whtest"

static long emulator_post(const char *url, const char *body)
{
	const char *h[] = {"Content-Type: application/json", "Authorization: Bearer owner", NULL};
	struct http_resp *r = http_url("POST", url, h, body, strlen(body));
	long s = r->status;

	http_resp_free(r);
	return s;
}

/* An admin of org in PROD_PROJECT made directly in the emulators, with a token the instance trusts. */
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

Test(webhooks, every_forbidden_target_is_refused_at_creation_outside_demo_projects, .timeout = 300)
{
	static const char *const bad[] = {
		"https://10.1.2.3/hook",
		"https://172.16.0.1/hook",
		"https://172.31.255.254/hook",
		"https://192.168.1.10/hook",
		"https://169.254.169.254/latest/meta-data/",
		"https://169.254.10.10/hook",
		"https://100.64.0.1/hook",
		"https://127.0.0.1/hook",
		"https://[::1]/hook",
		"https://[fd00::1]/hook",
		"https://[fe80::1]/hook",
		"https://[::ffff:10.0.0.1]/hook",
		"https://metadata.google.internal/computeMetadata/v1/",
		"https://localhost/hook", /* a DNS name that resolves to loopback */
		"http://93.184.215.14/hook", /* plain http outside demo projects */
		"https://user:pw@93.184.215.14/hook",
	};
	struct testserver *certs = test_cert_server();
	struct instance api;
	struct whworld w = {0};
	char extra[1024], keyfile[256], uid[64], org[64], body[600];
	char *token;
	FILE *f;

	snprintf(keyfile, sizeof(keyfile), "%s/whtest.key",
		 test_env("FLUXORI_TEST_RUN") ? test_env("FLUXORI_TEST_RUN") : "/tmp");
	cr_assert_not_null(f = fopen(keyfile, "w"));
	fputs("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", f);
	fclose(f);
	snprintf(extra, sizeof(extra),
		 "GOOGLE_CLOUD_PROJECT=" PROD_PROJECT "\nFLUXORI_BUCKET=" PROD_PROJECT ".appspot.com\n"
		 "FLUXORI_AUTH_EMULATOR_TOKENS=\nFLUXORI_FIREBASE_KEYS_URL=%s/certs\nFLUXORI_SECRETS_KEY_FILE=%s\n",
		 ts_url(certs), keyfile);
	instance_start(&api, extra);
	w.base = api.base;
	snprintf(uid, sizeof(uid), "whprod%s", test_unique());
	snprintf(org, sizeof(org), "orgwh%s", test_unique());
	token = prod_admin(uid, org);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct http_resp *r;
		snprintf(body, sizeof(body), "{\"url\":\"%s\",\"events\":[\"order.created\"]}", bad[i]);
		r = wh_call(&w, "POST", "/v1/webhooks", token, body);
		cr_assert_eq(r->status, 400, "%s: %ld %s", bad[i], r->status, r->body);
		cr_assert_str_eq(json_str(r, "error.details.0.field"), "url", "%s: %s", bad[i], r->body);
		http_resp_free(r);
	}
	/* The refusal is the rule, not the caller: the same admin may subscribe a public https URL... */
	{
		struct http_resp *r;
		r = wh_call(&w, "GET", "/v1/webhooks", token, NULL);
		cr_assert_eq(r->status, 200, "%s", r->body);
		cr_assert_eq(json_object_array_length(json_object_object_get(r->json, "data")), 0,
			     "nothing written: %s", r->body);
		http_resp_free(r);
	}
	free(token);
	instance_stop(&api);
	ts_stop(certs);
}

Test(webhooks, the_secret_never_reaches_the_workers_log, .timeout = 180)
{
	struct whworld w;
	char wid[64], secret[128], fresh[128], pid[64], path[300];
	struct http_resp *r;

	wh_world_new(&w, "whlog");
	wh_product(&w, "LOG", 10, pid, sizeof(pid));
	wh_subscribe(&w, whreceiver_url(w.recv), "[\"product.stock_changed\"]", wid, sizeof(wid), secret,
		     sizeof(secret));
	snprintf(path, sizeof(path), "/v1/webhooks/%s:rotateSecret", wid);
	r = http_json("POST", path, w.owner.id_token, NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	snprintf(fresh, sizeof(fresh), "%s", json_str(r, "secret"));
	http_resp_free(r);
	whreceiver_set_secrets(w.recv, (const char *const[]){fresh}, 1);
	cr_assert_eq(wh_adjust(&w, pid, -1), 200);
	cr_assert(wh_deliver_until(&w, 1, 90000));
	/* The whole secret, and its random part alone, are in no log line of the run. */
	cr_assert_eq(test_sh("test -s \"$FLUXORI_RUN_DIR/workers.log\""), 0, "the workers' log is there to search");
	cr_assert_eq(
		test_sh("grep -rqF -e '%s' -e '%s' -e '%s' \"$FLUXORI_RUN_DIR\"/*.log", secret, secret + 6, fresh + 6),
		1, "a webhook secret reached a log under the run directory");
	wh_world_end(&w);
}

Test(webhooks, the_demo_exception_is_loopback_literals_only, .timeout = 120)
{
	static const char *const bad[] = {
		"https://10.1.2.3/hook",	   "https://172.16.0.1/hook",		"https://192.168.1.10/hook",
		"https://169.254.169.254/latest/", "https://100.64.0.1/hook",		"https://[fd00::1]/hook",
		"https://[fe80::1]/hook",	   "https://metadata.google.internal/", "https://localhost/hook",
		"http://localhost/hook",
	};
	struct whworld w;
	struct http_resp *r;

	wh_world_new(&w, "whdemo");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = create(w.owner.id_token, bad[i], "[\"order.created\"]", NULL);
		assert_error(r, 400, "INVALID_ARGUMENT", "url");
		http_resp_free(r);
	}
	cr_assert_eq(list_len(w.owner.id_token), 0, "nothing written");
	r = create(w.owner.id_token, "http://127.0.0.1:9/hook", "[\"order.created\"]", NULL);
	cr_assert_eq(r->status, 201, "a loopback literal is the demo project's exception: %s", r->body);
	http_resp_free(r);
	wh_world_end(&w);
}

Test(webhooks, a_hang_past_10_s_is_a_failed_attempt_retried_with_the_same_id_and_slow_is_fine, .timeout = 240)
{
	struct whworld w;
	char wid[64], secret[128], pid[64], first[128];
	struct whreceiver_delivery d;
	json_object *log, *e;
	long long latency = -1;

	wh_world_new(&w, "whhang");
	wh_product(&w, "HANG", 10, pid, sizeof(pid));
	wh_subscribe(&w, whreceiver_url(w.recv), "[\"product.stock_changed\"]", wid, sizeof(wid), secret,
		     sizeof(secret));
	/* The event of the product's first stock, then hang: the job gives up after its 10 s and returns. */
	cr_assert(wh_deliver_until(&w, 1, 90000));
	whreceiver_clear(w.recv);
	whreceiver_delay(w.recv, 60000);
	cr_assert_eq(wh_adjust(&w, pid, -1), 200);
	cr_assert_eq(wh_run(&w), 200, "the run ends although the receiver never answers");
	cr_assert_geq(whreceiver_count(w.recv), 1);
	cr_assert_eq(whreceiver_accepted(w.recv), 0);
	cr_assert(whreceiver_get(w.recv, 0, &d));
	snprintf(first, sizeof(first), "%s", d.delivery);
	whreceiver_delivery_free(&d);
	log = deliveries(&w, wid);
	e = json_object_array_get_idx(log, 0);
	cr_assert_str_eq(jstr(e, "eventId"), first, "%s", json_object_to_json_string(log));
	cr_assert_str_eq(jstr(e, "status"), "pending", "retried later: %s", json_object_to_json_string(log));
	cr_assert_not_null(jstr(e, "error"), "the log says why: %s", json_object_to_json_string(log));
	json_object_put(log);

	/* Slow but within 10 s: delivered, the same id, and the log shows the time it took. */
	whreceiver_delay(w.recv, 2500);
	cr_assert(wh_deliver_until(&w, 1, 120000), "delivered once the receiver answers in time");
	cr_assert_eq(whreceiver_accepted_id(w.recv, first), 1, "the retry carried the same X-Fluxori-Delivery");
	log = deliveries(&w, wid);
	for (size_t i = 0; i < json_object_array_length(log); i++) {
		e = json_object_array_get_idx(log, i);
		if (jstr(e, "eventId") && strcmp(jstr(e, "eventId"), first) == 0)
			latency = json_object_get_int64(json_object_object_get(e, "latencyMs"));
	}
	cr_assert_geq(latency, 2500, "latencyMs of the delivered attempt: %s", json_object_to_json_string(log));
	json_object_put(log);
	whreceiver_delay(w.recv, 0);
	wh_world_end(&w);
}

/* ---- the windows, moved through time in the emulator instead of waited for ---- */

/* Runs the job until the receiver saw n requests in all; fails the test after deadline_s. */
static void run_until_seen(struct whworld *w, size_t n, int deadline_s)
{
	for (time_t end = time(NULL) + deadline_s; whreceiver_count(w->recv) < n && time(NULL) < end;
	     usleep(200 * 1000))
		wh_run(w);
	cr_assert_geq(whreceiver_count(w->recv), n, "the receiver saw %zu requests, not %zu", whreceiver_count(w->recv),
		      n);
}

/* The X-Fluxori-Delivery of the receiver's request i into id. */
static void seen_id(struct whworld *w, size_t i, char *id, size_t len)
{
	struct whreceiver_delivery d;

	cr_assert(whreceiver_get(w->recv, i, &d));
	snprintf(id, len, "%s", d.delivery);
	whreceiver_delivery_free(&d);
}

/*
 * Subscribes to product.stock_changed of a new product and lets the
 * product's first event through, so that the receiver starts empty with
 * one event of the product already delivered.
 */
static void stock_world(struct whworld *w, const char *prefix, char *wid, size_t wid_len, char *secret,
			size_t secret_len, char *pid, size_t pid_len)
{
	wh_world_new(w, prefix);
	wh_product(w, prefix, 10, pid, pid_len);
	wh_subscribe(w, whreceiver_url(w->recv), "[\"product.stock_changed\"]", wid, wid_len, secret, secret_len);
	cr_assert(wh_deliver_until(w, 1, 90000), "the product's first event is delivered");
	whreceiver_clear(w->recv);
}

Test(webhooks, a_failing_delivery_is_retried_within_the_give_up_window_and_given_up_after_it, .timeout = 240)
{
	struct whworld w;
	struct fx_webhook_windows win;
	char wid[64], secret[128], pid[64], eid[128], rel[512], path[300];
	json_object *doc, *log;
	bool failed_shown = false;
	size_t seen;

	fx_webhook_windows(&win); /* the stack's windows: the workers read the same environment */
	stock_world(&w, "whgiveup", wid, sizeof(wid), secret, sizeof(secret), pid, sizeof(pid));
	whreceiver_fail(w.recv, -1, 500);
	cr_assert_eq(wh_adjust(&w, pid, -1), 200);
	run_until_seen(&w, 1, 90);
	seen_id(&w, 0, eid, sizeof(eid));
	snprintf(rel, sizeof(rel), "organizations/%s/webhooks/%s/deliveries/%s", w.org, wid, eid);
	doc = fs_read(rel);
	cr_assert_str_eq(fs_str(doc, "status"), "pending", "a failed attempt is retried");
	cr_assert_gt(fs_time(doc, "nextAt"), fs_time(doc, "at"), "the next attempt is after this one");
	json_object_put(doc);

	/* A minute before the window ends (the event that old, its next attempt due): tried, still pending. */
	fs_write_time(rel, "createdAt", time(NULL) - (time_t)win.give_up_s + 60);
	fs_write_time(rel, "nextAt", time(NULL) - 1);
	seen = whreceiver_count(w.recv);
	run_until_seen(&w, seen + 1, 60);
	doc = fs_read(rel);
	cr_assert_str_eq(fs_str(doc, "status"), "pending", "inside the window: retried again");
	cr_assert_eq(fs_int(doc, "attempt"), 2);
	json_object_put(doc);

	/* The window passed: the next failure gives the delivery up, shown as failed, never tried again. */
	fs_write_time(rel, "createdAt", time(NULL) - (time_t)win.give_up_s - 1);
	fs_write_time(rel, "nextAt", time(NULL) - 1);
	seen = whreceiver_count(w.recv);
	run_until_seen(&w, seen + 1, 60);
	doc = fs_read(rel);
	cr_assert_str_eq(fs_str(doc, "status"), "failed", "given up after the window");
	cr_assert_eq(json_object_get_boolean(fs_field(doc, "pending")), 0);
	cr_assert_eq(fs_int(doc, "attempt"), 3);
	cr_assert_eq(fs_int(doc, "statusCode"), 500);
	json_object_put(doc);
	seen = whreceiver_count(w.recv);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(wh_run(&w), 200);
	cr_assert_eq(whreceiver_count(w.recv), seen, "a given-up delivery is not tried again");
	log = deliveries(&w, wid);
	for (size_t i = 0; i < json_object_array_length(log); i++) {
		json_object *e = json_object_array_get_idx(log, i);

		if (jstr(e, "eventId") && strcmp(jstr(e, "eventId"), eid) == 0)
			failed_shown = jstr(e, "status") && strcmp(jstr(e, "status"), "failed") == 0;
	}
	cr_assert(failed_shown, "admins see it failed: %s", json_object_to_json_string(log));
	json_object_put(log);

	/* The product's next event is not held behind the given-up one. (Re-enabling resets the failure
	 * clock, so that the stack's short disable window cannot end the subscription meanwhile.) */
	whreceiver_fail(w.recv, 0, 500);
	snprintf(path, sizeof(path), "/v1/webhooks/%s", wid);
	http_resp_free(http_json("PATCH", path, w.owner.id_token, "{\"enabled\":true}"));
	cr_assert_eq(wh_adjust(&w, pid, -1), 200);
	cr_assert(wh_deliver_until(&w, 1, 90000), "the next event of the resource is delivered");
	wh_world_end(&w);
}

Test(webhooks, the_previous_secret_signs_for_the_rotation_window_and_not_after_it, .timeout = 180)
{
	struct whworld w;
	struct fx_webhook_windows win;
	char wid[64], old[128], fresh[128], pid[64], path[300], rel[300];
	struct whreceiver_delivery d;
	struct http_resp *r;
	json_object *doc;
	const char *why = NULL;
	time_t before, after;

	fx_webhook_windows(&win);
	stock_world(&w, "whrotend", wid, sizeof(wid), old, sizeof(old), pid, sizeof(pid));
	snprintf(path, sizeof(path), "/v1/webhooks/%s:rotateSecret", wid);
	before = time(NULL);
	r = http_json("POST", path, w.owner.id_token, NULL);
	after = time(NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	snprintf(fresh, sizeof(fresh), "%s", json_str(r, "secret"));
	http_resp_free(r);
	whreceiver_set_secrets(w.recv, (const char *const[]){fresh, old}, 2);

	/* The old secret keeps signing for the rotation window (24 h unless the environment says otherwise). */
	snprintf(rel, sizeof(rel), "organizations/%s/webhooks/%s", w.org, wid);
	doc = fs_read(rel);
	cr_assert_geq(fs_time(doc, "previousSecretUntil"), (long long)(before + win.rotation_s));
	cr_assert_leq(fs_time(doc, "previousSecretUntil"), (long long)(after + win.rotation_s));
	json_object_put(doc);

	/* That moment passed: one v1, the new secret's; the old one no longer verifies. */
	fs_write_time(rel, "previousSecretUntil", time(NULL) - 1);
	cr_assert_eq(wh_adjust(&w, pid, -1), 200);
	cr_assert(wh_deliver_until(&w, 1, 90000));
	cr_assert(whreceiver_get(w.recv, 0, &d));
	cr_assert_null(strstr(strstr(d.signature, "v1=") + 3, "v1="), "one v1 entry: %s", d.signature);
	cr_assert(whreceiver_verify(d.signature, d.body, d.body_len, (const char *const[]){fresh}, 1,
				    (long long)time(NULL), &why),
		  "the new secret verifies it: %s", why);
	cr_assert_not(whreceiver_verify(d.signature, d.body, d.body_len, (const char *const[]){old}, 1,
					(long long)time(NULL), &why),
		      "the old secret does not any more");
	whreceiver_delivery_free(&d);
	wh_world_end(&w);
}

Test(webhooks, a_2xx_answer_over_64_kib_is_a_delivery_its_body_ignored, .timeout = 180)
{
	struct whworld w;
	char wid[64], secret[128], pid[64], eid[128], rel[512];
	json_object *doc;

	stock_world(&w, "whbig", wid, sizeof(wid), secret, sizeof(secret), pid, sizeof(pid));
	whreceiver_pad(w.recv, 1024 * 1024); /* 1 MiB of answer: sixteen times what is read */
	cr_assert_eq(wh_adjust(&w, pid, -1), 200);
	run_until_seen(&w, 1, 90);
	seen_id(&w, 0, eid, sizeof(eid));
	for (int i = 0; i < 3; i++)
		cr_assert_eq(wh_run(&w), 200, "the job keeps running");
	snprintf(rel, sizeof(rel), "organizations/%s/webhooks/%s/deliveries/%s", w.org, wid, eid);
	doc = fs_read(rel);
	cr_assert_str_eq(fs_str(doc, "status"), "delivered", "the receiver answered 200: %s",
			 json_object_to_json_string(doc));
	cr_assert_eq(fs_int(doc, "statusCode"), 200);
	cr_assert_eq(fs_int(doc, "attempt"), 1);
	json_object_put(doc);
	cr_assert_eq(whreceiver_count(w.recv), 1, "delivered once, not retried");
	/* And the subscription's bookkeeping is a success's. */
	snprintf(rel, sizeof(rel), "organizations/%s/webhooks/%s", w.org, wid);
	doc = fs_read(rel);
	cr_assert_null(fs_str(doc, "failingSince"), "%s", json_object_to_json_string(doc));
	json_object_put(doc);
	wh_world_end(&w);
}

Test(webhooks, a_deleted_subscription_gets_nothing_more_and_its_log_is_cleaned_up, .timeout = 240)
{
	struct whworld w;
	char wid[64], secret[128], pid[64], eid[128], rel[512], path[300];
	struct http_resp *r;
	json_object *doc;
	size_t seen;

	stock_world(&w, "whgone", wid, sizeof(wid), secret, sizeof(secret), pid, sizeof(pid));
	whreceiver_fail(w.recv, -1, 500);
	cr_assert_eq(wh_adjust(&w, pid, -1), 200);
	run_until_seen(&w, 1, 90);
	seen_id(&w, 0, eid, sizeof(eid));
	snprintf(path, sizeof(path), "/v1/webhooks/%s", wid);
	r = http_json("DELETE", path, w.owner.id_token, NULL);
	cr_assert_eq(r->status, 204, "%s", r->body);
	http_resp_free(r);

	/* Its pending delivery is never sent again, the receiver recovered or not. */
	whreceiver_fail(w.recv, 0, 500);
	snprintf(rel, sizeof(rel), "organizations/%s/webhooks/%s/deliveries/%s", w.org, wid, eid);
	fs_write_time(rel, "nextAt", time(NULL) - 1);
	seen = whreceiver_count(w.recv);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(wh_run(&w), 200);
	cr_assert_eq(whreceiver_count(w.recv), seen, "nothing goes to a deleted subscription");

	/* Its log stays until the cleanup job's 30 days, like any other subscription's, then goes. */
	doc = fs_read(rel);
	cr_assert_not_null(doc, "the log outlives the subscription until the cleanup");
	json_object_put(doc);
	fs_write_time(rel, "createdAt", time(NULL) - 31 * 86400);
	r = http_json("POST", "/v1/jobs/cleanup", w.owner.id_token, NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_geq(json_int(r, "summary.webhookDeliveriesRemoved"), 1, "%s", r->body);
	http_resp_free(r);
	cr_assert_null(fs_read(rel), "a deleted subscription's old deliveries are removed too");
	wh_world_end(&w);
}
