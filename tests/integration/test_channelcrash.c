/*
 * The crash invariant of the outbox, through nginx: both instances of the
 * products worker are killed with SIGKILL while stock changes stream in
 * (the supervisor restarts them). Every change that committed is in
 * onHand and its movements (audit_org), and after one channel-push run
 * the fake channel holds exactly each product's final available: a change
 * and its outbox entry commit together or not at all. Alone in its file:
 * it kills a shared group, which the other tests' requests would see.
 */
#include "audit.h"
#include "chanworld.h"
#include "client.h"
#include "fakechannel.h"
#include "workerkill.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct adjuster {
	const struct world *w;
	const char *pid;
	atomic_int *stop;
	int sent, ok;
};

static void *adjust_loop(void *arg)
{
	struct adjuster *a = arg;

	while (!atomic_load(a->stop)) {
		int delta = (a->sent % 3 == 2) ? 2 : -1;

		if (adjust(a->w, a->pid, delta) == 200)
			a->ok++;
		a->sent++;
	}
	return NULL;
}

Test(channelcrash, a_killed_products_worker_loses_no_change_and_the_push_sends_the_final_available, .timeout = 300)
{
	struct world w;
	char cid[64], pid[4][64], ext[16];
	pthread_t th[4];
	struct adjuster a[4];
	atomic_int stop = 0;
	struct audit au;
	int sent = 0, ok = 0;

	world_new(&w, "pushkill");
	channel_new(&w, FX_CHANNEL_WOOCOMMERCE, -1, cid, sizeof(cid));
	for (int i = 0; i < 4; i++) {
		product_new(&w, "KILL", 1000, pid[i], sizeof(pid[i]));
		snprintf(ext, sizeof(ext), "%d", 900 + i);
		listing_new(&w, cid, pid[i], ext, -1, -1);
	}
	run_job(&w, "channel-push", NULL);
	for (int i = 0; i < 4; i++) {
		a[i] = (struct adjuster){&w, pid[i], &stop, 0, 0};
		cr_assert_eq(pthread_create(&th[i], NULL, adjust_loop, &a[i]), 0);
	}
	/* Mid-stream: wait for changes to flow, then kill both instances of the products group. */
	for (time_t end = time(NULL) + 60; a[0].ok + a[1].ok < 20 && time(NULL) < end;)
		usleep(20 * 1000);
	cr_assert_geq(a[0].ok + a[1].ok, 20, "adjustments flow before the kill");
	workerkill_group("products");
	/* Changes go on until the supervisors have the group answering again. */
	for (time_t end = time(NULL) + 120; time(NULL) < end;) {
		int before = a[2].ok + a[3].ok;

		usleep(300 * 1000);
		if (a[2].ok + a[3].ok > before + 5 && workerkill_wait_up("products", 0))
			break;
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		sent += a[i].sent;
		ok += a[i].ok;
	}
	cr_log_info("%d adjustments sent, %d answered 200 (the others died with the workers or were refused)", sent,
		    ok);

	/* Every change that committed is in onHand and its movements, whatever its request saw. */
	audit_org(w.org, &au);
	cr_assert_eq(au.products, 4);
	/* And it owed a push: after one run, the channel holds exactly each product's available. */
	run_job(&w, "channel-push", NULL);
	for (int i = 0; i < 4; i++) {
		snprintf(ext, sizeof(ext), "%d", 900 + i);
		cr_assert_eq(pushed(&w, FX_CHANNEL_WOOCOMMERCE, ext), available(&w, pid[i]),
			     "product %d: the channel holds its final available", i);
	}
	cr_assert_eq(outbox_entries(&w), 0);
	fakechannel_stop(w.fake);
	workerkill_settle_emulator();
}
