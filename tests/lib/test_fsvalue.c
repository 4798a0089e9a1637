/*
 * lib/fsvalue: the Firestore REST v1 typed-JSON codec of values, and the
 * check of Firestore's rules on values built in memory.
 *
 * The emulator_* tests decode responses captured in tests/data/firestore/
 * from Google's Cloud Firestore emulator 1.19.9 (Google Cloud SDK 528.0.0,
 * component build 20250620144631), project demo-fluxori; see the README
 * there for how each file was produced. They pin the emulator's own
 * normalisations (nanos truncated to micros, -0.0 losing its sign, a (0,0)
 * geo point sent as {}) and show that our bounds (nesting 20, strings
 * 1 MiB - 89, no array in array) are exactly the ones it enforces.
 */
#include "fsvalue.h"
#include "fswrite.h"
#include "map.h"
#include "ts.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct fx_err err;

static int decode_text(const char *text, struct fx_value *v)
{
	json_object *j = json_tokener_parse(text);
	int rc;

	cr_assert(j || strcmp(text, "null") == 0, "test JSON does not parse: %s", text);
	fx_err_clear(&err);
	rc = fx_fsvalue_decode(j, v, &err);
	json_object_put(j);
	return rc;
}

static void refuses(const char *text)
{
	struct fx_value v;

	cr_assert_eq(decode_text(text, &v), -1, "accepted %s", text);
	cr_assert_eq(fx_err_http(err.kind), 502, "%s", text);
	cr_assert_str_eq(fx_err_name(err.kind), "UNAVAILABLE", "a malformed answer is named as in every other module");
	cr_assert(strstr(err.message, "bad firestore value"), "%s", err.message);
	cr_assert_eq(v.type, FX_V_NULL, "a refused decode leaves nothing to free");
}

/* Decodes text, encodes it again and expects the same JSON back (or want when given). */
static void round_trips(const char *text, const char *want)
{
	struct fx_value v, again;
	json_object *expect = json_tokener_parse(want ? want : text), *out;

	cr_assert_eq(decode_text(text, &v), 0, "%s: %s", text, err.message);
	out = fx_fsvalue_encode(&v);
	cr_assert(json_object_equal(expect, out), "%s encodes as %s", text, json_object_to_json_string(out));
	fx_err_clear(&err);
	cr_assert_eq(fx_fsvalue_decode(out, &again, &err), 0, "%s", err.message);
	cr_assert(fx_value_equal(&v, &again), "%s does not decode back to the same value", text);
	fx_value_cleanup(&again);
	fx_value_cleanup(&v);
	json_object_put(expect);
	json_object_put(out);
}

static const char *encoded(const struct fx_value *v, char *buf, size_t n)
{
	json_object *j = fx_fsvalue_encode(v);

	snprintf(buf, n, "%s",
		 json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(j);
	return buf;
}

/* ---- scalars ---- */

Test(fsvalue, null_and_booleans_round_trip)
{
	struct fx_value v;

	round_trips("{\"nullValue\":null}", NULL);
	round_trips("{\"nullValue\":\"NULL_VALUE\"}", "{\"nullValue\":null}");
	round_trips("{\"booleanValue\":true}", NULL);
	round_trips("{\"booleanValue\":false}", NULL);
	cr_assert_eq(decode_text("{\"booleanValue\":true}", &v), 0);
	cr_assert(v.type == FX_V_BOOL && v.u.b);
}

Test(fsvalue, int64_limits_round_trip_as_strings_and_numbers)
{
	struct fx_value v;

	round_trips("{\"integerValue\":\"9223372036854775807\"}", NULL);
	round_trips("{\"integerValue\":\"-9223372036854775808\"}", NULL);
	round_trips("{\"integerValue\":\"0\"}", NULL);
	round_trips("{\"integerValue\":9223372036854775807}", "{\"integerValue\":\"9223372036854775807\"}");
	round_trips("{\"integerValue\":-9223372036854775808}", "{\"integerValue\":\"-9223372036854775808\"}");
	round_trips("{\"integerValue\":42}", "{\"integerValue\":\"42\"}");
	cr_assert_eq(decode_text("{\"integerValue\":\"-9223372036854775808\"}", &v), 0);
	cr_assert_eq(v.u.i, INT64_MIN);
	cr_assert_eq(decode_text("{\"integerValue\":9223372036854775807}", &v), 0);
	cr_assert_eq(v.u.i, INT64_MAX);
}

Test(fsvalue, int64_overflow_and_malformed_integers_are_refused)
{
	refuses("{\"integerValue\":\"9223372036854775808\"}");
	refuses("{\"integerValue\":\"-9223372036854775809\"}");
	refuses("{\"integerValue\":\"99999999999999999999999\"}");
	refuses("{\"integerValue\":9223372036854775808}");
	refuses("{\"integerValue\":18446744073709551616}");
	refuses("{\"integerValue\":\"+1\"}");
	refuses("{\"integerValue\":\" 1\"}");
	refuses("{\"integerValue\":\"1.0\"}");
	refuses("{\"integerValue\":\"0x10\"}");
	refuses("{\"integerValue\":\"\"}");
	refuses("{\"integerValue\":\"-\"}");
	refuses("{\"integerValue\":1.5}");
	refuses("{\"integerValue\":true}");
	refuses("{\"integerValue\":null}");
}

Test(fsvalue, doubles_round_trip_including_nan_infinities_and_extremes)
{
	struct fx_value v;
	char buf[128];

	round_trips("{\"doubleValue\":\"NaN\"}", NULL);
	round_trips("{\"doubleValue\":\"Infinity\"}", NULL);
	round_trips("{\"doubleValue\":\"-Infinity\"}", NULL);
	round_trips("{\"doubleValue\":1e308}", NULL);
	round_trips("{\"doubleValue\":-1.7976931348623157e308}", NULL);
	round_trips("{\"doubleValue\":5e-324}", NULL);
	round_trips("{\"doubleValue\":0.1}", NULL);
	round_trips("{\"doubleValue\":2}", "{\"doubleValue\":2.0}");

	cr_assert_eq(decode_text("{\"doubleValue\":\"NaN\"}", &v), 0);
	cr_assert(v.type == FX_V_DOUBLE && isnan(v.u.d));
	cr_assert_eq(decode_text("{\"doubleValue\":\"-Infinity\"}", &v), 0);
	cr_assert(isinf(v.u.d) && v.u.d < 0);
	cr_assert_eq(decode_text("{\"doubleValue\":5e-324}", &v), 0);
	cr_assert_eq(v.u.d, 5e-324);

	/* -0.0 keeps its sign through decode and encode. */
	cr_assert_eq(decode_text("{\"doubleValue\":-0.0}", &v), 0);
	cr_assert(v.u.d == 0 && signbit(v.u.d));
	cr_assert_str_eq(encoded(&v, buf, sizeof(buf)), "{\"doubleValue\":-0.0}");

	/* The shortest text that reads back, as Google's clients print. */
	fx_value_double(&v, 0.1);
	cr_assert_str_eq(encoded(&v, buf, sizeof(buf)), "{\"doubleValue\":0.1}");
	fx_value_double(&v, 1e308);
	cr_assert_str_eq(encoded(&v, buf, sizeof(buf)), "{\"doubleValue\":1e+308}");
	fx_value_double(&v, 5e-324);
	cr_assert_str_eq(encoded(&v, buf, sizeof(buf)), "{\"doubleValue\":5e-324}");
	fx_value_double(&v, NAN);
	cr_assert_str_eq(encoded(&v, buf, sizeof(buf)), "{\"doubleValue\":\"NaN\"}");
}

Test(fsvalue, malformed_doubles_are_refused)
{
	refuses("{\"doubleValue\":\"nan\"}");
	refuses("{\"doubleValue\":\"inf\"}");
	refuses("{\"doubleValue\":\"1.5\"}");
	refuses("{\"doubleValue\":1e309}");
	refuses("{\"doubleValue\":true}");
	refuses("{\"doubleValue\":null}");
	refuses("{\"doubleValue\":{}}");
}

Test(fsvalue, timestamps_keep_0_3_6_9_fraction_digits)
{
	struct fx_value v;

	round_trips("{\"timestampValue\":\"2026-11-24T06:00:00Z\"}", NULL);
	round_trips("{\"timestampValue\":\"2026-11-24T06:00:00.123Z\"}", NULL);
	round_trips("{\"timestampValue\":\"2026-11-24T06:00:00.123456Z\"}", NULL);
	round_trips("{\"timestampValue\":\"2026-11-24T06:00:00.123456789Z\"}", NULL);
	round_trips("{\"timestampValue\":\"2026-11-24T06:00:00.5Z\"}",
		    "{\"timestampValue\":\"2026-11-24T06:00:00.500Z\"}");
	round_trips("{\"timestampValue\":\"2026-11-24T06:00:00.1200Z\"}",
		    "{\"timestampValue\":\"2026-11-24T06:00:00.120Z\"}");
	round_trips("{\"timestampValue\":\"2026-11-24T06:00:00.000001Z\"}", NULL);
	cr_assert_eq(decode_text("{\"timestampValue\":\"1970-01-01T00:00:42.000000001Z\"}", &v), 0);
	cr_assert_eq(v.type, FX_V_TIMESTAMP);
	cr_assert_eq(v.u.ts.secs, 42);
	cr_assert_eq(v.u.ts.nanos, 1);
}

Test(fsvalue, timestamp_offsets_are_normalised_to_utc)
{
	round_trips("{\"timestampValue\":\"2026-11-24T08:30:00.5+02:30\"}",
		    "{\"timestampValue\":\"2026-11-24T06:00:00.500Z\"}");
	round_trips("{\"timestampValue\":\"2026-12-31T22:00:00-05:00\"}",
		    "{\"timestampValue\":\"2027-01-01T03:00:00Z\"}");
	round_trips("{\"timestampValue\":\"2024-03-01T00:59:59+01:00\"}",
		    "{\"timestampValue\":\"2024-02-29T23:59:59Z\"}");
	round_trips("{\"timestampValue\":\"2026-01-01T00:00:00+00:00\"}",
		    "{\"timestampValue\":\"2026-01-01T00:00:00Z\"}");
}

Test(fsvalue, timestamp_range_is_year_0001_to_9999_after_normalising)
{
	struct fx_value v;

	round_trips("{\"timestampValue\":\"0001-01-01T00:00:00Z\"}", NULL);
	round_trips("{\"timestampValue\":\"9999-12-31T23:59:59.999999999Z\"}", NULL);
	cr_assert_eq(decode_text("{\"timestampValue\":\"0001-01-01T00:00:00Z\"}", &v), 0);
	cr_assert_eq(v.u.ts.secs, INT64_C(-62135596800));
	refuses("{\"timestampValue\":\"0000-12-31T23:59:59Z\"}");
	refuses("{\"timestampValue\":\"0001-01-01T00:30:00+01:00\"}");
	refuses("{\"timestampValue\":\"9999-12-31T23:30:00-01:00\"}");
	refuses("{\"timestampValue\":\"10000-01-01T00:00:00Z\"}");
}

Test(fsvalue, malformed_timestamps_are_refused)
{
	static const char *const bad[] = {
		"2023-02-29T00:00:00Z",
		"2026-04-31T00:00:00Z",
		"2026-13-01T00:00:00Z",
		"2026-00-01T00:00:00Z",
		"2026-01-01T24:00:00Z",
		"2026-01-01T00:60:00Z",
		"2026-01-01T00:00:60Z",
		"2026-01-01t00:00:00Z",
		"2026-01-01T00:00:00z",
		"2026-01-01T00:00:00",
		"2026-01-01 00:00:00Z",
		"2026-01-01T00:00:00.Z",
		"2026-01-01T00:00:00.1234567890Z",
		"2026-01-01T00:00:00+0100",
		"2026-01-01T00:00:00+24:00",
		"2026-01-01T00:00:00Z ",
		"2026-1-01T00:00:00Z",
		"",
	};
	char text[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "{\"timestampValue\":\"%s\"}", bad[i]);
		refuses(text);
	}
	refuses("{\"timestampValue\":1700000000}");
}

/* ---- strings, bytes, references, geo points ---- */

Test(fsvalue, strings_round_trip_empty_unicode_and_escapes)
{
	struct fx_value v;

	round_trips("{\"stringValue\":\"\"}", NULL);
	round_trips("{\"stringValue\":\"h\\u00e9llo \\u4e16\\u754c \\ud83d\\ude00 \\\"q\\\" \\\\ /\"}", NULL);
	cr_assert_eq(decode_text("{\"stringValue\":\"\\ud83d\\ude00\"}", &v), 0);
	cr_assert_eq(v.u.s.n, 4);
	cr_assert_str_eq(v.u.s.p, "\xf0\x9f\x98\x80");
	fx_value_cleanup(&v);
}

static json_object *typed_string(const char *key, size_t n, char fill)
{
	char *s = malloc(n);
	json_object *o = json_object_new_object();

	memset(s, fill, n);
	json_object_object_add(o, key, json_object_new_string_len(s, (int)n));
	free(s);
	return o;
}

Test(fsvalue, strings_up_to_1_mib_minus_89_bytes_and_no_more)
{
	struct fx_value v;
	json_object *ok = typed_string("stringValue", FX_VALUE_MAX_BYTES, 'a');
	json_object *big = typed_string("stringValue", FX_VALUE_MAX_BYTES + 1, 'a');

	cr_assert_eq(FX_VALUE_MAX_BYTES, 1048487);
	fx_err_clear(&err);
	cr_assert_eq(fx_fsvalue_decode(ok, &v, &err), 0, "%s", err.message);
	cr_assert_eq(v.u.s.n, 1048487);
	fx_value_cleanup(&v);
	cr_assert_eq(fx_fsvalue_decode(big, &v, &err), -1);
	cr_assert(strstr(err.message, "too long"), "%s", err.message);
	json_object_put(ok);
	json_object_put(big);
}

Test(fsvalue, invalid_utf8_strings_are_refused)
{
	struct fx_value v;
	json_object *o = json_object_new_object();

	json_object_object_add(o, "stringValue", json_object_new_string_len("a\xc3\x28", 3));
	fx_err_clear(&err);
	cr_assert_eq(fx_fsvalue_decode(o, &v, &err), -1);
	cr_assert(strstr(err.message, "UTF-8"), "%s", err.message);
	json_object_put(o);
}

Test(fsvalue, bytes_accept_standard_and_url_safe_padded_or_not_and_encode_standard_padded)
{
	static const unsigned char want[] = {0, 1, 2, 3, 0xfe, 0xff};
	struct fx_value v;

	round_trips("{\"bytesValue\":\"AAECA/7/\"}", NULL);
	round_trips("{\"bytesValue\":\"AAECA_7_\"}", "{\"bytesValue\":\"AAECA/7/\"}");
	round_trips("{\"bytesValue\":\"YQ==\"}", NULL);
	round_trips("{\"bytesValue\":\"YQ\"}", "{\"bytesValue\":\"YQ==\"}");
	round_trips("{\"bytesValue\":\"YWI\"}", "{\"bytesValue\":\"YWI=\"}");
	round_trips("{\"bytesValue\":\"\"}", NULL);
	cr_assert_eq(decode_text("{\"bytesValue\":\"AAECA_7_\"}", &v), 0);
	cr_assert_eq(v.type, FX_V_BYTES);
	cr_assert_eq(v.u.s.n, sizeof(want));
	cr_assert_arr_eq(v.u.s.p, want, sizeof(want));
	fx_value_cleanup(&v);
}

Test(fsvalue, malformed_base64_is_refused)
{
	refuses("{\"bytesValue\":\"AA-/\"}"); /* mixed alphabets */
	refuses("{\"bytesValue\":\"Y===\"}");
	refuses("{\"bytesValue\":\"YQ=\"}");
	refuses("{\"bytesValue\":\"YR==\"}"); /* non-zero trailing bits */
	refuses("{\"bytesValue\":\"A\"}");
	refuses("{\"bytesValue\":\"YQ== \"}");
	refuses("{\"bytesValue\":\"Y Q==\"}");
	refuses("{\"bytesValue\":\"=\"}");
	refuses("{\"bytesValue\":5}");
}

Test(fsvalue, references_must_be_document_names)
{
	struct fx_value v;

	round_trips("{\"referenceValue\":\"projects/p/databases/(default)/documents/things/y\"}", NULL);
	round_trips("{\"referenceValue\":\"projects/p/databases/d/documents/a/b/c/d\"}", NULL);
	cr_assert_eq(decode_text("{\"referenceValue\":\"projects/p/databases/d/documents/a/b\"}", &v), 0);
	cr_assert_eq(v.type, FX_V_REF);
	cr_assert_str_eq(v.u.s.p, "projects/p/databases/d/documents/a/b");
	fx_value_cleanup(&v);
	refuses("{\"referenceValue\":\"things/y\"}");
	refuses("{\"referenceValue\":\"projects/p/databases/d/documents/a\"}");
	refuses("{\"referenceValue\":\"projects/p/databases/d/documents/a//b\"}");
	refuses("{\"referenceValue\":\"projects/p/databases/d/documents/a/..\"}");
	refuses("{\"referenceValue\":\"projects/p/dbs/d/documents/a/b\"}");
}

Test(fsvalue, geo_points_within_bounds)
{
	struct fx_value v;

	round_trips("{\"geoPointValue\":{\"latitude\":90.0,\"longitude\":-180.0}}", NULL);
	round_trips("{\"geoPointValue\":{\"latitude\":-90.0,\"longitude\":180.0}}", NULL);
	round_trips("{\"geoPointValue\":{\"latitude\":-33.9249,\"longitude\":18.4241}}", NULL);
	round_trips("{\"geoPointValue\":{}}", "{\"geoPointValue\":{\"latitude\":0.0,\"longitude\":0.0}}");
	cr_assert_eq(decode_text("{\"geoPointValue\":{\"latitude\":-33.9249,\"longitude\":18.4241}}", &v), 0);
	cr_assert(v.type == FX_V_GEO && v.u.geo.lat == -33.9249 && v.u.geo.lng == 18.4241);
	refuses("{\"geoPointValue\":{\"latitude\":90.0001,\"longitude\":0}}");
	refuses("{\"geoPointValue\":{\"latitude\":-90.5,\"longitude\":0}}");
	refuses("{\"geoPointValue\":{\"latitude\":0,\"longitude\":180.5}}");
	refuses("{\"geoPointValue\":{\"latitude\":0,\"longitude\":-181}}");
	refuses("{\"geoPointValue\":{\"latitude\":\"1\",\"longitude\":0}}");
	refuses("{\"geoPointValue\":{\"latitude\":0,\"longitude\":0,\"altitude\":1}}");
	refuses("{\"geoPointValue\":[0,0]}");
}

/* ---- arrays, maps, nesting ---- */

Test(fsvalue, nested_maps_and_arrays_round_trip_in_order)
{
	static const char text[] =
		"{\"mapValue\":{\"fields\":{\"z\":{\"integerValue\":\"1\"},\"a\":{\"arrayValue\":{\"values\":["
		"{\"stringValue\":\"two\"},{\"mapValue\":{\"fields\":{\"inner\":{\"arrayValue\":{\"values\":["
		"{\"booleanValue\":true}]}}}}},{\"nullValue\":null}]}},\"m\":{\"mapValue\":{}},"
		"\"e\":{\"arrayValue\":{}}}}}";
	struct fx_value v;

	round_trips(text, NULL);
	round_trips("{\"mapValue\":{\"fields\":{}}}", "{\"mapValue\":{}}");
	round_trips("{\"arrayValue\":{\"values\":[]}}", "{\"arrayValue\":{}}");
	cr_assert_eq(decode_text(text, &v), 0);
	cr_assert_eq(v.u.map.n, 4);
	cr_assert_str_eq(v.u.map.fields[0].name, "z", "insertion order is kept");
	cr_assert_str_eq(v.u.map.fields[1].name, "a");
	cr_assert_eq(v.u.map.fields[1].value.u.arr.n, 3);
	cr_assert_eq(v.u.map.fields[1].value.u.arr.items[1].type, FX_V_MAP);
	fx_value_cleanup(&v);
}

Test(fsvalue, arrays_directly_inside_arrays_are_refused)
{
	refuses("{\"arrayValue\":{\"values\":[{\"arrayValue\":{}}]}}");
	refuses("{\"arrayValue\":{\"values\":[{\"integerValue\":\"1\"},{\"arrayValue\":{\"values\":[]}}]}}");
	/* An array in a map in an array is fine. */
	round_trips("{\"arrayValue\":{\"values\":[{\"mapValue\":{\"fields\":{\"a\":{\"arrayValue\":{}}}}}]}}", NULL);
}

static json_object *nested_maps(int levels)
{
	json_object *v = json_tokener_parse("{\"stringValue\":\"bottom\"}");

	for (int i = 0; i < levels; i++) {
		json_object *fields = json_object_new_object(), *body = json_object_new_object(),
			    *m = json_object_new_object();

		json_object_object_add(fields, "d", v);
		json_object_object_add(body, "fields", fields);
		json_object_object_add(m, "mapValue", body);
		v = m;
	}
	return v;
}

Test(fsvalue, nesting_is_bounded_at_20_levels_like_the_emulator)
{
	struct fx_value v;
	json_object *ok = nested_maps(20), *deep = nested_maps(21);

	fx_err_clear(&err);
	cr_assert_eq(fx_fsvalue_decode(ok, &v, &err), 0, "%s", err.message);
	cr_assert_str_eq(fx_value_path_str(&v, "d.d.d.d.d.d.d.d.d.d.d.d.d.d.d.d.d.d.d.d"), "bottom");
	cr_assert_eq(fx_fsvalue_check(&v, &err), 0, "%s", err.message);
	fx_value_cleanup(&v);
	cr_assert_eq(fx_fsvalue_decode(deep, &v, &err), -1);
	cr_assert(strstr(err.message, "nesting deeper than 20"), "%s", err.message);
	json_object_put(ok);
	json_object_put(deep);
}

Test(fsvalue, malformed_typed_values_are_refused)
{
	refuses("{}");
	refuses("{\"fooValue\":1}");
	refuses("{\"stringValue\":\"a\",\"integerValue\":\"1\"}");
	refuses("{\"nullValue\":null,\"booleanValue\":true}");
	refuses("\"plain string\"");
	refuses("[{\"stringValue\":\"a\"}]");
	refuses("null");
	refuses("{\"booleanValue\":\"true\"}");
	refuses("{\"booleanValue\":1}");
	refuses("{\"stringValue\":5}");
	refuses("{\"stringValue\":null}");
	refuses("{\"nullValue\":0}");
	refuses("{\"nullValue\":\"null\"}");
	refuses("{\"timestampValue\":{\"seconds\":1}}");
	refuses("{\"referenceValue\":1}");
	refuses("{\"arrayValue\":[]}");
	refuses("{\"arrayValue\":{\"values\":{}}}");
	refuses("{\"arrayValue\":{\"items\":[]}}");
	refuses("{\"arrayValue\":{\"values\":[1]}}");
	refuses("{\"mapValue\":{\"fields\":[]}}");
	refuses("{\"mapValue\":{\"fields\":{\"a\":1}}}");
	refuses("{\"mapValue\":{\"fields\":{},\"extra\":1}}");
	refuses("{\"mapValue\":[]}");
}

Test(fsvalue, decode_errors_name_the_path)
{
	struct fx_value v;

	cr_assert_eq(
		decode_text("{\"mapValue\":{\"fields\":{\"stock\":{\"mapValue\":{\"fields\":{\"tags\":{\"arrayValue\":"
			    "{\"values\":[{\"stringValue\":\"a\"},{\"integerValue\":\"x\"}]}}}}}}}}",
			    &v),
		-1);
	cr_assert(strstr(err.message, "at stock.tags[1]"), "%s", err.message);
}

Test(fsvalue, fields_decode_and_encode_a_document_body)
{
	json_object *fields = json_tokener_parse("{\"b\":{\"integerValue\":\"2\"},\"a\":{\"stringValue\":\"x\"}}"),
		    *out;
	struct fx_value m;

	fx_err_clear(&err);
	cr_assert_eq(fx_fsvalue_decode_fields(fields, &m, &err), 0, "%s", err.message);
	cr_assert_eq(m.type, FX_V_MAP);
	cr_assert_eq(m.u.map.n, 2);
	out = fx_fsvalue_encode_fields(&m);
	cr_assert(json_object_equal(fields, out), "%s", json_object_to_json_string(out));
	fx_value_cleanup(&m);
	cr_assert_eq(fx_fsvalue_decode_fields(NULL, &m, &err), 0, "no fields is an empty document");
	cr_assert(m.type == FX_V_MAP && m.u.map.n == 0);
	json_object_put(fields);
	json_object_put(out);
	fields = json_tokener_parse("[]");
	cr_assert_eq(fx_fsvalue_decode_fields(fields, &m, &err), -1);
	json_object_put(fields);
}

/* ---- building values in memory ---- */

Test(fsvalue, constructors_encode_every_type)
{
	struct fx_value *m = fx_value_new(), *arr;
	char buf[1024];

	fx_value_map(m);
	fx_value_null(fx_map_set(m, "n"));
	fx_value_bytes(fx_map_set(m, "b"), "\x00\xff", 2);
	fx_value_ref(fx_map_set(m, "r"), "projects/p/databases/d/documents/c/x");
	fx_value_geo(fx_map_set(m, "g"), 1.5, -2.5);
	fx_value_string(fx_map_set(m, "s"), "a\0b", 3);
	arr = fx_map_set(m, "a");
	fx_value_array(arr);
	fx_value_int(fx_value_push(arr), -1);
	fx_value_ts(fx_value_push(arr), 0, 1000);
	cr_assert_str_eq(
		encoded(m, buf, sizeof(buf)),
		"{\"mapValue\":{\"fields\":{\"n\":{\"nullValue\":null},\"b\":{\"bytesValue\":\"AP8=\"},"
		"\"r\":{\"referenceValue\":\"projects/p/databases/d/documents/c/x\"},"
		"\"g\":{\"geoPointValue\":{\"latitude\":1.5,\"longitude\":-2.5}},"
		"\"s\":{\"stringValue\":\"a\\u0000b\"},\"a\":{\"arrayValue\":{\"values\":[{\"integerValue\":\"-1\"},"
		"{\"timestampValue\":\"1970-01-01T00:00:00.000001Z\"}]}}}}}");
	fx_value_free(m);
}

Test(fsvalue, check_refuses_what_firestore_would_refuse)
{
	struct fx_value v, *inner;

	fx_value_array(&v);
	inner = fx_value_push(&v);
	fx_value_array(inner);
	fx_err_clear(&err);
	cr_assert_eq(fx_fsvalue_check(&v, &err), -1);
	cr_assert_eq(fx_err_http(err.kind), 400);
	cr_assert(strstr(err.message, "array directly inside an array"), "%s", err.message);
	fx_value_cleanup(&v);
	fx_value_ts(&v, INT64_C(253402300800), 0);
	cr_assert_eq(fx_fsvalue_check(&v, &err), -1, "year 10000");
	fx_value_ts(&v, 0, 1000000000);
	cr_assert_eq(fx_fsvalue_check(&v, &err), -1, "nanos past a second");
	fx_value_geo(&v, NAN, 0);
	cr_assert_eq(fx_fsvalue_check(&v, &err), -1);
	fx_value_ref(&v, "not/a/document");
	cr_assert_eq(fx_fsvalue_check(&v, &err), -1);
	fx_value_cleanup(&v);
}

/* ---- responses captured from the emulator ---- */

/*
 * Reads a capture. json-c's default depth (32) is too shallow for Firestore:
 * each nested map costs 3 JSON levels ({"mapValue":{"fields":{"k":...}}}),
 * so a legal 20-level document needs about 65; parse with room for it.
 */
static json_object *load(const char *name)
{
	const char *top = getenv("top_srcdir");
	char path[1024];
	FILE *f;
	char *text;
	long n;
	json_tokener *tok = json_tokener_new_ex(128);
	json_object *j;

	snprintf(path, sizeof(path), "%s/tests/data/firestore/%s", top && *top ? top : ".", name);
	f = fopen(path, "rb");
	cr_assert(f, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	text = malloc((size_t)n + 1);
	cr_assert_eq(fread(text, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	j = json_tokener_parse_ex(tok, text, (int)n);
	cr_assert(j && json_tokener_get_error(tok) == json_tokener_success, "cannot parse %s", path);
	json_tokener_free(tok);
	free(text);
	return j;
}

static void decode_doc(json_object *doc, struct fx_value *fields)
{
	fx_err_clear(&err);
	cr_assert_eq(fx_fsvalue_decode_fields(json_object_object_get(doc, "fields"), fields, &err), 0, "%s",
		     err.message);
}

static void expect_ts(const struct fx_value *m, const char *path, const char *rfc3339)
{
	const struct fx_value *v = fx_value_path(m, path);
	int64_t secs;
	int32_t nanos;

	cr_assert(v && v->type == FX_V_TIMESTAMP, "%s is not a timestamp", path);
	cr_assert_eq(fx_ts_parse(rfc3339, &secs, &nanos), 0);
	cr_assert(v->u.ts.secs == secs && v->u.ts.nanos == nanos, "%s", path);
}

Test(fsvalue, emulator_document_with_every_type_decodes)
{
	json_object *resp = load("create_all_types.response.json");
	struct fx_value f;
	const struct fx_value *v;
	int64_t n;

	decode_doc(resp, &f);
	cr_assert_eq(fx_map_get(&f, "nul")->type, FX_V_NULL);
	cr_assert(fx_map_get(&f, "t")->u.b && !fx_map_get(&f, "f")->u.b);
	cr_assert(fx_value_path_int(&f, "imax", &n) && n == INT64_MAX);
	cr_assert(fx_value_path_int(&f, "imin", &n) && n == INT64_MIN);
	cr_assert(fx_value_path_int(&f, "inum", &n) && n == 42, "sent as a JSON number, stored as an integer");
	cr_assert_eq(fx_map_get(&f, "dpi")->u.d, 3.14159);
	cr_assert(isnan(fx_map_get(&f, "dnan")->u.d));
	cr_assert(isinf(fx_map_get(&f, "dinf")->u.d) && fx_map_get(&f, "dinf")->u.d > 0);
	cr_assert(isinf(fx_map_get(&f, "dninf")->u.d) && fx_map_get(&f, "dninf")->u.d < 0);
	cr_assert_eq(fx_map_get(&f, "dbig")->u.d, 1e308, "sent back as 1.0E308");
	cr_assert_eq(fx_map_get(&f, "dtiny")->u.d, 5e-324, "sent back as 4.9E-324");
	cr_assert_eq(fx_map_get(&f, "dint")->type, FX_V_DOUBLE);
	expect_ts(&f, "ts0", "2026-11-24T06:00:00Z");
	expect_ts(&f, "ts3", "2026-11-24T06:00:00.123Z");
	expect_ts(&f, "ts6", "2026-11-24T06:00:00.123456Z");
	expect_ts(&f, "tsoff", "2026-11-24T06:00:00.5Z");
	expect_ts(&f, "tsmin", "0001-01-01T00:00:00Z");
	expect_ts(&f, "tsmax", "9999-12-31T23:59:59.999999Z");
	cr_assert_str_eq(fx_value_path_str(&f, "sempty"), "");
	cr_assert_str_eq(fx_value_path_str(&f, "suni"),
			 "h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x98\x80 \"q\" \\ /");
	v = fx_map_get(&f, "bytes");
	cr_assert(v->type == FX_V_BYTES && v->u.s.n == 6 && memcmp(v->u.s.p, "\x00\x01\x02\x03\xfe\xff", 6) == 0);
	cr_assert_eq(fx_map_get(&f, "bempty")->u.s.n, 0);
	cr_assert_str_eq(fx_map_get(&f, "ref")->u.s.p, "projects/demo-fluxori/databases/(default)/documents/things/y");
	cr_assert(fx_map_get(&f, "geo")->u.geo.lat == 90 && fx_map_get(&f, "geo")->u.geo.lng == -180);
	v = fx_map_get(&f, "geo0");
	cr_assert(v->type == FX_V_GEO && v->u.geo.lat == 0 && v->u.geo.lng == 0, "(0,0) comes back as {}");
	cr_assert(fx_map_get(&f, "aempty")->type == FX_V_ARRAY && fx_map_get(&f, "aempty")->u.arr.n == 0);
	cr_assert(fx_map_get(&f, "mempty")->type == FX_V_MAP && fx_map_get(&f, "mempty")->u.map.n == 0);
	cr_assert_eq(fx_map_get(&f, "arr")->u.arr.n, 4);
	cr_assert(fx_value_path_int(&f, "map.stock.onHand", &n) && n == 7);
	cr_assert_str_eq(fx_value_path_str(&f, "map.stock.sku"), "A-1");
	cr_assert_str_eq(fx_map_get(&f, "weird key.with`dots")->u.s.p, "quoted");
	fx_value_cleanup(&f);
	json_object_put(resp);
}

Test(fsvalue, emulator_stores_what_we_send_except_its_documented_normalisations)
{
	json_object *req = load("create_all_types.request.json"), *resp = load("create_all_types.response.json");
	struct fx_value sent, got;
	size_t differences = 0;

	decode_doc(req, &sent);
	decode_doc(resp, &got);
	cr_assert_eq(sent.u.map.n, got.u.map.n);
	for (size_t i = 0; i < sent.u.map.n; i++) {
		const char *name = sent.u.map.fields[i].name;
		const struct fx_value *a = &sent.u.map.fields[i].value, *b = fx_map_get(&got, name);

		cr_assert(b, "%s missing from the response", name);
		if (fx_value_equal(a, b))
			continue;
		differences++;
		if (strcmp(name, "dnegz") == 0) {
			cr_assert(signbit(a->u.d) && !signbit(b->u.d) && b->u.d == 0, "the emulator drops -0.0's sign");
		} else if (strcmp(name, "ts9") == 0) {
			cr_assert_eq(a->u.ts.nanos, 123456789);
			cr_assert_eq(b->u.ts.nanos, 123456000, "the emulator keeps microseconds, rounding down");
		} else {
			cr_assert_fail("%s differs between request and response", name);
		}
	}
	cr_assert_eq(differences, 2);
	fx_value_cleanup(&sent);
	fx_value_cleanup(&got);
	json_object_put(req);
	json_object_put(resp);
}

Test(fsvalue, emulator_response_re_encodes_to_the_same_json_except_the_zero_geo_point)
{
	json_object *resp = load("create_all_types.response.json"), *fields, *out;
	struct fx_value f;

	decode_doc(resp, &f);
	out = fx_fsvalue_encode_fields(&f);
	fields = json_object_object_get(resp, "fields");
	json_object_object_foreach(fields, name, want)
	{
		if (strcmp(name, "geo0") == 0)
			continue; /* we send {"latitude":0.0,"longitude":0.0} where the emulator sends {} */
		cr_assert(json_object_equal(want, json_object_object_get(out, name)), "%s: %s vs %s", name,
			  json_object_to_json_string(want),
			  json_object_to_json_string(json_object_object_get(out, name)));
	}
	fx_value_cleanup(&f);
	json_object_put(out);
	json_object_put(resp);
}

Test(fsvalue, emulator_base64_variants_come_back_standard_padded)
{
	json_object *resp = load("create_b64_variants.response.json");
	struct fx_value f, url, nopad;

	decode_doc(resp, &f);
	cr_assert_str_eq(json_object_get_string(json_object_object_get(
				 json_object_object_get(json_object_object_get(resp, "fields"), "url"), "bytesValue")),
			 "AAECA/7/", "sent as AAECA_7_");
	cr_assert_eq(decode_text("{\"bytesValue\":\"AAECA_7_\"}", &url), 0);
	cr_assert_eq(decode_text("{\"bytesValue\":\"YQ\"}", &nopad), 0);
	cr_assert(fx_value_equal(fx_map_get(&f, "url"), &url));
	cr_assert(fx_value_equal(fx_map_get(&f, "nopad"), &nopad));
	fx_value_cleanup(&url);
	fx_value_cleanup(&nopad);
	fx_value_cleanup(&f);
	json_object_put(resp);
}

Test(fsvalue, emulator_bounds_match_ours)
{
	json_object *deep = load("get_depth20.response.json"), *e21 = load("create_depth21.error.json");
	json_object *e_long = load("create_string_too_long.error.json"),
		    *e_aa = load("create_array_in_array.error.json");
	struct fx_value f;

	/* 20 nested maps stored and read back; 21 refused by the emulator and by us. */
	decode_doc(deep, &f);
	cr_assert_str_eq(fx_value_path_str(&f, "deep.d.d.d.d.d.d.d.d.d.d.d.d.d.d.d.d.d.d.d.d"), "bottom");
	fx_value_cleanup(&f);
	cr_assert_str_eq(json_object_get_string(json_object_object_get(json_object_object_get(e21, "error"), "status")),
			 "INVALID_ARGUMENT");
	cr_assert(strstr(
		json_object_get_string(json_object_object_get(json_object_object_get(e_long, "error"), "message")),
		"longer than 1048487 bytes"));
	cr_assert(
		strstr(json_object_get_string(json_object_object_get(json_object_object_get(e_aa, "error"), "message")),
		       "array value in an array value"));
	json_object_put(deep);
	json_object_put(e21);
	json_object_put(e_long);
	json_object_put(e_aa);
}

/* The commit the emulator accepted was made by our builders: rebuilding it must give the same JSON. */
Test(fsvalue, emulator_accepted_commit_is_what_the_builders_make)
{
	json_object *req = load("commit_transforms.request.json"), *writes = json_object_new_array(), *body;
	struct fx_value m, *stock, items, minus3, upd;
	const char *ts[] = {"createdAt", "meta.updatedAt", NULL};
	const char *mask[] = {"status", "weight", NULL};
	struct fx_transform tr[3];
	const char *P = "projects/demo-fluxori/databases/(default)/documents";
	char o1[128], o2[128], counter[128], gone[128];

	snprintf(o1, sizeof(o1), "%s/orders/o1", P);
	snprintf(o2, sizeof(o2), "%s/orders/o2", P);
	snprintf(counter, sizeof(counter), "%s/counters/orders", P);
	snprintf(gone, sizeof(gone), "%s/orders/gone", P);
	fx_value_map(&m);
	fx_map_set_str(&m, "status", "new");
	fx_map_set_int(&m, "total", 4599);
	fx_value_double(fx_map_set(&m, "weight"), 1.25);
	stock = fx_map_set(&m, "stock");
	fx_value_map(stock);
	fx_map_set_int(stock, "onHand", 10);
	fx_value_array(&items);
	fx_value_string(fx_value_push(&items), "red", 3);
	fx_value_string(fx_value_push(&items), "blue", 4);
	fx_value_int(&minus3, -3);
	fx_value_map(&upd);
	fx_map_set_str(&upd, "status", "paid");
	tr[0] = (struct fx_transform){"tags", FX_TR_ARRAY_UNION, &items};
	tr[1] = (struct fx_transform){"stock.onHand", FX_TR_INCREMENT, &minus3};
	tr[2] = (struct fx_transform){"seenAt", FX_TR_SERVER_TIME, NULL};
	fx_err_clear(&err);
	cr_assert_eq(fx_fswrite_create(writes, o1, &m, ts, &err), 0, "%s", err.message);
	cr_assert_eq(fx_fswrite_doc(writes, FX_WRITE_UPDATE, o1, &upd, mask, NULL, tr, 3, &err), 0, "%s", err.message);
	cr_assert_eq(fx_fswrite_increment(writes, counter, "n", 1, &err), 0, "%s", err.message);
	cr_assert_eq(fx_fswrite_set(writes, o2, &m, NULL, &err), 0, "%s", err.message);
	cr_assert_eq(fx_fswrite_delete(writes, gone, -1, NULL, &err), 0, "%s", err.message);
	body = json_object_new_object();
	json_object_object_add(body, "writes", writes);
	cr_assert(json_object_equal(req, body), "%s", json_object_to_json_string(body));
	json_object_put(body);
	json_object_put(req);
	fx_value_cleanup(&m);
	fx_value_cleanup(&items);
	fx_value_cleanup(&upd);
}

Test(fsvalue, emulator_commit_results_and_document_after_it)
{
	json_object *resp = load("commit_transforms.response.json"), *doc = load("get_after_commit.response.json");
	json_object *results = json_object_object_get(resp, "writeResults"), *tr;
	struct fx_value v, f, created;
	int64_t n;

	cr_assert_eq(json_object_array_length(results), 5, "one result per write");
	tr = json_object_object_get(json_object_array_get_idx(results, 1), "transformResults");
	cr_assert_eq(json_object_array_length(tr), 3);
	fx_err_clear(&err);
	cr_assert_eq(fx_fsvalue_decode(json_object_array_get_idx(tr, 0), &v, &err), 0, "%s", err.message);
	cr_assert_eq(v.type, FX_V_NULL, "arrayUnion reports null");
	cr_assert_eq(fx_fsvalue_decode(json_object_array_get_idx(tr, 1), &v, &err), 0);
	cr_assert(v.type == FX_V_INT && v.u.i == 7, "increment reports the new value");
	cr_assert_eq(fx_fsvalue_decode(json_object_array_get_idx(tr, 2), &v, &err), 0);
	cr_assert_eq(v.type, FX_V_TIMESTAMP);
	cr_assert_eq(v.u.ts.nanos % 1000000, 0, "REQUEST_TIME has millisecond precision");

	decode_doc(doc, &f);
	cr_assert_null(fx_map_get(&f, "weight"), "a mask path without a value deletes the field");
	cr_assert_str_eq(fx_value_path_str(&f, "status"), "paid");
	cr_assert(fx_value_path_int(&f, "stock.onHand", &n) && n == 7);
	cr_assert_eq(fx_map_get(&f, "tags")->u.arr.n, 2);
	cr_assert_str_eq(fx_map_get(&f, "tags")->u.arr.items[1].u.s.p, "blue");
	fx_value_ts(&created, v.u.ts.secs, v.u.ts.nanos);
	cr_assert(fx_value_equal(fx_value_path(&f, "meta.updatedAt"), &created));
	cr_assert(fx_value_equal(fx_value_path(&f, "seenAt"), &created));
	fx_value_cleanup(&f);
	json_object_put(resp);
	json_object_put(doc);
}

Test(fsvalue, emulator_run_query_with_a_snapshot_cursor)
{
	json_object *req = load("runquery_docsnap_cursor.request.json"),
		    *resp = load("runquery_docsnap_cursor.response.json");
	const char *P = "projects/demo-fluxori/databases/(default)/documents";
	static const char *const want_names[] = {"b", "c", "x"};
	static const int64_t want_inum[] = {2, 3, 42};
	struct fx_query *q = fx_fsquery_new("things", false);
	struct fx_value zero, last;
	char a[128];
	json_object *sq;

	/* The request was built by fx_query: rebuild it. */
	snprintf(a, sizeof(a), "%s/things/a", P);
	fx_value_int(&zero, 0);
	fx_value_map(&last);
	fx_map_set_int(&last, "inum", 1);
	fx_err_clear(&err);
	cr_assert_eq(fx_fsquery_parent(q, P, &err), 0, "%s", err.message);
	cr_assert_eq(fx_fsquery_where(q, "inum", ">", &zero, &err), 0);
	cr_assert_eq(fx_fsquery_cursor_doc(q, FX_CURSOR_START_AFTER, a, &last, &err), 0, "%s", err.message);
	fx_fsquery_limit(q, 10);
	sq = fx_fsquery_build(q, &err);
	cr_assert(sq, "%s", err.message);
	cr_assert(json_object_equal(json_object_object_get(req, "structuredQuery"), sq), "%s",
		  json_object_to_json_string(sq));

	/* The emulator answered an array: b, c, x in inum order, a skipped by the cursor. */
	cr_assert(json_object_is_type(resp, json_type_array));
	cr_assert_eq(json_object_array_length(resp), 3);
	for (size_t i = 0; i < 3; i++) {
		json_object *doc = json_object_object_get(json_object_array_get_idx(resp, i), "document");
		const char *name = json_object_get_string(json_object_object_get(doc, "name"));
		struct fx_value f;
		int64_t n;

		cr_assert(doc);
		cr_assert_str_eq(strrchr(name, '/') + 1, want_names[i]);
		decode_doc(doc, &f);
		cr_assert(fx_value_path_int(&f, "inum", &n) && n == want_inum[i]);
		fx_value_cleanup(&f);
	}
	json_object_put(sq);
	fx_fsquery_free(q);
	fx_value_cleanup(&last);
	json_object_put(req);
	json_object_put(resp);
}

Test(fsvalue, emulator_empty_query_answers_one_element_without_document)
{
	json_object *resp = load("runquery_empty.response.json"), *only;

	cr_assert(json_object_is_type(resp, json_type_array));
	cr_assert_eq(json_object_array_length(resp), 1);
	only = json_object_array_get_idx(resp, 0);
	cr_assert_null(json_object_object_get(only, "document"));
	cr_assert(json_object_object_get(only, "readTime"));
	json_object_put(resp);
}

Test(fsvalue, emulator_batch_get_reports_found_and_missing)
{
	json_object *resp = load("batchget.response.json");
	size_t found = 0, missing = 0;

	cr_assert(json_object_is_type(resp, json_type_array));
	for (size_t i = 0; i < json_object_array_length(resp); i++) {
		json_object *el = json_object_array_get_idx(resp, i), *doc = json_object_object_get(el, "found");
		struct fx_value f;

		if (doc) {
			found++;
			decode_doc(doc, &f);
			cr_assert_gt(f.u.map.n, 0);
			fx_value_cleanup(&f);
		} else {
			cr_assert_str_eq(json_object_get_string(json_object_object_get(el, "missing")),
					 "projects/demo-fluxori/databases/(default)/documents/things/nope");
			missing++;
		}
	}
	cr_assert_eq(found, 2);
	cr_assert_eq(missing, 1);
	json_object_put(resp);
}
