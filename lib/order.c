#include "order.h"

#include "firestore.h"
#include "str.h"
#include "value.h"

#include <string.h>

const char *const fx_order_statuses[] = {"pending", "confirmed", "shipped", "delivered", "cancelled", "returned", NULL};
const char *const fx_order_reserving[] = {"pending", "confirmed", NULL};

static const char *const from_pending[] = {"pending", NULL};
static const char *const from_confirmed[] = {"confirmed", NULL};
static const char *const from_shipped[] = {"shipped", NULL};
static const char *const from_open[] = {"pending", "confirmed", NULL};
static const char *const from_delivered[] = {"delivered", NULL};

/* The lifecycle, as data: every status change an order can make after create. */
static const struct fx_order_transition transitions[] = {
	{"confirm", from_pending, "confirmed", FX_ORDER_NO_STOCK},
	{"ship", from_confirmed, "shipped", FX_ORDER_SHIP_STOCK},
	{"deliver", from_shipped, "delivered", FX_ORDER_NO_STOCK},
	{"cancel", from_open, "cancelled", FX_ORDER_RELEASE_STOCK},
	{"return", from_delivered, "returned", FX_ORDER_RESTOCK},
};

int64_t fx_order_vat(int64_t total_cents, int64_t rate_bps)
{
	__int128 denom = 10000 + (__int128)rate_bps;
	__int128 num = (__int128)total_cents * rate_bps;
	__int128 q = (2 * (num < 0 ? -num : num) + denom) / (2 * denom);

	return (int64_t)(num < 0 ? -q : q);
}

int fx_order_price(struct fx_order_line *lines, size_t n, int64_t shipping_cents, int64_t vat_rate_bps,
		   struct fx_order_totals *out)
{
	int64_t subtotal = 0;

	for (size_t i = 0; i < n; i++) {
		if (__builtin_mul_overflow(lines[i].unit_price_cents, lines[i].quantity, &lines[i].line_total_cents) ||
		    __builtin_add_overflow(subtotal, lines[i].line_total_cents, &subtotal))
			return -1;
	}
	out->subtotal_cents = subtotal;
	out->shipping_cents = shipping_cents;
	if (__builtin_add_overflow(subtotal, shipping_cents, &out->total_cents))
		return -1;
	out->vat_rate_bps = vat_rate_bps;
	out->vat_cents = fx_order_vat(out->total_cents, vat_rate_bps);
	return 0;
}

long fx_order_repeated_line(const struct fx_order_line *lines, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (strcmp(lines[j].product_id, lines[i].product_id) == 0)
			return (long)j;
	return -1;
}

bool fx_order_line_available(int64_t on_hand, int64_t reserved, int64_t quantity)
{
	return (__int128)on_hand - reserved >= quantity;
}

const struct fx_order_transition *fx_order_transition(const char *verb)
{
	for (size_t i = 0; verb && i < sizeof(transitions) / sizeof(transitions[0]); i++)
		if (strcmp(transitions[i].verb, verb) == 0)
			return &transitions[i];
	return NULL;
}

static bool status_in(const char *status, const char *const *set)
{
	for (size_t i = 0; status && set[i]; i++)
		if (strcmp(set[i], status) == 0)
			return true;
	return false;
}

bool fx_order_may(const struct fx_order_transition *tr, const char *status)
{
	return status_in(status, tr->from);
}

enum fx_order_effect fx_order_effect(const struct fx_order_transition *tr, bool restock)
{
	return tr->effect == FX_ORDER_RESTOCK && !restock ? FX_ORDER_NO_STOCK : tr->effect;
}

bool fx_order_address_may_change(const char *status)
{
	return status_in(status, from_open);
}

int fx_order_reserved(const struct fx_doc *orders, size_t norders, const struct fx_doc *products, size_t nproducts,
		      int64_t *expected)
{
	memset(expected, 0, nproducts * sizeof(*expected));
	for (size_t i = 0; i < norders; i++) {
		const struct fx_value *items = fx_value_path(&orders[i].fields, "items");

		for (size_t k = 0; items && items->type == FX_V_ARRAY && k < items->u.arr.n; k++) {
			const char *pid = fx_value_path_str(&items->u.arr.items[k], "productId");
			int64_t qty = fx_order_line_held(&items->u.arr.items[k]);

			for (size_t p = 0; pid && p < nproducts; p++)
				if (strcmp(products[p].id, pid) == 0 &&
				    __builtin_add_overflow(expected[p], qty, &expected[p]))
					return -1;
		}
	}
	return 0;
}

int64_t fx_order_line_backordered(const struct fx_value *line)
{
	int64_t q = 0, b = 0;

	fx_value_path_int(line, "quantity", &q);
	fx_value_path_int(line, "backorderedQuantity", &b);
	return b < 0 ? 0 : b > q ? (q < 0 ? 0 : q) : b;
}

int64_t fx_order_line_held(const struct fx_value *line)
{
	int64_t q = 0;

	if (!fx_value_path_int(line, "quantity", &q) || q < 0)
		return 0;
	return q - fx_order_line_backordered(line);
}

bool fx_order_short(const struct fx_value *items)
{
	for (size_t i = 0; items && items->type == FX_V_ARRAY && i < items->u.arr.n; i++)
		if (fx_order_line_backordered(&items->u.arr.items[i]) > 0)
			return true;
	return false;
}

int64_t fx_order_allocatable(int64_t on_hand, int64_t reserved, int64_t backordered)
{
	__int128 avail = (__int128)on_hand - reserved;

	if (avail <= 0 || backordered <= 0)
		return 0;
	return avail < backordered ? (int64_t)avail : backordered;
}

int fx_order_check_covered(const struct fx_doc *order, struct fx_err *e)
{
	const struct fx_value *items = fx_value_path(&order->fields, "items");
	bool short_items = false;

	for (size_t i = 0; items && items->type == FX_V_ARRAY && i < items->u.arr.n; i++) {
		int64_t b = fx_order_line_backordered(&items->u.arr.items[i]);
		char field[64];

		if (b <= 0)
			continue;
		fx_str_text(field, sizeof(field), "items[%zu].backorderedQuantity", i);
		fx_err_detail(e, field, "%lld unit(s) not reserved: allocate them first", (long long)b);
		short_items = true;
	}
	if (short_items)
		return fx_err_set(e, FX_FAILED_PRECONDITION, "the order is oversold: %d line(s) lack stock",
				  e->ndetails);
	return 0;
}

int fx_order_stock_effect(enum fx_order_effect effect, int64_t on_hand, int64_t reserved, int64_t quantity,
			  struct fx_order_stock *out)
{
	int64_t on_hand_delta = 0, reserved_delta = 0;

	out->reason = NULL;
	switch (effect) {
	case FX_ORDER_NO_STOCK: break;
	case FX_ORDER_RESERVE: reserved_delta = quantity; break;
	case FX_ORDER_SHIP_STOCK:
		if (__builtin_sub_overflow(0, quantity, &on_hand_delta))
			return -1;
		reserved_delta = on_hand_delta;
		out->reason = "order_shipped";
		break;
	case FX_ORDER_RELEASE_STOCK:
		if (__builtin_sub_overflow(0, quantity, &reserved_delta))
			return -1;
		break;
	case FX_ORDER_RESTOCK:
		on_hand_delta = quantity;
		out->reason = "order_returned";
		break;
	}
	out->delta = out->reason ? on_hand_delta : 0;
	if (__builtin_add_overflow(on_hand, on_hand_delta, &out->on_hand) ||
	    __builtin_add_overflow(reserved, reserved_delta, &out->reserved))
		return -1;
	return 0;
}
