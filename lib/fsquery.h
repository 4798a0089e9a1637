/*
 * fx_query: a pure builder (no I/O) for Firestore REST v1 StructuredQuery
 * JSON, producing what Google's clients send (conformance-tested). The
 * query owns copies of everything given to it; values are borrowed for the
 * call only; fx_fsquery_build returns a new json_object the caller puts.
 * Field paths are dotted with optional back-quoted segments (see
 * fx_fieldpath_parse); "__name__" is the document name.
 */
#ifndef FX_FSQUERY_H
#define FX_FSQUERY_H

#include "buf.h"
#include "err.h"
#include "value.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#define FX_QUERY_MAX_FILTERS 100
#define FX_QUERY_MAX_ORDERS 64
#define FX_QUERY_MAX_SELECT 1000
#define FX_QUERY_MAX_IN 30 /* values of in / array-contains-any */
#define FX_QUERY_MAX_NOT_IN 10

struct fx_query; /* opaque */

/* A query over collection_id (direct children of the parent, or every
 * collection of that id below it when all_descendants). Never NULL;
 * collection_id is checked by fx_fsquery_build. */
struct fx_query *fx_fsquery_new(const char *collection_id, bool all_descendants);

/* Frees the query; accepts NULL. */
void fx_fsquery_free(struct fx_query *q);

/*
 * Tells the query its runQuery parent ("projects/P/databases/D/documents"
 * or a document name). Optional; with it a string given for "__name__" (in
 * where or a cursor) is read as a document id and turned into a reference,
 * and cursor documents must lie in this parent. 400 for a malformed parent.
 */
FX_MUST_USE int fx_fsquery_parent(struct fx_query *q, const char *parent, struct fx_err *e);

/*
 * Adds a filter (several are ANDed). op is one of "==", "<", "<=", ">",
 * ">=", "!=", "in", "not-in", "array-contains", "array-contains-any". A null
 * or NaN value with "==" becomes the unary IS_NULL / IS_NAN filter, with
 * "!=" IS_NOT_NULL / IS_NOT_NAN; with other ops it is refused. "in",
 * "not-in" and "array-contains-any" take a non-empty FX_V_ARRAY (at most
 * FX_QUERY_MAX_IN, not-in FX_QUERY_MAX_NOT_IN values). 400 on a bad path,
 * op or value.
 */
FX_MUST_USE int fx_fsquery_where(struct fx_query *q, const char *field_path, const char *op, const struct fx_value *v,
				 struct fx_err *e);

/* fx_fsquery_where with the string s (NUL-terminated) as the value. */
FX_MUST_USE int fx_fsquery_where_str(struct fx_query *q, const char *field_path, const char *op, const char *s,
				     struct fx_err *e);

/* Appends an orderBy on field_path. */
FX_MUST_USE int fx_fsquery_order_by(struct fx_query *q, const char *field_path, bool descending, struct fx_err *e);

/* Sets the limit (the last call wins); n < 0 removes it. */
void fx_fsquery_limit(struct fx_query *q, int n);

/* Sets the offset (the last call wins); n <= 0 removes it. */
void fx_fsquery_offset(struct fx_query *q, int n);

/* Projection to paths[0..n) (the last call wins); n == 0 selects only __name__. */
FX_MUST_USE int fx_fsquery_select(struct fx_query *q, const char *const *paths, size_t n, struct fx_err *e);

enum fx_cursor { FX_CURSOR_START_AT, FX_CURSOR_START_AFTER, FX_CURSOR_END_AT, FX_CURSOR_END_BEFORE };

/*
 * Sets the start (START_AT/START_AFTER) or end (END_AT/END_BEFORE) cursor
 * from values[0..n) matching the orderBy list in order (the last call for
 * start or end wins). n must be at least 1; more values than orderBy
 * entries is refused by fx_fsquery_build. For "__name__" a reference, or with
 * fx_fsquery_parent a document id string.
 */
FX_MUST_USE int fx_fsquery_cursor(struct fx_query *q, enum fx_cursor which, const struct fx_value *values, size_t n,
				  struct fx_err *e);

/*
 * Sets a cursor from a document snapshot (doc_name and its fields map, as
 * clients do for startAfter(lastDoc)): fx_fsquery_build then adds the
 * implicit orderBy clients add (inequality-filter fields not yet ordered,
 * sorted, then __name__, all in the last explicit direction) and takes the
 * cursor values from the document. The document must belong to the
 * queried collection; a missing order field is refused at build.
 */
FX_MUST_USE int fx_fsquery_cursor_doc(struct fx_query *q, enum fx_cursor which, const char *doc_name,
				      const struct fx_value *fields, struct fx_err *e);

/* Shorthands for fx_fsquery_cursor. */
FX_MUST_USE int fx_fsquery_start_at(struct fx_query *q, const struct fx_value *values, size_t n, struct fx_err *e);
FX_MUST_USE int fx_fsquery_start_after(struct fx_query *q, const struct fx_value *values, size_t n, struct fx_err *e);
FX_MUST_USE int fx_fsquery_end_at(struct fx_query *q, const struct fx_value *values, size_t n, struct fx_err *e);
FX_MUST_USE int fx_fsquery_end_before(struct fx_query *q, const struct fx_value *values, size_t n, struct fx_err *e);

/*
 * The StructuredQuery JSON (the value of "structuredQuery" in a runQuery
 * body), or NULL with a 400 when the query is inconsistent (bad collection
 * id, more cursor values than orderBy entries, snapshot lacking an order
 * field, "__name__" string without a parent).
 */
FX_MUST_USE json_object *fx_fsquery_build(const struct fx_query *q, struct fx_err *e);

/* The most bytes of query text fx_fsquery_build writes (Firestore takes requests of up to 10 MiB). */
#define FX_FSQUERY_TEXT_MAX (16u << 20)

/*
 * The same StructuredQuery as JSON text appended to b (the text json-c
 * wrote of fx_fsquery_build's tree, byte for byte), without building a
 * tree: what a runQuery body is made of. 0, or -1 with b as it was and a
 * 400 in e (what fx_fsquery_build refuses, or b's cap reached).
 */
FX_MUST_USE int fx_fsquery_write(const struct fx_query *q, struct fx_buf *b, struct fx_err *e);

#endif
