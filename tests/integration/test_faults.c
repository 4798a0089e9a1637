/*
 * Faults: Google's backends failing under an API instance, made to fail
 * here by a fault proxy (faultproxy.c) between the instance's workers and
 * one emulator: Firestore refusing connections or partitioned away for
 * 10 s under load, Storage partitioned during uploads, Identity Toolkit
 * down during member changes, and single calls whose answers are lost.
 * Each test checks what clients were answered (success, or the contract's
 * 503 UNAVAILABLE within a deadline: a request past it counts as hung), that
 * nothing is half-written (audit.c reads the stored state straight from the
 * emulators), and that service comes back once the backend does (recovery
 * times are reported, never asserted). The instance runs with
 * FLUXORI_HTTP_TIMEOUT_MS=2000 and 4 threads per worker process.
 */
#include "audit.h"
#include "client.h"
#include "faultproxy.h"
#include "instance.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CALL_TIMEOUT_MS 2000 /* the instance's FLUXORI_HTTP_TIMEOUT_MS */
#define THREADS 4 /* its FLUXORI_WORKER_THREADS: a group serves 2 x 4 requests at once */
#define DEADLINE_MS 15000 /* a request still unanswered after this is hung (the client gives up) */
#define BOUND_S 120 /* safety bound of every wait on a condition */
#define CLIENTS 4

static struct instance api;
static struct faultproxy *proxy;

static long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void nap_ms(long ms)
{
	struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&t, NULL);
}

/*
 * The instance under test, its calls to one backend through the proxy:
 * var is the emulator variable, port_var the stack's port of that emulator,
 * scheme "" or "http://" as the variable wants it.
 */
static void start_api(const char *var, const char *port_var, const char *scheme, const char *more)
{
	char extra[512];

	proxy = fp_start(atoi(test_env(port_var)));
	snprintf(extra, sizeof(extra), "%s=%s127.0.0.1:%d\nFLUXORI_HTTP_TIMEOUT_MS=%d\nFLUXORI_WORKER_THREADS=%d\n%s",
		 var, scheme, fp_port(proxy), CALL_TIMEOUT_MS, THREADS, more ? more : "");
	instance_start(&api, extra);
}

static void stop_api(void)
{
	instance_stop(&api);
	fp_stop(proxy);
}

/* A request to the instance under test, bounded by DEADLINE_MS. */
static struct http_resp *api_call(const char *method, const char *path, const char *token, const char *ctype,
				  const char *body, size_t len, const char *const *extra)
{
	char url[512], auth[8192], ct[128];
	const char *h[16];
	int n = 0;

	snprintf(url, sizeof(url), "%s%s", api.base, path);
	if (token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		h[n++] = auth;
	}
	if (body) {
		snprintf(ct, sizeof(ct), "Content-Type: %s", ctype ? ctype : "application/json");
		h[n++] = ct;
	}
	for (const char *const *p = extra; p && *p && n < 15; p++)
		h[n++] = *p;
	h[n] = NULL;
	return http_url_timeout(method, url, h, body, len, DEADLINE_MS);
}

static bool is_error(const struct http_resp *r, long code, const char *status)
{
	const char *s = json_str(r, "error.status");

	return r->status == code && s && strcmp(s, status) == 0;
}

/* ---- what every answer was ---- */

struct rec {
	long start, end; /* ms since the test began */
	long status;
	char gstatus[24];
	char op[16];
	char body[160];
};

static struct {
	pthread_mutex_t lock;
	struct rec *r;
	size_t n, cap;
	long t0;
} book = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0, 0};

static void record(const char *op, long start, const struct http_resp *r)
{
	struct rec x = {0};

	x.start = start - book.t0;
	x.end = now_ms() - book.t0;
	x.status = r->status;
	snprintf(x.gstatus, sizeof(x.gstatus), "%s", json_str(r, "error.status") ? json_str(r, "error.status") : "");
	snprintf(x.op, sizeof(x.op), "%s", op);
	snprintf(x.body, sizeof(x.body), "%s", r->body);
	pthread_mutex_lock(&book.lock);
	if (book.n == book.cap) {
		book.cap = book.cap ? 2 * book.cap : 4096;
		book.r = realloc(book.r, book.cap * sizeof(*book.r));
	}
	book.r[book.n++] = x;
	pthread_mutex_unlock(&book.lock);
}

/* Every answer was a success or 503 UNAVAILABLE, none past the deadline; a summary of the window. */
static void check_answers(long fault_start, long fault_end, const char *what)
{
	long in_window = 0, failed = 0, ok = 0, max_ms = 0, max_503 = 0;

	fault_start -= book.t0;
	fault_end -= book.t0;
	if (getenv("FAULTS_DUMP")) {
		FILE *f = fopen(getenv("FAULTS_DUMP"), "a");

		fprintf(f, "== %s fault %ld..%ld\n", what, fault_start, fault_end);
		for (size_t i = 0; i < book.n; i++)
			fprintf(f, "%ld %ld %s %ld %s %.100s\n", book.r[i].start, book.r[i].end, book.r[i].op,
				book.r[i].status, book.r[i].gstatus, book.r[i].status == 503 ? book.r[i].body : "");
		fclose(f);
	}
	for (size_t i = 0; i < book.n; i++) {
		const struct rec *x = &book.r[i];
		long took = x->end - x->start;

		cr_assert(x->status != 0, "%s: a request (%s) got no answer within %d ms: hung", what, x->op,
			  DEADLINE_MS);
		cr_assert((x->status >= 200 && x->status < 300) ||
				  (x->status == 503 && !strcmp(x->gstatus, "UNAVAILABLE")),
			  "%s: %s answered %ld %s (%ld ms into the test): only success or 503 UNAVAILABLE may be", what,
			  x->op, x->status, x->body, x->start);
		if (took > max_ms)
			max_ms = took;
		if (x->end < fault_start || x->start > fault_end)
			continue;
		in_window++;
		if (x->status == 503) {
			failed++;
			if (took > max_503)
				max_503 = took;
		} else {
			ok++;
		}
	}
	cr_log_info(
		"%s: %ld requests overlapped the fault: %ld succeeded, %ld answered 503 (slowest 503 after %ld ms); "
		"slowest answer of the test %ld ms; %zu requests in all",
		what, in_window, ok, failed, max_503, max_ms, book.n);
	cr_assert_gt(failed, 0, "%s: the fault was felt (some request answered 503)", what);
}

/* ---- merchants and their load ---- */

struct tenant {
	struct test_user owner;
	char org[64];
	char product[64];
};

/* An organization and a product with 1000 on hand, made through the harness's stack (its Firestore is whole). */
static void make_tenant(struct tenant *t)
{
	test_owner_signup(&t->owner, "faults", "Fault Lines CC", t->org, sizeof(t->org));
	test_product_stocked(t->owner.id_token,
			     "{\"sku\":\"F-1\",\"name\":\"Rooibos\",\"priceCents\":4500,\"status\":\"active\"}", 1000,
			     t->product, sizeof(t->product));
}

struct client {
	int i;
	struct tenant t;
	atomic_int landed; /* operations that finally succeeded */
	int orders, adjusts; /* of those */
	char last_order[64];
	atomic_int unexpected;
};

static atomic_bool stop_load;

/*
 * One operation with its Idempotency-Key, sent again with the same key after
 * each 503 (and each request past the deadline) until it lands, as the
 * contract tells clients to. Returns the final answer's status.
 */
static long land(struct client *c, const char *op, const char *path, const char *body, const char *key)
{
	char header[160];
	const char *h[] = {header, NULL};

	snprintf(header, sizeof(header), "Idempotency-Key: %s", key);
	for (long until = now_ms() + BOUND_S * 1000L;;) {
		long start = now_ms(), status;
		struct http_resp *r = api_call("POST", path, c->t.owner.id_token, NULL, body, strlen(body), h);

		record(op, start, r);
		status = r->status;
		if (status >= 200 && status < 300) {
			if (strcmp(op, "order") == 0)
				snprintf(c->last_order, sizeof(c->last_order), "%s", json_str(r, "id"));
			http_resp_free(r);
			return status;
		}
		http_resp_free(r);
		if ((status != 503 && status != 0) || now_ms() > until) {
			atomic_fetch_add(&c->unexpected, 1);
			return status;
		}
		nap_ms(200); /* sooner than Retry-After: more requests meet the fault */
	}
}

static void *load(void *arg)
{
	struct client *c = arg;
	char body[1024], key[128], path[200];

	for (int k = 0; !atomic_load(&stop_load); k++) {
		if (k % 3 == 2) {
			snprintf(path, sizeof(path), "/v1/products/%s/stock:adjust", c->t.product);
			snprintf(key, sizeof(key), "adjust-%d-%d", c->i, k);
			if (land(c, "stock:adjust", path, "{\"delta\":1,\"reason\":\"returned\"}", key) / 100 == 2)
				c->adjusts++;
		} else {
			snprintf(body, sizeof(body),
				 "{\"customer\":{\"name\":\"Sipho\"},\"shippingAddress\":{\"line1\":\"3 Main Rd\","
				 "\"city\":\"Durban\",\"province\":\"KwaZulu-Natal\",\"postalCode\":\"4001\"},"
				 "\"items\":[{\"productId\":\"%s\",\"quantity\":1}]}",
				 c->t.product);
			snprintf(key, sizeof(key), "order-%d-%d", c->i, k);
			if (land(c, "order", "/v1/orders", body, key) / 100 == 2)
				c->orders++;
		}
		atomic_fetch_add(&c->landed, 1);
	}
	return NULL;
}

/* Waits until every client has landed at least n operations more than in base. */
static void wait_landed(struct client *cs, const int *base, int n, const char *why)
{
	long until = now_ms() + BOUND_S * 1000L;

	for (;;) {
		int behind = 0;

		for (int i = 0; i < CLIENTS; i++)
			behind += atomic_load(&cs[i].landed) < base[i] + n;
		if (!behind)
			return;
		cr_assert_lt(now_ms(), until, "%s: %d clients landed fewer than %d operations within %d s", why, behind,
			     n, BOUND_S);
		nap_ms(50);
	}
}

/* The instance's fluxori_requests_in_flight of group (from its own /metrics listener). */
static long in_flight(const char *group)
{
	char url[128], series[128];
	struct http_resp *r;
	const char *p;
	long n = -1;

	snprintf(url, sizeof(url), "http://%s/metrics", api.metrics);
	snprintf(series, sizeof(series), "fluxori_requests_in_flight{group=\"%s\"} ", group);
	r = http_url("GET", url, NULL, NULL, 0);
	cr_assert_eq(r->status, 200, "metrics of the instance: %s", r->body);
	p = strstr(r->body, series);
	if (p)
		n = strtol(p + strlen(series), NULL, 10);
	http_resp_free(r);
	return n;
}

/* Waits (bounded) until no request of group is being served: no worker thread is stuck in one. */
static void wait_idle(const char *group)
{
	long until = now_ms() + BOUND_S * 1000L;

	while (in_flight(group) != 0) {
		cr_assert_lt(now_ms(), until, "a %s worker thread is still inside a request %d s after the load ended",
			     group, BOUND_S);
		nap_ms(100);
	}
}

struct reader {
	char path[256];
	const char *token;
	struct http_resp *answer;
};

static void *read_once(void *arg)
{
	struct reader *x = arg;

	x->answer = api_call("GET", x->path, x->token, NULL, NULL, 0, NULL);
	return NULL;
}

/*
 * Every worker thread of the orders group serves again: with Firestore slow
 * (each call well inside the call timeout), three times as many reads as the
 * group has threads keep every thread busy at once, which the instance's
 * in-flight gauge must show; then every read succeeds.
 */
static void check_full_concurrency(const struct client *c)
{
	enum { CAPACITY = 2 * THREADS, READERS = 3 * CAPACITY };
	struct reader x[READERS];
	pthread_t th[READERS];
	long until, most = 0, seen;

	cr_assert_eq(fp_set(proxy, FP_SLOW, CALL_TIMEOUT_MS / 5), 0);
	for (int i = 0; i < READERS; i++) {
		snprintf(x[i].path, sizeof(x[i].path), "/v1/orders/%s", c->last_order);
		x[i].token = c->t.owner.id_token;
		pthread_create(&th[i], NULL, read_once, &x[i]);
	}
	until = now_ms() + BOUND_S * 1000L;
	while ((seen = in_flight("orders")) < CAPACITY) {
		if (seen > most)
			most = seen;
		cr_assert_lt(now_ms(), until,
			     "the orders group never served %d requests at once after the fault (at most %ld)",
			     CAPACITY, most);
		nap_ms(20);
	}
	for (int i = 0; i < READERS; i++) {
		pthread_join(th[i], NULL);
		cr_assert_eq(x[i].answer->status, 200, "read %d: %ld %s", i, x[i].answer->status, x[i].answer->body);
		http_resp_free(x[i].answer);
	}
	cr_assert_eq(fp_set(proxy, FP_PASS, 0), 0);
}

/* ---- Firestore ---- */

static void start_firestore_api(void)
{
	start_api("FIRESTORE_EMULATOR_HOST", "FLUXORI_FIRESTORE_PORT", "", NULL);
}

TestSuite(firestore, .init = start_firestore_api, .fini = stop_api, .timeout = 400);

/*
 * Firestore fails for 10 s (mode, and slow_ms for FP_SLOW) under load: four merchants creating
 * orders and adjusting stock, each operation retried with its key until it
 * lands. Answers, readiness, recovery, worker threads and the stored state
 * are checked as the file's comment says.
 */
static void firestore_outage(enum fp_mode mode, int slow_ms, const char *what)
{
	struct client *cs = calloc(CLIENTS, sizeof(*cs));
	pthread_t th[CLIENTS];
	int base[CLIENTS];
	long fault_start, fault_end, back, ready_down = 0;
	char url[256];

	book.t0 = now_ms();
	for (int i = 0; i < CLIENTS; i++) {
		cs[i].i = i;
		make_tenant(&cs[i].t);
	}
	for (int i = 0; i < CLIENTS; i++) {
		base[i] = 0;
		pthread_create(&th[i], NULL, load, &cs[i]);
	}
	wait_landed(cs, base, 3, "before the fault");

	/* The fault, for 10 s: its length is the scenario, nothing waits on it. */
	cr_assert_eq(fp_set(proxy, mode, slow_ms), 0);
	fault_start = now_ms();
	snprintf(url, sizeof(url), "%s/health/ready", api.base);
	while (now_ms() - fault_start < 10000) {
		struct http_resp *r = http_url_timeout("GET", url, NULL, NULL, 0, DEADLINE_MS);

		if (is_error(r, 503, "UNAVAILABLE") && json_str(r, "error.details.0.field") &&
		    strcmp(json_str(r, "error.details.0.field"), "firestore") == 0 && !ready_down)
			ready_down = now_ms() - fault_start;
		cr_assert(r->status == 200 || r->status == 503, "/health/ready: %ld %s", r->status, r->body);
		http_resp_free(r);
		nap_ms(250);
	}
	cr_assert_gt(ready_down, 0, "/health/ready said Firestore is down during the fault");
	cr_assert_eq(fp_set(proxy, FP_PASS, 0), 0);
	fault_end = now_ms();

	/* Back: the first success after Firestore returned, polled with a generous bound. */
	for (;;) {
		struct http_resp *r =
			api_call("GET", "/v1/orders?pageSize=1", cs[0].t.owner.id_token, NULL, NULL, 0, NULL);
		long s = r->status;

		http_resp_free(r);
		if (s == 200)
			break;
		cr_assert_lt(now_ms() - fault_end, BOUND_S * 1000L, "no success within %d s of Firestore's return",
			     BOUND_S);
		nap_ms(20);
	}
	back = now_ms() - fault_end;
	for (;;) {
		long s = test_status(url);

		if (s == 200)
			break;
		cr_assert_lt(now_ms() - fault_end, BOUND_S * 1000L, "not ready within %d s of Firestore's return",
			     BOUND_S);
		nap_ms(20);
	}
	cr_log_info("%s: /health/ready said Firestore is down %ld ms into the fault; first success %ld ms after "
		    "Firestore returned, ready again after %ld ms",
		    what, ready_down, back, now_ms() - fault_end);
	for (int i = 0; i < CLIENTS; i++)
		base[i] = atomic_load(&cs[i].landed);
	wait_landed(cs, base, 3, "after the fault");
	atomic_store(&stop_load, true);
	for (int i = 0; i < CLIENTS; i++)
		pthread_join(th[i], NULL);

	check_answers(fault_start, fault_end, what);
	for (int i = 0; i < CLIENTS; i++)
		cr_assert_eq(atomic_load(&cs[i].unexpected), 0, "client %d had an operation that never landed", i);

	/* No worker thread is stuck, and the orders group serves its full concurrency again. */
	wait_idle("orders");
	wait_idle("products");
	check_full_concurrency(&cs[0]);

	/* Nothing half-written: what each merchant was answered is exactly what Firestore holds. */
	for (int i = 0; i < CLIENTS; i++) {
		struct audit a;

		audit_org(cs[i].t.org, &a);
		cr_assert_eq(a.orders, cs[i].orders, "merchant %d: %d orders stored, %d answered 201", i, a.orders,
			     cs[i].orders);
		cr_assert_eq(a.order_keys, cs[i].orders, "merchant %d: one idempotency record per order", i);
		cr_assert_eq(a.adjust_keys, cs[i].adjusts, "merchant %d: one idempotency record per adjustment", i);
		cr_assert_eq(a.on_hand, 1000 + cs[i].adjusts, "merchant %d: on hand %lld after %d adjustments of +1", i,
			     a.on_hand, cs[i].adjusts);
		cr_assert_eq(a.reserved, cs[i].orders, "merchant %d: one unit reserved per order", i);
	}
	free(cs);
}

Test(firestore, refusing_connections_for_10s_under_load_answers_503_and_writes_nothing_half)
{
	firestore_outage(FP_DROP, 0, "Firestore refusing connections");
}

Test(firestore, partitioned_for_10s_under_load_answers_503_and_writes_nothing_half)
{
	firestore_outage(FP_STALL, 0, "Firestore partitioned");
}

Test(firestore, resetting_connections_for_10s_under_load_answers_503_and_writes_nothing_half)
{
	firestore_outage(FP_RESET, 0, "Firestore resetting connections");
}

/* Every chunk held longer than the call timeout: Firestore answers, but too late for any call. */
Test(firestore, too_slow_for_10s_under_load_answers_503_and_writes_nothing_half)
{
	firestore_outage(FP_SLOW, CALL_TIMEOUT_MS + CALL_TIMEOUT_MS / 2, "Firestore slower than the call timeout");
}

struct one_call {
	const struct tenant *t;
	const char *key;
	struct http_resp *answer;
};

static void order_body(char *out, size_t len, const char *product)
{
	snprintf(out, len,
		 "{\"customer\":{\"name\":\"Sipho\"},\"shippingAddress\":{\"line1\":\"3 Main Rd\",\"city\":\"Durban\","
		 "\"province\":\"KwaZulu-Natal\",\"postalCode\":\"4001\"},\"items\":[{\"productId\":\"%s\","
		 "\"quantity\":1}]}",
		 product);
}

static struct http_resp *order_with_key(const struct tenant *t, const char *key)
{
	char body[1024], header[160];
	const char *h[] = {header, NULL};

	order_body(body, sizeof(body), t->product);
	snprintf(header, sizeof(header), "Idempotency-Key: %s", key);
	return api_call("POST", "/v1/orders", t->owner.id_token, NULL, body, strlen(body), h);
}

static void *order_in_background(void *arg)
{
	struct one_call *c = arg;

	c->answer = order_with_key(c->t, c->key);
	return NULL;
}

static void wait_fired(const char *what)
{
	long until = now_ms() + BOUND_S * 1000L;

	while (!fp_fired(proxy)) {
		cr_assert_lt(now_ms(), until, "%s never happened", what);
		nap_ms(5);
	}
}

/*
 * Firestore goes away between a transaction's read and its end: the read
 * reached Firestore (which now holds that transaction's locks on the
 * counter and the product), its answer and then its rollback did not. Left
 * alone, Firestore releases such locks only after 60 s idle, and every
 * order of the organization waits on them until then. Once Firestore
 * answers again, the next order of the organization lands at once.
 */
Test(firestore, a_transaction_cut_off_by_a_fault_does_not_hold_its_locks_once_firestore_is_back)
{
	struct tenant t;
	struct one_call cut = {&t, "cut-1", NULL};
	struct http_resp *r;
	pthread_t th;
	struct audit a;

	make_tenant(&t);
	r = order_with_key(&t, "cut-0");
	cr_assert_eq(r->status, 201, "%s", r->body);
	http_resp_free(r);

	fp_arm(proxy, ":batchGet", FP_LOSE_ANSWERS);
	pthread_create(&th, NULL, order_in_background, &cut);
	wait_fired("the transaction's read");
	fp_arm(proxy, ":rollback", FP_DROP);
	pthread_join(th, NULL);
	cr_assert(is_error(cut.answer, 503, "UNAVAILABLE"), "the cut-off order answers 503: %ld %s", cut.answer->status,
		  cut.answer->body);
	http_resp_free(cut.answer);
	cr_assert(fp_fired(proxy), "its rollback was sent and did not arrive");
	cr_assert_eq(fp_set(proxy, FP_PASS, 0), 0);

	r = order_with_key(&t, "cut-2");
	cr_assert_eq(r->status, 201, "the first order after Firestore's return lands: %ld %s", r->status, r->body);
	cr_assert_str_eq(json_str(r, "number"), "FX-000002", "the cut-off order made nothing");
	http_resp_free(r);
	audit_org(t.org, &a);
	cr_assert_eq(a.orders, 2);
	cr_assert_eq(a.order_keys, 2);
}

/* The instance's sum of the samples of a series prefix (e.g. a metric with some of its labels). */
static double metric_sum(const char *prefix)
{
	char url[128];
	struct http_resp *r;
	double sum = 0;

	snprintf(url, sizeof(url), "http://%s/metrics", api.metrics);
	r = http_url("GET", url, NULL, NULL, 0);
	cr_assert_eq(r->status, 200, "metrics of the instance: %s", r->body);
	for (const char *p = r->body; p && *p;) {
		const char *sp = strchr(p, ' '), *nl = strchr(p, '\n');

		if (strncmp(p, prefix, strlen(prefix)) == 0 && sp && (!nl || sp < nl))
			sum += strtod(sp + 1, NULL);
		p = nl ? nl + 1 : NULL;
	}
	http_resp_free(r);
	return sum;
}

struct adjuster {
	const struct tenant *t;
	pthread_barrier_t *go;
	struct http_resp *answer;
	long took;
};

static void *adjust_once(void *arg)
{
	struct adjuster *a = arg;
	char path[200];
	const char *body = "{\"delta\":1,\"reason\":\"received\"}";
	long start;

	snprintf(path, sizeof(path), "/v1/products/%s/stock:adjust", a->t->product);
	pthread_barrier_wait(a->go);
	start = now_ms();
	a->answer = api_call("POST", path, a->t->owner.id_token, NULL, body, strlen(body), NULL);
	a->took = now_ms() - start;
	return NULL;
}

/*
 * A busy merchant while Firestore is partitioned: eight stock adjustments
 * of one product at once. They queue on the product's lock; once the first
 * has found Firestore away (after the call timeout), the ones queued behind
 * it answer 503 at once rather than each waiting out the same timeouts in
 * turn (eight times the timeout for the last, with nginx's 60 s and the
 * worker threads held all along). Counted as work, not time: Firestore is
 * asked by the first in the queue, not by all eight.
 */
Test(firestore, a_busy_merchants_queue_behind_a_failed_call_answers_503_without_asking_again)
{
	enum { ADJUSTERS = 8 };
	const char *calls = "fluxori_backend_calls_total{group=\"products\",service=\"firestore\"";
	struct tenant t;
	struct adjuster a[ADJUSTERS];
	pthread_barrier_t go;
	pthread_t th[ADJUSTERS];
	char path[200];
	double before, asked;
	long slowest = 0;

	make_tenant(&t);
	/* Every products process has the member's profile fresh: only the adjustments ask Firestore. */
	snprintf(path, sizeof(path), "/v1/products/%s", t.product);
	for (int i = 0; i < 8; i++) {
		struct http_resp *r = api_call("GET", path, t.owner.id_token, NULL, NULL, 0, NULL);

		cr_assert_eq(r->status, 200, "%s", r->body);
		http_resp_free(r);
	}
	cr_assert_eq(fp_set(proxy, FP_STALL, 0), 0);
	before = metric_sum(calls);
	pthread_barrier_init(&go, NULL, ADJUSTERS);
	for (int i = 0; i < ADJUSTERS; i++) {
		a[i] = (struct adjuster){&t, &go, NULL, 0};
		pthread_create(&th[i], NULL, adjust_once, &a[i]);
	}
	for (int i = 0; i < ADJUSTERS; i++) {
		pthread_join(th[i], NULL);
		cr_assert(is_error(a[i].answer, 503, "UNAVAILABLE"), "adjustment %d: %ld %s", i, a[i].answer->status,
			  a[i].answer->body);
		http_resp_free(a[i].answer);
		if (a[i].took > slowest)
			slowest = a[i].took;
	}
	asked = metric_sum(calls) - before;
	cr_assert_eq(fp_set(proxy, FP_PASS, 0), 0);
	cr_log_info("eight queued adjustments while Firestore is partitioned: %.0f calls to Firestore, the slowest "
		    "answer after %ld ms",
		    asked, slowest);
	cr_assert_leq(asked, 2, "Firestore was asked %.0f times for eight adjustments queued on one lock", asked);
}

/* ---- Storage ---- */

static void start_storage_api(void)
{
	start_api("STORAGE_EMULATOR_HOST", "FLUXORI_STORAGE_PORT", "http://", NULL);
}

TestSuite(storage, .init = start_storage_api, .fini = stop_api, .timeout = 400);

struct uploader {
	int i;
	struct tenant t;
	atomic_int landed;
	int unexpected;
	int nfiles;
	char ids[512][32];
	char contents[512][64];
};

static struct http_resp *upload_csv(const struct tenant *t, const char *name, const char *csv)
{
	char header[160];
	const char *h[] = {header, NULL};

	snprintf(header, sizeof(header), "X-File-Name: %s", name);
	return api_call("POST", "/v1/files?kind=upload", t->owner.id_token, "text/csv", csv, strlen(csv), h);
}

/* Uploads one CSV file after another; a 503 is sent again (a new upload: uploads take no key). */
static void *upload_load(void *arg)
{
	struct uploader *u = arg;

	for (int k = 0; !atomic_load(&stop_load) && u->nfiles < 512; k++) {
		char name[64], csv[64];
		long start = now_ms();
		struct http_resp *r;

		snprintf(name, sizeof(name), "stock-%d-%d.csv", u->i, k);
		snprintf(csv, sizeof(csv), "sku,onHand\nS-%d-%d,%d\n", u->i, k, k);
		r = upload_csv(&u->t, name, csv);
		record("upload", start, r);
		if (r->status == 201) {
			snprintf(u->ids[u->nfiles], sizeof(u->ids[0]), "%s", json_str(r, "id"));
			snprintf(u->contents[u->nfiles], sizeof(u->contents[0]), "%s", csv);
			u->nfiles++;
			atomic_fetch_add(&u->landed, 1);
		} else if (r->status != 503) {
			u->unexpected++;
		} else {
			nap_ms(200);
		}
		http_resp_free(r);
	}
	return NULL;
}

/* The objects below orgs/{org}/ in the Storage emulator's bucket, as name -> size. */
static json_object *bucket_objects(const char *org)
{
	char url[512];
	json_object *out = json_object_new_object(), *items;
	struct http_resp *r;

	snprintf(url, sizeof(url), "http://127.0.0.1:%s/storage/v1/b/%s/o?prefix=orgs/%s/&maxResults=1000",
		 test_env("FLUXORI_STORAGE_PORT"), test_env("FLUXORI_BUCKET"), org);
	r = http_url("GET", url, NULL, NULL, 0);
	cr_assert_eq(r->status, 200, "Storage emulator list: %s", r->body);
	cr_assert_null(json_str(r, "nextPageToken"), "more objects than one page");
	if (json_object_object_get_ex(r->json, "items", &items))
		for (size_t i = 0; i < json_object_array_length(items); i++) {
			json_object *o = json_object_array_get_idx(items, i), *name, *size;

			json_object_object_get_ex(o, "name", &name);
			json_object_object_get_ex(o, "size", &size);
			json_object_object_add(out, json_object_get_string(name),
					       json_object_new_int64(strtoll(json_object_get_string(size), NULL, 10)));
		}
	http_resp_free(r);
	return out;
}

/*
 * What Storage and Firestore hold for an organization after uploads met a
 * fault: every file answered 201 is ready, with its bytes; every other file
 * record is pending (never ready); and every object belongs to a file
 * record (no bytes that nothing records, so nothing could ever delete).
 * Returns how many pending records stayed.
 */
static int audit_files(const struct tenant *t, char (*ids)[32], char (*contents)[64], int nfiles)
{
	const char *org = t->org;
	char rel[256];
	json_object *docs, *objects;
	int pending = 0, ready = 0;

	snprintf(rel, sizeof(rel), "organizations/%s/files", org);
	docs = fs_list(rel);
	objects = bucket_objects(org);
	for (size_t i = 0; i < json_object_array_length(docs); i++) {
		json_object *d = json_object_array_get_idx(docs, i), *size;
		const char *id = json_object_get_string(json_object_object_get(d, "id"));
		const char *status = fs_str(d, "status"), *object = fs_str(d, "object");
		bool answered = false;

		for (int k = 0; k < nfiles; k++)
			answered |= strcmp(ids[k], id) == 0;
		cr_assert_not_null(object, "file %s records no object", id);
		if (answered) {
			cr_assert_str_eq(status, "ready", "file %s was answered 201 but is %s", id, status);
			cr_assert(json_object_object_get_ex(objects, object, &size),
				  "file %s is ready without its object", id);
			cr_assert_eq(json_object_get_int64(size), fs_int(d, "size"),
				     "file %s: object of %lld bytes, %lld recorded", id,
				     (long long)json_object_get_int64(size), fs_int(d, "size"));
			ready++;
		} else {
			cr_assert_str_eq(status, "pending", "file %s was never answered 201 but is %s", id, status);
			pending++;
		}
		json_object_object_del(objects, object);
	}
	cr_assert_eq(ready, nfiles, "every file answered 201 is recorded: %d of %d", ready, nfiles);
	json_object_object_foreach(objects, name, v)
	{
		(void)v;
		cr_assert_fail("object %s is in Storage, but no file record names it", name);
	}
	/* And what was answered 201 downloads whole, bytes as uploaded. */
	for (int k = 0; k < nfiles; k++) {
		char path[128];
		struct http_resp *r;

		snprintf(path, sizeof(path), "/v1/files/%s/content", ids[k]);
		r = http_get(path, t->owner.id_token);
		cr_assert_eq(r->status, 200, "file %s: %ld %s", ids[k], r->status, r->body);
		cr_assert(r->len == strlen(contents[k]) && memcmp(r->body, contents[k], r->len) == 0,
			  "file %s holds what was uploaded", ids[k]);
		http_resp_free(r);
	}
	json_object_put(docs);
	json_object_put(objects);
	return pending;
}

Test(storage, partitioned_during_uploads_answers_503_and_leaves_no_bytes_without_a_record)
{
	enum { UPLOADERS = 3 };
	struct uploader *us = calloc(UPLOADERS, sizeof(*us));
	pthread_t th[UPLOADERS];
	long fault_start, fault_end, back;
	int pending = 0;

	book.t0 = now_ms();
	for (int i = 0; i < UPLOADERS; i++) {
		us[i].i = i;
		make_tenant(&us[i].t);
		pthread_create(&th[i], NULL, upload_load, &us[i]);
	}
	for (long until = now_ms() + BOUND_S * 1000L;;) {
		int behind = 0;

		for (int i = 0; i < UPLOADERS; i++)
			behind += atomic_load(&us[i].landed) < 3;
		if (!behind)
			break;
		cr_assert_lt(now_ms(), until, "uploads before the fault");
		nap_ms(50);
	}
	cr_assert_eq(fp_set(proxy, FP_STALL, 0), 0);
	fault_start = now_ms();
	nap_ms(6000); /* the fault's length is the scenario */
	cr_assert_eq(fp_set(proxy, FP_PASS, 0), 0);
	fault_end = now_ms();
	{
		int base[UPLOADERS];

		for (int i = 0; i < UPLOADERS; i++)
			base[i] = atomic_load(&us[i].landed);
		for (;;) {
			int behind = 0;

			for (int i = 0; i < UPLOADERS; i++)
				behind += atomic_load(&us[i].landed) < base[i] + 1;
			if (!behind)
				break;
			cr_assert_lt(now_ms() - fault_end, BOUND_S * 1000L,
				     "uploads work again after Storage returned");
			nap_ms(20);
		}
		back = now_ms() - fault_end;
	}
	atomic_store(&stop_load, true);
	for (int i = 0; i < UPLOADERS; i++)
		pthread_join(th[i], NULL);
	check_answers(fault_start, fault_end, "Storage partitioned during uploads");
	for (int i = 0; i < UPLOADERS; i++) {
		cr_assert_eq(us[i].unexpected, 0);
		pending += audit_files(&us[i].t, us[i].ids, us[i].contents, us[i].nfiles);
	}
	cr_log_info("Storage partitioned during uploads: every uploader landed a file again within %ld ms of Storage's "
		    "return; %d pending file records stayed (the cleanup job removes them after 24 h)",
		    back, pending);
	free(us);
}

struct one_upload {
	const struct tenant *t;
	struct http_resp *answer;
};

static void *upload_in_background(void *arg)
{
	struct one_upload *u = arg;

	u->answer = upload_csv(u->t, "lost.csv", "sku,onHand\nLOST-1,1\n");
	return NULL;
}

/*
 * An upload whose bytes reached Storage but whose answer never came back,
 * and Storage gone right after (the API's attempt to remove the bytes is
 * refused): the client is answered 503 and may upload again, and the bytes
 * must still be recorded (a pending file, which the cleanup job removes with
 * its object), never left in the bucket with nothing that names them.
 */
Test(storage, an_upload_whose_answer_is_lost_leaves_no_bytes_without_a_record)
{
	struct tenant t;
	struct one_upload u = {&t, NULL};
	json_object *objects;
	pthread_t th;
	char ids[1][32];
	char contents[1][64];

	make_tenant(&t);
	fp_arm(proxy, "uploadType=multipart", FP_LOSE_ANSWERS);
	pthread_create(&th, NULL, upload_in_background, &u);
	wait_fired("the upload");
	fp_arm(proxy, "DELETE ", FP_DROP);
	pthread_join(th, NULL);
	cr_assert(is_error(u.answer, 503, "UNAVAILABLE"), "%ld %s", u.answer->status, u.answer->body);
	http_resp_free(u.answer);
	cr_assert_eq(fp_set(proxy, FP_PASS, 0), 0);
	objects = bucket_objects(t.org);
	cr_assert_eq(json_object_object_length(objects), 1, "the bytes did reach Storage (the scenario)");
	json_object_put(objects);
	cr_assert_eq(audit_files(&t, ids, contents, 0), 1, "one pending record names them");
}

/* ---- Identity Toolkit (Firebase Auth) ---- */

static void start_identity_api(void)
{
	start_api("FIREBASE_AUTH_EMULATOR_HOST", "FLUXORI_AUTH_PORT", "", NULL);
}

TestSuite(identity, .init = start_identity_api, .fini = stop_api, .timeout = 400);

/* The Auth emulator's record of uid or email (straight, not through the proxy); NULL when none. */
static json_object *auth_record(const char *key, const char *value)
{
	const char *h[] = {"Content-Type: application/json", "Authorization: Bearer owner", NULL};
	char url[512], body[512];
	struct http_resp *r;
	json_object *users, *out = NULL;

	snprintf(url, sizeof(url),
		 "http://127.0.0.1:%s/identitytoolkit.googleapis.com/v1/projects/demo-fluxori/accounts:lookup",
		 test_env("FLUXORI_AUTH_PORT"));
	snprintf(body, sizeof(body), "{\"%s\":[\"%s\"]}", key, value);
	r = http_url("POST", url, h, body, strlen(body));
	cr_assert_eq(r->status, 200, "Auth emulator lookup: %s", r->body);
	if (json_object_object_get_ex(r->json, "users", &users) && json_object_array_length(users) > 0)
		out = json_object_get(json_object_array_get_idx(users, 0));
	http_resp_free(r);
	return out;
}

/* The role in uid's custom claims in Firebase Auth, "" when it has none. */
static const char *claimed_role(const char *uid)
{
	static __thread char role[32];
	json_object *u = auth_record("localId", uid), *attrs, *claims, *v;

	role[0] = '\0';
	cr_assert_not_null(u, "no Firebase account %s", uid);
	if (json_object_object_get_ex(u, "customAttributes", &attrs) &&
	    (claims = json_tokener_parse(json_object_get_string(attrs)))) {
		if (json_object_object_get_ex(claims, "role", &v))
			snprintf(role, sizeof(role), "%s", json_object_get_string(v));
		json_object_put(claims);
	}
	json_object_put(u);
	return role;
}

/* The role in users/{uid} in Firestore, "" when there is no profile. */
static const char *profile_role(const char *uid)
{
	static __thread char role[32];
	char rel[200];
	json_object *d;

	snprintf(rel, sizeof(rel), "users/%s", uid);
	d = fs_read(rel);
	snprintf(role, sizeof(role), "%s", d && fs_str(d, "role") ? fs_str(d, "role") : "");
	json_object_put(d);
	return role;
}

struct member {
	struct test_user u;
	const char *role;
};

/* u joins t's organization with role, through the harness's stack (its Firebase Auth is whole). */
static void join(const struct tenant *t, struct member *m, const char *prefix, const char *role)
{
	char body[400];
	struct http_resp *r;

	cr_assert_eq(test_user_signup(&m->u, prefix), 0);
	m->role = role;
	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"role\":\"%s\"}", m->u.email, role);
	r = http_json("POST", "/v1/users", t->owner.id_token, body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	http_resp_free(r);
	cr_assert_eq(test_user_refresh(&m->u), 0);
}

/* A member change through the instance; its answer recorded. */
static struct http_resp *change(const char *method, const char *path, const char *token, const char *body)
{
	long start = now_ms();
	struct http_resp *r = api_call(method, path, token, NULL, body, body ? strlen(body) : 0, NULL);

	record(method, start, r);
	return r;
}

/* The answer is 503 UNAVAILABLE; frees it. */
static void expect_503(struct http_resp *r, const char *what)
{
	cr_assert(is_error(r, 503, "UNAVAILABLE"), "%s while Identity Toolkit is down: %ld %s", what, r->status,
		  r->body);
	http_resp_free(r);
}

/*
 * Identity Toolkit refuses connections while an admin adds a new member, adopts
 * an existing account, promotes one member and removes another: each answers
 * 503 and changes nothing (claims in Firebase Auth and profiles in Firestore as
 * before; a member the instance never checked is refused, fail closed, not let
 * in). Sent again once Identity Toolkit is back, each succeeds, and claims and
 * profiles agree.
 */
Test(identity, down_during_member_changes_answers_503_and_changes_nothing)
{
	struct tenant t;
	struct member z, w;
	struct test_user y;
	char newcomer[128], body[400], path[200];
	struct http_resp *r;
	json_object *rec;

	book.t0 = now_ms();
	make_tenant(&t);
	join(&t, &z, "promoted", "staff");
	join(&t, &w, "removed", "viewer");
	cr_assert_eq(test_user_signup(&y, "adopted"), 0);
	snprintf(newcomer, sizeof(newcomer), "newcomer-%s@example.co.za", test_unique());

	cr_assert_eq(fp_set(proxy, FP_DROP, 0), 0);
	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"role\":\"manager\"}", newcomer);
	expect_503(change("POST", "/v1/users", t.owner.id_token, body), "adding a new member");
	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"role\":\"staff\"}", y.email);
	expect_503(change("POST", "/v1/users", t.owner.id_token, body), "adopting an account");
	snprintf(path, sizeof(path), "/v1/users/%s", z.u.uid);
	expect_503(change("PATCH", path, t.owner.id_token, "{\"role\":\"manager\"}"), "a role change");
	snprintf(path, sizeof(path), "/v1/users/%s", w.u.uid);
	expect_503(change("DELETE", path, t.owner.id_token, NULL), "a removal");
	expect_503(change("GET", "/v1/products", w.u.id_token, NULL), "a member's request (fail closed)");

	/* Nothing changed, in Firebase Auth or in Firestore. */
	rec = auth_record("email", newcomer);
	cr_assert_null(rec, "no Firebase account was made for %s", newcomer);
	cr_assert_str_eq(profile_role(y.uid), "", "the adopted account has no profile");
	cr_assert_str_eq(claimed_role(y.uid), "", "nor claims");
	cr_assert_str_eq(profile_role(z.u.uid), "staff");
	cr_assert_str_eq(claimed_role(z.u.uid), "staff");
	cr_assert_str_eq(profile_role(w.u.uid), "viewer");
	cr_assert_str_eq(claimed_role(w.u.uid), "viewer");
	r = http_get("/v1/products", w.u.id_token);
	cr_assert_eq(r->status, 200, "the member who was not removed still works: %s", r->body);
	http_resp_free(r);

	/* Identity Toolkit is back: each change, sent again, succeeds whole. */
	cr_assert_eq(fp_set(proxy, FP_PASS, 0), 0);
	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"role\":\"manager\"}", newcomer);
	r = change("POST", "/v1/users", t.owner.id_token, body);
	cr_assert_eq(r->status, 201, "adding the new member again: %s", r->body);
	snprintf(path, sizeof(path), "%s", json_str(r, "id"));
	http_resp_free(r);
	cr_assert_str_eq(profile_role(path), "manager");
	cr_assert_str_eq(claimed_role(path), "manager");
	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"role\":\"staff\"}", y.email);
	r = change("POST", "/v1/users", t.owner.id_token, body);
	cr_assert_eq(r->status, 201, "adopting the account again: %s", r->body);
	http_resp_free(r);
	cr_assert_str_eq(profile_role(y.uid), "staff");
	cr_assert_str_eq(claimed_role(y.uid), "staff");
	snprintf(path, sizeof(path), "/v1/users/%s", z.u.uid);
	r = change("PATCH", path, t.owner.id_token, "{\"role\":\"manager\"}");
	cr_assert_eq(r->status, 200, "the role change again: %s", r->body);
	http_resp_free(r);
	cr_assert_str_eq(profile_role(z.u.uid), "manager");
	cr_assert_str_eq(claimed_role(z.u.uid), "manager");
	snprintf(path, sizeof(path), "/v1/users/%s", w.u.uid);
	r = change("DELETE", path, t.owner.id_token, NULL);
	cr_assert_eq(r->status, 204, "the removal again: %s", r->body);
	http_resp_free(r);
	cr_assert_str_eq(profile_role(w.u.uid), "");
	cr_assert_str_eq(claimed_role(w.u.uid), "");
	check_answers(book.t0, now_ms(), "Identity Toolkit down during member changes");
}

/*
 * Identity Toolkit goes away exactly when a new member's claims are set,
 * after the API made their Firebase account: the add answers 503, and the
 * admin's retry (what a 503 asks for) must add them, not find an account
 * it cannot adopt.
 */
Test(identity, an_add_cut_off_after_making_the_account_succeeds_when_sent_again)
{
	struct tenant t;
	char newcomer[128], body[400], uid[129];
	struct http_resp *r;
	json_object *rec;

	make_tenant(&t);
	snprintf(newcomer, sizeof(newcomer), "cutoff-%s@example.co.za", test_unique());
	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"role\":\"staff\"}", newcomer);
	fp_arm(proxy, "accounts:update", FP_DROP);
	r = api_call("POST", "/v1/users", t.owner.id_token, NULL, body, strlen(body), NULL);
	cr_assert(is_error(r, 503, "UNAVAILABLE"), "%ld %s", r->status, r->body);
	http_resp_free(r);
	cr_assert(fp_fired(proxy), "the fault met the claims step");
	cr_assert_eq(fp_set(proxy, FP_PASS, 0), 0);
	rec = auth_record("email", newcomer);
	cr_assert_not_null(rec, "the account was made before the fault (the scenario)");
	snprintf(uid, sizeof(uid), "%s", json_object_get_string(json_object_object_get(rec, "localId")));
	json_object_put(rec);
	cr_assert_str_eq(profile_role(uid), "", "the cut-off add left no profile");
	cr_assert_str_eq(claimed_role(uid), "", "nor claims");

	r = api_call("POST", "/v1/users", t.owner.id_token, NULL, body, strlen(body), NULL);
	cr_assert_eq(r->status, 201, "the admin's retry adds the member: %ld %s", r->status, r->body);
	cr_assert_str_eq(json_str(r, "id"), uid, "with the account the first attempt made");
	http_resp_free(r);
	cr_assert_str_eq(profile_role(uid), "staff");
	cr_assert_str_eq(claimed_role(uid), "staff");
}

/*
 * A demotion whose claims change reached Firebase Auth but whose answer
 * was lost: the admin is answered 503; the member never holds more than
 * the old role meanwhile (authz takes the lower of claims and profile), and
 * the change, sent again, leaves claims and profile agreeing.
 */
Test(identity, a_role_change_whose_answer_is_lost_converges_when_sent_again)
{
	struct tenant t;
	struct member z;
	char path[200];
	struct http_resp *r;

	make_tenant(&t);
	join(&t, &z, "demoted", "manager");
	snprintf(path, sizeof(path), "/v1/users/%s", z.u.uid);
	fp_arm(proxy, "accounts:update", FP_LOSE_ANSWERS);
	r = api_call("PATCH", path, t.owner.id_token, NULL, "{\"role\":\"viewer\"}", 17, NULL);
	cr_assert(is_error(r, 503, "UNAVAILABLE"), "%ld %s", r->status, r->body);
	http_resp_free(r);
	cr_assert_eq(fp_set(proxy, FP_PASS, 0), 0);
	cr_log_info("a demotion whose answer was lost: claims say %s, the profile says %s", claimed_role(z.u.uid),
		    profile_role(z.u.uid));
	/* With a fresh token (the new claims), never more than manager: a manager's action at most. */
	cr_assert_eq(test_user_refresh(&z.u), 0);
	r = http_json("POST", "/v1/products", z.u.id_token, "{\"sku\":\"Z-1\",\"name\":\"Z\",\"priceCents\":1}");
	cr_assert(r->status == 201 || r->status == 403, "%ld %s", r->status, r->body);
	http_resp_free(r);
	r = http_json("POST", "/v1/users", z.u.id_token, "{\"email\":\"x@example.co.za\",\"role\":\"viewer\"}");
	cr_assert_eq(r->status, 403, "no admin's action: %s", r->body);
	http_resp_free(r);

	r = api_call("PATCH", path, t.owner.id_token, NULL, "{\"role\":\"viewer\"}", 17, NULL);
	cr_assert_eq(r->status, 200, "sent again: %s", r->body);
	http_resp_free(r);
	cr_assert_str_eq(claimed_role(z.u.uid), "viewer");
	cr_assert_str_eq(profile_role(z.u.uid), "viewer");
}
