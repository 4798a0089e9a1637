/*
 * imports: CSV imports of products and stock (lib/importer.h says how a
 * file is read, applied and recorded). Records live at
 * organizations/{org}/imports/{id}.
 *
 * POST /v1/imports {fileId, kind: products|stock, mode?: upsert|create,
 * dryRun?} (manager): runs the import inside the request and answers 201
 * with the finished record {id, kind, mode, fileId, status, dryRun, counts
 * {rows, created, updated, unchanged, failed}, errorsFileId?, startedAt,
 * finishedAt, createdBy} and Location /v1/imports/{id}.
 * GET /v1/imports: the organization's imports, newest first (pageSize,
 * pageToken). GET /v1/imports/{id}: one record; while the import runs it
 * shows status running and its counts growing.
 */
#include "authz.h"
#include "firestore.h"
#include "http.h"
#include "importer.h"
#include "json.h"
#include "model.h"
#include "str.h"
#include "tenant.h"
#include "worker.h"

#include <stdbool.h>

static int create(struct fx_req *r, struct fx_err *e);
static int list(struct fx_req *r, struct fx_err *e);
static int get(struct fx_req *r, struct fx_err *e);

static const struct fx_route routes[] = {
	{"POST", "/v1/imports", create, FX_MEMBER, FX_ROLE_MANAGER, FX_BODY_JSON, 0},
	{"GET", "/v1/imports", list, FX_MEMBER, FX_ROLE_VIEWER, 0, 0},
	{"GET", "/v1/imports/{id}", get, FX_MEMBER, FX_ROLE_VIEWER, 0, 0},
};

static int create(struct fx_req *r, struct fx_err *e)
{
	static const char *const allowed[] = {"fileId", "kind", "mode", "dryRun", NULL};
	struct fx_import_req q = {0};
	struct fx_doc record = {0};
	json_object *in = NULL;
	bool present;
	char location[128];
	int rc = -1;

	if (fx_http_req_json(r, false, &in, e) < 0 || fx_json_allow(in, allowed, "", e) < 0 ||
	    fx_json_string(in, "fileId", "fileId", true, 1, 128, &q.file_id, &present, e) < 0 ||
	    fx_json_string(in, "kind", "kind", true, 1, 16, &q.kind, &present, e) < 0 ||
	    fx_json_string(in, "mode", "mode", false, 1, 16, &q.mode, &present, e) < 0)
		goto out;
	if (!present)
		q.mode = NULL;
	if (fx_json_bool(in, "dryRun", "dryRun", false, &q.dry_run, &present, e) < 0)
		goto out;
	if (!present)
		q.dry_run = false;
	if (fx_import_run(r, &q, &record, e) < 0)
		goto out;
	if (fx_str_fmt(location, sizeof(location), "/v1/imports/%s", record.id) < 0) {
		fx_err_set(e, FX_INTERNAL, "import id over %zu bytes", sizeof(location));
		goto out;
	}
	fx_http_resp_header(r, "Location", location);
	rc = fx_model_resp_doc(r, 201, &record, fx_import_hidden);
out:
	json_object_put(in);
	fx_firestore_doc_cleanup(&record);
	return rc;
}

static int list(struct fx_req *r, struct fx_err *e)
{
	static const char *const params[] = {"pageSize", "pageToken", NULL};
	static const char *const cursor[] = {"startedAt", NULL};
	const char *parent_rel;
	struct fx_query *q;
	int size, rc;

	if (fx_http_req_query_allow(r, params, e) < 0 || fx_model_page_size(r, &size, e) < 0)
		return -1;
	q = fx_tenant_query(r, NULL, "imports", &parent_rel, e);
	if (!q)
		return -1;
	rc = fx_model_list_ordered(r, parent_rel, q, "startedAt", true, size, "imports", cursor, fx_import_hidden, e);
	fx_fsquery_free(q);
	return rc;
}

static int get(struct fx_req *r, struct fx_err *e)
{
	return fx_tenant_answer(r, "imports", "import", fx_import_hidden, e);
}

int main(int argc, char **argv)
{
	static const struct fx_app app = {"imports", routes, sizeof(routes) / sizeof(routes[0]), NULL};

	return fx_worker_main(&app, argc, argv);
}
