/*
 * fx_idempotency: Idempotency-Key for POST routes. The first request with a
 * key stores its answer in a key document written in the same Firestore
 * commit as its effects; a retry with the same key and body gets that
 * answer back and changes nothing, another body gets 409 ALREADY_EXISTS.
 * Keys live 24 h (expired ones count as absent; the cleanup job deletes
 * them). Key documents: organizations/{org}/idempotency/{sha256(scope,key)}.
 */
#ifndef FX_IDEMPOTENCY_H
#define FX_IDEMPOTENCY_H

#include "err.h"
#include "firestore.h"

#include <json-c/json.h>

#define FX_IDEMPOTENCY_TTL (24 * 3600)

struct fx_req;

struct fx_idem {
	const char *rel; /* tenant path of the key document; NULL without a key */
	char request_hash[65];
	int status; /* a replayed answer's status, 0 when none */
	json_object *answer; /* a replayed answer (owned: fx_idempotency_cleanup) */
};

/*
 * Reads the request's Idempotency-Key for scope (the operation, e.g.
 * "orders.create"); subject joins the body in the request hash (e.g. the
 * product id). 400 for a key that is empty or longer than 255.
 */
FX_MUST_USE int fx_idempotency_init(struct fx_req *r, const char *scope, const char *subject, struct fx_idem *k,
				    struct fx_err *e);

/* Frees a replayed answer. */
void fx_idempotency_cleanup(struct fx_idem *k);

/*
 * Given the key document as read in the transaction (doc->name NULL when
 * missing): 1 when k now holds a stored answer to replay, 0 when the
 * request must run, -1 with 409 when the key was used with another body.
 */
FX_MUST_USE int fx_idempotency_check(struct fx_idem *k, const struct fx_doc *doc, struct fx_err *e);

/* Appends the write that stores status and answer under the key to writes. */
FX_MUST_USE int fx_idempotency_store(const struct fx_req *r, const struct fx_idem *k, json_object *writes, int status,
				     json_object *answer, struct fx_err *e);

#endif
