#include "tenant.h"

#include "authz.h"
#include "http.h"
#include "map.h"
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *fx_tenant_root(const struct fx_req *r, struct fx_err *e)
{
	const char *root = fx_arena_printf(r->arena, "organizations/%s", r->principal->organization_id);

	if (!root)
		fx_err_set(e, FX_INTERNAL, "out of request memory");
	return root;
}

const char *fx_tenant_path(const struct fx_req *r, const char *parent, const char *collection, const char *id,
			   const char *what, struct fx_err *e)
{
	const char *root, *p = NULL;

	if (!id || !fx_model_id_valid(id))
		return fx_err_set(e, FX_NOT_FOUND, "%s not found", what), NULL;
	/* The root is arena memory too: out of budget, it is NULL, never "(null)/...". */
	root = fx_tenant_root(r, e);
	if (!root)
		return NULL;
	if (parent)
		p = fx_arena_printf(r->arena, "%s/%s/%s/%s", root, parent, collection, id);
	else
		p = fx_arena_printf(r->arena, "%s/%s/%s", root, collection, id);
	if (!p)
		return fx_err_set(e, FX_INTERNAL, "out of request memory"), NULL;
	return p;
}

char *fx_tenant_name(const char *rel)
{
	return fx_firestore_name(rel);
}

bool fx_tenant_owns(const struct fx_req *r, const struct fx_doc *doc)
{
	const char *org = doc->name ? fx_value_path_str(&doc->fields, "organizationId") : NULL;

	return org && strcmp(org, r->principal->organization_id) == 0;
}

int fx_tenant_get(const struct fx_req *r, const char *rel, const char *what, struct fx_doc *out, struct fx_err *e)
{
	return fx_tenant_get_mask(r, rel, what, NULL, out, e);
}

int fx_tenant_get_mask(const struct fx_req *r, const char *rel, const char *what, const char *const *mask,
		       struct fx_doc *out, struct fx_err *e)
{
	if (fx_firestore_get_mask(rel, mask, out, e) < 0) {
		if (fx_err_is(e, FX_NOT_FOUND))
			fx_err_set(e, FX_NOT_FOUND, "%s not found", what);
		return -1;
	}
	if (!fx_tenant_owns(r, out)) {
		fx_firestore_doc_cleanup(out);
		return fx_err_set(e, FX_NOT_FOUND, "%s not found", what);
	}
	return 0;
}

int fx_tenant_txn_get(const struct fx_req *r, const char *transaction, const char *rel, const char *what,
		      const char *if_match, struct fx_doc *out, struct fx_err *e)
{
	const char *paths[1] = {rel};

	if (fx_firestore_batch_get(paths, 1, transaction, out, e) < 0)
		return -1;
	if (!fx_tenant_owns(r, out)) {
		fx_firestore_doc_cleanup(out);
		return fx_err_set(e, FX_NOT_FOUND, "%s not found", what);
	}
	if (if_match && strcmp(if_match, out->update_time) != 0) {
		fx_firestore_doc_cleanup(out);
		return fx_err_set(e, FX_CONDITION_NOT_MET, "the %s changed since that etag", what);
	}
	return 0;
}

int fx_tenant_answer(struct fx_req *r, const char *collection, const char *what, const char *const *hidden,
		     struct fx_err *e)
{
	const char *rel = fx_tenant_path(r, NULL, collection, fx_http_req_param(r, "id"), what, e);
	struct fx_doc doc = {0};
	int rc;

	if (!rel || fx_tenant_get(r, rel, what, &doc, e) < 0)
		return -1;
	rc = fx_model_resp_doc(r, 200, &doc, hidden);
	fx_firestore_doc_cleanup(&doc);
	return rc;
}

void fx_tenant_stamp(const struct fx_req *r, struct fx_value *fields)
{
	fx_map_set_str(fields, "organizationId", r->principal->organization_id);
}

struct fx_query *fx_tenant_query(const struct fx_req *r, const char *parent, const char *collection,
				 const char **parent_rel, struct fx_err *e)
{
	struct fx_query *q = fx_fsquery_new(collection, false);
	struct fx_value org = {0};
	const char *root = fx_tenant_root(r, e);
	const char *rel = root && parent ? fx_arena_printf(r->arena, "%s/%s", root, parent) : root;
	char *name = rel ? fx_firestore_name(rel) : NULL;
	int rc;

	fx_value_string(&org, r->principal->organization_id, strlen(r->principal->organization_id));
	rc = name ? fx_fsquery_parent(q, name, e) : fx_err_set(e, FX_INTERNAL, "out of request memory");
	if (rc == 0)
		rc = fx_fsquery_where(q, "organizationId", "==", &org, e);
	fx_value_cleanup(&org);
	free(name);
	if (rc < 0) {
		fx_fsquery_free(q);
		return NULL;
	}
	*parent_rel = rel;
	return q;
}
