/*
 * Many instances: two complete API stacks (nginx, every group, their own
 * run and metrics directories, so their keylock stripes, token caches and
 * member snapshots are not shared) against one set of emulators, the way
 * two Cloud Run instances share only Firestore, Storage and Firebase Auth.
 * Stack A is the harness's; stack B an extra instance (instance.c) started
 * per test. Load is split across both, and every invariant is checked twice:
 * in the answers, and in the documents read straight from the Firestore
 * emulator (audit.c). The job lease test runs two extra instances whose
 * Firestore traffic passes a fault proxy, so that the winner's run can be
 * held open at a known step while the other instance is asked.
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
#include <strings.h>
#include <time.h>
#include <unistd.h>

static struct instance stack_b;

static void start_b(void)
{
	/* A short revocation window, so the removal test sees the cross-instance check (README: 1..60 s). */
	instance_start(&stack_b, "FLUXORI_REVOCATION_CHECK_SECONDS=2\n");
}

static void stop_b(void)
{
	instance_stop(&stack_b);
}

TestSuite(scaleout, .init = start_b, .fini = stop_b, .timeout = 240);

static const char address[] = "{\"line1\":\"12 Long St\",\"city\":\"Cape Town\",\"province\":\"Western Cape\","
			      "\"postalCode\":\"8001\"}";

/* Stack i: 0 is the harness's (A), 1 the extra instance (B). */
static const char *base_of(int i)
{
	return i % 2 == 0 ? test_url() : stack_b.base;
}

/* One request to base; extra is a NULL-terminated list of header lines or NULL. */
static struct http_resp *call(const char *base, const char *method, const char *path, const char *token,
			      const char *body, const char *const *extra)
{
	char url[512], auth[8192];
	const char *h[16];
	int n = 0;

	snprintf(url, sizeof(url), "%s%s", base, path);
	if (token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		h[n++] = auth;
	}
	if (body)
		h[n++] = "Content-Type: application/json";
	for (const char *const *p = extra; p && *p && n < 15; p++)
		h[n++] = *p;
	h[n] = NULL;
	return http_url(method, url, h, body, body ? strlen(body) : 0);
}

static void nap_ms(long ms)
{
	struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&t, NULL);
}

/* The answer's Retry-After in ms (at most 5 s), 1 s when it has none. */
static long retry_after_ms(const struct http_resp *r)
{
	const char *v = http_header(r, "Retry-After");
	long s = v ? strtol(v, NULL, 10) : 1;

	return (s < 1 ? 1 : s > 5 ? 5 : s) * 1000;
}

static bool is_error(const struct http_resp *r, long code, const char *status)
{
	const char *s = json_str(r, "error.status");

	return r->status == code && s && strcmp(s, status) == 0;
}

struct tenant {
	struct test_user owner;
	char org[64];
};

/* An organization made through stack A; its owner's token carries the claims. */
static void make_tenant(struct tenant *t)
{
	test_owner_signup(&t->owner, "scale", "Two Instances (Pty) Ltd", t->org, sizeof(t->org));
}

/* A product with stock on hand, made through stack A; its id into id. */
static void stocked_product(const struct tenant *t, const char *sku, int stock, char id[64])
{
	char body[300];

	snprintf(body, sizeof(body), "{\"sku\":\"%s\",\"name\":\"Item %s\",\"priceCents\":2500,\"status\":\"active\"}",
		 sku, sku);
	test_product_stocked(t->owner.id_token, body, stock, id, 64);
}

static void order_body(char *out, size_t len, const char *product, int quantity)
{
	snprintf(out, len,
		 "{\"customer\":{\"name\":\"Thandi\"},\"shippingAddress\":%s,\"items\":[{\"productId\":\"%s\","
		 "\"quantity\":%d}]}",
		 address, product, quantity);
}

/* ---- no oversell ---- */

struct race {
	const struct tenant *t;
	char body[1024];
	pthread_barrier_t go;
	atomic_int next;
	atomic_int created[2], refused[2], other;
	char numbers[64][16];
	atomic_int nnumbers;
	char other_answer[512];
};

static void *order_once(void *arg)
{
	struct race *x = arg;
	int i = atomic_fetch_add(&x->next, 1);
	struct http_resp *r;

	pthread_barrier_wait(&x->go);
	r = call(base_of(i), "POST", "/v1/orders", x->t->owner.id_token, x->body, NULL);
	if (r->status == 201) {
		snprintf(x->numbers[atomic_fetch_add(&x->nnumbers, 1)], sizeof(x->numbers[0]), "%s",
			 json_str(r, "number"));
		atomic_fetch_add(&x->created[i % 2], 1);
	} else if (is_error(r, 409, "FAILED_PRECONDITION")) {
		atomic_fetch_add(&x->refused[i % 2], 1);
	} else {
		atomic_fetch_add(&x->other, 1);
		snprintf(x->other_answer, sizeof(x->other_answer), "%ld %s", r->status, r->body);
	}
	http_resp_free(r);
	return NULL;
}

Test(scaleout, forty_concurrent_orders_on_two_instances_never_oversell_ten)
{
	struct tenant t;
	struct race *x = calloc(1, sizeof(*x));
	pthread_t th[40];
	char product[64], rel[256];
	struct audit a;
	json_object *doc;

	make_tenant(&t);
	stocked_product(&t, "HOT-2", 10, product);
	x->t = &t;
	order_body(x->body, sizeof(x->body), product, 1);
	pthread_barrier_init(&x->go, NULL, 40);
	for (int i = 0; i < 40; i++)
		pthread_create(&th[i], NULL, order_once, x);
	for (int i = 0; i < 40; i++)
		pthread_join(th[i], NULL);
	cr_log_info("oversell race: A created %d refused %d, B created %d refused %d", atomic_load(&x->created[0]),
		    atomic_load(&x->refused[0]), atomic_load(&x->created[1]), atomic_load(&x->refused[1]));
	cr_assert_eq(atomic_load(&x->other), 0, "every answer is 201 or 409 FAILED_PRECONDITION; one was %s",
		     x->other_answer);
	cr_assert_eq(atomic_load(&x->created[0]) + atomic_load(&x->created[1]), 10, "exactly the 10 units sell");
	cr_assert_eq(atomic_load(&x->refused[0]) + atomic_load(&x->refused[1]), 30);

	/* What Firestore holds agrees: ten orders, ten reserved, nothing available, numbers 1..10. */
	audit_org(t.org, &a);
	cr_assert_eq(a.orders, 10);
	cr_assert_eq(a.open_orders, 10);
	cr_assert_eq(a.reserved, 10);
	cr_assert_eq(a.on_hand, 10);
	snprintf(rel, sizeof(rel), "organizations/%s/products/%s", t.org, product);
	doc = fs_read(rel);
	cr_assert_eq(fs_int(doc, "stock.available"), 0);
	json_object_put(doc);
	free(x);
}

/* ---- numbering ---- */

struct numbering {
	const struct tenant *t;
	char product[64];
	pthread_barrier_t go;
	atomic_int next, retried, other;
	char numbers[96][16];
	char ids[96][64];
	atomic_int n;
	char other_answer[512];
};

/*
 * One client: two orders, each with its own Idempotency-Key; a 409 ABORTED
 * (too many at once for the organization) is retried with the same key after
 * Retry-After, as the contract tells clients to, until it lands.
 */
static void *numbered_orders(void *arg)
{
	struct numbering *x = arg;
	int i = atomic_fetch_add(&x->next, 1);
	char body[1024], key[128];
	const char *h[] = {key, NULL};

	order_body(body, sizeof(body), x->product, 1);
	pthread_barrier_wait(&x->go);
	for (int k = 0; k < 2; k++) {
		snprintf(key, sizeof(key), "Idempotency-Key: numbering-%d-%d", i, k);
		for (int attempt = 0; attempt < 30; attempt++) {
			struct http_resp *r = call(base_of(i + k), "POST", "/v1/orders", x->t->owner.id_token, body, h);

			if (r->status == 201) {
				int slot = atomic_fetch_add(&x->n, 1);

				snprintf(x->numbers[slot], sizeof(x->numbers[0]), "%s", json_str(r, "number"));
				snprintf(x->ids[slot], sizeof(x->ids[0]), "%s", json_str(r, "id"));
				http_resp_free(r);
				break;
			}
			if (is_error(r, 409, "ABORTED") && http_header(r, "Retry-After")) {
				long wait = retry_after_ms(r);

				atomic_fetch_add(&x->retried, 1);
				http_resp_free(r);
				nap_ms(wait);
				continue;
			}
			atomic_fetch_add(&x->other, 1);
			snprintf(x->other_answer, sizeof(x->other_answer), "%ld %s", r->status, r->body);
			http_resp_free(r);
			return NULL;
		}
	}
	return NULL;
}

static int cmp_number(const void *a, const void *b)
{
	return strcmp(a, b);
}

Test(scaleout, order_numbers_stay_gapless_and_unique_under_creates_on_both)
{
	enum { CLIENTS = 24 };
	struct tenant t;
	struct numbering *x = calloc(1, sizeof(*x));
	pthread_t th[CLIENTS];
	struct audit a;
	int n;

	make_tenant(&t);
	stocked_product(&t, "NUM-2", 1000, x->product);
	x->t = &t;
	pthread_barrier_init(&x->go, NULL, CLIENTS);
	for (int i = 0; i < CLIENTS; i++)
		pthread_create(&th[i], NULL, numbered_orders, x);
	for (int i = 0; i < CLIENTS; i++)
		pthread_join(th[i], NULL);
	n = atomic_load(&x->n);
	cr_log_info("numbering: %d orders from %d clients on two instances, %d retries after 409 ABORTED", n, CLIENTS,
		    atomic_load(&x->retried));
	cr_assert_eq(atomic_load(&x->other), 0, "every answer is 201 or 409 ABORTED; one was %s", x->other_answer);
	cr_assert_eq(n, 2 * CLIENTS, "every order lands once its client retries");
	qsort(x->numbers, (size_t)n, sizeof(x->numbers[0]), cmp_number);
	for (int i = 0; i < n; i++) {
		char want[16];

		snprintf(want, sizeof(want), "FX-%06d", i + 1);
		cr_assert_str_eq(x->numbers[i], want, "the clients were answered FX-000001..FX-%06d once each", n);
	}
	/* Firestore: the same orders, numbers 1..n once each, the counter at n + 1, one key record per order. */
	audit_org(t.org, &a);
	cr_assert_eq(a.orders, n);
	cr_assert_eq(a.order_keys, n);
	cr_assert_eq(a.reserved, n);
	free(x);
}

/* ---- SKU ---- */

struct sku_race {
	const struct tenant *t;
	pthread_barrier_t go;
	atomic_int next, created, duplicate, other;
	char id[64];
	char other_answer[512];
};

static void *create_sku(void *arg)
{
	struct sku_race *x = arg;
	int i = atomic_fetch_add(&x->next, 1);
	char body[300];
	struct http_resp *r;

	snprintf(body, sizeof(body), "{\"sku\":\"TWIN-%d\",\"name\":\"Twin from %c\",\"priceCents\":100}", 7,
		 i % 2 ? 'B' : 'A');
	pthread_barrier_wait(&x->go);
	for (int attempt = 0; attempt < 30; attempt++) {
		r = call(base_of(i), "POST", "/v1/products", x->t->owner.id_token, body, NULL);
		if (is_error(r, 409, "ABORTED")) {
			long wait = retry_after_ms(r);

			http_resp_free(r);
			nap_ms(wait);
			continue;
		}
		break;
	}
	if (r->status == 201) {
		atomic_fetch_add(&x->created, 1);
		snprintf(x->id, sizeof(x->id), "%s", json_str(r, "id"));
	} else if (is_error(r, 409, "ALREADY_EXISTS")) {
		atomic_fetch_add(&x->duplicate, 1);
	} else {
		atomic_fetch_add(&x->other, 1);
		snprintf(x->other_answer, sizeof(x->other_answer), "%ld %s", r->status, r->body);
	}
	http_resp_free(r);
	return NULL;
}

Test(scaleout, a_sku_stays_unique_under_concurrent_creates_on_both)
{
	enum { CLIENTS = 16 };
	struct tenant t;
	struct sku_race *x = calloc(1, sizeof(*x));
	pthread_t th[CLIENTS];
	json_object *products;
	char rel[256];
	int with_sku = 0;

	make_tenant(&t);
	x->t = &t;
	pthread_barrier_init(&x->go, NULL, CLIENTS);
	for (int i = 0; i < CLIENTS; i++)
		pthread_create(&th[i], NULL, create_sku, x);
	for (int i = 0; i < CLIENTS; i++)
		pthread_join(th[i], NULL);
	cr_assert_eq(atomic_load(&x->other), 0, "every answer is 201 or 409 ALREADY_EXISTS; one was %s",
		     x->other_answer);
	cr_assert_eq(atomic_load(&x->created), 1, "one create wins");
	cr_assert_eq(atomic_load(&x->duplicate), CLIENTS - 1);
	/* Firestore: one product with the SKU, the one that was answered 201. */
	snprintf(rel, sizeof(rel), "organizations/%s/products", t.org);
	products = fs_list(rel);
	for (size_t i = 0; i < json_object_array_length(products); i++) {
		json_object *p = json_object_array_get_idx(products, i);

		if (fs_str(p, "sku") && strcasecmp(fs_str(p, "sku"), "TWIN-7") == 0) {
			with_sku++;
			cr_assert_str_eq(json_object_get_string(json_object_object_get(p, "id")), x->id);
		}
	}
	cr_assert_eq(with_sku, 1, "one product holds SKU TWIN-7 in Firestore, found %d", with_sku);
	json_object_put(products);
	free(x);
}

/* ---- removed members ---- */

Test(scaleout, a_member_removed_through_one_instance_is_refused_by_the_other)
{
	struct tenant t;
	struct test_user m;
	char body[400], path[200];
	struct http_resp *r;
	time_t joined, removed, first_refusal = 0;
	int served = 0, refused_in_a_row = 0;
	bool ok;

	make_tenant(&t);
	cr_assert_eq(test_user_signup(&m, "leaver"), 0);
	joined = time(NULL);
	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"role\":\"staff\"}", m.email);
	r = http_json("POST", "/v1/users", t.owner.id_token, body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	http_resp_free(r);
	cr_assert_eq(test_user_refresh(&m), 0);
	/* B knows the member: its token cache and member snapshot hold them. */
	r = call(stack_b.base, "GET", "/v1/products", m.id_token, NULL, NULL);
	cr_assert_eq(r->status, 200, "the member works on B: %s", r->body);
	http_resp_free(r);
	/* Revocation compares whole seconds: the session must be older than the removal. */
	while (time(NULL) <= joined + 1)
		nap_ms(100);
	/* Just asked, so B's snapshot of the member is fresh when the removal happens. */
	r = call(stack_b.base, "GET", "/v1/orders", m.id_token, NULL, NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	http_resp_free(r);

	snprintf(path, sizeof(path), "/v1/users/%s", m.uid);
	r = http_json("DELETE", path, t.owner.id_token, NULL);
	cr_assert_eq(r->status, 204, "removed through A: %s", r->body);
	http_resp_free(r);
	removed = time(NULL);
	r = http_get("/v1/products", m.id_token);
	cr_assert(r->status == 401 || r->status == 403, "A refuses at once: %ld %s", r->status, r->body);
	http_resp_free(r);

	/*
	 * B never heard of the removal: each of its worker processes must find
	 * out from Firebase Auth within its revocation window. Waited on, with
	 * the contract's 60 s as the bound, until 20 requests in a row (both
	 * groups, so every process of both) are refused; every refusal must be
	 * 401 (the revoked session), not the 403 a process would give only once
	 * its 30 s member snapshot expired.
	 */
	for (int i = 0; refused_in_a_row < 20; i++) {
		r = call(stack_b.base, "GET", i % 2 ? "/v1/orders" : "/v1/products", m.id_token, NULL, NULL);
		ok = r->status == 200;
		if (ok) {
			served++;
			refused_in_a_row = 0;
		} else {
			cr_assert(is_error(r, 401, "UNAUTHENTICATED"),
				  "B refuses with 401 (revoked in Firebase Auth), got %ld %s", r->status, r->body);
			if (!first_refusal)
				first_refusal = time(NULL);
			refused_in_a_row++;
		}
		http_resp_free(r);
		cr_assert_lt(time(NULL) - removed, 60, "B still serves the removed member after 60 s");
		if (ok)
			nap_ms(100);
	}
	cr_log_info("B refused the removed member %ld s after the removal, every time from %ld s (revocation window "
		    "2 s; %d answers 200 before)",
		    (long)(first_refusal - removed), (long)(time(NULL) - removed), served);
}

/*
 * ---- held at a step: two more instances, B' and C', each reaching Firestore
 * through a fault proxy, so that each instance's request can be held at a
 * chosen call (a chunk that contains a given string) while the other one is
 * asked: races that otherwise depend on luck happen every time ----
 */

static struct faultproxy *held_fp[2];
static struct instance held_in[2];

static void start_held(void)
{
	char extra[256];

	for (int i = 0; i < 2; i++) {
		held_fp[i] = fp_start(atoi(test_env("FLUXORI_FIRESTORE_PORT")));
		/* Long call timeouts: a held call must wait for the test, not time out. */
		snprintf(extra, sizeof(extra), "FIRESTORE_EMULATOR_HOST=127.0.0.1:%d\nFLUXORI_HTTP_TIMEOUT_MS=120000\n",
			 fp_port(held_fp[i]));
		instance_start(&held_in[i], extra);
	}
}

static void stop_held(void)
{
	for (int i = 0; i < 2; i++) {
		instance_stop(&held_in[i]);
		fp_stop(held_fp[i]);
	}
}

TestSuite(held, .init = start_held, .fini = stop_held, .timeout = 240);

/* The same request on both held instances at once, each one's Firestore traffic stoppable at a step. */
struct held_pair {
	const char *method, *path, *token, *body;
	const char *const *extra;
	pthread_barrier_t go;
	pthread_t th[2];
	struct http_resp *answer[2];
	atomic_int done[2];
	int held[2];
};

struct held_arg {
	struct held_pair *h;
	int i;
};

static void *held_send(void *arg)
{
	struct held_arg *a = arg;
	struct held_pair *h = a->h;
	int i = a->i;

	free(a);
	pthread_barrier_wait(&h->go);
	h->answer[i] = call(held_in[i].base, h->method, h->path, h->token, h->body, h->extra);
	atomic_store(&h->done[i], 1);
	return NULL;
}

/* Arms both proxies at step, then sends the request to both instances at once. */
static void held_send_both(struct held_pair *h, const char *step)
{
	pthread_barrier_init(&h->go, NULL, 2);
	for (int i = 0; i < 2; i++) {
		struct held_arg *a = malloc(sizeof(*a));

		*a = (struct held_arg){h, i};
		atomic_init(&h->done[i], 0);
		fp_arm(held_fp[i], step, FP_STALL);
		pthread_create(&h->th[i], NULL, held_send, a);
	}
}

/*
 * Waits until each instance is either held at the armed step or has
 * answered (each one's state in h->held); an answer is in h->answer.
 */
static void held_settle(struct held_pair *h)
{
	for (;;) {
		int settled = 0;

		for (int i = 0; i < 2; i++)
			settled += fp_fired(held_fp[i]) || atomic_load(&h->done[i]);
		if (settled == 2)
			break;
		nap_ms(10);
	}
	for (int i = 0; i < 2; i++) {
		h->held[i] = fp_fired(held_fp[i]);
		if (!h->held[i]) {
			fp_disarm(held_fp[i]);
			pthread_join(h->th[i], NULL);
		}
	}
}

/* Lets the held instances go on (re-armed at step first, when step is not NULL). */
static void held_resume(struct held_pair *h, const char *step)
{
	for (int i = 0; i < 2; i++) {
		if (!h->held[i])
			continue;
		if (step)
			fp_arm(held_fp[i], step, FP_STALL);
		cr_assert_eq(fp_set(held_fp[i], FP_PASS, 0), 0);
	}
}

/* Lets everything go and collects both answers. */
static void held_finish(struct held_pair *h)
{
	for (int i = 0; i < 2; i++) {
		fp_disarm(held_fp[i]);
		cr_assert_eq(fp_set(held_fp[i], FP_PASS, 0), 0);
		if (h->held[i])
			pthread_join(h->th[i], NULL);
	}
	pthread_barrier_destroy(&h->go);
}

/* Sends h's request to both instances at once, holds both at their commit, then lets both go. */
static void held_both_at_commit(struct held_pair *h)
{
	held_send_both(h, ":commit");
	held_settle(h);
	cr_assert(h->held[0] && h->held[1], "both instances got as far as their commit");
	held_finish(h);
}

/*
 * A 409 ABORTED is the contract's "retry with the same key": the client
 * retries h's request on that instance (up to 10 times, after Retry-After);
 * then each instance's answer must be status.
 */
static void held_retry_aborted(struct held_pair *h, long status)
{
	for (int i = 0; i < 2; i++) {
		for (int attempt = 0; attempt < 10 && is_error(h->answer[i], 409, "ABORTED"); attempt++) {
			nap_ms(retry_after_ms(h->answer[i]));
			http_resp_free(h->answer[i]);
			h->answer[i] = call(held_in[i].base, h->method, h->path, h->token, h->body, h->extra);
		}
		cr_assert_eq(h->answer[i]->status, status, "instance %d: %ld %s", i, h->answer[i]->status,
			     h->answer[i]->body);
	}
}

/* h's Idempotency-Key with another body is refused on both held instances and on stack A. */
static void key_reused_is_refused_everywhere(const struct held_pair *h, const char *other)
{
	for (int i = 0; i < 3; i++) {
		struct http_resp *x =
			call(i < 2 ? held_in[i].base : test_url(), h->method, h->path, h->token, other, h->extra);

		cr_assert(is_error(x, 409, "ALREADY_EXISTS"), "stack %d: %ld %s", i, x->status, x->body);
		http_resp_free(x);
	}
}

/*
 * The same Idempotency-Key and body, sent to both instances at once; both
 * have read the key (not there yet) and are held at their commit, so each
 * would make the order if the key's read did not count in the transaction.
 */
Test(held, one_idempotency_key_sent_to_both_at_once_makes_one_order)
{
	struct tenant t;
	struct held_pair hp = {0};
	struct http_resp **r = hp.answer;
	char product[64], body[1024], other[1024];
	const char *h[] = {"Idempotency-Key: twin-order-1", NULL};
	struct audit a;

	make_tenant(&t);
	stocked_product(&t, "IDEM-2", 50, product);
	order_body(body, sizeof(body), product, 3);
	hp = (struct held_pair){
		.method = "POST", .path = "/v1/orders", .token = t.owner.id_token, .body = body, .extra = h};
	held_both_at_commit(&hp);
	held_retry_aborted(&hp, 201);
	cr_assert_str_eq(json_str(r[0], "id"), json_str(r[1], "id"), "both instances answer the same order");
	cr_assert_str_eq(json_str(r[0], "number"), "FX-000001");
	cr_assert_str_eq(json_str(r[1], "number"), "FX-000001");

	/* Stack A answers the same order; the same key with another body is refused everywhere, nothing made. */
	{
		struct http_resp *x = call(test_url(), "POST", "/v1/orders", t.owner.id_token, body, h);

		cr_assert_eq(x->status, 201, "%s", x->body);
		cr_assert_str_eq(json_str(x, "id"), json_str(r[0], "id"));
		http_resp_free(x);
	}
	order_body(other, sizeof(other), product, 4);
	key_reused_is_refused_everywhere(&hp, other);
	audit_org(t.org, &a);
	cr_assert_eq(a.orders, 1, "one order in Firestore, found %d", a.orders);
	cr_assert_eq(a.order_keys, 1);
	cr_assert_eq(a.reserved, 3, "one reservation of 3");
	http_resp_free(r[0]);
	http_resp_free(r[1]);
}

/*
 * The same job triggered on both at once. Both instances have read the
 * lease (free) and are held at their commit; then whichever takes it is held
 * again at its next write (its run record), so its run is still going,
 * lease held, while the other decides.
 */
Test(held, the_same_job_triggered_on_both_at_once_runs_once)
{
	struct tenant t;
	struct held_pair hp = {0};
	struct http_resp **r = hp.answer;
	int winner, own_runs = 0;
	char rel[256];
	json_object *runs, *lease;

	make_tenant(&t);
	hp = (struct held_pair){.method = "POST", .path = "/v1/jobs/sync", .token = t.owner.id_token};
	held_send_both(&hp, ":commit");
	held_settle(&hp);
	cr_assert(hp.held[0] && hp.held[1], "both instances read the lease and got as far as taking it");
	held_resume(&hp, "jobRuns/");
	held_settle(&hp);
	cr_assert_eq(hp.held[0] + hp.held[1], 1, "exactly one instance took the lease and went on to record a run");
	winner = hp.held[0] ? 0 : 1;
	cr_assert(is_error(r[1 - winner], 409, "ABORTED"), "the other instance answers 409 ABORTED: %ld %s",
		  r[1 - winner]->status, r[1 - winner]->body);
	cr_assert_not_null(http_header(r[1 - winner], "Retry-After"));
	held_finish(&hp);
	cr_assert_eq(r[winner]->status, 200, "the run that held the lease finishes: %s", r[winner]->body);
	cr_assert_str_eq(json_str(r[winner], "status"), "succeeded");

	/* Firestore: one run of this organization's sync, and the lease released. */
	runs = fs_list("jobRuns");
	for (size_t i = 0; i < json_object_array_length(runs); i++) {
		json_object *run = json_object_array_get_idx(runs, i);

		if (fs_str(run, "organizationId") && strcmp(fs_str(run, "organizationId"), t.org) == 0 &&
		    fs_str(run, "job") && strcmp(fs_str(run, "job"), "sync") == 0)
			own_runs++;
	}
	cr_assert_eq(own_runs, 1, "one recorded run of the organization's sync, found %d", own_runs);
	json_object_put(runs);
	snprintf(rel, sizeof(rel), "jobLeases/sync-%s", t.org);
	lease = fs_read(rel);
	cr_assert_null(lease, "the lease is released");
	http_resp_free(r[0]);
	http_resp_free(r[1]);
}

/*
 * The same Idempotency-Key and body of a stock adjustment, sent to both
 * instances at once; both have read the product and the key (not there yet)
 * and are held at their commit, so each would add the delta if the key's read
 * did not count in the transaction.
 */
Test(held, one_idempotency_key_of_a_stock_adjustment_sent_to_both_at_once_adjusts_once)
{
	struct tenant t;
	struct held_pair hp = {0};
	struct http_resp **r = hp.answer;
	char product[64], path[200], rel[256];
	const char *body = "{\"delta\":5,\"reason\":\"received\"}";
	const char *h[] = {"Idempotency-Key: twin-adjust-1", NULL};
	struct audit a;
	json_object *doc;

	make_tenant(&t);
	stocked_product(&t, "IDEM-ADJ", 50, product);
	snprintf(path, sizeof(path), "/v1/products/%s/stock:adjust", product);
	hp = (struct held_pair){.method = "POST", .path = path, .token = t.owner.id_token, .body = body, .extra = h};
	held_both_at_commit(&hp);
	held_retry_aborted(&hp, 200);
	cr_assert_str_eq(json_str(r[0], "id"), json_str(r[1], "id"), "both instances answer the same movement");

	/* The same key with another body is refused on every stack, nothing made. */
	key_reused_is_refused_everywhere(&hp, "{\"delta\":6,\"reason\":\"received\"}");
	/* Firestore: the first 50 and one +5, one movement for it, one key record. */
	audit_org(t.org, &a);
	cr_assert_eq(a.on_hand, 55, "on hand %lld: the +5 counts once", a.on_hand);
	cr_assert_eq(a.movements, 2, "two movements (the first 50, then +5), found %d", a.movements);
	cr_assert_eq(a.adjust_keys, 1);
	snprintf(rel, sizeof(rel), "organizations/%s/products/%s", t.org, product);
	doc = fs_read(rel);
	cr_assert_eq(fs_int(doc, "stock.available"), 55);
	json_object_put(doc);
	http_resp_free(r[0]);
	http_resp_free(r[1]);
}

/*
 * The same new SKU created on both instances at once, both held at their
 * commit: whichever commits first owns the SKU, the other is refused, every
 * time (the unheld race above depends on how the requests interleave).
 */
Test(held, the_same_sku_created_on_both_at_once_is_made_once)
{
	struct tenant t;
	struct held_pair hp = {0};
	struct http_resp **r = hp.answer;
	const char *body = "{\"sku\":\"twin-held\",\"name\":\"Held twin\",\"priceCents\":100}";
	json_object *products, *index;
	char rel[256];
	int created, with_sku = 0;

	make_tenant(&t);
	hp = (struct held_pair){.method = "POST", .path = "/v1/products", .token = t.owner.id_token, .body = body};
	held_both_at_commit(&hp);
	created = r[0]->status == 201 ? 0 : 1;
	cr_assert_eq(r[created]->status, 201, "one instance creates it: %ld %s / %ld %s", r[0]->status, r[0]->body,
		     r[1]->status, r[1]->body);
	cr_assert(is_error(r[1 - created], 409, "ALREADY_EXISTS"), "the other is refused: %ld %s",
		  r[1 - created]->status, r[1 - created]->body);

	/* Firestore: one product with the SKU, the one answered 201, and one SKU index document naming it. */
	snprintf(rel, sizeof(rel), "organizations/%s/products", t.org);
	products = fs_list(rel);
	for (size_t i = 0; i < json_object_array_length(products); i++) {
		json_object *p = json_object_array_get_idx(products, i);

		with_sku++;
		cr_assert_str_eq(json_object_get_string(json_object_object_get(p, "id")), json_str(r[created], "id"));
	}
	cr_assert_eq(with_sku, 1, "one product in Firestore, found %d", with_sku);
	json_object_put(products);
	snprintf(rel, sizeof(rel), "organizations/%s/skus", t.org);
	index = fs_list(rel);
	cr_assert_eq(json_object_array_length(index), 1, "one SKU index document, found %zu",
		     json_object_array_length(index));
	cr_assert_str_eq(fs_str(json_object_array_get_idx(index, 0), "productId"), json_str(r[created], "id"),
			 "the SKU index names the product that was created");
	json_object_put(index);
	http_resp_free(r[0]);
	http_resp_free(r[1]);
}
