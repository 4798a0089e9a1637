/*
 * fx_fsdecode: Firestore REST v1 answers (a Document, a batchGet or
 * runQuery stream) decoded in one strict pass from their bytes straight
 * into struct fx_doc / fx_value, with no JSON tree in between.
 * Ownership: what a decode fills (a document, each element's document) is
 * the caller's, released with fx_firestore_doc_cleanup; strings an element
 * lends (a missing name, an error's status and message) live until the
 * callback returns. The input is borrowed.
 *
 * What is refused: everything lib/fsvalue.c refuses in a Value (the same
 * rules, fsvalue.h), JSON that is not RFC 8259 (numbers like 01, 1. or
 * NaN, single quotes, raw control characters in strings), invalid UTF-8 in
 * any string, unpaired surrogate escapes, a NUL in a field name, duplicate
 * keys in any object that is decoded (Documents, Values, fields, elements,
 * errors), integer literals outside int64 (doubles: outside uint64),
 * nesting deeper than FX_FS_JSON_DEPTH containers, and bytes after the
 * answer other than JSON whitespace. The members of a Document or element
 * that are not read (readTime, transaction, skippedResults, ...) are
 * checked as JSON and skipped. A malformed answer is a 502 UNAVAILABLE
 * "<what>: malformed answer: <why> at byte N"; a bad value
 * "bad firestore value: <what> at <field path>", as fx_fsvalue_decode says
 * it. When an answer is both, the malformed answer is reported, as a
 * parse-then-decode reader would.
 */
#ifndef FX_FSDECODE_H
#define FX_FSDECODE_H

#include "arena.h"
#include "err.h"
#include "firestore.h"
#include "value.h"

#include <stdbool.h>
#include <stddef.h>

/*
 * Decodes a documents.get answer (one Document: "name", "fields",
 * "createTime", "updateTime"; other members skipped) into *out
 * (overwritten; left zeroed on failure). what names the call in messages.
 */
FX_MUST_USE int fx_fsdecode_doc(const char *p, size_t n, const char *what, struct fx_doc *out, struct fx_err *e);

/* One element of a streamed answer, as fx_fsdecode_stream hands it over. */
enum fx_fsdecode_kind {
	FX_FSDECODE_DOC, /* a "document" (runQuery) or "found" (batchGet) Document */
	FX_FSDECODE_MISSING, /* batchGet's "missing": a string name */
	FX_FSDECODE_ERROR /* an inline {"error": {...}} */
};

struct fx_fsdecode_el {
	enum fx_fsdecode_kind kind;
	struct fx_doc doc; /* DOC: the callback may move it out (and zero it); cleaned up after the callback */
	const char *missing; /* MISSING: the name, NUL-terminated (cut at an escaped NUL) */
	const char *status; /* ERROR: "status" when it is a string, else NULL */
	const char *message; /* ERROR: "message" when it is a string, else NULL */
};

/* Called for each element in order; returns 0 to go on, -1 (e set) to stop the decode with that error. */
typedef int (*fx_fsdecode_fn)(struct fx_fsdecode_el *el, void *ctx, struct fx_err *e);

/* Which stream: the element member holding a Document, and whether "missing" is read. */
enum fx_fsdecode_stream_kind { FX_FSDECODE_RUNQUERY, FX_FSDECODE_BATCHGET };

/*
 * Decodes a streamed answer: a JSON array of elements, each handed to fn in
 * order as one fx_fsdecode_el. An element with an "error" member (whatever
 * else it holds) is an ERROR; else one with "document" (runQuery) or
 * "found" (batchGet) is a DOC, decoded as fx_fsdecode_doc does; else a
 * batchGet element whose "missing" is a string is MISSING; anything else
 * (readTime, transaction, skippedResults, done, a non-object) is skipped.
 * Returns 0, or -1 with e from fn, from a bad element or for a malformed
 * answer (not an array: "not an array").
 */
FX_MUST_USE int fx_fsdecode_stream(const char *p, size_t n, enum fx_fsdecode_stream_kind kind, const char *what,
				   fx_fsdecode_fn fn, void *ctx, struct fx_err *e);

/*
 * fx_fsdecode_stream whose documents' string values lend their bytes from
 * strings (fx_value_string_lent) while it has room, copies past that: one
 * block for a page's strings instead of an allocation each. The documents
 * must then be cleaned up before strings is reset (a list answered within
 * its request, strings the request's arena). NULL: copies, as
 * fx_fsdecode_stream.
 */
FX_MUST_USE int fx_fsdecode_stream_lend(const char *p, size_t n, enum fx_fsdecode_stream_kind kind, const char *what,
					struct fx_arena *strings, fx_fsdecode_fn fn, void *ctx, struct fx_err *e);

/*
 * Decodes one Value (typed JSON, the whole of p) into *out (overwritten;
 * FX_V_NULL on failure) with the rules above: what fx_fsvalue_decode
 * decodes from a parsed tree, for tests and the differential fuzzer.
 */
FX_MUST_USE int fx_fsdecode_value(const char *p, size_t n, struct fx_value *out, struct fx_err *e);

#endif
