/*
 * whworld: what the webhook tests (test_webhooks, test_webhookcrash) and
 * bench/webhooks share: an organization, a receiver (whreceiver) its
 * subscriptions point at, and the calls they make through nginx -- or
 * through a second instance's nginx when base is set. Every helper fails
 * the test on an unexpected answer unless it returns the answer.
 */
#ifndef FX_TEST_WHWORLD_H
#define FX_TEST_WHWORLD_H

#include "client.h"
#include "whreceiver.h"

#include <stdbool.h>
#include <stddef.h>

struct whworld {
	struct test_user owner;
	char org[128];
	struct whreceiver *recv;
	const char *base; /* NULL: the stack's nginx (test_url()) */
};

/* A new owner and organization (prefix names the user) and a started receiver holding no secret. */
void wh_world_new(struct whworld *w, const char *prefix);

/* Stops the receiver. */
void wh_world_end(struct whworld *w);

/* method path with token and a JSON body (NULL: none) against w's base; never NULL. */
struct http_resp *wh_call(const struct whworld *w, const char *method, const char *path, const char *token,
			  const char *json);

/*
 * POST /v1/webhooks as the owner for url and events (a JSON array's text):
 * must answer 201; the id into id, the secret shown once into secret, and
 * the receiver told to accept that secret (replacing any it held).
 */
void wh_subscribe(struct whworld *w, const char *url, const char *events, char *id, size_t id_len, char *secret,
		  size_t secret_len);

/* POST /v1/jobs/webhook-deliver as the owner: the HTTP status (200 when the run finished). */
long wh_run(const struct whworld *w);

/*
 * Runs the job (a poll of at most every 200 ms between runs) until the
 * receiver accepted at least n deliveries; false when deadline_ms passed.
 */
bool wh_deliver_until(struct whworld *w, size_t n, long deadline_ms);

/* A product with stock units received; its id into id. */
void wh_product(const struct whworld *w, const char *sku, int stock, char *id, size_t len);

/* stock:adjust of pid by delta as the owner; the status. */
long wh_adjust(const struct whworld *w, const char *pid, int delta);

/* An order of qty units of pid as the owner (201); its id into id, its number into number (may be NULL). */
void wh_order(const struct whworld *w, const char *pid, int qty, char *id, size_t len, char *number, size_t number_len);

/* POST /v1/orders/{id}:{verb} as the owner with json (NULL: none); the status. */
long wh_order_do(const struct whworld *w, const char *id, const char *verb, const char *json);

/* Delivery i of the receiver's log parsed: its body as JSON (caller puts), NULL when there is no i. */
json_object *wh_body(struct whworld *w, size_t i, struct whreceiver_delivery *d);

#endif
