/*
 * fx_value: a typed Firestore value tree (google.firestore.v1.Value in
 * memory): its types, its lifetime, building, reading, copying, comparing.
 * Ownership: a value owns everything below it (allocated with fx_x*, so
 * building never fails), but for the bytes of a string lent to it
 * (fx_value_string_lent: an arena's); fx_value_cleanup releases a caller-owned value,
 * fx_value_free a heap one, both accept NULL; pointers into a tree stay
 * valid until that part of the tree changes.
 *
 * Its neighbours: map.h sets and gets map fields by name, fsvalue.h is the
 * Firestore REST JSON codec (and the check of Firestore's rules), plain.h
 * the API's plain JSON, ts.h timestamps, fieldpath.h field paths,
 * docname.h document names.
 */
#ifndef FX_VALUE_H
#define FX_VALUE_H

#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Firestore limits (document.proto, PROTOCOLS.md 4.1). */
#define FX_VALUE_MAX_DEPTH 20 /* nested maps/arrays below a value */
#define FX_VALUE_MAX_BYTES (1048576 - 89) /* string and bytes values */
#define FX_VALUE_FIELD_NAME_MAX 1500 /* bytes of one field name */

enum fx_vtype {
	FX_V_NULL,
	FX_V_BOOL,
	FX_V_INT,
	FX_V_DOUBLE,
	FX_V_TIMESTAMP,
	FX_V_STRING,
	FX_V_BYTES,
	FX_V_REF,
	FX_V_GEO,
	FX_V_ARRAY,
	FX_V_MAP
};

struct fx_field;

struct fx_value {
	enum fx_vtype type;
	bool lent; /* STRING: u.s.p is lent (fx_value_string_lent), not the value's to free */
	union {
		bool b;
		int64_t i;
		double d;
		struct {
			int64_t secs;
			int32_t nanos;
		} ts; /* UTC, nanos in [0, 1e9) */
		struct {
			char *p;
			size_t n;
		} s; /* STRING, BYTES, REF (full resource name); p is always NUL-terminated */
		struct {
			double lat, lng;
		} geo;
		struct {
			struct fx_value *items;
			size_t n, cap;
		} arr;
		struct {
			struct fx_field *fields;
			size_t n, cap;
		} map; /* insertion order kept */
	} u;
};

struct fx_field {
	char *name;
	struct fx_value value;
};

/*
 * Keeps each of the NULL-terminated names (1 to 63 bytes) once for the whole
 * process: a field added with one of them (fx_value_add_field, and so the
 * decoders and fx_value_copy) borrows the kept name instead of a copy of its
 * own, and cleanup frees only names it does not keep. For the field names a
 * worker reads in every request (its documents' fields). Call it before any
 * other thread uses values: it is not synchronised. Names past the room
 * (128 names, 2 KiB) are left out, and work as before. Returns how many
 * names were new.
 */
size_t fx_value_keep_names(const char *const *names);

/* Frees everything below v and leaves it FX_V_NULL. Accepts NULL. */
void fx_value_cleanup(struct fx_value *v);

/* A heap value holding FX_V_NULL; never NULL. */
struct fx_value *fx_value_new(void);

/* Cleans up and frees a value from fx_value_new. Accepts NULL. */
void fx_value_free(struct fx_value *v);

/*
 * Constructors: each overwrites *v without freeing what it held (clean it up
 * first if it owned anything). Strings and bytes are copied.
 */
void fx_value_null(struct fx_value *v);
void fx_value_bool(struct fx_value *v, bool b);
void fx_value_int(struct fx_value *v, int64_t i);
void fx_value_double(struct fx_value *v, double d);
void fx_value_string(struct fx_value *v, const char *s, size_t n);
/*
 * A string whose n bytes at p (NUL-terminated at n) are lent, not copied:
 * they must outlive v and every move of it (an arena freed after the
 * values, as a request's). Cleanup leaves them; fx_value_copy copies them.
 */
void fx_value_string_lent(struct fx_value *v, char *p, size_t n);
void fx_value_ts(struct fx_value *v, int64_t secs, int32_t nanos);
void fx_value_bytes(struct fx_value *v, const void *p, size_t n);
/* name is a full document resource name (projects/../documents/..). */
void fx_value_ref(struct fx_value *v, const char *name);
void fx_value_geo(struct fx_value *v, double lat, double lng);
void fx_value_map(struct fx_value *v);
void fx_value_array(struct fx_value *v);

/* Appends a FX_V_NULL item to an FX_V_ARRAY and returns it to fill. */
struct fx_value *fx_value_push(struct fx_value *arr);

/*
 * Inserts an FX_V_NULL item at index at (0 ≤ at ≤ n) of the FX_V_ARRAY arr,
 * moving the items from at on one place up, and returns it to fill (valid
 * until the array changes again). NULL, arr unchanged, when arr is not an
 * array or at is beyond its end.
 */
FX_MUST_USE struct fx_value *fx_value_insert(struct fx_value *arr, size_t at);

/*
 * Cleans up the item at index at of the FX_V_ARRAY arr and moves the later
 * items one place down. -1, arr unchanged, when arr is not an array or has
 * no item at; 0 otherwise.
 */
FX_MUST_USE int fx_value_remove(struct fx_value *arr, size_t at);

/*
 * Cleans up the field at index at of the FX_V_MAP map and moves the later
 * fields one place down. -1, map unchanged, when map is not a map or has
 * no field at; 0 otherwise.
 */
FX_MUST_USE int fx_value_remove_field(struct fx_value *map, size_t at);

/*
 * Appends a field named by the name_len bytes of name to an FX_V_MAP,
 * without looking for one of that name (decoders, copies; fx_map_set
 * replaces instead), and returns its FX_V_NULL value to fill.
 */
struct fx_value *fx_value_add_field(struct fx_value *map, const char *name, size_t name_len);

/* The value of the field named by the n bytes of name, or NULL (also when map is NULL or not a map). */
const struct fx_value *fx_value_field(const struct fx_value *map, const char *name, size_t n);

/*
 * Looks up a dotted path through nested maps ("stock.onHand"; segments are
 * taken literally, no back-quoting: fx_fieldpath_get reads parsed paths).
 * NULL when any step is missing or is not a map.
 */
const struct fx_value *fx_value_path(const struct fx_value *map, const char *dotted);

/* The string at a dotted path (NUL-terminated, borrowed), or NULL if missing or not a string. */
const char *fx_value_path_str(const struct fx_value *map, const char *dotted);

/* Stores the integer at a dotted path in *out; false (and *out untouched) if missing or not FX_V_INT. */
bool fx_value_path_int(const struct fx_value *map, const char *dotted, int64_t *out);

/* Deep copy; *dst is overwritten without being freed. */
void fx_value_copy(struct fx_value *dst, const struct fx_value *src);

/*
 * Exact structural equality: same types and contents, map fields in the same
 * order; doubles compare NaN equal to NaN and tell -0.0 from 0.0.
 */
bool fx_value_equal(const struct fx_value *a, const struct fx_value *b);

/* Whether the n bytes at p are valid UTF-8, NUL bytes allowed (Firestore strings may hold them). */
bool fx_value_utf8_ok(const char *p, size_t n);

/*
 * Where a walk through a value (or the JSON it comes from) is, for error
 * messages: "stock.tags[1]". Start from {0}, the top. Bounded: a step that
 * does not fit is left out and sets cut.
 */
struct fx_value_where {
	char path[160];
	size_t len;
	bool cut; /* a step did not fit: the path ends early */
};

/* Appends ".name" ("name" at the top); returns the length fx_value_where_pop goes back to. */
size_t fx_value_where_name(struct fx_value_where *w, const char *name);

/* Appends "[i]"; returns the length fx_value_where_pop goes back to. */
size_t fx_value_where_index(struct fx_value_where *w, size_t i);

/* Goes back to len, a length fx_value_where_name or _index returned. */
void fx_value_where_pop(struct fx_value_where *w, size_t len);

/* The path so far, or "(top)" before the first step. */
const char *fx_value_where_text(const struct fx_value_where *w);

#endif
