#include "fsquery.h"

#include "buf.h"
#include "docname.h"
#include "fieldpath.h"
#include "firestore.h"
#include "fsvalue.h"
#include "json.h"
#include "mem.h"
#include "plain.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct qpath {
	struct fx_fieldpath fp;
	char *text; /* canonical (re-formatted) */
};

struct filter {
	struct qpath path;
	const char *op; /* REST enum name */
	bool unary;
	bool inequality;
	struct fx_value value; /* FX_V_NULL for unary filters */
};

struct order {
	struct qpath path;
	bool desc;
};

struct cursor {
	bool set;
	bool before;
	char *doc; /* snapshot cursor: document name and fields */
	struct fx_value fields;
	struct fx_value values; /* value cursor: FX_V_ARRAY */
};

struct fx_query {
	char *collection_id;
	bool all_descendants;
	char *parent;
	struct filter *filters;
	size_t nfilters;
	struct order *orders;
	size_t norders;
	bool has_select;
	struct qpath *select;
	size_t nselect;
	int limit; /* -1: none */
	int offset; /* 0: none */
	struct cursor start, end;
};

static const struct {
	const char *op;
	const char *name;
	bool inequality;
} ops[] = {
	{"==", "EQUAL", false},
	{"<", "LESS_THAN", true},
	{"<=", "LESS_THAN_OR_EQUAL", true},
	{">", "GREATER_THAN", true},
	{">=", "GREATER_THAN_OR_EQUAL", true},
	{"!=", "NOT_EQUAL", true},
	{"in", "IN", false},
	{"not-in", "NOT_IN", true},
	{"array-contains", "ARRAY_CONTAINS", false},
	{"array-contains-any", "ARRAY_CONTAINS_ANY", false},
};

static void qpath_cleanup(struct qpath *p)
{
	fx_fieldpath_cleanup(&p->fp);
	free(p->text);
	p->text = NULL;
}

static int qpath_parse(const char *text, struct qpath *out, struct fx_err *e)
{
	struct fx_buf b;

	out->text = NULL;
	if (!text) {
		out->fp.segs = NULL;
		out->fp.n = 0;
		return fx_err_invalid(e, "fieldPath", "missing field path");
	}
	if (fx_fieldpath_parse(text, &out->fp, e) < 0)
		return -1;
	fx_buf_init(&b, FX_FIELDPATH_MAX_SEGMENTS * (2 * FX_VALUE_FIELD_NAME_MAX + 3));
	if (fx_fieldpath_format((const char *const *)out->fp.segs, out->fp.n, &b) < 0) {
		fx_buf_cleanup(&b);
		return fx_err_invalid(e, "fieldPath", "field path too long");
	}
	out->text = fx_buf_take(&b);
	return 0;
}

static bool is_key(const struct qpath *p)
{
	return p->fp.n == 1 && strcmp(p->fp.segs[0], "__name__") == 0;
}

static void cursor_cleanup(struct cursor *c)
{
	free(c->doc);
	fx_value_cleanup(&c->fields);
	fx_value_cleanup(&c->values);
	memset(c, 0, sizeof(*c));
}

struct fx_query *fx_fsquery_new(const char *collection_id, bool all_descendants)
{
	struct fx_query *q = fx_mem_xcalloc(1, sizeof(*q));

	q->collection_id = fx_mem_xstrdup(collection_id ? collection_id : "");
	q->all_descendants = all_descendants;
	q->limit = -1;
	return q;
}

void fx_fsquery_free(struct fx_query *q)
{
	if (!q)
		return;
	free(q->collection_id);
	free(q->parent);
	for (size_t i = 0; i < q->nfilters; i++) {
		qpath_cleanup(&q->filters[i].path);
		fx_value_cleanup(&q->filters[i].value);
	}
	free(q->filters);
	for (size_t i = 0; i < q->norders; i++)
		qpath_cleanup(&q->orders[i].path);
	free(q->orders);
	for (size_t i = 0; i < q->nselect; i++)
		qpath_cleanup(&q->select[i]);
	free(q->select);
	cursor_cleanup(&q->start);
	cursor_cleanup(&q->end);
	free(q);
}

int fx_fsquery_parent(struct fx_query *q, const char *parent, struct fx_err *e)
{
	size_t n = parent ? strlen(parent) : 0;
	static const char suffix[] = "/documents";

	if (!parent)
		return fx_err_invalid(e, "parent", "missing parent");
	/* Either the database's documents root or a document name. */
	if (!(n > sizeof(suffix) - 1 && strcmp(parent + n - (sizeof(suffix) - 1), suffix) == 0)) {
		if (fx_docname_check(parent, e) < 0)
			return -1;
	} else {
		/* Checking "<parent>/c/d" checks the root's shape with one rule. */
		char *probe = fx_mem_xasprintf("%s/c/d", parent);
		int rc;

		rc = fx_docname_check(probe, e);
		free(probe);
		if (rc < 0)
			return -1;
	}
	free(q->parent);
	q->parent = fx_mem_xstrdup(parent);
	return 0;
}

/* A "__name__" operand: references pass, strings become parent/collection/id. */
static int to_ref(const struct fx_query *q, const struct fx_value *in, struct fx_value *out, struct fx_err *e)
{
	struct fx_buf b;
	int rc;

	if (in->type == FX_V_REF) {
		fx_value_copy(out, in);
		return 0;
	}
	if (in->type != FX_V_STRING)
		return fx_err_invalid(e, "__name__", "a __name__ value must be a reference or a document id");
	if (!q->parent)
		return fx_err_invalid(e, "__name__", "a document id for __name__ needs fx_fsquery_parent");
	if (in->u.s.n == 0 || strlen(in->u.s.p) != in->u.s.n || (!q->all_descendants && strchr(in->u.s.p, '/')))
		return fx_err_invalid(e, "__name__", "\"%.80s\" is not a document id", in->u.s.p);
	fx_buf_init(&b, FX_DOCNAME_MAX + 1);
	if (q->all_descendants)
		rc = fx_buf_printf(&b, "%s/%s", q->parent, in->u.s.p);
	else
		rc = fx_buf_printf(&b, "%s/%s/%s", q->parent, q->collection_id, in->u.s.p);
	if (rc < 0 || fx_docname_check(b.data, e) < 0) {
		fx_buf_cleanup(&b);
		return rc < 0 ? fx_err_invalid(e, "__name__", "document name too long") : -1;
	}
	fx_value_ref(out, b.data);
	fx_buf_cleanup(&b);
	return 0;
}

static bool is_nan(const struct fx_value *v)
{
	return v->type == FX_V_DOUBLE && isnan(v->u.d);
}

int fx_fsquery_where(struct fx_query *q, const char *field_path, const char *op, const struct fx_value *v,
		     struct fx_err *e)
{
	struct filter f;
	size_t k;

	memset(&f, 0, sizeof(f));
	for (k = 0; k < sizeof(ops) / sizeof(ops[0]); k++)
		if (op && strcmp(op, ops[k].op) == 0)
			break;
	if (k == sizeof(ops) / sizeof(ops[0]))
		return fx_err_invalid(e, "op", "unknown filter operator \"%.20s\"", op ? op : "(null)");
	if (!v)
		return fx_err_invalid(e, "value", "missing filter value");
	if (q->nfilters == FX_QUERY_MAX_FILTERS)
		return fx_err_invalid(e, "where", "more than %d filters", FX_QUERY_MAX_FILTERS);
	if (fx_fsvalue_check(v, e) < 0)
		return -1;
	if (qpath_parse(field_path, &f.path, e) < 0)
		return -1;
	f.op = ops[k].name;
	f.inequality = ops[k].inequality;
	if (v->type == FX_V_NULL || is_nan(v)) {
		if (k != 0 && k != 5) {
			fx_err_invalid(e, f.path.text, "%.80s: null and NaN only compare with == and !=", f.path.text);
			qpath_cleanup(&f.path);
			return -1;
		}
		f.unary = true;
		if (v->type == FX_V_NULL)
			f.op = k == 0 ? "IS_NULL" : "IS_NOT_NULL";
		else
			f.op = k == 0 ? "IS_NAN" : "IS_NOT_NAN";
	} else if (k == 6 || k == 7 || k == 9) {
		size_t max = k == 7 ? FX_QUERY_MAX_NOT_IN : FX_QUERY_MAX_IN;

		if (v->type != FX_V_ARRAY || v->u.arr.n == 0 || v->u.arr.n > max) {
			qpath_cleanup(&f.path);
			return fx_err_invalid(e, "value", "%s needs an array of 1 to %zu values", op, max);
		}
		if (is_key(&f.path)) {
			if (k == 9) {
				qpath_cleanup(&f.path);
				return fx_err_invalid(e, "__name__", "array-contains-any does not apply to __name__");
			}
			fx_value_array(&f.value);
			for (size_t i = 0; i < v->u.arr.n; i++) {
				if (to_ref(q, &v->u.arr.items[i], fx_value_push(&f.value), e) < 0) {
					fx_value_cleanup(&f.value);
					qpath_cleanup(&f.path);
					return -1;
				}
			}
		} else {
			fx_value_copy(&f.value, v);
		}
	} else if (is_key(&f.path)) {
		if (k == 8 || to_ref(q, v, &f.value, e) < 0) {
			qpath_cleanup(&f.path);
			return k == 8 ? fx_err_invalid(e, "__name__", "array-contains does not apply to __name__") : -1;
		}
	} else {
		fx_value_copy(&f.value, v);
	}
	q->filters = fx_mem_xrealloc(q->filters, (q->nfilters + 1) * sizeof(*q->filters));
	q->filters[q->nfilters++] = f;
	return 0;
}

int fx_fsquery_where_str(struct fx_query *q, const char *field_path, const char *op, const char *s, struct fx_err *e)
{
	struct fx_value v = {0};
	int rc;

	fx_value_string(&v, s, strlen(s));
	rc = fx_fsquery_where(q, field_path, op, &v, e);
	fx_value_cleanup(&v);
	return rc;
}

int fx_fsquery_order_by(struct fx_query *q, const char *field_path, bool descending, struct fx_err *e)
{
	struct order o;

	if (q->norders == FX_QUERY_MAX_ORDERS)
		return fx_err_invalid(e, "orderBy", "more than %d orderBy entries", FX_QUERY_MAX_ORDERS);
	if (qpath_parse(field_path, &o.path, e) < 0)
		return -1;
	o.desc = descending;
	q->orders = fx_mem_xrealloc(q->orders, (q->norders + 1) * sizeof(*q->orders));
	q->orders[q->norders++] = o;
	return 0;
}

void fx_fsquery_limit(struct fx_query *q, int n)
{
	q->limit = n < 0 ? -1 : n;
}

void fx_fsquery_offset(struct fx_query *q, int n)
{
	q->offset = n < 0 ? 0 : n;
}

int fx_fsquery_select(struct fx_query *q, const char *const *paths, size_t n, struct fx_err *e)
{
	struct qpath *sel;

	if (n > FX_QUERY_MAX_SELECT)
		return fx_err_invalid(e, "select", "more than %d selected fields", FX_QUERY_MAX_SELECT);
	sel = fx_mem_xcalloc(n ? n : 1, sizeof(*sel));
	for (size_t i = 0; i < (n ? n : 1); i++) {
		if (qpath_parse(n ? paths[i] : "__name__", &sel[i], e) < 0) {
			for (size_t j = 0; j < i; j++)
				qpath_cleanup(&sel[j]);
			free(sel);
			return -1;
		}
	}
	for (size_t i = 0; i < q->nselect; i++)
		qpath_cleanup(&q->select[i]);
	free(q->select);
	q->select = sel;
	q->nselect = n ? n : 1;
	q->has_select = true;
	return 0;
}

static struct cursor *cursor_slot(struct fx_query *q, enum fx_cursor which, struct fx_err *e)
{
	switch (which) {
	case FX_CURSOR_START_AT:
	case FX_CURSOR_START_AFTER: return &q->start;
	case FX_CURSOR_END_AT:
	case FX_CURSOR_END_BEFORE: return &q->end;
	}
	fx_err_invalid(e, "cursor", "unknown cursor kind");
	return NULL;
}

int fx_fsquery_cursor(struct fx_query *q, enum fx_cursor which, const struct fx_value *values, size_t n,
		      struct fx_err *e)
{
	struct cursor *c = cursor_slot(q, which, e);

	if (!c)
		return -1;
	if (n == 0 || !values)
		return fx_err_invalid(e, "cursor", "a cursor needs at least one value");
	if (n > FX_QUERY_MAX_ORDERS + 1)
		return fx_err_invalid(e, "cursor", "too many cursor values");
	for (size_t i = 0; i < n; i++)
		if (fx_fsvalue_check(&values[i], e) < 0)
			return -1;
	cursor_cleanup(c);
	c->set = true;
	c->before = which == FX_CURSOR_START_AT || which == FX_CURSOR_END_BEFORE;
	fx_value_array(&c->values);
	for (size_t i = 0; i < n; i++)
		fx_value_copy(fx_value_push(&c->values), &values[i]);
	return 0;
}

int fx_fsquery_cursor_doc(struct fx_query *q, enum fx_cursor which, const char *doc_name, const struct fx_value *fields,
			  struct fx_err *e)
{
	struct cursor *c = cursor_slot(q, which, e);
	const char *id, *coll;
	size_t parent_len;

	if (!c)
		return -1;
	if (!doc_name || fx_docname_check(doc_name, e) < 0)
		return doc_name ? -1 : fx_err_invalid(e, "cursor", "missing document name");
	if (fields && fields->type != FX_V_MAP)
		return fx_err_invalid(e, "cursor", "document fields must be a map");
	if (fields && fx_fsvalue_check_fields(fields, e) < 0)
		return -1;
	/* .../{coll}/{id}: the document must sit in a collection of the queried id. */
	id = strrchr(doc_name, '/');
	for (coll = id - 1; *coll != '/'; coll--)
		;
	parent_len = (size_t)(coll - doc_name);
	coll++;
	if ((size_t)(id - coll) != strlen(q->collection_id) || strncmp(coll, q->collection_id, (size_t)(id - coll)))
		return fx_err_invalid(e, "cursor", "document %.80s is not in collection %.80s", doc_name,
				      q->collection_id);
	if (q->parent) {
		size_t pn = strlen(q->parent);
		bool ok = q->all_descendants ? parent_len >= pn && strncmp(doc_name, q->parent, pn) == 0 &&
						       (parent_len == pn || doc_name[pn] == '/')
					     : parent_len == pn && strncmp(doc_name, q->parent, pn) == 0;

		if (!ok)
			return fx_err_invalid(e, "cursor", "document %.80s is not under the query's parent", doc_name);
	}
	cursor_cleanup(c);
	c->set = true;
	c->before = which == FX_CURSOR_START_AT || which == FX_CURSOR_END_BEFORE;
	c->doc = fx_mem_xstrdup(doc_name);
	if (fields)
		fx_value_copy(&c->fields, fields);
	else
		fx_value_map(&c->fields);
	return 0;
}

int fx_fsquery_start_at(struct fx_query *q, const struct fx_value *values, size_t n, struct fx_err *e)
{
	return fx_fsquery_cursor(q, FX_CURSOR_START_AT, values, n, e);
}

int fx_fsquery_start_after(struct fx_query *q, const struct fx_value *values, size_t n, struct fx_err *e)
{
	return fx_fsquery_cursor(q, FX_CURSOR_START_AFTER, values, n, e);
}

int fx_fsquery_end_at(struct fx_query *q, const struct fx_value *values, size_t n, struct fx_err *e)
{
	return fx_fsquery_cursor(q, FX_CURSOR_END_AT, values, n, e);
}

int fx_fsquery_end_before(struct fx_query *q, const struct fx_value *values, size_t n, struct fx_err *e)
{
	return fx_fsquery_cursor(q, FX_CURSOR_END_BEFORE, values, n, e);
}

/* ---- build ---- */

struct oref {
	const struct qpath *path;
	bool desc;
};

/*
 * The query is written as JSON text straight into a buffer: building it as
 * a json-c tree (an object and its hash table for every fieldPath of a
 * select), serialising it and freeing the tree was ~8 % of a product
 * list's worker CPU. Strings are escaped as json-c escapes them (plain.h),
 * keys come in the order the tree had them, and each Value is fsvalue's
 * encoding, so the text is the one json-c wrote (test_fsquery compares).
 */
static int put(struct fx_buf *b, const char *lit)
{
	return fx_buf_puts(b, lit);
}

static int put_str(struct fx_buf *b, const char *s)
{
	return fx_plain_write_string(b, s, strlen(s));
}

static int put_value(struct fx_buf *b, const struct fx_value *v)
{
	return fx_json_append(b, fx_fsvalue_encode(v));
}

static int put_field_ref(struct fx_buf *b, const struct qpath *p)
{
	return put(b, "{\"fieldPath\":") < 0 || put_str(b, p->text) < 0 ? -1 : put(b, "}");
}

static int put_filter(struct fx_buf *b, const struct filter *f)
{
	if (f->unary)
		return put(b, "{\"unaryFilter\":{\"op\":") < 0 || put_str(b, f->op) < 0 || put(b, ",\"field\":") < 0 ||
				       put_field_ref(b, &f->path) < 0
			       ? -1
			       : put(b, "}}");
	return put(b, "{\"fieldFilter\":{\"field\":") < 0 || put_field_ref(b, &f->path) < 0 || put(b, ",\"op\":") < 0 ||
			       put_str(b, f->op) < 0 || put(b, ",\"value\":") < 0 || put_value(b, &f->value) < 0
		       ? -1
		       : put(b, "}}");
}

static int cmp_qpath_ptr(const void *a, const void *b)
{
	return fx_fieldpath_cmp(&(*(const struct qpath *const *)a)->fp, &(*(const struct qpath *const *)b)->fp);
}

static bool ordered(const struct oref *o, size_t n, const struct qpath *p)
{
	for (size_t i = 0; i < n; i++)
		if (fx_fieldpath_cmp(&o[i].path->fp, &p->fp) == 0)
			return true;
	return false;
}

/*
 * The orderBy list sent: the explicit one, and when a cursor comes from a
 * document snapshot, the clients' implicit additions (inequality fields
 * not yet ordered, sorted, then __name__; all in the last explicit
 * direction, ascending when there is none). o has room for
 * norders + nfilters + 1 entries.
 */
static size_t effective_orders(const struct fx_query *q, const struct qpath *name, struct oref *o)
{
	size_t n = 0, nineq = 0;
	const struct qpath **ineq;
	bool dir;

	for (size_t i = 0; i < q->norders; i++) {
		o[n].path = &q->orders[i].path;
		o[n++].desc = q->orders[i].desc;
	}
	if (!(q->start.set && q->start.doc) && !(q->end.set && q->end.doc))
		return n;
	dir = n ? o[n - 1].desc : false;
	ineq = fx_mem_xcalloc(q->nfilters + 1, sizeof(*ineq));
	for (size_t i = 0; i < q->nfilters; i++)
		if (q->filters[i].inequality && !is_key(&q->filters[i].path))
			ineq[nineq++] = &q->filters[i].path;
	qsort(ineq, nineq, sizeof(*ineq), cmp_qpath_ptr);
	for (size_t i = 0; i < nineq; i++) {
		if (!ordered(o, n, ineq[i])) {
			o[n].path = ineq[i];
			o[n++].desc = dir;
		}
	}
	free(ineq);
	if (!ordered(o, n, name)) {
		o[n].path = name;
		o[n++].desc = dir;
	}
	return n;
}

/* A cursor's {"values":[...],"before":true}; -1 with e set (a 400), or with e untouched when b is full. */
static int put_cursor(struct fx_buf *b, const struct fx_query *q, const struct cursor *c, const struct oref *o,
		      size_t n, struct fx_err *e)
{
	if (put(b, "{\"values\":[") < 0)
		return -1;
	if (c->doc) {
		for (size_t i = 0; i < n; i++) {
			struct fx_value ref;
			const struct fx_value *v;
			int rc;

			if (i > 0 && put(b, ",") < 0)
				return -1;
			if (is_key(o[i].path)) {
				fx_value_ref(&ref, c->doc);
				rc = put_value(b, &ref);
				fx_value_cleanup(&ref);
				if (rc < 0)
					return -1;
				continue;
			}
			v = fx_fieldpath_get(&c->fields, &o[i].path->fp);
			if (!v)
				return fx_err_invalid(e, o[i].path->text,
						      "cursor document has no field %.80s to order by",
						      o[i].path->text);
			if (put_value(b, v) < 0)
				return -1;
		}
	} else {
		if (c->values.u.arr.n > n)
			return fx_err_invalid(e, "cursor", "%zu cursor values for %zu orderBy entries",
					      c->values.u.arr.n, n);
		for (size_t i = 0; i < c->values.u.arr.n; i++) {
			const struct fx_value *v = &c->values.u.arr.items[i];
			int rc;

			if (i > 0 && put(b, ",") < 0)
				return -1;
			if (is_key(o[i].path)) {
				struct fx_value ref;

				if (to_ref(q, v, &ref, e) < 0)
					return -1;
				rc = put_value(b, &ref);
				fx_value_cleanup(&ref);
			} else {
				rc = put_value(b, v);
			}
			if (rc < 0)
				return -1;
		}
	}
	if (put(b, "]") < 0 || (c->before && put(b, ",\"before\":true") < 0))
		return -1;
	return put(b, "}");
}

/* The clauses of the query into b, in the order Google's clients send them; -1 as put_cursor. */
static int put_query(struct fx_buf *b, const struct fx_query *q, const struct oref *o, size_t n, struct fx_err *e)
{
	bool first = true;

	if (put(b, "{") < 0)
		return -1;
	if (q->has_select) {
		if (put(b, "\"select\":{\"fields\":[") < 0)
			return -1;
		for (size_t i = 0; i < q->nselect; i++)
			if ((i > 0 && put(b, ",") < 0) || put_field_ref(b, &q->select[i]) < 0)
				return -1;
		if (put(b, "]}") < 0)
			return -1;
		first = false;
	}
	if (put(b, first ? "\"from\":[{\"collectionId\":" : ",\"from\":[{\"collectionId\":") < 0 ||
	    put_str(b, q->collection_id) < 0 || (q->all_descendants && put(b, ",\"allDescendants\":true") < 0) ||
	    put(b, "}]") < 0)
		return -1;
	if (q->nfilters == 1) {
		if (put(b, ",\"where\":") < 0 || put_filter(b, &q->filters[0]) < 0)
			return -1;
	} else if (q->nfilters > 1) {
		if (put(b, ",\"where\":{\"compositeFilter\":{\"op\":\"AND\",\"filters\":[") < 0)
			return -1;
		for (size_t i = 0; i < q->nfilters; i++)
			if ((i > 0 && put(b, ",") < 0) || put_filter(b, &q->filters[i]) < 0)
				return -1;
		if (put(b, "]}}") < 0)
			return -1;
	}
	if (n) {
		if (put(b, ",\"orderBy\":[") < 0)
			return -1;
		for (size_t i = 0; i < n; i++)
			if ((i > 0 && put(b, ",") < 0) || put(b, "{\"field\":") < 0 ||
			    put_field_ref(b, o[i].path) < 0 ||
			    put(b, o[i].desc ? ",\"direction\":\"DESCENDING\"}" : ",\"direction\":\"ASCENDING\"}") < 0)
				return -1;
		if (put(b, "]") < 0)
			return -1;
	}
	if (q->start.set && (put(b, ",\"startAt\":") < 0 || put_cursor(b, q, &q->start, o, n, e) < 0))
		return -1;
	if (q->end.set && (put(b, ",\"endAt\":") < 0 || put_cursor(b, q, &q->end, o, n, e) < 0))
		return -1;
	if (q->offset > 0 && (put(b, ",\"offset\":") < 0 || fx_buf_printf(b, "%d", q->offset) < 0))
		return -1;
	if (q->limit >= 0 && (put(b, ",\"limit\":") < 0 || fx_buf_printf(b, "%d", q->limit) < 0))
		return -1;
	return put(b, "}");
}

int fx_fsquery_write(const struct fx_query *q, struct fx_buf *b, struct fx_err *e)
{
	struct qpath name;
	struct oref *o;
	struct fx_err why;
	size_t n, at = b->len;
	int rc;

	if (!q->collection_id[0] || strchr(q->collection_id, '/') || strlen(q->collection_id) > FX_VALUE_FIELD_NAME_MAX)
		return fx_err_invalid(e, "collectionId", "\"%.80s\" is not a collection id", q->collection_id);
	if (qpath_parse("__name__", &name, e) < 0)
		return -1;
	o = fx_mem_xcalloc(q->norders + q->nfilters + 1, sizeof(*o));
	n = effective_orders(q, &name, o);
	fx_err_clear(&why);
	rc = put_query(b, q, o, n, &why);
	if (rc < 0) {
		if (fx_err_is(&why, FX_OK))
			fx_err_invalid(e, "query", "query over %zu bytes", b->max);
		else
			*e = why;
		b->len = at;
		if (b->data)
			b->data[at] = '\0';
	}
	free(o);
	qpath_cleanup(&name);
	return rc;
}

/* The written text read back by json-c itself (strings may hold "\u0000", which fx_json_parse refuses). */
json_object *fx_fsquery_build(const struct fx_query *q, struct fx_err *e)
{
	struct fx_buf b;
	struct json_tokener *tok;
	json_object *sq = NULL;

	fx_buf_init(&b, FX_FSQUERY_TEXT_MAX);
	if (fx_fsquery_write(q, &b, e) == 0) {
		tok = json_tokener_new_ex(FX_FS_JSON_DEPTH);
		if (tok && b.len <= INT_MAX)
			sq = json_tokener_parse_ex(tok, b.data, (int)b.len);
		if (!sq)
			fx_err_set(e, FX_INTERNAL, "query text not read back");
		json_tokener_free(tok);
	}
	fx_buf_cleanup(&b);
	return sq;
}
