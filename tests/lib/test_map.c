/* lib/map: setting and getting map fields by name. */
#include "map.h"

#include <criterion/criterion.h>

Test(map, map_set_replaces_and_keeps_order_and_paths_find_values)
{
	struct fx_value m, *stock, copy;
	int64_t n = 0;

	fx_value_map(&m);
	fx_map_set_str(&m, "sku", "A-1");
	stock = fx_map_set(&m, "stock");
	fx_value_map(stock);
	fx_map_set_int(stock, "onHand", 7);
	fx_map_set_bool(&m, "active", true);
	fx_map_set_ts(&m, "at", 42, 5);
	fx_map_set_str(&m, "sku", "B-2");
	cr_assert_eq(m.u.map.n, 4, "setting an existing key replaces it");
	cr_assert_str_eq(m.u.map.fields[0].name, "sku");
	cr_assert_str_eq(fx_value_path_str(&m, "sku"), "B-2");
	cr_assert(fx_value_path_int(&m, "stock.onHand", &n));
	cr_assert_eq(n, 7);
	cr_assert_not(fx_value_path_int(&m, "sku", &n), "a string is not an int");
	cr_assert_null(fx_value_path(&m, "stock.missing"));
	cr_assert_null(fx_value_path(&m, "sku.x"), "no path through a string");
	cr_assert_null(fx_value_path_str(&m, "stock"));
	cr_assert_eq(fx_map_get(&m, "active")->u.b, true);
	cr_assert_null(fx_map_get(stock, "sku"));

	fx_value_copy(&copy, &m);
	cr_assert(fx_value_equal(&copy, &m));
	fx_map_set_int((struct fx_value *)fx_value_path(&copy, "stock"), "onHand", 8);
	cr_assert_not(fx_value_equal(&copy, &m), "the copy is deep");
	fx_value_cleanup(&copy);
	fx_value_cleanup(&m);
	cr_assert_eq(m.type, FX_V_NULL);
	fx_value_cleanup(NULL);
	fx_value_free(NULL);
}

Test(map, a_replaced_field_keeps_its_place_and_frees_what_it_held)
{
	struct fx_value m, *arr;

	fx_value_map(&m);
	arr = fx_map_set(&m, "a");
	fx_value_array(arr);
	fx_value_string(fx_value_push(arr), "x", 1);
	fx_map_set_int(&m, "b", 2);
	fx_map_set_str(&m, "a", "now a string");
	cr_assert_eq(m.u.map.n, 2);
	cr_assert_str_eq(m.u.map.fields[0].name, "a");
	cr_assert_str_eq(fx_map_get(&m, "a")->u.s.p, "now a string");
	cr_assert_null(fx_map_get(&m, "a."), "names are compared whole");
	cr_assert_null(fx_map_get(&m, ""), "the empty name is no field here");
	fx_value_cleanup(&m);
}
