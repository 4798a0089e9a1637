#include "order.h"

#include "firestore.h"
#include "map.h"
#include "value.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

/* VAT inside VAT-inclusive totals: round(total × rate / (10000 + rate)). */
Test(vat, fifteen_percent_of_an_inclusive_total)
{
	cr_assert_eq(fx_order_vat(11500, 1500), 1500, "R115.00 incl. holds R15.00 VAT");
	cr_assert_eq(fx_order_vat(100, 1500), 13, "13.04 rounds down to 13");
	cr_assert_eq(fx_order_vat(0, 1500), 0);
}

Test(vat, halves_round_away_from_zero)
{
	/* 23 × 1500 / 11500 = 3.0 exactly; 115 × 1000 / 11000 = 10.4545…; 231 × 1500 / 11500 = 30.13… */
	cr_assert_eq(fx_order_vat(23, 1500), 3);
	cr_assert_eq(fx_order_vat(115, 1000), 10);
	/* 1 × 10000 / 20000 = 0.5 exactly: rounds up. */
	cr_assert_eq(fx_order_vat(1, 10000), 1);
	cr_assert_eq(fx_order_vat(3, 10000), 2, "1.5 rounds to 2");
	cr_assert_eq(fx_order_vat(-3, 10000), -2, "and -1.5 to -2");
}

Test(vat, shipping_is_part_of_the_inclusive_total)
{
	/* Lines R199.99 × 2 + R60.00 shipping = R459.98: VAT 459.98 × 15/115 = 59.997… → R60.00. */
	int64_t total = 19999 * 2 + 6000;

	cr_assert_eq(total, 45998);
	cr_assert_eq(fx_order_vat(total, 1500), 6000);
}

Test(vat, zero_rate_and_huge_totals_are_exact)
{
	cr_assert_eq(fx_order_vat(123456789, 0), 0);
	/* 10^17 cents at 15 %: 10^17 × 1500 overflows int64 without 128-bit arithmetic. */
	cr_assert_eq(fx_order_vat(100000000000000000LL, 1500), 13043478260869565LL);
}

Test(vat, the_largest_total_rounds_without_overflow)
{
	/* INT64_MAX × 1500 / 11500 = 1203048526546275105.26…; INT64_MIN: -…105.39… */
	cr_assert_eq(fx_order_vat(INT64_MAX, 1500), 1203048526546275105LL);
	cr_assert_eq(fx_order_vat(INT64_MIN, 1500), -1203048526546275105LL);
}

Test(price, lines_cost_unit_price_times_quantity_and_shipping_joins_the_inclusive_total)
{
	struct fx_order_line lines[] = {{"a", 2, 19999, -1}, {"b", 3, 500, -1}};
	struct fx_order_totals t;

	cr_assert_eq(fx_order_price(lines, 2, 6000, 1500, &t), 0);
	cr_assert_eq(lines[0].line_total_cents, 39998);
	cr_assert_eq(lines[1].line_total_cents, 1500);
	cr_assert_eq(t.subtotal_cents, 41498);
	cr_assert_eq(t.shipping_cents, 6000);
	cr_assert_eq(t.total_cents, 47498);
	cr_assert_eq(t.vat_rate_bps, 1500);
	/* 47498 × 1500 / 11500 = 6195.39… */
	cr_assert_eq(t.vat_cents, 6195);
}

Test(price, free_products_and_no_shipping_make_a_zero_order)
{
	struct fx_order_line lines[] = {{"a", 7, 0, -1}};
	struct fx_order_totals t;

	cr_assert_eq(fx_order_price(lines, 1, 0, 1500, &t), 0);
	cr_assert_eq(lines[0].line_total_cents, 0);
	cr_assert_eq(t.total_cents, 0);
	cr_assert_eq(t.vat_cents, 0);
}

Test(price, the_largest_order_the_contract_allows_fits)
{
	/* 100 lines × 10000 units × R1 billion, plus R1 million shipping. */
	struct fx_order_line lines[100];
	struct fx_order_totals t;

	for (size_t i = 0; i < 100; i++)
		lines[i] = (struct fx_order_line){"p", 10000, 100000000000LL, 0};
	cr_assert_eq(fx_order_price(lines, 100, 100000000LL, 1500, &t), 0);
	cr_assert_eq(lines[99].line_total_cents, 1000000000000000LL);
	cr_assert_eq(t.subtotal_cents, 100000000000000000LL);
	cr_assert_eq(t.total_cents, 100000000100000000LL);
	cr_assert_eq(t.vat_cents, fx_order_vat(100000000100000000LL, 1500));
}

Test(price, a_line_total_beyond_64_bits_is_refused)
{
	struct fx_order_line lines[] = {{"a", 2, INT64_MAX / 2 + 1, 0}};
	struct fx_order_totals t;

	cr_assert_eq(fx_order_price(lines, 1, 0, 1500, &t), -1);
}

Test(price, a_subtotal_beyond_64_bits_is_refused)
{
	struct fx_order_line lines[] = {{"a", 1, INT64_MAX, 0}, {"b", 1, 1, 0}};
	struct fx_order_totals t;

	cr_assert_eq(fx_order_price(lines, 2, 0, 1500, &t), -1);
}

Test(price, a_total_beyond_64_bits_with_shipping_is_refused)
{
	struct fx_order_line lines[] = {{"a", 1, INT64_MAX, 0}};
	struct fx_order_totals t;

	cr_assert_eq(fx_order_price(lines, 1, 0, 1500, &t), 0);
	cr_assert_eq(t.total_cents, INT64_MAX);
	cr_assert_eq(fx_order_price(lines, 1, 1, 1500, &t), -1);
}

Test(lines, a_repeated_product_names_its_first_line)
{
	struct fx_order_line lines[] = {{"a", 1, 0, 0}, {"b", 1, 0, 0}, {"a", 2, 0, 0}, {"b", 1, 0, 0}};

	cr_assert_eq(fx_order_repeated_line(lines, 0), -1);
	cr_assert_eq(fx_order_repeated_line(lines, 1), -1);
	cr_assert_eq(fx_order_repeated_line(lines, 2), 0);
	cr_assert_eq(fx_order_repeated_line(lines, 3), 1);
}

Test(lines, product_ids_are_compared_exactly)
{
	struct fx_order_line lines[] = {{"abc", 1, 0, 0}, {"ABC", 1, 0, 0}, {"ab", 1, 0, 0}};

	cr_assert_eq(fx_order_repeated_line(lines, 1), -1);
	cr_assert_eq(fx_order_repeated_line(lines, 2), -1);
}

Test(lines, are_available_up_to_on_hand_minus_reserved)
{
	cr_assert(fx_order_line_available(10, 3, 7));
	cr_assert_not(fx_order_line_available(10, 3, 8));
	cr_assert_not(fx_order_line_available(0, 0, 1));
	cr_assert_not(fx_order_line_available(3, 5, 1), "over-reserved stock has none available");
	cr_assert(fx_order_line_available(INT64_MAX, INT64_MIN, INT64_MAX), "no overflow on corrupt counts");
	cr_assert_not(fx_order_line_available(INT64_MIN, INT64_MAX, 1));
}

/* Every (method, status) pair: exactly the table of API.md is allowed. */
Test(lifecycle, allows_exactly_the_documented_transitions)
{
	static const struct {
		const char *verb, *to;
		const char *allowed[3];
		enum fx_order_effect effect;
	} want[] = {
		{"confirm", "confirmed", {"pending"}, FX_ORDER_NO_STOCK},
		{"ship", "shipped", {"confirmed"}, FX_ORDER_SHIP_STOCK},
		{"deliver", "delivered", {"shipped"}, FX_ORDER_NO_STOCK},
		{"cancel", "cancelled", {"pending", "confirmed"}, FX_ORDER_RELEASE_STOCK},
		{"return", "returned", {"delivered"}, FX_ORDER_RESTOCK},
	};

	for (size_t v = 0; v < sizeof(want) / sizeof(want[0]); v++) {
		const struct fx_order_transition *tr = fx_order_transition(want[v].verb);

		cr_assert_not_null(tr, "%s", want[v].verb);
		cr_assert_str_eq(tr->to, want[v].to);
		cr_assert_eq(tr->effect, want[v].effect, "%s", want[v].verb);
		for (size_t s = 0; fx_order_statuses[s]; s++) {
			const char *st = fx_order_statuses[s];
			bool allowed = (want[v].allowed[0] && strcmp(want[v].allowed[0], st) == 0) ||
				       (want[v].allowed[1] && strcmp(want[v].allowed[1], st) == 0);

			cr_assert_eq(fx_order_may(tr, st), allowed, "%s from %s", want[v].verb, st);
		}
		cr_assert_not(fx_order_may(tr, NULL));
		cr_assert_not(fx_order_may(tr, "archived"));
	}
}

Test(lifecycle, knows_no_other_method)
{
	cr_assert_null(fx_order_transition("refund"));
	cr_assert_null(fx_order_transition(""));
	cr_assert_null(fx_order_transition(NULL));
	cr_assert_null(fx_order_transition("Confirm"));
}

Test(lifecycle, statuses_are_the_six_of_the_contract)
{
	static const char *const want[] = {"pending", "confirmed", "shipped", "delivered", "cancelled", "returned"};
	size_t n = 0;

	for (; fx_order_statuses[n]; n++)
		cr_assert_str_eq(fx_order_statuses[n], want[n]);
	cr_assert_eq(n, 6);
}

Test(lifecycle, a_return_restocks_only_when_asked)
{
	const struct fx_order_transition *ret = fx_order_transition("return");

	cr_assert_eq(fx_order_effect(ret, true), FX_ORDER_RESTOCK);
	cr_assert_eq(fx_order_effect(ret, false), FX_ORDER_NO_STOCK);
	cr_assert_eq(fx_order_effect(fx_order_transition("ship"), false), FX_ORDER_SHIP_STOCK);
	cr_assert_eq(fx_order_effect(fx_order_transition("cancel"), true), FX_ORDER_RELEASE_STOCK);
	cr_assert_eq(fx_order_effect(fx_order_transition("confirm"), true), FX_ORDER_NO_STOCK);
}

Test(lifecycle, the_address_changes_only_before_shipping)
{
	cr_assert(fx_order_address_may_change("pending"));
	cr_assert(fx_order_address_may_change("confirmed"));
	cr_assert_not(fx_order_address_may_change("shipped"));
	cr_assert_not(fx_order_address_may_change("delivered"));
	cr_assert_not(fx_order_address_may_change("cancelled"));
	cr_assert_not(fx_order_address_may_change("returned"));
	cr_assert_not(fx_order_address_may_change(NULL));
}

Test(stock, each_effect_moves_on_hand_and_reserved_as_documented)
{
	struct fx_order_stock s;

	cr_assert_eq(fx_order_stock_effect(FX_ORDER_RESERVE, 10, 2, 3, &s), 0);
	cr_assert(s.on_hand == 10 && s.reserved == 5 && s.reason == NULL && s.delta == 0);
	cr_assert_eq(fx_order_stock_effect(FX_ORDER_SHIP_STOCK, 10, 5, 3, &s), 0);
	cr_assert(s.on_hand == 7 && s.reserved == 2 && s.delta == -3);
	cr_assert_str_eq(s.reason, "order_shipped");
	cr_assert_eq(fx_order_stock_effect(FX_ORDER_RELEASE_STOCK, 10, 5, 3, &s), 0);
	cr_assert(s.on_hand == 10 && s.reserved == 2 && s.reason == NULL && s.delta == 0);
	cr_assert_eq(fx_order_stock_effect(FX_ORDER_RESTOCK, 7, 2, 3, &s), 0);
	cr_assert(s.on_hand == 10 && s.reserved == 2 && s.delta == 3);
	cr_assert_str_eq(s.reason, "order_returned");
	cr_assert_eq(fx_order_stock_effect(FX_ORDER_NO_STOCK, 7, 2, 3, &s), 0);
	cr_assert(s.on_hand == 7 && s.reserved == 2 && s.reason == NULL && s.delta == 0);
}

Test(stock, a_count_beyond_64_bits_is_refused)
{
	struct fx_order_stock s;

	cr_assert_eq(fx_order_stock_effect(FX_ORDER_RESERVE, 0, INT64_MAX, 1, &s), -1);
	cr_assert_eq(fx_order_stock_effect(FX_ORDER_RESTOCK, INT64_MAX, 0, 1, &s), -1);
	cr_assert_eq(fx_order_stock_effect(FX_ORDER_SHIP_STOCK, INT64_MIN, 0, 1, &s), -1);
	cr_assert_eq(fx_order_stock_effect(FX_ORDER_RELEASE_STOCK, 0, INT64_MIN, 1, &s), -1);
	cr_assert_eq(fx_order_stock_effect(FX_ORDER_SHIP_STOCK, 0, 0, INT64_MIN, &s), -1, "-INT64_MIN");
	cr_assert_eq(fx_order_stock_effect(FX_ORDER_NO_STOCK, INT64_MAX, INT64_MAX, INT64_MAX, &s), 0);
}

/* ---- what open orders reserve (the stock sync's rule) ---- */

/* An order document whose items are the n lines {productId: pids[i], quantity: qty[i]} (pids[i] NULL: none). */
static void order_doc(struct fx_doc *d, const char *const *pids, const int64_t *qty, size_t n)
{
	struct fx_value *items;

	memset(d, 0, sizeof(*d));
	fx_value_map(&d->fields);
	items = fx_map_set(&d->fields, "items");
	fx_value_array(items);
	for (size_t i = 0; i < n; i++) {
		struct fx_value *line = fx_value_push(items);

		fx_value_map(line);
		if (pids[i])
			fx_map_set_str(line, "productId", pids[i]);
		fx_map_set_int(line, "quantity", qty[i]);
	}
}

static void products_named(struct fx_doc *products, const char *const *ids, size_t n)
{
	memset(products, 0, n * sizeof(*products));
	for (size_t i = 0; i < n; i++)
		products[i].id = ids[i];
}

Test(reserved, sums_each_products_quantities_over_every_line_of_every_order)
{
	static const char *const ids[] = {"p1", "p2", "p3"};
	struct fx_doc orders[2], products[3];
	int64_t expected[3] = {99, 99, 99};

	order_doc(&orders[0], (const char *const[]){"p1", "p2"}, (const int64_t[]){2, 5}, 2);
	order_doc(&orders[1], (const char *const[]){"p2", "p1", "p9"}, (const int64_t[]){1, 3, 7}, 3);
	products_named(products, ids, 3);
	cr_assert_eq(fx_order_reserved(orders, 2, products, 3, expected), 0);
	cr_assert_eq(expected[0], 5, "p1: 2 + 3");
	cr_assert_eq(expected[1], 6, "p2: 5 + 1");
	cr_assert_eq(expected[2], 0, "p3 is in no order: nothing reserved (the 99 is overwritten)");
	for (int i = 0; i < 2; i++)
		fx_value_cleanup(&orders[i].fields);
}

Test(reserved, a_line_without_a_product_or_an_integer_quantity_counts_nothing)
{
	static const char *const ids[] = {"p1"};
	struct fx_doc orders[2], products[1];
	struct fx_value *line;
	int64_t expected[1];

	order_doc(&orders[0], (const char *const[]){NULL, "p1"}, (const int64_t[]){4, 1}, 2);
	order_doc(&orders[1], (const char *const[]){"p1"}, (const int64_t[]){1}, 1);
	line = &((struct fx_value *)fx_map_get(&orders[1].fields, "items"))->u.arr.items[0];
	fx_map_set_str(line, "quantity", "3"); /* a string, not an integer */
	products_named(products, ids, 1);
	cr_assert_eq(fx_order_reserved(orders, 2, products, 1, expected), 0);
	cr_assert_eq(expected[0], 1, "only the whole line counts");
	for (int i = 0; i < 2; i++)
		fx_value_cleanup(&orders[i].fields);
}

Test(reserved, no_orders_reserve_nothing_and_no_products_need_no_room)
{
	static const char *const ids[] = {"p1"};
	struct fx_doc products[1], order;
	int64_t expected[1] = {7};

	products_named(products, ids, 1);
	cr_assert_eq(fx_order_reserved(NULL, 0, products, 1, expected), 0);
	cr_assert_eq(expected[0], 0);
	order_doc(&order, (const char *const[]){"p1"}, (const int64_t[]){2}, 1);
	cr_assert_eq(fx_order_reserved(&order, 1, NULL, 0, expected), 0);
	fx_value_cleanup(&order.fields);
}

Test(reserved, a_sum_beyond_64_bits_is_refused)
{
	static const char *const ids[] = {"p1"};
	struct fx_doc orders[2], products[1];
	int64_t expected[1];

	order_doc(&orders[0], (const char *const[]){"p1"}, (const int64_t[]){INT64_MAX}, 1);
	order_doc(&orders[1], (const char *const[]){"p1"}, (const int64_t[]){1}, 1);
	products_named(products, ids, 1);
	cr_assert_eq(fx_order_reserved(orders, 1, products, 1, expected), 0);
	cr_assert_eq(expected[0], INT64_MAX);
	cr_assert_eq(fx_order_reserved(orders, 2, products, 1, expected), -1);
	for (int i = 0; i < 2; i++)
		fx_value_cleanup(&orders[i].fields);
}

/* Reservations are made at create (pending) and released by ship and cancel: cancel leaves from them all. */
Test(reserved, the_reserving_statuses_are_those_cancel_leaves_from)
{
	const struct fx_order_transition *cancel = fx_order_transition("cancel");
	size_t n = 0;

	for (; fx_order_reserving[n]; n++)
		cr_assert(fx_order_may(cancel, fx_order_reserving[n]), "%s", fx_order_reserving[n]);
	for (size_t s = 0; fx_order_statuses[s]; s++) {
		bool reserving = false;

		for (size_t i = 0; i < n; i++)
			reserving = reserving || strcmp(fx_order_reserving[i], fx_order_statuses[s]) == 0;
		cr_assert_eq(fx_order_may(cancel, fx_order_statuses[s]), reserving, "%s", fx_order_statuses[s]);
	}
	cr_assert(fx_order_may(fx_order_transition("ship"), "confirmed"), "ship releases a reservation");
	cr_assert_eq(n, 2);
}

/* ---- oversold lines (channel orders accepted short) ---- */

static void line_of(struct fx_value *line, int64_t quantity, int64_t backordered, bool with_backordered)
{
	fx_value_map(line);
	fx_map_set_str(line, "productId", "p1");
	fx_map_set_int(line, "quantity", quantity);
	if (with_backordered)
		fx_map_set_int(line, "backorderedQuantity", backordered);
}

Test(oversold, a_line_holds_its_quantity_less_what_it_lacks)
{
	struct fx_value a = {0}, b = {0}, c = {0}, d = {0};

	line_of(&a, 5, 0, false);
	line_of(&b, 5, 2, true);
	line_of(&c, 5, 9, true); /* more than ordered: clamped, holds nothing */
	line_of(&d, 5, -3, true); /* negative: nothing lacking */
	cr_assert_eq(fx_order_line_held(&a), 5);
	cr_assert_eq(fx_order_line_held(&b), 3);
	cr_assert_eq(fx_order_line_backordered(&c), 5);
	cr_assert_eq(fx_order_line_held(&c), 0);
	cr_assert_eq(fx_order_line_held(&d), 5);
	fx_value_cleanup(&a);
	fx_value_cleanup(&b);
	fx_value_cleanup(&c);
	fx_value_cleanup(&d);
}

Test(oversold, reserved_counts_only_what_lines_hold)
{
	static const char *const ids[] = {"p1"};
	struct fx_doc orders[1], products[1];
	struct fx_value *line;
	int64_t expected[1];

	order_doc(&orders[0], (const char *const[]){"p1", "p1"}, (const int64_t[]){4, 3}, 2);
	line = &((struct fx_value *)fx_map_get(&orders[0].fields, "items"))->u.arr.items[0];
	fx_map_set_int(line, "backorderedQuantity", 3);
	products_named(products, ids, 1);
	cr_assert_eq(fx_order_reserved(orders, 1, products, 1, expected), 0);
	cr_assert_eq(expected[0], 4, "1 held of 4 (3 backordered) + 3 held");
	fx_value_cleanup(&orders[0].fields);
}

Test(oversold, allocation_takes_what_is_available_up_to_what_is_lacking)
{
	cr_assert_eq(fx_order_allocatable(10, 4, 3), 3, "6 available, 3 lacking: all 3");
	cr_assert_eq(fx_order_allocatable(10, 8, 3), 2, "2 available: 2 of 3");
	cr_assert_eq(fx_order_allocatable(10, 10, 3), 0, "none available");
	cr_assert_eq(fx_order_allocatable(2, 5, 3), 0, "over-reserved: none, never negative");
	cr_assert_eq(fx_order_allocatable(10, 0, 0), 0, "nothing lacking: nothing taken");
	cr_assert_eq(fx_order_allocatable(INT64_MAX, INT64_MIN + 1, 7), 7, "no overflow on extreme stock");
}

Test(oversold, ship_is_refused_naming_each_short_line)
{
	struct fx_doc order = {0};
	struct fx_value *items, *line;
	struct fx_err e;

	order_doc(&order, (const char *const[]){"p1", "p2", "p3"}, (const int64_t[]){2, 5, 1}, 3);
	fx_err_clear(&e);
	cr_assert_eq(fx_order_check_covered(&order, &e), 0, "no line lacks units");
	cr_assert_not(fx_order_short(fx_map_get(&order.fields, "items")));
	items = (struct fx_value *)fx_map_get(&order.fields, "items");
	line = &items->u.arr.items[1];
	fx_map_set_int(line, "backorderedQuantity", 4);
	line = &items->u.arr.items[2];
	fx_map_set_int(line, "backorderedQuantity", 1);
	cr_assert(fx_order_short(items));
	cr_assert_eq(fx_order_check_covered(&order, &e), -1);
	cr_assert(fx_err_is(&e, FX_FAILED_PRECONDITION));
	cr_assert_eq(e.ndetails, 2);
	cr_assert_str_eq(e.details[0].field, "items[1].backorderedQuantity");
	cr_assert(strstr(e.details[0].reason, "4 unit"), "%s", e.details[0].reason);
	cr_assert_str_eq(e.details[1].field, "items[2].backorderedQuantity");
	fx_value_cleanup(&order.fields);
}
