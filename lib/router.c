#include "router.h"

#include "arena.h"
#include "str.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *fx_router_percent_decode(struct fx_arena *arena, const char *s, size_t n, int plus_is_space)
{
	char *out = fx_arena_alloc(arena, n + 1);
	size_t i, j = 0;

	if (!out)
		return NULL;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= n)
				return NULL;
			hi = hexval(s[i + 1]);
			lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				return NULL;
			c = (char)(hi * 16 + lo);
			i += 2;
		} else if (c == '+' && plus_is_space) {
			c = ' ';
		}
		if (c == '\0')
			return NULL;
		out[j++] = c;
	}
	out[j] = '\0';
	return out;
}

/*
 * Matches one segment of a path (raw) against one of a pattern. The last
 * pattern segment may be "{id}:verb", "lit:verb" or "{id}"; a verb is split
 * off the path segment at its last ':'.
 */
static bool match_segment(const char *pat, size_t plen, const char *seg, size_t slen, bool last, struct fx_arena *arena,
			  struct fx_params *params, bool *bad)
{
	const char *pverb = last ? memchr(pat, ':', plen) : NULL;
	size_t pbase = pverb ? (size_t)(pverb - pat) : plen;

	if (pverb) {
		size_t vlen = plen - pbase;
		const char *sverb = NULL;

		for (size_t i = slen; i > 0; i--)
			if (seg[i - 1] == ':') {
				sverb = seg + i - 1;
				break;
			}
		if (!sverb || (size_t)(seg + slen - sverb) != vlen || memcmp(sverb, pverb, vlen) != 0)
			return false;
		slen = (size_t)(sverb - seg);
	}
	if (pbase > 2 && pat[0] == '{' && pat[pbase - 1] == '}') {
		char *v;

		if (slen == 0)
			return false;
		/* A custom method on a route that has none is not an id. */
		if (pverb == NULL && last && memchr(seg, ':', slen))
			return false;
		if (params->n >= FX_MAX_PARAMS)
			return false;
		v = fx_router_percent_decode(arena, seg, slen, 0);
		if (!v) {
			*bad = true;
			return false;
		}
		params->name[params->n] = pat + 1; /* up to '}', compared by length later */
		params->value[params->n] = v;
		params->n++;
		return true;
	}
	return pbase == slen && memcmp(pat, seg, slen) == 0;
}

static bool match_path(const char *pattern, const char *path, struct fx_arena *arena, struct fx_params *params,
		       bool *bad)
{
	const char *p = pattern, *s = path;

	params->n = 0;
	if (*p != '/' || *s != '/')
		return false;
	for (;;) {
		const char *pe, *se;
		bool plast, slast;

		p++;
		s++;
		pe = strchr(p, '/');
		se = strchr(s, '/');
		plast = pe == NULL;
		slast = se == NULL;
		if (plast != slast)
			return false;
		if (!pe)
			pe = p + strlen(p);
		if (!se)
			se = s + strlen(s);
		if (!match_segment(p, (size_t)(pe - p), s, (size_t)(se - s), plast, arena, params, bad))
			return false;
		if (plast)
			return true;
		p = pe;
		s = se;
	}
}

const struct fx_route *fx_router_match(const struct fx_route *routes, size_t n, const char *method, const char *path,
				       struct fx_arena *arena, struct fx_params *params, char *allow, size_t allow_len,
				       struct fx_err *e)
{
	bool path_matched = false, bad = false;
	size_t alen = 0;

	allow[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (!match_path(routes[i].pattern, path, arena, params, &bad))
			continue;
		if (strcmp(routes[i].method, method) == 0)
			return &routes[i];
		path_matched = true;
		/* A method that does not fit is left out; alen stays where it was. */
		if (!strstr(allow, routes[i].method) &&
		    fx_str_add(allow, allow_len, &alen, "%s%s", alen ? ", " : "", routes[i].method) < 0)
			allow[alen] = '\0';
	}
	params->n = 0;
	if (bad)
		return fx_err_set(e, FX_INVALID_ARGUMENT, "malformed percent-encoding in path"), NULL;
	if (path_matched)
		return fx_err_set(e, FX_METHOD_NOT_ALLOWED, "method %s is not allowed on %s", method, path), NULL;
	return fx_err_set(e, FX_NOT_FOUND, "no route for %s %s", method, path), NULL;
}

const char *fx_router_params_get(const struct fx_params *p, const char *name)
{
	size_t len = strlen(name);

	for (int i = 0; i < p->n; i++)
		if (strncmp(p->name[i], name, len) == 0 && p->name[i][len] == '}')
			return p->value[i];
	return NULL;
}
