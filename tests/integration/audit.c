#include "audit.h"

#include "client.h"
#include "ts.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *documents_url(void)
{
	static __thread char base[256];

	snprintf(base, sizeof(base), "http://127.0.0.1:%s/v1/projects/demo-fluxori/databases/(default)/documents",
		 test_env("FLUXORI_FIRESTORE_PORT"));
	return base;
}

/* Firestore's typed value as plain JSON (integers as int64, timestamps and bytes as strings). */
static json_object *plain(json_object *v)
{
	json_object *x;

	if (!v)
		return NULL;
	if (json_object_object_get_ex(v, "mapValue", &x)) {
		json_object *out = json_object_new_object(), *fields;

		if (json_object_object_get_ex(x, "fields", &fields)) {
			json_object_object_foreach(fields, k, fv)
			{
				json_object_object_add(out, k, plain(fv));
			}
		}
		return out;
	}
	if (json_object_object_get_ex(v, "arrayValue", &x)) {
		json_object *out = json_object_new_array(), *values;

		if (json_object_object_get_ex(x, "values", &values))
			for (size_t i = 0; i < json_object_array_length(values); i++)
				json_object_array_add(out, plain(json_object_array_get_idx(values, i)));
		return out;
	}
	if (json_object_object_get_ex(v, "integerValue", &x))
		return json_object_new_int64(strtoll(json_object_get_string(x), NULL, 10));
	if (json_object_object_get_ex(v, "booleanValue", &x))
		return json_object_new_boolean(json_object_get_boolean(x));
	if (json_object_object_get_ex(v, "doubleValue", &x))
		return json_object_new_double(json_object_get_double(x));
	if (json_object_object_get_ex(v, "nullValue", &x))
		return NULL;
	json_object_object_foreach(v, key, val)
	{
		(void)key;
		return json_object_new_string(json_object_get_string(val));
	}
	return NULL;
}

static json_object *plain_doc(json_object *raw)
{
	json_object *out = json_object_new_object(), *fields = json_object_new_object(), *name, *f;
	const char *n = json_object_object_get_ex(raw, "name", &name) ? json_object_get_string(name) : "";

	json_object_object_add(out, "id", json_object_new_string(strrchr(n, '/') ? strrchr(n, '/') + 1 : n));
	json_object_object_add(out, "name", json_object_new_string(n));
	if (json_object_object_get_ex(raw, "fields", &f)) {
		json_object_object_foreach(f, k, fv)
		{
			json_object_object_add(fields, k, plain(fv));
		}
	}
	json_object_object_add(out, "fields", fields);
	return out;
}

json_object *fs_read(const char *rel)
{
	const char *h[] = {"Authorization: Bearer owner", NULL};
	char url[1024];
	struct http_resp *r;
	json_object *out = NULL;

	snprintf(url, sizeof(url), "%s/%s", documents_url(), rel);
	r = http_url("GET", url, h, NULL, 0);
	cr_assert(r->status == 200 || r->status == 404, "Firestore emulator GET %s: %ld %s", rel, r->status, r->body);
	if (r->status == 200)
		out = plain_doc(r->json);
	http_resp_free(r);
	return out;
}

void fs_write_fields(const char *rel, const char *const *masks, const char *fields)
{
	const char *h[] = {"Authorization: Bearer owner", "Content-Type: application/json", NULL};
	char url[2048], body[8192];
	size_t o;
	struct http_resp *r;

	o = (size_t)snprintf(url, sizeof(url), "%s/%s", documents_url(), rel);
	for (size_t i = 0; masks && masks[i] && o < sizeof(url); i++)
		o += (size_t)snprintf(url + o, sizeof(url) - o, "%cupdateMask.fieldPaths=%s", i ? '&' : '?', masks[i]);
	cr_assert_lt(o, sizeof(url), "the URL of %s fits", rel);
	cr_assert_lt((size_t)snprintf(body, sizeof(body), "{\"fields\":%s}", fields), sizeof(body));
	r = http_url("PATCH", url, h, body, strlen(body));
	cr_assert_eq(r->status, 200, "Firestore emulator PATCH %s: %ld %s", rel, r->status, r->body);
	http_resp_free(r);
}

void fs_write_time(const char *rel, const char *field, time_t t)
{
	const char *const masks[] = {field, NULL};
	char when[40], fields[300];
	struct tm tm;

	cr_assert_not_null(gmtime_r(&t, &tm));
	cr_assert_gt(strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm), 0);
	cr_assert_lt((size_t)snprintf(fields, sizeof(fields), "{\"%s\":{\"timestampValue\":\"%s\"}}", field, when),
		     sizeof(fields));
	fs_write_fields(rel, masks, fields);
}

json_object *fs_list(const char *rel)
{
	const char *h[] = {"Authorization: Bearer owner", NULL};
	json_object *all = json_object_new_array();
	char token[1024] = "";

	for (;;) {
		char url[2048];
		struct http_resp *r;
		json_object *docs, *next;

		snprintf(url, sizeof(url), "%s/%s?pageSize=300%s%s", documents_url(), rel,
			 token[0] ? "&pageToken=" : "", token);
		r = http_url("GET", url, h, NULL, 0);
		cr_assert_eq(r->status, 200, "Firestore emulator list %s: %ld %s", rel, r->status, r->body);
		if (json_object_object_get_ex(r->json, "documents", &docs))
			for (size_t i = 0; i < json_object_array_length(docs); i++)
				json_object_array_add(all, plain_doc(json_object_array_get_idx(docs, i)));
		token[0] = '\0';
		if (json_object_object_get_ex(r->json, "nextPageToken", &next) &&
		    json_object_get_string_len(next) > 0) {
			cr_assert_lt((size_t)json_object_get_string_len(next), sizeof(token));
			snprintf(token, sizeof(token), "%s", json_object_get_string(next));
		}
		http_resp_free(r);
		if (!token[0])
			return all;
	}
}

json_object *fs_field(json_object *doc, const char *dotted)
{
	char path[256], *save = NULL;
	json_object *o = NULL;

	if (!doc || !json_object_object_get_ex(doc, "fields", &o))
		return NULL;
	snprintf(path, sizeof(path), "%s", dotted);
	for (char *seg = strtok_r(path, ".", &save); seg && o; seg = strtok_r(NULL, ".", &save))
		if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, seg, &o))
			return NULL;
	return o;
}

long long fs_int(json_object *doc, const char *dotted)
{
	json_object *v = fs_field(doc, dotted);

	return v && json_object_is_type(v, json_type_int) ? (long long)json_object_get_int64(v) : -1;
}

const char *fs_str(json_object *doc, const char *dotted)
{
	json_object *v = fs_field(doc, dotted);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

long long fs_time(json_object *doc, const char *dotted)
{
	const char *s = fs_str(doc, dotted);
	int64_t secs;
	int32_t nanos;

	return s && fx_ts_parse(s, &secs, &nanos) == 0 ? (long long)secs : -1;
}

static const char *id_of(json_object *doc)
{
	return json_object_get_string(json_object_object_get(doc, "id"));
}

static json_object *find(json_object *docs, const char *id)
{
	for (size_t i = 0; i < json_object_array_length(docs); i++)
		if (strcmp(id_of(json_object_array_get_idx(docs, i)), id) == 0)
			return json_object_array_get_idx(docs, i);
	return NULL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool open_order(json_object *order)
{
	const char *s = fs_str(order, "status");

	return s && (strcmp(s, "pending") == 0 || strcmp(s, "confirmed") == 0);
}

/* The quantity of product in the open orders. */
static long long reserved_by_orders(json_object *orders, const char *product)
{
	long long sum = 0;

	for (size_t i = 0; i < json_object_array_length(orders); i++) {
		json_object *o = json_object_array_get_idx(orders, i), *items = fs_field(o, "items");

		if (!open_order(o) || !items)
			continue;
		for (size_t k = 0; k < json_object_array_length(items); k++) {
			json_object *line = json_object_array_get_idx(items, k), *p, *q;

			if (json_object_object_get_ex(line, "productId", &p) &&
			    json_object_is_type(p, json_type_string) &&
			    strcmp(json_object_get_string(p), product) == 0 &&
			    json_object_object_get_ex(line, "quantity", &q))
				sum += json_object_get_int64(q);
		}
	}
	return sum;
}

static void audit_products(const char *org, json_object *products, json_object *orders, json_object **movements,
			   struct audit *out)
{
	for (size_t i = 0; i < json_object_array_length(products); i++) {
		json_object *p = json_object_array_get_idx(products, i), *mv;
		const char *id = id_of(p);
		long long on_hand = fs_int(p, "stock.onHand"), reserved = fs_int(p, "stock.reserved");
		long long deltas = 0, held = reserved_by_orders(orders, id);
		char rel[512];

		if (on_hand < 0)
			on_hand = 0; /* a product never adjusted has no stock yet */
		if (reserved < 0)
			reserved = 0;
		snprintf(rel, sizeof(rel), "organizations/%s/products/%s/movements", org, id);
		mv = fs_list(rel);
		for (size_t k = 0; k < json_object_array_length(mv); k++)
			deltas += fs_int(json_object_array_get_idx(mv, k), "delta");
		out->movements += (int)json_object_array_length(mv);
		cr_assert_eq(on_hand, deltas, "product %s: onHand %lld, but its %zu movements add up to %lld", id,
			     on_hand, json_object_array_length(mv), deltas);
		cr_assert_eq(reserved, held, "product %s: reserved %lld, but open orders hold %lld", id, reserved,
			     held);
		if (fs_field(p, "stock.available"))
			cr_assert_eq(fs_int(p, "stock.available"), on_hand - reserved,
				     "product %s: available %lld, onHand %lld, reserved %lld", id,
				     fs_int(p, "stock.available"), on_hand, reserved);
		cr_assert(reserved >= 0 && reserved <= on_hand, "product %s: reserved %lld outside 0..onHand %lld", id,
			  reserved, on_hand);
		out->on_hand += on_hand;
		out->reserved += reserved;
		json_object_array_add(*movements, mv);
	}
}

static void audit_numbers(const char *org, json_object *orders)
{
	size_t n = json_object_array_length(orders);
	char **numbers = calloc(n + 1, sizeof(*numbers)), rel[512];
	json_object *counter;

	for (size_t i = 0; i < n; i++) {
		const char *num = fs_str(json_object_array_get_idx(orders, i), "number");

		cr_assert_not_null(num, "order %s has no number", id_of(json_object_array_get_idx(orders, i)));
		numbers[i] = (char *)num;
	}
	qsort(numbers, n, sizeof(*numbers), cmp_str);
	for (size_t i = 0; i < n; i++) {
		char want[32];

		snprintf(want, sizeof(want), "FX-%06zu", i + 1);
		cr_assert_str_eq(numbers[i], want,
				 "order numbers are FX-000001..FX-%06zu once each: %s where %s belongs", n, numbers[i],
				 want);
	}
	free(numbers);
	snprintf(rel, sizeof(rel), "organizations/%s/counters/orders", org);
	counter = fs_read(rel);
	if (n > 0 || counter)
		cr_assert_eq(fs_int(counter, "next"), (long long)n + 1,
			     "the order counter says next %lld after %zu orders", fs_int(counter, "next"), n);
	json_object_put(counter);
}

static void audit_keys(json_object *keys, json_object *orders, json_object *products, json_object *movements,
		       struct audit *out)
{
	size_t n = json_object_array_length(keys);
	const char **made = calloc(n + 1, sizeof(*made));
	size_t nmade = 0;

	for (size_t i = 0; i < n; i++) {
		json_object *k = json_object_array_get_idx(keys, i), *answer, *v;
		const char *text = fs_str(k, "response"), *id;

		cr_assert_not_null(text, "idempotency record %s holds no answer", id_of(k));
		answer = json_tokener_parse(text);
		cr_assert_not_null(answer, "idempotency record %s: answer is not JSON", id_of(k));
		cr_assert(json_object_object_get_ex(answer, "id", &v), "idempotency record %s names nothing: %s",
			  id_of(k), text);
		id = json_object_get_string(v);
		if (json_object_object_get_ex(answer, "number", &v)) {
			json_object *order = find(orders, id);

			cr_assert_not_null(order, "idempotency record %s answers order %s, which does not exist",
					   id_of(k), id);
			cr_assert_str_eq(fs_str(order, "number"), json_object_get_string(v),
					 "idempotency record %s: order %s is %s, the record says %s", id_of(k), id,
					 fs_str(order, "number"), json_object_get_string(v));
			for (size_t j = 0; j < nmade; j++)
				cr_assert_str_neq(made[j], id, "two idempotency records made order %s", id);
			made[nmade++] = id_of(order);
			out->order_keys++;
		} else {
			json_object *product = NULL, *mv = NULL, *pid, *delta;

			cr_assert(json_object_object_get_ex(answer, "productId", &pid) &&
					  json_object_object_get_ex(answer, "delta", &delta),
				  "idempotency record %s holds neither an order nor a movement: %s", id_of(k), text);
			for (size_t p = 0; p < json_object_array_length(products); p++)
				if (strcmp(id_of(json_object_array_get_idx(products, p)),
					   json_object_get_string(pid)) == 0) {
					product = json_object_array_get_idx(products, p);
					mv = find(json_object_array_get_idx(movements, p), id);
				}
			cr_assert_not_null(product, "idempotency record %s: product %s does not exist", id_of(k),
					   json_object_get_string(pid));
			cr_assert_not_null(mv, "idempotency record %s answers movement %s, which does not exist",
					   id_of(k), id);
			cr_assert_eq(fs_int(mv, "delta"), json_object_get_int64(delta),
				     "idempotency record %s: movement %s has delta %lld, the record says %lld",
				     id_of(k), id, fs_int(mv, "delta"), (long long)json_object_get_int64(delta));
			out->adjust_keys++;
		}
		json_object_put(answer);
	}
	free(made);
}

void audit_org(const char *org, struct audit *out)
{
	char rel[512];
	json_object *products, *orders, *keys, *movements = json_object_new_array();

	memset(out, 0, sizeof(*out));
	snprintf(rel, sizeof(rel), "organizations/%s/products", org);
	products = fs_list(rel);
	snprintf(rel, sizeof(rel), "organizations/%s/orders", org);
	orders = fs_list(rel);
	snprintf(rel, sizeof(rel), "organizations/%s/idempotency", org);
	keys = fs_list(rel);
	out->products = (int)json_object_array_length(products);
	out->orders = (int)json_object_array_length(orders);
	for (int i = 0; i < out->orders; i++)
		out->open_orders += open_order(json_object_array_get_idx(orders, (size_t)i));
	audit_products(org, products, orders, &movements, out);
	audit_numbers(org, orders);
	audit_keys(keys, orders, products, movements, out);
	json_object_put(products);
	json_object_put(orders);
	json_object_put(keys);
	json_object_put(movements);
}
