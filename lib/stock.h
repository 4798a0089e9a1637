/*
 * fx_stock: a product's stock and its movements, shared by the products
 * group (stock:adjust) and the orders group (reservations and their
 * effects). stock {onHand, reserved, available, reorderPoint} and lowStock
 * always change together; every change of onHand writes a movement in the
 * same commit, and every change of a listed product's available writes an
 * outbox entry (lib/outbox) in the same commit.
 */
#ifndef FX_STOCK_H
#define FX_STOCK_H

#include "err.h"
#include "firestore.h"
#include "value.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

struct fx_req;

/* |delta| of one adjustment at most (stock:adjust, a stock import row). */
#define FX_STOCK_MAX_DELTA 1000000LL

/* stock.<field> of a product document, 0 when absent. */
int64_t fx_stock(const struct fx_doc *product, const char *field);

/* Sets map's stock {onHand, reserved, available, reorderPoint} and lowStock. */
void fx_stock_set(struct fx_value *map, int64_t on_hand, int64_t reserved, int64_t reorder);

/* Whether product (a full read) is listed on a channel: a non-empty listings array. */
bool fx_stock_listed(const struct fx_doc *product);

/*
 * Appends the update of product's stock to writes, guarded by the version
 * that was read (a concurrent change aborts the transaction). When the
 * product is listed (fx_stock_listed: so it must have been read with its
 * listings field) and available (onHand - reserved) changes, also appends
 * an outbox "stock" entry for it (lib/outbox) to the same writes: the
 * change and the push it owes commit together or not at all. The webhook
 * events product.stock_changed (onHand or reserved changed) and
 * product.low_stock (lowStock turned true) go to the same writes
 * (lib/webhook, ordered by the product version read). On failure writes
 * is unchanged.
 */
FX_MUST_USE int fx_stock_write(const struct fx_req *r, json_object *writes, const struct fx_doc *product,
			       int64_t on_hand, int64_t reserved, struct fx_err *e);

/*
 * Appends a movement {productId, delta, reason, orderId?, note, onHandAfter,
 * by, at} of product_id; *out (may be NULL) receives its API JSON.
 */
FX_MUST_USE int fx_stock_movement_write(const struct fx_req *r, json_object *writes, const char *product_id,
					int64_t delta, const char *reason, const char *order_id, const char *note,
					int64_t on_hand_after, json_object **out, struct fx_err *e);

/*
 * The effect of a stock adjustment (stock:adjust, a stock import row) on
 * product (a full read, listings included; its update_time is the
 * precondition): delta must keep onHand at or above reserved (409
 * FAILED_PRECONDITION) and at most FX_PRODUCT_MAX_STOCK (400), both
 * naming field; then the stock update (with its outbox entry,
 * fx_stock_write) and the movement {delta, reason, note}
 * (fx_stock_movement_write) are appended to writes. *after receives the
 * new onHand, *out (may be NULL) the movement's API JSON. On failure writes
 * may hold the stock update: discard it.
 */
FX_MUST_USE int fx_stock_adjust(const struct fx_req *r, json_object *writes, const struct fx_doc *product,
				int64_t delta, const char *reason, const char *note, const char *field, int64_t *after,
				json_object **out, struct fx_err *e);

#endif
