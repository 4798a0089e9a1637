/*
 * fx_csvin: a CSV reader for files merchants export from spreadsheets
 * (Excel, LibreOffice, Google Sheets), the counterpart of lib/csv's writer.
 * Ownership: the input bytes are borrowed (they must outlive the reader);
 * the reader owns the memory the rows point into; a row's fields stay valid
 * until the next fx_csvin_next, the header's until fx_csvin_cleanup.
 *
 * The dialect read (every refusal is 400 INVALID_ARGUMENT, detail field
 * "file", a message "line N: <reason>" naming the physical line and saying
 * what to do; only an empty file and one over the size cap name no line;
 * recognisably foreign files, by their first bytes, are refused on line 1):
 *
 * - Encoding: UTF-8 only, with or without a BOM (EF BB BF, skipped). The
 *   whole file is checked when it is opened, so a bad byte late in the file
 *   is refused before any row is used: a UTF-16/UTF-32 BOM, or NUL bytes
 *   (UTF-16 without a BOM), is "UTF-16 text: save as CSV UTF-8"; a ZIP
 *   signature (XLSX, ODS, a zip renamed .csv) or an OLE2 one (old .xls) is
 *   "a spreadsheet workbook, not CSV"; bytes that are not UTF-8 (overlong
 *   forms, surrogates and code points past U+10FFFF included) name the line
 *   and suggest Windows-1252; other control bytes (anything below 0x20 but
 *   TAB, LF and CR, and DEL) are "binary data". An empty file (or only a
 *   BOM and empty lines) is refused, and so is one over FX_CSVIN_MAX_BYTES.
 * - Delimiter: ';' when the header line holds more ';' than ',' outside
 *   quotes, else ','; then decimal_comma is true (South African Excel
 *   writes ';' and decimal commas). TAB is never a delimiter.
 * - Rows end at LF or CRLF outside quotes (the last row needs no line end).
 *   A CR not followed by LF outside quotes is refused (old Mac line ends).
 *   A completely empty line is skipped, but still counted in row, so that
 *   row + 1 is the row number a spreadsheet shows (header = 1). A line of
 *   delimiters only (";;;") is a row of empty fields.
 * - A field is quoted when its first byte is '"': inside, '""' is one '"',
 *   and delimiters, CR and LF are data. After the closing quote only the
 *   delimiter or the row's end may follow ("text after a closing quote").
 *   End of file inside quotes is "a quoted cell is never closed", naming
 *   the line where that cell started. A '"' inside an unquoted field is
 *   kept as data (5" screen), as spreadsheets read it.
 * - Fields are returned exactly (no trimming, no unescaping of a leading
 *   "'": that is the importer's business). Empty trailing fields are kept
 *   (n counts them); rows may have fewer or more fields than the header.
 * - Limits, in bytes: more than FX_CSVIN_MAX_FIELDS fields in a row, or a
 *   field longer than FX_CSVIN_MAX_FIELD_BYTES after unquoting, is refused.
 */
#ifndef FX_CSVIN_H
#define FX_CSVIN_H

#include "err.h"
#include "price.h" /* fx_price_parse reads the money cells of the rows read here */

#include <stdbool.h>
#include <stddef.h>

enum { FX_CSVIN_MAX_FIELDS = 64 }; /* columns per row */
#define FX_CSVIN_MAX_BYTES (16u << 20) /* a whole import file */
#define FX_CSVIN_MAX_FIELD_BYTES 8192u /* one cell, after unquoting */

struct fx_csvin { /* opaque in spirit: use the functions */
	const char *p, *end; /* remaining input (borrowed) */
	char delim; /* ',' or ';', detected from the header row */
	bool decimal_comma; /* true when delim is ';' (South African Excel) */
	long line; /* physical line where the current row started (1-based) */
	long row; /* data row number (1 = first row after the header; empty lines count) */
	char *cells; /* owned scratch for the current row */
	size_t cells_cap;
	char *head; /* owned copy of the header's fields */
	long next_line; /* physical line at p */
};

struct fx_csvin_row {
	size_t n; /* number of fields */
	const char *field[FX_CSVIN_MAX_FIELDS]; /* NUL-terminated, valid until the next fx_csvin_next */
	size_t len[FX_CSVIN_MAX_FIELDS]; /* bytes */
};

/*
 * Opens a reader over data[0..len) (borrowed; must outlive the reader): refuses with 400
 * INVALID_ARGUMENT and a reason a merchant understands when the bytes are not a UTF-8 CSV:
 * over FX_CSVIN_MAX_BYTES, empty, a UTF-16/32 BOM or NUL bytes ("UTF-16: save as CSV UTF-8"),
 * a ZIP/XLSX signature ("an Excel workbook: save as CSV"), invalid UTF-8 (with the line),
 * other binary. Skips a UTF-8 BOM. Detects the delimiter from the header line (';' when it has
 * more ';' than ',' outside quotes, else ','). Then reads the header row into *header (its
 * fields stay valid until fx_csvin_cleanup). On failure *c needs no cleanup (calling
 * fx_csvin_cleanup is harmless).
 */
FX_MUST_USE int fx_csvin_open(struct fx_csvin *c, const char *data, size_t len, struct fx_csvin_row *header,
			      struct fx_err *e);

/*
 * The next data row into *row: 1 read, 0 at the end, -1 with 400 and the line on malformed
 * input (unterminated quote, text after a closing quote, more than FX_CSVIN_MAX_FIELDS fields,
 * a field over FX_CSVIN_MAX_FIELD_BYTES, a bare CR). Handles quoted fields with embedded
 * delimiters, doubled quotes, CR, LF and CRLF inside quotes; rows end at LF or CRLF; a completely
 * empty line is skipped; empty trailing fields are kept as empty strings (n counts them).
 * c->line and c->row describe the row just read (or refused). After -1 the reader stays at the
 * end: further calls return 0.
 */
FX_MUST_USE int fx_csvin_next(struct fx_csvin *c, struct fx_csvin_row *row, struct fx_err *e);

/*
 * Whether every field of row is empty (";;;;"): what spreadsheets write for a
 * row that looks blank (cleared cells, formatting only). The reader returns
 * such rows, as their number counts; an importer may skip them rather than
 * refuse a row without a SKU.
 */
bool fx_csvin_row_blank(const struct fx_csvin_row *row);

/* Frees what the reader owns; accepts a reader that was never opened if it was zeroed. */
void fx_csvin_cleanup(struct fx_csvin *c);

#endif
