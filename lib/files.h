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

#include "buf.h"
#include "err.h"
#include "firestore.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FX_FILE_MAX_DIRECT (10u * 1024 * 1024) /* POST /v1/files body */
#define FX_FILE_MAX_SIGNED (100u * 1024 * 1024) /* :signUpload size */
#define FX_FILE_URL_SECONDS 900 /* signed URLs live 15 min */
#define FX_FILE_NAME_MAX 255 /* bytes of a file name */
#define FX_FILE_TYPE_MAX 127 /* bytes of a content type as given, parameters included */
#define FX_FILE_DISPOSITION_MAX 1200 /* bytes of fx_files_disposition's answer */

struct fx_req;

extern const char *const fx_file_kinds[]; /* product_image, document, report, upload */
extern const char *const fx_file_types[]; /* the Content-Type allowlist, lower case */
extern const char *const fx_file_hidden[]; /* fields of a file document never shown to clients */

/*
 * Checks a content type against RFC 9110's media-type grammar (ASCII:
 * token "/" token, then parameters: OWS ";" OWS token "=" (token or
 * quoted-string), OWS around the whole allowed) and the allowlist, type
 * and subtype compared case-insensitively. The only parameter taken is
 * charset=utf-8 on text/csv (what CSV must be anyway); it is not kept.
 * On success *canon points at the allowlist's own lower-case entry, the
 * only form that is stored, signed or sent. Errors: 400
 * INVALID_ARGUMENT naming field when ctype is missing, longer than
 * FX_FILE_TYPE_MAX bytes, not ASCII or has control characters, does not
 * parse, or has another parameter; a well-formed type off the allowlist
 * is a 415 when unlisted is 415 (the request's own Content-Type), else
 * a 400 naming field.
 */
FX_MUST_USE int fx_files_check_type(const char *ctype, const char *field, int unlisted, const char **canon,
				    struct fx_err *e);

/* 400 naming field unless a file of kind may hold ctype (product images are images). */
FX_MUST_USE int fx_files_check_kind_type(const char *kind, const char *ctype, const char *field, struct fx_err *e);

/*
 * 400 when the first n bytes of a file contradict its type, an allowlist
 * entry (magic numbers; CSV must be UTF-8 without NUL). With prefix, p is
 * only the start of a longer file: a UTF-8 character cut short by the
 * end of p is accepted (invalid bytes are not).
 */
FX_MUST_USE int fx_files_sniff(const char *ctype, const unsigned char *p, size_t n, bool prefix, struct fx_err *e);

/*
 * The base name of a client's file name, as a browser sends it: what
 * follows the last '/' or '\' (so no separator and no ".." segment
 * survives). *base points into name. 400 naming field when name is
 * empty, longer than FX_FILE_NAME_MAX bytes, not UTF-8 or has control
 * characters, or when its base name is empty or only dots ("." or "..").
 */
FX_MUST_USE int fx_files_base_name(const char *name, const char *field, const char **base, struct fx_err *e);

/*
 * The object-safe form of a client's file name: the last path segment,
 * characters outside [A-Za-z0-9._-] replaced by '_', no leading dots,
 * at most 100 bytes keeping the extension, "file" when nothing is left.
 * 400 for a name that is empty, longer than 255 bytes or has control
 * characters.
 */
FX_MUST_USE int fx_files_safe_name(const char *name, const char *field, char *out, size_t len, struct fx_err *e);

/*
 * The Content-Disposition of a download of a file called name, into out
 * (reset first): attachment; filename="<ASCII>"; filename*=UTF-8''<name
 * percent-encoded> (RFC 6266, RFC 8187). Safe for any stored string,
 * also one stored before names were checked: only what follows the last
 * '/' or '\' counts, cut to FX_FILE_NAME_MAX bytes, control characters
 * become '_', and a name left empty or only dots becomes "file". The
 * ASCII form keeps letters, digits, space and -_.,()[]+!#$&'@~ and has
 * one '_' for any other character; filename* encodes every byte but
 * A-Za-z0-9-._~ and is left out when the name is not UTF-8. Returns 0,
 * or -1 when the result outgrows out's cap (FX_FILE_DISPOSITION_MAX is
 * enough).
 */
FX_MUST_USE int fx_files_disposition(const char *name, struct fx_buf *out);

/* What a new file's document records besides who made it and when (fx_files_record). */
struct fx_file_meta {
	const char *kind; /* an fx_file_kinds entry */
	const char *name; /* the base name (fx_files_base_name) */
	const char *content_type; /* the allowlist entry (fx_files_check_type) */
	int64_t size; /* bytes */
	const char *sha256; /* hex SHA-256 of bytes already in hand, or NULL */
	const char *declared_sha256; /* hex SHA-256 a signed upload declared, or NULL */
	const char *product_id; /* the product an image belongs to, or NULL */
	const char *object; /* its Cloud Storage object name */
};

/*
 * The fields of the document of a new pending file of r's organization,
 * into fields (an empty FX_V_MAP the caller owns and cleans up): kind,
 * name, contentType, size, then sha256, productId and declaredSha256 where
 * m has them, status "pending", object, createdBy (r's principal's uid),
 * organizationId (fx_tenant_stamp), createdAt and updatedAt (now). The one
 * place a file record is built: direct uploads (fx_files_store) and signed
 * ones (the files group's :signUpload) both write it. Cannot fail; r must
 * have a principal with an organization.
 */
void fx_files_record(const struct fx_req *r, const struct fx_file_meta *m, struct fx_value *fields);

/*
 * Stores data as a new ready file of the caller's organization; out gets
 * its document. name is reduced to its base name and ctype to its
 * allowlist entry (fx_files_base_name, fx_files_check_type: a 400 naming
 * "X-File-Name" or "Content-Type" otherwise).
 */
FX_MUST_USE int fx_files_store(struct fx_req *r, const char *kind, const char *name, const char *ctype,
			       const void *data, size_t n, const char *product_id, struct fx_doc *out,
			       struct fx_err *e);

/* The API JSON of a file document; with_url adds a 15-minute signed downloadUrl (ready files only). */
FX_MUST_USE json_object *fx_files_json(const struct fx_doc *doc, bool with_url, struct fx_err *e);

#endif
