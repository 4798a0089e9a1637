/*
 * contract: whether docs/openapi.yaml and the worker binaries' route tables
 * (`fluxori-GROUP --routes`, fx_worker_routes_json) say the same thing.
 *
 * For every route a worker serves, the document has an operation under the
 * same path (the route's pattern, verbatim) and method, and every operation
 * is a route, except one marked `x-served-by: nginx` (nginx answers it
 * itself) or `x-status: planned` (in the contract, not built yet; it must
 * then have no route). Each operation agrees with its route on:
 *   - `x-access`: the route's access (public, signed-in, member, job);
 *   - `x-min-role`: `public` or `signed-in` for those accesses, else the
 *     route's minimum role (viewer, staff, manager, admin, owner);
 *   - `security` (the operation's, else the document's): `[]` for public,
 *     firebaseIdToken alone for signed-in and member, firebaseIdToken or
 *     schedulerOidc for job;
 *   - `requestBody`: none when the route takes no body, exactly
 *     application/json for a JSON body, other media types only for a raw one;
 *   - path parameters: the pattern's {names}, each declared `in: path`,
 *     `required: true` (at the path or the operation; $refs to
 *     #/components/parameters and #/components/requestBodies are followed).
 *
 * Ownership: the caller keeps doc and the tables; nothing is retained.
 */
#ifndef OA_CONTRACT_H
#define OA_CONTRACT_H

#include "buf.h"

#include <json-c/json.h>
#include <stddef.h>

struct oa_stats {
	int routes; /* routes in the tables */
	int operations; /* operations in the document */
	int nginx; /* operations nginx serves itself */
	int planned; /* operations marked x-status: planned */
};

/*
 * Compares doc (the document as oa_yaml_parse reads it) with tables[0..n),
 * each one binary's --routes value. Appends one line per disagreement to
 * out ("METHOD /path: what", '\n'-terminated) and returns their number;
 * fills st. Returns -1 (a line in out) when doc has no `paths` mapping or
 * a table is not a route table.
 */
int oa_contract_check(json_object *doc, json_object *const *tables, size_t n, struct fx_buf *out, struct oa_stats *st);

#endif
