#include "fakechannel.h"

#include "b64.h"
#include "clock.h"
#include "httpserve.h"
#include "sig.h"
#include "str.h"
#include "ts.h"

#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_OFFERS 4096
#define MAX_ORDERS 1024
#define MAX_TIMES 8192
#define MAX_KEYS 256
#define MAX_REQUEST (4 << 20)
#define PAGE 50
#define TAKEALOT_PAGE 100

struct offer {
	enum fx_channel_type type;
	char id[64];
	long long quantity;
	bool known; /* the channel holds a quantity for it */
	unsigned sets;
	long set_at;
};

struct order {
	enum fx_channel_type type;
	char id[64];
	int64_t updated; /* seconds */
	int32_t updated_ns;
	char *json;
};

struct fakechannel {
	struct httpserve *server;
	char url[64];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stopping;

	bool refuse;
	int fail_n, fail_status;
	long throttle_until; /* fx_clock_ms */
	long hang_ms;
	int hanging; /* calls waiting in a hang now */

	struct offer offers[MAX_OFFERS];
	size_t noffers;
	struct order orders[MAX_ORDERS];
	size_t norders;
	unsigned calls_push, calls_poll, calls_test, calls_refused, calls_throttled, calls_failed, calls_all;
	long push_times[3][MAX_TIMES];
	size_t npush_times[3];
	long window_start;
	int window_used;
	unsigned batch_id;
	struct {
		char key[64];
		char *answer;
	} keys[MAX_KEYS]; /* Shopify idempotency keys seen, a ring */
	size_t nkeys;
	char unknown[8][64]; /* WooCommerce ids the store does not have */
	size_t nunknown;
};

struct answer {
	int status;
	char headers[1024];
	char *body; /* malloc'd */
};

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		abort();
	return p;
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		abort();
	return p;
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, f);
	if (vasprintf(&s, f, ap) < 0)
		abort();
	va_end(ap);
	return s;
}

/* The value of query parameter key in path, percent-decoded, or NULL. */
static const char *query_param(const char *path, const char *key, char *out, size_t out_len)
{
	const char *q = strchr(path, '?');
	size_t klen = strlen(key);

	for (const char *p = q ? q + 1 : NULL; p && *p;) {
		const char *amp = strchr(p, '&');
		size_t plen = amp ? (size_t)(amp - p) : strlen(p);
		if (plen > klen && p[klen] == '=' && strncmp(p, key, klen) == 0) {
			size_t o = 0;
			for (size_t i = klen + 1; i < plen && o + 1 < out_len; i++) {
				if (p[i] == '%' && i + 2 < plen) {
					char hex[3] = {p[i + 1], p[i + 2], 0};
					out[o++] = (char)strtol(hex, NULL, 16);
					i += 2;
				} else {
					out[o++] = p[i];
				}
			}
			out[o] = '\0';
			return out;
		}
		p = amp ? amp + 1 : NULL;
	}
	return NULL;
}

/* ---- state (called with mu held) ---- */

static struct offer *offer_get(struct fakechannel *f, enum fx_channel_type t, const char *id, bool create)
{
	for (size_t i = 0; i < f->noffers; i++)
		if (f->offers[i].type == t && strcmp(f->offers[i].id, id) == 0)
			return &f->offers[i];
	if (!create || f->noffers == MAX_OFFERS || strlen(id) >= sizeof f->offers[0].id)
		return NULL;
	struct offer *o = &f->offers[f->noffers++];
	memset(o, 0, sizeof *o);
	o->type = t;
	snprintf(o->id, sizeof o->id, "%s", id);
	o->set_at = -1;
	return o;
}

static void offer_set(struct fakechannel *f, enum fx_channel_type t, const char *id, long long q)
{
	struct offer *o = offer_get(f, t, id, true);

	if (!o)
		return;
	o->quantity = q;
	o->known = true;
	o->sets++;
	o->set_at = fx_clock_ms();
}

static void push_time(struct fakechannel *f, enum fx_channel_type t)
{
	if (f->npush_times[t] < MAX_TIMES)
		f->push_times[t][f->npush_times[t]++] = fx_clock_ms();
	f->calls_push++;
}

static int cmp_orders(const void *a, const void *b)
{
	const struct order *x = *(const struct order *const *)a, *y = *(const struct order *const *)b;

	if (x->updated != y->updated)
		return x->updated < y->updated ? -1 : 1;
	if (x->updated_ns != y->updated_ns)
		return x->updated_ns < y->updated_ns ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* The orders of type t changed at or after since, oldest first, into out (malloc'd); how many. */
static size_t orders_since(struct fakechannel *f, enum fx_channel_type t, int64_t since, struct order ***out)
{
	struct order **list = xmalloc((f->norders + 1) * sizeof *list);
	size_t n = 0;

	for (size_t i = 0; i < f->norders; i++)
		if (f->orders[i].type == t && f->orders[i].updated >= since)
			list[n++] = &f->orders[i];
	qsort(list, n, sizeof *list, cmp_orders);
	*out = list;
	return n;
}

/* ---- answers ---- */

static void answer_json(struct answer *a, int status, json_object *j)
{
	a->status = status;
	a->body = xstrdup(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(j);
}

static void answer_text(struct answer *a, int status, const char *body)
{
	a->status = status;
	a->body = xstrdup(body);
}

static void add_header(struct answer *a, const char *f, ...) __attribute__((format(printf, 2, 3)));
static void add_header(struct answer *a, const char *f, ...)
{
	size_t n = strlen(a->headers);
	va_list ap;

	va_start(ap, f);
	vsnprintf(a->headers + n, sizeof a->headers - n, f, ap);
	va_end(ap);
}

static enum fx_channel_type type_of(const char *path)
{
	if (strncmp(path, "/admin/api/", 11) == 0)
		return FX_CHANNEL_SHOPIFY;
	if (strncmp(path, "/wp-json/wc/v3/", 15) == 0)
		return FX_CHANNEL_WOOCOMMERCE;
	return FX_CHANNEL_TAKEALOT;
}

static bool authorized(struct fakechannel *f, enum fx_channel_type t, const struct httpserve_req *r)
{
	char v[512];
	char want[512];
	struct fx_err e;
	char pair[256];

	if (f->refuse)
		return false;
	switch (t) {
	case FX_CHANNEL_SHOPIFY:
		return httpserve_header(r, "X-Shopify-Access-Token", v, sizeof v) &&
		       strcmp(v, FAKECHANNEL_SHOPIFY_TOKEN) == 0;
	case FX_CHANNEL_WOOCOMMERCE:
		snprintf(pair, sizeof pair, "%s:%s", FAKECHANNEL_WOO_KEY, FAKECHANNEL_WOO_SECRET);
		memcpy(want, "Basic ", 6);
		if (fx_b64_encode(pair, strlen(pair), want + 6, sizeof want - 6, &e) < 0)
			return false;
		return httpserve_header(r, "Authorization", v, sizeof v) && strcmp(v, want) == 0;
	case FX_CHANNEL_TAKEALOT:
		return httpserve_header(r, "Authorization", v, sizeof v) &&
		       strcmp(v, "Key " FAKECHANNEL_TAKEALOT_KEY) == 0;
	}
	return false;
}

static void refused(enum fx_channel_type t, struct answer *a)
{
	switch (t) {
	case FX_CHANNEL_SHOPIFY:
		answer_text(a, 401,
			    "{\"errors\":\"[API] Invalid API key or access token (unrecognized login or wrong "
			    "password)\"}");
		break;
	case FX_CHANNEL_WOOCOMMERCE:
		answer_text(
			a, 401,
			"{\"code\":\"woocommerce_rest_cannot_view\",\"message\":\"Sorry, you cannot list resources.\","
			"\"data\":{\"status\":401}}");
		break;
	case FX_CHANNEL_TAKEALOT: answer_text(a, 401, "{\"message\":\"Invalid API key\"}"); break;
	}
}

static void throttled(enum fx_channel_type t, long left_ms, struct answer *a)
{
	long secs = (left_ms + 999) / 1000;

	switch (t) {
	case FX_CHANNEL_SHOPIFY:
		/* An empty bucket restoring 100 points a second: the wait for 1000 points is the throttle left. */
		a->body = fmt("{\"errors\":[{\"message\":\"Throttled\",\"extensions\":{\"code\":\"THROTTLED\"}}],"
			      "\"extensions\":{\"cost\":{\"requestedQueryCost\":%ld,\"actualQueryCost\":null,"
			      "\"throttleStatus\":{\"maximumAvailable\":2000.0,\"currentlyAvailable\":0,"
			      "\"restoreRate\":100.0}}}}",
			      left_ms / 10 + 1);
		a->status = 200;
		break;
	case FX_CHANNEL_WOOCOMMERCE:
		add_header(a, "Retry-After: %ld\r\n", secs);
		answer_text(a, 429,
			    "{\"code\":\"too_many_requests\",\"message\":\"Too many "
			    "requests.\",\"data\":{\"status\":429}}");
		break;
	case FX_CHANNEL_TAKEALOT:
		add_header(a, "x-RateLimit-Limit: %d\r\nx-RateLimit-Remaining: 0\r\nx-RateLimit-Reset: %ld\r\n",
			   FAKECHANNEL_TAKEALOT_LIMIT, secs);
		answer_text(a, 429, "{\"message\":\"Rate limit exceeded\"}");
		break;
	}
}

static const char *jstr(json_object *o, const char *k)
{
	json_object *v;
	return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v)
		       : NULL;
}

static json_object *jobj(json_object *o, const char *k)
{
	json_object *v = NULL;
	return json_object_object_get_ex(o, k, &v) ? v : NULL;
}

/* The id after the last '/' of a gid, or the text itself. */
static const char *gid_tail(const char *s)
{
	const char *p = strrchr(s, '/');
	return p ? p + 1 : s;
}

static void shopify(struct fakechannel *f, const struct httpserve_req *r, struct answer *a)
{
	json_object *j = json_tokener_parse(r->body ? r->body : "");
	const char *q = j ? jstr(j, "query") : NULL;
	json_object *vars = j ? jobj(j, "variables") : NULL;

	if (!q) {
		answer_text(a, 400, "{\"errors\":[{\"message\":\"Parse error\"}]}");
		json_object_put(j);
		return;
	}
	if (strstr(q, "inventorySetQuantities")) {
		json_object *input = jobj(vars, "input");
		json_object *qs = jobj(input, "quantities");
		json_object *errs = json_object_new_array();
		size_t n = qs && json_object_is_type(qs, json_type_array) ? json_object_array_length(qs) : 0;
		const char *key = strstr(q, "@idempotent(key: \"");
		char keybuf[64] = "";

		if (n > 250) {
			answer_text(
				a, 200,
				"{\"errors\":[{\"message\":\"The input array size of 251 is greater than the maximum "
				"allowed of 250.\",\"extensions\":{\"code\":\"MAX_INPUT_SIZE_EXCEEDED\"}}]}");
			json_object_put(errs);
			json_object_put(j);
			return;
		}
		/* 2026-04 on: the key is mandatory; a key seen before answers what it answered then. */
		if (!key || sscanf(key, "@idempotent(key: \"%63[^\"]\"", keybuf) != 1) {
			answer_text(a, 200,
				    "{\"errors\":[{\"message\":\"The @idempotent directive is required for this "
				    "mutation.\",\"extensions\":{\"code\":\"BAD_REQUEST\"}}]}");
			json_object_put(errs);
			json_object_put(j);
			return;
		}
		for (size_t i = 0; i < f->nkeys && i < MAX_KEYS; i++)
			if (strcmp(f->keys[i].key, keybuf) == 0) {
				answer_text(a, 200, f->keys[i].answer);
				json_object_put(errs);
				json_object_put(j);
				return;
			}
		for (size_t i = 0; i < n; i++)
			if (!json_object_object_get_ex(json_object_array_get_idx(qs, i), "changeFromQuantity", NULL)) {
				answer_text(a, 200,
					    "{\"errors\":[{\"message\":\"Variable $input of type "
					    "InventorySetQuantitiesInput! was provided invalid value for "
					    "quantities.changeFromQuantity (Expected value to not be missing)\","
					    "\"extensions\":{\"code\":\"INVALID_VARIABLE\"}}]}");
				json_object_put(errs);
				json_object_put(j);
				return;
			}
		push_time(f, FX_CHANNEL_SHOPIFY);
		for (size_t i = 0; i < n; i++) {
			json_object *it = json_object_array_get_idx(qs, i);
			const char *inv = jstr(it, "inventoryItemId");
			json_object *cq = jobj(it, "changeFromQuantity"), *qq = jobj(it, "quantity");
			struct offer *o = inv ? offer_get(f, FX_CHANNEL_SHOPIFY, gid_tail(inv), false) : NULL;
			const char *code = NULL, *msg = NULL, *field = NULL;

			if (!inv || strncmp(inv, "gid://shopify/InventoryItem/", 28) != 0 || !qq) {
				code = "INVALID_INVENTORY_ITEM";
				msg = "The specified inventory item could not be found.";
				field = "inventoryItemId";
			} else if (cq && o && o->known && json_object_get_int64(cq) != o->quantity) {
				code = "CHANGE_FROM_QUANTITY_STALE";
				msg = "The changeFromQuantity argument no longer matches the persisted quantity.";
				field = "changeFromQuantity";
			}
			if (code) {
				json_object *ue = json_object_new_object(), *fp = json_object_new_array();
				json_object_array_add(fp, json_object_new_string("input"));
				json_object_array_add(fp, json_object_new_string("quantities"));
				char idx[24];
				snprintf(idx, sizeof idx, "%zu", i);
				json_object_array_add(fp, json_object_new_string(idx));
				json_object_array_add(fp, json_object_new_string(field));
				json_object_object_add(ue, "code", json_object_new_string(code));
				json_object_object_add(ue, "field", fp);
				json_object_object_add(ue, "message", json_object_new_string(msg));
				json_object_array_add(errs, ue);
				continue;
			}
			offer_set(f, FX_CHANNEL_SHOPIFY, gid_tail(inv), json_object_get_int64(qq));
		}
		a->body =
			fmt("{\"data\":{\"inventorySetQuantities\":{\"inventoryAdjustmentGroup\":{\"id\":\"gid://"
			    "shopify/InventoryAdjustmentGroup/%u\"},\"userErrors\":%s}},\"extensions\":{\"cost\":{"
			    "\"requestedQueryCost\":10,\"actualQueryCost\":10,\"throttleStatus\":{\"maximumAvailable\":"
			    "2000.0,\"currentlyAvailable\":1990,\"restoreRate\":100.0}}}}",
			    ++f->batch_id, json_object_to_json_string_ext(errs, JSON_C_TO_STRING_PLAIN));
		a->status = 200;
		snprintf(f->keys[f->nkeys % MAX_KEYS].key, sizeof f->keys[0].key, "%s", keybuf);
		free(f->keys[f->nkeys % MAX_KEYS].answer);
		f->keys[f->nkeys % MAX_KEYS].answer = xstrdup(a->body);
		f->nkeys++;
		json_object_put(errs);
	} else if (strstr(q, "orders(")) {
		const char *qv = jstr(vars, "q");
		const char *after = jstr(vars, "after");
		const char *gt = qv ? strstr(qv, ">='") : NULL;
		char since_s[48] = "";
		int64_t since = 0;
		int32_t ns;
		struct order **list;
		size_t n, from = after ? (size_t)strtoul(after, NULL, 10) : 0;
		const char *fp = strstr(q, "orders(first: ");
		size_t first = fp ? (size_t)strtoul(fp + strlen("orders(first: "), NULL, 10) : PAGE;
		struct fx_buf b;

		f->calls_poll++;
		if (gt) {
			snprintf(since_s, sizeof since_s, "%s", gt + 3);
			if (strchr(since_s, '\''))
				*strchr(since_s, '\'') = '\0';
			if (fx_ts_parse(since_s, &since, &ns) < 0)
				since = 0;
		}
		n = orders_since(f, FX_CHANNEL_SHOPIFY, since, &list);
		fx_buf_init(&b, 64 << 20);
		if (fx_buf_puts(&b, "{\"data\":{\"orders\":{\"pageInfo\":") < 0)
			abort();
		if (first < 1 || first > 250)
			first = PAGE;
		if (from + first < n) {
			if (fx_buf_printf(&b, "{\"hasNextPage\":true,\"endCursor\":\"%zu\"}", from + first) < 0)
				abort();
		} else if (fx_buf_puts(&b, "{\"hasNextPage\":false,\"endCursor\":null}") < 0) {
			abort();
		}
		if (fx_buf_puts(&b, ",\"nodes\":[") < 0)
			abort();
		for (size_t i = from; i < n && i < from + first; i++)
			if (fx_buf_printf(&b, "%s%s", i > from ? "," : "", list[i]->json) < 0)
				abort();
		if (fx_buf_puts(&b, "]}},\"extensions\":{\"cost\":{\"requestedQueryCost\":252,\"actualQueryCost\":20,"
				    "\"throttleStatus\":{\"maximumAvailable\":2000.0,\"currentlyAvailable\":1980,"
				    "\"restoreRate\":100.0}}}}") < 0)
			abort();
		a->body = xstrdup(b.data);
		a->status = 200;
		fx_buf_cleanup(&b);
		free(list);
	} else if (strstr(q, "shop")) {
		f->calls_test++;
		answer_text(a, 200, "{\"data\":{\"shop\":{\"name\":\"Fake Shop\"}}}");
	} else {
		answer_text(a, 200, "{\"errors\":[{\"message\":\"Field is not supported by the fake\"}]}");
	}
	json_object_put(j);
}

/* A product description of about 16 KiB, as shops write them (HTML included). */
static char description[16 * 1024 + 1];

static void fill_description(void)
{
	static const char para[] = "<p>Hand-picked rooibos from the Cederberg, sun-dried and cut. </p>";
	size_t n = 0;

	while (n + sizeof para - 1 < sizeof description - 1) {
		memcpy(description + n, para, sizeof para - 1);
		n += sizeof para - 1;
	}
	description[n] = '\0';
}

static const char *long_description(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, fill_description);
	return description;
}

static void woocommerce(struct fakechannel *f, const struct httpserve_req *r, struct answer *a)
{
	const char *p = r->path + strlen("/wp-json/wc/v3/");
	long long pid = 0;
	int used = 0;

	if (strcmp(r->method, "POST") == 0 &&
	    (strncmp(p, "products/batch", 14) == 0 ||
	     (sscanf(p, "products/%lld/variations/batch%n", &pid, &used) == 1 && used > 0))) {
		json_object *j = json_tokener_parse(r->body ? r->body : "");
		json_object *upd = j ? jobj(j, "update") : NULL;
		json_object *out = json_object_new_object(), *arr = json_object_new_array();
		size_t n = upd && json_object_is_type(upd, json_type_array) ? json_object_array_length(upd) : 0;

		if (n > 100) {
			answer_text(a, 413,
				    "{\"code\":\"woocommerce_rest_request_entity_too_large\",\"message\":\"Unable to "
				    "accept more than 100 items for this request.\",\"data\":{\"status\":413}}");
			json_object_put(j);
			json_object_put(out);
			json_object_put(arr);
			return;
		}
		push_time(f, FX_CHANNEL_WOOCOMMERCE);
		for (size_t i = 0; i < n; i++) {
			json_object *u = json_object_array_get_idx(upd, i);
			json_object *id = jobj(u, "id"), *sq = jobj(u, "stock_quantity"),
				    *res = json_object_new_object();
			char key[64] = "";
			bool unknown = false;

			if (id && pid)
				snprintf(key, sizeof key, "%lld:%lld", pid, (long long)json_object_get_int64(id));
			else if (id)
				snprintf(key, sizeof key, "%lld", (long long)json_object_get_int64(id));
			for (size_t k = 0; k < f->nunknown; k++)
				unknown = unknown || strcmp(f->unknown[k], key) == 0;
			if (!id || !sq || unknown) {
				json_object *err = json_object_new_object();
				json_object_object_add(res, "id",
						       json_object_new_int64(id ? json_object_get_int64(id) : 0));
				json_object_object_add(err, "code",
						       json_object_new_string("woocommerce_rest_product_invalid_id"));
				json_object_object_add(err, "message", json_object_new_string("Invalid ID."));
				json_object_object_add(res, "error", err);
			} else {
				offer_set(f, FX_CHANNEL_WOOCOMMERCE, key, json_object_get_int64(sq));
				json_object_object_add(res, "id", json_object_new_int64(json_object_get_int64(id)));
				json_object_object_add(res, "manage_stock", json_object_new_boolean(1));
				/* WooCommerce answers each item with the whole product, description and all. */
				json_object_object_add(res, "description", json_object_new_string(long_description()));
				json_object_object_add(res, "stock_quantity",
						       json_object_new_int64(json_object_get_int64(sq)));
			}
			json_object_array_add(arr, res);
		}
		json_object_object_add(out, "update", arr);
		answer_json(a, 200, out);
		json_object_put(j);
	} else if (strcmp(r->method, "GET") == 0 && strncmp(p, "orders", 6) == 0 && (p[6] == '?' || !p[6])) {
		char v[128];
		int64_t since = 0;
		int32_t ns;
		struct order **list;
		size_t n, page = 1;
		struct fx_buf b;

		f->calls_poll++;
		if (query_param(r->path, "modified_after", v, sizeof v) && fx_ts_parse(v, &since, &ns) < 0)
			since = 0;
		if (query_param(r->path, "page", v, sizeof v))
			page = strtoul(v, NULL, 10);
		if (page < 1)
			page = 1;
		n = orders_since(f, FX_CHANNEL_WOOCOMMERCE, since + 1, &list); /* modified_after is strict */
		fx_buf_init(&b, 64 << 20);
		if (fx_buf_puts(&b, "[") < 0)
			abort();
		for (size_t i = (page - 1) * PAGE, k = 0; i < n && k < PAGE; i++, k++)
			if (fx_buf_printf(&b, "%s%s", k ? "," : "", list[i]->json) < 0)
				abort();
		if (fx_buf_puts(&b, "]") < 0)
			abort();
		add_header(a, "X-WP-Total: %zu\r\nX-WP-TotalPages: %zu\r\n", n, (n + PAGE - 1) / PAGE);
		a->body = xstrdup(b.data);
		a->status = 200;
		fx_buf_cleanup(&b);
		free(list);
	} else if (strcmp(r->method, "GET") == 0 && strncmp(p, "system_status", 13) == 0) {
		f->calls_test++;
		answer_text(a, 200,
			    "{\"environment\":{\"home_url\":\"https://shop.example.co.za\",\"version\":\"9.4.2\"}}");
	} else {
		answer_text(a, 404,
			    "{\"code\":\"rest_no_route\",\"message\":\"No route was found matching the URL and request "
			    "method.\",\"data\":{\"status\":404}}");
	}
}

static void takealot(struct fakechannel *f, const struct httpserve_req *r, struct answer *a)
{
	if (strcmp(r->method, "POST") == 0 && strcmp(r->path, "/v2/offers/batch") == 0) {
		json_object *j = json_tokener_parse(r->body ? r->body : "");
		json_object *reqs = j ? jobj(j, "requests") : NULL;
		json_object *out = json_object_new_object(), *res = json_object_new_array();
		size_t n = reqs && json_object_is_type(reqs, json_type_array) ? json_object_array_length(reqs) : 0;

		push_time(f, FX_CHANNEL_TAKEALOT);
		for (size_t i = 0; i < n; i++) {
			json_object *rq = json_object_array_get_idx(reqs, i);
			json_object *oid = jobj(rq, "offer_id"), *ls = jobj(rq, "leadtime_stock");
			json_object *st =
				ls && json_object_is_type(ls, json_type_array) && json_object_array_length(ls) > 0
					? json_object_array_get_idx(ls, 0)
					: NULL;
			json_object *qq = st ? jobj(st, "quantity") : NULL, *one = json_object_new_object();
			char key[32];

			json_object_object_add(one, "offer_id",
					       json_object_new_int64(oid ? json_object_get_int64(oid) : 0));
			if (!oid || !qq) {
				json_object_object_add(one, "status", json_object_new_string("failed"));
				json_object_object_add(one, "message",
						       json_object_new_string("leadtime_stock is required"));
			} else {
				snprintf(key, sizeof key, "%lld", (long long)json_object_get_int64(oid));
				offer_set(f, FX_CHANNEL_TAKEALOT, key, json_object_get_int64(qq));
				json_object_object_add(one, "status", json_object_new_string("success"));
			}
			json_object_array_add(res, one);
		}
		json_object_object_add(out, "batch_id", json_object_new_int64(++f->batch_id));
		json_object_object_add(out, "status", json_object_new_string("completed"));
		json_object_object_add(out, "results", res);
		answer_json(a, 200, out);
		json_object_put(j);
	} else if (strcmp(r->method, "GET") == 0 && strncmp(r->path, "/v2/sales", 9) == 0) {
		char v[32];
		size_t page = 1, total = 0, k = 0;
		struct order **list;
		size_t n;
		struct fx_buf b;
		json_object *all = json_object_new_array();

		f->calls_poll++;
		if (query_param(r->path, "page_number", v, sizeof v))
			page = strtoul(v, NULL, 10);
		if (page < 1)
			page = 1;
		n = orders_since(f, FX_CHANNEL_TAKEALOT, 0, &list);
		for (size_t i = 0; i < n; i++) {
			json_object *o = json_tokener_parse(list[i]->json), *sales = o ? jobj(o, "sales") : NULL;
			for (size_t s = 0; sales && s < json_object_array_length(sales); s++)
				json_object_array_add(all, json_object_get(json_object_array_get_idx(sales, s)));
			json_object_put(o);
		}
		total = json_object_array_length(all);
		fx_buf_init(&b, 64 << 20);
		if (fx_buf_printf(&b,
				  "{\"page_summary\":{\"total\":%zu,\"page_size\":%d,\"page_number\":%zu},\"sales\":[",
				  total, TAKEALOT_PAGE, page) < 0)
			abort();
		for (size_t i = (page - 1) * TAKEALOT_PAGE; i < total && k < TAKEALOT_PAGE; i++, k++)
			if (fx_buf_printf(&b, "%s%s", k ? "," : "",
					  json_object_to_json_string_ext(json_object_array_get_idx(all, i),
									 JSON_C_TO_STRING_PLAIN)) < 0)
				abort();
		if (fx_buf_puts(&b, "]}") < 0)
			abort();
		a->body = xstrdup(b.data);
		a->status = 200;
		fx_buf_cleanup(&b);
		json_object_put(all);
		free(list);
	} else if (strcmp(r->method, "GET") == 0 && strncmp(r->path, "/v2/offers", 10) == 0) {
		f->calls_test++;
		answer_text(a, 200, "{\"total_results\":0,\"page_size\":1,\"page_number\":1,\"offers\":[]}");
	} else {
		answer_text(a, 404, "{\"message\":\"Not Found\"}");
	}
}

/* Decides the answer to r (mu held, except while hanging). */
static void handle(struct fakechannel *f, const struct httpserve_req *r, struct answer *a)
{
	enum fx_channel_type t = type_of(r->path);
	long now;

	pthread_mutex_lock(&f->mu);
	if (f->hang_ms > 0) {
		struct timespec until;
		fx_clock_deadline(f->hang_ms, &until);
		f->hanging++;
		pthread_cond_broadcast(&f->cv);
		while (!f->stopping && f->hang_ms > 0)
			if (pthread_cond_timedwait(&f->cv, &f->mu, &until) == ETIMEDOUT)
				break;
		f->hanging--;
	}
	now = fx_clock_ms();
	f->calls_all++;
	if (t == FX_CHANNEL_TAKEALOT) {
		if (f->window_start == 0 || now - f->window_start >= FAKECHANNEL_TAKEALOT_WINDOW_S * 1000) {
			f->window_start = now;
			f->window_used = 0;
		}
		f->window_used++;
	}
	if (!authorized(f, t, r)) {
		f->calls_refused++;
		refused(t, a);
	} else if (f->throttle_until > now) {
		f->calls_throttled++;
		throttled(t, f->throttle_until - now, a);
	} else if (f->fail_n > 0) {
		f->fail_n--;
		f->calls_failed++;
		answer_text(a, f->fail_status,
			    t == FX_CHANNEL_SHOPIFY ? "{\"errors\":\"Internal Server Error\"}"
						    : "{\"message\":\"Internal Server Error\"}");
	} else if (t == FX_CHANNEL_SHOPIFY) {
		shopify(f, r, a);
	} else if (t == FX_CHANNEL_WOOCOMMERCE) {
		woocommerce(f, r, a);
	} else {
		takealot(f, r, a);
	}
	if (t == FX_CHANNEL_TAKEALOT && a->status != 429) {
		long reset = (FAKECHANNEL_TAKEALOT_WINDOW_S * 1000 - (now - f->window_start) + 999) / 1000;
		int left = FAKECHANNEL_TAKEALOT_LIMIT - f->window_used;
		add_header(a, "x-RateLimit-Limit: %d\r\nx-RateLimit-Remaining: %d\r\nx-RateLimit-Reset: %ld\r\n",
			   FAKECHANNEL_TAKEALOT_LIMIT, left > 0 ? left : 0, reset);
	}
	pthread_mutex_unlock(&f->mu);
}

/* ---- the server ---- */

/* A request (httpserve's handler, on its connection's thread): answered as handle decides. */
static void serve(void *ctx, struct httpserve_req *r)
{
	struct answer a;

	memset(&a, 0, sizeof a);
	handle(ctx, r, &a);
	fx_err_ignore(httpserve_answer(r->fd, a.status, a.headers, a.body)); /* the client may have gone */
	free(a.body);
}

struct fakechannel *fakechannel_start(void)
{
	struct fakechannel *f = calloc(1, sizeof *f);

	if (!f)
		return NULL;
	f->fail_status = 500;
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	f->server = httpserve_start(serve, f, MAX_REQUEST, 128);
	if (!f->server) {
		pthread_cond_destroy(&f->cv);
		pthread_mutex_destroy(&f->mu);
		free(f);
		return NULL;
	}
	snprintf(f->url, sizeof f->url, "http://127.0.0.1:%d", httpserve_port(f->server));
	return f;
}

void fakechannel_stop(struct fakechannel *f)
{
	if (!f)
		return;
	/* Hanging answers end first; then the server waits for their threads. */
	pthread_mutex_lock(&f->mu);
	f->stopping = true;
	f->hang_ms = 0;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	httpserve_stop(f->server);
	for (size_t i = 0; i < f->norders; i++)
		free(f->orders[i].json);
	for (size_t i = 0; i < MAX_KEYS; i++)
		free(f->keys[i].answer);
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

const char *fakechannel_url(const struct fakechannel *f)
{
	return f->url;
}

void fakechannel_refuse_credentials(struct fakechannel *f, bool refuse)
{
	pthread_mutex_lock(&f->mu);
	f->refuse = refuse;
	pthread_mutex_unlock(&f->mu);
}

void fakechannel_woocommerce_unknown(struct fakechannel *f, const char *external_id)
{
	pthread_mutex_lock(&f->mu);
	if (f->nunknown < sizeof(f->unknown) / sizeof(f->unknown[0]) &&
	    fx_str_copy(f->unknown[f->nunknown], sizeof(f->unknown[0]), external_id, strlen(external_id)) == 0)
		f->nunknown++;
	pthread_mutex_unlock(&f->mu);
}

void fakechannel_fail(struct fakechannel *f, int n, int status)
{
	pthread_mutex_lock(&f->mu);
	f->fail_n = n;
	f->fail_status = status;
	pthread_mutex_unlock(&f->mu);
}

void fakechannel_throttle(struct fakechannel *f, long ms)
{
	pthread_mutex_lock(&f->mu);
	f->throttle_until = ms > 0 ? fx_clock_ms() + ms : 0;
	pthread_mutex_unlock(&f->mu);
}

void fakechannel_hang(struct fakechannel *f, long ms)
{
	pthread_mutex_lock(&f->mu);
	f->hang_ms = ms;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

bool fakechannel_wait_hanging(struct fakechannel *f, int n, long deadline_ms)
{
	struct timespec until;
	bool ok;

	fx_clock_deadline(deadline_ms, &until);
	pthread_mutex_lock(&f->mu);
	while (f->hanging < n)
		if (pthread_cond_timedwait(&f->cv, &f->mu, &until) == ETIMEDOUT)
			break;
	ok = f->hanging >= n;
	pthread_mutex_unlock(&f->mu);
	return ok;
}

void fakechannel_set_quantity(struct fakechannel *f, enum fx_channel_type t, const char *external_id, long long q)
{
	struct offer *o;

	pthread_mutex_lock(&f->mu);
	o = offer_get(f, t, external_id, true);
	if (o) {
		o->quantity = q;
		o->known = true;
	}
	pthread_mutex_unlock(&f->mu);
}

void fakechannel_add_order(struct fakechannel *f, enum fx_channel_type t, const char *external_id,
			   const char *updated_at, const char *json)
{
	struct order *o = NULL;
	int64_t s = 0;
	int32_t ns = 0;

	if (fx_ts_parse(updated_at, &s, &ns) < 0)
		abort();
	pthread_mutex_lock(&f->mu);
	for (size_t i = 0; i < f->norders; i++)
		if (f->orders[i].type == t && strcmp(f->orders[i].id, external_id) == 0)
			o = &f->orders[i];
	if (!o && f->norders < MAX_ORDERS)
		o = &f->orders[f->norders++];
	else if (o)
		free(o->json);
	if (o) {
		o->type = t;
		snprintf(o->id, sizeof o->id, "%s", external_id);
		o->updated = s;
		o->updated_ns = ns;
		o->json = xstrdup(json);
	}
	pthread_mutex_unlock(&f->mu);
}

bool fakechannel_quantity(struct fakechannel *f, enum fx_channel_type t, const char *external_id, long long *q)
{
	struct offer *o;
	bool ok;

	pthread_mutex_lock(&f->mu);
	o = offer_get(f, t, external_id, false);
	ok = o && o->sets > 0;
	if (ok)
		*q = o->quantity;
	pthread_mutex_unlock(&f->mu);
	return ok;
}

unsigned fakechannel_sets(struct fakechannel *f, enum fx_channel_type t, const char *external_id)
{
	struct offer *o;
	unsigned n;

	pthread_mutex_lock(&f->mu);
	o = offer_get(f, t, external_id, false);
	n = o ? o->sets : 0;
	pthread_mutex_unlock(&f->mu);
	return n;
}

long fakechannel_set_at_ms(struct fakechannel *f, enum fx_channel_type t, const char *external_id)
{
	struct offer *o;
	long at;

	pthread_mutex_lock(&f->mu);
	o = offer_get(f, t, external_id, false);
	at = o ? o->set_at : -1;
	pthread_mutex_unlock(&f->mu);
	return at;
}

unsigned fakechannel_calls(struct fakechannel *f, const char *kind)
{
	unsigned n;

	pthread_mutex_lock(&f->mu);
	if (!kind)
		n = f->calls_all;
	else if (strcmp(kind, "push") == 0)
		n = f->calls_push;
	else if (strcmp(kind, "poll") == 0)
		n = f->calls_poll;
	else if (strcmp(kind, "test") == 0)
		n = f->calls_test;
	else if (strcmp(kind, "refused") == 0)
		n = f->calls_refused;
	else if (strcmp(kind, "throttled") == 0)
		n = f->calls_throttled;
	else if (strcmp(kind, "failed") == 0)
		n = f->calls_failed;
	else
		abort();
	pthread_mutex_unlock(&f->mu);
	return n;
}

size_t fakechannel_push_times(struct fakechannel *f, enum fx_channel_type t, long *out, size_t max)
{
	size_t n;

	pthread_mutex_lock(&f->mu);
	n = f->npush_times[t];
	for (size_t i = 0; i < n && i < max; i++)
		out[i] = f->push_times[t][i];
	pthread_mutex_unlock(&f->mu);
	return n;
}

/* ---- client side ---- */

static char *money(long long cents)
{
	return fmt("%s%lld.%02lld", cents < 0 ? "-" : "", llabs(cents) / 100, llabs(cents) % 100);
}

static void add_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, v ? json_object_new_string(v) : NULL);
}

/* add_str for a malloc'd value, which it frees. */
static void add_own(json_object *o, const char *k, char *v)
{
	add_str(o, k, v);
	free(v);
}

static void add_money(json_object *o, const char *k, long long cents)
{
	char *m = money(cents);
	json_object_object_add(o, k, json_object_new_string(m));
	free(m);
}

static json_object *shop_money(long long cents)
{
	json_object *s = json_object_new_object(), *m = json_object_new_object();
	add_money(m, "amount", cents);
	add_str(m, "currency_code", "ZAR");
	json_object_object_add(s, "shop_money", m);
	return s;
}

static json_object *gql_money(long long cents)
{
	json_object *s = json_object_new_object(), *m = json_object_new_object();
	add_money(m, "amount", cents);
	add_str(m, "currencyCode", "ZAR");
	json_object_object_add(s, "shopMoney", m);
	return s;
}

static json_object *int_id(const char *digits)
{
	return json_object_new_int64(strtoll(digits, NULL, 10));
}

char *fakechannel_order_json(enum fx_channel_type t, const struct fakechannel_order *o, bool poll)
{
	json_object *j = json_object_new_object(), *lines = json_object_new_array();
	long long sub = 0;
	const char *st = o->status;
	char *num = o->number		      ? xstrdup(o->number)
		    : t == FX_CHANNEL_SHOPIFY ? fmt("#%s", o->external_id)
					      : xstrdup(o->external_id);
	char *name = fmt("%s %s", o->first_name ? o->first_name : "", o->last_name ? o->last_name : "");
	char *out;

	for (size_t i = 0; i < o->nlines; i++)
		sub += o->lines[i].quantity * o->lines[i].unit_price_cents;
	if (t == FX_CHANNEL_SHOPIFY && !poll) {
		json_object *cust = json_object_new_object(), *addr = json_object_new_object();
		json_object_object_add(j, "id", int_id(o->external_id));
		add_own(j, "admin_graphql_api_id", fmt("gid://shopify/Order/%s", o->external_id));
		add_str(j, "name", num);
		add_str(j, "email", o->email);
		add_str(j, "created_at", o->updated_at);
		add_str(j, "updated_at", o->updated_at);
		add_str(j, "cancelled_at", st && strcmp(st, "cancelled") == 0 ? o->updated_at : NULL);
		add_str(j, "currency", "ZAR");
		json_object_object_add(j, "taxes_included", json_object_new_boolean(1));
		add_str(j, "financial_status",
			st && strcmp(st, "refunded") == 0    ? "refunded"
			: st && strcmp(st, "cancelled") == 0 ? "voided"
							     : "paid");
		add_str(j, "fulfillment_status", st && strcmp(st, "fulfilled") == 0 ? "fulfilled" : NULL);
		add_money(j, "subtotal_price", sub);
		add_money(j, "total_price", sub + o->shipping_cents);
		json_object_object_add(j, "total_shipping_price_set", shop_money(o->shipping_cents));
		add_str(cust, "first_name", o->first_name);
		add_str(cust, "last_name", o->last_name);
		add_str(cust, "email", o->email);
		json_object_object_add(j, "customer", cust);
		add_str(addr, "name", name);
		add_str(addr, "address1", "12 Long Street");
		add_str(addr, "city", "Cape Town");
		add_str(addr, "province", "Western Cape");
		add_str(addr, "zip", "8001");
		add_str(addr, "country_code", "ZA");
		json_object_object_add(j, "shipping_address", addr);
		for (size_t i = 0; i < o->nlines; i++) {
			const struct fakechannel_line *l = &o->lines[i];
			json_object *li = json_object_new_object();
			json_object_object_add(li, "id", int_id(l->line_id));
			/* Webhook lines name the variant; the test's listing key stands in for it. */
			json_object_object_add(li, "variant_id", l->listing_key ? int_id(l->listing_key) : NULL);
			add_str(li, "sku", l->sku);
			add_str(li, "title", l->title);
			json_object_object_add(li, "quantity", json_object_new_int64(l->quantity));
			add_money(li, "price", l->unit_price_cents);
			json_object_object_add(li, "price_set", shop_money(l->unit_price_cents));
			json_object_array_add(lines, li);
		}
		json_object_object_add(j, "line_items", lines);
	} else if (t == FX_CHANNEL_SHOPIFY) {
		json_object *cust = json_object_new_object(), *addr = json_object_new_object(),
			    *li_c = json_object_new_object();
		add_own(j, "id", fmt("gid://shopify/Order/%s", o->external_id));
		add_str(j, "name", num);
		add_str(j, "updatedAt", o->updated_at);
		add_str(j, "cancelledAt", st && strcmp(st, "cancelled") == 0 ? o->updated_at : NULL);
		add_str(j, "displayFinancialStatus",
			st && strcmp(st, "refunded") == 0    ? "REFUNDED"
			: st && strcmp(st, "cancelled") == 0 ? "VOIDED"
							     : "PAID");
		add_str(j, "displayFulfillmentStatus",
			st && strcmp(st, "fulfilled") == 0 ? "FULFILLED" : "UNFULFILLED");
		add_str(j, "email", o->email);
		add_str(cust, "firstName", o->first_name);
		add_str(cust, "lastName", o->last_name);
		json_object_object_add(j, "customer", cust);
		add_str(addr, "name", name);
		add_str(addr, "address1", "12 Long Street");
		add_str(addr, "city", "Cape Town");
		add_str(addr, "zip", "8001");
		add_str(addr, "countryCodeV2", "ZA");
		json_object_object_add(j, "shippingAddress", addr);
		json_object_object_add(j, "subtotalPriceSet", gql_money(sub));
		json_object_object_add(j, "totalShippingPriceSet", gql_money(o->shipping_cents));
		json_object_object_add(j, "totalPriceSet", gql_money(sub + o->shipping_cents));
		for (size_t i = 0; i < o->nlines; i++) {
			const struct fakechannel_line *l = &o->lines[i];
			json_object *li = json_object_new_object(), *v = NULL;
			add_own(li, "id", fmt("gid://shopify/LineItem/%s", l->line_id));
			add_str(li, "sku", l->sku);
			add_str(li, "title", l->title);
			json_object_object_add(li, "quantity", json_object_new_int64(l->quantity));
			json_object_object_add(li, "originalUnitPriceSet", gql_money(l->unit_price_cents));
			if (l->listing_key) {
				json_object *inv = json_object_new_object();
				v = json_object_new_object();
				add_own(v, "id", fmt("gid://shopify/ProductVariant/%s", l->listing_key));
				add_own(inv, "id", fmt("gid://shopify/InventoryItem/%s", l->listing_key));
				json_object_object_add(v, "inventoryItem", inv);
			}
			json_object_object_add(li, "variant", v);
			json_object_array_add(lines, li);
		}
		json_object_object_add(li_c, "nodes", lines);
		json_object_object_add(j, "lineItems", li_c);
	} else if (t == FX_CHANNEL_WOOCOMMERCE) {
		json_object *bill = json_object_new_object(), *ship = json_object_new_object();
		char gmt[40];
		int64_t s;
		int32_t ns;
		if (fx_ts_parse(o->updated_at, &s, &ns) < 0)
			abort();
		fx_ts_format(s, 0, 0, gmt);
		gmt[19] = '\0'; /* WooCommerce writes GMT times without a zone */
		json_object_object_add(j, "id", int_id(o->external_id));
		add_str(j, "number", num);
		add_str(j, "status", st ? st : "processing");
		add_str(j, "currency", "ZAR");
		add_str(j, "date_created_gmt", gmt);
		add_str(j, "date_modified_gmt", gmt);
		json_object_object_add(j, "prices_include_tax", json_object_new_boolean(1));
		add_money(j, "shipping_total", o->shipping_cents);
		add_money(j, "shipping_tax", 0);
		add_money(j, "total", sub + o->shipping_cents);
		add_str(bill, "first_name", o->first_name);
		add_str(bill, "last_name", o->last_name);
		add_str(bill, "email", o->email);
		add_str(bill, "address_1", "5 Jan Smuts Ave");
		add_str(bill, "city", "Johannesburg");
		add_str(bill, "postcode", "2196");
		add_str(bill, "country", "ZA");
		add_str(ship, "first_name", o->first_name);
		add_str(ship, "last_name", o->last_name);
		add_str(ship, "address_1", "5 Jan Smuts Ave");
		add_str(ship, "city", "Johannesburg");
		add_str(ship, "postcode", "2196");
		add_str(ship, "country", "ZA");
		json_object_object_add(j, "billing", bill);
		json_object_object_add(j, "shipping", ship);
		for (size_t i = 0; i < o->nlines; i++) {
			const struct fakechannel_line *l = &o->lines[i];
			json_object *li = json_object_new_object();
			long long pid = 0, vid = 0;
			if (l->listing_key && sscanf(l->listing_key, "%lld:%lld", &pid, &vid) < 1)
				abort();
			json_object_object_add(li, "id", int_id(l->line_id));
			add_str(li, "name", l->title);
			json_object_object_add(li, "product_id", json_object_new_int64(pid));
			json_object_object_add(li, "variation_id", json_object_new_int64(vid));
			json_object_object_add(li, "quantity", json_object_new_int64(l->quantity));
			add_money(li, "subtotal", l->quantity * l->unit_price_cents);
			add_money(li, "subtotal_tax", 0);
			add_money(li, "total", l->quantity * l->unit_price_cents);
			add_money(li, "total_tax", 0);
			add_str(li, "sku", l->sku);
			json_object_object_add(li, "price",
					       json_object_new_double((double)l->unit_price_cents / 100.0));
			json_object_array_add(lines, li);
		}
		json_object_object_add(j, "line_items", lines);
	} else {
		json_object_object_add(j, "order_id", int_id(o->external_id));
		for (size_t i = 0; i < o->nlines; i++) {
			const struct fakechannel_line *l = &o->lines[i];
			json_object *s = json_object_new_object();
			json_object_object_add(s, "order_item_id", int_id(l->line_id));
			json_object_object_add(s, "order_id", int_id(o->external_id));
			add_str(s, "order_date", o->updated_at);
			add_str(s, "sale_status", st ? st : "New Leadtime Order");
			json_object_object_add(s, "offer_id", l->listing_key ? int_id(l->listing_key) : NULL);
			add_str(s, "sku", l->sku);
			add_str(s, "product_title", l->title);
			json_object_object_add(s, "selling_price", json_object_new_int64(l->unit_price_cents / 100));
			json_object_object_add(s, "quantity", json_object_new_int64(l->quantity));
			json_object_array_add(lines, s);
		}
		json_object_object_add(j, "sales", lines);
	}
	out = xstrdup(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(j);
	free(num);
	free(name);
	return out;
}

char **fakechannel_webhook_headers(enum fx_channel_type t, const char *secret, const char *topic,
				   const char *delivery_id, const char *body, size_t len)
{
	char sig[128];
	char **h = xmalloc(10 * sizeof *h);
	size_t k = 0;

	if (fx_sig_hmac_sha256(secret, strlen(secret), body, len, t == FX_CHANNEL_TAKEALOT ? FX_SIG_HEX : FX_SIG_BASE64,
			       sig, sizeof sig) < 0)
		abort();
	h[k++] = xstrdup("Content-Type: application/json");
	switch (t) {
	case FX_CHANNEL_SHOPIFY:
		h[k++] = fmt("X-Shopify-Topic: %s", topic ? topic : "orders/updated");
		h[k++] = fmt("X-Shopify-Hmac-Sha256: %s", sig);
		h[k++] = xstrdup("X-Shopify-Shop-Domain: fake-shop.myshopify.com");
		h[k++] = fmt("X-Shopify-Webhook-Id: %s", delivery_id);
		h[k++] = xstrdup("X-Shopify-API-Version: 2026-07");
		break;
	case FX_CHANNEL_WOOCOMMERCE:
		h[k++] = fmt("X-WC-Webhook-Topic: %s", topic ? topic : "order.updated");
		h[k++] = xstrdup("X-WC-Webhook-Resource: order");
		h[k++] =
			fmt("X-WC-Webhook-Event: %s", topic && strchr(topic, '.') ? strchr(topic, '.') + 1 : "updated");
		h[k++] = fmt("X-WC-Webhook-Signature: %s", sig);
		h[k++] = fmt("X-WC-Webhook-Delivery-ID: %s", delivery_id);
		h[k++] = xstrdup("X-WC-Webhook-Source: https://shop.example.co.za/");
		break;
	case FX_CHANNEL_TAKEALOT:
		h[k++] = fmt("X-Takealot-Event: %s", topic ? topic : "Sale Status Changed");
		h[k++] = fmt("X-Takealot-Delivery: %s", delivery_id);
		h[k++] = fmt("X-Takealot-Signature: %s", sig);
		break;
	}
	h[k] = NULL;
	return h;
}

void fakechannel_headers_free(char **h)
{
	if (!h)
		return;
	for (size_t i = 0; h[i]; i++)
		free(h[i]);
	free(h);
}
