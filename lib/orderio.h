/*
 * fx_orderio: the reads and writes of orders inside a Firestore
 * transaction, shared by the orders group (handlers/orders.c: POST
 * /v1/orders and the lifecycle methods) and channel orders (lib/chanorder):
 * one home for the order numbers, the stock effects of a lifecycle step,
 * the status write and the allocation of oversold lines. The rules
 * themselves are lib/order's; this module only reads and writes around
 * them. Documents below organizations/{org} (reached through lib/tenant,
 * so r names the organization and the actor): orders/{id},
 * counters/orders {next}, products/{id} and their movements.
 * Ownership: every argument is borrowed; paths returned are r's arena.
 */
#ifndef FX_ORDERIO_H
#define FX_ORDERIO_H

#include "err.h"
#include "firestore.h"
#include "order.h"
#include "value.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

struct fx_req;

/* Lines an order holds at most (what one transaction reads of products). */
#define FX_ORDERIO_MAX_LINES 100

/*
 * Runs fn(arg) in a Firestore transaction queued on the organization's
 * order lock: numbering (one counter per organization) and stock changes
 * of orders go one at a time inside a worker instead of aborting each
 * other. A queue that does not move in 20 s is 409 ABORTED with
 * Retry-After, naming busy ("orders", "order changes"). Correctness never
 * rests on the lock: every write carries a precondition.
 */
FX_MUST_USE int fx_orderio_queued(const struct fx_req *r, fx_txn_fn fn, void *arg, const char *busy, struct fx_err *e);

/*
 * fx_orderio_queued with the wait for the lock bounded by wait_ms (0: the
 * usual 20 s) and busy_code (with Retry-After) when it does not come: a
 * channel webhook, which the channel gives 5 s, waits about 3 s and answers
 * 503 UNAVAILABLE so the channel delivers again later.
 */
FX_MUST_USE int fx_orderio_queued_within(const struct fx_req *r, fx_txn_fn fn, void *arg, const char *busy,
					 long wait_ms, enum fx_code busy_code, struct fx_err *e);

/*
 * fx_orderio_queued through fx_firestore_run_transaction_ex: res (may be
 * NULL; fx_firestore_txn_result_cleanup) receives the commit's answer.
 */
FX_MUST_USE int fx_orderio_queued_ex(const struct fx_req *r, fx_txn_fn fn, void *arg, const char *busy,
				     struct fx_txn_result *res, struct fx_err *e);

/* "organizations/{org}/counters/orders" in r's arena; NULL with 500 when the arena is spent. */
FX_MUST_USE const char *fx_orderio_counter_rel(const struct fx_req *r, struct fx_err *e);

/*
 * Takes the next order number ("FX-000001") from the counter document
 * (rel, as read in the transaction into counter; a missing one starts at
 * 1) into number and appends the counter's write to writes, carrying the
 * read's version: two orders can never share a number, and numbers have
 * no gaps because the counter commits with the order.
 */
FX_MUST_USE int fx_orderio_take_number(const struct fx_req *r, json_object *writes, const char *rel,
				       const struct fx_doc *counter, char *number, size_t size, struct fx_err *e);

/* Appends a statusHistory entry {status, at: now, by, note_key?: note} to arr (FX_V_ARRAY). */
void fx_orderio_history(struct fx_value *arr, const char *status, const char *by, const char *note_key,
			const char *note);

/*
 * Reads in t the products of order's lines and appends, once per product,
 * effect applied to the units its lines hold (fx_order_line_held: quantity
 * less backorderedQuantity) with the stock write (lib/stock: guarded by the
 * version read, outbox entry when listed) and, for ship and restock, a
 * movement naming the order. Lines without a productId (channel lines no
 * listing or SKU matched) and products gone or of another organization are
 * skipped: nothing was reserved for them. More than FX_ORDERIO_MAX_LINES
 * lines: 500 INTERNAL.
 */
FX_MUST_USE int fx_orderio_apply_stock(const struct fx_req *r, struct fx_txn *t, const struct fx_doc *order,
				       enum fx_order_effect effect, struct fx_err *e);

/*
 * Appends the update of order (at rel, as read) to its new status: steps
 * (NULL-terminated, at least one) are appended to statusHistory in order
 * and the last becomes status; extra (FX_V_MAP of at most 6 fields, may be
 * NULL) is written beside it, note_key/note (may be NULL) recorded in each
 * history entry. Guarded by the version read. The webhook event
 * order.updated (fx_orderio_event_updated) commits with it. The order's
 * write is appended first. after (may be NULL; cleaned up first, then the
 * caller's to clean up) receives the order as a read returns it once these
 * writes commit (fx_model_doc_updated), but with the version read: its
 * update_time is the commit's for that write.
 */
FX_MUST_USE int fx_orderio_write_status(const struct fx_req *r, json_object *writes, const char *rel,
					const struct fx_doc *order, const char *const *steps,
					const struct fx_value *extra, const char *note_key, const char *note,
					struct fx_doc *after, struct fx_err *e);

/*
 * Appends the webhook event order.created (lib/webhook) of the order id
 * whose fields (as created in the same writes) are order: its data is the
 * order as the API shows it. Every order creation calls it, so the event
 * commits with the order.
 */
FX_MUST_USE int fx_orderio_event_created(const struct fx_req *r, json_object *writes, const char *id,
					 const struct fx_value *order, struct fx_err *e);

/*
 * Appends the webhook event order.updated of order (as read, and written
 * in the same writes with a precondition on that version, which orders the
 * event): data {id, number, channel, channelId?, externalId?, status (the
 * new one; NULL: unchanged), previousStatus, changed (the fields written,
 * updatedAt left out; NULL: ["status"])}.
 */
FX_MUST_USE int fx_orderio_event_updated(const struct fx_req *r, json_object *writes, const struct fx_doc *order,
					 const char *status, const char *const *changed, struct fx_err *e);

/*
 * Reserves in t, for every line of order (read in t at rel) that lacks
 * units, what its product now has available (fx_order_allocatable, lines
 * of one product served in order), and appends the stock writes (no
 * movements: onHand does not change; outbox through lib/stock) and the
 * order's new items (backorderedQuantity lowered), oversold (false once no
 * line lacks units) and updatedAt, guarded by the version read. *taken
 * receives the units reserved; 0 writes nothing. The order's status is the
 * caller's to check. after (may be NULL) as fx_orderio_write_status's, and
 * *at (may be NULL) the index in t->writes of the order's write: when
 * *taken is 0, after is a copy of order and *at is not set.
 */
FX_MUST_USE int fx_orderio_allocate(const struct fx_req *r, struct fx_txn *t, const char *rel,
				    const struct fx_doc *order, int64_t *taken, struct fx_doc *after, size_t *at,
				    struct fx_err *e);

/*
 * Inside t, resolves the open (or acknowledged) "oversold" insights raised
 * for order (as read in t: id and items), one per product of its lines,
 * and releases their insightKeys, each at the version read: once the order
 * lacks nothing (allocated, cancelled) the merchant has nothing left to do.
 * Another order's insight, or a closed one, is left alone. Firestore's errors.
 */
FX_MUST_USE int fx_orderio_resolve_oversold(const struct fx_req *r, struct fx_txn *t, const struct fx_doc *order,
					    struct fx_err *e);

#endif
