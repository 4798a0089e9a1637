/*
 * fx_product: the rules of a product (pure, no I/O): what a SKU may hold
 * and the key that compares SKUs, its stock (onHand never below reserved,
 * available, lowStock), the reasons a stock adjustment may give, and the
 * order of its images. handlers/products.c and lib/stock.c apply them.
 * Ownership: nothing is allocated; every argument is borrowed.
 */
#ifndef FX_PRODUCT_H
#define FX_PRODUCT_H

#include "err.h"
#include "fsvalue.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FX_PRODUCT_SKU_MAX 64 /* bytes of a SKU */
#define FX_PRODUCT_MAX_STOCK 1000000000LL /* onHand (and reorderPoint) at most */

/* The reasons of stock:adjust, NULL-terminated, as the API names them. */
extern const char *const fx_product_adjust_reasons[];

/* Whether sku is 1 to FX_PRODUCT_SKU_MAX of [A-Za-z0-9._-]. NULL: false. */
bool fx_product_sku_valid(const char *sku);

/*
 * The skuKey of a valid sku ("s_" and the SKU with ASCII letters
 * lower-cased): it orders lists and says when a SKU changed, whatever its
 * case. -1, key unspecified, when sku is not valid or key (size bytes) is
 * too small; 0 otherwise.
 */
FX_MUST_USE int fx_product_sku_key(const char *sku, char *key, size_t size);

/* Units that orders can still reserve: on_hand - reserved (saturated, never wrapping). */
int64_t fx_product_available(int64_t on_hand, int64_t reserved);

/* Whether the stock is low: available at or below the reorder point. */
bool fx_product_low_stock(int64_t on_hand, int64_t reserved, int64_t reorder_point);

/* What fx_product_adjust decided. */
enum fx_product_adjust {
	FX_PRODUCT_ADJUST_OK,
	FX_PRODUCT_ADJUST_BELOW_RESERVED, /* onHand would drop below reserved */
	FX_PRODUCT_ADJUST_ABOVE_MAX /* onHand would exceed FX_PRODUCT_MAX_STOCK */
};

/*
 * Whether delta may change on_hand with reserved units reserved; on
 * FX_PRODUCT_ADJUST_OK *on_hand_after is the new onHand (otherwise left
 * unchanged). Reasons and a zero delta are checked where the input is read.
 */
enum fx_product_adjust fx_product_adjust(int64_t on_hand, int64_t reserved, int64_t delta, int64_t *on_hand_after);

/* Whether reason is one of fx_product_adjust_reasons. NULL: false. */
bool fx_product_adjust_reason_valid(const char *reason);

/*
 * Images: an FX_V_ARRAY of maps {fileId, position} kept ordered by
 * position. The index of the first image whose fileId is file_id, or -1
 * (also when images is not an array).
 */
long fx_product_image_find(const struct fx_value *images, const char *file_id);

/*
 * Where an image at position goes in images: before the first image with a
 * higher position (after those with the same one), so the array stays
 * ordered: the array's length when none is higher, 0 when images is not an
 * array.
 */
size_t fx_product_image_slot(const struct fx_value *images, int64_t position);

#endif
