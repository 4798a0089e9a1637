#include "orderio.h"

#include "authz.h"
#include "fswrite.h"
#include "http.h"
#include "insights.h"
#include "keylock.h"
#include "log.h"
#include "map.h"
#include "mem.h"
#include "model.h"
#include "stock.h"
#include "str.h"
#include "tenant.h"
#include "webhook.h"

#include <stdlib.h>
#include <string.h>

#define NUMBER_WAIT_MS 20000 /* longest wait for the organization's order lock */

int fx_orderio_queued(const struct fx_req *r, fx_txn_fn fn, void *arg, const char *busy, struct fx_err *e)
{
	return fx_orderio_queued_within(r, fn, arg, busy, NUMBER_WAIT_MS, FX_ABORTED, e);
}

/* The queue of fx_orderio_queued*: res (may be NULL) receives the commit's answer. */
static int queued(const struct fx_req *r, fx_txn_fn fn, void *arg, const char *busy, long wait_ms,
		  enum fx_code busy_code, struct fx_txn_result *res, struct fx_err *e)
{
	const char *lock = fx_arena_printf(r->arena, "orders:%s", r->principal->organization_id);
	int rc;

	if (!lock)
		return fx_err_set(e, FX_INTERNAL, "out of request memory");
	if (fx_keylock_timed(lock, wait_ms > 0 ? wait_ms : NUMBER_WAIT_MS) < 0) {
		fx_err_set(e, busy_code, "too many %s at once for this organization: retry", busy);
		e->retry_after = FX_ERR_RETRY_AFTER_S;
		return -1;
	}
	if (fx_keylock_outage(lock, e) < 0) {
		fx_keylock_release(lock);
		return -1;
	}
	rc = fx_firestore_run_transaction_ex(fn, arg, res, e);
	fx_keylock_release_after(lock, rc < 0 ? e : NULL);
	return rc;
}

int fx_orderio_queued_within(const struct fx_req *r, fx_txn_fn fn, void *arg, const char *busy, long wait_ms,
			     enum fx_code busy_code, struct fx_err *e)
{
	return queued(r, fn, arg, busy, wait_ms, busy_code, NULL, e);
}

int fx_orderio_queued_ex(const struct fx_req *r, fx_txn_fn fn, void *arg, const char *busy, struct fx_txn_result *res,
			 struct fx_err *e)
{
	return queued(r, fn, arg, busy, NUMBER_WAIT_MS, FX_ABORTED, res, e);
}

const char *fx_orderio_counter_rel(const struct fx_req *r, struct fx_err *e)
{
	const char *root = fx_tenant_root(r, e), *rel;

	if (!root)
		return NULL;
	rel = fx_arena_printf(r->arena, "%s/counters/orders", root);
	if (!rel)
		fx_err_set(e, FX_INTERNAL, "out of request memory");
	return rel;
}

int fx_orderio_take_number(const struct fx_req *r, json_object *writes, const char *rel, const struct fx_doc *counter,
			   char *number, size_t size, struct fx_err *e)
{
	static const char *const mask[] = {"next", "organizationId", NULL};
	struct fx_value map = {0};
	int64_t next = 1;
	char *name;
	int rc;

	if (counter->name)
		fx_value_path_int(&counter->fields, "next", &next);
	if (fx_str_fmt(number, size, "FX-%06lld", (long long)next) < 0)
		return fx_err_set(e, FX_INTERNAL, "order number does not fit");
	fx_value_map(&map);
	fx_map_set_int(&map, "next", next + 1);
	fx_tenant_stamp(r, &map);
	name = fx_tenant_name(rel);
	rc = counter->name ? fx_fswrite_update(writes, name, &map, mask, counter->update_time, NULL, e)
			   : fx_fswrite_create(writes, name, &map, NULL, e);
	free(name);
	fx_value_cleanup(&map);
	return rc;
}

void fx_orderio_history(struct fx_value *arr, const char *status, const char *by, const char *note_key,
			const char *note)
{
	struct fx_value *h = fx_value_push(arr);

	fx_value_map(h);
	fx_map_set_str(h, "status", status);
	fx_model_map_set_now(h, "at");
	fx_map_set_str(h, "by", by);
	if (note_key && note)
		fx_map_set_str(h, note_key, note);
}

/* The distinct products of items and the units their lines hold, in order of first appearance. */
struct products {
	const char *ids[FX_ORDERIO_MAX_LINES];
	int64_t held[FX_ORDERIO_MAX_LINES];
	const char *paths[FX_ORDERIO_MAX_LINES];
	struct fx_doc docs[FX_ORDERIO_MAX_LINES];
	size_t n;
};

static int products_of(const struct fx_req *r, const struct fx_value *items, struct products *p, struct fx_err *e)
{
	size_t nitems = items && items->type == FX_V_ARRAY ? items->u.arr.n : 0;

	memset(p, 0, sizeof(*p));
	if (nitems > FX_ORDERIO_MAX_LINES)
		return fx_err_set(e, FX_INTERNAL, "an order of %zu lines: at most %d", nitems, FX_ORDERIO_MAX_LINES);
	for (size_t i = 0; i < nitems; i++) {
		const char *pid = fx_value_path_str(&items->u.arr.items[i], "productId");
		size_t k;

		if (!pid || !fx_model_id_valid(pid))
			continue;
		for (k = 0; k < p->n && strcmp(p->ids[k], pid) != 0; k++)
			;
		if (k == p->n) {
			p->ids[k] = pid;
			p->paths[k] = fx_tenant_path(r, NULL, "products", pid, "product", e);
			if (!p->paths[k])
				return -1;
			p->n++;
		}
		if (__builtin_add_overflow(p->held[k], fx_order_line_held(&items->u.arr.items[i]), &p->held[k]))
			return fx_err_set(e, FX_INTERNAL, "the quantities of product %s do not fit 64 bits", pid);
	}
	return 0;
}

static void products_cleanup(struct products *p)
{
	for (size_t i = 0; i < p->n; i++)
		fx_firestore_doc_cleanup(&p->docs[i]);
}

int fx_orderio_apply_stock(const struct fx_req *r, struct fx_txn *t, const struct fx_doc *order,
			   enum fx_order_effect effect, struct fx_err *e)
{
	struct products *p;
	int rc = -1;

	if (effect == FX_ORDER_NO_STOCK)
		return 0;
	p = fx_arena_alloc(r->arena, sizeof(*p));
	if (!p)
		return fx_err_set(e, FX_INTERNAL, "out of request memory");
	if (products_of(r, fx_value_path(&order->fields, "items"), p, e) < 0)
		goto out;
	if (p->n && fx_firestore_batch_get(p->paths, p->n, t->id, p->docs, e) < 0) {
		memset(p->docs, 0, sizeof(p->docs));
		goto out;
	}
	for (size_t i = 0; i < p->n; i++) {
		const struct fx_doc *d = &p->docs[i];
		struct fx_order_stock s;

		if (!fx_tenant_owns(r, d)) {
			fx_log_warn("order %s: product %s is gone; its stock is not changed", order->id, p->ids[i]);
			continue;
		}
		if (p->held[i] == 0)
			continue;
		if (fx_order_stock_effect(effect, fx_stock(d, "onHand"), fx_stock(d, "reserved"), p->held[i], &s) < 0) {
			fx_err_set(e, FX_INTERNAL, "the stock of product %s does not fit 64 bits", d->id);
			goto out;
		}
		if (fx_stock_write(r, t->writes, d, s.on_hand, s.reserved, e) < 0 ||
		    (s.reason && fx_stock_movement_write(r, t->writes, d->id, s.delta, s.reason, order->id, NULL,
							 s.on_hand, NULL, e) < 0))
			goto out;
	}
	rc = 0;
out:
	products_cleanup(p);
	return rc;
}

int fx_orderio_event_updated(const struct fx_req *r, json_object *writes, const struct fx_doc *order,
			     const char *status, const char *const *changed, struct fx_err *e)
{
	static const char *const copied[] = {"number", "channel", "channelId", "externalId", NULL};
	const char *was = fx_value_path_str(&order->fields, "status");
	json_object *data = json_object_new_object(), *list;
	int rc;

	if (!status)
		status = was ? was : "";
	json_object_object_add(data, "id", json_object_new_string(order->id));
	for (size_t i = 0; copied[i]; i++) {
		const char *v = fx_value_path_str(&order->fields, copied[i]);

		if (v)
			json_object_object_add(data, copied[i], json_object_new_string(v));
	}
	json_object_object_add(data, "status", json_object_new_string(status));
	json_object_object_add(data, "previousStatus", was ? json_object_new_string(was) : NULL);
	list = json_object_new_array();
	for (size_t i = 0; changed && changed[i]; i++)
		if (strcmp(changed[i], "updatedAt") != 0)
			json_object_array_add(list, json_object_new_string(changed[i]));
	if (!changed)
		json_object_array_add(list, json_object_new_string("status"));
	json_object_object_add(data, "changed", list);
	rc = fx_webhook_event_add(writes, r->principal->organization_id, "order.updated", "order", order->id,
				  order->update_time, 0, data, e);
	json_object_put(data);
	return rc;
}

int fx_orderio_event_created(const struct fx_req *r, json_object *writes, const char *id, const struct fx_value *order,
			     struct fx_err *e)
{
	static const char *const hidden[] = {"organizationId", NULL};
	struct fx_doc d = {0};
	json_object *data;
	int rc;

	d.id = id;
	d.fields = *order;
	data = fx_model_doc_json(&d, hidden);
	json_object_object_del(data, "etag");
	rc = fx_webhook_event_add(writes, r->principal->organization_id, "order.created", "order", id, NULL, 0, data,
				  e);
	json_object_put(data);
	return rc;
}

/* *after := order with the update of map's fields in mask applied (fx_orderio_write_status). */
static int order_after(const struct fx_doc *order, const struct fx_value *map, const char *const *mask,
		       struct fx_doc *after, struct fx_err *e)
{
	fx_firestore_doc_cleanup(after);
	if (order->name) {
		after->name = fx_mem_xstrdup(order->name);
		after->id = strrchr(after->name, '/') ? strrchr(after->name, '/') + 1 : after->name;
	}
	fx_value_copy(&after->fields, &order->fields);
	FX_ARRAY_COPY(after->create_time, order->create_time);
	FX_ARRAY_COPY(after->update_time, order->update_time);
	return fx_model_doc_updated(after, map, mask, NULL, e);
}

int fx_orderio_write_status(const struct fx_req *r, json_object *writes, const char *rel, const struct fx_doc *order,
			    const char *const *steps, const struct fx_value *extra, const char *note_key,
			    const char *note, struct fx_doc *after, struct fx_err *e)
{
	const struct fx_value *old = fx_value_path(&order->fields, "statusHistory");
	struct fx_value map = {0}, *history;
	const char *mask[12], *last = NULL;
	size_t nmask = 0;
	char *name;
	int rc;

	if (!steps || !steps[0])
		return fx_err_set(e, FX_INTERNAL, "a status change without a status");
	if (extra && extra->type == FX_V_MAP) {
		if (extra->u.map.n > 6)
			return fx_err_set(e, FX_INTERNAL, "a status change with %zu extra fields", extra->u.map.n);
		fx_value_copy(&map, extra);
		for (size_t i = 0; i < extra->u.map.n; i++)
			mask[nmask++] = extra->u.map.fields[i].name;
	} else {
		fx_value_map(&map);
	}
	history = fx_map_set(&map, "statusHistory");
	if (old)
		fx_value_copy(history, old);
	else
		fx_value_array(history);
	for (size_t i = 0; steps[i]; i++) {
		fx_orderio_history(history, steps[i], r->principal->uid, note_key, note);
		last = steps[i];
	}
	mask[nmask++] = "statusHistory";
	fx_map_set_str(&map, "status", last);
	mask[nmask++] = "status";
	fx_model_map_set_now(&map, "updatedAt");
	mask[nmask++] = "updatedAt";
	mask[nmask] = NULL;
	name = fx_tenant_name(rel);
	rc = fx_fswrite_update(writes, name, &map, mask, order->update_time, NULL, e);
	free(name);
	if (rc == 0 && after && order_after(order, &map, mask, after, e) < 0) {
		json_object_array_del_idx(writes, json_object_array_length(writes) - 1, 1);
		rc = -1;
	}
	fx_value_cleanup(&map);
	if (rc == 0 && fx_orderio_event_updated(r, writes, order, last, NULL, e) < 0) {
		json_object_array_del_idx(writes, json_object_array_length(writes) - 1, 1);
		return -1;
	}
	return rc;
}

int fx_orderio_allocate(const struct fx_req *r, struct fx_txn *t, const char *rel, const struct fx_doc *order,
			int64_t *taken, struct fx_doc *after, size_t *at, struct fx_err *e)
{
	static const char *const mask[] = {"items", "oversold", "updatedAt", NULL};
	const struct fx_value *items = fx_value_path(&order->fields, "items");
	struct fx_value map = {0}, *new_items;
	int64_t on_hand[FX_ORDERIO_MAX_LINES], reserved[FX_ORDERIO_MAX_LINES];
	struct products *p;
	char *name = NULL;
	int rc = -1;

	*taken = 0;
	if (!fx_order_short(items))
		return after ? order_after(order, NULL, NULL, after, e) : 0;
	p = fx_arena_alloc(r->arena, sizeof(*p));
	if (!p)
		return fx_err_set(e, FX_INTERNAL, "out of request memory");
	fx_value_map(&map);
	if (products_of(r, items, p, e) < 0)
		goto out;
	if (p->n && fx_firestore_batch_get(p->paths, p->n, t->id, p->docs, e) < 0) {
		memset(p->docs, 0, sizeof(p->docs));
		goto out;
	}
	for (size_t k = 0; k < p->n; k++) {
		on_hand[k] = fx_stock(&p->docs[k], "onHand");
		reserved[k] = fx_stock(&p->docs[k], "reserved");
	}
	new_items = fx_map_set(&map, "items");
	fx_value_copy(new_items, items);
	for (size_t i = 0; i < new_items->u.arr.n; i++) {
		struct fx_value *line = &new_items->u.arr.items[i];
		const char *pid = fx_value_path_str(line, "productId");
		int64_t lack = fx_order_line_backordered(line), take;
		size_t k;

		if (!pid || lack == 0)
			continue;
		for (k = 0; k < p->n && strcmp(p->ids[k], pid) != 0; k++)
			;
		if (k == p->n || !fx_tenant_owns(r, &p->docs[k]))
			continue;
		take = fx_order_allocatable(on_hand[k], reserved[k], lack);
		if (take == 0)
			continue;
		reserved[k] += take;
		*taken += take;
		fx_map_set_int(line, "backorderedQuantity", lack - take);
	}
	if (*taken == 0) {
		rc = after ? order_after(order, NULL, NULL, after, e) : 0;
		goto out;
	}
	for (size_t k = 0; k < p->n; k++)
		if (fx_tenant_owns(r, &p->docs[k]) && reserved[k] != fx_stock(&p->docs[k], "reserved") &&
		    fx_stock_write(r, t->writes, &p->docs[k], on_hand[k], reserved[k], e) < 0)
			goto out;
	fx_map_set_bool(&map, "oversold", fx_order_short(new_items));
	fx_model_map_set_now(&map, "updatedAt");
	name = fx_tenant_name(rel);
	if (at)
		*at = json_object_array_length(t->writes);
	rc = fx_fswrite_update(t->writes, name, &map, mask, order->update_time, NULL, e);
	if (rc == 0 && after)
		rc = order_after(order, &map, mask, after, e);
	if (rc == 0 && !fx_order_short(new_items))
		rc = fx_orderio_resolve_oversold(r, t, order, e);
out:
	free(name);
	fx_value_cleanup(&map);
	products_cleanup(p);
	return rc;
}

/* Resolves insight id (read in t) when it is still open and was raised for order_id; its key goes with it. */
static int resolve_one(const struct fx_req *r, struct fx_txn *t, const char *key_rel, const struct fx_doc *key,
		       const char *order_id, struct fx_err *e)
{
	static const char *const mask[] = {"status", "statusChangedBy", "updatedAt", NULL};
	const char *id = fx_value_path_str(&key->fields, "insightId"), *rel, *paths[1], *status, *for_order;
	struct fx_doc in = {0};
	struct fx_value map = {0};
	char *name = NULL;
	int rc = -1;

	if (!id || !fx_model_id_valid(id))
		return 0;
	if (!(rel = fx_tenant_path(r, NULL, "insights", id, "insight", e)))
		return -1;
	paths[0] = rel;
	if (fx_firestore_batch_get(paths, 1, t->id, &in, e) < 0)
		return -1;
	status = fx_value_path_str(&in.fields, "status");
	for_order = fx_value_path_str(&in.fields, "metrics.orderId");
	if (!fx_tenant_owns(r, &in) || !status ||
	    (strcmp(status, "open") != 0 && strcmp(status, "acknowledged") != 0) || !for_order ||
	    strcmp(for_order, order_id) != 0) {
		rc = 0; /* closed already, or another order's: left as it is */
		goto out;
	}
	fx_value_map(&map);
	fx_map_set_str(&map, "status", "resolved");
	fx_map_set_str(&map, "statusChangedBy", r->principal->uid);
	fx_model_map_set_now(&map, "updatedAt");
	name = fx_tenant_name(rel);
	rc = fx_fswrite_update(t->writes, name, &map, mask, in.update_time, NULL, e);
	free(name);
	name = NULL;
	if (rc == 0) {
		name = fx_tenant_name(key_rel);
		rc = fx_fswrite_delete(t->writes, name, -1, key->update_time, e);
	}
out:
	free(name);
	fx_value_cleanup(&map);
	fx_firestore_doc_cleanup(&in);
	return rc;
}

int fx_orderio_resolve_oversold(const struct fx_req *r, struct fx_txn *t, const struct fx_doc *order, struct fx_err *e)
{
	const struct fx_value *items = fx_value_path(&order->fields, "items");
	const char *rels[FX_ORDERIO_MAX_LINES];
	struct fx_doc keys[FX_ORDERIO_MAX_LINES];
	size_t n = 0;
	int rc = 0;

	if (!order->id || !items || items->type != FX_V_ARRAY)
		return 0;
	for (size_t i = 0; i < items->u.arr.n && n < FX_ORDERIO_MAX_LINES; i++) {
		const char *pid = fx_value_path_str(&items->u.arr.items[i], "productId");
		char kid[160];
		bool seen = false;

		if (!pid || !fx_model_id_valid(pid) || fx_insights_key("oversold", pid, kid, sizeof(kid), e) < 0) {
			fx_err_clear(e);
			continue;
		}
		if (!(rels[n] = fx_tenant_path(r, NULL, "insightKeys", kid, "insight key", e)))
			return -1;
		for (size_t j = 0; j < n && !seen; j++)
			seen = strcmp(rels[j], rels[n]) == 0;
		if (!seen)
			n++;
	}
	if (n == 0)
		return 0;
	memset(keys, 0, sizeof(keys));
	if (fx_firestore_batch_get(rels, n, t->id, keys, e) < 0)
		return -1;
	for (size_t k = 0; k < n && rc == 0; k++)
		if (fx_tenant_owns(r, &keys[k]))
			rc = resolve_one(r, t, rels[k], &keys[k], order->id, e);
	for (size_t k = 0; k < n; k++)
		fx_firestore_doc_cleanup(&keys[k]);
	return rc;
}
