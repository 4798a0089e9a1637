/*
 * fx_channel: the three sales channels' protocols. Reading: webhooks and
 * poll pages become struct fx_channel_order. Writing: push and poll
 * requests are built as struct fx_channel_call, their answers read back.
 * The network is lib/egress (fx_channel_push, _poll_orders, _test).
 */
#include "channel.h"

#include "b64.h"
#include "buf.h"
#include "egress.h"
#include "json.h"
#include "num.h"
#include "sig.h"
#include "str.h"
#include "ts.h"

#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

/*
 * 2026-07: supported until mid 2027. Since 2026-04 inventorySetQuantities
 * wants changeFromQuantity on every quantity and an @idempotent key.
 */
#define SHOPIFY_API_VERSION "2026-07"
#define MAX_LINES 500
#define MAX_TEXT 2048 /* bytes of any one text an order carries */
#define POLL_PAGE 50
/*
 * Shopify refuses a query that may cost over 1000 points (an object 1, a
 * connection 2 + first x its node): 5 orders of 10 objects and 40 lines of
 * 4 cost 852. An order with more lines is left to its webhooks.
 */
#define SHOPIFY_POLL_ORDERS "5"
#define SHOPIFY_POLL_LINES "40"
#define TAKEALOT_PAGE 100
#define TAKEALOT_LOOKBACK_DAYS 7

static int woo_ids(const char *ext, int64_t *pid, int64_t *vid);

/* ---- names ---------------------------------------------------------------- */

static const char *const type_names[] = {"shopify", "woocommerce", "takealot", NULL};

const char *fx_channel_type_name(enum fx_channel_type t)
{
	if ((unsigned)t > FX_CHANNEL_TAKEALOT)
		return "unknown";
	return type_names[t];
}

int fx_channel_type_parse(const char *s)
{
	if (!s)
		return -1;
	return fx_json_enum_index(s, type_names);
}

size_t fx_channel_batch_max(enum fx_channel_type t)
{
	switch (t) {
	case FX_CHANNEL_SHOPIFY: return 250;
	case FX_CHANNEL_WOOCOMMERCE: return 100;
	case FX_CHANNEL_TAKEALOT: return 100;
	}
	return 1;
}

const char *fx_channel_listing_key(enum fx_channel_type t, const char *external_id, struct fx_arena *arena)
{
	int64_t a, b;

	if (!external_id)
		return NULL;
	switch (t) {
	case FX_CHANNEL_SHOPIFY:
		if (strncmp(external_id, "gid://shopify/InventoryItem/", 28) == 0)
			external_id += 28;
		if (fx_num_parse(external_id, 1, INT64_MAX, &a, NULL) < 0)
			return NULL;
		return fx_arena_printf(arena, "%lld", (long long)a);
	case FX_CHANNEL_WOOCOMMERCE:
		if (woo_ids(external_id, &a, &b) < 0)
			return NULL;
		return b ? fx_arena_printf(arena, "%lld:%lld", (long long)a, (long long)b)
			 : fx_arena_printf(arena, "%lld", (long long)a);
	case FX_CHANNEL_TAKEALOT:
		if (fx_num_parse(external_id, 1, INT64_MAX, &a, NULL) < 0)
			return NULL;
		return fx_arena_printf(arena, "%lld", (long long)a);
	}
	return NULL;
}

/* ---- signatures -------------------------------------------------------------- */

/* ---- JSON reading ----------------------------------------------------------- */

struct rd {
	struct fx_arena *arena;
	struct fx_err *e;
	enum fx_code code; /* FX_INVALID_ARGUMENT for webhooks, FX_BAD_GATEWAY for answers */
};

static int rd_fail(struct rd *r, const char *what, const char *why)
{
	if (r->code == FX_INVALID_ARGUMENT)
		return fx_err_invalid(r->e, what, "%s %s", what, why);
	return fx_err_set(r->e, r->code, "channel answer: %s %s", what, why);
}

static json_object *jget(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v; /* NULL for JSON null too */
}

static json_object *jpath(json_object *o, const char *a, const char *b, const char *c)
{
	o = jget(o, a);
	if (b)
		o = jget(o, b);
	if (c)
		o = jget(o, c);
	return o;
}

/* A string value copied into the arena; *out NULL when absent, null or "". -1 when not a string or too long. */
static int rd_str(struct rd *r, json_object *v, const char *what, const char **out)
{
	size_t n;

	*out = NULL;
	if (!v)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return rd_fail(r, what, "is not a string");
	n = (size_t)json_object_get_string_len(v);
	if (n == 0)
		return 0;
	if (n > MAX_TEXT)
		return rd_fail(r, what, "is too long");
	*out = fx_arena_strndup(r->arena, json_object_get_string(v), n);
	if (!*out)
		return fx_err_set(r->e, FX_RESOURCE_EXHAUSTED, "channel order is too large");
	return 0;
}

/* An id written as a JSON integer or a string, as text; the text after the last '/' of a gid. */
static int rd_id(struct rd *r, json_object *v, const char *what, const char **out)
{
	const char *s;

	*out = NULL;
	if (!v)
		return 0;
	if (json_object_is_type(v, json_type_int)) {
		*out = fx_arena_printf(r->arena, "%lld", (long long)json_object_get_int64(v));
		if (!*out)
			return fx_err_set(r->e, FX_RESOURCE_EXHAUSTED, "channel order is too large");
		return 0;
	}
	if (rd_str(r, v, what, out) < 0)
		return -1;
	if (*out && strncmp(*out, "gid://", 6) == 0 && (s = strrchr(*out, '/')) && s[1])
		*out = s + 1;
	return 0;
}

/* A decimal money string (a JSON integer is whole units) as cents; absent leaves *out at 0. */
static int rd_money(struct rd *r, json_object *v, const char *what, int64_t *out)
{
	int64_t x;

	*out = 0;
	if (!v)
		return 0;
	if (json_object_is_type(v, json_type_int)) {
		x = json_object_get_int64(v);
		if (x > INT64_MAX / 100 || x < -INT64_MAX / 100)
			return rd_fail(r, what, "is out of range");
		*out = x * 100;
		return 0;
	}
	if (!json_object_is_type(v, json_type_string) ||
	    fx_num_cents(json_object_get_string(v), -INT64_MAX, INT64_MAX, out, NULL) < 0)
		return rd_fail(r, what, "is not a decimal amount");
	return 0;
}

static int rd_int(struct rd *r, json_object *v, const char *what, int64_t min, int64_t max, int64_t *out)
{
	if (!fx_json_get_int64(v, min, max, out))
		return rd_fail(r, what, v ? "is out of range or not an integer" : "is missing");
	return 0;
}

/* "Ada" + " " + "Lovelace", either part may be NULL; "" when both are. */
static const char *join_name(struct rd *r, const char *first, const char *last)
{
	const char *s;

	if (first && last)
		s = fx_arena_printf(r->arena, "%s %s", first, last);
	else
		s = first ? first : last ? last : "";
	return s ? s : "";
}

static char *path_at(struct rd *r, const char *arr, size_t i, const char *field)
{
	char *s = fx_arena_printf(r->arena, "%s[%zu].%s", arr, i, field);
	return s ? s : (char *)field;
}

static int lines_alloc(struct rd *r, size_t n, struct fx_channel_order *o)
{
	if (n == 0)
		return rd_fail(r, "lines", "are empty");
	if (n > MAX_LINES)
		return rd_fail(r, "lines", "are too many");
	o->lines = fx_arena_alloc(r->arena, n * sizeof *o->lines);
	if (!o->lines)
		return fx_err_set(r->e, FX_RESOURCE_EXHAUSTED, "channel order is too large");
	memset(o->lines, 0, n * sizeof *o->lines);
	o->nlines = 0;
	return 0;
}

/* ---- Shopify ------------------------------------------------------------------ */

static enum fx_channel_order_state shopify_state(bool cancelled, const char *financial, const char *fulfillment)
{
	if (cancelled || (financial && strcasecmp(financial, "voided") == 0))
		return FX_CHANNEL_ORDER_CANCELLED;
	if (financial && strcasecmp(financial, "refunded") == 0)
		return FX_CHANNEL_ORDER_RETURNED;
	if (fulfillment && strcasecmp(fulfillment, "fulfilled") == 0)
		return FX_CHANNEL_ORDER_SHIPPED;
	return FX_CHANNEL_ORDER_OPEN;
}

/*
 * What is left of a Shopify line after edits and refunds: current_quantity
 * (at most the ordered quantity) when the channel sent it. 0 leaves the line out.
 */
static int left_of(struct rd *r, json_object *v, const char *what, struct fx_channel_line *l)
{
	int64_t cur;

	if (!v)
		return 0;
	if (rd_int(r, v, what, 0, l->quantity, &cur) < 0)
		return -1;
	l->quantity = cur;
	return 0;
}

/* An order whose every line was removed is over: cancelled, or returned when refunded. */
static void all_removed(struct fx_channel_order *o)
{
	if (o->nlines == 0 && o->state != FX_CHANNEL_ORDER_RETURNED)
		o->state = FX_CHANNEL_ORDER_CANCELLED;
}

/* The REST-shaped order of a Shopify webhook (orders/create, orders/updated, ...). */
static int shopify_order(struct rd *r, json_object *j, struct fx_channel_order *o)
{
	json_object *items = jget(j, "line_items");
	json_object *ship = jget(j, "shipping_address");
	json_object *bill = jget(j, "billing_address");
	json_object *cust = jget(j, "customer");
	const char *fin = NULL, *ful = NULL, *cancelled = NULL, *first = NULL, *last = NULL, *name = NULL;
	json_object *addr = ship ? ship : bill;
	json_object *shipv;
	size_t n;

	if (rd_id(r, jget(j, "id"), "id", &o->external_id) < 0 || rd_str(r, jget(j, "name"), "name", &o->number) < 0 ||
	    rd_str(r, jget(j, "updated_at"), "updated_at", &o->updated_at) < 0 ||
	    rd_str(r, jget(j, "cancelled_at"), "cancelled_at", &cancelled) < 0 ||
	    rd_str(r, jget(j, "financial_status"), "financial_status", &fin) < 0 ||
	    rd_str(r, jget(j, "fulfillment_status"), "fulfillment_status", &ful) < 0)
		return -1;
	if (!o->external_id)
		return rd_fail(r, "id", "is missing");
	o->state = shopify_state(cancelled != NULL, fin, ful);
	if (rd_str(r, jget(j, "email"), "email", &o->customer_email) < 0 ||
	    rd_str(r, jget(j, "phone"), "phone", &o->customer_phone) < 0)
		return -1;
	if (rd_str(r, jget(addr, "name"), "shipping_address.name", &name) < 0)
		return -1;
	if (!name) {
		if (rd_str(r, jget(cust, "first_name"), "customer.first_name", &first) < 0 ||
		    rd_str(r, jget(cust, "last_name"), "customer.last_name", &last) < 0)
			return -1;
		name = join_name(r, first, last);
	}
	o->customer_name = name;
	if (!o->customer_phone && rd_str(r, jget(addr, "phone"), "shipping_address.phone", &o->customer_phone) < 0)
		return -1;
	if (rd_str(r, jget(addr, "address1"), "shipping_address.address1", &o->address_line1) < 0 ||
	    rd_str(r, jget(addr, "address2"), "shipping_address.address2", &o->address_line2) < 0 ||
	    rd_str(r, jget(addr, "city"), "shipping_address.city", &o->address_city) < 0 ||
	    rd_str(r, jget(addr, "province"), "shipping_address.province", &o->address_province) < 0 ||
	    rd_str(r, jget(addr, "zip"), "shipping_address.zip", &o->address_postal_code) < 0 ||
	    rd_str(r, jget(addr, "country_code"), "shipping_address.country_code", &o->address_country) < 0)
		return -1;
	if (rd_money(r, jget(j, "subtotal_price"), "subtotal_price", &o->subtotal_cents) < 0 ||
	    rd_money(r, jget(j, "total_price"), "total_price", &o->total_cents) < 0)
		return -1;
	shipv = jpath(j, "total_shipping_price_set", "shop_money", "amount");
	if (shipv) {
		if (rd_money(r, shipv, "total_shipping_price_set.shop_money.amount", &o->shipping_cents) < 0)
			return -1;
	} else {
		json_object *sl = jget(j, "shipping_lines");
		size_t ns = json_object_is_type(sl, json_type_array) ? json_object_array_length(sl) : 0;
		for (size_t i = 0; i < ns; i++) {
			int64_t c;
			if (rd_money(r, jget(json_object_array_get_idx(sl, i), "price"),
				     path_at(r, "shipping_lines", i, "price"), &c) < 0)
				return -1;
			o->shipping_cents += c;
		}
	}
	if (!json_object_is_type(items, json_type_array))
		return rd_fail(r, "line_items", "is missing");
	n = json_object_array_length(items);
	if (lines_alloc(r, n, o) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		json_object *li = json_object_array_get_idx(items, i);
		struct fx_channel_line *l = &o->lines[o->nlines];
		json_object *price = jpath(li, "price_set", "shop_money", "amount");

		if (rd_id(r, jget(li, "id"), path_at(r, "line_items", i, "id"), &l->external_line_id) < 0 ||
		    rd_id(r, jget(li, "variant_id"), path_at(r, "line_items", i, "variant_id"), &l->listing_key) < 0 ||
		    rd_str(r, jget(li, "sku"), path_at(r, "line_items", i, "sku"), &l->sku) < 0 ||
		    rd_str(r, jget(li, "title"), path_at(r, "line_items", i, "title"), &l->title) < 0 ||
		    rd_int(r, jget(li, "quantity"), path_at(r, "line_items", i, "quantity"), 1, 1000000, &l->quantity) <
			    0 ||
		    rd_money(r, price ? price : jget(li, "price"), path_at(r, "line_items", i, "price"),
			     &l->unit_price_cents) < 0)
			return -1;
		if (!l->external_line_id)
			return rd_fail(r, path_at(r, "line_items", i, "id"), "is missing");
		if (!l->title)
			l->title = "";
		if (left_of(r, jget(li, "current_quantity"), path_at(r, "line_items", i, "current_quantity"), l) < 0)
			return -1;
		if (l->quantity > 0)
			o->nlines++;
	}
	all_removed(o);
	return 0;
}

/* One node of the GraphQL orders query (fx_channel_poll_call). */
static int shopify_gql_order(struct rd *r, json_object *j, struct fx_channel_order *o)
{
	json_object *items = jpath(j, "lineItems", "nodes", NULL);
	json_object *addr = jget(j, "shippingAddress");
	json_object *cust = jget(j, "customer");
	const char *fin = NULL, *ful = NULL, *cancelled = NULL, *first = NULL, *last = NULL, *name = NULL;
	size_t n;

	if (rd_id(r, jget(j, "id"), "id", &o->external_id) < 0 || rd_str(r, jget(j, "name"), "name", &o->number) < 0 ||
	    rd_str(r, jget(j, "updatedAt"), "updatedAt", &o->updated_at) < 0 ||
	    rd_str(r, jget(j, "cancelledAt"), "cancelledAt", &cancelled) < 0 ||
	    rd_str(r, jget(j, "displayFinancialStatus"), "displayFinancialStatus", &fin) < 0 ||
	    rd_str(r, jget(j, "displayFulfillmentStatus"), "displayFulfillmentStatus", &ful) < 0 ||
	    rd_str(r, jget(j, "email"), "email", &o->customer_email) < 0 ||
	    rd_str(r, jget(j, "phone"), "phone", &o->customer_phone) < 0 ||
	    rd_str(r, jget(addr, "name"), "shippingAddress.name", &name) < 0 ||
	    rd_str(r, jget(addr, "address1"), "shippingAddress.address1", &o->address_line1) < 0 ||
	    rd_str(r, jget(addr, "address2"), "shippingAddress.address2", &o->address_line2) < 0 ||
	    rd_str(r, jget(addr, "city"), "shippingAddress.city", &o->address_city) < 0 ||
	    rd_str(r, jget(addr, "province"), "shippingAddress.province", &o->address_province) < 0 ||
	    rd_str(r, jget(addr, "zip"), "shippingAddress.zip", &o->address_postal_code) < 0 ||
	    rd_str(r, jget(addr, "countryCodeV2"), "shippingAddress.countryCodeV2", &o->address_country) < 0)
		return -1;
	if (!o->external_id)
		return rd_fail(r, "id", "is missing");
	o->state = shopify_state(cancelled != NULL, fin, ful);
	if (!name) {
		if (rd_str(r, jget(cust, "firstName"), "customer.firstName", &first) < 0 ||
		    rd_str(r, jget(cust, "lastName"), "customer.lastName", &last) < 0)
			return -1;
		name = join_name(r, first, last);
	}
	o->customer_name = name;
	if (rd_money(r, jpath(j, "subtotalPriceSet", "shopMoney", "amount"), "subtotalPriceSet", &o->subtotal_cents) <
		    0 ||
	    rd_money(r, jpath(j, "totalShippingPriceSet", "shopMoney", "amount"), "totalShippingPriceSet",
		     &o->shipping_cents) < 0 ||
	    rd_money(r, jpath(j, "totalPriceSet", "shopMoney", "amount"), "totalPriceSet", &o->total_cents) < 0)
		return -1;
	if (!json_object_is_type(items, json_type_array))
		return rd_fail(r, "lineItems", "is missing");
	n = json_object_array_length(items);
	if (lines_alloc(r, n, o) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		json_object *li = json_object_array_get_idx(items, i);
		struct fx_channel_line *l = &o->lines[o->nlines];
		json_object *inv = jpath(li, "variant", "inventoryItem", "id");

		if (rd_id(r, jget(li, "id"), path_at(r, "lineItems", i, "id"), &l->external_line_id) < 0 ||
		    rd_id(r, inv ? inv : jpath(li, "variant", "id", NULL), path_at(r, "lineItems", i, "variant"),
			  &l->listing_key) < 0 ||
		    rd_str(r, jget(li, "sku"), path_at(r, "lineItems", i, "sku"), &l->sku) < 0 ||
		    rd_str(r, jget(li, "title"), path_at(r, "lineItems", i, "title"), &l->title) < 0 ||
		    rd_int(r, jget(li, "quantity"), path_at(r, "lineItems", i, "quantity"), 1, 1000000, &l->quantity) <
			    0 ||
		    rd_money(r, jpath(li, "originalUnitPriceSet", "shopMoney", "amount"),
			     path_at(r, "lineItems", i, "originalUnitPriceSet"), &l->unit_price_cents) < 0)
			return -1;
		if (!l->external_line_id)
			return rd_fail(r, path_at(r, "lineItems", i, "id"), "is missing");
		if (!l->title)
			l->title = "";
		if (left_of(r, jget(li, "currentQuantity"), path_at(r, "lineItems", i, "currentQuantity"), l) < 0)
			return -1;
		if (l->quantity > 0)
			o->nlines++;
	}
	all_removed(o);
	return 0;
}

/* ---- WooCommerce ----------------------------------------------------------------- */

static enum fx_channel_order_state woo_state(const char *s)
{
	if (!s)
		return FX_CHANNEL_ORDER_OPEN;
	if (strcmp(s, "completed") == 0)
		return FX_CHANNEL_ORDER_SHIPPED;
	if (strcmp(s, "cancelled") == 0 || strcmp(s, "failed") == 0)
		return FX_CHANNEL_ORDER_CANCELLED;
	if (strcmp(s, "refunded") == 0)
		return FX_CHANNEL_ORDER_RETURNED;
	return FX_CHANNEL_ORDER_OPEN;
}

/* A WooCommerce GMT time without zone ("2026-12-02T10:00:00") as RFC 3339. */
static int woo_time(struct rd *r, json_object *v, const char *what, const char **out)
{
	const char *s;
	int64_t secs;
	int32_t ns;

	if (rd_str(r, v, what, &s) < 0)
		return -1;
	*out = NULL;
	if (!s)
		return 0;
	if (fx_ts_parse(s, &secs, &ns) == 0) {
		*out = s;
		return 0;
	}
	*out = fx_arena_printf(r->arena, "%sZ", s);
	if (!*out || fx_ts_parse(*out, &secs, &ns) < 0)
		return rd_fail(r, what, "is not a time");
	return 0;
}

static int woo_order(struct rd *r, json_object *j, struct fx_channel_order *o)
{
	json_object *items = jget(j, "line_items");
	json_object *ship = jget(j, "shipping");
	json_object *bill = jget(j, "billing");
	const char *status = NULL, *first = NULL, *last = NULL;
	json_object *addr = ship && jget(ship, "address_1") ? ship : bill;
	int64_t shipping_tax = 0;
	size_t n;

	if (rd_id(r, jget(j, "id"), "id", &o->external_id) < 0 ||
	    rd_id(r, jget(j, "number"), "number", &o->number) < 0 ||
	    woo_time(r, jget(j, "date_modified_gmt"), "date_modified_gmt", &o->updated_at) < 0 ||
	    rd_str(r, jget(j, "status"), "status", &status) < 0)
		return -1;
	if (!o->external_id)
		return rd_fail(r, "id", "is missing");
	o->state = woo_state(status);
	if (rd_str(r, jget(bill, "email"), "billing.email", &o->customer_email) < 0 ||
	    rd_str(r, jget(bill, "phone"), "billing.phone", &o->customer_phone) < 0 ||
	    rd_str(r, jget(addr, "first_name"), "shipping.first_name", &first) < 0 ||
	    rd_str(r, jget(addr, "last_name"), "shipping.last_name", &last) < 0 ||
	    rd_str(r, jget(addr, "address_1"), "shipping.address_1", &o->address_line1) < 0 ||
	    rd_str(r, jget(addr, "address_2"), "shipping.address_2", &o->address_line2) < 0 ||
	    rd_str(r, jget(addr, "city"), "shipping.city", &o->address_city) < 0 ||
	    rd_str(r, jget(addr, "state"), "shipping.state", &o->address_province) < 0 ||
	    rd_str(r, jget(addr, "postcode"), "shipping.postcode", &o->address_postal_code) < 0 ||
	    rd_str(r, jget(addr, "country"), "shipping.country", &o->address_country) < 0)
		return -1;
	o->customer_name = join_name(r, first, last);
	if (rd_money(r, jget(j, "total"), "total", &o->total_cents) < 0 ||
	    rd_money(r, jget(j, "shipping_total"), "shipping_total", &o->shipping_cents) < 0 ||
	    rd_money(r, jget(j, "shipping_tax"), "shipping_tax", &shipping_tax) < 0)
		return -1;
	/* Fluxori's money is VAT-inclusive: shipping with its tax, the subtotal is what is left. */
	o->shipping_cents += shipping_tax;
	o->subtotal_cents = o->total_cents - o->shipping_cents;
	if (!json_object_is_type(items, json_type_array))
		return rd_fail(r, "line_items", "is missing");
	n = json_object_array_length(items);
	if (lines_alloc(r, n, o) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		json_object *li = json_object_array_get_idx(items, i);
		struct fx_channel_line *l = &o->lines[o->nlines];
		int64_t pid = 0, vid = 0, total = 0, tax = 0;

		if (rd_id(r, jget(li, "id"), path_at(r, "line_items", i, "id"), &l->external_line_id) < 0 ||
		    rd_str(r, jget(li, "sku"), path_at(r, "line_items", i, "sku"), &l->sku) < 0 ||
		    rd_str(r, jget(li, "name"), path_at(r, "line_items", i, "name"), &l->title) < 0 ||
		    rd_int(r, jget(li, "quantity"), path_at(r, "line_items", i, "quantity"), 1, 1000000, &l->quantity) <
			    0 ||
		    rd_money(r, jget(li, "total"), path_at(r, "line_items", i, "total"), &total) < 0 ||
		    rd_money(r, jget(li, "total_tax"), path_at(r, "line_items", i, "total_tax"), &tax) < 0)
			return -1;
		if (!l->external_line_id)
			return rd_fail(r, path_at(r, "line_items", i, "id"), "is missing");
		if (jget(li, "product_id") && rd_int(r, jget(li, "product_id"),
						     path_at(r, "line_items", i, "product_id"), 0, INT64_MAX, &pid) < 0)
			return -1;
		if (jget(li, "variation_id") &&
		    rd_int(r, jget(li, "variation_id"), path_at(r, "line_items", i, "variation_id"), 0, INT64_MAX,
			   &vid) < 0)
			return -1;
		if (pid > 0 && vid > 0)
			l->listing_key = fx_arena_printf(r->arena, "%lld:%lld", (long long)pid, (long long)vid);
		else if (pid > 0)
			l->listing_key = fx_arena_printf(r->arena, "%lld", (long long)pid);
		/* The line's total after discounts with its tax, per unit (a remainder of cents stays in the total). */
		l->unit_price_cents = (total + tax) / l->quantity;
		if (!l->title)
			l->title = "";
		o->nlines++;
	}
	return 0;
}

/* ---- Takealot -------------------------------------------------------------------- */

static enum fx_channel_order_state takealot_state(const char *s)
{
	if (!s)
		return FX_CHANNEL_ORDER_OPEN;
	if (strncasecmp(s, "cancel", 6) == 0)
		return FX_CHANNEL_ORDER_CANCELLED;
	if (strncasecmp(s, "return", 6) == 0)
		return FX_CHANNEL_ORDER_RETURNED;
	if (strcasecmp(s, "delivered") == 0)
		return FX_CHANNEL_ORDER_DELIVERED;
	if (strncasecmp(s, "shipped", 7) == 0)
		return FX_CHANNEL_ORDER_SHIPPED;
	return FX_CHANNEL_ORDER_OPEN;
}

static int state_rank(enum fx_channel_order_state s)
{
	switch (s) {
	case FX_CHANNEL_ORDER_OPEN: return 0;
	case FX_CHANNEL_ORDER_SHIPPED: return 1;
	case FX_CHANNEL_ORDER_DELIVERED: return 2;
	case FX_CHANNEL_ORDER_RETURNED: return 3;
	case FX_CHANNEL_ORDER_CANCELLED: return 4;
	}
	return 0;
}

/*
 * The sales (items) sales[from..to) of one Takealot order as one order.
 * prefix names the array in messages ("sales").
 */
static int takealot_order(struct rd *r, json_object *sales, size_t from, size_t to, const char *prefix,
			  struct fx_channel_order *o)
{
	bool any_open = false;
	enum fx_channel_order_state least = FX_CHANNEL_ORDER_CANCELLED;

	if (lines_alloc(r, to - from, o) < 0)
		return -1;
	o->customer_name = "";
	for (size_t i = from; i < to; i++) {
		json_object *s = json_object_array_get_idx(sales, i);
		struct fx_channel_line *l = &o->lines[o->nlines];
		const char *status = NULL, *date = NULL;
		int64_t price = 0, secs;
		int32_t ns;
		enum fx_channel_order_state st;

		if (i == from) {
			if (rd_id(r, jget(s, "order_id"), path_at(r, prefix, i, "order_id"), &o->external_id) < 0)
				return -1;
			if (!o->external_id)
				return rd_fail(r, path_at(r, prefix, i, "order_id"), "is missing");
			o->number = o->external_id;
		}
		if (rd_str(r, jget(s, "sale_status"), path_at(r, prefix, i, "sale_status"), &status) < 0 ||
		    rd_str(r, jget(s, "order_date"), path_at(r, prefix, i, "order_date"), &date) < 0)
			return -1;
		if (date && fx_ts_parse(date, &secs, &ns) == 0 && (!o->updated_at || strcmp(date, o->updated_at) > 0))
			o->updated_at = date;
		st = takealot_state(status);
		if (st == FX_CHANNEL_ORDER_CANCELLED)
			continue;
		any_open = true;
		if (state_rank(st) < state_rank(least))
			least = st;
		if (rd_id(r, jget(s, "order_item_id"), path_at(r, prefix, i, "order_item_id"), &l->external_line_id) <
			    0 ||
		    rd_id(r, jget(s, "offer_id"), path_at(r, prefix, i, "offer_id"), &l->listing_key) < 0 ||
		    rd_str(r, jget(s, "sku"), path_at(r, prefix, i, "sku"), &l->sku) < 0 ||
		    rd_str(r, jget(s, "product_title"), path_at(r, prefix, i, "product_title"), &l->title) < 0 ||
		    rd_int(r, jget(s, "quantity"), path_at(r, prefix, i, "quantity"), 1, 1000000, &l->quantity) < 0 ||
		    rd_int(r, jget(s, "selling_price"), path_at(r, prefix, i, "selling_price"), 0, INT64_MAX / 100,
			   &price) < 0)
			return -1;
		if (!l->external_line_id)
			return rd_fail(r, path_at(r, prefix, i, "order_item_id"), "is missing");
		if (!l->title)
			l->title = "";
		l->unit_price_cents = price * 100;
		o->subtotal_cents += l->unit_price_cents * l->quantity;
		o->nlines++;
	}
	o->state = any_open ? least : FX_CHANNEL_ORDER_CANCELLED;
	o->total_cents = o->subtotal_cents;
	return 0;
}

/* A Takealot webhook body: one sale, or {order_id, sales: [...]} with every item of the order. */
static int takealot_webhook_order(struct rd *r, json_object *j, struct fx_channel_order *o)
{
	json_object *sales = jget(j, "sales");
	json_object *one = NULL;
	int rc;

	if (sales) {
		if (!json_object_is_type(sales, json_type_array))
			return rd_fail(r, "sales", "is not an array");
		for (size_t i = 0; i < json_object_array_length(sales); i++) {
			const char *oid = NULL;
			if (rd_id(r, jget(json_object_array_get_idx(sales, i), "order_id"),
				  path_at(r, "sales", i, "order_id"), &oid) < 0)
				return -1;
			if (i > 0 && oid && o->external_id && strcmp(oid, o->external_id) != 0)
				return rd_fail(r, path_at(r, "sales", i, "order_id"), "names another order");
			if (!o->external_id)
				o->external_id = oid;
		}
		o->external_id = NULL;
		return takealot_order(r, sales, 0, json_object_array_length(sales), "sales", o);
	}
	one = json_object_new_array();
	json_object_array_add(one, json_object_get(j));
	rc = takealot_order(r, one, 0, 1, "sale", o);
	json_object_put(one);
	return rc;
}

/* ---- webhooks ------------------------------------------------------------------- */

/* Shopify topics whose body is the Order object; orders/edited, orders/delete and the rest are not. */
static const char *const shopify_order_topics[] = {"orders/create",
						   "orders/updated",
						   "orders/cancelled",
						   "orders/fulfilled",
						   "orders/paid",
						   "orders/partially_fulfilled",
						   NULL};

/* WooCommerce's block checkout keeps an unpaid "checkout-draft" order: no sale yet. */
static bool woo_is_draft(json_object *j)
{
	json_object *st = jget(j, "status");

	return json_object_is_type(st, json_type_string) && strcmp(json_object_get_string(st), "checkout-draft") == 0;
}

static bool is_woo_ping(const char *body, size_t len)
{
	static const char key[] = "webhook_id=";
	size_t k = sizeof key - 1;

	if (len <= k || len > k + 20 || memcmp(body, key, k) != 0)
		return false;
	for (size_t i = k; i < len; i++)
		if (body[i] < '0' || body[i] > '9')
			return false;
	return true;
}

int fx_channel_read_webhook(const struct fx_channel *ch, fx_channel_header_fn header, void *hctx, const char *body,
			    size_t len, struct fx_arena *arena, struct fx_channel_delivery *out, struct fx_err *e)
{
	const char *sig_h, *id_h, *topic_h, *sig, *id, *topic;
	bool hex = false;
	json_object *j = NULL;
	struct rd r = {.arena = arena, .e = e, .code = FX_INVALID_ARGUMENT};
	int rc = -1;

	memset(out, 0, sizeof *out);
	switch (ch->type) {
	case FX_CHANNEL_SHOPIFY:
		sig_h = "X-Shopify-Hmac-Sha256";
		id_h = "X-Shopify-Webhook-Id";
		topic_h = "X-Shopify-Topic";
		break;
	case FX_CHANNEL_WOOCOMMERCE:
		sig_h = "X-WC-Webhook-Signature";
		id_h = "X-WC-Webhook-Delivery-ID";
		topic_h = "X-WC-Webhook-Topic";
		break;
	case FX_CHANNEL_TAKEALOT:
		sig_h = "X-Takealot-Signature";
		id_h = "X-Takealot-Delivery";
		topic_h = "X-Takealot-Event";
		hex = true;
		break;
	default: return fx_err_set(e, FX_INTERNAL, "unknown channel type");
	}
	sig = header(hctx, sig_h);
	if (ch->type == FX_CHANNEL_WOOCOMMERCE && (!sig || !*sig) && is_woo_ping(body, len)) {
		/* WooCommerce's creation ping is unsigned and carries nothing to act on. */
		out->event = FX_CHANNEL_EVENT_PING;
		out->topic = "ping";
		return 0;
	}
	if (!ch->webhook_secret || !*ch->webhook_secret)
		return fx_err_set(e, FX_UNAUTHENTICATED, "this channel has no webhook secret");
	if (!sig || !*sig)
		return fx_err_set(e, FX_UNAUTHENTICATED, "missing %s", sig_h);
	if (!fx_sig_verify(ch->webhook_secret, strlen(ch->webhook_secret), body, len, hex ? FX_SIG_HEX : FX_SIG_BASE64,
			   sig))
		return fx_err_set(e, FX_UNAUTHENTICATED, "wrong %s", sig_h);

	/* Verified: from here on the body is the channel's. */
	if (ch->type == FX_CHANNEL_WOOCOMMERCE && is_woo_ping(body, len)) {
		out->event = FX_CHANNEL_EVENT_PING;
		out->topic = "ping";
		return 0;
	}
	id = header(hctx, id_h);
	topic = header(hctx, topic_h);
	if (!id || !*id || strlen(id) > 200)
		return fx_err_invalid(e, id_h, "%s is missing or too long", id_h);
	out->delivery_id = fx_arena_strdup(arena, id);
	out->topic = fx_arena_strdup(arena, topic ? topic : "");
	if (!out->delivery_id || !out->topic)
		return fx_err_set(e, FX_RESOURCE_EXHAUSTED, "channel delivery is too large");

	switch (ch->type) {
	case FX_CHANNEL_SHOPIFY:
		out->event = fx_json_enum_index(out->topic, shopify_order_topics) >= 0 ? FX_CHANNEL_EVENT_ORDER
										       : FX_CHANNEL_EVENT_IGNORED;
		break;
	case FX_CHANNEL_WOOCOMMERCE:
		out->event = strcmp(out->topic, "order.created") == 0 || strcmp(out->topic, "order.updated") == 0 ||
					     strcmp(out->topic, "order.restored") == 0
				     ? FX_CHANNEL_EVENT_ORDER
				     : FX_CHANNEL_EVENT_IGNORED;
		break;
	case FX_CHANNEL_TAKEALOT:
		out->event = FX_CHANNEL_EVENT_IGNORED; /* decided from the body below */
		break;
	}
	if (out->event == FX_CHANNEL_EVENT_IGNORED && ch->type != FX_CHANNEL_TAKEALOT)
		return 0;
	if (fx_json_parse_object(body, len, &j, e) < 0)
		return -1;
	switch (ch->type) {
	case FX_CHANNEL_SHOPIFY: rc = shopify_order(&r, j, &out->order); break;
	case FX_CHANNEL_WOOCOMMERCE:
		if (woo_is_draft(j)) {
			out->event = FX_CHANNEL_EVENT_IGNORED;
			rc = 0;
			break;
		}
		rc = woo_order(&r, j, &out->order);
		break;
	case FX_CHANNEL_TAKEALOT:
		/* Sale events carry an order id; offer and other events are not orders. */
		if (!jget(j, "order_id") && !jget(j, "sales")) {
			rc = 0;
			break;
		}
		out->event = FX_CHANNEL_EVENT_ORDER;
		rc = takealot_webhook_order(&r, j, &out->order);
		break;
	}
	json_object_put(j);
	return rc;
}

/* ---- calls ------------------------------------------------------------------------- */

static const char *base(const struct fx_channel *ch, struct fx_arena *a)
{
	size_t n = ch->base_url ? strlen(ch->base_url) : 0;

	while (n > 0 && ch->base_url[n - 1] == '/')
		n--;
	return fx_arena_strndup(a, ch->base_url ? ch->base_url : "", n);
}

static int auth_headers(const struct fx_channel *ch, struct fx_arena *a, struct fx_channel_call *c, bool json,
			struct fx_err *e)
{
	size_t k = 0;

	memset(c->headers, 0, sizeof c->headers);
	c->headers[k++] = "Accept: application/json";
	if (json)
		c->headers[k++] = "Content-Type: application/json";
	switch (ch->type) {
	case FX_CHANNEL_SHOPIFY:
		c->headers[k] =
			fx_arena_printf(a, "X-Shopify-Access-Token: %s", ch->access_token ? ch->access_token : "");
		break;
	case FX_CHANNEL_WOOCOMMERCE: {
		struct fx_buf b;
		fx_buf_init(&b, 4096);
		if (fx_buf_puts(&b, "Authorization: Basic ") < 0) {
			fx_buf_cleanup(&b);
			return fx_err_set(e, FX_INVALID_ARGUMENT, "credentials are too long");
		}
		{
			char *pair = fx_arena_printf(a, "%s:%s", ch->consumer_key ? ch->consumer_key : "",
						     ch->consumer_secret ? ch->consumer_secret : "");
			if (!pair || fx_b64_append(&b, pair, strlen(pair)) < 0) {
				fx_buf_cleanup(&b);
				return fx_err_set(e, FX_INVALID_ARGUMENT, "credentials are too long");
			}
		}
		c->headers[k] = fx_arena_strndup(a, b.data, b.len);
		fx_buf_cleanup(&b);
		break;
	}
	case FX_CHANNEL_TAKEALOT:
		c->headers[k] = fx_arena_printf(a, "Authorization: Key %s", ch->api_key ? ch->api_key : "");
		break;
	}
	if (!c->headers[k])
		return fx_err_set(e, FX_RESOURCE_EXHAUSTED, "channel call is too large");
	return 0;
}

/* The text of j in the arena as the call's body; j is put. */
static int set_body(struct fx_channel_call *c, struct fx_arena *a, json_object *j, struct fx_err *e)
{
	size_t n;
	const char *t = fx_json_text(j, &n);

	c->body = fx_arena_strndup(a, t, n);
	c->body_len = n;
	json_object_put(j);
	if (!c->body)
		return fx_err_set(e, FX_RESOURCE_EXHAUSTED, "channel call is too large");
	return 0;
}

static const char *shopify_inventory_gid(struct fx_arena *a, const char *ext)
{
	int64_t v;

	if (strncmp(ext, "gid://shopify/InventoryItem/", 28) == 0)
		return fx_num_parse(ext + 28, 1, INT64_MAX, &v, NULL) == 0 ? ext : NULL;
	if (fx_num_parse(ext, 1, INT64_MAX, &v, NULL) < 0)
		return NULL;
	return fx_arena_printf(a, "gid://shopify/InventoryItem/%lld", (long long)v);
}

/* "812" (pid 812, vid 0) or "812:815". */
static int woo_ids(const char *ext, int64_t *pid, int64_t *vid)
{
	const char *colon = strchr(ext, ':');
	char head[24];

	*vid = 0;
	if (!colon)
		return fx_num_parse(ext, 1, INT64_MAX, pid, NULL);
	if (fx_str_copy(head, sizeof head, ext, (size_t)(colon - ext)) < 0)
		return -1;
	if (fx_num_parse(head, 1, INT64_MAX, pid, NULL) < 0)
		return -1;
	return fx_num_parse(colon + 1, 1, INT64_MAX, vid, NULL);
}

/* The mutation with a fresh idempotency key (a UUID from getrandom) in the arena; NULL on failure. */
static const char *shopify_set_mutation(struct fx_arena *a)
{
	unsigned char r[16];
	char h[33];

	if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r || fx_str_hex(h, sizeof h, r, sizeof r) < 0)
		return NULL;
	return fx_arena_printf(
		a,
		"mutation inventorySet($input: InventorySetQuantitiesInput!) { inventorySetQuantities("
		"input: $input) @idempotent(key: \"%.8s-%.4s-%.4s-%.4s-%.12s\") { inventoryAdjustmentGroup "
		"{ id } userErrors { code field message } } }",
		h, h + 8, h + 12, h + 16, h + 20);
}

int fx_channel_push_calls(const struct fx_channel *ch, const struct fx_channel_push_item *items, size_t n,
			  struct fx_arena *arena, struct fx_channel_call **calls, size_t *ncalls, struct fx_err *e)
{
	const char *b = base(ch, arena);
	struct fx_channel_call *cs;
	size_t nc = 0;

	*calls = NULL;
	*ncalls = 0;
	if (n == 0)
		return 0;
	if (n > fx_channel_batch_max(ch->type))
		return fx_err_set(e, FX_INVALID_ARGUMENT, "%zu items are more than one %s call takes", n,
				  fx_channel_type_name(ch->type));
	cs = fx_arena_alloc(arena, n * sizeof *cs); /* at most one call per item */
	if (!b || !cs)
		return fx_err_set(e, FX_RESOURCE_EXHAUSTED, "channel call is too large");
	memset(cs, 0, n * sizeof *cs);

	if (ch->type == FX_CHANNEL_SHOPIFY) {
		json_object *root = json_object_new_object(), *vars = json_object_new_object();
		json_object *input = json_object_new_object(), *qs = json_object_new_array();
		const char *mutation;

		if (!ch->location_id || !*ch->location_id) {
			json_object_put(root);
			json_object_put(vars);
			json_object_put(input);
			json_object_put(qs);
			return fx_err_invalid(e, "settings.locationId", "settings.locationId is missing");
		}
		cs[0].items = fx_arena_alloc(arena, n * sizeof(size_t));
		if (!cs[0].items) {
			json_object_put(root);
			json_object_put(vars);
			json_object_put(input);
			json_object_put(qs);
			return fx_err_set(e, FX_RESOURCE_EXHAUSTED, "channel call is too large");
		}
		for (size_t i = 0; i < n; i++) {
			const char *gid =
				items[i].external_id ? shopify_inventory_gid(arena, items[i].external_id) : NULL;
			json_object *q;
			if (!gid) {
				json_object_put(root);
				json_object_put(vars);
				json_object_put(input);
				json_object_put(qs);
				return fx_err_invalid(e, "externalId",
						      "externalId %s is not a Shopify inventory item id",
						      items[i].external_id ? items[i].external_id : "(none)");
			}
			q = json_object_new_object();
			json_object_object_add(q, "inventoryItemId", json_object_new_string(gid));
			json_object_object_add(q, "locationId", json_object_new_string(ch->location_id));
			json_object_object_add(q, "quantity", json_object_new_int64(items[i].quantity));
			/* null: no compare-and-swap for this one (the key must be there either way). */
			json_object_object_add(q, "changeFromQuantity",
					       items[i].compare_quantity >= 0
						       ? json_object_new_int64(items[i].compare_quantity)
						       : NULL);
			json_object_array_add(qs, q);
			cs[0].items[i] = i;
		}
		cs[0].nitems = n;
		json_object_object_add(input, "name", json_object_new_string("available"));
		json_object_object_add(input, "reason", json_object_new_string("correction"));
		json_object_object_add(input, "quantities", qs);
		json_object_object_add(vars, "input", input);
		mutation = shopify_set_mutation(arena);
		if (!mutation) {
			json_object_put(root);
			json_object_put(vars);
			return fx_err_set(e, FX_INTERNAL, "no random idempotency key");
		}
		json_object_object_add(root, "query", json_object_new_string(mutation));
		json_object_object_add(root, "variables", vars);
		cs[0].method = "POST";
		cs[0].url = fx_arena_printf(arena, "%s/admin/api/%s/graphql.json", b, SHOPIFY_API_VERSION);
		if (!cs[0].url || auth_headers(ch, arena, &cs[0], true, e) < 0) {
			json_object_put(root);
			return cs[0].url ? -1 : fx_err_set(e, FX_RESOURCE_EXHAUSTED, "channel call is too large");
		}
		if (set_body(&cs[0], arena, root, e) < 0)
			return -1;
		nc = 1;
	} else if (ch->type == FX_CHANNEL_WOOCOMMERCE) {
		int64_t *pid = fx_arena_alloc(arena, n * sizeof *pid), *vid = fx_arena_alloc(arena, n * sizeof *vid);
		bool *done = fx_arena_alloc(arena, n * sizeof *done);

		if (!pid || !vid || !done)
			return fx_err_set(e, FX_RESOURCE_EXHAUSTED, "channel call is too large");
		for (size_t i = 0; i < n; i++) {
			done[i] = false;
			if (!items[i].external_id || woo_ids(items[i].external_id, &pid[i], &vid[i]) < 0)
				return fx_err_invalid(
					e, "externalId",
					"externalId %s is not a WooCommerce product id or \"product:variation\"",
					items[i].external_id ? items[i].external_id : "(none)");
		}
		/* One call for the plain products, then one per parent of variations, in the items' order. */
		for (size_t i = 0; i < n; i++) {
			struct fx_channel_call *c;
			json_object *root, *upd;
			if (done[i])
				continue;
			c = &cs[nc++];
			c->items = fx_arena_alloc(arena, n * sizeof(size_t));
			if (!c->items)
				return fx_err_set(e, FX_RESOURCE_EXHAUSTED, "channel call is too large");
			root = json_object_new_object();
			upd = json_object_new_array();
			for (size_t k = i; k < n; k++) {
				json_object *u;
				if (done[k] || (vid[i] == 0) != (vid[k] == 0) || (vid[i] != 0 && pid[k] != pid[i]))
					continue;
				done[k] = true;
				u = json_object_new_object();
				json_object_object_add(u, "id", json_object_new_int64(vid[k] ? vid[k] : pid[k]));
				json_object_object_add(u, "manage_stock", json_object_new_boolean(1));
				json_object_object_add(u, "stock_quantity", json_object_new_int64(items[k].quantity));
				json_object_array_add(upd, u);
				c->items[c->nitems++] = k;
			}
			json_object_object_add(root, "update", upd);
			c->method = "POST";
			c->url = vid[i] ? fx_arena_printf(arena, "%s/wp-json/wc/v3/products/%lld/variations/batch", b,
							  (long long)pid[i])
					: fx_arena_printf(arena, "%s/wp-json/wc/v3/products/batch", b);
			if (!c->url || auth_headers(ch, arena, c, true, e) < 0) {
				json_object_put(root);
				return c->url ? -1 : fx_err_set(e, FX_RESOURCE_EXHAUSTED, "channel call is too large");
			}
			if (set_body(c, arena, root, e) < 0)
				return -1;
		}
	} else {
		json_object *root = json_object_new_object(), *reqs = json_object_new_array();
		int64_t wh = 0;
		bool has_wh = ch->warehouse_id && *ch->warehouse_id;

		if (has_wh && fx_num_parse(ch->warehouse_id, 0, INT64_MAX, &wh, NULL) < 0) {
			json_object_put(root);
			json_object_put(reqs);
			return fx_err_invalid(e, "settings.merchantWarehouseId",
					      "settings.merchantWarehouseId is not a number");
		}
		cs[0].items = fx_arena_alloc(arena, n * sizeof(size_t));
		if (!cs[0].items) {
			json_object_put(root);
			json_object_put(reqs);
			return fx_err_set(e, FX_RESOURCE_EXHAUSTED, "channel call is too large");
		}
		for (size_t i = 0; i < n; i++) {
			int64_t offer;
			json_object *rq, *ls, *st;
			if (!items[i].external_id ||
			    fx_num_parse(items[i].external_id, 1, INT64_MAX, &offer, NULL) < 0) {
				json_object_put(root);
				json_object_put(reqs);
				return fx_err_invalid(e, "externalId", "externalId %s is not a Takealot offer id",
						      items[i].external_id ? items[i].external_id : "(none)");
			}
			rq = json_object_new_object();
			ls = json_object_new_array();
			st = json_object_new_object();
			json_object_object_add(rq, "offer_id", json_object_new_int64(offer));
			if (has_wh)
				json_object_object_add(st, "merchant_warehouse_id", json_object_new_int64(wh));
			json_object_object_add(st, "quantity", json_object_new_int64(items[i].quantity));
			json_object_array_add(ls, st);
			json_object_object_add(rq, "leadtime_stock", ls);
			json_object_array_add(reqs, rq);
			cs[0].items[i] = i;
		}
		cs[0].nitems = n;
		json_object_object_add(root, "requests", reqs);
		cs[0].method = "POST";
		cs[0].url = fx_arena_printf(arena, "%s/v2/offers/batch", b);
		if (!cs[0].url || auth_headers(ch, arena, &cs[0], true, e) < 0) {
			json_object_put(root);
			return cs[0].url ? -1 : fx_err_set(e, FX_RESOURCE_EXHAUSTED, "channel call is too large");
		}
		if (set_body(&cs[0], arena, root, e) < 0)
			return -1;
		nc = 1;
	}
	*calls = cs;
	*ncalls = nc;
	return 0;
}

/* ---- limits ------------------------------------------------------------------------ */

static void msg_set(char *dst, size_t size, const char *s)
{
	fx_str_text(dst, size, "%s", s ? s : "");
}

/* The channel's own error text in an answer body, or NULL. */
static const char *body_message(enum fx_channel_type t, json_object *j)
{
	json_object *errs = jget(j, "errors"), *m;

	if (t == FX_CHANNEL_SHOPIFY && errs) {
		if (json_object_is_type(errs, json_type_string))
			return json_object_get_string(errs);
		if (json_object_is_type(errs, json_type_array) && json_object_array_length(errs) > 0) {
			m = jget(json_object_array_get_idx(errs, 0), "message");
			if (json_object_is_type(m, json_type_string))
				return json_object_get_string(m);
		}
	}
	m = jget(j, "message");
	if (json_object_is_type(m, json_type_string))
		return json_object_get_string(m);
	m = jget(j, "error");
	if (json_object_is_type(m, json_type_string))
		return json_object_get_string(m);
	return NULL;
}

static bool shopify_throttled(json_object *j)
{
	json_object *errs = jget(j, "errors");

	if (!json_object_is_type(errs, json_type_array))
		return false;
	for (size_t i = 0; i < json_object_array_length(errs); i++) {
		json_object *c = jpath(json_object_array_get_idx(errs, i), "extensions", "code", NULL);
		if (json_object_is_type(c, json_type_string) && strcmp(json_object_get_string(c), "THROTTLED") == 0)
			return true;
	}
	return false;
}

static double jnum(json_object *v)
{
	if (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int))
		return json_object_get_double(v);
	return -1;
}

static json_object *parse_body(const struct fx_httpc_resp *resp)
{
	json_object *j = NULL;
	struct fx_err e;

	if (!resp->body.data || resp->body.len == 0 || fx_json_parse(resp->body.data, resp->body.len, 64, &j, &e) < 0)
		return NULL;
	return j;
}

/* Retry-After as milliseconds from now: delta seconds or an HTTP date; 0 when absent or unreadable. */
static int64_t retry_after_ms(const struct fx_httpc_resp *resp, int64_t now_secs)
{
	char v[64];
	int64_t s;
	struct tm tm;
	const char *end;

	if (!fx_httpc_header(resp, "Retry-After", v, sizeof v))
		return 0;
	if (fx_num_parse(v, 0, 86400 * 7, &s, NULL) == 0)
		return s * 1000;
	memset(&tm, 0, sizeof tm);
	end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (!end || *end)
		return 0;
	s = (int64_t)timegm(&tm) - now_secs;
	return s > 0 ? s * 1000 : 1000;
}

static void limits_from(const struct fx_channel *ch, const struct fx_httpc_resp *resp, json_object *j, int64_t now_secs,
			struct fx_channel_limits *l)
{
	const char *m = j ? body_message(ch->type, j) : NULL;
	char v[64];
	int64_t rem, reset;

	memset(l, 0, sizeof *l);
	if (resp->status == 401 || resp->status == 403)
		l->auth_refused = true;
	l->retry_after_ms = retry_after_ms(resp, now_secs);
	if (ch->type == FX_CHANNEL_TAKEALOT && fx_httpc_header(resp, "x-RateLimit-Remaining", v, sizeof v) &&
	    fx_num_parse(v, 0, INT64_MAX, &rem, NULL) == 0 && rem == 0 &&
	    fx_httpc_header(resp, "x-RateLimit-Reset", v, sizeof v) &&
	    fx_num_parse(v, 0, INT64_MAX, &reset, NULL) == 0) {
		/* Seconds to wait, or the epoch second the window opens again. */
		int64_t ms = (reset > 1000000000 ? reset - now_secs : reset) * 1000;
		if (ms > l->retry_after_ms)
			l->retry_after_ms = ms;
	}
	if (ch->type == FX_CHANNEL_SHOPIFY && j && shopify_throttled(j)) {
		json_object *cost = jpath(j, "extensions", "cost", NULL);
		double want = jnum(jget(cost, "requestedQueryCost"));
		double have = jnum(jpath(cost, "throttleStatus", "currentlyAvailable", NULL));
		double rate = jnum(jpath(cost, "throttleStatus", "restoreRate", NULL));
		int64_t ms = 1000;
		if (want > 0 && have >= 0 && rate > 0 && want > have)
			ms = (int64_t)((want - have) / rate * 1000.0) + 1;
		if (ms > l->retry_after_ms)
			l->retry_after_ms = ms;
	}
	if (resp->status == 429 && l->retry_after_ms <= 0)
		l->retry_after_ms = 1000;
	if (m)
		msg_set(l->message, sizeof l->message, m);
	else if (resp->status >= 400)
		fx_str_text(l->message, sizeof l->message, "HTTP %ld", resp->status);
}

void fx_channel_limits_read(const struct fx_channel *ch, const struct fx_httpc_resp *resp, int64_t now_secs,
			    struct fx_channel_limits *limits)
{
	json_object *j = parse_body(resp);

	limits_from(ch, resp, j, now_secs, limits);
	json_object_put(j);
}

/* -1 with e for an answer that failed as a whole (limits already filled); 0 otherwise. */
static int call_failed(const struct fx_channel *ch, const struct fx_httpc_resp *resp, json_object *j,
		       const struct fx_channel_limits *l, struct fx_err *e)
{
	const char *name = fx_channel_type_name(ch->type);

	if (l->auth_refused)
		return fx_err_set(e, FX_UNAUTHENTICATED, "%s refused the credentials: %s", name, l->message);
	if (resp->status == 429 || (ch->type == FX_CHANNEL_SHOPIFY && j && shopify_throttled(j))) {
		e->retry_after = (int)((l->retry_after_ms + 999) / 1000);
		return fx_err_set(e, FX_RESOURCE_EXHAUSTED, "%s is rate limiting: %s", name, l->message);
	}
	if (resp->status >= 500)
		return fx_err_set(e, FX_UNAVAILABLE, "%s answered %ld: %s", name, resp->status, l->message);
	if (resp->status < 200 || resp->status >= 300)
		return fx_err_set(e, FX_BAD_GATEWAY, "%s answered %ld: %s", name, resp->status, l->message);
	if (!j)
		return fx_err_set(e, FX_BAD_GATEWAY, "%s answered with a body that is not JSON", name);
	return 0;
}

/* ---- push answers ------------------------------------------------------------------ */

static void item_fail(struct fx_channel_push_item *it, const char *msg)
{
	it->ok = false;
	msg_set(it->error, sizeof it->error, msg);
}

/* The index in a userError's field path ["input", "quantities", "3", ...], or -1. */
static int64_t user_error_index(json_object *field)
{
	int64_t v;

	if (!json_object_is_type(field, json_type_array) || json_object_array_length(field) < 3)
		return -1;
	if (fx_json_get_int64(json_object_array_get_idx(field, 2), 0, INT64_MAX, &v))
		return v;
	return -1;
}

static int shopify_push_answer(const struct fx_channel_call *call, json_object *j, struct fx_channel_push_item *items,
			       struct fx_err *e)
{
	json_object *payload = jpath(j, "data", "inventorySetQuantities", NULL);
	json_object *ue = jget(payload, "userErrors");

	if (!payload) {
		const char *m = body_message(FX_CHANNEL_SHOPIFY, j);
		return fx_err_set(e, FX_BAD_GATEWAY, "shopify answered without inventorySetQuantities: %s",
				  m ? m : "no message");
	}
	for (size_t k = 0; k < call->nitems; k++) {
		items[call->items[k]].ok = true;
		items[call->items[k]].error[0] = '\0';
	}
	if (!json_object_is_type(ue, json_type_array))
		return 0;
	for (size_t i = 0; i < json_object_array_length(ue); i++) {
		json_object *u = json_object_array_get_idx(ue, i);
		json_object *m = jget(u, "message"), *c = jget(u, "code");
		int64_t idx = user_error_index(jget(u, "field"));
		char msg[256];
		const char *code = json_object_is_type(c, json_type_string) ? json_object_get_string(c) : NULL;

		fx_str_text(msg, sizeof msg, "%s%s%s", code ? code : "", code ? ": " : "",
			    json_object_is_type(m, json_type_string) ? json_object_get_string(m) : "error");
		if (idx >= 0 && (size_t)idx < call->nitems) {
			struct fx_channel_push_item *it = &items[call->items[idx]];
			item_fail(it, msg);
			if (code && (strcmp(code, "CHANGE_FROM_QUANTITY_STALE") == 0 ||
				     strcmp(code, "COMPARE_QUANTITY_STALE") == 0))
				it->stale = true;
		} else {
			/* An error about the whole input fails every item of the call. */
			for (size_t k = 0; k < call->nitems; k++)
				item_fail(&items[call->items[k]], msg);
		}
	}
	return 0;
}

static int woo_push_answer(const struct fx_channel_call *call, json_object *j, struct fx_channel_push_item *items,
			   struct fx_err *e)
{
	json_object *upd = jget(j, "update");

	if (!json_object_is_type(upd, json_type_array))
		return fx_err_set(e, FX_BAD_GATEWAY, "woocommerce answered a batch without \"update\"");
	for (size_t k = 0; k < call->nitems; k++) {
		struct fx_channel_push_item *it = &items[call->items[k]];
		json_object *u = k < json_object_array_length(upd) ? json_object_array_get_idx(upd, k) : NULL;
		json_object *err = jget(u, "error");
		json_object *m = jget(err, "message");

		if (!u) {
			item_fail(it, "woocommerce answered no result for this item");
		} else if (err) {
			item_fail(it, json_object_is_type(m, json_type_string) ? json_object_get_string(m) : "error");
		} else {
			it->ok = true;
			it->error[0] = '\0';
		}
	}
	return 0;
}

static int takealot_push_answer(const struct fx_channel_call *call, json_object *j, struct fx_channel_push_item *items,
				struct fx_err *e)
{
	json_object *res = jget(j, "results");
	json_object *st = jget(j, "status");
	const char *status = json_object_is_type(st, json_type_string) ? json_object_get_string(st) : "";

	(void)e;
	for (size_t k = 0; k < call->nitems; k++) {
		struct fx_channel_push_item *it = &items[call->items[k]];
		int64_t want = 0;
		bool found = false;
		if (fx_num_parse(it->external_id, 1, INT64_MAX, &want, NULL) < 0)
			want = -1;
		for (size_t i = 0; json_object_is_type(res, json_type_array) && i < json_object_array_length(res);
		     i++) {
			json_object *r = json_object_array_get_idx(res, i), *rs, *m;
			int64_t oid;
			if (!fx_json_get_int64(jget(r, "offer_id"), 1, INT64_MAX, &oid) || oid != want)
				continue;
			found = true;
			rs = jget(r, "status");
			m = jget(r, "message");
			if (json_object_is_type(rs, json_type_string) &&
			    strcmp(json_object_get_string(rs), "success") == 0) {
				it->ok = true;
				it->error[0] = '\0';
			} else {
				item_fail(it, json_object_is_type(m, json_type_string) ? json_object_get_string(m)
										       : "failed");
			}
			break;
		}
		if (!found) {
			char msg[256];
			fx_str_text(msg, sizeof msg, "takealot batch %s without a result for this offer",
				    *status ? status : "answered");
			item_fail(it, msg);
		}
	}
	return 0;
}

int fx_channel_push_answer(const struct fx_channel *ch, const struct fx_channel_call *call,
			   const struct fx_httpc_resp *resp, struct fx_channel_push_item *items,
			   struct fx_channel_limits *limits, struct fx_err *e)
{
	int64_t now;
	int32_t ns;
	json_object *j = parse_body(resp);
	int rc;

	fx_ts_now(&now, &ns);
	limits_from(ch, resp, j, now, limits);
	rc = call_failed(ch, resp, j, limits, e);
	if (rc == 0) {
		switch (ch->type) {
		case FX_CHANNEL_SHOPIFY: rc = shopify_push_answer(call, j, items, e); break;
		case FX_CHANNEL_WOOCOMMERCE: rc = woo_push_answer(call, j, items, e); break;
		case FX_CHANNEL_TAKEALOT: rc = takealot_push_answer(call, j, items, e); break;
		}
	}
	json_object_put(j);
	return rc;
}

/* ---- poll ---------------------------------------------------------------------------- */

/* The cursor: "v1|<since>|<page token>|<latest updated_at seen>", the last two possibly empty. */
struct cursor {
	char since[40];
	char page[512];
	char seen[40];
};

static int cursor_read(const char *s, int64_t now_secs, struct cursor *c, struct fx_err *e)
{
	const char *p1, *p2, *p3;
	int64_t secs;
	int32_t ns;

	memset(c, 0, sizeof *c);
	if (!s) {
		fx_ts_format(now_secs - 86400, 0, 0, c->since);
		return 0;
	}
	if (strncmp(s, "v1|", 3) != 0 || !(p1 = strchr(s + 3, '|')) || !(p2 = strchr(p1 + 1, '|')) ||
	    strchr(p2 + 1, '|'))
		return fx_err_set(e, FX_INVALID_ARGUMENT, "order cursor is not one this server wrote");
	p3 = p2 + 1;
	if (fx_str_copy(c->since, sizeof c->since, s + 3, (size_t)(p1 - s - 3)) < 0 ||
	    fx_str_copy(c->page, sizeof c->page, p1 + 1, (size_t)(p2 - p1 - 1)) < 0 ||
	    fx_str_set(c->seen, sizeof c->seen, p3) < 0 || fx_ts_parse(c->since, &secs, &ns) < 0 ||
	    (c->seen[0] && fx_ts_parse(c->seen, &secs, &ns) < 0))
		return fx_err_set(e, FX_INVALID_ARGUMENT, "order cursor is not one this server wrote");
	return 0;
}

/*
 * A channel's page cursor goes into ours between '|'s and is stored as the channel's
 * orderCursor: one with a '|' (or empty, or not printable) would be a cursor no later poll
 * reads, and the channel would stay stuck on it. Shopify's are base64.
 */
static bool page_cursor_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s == '|' || (unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

static const char *const shopify_orders_query =
	"query orders($q: String!, $after: String) { orders(first: " SHOPIFY_POLL_ORDERS
	", after: $after, query: $q, sortKey: UPDATED_AT) "
	"{ pageInfo { hasNextPage endCursor } nodes { id name updatedAt cancelledAt displayFinancialStatus "
	"displayFulfillmentStatus email phone customer { firstName lastName } shippingAddress { name address1 "
	"address2 city province zip countryCodeV2 } subtotalPriceSet { shopMoney { amount } } totalShippingPriceSet "
	"{ shopMoney { amount } } totalPriceSet { shopMoney { amount } } lineItems(first: " SHOPIFY_POLL_LINES
	") { pageInfo { hasNextPage } nodes { id sku title "
	"quantity currentQuantity originalUnitPriceSet { shopMoney { amount } } variant { id inventoryItem { id } } } "
	"} } } }";

static int url_add(struct fx_buf *b, const char *s)
{
	return fx_httpc_url_encode(b, s, strlen(s));
}

int fx_channel_poll_call(const struct fx_channel *ch, const char *cursor, int64_t now_secs, struct fx_arena *arena,
			 struct fx_channel_call *call, struct fx_err *e)
{
	struct cursor c;
	const char *b = base(ch, arena);
	struct fx_buf u;
	int64_t page = 1;

	memset(call, 0, sizeof *call);
	if (!b)
		return fx_err_set(e, FX_RESOURCE_EXHAUSTED, "channel call is too large");
	if (cursor_read(cursor, now_secs, &c, e) < 0)
		return -1;
	if (ch->type == FX_CHANNEL_SHOPIFY) {
		json_object *root = json_object_new_object(), *vars = json_object_new_object();
		char q[96];
		fx_str_text(q, sizeof q, "updated_at:>='%s'", c.since);
		json_object_object_add(vars, "q", json_object_new_string(q));
		json_object_object_add(vars, "after", c.page[0] ? json_object_new_string(c.page) : NULL);
		json_object_object_add(root, "query", json_object_new_string(shopify_orders_query));
		json_object_object_add(root, "variables", vars);
		call->method = "POST";
		call->url = fx_arena_printf(arena, "%s/admin/api/%s/graphql.json", b, SHOPIFY_API_VERSION);
		if (!call->url || auth_headers(ch, arena, call, true, e) < 0) {
			json_object_put(root);
			return call->url ? -1 : fx_err_set(e, FX_RESOURCE_EXHAUSTED, "channel call is too large");
		}
		return set_body(call, arena, root, e);
	}
	if (c.page[0] && fx_num_parse(c.page, 1, 100000, &page, NULL) < 0)
		return fx_err_set(e, FX_INVALID_ARGUMENT, "order cursor is not one this server wrote");
	fx_buf_init(&u, 8192);
	if (ch->type == FX_CHANNEL_WOOCOMMERCE) {
		if (fx_buf_printf(&u, "%s/wp-json/wc/v3/orders?modified_after=", b) < 0 || url_add(&u, c.since) < 0 ||
		    fx_buf_printf(&u, "&dates_are_gmt=true&orderby=modified&order=asc&per_page=%d&page=%lld", POLL_PAGE,
				  (long long)page) < 0)
			goto toolong;
	} else {
		int64_t secs;
		int32_t ns;
		char from[40], to[40];
		if (fx_ts_parse(c.since, &secs, &ns) < 0)
			secs = now_secs;
		/* Takealot filters sales by order date, not by change: look back a week for status changes. */
		fx_ts_format(secs - TAKEALOT_LOOKBACK_DAYS * 86400, 0, 0, from);
		fx_ts_format(now_secs, 0, 0, to);
		from[10] = '\0';
		to[10] = '\0';
		if (fx_buf_printf(&u, "%s/v2/sales?filters=start_date:%s;end_date:%s&page_number=%lld&page_size=%d", b,
				  from, to, (long long)page, TAKEALOT_PAGE) < 0)
			goto toolong;
	}
	call->method = "GET";
	call->url = fx_arena_strndup(arena, u.data, u.len);
	fx_buf_cleanup(&u);
	if (!call->url)
		return fx_err_set(e, FX_RESOURCE_EXHAUSTED, "channel call is too large");
	return auth_headers(ch, arena, call, false, e);
toolong:
	fx_buf_cleanup(&u);
	return fx_err_set(e, FX_INVALID_ARGUMENT, "channel URL is too long");
}

/* Keeps in seen the later of seen and t (both RFC 3339). */
static void seen_max(char seen[40], const char *t)
{
	int64_t a, b;
	int32_t an, bn;

	if (!t || fx_ts_parse(t, &b, &bn) < 0)
		return;
	if (seen[0] && fx_ts_parse(seen, &a, &an) == 0 && (a > b || (a == b && an >= bn)))
		return;
	fx_ts_format(b, bn, -1, seen);
}

int fx_channel_poll_answer(const struct fx_channel *ch, const char *cursor, int64_t now_secs,
			   const struct fx_httpc_resp *resp, struct fx_arena *arena, fx_channel_order_fn each,
			   void *ctx, const char **next_cursor, bool *more, struct fx_channel_limits *limits,
			   struct fx_err *e)
{
	struct cursor c;
	json_object *j = parse_body(resp), *list = NULL;
	struct rd r = {.arena = arena, .e = e, .code = FX_BAD_GATEWAY};
	char next_page[512] = "";
	int rc = -1;

	*more = false;
	*next_cursor = NULL;
	if (cursor_read(cursor, now_secs, &c, e) < 0)
		goto out;
	limits_from(ch, resp, j, now_secs, limits);
	if (call_failed(ch, resp, j, limits, e) < 0)
		goto out;
	if (ch->type == FX_CHANNEL_SHOPIFY) {
		json_object *orders = jpath(j, "data", "orders", NULL);
		json_object *hn = jpath(orders, "pageInfo", "hasNextPage", NULL);
		json_object *ec = jpath(orders, "pageInfo", "endCursor", NULL);
		list = jget(orders, "nodes");
		if (!orders || !json_object_is_type(list, json_type_array)) {
			const char *m = body_message(ch->type, j);
			fx_err_set(e, FX_BAD_GATEWAY, "shopify answered without orders: %s", m ? m : "no message");
			goto out;
		}
		*more = json_object_is_type(hn, json_type_boolean) && json_object_get_boolean(hn) &&
			json_object_is_type(ec, json_type_string);
		if (*more && (fx_str_set(next_page, sizeof next_page, json_object_get_string(ec)) < 0 ||
			      !page_cursor_ok(next_page))) {
			fx_err_set(e, FX_BAD_GATEWAY,
				   "shopify answered a page cursor that is empty, too long or "
				   "not printable ASCII without '|'");
			goto out;
		}
	} else if (ch->type == FX_CHANNEL_WOOCOMMERCE) {
		char v[32];
		int64_t page = 1, pages = 0;
		list = j;
		if (!json_object_is_type(list, json_type_array)) {
			fx_err_set(e, FX_BAD_GATEWAY, "woocommerce answered orders that are not a list");
			goto out;
		}
		if (c.page[0])
			fx_err_ignore(fx_num_parse(c.page, 1, 100000, &page, NULL)); /* checked by the call */
		if (fx_httpc_header(resp, "X-WP-TotalPages", v, sizeof v) &&
		    fx_num_parse(v, 0, 1000000, &pages, NULL) == 0)
			*more = page < pages;
		else
			*more = json_object_array_length(list) == POLL_PAGE;
		if (*more)
			fx_str_text(next_page, sizeof next_page, "%lld", (long long)(page + 1));
	} else {
		json_object *ps = jget(j, "page_summary");
		int64_t page = 1, total = 0, size = TAKEALOT_PAGE;
		list = jget(j, "sales");
		if (!json_object_is_type(list, json_type_array)) {
			fx_err_set(e, FX_BAD_GATEWAY, "takealot answered without sales");
			goto out;
		}
		if (c.page[0])
			fx_err_ignore(fx_num_parse(c.page, 1, 100000, &page, NULL)); /* checked by the call */
		if (fx_json_get_int64(jget(ps, "total"), 0, INT64_MAX, &total) &&
		    fx_json_get_int64(jget(ps, "page_size"), 1, INT64_MAX, &size))
			*more = page * size < total;
		else
			*more = json_object_array_length(list) == TAKEALOT_PAGE;
		if (*more)
			fx_str_text(next_page, sizeof next_page, "%lld", (long long)(page + 1));
	}

	for (size_t i = 0, n = json_object_array_length(list); i < n;) {
		struct fx_channel_order o;
		size_t to = i + 1;
		memset(&o, 0, sizeof o);
		if (ch->type == FX_CHANNEL_SHOPIFY) {
			json_object *node = json_object_array_get_idx(list, i);
			json_object *hn = jpath(node, "lineItems", "pageInfo", "hasNextPage");
			if (json_object_is_type(hn, json_type_boolean) && json_object_get_boolean(hn)) {
				i = to; /* more lines than one page: read short, it would lose lines */
				continue;
			}
			if (shopify_gql_order(&r, node, &o) < 0)
				goto out;
		} else if (ch->type == FX_CHANNEL_WOOCOMMERCE) {
			if (woo_is_draft(json_object_array_get_idx(list, i))) {
				i = to;
				continue;
			}
			if (woo_order(&r, json_object_array_get_idx(list, i), &o) < 0)
				goto out;
		} else {
			/* Sales of one order are neighbours: group them. */
			const char *oid = NULL, *next = NULL;
			if (rd_id(&r, jget(json_object_array_get_idx(list, i), "order_id"), "sales.order_id", &oid) < 0)
				goto out;
			while (to < n) {
				if (rd_id(&r, jget(json_object_array_get_idx(list, to), "order_id"), "sales.order_id",
					  &next) < 0)
					goto out;
				if (!oid || !next || strcmp(oid, next) != 0)
					break;
				to++;
			}
			if (takealot_order(&r, list, i, to, "sales", &o) < 0)
				goto out;
		}
		if (ch->type != FX_CHANNEL_TAKEALOT)
			seen_max(c.seen, o.updated_at);
		if (each(ctx, &o, e) < 0)
			goto out;
		i = to;
	}
	if (*more) {
		*next_cursor = fx_arena_printf(arena, "v1|%s|%s|%s", c.since, next_page, c.seen);
	} else {
		char since[40];
		if (ch->type == FX_CHANNEL_TAKEALOT)
			fx_ts_format(now_secs, 0, 0, since);
		else
			fx_str_text(since, sizeof since, "%s", c.seen[0] ? c.seen : c.since);
		*next_cursor = fx_arena_printf(arena, "v1|%s||", since);
	}
	if (!*next_cursor) {
		fx_err_set(e, FX_RESOURCE_EXHAUSTED, "channel answer is too large");
		goto out;
	}
	rc = 0;
out:
	json_object_put(j);
	return rc;
}

/* ---- test --------------------------------------------------------------------------- */

int fx_channel_test_call(const struct fx_channel *ch, struct fx_arena *arena, struct fx_channel_call *call,
			 struct fx_err *e)
{
	const char *b = base(ch, arena);

	memset(call, 0, sizeof *call);
	if (!b)
		return fx_err_set(e, FX_RESOURCE_EXHAUSTED, "channel call is too large");
	switch (ch->type) {
	case FX_CHANNEL_SHOPIFY: {
		json_object *root = json_object_new_object();
		json_object_object_add(root, "query", json_object_new_string("{ shop { name } }"));
		call->method = "POST";
		call->url = fx_arena_printf(arena, "%s/admin/api/%s/graphql.json", b, SHOPIFY_API_VERSION);
		if (!call->url || auth_headers(ch, arena, call, true, e) < 0) {
			json_object_put(root);
			return call->url ? -1 : fx_err_set(e, FX_RESOURCE_EXHAUSTED, "channel call is too large");
		}
		return set_body(call, arena, root, e);
	}
	case FX_CHANNEL_WOOCOMMERCE:
		call->url = fx_arena_printf(arena, "%s/wp-json/wc/v3/system_status?_fields=environment", b);
		break;
	case FX_CHANNEL_TAKEALOT:
		call->url = fx_arena_printf(arena, "%s/v2/offers?page_number=1&page_size=1", b);
		break;
	}
	call->method = "GET";
	if (!call->url)
		return fx_err_set(e, FX_RESOURCE_EXHAUSTED, "channel call is too large");
	return auth_headers(ch, arena, call, false, e);
}

void fx_channel_test_answer(const struct fx_channel *ch, const struct fx_httpc_resp *resp, bool *ok, char *message,
			    size_t message_len)
{
	struct fx_channel_limits l;
	json_object *j = parse_body(resp);
	int64_t now;
	int32_t ns;

	fx_ts_now(&now, &ns);
	limits_from(ch, resp, j, now, &l);
	*ok = false;
	if (resp->status >= 200 && resp->status < 300 && j) {
		json_object *name = jpath(j, "data", "shop", "name");
		if (ch->type == FX_CHANNEL_SHOPIFY && !name) {
			msg_set(message, message_len, l.message[0] ? l.message : "shopify answered without the shop");
		} else {
			*ok = true;
			if (name && json_object_is_type(name, json_type_string))
				fx_str_text(message, message_len, "connected to %s", json_object_get_string(name));
			else
				fx_str_text(message, message_len, "connected");
		}
	} else if (resp->status >= 200 && resp->status < 300) {
		msg_set(message, message_len, "the channel answered with a body that is not JSON");
	} else {
		msg_set(message, message_len, l.message);
	}
	json_object_put(j);
}

/* ---- the network: calls through lib/egress --------------------------------------------- */

#define PUSH_TIMEOUT_MS 15000
/* WooCommerce answers a batch with each product whole (descriptions, images): 100 pass 1 MiB. */
#define PUSH_MAX_RESPONSE (16u << 20)
#define POLL_MAX_RESPONSE (8u << 20)

static int send_call(const struct fx_channel *ch, const struct fx_channel_call *c, size_t max_response,
		     struct fx_httpc_resp *resp, struct fx_err *e)
{
	struct fx_egress_req q = {
		.method = c->method,
		.url = c->url,
		.headers = c->headers,
		.body = c->body,
		.body_len = c->body_len,
		.timeout_ms = PUSH_TIMEOUT_MS,
		.max_response = max_response,
		.allow_private = ch->allow_private,
		.service = fx_channel_type_name(ch->type),
	};

	return fx_egress_do(&q, resp, e);
}

/* limits for a call that got no answer. */
static void limits_unanswered(struct fx_channel_limits *l, const struct fx_err *e)
{
	memset(l, 0, sizeof *l);
	msg_set(l->message, sizeof l->message, e->message);
}

int fx_channel_push(const struct fx_channel *ch, struct fx_channel_push_item *items, size_t n,
		    struct fx_channel_limits *limits, struct fx_err *e)
{
	struct fx_arena a;
	struct fx_channel_call *calls;
	size_t nc;
	int64_t wait = 0;
	int rc = -1;

	memset(limits, 0, sizeof *limits);
	for (size_t i = 0; i < n; i++) {
		items[i].ok = false;
		items[i].stale = false;
		items[i].error[0] = '\0';
	}
	fx_arena_init(&a, 16u << 20);
	if (fx_channel_push_calls(ch, items, n, &a, &calls, &nc, e) < 0)
		goto out;
	for (size_t k = 0; k < nc; k++) {
		struct fx_httpc_resp resp;
		int r;

		fx_httpc_resp_init(&resp);
		if (send_call(ch, &calls[k], PUSH_MAX_RESPONSE, &resp, e) < 0) {
			fx_httpc_resp_cleanup(&resp);
			limits_unanswered(limits, e);
			goto out;
		}
		r = fx_channel_push_answer(ch, &calls[k], &resp, items, limits, e);
		fx_httpc_resp_cleanup(&resp);
		if (limits->retry_after_ms > wait)
			wait = limits->retry_after_ms;
		limits->retry_after_ms = wait;
		if (r < 0)
			goto out;
	}
	rc = 0;
out:
	fx_arena_cleanup(&a);
	return rc;
}

int fx_channel_poll_orders(const struct fx_channel *ch, const char *cursor, struct fx_arena *arena,
			   fx_channel_order_fn each, void *ctx, const char **next_cursor, bool *more,
			   struct fx_channel_limits *limits, struct fx_err *e)
{
	struct fx_channel_call c;
	struct fx_httpc_resp resp;
	int64_t now;
	int32_t ns;
	int rc;

	*more = false;
	*next_cursor = NULL;
	memset(limits, 0, sizeof *limits);
	fx_ts_now(&now, &ns);
	if (fx_channel_poll_call(ch, cursor, now, arena, &c, e) < 0)
		return -1;
	fx_httpc_resp_init(&resp);
	if (send_call(ch, &c, POLL_MAX_RESPONSE, &resp, e) < 0) {
		fx_httpc_resp_cleanup(&resp);
		limits_unanswered(limits, e);
		return -1;
	}
	rc = fx_channel_poll_answer(ch, cursor, now, &resp, arena, each, ctx, next_cursor, more, limits, e);
	fx_httpc_resp_cleanup(&resp);
	return rc;
}

int fx_channel_test(const struct fx_channel *ch, bool *ok, char *message, size_t message_len, struct fx_err *e)
{
	struct fx_arena a;
	struct fx_channel_call c;
	struct fx_httpc_resp resp;
	struct fx_err ce;
	int rc = -1;

	*ok = false;
	fx_arena_init(&a, 1u << 20);
	if (fx_channel_test_call(ch, &a, &c, e) < 0)
		goto out;
	fx_err_clear(&ce);
	fx_httpc_resp_init(&resp);
	if (send_call(ch, &c, 0, &resp, &ce) < 0)
		msg_set(message, message_len, ce.message);
	else
		fx_channel_test_answer(ch, &resp, ok, message, message_len);
	fx_httpc_resp_cleanup(&resp);
	rc = 0;
out:
	fx_arena_cleanup(&a);
	return rc;
}
