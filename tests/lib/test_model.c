#include "model.h"

#include "config.h"
#include "emulator.h"
#include "fsquery.h"
#include "fswrite.h"
#include "json.h"
#include "log.h"
#include "map.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

Test(ids, are_twenty_safe_characters_and_differ)
{
	char a[FX_ID_LEN + 1], b[FX_ID_LEN + 1];

	fx_model_id_new(a);
	fx_model_id_new(b);
	cr_assert_eq(strlen(a), 20);
	cr_assert(fx_model_id_valid(a));
	cr_assert_str_neq(a, b);
	cr_assert_not(fx_model_id_valid("../etc"));
	cr_assert_not(fx_model_id_valid(""));
	cr_assert_not(fx_model_id_valid("a b"));
}

Test(page_tokens, round_trip_and_refuse_another_query)
{
	struct fx_value values[2], back = {0};
	struct fx_buf token;
	struct fx_err e;

	fx_err_clear(&e);
	fx_buf_init(&token, 4096);
	fx_value_string(&values[0], "blue shirt", 10);
	fx_value_string(&values[1], "doc123", 6);
	cr_assert_eq(fx_model_page_token_make("products|active", values, 2, &token), 0);
	cr_assert_eq(fx_model_page_token_read(token.data, "products|active", &back, &e), 0, "%s", e.message);
	cr_assert_eq(back.u.arr.n, 2);
	cr_assert(fx_value_equal(&back.u.arr.items[0], &values[0]));
	fx_value_cleanup(&back);
	cr_assert_eq(fx_model_page_token_read(token.data, "products|archived", &back, &e), -1);
	cr_assert_eq(fx_err_http(e.kind), 400);
	cr_assert_str_eq(e.details[0].field, "pageToken");
	fx_err_clear(&e);
	cr_assert_eq(fx_model_page_token_read("!!!", "products|active", &back, &e), -1);
	fx_buf_cleanup(&token);
	fx_value_cleanup(&values[0]);
	fx_value_cleanup(&values[1]);
}

/* The next page's token carries the last document's cursor values (null for one it lacks), then its id. */
Test(page_tokens, the_next_pages_token_reads_back_as_the_last_documents_cursor)
{
	static const char *const fields[] = {"createdAt", "missing", NULL};
	char name[] = "projects/p/databases/(default)/documents/things/doc42";
	struct fx_doc last = {.name = name, .id = strrchr(name, '/') + 1};
	struct fx_value back = {0};
	struct fx_buf token;
	struct fx_err e;

	fx_err_clear(&e);
	fx_buf_init(&token, 4096);
	fx_value_map(&last.fields);
	fx_value_ts(fx_map_set(&last.fields, "createdAt"), 1767225600, 0);
	cr_assert_eq(fx_model_page_token_next("things", &last, fields, &token, &e), 0, "%s", e.message);
	cr_assert_eq(fx_model_page_token_read(token.data, "things", &back, &e), 0, "%s", e.message);
	cr_assert_eq(back.u.arr.n, 3);
	cr_assert_eq(back.u.arr.items[0].type, FX_V_TIMESTAMP);
	cr_assert_eq(back.u.arr.items[0].u.ts.secs, 1767225600);
	cr_assert_eq(back.u.arr.items[1].type, FX_V_NULL, "a field the document lacks");
	cr_assert_eq(back.u.arr.items[2].type, FX_V_STRING);
	cr_assert_str_eq(back.u.arr.items[2].u.s.p, "doc42");
	fx_value_cleanup(&back);

	/* A token that does not fit is a 500, never a page without one. */
	fx_buf_cleanup(&token);
	fx_buf_init(&token, 8);
	cr_assert_eq(fx_model_page_token_next("things", &last, fields, &token, &e), -1);
	cr_assert_eq(fx_err_http(e.kind), 500, "%s", e.message);
	fx_buf_cleanup(&token);
	fx_value_cleanup(&last.fields);
}

/* ---- SKU index document ids ---- */

static const char *sku_id(const char *sku)
{
	static char out[256];

	cr_assert_eq(fx_model_sku_id(sku, out, sizeof(out)), 0, "%s", sku);
	return out;
}

Test(sku_ids, of_skus_without_dots_are_the_ids_written_before)
{
	/* Index documents written before '.' was allowed stay where they are. */
	cr_assert_str_eq(sku_id("TSHIRT-BLU-L"), "s_tshirt-blu-l");
	cr_assert_str_eq(sku_id("a_b-9"), "s_a_b-9");
	cr_assert_str_eq(sku_id("KC-SOY-250"), sku_id("kc-soy-250"), "case-insensitive");
}

Test(sku_ids, escape_dots_into_a_valid_resource_id)
{
	cr_assert_str_eq(sku_id("A.B"), "s_aDb");
	cr_assert_str_eq(sku_id("."), "s_D");
	cr_assert_str_eq(sku_id(".."), "s_DD");
	cr_assert(fx_model_id_valid(sku_id("..")));
	cr_assert_str_eq(sku_id("Kc.Soy"), sku_id("kC.sOY"), "case-insensitive");
}

Test(sku_ids, every_sku_the_contract_allows_fits_a_resource_id_at_the_byte_limit)
{
	char sku[65];
	const char *id;

	memset(sku, '.', 64);
	sku[64] = '\0';
	id = sku_id(sku);
	cr_assert_eq(strlen(id), 66);
	cr_assert(fx_model_id_valid(id), "%s", id);
	memcpy(sku, "Zz09_-.", 7);
	cr_assert(fx_model_id_valid(sku_id(sku)));
}

Test(sku_ids, differ_whenever_the_lower_cased_skus_differ)
{
	static const char *const skus[] = {"a.b",  "aDb",  "aX2Eb", "aX2eb", "a_b", "a-b", "ab", "a..b",
					   "aDDb", "aD.b", "a.Db",  "s_a",   "D",   "X2E", ".",	 "x"};
	const size_t n = sizeof(skus) / sizeof(skus[0]);
	char ids[sizeof(skus) / sizeof(skus[0])][256];

	for (size_t i = 0; i < n; i++)
		snprintf(ids[i], sizeof(ids[i]), "%s", sku_id(skus[i]));
	for (size_t i = 0; i < n; i++)
		for (size_t k = i + 1; k < n; k++)
			cr_assert(strcmp(ids[i], ids[k]) != 0 || strcasecmp(skus[i], skus[k]) == 0,
				  "%s and %s share the id %s", skus[i], skus[k], ids[i]);
}

Test(sku_ids, round_trip_any_bytes_to_the_lower_cased_sku)
{
	static const char *const skus[] = {"A.B",
					   "..",
					   "a/b",
					   "50%",
					   "%2F",
					   "caf\xc3\xa9",
					   "\xe2\x82\xac"
					   "1",
					   "a b",
					   "a\\b",
					   "\xff\x01",
					   "X",
					   "D",
					   "ABC.def-_9"};

	for (size_t i = 0; i < sizeof(skus) / sizeof(skus[0]); i++) {
		char lower[64], back[64];
		const char *id = sku_id(skus[i]);
		size_t n = strlen(skus[i]);

		for (size_t k = 0; k <= n; k++)
			lower[k] = skus[i][k] >= 'A' && skus[i][k] <= 'Z' ? (char)(skus[i][k] + 32) : skus[i][k];
		cr_assert_eq(strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"), strlen(id),
			     "%s holds only id characters", id);
		cr_assert_eq(fx_model_sku_id_decode(id, back, sizeof(back)), 0, "%s", id);
		cr_assert_str_eq(back, lower);
	}
}

Test(sku_ids, fail_cleanly_when_the_buffer_is_too_small)
{
	char out[8];

	cr_assert_eq(fx_model_sku_id("abcde", out, sizeof(out)), 0, "s_abcde and its NUL fit 8 bytes");
	cr_assert_str_eq(out, "s_abcde");
	cr_assert_eq(fx_model_sku_id("abcdef", out, sizeof(out)), -1);
	cr_assert_eq(fx_model_sku_id("abcd/", out, sizeof(out)), -1, "the escape needs 3 bytes");
	cr_assert_eq(fx_model_sku_id("", out, sizeof(out)), -1, "a SKU is never empty");
	cr_assert_eq(fx_model_sku_id("a", out, 3), -1);
}

Test(sku_ids, decode_refuses_what_fx_sku_id_never_makes)
{
	static const char *const bad[] = {"",	   "s_",    "x_ab",  "s_X4", "s_XZZ", "s_X2e",
					  "s_X41", "s_X2E", "s_X61", "s_aB", "s_a.b", "s_a/b"};
	char out[64];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(fx_model_sku_id_decode(bad[i], out, sizeof(out)), -1, "%s", bad[i]);
	cr_assert_eq(fx_model_sku_id_decode("s_abc", out, 3), -1, "too small for abc");
}

/* ---- bounded scans against the Firestore emulator (started once by the runner process) ---- */

#define PORT_ENV "FLUXORI_TEST_MODEL_FIRESTORE"
#define NDOCS 5

const struct emu_fixture emu_fixture = {"model", EMU_ALONE, EMU_FIRESTORE, PORT_ENV, NULL};

static struct emu_client emu;
static char parent[64];

/* NDOCS documents under a new parent: id d<k>, {n: NDOCS - k} (the id order is the reverse of n's). */
static void scan_setup(void)
{
	json_object *w = json_object_new_array();
	struct fx_err err;
	char id[FX_ID_LEN + 1];

	fx_log_init("test_model", FX_LOG_ERROR + 1);
	fx_err_clear(&err);
	emu_firestore_use(&emu, PORT_ENV);
	fx_model_id_new(id);
	snprintf(parent, sizeof(parent), "scans/%s", id);
	for (int k = 0; k < NDOCS; k++) {
		struct fx_value map = {0};
		char path[128], *name;

		snprintf(path, sizeof(path), "%s/items/d%d", parent, k);
		fx_value_map(&map);
		fx_map_set_int(&map, "n", NDOCS - k);
		name = fx_firestore_name(path);
		cr_assert_eq(fx_fswrite_set(w, name, &map, NULL, &err), 0, "%s", err.message);
		free(name);
		fx_value_cleanup(&map);
	}
	cr_assert_eq(fx_firestore_commit(w, NULL, NULL, NULL, &err), 0, "%s", err.message);
	json_object_put(w);
}

TestSuite(scan, .init = scan_setup, .timeout = 120);

/* What a scan saw: the ids in order, the page sizes, and whether it was over its bound. */
struct seen {
	char ids[NDOCS + 1][8];
	size_t n, pages[NDOCS + 1], npages;
	int fail_at_page; /* 1-based; 0: never */
	bool over;
};

static int take_page(void *ctx, struct fx_doc *docs, size_t n, struct fx_err *e)
{
	struct seen *s = ctx;

	cr_assert_lt(s->npages, NDOCS + 1);
	s->pages[s->npages++] = n;
	if ((int)s->npages == s->fail_at_page)
		return fx_err_set(e, FX_INVALID_ARGUMENT, "page %zu refused", s->npages);
	for (size_t i = 0; i < n; i++) {
		cr_assert_lt(s->n, NDOCS + 1);
		snprintf(s->ids[s->n++], sizeof(s->ids[0]), "%s", docs[i].id);
	}
	return 0;
}

static int over(void *ctx, struct fx_err *e)
{
	((struct seen *)ctx)->over = true;
	return fx_err_set(e, FX_FAILED_PRECONDITION, "too many");
}

/* Scans parent's items ordered by n (order_field "n") or by id (NULL). */
static int run_scan(struct seen *s, const char *order_field, int page_size, size_t max, struct fx_err *e)
{
	struct fx_scan sc = {.parent_rel = parent,
			     .q = fx_fsquery_new("items", false),
			     .order_field = order_field,
			     .page_size = page_size,
			     .max = max,
			     .page = take_page,
			     .over = over,
			     .ctx = s};
	int rc = -1;

	char *name = fx_firestore_name(parent);

	fx_err_clear(e);
	if (fx_fsquery_parent(sc.q, name, e) < 0 ||
	    (order_field && fx_fsquery_order_by(sc.q, order_field, false, e) < 0) ||
	    fx_fsquery_order_by(sc.q, "__name__", false, e) < 0)
		goto out;
	rc = fx_model_scan_run(&sc, e);
out:
	free(name);
	fx_fsquery_free(sc.q);
	return rc;
}

Test(scan, reads_every_document_once_in_order_across_pages)
{
	struct seen s = {0};
	struct fx_err e;

	cr_assert_eq(run_scan(&s, "n", 2, 100, &e), 0, "%s", e.message);
	cr_assert_eq(s.n, NDOCS);
	for (size_t i = 0; i < NDOCS; i++) { /* n ascending: d4 first */
		char want[8];

		snprintf(want, sizeof(want), "d%zu", NDOCS - 1 - i);
		cr_assert_str_eq(s.ids[i], want);
	}
	cr_assert_eq(s.npages, 3);
	cr_assert_eq(s.pages[0], 2);
	cr_assert_eq(s.pages[1], 2);
	cr_assert_eq(s.pages[2], 1);
	cr_assert_not(s.over);
}

Test(scan, without_an_order_field_pages_by_id)
{
	struct seen s = {0};
	struct fx_err e;

	cr_assert_eq(run_scan(&s, NULL, 2, 100, &e), 0, "%s", e.message);
	cr_assert_eq(s.n, NDOCS);
	cr_assert_str_eq(s.ids[0], "d0");
	cr_assert_str_eq(s.ids[NDOCS - 1], "d4");
}

Test(scan, of_exactly_its_bound_is_whole)
{
	struct seen s = {0};
	struct fx_err e;

	cr_assert_eq(run_scan(&s, "n", 2, NDOCS, &e), 0, "%s", e.message);
	cr_assert_eq(s.n, NDOCS);
	cr_assert_not(s.over);
}

Test(scan, past_its_bound_fails_through_over_without_passing_the_excess_on)
{
	struct seen s = {0};
	struct fx_err e;

	cr_assert_eq(run_scan(&s, "n", 2, NDOCS - 2, &e), -1);
	cr_assert(s.over);
	cr_assert_eq(fx_err_http(e.kind), 409);
	cr_assert_str_eq(e.message, "too many");
	cr_assert_leq(s.n, NDOCS - 2, "pages past the bound reached the caller: %zu documents", s.n);
}

Test(scan, stops_at_a_page_that_fails)
{
	struct seen s = {.fail_at_page = 2};
	struct fx_err e;

	cr_assert_eq(run_scan(&s, "n", 2, 100, &e), -1);
	cr_assert_eq(fx_err_http(e.kind), 400);
	cr_assert_str_eq(e.message, "page 2 refused");
	cr_assert_eq(s.npages, 2);
	cr_assert_eq(s.n, 2);
	cr_assert_not(s.over);
}

/* fx_model_doc_write must give json-c's text of fx_model_doc_json, byte for byte. */
static void assert_doc_written_as_jsonc(const struct fx_doc *d, const char *const *hidden, const char *what)
{
	json_object *j = fx_model_doc_json(d, hidden);
	size_t len;
	const char *want = fx_json_text(j, &len);
	struct fx_buf b;

	fx_buf_init(&b, 1 << 20);
	cr_assert_eq(fx_model_doc_write(&b, d, hidden), 0, "%s", what);
	cr_assert_str_eq(b.data, want, "%s", what);
	cr_assert_eq(b.len, len, "%s", what);
	fx_buf_cleanup(&b);
	json_object_put(j);
}

Test(doc_text, written_directly_equals_json_c_with_hidden_missing_and_clashing_fields)
{
	static const char *const hidden[] = {"organizationId", "nameLower", NULL};
	static const char *const hide_id[] = {"id", NULL};
	struct fx_doc d = {0};
	struct fx_value *m;

	fx_value_map(&d.fields);
	assert_doc_written_as_jsonc(&d, NULL, "no id, no fields, no update time");
	d.name = strdup("projects/p/databases/(default)/documents/organizations/o/products/P1");
	d.id = strrchr(d.name, '/') + 1;
	fx_map_set_str(&d.fields, "organizationId", "o");
	fx_map_set_str(&d.fields, "name", "Caf\xc3\xa9 \"Deluxe\"\n");
	fx_map_set_str(&d.fields, "nameLower", "caf\xc3\xa9");
	fx_map_set_int(&d.fields, "priceCents", INT64_MAX);
	fx_value_null(fx_map_set(&d.fields, "barcode"));
	fx_map_set_ts(&d.fields, "createdAt", 1764633600, 123456789);
	m = fx_map_set(&d.fields, "stock");
	fx_value_map(m);
	fx_map_set_int(m, "onHand", -4);
	snprintf(d.update_time, sizeof(d.update_time), "2026-12-02T18:00:00.123456Z");
	assert_doc_written_as_jsonc(&d, hidden, "a product, two fields hidden");
	assert_doc_written_as_jsonc(&d, NULL, "a product, nothing hidden");
	fx_map_set_str(&d.fields, "id", "stored id");
	assert_doc_written_as_jsonc(&d, NULL, "a stored field named id replaces the id in place");
	assert_doc_written_as_jsonc(&d, hide_id, "a stored id that is hidden");
	fx_map_set_str(&d.fields, "etag", "stored etag");
	assert_doc_written_as_jsonc(&d, hide_id, "a stored field named etag");
	fx_firestore_doc_cleanup(&d);
}

/* Answers show top-level fields by name whatever order Firestore stored them in; nested maps as stored. */
Test(doc_text, shows_fields_by_name_whatever_order_they_were_stored_in)
{
	struct fx_doc a = {0}, b = {0};
	struct fx_buf ba, bb;
	struct fx_value *m;

	fx_value_map(&a.fields);
	fx_value_map(&b.fields);
	fx_map_set_str(&a.fields, "status", "pending");
	fx_map_set_int(&a.fields, "number", 7);
	m = fx_map_set(&a.fields, "customer");
	fx_value_map(m);
	fx_map_set_str(m, "name", "Lerato");
	fx_map_set_str(m, "email", "l@example.com");
	fx_map_set_str(&a.fields, "Zulu", "upper case sorts first");
	fx_map_set_str(&b.fields, "Zulu", "upper case sorts first");
	m = fx_map_set(&b.fields, "customer");
	fx_value_map(m);
	fx_map_set_str(m, "name", "Lerato");
	fx_map_set_str(m, "email", "l@example.com");
	fx_map_set_int(&b.fields, "number", 7);
	fx_map_set_str(&b.fields, "status", "pending");
	fx_buf_init(&ba, 1 << 20);
	fx_buf_init(&bb, 1 << 20);
	cr_assert_eq(fx_model_doc_write(&ba, &a, NULL), 0);
	cr_assert_eq(fx_model_doc_write(&bb, &b, NULL), 0);
	cr_assert_str_eq(ba.data,
			 "{\"id\":\"\",\"Zulu\":\"upper case sorts first\",\"customer\":{\"name\":\"Lerato\",\"email\":"
			 "\"l@example.com\"},\"number\":7,\"status\":\"pending\",\"etag\":\"\\\"\\\"\"}");
	cr_assert_str_eq(ba.data, bb.data, "the stored order does not show");
	assert_doc_written_as_jsonc(&a, NULL, "fields out of order");
	fx_buf_cleanup(&ba);
	fx_buf_cleanup(&bb);
	fx_firestore_doc_cleanup(&a);
	fx_firestore_doc_cleanup(&b);
}

/* Many fields (past the ones sorted without an allocation) are shown by name too. */
Test(doc_text, shows_many_fields_by_name)
{
	struct fx_doc d = {0};
	struct fx_buf b;
	char name[16];
	const char *at, *prev = NULL;

	fx_value_map(&d.fields);
	for (int i = 199; i >= 0; i--) {
		snprintf(name, sizeof(name), "f%03d", i);
		fx_map_set_int(&d.fields, name, i);
	}
	fx_buf_init(&b, 1 << 20);
	cr_assert_eq(fx_model_doc_write(&b, &d, NULL), 0);
	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "\"f%03d\"", i);
		at = strstr(b.data, name);
		cr_assert_not_null(at, "%s", name);
		cr_assert(!prev || at > prev, "%s after the one before", name);
		prev = at;
	}
	assert_doc_written_as_jsonc(&d, NULL, "200 fields out of order");
	fx_buf_cleanup(&b);
	fx_firestore_doc_cleanup(&d);
}

/* fx_model_doc_updated: the document as a read returns it after an update of the masked fields. */
Test(doc_updated, replaces_adds_and_removes_the_masked_fields_and_takes_the_version)
{
	static const char *const mask[] = {"notes", "status", "cancelReason", "updatedAt", NULL};
	static const char *const nested[] = {"stock.onHand", NULL};
	struct fx_doc d = {0}, want = {0};
	struct fx_value map = {0};
	struct fx_buf bd, bw;
	struct fx_err e = {0};

	fx_value_map(&d.fields);
	fx_map_set_str(&d.fields, "status", "pending");
	fx_map_set_str(&d.fields, "cancelReason", "old");
	fx_map_set_str(&d.fields, "number", "FX-000001");
	snprintf(d.update_time, sizeof(d.update_time), "2026-12-03T10:00:00.000001Z");
	fx_value_map(&map);
	fx_map_set_str(&map, "status", "cancelled");
	fx_map_set_str(&map, "notes", "new field");
	fx_map_set_ts(&map, "updatedAt", 1764756000, 123000000);
	cr_assert_eq(fx_model_doc_updated(&d, &map, mask, "2026-12-03T10:00:01.000002Z", &e), 0, "%s", e.message);
	cr_assert_str_eq(d.update_time, "2026-12-03T10:00:01.000002Z");
	cr_assert_null(fx_map_get(&d.fields, "cancelReason"), "a masked field the write lacks is removed");
	cr_assert_str_eq(fx_value_path_str(&d.fields, "status"), "cancelled");
	cr_assert_str_eq(fx_value_path_str(&d.fields, "notes"), "new field");
	cr_assert_str_eq(fx_value_path_str(&d.fields, "number"), "FX-000001", "unmasked fields stay");
	fx_value_map(&want.fields);
	fx_map_set_str(&want.fields, "number", "FX-000001");
	fx_map_set_ts(&want.fields, "updatedAt", 1764756000, 123000000);
	fx_map_set_str(&want.fields, "notes", "new field");
	fx_map_set_str(&want.fields, "status", "cancelled");
	snprintf(want.update_time, sizeof(want.update_time), "2026-12-03T10:00:01.000002Z");
	fx_buf_init(&bd, 1 << 20);
	fx_buf_init(&bw, 1 << 20);
	cr_assert_eq(fx_model_doc_write(&bd, &d, NULL), 0);
	cr_assert_eq(fx_model_doc_write(&bw, &want, NULL), 0);
	cr_assert_str_eq(bd.data, bw.data);
	cr_assert_eq(fx_model_doc_updated(&d, &map, mask, NULL, &e), 0, "%s", e.message);
	cr_assert_str_eq(d.update_time, "2026-12-03T10:00:01.000002Z", "NULL leaves the version");
	cr_assert_eq(fx_model_doc_updated(&d, &map, nested, NULL, &e), -1, "nested paths are not applied");
	cr_assert(fx_err_is(&e, FX_INTERNAL));
	fx_buf_cleanup(&bd);
	fx_buf_cleanup(&bw);
	fx_value_cleanup(&map);
	fx_firestore_doc_cleanup(&d);
	fx_firestore_doc_cleanup(&want);
}
