#include "files.h"

#include "authz.h"
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
const char *const fx_file_hidden[] = {"organizationId", "object", "declaredSha256", "generation", NULL};

/* RFC 9110 tchar. */
static bool tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static size_t token_len(const char *p)
{
	size_t n = 0;

	while (tchar((unsigned char)p[n]))
		n++;
	return n;
}

static size_t ows_len(const char *p)
{
	size_t n = 0;

	while (p[n] == ' ' || p[n] == '\t')
		n++;
	return n;
}

/*
 * Reads a parameter value (token or quoted-string) at *p into val
 * (unescaped, NUL-terminated) and moves *p past it; -1 when malformed or
 * longer than len - 1.
 */
static int param_value(const char **p, char *val, size_t len)
{
	const char *s = *p;
	size_t n = 0;

	if (*s != '"') {
		size_t t = token_len(s);

		if (t == 0 || fx_str_copy(val, len, s, t) < 0)
			return -1;
		*p = s + t;
		return 0;
	}
	for (s++; *s != '"'; s++) {
		if (*s == '\0')
			return -1; /* unterminated */
		if (*s == '\\' && *++s == '\0')
			return -1;
		if (n + 1 >= len)
			return -1;
		val[n++] = *s;
	}
	val[n] = '\0';
	*p = s + 1;
	return 0;
}

int fx_files_check_type(const char *ctype, const char *field, int unlisted, const char **canon, struct fx_err *e)
{
	size_t n = ctype ? strlen(ctype) : 0, t, st;
	const char *p, *found = NULL;
	bool other_param = false;
	char val[FX_FILE_TYPE_MAX + 1];

	if (n == 0)
		return fx_err_invalid(e, field, "is required");
	if (n > FX_FILE_TYPE_MAX)
		return fx_err_invalid(e, field, "must be at most %d bytes", FX_FILE_TYPE_MAX);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)ctype[i];

		if ((c < 0x20 && c != '\t') || c >= 0x7f)
			return fx_err_invalid(e, field, "must be ASCII without control characters");
	}
	p = ctype + ows_len(ctype);
	t = token_len(p);
	st = t && p[t] == '/' ? token_len(p + t + 1) : 0;
	if (st == 0)
		return fx_err_invalid(e, field, "must be a media type: type/subtype");
	for (size_t i = 0; fx_file_types[i]; i++)
		if (strlen(fx_file_types[i]) == t + 1 + st && strncasecmp(fx_file_types[i], p, t + 1 + st) == 0)
			found = fx_file_types[i];
	p += t + 1 + st;
	for (;;) {
		const char *name;
		size_t nlen;

		p += ows_len(p);
		if (*p == '\0')
			break;
		if (*p != ';')
			return fx_err_invalid(e, field, "must be a media type: type/subtype; name=value");
		p++;
		p += ows_len(p);
		if (*p == '\0' || *p == ';')
			continue; /* an empty parameter: allowed by the grammar */
		name = p;
		nlen = token_len(p);
		p += nlen;
		if (nlen == 0 || *p++ != '=' || param_value(&p, val, sizeof(val)) < 0)
			return fx_err_invalid(e, field, "has a malformed parameter");
		if (!(found && strcmp(found, "text/csv") == 0 && nlen == 7 && strncasecmp(name, "charset", 7) == 0 &&
		      strcasecmp(val, "utf-8") == 0))
			other_param = true;
	}
	if (!found) {
		if (unlisted == 415)
			return fx_err_set(e, FX_UNSUPPORTED_MEDIA_TYPE,
					  "content type %.*s is not accepted: jpeg, png, webp, pdf, csv or xlsx",
					  (int)(t + 1 + st), ctype + ows_len(ctype));
		return fx_err_invalid(e, field, "must be jpeg, png, webp, pdf, csv or xlsx");
	}
	if (other_param)
		return fx_err_invalid(e, field, "takes no parameter but charset=utf-8 (on text/csv)");
	*canon = found;
	return 0;
}

int fx_files_check_kind_type(const char *kind, const char *ctype, const char *field, struct fx_err *e)
{
	if (strcmp(kind, "product_image") == 0 && strncasecmp(ctype, "image/", 6) != 0)
		return fx_err_invalid(e, field, "a product_image must be a jpeg, png or webp image");
	return 0;
}

/* Whether the n bytes at s can start a valid UTF-8 character that needs more bytes than n. */
static bool utf8_cut_short(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		need = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		need = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		need = 4;
	else
		return false;
	if (n >= need)
		return false;
	/* The second byte's range excludes overlong forms, surrogates and code points past U+10FFFF. */
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (n >= 2 && (s[1] < lo || s[1] > hi))
		return false;
	return n < 3 || (s[2] & 0xc0) == 0x80;
}

/* UTF-8 without NUL; with prefix, the last character may be cut short by the end of p. */
static bool utf8_ok(const unsigned char *p, size_t n, bool prefix)
{
	size_t lead = n;

	if (prefix) {
		/* The last character starts at most 3 bytes before the end. */
		for (size_t k = 1; k <= 4 && k <= n; k++) {
			if ((p[n - k] & 0xc0) != 0x80) {
				lead = n - k;
				break;
			}
		}
		if (lead < n && utf8_cut_short(p + lead, n - lead))
			return fx_json_utf8_valid((const char *)p, lead);
	}
	return fx_json_utf8_valid((const char *)p, n);
}

int fx_files_sniff(const char *ctype, const unsigned char *p, size_t n, bool prefix, struct fx_err *e)
{
	bool ok;

	if (strcmp(ctype, "image/jpeg") == 0)
		ok = n >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff;
	else if (strcmp(ctype, "image/png") == 0)
		ok = n >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0;
	else if (strcmp(ctype, "image/webp") == 0)
		ok = n >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0;
	else if (strcmp(ctype, "application/pdf") == 0)
		ok = n >= 5 && memcmp(p, "%PDF-", 5) == 0;
	else if (strcmp(ctype, "text/csv") == 0)
		ok = utf8_ok(p, n, prefix);
	else if (strcmp(ctype, fx_file_types[5]) == 0)
		ok = n >= 4 && memcmp(p, "PK\x03\x04", 4) == 0; /* xlsx is a zip */
	else
		return fx_err_invalid(e, "contentType", "is not on the allowlist");
	if (!ok)
		return fx_err_set(e, FX_INVALID_ARGUMENT, "the bytes are not a %s file", ctype);
	return 0;
}

int fx_files_base_name(const char *name, const char *field, const char **base, struct fx_err *e)
{
	size_t n = name ? strlen(name) : 0;
	const char *b = name;

	if (n == 0)
		return fx_err_invalid(e, field, "is required");
	if (n > FX_FILE_NAME_MAX)
		return fx_err_invalid(e, field, "must be at most %d bytes", FX_FILE_NAME_MAX);
	if (!fx_json_utf8_valid(name, n))
		return fx_err_invalid(e, field, "must be UTF-8");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c < 0x20 || c == 0x7f)
			return fx_err_invalid(e, field, "must not contain control characters");
		if (c == '/' || c == '\\')
			b = name + i + 1;
	}
	if (b[strspn(b, ".")] == '\0')
		return fx_err_invalid(e, field, "must end in a file name, not a directory, \".\" or \"..\"");
	*base = b;
	return 0;
}

int fx_files_safe_name(const char *name, const char *field, char *out, size_t len, struct fx_err *e)
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
			return fx_err_set(e, FX_INTERNAL, "no room for a safe file name");
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

/* Characters the ASCII filename= form keeps as they are. */
static bool fallback_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr(" -_.,()[]+!#$&'@~", c) != NULL);
}

int fx_files_disposition(const char *name, struct fx_buf *out)
{
	const char *b = name ? name : "";
	struct fx_buf shown;
	size_t n;
	bool utf8;
	int rc = -1;

	for (const char *p = b; *p; p++)
		if (*p == '/' || *p == '\\')
			b = p + 1;
	n = strlen(b);
	if (n > FX_FILE_NAME_MAX) {
		n = FX_FILE_NAME_MAX;
		while (n > 0 && ((unsigned char)b[n] & 0xc0) == 0x80)
			n--; /* cut before a character, not inside one */
	}
	if (b[strspn(b, ".")] == '\0') {
		b = "file";
		n = 4;
	}
	/* The name as shown: control characters become '_'. */
	fx_buf_init(&shown, FX_FILE_NAME_MAX + 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)b[i];

		if (fx_buf_append(&shown, (c < 0x20 || c == 0x7f) ? "_" : &b[i], 1) < 0)
			goto out;
	}
	utf8 = fx_json_utf8_valid(shown.data, shown.len);
	fx_buf_reset(out);
	if (fx_buf_puts(out, "attachment; filename=\"") < 0)
		goto out;
	for (size_t i = 0; i < shown.len; i++) {
		unsigned char c = (unsigned char)shown.data[i];

		if (utf8 && (c & 0xc0) == 0x80)
			continue; /* one '_' per character, written at its first byte */
		if (fx_buf_append(out, fallback_char(c) ? &shown.data[i] : "_", 1) < 0)
			goto out;
	}
	if (fx_buf_puts(out, "\"") < 0 || (utf8 && (fx_buf_puts(out, "; filename*=UTF-8''") < 0 ||
						    fx_httpc_url_encode(out, shown.data, shown.len) < 0)))
		goto out;
	rc = 0;
out:
	fx_buf_cleanup(&shown);
	return rc;
}

static int sha256_hex(const void *p, size_t n, char *out, size_t len)
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256(p, n, md);
	return fx_str_hex(out, len, md, sizeof(md));
}

void fx_files_record(const struct fx_req *r, const struct fx_file_meta *m, struct fx_value *fields)
{
	fx_map_set_str(fields, "kind", m->kind);
	fx_map_set_str(fields, "name", m->name);
	fx_map_set_str(fields, "contentType", m->content_type);
	fx_map_set_int(fields, "size", m->size);
	if (m->sha256)
		fx_map_set_str(fields, "sha256", m->sha256);
	if (m->product_id)
		fx_map_set_str(fields, "productId", m->product_id);
	if (m->declared_sha256)
		fx_map_set_str(fields, "declaredSha256", m->declared_sha256);
	fx_map_set_str(fields, "status", "pending");
	fx_map_set_str(fields, "object", m->object);
	fx_map_set_str(fields, "createdBy", r->principal->uid);
	fx_tenant_stamp(r, fields);
	fx_model_map_set_now(fields, "createdAt");
	fx_model_map_set_now(fields, "updatedAt");
}

int fx_files_store(struct fx_req *r, const char *kind, const char *name, const char *ctype, const void *data, size_t n,
		   const char *product_id, struct fx_doc *out, struct fx_err *e)
{
	static const char *const ready_mask[] = {"status", "generation", "updatedAt", NULL};
	struct fx_gcs_object stored;
	char id[FX_ID_LEN + 1], safe[128], hash[65], *doc_name = NULL;
	struct fx_value fields = {0}, ready = {0};
	json_object *writes = NULL;
	const char *rel, *object, *base, *mt;
	struct fx_err ignored;
	int rc = -1;

	if (fx_files_base_name(name, "X-File-Name", &base, e) < 0 ||
	    fx_files_safe_name(base, "X-File-Name", safe, sizeof(safe), e) < 0 ||
	    fx_files_check_type(ctype, "Content-Type", 400, &mt, e) < 0)
		return -1;
	fx_model_id_new(id);
	rel = fx_tenant_path(r, NULL, "files", id, "file", e);
	object = fx_arena_printf(r->arena, "orgs/%s/%s/%s/%s", r->principal->organization_id, kind, id, safe);
	if (!rel || !object)
		return -1;
	if (sha256_hex(data, n, hash, sizeof(hash)) < 0)
		return fx_err_set(e, FX_INTERNAL, "sha256 does not fit its buffer");
	fx_value_map(&fields);
	fx_files_record(r,
			&(struct fx_file_meta){.kind = kind,
					       .name = base,
					       .content_type = mt,
					       .size = (int64_t)n,
					       .sha256 = hash,
					       .product_id = product_id,
					       .object = object},
			&fields);
	doc_name = fx_tenant_name(rel);
	writes = json_object_new_array();
	if (fx_fswrite_create(writes, doc_name, &fields, NULL, e) < 0 ||
	    fx_firestore_commit(writes, NULL, NULL, NULL, e) < 0)
		goto out;
	/* ifGenerationMatch=0: a retried upload can never overwrite another file's bytes. */
	if (fx_gcs_upload(object, mt, data, n, 0, &stored, e) < 0) {
		/*
		 * The bytes may have arrived although the answer did not (a timeout, a
		 * cut connection). The pending document goes only once the object is
		 * known to be gone; otherwise it stays, recording bytes that the
		 * cleanup job removes with it, instead of bytes nothing records.
		 */
		fx_err_clear(&ignored);
		if (fx_gcs_delete(object, -1, &ignored) < 0 && !fx_err_is(&ignored, FX_NOT_FOUND)) {
			fx_log_warn("file %s: upload failed and Storage cannot say whether its bytes arrived: it stays "
				    "pending: %s",
				    id, ignored.message);
			goto out;
		}
		fx_err_clear(&ignored);
		if (fx_firestore_delete(rel, &ignored) < 0)
			fx_log_warn("file %s: object upload failed and its pending document stays: %s", id,
				    ignored.message);
		goto out;
	}
	json_object_put(writes);
	writes = json_object_new_array();
	fx_value_map(&ready);
	fx_map_set_str(&ready, "status", "ready");
	/* Downloads read these very bytes, with no metadata call (size and type are recorded already). */
	fx_map_set_int(&ready, "generation", stored.generation);
	fx_model_map_set_now(&ready, "updatedAt");
	if (fx_fswrite_update(writes, doc_name, &ready, ready_mask, NULL, NULL, e) < 0 ||
	    fx_firestore_commit(writes, NULL, NULL, NULL, e) < 0)
		goto out;
	rc = fx_firestore_get(rel, out, e);
out:
	json_object_put(writes);
	fx_value_cleanup(&fields);
	fx_value_cleanup(&ready);
	free(doc_name);
	return rc;
}

json_object *fx_files_json(const struct fx_doc *doc, bool with_url, struct fx_err *e)
{
	json_object *out = fx_model_doc_json(doc, fx_file_hidden);
	const char *status = fx_value_path_str(&doc->fields, "status");
	const char *object = fx_value_path_str(&doc->fields, "object");
	struct fx_buf url;

	if (!with_url || !status || strcmp(status, "ready") != 0 || !object)
		return out;
	fx_buf_init(&url, 16384);
	if (fx_gcssign_url("GET", object, FX_FILE_URL_SECONDS, NULL, NULL, &url, e) == 0) {
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
