#include "fsvalue.h"

#include "b64.h"
#include "civil.h"
#include "json.h"
#include "mem.h"
#include "num.h"
#include "str.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- construction, ownership ---- */

void fx_value_cleanup(struct fx_value *v)
{
	if (!v)
		return;
	switch (v->type) {
	case FX_V_STRING:
	case FX_V_BYTES:
	case FX_V_REF: free(v->u.s.p); break;
	case FX_V_ARRAY:
		for (size_t i = 0; i < v->u.arr.n; i++)
			fx_value_cleanup(&v->u.arr.items[i]);
		free(v->u.arr.items);
		break;
	case FX_V_MAP:
		for (size_t i = 0; i < v->u.map.n; i++) {
			free(v->u.map.fields[i].name);
			fx_value_cleanup(&v->u.map.fields[i].value);
		}
		free(v->u.map.fields);
		break;
	default: break;
	}
	fx_value_null(v);
}

struct fx_value *fx_value_new(void)
{
	struct fx_value *v = fx_xmalloc(sizeof(*v));

	fx_value_null(v);
	return v;
}

void fx_value_free(struct fx_value *v)
{
	if (!v)
		return;
	fx_value_cleanup(v);
	free(v);
}

void fx_value_null(struct fx_value *v)
{
	memset(v, 0, sizeof(*v));
	v->type = FX_V_NULL;
}

void fx_value_bool(struct fx_value *v, bool b)
{
	fx_value_null(v);
	v->type = FX_V_BOOL;
	v->u.b = b;
}

void fx_value_int(struct fx_value *v, int64_t i)
{
	fx_value_null(v);
	v->type = FX_V_INT;
	v->u.i = i;
}

void fx_value_double(struct fx_value *v, double d)
{
	fx_value_null(v);
	v->type = FX_V_DOUBLE;
	v->u.d = d;
}

static void set_bytes(struct fx_value *v, enum fx_vtype type, const void *p, size_t n)
{
	fx_value_null(v);
	v->type = type;
	v->u.s.p = fx_xmemdup(p, n);
	v->u.s.n = n;
}

void fx_value_string(struct fx_value *v, const char *s, size_t n)
{
	set_bytes(v, FX_V_STRING, s, n);
}

void fx_value_ts(struct fx_value *v, int64_t secs, int32_t nanos)
{
	fx_value_null(v);
	v->type = FX_V_TIMESTAMP;
	v->u.ts.secs = secs;
	v->u.ts.nanos = nanos;
}

void fx_value_bytes(struct fx_value *v, const void *p, size_t n)
{
	set_bytes(v, FX_V_BYTES, p, n);
}

void fx_value_ref(struct fx_value *v, const char *name)
{
	set_bytes(v, FX_V_REF, name, strlen(name));
}

void fx_value_geo(struct fx_value *v, double lat, double lng)
{
	fx_value_null(v);
	v->type = FX_V_GEO;
	v->u.geo.lat = lat;
	v->u.geo.lng = lng;
}

void fx_value_map(struct fx_value *v)
{
	fx_value_null(v);
	v->type = FX_V_MAP;
}

void fx_value_array(struct fx_value *v)
{
	fx_value_null(v);
	v->type = FX_V_ARRAY;
}

/* ---- maps and arrays ---- */

/* Appends a field without looking for an existing one. */
static struct fx_value *map_push(struct fx_value *map, const char *name, size_t name_len)
{
	struct fx_field *f;

	if (map->u.map.n == map->u.map.cap) {
		map->u.map.cap = map->u.map.cap ? map->u.map.cap * 2 : 4;
		map->u.map.fields = fx_xrealloc(map->u.map.fields, map->u.map.cap * sizeof(*map->u.map.fields));
	}
	f = &map->u.map.fields[map->u.map.n++];
	f->name = fx_xstrndup(name, name_len);
	fx_value_null(&f->value);
	return &f->value;
}

struct fx_value *fx_map_set(struct fx_value *map, const char *name)
{
	for (size_t i = 0; i < map->u.map.n; i++) {
		if (strcmp(map->u.map.fields[i].name, name) == 0) {
			fx_value_cleanup(&map->u.map.fields[i].value);
			return &map->u.map.fields[i].value;
		}
	}
	return map_push(map, name, strlen(name));
}

void fx_map_set_str(struct fx_value *map, const char *name, const char *s)
{
	fx_value_string(fx_map_set(map, name), s, strlen(s));
}

void fx_map_set_int(struct fx_value *map, const char *name, int64_t i)
{
	fx_value_int(fx_map_set(map, name), i);
}

void fx_map_set_bool(struct fx_value *map, const char *name, bool b)
{
	fx_value_bool(fx_map_set(map, name), b);
}

void fx_map_set_ts(struct fx_value *map, const char *name, int64_t secs, int32_t nanos)
{
	fx_value_ts(fx_map_set(map, name), secs, nanos);
}

struct fx_value *fx_array_push(struct fx_value *arr)
{
	struct fx_value *slot;

	if (arr->u.arr.n == arr->u.arr.cap) {
		arr->u.arr.cap = arr->u.arr.cap ? arr->u.arr.cap * 2 : 4;
		arr->u.arr.items = fx_xrealloc(arr->u.arr.items, arr->u.arr.cap * sizeof(*arr->u.arr.items));
	}
	slot = &arr->u.arr.items[arr->u.arr.n++];
	fx_value_null(slot);
	return slot;
}

static const struct fx_value *map_get_n(const struct fx_value *map, const char *name, size_t n)
{
	if (!map || map->type != FX_V_MAP)
		return NULL;
	for (size_t i = 0; i < map->u.map.n; i++) {
		const char *k = map->u.map.fields[i].name;

		if (strncmp(k, name, n) == 0 && k[n] == '\0')
			return &map->u.map.fields[i].value;
	}
	return NULL;
}

const struct fx_value *fx_map_get(const struct fx_value *map, const char *name)
{
	return map_get_n(map, name, strlen(name));
}

const struct fx_value *fx_value_path(const struct fx_value *map, const char *dotted)
{
	const struct fx_value *v = map;
	const char *p = dotted;

	for (;;) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);

		v = map_get_n(v, p, n);
		if (!v || !dot)
			return v;
		p = dot + 1;
	}
}

const char *fx_value_path_str(const struct fx_value *map, const char *dotted)
{
	const struct fx_value *v = fx_value_path(map, dotted);

	return v && v->type == FX_V_STRING ? v->u.s.p : NULL;
}

bool fx_value_path_int(const struct fx_value *map, const char *dotted, int64_t *out)
{
	const struct fx_value *v = fx_value_path(map, dotted);

	if (!v || v->type != FX_V_INT)
		return false;
	*out = v->u.i;
	return true;
}

const struct fx_value *fx_value_at(const struct fx_value *map, const struct fx_fieldpath *fp)
{
	const struct fx_value *v = map;

	for (size_t i = 0; v && i < fp->n; i++)
		v = fx_map_get(v, fp->segs[i]);
	return fp->n ? v : NULL;
}

void fx_value_copy(struct fx_value *dst, const struct fx_value *src)
{
	switch (src->type) {
	case FX_V_STRING:
	case FX_V_BYTES:
	case FX_V_REF: set_bytes(dst, src->type, src->u.s.p, src->u.s.n); break;
	case FX_V_ARRAY:
		fx_value_array(dst);
		for (size_t i = 0; i < src->u.arr.n; i++)
			fx_value_copy(fx_array_push(dst), &src->u.arr.items[i]);
		break;
	case FX_V_MAP:
		fx_value_map(dst);
		for (size_t i = 0; i < src->u.map.n; i++) {
			const struct fx_field *f = &src->u.map.fields[i];

			fx_value_copy(map_push(dst, f->name, strlen(f->name)), &f->value);
		}
		break;
	default: *dst = *src; break;
	}
}

static bool double_same(double a, double b)
{
	if (isnan(a) || isnan(b))
		return isnan(a) && isnan(b);
	return a == b && !signbit(a) == !signbit(b);
}

bool fx_value_equal(const struct fx_value *a, const struct fx_value *b)
{
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case FX_V_NULL: return true;
	case FX_V_BOOL: return a->u.b == b->u.b;
	case FX_V_INT: return a->u.i == b->u.i;
	case FX_V_DOUBLE: return double_same(a->u.d, b->u.d);
	case FX_V_TIMESTAMP: return a->u.ts.secs == b->u.ts.secs && a->u.ts.nanos == b->u.ts.nanos;
	case FX_V_STRING:
	case FX_V_BYTES:
	case FX_V_REF: return a->u.s.n == b->u.s.n && memcmp(a->u.s.p, b->u.s.p, a->u.s.n) == 0;
	case FX_V_GEO: return double_same(a->u.geo.lat, b->u.geo.lat) && double_same(a->u.geo.lng, b->u.geo.lng);
	case FX_V_ARRAY:
		if (a->u.arr.n != b->u.arr.n)
			return false;
		for (size_t i = 0; i < a->u.arr.n; i++)
			if (!fx_value_equal(&a->u.arr.items[i], &b->u.arr.items[i]))
				return false;
		return true;
	case FX_V_MAP:
		if (a->u.map.n != b->u.map.n)
			return false;
		for (size_t i = 0; i < a->u.map.n; i++) {
			if (strcmp(a->u.map.fields[i].name, b->u.map.fields[i].name) != 0 ||
			    !fx_value_equal(&a->u.map.fields[i].value, &b->u.map.fields[i].value))
				return false;
		}
		return true;
	}
	return false;
}

/* ---- timestamps ---- */

#define TS_MIN_SECS INT64_C(-62135596800) /* 0001-01-01T00:00:00Z */
#define TS_MAX_SECS INT64_C(253402300799) /* 9999-12-31T23:59:59Z */

int fx_ts_parse(const char *s, int64_t *secs, int32_t *nanos)
{
	int y, mo, d, h, mi, sec, frac = 0, fdigits = 0, off = 0;
	const char *p;
	int64_t t;

	if (strlen(s) < 20 || fx_civil_parse_date(s, &y, &mo, &d) < 0 || s[10] != 'T' ||
	    fx_num_digits(s + 11, 2, &h) < 0 || s[13] != ':' || fx_num_digits(s + 14, 2, &mi) < 0 || s[16] != ':' ||
	    fx_num_digits(s + 17, 2, &sec) < 0)
		return -1;
	if (y < 1 || h > 23 || mi > 59 || sec > 59)
		return -1;
	p = s + 19;
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9') {
			if (++fdigits > 9)
				return -1;
			frac = frac * 10 + (*p++ - '0');
		}
		if (fdigits == 0)
			return -1;
		for (int i = fdigits; i < 9; i++)
			frac *= 10;
	}
	if (*p == 'Z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh, om;

		if (fx_num_digits(p + 1, 2, &oh) < 0 || p[3] != ':' || fx_num_digits(p + 4, 2, &om) < 0 || oh > 23 ||
		    om > 59)
			return -1;
		off = (oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
		p += 6;
	} else {
		return -1;
	}
	if (*p != '\0')
		return -1;
	t = fx_civil_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off;
	if (t < TS_MIN_SECS || t > TS_MAX_SECS)
		return -1;
	*secs = t;
	*nanos = frac;
	return 0;
}

void fx_ts_format(int64_t secs, int32_t nanos, int ndigits, char out[40])
{
	int64_t days, rem, y;
	int m, d;
	char frac[12] = "";

	secs += nanos / 1000000000;
	nanos %= 1000000000;
	if (nanos < 0) {
		nanos += 1000000000;
		secs--;
	}
	days = secs / 86400;
	rem = secs % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	fx_civil_date(days, &y, &m, &d);
	if (ndigits < 0)
		ndigits = nanos == 0 ? 0 : nanos % 1000000 == 0 ? 3 : nanos % 1000 == 0 ? 6 : 9;
	/* Neither can fail: nanos is in [0, 1e9), and 40 bytes hold any int64 second with nanoseconds. */
	if ((ndigits == 3 && fx_str_fmt(frac, sizeof(frac), ".%03d", (int)(nanos / 1000000)) < 0) ||
	    (ndigits == 6 && fx_str_fmt(frac, sizeof(frac), ".%06d", (int)(nanos / 1000)) < 0) ||
	    (ndigits == 9 && fx_str_fmt(frac, sizeof(frac), ".%09d", (int)nanos) < 0) ||
	    fx_str_fmt(out, 40, "%04" PRId64 "-%02d-%02dT%02d:%02d:%02d%sZ", y, m, d, (int)(rem / 3600),
		       (int)(rem / 60 % 60), (int)(rem % 60), frac) < 0)
		out[0] = '\0';
}

void fx_ts_now(int64_t *secs, int32_t *nanos)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	*secs = ts.tv_sec;
	*nanos = (int32_t)ts.tv_nsec;
}

/* ---- decoding typed JSON ---- */

struct dctx {
	struct fx_err *e;
	char path[160];
	size_t len;
	bool cut; /* a segment did not fit: the path shown ends early */
};

static int bad(struct dctx *c, const char *what)
{
	return fx_err_set(c->e, 502, "INTERNAL", "bad firestore value: %s at %s%s", what, c->len ? c->path : "(top)",
			  c->cut ? "..." : "");
}

/* Appends ".name" or "[i]" to the error path; returns the old length to restore. */
static size_t push_name(struct dctx *c, const char *name)
{
	size_t old = c->len;

	if (fx_str_add(c->path, sizeof(c->path), &c->len, "%s%s", c->len ? "." : "", name) < 0)
		c->cut = true;
	return old;
}

static size_t push_index(struct dctx *c, size_t i)
{
	size_t old = c->len;

	if (fx_str_add(c->path, sizeof(c->path), &c->len, "[%zu]", i) < 0)
		c->cut = true;
	return old;
}

static void pop(struct dctx *c, size_t old)
{
	c->len = old;
	c->path[old] = '\0';
}

/* UTF-8 check that lets NUL through (Firestore strings may hold it). */
static bool utf8_ok(const char *p, size_t n)
{
	while (n) {
		const char *nul = memchr(p, '\0', n);
		size_t seg = nul ? (size_t)(nul - p) : n;

		if (!fx_utf8_valid(p, seg))
			return false;
		if (!nul)
			break;
		p += seg + 1;
		n -= seg + 1;
	}
	return true;
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

static int decode_value(struct dctx *c, json_object *j, struct fx_value *out, int depth);

static int decode_fields(struct dctx *c, json_object *fields, struct fx_value *map, int depth)
{
	fx_value_null(map);
	if (fields && !json_object_is_type(fields, json_type_object))
		return bad(c, "fields is not an object");
	fx_value_map(map);
	if (!fields)
		return 0;
	json_object_object_foreach(fields, name, val)
	{
		size_t old = push_name(c, name);
		size_t n = strlen(name);

		if (n > FX_FIELD_NAME_MAX || !fx_utf8_valid(name, n)) {
			fx_value_cleanup(map);
			return bad(c, "field name too long or not UTF-8");
		}
		if (decode_value(c, val, map_push(map, name, n), depth) < 0) {
			fx_value_cleanup(map);
			return -1;
		}
		pop(c, old);
	}
	return 0;
}

static int decode_array(struct dctx *c, json_object *body, struct fx_value *out, int depth)
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
		size_t old = push_index(c, i);
		struct fx_value *item = fx_array_push(out);

		if (decode_value(c, json_object_array_get_idx(values, i), item, depth + 1) < 0) {
			fx_value_cleanup(out);
			return -1;
		}
		if (item->type == FX_V_ARRAY) {
			fx_value_cleanup(out);
			return bad(c, "array directly inside an array");
		}
		pop(c, old);
	}
	return 0;
}

static int decode_geo(struct dctx *c, json_object *body, struct fx_value *out)
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

static int decode_scalar_string(struct dctx *c, const char *key, json_object *val, struct fx_value *out)
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
		if (!utf8_ok(s, n))
			return bad(c, "stringValue not UTF-8");
		fx_value_string(out, s, n);
	} else if (strcmp(key, "bytesValue") == 0) {
		unsigned char *bytes;
		size_t blen;
		struct fx_err sub;

		if (n > (FX_VALUE_MAX_BYTES + 2) / 3 * 4)
			return bad(c, "bytesValue is not base64 or too long");
		bytes = fx_xmalloc(fx_b64_decoded_max(n) + 1);
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
		out->u.s.p = fx_xrealloc(bytes, blen + 1);
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
		if (strlen(s) != n || fx_doc_name_check(s, &sub) < 0)
			return bad(c, "referenceValue is not a document name");
		fx_value_ref(out, s);
	}
	return 0;
}

static int decode_value(struct dctx *c, json_object *j, struct fx_value *out, int depth)
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

int fx_value_decode(json_object *typed, struct fx_value *out, struct fx_err *e)
{
	struct dctx c = {.e = e};

	return decode_value(&c, typed, out, 0);
}

int fx_fields_decode(json_object *fields_obj_or_null, struct fx_value *map_out, struct fx_err *e)
{
	struct dctx c = {.e = e};

	return decode_fields(&c, fields_obj_or_null, map_out, 0);
}

/* ---- encoding ---- */

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
	char *s = fx_xmalloc(n + 1);
	json_object *j;
	struct fx_err e;

	/* Cannot fail: s has room for the whole encoding and its NUL. */
	fx_ignore(fx_b64_encode(v->u.s.p, v->u.s.n, s, n + 1, &e));
	j = json_object_new_string_len(s, (int)n);
	free(s);
	return j;
}

json_object *fx_value_encode(const struct fx_value *v)
{
	json_object *o = json_object_new_object();
	char ts[40];

	switch (v->type) {
	case FX_V_NULL: json_object_object_add(o, "nullValue", NULL); break;
	case FX_V_BOOL: json_object_object_add(o, "booleanValue", json_object_new_boolean(v->u.b)); break;
	case FX_V_INT: {
		char *num = fx_xasprintf("%" PRId64, v->u.i);

		json_object_object_add(o, "integerValue", json_object_new_string(num));
		free(num);
		break;
	}
	case FX_V_DOUBLE: json_object_object_add(o, "doubleValue", special_double(v->u.d)); break;
	case FX_V_TIMESTAMP:
		fx_ts_format(v->u.ts.secs, v->u.ts.nanos, -1, ts);
		json_object_object_add(o, "timestampValue", json_object_new_string(ts));
		break;
	case FX_V_STRING:
		json_object_object_add(o, "stringValue", json_object_new_string_len(v->u.s.p, (int)v->u.s.n));
		break;
	case FX_V_BYTES: json_object_object_add(o, "bytesValue", new_b64(v)); break;
	case FX_V_REF:
		json_object_object_add(o, "referenceValue", json_object_new_string_len(v->u.s.p, (int)v->u.s.n));
		break;
	case FX_V_GEO: json_object_object_add(o, "geoPointValue", new_geo(v)); break;
	case FX_V_ARRAY: {
		json_object *body = json_object_new_object();

		if (v->u.arr.n) {
			json_object *values = json_object_new_array_ext((int)v->u.arr.n);

			for (size_t i = 0; i < v->u.arr.n; i++)
				json_object_array_add(values, fx_value_encode(&v->u.arr.items[i]));
			json_object_object_add(body, "values", values);
		}
		json_object_object_add(o, "arrayValue", body);
		break;
	}
	case FX_V_MAP: {
		json_object *body = json_object_new_object();

		if (v->u.map.n)
			json_object_object_add(body, "fields", fx_fields_encode(v));
		json_object_object_add(o, "mapValue", body);
		break;
	}
	}
	return o;
}

json_object *fx_fields_encode(const struct fx_value *map)
{
	json_object *o = json_object_new_object();

	if (map->type != FX_V_MAP)
		return o;
	for (size_t i = 0; i < map->u.map.n; i++)
		json_object_object_add(o, map->u.map.fields[i].name, fx_value_encode(&map->u.map.fields[i].value));
	return o;
}

/* ---- checking values built in memory ---- */

static int check_fail(struct dctx *c, const char *what)
{
	return fx_err_invalid(c->e, c->len ? c->path : "(top)", "%s", what);
}

static int check_value(struct dctx *c, const struct fx_value *v, int depth)
{
	switch (v->type) {
	case FX_V_NULL:
	case FX_V_BOOL:
	case FX_V_INT:
	case FX_V_DOUBLE: return 0;
	case FX_V_TIMESTAMP:
		if (v->u.ts.secs < TS_MIN_SECS || v->u.ts.secs > TS_MAX_SECS || v->u.ts.nanos < 0 ||
		    v->u.ts.nanos > 999999999)
			return check_fail(c, "timestamp out of range");
		return 0;
	case FX_V_STRING:
		if (v->u.s.n > FX_VALUE_MAX_BYTES || !utf8_ok(v->u.s.p, v->u.s.n))
			return check_fail(c, "string too long or not UTF-8");
		return 0;
	case FX_V_BYTES:
		if (v->u.s.n > FX_VALUE_MAX_BYTES)
			return check_fail(c, "bytes too long");
		return 0;
	case FX_V_REF: {
		struct fx_err sub;

		fx_err_clear(&sub);
		if (strlen(v->u.s.p) != v->u.s.n || fx_doc_name_check(v->u.s.p, &sub) < 0)
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
			size_t old = push_index(c, i);

			if (v->u.arr.items[i].type == FX_V_ARRAY)
				return check_fail(c, "array directly inside an array");
			if (check_value(c, &v->u.arr.items[i], depth + 1) < 0)
				return -1;
			pop(c, old);
		}
		return 0;
	case FX_V_MAP:
		if (depth >= FX_VALUE_MAX_DEPTH)
			return check_fail(c, "nesting deeper than 20");
		for (size_t i = 0; i < v->u.map.n; i++) {
			const struct fx_field *f = &v->u.map.fields[i];
			size_t old = push_name(c, f->name);

			if (strlen(f->name) > FX_FIELD_NAME_MAX || !fx_utf8_valid(f->name, strlen(f->name)))
				return check_fail(c, "field name too long or not UTF-8");
			if (check_value(c, &f->value, depth + 1) < 0)
				return -1;
			pop(c, old);
		}
		return 0;
	}
	return check_fail(c, "unknown value type");
}

int fx_value_check(const struct fx_value *v, struct fx_err *e)
{
	struct dctx c = {.e = e};

	return check_value(&c, v, 0);
}

int fx_fields_check(const struct fx_value *map, struct fx_err *e)
{
	struct dctx c = {.e = e};

	if (map->type != FX_V_MAP)
		return fx_err_invalid(e, "fields", "document fields must be a map");
	for (size_t i = 0; i < map->u.map.n; i++) {
		const struct fx_field *f = &map->u.map.fields[i];
		size_t old = push_name(&c, f->name);

		if (strlen(f->name) > FX_FIELD_NAME_MAX || !fx_utf8_valid(f->name, strlen(f->name)))
			return check_fail(&c, "field name too long or not UTF-8");
		if (check_value(&c, &f->value, 0) < 0)
			return -1;
		pop(&c, old);
	}
	return 0;
}

/* ---- plain JSON ---- */

static int from_plain(struct dctx *c, json_object *j, struct fx_value *out, int depth)
{
	fx_value_null(out);
	switch (json_object_get_type(j)) {
	case json_type_null: return 0;
	case json_type_boolean: fx_value_bool(out, json_object_get_boolean(j)); return 0;
	case json_type_int: {
		int64_t i;

		if (!fx_json_get_int64(j, INT64_MIN, INT64_MAX, &i))
			return fx_err_invalid(c->e, c->len ? c->path : "(top)", "integer out of range");
		fx_value_int(out, i);
		return 0;
	}
	case json_type_double: fx_value_double(out, json_object_get_double(j)); return 0;
	case json_type_string: {
		size_t n = (size_t)json_object_get_string_len(j);

		if (n > FX_VALUE_MAX_BYTES)
			return fx_err_invalid(c->e, c->len ? c->path : "(top)", "string too long");
		if (!utf8_ok(json_object_get_string(j), n))
			return fx_err_invalid(c->e, c->len ? c->path : "(top)", "string not UTF-8");
		fx_value_string(out, json_object_get_string(j), n);
		return 0;
	}
	case json_type_array: {
		size_t n = json_object_array_length(j);

		if (depth >= FX_VALUE_MAX_DEPTH)
			return fx_err_invalid(c->e, c->len ? c->path : "(top)", "nesting deeper than 20");
		fx_value_array(out);
		for (size_t i = 0; i < n; i++) {
			size_t old = push_index(c, i);
			json_object *item = json_object_array_get_idx(j, i);

			if (json_object_is_type(item, json_type_array)) {
				fx_value_cleanup(out);
				return fx_err_invalid(c->e, c->path, "array directly inside an array");
			}
			if (from_plain(c, item, fx_array_push(out), depth + 1) < 0) {
				fx_value_cleanup(out);
				return -1;
			}
			pop(c, old);
		}
		return 0;
	}
	case json_type_object: {
		if (depth >= FX_VALUE_MAX_DEPTH)
			return fx_err_invalid(c->e, c->len ? c->path : "(top)", "nesting deeper than 20");
		fx_value_map(out);
		json_object_object_foreach(j, name, val)
		{
			size_t old = push_name(c, name);
			size_t n = strlen(name);

			if (n > FX_FIELD_NAME_MAX) {
				fx_value_cleanup(out);
				return fx_err_invalid(c->e, c->path, "field name too long");
			}
			if (from_plain(c, val, map_push(out, name, n), depth + 1) < 0) {
				fx_value_cleanup(out);
				return -1;
			}
			pop(c, old);
		}
		return 0;
	}
	}
	return fx_err_invalid(c->e, c->len ? c->path : "(top)", "unsupported JSON type");
}

int fx_value_from_plain(json_object *plain, struct fx_value *out, struct fx_err *e)
{
	struct dctx c = {.e = e};

	return from_plain(&c, plain, out, 0);
}

json_object *fx_value_to_plain(const struct fx_value *v)
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
			json_object_array_add(a, fx_value_to_plain(&v->u.arr.items[i]));
		return a;
	}
	case FX_V_MAP: {
		json_object *o = json_object_new_object();

		for (size_t i = 0; i < v->u.map.n; i++)
			json_object_object_add(o, v->u.map.fields[i].name,
					       fx_value_to_plain(&v->u.map.fields[i].value));
		return o;
	}
	}
	return NULL;
}

/* ---- field paths ---- */

static bool simple_segment(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

int fx_fieldpath_format(const char *const *segments, size_t n, struct fx_buf *out)
{
	for (size_t i = 0; i < n; i++) {
		const char *s = segments[i];

		if (i && fx_buf_append(out, ".", 1) < 0)
			return -1;
		if (simple_segment(s)) {
			if (fx_buf_puts(out, s) < 0)
				return -1;
			continue;
		}
		if (fx_buf_append(out, "`", 1) < 0)
			return -1;
		for (; *s; s++) {
			if ((*s == '`' || *s == '\\') && fx_buf_append(out, "\\", 1) < 0)
				return -1;
			if (fx_buf_append(out, s, 1) < 0)
				return -1;
		}
		if (fx_buf_append(out, "`", 1) < 0)
			return -1;
	}
	return 0;
}

void fx_fieldpath_cleanup(struct fx_fieldpath *fp)
{
	if (!fp)
		return;
	for (size_t i = 0; i < fp->n; i++)
		free(fp->segs[i]);
	free(fp->segs);
	fp->segs = NULL;
	fp->n = 0;
}

static int fp_fail(struct fx_fieldpath *fp, const char *dotted, struct fx_err *e, const char *why)
{
	fx_fieldpath_cleanup(fp);
	return fx_err_invalid(e, dotted, "invalid field path \"%.80s\": %s", dotted, why);
}

int fx_fieldpath_parse(const char *dotted, struct fx_fieldpath *out, struct fx_err *e)
{
	const char *p = dotted;
	struct fx_buf seg;

	out->segs = NULL;
	out->n = 0;
	fx_buf_init(&seg, FX_FIELD_NAME_MAX);
	for (;;) {
		fx_buf_reset(&seg);
		if (*p == '`') {
			for (p++; *p != '`'; p++) {
				if (*p == '\0') {
					fx_buf_cleanup(&seg);
					return fp_fail(out, dotted, e, "unterminated back-quote");
				}
				if (*p == '\\') {
					p++;
					if (*p != '`' && *p != '\\') {
						fx_buf_cleanup(&seg);
						return fp_fail(out, dotted, e, "bad escape in back-quoted segment");
					}
				}
				if (fx_buf_append(&seg, p, 1) < 0) {
					fx_buf_cleanup(&seg);
					return fp_fail(out, dotted, e, "segment too long");
				}
			}
			p++;
			if (*p != '.' && *p != '\0') {
				fx_buf_cleanup(&seg);
				return fp_fail(out, dotted, e, "text after a back-quoted segment");
			}
		} else {
			for (; *p != '.' && *p != '\0'; p++) {
				if (strchr("~*`/[]", *p)) {
					fx_buf_cleanup(&seg);
					return fp_fail(out, dotted, e, "segment holds one of ~*`/[] (back-quote it)");
				}
				if (fx_buf_append(&seg, p, 1) < 0) {
					fx_buf_cleanup(&seg);
					return fp_fail(out, dotted, e, "segment too long");
				}
			}
		}
		if (seg.len == 0) {
			fx_buf_cleanup(&seg);
			return fp_fail(out, dotted, e, "empty segment");
		}
		if (out->n == FX_FIELDPATH_MAX_SEGMENTS) {
			fx_buf_cleanup(&seg);
			return fp_fail(out, dotted, e, "too many segments");
		}
		out->segs = fx_xrealloc(out->segs, (out->n + 1) * sizeof(*out->segs));
		out->segs[out->n++] = fx_xstrndup(seg.data, seg.len);
		if (*p == '\0')
			break;
		p++; /* '.' */
	}
	fx_buf_cleanup(&seg);
	return 0;
}

int fx_fieldpath_cmp(const struct fx_fieldpath *a, const struct fx_fieldpath *b)
{
	for (size_t i = 0; i < a->n && i < b->n; i++) {
		int r = strcmp(a->segs[i], b->segs[i]);

		if (r)
			return r;
	}
	return a->n < b->n ? -1 : a->n > b->n ? 1 : 0;
}

bool fx_fieldpath_is_prefix(const struct fx_fieldpath *a, const struct fx_fieldpath *b)
{
	if (a->n > b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->segs[i], b->segs[i]) != 0)
			return false;
	return true;
}

/* ---- document names ---- */

int fx_doc_name_check(const char *name, struct fx_err *e)
{
	static const char *const fixed[] = {"projects", NULL, "databases", NULL, "documents"};
	const char *p = name;
	size_t nseg = 0;

	if (strlen(name) > FX_DOC_NAME_MAX)
		return fx_err_invalid(e, "name", "document name too long");
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);

		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return fx_err_invalid(e, "name", "document name \"%.80s\" has an empty or dot segment", name);
		if (nseg < 5 && fixed[nseg] && (strlen(fixed[nseg]) != n || strncmp(p, fixed[nseg], n) != 0))
			return fx_err_invalid(
				e, "name", "document name \"%.80s\" is not projects/P/databases/D/documents/...", name);
		nseg++;
		if (!slash)
			break;
		p = slash + 1;
	}
	if (nseg < 7 || (nseg - 5) % 2 != 0)
		return fx_err_invalid(e, "name", "\"%.80s\" is not a document name", name);
	return 0;
}
