#include "productdoc.h"

#include "barcode.h"
#include "defaults.h"
#include "fswrite.h"
#include "http.h"
#include "json.h"
#include "map.h"
#include "mem.h"
#include "model.h"
#include "product.h"
#include "stock.h"
#include "str.h"
#include "tenant.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

const char *const fx_productdoc_statuses[] = {"draft", "active", "archived", NULL};
const char *const fx_productdoc_allowed[] = {"sku",	   "name",	"description", "category",   "brand", "barcode",
					     "priceCents", "costCents", "status",      "attributes", "stock", NULL};
const char *const fx_productdoc_hidden[] = {"organizationId", "nameLower", "skuKey",
					    "searchPrefixes", "listings",  NULL};

void fx_productdoc_cleanup(struct fx_productdoc *d)
{
	if (!d)
		return;
	fx_value_cleanup(&d->map);
	memset(d, 0, sizeof(*d));
}

/* Adds path to d's mask unless it is there already. */
static void add_mask(const char **mask, size_t *n, const char *path)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp(mask[i], path) == 0)
			return;
	mask[(*n)++] = path;
}

/*
 * SKU: 1..64 of [A-Za-z0-9._-]. skuKey ("s_" and the lower-cased SKU)
 * orders lists and says when a SKU changed; the index document's id is
 * fx_model_sku_id (the same for SKUs without '.').
 */
static int take_sku(json_object *in, bool required, struct fx_value *map, struct fx_err *e)
{
	const char *s;
	bool present;
	char key[80];

	if (fx_json_string(in, "sku", "sku", required, 1, FX_PRODUCT_SKU_MAX, &s, &present, e) < 0)
		return -1;
	if (!present)
		return 0;
	if (!fx_product_sku_valid(s))
		return fx_err_invalid(e, "sku", "may hold only letters, digits, '.', '_' and '-'");
	if (fx_product_sku_key(s, key, sizeof(key)) < 0)
		return fx_err_invalid(e, "sku", "must be at most %d characters", FX_PRODUCT_SKU_MAX);
	fx_map_set_str(map, "sku", s);
	fx_map_set_str(map, "skuKey", key);
	return 0;
}

/* attributes: a flat object of at most 50 string values. */
static int take_attributes(json_object *in, struct fx_value *map, struct fx_err *e)
{
	json_object *attrs;
	struct fx_value *out;
	bool present;
	int n = 0;

	if (fx_json_object(in, "attributes", "attributes", false, &attrs, &present, e) < 0)
		return -1;
	if (!present)
		return 0;
	out = fx_map_set(map, "attributes");
	fx_value_map(out);
	json_object_object_foreach(attrs, key, val)
	{
		char field[96];
		const char *s;

		(void)val;
		fx_str_text(field, sizeof(field), "attributes.%.60s", key);
		if (++n > FX_PRODUCTDOC_MAX_ATTRIBUTES)
			return fx_err_invalid(e, "attributes", "must have at most %d entries",
					      FX_PRODUCTDOC_MAX_ATTRIBUTES);
		if (!*key || strlen(key) > 64)
			return fx_err_invalid(e, field, "names must be 1 to 64 characters");
		if (fx_json_string(attrs, key, field, true, 0, 500, &s, &present, e) < 0)
			return -1;
		fx_map_set_str(out, key, s);
	}
	return 0;
}

char *fx_productdoc_lower(const char *s, size_t n)
{
	char *l = fx_mem_xmalloc(n + 1);

	for (size_t i = 0; i < n; i++)
		l[i] = (char)tolower((unsigned char)s[i]);
	l[n] = '\0';
	return l;
}

void fx_productdoc_set_search(struct fx_value *map)
{
	const char *src[2] = {fx_value_path_str(map, "name"), fx_value_path_str(map, "sku")};
	struct fx_value *arr = fx_map_set(map, "searchPrefixes");
	char *name_lower = NULL;

	fx_value_array(arr);
	for (int k = 0; k < 2; k++) {
		size_t n = src[k] ? strlen(src[k]) : 0, chars = 0;
		char *l = fx_productdoc_lower(src[k] ? src[k] : "", n);

		for (size_t len = 1; len <= n && chars < FX_PRODUCTDOC_MAX_Q; len++) {
			bool dup = false;

			/* Whole UTF-8 characters only. */
			if (len < n && ((unsigned char)l[len] & 0xc0) == 0x80)
				continue;
			chars++;
			for (size_t i = 0; i < arr->u.arr.n && !dup; i++)
				dup = arr->u.arr.items[i].u.s.n == len &&
				      memcmp(arr->u.arr.items[i].u.s.p, l, len) == 0;
			if (!dup)
				fx_value_string(fx_value_push(arr), l, len);
		}
		if (k == 0 && src[0])
			name_lower = l;
		else
			free(l);
	}
	/* Only now: a new field may move the map's fields, and arr with them. */
	if (name_lower) {
		fx_map_set_str(map, "nameLower", name_lower);
		free(name_lower);
	}
}

/* The text fields a manager may set: name, description, category, brand, barcode. */
static int decode_text(json_object *in, bool creating, struct fx_productdoc *d, struct fx_err *e)
{
	const char *s;
	bool present;

#define STR(key, req, min, max)                                                            \
	do {                                                                               \
		if (fx_model_map_take_string(&d->map, in, key, key, req, min, max, e) < 0) \
			return -1;                                                         \
		if (fx_map_get(&d->map, key))                                              \
			d->mask[d->nmask++] = key;                                         \
	} while (0)
	STR("name", creating, 1, 200);
	STR("description", false, 0, 5000);
	STR("category", false, 1, 100);
	STR("brand", false, 1, 100);
#undef STR
	if (fx_json_string(in, "barcode", "barcode", false, 1, 32, &s, &present, e) < 0)
		return -1;
	if (present) {
		if (fx_barcode_validate(s, "barcode", e) < 0)
			return -1;
		fx_map_set_str(&d->map, "barcode", s);
		d->mask[d->nmask++] = "barcode";
	}
	return 0;
}

int fx_productdoc_decode(json_object *in, bool creating, struct fx_productdoc *d, struct fx_err *e)
{
	static const char *const stock_allowed[] = {"reorderPoint", NULL};
	json_object *stock;
	const char *s;
	bool present;
	int64_t n;

	fx_value_map(&d->map);
	d->nmask = 0;
	if (decode_text(in, creating, d, e) < 0 || take_sku(in, creating, &d->map, e) < 0)
		return -1;
	if (!creating && json_object_object_get_ex(in, "name", NULL) && !fx_map_get(&d->map, "name"))
		return fx_err_invalid(e, "name", "must not be null");
	if (fx_map_get(&d->map, "sku")) {
		d->mask[d->nmask++] = "sku";
		d->mask[d->nmask++] = "skuKey";
	}
	if (fx_json_int64(in, "priceCents", "priceCents", creating, 0, FX_PRODUCTDOC_MAX_PRICE_CENTS, &n, &present, e) <
	    0)
		return -1;
	if (present) {
		fx_map_set_int(&d->map, "priceCents", n);
		d->mask[d->nmask++] = "priceCents";
	}
	if (fx_json_int64(in, "costCents", "costCents", false, 0, FX_PRODUCTDOC_MAX_PRICE_CENTS, &n, &present, e) < 0)
		return -1;
	if (present) {
		fx_map_set_int(&d->map, "costCents", n);
		d->mask[d->nmask++] = "costCents";
	}
	if (fx_json_string(in, "status", "status", false, 1, 16, &s, &present, e) < 0)
		return -1;
	if (present) {
		if (fx_json_enum_index(s, fx_productdoc_statuses) < 0)
			return fx_err_invalid(e, "status", "must be draft, active or archived");
		fx_map_set_str(&d->map, "status", s);
		d->mask[d->nmask++] = "status";
	}
	if (take_attributes(in, &d->map, e) < 0)
		return -1;
	if (fx_map_get(&d->map, "attributes"))
		d->mask[d->nmask++] = "attributes";
	d->has_reorder = false;
	if (fx_json_object(in, "stock", "stock", false, &stock, &present, e) < 0)
		return -1;
	if (present) {
		/* onHand, reserved and available change only through stock:adjust and orders. */
		if (fx_json_allow(stock, stock_allowed, "stock.", e) < 0 ||
		    fx_json_int64(stock, "reorderPoint", "stock.reorderPoint", false, 0, FX_PRODUCT_MAX_STOCK,
				  &d->reorder, &d->has_reorder, e) < 0)
			return -1;
	}
	return 0;
}

const char *fx_productdoc_sku_path(const struct fx_req *r, const char *sku, struct fx_err *e)
{
	char id[200];

	if (!sku || fx_model_sku_id(sku, id, sizeof(id)) < 0)
		return fx_err_set(e, FX_INTERNAL, "SKU %.80s has no index id", sku ? sku : "(none)"), NULL;
	return fx_tenant_path(r, NULL, "skus", id, "sku", e);
}

/* The SKU index document of product_id: {productId, sku} stamped with the organization. */
static void sku_index(const struct fx_req *r, const char *product_id, const char *sku, struct fx_value *index)
{
	fx_value_map(index);
	fx_map_set_str(index, "productId", product_id);
	fx_map_set_str(index, "sku", sku);
	fx_tenant_stamp(r, index);
}

int fx_productdoc_default_reorder(const struct fx_req *r, int64_t *reorder, struct fx_err *e)
{
	struct fx_doc org = {0};
	struct fx_err ignored;
	const char *root = fx_tenant_root(r, e);

	if (!root)
		return -1;
	fx_err_clear(&ignored);
	if (fx_firestore_get(root, &org, &ignored) == 0)
		fx_value_path_int(&org.fields, "settings.lowStockDefault", reorder);
	fx_firestore_doc_cleanup(&org);
	return 0;
}

void fx_productdoc_complete_new(const struct fx_req *r, struct fx_productdoc *d, int64_t default_reorder)
{
	struct fx_value *map = &d->map;

	if (!fx_map_get(map, "status"))
		fx_map_set_str(map, "status", "draft");
	fx_map_set_str(map, "currency", FX_DEFAULT_CURRENCY);
	fx_value_array(fx_map_set(map, "images"));
	fx_stock_set(map, 0, 0, d->has_reorder ? d->reorder : default_reorder);
	fx_productdoc_set_search(map);
	fx_tenant_stamp(r, map);
	fx_model_map_set_now(map, "createdAt");
	fx_model_map_set_now(map, "updatedAt");
}

int fx_productdoc_create_writes(const struct fx_req *r, json_object *writes, const struct fx_value *map, char id[21],
				struct fx_err *e)
{
	const char *sku = fx_value_path_str(map, "sku"), *rel, *sku_rel;
	struct fx_value index = {0};
	size_t before = json_object_array_length(writes);
	char *name = NULL, *sku_name = NULL;
	int rc = -1;

	fx_model_id_new(id);
	rel = fx_tenant_path(r, NULL, "products", id, "product", e);
	sku_rel = rel ? fx_productdoc_sku_path(r, sku, e) : NULL;
	if (!rel || !sku_rel)
		return -1;
	sku_index(r, id, sku, &index);
	name = fx_tenant_name(rel);
	sku_name = fx_tenant_name(sku_rel);
	if (fx_fswrite_create(writes, sku_name, &index, NULL, e) < 0 ||
	    fx_fswrite_create(writes, name, map, NULL, e) < 0) {
		if (json_object_array_length(writes) > before)
			json_object_array_del_idx(writes, before, json_object_array_length(writes) - before);
		goto out;
	}
	rc = 0;
out:
	fx_value_cleanup(&index);
	free(name);
	free(sku_name);
	return rc;
}

/*
 * Appends the writes that keep the SKU index in step when d gives product
 * a new SKU: a new SKU claims its index document and releases the old one;
 * the same SKU in another case keeps its entry, which then says the new
 * spelling. Nothing when the SKU stays as it is.
 */
static int reindex_sku(const struct fx_req *r, json_object *writes, const struct fx_doc *product,
		       const struct fx_value *input, struct fx_err *e)
{
	const char *new_key = fx_value_path_str(input, "skuKey"),
		   *old_key = fx_value_path_str(&product->fields, "skuKey");
	const char *sku = fx_value_path_str(input, "sku"), *old_sku = fx_value_path_str(&product->fields, "sku");
	const char *new_rel, *old_rel = NULL;
	struct fx_value index = {0};
	char *new_name, *old_name = NULL;
	bool moved;
	int rc;

	if (!new_key || !old_key)
		return 0;
	moved = strcmp(new_key, old_key) != 0;
	if (!moved && (!old_sku || strcmp(sku, old_sku) == 0))
		return 0;
	new_rel = fx_productdoc_sku_path(r, sku, e);
	if (!new_rel || (moved && !(old_rel = fx_productdoc_sku_path(r, old_sku, e))))
		return -1;
	sku_index(r, product->id, sku, &index);
	new_name = fx_tenant_name(new_rel);
	if (moved) {
		old_name = fx_tenant_name(old_rel);
		rc = fx_fswrite_create(writes, new_name, &index, NULL, e);
		if (rc == 0)
			rc = fx_fswrite_delete(writes, old_name, -1, NULL, e);
	} else {
		rc = fx_fswrite_set(writes, new_name, &index, NULL, e);
	}
	free(new_name);
	free(old_name);
	fx_value_cleanup(&index);
	return rc;
}

int fx_productdoc_update_writes(const struct fx_req *r, json_object *writes, const char *rel,
				const struct fx_doc *product, const struct fx_productdoc *d, struct fx_err *e)
{
	const char *mask[FX_PRODUCTDOC_MASK_MAX + 10];
	struct fx_value map = {0};
	char *name = NULL;
	size_t nmask = d->nmask;
	int rc = -1;

	/* Everything written comes from d and this read, in a map of its own (a retry reads again). */
	if (fx_str_mem_copy(mask, sizeof(mask), d->mask, nmask * sizeof(*mask)) < 0)
		return fx_err_set(e, FX_INTERNAL, "update mask over %zu fields", sizeof(mask) / sizeof(mask[0]));
	fx_value_copy(&map, &d->map);
	if (reindex_sku(r, writes, product, &d->map, e) < 0)
		goto out;
	if (fx_map_get(&map, "name") || fx_map_get(&map, "sku")) {
		/* Search keys follow the (possibly new) name and SKU, the other one as read now. */
		if (!fx_map_get(&map, "name"))
			fx_map_set_str(&map, "name", fx_value_path_str(&product->fields, "name"));
		if (!fx_map_get(&map, "sku"))
			fx_map_set_str(&map, "sku", fx_value_path_str(&product->fields, "sku"));
		fx_productdoc_set_search(&map);
		add_mask(mask, &nmask, "name");
		add_mask(mask, &nmask, "sku");
		add_mask(mask, &nmask, "nameLower");
		add_mask(mask, &nmask, "searchPrefixes");
	}
	if (d->has_reorder) {
		fx_stock_set(&map, fx_stock(product, "onHand"), fx_stock(product, "reserved"), d->reorder);
		add_mask(mask, &nmask, "stock");
		add_mask(mask, &nmask, "lowStock");
	}
	fx_model_map_set_now(&map, "updatedAt");
	add_mask(mask, &nmask, "updatedAt");
	mask[nmask] = NULL;
	name = fx_tenant_name(rel);
	rc = fx_fswrite_update(writes, name, &map, mask, product->update_time[0] ? product->update_time : NULL, NULL,
			       e);
out:
	free(name);
	fx_value_cleanup(&map);
	return rc;
}

/* fx_value_equal, but maps compare by field name whatever their order (Firestore answers them sorted). */
static bool same(const struct fx_value *a, const struct fx_value *b)
{
	if (a->type != FX_V_MAP || b->type != FX_V_MAP)
		return fx_value_equal(a, b);
	if (a->u.map.n != b->u.map.n)
		return false;
	for (size_t i = 0; i < a->u.map.n; i++) {
		const char *name = a->u.map.fields[i].name;
		const struct fx_value *other = fx_value_field(b, name, strlen(name));

		if (!other || !same(&a->u.map.fields[i].value, other))
			return false;
	}
	return true;
}

bool fx_productdoc_unchanged(const struct fx_doc *product, const struct fx_productdoc *d)
{
	for (size_t i = 0; i < d->nmask; i++) {
		const struct fx_value *a = fx_value_path(&d->map, d->mask[i]);
		const struct fx_value *b = fx_value_path(&product->fields, d->mask[i]);

		if (!a != !b || (a && !same(a, b)))
			return false;
	}
	return !d->has_reorder || fx_stock(product, "reorderPoint") == d->reorder;
}
