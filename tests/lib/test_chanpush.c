#include "chanpush.h"

#include "emulator.h"
#include "fakechannel.h"
#include "firestore.h"
#include "fswrite.h"
#include "log.h"
#include "map.h"
#include "model.h"
#include "outbox.h"
#include "seal.h"
#include "stock.h"

#include <criterion/criterion.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- the quantity a listing shows ---- */

Test(quantity, is_available_less_the_buffer)
{
	cr_assert_eq(fx_chanpush_quantity(10, 0, -1), 10);
	cr_assert_eq(fx_chanpush_quantity(10, 3, -1), 7);
}

Test(quantity, is_never_negative)
{
	cr_assert_eq(fx_chanpush_quantity(3, 3, -1), 0, "a buffer equal to available leaves nothing");
	cr_assert_eq(fx_chanpush_quantity(2, 5, -1), 0, "a buffer above available is 0, not -3");
	cr_assert_eq(fx_chanpush_quantity(-4, 0, -1), 0, "oversold stock (available below 0) shows 0");
	cr_assert_eq(fx_chanpush_quantity(0, 0, 10), 0);
}

Test(quantity, is_capped_by_max_quantity)
{
	cr_assert_eq(fx_chanpush_quantity(100, 0, 25), 25);
	cr_assert_eq(fx_chanpush_quantity(100, 80, 25), 20, "the cap applies after the buffer");
	cr_assert_eq(fx_chanpush_quantity(100, 0, 0), 0, "a cap of 0 hides the listing's stock");
	cr_assert_eq(fx_chanpush_quantity(7, 0, 25), 7, "below the cap the cap does nothing");
}

Test(quantity, negative_buffer_counts_as_none_and_extremes_do_not_overflow)
{
	cr_assert_eq(fx_chanpush_quantity(10, -5, -1), 10, "a negative buffer never adds stock");
	cr_assert_eq(fx_chanpush_quantity(INT64_MAX, 0, -1), INT64_MAX);
	cr_assert_eq(fx_chanpush_quantity(INT64_MAX, INT64_MAX, -1), 0);
	cr_assert_eq(fx_chanpush_quantity(INT64_MIN, INT64_MAX, -1), 0);
	cr_assert_eq(fx_chanpush_quantity(INT64_MAX, INT64_MIN, 5), 5);
}

/* ---- backoff after failed calls ---- */

Test(backoff, doubles_from_one_second_per_repeated_failure)
{
	cr_assert_eq(fx_chanpush_backoff_ms(1, 0), 1000);
	cr_assert_eq(fx_chanpush_backoff_ms(2, 0), 2000);
	cr_assert_eq(fx_chanpush_backoff_ms(3, 0), 4000);
	cr_assert_eq(fx_chanpush_backoff_ms(7, 0), 64000, "the 7th failure in a row waits past the next minute's run");
}

Test(backoff, stops_growing_at_fifteen_minutes)
{
	cr_assert_eq(fx_chanpush_backoff_ms(11, 0), 15 * 60 * 1000, "2^10 s would be 17 min");
	cr_assert_eq(fx_chanpush_backoff_ms(1000, 0), 15 * 60 * 1000, "no overflow however long it fails");
	cr_assert_eq(fx_chanpush_backoff_ms(INT32_MAX, 0), 15 * 60 * 1000);
}

Test(backoff, never_calls_before_the_channel_said)
{
	cr_assert_eq(fx_chanpush_backoff_ms(1, 30000), 30000, "Retry-After: 30 beats our 1 s");
	cr_assert_eq(fx_chanpush_backoff_ms(6, 3000), 32000, "our backoff beats a shorter Retry-After");
	cr_assert_eq(fx_chanpush_backoff_ms(20, 3600 * 1000), 3600 * 1000,
		     "what the channel asks is honoured above our own cap");
}

Test(backoff, a_first_failure_below_one_counts_as_one)
{
	cr_assert_eq(fx_chanpush_backoff_ms(0, 0), 1000);
	cr_assert_eq(fx_chanpush_backoff_ms(-3, 0), 1000);
}

/* ---- a listing that keeps failing ---- */

Test(failures, a_listing_goes_error_after_five_failures_in_a_row)
{
	for (int64_t f = 1; f < FX_CHANPUSH_MAX_FAILURES; f++)
		cr_assert_str_eq(fx_chanpush_failed_status(f), "pending", "failure %lld of 5 keeps retrying",
				 (long long)f);
	cr_assert_eq(FX_CHANPUSH_MAX_FAILURES, 5);
	cr_assert_str_eq(fx_chanpush_failed_status(5), "error");
	cr_assert_str_eq(fx_chanpush_failed_status(6), "error");
}

/* ---- one organization's push against the Firestore emulator and the fake channel ---- */

#define PORT_ENV "FLUXORI_TEST_CHANPUSH_FIRESTORE" /* host:port, set once the emulator answers */

const struct emu_fixture emu_fixture = {"chanpush", EMU_ALONE, EMU_FIRESTORE, PORT_ENV, NULL};

static struct emu_client emu;

static void setup(void)
{
	struct fx_err e;

	fx_log_init("test_chanpush", FX_LOG_ERROR);
	emu_firestore_use(&emu, PORT_ENV);
	fx_err_clear(&e);
	cr_assert_eq(fx_seal_keys_load("demo-fluxori", NULL, NULL, &e), 0, "%s", e.message);
}

TestSuite(run, .init = setup, .timeout = 180);

struct shop {
	char org[FX_ID_LEN + 1], cid[FX_ID_LEN + 1], lid[FX_ID_LEN + 1], pid[FX_ID_LEN + 1];
	struct fakechannel *fake;
};

static void create(const char *rel, struct fx_value *fields)
{
	struct fx_err e;

	fx_err_clear(&e);
	cr_assert_eq(fx_firestore_create(rel, fields, NULL, &e), 0, "%s: %s", rel, e.message);
	fx_value_cleanup(fields);
}

/* An organization with a WooCommerce channel on the fake, a product of `available` units listed as "812", and its outbox entry. */
static void shop_new(struct shop *s, int64_t available)
{
	char rel[400], ref[64], *sealed = NULL;
	const char *creds =
		"{\"consumerKey\":\"" FAKECHANNEL_WOO_KEY "\",\"consumerSecret\":\"" FAKECHANNEL_WOO_SECRET "\"}";
	struct fx_value v = {0}, *m;
	json_object *writes = json_object_new_array();
	struct fx_err e;

	fx_err_clear(&e);
	fx_model_id_new(s->org);
	fx_model_id_new(s->cid);
	fx_model_id_new(s->lid);
	fx_model_id_new(s->pid);
	s->fake = fakechannel_start();
	cr_assert_not_null(s->fake);
	snprintf(rel, sizeof(rel), "organizations/%s/channels/%s", s->org, s->cid);
	cr_assert_eq(fx_seal(creds, strlen(creds), rel, &sealed, &e), 0, "%s", e.message);
	fx_value_map(&v);
	fx_map_set_str(&v, "type", "woocommerce");
	fx_map_set_str(&v, "name", "Woo");
	fx_map_set_str(&v, "status", "active");
	fx_map_set_str(&v, "organizationId", s->org);
	m = fx_map_set(&v, "settings");
	fx_value_map(m);
	fx_map_set_str(m, "siteUrl", "https://woo.example.co.za");
	fx_map_set_str(m, "baseUrl", fakechannel_url(s->fake));
	fx_map_set_int(m, "bufferDefault", 0);
	m = fx_map_set(&v, "sealed");
	fx_value_map(m);
	fx_map_set_str(m, "credentials", sealed);
	free(sealed);
	create(rel, &v);
	snprintf(rel, sizeof(rel), "organizations/%s/channels/%s/listings/%s", s->org, s->cid, s->lid);
	fx_value_map(&v);
	fx_map_set_str(&v, "productId", s->pid);
	fx_map_set_str(&v, "externalId", "812");
	fx_value_null(fx_map_set(&v, "buffer"));
	fx_value_null(fx_map_set(&v, "maxQuantity"));
	fx_map_set_str(&v, "status", "pending");
	fx_map_set_str(&v, "organizationId", s->org);
	create(rel, &v);
	snprintf(rel, sizeof(rel), "organizations/%s/products/%s", s->org, s->pid);
	snprintf(ref, sizeof(ref), "%s/%s", s->cid, s->lid);
	fx_value_map(&v);
	fx_stock_set(&v, available, 0, 0);
	m = fx_map_set(&v, "listings");
	fx_value_array(m);
	fx_value_string(fx_value_push(m), ref, strlen(ref));
	fx_map_set_str(&v, "organizationId", s->org);
	create(rel, &v);
	cr_assert_eq(fx_outbox_add(writes, s->org, FX_OUTBOX_STOCK, s->pid, NULL, &e), 0, "%s", e.message);
	cr_assert_eq(fx_firestore_commit(writes, NULL, NULL, NULL, &e), 0, "%s", e.message);
	json_object_put(writes);
}

static size_t entries(const struct shop *s)
{
	struct fx_query *q = fx_fsquery_new("outbox", false);
	struct fx_doc *docs = NULL;
	size_t n = 0;
	char parent[200];
	struct fx_err e;

	fx_err_clear(&e);
	snprintf(parent, sizeof(parent), "organizations/%s", s->org);
	cr_assert_eq(fx_firestore_query(parent, q, NULL, &docs, &n, &e), 0, "%s", e.message);
	fx_fsquery_free(q);
	fx_firestore_docs_free(docs, n);
	return n;
}

/* Writes the organization's push lease, expiring at expires (Unix seconds), held by someone else. */
static void hold_lease(const struct shop *s, int64_t expires)
{
	char rel[200], *name;
	struct fx_value v = {0};
	json_object *writes = json_object_new_array();
	struct fx_err e;

	fx_err_clear(&e);
	snprintf(rel, sizeof(rel), "jobLeases/chanpush-%s", s->org);
	name = fx_firestore_name(rel);
	fx_value_map(&v);
	fx_map_set_str(&v, "runId", "someone-else");
	fx_map_set_int(&v, "expiresAt", expires);
	cr_assert_eq(fx_fswrite_set(writes, name, &v, NULL, &e), 0, "%s", e.message);
	cr_assert_eq(fx_firestore_commit(writes, NULL, NULL, NULL, &e), 0, "%s", e.message);
	json_object_put(writes);
	fx_value_cleanup(&v);
	free(name);
}

Test(run, pushes_the_outbox_and_deletes_what_it_settled)
{
	struct shop s;
	struct fx_chanpush_stats st;
	struct fx_err e;
	long long q = -1;

	shop_new(&s, 7);
	memset(&st, 0, sizeof(st));
	fx_err_clear(&e);
	cr_assert_eq(fx_chanpush_run(s.org, NULL, false, &st, &e), 0, "%s", e.message);
	cr_assert(fakechannel_quantity(s.fake, FX_CHANNEL_WOOCOMMERCE, "812", &q));
	cr_assert_eq(q, 7);
	cr_assert_eq(st.entries_read, 1);
	cr_assert_eq(st.entries_deleted, 1);
	cr_assert_eq(st.listings_pushed, 1);
	cr_assert_eq(entries(&s), 0);
	fakechannel_stop(s.fake);
}

/* Two pushes of one organization never overlap: a held lease makes a run do nothing, an expired one is taken. */
Test(run, a_held_lease_leaves_everything_to_its_holder_and_an_expired_one_is_taken)
{
	struct shop s;
	struct fx_chanpush_stats st;
	struct fx_err e;
	long long q = -1;

	shop_new(&s, 5);
	hold_lease(&s, (int64_t)time(NULL) + 300);
	memset(&st, 0, sizeof(st));
	fx_err_clear(&e);
	cr_assert_eq(fx_chanpush_run(s.org, NULL, false, &st, &e), 0, "%s", e.message);
	cr_assert(st.busy, "the run saw the lease held");
	cr_assert_eq(st.entries_read, 0);
	cr_assert_eq(fakechannel_calls(s.fake, NULL), 0, "the channel was not called");
	cr_assert_eq(entries(&s), 1, "the entry waits for the holder");

	hold_lease(&s, (int64_t)time(NULL) - 1); /* its holder died */
	memset(&st, 0, sizeof(st));
	cr_assert_eq(fx_chanpush_run(s.org, NULL, false, &st, &e), 0, "%s", e.message);
	cr_assert_not(st.busy);
	cr_assert(fakechannel_quantity(s.fake, FX_CHANNEL_WOOCOMMERCE, "812", &q));
	cr_assert_eq(q, 5);
	cr_assert_eq(entries(&s), 0);
	fakechannel_stop(s.fake);
}

/* A push restricted to another channel leaves this product's entry for the full run. */
Test(run, a_run_for_another_channel_keeps_the_entry)
{
	struct shop s;
	struct fx_chanpush_stats st;
	struct fx_err e;
	char other[FX_ID_LEN + 1];

	shop_new(&s, 3);
	fx_model_id_new(other);
	memset(&st, 0, sizeof(st));
	fx_err_clear(&e);
	cr_assert_eq(fx_chanpush_run(s.org, other, false, &st, &e), 0, "%s", e.message);
	cr_assert_eq(fakechannel_calls(s.fake, NULL), 0);
	cr_assert_eq(entries(&s), 1, "the product is listed on a channel this run did not push");
	fakechannel_stop(s.fake);
}

/* An organization with nothing waiting is not leased: the every-minute run over all costs one read there. */
Test(run, nothing_waiting_takes_no_lease)
{
	struct shop s;
	struct fx_chanpush_stats st;
	struct fx_doc lease = {0};
	char rel[200];
	struct fx_err e;

	shop_new(&s, 4);
	fx_err_clear(&e);
	memset(&st, 0, sizeof(st));
	cr_assert_eq(fx_chanpush_run(s.org, NULL, false, &st, &e), 0, "%s", e.message);
	cr_assert_eq(entries(&s), 0);
	hold_lease(&s, (int64_t)time(NULL) + 300); /* held by someone else: a run that took it would say busy */
	memset(&st, 0, sizeof(st));
	cr_assert_eq(fx_chanpush_run(s.org, NULL, false, &st, &e), 0, "%s", e.message);
	cr_assert_not(st.busy, "with an empty outbox the lease is not even looked at");
	cr_assert_eq(st.entries_read, 0);
	snprintf(rel, sizeof(rel), "jobLeases/chanpush-%s", s.org);
	cr_assert_eq(fx_firestore_get(rel, &lease, &e), 0, "%s", e.message);
	cr_assert_str_eq(fx_value_path_str(&lease.fields, "runId"), "someone-else", "the lease was not touched");
	fx_firestore_doc_cleanup(&lease);
	fakechannel_stop(s.fake);
}
