/* lib/csvin: CSV as spreadsheets write it, and what is refused with a reason. */
#include "csvin.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EMOJI "\xF0\x9F\x98\x80" /* U+1F600, four bytes */

static struct fx_csvin c;
static struct fx_csvin_row hdr, row;
static struct fx_err e;

static void setup(void)
{
	memset(&c, 0, sizeof c);
	fx_err_clear(&e);
}

static void teardown(void)
{
	fx_csvin_cleanup(&c);
}

TestSuite(csvin, .init = setup, .fini = teardown);

/* Opens the reader over s[0..n) and expects success. */
static void open_ok(const char *s, size_t n)
{
	fx_err_clear(&e);
	cr_assert_eq(fx_csvin_open(&c, s, n, &hdr, &e), 0, "open: %s", e.message);
}

#define OPEN(lit) open_ok(lit, sizeof(lit) - 1)

/* Expects the next row to be read with the n cells given (NULL-terminated list). */
static void next_is(long line, long rowno, ...)
{
	va_list ap;
	size_t i = 0;

	cr_assert_eq(fx_csvin_next(&c, &row, &e), 1, "next: %s", e.message);
	va_start(ap, rowno);
	for (const char *want; (want = va_arg(ap, const char *)) != NULL; i++) {
		cr_assert_lt(i, row.n, "row %ld has %zu cells, wanted more", rowno, row.n);
		cr_assert_str_eq(row.field[i], want, "row %ld cell %zu", rowno, i);
		cr_assert_eq(row.len[i], strlen(want), "row %ld cell %zu length", rowno, i);
	}
	va_end(ap);
	cr_assert_eq(row.n, i, "row %ld: %zu cells, wanted %zu", rowno, row.n, i);
	cr_assert_eq(c.line, line, "row %ld starts on line %ld, not %ld", rowno, line, c.line);
	cr_assert_eq(c.row, rowno);
}

static void at_end(void)
{
	cr_assert_eq(fx_csvin_next(&c, &row, &e), 0, "a row past the end: %zu cells, %s", row.n, e.message);
	cr_assert_eq(row.n, 0);
}

/* Expects a 400 on the "file" field whose message holds every fragment given (NULL-terminated). */
static void refusal(const char *first, ...)
{
	va_list ap;

	cr_assert(fx_err_is(&e, FX_INVALID_ARGUMENT), "%s", e.message);
	cr_assert_eq(e.ndetails, 1);
	cr_assert_str_eq(e.details[0].field, "file");
	va_start(ap, first);
	for (const char *s = first; s; s = va_arg(ap, const char *))
		cr_assert(strstr(e.message, s), "\"%s\" lacks \"%s\"", e.message, s);
	va_end(ap);
}

static void open_refused(const char *s, size_t n)
{
	fx_err_clear(&e);
	cr_assert_eq(fx_csvin_open(&c, s, n, &hdr, &e), -1, "opened %zu bytes", n);
	cr_assert_eq(hdr.n, 0);
}

#define OPEN_REFUSED(lit) open_refused(lit, sizeof(lit) - 1)

/* A row refused by fx_csvin_next; the reader then reads nothing more. */
static void next_refused(void)
{
	fx_err_clear(&e);
	cr_assert_eq(fx_csvin_next(&c, &row, &e), -1, "read %zu cells", row.n);
	cr_assert_eq(fx_csvin_next(&c, &row, &e), 0, "nothing is read after a refusal");
}

static char *load(const char *name, size_t *len)
{
	const char *top = getenv("top_srcdir");
	char path[1024];
	FILE *f;
	long n;
	char *buf;

	cr_assert(snprintf(path, sizeof path, "%s/tests/data/imports/%s", top ? top : ".", name) < (int)sizeof path);
	f = fopen(path, "rb");
	cr_assert(f, "cannot open %s (run through make check, or export top_srcdir)", path);
	cr_assert_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	cr_assert_geq(n, 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	cr_assert(buf);
	*len = fread(buf, 1, (size_t)n, f);
	cr_assert_eq(*len, (size_t)n);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

/* ---- dialects ---- */

Test(csvin, reads_utf8_without_a_bom_with_commas)
{
	OPEN("sku,name,price\nA-1,Caf\xC3\xA9,149.99\nB-2,Pi\xC3\xB1"
	     "ata,12\n");
	cr_assert_eq(c.delim, ',');
	cr_assert_not(c.decimal_comma);
	cr_assert_eq(hdr.n, 3);
	cr_assert_str_eq(hdr.field[0], "sku");
	cr_assert_str_eq(hdr.field[2], "price");
	next_is(2, 1, "A-1", "Caf\xC3\xA9", "149.99", NULL);
	next_is(3, 2, "B-2",
		"Pi\xC3\xB1"
		"ata",
		"12", NULL);
	at_end();
}

Test(csvin, skips_a_utf8_bom)
{
	OPEN("\xEF\xBB\xBFsku;name\r\nA;\xE7\x8C\xAB " EMOJI "\r\n");
	cr_assert_str_eq(hdr.field[0], "sku", "the BOM is not part of the first column's name");
	cr_assert_eq(hdr.len[0], 3);
	next_is(2, 1, "A", "\xE7\x8C\xAB " EMOJI, NULL);
	at_end();
}

Test(csvin, detects_semicolons_and_the_decimal_comma_from_the_header)
{
	OPEN("sku;name;price\nA;\"Tea, green\";149,99\n");
	cr_assert_eq(c.delim, ';');
	cr_assert(c.decimal_comma);
	next_is(2, 1, "A", "Tea, green", "149,99", NULL);
	at_end();
}

Test(csvin, counts_delimiters_outside_quotes_only)
{
	/* Three commas inside quotes, two semicolons outside: ';'. */
	OPEN("\"a,b,c,d\";x;y\n1;2;3\n");
	cr_assert_eq(c.delim, ';');
	cr_assert_str_eq(hdr.field[0], "a,b,c,d");
	next_is(2, 1, "1", "2", "3", NULL);
	fx_csvin_cleanup(&c);
	/* More commas than semicolons: ','; a tie (none of either) too. */
	OPEN("a;b,c,d\n1;2,3,4\n");
	cr_assert_eq(c.delim, ',');
	next_is(2, 1, "1;2", "3", "4", NULL);
	fx_csvin_cleanup(&c);
	OPEN("sku\nA\n");
	cr_assert_eq(c.delim, ',');
	next_is(2, 1, "A", NULL);
}

Test(csvin, reads_quoted_fields_with_delimiters_quotes_and_newlines)
{
	OPEN("sku,description,note\r\n"
	     "A,\"says \"\"hi\"\", twice\",\"line one\nline two\"\r\n"
	     "B,\"crlf\r\ninside\",\"a lone \r cr\"\r\n"
	     "C,\"\",\"\"\"\"\r\n"
	     "D,5\" screen,x\r\n");
	next_is(2, 1, "A", "says \"hi\", twice", "line one\nline two", NULL);
	next_is(4, 2, "B", "crlf\r\ninside", "a lone \r cr", NULL);
	next_is(6, 3, "C", "", "\"", NULL);
	next_is(7, 4, "D", "5\" screen", "x", NULL);
	at_end();
}

Test(csvin, ends_rows_at_lf_or_crlf_and_the_last_needs_neither)
{
	OPEN("a,b\r\n1,2\n3,4\r\n5,6");
	next_is(2, 1, "1", "2", NULL);
	next_is(3, 2, "3", "4", NULL);
	next_is(4, 3, "5", "6", NULL);
	at_end();
	at_end();
}

Test(csvin, skips_empty_lines_but_counts_them_as_spreadsheet_rows)
{
	OPEN("\r\n\nsku\r\nA\r\n\r\n\nB\n\n");
	cr_assert_str_eq(hdr.field[0], "sku");
	next_is(4, 1, "A", NULL);
	next_is(7, 4, "B", NULL);
	at_end();
}

Test(csvin, keeps_empty_trailing_columns)
{
	OPEN("sku;name;price;;\nA;;;;\n;;;;\nB;x;1;;");
	cr_assert_eq(hdr.n, 5);
	cr_assert_str_eq(hdr.field[3], "");
	next_is(2, 1, "A", "", "", "", "", NULL);
	next_is(3, 2, "", "", "", "", "", NULL);
	next_is(4, 3, "B", "x", "1", "", "", NULL);
	at_end();
}

Test(csvin, tells_a_row_of_empty_fields_from_one_with_a_value)
{
	OPEN("a;b;c\n;;\n;; \n\"\";;\nx\n");
	cr_assert_eq(fx_csvin_next(&c, &row, &e), 1);
	cr_assert(fx_csvin_row_blank(&row));
	cr_assert_eq(fx_csvin_next(&c, &row, &e), 1);
	cr_assert_not(fx_csvin_row_blank(&row), "a space is a value");
	cr_assert_eq(fx_csvin_next(&c, &row, &e), 1);
	cr_assert(fx_csvin_row_blank(&row), "an empty quoted field is empty");
	cr_assert_eq(fx_csvin_next(&c, &row, &e), 1);
	cr_assert_not(fx_csvin_row_blank(&row));
}

Test(csvin, keeps_the_header_while_rows_are_read)
{
	OPEN("sku,name\nAAAAAAAAAAAA,BBBBBBBBBBBBBBB\nCCCCCCCCCCCCCCC,DDDDDDDDDDDDD\n");
	next_is(2, 1, "AAAAAAAAAAAA", "BBBBBBBBBBBBBBB", NULL);
	next_is(3, 2, "CCCCCCCCCCCCCCC", "DDDDDDDDDDDDD", NULL);
	cr_assert_str_eq(hdr.field[0], "sku");
	cr_assert_str_eq(hdr.field[1], "name");
}

Test(csvin, returns_fields_exactly_as_written)
{
	OPEN("a,b,c\n  spaced  ,'=SUM(A1),\t\n");
	next_is(2, 1, "  spaced  ", "'=SUM(A1)", "\t", NULL);
}

/* ---- limits ---- */

Test(csvin, takes_64_fields_and_refuses_65_naming_the_line)
{
	char text[512];
	size_t n = 0;

	n += (size_t)snprintf(text + n, sizeof text - n, "h\n");
	for (int i = 0; i < 64; i++)
		n += (size_t)snprintf(text + n, sizeof text - n, "%s%d", i ? "," : "", i);
	n += (size_t)snprintf(text + n, sizeof text - n, "\n");
	for (int i = 0; i < 65; i++)
		n += (size_t)snprintf(text + n, sizeof text - n, "%s%d", i ? "," : "", i);
	cr_assert_lt(n, sizeof text);
	open_ok(text, n);
	cr_assert_eq(fx_csvin_next(&c, &row, &e), 1, "%s", e.message);
	cr_assert_eq(row.n, 64);
	cr_assert_str_eq(row.field[63], "63");
	next_refused();
	refusal("line 3", "more than 64 columns", NULL);
}

/* A CSV of a header and one row of one cell: prefix, count times unit, suffix. */
static char *one_cell(const char *prefix, const char *unit, size_t count, const char *suffix, size_t *len)
{
	size_t pl = strlen(prefix), ul = strlen(unit), sl = strlen(suffix);
	char *s = malloc(pl + ul * count + sl + 1), *o = s;

	cr_assert(s);
	memcpy(o, prefix, pl);
	o += pl;
	for (size_t i = 0; i < count; i++, o += ul)
		memcpy(o, unit, ul);
	memcpy(o, suffix, sl + 1);
	*len = pl + ul * count + sl;
	return s;
}

Test(csvin, counts_the_field_cap_in_bytes_not_characters)
{
	size_t n;
	char *s = one_cell("d\n", EMOJI, 2048, "\n", &n); /* 2048 characters, 8192 bytes */

	open_ok(s, n);
	cr_assert_eq(fx_csvin_next(&c, &row, &e), 1, "%s", e.message);
	cr_assert_eq(row.len[0], FX_CSVIN_MAX_FIELD_BYTES);
	fx_csvin_cleanup(&c);
	free(s);

	s = one_cell("d\n", EMOJI, 2049, "\n", &n); /* 2049 characters: 8196 bytes */
	open_ok(s, n);
	next_refused();
	refusal("line 2", "cell 1 is longer than 8192 bytes", NULL);
	fx_csvin_cleanup(&c);
	free(s);

	s = one_cell("d\n\"", EMOJI, 2048, "a\"\n", &n); /* quoted: 8193 bytes */
	open_ok(s, n);
	next_refused();
	refusal("line 2", "longer than 8192 bytes", NULL);
	free(s);
}

Test(csvin, counts_the_field_cap_after_unquoting)
{
	size_t n;
	char *s = one_cell("d\nx,\"", "\"\"", 8192, "\"\n", &n); /* 16,384 bytes written, 8192 read */

	open_ok(s, n);
	cr_assert_eq(fx_csvin_next(&c, &row, &e), 1, "%s", e.message);
	cr_assert_eq(row.n, 2);
	cr_assert_eq(row.len[1], 8192);
	cr_assert_eq(row.field[1][0], '"');
	cr_assert_eq(row.field[1][8191], '"');
	cr_assert_eq(row.field[1][8192], '\0');
	free(s);
}

Test(csvin, refuses_a_header_field_over_the_cap)
{
	size_t n;
	char *s = one_cell("", "h", 8193, "\nx\n", &n);

	open_refused(s, n);
	refusal("line 1", "longer than 8192 bytes", NULL);
	free(s);
}

Test(csvin, refuses_a_file_over_16_mib_and_takes_one_at_16_mib)
{
	size_t n = FX_CSVIN_MAX_BYTES;
	char *s = malloc(n + 1);

	cr_assert(s);
	memset(s, 'a', n + 1);
	memcpy(s, "h\n", 2);
	for (size_t i = 2 + 99; i < n; i += 100)
		s[i] = '\n';
	open_ok(s, n);
	fx_csvin_cleanup(&c);
	open_refused(s, n + 1);
	refusal("larger than 16 MiB", NULL);
	free(s);
}

/* ---- refusals: not a CSV ---- */

Test(csvin, refuses_an_empty_file)
{
	open_refused("", 0);
	refusal("the file is empty", NULL);
	OPEN_REFUSED("\xEF\xBB\xBF");
	refusal("empty", NULL);
	OPEN_REFUSED("\r\n\n\r\n");
	refusal("empty", NULL);
}

Test(csvin, refuses_utf16_with_a_bom)
{
	OPEN_REFUSED("\xFF\xFEs\0k\0u\0\r\0\n\0");
	refusal("line 1: ", "UTF-16", "CSV UTF-8", NULL);
	OPEN_REFUSED("\xFE\xFF\0s\0k\0u\0\r\0\n");
	refusal("line 1: ", "UTF-16", "CSV UTF-8", NULL);
}

Test(csvin, refuses_utf16_without_a_bom)
{
	OPEN_REFUSED("s\0k\0u\0,\0n\0a\0m\0e\0\r\0\n\0A\0,\0B\0");
	refusal("line 1: ", "UTF-16", "CSV UTF-8", NULL);
	OPEN_REFUSED("\0s\0k\0u\0,\0n\0a\0m\0e\0\r\0\n\0A\0,\0B");
	refusal("line 1: ", "UTF-16", "CSV UTF-8", NULL);
}

Test(csvin, refuses_utf32)
{
	OPEN_REFUSED("\xFF\xFE\0\0s\0\0\0");
	refusal("line 1: ", "UTF-32", NULL);
	OPEN_REFUSED("\0\0\xFE\xFF\0\0\0s");
	refusal("line 1: ", "UTF-32", NULL);
}

Test(csvin, refuses_a_zip_or_an_old_excel_workbook)
{
	OPEN_REFUSED("PK\x03\x04\x14\0\0\0\x08\0");
	refusal("line 1: ", "workbook or ZIP archive", "CSV UTF-8", NULL);
	OPEN_REFUSED("PK\x05\x06\0\0\0\0");
	refusal("line 1: ", "ZIP", NULL);
	OPEN_REFUSED("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\0\0");
	refusal("line 1: ", ".xls", NULL);
}

Test(csvin, refuses_binary_data)
{
	OPEN_REFUSED("\x1F\x8B\x08\0\0\0\0\0");
	refusal("line 1: ", "binary", NULL);
	OPEN_REFUSED("\x7F"
		     "ELF\x02\x01\x01");
	refusal("line 1: ", "binary", NULL);
	OPEN_REFUSED("sku,name\nA,B\nC,D\x1A\n");
	refusal("line 3", "binary", NULL);
	OPEN_REFUSED("sku,name\nA,B\0C\n");
	refusal("line 2", "NUL", NULL);
}

Test(csvin, refuses_invalid_utf8_naming_the_line)
{
	OPEN_REFUSED("sku,name\nA,cafe\nB,caf\xE9\n");
	refusal("line 3", "not UTF-8", "Windows-1252", "CSV UTF-8", NULL);
	OPEN_REFUSED("sku\n\"a\nb\"\n\xC0\xAF\n");
	refusal("line 4", "not UTF-8", NULL); /* overlong '/' */
	OPEN_REFUSED("sku\n\xED\xA0\x80\n");
	refusal("line 2", "not UTF-8", NULL); /* a surrogate */
	OPEN_REFUSED("sku\n\xF4\x90\x80\x80\n");
	refusal("line 2", "not UTF-8", NULL); /* past U+10FFFF */
	OPEN_REFUSED("sku\nx\xE2\x82");
	refusal("line 2", "not UTF-8", NULL); /* cut short by the end */
	OPEN_REFUSED("sku\n\xE2\x82x\n");
	refusal("line 2", "not UTF-8", NULL); /* cut short by ASCII */
	OPEN_REFUSED("\xEF\xBB\xBFsku\n\xF8\x88\x80\x80\x80\n");
	refusal("line 2", "not UTF-8", NULL); /* five bytes */
}

Test(csvin, takes_every_well_formed_utf8_boundary)
{
	OPEN("v\n\xC2\x80\xDF\xBF\xE0\xA0\x80\xED\x9F\xBF\xEE\x80\x80\xEF\xBF\xBF\xF0\x90\x80\x80\xF4\x8F\xBF\xBF\n");
	cr_assert_eq(fx_csvin_next(&c, &row, &e), 1, "%s", e.message);
	cr_assert_eq(row.len[0], 2 + 2 + 3 + 3 + 3 + 3 + 4 + 4);
}

/* ---- refusals: malformed CSV ---- */

Test(csvin, refuses_an_unterminated_quote_naming_the_line_it_opened_on)
{
	OPEN("sku,name\nA,B\nC,\"never\nclosed\n\nD,E\n");
	next_is(2, 1, "A", "B", NULL);
	next_refused();
	refusal("line 3", "quoted cell is never closed", NULL);
}

Test(csvin, refuses_an_unterminated_quote_in_the_header)
{
	OPEN_REFUSED("sku,\"name\nA,B\n");
	refusal("line 1", "never closed", NULL);
}

Test(csvin, refuses_text_after_a_closing_quote)
{
	OPEN("sku,name\n\"A\"x,B\n");
	next_refused();
	refusal("line 2", "text after the closing quote", "doubled", NULL);
}

Test(csvin, refuses_a_bare_carriage_return)
{
	OPEN_REFUSED("sku,name\rA,B\rC,D\r");
	refusal("line 1", "carriage return without a line feed", "CSV UTF-8", NULL);
}

Test(csvin, refuses_a_bare_carriage_return_ending_a_row)
{
	OPEN("sku,name\nA,B\rC,D\n");
	next_refused();
	refusal("line 2", "carriage return without a line feed", NULL);
}

/* ---- LibreOffice's own output (tests/data/imports/README.md) ---- */

#define NBSP "\xC2\xA0"

static const char *const columns[] = {"sku",  "name",	"description",	"category",	    "brand", "barcode", "price",
				      "cost", "status", "reorderPoint", "attributes.colour"};

static void header_is_the_import_columns(void)
{
	cr_assert_eq(hdr.n, 11);
	for (size_t i = 0; i < 11; i++)
		cr_assert_str_eq(hdr.field[i], columns[i]);
}

/* Cell i of the current row read as a price, in cents. */
static int64_t cents(size_t i)
{
	int64_t v = -1;

	fx_err_clear(&e);
	cr_assert_lt(i, row.n);
	cr_assert_eq(fx_price_parse(row.field[i], c.decimal_comma, columns[i], &v, &e), 0, "\"%s\": %s", row.field[i],
		     e.message);
	return v;
}

/* The rows both UTF-8 exports hold; only the price cell of the first differs by quoting. */
static void reads_the_workbook_rows(void)
{
	header_is_the_import_columns();
	next_is(2, 1, "CAF-001", "Caf\xC3\xA9 cr\xC3\xA8me", "Smooth, creamy; \"barista\" style", "Beverages",
		"Se\xC3\xB1or Bean", "6001234567899", "R 1" NBSP "499,00", "899.50", "active", "5", "cr\xC3\xA8me",
		NULL);
	cr_assert_eq(cents(6), 149900);
	cr_assert_eq(cents(7), 89950);
	next_is(3, 2, "MUS-002", "M\xC3\xBCsli, crunchy", "Line one\nLine two; with \"quotes\"", "Breakfast",
		"\xC3\x9C"
		"ber Foods",
		"036000291452", "R 149,99", "1234.00", "draft", "0", "golden", NULL);
	cr_assert_eq(cents(6), 14999);
	cr_assert_eq(cents(7), 123400);
	next_is(5, 3, "TEA-003", "\xE7\xB7\x91\xE8\x8C\xB6 Green tea \xF0\x9F\x8D\xB5", "=SUM(A1:A2)",
		"+27 21 555 0100", "@home", "6009876543219", "R1 499,00", "99,95", "active", "12", "-10% promo", NULL);
	cr_assert_eq(cents(6), 149900);
	cr_assert_eq(cents(7), 9995);
	next_is(6, 4, "EMP-004",
		"Pi\xC3\xB1"
		"ata",
		"", "", "", "", "R 12" NBSP "345,50", "", "", "", "", NULL);
	cr_assert_eq(cents(6), 1234550);
	at_end();
}

Test(csvin, reads_libreoffice_semicolon_utf8_export)
{
	size_t n;
	char *s = load("products-semicolon.csv", &n);

	open_ok(s, n);
	cr_assert_eq(c.delim, ';');
	cr_assert(c.decimal_comma);
	reads_the_workbook_rows();
	free(s);
}

Test(csvin, reads_libreoffice_comma_utf8_export)
{
	size_t n;
	char *s = load("products-comma.csv", &n);

	open_ok(s, n);
	cr_assert_eq(c.delim, ',');
	cr_assert_not(c.decimal_comma);
	reads_the_workbook_rows();
	free(s);
}

Test(csvin, refuses_libreoffice_default_export_which_is_not_utf8)
{
	size_t n;
	char *s = load("products-default.csv", &n);

	open_refused(s, n);
	refusal("line 2", "not UTF-8", "CSV UTF-8", NULL);
	free(s);
}

Test(csvin, refuses_libreoffice_utf16_export)
{
	size_t n;
	char *s = load("products-utf16.csv", &n);

	open_refused(s, n);
	refusal("line 1: ", "UTF-16", "CSV UTF-8", NULL);
	free(s);
}

Test(csvin, refuses_an_xlsx_workbook_renamed_csv)
{
	size_t n;
	char *s = load("products-xlsx.csv", &n);

	open_refused(s, n);
	refusal("line 1: ", "workbook", "not CSV", NULL);
	free(s);
}

Test(csvin, refuses_an_xls_workbook_renamed_csv)
{
	size_t n;
	char *s = load("products-xls.csv", &n);

	open_refused(s, n);
	refusal("line 1: ", ".xls", "not CSV", NULL);
	free(s);
}
