/*
 * fx_tenant: the one way handlers reach organization-owned documents.
 * Every such document lives at organizations/{org}/{collection}/{id} and
 * carries organizationId; paths are built only from the caller's verified
 * organization, writes are stamped with it, and a document whose stamp
 * differs is reported as not found — so no handler can forget isolation.
 */
#ifndef FX_TENANT_H
#define FX_TENANT_H

#include "err.h"
#include "firestore.h"
#include "fsquery.h"
#include "value.h"

#include <stddef.h>

struct fx_req;

/*
 * "organizations/{org}" of the caller, in the request arena; NULL with 500
 * INTERNAL when the arena is spent (never pass the result on unchecked: a
 * NULL in "%s" would name a path "(null)/...").
 */
FX_MUST_USE const char *fx_tenant_root(const struct fx_req *r, struct fx_err *e);

/*
 * The relative path of collection/id (below the caller's organization, or
 * below a parent document path given relative to it, e.g. "products/p1").
 * A malformed id is 404 "what not found" (it cannot exist). Arena memory.
 */
FX_MUST_USE const char *fx_tenant_path(const struct fx_req *r, const char *parent, const char *collection,
				       const char *id, const char *what, struct fx_err *e);

/* Full resource name of a tenant path (malloc'd, the caller frees). */
char *fx_tenant_name(const char *rel);

/* Reads a document of the caller's organization; 404 "what not found" otherwise. */
FX_MUST_USE int fx_tenant_get(const struct fx_req *r, const char *rel, const char *what, struct fx_doc *out,
			      struct fx_err *e);

/*
 * fx_tenant_get reading only mask's fields (fx_firestore_get_mask); the mask must
 * name "organizationId", which the ownership check reads.
 */
FX_MUST_USE int fx_tenant_get_mask(const struct fx_req *r, const char *rel, const char *what, const char *const *mask,
				   struct fx_doc *out, struct fx_err *e);

/*
 * Reads rel inside transaction t for a change: 404 "what not found" unless
 * it belongs to the caller's organization, 412 when if_match (may be NULL)
 * names another version.
 */
FX_MUST_USE int fx_tenant_txn_get(const struct fx_req *r, const char *transaction, const char *rel, const char *what,
				  const char *if_match, struct fx_doc *out, struct fx_err *e);

/*
 * Answers GET of the document {id} (the path parameter) of collection:
 * 200 with fx_model_doc_json minus hidden, or 404 "what not found".
 */
FX_MUST_USE int fx_tenant_answer(struct fx_req *r, const char *collection, const char *what, const char *const *hidden,
				 struct fx_err *e);

/* True when doc belongs to the caller's organization (missing docs do not). */
bool fx_tenant_owns(const struct fx_req *r, const struct fx_doc *doc);

/* Stamps organizationId on fields (FX_V_MAP) before a write. */
void fx_tenant_stamp(const struct fx_req *r, struct fx_value *fields);

/*
 * A query over the caller's collection (below parent, relative to the
 * organization, or NULL for the organization itself), filtered by
 * organizationId too. *parent_rel receives the runQuery parent path.
 */
FX_MUST_USE struct fx_query *fx_tenant_query(const struct fx_req *r, const char *parent, const char *collection,
					     const char **parent_rel, struct fx_err *e);

#endif
