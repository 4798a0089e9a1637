/*
 * fx_files: files of an organization — metadata in Firestore
 * (organizations/{org}/files/{id}) and bytes in Cloud Storage at
 * orgs/{org}/{kind}/{id}/{safeName}. Shared by the files group (uploads,
 * downloads) and the reports group (which stores its CSVs as files).
 *
 * Metadata and object never disagree for long: a file is written pending
 * first, then its object, then marked ready. If the object write fails the
 * pending document is deleted; if marking ready fails, the document stays
 * pending and the cleanup job (or :complete) settles it. Deleting removes
 * the object first (missing is fine), then the document.
 */
#ifndef FX_FILES_H
#define FX_FILES_H

#include "err.h"
#include "firestore.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#define FX_FILE_MAX_DIRECT (10u * 1024 * 1024) /* POST /v1/files body */
#define FX_FILE_MAX_SIGNED (100u * 1024 * 1024) /* :signUpload size */
#define FX_FILE_URL_SECONDS 900 /* signed URLs live 15 min */
#define FX_FILE_NAME_MAX 255

struct fx_req;

extern const char *const fx_file_kinds[]; /* product_image, document, report, upload */
extern const char *const fx_file_types[]; /* the Content-Type allowlist */

/* 400 naming field unless ctype is on the allowlist (parameters such as charset ignored). */
FX_MUST_USE int fx_file_check_type(const char *ctype, const char *field, struct fx_err *e);

/* 400 naming field unless a file of kind may hold ctype (product images are images). */
FX_MUST_USE int fx_file_check_kind_type(const char *kind, const char *ctype, const char *field, struct fx_err *e);

/* 400 when the first bytes of a file contradict its declared type (magic numbers; CSV must be UTF-8). */
FX_MUST_USE int fx_file_sniff(const char *ctype, const unsigned char *p, size_t n, struct fx_err *e);

/*
 * The object-safe form of a client's file name: the last path segment,
 * characters outside [A-Za-z0-9._-] replaced by '_', no leading dots,
 * at most 100 bytes keeping the extension, "file" when nothing is left.
 * 400 for a name that is empty, longer than 255 bytes or has control
 * characters.
 */
FX_MUST_USE int fx_file_safe_name(const char *name, const char *field, char *out, size_t len, struct fx_err *e);

/* Stores data as a new ready file of the caller's organization; out gets its document. */
FX_MUST_USE int fx_file_store(struct fx_req *r, const char *kind, const char *name, const char *ctype, const void *data,
			      size_t n, const char *product_id, struct fx_doc *out, struct fx_err *e);

/* The API JSON of a file document; with_url adds a 15-minute signed downloadUrl (ready files only). */
FX_MUST_USE json_object *fx_file_json(const struct fx_doc *doc, bool with_url, struct fx_err *e);

#endif
