/*
 * lib/firestore: the Firestore REST v1 transport, against Google's Cloud
 * Firestore emulator. The binary starts its own emulator once (a report hook
 * before all tests, on a free loopback port, in its own process group) and
 * stops it after the last test; every test uses its own collections, so the
 * tests may run in parallel.
 */
#include "firestore.h"

#include "config.h"
#include "emulator.h"
#include "fsvalue.h"
#include "fswrite.h"
#include "httpc.h"
#include "log.h"
#include "map.h"
#include "mem.h"
#include "str.h"
#include "testserver.h"
#include "ts.h"

#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PORT_ENV "FLUXORI_TEST_FIRESTORE_EMULATOR" /* host:port, set once the emulator answers */

/* ---- the emulator fixture (runs in the runner process) ---- */

const struct emu_fixture emu_fixture = {"firestore", EMU_ALONE, EMU_FIRESTORE, PORT_ENV, NULL};

/* ---- per test ---- */

static struct emu_client emu;
static struct fx_err err;

static void setup(void)
{
	fx_log_init("test_firestore", FX_LOG_ERROR + 1);
	emu_firestore_use(&emu, PORT_ENV);
	fx_err_clear(&err);
}

TestSuite(firestore, .init = setup, .timeout = 120);

/* ---- helpers ---- */

/* Value equality where map fields may come back in another order. */
static bool same(const struct fx_value *a, const struct fx_value *b)
{
	if (a->type != b->type)
		return false;
	if (a->type == FX_V_MAP) {
		if (a->u.map.n != b->u.map.n)
			return false;
		for (size_t i = 0; i < a->u.map.n; i++) {
			const struct fx_value *other = fx_map_get(b, a->u.map.fields[i].name);

			if (!other || !same(&a->u.map.fields[i].value, other))
				return false;
		}
		return true;
	}
	if (a->type == FX_V_ARRAY) {
		if (a->u.arr.n != b->u.arr.n)
			return false;
		for (size_t i = 0; i < a->u.arr.n; i++)
			if (!same(&a->u.arr.items[i], &b->u.arr.items[i]))
				return false;
		return true;
	}
	return fx_value_equal(a, b);
}

static int64_t int_field(const struct fx_doc *d, const char *name)
{
	int64_t v = 0;

	cr_assert(fx_value_path_int(&d->fields, name, &v), "%s has no integer %s", d->name, name);
	return v;
}

/*
 * Creates rel with the integer fields names[i] = values[i] (names
 * NULL-terminated; "a.b" is field b of map a); out (may be NULL) receives the
 * new document. Fails the test on error.
 */
static void create_ints(const char *rel, const char *const *names, const int64_t *values, struct fx_doc *out)
{
	struct fx_value f = {0};
	struct fx_err e;

	fx_err_clear(&e);
	fx_value_map(&f);
	for (size_t i = 0; names[i]; i++) {
		const char *dot = strchr(names[i], '.');
		struct fx_value *map = &f;

		if (dot) {
			char parent[64];

			cr_assert_lt((size_t)(dot - names[i]), sizeof(parent));
			snprintf(parent, sizeof(parent), "%.*s", (int)(dot - names[i]), names[i]);
			map = (struct fx_value *)fx_map_get(&f, parent);
			if (!map) {
				map = fx_map_set(&f, parent);
				fx_value_map(map);
			}
		}
		fx_map_set_int(map, dot ? dot + 1 : names[i], values[i]);
	}
	cr_assert_eq(fx_firestore_create(rel, &f, out, &e), 0, "create %s: %s", rel, e.message);
	fx_value_cleanup(&f);
}

/* Creates rel with {n: v}; fails the test on error. */
static void create_n(const char *rel, int64_t v, struct fx_doc *out)
{
	create_ints(rel, (const char *const[]){"n", NULL}, &v, out);
}

static void get_n(const char *rel, int64_t *v)
{
	struct fx_doc d;
	struct fx_err e;

	fx_err_clear(&e);
	cr_assert_eq(fx_firestore_get(rel, &d, &e), 0, "get %s: %s", rel, e.message);
	*v = int_field(&d, "n");
	fx_firestore_doc_cleanup(&d);
}

/* An update Write setting n on rel (exists=true, or the updateTime precondition when given). */
static void add_update_n(json_object *writes, const char *rel, int64_t v, const char *update_time)
{
	struct fx_value f = {0};
	const char *mask[] = {"n", NULL};
	char *name = fx_firestore_name(rel);
	struct fx_err e;

	fx_err_clear(&e);
	fx_value_map(&f);
	fx_map_set_int(&f, "n", v);
	cr_assert_eq(fx_fswrite_update(writes, name, &f, mask, update_time, NULL, &e), 0, "%s", e.message);
	fx_value_cleanup(&f);
	free(name);
}

/* ---- documents ---- */

Test(firestore, get_of_missing_document_is_404)
{
	struct fx_doc d;

	cr_assert_eq(fx_firestore_get("get_missing/nope", &d, &err), -1);
	cr_assert_eq(fx_err_http(err.kind), 404, "%d %s", fx_err_http(err.kind), err.message);
	cr_assert_str_eq(fx_err_name(err.kind), "NOT_FOUND");
	cr_assert_null(d.name, "a failed get leaves the document empty");
}

Test(firestore, create_then_get_returns_every_type_unchanged)
{
	struct fx_value f = {0}, *v, *m;
	struct fx_doc created, got;
	char *ref = fx_firestore_name("types/other");
	static const unsigned char bytes[] = {0, 1, 0xff, 0x80, 'x'};

	fx_value_map(&f);
	fx_value_null(fx_map_set(&f, "null"));
	fx_map_set_bool(&f, "yes", true);
	fx_map_set_int(&f, "max", INT64_MAX);
	fx_map_set_int(&f, "min", INT64_MIN);
	fx_value_double(fx_map_set(&f, "pi"), 3.141592653589793);
	fx_value_double(fx_map_set(&f, "huge"), 1e300);
	fx_value_double(fx_map_set(&f, "nan"), NAN);
	fx_value_double(fx_map_set(&f, "inf"), -INFINITY);
	fx_map_set_ts(&f, "when", 1767225600, 123456000); /* microseconds: what Firestore keeps */
	fx_map_set_str(&f, "text", "h\xc3\xa9llo \xf0\x9f\x8c\x8d \"quoted\"");
	fx_value_bytes(fx_map_set(&f, "raw"), bytes, sizeof(bytes));
	fx_value_ref(fx_map_set(&f, "ref"), ref);
	fx_value_geo(fx_map_set(&f, "where"), -33.9249, 18.4241);
	v = fx_map_set(&f, "list");
	fx_value_array(v);
	fx_value_int(fx_value_push(v), 1);
	fx_value_string(fx_value_push(v), "two", 3);
	m = fx_value_push(v);
	fx_value_map(m);
	fx_map_set_bool(m, "inside", false);
	fx_value_array(fx_map_set(&f, "empty_list"));
	fx_value_map(fx_map_set(&f, "empty_map"));
	m = fx_map_set(&f, "nested");
	fx_value_map(m);
	fx_map_set_str(m, "a.b c", "field names need quoting");
	fx_map_set_int(m, "z", -1);

	cr_assert_eq(fx_firestore_create("types/all", &f, &created, &err), 0, "%s", err.message);
	cr_assert_eq(fx_firestore_get("types/all", &got, &err), 0, "%s", err.message);
	cr_assert(same(&f, &got.fields), "the fields read back differ from the fields written");
	cr_assert(same(&f, &created.fields), "create answers with the stored fields");
	free(ref);
	ref = fx_firestore_name("types/all");
	cr_assert_str_eq(got.name, ref);
	cr_assert_str_eq(got.id, "all");
	cr_assert_str_eq(created.update_time, got.update_time);
	cr_assert_str_eq(got.create_time, got.update_time, "a new document was created and updated at once");
	cr_assert_gt(strlen(got.update_time), 20);
	fx_firestore_doc_cleanup(&got);
	fx_firestore_doc_cleanup(&created);
	fx_value_cleanup(&f);
	free(ref);
}

Test(firestore, create_of_existing_document_is_409_already_exists)
{
	int64_t n;

	create_n("dup/d1", 1, NULL);
	fx_err_clear(&err);
	{
		struct fx_value f = {0};

		fx_value_map(&f);
		fx_map_set_int(&f, "n", 2);
		cr_assert_eq(fx_firestore_create("dup/d1", &f, NULL, &err), -1);
		fx_value_cleanup(&f);
	}
	cr_assert_eq(fx_err_http(err.kind), 409, "%d %s", fx_err_http(err.kind), err.message);
	cr_assert_str_eq(fx_err_name(err.kind), "ALREADY_EXISTS");
	get_n("dup/d1", &n);
	cr_assert_eq(n, 1, "the second create changed nothing");
}

Test(firestore, commit_with_stale_update_time_is_failed_precondition)
{
	struct fx_doc d;
	json_object *w = json_object_new_array();
	char updated[1][40], commit_time[40];
	int64_t n;

	create_n("stale/d1", 1, &d);
	add_update_n(w, "stale/d1", 2, d.update_time);
	cr_assert_eq(fx_firestore_commit(w, NULL, commit_time, updated, &err), 0, "%s", err.message);
	cr_assert_str_neq(updated[0], d.update_time, "the write gave the document a new updateTime");
	cr_assert_str_eq(updated[0], commit_time);
	json_object_put(w);

	/* The same precondition again: the document moved on. */
	w = json_object_new_array();
	add_update_n(w, "stale/d1", 3, d.update_time);
	cr_assert_eq(fx_firestore_commit(w, NULL, NULL, NULL, &err), -1);
	cr_assert_eq(fx_err_http(err.kind), 409, "%d %s", fx_err_http(err.kind), err.message);
	cr_assert_str_eq(fx_err_name(err.kind), "FAILED_PRECONDITION");
	json_object_put(w);
	get_n("stale/d1", &n);
	cr_assert_eq(n, 2);
	fx_firestore_doc_cleanup(&d);
}

Test(firestore, update_requiring_existence_of_missing_document_is_404)
{
	json_object *w = json_object_new_array();
	struct fx_doc d;

	add_update_n(w, "exists/missing", 1, NULL);
	cr_assert_eq(fx_firestore_commit(w, NULL, NULL, NULL, &err), -1);
	cr_assert_eq(fx_err_http(err.kind), 404, "%d %s", fx_err_http(err.kind), err.message);
	cr_assert_str_eq(fx_err_name(err.kind), "NOT_FOUND");
	json_object_put(w);
	fx_err_clear(&err);
	cr_assert_eq(fx_firestore_get("exists/missing", &d, &err), -1, "the failed update created nothing");
	cr_assert_eq(fx_err_http(err.kind), 404);
}

Test(firestore, delete_of_missing_document_succeeds_and_delete_removes)
{
	struct fx_doc d;

	cr_assert_eq(fx_firestore_delete("del/never", &err), 0, "%s", err.message);
	create_n("del/d1", 1, NULL);
	cr_assert_eq(fx_firestore_delete("del/d1", &err), 0, "%s", err.message);
	cr_assert_eq(fx_firestore_get("del/d1", &d, &err), -1);
	cr_assert_eq(fx_err_http(err.kind), 404);
}

Test(firestore, a_masked_get_answers_only_the_masked_fields)
{
	static const char *const mask[] = {"keep", "nested.in", "`odd name`", "absent", NULL};
	struct fx_doc d;
	int64_t v = 0;

	create_ints("masked/m1", (const char *const[]){"keep", "drop", "odd name", "nested.in", "nested.out", NULL},
		    (const int64_t[]){1, 2, 3, 4, 5}, NULL);
	cr_assert_eq(fx_firestore_get_mask("masked/m1", mask, &d, &err), 0, "%s", err.message);
	cr_assert_str_eq(d.id, "m1");
	cr_assert_neq(d.update_time[0], '\0', "the etag source comes with a masked read");
	cr_assert(fx_value_path_int(&d.fields, "keep", &v) && v == 1);
	cr_assert(fx_value_path_int(&d.fields, "nested.in", &v) && v == 4);
	cr_assert_not_null(fx_map_get(&d.fields, "odd name"), "a back-quoted path reaches its field");
	cr_assert_null(fx_map_get(&d.fields, "drop"), "a field outside the mask is not read");
	cr_assert_null(fx_value_path(&d.fields, "nested.out"), "nor a sibling of a masked nested field");
	cr_assert_null(fx_map_get(&d.fields, "absent"));
	cr_assert_eq(d.fields.u.map.n, 3);
	fx_firestore_doc_cleanup(&d);

	/* An empty mask reads everything, as fx_firestore_get does. */
	cr_assert_eq(fx_firestore_get_mask("masked/m1", (const char *const[]){NULL}, &d, &err), 0, "%s", err.message);
	cr_assert_eq(d.fields.u.map.n, 4);
	fx_firestore_doc_cleanup(&d);
}

Test(firestore, one_mask_array_reused_with_other_paths_reads_the_new_paths)
{
	const char *mask[] = {"a", NULL, NULL};
	struct fx_doc d;
	int64_t v = 0;

	create_ints("masked/reuse", (const char *const[]){"a", "b", "c", NULL}, (const int64_t[]){1, 2, 3}, NULL);
	for (int round = 0; round < 2; round++) {
		mask[0] = "a";
		mask[1] = NULL;
		cr_assert_eq(fx_firestore_get_mask("masked/reuse", mask, &d, &err), 0, "%s", err.message);
		cr_assert_eq(d.fields.u.map.n, 1);
		cr_assert(fx_value_path_int(&d.fields, "a", &v) && v == 1);
		fx_firestore_doc_cleanup(&d);

		/* The same array (same address) now names other fields. */
		mask[0] = "b";
		mask[1] = "c";
		cr_assert_eq(fx_firestore_get_mask("masked/reuse", mask, &d, &err), 0, "%s", err.message);
		cr_assert_eq(d.fields.u.map.n, 2, "round %d: the new paths are read, not the previous ones", round);
		cr_assert(fx_value_path_int(&d.fields, "b", &v) && v == 2);
		cr_assert(fx_value_path_int(&d.fields, "c", &v) && v == 3);
		cr_assert_null(fx_map_get(&d.fields, "a"));
		fx_firestore_doc_cleanup(&d);

		/* A prefix of the previous mask is a different mask. */
		mask[1] = NULL;
		cr_assert_eq(fx_firestore_get_mask("masked/reuse", mask, &d, &err), 0, "%s", err.message);
		cr_assert_eq(d.fields.u.map.n, 1);
		cr_assert(fx_value_path_int(&d.fields, "b", &v) && v == 2);
		fx_firestore_doc_cleanup(&d);
	}
}

/* Asserts err is a 400 naming "mask". */
static void assert_mask_refused(const char *what)
{
	cr_assert(fx_err_is(&err, FX_INVALID_ARGUMENT), "%s: %s %s", what, fx_err_name(err.kind), err.message);
	cr_assert_eq(err.ndetails, 1, "%s: %s", what, err.message);
	cr_assert_str_eq(err.details[0].field, "mask", "%s: %s", what, err.message);
}

/* FX_QUERY_MAX_SELECT + 1 paths, NULL-terminated; the caller frees the array. */
static const char **too_many_paths(void)
{
	const char **mask = fx_mem_xcalloc(FX_QUERY_MAX_SELECT + 2, sizeof(*mask));

	for (size_t i = 0; i <= FX_QUERY_MAX_SELECT; i++)
		mask[i] = "n";
	return mask;
}

Test(firestore, a_malformed_mask_is_refused_before_any_call)
{
	static const char *const bad[] = {"ok", "a..b", NULL};
	const char **many = too_many_paths();
	struct fx_doc d;

	/* Nothing listens there: a call would be a 503, not a 400. */
	emu.cfg.firestore_url = "http://127.0.0.1:1";
	fx_err_clear(&err);
	cr_assert_eq(fx_firestore_get_mask("masked/whatever", bad, &d, &err), -1);
	assert_mask_refused("a malformed path");
	cr_assert_str_eq(err.message, "invalid mask: invalid field path \"a..b\": empty segment");
	cr_assert_null(d.name);
	fx_err_clear(&err);
	cr_assert_eq(fx_firestore_get_mask("masked/whatever", many, &d, &err), -1);
	assert_mask_refused("too many paths");
	free(many);

	/* Five segments of 1400 bytes: each a valid name, formatted together over a document name's 6 KiB. */
	{
		char *path = fx_mem_xcalloc(5 * 1401, 1);
		const char *longest[] = {path, NULL};

		for (int i = 0; i < 5; i++) {
			memset(path + i * 1401, 'a', 1400);
			path[i * 1401 + 1400] = i < 4 ? '.' : '\0';
		}
		fx_err_clear(&err);
		cr_assert_eq(fx_firestore_get_mask("masked/whatever", longest, &d, &err), -1);
		assert_mask_refused("an over-long path");
		free(path);
	}
}

Test(firestore, malformed_paths_are_refused_before_any_call)
{
	static const char *const bad[] = {"coll", "a//b", "a/b/c", "/a/b", "a/b/", "a/..", "a/__x__", "", NULL};
	struct fx_doc d;

	for (const char *const *p = bad; *p; p++) {
		fx_err_clear(&err);
		cr_assert_eq(fx_firestore_get(*p, &d, &err), -1, "accepted \"%s\"", *p);
		cr_assert_eq(fx_err_http(err.kind), 400, "\"%s\": %d %s", *p, fx_err_http(err.kind), err.message);
	}
}

Test(firestore, document_ids_with_url_characters_round_trip)
{
	const char *rel = "odd ids/a b?c#d%e&f=g+h\xc3\xa9";
	struct fx_doc d;

	create_n(rel, 7, NULL);
	cr_assert_eq(fx_firestore_get(rel, &d, &err), 0, "%s", err.message);
	cr_assert_str_eq(d.id, "a b?c#d%e&f=g+h\xc3\xa9");
	cr_assert_eq(int_field(&d, "n"), 7);
	fx_firestore_doc_cleanup(&d);
	cr_assert_eq(fx_firestore_delete(rel, &err), 0, "%s", err.message);
	cr_assert_eq(fx_firestore_get(rel, &d, &err), -1);
}

Test(firestore, unreachable_firestore_is_503_unavailable)
{
	struct fx_doc d;
	char dead[64];

	snprintf(dead, sizeof(dead), "127.0.0.1:%d", emu_free_port());
	snprintf(emu.url, sizeof(emu.url), "http://%s", dead);
	emu.cfg.firestore_emulator = dead;
	emu.cfg.http_timeout_ms = 1500;
	cr_assert_eq(fx_firestore_get("down/d1", &d, &err), -1);
	cr_assert_eq(fx_err_http(err.kind), 503, "%d %s", fx_err_http(err.kind), err.message);
	cr_assert_str_eq(fx_err_name(err.kind), "UNAVAILABLE");
	cr_assert_eq(err.retry_after, 1);
}

/*
 * A Firestore answer we cannot use is named as Storage's, Identity Toolkit's
 * and Vertex AI's are: 502 UNAVAILABLE (it was 502 INTERNAL here alone).
 */
Test(firestore, malformed_answer_is_502_unavailable_as_from_every_backend)
{
	struct testserver *fake = ts_start();
	struct fx_doc d;
	char host[64];

	ts_reply(fake, 200, "Content-Type: application/json\r\n", "{\"name\": 42");
	snprintf(host, sizeof(host), "%s", ts_url(fake) + strlen("http://"));
	snprintf(emu.url, sizeof(emu.url), "%s", ts_url(fake));
	emu.cfg.firestore_emulator = host;
	cr_assert_eq(fx_firestore_get("bad/d1", &d, &err), -1);
	cr_assert_eq(fx_err_http(err.kind), 502, "%d %s", fx_err_http(err.kind), err.message);
	cr_assert_str_eq(fx_err_name(err.kind), "UNAVAILABLE", "%s", err.message);
	cr_assert(strstr(err.message, "malformed answer"), "%s", err.message);
	ts_stop(fake);
}

/* Points the client at a fake refusing everything (400); returns it. */
static struct testserver *fake_firestore(void)
{
	struct testserver *fake = ts_start();
	static char host[64];

	ts_reply(fake, 400, "Content-Type: application/json\r\n",
		 "{\"error\": {\"code\": 400, \"message\": \"refused\", \"status\": \"INVALID_ARGUMENT\"}}");
	snprintf(host, sizeof(host), "%s", ts_url(fake) + strlen("http://"));
	snprintf(emu.url, sizeof(emu.url), "%s", ts_url(fake));
	emu.cfg.firestore_emulator = host;
	return fake;
}

/* The target of the fake's last request, which must have come. */
static void assert_target(struct testserver *fake, const char *what, const char *want)
{
	struct ts_request r;

	cr_assert(ts_last(fake, &r), "%s: no request", what);
	cr_assert_str_eq(r.path, want, "%s: %s", what, r.path);
}

#define DOCS "/v1/projects/demo-fluxori/databases/%28default%29/documents"

/*
 * Every Firestore call asks for the answer without indentation (Google's
 * system parameter prettyPrint=false), a mask's paths after it; the same
 * target when the thread's mask cache answers.
 */
Test(firestore, every_call_asks_for_answers_without_pretty_printing)
{
	struct testserver *fake = fake_firestore();
	const char *mask[] = {"a", "b.`c d`", NULL};
	const char *paths[] = {"pp/d1"};
	struct fx_query *q = fx_fsquery_new("pp", false);
	struct fx_doc d, batch[1], *docs = NULL;
	size_t n = 0;

	cr_assert_eq(fx_firestore_get("pp/d1", &d, &err), -1);
	assert_target(fake, "get", DOCS "/pp/d1?prettyPrint=false");
	for (int round = 0; round < 2; round++) {
		cr_assert_eq(fx_firestore_get_mask("pp/d1", mask, &d, &err), -1);
		assert_target(fake, "get with a mask",
			      DOCS "/pp/d1?prettyPrint=false&mask.fieldPaths=a&mask.fieldPaths=b.%60c%20d%60");
	}
	cr_assert_eq(fx_firestore_delete("pp/d1", &err), -1);
	assert_target(fake, "delete", DOCS "/pp/d1?prettyPrint=false");
	cr_assert_eq(fx_firestore_batch_get(paths, 1, NULL, batch, &err), -1);
	assert_target(fake, "batchGet", DOCS ":batchGet?prettyPrint=false");
	cr_assert_eq(fx_firestore_query("", q, NULL, &docs, &n, &err), -1);
	assert_target(fake, "runQuery", DOCS ":runQuery?prettyPrint=false");
	cr_assert_eq(fx_firestore_query("pp/d1", q, NULL, &docs, &n, &err), -1);
	assert_target(fake, "runQuery under a document", DOCS "/pp/d1:runQuery?prettyPrint=false");
	fx_fsquery_free(q);
	ts_stop(fake);
}

Test(firestore, ping_answers_on_the_emulator)
{
	cr_assert_eq(fx_firestore_ping(&err), 0, "%s", err.message);
}

/* ---- commit transforms ---- */

Test(firestore, commit_applies_server_timestamp_and_increment)
{
	json_object *w = json_object_new_array();
	struct fx_value f = {0}, by;
	struct fx_transform tr[2] = {{"stamp", FX_TR_SERVER_TIME, NULL}, {"n", FX_TR_INCREMENT, &by}};
	const char *mask[] = {"label", NULL};
	char *name = fx_firestore_name("transforms/d1");
	char commit_time[40], updated[2][40];
	int64_t now_s, secs;
	int32_t now_ns, nanos;
	struct fx_doc d;
	const struct fx_value *stamp;

	create_n("transforms/d1", 5, NULL);
	fx_value_map(&f);
	fx_map_set_str(&f, "label", "counted");
	fx_value_int(&by, 3);
	cr_assert_eq(fx_fswrite_doc(w, FX_WRITE_UPDATE, name, &f, mask, NULL, tr, 2, &err), 0, "%s", err.message);
	cr_assert_eq(fx_fswrite_increment(w, name, "n", 10, &err), 0, "%s", err.message);
	cr_assert_eq(fx_firestore_commit(w, NULL, commit_time, updated, &err), 0, "%s", err.message);
	cr_assert_str_eq(updated[0], commit_time);
	cr_assert_str_eq(updated[1], commit_time);

	cr_assert_eq(fx_firestore_get("transforms/d1", &d, &err), 0, "%s", err.message);
	cr_assert_eq(int_field(&d, "n"), 18, "5 + 3 + 10");
	cr_assert_str_eq(fx_value_path_str(&d.fields, "label"), "counted");
	stamp = fx_map_get(&d.fields, "stamp");
	cr_assert(stamp && stamp->type == FX_V_TIMESTAMP, "the server wrote a timestamp");
	fx_ts_now(&now_s, &now_ns);
	cr_assert_eq(fx_ts_parse(commit_time, &secs, &nanos), 0);
	cr_assert(stamp->u.ts.secs <= secs, "the request time is not after the commit");
	cr_assert(llabs(stamp->u.ts.secs - now_s) < 300, "the server time is the machine's time");
	fx_firestore_doc_cleanup(&d);
	fx_value_cleanup(&f);
	json_object_put(w);
	free(name);
}

/* ---- nesting ---- */

/* {"n": 0, "deep": {"deep": ... {"leaf": "bottom"}}} with maps nested as deep as Firestore allows. */
static void deep_fields(struct fx_value *f)
{
	struct fx_value *m;
	struct fx_err e;
	int levels = 0;

	fx_value_map(f);
	fx_map_set_int(f, "n", 0);
	m = f;
	for (;;) {
		struct fx_value *next = fx_map_set(m, "deep");

		fx_value_map(next);
		fx_map_set_str(next, "leaf", "bottom");
		fx_err_clear(&e);
		if (fx_fsvalue_check_fields(f, &e) < 0) {
			/* One level too many: drop it. */
			fx_value_cleanup(next);
			fx_value_string(next, "bottom", 6);
			break;
		}
		m = next;
		levels++;
	}
	cr_assert_eq(levels, FX_VALUE_MAX_DEPTH, "fields nest %d maps deep", levels);
}

Test(firestore, answers_with_a_20_deep_map_parse)
{
	struct fx_value f = {0};
	struct fx_doc got, batch[1], *docs = NULL;
	const char *paths[] = {"deep/d1"};
	struct fx_query *q = fx_fsquery_new("deep", false);
	size_t n = 0;

	deep_fields(&f);
	cr_assert_eq(fx_firestore_create("deep/d1", &f, NULL, &err), 0, "%s", err.message);
	cr_assert_eq(fx_firestore_get("deep/d1", &got, &err), 0, "get: %s", err.message);
	cr_assert(same(&f, &got.fields));
	cr_assert_eq(fx_firestore_batch_get(paths, 1, NULL, batch, &err), 0, "batchGet: %s", err.message);
	cr_assert(same(&f, &batch[0].fields));
	cr_assert_eq(fx_firestore_query("", q, NULL, &docs, &n, &err), 0, "runQuery: %s", err.message);
	cr_assert_eq(n, 1);
	cr_assert(same(&f, &docs[0].fields), "the deepest answer (runQuery) decodes whole");
	fx_firestore_docs_free(docs, n);
	fx_firestore_doc_cleanup(&batch[0]);
	fx_firestore_doc_cleanup(&got);
	fx_value_cleanup(&f);
	fx_fsquery_free(q);
}

/* ---- queries ---- */

Test(firestore, query_pages_through_250_documents_with_cursors)
{
	json_object *w = json_object_new_array();
	struct fx_value f = {0}, item = {0};
	char rel[64], *name;
	char *seen[300] = {0};
	size_t total = 0, pages = 0;
	int64_t last = -1;
	struct fx_doc *prev = NULL;
	size_t prev_n = 0;

	/* 250 items whose order value repeats (n = i / 3), so pages must split ties by name; 40 others. */
	for (int i = 0; i < 290; i++) {
		snprintf(rel, sizeof(rel), "pages/doc%03d", (i * 7919) % 290);
		name = fx_firestore_name(rel);
		fx_value_map(&f);
		fx_map_set_int(&f, "n", i < 250 ? i / 3 : i);
		fx_map_set_str(&f, "kind", i < 250 ? "item" : "other");
		cr_assert_eq(fx_fswrite_set(w, name, &f, NULL, &err), 0, "%s", err.message);
		fx_value_cleanup(&f);
		free(name);
	}
	cr_assert_eq(fx_firestore_commit(w, NULL, NULL, NULL, &err), 0, "%s", err.message);
	json_object_put(w);
	fx_value_string(&item, "item", 4);

	for (;;) {
		struct fx_query *q = fx_fsquery_new("pages", false);
		struct fx_doc *docs = NULL;
		size_t n = 0;

		cr_assert_eq(fx_fsquery_where(q, "kind", "==", &item, &err), 0, "%s", err.message);
		cr_assert_eq(fx_fsquery_order_by(q, "n", false, &err), 0, "%s", err.message);
		fx_fsquery_limit(q, 20);
		if (prev)
			cr_assert_eq(fx_fsquery_cursor_doc(q, FX_CURSOR_START_AFTER, prev[prev_n - 1].name,
							   &prev[prev_n - 1].fields, &err),
				     0, "%s", err.message);
		cr_assert_eq(fx_firestore_query("", q, NULL, &docs, &n, &err), 0, "page %zu: %s", pages, err.message);
		fx_fsquery_free(q);
		fx_firestore_docs_free(prev, prev_n);
		prev = docs;
		prev_n = n;
		if (n == 0)
			break;
		pages++;
		cr_assert_leq(n, 20);
		for (size_t i = 0; i < n; i++) {
			int64_t v = int_field(&docs[i], "n");

			cr_assert_str_eq(fx_value_path_str(&docs[i].fields, "kind"), "item");
			cr_assert_geq(v, last, "ordered by n");
			last = v;
			for (size_t k = 0; k < total; k++)
				cr_assert_str_neq(seen[k], docs[i].id, "%s came twice", docs[i].id);
			cr_assert_lt(total, 250, "more documents than exist");
			seen[total++] = fx_mem_xstrdup(docs[i].id);
		}
		if (n < 20)
			break;
	}
	fx_firestore_docs_free(prev, prev_n);
	cr_assert_eq(total, 250, "every item once, no gaps");
	cr_assert_eq(pages, 13, "12 full pages and one of 10");
	cr_assert_eq(last, 249 / 3);
	for (size_t k = 0; k < total; k++)
		free(seen[k]);
	fx_value_cleanup(&item);
}

Test(firestore, query_without_match_returns_no_documents)
{
	struct fx_query *q = fx_fsquery_new("nothing_here", false);
	struct fx_doc *docs = (struct fx_doc *)&err; /* any non-NULL value */
	size_t n = 99;

	cr_assert_eq(fx_firestore_query("", q, NULL, &docs, &n, &err), 0, "%s", err.message);
	cr_assert_eq(n, 0);
	cr_assert_null(docs);
	fx_fsquery_free(q);
}

Test(firestore, query_under_a_document_reads_its_subcollection)
{
	struct fx_query *q = fx_fsquery_new("items", false);
	struct fx_doc *docs = NULL;
	size_t n = 0;

	create_n("sub_orgs/o1/items/i1", 1, NULL);
	create_n("sub_orgs/o2/items/i2", 2, NULL);
	cr_assert_eq(fx_firestore_query("sub_orgs/o1", q, NULL, &docs, &n, &err), 0, "%s", err.message);
	cr_assert_eq(n, 1, "only o1's items");
	cr_assert_str_eq(docs[0].id, "i1");
	fx_firestore_docs_free(docs, n);
	fx_fsquery_free(q);
}

/* ---- batchGet ---- */

Test(firestore, batch_get_answers_in_request_order_with_missing_documents)
{
	const char *paths[] = {"batch/d", "batch/missing", "batch/b", "batch/d", "batch/a"};
	struct fx_doc out[5];

	create_n("batch/a", 1, NULL);
	create_n("batch/b", 2, NULL);
	create_n("batch/d", 4, NULL);
	cr_assert_eq(fx_firestore_batch_get(paths, 5, NULL, out, &err), 0, "%s", err.message);
	cr_assert_str_eq(out[0].id, "d");
	cr_assert_eq(int_field(&out[0], "n"), 4);
	cr_assert_null(out[1].name, "a missing document has no name");
	cr_assert_null(out[1].id);
	cr_assert_str_eq(out[2].id, "b");
	cr_assert_eq(int_field(&out[2], "n"), 2);
	cr_assert_str_eq(out[3].id, "d", "a repeated path is answered in each place");
	cr_assert_str_eq(out[3].update_time, out[0].update_time);
	cr_assert_str_eq(out[4].id, "a");
	for (int i = 0; i < 5; i++)
		fx_firestore_doc_cleanup(&out[i]);
}

/* ---- transactions ---- */

struct counter {
	const char *rel;
	int max_attempt;
	bool precondition; /* write with the read's updateTime precondition */
};

/* Reads n inside the transaction and writes n + 1 (a read-modify-write, not a transform). */
static int increment(struct fx_txn *t, void *ctx, struct fx_err *e)
{
	struct counter *c = ctx;
	const char *paths[] = {c->rel};
	struct fx_doc d;
	int64_t n = 0;

	if (t->attempt > c->max_attempt)
		c->max_attempt = t->attempt;
	if (fx_firestore_batch_get(paths, 1, t->id, &d, e) < 0)
		return -1;
	if (!d.name || !fx_value_path_int(&d.fields, "n", &n)) {
		fx_firestore_doc_cleanup(&d);
		return fx_err_set(e, FX_NOT_FOUND, "counter missing");
	}
	add_update_n(t->writes, c->rel, n + 1, c->precondition ? d.update_time : NULL);
	fx_firestore_doc_cleanup(&d);
	return 0;
}

Test(firestore, transaction_reads_modifies_and_writes)
{
	struct counter c = {"txn_rmw/c", 0, true};
	int64_t n;

	create_n(c.rel, 41, NULL);
	cr_assert_eq(fx_firestore_run_transaction(increment, &c, &err), 0, "%s", err.message);
	get_n(c.rel, &n);
	cr_assert_eq(n, 42);
	cr_assert_eq(c.max_attempt, 0, "no contention, one attempt");
}

struct racer {
	pthread_t th;
	pthread_barrier_t *start; /* every racer begins at once: contention even on a loaded machine */
	struct counter *c;
	int rc;
	struct fx_err e;
	int max_attempt;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	struct counter mine = *r->c;

	fx_err_clear(&r->e);
	pthread_barrier_wait(r->start);
	r->rc = fx_firestore_run_transaction(increment, &mine, &r->e);
	r->max_attempt = mine.max_attempt;
	fx_httpc_thread_cleanup();
	return NULL;
}

Test(firestore, concurrent_transactions_increment_a_counter_exactly_once_each, .timeout = 300)
{
	enum { RACERS = 20 };
	struct counter c = {"txn_race/c", 0, false};
	struct racer r[RACERS];
	pthread_barrier_t start;
	int retried = 0;
	int64_t n;

	create_n(c.rel, 0, NULL);
	cr_assert_eq(pthread_barrier_init(&start, NULL, RACERS), 0);
	for (int i = 0; i < RACERS; i++) {
		r[i].c = &c;
		r[i].start = &start;
		cr_assert_eq(pthread_create(&r[i].th, NULL, race, &r[i]), 0);
	}
	for (int i = 0; i < RACERS; i++) {
		pthread_join(r[i].th, NULL);
		if (r[i].max_attempt > 0)
			retried++;
	}
	pthread_barrier_destroy(&start);
	for (int i = 0; i < RACERS; i++)
		cr_expect_eq(r[i].rc, 0, "racer %d: %d %s %s", i, fx_err_http(r[i].e.kind), fx_err_name(r[i].e.kind),
			     r[i].e.message);
	get_n(c.rel, &n);
	cr_assert_eq(n, RACERS, "every transaction counted exactly once");
	cr_assert_gt(retried, 0, "contention made some transactions run again");
}

struct failing {
	const char *created;
	const char *read;
	int runs;
	struct fx_err said; /* the error fn returned */
};

/* Reads a document, queues a create, then fails with a caller error. */
static int read_write_then_fail(struct fx_txn *t, void *ctx, struct fx_err *e)
{
	struct failing *f = ctx;
	const char *paths[] = {f->read};
	struct fx_doc d;
	struct fx_value fields = {0};
	char *name = fx_firestore_name(f->created);

	f->runs++;
	if (fx_firestore_batch_get(paths, 1, t->id, &d, e) < 0) {
		free(name);
		return -1;
	}
	fx_firestore_doc_cleanup(&d);
	fx_value_map(&fields);
	fx_map_set_int(&fields, "n", 1);
	cr_assert_eq(fx_fswrite_create(t->writes, name, &fields, NULL, e), 0);
	fx_value_cleanup(&fields);
	free(name);
	fx_err_invalid(e, "quantity", "quantity must be positive");
	f->said = *e;
	return -1;
}

Test(firestore, failing_transaction_returns_its_error_and_writes_nothing)
{
	struct failing f = {.created = "txn_fail/new", .read = "txn_fail/read"};
	json_object *w = json_object_new_array();
	struct fx_doc d;

	create_n(f.read, 1, NULL);
	cr_assert_eq(fx_firestore_run_transaction(read_write_then_fail, &f, &err), -1);
	cr_assert_eq(fx_err_http(err.kind), 400);
	cr_assert_str_eq(fx_err_name(err.kind), "INVALID_ARGUMENT");
	cr_assert(memcmp(&err, &f.said, sizeof(err)) == 0, "the error comes back unchanged: %s", err.message);
	cr_assert_eq(err.ndetails, 1);
	cr_assert_str_eq(err.details[0].field, "quantity");
	cr_assert_eq(f.runs, 1, "a caller error is not retried");
	fx_err_clear(&err);
	cr_assert_eq(fx_firestore_get(f.created, &d, &err), -1, "the queued create was not committed");
	cr_assert_eq(fx_err_http(err.kind), 404);
	/* Rolled back: the document it read is not locked, a plain write goes through. */
	add_update_n(w, f.read, 2, NULL);
	fx_err_clear(&err);
	cr_assert_eq(fx_firestore_commit(w, NULL, NULL, NULL, &err), 0, "%d %s", fx_err_http(err.kind), err.message);
	json_object_put(w);
}

/* Reads a document in the transaction, then loses Firestore: its rollback cannot be delivered. */
static int read_then_lose_firestore(struct fx_txn *t, void *ctx, struct fx_err *e)
{
	const char *paths[] = {ctx};
	struct fx_doc d;

	if (fx_firestore_batch_get(paths, 1, t->id, &d, e) < 0)
		return -1;
	fx_firestore_doc_cleanup(&d);
	emu.cfg.firestore_url = "http://127.0.0.1:1"; /* nothing listens: the rollback is refused */
	return fx_err_set(e, FX_UNAVAILABLE, "firestore went away");
}

/*
 * A transaction whose rollback did not arrive keeps the locks of what it
 * read until Firestore expires them (60 s idle on Google, about as long on
 * the emulator): the next transaction on that document would wait and
 * abort until it gives up. Once Firestore answers again, the rollback is
 * delivered before the next transaction, which goes through at once.
 */
Test(firestore, an_undelivered_rollback_is_sent_before_the_next_transaction)
{
	struct counter c = {"txn_lost_rollback/c", 0, true};

	create_n(c.rel, 1, NULL);
	cr_assert_eq(fx_firestore_run_transaction(read_then_lose_firestore, (void *)c.rel, &err), -1);
	cr_assert_eq(fx_err_http(err.kind), 503, "%s", err.message);
	emu.cfg.firestore_url = emu.url; /* Firestore is back */
	fx_err_clear(&err);
	cr_assert_eq(fx_firestore_run_transaction(increment, &c, &err), 0,
		     "the document is not locked any more: %d %s %s", fx_err_http(err.kind), fx_err_name(err.kind),
		     err.message);
	cr_assert_eq(c.max_attempt, 0, "at the first attempt");
	{
		int64_t n;

		get_n(c.rel, &n);
		cr_assert_eq(n, 2);
	}
}

/* Sums n over the collection by a query inside the transaction and stores the sum. */
static int summarize(struct fx_txn *t, void *ctx, struct fx_err *e)
{
	struct fx_query *q = fx_fsquery_new("txn_query", false);
	struct fx_doc *docs = NULL;
	struct fx_value f = {0};
	size_t n = 0;
	int64_t sum = 0;
	char *name = fx_firestore_name("txn_query_sum/total");
	int rc = -1;

	(void)ctx;
	if (fx_firestore_query("", q, t->id, &docs, &n, e) < 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		sum += int_field(&docs[i], "n");
	fx_value_map(&f);
	fx_map_set_int(&f, "n", sum);
	fx_map_set_int(&f, "count", (int64_t)n);
	rc = fx_fswrite_set(t->writes, name, &f, NULL, e);
out:
	fx_value_cleanup(&f);
	fx_firestore_docs_free(docs, n);
	fx_fsquery_free(q);
	free(name);
	return rc;
}

Test(firestore, transaction_query_reads_and_writes_a_summary)
{
	struct fx_doc d;

	create_n("txn_query/a", 10, NULL);
	create_n("txn_query/b", 20, NULL);
	create_n("txn_query/c", 12, NULL);
	cr_assert_eq(fx_firestore_run_transaction(summarize, NULL, &err), 0, "%s", err.message);
	cr_assert_eq(fx_firestore_get("txn_query_sum/total", &d, &err), 0, "%s", err.message);
	cr_assert_eq(int_field(&d, "n"), 42);
	cr_assert_eq(int_field(&d, "count"), 3);
	fx_firestore_doc_cleanup(&d);
}

/* ---- the commit's answer and masked reads (fx_firestore_run_transaction_ex, fx_firestore_txn_batch_get) ---- */

struct masked {
	const char *rel;
	const char *const *mask;
	int runs;
	bool begun_before_read; /* t->id was set before the first read */
	size_t fields_read;
	struct fx_err plain; /* masked_read_then_write_plain: the plain write's answer */
};

/* Reads c->rel with fx_firestore_txn_batch_get, then writes n + 1 guarded by the version read. */
static int masked_increment(struct fx_txn *t, void *ctx, struct fx_err *e)
{
	struct masked *c = ctx;
	const char *paths[] = {c->rel};
	struct fx_doc d;
	int64_t n = 0;

	c->runs++;
	c->begun_before_read = t->id[0] != '\0';
	if (fx_firestore_txn_batch_get(t, paths, 1, c->mask, &d, e) < 0)
		return -1;
	c->fields_read = d.fields.u.map.n;
	if (!d.name || !fx_value_path_int(&d.fields, "n", &n)) {
		fx_firestore_doc_cleanup(&d);
		return fx_err_set(e, FX_NOT_FOUND, "counter missing");
	}
	add_update_n(t->writes, c->rel, n + 1, d.update_time);
	fx_firestore_doc_cleanup(&d);
	return 0;
}

/* Begun first (what order create uses): the read carries the id, the commit's times come back all the same. */
Test(firestore, a_transaction_begun_first_answers_the_commits_update_times)
{
	struct masked c = {.rel = "txn_begun/c"};
	struct fx_txn_result res;
	struct fx_doc d;

	create_n(c.rel, 7, NULL);
	cr_assert_eq(fx_firestore_run_transaction_ex(masked_increment, &c, &res, &err), 0, "%s", err.message);
	cr_assert(c.begun_before_read, "beginTransaction came first");
	cr_assert_eq(fx_firestore_get(c.rel, &d, &err), 0, "%s", err.message);
	cr_assert_eq(int_field(&d, "n"), 8);
	cr_assert_eq(res.n, 1);
	cr_assert_str_eq(res.update_times[0], d.update_time);
	fx_firestore_doc_cleanup(&d);
	fx_firestore_txn_result_cleanup(&res);
}

Test(firestore, a_masked_transaction_read_answers_only_the_masked_fields)
{
	static const char *const mask[] = {"n", NULL};
	struct masked c = {.rel = "txn_mask/c", .mask = mask};
	struct fx_value f = {0};
	char *name = fx_firestore_name(c.rel);
	json_object *w = json_object_new_array();

	fx_value_map(&f);
	fx_map_set_int(&f, "n", 1);
	fx_map_set_str(&f, "big", "not asked for");
	fx_map_set_str(&f, "other", "not asked for either");
	cr_assert_eq(fx_fswrite_set(w, name, &f, NULL, &err), 0, "%s", err.message);
	cr_assert_eq(fx_firestore_commit(w, NULL, NULL, NULL, &err), 0, "%s", err.message);
	cr_assert_eq(fx_firestore_run_transaction_ex(masked_increment, &c, NULL, &err), 0, "%s", err.message);
	cr_assert_eq(c.fields_read, 1, "only n was read");
	{
		struct fx_doc d;

		cr_assert_eq(fx_firestore_get(c.rel, &d, &err), 0, "%s", err.message);
		cr_assert_eq(int_field(&d, "n"), 2);
		cr_assert_str_eq(fx_value_path_str(&d.fields, "big"), "not asked for", "the update mask kept the rest");
		fx_firestore_doc_cleanup(&d);
	}
	json_object_put(w);
	fx_value_cleanup(&f);
	free(name);
}

/* Reads c->rel with the mask inside t, then tries a plain write of it outside t, then fails. */
static int masked_read_then_write_plain(struct fx_txn *t, void *ctx, struct fx_err *e)
{
	struct masked *c = ctx;
	const char *paths[] = {c->rel};
	json_object *w = json_object_new_array();
	struct fx_doc d;

	c->runs++;
	if (fx_firestore_txn_batch_get(t, paths, 1, c->mask, &d, e) < 0) {
		json_object_put(w);
		return -1;
	}
	fx_firestore_doc_cleanup(&d);
	add_update_n(w, c->rel, 99, NULL);
	fx_err_clear(&c->plain);
	if (fx_firestore_commit(w, NULL, NULL, NULL, &c->plain) == 0)
		fx_err_set(&c->plain, FX_OK, "the plain write went through");
	json_object_put(w);
	return fx_err_invalid(e, "quantity", "a caller error ends the transaction");
}

/*
 * A masked read inside a transaction locks the whole document as an
 * unmasked one does: a plain write of it waits for the lock and is refused
 * while the transaction is open; after the rollback it goes through.
 */
Test(firestore, a_masked_transaction_read_still_locks_the_document_until_rolled_back, .timeout = 60)
{
	static const char *const mask[] = {"n", NULL};
	struct masked c = {.rel = "txn_mask_lock/c", .mask = mask};
	json_object *w = json_object_new_array();
	int64_t n;

	create_n(c.rel, 1, NULL);
	cr_assert_eq(fx_firestore_run_transaction_ex(masked_read_then_write_plain, &c, NULL, &err), -1);
	cr_assert_eq(fx_err_http(err.kind), 400, "the caller's error comes back: %s", err.message);
	cr_assert_eq(c.runs, 1, "a caller error is not retried");
	cr_assert_eq(fx_err_http(c.plain.kind), 409, "the plain write met the lock: %s %s", fx_err_name(c.plain.kind),
		     c.plain.message);
	cr_assert_str_eq(fx_err_name(c.plain.kind), "ABORTED");
	get_n(c.rel, &n);
	cr_assert_eq(n, 1, "nothing was written");
	/* Rolled back: a plain write goes through at once. */
	add_update_n(w, c.rel, 2, NULL);
	fx_err_clear(&err);
	cr_assert_eq(fx_firestore_commit(w, NULL, NULL, NULL, &err), 0, "%d %s", fx_err_http(err.kind), err.message);
	json_object_put(w);
}

/* Reads c->rel inside t with c->mask; the read's error ends the transaction. */
static int masked_read(struct fx_txn *t, void *ctx, struct fx_err *e)
{
	struct masked *c = ctx;
	const char *paths[] = {c->rel};
	struct fx_doc d;

	c->runs++;
	if (fx_firestore_txn_batch_get(t, paths, 1, c->mask, &d, e) < 0)
		return -1;
	fx_firestore_doc_cleanup(&d);
	return 0;
}

Test(firestore, a_malformed_mask_in_a_transaction_read_is_a_400_naming_mask)
{
	static const char *const bad[] = {"n", "a..b", NULL};
	const char **many = too_many_paths();
	struct masked c = {.rel = "txn_mask_bad/c", .mask = bad};

	cr_assert_eq(fx_firestore_run_transaction(masked_read, &c, &err), -1);
	assert_mask_refused("a malformed path");
	cr_assert_eq(c.runs, 1, "a caller error is not retried");
	c.mask = many;
	fx_err_clear(&err);
	cr_assert_eq(fx_firestore_run_transaction(masked_read, &c, &err), -1);
	assert_mask_refused("too many paths");
	free(many);
}
