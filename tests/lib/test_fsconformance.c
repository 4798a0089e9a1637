/*
 * Google's Firestore client conformance vectors (googleapis/conformance-tests,
 * firestore/v1, read at run time from $FLUXORI_SHARED_DIR or
 * $top_srcdir/../shared, never edited) run through lib/fswrite and
 * lib/fsquery. Each create-, set-, update-, update-paths-, delete- and
 * query- vector is one parameterized test: the test turns the vector's
 * plain-JSON data and its sentinels ("ServerTimestamp", "Delete",
 * ["ArrayUnion", ...], ["ArrayRemove", ...]) into builder arguments (fields
 * map, mask paths, transforms) and compares the CommitRequest or
 * StructuredQuery produced with the expected one as parsed JSON, after one
 * proto3 normalisation applied to both sides: repeated fields that are
 * empty ([]) and empty map fields ("fields": {}) are dropped, since proto3
 * JSON cannot tell them from absent ones. isError vectors must be refused
 * by the library (a call returning -1 with a 400 set).
 *
 * Skips are explicit: the list below names every skipped vector with why,
 * and the test fails if a listed vector turns out expressible or an
 * unlisted one does not.
 */
#include "buf.h"
#include "fieldpath.h"
#include "fswrite.h"
#include "map.h"
#include "plain.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WHY_IN_ARRAY                                                                                                 \
	"sentinel inside an array element: transforms and deletes address map fields by path, so the API cannot be " \
	"handed one"
#define WHY_IN_OPERAND \
	"ServerTimestamp inside an arrayUnion/arrayRemove operand: operands are fx_values, which hold no sentinels"
#define WHY_DELETE "Delete in create/set data: only update expresses deletes (a mask path without a value)"
#define WHY_QUERY_SENTINEL "sentinel as a query value: fx_value has no sentinel type, so a query cannot be handed one"
#define WHY_EXISTS_FALSE "update with precondition exists:false: fx_fswrite_update offers exists:true or updateTime only"
#define WHY_MERGE "set with a merge option (merge all / merge fields): not offered; update with a mask covers it"

static const struct {
	const char *file;
	const char *why;
} skips[] = {
	{"create-arrayremove-noarray-nested.json", WHY_IN_ARRAY},
	{"create-arrayremove-noarray.json", WHY_IN_ARRAY},
	{"create-arrayremove-with-st.json", WHY_IN_OPERAND},
	{"create-arrayunion-noarray-nested.json", WHY_IN_ARRAY},
	{"create-arrayunion-noarray.json", WHY_IN_ARRAY},
	{"create-arrayunion-with-st.json", WHY_IN_OPERAND},
	{"create-del-noarray-nested.json", WHY_IN_ARRAY},
	{"create-del-noarray.json", WHY_IN_ARRAY},
	{"create-nodel.json", WHY_DELETE},
	{"create-st-noarray-nested.json", WHY_IN_ARRAY},
	{"create-st-noarray.json", WHY_IN_ARRAY},
	{"set-arrayremove-noarray-nested.json", WHY_IN_ARRAY},
	{"set-arrayremove-noarray.json", WHY_IN_ARRAY},
	{"set-arrayremove-with-st.json", WHY_IN_OPERAND},
	{"set-arrayunion-noarray-nested.json", WHY_IN_ARRAY},
	{"set-arrayunion-noarray.json", WHY_IN_ARRAY},
	{"set-arrayunion-with-st.json", WHY_IN_OPERAND},
	{"set-del-noarray-nested.json", WHY_IN_ARRAY},
	{"set-del-noarray.json", WHY_IN_ARRAY},
	{"set-del-wo-merge.json", WHY_DELETE},
	{"set-nodel.json", WHY_DELETE},
	{"set-st-noarray-nested.json", WHY_IN_ARRAY},
	{"set-st-noarray.json", WHY_IN_ARRAY},
	{"update-arrayremove-noarray-nested.json", WHY_IN_ARRAY},
	{"update-arrayremove-noarray.json", WHY_IN_ARRAY},
	{"update-arrayremove-with-st.json", WHY_IN_OPERAND},
	{"update-arrayunion-noarray-nested.json", WHY_IN_ARRAY},
	{"update-arrayunion-noarray.json", WHY_IN_ARRAY},
	{"update-arrayunion-with-st.json", WHY_IN_OPERAND},
	{"update-del-noarray-nested.json", WHY_IN_ARRAY},
	{"update-del-noarray.json", WHY_IN_ARRAY},
	{"update-exists-false-precond.json", WHY_EXISTS_FALSE},
	{"update-st-noarray-nested.json", WHY_IN_ARRAY},
	{"update-st-noarray.json", WHY_IN_ARRAY},
	{"update-paths-arrayremove-noarray-nested.json", WHY_IN_ARRAY},
	{"update-paths-arrayremove-noarray.json", WHY_IN_ARRAY},
	{"update-paths-arrayremove-with-st.json", WHY_IN_OPERAND},
	{"update-paths-arrayunion-noarray-nested.json", WHY_IN_ARRAY},
	{"update-paths-arrayunion-noarray.json", WHY_IN_ARRAY},
	{"update-paths-arrayunion-with-st.json", WHY_IN_OPERAND},
	{"update-paths-del-noarray-nested.json", WHY_IN_ARRAY},
	{"update-paths-del-noarray.json", WHY_IN_ARRAY},
	{"update-paths-exists-false-precond.json", WHY_EXISTS_FALSE},
	{"update-paths-st-noarray-nested.json", WHY_IN_ARRAY},
	{"update-paths-st-noarray.json", WHY_IN_ARRAY},
	{"query-arrayremove-cursor.json", WHY_QUERY_SENTINEL},
	{"query-arrayremove-where.json", WHY_QUERY_SENTINEL},
	{"query-arrayunion-cursor.json", WHY_QUERY_SENTINEL},
	{"query-arrayunion-where.json", WHY_QUERY_SENTINEL},
	{"query-del-cursor.json", WHY_QUERY_SENTINEL},
	{"query-del-where.json", WHY_QUERY_SENTINEL},
	{"query-st-cursor.json", WHY_QUERY_SENTINEL},
	{"query-st-where.json", WHY_QUERY_SENTINEL},
	/* Feature skip: every set-* vector carrying an "option" (merge), see WHY_MERGE. */
};

static const char *skip_reason(const char *file)
{
	for (size_t i = 0; i < sizeof(skips) / sizeof(skips[0]); i++)
		if (strcmp(skips[i].file, file) == 0)
			return skips[i].why;
	return NULL;
}

static const char *vector_dir(char *buf, size_t n)
{
	const char *shared = getenv("FLUXORI_SHARED_DIR");
	const char *top = getenv("top_srcdir");

	if (shared && *shared)
		snprintf(buf, n, "%s/conformance/firestore-v1", shared);
	else
		snprintf(buf, n, "%s/../shared/conformance/firestore-v1", top && *top ? top : ".");
	return buf;
}

static bool wanted(const char *name)
{
	static const char *const prefixes[] = {"create-", "set-", "update-", "delete-", "query-"};
	size_t n = strlen(name);

	if (n < 6 || strcmp(name + n - 5, ".json") != 0)
		return false;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	return false;
}

struct vcase {
	char file[96];
};

static int cmp_case(const void *a, const void *b)
{
	return strcmp(((const struct vcase *)a)->file, ((const struct vcase *)b)->file);
}

static size_t list_cases(struct vcase *out, size_t max)
{
	char dir[1024];
	DIR *d = opendir(vector_dir(dir, sizeof(dir)));
	struct dirent *de;
	size_t n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (!wanted(de->d_name) || strlen(de->d_name) >= sizeof(out->file))
			continue;
		if (out && n < max)
			snprintf(out[n].file, sizeof(out[n].file), "%s", de->d_name);
		n++;
	}
	closedir(d);
	if (out)
		qsort(out, n < max ? n : max, sizeof(*out), cmp_case);
	return n;
}

static void free_cases(struct criterion_test_params *crp)
{
	cr_free(crp->params);
}

/* ---- translating the vectors' plain JSON and sentinels ---- */

#define MAX_ITEMS 64

enum sentinel { S_NONE, S_SERVER_TIME, S_DELETE, S_UNION, S_REMOVE };

struct xl {
	struct fx_value fields; /* FX_V_MAP */
	char *mask[MAX_ITEMS + 1]; /* NULL-terminated */
	size_t nmask;
	struct fx_transform tr[MAX_ITEMS];
	char *trpath[MAX_ITEMS];
	struct fx_value *operand[MAX_ITEMS];
	size_t ntr;
	bool allow_delete; /* update: Delete becomes a mask path without a value */
	const char *unrep; /* why the vector cannot be expressed, or NULL */
};

static void xl_init(struct xl *x, bool allow_delete)
{
	memset(x, 0, sizeof(*x));
	fx_value_map(&x->fields);
	x->allow_delete = allow_delete;
}

static void xl_cleanup(struct xl *x)
{
	fx_value_cleanup(&x->fields);
	for (size_t i = 0; i < x->nmask; i++)
		free(x->mask[i]);
	for (size_t i = 0; i < x->ntr; i++) {
		free(x->trpath[i]);
		fx_value_free(x->operand[i]);
	}
}

static enum sentinel sentinel_of(json_object *j)
{
	if (json_object_is_type(j, json_type_string)) {
		if (strcmp(json_object_get_string(j), "ServerTimestamp") == 0)
			return S_SERVER_TIME;
		if (strcmp(json_object_get_string(j), "Delete") == 0)
			return S_DELETE;
	}
	if (json_object_is_type(j, json_type_array) && json_object_array_length(j) > 0) {
		json_object *first = json_object_array_get_idx(j, 0);

		if (json_object_is_type(first, json_type_string)) {
			if (strcmp(json_object_get_string(first), "ArrayUnion") == 0)
				return S_UNION;
			if (strcmp(json_object_get_string(first), "ArrayRemove") == 0)
				return S_REMOVE;
		}
	}
	return S_NONE;
}

static bool has_sentinel(json_object *j)
{
	if (sentinel_of(j) != S_NONE)
		return true;
	if (json_object_is_type(j, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(j); i++)
			if (has_sentinel(json_object_array_get_idx(j, i)))
				return true;
	} else if (json_object_is_type(j, json_type_object)) {
		json_object_object_foreach(j, k, v)
		{
			(void)k;
			if (has_sentinel(v))
				return true;
		}
	}
	return false;
}

static char *format_segs(const char *const *segs, size_t n)
{
	struct fx_buf b;

	fx_buf_init(&b, 1 << 16);
	cr_assert_eq(fx_fieldpath_format(segs, n, &b), 0);
	return fx_buf_take(&b);
}

static void add_mask(struct xl *x, char *path)
{
	cr_assert_lt(x->nmask, MAX_ITEMS);
	x->mask[x->nmask++] = path;
}

/* The slot for segs in x->fields, creating maps on the way; NULL when a non-map is in the way. */
static struct fx_value *place(struct xl *x, const char *const *segs, size_t n)
{
	struct fx_value *m = &x->fields;

	for (size_t i = 0; i + 1 < n; i++) {
		struct fx_value *child = (struct fx_value *)fx_map_get(m, segs[i]);

		if (!child) {
			child = fx_map_set(m, segs[i]);
			fx_value_map(child);
		} else if (child->type != FX_V_MAP) {
			return NULL; /* the builder's path checks judge the conflict */
		}
		m = child;
	}
	return fx_map_set(m, segs[n - 1]);
}

/*
 * Puts j at segs: sentinels become transforms or mask paths, maps are
 * walked (so maps left empty by sentinels are pruned as clients do), other
 * values are converted with fx_plain_decode. Returns -1 only when the
 * library refused something.
 */
static int put(struct xl *x, json_object *j, const char **segs, size_t n, struct fx_err *e)
{
	enum sentinel s = sentinel_of(j);

	cr_assert_lt(n, (size_t)MAX_ITEMS);
	if (s == S_SERVER_TIME || s == S_UNION || s == S_REMOVE) {
		struct fx_value *op = NULL;

		cr_assert_lt(x->ntr, MAX_ITEMS);
		if (s != S_SERVER_TIME) {
			op = fx_value_new();
			fx_value_array(op);
			for (size_t i = 1; i < json_object_array_length(j); i++) {
				json_object *item = json_object_array_get_idx(j, i);

				if (has_sentinel(item)) {
					x->unrep = WHY_IN_OPERAND;
					fx_value_free(op);
					return 0;
				}
				if (fx_plain_decode(item, NULL, fx_value_push(op), e) < 0) {
					fx_value_free(op);
					return -1;
				}
			}
		}
		x->trpath[x->ntr] = format_segs(segs, n);
		x->operand[x->ntr] = op;
		x->tr[x->ntr].path = x->trpath[x->ntr];
		x->tr[x->ntr].op = s == S_SERVER_TIME ? FX_TR_SERVER_TIME
				   : s == S_UNION     ? FX_TR_ARRAY_UNION
						      : FX_TR_ARRAY_REMOVE;
		x->tr[x->ntr].operand = op;
		x->ntr++;
		return 0;
	}
	if (s == S_DELETE) {
		if (!x->allow_delete)
			x->unrep = WHY_DELETE;
		else
			add_mask(x, format_segs(segs, n));
		return 0;
	}
	if (json_object_is_type(j, json_type_object) && json_object_object_length(j) > 0) {
		json_object_object_foreach(j, key, val)
		{
			segs[n] = key;
			if (put(x, val, segs, n + 1, e) < 0)
				return -1;
		}
		return 0;
	}
	if (has_sentinel(j)) {
		x->unrep = WHY_IN_ARRAY;
		return 0;
	}
	{
		struct fx_value *slot = place(x, segs, n);

		return slot ? fx_plain_decode(j, NULL, slot, e) : 0;
	}
}

/* A top-level update entry: path text for the mask, its segments (NULL when unparsable), its value. */
static int put_update(struct xl *x, const char *path_text, const char **segs, size_t n, json_object *val,
		      struct fx_err *e)
{
	enum sentinel s = sentinel_of(val);

	if (s != S_SERVER_TIME && s != S_UNION && s != S_REMOVE)
		add_mask(x, strdup(path_text));
	if (!segs || s == S_DELETE)
		return 0;
	return put(x, val, segs, n, e);
}

static json_object *parse_json(const char *text)
{
	json_object *j = json_tokener_parse(text);

	cr_assert(j || strcmp(text, "null") == 0, "vector JSON does not parse: %s", text);
	return j;
}

/* Drops empty repeated fields ([]) and empty map fields ("fields": {}), recursively. */
static void normalise(json_object *j)
{
	if (json_object_is_type(j, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(j); i++)
			normalise(json_object_array_get_idx(j, i));
		return;
	}
	if (!json_object_is_type(j, json_type_object))
		return;
	for (;;) {
		const char *drop = NULL;

		json_object_object_foreach(j, k, v)
		{
			if ((json_object_is_type(v, json_type_array) && json_object_array_length(v) == 0) ||
			    (strcmp(k, "fields") == 0 && json_object_is_type(v, json_type_object) &&
			     json_object_object_length(v) == 0)) {
				drop = k;
				break;
			}
		}
		if (!drop)
			break;
		json_object_object_del(j, drop);
	}
	json_object_object_foreach(j, k2, v2)
	{
		(void)k2;
		normalise(v2);
	}
}

static void assert_same(json_object *want, json_object *got, const char *file)
{
	normalise(want);
	normalise(got);
	cr_assert(json_object_equal(want, got), "%s:\n want %s\n  got %s", file,
		  json_object_to_json_string_ext(want, JSON_C_TO_STRING_PLAIN),
		  json_object_to_json_string_ext(got, JSON_C_TO_STRING_PLAIN));
}

static bool only_server_time(const struct xl *x)
{
	for (size_t i = 0; i < x->ntr; i++)
		if (x->tr[i].op != FX_TR_SERVER_TIME)
			return false;
	return true;
}

/* ---- running one vector ---- */

struct outcome {
	int rc; /* -1: the library refused */
	const char *unrep;
	json_object *got; /* the request or query produced */
};

static void server_ts_list(const struct xl *x, const char **out)
{
	for (size_t i = 0; i < x->ntr; i++)
		out[i] = x->tr[i].path;
	out[x->ntr] = NULL;
}

static struct outcome run_write(const char *kind, json_object *t, struct fx_err *e)
{
	struct outcome o = {0};
	const char *doc = json_object_get_string(json_object_object_get(t, "docRefPath"));
	json_object *pre = json_object_object_get(t, "precondition"), *exists = NULL, *ut = NULL;
	json_object *writes = json_object_new_array(), *data = NULL;
	const char *update_time = NULL;
	const char *segs[MAX_ITEMS];
	const char *st[MAX_ITEMS + 1];
	struct xl x;

	if (pre) {
		exists = json_object_object_get(pre, "exists");
		ut = json_object_object_get(pre, "updateTime");
		update_time = ut ? json_object_get_string(ut) : NULL;
	}
	xl_init(&x, strncmp(kind, "update", 6) == 0);
	if (strcmp(kind, "delete") == 0) {
		o.rc = fx_fswrite_delete(writes, doc, exists ? json_object_get_boolean(exists) : -1, update_time, e);
	} else if (strcmp(kind, "updatePaths") == 0) {
		json_object *fps = json_object_object_get(t, "fieldPaths");
		json_object *vals = json_object_object_get(t, "jsonValues");
		size_t n = fps ? json_object_array_length(fps) : 0;

		for (size_t i = 0; i < n && o.rc == 0; i++) {
			json_object *field = json_object_object_get(json_object_array_get_idx(fps, i), "field");
			size_t ns = field ? json_object_array_length(field) : 0;
			char *text;

			for (size_t k = 0; k < ns; k++)
				segs[k] = json_object_get_string(json_object_array_get_idx(field, k));
			text = format_segs(segs, ns);
			data = parse_json(json_object_get_string(json_object_array_get_idx(vals, i)));
			o.rc = put_update(&x, text, ns ? segs : NULL, ns, data, e);
			json_object_put(data);
			free(text);
		}
	} else {
		data = parse_json(json_object_get_string(json_object_object_get(t, "jsonData")));
		json_object_object_foreach(data, key, val)
		{
			if (o.rc < 0)
				break;
			if (strcmp(kind, "update") == 0) {
				struct fx_fieldpath fp;
				struct fx_err ignored;

				/* The client splits a key on dots; an unparsable key still goes to the builder. */
				fx_err_clear(&ignored);
				if (fx_fieldpath_parse(key, &fp, &ignored) == 0) {
					for (size_t k = 0; k < fp.n; k++)
						segs[k] = fp.segs[k];
					o.rc = put_update(&x, key, segs, fp.n, val, e);
					fx_fieldpath_cleanup(&fp);
				} else {
					o.rc = put_update(&x, key, NULL, 0, val, e);
				}
			} else {
				segs[0] = key;
				o.rc = put(&x, val, segs, 1, e);
			}
		}
		json_object_put(data);
	}
	if (strcmp(kind, "update") == 0 || strcmp(kind, "updatePaths") == 0) {
		if (exists && !json_object_get_boolean(exists))
			x.unrep = WHY_EXISTS_FALSE;
	}
	o.unrep = x.unrep;
	if (o.rc == 0 && !o.unrep && strcmp(kind, "delete") != 0) {
		enum fx_write_kind wk = strcmp(kind, "create") == 0 ? FX_WRITE_CREATE
					: strcmp(kind, "set") == 0  ? FX_WRITE_SET
								    : FX_WRITE_UPDATE;

		server_ts_list(&x, st);
		if (!only_server_time(&x))
			o.rc = fx_fswrite_doc(writes, wk, doc, &x.fields,
					    wk == FX_WRITE_UPDATE ? (const char *const *)x.mask : NULL, update_time,
					    x.tr, x.ntr, e);
		else if (wk == FX_WRITE_CREATE)
			o.rc = fx_fswrite_create(writes, doc, &x.fields, st, e);
		else if (wk == FX_WRITE_SET)
			o.rc = fx_fswrite_set(writes, doc, &x.fields, st, e);
		else
			o.rc = fx_fswrite_update(writes, doc, &x.fields, (const char *const *)x.mask, update_time, st, e);
	}
	if (o.rc == 0 && !o.unrep) {
		const char *docs = strstr(doc, "/documents/");

		o.got = json_object_new_object();
		json_object_object_add(o.got, "database", json_object_new_string_len(doc, (int)(docs - doc)));
		json_object_object_add(o.got, "writes", json_object_get(writes));
	}
	json_object_put(writes);
	xl_cleanup(&x);
	return o;
}

/* A vector's JSON value for a query: NaN from "NaN", sentinels unexpressible. */
static int query_value(const char *text, struct fx_value *out, const char **unrep, struct fx_err *e)
{
	json_object *j = parse_json(text);
	int rc = 0;

	fx_value_null(out);
	if (has_sentinel(j))
		*unrep = WHY_QUERY_SENTINEL;
	else if (json_object_is_type(j, json_type_string) && strcmp(json_object_get_string(j), "NaN") == 0)
		fx_value_double(out, NAN);
	else
		rc = fx_plain_decode(j, NULL, out, e);
	json_object_put(j);
	return rc;
}

static char *clause_path(json_object *path)
{
	json_object *field = json_object_object_get(path, "field");
	size_t n = field ? json_object_array_length(field) : 0;
	const char *segs[MAX_ITEMS];

	cr_assert_leq(n, (size_t)MAX_ITEMS);
	for (size_t i = 0; i < n; i++)
		segs[i] = json_object_get_string(json_object_array_get_idx(field, i));
	return format_segs(segs, n);
}

static int run_cursor(struct fx_query *q, enum fx_cursor which, json_object *c, const char **unrep, struct fx_err *e)
{
	json_object *snap = json_object_object_get(c, "docSnapshot");
	json_object *vals = json_object_object_get(c, "jsonValues");
	size_t n = vals ? json_object_array_length(vals) : 0;
	struct fx_value values[MAX_ITEMS];
	int rc = 0;

	if (snap) {
		json_object *data = parse_json(json_object_get_string(json_object_object_get(snap, "jsonData")));
		struct fx_value fields;

		rc = fx_plain_decode(data, NULL, &fields, e);
		json_object_put(data);
		if (rc == 0) {
			rc = fx_fsquery_cursor_doc(q, which, json_object_get_string(json_object_object_get(snap, "path")),
						 &fields, e);
			fx_value_cleanup(&fields);
		}
		return rc;
	}
	cr_assert_leq(n, (size_t)MAX_ITEMS);
	for (size_t i = 0; i < n; i++)
		fx_value_null(&values[i]);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = query_value(json_object_get_string(json_object_array_get_idx(vals, i)), &values[i], unrep, e);
	if (rc == 0 && !*unrep)
		rc = fx_fsquery_cursor(q, which, n ? values : NULL, n, e);
	for (size_t i = 0; i < n; i++)
		fx_value_cleanup(&values[i]);
	return rc;
}

static struct outcome run_query(json_object *t, struct fx_err *e)
{
	struct outcome o = {0};
	const char *coll_path = json_object_get_string(json_object_object_get(t, "collPath"));
	const char *slash = strrchr(coll_path, '/');
	json_object *clauses = json_object_object_get(t, "clauses");
	size_t n = clauses ? json_object_array_length(clauses) : 0;
	char *parent = strndup(coll_path, (size_t)(slash - coll_path));
	struct fx_query *q = fx_fsquery_new(slash + 1, false);

	o.rc = fx_fsquery_parent(q, parent, e);
	for (size_t i = 0; i < n && o.rc == 0 && !o.unrep; i++) {
		json_object *c = json_object_array_get_idx(clauses, i), *v;

		if ((v = json_object_object_get(c, "select"))) {
			json_object *fields = json_object_object_get(v, "fields");
			size_t nf = fields ? json_object_array_length(fields) : 0;
			char *paths[MAX_ITEMS];

			cr_assert_leq(nf, (size_t)MAX_ITEMS);
			for (size_t k = 0; k < nf; k++)
				paths[k] = clause_path(json_object_array_get_idx(fields, k));
			o.rc = fx_fsquery_select(q, (const char *const *)paths, nf, e);
			for (size_t k = 0; k < nf; k++)
				free(paths[k]);
		} else if ((v = json_object_object_get(c, "where"))) {
			char *path = clause_path(json_object_object_get(v, "path"));
			struct fx_value val;

			o.rc = query_value(json_object_get_string(json_object_object_get(v, "jsonValue")), &val,
					   &o.unrep, e);
			if (o.rc == 0 && !o.unrep)
				o.rc = fx_fsquery_where(q, path, json_object_get_string(json_object_object_get(v, "op")),
						      &val, e);
			fx_value_cleanup(&val);
			free(path);
		} else if ((v = json_object_object_get(c, "orderBy"))) {
			char *path = clause_path(json_object_object_get(v, "path"));
			const char *dir = json_object_get_string(json_object_object_get(v, "direction"));

			o.rc = fx_fsquery_order_by(q, path, dir && strcmp(dir, "desc") == 0, e);
			free(path);
		} else if ((v = json_object_object_get(c, "offset"))) {
			fx_fsquery_offset(q, json_object_get_int(v));
		} else if ((v = json_object_object_get(c, "limit"))) {
			fx_fsquery_limit(q, json_object_get_int(v));
		} else if ((v = json_object_object_get(c, "startAt"))) {
			o.rc = run_cursor(q, FX_CURSOR_START_AT, v, &o.unrep, e);
		} else if ((v = json_object_object_get(c, "startAfter"))) {
			o.rc = run_cursor(q, FX_CURSOR_START_AFTER, v, &o.unrep, e);
		} else if ((v = json_object_object_get(c, "endAt"))) {
			o.rc = run_cursor(q, FX_CURSOR_END_AT, v, &o.unrep, e);
		} else if ((v = json_object_object_get(c, "endBefore"))) {
			o.rc = run_cursor(q, FX_CURSOR_END_BEFORE, v, &o.unrep, e);
		} else {
			cr_assert_fail("unknown clause %s", json_object_to_json_string(c));
		}
	}
	if (o.rc == 0 && !o.unrep) {
		o.got = fx_fsquery_build(q, e);
		o.rc = o.got ? 0 : -1;
	}
	fx_fsquery_free(q);
	free(parent);
	return o;
}

ParameterizedTestParameters(firestore_conformance, vector)
{
	size_t n = list_cases(NULL, 0);
	struct vcase *cases = cr_malloc(sizeof(*cases) * (n ? n : 1));

	list_cases(cases, n);
	return cr_make_param_array(struct vcase, cases, n, free_cases);
}

ParameterizedTest(struct vcase *c, firestore_conformance, vector)
{
	char dir[1024], path[1200];
	json_object *file, *test, *body = NULL, *want = NULL;
	const char *kind = NULL;
	bool is_error;
	struct fx_err e;
	struct outcome o;
	const char *listed = skip_reason(c->file);

	snprintf(path, sizeof(path), "%s/%s", vector_dir(dir, sizeof(dir)), c->file);
	file = json_object_from_file(path);
	cr_assert(file, "cannot read %s", path);
	cr_assert_eq(json_object_array_length(json_object_object_get(file, "tests")), 1);
	test = json_object_array_get_idx(json_object_object_get(file, "tests"), 0);
	json_object_object_foreach(test, key, val)
	{
		if (strcmp(key, "description") != 0 && strcmp(key, "comment") != 0) {
			kind = key;
			body = val;
		}
	}
	cr_assert(kind, "%s: no test kind", c->file);
	if (strcmp(kind, "set") == 0 && json_object_object_get(body, "option")) {
		cr_assert_null(listed, "%s: merge cases are skipped by feature, not listed", c->file);
		json_object_put(file);
		cr_skip_test("%s: %s", c->file, WHY_MERGE);
	}
	is_error = json_object_get_boolean(json_object_object_get(body, "isError"));
	fx_err_clear(&e);
	if (strcmp(kind, "query") == 0) {
		o = run_query(body, &e);
		want = json_object_object_get(body, "query");
	} else {
		o = run_write(kind, body, &e);
		want = json_object_object_get(body, "request");
	}
	if (o.unrep) {
		json_object_put(o.got);
		cr_assert(listed, "%s: not expressible (%s) but missing from the skip list", c->file, o.unrep);
		cr_assert_str_eq(listed, o.unrep, "%s: skip reason differs", c->file);
		json_object_put(file);
		cr_skip_test("%s: %s", c->file, listed);
	}
	cr_assert_null(listed, "%s: listed as skipped (%s) but expressible: drop it from the list", c->file, listed);
	if (is_error) {
		json_object_put(o.got);
		cr_assert_eq(o.rc, -1, "%s: an isError vector was accepted", c->file);
		cr_assert_eq(fx_err_http(e.kind), 400, "%s: refused without a 400: %s", c->file, e.message);
	} else {
		cr_assert_eq(o.rc, 0, "%s: refused: %s", c->file, e.message);
		cr_assert(want, "%s: vector has no expected output", c->file);
		assert_same(want, o.got, c->file);
		json_object_put(o.got);
	}
	json_object_put(file);
}

Test(firestore_conformance, vectors_are_found)
{
	char dir[1024];

	cr_assert_geq(list_cases(NULL, 0), 200, "expected the firestore-v1 vectors in %s",
		      vector_dir(dir, sizeof(dir)));
}
