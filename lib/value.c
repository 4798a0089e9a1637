#include "value.h"

#include "json.h"
#include "mem.h"
#include "str.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- kept field names ---- */

/*
 * The names fx_value_keep_names was given, each once, NUL-terminated, in one
 * static block: a field holding one points into it, and only names outside
 * it are freed. Looked up by length, then bytes (a few names per length).
 */
#define KEPT_BYTES 2048
#define KEPT_MAX 128
#define KEPT_LEN_MAX 63

static char kept[KEPT_BYTES];
static size_t kept_used;
static size_t kept_count;
static uint16_t kept_at[KEPT_MAX]; /* offset in kept */
static uint8_t kept_next[KEPT_MAX]; /* index + 1 of the next name of the same length, 0 ends */
static uint8_t kept_head[KEPT_LEN_MAX + 1]; /* by length: index + 1 of the first name, 0 none */

static const char *kept_find(const char *name, size_t n)
{
	if (n > KEPT_LEN_MAX)
		return NULL;
	for (unsigned i = kept_head[n]; i; i = kept_next[i - 1])
		if (memcmp(kept + kept_at[i - 1], name, n) == 0)
			return kept + kept_at[i - 1];
	return NULL;
}

static bool kept_holds(const char *name)
{
	return (uintptr_t)name - (uintptr_t)kept < sizeof(kept);
}

size_t fx_value_keep_names(const char *const *names)
{
	size_t added = 0;

	for (const char *const *p = names; p && *p; p++) {
		size_t n = strlen(*p);

		if (n == 0 || n > KEPT_LEN_MAX || kept_find(*p, n))
			continue;
		if (kept_count == KEPT_MAX ||
		    fx_str_mem_copy(kept + kept_used, sizeof(kept) - kept_used, *p, n + 1) < 0)
			break;
		kept_at[kept_count] = (uint16_t)kept_used;
		kept_next[kept_count] = kept_head[n];
		kept_head[n] = (uint8_t)(kept_count + 1);
		kept_count++;
		kept_used += n + 1;
		added++;
	}
	return added;
}

static char *name_copy(const char *name, size_t n)
{
	/* A kept name holds no NUL: n bytes that do never match one. */
	const char *k = kept_find(name, n);

	/* Cast: kept names are never written through a field; cleanup does not free them. */
	return k ? (char *)(uintptr_t)k : fx_mem_xstrndup(name, n);
}

static void name_free(char *name)
{
	if (!kept_holds(name))
		free(name);
}

/* ---- lifetime and constructors ---- */

void fx_value_cleanup(struct fx_value *v)
{
	if (!v)
		return;
	switch (v->type) {
	case FX_V_STRING:
	case FX_V_BYTES:
	case FX_V_REF:
		if (!v->lent)
			free(v->u.s.p);
		break;
	case FX_V_ARRAY:
		for (size_t i = 0; i < v->u.arr.n; i++)
			fx_value_cleanup(&v->u.arr.items[i]);
		free(v->u.arr.items);
		break;
	case FX_V_MAP:
		for (size_t i = 0; i < v->u.map.n; i++) {
			name_free(v->u.map.fields[i].name);
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
	struct fx_value *v = fx_mem_xmalloc(sizeof(*v));

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
	v->u.s.p = fx_mem_xmemdup(p, n);
	v->u.s.n = n;
}

void fx_value_string(struct fx_value *v, const char *s, size_t n)
{
	set_bytes(v, FX_V_STRING, s, n);
}

void fx_value_string_lent(struct fx_value *v, char *p, size_t n)
{
	fx_value_null(v);
	v->type = FX_V_STRING;
	v->lent = true;
	v->u.s.p = p;
	v->u.s.n = n;
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

/* ---- arrays and fields ---- */

struct fx_value *fx_value_push(struct fx_value *arr)
{
	struct fx_value *slot;

	if (arr->u.arr.n == arr->u.arr.cap) {
		arr->u.arr.cap = arr->u.arr.cap ? arr->u.arr.cap * 2 : 4;
		arr->u.arr.items = fx_mem_xrealloc(arr->u.arr.items, arr->u.arr.cap * sizeof(*arr->u.arr.items));
	}
	slot = &arr->u.arr.items[arr->u.arr.n++];
	fx_value_null(slot);
	return slot;
}

struct fx_value *fx_value_add_field(struct fx_value *map, const char *name, size_t name_len)
{
	struct fx_field *f;

	if (map->u.map.n == map->u.map.cap) {
		map->u.map.cap = map->u.map.cap ? map->u.map.cap * 2 : 4;
		map->u.map.fields = fx_mem_xrealloc(map->u.map.fields, map->u.map.cap * sizeof(*map->u.map.fields));
	}
	f = &map->u.map.fields[map->u.map.n++];
	f->name = name_copy(name, name_len);
	fx_value_null(&f->value);
	return &f->value;
}

const struct fx_value *fx_value_field(const struct fx_value *map, const char *name, size_t n)
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

/* ---- reading by dotted path ---- */

const struct fx_value *fx_value_path(const struct fx_value *map, const char *dotted)
{
	const struct fx_value *v = map;
	const char *p = dotted;

	for (;;) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);

		v = fx_value_field(v, p, n);
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

/* ---- copying and comparing ---- */

void fx_value_copy(struct fx_value *dst, const struct fx_value *src)
{
	switch (src->type) {
	case FX_V_STRING:
	case FX_V_BYTES:
	case FX_V_REF: set_bytes(dst, src->type, src->u.s.p, src->u.s.n); break;
	case FX_V_ARRAY:
		fx_value_array(dst);
		for (size_t i = 0; i < src->u.arr.n; i++)
			fx_value_copy(fx_value_push(dst), &src->u.arr.items[i]);
		break;
	case FX_V_MAP:
		fx_value_map(dst);
		for (size_t i = 0; i < src->u.map.n; i++) {
			const struct fx_field *f = &src->u.map.fields[i];

			fx_value_copy(fx_value_add_field(dst, f->name, strlen(f->name)), &f->value);
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

/* ---- checking text, and where a walk is ---- */

bool fx_value_utf8_ok(const char *p, size_t n)
{
	while (n) {
		const char *nul = memchr(p, '\0', n);
		size_t seg = nul ? (size_t)(nul - p) : n;

		if (!fx_json_utf8_valid(p, seg))
			return false;
		if (!nul)
			break;
		p += seg + 1;
		n -= seg + 1;
	}
	return true;
}

size_t fx_value_where_name(struct fx_value_where *w, const char *name)
{
	size_t old = w->len;

	if (fx_str_add(w->path, sizeof(w->path), &w->len, "%s%s", w->len ? "." : "", name) < 0)
		w->cut = true;
	return old;
}

size_t fx_value_where_index(struct fx_value_where *w, size_t i)
{
	size_t old = w->len;

	if (fx_str_add(w->path, sizeof(w->path), &w->len, "[%zu]", i) < 0)
		w->cut = true;
	return old;
}

void fx_value_where_pop(struct fx_value_where *w, size_t len)
{
	w->len = len;
	w->path[len] = '\0';
}

const char *fx_value_where_text(const struct fx_value_where *w)
{
	return w->len ? w->path : "(top)";
}

struct fx_value *fx_value_insert(struct fx_value *arr, size_t at)
{
	struct fx_value *items;
	size_t n;

	if (!arr || arr->type != FX_V_ARRAY || at > arr->u.arr.n)
		return NULL;
	n = arr->u.arr.n;
	fx_value_push(arr); /* grows the array; its new last slot is moved over below */
	items = arr->u.arr.items;
	/* Cannot fail: n - at items fit from at + 1 in an array of n + 1. */
	if (fx_str_mem_move(&items[at + 1], (arr->u.arr.cap - at - 1) * sizeof(*items), &items[at],
			    (n - at) * sizeof(*items)) < 0)
		return NULL;
	fx_value_null(&items[at]);
	return &items[at];
}

int fx_value_remove_field(struct fx_value *map, size_t at)
{
	struct fx_field *fields;

	if (!map || map->type != FX_V_MAP || at >= map->u.map.n)
		return -1;
	fields = map->u.map.fields;
	name_free(fields[at].name);
	fx_value_cleanup(&fields[at].value);
	if (fx_str_mem_move(&fields[at], (map->u.map.cap - at) * sizeof(*fields), &fields[at + 1],
			    (map->u.map.n - at - 1) * sizeof(*fields)) < 0)
		return -1;
	map->u.map.n--;
	return 0;
}

int fx_value_remove(struct fx_value *arr, size_t at)
{
	struct fx_value *items;

	if (!arr || arr->type != FX_V_ARRAY || at >= arr->u.arr.n)
		return -1;
	items = arr->u.arr.items;
	fx_value_cleanup(&items[at]);
	if (fx_str_mem_move(&items[at], (arr->u.arr.cap - at) * sizeof(*items), &items[at + 1],
			    (arr->u.arr.n - at - 1) * sizeof(*items)) < 0)
		return -1;
	arr->u.arr.n--;
	return 0;
}
