/*
 * fx_outbox: work owed to the outside world because of a change (a stock
 * push to the channels a product is listed on; later, outbound events),
 * recorded as a document written in the same Firestore commit as the
 * change itself, so a crash between the change and its effect loses
 * nothing. Entries are only ever created here; the job that delivers them
 * reads them, acts, then deletes what it read (an exists precondition),
 * so a change after its read writes a new entry and is not lost.
 * Documents: organizations/{org}/outbox/{random id}
 * {kind, resource, at, payload?, organizationId}.
 * Ownership: every argument is borrowed; nothing is kept.
 */
#ifndef FX_OUTBOX_H
#define FX_OUTBOX_H

#include "err.h"

#include <json-c/json.h>

/* The kind of a channel stock push; resource is the product id. */
#define FX_OUTBOX_STOCK "stock"

/*
 * Appends to writes (a Firestore commit's writes array) the creation
 * (exists=false) of one outbox document organizations/{org}/outbox/{random
 * id} {kind, resource, at (commit time of the writer's clock), payload?
 * (plain JSON copied as a map; may be NULL), organizationId}. -1 with 400
 * INVALID_ARGUMENT when org, kind or resource is empty or not a valid id
 * (org, resource: fx_model_id_valid), or payload is not a JSON object or
 * does not convert; writes is then unchanged.
 */
FX_MUST_USE int fx_outbox_add(json_object *writes, const char *org, const char *kind, const char *resource,
			      json_object *payload, struct fx_err *e);

#endif
