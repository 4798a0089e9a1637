#include "json.h"

#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool fx_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;

	while (p < end) {
		unsigned c = *p;
		size_t len;
		unsigned cp;

		if (c == 0)
			return false;
		if (c < 0x80) {
			p++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			len = 2;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			cp = c & 0x07;
		} else {
			return false;
		}
		if ((size_t)(end - p) < len)
			return false;
		for (size_t i = 1; i < len; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		p += len;
	}
	return true;
}

size_t fx_utf8_len(const char *s, size_t n)
{
	size_t count = 0;

	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			count++;
	return count;
}

/*
 * A strict scanner run before json-c: it finds what json-c accepts
 * silently (duplicate keys keep the last value there) and reports the
 * position of every problem. Keys are compared after unescaping.
 */
struct scan {
	const char *p;
	const char *end;
	const char *start;
	int max_depth;
	struct fx_err *e;
};

struct key {
	char *s;
	size_t n;
};

static void ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static int fail(struct scan *s, const char *what)
{
	return fx_err_set(s->e, 400, "INVALID_ARGUMENT", "invalid JSON: %s at byte %ld", what, (long)(s->p - s->start));
}

static int hex4(const char *p, unsigned *out)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/* Scans a string; when key is set, stores its unescaped bytes (malloc'd). */
static int scan_string(struct scan *s, struct key *key)
{
	char *out = NULL;
	size_t n = 0;
	const char *begin;

	s->p++; /* opening quote */
	begin = s->p;
	if (key)
		out = fx_xmalloc((size_t)(s->end - s->p) + 1);
	while (s->p < s->end && *s->p != '"') {
		unsigned char c = (unsigned char)*s->p;

		if (c < 0x20) {
			free(out);
			return fail(s, "control character in string");
		}
		if (c != '\\') {
			if (out)
				out[n++] = (char)c;
			s->p++;
			continue;
		}
		if (s->end - s->p < 2) {
			free(out);
			return fail(s, "unterminated escape");
		}
		c = (unsigned char)s->p[1];
		if (c == 'u') {
			unsigned cp;

			if (s->end - s->p < 6 || hex4(s->p + 2, &cp) < 0) {
				free(out);
				return fail(s, "bad \\u escape");
			}
			if (cp == 0) {
				free(out);
				return fail(s, "NUL in string");
			}
			s->p += 6;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				unsigned lo;

				if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u' || hex4(s->p + 2, &lo) < 0 ||
				    lo < 0xdc00 || lo > 0xdfff) {
					free(out);
					return fail(s, "unpaired surrogate");
				}
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				s->p += 6;
			} else if (cp >= 0xdc00 && cp <= 0xdfff) {
				free(out);
				return fail(s, "unpaired surrogate");
			}
			if (out) {
				if (cp < 0x80) {
					out[n++] = (char)cp;
				} else if (cp < 0x800) {
					out[n++] = (char)(0xc0 | (cp >> 6));
					out[n++] = (char)(0x80 | (cp & 0x3f));
				} else if (cp < 0x10000) {
					out[n++] = (char)(0xe0 | (cp >> 12));
					out[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
					out[n++] = (char)(0x80 | (cp & 0x3f));
				} else {
					out[n++] = (char)(0xf0 | (cp >> 18));
					out[n++] = (char)(0x80 | ((cp >> 12) & 0x3f));
					out[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
					out[n++] = (char)(0x80 | (cp & 0x3f));
				}
			}
			continue;
		}
		if (!strchr("\"\\/bfnrt", (int)c)) {
			free(out);
			return fail(s, "bad escape");
		}
		if (out) {
			static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";

			out[n++] = to[strchr(from, (int)c) - from];
		}
		s->p += 2;
	}
	if (s->p >= s->end) {
		free(out);
		return fail(s, "unterminated string");
	}
	if (!fx_utf8_valid(begin, (size_t)(s->p - begin))) {
		free(out);
		return fail(s, "invalid UTF-8");
	}
	s->p++;
	if (key) {
		key->s = out;
		key->n = n;
	}
	return 0;
}

static int scan_number(struct scan *s)
{
	const char *p = s->p;

	if (p < s->end && *p == '-')
		p++;
	if (p >= s->end)
		return fail(s, "bad number");
	if (*p == '0') {
		p++;
	} else if (*p >= '1' && *p <= '9') {
		while (p < s->end && *p >= '0' && *p <= '9')
			p++;
	} else {
		return fail(s, "unexpected character");
	}
	if (p < s->end && *p == '.') {
		p++;
		if (p >= s->end || *p < '0' || *p > '9')
			return fail(s, "bad number");
		while (p < s->end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < s->end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < s->end && (*p == '+' || *p == '-'))
			p++;
		if (p >= s->end || *p < '0' || *p > '9')
			return fail(s, "bad number");
		while (p < s->end && *p >= '0' && *p <= '9')
			p++;
	}
	s->p = p;
	return 0;
}

static int cmp_key(const void *a, const void *b)
{
	const struct key *x = a, *y = b;
	size_t n = x->n < y->n ? x->n : y->n;
	int c = memcmp(x->s, y->s, n);

	return c ? c : (x->n > y->n) - (x->n < y->n);
}

static int scan_value(struct scan *s, int depth);

static int scan_object(struct scan *s, int depth)
{
	struct key *keys = NULL;
	size_t nkeys = 0, cap = 0;
	int rc = -1;

	s->p++;
	ws(s);
	if (s->p < s->end && *s->p == '}') {
		s->p++;
		return 0;
	}
	for (;;) {
		ws(s);
		if (s->p >= s->end || *s->p != '"') {
			fail(s, "expected a string key");
			goto out;
		}
		if (nkeys == cap) {
			cap = cap ? cap * 2 : 8;
			keys = fx_xrealloc(keys, cap * sizeof(*keys));
		}
		if (scan_string(s, &keys[nkeys]) < 0)
			goto out;
		nkeys++;
		ws(s);
		if (s->p >= s->end || *s->p != ':') {
			fail(s, "expected ':'");
			goto out;
		}
		s->p++;
		if (scan_value(s, depth) < 0)
			goto out;
		ws(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			continue;
		}
		if (s->p < s->end && *s->p == '}') {
			s->p++;
			break;
		}
		fail(s, "expected ',' or '}'");
		goto out;
	}
	qsort(keys, nkeys, sizeof(*keys), cmp_key);
	for (size_t i = 1; i < nkeys; i++) {
		if (cmp_key(&keys[i - 1], &keys[i]) == 0) {
			fx_err_set(s->e, 400, "INVALID_ARGUMENT", "invalid JSON: duplicate key \"%.*s\"",
				   (int)(keys[i].n > 64 ? 64 : keys[i].n), keys[i].s);
			goto out;
		}
	}
	rc = 0;
out:
	for (size_t i = 0; i < nkeys; i++)
		free(keys[i].s);
	free(keys);
	return rc;
}

static int scan_value(struct scan *s, int depth)
{
	ws(s);
	if (s->p >= s->end)
		return fail(s, "unexpected end");
	switch (*s->p) {
	case '{':
	case '[':
		if (depth + 1 > s->max_depth)
			return fx_err_set(s->e, 400, "INVALID_ARGUMENT", "invalid JSON: nesting deeper than %d",
					  s->max_depth);
		if (*s->p == '{')
			return scan_object(s, depth + 1);
		s->p++;
		ws(s);
		if (s->p < s->end && *s->p == ']') {
			s->p++;
			return 0;
		}
		for (;;) {
			if (scan_value(s, depth + 1) < 0)
				return -1;
			ws(s);
			if (s->p < s->end && *s->p == ',') {
				s->p++;
				continue;
			}
			if (s->p < s->end && *s->p == ']') {
				s->p++;
				return 0;
			}
			return fail(s, "expected ',' or ']'");
		}
	case '"': return scan_string(s, NULL);
	case 't':
	case 'f':
	case 'n': {
		static const char *const words[] = {"true", "false", "null"};

		for (int i = 0; i < 3; i++) {
			size_t len = strlen(words[i]);

			if ((size_t)(s->end - s->p) >= len && memcmp(s->p, words[i], len) == 0) {
				s->p += len;
				return 0;
			}
		}
		return fail(s, "unexpected word");
	}
	default: return scan_number(s);
	}
}

int fx_json_parse(const char *p, size_t n, int max_depth, json_object **out, struct fx_err *e)
{
	struct scan s = {p, p + n, p, max_depth, e};
	struct json_tokener *tok;
	json_object *obj;

	*out = NULL;
	if (n == 0)
		return fx_err_set(e, 400, "INVALID_ARGUMENT", "invalid JSON: empty body");
	if (scan_value(&s, 0) < 0)
		return -1;
	ws(&s);
	if (s.p != s.end)
		return fail(&s, "trailing data");
	/* The scanner has proved the text well-formed; json-c builds the tree. */
	tok = json_tokener_new_ex(max_depth + 1);
	if (!tok)
		return FX_ERR_INTERNAL(e, "json tokener allocation failed");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, p, (int)n);
	/* A number at the very end may go on for all json-c knows: a space ends it. */
	if (!obj && json_tokener_get_error(tok) == json_tokener_continue)
		obj = json_tokener_parse_ex(tok, " ", 1);
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_tokener_free(tok);
		json_object_put(obj);
		return fx_err_set(e, 400, "INVALID_ARGUMENT", "invalid JSON");
	}
	json_tokener_free(tok);
	*out = obj;
	return 0;
}

int fx_json_parse_object(const char *p, size_t n, json_object **out, struct fx_err *e)
{
	if (fx_json_parse(p, n, FX_JSON_MAX_DEPTH, out, e) < 0)
		return -1;
	if (!json_object_is_type(*out, json_type_object)) {
		json_object_put(*out);
		*out = NULL;
		return fx_err_set(e, 400, "INVALID_ARGUMENT", "request body must be a JSON object");
	}
	return 0;
}

int fx_json_allow(json_object *obj, const char *const *allowed, const char *prefix, struct fx_err *e)
{
	json_object_object_foreach(obj, key, val)
	{
		const char *const *a;

		(void)val;
		for (a = allowed; *a; a++)
			if (strcmp(*a, key) == 0)
				break;
		if (!*a) {
			char field[96];

			snprintf(field, sizeof(field), "%s%s", prefix, key);
			return fx_err_invalid(e, field, "unknown field");
		}
	}
	return 0;
}

static json_object *lookup(json_object *obj, const char *key, const char *field, bool required, bool *present,
			   struct fx_err *e, int *rc)
{
	json_object *v = NULL;

	*rc = 0;
	if (present)
		*present = false;
	if (!json_object_object_get_ex(obj, key, &v) || v == NULL) {
		if (required)
			*rc = fx_err_invalid(e, field, "is required");
		return NULL;
	}
	if (present)
		*present = true;
	return v;
}

int fx_json_string(json_object *obj, const char *key, const char *field, bool required, size_t min_len, size_t max_len,
		   const char **out, bool *present, struct fx_err *e)
{
	int rc;
	json_object *v = lookup(obj, key, field, required, present, e, &rc);
	const char *s;
	size_t n, chars;

	if (!v)
		return rc;
	if (!json_object_is_type(v, json_type_string))
		return fx_err_invalid(e, field, "must be a string");
	s = json_object_get_string(v);
	n = (size_t)json_object_get_string_len(v);
	chars = fx_utf8_len(s, n);
	if (strlen(s) != n)
		return fx_err_invalid(e, field, "must not contain NUL");
	if (chars < min_len)
		return min_len == 1 ? fx_err_invalid(e, field, "must not be empty")
				    : fx_err_invalid(e, field, "must be at least %zu characters", min_len);
	if (chars > max_len)
		return fx_err_invalid(e, field, "must be at most %zu characters", max_len);
	*out = s;
	return 0;
}

int fx_json_int64(json_object *obj, const char *key, const char *field, bool required, int64_t min, int64_t max,
		  int64_t *out, bool *present, struct fx_err *e)
{
	int rc;
	json_object *v = lookup(obj, key, field, required, present, e, &rc);
	int64_t n;

	if (!v)
		return rc;
	if (!json_object_is_type(v, json_type_int))
		return fx_err_invalid(e, field, "must be an integer");
	n = json_object_get_int64(v);
	/* json-c saturates out-of-range numbers: catch them as out of bounds. */
	if (n < min || n > max || n == INT64_MAX || n == INT64_MIN)
		return fx_err_invalid(e, field, "must be between %lld and %lld", (long long)min, (long long)max);
	*out = n;
	return 0;
}

int fx_json_bool(json_object *obj, const char *key, const char *field, bool required, bool *out, bool *present,
		 struct fx_err *e)
{
	int rc;
	json_object *v = lookup(obj, key, field, required, present, e, &rc);

	if (!v)
		return rc;
	if (!json_object_is_type(v, json_type_boolean))
		return fx_err_invalid(e, field, "must be true or false");
	*out = json_object_get_boolean(v);
	return 0;
}

int fx_json_object(json_object *obj, const char *key, const char *field, bool required, json_object **out,
		   bool *present, struct fx_err *e)
{
	int rc;
	json_object *v = lookup(obj, key, field, required, present, e, &rc);

	if (!v)
		return rc;
	if (!json_object_is_type(v, json_type_object))
		return fx_err_invalid(e, field, "must be an object");
	*out = v;
	return 0;
}

int fx_json_array(json_object *obj, const char *key, const char *field, bool required, size_t max_items,
		  json_object **out, bool *present, struct fx_err *e)
{
	int rc;
	json_object *v = lookup(obj, key, field, required, present, e, &rc);

	if (!v)
		return rc;
	if (!json_object_is_type(v, json_type_array))
		return fx_err_invalid(e, field, "must be an array");
	if (json_object_array_length(v) > max_items)
		return fx_err_invalid(e, field, "must have at most %zu items", max_items);
	*out = v;
	return 0;
}

int fx_json_enum_index(const char *s, const char *const *values)
{
	for (int i = 0; values[i]; i++)
		if (strcmp(s, values[i]) == 0)
			return i;
	return -1;
}

const char *fx_json_text(json_object *obj, size_t *len)
{
	const char *s =
		json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, len);

	return s;
}
