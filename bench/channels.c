/*
 * bench/channels.c: the stock push measured through nginx against the
 * project's fake channel server (tests/integration/fakechannel, started in
 * this process; a demo project lets settings.baseUrl point at it).
 *
 *   channels BASE_URL TOKEN LISTINGS ROUNDS SAMPLES [WEBHOOKS]
 *
 * With the organization of TOKEN (an owner's ID token): one WooCommerce
 * channel pointed at the fake, LISTINGS products each listed on it, the
 * first push. Then:
 *   drain   ROUNDS times: every listed product's stock changes once
 *           (stock:adjust, 8 client threads), then one POST
 *           /v1/jobs/channel-push is timed: listings pushed per second of
 *           that run (the outbox drained, batched 100 per call).
 *   latency SAMPLES times: one product's stock changes, the job is run
 *           at once (what the scheduler's minute would add is left out),
 *           and the time from the adjust's request to the fake holding
 *           the new quantity is taken: p50, p99, max.
 *   webhook when WEBHOOKS > 0 and the channelhooks group is deployed:
 *           WEBHOOKS signed order deliveries (8 threads, each a new
 *           order) to POST /v1/channels/{id}/webhooks: deliveries per
 *           second answered 200 (each a committed order).
 * Output: one line per figure, no assertions (bench/channels prints the
 * load average beside it).
 * Build: see bench/channels (links lib/libfluxori.a and fakechannel.c).
 */
#include "benchcall.h"
#include "clock.h"
#include "fakechannel.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 8

static const char *base, *token;

/* One request to nginx (the owner's token and JSON, or only extra's headers); as bench_call_url. */
static long call(const char *method, const char *path, const char *json, char **out, const char *const *extra)
{
	char url[1024], auth[8192];
	const char *h[] = {auth, "Content-Type: application/json", NULL};

	snprintf(url, sizeof(url), "%s%s", base, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	return bench_call_url(method, url, json, out, extra ? extra : h);
}

static void die(const char *what, const char *body)
{
	fprintf(stderr, "channels: %s failed: %s\n", what, body ? body : "(no answer)");
	exit(1);
}

static char (*pids)[64];
static int nlistings;
static atomic_int next_adjust;

static void *adjust_all(void *arg)
{
	(void)arg;
	for (int i; (i = atomic_fetch_add(&next_adjust, 1)) < nlistings;) {
		char path[200];

		snprintf(path, sizeof(path), "/v1/products/%s/stock:adjust", pids[i]);
		if (call("POST", path, "{\"delta\":-1,\"reason\":\"sold_offline\"}", NULL, NULL) != 200)
			fprintf(stderr, "channels: an adjust failed\n");
	}
	return NULL;
}

static long run_push(void)
{
	char *body = NULL;
	long t0 = fx_clock_ms();

	if (call("POST", "/v1/jobs/channel-push", NULL, &body, NULL) != 200)
		die("the channel-push job", body);
	free(body);
	return fx_clock_ms() - t0;
}

static char cid[64];
static char hook_secret[] = "whsec_bench_0123456789";
static atomic_int next_hook, hooks_ok;
static int nhooks;

static void *deliver(void *arg)
{
	(void)arg;
	for (int i; (i = atomic_fetch_add(&next_hook, 1)) < nhooks;) {
		char ext[32], line_id[32], delivery[64], path[200], *json, **h;
		struct fakechannel_line line = {line_id, "10000", NULL, "Bench item", 1, 9999};
		struct fakechannel_order o = {ext, NULL, "processing", "2026-12-02T10:00:00Z", "Bench", "Buyer",
					      "buyer@example.co.za", &line, 1, 0};

		snprintf(ext, sizeof(ext), "%d", 500000 + i);
		snprintf(line_id, sizeof(line_id), "%d", 700000 + i);
		snprintf(delivery, sizeof(delivery), "bench-delivery-%d", i);
		json = fakechannel_order_json(FX_CHANNEL_WOOCOMMERCE, &o, false);
		h = fakechannel_webhook_headers(FX_CHANNEL_WOOCOMMERCE, hook_secret, "order.created", delivery, json,
						strlen(json));
		snprintf(path, sizeof(path), "/v1/channels/%s/webhooks", cid);
		if (call("POST", path, json, NULL, (const char *const *)h) == 200)
			atomic_fetch_add(&hooks_ok, 1);
		fakechannel_headers_free(h);
		free(json);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct fakechannel *f;
	char body[1024], path[300], ext[32], *answer = NULL;
	int rounds, samples;
	long *lat, total_ms = 0;
	pthread_t th[THREADS];

	if (argc < 6) {
		fprintf(stderr, "usage: channels BASE_URL TOKEN LISTINGS ROUNDS SAMPLES [WEBHOOKS]\n");
		return 2;
	}
	base = argv[1];
	token = argv[2];
	nlistings = atoi(argv[3]); /* NOLINT: a bench's own arguments */
	rounds = atoi(argv[4]);
	samples = atoi(argv[5]);
	nhooks = argc > 6 ? atoi(argv[6]) : 0;
	setvbuf(stdout, NULL, _IOLBF, 0); /* each figure as it is taken, with the load beside it */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	f = fakechannel_start();
	if (!f)
		die("starting the fake channel", NULL);
	snprintf(body, sizeof(body),
		 "{\"type\":\"woocommerce\",\"name\":\"Bench Woo\",\"settings\":{\"siteUrl\":\"https://bench.example.co.za\","
		 "\"baseUrl\":\"%s\"},\"credentials\":{\"consumerKey\":\"%s\",\"consumerSecret\":\"%s\"},"
		 "\"webhookSecret\":\"%s\"}",
		 fakechannel_url(f), FAKECHANNEL_WOO_KEY, FAKECHANNEL_WOO_SECRET, hook_secret);
	if (call("POST", "/v1/channels", body, &answer, NULL) != 201 ||
	    bench_field(answer, "id", cid, sizeof(cid)) < 0)
		die("creating the channel", answer);
	free(answer);
	pids = calloc((size_t)nlistings, sizeof(*pids));
	for (int i = 0; i < nlistings; i++) {
		snprintf(body, sizeof(body), "{\"sku\":\"BENCH-CH-%d\",\"name\":\"Bench listed %d\",\"priceCents\":9999}", i,
			 i);
		if (call("POST", "/v1/products", body, &answer, NULL) != 201 ||
		    bench_field(answer, "id", pids[i], sizeof(pids[i])) < 0)
			die("creating a product", answer);
		free(answer);
		snprintf(path, sizeof(path), "/v1/products/%s/stock:adjust", pids[i]);
		if (call("POST", path, "{\"delta\":100000,\"reason\":\"received\"}", NULL, NULL) != 200)
			die("stocking a product", NULL);
		snprintf(path, sizeof(path), "/v1/channels/%s/listings", cid);
		snprintf(body, sizeof(body), "{\"productId\":\"%s\",\"externalId\":\"%d\"}", pids[i], 10000 + i);
		if (call("POST", path, body, &answer, NULL) != 201)
			die("creating a listing", answer);
		free(answer);
	}
	printf("setup listings=%d first_push_ms=%ld\n", nlistings, run_push());

	for (int r = 0; r < rounds; r++) {
		long ms;

		atomic_store(&next_adjust, 0);
		for (int t = 0; t < THREADS; t++)
			pthread_create(&th[t], NULL, adjust_all, NULL);
		for (int t = 0; t < THREADS; t++)
			pthread_join(th[t], NULL);
		ms = run_push();
		total_ms += ms;
		printf("drain round=%d listings=%d job_ms=%ld listings_per_s=%.1f\n", r + 1, nlistings, ms,
		       ms ? nlistings * 1000.0 / ms : 0.0);
	}
	if (rounds)
		printf("drain total listings_per_s=%.1f push_calls=%u\n",
		       total_ms ? (double)nlistings * rounds * 1000.0 / total_ms : 0.0, fakechannel_calls(f, "push"));

	lat = calloc((size_t)(samples ? samples : 1), sizeof(*lat));
	for (int s = 0; s < samples; s++) {
		int i = s % nlistings;
		unsigned before;
		long t0;

		snprintf(ext, sizeof(ext), "%d", 10000 + i);
		before = fakechannel_sets(f, FX_CHANNEL_WOOCOMMERCE, ext);
		snprintf(path, sizeof(path), "/v1/products/%s/stock:adjust", pids[i]);
		t0 = fx_clock_ms();
		if (call("POST", path, "{\"delta\":-1,\"reason\":\"sold_offline\"}", NULL, NULL) != 200)
			die("an adjust", NULL);
		run_push();
		if (fakechannel_sets(f, FX_CHANNEL_WOOCOMMERCE, ext) == before)
			die("the push of a changed listing", NULL);
		lat[s] = fakechannel_set_at_ms(f, FX_CHANNEL_WOOCOMMERCE, ext) - t0;
	}
	if (samples) {
		qsort(lat, (size_t)samples, sizeof(*lat), bench_cmp_long);
		printf("latency samples=%d p50_ms=%ld p99_ms=%ld max_ms=%ld (adjust sent -> channel holds it, job run at "
		       "once)\n",
		       samples, bench_pct(lat, samples, 50), bench_pct(lat, samples, 99), lat[samples - 1]);
	}
	if (nhooks > 0) {
		long t0 = fx_clock_ms(), ms;

		for (int t = 0; t < THREADS; t++)
			pthread_create(&th[t], NULL, deliver, NULL);
		for (int t = 0; t < THREADS; t++)
			pthread_join(th[t], NULL);
		ms = fx_clock_ms() - t0;
		printf("webhook deliveries=%d ok=%d elapsed_ms=%ld per_s=%.1f\n", nhooks, atomic_load(&hooks_ok), ms,
		       ms ? atomic_load(&hooks_ok) * 1000.0 / ms : 0.0);
	}
	free(lat);
	free(pids);
	fakechannel_stop(f);
	curl_global_cleanup();
	return 0;
}
