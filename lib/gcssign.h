/*
 * fx_gcssign: V4 signed URLs for Cloud Storage (GOOG4-RSA-SHA256), byte for
 * byte as Google's client libraries make them (googleapis/conformance-tests
 * storage/v1 v4_signatures.json). fx_gcssign_signed_url is pure: the clock,
 * the service account and the signature come from the caller, so the
 * conformance vectors and production share one code path; fx_gcssign_url
 * fills them from the configuration and fx_gauth.
 * Ownership: every argument is borrowed for the call; output buffers are
 * the caller's (fx_buf_init'ed), nothing is kept between calls.
 */
#ifndef FX_GCSSIGN_H
#define FX_GCSSIGN_H

#include "buf.h"
#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest validity Cloud Storage accepts for a V4 signature: 7 days. */
#define FX_GCS_SIGN_MAX_EXPIRES 604800
/* Extra headers or query parameters signed in one URL. */
#define FX_GCS_SIGN_MAX_EXTRA 32
#define FX_GCS_DEFAULT_HOST "storage.googleapis.com"

/* Where the bucket goes (the client libraries' urlStyle). */
enum fx_gcs_url_style {
	FX_GCS_PATH_STYLE, /* scheme://host/bucket/object */
	FX_GCS_VIRTUAL_HOSTED_STYLE, /* scheme://bucket.host/object */
	FX_GCS_BUCKET_BOUND_HOSTNAME, /* scheme://host/object, host being the bucket's own name (CNAME) */
};

struct fx_signed_url_req {
	const char *method; /* "GET", "PUT", "POST" (x-goog-resumable: start), "DELETE", ... */
	const char *bucket;
	const char *object; /* raw name; NULL or "" signs the bucket itself (list) */
	int64_t expires_s; /* 1..FX_GCS_SIGN_MAX_EXPIRES */
	int64_t now; /* unix seconds: the signature's X-Goog-Date */
	const char *const *headers; /* NULL-terminated "Name: value" headers the request will carry, or NULL */
	const char *const *query; /* extra query parameters: raw key, value, key, value, ..., NULL; or NULL */
	const char *host; /* "name[:port]"; NULL: storage.googleapis.com */
	const char *scheme; /* NULL: "https" */
	const char *email; /* the signing service account */
	enum fx_gcs_url_style style;
	const char *path; /* NULL, or a percent-encoded resource path used instead of /bucket/object */
};

/*
 * Makes the signature over n bytes of data (the string to sign) with
 * RSASSA-PKCS1-v1_5 SHA-256. *sig_len holds sig's capacity on entry and
 * the signature's length on return. Returns 0, or -1 with e set.
 */
typedef int (*fx_signer)(void *ctx, const char *data, size_t n, unsigned char *sig, size_t *sig_len, struct fx_err *e);

/*
 * Builds the V4 signed URL for q into url (reset first), and the
 * canonical request and string to sign into the two optional buffers
 * (NULL to skip). Signed headers: host (the URL's host without its port)
 * plus q->headers, names lower-cased, values trimmed with inner runs of
 * whitespace collapsed; an x-goog-content-sha256 header replaces
 * UNSIGNED-PAYLOAD. Query keys and values are percent-encoded (RFC 3986
 * unreserved kept) and sorted; object names keep '/'. Returns 0, or -1
 * with 400 INVALID_ARGUMENT naming the field at fault (method, bucket,
 * object, expires, now, headers, query, host, scheme, email, path), also
 * when a result outgrows its buffer's cap, or the signer's error; the
 * buffers' contents are then unspecified.
 */
FX_MUST_USE int fx_gcssign_signed_url(const struct fx_signed_url_req *q, fx_signer sign, void *ctx, struct fx_buf *url,
				      struct fx_buf *canonical_request_out, struct fx_buf *string_to_sign_out,
				      struct fx_err *e);

/*
 * The signed URL for object in the configured bucket, valid expires_s
 * seconds from now, signed as the service account (fx_gauth: the key file
 * locally, IAM signBlob on Cloud Run). It points at config storage_url,
 * path style. headers and query (raw key, value pairs) as in
 * fx_signed_url_req: a client using the URL must send exactly the signed
 * headers.
 *
 * With the Storage emulator (config storage_emulator), which checks no
 * signature and serves no XML API writes, the URL is still signed but
 * has a form the emulator serves: GET and HEAD use /bucket/object (its
 * download route); PUT opens a resumable upload session for the object
 * (content type from a signed Content-Type header) and signs that
 * session's URL, so one PUT of the bytes stores them; other methods are a
 * 501 UNIMPLEMENTED.
 *
 * Returns 0 with url reset and filled, or -1: 400 INVALID_ARGUMENT for
 * bad arguments, 503 UNAVAILABLE when no service account, signature or
 * emulator session can be had, 500 INTERNAL when signing is refused.
 */
FX_MUST_USE int fx_gcssign_url(const char *method, const char *object, int64_t expires_s, const char *const *headers,
			       const char *const *query, struct fx_buf *url, struct fx_err *e);

/* The headers of a create-only signed upload (fx_gcssign_upload_headers). */
#define FX_GCS_UPLOAD_HEADERS 3
#define FX_GCS_UPLOAD_TYPE_MAX 127

struct fx_gcssign_upload_headers {
	const char *names[FX_GCS_UPLOAD_HEADERS]; /* as the client sends them */
	const char *values[FX_GCS_UPLOAD_HEADERS]; /* point into line */
	const char *lines[FX_GCS_UPLOAD_HEADERS + 1]; /* "Name: value", NULL-terminated, for fx_gcssign_url */
	char line[FX_GCS_UPLOAD_HEADERS][FX_GCS_UPLOAD_TYPE_MAX + 48];
};

/*
 * Fills h with the headers a signed PUT must carry to create the object
 * with exactly size bytes of content_type: Content-Type,
 * x-goog-content-length-range "size,size" (Storage refuses a body of any
 * other length) and x-goog-if-generation-match "0" (Storage refuses the
 * PUT once the object exists, so the URL can never replace bytes that
 * were already checked). Sign h->lines and hand names and values to the
 * client, which must send them exactly. content_type: 1 to
 * FX_GCS_UPLOAD_TYPE_MAX bytes of printable ASCII; size >= 0. Returns 0,
 * or -1 with 400 INVALID_ARGUMENT naming "contentType" or "size"; h is
 * then unspecified. h holds no heap memory.
 */
FX_MUST_USE int fx_gcssign_upload_headers(struct fx_gcssign_upload_headers *h, const char *content_type, int64_t size,
					  struct fx_err *e);

#endif
