/*
 * fuzz_fsdecode: differential. The same bytes go to the reader lib/firestore.c
 * used before lib/fsdecode (json-c strict with UTF-8 checks and depth
 * FX_FS_JSON_DEPTH, then fx_fsvalue_decode_fields on the tree: the oracle,
 * its document and element logic copied here as it was) and to
 * lib/fsdecode, as a documents.get answer, a runQuery stream, a batchGet
 * stream and one Value. Aborts when they disagree: one accepts and the
 * other refuses, different documents, fields (fx_value_equal), times,
 * missing names or inline errors. The new reader may refuse more, only for
 * what it documents as refused and json-c lets through (duplicate keys,
 * unpaired surrogates, invalid UTF-8, control characters, non-RFC numbers,
 * single quotes, a NUL in a field name — each also refused by lib/json.c's
 * strict scanner — and integer literals below INT64_MIN, which json-c
 * saturates).
 */
#include "docname.h"
#include "firestore.h"
#include "fsdecode.h"
#include "fsvalue.h"
#include "json.h"
#include "mem.h"
#include "str.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- the oracle: lib/firestore.c before lib/fsdecode ---- */

static json_object *old_parse(const char *p, size_t n)
{
	struct json_tokener *tok = json_tokener_new_ex(FX_FS_JSON_DEPTH);
	json_object *j;
	size_t end;

	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	j = n > 0 ? json_tokener_parse_ex(tok, p, (int)n) : NULL;
	if (!j || json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(j);
		json_tokener_free(tok);
		return NULL;
	}
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	for (; end < n; end++)
		if (p[end] != ' ' && p[end] != '\n' && p[end] != '\r' && p[end] != '\t') {
			json_object_put(j);
			return NULL;
		}
	return j;
}

static int old_copy_time(json_object *doc, const char *key, char out[40])
{
	json_object *v;

	out[0] = '\0';
	if (!json_object_object_get_ex(doc, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_string) ||
	    fx_str_copy(out, 40, json_object_get_string(v), (size_t)json_object_get_string_len(v)) < 0)
		return -1;
	return 0;
}

static int old_decode_doc(json_object *j, struct fx_doc *out)
{
	json_object *name, *fields = NULL;
	const char *slash;
	struct fx_err e;

	memset(out, 0, sizeof(*out));
	if (!json_object_is_type(j, json_type_object) || !json_object_object_get_ex(j, "name", &name) ||
	    !json_object_is_type(name, json_type_string) || json_object_get_string_len(name) > FX_DOCNAME_MAX ||
	    !(slash = strrchr(json_object_get_string(name), '/')))
		return -1;
	json_object_object_get_ex(j, "fields", &fields);
	fx_err_clear(&e);
	if (fx_fsvalue_decode_fields(fields, &out->fields, &e) < 0)
		goto fail;
	if (old_copy_time(j, "createTime", out->create_time) < 0 ||
	    old_copy_time(j, "updateTime", out->update_time) < 0)
		goto fail;
	out->name = fx_mem_xstrdup(json_object_get_string(name));
	out->id = out->name + (slash - json_object_get_string(name)) + 1;
	return 0;
fail:
	fx_firestore_doc_cleanup(out);
	return -1;
}

/* ---- what each reader answered ---- */

#define MAX_EVENTS 64

struct event {
	enum fx_fsdecode_kind kind;
	struct fx_doc doc;
	char *missing, *status, *message;
};

struct outcome {
	int rc; /* 0 accepted; -1 refused */
	bool inline_error; /* refused by an error element (the last event) */
	struct event ev[MAX_EVENTS];
	size_t n;
	bool overflow;
};

static void outcome_cleanup(struct outcome *o)
{
	for (size_t i = 0; i < o->n; i++) {
		fx_firestore_doc_cleanup(&o->ev[i].doc);
		free(o->ev[i].missing);
		free(o->ev[i].status);
		free(o->ev[i].message);
	}
	memset(o, 0, sizeof(*o));
}

static struct event *push(struct outcome *o)
{
	if (o->n == MAX_EVENTS) {
		o->overflow = true;
		return NULL;
	}
	memset(&o->ev[o->n], 0, sizeof(o->ev[o->n]));
	return &o->ev[o->n++];
}

static char *dup_or_null(const char *s)
{
	return s ? fx_mem_xstrdup(s) : NULL;
}

/* The old element loops of fx_firestore_query and fx_firestore_batch_get. */
static void old_stream(const char *p, size_t n, enum fx_fsdecode_stream_kind kind, struct outcome *o)
{
	json_object *ans = old_parse(p, n), *el, *v;

	o->rc = -1;
	if (!ans || !json_object_is_type(ans, json_type_array))
		goto out;
	for (size_t i = 0; i < json_object_array_length(ans); i++) {
		struct event *ev;

		el = json_object_array_get_idx(ans, i);
		if (json_object_object_get_ex(el, "error", &v)) {
			json_object *s;

			if (!(ev = push(o)))
				goto out;
			ev->kind = FX_FSDECODE_ERROR;
			if (json_object_object_get_ex(v, "status", &s) && json_object_is_type(s, json_type_string))
				ev->status = fx_mem_xstrdup(json_object_get_string(s));
			if (json_object_object_get_ex(v, "message", &s) && json_object_is_type(s, json_type_string))
				ev->message = fx_mem_xstrdup(json_object_get_string(s));
			o->inline_error = true;
			goto out;
		}
		if (json_object_object_get_ex(el, kind == FX_FSDECODE_RUNQUERY ? "document" : "found", &v)) {
			struct fx_doc doc;

			if (old_decode_doc(v, &doc) < 0)
				goto out;
			if (!(ev = push(o))) {
				fx_firestore_doc_cleanup(&doc);
				goto out;
			}
			ev->kind = FX_FSDECODE_DOC;
			ev->doc = doc;
		} else if (kind == FX_FSDECODE_BATCHGET && json_object_object_get_ex(el, "missing", &v) &&
			   json_object_is_type(v, json_type_string)) {
			if (!(ev = push(o)))
				goto out;
			ev->kind = FX_FSDECODE_MISSING;
			ev->missing = fx_mem_xstrdup(json_object_get_string(v));
		}
	}
	o->rc = 0;
out:
	json_object_put(ans);
}

static int new_event(struct fx_fsdecode_el *el, void *ctx, struct fx_err *e)
{
	struct outcome *o = ctx;
	struct event *ev = push(o);

	if (!ev)
		return fx_err_set(e, FX_INTERNAL, "too many events");
	ev->kind = el->kind;
	switch (el->kind) {
	case FX_FSDECODE_DOC:
		ev->doc = el->doc;
		memset(&el->doc, 0, sizeof(el->doc));
		return 0;
	case FX_FSDECODE_MISSING: ev->missing = fx_mem_xstrdup(el->missing); return 0;
	case FX_FSDECODE_ERROR:
		ev->status = dup_or_null(el->status);
		ev->message = dup_or_null(el->message);
		o->inline_error = true;
		return fx_err_set(e, FX_UNAVAILABLE, "inline error");
	}
	return 0;
}

static void new_stream(const char *p, size_t n, enum fx_fsdecode_stream_kind kind, struct outcome *o, struct fx_err *e)
{
	fx_err_clear(e);
	o->rc = fx_fsdecode_stream(p, n, kind, "fuzz", new_event, o, e);
	/* A malformed answer found after an error element replaces its error. */
	o->inline_error = o->rc < 0 && strcmp(e->message, "inline error") == 0;
}

/* ---- comparing ---- */

static bool str_same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool doc_same(const struct fx_doc *a, const struct fx_doc *b)
{
	return str_same(a->name, b->name) && (!a->name || (a->id - a->name) == (b->id - b->name)) &&
	       fx_value_equal(&a->fields, &b->fields) && strcmp(a->create_time, b->create_time) == 0 &&
	       strcmp(a->update_time, b->update_time) == 0;
}

static bool events_same(const struct outcome *a, const struct outcome *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		const struct event *x = &a->ev[i], *y = &b->ev[i];

		if (x->kind != y->kind || !str_same(x->missing, y->missing) || !str_same(x->status, y->status) ||
		    !str_same(x->message, y->message))
			return false;
		if (x->kind == FX_FSDECODE_DOC && !doc_same(&x->doc, &y->doc))
			return false;
	}
	return true;
}

/* Whether the input holds an integer literal below INT64_MIN (json-c saturates it). */
static bool has_negative_overflow(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t k = 0;

		if (p[i] != '-')
			continue;
		while (i + 1 + k < n && p[i + 1 + k] >= '0' && p[i + 1 + k] <= '9')
			k++;
		if (k >= 19)
			return true;
	}
	return false;
}

/* Whether a refusal of the new reader that the old one accepted is one it documents. */
static bool stricter_ok(const char *p, size_t n, const struct fx_err *newe)
{
	json_object *j = NULL;
	struct fx_err e;
	bool scanner_refuses;

	if (has_negative_overflow(p, n))
		return true;
	fx_err_clear(&e);
	scanner_refuses = fx_json_parse(p, n, 1000, &j, &e) < 0;
	json_object_put(j);
	if (!scanner_refuses)
		return false;
	return strstr(newe->message, "malformed answer") || strstr(newe->message, "field name too long or not UTF-8");
}

static void compare(const char *p, size_t n, const char *mode, const struct outcome *old, const struct outcome *neu,
		    const struct fx_err *e)
{
	if (old->overflow || neu->overflow)
		return;
	if (old->rc == 0 && neu->rc == 0 && events_same(old, neu))
		return;
	if (old->rc < 0 && neu->rc < 0 && !old->inline_error && !neu->inline_error)
		return;
	if (old->inline_error && neu->inline_error && events_same(old, neu))
		return;
	if (neu->rc < 0 && !neu->inline_error && stricter_ok(p, n, e))
		return;
	fprintf(stderr, "fuzz_fsdecode %s: old rc %d inline %d events %zu; new rc %d inline %d events %zu: %s\n", mode,
		old->rc, old->inline_error, old->n, neu->rc, neu->inline_error, neu->n, e->message);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct outcome old, neu;
	struct fx_err e;
	json_object *j;

	memset(&old, 0, sizeof(old));
	memset(&neu, 0, sizeof(neu));

	/* documents.get */
	j = old_parse(p, size);
	old.rc = j ? old_decode_doc(j, &old.ev[0].doc) : -1;
	if (old.rc == 0)
		old.n = 1;
	json_object_put(j);
	fx_err_clear(&e);
	neu.rc = fx_fsdecode_doc(p, size, "fuzz", &neu.ev[0].doc, &e);
	if (neu.rc == 0)
		neu.n = 1;
	compare(p, size, "get", &old, &neu, &e);
	outcome_cleanup(&old);
	outcome_cleanup(&neu);

	/* runQuery and batchGet */
	for (int k = 0; k < 2; k++) {
		enum fx_fsdecode_stream_kind kind = k ? FX_FSDECODE_BATCHGET : FX_FSDECODE_RUNQUERY;

		old_stream(p, size, kind, &old);
		new_stream(p, size, kind, &neu, &e);
		compare(p, size, k ? "batchGet" : "runQuery", &old, &neu, &e);
		outcome_cleanup(&old);
		outcome_cleanup(&neu);
	}

	/* one Value */
	j = old_parse(p, size);
	fx_err_clear(&e);
	old.rc = j ? fx_fsvalue_decode(j, &old.ev[0].doc.fields, &e) : -1;
	json_object_put(j);
	if (old.rc == 0)
		old.n = 1;
	fx_err_clear(&e);
	neu.rc = fx_fsdecode_value(p, size, &neu.ev[0].doc.fields, &e);
	if (neu.rc == 0)
		neu.n = 1;
	compare(p, size, "value", &old, &neu, &e);
	outcome_cleanup(&old);
	outcome_cleanup(&neu);
	return 0;
}
