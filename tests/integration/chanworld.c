/*
 * chanworld: what the channel push tests share (see chanworld.h).
 */
#include "chanworld.h"

#include "audit.h"
#include "client.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

void world_new(struct world *w, const char *prefix)
{
	test_owner_signup(&w->owner, prefix, "Push Traders", w->org, sizeof(w->org));
	w->fake = fakechannel_start();
	cr_assert_not_null(w->fake, "the fake channel server starts");
}

/* A channel of type t pointed at the fake, with settings.bufferDefault when >= 0; its id into id. */
void channel_new(const struct world *w, enum fx_channel_type t, int buffer_default, char *id, size_t len)
{
	char body[1200], buf[64] = "";
	struct http_resp *r;

	if (buffer_default >= 0)
		snprintf(buf, sizeof(buf), ",\"bufferDefault\":%d", buffer_default);
	switch (t) {
	case FX_CHANNEL_SHOPIFY:
		snprintf(body, sizeof(body),
			 "{\"type\":\"shopify\",\"name\":\"Shop "
			 "%s\",\"settings\":{\"shopDomain\":\"push-%s.myshopify.com\","
			 "\"locationId\":\"42\",\"baseUrl\":\"%s\"%s},\"credentials\":{\"accessToken\":\"%s\"}}",
			 test_unique(), test_unique(), fakechannel_url(w->fake), buf, FAKECHANNEL_SHOPIFY_TOKEN);
		break;
	case FX_CHANNEL_WOOCOMMERCE:
		snprintf(
			body, sizeof(body),
			"{\"type\":\"woocommerce\",\"name\":\"Woo %s\",\"settings\":{\"siteUrl\":\"https://woo.example."
			"co.za\",\"baseUrl\":\"%s\"%s},\"credentials\":{\"consumerKey\":\"%s\",\"consumerSecret\":\"%"
			"s\"}}",
			test_unique(), fakechannel_url(w->fake), buf, FAKECHANNEL_WOO_KEY, FAKECHANNEL_WOO_SECRET);
		break;
	case FX_CHANNEL_TAKEALOT:
		snprintf(body, sizeof(body),
			 "{\"type\":\"takealot\",\"name\":\"Takealot %s\",\"settings\":{\"baseUrl\":\"%s\"%s},"
			 "\"credentials\":{\"apiKey\":\"%s\"}}",
			 test_unique(), fakechannel_url(w->fake), buf, FAKECHANNEL_TAKEALOT_KEY);
		break;
	}
	r = http_json("POST", "/v1/channels", w->owner.id_token, body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	snprintf(id, len, "%s", json_str(r, "id"));
	http_resp_free(r);
}

void product_new(const struct world *w, const char *sku, int stock, char *id, size_t len)
{
	char body[300];

	snprintf(body, sizeof(body), "{\"sku\":\"%s-%s\",\"name\":\"Item %s\",\"priceCents\":9999}", sku, test_unique(),
		 sku);
	test_product_stocked(w->owner.id_token, body, stock, id, len);
}

/* A listing of pid on cid as external; buffer and max_quantity left out when < 0. */
void listing_new(const struct world *w, const char *cid, const char *pid, const char *external, int buffer,
		 int max_quantity)
{
	char path[300], body[600], extra[100] = "";
	struct http_resp *r;
	size_t n = 0;

	if (buffer >= 0)
		n += (size_t)snprintf(extra + n, sizeof(extra) - n, ",\"buffer\":%d", buffer);
	if (max_quantity >= 0)
		snprintf(extra + n, sizeof(extra) - n, ",\"maxQuantity\":%d", max_quantity);
	snprintf(path, sizeof(path), "/v1/channels/%s/listings", cid);
	snprintf(body, sizeof(body), "{\"productId\":\"%s\",\"externalId\":\"%s\"%s}", pid, external, extra);
	r = http_json("POST", path, w->owner.id_token, body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	http_resp_free(r);
}

/* stock:adjust by delta; the status (200, or what a killed worker left). */
long adjust(const struct world *w, const char *pid, int delta)
{
	char path[300], body[120];
	struct http_resp *r;
	long status;

	snprintf(path, sizeof(path), "/v1/products/%s/stock:adjust", pid);
	snprintf(body, sizeof(body), "{\"delta\":%d,\"reason\":\"%s\"}", delta,
		 delta > 0 ? "received" : "sold_offline");
	r = http_json("POST", path, w->owner.id_token, body);
	status = r->status;
	http_resp_free(r);
	return status;
}

long long available(const struct world *w, const char *pid)
{
	char path[300];
	struct http_resp *r;
	long long v;

	snprintf(path, sizeof(path), "/v1/products/%s", pid);
	r = http_get(path, w->owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	v = json_int(r, "stock.available");
	http_resp_free(r);
	return v;
}

/* POST /v1/jobs/{job} as the owner (the organization's own run): the finished run's summary counter, or -1. */
long long run_job(const struct world *w, const char *job, const char *counter)
{
	char path[100], dotted[100];
	struct http_resp *r;
	long long v;

	snprintf(path, sizeof(path), "/v1/jobs/%s", job);
	r = http_json("POST", path, w->owner.id_token, NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "status"), "succeeded", "%s", r->body);
	snprintf(dotted, sizeof(dotted), "summary.%s", counter ? counter : "organizations");
	v = json_int(r, dotted);
	http_resp_free(r);
	return v;
}

long long pushed(const struct world *w, enum fx_channel_type t, const char *external)
{
	long long q = -1;

	cr_assert(fakechannel_quantity(w->fake, t, external, &q), "the channel was never told a quantity for %s",
		  external);
	return q;
}

int outbox_entries(const struct world *w)
{
	char rel[300];
	json_object *all;
	int n;

	snprintf(rel, sizeof(rel), "organizations/%s/outbox", w->org);
	all = fs_list(rel);
	n = 0;
	for (size_t i = 0; all && i < json_object_array_length(all); i++) {
		const char *kind = fs_str(json_object_array_get_idx(all, i), "kind");

		n += kind && strcmp(kind, "stock") == 0; /* the webhook events beside them are not the channels' */
	}
	json_object_put(all);
	return n;
}
