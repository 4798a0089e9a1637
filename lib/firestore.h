/*
 * fx_firestore: Firestore REST v1 over fx_httpc (get, create, commit,
 * delete, runQuery, batchGet, read-write transactions).
 * Ownership: everything these calls return (struct fx_doc contents, doc
 * arrays, names) belongs to the caller and is released with fx_firestore_doc_cleanup,
 * fx_firestore_docs_free or free, while every argument (paths, values, queries, json
 * writes, transaction ids) is only borrowed for the duration of the call.
 *
 * Paths are relative to the database's documents root
 * ("organizations/o1/products/p1"): segments separated by '/', each
 * non-empty valid UTF-8 of at most 1500 bytes, not "." or "..", not
 * __reserved__; a malformed path is a 400 INVALID_ARGUMENT naming "path".
 *
 * Errors keep Firestore's meaning visible: 404 NOT_FOUND; 409
 * ALREADY_EXISTS; 409 ABORTED (transaction contention); 409
 * FAILED_PRECONDITION (a stale updateTime precondition, or on queries a
 * missing index: handlers map If-Match mismatches to 412 themselves); 503
 * UNAVAILABLE with retry_after 1 when Firestore is unreachable, answers
 * UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, RESOURCE_EXHAUSTED or
 * CANCELLED, or refuses our credentials (PERMISSION_DENIED,
 * UNAUTHENTICATED); 500 INTERNAL when Firestore refuses a request as
 * malformed (INVALID_ARGUMENT: our bug); 502 UNAVAILABLE when its answer is malformed or
 * exceeds the response cap. The message names the call and carries
 * Firestore's text.
 *
 * Requests retry inside fx_httpc (5 attempts) as Google's retry config
 * says: get/batchGet/runQuery/delete/beginTransaction/rollback on transient
 * failures, create/commit only when nothing reached the backend. Reads
 * inside a transaction retry only when nothing reached the backend, so an
 * ABORTED reaches fx_firestore_run_transaction, which retries the whole
 * transaction. Everything is thread-safe; the only shared state is the
 * transaction retry lane (see fx_firestore_run_transaction).
 */
#ifndef FX_FIRESTORE_H
#define FX_FIRESTORE_H

#include "arena.h"
#include "err.h"
#include "fsquery.h"
#include "value.h"

#include <json-c/json.h>
#include <stddef.h>

/* JSON nesting accepted in Firestore answers: a 20-deep map needs 65 levels. */
#define FX_FS_JSON_DEPTH 96
/* Largest answer read from runQuery/batchGet; other calls stop at 8 MiB. */
#define FX_FS_MAX_RESPONSE (16u * 1024 * 1024)
/* Documents in one fx_firestore_batch_get. */
#define FX_FS_MAX_BATCH_GET 1000
/* Writes in one fx_firestore_commit. */
#define FX_FS_MAX_WRITES 500

/* Checks that Firestore answers (a read of a document that need not exist). */
FX_MUST_USE int fx_firestore_ping(struct fx_err *e);

/* A fetched document. fields is an FX_V_MAP value; everything owned by the struct. */
struct fx_doc {
	char *name; /* full resource name, NULL when the document is missing (batchGet) */
	const char *id; /* last path segment, points into name */
	struct fx_value fields;
	char create_time[40]; /* RFC 3339 as Firestore sent it */
	char update_time[40]; /* use as an updateTime precondition / etag source */
};

/* Frees what d owns and zeroes it. Accepts NULL and a zeroed struct. */
void fx_firestore_doc_cleanup(struct fx_doc *d);

/* Cleans up docs[0..n) and frees the array. Accepts NULL. */
void fx_firestore_docs_free(struct fx_doc *docs, size_t n);

/*
 * The full resource name "projects/P/databases/D/documents[/rel_path]" for
 * a path relative to the documents root ("" gives the root itself); the
 * path is not checked. Never NULL; the caller frees it.
 */
char *fx_firestore_name(const char *rel_path);

/*
 * Reads the document at rel_path into *out (overwritten; on failure left
 * zeroed). Returns 0, or -1 with 404 NOT_FOUND when it does not exist.
 */
FX_MUST_USE int fx_firestore_get(const char *rel_path, struct fx_doc *out, struct fx_err *e);

/*
 * fx_firestore_get reading only the fields named in mask (NULL-terminated field
 * paths, at most FX_QUERY_MAX_SELECT; NULL or empty reads every field):
 * Firestore's documents.get mask.fieldPaths, so fields outside it are
 * neither sent nor parsed. A masked path the document lacks is simply
 * absent from out->fields. 400 naming "mask" for a malformed path.
 */
FX_MUST_USE int fx_firestore_get_mask(const char *rel_path, const char *const *mask, struct fx_doc *out,
				      struct fx_err *e);

/*
 * Creates the document at rel_path (a client-chosen id) with fields (an
 * FX_V_MAP checked with fx_fsvalue_check_fields; NULL for none), as a commit with an
 * exists:false precondition. Returns 0 and, when out is not NULL, the new
 * document in *out: its name, a copy of fields as sent (Firestore keeps
 * timestamps to the microsecond only) and create_time = update_time = the
 * write's time. -1 with 409 ALREADY_EXISTS when it exists, 400 for a bad
 * path or value.
 */
FX_MUST_USE int fx_firestore_create(const char *rel_path, const struct fx_value *fields, struct fx_doc *out,
				    struct fx_err *e);

/*
 * Commits writes (a json array of at most FX_FS_MAX_WRITES Write objects
 * built with fswrite.h; borrowed) atomically, in order; transaction may be
 * NULL. commit_time (may be NULL) receives the commitTime; update_times
 * (may be NULL, n = number of writes) receives each writeResult's
 * updateTime ("" for a delete). Returns 0, or -1: 404 NOT_FOUND when an
 * exists:true precondition fails, 409 ALREADY_EXISTS for exists:false, 409
 * FAILED_PRECONDITION for a stale updateTime, 409 ABORTED on contention.
 */
FX_MUST_USE int fx_firestore_commit(json_object *writes, const char *transaction, char commit_time[40],
				    char (*update_times)[40], struct fx_err *e);

/* Deletes the document at rel_path; a missing document is not an error. */
FX_MUST_USE int fx_firestore_delete(const char *rel_path, struct fx_err *e);

/*
 * Runs q under parent_rel ("" = root collections, or a document path for
 * its subcollections), inside transaction when not NULL. Returns 0 with
 * *docs (a malloc'd array for fx_firestore_docs_free, NULL when *n is 0) and *n, or
 * -1 with *docs NULL and *n 0; 400 when fx_fsquery_build refuses q.
 */
FX_MUST_USE int fx_firestore_query(const char *parent_rel, const struct fx_query *q, const char *transaction,
				   struct fx_doc **docs, size_t *n, struct fx_err *e);

/*
 * fx_firestore_query whose documents' string values are lent from strings
 * (fx_fsdecode_stream_lend): the documents must be freed before strings is
 * reset, as a list answered within its request does with the request's
 * arena. NULL: copies.
 */
FX_MUST_USE int fx_firestore_query_lend(const char *parent_rel, const struct fx_query *q, const char *transaction,
					struct fx_arena *strings, struct fx_doc **docs, size_t *n, struct fx_err *e);

/*
 * Reads n (at most FX_FS_MAX_BATCH_GET) documents at once, inside
 * transaction when not NULL: out[i] (overwritten) corresponds to
 * rel_paths[i], a missing document has name NULL and an empty fields map;
 * a path may repeat. On failure out[0..n) is left zeroed.
 */
FX_MUST_USE int fx_firestore_batch_get(const char *const *rel_paths, size_t n, const char *transaction,
				       struct fx_doc *out, struct fx_err *e);

/* ---- transactions ---- */

#define FX_TXN_MAX_ATTEMPTS 5
#define FX_TXN_DEADLINE_MS 20000 /* no new attempt starts after this */
#define FX_TXN_INITIAL_BACKOFF_MS 50 /* then x1.5 per attempt, +-50 % jitter */

struct fx_txn {
	char id[512]; /* base64 transaction id (begun before fn runs), pass to batch_get/query */
	json_object *writes; /* append Write objects here (fswrite.h); committed with the transaction */
	int attempt; /* 0 on the first run */
};

/*
 * The body of a transaction: reads with t->id, appends writes to
 * t->writes. Returns 0, or -1 with e set. It may run several times, so it
 * must not have effects outside the transaction (or must undo them when
 * t->attempt grows).
 */
typedef int (*fx_txn_fn)(struct fx_txn *t, void *ctx, struct fx_err *e);

/*
 * Begins a read-write transaction, runs fn (reads must go through
 * fx_firestore_batch_get/fx_firestore_query with t->id: GET ?transaction= never answers
 * on the emulator), then commits t->writes. The transaction is begun on its
 * own, never in fn's first read: its id is then known before anything is
 * locked, so a transaction cut off by a fault can always be rolled back.
 * On ABORTED, from fn's reads or the commit, rolls back and runs
 * everything again after a backoff
 * (FX_TXN_INITIAL_BACKOFF_MS growing x1.5, +-50 % jitter) with
 * retryTransaction set to the previous id, at most FX_TXN_MAX_ATTEMPTS
 * times and never starting an attempt after FX_TXN_DEADLINE_MS. Retries
 * (not first attempts) run one at a time per process, through a lane
 * taken after the rollback and backoff: on the emulator every conflict
 * costs a 2 s lock timeout that lets about one transaction through, so
 * retrying side by side starves (4 of 20 racers got through, measured).
 * When fn returns -1 with any other error, or the commit fails otherwise,
 * rolls back and returns that error unchanged (fn returning -1 without
 * setting e gives 500 INTERNAL). Gives up with 409 ABORTED and
 * e->retry_after = FX_ERR_RETRY_AFTER_S. A rollback that does not arrive (Firestore
 * unreachable) is kept, in a table the container's worker processes share
 * (FLUXORI_METRICS_DIR/firestore.rollbacks), and sent again before the next
 * transaction of any of them: Firestore would otherwise hold that
 * transaction's locks until it has been idle for 60 s.
 */
FX_MUST_USE int fx_firestore_run_transaction(fx_txn_fn fn, void *ctx, struct fx_err *e);

/*
 * Reads n (at most FX_FS_MAX_BATCH_GET) documents inside t, as
 * fx_firestore_batch_get does with t->id, with only the fields named in mask
 * (NULL-terminated field paths, at most FX_QUERY_MAX_SELECT; NULL or empty
 * reads every field: documents are locked and versioned whole either way).
 * 400 naming "mask" for a malformed path.
 */
FX_MUST_USE int fx_firestore_txn_batch_get(struct fx_txn *t, const char *const *rel_paths, size_t n,
					   const char *const *mask, struct fx_doc *out, struct fx_err *e);

/* What the commit of a transaction answered. */
struct fx_txn_result {
	char commit_time[40];
	char (*update_times)[40]; /* writeResults[i].updateTime, one per write in order; malloc'd */
	size_t n; /* writes committed */
};

/* Frees what r holds and zeroes it. Accepts NULL and a zeroed struct. */
void fx_firestore_txn_result_cleanup(struct fx_txn_result *r);

/*
 * fx_firestore_run_transaction that gives back the commit's answer: res
 * (may be NULL; zeroed first, cleaned up by the caller) receives the commit
 * time and each write's updateTime of the attempt that committed.
 * Everything else (beginning first, backoff, the retry lane,
 * FX_TXN_MAX_ATTEMPTS, FX_TXN_DEADLINE_MS, rollbacks kept when they do not
 * arrive, errors) is fx_firestore_run_transaction's.
 */
FX_MUST_USE int fx_firestore_run_transaction_ex(fx_txn_fn fn, void *ctx, struct fx_txn_result *res, struct fx_err *e);

#endif
