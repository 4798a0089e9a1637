/*
 * fx_chanpoll: orders polled from the channels (see chanpoll.h).
 */
#include "chanpoll.h"

#include "arena.h"
#include "chandoc.h"
#include "chanpush.h"
#include "channel.h"
#include "chanorder.h"
#include "firestore.h"
#include "fswrite.h"
#include "log.h"
#include "webhook.h"
#include "map.h"
#include "mem.h"
#include "model.h"
#include "str.h"

#include <stdlib.h>
#include <string.h>

#define PATH_MAX_BYTES 400
#define POLL_ARENA (16u * 1024 * 1024) /* one page of a channel's orders */

struct poll_ctx {
	const char *org;
	const struct fx_channel *ch;
	struct fx_chanpoll_stats *st;
	bool stopped; /* an order could not be applied for a reason that may pass: keep the cursor */
	char message[256];
};

/* One polled order through the webhooks' path; a 4xx refusal is counted and skipped, anything else stops. */
static int each_order(void *arg, const struct fx_channel_order *o, struct fx_err *e)
{
	struct poll_ctx *c = arg;
	struct fx_chanorder_result res;

	memset(&res, 0, sizeof(res));
	c->st->orders_seen++;
	if (fx_chanorder_apply(c->org, c->ch, o, NULL, &res, e) < 0) {
		int http = fx_err_http(e->kind);

		if (http >= 400 && http < 500 && !fx_err_is(e, FX_ABORTED)) {
			c->st->orders_failed++;
			fx_log_warn("chanpoll: organization %s channel %s order %s refused: %s", c->org, c->ch->id,
				    o->external_id, e->message);
			fx_err_clear(e);
			return 0;
		}
		c->stopped = true;
		fx_str_text(c->message, sizeof(c->message), "order %.60s: %s", o->external_id, e->message);
		return -1;
	}
	if (res.outcome == FX_CHANORDER_CREATED) {
		c->st->orders_created++;
	} else if (res.outcome == FX_CHANORDER_UPDATED) {
		c->st->orders_updated++;
	}
	return 0;
}

/*
 * Records a page's progress (cursor, lastOrderSyncAt) or a failure
 * (lastError, status). counts.ordersImported is fx_chanorder_apply's, in
 * the order's own transaction.
 */
static int write_channel(const char *org, const char *rel, const struct fx_doc *doc, const char *cursor,
			 const char *error, bool refused, struct fx_err *e)
{
	const char *mask[6];
	size_t nm = 0;
	struct fx_value map = {0};
	json_object *writes = json_object_new_array();
	char *name = fx_firestore_name(rel);
	int rc;

	fx_value_map(&map);
	if (error) {
		struct fx_value *err = fx_map_set(&map, "lastError");

		fx_value_map(err);
		fx_model_map_set_now(err, "at");
		fx_map_set_str(err, "message", error);
		mask[nm++] = "lastError";
		if (refused) {
			fx_map_set_str(&map, "status", "error");
			mask[nm++] = "status";
		}
	} else {
		fx_model_map_set_now(&map, "lastOrderSyncAt");
		mask[nm++] = "lastOrderSyncAt";
		if (cursor) {
			fx_map_set_str(&map, "orderCursor", cursor);
			mask[nm++] = "orderCursor";
		}
	}
	mask[nm] = NULL;
	rc = fx_fswrite_update(writes, name, &map, mask, NULL, NULL, e);
	/* The merchant's webhooks hear of it in the same commit (channel.error). */
	if (rc == 0 && error && refused)
		rc = fx_webhook_channel_error(writes, org, doc->id, &doc->fields, doc->update_time, error, e);
	if (rc == 0)
		rc = fx_firestore_commit(writes, NULL, NULL, NULL, e);
	/* A channel deleted meanwhile has nothing left to record. */
	if (rc < 0 && fx_err_is(e, FX_NOT_FOUND)) {
		fx_err_clear(e);
		rc = 0;
	}
	json_object_put(writes);
	fx_value_cleanup(&map);
	free(name);
	return rc;
}

/* Polls one active channel doc, page after page. -1 only when Firestore fails recording it. */
static int poll_channel(const char *org, const struct fx_doc *doc, struct fx_chanpoll_stats *st, struct fx_err *e)
{
	struct fx_channel ch;
	struct fx_arena arena, chan_arena;
	struct fx_err ce;
	char rel[PATH_MAX_BYTES], *cursor = NULL;
	const char *stored = fx_value_path_str(&doc->fields, "orderCursor");
	int rc = 0;

	if (fx_str_fmt(rel, sizeof(rel), "organizations/%s/channels/%s", org, doc->id) < 0)
		return fx_err_set(e, FX_INTERNAL, "channel path over %zu bytes", sizeof(rel));
	fx_err_clear(&ce);
	fx_arena_init(&chan_arena, 256u * 1024);
	if (fx_chandoc_open(doc, org, &chan_arena, &ch, &ce) < 0) {
		fx_chandoc_close(&ch);
		fx_arena_cleanup(&chan_arena);
		st->channels_failed++;
		fx_log_error("chanpoll: organization %s channel %s: %s", org, doc->id, ce.message);
		return write_channel(org, rel, doc, NULL, "the channel's stored settings do not open", false, e);
	}
	st->channels++;
	cursor = stored ? fx_mem_xstrdup(stored) : NULL;
	fx_arena_init(&arena, POLL_ARENA);
	for (int page = 0; page < FX_CHANPOLL_MAX_PAGES; page++) {
		struct poll_ctx c = {org, &ch, st, false, ""};
		struct fx_channel_limits limits;
		const char *next = NULL;
		bool more = false;

		memset(&limits, 0, sizeof(limits));
		fx_arena_reset(&arena);
		fx_err_clear(&ce);
		if (fx_channel_poll_orders(&ch, cursor, &arena, each_order, &c, &next, &more, &limits, &ce) < 0) {
			const char *why = c.stopped ? c.message : limits.message[0] ? limits.message : ce.message;

			st->channels_failed++;
			fx_log_warn("chanpoll: organization %s channel %s: poll failed: %s", org, doc->id, why);
			/* Orders applied before the failure stay; the cursor stays, so they are seen again (unchanged). */
			rc = write_channel(org, rel, doc, NULL, why, limits.auth_refused && !c.stopped, e);
			if (rc == 0 && limits.auth_refused && !c.stopped &&
			    fx_chanpush_raise_refused(org, doc, why, "sync", &ce) < 0)
				fx_log_warn("chanpoll: organization %s channel %s: insight not raised: %s", org,
					    doc->id, ce.message);
			break;
		}
		rc = write_channel(org, rel, doc, next, NULL, false, e);
		if (rc < 0 || !more || !next)
			break;
		free(cursor);
		cursor = fx_mem_xstrdup(next);
	}
	fx_arena_cleanup(&arena);
	free(cursor);
	fx_chandoc_close(&ch);
	fx_arena_cleanup(&chan_arena);
	return rc;
}

int fx_chanpoll_run(const char *org, const char *channel_id, struct fx_chanpoll_stats *stats, struct fx_err *e)
{
	struct fx_doc *docs = NULL;
	size_t n = 0;
	char parent[PATH_MAX_BYTES];
	int rc = -1;

	if (!fx_model_id_valid(org) || (channel_id && !fx_model_id_valid(channel_id)))
		return fx_err_set(e, FX_NOT_FOUND, "%s not found", channel_id ? "channel" : "organization");
	if (fx_str_fmt(parent, sizeof(parent), "organizations/%s", org) < 0)
		return fx_err_set(e, FX_INTERNAL, "organization path over %zu bytes", sizeof(parent));
	if (channel_id) {
		char rel[PATH_MAX_BYTES];

		if (fx_str_fmt(rel, sizeof(rel), "%s/channels/%s", parent, channel_id) < 0)
			return fx_err_set(e, FX_INTERNAL, "channel path over %zu bytes", sizeof(rel));
		docs = fx_mem_xcalloc(1, sizeof(*docs));
		if (fx_firestore_get(rel, docs, e) < 0) {
			free(docs);
			if (fx_err_is(e, FX_NOT_FOUND))
				fx_err_set(e, FX_NOT_FOUND, "%s not found", "channel");
			return -1;
		}
		n = 1;
	} else {
		struct fx_query *q = fx_fsquery_new("channels", false);

		rc = fx_fsquery_where_str(q, "status", "==", "active", e);
		fx_fsquery_limit(q, FX_CHANPOLL_MAX_CHANNELS);
		if (rc == 0)
			rc = fx_firestore_query(parent, q, NULL, &docs, &n, e);
		fx_fsquery_free(q);
		if (rc < 0)
			return -1;
	}
	rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		const char *status = fx_value_path_str(&docs[i].fields, "status");

		if (status && strcmp(status, "active") == 0)
			rc = poll_channel(org, &docs[i], stats, e);
	}
	fx_firestore_docs_free(docs, n);
	return rc;
}
