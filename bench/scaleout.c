/*
 * bench/scaleout.c: the order-creating clients of bench/scaleout. CLIENTS
 * threads, client i sending to instance i % 2 (two API instances sharing
 * one set of emulators) for organization i % ORGS. Each client creates
 * orders one after the other, each with its own Idempotency-Key; an order
 * answered 409 ABORTED (the organization's order counter is busy) or 503
 * UNAVAILABLE is sent again with the same key and body after its
 * Retry-After, as the contract tells clients to, until it is answered 201
 * (it "lands"). Any other answer, or an order still not landed 60 s after
 * its first attempt, is a failure. No new order starts after DURATION_S;
 * orders under way then finish, so that afterwards every key either landed
 * or failed, and no request is left in flight.
 *
 *   scaleout DURATION_S CLIENTS BASE_A BASE_B TOKENS PRODUCTS
 *
 * TOKENS and PRODUCTS: comma-separated, one per organization, same order.
 * Output, one line each:
 *   total landed=N failed=N retried_aborted=N retried_unavailable=N elapsed_ms=N
 *   latency p50_ms=N p99_ms=N max_ms=N   (first attempt to landing, landed orders)
 *   org K landed=N                        (for every organization)
 *   failure <status> <body>               (the first few failures)
 * Build: cc -O2 -o scaleout bench/scaleout.c -lcurl -lpthread
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_ORGS 64
#define MAX_CLIENTS 256
#define GIVE_UP_MS 60000L
#define MAX_LAT 1000000

static struct {
	long duration_ms, t0;
	int clients, orgs;
	const char *base[2];
	char *token[MAX_ORGS], *product[MAX_ORGS];
	atomic_long landed[MAX_ORGS];
	atomic_long failed, retried_aborted, retried_unavailable, failures_shown;
	pthread_mutex_t lat_lock;
	long *lat;
	size_t nlat;
	long last_ms;
} g = {.lat_lock = PTHREAD_MUTEX_INITIALIZER};

static long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

static void nap_ms(long ms)
{
	struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&t, NULL);
}

struct answer {
	char body[2048];
	size_t len;
	long retry_after_s;
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct answer *a = arg;
	size_t len = size * n, room = sizeof(a->body) - 1 - a->len;

	if (len < room)
		room = len;
	memcpy(a->body + a->len, p, room);
	a->len += room;
	a->body[a->len] = '\0';
	return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct answer *a = arg;
	size_t len = size * n;

	if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0)
		a->retry_after_s = strtol(p + 12, NULL, 10);
	return len;
}

/* One POST /v1/orders; the HTTP status (0 when none came), the answer in a. */
static long post_order(CURL *c, const char *base, const char *token, const char *body, const char *key,
		       struct answer *a)
{
	char url[512], auth[4096], idem[160];
	struct curl_slist *h = NULL;
	long status = 0;

	snprintf(url, sizeof(url), "%s/v1/orders", base);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	snprintf(idem, sizeof(idem), "Idempotency-Key: %s", key);
	h = curl_slist_append(h, auth);
	h = curl_slist_append(h, idem);
	h = curl_slist_append(h, "Content-Type: application/json");
	a->len = 0;
	a->body[0] = '\0';
	a->retry_after_s = -1;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, a);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	return status;
}

static int has_status(const struct answer *a, const char *s)
{
	char want[64];

	snprintf(want, sizeof(want), "\"status\":\"%s\"", s);
	return strstr(a->body, want) != NULL;
}

static void fail(long status, const struct answer *a)
{
	atomic_fetch_add(&g.failed, 1);
	if (atomic_fetch_add(&g.failures_shown, 1) < 5)
		printf("failure %ld %.300s\n", status, a->body);
}

static void *client(void *arg)
{
	int i = (int)(long)arg, org = i % g.orgs;
	const char *base = g.base[i % 2];
	CURL *c = curl_easy_init();
	char body[1024], key[128];
	struct answer *a = malloc(sizeof(*a));

	snprintf(body, sizeof(body),
		 "{\"customer\":{\"name\":\"Bench\"},\"shippingAddress\":{\"line1\":\"1 Bench Rd\",\"city\":\"Cape "
		 "Town\",\"province\":\"Western Cape\",\"postalCode\":\"8001\"},\"items\":[{\"productId\":\"%s\","
		 "\"quantity\":1}]}",
		 g.product[org]);
	for (long n = 0; now_ms() - g.t0 < g.duration_ms; n++) {
		long first = now_ms(), status;

		snprintf(key, sizeof(key), "scaleout-%ld-%d-%ld", g.t0, i, n);
		for (;;) {
			status = post_order(c, base, g.token[org], body, key, a);
			if (status == 201) {
				long took = now_ms() - first;

				atomic_fetch_add(&g.landed[org], 1);
				pthread_mutex_lock(&g.lat_lock);
				if (g.nlat < MAX_LAT)
					g.lat[g.nlat++] = took;
				if (now_ms() > g.last_ms)
					g.last_ms = now_ms();
				pthread_mutex_unlock(&g.lat_lock);
				break;
			}
			if ((status == 409 && has_status(a, "ABORTED")) ||
			    (status == 503 && has_status(a, "UNAVAILABLE"))) {
				long wait = a->retry_after_s < 0 ? 1 : a->retry_after_s;

				atomic_fetch_add(status == 409 ? &g.retried_aborted : &g.retried_unavailable, 1);
				if (now_ms() - first + wait * 1000 > GIVE_UP_MS) {
					fail(status, a);
					break;
				}
				nap_ms(wait * 1000);
				continue;
			}
			fail(status, a);
			break;
		}
	}
	free(a);
	curl_easy_cleanup(c);
	return NULL;
}

static int split(char *s, char **out, int max)
{
	int n = 0;

	for (char *save = NULL, *t = strtok_r(s, ",", &save); t && n < max; t = strtok_r(NULL, ",", &save))
		out[n++] = t;
	return n;
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	pthread_t th[MAX_CLIENTS];
	long total = 0;
	int norgs_p;

	if (argc != 7) {
		fprintf(stderr, "usage: scaleout DURATION_S CLIENTS BASE_A BASE_B TOKENS PRODUCTS\n");
		return 64;
	}
	g.duration_ms = strtol(argv[1], NULL, 10) * 1000;
	g.clients = (int)strtol(argv[2], NULL, 10);
	g.base[0] = argv[3];
	g.base[1] = argv[4];
	g.orgs = split(argv[5], g.token, MAX_ORGS);
	norgs_p = split(argv[6], g.product, MAX_ORGS);
	if (g.duration_ms <= 0 || g.clients < 1 || g.clients > MAX_CLIENTS || g.orgs < 1 || norgs_p != g.orgs) {
		fprintf(stderr, "scaleout: bad arguments\n");
		return 64;
	}
	g.lat = malloc(MAX_LAT * sizeof(*g.lat));
	curl_global_init(CURL_GLOBAL_ALL);
	g.t0 = now_ms();
	for (long i = 0; i < g.clients; i++)
		pthread_create(&th[i], NULL, client, (void *)i);
	for (int i = 0; i < g.clients; i++)
		pthread_join(th[i], NULL);
	for (int k = 0; k < g.orgs; k++)
		total += atomic_load(&g.landed[k]);
	qsort(g.lat, g.nlat, sizeof(*g.lat), cmp_long);
	printf("total landed=%ld failed=%ld retried_aborted=%ld retried_unavailable=%ld elapsed_ms=%ld\n", total,
	       atomic_load(&g.failed), atomic_load(&g.retried_aborted), atomic_load(&g.retried_unavailable),
	       (g.last_ms ? g.last_ms : now_ms()) - g.t0);
	if (g.nlat)
		printf("latency p50_ms=%ld p99_ms=%ld max_ms=%ld\n", g.lat[g.nlat / 2], g.lat[g.nlat * 99 / 100],
		       g.lat[g.nlat - 1]);
	for (int k = 0; k < g.orgs; k++)
		printf("org %d landed=%ld\n", k, atomic_load(&g.landed[k]));
	curl_global_cleanup();
	free(g.lat);
	return 0;
}
