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
	for (size_t i = 0; i < fp->n; i++)
		free(fp->segs[i]);
	free(fp->segs);
	fp->segs = NULL;
	fp->n = 0;
}

static int fp_fail(struct fx_fieldpath *fp, const char *dotted, struct fx_err *e, const char *why)
{
	fx_fieldpath_cleanup(fp);
	return fx_err_invalid(e, dotted, "invalid field path \"%.80s\": %s", dotted, why);
}

int fx_fieldpath_parse(const char *dotted, struct fx_fieldpath *out, struct fx_err *e)
{
	const char *p = dotted;
	struct fx_buf seg;

	out->segs = NULL;
	out->n = 0;
	fx_buf_init(&seg, FX_VALUE_FIELD_NAME_MAX);
	for (;;) {
		fx_buf_reset(&seg);
		if (*p == '`') {
			for (p++; *p != '`'; p++) {
				if (*p == '\0') {
					fx_buf_cleanup(&seg);
					return fp_fail(out, dotted, e, "unterminated back-quote");
				}
				if (*p == '\\') {
					p++;
					if (*p != '`' && *p != '\\') {
						fx_buf_cleanup(&seg);
						return fp_fail(out, dotted, e, "bad escape in back-quoted segment");
					}
				}
				if (fx_buf_append(&seg, p, 1) < 0) {
					fx_buf_cleanup(&seg);
					return fp_fail(out, dotted, e, "segment too long");
				}
			}
			p++;
			if (*p != '.' && *p != '\0') {
				fx_buf_cleanup(&seg);
				return fp_fail(out, dotted, e, "text after a back-quoted segment");
			}
		} else {
			for (; *p != '.' && *p != '\0'; p++) {
				if (strchr("~*`/[]", *p)) {
					fx_buf_cleanup(&seg);
					return fp_fail(out, dotted, e, "segment holds one of ~*`/[] (back-quote it)");
				}
				if (fx_buf_append(&seg, p, 1) < 0) {
					fx_buf_cleanup(&seg);
					return fp_fail(out, dotted, e, "segment too long");
				}
			}
		}
		if (seg.len == 0) {
			fx_buf_cleanup(&seg);
			return fp_fail(out, dotted, e, "empty segment");
		}
		if (out->n == FX_FIELDPATH_MAX_SEGMENTS) {
			fx_buf_cleanup(&seg);
			return fp_fail(out, dotted, e, "too many segments");
		}
		out->segs = fx_mem_xrealloc(out->segs, (out->n + 1) * sizeof(*out->segs));
		out->segs[out->n++] = fx_mem_xstrndup(seg.data, seg.len);
		if (*p == '\0')
			break;
		p++; /* '.' */
	}
	fx_buf_cleanup(&seg);
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
