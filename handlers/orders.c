/*
 * orders: create (prices from products, VAT, stock reserved in the same
 * transaction, gapless numbers), list, get, patch, and the lifecycle
 * custom methods with their stock effects. Documents below
 * organizations/{org}: orders/{id}, counters/orders {next}, and the
 * products and movements they change.
 *
 * Numbering: one counter document per organization makes numbers gapless,
 * so an organization's creates are serial by nature. Inside a worker they
 * queue on a per-organization lock (bounded wait, then 409 ABORTED with
 * Retry-After) instead of aborting each other in Firestore.
 */
#include "authz.h"
#include "defaults.h"
#include "firestore.h"
#include "fswrite.h"
#include "http.h"
#include "idempotency.h"
#include "json.h"
#include "keylock.h"
#include "log.h"
#include "map.h"
#include "model.h"
#include "order.h"
#include "orderio.h"
#include "patch.h"
#include "stock.h"
#include "str.h"
#include "tenant.h"
#include "ts.h"
#include "worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int create(struct fx_req *r, struct fx_err *e);
static int list(struct fx_req *r, struct fx_err *e);
static int get(struct fx_req *r, struct fx_err *e);
static int update(struct fx_req *r, struct fx_err *e);
static int confirm(struct fx_req *r, struct fx_err *e);
static int ship(struct fx_req *r, struct fx_err *e);
static int deliver(struct fx_req *r, struct fx_err *e);
static int cancel(struct fx_req *r, struct fx_err *e);
static int return_order(struct fx_req *r, struct fx_err *e);
static int allocate(struct fx_req *r, struct fx_err *e);

static const struct fx_route routes[] = {
	{"POST", "/v1/orders", create, FX_MEMBER, FX_ROLE_STAFF, FX_BODY_JSON, 0},
	{"GET", "/v1/orders", list, FX_MEMBER, FX_ROLE_VIEWER, 0, 0},
	{"GET", "/v1/orders/{id}", get, FX_MEMBER, FX_ROLE_VIEWER, 0, 0},
	{"PATCH", "/v1/orders/{id}", update, FX_MEMBER, FX_ROLE_STAFF, FX_BODY_JSON, 0},
	{"POST", "/v1/orders/{id}:confirm", confirm, FX_MEMBER, FX_ROLE_STAFF, FX_BODY_JSON, 0},
	{"POST", "/v1/orders/{id}:ship", ship, FX_MEMBER, FX_ROLE_STAFF, FX_BODY_JSON, 0},
	{"POST", "/v1/orders/{id}:deliver", deliver, FX_MEMBER, FX_ROLE_STAFF, FX_BODY_JSON, 0},
	{"POST", "/v1/orders/{id}:cancel", cancel, FX_MEMBER, FX_ROLE_STAFF, FX_BODY_JSON, 0},
	{"POST", "/v1/orders/{id}:return", return_order, FX_MEMBER, FX_ROLE_STAFF, FX_BODY_JSON, 0},
	{"POST", "/v1/orders/{id}:allocate", allocate, FX_MEMBER, FX_ROLE_STAFF, FX_BODY_JSON, 0},
};

#define MAX_ITEMS 100
#define MAX_QUANTITY 10000
#define MAX_SHIPPING_CENTS 100000000LL

static const char *const channels[] = {"direct", "takealot", "shopify", "woocommerce", "amazon", "other", NULL};
static const char *const hidden[] = {"organizationId", NULL};

struct create_ctx {
	struct fx_req *r;
	struct fx_order_line lines[MAX_ITEMS];
	size_t nlines;
	struct fx_order_totals totals;
	struct fx_value *order; /* validated input fields, completed in the transaction */
	int64_t shipping;
	int64_t vat_rate;
	struct fx_idem idem;
	char id[FX_ID_LEN + 1];
	json_object *answer;
	struct fx_value done; /* the order as the committing attempt wrote it */
	size_t order_write; /* its index in the commit's writes */
};

/* customer {name, email?, phone?} */
static int take_customer(json_object *in, struct fx_value *map, struct fx_err *e)
{
	static const char *const allowed[] = {"name", "email", "phone", NULL};
	struct fx_value *c;
	json_object *o;
	bool present;
	const char *phone;

	if (fx_json_object(in, "customer", "customer", true, &o, &present, e) < 0 ||
	    fx_json_allow(o, allowed, "customer.", e) < 0)
		return -1;
	c = fx_map_set(map, "customer");
	fx_value_map(c);
	if (fx_model_map_take_string(c, o, "name", "customer.name", true, 1, 200, e) < 0 ||
	    fx_model_map_take_string(c, o, "email", "customer.email", false, 3, 320, e) < 0)
		return -1;
	if (fx_value_path_str(c, "email") && !strchr(fx_value_path_str(c, "email"), '@'))
		return fx_err_invalid(e, "customer.email", "must be an email address");
	if (fx_json_string(o, "phone", "customer.phone", false, 3, 32, &phone, &present, e) < 0)
		return -1;
	if (present) {
		if (strspn(phone, "+0123456789 -()") != strlen(phone))
			return fx_err_invalid(e, "customer.phone", "may hold only digits, spaces and + - ( )");
		fx_map_set_str(c, "phone", phone);
	}
	return 0;
}

static int take_items(json_object *in, struct create_ctx *c, struct fx_err *e)
{
	static const char *const allowed[] = {"productId", "quantity", NULL};
	json_object *items;
	bool present;
	size_t n;

	if (fx_json_array(in, "items", "items", true, MAX_ITEMS, &items, &present, e) < 0)
		return -1;
	n = json_object_array_length(items);
	if (n == 0)
		return fx_err_invalid(e, "items", "must hold at least one line");
	for (size_t i = 0; i < n; i++) {
		json_object *it = json_object_array_get_idx(items, i);
		char prefix[32], field[64];
		long j;

		/* Field names in error details: text, as long as fits. */
		fx_str_text(prefix, sizeof(prefix), "items[%zu].", i);
		if (!json_object_is_type(it, json_type_object)) {
			fx_str_text(field, sizeof(field), "items[%zu]", i);
			return fx_err_invalid(e, field, "must be an object");
		}
		if (fx_json_allow(it, allowed, prefix, e) < 0)
			return -1;
		fx_str_text(field, sizeof(field), "items[%zu].productId", i);
		if (fx_json_string(it, "productId", field, true, 1, 128, &c->lines[i].product_id, &present, e) < 0)
			return -1;
		if (!fx_model_id_valid(c->lines[i].product_id))
			return fx_err_invalid(e, field, "no such product");
		/* Duplicate lines are refused, not merged: a client that sends one has a bug. */
		if ((j = fx_order_repeated_line(c->lines, i)) >= 0)
			return fx_err_invalid(e, field, "repeats the product of items[%ld]: one line per product", j);
		fx_str_text(field, sizeof(field), "items[%zu].quantity", i);
		if (fx_json_int64(it, "quantity", field, true, 1, MAX_QUANTITY, &c->lines[i].quantity, &present, e) < 0)
			return -1;
	}
	c->nlines = n;
	return 0;
}

/* Checks every line's product (ours, not archived, enough stock) and takes its price: 409 naming each short line. */
static int price_lines(struct create_ctx *c, const struct fx_doc *products, struct fx_err *e)
{
	bool short_items = false;

	for (size_t i = 0; i < c->nlines; i++) {
		const struct fx_doc *p = &products[i];
		const char *status = p->name ? fx_value_path_str(&p->fields, "status") : NULL;
		int64_t on_hand = fx_stock(p, "onHand"), reserved = fx_stock(p, "reserved");
		char field[64];

		fx_str_text(field, sizeof(field), "items[%zu].productId", i);
		if (!fx_tenant_owns(c->r, p))
			return fx_err_invalid(e, field, "no such product");
		if (status && strcmp(status, "archived") == 0) {
			fx_err_set(e, FX_FAILED_PRECONDITION, "product %s is archived", p->id);
			fx_err_detail(e, field, "archived products cannot be ordered");
			return -1;
		}
		if (!fx_order_line_available(on_hand, reserved, c->lines[i].quantity)) {
			fx_err_detail(e, field, "only %lld available, %lld ordered", (long long)(on_hand - reserved),
				      (long long)c->lines[i].quantity);
			short_items = true;
			continue;
		}
		c->lines[i].unit_price_cents = 0;
		fx_value_path_int(&p->fields, "priceCents", &c->lines[i].unit_price_cents);
	}
	if (short_items)
		return fx_err_set(e, FX_FAILED_PRECONDITION, "not enough stock for %d item(s)", e->ndetails);
	if (fx_order_price(c->lines, c->nlines, c->shipping, c->vat_rate, &c->totals) < 0)
		return fx_err_set(e, FX_INTERNAL, "the order's total does not fit 64 bits");
	return 0;
}

/* Reserves every line's quantity of its product, each write guarded by the version read. */
static int reserve(struct create_ctx *c, json_object *writes, const struct fx_doc *products, struct fx_err *e)
{
	for (size_t i = 0; i < c->nlines; i++) {
		const struct fx_doc *p = &products[i];
		struct fx_order_stock s;

		if (fx_order_stock_effect(FX_ORDER_RESERVE, fx_stock(p, "onHand"), fx_stock(p, "reserved"),
					  c->lines[i].quantity, &s) < 0)
			return fx_err_set(e, FX_INTERNAL, "the stock of product %s does not fit 64 bits", p->id);
		if (fx_stock_write(c->r, writes, p, s.on_hand, s.reserved, e) < 0)
			return -1;
	}
	return 0;
}

/* Completes order (the validated input) with its priced lines, totals, number, status and stamps. */
static void complete_order(struct create_ctx *c, const struct fx_doc *products, const char *number,
			   struct fx_value *order)
{
	struct fx_value *items = fx_map_set(order, "items"), *history;

	fx_value_array(items);
	for (size_t i = 0; i < c->nlines; i++) {
		const char *sku = fx_value_path_str(&products[i].fields, "sku");
		const char *name = fx_value_path_str(&products[i].fields, "name");
		struct fx_value *line = fx_value_push(items);

		fx_value_map(line);
		fx_map_set_str(line, "productId", products[i].id);
		fx_map_set_str(line, "sku", sku ? sku : "");
		fx_map_set_str(line, "name", name ? name : "");
		fx_map_set_int(line, "quantity", c->lines[i].quantity);
		fx_map_set_int(line, "unitPriceCents", c->lines[i].unit_price_cents);
		fx_map_set_int(line, "lineTotalCents", c->lines[i].line_total_cents);
	}
	fx_map_set_str(order, "number", number);
	fx_map_set_int(order, "subtotalCents", c->totals.subtotal_cents);
	fx_map_set_int(order, "shippingCents", c->totals.shipping_cents);
	fx_map_set_int(order, "vatCents", c->totals.vat_cents);
	fx_map_set_int(order, "vatRateBps", c->totals.vat_rate_bps);
	fx_map_set_int(order, "totalCents", c->totals.total_cents);
	fx_map_set_str(order, "currency", FX_DEFAULT_CURRENCY);
	fx_map_set_str(order, "status", "pending");
	history = fx_map_set(order, "statusHistory");
	fx_value_array(history);
	fx_orderio_history(history, "pending", c->r->principal->uid, NULL, NULL);
	fx_map_set_str(order, "createdBy", c->r->principal->uid);
	fx_tenant_stamp(c->r, order);
	fx_model_map_set_now(order, "createdAt");
	fx_model_map_set_now(order, "updatedAt");
}

/* Writes the new order under a new id and keeps its answer (without etag) for the idempotency record. */
static int write_order(struct create_ctx *c, json_object *writes, const struct fx_value *order, struct fx_err *e)
{
	struct fx_doc d = {0};
	char *name;
	int rc;

	fx_model_id_new(c->id);
	name = fx_tenant_name(fx_tenant_path(c->r, NULL, "orders", c->id, "order", e));
	c->order_write = json_object_array_length(writes);
	rc = fx_fswrite_create(writes, name, order, NULL, e);
	free(name);
	if (rc < 0 || fx_orderio_event_created(c->r, writes, c->id, order, e) < 0)
		return -1;
	d.id = c->id;
	d.fields = *order;
	c->answer = fx_model_doc_json(&d, hidden);
	json_object_object_del(c->answer, "etag");
	return 0;
}

/*
 * The fields create_txn reads of what it reads, one mask for the batchGet:
 * the counter's next (fx_orderio_take_number); of each product its owner,
 * status, stock, price, sku, name, listings and lowStock (price_lines,
 * reserve and fx_stock_write's outbox and webhook events, complete_order);
 * the idempotency record's fields (fx_idempotency_check). A product's
 * searchPrefixes, description, images and the rest are neither sent nor
 * parsed. A masked read locks and versions the whole document as an
 * unmasked one does (every write below carries the updateTime read), so
 * the transaction is exactly as safe.
 */
static const char *const create_read_mask[] = {"next",	      "organizationId", "status",   "stock",	"priceCents",
					       "sku",	      "name",		"listings", "lowStock", "expiresAt",
					       "requestHash", "response",	NULL};

/*
 * One attempt: reads the counter, the products and the idempotency record
 * together, then writes the reservations, the counter and the order.
 */
static int create_txn(struct fx_txn *t, void *arg, struct fx_err *e)
{
	struct create_ctx *c = arg;
	struct fx_req *r = c->r;
	const char *paths[MAX_ITEMS + 2], *root;
	struct fx_doc docs[MAX_ITEMS + 2];
	struct fx_value order = {0};
	size_t n = 0, idem_at = 0;
	char number[32];
	int rc = -1;

	memset(docs, 0, sizeof(docs));
	json_object_put(c->answer);
	c->answer = NULL;
	root = fx_tenant_root(r, e);
	if (!root || !(paths[n++] = fx_arena_printf(r->arena, "%s/counters/orders", root)))
		return fx_err_set(e, FX_INTERNAL, "out of request memory");
	for (size_t i = 0; i < c->nlines; i++)
		if (!(paths[n++] = fx_tenant_path(r, NULL, "products", c->lines[i].product_id, "product", e)))
			goto out;
	if (c->idem.rel) {
		idem_at = n;
		paths[n++] = c->idem.rel;
	}
	if (fx_firestore_txn_batch_get(t, paths, n, create_read_mask, docs, e) < 0)
		goto out;
	if (c->idem.rel && (rc = fx_idempotency_check(&c->idem, &docs[idem_at], e)) != 0) {
		rc = rc > 0 ? 0 : -1; /* a replay writes nothing */
		goto out;
	}
	rc = -1;
	fx_value_copy(&order, c->order);
	if (price_lines(c, docs + 1, e) < 0 || reserve(c, t->writes, docs + 1, e) < 0 ||
	    fx_orderio_take_number(r, t->writes, paths[0], &docs[0], number, sizeof(number), e) < 0)
		goto out;
	complete_order(c, docs + 1, number, &order);
	if (write_order(c, t->writes, &order, e) < 0 ||
	    fx_idempotency_store(r, &c->idem, t->writes, 201, c->answer, e) < 0)
		goto out;
	/* What the answer shows if this attempt commits: the fields exactly as written. */
	fx_value_cleanup(&c->done);
	c->done = order;
	memset(&order, 0, sizeof(order));
	rc = 0;
out:
	for (size_t i = 0; i < n; i++)
		fx_firestore_doc_cleanup(&docs[i]);
	fx_value_cleanup(&order);
	return rc;
}

/* Reads the order's input fields from in into order and c (lines, shipping); in must outlive c. */
static int decode_create(json_object *in, struct create_ctx *c, struct fx_value *order, struct fx_err *e)
{
	static const char *const allowed[] = {"channel", "externalId",	  "customer", "shippingAddress",
					      "items",	 "shippingCents", "notes",    NULL};
	const char *channel = "direct";
	json_object *addr;
	bool present;

	if (fx_json_allow(in, allowed, "", e) < 0 ||
	    fx_json_string(in, "channel", "channel", false, 1, 16, &channel, &present, e) < 0)
		return -1;
	if (fx_json_enum_index(channel, channels) < 0)
		return fx_err_invalid(e, "channel", "must be direct, takealot, shopify, woocommerce, amazon or other");
	fx_map_set_str(order, "channel", channel);
	if (fx_model_map_take_string(order, in, "externalId", "externalId", false, 1, 100, e) < 0 ||
	    take_customer(in, order, e) < 0 ||
	    fx_json_object(in, "shippingAddress", "shippingAddress", true, &addr, &present, e) < 0 ||
	    fx_model_address_decode(addr, "shippingAddress", fx_map_set(order, "shippingAddress"), e) < 0 ||
	    take_items(in, c, e) < 0 ||
	    fx_json_int64(in, "shippingCents", "shippingCents", false, 0, MAX_SHIPPING_CENTS, &c->shipping, &present,
			  e) < 0 ||
	    fx_model_map_take_string(order, in, "notes", "notes", false, 0, 2000, e) < 0)
		return -1;
	return 0;
}

static int create(struct fx_req *r, struct fx_err *e)
{
	struct create_ctx *c = fx_arena_alloc(r->arena, sizeof(*c));
	struct fx_value order = {0};
	static const char *const org_mask[] = {"vatRateBps", NULL};
	struct fx_doc org = {0}, doc = {0};
	struct fx_txn_result res = {0};
	json_object *in = NULL;
	const char *root;
	char location[128];
	int rc = -1;

	if (!c)
		return fx_err_set(e, FX_INTERNAL, "out of request memory");
	memset(c, 0, sizeof(*c));
	c->r = r;
	fx_value_map(&order);
	if (fx_http_req_json(r, false, &in, e) < 0 || decode_create(in, c, &order, e) < 0 ||
	    fx_idempotency_init(r, "orders.create", NULL, &c->idem, e) < 0)
		goto out;
	c->vat_rate = FX_DEFAULT_VAT_RATE_BPS;
	if (!(root = fx_tenant_root(r, e)) || fx_firestore_get_mask(root, org_mask, &org, e) < 0)
		goto out;
	fx_value_path_int(&org.fields, "vatRateBps", &c->vat_rate);
	c->order = &order;
	/*
	 * Begun first, not in the read: a read whose answer is lost would leave
	 * a transaction that nobody can roll back holding the counter's lock
	 * (fx_firestore_run_transaction_ex), and the organization's orders
	 * waiting on it for a minute.
	 */
	if (fx_orderio_queued_ex(r, create_txn, c, "orders", &res, e) < 0)
		goto out;
	if (c->idem.status) {
		/* A replay answers the order the key made, as it is now (with its etag). */
		const char *id = json_object_get_string(json_object_object_get(c->idem.answer, "id"));

		if (!id || fx_str_set(c->id, sizeof(c->id), id) < 0) {
			fx_err_set(e, FX_INTERNAL, "the stored answer of this Idempotency-Key has no order id");
			goto out;
		}
		if (fx_tenant_get(r, fx_tenant_path(r, NULL, "orders", c->id, "order", e), "order", &doc, e) < 0)
			goto out;
	} else {
		/*
		 * The new order as stored, without reading it back: the fields the
		 * commit wrote (timestamps already cut to what Firestore keeps) and
		 * the commit's updateTime of the order's write, the etag a GET shows.
		 */
		if (c->order_write >= res.n ||
		    fx_str_set(doc.update_time, sizeof(doc.update_time), res.update_times[c->order_write]) < 0) {
			fx_err_set(e, FX_INTERNAL, "the commit did not answer the order's write");
			goto out;
		}
		doc.id = c->id;
		doc.fields = c->done;
		memset(&c->done, 0, sizeof(c->done));
		FX_ARRAY_COPY(doc.create_time, doc.update_time);
	}
	if (fx_str_fmt(location, sizeof(location), "/v1/orders/%s", c->id) < 0) {
		fx_err_set(e, FX_INTERNAL, "order id over %zu bytes", sizeof(location));
		goto out;
	}
	fx_http_resp_header(r, "Location", location);
	rc = fx_model_resp_doc(r, 201, &doc, hidden);
out:
	json_object_put(in);
	json_object_put(c->answer);
	fx_value_cleanup(&c->done);
	fx_firestore_txn_result_cleanup(&res);
	fx_idempotency_cleanup(&c->idem);
	fx_value_cleanup(&order);
	fx_firestore_doc_cleanup(&org);
	fx_firestore_doc_cleanup(&doc);
	return rc;
}

static int get(struct fx_req *r, struct fx_err *e)
{
	return fx_tenant_answer(r, "orders", "order", hidden, e);
}

/* ?status= ?channel= ?from= ?to= (RFC 3339; from inclusive, to exclusive), newest first. */
static int list(struct fx_req *r, struct fx_err *e)
{
	static const char *const params[] = {"pageSize", "pageToken", "status", "channel", "from", "to", NULL};
	const char *status = fx_http_req_query(r, "status"), *channel = fx_http_req_query(r, "channel");
	const char *from = fx_http_req_query(r, "from"), *to = fx_http_req_query(r, "to"), *parent_rel;
	const char *cursor[] = {"createdAt", NULL};
	struct fx_query *q;
	struct fx_value v = {0};
	int64_t fs = 0, ts = 0;
	int32_t fn = 0, tn = 0;
	char sig[400];
	int size, rc = -1;

	if (fx_http_req_query_allow(r, params, e) < 0 || fx_model_page_size(r, &size, e) < 0)
		return -1;
	if (status && fx_json_enum_index(status, fx_order_statuses) < 0)
		return fx_err_invalid(e, "status",
				      "must be one of pending, confirmed, shipped, delivered, cancelled, "
				      "returned");
	if (channel && fx_json_enum_index(channel, channels) < 0)
		return fx_err_invalid(e, "channel", "must be direct, takealot, shopify, woocommerce, amazon or other");
	if (from && fx_ts_parse(from, &fs, &fn) < 0)
		return fx_err_invalid(e, "from", "must be an RFC 3339 time such as 2026-11-01T00:00:00Z");
	if (to && fx_ts_parse(to, &ts, &tn) < 0)
		return fx_err_invalid(e, "to", "must be an RFC 3339 time such as 2026-12-01T00:00:00Z");
	if (from && to && (ts < fs || (ts == fs && tn <= fn)))
		return fx_err_invalid(e, "to", "must be after from");
	if (fx_str_fmt(sig, sizeof(sig), "orders|%s|%s|%s|%s", status ? status : "", channel ? channel : "",
		       from ? from : "", to ? to : "") < 0)
		return fx_err_set(e, FX_INTERNAL, "list signature over %zu bytes", sizeof(sig));
	q = fx_tenant_query(r, NULL, "orders", &parent_rel, e);
	if (!q)
		return -1;
	if ((status && fx_fsquery_where_str(q, "status", "==", status, e) < 0) ||
	    (channel && fx_fsquery_where_str(q, "channel", "==", channel, e) < 0))
		goto out;
	fx_value_ts(&v, fs, fn);
	if (from && fx_fsquery_where(q, "createdAt", ">=", &v, e) < 0)
		goto out;
	fx_value_ts(&v, ts, tn);
	if (to && fx_fsquery_where(q, "createdAt", "<", &v, e) < 0)
		goto out;
	rc = fx_model_list_ordered(r, parent_rel, q, "createdAt", true, size, sig, cursor, hidden, e);
out:
	fx_fsquery_free(q);
	return rc;
}

static int update(struct fx_req *r, struct fx_err *e)
{
	static const char *const allowed[] = {"notes", "customer", "shippingAddress", NULL};
	const char *rel = fx_tenant_path(r, NULL, "orders", fx_http_req_param(r, "id"), "order", e), *if_match;
	const char *mask[8];
	struct fx_value map = {0};
	struct fx_doc doc = {0};
	json_object *in = NULL, *addr, *writes;
	size_t nmask = 0;
	bool present;
	char *name, update_time[40];
	int rc = -1;

	if (!rel || fx_model_if_match(r, &if_match, e) < 0)
		return -1;
	if (fx_http_req_json(r, false, &in, e) < 0 || fx_json_allow(in, allowed, "", e) < 0)
		goto out;
	fx_value_map(&map);
	if (fx_model_map_take_string(&map, in, "notes", "notes", false, 0, 2000, e) < 0)
		goto out;
	if (fx_map_get(&map, "notes"))
		mask[nmask++] = "notes";
	if (json_object_object_get_ex(in, "customer", &addr) && addr) {
		if (take_customer(in, &map, e) < 0)
			goto out;
		mask[nmask++] = "customer";
	}
	if (fx_json_object(in, "shippingAddress", "shippingAddress", false, &addr, &present, e) < 0)
		goto out;
	if (present) {
		if (fx_model_address_decode(addr, "shippingAddress", fx_map_set(&map, "shippingAddress"), e) < 0)
			goto out;
		mask[nmask++] = "shippingAddress";
	}
	if (fx_tenant_get(r, rel, "order", &doc, e) < 0 || fx_patch_if_match(if_match, &doc, "order", e) < 0)
		goto out;
	if (present && !fx_order_address_may_change(fx_value_path_str(&doc.fields, "status"))) {
		fx_err_set(e, FX_FAILED_PRECONDITION, "the address of a %s order cannot change",
			   fx_value_path_str(&doc.fields, "status"));
		goto out;
	}
	fx_model_map_set_now(&map, "updatedAt");
	mask[nmask++] = "updatedAt";
	mask[nmask] = NULL;
	/* The read's version guards the write (a concurrent ship cannot slip in between) and its event. */
	writes = json_object_new_array();
	name = fx_tenant_name(rel);
	rc = fx_fswrite_update(writes, name, &map, mask, doc.update_time, NULL, e);
	free(name);
	if (rc == 0)
		rc = fx_orderio_event_updated(r, writes, &doc, NULL, mask, e);
	if (rc == 0)
		rc = fx_patch_commit_at(writes, FX_PATCH_READ, "order", 0, update_time, e);
	json_object_put(writes);
	if (rc < 0)
		goto out;
	/* The order as stored now, without reading it again: what was read, what was written, the commit's version. */
	rc = -1;
	if (fx_model_doc_updated(&doc, &map, mask, update_time, e) < 0)
		goto out;
	rc = fx_model_resp_doc(r, 200, &doc, hidden);
out:
	json_object_put(in);
	fx_value_cleanup(&map);
	fx_firestore_doc_cleanup(&doc);
	return rc;
}

struct lifecycle_ctx {
	struct fx_req *r;
	const struct fx_order_transition *tr;
	const char *rel;
	const char *if_match;
	struct fx_value extra; /* fields the method sets besides status (FX_V_MAP) */
	const char *note_key; /* extra field also recorded in the history entry */
	const char *note;
	bool restock;
	struct fx_doc after; /* the order as the committing attempt leaves it */
	size_t order_write; /* its write's index in the commit */
};

static int lifecycle_txn(struct fx_txn *t, void *arg, struct fx_err *e)
{
	struct lifecycle_ctx *c = arg;
	const struct fx_order_transition *tr = c->tr;
	const char *const steps[] = {tr->to, NULL};
	struct fx_doc doc = {0};
	const char *status;
	int rc = -1;

	if (fx_tenant_txn_get(c->r, t->id, c->rel, "order", c->if_match, &doc, e) < 0)
		return -1;
	status = fx_value_path_str(&doc.fields, "status");
	if (!fx_order_may(tr, status)) {
		fx_err_set(e, FX_FAILED_PRECONDITION, "cannot %s an order that is %s", tr->verb,
			   status ? status : "unknown");
		fx_err_detail(e, "status", "%s allows %s%s%s", tr->verb, tr->from[0], tr->from[1] ? ", " : "",
			      tr->from[1] ? tr->from[1] : "");
		goto out;
	}
	/* An oversold order ships only once every line holds its units (:allocate). */
	if (tr->effect == FX_ORDER_SHIP_STOCK && fx_order_check_covered(&doc, e) < 0)
		goto out;
	if (fx_orderio_apply_stock(c->r, t, &doc, fx_order_effect(tr, c->restock), e) < 0)
		goto out;
	c->order_write = json_object_array_length(t->writes);
	rc = fx_orderio_write_status(c->r, t->writes, c->rel, &doc, steps, &c->extra, c->note_key, c->note, &c->after,
				     e);
	/* A cancelled oversold order lacks nothing any more: its oversold insights are resolved. */
	if (rc == 0 && strcmp(tr->to, "cancelled") == 0 && fx_order_short(fx_value_path(&doc.fields, "items")))
		rc = fx_orderio_resolve_oversold(c->r, t, &doc, e);
out:
	fx_firestore_doc_cleanup(&doc);
	return rc;
}

static int run_lifecycle(struct fx_req *r, struct lifecycle_ctx *c, struct fx_err *e)
{
	struct fx_txn_result res = {0};
	int rc = -1;

	c->r = r;
	c->rel = fx_tenant_path(r, NULL, "orders", fx_http_req_param(r, "id"), "order", e);
	if (!c->rel || fx_model_if_match(r, &c->if_match, e) < 0)
		return -1;
	/* Stock effects touch the products that creates reserve: same queue. */
	if (fx_orderio_queued_ex(r, lifecycle_txn, c, "order changes", &res, e) < 0)
		goto out;
	/* The order as stored now, without reading it again: read and written in the transaction, at the commit's version. */
	if (c->order_write >= res.n ||
	    fx_str_set(c->after.update_time, sizeof(c->after.update_time), res.update_times[c->order_write]) < 0) {
		fx_err_set(e, FX_INTERNAL, "the commit did not answer the order's write");
		goto out;
	}
	rc = fx_model_resp_doc(r, 200, &c->after, hidden);
out:
	fx_firestore_txn_result_cleanup(&res);
	fx_firestore_doc_cleanup(&c->after);
	return rc;
}

/* Parses the method's body against allowed; empty bodies are {}. */
static int method_body(struct fx_req *r, const char *const *allowed, json_object **in, struct fx_err *e)
{
	return fx_http_req_json(r, true, in, e) < 0 || fx_json_allow(*in, allowed, "", e) < 0 ? -1 : 0;
}

static int simple_method(struct fx_req *r, const char *verb, struct fx_err *e)
{
	static const char *const none[] = {NULL};
	struct lifecycle_ctx c = {.tr = fx_order_transition(verb)};
	json_object *in = NULL;
	int rc = -1;

	fx_value_map(&c.extra);
	if (method_body(r, none, &in, e) == 0)
		rc = run_lifecycle(r, &c, e);
	json_object_put(in);
	fx_value_cleanup(&c.extra);
	return rc;
}

static int confirm(struct fx_req *r, struct fx_err *e)
{
	return simple_method(r, "confirm", e);
}

static int deliver(struct fx_req *r, struct fx_err *e)
{
	return simple_method(r, "deliver", e);
}

static int ship(struct fx_req *r, struct fx_err *e)
{
	static const char *const allowed[] = {"carrier", "trackingNumber", NULL};
	struct lifecycle_ctx c = {.tr = fx_order_transition("ship")};
	struct fx_value *shipment;
	json_object *in = NULL;
	int rc = -1;

	fx_value_map(&c.extra);
	shipment = fx_map_set(&c.extra, "shipment");
	fx_value_map(shipment);
	if (method_body(r, allowed, &in, e) == 0 &&
	    fx_model_map_take_string(shipment, in, "carrier", "carrier", false, 1, 100, e) == 0 &&
	    fx_model_map_take_string(shipment, in, "trackingNumber", "trackingNumber", false, 1, 100, e) == 0)
		rc = run_lifecycle(r, &c, e);
	json_object_put(in);
	fx_value_cleanup(&c.extra);
	return rc;
}

static int cancel(struct fx_req *r, struct fx_err *e)
{
	static const char *const allowed[] = {"reason", NULL};
	struct lifecycle_ctx c = {.tr = fx_order_transition("cancel")};
	json_object *in = NULL;
	bool present;
	int rc = -1;

	fx_value_map(&c.extra);
	if (method_body(r, allowed, &in, e) == 0 &&
	    fx_json_string(in, "reason", "reason", true, 1, 500, &c.note, &present, e) == 0) {
		fx_map_set_str(&c.extra, "cancelReason", c.note);
		c.note_key = "reason";
		rc = run_lifecycle(r, &c, e);
	}
	json_object_put(in);
	fx_value_cleanup(&c.extra);
	return rc;
}

static int return_order(struct fx_req *r, struct fx_err *e)
{
	static const char *const allowed[] = {"restock", NULL};
	struct lifecycle_ctx c = {.tr = fx_order_transition("return")};
	json_object *in = NULL;
	bool present;
	int rc = -1;

	fx_value_map(&c.extra);
	if (method_body(r, allowed, &in, e) == 0 &&
	    fx_json_bool(in, "restock", "restock", true, &c.restock, &present, e) == 0) {
		fx_map_set_bool(&c.extra, "restocked", c.restock);
		rc = run_lifecycle(r, &c, e);
	}
	json_object_put(in);
	fx_value_cleanup(&c.extra);
	return rc;
}

struct allocate_ctx {
	struct fx_req *r;
	const char *rel;
	const char *if_match;
	int64_t taken;
	struct fx_doc after; /* the order as the committing attempt leaves it */
	size_t order_write; /* its write's index in the commit, when taken > 0 */
};

static int allocate_txn(struct fx_txn *t, void *arg, struct fx_err *e)
{
	struct allocate_ctx *c = arg;
	struct fx_doc doc = {0};
	const char *status;
	int rc = -1;

	if (fx_tenant_txn_get(c->r, t->id, c->rel, "order", c->if_match, &doc, e) < 0)
		return -1;
	status = fx_value_path_str(&doc.fields, "status");
	/* Only orders that hold reservations can take more. */
	if (fx_json_enum_index(status ? status : "", fx_order_reserving) < 0) {
		fx_err_set(e, FX_FAILED_PRECONDITION, "cannot allocate an order that is %s",
			   status ? status : "unknown");
		fx_err_detail(e, "status", "allocate allows pending, confirmed");
		goto out;
	}
	rc = fx_orderio_allocate(c->r, t, c->rel, &doc, &c->taken, &c->after, &c->order_write, e);
out:
	fx_firestore_doc_cleanup(&doc);
	return rc;
}

/*
 * :allocate reserves, for the lines an oversold order lacks, what is now
 * available (after stock was received), in one transaction; oversold
 * clears when no line lacks units. Nothing to take answers the order as it is.
 */
static int allocate(struct fx_req *r, struct fx_err *e)
{
	static const char *const none[] = {NULL};
	struct allocate_ctx c = {.r = r};
	struct fx_txn_result res = {0};
	json_object *in = NULL;
	int rc = -1;

	c.rel = fx_tenant_path(r, NULL, "orders", fx_http_req_param(r, "id"), "order", e);
	if (!c.rel || fx_model_if_match(r, &c.if_match, e) < 0 || method_body(r, none, &in, e) < 0)
		goto out;
	if (fx_orderio_queued_ex(r, allocate_txn, &c, "order changes", &res, e) < 0)
		goto out;
	/* As read and written in the transaction, at the commit's version (nothing taken: as read). */
	if (c.taken > 0 && (c.order_write >= res.n || fx_str_set(c.after.update_time, sizeof(c.after.update_time),
								 res.update_times[c.order_write]) < 0)) {
		fx_err_set(e, FX_INTERNAL, "the commit did not answer the order's write");
		goto out;
	}
	rc = fx_model_resp_doc(r, 200, &c.after, hidden);
out:
	json_object_put(in);
	fx_firestore_txn_result_cleanup(&res);
	fx_firestore_doc_cleanup(&c.after);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct fx_app app = {"orders", routes, sizeof(routes) / sizeof(routes[0]), NULL};

	return fx_worker_main(&app, argc, argv);
}
