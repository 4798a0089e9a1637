#include "product.h"

#include "map.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

Test(sku, holds_letters_digits_dots_underscores_and_dashes)
{
	cr_assert(fx_product_sku_valid("TSHIRT-RED_L.2"));
	cr_assert(fx_product_sku_valid("a"));
	cr_assert_not(fx_product_sku_valid(""));
	cr_assert_not(fx_product_sku_valid(NULL));
	cr_assert_not(fx_product_sku_valid("RED L"), "no space");
	cr_assert_not(fx_product_sku_valid("a/b"));
	cr_assert_not(fx_product_sku_valid("caf\xc3\xa9"), "ASCII only");
}

Test(sku, is_at_most_64_bytes)
{
	char s[66];

	memset(s, 'A', 65);
	s[65] = '\0';
	cr_assert_not(fx_product_sku_valid(s));
	s[64] = '\0';
	cr_assert(fx_product_sku_valid(s));
}

Test(sku, key_is_s_and_the_lower_cased_sku)
{
	char key[80];

	cr_assert_eq(fx_product_sku_key("TShirt-RED_l.2", key, sizeof(key)), 0);
	cr_assert_str_eq(key, "s_tshirt-red_l.2");
}

Test(sku, keys_of_skus_differing_only_in_case_are_equal)
{
	char a[80], b[80];

	cr_assert_eq(fx_product_sku_key("abc-XYZ", a, sizeof(a)), 0);
	cr_assert_eq(fx_product_sku_key("ABC-xyz", b, sizeof(b)), 0);
	cr_assert_str_eq(a, b);
}

Test(sku, key_of_an_invalid_sku_or_into_a_short_buffer_fails)
{
	char key[80], small[5];

	cr_assert_eq(fx_product_sku_key("a b", key, sizeof(key)), -1);
	cr_assert_eq(fx_product_sku_key("", key, sizeof(key)), -1);
	cr_assert_eq(fx_product_sku_key("ABC", small, sizeof(small)), -1, "s_abc and its NUL need 6");
	cr_assert_eq(fx_product_sku_key("AB", small, sizeof(small)), 0);
	cr_assert_str_eq(small, "s_ab");
}

Test(sku, the_longest_key_fits_the_handler_s_buffer)
{
	char s[65], key[80];

	memset(s, 'Z', 64);
	s[64] = '\0';
	cr_assert_eq(fx_product_sku_key(s, key, sizeof(key)), 0);
	cr_assert_eq(strlen(key), 66);
	cr_assert_eq(key[65], 'z');
}

Test(stock, available_is_on_hand_minus_reserved)
{
	cr_assert_eq(fx_product_available(10, 3), 7);
	cr_assert_eq(fx_product_available(3, 3), 0);
	cr_assert_eq(fx_product_available(2, 5), -3, "over-reserved shows as negative");
	cr_assert_eq(fx_product_available(INT64_MAX, -1), INT64_MAX, "saturates, never wraps");
	cr_assert_eq(fx_product_available(INT64_MIN, 1), INT64_MIN);
}

Test(stock, is_low_at_or_below_the_reorder_point)
{
	cr_assert(fx_product_low_stock(10, 5, 5), "available 5, reorder point 5");
	cr_assert_not(fx_product_low_stock(10, 4, 5));
	cr_assert(fx_product_low_stock(0, 0, 0), "no stock and reorder point 0 is low");
	cr_assert(fx_product_low_stock(INT64_MIN, INT64_MAX, 0), "no overflow");
}

Test(adjust, keeps_on_hand_at_or_above_reserved)
{
	int64_t after = -1;

	cr_assert_eq(fx_product_adjust(10, 4, -6, &after), FX_PRODUCT_ADJUST_OK);
	cr_assert_eq(after, 4);
	after = -1;
	cr_assert_eq(fx_product_adjust(10, 4, -7, &after), FX_PRODUCT_ADJUST_BELOW_RESERVED);
	cr_assert_eq(after, -1, "untouched when refused");
	cr_assert_eq(fx_product_adjust(0, 0, -1, &after), FX_PRODUCT_ADJUST_BELOW_RESERVED);
}

Test(adjust, keeps_on_hand_at_most_the_stock_cap)
{
	int64_t after = -1;

	cr_assert_eq(fx_product_adjust(FX_PRODUCT_MAX_STOCK - 5, 0, 5, &after), FX_PRODUCT_ADJUST_OK);
	cr_assert_eq(after, FX_PRODUCT_MAX_STOCK);
	cr_assert_eq(fx_product_adjust(FX_PRODUCT_MAX_STOCK - 5, 0, 6, &after), FX_PRODUCT_ADJUST_ABOVE_MAX);
	cr_assert_eq(fx_product_adjust(INT64_MAX, 0, INT64_MAX, &after), FX_PRODUCT_ADJUST_ABOVE_MAX, "no overflow");
	cr_assert_eq(fx_product_adjust(INT64_MIN, 0, -1, &after), FX_PRODUCT_ADJUST_BELOW_RESERVED);
}

Test(adjust, reasons_are_the_six_of_the_contract)
{
	static const char *const want[] = {"received", "sold_offline", "damaged",
					   "lost",     "returned",     "count_correction"};
	size_t n = 0;

	for (; fx_product_adjust_reasons[n]; n++) {
		cr_assert_str_eq(fx_product_adjust_reasons[n], want[n]);
		cr_assert(fx_product_adjust_reason_valid(want[n]));
	}
	cr_assert_eq(n, 6);
	cr_assert_not(fx_product_adjust_reason_valid("order_shipped"), "order movements are not adjustments");
	cr_assert_not(fx_product_adjust_reason_valid("Received"));
	cr_assert_not(fx_product_adjust_reason_valid(""));
	cr_assert_not(fx_product_adjust_reason_valid(NULL));
}

static void image(struct fx_value *arr, const char *file_id, int64_t position)
{
	struct fx_value *item = fx_value_push(arr);

	fx_value_map(item);
	fx_map_set_str(item, "fileId", file_id);
	fx_map_set_int(item, "position", position);
}

Test(images, are_found_by_file_id)
{
	struct fx_value arr = {0}, map = {0};

	fx_value_array(&arr);
	cr_assert_eq(fx_product_image_find(&arr, "a"), -1);
	image(&arr, "a", 0);
	image(&arr, "b", 1);
	cr_assert_eq(fx_product_image_find(&arr, "a"), 0);
	cr_assert_eq(fx_product_image_find(&arr, "b"), 1);
	cr_assert_eq(fx_product_image_find(&arr, "c"), -1);
	cr_assert_eq(fx_product_image_find(&arr, NULL), -1);
	fx_value_map(&map);
	cr_assert_eq(fx_product_image_find(&map, "a"), -1, "not an array");
	cr_assert_eq(fx_product_image_find(NULL, "a"), -1);
	fx_value_cleanup(&arr);
	fx_value_cleanup(&map);
}

Test(images, go_before_the_first_higher_position_and_after_equal_ones)
{
	struct fx_value arr = {0};

	fx_value_array(&arr);
	cr_assert_eq(fx_product_image_slot(&arr, 5), 0, "an empty list");
	image(&arr, "a", 0);
	image(&arr, "b", 2);
	image(&arr, "c", 2);
	image(&arr, "d", 7);
	cr_assert_eq(fx_product_image_slot(&arr, 0), 1, "after the equal a");
	cr_assert_eq(fx_product_image_slot(&arr, 1), 1);
	cr_assert_eq(fx_product_image_slot(&arr, 2), 3, "after both 2s");
	cr_assert_eq(fx_product_image_slot(&arr, 6), 3);
	cr_assert_eq(fx_product_image_slot(&arr, 7), 4, "at the end");
	cr_assert_eq(fx_product_image_slot(&arr, 1000), 4);
	cr_assert_eq(fx_product_image_slot(NULL, 3), 0);
	fx_value_cleanup(&arr);
}
