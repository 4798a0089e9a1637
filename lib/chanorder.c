#include "chanorder.h"

#include "arena.h"
#include "authz.h"
#include "defaults.h"
#include "firestore.h"
#include "fsquery.h"
#include "fswrite.h"
#include "http.h"
#include "insights.h"
#include "log.h"
#include "map.h"
#include "mem.h"
#include "order.h"
#include "orderio.h"
#include "stock.h"
#include "str.h"
#include "tenant.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_LIMIT (8u * 1024 * 1024)
#define TWIN_RETRIES 3 /* a create that met its concurrent twin retries and updates */
#define MAX_TEXT 200
#define MAX_MONEY 100000000000000LL /* R1 000 000 000 000: beyond it a channel's amount is not an order */

const char *fx_chanorder_outcome_name(enum fx_chanorder_outcome o)
{
	switch (o) {
	case FX_CHANORDER_CREATED: return "created";
	case FX_CHANORDER_UPDATED: return "updated";
	case FX_CHANORDER_UNCHANGED: return "unchanged";
	case FX_CHANORDER_DUPLICATE: return "duplicate";
	}
	return "unknown";
}

static void hex_of(const unsigned char *md, size_t digits, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < digits; i++)
		out[i] = hex[(md[i / 2] >> (i % 2 ? 0 : 4)) & 0xf];
	out[digits] = '\0';
}

void fx_chanorder_id(const char *channel_id, const char *external_id, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(c, channel_id, strlen(channel_id)) != 1 || EVP_DigestUpdate(c, "\n", 1) != 1 ||
	    EVP_DigestUpdate(c, external_id, strlen(external_id)) != 1 || EVP_DigestFinal_ex(c, md, &n) != 1 ||
	    n != SHA256_DIGEST_LENGTH)
		abort(); /* OpenSSL fails here only for want of memory, which aborts (lib/mem) */
	EVP_MD_CTX_free(c);
	out[0] = 'c';
	hex_of(md, FX_CHANORDER_ID_LEN - 1, out + 1);
}

void fx_chanorder_delivery_key(const char *delivery_id, char *out)
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *)delivery_id, strlen(delivery_id), md);
	hex_of(md, 40, out);
}

/* The organization as lib/tenant sees a request of it, acting as the channel. */
struct apply {
	struct fx_arena arena;
	struct fx_principal principal;
	struct fx_req req;
	const struct fx_channel *ch;
	const struct fx_channel_order *o;
	const char *order_rel, *marker_rel, *channel_rel;
	const char *topic; /* the delivery's topic, for its marker */
	const char *pids[FX_CHANORDER_MAX_LINES]; /* per line: the product a listing or the SKU names, or NULL */
	int64_t vat_rate;
	struct fx_chanorder_result *out;
};

static int validate(const struct fx_channel_order *o, struct fx_err *e)
{
	if (!o->external_id || !o->external_id[0] || strlen(o->external_id) > 100)
		return fx_err_invalid(e, "externalId", "the channel's order id must be 1 to 100 characters");
	/* A channel may leave a cancelled order's cancelled lines out (Takealot): it may have none. */
	if ((o->nlines == 0 || !o->lines) && o->state != FX_CHANNEL_ORDER_CANCELLED)
		return fx_err_invalid(e, "lines", "the channel's order has no line");
	if (o->nlines > FX_CHANORDER_MAX_LINES)
		return fx_err_invalid(e, "lines", "the channel's order has %zu lines: at most %d", o->nlines,
				      FX_CHANORDER_MAX_LINES);
	for (size_t i = 0; i < o->nlines; i++) {
		const struct fx_channel_line *l = &o->lines[i];

		if (l->quantity < 1 || l->quantity > FX_CHANORDER_MAX_QUANTITY)
			return fx_err_invalid(e, "lines", "line %zu has quantity %lld: 1 to %d", i,
					      (long long)l->quantity, FX_CHANORDER_MAX_QUANTITY);
		if (l->unit_price_cents < 0 || l->unit_price_cents > MAX_MONEY)
			return fx_err_invalid(e, "lines", "line %zu has a price out of range", i);
	}
	if (o->subtotal_cents < 0 || o->shipping_cents < 0 || o->total_cents < 0 || o->subtotal_cents > MAX_MONEY ||
	    o->shipping_cents > MAX_MONEY || o->total_cents > MAX_MONEY)
		return fx_err_invalid(e, "totalCents", "the channel's totals are out of range");
	return 0;
}

/* The product of the channel's listing whose externalId is key, or NULL. */
static const char *by_listing(struct apply *a, const char *key, struct fx_err *e)
{
	struct fx_query *q;
	struct fx_doc *docs = NULL;
	const char *parent, *pid = NULL;
	size_t n = 0;

	if (!key || !key[0])
		return NULL;
	parent = fx_arena_printf(&a->arena, "organizations/%s/channels/%s", a->principal.organization_id, a->ch->id);
	q = fx_fsquery_new("listings", false);
	if (!parent || fx_fsquery_where_str(q, "externalId", "==", key, e) < 0) {
		fx_fsquery_free(q);
		return NULL;
	}
	fx_fsquery_limit(q, 1);
	if (fx_firestore_query(parent, q, NULL, &docs, &n, e) == 0 && n == 1) {
		const char *p = fx_value_path_str(&docs[0].fields, "productId");

		pid = p && fx_model_id_valid(p) ? fx_arena_strdup(&a->arena, p) : NULL;
	}
	fx_fsquery_free(q);
	fx_firestore_docs_free(docs, n);
	return pid;
}

/* The product the organization's SKU index names for sku, or NULL. */
static const char *by_sku(struct apply *a, const char *sku, struct fx_err *e)
{
	struct fx_doc d = {0};
	const char *rel, *pid = NULL;
	char id[200];

	if (!sku || !sku[0] || fx_model_sku_id(sku, id, sizeof(id)) < 0 || !fx_model_id_valid(id) ||
	    !(rel = fx_tenant_path(&a->req, NULL, "skus", id, "sku", e)))
		return NULL;
	if (fx_tenant_get(&a->req, rel, "sku", &d, e) == 0) {
		const char *p = fx_value_path_str(&d.fields, "productId");

		pid = p && fx_model_id_valid(p) ? fx_arena_strdup(&a->arena, p) : NULL;
	}
	fx_firestore_doc_cleanup(&d);
	return pid;
}

/*
 * Maps every line to a product, before the transaction: what a listing or
 * the SKU index says is only a name; the transaction reads the products
 * themselves. A failed lookup leaves the line unmatched (needsAttention),
 * except a backend outage, which fails the call (the channel retries).
 */
static int map_lines(struct apply *a, struct fx_err *e)
{
	for (size_t i = 0; i < a->o->nlines; i++) {
		const struct fx_channel_line *l = &a->o->lines[i];
		struct fx_err le;

		fx_err_clear(&le);
		a->pids[i] = by_listing(a, l->listing_key, &le);
		if (!a->pids[i] && !fx_err_is(&le, FX_OK) && !fx_err_is(&le, FX_NOT_FOUND))
			goto failed;
		fx_err_clear(&le);
		if (!a->pids[i])
			a->pids[i] = by_sku(a, l->sku, &le);
		if (!a->pids[i] && !fx_err_is(&le, FX_OK) && !fx_err_is(&le, FX_NOT_FOUND))
			goto failed;
		continue;
	failed:
		*e = le;
		return -1;
	}
	return 0;
}

/* Sets map[name] to s cut to MAX_TEXT bytes on a UTF-8 boundary; nothing when s is NULL or empty. */
static void set_text(struct fx_value *map, const char *name, const char *s)
{
	size_t n;

	if (!s || !s[0])
		return;
	n = strlen(s);
	if (n > MAX_TEXT) {
		n = MAX_TEXT;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	fx_value_string(fx_map_set(map, name), s, n);
}

static void order_header(struct apply *a, struct fx_value *order)
{
	const struct fx_channel_order *o = a->o;
	struct fx_value *c, *addr;
	char name[MAX_TEXT + 1];

	fx_map_set_str(order, "channel", fx_channel_type_name(a->ch->type));
	fx_map_set_str(order, "channelId", a->ch->id);
	fx_map_set_str(order, "externalId", o->external_id);
	set_text(order, "externalNumber", o->number);
	/* Taken after the fields above: adding a field to order may move its others. */
	c = fx_map_set(order, "customer");
	fx_value_map(c);
	if (o->customer_name && o->customer_name[0])
		set_text(c, "name", o->customer_name);
	else {
		fx_str_text(name, sizeof(name), "%s customer", fx_channel_type_name(a->ch->type));
		fx_map_set_str(c, "name", name);
	}
	set_text(c, "email", o->customer_email);
	set_text(c, "phone", o->customer_phone);
	addr = fx_map_set(order, "shippingAddress");
	fx_value_map(addr);
	set_text(addr, "line1", o->address_line1);
	set_text(addr, "line2", o->address_line2);
	set_text(addr, "city", o->address_city);
	set_text(addr, "province", o->address_province);
	set_text(addr, "postalCode", o->address_postal_code);
	set_text(addr, "country", o->address_country && strlen(o->address_country) == 2 ? o->address_country : "ZA");
}

/* The distinct products of the mapped lines, as read in the transaction. */
struct stockview {
	const char *ids[FX_CHANORDER_MAX_LINES];
	const char *paths[FX_CHANORDER_MAX_LINES];
	struct fx_doc docs[FX_CHANORDER_MAX_LINES];
	int64_t reserved[FX_CHANORDER_MAX_LINES]; /* as this order leaves it */
	int64_t ordered[FX_CHANORDER_MAX_LINES], backordered[FX_CHANORDER_MAX_LINES];
	size_t at[FX_CHANORDER_MAX_LINES]; /* per line: index of its product, or SIZE_MAX */
	size_t n;
};

static int stockview_paths(struct apply *a, struct stockview *v, struct fx_err *e)
{
	memset(v, 0, sizeof(*v));
	for (size_t i = 0; i < a->o->nlines; i++) {
		size_t k;

		v->at[i] = SIZE_MAX;
		if (!a->pids[i])
			continue;
		for (k = 0; k < v->n && strcmp(v->ids[k], a->pids[i]) != 0; k++)
			;
		if (k == v->n) {
			v->ids[k] = a->pids[i];
			if (!(v->paths[k] = fx_tenant_path(&a->req, NULL, "products", a->pids[i], "product", e)))
				return -1;
			v->n++;
		}
		v->at[i] = k;
	}
	return 0;
}

static void stockview_cleanup(struct stockview *v)
{
	for (size_t k = 0; k < v->n; k++)
		fx_firestore_doc_cleanup(&v->docs[k]);
}

/* Raises the critical "oversold" insight of product k in t, unless one is open. */
static int raise_oversold(struct apply *a, struct fx_txn *t, const struct stockview *v, size_t k, const char *number,
			  struct fx_err *e)
{
	struct fx_candidate c;
	const char *sku = fx_value_path_str(&v->docs[k].fields, "sku");
	bool raised;
	int rc;

	memset(&c, 0, sizeof(c));
	fx_str_text(c.type, sizeof(c.type), "%s", "oversold");
	fx_str_text(c.severity, sizeof(c.severity), "%s", "critical");
	if (fx_str_set(c.product_id, sizeof(c.product_id), v->ids[k]) < 0)
		return fx_err_set(e, FX_INTERNAL, "product id over %zu bytes", sizeof(c.product_id));
	fx_str_text(c.title, sizeof(c.title), "Oversold on %s: %s", fx_channel_type_name(a->ch->type),
		    sku ? sku : v->ids[k]);
	fx_str_text(c.summary, sizeof(c.summary),
		    "Order %s from %s asked for %lld unit(s) of %s; %lld could not be reserved. The order was "
		    "accepted and cannot ship until stock is received and allocated.",
		    number, fx_channel_type_name(a->ch->type), (long long)v->ordered[k], sku ? sku : v->ids[k],
		    (long long)v->backordered[k]);
	fx_str_text(c.recommendations[0], sizeof(c.recommendations[0]),
		    "Receive stock, then POST /v1/orders/%s:allocate", a->out->order_id);
	fx_str_text(c.recommendations[1], sizeof(c.recommendations[1]), "%s",
		    "Check the channel's listing buffer for this product");
	c.nrec = 2;
	fx_value_map(&c.metrics);
	fx_map_set_str(&c.metrics, "orderId", a->out->order_id);
	fx_map_set_str(&c.metrics, "orderNumber", number);
	fx_map_set_int(&c.metrics, "ordered", v->ordered[k]);
	fx_map_set_int(&c.metrics, "backordered", v->backordered[k]);
	rc = fx_insights_raise(&a->req, t, &c, &raised, e);
	fx_value_cleanup(&c.metrics);
	return rc;
}

/* Writes the delivery marker {topic, at} with exists=false: a concurrent twin of the delivery aborts. */
static int write_marker(struct apply *a, json_object *writes, struct fx_err *e)
{
	struct fx_value m = {0};
	char *name;
	int rc;

	if (!a->marker_rel)
		return 0;
	fx_value_map(&m);
	fx_map_set_str(&m, "topic", a->topic);
	fx_model_map_set_now(&m, "at");
	fx_tenant_stamp(&a->req, &m);
	name = fx_tenant_name(a->marker_rel);
	rc = fx_fswrite_create(writes, name, &m, NULL, e);
	free(name);
	fx_value_cleanup(&m);
	return rc;
}

static int create_txn(struct apply *a, struct fx_txn *t, struct stockview *v, struct fx_err *e)
{
	const struct fx_channel_order *o = a->o;
	const bool cancelled = o->state == FX_CHANNEL_ORDER_CANCELLED;
	const char *counter_rel = fx_orderio_counter_rel(&a->req, e), *paths[1];
	struct fx_value order = {0}, *items, *history;
	struct fx_doc counter = {0};
	char number[24], *name = NULL, *channel_name = NULL;
	bool oversold = false, attention = false;
	int rc = -1;

	if (!counter_rel)
		return -1;
	paths[0] = counter_rel;
	if (fx_firestore_batch_get(paths, 1, t->id, &counter, e) < 0)
		return -1;
	if (fx_orderio_take_number(&a->req, t->writes, counter_rel, &counter, number, sizeof(number), e) < 0)
		goto out;
	fx_value_map(&order);
	order_header(a, &order);
	items = fx_map_set(&order, "items");
	fx_value_array(items);
	for (size_t k = 0; k < v->n; k++)
		v->reserved[k] = fx_stock(&v->docs[k], "reserved");
	for (size_t i = 0; i < o->nlines; i++) {
		const struct fx_channel_line *l = &o->lines[i];
		struct fx_value *line = fx_value_push(items);
		size_t k = v->at[i];
		const struct fx_doc *p = k == SIZE_MAX ? NULL : &v->docs[k];
		const char *sku = p ? fx_value_path_str(&p->fields, "sku") : NULL;
		const char *pname = p ? fx_value_path_str(&p->fields, "name") : NULL;
		int64_t held = 0, total;

		fx_value_map(line);
		if (p && !fx_tenant_owns(&a->req, p))
			p = NULL, sku = pname = NULL; /* the listing or SKU named a product that is gone */
		if (p)
			fx_map_set_str(line, "productId", p->id);
		else {
			fx_value_null(fx_map_set(line, "productId"));
			attention = true;
		}
		fx_map_set_str(line, "sku", sku ? sku : l->sku ? l->sku : "");
		set_text(line, "name", pname ? pname : l->title ? l->title : "");
		if (!fx_map_get(line, "name"))
			fx_map_set_str(line, "name", sku ? sku : "(untitled)");
		fx_map_set_int(line, "quantity", l->quantity);
		fx_map_set_int(line, "unitPriceCents", l->unit_price_cents);
		if (__builtin_mul_overflow(l->unit_price_cents, l->quantity, &total))
			total = INT64_MAX;
		fx_map_set_int(line, "lineTotalCents", total);
		set_text(line, "externalLineId", l->external_line_id);
		if (p && !cancelled) {
			held = fx_order_allocatable(fx_stock(p, "onHand"), v->reserved[k], l->quantity);
			v->reserved[k] += held;
			v->ordered[k] += l->quantity;
			if (held < l->quantity) {
				fx_map_set_int(line, "backorderedQuantity", l->quantity - held);
				v->backordered[k] += l->quantity - held;
				oversold = true;
			}
		}
	}
	fx_map_set_str(&order, "number", number);
	fx_map_set_int(&order, "subtotalCents", o->subtotal_cents);
	fx_map_set_int(&order, "shippingCents", o->shipping_cents);
	fx_map_set_int(&order, "vatCents", fx_order_vat(o->total_cents, a->vat_rate));
	fx_map_set_int(&order, "vatRateBps", a->vat_rate);
	fx_map_set_int(&order, "totalCents", o->total_cents);
	fx_map_set_str(&order, "currency", FX_DEFAULT_CURRENCY);
	fx_map_set_bool(&order, "oversold", oversold);
	fx_map_set_bool(&order, "needsAttention", attention);
	fx_map_set_str(&order, "status", cancelled ? "cancelled" : "pending");
	history = fx_map_set(&order, "statusHistory");
	fx_value_array(history);
	fx_orderio_history(history, "pending", a->principal.uid, NULL, NULL);
	if (cancelled) {
		fx_orderio_history(history, "cancelled", a->principal.uid, "reason", "cancelled on the channel");
		fx_map_set_str(&order, "cancelReason", "cancelled on the channel");
	}
	fx_map_set_str(&order, "createdBy", a->principal.uid);
	fx_tenant_stamp(&a->req, &order);
	fx_model_map_set_now(&order, "createdAt");
	fx_model_map_set_now(&order, "updatedAt");
	for (size_t k = 0; k < v->n; k++)
		if (fx_tenant_owns(&a->req, &v->docs[k]) && v->reserved[k] != fx_stock(&v->docs[k], "reserved") &&
		    fx_stock_write(&a->req, t->writes, &v->docs[k], fx_stock(&v->docs[k], "onHand"), v->reserved[k],
				   e) < 0)
			goto out;
	name = fx_tenant_name(a->order_rel);
	/* exists=false: of two concurrent deliveries of one order, one creates it. */
	if (fx_fswrite_create(t->writes, name, &order, NULL, e) < 0 || write_marker(a, t->writes, e) < 0 ||
	    fx_orderio_event_created(&a->req, t->writes, strrchr(a->order_rel, '/') + 1, &order, e) < 0)
		goto out;
	channel_name = fx_tenant_name(a->channel_rel);
	if (fx_fswrite_increment(t->writes, channel_name, "counts.ordersImported", 1, e) < 0)
		goto out;
	for (size_t k = 0; k < v->n; k++)
		if (v->backordered[k] > 0 && raise_oversold(a, t, v, k, number, e) < 0)
			goto out;
	fx_str_text(a->out->number, sizeof(a->out->number), "%s", number);
	a->out->outcome = FX_CHANORDER_CREATED;
	a->out->oversold = oversold;
	a->out->needs_attention = attention;
	rc = 0;
out:
	free(name);
	free(channel_name);
	fx_value_cleanup(&order);
	fx_firestore_doc_cleanup(&counter);
	return rc;
}

/* Sets needsAttention on order (it could not follow the channel), guarded by the version read. */
static int flag_attention(struct apply *a, json_object *writes, const struct fx_doc *order, struct fx_err *e)
{
	static const char *const mask[] = {"needsAttention", "updatedAt", NULL};
	struct fx_value m = {0};
	char *name = fx_tenant_name(a->order_rel);
	int rc;

	fx_value_map(&m);
	fx_map_set_bool(&m, "needsAttention", true);
	fx_model_map_set_now(&m, "updatedAt");
	rc = fx_fswrite_update(writes, name, &m, mask, order->update_time, NULL, e);
	free(name);
	fx_value_cleanup(&m);
	return rc;
}

static bool flagged(const struct fx_doc *order)
{
	const struct fx_value *v = fx_map_get(&order->fields, "needsAttention");

	return v && v->type == FX_V_BOOL && v->u.b;
}

static int update_txn(struct apply *a, struct fx_txn *t, const struct fx_doc *order, struct fx_err *e)
{
	const char *status = fx_value_path_str(&order->fields, "status");
	const char *steps[4] = {NULL};
	const char *nr = fx_value_path_str(&order->fields, "number");
	size_t n = 0;
	bool ships = false;

	fx_str_text(a->out->number, sizeof(a->out->number), "%s", nr ? nr : "");
	a->out->oversold = fx_order_short(fx_value_path(&order->fields, "items"));
	a->out->needs_attention = flagged(order);
	a->out->outcome = FX_CHANORDER_UNCHANGED;
	status = status ? status : "";
	switch (a->o->state) {
	case FX_CHANNEL_ORDER_CANCELLED:
		if (fx_order_may(fx_order_transition("cancel"), status)) {
			struct fx_value extra = {0};
			const char *const cancel[] = {"cancelled", NULL};
			int rc;

			fx_value_map(&extra);
			fx_map_set_str(&extra, "cancelReason", "cancelled on the channel");
			rc = fx_orderio_apply_stock(&a->req, t, order, FX_ORDER_RELEASE_STOCK, e) < 0 ||
					     fx_orderio_write_status(&a->req, t->writes, a->order_rel, order, cancel,
								     &extra, "reason", "cancelled on the channel", NULL,
								     e) < 0 ||
					     (a->out->oversold && fx_orderio_resolve_oversold(&a->req, t, order, e) < 0)
				     ? -1
				     : 0;
			fx_value_cleanup(&extra);
			if (rc < 0)
				return -1;
			a->out->outcome = FX_CHANORDER_UPDATED;
		}
		break;
	case FX_CHANNEL_ORDER_SHIPPED:
	case FX_CHANNEL_ORDER_DELIVERED:
		if (strcmp(status, "pending") == 0)
			steps[n++] = "confirmed";
		if (strcmp(status, "pending") == 0 || strcmp(status, "confirmed") == 0) {
			steps[n++] = "shipped";
			ships = true;
		}
		if (a->o->state == FX_CHANNEL_ORDER_DELIVERED && (n > 0 || strcmp(status, "shipped") == 0))
			steps[n++] = "delivered";
		if (n == 0)
			break;
		if (ships && fx_order_short(fx_value_path(&order->fields, "items"))) {
			/* Shipped on the channel, short here: leave the status, flag it for a person. */
			if (!flagged(order)) {
				if (flag_attention(a, t->writes, order, e) < 0)
					return -1;
				a->out->needs_attention = true;
				a->out->outcome = FX_CHANORDER_UPDATED;
			}
			break;
		}
		if ((ships && fx_orderio_apply_stock(&a->req, t, order, FX_ORDER_SHIP_STOCK, e) < 0) ||
		    fx_orderio_write_status(&a->req, t->writes, a->order_rel, order, steps, NULL, NULL, NULL, NULL, e) <
			    0)
			return -1;
		a->out->outcome = FX_CHANORDER_UPDATED;
		break;
	case FX_CHANNEL_ORDER_OPEN:
	case FX_CHANNEL_ORDER_RETURNED: break; /* no Fluxori step follows from these */
	}
	return write_marker(a, t->writes, e);
}

static int apply_txn(struct fx_txn *t, void *arg, struct fx_err *e)
{
	struct apply *a = arg;
	struct stockview *v = fx_arena_alloc(&a->arena, sizeof(*v));
	struct fx_doc head[2];
	const char *paths[2];
	size_t nhead = 0;
	int rc = -1;

	if (!v)
		return fx_err_set(e, FX_INTERNAL, "out of request memory");
	memset(head, 0, sizeof(head));
	paths[nhead++] = a->order_rel;
	if (a->marker_rel)
		paths[nhead++] = a->marker_rel;
	if (fx_firestore_batch_get(paths, nhead, t->id, head, e) < 0)
		return -1;
	if (stockview_paths(a, v, e) < 0)
		goto out;
	if (a->marker_rel && head[1].name) {
		const char *nr = fx_value_path_str(&head[0].fields, "number");

		fx_str_text(a->out->number, sizeof(a->out->number), "%s", nr ? nr : "");
		a->out->oversold = fx_order_short(fx_value_path(&head[0].fields, "items"));
		a->out->needs_attention = flagged(&head[0]);
		a->out->outcome = FX_CHANORDER_DUPLICATE; /* seen before: nothing written */
		rc = 0;
		goto out;
	}
	if (head[0].name) {
		if (!fx_tenant_owns(&a->req, &head[0])) {
			fx_err_set(e, FX_INTERNAL, "order %s belongs to another organization", a->out->order_id);
			goto out;
		}
		rc = update_txn(a, t, &head[0], e);
		goto out;
	}
	if (a->o->nlines == 0) {
		/* Cancelled before we saw it, and nothing of it left to show: no order, the delivery seen. */
		a->out->outcome = FX_CHANORDER_UNCHANGED;
		rc = write_marker(a, t->writes, e);
		goto out;
	}
	if (v->n && fx_firestore_batch_get(v->paths, v->n, t->id, v->docs, e) < 0) {
		memset(v->docs, 0, sizeof(v->docs));
		goto out;
	}
	rc = create_txn(a, t, v, e);
out:
	for (size_t i = 0; i < nhead; i++)
		fx_firestore_doc_cleanup(&head[i]);
	stockview_cleanup(v);
	return rc;
}

/* Whether topic is 1..128 printable ASCII characters (what a marker stores as it came). */
static bool topic_ok(const char *topic)
{
	size_t n = 0;

	if (!topic)
		return false;
	for (; topic[n]; n++)
		if (n >= 128 || topic[n] < 0x20 || topic[n] > 0x7e)
			return false;
	return n > 0;
}

int fx_chanorder_apply(const char *org, const struct fx_channel *ch, const struct fx_channel_order *o,
		       const struct fx_chanorder_delivery *d, struct fx_chanorder_result *out, struct fx_err *e)
{
	const char *delivery_id = d ? d->id : NULL;
	struct apply *a;
	struct fx_doc orgdoc = {0};
	char dkey[41];
	const char *root;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (!org || !fx_model_id_valid(org) || !ch || !ch->id || !fx_model_id_valid(ch->id))
		return fx_err_set(e, FX_INTERNAL, "a channel order without its organization or channel");
	if (validate(o, e) < 0)
		return -1;
	if (delivery_id && (!delivery_id[0] || strlen(delivery_id) > 256))
		return fx_err_invalid(e, "deliveryId", "must be 1 to 256 characters");
	a = fx_mem_xcalloc(1, sizeof(*a));
	fx_arena_init(&a->arena, ARENA_LIMIT);
	a->principal.organization_id = org;
	a->principal.role = FX_ROLE_OWNER;
	a->principal.uid = fx_arena_printf(&a->arena, "channel:%s", ch->id);
	a->req.arena = &a->arena;
	a->req.principal = &a->principal;
	a->ch = ch;
	a->o = o;
	a->topic = d && topic_ok(d->topic) ? d->topic : "webhook";
	a->out = out;
	fx_chanorder_id(ch->id, o->external_id, out->order_id);
	a->order_rel = fx_tenant_path(&a->req, NULL, "orders", out->order_id, "order", e);
	a->channel_rel = fx_tenant_path(&a->req, NULL, "channels", ch->id, "channel", e);
	if (!a->principal.uid || !a->order_rel || !a->channel_rel)
		goto out;
	if (delivery_id) {
		fx_chanorder_delivery_key(delivery_id, dkey);
		if (!(a->marker_rel = fx_arena_printf(&a->arena, "%s/deliveries/%s", a->channel_rel, dkey))) {
			fx_err_set(e, FX_INTERNAL, "out of request memory");
			goto out;
		}
	}
	a->vat_rate = FX_DEFAULT_VAT_RATE_BPS;
	if (!(root = fx_tenant_root(&a->req, e)) || fx_firestore_get(root, &orgdoc, e) < 0)
		goto out;
	fx_value_path_int(&orgdoc.fields, "vatRateBps", &a->vat_rate);
	if (map_lines(a, e) < 0)
		goto out;
	for (int attempt = 0;; attempt++) {
		rc = d && d->queue_wait_ms > 0 ? fx_orderio_queued_within(&a->req, apply_txn, a, "orders",
									  d->queue_wait_ms, FX_UNAVAILABLE, e)
					       : fx_orderio_queued(&a->req, apply_txn, a, "orders", e);
		/* A twin committed the order (or the marker) between our read and our commit: read again. */
		if (rc == 0 || attempt + 1 >= TWIN_RETRIES || !fx_err_is(e, FX_ALREADY_EXISTS))
			break;
		fx_err_clear(e);
	}
out:
	fx_firestore_doc_cleanup(&orgdoc);
	fx_arena_cleanup(&a->arena);
	free(a);
	return rc;
}
