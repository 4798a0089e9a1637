/*
 * fx_order: the rules of an order (pure, no I/O): what its lines cost, the
 * VAT inside its total, which lines may stand together, and its lifecycle
 * (which custom method moves which status where, and what that does to the
 * stock of its products). handlers/orders.c reads and writes documents
 * around these rules; everything it decides comes from here.
 * Ownership: nothing is allocated; the transition table is static.
 */
#ifndef FX_ORDER_H
#define FX_ORDER_H

#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fx_doc;
struct fx_value;

/* The order statuses, NULL-terminated, in lifecycle order, as the API names them. */
extern const char *const fx_order_statuses[];

/*
 * The statuses whose orders hold their lines' quantities reserved,
 * NULL-terminated: create reserves (pending), ship and cancel release,
 * so exactly the statuses cancel leaves from (pending, confirmed).
 */
extern const char *const fx_order_reserving[];

/*
 * What orders reserve of each product, read from their documents (no I/O):
 * expected[p] (nproducts entries, the caller's) is set to the sum of the
 * units held (fx_order_line_held: quantity less backorderedQuantity) of
 * every items[] line whose productId is products[p].id. A line
 * without a productId or an integer quantity counts nothing, and a product
 * no line names gets 0. Every order given counts whatever its status: pass
 * those in fx_order_reserving. -1 when a sum does not fit an int64
 * (expected then unspecified); 0 otherwise.
 */
FX_MUST_USE int fx_order_reserved(const struct fx_doc *orders, size_t norders, const struct fx_doc *products,
				  size_t nproducts, int64_t *expected);

/*
 * The VAT inside a VAT-inclusive amount, as the contract defines it:
 * round(total × rate / (10000 + rate)), rate in basis points, halves
 * rounded away from zero. Exact for any int64 amount (128-bit arithmetic).
 */
int64_t fx_order_vat(int64_t total_cents, int64_t rate_bps);

/*
 * One line of an order: product_id and quantity as the client gave them,
 * unit_price_cents from the product; line_total_cents is filled by
 * fx_order_price.
 */
struct fx_order_line {
	const char *product_id;
	int64_t quantity;
	int64_t unit_price_cents;
	int64_t line_total_cents;
};

/* The money of an order, in cents; VAT is inside total (prices include VAT). */
struct fx_order_totals {
	int64_t subtotal_cents; /* sum of the line totals */
	int64_t shipping_cents;
	int64_t total_cents; /* subtotal + shipping */
	int64_t vat_cents; /* fx_order_vat(total, vat_rate) */
	int64_t vat_rate_bps;
};

/*
 * Prices n lines (line total = unit price × quantity) and the order they
 * make with shipping at vat_rate_bps. -1 when a line total, the subtotal or
 * the total does not fit an int64 (out then unspecified); 0 otherwise.
 */
FX_MUST_USE int fx_order_price(struct fx_order_line *lines, size_t n, int64_t shipping_cents, int64_t vat_rate_bps,
			       struct fx_order_totals *out);

/*
 * Lines are never merged: a repeated product is a client's bug and is
 * refused. Returns the index of the first line before lines[i] with the
 * same product_id, or -1 when lines[i] is the first of its product.
 */
long fx_order_repeated_line(const struct fx_order_line *lines, size_t i);

/* Whether quantity more units can be reserved from on_hand with reserved already reserved. */
bool fx_order_line_available(int64_t on_hand, int64_t reserved, int64_t quantity);

/*
 * Oversold lines. A channel order is accepted even when stock is short: a
 * line then holds reserved only what was available, and carries
 * backorderedQuantity, the units it still lacks (absent or 0: none). The
 * order is oversold while any line lacks units.
 */

/* backorderedQuantity of an items[] line, clamped to 0..quantity (absent: 0). */
int64_t fx_order_line_backordered(const struct fx_value *line);

/* The units an items[] line holds reserved: quantity - backorderedQuantity (0 without an integer quantity). */
int64_t fx_order_line_held(const struct fx_value *line);

/* Whether any line of items (an FX_V_ARRAY of lines; NULL: none) lacks units. */
bool fx_order_short(const struct fx_value *items);

/* How many of backordered units can be reserved from on_hand with reserved held: min(backordered, max(0, available)). */
int64_t fx_order_allocatable(int64_t on_hand, int64_t reserved, int64_t backordered);

/*
 * Whether order (its items) may ship: 0 when no line lacks units; else -1
 * with 409 FAILED_PRECONDITION, one detail per short line
 * ("items[i].backorderedQuantity": how many units are not reserved).
 */
FX_MUST_USE int fx_order_check_covered(const struct fx_doc *order, struct fx_err *e);

/* What a step of the lifecycle does to the stock of each line's product. */
enum fx_order_effect {
	FX_ORDER_NO_STOCK, /* nothing */
	FX_ORDER_RESERVE, /* create: reserved += q */
	FX_ORDER_SHIP_STOCK, /* ship: onHand -= q, reserved -= q, movement -q order_shipped */
	FX_ORDER_RELEASE_STOCK, /* cancel: reserved -= q */
	FX_ORDER_RESTOCK /* return with restock: onHand += q, movement +q order_returned */
};

/* One custom method: verb (":confirm" without the colon), the statuses it leaves from (NULL-terminated), its target. */
struct fx_order_transition {
	const char *verb;
	const char *const *from;
	const char *to;
	enum fx_order_effect effect;
};

/* The transition of verb (confirm, ship, deliver, cancel, return), or NULL for any other verb. */
const struct fx_order_transition *fx_order_transition(const char *verb);

/* Whether tr may leave status (NULL, an unknown status: false). */
bool fx_order_may(const struct fx_order_transition *tr, const char *status);

/* The effect tr has on stock: a return without restock changes none. */
enum fx_order_effect fx_order_effect(const struct fx_order_transition *tr, bool restock);

/* Whether an order in status may still change its shipping address (before it ships). */
bool fx_order_address_may_change(const char *status);

/* A product's stock after one line's effect, and the movement it writes (reason NULL: none). */
struct fx_order_stock {
	int64_t on_hand;
	int64_t reserved;
	int64_t delta; /* movement delta, 0 when reason is NULL */
	const char *reason; /* "order_shipped", "order_returned" or NULL */
};

/*
 * Applies effect to a product holding on_hand and reserved for a line of
 * quantity units. -1 when a result does not fit an int64 (out then
 * unspecified); 0 otherwise. Availability is not checked here
 * (fx_order_line_available decides it at create).
 */
FX_MUST_USE int fx_order_stock_effect(enum fx_order_effect effect, int64_t on_hand, int64_t reserved, int64_t quantity,
				      struct fx_order_stock *out);

#endif
