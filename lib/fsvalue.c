#include "fsvalue.h"

#include "b64.h"
#include "docname.h"
#include "json.h"
#include "mem.h"
#include "plain.h"
#include "ts.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/*
 * The error context of a decode or a check: where it is, and the error to
 * fill. Decoding walks Firestore's answers (a bad one is a 502 UNAVAILABLE);
 * checking walks values we built, before they are sent (400).
 */
struct walk {
	struct fx_err *e;
	struct fx_value_where at;
};

/* ---- decoding typed JSON ---- */

static int bad(struct walk *c, const char *what)
{
	return fx_err_set(c->e, FX_BAD_GATEWAY, "bad firestore value: %s at %s%s", what, fx_value_where_text(&c->at),
			  c->at.cut ? "..." : "");
}

static bool json_number(json_object *j, double *out)
{
	if (json_object_is_type(j, json_type_double)) {
		*out = json_object_get_double(j);
		return isfinite(*out);
	}
	if (json_object_is_type(j, json_type_int)) {
		int64_t i;

		if (fx_json_get_int64(j, INT64_MIN, INT64_MAX, &i)) {
			*out = (double)i;
			return true;
		}
		if (json_object_get_uint64(j) == UINT64_MAX)
			return false; /* saturated: the literal was larger */
		*out = (double)json_object_get_uint64(j);
		return true;
	}
	return false;
}

static int decode_value(struct walk *c, json_object *j, struct fx_value *out, int depth);

static int decode_fields(struct walk *c, json_object *fields, struct fx_value *map, int depth)
{
	fx_value_null(map);
	if (fields && !json_object_is_type(fields, json_type_object))
		return bad(c, "fields is not an object");
	fx_value_map(map);
	if (!fields)
		return 0;
	json_object_object_foreach(fields, name, val)
	{
		size_t old = fx_value_where_name(&c->at, name);
		size_t n = strlen(name);

		if (n > FX_VALUE_FIELD_NAME_MAX || !fx_json_utf8_valid(name, n)) {
			fx_value_cleanup(map);
			return bad(c, "field name too long or not UTF-8");
		}
		if (decode_value(c, val, fx_value_add_field(map, name, n), depth) < 0) {
			fx_value_cleanup(map);
			return -1;
		}
		fx_value_where_pop(&c->at, old);
	}
	return 0;
}

static int decode_array(struct walk *c, json_object *body, struct fx_value *out, int depth)
{
	json_object *values = NULL;
	size_t n;

	if (!json_object_is_type(body, json_type_object))
		return bad(c, "arrayValue is not an object");
	json_object_object_foreach(body, key, val)
	{
		if (strcmp(key, "values") != 0)
			return bad(c, "unknown key in arrayValue");
		values = val;
	}
	if (values && !json_object_is_type(values, json_type_array))
		return bad(c, "arrayValue.values is not an array");
	fx_value_array(out);
	if (!values)
		return 0;
	n = json_object_array_length(values);
	for (size_t i = 0; i < n; i++) {
		size_t old = fx_value_where_index(&c->at, i);
		struct fx_value *item = fx_value_push(out);

		if (decode_value(c, json_object_array_get_idx(values, i), item, depth + 1) < 0) {
			fx_value_cleanup(out);
			return -1;
		}
		if (item->type == FX_V_ARRAY) {
			fx_value_cleanup(out);
			return bad(c, "array directly inside an array");
		}
		fx_value_where_pop(&c->at, old);
	}
	return 0;
}

static int decode_geo(struct walk *c, json_object *body, struct fx_value *out)
{
	double lat = 0, lng = 0;

	if (!json_object_is_type(body, json_type_object))
		return bad(c, "geoPointValue is not an object");
	json_object_object_foreach(body, key, val)
	{
		double *dst = strcmp(key, "latitude") == 0 ? &lat : strcmp(key, "longitude") == 0 ? &lng : NULL;

		if (!dst)
			return bad(c, "unknown key in geoPointValue");
		if (!json_number(val, dst))
			return bad(c, "geoPointValue coordinate is not a finite number");
	}
	if (lat < -90 || lat > 90 || lng < -180 || lng > 180)
		return bad(c, "geoPointValue out of range");
	fx_value_geo(out, lat, lng);
	return 0;
}

static int decode_scalar_string(struct walk *c, const char *key, json_object *val, struct fx_value *out)
{
	const char *s;
	size_t n;

	if (!json_object_is_type(val, json_type_string))
		return bad(c, "value of the wrong JSON type");
	s = json_object_get_string(val);
	n = (size_t)json_object_get_string_len(val);
	if (strcmp(key, "stringValue") == 0) {
		if (n > FX_VALUE_MAX_BYTES)
			return bad(c, "stringValue too long");
		if (!fx_value_utf8_ok(s, n))
			return bad(c, "stringValue not UTF-8");
		fx_value_string(out, s, n);
	} else if (strcmp(key, "bytesValue") == 0) {
		unsigned char *bytes;
		size_t blen;
		struct fx_err sub;

		if (n > (FX_VALUE_MAX_BYTES + 2) / 3 * 4)
			return bad(c, "bytesValue is not base64 or too long");
		bytes = fx_mem_xmalloc(fx_b64_decoded_max(n) + 1);
		if (fx_b64_decode_any(s, n, bytes, fx_b64_decoded_max(n), &blen, &sub) < 0) {
			free(bytes);
			return bad(c, "bytesValue is not base64 or too long");
		}
		if (blen > FX_VALUE_MAX_BYTES) {
			free(bytes);
			return bad(c, "bytesValue too long");
		}
		fx_value_null(out);
		out->type = FX_V_BYTES;
		out->u.s.p = fx_mem_xrealloc(bytes, blen + 1);
		out->u.s.p[blen] = '\0';
		out->u.s.n = blen;
	} else if (strcmp(key, "timestampValue") == 0) {
		int64_t secs;
		int32_t nanos;

		if (fx_ts_parse(s, &secs, &nanos) < 0)
			return bad(c, "timestampValue malformed or out of range");
		fx_value_ts(out, secs, nanos);
	} else { /* referenceValue */
		struct fx_err sub;

		fx_err_clear(&sub);
		if (strlen(s) != n || fx_docname_check(s, &sub) < 0)
			return bad(c, "referenceValue is not a document name");
		fx_value_ref(out, s);
	}
	return 0;
}

static int decode_value(struct walk *c, json_object *j, struct fx_value *out, int depth)
{
	const char *key = NULL;
	json_object *val = NULL;
	int nkeys = 0;

	fx_value_null(out);
	if (!json_object_is_type(j, json_type_object))
		return bad(c, "Value is not an object");
	json_object_object_foreach(j, k, v)
	{
		key = k;
		val = v;
		nkeys++;
	}
	if (nkeys != 1)
		return bad(c, nkeys ? "Value has more than one key" : "Value has no key");
	if (strcmp(key, "nullValue") == 0) {
		if (val && !(json_object_is_type(val, json_type_string) &&
			     strcmp(json_object_get_string(val), "NULL_VALUE") == 0))
			return bad(c, "nullValue is not null");
		return 0;
	}
	if (strcmp(key, "booleanValue") == 0) {
		if (!json_object_is_type(val, json_type_boolean))
			return bad(c, "booleanValue is not a boolean");
		fx_value_bool(out, json_object_get_boolean(val));
		return 0;
	}
	if (strcmp(key, "integerValue") == 0) {
		int64_t i;

		if (!fx_json_get_int64(val, INT64_MIN, INT64_MAX, &i))
			return bad(c, "integerValue is not an int64");
		fx_value_int(out, i);
		return 0;
	}
	if (strcmp(key, "doubleValue") == 0) {
		double d;

		if (json_object_is_type(val, json_type_string)) {
			const char *s = json_object_get_string(val);

			if (strcmp(s, "NaN") == 0)
				d = NAN;
			else if (strcmp(s, "Infinity") == 0)
				d = INFINITY;
			else if (strcmp(s, "-Infinity") == 0)
				d = -INFINITY;
			else
				return bad(c, "doubleValue string is not NaN/Infinity/-Infinity");
		} else if (!json_number(val, &d)) {
			return bad(c, "doubleValue is not a finite number");
		}
		fx_value_double(out, d);
		return 0;
	}
	if (strcmp(key, "timestampValue") == 0 || strcmp(key, "stringValue") == 0 || strcmp(key, "bytesValue") == 0 ||
	    strcmp(key, "referenceValue") == 0)
		return decode_scalar_string(c, key, val, out);
	if (strcmp(key, "geoPointValue") == 0)
		return decode_geo(c, val, out);
	if (strcmp(key, "arrayValue") == 0 || strcmp(key, "mapValue") == 0) {
		if (depth >= FX_VALUE_MAX_DEPTH)
			return bad(c, "nesting deeper than 20");
		if (key[0] == 'a')
			return decode_array(c, val, out, depth);
		if (!json_object_is_type(val, json_type_object))
			return bad(c, "mapValue is not an object");
		json_object_object_foreach(val, mk, mv)
		{
			(void)mv;
			if (strcmp(mk, "fields") != 0)
				return bad(c, "unknown key in mapValue");
		}
		return decode_fields(c, json_object_object_get(val, "fields"), out, depth + 1);
	}
	return bad(c, "unknown value type");
}

int fx_fsvalue_decode(json_object *typed, struct fx_value *out, struct fx_err *e)
{
	struct walk c = {.e = e};

	return decode_value(&c, typed, out, 0);
}

int fx_fsvalue_decode_fields(json_object *fields_obj_or_null, struct fx_value *map_out, struct fx_err *e)
{
	struct walk c = {.e = e};

	return decode_fields(&c, fields_obj_or_null, map_out, 0);
}

/* ---- encoding ---- */

json_object *fx_fsvalue_encode(const struct fx_value *v)
{
	json_object *o = json_object_new_object();
	char ts[40];

	switch (v->type) {
	case FX_V_NULL: json_object_object_add(o, "nullValue", NULL); break;
	case FX_V_BOOL: json_object_object_add(o, "booleanValue", json_object_new_boolean(v->u.b)); break;
	case FX_V_INT: {
		char *num = fx_mem_xasprintf("%" PRId64, v->u.i);

		json_object_object_add(o, "integerValue", json_object_new_string(num));
		free(num);
		break;
	}
	case FX_V_DOUBLE: json_object_object_add(o, "doubleValue", fx_plain_encode(v)); break;
	case FX_V_TIMESTAMP:
		fx_ts_format(v->u.ts.secs, v->u.ts.nanos, -1, ts);
		json_object_object_add(o, "timestampValue", json_object_new_string(ts));
		break;
	case FX_V_STRING:
		json_object_object_add(o, "stringValue", json_object_new_string_len(v->u.s.p, (int)v->u.s.n));
		break;
	case FX_V_BYTES: json_object_object_add(o, "bytesValue", fx_plain_encode(v)); break;
	case FX_V_REF:
		json_object_object_add(o, "referenceValue", json_object_new_string_len(v->u.s.p, (int)v->u.s.n));
		break;
	case FX_V_GEO: json_object_object_add(o, "geoPointValue", fx_plain_encode(v)); break;
	case FX_V_ARRAY: {
		json_object *body = json_object_new_object();

		if (v->u.arr.n) {
			json_object *values = json_object_new_array_ext((int)v->u.arr.n);

			for (size_t i = 0; i < v->u.arr.n; i++)
				json_object_array_add(values, fx_fsvalue_encode(&v->u.arr.items[i]));
			json_object_object_add(body, "values", values);
		}
		json_object_object_add(o, "arrayValue", body);
		break;
	}
	case FX_V_MAP: {
		json_object *body = json_object_new_object();

		if (v->u.map.n)
			json_object_object_add(body, "fields", fx_fsvalue_encode_fields(v));
		json_object_object_add(o, "mapValue", body);
		break;
	}
	}
	return o;
}

json_object *fx_fsvalue_encode_fields(const struct fx_value *map)
{
	json_object *o = json_object_new_object();

	if (map->type != FX_V_MAP)
		return o;
	for (size_t i = 0; i < map->u.map.n; i++)
		json_object_object_add(o, map->u.map.fields[i].name, fx_fsvalue_encode(&map->u.map.fields[i].value));
	return o;
}

/* ---- checking values built in memory ---- */

static int check_fail(struct walk *c, const char *what)
{
	return fx_err_invalid(c->e, fx_value_where_text(&c->at), "%s", what);
}

static int check_value(struct walk *c, const struct fx_value *v, int depth)
{
	switch (v->type) {
	case FX_V_NULL:
	case FX_V_BOOL:
	case FX_V_INT:
	case FX_V_DOUBLE: return 0;
	case FX_V_TIMESTAMP:
		if (v->u.ts.secs < FX_TS_MIN_SECS || v->u.ts.secs > FX_TS_MAX_SECS || v->u.ts.nanos < 0 ||
		    v->u.ts.nanos > 999999999)
			return check_fail(c, "timestamp out of range");
		return 0;
	case FX_V_STRING:
		if (v->u.s.n > FX_VALUE_MAX_BYTES || !fx_value_utf8_ok(v->u.s.p, v->u.s.n))
			return check_fail(c, "string too long or not UTF-8");
		return 0;
	case FX_V_BYTES:
		if (v->u.s.n > FX_VALUE_MAX_BYTES)
			return check_fail(c, "bytes too long");
		return 0;
	case FX_V_REF: {
		struct fx_err sub;

		fx_err_clear(&sub);
		if (strlen(v->u.s.p) != v->u.s.n || fx_docname_check(v->u.s.p, &sub) < 0)
			return check_fail(c, "reference is not a document name");
		return 0;
	}
	case FX_V_GEO:
		if (!(v->u.geo.lat >= -90 && v->u.geo.lat <= 90 && v->u.geo.lng >= -180 && v->u.geo.lng <= 180))
			return check_fail(c, "geo point out of range");
		return 0;
	case FX_V_ARRAY:
		if (depth >= FX_VALUE_MAX_DEPTH)
			return check_fail(c, "nesting deeper than 20");
		for (size_t i = 0; i < v->u.arr.n; i++) {
			size_t old = fx_value_where_index(&c->at, i);

			if (v->u.arr.items[i].type == FX_V_ARRAY)
				return check_fail(c, "array directly inside an array");
			if (check_value(c, &v->u.arr.items[i], depth + 1) < 0)
				return -1;
			fx_value_where_pop(&c->at, old);
		}
		return 0;
	case FX_V_MAP:
		if (depth >= FX_VALUE_MAX_DEPTH)
			return check_fail(c, "nesting deeper than 20");
		for (size_t i = 0; i < v->u.map.n; i++) {
			const struct fx_field *f = &v->u.map.fields[i];
			size_t old = fx_value_where_name(&c->at, f->name);

			if (strlen(f->name) > FX_VALUE_FIELD_NAME_MAX || !fx_json_utf8_valid(f->name, strlen(f->name)))
				return check_fail(c, "field name too long or not UTF-8");
			if (check_value(c, &f->value, depth + 1) < 0)
				return -1;
			fx_value_where_pop(&c->at, old);
		}
		return 0;
	}
	return check_fail(c, "unknown value type");
}

int fx_fsvalue_check(const struct fx_value *v, struct fx_err *e)
{
	struct walk c = {.e = e};

	return check_value(&c, v, 0);
}

int fx_fsvalue_check_fields(const struct fx_value *map, struct fx_err *e)
{
	struct walk c = {.e = e};

	if (map->type != FX_V_MAP)
		return fx_err_invalid(e, "fields", "document fields must be a map");
	for (size_t i = 0; i < map->u.map.n; i++) {
		const struct fx_field *f = &map->u.map.fields[i];
		size_t old = fx_value_where_name(&c.at, f->name);

		if (strlen(f->name) > FX_VALUE_FIELD_NAME_MAX || !fx_json_utf8_valid(f->name, strlen(f->name)))
			return check_fail(&c, "field name too long or not UTF-8");
		if (check_value(&c, &f->value, 0) < 0)
			return -1;
		fx_value_where_pop(&c.at, old);
	}
	return 0;
}
