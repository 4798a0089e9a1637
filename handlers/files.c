/*
 * files: uploads (direct, or signed URL then :complete), listing,
 * metadata with a signed download URL, streamed content, deletion.
 * Storage and consistency rules live in lib/files.c.
 */
#include "authz.h"
#include "files.h"
#include "firestore.h"
#include "fswrite.h"
#include "gcs.h"
#include "gcssign.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "map.h"
#include "model.h"
#include "str.h"
#include "tenant.h"
#include "ts.h"
#include "worker.h"

#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int upload(struct fx_req *r, struct fx_err *e);
static int sign_upload(struct fx_req *r, struct fx_err *e);
static int complete(struct fx_req *r, struct fx_err *e);
static int list(struct fx_req *r, struct fx_err *e);
static int get(struct fx_req *r, struct fx_err *e);
static int content(struct fx_req *r, struct fx_err *e);
static int destroy(struct fx_req *r, struct fx_err *e);

static const struct fx_route routes[] = {
	{"POST", "/v1/files", upload, FX_MEMBER, FX_ROLE_STAFF, FX_BODY_RAW, FX_FILE_MAX_DIRECT},
	{"POST", "/v1/files:signUpload", sign_upload, FX_MEMBER, FX_ROLE_STAFF, FX_BODY_JSON, 0},
	{"POST", "/v1/files/{id}:complete", complete, FX_MEMBER, FX_ROLE_STAFF, FX_BODY_JSON, 0},
	{"GET", "/v1/files", list, FX_MEMBER, FX_ROLE_VIEWER, 0, 0},
	{"GET", "/v1/files/{id}", get, FX_MEMBER, FX_ROLE_VIEWER, 0, 0},
	{"GET", "/v1/files/{id}/content", content, FX_MEMBER, FX_ROLE_VIEWER, 0, 0},
	{"DELETE", "/v1/files/{id}", destroy, FX_MEMBER, FX_ROLE_MANAGER, 0, 0},
};

/* Clients may upload every kind but report (reports write those). */
static int check_kind(const char *kind, struct fx_err *e)
{
	if (!kind)
		return fx_err_invalid(e, "kind", "is required");
	if (fx_json_enum_index(kind, fx_file_kinds) < 0 || strcmp(kind, "report") == 0)
		return fx_err_invalid(e, "kind", "must be product_image, document or upload");
	return 0;
}

/* An optional productId must name a product of the caller's organization. */
static int check_product(struct fx_req *r, const char *product_id, struct fx_err *e)
{
	struct fx_doc doc = {0};
	const char *rel;

	if (!product_id)
		return 0;
	rel = fx_tenant_path(r, NULL, "products", product_id, "product", e);
	if (!rel || fx_tenant_get(r, rel, "product", &doc, e) < 0) {
		if (fx_err_is(e, FX_NOT_FOUND)) {
			fx_err_clear(e);
			return fx_err_invalid(e, "productId", "no such product");
		}
		return -1;
	}
	fx_firestore_doc_cleanup(&doc);
	return 0;
}

static int send_file(struct fx_req *r, int status, const struct fx_doc *doc, bool with_url, struct fx_err *e)
{
	json_object *out = fx_files_json(doc, with_url, e);
	int rc;

	if (!out)
		return -1;
	rc = fx_http_resp_json(r, status, out);
	json_object_put(out);
	return rc;
}

/* A header value as RFC 9110 has it: visible ASCII, spaces and tabs (obs-text is refused). */
static bool header_ascii(const char *s)
{
	for (; *s; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

static int upload(struct fx_req *r, struct fx_err *e)
{
	static const char *const params[] = {"kind", "productId", NULL};
	const char *kind = fx_http_req_query(r, "kind"), *product_id = fx_http_req_query(r, "productId");
	const char *ctype = fx_http_req_env(r, "CONTENT_TYPE"), *raw_name = fx_http_req_header(r, "X-File-Name");
	const char *mt, *base;
	char *name, location[128];
	struct fx_doc doc = {0};
	int rc;

	if (fx_http_req_query_allow(r, params, e) < 0 || check_kind(kind, e) < 0 ||
	    fx_files_check_type(ctype, "Content-Type", 415, &mt, e) < 0 ||
	    fx_files_check_kind_type(kind, mt, "Content-Type", e) < 0)
		return -1;
	if (!raw_name)
		return fx_err_invalid(e, "X-File-Name", "is required");
	/* X-File-Name is percent-encoded so that any UTF-8 name fits in a header. */
	if (!header_ascii(raw_name))
		return fx_err_invalid(e, "X-File-Name", "must be percent-encoded: raw non-ASCII or control bytes");
	name = fx_router_percent_decode(r->arena, raw_name, strlen(raw_name), 0);
	if (!name || !fx_json_utf8_valid(name, strlen(name)))
		return fx_err_invalid(e, "X-File-Name", "must be percent-encoded UTF-8 without NUL");
	if (fx_files_base_name(name, "X-File-Name", &base, e) < 0 ||
	    fx_files_sniff(mt, (const unsigned char *)(r->body ? r->body : ""), r->body_len, false, e) < 0 ||
	    check_product(r, product_id, e) < 0)
		return -1;
	if (fx_files_store(r, kind, base, mt, r->body ? r->body : "", r->body_len, product_id, &doc, e) < 0)
		return -1;
	rc = fx_err_set(e, FX_INTERNAL, "file id over %zu bytes", sizeof(location));
	if (fx_str_fmt(location, sizeof(location), "/v1/files/%s", doc.id) == 0) {
		fx_http_resp_header(r, "Location", location);
		rc = send_file(r, 201, &doc, false, e);
	}
	fx_firestore_doc_cleanup(&doc);
	return rc;
}

/* A declared sha256: 64 hex digits, lower-cased into out. */
static int check_sha256(const char *s, char out[65], struct fx_err *e)
{
	if (strlen(s) != 64 || strspn(s, "0123456789abcdefABCDEF") != 64)
		return fx_err_invalid(e, "sha256", "must be 64 hexadecimal digits");
	for (size_t i = 0; i < 64; i++)
		out[i] = (char)((s[i] >= 'A' && s[i] <= 'F') ? s[i] + ('a' - 'A') : s[i]);
	out[64] = '\0';
	return 0;
}

/*
 * Signs a PUT that can only create the object, with exactly the declared
 * size and type (fx_gcssign_upload_headers), and records the file pending.
 */
/* A signed upload's request, checked; pointers into the request's JSON. */
struct upload_req {
	const char *name, *ctype, *kind, *product_id, *declared, *base, *mt;
	char safe[128], sha[65];
	int64_t size;
};

static int decode_upload(struct fx_req *r, json_object *in, struct upload_req *u, struct fx_err *e)
{
	static const char *const allowed[] = {"name", "contentType", "size", "kind", "productId", "sha256", NULL};
	bool present;

	if (fx_json_allow(in, allowed, "", e) < 0 ||
	    fx_json_string(in, "name", "name", true, 1, FX_FILE_NAME_MAX, &u->name, &present, e) < 0 ||
	    fx_json_string(in, "contentType", "contentType", true, 1, FX_FILE_TYPE_MAX, &u->ctype, &present, e) < 0 ||
	    fx_json_int64(in, "size", "size", true, 1, FX_FILE_MAX_SIGNED, &u->size, &present, e) < 0 ||
	    fx_json_string(in, "kind", "kind", true, 1, 32, &u->kind, &present, e) < 0 ||
	    fx_json_string(in, "productId", "productId", false, 1, 128, &u->product_id, &present, e) < 0 ||
	    fx_json_string(in, "sha256", "sha256", false, 1, 64, &u->declared, &present, e) < 0 ||
	    check_kind(u->kind, e) < 0 || fx_files_base_name(u->name, "name", &u->base, e) < 0 ||
	    fx_files_safe_name(u->base, "name", u->safe, sizeof(u->safe), e) < 0 ||
	    fx_files_check_type(u->ctype, "contentType", 400, &u->mt, e) < 0 ||
	    fx_files_check_kind_type(u->kind, u->mt, "contentType", e) < 0 ||
	    (u->declared && check_sha256(u->declared, u->sha, e) < 0) || check_product(r, u->product_id, e) < 0)
		return -1;
	return 0;
}

/* Creates the pending file record at rel for object, and reads it into doc. */
static int create_pending(struct fx_req *r, const struct upload_req *u, const char *rel, const char *object,
			  struct fx_doc *doc, struct fx_err *e)
{
	struct fx_value fields = {0};
	json_object *writes = json_object_new_array();
	char *doc_name = fx_tenant_name(rel);
	int rc = -1;

	fx_value_map(&fields);
	fx_files_record(r,
			&(struct fx_file_meta){.kind = u->kind,
					       .name = u->base,
					       .content_type = u->mt,
					       .size = u->size,
					       .declared_sha256 = u->declared ? u->sha : NULL,
					       .product_id = u->product_id,
					       .object = object},
			&fields);
	if (fx_fswrite_create(writes, doc_name, &fields, NULL, e) == 0 &&
	    fx_firestore_commit(writes, NULL, NULL, NULL, e) == 0)
		rc = fx_firestore_get(rel, doc, e);
	json_object_put(writes);
	fx_value_cleanup(&fields);
	free(doc_name);
	return rc;
}

/* Answers 201 with the file, where and how to upload it, and until when. */
static int answer_upload(struct fx_req *r, const char *id, const struct fx_doc *doc, const char *url,
			 const struct fx_gcssign_upload_headers *up, struct fx_err *e)
{
	json_object *out, *headers;
	char expires[40], location[128];
	int rc;

	if (fx_str_fmt(location, sizeof(location), "/v1/files/%s", id) < 0)
		return fx_err_set(e, FX_INTERNAL, "file id over %zu bytes", sizeof(location));
	out = json_object_new_object();
	json_object_object_add(out, "file", fx_model_doc_json(doc, fx_file_hidden));
	json_object_object_add(out, "uploadUrl", json_object_new_string(url));
	json_object_object_add(out, "method", json_object_new_string("PUT"));
	headers = json_object_new_object();
	for (size_t i = 0; i < FX_GCS_UPLOAD_HEADERS; i++)
		json_object_object_add(headers, up->names[i], json_object_new_string(up->values[i]));
	json_object_object_add(out, "headers", headers);
	fx_ts_format((int64_t)time(NULL) + FX_FILE_URL_SECONDS, 0, 3, expires);
	json_object_object_add(out, "expiresAt", json_object_new_string(expires));
	fx_http_resp_header(r, "Location", location);
	rc = fx_http_resp_json(r, 201, out);
	json_object_put(out);
	return rc;
}

static int sign_upload(struct fx_req *r, struct fx_err *e)
{
	const char *rel, *object;
	char id[FX_ID_LEN + 1];
	struct upload_req u = {0};
	struct fx_gcssign_upload_headers up;
	struct fx_doc doc = {0};
	struct fx_buf url;
	json_object *in = NULL;
	int rc = -1;

	fx_buf_init(&url, 16384);
	if (fx_http_req_json(r, false, &in, e) < 0 || decode_upload(r, in, &u, e) < 0)
		goto out;
	fx_model_id_new(id);
	rel = fx_tenant_path(r, NULL, "files", id, "file", e);
	object = fx_arena_printf(r->arena, "orgs/%s/%s/%s/%s", r->principal->organization_id, u.kind, id, u.safe);
	if (!rel || !object || fx_gcssign_upload_headers(&up, u.mt, u.size, e) < 0 ||
	    fx_gcssign_url("PUT", object, FX_FILE_URL_SECONDS, up.lines, NULL, &url, e) < 0 ||
	    create_pending(r, &u, rel, object, &doc, e) < 0)
		goto out;
	rc = answer_upload(r, id, &doc, url.data, &up, e);
out:
	json_object_put(in);
	fx_firestore_doc_cleanup(&doc);
	fx_buf_cleanup(&url);
	return rc;
}

/* Hashes an object as it streams by and keeps its first bytes for sniffing. */
struct digest {
	EVP_MD_CTX *sha;
	unsigned char head[16];
	size_t nhead;
	size_t total;
};

static int digest_sink(void *ctx, const char *p, size_t n)
{
	struct digest *d = ctx;

	EVP_DigestUpdate(d->sha, p, n);
	for (size_t i = 0; i < n && d->nhead < sizeof(d->head); i++)
		d->head[d->nhead++] = (unsigned char)p[i];
	d->total += n;
	return 0;
}

static int file_rel(struct fx_req *r, const char **rel, struct fx_err *e)
{
	*rel = fx_tenant_path(r, NULL, "files", fx_http_req_param(r, "id"), "file", e);
	return *rel ? 0 : -1;
}

/*
 * Refuses an upload that is not what :signUpload declared: the reason in
 * a 409, the object removed (that generation only) so the file stays
 * pending and a correct upload can still create it. Returns -1.
 */
static int refuse_upload(const char *object, int64_t generation, struct fx_err *e, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int refuse_upload(const char *object, int64_t generation, struct fx_err *e, const char *fmt, ...)
{
	char why[200];
	struct fx_err ignored;
	bool removed;
	va_list ap;

	va_start(ap, fmt);
	fx_str_vtext(why, sizeof(why), fmt, ap);
	va_end(ap);
	fx_err_clear(&ignored);
	removed = fx_gcs_delete(object, generation, &ignored) == 0 || fx_err_is(&ignored, FX_NOT_FOUND);
	if (!removed)
		fx_log_warn("refused upload %s stays in storage: %s", object, ignored.message);
	fx_err_clear(e);
	return fx_err_set(e, FX_FAILED_PRECONDITION, "%s: %s", why,
			  removed ? "it was removed and the file stays pending: upload again"
				  : "the file stays pending");
}

/* The uploaded object's metadata, which must have the declared size and content type. */
static int stat_upload(const char *object, int64_t size, const char *ctype, struct fx_gcs_object *meta,
		       struct fx_err *e)
{
	const char *object_type;
	struct fx_err ignored;

	if (fx_gcs_stat(object, meta, e) < 0) {
		if (fx_err_is(e, FX_NOT_FOUND)) {
			fx_err_clear(e);
			fx_err_set(e, FX_FAILED_PRECONDITION,
				   "nothing was uploaded to this file yet: it stays pending");
		}
		return -1;
	}
	if (meta->size != size)
		return refuse_upload(object, meta->generation, e, "the upload has %lld bytes, %lld were declared",
				     (long long)meta->size, (long long)size);
	fx_err_clear(&ignored);
	if (fx_files_check_type(meta->content_type, "contentType", 400, &object_type, &ignored) < 0 ||
	    object_type != ctype)
		return refuse_upload(object, meta->generation, e, "the upload's content type is %.80s, %s was declared",
				     meta->content_type, ctype);
	return 0;
}

/*
 * Reads the object stat_upload accepted, once, in full and bounded by size:
 * it must be unchanged, bytes of ctype, and of the declared sha256 if any.
 * hash gets the sha256 of the bytes read.
 */
static int read_upload(const char *object, const struct fx_gcs_object *meta, int64_t size, const char *ctype,
		       const char *declared, char hash[65], struct fx_err *e)
{
	struct fx_gcs_object read;
	struct fx_err ignored;
	struct digest d = {0};
	unsigned char md[EVP_MAX_MD_SIZE];
	int rc = -1;

	d.sha = EVP_MD_CTX_new();
	if (!d.sha || EVP_DigestInit_ex(d.sha, EVP_sha256(), NULL) != 1) {
		fx_err_set(e, FX_INTERNAL, "sha256 unavailable");
		goto out;
	}
	if (fx_gcs_download(object, (size_t)size, digest_sink, &d, &read, e) < 0)
		goto out;
	if (read.generation != meta->generation || (int64_t)d.total != size) {
		fx_err_set(e, FX_ABORTED, "the upload changed while it was being checked: try again");
		goto out;
	}
	fx_err_clear(&ignored);
	if (fx_files_sniff(ctype, d.head, d.nhead, d.total > d.nhead, &ignored) < 0) {
		refuse_upload(object, meta->generation, e, "the upload is not a %s file", ctype);
		goto out;
	}
	EVP_DigestFinal_ex(d.sha, md, NULL);
	if (fx_str_hex(hash, 65, md, 32) < 0) {
		fx_err_set(e, FX_INTERNAL, "sha256 does not fit its buffer");
		goto out;
	}
	if (declared && strcmp(declared, hash) != 0) {
		refuse_upload(object, meta->generation, e, "the upload's sha256 is %s, not the declared one", hash);
		goto out;
	}
	rc = 0;
out:
	EVP_MD_CTX_free(d.sha);
	return rc;
}

/* Marks the file at rel (read as doc) ready with hash, guarded by its version; doc becomes the new read. */
static int mark_ready(struct fx_req *r, const char *rel, struct fx_doc *doc, const char *hash, int64_t generation,
		      struct fx_err *e)
{
	static const char *const mask[] = {"status", "sha256", "generation", "updatedAt", NULL};
	struct fx_value map = {0};
	json_object *writes = json_object_new_array();
	char *name = fx_tenant_name(rel);
	int rc = -1;

	fx_value_map(&map);
	fx_map_set_str(&map, "status", "ready");
	fx_map_set_str(&map, "sha256", hash);
	/* The generation whose bytes were checked: the only one downloads serve. */
	fx_map_set_int(&map, "generation", generation);
	fx_model_map_set_now(&map, "updatedAt");
	if (fx_fswrite_update(writes, name, &map, mask, doc->update_time, NULL, e) < 0 ||
	    fx_firestore_commit(writes, NULL, NULL, NULL, e) < 0)
		goto out;
	fx_firestore_doc_cleanup(doc);
	rc = fx_tenant_get(r, rel, "file", doc, e);
out:
	json_object_put(writes);
	fx_value_cleanup(&map);
	free(name);
	return rc;
}

/*
 * Checks the uploaded object against the file's record: exactly the
 * declared size and content type, bytes of that type, and the declared
 * sha256 if one was given; then marks the file ready with the sha256 of
 * the bytes read. The object is read once, in full, bounded by the
 * declared size.
 */
static int complete(struct fx_req *r, struct fx_err *e)
{
	static const char *const none[] = {NULL};
	const char *rel, *object, *ctype, *status;
	struct fx_gcs_object meta;
	struct fx_doc doc = {0};
	char hash[65];
	json_object *in = NULL;
	int64_t size = 0;
	int rc = -1;

	if (file_rel(r, &rel, e) < 0 || fx_http_req_json(r, true, &in, e) < 0 || fx_json_allow(in, none, "", e) < 0 ||
	    fx_tenant_get(r, rel, "file", &doc, e) < 0)
		goto out;
	status = fx_value_path_str(&doc.fields, "status");
	if (status && strcmp(status, "ready") == 0) {
		rc = send_file(r, 200, &doc, true, e);
		goto out;
	}
	object = fx_value_path_str(&doc.fields, "object");
	fx_value_path_int(&doc.fields, "size", &size);
	if (!object || size < 1 || size > FX_FILE_MAX_SIGNED) {
		fx_err_set(e, FX_INTERNAL, "file %s has no object or size", doc.id);
		goto out;
	}
	/* Recorded before types were checked (or by hand): nothing can match it. */
	if (fx_files_check_type(fx_value_path_str(&doc.fields, "contentType"), "contentType", 400, &ctype, e) < 0) {
		fx_err_clear(e);
		fx_err_set(e, FX_FAILED_PRECONDITION,
			   "the file's recorded content type is not acceptable: delete the file and upload again");
		goto out;
	}
	if (stat_upload(object, size, ctype, &meta, e) < 0 ||
	    read_upload(object, &meta, size, ctype, fx_value_path_str(&doc.fields, "declaredSha256"), hash, e) < 0 ||
	    mark_ready(r, rel, &doc, hash, meta.generation, e) < 0)
		goto out;
	rc = send_file(r, 200, &doc, true, e);
out:
	json_object_put(in);
	fx_firestore_doc_cleanup(&doc);
	return rc;
}

static int list(struct fx_req *r, struct fx_err *e)
{
	static const char *const params[] = {"pageSize", "pageToken", "kind", "productId", NULL};
	const char *kind = fx_http_req_query(r, "kind"), *product_id = fx_http_req_query(r, "productId"), *parent_rel;
	const char *cursor[] = {"createdAt", NULL};
	struct fx_query *q;
	struct fx_value v = {0};
	char sig[300];
	int size, rc = -1;

	if (fx_http_req_query_allow(r, params, e) < 0 || fx_model_page_size(r, &size, e) < 0)
		return -1;
	if (kind && fx_json_enum_index(kind, fx_file_kinds) < 0)
		return fx_err_invalid(e, "kind", "must be product_image, document, report or upload");
	if (product_id && !fx_model_id_valid(product_id))
		return fx_err_invalid(e, "productId", "is not a product id");
	if (fx_str_fmt(sig, sizeof(sig), "files|%s|%s", kind ? kind : "", product_id ? product_id : "") < 0)
		return fx_err_set(e, FX_INTERNAL, "list signature over %zu bytes", sizeof(sig));
	q = fx_tenant_query(r, NULL, "files", &parent_rel, e);
	if (!q)
		return -1;
	if (kind) {
		fx_value_string(&v, kind, strlen(kind));
		rc = fx_fsquery_where(q, "kind", "==", &v, e);
		fx_value_cleanup(&v);
		if (rc < 0)
			goto out;
	}
	if (product_id) {
		fx_value_string(&v, product_id, strlen(product_id));
		rc = fx_fsquery_where(q, "productId", "==", &v, e);
		fx_value_cleanup(&v);
		if (rc < 0)
			goto out;
	}
	rc = fx_model_list_ordered(r, parent_rel, q, "createdAt", true, size, sig, cursor, fx_file_hidden, e);
out:
	fx_fsquery_free(q);
	return rc;
}

static int get(struct fx_req *r, struct fx_err *e)
{
	struct fx_doc doc = {0};
	const char *rel;
	int rc;

	if (file_rel(r, &rel, e) < 0 || fx_tenant_get(r, rel, "file", &doc, e) < 0)
		return -1;
	rc = send_file(r, 200, &doc, true, e);
	fx_firestore_doc_cleanup(&doc);
	return rc;
}

/* Streams the object to the client; the response starts with the first bytes. */
struct stream {
	struct fx_req *r;
	const char *ctype;
	long long size;
	bool started;
};

static int stream_sink(void *ctx, const char *p, size_t n)
{
	struct stream *s = ctx;

	if (!s->started) {
		if (fx_http_resp_start(s->r, 200, s->ctype, s->size) < 0)
			return -1;
		s->started = true;
	}
	return fx_http_resp_write(s->r, p, n);
}

static int content(struct fx_req *r, struct fx_err *e)
{
	struct fx_doc doc = {0};
	struct stream s = {r, NULL, 0, false};
	const char *rel, *status, *object;
	struct fx_buf disposition;
	struct fx_err ignored;
	int64_t size = 0, generation = 0;
	int rc = -1;

	fx_buf_init(&disposition, FX_FILE_DISPOSITION_MAX);
	if (file_rel(r, &rel, e) < 0 || fx_tenant_get(r, rel, "file", &doc, e) < 0)
		goto out;
	status = fx_value_path_str(&doc.fields, "status");
	if (!status || strcmp(status, "ready") != 0) {
		fx_err_set(e, FX_FAILED_PRECONDITION, "the file is still pending");
		goto out;
	}
	object = fx_value_path_str(&doc.fields, "object");
	fx_value_path_int(&doc.fields, "size", &size);
	if (!object || size < 0) {
		fx_err_set(e, FX_INTERNAL, "file %s has no object or size", doc.id);
		goto out;
	}
	s.size = size;
	/* Only an allowlist entry reaches the header; anything else (stored before types were checked) is opaque. */
	fx_err_clear(&ignored);
	if (fx_files_check_type(fx_value_path_str(&doc.fields, "contentType"), "contentType", 400, &s.ctype, &ignored) <
	    0) {
		fx_log_warn("file %s: stored content type refused (%s): sent as application/octet-stream", doc.id,
			    ignored.ndetails ? ignored.details[0].reason : ignored.message);
		s.ctype = "application/octet-stream";
	}
	if (fx_files_disposition(fx_value_path_str(&doc.fields, "name"), &disposition) < 0) {
		fx_err_set(e, FX_INTERNAL, "file %s: Content-Disposition too long", doc.id);
		goto out;
	}
	fx_http_resp_header(r, "Content-Disposition", disposition.data);
	fx_http_resp_header(r, "X-Content-Type-Options", "nosniff");
	/*
	 * One Storage read: the generation recorded when the bytes were checked,
	 * with the recorded size. Files made before generations were recorded
	 * pay a metadata call to learn theirs.
	 */
	if ((fx_value_path_int(&doc.fields, "generation", &generation) && generation > 0
		     ? fx_gcs_download_generation(object, generation, size, (size_t)size, stream_sink, &s, e)
		     : fx_gcs_download(object, (size_t)size, stream_sink, &s, NULL, e)) < 0) {
		if (s.started) {
			/* Bytes already went out: all that is left is to cut the response short. */
			fx_log_error("file %s: download broke off: %s", doc.id, e->message);
			rc = 0;
		}
		goto out;
	}
	rc = s.started ? 0 : fx_http_resp_start(r, 200, s.ctype, 0);
out:
	fx_firestore_doc_cleanup(&doc);
	fx_buf_cleanup(&disposition);
	return rc;
}

struct destroy_ctx {
	struct fx_req *r;
	const char *rel;
};

/*
 * Detaches the file from the product it hangs on and deletes its document,
 * in one commit. Everything comes from this attempt's reads: the file (so
 * an attach that commits meanwhile aborts this attempt, and the next one
 * sees it) and the product its attachedTo names now.
 */
static int destroy_txn(struct fx_txn *t, void *arg, struct fx_err *e)
{
	static const char *const mask[] = {"images", "updatedAt", NULL};
	struct destroy_ctx *c = arg;
	struct fx_doc file = {0}, product = {0};
	struct fx_value map = {0}, *images;
	const struct fx_value *old;
	const char *attached, *product_rel = NULL;
	char *name = NULL;
	const char *file_id = strrchr(c->rel, '/') + 1;
	int rc = -1;

	if (fx_tenant_txn_get(c->r, t->id, c->rel, "file", NULL, &file, e) < 0)
		return -1;
	attached = fx_value_path_str(&file.fields, "attachedTo");
	if (attached && !(product_rel = fx_tenant_path(c->r, NULL, "products", attached, "product", e)))
		fx_err_clear(e); /* an id no product can have: nothing to detach from */
	if (product_rel) {
		if (fx_firestore_batch_get(&product_rel, 1, t->id, &product, e) < 0)
			goto out;
		old = fx_tenant_owns(c->r, &product) ? fx_value_path(&product.fields, "images") : NULL;
		if (old && old->type == FX_V_ARRAY) {
			fx_value_map(&map);
			images = fx_map_set(&map, "images");
			fx_value_array(images);
			for (size_t i = 0; i < old->u.arr.n; i++) {
				const char *id = fx_value_path_str(&old->u.arr.items[i], "fileId");

				if (!id || strcmp(id, file_id) != 0)
					fx_value_copy(fx_value_push(images), &old->u.arr.items[i]);
			}
			fx_model_map_set_now(&map, "updatedAt");
			name = fx_tenant_name(product_rel);
			if (fx_fswrite_update(t->writes, name, &map, mask, product.update_time, NULL, e) < 0)
				goto out;
			free(name);
			name = NULL;
		}
	}
	name = fx_tenant_name(c->rel);
	rc = fx_fswrite_delete(t->writes, name, -1, file.update_time, e);
out:
	fx_firestore_doc_cleanup(&file);
	fx_firestore_doc_cleanup(&product);
	fx_value_cleanup(&map);
	free(name);
	return rc;
}

static int destroy(struct fx_req *r, struct fx_err *e)
{
	struct destroy_ctx c = {r, NULL};
	struct fx_doc doc = {0};
	const char *object;
	int rc = -1;

	if (file_rel(r, &c.rel, e) < 0 || fx_tenant_get(r, c.rel, "file", &doc, e) < 0)
		return -1;
	object = fx_value_path_str(&doc.fields, "object");
	/* The object first: a document without its object is what cleanup repairs, never the reverse. */
	if (object && fx_gcs_delete(object, -1, e) < 0) {
		if (!fx_err_is(e, FX_NOT_FOUND))
			goto out;
		fx_err_clear(e);
	}
	if (fx_firestore_run_transaction(destroy_txn, &c, e) < 0)
		goto out;
	rc = fx_http_resp_send(r, 204, NULL, NULL, 0);
out:
	fx_firestore_doc_cleanup(&doc);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct fx_app app = {"files", routes, sizeof(routes) / sizeof(routes[0]), NULL};

	return fx_worker_main(&app, argc, argv);
}
