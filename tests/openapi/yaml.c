/*
 * yaml: the block-style YAML subset reader (yaml.h). The text is split into
 * lines once; a node is everything below its key (or its "- ") that is
 * indented further, so a mapping, a sequence and a scalar's continuation
 * lines are all found by comparing indentation with the owner's.
 */
#include "yaml.h"

#include "buf.h"
#include "mem.h"
#include "str.h"

#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

#define MAX_DEPTH 64
#define MAX_SCALAR (1024 * 1024)

struct line {
	int no; /* 1-based */
	int indent; /* leading spaces */
	const char *s; /* after the indentation */
	size_t n; /* bytes from s to the end of the line */
	bool blank; /* spaces only */
	bool comment; /* the first character after the indentation is '#' */
};

struct parser {
	struct line *lines;
	int nlines;
	int i; /* the next line to read */
	int depth;
	char *err;
	size_t errlen;
	bool failed;
};

static int parse_block(struct parser *p, int ind, json_object **out);

__attribute__((format(printf, 3, 4))) static int fail(struct parser *p, int no, const char *fmt, ...)
{
	char what[400];
	va_list ap;

	if (p->failed)
		return -1;
	p->failed = true;
	if (p->errlen == 0)
		return -1;
	va_start(ap, fmt);
	fx_str_vtext(what, sizeof(what), fmt, ap);
	va_end(ap);
	fx_str_text(p->err, p->errlen, "line %d: %s", no, what);
	return -1;
}

static int split_lines(struct parser *p, const char *text, size_t len)
{
	size_t start = 0, count = 1;

	for (size_t k = 0; k < len; k++)
		count += text[k] == '\n';
	p->lines = fx_mem_xcalloc(count, sizeof(*p->lines));
	while (start < len) {
		const char *s = text + start, *nl = memchr(s, '\n', len - start);
		size_t n = nl ? (size_t)(nl - s) : len - start;
		struct line *l = &p->lines[p->nlines];
		size_t k = 0;

		l->no = ++p->nlines;
		if (memchr(s, '\r', n))
			return fail(p, l->no, "carriage return (the file must have Unix line ends)");
		if (memchr(s, '\0', n))
			return fail(p, l->no, "NUL byte");
		while (k < n && s[k] == ' ')
			k++;
		l->indent = (int)k;
		l->s = s + k;
		l->n = n - k;
		l->blank = true;
		for (size_t j = 0; j < l->n && l->blank; j++)
			l->blank = l->s[j] == ' ' || l->s[j] == '\t';
		l->comment = !l->blank && l->s[0] == '#';
		if (!l->blank && l->s[0] == '\t')
			return fail(p, l->no, "tab in indentation");
		if (l->indent == 0 && l->n >= 3 &&
		    (strncmp(l->s, "---", 3) == 0 || strncmp(l->s, "...", 3) == 0 || l->s[0] == '%'))
			return fail(p, l->no, "directives and document markers are outside the subset");
		start += n + 1;
	}
	return 0;
}

/* The next line that is neither blank nor a comment, from p->i; nlines at the end. */
static int next_sig(const struct parser *p, int from)
{
	while (from < p->nlines && (p->lines[from].blank || p->lines[from].comment))
		from++;
	return from;
}

static bool is_seq_entry(const char *s, size_t n)
{
	return n >= 1 && s[0] == '-' && (n == 1 || s[1] == ' ');
}

/* Drops trailing spaces and tabs. */
static size_t rtrim(const char *s, size_t n)
{
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return n;
}

/* Where a comment starts in plain text (" #", or '#' first), or n. */
static size_t comment_at(const char *s, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (s[k] == '#' && (k == 0 || s[k - 1] == ' ' || s[k - 1] == '\t'))
			return k;
	return n;
}

/* Where ": " (or a final ':') is in plain text before any comment, or -1. */
static long plain_colon(const char *s, size_t n)
{
	n = comment_at(s, n);
	for (size_t k = 0; k < n; k++)
		if (s[k] == ':' && (k + 1 == n || s[k + 1] == ' ' || s[k + 1] == '\t'))
			return (long)k;
	return -1;
}

/* The end of a quoted scalar starting at s[0] within one line (the index after the closing quote), or -1. */
static long quoted_end(const char *s, size_t n)
{
	char q = s[0];

	for (size_t k = 1; k < n; k++) {
		if (q == '"' && s[k] == '\\') {
			k++;
			continue;
		}
		if (s[k] == q) {
			if (q == '\'' && k + 1 < n && s[k + 1] == '\'') {
				k++;
				continue;
			}
			return (long)k + 1;
		}
	}
	return -1;
}

/* Whether s[0..n) is "key:" or "key: value" (plain or quoted key on one line). */
static bool is_key_line(const char *s, size_t n)
{
	if (n > 0 && (s[0] == '\'' || s[0] == '"')) {
		long e = quoted_end(s, n);

		return e > 0 && (size_t)e < n && s[e] == ':' && ((size_t)e + 1 == n || s[e + 1] == ' ');
	}
	if (n > 0 && strchr("[{|>", s[0]))
		return false;
	return plain_colon(s, n) > 0;
}

/* YAML's core-schema nulls, as plain scalars. */
static bool is_null(const char *s, size_t n)
{
	return (n == 1 && s[0] == '~') ||
	       (n == 4 && (memcmp(s, "null", 4) == 0 || memcmp(s, "Null", 4) == 0 || memcmp(s, "NULL", 4) == 0));
}

static bool plain_start_ok(char c)
{
	return !strchr("&*!%@`?|>", c);
}

/* Appends one UTF-8 encoded code point. */
static int put_utf8(struct fx_buf *b, unsigned long c)
{
	unsigned char u[4];
	size_t n;

	if (c < 0x80) {
		u[0] = (unsigned char)c;
		n = 1;
	} else if (c < 0x800) {
		u[0] = (unsigned char)(0xC0 | c >> 6);
		u[1] = (unsigned char)(0x80 | (c & 0x3F));
		n = 2;
	} else if (c < 0x10000) {
		if (c >= 0xD800 && c <= 0xDFFF)
			return -1;
		u[0] = (unsigned char)(0xE0 | c >> 12);
		u[1] = (unsigned char)(0x80 | (c >> 6 & 0x3F));
		u[2] = (unsigned char)(0x80 | (c & 0x3F));
		n = 3;
	} else if (c <= 0x10FFFF) {
		u[0] = (unsigned char)(0xF0 | c >> 18);
		u[1] = (unsigned char)(0x80 | (c >> 12 & 0x3F));
		u[2] = (unsigned char)(0x80 | (c >> 6 & 0x3F));
		u[3] = (unsigned char)(0x80 | (c & 0x3F));
		n = 4;
	} else {
		return -1;
	}
	return fx_buf_append(b, u, n);
}

/* Decodes the double-quoted escape at s[0] ('\\' already seen at s[-1]); returns the bytes used or -1. */
static long dq_escape(struct fx_buf *b, const char *s, size_t n)
{
	static const char from[] = "0abtnvfre \"/\\";
	static const char to[] = "\0\a\b\t\n\v\f\r\033 \"/\\";
	const char *hit;
	size_t digits;
	unsigned long c = 0;

	if (n == 0)
		return -1;
	hit = strchr(from, s[0]);
	if (hit && s[0] != '\0')
		return fx_buf_append(b, &to[hit - from], 1) < 0 ? -1 : 1;
	digits = s[0] == 'x' ? 2 : s[0] == 'u' ? 4 : s[0] == 'U' ? 8 : 0;
	if (digits == 0 || n < digits + 1)
		return -1;
	for (size_t k = 1; k <= digits; k++) {
		char h = s[k];

		c <<= 4;
		if (h >= '0' && h <= '9')
			c |= (unsigned long)(h - '0');
		else if (h >= 'a' && h <= 'f')
			c |= (unsigned long)(h - 'a' + 10);
		else if (h >= 'A' && h <= 'F')
			c |= (unsigned long)(h - 'A' + 10);
		else
			return -1;
	}
	return put_utf8(b, c) < 0 ? -1 : (long)digits + 1;
}

/*
 * A quoted scalar from s (its opening quote) on line k, continued on lines
 * indented past ind; line breaks fold to a space, empty lines to '\n'.
 * Sets *end to the rest of the closing line after the quote.
 */
static int parse_quoted(struct parser *p, int k, const char *s, size_t n, int ind, struct fx_buf *b, const char **rest,
			size_t *restn)
{
	char q = s[0];
	size_t pos = 1;
	int no = p->lines[k].no, empties = 0;

	for (;;) {
		for (; pos < n; pos++) {
			if (q == '\'' && s[pos] == '\'') {
				if (pos + 1 < n && s[pos + 1] == '\'') {
					if (fx_buf_append(b, "'", 1) < 0)
						return fail(p, no, "scalar too long");
					pos++;
					continue;
				}
				goto closed;
			}
			if (q == '"' && s[pos] == '"')
				goto closed;
			if (q == '"' && s[pos] == '\\') {
				long used;

				if (pos + 1 == n) { /* an escaped line break: no space */
					pos = n;
					empties = -1;
					break;
				}
				used = dq_escape(b, s + pos + 1, n - pos - 1);
				if (used < 0)
					return fail(p, no, "unknown escape in a double-quoted scalar");
				pos += (size_t)used;
				continue;
			}
			if (fx_buf_append(b, s + pos, 1) < 0)
				return fail(p, no, "scalar too long");
		}
		/* The line ended inside the quotes: fold into the next one. */
		if (empties >= 0 && b->len > 0) {
			b->len = rtrim(b->data, b->len);
			b->data[b->len] = '\0';
		}
		for (k++; k < p->nlines && p->lines[k].blank; k++)
			if (empties >= 0)
				empties++;
		if (k >= p->nlines || p->lines[k].indent <= ind)
			return fail(p, no, "unterminated quoted scalar");
		if (empties == 0 && fx_buf_append(b, " ", 1) < 0)
			return fail(p, no, "scalar too long");
		for (; empties > 0; empties--)
			if (fx_buf_append(b, "\n", 1) < 0)
				return fail(p, no, "scalar too long");
		empties = 0;
		s = p->lines[k].s;
		n = p->lines[k].n;
		no = p->lines[k].no;
		pos = 0;
	}
closed:
	*rest = s + pos + 1;
	*restn = n - pos - 1;
	p->i = k + 1;
	return 0;
}

/* Only spaces or a comment may follow a value on its line. */
static int expect_line_end(struct parser *p, int no, const char *s, size_t n)
{
	size_t k = 0;

	while (k < n && (s[k] == ' ' || s[k] == '\t'))
		k++;
	if (k < n && (s[k] != '#' || k == 0))
		return fail(p, no, "unexpected text after a value: %.*s", (int)(n - k > 40 ? 40 : n - k), s + k);
	return 0;
}

static int parse_flow(struct parser *p, int no, const char *s, size_t n, size_t *pos, json_object **out);

/* A plain scalar inside a flow collection: up to , [ ] { } or ": ". */
static int flow_plain(struct parser *p, int no, const char *s, size_t n, size_t *pos, json_object **out)
{
	size_t start = *pos, k = start;

	if (!plain_start_ok(s[k]))
		return fail(p, no, "anchor, alias, tag or indicator in a flow collection");
	while (k < n && !strchr(",[]{}", s[k]) && !(s[k] == ':' && (k + 1 == n || s[k + 1] == ' ')) &&
	       !(s[k] == '#' && s[k - 1] == ' '))
		k++;
	*pos = k;
	k = rtrim(s + start, k - start);
	if (k == 0)
		return fail(p, no, "empty entry in a flow collection");
	if (is_null(s + start, k))
		*out = NULL;
	else
		*out = json_object_new_string_len(s + start, (int)k);
	return 0;
}

static int flow_node(struct parser *p, int no, const char *s, size_t n, size_t *pos, json_object **out)
{
	if (s[*pos] == '[' || s[*pos] == '{')
		return parse_flow(p, no, s, n, pos, out);
	if (s[*pos] == '\'' || s[*pos] == '"') {
		struct fx_buf b;
		long e = quoted_end(s + *pos, n - *pos);
		const char *rest;
		size_t restn;
		int save = p->i, rc;

		if (e < 0)
			return fail(p, no, "a quoted scalar in a flow collection must end on its line");
		fx_buf_init(&b, MAX_SCALAR);
		/* The scalar ends on this line, so parse_quoted reads no other; it moves p->i, restored here. */
		rc = parse_quoted(p, no - 1, s + *pos, (size_t)e, 1 << 30, &b, &rest, &restn);
		p->i = save;
		if (rc == 0)
			*out = json_object_new_string_len(b.data ? b.data : "", (int)b.len);
		fx_buf_cleanup(&b);
		*pos += (size_t)e;
		return rc;
	}
	return flow_plain(p, no, s, n, pos, out);
}

static void skip_spaces(const char *s, size_t n, size_t *pos)
{
	while (*pos < n && s[*pos] == ' ')
		(*pos)++;
}

/* A flow sequence or mapping that opens at s[*pos] and closes on the same line. */
static int parse_flow(struct parser *p, int no, const char *s, size_t n, size_t *pos, json_object **out)
{
	char close = s[*pos] == '[' ? ']' : '}';
	json_object *c = close == ']' ? json_object_new_array() : json_object_new_object();

	if (++p->depth > MAX_DEPTH) {
		json_object_put(c);
		return fail(p, no, "nesting deeper than %d", MAX_DEPTH);
	}
	(*pos)++;
	skip_spaces(s, n, pos);
	while (*pos < n && s[*pos] != close) {
		json_object *key = NULL, *val = NULL;

		if (close == '}') {
			if (flow_node(p, no, s, n, pos, &key) < 0 || !key ||
			    !json_object_is_type(key, json_type_string))
				goto bad;
			skip_spaces(s, n, pos);
			if (*pos < n && s[*pos] == ':') {
				(*pos)++;
				skip_spaces(s, n, pos);
				if (*pos < n && s[*pos] != ',' && s[*pos] != '}' &&
				    flow_node(p, no, s, n, pos, &val) < 0)
					goto bad;
			}
			if (json_object_object_get_ex(c, json_object_get_string(key), NULL)) {
				fail(p, no, "duplicate key %s", json_object_get_string(key));
				goto bad;
			}
			json_object_object_add(c, json_object_get_string(key), val);
			json_object_put(key);
			key = val = NULL; /* c holds val now */
		} else {
			if (flow_node(p, no, s, n, pos, &val) < 0)
				goto bad;
			json_object_array_add(c, val);
			val = NULL;
		}
		skip_spaces(s, n, pos);
		if (*pos < n && s[*pos] == ',') {
			(*pos)++;
			skip_spaces(s, n, pos);
		} else if (*pos < n && s[*pos] != close) {
			fail(p, no, "expected ',' or '%c' in a flow collection", close);
			goto bad;
		}
		continue;
	bad:
		json_object_put(key);
		json_object_put(val);
		json_object_put(c);
		return fail(p, no, "bad flow collection");
	}
	if (*pos >= n) {
		json_object_put(c);
		return fail(p, no, "a flow collection must close on its line");
	}
	(*pos)++;
	p->depth--;
	*out = c;
	return 0;
}

/* A literal or folded block scalar whose header ("|", ">-", ...) is on line k, owned by indentation ind. */
static int parse_block_scalar(struct parser *p, int k, const char *h, size_t hn, int ind, json_object **out)
{
	struct fx_buf b;
	char style = h[0], chomp = 'c';
	int content = -1, end, pending = 0, trailing = 0;
	bool first = true, prev_more = false;
	size_t pos = 1;

	if (pos < hn && (h[pos] == '-' || h[pos] == '+'))
		chomp = h[pos++];
	if (pos < hn && h[pos] >= '0' && h[pos] <= '9')
		return fail(p, p->lines[k].no, "block scalar indentation indicators are outside the subset");
	if (expect_line_end(p, p->lines[k].no, h + pos, hn - pos) < 0)
		return -1;
	for (end = k + 1; end < p->nlines; end++) {
		const struct line *l = &p->lines[end];

		if (l->blank)
			continue;
		if (l->indent <= ind)
			break;
		if (content < 0)
			content = l->indent;
		if (l->indent < content)
			return fail(p, l->no, "less indented than the first line of its block scalar");
	}
	fx_buf_init(&b, MAX_SCALAR);
	for (int j = k + 1; j < end; j++) {
		const struct line *l = &p->lines[j];
		bool more;
		int extra;

		if (l->blank) {
			pending++;
			continue;
		}
		extra = l->indent - content;
		more = extra > 0 || l->s[0] == '\t';
		if (!first) {
			if (style == '|' || more || prev_more)
				pending++;
			else if (pending == 0 && fx_buf_append(&b, " ", 1) < 0)
				goto toolong;
		}
		for (; pending > 0; pending--)
			if (fx_buf_append(&b, "\n", 1) < 0)
				goto toolong;
		for (; extra > 0; extra--)
			if (fx_buf_append(&b, " ", 1) < 0)
				goto toolong;
		if (fx_buf_append(&b, l->s, l->n) < 0)
			goto toolong;
		first = false;
		prev_more = more;
	}
	trailing = pending;
	if (!first && chomp != '-' && fx_buf_append(&b, "\n", 1) < 0)
		goto toolong;
	for (; chomp == '+' && trailing > 0; trailing--)
		if (fx_buf_append(&b, "\n", 1) < 0)
			goto toolong;
	*out = json_object_new_string_len(b.data ? b.data : "", (int)b.len);
	fx_buf_cleanup(&b);
	p->i = end;
	return 0;
toolong:
	fx_buf_cleanup(&b);
	return fail(p, p->lines[k].no, "block scalar too long");
}

/* Appends one continuation line of a plain scalar (trimmed), after pending empty lines or a space. */
static int plain_more(struct parser *p, struct fx_buf *b, const struct line *l, int empties)
{
	size_t n = rtrim(l->s, l->n);

	if (l->comment)
		return fail(p, l->no, "a comment inside a plain scalar");
	if (plain_colon(l->s, n) >= 0 || comment_at(l->s, n) < n)
		return fail(p, l->no, "\": \" or \" #\" in a plain scalar's continuation (quote the scalar)");
	if (empties == 0 && fx_buf_append(b, " ", 1) < 0)
		return fail(p, l->no, "scalar too long");
	for (; empties > 0; empties--)
		if (fx_buf_append(b, "\n", 1) < 0)
			return fail(p, l->no, "scalar too long");
	if (fx_buf_append(b, l->s, n) < 0)
		return fail(p, l->no, "scalar too long");
	return 0;
}

/* A plain scalar starting with v on line k, continued on the lines indented past ind. */
static int parse_plain(struct parser *p, int k, const char *v, size_t vn, int ind, json_object **out)
{
	struct fx_buf b;
	int j, empties = 0, no = p->lines[k].no;
	size_t n = rtrim(v, comment_at(v, vn));
	bool comment_seen = n < rtrim(v, vn);

	if (!plain_start_ok(v[0]) || strchr(",]}", v[0]))
		return fail(p, no,
			    "anchors, aliases, tags, complex keys and reserved indicators are outside the subset");
	if (is_seq_entry(v, vn))
		return fail(p, no, "a sequence entry on a key's line");
	if (plain_colon(v, n) >= 0)
		return fail(p, no, "\": \" in a plain scalar (an implicit key): quote the scalar");
	fx_buf_init(&b, MAX_SCALAR);
	if (fx_buf_append(&b, v, n) < 0)
		goto fail;
	for (j = k + 1; j < p->nlines; j++) {
		const struct line *l = &p->lines[j];

		if (l->blank) {
			empties++;
			continue;
		}
		if (l->indent <= ind)
			break;
		if (comment_seen) {
			fail(p, l->no, "a plain scalar continued after a comment");
			goto fail;
		}
		if (plain_more(p, &b, l, empties) < 0)
			goto fail;
		empties = 0;
	}
	p->i = j;
	if (is_null(b.data, b.len))
		*out = NULL;
	else
		*out = json_object_new_string_len(b.data, (int)b.len);
	fx_buf_cleanup(&b);
	return 0;
fail:
	fx_buf_cleanup(&b);
	return fail(p, no, "bad plain scalar");
}

/*
 * The value after "key:" or "- " on line k: v[0..vn) is the rest of that
 * line from its first non-space. ind is the owner's indentation (the key's
 * or the dash's); in_map allows a compact sequence at the key's column.
 */
static int parse_value(struct parser *p, int k, const char *v, size_t vn, int ind, bool in_map, json_object **out)
{
	int no = p->lines[k].no, j;

	*out = NULL;
	vn = rtrim(v, vn);
	if (vn == 0 || v[0] == '#') {
		j = next_sig(p, k + 1);
		p->i = k + 1;
		if (j < p->nlines && p->lines[j].indent > ind) {
			p->i = j;
			return parse_block(p, p->lines[j].indent, out);
		}
		if (in_map && j < p->nlines && p->lines[j].indent == ind &&
		    is_seq_entry(p->lines[j].s, p->lines[j].n)) {
			p->i = j;
			return parse_block(p, ind, out);
		}
		return 0;
	}
	if (v[0] == '|' || v[0] == '>')
		return parse_block_scalar(p, k, v, vn, ind, out);
	if (v[0] == '\'' || v[0] == '"') {
		struct fx_buf b;
		const char *rest;
		size_t restn;
		int rc;

		fx_buf_init(&b, MAX_SCALAR);
		rc = parse_quoted(p, k, v, vn, ind, &b, &rest, &restn);
		if (rc == 0)
			rc = expect_line_end(p, p->lines[p->i - 1].no, rest, restn);
		if (rc == 0)
			*out = json_object_new_string_len(b.data ? b.data : "", (int)b.len);
		fx_buf_cleanup(&b);
		return rc;
	}
	if (v[0] == '[' || v[0] == '{') {
		size_t pos = 0;

		if (parse_flow(p, no, v, vn, &pos, out) < 0)
			return -1;
		if (expect_line_end(p, no, v + pos, vn - pos) < 0) {
			json_object_put(*out);
			*out = NULL;
			return -1;
		}
		j = next_sig(p, k + 1);
		if (j < p->nlines && p->lines[j].indent > ind) {
			json_object_put(*out);
			*out = NULL;
			return fail(p, p->lines[j].no, "indented line after a flow collection");
		}
		p->i = k + 1;
		return 0;
	}
	return parse_plain(p, k, v, vn, ind, out);
}

/* A mapping key on line l: plain or quoted; sets the value's start. */
static int parse_key(struct parser *p, const struct line *l, char *key, size_t keylen, const char **v, size_t *vn)
{
	size_t end;

	if (l->s[0] == '\'' || l->s[0] == '"') {
		struct fx_buf b;
		long e = quoted_end(l->s, l->n);
		const char *rest;
		size_t restn;
		int rc;

		if (e < 0 || (size_t)e >= l->n || l->s[e] != ':')
			return fail(p, l->no, "expected a quoted key and ':'");
		fx_buf_init(&b, keylen);
		rc = parse_quoted(p, l->no - 1, l->s, (size_t)e, 1 << 30, &b, &rest, &restn);
		if (rc == 0 && fx_str_set(key, keylen, b.data ? b.data : "") < 0)
			rc = fail(p, l->no, "key too long");
		fx_buf_cleanup(&b);
		end = (size_t)e;
		if (rc < 0)
			return -1;
	} else {
		long c = plain_colon(l->s, l->n);

		if (!plain_start_ok(l->s[0]) || strchr("[]{},#", l->s[0]))
			return fail(p, l->no,
				    "anchors, aliases, tags, complex keys and flow keys are outside the subset");
		if (c <= 0)
			return fail(p, l->no, "expected \"key: value\" or \"- entry\": %.*s",
				    (int)(l->n > 40 ? 40 : l->n), l->s);
		if (fx_str_copy(key, keylen, l->s, rtrim(l->s, (size_t)c)) < 0)
			return fail(p, l->no, "key too long");
		end = (size_t)c;
	}
	*v = l->s + end + 1;
	*vn = l->n - end - 1;
	while (*vn > 0 && (**v == ' ' || **v == '\t')) {
		(*v)++;
		(*vn)--;
	}
	return 0;
}

static int parse_map(struct parser *p, int ind, json_object **out)
{
	json_object *map = json_object_new_object();

	for (;;) {
		int k = next_sig(p, p->i);
		const struct line *l;
		char key[512];
		const char *v = NULL;
		size_t vn = 0;
		json_object *val;

		if (k >= p->nlines || p->lines[k].indent < ind)
			break;
		l = &p->lines[k];
		if (l->indent > ind || is_seq_entry(l->s, l->n)) {
			fail(p, l->no, "indentation fits no open node");
			goto bad;
		}
		p->i = k;
		if (parse_key(p, l, key, sizeof(key), &v, &vn) < 0)
			goto bad;
		if (json_object_object_get_ex(map, key, NULL)) {
			fail(p, l->no, "duplicate key %s", key);
			goto bad;
		}
		if (parse_value(p, k, v, vn, ind, true, &val) < 0)
			goto bad;
		json_object_object_add(map, key, val);
	}
	*out = map;
	return 0;
bad:
	json_object_put(map);
	return -1;
}

static int parse_seq(struct parser *p, int ind, json_object **out)
{
	json_object *seq = json_object_new_array();

	for (;;) {
		int k = next_sig(p, p->i);
		struct line *l;
		size_t off = 1;
		json_object *item = NULL;
		int rc;

		if (k >= p->nlines || p->lines[k].indent < ind)
			break;
		l = &p->lines[k];
		if (!is_seq_entry(l->s, l->n)) {
			if (l->indent == ind)
				break; /* the next key of the mapping that holds this compact sequence */
			fail(p, l->no, "indentation fits no open node");
			goto bad;
		}
		if (l->indent > ind) {
			fail(p, l->no, "indentation fits no open node");
			goto bad;
		}
		while (off < l->n && l->s[off] == ' ')
			off++;
		if (off < l->n && l->s[off] != '#' &&
		    (is_key_line(l->s + off, l->n - off) || is_seq_entry(l->s + off, l->n - off))) {
			/* "- key: value" opens a mapping (or "- - x" a sequence) at the column after the dash. */
			l->indent += (int)off;
			l->s += off;
			l->n -= off;
			p->i = k;
			rc = parse_block(p, l->indent, &item);
		} else {
			rc = parse_value(p, k, l->s + off, l->n - off, ind, false, &item);
		}
		if (rc < 0)
			goto bad;
		json_object_array_add(seq, item);
	}
	*out = seq;
	return 0;
bad:
	json_object_put(seq);
	return -1;
}

/* The block node whose first line is the next significant one, at indentation ind. */
static int parse_block(struct parser *p, int ind, json_object **out)
{
	int k = next_sig(p, p->i), rc;

	if (++p->depth > MAX_DEPTH)
		return fail(p, k < p->nlines ? p->lines[k].no : p->nlines, "nesting deeper than %d", MAX_DEPTH);
	p->i = k;
	if (k < p->nlines && is_seq_entry(p->lines[k].s, p->lines[k].n))
		rc = parse_seq(p, ind, out);
	else
		rc = parse_map(p, ind, out);
	p->depth--;
	return rc;
}

json_object *oa_yaml_parse(const char *text, size_t len, char *err, size_t errlen)
{
	struct parser p = {.err = err, .errlen = errlen};
	json_object *doc = NULL;
	int k;

	if (errlen > 0)
		err[0] = '\0';
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
		fail(&p, 1, "byte order mark");
		goto out;
	}
	if (split_lines(&p, text, len) < 0)
		goto out;
	k = next_sig(&p, 0);
	if (k >= p.nlines || p.lines[k].indent != 0 || is_seq_entry(p.lines[k].s, p.lines[k].n)) {
		fail(&p, k < p.nlines ? p.lines[k].no : 1, "the document must be a mapping at column 0");
		goto out;
	}
	if (parse_block(&p, 0, &doc) < 0)
		goto out;
	k = next_sig(&p, p.i);
	if (k < p.nlines) {
		fail(&p, p.lines[k].no, "indentation fits no open node");
		json_object_put(doc);
		doc = NULL;
	}
out:
	free(p.lines);
	if (p.failed) {
		json_object_put(doc);
		return NULL;
	}
	return doc;
}
