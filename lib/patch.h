/*
 * fx_patch: the one way a PATCH handler writes (the redis setGenericCommand
 * of our PATCHes): compare If-Match with the version read, commit the
 * update guarded by a version, and name a lost race the way the contract
 * does. The handler decodes its fields, checks its own rules, calls these,
 * then answers (from what it read and wrote, or by reading again).
 * Ownership: every argument is borrowed; nothing is kept.
 */
#ifndef FX_PATCH_H
#define FX_PATCH_H

#include "err.h"
#include "firestore.h"
#include "fsvalue.h"

#include <json-c/json.h>

/* Whose version guards a commit: the client's If-Match, or the version this request read. */
enum fx_patch_guard {
	FX_PATCH_IF_MATCH, /* a change since: 412 FAILED_PRECONDITION "the <what> changed since that etag" */
	FX_PATCH_READ /* a change since: 409 ABORTED "the <what> changed while it was being updated: retry" */
};

/*
 * The If-Match check of a document read before writing: -1 with 412
 * FAILED_PRECONDITION "the <what> changed since that etag" when if_match
 * is given and is not doc's version; 0 otherwise (also without If-Match).
 */
FX_MUST_USE int fx_patch_if_match(const char *if_match, const struct fx_doc *doc, const char *what, struct fx_err *e);

/*
 * Commits writes (one fx_firestore_commit, no transaction). When a precondition
 * fails (409 FAILED_PRECONDITION: the guarded document changed or is gone)
 * e becomes what guard says, naming what ("order", "member"); other
 * failures are fx_firestore_commit's. 0 on success.
 */
FX_MUST_USE int fx_patch_commit(json_object *writes, enum fx_patch_guard guard, const char *what, struct fx_err *e);

/*
 * fx_patch_commit that also gives update_time, the commit's updateTime of
 * writes[at] (the version a read of that document shows next; "" for a
 * delete): the handler answers from what it wrote (fx_model_doc_updated)
 * instead of reading the document again.
 */
FX_MUST_USE int fx_patch_commit_at(json_object *writes, enum fx_patch_guard guard, const char *what, size_t at,
				   char update_time[40], struct fx_err *e);

/*
 * Commits the update of the fields of map named in mask (NULL-terminated)
 * of the document at path (relative to the documents root) guarded by
 * version (an update time; NULL: the document must exist), as
 * fx_patch_commit; a document that does not exist is fx_firestore_commit's 404
 * NOT_FOUND, not a lost race.
 */
FX_MUST_USE int fx_patch_write(const char *path, const struct fx_value *map, const char *const *mask,
			       const char *version, enum fx_patch_guard guard, const char *what, struct fx_err *e);

#endif
