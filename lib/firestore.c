#include "firestore.h"

#include "buf.h"
#include "clock.h"
#include "config.h"
#include "docname.h"
#include "fieldpath.h"
#include "fsdecode.h"
#include "fsvalue.h"
#include "fswrite.h"
#include "gauth.h"
#include "httpc.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "plain.h"
#include "str.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define URL_MAX 32768 /* a document name is at most 6 KiB, percent-encoded at most x3 */
#define MAX_ATTEMPTS 5 /* per request, as Google's retry config */

/* ---- names and paths ---- */

char *fx_firestore_name(const char *rel_path)
{
	const struct fx_config *c = fx_config_get();
	bool sub = rel_path && *rel_path;

	return fx_mem_xasprintf("projects/%s/databases/%s/documents%s%s", c->project, c->database, sub ? "/" : "",
				sub ? rel_path : "");
}

/*
 * Checks a relative path: doc requires a document path (an even number of
 * segments), otherwise "" or a document path (a runQuery parent).
 */
static int check_path(const char *rel, bool doc, struct fx_err *e)
{
	const char *p = rel, *end;
	size_t nseg = 0;

	if (!rel)
		return fx_err_invalid(e, "path", "document path missing");
	if (!*rel && !doc)
		return 0;
	if (strlen(rel) > FX_DOCNAME_MAX - 256)
		return fx_err_invalid(e, "path", "document path longer than %d bytes", FX_DOCNAME_MAX - 256);
	for (;;) {
		size_t n;

		end = strchr(p, '/');
		n = end ? (size_t)(end - p) : strlen(p);
		if (n == 0)
			return fx_err_invalid(e, "path", "empty segment in path \"%.100s\"", rel);
		if (n > FX_VALUE_FIELD_NAME_MAX)
			return fx_err_invalid(e, "path", "path segment longer than %d bytes", FX_VALUE_FIELD_NAME_MAX);
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return fx_err_invalid(e, "path", "path segment \".\" or \"..\" in \"%.100s\"", rel);
		if (n >= 4 && p[0] == '_' && p[1] == '_' && p[n - 1] == '_' && p[n - 2] == '_')
			return fx_err_invalid(e, "path", "reserved path segment in \"%.100s\"", rel);
		if (!fx_json_utf8_valid(p, n))
			return fx_err_invalid(e, "path", "path is not valid UTF-8");
		nseg++;
		if (!end)
			break;
		p = end + 1;
	}
	if (nseg % 2 != 0)
		return fx_err_invalid(e, "path", "\"%.100s\" names a collection, not a document", rel);
	return 0;
}

/*
 * base/v1/<full name of rel, each segment percent-encoded><suffix>?prettyPrint=false,
 * in url; returns url's text, or NULL when it would be over URL_MAX (call()
 * then refuses to call). prettyPrint=false is Google's system parameter for
 * every REST API (https://cloud.google.com/apis/docs/system-parameters):
 * the answer without indentation and line breaks, which by default are
 * about a third of a document's bytes that we receive and then skip. The
 * emulator accepts it and pretty-prints anyway. Query parameters after it
 * start with '&'.
 */
static const char *build_url(struct fx_buf *url, const char *rel, const char *suffix)
{
	const struct fx_config *c = fx_config_get();
	const char *p = rel;
	int bad;

	fx_buf_init(url, URL_MAX);
	bad = fx_buf_printf(url, "%s/v1/projects/", c->firestore_url) < 0;
	bad |= fx_httpc_url_encode(url, c->project, strlen(c->project)) < 0;
	bad |= fx_buf_puts(url, "/databases/") < 0;
	bad |= fx_httpc_url_encode(url, c->database, strlen(c->database)) < 0;
	bad |= fx_buf_puts(url, "/documents") < 0;
	while (p && *p) {
		const char *end = strchr(p, '/');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		bad |= fx_buf_puts(url, "/") < 0;
		bad |= fx_httpc_url_encode(url, p, n) < 0;
		p = end ? end + 1 : p + n;
	}
	if (suffix)
		bad |= fx_buf_puts(url, suffix) < 0;
	bad |= fx_buf_puts(url, "?prettyPrint=false") < 0;
	return bad ? NULL : url->data;
}

/* ---- errors ---- */

/* How a Google canonical code reaches our callers. */
static const struct {
	enum fx_code google;
	enum fx_code ours;
} error_map[] = {
	{FX_NOT_FOUND, FX_NOT_FOUND},
	{FX_ALREADY_EXISTS, FX_ALREADY_EXISTS},
	{FX_ABORTED, FX_ABORTED},
	{FX_FAILED_PRECONDITION, FX_FAILED_PRECONDITION},
	{FX_UNAVAILABLE, FX_UNAVAILABLE},
	{FX_DEADLINE_EXCEEDED, FX_UNAVAILABLE},
	{FX_INTERNAL, FX_UNAVAILABLE},
	{FX_RESOURCE_EXHAUSTED, FX_UNAVAILABLE},
	{FX_CANCELLED, FX_UNAVAILABLE},
	{FX_PERMISSION_DENIED, FX_UNAVAILABLE},
	{FX_UNAUTHENTICATED, FX_UNAVAILABLE},
};

/* Sets e from a Google canonical code and message; anything unlisted is our bug: 500. */
static int map_error(enum fx_code google, const char *message, struct fx_err *e)
{
	enum fx_code code = FX_INTERNAL;
	char msg[sizeof(e->message)];

	fx_str_text(msg, sizeof(msg), "%s", message);
	for (size_t i = 0; i < sizeof(error_map) / sizeof(error_map[0]); i++) {
		if (error_map[i].google == google) {
			code = error_map[i].ours;
			break;
		}
	}
	fx_err_set(e, code, "%s", msg);
	if (code == FX_UNAVAILABLE)
		e->retry_after = FX_ERR_RETRY_AFTER_S;
	return -1;
}

/* Maps a non-2xx answer. */
static int http_error(const struct fx_httpc_resp *resp, const char *what, struct fx_err *e)
{
	fx_httpc_google_error(resp, what, e);
	return map_error(e->kind, e->message, e);
}

/*
 * Maps an {"error": {...}} element inside a 2xx streamed answer (runQuery,
 * batchGet): its status and message when they are strings, else NULL.
 */
static int inline_error(const char *status, const char *message, const char *what, struct fx_err *e)
{
	char text[sizeof(e->message)];

	fx_str_text(text, sizeof(text), "%s failed: %.160s", what, message ? message : "no message");
	/* No status is Firestore failing (INTERNAL); a name we do not know (FX_OK here) is ours: 500. */
	return map_error(status ? fx_err_from_name(status) : FX_INTERNAL, text, e);
}

static int bad_answer(const char *what, const char *why, struct fx_err *e)
{
	return fx_err_set(e, FX_BAD_GATEWAY, "%s: malformed answer: %s", what, why);
}

/* ---- one request ---- */

struct call {
	const char *what; /* "firestore get" */
	const char *method;
	const char *url;
	json_object *body; /* borrowed, NULL for none */
	enum fx_retry retry;
	size_t max_response; /* 0: httpc's default */
	long timeout_ms; /* 0: the configured default */
};

/* Parses a whole answer with FX_FS_JSON_DEPTH nesting; *out is a new reference. */
static int parse_answer(const struct fx_buf *b, const char *what, json_object **out, struct fx_err *e)
{
	struct json_tokener *tok = json_tokener_new_ex(FX_FS_JSON_DEPTH);
	json_object *j;
	size_t end;

	if (!tok)
		return fx_err_set(e, FX_INTERNAL, "%s: json tokener allocation failed", what);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	j = b->len > 0 ? json_tokener_parse_ex(tok, b->data, (int)b->len) : NULL;
	if (!j || json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(j);
		json_tokener_free(tok);
		return bad_answer(what, "not JSON or nested too deeply", e);
	}
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	for (; end < b->len; end++) {
		char ch = b->data[end];

		if (ch != ' ' && ch != '\n' && ch != '\r' && ch != '\t') {
			json_object_put(j);
			return bad_answer(what, "trailing bytes", e);
		}
	}
	*out = j;
	return 0;
}

/*
 * Performs one call with the Firestore credential and maps its answer:
 * returns 0 with the 2xx answer in *resp (initialised here; the caller
 * cleans it up either way), or -1.
 */
static int call_raw(const struct call *c, struct fx_httpc_resp *resp, struct fx_err *e)
{
	char auth[FX_GAUTH_HEADER_MAX];
	const char *headers[] = {auth, "Content-Type: application/json", "Accept: application/json", NULL};
	struct fx_httpc_req req = {0};
	size_t len = 0;

	fx_httpc_resp_init(resp);
	if (!c->url)
		return fx_err_set(e, FX_INTERNAL, "%s: URL over %d bytes", c->what, URL_MAX);
	if (fx_gauth_header(FX_GAUTH_FIRESTORE, auth, sizeof(auth), e) < 0)
		return -1;
	req.method = c->method;
	req.url = c->url;
	req.headers = headers;
	if (c->body) {
		req.body = fx_json_text(c->body, &len);
		req.body_len = len;
	}
	req.retry = c->retry;
	req.timeout_ms = c->timeout_ms;
	req.max_attempts = MAX_ATTEMPTS;
	req.max_response = c->max_response;
	req.service = "firestore";
	req.lean = true;
	if (fx_httpc_do(&req, resp, e) < 0) {
		if (fx_err_is(e, FX_UNAVAILABLE))
			e->retry_after = FX_ERR_RETRY_AFTER_S;
		return -1;
	}
	if (resp->status < 200 || resp->status >= 300)
		return http_error(resp, c->what, e);
	return 0;
}

/*
 * call_raw, then the answer parsed as JSON: returns 0 with *out (a new
 * reference, caller puts) for a 2xx, or -1.
 */
static int call(const struct call *c, json_object **out, struct fx_err *e)
{
	struct fx_httpc_resp resp;
	int rc;

	*out = NULL;
	rc = call_raw(c, &resp, e);
	if (rc == 0)
		rc = parse_answer(&resp.body, c->what, out, e);
	fx_httpc_resp_cleanup(&resp);
	return rc;
}

/* ---- documents ---- */

void fx_firestore_doc_cleanup(struct fx_doc *d)
{
	if (!d)
		return;
	free(d->name);
	fx_value_cleanup(&d->fields);
	memset(d, 0, sizeof(*d));
}

void fx_firestore_docs_free(struct fx_doc *docs, size_t n)
{
	if (!docs)
		return;
	for (size_t i = 0; i < n; i++)
		fx_firestore_doc_cleanup(&docs[i]);
	free(docs);
}

static int copy_time(json_object *doc, const char *key, char out[40], const char *what, struct fx_err *e)
{
	json_object *v;

	out[0] = '\0';
	if (!json_object_object_get_ex(doc, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_string) ||
	    fx_str_copy(out, 40, json_object_get_string(v), (size_t)json_object_get_string_len(v)) < 0)
		return bad_answer(what, key, e);
	return 0;
}

static void doc_copy(struct fx_doc *dst, const struct fx_doc *src)
{
	memset(dst, 0, sizeof(*dst));
	if (src->name) {
		dst->name = fx_mem_xstrdup(src->name);
		dst->id = dst->name + (src->id - src->name);
	}
	fx_value_copy(&dst->fields, &src->fields);
	FX_ARRAY_COPY(dst->create_time, src->create_time);
	FX_ARRAY_COPY(dst->update_time, src->update_time);
}

/*
 * Parses each path of mask (NULL-terminated, at most FX_QUERY_MAX_SELECT),
 * formats it as Firestore expects and hands it to each(ctx, path, len).
 * Returns 0, -1 with 400 INVALID_ARGUMENT naming "mask" for a malformed or
 * over-long path or too many paths, or each's -1 as it is.
 */
static int each_mask_path(const char *const *mask, int (*each)(void *ctx, const char *path, size_t len), void *ctx,
			  struct fx_err *e)
{
	struct fx_buf path;
	int rc = 0;

	fx_buf_init(&path, FX_DOCNAME_MAX);
	for (size_t i = 0; mask[i] && rc == 0; i++) {
		struct fx_fieldpath fp = {0};
		struct fx_err why;

		fx_err_clear(&why);
		if (i >= FX_QUERY_MAX_SELECT) {
			rc = fx_err_invalid(e, "mask", "more than %d masked fields", FX_QUERY_MAX_SELECT);
		} else if (fx_fieldpath_parse(mask[i], &fp, &why) < 0) {
			rc = fx_err_invalid(e, "mask", "%s", why.ndetails ? why.details[0].reason : why.message);
		} else {
			fx_buf_reset(&path);
			if (fx_fieldpath_format((const char *const *)fp.segs, fp.n, &path) < 0 || !path.data)
				rc = fx_err_invalid(e, "mask", "masked field path too long");
			else
				rc = each(ctx, path.data, path.len);
			fx_fieldpath_cleanup(&fp);
		}
	}
	fx_buf_cleanup(&path);
	return rc;
}

/* A URL taking "&mask.fieldPaths=P&..." (each_mask_path's each). */
struct url_mask {
	struct fx_buf *url;
	bool over; /* the URL went over its cap */
};

static int url_mask_path(void *ctx, const char *path, size_t len)
{
	struct url_mask *u = ctx;

	u->over |= fx_buf_puts(u->url, "&mask.fieldPaths=") < 0;
	u->over |= fx_httpc_url_encode(u->url, path, len) < 0;
	return 0;
}

/*
 * Appends "&mask.fieldPaths=P&..." for mask[0..) (NULL-terminated; NULL or
 * empty appends nothing), each path percent-encoded. 400 naming "mask" for
 * a bad path (each_mask_path); 1 without e for a URL over its cap (build_url's
 * NULL then refuses the call).
 */
static int add_mask(struct fx_buf *url, const char *const *mask, struct fx_err *e)
{
	struct url_mask u = {url, false};

	if (!mask || !*mask)
		return 0;
	if (each_mask_path(mask, url_mask_path, &u, e) < 0)
		return -1;
	return u.over ? 1 : 0;
}

/*
 * The last mask a thread formatted and its URL suffix: a handler asks with
 * the same mask on every request, and parsing, formatting and encoding its
 * paths again cost ~4 % of a product get. Keyed by the paths' text (each
 * followed by a NUL), never by the array's address, so a caller may reuse
 * an array for another mask. A mask or suffix larger than these buffers is
 * formatted on every call.
 */
#define MASK_CACHE_BYTES 2048
static _Thread_local struct {
	char key[MASK_CACHE_BYTES];
	size_t key_len; /* 0: nothing cached */
	char suffix[MASK_CACHE_BYTES];
	size_t suffix_len;
} mask_cache;

/* Writes mask's paths, each followed by a NUL, to key; false when over cap. */
static bool mask_key(const char *const *mask, char *key, size_t cap, size_t *len)
{
	size_t n = 0;

	for (size_t i = 0; mask[i]; i++) {
		size_t l = strlen(mask[i]);

		if (fx_str_mem_copy(key + n, cap - n, mask[i], l + 1) < 0)
			return false;
		n += l + 1;
	}
	*len = n;
	return true;
}

/* add_mask through the thread's cache: the same results for the same paths. */
static int add_mask_cached(struct fx_buf *url, const char *const *mask, struct fx_err *e)
{
	char key[MASK_CACHE_BYTES];
	size_t key_len = 0, start = url->len;
	bool keyed;
	int m;

	if (!mask || !*mask)
		return 0;
	keyed = mask_key(mask, key, sizeof(key), &key_len);
	if (keyed && mask_cache.key_len == key_len && memcmp(mask_cache.key, key, key_len) == 0)
		return fx_buf_append(url, mask_cache.suffix, mask_cache.suffix_len) < 0 ? 1 : 0;
	m = add_mask(url, mask, e);
	mask_cache.key_len = 0;
	if (m == 0 && keyed && url->data &&
	    fx_str_mem_copy(mask_cache.suffix, sizeof(mask_cache.suffix), url->data + start, url->len - start) == 0 &&
	    fx_str_mem_copy(mask_cache.key, sizeof(mask_cache.key), key, key_len) == 0) {
		mask_cache.suffix_len = url->len - start;
		mask_cache.key_len = key_len;
	}
	return m;
}

int fx_firestore_get_mask(const char *rel_path, const char *const *mask, struct fx_doc *out, struct fx_err *e)
{
	struct fx_buf url;
	struct fx_httpc_resp resp;
	struct call c = {"firestore get", "GET", NULL, NULL, FX_RETRY_IDEMPOTENT, 0, 0};
	int rc = -1, m = 1;

	memset(out, 0, sizeof(*out));
	fx_httpc_resp_init(&resp);
	if (check_path(rel_path, true, e) < 0)
		return -1;
	/* Appending may move url's text: c.url is taken after the mask. */
	if (build_url(&url, rel_path, NULL) && (m = add_mask_cached(&url, mask, e)) < 0)
		goto out;
	c.url = url.data && m == 0 ? url.data : NULL;
	if (call_raw(&c, &resp, e) == 0)
		rc = fx_fsdecode_doc(resp.body.data, resp.body.len, c.what, out, e);
out:
	fx_httpc_resp_cleanup(&resp);
	fx_buf_cleanup(&url);
	return rc;
}

int fx_firestore_get(const char *rel_path, struct fx_doc *out, struct fx_err *e)
{
	return fx_firestore_get_mask(rel_path, NULL, out, e);
}

int fx_firestore_delete(const char *rel_path, struct fx_err *e)
{
	struct fx_buf url;
	json_object *ans = NULL;
	struct call c = {"firestore delete", "DELETE", NULL, NULL, FX_RETRY_IDEMPOTENT, 0, 0};
	int rc;

	if (check_path(rel_path, true, e) < 0)
		return -1;
	c.url = build_url(&url, rel_path, NULL);
	rc = call(&c, &ans, e);
	if (rc < 0 && fx_err_is(e, FX_NOT_FOUND)) {
		fx_err_clear(e);
		rc = 0;
	}
	json_object_put(ans);
	fx_buf_cleanup(&url);
	return rc;
}

/* fx_firestore_commit, naming the call what in messages. */
static int commit(const char *what, json_object *writes, const char *transaction, char commit_time[40],
		  char (*update_times)[40], struct fx_err *e)
{
	struct fx_buf url;
	json_object *body, *ans = NULL, *results, *v;
	struct call c = {what, "POST", NULL, NULL, FX_RETRY_UNAVAILABLE, 0, 0};
	size_t n;
	int rc = -1;

	if (!json_object_is_type(writes, json_type_array))
		return fx_err_set(e, FX_INTERNAL, "%s: writes is not an array", what);
	n = json_object_array_length(writes);
	if (n > FX_FS_MAX_WRITES)
		return fx_err_invalid(e, "writes", "more than %d writes in one commit", FX_FS_MAX_WRITES);
	c.url = build_url(&url, "", ":commit");
	body = json_object_new_object();
	json_object_object_add(body, "writes", json_object_get(writes));
	if (transaction)
		json_object_object_add(body, "transaction", json_object_new_string(transaction));
	c.body = body;
	if (call(&c, &ans, e) < 0)
		goto out;
	if (commit_time && copy_time(ans, "commitTime", commit_time, c.what, e) < 0)
		goto out;
	if (update_times) {
		if (n > 0 &&
		    (!json_object_object_get_ex(ans, "writeResults", &results) ||
		     !json_object_is_type(results, json_type_array) || json_object_array_length(results) != n)) {
			bad_answer(c.what, "writeResults do not match the writes", e);
			goto out;
		}
		for (size_t i = 0; i < n; i++) {
			v = json_object_array_get_idx(results, i);
			if (copy_time(v, "updateTime", update_times[i], c.what, e) < 0)
				goto out;
		}
	}
	rc = 0;
out:
	json_object_put(ans);
	json_object_put(body);
	fx_buf_cleanup(&url);
	return rc;
}

int fx_firestore_commit(json_object *writes, const char *transaction, char commit_time[40], char (*update_times)[40],
			struct fx_err *e)
{
	return commit("firestore commit", writes, transaction, commit_time, update_times, e);
}

/*
 * A create is a commit of one update Write with currentDocument.exists
 * false, as Google's clients send it: POST ?documentId= would carry the id
 * in a query string, which the emulator splits at an encoded '&'.
 */
int fx_firestore_create(const char *rel_path, const struct fx_value *fields, struct fx_doc *out, struct fx_err *e)
{
	json_object *writes = NULL;
	char *name = NULL, update_time[1][40];
	int rc = -1;

	if (out)
		memset(out, 0, sizeof(*out));
	if (check_path(rel_path, true, e) < 0)
		return -1;
	if (fields && fields->type != FX_V_MAP)
		return fx_err_invalid(e, "fields", "document fields must be a map");
	name = fx_firestore_name(rel_path);
	writes = json_object_new_array();
	if (fx_fswrite_create(writes, name, fields, NULL, e) < 0 ||
	    commit("firestore create", writes, NULL, NULL, update_time, e) < 0)
		goto out;
	if (out) {
		out->name = name;
		out->id = strrchr(name, '/') + 1;
		name = NULL;
		if (fields)
			fx_value_copy(&out->fields, fields);
		else
			fx_value_map(&out->fields);
		FX_ARRAY_COPY(out->create_time, update_time[0]);
		FX_ARRAY_COPY(out->update_time, update_time[0]);
	}
	rc = 0;
out:
	json_object_put(writes);
	free(name);
	return rc;
}

/* What a runQuery stream has handed over so far. */
struct query_docs {
	const char *what;
	struct fx_doc *docs;
	size_t n, cap;
};

static int query_element(struct fx_fsdecode_el *el, void *ctx, struct fx_err *e)
{
	struct query_docs *q = ctx;

	if (el->kind == FX_FSDECODE_ERROR)
		return inline_error(el->status, el->message, q->what, e);
	if (el->kind != FX_FSDECODE_DOC)
		return 0;
	if (q->n == q->cap) {
		q->cap = q->cap ? q->cap * 2 : 8;
		q->docs = fx_mem_xrealloc(q->docs, q->cap * sizeof(*q->docs));
	}
	q->docs[q->n++] = el->doc;
	memset(&el->doc, 0, sizeof(el->doc));
	return 0;
}

/* A json-c object that serialises as the text of the fx_buf it carries (a body written without a tree). */
static int text_body(json_object *o, struct printbuf *pb, int level, int flags)
{
	const struct fx_buf *text = json_object_get_userdata(o);

	(void)level;
	(void)flags;
	return text->len > INT_MAX || printbuf_memappend(pb, text->data, (int)text->len) < 0 ? -1 : 0;
}

int fx_firestore_query(const char *parent_rel, const struct fx_query *q, const char *transaction, struct fx_doc **docs,
		       size_t *n, struct fx_err *e)
{
	return fx_firestore_query_lend(parent_rel, q, transaction, NULL, docs, n, e);
}

int fx_firestore_query_lend(const char *parent_rel, const struct fx_query *q, const char *transaction,
			    struct fx_arena *strings, struct fx_doc **docs, size_t *n, struct fx_err *e)
{
	struct fx_buf url, text;
	struct fx_httpc_resp resp;
	json_object *body = NULL;
	struct call c = {
		"firestore query",  "POST", NULL, NULL, transaction ? FX_RETRY_UNAVAILABLE : FX_RETRY_IDEMPOTENT,
		FX_FS_MAX_RESPONSE, 0};
	struct query_docs got = {c.what, NULL, 0, 0};
	int rc = -1;

	*docs = NULL;
	*n = 0;
	if (check_path(parent_rel, false, e) < 0)
		return -1;
	/*
	 * The body is written as text (fx_fsquery_write), the same bytes
	 * json-c wrote of the tree it was built as before, and handed to
	 * call_raw as an object that serialises as that text.
	 */
	fx_buf_init(&text, 2 * (size_t)FX_FSQUERY_TEXT_MAX);
	if (fx_buf_puts(&text, "{\"structuredQuery\":") < 0 || fx_fsquery_write(q, &text, e) < 0 ||
	    (transaction && (fx_buf_puts(&text, ",\"transaction\":") < 0 ||
			     fx_plain_write_string(&text, transaction, strlen(transaction)) < 0)) ||
	    fx_buf_puts(&text, "}") < 0) {
		if (fx_err_is(e, FX_OK))
			fx_err_invalid(e, "query", "runQuery body over %zu bytes", text.max);
		fx_buf_cleanup(&text);
		return -1;
	}
	body = json_object_new_object();
	json_object_set_serializer(body, text_body, &text, NULL);
	c.url = build_url(&url, parent_rel, ":runQuery");
	c.body = body;
	if (call_raw(&c, &resp, e) < 0 || fx_fsdecode_stream_lend(resp.body.data, resp.body.len, FX_FSDECODE_RUNQUERY,
								  c.what, strings, query_element, &got, e) < 0)
		goto out;
	if (got.n > 0) {
		*docs = got.docs;
		*n = got.n;
		got.docs = NULL;
		got.n = 0;
	}
	rc = 0;
out:
	fx_firestore_docs_free(got.docs, got.n);
	fx_httpc_resp_cleanup(&resp);
	json_object_put(body);
	fx_buf_cleanup(&text);
	fx_buf_cleanup(&url);
	return rc;
}

/* batchGet answers in any order: names sorted with their index find the slot. */
struct slot {
	const char *name;
	size_t idx;
};

static int slot_cmp(const void *a, const void *b)
{
	return strcmp(((const struct slot *)a)->name, ((const struct slot *)b)->name);
}

/* A batchGet in progress: the slots to fill, sorted by name. */
struct batch {
	const char *what;
	struct slot *slots;
	size_t n;
	struct fx_doc *out;
	bool *filled;
};

static int batch_element(struct fx_fsdecode_el *el, void *ctx, struct fx_err *e)
{
	struct batch *b = ctx;
	struct slot key, *hit;
	size_t lo;

	if (el->kind == FX_FSDECODE_ERROR)
		return inline_error(el->status, el->message, b->what, e);
	if (el->kind == FX_FSDECODE_DOC) {
		key.name = el->doc.name;
	} else {
		key.name = el->missing;
		fx_value_map(&el->doc.fields);
	}
	hit = bsearch(&key, b->slots, b->n, sizeof(*b->slots), slot_cmp);
	if (!hit)
		return bad_answer(b->what, "a document that was not asked for", e);
	/* A path asked for twice is answered once: fill every slot of that name. */
	lo = (size_t)(hit - b->slots);
	while (lo > 0 && strcmp(b->slots[lo - 1].name, key.name) == 0)
		lo--;
	for (size_t k = lo; k < b->n && strcmp(b->slots[k].name, key.name) == 0; k++) {
		size_t idx = b->slots[k].idx;

		if (b->filled[idx])
			fx_firestore_doc_cleanup(&b->out[idx]);
		doc_copy(&b->out[idx], &el->doc);
		b->filled[idx] = true;
	}
	return 0;
}

/* Adds path to a json array of field paths (each_mask_path's each). */
static int json_mask_path(void *ctx, const char *path, size_t len)
{
	json_object_array_add(ctx, json_object_new_string_len(path, (int)len));
	return 0;
}

/*
 * {"fieldPaths": [...]} for mask[0..) (NULL-terminated): a new reference,
 * or NULL with 400 naming "mask" (each_mask_path).
 */
static json_object *mask_json(const char *const *mask, struct fx_err *e)
{
	json_object *paths = json_object_new_array(), *m;

	if (each_mask_path(mask, json_mask_path, paths, e) < 0) {
		json_object_put(paths);
		return NULL;
	}
	m = json_object_new_object();
	json_object_object_add(m, "fieldPaths", paths);
	return m;
}

/* fx_firestore_batch_get, with only the fields of mask when it is not NULL. */
static int batch_get(const char *const *rel_paths, size_t n, const char *transaction, const char *const *mask,
		     struct fx_doc *out, struct fx_err *e)
{
	struct fx_buf url;
	struct fx_httpc_resp resp;
	json_object *body = NULL, *list, *m = NULL;
	struct call c = {
		"firestore batchGet", "POST", NULL, NULL, transaction ? FX_RETRY_UNAVAILABLE : FX_RETRY_IDEMPOTENT,
		FX_FS_MAX_RESPONSE,   0};
	struct batch b = {c.what, NULL, n, out, NULL};
	char **names = NULL;
	int rc = -1;

	if (n == 0)
		return 0;
	memset(out, 0, n * sizeof(*out));
	if (n > FX_FS_MAX_BATCH_GET)
		return fx_err_invalid(e, "paths", "more than %d documents in one batchGet", FX_FS_MAX_BATCH_GET);
	for (size_t i = 0; i < n; i++)
		if (check_path(rel_paths[i], true, e) < 0)
			return -1;
	if (mask && *mask && !(m = mask_json(mask, e)))
		return -1;
	names = fx_mem_xcalloc(n, sizeof(*names));
	b.slots = fx_mem_xcalloc(n, sizeof(*b.slots));
	b.filled = fx_mem_xcalloc(n, sizeof(*b.filled));
	body = json_object_new_object();
	list = json_object_new_array_ext((int)n);
	for (size_t i = 0; i < n; i++) {
		names[i] = fx_firestore_name(rel_paths[i]);
		b.slots[i] = (struct slot){names[i], i};
		json_object_array_add(list, json_object_new_string(names[i]));
	}
	qsort(b.slots, n, sizeof(*b.slots), slot_cmp);
	json_object_object_add(body, "documents", list);
	if (m)
		json_object_object_add(body, "mask", m);
	if (transaction)
		json_object_object_add(body, "transaction", json_object_new_string(transaction));
	c.url = build_url(&url, "", ":batchGet");
	c.body = body;
	if (call_raw(&c, &resp, e) < 0)
		goto out;
	if (fx_fsdecode_stream(resp.body.data, resp.body.len, FX_FSDECODE_BATCHGET, c.what, batch_element, &b, e) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (!b.filled[i]) {
			bad_answer(c.what, "a requested document is not in the answer", e);
			goto out;
		}
	}
	rc = 0;
out:
	if (rc < 0)
		for (size_t i = 0; i < n; i++)
			fx_firestore_doc_cleanup(&out[i]);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(b.slots);
	free(b.filled);
	fx_httpc_resp_cleanup(&resp);
	json_object_put(body);
	fx_buf_cleanup(&url);
	return rc;
}

int fx_firestore_batch_get(const char *const *rel_paths, size_t n, const char *transaction, struct fx_doc *out,
			   struct fx_err *e)
{
	return batch_get(rel_paths, n, transaction, NULL, out, e);
}

int fx_firestore_txn_batch_get(struct fx_txn *t, const char *const *rel_paths, size_t n, const char *const *mask,
			       struct fx_doc *out, struct fx_err *e)
{
	return batch_get(rel_paths, n, t->id, mask, out, e);
}

/* ---- transactions ---- */

static int begin_transaction(const char *retry_id, char id[512], struct fx_err *e)
{
	struct fx_buf url;
	json_object *body = json_object_new_object(), *ans = NULL, *v;
	struct call c = {"firestore beginTransaction", "POST", NULL, body, FX_RETRY_IDEMPOTENT, 0, 0};
	int rc = -1;

	if (retry_id && *retry_id) {
		json_object *options = json_object_new_object(), *rw = json_object_new_object();

		json_object_object_add(rw, "retryTransaction", json_object_new_string(retry_id));
		json_object_object_add(options, "readWrite", rw);
		json_object_object_add(body, "options", options);
	}
	c.url = build_url(&url, "", ":beginTransaction");
	if (call(&c, &ans, e) < 0)
		goto out;
	if (!json_object_object_get_ex(ans, "transaction", &v) || !json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) == 0 ||
	    fx_str_copy(id, 512, json_object_get_string(v), (size_t)json_object_get_string_len(v)) < 0) {
		bad_answer(c.what, "no usable transaction id", e);
		goto out;
	}
	rc = 0;
out:
	json_object_put(ans);
	json_object_put(body);
	fx_buf_cleanup(&url);
	return rc;
}

/*
 * Sends a rollback of transaction id (timeout_ms 0: the configured call
 * timeout). Returns 0 once Firestore answered, whatever it said (an expired
 * or unknown transaction holds nothing), -1 when the rollback may not have
 * arrived (Firestore unreachable or unavailable).
 */
static int send_rollback(const char *id, long timeout_ms)
{
	struct fx_buf url;
	struct fx_err e;
	json_object *body = json_object_new_object(), *ans = NULL;
	struct call c = {"firestore rollback", "POST", NULL, body, FX_RETRY_IDEMPOTENT, 0, timeout_ms};
	int rc;

	fx_err_clear(&e);
	json_object_object_add(body, "transaction", json_object_new_string(id));
	c.url = build_url(&url, "", ":rollback");
	rc = call(&c, &ans, &e) == 0 || !fx_err_is(&e, FX_UNAVAILABLE) ? 0 : -1;
	json_object_put(ans);
	json_object_put(body);
	fx_buf_cleanup(&url);
	return rc;
}

/*
 * Rollbacks that did not arrive. Firestore keeps the locks of a transaction
 * that is neither committed nor rolled back until it has been idle for 60 s,
 * and every transaction on what it read waits on them until then: after a
 * network fault, an organization's orders would stay blocked for a minute.
 * Such rollbacks are kept in a table the container's worker processes share
 * (FLUXORI_METRICS_DIR/firestore.rollbacks, mapped like authz.epochs; this
 * process's memory without one) and sent again before the next transaction
 * of any of them (each at most once a second while Firestore is away),
 * until one arrives or the 60 s are over (Firestore has released the locks
 * by then).
 */
#define PENDING_SLOTS 32
#define PENDING_MAX_AGE_MS 60000
#define PENDING_RETRY_MS 1000
#define PENDING_CLAIM_MS 10000 /* a slot claimed longer ago was left by a process that died */
#define PENDING_TIMEOUT_MS 1000 /* a rollback sent again waits at most this */

struct pending_rollback {
	/* 0 free; > 0 kept at (ms, wall clock); < 0 claimed at (minus ms) while written or sent */
	_Atomic int64_t state;
	_Atomic int64_t tried; /* last sent again (ms, wall clock), 0 when never */
	char id[512];
};

static struct pending_rollback local_pending[PENDING_SLOTS];
static struct pending_rollback *pending = local_pending;
static pthread_once_t pending_once = PTHREAD_ONCE_INIT;

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void map_pending(void)
{
	const struct fx_config *c = fx_config_get();
	char path[512];
	void *p;
	int fd;

	if (!c || !c->metrics_dir || !*c->metrics_dir ||
	    fx_str_fmt(path, sizeof(path), "%s/firestore.rollbacks", c->metrics_dir) < 0)
		return;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, sizeof(local_pending)) < 0 ||
	    (p = mmap(NULL, sizeof(local_pending), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED)
		fx_log_warn("%s: undelivered rollbacks are sent again by this process only", path);
	else
		pending = p;
	if (fd >= 0)
		close(fd);
}

/* Keeps id to send again; a full table drops it (Firestore releases it within 60 s anyway). */
static void keep_rollback(const char *id)
{
	int64_t now = wall_ms();

	pthread_once(&pending_once, map_pending);
	for (size_t i = 0; i < PENDING_SLOTS; i++) {
		int64_t free_slot = 0;

		if (!atomic_compare_exchange_strong(&pending[i].state, &free_slot, -now))
			continue;
		if (fx_str_set(pending[i].id, sizeof(pending[i].id), id) < 0) {
			atomic_store(&pending[i].state, 0);
			return;
		}
		atomic_store(&pending[i].tried, 0); /* due at the next transaction */
		atomic_store(&pending[i].state, now);
		return;
	}
	fx_log_warn("firestore: %d rollbacks wait to be sent again: one more is left to expire", PENDING_SLOTS);
}

/* Sends the kept rollbacks that are due; stops at the first that does not arrive (Firestore is still away). */
static void send_kept_rollbacks(void)
{
	int64_t now = wall_ms();

	pthread_once(&pending_once, map_pending);
	for (size_t i = 0; i < PENDING_SLOTS; i++) {
		struct pending_rollback *s = &pending[i];
		int64_t st = atomic_load(&s->state), kept;
		char id[sizeof(s->id)];

		if (st == 0 || (st < 0 && now + st < PENDING_CLAIM_MS) ||
		    (st > 0 && now - atomic_load(&s->tried) < PENDING_RETRY_MS))
			continue;
		if (!atomic_compare_exchange_strong(&s->state, &st, -now))
			continue; /* another thread or process took it */
		kept = st > 0 ? st : now;
		if (now - kept >= PENDING_MAX_AGE_MS || fx_str_set(id, sizeof(id), s->id) < 0) {
			atomic_store(&s->state, 0);
			continue;
		}
		atomic_store(&s->tried, now);
		if (send_rollback(id, PENDING_TIMEOUT_MS) == 0) {
			atomic_store(&s->state, 0);
			continue;
		}
		atomic_store(&s->state, kept);
		break;
	}
}

/* Releases the transaction's locks; a rollback that does not arrive is kept and sent again later. */
static void rollback(const char *id)
{
	if (send_rollback(id, 0) < 0)
		keep_rollback(id);
}

/*
 * One attempt: begin (retrying prev when set), run fn, commit; rolls back on
 * any failure. Returns 0, or -1 with e set.
 */
static int attempt_once(fx_txn_fn fn, void *ctx, const char *prev, struct fx_txn *t, struct fx_txn_result *res,
			struct fx_err *e)
{
	int rc;

	fx_err_clear(e);
	if (begin_transaction(prev, t->id, e) < 0)
		return -1;
	t->writes = json_object_new_array();
	rc = fn(t, ctx, e);
	if (rc < 0 && fx_err_is(e, FX_OK))
		fx_err_set(e, FX_INTERNAL, "transaction function failed without an error");
	if (rc == 0 && res) {
		fx_firestore_txn_result_cleanup(res);
		res->n = json_object_array_length(t->writes);
		res->update_times = fx_mem_xcalloc(res->n ? res->n : 1, sizeof(*res->update_times));
		rc = fx_firestore_commit(t->writes, t->id, res->commit_time, res->update_times, e);
		if (rc < 0)
			fx_firestore_txn_result_cleanup(res);
	} else if (rc == 0) {
		rc = fx_firestore_commit(t->writes, t->id, NULL, NULL, e);
	}
	json_object_put(t->writes);
	t->writes = NULL;
	if (rc < 0)
		rollback(t->id);
	return rc;
}

/*
 * The retry lane: attempts after an ABORTED run one at a time in this
 * process. Transactions that conflicted once are likely to conflict again
 * with each other, and the emulator resolves every conflict by a 2 s lock
 * timeout that lets about one transaction through, so 20 threads retrying
 * side by side would mostly abort again. A thread waits for the lane
 * holding no Firestore locks (it rolled back first), and never waits for it
 * twice (nested transactions), so the lane cannot deadlock.
 */
static pthread_mutex_t retry_lane = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local bool in_lane;

/* Takes the lane, waiting at most until the deadline (monotonic ms). */
static bool lane_enter(long deadline)
{
	struct timespec until;
	long left = deadline - fx_clock_ms();

	if (left <= 0)
		return false;
	fx_clock_deadline(left, &until);
	return pthread_mutex_timedlock(&retry_lane, &until) == 0;
}

void fx_firestore_txn_result_cleanup(struct fx_txn_result *r)
{
	if (!r)
		return;
	free(r->update_times);
	memset(r, 0, sizeof(*r));
}

int fx_firestore_run_transaction_ex(fx_txn_fn fn, void *ctx, struct fx_txn_result *res, struct fx_err *e)
{
	struct fx_txn t;
	char prev[sizeof(t.id)] = "", last[sizeof(e->message)] = "";
	long deadline = fx_clock_ms() + FX_TXN_DEADLINE_MS, backoff = FX_TXN_INITIAL_BACKOFF_MS;
	int attempt;

	if (res)
		memset(res, 0, sizeof(*res));
	fx_metrics_transaction(FX_TXN_STARTED);
	send_kept_rollbacks();
	for (attempt = 0; attempt < FX_TXN_MAX_ATTEMPTS; attempt++) {
		bool lane = false;
		int rc;

		if (attempt > 0) {
			long wait = fx_clock_jitter_ms(backoff);

			fx_metrics_transaction(FX_TXN_RETRIED);

			if (fx_clock_ms() + wait >= deadline)
				break;
			fx_clock_sleep_ms(wait);
			backoff = backoff * 3 / 2;
			if (!in_lane) {
				if (!lane_enter(deadline))
					break;
				lane = in_lane = true;
			}
		}
		memset(&t, 0, sizeof(t));
		t.attempt = attempt;
		rc = attempt_once(fn, ctx, prev, &t, res, e);
		if (lane) {
			in_lane = false;
			pthread_mutex_unlock(&retry_lane);
		}
		if (rc == 0)
			return 0;
		if (!fx_err_is(e, FX_ABORTED))
			return -1;
		FX_ARRAY_COPY(last, e->message);
		if (t.id[0])
			FX_ARRAY_COPY(prev, t.id);
	}
	fx_metrics_transaction(FX_TXN_GAVE_UP);
	fx_err_set(e, FX_ABORTED, "transaction gave up after %d attempts: %.180s", attempt, last);
	e->retry_after = FX_ERR_RETRY_AFTER_S;
	return -1;
}

int fx_firestore_run_transaction(fx_txn_fn fn, void *ctx, struct fx_err *e)
{
	return fx_firestore_run_transaction_ex(fn, ctx, NULL, e);
}

/* ---- health ---- */

int fx_firestore_ping(struct fx_err *e)
{
	const struct fx_config *c = fx_config_get();
	char url[1024], auth[4096];
	const char *headers[] = {auth, NULL};
	struct fx_httpc_req req = {0};
	struct fx_httpc_resp resp;
	int rc = -1;

	if (fx_gauth_header(FX_GAUTH_FIRESTORE, auth, sizeof(auth), e) < 0)
		return -1;
	if (fx_str_fmt(url, sizeof(url), "%s/v1/projects/%s/databases/%s/documents/_health/ping", c->firestore_url,
		       c->project, c->database) < 0)
		return fx_err_set(e, FX_INTERNAL, "firestore URL over %zu bytes", sizeof(url) - 1);
	req.url = url;
	req.headers = headers;
	req.timeout_ms = 2000;
	req.retry = FX_RETRY_NONE;
	req.service = "firestore";
	req.lean = true; /* the warm-up's connection is the one the first get takes (fx_httpc_thread_handover) */
	fx_httpc_resp_init(&resp);
	if (fx_httpc_do(&req, &resp, e) < 0)
		goto out;
	if (resp.status == 200 || resp.status == 404)
		rc = 0;
	else
		fx_httpc_google_error(&resp, "firestore ping", e);
out:
	fx_httpc_resp_cleanup(&resp);
	return rc;
}
