#include "gcs.h"

#include "buf.h"
#include "config.h"
#include "gauth.h"
#include "httpc.h"
#include "json.h"
#include "mem.h"
#include "num.h"
#include "str.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define URL_MAX 16384
#define ANSWER_MAX (1u << 20) /* one object resource */
#define LIST_ANSWER_MAX (16u << 20) /* a page of up to 1000 object resources */
#define ERROR_BODY_MAX (64u << 10) /* error answers while streaming a download */
#define SESSION_URL_MAX 8192
#define MAX_TOKEN 4096
#define MULTIPART_OVERHEAD 8192 /* boundaries, part headers and metadata around the bytes */
#define DEFAULT_TYPE "application/octet-stream"

/* ---- names, urls, errors ---- */

int fx_gcs_check_name(const char *object, struct fx_err *e)
{
	size_t n = object ? strlen(object) : 0;

	if (n == 0)
		return fx_err_invalid(e, "object", "object name missing");
	if (n > FX_GCS_MAX_NAME)
		return fx_err_invalid(e, "object", "object name longer than %d bytes", FX_GCS_MAX_NAME);
	if (!fx_json_utf8_valid(object, n))
		return fx_err_invalid(e, "object", "object name is not valid UTF-8");
	if (strpbrk(object, "\r\n"))
		return fx_err_invalid(e, "object", "object name contains a line break");
	if (strcmp(object, ".") == 0 || strcmp(object, "..") == 0)
		return fx_err_invalid(e, "object", "object name \".\" or \"..\"");
	return 0;
}

static int check_content_type(const char *ct, struct fx_err *e)
{
	size_t n = strlen(ct);

	if (n == 0 || n >= sizeof(((struct fx_gcs_object *)0)->content_type))
		return fx_err_invalid(e, "contentType", "content type must be 1..127 bytes");
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)ct[i] < 0x20 || (unsigned char)ct[i] >= 0x7f)
			return fx_err_invalid(e, "contentType", "content type must be printable ASCII");
	return 0;
}

/* base + "<api>/b/<bucket>/o[/<object>]", everything percent-encoded; -1 when too long. */
static int object_url(struct fx_buf *url, const char *base, const char *api, const char *object)
{
	const char *bucket = fx_config_get()->bucket;
	int bad;

	fx_buf_init(url, URL_MAX);
	bad = fx_buf_printf(url, "%s%s/b/", base, api) < 0;
	bad |= fx_httpc_url_encode(url, bucket, strlen(bucket)) < 0;
	bad |= fx_buf_puts(url, "/o") < 0;
	if (object) {
		bad |= fx_buf_puts(url, "/") < 0;
		bad |= fx_httpc_url_encode(url, object, strlen(object)) < 0;
	}
	return bad ? -1 : 0;
}

/* Appends "&key=value" (or "?key=value" as the first parameter), the value encoded. */
static int add_param(struct fx_buf *url, const char *key, const char *value)
{
	if (fx_buf_printf(url, "%c%s=", strchr(url->data, '?') ? '&' : '?', key) < 0)
		return -1;
	return fx_httpc_url_encode(url, value, strlen(value));
}

static int add_int(struct fx_buf *url, const char *key, int64_t g)
{
	char v[24];

	if (fx_str_fmt(v, sizeof(v), "%lld", (long long)g) < 0)
		return -1;
	return add_param(url, key, v);
}

static int url_too_long(const char *what, struct fx_err *e)
{
	return fx_err_set(e, FX_INTERNAL, "%s: request url longer than %d bytes", what, URL_MAX);
}

static int bad_answer(const char *what, const char *why, struct fx_err *e)
{
	return fx_err_set(e, FX_BAD_GATEWAY, "%s: malformed answer: %s", what, why);
}

/*
 * Maps a non-2xx answer: 404 and 412 keep their meaning, what Storage
 * cannot do now (5xx, 429, 408) or refuses us (401, 403) is 503, the rest
 * (400: a request it finds malformed) is our bug.
 */
static int http_error(const struct fx_httpc_resp *resp, const char *what, const char *object, struct fx_err *e)
{
	char msg[sizeof(e->message)];
	long s = resp->status;

	fx_httpc_google_error(resp, what, e);
	FX_ARRAY_COPY(msg, e->message);
	if (s == 404 && object)
		return fx_err_set(e, FX_NOT_FOUND, "%s: object \"%.200s\" not found", what, object);
	if (s == 404)
		return fx_err_set(e, FX_NOT_FOUND, "%s", msg);
	if (s == 412)
		return fx_err_set(e, FX_CONDITION_NOT_MET, "%s: generation precondition failed", what);
	if (s >= 500 || s == 429 || s == 408 || s == 401 || s == 403) {
		fx_err_set(e, FX_UNAVAILABLE, "%s (HTTP %ld)", msg, s);
		e->retry_after = FX_ERR_RETRY_AFTER_S;
		return -1;
	}
	return fx_err_set(e, FX_INTERNAL, "%s (HTTP %ld)", msg, s);
}

/* ---- one request ---- */

struct call {
	const char *what; /* "storage stat" */
	const char *object; /* named in a 404, or NULL */
	const char *method;
	const char *url;
	const char *headers[5]; /* extra headers, NULL-terminated */
	const char *body;
	size_t body_len;
	enum fx_retry retry;
	size_t max_response;
	fx_httpc_sink sink;
	void *sink_ctx;
};

/* Performs c with the Storage credential: 0 for a 2xx (resp filled; the caller cleans it up), or -1. */
static int perform(const struct call *c, struct fx_httpc_resp *resp, struct fx_err *e)
{
	char auth[FX_GAUTH_HEADER_MAX];
	const char *headers[7];
	struct fx_httpc_req req = {0};
	size_t nh = 0;

	if (fx_gauth_header(FX_GAUTH_STORAGE, auth, sizeof(auth), e) < 0)
		return -1;
	headers[nh++] = auth;
	for (size_t i = 0; i < sizeof(c->headers) / sizeof(c->headers[0]) && c->headers[i]; i++)
		headers[nh++] = c->headers[i];
	headers[nh] = NULL;
	req.method = c->method;
	req.url = c->url;
	req.headers = headers;
	req.body = c->body;
	req.body_len = c->body_len;
	req.retry = c->retry;
	req.max_response = c->max_response ? c->max_response : ANSWER_MAX;
	req.sink = c->sink;
	req.sink_ctx = c->sink_ctx;
	req.service = "storage";
	if (fx_httpc_do(&req, resp, e) < 0) {
		if (fx_err_is(e, FX_UNAVAILABLE))
			e->retry_after = FX_ERR_RETRY_AFTER_S;
		return -1;
	}
	if (resp->status < 200 || resp->status >= 300)
		return http_error(resp, c->what, c->object, e);
	return 0;
}

/* ---- object resources ---- */

static int parse_answer(const struct fx_buf *b, const char *what, json_object **out, struct fx_err *e)
{
	struct fx_err pe;

	if (fx_json_parse_object(b->data ? b->data : "", b->len, out, &pe) < 0)
		return bad_answer(what, pe.message, e);
	return 0;
}

/* Copies string key of j into out (len bytes with the NUL); absent gives "" unless required. */
static bool copy_str(json_object *j, const char *key, bool required, char *out, size_t len)
{
	json_object *v;

	out[0] = '\0';
	if (!json_object_object_get_ex(j, key, &v))
		return !required;
	return json_object_is_type(v, json_type_string) &&
	       fx_str_copy(out, len, json_object_get_string(v), (size_t)json_object_get_string_len(v)) == 0;
}

/* An int64 >= 0 that Storage sends as a decimal string (proto3 JSON) or a number. */
static bool get_i64(json_object *j, const char *key, int64_t *out)
{
	json_object *v;

	return json_object_object_get_ex(j, key, &v) && fx_json_get_int64(v, 0, INT64_MAX, out);
}

static int decode_object(json_object *j, const char *what, struct fx_gcs_object *out, struct fx_err *e)
{
	memset(out, 0, sizeof(*out));
	if (!json_object_is_type(j, json_type_object) || !copy_str(j, "name", true, out->name, sizeof(out->name)) ||
	    !out->name[0])
		return bad_answer(what, "object without a name", e);
	if (!copy_str(j, "contentType", false, out->content_type, sizeof(out->content_type)))
		return bad_answer(what, "contentType", e);
	if (!get_i64(j, "size", &out->size))
		return bad_answer(what, "size", e);
	if (!get_i64(j, "generation", &out->generation))
		return bad_answer(what, "generation", e);
	if (!copy_str(j, "md5Hash", false, out->md5, sizeof(out->md5)) ||
	    !copy_str(j, "crc32c", false, out->crc32c, sizeof(out->crc32c)) ||
	    !copy_str(j, "updated", false, out->updated, sizeof(out->updated)))
		return bad_answer(what, "md5Hash, crc32c or updated", e);
	return 0;
}

/* Decodes a 2xx answer holding one object resource into out (skipped when NULL). */
static int answer_object(const struct fx_httpc_resp *resp, const char *what, struct fx_gcs_object *out,
			 struct fx_err *e)
{
	struct fx_gcs_object tmp;
	json_object *j;
	int rc;

	if (parse_answer(&resp->body, what, &j, e) < 0)
		return -1;
	rc = decode_object(j, what, out ? out : &tmp, e);
	json_object_put(j);
	return rc;
}

/* ---- uploads ---- */

/* {"name":...,"contentType":...} */
static int metadata_json(struct fx_buf *b, const char *object, const char *ct)
{
	int bad = fx_buf_puts(b, "{\"name\":") < 0;

	bad |= fx_buf_json_string(b, object, strlen(object)) < 0;
	bad |= fx_buf_puts(b, ",\"contentType\":") < 0;
	bad |= fx_buf_json_string(b, ct, strlen(ct)) < 0;
	bad |= fx_buf_puts(b, "}") < 0;
	return bad ? -1 : 0;
}

/* A multipart boundary that does not occur in the data. */
static int make_boundary(char out[48], const void *data, size_t n, struct fx_err *e)
{
	for (int attempt = 0; attempt < 8; attempt++) {
		unsigned char r[16];
		char hex[2 * sizeof(r) + 1];

		if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
			return fx_err_set(e, FX_INTERNAL, "storage upload: no randomness for a multipart boundary");
		if (fx_str_hex(hex, sizeof(hex), r, sizeof(r)) < 0 || fx_str_fmt(out, 48, "fluxori-%s", hex) < 0)
			return fx_err_set(e, FX_INTERNAL, "storage upload: multipart boundary does not fit");
		if (n == 0 || !memmem(data, n, out, strlen(out)))
			return 0;
	}
	return fx_err_set(e, FX_INTERNAL, "storage upload: no multipart boundary outside the data");
}

static int check_upload(const char *object, const char *ct, const void *data, size_t n, struct fx_err *e)
{
	if (fx_gcs_check_name(object, e) < 0 || check_content_type(ct, e) < 0)
		return -1;
	if (!data && n > 0)
		return fx_err_invalid(e, "data", "data missing");
	if (n > FX_GCS_MAX_UPLOAD)
		return fx_err_set(e, FX_PAYLOAD_TOO_LARGE, "storage upload: %zu bytes exceed the %u-byte limit", n,
				  FX_GCS_MAX_UPLOAD);
	return 0;
}

int fx_gcs_upload(const char *object, const char *content_type, const void *data, size_t n, int64_t if_generation_match,
		  struct fx_gcs_object *out, struct fx_err *e)
{
	static const char what[] = "storage upload";
	const char *ct = content_type ? content_type : DEFAULT_TYPE;
	char boundary[48], type_header[96];
	struct fx_buf url = {0}, body = {0};
	struct fx_httpc_resp resp;
	struct call c = {.what = what, .method = "POST"};
	int rc = -1;

	fx_httpc_resp_init(&resp);
	if (check_upload(object, ct, data, n, e) < 0)
		goto out;
	if (if_generation_match < -1) {
		fx_err_invalid(e, "ifGenerationMatch", "generation precondition must be -1, 0 or a generation");
		goto out;
	}
	if (make_boundary(boundary, data, n, e) < 0)
		goto out;
	if (object_url(&url, fx_config_get()->storage_upload_url, "/upload/storage/v1", NULL) < 0 ||
	    add_param(&url, "uploadType", "multipart") < 0 ||
	    (if_generation_match >= 0 && add_int(&url, "ifGenerationMatch", if_generation_match) < 0)) {
		url_too_long(what, e);
		goto out;
	}
	fx_buf_init(&body, n + MULTIPART_OVERHEAD);
	if (fx_buf_printf(&body, "--%s\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n", boundary) < 0 ||
	    metadata_json(&body, object, ct) < 0 ||
	    fx_buf_printf(&body, "\r\n--%s\r\nContent-Type: %s\r\n\r\n", boundary, ct) < 0 ||
	    fx_buf_append(&body, n ? data : "", n) < 0 || fx_buf_printf(&body, "\r\n--%s--\r\n", boundary) < 0) {
		fx_err_set(e, FX_INTERNAL, "%s: multipart body too large", what);
		goto out;
	}
	if (fx_str_fmt(type_header, sizeof(type_header), "Content-Type: multipart/related; boundary=%s", boundary) <
	    0) {
		fx_err_set(e, FX_INTERNAL, "%s: Content-Type header does not fit", what);
		goto out;
	}
	c.url = url.data;
	c.headers[0] = type_header;
	c.body = body.data;
	c.body_len = body.len;
	/* Create-only or replace-one-generation uploads cannot apply twice: those may repeat. */
	c.retry = if_generation_match >= 0 ? FX_RETRY_IDEMPOTENT : FX_RETRY_UNAVAILABLE;
	if (perform(&c, &resp, e) < 0 || answer_object(&resp, what, out, e) < 0)
		goto out;
	rc = 0;
out:
	fx_httpc_resp_cleanup(&resp);
	fx_buf_cleanup(&url);
	fx_buf_cleanup(&body);
	return rc;
}

int fx_gcs_resumable_session(const char *object, const char *content_type, int64_t size, struct fx_buf *session_url,
			     struct fx_err *e)
{
	static const char what[] = "storage resumable session";
	const char *ct = content_type ? content_type : DEFAULT_TYPE;
	const char *base = fx_config_get()->storage_upload_url;
	char type_header[160], length_header[64], location[SESSION_URL_MAX];
	struct fx_buf url = {0}, body;
	struct fx_httpc_resp resp;
	struct call c = {.what = what, .method = "POST", .retry = FX_RETRY_IDEMPOTENT};
	size_t blen = strlen(base);
	int rc = -1;

	fx_httpc_resp_init(&resp);
	fx_buf_init(&body, 4 * FX_GCS_MAX_NAME + 512);
	if (fx_gcs_check_name(object, e) < 0 || check_content_type(ct, e) < 0)
		goto out;
	if (size < -1) {
		fx_err_invalid(e, "size", "size must be -1 (unknown) or a byte count");
		goto out;
	}
	if (object_url(&url, base, "/upload/storage/v1", NULL) < 0 || add_param(&url, "uploadType", "resumable") < 0) {
		url_too_long(what, e);
		goto out;
	}
	metadata_json(&body, object, ct);
	if (fx_str_fmt(type_header, sizeof(type_header), "X-Upload-Content-Type: %s", ct) < 0 ||
	    fx_str_fmt(length_header, sizeof(length_header), "X-Upload-Content-Length: %lld", (long long)size) < 0) {
		fx_err_set(e, FX_INTERNAL, "%s: upload headers do not fit", what);
		goto out;
	}
	c.url = url.data;
	c.headers[0] = "Content-Type: application/json; charset=UTF-8";
	c.headers[1] = type_header;
	c.headers[2] = size >= 0 ? length_header : NULL;
	c.body = body.data;
	c.body_len = body.len;
	if (perform(&c, &resp, e) < 0)
		goto out;
	/* Only a session on the configured upload host: the URL is used with our trust. */
	if (!fx_httpc_header(&resp, "Location", location, sizeof(location)) || strncmp(location, base, blen) != 0 ||
	    location[blen] != '/') {
		bad_answer(what, "no session url under the upload base", e);
		goto out;
	}
	fx_buf_reset(session_url);
	if (fx_buf_puts(session_url, location) < 0) {
		fx_err_set(e, FX_INTERNAL, "%s: session url longer than its buffer's %zu bytes", what,
			   session_url->max);
		goto out;
	}
	rc = 0;
out:
	fx_httpc_resp_cleanup(&resp);
	fx_buf_cleanup(&url);
	fx_buf_cleanup(&body);
	return rc;
}

int fx_gcs_upload_resumable(const char *object, const char *content_type, const void *data, size_t n,
			    struct fx_gcs_object *out, struct fx_err *e)
{
	static const char what[] = "storage resumable upload";
	const char *ct = content_type ? content_type : DEFAULT_TYPE;
	char type_header[160];
	struct fx_buf session;
	struct fx_httpc_resp resp;
	struct call c = {.what = what, .method = "PUT", .retry = FX_RETRY_UNAVAILABLE};
	int rc = -1;

	fx_httpc_resp_init(&resp);
	fx_buf_init(&session, SESSION_URL_MAX);
	if (check_upload(object, ct, data, n, e) < 0 ||
	    fx_gcs_resumable_session(object, ct, (int64_t)n, &session, e) < 0)
		goto out;
	if (fx_str_fmt(type_header, sizeof(type_header), "Content-Type: %s", ct) < 0) {
		fx_err_set(e, FX_INTERNAL, "%s: Content-Type header does not fit", what);
		goto out;
	}
	c.url = session.data;
	c.headers[0] = type_header;
	c.body = n ? data : "";
	c.body_len = n;
	if (perform(&c, &resp, e) < 0 || answer_object(&resp, what, out, e) < 0)
		goto out;
	rc = 0;
out:
	fx_httpc_resp_cleanup(&resp);
	fx_buf_cleanup(&session);
	return rc;
}

/* ---- reads ---- */

int fx_gcs_stat(const char *object, struct fx_gcs_object *out, struct fx_err *e)
{
	static const char what[] = "storage stat";
	struct fx_buf url = {0};
	struct fx_httpc_resp resp;
	struct call c = {.what = what, .object = object, .method = "GET", .retry = FX_RETRY_IDEMPOTENT};
	int rc = -1;

	fx_httpc_resp_init(&resp);
	memset(out, 0, sizeof(*out));
	if (fx_gcs_check_name(object, e) < 0)
		goto out;
	if (object_url(&url, fx_config_get()->storage_url, "/storage/v1", object) < 0) {
		url_too_long(what, e);
		goto out;
	}
	c.url = url.data;
	if (perform(&c, &resp, e) < 0 || answer_object(&resp, what, out, e) < 0)
		goto out;
	rc = 0;
out:
	fx_httpc_resp_cleanup(&resp);
	fx_buf_cleanup(&url);
	return rc;
}

struct capped {
	fx_httpc_sink sink;
	void *ctx;
	size_t max;
	size_t got;
	bool over;
	/* Checked on the first bytes, before any reaches sink (-1: not checked). */
	const struct fx_httpc_resp *resp;
	int64_t generation;
	int64_t size;
	bool mismatch;
};

/* A header of resp holding a different integer than want (absent or unreadable headers pass). */
static bool header_differs(const struct fx_httpc_resp *resp, const char *name, int64_t want)
{
	char v[32];
	int64_t got;

	if (!fx_httpc_header(resp, name, v, sizeof(v)))
		return false;
	return fx_num_parse(v, 0, INT64_MAX, &got, NULL) < 0 || got != want;
}

static int capped_sink(void *ctx, const char *p, size_t n)
{
	struct capped *c = ctx;

	if (c->resp && c->got == 0 &&
	    ((c->generation >= 0 && header_differs(c->resp, "x-goog-generation", c->generation)) ||
	     (c->size >= 0 && header_differs(c->resp, "Content-Length", c->size)))) {
		c->mismatch = true;
		return -1;
	}
	if (n > c->max - c->got) {
		c->over = true;
		return -1;
	}
	c->got += n;
	return c->sink(c->ctx, p, n);
}

/*
 * One alt=media GET of object's generation into cap (whose checks are set),
 * not repeated once it may have reached Storage: bytes may already be in
 * the sink when a transfer fails half-way.
 */
static int fetch_media(const char *what, const char *object, int64_t generation, struct capped *cap, struct fx_err *e)
{
	struct fx_buf url = {0};
	struct fx_httpc_resp resp;
	struct call c = {.what = what,
			 .object = object,
			 .method = "GET",
			 .retry = FX_RETRY_UNAVAILABLE,
			 .max_response = ERROR_BODY_MAX,
			 .sink = capped_sink,
			 .sink_ctx = cap};
	int rc = -1;

	fx_httpc_resp_init(&resp);
	cap->resp = &resp;
	/* The bytes of that generation, not of a later replacement. */
	if (object_url(&url, fx_config_get()->storage_url, "/storage/v1", object) < 0 ||
	    add_param(&url, "alt", "media") < 0 || add_int(&url, "generation", generation) < 0) {
		url_too_long(what, e);
		goto out;
	}
	c.url = url.data;
	if (perform(&c, &resp, e) < 0) {
		if (cap->over)
			fx_err_set(e, FX_BAD_GATEWAY, "%s: object \"%.200s\" sent more than %zu bytes", what, object,
				   cap->max);
		else if (cap->mismatch)
			fx_err_set(e, FX_BAD_GATEWAY,
				   "%s: object \"%.200s\" answered another generation or length than recorded", what,
				   object);
		goto out;
	}
	rc = 0;
out:
	cap->resp = NULL;
	fx_httpc_resp_cleanup(&resp);
	fx_buf_cleanup(&url);
	return rc;
}

int fx_gcs_download(const char *object, size_t max_bytes, fx_httpc_sink sink, void *ctx, struct fx_gcs_object *meta_out,
		    struct fx_err *e)
{
	static const char what[] = "storage download";
	struct fx_gcs_object meta;
	struct capped cap = {sink, ctx, max_bytes, 0, false, NULL, -1, -1, false};

	if (meta_out)
		memset(meta_out, 0, sizeof(*meta_out));
	if (!sink)
		return fx_err_set(e, FX_INTERNAL, "%s: no sink", what);
	if (fx_gcs_stat(object, &meta, e) < 0)
		return -1;
	if ((uint64_t)meta.size > (uint64_t)max_bytes)
		return fx_err_set(e, FX_PAYLOAD_TOO_LARGE,
				  "%s: object \"%.200s\" has %lld bytes, more than the %zu accepted", what, object,
				  (long long)meta.size, max_bytes);
	if (fetch_media(what, object, meta.generation, &cap, e) < 0)
		return -1;
	if (meta_out)
		*meta_out = meta;
	return 0;
}

int fx_gcs_download_generation(const char *object, int64_t generation, int64_t size, size_t max_bytes,
			       fx_httpc_sink sink, void *ctx, struct fx_err *e)
{
	static const char what[] = "storage download";
	struct capped cap = {sink, ctx, 0, 0, false, NULL, generation, size, false};

	if (!sink)
		return fx_err_set(e, FX_INTERNAL, "%s: no sink", what);
	if (fx_gcs_check_name(object, e) < 0)
		return -1;
	if (generation < 1 || size < 0)
		return fx_err_set(e, FX_INTERNAL, "%s: generation %lld, size %lld", what, (long long)generation,
				  (long long)size);
	if ((uint64_t)size > (uint64_t)max_bytes)
		return fx_err_set(e, FX_PAYLOAD_TOO_LARGE,
				  "%s: object \"%.200s\" has %lld bytes, more than the %zu accepted", what, object,
				  (long long)size, max_bytes);
	cap.max = (size_t)size;
	if (fetch_media(what, object, generation, &cap, e) < 0)
		return -1;
	if (cap.got != (size_t)size)
		return fx_err_set(e, FX_BAD_GATEWAY, "%s: object \"%.200s\" sent %zu of its %lld bytes", what, object,
				  cap.got, (long long)size);
	return 0;
}

int fx_gcs_delete(const char *object, int64_t if_generation_match, struct fx_err *e)
{
	static const char what[] = "storage delete";
	struct fx_buf url = {0};
	struct fx_httpc_resp resp;
	struct call c = {.what = what, .object = object, .method = "DELETE"};
	int rc = -1;

	fx_httpc_resp_init(&resp);
	if (fx_gcs_check_name(object, e) < 0)
		goto out;
	if (if_generation_match < -1) {
		fx_err_invalid(e, "ifGenerationMatch", "generation precondition must be -1 or a generation");
		goto out;
	}
	if (object_url(&url, fx_config_get()->storage_url, "/storage/v1", object) < 0 ||
	    (if_generation_match >= 0 && add_int(&url, "ifGenerationMatch", if_generation_match) < 0)) {
		url_too_long(what, e);
		goto out;
	}
	c.url = url.data;
	/* A repeated unconditional delete could remove an object written in between. */
	c.retry = if_generation_match >= 0 ? FX_RETRY_IDEMPOTENT : FX_RETRY_UNAVAILABLE;
	if (perform(&c, &resp, e) < 0)
		goto out;
	rc = 0;
out:
	fx_httpc_resp_cleanup(&resp);
	fx_buf_cleanup(&url);
	return rc;
}

/* ---- list ---- */

void fx_gcs_prefixes_free(char **prefixes, size_t n)
{
	if (!prefixes)
		return;
	for (size_t i = 0; i < n; i++)
		free(prefixes[i]);
	free(prefixes);
}

static int check_list_args(const char *prefix, const char *delimiter, const char *page_token, int max_results,
			   struct fx_err *e)
{
	if (prefix && (strlen(prefix) > FX_GCS_MAX_NAME || !fx_json_utf8_valid(prefix, strlen(prefix))))
		return fx_err_invalid(e, "prefix", "prefix must be valid UTF-8 of at most %d bytes", FX_GCS_MAX_NAME);
	if (delimiter && (strlen(delimiter) > FX_GCS_MAX_NAME || !fx_json_utf8_valid(delimiter, strlen(delimiter))))
		return fx_err_invalid(e, "delimiter", "delimiter must be valid UTF-8 of at most %d bytes",
				      FX_GCS_MAX_NAME);
	if (page_token) {
		size_t n = strlen(page_token);

		if (n > MAX_TOKEN)
			return fx_err_invalid(e, "pageToken", "page token longer than %d bytes", MAX_TOKEN);
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)page_token[i] <= 0x20 || (unsigned char)page_token[i] >= 0x7f)
				return fx_err_invalid(e, "pageToken", "page token must be printable ASCII");
	}
	if (max_results < 0 || max_results > FX_GCS_MAX_LIST)
		return fx_err_invalid(e, "maxResults", "maxResults must be 0..%d", FX_GCS_MAX_LIST);
	return 0;
}

/* Decodes a list answer into the outputs (zeroed by the caller; freed by the caller on failure). */
static int decode_list(json_object *j, const char *what, struct fx_gcs_object **items, size_t *n, char ***prefixes,
		       size_t *nprefixes, char *next_token, size_t next_len, struct fx_err *e)
{
	json_object *arr, *v;

	if (json_object_object_get_ex(j, "items", &arr)) {
		size_t len;

		if (!json_object_is_type(arr, json_type_array))
			return bad_answer(what, "items is not an array", e);
		len = json_object_array_length(arr);
		if (len > FX_GCS_MAX_LIST)
			return bad_answer(what, "more items than a page holds", e);
		*items = len ? fx_mem_xcalloc(len, sizeof(**items)) : NULL;
		for (size_t i = 0; i < len; i++, (*n)++)
			if (decode_object(json_object_array_get_idx(arr, i), what, &(*items)[i], e) < 0)
				return -1;
	}
	if (json_object_object_get_ex(j, "prefixes", &arr)) {
		size_t len;

		if (!json_object_is_type(arr, json_type_array))
			return bad_answer(what, "prefixes is not an array", e);
		len = json_object_array_length(arr);
		if (len > FX_GCS_MAX_LIST)
			return bad_answer(what, "more prefixes than a page holds", e);
		*prefixes = len ? fx_mem_xcalloc(len, sizeof(**prefixes)) : NULL;
		for (size_t i = 0; i < len; i++, (*nprefixes)++) {
			v = json_object_array_get_idx(arr, i);
			if (!json_object_is_type(v, json_type_string) ||
			    json_object_get_string_len(v) > FX_GCS_MAX_NAME)
				return bad_answer(what, "prefix is not a name", e);
			(*prefixes)[i] = fx_mem_xstrdup(json_object_get_string(v));
		}
	}
	if (next_len > 0)
		next_token[0] = '\0';
	if (json_object_object_get_ex(j, "nextPageToken", &v) && !json_object_is_type(v, json_type_null)) {
		if (!json_object_is_type(v, json_type_string))
			return bad_answer(what, "nextPageToken is not a string", e);
		if (next_len > 0 && fx_str_copy(next_token, next_len, json_object_get_string(v),
						(size_t)json_object_get_string_len(v)) < 0)
			return bad_answer(what, "nextPageToken longer than the caller's buffer", e);
	}
	return 0;
}

int fx_gcs_list(const char *prefix, const char *delimiter, const char *page_token, int max_results,
		struct fx_gcs_object **items, size_t *n, char ***prefixes, size_t *nprefixes, char *next_token,
		size_t next_len, struct fx_err *e)
{
	static const char what[] = "storage list";
	struct fx_buf url = {0};
	struct fx_httpc_resp resp;
	struct call c = {.what = what, .method = "GET", .retry = FX_RETRY_IDEMPOTENT, .max_response = LIST_ANSWER_MAX};
	json_object *j = NULL;
	int bad, rc = -1;

	*items = NULL;
	*n = 0;
	*prefixes = NULL;
	*nprefixes = 0;
	if (next_len > 0)
		next_token[0] = '\0';
	fx_httpc_resp_init(&resp);
	if (check_list_args(prefix, delimiter, page_token, max_results, e) < 0)
		goto out;
	bad = object_url(&url, fx_config_get()->storage_url, "/storage/v1", NULL) < 0;
	if (prefix && *prefix)
		bad |= add_param(&url, "prefix", prefix) < 0;
	if (delimiter && *delimiter)
		bad |= add_param(&url, "delimiter", delimiter) < 0;
	if (page_token && *page_token)
		bad |= add_param(&url, "pageToken", page_token) < 0;
	if (max_results > 0)
		bad |= add_int(&url, "maxResults", max_results) < 0;
	if (bad) {
		url_too_long(what, e);
		goto out;
	}
	c.url = url.data;
	if (perform(&c, &resp, e) < 0 || parse_answer(&resp.body, what, &j, e) < 0 ||
	    decode_list(j, what, items, n, prefixes, nprefixes, next_token, next_len, e) < 0)
		goto out;
	rc = 0;
out:
	if (rc < 0) {
		free(*items);
		*items = NULL;
		*n = 0;
		fx_gcs_prefixes_free(*prefixes, *nprefixes);
		*prefixes = NULL;
		*nprefixes = 0;
		if (next_len > 0)
			next_token[0] = '\0';
	}
	json_object_put(j);
	fx_httpc_resp_cleanup(&resp);
	fx_buf_cleanup(&url);
	return rc;
}
