/*
 * audit: an organization's stored state read straight from the Firestore
 * emulator's REST API (not through the API under test), and the invariants
 * that must hold between its documents whatever happened to the requests
 * that wrote them: stock against movements and open orders, order numbers
 * against the counter, idempotency records against what they made. JSON
 * returned here is owned by the caller (json_object_put).
 */
#ifndef FX_TEST_AUDIT_H
#define FX_TEST_AUDIT_H

#include <json-c/json.h>
#include <time.h>

/*
 * The document at rel (below .../documents/) as {"id", "fields"} with the
 * fields as plain JSON ({"stock":{"onHand":10}}); NULL when it does not
 * exist. Fails the test on any other answer.
 */
json_object *fs_read(const char *rel);

/* Every document of the collection at rel, all pages, each as fs_read gives it. */
json_object *fs_list(const char *rel);

/*
 * Writes fields (Firestore's typed JSON object, e.g. {"status":{"stringValue":"failed"}}) into
 * the document at rel, only the fields named in masks (NULL-terminated; NULL: the whole
 * document), as another writer would. Fails the test unless the emulator answers 200.
 */
void fs_write_fields(const char *rel, const char *const *masks, const char *fields);

/*
 * Sets the timestamp field of the document at rel to t (Unix seconds, UTC),
 * only that field, as another writer would: how a test moves a document
 * through time (a delivery's age, a secret's expiry) without waiting.
 */
void fs_write_time(const char *rel, const char *field, time_t t);

/* A timestamp field of a plain document as Unix seconds; -1 when missing or not a timestamp. */
long long fs_time(json_object *doc, const char *dotted);

/* A value at a dotted path of a plain document's fields, or NULL. */
json_object *fs_field(json_object *doc, const char *dotted);
long long fs_int(json_object *doc, const char *dotted); /* -1 when missing */
const char *fs_str(json_object *doc, const char *dotted); /* NULL when missing */

struct audit {
	int products;
	int orders; /* all of them */
	int open_orders; /* pending or confirmed: they hold reservations */
	int movements;
	int order_keys; /* idempotency records of POST /v1/orders */
	int adjust_keys; /* idempotency records of stock:adjust */
	long long on_hand; /* summed over the products */
	long long reserved;
};

/*
 * Checks organizations/{org} and fails the test naming the first broken
 * invariant:
 *   - every product: onHand = the sum of its movements' deltas, reserved =
 *     the quantities of its lines in open orders, available = onHand -
 *     reserved, 0 <= reserved <= onHand;
 *   - order numbers are FX-000001..FX-N, each once, and the counter's next
 *     is N + 1;
 *   - every idempotency record names what it made, and it exists as
 *     recorded: an order (same id and number), or a movement (same delta);
 *     no two records name the same order.
 * Fills out with what it counted.
 */
void audit_org(const char *org, struct audit *out);

#endif
