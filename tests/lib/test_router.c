#include "arena.h"
#include "router.h"

#include <criterion/criterion.h>
#include <string.h>

static int h(struct fx_req *r, struct fx_err *e)
{
	(void)r;
	(void)e;
	return 0;
}

static const struct fx_route routes[] = {
	{"GET", "/v1/orders", h, FX_MEMBER, FX_ROLE_VIEWER, 0, 0},
	{"POST", "/v1/orders", h, FX_MEMBER, FX_ROLE_STAFF, 0, 0},
	{"GET", "/v1/orders/{id}", h, FX_MEMBER, FX_ROLE_VIEWER, 0, 0},
	{"PATCH", "/v1/orders/{id}", h, FX_MEMBER, FX_ROLE_STAFF, 0, 0},
	{"POST", "/v1/orders/{id}:cancel", h, FX_MEMBER, FX_ROLE_STAFF, 0, 0},
	{"POST", "/v1/products/{id}/stock:adjust", h, FX_MEMBER, FX_ROLE_STAFF, 0, 0},
	{"DELETE", "/v1/products/{id}/images/{fileId}", h, FX_MEMBER, FX_ROLE_MANAGER, 0, 0},
	{"POST", "/v1/insights:generate", h, FX_MEMBER, FX_ROLE_MANAGER, 0, 0},
};

static struct fx_arena arena;
static struct fx_params params;
static struct fx_err err;
static char allow[128];

static void setup(void)
{
	fx_arena_init(&arena, 1 << 20);
	fx_err_clear(&err);
}

static void teardown(void)
{
	fx_arena_cleanup(&arena);
}

static const struct fx_route *match(const char *method, const char *path)
{
	return fx_router_match(routes, sizeof(routes) / sizeof(routes[0]), method, path, &arena, &params, allow,
			       sizeof(allow), &err);
}

TestSuite(router, .init = setup, .fini = teardown);

Test(router, matches_literal_and_parameter_routes)
{
	cr_assert_eq(match("GET", "/v1/orders"), &routes[0]);
	cr_assert_eq(match("GET", "/v1/orders/abc"), &routes[2]);
	cr_assert_str_eq(fx_router_params_get(&params, "id"), "abc");
}

Test(router, matches_custom_methods_on_ids_and_literals)
{
	cr_assert_eq(match("POST", "/v1/orders/o1:cancel"), &routes[4]);
	cr_assert_str_eq(fx_router_params_get(&params, "id"), "o1");
	cr_assert_eq(match("POST", "/v1/products/p9/stock:adjust"), &routes[5]);
	cr_assert_str_eq(fx_router_params_get(&params, "id"), "p9");
	cr_assert_eq(match("POST", "/v1/insights:generate"), &routes[7]);
}

Test(router, unknown_custom_method_is_404)
{
	cr_assert_null(match("POST", "/v1/orders/o1:explode"));
	cr_assert_eq(fx_err_http(err.kind), 404);
	cr_assert_str_eq(fx_err_name(err.kind), "NOT_FOUND");
}

Test(router, wrong_method_is_405_listing_the_allowed_ones)
{
	cr_assert_null(match("DELETE", "/v1/orders/o1"));
	cr_assert_eq(fx_err_http(err.kind), 405);
	cr_assert_str_eq(allow, "GET, PATCH");
}

Test(router, decodes_parameters_and_keeps_two)
{
	cr_assert_eq(match("DELETE", "/v1/products/p%201/images/f%3Ax"), &routes[6]);
	cr_assert_str_eq(fx_router_params_get(&params, "id"), "p 1");
	cr_assert_str_eq(fx_router_params_get(&params, "fileId"), "f:x");
}

Test(router, refuses_bad_escapes_and_nul)
{
	cr_assert_null(match("GET", "/v1/orders/a%2"));
	cr_assert_eq(fx_err_http(err.kind), 400);
	fx_err_clear(&err);
	cr_assert_null(match("GET", "/v1/orders/a%00b"));
	cr_assert_eq(fx_err_http(err.kind), 400);
}

Test(router, empty_segment_and_trailing_slash_do_not_match)
{
	cr_assert_null(match("GET", "/v1/orders/"));
	cr_assert_eq(fx_err_http(err.kind), 404);
	cr_assert_null(match("GET", "/v1/orders/a/b"));
	cr_assert_eq(fx_err_http(err.kind), 404);
}
