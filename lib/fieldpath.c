#include "fieldpath.h"

#include "map.h"
#include "mem.h"

#include <stdlib.h>
#include <string.h>

static bool simple_segment(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

int fx_fieldpath_format(const char *const *segments, size_t n, struct fx_buf *out)
{
	for (size_t i = 0; i < n; i++) {
		const char *s = segments[i];

		if (i && fx_buf_append(out, ".", 1) < 0)
			return -1;
		if (simple_segment(s)) {
			if (fx_buf_puts(out, s) < 0)
				return -1;
			continue;
		}
		if (fx_buf_append(out, "`", 1) < 0)
			return -1;
		for (; *s; s++) {
			if ((*s == '`' || *s == '\\') && fx_buf_append(out, "\\", 1) < 0)
				return -1;
			if (fx_buf_append(out, s, 1) < 0)
				return -1;
		}
		if (fx_buf_append(out, "`", 1) < 0)
			return -1;
	}
	return 0;
}

void fx_fieldpath_cleanup(struct fx_fieldpath *fp)
{
	if (!fp)
		return;
	free(fp->segs); /* the segments' bytes are in the same block */
	fp->segs = NULL;
	fp->n = 0;
}

/* Counts, and with bytes writes, a segment's next byte; false past FX_VALUE_FIELD_NAME_MAX. */
static bool add_byte(char *bytes, size_t at, size_t *k, char c)
{
	if (*k == FX_VALUE_FIELD_NAME_MAX)
		return false;
	if (bytes)
		bytes[at + *k] = c;
	(*k)++;
	return true;
}

/*
 * One walk over dotted's segments, checking them as fx_fieldpath_parse
 * says. With bytes set it also writes each segment there, NUL-terminated,
 * and points segs[i] at it (the counts of a first walk size both). Returns
 * the number of segments and their bytes with NULs in *len, or -1 with why.
 */
static int walk(const char *dotted, char **segs, char *bytes, size_t *len, const char **why)
{
	const char *p = dotted;
	size_t at = 0;
	int n = 0;

	for (;;) {
		size_t k = 0; /* the segment's bytes so far */

		if (*p == '`') {
			for (p++; *p != '`'; p++) {
				if (*p == '\0')
					return *why = "unterminated back-quote", -1;
				if (*p == '\\') {
					p++;
					if (*p != '`' && *p != '\\')
						return *why = "bad escape in back-quoted segment", -1;
				}
				if (!add_byte(bytes, at, &k, *p))
					return *why = "segment too long", -1;
			}
			p++;
			if (*p != '.' && *p != '\0')
				return *why = "text after a back-quoted segment", -1;
		} else {
			for (; *p != '.' && *p != '\0'; p++) {
				if (strchr("~*`/[]", *p))
					return *why = "segment holds one of ~*`/[] (back-quote it)", -1;
				if (!add_byte(bytes, at, &k, *p))
					return *why = "segment too long", -1;
			}
		}
		if (k == 0)
			return *why = "empty segment", -1;
		if (n == FX_FIELDPATH_MAX_SEGMENTS)
			return *why = "too many segments", -1;
		if (bytes) {
			bytes[at + k] = '\0';
			segs[n] = bytes + at;
		}
		n++;
		at += k + 1;
		if (*p == '\0')
			break;
		p++; /* '.' */
	}
	*len = at;
	return n;
}

/* One allocation: the n pointers, then the segments' bytes. */
int fx_fieldpath_parse(const char *dotted, struct fx_fieldpath *out, struct fx_err *e)
{
	const char *why = NULL;
	size_t len = 0;
	int n = walk(dotted, NULL, NULL, &len, &why);
	char **segs;

	out->segs = NULL;
	out->n = 0;
	if (n < 0)
		return fx_err_invalid(e, dotted, "invalid field path \"%.80s\": %s", dotted, why);
	segs = fx_mem_xmalloc((size_t)n * sizeof(*segs) + len);
	(void)walk(dotted, segs, (char *)(segs + n), &len, &why); /* the first walk's text: it cannot fail */
	out->segs = segs;
	out->n = (size_t)n;
	return 0;
}

int fx_fieldpath_cmp(const struct fx_fieldpath *a, const struct fx_fieldpath *b)
{
	for (size_t i = 0; i < a->n && i < b->n; i++) {
		int r = strcmp(a->segs[i], b->segs[i]);

		if (r)
			return r;
	}
	return a->n < b->n ? -1 : a->n > b->n ? 1 : 0;
}

bool fx_fieldpath_is_prefix(const struct fx_fieldpath *a, const struct fx_fieldpath *b)
{
	if (a->n > b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->segs[i], b->segs[i]) != 0)
			return false;
	return true;
}

const struct fx_value *fx_fieldpath_get(const struct fx_value *map, const struct fx_fieldpath *fp)
{
	const struct fx_value *v = map;

	for (size_t i = 0; v && i < fp->n; i++)
		v = fx_map_get(v, fp->segs[i]);
	return fp->n ? v : NULL;
}
