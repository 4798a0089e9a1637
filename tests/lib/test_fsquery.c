#include "fsquery.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
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

/*
 * fx_fsquery_write's text is what json-c writes of the same query as a
 * tree: parsed and written again by json-c (which keeps key order and a
 * parsed double's text) it comes back byte for byte, for strings that need
 * every kind of escape, every value kind, every clause and both cursor kinds.
 */
static void writes_as_json_c(struct fx_query *q)
{
	struct fx_buf b;
	struct fx_err err;
	json_object *tree;
	size_t n;
	const char *again;

	fx_err_clear(&err);
	fx_buf_init(&b, FX_FSQUERY_TEXT_MAX);
	cr_assert_eq(fx_buf_puts(&b, "pre"), 0);
	cr_assert_eq(fx_fsquery_write(q, &b, &err), 0, "%s", err.message);
	tree = json_tokener_parse(b.data + 3);
	cr_assert_not_null(tree, "not JSON: %s", b.data + 3);
	again = json_object_to_json_string_length(tree, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	cr_assert_eq(n, b.len - 3, "json-c: %s\nwritten: %s", again, b.data + 3);
	cr_assert_eq(memcmp(again, b.data + 3, n), 0, "json-c: %s\nwritten: %s", again, b.data + 3);
	json_object_put(tree);
	fx_buf_cleanup(&b);
	fx_fsquery_free(q);
}

Test(write, every_clause_and_value_kind_writes_as_json_c_wrote_the_tree)
{
	static const char *const select[] = {"sku", "name", "a.b", "`we ird`.x", "caf\xc3\xa9", "__name__"};
	struct fx_query *q;
	struct fx_value v[12], fields;
	struct fx_err err;
	char raw[40];

	fx_err_clear(&err);
	for (int i = 0; i < 32; i++)
		raw[i] = (char)(i + 1);
	memcpy(raw + 31, "\"\\/\x7f\xf0\x9f\x98\x80", 9);
	fx_value_string(&v[0], raw, 40);
	fx_value_string(&v[1], "nul\0in", 6);
	fx_value_int(&v[2], INT64_MIN);
	fx_value_double(&v[3], 0.1);
	fx_value_double(&v[4], NAN);
	fx_value_bool(&v[5], true);
	fx_value_null(&v[6]);
	fx_value_ts(&v[7], -1, 999999999);
	fx_value_geo(&v[8], -33.9, 18.4);
	fx_value_array(&v[9]);
	*fx_value_push(&v[9]) = v[2];
	fx_value_map(&v[10]);
	fx_value_string(fx_value_add_field(&v[10], "k\"ey", 4), "x", 1);
	fx_value_int(&v[11], 7);

	/* The list of products: select, one filter, two orders, a cursor after, a limit. */
	q = fx_fsquery_new("products", false);
	cr_assert_eq(fx_fsquery_parent(q, "projects/p/databases/(default)/documents/organizations/o1", &err), 0, "%s",
		     err.message);
	cr_assert_eq(fx_fsquery_select(q, select, 6, &err), 0, "%s", err.message);
	cr_assert_eq(fx_fsquery_where_str(q, "organizationId", "==", "o1", &err), 0);
	cr_assert_eq(fx_fsquery_order_by(q, "nameLower", false, &err), 0);
	cr_assert_eq(fx_fsquery_order_by(q, "__name__", false, &err), 0);
	{
		struct fx_value cur[2];

		fx_value_string(&cur[0], raw, 40);
		fx_value_string(&cur[1], "p1", 2);
		cr_assert_eq(fx_fsquery_start_after(q, cur, 2, &err), 0, "%s", err.message);
		fx_value_cleanup(&cur[0]);
		fx_value_cleanup(&cur[1]);
	}
	fx_fsquery_limit(q, 21);
	writes_as_json_c(q);

	/* Every value kind in filters (a composite), descending orders, both cursors, offset, all descendants. */
	q = fx_fsquery_new("c\"ol", true);
	for (int i = 0; i < 12; i++) {
		const char *op = i == 9 ? "array-contains-any" : i == 10 ? "==" : i == 2 || i == 3 ? "<" : "==";

		if (i == 4 || i == 6)
			op = "==";
		cr_assert_eq(fx_fsquery_where(q,
					      i == 9	? "tags"
					      : i == 10 ? "m"
							: "`we\"ird/x`.caf\xc3\xa9",
					      op, &v[i], &err),
			     0, "value %d: %s", i, err.message);
	}
	cr_assert_eq(fx_fsquery_order_by(q, "`we\"ird/x`.caf\xc3\xa9", true, &err), 0, "%s", err.message);
	cr_assert_eq(fx_fsquery_end_before(q, &v[0], 1, &err), 0, "%s", err.message);
	cr_assert_eq(fx_fsquery_start_at(q, &v[2], 1, &err), 0, "%s", err.message);
	fx_fsquery_offset(q, 3);
	writes_as_json_c(q);

	/* A cursor from a document snapshot (the implicit orders) and no select: an empty select too. */
	q = fx_fsquery_new("orders", false);
	fx_value_map(&fields);
	fx_value_int(fx_value_add_field(&fields, "n", 1), 5);
	cr_assert_eq(fx_fsquery_where(q, "n", ">", &v[11], &err), 0, "%s", err.message);
	cr_assert_eq(fx_fsquery_cursor_doc(q, FX_CURSOR_START_AFTER,
					   "projects/p/databases/(default)/documents/orders/x", &fields, &err),
		     0, "%s", err.message);
	writes_as_json_c(q);
	q = fx_fsquery_new("orders", false);
	cr_assert_eq(fx_fsquery_select(q, NULL, 0, &err), 0);
	writes_as_json_c(q);
	fx_value_cleanup(&fields);
	for (int i = 0; i < 12; i++)
		if (i != 2) /* moved into v[9] */
			fx_value_cleanup(&v[i]);
}

Test(write, a_refused_query_leaves_the_buffer_as_it_was)
{
	struct fx_query *q = fx_fsquery_new("orders", false);
	struct fx_value many[2];
	struct fx_buf b;
	struct fx_err err;

	fx_err_clear(&err);
	fx_value_int(&many[0], 1);
	fx_value_int(&many[1], 2);
	cr_assert_eq(fx_fsquery_order_by(q, "n", false, &err), 0);
	cr_assert_eq(fx_fsquery_start_at(q, many, 2, &err), 0);
	fx_buf_init(&b, 1 << 20);
	cr_assert_eq(fx_buf_puts(&b, "kept"), 0);
	cr_assert_eq(fx_fsquery_write(q, &b, &err), -1);
	cr_assert_eq(fx_err_http(err.kind), 400);
	cr_assert(strstr(err.message, "2 cursor values for 1 orderBy entries"), "%s", err.message);
	cr_assert_str_eq(b.data, "kept");
	fx_buf_cleanup(&b);
	fx_err_clear(&err);
	fx_buf_init(&b, 40);
	cr_assert_eq(fx_fsquery_write(q, &b, &err), -1, "over the buffer's cap");
	cr_assert_eq(fx_err_http(err.kind), 400);
	cr_assert(strstr(err.message, "query over 40 bytes"), "%s", err.message);
	cr_assert_eq(b.len, 0);
	fx_buf_cleanup(&b);
	fx_fsquery_free(q);
}

/* A Firestore string may hold NUL: the built tree has it ("\u0000" in the text read back by json-c). */
Test(write, a_string_value_holding_nul_is_built)
{
	struct fx_query *q = fx_fsquery_new("orders", false);
	struct fx_value v;
	struct fx_err err;
	json_object *sq, *s;

	fx_err_clear(&err);
	fx_value_string(&v, "a\0b", 3);
	cr_assert_eq(fx_fsquery_where(q, "k", "==", &v, &err), 0);
	sq = fx_fsquery_build(q, &err);
	cr_assert_not_null(sq, "%s", err.message);
	cr_assert(json_object_object_get_ex(sq, "where", &s) && json_object_object_get_ex(s, "fieldFilter", &s) &&
		  json_object_object_get_ex(s, "value", &s) && json_object_object_get_ex(s, "stringValue", &s));
	cr_assert_eq(json_object_get_string_len(s), 3);
	cr_assert_eq(memcmp(json_object_get_string(s), "a\0b", 3), 0);
	json_object_put(sq);
	fx_value_cleanup(&v);
	fx_fsquery_free(q);
}
