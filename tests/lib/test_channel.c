/*
 * lib/channel: webhooks, poll pages and push answers recorded in the shape
 * each channel documents (tests/data/channels), signatures computed
 * independently with `openssl dgst -sha256 -hmac` over the files' bytes.
 */
#include "channel.h"
#include "fakechannel.h"
#include "sig.h"
#include "ts.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>
#include <pthread.h>

#define SECRET "whsec-Shop1fy-\xc3\xa9"
/* openssl dgst -sha256 -hmac 'whsec-Shop1fy-é' -binary < FILE | base64 (or hex for Takealot) */
#define SIG_SHOPIFY_CREATE "pjC7WdIedFT6S/hSQiX5enUjkdq/MqzQc/lbe2y+vVE="
#define SIG_SHOPIFY_CANCELLED "hMAoBCIHkWxH8tXuRThypCKNgLTyt32UQ+9HaKS9M5Q="
#define SIG_WOO_UPDATED "+Rdmyua+67UIQtWXX664dvrSIv+vvKc4Mv0cD08jxPA="
#define SIG_TAKEALOT_SALE "057215c9785362ba5f821663c6ccca87de450821fb45f216d68e72a4bea3c51a"
#define SIG_TAKEALOT_ORDER "46f2f9be05dc2c0fad71f2d662211e86d5ef078d1b5bf0057b369ec1a271eeb3"
#define SIG_WOO_PING "zHERRXY30duSzbRDyeZ9FVcLH/Spomr1fUknewDPtrE="

static struct fx_err err;
static struct fx_arena arena;

static void setup(void)
{
	fx_err_clear(&err);
	fx_arena_init(&arena, 4 << 20);
}

static void teardown(void)
{
	fx_arena_cleanup(&arena);
}

TestSuite(channel, .init = setup, .fini = teardown);

static char *load(const char *name, size_t *len)
{
	const char *top = getenv("top_srcdir");
	char path[1024];
	FILE *f;
	char *buf = malloc(1 << 20);

	cr_assert(buf);
	cr_assert(snprintf(path, sizeof path, "%s/tests/data/channels/%s", top ? top : ".", name) < (int)sizeof path);
	f = fopen(path, "rb");
	cr_assert(f, "cannot open %s", path);
	*len = fread(buf, 1, (1 << 20) - 1, f);
	fclose(f);
	buf[*len] = '\0';
	return buf;
}

/* Request headers: pairs of name, value, NULL-terminated. */
static const char *hdr(void *ctx, const char *name)
{
	const char *const *h = ctx;

	for (; h[0]; h += 2)
		if (strcasecmp(h[0], name) == 0)
			return h[1];
	return NULL;
}

static struct fx_channel chan(enum fx_channel_type t)
{
	struct fx_channel ch = {
		.type = t,
		.id = "ch1",
		.organization_id = "org1",
		.base_url = "http://127.0.0.1:9/",
		.allow_private = true,
		.location_id = "gid://shopify/Location/655441491",
		.warehouse_id = "4413",
		.access_token = "shpat_abc",
		.consumer_key = "ck_1",
		.consumer_secret = "cs_2",
		.api_key = "tk-key",
		.webhook_secret = SECRET,
	};
	return ch;
}

static void resp_set(struct fx_httpc_resp *r, long status, const char *headers, const char *body)
{
	fx_httpc_resp_init(r);
	r->status = status;
	if (headers)
		cr_assert_eq(fx_buf_puts(&r->headers, headers), 0);
	if (body)
		cr_assert_eq(fx_buf_puts(&r->body, body), 0);
}

static void resp_file(struct fx_httpc_resp *r, long status, const char *headers, const char *file)
{
	size_t n;
	char *b = load(file, &n);

	resp_set(r, status, headers, b);
	free(b);
}

Test(channel, names_and_parses_the_three_types)
{
	cr_assert_eq(fx_channel_type_parse("shopify"), FX_CHANNEL_SHOPIFY);
	cr_assert_eq(fx_channel_type_parse("woocommerce"), FX_CHANNEL_WOOCOMMERCE);
	cr_assert_eq(fx_channel_type_parse("takealot"), FX_CHANNEL_TAKEALOT);
	cr_assert_eq(fx_channel_type_parse("amazon"), -1);
	cr_assert_eq(fx_channel_type_parse(NULL), -1);
	cr_assert_str_eq(fx_channel_type_name(FX_CHANNEL_TAKEALOT), "takealot");
	cr_assert_eq(fx_channel_batch_max(FX_CHANNEL_SHOPIFY), 250);
	cr_assert_eq(fx_channel_batch_max(FX_CHANNEL_WOOCOMMERCE), 100);
}

/* ---- Shopify webhooks ---- */

Test(channel, reads_a_signed_shopify_order_with_its_totals_and_lines)
{
	struct fx_channel ch = chan(FX_CHANNEL_SHOPIFY);
	const char *h[] = {"X-Shopify-Hmac-Sha256",
			   SIG_SHOPIFY_CREATE,
			   "X-Shopify-Webhook-Id",
			   "b54557e4-bdd9-4b37",
			   "X-Shopify-Topic",
			   "orders/create",
			   NULL};
	struct fx_channel_delivery d;
	size_t n;
	char *body = load("shopify_orders_create.json", &n);

	cr_assert_eq(fx_channel_read_webhook(&ch, hdr, h, body, n, &arena, &d, &err), 0, "%s", err.message);
	cr_assert_eq(d.event, FX_CHANNEL_EVENT_ORDER);
	cr_assert_str_eq(d.delivery_id, "b54557e4-bdd9-4b37");
	cr_assert_str_eq(d.topic, "orders/create");
	cr_assert_str_eq(d.order.external_id, "820982911946154508");
	cr_assert_str_eq(d.order.number, "#1234");
	cr_assert_eq(d.order.state, FX_CHANNEL_ORDER_OPEN);
	cr_assert_str_eq(d.order.updated_at, "2026-12-02T12:01:35+02:00");
	cr_assert_str_eq(d.order.customer_name, "Thandi Nkosi");
	cr_assert_str_eq(d.order.customer_email, "thandi@example.co.za");
	cr_assert_str_eq(d.order.customer_phone, "+27821234567");
	cr_assert_str_eq(d.order.address_line2, "Unit 4");
	cr_assert_str_eq(d.order.address_postal_code, "8001");
	cr_assert_str_eq(d.order.address_country, "ZA");
	cr_assert_eq(d.order.subtotal_cents, 154900);
	cr_assert_eq(d.order.shipping_cents, 9999);
	cr_assert_eq(d.order.total_cents, 164899);
	cr_assert_eq(d.order.nlines, 2);
	cr_assert_str_eq(d.order.lines[0].external_line_id, "866550311766439020");
	cr_assert_str_eq(d.order.lines[0].listing_key, "808950810");
	cr_assert_str_eq(d.order.lines[0].sku, "TEA-ROO-250");
	cr_assert_eq(d.order.lines[0].quantity, 2);
	cr_assert_eq(d.order.lines[0].unit_price_cents, 14950);
	cr_assert_str_eq(d.order.lines[1].title, "Kettle \xe2\x80\x93 Stainless \xe2\x80\x9c"
						 "Classic\xe2\x80\x9d");
	cr_assert_eq(d.order.lines[1].unit_price_cents, 130000);
	free(body);
}

Test(channel, follows_a_shopify_cancellation)
{
	struct fx_channel ch = chan(FX_CHANNEL_SHOPIFY);
	const char *h[] = {"x-shopify-hmac-sha256",
			   SIG_SHOPIFY_CANCELLED,
			   "x-shopify-webhook-id",
			   "d1",
			   "x-shopify-topic",
			   "orders/cancelled",
			   NULL};
	struct fx_channel_delivery d;
	size_t n;
	char *body = load("shopify_orders_cancelled.json", &n);

	cr_assert_eq(fx_channel_read_webhook(&ch, hdr, h, body, n, &arena, &d, &err), 0, "%s", err.message);
	cr_assert_eq(d.order.state, FX_CHANNEL_ORDER_CANCELLED);
	cr_assert_str_eq(d.order.customer_name, "Bob Norman");
	cr_assert_null(d.order.address_line1);
	cr_assert_eq(d.order.total_cents, 59800);
	cr_assert_eq(d.order.shipping_cents, 0);
	free(body);
}

Test(channel, refuses_a_shopify_delivery_whose_body_changed_after_signing)
{
	struct fx_channel ch = chan(FX_CHANNEL_SHOPIFY);
	const char *h[] = {"X-Shopify-Hmac-Sha256",
			   SIG_SHOPIFY_CREATE,
			   "X-Shopify-Webhook-Id",
			   "d1",
			   "X-Shopify-Topic",
			   "orders/create",
			   NULL};
	struct fx_channel_delivery d;
	size_t n;
	char *body = load("shopify_orders_create.json", &n);
	char *p = strstr(body, "1648.99");

	p[0] = '9';
	cr_assert_eq(fx_channel_read_webhook(&ch, hdr, h, body, n, &arena, &d, &err), -1);
	cr_assert(fx_err_is(&err, FX_UNAUTHENTICATED));
	p[0] = '1';
	/* The trailing newline is part of the signed bytes. */
	fx_err_clear(&err);
	cr_assert_eq(fx_channel_read_webhook(&ch, hdr, h, body, n - 1, &arena, &d, &err), -1);
	cr_assert(fx_err_is(&err, FX_UNAUTHENTICATED));
	free(body);
}

Test(channel, refuses_a_wrong_missing_or_unconfigured_signature)
{
	struct fx_channel ch = chan(FX_CHANNEL_SHOPIFY);
	const char *wrong[] = {"X-Shopify-Hmac-Sha256",
			       "pjC7WdIedFT6S/hSQiX5enUjkdq/MqzQc/lbe2y+vVF=",
			       "X-Shopify-Webhook-Id",
			       "d1",
			       "X-Shopify-Topic",
			       "orders/create",
			       NULL};
	const char *lower[] = {"X-Shopify-Hmac-Sha256",
			       "PJC7WDIEDFT6S/HSQIX5ENUJKDQ/MQZQC/LBE2Y+VVE=",
			       "X-Shopify-Webhook-Id",
			       "d1",
			       "X-Shopify-Topic",
			       "orders/create",
			       NULL};
	const char *none[] = {"X-Shopify-Webhook-Id", "d1", "X-Shopify-Topic", "orders/create", NULL};
	const char *good[] = {"X-Shopify-Hmac-Sha256",
			      SIG_SHOPIFY_CREATE,
			      "X-Shopify-Webhook-Id",
			      "d1",
			      "X-Shopify-Topic",
			      "orders/create",
			      NULL};
	struct fx_channel_delivery d;
	size_t n;
	char *body = load("shopify_orders_create.json", &n);

	cr_assert_eq(fx_channel_read_webhook(&ch, hdr, wrong, body, n, &arena, &d, &err), -1);
	cr_assert(fx_err_is(&err, FX_UNAUTHENTICATED));
	fx_err_clear(&err);
	/* base64 is compared exactly: another case is another signature. */
	cr_assert_eq(fx_channel_read_webhook(&ch, hdr, lower, body, n, &arena, &d, &err), -1);
	cr_assert(fx_err_is(&err, FX_UNAUTHENTICATED));
	fx_err_clear(&err);
	cr_assert_eq(fx_channel_read_webhook(&ch, hdr, none, body, n, &arena, &d, &err), -1);
	cr_assert(fx_err_is(&err, FX_UNAUTHENTICATED));
	fx_err_clear(&err);
	ch.webhook_secret = NULL;
	cr_assert_eq(fx_channel_read_webhook(&ch, hdr, good, body, n, &arena, &d, &err), -1);
	cr_assert(fx_err_is(&err, FX_UNAUTHENTICATED));
	fx_err_clear(&err);
	ch.webhook_secret = "another secret";
	cr_assert_eq(fx_channel_read_webhook(&ch, hdr, good, body, n, &arena, &d, &err), -1);
	cr_assert(fx_err_is(&err, FX_UNAUTHENTICATED));
	free(body);
}

Test(channel, ignores_signed_topics_that_are_not_orders)
{
	struct fx_channel ch = chan(FX_CHANNEL_SHOPIFY);
	const char *h[] = {"X-Shopify-Hmac-Sha256",
			   SIG_SHOPIFY_CREATE,
			   "X-Shopify-Webhook-Id",
			   "d1",
			   "X-Shopify-Topic",
			   "inventory_levels/update",
			   NULL};
	struct fx_channel_delivery d;
	size_t n;
	char *body = load("shopify_orders_create.json", &n);

	cr_assert_eq(fx_channel_read_webhook(&ch, hdr, h, body, n, &arena, &d, &err), 0);
	cr_assert_eq(d.event, FX_CHANNEL_EVENT_IGNORED);
	free(body);
}

Test(channel, refuses_a_signed_delivery_without_id_or_with_a_body_that_is_no_order)
{
	struct fx_channel ch = chan(FX_CHANNEL_SHOPIFY);
	const char *noid[] = {"X-Shopify-Hmac-Sha256", SIG_SHOPIFY_CREATE, "X-Shopify-Topic", "orders/create", NULL};
	/* openssl dgst -sha256 -hmac 'whsec-Shop1fy-é' -binary <<< '{"id":1}' | base64, newline included */
	const char *noitems[] = {"X-Shopify-Hmac-Sha256",
				 "B3/l61EkvHr75bPJ5RPUKTqBLRiOVwbEIuWt5hYmmSU=",
				 "X-Shopify-Webhook-Id",
				 "d2",
				 "X-Shopify-Topic",
				 "orders/create",
				 NULL};
	struct fx_channel_delivery d;
	size_t n;
	char *body = load("shopify_orders_create.json", &n);

	cr_assert_eq(fx_channel_read_webhook(&ch, hdr, noid, body, n, &arena, &d, &err), -1);
	cr_assert(fx_err_is(&err, FX_INVALID_ARGUMENT));
	fx_err_clear(&err);
	cr_assert_eq(fx_channel_read_webhook(&ch, hdr, noitems, "{\"id\":1}\n", 9, &arena, &d, &err), -1);
	cr_assert(fx_err_is(&err, FX_INVALID_ARGUMENT), "%s", err.message);
	cr_assert(strstr(err.message, "line_items"), "%s", err.message);
	free(body);
}

/* ---- WooCommerce webhooks ---- */

Test(channel, reads_a_signed_woocommerce_order_with_variation_keys)
{
	struct fx_channel ch = chan(FX_CHANNEL_WOOCOMMERCE);
	const char *h[] = {"X-WC-Webhook-Signature",
			   SIG_WOO_UPDATED,
			   "X-WC-Webhook-Delivery-ID",
			   "8f2c",
			   "X-WC-Webhook-Topic",
			   "order.updated",
			   NULL};
	struct fx_channel_delivery d;
	size_t n;
	char *body = load("woocommerce_order_updated.json", &n);

	cr_assert_eq(fx_channel_read_webhook(&ch, hdr, h, body, n, &arena, &d, &err), 0, "%s", err.message);
	cr_assert_eq(d.event, FX_CHANNEL_EVENT_ORDER);
	cr_assert_str_eq(d.order.external_id, "727");
	cr_assert_str_eq(d.order.number, "727");
	cr_assert_eq(d.order.state, FX_CHANNEL_ORDER_OPEN);
	cr_assert_str_eq(d.order.updated_at, "2026-12-02T12:05:00Z");
	cr_assert_str_eq(d.order.customer_name, "Sipho Dlamini");
	cr_assert_str_eq(d.order.customer_email, "sipho@example.co.za");
	cr_assert_str_eq(d.order.address_province, "GP");
	cr_assert_null(d.order.address_line2);
	cr_assert_eq(d.order.total_cents, 55000);
	cr_assert_eq(d.order.shipping_cents, 10000);
	cr_assert_eq(d.order.subtotal_cents, 45000);
	cr_assert_eq(d.order.nlines, 2);
	cr_assert_str_eq(d.order.lines[0].listing_key, "93");
	cr_assert_eq(d.order.lines[0].unit_price_cents, 7500);
	cr_assert_str_eq(d.order.lines[1].listing_key, "22:23");
	cr_assert_str_eq(d.order.lines[1].sku, "SYI-BLK");
	cr_assert_eq(d.order.lines[1].unit_price_cents, 30000);
	free(body);
}

Test(channel, answers_woocommerce_creation_ping_without_a_signature)
{
	struct fx_channel ch = chan(FX_CHANNEL_WOOCOMMERCE);
	const char *unsigned_h[] = {"Content-Type", "application/x-www-form-urlencoded", NULL};
	const char *signed_h[] = {"X-WC-Webhook-Signature", SIG_WOO_PING, NULL};
	struct fx_channel_delivery d;

	cr_assert_eq(fx_channel_read_webhook(&ch, hdr, unsigned_h, "webhook_id=42", 13, &arena, &d, &err), 0);
	cr_assert_eq(d.event, FX_CHANNEL_EVENT_PING);
	cr_assert_eq(fx_channel_read_webhook(&ch, hdr, signed_h, "webhook_id=42", 13, &arena, &d, &err), 0);
	cr_assert_eq(d.event, FX_CHANNEL_EVENT_PING);
	/* Anything else unsigned is refused, even form text. */
	cr_assert_eq(fx_channel_read_webhook(&ch, hdr, unsigned_h, "webhook_id=42&x=1", 17, &arena, &d, &err), -1);
	cr_assert(fx_err_is(&err, FX_UNAUTHENTICATED));
	/* Shopify has no ping. */
	ch = chan(FX_CHANNEL_SHOPIFY);
	fx_err_clear(&err);
	cr_assert_eq(fx_channel_read_webhook(&ch, hdr, unsigned_h, "webhook_id=42", 13, &arena, &d, &err), -1);
	cr_assert(fx_err_is(&err, FX_UNAUTHENTICATED));
}

/* ---- Takealot webhooks ---- */

Test(channel, reads_a_takealot_sale_signed_in_hex_of_either_case)
{
	struct fx_channel ch = chan(FX_CHANNEL_TAKEALOT);
	char upper[80];
	const char *h[] = {"X-Takealot-Signature",
			   upper,
			   "X-Takealot-Delivery",
			   "0b9c2b64-7d1f-4a55-9e0e-3b1c4a7f5d21",
			   "X-Takealot-Event",
			   "New Leadtime Order",
			   NULL};
	struct fx_channel_delivery d;
	size_t n;
	char *body = load("takealot_sale.json", &n);

	for (size_t i = 0; i <= strlen(SIG_TAKEALOT_SALE); i++)
		upper[i] = (char)toupper((unsigned char)SIG_TAKEALOT_SALE[i]);
	cr_assert_eq(fx_channel_read_webhook(&ch, hdr, h, body, n, &arena, &d, &err), 0, "%s", err.message);
	cr_assert_eq(d.event, FX_CHANNEL_EVENT_ORDER);
	cr_assert_str_eq(d.topic, "New Leadtime Order");
	cr_assert_str_eq(d.order.external_id, "100234567");
	cr_assert_eq(d.order.state, FX_CHANNEL_ORDER_OPEN);
	cr_assert_str_eq(d.order.customer_name, "");
	cr_assert_eq(d.order.nlines, 1);
	cr_assert_str_eq(d.order.lines[0].external_line_id, "128745901");
	cr_assert_str_eq(d.order.lines[0].listing_key, "91625339");
	cr_assert_eq(d.order.lines[0].quantity, 3);
	cr_assert_eq(d.order.lines[0].unit_price_cents, 15900);
	cr_assert_eq(d.order.total_cents, 47700);
	/* The base64 form of the right MAC is not the hex the channel sends. */
	h[1] = "BXIVyXhTYrpfghZjxszKh95FCCH7RfIW1o5ypL6jxRo=";
	cr_assert_eq(fx_channel_read_webhook(&ch, hdr, h, body, n, &arena, &d, &err), -1);
	cr_assert(fx_err_is(&err, FX_UNAUTHENTICATED));
	free(body);
}

Test(channel, leaves_out_cancelled_takealot_items_and_takes_the_least_advanced_state)
{
	struct fx_channel ch = chan(FX_CHANNEL_TAKEALOT);
	const char *h[] = {"X-Takealot-Signature",
			   SIG_TAKEALOT_ORDER,
			   "X-Takealot-Delivery",
			   "u2",
			   "X-Takealot-Event",
			   "Sale Status Changed",
			   NULL};
	struct fx_channel_delivery d;
	size_t n;
	char *body = load("takealot_order.json", &n);

	cr_assert_eq(fx_channel_read_webhook(&ch, hdr, h, body, n, &arena, &d, &err), 0, "%s", err.message);
	cr_assert_str_eq(d.order.external_id, "100234999");
	cr_assert_eq(d.order.state, FX_CHANNEL_ORDER_SHIPPED);
	cr_assert_eq(d.order.nlines, 1);
	cr_assert_str_eq(d.order.lines[0].sku, "TEA-ROO-250");
	cr_assert_eq(d.order.total_cents, 15900);
	free(body);
}

/* ---- push ---- */

static struct fx_channel_push_item item(const char *ext, int64_t q, int64_t cmp)
{
	struct fx_channel_push_item it = {.external_id = ext, .sku = "SKU", .quantity = q, .compare_quantity = cmp};
	return it;
}

/*
 * Since Admin API 2026-04 every quantity must carry changeFromQuantity (null: no compare-and-swap)
 * and the mutation an @idempotent key, or Shopify refuses the call; compareQuantity is gone in 2026-07.
 */
Test(channel, builds_one_shopify_set_with_change_from_quantities_and_an_idempotency_key)
{
	struct fx_channel ch = chan(FX_CHANNEL_SHOPIFY);
	struct fx_channel_push_item it[] = {item("39072856001", 7, 9), item("gid://shopify/InventoryItem/5", 0, -1)};
	struct fx_channel_call *c;
	size_t nc;
	const char *k1, *k2;
	char key1[64];

	cr_assert_eq(fx_channel_push_calls(&ch, it, 2, &arena, &c, &nc, &err), 0, "%s", err.message);
	cr_assert_eq(nc, 1);
	cr_assert_str_eq(c[0].url, "http://127.0.0.1:9/admin/api/2026-07/graphql.json");
	cr_assert_str_eq(c[0].method, "POST");
	cr_assert_str_eq(c[0].headers[2], "X-Shopify-Access-Token: shpat_abc");
	cr_assert(strstr(c[0].body, "inventorySetQuantities(input: $input) @idempotent(key: "), "%s", c[0].body);
	cr_assert(strstr(c[0].body, "\"name\":\"available\""));
	cr_assert(strstr(c[0].body, "{\"inventoryItemId\":\"gid://shopify/InventoryItem/39072856001\",\"locationId\":"
				    "\"gid://shopify/Location/655441491\",\"quantity\":7,\"changeFromQuantity\":9}"),
		  "%s", c[0].body);
	cr_assert(strstr(c[0].body, "\"quantity\":0,\"changeFromQuantity\":null}"), "%s", c[0].body);
	cr_assert_null(strstr(c[0].body, "ompareQuantity"));
	cr_assert_eq(c[0].nitems, 2);

	/* A new key for every call: the same body later is another operation (the stock moved in between). */
	k1 = strstr(c[0].body, "@idempotent(key: ");
	cr_assert(snprintf(key1, sizeof key1, "%.40s", k1) > 0);
	cr_assert_eq(fx_channel_push_calls(&ch, it, 2, &arena, &c, &nc, &err), 0);
	k2 = strstr(c[0].body, "@idempotent(key: ");
	cr_assert(k2);
	cr_assert_neq(strncmp(key1, k2, 40), 0, "%s", key1);

	it[1].external_id = "815:23";
	cr_assert_eq(fx_channel_push_calls(&ch, it, 2, &arena, &c, &nc, &err), -1);
	cr_assert(fx_err_is(&err, FX_INVALID_ARGUMENT));
}

Test(channel, reads_shopify_user_errors_per_item)
{
	struct fx_channel ch = chan(FX_CHANNEL_SHOPIFY);
	struct fx_channel_push_item it[] = {item("1", 1, 0), item("2", 2, 0), item("3", 3, 0)};
	struct fx_channel_call *c;
	size_t nc;
	struct fx_httpc_resp r;
	struct fx_channel_limits l;

	cr_assert_eq(fx_channel_push_calls(&ch, it, 3, &arena, &c, &nc, &err), 0);
	resp_file(&r, 200, NULL, "shopify_set_usererrors.json");
	cr_assert_eq(fx_channel_push_answer(&ch, &c[0], &r, it, &l, &err), 0, "%s", err.message);
	cr_assert(it[0].ok);
	cr_assert_not(it[1].ok);
	cr_assert(it[1].stale);
	cr_assert(strstr(it[1].error, "CHANGE_FROM_QUANTITY_STALE"));
	cr_assert_not(it[2].ok);
	cr_assert_not(it[2].stale);
	cr_assert(strstr(it[2].error, "could not be found"), "%s", it[2].error);
	cr_assert_eq(l.retry_after_ms, 0);
	fx_httpc_resp_cleanup(&r);

	resp_file(&r, 200, NULL, "shopify_set_ok.json");
	cr_assert_eq(fx_channel_push_answer(&ch, &c[0], &r, it, &l, &err), 0);
	cr_assert(it[0].ok && it[1].ok && it[2].ok);
	fx_httpc_resp_cleanup(&r);
}

Test(channel, waits_for_the_shopify_bucket_when_throttled)
{
	struct fx_channel ch = chan(FX_CHANNEL_SHOPIFY);
	struct fx_channel_push_item it[] = {item("1", 1, 0)};
	struct fx_channel_call *c;
	size_t nc;
	struct fx_httpc_resp r;
	struct fx_channel_limits l;

	cr_assert_eq(fx_channel_push_calls(&ch, it, 1, &arena, &c, &nc, &err), 0);
	resp_file(&r, 200, NULL, "shopify_throttled.json");
	cr_assert_eq(fx_channel_push_answer(&ch, &c[0], &r, it, &l, &err), -1);
	cr_assert(fx_err_is(&err, FX_RESOURCE_EXHAUSTED));
	/* (252 requested - 2 available) / 100 per second = 2.5 s. */
	cr_assert(l.retry_after_ms >= 2500 && l.retry_after_ms <= 2501, "%lld", (long long)l.retry_after_ms);
	cr_assert_str_eq(l.message, "Throttled");
	cr_assert_not(l.auth_refused);
	fx_httpc_resp_cleanup(&r);
}

Test(channel, reads_refused_credentials_and_retry_after)
{
	struct fx_channel ch = chan(FX_CHANNEL_SHOPIFY);
	struct fx_httpc_resp r;
	struct fx_channel_limits l;

	resp_file(&r, 401, NULL, "shopify_unauthorized.json");
	fx_channel_limits_read(&ch, &r, 1764700000, &l);
	cr_assert(l.auth_refused);
	cr_assert(strstr(l.message, "Invalid API key or access token"));
	fx_httpc_resp_cleanup(&r);

	resp_set(&r, 429, "Retry-After: 30\r\n", "");
	fx_channel_limits_read(&ch, &r, 1764700000, &l);
	cr_assert_eq(l.retry_after_ms, 30000);
	cr_assert_not(l.auth_refused);
	fx_httpc_resp_cleanup(&r);

	/* 1764700000 is Tue, 02 Dec 2025 18:26:40 GMT: the date is 20 s later. */
	resp_set(&r, 503, "Retry-After: Tue, 02 Dec 2025 18:27:00 GMT\r\n", "");
	fx_channel_limits_read(&ch, &r, 1764700000, &l);
	cr_assert_eq(l.retry_after_ms, 20000);
	cr_assert_str_eq(l.message, "HTTP 503");
	fx_httpc_resp_cleanup(&r);

	resp_set(&r, 429, NULL, "");
	fx_channel_limits_read(&ch, &r, 1764700000, &l);
	cr_assert_eq(l.retry_after_ms, 1000);
	fx_httpc_resp_cleanup(&r);
}

Test(channel, groups_woocommerce_variations_per_parent)
{
	struct fx_channel ch = chan(FX_CHANNEL_WOOCOMMERCE);
	struct fx_channel_push_item it[] = {item("93", 7, -1), item("22:23", 2, -1), item("94", 0, -1),
					    item("22:24", 5, -1)};
	struct fx_channel_call *c;
	size_t nc;

	cr_assert_eq(fx_channel_push_calls(&ch, it, 4, &arena, &c, &nc, &err), 0, "%s", err.message);
	cr_assert_eq(nc, 2);
	cr_assert_str_eq(c[0].url, "http://127.0.0.1:9/wp-json/wc/v3/products/batch");
	cr_assert_str_eq(c[0].body, "{\"update\":[{\"id\":93,\"manage_stock\":true,\"stock_quantity\":7},{\"id\":94,"
				    "\"manage_stock\":true,\"stock_quantity\":0}]}");
	cr_assert_eq(c[0].nitems, 2);
	cr_assert_eq(c[0].items[1], 2);
	/* base64("ck_1:cs_2") */
	cr_assert_str_eq(c[0].headers[2], "Authorization: Basic Y2tfMTpjc18y");
	cr_assert_str_eq(c[1].url, "http://127.0.0.1:9/wp-json/wc/v3/products/22/variations/batch");
	cr_assert_str_eq(c[1].body, "{\"update\":[{\"id\":23,\"manage_stock\":true,\"stock_quantity\":2},{\"id\":24,"
				    "\"manage_stock\":true,\"stock_quantity\":5}]}");

	it[0].external_id = "93:";
	cr_assert_eq(fx_channel_push_calls(&ch, it, 4, &arena, &c, &nc, &err), -1);
	cr_assert(fx_err_is(&err, FX_INVALID_ARGUMENT));
}

Test(channel, reads_woocommerce_batch_errors_per_item_and_refused_keys)
{
	struct fx_channel ch = chan(FX_CHANNEL_WOOCOMMERCE);
	struct fx_channel_push_item it[] = {item("93", 7, -1), item("94", 1, -1)};
	struct fx_channel_call *c;
	size_t nc;
	struct fx_httpc_resp r;
	struct fx_channel_limits l;

	cr_assert_eq(fx_channel_push_calls(&ch, it, 2, &arena, &c, &nc, &err), 0);
	resp_file(&r, 200, NULL, "woocommerce_batch_answer.json");
	cr_assert_eq(fx_channel_push_answer(&ch, &c[0], &r, it, &l, &err), 0, "%s", err.message);
	cr_assert(it[0].ok);
	cr_assert_not(it[1].ok);
	cr_assert_str_eq(it[1].error, "Invalid ID.");
	fx_httpc_resp_cleanup(&r);

	resp_file(&r, 401, NULL, "woocommerce_unauthorized.json");
	cr_assert_eq(fx_channel_push_answer(&ch, &c[0], &r, it, &l, &err), -1);
	cr_assert(fx_err_is(&err, FX_UNAUTHENTICATED));
	cr_assert(l.auth_refused);
	cr_assert_str_eq(l.message, "Sorry, you cannot list resources.");
	fx_httpc_resp_cleanup(&r);

	fx_err_clear(&err);
	resp_set(&r, 503, NULL, "<html>busy</html>");
	cr_assert_eq(fx_channel_push_answer(&ch, &c[0], &r, it, &l, &err), -1);
	cr_assert(fx_err_is(&err, FX_UNAVAILABLE));
	fx_httpc_resp_cleanup(&r);
}

Test(channel, builds_a_takealot_batch_and_reads_each_offer)
{
	struct fx_channel ch = chan(FX_CHANNEL_TAKEALOT);
	struct fx_channel_push_item it[] = {item("91625339", 4, -1), item("91625400", 0, -1), item("91625500", 1, -1)};
	struct fx_channel_call *c;
	size_t nc;
	struct fx_httpc_resp r;
	struct fx_channel_limits l;

	cr_assert_eq(fx_channel_push_calls(&ch, it, 3, &arena, &c, &nc, &err), 0, "%s", err.message);
	cr_assert_eq(nc, 1);
	cr_assert_str_eq(c[0].url, "http://127.0.0.1:9/v2/offers/batch");
	cr_assert_str_eq(c[0].headers[2], "Authorization: Key tk-key");
	cr_assert(strstr(c[0].body, "{\"offer_id\":91625339,\"leadtime_stock\":[{\"merchant_warehouse_id\":4413,"
				    "\"quantity\":4}]}"),
		  "%s", c[0].body);
	resp_file(&r, 200, "x-RateLimit-Limit: 60\r\nx-RateLimit-Remaining: 59\r\nx-RateLimit-Reset: 12\r\n",
		  "takealot_batch_answer.json");
	cr_assert_eq(fx_channel_push_answer(&ch, &c[0], &r, it, &l, &err), 0);
	cr_assert(it[0].ok);
	cr_assert_not(it[1].ok);
	cr_assert_str_eq(it[1].error, "Offer is archived");
	cr_assert_not(it[2].ok);
	cr_assert_eq(l.retry_after_ms, 0);
	fx_httpc_resp_cleanup(&r);

	/* The last request of the window: wait for its reset. */
	resp_file(&r, 200, "x-RateLimit-Limit: 60\r\nx-RateLimit-Remaining: 0\r\nx-RateLimit-Reset: 12\r\n",
		  "takealot_batch_answer.json");
	cr_assert_eq(fx_channel_push_answer(&ch, &c[0], &r, it, &l, &err), 0);
	cr_assert_eq(l.retry_after_ms, 12000);
	fx_httpc_resp_cleanup(&r);
}

/* ---- poll ---- */

struct seen {
	int n;
	struct fx_channel_order o[8];
};

static int collect(void *ctx, const struct fx_channel_order *o, struct fx_err *e)
{
	struct seen *s = ctx;

	(void)e;
	cr_assert(s->n < 8);
	s->o[s->n++] = *o;
	return 0;
}

static int count_orders(void *ctx, const struct fx_channel_order *o, struct fx_err *e)
{
	(void)e;
	cr_assert(o->nlines >= 1);
	(*(int *)ctx)++;
	return 0;
}

Test(channel, polls_shopify_pages_and_resumes_after_the_latest_change)
{
	struct fx_channel ch = chan(FX_CHANNEL_SHOPIFY);
	struct fx_channel_call c;
	struct fx_httpc_resp r;
	struct fx_channel_limits l;
	struct seen s = {0};
	const char *next;
	bool more;
	const int64_t now = 1764700000; /* 2025-12-02T18:26:40Z */

	cr_assert_eq(fx_channel_poll_call(&ch, NULL, now, &arena, &c, &err), 0);
	cr_assert(strstr(c.body, "\"q\":\"updated_at:>='2025-12-01T18:26:40Z'\""), "%s", c.body);
	cr_assert(strstr(c.body, "\"after\":null"));
	resp_file(&r, 200, NULL, "shopify_orders_page.json");
	cr_assert_eq(fx_channel_poll_answer(&ch, NULL, now, &r, &arena, collect, &s, &next, &more, &l, &err), 0, "%s",
		     err.message);
	cr_assert_eq(s.n, 2);
	cr_assert(more);
	cr_assert_str_eq(s.o[0].external_id, "450789469");
	cr_assert_str_eq(s.o[0].lines[0].listing_key, "39072856001");
	cr_assert_str_eq(s.o[0].lines[0].external_line_id, "466157049");
	cr_assert_eq(s.o[0].lines[0].unit_price_cents, 19900);
	cr_assert_eq(s.o[0].total_cents, 45800);
	cr_assert_eq(s.o[0].state, FX_CHANNEL_ORDER_OPEN);
	cr_assert_eq(s.o[1].state, FX_CHANNEL_ORDER_SHIPPED);
	cr_assert_null(s.o[1].lines[0].listing_key);
	cr_assert_null(s.o[1].lines[0].sku);
	cr_assert_str_eq(s.o[1].customer_name, "");
	cr_assert_str_eq(next,
			 "v1|2025-12-01T18:26:40Z|eyJsYXN0X2lkIjo0NTA3ODk0NzAsImxhc3RfdmFsdWUiOiIyMDI2LTEyLTAyIn0="
			 "|2026-12-02T09:30:00.500Z");

	/* The next page asks from the same point after the page cursor. */
	cr_assert_eq(fx_channel_poll_call(&ch, next, now, &arena, &c, &err), 0);
	cr_assert(strstr(c.body, "\"after\":\"eyJsYXN0X2lk"), "%s", c.body);
	fx_httpc_resp_cleanup(&r);

	/* The last page: resume from the latest change seen. */
	resp_set(&r, 200, NULL,
		 "{\"data\":{\"orders\":{\"pageInfo\":{\"hasNextPage\":false,\"endCursor\":null},\"nodes\":[]}}}");
	cr_assert_eq(fx_channel_poll_answer(&ch, next, now, &r, &arena, collect, &s, &next, &more, &l, &err), 0);
	cr_assert_not(more);
	cr_assert_str_eq(next, "v1|2026-12-02T09:30:00.500Z||");
	fx_httpc_resp_cleanup(&r);

	cr_assert_eq(fx_channel_poll_call(&ch, "2026-12-02T09:30:00Z", now, &arena, &c, &err), -1);
	cr_assert(fx_err_is(&err, FX_INVALID_ARGUMENT));
}

/* Found by fuzz_channel: a page cursor with '|' became a stored cursor no later poll read. */
Test(channel, refuses_a_shopify_page_cursor_that_ours_cannot_carry)
{
	static const char *const bad[] = {"\"a|b\"", "\"\"", "\"a b\"", "\"\\u00e9\""};
	struct fx_channel ch = chan(FX_CHANNEL_SHOPIFY);
	struct fx_httpc_resp r;
	struct fx_channel_limits l;
	struct seen s = {0};
	const char *next;
	bool more;

	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char body[256];

		snprintf(body, sizeof body,
			 "{\"data\":{\"orders\":{\"pageInfo\":{\"hasNextPage\":true,\"endCursor\":%s},"
			 "\"nodes\":[]}}}",
			 bad[i]);
		resp_set(&r, 200, NULL, body);
		cr_assert_eq(
			fx_channel_poll_answer(&ch, NULL, 1764700000, &r, &arena, collect, &s, &next, &more, &l, &err),
			-1, "%s", bad[i]);
		cr_assert(fx_err_is(&err, FX_BAD_GATEWAY), "%s: %s", bad[i], err.message);
		cr_assert_null(next);
		fx_httpc_resp_cleanup(&r);
	}
}

Test(channel, polls_woocommerce_by_modified_date_and_page)
{
	struct fx_channel ch = chan(FX_CHANNEL_WOOCOMMERCE);
	struct fx_channel_call c;
	struct fx_httpc_resp r;
	struct fx_channel_limits l;
	struct seen s = {0};
	const char *next;
	bool more;
	size_t n;
	char *order = load("woocommerce_order_updated.json", &n);
	char *page = malloc(n + 3);

	cr_assert_eq(fx_channel_poll_call(&ch, "v1|2026-12-01T00:00:00Z||", 1764700000, &arena, &c, &err), 0);
	cr_assert_str_eq(c.url, "http://127.0.0.1:9/wp-json/wc/v3/orders?modified_after=2026-12-01T00%3A00%3A00Z"
				"&dates_are_gmt=true&orderby=modified&order=asc&per_page=50&page=1");
	cr_assert_str_eq(c.method, "GET");
	page[0] = '[';
	strcpy(page + 1, order);
	strcat(page, "]");
	resp_set(&r, 200, "X-WP-Total: 51\r\nX-WP-TotalPages: 2\r\n", page);
	cr_assert_eq(fx_channel_poll_answer(&ch, "v1|2026-12-01T00:00:00Z||", 1764700000, &r, &arena, collect, &s,
					    &next, &more, &l, &err),
		     0, "%s", err.message);
	cr_assert_eq(s.n, 1);
	cr_assert(more);
	cr_assert_str_eq(next, "v1|2026-12-01T00:00:00Z|2|2026-12-02T12:05:00Z");
	cr_assert_eq(fx_channel_poll_call(&ch, next, 1764700000, &arena, &c, &err), 0);
	cr_assert(strstr(c.url, "&page=2"));
	fx_httpc_resp_cleanup(&r);
	free(page);
	free(order);
}

Test(channel, polls_takealot_sales_grouped_into_orders)
{
	struct fx_channel ch = chan(FX_CHANNEL_TAKEALOT);
	struct fx_channel_call c;
	struct fx_httpc_resp r;
	struct fx_channel_limits l;
	struct seen s = {0};
	const char *next;
	bool more;

	cr_assert_eq(fx_channel_poll_call(&ch, "v1|2025-12-01T10:00:00Z||", 1764700000, &arena, &c, &err), 0);
	cr_assert_str_eq(c.url, "http://127.0.0.1:9/v2/sales?filters=start_date:2025-11-24;end_date:2025-12-02"
				"&page_number=1&page_size=100");
	resp_file(&r, 200, NULL, "takealot_sales_page.json");
	cr_assert_eq(fx_channel_poll_answer(&ch, "v1|2025-12-01T10:00:00Z||", 1764700000, &r, &arena, collect, &s,
					    &next, &more, &l, &err),
		     0, "%s", err.message);
	cr_assert_eq(s.n, 2);
	cr_assert_not(more);
	cr_assert_str_eq(s.o[0].external_id, "500");
	cr_assert_eq(s.o[0].nlines, 2);
	cr_assert_eq(s.o[0].state, FX_CHANNEL_ORDER_SHIPPED);
	cr_assert_eq(s.o[0].total_cents, 15900 + 2 * 129900);
	cr_assert_str_eq(s.o[1].external_id, "501");
	cr_assert_eq(s.o[1].state, FX_CHANNEL_ORDER_CANCELLED);
	cr_assert_eq(s.o[1].nlines, 0);
	cr_assert_str_eq(next, "v1|2025-12-02T18:26:40Z||");
	fx_httpc_resp_cleanup(&r);
}

Test(channel, reports_a_poll_answer_that_is_not_the_channels_shape)
{
	struct fx_channel ch = chan(FX_CHANNEL_WOOCOMMERCE);
	struct fx_httpc_resp r;
	struct fx_channel_limits l;
	struct seen s = {0};
	const char *next;
	bool more;

	resp_set(&r, 200, NULL, "[{\"id\":1,\"line_items\":[{\"id\":2,\"quantity\":0}]}]");
	cr_assert_eq(fx_channel_poll_answer(&ch, NULL, 1764700000, &r, &arena, collect, &s, &next, &more, &l, &err),
		     -1);
	cr_assert(fx_err_is(&err, FX_BAD_GATEWAY), "%s", err.message);
	cr_assert(strstr(err.message, "line_items[0].quantity"), "%s", err.message);
	cr_assert_eq(s.n, 0);
	fx_httpc_resp_cleanup(&r);
}

/* ---- test ---- */

Test(channel, tests_credentials_with_a_cheap_read)
{
	struct fx_channel ch = chan(FX_CHANNEL_SHOPIFY);
	struct fx_channel_call c;
	struct fx_httpc_resp r;
	char msg[256];
	bool ok;

	cr_assert_eq(fx_channel_test_call(&ch, &arena, &c, &err), 0);
	cr_assert(strstr(c.body, "shop { name }"));
	resp_set(&r, 200, NULL, "{\"data\":{\"shop\":{\"name\":\"Kaapse Tee\"}}}");
	fx_channel_test_answer(&ch, &r, &ok, msg, sizeof msg);
	cr_assert(ok);
	cr_assert_str_eq(msg, "connected to Kaapse Tee");
	fx_httpc_resp_cleanup(&r);

	ch = chan(FX_CHANNEL_WOOCOMMERCE);
	cr_assert_eq(fx_channel_test_call(&ch, &arena, &c, &err), 0);
	cr_assert_str_eq(c.url, "http://127.0.0.1:9/wp-json/wc/v3/system_status?_fields=environment");
	resp_file(&r, 401, NULL, "woocommerce_unauthorized.json");
	fx_channel_test_answer(&ch, &r, &ok, msg, sizeof msg);
	cr_assert_not(ok);
	cr_assert_str_eq(msg, "Sorry, you cannot list resources.");
	fx_httpc_resp_cleanup(&r);
}

/* ---- against tests/integration/fakechannel, over HTTP ---- */

static struct fakechannel *fake;

static void fake_setup(void)
{
	setup();
	fake = fakechannel_start();
	cr_assert(fake);
}

static void fake_teardown(void)
{
	fakechannel_stop(fake);
	teardown();
}

TestSuite(channel_fake, .init = fake_setup, .fini = fake_teardown);

static struct fx_channel fake_chan(enum fx_channel_type t)
{
	struct fx_channel ch = chan(t);

	ch.base_url = fakechannel_url(fake);
	ch.access_token = FAKECHANNEL_SHOPIFY_TOKEN;
	ch.consumer_key = FAKECHANNEL_WOO_KEY;
	ch.consumer_secret = FAKECHANNEL_WOO_SECRET;
	ch.api_key = FAKECHANNEL_TAKEALOT_KEY;
	return ch;
}

/* Sends c as it is built (lib/httpc: the transport is not what these tests are about). */
static void send_call(const struct fx_channel_call *c, struct fx_httpc_resp *r)
{
	struct fx_httpc_req q = {.method = c->method,
				 .url = c->url,
				 .headers = c->headers,
				 .body = c->body,
				 .body_len = c->body_len,
				 .timeout_ms = 10000,
				 .retry = FX_RETRY_NONE,
				 .max_attempts = 1,
				 .service = "channel-test"};
	struct fx_err e;

	fx_httpc_resp_init(r);
	cr_assert_eq(fx_httpc_do(&q, r, &e), 0, "%s", e.message);
}

static const char *const ext_ids[3][2] = {{"39072856001", "39072856002"}, {"93", "22:23"}, {"91625339", "91625400"}};

Test(channel_fake, pushes_quantities_to_each_channel_as_it_documents)
{
	for (int t = 0; t < 3; t++) {
		struct fx_channel ch = fake_chan((enum fx_channel_type)t);
		struct fx_channel_push_item it[] = {item(ext_ids[t][0], 7, -1), item(ext_ids[t][1], 0, -1)};
		struct fx_channel_call *c;
		size_t nc;
		long long q;

		cr_assert_eq(fx_channel_push_calls(&ch, it, 2, &arena, &c, &nc, &err), 0, "%s", err.message);
		for (size_t k = 0; k < nc; k++) {
			struct fx_httpc_resp r;
			struct fx_channel_limits l;
			send_call(&c[k], &r);
			cr_assert_eq(fx_channel_push_answer(&ch, &c[k], &r, it, &l, &err), 0, "%d: %s", t, err.message);
			fx_httpc_resp_cleanup(&r);
		}
		cr_assert(it[0].ok && it[1].ok, "%d: %s %s", t, it[0].error, it[1].error);
		cr_assert(fakechannel_quantity(fake, (enum fx_channel_type)t, ext_ids[t][0], &q));
		cr_assert_eq(q, 7);
		cr_assert(fakechannel_quantity(fake, (enum fx_channel_type)t, ext_ids[t][1], &q));
		cr_assert_eq(q, 0);
		cr_assert_eq(fakechannel_sets(fake, (enum fx_channel_type)t, ext_ids[t][0]), 1);
	}
	cr_assert_eq(fakechannel_calls(fake, "push"), 4); /* WooCommerce: products and one parent's variations */
}

Test(channel_fake, reports_a_shopify_quantity_that_moved_on_the_channel_as_stale)
{
	struct fx_channel ch = fake_chan(FX_CHANNEL_SHOPIFY);
	struct fx_channel_push_item it[] = {item("5", 4, 9), item("6", 2, 1)};
	struct fx_channel_call *c;
	size_t nc;
	struct fx_httpc_resp r;
	struct fx_channel_limits l;
	long long q;

	fakechannel_set_quantity(fake, FX_CHANNEL_SHOPIFY, "5", 8); /* one sold on Shopify since the last push */
	fakechannel_set_quantity(fake, FX_CHANNEL_SHOPIFY, "6", 1);
	cr_assert_eq(fx_channel_push_calls(&ch, it, 2, &arena, &c, &nc, &err), 0);
	send_call(&c[0], &r);
	cr_assert_eq(fx_channel_push_answer(&ch, &c[0], &r, it, &l, &err), 0, "%s", err.message);
	cr_assert_not(it[0].ok);
	cr_assert(it[0].stale);
	cr_assert(it[1].ok);
	cr_assert_not(fakechannel_quantity(fake, FX_CHANNEL_SHOPIFY, "5", &q));
	cr_assert(fakechannel_quantity(fake, FX_CHANNEL_SHOPIFY, "6", &q));
	cr_assert_eq(q, 2);
	fx_httpc_resp_cleanup(&r);
}

Test(channel_fake, reads_each_channels_throttle_and_refusal)
{
	for (int t = 0; t < 3; t++) {
		struct fx_channel ch = fake_chan((enum fx_channel_type)t);
		struct fx_channel_push_item it[] = {item(ext_ids[t][0], 1, -1)};
		struct fx_channel_call *c;
		size_t nc;
		struct fx_httpc_resp r;
		struct fx_channel_limits l;

		cr_assert_eq(fx_channel_push_calls(&ch, it, 1, &arena, &c, &nc, &err), 0);
		fakechannel_throttle(fake, 5000);
		send_call(&c[0], &r);
		fx_err_clear(&err);
		cr_assert_eq(fx_channel_push_answer(&ch, &c[0], &r, it, &l, &err), -1, "%d", t);
		cr_assert(fx_err_is(&err, FX_RESOURCE_EXHAUSTED), "%d: %s", t, err.message);
		cr_assert(l.retry_after_ms >= 1000 && l.retry_after_ms <= 6000, "%d: %lld", t,
			  (long long)l.retry_after_ms);
		fx_httpc_resp_cleanup(&r);
		fakechannel_throttle(fake, 0);

		fakechannel_refuse_credentials(fake, true);
		send_call(&c[0], &r);
		fx_err_clear(&err);
		cr_assert_eq(fx_channel_push_answer(&ch, &c[0], &r, it, &l, &err), -1);
		cr_assert(l.auth_refused, "%d", t);
		cr_assert(fx_err_is(&err, FX_UNAUTHENTICATED));
		cr_assert_neq(l.message[0], '\0');
		fx_httpc_resp_cleanup(&r);
		fakechannel_refuse_credentials(fake, false);
	}
	cr_assert_eq(fakechannel_calls(fake, "push"), 0);
}

Test(channel_fake, polls_every_page_of_changed_orders_and_then_nothing_more)
{
	for (int t = 0; t < 3; t++) {
		struct fx_channel ch = fake_chan((enum fx_channel_type)t);
		const int64_t now = 1764700000; /* 2025-12-02T18:26:40Z */
		const char *cursor = NULL;
		int seen = 0, pages = 0;
		bool more = true;

		for (int i = 0; i < 60; i++) {
			char id[16], line[16], at[40];
			struct fakechannel_line l = {.line_id = line,
						     .listing_key = ext_ids[t][0],
						     .sku = "TEA",
						     .title = "Tea",
						     .quantity = 1 + i % 3,
						     .unit_price_cents = 15900};
			struct fakechannel_order o = {.external_id = id,
						      .updated_at = at,
						      .first_name = "Ada",
						      .last_name = "Lovelace",
						      .lines = &l,
						      .nlines = 1};
			char *json;
			snprintf(id, sizeof id, "%d", 1000 + i);
			snprintf(line, sizeof line, "%d", 5000 + i);
			fx_ts_format(now - 3600 + i, 0, 0, at);
			json = fakechannel_order_json((enum fx_channel_type)t, &o, true);
			fakechannel_add_order(fake, (enum fx_channel_type)t, id, at, json);
			free(json);
		}
		while (more) {
			struct fx_channel_call c;
			struct fx_httpc_resp r;
			struct fx_channel_limits l;
			const char *next;

			cr_assert(pages++ < 20);
			cr_assert_eq(fx_channel_poll_call(&ch, cursor, now, &arena, &c, &err), 0, "%s", err.message);
			send_call(&c, &r);
			cr_assert_eq(fx_channel_poll_answer(&ch, cursor, now, &r, &arena, count_orders, &seen, &next,
							    &more, &l, &err),
				     0, "%d: %s", t, err.message);
			cursor = next;
			fx_httpc_resp_cleanup(&r);
		}
		cr_assert_eq(seen, 60, "%d: %d", t, seen);
		/* Shopify 5 orders a page (its query cost cap), WooCommerce 50, Takealot 100 sales. */
		cr_assert_eq(pages,
			     t == FX_CHANNEL_SHOPIFY	   ? 12
			     : t == FX_CHANNEL_WOOCOMMERCE ? 2
							   : 1,
			     "%d: %d", t, pages);
		if (t != FX_CHANNEL_TAKEALOT) {
			/* The next run starts at the latest change: only that order again (Shopify's >=), or none. */
			struct fx_channel_call c;
			struct fx_httpc_resp r;
			struct fx_channel_limits l;
			const char *next;
			seen = 0;
			cr_assert_eq(fx_channel_poll_call(&ch, cursor, now, &arena, &c, &err), 0);
			send_call(&c, &r);
			cr_assert_eq(fx_channel_poll_answer(&ch, cursor, now, &r, &arena, count_orders, &seen, &next,
							    &more, &l, &err),
				     0);
			cr_assert_leq(seen, 1, "%d: %d", t, seen);
			cr_assert_not(more);
			fx_httpc_resp_cleanup(&r);
		}
	}
}

Test(channel_fake, reads_the_deliveries_the_fake_signs_for_each_channel)
{
	for (int t = 0; t < 3; t++) {
		struct fx_channel ch = fake_chan((enum fx_channel_type)t);
		struct fakechannel_line l[] = {{.line_id = "11",
						.listing_key = ext_ids[t][0],
						.sku = "TEA",
						.title = "Tea",
						.quantity = 2,
						.unit_price_cents = 15900},
					       {.line_id = "12",
						.listing_key = NULL,
						.sku = "MUG",
						.title = "Mug \xe2\x98\x95",
						.quantity = 1,
						.unit_price_cents = 9900}};
		struct fakechannel_order o = {.external_id = "4242",
					      .updated_at = "2026-12-02T10:00:00Z",
					      .first_name = "Ada",
					      .last_name = "Lovelace",
					      .email = "ada@example.com",
					      .lines = l,
					      .nlines = 2,
					      .shipping_cents = t == FX_CHANNEL_TAKEALOT ? 0 : 6000};
		char *body = fakechannel_order_json((enum fx_channel_type)t, &o, false);
		char **h =
			fakechannel_webhook_headers((enum fx_channel_type)t, SECRET, NULL, "dlv-1", body, strlen(body));
		const char *pairs[32];
		size_t k = 0;
		struct fx_channel_delivery d;

		for (size_t i = 0; h[i]; i++) {
			char *colon = strchr(h[i], ':');
			*colon = '\0';
			pairs[k++] = h[i];
			pairs[k++] = colon + 2;
		}
		pairs[k] = NULL;
		cr_assert_eq(fx_channel_read_webhook(&ch, hdr, pairs, body, strlen(body), &arena, &d, &err), 0,
			     "%d: %s", t, err.message);
		cr_assert_eq(d.event, FX_CHANNEL_EVENT_ORDER);
		cr_assert_str_eq(d.delivery_id, "dlv-1");
		cr_assert_str_eq(d.order.external_id, "4242");
		cr_assert_eq(d.order.nlines, 2);
		cr_assert_eq(d.order.lines[0].quantity, 2);
		cr_assert_eq(d.order.lines[0].unit_price_cents, 15900);
		cr_assert_str_eq(d.order.lines[1].title, "Mug \xe2\x98\x95");
		cr_assert_eq(d.order.total_cents, 2 * 15900 + 9900 + o.shipping_cents);
		if (t != FX_CHANNEL_SHOPIFY)
			cr_assert_str_eq(d.order.lines[0].listing_key, ext_ids[t][0]);
		/* One byte changed after signing is refused. */
		body[strlen(body) - 2] ^= 1;
		fx_err_clear(&err);
		cr_assert_eq(fx_channel_read_webhook(&ch, hdr, pairs, body, strlen(body), &arena, &d, &err), -1);
		cr_assert(fx_err_is(&err, FX_UNAUTHENTICATED));
		fakechannel_headers_free(h);
		free(body);
	}
}

Test(channel_fake, tests_credentials_against_each_channel)
{
	for (int t = 0; t < 3; t++) {
		struct fx_channel ch = fake_chan((enum fx_channel_type)t);
		struct fx_channel_call c;
		struct fx_httpc_resp r;
		char msg[256];
		bool ok;

		cr_assert_eq(fx_channel_test_call(&ch, &arena, &c, &err), 0);
		send_call(&c, &r);
		fx_channel_test_answer(&ch, &r, &ok, msg, sizeof msg);
		cr_assert(ok, "%d: %s", t, msg);
		fx_httpc_resp_cleanup(&r);
		fakechannel_refuse_credentials(fake, true);
		send_call(&c, &r);
		fx_channel_test_answer(&ch, &r, &ok, msg, sizeof msg);
		cr_assert_not(ok);
		cr_assert_neq(msg[0], '\0');
		fx_httpc_resp_cleanup(&r);
		fakechannel_refuse_credentials(fake, false);
	}
}

struct pusher {
	struct fx_channel ch;
	char ext[16];
	int rc;
};

static void *push_one(void *arg)
{
	struct pusher *p = arg;
	struct fx_arena a;
	struct fx_channel_push_item it = item(p->ext, 3, -1);
	struct fx_channel_call *c;
	size_t nc;
	struct fx_httpc_resp r;
	struct fx_channel_limits l;
	struct fx_err e;

	fx_arena_init(&a, 1 << 20);
	p->rc = fx_channel_push_calls(&p->ch, &it, 1, &a, &c, &nc, &e);
	if (p->rc == 0) {
		struct fx_httpc_req q = {.method = c[0].method,
					 .url = c[0].url,
					 .headers = c[0].headers,
					 .body = c[0].body,
					 .body_len = c[0].body_len,
					 .timeout_ms = 60000,
					 .retry = FX_RETRY_NONE,
					 .max_attempts = 1,
					 .service = "channel-test"};
		fx_httpc_resp_init(&r);
		p->rc = fx_httpc_do(&q, &r, &e);
		if (p->rc == 0)
			p->rc = fx_channel_push_answer(&p->ch, &c[0], &r, &it, &l, &e);
		if (p->rc == 0 && !it.ok)
			p->rc = -1;
		fx_httpc_resp_cleanup(&r);
	}
	fx_httpc_thread_cleanup();
	fx_arena_cleanup(&a);
	return NULL;
}

Test(channel_fake, answers_several_calls_at_once)
{
	enum { N = 4 };
	struct pusher p[N];
	pthread_t t[N];
	long long q;

	/* Each call hangs until all N are inside the fake at the same time: a one-connection server never gets there. */
	fakechannel_hang(fake, 60000);
	for (int i = 0; i < N; i++) {
		p[i].ch = fake_chan(FX_CHANNEL_TAKEALOT);
		snprintf(p[i].ext, sizeof p[i].ext, "%d", 700 + i);
		cr_assert_eq(pthread_create(&t[i], NULL, push_one, &p[i]), 0);
	}
	cr_assert(fakechannel_wait_hanging(fake, N, 30000), "the fake never held %d calls at once", N);
	fakechannel_hang(fake, 0);
	for (int i = 0; i < N; i++) {
		pthread_join(t[i], NULL);
		cr_assert_eq(p[i].rc, 0);
		cr_assert(fakechannel_quantity(fake, FX_CHANNEL_TAKEALOT, p[i].ext, &q));
		cr_assert_eq(q, 3);
	}
	cr_assert_eq(fakechannel_calls(fake, "push"), N);
}

/* ---- fx_channel_push, _poll_orders, _test: through lib/egress (allow_private: the fake is on loopback) ---- */

Test(channel_fake, pushes_through_egress_to_each_channel)
{
	for (int t = 0; t < 3; t++) {
		struct fx_channel ch = fake_chan((enum fx_channel_type)t);
		struct fx_channel_push_item it[] = {item(ext_ids[t][0], 12, -1), item(ext_ids[t][1], 1, -1)};
		struct fx_channel_limits l;
		long long q;

		cr_assert_eq(fx_channel_push(&ch, it, 2, &l, &err), 0, "%d: %s", t, err.message);
		cr_assert(it[0].ok && it[1].ok, "%d: %s %s", t, it[0].error, it[1].error);
		cr_assert(fakechannel_quantity(fake, (enum fx_channel_type)t, ext_ids[t][0], &q));
		cr_assert_eq(q, 12);
		cr_assert(fakechannel_quantity(fake, (enum fx_channel_type)t, ext_ids[t][1], &q));
		cr_assert_eq(q, 1);
		cr_assert_eq(l.retry_after_ms, 0);
	}
}

Test(channel_fake, push_fails_whole_when_the_channel_fails_throttles_or_refuses)
{
	struct fx_channel ch = fake_chan(FX_CHANNEL_WOOCOMMERCE);
	struct fx_channel_push_item it[] = {item("93", 5, -1)};
	struct fx_channel_limits l;
	long long q;

	fakechannel_fail(fake, 1, 503);
	cr_assert_eq(fx_channel_push(&ch, it, 1, &l, &err), -1);
	cr_assert(fx_err_is(&err, FX_UNAVAILABLE), "%s", err.message);
	cr_assert_not(it[0].ok);
	fx_err_clear(&err);

	fakechannel_throttle(fake, 3000);
	cr_assert_eq(fx_channel_push(&ch, it, 1, &l, &err), -1);
	cr_assert(fx_err_is(&err, FX_RESOURCE_EXHAUSTED), "%s", err.message);
	cr_assert(l.retry_after_ms >= 1000 && l.retry_after_ms <= 3000, "%lld", (long long)l.retry_after_ms);
	fakechannel_throttle(fake, 0);
	fx_err_clear(&err);

	fakechannel_refuse_credentials(fake, true);
	cr_assert_eq(fx_channel_push(&ch, it, 1, &l, &err), -1);
	cr_assert(l.auth_refused);
	cr_assert(fx_err_is(&err, FX_UNAUTHENTICATED));
	fakechannel_refuse_credentials(fake, false);
	cr_assert_not(fakechannel_quantity(fake, FX_CHANNEL_WOOCOMMERCE, "93", &q));

	/* And after all that the same push goes through. */
	cr_assert_eq(fx_channel_push(&ch, it, 1, &l, &err), 0);
	cr_assert(it[0].ok);
	cr_assert(fakechannel_quantity(fake, FX_CHANNEL_WOOCOMMERCE, "93", &q));
	cr_assert_eq(q, 5);
	cr_assert_eq(fakechannel_sets(fake, FX_CHANNEL_WOOCOMMERCE, "93"), 1);
}

Test(channel_fake, refuses_a_loopback_channel_outside_demo_projects)
{
	struct fx_channel ch = fake_chan(FX_CHANNEL_TAKEALOT);
	struct fx_channel_push_item it[] = {item("91625339", 5, -1)};
	struct fx_channel_limits l;
	bool ok;
	char msg[256];

	ch.allow_private = false;
	cr_assert_eq(fx_channel_push(&ch, it, 1, &l, &err), -1);
	cr_assert(fx_err_is(&err, FX_INVALID_ARGUMENT), "%s", err.message);
	cr_assert_eq(fx_channel_test(&ch, &ok, msg, sizeof msg, &err), 0);
	cr_assert_not(ok);
	cr_assert_neq(msg[0], '\0');
	/* https to the loopback address is refused for the address, before any connection. */
	fx_err_clear(&err);
	ch.base_url = fx_arena_printf(&arena, "https://%s", fakechannel_url(fake) + strlen("http://"));
	cr_assert_eq(fx_channel_push(&ch, it, 1, &l, &err), -1);
	cr_assert(fx_err_is(&err, FX_INVALID_ARGUMENT), "%s", err.message);
	cr_assert(strstr(err.message, "loopback"), "%s", err.message);
	cr_assert_eq(fakechannel_calls(fake, NULL), 0);
}

Test(channel_fake, polls_orders_through_egress_and_tests_credentials)
{
	struct fx_channel ch = fake_chan(FX_CHANNEL_SHOPIFY);
	struct fakechannel_line l = {.line_id = "1",
				     .listing_key = "39072856001",
				     .sku = "TEA",
				     .title = "Tea",
				     .quantity = 2,
				     .unit_price_cents = 15900};
	struct fakechannel_order o = {
		.external_id = "77", .status = "cancelled", .first_name = "Ada", .lines = &l, .nlines = 1};
	char at[40];
	int64_t now;
	int32_t ns;
	char *json;
	struct seen s = {0};
	const char *next;
	bool more, ok;
	struct fx_channel_limits lim;
	char msg[256];

	fx_ts_now(&now, &ns);
	fx_ts_format(now - 60, 0, 0, at);
	o.updated_at = at;
	json = fakechannel_order_json(FX_CHANNEL_SHOPIFY, &o, true);
	fakechannel_add_order(fake, FX_CHANNEL_SHOPIFY, "77", at, json);
	free(json);
	cr_assert_eq(fx_channel_poll_orders(&ch, NULL, &arena, collect, &s, &next, &more, &lim, &err), 0, "%s",
		     err.message);
	cr_assert_eq(s.n, 1);
	cr_assert_str_eq(s.o[0].external_id, "77");
	cr_assert_eq(s.o[0].state, FX_CHANNEL_ORDER_CANCELLED);
	cr_assert_eq(s.o[0].lines[0].quantity, 2);
	cr_assert_not(more);
	cr_assert(strstr(next, at), "%s", next);

	cr_assert_eq(fx_channel_test(&ch, &ok, msg, sizeof msg, &err), 0);
	cr_assert(ok, "%s", msg);
	cr_assert_str_eq(msg, "connected to Fake Shop");
	ch.access_token = "shpat_wrong";
	cr_assert_eq(fx_channel_test(&ch, &ok, msg, sizeof msg, &err), 0);
	cr_assert_not(ok);
	cr_assert(strstr(msg, "Invalid API key or access token"), "%s", msg);
}

/* A signed delivery the sender retries on a 4xx: answering 400 to a topic we do not read would get it removed. */
Test(channel, ignores_shopify_order_topics_whose_body_is_not_an_order)
{
	struct fx_channel ch = chan(FX_CHANNEL_SHOPIFY);
	const char *body = "{\"order_edit\":{\"id\":78912328,\"order_id\":450789469,\"line_items\":{\"additions\":[],"
			   "\"removals\":[]}}}";
	char sig[64];
	const char *h[] = {"X-Shopify-Hmac-Sha256", sig, "X-Shopify-Webhook-Id", "d9", "X-Shopify-Topic",
			   "orders/edited",	    NULL};
	struct fx_channel_delivery d;

	cr_assert_eq(fx_sig_hmac_sha256(SECRET, strlen(SECRET), body, strlen(body), FX_SIG_BASE64, sig, sizeof sig), 0);
	cr_assert_eq(fx_channel_read_webhook(&ch, hdr, h, body, strlen(body), &arena, &d, &err), 0, "%s", err.message);
	cr_assert_eq(d.event, FX_CHANNEL_EVENT_IGNORED);
}

/* WooCommerce's block checkout keeps a draft order until the customer pays: it is no sale yet. */
Test(channel, ignores_woocommerce_checkout_drafts_in_webhooks_and_polls)
{
	struct fx_channel ch = chan(FX_CHANNEL_WOOCOMMERCE);
	size_t n;
	char *order = load("woocommerce_order_updated.json", &n);
	char *draft = malloc(n + 16), *p = strstr(order, "\"processing\"");
	char sig[64];
	const char *h[] = {"X-WC-Webhook-Signature", sig, "X-WC-Webhook-Delivery-ID", "d10", "X-WC-Webhook-Topic",
			   "order.created",	     NULL};
	struct fx_channel_delivery d;
	struct fx_httpc_resp r;
	struct fx_channel_limits l;
	struct seen s = {0};
	const char *next;
	bool more;
	char *page;

	cr_assert(p);
	cr_assert(snprintf(draft, n + 16, "%.*s\"checkout-draft\"%s", (int)(p - order), order,
			   p + strlen("\"processing\"")) > 0);
	cr_assert_eq(fx_sig_hmac_sha256(SECRET, strlen(SECRET), draft, strlen(draft), FX_SIG_BASE64, sig, sizeof sig),
		     0);
	cr_assert_eq(fx_channel_read_webhook(&ch, hdr, h, draft, strlen(draft), &arena, &d, &err), 0, "%s",
		     err.message);
	cr_assert_eq(d.event, FX_CHANNEL_EVENT_IGNORED);

	page = malloc(2 * strlen(draft) + 8);
	cr_assert(snprintf(page, 2 * strlen(draft) + 8, "[%s,%s]", draft, order) > 0);
	resp_set(&r, 200, "X-WP-TotalPages: 1\r\n", page);
	cr_assert_eq(fx_channel_poll_answer(&ch, NULL, 1764700000, &r, &arena, collect, &s, &next, &more, &l, &err), 0,
		     "%s", err.message);
	cr_assert_eq(s.n, 1);
	cr_assert_eq(s.o[0].state, FX_CHANNEL_ORDER_OPEN);
	fx_httpc_resp_cleanup(&r);
	free(page);
	free(draft);
	free(order);
}

/*
 * Shopify refuses a query whose requested cost exceeds 1000 points (MAX_COST_EXCEEDED): an object
 * costs 1, a connection 2 + first x its node's cost. The orders query's nodes hold 8 objects
 * (customer, shippingAddress, three price sets of two) besides lineItems, whose nodes hold 4.
 */
Test(channel, asks_shopify_for_a_page_that_costs_at_most_1000_points)
{
	struct fx_channel ch = chan(FX_CHANNEL_SHOPIFY);
	struct fx_channel_call c;
	const char *p;
	long orders, lines;

	cr_assert_eq(fx_channel_poll_call(&ch, NULL, 1764700000, &arena, &c, &err), 0);
	p = strstr(c.body, "orders(first: ");
	cr_assert(p);
	orders = strtol(p + strlen("orders(first: "), NULL, 10);
	p = strstr(c.body, "lineItems(first: ");
	cr_assert(p);
	lines = strtol(p + strlen("lineItems(first: "), NULL, 10);
	cr_assert(orders >= 1 && lines >= 1);
	cr_assert_leq(2 + orders * (8 + 2 + lines * 4), 1000, "%ld orders x %ld lines", orders, lines);
}

/* An order with more lines than one page of lineItems would arrive short of lines: the poll leaves it to webhooks. */
Test(channel, skips_a_polled_shopify_order_whose_lines_do_not_fit_one_page)
{
	struct fx_channel ch = chan(FX_CHANNEL_SHOPIFY);
	struct fx_httpc_resp r;
	struct fx_channel_limits l;
	struct seen s = {0};
	const char *next;
	bool more;
	size_t n;
	char *page = load("shopify_orders_page.json", &n);
	char *p = strstr(page, "\"lineItems\":{\"nodes\"");
	char *edited = malloc(n + 64);

	cr_assert(p);
	cr_assert(snprintf(edited, n + 64, "%.*s\"lineItems\":{\"pageInfo\":{\"hasNextPage\":true},\"nodes\"%s",
			   (int)(p - page), page, p + strlen("\"lineItems\":{\"nodes\"")) > 0);
	resp_set(&r, 200, NULL, edited);
	cr_assert_eq(fx_channel_poll_answer(&ch, NULL, 1764700000, &r, &arena, collect, &s, &next, &more, &l, &err), 0,
		     "%s", err.message);
	cr_assert_eq(s.n, 1);
	cr_assert_str_eq(s.o[0].external_id, "450789470");
	/* The cursor still moves past it. */
	cr_assert(strstr(next, "2026-12-02T09:30:00.500Z"), "%s", next);
	fx_httpc_resp_cleanup(&r);
	free(edited);
	free(page);
}

/*
 * An edited or partly refunded Shopify order keeps each line's ordered quantity in quantity;
 * what is still to fulfil is current_quantity (currentQuantity in GraphQL), 0 for a removed line.
 */
Test(channel, reads_what_is_left_of_an_edited_shopify_order)
{
	struct fx_channel ch = chan(FX_CHANNEL_SHOPIFY);
	const char *body =
		"{\"id\":5001,\"name\":\"#5001\",\"financial_status\":\"partially_refunded\",\"fulfillment_status\":"
		"null,"
		"\"cancelled_at\":null,\"total_price\":\"149.50\",\"subtotal_price\":\"149.50\",\"line_items\":["
		"{\"id\":1,\"variant_id\":11,\"sku\":\"TEA\",\"title\":\"Tea\",\"quantity\":2,\"current_quantity\":1,"
		"\"price\":\"149.50\"},"
		"{\"id\":2,\"variant_id\":12,\"sku\":\"MUG\",\"title\":\"Mug\",\"quantity\":1,\"current_quantity\":0,"
		"\"price\":\"99.00\"}]}";
	const char *gone =
		"{\"id\":5002,\"name\":\"#5002\",\"financial_status\":\"refunded\",\"cancelled_at\":null,"
		"\"total_price\":\"0.00\",\"line_items\":[{\"id\":3,\"sku\":\"MUG\",\"title\":\"Mug\",\"quantity\":1,"
		"\"current_quantity\":0,\"price\":\"99.00\"}]}";
	char sig[64];
	const char *h[] = {"X-Shopify-Hmac-Sha256", sig, "X-Shopify-Webhook-Id", "d11", "X-Shopify-Topic",
			   "orders/updated",	    NULL};
	struct fx_channel_delivery d;

	cr_assert_eq(fx_sig_hmac_sha256(SECRET, strlen(SECRET), body, strlen(body), FX_SIG_BASE64, sig, sizeof sig), 0);
	cr_assert_eq(fx_channel_read_webhook(&ch, hdr, h, body, strlen(body), &arena, &d, &err), 0, "%s", err.message);
	cr_assert_eq(d.order.nlines, 1);
	cr_assert_str_eq(d.order.lines[0].sku, "TEA");
	cr_assert_eq(d.order.lines[0].quantity, 1);
	cr_assert_eq(d.order.state, FX_CHANNEL_ORDER_OPEN);

	/* Nothing left: no lines, and the order is over (refunded: RETURNED). */
	cr_assert_eq(fx_sig_hmac_sha256(SECRET, strlen(SECRET), gone, strlen(gone), FX_SIG_BASE64, sig, sizeof sig), 0);
	cr_assert_eq(fx_channel_read_webhook(&ch, hdr, h, gone, strlen(gone), &arena, &d, &err), 0, "%s", err.message);
	cr_assert_eq(d.order.nlines, 0);
	cr_assert_eq(d.order.state, FX_CHANNEL_ORDER_RETURNED);
}

Test(channel, polls_what_is_left_of_an_edited_shopify_order)
{
	struct fx_channel ch = chan(FX_CHANNEL_SHOPIFY);
	struct fx_channel_call c;
	struct fx_httpc_resp r;
	struct fx_channel_limits l;
	struct seen s = {0};
	const char *next;
	bool more;

	cr_assert_eq(fx_channel_poll_call(&ch, NULL, 1764700000, &arena, &c, &err), 0);
	cr_assert(strstr(c.body, "currentQuantity"), "%s", c.body);
	resp_set(
		&r, 200, NULL,
		"{\"data\":{\"orders\":{\"pageInfo\":{\"hasNextPage\":false,\"endCursor\":null},\"nodes\":[{\"id\":"
		"\"gid://shopify/Order/9\",\"name\":\"#9\",\"updatedAt\":\"2026-12-02T09:00:00Z\",\"cancelledAt\":null,"
		"\"displayFinancialStatus\":\"PARTIALLY_REFUNDED\",\"displayFulfillmentStatus\":\"UNFULFILLED\","
		"\"totalPriceSet\":{\"shopMoney\":{\"amount\":\"10.0\"}},\"lineItems\":{\"nodes\":[{\"id\":"
		"\"gid://shopify/LineItem/1\",\"sku\":\"A\",\"title\":\"A\",\"quantity\":3,\"currentQuantity\":2,"
		"\"originalUnitPriceSet\":{\"shopMoney\":{\"amount\":\"5.0\"}},\"variant\":null},{\"id\":"
		"\"gid://shopify/LineItem/2\",\"sku\":\"B\",\"title\":\"B\",\"quantity\":1,\"currentQuantity\":0,"
		"\"originalUnitPriceSet\":{\"shopMoney\":{\"amount\":\"7.0\"}},\"variant\":null}]}}]}}}");
	cr_assert_eq(fx_channel_poll_answer(&ch, NULL, 1764700000, &r, &arena, collect, &s, &next, &more, &l, &err), 0,
		     "%s", err.message);
	cr_assert_eq(s.n, 1);
	cr_assert_eq(s.o[0].nlines, 1);
	cr_assert_eq(s.o[0].lines[0].quantity, 2);
	fx_httpc_resp_cleanup(&r);
}

/* WooCommerce answers a batch with every product whole: 100 of them pass 1 MiB. */
Test(channel_fake, pushes_a_full_woocommerce_batch_whose_answer_is_large)
{
	struct fx_channel ch = fake_chan(FX_CHANNEL_WOOCOMMERCE);
	struct fx_channel_push_item it[100];
	char ids[100][16];
	struct fx_channel_limits l;
	long long q;

	for (int i = 0; i < 100; i++) {
		snprintf(ids[i], sizeof ids[i], "%d", 2000 + i);
		it[i] = item(ids[i], i, -1);
	}
	cr_assert_eq(fx_channel_push(&ch, it, 100, &l, &err), 0, "%s", err.message);
	for (int i = 0; i < 100; i++)
		cr_assert(it[i].ok, "%d: %s", i, it[i].error);
	cr_assert(fakechannel_quantity(fake, FX_CHANNEL_WOOCOMMERCE, "2099", &q));
	cr_assert_eq(q, 99);
}

/* A channel that never answers costs one bounded wait (egress's total timeout), then a 503. */
Test(channel_fake, gives_up_on_a_channel_that_hangs, .timeout = 120)
{
	struct fx_channel ch = fake_chan(FX_CHANNEL_TAKEALOT);
	struct fx_channel_push_item it[] = {item("91625339", 2, -1)};
	struct fx_channel_limits l;

	fakechannel_hang(fake, 120000);
	cr_assert_eq(fx_channel_push(&ch, it, 1, &l, &err), -1);
	cr_assert(fx_err_is(&err, FX_UNAVAILABLE), "%s", err.message);
	cr_assert_not(it[0].ok);
	cr_assert_neq(l.message[0], '\0');
	cr_assert(fakechannel_wait_hanging(fake, 1, 1000), "the call never reached the fake");
	fakechannel_hang(fake, 0);
}

/* A listing's externalId as lines carry it, so the two compare equal whichever form the merchant pasted. */
Test(channel, writes_a_listing_external_id_in_the_form_lines_carry)
{
	cr_assert_str_eq(fx_channel_listing_key(FX_CHANNEL_SHOPIFY, "gid://shopify/InventoryItem/43729076", &arena),
			 "43729076");
	cr_assert_str_eq(fx_channel_listing_key(FX_CHANNEL_SHOPIFY, "43729076", &arena), "43729076");
	cr_assert_null(fx_channel_listing_key(FX_CHANNEL_SHOPIFY, "gid://shopify/ProductVariant/1", &arena));
	cr_assert_null(fx_channel_listing_key(FX_CHANNEL_SHOPIFY, "abc", &arena));
	cr_assert_str_eq(fx_channel_listing_key(FX_CHANNEL_WOOCOMMERCE, "812:815", &arena), "812:815");
	cr_assert_str_eq(fx_channel_listing_key(FX_CHANNEL_WOOCOMMERCE, "812", &arena), "812");
	cr_assert_null(fx_channel_listing_key(FX_CHANNEL_WOOCOMMERCE, "812:", &arena));
	cr_assert_null(fx_channel_listing_key(FX_CHANNEL_WOOCOMMERCE, "0", &arena));
	cr_assert_str_eq(fx_channel_listing_key(FX_CHANNEL_TAKEALOT, "91625339", &arena), "91625339");
	cr_assert_null(fx_channel_listing_key(FX_CHANNEL_TAKEALOT, "SKU123", &arena));
	cr_assert_null(fx_channel_listing_key(FX_CHANNEL_TAKEALOT, NULL, &arena));
}
