#include "fsarray.h"

#include <criterion/criterion.h>

static void ints(struct fx_value *arr, int n)
{
	fx_value_array(arr);
	for (int i = 0; i < n; i++)
		fx_value_int(fx_array_push(arr), i);
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
	v = fx_array_insert(&arr, 0);
	cr_assert_not_null(v);
	cr_assert_eq(v->type, FX_V_NULL, "the new slot is empty");
	fx_value_int(v, 10);
	fx_value_int(fx_array_insert(&arr, 2), 11);
	fx_value_int(fx_array_insert(&arr, 5), 12);
	assert_ints(&arr, (int64_t[]){10, 0, 11, 1, 2, 12}, 6);
	fx_value_cleanup(&arr);
}

Test(insert, grows_past_the_capacity_many_times)
{
	struct fx_value arr = {0};
	int64_t want[100];

	fx_value_array(&arr);
	for (int i = 0; i < 100; i++) {
		fx_value_int(fx_array_insert(&arr, 0), i);
		want[99 - i] = i;
	}
	assert_ints(&arr, want, 100);
	fx_value_cleanup(&arr);
}

Test(insert, beyond_the_end_or_into_a_non_array_is_refused)
{
	struct fx_value arr = {0}, map = {0};

	ints(&arr, 2);
	cr_assert_null(fx_array_insert(&arr, 3));
	assert_ints(&arr, (int64_t[]){0, 1}, 2);
	fx_value_map(&map);
	cr_assert_null(fx_array_insert(&map, 0));
	cr_assert_null(fx_array_insert(NULL, 0));
	fx_value_cleanup(&arr);
	fx_value_cleanup(&map);
}

Test(remove, at_the_front_middle_and_end_moves_the_rest_down)
{
	struct fx_value arr = {0};

	ints(&arr, 5);
	cr_assert_eq(fx_array_remove(&arr, 0), 0);
	assert_ints(&arr, (int64_t[]){1, 2, 3, 4}, 4);
	cr_assert_eq(fx_array_remove(&arr, 1), 0);
	assert_ints(&arr, (int64_t[]){1, 3, 4}, 3);
	cr_assert_eq(fx_array_remove(&arr, 2), 0);
	assert_ints(&arr, (int64_t[]){1, 3}, 2);
	cr_assert_eq(fx_array_remove(&arr, 1), 0);
	cr_assert_eq(fx_array_remove(&arr, 0), 0);
	cr_assert_eq(arr.u.arr.n, 0);
	fx_value_cleanup(&arr);
}

Test(remove, frees_the_removed_item)
{
	/* Under ASan/valgrind a leak of the removed map's string shows here. */
	struct fx_value arr = {0}, *m;

	fx_value_array(&arr);
	m = fx_array_push(&arr);
	fx_value_map(m);
	fx_map_set_str(m, "fileId", "abc");
	fx_value_string(fx_array_push(&arr), "kept", 4);
	cr_assert_eq(fx_array_remove(&arr, 0), 0);
	cr_assert_eq(arr.u.arr.n, 1);
	cr_assert_str_eq(arr.u.arr.items[0].u.s.p, "kept");
	fx_value_cleanup(&arr);
}

Test(remove, of_a_missing_item_or_from_a_non_array_is_refused)
{
	struct fx_value arr = {0}, map = {0};

	ints(&arr, 2);
	cr_assert_eq(fx_array_remove(&arr, 2), -1);
	assert_ints(&arr, (int64_t[]){0, 1}, 2);
	fx_value_cleanup(&arr);
	fx_value_array(&arr);
	cr_assert_eq(fx_array_remove(&arr, 0), -1, "empty");
	fx_value_map(&map);
	cr_assert_eq(fx_array_remove(&map, 0), -1);
	cr_assert_eq(fx_array_remove(NULL, 0), -1);
	fx_value_cleanup(&arr);
	fx_value_cleanup(&map);
}
