/*
 * fuzz_csv: the report CSV writer with arbitrary cell bytes. The input is
 * a script: byte 0 sets the buffer cap, then cells end at NUL; a cell
 * starting 0x01 ends the row, 0x02 or 0x03 followed by 8 bytes writes that
 * int64 as an integer or cents cell, anything else is a text cell. A call
 * refused at the cap must leave the buffer as it was; what was written
 * must read back (RFC 4180) as the cells written, text cells guarded.
 */
#include "buf.h"
#include "csv.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What the writer was asked for: row i ends before cell row_end[i]. */
struct want {
	char **cells;
	size_t n;
	size_t *row_end;
	size_t rows;
};

static void push_cell(struct want *w, const char *s, size_t n)
{
	w->cells[w->n] = malloc(n + 1);
	memcpy(w->cells[w->n], s, n);
	w->cells[w->n][n] = '\0';
	w->n++;
}

/* Reads one RFC 4180 field at *p; returns it (malloc'd) or aborts when malformed. */
static char *read_field(const char **p, const char *end)
{
	const char *s = *p;
	char *out = malloc((size_t)(end - s) + 1);
	size_t n = 0;

	if (s < end && *s == '"') {
		for (s++;; s++) {
			if (s >= end)
				abort(); /* unterminated quote */
			if (*s == '"') {
				if (s + 1 < end && s[1] == '"') {
					out[n++] = '"';
					s++;
					continue;
				}
				s++;
				break;
			}
			out[n++] = *s;
		}
	} else {
		for (; s < end && *s != ',' && *s != '\r'; s++) {
			if (*s == '"' || *s == '\n')
				abort(); /* must have been quoted */
			out[n++] = *s;
		}
	}
	if (!(s < end && (*s == ',' || (*s == '\r' && s + 1 < end && s[1] == '\n'))))
		abort(); /* a field ends at ',' or CRLF */
	out[n] = '\0';
	*p = s;
	return out;
}

static void check_output(const struct fx_buf *b, const struct want *w)
{
	const char *p = b->data ? b->data : "", *end = p + b->len;
	size_t cell = 0;

	for (size_t r = 0; r < w->rows; r++) {
		size_t first = cell, last = w->row_end[r];

		for (;;) {
			char *got = read_field(&p, end);
			/* A row without cells reads back as one empty cell. */
			const char *exp = cell < last ? w->cells[cell] : "";

			if (strcmp(got, exp) != 0 || (cell >= last && cell != first))
				abort();
			free(got);
			cell++;
			if (*p == '\r') {
				p += 2;
				break;
			}
			p++;
		}
		if (cell < last)
			abort(); /* fewer cells than written */
		cell = last;
	}
	if (p != end)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct want w = {0};
	struct fx_buf b;
	char *snapshot = NULL, num[32];
	size_t i = 1, pending = 0;
	bool ok = true;

	if (size < 1)
		return 0;
	fx_buf_init(&b, 16 + (size_t)data[0] * 8);
	w.cells = calloc(size + 1, sizeof(*w.cells));
	w.row_end = calloc(size + 2, sizeof(*w.row_end));
	while (i < size) {
		const uint8_t *s = data + i;
		const uint8_t *nul = memchr(s, 0, size - i);
		size_t n = nul ? (size_t)(nul - s) : size - i, before = b.len;
		int rc;

		snapshot = realloc(snapshot, b.len + 1);
		memcpy(snapshot, b.data ? b.data : "", b.len + 1);
		i += n + 1;
		if (n >= 1 && s[0] == 1) {
			rc = fx_csv_end_row(&b);
			if (rc == 0) {
				w.row_end[w.rows++] = w.n;
				pending = 0;
			}
		} else if (n >= 9 && (s[0] == 2 || s[0] == 3)) {
			int64_t v;

			memcpy(&v, s + 1, sizeof(v));
			if (s[0] == 2) {
				rc = fx_csv_int(&b, v);
				snprintf(num, sizeof(num), "%" PRId64, v);
			} else {
				rc = fx_csv_cents(&b, v);
				snprintf(num, sizeof(num), "%s%" PRIu64 ".%02u", v < 0 ? "-" : "",
					 (v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v) / 100,
					 (unsigned)((v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v) % 100));
			}
			if (rc == 0) {
				push_cell(&w, num, strlen(num));
				pending++;
			}
		} else {
			char *text = malloc(n + 2);
			size_t quotes;
			bool guard;

			text[0] = '\'';
			memcpy(text + 1, s, n);
			text[n + 1] = '\0';
			/* Quotes already in front count too (lib/csv.h): one quote removed gives the text back. */
			quotes = strspn(text + 1, "'");
			guard = quotes < n && strchr("=+-@\t\r", text[1 + quotes]);
			rc = fx_csv_text(&b, text + 1);
			if (rc == 0) {
				push_cell(&w, guard ? text : text + 1, guard ? n + 1 : n);
				pending++;
			}
			free(text);
		}
		if (rc < 0 && (b.len != before || memcmp(snapshot, b.data ? b.data : "", before + 1) != 0))
			abort(); /* a refused call changed the buffer */
	}
	if (pending > 0) {
		if (fx_csv_end_row(&b) == 0)
			w.row_end[w.rows++] = w.n;
		else
			ok = false;
	}
	if (ok)
		check_output(&b, &w);
	for (size_t k = 0; k < w.n; k++)
		free(w.cells[k]);
	free(w.cells);
	free(w.row_end);
	free(snapshot);
	fx_buf_cleanup(&b);
	return 0;
}
