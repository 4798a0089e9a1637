#include "fsquery.h"

#include <criterion/criterion.h>
#include <string.h>

/* The structured query a where of the string s on field makes, as JSON text (caller frees). */
static char *built(bool as_str, const char *field, const char *op, const char *s)
{
	struct fx_query *q = fx_fsquery_new("orders", false);
	struct fx_value v = {0};
	struct fx_err err;
	json_object *o;
	char *text;

	fx_err_clear(&err);
	fx_value_string(&v, s, strlen(s));
	cr_assert_eq(as_str ? fx_fsquery_where_str(q, field, op, s, &err) : fx_fsquery_where(q, field, op, &v, &err), 0,
		     "%s", err.message);
	o = fx_fsquery_build(q, &err);
	cr_assert_not_null(o, "%s", err.message);
	text = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	fx_value_cleanup(&v);
	fx_fsquery_free(q);
	return text;
}

Test(where_str, filters_as_where_with_a_string_value)
{
	char *a = built(true, "status", "==", "pending"), *b = built(false, "status", "==", "pending");

	cr_assert_str_eq(a, b);
	cr_assert_not_null(strstr(a, "\"stringValue\":\"pending\""), "%s", a);
	free(a);
	free(b);
	a = built(true, "searchPrefixes", "array-contains", "caf\xc3\xa9");
	b = built(false, "searchPrefixes", "array-contains", "caf\xc3\xa9");
	cr_assert_str_eq(a, b);
	free(a);
	free(b);
}

Test(where_str, refuses_what_where_refuses)
{
	struct fx_query *q = fx_fsquery_new("orders", false);
	struct fx_err err;

	fx_err_clear(&err);
	cr_assert_eq(fx_fsquery_where_str(q, "status", "~=", "pending", &err), -1);
	cr_assert_eq(fx_err_http(err.kind), 400);
	fx_fsquery_free(q);
}
