/*
 * fx_value: a typed Firestore value tree, its strict codec for Firestore REST
 * v1 typed JSON, plain JSON conversion, timestamps and field paths.
 * Ownership: a value owns everything below it (allocated with fx_x*);
 * fx_value_cleanup releases a caller-owned value, fx_value_free a heap one,
 * both accept NULL; json_object results are new references the caller puts,
 * json_object arguments are borrowed.
 */
#ifndef FX_FSVALUE_H
#define FX_FSVALUE_H

#include "buf.h"
#include "err.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Firestore limits (document.proto, PROTOCOLS.md 4.1). */
#define FX_VALUE_MAX_DEPTH 20 /* nested maps/arrays below a value */
#define FX_VALUE_MAX_BYTES (1048576 - 89) /* string and bytes values */
#define FX_FIELD_NAME_MAX 1500 /* bytes of one field name */
#define FX_FIELDPATH_MAX_SEGMENTS 64
#define FX_DOC_NAME_MAX 6144

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
void fx_value_ts(struct fx_value *v, int64_t secs, int32_t nanos);
void fx_value_bytes(struct fx_value *v, const void *p, size_t n);
/* name is a full document resource name (projects/../documents/..). */
void fx_value_ref(struct fx_value *v, const char *name);
void fx_value_geo(struct fx_value *v, double lat, double lng);
void fx_value_map(struct fx_value *v);
void fx_value_array(struct fx_value *v);

/*
 * Map helpers (map must be FX_V_MAP). fx_map_set replaces an existing key
 * (its old value is cleaned up) or appends a new one, and returns the slot,
 * holding FX_V_NULL, for the caller to fill; the pointer stays valid until
 * the map changes again.
 */
struct fx_value *fx_map_set(struct fx_value *map, const char *name);
void fx_map_set_str(struct fx_value *map, const char *name, const char *s);
void fx_map_set_int(struct fx_value *map, const char *name, int64_t i);
void fx_map_set_bool(struct fx_value *map, const char *name, bool b);
void fx_map_set_ts(struct fx_value *map, const char *name, int64_t secs, int32_t nanos);

/* Appends a FX_V_NULL item to an FX_V_ARRAY and returns it to fill. */
struct fx_value *fx_array_push(struct fx_value *arr);

/* The value under name in a map, or NULL (also when map is not a map). */
const struct fx_value *fx_map_get(const struct fx_value *map, const char *name);

/*
 * Looks up a dotted path through nested maps ("stock.onHand"; segments are
 * taken literally, no back-quoting). NULL when any step is missing or is not
 * a map.
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

/*
 * Decodes one Firestore REST v1 Value (typed JSON) into *out (overwritten;
 * caller cleans up on success, nothing to free on failure). Strict and
 * bounded: exactly one known key per Value; nullValue null (or
 * "NULL_VALUE"); integerValue a decimal string or JSON integer within int64
 * (json-c saturates negative integer literals below INT64_MIN to INT64_MIN,
 * so only the string form catches that overflow); doubleValue a JSON number
 * or "NaN"/"Infinity"/"-Infinity"; timestampValue RFC 3339 with offset,
 * years 0001..9999 after normalising to UTC; string/bytes at most
 * FX_VALUE_MAX_BYTES, strings valid UTF-8; bytes standard or URL-safe
 * base64, padded or not, one alphabet, canonical trailing bits; geo points
 * within latitude +-90 and longitude +-180; arrays directly inside arrays
 * refused; nesting at most FX_VALUE_MAX_DEPTH; field names at most
 * FX_FIELD_NAME_MAX bytes. Fails with 502 INTERNAL "bad firestore value:
 * <what> at <path>".
 */
FX_MUST_USE int fx_value_decode(json_object *typed, struct fx_value *out, struct fx_err *e);

/*
 * Encodes v as Google's clients do: integerValue a string, doubleValue the
 * shortest round-tripping number or "NaN"/"Infinity"/"-Infinity",
 * timestampValue RFC 3339 Z with minimal 0/3/6/9 fraction digits, bytes
 * standard base64 padded, nullValue null, empty array {"arrayValue":{}},
 * empty map {"mapValue":{}}. Never fails; new reference, caller puts.
 */
json_object *fx_value_encode(const struct fx_value *v);

/*
 * Decodes a Document's "fields" object ({name: Value}) into an FX_V_MAP in
 * *map_out (overwritten). NULL or JSON null gives an empty map. Same rules
 * and errors as fx_value_decode.
 */
FX_MUST_USE int fx_fields_decode(json_object *fields_obj_or_null, struct fx_value *map_out, struct fx_err *e);

/* {"name": Value, ...} for an FX_V_MAP ({} for anything else); caller puts. */
json_object *fx_fields_encode(const struct fx_value *map);

/*
 * Checks a value built in memory against the rules fx_value_decode applies
 * (nesting, arrays inside arrays, string/bytes sizes and UTF-8, timestamp
 * range and nanos, geo bounds, reference names, field name lengths), so a
 * builder never sends what Firestore refuses. 400 INVALID_ARGUMENT naming
 * the path.
 */
FX_MUST_USE int fx_value_check(const struct fx_value *v, struct fx_err *e);

/* Like fx_value_check for each field of a document's FX_V_MAP (which must be a map). */
FX_MUST_USE int fx_fields_check(const struct fx_value *map, struct fx_err *e);

/*
 * Plain JSON to value (API input, conformance jsonData): JSON integer ->
 * INT, JSON double -> DOUBLE, string -> STRING, bool, null, array -> ARRAY,
 * object -> MAP. Refuses integers outside int64 and INT64_MIN itself (json-c
 * saturates smaller literals to it), arrays inside arrays,
 * nesting past FX_VALUE_MAX_DEPTH and strings past FX_VALUE_MAX_BYTES with
 * a 400 INVALID_ARGUMENT naming the path below field (the API's name of the
 * value itself, as in "preferences.theme"; NULL: paths start at the value).
 */
FX_MUST_USE int fx_value_from_plain(json_object *plain, const char *field, struct fx_value *out, struct fx_err *e);

/*
 * Value to plain JSON (API output): INT a JSON integer, TIMESTAMP an RFC 3339
 * UTC string with exactly 3 fraction digits, BYTES standard base64, REF its
 * name, GEO {"latitude", "longitude"}, non-finite doubles "NaN"/"Infinity"/
 * "-Infinity". Never fails; caller puts. FX_V_NULL gives NULL, which is
 * json-c's JSON null (json_object_object_add and _array_add take it as such).
 */
json_object *fx_value_to_plain(const struct fx_value *v);

/*
 * Parses an RFC 3339 timestamp ("2026-01-02T03:04:05.123456789+01:00", 'T'
 * and 'Z' upper case, 0..9 fraction digits, seconds 00..59) and normalises
 * it to UTC. Returns 0, or -1 (outputs untouched) when malformed or outside
 * 0001-01-01T00:00:00Z..9999-12-31T23:59:59.999999999Z.
 */
FX_MUST_USE int fx_ts_parse(const char *rfc3339, int64_t *secs, int32_t *nanos);

/*
 * Formats UTC "YYYY-MM-DDTHH:MM:SS[.f]Z" into out. digits 0, 3, 6 or 9 give
 * exactly that many fraction digits (truncated); -1 gives the fewest of
 * 0/3/6/9 that keep every non-zero digit (Firestore style).
 */
void fx_ts_format(int64_t secs, int32_t nanos, int digits, char out[40]);

/* The current UTC time. */
void fx_ts_now(int64_t *secs, int32_t *nanos);

/*
 * Appends the Firestore field path of n segments to out: segments matching
 * [A-Za-z_][A-Za-z0-9_]* as they are, others back-quoted with ` and \
 * escaped by \, joined by '.'. Returns -1 only when out's cap is reached.
 * An empty segment formats as `` and n == 0 as "": fx_fieldpath_parse
 * refuses both.
 */
FX_MUST_USE int fx_fieldpath_format(const char *const *segments, size_t n, struct fx_buf *out);

/* A parsed field path: n segments, owned by the struct. */
struct fx_fieldpath {
	char **segs;
	size_t n;
};

/*
 * Parses a dotted field path into segments: "a.b", with back-quoted segments
 * ("a.`x.y`.`b\`c`", escapes \` and \\ only). Refuses an empty path, empty
 * segments, unquoted segments holding any of ~*`/[] (as Google's clients
 * do), more than FX_FIELDPATH_MAX_SEGMENTS segments and segments longer than
 * FX_FIELD_NAME_MAX, with a 400 INVALID_ARGUMENT naming the path. On failure
 * *out is left empty.
 */
FX_MUST_USE int fx_fieldpath_parse(const char *dotted, struct fx_fieldpath *out, struct fx_err *e);

/* Frees the segments; accepts NULL and an empty path. */
void fx_fieldpath_cleanup(struct fx_fieldpath *fp);

/* Orders paths segment by segment, bytewise (as clients sort update masks). */
int fx_fieldpath_cmp(const struct fx_fieldpath *a, const struct fx_fieldpath *b);

/* True when a is a proper or equal prefix of b (segment-wise). */
bool fx_fieldpath_is_prefix(const struct fx_fieldpath *a, const struct fx_fieldpath *b);

/* The value at a parsed path through nested maps, or NULL. */
const struct fx_value *fx_value_at(const struct fx_value *map, const struct fx_fieldpath *fp);

/*
 * Checks a document resource name:
 * projects/{p}/databases/{d}/documents/{coll}/{id}[/{coll}/{id}...], no
 * empty segments, at most FX_DOC_NAME_MAX bytes. 400 INVALID_ARGUMENT.
 */
FX_MUST_USE int fx_doc_name_check(const char *name, struct fx_err *e);

#endif
