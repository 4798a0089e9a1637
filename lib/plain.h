/*
 * fx_plain: a value as the API's plain JSON, both ways: request bodies
 * become values (JSON integer -> INT, JSON double -> DOUBLE, object -> MAP,
 * ...), documents become response bodies (integers as numbers, timestamps
 * as RFC 3339 text with milliseconds, bytes as base64). Ownership: a decode
 * fills a caller-owned value (clean it up after success; a failure leaves
 * nothing to free); an encode returns a new json_object reference the
 * caller puts; json_object arguments are borrowed.
 */
#ifndef FX_PLAIN_H
#define FX_PLAIN_H

#include "buf.h"
#include "err.h"
#include "value.h"

#include <json-c/json.h>

/*
 * Plain JSON to value (API input, conformance jsonData): JSON integer ->
 * INT, JSON double -> DOUBLE, string -> STRING, bool, null, array -> ARRAY,
 * object -> MAP. Refuses integers outside int64 and INT64_MIN itself (json-c
 * saturates smaller literals to it), arrays inside arrays, nesting past
 * FX_VALUE_MAX_DEPTH, strings past FX_VALUE_MAX_BYTES or not UTF-8, and
 * field names past FX_VALUE_FIELD_NAME_MAX, with a 400 INVALID_ARGUMENT
 * naming the path below field (the API's name of the value itself, as in
 * "preferences.theme"; NULL: paths start at the value).
 */
FX_MUST_USE int fx_plain_decode(json_object *plain, const char *field, struct fx_value *out, struct fx_err *e);

/*
 * Value to plain JSON (API output): INT a JSON integer, TIMESTAMP an RFC 3339
 * UTC string with exactly 3 fraction digits, BYTES standard base64 padded,
 * REF its name, GEO {"latitude", "longitude"}, doubles the shortest number
 * that reads back the same (".0" on whole numbers) or "NaN"/"Infinity"/
 * "-Infinity". Never fails; caller puts. FX_V_NULL gives NULL, which is
 * json-c's JSON null (json_object_object_add and _array_add take it as such).
 */
json_object *fx_plain_encode(const struct fx_value *v);

/*
 * Appends v to b as the text json-c writes for fx_plain_encode(v) (plain,
 * no slash escapes: fx_json_text), byte for byte, without building the
 * json-c tree. Returns 0, or -1 when b's cap would be exceeded (b may then
 * hold part of the value).
 */
FX_MUST_USE int fx_plain_write(struct fx_buf *b, const struct fx_value *v);

/*
 * Appends s[0..n) as json-c writes a string (quotes, \b \f \n \r \t \" \\,
 * other bytes below 0x20 as \u00xx, '/' and UTF-8 as they are); same
 * contract as fx_plain_write.
 */
FX_MUST_USE int fx_plain_write_string(struct fx_buf *b, const char *s, size_t n);

#endif
