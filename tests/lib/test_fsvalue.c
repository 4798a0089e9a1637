#include "fsvalue.h"

#include <criterion/criterion.h>
#include <string.h>

Test(fsvalue, integer_value_round_trips_as_a_string)
{
	struct fx_err e;
	struct fx_value v;
	json_object *in = json_tokener_parse("{\"integerValue\":\"-9223372036854775808\"}"), *out;

	fx_err_clear(&e);
	cr_assert_eq(fx_value_decode(in, &v, &e), 0, "%s", e.message);
	cr_assert_eq(v.type, FX_V_INT);
	cr_assert_eq(v.u.i, INT64_MIN);
	out = fx_value_encode(&v);
	cr_assert(json_object_equal(in, out), "%s", json_object_to_json_string(out));
	json_object_put(in);
	json_object_put(out);
}
