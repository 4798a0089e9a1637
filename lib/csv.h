/*
 * fx_csv: an RFC 4180 CSV writer that appends to a caller-owned fx_buf.
 * A row is a sequence of fx_csv_* cell calls closed by fx_csv_end_row.
 * Cells are separated by ',', rows end with CRLF, and a cell is quoted
 * (embedded quotes doubled) when it holds ',', '"', CR or LF.
 *
 * Text cells are made safe to open in a spreadsheet (OWASP "CSV
 * Injection"): a text cell starting with '=', '+', '-', '@', TAB or CR is
 * prefixed with a single quote, so "=SUM(A1)" is written '=SUM(A1) and
 * shown as text. So is one that starts with single quotes before such a
 * character ("'=x" is written ''=x), so that an importer removing one
 * leading quote before a formula start (lib/importer) reads the text back. Numbers written with fx_csv_int and fx_csv_cents are not
 * text and keep their minus sign.
 *
 * Every call either appends its whole cell (or row end) or, when the
 * buffer's cap would be exceeded, returns -1 and leaves the buffer as it
 * was: a report is refused, never truncated. The buffer must hold only
 * what these calls wrote (a row's cells are joined by its end).
 */
#ifndef FX_CSV_H
#define FX_CSV_H

#include "err.h"

#include "buf.h"

#include <stdint.h>

/* Appends text cell s (NULL is an empty cell), escaped as above. 0, or -1 at the cap. */
FX_MUST_USE int fx_csv_text(struct fx_buf *b, const char *s);

/* Appends an integer cell ("-12"). 0, or -1 at the cap. */
FX_MUST_USE int fx_csv_int(struct fx_buf *b, int64_t n);

/* Appends cents as rand with two decimals: 123450 -> "1234.50", -5 -> "-0.05". 0, or -1 at the cap. */
FX_MUST_USE int fx_csv_cents(struct fx_buf *b, int64_t cents);

/* Ends the current row with CRLF (a row without cells is an empty line). 0, or -1 at the cap. */
FX_MUST_USE int fx_csv_end_row(struct fx_buf *b);

#endif
