/*
 * fx_fieldpath: Firestore field paths ("stock.onHand", "a.`x.y`"), as
 * update masks, transforms and queries name fields: parsing, formatting,
 * ordering, and reading a value at a path. Ownership: a parsed
 * struct fx_fieldpath owns its segments (fx_fieldpath_cleanup); formatting
 * appends to the caller's fx_buf; values read are borrowed from the map.
 */
#ifndef FX_FIELDPATH_H
#define FX_FIELDPATH_H

#include "buf.h"
#include "err.h"
#include "value.h"

#include <stdbool.h>
#include <stddef.h>

#define FX_FIELDPATH_MAX_SEGMENTS 64

/* A parsed field path: n segments, owned by the struct. */
struct fx_fieldpath {
	char **segs;
	size_t n;
};

/*
 * Appends the Firestore field path of n segments to out: segments matching
 * [A-Za-z_][A-Za-z0-9_]* as they are, others back-quoted with ` and \
 * escaped by \, joined by '.'. Returns -1 only when out's cap is reached.
 * An empty segment formats as `` and n == 0 as "": fx_fieldpath_parse
 * refuses both.
 */
FX_MUST_USE int fx_fieldpath_format(const char *const *segments, size_t n, struct fx_buf *out);

/*
 * Parses a dotted field path into segments: "a.b", with back-quoted segments
 * ("a.`x.y`.`b\`c`", escapes \` and \\ only). Refuses an empty path, empty
 * segments, unquoted segments holding any of ~*`/[] (as Google's clients
 * do), more than FX_FIELDPATH_MAX_SEGMENTS segments and segments longer than
 * FX_VALUE_FIELD_NAME_MAX, with a 400 INVALID_ARGUMENT naming the path. On
 * failure *out is left empty.
 */
FX_MUST_USE int fx_fieldpath_parse(const char *dotted, struct fx_fieldpath *out, struct fx_err *e);

/* Frees the segments; accepts NULL and an empty path. */
void fx_fieldpath_cleanup(struct fx_fieldpath *fp);

/* Orders paths segment by segment, bytewise (as clients sort update masks). */
int fx_fieldpath_cmp(const struct fx_fieldpath *a, const struct fx_fieldpath *b);

/* True when a is a proper or equal prefix of b (segment-wise). */
bool fx_fieldpath_is_prefix(const struct fx_fieldpath *a, const struct fx_fieldpath *b);

/* The value at a parsed path through nested maps, or NULL (also for an empty path). */
const struct fx_value *fx_fieldpath_get(const struct fx_value *map, const struct fx_fieldpath *fp);

#endif
