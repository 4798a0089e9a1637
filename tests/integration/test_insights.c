/*
 * Insights through nginx: generation from products and orders made through
 * the API (the insights expected, with their metrics), the one-a-minute
 * rate limit, the PATCH lifecycle with If-Match, list filters and page
 * tokens, roles and tenant isolation. Regeneration that updates instead of
 * duplicating is tested at the library level (tests/lib/test_insights.c),
 * since a second generation here would wait out the rate limit.
 */
#include "client.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tenant {
	struct test_user owner;
	char low[64], hot[64], steady[64], archived[64];
};

static const char address[] = "{\"line1\":\"12 Long St\",\"city\":\"Cape Town\",\"province\":\"Western Cape\","
			      "\"postalCode\":\"8001\"}";

static void assert_error(struct http_resp *r, long code, const char *status)
{
	cr_assert_eq(r->status, code, "expected %ld, got %ld: %s", code, r->status, r->body);
	cr_assert_str_eq(json_str(r, "error.status"), status, "%s", r->body);
}

static size_t data_len(const struct http_resp *r)
{
	json_object *d = r->json ? json_object_object_get(r->json, "data") : NULL;

	return d ? json_object_array_length(d) : 0;
}

/* A product with stock on hand and a reorder point; its id goes to out. */
static void product(const struct tenant *t, const char *sku, long price, int stock, int reorder, const char *status,
		    char out[64])
{
	char body[400], path[200];
	struct http_resp *r;

	snprintf(body, sizeof(body),
		 "{\"sku\":\"%s\",\"name\":\"Item %s\",\"priceCents\":%ld,\"status\":\"active\","
		 "\"stock\":{\"reorderPoint\":%d}}",
		 sku, sku, price, reorder);
	test_product_stocked(t->owner.id_token, body, stock, out, 64);
	if (strcmp(status, "active") != 0) {
		snprintf(path, sizeof(path), "/v1/products/%s", out);
		snprintf(body, sizeof(body), "{\"status\":\"%s\"}", status);
		r = http_json("PATCH", path, t->owner.id_token, body);
		cr_assert_eq(r->status, 200, "%s", r->body);
		http_resp_free(r);
	}
}

static void order(const struct tenant *t, const char *product_id, int quantity)
{
	char body[1024];
	struct http_resp *r;

	snprintf(body, sizeof(body),
		 "{\"customer\":{\"name\":\"Thandi\"},\"shippingAddress\":%s,\"items\":[{\"productId\":\"%s\","
		 "\"quantity\":%d}]}",
		 address, product_id, quantity);
	r = http_json("POST", "/v1/orders", t->owner.id_token, body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	http_resp_free(r);
}

/*
 * A merchant whose data makes four insights: low (3 on hand, reorder point
 * 5: low_stock warning), hot (12 received, 10 ordered: 2 left at 1/3 a
 * day, 6 days of cover: stockout_risk critical; top seller #2 with R100),
 * steady (100 received, 5 ordered at R50: top seller #1 with R250), and an
 * archived product that would be low but is never looked at.
 */
static void make_tenant(struct tenant *t)
{
	test_owner_signup(&t->owner, "insights", "Insightful", NULL, 0);
	product(t, "LOW-1", 2000, 3, 5, "active", t->low);
	product(t, "HOT-1", 1000, 12, 0, "active", t->hot);
	product(t, "STEADY-1", 5000, 100, 0, "active", t->steady);
	product(t, "ARCH-1", 1000, 0, 5, "archived", t->archived);
	order(t, t->hot, 10);
	order(t, t->steady, 5);
}

static void add_member(const struct tenant *t, struct test_user *u, const char *role)
{
	char body[400];
	struct http_resp *r;

	cr_assert_eq(test_user_signup(u, role), 0);
	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"role\":\"%s\"}", u->email, role);
	r = http_json("POST", "/v1/users", t->owner.id_token, body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	http_resp_free(r);
	cr_assert_eq(test_user_refresh(u), 0);
}

static void generate(const struct tenant *t, long long want_created)
{
	struct http_resp *r = http_json("POST", "/v1/insights:generate", t->owner.id_token, NULL);

	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(json_int(r, "created"), want_created, "%s", r->body);
	cr_assert_eq(json_int(r, "updated"), 0, "%s", r->body);
	http_resp_free(r);
}

/* The one insight of type (for product, when given): its id and etag. */
static void one_insight(const struct tenant *t, const char *type, const char *product, char id[64], char etag[128])
{
	char path[200];
	struct http_resp *r;

	snprintf(path, sizeof(path), "/v1/insights?type=%s", type);
	r = http_get(path, t->owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	for (size_t i = 0; i < data_len(r); i++) {
		char key[64];

		snprintf(key, sizeof(key), "data.%zu.productId", i);
		if (product && (!json_str(r, key) || strcmp(json_str(r, key), product) != 0))
			continue;
		snprintf(key, sizeof(key), "data.%zu.id", i);
		snprintf(id, 64, "%s", json_str(r, key));
		snprintf(key, sizeof(key), "data.%zu.etag", i);
		snprintf(etag, 128, "%s", json_str(r, key));
		http_resp_free(r);
		return;
	}
	cr_assert_fail("no %s insight: %s", type, r->body);
}

Test(insights, generate_finds_the_insights_the_data_holds, .timeout = 120)
{
	struct tenant t;
	struct http_resp *r;
	char path[200], *end;
	const char *ra;
	long wait;

	make_tenant(&t);
	generate(&t, 4);

	r = http_get("/v1/insights", t.owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(data_len(r), 4, "%s", r->body);
	http_resp_free(r);

	r = http_get("/v1/insights?type=low_stock", t.owner.id_token);
	cr_assert_eq(data_len(r), 1, "%s", r->body);
	cr_assert_str_eq(json_str(r, "data.0.productId"), t.low);
	cr_assert_str_eq(json_str(r, "data.0.severity"), "warning");
	cr_assert_str_eq(json_str(r, "data.0.status"), "open");
	cr_assert_str_eq(json_str(r, "data.0.source"), "rules");
	cr_assert_eq(json_int(r, "data.0.metrics.available"), 3);
	cr_assert_eq(json_int(r, "data.0.metrics.reorderPoint"), 5);
	cr_assert_not_null(json_str(r, "data.0.title"));
	cr_assert_not_null(json_str(r, "data.0.summary"));
	cr_assert_not_null(json_str(r, "data.0.recommendations.0"));
	cr_assert_not_null(json_str(r, "data.0.createdAt"));
	cr_assert_not_null(json_str(r, "data.0.etag"));
	cr_assert_null(json_str(r, "data.0.organizationId"), "server bookkeeping stays hidden");
	cr_assert_null(json_str(r, "data.0.generatedBy"));
	http_resp_free(r);

	r = http_get("/v1/insights?type=stockout_risk", t.owner.id_token);
	cr_assert_eq(data_len(r), 1, "%s", r->body);
	cr_assert_str_eq(json_str(r, "data.0.productId"), t.hot);
	cr_assert_str_eq(json_str(r, "data.0.severity"), "critical", "6 days of cover");
	cr_assert_eq(json_int(r, "data.0.metrics.unitsSold30d"), 10);
	cr_assert_eq(json_int(r, "data.0.metrics.available"), 2);
	{
		json_object *m = json_object_object_get(
			json_object_array_get_idx(json_object_object_get(r->json, "data"), 0), "metrics");
		json_object *days = json_object_object_get(m, "daysOfCover");

		cr_assert_float_eq(json_object_get_double(days), 6.0, 1e-9, "%s", r->body);
	}
	http_resp_free(r);

	r = http_get("/v1/insights?type=top_seller", t.owner.id_token);
	cr_assert_eq(data_len(r), 2, "%s", r->body);
	for (size_t i = 0; i < 2; i++) {
		char pk[64], rk[64], vk[64];

		snprintf(pk, sizeof(pk), "data.%zu.productId", i);
		snprintf(rk, sizeof(rk), "data.%zu.metrics.rank", i);
		snprintf(vk, sizeof(vk), "data.%zu.metrics.revenue30dCents", i);
		if (strcmp(json_str(r, pk), t.steady) == 0) {
			cr_assert_eq(json_int(r, rk), 1);
			cr_assert_eq(json_int(r, vk), 25000);
		} else {
			cr_assert_str_eq(json_str(r, pk), t.hot);
			cr_assert_eq(json_int(r, rk), 2);
			cr_assert_eq(json_int(r, vk), 10000);
		}
	}
	http_resp_free(r);

	snprintf(path, sizeof(path), "/v1/insights?severity=critical");
	r = http_get(path, t.owner.id_token);
	cr_assert_eq(data_len(r), 1, "%s", r->body);
	http_resp_free(r);
	r = http_get("/v1/insights?type=slow_mover", t.owner.id_token);
	cr_assert_eq(data_len(r), 0, "young products are not slow movers: %s", r->body);
	http_resp_free(r);
	r = http_get("/v1/insights?type=sales_trend", t.owner.id_token);
	cr_assert_eq(data_len(r), 0, "no revenue the week before: %s", r->body);
	http_resp_free(r);

	/* Within the minute: 429 with the seconds to wait. */
	r = http_json("POST", "/v1/insights:generate", t.owner.id_token, "{}");
	assert_error(r, 429, "RESOURCE_EXHAUSTED");
	ra = http_header(r, "Retry-After");
	cr_assert_not_null(ra, "%s", r->headers);
	wait = strtol(ra, &end, 10);
	cr_assert(end != ra && *end == '\0' && wait >= 1 && wait <= 60, "Retry-After %s", ra);
	http_resp_free(r);
	r = http_get("/v1/insights", t.owner.id_token);
	cr_assert_eq(data_len(r), 4, "the refused run wrote nothing");
	http_resp_free(r);
}

Test(insights, patch_moves_an_insight_along_its_lifecycle, .timeout = 120)
{
	struct tenant t;
	struct http_resp *r;
	char id[64], etag[128], path[200], match[200];
	const char *h[] = {match, NULL};

	make_tenant(&t);
	generate(&t, 4);
	one_insight(&t, "low_stock", t.low, id, etag);
	snprintf(path, sizeof(path), "/v1/insights/%s", id);

	r = http_json("PATCH", path, t.owner.id_token, "{\"status\":\"open\"}");
	assert_error(r, 400, "INVALID_ARGUMENT");
	cr_assert_str_eq(json_str(r, "error.details.0.field"), "status");
	http_resp_free(r);
	r = http_json("PATCH", path, t.owner.id_token, "{\"status\":\"acknowledged\",\"severity\":\"info\"}");
	assert_error(r, 400, "INVALID_ARGUMENT");
	cr_assert_str_eq(json_str(r, "error.details.0.field"), "severity", "%s", r->body);
	http_resp_free(r);

	snprintf(match, sizeof(match), "If-Match: %s", etag);
	r = http_json_h("PATCH", path, t.owner.id_token, "{\"status\":\"acknowledged\"}", h);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "status"), "acknowledged");
	cr_assert_str_neq(json_str(r, "etag"), etag);
	http_resp_free(r);

	/* The old etag names a version that is gone. */
	r = http_json_h("PATCH", path, t.owner.id_token, "{\"status\":\"resolved\"}", h);
	assert_error(r, 412, "FAILED_PRECONDITION");
	http_resp_free(r);

	r = http_json("PATCH", path, t.owner.id_token, "{\"status\":\"resolved\"}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "status"), "resolved");
	http_resp_free(r);
	r = http_json("PATCH", path, t.owner.id_token, "{\"status\":\"acknowledged\"}");
	assert_error(r, 409, "FAILED_PRECONDITION");
	http_resp_free(r);

	r = http_get(path, t.owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "status"), "resolved");
	cr_assert_eq(json_int(r, "metrics.available"), 3, "metrics stay with it");
	http_resp_free(r);
	r = http_get("/v1/insights?status=resolved", t.owner.id_token);
	cr_assert_eq(data_len(r), 1, "%s", r->body);
	cr_assert_str_eq(json_str(r, "data.0.id"), id);
	http_resp_free(r);
	r = http_get("/v1/insights?status=open", t.owner.id_token);
	cr_assert_eq(data_len(r), 3, "%s", r->body);
	http_resp_free(r);

	r = http_json("PATCH", "/v1/insights/doesNotExist", t.owner.id_token, "{\"status\":\"dismissed\"}");
	assert_error(r, 404, "NOT_FOUND");
	http_resp_free(r);
}

Test(insights, lists_validate_filters_and_page_with_tokens, .timeout = 120)
{
	struct tenant t;
	struct http_resp *r;
	char path[4200], token[4096];

	make_tenant(&t);
	generate(&t, 4);
	r = http_get("/v1/insights?status=closed", t.owner.id_token);
	assert_error(r, 400, "INVALID_ARGUMENT");
	cr_assert_str_eq(json_str(r, "error.details.0.field"), "status");
	http_resp_free(r);
	r = http_get("/v1/insights?type=fire", t.owner.id_token);
	assert_error(r, 400, "INVALID_ARGUMENT");
	http_resp_free(r);
	r = http_get("/v1/insights?severity=loud", t.owner.id_token);
	assert_error(r, 400, "INVALID_ARGUMENT");
	http_resp_free(r);
	r = http_get("/v1/insights?productId=x", t.owner.id_token);
	assert_error(r, 400, "INVALID_ARGUMENT");
	http_resp_free(r);

	r = http_get("/v1/insights?pageSize=3", t.owner.id_token);
	cr_assert_eq(data_len(r), 3, "%s", r->body);
	cr_assert_not_null(json_str(r, "nextPageToken"));
	snprintf(token, sizeof(token), "%s", json_str(r, "nextPageToken"));
	http_resp_free(r);
	snprintf(path, sizeof(path), "/v1/insights?pageSize=3&pageToken=%s", token);
	r = http_get(path, t.owner.id_token);
	cr_assert_eq(data_len(r), 1, "%s", r->body);
	cr_assert_null(json_str(r, "nextPageToken"), "the last page has none");
	http_resp_free(r);
	snprintf(path, sizeof(path), "/v1/insights?pageSize=3&status=open&pageToken=%s", token);
	r = http_get(path, t.owner.id_token);
	assert_error(r, 400, "INVALID_ARGUMENT");
	http_resp_free(r);
}

Test(roles, viewers_read_staff_acknowledge_managers_generate, .timeout = 120)
{
	struct tenant t;
	struct test_user viewer, staff;
	struct http_resp *r;
	char id[64], etag[128], path[200];

	make_tenant(&t);
	add_member(&t, &viewer, "viewer");
	add_member(&t, &staff, "staff");
	r = http_json("POST", "/v1/insights:generate", viewer.id_token, NULL);
	assert_error(r, 403, "PERMISSION_DENIED");
	http_resp_free(r);
	r = http_json("POST", "/v1/insights:generate", staff.id_token, NULL);
	assert_error(r, 403, "PERMISSION_DENIED");
	http_resp_free(r);
	generate(&t, 4);

	r = http_get("/v1/insights", viewer.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(data_len(r), 4);
	http_resp_free(r);
	one_insight(&t, "stockout_risk", t.hot, id, etag);
	snprintf(path, sizeof(path), "/v1/insights/%s", id);
	r = http_get(path, viewer.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	http_resp_free(r);
	r = http_json("PATCH", path, viewer.id_token, "{\"status\":\"acknowledged\"}");
	assert_error(r, 403, "PERMISSION_DENIED");
	http_resp_free(r);
	r = http_json("PATCH", path, staff.id_token, "{\"status\":\"dismissed\"}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "status"), "dismissed");
	http_resp_free(r);
}

Test(isolation, another_organization_cannot_see_or_change_insights, .timeout = 120)
{
	struct tenant a;
	struct test_user b;
	struct http_resp *r;
	char id[64], etag[128], path[200];

	make_tenant(&a);
	generate(&a, 4);
	one_insight(&a, "low_stock", a.low, id, etag);
	cr_assert_eq(test_user_signup(&b, "other"), 0);
	r = http_json("POST", "/v1/organizations", b.id_token, "{\"name\":\"Other\"}");
	cr_assert_eq(r->status, 201, "%s", r->body);
	http_resp_free(r);
	cr_assert_eq(test_user_refresh(&b), 0);

	snprintf(path, sizeof(path), "/v1/insights/%s", id);
	r = http_get(path, b.id_token);
	assert_error(r, 404, "NOT_FOUND");
	http_resp_free(r);
	r = http_json("PATCH", path, b.id_token, "{\"status\":\"dismissed\"}");
	assert_error(r, 404, "NOT_FOUND");
	http_resp_free(r);
	r = http_get("/v1/insights", b.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(data_len(r), 0, "%s", r->body);
	http_resp_free(r);
	/* B's generation sees none of A's data, and A's rate limit is not B's. */
	r = http_json("POST", "/v1/insights:generate", b.id_token, NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(json_int(r, "created"), 0);
	http_resp_free(r);
	r = http_get(path, a.owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "status"), "open", "untouched");
	http_resp_free(r);
}
