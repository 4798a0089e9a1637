/*
 * products: the catalogue and its stock. Documents, all below
 * organizations/{org}: products/{id}, products/{id}/movements/{id},
 * skus/{sku-key} (one per SKU: uniqueness under concurrent creates),
 * idempotency/{key-hash} (stock:adjust retries, 24 h).
 */
#include "authz.h"
#include "barcode.h"
#include "buf.h"
#include "csv.h"
#include "defaults.h"
#include "firestore.h"
#include "files.h"
#include "fsquery.h"
#include "fswrite.h"
#include "http.h"
#include "idempotency.h"
#include "json.h"
#include "keylock.h"
#include "log.h"
#include "map.h"
#include "mem.h"
#include "model.h"
#include "patch.h"
#include "product.h"
#include "productdoc.h"
#include "stock.h"
#include "str.h"
#include "tenant.h"
#include "worker.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int list(struct fx_req *r, struct fx_err *e);
static int create(struct fx_req *r, struct fx_err *e);
static int get(struct fx_req *r, struct fx_err *e);
static int update(struct fx_req *r, struct fx_err *e);
static int destroy(struct fx_req *r, struct fx_err *e);
static int adjust(struct fx_req *r, struct fx_err *e);
static int movements(struct fx_req *r, struct fx_err *e);
static int attach_image(struct fx_req *r, struct fx_err *e);
static int detach_image(struct fx_req *r, struct fx_err *e);
static int export_csv(struct fx_req *r, struct fx_err *e);

static const struct fx_route routes[] = {
	{"GET", "/v1/products", list, FX_MEMBER, FX_ROLE_VIEWER, 0, 0},
	{"GET", "/v1/products:export", export_csv, FX_MEMBER, FX_ROLE_VIEWER, 0, 0},
	{"POST", "/v1/products", create, FX_MEMBER, FX_ROLE_MANAGER, FX_BODY_JSON, 0},
	{"GET", "/v1/products/{id}", get, FX_MEMBER, FX_ROLE_VIEWER, 0, 0},
	{"PATCH", "/v1/products/{id}", update, FX_MEMBER, FX_ROLE_MANAGER, FX_BODY_JSON, 0},
	{"DELETE", "/v1/products/{id}", destroy, FX_MEMBER, FX_ROLE_MANAGER, 0, 0},
	{"POST", "/v1/products/{id}/stock:adjust", adjust, FX_MEMBER, FX_ROLE_STAFF, FX_BODY_JSON, 0},
	{"GET", "/v1/products/{id}/movements", movements, FX_MEMBER, FX_ROLE_VIEWER, 0, 0},
	{"POST", "/v1/products/{id}/images", attach_image, FX_MEMBER, FX_ROLE_MANAGER, FX_BODY_JSON, 0},
	{"DELETE", "/v1/products/{id}/images/{fileId}", detach_image, FX_MEMBER, FX_ROLE_MANAGER, 0, 0},
};

#define MAX_IMAGES 20

/* Server bookkeeping that the API does not show. */
static const char *const *const hidden = fx_productdoc_hidden;
/*
 * What a read asks Firestore for (documents.get mask, runQuery select): the
 * contract's fields, then what the read itself needs (the tenant check; a
 * list's order fields for its next page token). searchPrefixes, up to 80
 * strings per product, is never read back: reading it cost the emulator
 * and the worker more than everything else in a list.
 */
#define CONTRACT_FIELDS                                                                                                \
	"sku", "name", "description", "category", "brand", "barcode", "priceCents", "costCents", "currency", "status", \
		"attributes", "images", "stock", "lowStock", "createdAt", "updatedAt"
static const char *const get_mask[] = {CONTRACT_FIELDS, "organizationId", NULL};
/* A list's select: the contract's fields and, when its order is not among them, its order field (list). */
static const char *const list_select[] = {CONTRACT_FIELDS, NULL};
/*
 * What PATCH reads in its transaction: what it answers (a GET's fields) and
 * what fx_productdoc_update_writes reads of the product (name, sku, skuKey,
 * stock). The search fields are rewritten from the map, never read. The
 * read locks and versions the whole document as an unmasked one does.
 */
static const char *const update_read_mask[] = {CONTRACT_FIELDS, "organizationId", "skuKey", NULL};
/*
 * The names of a product document's fields, kept once for the process
 * (fx_value_keep_names): every read decodes them, 16 per listed product,
 * and a copy of each was two thirds of a product's allocations.
 */
static const char *const kept_names[] = {
	CONTRACT_FIELDS, "organizationId", "nameLower", "skuKey",	"searchPrefixes",
	"onHand",	 "reserved",	   "available", "reorderPoint", NULL};
#undef CONTRACT_FIELDS

/*
 * Creates the product of d (complete) under a new id (*rel its path) and
 * its SKU index document, which must not exist yet, in one commit: a taken
 * SKU is 409 ALREADY_EXISTS naming it.
 */
static int write_new(struct fx_req *r, const struct fx_productdoc *d, char *id, const char **rel, char update_time[40],
		     struct fx_err *e)
{
	json_object *writes = json_object_new_array();
	char(*times)[40] = NULL;
	size_t n;
	int rc = -1;

	if (fx_productdoc_create_writes(r, writes, &d->map, id, e) < 0)
		goto out;
	*rel = fx_tenant_path(r, NULL, "products", id, "product", e);
	if (!*rel)
		goto out;
	n = json_object_array_length(writes);
	times = fx_mem_xcalloc(n, sizeof(*times));
	if (fx_firestore_commit(writes, NULL, NULL, times, e) < 0) {
		if (fx_err_is(e, FX_ALREADY_EXISTS)) {
			fx_err_clear(e);
			fx_err_set(e, FX_ALREADY_EXISTS, "a product with SKU %s exists",
				   fx_value_path_str(&d->map, "sku"));
			fx_err_detail(e, "sku", "must be unique in the organization");
		}
		goto out;
	}
	/* The product's create is the last write (after its SKU index's). */
	if (fx_str_set(update_time, 40, times[n - 1]) < 0) {
		fx_err_set(e, FX_INTERNAL, "the commit did not answer the product's write");
		goto out;
	}
	rc = 0;
out:
	free(times);
	json_object_put(writes);
	return rc;
}

static int create(struct fx_req *r, struct fx_err *e)
{
	struct fx_productdoc d = {0};
	struct fx_doc doc = {0};
	json_object *in = NULL;
	const char *rel;
	int64_t reorder = 0;
	char id[FX_ID_LEN + 1], location[128];
	int rc = -1;

	if (fx_http_req_json(r, false, &in, e) < 0 || fx_json_allow(in, fx_productdoc_allowed, "", e) < 0 ||
	    fx_productdoc_decode(in, true, &d, e) < 0)
		goto out;
	if (!d.has_reorder && fx_productdoc_default_reorder(r, &reorder, e) < 0)
		goto out;
	fx_productdoc_complete_new(r, &d, reorder);
	if (write_new(r, &d, id, &rel, doc.update_time, e) < 0)
		goto out;
	/* The new product as a GET shows it, without reading it back: the fields written (no server transforms), the commit's version. */
	doc.id = id;
	fx_value_copy(&doc.fields, &d.map);
	FX_ARRAY_COPY(doc.create_time, doc.update_time);
	fx_model_doc_select(&doc, get_mask);
	if (fx_str_fmt(location, sizeof(location), "/v1/products/%s", id) < 0) {
		fx_err_set(e, FX_INTERNAL, "product id over %zu bytes", sizeof(location));
		goto out;
	}
	fx_http_resp_header(r, "Location", location);
	rc = fx_model_resp_doc(r, 201, &doc, hidden);
out:
	json_object_put(in);
	fx_productdoc_cleanup(&d);
	fx_firestore_doc_cleanup(&doc);
	return rc;
}

static int get(struct fx_req *r, struct fx_err *e)
{
	const char *rel = fx_tenant_path(r, NULL, "products", fx_http_req_param(r, "id"), "product", e);
	struct fx_doc doc = {0};
	int rc;

	if (!rel || fx_tenant_get_mask(r, rel, "product", get_mask, &doc, e) < 0)
		return -1;
	rc = fx_model_resp_doc(r, 200, &doc, hidden);
	fx_firestore_doc_cleanup(&doc);
	return rc;
}

struct update_ctx {
	struct fx_req *r;
	const char *rel;
	const struct fx_productdoc *input; /* the fields the client gave, never changed by an attempt */
	const char *if_match;
	struct fx_doc after; /* the product as the committing attempt leaves it */
	size_t product_write; /* its write's index in the commit */
	bool after_known; /* false: its write is not one whose result the worker can tell (read it) */
};

/*
 * Runs once per attempt: everything written is derived from the input and
 * from this attempt's read (fx_productdoc_update_writes), so a retry after
 * ABORTED never writes back what an earlier attempt read (a name or SKU
 * that a concurrent change has replaced since).
 */
static int update_txn(struct fx_txn *t, void *arg, struct fx_err *e)
{
	struct update_ctx *c = arg;
	struct fx_doc doc = {0};
	int rc;

	fx_firestore_doc_cleanup(&c->after);
	c->after_known = false;
	if (fx_firestore_txn_batch_get(t, &c->rel, 1, update_read_mask, &doc, e) < 0)
		return -1;
	if (!fx_tenant_owns(c->r, &doc)) {
		fx_firestore_doc_cleanup(&doc);
		return fx_err_set(e, FX_NOT_FOUND, "%s not found", "product");
	}
	if (fx_patch_if_match(c->if_match, &doc, "product", e) < 0) {
		fx_firestore_doc_cleanup(&doc);
		return -1;
	}
	rc = fx_productdoc_update_writes(c->r, t->writes, c->rel, &doc, c->input, e);
	/* The product's write is the last one (after its SKU index's): what a read returns once it commits. */
	if (rc == 0 && json_object_array_length(t->writes) > 0) {
		c->product_write = json_object_array_length(t->writes) - 1;
		rc = fx_model_doc_written(&doc, json_object_array_get_idx(t->writes, c->product_write), e);
		c->after_known = rc == 0;
		if (rc == 0) {
			c->after = doc;
			memset(&doc, 0, sizeof(doc));
		}
		rc = rc < 0 ? -1 : 0;
	}
	fx_firestore_doc_cleanup(&doc);
	return rc;
}

static int update(struct fx_req *r, struct fx_err *e)
{
	struct update_ctx c = {0};
	struct fx_productdoc d = {0};
	struct fx_txn_result res = {0};
	struct fx_doc doc = {0};
	json_object *in = NULL;
	int rc = -1;

	c.rel = fx_tenant_path(r, NULL, "products", fx_http_req_param(r, "id"), "product", e);
	if (!c.rel || fx_model_if_match(r, &c.if_match, e) < 0)
		return -1;
	if (fx_http_req_json(r, false, &in, e) < 0 || fx_json_allow(in, fx_productdoc_allowed, "", e) < 0 ||
	    fx_productdoc_decode(in, false, &d, e) < 0)
		goto out;
	c.r = r;
	c.input = &d;
	if (fx_firestore_run_transaction_ex(update_txn, &c, &res, e) < 0) {
		if (fx_err_is(e, FX_ALREADY_EXISTS)) {
			fx_err_clear(e);
			fx_err_set(e, FX_ALREADY_EXISTS, "a product with SKU %s exists",
				   fx_value_path_str(&d.map, "sku"));
			fx_err_detail(e, "sku", "must be unique in the organization");
		}
		goto out;
	}
	if (c.after_known && c.product_write < res.n) {
		/* The product as stored now, without reading it again: as read, as written, the commit's version; as a GET shows it. */
		if (fx_str_set(c.after.update_time, sizeof(c.after.update_time), res.update_times[c.product_write]) <
		    0) {
			fx_err_set(e, FX_INTERNAL, "the commit did not answer the product's write");
			goto out;
		}
		fx_model_doc_select(&c.after, get_mask);
		rc = fx_model_resp_doc(r, 200, &c.after, hidden);
		goto out;
	}
	if (fx_tenant_get_mask(r, c.rel, "product", get_mask, &doc, e) < 0)
		goto out;
	rc = fx_model_resp_doc(r, 200, &doc, hidden);
out:
	json_object_put(in);
	fx_productdoc_cleanup(&d);
	fx_firestore_doc_cleanup(&doc);
	fx_firestore_doc_cleanup(&c.after);
	fx_firestore_txn_result_cleanup(&res);
	return rc;
}

/* The image files of a deleted product may hang on another one afterwards. */
static int release_images(struct fx_req *r, struct fx_txn *t, const struct fx_doc *product, struct fx_err *e)
{
	static const char *const mask[] = {"attachedTo", NULL};
	const struct fx_value *images = fx_value_path(&product->fields, "images");
	const char *paths[MAX_IMAGES];
	struct fx_doc files[MAX_IMAGES];
	struct fx_value none = {0};
	size_t n = 0;
	int rc = 0;

	for (size_t i = 0; images && images->type == FX_V_ARRAY && i < images->u.arr.n && n < MAX_IMAGES; i++) {
		const char *id = fx_value_path_str(&images->u.arr.items[i], "fileId");

		if (!id)
			continue;
		if ((paths[n] = fx_tenant_path(r, NULL, "files", id, "file", e))) {
			n++;
		} else if (fx_err_is(e, FX_NOT_FOUND)) {
			fx_err_clear(e); /* an id no file can have: nothing hangs there */
		} else {
			return -1; /* out of request memory: the images must not stay attached silently */
		}
	}
	if (n == 0)
		return 0;
	memset(files, 0, sizeof(files));
	if (fx_firestore_batch_get(paths, n, t->id, files, e) < 0)
		return -1;
	fx_value_map(&none);
	for (size_t i = 0; i < n && rc == 0; i++) {
		const char *attached = files[i].name ? fx_value_path_str(&files[i].fields, "attachedTo") : NULL;

		if (fx_tenant_owns(r, &files[i]) && attached && strcmp(attached, product->id) == 0) {
			char *name = fx_tenant_name(paths[i]);

			/* attachedTo in the mask and absent from the fields: the field is removed. */
			rc = fx_fswrite_update(t->writes, name, &none, mask, files[i].update_time, NULL, e);
			free(name);
		}
	}
	for (size_t i = 0; i < n; i++)
		fx_firestore_doc_cleanup(&files[i]);
	fx_value_cleanup(&none);
	return rc;
}

struct destroy_ctx {
	struct fx_req *r;
	const char *rel;
	const char *if_match;
};

/* Whether channel listings link to the product (its listings refs, kept by the channels group). */
static bool listed(const struct fx_doc *doc)
{
	const struct fx_value *refs = fx_value_path(&doc->fields, "listings");

	return refs && refs->type == FX_V_ARRAY && refs->u.arr.n > 0;
}

static int destroy_txn(struct fx_txn *t, void *arg, struct fx_err *e)
{
	struct destroy_ctx *c = arg;
	const char *sku_rel = NULL;
	struct fx_doc doc = {0};
	char *name = NULL, *sku_name = NULL;
	int rc = -1;

	if (fx_tenant_txn_get(c->r, t->id, c->rel, "product", c->if_match, &doc, e) < 0)
		return -1;
	if (fx_stock(&doc, "reserved") > 0) {
		fx_err_set(e, FX_FAILED_PRECONDITION, "the product has reserved stock: open orders need it");
		goto out;
	}
	if (listed(&doc)) {
		fx_err_set(e, FX_FAILED_PRECONDITION,
			   "the product is listed on a sales channel: remove its listings first");
		fx_err_detail(e, "listings", "must be empty");
		goto out;
	}
	if (fx_value_path_str(&doc.fields, "skuKey") &&
	    !(sku_rel = fx_productdoc_sku_path(c->r, fx_value_path_str(&doc.fields, "sku"), e)))
		goto out;
	name = fx_tenant_name(c->rel);
	if (fx_fswrite_delete(t->writes, name, -1, doc.update_time, e) < 0)
		goto out;
	if (sku_rel) {
		sku_name = fx_tenant_name(sku_rel);
		if (fx_fswrite_delete(t->writes, sku_name, -1, NULL, e) < 0)
			goto out;
	}
	if (release_images(c->r, t, &doc, e) < 0)
		goto out;
	rc = 0;
out:
	free(name);
	free(sku_name);
	fx_firestore_doc_cleanup(&doc);
	return rc;
}

static int destroy(struct fx_req *r, struct fx_err *e)
{
	struct destroy_ctx c = {r, NULL, NULL};

	c.rel = fx_tenant_path(r, NULL, "products", fx_http_req_param(r, "id"), "product", e);
	if (!c.rel || fx_model_if_match(r, &c.if_match, e) < 0 || fx_firestore_run_transaction(destroy_txn, &c, e) < 0)
		return -1;
	return fx_http_resp_send(r, 204, NULL, NULL, 0);
}

struct adjust_ctx {
	struct fx_req *r;
	const char *rel;
	const char *product_id;
	int64_t delta;
	const char *reason;
	const char *note;
	const char *if_match;
	struct fx_idem idem;
	json_object *answer; /* the movement as answered */
};

static int adjust_txn(struct fx_txn *t, void *arg, struct fx_err *e)
{
	struct adjust_ctx *c = arg;
	const char *paths[2] = {c->rel, c->idem.rel};
	struct fx_doc docs[2] = {{0}};
	int64_t after = 0;
	int rc;

	json_object_put(c->answer);
	c->answer = NULL;
	if (fx_firestore_batch_get(paths, c->idem.rel ? 2 : 1, t->id, docs, e) < 0)
		return -1;
	if (c->idem.rel && (rc = fx_idempotency_check(&c->idem, &docs[1], e)) != 0) {
		rc = rc > 0 ? 0 : -1; /* a replay writes nothing */
		goto out;
	}
	rc = -1;
	if (!fx_tenant_owns(c->r, &docs[0])) {
		fx_err_set(e, FX_NOT_FOUND, "%s not found", "product");
		goto out;
	}
	if (fx_patch_if_match(c->if_match, &docs[0], "product", e) < 0)
		goto out;
	if (fx_stock_adjust(c->r, t->writes, &docs[0], c->delta, c->reason, c->note, "delta", &after, &c->answer, e) <
		    0 ||
	    fx_idempotency_store(c->r, &c->idem, t->writes, 200, c->answer, e) < 0)
		goto out;
	rc = 0;
out:
	fx_firestore_doc_cleanup(&docs[0]);
	fx_firestore_doc_cleanup(&docs[1]);
	return rc;
}

static int adjust(struct fx_req *r, struct fx_err *e)
{
	static const char *const allowed[] = {"delta", "reason", "note", NULL};
	struct adjust_ctx c = {0};
	json_object *in = NULL;
	bool present;
	int rc = -1;

	c.r = r;
	c.product_id = fx_http_req_param(r, "id");
	c.rel = fx_tenant_path(r, NULL, "products", c.product_id, "product", e);
	if (!c.rel || fx_model_if_match(r, &c.if_match, e) < 0)
		return -1;
	if (fx_http_req_json(r, false, &in, e) < 0 || fx_json_allow(in, allowed, "", e) < 0 ||
	    fx_json_int64(in, "delta", "delta", true, -FX_STOCK_MAX_DELTA, FX_STOCK_MAX_DELTA, &c.delta, &present, e) <
		    0 ||
	    fx_json_string(in, "reason", "reason", true, 1, 32, &c.reason, &present, e) < 0 ||
	    fx_json_string(in, "note", "note", false, 0, 500, &c.note, &present, e) < 0)
		goto out;
	if (c.delta == 0) {
		fx_err_invalid(e, "delta", "must not be zero");
		goto out;
	}
	if (!fx_product_adjust_reason_valid(c.reason)) {
		fx_err_invalid(e, "reason",
			       "must be one of received, sold_offline, damaged, lost, returned, "
			       "count_correction");
		goto out;
	}
	if (fx_idempotency_init(r, "stock:adjust", c.product_id, &c.idem, e) < 0)
		goto out;
	/* Adjustments of one product queue here instead of aborting each other in Firestore. */
	fx_keylock(c.rel);
	if (fx_keylock_outage(c.rel, e) < 0) {
		fx_keylock_release(c.rel);
		goto out;
	}
	rc = fx_firestore_run_transaction(adjust_txn, &c, e);
	fx_keylock_release_after(c.rel, rc < 0 ? e : NULL);
	if (rc < 0)
		goto out;
	rc = c.idem.status ? fx_http_resp_json(r, c.idem.status, c.idem.answer) : fx_http_resp_json(r, 200, c.answer);
out:
	json_object_put(in);
	json_object_put(c.answer);
	fx_idempotency_cleanup(&c.idem);
	return rc;
}

/* Whether the dotted path is one of paths[0..n) or lies below one of them ("stock.available" below "stock"). */
static bool selected(const char *const *paths, size_t n, const char *path)
{
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(paths[i]);

		if (strncmp(paths[i], path, len) == 0 && (path[len] == '\0' || path[len] == '.'))
			return true;
	}
	return false;
}

/* ?q= prefix, ?status=, ?category=, ?barcode= (exact), ?lowStock=true, ?orderBy=name|sku|createdAt|available */
static int list(struct fx_req *r, struct fx_err *e)
{
	static const char *const params[] = {"pageSize", "pageToken", "status",	 "category", "q",
					     "lowStock", "orderBy",   "barcode", NULL};
	static const char *const orders[] = {"name", "sku", "createdAt", "available", NULL};
	static const char *const order_fields[] = {"nameLower", "skuKey", "createdAt", "stock.available", NULL};
	const char *status = fx_http_req_query(r, "status"), *category = fx_http_req_query(r, "category");
	const char *q = fx_http_req_query(r, "q"), *low = fx_http_req_query(r, "lowStock");
	const char *order = fx_http_req_query(r, "orderBy"), *parent_rel, *cursor[2] = {NULL, NULL};
	const char *barcode = fx_http_req_query(r, "barcode");
	const char *select[sizeof(list_select) / sizeof(list_select[0])];
	size_t nselect = sizeof(select) / sizeof(select[0]) - 1;
	struct fx_query *query = NULL;
	struct fx_value v = {0};
	char sig[512];
	int size, oi = 0, rc = -1;

	if (fx_http_req_query_allow(r, params, e) < 0 || fx_model_page_size(r, &size, e) < 0)
		return -1;
	if (status && fx_json_enum_index(status, fx_productdoc_statuses) < 0)
		return fx_err_invalid(e, "status", "must be draft, active or archived");
	if (category && (!*category || strlen(category) > 100))
		return fx_err_invalid(e, "category", "must be 1 to 100 characters");
	if (q && (!*q || fx_json_utf8_len(q, strlen(q)) > FX_PRODUCTDOC_MAX_Q))
		return fx_err_invalid(e, "q", "must be 1 to %d characters", FX_PRODUCTDOC_MAX_Q);
	if (low && strcmp(low, "true") != 0 && strcmp(low, "false") != 0)
		return fx_err_invalid(e, "lowStock", "must be true or false");
	if (order && (oi = fx_json_enum_index(order, orders)) < 0)
		return fx_err_invalid(e, "orderBy", "must be name, sku, createdAt or available");
	/* Only a barcode that could have been stored is looked up: a scanner's misread is a 400, not an empty list. */
	if (barcode && fx_barcode_validate(barcode, "barcode", e) < 0)
		return -1;
	if (fx_str_fmt(sig, sizeof(sig), "products|%s|%s|%s|%s|%s|%s", status ? status : "", category ? category : "",
		       q ? q : "", low ? low : "", orders[oi], barcode ? barcode : "") < 0)
		return fx_err_set(e, FX_INTERNAL, "list signature over %zu bytes", sizeof(sig));
	query = fx_tenant_query(r, NULL, "products", &parent_rel, e);
	if (!query)
		return -1;
	fx_value_bool(&v, true);
	if ((status && fx_fsquery_where_str(query, "status", "==", status, e) < 0) ||
	    (category && fx_fsquery_where_str(query, "category", "==", category, e) < 0) ||
	    (barcode && fx_fsquery_where_str(query, "barcode", "==", barcode, e) < 0) ||
	    (low && strcmp(low, "true") == 0 && fx_fsquery_where(query, "lowStock", "==", &v, e) < 0))
		goto out;
	if (q) {
		/* As long as q is: 40 characters are up to 160 bytes. */
		char *lower = fx_productdoc_lower(q, strlen(q));

		rc = fx_fsquery_where_str(query, "searchPrefixes", "array-contains", lower, e);
		free(lower);
		if (rc < 0)
			goto out;
		rc = -1;
	}
	/*
	 * The page token needs the order's field of the page's last product only,
	 * and the answer never shows nameLower or skuKey: each product's other
	 * one was a string decoded, allocated and dropped.
	 */
	FX_ARRAY_COPY(select, list_select);
	if (!selected(list_select, nselect, order_fields[oi]))
		select[nselect++] = order_fields[oi];
	if (fx_fsquery_select(query, select, nselect, e) < 0)
		goto out;
	cursor[0] = order_fields[oi];
	rc = fx_model_list_ordered(r, parent_rel, query, order_fields[oi], false, size, sig, cursor, hidden, e);
out:
	fx_fsquery_free(query);
	return rc;
}

static int movements(struct fx_req *r, struct fx_err *e)
{
	static const char *const params[] = {"pageSize", "pageToken", NULL};
	static const char *const none[] = {"organizationId", NULL};
	const char *id = fx_http_req_param(r, "id"), *rel, *parent, *parent_rel, *cursor[] = {"at", NULL};
	struct fx_query *q;
	struct fx_doc doc = {0};
	char sig[200];
	int size, rc = -1;

	rel = fx_tenant_path(r, NULL, "products", id, "product", e);
	if (!rel || fx_http_req_query_allow(r, params, e) < 0 || fx_model_page_size(r, &size, e) < 0 ||
	    fx_tenant_get(r, rel, "product", &doc, e) < 0)
		return -1;
	fx_firestore_doc_cleanup(&doc);
	parent = fx_arena_printf(r->arena, "products/%s", id);
	if (fx_str_fmt(sig, sizeof(sig), "movements|%s", id) < 0)
		return fx_err_set(e, FX_INTERNAL, "list signature over %zu bytes", sizeof(sig));
	q = fx_tenant_query(r, parent, "movements", &parent_rel, e);
	if (!q)
		return -1;
	rc = fx_model_list_ordered(r, parent_rel, q, "at", true, size, sig, cursor, none, e);
	fx_fsquery_free(q);
	return rc;
}

/*
 * Images: the product keeps [{fileId, position}] ordered by position, and
 * the file records attachedTo, both in one commit; a file is a ready
 * product_image of the same organization and hangs on one product at most.
 */
struct image_ctx {
	struct fx_req *r;
	const char *rel; /* product */
	const char *file_rel; /* file */
	const char *file_id;
	int64_t position;
	bool has_position;
	bool attach;
};

/* Whether file (docs[1]) may be attached to product: a ready product_image of this organization, on no other product. */
static int check_file(const struct image_ctx *c, const struct fx_doc *product, const struct fx_doc *file,
		      struct fx_err *e)
{
	const char *kind = fx_value_path_str(&file->fields, "kind");
	const char *status = fx_value_path_str(&file->fields, "status");
	const char *attached = fx_value_path_str(&file->fields, "attachedTo");

	if (!fx_tenant_owns(c->r, file) || !kind || strcmp(kind, "product_image") != 0)
		return fx_err_invalid(e, "fileId", "must be a product_image file of this organization");
	if (!status || strcmp(status, "ready") != 0) {
		fx_err_set(e, FX_FAILED_PRECONDITION, "the file is still pending");
		fx_err_detail(e, "fileId", "must be ready");
		return -1;
	}
	if (attached && strcmp(attached, product->id) != 0) {
		fx_err_set(e, FX_FAILED_PRECONDITION, "the file is attached to another product");
		fx_err_detail(e, "fileId", "detach it from product %s first", attached);
		return -1;
	}
	return 0;
}

/* Sets map's images to old (the product's) with c's file attached at its position, or detached. */
static int change_images(const struct image_ctx *c, const struct fx_value *old, struct fx_value *map, struct fx_err *e)
{
	struct fx_value *images = fx_map_set(map, "images"), *item;
	long found;

	if (old && old->type == FX_V_ARRAY)
		fx_value_copy(images, old);
	else
		fx_value_array(images);
	found = fx_product_image_find(images, c->file_id);
	if (!c->attach) {
		if (found < 0)
			return fx_err_set(e, FX_NOT_FOUND, "%s not found", "image");
		for (; found >= 0; found = fx_product_image_find(images, c->file_id))
			if (fx_value_remove(images, (size_t)found) < 0)
				return fx_err_set(e, FX_INTERNAL, "image %ld cannot be removed", found);
		return 0;
	}
	if (found >= 0)
		return fx_err_set(e, FX_ALREADY_EXISTS, "the image is attached already");
	if (images->u.arr.n >= MAX_IMAGES)
		return fx_err_set(e, FX_FAILED_PRECONDITION, "a product has at most %d images", MAX_IMAGES);
	{
		int64_t pos = c->has_position ? c->position : (int64_t)images->u.arr.n;

		item = fx_value_insert(images, fx_product_image_slot(images, pos));
		if (!item)
			return fx_err_set(e, FX_INTERNAL, "image list out of room");
		fx_value_map(item);
		fx_map_set_str(item, "fileId", c->file_id);
		fx_map_set_int(item, "position", pos);
	}
	return 0;
}

/* Appends the update of rel's fields in map (mask) to writes, guarded by version. */
static int write_fields(json_object *writes, const char *rel, const struct fx_value *map, const char *const *mask,
			const char *version, struct fx_err *e)
{
	char *name = fx_tenant_name(rel);
	int rc = fx_fswrite_update(writes, name, map, mask, version, NULL, e);

	free(name);
	return rc;
}

static int image_txn(struct fx_txn *t, void *arg, struct fx_err *e)
{
	static const char *const product_mask[] = {"images", "updatedAt", NULL};
	static const char *const file_mask[] = {"attachedTo", "updatedAt", NULL};
	struct image_ctx *c = arg;
	const char *paths[2] = {c->rel, c->file_rel};
	struct fx_doc docs[2] = {{0}};
	struct fx_value map = {0}, fmap = {0};
	int rc = -1;

	if (fx_firestore_batch_get(paths, 2, t->id, docs, e) < 0)
		return -1;
	if (!fx_tenant_owns(c->r, &docs[0])) {
		fx_err_set(e, FX_NOT_FOUND, "%s not found", "product");
		goto out;
	}
	if (c->attach && check_file(c, &docs[0], &docs[1], e) < 0)
		goto out;
	fx_value_map(&map);
	if (change_images(c, fx_value_path(&docs[0].fields, "images"), &map, e) < 0)
		goto out;
	fx_model_map_set_now(&map, "updatedAt");
	if (write_fields(t->writes, c->rel, &map, product_mask, docs[0].update_time, e) < 0)
		goto out;
	/* The file records which product holds it (a detached file: none). */
	if (fx_tenant_owns(c->r, &docs[1])) {
		fx_value_map(&fmap);
		if (c->attach)
			fx_map_set_str(&fmap, "attachedTo", docs[0].id);
		fx_model_map_set_now(&fmap, "updatedAt");
		if (write_fields(t->writes, c->file_rel, &fmap, file_mask, docs[1].update_time, e) < 0)
			goto out;
	}
	rc = 0;
out:
	fx_firestore_doc_cleanup(&docs[0]);
	fx_firestore_doc_cleanup(&docs[1]);
	fx_value_cleanup(&map);
	fx_value_cleanup(&fmap);
	return rc;
}

static int run_image(struct fx_req *r, struct image_ctx *c, struct fx_err *e)
{
	c->r = r;
	c->rel = fx_tenant_path(r, NULL, "products", fx_http_req_param(r, "id"), "product", e);
	if (!c->rel)
		return -1;
	c->file_rel = fx_tenant_path(r, NULL, "files", c->file_id, c->attach ? "file" : "image", e);
	if (!c->file_rel) {
		if (c->attach) {
			fx_err_clear(e);
			return fx_err_invalid(e, "fileId", "must be a product_image file of this organization");
		}
		return -1;
	}
	return fx_firestore_run_transaction(image_txn, c, e);
}

static int attach_image(struct fx_req *r, struct fx_err *e)
{
	static const char *const allowed[] = {"fileId", "position", NULL};
	struct image_ctx c = {0};
	struct fx_doc doc = {0};
	json_object *in = NULL;
	bool present;
	int rc = -1;

	c.attach = true;
	if (fx_http_req_json(r, false, &in, e) < 0 || fx_json_allow(in, allowed, "", e) < 0 ||
	    fx_json_string(in, "fileId", "fileId", true, 1, 128, &c.file_id, &present, e) < 0 ||
	    fx_json_int64(in, "position", "position", false, 0, 1000, &c.position, &c.has_position, e) < 0 ||
	    run_image(r, &c, e) < 0 || fx_tenant_get(r, c.rel, "product", &doc, e) < 0)
		goto out;
	rc = fx_model_resp_doc(r, 201, &doc, hidden);
out:
	json_object_put(in);
	fx_firestore_doc_cleanup(&doc);
	return rc;
}

static int detach_image(struct fx_req *r, struct fx_err *e)
{
	struct image_ctx c = {0};

	c.file_id = fx_http_req_param(r, "fileId");
	if (run_image(r, &c, e) < 0)
		return -1;
	return fx_http_resp_send(r, 204, NULL, NULL, 0);
}

/*
 * GET /v1/products:export?format=csv: the catalogue as the importer reads
 * it, one row per product in SKU order, streamed. Two scans: the first
 * reads only attributes, for the header's attributes.<name> columns (the
 * union of the names, sorted; more than FX_PRODUCTDOC_MAX_ATTRIBUTES is a 409 before
 * anything is sent, since no import could read the file); the second reads
 * EXPORT_PAGE products at a time and sends them. The worker holds one page
 * of documents and at most EXPORT_FLUSH bytes of CSV plus one row, whatever
 * the catalogue's size. A page that fails after the response started cuts
 * it short (logged); the client then sees a CSV without its final rows.
 */
#define EXPORT_PAGE 300
#define EXPORT_MAX 1000000 /* products: far more than one request can send inside nginx's timeout */
#define EXPORT_FLUSH (64 * 1024)
#define EXPORT_ROW_MAX (1024 * 1024) /* a row's CSV: 5,000 characters of description and 50 attributes */

static const char *const export_columns[] = {"sku",   "name", "description", "category",     "brand", "barcode",
					     "price", "cost", "status",	     "reorderPoint", "onHand"};
static const char *const export_select[] = {"sku",    "name",	 "description", "category",
					    "brand",  "barcode", "priceCents",	"costCents",
					    "status", "stock",	 "attributes",	"skuKey"};
static const char *const export_names_select[] = {"attributes", "skuKey"};

struct export_ctx {
	struct fx_req *r;
	char names[FX_PRODUCTDOC_MAX_ATTRIBUTES][65];
	size_t nnames;
	struct fx_buf out;
	bool started;
};

/* Adds the attribute names of a page to the set c->names (sorted once the scan ends); 409 past FX_PRODUCTDOC_MAX_ATTRIBUTES. */
static int export_names_page(void *ctx, struct fx_doc *docs, size_t n, struct fx_err *e)
{
	struct export_ctx *c = ctx;

	for (size_t i = 0; i < n; i++) {
		const struct fx_value *attrs = fx_value_path(&docs[i].fields, "attributes");

		if (!attrs || attrs->type != FX_V_MAP)
			continue;
		for (size_t k = 0; k < attrs->u.map.n; k++) {
			const char *name = attrs->u.map.fields[k].name;
			size_t at = 0;

			while (at < c->nnames && strcmp(c->names[at], name) != 0)
				at++;
			if (at < c->nnames)
				continue;
			if (c->nnames == FX_PRODUCTDOC_MAX_ATTRIBUTES)
				return fx_err_set(
					e, FX_FAILED_PRECONDITION,
					"the catalogue uses more than %d attribute names, more than an import "
					"reads: remove some before exporting",
					FX_PRODUCTDOC_MAX_ATTRIBUTES);
			if (fx_str_fmt(c->names[c->nnames], sizeof(c->names[0]), "%s", name) < 0)
				return fx_err_set(e, FX_INTERNAL, "product %s has an attribute name over 64 bytes",
						  docs[i].id);
			c->nnames++;
		}
	}
	return 0;
}

static int names_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static int export_over(void *ctx, struct fx_err *e)
{
	(void)ctx;
	return fx_err_set(e, FX_FAILED_PRECONDITION, "the catalogue has more than %d products to export", EXPORT_MAX);
}

/* Sends what c->out holds, starting the response first if needed. */
static int export_flush(struct export_ctx *c, struct fx_err *e)
{
	if (!c->started) {
		if (fx_http_resp_start(c->r, 200, "text/csv; charset=utf-8", -1) < 0)
			return fx_err_set(e, FX_INTERNAL, "the export's response head was refused");
		c->started = true;
	}
	if (c->out.len && fx_http_resp_write(c->r, c->out.data, c->out.len) < 0)
		return fx_err_set(e, FX_CANCELLED, "the client went away during the export");
	fx_buf_reset(&c->out);
	return 0;
}

/* A text cell from field of doc, empty when absent. */
static int export_text(struct fx_buf *b, const struct fx_doc *doc, const char *field)
{
	return fx_csv_text(b, fx_value_path_str(&doc->fields, field));
}

/* A money cell, empty when absent. */
static int export_cents(struct fx_buf *b, const struct fx_doc *doc, const char *field)
{
	int64_t cents;

	return fx_value_path_int(&doc->fields, field, &cents) ? fx_csv_cents(b, cents) : fx_csv_text(b, "");
}

/* One product's row, in export_columns order then c->names. */
static int export_row(struct export_ctx *c, const struct fx_doc *doc)
{
	struct fx_buf *b = &c->out;
	const struct fx_value *attrs = fx_value_path(&doc->fields, "attributes");

	if (export_text(b, doc, "sku") < 0 || export_text(b, doc, "name") < 0 ||
	    export_text(b, doc, "description") < 0 || export_text(b, doc, "category") < 0 ||
	    export_text(b, doc, "brand") < 0 || export_text(b, doc, "barcode") < 0 ||
	    export_cents(b, doc, "priceCents") < 0 || export_cents(b, doc, "costCents") < 0 ||
	    export_text(b, doc, "status") < 0 || fx_csv_int(b, fx_stock(doc, "reorderPoint")) < 0 ||
	    fx_csv_int(b, fx_stock(doc, "onHand")) < 0)
		return -1;
	for (size_t k = 0; k < c->nnames; k++) {
		/* A name with '.' is one key, not a path: fx_value_path would split it. */
		const struct fx_value *v = NULL;

		for (size_t j = 0; attrs && attrs->type == FX_V_MAP && j < attrs->u.map.n; j++)
			if (strcmp(attrs->u.map.fields[j].name, c->names[k]) == 0)
				v = &attrs->u.map.fields[j].value;
		if (fx_csv_text(b, v && v->type == FX_V_STRING ? v->u.s.p : "") < 0)
			return -1;
	}
	return fx_csv_end_row(b);
}

static int export_page(void *ctx, struct fx_doc *docs, size_t n, struct fx_err *e)
{
	struct export_ctx *c = ctx;

	for (size_t i = 0; i < n; i++) {
		if (export_row(c, &docs[i]) < 0)
			return fx_err_set(e, FX_INTERNAL, "product %s: its CSV row is over %d bytes", docs[i].id,
					  EXPORT_ROW_MAX);
		if (c->out.len >= EXPORT_FLUSH && export_flush(c, e) < 0)
			return -1;
	}
	return 0;
}

/* One scan of the organization's products in SKU order. */
static int export_scan(struct export_ctx *c, const char *const *select, size_t nselect,
		       int (*page)(void *, struct fx_doc *, size_t, struct fx_err *), struct fx_err *e)
{
	struct fx_scan run = {.order_field = "skuKey",
			      .page_size = EXPORT_PAGE,
			      .max = EXPORT_MAX,
			      .page = page,
			      .over = export_over,
			      .ctx = c};
	int rc = -1;

	run.q = fx_tenant_query(c->r, NULL, "products", &run.parent_rel, e);
	if (!run.q)
		return -1;
	if (fx_fsquery_select(run.q, select, nselect, e) < 0 || fx_fsquery_order_by(run.q, "skuKey", false, e) < 0 ||
	    fx_fsquery_order_by(run.q, "__name__", false, e) < 0)
		goto out;
	rc = fx_model_scan_run(&run, e);
out:
	fx_fsquery_free(run.q);
	return rc;
}

static int export_csv(struct fx_req *r, struct fx_err *e)
{
	static const char *const params[] = {"format", NULL};
	const char *format = fx_http_req_query(r, "format");
	struct export_ctx *c = fx_mem_xcalloc(1, sizeof(*c));
	struct fx_buf disposition;
	char name[64];
	struct tm tm;
	time_t now = time(NULL);
	int rc = -1;

	c->r = r;
	fx_buf_init(&c->out, EXPORT_FLUSH + EXPORT_ROW_MAX);
	fx_buf_init(&disposition, FX_FILE_DISPOSITION_MAX);
	if (fx_http_req_query_allow(r, params, e) < 0)
		goto out;
	if (format && strcmp(format, "csv") != 0) {
		fx_err_invalid(e, "format", "must be csv");
		goto out;
	}
	if (export_scan(c, export_names_select, sizeof(export_names_select) / sizeof(export_names_select[0]),
			export_names_page, e) < 0)
		goto out;
	qsort(c->names, c->nnames, sizeof(c->names[0]), names_cmp);
	if (!gmtime_r(&now, &tm) || strftime(name, sizeof(name), "products-%Y-%m-%d.csv", &tm) == 0 ||
	    fx_files_disposition(name, &disposition) < 0) {
		fx_err_set(e, FX_INTERNAL, "no export file name");
		goto out;
	}
	fx_http_resp_header(r, "Content-Disposition", disposition.data);
	fx_http_resp_header(r, "X-Content-Type-Options", "nosniff");
	/* A UTF-8 byte order mark: Excel reads accents right only with it; the importer skips it. */
	if (fx_buf_append(&c->out, "\xef\xbb\xbf", 3) < 0)
		goto row_cap;
	for (size_t i = 0; i < sizeof(export_columns) / sizeof(export_columns[0]); i++)
		if (fx_csv_text(&c->out, export_columns[i]) < 0)
			goto row_cap;
	for (size_t k = 0; k < c->nnames; k++) {
		char col[96];

		fx_str_text(col, sizeof(col), "attributes.%s", c->names[k]);
		if (fx_csv_text(&c->out, col) < 0)
			goto row_cap;
	}
	if (fx_csv_end_row(&c->out) < 0)
		goto row_cap;
	if (export_scan(c, export_select, sizeof(export_select) / sizeof(export_select[0]), export_page, e) < 0 ||
	    export_flush(c, e) < 0) {
		if (c->started) {
			/* Rows already went out: the response is broken off, so it cannot pass for whole. */
			fx_log_error("products export broke off: %s", e->message);
			fx_http_resp_break(r);
			rc = 0;
		}
		goto out;
	}
	rc = 0;
	goto out;
row_cap:
	fx_err_set(e, FX_INTERNAL, "the export's header row is over its cap");
out:
	fx_buf_cleanup(&c->out);
	fx_buf_cleanup(&disposition);
	free(c);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct fx_app app = {"products", routes, sizeof(routes) / sizeof(routes[0]), NULL};

	fx_value_keep_names(kept_names); /* before any thread starts */
	return fx_worker_main(&app, argc, argv);
}
