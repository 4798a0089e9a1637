/*
 * reports: CSV reports of an organization, stored as files of kind
 * report by the engine in lib/report.h (what each report holds, its
 * range and bounds).
 *
 * POST /v1/reports {type, from?, to?}: type is sales, inventory or
 * orders; from and to are days (YYYY-MM-DD) in the organization's
 * timezone, both inclusive, or RFC 3339 times (from inclusive, to
 * exclusive), to defaulting to yesterday and from to 30 days before to
 * (fx_report_window). Answers 201 with the stored file (and its signed
 * downloadUrl) and Location /v1/files/{id}.
 */
#include "authz.h"
#include "files.h"
#include "firestore.h"
#include "http.h"
#include "json.h"
#include "model.h"
#include "report.h"
#include "str.h"
#include "worker.h"

#include <stdbool.h>
#include <stdio.h>

static int create(struct fx_req *r, struct fx_err *e);

static const struct fx_route routes[] = {
	{"POST", "/v1/reports", create, FX_MEMBER, FX_ROLE_MANAGER, FX_BODY_JSON, 0},
};

/*
 * Optional string field: NULL when absent; 400 naming key when not a string
 * of 1..40 bytes (the longest RFC 3339 time, with nanoseconds and an
 * offset, has 35).
 */
static int take_string(json_object *in, const char *key, const char **out, struct fx_err *e)
{
	bool present;

	*out = NULL;
	if (fx_json_string(in, key, key, false, 1, 40, out, &present, e) < 0)
		return -1;
	if (!present)
		*out = NULL;
	return 0;
}

static int create(struct fx_req *r, struct fx_err *e)
{
	static const char *const allowed[] = {"type", "from", "to", NULL};
	struct fx_doc file = {0};
	json_object *in = NULL, *answer = NULL;
	const char *type, *from, *to;
	char location[128];
	int rc = -1;

	if (fx_http_req_json(r, false, &in, e) < 0 || fx_json_allow(in, allowed, "", e) < 0 ||
	    fx_json_string(in, "type", "type", true, 1, 32, &type, NULL, e) < 0 ||
	    take_string(in, "from", &from, e) < 0 || take_string(in, "to", &to, e) < 0)
		goto out;
	if (fx_report_run(r, type, from, to, &file, e) < 0)
		goto out;
	answer = fx_files_json(&file, true, e);
	if (!answer)
		goto out;
	if (fx_str_fmt(location, sizeof(location), "/v1/files/%s", file.id) < 0) {
		fx_err_set(e, FX_INTERNAL, "file id over %zu bytes", sizeof(location));
		goto out;
	}
	rc = fx_model_resp_created(r, location, answer);
out:
	json_object_put(in);
	json_object_put(answer);
	fx_firestore_doc_cleanup(&file);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct fx_app app = {"reports", routes, sizeof(routes) / sizeof(routes[0]), fx_report_init};

	return fx_worker_main(&app, argc, argv);
}
