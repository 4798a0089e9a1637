/* lib/plain: values as the API's plain JSON. */
#include "map.h"
#include "plain.h"

#include <criterion/criterion.h>
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
