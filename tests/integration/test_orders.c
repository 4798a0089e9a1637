/*
 * Orders through nginx: lifecycle and its stock effects, invalid
 * transitions, totals and VAT, validation, the oversell race, numbering
 * under contention, Idempotency-Key and tenant isolation.
 */
#include "client.h"

#include <criterion/criterion.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tenant {
	struct test_user owner;
	char org[64];
};

static const char address[] = "{\"line1\":\"12 Long St\",\"city\":\"Cape Town\",\"province\":\"Western Cape\","
			      "\"postalCode\":\"8001\"}";

static void assert_error(struct http_resp *r, long code, const char *status)
{
	cr_assert_eq(r->status, code, "expected %ld, got %ld: %s", code, r->status, r->body);
	cr_assert_str_eq(json_str(r, "error.status"), status, "%s", r->body);
}

static void make_tenant(struct tenant *t)
{
	test_owner_signup(&t->owner, "merchant", "Merchant", t->org, sizeof(t->org));
}

/* A product with stock on hand; returns its id (thread-local copy). */
static const char *stocked_product(const struct tenant *t, const char *sku, long price, int stock)
{
	static __thread char id[64];
	char body[300];

	snprintf(body, sizeof(body), "{\"sku\":\"%s\",\"name\":\"Item %s\",\"priceCents\":%ld,\"status\":\"active\"}",
		 sku, sku, price);
	test_product_stocked(t->owner.id_token, body, stock, id, sizeof(id));
	return id;
}

static struct http_resp *order(const struct tenant *t, const char *items, const char *extra)
{
	char body[16384];

	snprintf(body, sizeof(body), "{\"customer\":{\"name\":\"Lerato\"},\"shippingAddress\":%s,\"items\":%s%s%s}",
		 address, items, extra ? "," : "", extra ? extra : "");
	return http_json("POST", "/v1/orders", t->owner.id_token, body);
}

static struct http_resp *method(const struct tenant *t, const char *id, const char *verb, const char *body)
{
	char path[200];

	snprintf(path, sizeof(path), "/v1/orders/%s:%s", id, verb);
	return http_json("POST", path, t->owner.id_token, body);
}

static long long stock(const struct tenant *t, const char *product, const char *field)
{
	char path[200];
	struct http_resp *r;
	long long n;

	snprintf(path, sizeof(path), "/v1/products/%s", product);
	r = http_get(path, t->owner.id_token);
	n = json_int(r, field);
	http_resp_free(r);
	return n;
}

Test(orders, totals_and_vat_come_from_the_products_and_the_organization)
{
	struct tenant t;
	char items[300];
	struct http_resp *r;
	const char *a;
	char pa[64];

	make_tenant(&t);
	a = stocked_product(&t, "TOT-A", 19999, 5);
	snprintf(pa, sizeof(pa), "%s", a);
	snprintf(items, sizeof(items), "[{\"productId\":\"%s\",\"quantity\":2}]", pa);
	r = order(&t, items, "\"shippingCents\":6000,\"channel\":\"takealot\",\"externalId\":\"TAK-991\"");
	cr_assert_eq(r->status, 201, "%s", r->body);
	cr_assert_eq(json_int(r, "subtotalCents"), 39998);
	cr_assert_eq(json_int(r, "shippingCents"), 6000);
	cr_assert_eq(json_int(r, "totalCents"), 45998);
	cr_assert_eq(json_int(r, "vatCents"), 6000, "45998 × 15/115 = 5999.7 → 6000");
	cr_assert_eq(json_int(r, "items.0.unitPriceCents"), 19999);
	cr_assert_eq(json_int(r, "items.0.lineTotalCents"), 39998);
	cr_assert_str_eq(json_str(r, "items.0.sku"), "TOT-A");
	cr_assert_str_eq(json_str(r, "currency"), "ZAR");
	cr_assert_str_eq(json_str(r, "channel"), "takealot");
	cr_assert_str_eq(json_str(r, "status"), "pending");
	cr_assert_str_eq(json_str(r, "number"), "FX-000001");
	cr_assert_str_eq(json_str(r, "createdBy"), t.owner.uid);
	cr_assert_not_null(http_header(r, "Location"));
	http_resp_free(r);
	cr_assert_eq(stock(&t, pa, "stock.reserved"), 2);
	cr_assert_eq(stock(&t, pa, "stock.available"), 3);
}

Test(orders, full_lifecycle_with_stock_effects_and_movements)
{
	struct tenant t;
	char items[300], id[64], pa[64], path[200];
	struct http_resp *r;

	make_tenant(&t);
	snprintf(pa, sizeof(pa), "%s", stocked_product(&t, "LIFE-A", 1000, 10));
	snprintf(items, sizeof(items), "[{\"productId\":\"%s\",\"quantity\":3}]", pa);
	r = order(&t, items, NULL);
	cr_assert_eq(r->status, 201, "%s", r->body);
	snprintf(id, sizeof(id), "%s", json_str(r, "id"));
	http_resp_free(r);

	r = method(&t, id, "confirm", NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "status"), "confirmed");
	http_resp_free(r);
	r = method(&t, id, "ship", "{\"carrier\":\"The Courier Guy\",\"trackingNumber\":\"TCG123\"}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "shipment.carrier"), "The Courier Guy");
	http_resp_free(r);
	cr_assert_eq(stock(&t, pa, "stock.onHand"), 7, "ship consumes");
	cr_assert_eq(stock(&t, pa, "stock.reserved"), 0);
	r = method(&t, id, "deliver", "{}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	http_resp_free(r);
	r = method(&t, id, "return", "{\"restock\":true}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "status"), "returned");
	cr_assert_eq(json_object_array_length(json_object_object_get(r->json, "statusHistory")), 5);
	cr_assert_str_eq(json_str(r, "statusHistory.4.status"), "returned");
	cr_assert_str_eq(json_str(r, "statusHistory.4.by"), t.owner.uid);
	http_resp_free(r);
	cr_assert_eq(stock(&t, pa, "stock.onHand"), 10, "return with restock adds back");

	snprintf(path, sizeof(path), "/v1/products/%s/movements", pa);
	r = http_get(path, t.owner.id_token);
	cr_assert_eq(json_object_array_length(json_object_object_get(r->json, "data")), 3, "%s", r->body);
	cr_assert_eq(json_int(r, "data.0.delta"), 3);
	cr_assert_str_eq(json_str(r, "data.0.reason"), "order_returned");
	cr_assert_str_eq(json_str(r, "data.0.orderId"), id);
	cr_assert_eq(json_int(r, "data.1.delta"), -3);
	cr_assert_str_eq(json_str(r, "data.1.reason"), "order_shipped");
	cr_assert_str_eq(json_str(r, "data.1.orderId"), id);
	cr_assert_eq(json_int(r, "data.1.onHandAfter"), 7);
	http_resp_free(r);
}

Test(orders, cancel_releases_the_reservation)
{
	struct tenant t;
	char items[300], id[64], pa[64];
	struct http_resp *r;

	make_tenant(&t);
	snprintf(pa, sizeof(pa), "%s", stocked_product(&t, "CAN-A", 500, 4));
	snprintf(items, sizeof(items), "[{\"productId\":\"%s\",\"quantity\":4}]", pa);
	r = order(&t, items, NULL);
	snprintf(id, sizeof(id), "%s", json_str(r, "id"));
	http_resp_free(r);
	cr_assert_eq(stock(&t, pa, "stock.available"), 0);
	r = method(&t, id, "cancel", "{}");
	assert_error(r, 400, "INVALID_ARGUMENT");
	http_resp_free(r);
	r = method(&t, id, "cancel", "{\"reason\":\"customer changed their mind\"}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "cancelReason"), "customer changed their mind");
	http_resp_free(r);
	cr_assert_eq(stock(&t, pa, "stock.reserved"), 0);
	cr_assert_eq(stock(&t, pa, "stock.onHand"), 4, "cancel leaves on hand alone");
}

/* Writes fields (Firestore typed JSON) straight into the emulator: what a channel order left. */
static void fs_patch(const char *rel, const char *mask, const char *fields)
{
	char url[600], body[4096];
	const char *h[] = {"Authorization: Bearer owner", "Content-Type: application/json", NULL};
	struct http_resp *r;

	snprintf(url, sizeof(url), "http://127.0.0.1:%s/v1/projects/demo-fluxori/databases/(default)/documents/%s%s",
		 test_env("FLUXORI_FIRESTORE_PORT"), rel, mask);
	snprintf(body, sizeof(body), "{\"fields\":%s}", fields);
	r = http_url("PATCH", url, h, body, strlen(body));
	cr_assert_eq(r->status, 200, "%s", r->body);
	http_resp_free(r);
}

/*
 * An order of 5 units of a product that holds only 2 on hand, as a channel
 * order accepted short leaves it: the line holds 2 (reserved 2) and lacks 3
 * (backorderedQuantity 3), the order oversold. Fills pa and id.
 */
static void oversold_order(struct tenant *t, const char *sku, char *pa, char *id)
{
	char items[300], rel[300], fields[1200];
	struct http_resp *r;

	snprintf(pa, 64, "%s", stocked_product(t, sku, 1000, 5));
	snprintf(items, sizeof(items), "[{\"productId\":\"%s\",\"quantity\":5}]", pa);
	r = order(t, items, NULL);
	cr_assert_eq(r->status, 201, "%s", r->body);
	snprintf(id, 64, "%s", json_str(r, "id"));
	http_resp_free(r);
	snprintf(rel, sizeof(rel), "organizations/%s/orders/%s", t->org, id);
	snprintf(fields, sizeof(fields),
		 "{\"oversold\":{\"booleanValue\":true},\"items\":{\"arrayValue\":{\"values\":[{\"mapValue\":{"
		 "\"fields\":{\"productId\":{\"stringValue\":\"%s\"},\"sku\":{\"stringValue\":\"%s\"},\"name\":{"
		 "\"stringValue\":\"Item %s\"},\"quantity\":{\"integerValue\":\"5\"},\"unitPriceCents\":{"
		 "\"integerValue\":\"1000\"},\"lineTotalCents\":{\"integerValue\":\"5000\"},"
		 "\"backorderedQuantity\":{\"integerValue\":\"3\"}}}}]}}}",
		 pa, sku, sku);
	fs_patch(rel, "?updateMask.fieldPaths=items&updateMask.fieldPaths=oversold", fields);
	snprintf(rel, sizeof(rel), "organizations/%s/products/%s", t->org, pa);
	fs_patch(rel, "?updateMask.fieldPaths=stock",
		 "{\"stock\":{\"mapValue\":{\"fields\":{\"onHand\":{\"integerValue\":\"2\"},\"reserved\":{"
		 "\"integerValue\":\"2\"},\"available\":{\"integerValue\":\"0\"},\"reorderPoint\":{"
		 "\"integerValue\":\"0\"}}}}}");
}

/* A top-level boolean of the answer: 1, 0, or -1 when absent or not a boolean. */
static int json_flag(const struct http_resp *r, const char *key)
{
	json_object *o = json_tokener_parse(r->body), *v;
	int b = -1;

	if (o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_boolean))
		b = json_object_get_boolean(v);
	json_object_put(o);
	return b;
}

static void receive(const struct tenant *t, const char *pa, int units)
{
	char path[200], body[100];
	struct http_resp *r;

	snprintf(path, sizeof(path), "/v1/products/%s/stock:adjust", pa);
	snprintf(body, sizeof(body), "{\"delta\":%d,\"reason\":\"received\"}", units);
	r = http_json("POST", path, t->owner.id_token, body);
	cr_assert_eq(r->status, 200, "%s", r->body);
	http_resp_free(r);
}

Test(oversold, ship_is_409_naming_the_short_line_until_allocate_covers_it)
{
	struct tenant t;
	char id[64], pa[64];
	struct http_resp *r;

	make_tenant(&t);
	oversold_order(&t, "OVS-A", pa, id);
	r = method(&t, id, "confirm", "{}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	http_resp_free(r);
	r = method(&t, id, "ship", "{}");
	assert_error(r, 409, "FAILED_PRECONDITION");
	cr_assert_str_eq(json_str(r, "error.details.0.field"), "items[0].backorderedQuantity", "%s", r->body);
	http_resp_free(r);
	cr_assert_eq(stock(&t, pa, "stock.onHand"), 2, "a refused ship changes no stock");
	cr_assert_eq(stock(&t, pa, "stock.reserved"), 2);

	/* Nothing available yet: allocate takes nothing, the order stays oversold. */
	r = method(&t, id, "allocate", "{}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(json_int(r, "items.0.backorderedQuantity"), 3);
	cr_assert_str_eq(json_str(r, "status"), "confirmed");
	http_resp_free(r);

	receive(&t, pa, 2); /* onHand 4: 2 more available */
	r = method(&t, id, "allocate", NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(json_int(r, "items.0.backorderedQuantity"), 1, "2 of the 3 lacking are now held");
	cr_assert_eq(json_flag(r, "oversold"), 1, "%s", r->body);
	http_resp_free(r);
	cr_assert_eq(stock(&t, pa, "stock.reserved"), 4);
	cr_assert_eq(stock(&t, pa, "stock.available"), 0);

	receive(&t, pa, 5); /* onHand 9 */
	r = method(&t, id, "allocate", "{}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(json_int(r, "items.0.backorderedQuantity"), 0);
	cr_assert_eq(json_flag(r, "oversold"), 0, "%s", r->body);
	http_resp_free(r);
	cr_assert_eq(stock(&t, pa, "stock.reserved"), 5, "only what was lacking was taken");
	cr_assert_eq(stock(&t, pa, "stock.available"), 4);

	r = method(&t, id, "ship", "{}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	http_resp_free(r);
	cr_assert_eq(stock(&t, pa, "stock.onHand"), 4, "9 - 5 shipped");
	cr_assert_eq(stock(&t, pa, "stock.reserved"), 0);
}

Test(oversold, cancel_releases_exactly_what_the_lines_held)
{
	struct tenant t;
	char id[64], pa[64];
	struct http_resp *r;

	make_tenant(&t);
	oversold_order(&t, "OVS-C", pa, id);
	r = method(&t, id, "cancel", "{\"reason\":\"channel refunded\"}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	http_resp_free(r);
	cr_assert_eq(stock(&t, pa, "stock.reserved"), 0, "2 held, 2 released (not 5)");
	cr_assert_eq(stock(&t, pa, "stock.available"), 2);
}

Test(oversold, allocate_is_409_once_the_order_no_longer_holds_stock)
{
	struct tenant t;
	char id[64], pa[64];
	struct http_resp *r;

	make_tenant(&t);
	oversold_order(&t, "OVS-D", pa, id);
	r = method(&t, id, "cancel", "{\"reason\":\"gone\"}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	http_resp_free(r);
	receive(&t, pa, 10);
	r = method(&t, id, "allocate", "{}");
	assert_error(r, 409, "FAILED_PRECONDITION");
	cr_assert_str_eq(json_str(r, "error.details.0.field"), "status", "%s", r->body);
	http_resp_free(r);
	cr_assert_eq(stock(&t, pa, "stock.reserved"), 0, "a cancelled order takes nothing");
}

Test(orders, every_invalid_transition_is_409)
{
	struct tenant t;
	char items[300], id[64], pa[64];
	struct http_resp *r;

	make_tenant(&t);
	snprintf(pa, sizeof(pa), "%s", stocked_product(&t, "TR-A", 500, 10));
	snprintf(items, sizeof(items), "[{\"productId\":\"%s\",\"quantity\":1}]", pa);
	r = order(&t, items, NULL);
	snprintf(id, sizeof(id), "%s", json_str(r, "id"));
	http_resp_free(r);
#define BAD(verb, body)                                      \
	do {                                                 \
		r = method(&t, id, verb, body);              \
		assert_error(r, 409, "FAILED_PRECONDITION"); \
		http_resp_free(r);                           \
	} while (0)
	/* pending */
	BAD("ship", NULL);
	BAD("deliver", NULL);
	BAD("return", "{\"restock\":false}");
	r = method(&t, id, "confirm", NULL);
	cr_assert_eq(r->status, 200);
	http_resp_free(r);
	/* confirmed */
	BAD("confirm", NULL);
	BAD("deliver", NULL);
	BAD("return", "{\"restock\":false}");
	r = method(&t, id, "ship", NULL);
	cr_assert_eq(r->status, 200);
	http_resp_free(r);
	/* shipped */
	BAD("cancel", "{\"reason\":\"late\"}");
	BAD("ship", NULL);
	BAD("confirm", NULL);
	r = method(&t, id, "deliver", NULL);
	cr_assert_eq(r->status, 200);
	http_resp_free(r);
	/* delivered */
	BAD("cancel", "{\"reason\":\"late\"}");
	r = method(&t, id, "return", "{\"restock\":false}");
	cr_assert_eq(r->status, 200);
	http_resp_free(r);
	/* returned */
	BAD("return", "{\"restock\":true}");
	BAD("cancel", "{\"reason\":\"x\"}");
#undef BAD
	cr_assert_eq(stock(&t, pa, "stock.onHand"), 9, "return without restock adds nothing back");
}

Test(orders, validation_errors_name_the_field)
{
	struct tenant t;
	char pa[64], archived[64], body[4096], path[200];
	struct http_resp *r;

	make_tenant(&t);
	snprintf(pa, sizeof(pa), "%s", stocked_product(&t, "VAL-A", 100, 5));
	snprintf(archived, sizeof(archived), "%s", stocked_product(&t, "VAL-B", 100, 5));
	snprintf(path, sizeof(path), "/v1/products/%s", archived);
	r = http_json("PATCH", path, t.owner.id_token, "{\"status\":\"archived\"}");
	cr_assert_eq(r->status, 200);
	http_resp_free(r);
#define FIELD(items, extra, field)                                                                                 \
	do {                                                                                                       \
		r = order(&t, items, extra);                                                                       \
		cr_expect_eq(r->status, 400, "%s %s → %s", items, extra ? extra : "", r->body);                    \
		cr_expect_str_eq(json_str(r, "error.details.0.field") ? json_str(r, "error.details.0.field") : "", \
				 field, "%s", r->body);                                                            \
		http_resp_free(r);                                                                                 \
	} while (0)
	snprintf(body, sizeof(body), "[{\"productId\":\"%s\",\"quantity\":0}]", pa);
	FIELD(body, NULL, "items[0].quantity");
	snprintf(body, sizeof(body), "[{\"productId\":\"%s\",\"quantity\":10001}]", pa);
	FIELD(body, NULL, "items[0].quantity");
	snprintf(body, sizeof(body), "[{\"productId\":\"%s\",\"quantity\":1},{\"productId\":\"%s\",\"quantity\":1}]",
		 pa, pa);
	FIELD(body, NULL, "items[1].productId");
	FIELD("[]", NULL, "items");
	FIELD("[{\"productId\":\"nope\",\"quantity\":1}]", NULL, "items[0].productId");
	snprintf(body, sizeof(body), "[{\"productId\":\"%s\",\"quantity\":1,\"priceCents\":1}]", pa);
	FIELD(body, NULL, "items[0].priceCents");
	snprintf(body, sizeof(body), "[{\"productId\":\"%s\",\"quantity\":1}]", pa);
	FIELD(body, "\"channel\":\"ebay\"", "channel");
	FIELD(body, "\"shippingCents\":-1", "shippingCents");
	FIELD(body, "\"status\":\"shipped\"", "status");
	FIELD(body, "\"totalCents\":1", "totalCents");
	FIELD(body, "\"number\":\"FX-999999\"", "number");
	{
		char big[8192] = "[";

		for (int i = 0; i < 101; i++)
			snprintf(big + strlen(big), sizeof(big) - strlen(big),
				 "%s{\"productId\":\"p%d\",\"quantity\":1}", i ? "," : "", i);
		strcat(big, "]");
		FIELD(big, NULL, "items");
	}
#undef FIELD
	snprintf(body, sizeof(body),
		 "{\"customer\":{\"name\":\"A\"},\"shippingAddress\":{\"line1\":\"1\",\"city\":\"Durban\",\"province\":"
		 "\"Natal\",\"postalCode\":\"4001\"},\"items\":[{\"productId\":\"%s\",\"quantity\":1}]}",
		 pa);
	r = http_json("POST", "/v1/orders", t.owner.id_token, body);
	cr_assert_str_eq(json_str(r, "error.details.0.field"), "shippingAddress.province", "%s", r->body);
	http_resp_free(r);
	snprintf(body, sizeof(body), "{\"shippingAddress\":%s,\"items\":[{\"productId\":\"%s\",\"quantity\":1}]}",
		 address, pa);
	r = http_json("POST", "/v1/orders", t.owner.id_token, body);
	cr_assert_str_eq(json_str(r, "error.details.0.field"), "customer", "%s", r->body);
	http_resp_free(r);
	snprintf(body, sizeof(body), "[{\"productId\":\"%s\",\"quantity\":1}]", archived);
	r = order(&t, body, NULL);
	assert_error(r, 409, "FAILED_PRECONDITION");
	http_resp_free(r);
	snprintf(body, sizeof(body), "[{\"productId\":\"%s\",\"quantity\":6}]", pa);
	r = order(&t, body, NULL);
	assert_error(r, 409, "FAILED_PRECONDITION");
	cr_assert_str_eq(json_str(r, "error.details.0.field"), "items[0].productId", "%s", r->body);
	http_resp_free(r);
	cr_assert_eq(stock(&t, pa, "stock.reserved"), 0, "no refused order reserved anything");
	r = http_get("/v1/orders", t.owner.id_token);
	cr_assert_eq(json_object_array_length(json_object_object_get(r->json, "data")), 0);
	http_resp_free(r);
}

struct race {
	const struct tenant *t;
	char items[200];
	atomic_int created, refused, aborted, other;
	char numbers[64][16];
	atomic_int nnumbers;
};

static void *order_one(void *arg)
{
	struct race *x = arg;
	struct http_resp *r = order(x->t, x->items, NULL);

	if (r->status == 201) {
		int i = atomic_fetch_add(&x->nnumbers, 1);

		atomic_fetch_add(&x->created, 1);
		snprintf(x->numbers[i], sizeof(x->numbers[i]), "%s", json_str(r, "number"));
	} else if (r->status == 409 && strcmp(json_str(r, "error.status"), "FAILED_PRECONDITION") == 0) {
		atomic_fetch_add(&x->refused, 1);
	} else if (r->status == 409 && strcmp(json_str(r, "error.status"), "ABORTED") == 0 &&
		   http_header(r, "Retry-After")) {
		atomic_fetch_add(&x->aborted, 1);
	} else {
		atomic_fetch_add(&x->other, 1);
	}
	http_resp_free(r);
	return NULL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void assert_gapless(struct race *x, int n)
{
	qsort(x->numbers, (size_t)n, sizeof(x->numbers[0]), cmp_str);
	for (int i = 0; i < n; i++) {
		char want[16];

		snprintf(want, sizeof(want), "FX-%06d", i + 1);
		cr_assert_str_eq(x->numbers[i], want, "numbers are FX-000001.. without gaps or repeats");
	}
}

Test(orders, forty_concurrent_orders_never_oversell_ten, .timeout = 180)
{
	struct tenant t;
	struct race *x = calloc(1, sizeof(*x));
	pthread_t th[40];
	char pa[64];

	make_tenant(&t);
	x->t = &t;
	snprintf(pa, sizeof(pa), "%s", stocked_product(&t, "HOT-1", 2500, 10));
	snprintf(x->items, sizeof(x->items), "[{\"productId\":\"%s\",\"quantity\":1}]", pa);
	for (int i = 0; i < 40; i++)
		pthread_create(&th[i], NULL, order_one, x);
	for (int i = 0; i < 40; i++)
		pthread_join(th[i], NULL);
	cr_assert_eq(atomic_load(&x->created), 10);
	cr_assert_eq(atomic_load(&x->refused), 30);
	cr_assert_eq(atomic_load(&x->other) + atomic_load(&x->aborted), 0);
	cr_assert_eq(stock(&t, pa, "stock.reserved"), 10);
	cr_assert_eq(stock(&t, pa, "stock.available"), 0);
	assert_gapless(x, 10);
	free(x);
}

Test(orders, sixty_four_clients_get_unique_numbers_or_a_clean_abort, .timeout = 300)
{
	struct tenant t;
	struct race *x = calloc(1, sizeof(*x));
	pthread_t th[64];
	char pa[64];

	make_tenant(&t);
	x->t = &t;
	snprintf(pa, sizeof(pa), "%s", stocked_product(&t, "BULK-1", 100, 1000));
	snprintf(x->items, sizeof(x->items), "[{\"productId\":\"%s\",\"quantity\":1}]", pa);
	for (int i = 0; i < 64; i++)
		pthread_create(&th[i], NULL, order_one, x);
	for (int i = 0; i < 64; i++)
		pthread_join(th[i], NULL);
	cr_assert_eq(atomic_load(&x->other) + atomic_load(&x->refused), 0, "every answer is 201 or 409 ABORTED");
	cr_assert_eq(atomic_load(&x->created) + atomic_load(&x->aborted), 64);
	assert_gapless(x, atomic_load(&x->created));
	cr_assert_eq(stock(&t, pa, "stock.reserved"), atomic_load(&x->created), "one reservation per order");
	free(x);
}

Test(orders, a_retried_idempotency_key_makes_one_order)
{
	struct tenant t;
	char body[1024], pa[64];
	const char *key[] = {"Idempotency-Key: order-7f3a", NULL};
	struct http_resp *a, *b, *c;

	make_tenant(&t);
	snprintf(pa, sizeof(pa), "%s", stocked_product(&t, "IDM-1", 100, 5));
	snprintf(body, sizeof(body),
		 "{\"customer\":{\"name\":\"Z\"},\"shippingAddress\":%s,\"items\":[{\"productId\":\"%s\",\"quantity\":"
		 "1}]}",
		 address, pa);
	a = http_json_h("POST", "/v1/orders", t.owner.id_token, body, key);
	b = http_json_h("POST", "/v1/orders", t.owner.id_token, body, key);
	cr_assert_eq(a->status, 201, "%s", a->body);
	cr_assert_eq(b->status, 201, "%s", b->body);
	cr_assert_str_eq(json_str(a, "id"), json_str(b, "id"));
	cr_assert_str_eq(json_str(a, "number"), json_str(b, "number"));
	body[strlen(body) - 4] = '2'; /* quantity 2: another body */
	c = http_json_h("POST", "/v1/orders", t.owner.id_token, body, key);
	assert_error(c, 409, "ALREADY_EXISTS");
	http_resp_free(a);
	http_resp_free(b);
	http_resp_free(c);
	cr_assert_eq(stock(&t, pa, "stock.reserved"), 1, "one order, one reservation");
}

/* GET /v1/orders/{id}: the order as stored now. */
static struct http_resp *get_order(const struct tenant *t, const char *id)
{
	char path[200];

	snprintf(path, sizeof(path), "/v1/orders/%s", id);
	return http_get(path, t->owner.id_token);
}

/*
 * The create answers from the commit's own answer, not from a read of the
 * order: its body (every field, createdAt/updatedAt and the etag, which is
 * the stored updateTime) must be what a GET returns next, byte for byte,
 * and the etag must be usable as If-Match at once.
 */
Test(orders, the_create_answer_is_byte_for_byte_what_a_get_returns)
{
	struct tenant t;
	char items[400], pa[64], pb[64], patch[300];
	const char *key[] = {"Idempotency-Key: order-same-as-get", NULL};
	const char *match[2];
	char if_match[128], body[2048];
	struct http_resp *c, *k, *g2, *replay, *p;

	make_tenant(&t);
	snprintf(pa, sizeof(pa), "%s", stocked_product(&t, "GET-A", 19999, 5));
	snprintf(pb, sizeof(pb), "%s", stocked_product(&t, "GET-B", 250, 9));
	snprintf(items, sizeof(items), "[{\"productId\":\"%s\",\"quantity\":2},{\"productId\":\"%s\",\"quantity\":3}]",
		 pa, pb);
	c = order(&t, items,
		  "\"shippingCents\":6000,\"channel\":\"shopify\",\"externalId\":\"SH/1001\","
		  "\"notes\":\"Leave at the gate / \\\"back\\\" \\u00fcn\\u00efc\\u00f8d\\u00e9 <b>&</b>\"");
	cr_assert_eq(c->status, 201, "%s", c->body);
	cr_assert_not_null(json_str(c, "etag"), "%s", c->body);
	cr_assert_not_null(json_str(c, "createdAt"), "%s", c->body);
	snprintf(body, sizeof(body), "/v1/orders/%s", json_str(c, "id"));
	test_assert_answer_is_stored(c, body, t.owner.id_token, "the create");

	/* With an Idempotency-Key: the first answer from the commit, the replay as stored; all three agree. */
	snprintf(body, sizeof(body),
		 "{\"customer\":{\"name\":\"Sipho\",\"email\":\"s@example.com\"},\"shippingAddress\":%s,\"items\":[{"
		 "\"productId\":\"%s\",\"quantity\":1}]}",
		 address, pb);
	k = http_json_h("POST", "/v1/orders", t.owner.id_token, body, key);
	cr_assert_eq(k->status, 201, "%s", k->body);
	g2 = get_order(&t, json_str(k, "id"));
	cr_assert_str_eq(k->body, g2->body, "the keyed create's answer is the stored order");
	replay = http_json_h("POST", "/v1/orders", t.owner.id_token, body, key);
	cr_assert_eq(replay->status, 201, "%s", replay->body);
	cr_assert_str_eq(replay->body, g2->body, "the replay answers the same order");

	/* The etag answered is the current version: If-Match with it goes through. */
	snprintf(if_match, sizeof(if_match), "If-Match: %s", json_str(c, "etag"));
	match[0] = if_match;
	match[1] = NULL;
	snprintf(patch, sizeof(patch), "{\"notes\":\"changed\"}");
	snprintf(body, sizeof(body), "/v1/orders/%s", json_str(c, "id"));
	p = http_json_h("PATCH", body, t.owner.id_token, patch, match);
	cr_assert_eq(p->status, 200, "the create's etag is current: %s", p->body);
	http_resp_free(c);
	http_resp_free(k);
	http_resp_free(g2);
	http_resp_free(replay);
	http_resp_free(p);
}

/* A lifecycle method (verb) or PATCH (verb NULL) with prev's etag as If-Match; its answer must be what a GET returns. */
static struct http_resp *step_is_stored(const struct tenant *t, const char *id, const char *verb, const char *body,
					const struct http_resp *prev)
{
	char path[200], get[200], what[64];

	snprintf(get, sizeof(get), "/v1/orders/%s", id);
	snprintf(path, sizeof(path), "/v1/orders/%s%s%s", id, verb ? ":" : "", verb ? verb : "");
	snprintf(what, sizeof(what), "the %s%s", verb ? ":" : "", verb ? verb : "PATCH");
	return test_write_is_stored(verb ? "POST" : "PATCH", path, get, t->owner.id_token, body ? body : "{}", prev,
				    what);
}

/*
 * PATCH and the lifecycle methods answer from what they read and wrote and
 * the commit's version, not from a read after the commit: each answer must
 * be the stored order byte for byte, and its etag current (the next step
 * carries it as If-Match): fields added (notes, shipment, cancelReason,
 * restocked), replaced (customer, status, statusHistory) and left alone.
 */
Test(orders, patch_and_lifecycle_answers_are_byte_for_byte_what_a_get_returns)
{
	struct tenant t;
	char items[400], pa[64], pb[64], id[64], over[64], opa[64];
	struct http_resp *c, *a[10];
	size_t n = 0;

	make_tenant(&t);
	snprintf(pa, sizeof(pa), "%s", stocked_product(&t, "STEP-A", 1999, 9));
	snprintf(pb, sizeof(pb), "%s", stocked_product(&t, "STEP-B", 500, 9));
	snprintf(items, sizeof(items), "[{\"productId\":\"%s\",\"quantity\":2},{\"productId\":\"%s\",\"quantity\":1}]",
		 pa, pb);
	c = order(&t, items, "\"channel\":\"woocommerce\",\"externalId\":\"WC-77\"");
	cr_assert_eq(c->status, 201, "%s", c->body);
	snprintf(id, sizeof(id), "%s", json_str(c, "id"));
	a[n] = step_is_stored(&t, id, NULL, "{\"notes\":\"Ring twice / \\\"gate\\\" \\u00e9\\u00fc <b>&</b>\"}", c);
	n++;
	a[n] = step_is_stored(&t, id, NULL,
			      "{\"customer\":{\"name\":\"Thandi\",\"phone\":\"+27 21 555 0100\"},\"shippingAddress\":{"
			      "\"line1\":\"1 Beach Rd\",\"city\":\"Durban\",\"province\":\"KwaZulu-Natal\","
			      "\"postalCode\":\"4001\"}}",
			      a[n - 1]);
	n++;
	a[n] = step_is_stored(&t, id, "confirm", NULL, a[n - 1]);
	n++;
	a[n] = step_is_stored(&t, id, "ship", "{\"carrier\":\"The Courier Guy\",\"trackingNumber\":\"TCG-1\"}",
			      a[n - 1]);
	n++;
	a[n] = step_is_stored(&t, id, "deliver", NULL, a[n - 1]);
	n++;
	a[n] = step_is_stored(&t, id, "return", "{\"restock\":true}", a[n - 1]);
	n++;
	cr_assert_str_eq(json_str(a[n - 1], "status"), "returned", "%s", a[n - 1]->body);

	/* A cancel of an oversold order also resolves its insights in the same commit. */
	oversold_order(&t, "STEP-O", opa, over);
	http_resp_free(c);
	c = get_order(&t, over);
	a[n] = step_is_stored(&t, over, "cancel", "{\"reason\":\"out of stock\"}", c);
	n++;
	cr_assert_str_eq(json_str(a[n - 1], "cancelReason"), "out of stock", "%s", a[n - 1]->body);

	/* :allocate after stock came in (stock, items, oversold written), then with nothing left to take. */
	oversold_order(&t, "STEP-P", opa, over);
	receive(&t, opa, 3);
	http_resp_free(c);
	c = get_order(&t, over);
	a[n] = step_is_stored(&t, over, "allocate", NULL, c);
	n++;
	cr_assert_eq(json_flag(a[n - 1], "oversold"), 0, "%s", a[n - 1]->body);
	a[n] = step_is_stored(&t, over, "allocate", NULL, a[n - 1]);
	n++;
	for (size_t i = 0; i < n; i++)
		http_resp_free(a[i]);
	http_resp_free(c);
}

Test(orders, list_is_newest_first_with_filters)
{
	struct tenant t;
	char items[300], first[64], pa[64];
	struct http_resp *r;

	make_tenant(&t);
	snprintf(pa, sizeof(pa), "%s", stocked_product(&t, "LST-1", 100, 10));
	snprintf(items, sizeof(items), "[{\"productId\":\"%s\",\"quantity\":1}]", pa);
	r = order(&t, items, NULL);
	snprintf(first, sizeof(first), "%s", json_str(r, "id"));
	http_resp_free(r);
	http_resp_free(order(&t, items, "\"channel\":\"shopify\""));
	http_resp_free(order(&t, items, NULL));
	r = http_get("/v1/orders", t.owner.id_token);
	cr_assert_eq(json_object_array_length(json_object_object_get(r->json, "data")), 3);
	cr_assert_str_eq(json_str(r, "data.0.number"), "FX-000003");
	cr_assert_str_eq(json_str(r, "data.2.id"), first);
	http_resp_free(r);
	r = http_get("/v1/orders?channel=shopify", t.owner.id_token);
	cr_assert_eq(json_object_array_length(json_object_object_get(r->json, "data")), 1, "%s", r->body);
	http_resp_free(r);
	r = http_get("/v1/orders?status=pending&pageSize=2", t.owner.id_token);
	cr_assert_eq(json_object_array_length(json_object_object_get(r->json, "data")), 2);
	cr_assert_not_null(json_str(r, "nextPageToken"));
	http_resp_free(r);
	r = http_get("/v1/orders?from=2000-01-01T00:00:00Z&to=2001-01-01T00:00:00Z", t.owner.id_token);
	cr_assert_eq(json_object_array_length(json_object_object_get(r->json, "data")), 0);
	http_resp_free(r);
	r = http_get("/v1/orders?from=yesterday", t.owner.id_token);
	assert_error(r, 400, "INVALID_ARGUMENT");
	http_resp_free(r);
}

Test(orders, patch_changes_the_address_only_before_shipping)
{
	struct tenant t;
	char items[300], id[64], path[200], pa[64];
	struct http_resp *r;

	make_tenant(&t);
	snprintf(pa, sizeof(pa), "%s", stocked_product(&t, "PAT-1", 100, 10));
	snprintf(items, sizeof(items), "[{\"productId\":\"%s\",\"quantity\":1}]", pa);
	r = order(&t, items, NULL);
	snprintf(id, sizeof(id), "%s", json_str(r, "id"));
	http_resp_free(r);
	snprintf(path, sizeof(path), "/v1/orders/%s", id);
	r = http_json("PATCH", path, t.owner.id_token,
		      "{\"notes\":\"gift wrap\",\"shippingAddress\":{\"line1\":\"1 Beach Rd\",\"city\":\"Durban\","
		      "\"province\":\"KwaZulu-Natal\",\"postalCode\":\"4001\"}}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "shippingAddress.city"), "Durban");
	http_resp_free(r);
	r = http_json("PATCH", path, t.owner.id_token, "{\"status\":\"shipped\"}");
	assert_error(r, 400, "INVALID_ARGUMENT");
	http_resp_free(r);
	http_resp_free(method(&t, id, "confirm", NULL));
	http_resp_free(method(&t, id, "ship", NULL));
	r = http_json(
		"PATCH", path, t.owner.id_token,
		"{\"shippingAddress\":{\"line1\":\"2 Beach Rd\",\"city\":\"Durban\",\"province\":\"KwaZulu-Natal\","
		"\"postalCode\":\"4001\"}}");
	assert_error(r, 409, "FAILED_PRECONDITION");
	http_resp_free(r);
	r = http_json("PATCH", path, t.owner.id_token, "{\"notes\":\"left at the gate\"}");
	cr_assert_eq(r->status, 200, "notes still change: %s", r->body);
	http_resp_free(r);
}

Test(isolation, another_organization_cannot_see_or_move_orders)
{
	struct tenant a, b;
	char items[300], id[64], path[200], pa[64];
	struct http_resp *r;

	make_tenant(&a);
	make_tenant(&b);
	snprintf(pa, sizeof(pa), "%s", stocked_product(&a, "ISO-1", 100, 10));
	snprintf(items, sizeof(items), "[{\"productId\":\"%s\",\"quantity\":1}]", pa);
	r = order(&a, items, NULL);
	snprintf(id, sizeof(id), "%s", json_str(r, "id"));
	http_resp_free(r);
	snprintf(path, sizeof(path), "/v1/orders/%s", id);
	r = http_get(path, b.owner.id_token);
	assert_error(r, 404, "NOT_FOUND");
	http_resp_free(r);
	r = http_json("PATCH", path, b.owner.id_token, "{\"notes\":\"x\"}");
	assert_error(r, 404, "NOT_FOUND");
	http_resp_free(r);
	r = method(&b, id, "cancel", "{\"reason\":\"mine now\"}");
	assert_error(r, 404, "NOT_FOUND");
	http_resp_free(r);
	r = order(&b, items, NULL);
	cr_assert_eq(r->status, 400, "B cannot order A's product: %s", r->body);
	cr_assert_str_eq(json_str(r, "error.details.0.field"), "items[0].productId");
	http_resp_free(r);
	r = http_get("/v1/orders", b.owner.id_token);
	cr_assert_eq(json_object_array_length(json_object_object_get(r->json, "data")), 0);
	http_resp_free(r);
}
