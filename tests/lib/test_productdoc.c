/*
 * lib/productdoc: the product rules POST/PATCH /v1/products and the CSV
 * importer share (decoding, search fields, "would this change anything").
 */
#include "firestore.h"
#include "map.h"
#include "productdoc.h"
#include "value.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static json_object *parse(const char *s)
{
	json_object *o = json_tokener_parse(s);

	cr_assert_not_null(o, "test JSON parses: %s", s);
	return o;
}

/* Decodes s; returns the detail field of the refusal, or "" when accepted. */
static const char *refusal(const char *s, bool creating)
{
	static char field[128];
	struct fx_productdoc d = {0};
	struct fx_err e;
	json_object *in = parse(s);
	int rc;

	fx_err_clear(&e);
	rc = fx_productdoc_decode(in, creating, &d, &e);
	field[0] = '\0';
	if (rc < 0) {
		cr_assert_eq(e.ndetails > 0, true, "%s: a refusal names its field (%s)", s, e.message);
		snprintf(field, sizeof(field), "%s", e.details[0].field);
	}
	json_object_put(in);
	fx_productdoc_cleanup(&d);
	return field;
}

Test(productdoc, creating_needs_sku_name_and_price)
{
	cr_assert_str_eq(refusal("{\"name\":\"x\",\"priceCents\":1}", true), "sku");
	cr_assert_str_eq(refusal("{\"sku\":\"A\",\"priceCents\":1}", true), "name");
	cr_assert_str_eq(refusal("{\"sku\":\"A\",\"name\":\"x\"}", true), "priceCents");
	cr_assert_str_eq(refusal("{\"sku\":\"A\",\"name\":\"x\",\"priceCents\":1}", true), "");
	/* An update names only what changes, but a name cannot be removed. */
	cr_assert_str_eq(refusal("{\"priceCents\":5}", false), "");
	cr_assert_str_eq(refusal("{\"name\":null}", false), "name");
}

Test(productdoc, every_field_rule_names_its_field)
{
	cr_assert_str_eq(refusal("{\"sku\":\"a b\"}", false), "sku");
	cr_assert_str_eq(refusal("{\"priceCents\":-1}", false), "priceCents");
	cr_assert_str_eq(refusal("{\"priceCents\":100000000001}", false), "priceCents");
	cr_assert_str_eq(refusal("{\"costCents\":-1}", false), "costCents");
	cr_assert_str_eq(refusal("{\"status\":\"sold\"}", false), "status");
	cr_assert_str_eq(refusal("{\"attributes\":{\"size\":3}}", false), "attributes.size");
	cr_assert_str_eq(refusal("{\"stock\":{\"onHand\":3}}", false), "stock.onHand");
	cr_assert_str_eq(refusal("{\"stock\":{\"reorderPoint\":-1}}", false), "stock.reorderPoint");
}

Test(productdoc, barcodes_need_their_gs1_check_digit)
{
	/* 6001234567899: EAN-13 whose check digit 9 the first twelve digits give; 036000291452: UPC-A. */
	cr_assert_str_eq(refusal("{\"barcode\":\"6001234567899\"}", false), "");
	cr_assert_str_eq(refusal("{\"barcode\":\"036000291452\"}", false), "");
	cr_assert_str_eq(refusal("{\"barcode\":\"6001234567890\"}", false), "barcode");
	cr_assert_str_eq(refusal("{\"barcode\":\"12345\"}", false), "barcode");
	cr_assert_str_eq(refusal("{\"barcode\":\"60012345678x9\"}", false), "barcode");
}

Test(productdoc, search_prefixes_follow_name_and_sku_lower_cased)
{
	struct fx_value map = {0};
	const struct fx_value *arr;

	fx_value_map(&map);
	fx_map_set_str(&map, "name", "Ab");
	fx_map_set_str(&map, "sku", "AX-1");
	fx_productdoc_set_search(&map);
	cr_assert_str_eq(fx_value_path_str(&map, "nameLower"), "ab");
	arr = fx_map_get(&map, "searchPrefixes");
	cr_assert_not_null(arr);
	/* a, ab, then ax, ax-, ax-1 ("a" once). */
	cr_assert_eq(arr->u.arr.n, 5);
	cr_assert_eq(arr->u.arr.items[4].u.s.n, 4);
	cr_assert_eq(memcmp(arr->u.arr.items[4].u.s.p, "ax-1", 4), 0);
	fx_value_cleanup(&map);
}

/* A stored product as the importer reads it. */
static void stored(struct fx_doc *doc)
{
	struct fx_value *attrs, *stock;

	memset(doc, 0, sizeof(*doc));
	fx_value_map(&doc->fields);
	fx_map_set_str(&doc->fields, "sku", "TEE-1");
	fx_map_set_str(&doc->fields, "skuKey", "s_tee-1");
	fx_map_set_str(&doc->fields, "name", "T-shirt");
	fx_map_set_int(&doc->fields, "priceCents", 14999);
	attrs = fx_map_set(&doc->fields, "attributes");
	fx_value_map(attrs);
	/* Firestore answers map fields sorted by name. */
	fx_map_set_str(attrs, "colour", "red");
	fx_map_set_str(attrs, "size", "L");
	stock = fx_map_set(&doc->fields, "stock");
	fx_value_map(stock);
	fx_map_set_int(stock, "reorderPoint", 5);
}

static bool unchanged(const char *s)
{
	struct fx_productdoc d = {0};
	struct fx_doc doc;
	struct fx_err e;
	json_object *in = parse(s);
	bool same;

	stored(&doc);
	fx_err_clear(&e);
	cr_assert_eq(fx_productdoc_decode(in, false, &d, &e), 0, "%s: %s", s, e.message);
	same = fx_productdoc_unchanged(&doc, &d);
	json_object_put(in);
	fx_productdoc_cleanup(&d);
	fx_value_cleanup(&doc.fields);
	return same;
}

Test(productdoc, unchanged_compares_only_the_fields_given)
{
	cr_assert(unchanged("{\"sku\":\"TEE-1\",\"name\":\"T-shirt\",\"priceCents\":14999}"));
	cr_assert(unchanged("{\"sku\":\"TEE-1\",\"stock\":{\"reorderPoint\":5}}"));
	/* Attributes compare as maps, whatever order the input names them in. */
	cr_assert(unchanged("{\"attributes\":{\"size\":\"L\",\"colour\":\"red\"}}"));
	cr_assert_not(unchanged("{\"attributes\":{\"colour\":\"red\"}}"));
	cr_assert_not(unchanged("{\"priceCents\":15000}"));
	cr_assert_not(unchanged("{\"stock\":{\"reorderPoint\":6}}"));
	cr_assert_not(unchanged("{\"description\":\"new\"}"), "a field the product lacks is a change");
	/* A new spelling of the same SKU is a change (the index then says it). */
	cr_assert_not(unchanged("{\"sku\":\"tee-1\"}"));
}
