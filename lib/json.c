#include "json.h"

#include "buf.h"
#include "mem.h"
#include "num.h"
#include "str.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

bool fx_json_utf8_valid(const char *s, size_t n)
{
	for (size_t i = 0, k; i < n; i += k)
		if ((k = fx_str_utf8_char(s + i, n - i)) == 0)
			return false;
	return true;
}

size_t fx_json_utf8_len(const char *s, size_t n)
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
 *
 * Time and memory are linear in the text. Every key of the document goes
 * into one hash table, tagged with the number of the object it belongs to,
 * so a key collides only with keys of its own object and nothing is removed
 * when an object closes. A key without escapes is kept as an offset into
 * the text; an escaped key is unescaped once into esc, which never holds
 * more than the text's length. The hash is SipHash-1-3 under a key drawn
 * once per process, so no one can choose keys that collide.
 */
struct key {
	uint32_t off; /* into the text, or into esc when KEY_ESCAPED is set */
	uint32_t len;
	uint32_t obj;
	uint32_t hash;
};

#define KEY_ESCAPED 0x80000000u

struct scan {
	const char *p;
	const char *end;
	const char *start;
	int max_depth;
	struct fx_err *e;
	uint32_t nobj; /* objects opened so far: the tag of the next one */
	struct key *keys;
	size_t nkeys, keys_cap;
	uint32_t *slots; /* index + 1 into keys, 0 when free; a power of two */
	size_t nslots;
	struct fx_buf esc;
};

static void ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static int fail(struct scan *s, const char *what)
{
	return fx_err_set(s->e, FX_INVALID_ARGUMENT, "invalid JSON: %s at byte %ld", what, (long)(s->p - s->start));
}

static uint64_t sip_key[2];
static pthread_once_t sip_once = PTHREAD_ONCE_INIT;

static void sip_init(void)
{
	if (getrandom(sip_key, sizeof(sip_key), 0) != (ssize_t)sizeof(sip_key)) {
		struct timespec ts;

		/* No entropy: collisions become guessable, never wrong. */
		clock_gettime(CLOCK_REALTIME, &ts);
		sip_key[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15u ^ (uint64_t)getpid();
		sip_key[1] = (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)&ts;
	}
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                   \
	do {                       \
		v0 += v1;          \
		v1 = ROTL(v1, 13); \
		v1 ^= v0;          \
		v0 = ROTL(v0, 32); \
		v2 += v3;          \
		v3 = ROTL(v3, 16); \
		v3 ^= v2;          \
		v0 += v3;          \
		v3 = ROTL(v3, 21); \
		v3 ^= v0;          \
		v2 += v1;          \
		v1 = ROTL(v1, 17); \
		v1 ^= v2;          \
		v2 = ROTL(v2, 32); \
	} while (0)

/* SipHash-1-3 of the object tag and the key's bytes. */
static uint32_t key_hash(uint32_t obj, const unsigned char *in, size_t n)
{
	uint64_t k0 = sip_key[0] ^ obj, k1 = sip_key[1];
	uint64_t v0 = k0 ^ 0x736f6d6570736575u, v1 = k1 ^ 0x646f72616e646f6du;
	uint64_t v2 = k0 ^ 0x6c7967656e657261u, v3 = k1 ^ 0x7465646279746573u;
	uint64_t b = (uint64_t)n << 56, m;
	size_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		m = 0;
		for (int j = 0; j < 8; j++)
			m |= (uint64_t)in[i + (size_t)j] << (8 * j);
		v3 ^= m;
		SIPROUND;
		v0 ^= m;
	}
	for (int j = 0; i + (size_t)j < n; j++)
		b |= (uint64_t)in[i + (size_t)j] << (8 * j);
	v3 ^= b;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return (uint32_t)(v0 ^ v1 ^ v2 ^ v3);
}

static const unsigned char *key_bytes(const struct scan *s, const struct key *k)
{
	if (k->off & KEY_ESCAPED)
		return (const unsigned char *)s->esc.data + (k->off & ~KEY_ESCAPED);
	return (const unsigned char *)s->start + k->off;
}

/* Doubles the slot table and places every key again. */
static void grow_slots(struct scan *s)
{
	size_t n = s->nslots ? s->nslots * 2 : 64;
	uint32_t *slots = fx_mem_xcalloc(n, sizeof(*slots));

	for (size_t i = 0; i < s->nkeys; i++) {
		size_t at = s->keys[i].hash & (n - 1);

		while (slots[at])
			at = (at + 1) & (n - 1);
		slots[at] = (uint32_t)(i + 1);
	}
	free(s->slots);
	s->slots = slots;
	s->nslots = n;
}

/* Adds the key just scanned (k) to object obj; a 400 if obj has it already. */
static int add_key(struct scan *s, struct key k)
{
	const unsigned char *bytes = key_bytes(s, &k);
	size_t at;

	k.hash = key_hash(k.obj, bytes, k.len);
	/* At most half the slots are used, so probing ends quickly. */
	if ((s->nkeys + 1) * 2 > s->nslots)
		grow_slots(s);
	for (at = k.hash & (s->nslots - 1); s->slots[at]; at = (at + 1) & (s->nslots - 1)) {
		const struct key *o = &s->keys[s->slots[at] - 1];
		size_t show = k.len;

		if (o->hash != k.hash || o->obj != k.obj || o->len != k.len || memcmp(key_bytes(s, o), bytes, k.len))
			continue;
		/* Name at most 64 bytes of it, cut before a whole character. */
		if (show > 64) {
			show = 64;
			while (show > 0 && (bytes[show] & 0xc0) == 0x80)
				show--;
		}
		return fx_err_set(s->e, FX_INVALID_ARGUMENT, "invalid JSON: duplicate key \"%.*s\"", (int)show,
				  (const char *)bytes);
	}
	if (s->nkeys == s->keys_cap) {
		s->keys_cap = s->keys_cap ? s->keys_cap * 2 : 32;
		s->keys = fx_mem_xrealloc(s->keys, s->keys_cap * sizeof(*s->keys));
	}
	s->keys[s->nkeys] = k;
	s->slots[at] = (uint32_t)(++s->nkeys);
	return 0;
}

/* Appends unescaped key bytes; esc is capped at the text's length, which they never exceed. */
static int put_esc(struct scan *s, const void *p, size_t n)
{
	return fx_buf_append(&s->esc, p, n) < 0 ? fail(s, "key too long") : 0;
}

/*
 * Scans a string. When key is set, fills it: an offset into the text when
 * the key has no escapes, else into esc where its unescaped bytes go.
 */
static int scan_string(struct scan *s, struct key *key)
{
	const char *begin;
	bool escaped = false;
	size_t esc_start = s->esc.len;

	s->p++; /* opening quote */
	begin = s->p;
	while (s->p < s->end && *s->p != '"') {
		unsigned char c = (unsigned char)*s->p;
		char u[4];
		size_t un = 0;

		if (c < 0x20)
			return fail(s, "control character in string");
		if (c != '\\') {
			if (escaped && put_esc(s, s->p, 1) < 0)
				return -1;
			s->p++;
			continue;
		}
		if (s->end - s->p < 2)
			return fail(s, "unterminated escape");
		if (key && !escaped) {
			/* The first escape: what came before it goes to esc too. */
			escaped = true;
			if (put_esc(s, begin, (size_t)(s->p - begin)) < 0)
				return -1;
		}
		c = (unsigned char)s->p[1];
		if (c == 'u') {
			const char *why;
			size_t used;
			int k = fx_str_json_unescape_u(s->p, (size_t)(s->end - s->p), u, &used, &why);

			if (k < 0)
				return fail(s, why);
			if (k == 1 && u[0] == '\0')
				return fail(s, "NUL in string");
			un = (size_t)k;
			s->p += used;
		} else {
			static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
			const char *at = strchr(from, (int)c);

			if (!at)
				return fail(s, "bad escape");
			u[un++] = to[at - from];
			s->p += 2;
		}
		if (escaped && put_esc(s, u, un) < 0)
			return -1;
	}
	if (s->p >= s->end)
		return fail(s, "unterminated string");
	if (!fx_json_utf8_valid(begin, (size_t)(s->p - begin)))
		return fail(s, "invalid UTF-8");
	if (key) {
		key->off = escaped ? (uint32_t)esc_start | KEY_ESCAPED : (uint32_t)(begin - s->start);
		key->len = escaped ? (uint32_t)(s->esc.len - esc_start) : (uint32_t)(s->p - begin);
	}
	s->p++;
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

static int scan_value(struct scan *s, int depth);

static int scan_object(struct scan *s, int depth)
{
	struct key k = {0, 0, s->nobj++, 0};

	s->p++;
	ws(s);
	if (s->p < s->end && *s->p == '}') {
		s->p++;
		return 0;
	}
	for (;;) {
		ws(s);
		if (s->p >= s->end || *s->p != '"')
			return fail(s, "expected a string key");
		if (scan_string(s, &k) < 0 || add_key(s, k) < 0)
			return -1;
		ws(s);
		if (s->p >= s->end || *s->p != ':')
			return fail(s, "expected ':'");
		s->p++;
		if (scan_value(s, depth) < 0)
			return -1;
		ws(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			continue;
		}
		if (s->p < s->end && *s->p == '}') {
			s->p++;
			return 0;
		}
		return fail(s, "expected ',' or '}'");
	}
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
			return fx_err_set(s->e, FX_INVALID_ARGUMENT, "invalid JSON: nesting deeper than %d",
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
	struct scan s = {.p = p, .end = p + n, .start = p, .max_depth = max_depth, .e = e};
	struct json_tokener *tok;
	json_object *obj;
	int rc;

	*out = NULL;
	if (n == 0)
		return fx_err_set(e, FX_INVALID_ARGUMENT, "invalid JSON: empty body");
	/* json-c takes an int length; key offsets keep their top bit for a flag. */
	if (n > INT_MAX)
		return fx_err_set(e, FX_INVALID_ARGUMENT, "invalid JSON: text over %d bytes", INT_MAX);
	pthread_once(&sip_once, sip_init);
	fx_buf_init(&s.esc, n);
	rc = scan_value(&s, 0);
	if (rc == 0) {
		ws(&s);
		if (s.p != s.end)
			rc = fail(&s, "trailing data");
	}
	fx_buf_cleanup(&s.esc);
	free(s.keys);
	free(s.slots);
	if (rc < 0)
		return -1;
	/* The scanner has proved the text well-formed; json-c builds the tree. */
	tok = json_tokener_new_ex(max_depth + 1);
	if (!tok)
		return fx_err_set(e, FX_INTERNAL, "json tokener allocation failed");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, p, (int)n);
	/* A number at the very end may go on for all json-c knows: a space ends it. */
	if (!obj && json_tokener_get_error(tok) == json_tokener_continue)
		obj = json_tokener_parse_ex(tok, " ", 1);
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_tokener_free(tok);
		json_object_put(obj);
		return fx_err_set(e, FX_INVALID_ARGUMENT, "invalid JSON");
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
		return fx_err_set(e, FX_INVALID_ARGUMENT, "request body must be a JSON object");
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

			fx_str_text(field, sizeof(field), "%s%s", prefix, key);
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
	chars = fx_json_utf8_len(s, n);
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

bool fx_json_get_int64(json_object *v, int64_t min, int64_t max, int64_t *out)
{
	int64_t n;

	if (json_object_is_type(v, json_type_int)) {
		n = json_object_get_int64(v);
		if (n == INT64_MAX && json_object_get_uint64(v) != (uint64_t)INT64_MAX)
			return false; /* saturated: the literal was larger */
	} else if (json_object_is_type(v, json_type_string)) {
		const char *s = json_object_get_string(v);
		size_t len = (size_t)json_object_get_string_len(v);

		/* 20 bytes hold "-9223372036854775808"; a NUL would hide what follows it. */
		if (len > 20 || strlen(s) != len || fx_num_parse(s, INT64_MIN, INT64_MAX, &n, NULL) < 0)
			return false;
	} else {
		return false;
	}
	if (n < min || n > max)
		return false;
	*out = n;
	return true;
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

int fx_json_append(struct fx_buf *b, json_object *obj)
{
	size_t len;
	const char *text = fx_json_text(obj, &len);
	int rc = fx_buf_append(b, text, len);

	json_object_put(obj);
	return rc;
}
