/*
 * fx_chanpush: the outbox's stock entries pushed to the channels (see
 * chanpush.h). One page of a run: entries -> products -> their listings and
 * channels -> quantities -> push calls per channel in batches -> listing
 * and channel documents updated -> entries of settled products deleted.
 */
#include "chanpush.h"

#include "arena.h"
#include "chandoc.h"
#include "channel.h"
#include "firestore.h"
#include "insights.h"
#include "lease.h"
#include "fswrite.h"
#include "log.h"
#include "map.h"
#include "mem.h"
#include "model.h"
#include "outbox.h"
#include "webhook.h"
#include "product.h"
#include "stock.h"
#include "str.h"
#include "ts.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PATH_MAX_BYTES 400
#define MAX_CHANNELS 200 /* distinct channels one page may touch */
#define PAGE_ARENA (1u * 1024 * 1024) /* the opened channels of one page */

int64_t fx_chanpush_quantity(int64_t available, int64_t buffer, int64_t max_quantity)
{
	int64_t q;

	if (buffer < 0)
		buffer = 0;
	/* available - buffer without overflow: both are bounded below by INT64_MIN + 1 in practice, but saturate. */
	if (available < 0 || available <= buffer)
		return 0;
	q = available - buffer;
	if (max_quantity >= 0 && q > max_quantity)
		q = max_quantity;
	return q;
}

int64_t fx_chanpush_backoff_ms(int failures, int64_t retry_after_ms)
{
	int64_t wait = FX_CHANPUSH_BACKOFF_BASE_MS;

	for (int i = 1; i < failures && wait < FX_CHANPUSH_BACKOFF_MAX_MS; i++)
		wait *= 2;
	if (wait > FX_CHANPUSH_BACKOFF_MAX_MS)
		wait = FX_CHANPUSH_BACKOFF_MAX_MS;
	return retry_after_ms > wait ? retry_after_ms : wait;
}

const char *fx_chanpush_failed_status(int64_t failures)
{
	return failures >= FX_CHANPUSH_MAX_FAILURES ? "error" : "pending";
}

int fx_chanpush_raise_refused(const char *org, const struct fx_doc *doc, const char *message, const char *by,
			      struct fx_err *e)
{
	struct fx_candidate cand;
	const char *name = fx_value_path_str(&doc->fields, "name");
	const char *type = fx_value_path_str(&doc->fields, "type");
	int rc;

	if (!doc->id)
		return fx_err_set(e, FX_INTERNAL, "no channel to raise an insight for");
	memset(&cand, 0, sizeof(cand));
	fx_str_text(cand.type, sizeof(cand.type), "%s", "channel_error");
	fx_str_text(cand.severity, sizeof(cand.severity), "%s", "critical");
	fx_str_text(cand.channel_id, sizeof(cand.channel_id), "%s", doc->id); /* the key: one open per channel */
	fx_str_text(cand.title, sizeof(cand.title), "%.100s refused Fluxori's credentials", name ? name : "A channel");
	fx_str_text(cand.summary, sizeof(cand.summary),
		    "The %s channel \"%.100s\" refused the stored credentials: stock is no longer pushed to it and its "
		    "orders are not polled. The channel said: %.300s",
		    type ? type : "sales", name ? name : doc->id, message && message[0] ? message : "(nothing)");
	fx_str_text(cand.recommendations[0], sizeof(cand.recommendations[0]), "%s",
		    "Create new credentials on the channel and save them on the channel in Fluxori.");
	fx_str_text(cand.recommendations[1], sizeof(cand.recommendations[1]), "%s",
		    "Set the channel active again and run its sync, so every listing gets its current quantity.");
	cand.nrec = 2;
	fx_value_map(&cand.metrics);
	rc = fx_insights_raise_now(org, by, &cand, e);
	fx_value_cleanup(&cand.metrics);
	return rc;
}

/* ---- one page of work ---- */

enum outcome {
	SETTLED, /* nothing more owed to this listing for the entries read */
	RETRY, /* keep the entries: a later run pushes */
	PUSH /* to be pushed in this run */
};

enum chan_state { C_PUSH, C_SETTLED, C_WAIT };

struct chan {
	char id[FX_ID_LEN + 1];
	char rel[PATH_MAX_BYTES];
	struct fx_doc doc;
	enum chan_state state;
	struct fx_channel ch; /* the channel with its secrets open (page arena), when C_PUSH */
	int64_t buffer_default;
	int64_t failures; /* pushFailures as read */
	/* what this run did */
	bool called, call_ok, call_failed, refused;
	int64_t retry_after_ms;
	int64_t items_failed;
	char message[256];
};

struct listing {
	char ref[2 * FX_ID_LEN + 2]; /* "{cid}/{lid}" */
	char rel[PATH_MAX_BYTES];
	size_t chan;
	size_t product;
	struct fx_doc doc;
	int64_t quantity;
	enum outcome outcome;
	bool pushed; /* accepted by the channel */
	bool item_failed;
	char error[256];
};

struct ref {
	size_t product;
	size_t listing; /* index into page.listings after dedupe */
	char text[2 * FX_ID_LEN + 2];
};

struct page {
	const char *org;
	const char *only_channel; /* NULL: all */
	struct fx_chanpush_stats *st;
	/* entries read (outbox docs), their product index */
	struct fx_doc *entries;
	size_t nentries;
	size_t *entry_product;
	/* products */
	char (*product_ids)[FX_ID_LEN + 1];
	struct fx_doc *products;
	size_t nproducts;
	/* listings and channels */
	struct ref *refs;
	size_t nrefs;
	struct listing *listings;
	size_t nlistings;
	struct chan *chans;
	size_t nchans;
	struct fx_arena arena; /* the opened channels' strings */
};

static void page_cleanup(struct page *p)
{
	free(p->entry_product);
	free(p->product_ids);
	fx_firestore_docs_free(p->products, p->nproducts);
	free(p->refs);
	for (size_t i = 0; i < p->nlistings; i++)
		fx_firestore_doc_cleanup(&p->listings[i].doc);
	free(p->listings);
	for (size_t i = 0; i < p->nchans; i++) {
		fx_firestore_doc_cleanup(&p->chans[i].doc);
		fx_chandoc_close(&p->chans[i].ch);
	}
	free(p->chans);
	fx_arena_cleanup(&p->arena);
}

static int64_t now_ms(void)
{
	int64_t secs;
	int32_t nanos;

	fx_ts_now(&secs, &nanos);
	return secs * 1000 + nanos / 1000000;
}

/* An integer field, or dflt when missing or not an integer (null included). */
static int64_t int_or(const struct fx_value *map, const char *path, int64_t dflt)
{
	int64_t v;

	return fx_value_path_int(map, path, &v) ? v : dflt;
}

/* A timestamp field in ms since the epoch, 0 when absent. */
static int64_t ts_ms(const struct fx_value *map, const char *path)
{
	const struct fx_value *v = fx_value_path(map, path);
	int64_t secs;
	int32_t nanos;

	if (v && v->type == FX_V_TIMESTAMP)
		return v->u.ts.secs * 1000 + v->u.ts.nanos / 1000000;
	if (v && v->type == FX_V_STRING && fx_ts_parse(v->u.s.p, &secs, &nanos) == 0)
		return secs * 1000 + nanos / 1000000;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

static int cmp_ref(const void *a, const void *b)
{
	return strcmp(((const struct ref *)a)->text, ((const struct ref *)b)->text);
}

/* Index of product id in the sorted ids, or SIZE_MAX. */
static size_t find_product(const struct page *p, const char *id)
{
	const char(*hit)[FX_ID_LEN + 1] = bsearch(id, p->product_ids, p->nproducts, sizeof(*p->product_ids), cmp_str);

	return hit ? (size_t)(hit - p->product_ids) : SIZE_MAX;
}

/* Reads the products named by ids[0..n) (sorted, unique) into p. */
static int read_products(struct page *p, struct fx_err *e)
{
	const char **rels = NULL;
	char *buf = NULL;
	int rc = -1;

	if (p->nproducts == 0)
		return 0;
	rels = fx_mem_xcalloc(p->nproducts, sizeof(*rels));
	buf = fx_mem_xcalloc(p->nproducts, PATH_MAX_BYTES);
	for (size_t i = 0; i < p->nproducts; i++) {
		char *rel = buf + i * PATH_MAX_BYTES;

		if (fx_str_fmt(rel, PATH_MAX_BYTES, "organizations/%s/products/%s", p->org, p->product_ids[i]) < 0) {
			fx_err_set(e, FX_INTERNAL, "product path over %d bytes", PATH_MAX_BYTES);
			goto out;
		}
		rels[i] = rel;
	}
	p->products = fx_mem_xcalloc(p->nproducts, sizeof(*p->products));
	rc = fx_firestore_batch_get(rels, p->nproducts, NULL, p->products, e);
out:
	free(rels);
	free(buf);
	return rc;
}

/* Adds "{cid}/{lid}" of product pi to the refs, when well formed and in scope. */
static void add_ref(struct page *p, size_t *cap, size_t pi, const char *text)
{
	const char *slash = strchr(text, '/');
	char cid[FX_ID_LEN + 1];

	if (!slash || fx_str_copy(cid, sizeof(cid), text, (size_t)(slash - text)) < 0 || !fx_model_id_valid(cid) ||
	    !fx_model_id_valid(slash + 1))
		return; /* not a listing reference this code wrote: nothing to push */
	if (p->only_channel && strcmp(cid, p->only_channel) != 0)
		return;
	if (p->nrefs == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		p->refs = fx_mem_xrealloc(p->refs, *cap * sizeof(*p->refs));
	}
	p->refs[p->nrefs].product = pi;
	if (fx_str_set(p->refs[p->nrefs].text, sizeof(p->refs[p->nrefs].text), text) == 0)
		p->nrefs++;
}

/* The channel index of cid, added (state C_PUSH, not yet read) when new; SIZE_MAX when over MAX_CHANNELS. */
static size_t chan_index(struct page *p, const char *cid, size_t len)
{
	for (size_t i = 0; i < p->nchans; i++)
		if (strlen(p->chans[i].id) == len && strncmp(p->chans[i].id, cid, len) == 0)
			return i;
	if (p->nchans == MAX_CHANNELS)
		return SIZE_MAX;
	p->chans = fx_mem_xrealloc(p->chans, (p->nchans + 1) * sizeof(*p->chans));
	memset(&p->chans[p->nchans], 0, sizeof(*p->chans));
	if (fx_str_copy(p->chans[p->nchans].id, sizeof(p->chans[p->nchans].id), cid, len) < 0 ||
	    fx_str_fmt(p->chans[p->nchans].rel, PATH_MAX_BYTES, "organizations/%s/channels/%s", p->org,
		       p->chans[p->nchans].id) < 0)
		return SIZE_MAX;
	return p->nchans++;
}

/* Dedupes refs into listings, reads the listings and their channels. */
static int read_listings(struct page *p, struct fx_err *e)
{
	const char **rels = NULL;
	int rc = -1;

	if (p->nrefs > 1) /* refs is NULL when there are none: qsort must not see it */
		qsort(p->refs, p->nrefs, sizeof(*p->refs), cmp_ref);
	p->listings = fx_mem_xcalloc(p->nrefs ? p->nrefs : 1, sizeof(*p->listings));
	for (size_t i = 0; i < p->nrefs; i++) {
		struct listing *l;
		const char *slash = strchr(p->refs[i].text, '/');
		size_t ci;

		if (p->nlistings && strcmp(p->listings[p->nlistings - 1].ref, p->refs[i].text) == 0) {
			p->refs[i].listing = p->nlistings - 1;
			continue;
		}
		ci = chan_index(p, p->refs[i].text, (size_t)(slash - p->refs[i].text));
		if (ci == SIZE_MAX)
			return fx_err_set(e, FX_FAILED_PRECONDITION, "more than %d channels in one push page",
					  MAX_CHANNELS);
		l = &p->listings[p->nlistings];
		if (fx_str_set(l->ref, sizeof(l->ref), p->refs[i].text) < 0)
			return fx_err_set(e, FX_INTERNAL, "listing reference over %zu bytes", sizeof(l->ref));
		l->chan = ci;
		l->product = p->refs[i].product;
		l->outcome = SETTLED;
		if (fx_str_fmt(l->rel, sizeof(l->rel), "organizations/%s/channels/%.*s/listings/%s", p->org,
			       (int)(slash - p->refs[i].text), p->refs[i].text, slash + 1) < 0)
			return fx_err_set(e, FX_INTERNAL, "listing path over %d bytes", PATH_MAX_BYTES);
		p->refs[i].listing = p->nlistings++;
	}
	if (p->nlistings == 0)
		return 0;
	/* One batchGet for the listings and the channels: at most FX_FS_MAX_BATCH_GET at a time. */
	rels = fx_mem_xcalloc(p->nlistings + p->nchans, sizeof(*rels));
	for (size_t from = 0; from < p->nlistings; from += FX_FS_MAX_BATCH_GET) {
		size_t n = p->nlistings - from < FX_FS_MAX_BATCH_GET ? p->nlistings - from : FX_FS_MAX_BATCH_GET;
		struct fx_doc *docs = fx_mem_xcalloc(n, sizeof(*docs));

		for (size_t i = 0; i < n; i++)
			rels[i] = p->listings[from + i].rel;
		if (fx_firestore_batch_get(rels, n, NULL, docs, e) < 0) {
			free(docs);
			goto out;
		}
		for (size_t i = 0; i < n; i++)
			p->listings[from + i].doc = docs[i];
		free(docs);
	}
	{
		struct fx_doc *docs = fx_mem_xcalloc(p->nchans, sizeof(*docs));

		for (size_t i = 0; i < p->nchans; i++)
			rels[i] = p->chans[i].rel;
		if (fx_firestore_batch_get(rels, p->nchans, NULL, docs, e) < 0) {
			free(docs);
			goto out;
		}
		for (size_t i = 0; i < p->nchans; i++)
			p->chans[i].doc = docs[i];
		free(docs);
	}
	rc = 0;
out:
	free(rels);
	return rc;
}

/* Decides each channel's state: pushable (secrets opened), waiting, or settled (gone, paused, in error). */
static void prepare_channels(struct page *p)
{
	int64_t now = now_ms();

	for (size_t i = 0; i < p->nchans; i++) {
		struct chan *c = &p->chans[i];
		const char *status = fx_value_path_str(&c->doc.fields, "status");
		struct fx_err e;

		c->state = C_SETTLED;
		if (!c->doc.name || !status || strcmp(status, "active") != 0)
			continue; /* deleted, paused or in error: nothing is owed to it (a resume runs :sync) */
		c->failures = int_or(&c->doc.fields, "pushFailures", 0);
		c->buffer_default = int_or(&c->doc.fields, "settings.bufferDefault", 0);
		if (ts_ms(&c->doc.fields, "pushNotBefore") > now) {
			c->state = C_WAIT;
			p->st->channels_waiting++;
			continue;
		}
		fx_err_clear(&e);
		if (fx_chandoc_open(&c->doc, p->org, &p->arena, &c->ch, &e) < 0) {
			/* Our own fault (key, stored data): record it, back off, keep the entries. */
			c->state = C_WAIT;
			c->call_failed = true;
			fx_str_text(c->message, sizeof(c->message), "the channel's stored settings do not open: %s",
				    e.message);
			fx_log_error("chanpush: organization %s channel %s: %s", p->org, c->id, c->message);
			continue;
		}
		c->state = C_PUSH;
	}
}

/* Each listing's quantity and whether it needs a push. */
static void plan(struct page *p)
{
	for (size_t i = 0; i < p->nlistings; i++) {
		struct listing *l = &p->listings[i];
		const struct chan *c = &p->chans[l->chan];
		const struct fx_doc *prod = &p->products[l->product];
		const char *pid = fx_value_path_str(&l->doc.fields, "productId");
		int64_t pushed, available;

		l->outcome = SETTLED;
		if (!l->doc.name || !prod->name || !pid || strcmp(pid, prod->id) != 0)
			continue; /* listing gone, or no longer this product's */
		if (c->state == C_SETTLED)
			continue;
		available = fx_product_available(fx_stock(prod, "onHand"), fx_stock(prod, "reserved"));
		l->quantity = fx_chanpush_quantity(available, int_or(&l->doc.fields, "buffer", c->buffer_default),
						   int_or(&l->doc.fields, "maxQuantity", -1));
		if (fx_value_path_int(&l->doc.fields, "pushedQuantity", &pushed) && pushed == l->quantity) {
			p->st->listings_unchanged++;
			continue;
		}
		l->outcome = c->state == C_WAIT ? RETRY : PUSH;
	}
}

/*
 * Whether the channel can address item at all (its external id in the
 * channel's form), by building its call alone (no network): one listing
 * the channel cannot take must fail alone, not the whole batch forever.
 * false with why when the item itself is refused; true when it builds or
 * the refusal is the channel's (settings), which the call then reports.
 */
static bool addressable(const struct fx_channel *ch, const struct fx_channel_push_item *item, struct fx_arena *scratch,
			char *why, size_t len)
{
	struct fx_channel_call *calls = NULL;
	size_t ncalls = 0;
	struct fx_err e;

	fx_err_clear(&e);
	fx_arena_reset(scratch);
	if (fx_channel_push_calls(ch, item, 1, scratch, &calls, &ncalls, &e) == 0)
		return true;
	if (!fx_err_is(&e, FX_INVALID_ARGUMENT) || (e.ndetails > 0 && strncmp(e.details[0].field, "settings.", 9) == 0))
		return true;
	fx_str_text(why, len, "%s", e.message);
	return false;
}

/* Pushes channel ci's PUSH listings in batches; the first failed call ends the channel's turn. */
static void push_channel(struct page *p, size_t ci)
{
	struct chan *c = &p->chans[ci];
	size_t max = fx_channel_batch_max(c->ch.type), *which;
	struct fx_channel_push_item *items;
	struct fx_arena scratch;
	size_t n = 0;

	fx_arena_init(&scratch, 1u << 20);
	which = fx_mem_xcalloc(max ? max : 1, sizeof(*which));
	items = fx_mem_xcalloc(max ? max : 1, sizeof(*items));
	for (size_t i = 0; i <= p->nlistings; i++) {
		struct fx_channel_limits limits;
		struct fx_err e;
		int rc;

		if (i < p->nlistings) {
			struct listing *l = &p->listings[i];

			if (l->chan != ci || l->outcome != PUSH)
				continue;
			if (c->call_failed || c->retry_after_ms > 0) {
				l->outcome = RETRY;
				continue;
			}
			memset(&items[n], 0, sizeof(items[n]));
			items[n].external_id = fx_value_path_str(&l->doc.fields, "externalId");
			items[n].sku = fx_value_path_str(&l->doc.fields, "sku");
			if (!items[n].sku)
				items[n].sku = fx_value_path_str(&p->products[l->product].fields, "sku");
			items[n].quantity = l->quantity;
			/* Fluxori is the truth: a sale on the channel moves its count, so no compare-and-set. */
			items[n].compare_quantity = -1;
			if (!items[n].external_id) {
				l->outcome = SETTLED;
				continue;
			}
			if (!addressable(&c->ch, &items[n], &scratch, l->error, sizeof(l->error))) {
				l->item_failed = true;
				p->st->listings_failed++;
				c->items_failed++;
				continue;
			}
			which[n++] = i;
			if (n < max)
				continue;
		}
		if (n == 0)
			continue;
		memset(&limits, 0, sizeof(limits));
		fx_err_clear(&e);
		c->called = true;
		p->st->calls++;
		rc = fx_channel_push(&c->ch, items, n, &limits, &e);
		if (rc < 0) {
			p->st->calls_failed++;
			c->call_failed = true;
			c->refused = limits.auth_refused;
			c->retry_after_ms = limits.retry_after_ms;
			fx_str_text(c->message, sizeof(c->message), "%s",
				    limits.message[0] ? limits.message : e.message);
			for (size_t k = 0; k < n; k++)
				p->listings[which[k]].outcome = c->refused ? SETTLED : RETRY;
			p->st->listings_failed += (int64_t)n;
			c->items_failed += (int64_t)n;
			if (c->refused)
				p->st->channels_refused++;
			fx_log_warn("chanpush: organization %s channel %s: push of %zu failed: %s", p->org, c->id, n,
				    c->message);
		} else {
			c->call_ok = true;
			/* An answered call may still say to slow down (rate-limit headers): the rest waits. */
			if (limits.retry_after_ms > 0)
				c->retry_after_ms = limits.retry_after_ms;
			for (size_t k = 0; k < n; k++) {
				struct listing *l = &p->listings[which[k]];

				if (items[k].ok) {
					l->pushed = true;
					l->outcome = SETTLED;
					p->st->listings_pushed++;
				} else {
					l->item_failed = true;
					fx_str_text(l->error, sizeof(l->error), "%s",
						    items[k].error[0] ? items[k].error : "refused by the channel");
					p->st->listings_failed++;
					c->items_failed++;
				}
			}
		}
		n = 0;
	}
	free(which);
	free(items);
	fx_arena_cleanup(&scratch);
}

/* ---- writing back ---- */

/*
 * Commits writes in chunks of FX_FS_MAX_WRITES. A chunk refused because a
 * document with an exists precondition is gone (404) is committed again
 * one write at a time, and each write still refused is passed to gone(i)
 * (i: its index in writes); gone may append to extra, committed after.
 */
static int commit_all(json_object *writes, void (*gone)(void *ctx, size_t i, json_object *extra), void *ctx,
		      struct fx_err *e)
{
	size_t n = json_object_array_length(writes);
	json_object *extra = json_object_new_array();
	int rc = -1;

	for (size_t from = 0; from < n; from += FX_FS_MAX_WRITES) {
		size_t k = n - from < FX_FS_MAX_WRITES ? n - from : FX_FS_MAX_WRITES;
		json_object *chunk = json_object_new_array();

		for (size_t i = 0; i < k; i++)
			json_object_array_add(chunk, json_object_get(json_object_array_get_idx(writes, from + i)));
		rc = fx_firestore_commit(chunk, NULL, NULL, NULL, e);
		json_object_put(chunk);
		if (rc < 0 && fx_err_is(e, FX_NOT_FOUND)) {
			rc = 0;
			for (size_t i = 0; i < k && rc == 0; i++) {
				json_object *one = json_object_new_array();

				fx_err_clear(e);
				json_object_array_add(one,
						      json_object_get(json_object_array_get_idx(writes, from + i)));
				rc = fx_firestore_commit(one, NULL, NULL, NULL, e);
				json_object_put(one);
				if (rc < 0 && fx_err_is(e, FX_NOT_FOUND)) {
					fx_err_clear(e);
					rc = 0;
					if (gone)
						gone(ctx, from + i, extra);
				}
			}
		}
		if (rc < 0)
			goto out;
	}
	rc = json_object_array_length(extra) ? fx_firestore_commit(extra, NULL, NULL, NULL, e) : 0;
out:
	json_object_put(extra);
	return rc;
}

static int write_listings(struct page *p, struct fx_err *e)
{
	static const char *const ok_mask[] = {"pushedQuantity", "pushedAt",  "status", "failures",
					      "lastError",	"updatedAt", NULL};
	static const char *const failed_mask[] = {"failures", "lastError", "status", "updatedAt", NULL};
	json_object *writes = json_object_new_array();
	int rc = 0;

	for (size_t i = 0; i < p->nlistings && rc == 0; i++) {
		struct listing *l = &p->listings[i];
		struct fx_value map = {0}, *err;
		char *name;

		if (!l->pushed && !l->item_failed)
			continue;
		fx_value_map(&map);
		if (l->pushed) {
			fx_map_set_int(&map, "pushedQuantity", l->quantity);
			fx_model_map_set_now(&map, "pushedAt");
			fx_map_set_str(&map, "status", "synced");
			fx_map_set_int(&map, "failures", 0);
		} else {
			int64_t failures = int_or(&l->doc.fields, "failures", 0) + 1;
			const char *status = fx_chanpush_failed_status(failures);

			fx_map_set_int(&map, "failures", failures);
			err = fx_map_set(&map, "lastError");
			fx_value_map(err);
			fx_model_map_set_now(err, "at");
			fx_map_set_str(err, "message", l->error);
			fx_map_set_str(&map, "status", status);
			l->outcome = strcmp(status, "error") == 0 ? SETTLED : RETRY;
		}
		fx_model_map_set_now(&map, "updatedAt");
		name = fx_firestore_name(l->rel);
		rc = fx_fswrite_update(writes, name, &map, l->pushed ? ok_mask : failed_mask, NULL, NULL, e);
		free(name);
		fx_value_cleanup(&map);
	}
	/* A listing deleted meanwhile is simply not updated. */
	if (rc == 0)
		rc = commit_all(writes, NULL, NULL, e);
	json_object_put(writes);
	return rc;
}

static int write_channels(struct page *p, struct fx_err *e)
{
	json_object *writes = json_object_new_array();
	int rc = 0;

	for (size_t i = 0; i < p->nchans && rc == 0; i++) {
		struct chan *c = &p->chans[i];
		const char *mask[8];
		size_t nm = 0;
		struct fx_value map = {0}, inc = {0};
		struct fx_transform tr = {"counts.pushesFailed", FX_TR_INCREMENT, &inc};
		char *name;

		if (!c->called && !c->call_failed && !c->items_failed)
			continue;
		fx_value_map(&map);
		fx_value_int(&inc, c->items_failed);
		if (c->call_ok) {
			fx_model_map_set_now(&map, "lastStockPushAt");
			mask[nm++] = "lastStockPushAt";
		}
		if (c->call_failed || c->retry_after_ms > 0) {
			int64_t failures = c->call_failed ? c->failures + 1 : c->failures;
			int64_t wait = c->call_failed ? fx_chanpush_backoff_ms((int)(failures > 60 ? 60 : failures),
									       c->retry_after_ms)
						      : c->retry_after_ms;
			int64_t until = now_ms() + wait;

			fx_map_set_ts(&map, "pushNotBefore", until / 1000, (int32_t)(until % 1000) * 1000000);
			mask[nm++] = "pushNotBefore";
			fx_map_set_int(&map, "pushFailures", failures);
			mask[nm++] = "pushFailures";
		} else {
			/* A clean run: no back-off left (a missing field is deleted by the mask). */
			mask[nm++] = "pushNotBefore";
			fx_map_set_int(&map, "pushFailures", 0);
			mask[nm++] = "pushFailures";
		}
		if (c->call_failed) {
			struct fx_value *err = fx_map_set(&map, "lastError");

			fx_value_map(err);
			fx_model_map_set_now(err, "at");
			fx_map_set_str(err, "message", c->message);
			mask[nm++] = "lastError";
		}
		if (c->refused) {
			fx_map_set_str(&map, "status", "error");
			mask[nm++] = "status";
		}
		mask[nm] = NULL;
		name = fx_firestore_name(c->rel);
		rc = fx_fswrite_doc(writes, FX_WRITE_UPDATE, name, &map, mask, NULL, &tr, c->items_failed ? 1 : 0, e);
		free(name);
		/* The merchant's webhooks hear of it in the same commit (channel.error). */
		if (rc == 0 && c->refused)
			rc = fx_webhook_channel_error(writes, p->org, c->id, &c->doc.fields, c->doc.update_time,
						      c->message, e);
		fx_value_cleanup(&map);
		fx_value_cleanup(&inc);
		if (rc == 0 && c->refused &&
		    fx_chanpush_raise_refused(p->org, &c->doc, c->message, "channel-push", e) < 0) {
			/* The channel's status still says it; the insight is raised again next time. */
			fx_log_warn("chanpush: organization %s channel %s: insight not raised: %s", p->org, c->id,
				    e->message);
			fx_err_clear(e);
		}
	}
	if (rc == 0)
		rc = commit_all(writes, NULL, NULL, e);
	json_object_put(writes);
	return rc;
}

struct gone_ctx {
	struct page *p;
	size_t *entry_of; /* write index -> entry index */
};

/* An entry already deleted by someone else: they may have pushed an older quantity after ours; owe a push again. */
static void entry_gone(void *ctx, size_t i, json_object *extra)
{
	struct gone_ctx *g = ctx;
	const struct fx_doc *entry = &g->p->entries[g->entry_of[i]];
	const char *pid = fx_value_path_str(&entry->fields, "resource");
	struct fx_err e;

	fx_err_clear(&e);
	if (pid && fx_outbox_add(extra, g->p->org, FX_OUTBOX_STOCK, pid, NULL, &e) < 0)
		fx_log_warn("chanpush: organization %s: outbox entry not renewed: %s", g->p->org, e.message);
}

/* Deletes the entries whose product's listings are all settled. */
static int delete_entries(struct page *p, struct fx_err *e)
{
	bool *open = fx_mem_xcalloc(p->nproducts ? p->nproducts : 1, sizeof(*open));
	size_t *entry_of = fx_mem_xcalloc(p->nentries ? p->nentries : 1, sizeof(*entry_of));
	json_object *writes = json_object_new_array();
	struct gone_ctx g = {p, entry_of};
	size_t n = 0;
	int rc = 0;

	for (size_t i = 0; i < p->nrefs; i++)
		if (p->listings[p->refs[i].listing].outcome != SETTLED)
			open[p->refs[i].product] = true;
	/* Restricted to one channel: a product listed elsewhere too keeps its entry for the full run. */
	for (size_t pi = 0; p->only_channel && pi < p->nproducts; pi++) {
		const struct fx_value *ls = fx_map_get(&p->products[pi].fields, "listings");

		for (size_t k = 0; ls && ls->type == FX_V_ARRAY && k < ls->u.arr.n; k++) {
			const struct fx_value *v = &ls->u.arr.items[k];
			size_t len = strlen(p->only_channel);

			if (v->type == FX_V_STRING &&
			    !(strncmp(v->u.s.p, p->only_channel, len) == 0 && v->u.s.p[len] == '/'))
				open[pi] = true;
		}
	}
	for (size_t i = 0; i < p->nentries && rc == 0; i++) {
		if (p->entry_product[i] != SIZE_MAX && open[p->entry_product[i]])
			continue;
		entry_of[n++] = i;
		rc = fx_fswrite_delete(writes, p->entries[i].name, 1, NULL, e);
	}
	if (rc == 0)
		rc = commit_all(writes, entry_gone, &g, e);
	if (rc == 0)
		p->st->entries_deleted += (int64_t)n;
	json_object_put(writes);
	free(open);
	free(entry_of);
	return rc;
}

/* Pushes, writes back and (with entries) deletes what is settled: p has products and refs. */
static int work(struct page *p, struct fx_err *e)
{
	if (read_listings(p, e) < 0)
		return -1;
	prepare_channels(p);
	plan(p);
	for (size_t ci = 0; ci < p->nchans; ci++)
		if (p->chans[ci].state == C_PUSH)
			push_channel(p, ci);
	if (write_listings(p, e) < 0 || write_channels(p, e) < 0)
		return -1;
	return p->nentries ? delete_entries(p, e) : 0;
}

/* Collects refs from the products' listings arrays. */
static void refs_from_products(struct page *p)
{
	size_t cap = 0;

	for (size_t pi = 0; pi < p->nproducts; pi++) {
		const struct fx_value *ls = fx_map_get(&p->products[pi].fields, "listings");

		for (size_t k = 0; ls && ls->type == FX_V_ARRAY && k < ls->u.arr.n; k++)
			if (ls->u.arr.items[k].type == FX_V_STRING)
				add_ref(p, &cap, pi, ls->u.arr.items[k].u.s.p);
	}
}

/* Sorts and dedupes ids[0..n) into p's product ids. */
static void set_product_ids(struct page *p, char (*ids)[FX_ID_LEN + 1], size_t n)
{
	if (n > 1)
		qsort(ids, n, sizeof(*ids), cmp_str);
	p->product_ids = ids;
	p->nproducts = 0;
	for (size_t i = 0; i < n; i++)
		if ((p->nproducts == 0 || strcmp(ids[p->nproducts - 1], ids[i]) != 0) &&
		    fx_str_mem_move(ids[p->nproducts], sizeof(*ids), ids[i], sizeof(*ids)) == 0)
			p->nproducts++;
}

/* One page of outbox entries after *last (a doc: name and fields, or none); *n_read gets the page size. */
static int outbox_page(const char *org, const char *only_channel, struct fx_doc *last, size_t *n_read,
		       struct fx_chanpush_stats *st, struct fx_err *e)
{
	struct fx_query *q = fx_fsquery_new("outbox", false);
	struct page p;
	char parent[PATH_MAX_BYTES], (*ids)[FX_ID_LEN + 1] = NULL;
	size_t nids = 0;
	int rc = -1;

	memset(&p, 0, sizeof(p));
	fx_arena_init(&p.arena, PAGE_ARENA);
	p.org = org;
	p.only_channel = only_channel;
	p.st = st;
	*n_read = 0;
	if (fx_str_fmt(parent, sizeof(parent), "organizations/%s", org) < 0) {
		fx_err_set(e, FX_INTERNAL, "organization path over %zu bytes", sizeof(parent));
		goto out;
	}
	if (fx_fsquery_where_str(q, "kind", "==", FX_OUTBOX_STOCK, e) < 0 ||
	    fx_fsquery_order_by(q, "at", false, e) < 0 || fx_fsquery_order_by(q, "__name__", false, e) < 0)
		goto out;
	if (last->name && fx_fsquery_cursor_doc(q, FX_CURSOR_START_AFTER, last->name, &last->fields, e) < 0)
		goto out;
	fx_fsquery_limit(q, FX_CHANPUSH_PAGE);
	if (fx_firestore_query(parent, q, NULL, &p.entries, &p.nentries, e) < 0)
		goto out;
	*n_read = p.nentries;
	st->entries_read += (int64_t)p.nentries;
	if (p.nentries == 0) {
		rc = 0;
		goto out;
	}
	ids = fx_mem_xcalloc(p.nentries, sizeof(*ids));
	for (size_t i = 0; i < p.nentries; i++) {
		const char *pid = fx_value_path_str(&p.entries[i].fields, "resource");

		if (pid && fx_model_id_valid(pid) && fx_str_set(ids[nids], sizeof(ids[nids]), pid) == 0)
			nids++;
	}
	set_product_ids(&p, ids, nids);
	ids = NULL;
	p.entry_product = fx_mem_xcalloc(p.nentries, sizeof(*p.entry_product));
	for (size_t i = 0; i < p.nentries; i++) {
		const char *pid = fx_value_path_str(&p.entries[i].fields, "resource");

		p.entry_product[i] = pid ? find_product(&p, pid) : SIZE_MAX;
	}
	if (read_products(&p, e) < 0)
		goto out;
	refs_from_products(&p);
	rc = work(&p, e);
	/* The next page starts after this one's last entry (kept entries are not read again this run). */
	fx_firestore_doc_cleanup(last);
	last->name = fx_mem_xstrdup(p.entries[p.nentries - 1].name);
	fx_value_copy(&last->fields, &p.entries[p.nentries - 1].fields);
out:
	fx_fsquery_free(q);
	free(ids);
	fx_firestore_docs_free(p.entries, p.nentries);
	p.entries = NULL;
	p.nentries = 0;
	page_cleanup(&p);
	return rc;
}

/* One page of channel_id's listings after *last_id (every listing checked, outbox or not). */
static int listings_page(const char *org, const char *channel_id, char *last_id, size_t last_len, size_t *n_read,
			 struct fx_chanpush_stats *st, struct fx_err *e)
{
	struct fx_query *q = fx_fsquery_new("listings", false);
	struct fx_doc *docs = NULL;
	size_t ndocs = 0, nids = 0, cap = 0;
	struct page p;
	char parent[PATH_MAX_BYTES], *root = NULL, (*ids)[FX_ID_LEN + 1] = NULL;
	int rc = -1;

	memset(&p, 0, sizeof(p));
	fx_arena_init(&p.arena, PAGE_ARENA);
	p.org = org;
	p.only_channel = channel_id;
	p.st = st;
	*n_read = 0;
	if (fx_str_fmt(parent, sizeof(parent), "organizations/%s/channels/%s", org, channel_id) < 0) {
		fx_err_set(e, FX_INTERNAL, "channel path over %zu bytes", sizeof(parent));
		goto out;
	}
	root = fx_firestore_name(parent);
	if (fx_fsquery_parent(q, root, e) < 0 || fx_fsquery_order_by(q, "__name__", false, e) < 0)
		goto out;
	if (last_id[0]) {
		struct fx_value v = {0};

		fx_value_string(&v, last_id, strlen(last_id));
		rc = fx_fsquery_start_after(q, &v, 1, e);
		fx_value_cleanup(&v);
		if (rc < 0)
			goto out;
		rc = -1;
	}
	fx_fsquery_limit(q, FX_CHANPUSH_PAGE);
	if (fx_firestore_query(parent, q, NULL, &docs, &ndocs, e) < 0)
		goto out;
	*n_read = ndocs;
	if (ndocs == 0) {
		rc = 0;
		goto out;
	}
	ids = fx_mem_xcalloc(ndocs, sizeof(*ids));
	for (size_t i = 0; i < ndocs; i++) {
		const char *pid = fx_value_path_str(&docs[i].fields, "productId");

		if (pid && fx_model_id_valid(pid) && fx_str_set(ids[nids], sizeof(ids[nids]), pid) == 0)
			nids++;
	}
	set_product_ids(&p, ids, nids);
	ids = NULL;
	if (read_products(&p, e) < 0)
		goto out;
	for (size_t i = 0; i < ndocs; i++) {
		const char *pid = fx_value_path_str(&docs[i].fields, "productId");
		size_t pi = pid ? find_product(&p, pid) : SIZE_MAX;
		char ref[2 * FX_ID_LEN + 2];

		if (pi != SIZE_MAX && fx_str_fmt(ref, sizeof(ref), "%s/%s", channel_id, docs[i].id) == 0)
			add_ref(&p, &cap, pi, ref);
	}
	rc = work(&p, e);
	if (fx_str_set(last_id, last_len, docs[ndocs - 1].id) < 0 && rc == 0)
		rc = fx_err_set(e, FX_INTERNAL, "listing id over %zu bytes", last_len);
out:
	fx_fsquery_free(q);
	free(root);
	free(ids);
	fx_firestore_docs_free(docs, ndocs);
	page_cleanup(&p);
	return rc;
}

/* 1 when the organization's outbox holds a stock entry, 0 when not, -1 when Firestore fails. */
static int outbox_waiting(const char *org, struct fx_err *e)
{
	struct fx_query *q = fx_fsquery_new("outbox", false);
	struct fx_doc *docs = NULL;
	size_t n = 0;
	char parent[PATH_MAX_BYTES];
	int rc = -1;

	if (fx_str_fmt(parent, sizeof(parent), "organizations/%s", org) < 0)
		fx_err_set(e, FX_INTERNAL, "organization path over %zu bytes", sizeof(parent));
	else if (fx_fsquery_where_str(q, "kind", "==", FX_OUTBOX_STOCK, e) == 0 &&
		 fx_fsquery_select(q, NULL, 0, e) == 0) {
		fx_fsquery_limit(q, 1);
		if (fx_firestore_query(parent, q, NULL, &docs, &n, e) == 0)
			rc = n > 0;
	}
	fx_fsquery_free(q);
	fx_firestore_docs_free(docs, n);
	return rc;
}

int fx_chanpush_run(const char *org, const char *channel_id, bool all_listings, struct fx_chanpush_stats *stats,
		    struct fx_err *e)
{
	char rel[PATH_MAX_BYTES], holder[FX_ID_LEN + 1], last_id[FX_ID_LEN + 1] = "";
	struct fx_lease lc = {.rel = rel, .holder = holder, .seconds = FX_CHANPUSH_LEASE_S};
	struct fx_doc last = {0};
	struct fx_err ignored;
	size_t n = 0;
	int rc = 0;

	if (!fx_model_id_valid(org) || (channel_id && !fx_model_id_valid(channel_id)))
		return fx_err_set(e, FX_NOT_FOUND, "%s not found", channel_id ? "channel" : "organization");
	if (all_listings && !channel_id)
		return fx_err_set(e, FX_INTERNAL, "a push of every listing needs a channel");
	if (fx_str_fmt(rel, sizeof(rel), "jobLeases/chanpush-%s", org) < 0)
		return fx_err_set(e, FX_INTERNAL, "lease path over %zu bytes", sizeof(rel));
	/* The scheduler calls every minute for every organization: nothing waiting costs one read, no lease. */
	if (!all_listings) {
		int waiting = outbox_waiting(org, e);

		if (waiting <= 0)
			return waiting;
	}
	fx_model_id_new(holder);
	if (fx_lease_take(&lc, e) < 0)
		return -1;
	if (lc.busy) {
		stats->busy = true;
		return 0;
	}
	for (int page = 0; rc == 0 && page < FX_CHANPUSH_MAX_PAGES; page++) {
		rc = outbox_page(org, channel_id, &last, &n, stats, e);
		if (n < FX_CHANPUSH_PAGE)
			break;
	}
	for (int page = 0; rc == 0 && all_listings && page < FX_CHANPUSH_MAX_PAGES; page++) {
		rc = listings_page(org, channel_id, last_id, sizeof(last_id), &n, stats, e);
		if (n < FX_CHANPUSH_PAGE)
			break;
	}
	fx_firestore_doc_cleanup(&last);
	fx_err_clear(&ignored);
	if (fx_lease_release(&lc, &ignored) < 0)
		fx_log_warn("chanpush: organization %s: lease not released (it expires): %s", org, ignored.message);
	return rc;
}
