/*
 * fuzz_channel: what a channel can send us, past its signature. Byte 0
 * picks the channel type (low two bits, 3 wraps to Shopify) and whether
 * the rest is a webhook body (bit 2 clear: signed here with the secret, so
 * the readers behind the check are reached) or a poll answer (bit 2 set,
 * status 200). Either may fail; what succeeds must hold the contract of
 * lib/channel.h: a non-empty external id, 1..500 lines (0 only for a
 * cancelled or returned order), quantities >= 1, a customer name, and a next cursor
 * that the next poll call accepts.
 */
#include "arena.h"
#include "channel.h"
#include "sig.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SECRET "fuzz-secret"

struct hdrs {
	const char *sig;
	enum fx_channel_type type;
};

static const char *header(void *ctx, const char *name)
{
	struct hdrs *h = ctx;

	if (strcasecmp(name, "X-Shopify-Hmac-Sha256") == 0 || strcasecmp(name, "X-WC-Webhook-Signature") == 0 ||
	    strcasecmp(name, "X-Takealot-Signature") == 0)
		return h->sig;
	if (strcasecmp(name, "X-Shopify-Topic") == 0)
		return "orders/updated";
	if (strcasecmp(name, "X-WC-Webhook-Topic") == 0)
		return "order.updated";
	if (strcasecmp(name, "X-Takealot-Event") == 0)
		return "Sale Status Changed";
	return "delivery-1"; /* every delivery id header */
}

static void check_order(const struct fx_channel_order *o)
{
	if (!o->external_id || !*o->external_id || !o->customer_name)
		abort();
	if (o->nlines > 500 ||
	    (o->nlines == 0 && o->state != FX_CHANNEL_ORDER_CANCELLED && o->state != FX_CHANNEL_ORDER_RETURNED))
		abort();
	for (size_t i = 0; i < o->nlines; i++)
		if (o->lines[i].quantity < 1 || !o->lines[i].external_line_id || !o->lines[i].title)
			abort();
}

static int each(void *ctx, const struct fx_channel_order *o, struct fx_err *e)
{
	(void)ctx;
	(void)e;
	check_order(o);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fx_channel ch = {.id = "c1",
				.organization_id = "o1",
				.base_url = "https://shop.example.co.za",
				.location_id = "gid://shopify/Location/1",
				.access_token = "t",
				.consumer_key = "k",
				.consumer_secret = "s",
				.api_key = "a",
				.webhook_secret = SECRET};
	struct fx_arena arena;
	struct fx_err e;
	const char *body;
	size_t len;

	if (size < 1)
		return 0;
	ch.type = (enum fx_channel_type)((data[0] & 3) % 3);
	body = (const char *)data + 1;
	len = size - 1;
	fx_arena_init(&arena, 16u << 20);
	fx_err_clear(&e);
	if (!(data[0] & 4)) {
		char sig[80];
		struct hdrs h = {.sig = sig, .type = ch.type};
		struct fx_channel_delivery d;

		if (fx_sig_hmac_sha256(SECRET, strlen(SECRET), body, len,
				       ch.type == FX_CHANNEL_TAKEALOT ? FX_SIG_HEX : FX_SIG_BASE64, sig,
				       sizeof sig) < 0)
			abort();
		if (fx_channel_read_webhook(&ch, header, &h, body, len, &arena, &d, &e) == 0 &&
		    d.event == FX_CHANNEL_EVENT_ORDER)
			check_order(&d.order);
	} else {
		struct fx_httpc_resp r;
		struct fx_channel_limits l;
		struct fx_channel_call c;
		const char *next = NULL;
		bool more;

		fx_httpc_resp_init(&r);
		r.status = 200;
		if (fx_buf_append(&r.body, body, len) == 0 &&
		    fx_channel_poll_answer(&ch, NULL, 1764700000, &r, &arena, each, NULL, &next, &more, &l, &e) == 0) {
			if (!next || fx_channel_poll_call(&ch, next, 1764700000, &arena, &c, &e) < 0)
				abort();
		}
		fx_httpc_resp_cleanup(&r);
	}
	fx_arena_cleanup(&arena);
	return 0;
}
