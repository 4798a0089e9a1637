/* fx_csvin: the spreadsheet CSV reader (the dialect is in csvin.h). */
#include "csvin.h"

#include "mem.h"
#include "str.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SAVE_AS "save it as \"CSV UTF-8\" in the spreadsheet"

static int refuse(struct fx_err *e, long line, const char *why)
{
	if (line > 0)
		return fx_err_invalid(e, "file", "line %ld: %s", line, why);
	return fx_err_invalid(e, "file", "%s", why);
}

static bool starts(const unsigned char *d, size_t len, const char *sig, size_t n)
{
	return len >= n && memcmp(d, sig, n) == 0;
}

/*
 * Whether the start of d looks like UTF-16 text without a BOM: a header row
 * is mostly ASCII, which UTF-16 writes as the character and a NUL, so one of
 * every two bytes of the first ones is NUL.
 */
static bool looks_utf16(const unsigned char *d, size_t len)
{
	size_t n = len < 32 ? len & ~(size_t)1 : 32, even = 0, odd = 0;

	for (size_t i = 0; i < n; i++)
		if (d[i] == 0)
			*(i % 2 ? &odd : &even) += 1;
	return n >= 2 && (even == n / 2 || odd == n / 2);
}

/* Refuses what is not UTF-8 text, naming the first line at fault. */
static int check_text(const unsigned char *d, size_t len, struct fx_err *e)
{
	long line = 1;

	for (size_t i = 0; i < len;) {
		unsigned char b = d[i];
		size_t n;

		if (b == '\n') {
			line++;
			i++;
			continue;
		}
		if (b == 0)
			return refuse(e, line,
				      "the file holds NUL bytes: it is UTF-16 text or binary data, not CSV; " SAVE_AS);
		if ((b < 0x20 && b != '\t' && b != '\r') || b == 0x7F)
			return refuse(e, line, "the file holds binary data (control bytes), not CSV text; " SAVE_AS);
		n = fx_str_utf8_char((const char *)d + i, len - i);
		if (n == 0)
			return refuse(e, line,
				      "the text is not UTF-8 (perhaps Windows-1252, Excel's \"CSV (Comma "
				      "delimited)\"); " SAVE_AS);
		i += n;
	}
	return 0;
}

/* Refuses the files that are recognisably not CSV by their first bytes (line 1). */
static int check_kind(const unsigned char *d, size_t len, struct fx_err *e)
{
	if (starts(d, len, "\xFF\xFE\x00\x00", 4) || starts(d, len, "\x00\x00\xFE\xFF", 4))
		return refuse(e, 1, "the file is UTF-32 text, not UTF-8; " SAVE_AS);
	if (starts(d, len, "\xFF\xFE", 2) || starts(d, len, "\xFE\xFF", 2))
		return refuse(e, 1, "the file is UTF-16 text (Excel's \"Unicode Text\"), not UTF-8; " SAVE_AS);
	if (starts(d, len, "PK\x03\x04", 4) || starts(d, len, "PK\x05\x06", 4) || starts(d, len, "PK\x07\x08", 4))
		return refuse(
			e, 1,
			"the file is a workbook or ZIP archive (.xlsx, .ods, .zip), not CSV; open it and " SAVE_AS);
	if (starts(d, len, "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8))
		return refuse(e, 1, "the file is an Excel 97-2003 workbook (.xls), not CSV; open it and " SAVE_AS);
	if (memchr(d, 0, len) && looks_utf16(d, len))
		return refuse(e, 1, "the file is UTF-16 text without a byte order mark, not UTF-8; " SAVE_AS);
	return 0;
}

/* The delimiter of the header line at p: ';' when it has more ';' than ',' outside quotes. */
static char detect_delim(const char *p, const char *end)
{
	bool quoted = false;
	size_t semi = 0, comma = 0;

	for (; p < end; p++) {
		if (*p == '"')
			quoted = !quoted;
		else if (quoted)
			continue;
		else if (*p == '\n')
			break;
		else if (*p == ';')
			semi++;
		else if (*p == ',')
			comma++;
	}
	return semi > comma ? ';' : ',';
}

/* Stops the reader after a refusal: what follows is not read. */
static int stop(struct fx_csvin *c)
{
	c->p = c->end;
	return -1;
}

/* One field at c->p into *out (bounded by the caller's buffer); leaves c->p at its terminator. */
static int read_field(struct fx_csvin *c, char **out, size_t field, struct fx_err *e)
{
	const char *p = c->p, *end = c->end;
	char *o = *out, *start = *out;
	long line = c->next_line;

	if (p < end && *p == '"') {
		for (p++;; p++) {
			if (p >= end) {
				c->p = p;
				return refuse(e, line, "a quoted cell is never closed (a '\"' is missing after it)");
			}
			if (*p == '"') {
				if (p + 1 < end && p[1] == '"') {
					p++;
				} else {
					p++;
					break;
				}
			} else if (*p == '\n') {
				c->next_line++;
			}
			if ((size_t)(o - start) >= FX_CSVIN_MAX_FIELD_BYTES)
				goto toolong;
			*o++ = *p;
		}
		if (p < end && *p != c->delim && *p != '\n' && *p != '\r') {
			c->p = p;
			return refuse(e, c->next_line,
				      "text after the closing quote of a quoted cell (a '\"' inside a cell must be "
				      "doubled)");
		}
	} else {
		for (; p < end && *p != c->delim && *p != '\n' && *p != '\r'; p++) {
			if ((size_t)(o - start) >= FX_CSVIN_MAX_FIELD_BYTES)
				goto toolong;
			*o++ = *p;
		}
	}
	*o++ = '\0';
	*out = o;
	c->p = p;
	return 0;
toolong:
	c->p = p;
	fx_err_invalid(e, "file", "line %ld: cell %zu is longer than %u bytes", line, field + 1,
		       FX_CSVIN_MAX_FIELD_BYTES);
	return -1;
}

/* The next row, header or data; 1, 0 at the end, -1 refused. */
static int read_row(struct fx_csvin *c, struct fx_csvin_row *row, struct fx_err *e)
{
	char *o = c->cells;

	row->n = 0;
	for (;;) {
		if (c->p >= c->end)
			return 0;
		if (*c->p == '\n') {
			c->p++;
		} else if (*c->p == '\r' && c->p + 1 < c->end && c->p[1] == '\n') {
			c->p += 2;
		} else {
			break;
		}
		/* A completely empty line: skipped, but a spreadsheet shows it as a row. */
		c->next_line++;
		c->row++;
	}
	c->line = c->next_line;
	c->row++;
	for (;;) {
		if (row->n == FX_CSVIN_MAX_FIELDS)
			return refuse(e, c->next_line, "the row has more than 64 columns");
		row->field[row->n] = o;
		if (read_field(c, &o, row->n, e) < 0)
			return -1;
		row->len[row->n] = (size_t)(o - row->field[row->n]) - 1;
		row->n++;
		if (c->p >= c->end)
			return 1;
		if (*c->p == c->delim) {
			c->p++;
			continue;
		}
		if (*c->p == '\n') {
			c->p++;
			c->next_line++;
			return 1;
		}
		if (c->p + 1 < c->end && c->p[1] == '\n') {
			c->p += 2;
			c->next_line++;
			return 1;
		}
		return refuse(e, c->next_line,
			      "a carriage return without a line feed ends the line (old Mac line ends); " SAVE_AS);
	}
}

int fx_csvin_open(struct fx_csvin *c, const char *data, size_t len, struct fx_csvin_row *header, struct fx_err *e)
{
	const unsigned char *d = (const unsigned char *)data;
	size_t body, total = 0;
	char *o;
	int rc;

	memset(c, 0, sizeof(*c));
	header->n = 0;
	if (len > FX_CSVIN_MAX_BYTES)
		return refuse(e, 0, "the file is larger than 16 MiB; split it into smaller files");
	if (len == 0 || !data)
		return refuse(e, 0, "the file is empty");
	if (check_kind(d, len, e) < 0)
		return -1;
	if (starts(d, len, "\xEF\xBB\xBF", 3)) {
		d += 3;
		len -= 3;
	}
	if (check_text(d, len, e) < 0)
		return -1;
	c->p = (const char *)d;
	c->end = c->p + len;
	c->line = c->next_line = 1;
	c->delim = detect_delim(c->p, c->end);
	c->decimal_comma = c->delim == ';';
	/* A row unquoted is no longer than its text, nor than its fields at their cap; one NUL each. */
	body = len < (size_t)FX_CSVIN_MAX_FIELDS * FX_CSVIN_MAX_FIELD_BYTES
		       ? len
		       : (size_t)FX_CSVIN_MAX_FIELDS * FX_CSVIN_MAX_FIELD_BYTES;
	c->cells_cap = body + FX_CSVIN_MAX_FIELDS + 1;
	c->cells = fx_mem_xmalloc(c->cells_cap);
	rc = read_row(c, header, e);
	if (rc == 0)
		rc = refuse(e, 0, "the file is empty: it has no header row");
	if (rc < 0)
		goto fail;
	for (size_t i = 0; i < header->n; i++)
		total += header->len[i] + 1;
	c->head = fx_mem_xmalloc(total);
	o = c->head;
	for (size_t i = 0; i < header->n; i++) {
		if (fx_str_mem_copy(o, total - (size_t)(o - c->head), header->field[i], header->len[i] + 1) < 0) {
			rc = fx_err_set(e, FX_INTERNAL, "csvin: the header outgrew its copy");
			goto fail;
		}
		header->field[i] = o;
		o += header->len[i] + 1;
	}
	c->row = 0;
	return 0;
fail:
	header->n = 0;
	fx_csvin_cleanup(c);
	return -1;
}

int fx_csvin_next(struct fx_csvin *c, struct fx_csvin_row *row, struct fx_err *e)
{
	int rc;

	row->n = 0;
	if (!c->cells)
		return 0;
	rc = read_row(c, row, e);
	if (rc < 0) {
		row->n = 0;
		return stop(c);
	}
	return rc;
}

bool fx_csvin_row_blank(const struct fx_csvin_row *row)
{
	for (size_t i = 0; i < row->n; i++)
		if (row->len[i] > 0)
			return false;
	return true;
}

void fx_csvin_cleanup(struct fx_csvin *c)
{
	if (!c)
		return;
	free(c->cells);
	free(c->head);
	c->cells = c->head = NULL;
	c->cells_cap = 0;
	c->p = c->end;
}
