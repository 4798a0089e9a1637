#include "plain.h"

#include "b64.h"
#include "json.h"
#include "mem.h"
#include "str.h"
#include "ts.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- plain JSON to a value ---- */

/* The error context of a decode: where it is, and the error to fill. */
struct walk {
	struct fx_err *e;
	struct fx_value_where at;
};

static int decode(struct walk *c, json_object *j, struct fx_value *out, int depth)
{
	fx_value_null(out);
	switch (json_object_get_type(j)) {
	case json_type_null: return 0;
	case json_type_boolean: fx_value_bool(out, json_object_get_boolean(j)); return 0;
	case json_type_int: {
		int64_t i;

		/* json-c saturates downwards without a trace: INT64_MIN is refused with what it hides. */
		if (!fx_json_get_int64(j, INT64_MIN + 1, INT64_MAX, &i))
			return fx_err_invalid(c->e, fx_value_where_text(&c->at), "integer out of range");
		fx_value_int(out, i);
		return 0;
	}
	case json_type_double: fx_value_double(out, json_object_get_double(j)); return 0;
	case json_type_string: {
		size_t n = (size_t)json_object_get_string_len(j);

		if (n > FX_VALUE_MAX_BYTES)
			return fx_err_invalid(c->e, fx_value_where_text(&c->at), "string too long");
		if (!fx_value_utf8_ok(json_object_get_string(j), n))
			return fx_err_invalid(c->e, fx_value_where_text(&c->at), "string not UTF-8");
		fx_value_string(out, json_object_get_string(j), n);
		return 0;
	}
	case json_type_array: {
		size_t n = json_object_array_length(j);

		if (depth >= FX_VALUE_MAX_DEPTH)
			return fx_err_invalid(c->e, fx_value_where_text(&c->at), "nesting deeper than 20");
		fx_value_array(out);
		for (size_t i = 0; i < n; i++) {
			size_t old = fx_value_where_index(&c->at, i);
			json_object *item = json_object_array_get_idx(j, i);

			if (json_object_is_type(item, json_type_array)) {
				fx_value_cleanup(out);
				return fx_err_invalid(c->e, c->at.path, "array directly inside an array");
			}
			if (decode(c, item, fx_value_push(out), depth + 1) < 0) {
				fx_value_cleanup(out);
				return -1;
			}
			fx_value_where_pop(&c->at, old);
		}
		return 0;
	}
	case json_type_object: {
		if (depth >= FX_VALUE_MAX_DEPTH)
			return fx_err_invalid(c->e, fx_value_where_text(&c->at), "nesting deeper than 20");
		fx_value_map(out);
		json_object_object_foreach(j, name, val)
		{
			size_t old = fx_value_where_name(&c->at, name);
			size_t n = strlen(name);

			if (n > FX_VALUE_FIELD_NAME_MAX) {
				fx_value_cleanup(out);
				return fx_err_invalid(c->e, c->at.path, "field name too long");
			}
			if (decode(c, val, fx_value_add_field(out, name, n), depth + 1) < 0) {
				fx_value_cleanup(out);
				return -1;
			}
			fx_value_where_pop(&c->at, old);
		}
		return 0;
	}
	}
	return fx_err_invalid(c->e, fx_value_where_text(&c->at), "unsupported JSON type");
}

int fx_plain_decode(json_object *plain, const char *field, struct fx_value *out, struct fx_err *e)
{
	struct walk c = {.e = e};

	if (field)
		fx_value_where_name(&c.at, field);
	return decode(&c, plain, out, 0);
}

/* ---- a value to plain JSON ---- */

/* The shortest %g form that reads back as d, with ".0" kept for integral values. */
static json_object *new_double(double d)
{
	char s[40];

	/* Whole numbers read best as such: 40.0, not 4e+01. */
	/* None of these fails in 40 bytes; if one did, json-c's own form would do. */
	if (d > -1e15 && d < 1e15 && d == (double)(long long)d)
		return fx_str_fmt(s, sizeof(s), "%.1f", d) < 0 ? json_object_new_double(d)
							       : json_object_new_double_s(d, s);
	for (int prec = 1; prec <= 17; prec++) {
		if (fx_str_fmt(s, sizeof(s), "%.*g", prec, d) < 0)
			return json_object_new_double(d);
		if (strtod(s, NULL) == d)
			break;
	}
	if (!strpbrk(s, ".e")) {
		size_t len = strlen(s);

		if (fx_str_add(s, sizeof(s), &len, ".0") < 0)
			return json_object_new_double(d);
	}
	return json_object_new_double_s(d, s);
}

static json_object *special_double(double d)
{
	if (isnan(d))
		return json_object_new_string("NaN");
	if (isinf(d))
		return json_object_new_string(d > 0 ? "Infinity" : "-Infinity");
	return new_double(d);
}

static json_object *new_geo(const struct fx_value *v)
{
	json_object *g = json_object_new_object();

	json_object_object_add(g, "latitude", new_double(v->u.geo.lat));
	json_object_object_add(g, "longitude", new_double(v->u.geo.lng));
	return g;
}

static json_object *new_b64(const struct fx_value *v)
{
	size_t n = fx_b64_encoded_len(v->u.s.n);
	char *s = fx_mem_xmalloc(n + 1);
	json_object *j;
	struct fx_err e;

	/* Cannot fail: s has room for the whole encoding and its NUL. */
	fx_err_ignore(fx_b64_encode(v->u.s.p, v->u.s.n, s, n + 1, &e));
	j = json_object_new_string_len(s, (int)n);
	free(s);
	return j;
}

json_object *fx_plain_encode(const struct fx_value *v)
{
	char ts[40];

	switch (v->type) {
	case FX_V_NULL: return NULL;
	case FX_V_BOOL: return json_object_new_boolean(v->u.b);
	case FX_V_INT: return json_object_new_int64(v->u.i);
	case FX_V_DOUBLE: return special_double(v->u.d);
	case FX_V_TIMESTAMP: fx_ts_format(v->u.ts.secs, v->u.ts.nanos, 3, ts); return json_object_new_string(ts);
	case FX_V_STRING:
	case FX_V_REF: return json_object_new_string_len(v->u.s.p, (int)v->u.s.n);
	case FX_V_BYTES: return new_b64(v);
	case FX_V_GEO: return new_geo(v);
	case FX_V_ARRAY: {
		json_object *a = json_object_new_array_ext((int)v->u.arr.n);

		for (size_t i = 0; i < v->u.arr.n; i++)
			json_object_array_add(a, fx_plain_encode(&v->u.arr.items[i]));
		return a;
	}
	case FX_V_MAP: {
		json_object *o = json_object_new_object();

		for (size_t i = 0; i < v->u.map.n; i++)
			json_object_object_add(o, v->u.map.fields[i].name, fx_plain_encode(&v->u.map.fields[i].value));
		return o;
	}
	}
	return NULL;
}

/* ---- a value to plain JSON text, without the tree ---- */

/*
 * The bytes a JSON string cannot hold as they are (E): the controls, the
 * quote and the backslash. Bytes from 0x80 (UTF-8) are held as they are.
 */
#define E 1
static const unsigned char must_escape[256] = {
	/* clang-format off */
	E, E, E, E, E, E, E, E, E, E, E, E, E, E, E, E, /* 0x00 */
	E, E, E, E, E, E, E, E, E, E, E, E, E, E, E, E, /* 0x10 */
	0, 0, E, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x20 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x30 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x40 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, E, 0, 0, 0, /* 0x50 */
	/* clang-format on */
};
#undef E

int fx_plain_write_string(struct fx_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	size_t start = 0, i = 0;

	if (fx_buf_append(b, "\"", 1) < 0)
		return -1;
	for (;;) {
		char esc[6] = {'\\', 0, '0', '0', 0, 0};
		size_t elen = 2;
		unsigned char c;

		while (i < n && !must_escape[u[i]])
			i++;
		if (i == n)
			break;
		c = u[i];
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			esc[1] = 'u';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			elen = 6;
		}
		if (fx_buf_append(b, s + start, i - start) < 0 || fx_buf_append(b, esc, elen) < 0)
			return -1;
		start = ++i;
	}
	if (fx_buf_append(b, s + start, n - start) < 0)
		return -1;
	return fx_buf_append(b, "\"", 1);
}

/* The rare kinds (doubles, geo points, bytes) go through json-c itself: same text by construction. */
static int write_through_jsonc(struct fx_buf *b, const struct fx_value *v)
{
	return fx_json_append(b, fx_plain_encode(v));
}

int fx_plain_write(struct fx_buf *b, const struct fx_value *v)
{
	char num[40];

	switch (v->type) {
	case FX_V_NULL: return fx_buf_append(b, "null", 4);
	case FX_V_BOOL: return v->u.b ? fx_buf_append(b, "true", 4) : fx_buf_append(b, "false", 5);
	case FX_V_INT: {
		/* The digits of |i| from the right; unsigned so INT64_MIN has a magnitude. */
		uint64_t m = v->u.i < 0 ? 0 - (uint64_t)v->u.i : (uint64_t)v->u.i;
		size_t at = sizeof(num);

		do {
			num[--at] = (char)('0' + m % 10);
			m /= 10;
		} while (m);
		if (v->u.i < 0)
			num[--at] = '-';
		return fx_buf_append(b, num + at, sizeof(num) - at);
	}
	case FX_V_TIMESTAMP:
		fx_ts_format(v->u.ts.secs, v->u.ts.nanos, 3, num);
		return fx_plain_write_string(b, num, strlen(num));
	case FX_V_STRING:
	case FX_V_REF: return fx_plain_write_string(b, v->u.s.p, v->u.s.n);
	case FX_V_ARRAY:
		if (fx_buf_append(b, "[", 1) < 0)
			return -1;
		for (size_t i = 0; i < v->u.arr.n; i++)
			if ((i > 0 && fx_buf_append(b, ",", 1) < 0) || fx_plain_write(b, &v->u.arr.items[i]) < 0)
				return -1;
		return fx_buf_append(b, "]", 1);
	case FX_V_MAP:
		if (fx_buf_append(b, "{", 1) < 0)
			return -1;
		for (size_t i = 0; i < v->u.map.n; i++) {
			const struct fx_field *f = &v->u.map.fields[i];

			if ((i > 0 && fx_buf_append(b, ",", 1) < 0) ||
			    fx_plain_write_string(b, f->name, strlen(f->name)) < 0 || fx_buf_append(b, ":", 1) < 0 ||
			    fx_plain_write(b, &f->value) < 0)
				return -1;
		}
		return fx_buf_append(b, "}", 1);
	case FX_V_DOUBLE:
	case FX_V_BYTES:
	case FX_V_GEO: return write_through_jsonc(b, v);
	}
	return write_through_jsonc(b, v);
}
