/* lib/value: the value tree's lifetime, building, reading, copying and comparing. */
#include "value.h"

#include "map.h"

#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

Test(value, equality_tells_nan_and_negative_zero_apart_as_needed)
{
	struct fx_value a, b;

	fx_value_double(&a, NAN);
	fx_value_double(&b, NAN);
	cr_assert(fx_value_equal(&a, &b));
	fx_value_double(&a, 0.0);
	fx_value_double(&b, -0.0);
	cr_assert_not(fx_value_equal(&a, &b));
	fx_value_int(&b, 0);
	cr_assert_not(fx_value_equal(&a, &b), "0.0 and 0 are different types");
}

Test(value, push_and_add_field_grow_in_order_and_add_field_does_not_replace)
{
	struct fx_value v, m;

	fx_value_array(&v);
	for (int i = 0; i < 100; i++)
		fx_value_int(fx_value_push(&v), i);
	cr_assert_eq(v.u.arr.n, 100);
	cr_assert_eq(v.u.arr.items[99].u.i, 99);
	fx_value_cleanup(&v);
	cr_assert_eq(v.type, FX_V_NULL);

	fx_value_map(&m);
	fx_value_int(fx_value_add_field(&m, "kx", 1), 1);
	fx_value_int(fx_value_add_field(&m, "kxyz", 1), 2);
	cr_assert_eq(m.u.map.n, 2, "both appended");
	cr_assert_str_eq(m.u.map.fields[0].name, "k", "name_len bytes of the name");
	cr_assert_eq(fx_value_field(&m, "k", 1)->u.i, 1, "the first field of a name wins");
	cr_assert_null(fx_value_field(&m, "kx", 2));
	cr_assert_null(fx_value_field(NULL, "k", 1));
	cr_assert_null(fx_value_field(&m.u.map.fields[0].value, "k", 1), "an integer has no fields");
	fx_value_cleanup(&m);
}

Test(value, dotted_paths_read_through_nested_maps_only)
{
	struct fx_value m, *stock;
	int64_t n = 5;

	fx_value_map(&m);
	stock = fx_value_add_field(&m, "stock", 5);
	fx_value_map(stock);
	fx_value_int(fx_value_add_field(stock, "onHand", 6), 7);
	fx_value_string(fx_value_add_field(&m, "sku", 3), "A-1", 3);
	cr_assert(fx_value_path_int(&m, "stock.onHand", &n) && n == 7);
	cr_assert_str_eq(fx_value_path_str(&m, "sku"), "A-1");
	cr_assert_null(fx_value_path(&m, "stock.onHand.x"));
	cr_assert_null(fx_value_path(&m, "stock."));
	cr_assert_null(fx_value_path_str(&m, "stock"));
	n = 5;
	cr_assert_not(fx_value_path_int(&m, "sku", &n));
	cr_assert_eq(n, 5);
	fx_value_cleanup(&m);
}

Test(value, utf8_ok_lets_nul_through_and_nothing_else_invalid)
{
	cr_assert(fx_value_utf8_ok("a\0b", 3));
	cr_assert(fx_value_utf8_ok("\xf0\x9f\x98\x80\0", 5));
	cr_assert(fx_value_utf8_ok("", 0));
	cr_assert_not(fx_value_utf8_ok("a\xc3\x28", 3));
	cr_assert_not(fx_value_utf8_ok("a\0\xff", 3), "checked after a NUL too");
	cr_assert_not(fx_value_utf8_ok("\xc3", 1), "a character cut at the end");
}

Test(value, where_builds_the_path_of_a_walk_and_marks_what_did_not_fit)
{
	struct fx_value_where w = {0};
	char longname[300];
	size_t top, in;

	cr_assert_str_eq(fx_value_where_text(&w), "(top)");
	top = fx_value_where_name(&w, "stock");
	in = fx_value_where_name(&w, "tags");
	fx_value_where_index(&w, 12);
	cr_assert_str_eq(fx_value_where_text(&w), "stock.tags[12]");
	fx_value_where_pop(&w, in);
	cr_assert_str_eq(fx_value_where_text(&w), "stock");
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	fx_value_where_name(&w, longname);
	cr_assert(w.cut);
	cr_assert_str_eq(fx_value_where_text(&w), "stock", "a step that does not fit is left out");
	fx_value_where_pop(&w, top);
	cr_assert_str_eq(fx_value_where_text(&w), "(top)");
}

static void ints(struct fx_value *arr, int n)
{
	fx_value_array(arr);
	for (int i = 0; i < n; i++)
		fx_value_int(fx_value_push(arr), i);
}

static void assert_ints(const struct fx_value *arr, const int64_t *want, size_t n)
{
	cr_assert_eq(arr->u.arr.n, n);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(arr->u.arr.items[i].type, FX_V_INT, "item %zu", i);
		cr_assert_eq(arr->u.arr.items[i].u.i, want[i], "item %zu", i);
	}
}

Test(insert, at_the_front_middle_and_end_moves_the_rest_up)
{
	struct fx_value arr = {0}, *v;

	ints(&arr, 3);
	v = fx_value_insert(&arr, 0);
	cr_assert_not_null(v);
	cr_assert_eq(v->type, FX_V_NULL, "the new slot is empty");
	fx_value_int(v, 10);
	fx_value_int(fx_value_insert(&arr, 2), 11);
	fx_value_int(fx_value_insert(&arr, 5), 12);
	assert_ints(&arr, (int64_t[]){10, 0, 11, 1, 2, 12}, 6);
	fx_value_cleanup(&arr);
}

Test(insert, grows_past_the_capacity_many_times)
{
	struct fx_value arr = {0};
	int64_t want[100];

	fx_value_array(&arr);
	for (int i = 0; i < 100; i++) {
		fx_value_int(fx_value_insert(&arr, 0), i);
		want[99 - i] = i;
	}
	assert_ints(&arr, want, 100);
	fx_value_cleanup(&arr);
}

Test(insert, beyond_the_end_or_into_a_non_array_is_refused)
{
	struct fx_value arr = {0}, map = {0};

	ints(&arr, 2);
	cr_assert_null(fx_value_insert(&arr, 3));
	assert_ints(&arr, (int64_t[]){0, 1}, 2);
	fx_value_map(&map);
	cr_assert_null(fx_value_insert(&map, 0));
	cr_assert_null(fx_value_insert(NULL, 0));
	fx_value_cleanup(&arr);
	fx_value_cleanup(&map);
}

Test(remove, at_the_front_middle_and_end_moves_the_rest_down)
{
	struct fx_value arr = {0};

	ints(&arr, 5);
	cr_assert_eq(fx_value_remove(&arr, 0), 0);
	assert_ints(&arr, (int64_t[]){1, 2, 3, 4}, 4);
	cr_assert_eq(fx_value_remove(&arr, 1), 0);
	assert_ints(&arr, (int64_t[]){1, 3, 4}, 3);
	cr_assert_eq(fx_value_remove(&arr, 2), 0);
	assert_ints(&arr, (int64_t[]){1, 3}, 2);
	cr_assert_eq(fx_value_remove(&arr, 1), 0);
	cr_assert_eq(fx_value_remove(&arr, 0), 0);
	cr_assert_eq(arr.u.arr.n, 0);
	fx_value_cleanup(&arr);
}

Test(remove, frees_the_removed_item)
{
	/* Under ASan/valgrind a leak of the removed map's string shows here. */
	struct fx_value arr = {0}, *m;

	fx_value_array(&arr);
	m = fx_value_push(&arr);
	fx_value_map(m);
	fx_map_set_str(m, "fileId", "abc");
	fx_value_string(fx_value_push(&arr), "kept", 4);
	cr_assert_eq(fx_value_remove(&arr, 0), 0);
	cr_assert_eq(arr.u.arr.n, 1);
	cr_assert_str_eq(arr.u.arr.items[0].u.s.p, "kept");
	fx_value_cleanup(&arr);
}

Test(remove, of_a_missing_item_or_from_a_non_array_is_refused)
{
	struct fx_value arr = {0}, map = {0};

	ints(&arr, 2);
	cr_assert_eq(fx_value_remove(&arr, 2), -1);
	assert_ints(&arr, (int64_t[]){0, 1}, 2);
	fx_value_cleanup(&arr);
	fx_value_array(&arr);
	cr_assert_eq(fx_value_remove(&arr, 0), -1, "empty");
	fx_value_map(&map);
	cr_assert_eq(fx_value_remove(&map, 0), -1);
	cr_assert_eq(fx_value_remove(NULL, 0), -1);
	fx_value_cleanup(&arr);
	fx_value_cleanup(&map);
}
