/*
 * fx_productdoc: the one home of every rule a product's fields follow when
 * a manager writes them, shared by POST/PATCH /v1/products (handlers/products.c)
 * and the CSV importer (lib/importer.c): decoding and validating the
 * fields (SKU and its uniqueness key, name, description, category, brand,
 * barcode with its GS1 check digit (lib/barcode), prices, status, attributes,
 * reorder point), the search fields
 * derived from name and SKU, the defaults of a new product, and the
 * Firestore writes that create or update one with its SKU index document
 * (organizations/{org}/skus/{fx_model_sku_id}). Everything is borrowed;
 * maps the caller passes stay the caller's (fx_value_cleanup).
 */
#ifndef FX_PRODUCTDOC_H
#define FX_PRODUCTDOC_H

#include "err.h"
#include "firestore.h"
#include "value.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fx_req;

#define FX_PRODUCTDOC_MAX_PRICE_CENTS 100000000000LL /* R1 billion */
#define FX_PRODUCTDOC_MAX_ATTRIBUTES 50
#define FX_PRODUCTDOC_MAX_Q 40 /* characters of a ?q= search prefix */
#define FX_PRODUCTDOC_MASK_MAX 40 /* paths an update may write */

/* draft, active, archived (NULL-terminated). */
extern const char *const fx_productdoc_statuses[];
/* The JSON fields a manager may give on create and update (NULL-terminated). */
extern const char *const fx_productdoc_allowed[];
/* Server bookkeeping a product answer never shows (NULL-terminated). */
extern const char *const fx_productdoc_hidden[];

/* A decoded input: the fields given, their mask, and stock.reorderPoint apart (stock is written whole). */
struct fx_productdoc {
	struct fx_value map; /* FX_V_MAP of the fields given (sku also gives skuKey) */
	const char *mask[FX_PRODUCTDOC_MASK_MAX]; /* the paths given, static strings */
	size_t nmask;
	int64_t reorder;
	bool has_reorder;
};

/* Frees what d holds and zeroes it; accepts a zeroed struct. */
void fx_productdoc_cleanup(struct fx_productdoc *d);

/*
 * Decodes and validates in (a JSON object whose keys the caller has already
 * checked against fx_productdoc_allowed) into *d (zeroed by the caller):
 * creating requires sku, name and priceCents; an update refuses a null
 * name. Every refusal is 400 INVALID_ARGUMENT naming the JSON field
 * ("priceCents", "stock.reorderPoint", "attributes.<name>").
 */
FX_MUST_USE int fx_productdoc_decode(json_object *in, bool creating, struct fx_productdoc *d, struct fx_err *e);

/* A copy of n bytes of s with ASCII letters lower-cased (what ?q= compares); caller frees. */
char *fx_productdoc_lower(const char *s, size_t n);

/*
 * Sets map's searchPrefixes (the lower-cased prefixes of name and SKU that
 * ?q= matches, up to FX_PRODUCTDOC_MAX_Q characters each) and nameLower,
 * from map's name and sku.
 */
void fx_productdoc_set_search(struct fx_value *map);

/* The tenant path of sku's index document (request arena); NULL with e set. */
FX_MUST_USE const char *fx_productdoc_sku_path(const struct fx_req *r, const char *sku, struct fx_err *e);

/*
 * Completes d's map into a whole new product of r's organization: status
 * draft unless given, currency, no images, stock zero with d's reorder
 * point (default_reorder when d has none), search fields, organizationId,
 * createdAt and updatedAt. Cannot fail.
 */
void fx_productdoc_complete_new(const struct fx_req *r, struct fx_productdoc *d, int64_t default_reorder);

/*
 * The organization's settings.lowStockDefault into *reorder (left as it is
 * when the organization has none or cannot be read). -1 only when the
 * request arena is spent.
 */
FX_MUST_USE int fx_productdoc_default_reorder(const struct fx_req *r, int64_t *reorder, struct fx_err *e);

/*
 * Appends the creation of a new product with the fields of map (complete:
 * fx_productdoc_complete_new) under a new id (written into id) and of its
 * SKU index document, both exists:false, to writes: two writes, committed
 * together, so a SKU that is taken fails the commit with 409
 * ALREADY_EXISTS. On failure writes is unchanged.
 */
FX_MUST_USE int fx_productdoc_create_writes(const struct fx_req *r, json_object *writes, const struct fx_value *map,
					    char id[21], struct fx_err *e);

/*
 * Appends the update of product (as read, its update_time the precondition)
 * with d's fields to writes: the SKU index follows a new SKU (the new one
 * created exists:false, the old one deleted) or a new spelling of the same
 * one (set), the search fields follow name and SKU, stock is rewritten
 * with the new reorder point, and updatedAt is now. rel is product's
 * tenant path. An empty update_time makes the precondition exists:true
 * only (for a write that follows, in the same commit, one that carries
 * the version). At most three writes. On failure writes may hold some of
 * them: discard it.
 */
FX_MUST_USE int fx_productdoc_update_writes(const struct fx_req *r, json_object *writes, const char *rel,
					    const struct fx_doc *product, const struct fx_productdoc *d,
					    struct fx_err *e);

/*
 * Whether applying d to product would change nothing: every field d gives
 * equals product's (absent equals absent; the SKU compares exactly, so a new
 * spelling is a change), and so does the reorder point when d gives one.
 */
bool fx_productdoc_unchanged(const struct fx_doc *product, const struct fx_productdoc *d);

#endif
