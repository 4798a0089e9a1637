/*
 * fx_fsvalue: the Firestore REST v1 typed JSON of a value (a
 * google.firestore.v1.Value, {"integerValue":"7"}), both ways, strict and
 * bounded, and the check of Firestore's rules on values built in memory.
 * Ownership: a decode fills a caller-owned value or FX_V_MAP (clean it up
 * after success; a failure leaves nothing to free); an encode returns a new
 * json_object reference the caller puts; json_object arguments are
 * borrowed. The value tree itself is value.h.
 */
#ifndef FX_FSVALUE_H
#define FX_FSVALUE_H

#include "err.h"
#include "value.h"

#include <json-c/json.h>

/*
 * Decodes one Firestore REST v1 Value (typed JSON) into *out (overwritten).
 * Strict and bounded: exactly one known key per Value; nullValue null (or
 * "NULL_VALUE"); integerValue a decimal string or JSON integer within int64
 * (fx_json_get_int64); doubleValue a JSON number or
 * "NaN"/"Infinity"/"-Infinity"; timestampValue RFC 3339 with offset, years
 * 0001..9999 after normalising to UTC (fx_ts_parse); string/bytes at most
 * FX_VALUE_MAX_BYTES, strings valid UTF-8; bytes standard or URL-safe
 * base64, padded or not, one alphabet, canonical trailing bits
 * (fx_b64_decode_any); geo points within latitude +-90 and longitude +-180;
 * references document names (fx_docname_check); arrays directly inside
 * arrays refused; nesting at most FX_VALUE_MAX_DEPTH; field names at most
 * FX_VALUE_FIELD_NAME_MAX bytes. Fails with 502 UNAVAILABLE "bad firestore
 * value: <what> at <path>".
 */
FX_MUST_USE int fx_fsvalue_decode(json_object *typed, struct fx_value *out, struct fx_err *e);

/*
 * Encodes v as Google's clients do: integerValue a string, timestampValue
 * RFC 3339 Z with minimal 0/3/6/9 fraction digits, doubleValue, bytesValue
 * and geoPointValue as fx_plain_encode writes them (shortest round-tripping
 * number or "NaN"/"Infinity"/"-Infinity"; standard base64 padded),
 * nullValue null, empty array {"arrayValue":{}}, empty map {"mapValue":{}}.
 * Never fails; new reference, caller puts.
 */
json_object *fx_fsvalue_encode(const struct fx_value *v);

/*
 * Decodes a Document's "fields" object ({name: Value}) into an FX_V_MAP in
 * *map_out (overwritten). NULL or JSON null gives an empty map. Same rules
 * and errors as fx_fsvalue_decode.
 */
FX_MUST_USE int fx_fsvalue_decode_fields(json_object *fields_obj_or_null, struct fx_value *map_out, struct fx_err *e);

/* {"name": Value, ...} for an FX_V_MAP ({} for anything else); caller puts. */
json_object *fx_fsvalue_encode_fields(const struct fx_value *map);

/*
 * Checks a value built in memory against the rules fx_fsvalue_decode
 * applies (nesting, arrays inside arrays, string/bytes sizes and UTF-8,
 * timestamp range and nanos, geo bounds, reference names, field name
 * lengths), so a builder never sends what Firestore refuses. 400
 * INVALID_ARGUMENT naming the path.
 */
FX_MUST_USE int fx_fsvalue_check(const struct fx_value *v, struct fx_err *e);

/* Like fx_fsvalue_check for each field of a document's FX_V_MAP (which must be a map). */
FX_MUST_USE int fx_fsvalue_check_fields(const struct fx_value *map, struct fx_err *e);

#endif
