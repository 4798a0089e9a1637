/*
 * whworld: what the webhook tests share (see whworld.h).
 */
#include "whworld.h"

#include "client.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void wh_world_new(struct whworld *w, const char *prefix)
{
	memset(w, 0, sizeof *w);
	test_owner_signup(&w->owner, prefix, "Hook Traders", w->org, sizeof(w->org));
	w->recv = whreceiver_start();
	cr_assert_not_null(w->recv, "the receiver starts");
}

void wh_world_end(struct whworld *w)
{
	whreceiver_stop(w->recv);
	w->recv = NULL;
}

struct http_resp *wh_call(const struct whworld *w, const char *method, const char *path, const char *token,
			  const char *json)
{
	char url[1024], auth[8192];
	const char *h[3] = {NULL, NULL, NULL};
	size_t k = 0;

	if (!w->base)
		return http_json(method, path, token, json);
	snprintf(url, sizeof(url), "%s%s", w->base, path);
	if (token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		h[k++] = auth;
	}
	if (json)
		h[k++] = "Content-Type: application/json";
	return http_url(method, url, h, json, json ? strlen(json) : 0);
}

void wh_subscribe(struct whworld *w, const char *url, const char *events, char *id, size_t id_len, char *secret,
		  size_t secret_len)
{
	char body[2048];
	struct http_resp *r;
	const char *s;

	snprintf(body, sizeof(body), "{\"url\":\"%s\",\"events\":%s,\"description\":\"test %s\"}", url, events,
		 test_unique());
	r = wh_call(w, "POST", "/v1/webhooks", w->owner.id_token, body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	s = json_str(r, "secret");
	cr_assert_not_null(s, "the secret is shown at creation: %s", r->body);
	cr_assert_eq(strncmp(s, "whsec_", 6), 0, "%s", s);
	snprintf(id, id_len, "%s", json_str(r, "id"));
	snprintf(secret, secret_len, "%s", s);
	whreceiver_set_secrets(w->recv, (const char *const[]){secret}, 1);
	http_resp_free(r);
}

long wh_run(const struct whworld *w)
{
	struct http_resp *r = wh_call(w, "POST", "/v1/jobs/webhook-deliver", w->owner.id_token, NULL);
	long s = r->status;

	http_resp_free(r);
	return s;
}

bool wh_deliver_until(struct whworld *w, size_t n, long deadline_ms)
{
	for (time_t end = time(NULL) + (deadline_ms + 999) / 1000; time(NULL) < end;) {
		wh_run(w);
		if (whreceiver_accepted(w->recv) >= n)
			return true;
		usleep(200 * 1000);
	}
	return whreceiver_accepted(w->recv) >= n;
}

void wh_product(const struct whworld *w, const char *sku, int stock, char *id, size_t len)
{
	char body[300], path[300];
	struct http_resp *r;

	snprintf(body, sizeof(body),
		 "{\"sku\":\"%s-%s\",\"name\":\"Item %s\",\"priceCents\":9999,\"status\":\"active\"}", sku,
		 test_unique(), sku);
	r = wh_call(w, "POST", "/v1/products", w->owner.id_token, body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	snprintf(id, len, "%s", json_str(r, "id"));
	http_resp_free(r);
	if (stock > 0) {
		snprintf(path, sizeof(path), "/v1/products/%s/stock:adjust", id);
		snprintf(body, sizeof(body), "{\"delta\":%d,\"reason\":\"received\"}", stock);
		r = wh_call(w, "POST", path, w->owner.id_token, body);
		cr_assert_eq(r->status, 200, "%s", r->body);
		http_resp_free(r);
	}
}

long wh_adjust(const struct whworld *w, const char *pid, int delta)
{
	char path[300], body[120];
	struct http_resp *r;
	long status;

	snprintf(path, sizeof(path), "/v1/products/%s/stock:adjust", pid);
	snprintf(body, sizeof(body), "{\"delta\":%d,\"reason\":\"%s\"}", delta,
		 delta > 0 ? "received" : "sold_offline");
	r = wh_call(w, "POST", path, w->owner.id_token, body);
	status = r->status;
	http_resp_free(r);
	return status;
}

void wh_order(const struct whworld *w, const char *pid, int qty, char *id, size_t len, char *number, size_t number_len)
{
	char body[1024];
	struct http_resp *r;

	snprintf(body, sizeof(body),
		 "{\"customer\":{\"name\":\"Lerato\"},\"shippingAddress\":{\"line1\":\"12 Long St\",\"city\":\"Cape "
		 "Town\",\"province\":\"Western Cape\",\"postalCode\":\"8001\"},\"items\":[{\"productId\":\"%s\","
		 "\"quantity\":%d}]}",
		 pid, qty);
	r = wh_call(w, "POST", "/v1/orders", w->owner.id_token, body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	snprintf(id, len, "%s", json_str(r, "id"));
	if (number)
		snprintf(number, number_len, "%s", json_str(r, "number"));
	http_resp_free(r);
}

long wh_order_do(const struct whworld *w, const char *id, const char *verb, const char *json)
{
	char path[300];
	struct http_resp *r;
	long s;

	snprintf(path, sizeof(path), "/v1/orders/%s:%s", id, verb);
	r = wh_call(w, "POST", path, w->owner.id_token, json);
	s = r->status;
	http_resp_free(r);
	return s;
}

json_object *wh_body(struct whworld *w, size_t i, struct whreceiver_delivery *d)
{
	json_object *j;

	if (!whreceiver_get(w->recv, i, d))
		return NULL;
	j = json_tokener_parse(d->body);
	cr_assert_not_null(j, "delivery %zu's body is JSON: %s", i, d->body);
	return j;
}
