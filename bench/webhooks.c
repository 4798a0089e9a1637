/*
 * bench/webhooks.c: outbound webhooks (issue 17) measured through nginx
 * against the test receiver (tests/integration/whreceiver, started in this
 * process on 127.0.0.1; a demo project lets a subscription point at it).
 *
 *   webhooks BASE_URL METRICS_URL FIRESTORE_PORT TOKEN ORG EVENTS SAMPLES BACKLOG BUDGET_S
 *
 * With the organization ORG of TOKEN (an owner's ID token): PRODUCTS
 * products, one subscription to product.stock_changed at the receiver.
 * Then, each figure on its own line (bench/webhooks adds the load average):
 *   ceiling    EVENTS signed POSTs of an event-sized body straight from
 *              this process to the receiver, one connection each, one at
 *              a time (what a delivery costs without Fluxori): per second.
 *   throughput EVENTS stock changes (8 client threads over the products),
 *              then POST /v1/jobs/webhook-deliver in a loop until the
 *              receiver accepted them all: events per second of job time,
 *              and the ratio to the ceiling.
 *   latency    SAMPLES times: one stock change, the job run at once (the
 *              scheduler's minute left out), the time from the change's
 *              request to the receiver's arrival: p50/p99/max, beside the
 *              change's own request time (p50/p99) as its ceiling.
 *   backlog    BACKLOG event entries written straight into the Firestore
 *              emulator's outbox (batched commits of 500, 2 threads), then
 *              job runs for BUDGET_S seconds: the jobs workers' RSS
 *              (/metrics fluxori_worker_resident_bytes) sampled every
 *              250 ms, peak against the RSS before the backlog (same run),
 *              and how many events reached the receiver in that time.
 * No assertions: figures only. Build: see bench/webhooks.
 */
#include "benchcall.h"
#include "clock.h"
#include "whreceiver.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define THREADS 8
#define PRODUCTS 20
#define COMMIT 500
#define WRITERS 2

static const char *base, *metrics_url, *fs_port, *token, *org;
static struct whreceiver *recv_;

static long call(const char *method, const char *path, const char *json, char **out)
{
	char url[1024], auth[8192];
	const char *h[] = {auth, "Content-Type: application/json", NULL};

	snprintf(url, sizeof(url), "%s%s", base, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	return bench_call_url(method, url, json, out, h);
}

static void die(const char *what, const char *body)
{
	fprintf(stderr, "webhooks: %s failed: %s\n", what, body ? body : "(no answer)");
	whreceiver_stop(recv_);
	exit(1);
}

static long run_job(void)
{
	char *body = NULL;
	long t0 = fx_clock_ms(), s = call("POST", "/v1/jobs/webhook-deliver", NULL, &body);

	if (s != 200)
		die("the webhook-deliver job", body);
	free(body);
	return fx_clock_ms() - t0;
}

/* Runs the job until the receiver accepted n (or deadline_s passed): total job ms, runs into *runs. */
static long drain_to(size_t n, long deadline_s, int *runs)
{
	long total = 0, end = fx_clock_ms() + deadline_s * 1000;

	*runs = 0;
	while (whreceiver_accepted(recv_) < n && fx_clock_ms() < end) {
		total += run_job();
		(*runs)++;
	}
	return total;
}

static char pids[PRODUCTS][64];
static atomic_int next_adjust;
static int nadjust;

static long adjust(int i)
{
	char path[200];

	snprintf(path, sizeof(path), "/v1/products/%s/stock:adjust", pids[i % PRODUCTS]);
	return call("POST", path, "{\"delta\":-1,\"reason\":\"sold_offline\"}", NULL);
}

static void *adjust_loop(void *arg)
{
	(void)arg;
	for (int i; (i = atomic_fetch_add(&next_adjust, 1)) < nadjust;)
		if (adjust(i) != 200)
			fprintf(stderr, "webhooks: an adjust failed\n");
	return NULL;
}

/* "t=<now>,v1=<hex>" for body under secret (the docs' recipe). */
static void sign(const char *secret, const char *body, char *out, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	char t[24], v1[65], *msg;
	size_t mlen;

	snprintf(t, sizeof(t), "%lld", (long long)time(NULL));
	mlen = strlen(t) + 1 + strlen(body);
	msg = malloc(mlen + 1);
	snprintf(msg, mlen + 1, "%s.%s", t, body);
	HMAC(EVP_sha256(), secret, (int)strlen(secret), (unsigned char *)msg, mlen, mac, &maclen);
	free(msg);
	for (unsigned i = 0; i < 32; i++) {
		v1[2 * i] = hex[mac[i] >> 4];
		v1[2 * i + 1] = hex[mac[i] & 15];
	}
	v1[64] = '\0';
	snprintf(out, len, "t=%s,v1=%s", t, v1);
}

/* Peak RSS (KiB) over the jobs group's processes in one /metrics scrape; -1 when absent. */
static long jobs_rss_kib(void)
{
	static const char pre[] = "fluxori_worker_resident_bytes{group=\"jobs\"";
	char *m = NULL;
	long best = -1;

	if (bench_call_url("GET", metrics_url, NULL, &m, NULL) != 200) {
		free(m);
		return -1;
	}
	for (char *p = m; p && *p;) {
		char *nl = strchr(p, '\n');
		if (nl)
			*nl = '\0'; /* the value is the line's last field */
		if (strncmp(p, pre, sizeof(pre) - 1) == 0) {
			char *sp = strrchr(p, ' ');
			if (sp) {
				long kib = (long)(strtod(sp + 1, NULL) / 1024);
				if (kib > best)
					best = kib;
			}
		}
		p = nl ? nl + 1 : NULL;
	}
	free(m);
	return best;
}

/* ---- the backlog, straight into the emulator ---- */

static int nbacklog;
static atomic_int next_batch;
static atomic_long written;

static void rand_id(char *out, size_t len, unsigned *seed)
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

	for (size_t i = 0; i + 1 < len; i++)
		out[i] = al[rand_r(seed) % (sizeof(al) - 1)];
	out[len - 1] = '\0';
}

static void *write_backlog(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg ^ (unsigned)time(NULL);
	char url[512];
	const char *h[] = {"Authorization: Bearer owner", "Content-Type: application/json", NULL};
	size_t cap = (size_t)COMMIT * 1200 + 64;
	char *buf = malloc(cap);
	char now[40];
	time_t t = time(NULL);

	strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	snprintf(url, sizeof(url), "http://127.0.0.1:%s/v1/projects/demo-fluxori/databases/(default)/documents:commit",
		 fs_port);
	for (int b; (b = atomic_fetch_add(&next_batch, 1)) * COMMIT < nbacklog;) {
		size_t n = (size_t)snprintf(buf, cap, "{\"writes\":[");
		char *answer = NULL;
		for (int k = 0; k < COMMIT && b * COMMIT + k < nbacklog; k++) {
			int i = b * COMMIT + k;
			char id[21];
			rand_id(id, sizeof(id), &seed);
			/* 1000 resources, each with its events in seq order. */
			n += (size_t)snprintf(
				buf + n, cap - n,
				"%s{\"update\":{\"name\":\"projects/demo-fluxori/databases/(default)/documents/"
				"organizations/%s/outbox/%s\",\"fields\":{\"kind\":{\"stringValue\":\"event\"},"
				"\"resource\":{\"stringValue\":\"bl%04d\"},\"at\":{\"timestampValue\":\"%s\"},"
				"\"organizationId\":{\"stringValue\":\"%s\"},\"payload\":{\"mapValue\":{\"fields\":{"
				"\"type\":{\"stringValue\":\"product.stock_changed\"},\"resourceType\":{"
				"\"stringValue\":"
				"\"product\"},\"seq\":{\"integerValue\":\"%d\"},\"sub\":{\"integerValue\":\"0\"},"
				"\"data\":{\"mapValue\":{\"fields\":{\"productId\":{\"stringValue\":\"bl%04d\"},"
				"\"stock\":{\"mapValue\":{\"fields\":{\"onHand\":{\"integerValue\":\"%d\"}}}}}}}}}}}},"
				"\"currentDocument\":{\"exists\":false}}",
				k ? "," : "", org, id, i % 1000, now, org, i / 1000 + 1, i % 1000, 1000000 - i / 1000);
		}
		n += (size_t)snprintf(buf + n, cap - n, "]}");
		/* The emulator sometimes answers 500 under load: the same commit again (its ids too), a
		 * 409 then meaning the first one did commit. */
		for (int attempt = 1;; attempt++) {
			long s = bench_call_url("POST", url, buf, &answer, h);
			if (s == 200 || (s == 409 && attempt > 1))
				break;
			if (attempt == 6 || (s != 0 && s < 500))
				die("a backlog commit", answer);
			fprintf(stderr, "webhooks: a backlog commit answered %ld, again: %s\n", s,
				answer ? answer : "");
			free(answer);
			answer = NULL;
			fx_clock_sleep_ms(500L * attempt);
		}
		free(answer);
		atomic_fetch_add(&written, COMMIT);
	}
	free(buf);
	return NULL;
}

static atomic_int job_running;

static void *job_thread(void *arg)
{
	(void)arg;
	run_job();
	atomic_store(&job_running, 0);
	return NULL;
}

int main(int argc, char **argv)
{
	char body[1024], secret[128], sig[256], path[300], *answer = NULL;
	int events, samples, budget_s, runs;
	pthread_t th[THREADS];
	long *lat, *adj, ms;
	size_t base_accepted;

	if (argc < 10) {
		fprintf(stderr, "usage: webhooks BASE_URL METRICS_URL FIRESTORE_PORT TOKEN ORG EVENTS SAMPLES BACKLOG "
				"BUDGET_S\n");
		return 2;
	}
	base = argv[1];
	metrics_url = argv[2];
	fs_port = argv[3];
	token = argv[4];
	org = argv[5];
	events = (int)strtol(argv[6], NULL, 10);
	samples = (int)strtol(argv[7], NULL, 10);
	nbacklog = (int)strtol(argv[8], NULL, 10);
	budget_s = (int)strtol(argv[9], NULL, 10);
	curl_global_init(CURL_GLOBAL_ALL);
	recv_ = whreceiver_start();
	if (!recv_)
		die("starting the receiver", NULL);

	snprintf(body, sizeof(body), "{\"url\":\"%s\",\"events\":[\"product.stock_changed\"]}", whreceiver_url(recv_));
	if (call("POST", "/v1/webhooks", body, &answer) != 201 ||
	    bench_field(answer, "secret", secret, sizeof(secret)) < 0)
		die("the subscription", answer);
	free(answer);
	whreceiver_set_secrets(recv_, (const char *const[]){secret}, 1);
	for (int i = 0; i < PRODUCTS; i++) {
		snprintf(body, sizeof(body),
			 "{\"sku\":\"WH-%d-%ld\",\"name\":\"Bench item\",\"priceCents\":1999,\"status\":\"active\"}", i,
			 (long)time(NULL));
		if (call("POST", "/v1/products", body, &answer) != 201 || bench_field(answer, "id", pids[i], 64) < 0)
			die("a product", answer);
		free(answer);
		snprintf(path, sizeof(path), "/v1/products/%s/stock:adjust", pids[i]);
		if (call("POST", path, "{\"delta\":1000000,\"reason\":\"received\"}", NULL) != 200)
			die("stocking a product", NULL);
	}
	ms = drain_to(PRODUCTS, 300, &runs);
	printf("setup products=%d first_events=%zu job_ms=%ld runs=%d\n", PRODUCTS, whreceiver_accepted(recv_), ms,
	       runs);

	/* The ceiling: the receiver alone, called the way the job calls it. */
	{
		char line[300], *ev = NULL;
		const char *h[] = {"Content-Type: application/json", "X-Fluxori-Event: product.stock_changed",
				   "X-Fluxori-Delivery: ceiling", line, NULL};
		struct whreceiver_delivery d;
		long t0;
		if (!whreceiver_get(recv_, 0, &d))
			die("reading the first delivery", NULL);
		ev = d.body;
		t0 = fx_clock_ms();
		for (int i = 0; i < events; i++) {
			sign(secret, ev, sig, sizeof(sig));
			snprintf(line, sizeof(line), "X-Fluxori-Signature: %s", sig);
			if (bench_call_url("POST", whreceiver_url(recv_), ev, NULL, h) != 200)
				die("a direct POST to the receiver", NULL);
		}
		ms = fx_clock_ms() - t0;
		printf("ceiling direct_posts=%d ms=%ld per_s=%.1f body_bytes=%zu\n", events, ms,
		       ms ? events * 1000.0 / ms : 0.0, d.body_len);
		whreceiver_delivery_free(&d);
		whreceiver_clear(recv_);
	}
	{
		double ceiling_ms = ms;
		base_accepted = whreceiver_accepted(recv_);
		nadjust = events;
		atomic_store(&next_adjust, 0);
		for (int t = 0; t < THREADS; t++)
			pthread_create(&th[t], NULL, adjust_loop, NULL);
		for (int t = 0; t < THREADS; t++)
			pthread_join(th[t], NULL);
		ms = drain_to(base_accepted + (size_t)events, 900, &runs);
		printf("throughput events=%d delivered=%zu job_ms=%ld runs=%d events_per_s=%.1f "
		       "ratio_to_ceiling=%.3f\n",
		       events, whreceiver_accepted(recv_) - base_accepted, ms, runs,
		       ms ? (whreceiver_accepted(recv_) - base_accepted) * 1000.0 / ms : 0.0,
		       ms ? ceiling_ms / ms : 0.0);
	}

	lat = calloc((size_t)(samples ? samples : 1), sizeof(*lat));
	adj = calloc((size_t)(samples ? samples : 1), sizeof(*adj));
	for (int s = 0; s < samples; s++) {
		size_t before = whreceiver_count(recv_);
		struct whreceiver_delivery d;
		long t0 = fx_clock_ms();
		if (adjust(s) != 200)
			die("an adjust", NULL);
		adj[s] = fx_clock_ms() - t0;
		run_job();
		if (!whreceiver_wait_count(recv_, before + 1, 60000) || !whreceiver_get(recv_, before, &d))
			die("the delivery of a change", NULL);
		lat[s] = d.at_ms - t0;
		whreceiver_delivery_free(&d);
	}
	if (samples) {
		qsort(lat, (size_t)samples, sizeof(*lat), bench_cmp_long);
		qsort(adj, (size_t)samples, sizeof(*adj), bench_cmp_long);
		printf("latency samples=%d p50_ms=%ld p99_ms=%ld max_ms=%ld change_p50_ms=%ld change_p99_ms=%ld "
		       "ratio_p50=%.2f (change request sent -> receiver has it, job run at once)\n",
		       samples, bench_pct(lat, samples, 50), bench_pct(lat, samples, 99), lat[samples - 1],
		       bench_pct(adj, samples, 50), bench_pct(adj, samples, 99),
		       bench_pct(adj, samples, 50) ? (double)bench_pct(lat, samples, 50) / bench_pct(adj, samples, 50)
						   : 0.0);
	}

	if (nbacklog > 0) {
		long idle = jobs_rss_kib(), peak = idle, t0, end;
		size_t before = whreceiver_accepted(recv_);
		pthread_t w[WRITERS], job;
		t0 = fx_clock_ms();
		for (int t = 0; t < WRITERS; t++)
			pthread_create(&w[t], NULL, write_backlog, (void *)(uintptr_t)t);
		for (int t = 0; t < WRITERS; t++)
			pthread_join(w[t], NULL);
		printf("backlog written=%ld write_ms=%ld\n", (long)atomic_load(&written), fx_clock_ms() - t0);
		runs = 0;
		t0 = fx_clock_ms();
		end = t0 + (long)budget_s * 1000;
		while (fx_clock_ms() < end && whreceiver_accepted(recv_) - before < (size_t)nbacklog) {
			atomic_store(&job_running, 1);
			pthread_create(&job, NULL, job_thread, NULL);
			while (atomic_load(&job_running)) {
				long r = jobs_rss_kib();
				if (r > peak)
					peak = r;
				fx_clock_sleep_ms(250);
			}
			pthread_join(job, NULL);
			runs++;
		}
		ms = fx_clock_ms() - t0;
		printf("backlog events=%d runs=%d ms=%ld delivered=%zu per_s=%.1f jobs_rss_idle_kib=%ld "
		       "jobs_rss_peak_kib=%ld ratio_peak_to_idle=%.2f\n",
		       nbacklog, runs, ms, whreceiver_accepted(recv_) - before,
		       ms ? (whreceiver_accepted(recv_) - before) * 1000.0 / ms : 0.0, idle, peak,
		       idle > 0 ? (double)peak / idle : 0.0);
	}
	free(lat);
	free(adj);
	whreceiver_stop(recv_);
	curl_global_cleanup();
	return 0;
}
