/*
 * Products through nginx: CRUD, every validation error, pagination over a
 * 250-product catalogue, SKU uniqueness under concurrency, stock:adjust
 * under concurrency and with Idempotency-Key, and tenant isolation.
 */
#include "client.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct tenant {
	struct test_user owner;
	char id[64];
};

static void assert_error(struct http_resp *r, long code, const char *status)
{
	cr_assert_eq(r->status, code, "expected %ld, got %ld: %s", code, r->status, r->body);
	cr_assert_str_eq(json_str(r, "error.status"), status, "%s", r->body);
}

static void make_tenant(struct tenant *t)
{
	test_owner_signup(&t->owner, "shop", "Shop", t->id, sizeof(t->id));
}

/* Creates a product and returns its id (static per thread). */
static const char *make_product(const struct tenant *t, const char *sku, const char *name, long price)
{
	static __thread char id[64];
	char body[512];
	struct http_resp *r;

	snprintf(body, sizeof(body), "{\"sku\":\"%s\",\"name\":\"%s\",\"priceCents\":%ld,\"status\":\"active\"}", sku,
		 name, price);
	r = http_json("POST", "/v1/products", t->owner.id_token, body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	snprintf(id, sizeof(id), "%s", json_str(r, "id"));
	http_resp_free(r);
	return id;
}

static struct http_resp *adjust(const struct tenant *t, const char *id, const char *body, const char *key)
{
	char path[200], header[300];
	const char *h[] = {header, NULL};

	snprintf(path, sizeof(path), "/v1/products/%s/stock:adjust", id);
	snprintf(header, sizeof(header), "Idempotency-Key: %s", key ? key : "");
	return http_do("POST", path, t->owner.id_token, NULL, body, strlen(body), key ? h : NULL);
}

Test(products, full_crud)
{
	struct tenant t;
	struct http_resp *r;
	char path[200], etag[128], match[160];
	const char *h[] = {match, NULL};

	make_tenant(&t);
	r = http_json("POST", "/v1/products", t.owner.id_token,
		      "{\"sku\":\"TSHIRT-BLU-L\",\"name\":\"Blue T-shirt\",\"priceCents\":19999,\"costCents\":8000,"
		      "\"category\":\"apparel\",\"attributes\":{\"size\":\"L\"},\"stock\":{\"reorderPoint\":3}}");
	cr_assert_eq(r->status, 201, "%s", r->body);
	snprintf(path, sizeof(path), "/v1/products/%s", json_str(r, "id"));
	cr_assert_str_eq(http_header(r, "Location"), path);
	cr_assert_str_eq(json_str(r, "currency"), "ZAR");
	cr_assert_str_eq(json_str(r, "status"), "draft");
	cr_assert_eq(json_int(r, "stock.onHand"), 0);
	cr_assert_eq(json_int(r, "stock.available"), 0);
	cr_assert_eq(json_int(r, "stock.reorderPoint"), 3);
	cr_assert(json_object_get_boolean(json_object_object_get(r->json, "lowStock")));
	cr_assert_null(json_str(r, "organizationId"), "bookkeeping stays hidden");
	cr_assert_null(json_object_object_get(r->json, "searchPrefixes"));
	http_resp_free(r);

	r = http_get(path, t.owner.id_token);
	cr_assert_eq(r->status, 200);
	cr_assert_str_eq(json_str(r, "attributes.size"), "L");
	snprintf(etag, sizeof(etag), "%s", json_str(r, "etag"));
	http_resp_free(r);

	snprintf(match, sizeof(match), "If-Match: %s", etag);
	r = http_json_h("PATCH", path, t.owner.id_token, "{\"name\":\"Navy T-shirt\",\"priceCents\":17999}", h);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "name"), "Navy T-shirt");
	cr_assert_eq(json_int(r, "priceCents"), 17999);
	http_resp_free(r);
	r = http_json_h("PATCH", path, t.owner.id_token, "{\"name\":\"Stale\"}", h);
	assert_error(r, 412, "FAILED_PRECONDITION");
	http_resp_free(r);

	r = http_json("DELETE", path, t.owner.id_token, NULL);
	cr_assert_eq(r->status, 204, "%s", r->body);
	http_resp_free(r);
	r = http_get(path, t.owner.id_token);
	assert_error(r, 404, "NOT_FOUND");
	http_resp_free(r);
	/* The SKU is free again. */
	make_product(&t, "TSHIRT-BLU-L", "Again", 100);
}

Test(products, every_validation_error_names_its_field)
{
	static const struct {
		const char *body, *field;
	} cases[] = {
		{"{\"name\":\"x\",\"priceCents\":1}", "sku"},
		{"{\"sku\":\"A1\",\"priceCents\":1}", "name"},
		{"{\"sku\":\"A1\",\"name\":\"x\"}", "priceCents"},
		{"{\"sku\":\"\",\"name\":\"x\",\"priceCents\":1}", "sku"},
		{"{\"sku\":\"has space\",\"name\":\"x\",\"priceCents\":1}", "sku"},
		{"{\"sku\":\"a/b\",\"name\":\"x\",\"priceCents\":1}", "sku"},
		{"{\"sku\":\"A1\",\"name\":\"\",\"priceCents\":1}", "name"},
		{"{\"sku\":\"A1\",\"name\":\"x\",\"priceCents\":-1}", "priceCents"},
		{"{\"sku\":\"A1\",\"name\":\"x\",\"priceCents\":1.5}", "priceCents"},
		{"{\"sku\":\"A1\",\"name\":\"x\",\"priceCents\":\"100\"}", "priceCents"},
		{"{\"sku\":\"A1\",\"name\":\"x\",\"priceCents\":1,\"costCents\":-5}", "costCents"},
		{"{\"sku\":\"A1\",\"name\":\"x\",\"priceCents\":1,\"status\":\"deleted\"}", "status"},
		{"{\"sku\":\"A1\",\"name\":\"x\",\"priceCents\":1,\"barcode\":\"12ab\"}", "barcode"},
		/* EAN-13 600123456789 has check digit 9, not 0; five digits are no EAN/UPC. */
		{"{\"sku\":\"A1\",\"name\":\"x\",\"priceCents\":1,\"barcode\":\"6001234567890\"}", "barcode"},
		{"{\"sku\":\"A1\",\"name\":\"x\",\"priceCents\":1,\"barcode\":\"12345\"}", "barcode"},
		{"{\"sku\":\"A1\",\"name\":\"x\",\"priceCents\":1,\"attributes\":{\"size\":3}}", "attributes.size"},
		{"{\"sku\":\"A1\",\"name\":\"x\",\"priceCents\":1,\"attributes\":[]}", "attributes"},
		{"{\"sku\":\"A1\",\"name\":\"x\",\"priceCents\":1,\"stock\":{\"onHand\":5}}", "stock.onHand"},
		{"{\"sku\":\"A1\",\"name\":\"x\",\"priceCents\":1,\"stock\":{\"reserved\":5}}", "stock.reserved"},
		{"{\"sku\":\"A1\",\"name\":\"x\",\"priceCents\":1,\"stock\":{\"reorderPoint\":-1}}",
		 "stock.reorderPoint"},
		{"{\"sku\":\"A1\",\"name\":\"x\",\"priceCents\":1,\"id\":\"mine\"}", "id"},
		{"{\"sku\":\"A1\",\"name\":\"x\",\"priceCents\":1,\"organizationId\":\"other\"}", "organizationId"},
		{"{\"sku\":\"A1\",\"name\":\"x\",\"priceCents\":1,\"createdAt\":\"2020-01-01T00:00:00Z\"}",
		 "createdAt"},
		{"{\"sku\":\"A1\",\"name\":\"x\",\"priceCents\":1,\"currency\":\"USD\"}", "currency"},
	};
	struct tenant t;

	make_tenant(&t);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct http_resp *r = http_json("POST", "/v1/products", t.owner.id_token, cases[i].body);

		cr_expect_eq(r->status, 400, "%s → %ld %s", cases[i].body, r->status, r->body);
		cr_expect_str_eq(json_str(r, "error.details.0.field") ? json_str(r, "error.details.0.field") : "",
				 cases[i].field, "%s → %s", cases[i].body, r->body);
		http_resp_free(r);
	}
	{
		struct http_resp *r = http_get("/v1/products", t.owner.id_token);

		cr_assert_eq(json_object_array_length(json_object_object_get(r->json, "data")), 0,
			     "no refused request created anything");
		http_resp_free(r);
	}
}

Test(products, adjust_validation_and_list_parameters)
{
	static const struct {
		const char *body, *field;
	} cases[] = {
		{"{\"reason\":\"received\"}", "delta"},
		{"{\"delta\":0,\"reason\":\"received\"}", "delta"},
		{"{\"delta\":2000000,\"reason\":\"received\"}", "delta"},
		{"{\"delta\":1}", "reason"},
		{"{\"delta\":1,\"reason\":\"gift\"}", "reason"},
		{"{\"delta\":1,\"reason\":\"received\",\"note\":5}", "note"},
		{"{\"delta\":1,\"reason\":\"received\",\"onHand\":9}", "onHand"},
	};
	static const struct {
		const char *query, *field;
	} params[] = {
		{"/v1/products?status=gone", "status"},	     {"/v1/products?orderBy=price", "orderBy"},
		{"/v1/products?lowStock=yes", "lowStock"},   {"/v1/products?pageSize=201", "pageSize"},
		{"/v1/products?pageSize=abc", "pageSize"},   {"/v1/products?sort=name", "sort"},
		{"/v1/products?pageToken=xyz", "pageToken"},
	};
	struct tenant t;
	const char *id;

	make_tenant(&t);
	id = make_product(&t, "ADJ-1", "Adjustable", 100);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct http_resp *r = adjust(&t, id, cases[i].body, NULL);

		cr_expect_eq(r->status, 400, "%s → %ld %s", cases[i].body, r->status, r->body);
		cr_expect_str_eq(json_str(r, "error.details.0.field") ? json_str(r, "error.details.0.field") : "",
				 cases[i].field, "%s → %s", cases[i].body, r->body);
		http_resp_free(r);
	}
	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
		struct http_resp *r = http_get(params[i].query, t.owner.id_token);

		cr_expect_eq(r->status, 400, "%s → %ld", params[i].query, r->status);
		cr_expect_str_eq(json_str(r, "error.details.0.field") ? json_str(r, "error.details.0.field") : "",
				 params[i].field, "%s → %s", params[i].query, r->body);
		http_resp_free(r);
	}
}

Test(stock, adjust_refuses_going_below_reserved_and_writes_movements)
{
	struct tenant t;
	const char *id;
	struct http_resp *r;
	char path[200];

	make_tenant(&t);
	id = make_product(&t, "STK-1", "Stocked", 100);
	r = adjust(&t, id, "{\"delta\":10,\"reason\":\"received\",\"note\":\"PO 17\"}", NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(json_int(r, "onHandAfter"), 10);
	cr_assert_str_eq(json_str(r, "reason"), "received");
	cr_assert_str_eq(json_str(r, "by"), t.owner.uid);
	http_resp_free(r);
	r = adjust(&t, id, "{\"delta\":-11,\"reason\":\"lost\"}", NULL);
	assert_error(r, 409, "FAILED_PRECONDITION");
	http_resp_free(r);
	r = adjust(&t, id, "{\"delta\":-4,\"reason\":\"damaged\"}", NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	http_resp_free(r);
	snprintf(path, sizeof(path), "/v1/products/%s", id);
	r = http_get(path, t.owner.id_token);
	cr_assert_eq(json_int(r, "stock.onHand"), 6);
	cr_assert_eq(json_int(r, "stock.available"), 6);
	http_resp_free(r);
	snprintf(path, sizeof(path), "/v1/products/%s/movements", id);
	r = http_get(path, t.owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(json_object_array_length(json_object_object_get(r->json, "data")), 2);
	cr_assert_eq(json_int(r, "data.0.delta"), -4, "newest first");
	cr_assert_eq(json_int(r, "data.1.delta"), 10);
	http_resp_free(r);
}

Test(stock, a_retried_idempotency_key_applies_once)
{
	struct tenant t;
	const char *id;
	struct http_resp *r1, *r2, *r3;
	char path[200];

	make_tenant(&t);
	id = make_product(&t, "IDEM-1", "Idempotent", 100);
	r1 = adjust(&t, id, "{\"delta\":5,\"reason\":\"received\"}", "key-abc");
	r2 = adjust(&t, id, "{\"delta\":5,\"reason\":\"received\"}", "key-abc");
	cr_assert_eq(r1->status, 200, "%s", r1->body);
	cr_assert_eq(r2->status, 200, "%s", r2->body);
	cr_assert_str_eq(json_str(r1, "id"), json_str(r2, "id"), "the retry answers the first result");
	r3 = adjust(&t, id, "{\"delta\":6,\"reason\":\"received\"}", "key-abc");
	assert_error(r3, 409, "ALREADY_EXISTS");
	http_resp_free(r1);
	http_resp_free(r2);
	http_resp_free(r3);
	snprintf(path, sizeof(path), "/v1/products/%s", id);
	r1 = http_get(path, t.owner.id_token);
	cr_assert_eq(json_int(r1, "stock.onHand"), 5, "applied once");
	http_resp_free(r1);
}

struct race {
	const struct tenant *t;
	const char *id;
	atomic_int created, conflicts, other, ok;
};

static void *create_same_sku(void *arg)
{
	struct race *x = arg;
	struct http_resp *r = http_json("POST", "/v1/products", x->t->owner.id_token,
					"{\"sku\":\"RACE-1\",\"name\":\"Racer\",\"priceCents\":1}");

	if (r->status == 201)
		atomic_fetch_add(&x->created, 1);
	else if (r->status == 409 && strcmp(json_str(r, "error.status"), "ALREADY_EXISTS") == 0)
		atomic_fetch_add(&x->conflicts, 1);
	else
		atomic_fetch_add(&x->other, 1);
	http_resp_free(r);
	return NULL;
}

Test(products, twenty_concurrent_creates_of_one_sku_make_exactly_one, .timeout = 120)
{
	struct tenant t;
	struct race x = {0};
	pthread_t th[20];

	make_tenant(&t);
	x.t = &t;
	for (int i = 0; i < 20; i++)
		pthread_create(&th[i], NULL, create_same_sku, &x);
	for (int i = 0; i < 20; i++)
		pthread_join(th[i], NULL);
	cr_assert_eq(atomic_load(&x.created), 1);
	cr_assert_eq(atomic_load(&x.conflicts), 19);
	cr_assert_eq(atomic_load(&x.other), 0);
}

static void *adjust_plus_one(void *arg)
{
	struct race *x = arg;
	struct http_resp *r = adjust(x->t, x->id, "{\"delta\":1,\"reason\":\"received\"}", NULL);

	if (r->status == 200)
		atomic_fetch_add(&x->ok, 1);
	else
		atomic_fetch_add(&x->other, 1);
	http_resp_free(r);
	return NULL;
}

Test(stock, fifty_concurrent_adjustments_all_count, .timeout = 180)
{
	struct tenant t;
	struct race x = {0};
	pthread_t th[50];
	struct http_resp *r;
	char path[200], *next = NULL;
	int movements = 0;

	make_tenant(&t);
	x.t = &t;
	x.id = strdup(make_product(&t, "CONC-1", "Concurrent", 100));
	for (int i = 0; i < 50; i++)
		pthread_create(&th[i], NULL, adjust_plus_one, &x);
	for (int i = 0; i < 50; i++)
		pthread_join(th[i], NULL);
	cr_assert_eq(atomic_load(&x.ok), 50, "%d failed", atomic_load(&x.other));
	snprintf(path, sizeof(path), "/v1/products/%s", x.id);
	r = http_get(path, t.owner.id_token);
	cr_assert_eq(json_int(r, "stock.onHand"), 50);
	http_resp_free(r);
	snprintf(path, sizeof(path), "/v1/products/%s/movements?pageSize=200", x.id);
	r = http_get(path, t.owner.id_token);
	movements = (int)json_object_array_length(json_object_object_get(r->json, "data"));
	cr_assert_eq(movements, 50);
	cr_assert_eq(json_int(r, "data.0.onHandAfter"), 50);
	http_resp_free(r);
	free(next);
	free((char *)x.id);
}

struct seeder {
	const struct tenant *t;
	int from, to;
};

static void *seed(void *arg)
{
	struct seeder *s = arg;

	for (int i = s->from; i < s->to; i++) {
		char sku[32], name[64];

		snprintf(sku, sizeof(sku), "CAT-%04d", i);
		snprintf(name, sizeof(name), "Item %04d", (i * 37) % 250);
		make_product(s->t, sku, name, 100 + i);
	}
	return NULL;
}

Test(products, pagination_walks_250_products_without_gaps_or_repeats, .timeout = 300)
{
	static const char *const orders[] = {"", "&orderBy=name", "&orderBy=sku", "&orderBy=createdAt",
					     "&orderBy=available"};
	struct tenant t;
	struct seeder s[5];
	pthread_t th[5];

	make_tenant(&t);
	for (int i = 0; i < 5; i++) {
		s[i] = (struct seeder){&t, i * 50, (i + 1) * 50};
		pthread_create(&th[i], NULL, seed, &s[i]);
	}
	for (int i = 0; i < 5; i++)
		pthread_join(th[i], NULL);
	for (size_t o = 0; o < sizeof(orders) / sizeof(orders[0]); o++) {
		char path[512], seen[250] = {0};
		int total = 0, pages = 0;

		snprintf(path, sizeof(path), "/v1/products?pageSize=20%s", orders[o]);
		for (;;) {
			struct http_resp *r = http_get(path, t.owner.id_token);
			json_object *data = json_object_object_get(r->json, "data");

			cr_assert_eq(r->status, 200, "%s: %s", path, r->body);
			for (size_t i = 0; i < json_object_array_length(data); i++) {
				const char *sku = json_object_get_string(
					json_object_object_get(json_object_array_get_idx(data, i), "sku"));
				int n = atoi(sku + 4);

				cr_assert_eq(seen[n], 0, "%s seen twice with %s", sku, orders[o]);
				seen[n] = 1;
				total++;
			}
			pages++;
			if (!json_str(r, "nextPageToken")) {
				http_resp_free(r);
				break;
			}
			snprintf(path, sizeof(path), "/v1/products?pageSize=20%s&pageToken=%s", orders[o],
				 json_str(r, "nextPageToken"));
			http_resp_free(r);
		}
		cr_assert_eq(total, 250, "all 250 once with order '%s'", orders[o]);
		cr_assert_eq(pages, 13);
	}
	{
		/* A token replayed with other filters is refused. */
		struct http_resp *r = http_get("/v1/products?pageSize=20", t.owner.id_token), *r2;
		char path[512];

		snprintf(path, sizeof(path), "/v1/products?pageSize=20&orderBy=sku&pageToken=%s",
			 json_str(r, "nextPageToken"));
		r2 = http_get(path, t.owner.id_token);
		assert_error(r2, 400, "INVALID_ARGUMENT");
		http_resp_free(r);
		http_resp_free(r2);
	}
}

Test(products, filters_and_search)
{
	struct tenant t;
	struct http_resp *r;
	const char *id;

	make_tenant(&t);
	make_product(&t, "SHOE-RED-9", "Running Shoe", 89900);
	make_product(&t, "SHOE-BLK-8", "Walking Shoe", 79900);
	id = make_product(&t, "HAT-1", "Sun Hat", 19900);
	r = http_get("/v1/products?q=shoe-", t.owner.id_token);
	cr_assert_eq(json_object_array_length(json_object_object_get(r->json, "data")), 2, "%s", r->body);
	http_resp_free(r);
	r = http_get("/v1/products?q=SUN", t.owner.id_token);
	cr_assert_eq(json_object_array_length(json_object_object_get(r->json, "data")), 1, "%s", r->body);
	cr_assert_str_eq(json_str(r, "data.0.id"), id);
	http_resp_free(r);
	r = http_get("/v1/products?q=Walk&orderBy=name", t.owner.id_token);
	cr_assert_eq(json_object_array_length(json_object_object_get(r->json, "data")), 1, "%s", r->body);
	http_resp_free(r);
	r = http_get("/v1/products?lowStock=true&status=active", t.owner.id_token);
	cr_assert_eq(json_object_array_length(json_object_object_get(r->json, "data")), 3, "%s", r->body);
	http_resp_free(r);
	r = http_get("/v1/products?status=archived", t.owner.id_token);
	cr_assert_eq(json_object_array_length(json_object_object_get(r->json, "data")), 0, "%s", r->body);
	http_resp_free(r);
}

Test(isolation, another_organization_cannot_touch_products)
{
	struct tenant a, b;
	struct http_resp *r;
	char path[200], mv[220];
	const char *id;

	make_tenant(&a);
	make_tenant(&b);
	id = make_product(&a, "PRIV-1", "Private", 100);
	snprintf(path, sizeof(path), "/v1/products/%s", id);
	snprintf(mv, sizeof(mv), "/v1/products/%s/movements", id);
	r = http_get(path, b.owner.id_token);
	assert_error(r, 404, "NOT_FOUND");
	http_resp_free(r);
	r = http_json("PATCH", path, b.owner.id_token, "{\"name\":\"Mine\"}");
	assert_error(r, 404, "NOT_FOUND");
	http_resp_free(r);
	r = adjust(&b, id, "{\"delta\":1,\"reason\":\"received\"}", NULL);
	assert_error(r, 404, "NOT_FOUND");
	http_resp_free(r);
	r = http_get(mv, b.owner.id_token);
	assert_error(r, 404, "NOT_FOUND");
	http_resp_free(r);
	r = http_json("DELETE", path, b.owner.id_token, NULL);
	assert_error(r, 404, "NOT_FOUND");
	http_resp_free(r);
	r = http_get("/v1/products", b.owner.id_token);
	cr_assert_eq(json_object_array_length(json_object_object_get(r->json, "data")), 0, "B lists none of A's");
	http_resp_free(r);
	r = http_get(path, a.owner.id_token);
	cr_assert_eq(r->status, 200, "A's product is untouched");
	cr_assert_str_eq(json_str(r, "name"), "Private");
	http_resp_free(r);
}

Test(roles, staff_adjusts_stock_but_cannot_create_products)
{
	struct tenant t;
	struct test_user staff;
	struct http_resp *r;
	char body[300];
	const char *id;

	make_tenant(&t);
	id = make_product(&t, "ROLE-1", "Roles", 100);
	cr_assert_eq(test_user_signup(&staff, "staff"), 0);
	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"role\":\"staff\"}", staff.email);
	r = http_json("POST", "/v1/users", t.owner.id_token, body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	http_resp_free(r);
	cr_assert_eq(test_user_refresh(&staff), 0);
	r = http_json("POST", "/v1/products", staff.id_token, "{\"sku\":\"S-1\",\"name\":\"x\",\"priceCents\":1}");
	assert_error(r, 403, "PERMISSION_DENIED");
	http_resp_free(r);
	snprintf(body, sizeof(body), "/v1/products/%s/stock:adjust", id);
	r = http_json("POST", body, staff.id_token, "{\"delta\":2,\"reason\":\"received\"}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	http_resp_free(r);
}

/* ---- the SKU index read straight from Firestore (the emulator's REST API) ---- */

struct stored {
	char id[160]; /* the document id */
	char sku[128]; /* products: sku; skus: the sku the entry was made for */
	char key[200]; /* products: skuKey; skus: unused */
	char product[64]; /* skus: productId; products: unused */
};

/* Every document of organizations/{org}/{collection} (at most max), read without the API. */
static size_t fs_list(const struct tenant *t, const char *collection, struct stored *out, size_t max)
{
	static const char *const h[] = {"Authorization: Bearer owner", NULL};
	char url[400];
	struct http_resp *r;
	json_object *docs;
	size_t n;

	snprintf(url, sizeof(url),
		 "http://127.0.0.1:%s/v1/projects/demo-fluxori/databases/(default)/documents/organizations/%s/%s"
		 "?pageSize=1000",
		 test_env("FLUXORI_FIRESTORE_PORT"), t->id, collection);
	r = http_url("GET", url, h, NULL, 0);
	cr_assert_eq(r->status, 200, "%s: %s", url, r->body);
	docs = json_object_object_get(r->json, "documents");
	n = docs ? json_object_array_length(docs) : 0;
	cr_assert_leq(n, max, "%zu %s documents", n, collection);
	for (size_t i = 0; i < n; i++) {
		json_object *d = json_object_array_get_idx(docs, i), *f = json_object_object_get(d, "fields"), *v;
		const char *name = json_object_get_string(json_object_object_get(d, "name"));
		const char *slash = strrchr(name, '/');

		memset(&out[i], 0, sizeof(out[i]));
		snprintf(out[i].id, sizeof(out[i].id), "%s", slash ? slash + 1 : name);
#define FIELD(key, dst)                            \
	if (json_object_object_get_ex(f, key, &v)) \
		snprintf(dst, sizeof(dst), "%s", json_object_get_string(json_object_object_get(v, "stringValue")));
		FIELD("sku", out[i].sku);
		FIELD("skuKey", out[i].key);
		FIELD("productId", out[i].product);
#undef FIELD
	}
	http_resp_free(r);
	return n;
}

/*
 * The index agrees with the products: each product's SKU has exactly one
 * index entry and it points at that product, every entry points at a
 * product that holds its SKU, and no two products hold one SKU.
 */
static void assert_sku_index_consistent(const struct tenant *t)
{
	static struct stored products[300], skus[300];
	size_t np = fs_list(t, "products", products, 300), ns = fs_list(t, "skus", skus, 300);

	for (size_t i = 0; i < np; i++) {
		int entries = 0;

		for (size_t k = 0; k < np; k++)
			cr_assert(k == i || strcasecmp(products[i].sku, products[k].sku) != 0,
				  "products %s and %s both hold SKU %s", products[i].id, products[k].id,
				  products[i].sku);
		for (size_t k = 0; k < ns; k++) {
			if (strcmp(skus[k].product, products[i].id) != 0)
				continue;
			entries++;
			cr_assert_str_eq(skus[k].sku, products[i].sku,
					 "product %s holds SKU %s, its index entry %s says %s", products[i].id,
					 products[i].sku, skus[k].id, skus[k].sku);
		}
		cr_assert_eq(entries, 1, "product %s (SKU %s) has %d index entries", products[i].id, products[i].sku,
			     entries);
	}
	for (size_t k = 0; k < ns; k++) {
		bool found = false;

		for (size_t i = 0; i < np && !found; i++)
			found = strcmp(skus[k].product, products[i].id) == 0 &&
				strcmp(skus[k].sku, products[i].sku) == 0;
		cr_assert(found, "index entry %s (SKU %s) points at %s, which does not hold that SKU", skus[k].id,
			  skus[k].sku, skus[k].product);
	}
	cr_assert_eq(ns, np, "%zu index entries for %zu products", ns, np);
}

struct patch_race {
	const struct tenant *t;
	const char *path;
	const char *body;
	pthread_barrier_t *go;
	long status;
	char error[32];
};

static void *patch_at_once(void *arg)
{
	struct patch_race *p = arg;
	struct http_resp *r;

	pthread_barrier_wait(p->go);
	r = http_json("PATCH", p->path, p->t->owner.id_token, p->body);
	p->status = r->status;
	snprintf(p->error, sizeof(p->error), "%s", json_str(r, "error.status") ? json_str(r, "error.status") : "");
	http_resp_free(r);
	return NULL;
}

Test(products, a_rename_racing_a_sku_change_keeps_the_new_sku_and_the_index_in_step, .timeout = 600)
{
	struct tenant t;
	char path[200], sku[32], body[200], name_body[200];
	int changed = 0;
	const char *id;

	make_tenant(&t);
	make_product(&t, "OTHER-A", "Other A", 100);
	make_product(&t, "OTHER-B", "Other B", 100);
	id = make_product(&t, "RACE-SKU-0", "Racer", 100);
	snprintf(path, sizeof(path), "/v1/products/%s", id);
	snprintf(sku, sizeof(sku), "RACE-SKU-0");
	for (int i = 1; i <= 16; i++) {
		pthread_barrier_t go;
		pthread_t th[2];
		struct patch_race rename = {&t, path, name_body, &go, 0, ""}, resku = {&t, path, body, &go, 0, ""};
		struct http_resp *r;
		char old[32];

		snprintf(name_body, sizeof(name_body), "{\"name\":\"Racer %d\"}", i);
		snprintf(body, sizeof(body), "{\"sku\":\"RACE-SKU-%d\"}", i);
		pthread_barrier_init(&go, NULL, 2);
		pthread_create(&th[0], NULL, patch_at_once, &rename);
		pthread_create(&th[1], NULL, patch_at_once, &resku);
		pthread_join(th[0], NULL);
		pthread_join(th[1], NULL);
		pthread_barrier_destroy(&go);
		cr_assert(rename.status == 200 || (rename.status == 409 && strcmp(rename.error, "ABORTED") == 0),
			  "rename: %ld %s", rename.status, rename.error);
		cr_assert(resku.status == 200 || (resku.status == 409 && strcmp(resku.error, "ABORTED") == 0),
			  "SKU change: %ld %s", resku.status, resku.error);
		snprintf(old, sizeof(old), "%s", sku);
		if (resku.status == 200) {
			changed++;
			snprintf(sku, sizeof(sku), "RACE-SKU-%d", i);
		}
		r = http_get(path, t.owner.id_token);
		cr_assert_eq(r->status, 200, "%s", r->body);
		cr_assert_str_eq(json_str(r, "sku"), sku,
				 "round %d: the SKU change must stick (rename %ld, change %ld)", i, rename.status,
				 resku.status);
		http_resp_free(r);
		if (strcmp(old, sku) != 0) {
			/* The released SKU is free for another product, and only then. */
			char create[200];

			snprintf(create, sizeof(create), "{\"sku\":\"%s\",\"name\":\"Taker %d\",\"priceCents\":1}", old,
				 i);
			r = http_json("POST", "/v1/products", t.owner.id_token, create);
			cr_assert_eq(r->status, 201, "round %d: SKU %s was released: %s", i, old, r->body);
			http_resp_free(r);
		}
		assert_sku_index_consistent(&t);
	}
	cr_assert_geq(changed, 1, "at least one SKU change went through");
}

/* POSTs a product with sku (a JSON string literal's contents) and returns the answer. */
static struct http_resp *create_sku(const struct tenant *t, const char *sku)
{
	char body[400];

	snprintf(body, sizeof(body), "{\"sku\":\"%s\",\"name\":\"Item\",\"priceCents\":1}", sku);
	return http_json("POST", "/v1/products", t->owner.id_token, body);
}

Test(products, skus_with_dots_are_products_like_any_other, .timeout = 180)
{
	static const char *const skus[] = {
		".",
		"..",
		"...",
		"A.B",
		"a..b",
		"KC.SOY.250",
		"aDb",
		"aX2Eb",
		"a_b",
		"a-b",
		"ab",
		/* 64 bytes, the limit: all dots, and mixed */
		"................................................................",
		"0123456789.abcdefghijklmnopqrstuvwxyz.ABCDEFGHIJKLMNOPQRSTUVWXY.",
	};
	struct tenant t;
	struct http_resp *r;
	char ids[sizeof(skus) / sizeof(skus[0])][64], path[200];

	make_tenant(&t);
	for (size_t i = 0; i < sizeof(skus) / sizeof(skus[0]); i++) {
		r = create_sku(&t, skus[i]);
		cr_assert_eq(r->status, 201, "SKU %s: %s", skus[i], r->body);
		cr_assert_str_eq(json_str(r, "sku"), skus[i]);
		snprintf(ids[i], sizeof(ids[i]), "%s", json_str(r, "id"));
		http_resp_free(r);
		snprintf(path, sizeof(path), "/v1/products/%.63s", ids[i]);
		r = http_get(path, t.owner.id_token);
		cr_assert_str_eq(json_str(r, "sku"), skus[i], "%s", r->body);
		http_resp_free(r);
	}
	/* Still unique, compared case-insensitively. */
	r = create_sku(&t, "kc.soy.250");
	assert_error(r, 409, "ALREADY_EXISTS");
	cr_assert_str_eq(json_str(r, "error.details.0.field"), "sku", "%s", r->body);
	http_resp_free(r);
	r = create_sku(&t, "..");
	assert_error(r, 409, "ALREADY_EXISTS");
	http_resp_free(r);
	assert_sku_index_consistent(&t);

	/* A change to and from a dotted SKU moves its index entry; a delete frees it. */
	snprintf(path, sizeof(path), "/v1/products/%s", ids[10]);
	r = http_json("PATCH", path, t.owner.id_token, "{\"sku\":\"a.b.c\"}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	http_resp_free(r);
	r = create_sku(&t, "A.B.C");
	assert_error(r, 409, "ALREADY_EXISTS");
	http_resp_free(r);
	r = http_json("PATCH", path, t.owner.id_token, "{\"sku\":\"..\"}");
	assert_error(r, 409, "ALREADY_EXISTS");
	http_resp_free(r);
	r = http_json("PATCH", path, t.owner.id_token, "{\"sku\":\"ab\"}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	http_resp_free(r);
	/* A change of case only keeps the index entry, which then says the new spelling. */
	r = http_json("PATCH", path, t.owner.id_token, "{\"sku\":\"AB\"}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "sku"), "AB");
	http_resp_free(r);
	assert_sku_index_consistent(&t);
	snprintf(path, sizeof(path), "/v1/products/%s", ids[3]);
	r = http_json("DELETE", path, t.owner.id_token, NULL);
	cr_assert_eq(r->status, 204, "%s", r->body);
	http_resp_free(r);
	r = create_sku(&t, "a.b");
	cr_assert_eq(r->status, 201, "A.B was freed by the delete: %s", r->body);
	http_resp_free(r);
	assert_sku_index_consistent(&t);
}

Test(products, skus_outside_the_contract_are_refused_naming_sku)
{
	static const char *const bad[] = {
		"a/b",
		"/",
		"a%2Fb",
		"50%",
		"%2E%2E",
		"caf\\u00e9",
		"\\u03a9mega",
		"\\u20ac1",
		"a b",
		"a\\\\b",
		/* 65 bytes: one over */
		".................................................................",
	};
	struct tenant t;
	struct http_resp *r;

	make_tenant(&t);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = create_sku(&t, bad[i]);
		assert_error(r, 400, "INVALID_ARGUMENT");
		cr_assert_str_eq(json_str(r, "error.details.0.field"), "sku", "%s: %s", bad[i], r->body);
		http_resp_free(r);
	}
	r = http_get("/v1/products", t.owner.id_token);
	cr_assert_eq(json_object_array_length(json_object_object_get(r->json, "data")), 0, "nothing was written");
	http_resp_free(r);
	assert_sku_index_consistent(&t);
}

/* ---- reads ask Firestore for the contract's fields only ---- */

static const char *const bookkeeping[] = {"organizationId", "nameLower", "skuKey", "searchPrefixes", NULL};

static bool is_bookkeeping(const char *key)
{
	for (const char *const *b = bookkeeping; *b; b++)
		if (strcmp(*b, key) == 0)
			return true;
	return false;
}

/* The emulator's URL of a product document (straight to Firestore, not through the API). */
static void fs_product_url(const struct tenant *t, const char *id, const char *suffix, char *url, size_t len)
{
	snprintf(url, len,
		 "http://127.0.0.1:%s/v1/projects/demo-fluxori/databases/(default)/documents/organizations/%s/products/"
		 "%s%s",
		 test_env("FLUXORI_FIRESTORE_PORT"), t->id, id, suffix);
}

/*
 * The API answer for a product holds every field its stored document
 * holds except the bookkeeping, and nothing else but id and etag: a read
 * that asks Firestore for less than the whole document must not lose a
 * field the contract returns.
 */
static void assert_answer_has_every_stored_field(const struct tenant *t, const char *id, json_object *answer)
{
	static const char *const h[] = {"Authorization: Bearer owner", NULL};
	char url[400];
	struct http_resp *raw;
	json_object *fields;
	size_t stored = 0;

	fs_product_url(t, id, "", url, sizeof(url));
	raw = http_url("GET", url, h, NULL, 0);
	cr_assert_eq(raw->status, 200, "%s: %s", url, raw->body);
	fields = json_object_object_get(raw->json, "fields");
	cr_assert_not_null(fields, "%s", raw->body);
	json_object_object_foreach(fields, key, val)
	{
		(void)val;
		if (is_bookkeeping(key))
			continue;
		stored++;
		cr_expect(json_object_object_get_ex(answer, key, NULL), "stored field %s is missing from the answer %s",
			  key, json_object_to_json_string(answer));
	}
	cr_assert_not_null(json_object_object_get(answer, "id"));
	cr_assert_not_null(json_object_object_get(answer, "etag"));
	cr_assert_eq((size_t)json_object_object_length(answer), stored + 2, "answer %s against stored %s",
		     json_object_to_json_string(answer), raw->body);
	http_resp_free(raw);
}

/* The list answer's item with id, or NULL. */
static json_object *list_item(struct http_resp *r, const char *id)
{
	json_object *data = json_object_object_get(r->json, "data");

	for (size_t i = 0; data && i < json_object_array_length(data); i++) {
		json_object *it = json_object_array_get_idx(data, i);

		if (strcmp(json_object_get_string(json_object_object_get(it, "id")), id) == 0)
			return it;
	}
	return NULL;
}

Test(products, get_and_every_list_order_answer_every_stored_field_but_the_bookkeeping)
{
	static const char *const orders[] = {"", "&orderBy=name", "&orderBy=sku", "&orderBy=createdAt",
					     "&orderBy=available"};
	struct tenant t;
	struct http_resp *r, *got;
	char path[200], id[64];

	make_tenant(&t);
	r = http_json(
		"POST", "/v1/products", t.owner.id_token,
		"{\"sku\":\"FULL-1\",\"name\":\"Ünïcode Kettle\",\"description\":\"Boils water\","
		"\"category\":\"kitchen\",\"brand\":\"Acme\",\"barcode\":\"6001234567899\",\"priceCents\":45000,"
		"\"costCents\":30000,\"status\":\"active\",\"attributes\":{\"colour\":\"red\",\"volume\":\"1.7 l\"},"
		"\"stock\":{\"reorderPoint\":4}}");
	cr_assert_eq(r->status, 201, "%s", r->body);
	snprintf(id, sizeof(id), "%s", json_str(r, "id"));
	http_resp_free(r);
	snprintf(path, sizeof(path), "/v1/products/%s/stock:adjust", id);
	r = http_json("POST", path, t.owner.id_token, "{\"delta\":7,\"reason\":\"received\"}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	http_resp_free(r);
	make_product(&t, "OTHER-2", "Another", 100);

	snprintf(path, sizeof(path), "/v1/products/%s", id);
	got = http_get(path, t.owner.id_token);
	cr_assert_eq(got->status, 200, "%s", got->body);
	assert_answer_has_every_stored_field(&t, id, got->json);
	cr_assert_str_eq(json_str(got, "brand"), "Acme");
	cr_assert_str_eq(json_str(got, "attributes.volume"), "1.7 l");
	cr_assert_eq(json_int(got, "stock.onHand"), 7);
	for (size_t i = 0; i < sizeof(orders) / sizeof(orders[0]); i++) {
		char list[2048];
		json_object *item;
		bool seen = false;

		/* One page at a time: the next page's token comes from the order field read with the page. */
		snprintf(list, sizeof(list), "/v1/products?pageSize=1%s", orders[i]);
		for (int page = 0; page < 3; page++) {
			r = http_get(list, t.owner.id_token);
			cr_assert_eq(r->status, 200, "%s: %s", list, r->body);
			item = list_item(r, id);
			seen |= item != NULL;
			if (item)
				cr_assert(json_object_equal(item, got->json), "%s: listed %s, got %s", list,
					  json_object_to_json_string(item), got->body);
			if (!json_str(r, "nextPageToken")) {
				http_resp_free(r);
				break;
			}
			snprintf(list, sizeof(list), "/v1/products?pageSize=1%s&pageToken=%s", orders[i],
				 json_str(r, "nextPageToken"));
			http_resp_free(r);
			cr_assert_lt(page, 1, "two products, more than two pages for %s", orders[i]);
		}
		cr_assert(seen, "product %s not listed with %s", id, orders[i]);
	}
	http_resp_free(got);
}

/* Writes internalNote, a field outside the contract, straight into the emulator's product id. */
static void store_internal_note(const struct tenant *t, const char *id, const char *note)
{
	static const char *const h[] = {"Authorization: Bearer owner", "Content-Type: application/json", NULL};
	char url[400], body[300];
	struct http_resp *r;

	fs_product_url(t, id, "?updateMask.fieldPaths=internalNote", url, sizeof(url));
	snprintf(body, sizeof(body), "{\"fields\":{\"internalNote\":{\"stringValue\":\"%s\"}}}", note);
	r = http_url("PATCH", url, h, body, strlen(body));
	cr_assert_eq(r->status, 200, "%s: %s", url, r->body);
	http_resp_free(r);
}

Test(products, a_stored_field_outside_the_contract_is_not_answered)
{
	struct tenant t;
	struct http_resp *r;
	char path[200], id[64];

	make_tenant(&t);
	snprintf(id, sizeof(id), "%s", make_product(&t, "NOTE-1", "Noted", 100));
	store_internal_note(&t, id, "supplier owes us R500");

	snprintf(path, sizeof(path), "/v1/products/%s", id);
	r = http_get(path, t.owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_null(json_object_object_get(r->json, "internalNote"), "%s", r->body);
	cr_assert_str_eq(json_str(r, "name"), "Noted");
	http_resp_free(r);
	r = http_get("/v1/products?pageSize=20", t.owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_not_null(list_item(r, id), "%s", r->body);
	cr_assert_null(json_object_object_get(list_item(r, id), "internalNote"), "%s", r->body);
	http_resp_free(r);
}

/* PATCH with prev's etag as If-Match; its answer must be what a GET returns. */
static struct http_resp *patch_is_stored(const struct tenant *t, const char *id, const char *body,
					 const struct http_resp *prev)
{
	char path[200];

	snprintf(path, sizeof(path), "/v1/products/%s", id);
	return test_write_is_stored("PATCH", path, path, t->owner.id_token, body, prev, "the PATCH");
}

/*
 * Create and PATCH answer from what they read and wrote and the commit's
 * version, not a read after the commit: each answer is the stored product byte for byte as a
 * GET shows it (contract fields only, a stored field outside it left out as a
 * GET leaves it), and its etag is current (the next PATCH carries it): text
 * fields, a new SKU (index rewritten in the same commit), the reorder point
 * (stock and lowStock rewritten), price, status and attributes.
 */
Test(products, create_and_patch_answers_are_byte_for_byte_what_a_get_returns)
{
	struct tenant t;
	struct http_resp *a[6], *r;
	char path[200], id[64];
	size_t n = 0;

	make_tenant(&t);
	/* The create answers from its commit too. */
	r = http_json(
		"POST", "/v1/products", t.owner.id_token,
		"{\"sku\":\"SAME-1\",\"name\":\"Same as stored \\u00e9\",\"priceCents\":1500,\"status\":\"active\","
		"\"description\":\"<b>&</b> \\\"quoted\\\"\",\"attributes\":{\"size\":\"L\",\"colour\":\"blue\"},"
		"\"stock\":{\"reorderPoint\":3}}");
	cr_assert_eq(r->status, 201, "%s", r->body);
	snprintf(id, sizeof(id), "%s", json_str(r, "id"));
	snprintf(path, sizeof(path), "/v1/products/%s", id);
	test_assert_answer_is_stored(r, path, t.owner.id_token, "the create");
	http_resp_free(r);
	store_internal_note(&t, id, "not for the API");
	r = http_get(path, t.owner.id_token);
	a[n] = patch_is_stored(
		&t, id,
		"{\"name\":\"Caf\\u00e9 \\\"Deluxe\\\" <b>&</b>\",\"description\":\"line one\\nline two\","
		"\"brand\":\"Umhlaba\"}",
		r);
	n++;
	http_resp_free(r);
	a[n] = patch_is_stored(&t, id, "{\"sku\":\"SAME-2.b\"}", a[n - 1]);
	n++;
	a[n] = patch_is_stored(&t, id, "{\"stock\":{\"reorderPoint\":7}}", a[n - 1]);
	n++;
	cr_assert_eq(json_int(a[n - 1], "stock.reorderPoint"), 7, "%s", a[n - 1]->body);
	a[n] = patch_is_stored(
		&t, id,
		"{\"priceCents\":1,\"costCents\":0,\"status\":\"archived\",\"attributes\":{\"colour\":\"red\"}}",
		a[n - 1]);
	n++;
	cr_assert_null(json_object_object_get(a[n - 1]->json, "internalNote"), "%s", a[n - 1]->body);
	for (size_t i = 0; i < n; i++)
		http_resp_free(a[i]);
}
