/*
 * The delivery job killed mid-batch, through nginx: both instances of the
 * jobs worker get SIGKILL while webhook-deliver is sending a batch to a
 * slow receiver (the supervisor restarts them). Afterwards every event is
 * delivered -- nothing lost, once the killed run's leases expire -- and an event that arrived twice arrived
 * with the same X-Fluxori-Delivery and the same body, the only duplicates
 * the contract allows; per product, the first arrival of each event
 * follows the order of the changes. Alone in its file: it kills a shared
 * group, which the other tests' job runs would see.
 */
#include "audit.h"
#include "client.h"
#include "whreceiver.h"
#include "whworld.h"
#include "workerkill.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHANGES 30
#define START 1000

/* Seconds the killed run's job lease (jobLeases/webhook-deliver-{org}) still has; -1 when none is held. */
static long dead_lease_left(const char *org)
{
	char rel[300];
	json_object *doc;
	long left;

	snprintf(rel, sizeof(rel), "jobLeases/webhook-deliver-%s", org);
	doc = fs_read(rel);
	if (!doc)
		return -1;
	left = (long)(fs_int(doc, "expiresAt") - (long long)time(NULL));
	json_object_put(doc);
	return left;
}

static void *run_once(void *arg)
{
	wh_run(arg);
	return NULL;
}

/* onHand in a product.stock_changed body's data, -1 when absent. */
static long long on_hand(json_object *j)
{
	json_object *data = json_object_object_get(j, "data"), *stock = json_object_object_get(data, "stock"),
		    *v = json_object_object_get(stock, "onHand");

	return v ? json_object_get_int64(v) : -1;
}

Test(webhookcrash, a_killed_delivery_worker_loses_no_event_and_repeats_only_with_the_same_id, .timeout = 600)
{
	struct whworld w;
	char wid[64], secret[128], pid[64];
	pthread_t th;
	long after, left;
	size_t n, distinct = 0, dups = 0;
	char ids[CHANGES + 16][128];
	char *bodies[CHANGES + 16] = {0};
	long long last = START + 1;

	wh_world_new(&w, "whkill");
	wh_product(&w, "KILL", START, pid, sizeof(pid));
	wh_subscribe(&w, whreceiver_url(w.recv), "[\"product.stock_changed\"]", wid, sizeof(wid), secret,
		     sizeof(secret));
	for (int i = 0; i < CHANGES; i++)
		cr_assert_eq(wh_adjust(&w, pid, -1), 200);

	/* A slow receiver keeps the run mid-batch; kill both jobs instances after a few deliveries. */
	whreceiver_delay(w.recv, 300);
	cr_assert_eq(pthread_create(&th, NULL, run_once, &w), 0);
	cr_assert(whreceiver_wait_accepted(w.recv, 3, 120000), "the run delivers before the kill");
	workerkill_group("jobs");
	pthread_join(th, NULL);
	cr_assert_lt(whreceiver_accepted(w.recv), CHANGES, "the kill came mid-batch");
	whreceiver_delay(w.recv, 0);
	/* Once both instances answer again, the killed run still holds its leases: say for how long. */
	workerkill_wait_up("jobs", 120);
	/* The first answer from a restarted instance (nginx answers 502/503 until one is back). */
	for (time_t end = time(NULL) + 120; (after = wh_run(&w)) >= 500 && time(NULL) < end;)
		usleep(200 * 1000);
	left = dead_lease_left(w.org);
	cr_log_info("after the kill a run answers %ld; the dead run's job lease had %ld s left", after, left);

	/* Runs (the killed run's leases expire first: 120 s since wh-core fe68a2c) until every change arrived. */
	for (time_t end = time(NULL) + 400; time(NULL) < end; usleep(500 * 1000)) {
		long long least = START + 1;
		wh_run(&w);
		n = whreceiver_count(w.recv);
		distinct = 0;
		for (size_t i = 0; i < n; i++) {
			struct whreceiver_delivery d;
			json_object *j = wh_body(&w, i, &d);
			size_t k;
			if (d.status == 200 && strcmp(json_object_get_string(json_object_object_get(j, "type")),
						      "product.stock_changed") == 0) {
				for (k = 0; k < distinct && strcmp(ids[k], d.delivery) != 0; k++)
					;
				if (k == distinct && distinct < CHANGES + 16)
					snprintf(ids[distinct++], sizeof(ids[0]), "%s", d.delivery);
				if (on_hand(j) >= 0 && on_hand(j) < least)
					least = on_hand(j);
			}
			json_object_put(j);
			whreceiver_delivery_free(&d);
		}
		if (distinct >= CHANGES && least == START - CHANGES)
			break;
	}
	cr_assert_geq(distinct, CHANGES, "every change's event arrived (%zu of %d)", distinct, CHANGES);

	/* Duplicates only with the same id and body; first arrivals in the order of the changes. */
	distinct = 0;
	n = whreceiver_count(w.recv);
	for (size_t i = 0; i < n; i++) {
		struct whreceiver_delivery d;
		json_object *j = wh_body(&w, i, &d);
		size_t k;
		if (d.status == 200) {
			cr_assert(d.valid, "accepted means verified");
			for (k = 0; k < distinct && strcmp(ids[k], d.delivery) != 0; k++)
				;
			if (k < distinct) {
				dups++;
				cr_assert_str_eq(d.body, bodies[k], "a repeat carries the same event");
			} else if (distinct < CHANGES + 16) {
				long long oh = on_hand(j);
				snprintf(ids[distinct], sizeof(ids[0]), "%s", d.delivery);
				bodies[distinct++] = strdup(d.body);
				if (oh >= 0) {
					cr_assert_lt(oh, last, "first arrivals follow the order of the changes: %s",
						     d.body);
					last = oh;
				}
			}
		}
		json_object_put(j);
		whreceiver_delivery_free(&d);
	}
	cr_log_info("%zu requests, %zu distinct events accepted, %zu repeats", n, distinct, dups);
	cr_assert_eq(last, START - CHANGES, "the last change's onHand arrived last");
	for (size_t k = 0; k < distinct; k++)
		free(bodies[k]);
	wh_world_end(&w);
	workerkill_settle_emulator();
}
