#include "fswrite.h"

#include "buf.h"
#include "docname.h"
#include "fieldpath.h"
#include "fsvalue.h"
#include "map.h"
#include "mem.h"
#include "str.h"
#include "ts.h"

#include <stdlib.h>
#include <string.h>

/* A parsed path with its canonical text, kept with what it came from. */
struct path {
	struct fx_fieldpath fp;
	char *text;
	const struct fx_transform *tr;
};

static void paths_free(struct path *p, size_t n)
{
	for (size_t i = 0; p && i < n; i++) {
		fx_fieldpath_cleanup(&p[i].fp);
		free(p[i].text);
	}
	free(p);
}

/* The path's canonical text (caller frees), or NULL if it were over the cap no parsed path reaches. */
static char *format_path(const struct fx_fieldpath *fp)
{
	struct fx_buf b;

	/* At most FX_FIELDPATH_MAX_SEGMENTS segments of FX_VALUE_FIELD_NAME_MAX bytes, each at most doubled. */
	fx_buf_init(&b, FX_FIELDPATH_MAX_SEGMENTS * (2 * FX_VALUE_FIELD_NAME_MAX + 3));
	if (fx_fieldpath_format((const char *const *)fp->segs, fp->n, &b) < 0) {
		fx_buf_cleanup(&b);
		return NULL;
	}
	return fx_buf_take(&b);
}

static int parse_path(const char *text, struct path *out, struct fx_err *e)
{
	if (!text)
		return fx_err_invalid(e, "fieldPath", "missing field path");
	if (fx_fieldpath_parse(text, &out->fp, e) < 0)
		return -1;
	out->text = format_path(&out->fp);
	return out->text ? 0 : fx_err_invalid(e, "fieldPath", "field path too long");
}

static size_t count_list(const char *const *list)
{
	size_t n = 0;

	while (list && list[n])
		n++;
	return n;
}

static int cmp_path(const void *a, const void *b)
{
	return fx_fieldpath_cmp(&((const struct path *)a)->fp, &((const struct path *)b)->fp);
}

/* Parses the mask, sorts it and refuses repeats and prefixes. */
static int parse_mask(const char *const *mask_paths, struct path **out, size_t *nout, struct fx_err *e)
{
	size_t n = count_list(mask_paths);
	struct path *p;

	*out = NULL;
	*nout = 0;
	if (n > FX_WRITE_MAX_PATHS)
		return fx_err_invalid(e, "updateMask", "more than %d mask paths", FX_WRITE_MAX_PATHS);
	p = fx_mem_xcalloc(n ? n : 1, sizeof(*p));
	for (size_t i = 0; i < n; i++) {
		if (parse_path(mask_paths[i], &p[i], e) < 0) {
			paths_free(p, n);
			return -1;
		}
	}
	qsort(p, n, sizeof(*p), cmp_path);
	for (size_t i = 1; i < n; i++) {
		if (fx_fieldpath_is_prefix(&p[i - 1].fp, &p[i].fp)) {
			fx_err_invalid(e, p[i].text, "field path %.80s conflicts with %.80s in the update mask",
				       p[i].text, p[i - 1].text);
			paths_free(p, n);
			return -1;
		}
	}
	*out = p;
	*nout = n;
	return 0;
}

static int check_operand(const struct path *p, struct fx_err *e)
{
	const struct fx_transform *t = p->tr;

	switch (t->op) {
	case FX_TR_SERVER_TIME: return 0;
	case FX_TR_INCREMENT:
	case FX_TR_MAXIMUM:
	case FX_TR_MINIMUM:
		if (!t->operand || (t->operand->type != FX_V_INT && t->operand->type != FX_V_DOUBLE))
			return fx_err_invalid(e, p->text, "numeric transform needs an integer or double operand");
		return 0;
	case FX_TR_ARRAY_UNION:
	case FX_TR_ARRAY_REMOVE:
		if (!t->operand || t->operand->type != FX_V_ARRAY)
			return fx_err_invalid(e, p->text, "array transform needs an array operand");
		return fx_fsvalue_check(t->operand, e);
	}
	return fx_err_invalid(e, p->text, "unknown transform");
}

/* Parses transforms in the given order; refuses overlapping paths and bad operands. */
static int parse_transforms(const struct fx_transform *tr, size_t n, struct path **out, struct fx_err *e)
{
	struct path *p;

	*out = NULL;
	if (n > FX_WRITE_MAX_PATHS)
		return fx_err_invalid(e, "updateTransforms", "more than %d transforms", FX_WRITE_MAX_PATHS);
	p = fx_mem_xcalloc(n ? n : 1, sizeof(*p));
	for (size_t i = 0; i < n; i++) {
		p[i].tr = &tr[i];
		if (parse_path(tr[i].path, &p[i], e) < 0 || check_operand(&p[i], e) < 0)
			goto fail;
		for (size_t j = 0; j < i; j++) {
			if (fx_fieldpath_is_prefix(&p[j].fp, &p[i].fp) || fx_fieldpath_is_prefix(&p[i].fp, &p[j].fp)) {
				fx_err_invalid(e, p[i].text, "transform on %.80s overlaps the one on %.80s", p[i].text,
					       p[j].text);
				goto fail;
			}
		}
	}
	*out = p;
	return 0;
fail:
	paths_free(p, n);
	return -1;
}

/*
 * A transform may not replace a value the write also sets: refused when
 * the transform's path holds a value in fields or passes through a
 * non-map value there.
 */
static int check_transform_vs_fields(const struct path *p, const struct fx_value *fields, struct fx_err *e)
{
	const struct fx_value *v = fields;

	for (size_t i = 0; i < p->fp.n; i++) {
		if (v->type != FX_V_MAP)
			return fx_err_invalid(e, p->text, "transform on %.80s lies below a value that is not a map",
					      p->text);
		v = fx_map_get(v, p->fp.segs[i]);
		if (!v)
			return 0;
	}
	return fx_err_invalid(e, p->text, "%.80s has both a value and a transform", p->text);
}

static bool covered(const struct path *mask, size_t nmask, const char *const *segs, size_t n)
{
	for (size_t i = 0; i < nmask; i++) {
		size_t k = mask[i].fp.n;

		if (k > n)
			continue;
		while (k > 0 && strcmp(mask[i].fp.segs[k - 1], segs[k - 1]) == 0)
			k--;
		if (k == 0)
			return true;
	}
	return false;
}

/* Every leaf of fields (a non-map or an empty map) must lie under a mask path. */
static int check_covered(const struct fx_value *map, const char **segs, size_t depth, const struct path *mask,
			 size_t nmask, struct fx_err *e)
{
	for (size_t i = 0; i < map->u.map.n; i++) {
		const struct fx_field *f = &map->u.map.fields[i];

		segs[depth] = f->name;
		if (covered(mask, nmask, segs, depth + 1))
			continue;
		if (f->value.type == FX_V_MAP && f->value.u.map.n > 0) {
			if (check_covered(&f->value, segs, depth + 1, mask, nmask, e) < 0)
				return -1;
			continue;
		}
		{
			struct fx_buf b;
			int rc;

			fx_buf_init(&b, 200);
			/* Only names the field in the message: a path over 200 bytes shows its last name. */
			if (fx_fieldpath_format(segs, depth + 1, &b) < 0)
				fx_buf_cleanup(&b);
			rc = fx_err_invalid(e, b.data ? b.data : f->name, "field %s is not in the update mask",
					    b.data ? b.data : f->name);
			fx_buf_cleanup(&b);
			return rc;
		}
	}
	return 0;
}

static json_object *transform_json(const struct path *p)
{
	static const char *const keys[] = {"setToServerValue",	    "increment",	 "maximum", "minimum",
					   "appendMissingElements", "removeAllFromArray"};
	const struct fx_transform *t = p->tr;
	json_object *o = json_object_new_object();

	json_object_object_add(o, "fieldPath", json_object_new_string(p->text));
	if (t->op == FX_TR_SERVER_TIME) {
		json_object_object_add(o, keys[t->op], json_object_new_string("REQUEST_TIME"));
	} else if (t->op == FX_TR_ARRAY_UNION || t->op == FX_TR_ARRAY_REMOVE) {
		json_object *enc = fx_fsvalue_encode(t->operand);

		/* The operand is an ArrayValue message: the body of {"arrayValue": ...}. */
		json_object_object_add(o, keys[t->op], json_object_get(json_object_object_get(enc, "arrayValue")));
		json_object_put(enc);
	} else {
		json_object_object_add(o, keys[t->op], fx_fsvalue_encode(t->operand));
	}
	return o;
}

static json_object *transforms_json(const struct path *p, size_t n)
{
	json_object *a = json_object_new_array_ext((int)n);

	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, transform_json(&p[i]));
	return a;
}

static int update_time_json(const char *update_time, json_object **out, struct fx_err *e)
{
	int64_t secs;
	int32_t nanos;
	char ts[40];

	if (fx_ts_parse(update_time, &secs, &nanos) < 0)
		return fx_err_invalid(e, "updateTime", "precondition update time is not an RFC 3339 timestamp");
	fx_ts_format(secs, nanos, -1, ts);
	*out = json_object_new_object();
	json_object_object_add(*out, "updateTime", json_object_new_string(ts));
	return 0;
}

static json_object *exists_json(bool exists)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "exists", json_object_new_boolean(exists));
	return o;
}

int fx_fswrite_doc(json_object *writes, enum fx_write_kind kind, const char *doc_name,
		   const struct fx_value *fields_map, const char *const *mask_paths, const char *update_time,
		   const struct fx_transform *transforms, size_t ntransforms, struct fx_err *e)
{
	struct fx_value empty;
	const struct fx_value *fields = fields_map;
	struct path *mask = NULL, *tr = NULL;
	size_t nmask = 0;
	json_object *w = NULL, *doc, *pre = NULL;
	const char *segs[FX_VALUE_MAX_DEPTH + 2];
	int rc = -1;

	fx_value_map(&empty);
	if (!fields)
		fields = &empty;
	if (!writes || !json_object_is_type(writes, json_type_array))
		return fx_err_invalid(e, "writes", "writes must be a JSON array");
	if (!doc_name || fx_docname_check(doc_name, e) < 0)
		return doc_name ? -1 : fx_err_invalid(e, "name", "missing document name");
	if (fx_fsvalue_check_fields(fields, e) < 0)
		return -1;
	if (kind == FX_WRITE_CREATE && (mask_paths || update_time))
		return fx_err_invalid(e, "updateMask", "create takes no mask and no update time");
	if (kind == FX_WRITE_SET && update_time)
		return fx_err_invalid(e, "updateTime", "set takes no update time precondition");
	if (parse_transforms(transforms, ntransforms, &tr, e) < 0)
		return -1;
	for (size_t i = 0; i < ntransforms; i++)
		if (check_transform_vs_fields(&tr[i], fields, e) < 0)
			goto out;
	if (kind != FX_WRITE_CREATE && (mask_paths || kind == FX_WRITE_UPDATE)) {
		if (parse_mask(mask_paths, &mask, &nmask, e) < 0)
			goto out;
		if (check_covered(fields, segs, 0, mask, nmask, e) < 0)
			goto out;
	}
	if (kind == FX_WRITE_UPDATE && nmask == 0 && ntransforms == 0) {
		fx_err_invalid(e, "updateMask", "update names no field to write");
		goto out;
	}
	if (kind == FX_WRITE_UPDATE && update_time && update_time_json(update_time, &pre, e) < 0)
		goto out;
	if (kind == FX_WRITE_CREATE)
		pre = exists_json(false);
	else if (kind == FX_WRITE_UPDATE && !pre)
		pre = exists_json(true);

	w = json_object_new_object();
	doc = json_object_new_object();
	json_object_object_add(doc, "name", json_object_new_string(doc_name));
	json_object_object_add(doc, "fields", fx_fsvalue_encode_fields(fields));
	json_object_object_add(w, "update", doc);
	if (mask) {
		json_object *m = json_object_new_object(), *fp = json_object_new_array_ext((int)nmask);

		for (size_t i = 0; i < nmask; i++)
			json_object_array_add(fp, json_object_new_string(mask[i].text));
		json_object_object_add(m, "fieldPaths", fp);
		json_object_object_add(w, "updateMask", m);
	}
	if (ntransforms)
		json_object_object_add(w, "updateTransforms", transforms_json(tr, ntransforms));
	if (pre)
		json_object_object_add(w, "currentDocument", pre);
	pre = NULL;
	json_object_array_add(writes, w);
	rc = 0;
out:
	json_object_put(pre);
	paths_free(mask, nmask);
	paths_free(tr, ntransforms);
	return rc;
}

/* Server timestamp paths as transforms; *out is heap (caller frees). */
static size_t server_ts(const char *const *paths, struct fx_transform **out)
{
	size_t n = count_list(paths);

	*out = fx_mem_xcalloc(n ? n : 1, sizeof(**out));
	for (size_t i = 0; i < n; i++) {
		(*out)[i].path = paths[i];
		(*out)[i].op = FX_TR_SERVER_TIME;
	}
	return n;
}

int fx_fswrite_create(json_object *writes, const char *doc_name, const struct fx_value *fields_map,
		      const char *const *server_ts_paths, struct fx_err *e)
{
	struct fx_transform *tr;
	size_t n = server_ts(server_ts_paths, &tr);
	int rc = fx_fswrite_doc(writes, FX_WRITE_CREATE, doc_name, fields_map, NULL, NULL, tr, n, e);

	free(tr);
	return rc;
}

int fx_fswrite_set(json_object *writes, const char *doc_name, const struct fx_value *fields_map,
		   const char *const *server_ts_paths, struct fx_err *e)
{
	struct fx_transform *tr;
	size_t n = server_ts(server_ts_paths, &tr);
	int rc = fx_fswrite_doc(writes, FX_WRITE_SET, doc_name, fields_map, NULL, NULL, tr, n, e);

	free(tr);
	return rc;
}

int fx_fswrite_update(json_object *writes, const char *doc_name, const struct fx_value *fields_map,
		      const char *const *mask_paths, const char *update_time_precondition,
		      const char *const *server_ts_paths, struct fx_err *e)
{
	struct fx_transform *tr;
	size_t n = server_ts(server_ts_paths, &tr);
	int rc = fx_fswrite_doc(writes, FX_WRITE_UPDATE, doc_name, fields_map, mask_paths, update_time_precondition, tr,
				n, e);

	free(tr);
	return rc;
}

int fx_fswrite_delete(json_object *writes, const char *doc_name, int exists, const char *update_time, struct fx_err *e)
{
	json_object *w, *pre = NULL;

	if (!writes || !json_object_is_type(writes, json_type_array))
		return fx_err_invalid(e, "writes", "writes must be a JSON array");
	if (!doc_name || fx_docname_check(doc_name, e) < 0)
		return doc_name ? -1 : fx_err_invalid(e, "name", "missing document name");
	if (exists < -1 || exists > 1 || (update_time && exists != -1))
		return fx_err_invalid(e, "currentDocument", "give one precondition: exists or update time");
	if (update_time && update_time_json(update_time, &pre, e) < 0)
		return -1;
	if (exists >= 0)
		pre = exists_json(exists == 1);
	w = json_object_new_object();
	json_object_object_add(w, "delete", json_object_new_string(doc_name));
	if (pre)
		json_object_object_add(w, "currentDocument", pre);
	json_object_array_add(writes, w);
	return 0;
}

int fx_fswrite_transform(json_object *writes, const char *doc_name, const struct fx_transform *transforms,
			 size_t ntransforms, struct fx_err *e)
{
	struct path *tr = NULL;
	json_object *w, *t;

	if (!writes || !json_object_is_type(writes, json_type_array))
		return fx_err_invalid(e, "writes", "writes must be a JSON array");
	if (!doc_name || fx_docname_check(doc_name, e) < 0)
		return doc_name ? -1 : fx_err_invalid(e, "name", "missing document name");
	if (ntransforms == 0)
		return fx_err_invalid(e, "fieldTransforms", "a transform write needs a transform");
	if (parse_transforms(transforms, ntransforms, &tr, e) < 0)
		return -1;
	t = json_object_new_object();
	json_object_object_add(t, "document", json_object_new_string(doc_name));
	json_object_object_add(t, "fieldTransforms", transforms_json(tr, ntransforms));
	w = json_object_new_object();
	json_object_object_add(w, "transform", t);
	json_object_array_add(writes, w);
	paths_free(tr, ntransforms);
	return 0;
}

int fx_fswrite_increment(json_object *writes, const char *doc_name, const char *field_path, int64_t by,
			 struct fx_err *e)
{
	struct fx_value operand;
	struct fx_transform t = {.path = field_path, .op = FX_TR_INCREMENT, .operand = &operand};

	fx_value_int(&operand, by);
	return fx_fswrite_transform(writes, doc_name, &t, 1, e);
}
