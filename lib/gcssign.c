#include "gcssign.h"

#include "config.h"
#include "gauth.h"
#include "gcs.h"
#include "httpc.h"
#include "mem.h"
#include "str.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define ALGORITHM "GOOG4-RSA-SHA256"
#define SCOPE_TAIL "auto/storage/goog4_request"
#define UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
#define MAX_SIG 512 /* a 4096-bit key */
#define MAX_METHOD 16
#define MAX_BUCKET 222
#define MAX_HOST 255
#define MAX_EMAIL 254
#define MAX_HEADER_NAME 256
#define MAX_HEADER_VALUE 4096
#define MAX_QUERY_PART 4096
#define MAX_PATH (4 * FX_GCS_MAX_NAME)
#define WORK_MAX (256u * 1024) /* canonical request and string to sign */
#define LAST_DATE 253402300799LL /* 9999-12-31T23:59:59Z */

/* A signed header (lower-cased name, canonical value) or an encoded query parameter. */
struct pair {
	char *k;
	char *v;
};

struct work {
	struct pair hdr[FX_GCS_SIGN_MAX_EXTRA + 1];
	size_t nhdr;
	struct pair qry[FX_GCS_SIGN_MAX_EXTRA + 5];
	size_t nqry;
};

static void work_cleanup(struct work *w)
{
	for (size_t i = 0; i < w->nhdr; i++) {
		free(w->hdr[i].k);
		free(w->hdr[i].v);
	}
	for (size_t i = 0; i < w->nqry; i++) {
		free(w->qry[i].k);
		free(w->qry[i].v);
	}
	w->nhdr = w->nqry = 0;
}

static int cmp_pair(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;
	int c = strcmp(x->k, y->k);

	return c ? c : strcmp(x->v, y->v);
}

static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
	       c == '_' || c == '~';
}

/* Appends s percent-encoded (upper-case hex), keeping unreserved bytes and, with keep_slash, '/'. */
static int encode(struct fx_buf *b, const char *s, size_t n, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char enc[3] = {'%', hex[c >> 4], hex[c & 15]};

		if (unreserved(c) || (keep_slash && c == '/')) {
			if (fx_buf_append(b, &s[i], 1) < 0)
				return -1;
		} else if (fx_buf_append(b, enc, 3) < 0) {
			return -1;
		}
	}
	return 0;
}

/* A new string holding s percent-encoded; NULL when longer than max once encoded. */
static char *encoded(const char *s, size_t n, size_t max)
{
	struct fx_buf b;

	fx_buf_init(&b, max);
	if (encode(&b, s, n, false) < 0) {
		fx_buf_cleanup(&b);
		return NULL;
	}
	return fx_buf_take(&b);
}

/* ---- checking the request ---- */

static bool bucket_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > MAX_BUCKET)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

/* A DNS name or IPv4 address, or a bracketed IPv6 address, each with an optional :port. */
static bool host_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > MAX_HOST)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		      c == '.' || c == ':' || c == '[' || c == ']' || c == '_'))
			return false;
	}
	return true;
}

/* Length of host without its ":port" ("[::1]:80" keeps "[::1]"). */
static size_t host_name_len(const char *host)
{
	const char *end;

	if (host[0] == '[') {
		end = strchr(host, ']');
		return end ? (size_t)(end - host) + 1 : strlen(host);
	}
	end = strchr(host, ':');
	return end ? (size_t)(end - host) : strlen(host);
}

static bool method_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > MAX_METHOD)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 'A' || s[i] > 'Z')
			return false;
	return true;
}

static bool email_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > MAX_EMAIL)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

/* An encoded absolute path: printable ASCII without space, '?' or '#'. */
static bool path_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > MAX_PATH || s[0] != '/')
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f || s[i] == '?' || s[i] == '#')
			return false;
	return true;
}

/*
 * Adds "Name: value" as a signed header: the name lower-cased, the value
 * trimmed with inner runs of spaces and tabs collapsed to one space.
 */
static int add_header(struct work *w, const char *line, struct fx_err *e)
{
	const char *colon = strchr(line, ':'), *v;
	size_t nlen = colon ? (size_t)(colon - line) : 0;
	struct fx_buf val;
	bool space = false;
	char *name;

	if (nlen == 0 || nlen > MAX_HEADER_NAME)
		return fx_err_invalid(e, "headers", "header \"%.60s\" is not \"Name: value\"", line);
	if (w->nhdr >= sizeof(w->hdr) / sizeof(w->hdr[0]))
		return fx_err_invalid(e, "headers", "more than %d signed headers", FX_GCS_SIGN_MAX_EXTRA);
	name = fx_mem_xstrndup(line, nlen);
	for (size_t i = 0; i < nlen; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c <= 0x20 || c >= 0x7f) {
			free(name);
			return fx_err_invalid(e, "headers", "header name \"%.60s\" has a forbidden character", line);
		}
		if (c >= 'A' && c <= 'Z')
			name[i] = (char)(c + ('a' - 'A'));
	}
	fx_buf_init(&val, MAX_HEADER_VALUE);
	for (v = colon + 1; *v; v++) {
		unsigned char c = (unsigned char)*v;

		if (c == ' ' || c == '\t') {
			space = val.len > 0;
			continue;
		}
		if (c < 0x20 || c == 0x7f || (space && fx_buf_append(&val, " ", 1) < 0) ||
		    fx_buf_append(&val, v, 1) < 0) {
			fx_err_invalid(e, "headers", "header %.60s: value too long or with control characters", name);
			fx_buf_cleanup(&val);
			free(name);
			return -1;
		}
		space = false;
	}
	w->hdr[w->nhdr].k = name;
	w->hdr[w->nhdr].v = fx_buf_take(&val);
	w->nhdr++;
	return 0;
}

static int add_query(struct work *w, const char *key, size_t klen, const char *value, size_t vlen)
{
	char *k = encoded(key, klen, MAX_QUERY_PART), *v = encoded(value, vlen, MAX_QUERY_PART);

	if (!k || !v || w->nqry >= sizeof(w->qry) / sizeof(w->qry[0])) {
		free(k);
		free(v);
		return -1;
	}
	w->qry[w->nqry].k = k;
	w->qry[w->nqry].v = v;
	w->nqry++;
	return 0;
}

/* The caller's raw key, value pairs; the keys this code sets are refused. */
static int add_extra_query(struct work *w, const char *const *query, struct fx_err *e)
{
	static const char *const reserved[] = {"X-Goog-Algorithm", "X-Goog-Credential",	   "X-Goog-Date",
					       "X-Goog-Expires",   "X-Goog-SignedHeaders", "X-Goog-Signature"};
	size_t count = 0;

	for (const char *const *p = query; p && *p; p += 2) {
		if (!p[1])
			return fx_err_invalid(e, "query", "query parameter %.60s without a value", p[0]);
		if (++count > FX_GCS_SIGN_MAX_EXTRA)
			return fx_err_invalid(e, "query", "more than %d query parameters", FX_GCS_SIGN_MAX_EXTRA);
		if (!p[0][0])
			return fx_err_invalid(e, "query", "query parameter without a name");
		for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
			if (strcasecmp(p[0], reserved[i]) == 0)
				return fx_err_invalid(e, "query", "query parameter %s is set by the signer",
						      reserved[i]);
		if (add_query(w, p[0], strlen(p[0]), p[1], strlen(p[1])) < 0)
			return fx_err_invalid(e, "query", "query parameter %.60s is too long", p[0]);
	}
	return 0;
}

static int sha256_hex(const char *p, size_t n, char out[65], struct fx_err *e)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (EVP_Digest(p, n, md, &len, EVP_sha256(), NULL) != 1 || len != 32)
		return fx_err_set(e, FX_INTERNAL, "sha-256 of the canonical request failed");
	if (fx_str_hex(out, 65, md, len) < 0)
		return fx_err_set(e, FX_INTERNAL, "sha-256 does not fit its buffer");
	return 0;
}

static int copy_out(struct fx_buf *dst, const struct fx_buf *src, const char *what, struct fx_err *e)
{
	if (!dst)
		return 0;
	fx_buf_reset(dst);
	if (fx_buf_append(dst, src->data ? src->data : "", src->len) < 0)
		return fx_err_invalid(e, "url", "%s longer than its buffer's %zu bytes", what, dst->max);
	return 0;
}

static int check_request(const struct fx_signed_url_req *q, struct fx_err *e)
{
	if (!method_ok(q->method))
		return fx_err_invalid(e, "method", "method must be 1..%d upper-case letters", MAX_METHOD);
	if (!bucket_ok(q->bucket))
		return fx_err_invalid(e, "bucket", "bucket name must be 1..%d of a-z 0-9 - _ .", MAX_BUCKET);
	if (q->object && *q->object && fx_gcs_check_name(q->object, e) < 0)
		return -1;
	if (q->expires_s < 1 || q->expires_s > FX_GCS_SIGN_MAX_EXPIRES)
		return fx_err_invalid(e, "expires", "expiry must be 1..%d seconds", FX_GCS_SIGN_MAX_EXPIRES);
	if (q->now < 0 || q->now > LAST_DATE)
		return fx_err_invalid(e, "now", "signing time out of range");
	if (q->host && !host_ok(q->host))
		return fx_err_invalid(e, "host", "host must be a host name with an optional port");
	if (q->style == FX_GCS_BUCKET_BOUND_HOSTNAME && !q->host)
		return fx_err_invalid(e, "host", "a bucket-bound hostname needs the host");
	if (q->scheme && strcmp(q->scheme, "https") != 0 && strcmp(q->scheme, "http") != 0)
		return fx_err_invalid(e, "scheme", "scheme must be https or http");
	if (!email_ok(q->email))
		return fx_err_invalid(e, "email", "service account email missing or malformed");
	if (q->path && !path_ok(q->path))
		return fx_err_invalid(e, "path", "path must be an encoded absolute path");
	return 0;
}

/* The resource path: q->path, or /bucket/object (path style) or /object. */
static int build_path(const struct fx_signed_url_req *q, struct fx_buf *path)
{
	bool has_object = q->object && *q->object;

	if (q->path)
		return fx_buf_puts(path, q->path);
	if (q->style == FX_GCS_PATH_STYLE) {
		if (fx_buf_puts(path, "/") < 0 || encode(path, q->bucket, strlen(q->bucket), false) < 0)
			return -1;
		if (!has_object)
			return 0;
	}
	if (fx_buf_puts(path, "/") < 0)
		return -1;
	return has_object ? encode(path, q->object, strlen(q->object), true) : 0;
}

int fx_gcssign_signed_url(const struct fx_signed_url_req *q, fx_signer sign, void *ctx, struct fx_buf *url,
			  struct fx_buf *canonical_request_out, struct fx_buf *string_to_sign_out, struct fx_err *e)
{
	const char *host = q->host ? q->host : FX_GCS_DEFAULT_HOST;
	const char *scheme = q->scheme ? q->scheme : "https";
	const char *payload = UNSIGNED_PAYLOAD;
	struct work w = {0};
	struct fx_buf path, signed_headers, cred, cr, sts, host_header;
	char stamp[17], date[9], digest[65], expires[24], sig_hex[2 * MAX_SIG + 1];
	unsigned char sig[MAX_SIG];
	size_t sig_len = sizeof(sig);
	struct tm tm;
	time_t now;
	bool virtual_host = q->style == FX_GCS_VIRTUAL_HOSTED_STYLE, bad;
	int rc = -1;

	fx_buf_init(&path, MAX_PATH + 16);
	fx_buf_init(&signed_headers, WORK_MAX);
	fx_buf_init(&cred, 1024);
	fx_buf_init(&cr, WORK_MAX);
	fx_buf_init(&sts, 1024);
	fx_buf_init(&host_header, 2 * MAX_HOST + 16);
	if (check_request(q, e) < 0)
		goto out;
	now = (time_t)q->now;
	if (!gmtime_r(&now, &tm) || strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm) != 16) {
		fx_err_invalid(e, "now", "signing time out of range");
		goto out;
	}
	if (fx_str_copy(date, sizeof(date), stamp, 8) < 0) {
		fx_err_set(e, FX_INTERNAL, "signing date does not fit");
		goto out;
	}

	/* Headers: host first, then the caller's, sorted by name; names must be unique. */
	if ((virtual_host && fx_buf_printf(&host_header, "%s.", q->bucket) < 0) ||
	    fx_buf_append(&host_header, host, host_name_len(host)) < 0) {
		fx_err_invalid(e, "host", "host header longer than %d bytes", 2 * MAX_HOST + 16);
		goto out;
	}
	w.hdr[0].k = fx_mem_xstrdup("host");
	w.hdr[0].v = fx_mem_xstrdup(host_header.data);
	w.nhdr = 1;
	for (const char *const *h = q->headers; h && *h; h++)
		if (add_header(&w, *h, e) < 0)
			goto out;
	qsort(w.hdr, w.nhdr, sizeof(w.hdr[0]), cmp_pair);
	for (size_t i = 0; i < w.nhdr; i++) {
		if (i > 0 && strcmp(w.hdr[i - 1].k, w.hdr[i].k) == 0) {
			fx_err_invalid(e, "headers", "header %.60s given twice (host is set by the signer)",
				       w.hdr[i].k);
			goto out;
		}
		if (strcmp(w.hdr[i].k, "x-goog-content-sha256") == 0)
			payload = w.hdr[i].v;
		if ((i > 0 && fx_buf_puts(&signed_headers, ";") < 0) || fx_buf_puts(&signed_headers, w.hdr[i].k) < 0) {
			fx_err_invalid(e, "headers", "signed headers too long");
			goto out;
		}
	}

	/* Query: the signer's parameters and the caller's, encoded, sorted. */
	if (fx_buf_printf(&cred, "%s/%s/" SCOPE_TAIL, q->email, date) < 0 ||
	    fx_str_fmt(expires, sizeof(expires), "%lld", (long long)q->expires_s) < 0 ||
	    add_query(&w, "X-Goog-Algorithm", 16, ALGORITHM, strlen(ALGORITHM)) < 0 ||
	    add_query(&w, "X-Goog-Credential", 17, cred.data, cred.len) < 0 ||
	    add_query(&w, "X-Goog-Date", 11, stamp, 16) < 0 ||
	    add_query(&w, "X-Goog-Expires", 14, expires, strlen(expires)) < 0 ||
	    add_query(&w, "X-Goog-SignedHeaders", 20, signed_headers.data, signed_headers.len) < 0) {
		fx_err_invalid(e, "headers", "signed headers too long");
		goto out;
	}
	if (add_extra_query(&w, q->query, e) < 0)
		goto out;
	qsort(w.qry, w.nqry, sizeof(w.qry[0]), cmp_pair);

	if (build_path(q, &path) < 0) {
		fx_err_invalid(e, "object", "object name too long");
		goto out;
	}

	/* METHOD \n PATH \n QUERY \n HEADERS(each "name:value\n") \n SIGNED_HEADERS \n PAYLOAD */
	bad = fx_buf_printf(&cr, "%s\n%s\n", q->method, path.data) < 0;
	for (size_t i = 0; i < w.nqry; i++)
		bad |= fx_buf_printf(&cr, "%s%s=%s", i ? "&" : "", w.qry[i].k, w.qry[i].v) < 0;
	bad |= fx_buf_puts(&cr, "\n") < 0;
	for (size_t i = 0; i < w.nhdr; i++)
		bad |= fx_buf_printf(&cr, "%s:%s\n", w.hdr[i].k, w.hdr[i].v) < 0;
	if (bad || fx_buf_printf(&cr, "\n%s\n%s", signed_headers.data, payload) < 0) {
		fx_err_invalid(e, "headers", "canonical request longer than %u bytes", WORK_MAX);
		goto out;
	}
	if (sha256_hex(cr.data, cr.len, digest, e) < 0)
		goto out;
	if (fx_buf_printf(&sts, ALGORITHM "\n%s\n%s/" SCOPE_TAIL "\n%s", stamp, date, digest) < 0) {
		fx_err_set(e, FX_INTERNAL, "string to sign exceeds its bound");
		goto out;
	}

	if (sign(ctx, sts.data, sts.len, sig, &sig_len, e) < 0)
		goto out;
	if (sig_len == 0 || fx_str_hex(sig_hex, sizeof(sig_hex), sig, sig_len) < 0) {
		fx_err_set(e, FX_INTERNAL, "signer returned a %zu-byte signature", sig_len);
		goto out;
	}

	fx_buf_reset(url);
	bad = fx_buf_printf(url, "%s://", scheme) < 0;
	if (virtual_host)
		bad |= fx_buf_printf(url, "%s.", q->bucket) < 0;
	bad |= fx_buf_printf(url, "%s%s?", host, path.data) < 0;
	for (size_t i = 0; i < w.nqry; i++)
		bad |= fx_buf_printf(url, "%s=%s&", w.qry[i].k, w.qry[i].v) < 0;
	if (bad || fx_buf_printf(url, "X-Goog-Signature=%s", sig_hex) < 0) {
		fx_err_invalid(e, "url", "signed url longer than its buffer's %zu bytes", url->max);
		goto out;
	}
	if (copy_out(canonical_request_out, &cr, "canonical request", e) < 0 ||
	    copy_out(string_to_sign_out, &sts, "string to sign", e) < 0)
		goto out;
	rc = 0;
out:
	work_cleanup(&w);
	fx_buf_cleanup(&path);
	fx_buf_cleanup(&signed_headers);
	fx_buf_cleanup(&cred);
	fx_buf_cleanup(&cr);
	fx_buf_cleanup(&sts);
	fx_buf_cleanup(&host_header);
	return rc;
}

int fx_gcssign_upload_headers(struct fx_gcssign_upload_headers *h, const char *content_type, int64_t size,
			      struct fx_err *e)
{
	static const char *const names[FX_GCS_UPLOAD_HEADERS] = {"Content-Type", "x-goog-content-length-range",
								 "x-goog-if-generation-match"};
	size_t n = content_type ? strlen(content_type) : 0;
	int w[FX_GCS_UPLOAD_HEADERS];

	if (n == 0 || n > FX_GCS_UPLOAD_TYPE_MAX)
		return fx_err_invalid(e, "contentType", "content type must be 1..%d bytes", FX_GCS_UPLOAD_TYPE_MAX);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)content_type[i] < 0x20 || (unsigned char)content_type[i] >= 0x7f)
			return fx_err_invalid(e, "contentType", "content type must be printable ASCII");
	if (size < 0)
		return fx_err_invalid(e, "size", "size must not be negative");
	w[0] = fx_str_fmt(h->line[0], sizeof(h->line[0]), "%s: %s", names[0], content_type);
	w[1] = fx_str_fmt(h->line[1], sizeof(h->line[1]), "%s: %lld,%lld", names[1], (long long)size, (long long)size);
	w[2] = fx_str_fmt(h->line[2], sizeof(h->line[2]), "%s: 0", names[2]);
	for (size_t i = 0; i < FX_GCS_UPLOAD_HEADERS; i++) {
		if (w[i] < 0)
			return fx_err_set(e, FX_INTERNAL, "upload header %s does not fit", names[i]);
		h->names[i] = names[i];
		h->values[i] = h->line[i] + strlen(names[i]) + 2;
		h->lines[i] = h->line[i];
	}
	h->lines[FX_GCS_UPLOAD_HEADERS] = NULL;
	return 0;
}

/* ---- production: configuration and fx_gauth ---- */

static int gauth_signer(void *ctx, const char *data, size_t n, unsigned char *sig, size_t *sig_len, struct fx_err *e)
{
	(void)ctx;
	return fx_gauth_sign(data, n, sig, sig_len, e);
}

/* Splits config storage_url "scheme://host[:port]" (a trailing '/' allowed). */
static int split_base(const char *base, char *scheme, size_t slen, char *host, size_t hlen, struct fx_err *e)
{
	const char *sep = base ? strstr(base, "://") : NULL;
	size_t n;

	if (!sep || fx_str_copy(scheme, slen, base, (size_t)(sep - base)) < 0)
		return fx_err_set(e, FX_INTERNAL, "storage url \"%.100s\" has no scheme", base ? base : "");
	sep += 3;
	n = strlen(sep);
	if (n > 0 && sep[n - 1] == '/')
		n--;
	if (n == 0 || memchr(sep, '/', n) || fx_str_copy(host, hlen, sep, n) < 0)
		return fx_err_set(e, FX_INTERNAL, "storage url \"%.100s\" must be scheme://host[:port]", base);
	return 0;
}

/* The value of header name among "Name: value" lines, trimmed, or NULL. */
static const char *find_header(const char *const *headers, const char *name, char *out, size_t len)
{
	size_t nlen = strlen(name);

	for (const char *const *h = headers; h && *h; h++) {
		const char *v = *h + nlen + 1;
		size_t vlen;

		if (strncasecmp(*h, name, nlen) != 0 || (*h)[nlen] != ':')
			continue;
		while (*v == ' ' || *v == '\t')
			v++;
		vlen = strlen(v);
		while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
			vlen--;
		return fx_str_copy(out, len, v, vlen) < 0 ? NULL : out;
	}
	return NULL;
}

/* The upload_id parameter of an emulator session URL into out. */
static int session_id(const char *session, char *out, size_t len, struct fx_err *e)
{
	const char *p = strstr(session, "?upload_id=");
	size_t n;

	if (!p)
		p = strstr(session, "&upload_id=");
	if (!p)
		return fx_err_set(e, FX_BAD_GATEWAY, "storage emulator session url has no upload_id");
	p += strlen("?upload_id=");
	n = strcspn(p, "&#");
	if (n == 0 || n >= len)
		return fx_err_set(e, FX_BAD_GATEWAY, "storage emulator upload_id malformed");
	for (size_t i = 0; i < n; i++)
		if (!unreserved((unsigned char)p[i]))
			return fx_err_set(e, FX_BAD_GATEWAY, "storage emulator upload_id malformed");
	if (fx_str_copy(out, len, p, n) < 0)
		return fx_err_set(e, FX_BAD_GATEWAY, "storage emulator upload_id malformed");
	return 0;
}

int fx_gcssign_url(const char *method, const char *object, int64_t expires_s, const char *const *headers,
		   const char *const *query, struct fx_buf *url, struct fx_err *e)
{
	const struct fx_config *c = fx_config_get();
	struct fx_signed_url_req q = {0};
	char email[MAX_EMAIL + 2], scheme[16], host[MAX_HOST + 1], content_type[MAX_HEADER_VALUE + 1], upload_id[160];
	const char *extra[2 * FX_GCS_SIGN_MAX_EXTRA + 1];
	struct fx_buf session, path;
	size_t nextra = 0;
	int rc = -1;

	fx_buf_init(&session, 8192);
	fx_buf_init(&path, MAX_PATH);
	if (!method_ok(method)) {
		fx_err_invalid(e, "method", "method must be 1..%d upper-case letters", MAX_METHOD);
		goto out;
	}
	if (fx_gcs_check_name(object, e) < 0 ||
	    split_base(c->storage_url, scheme, sizeof(scheme), host, sizeof(host), e) < 0)
		goto out;
	if (fx_gauth_service_account(email, sizeof(email), e) < 0)
		goto out;
	q.method = method;
	q.bucket = c->bucket;
	q.object = object;
	q.expires_s = expires_s;
	q.now = (int64_t)time(NULL);
	q.headers = headers;
	q.query = query;
	q.host = host;
	q.scheme = scheme;
	q.email = email;
	q.style = FX_GCS_PATH_STYLE;

	if (c->storage_emulator && strcmp(method, "PUT") == 0) {
		/* The emulator stores a PUT only into an upload session: open one and sign its URL. */
		for (const char *const *p = query; p && *p; p++) {
			if (nextra >= 2 * (FX_GCS_SIGN_MAX_EXTRA - 3)) {
				fx_err_invalid(e, "query", "more than %d query parameters", FX_GCS_SIGN_MAX_EXTRA - 3);
				goto out;
			}
			extra[nextra++] = *p;
		}
		if (fx_gcs_resumable_session(object,
					     find_header(headers, "Content-Type", content_type, sizeof(content_type)),
					     -1, &session, e) < 0 ||
		    session_id(session.data, upload_id, sizeof(upload_id), e) < 0)
			goto out;
		if (fx_buf_puts(&path, "/upload/storage/v1/b/") < 0 ||
		    fx_httpc_url_encode(&path, c->bucket, strlen(c->bucket)) < 0 || fx_buf_puts(&path, "/o") < 0) {
			fx_err_set(e, FX_INTERNAL, "upload path longer than %d bytes", MAX_PATH);
			goto out;
		}
		extra[nextra++] = "name";
		extra[nextra++] = object;
		extra[nextra++] = "uploadType";
		extra[nextra++] = "resumable";
		extra[nextra++] = "upload_id";
		extra[nextra++] = upload_id;
		extra[nextra] = NULL;
		q.query = extra;
		q.path = path.data;
	} else if (c->storage_emulator && strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		fx_err_set(e, FX_UNIMPLEMENTED, "the Storage emulator serves no signed %s", method);
		goto out;
	}
	rc = fx_gcssign_signed_url(&q, gauth_signer, NULL, url, NULL, NULL, e);
out:
	fx_buf_cleanup(&session);
	fx_buf_cleanup(&path);
	return rc;
}
