/* lib/value: the value tree's lifetime, building, reading, copying and comparing. */
#include "value.h"

#include "map.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
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

Test(value, kept_names_are_shared_by_every_field_of_that_name_and_others_are_copies)
{
	static const char *const names[] = {"sku", "skuKey", "name", "stock", "onHand", "", NULL};
	char buf[16] = "sku";
	struct fx_value a, b, c;
	struct fx_value *v;

	cr_assert_eq(fx_value_keep_names(names), 5, "the empty name is not kept");
	cr_assert_eq(fx_value_keep_names(names), 0, "each name is kept once");
	fx_value_map(&a);
	fx_value_map(&b);
	fx_value_int(fx_value_add_field(&a, buf, 3), 1);
	fx_value_int(fx_value_add_field(&b, "sku", 3), 2);
	cr_assert_eq(a.u.map.fields[0].name, b.u.map.fields[0].name, "one kept copy of \"sku\"");
	cr_assert_neq(a.u.map.fields[0].name, buf);
	/* Prefixes, extensions and NUL inside the length are other names, copied. */
	fx_value_int(fx_value_add_field(&a, "skuKey", 2), 3);
	fx_value_int(fx_value_add_field(&a, "skuK", 4), 4);
	fx_value_int(fx_value_add_field(&a, "sku\0x", 5), 5);
	fx_value_int(fx_value_add_field(&a, "nam", 3), 6);
	fx_value_int(fx_value_add_field(&a, "Name", 4), 7);
	cr_assert_str_eq(a.u.map.fields[1].name, "sk");
	cr_assert_str_eq(a.u.map.fields[2].name, "skuK");
	cr_assert_str_eq(a.u.map.fields[3].name, "sku");
	cr_assert_str_eq(a.u.map.fields[4].name, "nam");
	cr_assert_str_eq(a.u.map.fields[5].name, "Name");
	for (size_t i = 1; i < 6; i++)
		cr_assert_neq(a.u.map.fields[i].name, b.u.map.fields[0].name);
	cr_assert_neq(a.u.map.fields[3].name, b.u.map.fields[0].name, "\"sku\\0x\" is not the kept \"sku\"");
	/* Nested maps, copies and map sets take the kept name too; every name reads as it was given. */
	v = fx_value_add_field(&a, "stock", 5);
	fx_value_map(v);
	fx_value_int(fx_value_add_field(v, "onHand", 6), 8);
	fx_value_copy(&c, &a);
	cr_assert(fx_value_equal(&a, &c));
	cr_assert_eq(c.u.map.fields[0].name, a.u.map.fields[0].name);
	cr_assert_eq(c.u.map.fields[6].value.u.map.fields[0].name, v->u.map.fields[0].name);
	cr_assert_neq(c.u.map.fields[2].name, a.u.map.fields[2].name, "a name not kept is copied");
	fx_map_set_int(&c, "name", 9);
	cr_assert_eq(fx_value_path(&c, "stock.onHand")->u.i, 8);
	cr_assert_eq(fx_value_field(&c, "name", 4)->u.i, 9);
	/* Removing a field frees only what it owns; cleanup frees the copies and leaves the kept names. */
	cr_assert_eq(fx_value_remove_field(&c, 0), 0);
	cr_assert_eq(fx_value_remove_field(&c, 1), 0);
	cr_assert_str_eq(c.u.map.fields[5].name, "name");
	cr_assert_eq(fx_value_remove_field(&c, 5), 0, "the last field, kept");
	cr_assert_eq(c.u.map.n, 5);
	cr_assert_str_eq(c.u.map.fields[0].name, "sk");
	cr_assert_str_eq(c.u.map.fields[4].name, "stock");
	cr_assert_eq(fx_value_remove_field(&c, 5), -1);
	cr_assert_eq(fx_value_remove_field(&b.u.map.fields[0].value, 0), -1, "not a map");
	fx_value_cleanup(&a);
	fx_value_cleanup(&b);
	fx_value_cleanup(&c);
	fx_value_map(&a);
	fx_value_int(fx_value_add_field(&a, "sku", 3), 1);
	cr_assert_str_eq(a.u.map.fields[0].name, "sku", "the kept names outlive every value");
	fx_value_cleanup(&a);
}

Test(value, names_past_the_kept_room_are_left_out_and_still_work)
{
	static char text[200][12];
	const char *names[202];
	struct fx_value m;
	size_t kept;

	for (int i = 0; i < 200; i++) {
		cr_assert_geq(snprintf(text[i], sizeof(text[i]), "field%03d", i), 0);
		names[i] = text[i];
	}
	names[200] = "x123456789012345678901234567890123456789012345678901234567890123"; /* 64 bytes: too long */
	names[201] = NULL;
	kept = fx_value_keep_names(names);
	cr_assert_eq(kept, 128, "room for 128 names");
	fx_value_map(&m);
	for (int i = 0; i < 200; i++)
		fx_value_int(fx_value_add_field(&m, text[i], strlen(text[i])), i);
	fx_value_int(fx_value_add_field(&m, names[200], strlen(names[200])), 200);
	for (int i = 0; i < 201; i++) {
		cr_assert_str_eq(m.u.map.fields[i].name, names[i]);
		cr_assert_neq(m.u.map.fields[i].name, names[i], "a copy or the kept one, never the caller's");
		cr_assert_eq(m.u.map.fields[i].value.u.i, i);
	}
	fx_value_cleanup(&m);
}

/*
 * A lent string (a list's strings, lent from its request's arena) reads,
 * compares and copies as any string, NULs inside included; copies own
 * their bytes and outlive the lender; cleanup, of it alone or of the map
 * holding it, never frees the lender's bytes (on the stack here: a free
 * would crash).
 */
Test(value, a_lent_string_reads_compares_and_copies_as_any_and_is_never_freed)
{
	char lender[16] = "lent\0bytes";
	struct fx_value v, owned, copy, map;

	fx_value_string_lent(&v, lender, 10);
	cr_assert_eq(v.type, FX_V_STRING);
	cr_assert(v.lent);
	cr_assert_eq(v.u.s.p, lender);
	cr_assert_eq(v.u.s.n, 10);
	fx_value_string(&owned, "lent\0bytes", 10);
	cr_assert(!owned.lent);
	cr_assert(fx_value_equal(&v, &owned));
	fx_value_copy(&copy, &v);
	cr_assert(!copy.lent);
	cr_assert_neq(copy.u.s.p, lender);
	memset(lender, 'z', 10);
	cr_assert(fx_value_equal(&copy, &owned), "the copy outlives what the lender held");
	cr_assert(!fx_value_equal(&v, &owned));

	fx_value_map(&map);
	fx_value_string_lent(fx_value_add_field(&map, "a", 1), lender, 10);
	fx_value_string_lent(fx_value_add_field(&map, "b", 1), lender + 8, 2);
	fx_value_string_lent(fx_map_set(&map, "a"), lender + 9, 1); /* replaced: the old one is not freed either */
	cr_assert_eq(fx_value_remove_field(&map, 1), 0);
	cr_assert_str_eq(fx_value_path_str(&map, "a"), "z");
	fx_value_cleanup(&map);
	fx_value_cleanup(&v);
	cr_assert_eq(v.type, FX_V_NULL);
	cr_assert(!v.lent);
	fx_value_string(&v, "again", 5); /* a lent value cleaned up owns what it is given next */
	cr_assert(!v.lent);
	fx_value_cleanup(&v);
	fx_value_cleanup(&copy);
	fx_value_cleanup(&owned);
}
