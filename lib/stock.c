#include "stock.h"

#include "authz.h"
#include "fswrite.h"
#include "http.h"
#include "map.h"
#include "model.h"
#include "outbox.h"
#include "product.h"
#include "str.h"
#include "tenant.h"
#include "webhook.h"

#include <stdio.h>
#include <stdlib.h>

int64_t fx_stock(const struct fx_doc *product, const char *field)
{
	char path[40];
	int64_t n = 0;

	if (fx_str_fmt(path, sizeof(path), "stock.%s", field) < 0)
		return 0; /* field is one of this code's short names: cannot happen */
	fx_value_path_int(&product->fields, path, &n);
	return n;
}

void fx_stock_set(struct fx_value *map, int64_t on_hand, int64_t reserved, int64_t reorder)
{
	struct fx_value *stock = fx_map_set(map, "stock");

	fx_value_map(stock);
	fx_map_set_int(stock, "onHand", on_hand);
	fx_map_set_int(stock, "reserved", reserved);
	fx_map_set_int(stock, "available", fx_product_available(on_hand, reserved));
	fx_map_set_int(stock, "reorderPoint", reorder);
	fx_map_set_bool(map, "lowStock", fx_product_low_stock(on_hand, reserved, reorder));
}

bool fx_stock_listed(const struct fx_doc *product)
{
	const struct fx_value *l = fx_map_get(&product->fields, "listings");

	return l && l->type == FX_V_ARRAY && l->u.arr.n > 0;
}

static json_object *stock_json(int64_t on_hand, int64_t reserved)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "onHand", json_object_new_int64(on_hand));
	json_object_object_add(o, "reserved", json_object_new_int64(reserved));
	json_object_object_add(o, "available", json_object_new_int64(fx_product_available(on_hand, reserved)));
	return o;
}

/*
 * The webhook events of a stock change (lib/webhook), ordered by the
 * product version read: product.stock_changed when onHand or reserved
 * changes, then product.low_stock when lowStock turns true. The number of
 * writes appended goes to *added.
 */
static int stock_events(const struct fx_req *r, json_object *writes, const struct fx_doc *product, int64_t on_hand,
			int64_t reserved, int *added, struct fx_err *e)
{
	int64_t was_on_hand = fx_stock(product, "onHand"), was_reserved = fx_stock(product, "reserved");
	int64_t reorder = fx_stock(product, "reorderPoint");
	const struct fx_value *low = fx_map_get(&product->fields, "lowStock");
	bool was_low = low && low->type == FX_V_BOOL && low->u.b;
	bool now_low = fx_product_low_stock(on_hand, reserved, reorder);
	const char *sku = fx_value_path_str(&product->fields, "sku");
	json_object *data;
	int rc = 0;

	*added = 0;
	if (on_hand == was_on_hand && reserved == was_reserved)
		return 0;
	data = json_object_new_object();
	json_object_object_add(data, "productId", json_object_new_string(product->id));
	json_object_object_add(data, "sku", sku ? json_object_new_string(sku) : NULL);
	json_object_object_add(data, "stock", stock_json(on_hand, reserved));
	json_object_object_add(data, "previous", stock_json(was_on_hand, was_reserved));
	json_object_object_add(data, "reorderPoint", json_object_new_int64(reorder));
	json_object_object_add(data, "lowStock", json_object_new_boolean(now_low));
	rc = fx_webhook_event_add(writes, r->principal->organization_id, "product.stock_changed", "product",
				  product->id, product->update_time, 0, data, e);
	if (rc == 0)
		(*added)++;
	if (rc == 0 && now_low && !was_low) {
		json_object_object_del(data, "previous");
		rc = fx_webhook_event_add(writes, r->principal->organization_id, "product.low_stock", "product",
					  product->id, product->update_time, 1, data, e);
		if (rc == 0)
			(*added)++;
	}
	json_object_put(data);
	return rc;
}

int fx_stock_write(const struct fx_req *r, json_object *writes, const struct fx_doc *product, int64_t on_hand,
		   int64_t reserved, struct fx_err *e)
{
	static const char *const mask[] = {"stock", "lowStock", "updatedAt", NULL};
	const char *rel = fx_tenant_path(r, NULL, "products", product->id, "product", e);
	size_t n0 = json_object_array_length(writes), n;
	struct fx_value map = {0};
	int added = 0;
	char *name;
	int rc;

	if (!rel)
		return -1;
	fx_value_map(&map);
	fx_stock_set(&map, on_hand, reserved, fx_stock(product, "reorderPoint"));
	fx_model_map_set_now(&map, "updatedAt");
	name = fx_tenant_name(rel);
	rc = fx_fswrite_update(writes, name, &map, mask, product->update_time, NULL, e);
	free(name);
	fx_value_cleanup(&map);
	/* The channels see available: a change of it owes them a push, recorded in this same commit. */
	if (rc == 0 && fx_stock_listed(product) &&
	    fx_product_available(on_hand, reserved) !=
		    fx_product_available(fx_stock(product, "onHand"), fx_stock(product, "reserved")) &&
	    fx_outbox_add(writes, r->principal->organization_id, FX_OUTBOX_STOCK, product->id, NULL, e) < 0)
		rc = -1;
	/* The merchant's webhooks see every change, in the same commit too. */
	if (rc == 0 && stock_events(r, writes, product, on_hand, reserved, &added, e) < 0)
		rc = -1;
	n = json_object_array_length(writes);
	if (rc < 0 && n > n0)
		json_object_array_del_idx(writes, n0, n - n0);
	return rc;
}

int fx_stock_movement_write(const struct fx_req *r, json_object *writes, const char *product_id, int64_t delta,
			    const char *reason, const char *order_id, const char *note, int64_t on_hand_after,
			    json_object **out, struct fx_err *e)
{
	static const char *const hidden[] = {"organizationId", NULL};
	struct fx_value mv = {0};
	char id[FX_ID_LEN + 1], *name;
	const char *rel, *root;
	int rc;

	fx_model_id_new(id);
	root = fx_tenant_root(r, e);
	if (!root)
		return -1;
	rel = fx_arena_printf(r->arena, "%s/products/%s/movements/%s", root, product_id, id);
	if (!rel)
		return fx_err_set(e, FX_INTERNAL, "out of request memory");
	fx_value_map(&mv);
	fx_map_set_str(&mv, "productId", product_id);
	fx_map_set_int(&mv, "delta", delta);
	fx_map_set_str(&mv, "reason", reason);
	if (order_id)
		fx_map_set_str(&mv, "orderId", order_id);
	fx_map_set_str(&mv, "note", note ? note : "");
	fx_map_set_int(&mv, "onHandAfter", on_hand_after);
	fx_map_set_str(&mv, "by", r->principal->uid);
	fx_model_map_set_now(&mv, "at");
	fx_tenant_stamp(r, &mv);
	name = fx_tenant_name(rel);
	rc = fx_fswrite_create(writes, name, &mv, NULL, e);
	if (rc == 0 && out) {
		struct fx_doc d = {0};

		d.id = id;
		d.fields = mv;
		*out = fx_model_doc_json(&d, hidden);
		json_object_object_del(*out, "etag"); /* movements never change */
	}
	free(name);
	fx_value_cleanup(&mv);
	return rc;
}

int fx_stock_adjust(const struct fx_req *r, json_object *writes, const struct fx_doc *product, int64_t delta,
		    const char *reason, const char *note, const char *field, int64_t *after, json_object **out,
		    struct fx_err *e)
{
	int64_t on_hand = fx_stock(product, "onHand"), reserved = fx_stock(product, "reserved");

	switch (fx_product_adjust(on_hand, reserved, delta, after)) {
	case FX_PRODUCT_ADJUST_BELOW_RESERVED:
		fx_err_set(e, FX_FAILED_PRECONDITION, "on hand would drop below reserved (%lld on hand, %lld reserved)",
			   (long long)on_hand, (long long)reserved);
		fx_err_detail(e, field, "must keep onHand at or above reserved");
		return -1;
	case FX_PRODUCT_ADJUST_ABOVE_MAX:
		return fx_err_invalid(e, field, "would take onHand above %lld", FX_PRODUCT_MAX_STOCK);
	case FX_PRODUCT_ADJUST_OK: break;
	}
	if (fx_stock_write(r, writes, product, *after, reserved, e) < 0)
		return -1;
	return fx_stock_movement_write(r, writes, product->id, delta, reason, NULL, note, *after, out, e);
}
