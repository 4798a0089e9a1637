/*
 * channelhooks: the webhook receiver of the sales channels (public: no
 * Firebase token; the channel's signature over the raw body is the only
 * credential). Documents: top-level channelHooks/{cid} {organizationId}
 * (written with the channel) finds the organization from the path alone;
 * organizations/{org}/channels/{cid} holds the sealed webhook secret; the
 * order itself goes through lib/chanorder (one order per channel order,
 * deliveries deduplicated).
 *
 * POST /v1/channels/{id}/webhooks (any Content-Type, at most 1 MiB): an
 * unknown channel is 404; the signature is verified over the raw bytes
 * before anything is parsed (missing or wrong: 401, nothing written); a
 * signed body that is not an order the contract takes is 400, nothing
 * written; WooCommerce's unsigned creation ping and topics that carry no
 * order are 200, nothing written; so is any delivery to a paused channel.
 * An order topic answers 200 {result: created|updated|unchanged|duplicate,
 * orderId, number, oversold, needsAttention}.
 */
#include "chandoc.h"
#include "chanorder.h"
#include "channel.h"
#include "firestore.h"
#include "http.h"
#include "log.h"
#include "model.h"
#include "str.h"
#include "worker.h"

#include <string.h>

/* The channels give a delivery 5 s: wait for the organization's order queue about 3 s, then 503 (they retry). */
#define QUEUE_WAIT_MS 3000

static int receive(struct fx_req *r, struct fx_err *e);

static const struct fx_route routes[] = {
	{"POST", "/v1/channels/{id}/webhooks", receive, FX_PUBLIC, FX_ROLE_NONE, FX_BODY_RAW, FX_DEFAULT_MAX_BODY},
};

static const char *header(void *ctx, const char *name)
{
	return fx_http_req_header(ctx, name);
}

static int answer(struct fx_req *r, const char *result, const struct fx_chanorder_result *res)
{
	json_object *o = json_object_new_object();
	int rc;

	json_object_object_add(o, "result", json_object_new_string(result));
	if (res) {
		json_object_object_add(o, "orderId", json_object_new_string(res->order_id));
		if (res->number[0])
			json_object_object_add(o, "number", json_object_new_string(res->number));
		json_object_object_add(o, "oversold", json_object_new_boolean(res->oversold));
		json_object_object_add(o, "needsAttention", json_object_new_boolean(res->needs_attention));
	}
	rc = fx_http_resp_json(r, 200, o);
	json_object_put(o);
	return rc;
}

/* The organization of channel id, from channelHooks/{id}: 404 "channel not found" when there is none. */
static const char *channel_org(struct fx_req *r, const char *id, struct fx_err *e)
{
	struct fx_doc hook = {0};
	const char *org = NULL, *rel = fx_arena_printf(r->arena, "channelHooks/%s", id);

	if (!rel)
		return fx_err_set(e, FX_INTERNAL, "out of request memory"), NULL;
	if (fx_firestore_get(rel, &hook, e) < 0) {
		if (fx_err_is(e, FX_NOT_FOUND))
			fx_err_set(e, FX_NOT_FOUND, "channel not found");
		return NULL;
	}
	org = fx_value_path_str(&hook.fields, "organizationId");
	org = org && fx_model_id_valid(org) ? fx_arena_strdup(r->arena, org) : NULL;
	fx_firestore_doc_cleanup(&hook);
	if (!org)
		fx_err_set(e, FX_NOT_FOUND, "channel not found");
	return org;
}

static int receive(struct fx_req *r, struct fx_err *e)
{
	const char *id = fx_http_req_param(r, "id"), *org, *rel, *status, *stamp;
	struct fx_channel ch = {0};
	struct fx_channel_delivery d;
	struct fx_chanorder_result res;
	struct fx_chanorder_delivery dv;
	struct fx_doc doc = {0};
	int rc = -1;

	if (!id || !fx_model_id_valid(id))
		return fx_err_set(e, FX_NOT_FOUND, "channel not found");
	if (!(org = channel_org(r, id, e)))
		return -1;
	if (!(rel = fx_arena_printf(r->arena, "organizations/%s/channels/%s", org, id)))
		return fx_err_set(e, FX_INTERNAL, "out of request memory");
	if (fx_firestore_get(rel, &doc, e) < 0) {
		if (fx_err_is(e, FX_NOT_FOUND))
			fx_err_set(e, FX_NOT_FOUND, "channel not found");
		return -1;
	}
	stamp = fx_value_path_str(&doc.fields, "organizationId");
	if (!stamp || strcmp(stamp, org) != 0) {
		fx_err_set(e, FX_NOT_FOUND, "channel not found");
		goto out;
	}
	if (fx_chandoc_open(&doc, org, r->arena, &ch, e) < 0)
		goto out;
	/* The raw bytes as they came, verified before a byte of them is parsed. */
	memset(&d, 0, sizeof(d));
	if (fx_channel_read_webhook(&ch, header, r, r->body ? r->body : "", r->body_len, r->arena, &d, e) < 0)
		goto out;
	status = fx_value_path_str(&doc.fields, "status");
	if (status && strcmp(status, "paused") == 0) {
		rc = answer(r, "paused", NULL);
		goto out;
	}
	if (d.event != FX_CHANNEL_EVENT_ORDER) {
		rc = answer(r, d.event == FX_CHANNEL_EVENT_PING ? "ping" : "ignored", NULL);
		goto out;
	}
	dv.id = d.delivery_id, dv.topic = d.topic, dv.queue_wait_ms = QUEUE_WAIT_MS;
	if (fx_chanorder_apply(org, &ch, &d.order, &dv, &res, e) < 0)
		goto out;
	fx_log_info("channel %s (%s) order %s: %s %s", id, fx_channel_type_name(ch.type), d.order.external_id,
		    fx_chanorder_outcome_name(res.outcome), res.order_id);
	rc = answer(r, fx_chanorder_outcome_name(res.outcome), &res);
out:
	fx_chandoc_close(&ch);
	fx_firestore_doc_cleanup(&doc);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct fx_app app = {"channelhooks", routes, sizeof(routes) / sizeof(routes[0]), NULL};

	return fx_worker_main(&app, argc, argv);
}
