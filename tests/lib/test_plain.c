/* lib/plain: values as the API's plain JSON. */
#include "json.h"
#include "map.h"
#include "plain.h"

#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <math.h>
#include <string.h>

static struct fx_err err;

Test(plain, plain_json_maps_to_types)
{
	json_object *j = json_tokener_parse("{\"i\":12,\"d\":2.5,\"whole\":2.0,\"s\":\"x\",\"b\":false,\"n\":null,"
					    "\"a\":[1,{\"k\":\"v\"}],\"m\":{}}");
	struct fx_value v;

	fx_err_clear(&err);
	cr_assert_eq(fx_plain_decode(j, NULL, &v, &err), 0, "%s", err.message);
	cr_assert_eq(fx_map_get(&v, "i")->type, FX_V_INT);
	cr_assert_eq(fx_map_get(&v, "d")->type, FX_V_DOUBLE);
	cr_assert_eq(fx_map_get(&v, "whole")->type, FX_V_DOUBLE, "a JSON double stays a double");
	cr_assert_eq(fx_map_get(&v, "s")->type, FX_V_STRING);
	cr_assert_eq(fx_map_get(&v, "b")->type, FX_V_BOOL);
	cr_assert_eq(fx_map_get(&v, "n")->type, FX_V_NULL);
	cr_assert_eq(fx_map_get(&v, "a")->u.arr.items[1].type, FX_V_MAP);
	cr_assert_eq(fx_map_get(&v, "m")->type, FX_V_MAP);
	fx_value_cleanup(&v);
	json_object_put(j);
}

Test(plain, plain_json_refuses_overflow_nested_arrays_and_depth)
{
	static const char *const bad[] = {"{\"i\":9223372036854775808}", "[[1]]", "{\"a\":[1,[2]]}"};
	struct fx_value v;
	json_object *deep = json_tokener_parse("{}"), *j;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = json_tokener_parse(bad[i]);
		fx_err_clear(&err);
		cr_assert_eq(fx_plain_decode(j, NULL, &v, &err), -1, "%s", bad[i]);
		cr_assert_eq(fx_err_http(err.kind), 400);
		json_object_put(j);
	}
	for (int i = 0; i < 20; i++) {
		j = json_object_new_object();
		json_object_object_add(j, "d", deep);
		deep = j;
	}
	cr_assert_eq(fx_plain_decode(deep, NULL, &v, &err), -1, "21 nested objects");
	cr_assert(strstr(err.message, "nesting deeper than 20"), "%s", err.message);
	json_object_put(deep);
}

/* A refusal names the path from the API's own field name: a contract name, never "(top)". */
Test(plain, from_plain_names_refusals_below_the_fields_api_name)
{
	static const struct {
		const char *json, *field, *named;
	} cases[] = {
		{"9223372036854775808", "preferences.pageSize", "preferences.pageSize"},
		{"{\"a\":[1,[2]]}", "attributes", "attributes.a[1]"},
		{"{\"i\":-9223372036854775809}", NULL, "i"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_object *j = json_tokener_parse(cases[i].json);
		struct fx_value v;

		fx_err_clear(&err);
		cr_assert_eq(fx_plain_decode(j, cases[i].field, &v, &err), -1, "%s", cases[i].json);
		cr_assert_eq(err.ndetails, 1, "%s", cases[i].json);
		cr_assert_str_eq(err.details[0].field, cases[i].named, "%s", cases[i].json);
		json_object_put(j);
	}
}

Test(plain, to_plain_formats_for_the_api)
{
	struct fx_value m;
	json_object *j;

	fx_value_map(&m);
	fx_map_set_ts(&m, "at", INT64_C(1795500000), 0);
	fx_map_set_int(&m, "price", 1999);
	fx_value_bytes(fx_map_set(&m, "b"), "a", 1);
	fx_value_ref(fx_map_set(&m, "r"), "projects/p/databases/d/documents/c/x");
	fx_value_geo(fx_map_set(&m, "g"), 1, 2);
	fx_value_double(fx_map_set(&m, "nan"), NAN);
	fx_value_double(fx_map_set(&m, "inf"), -INFINITY);
	fx_value_null(fx_map_set(&m, "none"));
	j = fx_plain_encode(&m);
	cr_assert_str_eq(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
			 "{\"at\":\"2026-11-24T06:00:00.000Z\",\"price\":1999,\"b\":\"YQ==\","
			 "\"r\":\"projects/p/databases/d/documents/c/x\",\"g\":{\"latitude\":1.0,\"longitude\":2.0},"
			 "\"nan\":\"NaN\",\"inf\":\"-Infinity\",\"none\":null}");
	json_object_put(j);
	fx_value_cleanup(&m);
}

/* fx_plain_write must give json-c's text of fx_plain_encode, byte for byte. */
static void assert_written_as_jsonc(const struct fx_value *v, const char *what)
{
	json_object *j = fx_plain_encode(v);
	size_t len;
	const char *want = fx_json_text(j, &len);
	struct fx_buf b;

	fx_buf_init(&b, 1 << 20);
	cr_assert_eq(fx_plain_write(&b, v), 0, "%s", what);
	cr_assert_eq(b.len, len, "%s: %zu bytes written, json-c %zu: %s vs %s", what, b.len, len, b.data, want);
	cr_assert_eq(memcmp(b.data, want, len), 0, "%s: %s vs %s", what, b.data, want);
	fx_buf_cleanup(&b);
	json_object_put(j);
}

Test(plain, written_text_equals_json_c_for_every_byte_escape_and_utf8)
{
	char all[256];
	static const char utf8[] = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 / \\ \" \x7f";
	struct fx_value v;

	for (size_t i = 0; i < sizeof(all); i++)
		all[i] = (char)(i + 1 == sizeof(all) ? 0 : i + 1);
	fx_value_string(&v, all, 127); /* 0x01..0x7f: every control byte, quote, backslash, slash, DEL */
	assert_written_as_jsonc(&v, "ascii bytes");
	fx_value_cleanup(&v);
	fx_value_string(&v, "a\0b", 3);
	assert_written_as_jsonc(&v, "embedded NUL");
	fx_value_cleanup(&v);
	fx_value_string(&v, utf8, strlen(utf8));
	assert_written_as_jsonc(&v, "utf-8");
	fx_value_cleanup(&v);
	fx_value_string(&v, "", 0);
	assert_written_as_jsonc(&v, "empty string");
	fx_value_cleanup(&v);
	fx_value_ref(&v, "projects/p/databases/(default)/documents/a/b\"c");
	assert_written_as_jsonc(&v, "reference");
	fx_value_cleanup(&v);
}

Test(plain, written_text_equals_json_c_for_numbers_timestamps_and_rare_kinds)
{
	static const int64_t ints[] = {0, 1, -1, 9, 10, 1234567890123LL, INT64_MAX, INT64_MIN, INT64_MIN + 1};
	static const struct {
		int64_t secs;
		int32_t nanos;
	} ts[] = {{0, 0},
		  {1764633600, 123456789},
		  {1764633600, 999999999},
		  {-1, 1},
		  {-62135596800LL, 0},
		  {253402300799LL, 999000000},
		  {1764633600, 1000000}};
	static const double dbl[] = {0.0, -0.0, 40.0, 2.5, 0.1, 1e300, -1e-300, 1e15, 123456789.125};
	struct fx_value v;
	char what[64];

	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		fx_value_int(&v, ints[i]);
		snprintf(what, sizeof(what), "int %" PRId64, ints[i]);
		assert_written_as_jsonc(&v, what);
	}
	for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
		fx_value_ts(&v, ts[i].secs, ts[i].nanos);
		snprintf(what, sizeof(what), "timestamp %" PRId64 ".%09d", ts[i].secs, (int)ts[i].nanos);
		assert_written_as_jsonc(&v, what);
	}
	for (size_t i = 0; i < sizeof(dbl) / sizeof(dbl[0]); i++) {
		fx_value_double(&v, dbl[i]);
		assert_written_as_jsonc(&v, "double");
	}
	fx_value_double(&v, NAN);
	assert_written_as_jsonc(&v, "NaN");
	fx_value_double(&v, -INFINITY);
	assert_written_as_jsonc(&v, "-Infinity");
	fx_value_geo(&v, -33.9249, 18.4241);
	assert_written_as_jsonc(&v, "geo");
	fx_value_cleanup(&v);
	fx_value_bytes(&v, "\x00\xff/+?", 5);
	assert_written_as_jsonc(&v, "bytes");
	fx_value_cleanup(&v);
	fx_value_null(&v);
	assert_written_as_jsonc(&v, "null");
	fx_value_bool(&v, true);
	assert_written_as_jsonc(&v, "true");
	fx_value_bool(&v, false);
	assert_written_as_jsonc(&v, "false");
}

Test(plain, written_text_equals_json_c_for_nested_maps_arrays_and_nulls)
{
	struct fx_value v, *a, *m;

	fx_value_map(&v);
	assert_written_as_jsonc(&v, "empty map");
	fx_map_set_str(&v, "name", "Widget \"XL\"");
	fx_map_set_int(&v, "priceCents", 1999);
	fx_value_null(fx_map_set(&v, "barcode"));
	fx_map_set_ts(&v, "createdAt", 1764633600, 5000000);
	a = fx_map_set(&v, "tags");
	fx_value_array(a);
	fx_value_string(fx_value_push(a), "x\ty", 3);
	fx_value_null(fx_value_push(a));
	fx_value_int(fx_value_push(a), -7);
	m = fx_map_set(&v, "stock\n\"key\"");
	fx_value_map(m);
	fx_map_set_int(m, "onHand", 3);
	fx_value_map(fx_map_set(m, "empty"));
	fx_value_array(fx_map_set(&v, "none"));
	assert_written_as_jsonc(&v, "nested");
	fx_value_cleanup(&v);
}
