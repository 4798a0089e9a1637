#include "product.h"

#include <string.h>

const char *const fx_product_adjust_reasons[] = {"received", "sold_offline",	 "damaged", "lost",
						 "returned", "count_correction", NULL};

static const char sku_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-";

bool fx_product_sku_valid(const char *sku)
{
	size_t n = sku ? strlen(sku) : 0;

	return n >= 1 && n <= FX_PRODUCT_SKU_MAX && strspn(sku, sku_chars) == n;
}

int fx_product_sku_key(const char *sku, char *key, size_t size)
{
	size_t n;

	if (!fx_product_sku_valid(sku))
		return -1;
	n = strlen(sku);
	if (size < n + 3)
		return -1;
	key[0] = 's';
	key[1] = '_';
	/* Bounded by size: n + 3 bytes fit. */
	for (size_t i = 0; i < n; i++)
		key[2 + i] = sku[i] >= 'A' && sku[i] <= 'Z' ? (char)(sku[i] - 'A' + 'a') : sku[i];
	key[2 + n] = '\0';
	return 0;
}

int64_t fx_product_available(int64_t on_hand, int64_t reserved)
{
	__int128 a = (__int128)on_hand - reserved;

	return a > INT64_MAX ? INT64_MAX : a < INT64_MIN ? INT64_MIN : (int64_t)a;
}

bool fx_product_low_stock(int64_t on_hand, int64_t reserved, int64_t reorder_point)
{
	return (__int128)on_hand - reserved <= reorder_point;
}

enum fx_product_adjust fx_product_adjust(int64_t on_hand, int64_t reserved, int64_t delta, int64_t *on_hand_after)
{
	__int128 after = (__int128)on_hand + delta;

	if (after < reserved)
		return FX_PRODUCT_ADJUST_BELOW_RESERVED;
	if (after > FX_PRODUCT_MAX_STOCK)
		return FX_PRODUCT_ADJUST_ABOVE_MAX;
	*on_hand_after = (int64_t)after;
	return FX_PRODUCT_ADJUST_OK;
}

bool fx_product_adjust_reason_valid(const char *reason)
{
	for (size_t i = 0; reason && fx_product_adjust_reasons[i]; i++)
		if (strcmp(fx_product_adjust_reasons[i], reason) == 0)
			return true;
	return false;
}

long fx_product_image_find(const struct fx_value *images, const char *file_id)
{
	if (!images || images->type != FX_V_ARRAY || !file_id)
		return -1;
	for (size_t i = 0; i < images->u.arr.n; i++) {
		const char *id = fx_value_path_str(&images->u.arr.items[i], "fileId");

		if (id && strcmp(id, file_id) == 0)
			return (long)i;
	}
	return -1;
}

size_t fx_product_image_slot(const struct fx_value *images, int64_t position)
{
	if (!images || images->type != FX_V_ARRAY)
		return 0;
	for (size_t i = 0; i < images->u.arr.n; i++) {
		int64_t p = 0;

		fx_value_path_int(&images->u.arr.items[i], "position", &p);
		if (p > position)
			return i;
	}
	return images->u.arr.n;
}
