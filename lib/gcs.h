/*
 * fx_gcs: Cloud Storage JSON API v1 over fx_httpc, on the configured
 * bucket (config bucket), with the metadata base config storage_url and
 * the upload base config storage_upload_url (the emulator serves both on
 * one port; Google on storage.googleapis.com). Object names are raw
 * (1..1024 bytes of UTF-8, no CR or LF, not "." or "..", else 400
 * INVALID_ARGUMENT naming "object") and percent-encoded in paths,
 * including '/'. A refused argument is named as the JSON API and our
 * contract name it (contentType, pageToken, maxResults,
 * ifGenerationMatch), so a 400 that reaches a client names a field it
 * knows.
 * Ownership: arguments are borrowed for the call; list results belong to
 * the caller (free(items), fx_gcs_prefixes_free(prefixes, n)).
 *
 * Errors: 404 NOT_FOUND (object or bucket missing), 412
 * FAILED_PRECONDITION (an ifGenerationMatch that did not hold), 503
 * UNAVAILABLE with retry_after 1 when Storage is unreachable, answers 5xx
 * or 429, or refuses our credentials (401/403), 502 when its answer is
 * malformed or too big, 500 INTERNAL when it refuses a request as
 * malformed (our bug). Retries happen inside fx_httpc: reads (stat, list,
 * the download's metadata, session creation) on any transient failure;
 * uploads and deletes only when nothing reached Storage, unless an
 * if_generation_match >= 0 makes repeating them safe.
 * Everything is thread-safe and keeps no state.
 */
#ifndef FX_GCS_H
#define FX_GCS_H

#include "buf.h"
#include "err.h"
#include "httpc.h"

#include <stddef.h>
#include <stdint.h>

#define FX_GCS_MAX_NAME 1024
/* Largest body fx_gcs_upload and fx_gcs_upload_resumable take from memory. */
#define FX_GCS_MAX_UPLOAD (64u * 1024 * 1024)
/* Largest page fx_gcs_list asks for (Storage's own maximum). */
#define FX_GCS_MAX_LIST 1000

struct fx_gcs_object {
	char name[FX_GCS_MAX_NAME + 1];
	char content_type[128];
	int64_t size;
	int64_t generation;
	char md5[32]; /* base64, "" when Storage sent none (composite objects) */
	char crc32c[16]; /* base64 */
	char updated[40]; /* RFC 3339 as Storage sent it */
};

/*
 * Stores n bytes as object in one multipart request (metadata and bytes:
 * unlike a media upload, the emulator keeps the content type).
 * content_type NULL means application/octet-stream; it must be printable
 * ASCII of at most 127 bytes (400 naming "content_type"). n is at most
 * FX_GCS_MAX_UPLOAD (413). if_generation_match: -1 for none, 0 to create
 * only (412 if the object exists), G to replace only generation G; the
 * emulator ignores it. out (may be NULL) receives the stored object.
 */
FX_MUST_USE int fx_gcs_upload(const char *object, const char *content_type, const void *data, size_t n,
			      int64_t if_generation_match, struct fx_gcs_object *out, struct fx_err *e);

/*
 * Opens a resumable upload session for object (content_type as in
 * fx_gcs_upload; size the total bytes, or -1 when unknown) and writes its
 * URL into session_url (reset first). Whoever holds the URL can upload
 * the object without credentials for about a week: hand it only to the
 * client meant to write that object. Returns 0, or -1 with e; 502 when
 * Storage answers without a session URL under config storage_upload_url.
 */
FX_MUST_USE int fx_gcs_resumable_session(const char *object, const char *content_type, int64_t size,
					 struct fx_buf *session_url, struct fx_err *e);

/*
 * Uploads n bytes through a resumable session: the session, then one PUT
 * of all the bytes. The emulator cannot take chunks (its first PUT
 * finalizes the object), so this never splits; chunked uploads of data
 * larger than memory are not offered. out (may be NULL) receives the
 * stored object. The PUT is not retried once it may have reached Storage.
 */
FX_MUST_USE int fx_gcs_upload_resumable(const char *object, const char *content_type, const void *data, size_t n,
					struct fx_gcs_object *out, struct fx_err *e);

/* Reads object's metadata into *out. Returns 0, or -1 (404 NOT_FOUND when missing). */
FX_MUST_USE int fx_gcs_stat(const char *object, struct fx_gcs_object *out, struct fx_err *e);

/*
 * Streams object's bytes to sink without holding them: first its
 * metadata (into meta_out when not NULL), then the bytes of that very
 * generation. An object larger than max_bytes is refused before any byte
 * is sent (413); a transfer that outgrows max_bytes anyway is cut (502).
 * A sink returning -1 stops the transfer (499 CANCELLED). The byte
 * transfer is not retried once it may have started, so the sink never
 * sees a byte twice. Returns 0, or -1 (404 NOT_FOUND when missing).
 */
FX_MUST_USE int fx_gcs_download(const char *object, size_t max_bytes, fx_httpc_sink sink, void *ctx,
				struct fx_gcs_object *meta_out, struct fx_err *e);

/*
 * Streams the bytes of a generation of object whose size the caller
 * already knows (recorded when the bytes were checked), in one request: no
 * metadata call. size above max_bytes is refused before any call (413).
 * An answer naming another generation (x-goog-generation) or length
 * (Content-Length) than recorded is refused before any byte reaches sink
 * (502); so is one that sends more than size bytes (cut) or, at its end,
 * fewer (502, the sink then holds what came). A missing generation is 404
 * NOT_FOUND. A sink returning -1 stops the transfer (499 CANCELLED); the
 * transfer is not retried once it may have started.
 */
FX_MUST_USE int fx_gcs_download_generation(const char *object, int64_t generation, int64_t size, size_t max_bytes,
					   fx_httpc_sink sink, void *ctx, struct fx_err *e);

/*
 * Deletes object; if_generation_match -1 for any generation, else only
 * that one (412 otherwise). Returns 0, or -1: 404 NOT_FOUND when it does
 * not exist (callers decide whether that is an error).
 */
FX_MUST_USE int fx_gcs_delete(const char *object, int64_t if_generation_match, struct fx_err *e);

/*
 * Lists objects in name order: those starting with prefix (NULL or ""
 * for all), with names containing delimiter after the prefix rolled up
 * into *prefixes (delimiter NULL or "" for none). page_token continues a
 * previous page (NULL or "" for the first); max_results 1..FX_GCS_MAX_LIST,
 * 0 for Storage's default. On success *items (*n of them) and *prefixes
 * (*nprefixes of them) are new arrays (NULL when empty) the caller frees, and next_token holds
 * the next page's token, "" after the last page (next_token may be NULL
 * when next_len is 0: the caller reads one page only). Returns 0, or -1
 * with the outputs set to NULL/0; 502 when the token does not fit in
 * next_len.
 */
FX_MUST_USE int fx_gcs_list(const char *prefix, const char *delimiter, const char *page_token, int max_results,
			    struct fx_gcs_object **items, size_t *n, char ***prefixes, size_t *nprefixes,
			    char *next_token, size_t next_len, struct fx_err *e);

/* Frees the first n strings of prefixes and the array. Accepts NULL. */
void fx_gcs_prefixes_free(char **prefixes, size_t n);

/* Checks an object name as every call here does (400 naming "object"). */
FX_MUST_USE int fx_gcs_check_name(const char *object, struct fx_err *e);

#endif
