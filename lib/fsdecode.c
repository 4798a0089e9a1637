#include "fsdecode.h"

#include "arena.h"
#include "b64.h"
#include "docname.h"
#include "json.h"
#include "mem.h"
#include "num.h"
#include "str.h"
#include "ts.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/*
 * One decode: the input, where it is, the error to fill, and a scratch
 * buffer for the one string (unescaped, or made NUL-terminated) held at a
 * time. A failure is either malformed JSON (syntax set: the answer is
 * refused as a whole) or a bad value or document in well-formed JSON; the
 * latter is reported only once the whole answer is known to be JSON
 * (recheck), as a parse-then-decode reader would.
 */
#define NSTEPS (2 * FX_VALUE_MAX_DEPTH + 4)

struct dec {
	const char *start, *p, *end;
	int depth; /* JSON containers open */
	bool syntax;
	bool dups; /* skip_value refuses duplicate keys too (the recheck) */
	const char *what;
	struct fx_err *e;
	/* Where the decode is (the field or item of each container entered), spelled out only in an error. */
	struct step {
		const struct fx_value *in; /* an FX_V_MAP or FX_V_ARRAY */
		size_t i;
	} path[NSTEPS];
	size_t npath; /* may exceed the array: the steps past it are not kept */
	char *scratch;
	size_t scratch_len, scratch_cap;
	size_t fields_hint; /* top-level fields of the stream's last document: the next one's first allocation */
	struct fx_arena *strings; /* string values' bytes lent from here while it has room; NULL: copies */
};

/* A lexed string: its unescaped bytes, in the input (no escapes) or in scratch (NUL-terminated). */
struct str {
	const char *p;
	size_t n;
	bool in_scratch;
};

static void dec_init(struct dec *d, const char *p, size_t n, const char *what, struct fx_err *e)
{
	memset(d, 0, sizeof(*d));
	if (!p) /* an empty answer's buffer */
		p = "";
	d->start = d->p = p;
	d->end = p + n;
	d->what = what;
	d->e = e;
}

static void dec_cleanup(struct dec *d)
{
	free(d->scratch);
	d->scratch = NULL;
}

static int syn(struct dec *d, const char *why)
{
	d->syntax = true;
	return fx_err_set(d->e, FX_BAD_GATEWAY, "%s: malformed answer: %s at byte %ld", d->what, why,
			  (long)(d->p - d->start));
}

static int bad(struct dec *d, const char *what)
{
	struct fx_value_where at = {0};
	size_t kept = d->npath < NSTEPS ? d->npath : NSTEPS;

	for (size_t k = 0; k < kept; k++) {
		const struct step *s = &d->path[k];

		if (s->in->type == FX_V_MAP)
			fx_value_where_name(&at, s->in->u.map.fields[s->i].name);
		else
			fx_value_where_index(&at, s->i);
	}
	return fx_err_set(d->e, FX_BAD_GATEWAY, "bad firestore value: %s at %s%s", what, fx_value_where_text(&at),
			  at.cut || kept < d->npath ? "..." : "");
}

static void step_in(struct dec *d, const struct fx_value *in, size_t i)
{
	if (d->npath < NSTEPS)
		d->path[d->npath] = (struct step){in, i};
	d->npath++;
}

static int bad_doc(struct dec *d, const char *why)
{
	return fx_err_set(d->e, FX_BAD_GATEWAY, "%s: malformed answer: %s", d->what, why);
}

/* ---- scratch ---- */

static void scratch_put(struct dec *d, const void *p, size_t n)
{
	if (d->scratch_len + n + 1 > d->scratch_cap) {
		size_t cap = d->scratch_cap ? d->scratch_cap : 256;

		while (cap < d->scratch_len + n + 1)
			cap *= 2;
		d->scratch = fx_mem_xrealloc(d->scratch, cap);
		d->scratch_cap = cap;
	}
	fx_err_ignore(fx_str_mem_copy(d->scratch + d->scratch_len, d->scratch_cap - d->scratch_len, p, n));
	d->scratch_len += n;
	d->scratch[d->scratch_len] = '\0';
}

/* The string NUL-terminated (a NUL it holds cuts it short, as C strings read it). */
static const char *cstr(struct dec *d, const struct str *s)
{
	if (s->in_scratch)
		return s->p;
	d->scratch_len = 0;
	scratch_put(d, s->p, s->n);
	return d->scratch;
}

/* ---- lexing ---- */

/*
 * Each byte's class for the two scans the lexer repeats most: JSON's four
 * whitespace bytes (WS), and the bytes a string holds as they are (PLAIN:
 * printable ASCII but the quote and the backslash). Everything else in a
 * string (the quote, an escape, a control byte, UTF-8) takes the slow path.
 */
enum { WS = 1, PLAIN = 2 };

#define W WS
#define P PLAIN
#define B (WS | PLAIN)
static const unsigned char byte_class[256] = {
	/* clang-format off */
	0, 0, 0, 0, 0, 0, 0, 0, 0, W, W, 0, 0, W, 0, 0, /* 0x00 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
	B, P, 0, P, P, P, P, P, P, P, P, P, P, P, P, P, /* 0x20 */
	P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, /* 0x30 */
	P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, /* 0x40 */
	P, P, P, P, P, P, P, P, P, P, P, P, 0, P, P, P, /* 0x50 */
	P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, /* 0x60 */
	P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, /* 0x70 */
	/* clang-format on */
	/* 0x80-0xff (UTF-8): 0 */
};
#undef W
#undef P
#undef B

static void ws(struct dec *d)
{
	const unsigned char *q = (const unsigned char *)d->p, *end = (const unsigned char *)d->end;

	while (q < end && (byte_class[*q] & WS))
		q++;
	d->p = (const char *)q;
}

/* Skips whitespace and takes ch; false when the next byte is something else. */
static bool take(struct dec *d, char ch)
{
	ws(d);
	if (d->p < d->end && *d->p == ch) {
		d->p++;
		return true;
	}
	return false;
}

static bool at(struct dec *d, char ch)
{
	ws(d);
	return d->p < d->end && *d->p == ch;
}

static int open_container(struct dec *d)
{
	if (d->depth >= FX_FS_JSON_DEPTH)
		return syn(d, "nested too deeply");
	d->depth++;
	d->p++;
	return 0;
}

/* The escape at d->p (a backslash) unescaped onto scratch. */
static int unescape(struct dec *d)
{
	char u[4];
	size_t un = 0;

	if (d->end - d->p < 2)
		return syn(d, "unterminated string");
	switch (d->p[1]) {
	case '"': u[un++] = '"'; break;
	case '\\': u[un++] = '\\'; break;
	case '/': u[un++] = '/'; break;
	case 'b': u[un++] = '\b'; break;
	case 'f': u[un++] = '\f'; break;
	case 'n': u[un++] = '\n'; break;
	case 'r': u[un++] = '\r'; break;
	case 't': u[un++] = '\t'; break;
	case 'u': {
		const char *why;
		size_t used;
		int k = fx_str_json_unescape_u(d->p, (size_t)(d->end - d->p), u, &used, &why);

		if (k < 0)
			return syn(d, why);
		un = (size_t)k;
		d->p += used - 2; /* the 2 of every escape come below */
		break;
	}
	default: return syn(d, "bad escape");
	}
	d->p += 2;
	scratch_put(d, u, un);
	return 0;
}

/*
 * Lexes the string at d->p (its opening quote): raw bytes valid UTF-8
 * without control characters, escapes as RFC 8259 has them, surrogates
 * only in pairs. Without escapes s points into the input.
 */
static int lex_string(struct dec *d, struct str *s)
{
	const char *begin;
	bool escaped = false;

	d->p++;
	begin = d->p;
	for (;;) {
		const unsigned char *q = (const unsigned char *)d->p, *end = (const unsigned char *)d->end;
		size_t k;

		/* Four bytes a step while four are left, one bound test for them. */
		while (end - q >= 4 &&
		       (byte_class[q[0]] & byte_class[q[1]] & byte_class[q[2]] & byte_class[q[3]] & PLAIN))
			q += 4;
		while (q < end && (byte_class[*q] & PLAIN))
			q++;
		if (escaped)
			scratch_put(d, d->p, (size_t)((const char *)q - d->p));
		d->p = (const char *)q;
		if (q >= end)
			return syn(d, "unterminated string");
		if (*q == '"')
			break;
		if (*q == '\\') {
			if (!escaped) {
				escaped = true;
				d->scratch_len = 0;
				scratch_put(d, begin, (size_t)(d->p - begin));
			}
			if (unescape(d) < 0)
				return -1;
			continue;
		}
		if (*q < 0x20)
			return syn(d, "control character in string");
		if ((k = fx_str_utf8_char(d->p, (size_t)(d->end - d->p))) == 0)
			return syn(d, "invalid UTF-8");
		if (escaped)
			scratch_put(d, d->p, k);
		d->p += k;
	}
	if (escaped) {
		s->p = d->scratch;
		s->n = d->scratch_len;
	} else {
		s->p = begin;
		s->n = (size_t)(d->p - begin);
	}
	s->in_scratch = escaped;
	d->p++;
	return 0;
}

/* A number token: its text, and whether it is an integer (no fraction, no exponent). */
struct num {
	const char *p;
	size_t n;
	bool integer;
};

static int lex_number(struct dec *d, struct num *t)
{
	const char *p = d->p;

	t->p = p;
	t->integer = true;
	if (p < d->end && *p == '-')
		p++;
	if (p < d->end && *p == '0') {
		p++;
	} else if (p < d->end && *p >= '1' && *p <= '9') {
		while (p < d->end && *p >= '0' && *p <= '9')
			p++;
	} else {
		d->p = p;
		return syn(d, "bad number");
	}
	if (p < d->end && *p == '.') {
		p++;
		t->integer = false;
		if (p >= d->end || *p < '0' || *p > '9') {
			d->p = p;
			return syn(d, "bad number");
		}
		while (p < d->end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < d->end && (*p == 'e' || *p == 'E')) {
		p++;
		t->integer = false;
		if (p < d->end && (*p == '+' || *p == '-'))
			p++;
		if (p >= d->end || *p < '0' || *p > '9') {
			d->p = p;
			return syn(d, "bad number");
		}
		while (p < d->end && *p >= '0' && *p <= '9')
			p++;
	}
	t->n = (size_t)(p - t->p);
	d->p = p;
	return 0;
}

static int lex_literal(struct dec *d, const char *word, size_t n)
{
	if ((size_t)(d->end - d->p) < n || memcmp(d->p, word, n) != 0)
		return syn(d, "unexpected character");
	d->p += n;
	return 0;
}

/* The keys of one object, for the recheck's duplicate test (a rare path: copies are fine). */
struct keyset {
	struct key {
		char *p; /* NULL: a free slot */
		size_t n;
	} * slots;
	size_t n, cap; /* cap a power of two, or 0 */
};

static uint32_t bytes_hash(const char *p, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 16777619u;
	return h;
}

/* The slot holding the key, or the free slot where it would go (*found false). */
static size_t keyset_slot(const struct keyset *ks, const char *p, size_t n, bool *found)
{
	size_t at = bytes_hash(p, n) & (ks->cap - 1);

	*found = false;
	for (; ks->slots[at].p; at = (at + 1) & (ks->cap - 1)) {
		if (ks->slots[at].n == n && memcmp(ks->slots[at].p, p, n) == 0) {
			*found = true;
			break;
		}
	}
	return at;
}

/* Adds the key; -1 when the object has it already. */
static int keyset_add(struct keyset *ks, const char *p, size_t n)
{
	bool found;
	size_t at;

	if ((ks->n + 1) * 2 > ks->cap) {
		struct keyset bigger = {NULL, ks->n, ks->cap ? ks->cap * 2 : 16};

		bigger.slots = fx_mem_xcalloc(bigger.cap, sizeof(*bigger.slots));
		for (size_t i = 0; i < ks->cap; i++)
			if (ks->slots[i].p)
				bigger.slots[keyset_slot(&bigger, ks->slots[i].p, ks->slots[i].n, &found)] =
					ks->slots[i];
		free(ks->slots);
		*ks = bigger;
	}
	at = keyset_slot(ks, p, n, &found);
	if (found)
		return -1;
	ks->slots[at].p = fx_mem_xmalloc(n + 1); /* keys may hold NUL: no strndup */
	fx_err_ignore(fx_str_mem_copy(ks->slots[at].p, n + 1, p, n));
	ks->slots[at].n = n;
	ks->n++;
	return 0;
}

static void keyset_cleanup(struct keyset *ks)
{
	for (size_t i = 0; i < ks->cap; i++)
		free(ks->slots[i].p);
	free(ks->slots);
}

/* Skips one value, checking it as JSON (and its keys for duplicates when d->dups). */
static int skip_value(struct dec *d)
{
	struct str s;
	struct num t;

	ws(d);
	if (d->p >= d->end)
		return syn(d, "unexpected end");
	switch (*d->p) {
	case '"': return lex_string(d, &s);
	case 't': return lex_literal(d, "true", 4);
	case 'f': return lex_literal(d, "false", 5);
	case 'n': return lex_literal(d, "null", 4);
	case '[':
		if (open_container(d) < 0)
			return -1;
		if (!take(d, ']')) {
			do {
				if (skip_value(d) < 0)
					return -1;
			} while (take(d, ','));
			if (!take(d, ']'))
				return syn(d, "expected ',' or ']'");
		}
		d->depth--;
		return 0;
	case '{': {
		struct keyset ks = {0};
		int rc = -1;

		if (open_container(d) < 0)
			return -1;
		if (!take(d, '}')) {
			do {
				if (!at(d, '"')) {
					syn(d, "expected a string key");
					goto obj_out;
				}
				if (lex_string(d, &s) < 0)
					goto obj_out;
				if (d->dups && keyset_add(&ks, s.p, s.n) < 0) {
					syn(d, "duplicate key");
					goto obj_out;
				}
				if (!take(d, ':')) {
					syn(d, "expected ':'");
					goto obj_out;
				}
				if (skip_value(d) < 0)
					goto obj_out;
			} while (take(d, ','));
			if (!take(d, '}')) {
				syn(d, "expected ',' or '}'");
				goto obj_out;
			}
		}
		d->depth--;
		rc = 0;
	obj_out:
		keyset_cleanup(&ks);
		return rc;
	}
	default:
		if (*d->p == '-' || (*d->p >= '0' && *d->p <= '9'))
			return lex_number(d, &t);
		return syn(d, "unexpected character");
	}
}

/*
 * Walks an object at d->p: opens it, then for each member lexes the key
 * into *key and leaves d->p at the value for the caller. Use as
 *   for (r = obj_first(d, &k); r > 0; r = obj_next(d, &k)) { ...value... }
 * r is 1 for a member, 0 at the end (closed), -1 on malformed JSON.
 */
static int obj_key(struct dec *d, struct str *key)
{
	if (!at(d, '"'))
		return syn(d, "expected a string key");
	if (lex_string(d, key) < 0)
		return -1;
	if (!take(d, ':'))
		return syn(d, "expected ':'");
	ws(d);
	return 1;
}

static int obj_first(struct dec *d, struct str *key)
{
	if (open_container(d) < 0)
		return -1;
	if (take(d, '}')) {
		d->depth--;
		return 0;
	}
	return obj_key(d, key);
}

static int obj_next(struct dec *d, struct str *key)
{
	if (take(d, ',')) {
		return obj_key(d, key);
	}
	if (take(d, '}')) {
		d->depth--;
		return 0;
	}
	return syn(d, "expected ',' or '}'");
}

static bool key_is(const struct str *k, const char *name, size_t n)
{
	return k->n == n && memcmp(k->p, name, n) == 0;
}

#define KEY_IS(k, lit) key_is((k), (lit), sizeof(lit) - 1)

/* Marks bit in *seen; a malformed answer when it was set already (a duplicate key). */
static int seen_once(struct dec *d, unsigned *seen, unsigned bit)
{
	if (*seen & bit)
		return syn(d, "duplicate key");
	*seen |= bit;
	return 0;
}

/* ---- numbers ---- */

/* The digits of an integer token as an int64; false when outside it. */
static bool int_token(const struct num *t, int64_t *out)
{
	bool neg = t->p[0] == '-';
	uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;

	for (size_t i = neg ? 1 : 0; i < t->n; i++) {
		unsigned dgt = (unsigned)(t->p[i] - '0');

		if (v > (lim - dgt) / 10)
			return false;
		v = v * 10 + dgt;
	}
	*out = neg ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v) : (int64_t)v;
	return true;
}

/* A positive integer token as a uint64 below UINT64_MAX; false otherwise. */
static bool uint_token(const struct num *t, uint64_t *out)
{
	uint64_t v = 0;

	if (t->p[0] == '-')
		return false;
	for (size_t i = 0; i < t->n; i++) {
		unsigned dgt = (unsigned)(t->p[i] - '0');

		if (v > (UINT64_MAX - dgt) / 10)
			return false;
		v = v * 10 + dgt;
	}
	if (v == UINT64_MAX)
		return false;
	*out = v;
	return true;
}

/*
 * A JSON number as a finite double, as fsvalue reads one: an integer token
 * within int64 (then uint64) converted, anything else by strtod. False for
 * an integer outside those or a number that is not finite.
 */
static bool number_double(struct dec *d, const struct num *t, double *out)
{
	if (t->integer) {
		int64_t i;
		uint64_t u;

		if (int_token(t, &i)) {
			*out = (double)i;
			return true;
		}
		if (uint_token(t, &u)) {
			*out = (double)u;
			return true;
		}
		return false;
	}
	d->scratch_len = 0;
	scratch_put(d, t->p, t->n);
	*out = strtod(d->scratch, NULL);
	return isfinite(*out);
}

/* ---- values ---- */

static int decode_value(struct dec *d, struct fx_value *out, int depth);

/* Open addressing over a map's field indexes, used once a map is past SMALL_MAP fields. */
#define SMALL_MAP 16

struct names {
	uint32_t *slots; /* index + 1, 0 free */
	size_t n; /* a power of two */
};

#define name_hash bytes_hash

static bool name_eq(const char *field, const char *p, size_t n)
{
	return strncmp(field, p, n) == 0 && field[n] == '\0';
}

static void names_put(struct names *t, const struct fx_value *map, size_t idx)
{
	const char *name = map->u.map.fields[idx].name;
	size_t at = name_hash(name, strlen(name)) & (t->n - 1);

	while (t->slots[at])
		at = (at + 1) & (t->n - 1);
	t->slots[at] = (uint32_t)(idx + 1);
}

/* Whether map already has a field named by the n bytes at p; keeps t sized for one more. */
static bool has_field(struct names *t, const struct fx_value *map, const char *p, size_t n)
{
	size_t count = map->u.map.n;

	if (count < SMALL_MAP) {
		for (size_t i = 0; i < count; i++)
			if (map->u.map.fields[i].name[0] == (n ? p[0] : '\0') &&
			    name_eq(map->u.map.fields[i].name, p, n))
				return true;
		return false;
	}
	if ((count + 1) * 2 > t->n) {
		free(t->slots);
		t->n = 64;
		while ((count + 1) * 2 > t->n)
			t->n *= 2;
		t->slots = fx_mem_xcalloc(t->n, sizeof(*t->slots));
		for (size_t i = 0; i < count; i++)
			names_put(t, map, i);
	}
	for (size_t at = name_hash(p, n) & (t->n - 1); t->slots[at]; at = (at + 1) & (t->n - 1))
		if (name_eq(map->u.map.fields[t->slots[at] - 1].name, p, n))
			return true;
	return false;
}

/* A fields object ({name: Value}) at d->p into map (made an FX_V_MAP, with room for room fields when not 0). */
static int decode_fields(struct dec *d, struct fx_value *map, int depth, size_t room)
{
	struct names t = {0};
	struct str k;
	int r, rc = -1;

	fx_value_map(map);
	if (room) {
		map->u.map.fields = fx_mem_xmalloc(room * sizeof(*map->u.map.fields));
		map->u.map.cap = room;
	}
	for (r = obj_first(d, &k); r > 0; r = obj_next(d, &k)) {
		struct fx_value *v;

		/*
		 * lex_string let through only valid UTF-8 without raw control
		 * bytes, and escapes decode to valid UTF-8: what fx_json_utf8_valid
		 * would still refuse is a NUL, which only an escape (\u0000) makes.
		 */
		if (k.n > FX_VALUE_FIELD_NAME_MAX || (k.in_scratch && memchr(k.p, '\0', k.n))) {
			bad(d, "field name too long or not UTF-8");
			goto out;
		}
		if (has_field(&t, map, k.p, k.n)) {
			syn(d, "duplicate key");
			goto out;
		}
		v = fx_value_add_field(map, k.p, k.n);
		if (map->u.map.n > SMALL_MAP)
			names_put(&t, map, map->u.map.n - 1);
		step_in(d, map, map->u.map.n - 1);
		if (decode_value(d, v, depth) < 0)
			goto out;
		d->npath--;
	}
	rc = r;
out:
	free(t.slots);
	return rc;
}

static int decode_array(struct dec *d, struct fx_value *out, int depth)
{
	struct str k;
	unsigned seen = 0;
	int r;

	if (!at(d, '{'))
		return bad(d, "arrayValue is not an object");
	fx_value_array(out);
	for (r = obj_first(d, &k); r > 0; r = obj_next(d, &k)) {
		if (!KEY_IS(&k, "values"))
			return bad(d, "unknown key in arrayValue");
		if (seen_once(d, &seen, 1) < 0)
			return -1;
		if (at(d, 'n')) {
			if (lex_literal(d, "null", 4) < 0)
				return -1;
			continue;
		}
		if (!at(d, '['))
			return bad(d, "arrayValue.values is not an array");
		if (open_container(d) < 0)
			return -1;
		if (take(d, ']')) {
			d->depth--;
			continue;
		}
		do {
			struct fx_value *item = fx_value_push(out);

			step_in(d, out, out->u.arr.n - 1);
			if (decode_value(d, item, depth + 1) < 0)
				return -1;
			if (item->type == FX_V_ARRAY)
				return bad(d, "array directly inside an array");
			d->npath--;
		} while (take(d, ','));
		if (!take(d, ']'))
			return syn(d, "expected ',' or ']'");
		d->depth--;
	}
	return r;
}

static int decode_map(struct dec *d, struct fx_value *out, int depth)
{
	struct str k;
	unsigned seen = 0;
	int r;

	if (!at(d, '{'))
		return bad(d, "mapValue is not an object");
	fx_value_map(out);
	for (r = obj_first(d, &k); r > 0; r = obj_next(d, &k)) {
		if (!KEY_IS(&k, "fields"))
			return bad(d, "unknown key in mapValue");
		if (seen_once(d, &seen, 1) < 0)
			return -1;
		if (at(d, 'n')) {
			if (lex_literal(d, "null", 4) < 0)
				return -1;
			continue;
		}
		if (!at(d, '{'))
			return bad(d, "fields is not an object");
		if (decode_fields(d, out, depth + 1, 0) < 0)
			return -1;
	}
	return r;
}

/* A number, or bad(what) for any other JSON value. */
static int expect_number(struct dec *d, struct num *t, const char *what)
{
	if (!at(d, '-') && !(d->p < d->end && *d->p >= '0' && *d->p <= '9'))
		return bad(d, what);
	return lex_number(d, t);
}

static int decode_geo(struct dec *d, struct fx_value *out)
{
	double lat = 0, lng = 0;
	struct str k;
	unsigned seen = 0;
	int r;

	if (!at(d, '{'))
		return bad(d, "geoPointValue is not an object");
	for (r = obj_first(d, &k); r > 0; r = obj_next(d, &k)) {
		struct num t;
		double *dst = KEY_IS(&k, "latitude") ? &lat : KEY_IS(&k, "longitude") ? &lng : NULL;

		if (!dst)
			return bad(d, "unknown key in geoPointValue");
		if (seen_once(d, &seen, dst == &lat ? 1 : 2) < 0)
			return -1;
		if (expect_number(d, &t, "geoPointValue coordinate is not a finite number") < 0)
			return -1;
		if (!number_double(d, &t, dst))
			return bad(d, "geoPointValue coordinate is not a finite number");
	}
	if (r < 0)
		return -1;
	if (lat < -90 || lat > 90 || lng < -180 || lng > 180)
		return bad(d, "geoPointValue out of range");
	fx_value_geo(out, lat, lng);
	return 0;
}

static int decode_string_kind(struct dec *d, int kind, struct fx_value *out)
{
	struct str s;
	const char *c;

	if (!at(d, '"'))
		return bad(d, "value of the wrong JSON type");
	if (lex_string(d, &s) < 0)
		return -1;
	switch (kind) {
	case 's': {
		char *lent;

		if (s.n > FX_VALUE_MAX_BYTES)
			return bad(d, "stringValue too long");
		if (d->strings && (lent = fx_arena_strndup(d->strings, s.p, s.n)) != NULL)
			fx_value_string_lent(out, lent, s.n);
		else
			fx_value_string(out, s.p, s.n);
		return 0;
	}
	case 'b': {
		unsigned char *bytes;
		size_t blen;
		struct fx_err sub;

		if (s.n > (FX_VALUE_MAX_BYTES + 2) / 3 * 4)
			return bad(d, "bytesValue is not base64 or too long");
		bytes = fx_mem_xmalloc(fx_b64_decoded_max(s.n) + 1);
		if (fx_b64_decode_any(s.p, s.n, bytes, fx_b64_decoded_max(s.n), &blen, &sub) < 0) {
			free(bytes);
			return bad(d, "bytesValue is not base64 or too long");
		}
		if (blen > FX_VALUE_MAX_BYTES) {
			free(bytes);
			return bad(d, "bytesValue too long");
		}
		out->type = FX_V_BYTES;
		out->u.s.p = fx_mem_xrealloc(bytes, blen + 1);
		out->u.s.p[blen] = '\0';
		out->u.s.n = blen;
		return 0;
	}
	case 't': {
		int64_t secs;
		int32_t nanos;

		if (fx_ts_parse(cstr(d, &s), &secs, &nanos) < 0)
			return bad(d, "timestampValue malformed or out of range");
		fx_value_ts(out, secs, nanos);
		return 0;
	}
	default: { /* referenceValue */
		struct fx_err sub;

		c = cstr(d, &s);
		fx_err_clear(&sub);
		if (strlen(c) != s.n || fx_docname_check(c, &sub) < 0)
			return bad(d, "referenceValue is not a document name");
		fx_value_ref(out, c);
		return 0;
	}
	}
}

static int decode_int(struct dec *d, struct fx_value *out)
{
	int64_t i;

	if (at(d, '"')) {
		struct str s;
		const char *c;

		if (lex_string(d, &s) < 0)
			return -1;
		c = cstr(d, &s);
		/* 20 bytes hold "-9223372036854775808"; a NUL would hide what follows it. */
		if (s.n > 20 || strlen(c) != s.n || fx_num_parse(c, INT64_MIN, INT64_MAX, &i, NULL) < 0)
			return bad(d, "integerValue is not an int64");
	} else {
		struct num t;

		if (expect_number(d, &t, "integerValue is not an int64") < 0)
			return -1;
		if (!t.integer || !int_token(&t, &i))
			return bad(d, "integerValue is not an int64");
	}
	fx_value_int(out, i);
	return 0;
}

static int decode_double(struct dec *d, struct fx_value *out)
{
	double v;

	if (at(d, '"')) {
		struct str s;
		const char *c;

		if (lex_string(d, &s) < 0)
			return -1;
		c = cstr(d, &s);
		if (strcmp(c, "NaN") == 0)
			v = NAN;
		else if (strcmp(c, "Infinity") == 0)
			v = INFINITY;
		else if (strcmp(c, "-Infinity") == 0)
			v = -INFINITY;
		else
			return bad(d, "doubleValue string is not NaN/Infinity/-Infinity");
	} else {
		struct num t;

		if (expect_number(d, &t, "doubleValue is not a finite number") < 0)
			return -1;
		if (!number_double(d, &t, &v))
			return bad(d, "doubleValue is not a finite number");
	}
	fx_value_double(out, v);
	return 0;
}

/* The Value member named by k, its value at d->p. */
static int decode_member(struct dec *d, const struct str *k, struct fx_value *out, int depth)
{
	if (KEY_IS(k, "stringValue"))
		return decode_string_kind(d, 's', out);
	if (KEY_IS(k, "integerValue"))
		return decode_int(d, out);
	if (KEY_IS(k, "timestampValue"))
		return decode_string_kind(d, 't', out);
	if (KEY_IS(k, "booleanValue")) {
		if (at(d, 't'))
			return lex_literal(d, "true", 4) < 0 ? -1 : (fx_value_bool(out, true), 0);
		if (at(d, 'f'))
			return lex_literal(d, "false", 5) < 0 ? -1 : (fx_value_bool(out, false), 0);
		return bad(d, "booleanValue is not a boolean");
	}
	if (KEY_IS(k, "doubleValue"))
		return decode_double(d, out);
	if (KEY_IS(k, "nullValue")) {
		struct str s;

		if (at(d, 'n'))
			return lex_literal(d, "null", 4);
		if (!at(d, '"'))
			return bad(d, "nullValue is not null");
		if (lex_string(d, &s) < 0)
			return -1;
		if (strcmp(cstr(d, &s), "NULL_VALUE") != 0)
			return bad(d, "nullValue is not null");
		return 0;
	}
	if (KEY_IS(k, "arrayValue") || KEY_IS(k, "mapValue")) {
		if (depth >= FX_VALUE_MAX_DEPTH)
			return bad(d, "nesting deeper than 20");
		return k->p[0] == 'a' ? decode_array(d, out, depth) : decode_map(d, out, depth);
	}
	if (KEY_IS(k, "bytesValue"))
		return decode_string_kind(d, 'b', out);
	if (KEY_IS(k, "referenceValue"))
		return decode_string_kind(d, 'r', out);
	if (KEY_IS(k, "geoPointValue"))
		return decode_geo(d, out);
	return bad(d, "unknown value type");
}

/* One Value (an object of exactly one known member) at d->p into *out. */
static int decode_value(struct dec *d, struct fx_value *out, int depth)
{
	struct str k;
	int r;

	fx_value_null(out);
	if (!at(d, '{'))
		return bad(d, "Value is not an object");
	if ((r = obj_first(d, &k)) <= 0)
		return r < 0 ? -1 : bad(d, "Value has no key");
	if (decode_member(d, &k, out, depth) < 0)
		return -1;
	if (at(d, ','))
		return bad(d, "Value has more than one key");
	return obj_next(d, &k) < 0 ? -1 : 0;
}

/* ---- documents ---- */

#define FIELDS_HINT_MAX 256

/* A Document at d->p into *out (zeroed by the caller; the caller cleans up on failure). */
static int decode_doc(struct dec *d, struct fx_doc *out)
{
	struct str k;
	unsigned seen = 0;
	bool named = false;
	int r;

	d->npath = 0;
	if (!at(d, '{'))
		return bad_doc(d, "document without a name");
	fx_value_map(&out->fields);
	for (r = obj_first(d, &k); r > 0; r = obj_next(d, &k)) {
		if (KEY_IS(&k, "fields")) {
			if (seen_once(d, &seen, 1) < 0)
				return -1;
			if (at(d, 'n')) {
				if (lex_literal(d, "null", 4) < 0)
					return -1;
				continue;
			}
			if (!at(d, '{'))
				return bad(d, "fields is not an object");
			/*
			 * The documents of one answer mostly have the same fields: room
			 * for as many as the last one had, at once, instead of growing
			 * the array 4, 8, 16, 32 for every document.
			 */
			if (decode_fields(d, &out->fields, 0, d->fields_hint) < 0)
				return -1;
			d->fields_hint = out->fields.u.map.n < FIELDS_HINT_MAX ? out->fields.u.map.n : FIELDS_HINT_MAX;
		} else if (KEY_IS(&k, "name")) {
			struct str s;
			const char *c, *slash;

			if (seen_once(d, &seen, 2) < 0)
				return -1;
			if (!at(d, '"'))
				return bad_doc(d, "document without a name");
			if (lex_string(d, &s) < 0)
				return -1;
			c = cstr(d, &s);
			if (s.n > FX_DOCNAME_MAX || !(slash = strrchr(c, '/')))
				return bad_doc(d, "document without a name");
			out->name = fx_mem_xstrdup(c);
			out->id = out->name + (slash - c) + 1;
			named = true;
		} else if (KEY_IS(&k, "createTime") || KEY_IS(&k, "updateTime")) {
			bool create = k.p[0] == 'c';
			char *dst = create ? out->create_time : out->update_time;
			struct str s;

			if (seen_once(d, &seen, create ? 4 : 8) < 0)
				return -1;
			if (!at(d, '"'))
				return bad_doc(d, create ? "createTime" : "updateTime");
			if (lex_string(d, &s) < 0)
				return -1;
			if (fx_str_copy(dst, 40, s.p, s.n) < 0)
				return bad_doc(d, create ? "createTime" : "updateTime");
		} else if (skip_value(d) < 0) {
			return -1;
		}
	}
	if (r < 0)
		return -1;
	if (!named)
		return bad_doc(d, "document without a name");
	return 0;
}

/* Checks the whole input as JSON; on malformed JSON replaces *e with that error and returns -1. */
static int recheck(const char *p, size_t n, const char *what, struct fx_err *e)
{
	struct fx_err *tmp = fx_mem_xmalloc(sizeof(*tmp));
	struct dec d;
	int rc = 0;

	fx_err_clear(tmp);
	dec_init(&d, p, n, what, tmp);
	d.dups = true;
	if (skip_value(&d) == 0) {
		ws(&d);
		if (d.p != d.end)
			syn(&d, "trailing bytes");
	}
	if (d.syntax) {
		*e = *tmp;
		rc = -1;
	}
	dec_cleanup(&d);
	free(tmp);
	return rc;
}

/* Finishes a decode: trailing whitespace only; a failure that is not malformed JSON is rechecked. */
static int finish(struct dec *d, int rc)
{
	if (rc == 0) {
		ws(d);
		if (d->p != d->end)
			rc = syn(d, "trailing bytes");
	} else if (!d->syntax) {
		fx_err_ignore(recheck(d->start, (size_t)(d->end - d->start), d->what, d->e));
	}
	dec_cleanup(d);
	return rc;
}

int fx_fsdecode_doc(const char *p, size_t n, const char *what, struct fx_doc *out, struct fx_err *e)
{
	struct dec d;
	int rc;

	memset(out, 0, sizeof(*out));
	dec_init(&d, p, n, what, e);
	if (n == 0) {
		rc = syn(&d, "empty");
	} else {
		rc = decode_doc(&d, out);
	}
	rc = finish(&d, rc);
	if (rc < 0)
		fx_firestore_doc_cleanup(out);
	return rc;
}

int fx_fsdecode_value(const char *p, size_t n, struct fx_value *out, struct fx_err *e)
{
	struct dec d;
	int rc;

	dec_init(&d, p, n, "firestore value", e);
	rc = finish(&d, decode_value(&d, out, 0));
	if (rc < 0)
		fx_value_cleanup(out);
	return rc;
}

/* ---- streams ---- */

/* What one element holds, owned here until the callback has run. */
struct element {
	struct fx_fsdecode_el el;
	bool has_error, has_doc;
	char *missing, *status, *message;
};

static void element_cleanup(struct element *x)
{
	fx_firestore_doc_cleanup(&x->el.doc);
	free(x->missing);
	free(x->status);
	free(x->message);
	memset(x, 0, sizeof(*x));
}

/* An error member's object: its string status and message. */
static int decode_error(struct dec *d, struct element *x)
{
	struct str k;
	unsigned seen = 0;
	int r;

	if (!at(d, '{'))
		return skip_value(d);
	for (r = obj_first(d, &k); r > 0; r = obj_next(d, &k)) {
		bool status = KEY_IS(&k, "status");

		if (!status && !KEY_IS(&k, "message")) {
			if (skip_value(d) < 0)
				return -1;
			continue;
		}
		if (seen_once(d, &seen, status ? 1 : 2) < 0)
			return -1;
		if (at(d, '"')) {
			struct str s;

			if (lex_string(d, &s) < 0)
				return -1;
			*(status ? &x->status : &x->message) = fx_mem_xstrdup(cstr(d, &s));
		} else if (skip_value(d) < 0) {
			return -1;
		}
	}
	return r;
}

/*
 * One element object at d->p into *x. With decode_docs false its document
 * is only checked as JSON (the second look at an element whose document
 * was bad: an error member wins over it). Returns 0, or -1.
 */
static int decode_element(struct dec *d, enum fx_fsdecode_stream_kind kind, bool decode_docs, struct element *x)
{
	const char *doc_key = kind == FX_FSDECODE_RUNQUERY ? "document" : "found";
	struct str k;
	unsigned seen = 0;
	int r;

	for (r = obj_first(d, &k); r > 0; r = obj_next(d, &k)) {
		if (KEY_IS(&k, "error")) {
			if (seen_once(d, &seen, 1) < 0)
				return -1;
			x->has_error = true;
			if (decode_error(d, x) < 0)
				return -1;
		} else if (key_is(&k, doc_key, strlen(doc_key))) {
			if (seen_once(d, &seen, 2) < 0)
				return -1;
			x->has_doc = true;
			if (!decode_docs || x->has_error) {
				if (skip_value(d) < 0)
					return -1;
			} else if (decode_doc(d, &x->el.doc) < 0) {
				return -1;
			}
		} else if (kind == FX_FSDECODE_BATCHGET && KEY_IS(&k, "missing")) {
			if (seen_once(d, &seen, 4) < 0)
				return -1;
			if (at(d, '"')) {
				struct str s;

				if (lex_string(d, &s) < 0)
					return -1;
				x->missing = fx_mem_xstrdup(cstr(d, &s));
			} else if (skip_value(d) < 0) {
				return -1;
			}
		} else if (skip_value(d) < 0) {
			return -1;
		}
	}
	return r;
}

/*
 * After a bad document in the element at el_start (not malformed JSON):
 * looks at the element again without decoding documents, since an error
 * member anywhere in it wins. Returns 0 with x holding that error, or -1
 * with the document's error (or the element's malformed JSON) in d->e.
 */
static int recheck_element(struct dec *d, enum fx_fsdecode_stream_kind kind, const char *el_start, struct element *x)
{
	struct fx_err *saved;
	int rc = -1;

	if (d->syntax)
		return -1;
	saved = fx_mem_xmalloc(sizeof(*saved));
	*saved = *d->e;
	element_cleanup(x);
	d->p = el_start;
	d->depth = 1;
	if (decode_element(d, kind, false, x) == 0 && x->has_error)
		rc = 0;
	else if (!d->syntax)
		*d->e = *saved;
	free(saved);
	return rc;
}

int fx_fsdecode_stream(const char *p, size_t n, enum fx_fsdecode_stream_kind kind, const char *what, fx_fsdecode_fn fn,
		       void *ctx, struct fx_err *e)
{
	return fx_fsdecode_stream_lend(p, n, kind, what, NULL, fn, ctx, e);
}

int fx_fsdecode_stream_lend(const char *p, size_t n, enum fx_fsdecode_stream_kind kind, const char *what,
			    struct fx_arena *strings, fx_fsdecode_fn fn, void *ctx, struct fx_err *e)
{
	struct dec d;
	struct element x;
	int rc = -1;

	memset(&x, 0, sizeof(x));
	dec_init(&d, p, n, what, e);
	d.strings = strings;
	if (!at(&d, '[')) {
		if (n == 0 || d.p >= d.end)
			syn(&d, "empty");
		else
			bad_doc(&d, "not an array");
		goto out;
	}
	if (open_container(&d) < 0)
		goto out;
	if (!take(&d, ']')) {
		do {
			const char *el_start;

			ws(&d);
			el_start = d.p;
			if (!at(&d, '{')) {
				if (skip_value(&d) < 0)
					goto out;
				continue;
			}
			if (decode_element(&d, kind, true, &x) < 0 && recheck_element(&d, kind, el_start, &x) < 0)
				goto out;
			if (x.has_error) {
				fx_firestore_doc_cleanup(&x.el.doc);
				x.el.kind = FX_FSDECODE_ERROR;
				x.el.status = x.status;
				x.el.message = x.message;
			} else if (x.has_doc) {
				x.el.kind = FX_FSDECODE_DOC;
			} else if (x.missing) {
				x.el.kind = FX_FSDECODE_MISSING;
				x.el.missing = x.missing;
			} else {
				element_cleanup(&x);
				continue;
			}
			if (fn(&x.el, ctx, e) < 0)
				goto out;
			element_cleanup(&x);
		} while (take(&d, ','));
		if (!take(&d, ']')) {
			syn(&d, "expected ',' or ']'");
			goto out;
		}
	}
	d.depth--;
	rc = 0;
out:
	element_cleanup(&x);
	return finish(&d, rc);
}
