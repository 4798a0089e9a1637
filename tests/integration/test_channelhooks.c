/*
 * POST /v1/channels/{id}/webhooks through nginx: each channel's order
 * webhook, signed as the channel signs it (lib/sig over the exact bytes
 * sent), becomes one order with the channel's totals; a wrong or missing
 * signature is 401, a replayed delivery 200 duplicate, a body over 1 MiB
 * 413, a malformed signed body 400, each writing nothing; WooCommerce's
 * ping is 200 and writes nothing; a cancellation cancels and releases; and
 * 200 deliveries of 50 orders, each sent 2 to 5 times at once, make
 * exactly 50 orders with stock reserved once per line; the cleanup job
 * deletes delivery markers older than 7 days and keeps the rest.
 */
#include "chanorder.h"
#include "client.h"
#include "config.h"
#include "keylock.h"
#include "sig.h"

#include <criterion/criterion.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HOOK_SECRET "whsec_h00k\xc3\xa9-orders-9f3a" /* multi-byte UTF-8, as a merchant may paste */

struct tenant {
	struct test_user owner;
	char org[64];
	char cid[64];
};

static void tenant_new(struct tenant *t, const char *prefix)
{
	test_owner_signup(&t->owner, prefix, "Hook Traders", t->org, sizeof(t->org));
}

/* A channel of type pointed at nowhere (no call is made here), with the test's webhook secret. */
static void channel_new(struct tenant *t, const char *type)
{
	char body[1024];
	struct http_resp *r;
	const char *settings =
		strcmp(type, "shopify") == 0
			? "{\"shopDomain\":\"hooks.myshopify.com\",\"locationId\":\"42\",\"baseUrl\":"
			  "\"http://127.0.0.1:9\"}"
		: strcmp(type, "woocommerce") == 0
			? "{\"siteUrl\":\"https://shop.example.co.za\",\"baseUrl\":\"http://127.0.0.1:9\"}"
			: "{\"baseUrl\":\"http://127.0.0.1:9\"}";
	const char *creds =
		strcmp(type, "shopify") == 0 ? "{\"accessToken\":\"shpat_t0kenAAAA1234\"}"
		: strcmp(type, "woocommerce") == 0
			? "{\"consumerKey\":\"ck_c0nsumerKey1234\",\"consumerSecret\":\"cs_c0nsumer5ecret1234\"}"
			: "{\"apiKey\":\"tk_ap1KeyDDDD8b4a\"}";

	snprintf(body, sizeof(body),
		 "{\"type\":\"%s\",\"name\":\"%s\",\"settings\":%s,\"credentials\":%s,"
		 "\"webhookSecret\":\"" HOOK_SECRET "\"}",
		 type, type, settings, creds);
	r = http_json("POST", "/v1/channels", t->owner.id_token, body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	snprintf(t->cid, sizeof(t->cid), "%s", json_str(r, "id"));
	http_resp_free(r);
}

static void product(const struct tenant *t, const char *sku, int stock, char *id, size_t len)
{
	char body[300];

	snprintf(body, sizeof(body), "{\"sku\":\"%s\",\"name\":\"Item %s\",\"priceCents\":1000,\"status\":\"active\"}",
		 sku, sku);
	test_product_stocked(t->owner.id_token, body, stock, id, len);
}

static void listing(const struct tenant *t, const char *pid, const char *external_id)
{
	char path[300], body[200];
	struct http_resp *r;

	snprintf(path, sizeof(path), "/v1/channels/%s/listings", t->cid);
	snprintf(body, sizeof(body), "{\"productId\":\"%s\",\"externalId\":\"%s\"}", pid, external_id);
	r = http_json("POST", path, t->owner.id_token, body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	http_resp_free(r);
}

enum kind { SHOPIFY, WOO, TAKEALOT };

/*
 * Delivers body to the channel's webhook URL as the channel does: its
 * signature header over exactly these bytes (sig: NULL signs with the
 * secret, "" sends none, anything else is sent as is), delivery id and topic.
 */
static struct http_resp *deliver(const struct tenant *t, enum kind k, const char *body, size_t len,
				 const char *delivery, const char *topic, const char *sig)
{
	static const char *const sig_h[] = {"X-Shopify-Hmac-Sha256", "X-WC-Webhook-Signature", "X-Takealot-Signature"};
	static const char *const id_h[] = {"X-Shopify-Webhook-Id", "X-WC-Webhook-Delivery-ID", "X-Takealot-Delivery"};
	static const char *const topic_h[] = {"X-Shopify-Topic", "X-WC-Webhook-Topic", "X-Takealot-Event"};
	char mac[128], h_sig[256], h_id[256], h_topic[256], path[200];
	const char *extra[4] = {NULL};
	size_t n = 0;

	if (!sig) {
		cr_assert_eq(fx_sig_hmac_sha256(HOOK_SECRET, strlen(HOOK_SECRET), body, len,
						k == TAKEALOT ? FX_SIG_HEX : FX_SIG_BASE64, mac, sizeof(mac)),
			     0);
		sig = mac;
	}
	if (sig[0]) {
		snprintf(h_sig, sizeof(h_sig), "%s: %s", sig_h[k], sig);
		extra[n++] = h_sig;
	}
	if (delivery) {
		snprintf(h_id, sizeof(h_id), "%s: %s", id_h[k], delivery);
		extra[n++] = h_id;
	}
	if (topic) {
		snprintf(h_topic, sizeof(h_topic), "%s: %s", topic_h[k], topic);
		extra[n++] = h_topic;
	}
	snprintf(path, sizeof(path), "/v1/channels/%s/webhooks", t->cid);
	return http_do("POST", path, NULL, "application/json", body, len, extra);
}

static char *fixture(const char *name)
{
	char path[512];
	char *s;

	snprintf(path, sizeof(path), "%s/tests/data/channels/%s", test_env("FLUXORI_SRCDIR"), name);
	s = test_slurp(path);
	cr_assert_not_null(s, "%s", path);
	return s;
}

static long long stock(const struct tenant *t, const char *pid, const char *field)
{
	char path[300];
	struct http_resp *r;
	long long n;

	snprintf(path, sizeof(path), "/v1/products/%s", pid);
	r = http_get(path, t->owner.id_token);
	n = json_int(r, field);
	http_resp_free(r);
	return n;
}

/* The organization's orders (at most 100, one page), as a JSON array reference the caller puts. */
static json_object *orders(const struct tenant *t)
{
	struct http_resp *r = http_get("/v1/orders?pageSize=100", t->owner.id_token);
	json_object *data;

	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_null(json_object_object_get(r->json, "nextPageToken"), "one page holds them all");
	data = json_object_get(json_object_object_get(r->json, "data"));
	http_resp_free(r);
	return data;
}

static size_t norders(const struct tenant *t)
{
	json_object *a = orders(t);
	size_t n = json_object_array_length(a);

	json_object_put(a);
	return n;
}

static int flag(const struct http_resp *r, const char *key)
{
	json_object *v = json_object_object_get(r->json, key);

	return v && json_object_is_type(v, json_type_boolean) ? json_object_get_boolean(v) : -1;
}

static size_t insights_of(const struct tenant *t, const char *type, const char *pid)
{
	char path[300];
	struct http_resp *r;
	json_object *data;
	size_t n = 0;

	snprintf(path, sizeof(path), "/v1/insights?type=%s", type);
	r = http_get(path, t->owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	data = json_object_object_get(r->json, "data");
	for (size_t i = 0; i < json_object_array_length(data); i++) {
		const char *p =
			json_object_get_string(json_object_object_get(json_object_array_get_idx(data, i), "productId"));

		n += p && strcmp(p, pid) == 0;
	}
	http_resp_free(r);
	return n;
}

/* The status of the organization's insight of type for product pid ("" when there is none). */
static void insight_status(const struct tenant *t, const char *type, const char *pid, char *out, size_t len)
{
	char path[300];
	struct http_resp *r;
	json_object *data;

	snprintf(path, sizeof(path), "/v1/insights?type=%s", type);
	r = http_get(path, t->owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	data = json_object_object_get(r->json, "data");
	out[0] = '\0';
	for (size_t i = 0; i < json_object_array_length(data); i++) {
		json_object *in = json_object_array_get_idx(data, i);
		const char *p = json_object_get_string(json_object_object_get(in, "productId"));

		if (p && strcmp(p, pid) == 0)
			snprintf(out, len, "%s", json_object_get_string(json_object_object_get(in, "status")));
	}
	http_resp_free(r);
}

Test(channelhooks, a_shopify_order_webhook_makes_one_order_with_the_channels_totals_oversold_flagged)
{
	struct tenant t;
	char tea[64], kettle[64], path[300], oid[64];
	char *body = fixture("shopify_orders_create.json");
	struct http_resp *r;

	tenant_new(&t, "hookshop");
	channel_new(&t, "shopify");
	product(&t, "TEA-ROO-250", 10, tea, sizeof(tea));
	product(&t, "KET-CLS-SLV", 0, kettle, sizeof(kettle)); /* sold out here, sold on Shopify */
	r = deliver(&t, SHOPIFY, body, strlen(body), "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043", "orders/create", NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "result"), "created", "%s", r->body);
	cr_assert_eq(flag(r, "oversold"), 1, "%s", r->body);
	snprintf(oid, sizeof(oid), "%s", json_str(r, "orderId"));
	http_resp_free(r);
	snprintf(path, sizeof(path), "/v1/orders/%s", oid);
	r = http_get(path, t.owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(json_int(r, "totalCents"), 164899, "Shopify's total_price 1648.99, not recomputed");
	cr_assert_eq(json_int(r, "shippingCents"), 9999);
	cr_assert_eq(json_int(r, "vatCents"), 21509, "164899 x 15/115 = 21508.56");
	cr_assert_str_eq(json_str(r, "channel"), "shopify");
	cr_assert_str_eq(json_str(r, "channelId"), t.cid);
	cr_assert_str_eq(json_str(r, "externalId"), "820982911946154508");
	cr_assert_str_eq(json_str(r, "items.0.productId"), tea, "by SKU");
	cr_assert_eq(json_int(r, "items.0.quantity"), 2);
	cr_assert_str_eq(json_str(r, "items.1.productId"), kettle);
	cr_assert_eq(json_int(r, "items.1.backorderedQuantity"), 1);
	cr_assert_str_eq(json_str(r, "status"), "pending");
	http_resp_free(r);
	cr_assert_eq(stock(&t, tea, "stock.reserved"), 2);
	cr_assert_eq(stock(&t, kettle, "stock.reserved"), 0);
	cr_assert_eq(insights_of(&t, "oversold", kettle), 1, "a critical oversold insight for the kettle");
	cr_assert_eq(insights_of(&t, "oversold", tea), 0);

	/* The merchant confirms; ship is 409 until a kettle is received and allocated. */
	snprintf(path, sizeof(path), "/v1/orders/%s:confirm", oid);
	r = http_json("POST", path, t.owner.id_token, "{}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	http_resp_free(r);
	snprintf(path, sizeof(path), "/v1/orders/%s:ship", oid);
	r = http_json("POST", path, t.owner.id_token, "{}");
	cr_assert_eq(r->status, 409, "%s", r->body);
	cr_assert_str_eq(json_str(r, "error.details.0.field"), "items[1].backorderedQuantity", "%s", r->body);
	http_resp_free(r);
	snprintf(path, sizeof(path), "/v1/products/%s/stock:adjust", kettle);
	r = http_json("POST", path, t.owner.id_token, "{\"delta\":1,\"reason\":\"received\"}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	http_resp_free(r);
	snprintf(path, sizeof(path), "/v1/orders/%s:allocate", oid);
	r = http_json("POST", path, t.owner.id_token, "{}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(flag(r, "oversold"), 0, "%s", r->body);
	cr_assert_eq(json_int(r, "items.1.backorderedQuantity"), 0);
	http_resp_free(r);
	{
		char st[32];

		insight_status(&t, "oversold", kettle, st, sizeof(st));
		cr_assert_str_eq(st, "resolved", "nothing short any more: the order's oversold insight is resolved");
	}
	snprintf(path, sizeof(path), "/v1/orders/%s:ship", oid);
	r = http_json("POST", path, t.owner.id_token, "{}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	http_resp_free(r);
	cr_assert_eq(stock(&t, kettle, "stock.onHand"), 0);
	cr_assert_eq(stock(&t, tea, "stock.onHand"), 8);
	cr_assert_eq(stock(&t, tea, "stock.reserved"), 0);
	free(body);
}

Test(channelhooks, a_woocommerce_order_keeps_unknown_lines_and_its_ping_writes_nothing)
{
	struct tenant t;
	char single[64];
	char *body = fixture("woocommerce_order_updated.json");
	static const char ping[] = "webhook_id=17";
	struct http_resp *r;

	tenant_new(&t, "hookwoo");
	channel_new(&t, "woocommerce");
	product(&t, "WOO-SINGLE-1", 5, single, sizeof(single));
	{
		char path[300];

		snprintf(path, sizeof(path), "/v1/channels/%s/webhooks", t.cid);
		r = http_do("POST", path, NULL, "application/x-www-form-urlencoded", ping, strlen(ping), NULL);
	}
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "result"), "ping");
	http_resp_free(r);
	cr_assert_eq(norders(&t), 0, "the ping wrote nothing");

	r = deliver(&t, WOO, body, strlen(body), "77001", "order.updated", NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "result"), "created", "%s", r->body);
	cr_assert_eq(flag(r, "needsAttention"), 1, "SYI-BLK is neither listed nor a known SKU");
	http_resp_free(r);
	{
		json_object *a = orders(&t), *o = json_object_array_get_idx(a, 0), *items, *l1;

		cr_assert_eq(json_object_array_length(a), 1);
		cr_assert_eq(json_object_get_int64(json_object_object_get(o, "totalCents")), 55000,
			     "WooCommerce's total");
		cr_assert_str_eq(json_object_get_string(json_object_object_get(o, "channel")), "woocommerce");
		items = json_object_object_get(o, "items");
		l1 = json_object_array_get_idx(items, 1);
		cr_assert(json_object_object_get_ex(l1, "productId", NULL) && !json_object_object_get(l1, "productId"),
			  "the unknown line is kept with productId null: %s", json_object_to_json_string(l1));
		json_object_put(a);
	}
	cr_assert_eq(stock(&t, single, "stock.reserved"), 2);
	free(body);
}

/* How many outbox entries of the organization name product pid (read straight from the emulator). */
static int outbox_entries(const struct tenant *t, const char *pid)
{
	const char *h[] = {"Authorization: Bearer owner", NULL};
	char url[600], want[200];
	struct http_resp *r;
	json_object *docs;
	int n = 0;

	snprintf(url, sizeof(url),
		 "http://127.0.0.1:%s/v1/projects/demo-fluxori/databases/(default)/documents/organizations/%s/outbox"
		 "?pageSize=300",
		 test_env("FLUXORI_FIRESTORE_PORT"), t->org);
	snprintf(want, sizeof(want), "%s", pid);
	r = http_url("GET", url, h, NULL, 0);
	cr_assert_eq(r->status, 200, "%s", r->body);
	docs = r->json ? json_object_object_get(r->json, "documents") : NULL;
	for (size_t i = 0; docs && i < json_object_array_length(docs); i++) {
		json_object *f = json_object_object_get(json_object_array_get_idx(docs, i), "fields");
		json_object *res = json_object_object_get(json_object_object_get(f, "resource"), "stringValue");
		json_object *kind = json_object_object_get(json_object_object_get(f, "kind"), "stringValue");

		n += res && kind && strcmp(json_object_get_string(res), want) == 0 &&
		     strcmp(json_object_get_string(kind), "stock") == 0;
	}
	http_resp_free(r);
	return n;
}

/* A Takealot sale event of order oid: one item of offer qty units at price rands, in status. */
static int takealot_body(char *out, size_t len, long oid, const char *offer, int qty, int price, const char *status)
{
	return snprintf(out, len,
			"{\"order_id\":%ld,\"sales\":[{\"order_item_id\":%ld1,\"order_id\":%ld,\"order_date\":"
			"\"2026-12-02T11:00:00+02:00\",\"sale_status\":\"%s\",\"offer_id\":%s,\"sku\":\"TK-%s\","
			"\"product_title\":\"Offer %s\",\"selling_price\":%d,\"quantity\":%d}]}",
			oid, oid, oid, status, offer, offer, offer, price, qty);
}

Test(channelhooks, a_takealot_cancellation_cancels_the_order_and_releases_its_stock)
{
	struct tenant t;
	char pid[64], body[1024];
	struct http_resp *r;
	int n;

	tenant_new(&t, "hooktak");
	channel_new(&t, "takealot");
	product(&t, "ROOIBOS", 10, pid, sizeof(pid));
	listing(&t, pid, "91625339");
	n = takealot_body(body, sizeof(body), 100234999, "91625339", 3, 159, "Accepted");
	r = deliver(&t, TAKEALOT, body, (size_t)n, "3f1e0c1a-0001", "New Leadtime Order", NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "result"), "created", "%s", r->body);
	http_resp_free(r);
	cr_assert_eq(stock(&t, pid, "stock.reserved"), 3, "the listing's offer id mapped the line");
	/* Listed: the listing's first push, and the reservation's change of available, each in its commit. */
	cr_assert_eq(outbox_entries(&t, pid), 2, "listing create + order reservation");
	{
		json_object *a = orders(&t), *o = json_object_array_get_idx(a, 0);

		cr_assert_eq(json_object_get_int64(json_object_object_get(o, "totalCents")), 3 * 15900, "whole rands");
		json_object_put(a);
	}
	/* The same delivery again (Takealot retries): 200, nothing written. */
	r = deliver(&t, TAKEALOT, body, (size_t)n, "3f1e0c1a-0001", "New Leadtime Order", NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "result"), "duplicate");
	http_resp_free(r);
	n = takealot_body(body, sizeof(body), 100234999, "91625339", 3, 159, "Cancelled by Customer");
	r = deliver(&t, TAKEALOT, body, (size_t)n, "3f1e0c1a-0002", "Sale Status Changed", NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "result"), "updated", "%s", r->body);
	http_resp_free(r);
	cr_assert_eq(stock(&t, pid, "stock.reserved"), 0, "cancelled on Takealot: released");
	cr_assert_eq(outbox_entries(&t, pid), 3, "the release owes Takealot a push too");
	cr_assert_eq(stock(&t, pid, "stock.onHand"), 10);
	{
		json_object *a = orders(&t), *o = json_object_array_get_idx(a, 0);

		cr_assert_eq(json_object_array_length(a), 1);
		cr_assert_str_eq(json_object_get_string(json_object_object_get(o, "status")), "cancelled");
		json_object_put(a);
	}
}

Test(channelhooks, bad_deliveries_are_refused_as_the_contract_says_and_write_nothing)
{
	struct tenant t;
	char pid[64], body[1024], path[200];
	struct http_resp *r;
	size_t big = 1024 * 1024 + 1;
	char *huge;
	int n;

	tenant_new(&t, "hookbad");
	channel_new(&t, "takealot");
	product(&t, "BAD-1", 10, pid, sizeof(pid));
	listing(&t, pid, "555");
	n = takealot_body(body, sizeof(body), 42, "555", 1, 100, "Accepted");

	r = deliver(&t, TAKEALOT, body, (size_t)n, "bad-1", "New Order",
		    "00000000000000000000000000000000000000000000000000000000000000ff");
	cr_assert_eq(r->status, 401, "wrong signature: %s", r->body);
	cr_assert_str_eq(json_str(r, "error.status"), "UNAUTHENTICATED");
	http_resp_free(r);
	r = deliver(&t, TAKEALOT, body, (size_t)n, "bad-2", "New Order", "");
	cr_assert_eq(r->status, 401, "missing signature: %s", r->body);
	http_resp_free(r);
	/* Signed over other bytes than those sent (one changed). */
	{
		char mac[80], copy[1024];

		cr_assert_eq(fx_sig_hmac_sha256(HOOK_SECRET, strlen(HOOK_SECRET), body, (size_t)n, FX_SIG_HEX, mac,
						sizeof(mac)),
			     0);
		memcpy(copy, body, (size_t)n + 1);
		copy[n - 5] = '9';
		r = deliver(&t, TAKEALOT, copy, (size_t)n, "bad-3", "New Order", mac);
		cr_assert_eq(r->status, 401, "%s", r->body);
		http_resp_free(r);
	}
	r = deliver(&t, TAKEALOT, "{\"order_id\":42,\"sales\":[{", 25, "bad-4", "New Order", NULL);
	cr_assert_eq(r->status, 400, "malformed signed body: %s", r->body);
	http_resp_free(r);
	n = takealot_body(body, sizeof(body), 42, "555", 0, 100, "Accepted");
	r = deliver(&t, TAKEALOT, body, (size_t)n, "bad-5", "New Order", NULL);
	cr_assert_eq(r->status, 400, "a line of quantity 0: %s", r->body);
	http_resp_free(r);
	huge = malloc(big);
	memset(huge, ' ', big);
	huge[0] = '{';
	huge[big - 1] = '}';
	r = deliver(&t, TAKEALOT, huge, big, "bad-6", "New Order", NULL);
	cr_assert_eq(r->status, 413, "over 1 MiB: %s", r->body);
	http_resp_free(r);
	free(huge);
	snprintf(path, sizeof(path), "/v1/channels/%s/webhooks", "NoSuchChannel0000000");
	r = http_do("POST", path, NULL, "application/json", "{}", 2, NULL);
	cr_assert_eq(r->status, 404, "unknown channel: %s", r->body);
	http_resp_free(r);

	cr_assert_eq(norders(&t), 0, "nothing was written");
	cr_assert_eq(stock(&t, pid, "stock.reserved"), 0);
	/* The first delivery's id was never marked seen: sent properly now, it creates the order. */
	n = takealot_body(body, sizeof(body), 42, "555", 1, 100, "Accepted");
	r = deliver(&t, TAKEALOT, body, (size_t)n, "bad-1", "New Order", NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "result"), "created");
	http_resp_free(r);
}

/* ---- 200 deliveries of 50 orders at once ---- */

#define ORDERS 50
#define DELIVERIES 200
#define THREADS 16

struct delivery {
	long oid;
	char body[1024];
	int len;
	char id[64];
};

struct storm {
	struct tenant *t;
	struct delivery d[DELIVERIES];
	atomic_int next;
	atomic_int ok, duplicate, busy, failed;
};

static void *storm_worker(void *arg)
{
	struct storm *s = arg;
	int i;

	while ((i = atomic_fetch_add(&s->next, 1)) < DELIVERIES) {
		for (int attempt = 0; attempt < 20; attempt++) {
			struct http_resp *r = deliver(s->t, TAKEALOT, s->d[i].body, (size_t)s->d[i].len, s->d[i].id,
						      "New Leadtime Order", NULL);
			long st = r->status;
			const char *res = st == 200 ? json_str(r, "result") : NULL;

			if (st == 200) {
				atomic_fetch_add(&s->ok, 1);
				if (res && strcmp(res, "duplicate") == 0)
					atomic_fetch_add(&s->duplicate, 1);
			}
			http_resp_free(r);
			if (st == 200)
				break;
			/* A channel retries what was not answered 2xx: 409 ABORTED / 503 say "again". */
			if (st != 409 && st != 503) {
				atomic_fetch_add(&s->failed, 1);
				break;
			}
			atomic_fetch_add(&s->busy, 1);
		}
	}
	return NULL;
}

Test(channelhooks, two_hundred_deliveries_of_fifty_orders_at_once_make_fifty_orders_reserved_once, .timeout = 600)
{
	static struct storm s;
	static const int copies[] = {2, 3, 5, 5, 5}; /* 20 deliveries per 5 orders: 200 for 50 */
	struct tenant t;
	char p[3][64];
	pthread_t th[THREADS];
	int k = 0;
	json_object *all;
	long long expected[3] = {0, 0, 0};
	bool seen[ORDERS + 1] = {false};
	int oversold = 0;

	tenant_new(&t, "hookstorm");
	channel_new(&t, "takealot");
	product(&t, "STORM-A", 60, p[0], sizeof(p[0])); /* 50 x 1: covered */
	product(&t, "STORM-B", 20, p[1], sizeof(p[1])); /* 25 x 1: 5 orders short */
	product(&t, "STORM-C", 25, p[2], sizeof(p[2])); /* 25 x 2: half covered */
	listing(&t, p[0], "7001");
	listing(&t, p[1], "7002");
	listing(&t, p[2], "7003");
	memset(&s, 0, sizeof(s));
	s.t = &t;
	for (int o = 0; o < ORDERS; o++) {
		char one[1024];
		int n = snprintf(
			one, sizeof(one),
			"{\"order_id\":%d,\"sales\":[{\"order_item_id\":%d1,\"order_id\":%d,\"sale_status\":"
			"\"Accepted\",\"offer_id\":7001,\"sku\":\"X\",\"product_title\":\"A\",\"selling_price\":10,"
			"\"quantity\":1},{\"order_item_id\":%d2,\"order_id\":%d,\"sale_status\":\"Accepted\","
			"\"offer_id\":%d,\"sku\":\"Y\",\"product_title\":\"B\",\"selling_price\":20,"
			"\"quantity\":%d}]}",
			900000 + o, 900000 + o, 900000 + o, 900000 + o, 900000 + o, o % 2 ? 7003 : 7002, o % 2 ? 2 : 1);

		for (int c = 0; c < copies[o % 5]; c++, k++) {
			s.d[k].oid = 900000 + o;
			memcpy(s.d[k].body, one, (size_t)n + 1);
			s.d[k].len = n;
			/* Retries of one delivery share its id; other events of the order have their own. */
			snprintf(s.d[k].id, sizeof(s.d[k].id), "storm-%d-%d", o, c % 2);
		}
	}
	cr_assert_eq(k, DELIVERIES);
	for (int i = DELIVERIES - 1; i > 0; i--) { /* shuffle: copies of an order arrive together */
		int j = (int)((unsigned)(i * 7919 + 13) % (unsigned)(i + 1));
		struct delivery tmp = s.d[i];

		s.d[i] = s.d[j];
		s.d[j] = tmp;
	}
	for (int i = 0; i < THREADS; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, storm_worker, &s), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	fprintf(stderr, "storm: %d answered 200 (%d duplicate), %d retried after 409/503, %d failed\n",
		atomic_load(&s.ok), atomic_load(&s.duplicate), atomic_load(&s.busy), atomic_load(&s.failed));
	cr_assert_eq(atomic_load(&s.failed), 0);
	cr_assert_eq(atomic_load(&s.ok), DELIVERIES, "every delivery answered 200 in the end");

	all = orders(&t);
	cr_assert_eq(json_object_array_length(all), ORDERS, "exactly one order per channel order");
	for (size_t i = 0; i < json_object_array_length(all); i++) {
		json_object *o = json_object_array_get_idx(all, i), *items = json_object_object_get(o, "items");
		json_object *ov = json_object_object_get(o, "oversold");

		const char *number = json_object_get_string(json_object_object_get(o, "number"));
		int nr = number && strncmp(number, "FX-", 3) == 0 ? atoi(number + 3) : 0;

		cr_assert(nr >= 1 && nr <= ORDERS && !seen[nr], "number %s: 1..50, each once", number);
		seen[nr] = true;
		oversold += ov && json_object_get_boolean(ov);
		for (size_t l = 0; l < json_object_array_length(items); l++) {
			json_object *line = json_object_array_get_idx(items, l), *b;
			const char *pid = json_object_get_string(json_object_object_get(line, "productId"));
			long long q = json_object_get_int64(json_object_object_get(line, "quantity"));

			if (json_object_object_get_ex(line, "backorderedQuantity", &b))
				q -= json_object_get_int64(b);
			for (int x = 0; x < 3; x++)
				if (pid && strcmp(pid, p[x]) == 0)
					expected[x] += q;
		}
	}
	json_object_put(all);
	for (int x = 0; x < 3; x++) {
		cr_assert_eq(stock(&t, p[x], "stock.reserved"), expected[x],
			     "product %d: reserved is exactly what the orders' lines hold", x);
		cr_assert_leq(expected[x], stock(&t, p[x], "stock.onHand"), "never more than on hand");
	}
	cr_assert_eq(expected[0], 50);
	cr_assert_eq(expected[1], 20, "20 on hand, 25 wanted: all 20 reserved, the rest backordered");
	cr_assert_eq(expected[2], 25);
	cr_assert_gt(oversold, 0);
	fprintf(stderr, "storm: %d of 50 orders oversold\n", oversold);
	cr_assert_eq(insights_of(&t, "oversold", p[1]), 1, "one open oversold insight for STORM-B");
	cr_assert_eq(insights_of(&t, "oversold", p[2]), 1);
	cr_assert_eq(insights_of(&t, "oversold", p[0]), 0);
}

static void channel_status(const struct tenant *t, const char *status)
{
	char path[300], body[100];
	struct http_resp *r;

	snprintf(path, sizeof(path), "/v1/channels/%s", t->cid);
	snprintf(body, sizeof(body), "{\"status\":\"%s\"}", status);
	r = http_json("PATCH", path, t->owner.id_token, body);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "status"), status);
	http_resp_free(r);
}

Test(channelhooks, a_paused_channel_answers_200_and_writes_nothing_until_it_is_active_again)
{
	struct tenant t;
	char pid[64], body[1024];
	struct http_resp *r;
	int n;

	tenant_new(&t, "hookpause");
	channel_new(&t, "takealot");
	product(&t, "PAUSE-1", 10, pid, sizeof(pid));
	listing(&t, pid, "8080");
	channel_status(&t, "paused");
	n = takealot_body(body, sizeof(body), 5150, "8080", 2, 99, "Accepted");
	r = deliver(&t, TAKEALOT, body, (size_t)n, "pause-1", "New Order", "");
	cr_assert_eq(r->status, 401, "paused or not, the signature comes first: %s", r->body);
	http_resp_free(r);
	r = deliver(&t, TAKEALOT, body, (size_t)n, "pause-1", "New Order", NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "result"), "paused");
	http_resp_free(r);
	cr_assert_eq(norders(&t), 0);
	cr_assert_eq(stock(&t, pid, "stock.reserved"), 0);
	channel_status(&t, "active");
	/* The delivery a paused channel received was not marked seen: its retry creates the order. */
	r = deliver(&t, TAKEALOT, body, (size_t)n, "pause-1", "New Order", NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "result"), "created");
	http_resp_free(r);
	cr_assert_eq(stock(&t, pid, "stock.reserved"), 2);
}

/* ---- what stays behind a delivery: its marker, the order's insight ---- */

/* The URL of organizations/{org}/channels/{cid}/deliveries/{key of delivery} in the Firestore emulator. */
static void marker_url(const struct tenant *t, const char *delivery, char *url, size_t len)
{
	char key[FX_CHANORDER_ID_LEN + 64];

	fx_chanorder_delivery_key(delivery, key);
	snprintf(url, len,
		 "http://127.0.0.1:%s/v1/projects/demo-fluxori/databases/(default)/documents/organizations/%s/"
		 "channels/%s/deliveries/%s",
		 test_env("FLUXORI_FIRESTORE_PORT"), t->org, t->cid, key);
}

/* The marker of delivery as the emulator has it (status 404 when there is none); the caller frees it. */
static struct http_resp *marker(const struct tenant *t, const char *delivery)
{
	const char *h[] = {"Authorization: Bearer owner", NULL};
	char url[1024];

	marker_url(t, delivery, url, sizeof(url));
	return http_url("GET", url, h, NULL, 0);
}

/* Writes a marker of delivery directly, seen at unix time at, as lib/chanorder writes one. */
static void marker_write(const struct tenant *t, const char *delivery, time_t at)
{
	const char *h[] = {"Content-Type: application/json", "Authorization: Bearer owner", NULL};
	char url[1024], body[512], when[40];
	struct http_resp *r;

	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&at));
	marker_url(t, delivery, url, sizeof(url));
	snprintf(body, sizeof(body),
		 "{\"fields\":{\"organizationId\":{\"stringValue\":\"%s\"},\"topic\":{\"stringValue\":\"New "
		 "Order\"},\"at\":{\"timestampValue\":\"%s\"}}}",
		 t->org, when);
	r = http_url("PATCH", url, h, body, strlen(body));
	cr_assert_eq(r->status, 200, "%s", r->body);
	http_resp_free(r);
}

Test(channelhooks, the_cleanup_job_deletes_delivery_markers_older_than_seven_days_and_keeps_fresh_ones)
{
	struct tenant t;
	char pid[64], body[1024];
	struct http_resp *r;
	int n;

	tenant_new(&t, "hookclean");
	channel_new(&t, "takealot");
	product(&t, "CLEAN-1", 10, pid, sizeof(pid));
	listing(&t, pid, "6601");
	n = takealot_body(body, sizeof(body), 660001, "6601", 1, 100, "Accepted");
	r = deliver(&t, TAKEALOT, body, (size_t)n, "clean-fresh", "New Order", NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "result"), "created", "%s", r->body);
	http_resp_free(r);
	marker_write(&t, "clean-old", time(NULL) - 8 * 24 * 3600);
	marker_write(&t, "clean-six-days", time(NULL) - 6 * 24 * 3600);

	r = http_json("POST", "/v1/jobs/cleanup", t.owner.id_token, NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "status"), "succeeded", "%s", r->body);
	http_resp_free(r);
	r = marker(&t, "clean-old");
	cr_assert_eq(r->status, 404, "an 8-day-old marker is gone: %ld %s", r->status, r->body);
	http_resp_free(r);
	r = marker(&t, "clean-six-days");
	cr_assert_eq(r->status, 200, "a 6-day-old marker stays: %s", r->body);
	http_resp_free(r);
	r = marker(&t, "clean-fresh");
	cr_assert_eq(r->status, 200, "a fresh marker stays: %s", r->body);
	http_resp_free(r);
	/* The fresh delivery, sent again, is still known. */
	r = deliver(&t, TAKEALOT, body, (size_t)n, "clean-fresh", "New Order", NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "result"), "duplicate", "%s", r->body);
	http_resp_free(r);
}

Test(channelhooks, a_delivery_marker_records_the_topic_the_channel_sent)
{
	struct tenant t;
	char pid[64], body[1024];
	struct http_resp *r;
	const char *topic;
	int n;

	tenant_new(&t, "hooktopic");
	channel_new(&t, "takealot");
	product(&t, "TOPIC-1", 10, pid, sizeof(pid));
	listing(&t, pid, "6701");
	n = takealot_body(body, sizeof(body), 670001, "6701", 1, 100, "Accepted");
	r = deliver(&t, TAKEALOT, body, (size_t)n, "topic-1", "New Leadtime Order", NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	http_resp_free(r);
	r = marker(&t, "topic-1");
	cr_assert_eq(r->status, 200, "%s", r->body);
	topic = json_str(r, "fields.topic.stringValue");
	cr_assert_not_null(topic, "%s", r->body);
	cr_assert_str_eq(topic, "New Leadtime Order", "%s", r->body);
	http_resp_free(r);
}

Test(channelhooks, cancelling_an_oversold_order_resolves_its_oversold_insight)
{
	struct tenant t;
	char pid[64], body[1024], path[300], oid[64], st[32];
	struct http_resp *r;
	int n;

	tenant_new(&t, "hookovc");
	channel_new(&t, "takealot");
	product(&t, "OVC-1", 1, pid, sizeof(pid));
	listing(&t, pid, "6801");
	n = takealot_body(body, sizeof(body), 680001, "6801", 3, 100, "Accepted");
	r = deliver(&t, TAKEALOT, body, (size_t)n, "ovc-1", "New Order", NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(flag(r, "oversold"), 1, "%s", r->body);
	snprintf(oid, sizeof(oid), "%s", json_str(r, "orderId"));
	http_resp_free(r);
	insight_status(&t, "oversold", pid, st, sizeof(st));
	cr_assert_str_eq(st, "open");
	snprintf(path, sizeof(path), "/v1/orders/%s:cancel", oid);
	r = http_json("POST", path, t.owner.id_token, "{\"reason\":\"customer changed their mind\"}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	http_resp_free(r);
	insight_status(&t, "oversold", pid, st, sizeof(st));
	cr_assert_str_eq(st, "resolved", "the cancelled order no longer lacks anything");
	cr_assert_eq(stock(&t, pid, "stock.reserved"), 0);
}

/*
 * The channels give a webhook 5 s. While the organization's order queue
 * does not move (here: this test holds its lock, the workers' shared lock
 * table mapped as they map it), a delivery waits about 3 s, then answers
 * 503 UNAVAILABLE with Retry-After, writing nothing and leaving the
 * delivery unseen; sent again once the queue moves, it creates the order.
 */
Test(channelhooks, a_delivery_stuck_behind_the_order_queue_answers_503_and_is_taken_when_retried, .timeout = 120)
{
	static struct fx_config cfg;
	struct tenant t;
	char pid[64], body[1024], dir[600], lock[200];
	const char *run = getenv("FLUXORI_RUN_DIR"), *metrics = getenv("FLUXORI_METRICS_DIR");
	struct fx_err e;
	struct http_resp *r;
	int n;

	cr_assert(run || metrics, "the stack's run directory is not known");
	snprintf(dir, sizeof(dir), "%s", metrics ? metrics : run);
	if (!metrics)
		snprintf(dir, sizeof(dir), "%s/metrics", run);
	setenv("GOOGLE_CLOUD_PROJECT", "demo-fluxori", 1);
	setenv("FLUXORI_METRICS_DIR", dir, 1);
	fx_err_clear(&e);
	cr_assert_eq(fx_config_load(&cfg, "/dev/null", &e), 0, "%s", e.message);
	fx_config_set(&cfg);

	tenant_new(&t, "hookbusy");
	channel_new(&t, "takealot");
	product(&t, "BUSY-1", 10, pid, sizeof(pid));
	listing(&t, pid, "6901");
	n = takealot_body(body, sizeof(body), 690001, "6901", 2, 100, "Accepted");
	snprintf(lock, sizeof(lock), "orders:%s", t.org);
	fx_keylock(lock);
	r = deliver(&t, TAKEALOT, body, (size_t)n, "busy-1", "New Order", NULL);
	fx_keylock_release(lock);
	cr_assert_eq(r->status, 503, "a stuck queue: %ld %s", r->status, r->body);
	cr_assert_str_eq(json_str(r, "error.status"), "UNAVAILABLE", "%s", r->body);
	cr_assert_not_null(http_header(r, "Retry-After"), "%s", r->body);
	http_resp_free(r);
	cr_assert_eq(norders(&t), 0, "nothing was written");
	r = marker(&t, "busy-1");
	cr_assert_eq(r->status, 404, "the delivery is not marked seen: %s", r->body);
	http_resp_free(r);
	cr_assert_eq(stock(&t, pid, "stock.reserved"), 0);

	r = deliver(&t, TAKEALOT, body, (size_t)n, "busy-1", "New Order", NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "result"), "created", "%s", r->body);
	http_resp_free(r);
	cr_assert_eq(stock(&t, pid, "stock.reserved"), 2);
}
