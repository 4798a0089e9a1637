/*
 * fuzz_csvin: the spreadsheet CSV reader, and the price parser on the cells
 * it reads, over arbitrary bytes. A refusal must be a 400 on "file"; rows
 * read must keep the limits (64 fields, 8192 bytes each, NUL-terminated at
 * their length, no NUL inside, lines and rows only going forward). A file
 * read to its end is written again with every field quoted and ','
 * between, and must read back as the same rows: what the reader returns is
 * exactly what a careful writer meant. A price accepted must be >= 0 and
 * read back the same from "<rand>.<cents>" and "<rand>,<cents>".
 */
#include "csvin.h"
#include "price.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct rows {
	char *text; /* every field, NUL-terminated, in order */
	size_t len, cap;
	size_t *count; /* fields per row, the header first */
	size_t nrows, rows_cap;
};

static void add_row(struct rows *r, const struct fx_csvin_row *row)
{
	if (r->nrows == r->rows_cap) {
		r->rows_cap = r->rows_cap ? 2 * r->rows_cap : 16;
		r->count = realloc(r->count, r->rows_cap * sizeof(*r->count));
	}
	r->count[r->nrows++] = row->n;
	for (size_t i = 0; i < row->n; i++) {
		while (r->len + row->len[i] + 1 > r->cap) {
			r->cap = r->cap ? 2 * r->cap : 256;
			r->text = realloc(r->text, r->cap);
		}
		memcpy(r->text + r->len, row->field[i], row->len[i] + 1);
		r->len += row->len[i] + 1;
	}
}

static void check_row(const struct fx_csvin_row *row)
{
	if (row->n < 1 || row->n > FX_CSVIN_MAX_FIELDS)
		abort();
	for (size_t i = 0; i < row->n; i++)
		if (row->len[i] > FX_CSVIN_MAX_FIELD_BYTES || row->field[i][row->len[i]] != '\0' ||
		    strlen(row->field[i]) != row->len[i])
			abort();
}

static void check_refusal(const struct fx_err *e)
{
	if (!fx_err_is(e, FX_INVALID_ARGUMENT) || e->ndetails != 1 || strcmp(e->details[0].field, "file") != 0)
		abort();
}

static void check_price(const char *s, bool decimal_comma)
{
	struct fx_err e;
	int64_t cents, again;
	char text[48];

	fx_err_clear(&e);
	if (fx_price_parse(s, decimal_comma, "price", &cents, &e) < 0) {
		if (!fx_err_is(&e, FX_INVALID_ARGUMENT) || strcmp(e.details[0].field, "price") != 0)
			abort();
		return;
	}
	if (cents < 0)
		abort();
	for (int dc = 0; dc <= 1; dc++) {
		snprintf(text, sizeof text, "%" PRId64 "%c%02d", cents / 100, dc ? ',' : '.', (int)(cents % 100));
		if (fx_price_parse(text, dc, "price", &again, &e) < 0 || again != cents)
			abort();
	}
}

/* Writes the rows as CSV, every field quoted, ',' between, CRLF after each. */
static char *write_rows(const struct rows *r, size_t *len)
{
	size_t cap = 2 * r->len + 2 * r->nrows + 1, n = 0; /* per field: its bytes twice, 2 quotes, a ',' */
	const char *f = r->text;
	char *out;

	for (size_t i = 0; i < r->nrows; i++)
		cap += r->count[i];
	out = malloc(cap);

	for (size_t i = 0; i < r->nrows; i++) {
		for (size_t k = 0; k < r->count[i]; k++) {
			size_t fl = strlen(f);

			if (k)
				out[n++] = ',';
			out[n++] = '"';
			for (size_t j = 0; j < fl; j++) {
				if (f[j] == '"')
					out[n++] = '"';
				out[n++] = f[j];
			}
			out[n++] = '"';
			f += fl + 1;
		}
		out[n++] = '\r';
		out[n++] = '\n';
	}
	if (n > cap)
		abort();
	*len = n;
	return out;
}

/* Reads data to its end into *r: 0, or -1 when refused. */
static int read_all(const char *data, size_t size, struct rows *r, bool prices)
{
	struct fx_csvin c;
	struct fx_csvin_row hdr, row;
	struct fx_err e;
	long line, rowno = 0;
	int rc;

	fx_err_clear(&e);
	if (fx_csvin_open(&c, data, size, &hdr, &e) < 0) {
		check_refusal(&e);
		fx_csvin_cleanup(&c);
		return -1;
	}
	if (c.delim != ',' && c.delim != ';')
		abort();
	check_row(&hdr);
	add_row(r, &hdr);
	line = c.line;
	while ((rc = fx_csvin_next(&c, &row, &e)) == 1) {
		check_row(&row);
		if (c.line <= line || c.row <= rowno)
			abort();
		line = c.line;
		rowno = c.row;
		add_row(r, &row);
		if (prices)
			for (size_t i = 0; i < row.n; i++)
				check_price(row.field[i], c.decimal_comma);
	}
	/* The header's fields outlive the rows read after it. */
	for (size_t i = 0; i < hdr.n; i++)
		if (strlen(hdr.field[i]) != hdr.len[i])
			abort();
	fx_csvin_cleanup(&c);
	if (rc < 0) {
		check_refusal(&e);
		if (!strstr(e.message, "line "))
			abort();
		return -1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rows a = {0}, b = {0};
	char *again = NULL;
	size_t n;

	if (read_all((const char *)data, size, &a, true) == 0) {
		again = write_rows(&a, &n);
		if (read_all(again, n, &b, false) < 0)
			abort();
		if (a.nrows != b.nrows || a.len != b.len || memcmp(a.count, b.count, a.nrows * sizeof(*a.count)) != 0 ||
		    memcmp(a.text, b.text, a.len) != 0)
			abort();
	}
	free(again);
	free(a.text);
	free(a.count);
	free(b.text);
	free(b.count);
	return 0;
}
