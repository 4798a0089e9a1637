/*
 * Stock out and orders polled, through nginx, against the project's fake
 * channel servers (tests/integration/fakechannel: each channel's
 * settings.baseUrl points at it, a demo project): a stock change reaches
 * every channel type after the channel-push job; many changes coalesce
 * into one call; buffer and maxQuantity are honoured and nothing is ever
 * negative; throttled channels (Shopify THROTTLED, WooCommerce 429 with
 * Retry-After, Takealot 429 with x-RateLimit-*) converge with no call made
 * while told to wait; refused credentials put the channel in error with a
 * critical insight; the sync job imports an order no webhook brought.
 * (The products worker killed amid stock changes is test_channelcrash: it
 * must not run beside these.) Stored state is read from the emulator
 * directly (audit.h), not through the API under test.
 */
#include "audit.h"
#include "chanworld.h"
#include "client.h"
#include "fakechannel.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chanworld.h"

static const enum fx_channel_type types[] = {FX_CHANNEL_SHOPIFY, FX_CHANNEL_WOOCOMMERCE, FX_CHANNEL_TAKEALOT};
static const char *const externals[] = {"43729076", "812", "91625339"};

Test(channelpush, a_stock_change_reaches_every_channel_type, .timeout = 180)
{
	struct world w;
	char cid[3][64], pid[64];

	world_new(&w, "pushall");
	product_new(&w, "ALL", 10, pid, sizeof(pid));
	for (int i = 0; i < 3; i++) {
		channel_new(&w, types[i], -1, cid[i], sizeof(cid[i]));
		listing_new(&w, cid[i], pid, externals[i], -1, -1);
	}
	/* The listings' own outbox entries: the first push. */
	cr_assert_gt(outbox_entries(&w), 0, "a new listing owes its first push");
	cr_assert_eq(run_job(&w, "channel-push", "listingsPushed"), 3);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(pushed(&w, types[i], externals[i]), 10, "%s holds the stock", externals[i]);
	cr_assert_eq(outbox_entries(&w), 0, "every entry read and settled is gone");

	cr_assert_eq(adjust(&w, pid, -3), 200);
	cr_assert_eq(outbox_entries(&w), 1, "the change wrote its entry in the same commit");
	cr_assert_eq(run_job(&w, "channel-push", "listingsPushed"), 3);
	for (int i = 0; i < 3; i++) {
		char path[300];
		struct http_resp *r;

		cr_assert_eq(pushed(&w, types[i], externals[i]), 7, "%s holds 10 - 3", externals[i]);
		snprintf(path, sizeof(path), "/v1/channels/%s/listings", cid[i]);
		r = http_get(path, w.owner.id_token);
		cr_assert_eq(r->status, 200, "%s", r->body);
		cr_assert_eq(json_int(r, "data.0.pushedQuantity"), 7, "%s", r->body);
		cr_assert_str_eq(json_str(r, "data.0.status"), "synced", "%s", r->body);
		http_resp_free(r);
		snprintf(path, sizeof(path), "/v1/channels/%s", cid[i]);
		r = http_get(path, w.owner.id_token);
		cr_assert_not_null(json_str(r, "lastStockPushAt"), "%s", r->body);
		cr_assert_null(strstr(r->body, "pushNotBefore"), "bookkeeping never in the answer: %s", r->body);
		cr_assert_null(strstr(r->body, "pushFailures"), "bookkeeping never in the answer: %s", r->body);
		http_resp_free(r);
	}
	fakechannel_stop(w.fake);
}

Test(channelpush, many_changes_coalesce_into_one_call_and_no_change_sends_nothing, .timeout = 180)
{
	struct world w;
	char cid[64], pid[64];
	unsigned calls;

	world_new(&w, "pushcoalesce");
	product_new(&w, "COAL", 50, pid, sizeof(pid));
	channel_new(&w, FX_CHANNEL_WOOCOMMERCE, -1, cid, sizeof(cid));
	listing_new(&w, cid, pid, "812", -1, -1);
	run_job(&w, "channel-push", NULL);
	cr_assert_eq(pushed(&w, FX_CHANNEL_WOOCOMMERCE, "812"), 50);
	calls = fakechannel_calls(w.fake, "push");
	for (int i = 0; i < 10; i++)
		cr_assert_eq(adjust(&w, pid, -1), 200);
	cr_assert_eq(outbox_entries(&w), 10, "one entry per change");
	cr_assert_eq(run_job(&w, "channel-push", "outboxRead"), 10);
	cr_assert_eq(fakechannel_calls(w.fake, "push") - calls, 1, "ten changes, one call");
	cr_assert_eq(fakechannel_sets(w.fake, FX_CHANNEL_WOOCOMMERCE, "812"), 2,
		     "the first push and the coalesced one");
	cr_assert_eq(pushed(&w, FX_CHANNEL_WOOCOMMERCE, "812"), 40);

	/* Down and up again before a run: the quantity the channel holds is right, nothing is sent. */
	cr_assert_eq(adjust(&w, pid, -5), 200);
	cr_assert_eq(adjust(&w, pid, 5), 200);
	calls = fakechannel_calls(w.fake, "push");
	cr_assert_eq(run_job(&w, "channel-push", "listingsUnchanged"), 1);
	cr_assert_eq(fakechannel_calls(w.fake, "push"), calls, "nothing changed for the channel: no call");
	cr_assert_eq(outbox_entries(&w), 0);
	fakechannel_stop(w.fake);
}

Test(channelpush, buffer_and_max_quantity_are_honoured_and_never_negative, .timeout = 180)
{
	struct world w;
	char c1[64], c2[64], pid[64];

	world_new(&w, "pushbuffer");
	product_new(&w, "BUF", 10, pid, sizeof(pid));
	channel_new(&w, FX_CHANNEL_TAKEALOT, 2, c1, sizeof(c1)); /* bufferDefault 2 */
	channel_new(&w, FX_CHANNEL_SHOPIFY, 2, c2, sizeof(c2));
	listing_new(&w, c1, pid, "5001", -1, -1); /* the channel's buffer */
	listing_new(&w, c2, pid, "5002", 5, 3); /* its own buffer 5 (over the default), capped at 3 */
	run_job(&w, "channel-push", NULL);
	cr_assert_eq(pushed(&w, FX_CHANNEL_TAKEALOT, "5001"), 8, "10 - bufferDefault 2");
	cr_assert_eq(pushed(&w, FX_CHANNEL_SHOPIFY, "5002"), 3, "min(10 - 5, 3)");

	cr_assert_eq(adjust(&w, pid, -4), 200); /* 6 */
	run_job(&w, "channel-push", NULL);
	cr_assert_eq(pushed(&w, FX_CHANNEL_TAKEALOT, "5001"), 4);
	cr_assert_eq(pushed(&w, FX_CHANNEL_SHOPIFY, "5002"), 1, "6 - 5 is below the cap");

	cr_assert_eq(adjust(&w, pid, -5), 200); /* 1: below both buffers */
	run_job(&w, "channel-push", NULL);
	cr_assert_eq(available(&w, pid), 1);
	cr_assert_eq(pushed(&w, FX_CHANNEL_TAKEALOT, "5001"), 0, "1 - 2 shows 0, never -1");
	cr_assert_eq(pushed(&w, FX_CHANNEL_SHOPIFY, "5002"), 0, "1 - 5 shows 0, never -4");
	fakechannel_stop(w.fake);
}

/*
 * Each channel throttles for a while (Shopify THROTTLED, WooCommerce 429 +
 * Retry-After, Takealot 429 + x-RateLimit-Reset); stock keeps changing and
 * the job keeps running (as the scheduler would, faster). Every listing
 * converges to the final quantity, and each channel was called exactly once
 * while throttled: after it said to wait, nothing was sent before then.
 */
Test(channelpush, throttled_channels_converge_with_no_call_while_told_to_wait, .timeout = 240)
{
	struct world w;
	char cid[3][64], pid[64];
	bool done = false;
	time_t end;
	int runs = 0;

	world_new(&w, "pushthrottle");
	product_new(&w, "THR", 20, pid, sizeof(pid));
	for (int i = 0; i < 3; i++) {
		channel_new(&w, types[i], -1, cid[i], sizeof(cid[i]));
		listing_new(&w, cid[i], pid, externals[i], -1, -1);
	}
	run_job(&w, "channel-push", NULL);
	fakechannel_throttle(w.fake, 4000);
	cr_assert_eq(adjust(&w, pid, -1), 200);
	cr_assert_eq(run_job(&w, "channel-push", "pushCallsFailed"), 3, "each channel said to wait");
	cr_assert_eq(fakechannel_calls(w.fake, "throttled"), 3);
	cr_assert_eq(adjust(&w, pid, -2), 200);
	cr_assert_eq(adjust(&w, pid, -2), 200); /* 15 */
	for (end = time(NULL) + 90; !done && time(NULL) < end; runs++) {
		long long q;

		run_job(&w, "channel-push", NULL);
		done = true;
		for (int i = 0; i < 3; i++)
			done = done && fakechannel_quantity(w.fake, types[i], externals[i], &q) && q == 15;
		if (!done)
			usleep(200 * 1000); /* the next "minute" of the scheduler */
	}
	cr_assert(done, "every channel converged to 15 within 90 s (%d runs)", runs);
	cr_assert_gt(runs, 1, "the channels were waited for, not called again at once");
	cr_assert_eq(fakechannel_calls(w.fake, "throttled"), 3,
		     "no channel was called again while it had said to wait (%u throttled calls)",
		     fakechannel_calls(w.fake, "throttled"));
	cr_assert_eq(outbox_entries(&w), 0, "entries kept while waiting are gone once pushed");
	fakechannel_stop(w.fake);
}

Test(channelpush, refused_credentials_set_the_channel_error_with_a_critical_insight, .timeout = 180)
{
	struct world w;
	char cid[64], pid[64], path[300];
	struct http_resp *r;
	unsigned refused;

	world_new(&w, "pushrefused");
	product_new(&w, "REF", 9, pid, sizeof(pid));
	channel_new(&w, FX_CHANNEL_SHOPIFY, -1, cid, sizeof(cid));
	listing_new(&w, cid, pid, "43729076", -1, -1);
	fakechannel_refuse_credentials(w.fake, true);
	cr_assert_eq(run_job(&w, "channel-push", "channelsRefused"), 1);
	snprintf(path, sizeof(path), "/v1/channels/%s", cid);
	r = http_get(path, w.owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "status"), "error", "%s", r->body);
	cr_assert_not_null(json_str(r, "lastError.message"), "%s", r->body);
	cr_assert_gt(json_int(r, "counts.pushesFailed"), 0, "%s", r->body);
	http_resp_free(r);
	r = http_get("/v1/insights?type=channel_error", w.owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "data.0.severity"), "critical", "%s", r->body);
	cr_assert_str_eq(json_str(r, "data.0.channelId"), cid, "%s", r->body);
	cr_assert_null(json_str(r, "data.1.id"), "one insight for the channel: %s", r->body);
	http_resp_free(r);

	/* An error channel is not called again; its entries are not kept for it. */
	refused = fakechannel_calls(w.fake, "refused");
	cr_assert_eq(adjust(&w, pid, -1), 200);
	run_job(&w, "channel-push", NULL);
	cr_assert_eq(fakechannel_calls(w.fake, "refused"), refused, "the error channel was left alone");
	cr_assert_eq(outbox_entries(&w), 0);
	fakechannel_stop(w.fake);
}

/*
 * An order the channel took whose webhook never came: the sync job's poll
 * imports it once, lines mapped through the listing (stock reserved), and
 * a second run finds nothing new.
 */
Test(channelpush, the_sync_job_imports_an_order_no_webhook_brought, .timeout = 180)
{
	struct world w;
	char cid[64], pid[64], now[40], *json;
	const struct fakechannel_line line = {"7001", "812", NULL, "Kaapse mug", 2, 14999};
	struct fakechannel_order o = {"98765", NULL, "processing", now, "Thandi", "Mokoena", "thandi@example.co.za",
				      &line,   1,    6000};
	time_t t = time(NULL);
	struct http_resp *r;
	int found = 0;

	strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	world_new(&w, "pushpoll");
	product_new(&w, "POLL", 10, pid, sizeof(pid));
	channel_new(&w, FX_CHANNEL_WOOCOMMERCE, -1, cid, sizeof(cid));
	listing_new(&w, cid, pid, "812", -1, -1);
	json = fakechannel_order_json(FX_CHANNEL_WOOCOMMERCE, &o, true);
	fakechannel_add_order(w.fake, FX_CHANNEL_WOOCOMMERCE, "98765", now, json);
	free(json);

	cr_assert_eq(run_job(&w, "sync", "ordersCreated"), 1, "the poll found the order");
	cr_assert_eq(available(&w, pid), 8, "its line reserved 2 of the listed product");
	r = http_get("/v1/orders", w.owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	for (int i = 0; i < 10; i++) {
		char dotted[64];
		const char *ext;

		snprintf(dotted, sizeof(dotted), "data.%d.externalId", i);
		ext = json_str(r, dotted);
		if (ext && strcmp(ext, "98765") == 0)
			found++;
	}
	cr_assert_eq(found, 1, "one order for the channel's order: %s", r->body);
	cr_assert_str_eq(json_str(r, "data.0.channelId"), cid, "%s", r->body);
	http_resp_free(r);
	r = http_get("/v1/channels", w.owner.id_token);
	cr_assert_not_null(json_str(r, "data.0.lastOrderSyncAt"), "%s", r->body);
	cr_assert_eq(json_int(r, "data.0.counts.ordersImported"), 1, "%s", r->body);
	cr_assert_null(strstr(r->body, "orderCursor"), "the cursor is never in the answer: %s", r->body);
	http_resp_free(r);

	cr_assert_eq(run_job(&w, "sync", "ordersCreated"), 0, "nothing new the second time");
	cr_assert_eq(available(&w, pid), 8, "reserved once");
	fakechannel_stop(w.fake);
}

/* PATCH the channel's status with its current etag. */
static void set_status(const struct world *w, const char *cid, const char *status)
{
	char path[300], body[100], ifm[200];
	const char *h[] = {ifm, NULL};
	struct http_resp *r;

	snprintf(path, sizeof(path), "/v1/channels/%s", cid);
	r = http_get(path, w->owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	snprintf(ifm, sizeof(ifm), "If-Match: %s", json_str(r, "etag"));
	http_resp_free(r);
	snprintf(body, sizeof(body), "{\"status\":\"%s\"}", status);
	r = http_json_h("PATCH", path, w->owner.id_token, body, h);
	cr_assert_eq(r->status, 200, "%s", r->body);
	http_resp_free(r);
}

/*
 * A paused channel is owed nothing (its entries go), so a change made while
 * it was paused reaches it only through :sync, which checks every listing.
 */
Test(channelpush, sync_now_pushes_what_a_paused_channel_missed, .timeout = 180)
{
	struct world w;
	char cid[64], pid[64], path[300];
	struct http_resp *r;

	world_new(&w, "pushsyncnow");
	product_new(&w, "SYN", 10, pid, sizeof(pid));
	channel_new(&w, FX_CHANNEL_TAKEALOT, -1, cid, sizeof(cid));
	listing_new(&w, cid, pid, "777001", -1, -1);
	run_job(&w, "channel-push", NULL);
	cr_assert_eq(pushed(&w, FX_CHANNEL_TAKEALOT, "777001"), 10);
	set_status(&w, cid, "paused");
	cr_assert_eq(adjust(&w, pid, -4), 200);
	run_job(&w, "channel-push", NULL);
	cr_assert_eq(pushed(&w, FX_CHANNEL_TAKEALOT, "777001"), 10, "a paused channel is not called");
	cr_assert_eq(outbox_entries(&w), 0, "and its entries are not kept");

	snprintf(path, sizeof(path), "/v1/channels/%s:sync", cid);
	r = http_json("POST", path, w.owner.id_token, NULL);
	cr_assert_eq(r->status, 409, "a paused channel is not synced: %s", r->body);
	cr_assert_str_eq(json_str(r, "error.status"), "FAILED_PRECONDITION", "%s", r->body);
	http_resp_free(r);
	set_status(&w, cid, "active");
	r = http_json("POST", path, w.owner.id_token, "{}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(json_int(r, "stock.pushed"), 1, "%s", r->body);
	cr_assert_str_eq(json_str(r, "channel.id"), cid, "%s", r->body);
	cr_assert_null(strstr(r->body, "pushFailures"), "bookkeeping never in the answer: %s", r->body);
	http_resp_free(r);
	cr_assert_eq(pushed(&w, FX_CHANNEL_TAKEALOT, "777001"), 6, "the change made while paused arrived");
	r = http_json("POST", path, w.owner.id_token, NULL);
	cr_assert_eq(json_int(r, "stock.unchanged"), 1, "nothing left to send: %s", r->body);
	http_resp_free(r);
	fakechannel_stop(w.fake);
}

/*
 * One listing whose externalId the channel cannot take (not a WooCommerce
 * id) must not hold back the channel's other listings: it fails alone,
 * counts its failures and goes error after 5, then its entry goes too.
 */
Test(channelpush, a_listing_the_channel_cannot_take_fails_alone_and_goes_error, .timeout = 240)
{
	struct world w;
	char cid[64], good[64], bad[64], path[300];
	struct http_resp *r;

	world_new(&w, "pushpoison");
	product_new(&w, "GOOD", 10, good, sizeof(good));
	product_new(&w, "BAD", 10, bad, sizeof(bad));
	channel_new(&w, FX_CHANNEL_WOOCOMMERCE, -1, cid, sizeof(cid));
	listing_new(&w, cid, good, "812", -1, -1);
	listing_new(&w, cid, bad, "999", -1, -1);
	fakechannel_woocommerce_unknown(w.fake, "999"); /* well formed, but no such product in the store */
	run_job(&w, "channel-push", NULL);
	cr_assert_eq(pushed(&w, FX_CHANNEL_WOOCOMMERCE, "812"), 10, "the good listing is pushed");
	for (int run = 2; run <= 5; run++) {
		cr_assert_eq(outbox_entries(&w), 1, "the failing listing keeps its entry (run %d)", run);
		run_job(&w, "channel-push", NULL);
	}
	snprintf(path, sizeof(path), "/v1/channels/%s/listings", cid);
	r = http_get(path, w.owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	for (int i = 0; i < 2; i++) {
		char dotted[64];
		const char *ext;

		snprintf(dotted, sizeof(dotted), "data.%d.externalId", i);
		ext = json_str(r, dotted);
		snprintf(dotted, sizeof(dotted), "data.%d.status", i);
		cr_assert_str_eq(json_str(r, dotted), strcmp(ext, "812") == 0 ? "synced" : "error", "%s", r->body);
		snprintf(dotted, sizeof(dotted), "data.%d.lastError.message", i);
		if (strcmp(ext, "812") != 0)
			cr_assert_not_null(json_str(r, dotted), "%s", r->body);
	}
	http_resp_free(r);
	cr_assert_eq(outbox_entries(&w), 0, "an error listing is settled");
	cr_assert_eq(adjust(&w, good, -1), 200);
	run_job(&w, "channel-push", NULL);
	cr_assert_eq(pushed(&w, FX_CHANNEL_WOOCOMMERCE, "812"), 9, "the channel was never held back");
	fakechannel_stop(w.fake);
}

/* The poll meets refused credentials: the channel goes error with the insight, the cursor stays, the job goes on. */
Test(channelpush, the_sync_poll_meeting_refused_credentials_sets_the_channel_error, .timeout = 180)
{
	struct world w;
	char cid[64], path[300];
	struct http_resp *r;

	world_new(&w, "pollrefused");
	channel_new(&w, FX_CHANNEL_TAKEALOT, -1, cid, sizeof(cid));
	fakechannel_refuse_credentials(w.fake, true);
	cr_assert_eq(run_job(&w, "sync", "channelsFailed"), 1, "the run succeeds, the channel is counted failed");
	snprintf(path, sizeof(path), "/v1/channels/%s", cid);
	r = http_get(path, w.owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "status"), "error", "%s", r->body);
	cr_assert_not_null(json_str(r, "lastError.message"), "%s", r->body);
	cr_assert_null(json_str(r, "lastOrderSyncAt"), "no page was read: %s", r->body);
	http_resp_free(r);
	r = http_get("/v1/insights?type=channel_error", w.owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "data.0.channelId"), cid, "%s", r->body);
	cr_assert_str_eq(json_str(r, "data.0.severity"), "critical", "%s", r->body);
	http_resp_free(r);
	cr_assert_eq(run_job(&w, "sync", "channelsPolled"), 0, "an error channel is not polled again");
	fakechannel_stop(w.fake);
}
