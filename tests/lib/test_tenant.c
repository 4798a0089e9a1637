#include "arena.h"
#include "authz.h"
#include "err.h"
#include "http.h"
#include "stock.h"
#include "tenant.h"

#include <criterion/criterion.h>
#include <json-c/json.h>
#include <string.h>

static struct fx_arena arena;
static struct fx_principal who;
static struct fx_req req;

/* A member's request whose arena has a budget of limit bytes. */
static void request_with(size_t limit)
{
	memset(&req, 0, sizeof(req));
	memset(&who, 0, sizeof(who));
	who.uid = "u1";
	who.organization_id = "Org1234567890abcdefgh";
	who.role = FX_ROLE_OWNER;
	fx_arena_init(&arena, limit);
	req.arena = &arena;
	req.principal = &who;
}

static void end_request(void)
{
	fx_arena_cleanup(&arena);
}

Test(tenant, paths_are_below_the_callers_organization, .fini = end_request)
{
	struct fx_err e;

	request_with(1 << 16);
	fx_err_clear(&e);
	cr_assert_str_eq(fx_tenant_root(&req, &e), "organizations/Org1234567890abcdefgh");
	cr_assert_str_eq(fx_tenant_path(&req, "products/p1", "movements", "m1", "movement", &e),
			 "organizations/Org1234567890abcdefgh/products/p1/movements/m1");
	cr_assert_null(fx_tenant_path(&req, NULL, "products", "../x", "product", &e));
	cr_assert_eq(fx_err_http(e.kind), 404, "a malformed id cannot exist");
}

/*
 * With the request's arena spent the root is NULL, and says why: callers
 * that passed it on into "%s" built paths such as "(null)/counters/orders"
 * (orders) or read a NULL path (a 400 naming "path", reports).
 */
Test(tenant, a_spent_arena_is_a_500_never_a_path, .fini = end_request)
{
	struct fx_err e;
	json_object *writes = json_object_new_array();

	request_with(8);
	fx_err_clear(&e);
	cr_assert_null(fx_tenant_root(&req, &e));
	cr_assert_eq(fx_err_http(e.kind), 500);
	fx_err_clear(&e);
	cr_assert_null(fx_tenant_path(&req, NULL, "products", "p1", "product", &e));
	cr_assert_eq(fx_err_http(e.kind), 500, "out of memory is no 404");
	fx_err_clear(&e);
	cr_assert_eq(fx_stock_movement_write(&req, writes, "p1", 1, "received", NULL, NULL, 1, NULL, &e), -1);
	cr_assert_eq(fx_err_http(e.kind), 500);
	cr_assert_eq(json_object_array_length(writes), 0, "nothing is written");
	json_object_put(writes);
}
