/*
 * fx_model: what every resource shares — ids, etags, timestamps, and the
 * mapping of a Firestore document to the API's JSON. Returned json_object
 * values are new references the caller puts.
 */
#ifndef FX_MODEL_H
#define FX_MODEL_H

#include "buf.h"
#include "err.h"
#include "firestore.h"
#include "value.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#define FX_ID_LEN 20

struct fx_req;

/* A new random id of FX_ID_LEN characters [A-Za-z0-9] (as Firestore's auto ids). */
void fx_model_id_new(char out[FX_ID_LEN + 1]);

/* True when s is an acceptable resource id: 1..128 of [A-Za-z0-9_-]. */
bool fx_model_id_valid(const char *s);

/*
 * The id of a SKU's index document (skus/{id}, one per SKU of an
 * organization): "s_" and the SKU with ASCII letters lower-cased (SKUs are
 * unique case-insensitively), every byte outside [a-z0-9_-] escaped: '.'
 * as 'D', any other byte as 'X' and its two upper-case hex digits.
 * Upper-case letters occur only in escapes, so the id is reversible
 * (fx_model_sku_id_decode), never '.', '..' or a path, and ids of SKUs without
 * '.' are those written before dots were allowed. A SKU the contract
 * allows (1 to 64 of [A-Za-z0-9._-]) gives at most 66 characters, a valid
 * resource id. -1 for an empty SKU or when out (len bytes) cannot hold it.
 */
FX_MUST_USE int fx_model_sku_id(const char *sku, char *out, size_t len);

/*
 * The lower-cased SKU an id of fx_model_sku_id stands for, into out (len bytes).
 * -1 when id is not exactly what fx_model_sku_id makes or out is too small.
 */
FX_MUST_USE int fx_model_sku_id_decode(const char *id, char *out, size_t len);

/* The etag of a document: its update time, quoted. 0, or -1 ("") when out (48 bytes do) is too small. */
FX_MUST_USE int fx_model_etag(const struct fx_doc *d, char *out, size_t len);

/*
 * The update time a request's If-Match names, or NULL when it sent none.
 * A malformed or weak If-Match is 412 (it can never match).
 */
FX_MUST_USE int fx_model_if_match(const struct fx_req *r, const char **update_time, struct fx_err *e);

/*
 * The API JSON of a document: id, its fields as plain JSON by name (bytewise,
 * whatever order Firestore returned them in) without the names in hidden
 * (NULL-terminated, top-level), and etag.
 */
json_object *fx_model_doc_json(const struct fx_doc *d, const char *const *hidden);

/*
 * Makes doc (as read, whole: not through a field mask) what a read returns
 * once the update of the fields of map named in mask (top-level names,
 * NULL-terminated, as fx_fswrite_update takes them) has committed with
 * update_time: each masked field becomes a copy of map's, or is removed when
 * map has none (as Firestore removes it), and update_time becomes doc's.
 * Answers show fields by name (fx_model_doc_json), so where Firestore puts
 * the fields it rewrote does not change the answer. Only for writes whose
 * values are what is stored (no server transforms). update_time NULL
 * leaves doc's as it is, for the caller to set once the commit has answered.
 * -1 with 500 INTERNAL for a dotted mask path, or an update_time that does not fit.
 */
FX_MUST_USE int fx_model_doc_updated(struct fx_doc *doc, const struct fx_value *map, const char *const *mask,
				     const char *update_time, struct fx_err *e);

/* The most mask paths of a write fx_model_doc_written applies. */
#define FX_MODEL_WRITTEN_MAX 64

/*
 * fx_model_doc_updated with the Write object write (lib/fswrite, as sent in
 * a commit) of doc: its update's fields and updateMask (update_time left as
 * it is). 1, doc unchanged, for a write it cannot tell the result of (not a
 * masked update, server transforms, nested or quoted paths, more than
 * FX_MODEL_WRITTEN_MAX paths): the caller reads the document instead. -1
 * with e when the write's fields do not decode.
 */
FX_MUST_USE int fx_model_doc_written(struct fx_doc *doc, json_object *write, struct fx_err *e);

/* Keeps only the top-level fields of doc named in mask (NULL-terminated): what a read with that mask returns. */
void fx_model_doc_select(struct fx_doc *doc, const char *const *mask);

/* The most bytes an answer written directly (fx_model_doc_write) may take. */
#define FX_MODEL_ANSWER_MAX (64u << 20)

/*
 * Appends fx_json_text(fx_model_doc_json(d, hidden)) to b, byte for byte, written
 * directly (fx_plain_write) rather than through a json-c tree. Returns 0, or
 * -1 when b's cap would be exceeded.
 */
FX_MUST_USE int fx_model_doc_write(struct fx_buf *b, const struct fx_doc *d, const char *const *hidden);

/* Current time as a Firestore timestamp value in map[name]. */
void fx_model_map_set_now(struct fx_value *map, const char *name);

/*
 * Sets map[name] from plain JSON; the value is copied. What the conversion
 * refuses (fx_plain_decode) is a 400 naming field, the API's name of the
 * value, or a path below it.
 */
FX_MUST_USE int fx_model_map_set_plain(struct fx_value *map, const char *name, json_object *plain, const char *field,
				       struct fx_err *e);

/* Sends doc as fx_model_doc_json(doc, hidden) with status. */
FX_MUST_USE int fx_model_resp_doc(struct fx_req *r, int status, const struct fx_doc *doc, const char *const *hidden);

/* Sends 201 with Location for a created document. */
FX_MUST_USE int fx_model_resp_created(struct fx_req *r, const char *location, json_object *body);

/*
 * Validates a postal address object (line1, line2?, suburb?, city,
 * province, postalCode, country?) into out (FX_V_MAP). country defaults to
 * ZA; in ZA the province must be one of the nine and the postal code four
 * digits. field prefixes error details ("shippingAddress").
 */
FX_MUST_USE int fx_model_address_decode(json_object *in, const char *field, struct fx_value *out, struct fx_err *e);

/* Optional bounded string field copied into map when present (null clears to absent). */
FX_MUST_USE int fx_model_map_take_string(struct fx_value *map, json_object *in, const char *key, const char *field,
					 bool required, size_t min_len, size_t max_len, struct fx_err *e);

/* API.md "lists": ?pageSize= default 50, max 200. */
#define FX_PAGE_SIZE_DEFAULT 50
#define FX_PAGE_SIZE_MAX 200

/* ?pageSize= (default FX_PAGE_SIZE_DEFAULT, 1..FX_PAGE_SIZE_MAX, else 400). */
FX_MUST_USE int fx_model_page_size(const struct fx_req *r, int *out, struct fx_err *e);

/*
 * Opaque page tokens: the cursor values of the last item of a page, tied to
 * the query that made them by sig (any string naming the query's filters
 * and order). fx_model_page_token_make appends the token to out;
 * fx_model_page_token_read fills values (an FX_V_ARRAY) or answers 400 when the
 * token is malformed or belongs to another query.
 */
FX_MUST_USE int fx_model_page_token_make(const char *sig, const struct fx_value *values, size_t n, struct fx_buf *out);
FX_MUST_USE int fx_model_page_token_read(const char *token, const char *sig, struct fx_value *values, struct fx_err *e);

/*
 * The token of the page after the one ending with last, appended to out
 * (fx_model_page_token_make): the values of cursor_fields (NULL-terminated,
 * at most 7; a field last lacks counts as null), then last's id. Returns 0,
 * or -1 with 500 INTERNAL when the token does not fit out (without a token
 * the client would take the page for the last).
 */
FX_MUST_USE int fx_model_page_token_next(const char *sig, const struct fx_doc *last, const char *const *cursor_fields,
					 struct fx_buf *out, struct fx_err *e);

/*
 * Runs q (limit pageSize + 1) under parent_rel, answers
 * {"data":[...],"nextPageToken"} with each document through fx_model_doc_json
 * minus hidden; cursor_fields names the order fields whose values (then the
 * document id) make the next page's token. The query must order by those
 * fields then __name__, and carry the page token's cursor already.
 */
FX_MUST_USE int fx_model_list_answer(struct fx_req *r, const char *parent_rel, struct fx_query *q, int page_size,
				     const char *sig, const char *const *cursor_fields, const char *const *hidden,
				     struct fx_err *e);

/* Applies ?pageToken= to q as a START_AFTER cursor (values then the id as __name__). */
FX_MUST_USE int fx_model_list_cursor(struct fx_req *r, struct fx_query *q, const char *sig, struct fx_err *e);

/*
 * The end every list handler shares: orders q by field then __name__ (both
 * descending or both ascending), applies ?pageToken= (fx_model_list_cursor) and
 * answers the page (fx_model_list_answer; cursor_fields starts with field). q
 * stays the caller's.
 */
FX_MUST_USE int fx_model_list_ordered(struct fx_req *r, const char *parent_rel, struct fx_query *q, const char *field,
				      bool descending, int page_size, const char *sig, const char *const *cursor_fields,
				      const char *const *hidden, struct fx_err *e);

/*
 * A bounded scan: reads every document of q under parent_rel page by page
 * through a START_AFTER cursor, at most max documents. q carries the
 * caller's filters, order (order_field, if any, then __name__) and select;
 * the scan sets its limit and cursor. Each page goes to page(ctx, docs, n,
 * e), which may take the documents' contents (the scan has read the cursor
 * already); its -1 ends the scan. More than max documents ends the scan with
 * over(ctx, e), which sets e; nothing past max + 1 is read.
 */
struct fx_scan {
	const char *parent_rel;
	struct fx_query *q;
	const char *order_field; /* the cursor: its value then the id; NULL: the id only */
	int page_size; /* documents per query, > 0 */
	size_t max;
	int (*page)(void *ctx, struct fx_doc *docs, size_t n, struct fx_err *e);
	int (*over)(void *ctx, struct fx_err *e);
	void *ctx;
};

/* Runs sc to the end: 0, or -1 with e set (by the read, page or over). */
FX_MUST_USE int fx_model_scan_run(const struct fx_scan *sc, struct fx_err *e);
#endif
