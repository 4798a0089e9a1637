/*
 * fx_json: strict JSON input for the API. Parsing refuses what json-c would
 * let through (duplicate keys, invalid UTF-8, trailing bytes, nesting past
 * the bound), and field helpers check objects against allowlists and decode
 * typed, bounded values. Returned json_object trees are owned by the caller
 * (json_object_put); strings returned by getters borrow from the tree.
 */
#ifndef FX_JSON_H
#define FX_JSON_H

#include "buf.h"
#include "err.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FX_JSON_MAX_DEPTH 32

/*
 * Parses exactly n bytes as one JSON value no deeper than max_depth.
 * Returns 0 and *out (caller puts), or -1 with a 400 naming the problem.
 */
FX_MUST_USE int fx_json_parse(const char *p, size_t n, int max_depth, json_object **out, struct fx_err *e);

/* Like fx_json_parse, and the value must be an object. */
FX_MUST_USE int fx_json_parse_object(const char *p, size_t n, json_object **out, struct fx_err *e);

/*
 * Refuses any key of obj not in the NULL-terminated allowed list, with a
 * 400 naming prefix+key. prefix may be "" or e.g. "address.".
 */
FX_MUST_USE int fx_json_allow(json_object *obj, const char *const *allowed, const char *prefix, struct fx_err *e);

/*
 * Typed getters. Each looks up key in obj. A missing key (or JSON null when
 * nullable) leaves *out alone and returns 0 with *present false, or a 400
 * when required. A key of the wrong type or out of bounds is a 400 naming
 * field (the path shown to the client). present may be NULL.
 */
FX_MUST_USE int fx_json_string(json_object *obj, const char *key, const char *field, bool required, size_t min_len,
			       size_t max_len, const char **out, bool *present, struct fx_err *e);
FX_MUST_USE int fx_json_int64(json_object *obj, const char *key, const char *field, bool required, int64_t min,
			      int64_t max, int64_t *out, bool *present, struct fx_err *e);
FX_MUST_USE int fx_json_bool(json_object *obj, const char *key, const char *field, bool required, bool *out,
			     bool *present, struct fx_err *e);
FX_MUST_USE int fx_json_object(json_object *obj, const char *key, const char *field, bool required, json_object **out,
			       bool *present, struct fx_err *e);
FX_MUST_USE int fx_json_array(json_object *obj, const char *key, const char *field, bool required, size_t max_items,
			      json_object **out, bool *present, struct fx_err *e);

/*
 * The integer v holds, read as proto3 JSON writes an int64 (Firestore,
 * Storage and the Identity Toolkit answer this way): a JSON integer, or a
 * decimal string in fx_num_parse's grammar of at most 20 bytes without NUL.
 * True and *out when it lies in [min, max]; false (*out untouched) for
 * NULL, any other type or text, and a JSON integer json-c saturated at
 * INT64_MAX. json-c also saturates below INT64_MIN, where only the string
 * form can tell.
 */
FX_MUST_USE bool fx_json_get_int64(json_object *v, int64_t min, int64_t max, int64_t *out);

/* Returns the index of s in the NULL-terminated list, or -1. */
FX_MUST_USE int fx_json_enum_index(const char *s, const char *const *values);

/* Serializes without escaping slashes; the string lives as long as obj. */
const char *fx_json_text(json_object *obj, size_t *len);

/* Appends obj's text (fx_json_text) to b and puts obj; 0, or -1 when b's cap is reached. */
FX_MUST_USE int fx_json_append(struct fx_buf *b, json_object *obj);

/* Checks that p holds n bytes of valid UTF-8 without NUL. */
bool fx_json_utf8_valid(const char *p, size_t n);

/* Number of Unicode code points in valid UTF-8. */
size_t fx_json_utf8_len(const char *p, size_t n);

#endif
