#include "files.h"

#include "authz.h"
#include "fswrite.h"
#include "gcs.h"
#include "gcssign.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "model.h"
#include "str.h"
#include "tenant.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

const char *const fx_file_kinds[] = {"product_image", "document", "report", "upload", NULL};
const char *const fx_file_types[] = {"image/jpeg", "image/png",
				     "image/webp", "application/pdf",
				     "text/csv",   "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
				     NULL};

/* The media type without parameters, lower-cased into out. */
static void media_type(const char *ctype, char *out, size_t len)
{
	size_t i = 0;

	for (; ctype[i] && ctype[i] != ';' && ctype[i] != ' ' && i + 1 < len; i++)
		out[i] = (char)((ctype[i] >= 'A' && ctype[i] <= 'Z') ? ctype[i] + 32 : ctype[i]);
	out[i] = '\0';
}

int fx_file_check_type(const char *ctype, const char *field, struct fx_err *e)
{
	char mt[128];

	if (!ctype || !*ctype)
		return fx_err_invalid(e, field, "is required");
	media_type(ctype, mt, sizeof(mt));
	if (fx_json_enum_index(mt, fx_file_types) < 0)
		return fx_err_set(e, 415, "INVALID_ARGUMENT",
				  "content type %.80s is not accepted: jpeg, png, webp, pdf, csv or xlsx", mt);
	return 0;
}

int fx_file_check_kind_type(const char *kind, const char *ctype, const char *field, struct fx_err *e)
{
	if (strcmp(kind, "product_image") == 0 && strncasecmp(ctype, "image/", 6) != 0)
		return fx_err_invalid(e, field, "a product_image must be a jpeg, png or webp image");
	return 0;
}

int fx_file_sniff(const char *ctype, const unsigned char *p, size_t n, struct fx_err *e)
{
	char mt[128];
	bool ok;

	media_type(ctype, mt, sizeof(mt));
	if (strcmp(mt, "image/jpeg") == 0)
		ok = n >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff;
	else if (strcmp(mt, "image/png") == 0)
		ok = n >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0;
	else if (strcmp(mt, "image/webp") == 0)
		ok = n >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0;
	else if (strcmp(mt, "application/pdf") == 0)
		ok = n >= 5 && memcmp(p, "%PDF-", 5) == 0;
	else if (strcmp(mt, "text/csv") == 0)
		ok = fx_utf8_valid((const char *)p, n);
	else
		ok = n >= 4 && memcmp(p, "PK\x03\x04", 4) == 0; /* xlsx is a zip */
	if (!ok)
		return fx_err_set(e, 400, "INVALID_ARGUMENT", "the bytes are not a %s file", mt);
	return 0;
}

int fx_file_safe_name(const char *name, const char *field, char *out, size_t len, struct fx_err *e)
{
	const char *base = name, *ext;
	size_t n = name ? strlen(name) : 0, o = 0, elen;

	if (n == 0)
		return fx_err_invalid(e, field, "is required");
	if (n > FX_FILE_NAME_MAX)
		return fx_err_invalid(e, field, "must be at most %d bytes", FX_FILE_NAME_MAX);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c < 0x20 || c == 0x7f)
			return fx_err_invalid(e, field, "must not contain control characters");
		if (c == '/' || c == '\\')
			base = name + i + 1;
	}
	while (*base == '.')
		base++;
	ext = strrchr(base, '.');
	elen = ext ? strlen(ext) : 0;
	if (elen > 10) {
		elen = 0;
		ext = NULL;
	}
	for (const char *p = base; *p && (!ext || p < ext) && o + elen + 1 < len && o < 100 - elen; p++) {
		char c = *p;
		bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
			    c == '_' || c == '.';

		out[o++] = safe ? c : '_';
	}
	if (o == 0) {
		if (fx_str_fmt(out, len, "file%s", ext ? ext : "") < 0)
			return FX_ERR_INTERNAL(e, "no room for a safe file name");
		return 0;
	}
	for (size_t i = 0; ext && i < elen && o + 1 < len; i++) {
		char c = ext[i];
		bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.';

		out[o++] = safe ? c : '_';
	}
	out[o] = '\0';
	return 0;
}

static int sha256_hex(const void *p, size_t n, char *out, size_t len)
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256(p, n, md);
	return fx_str_hex(out, len, md, sizeof(md));
}

int fx_file_store(struct fx_req *r, const char *kind, const char *name, const char *ctype, const void *data, size_t n,
		  const char *product_id, struct fx_doc *out, struct fx_err *e)
{
	static const char *const ready_mask[] = {"status", "updatedAt", NULL};
	char id[FX_ID_LEN + 1], safe[128], hash[65], *doc_name = NULL, mt[128];
	struct fx_value fields = {0}, ready = {0};
	json_object *writes = NULL;
	const char *rel, *object;
	struct fx_err ignored;
	int rc = -1;

	if (fx_file_safe_name(name, "X-File-Name", safe, sizeof(safe), e) < 0)
		return -1;
	media_type(ctype, mt, sizeof(mt));
	fx_id_new(id);
	rel = fx_tenant_path(r, NULL, "files", id, "file", e);
	object = fx_arena_printf(r->arena, "orgs/%s/%s/%s/%s", r->principal->organization_id, kind, id, safe);
	if (!rel || !object)
		return -1;
	if (sha256_hex(data, n, hash, sizeof(hash)) < 0)
		return FX_ERR_INTERNAL(e, "sha256 does not fit its buffer");
	fx_value_map(&fields);
	fx_map_set_str(&fields, "kind", kind);
	fx_map_set_str(&fields, "name", name);
	fx_map_set_str(&fields, "contentType", mt);
	fx_map_set_int(&fields, "size", (int64_t)n);
	fx_map_set_str(&fields, "sha256", hash);
	if (product_id)
		fx_map_set_str(&fields, "productId", product_id);
	fx_map_set_str(&fields, "status", "pending");
	fx_map_set_str(&fields, "object", object);
	fx_map_set_str(&fields, "createdBy", r->principal->uid);
	fx_tenant_stamp(r, &fields);
	fx_map_set_now(&fields, "createdAt");
	fx_map_set_now(&fields, "updatedAt");
	doc_name = fx_tenant_name(rel);
	writes = json_object_new_array();
	if (fx_write_create(writes, doc_name, &fields, NULL, e) < 0 || fx_fs_commit(writes, NULL, NULL, NULL, e) < 0)
		goto out;
	/* ifGenerationMatch=0: a retried upload can never overwrite another file's bytes. */
	if (fx_gcs_upload(object, mt, data, n, 0, NULL, e) < 0) {
		fx_err_clear(&ignored);
		if (fx_fs_delete(rel, &ignored) < 0)
			fx_log_warn("file %s: object upload failed and its pending document stays: %s", id,
				    ignored.message);
		goto out;
	}
	json_object_put(writes);
	writes = json_object_new_array();
	fx_value_map(&ready);
	fx_map_set_str(&ready, "status", "ready");
	fx_map_set_now(&ready, "updatedAt");
	if (fx_write_update(writes, doc_name, &ready, ready_mask, NULL, NULL, e) < 0 ||
	    fx_fs_commit(writes, NULL, NULL, NULL, e) < 0)
		goto out;
	rc = fx_fs_get(rel, out, e);
out:
	json_object_put(writes);
	fx_value_cleanup(&fields);
	fx_value_cleanup(&ready);
	free(doc_name);
	return rc;
}

json_object *fx_file_json(const struct fx_doc *doc, bool with_url, struct fx_err *e)
{
	static const char *const hidden[] = {"organizationId", "object", NULL};
	json_object *out = fx_doc_json(doc, hidden);
	const char *status = fx_value_path_str(&doc->fields, "status");
	const char *object = fx_value_path_str(&doc->fields, "object");
	struct fx_buf url;

	if (!with_url || !status || strcmp(status, "ready") != 0 || !object)
		return out;
	fx_buf_init(&url, 16384);
	if (fx_gcs_sign_url("GET", object, FX_FILE_URL_SECONDS, NULL, NULL, &url, e) == 0) {
		char expires[40];

		fx_ts_format((int64_t)time(NULL) + FX_FILE_URL_SECONDS, 0, 3, expires);
		json_object_object_add(out, "downloadUrl", json_object_new_string(url.data));
		json_object_object_add(out, "downloadUrlExpiresAt", json_object_new_string(expires));
	} else {
		json_object_put(out);
		out = NULL;
	}
	fx_buf_cleanup(&url);
	return out;
}
