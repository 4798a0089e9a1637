/*
 * fx_write: pure builders (no I/O) for Firestore REST v1 Write objects, the
 * elements of a commit request's "writes" array, shaped as Google's clients
 * send them. Each builder appends one Write to writes (a json array the
 * caller owns; borrowed) and returns 0, or returns -1 with a 400
 * INVALID_ARGUMENT and leaves writes unchanged. Values are borrowed and
 * copied into the JSON.
 *
 * Field paths are dotted ("stock.onHand"); a segment that is not a plain
 * name may be back-quoted ("tags.`a.b`"), see fx_fieldpath_parse.
 */
#ifndef FX_FSWRITE_H
#define FX_FSWRITE_H

#include "err.h"
#include "fsquery.h" /* the query builder, so one include gives every request builder */
#include "value.h"

#include <json-c/json.h>

#define FX_WRITE_MAX_PATHS 500 /* mask paths or transforms in one write */

/*
 * create: the document with fields_map (NULL for no fields) and the
 * precondition currentDocument.exists=false; each of server_ts_paths
 * (NULL-terminated, or NULL) becomes a setToServerValue REQUEST_TIME entry
 * in updateTransforms. A transform path may not also hold a value in
 * fields_map, sit below a non-map value there, or overlap another transform
 * path.
 */
FX_MUST_USE int fx_fswrite_create(json_object *writes, const char *doc_name, const struct fx_value *fields_map,
				  const char *const *server_ts_paths, struct fx_err *e);

/* set: like create without a precondition (creates or replaces the whole document). */
FX_MUST_USE int fx_fswrite_set(json_object *writes, const char *doc_name, const struct fx_value *fields_map,
			       const char *const *server_ts_paths, struct fx_err *e);

/*
 * update: writes the fields named by mask_paths (NULL-terminated); a mask
 * path with no value in fields_map deletes that field. Every value in
 * fields_map must lie under a mask path (refused otherwise, so nothing is
 * silently left out); mask paths may not repeat or be prefixes of one
 * another. Precondition currentDocument.updateTime when
 * update_time_precondition (RFC 3339) is given, else exists=true. At least
 * one mask path or server timestamp path is required. The mask is sent
 * sorted, as clients do.
 */
FX_MUST_USE int fx_fswrite_update(json_object *writes, const char *doc_name, const struct fx_value *fields_map,
				  const char *const *mask_paths, const char *update_time_precondition,
				  const char *const *server_ts_paths, struct fx_err *e);

/*
 * delete with a precondition: exists -1 (none), 0 or 1, or update_time
 * (RFC 3339, then exists must be -1).
 */
FX_MUST_USE int fx_fswrite_delete(json_object *writes, const char *doc_name, int exists, const char *update_time,
				  struct fx_err *e);

/* A transform write adding by to the integer (or double) at field_path. */
FX_MUST_USE int fx_fswrite_increment(json_object *writes, const char *doc_name, const char *field_path, int64_t by,
				     struct fx_err *e);

/* ---- general form ---- */

enum fx_transform_op {
	FX_TR_SERVER_TIME, /* setToServerValue REQUEST_TIME; operand NULL */
	FX_TR_INCREMENT, /* operand FX_V_INT or FX_V_DOUBLE */
	FX_TR_MAXIMUM,
	FX_TR_MINIMUM,
	FX_TR_ARRAY_UNION, /* appendMissingElements; operand FX_V_ARRAY */
	FX_TR_ARRAY_REMOVE /* removeAllFromArray; operand FX_V_ARRAY */
};

struct fx_transform {
	const char *path;
	enum fx_transform_op op;
	const struct fx_value *operand; /* borrowed */
};

enum fx_write_kind {
	FX_WRITE_CREATE, /* exists=false; mask_paths and update_time must be NULL */
	FX_WRITE_SET, /* no precondition; with mask_paths it only writes those paths (merge) */
	FX_WRITE_UPDATE /* exists=true or updateTime; mask_paths as fx_fswrite_update */
};

/*
 * The one builder behind create/set/update: an update Write for doc_name
 * with fields_map, an updateMask from mask_paths (NULL: none), the kind's
 * precondition and transforms[0..ntransforms) as updateTransforms in the
 * given order. Rules as described above for each kind.
 */
FX_MUST_USE int fx_fswrite_doc(json_object *writes, enum fx_write_kind kind, const char *doc_name,
			       const struct fx_value *fields_map, const char *const *mask_paths,
			       const char *update_time, const struct fx_transform *transforms, size_t ntransforms,
			       struct fx_err *e);

/* A transform-only Write ({"transform": {"document", "fieldTransforms"}}); ntransforms >= 1. */
FX_MUST_USE int fx_fswrite_transform(json_object *writes, const char *doc_name, const struct fx_transform *transforms,
				     size_t ntransforms, struct fx_err *e);

#endif
