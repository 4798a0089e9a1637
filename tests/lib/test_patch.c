/*
 * lib/patch: the If-Match check (pure) and the guarded commit against the
 * Firestore emulator, which this binary starts itself.
 */
#include "patch.h"

#include "config.h"
#include "emulator.h"
#include "fswrite.h"
#include "log.h"
#include "map.h"
#include "model.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void quiet(void)
{
	fx_log_init("test_patch", FX_LOG_ERROR + 1);
}

TestSuite(if_match, .init = quiet);

Test(if_match, of_the_version_read_or_none_passes)
{
	struct fx_doc doc = {0};
	struct fx_err err;

	fx_err_clear(&err);
	snprintf(doc.update_time, sizeof(doc.update_time), "2026-12-02T10:00:00.123456Z");
	cr_assert_eq(fx_patch_if_match("2026-12-02T10:00:00.123456Z", &doc, "order", &err), 0);
	cr_assert_eq(fx_patch_if_match(NULL, &doc, "order", &err), 0);
	cr_assert(fx_err_is(&err, FX_OK), "%s", err.message);
}

Test(if_match, of_another_version_is_412_naming_the_document)
{
	struct fx_doc doc = {0};
	struct fx_err err;

	fx_err_clear(&err);
	snprintf(doc.update_time, sizeof(doc.update_time), "2026-12-02T10:00:00.123456Z");
	cr_assert_eq(fx_patch_if_match("2026-12-02T10:00:00.123457Z", &doc, "member", &err), -1);
	cr_assert_eq(fx_err_http(err.kind), 412);
	cr_assert_str_eq(fx_err_name(err.kind), "FAILED_PRECONDITION");
	cr_assert_str_eq(err.message, "the member changed since that etag");
}

/* ---- the guarded commit against the emulator (started once by the runner process) ---- */

#define PORT_ENV "FLUXORI_TEST_PATCH_FIRESTORE"

const struct emu_fixture emu_fixture = {"patch", EMU_ALONE, EMU_FIRESTORE, PORT_ENV, NULL};

static struct emu_client emu;
static char path[64];
static struct fx_doc doc; /* path as created: {n: 1, keep: "yes"} */

static void setup(void)
{
	struct fx_value map = {0};
	struct fx_err err;
	char id[FX_ID_LEN + 1];
	json_object *w = json_object_new_array();
	char *name;

	quiet();
	fx_err_clear(&err);
	emu_firestore_use(&emu, PORT_ENV);
	fx_model_id_new(id);
	snprintf(path, sizeof(path), "patches/%s", id);
	fx_value_map(&map);
	fx_map_set_int(&map, "n", 1);
	fx_map_set_str(&map, "keep", "yes");
	name = fx_firestore_name(path);
	cr_assert_eq(fx_fswrite_set(w, name, &map, NULL, &err), 0, "%s", err.message);
	cr_assert_eq(fx_firestore_commit(w, NULL, NULL, NULL, &err), 0, "%s", err.message);
	cr_assert_eq(fx_firestore_get(path, &doc, &err), 0, "%s", err.message);
	json_object_put(w);
	fx_value_cleanup(&map);
	free(name);
}

static void teardown(void)
{
	fx_firestore_doc_cleanup(&doc);
}

TestSuite(write, .init = setup, .fini = teardown, .timeout = 120);

/* Writes {n} (mask n) with version and guard; returns what fx_patch_write returned. */
static int write_n(int64_t n, const char *version, enum fx_patch_guard guard, struct fx_err *err)
{
	static const char *const mask[] = {"n", NULL};
	struct fx_value map = {0};
	int rc;

	fx_err_clear(err);
	fx_value_map(&map);
	fx_map_set_int(&map, "n", n);
	rc = fx_patch_write(path, &map, mask, version, guard, "thing", err);
	fx_value_cleanup(&map);
	return rc;
}

Test(write, with_the_version_read_changes_the_masked_fields_only)
{
	struct fx_doc after = {0};
	struct fx_err err;
	int64_t n = 0;

	cr_assert_eq(write_n(2, doc.update_time, FX_PATCH_READ, &err), 0, "%s", err.message);
	cr_assert_eq(fx_firestore_get(path, &after, &err), 0, "%s", err.message);
	cr_assert(fx_value_path_int(&after.fields, "n", &n));
	cr_assert_eq(n, 2);
	cr_assert_str_eq(fx_value_path_str(&after.fields, "keep"), "yes");
	fx_firestore_doc_cleanup(&after);
}

Test(write, a_stale_if_match_is_412_and_writes_nothing)
{
	struct fx_doc after = {0};
	struct fx_err err;
	int64_t n = 0;

	cr_assert_eq(write_n(2, NULL, FX_PATCH_IF_MATCH, &err), 0, "%s", err.message);
	cr_assert_eq(write_n(3, doc.update_time, FX_PATCH_IF_MATCH, &err), -1);
	cr_assert_eq(fx_err_http(err.kind), 412);
	cr_assert_str_eq(fx_err_name(err.kind), "FAILED_PRECONDITION");
	cr_assert_str_eq(err.message, "the thing changed since that etag");
	cr_assert_eq(fx_firestore_get(path, &after, &err), 0, "%s", err.message);
	cr_assert(fx_value_path_int(&after.fields, "n", &n));
	cr_assert_eq(n, 2);
	fx_firestore_doc_cleanup(&after);
}

Test(write, a_stale_read_is_409_aborted_to_retry)
{
	struct fx_err err;

	cr_assert_eq(write_n(2, NULL, FX_PATCH_READ, &err), 0, "%s", err.message);
	cr_assert_eq(write_n(3, doc.update_time, FX_PATCH_READ, &err), -1);
	cr_assert_eq(fx_err_http(err.kind), 409);
	cr_assert_str_eq(fx_err_name(err.kind), "ABORTED");
	cr_assert_str_eq(err.message, "the thing changed while it was being updated: retry");
}

Test(write, to_a_missing_document_is_not_found_not_a_lost_race)
{
	struct fx_err err;

	snprintf(path, sizeof(path), "patches/none");
	cr_assert_eq(write_n(2, NULL, FX_PATCH_IF_MATCH, &err), -1);
	cr_assert_eq(fx_err_http(err.kind), 404, "%d %s", fx_err_http(err.kind), fx_err_name(err.kind));
	cr_assert_str_eq(fx_err_name(err.kind), "NOT_FOUND");
}
