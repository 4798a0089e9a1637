#include "buf.h"
#include "csv.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

static struct fx_buf b;

static void setup(void)
{
	fx_buf_init(&b, 1024);
}

static void teardown(void)
{
	fx_buf_cleanup(&b);
}

TestSuite(csv, .init = setup, .fini = teardown);

Test(csv, joins_cells_with_commas_and_ends_rows_with_crlf)
{
	cr_assert_eq(fx_csv_text(&b, "sku"), 0);
	cr_assert_eq(fx_csv_text(&b, "name"), 0);
	cr_assert_eq(fx_csv_end_row(&b), 0);
	cr_assert_eq(fx_csv_text(&b, "A1"), 0);
	cr_assert_eq(fx_csv_int(&b, 3), 0);
	cr_assert_eq(fx_csv_end_row(&b), 0);
	cr_assert_str_eq(b.data, "sku,name\r\nA1,3\r\n");
}

Test(csv, keeps_empty_cells_in_their_place)
{
	cr_assert_eq(fx_csv_text(&b, ""), 0);
	cr_assert_eq(fx_csv_text(&b, NULL), 0);
	cr_assert_eq(fx_csv_text(&b, "x"), 0);
	cr_assert_eq(fx_csv_text(&b, ""), 0);
	cr_assert_eq(fx_csv_end_row(&b), 0);
	cr_assert_str_eq(b.data, ",,x,\r\n");
}

Test(csv, quotes_a_cell_holding_a_comma)
{
	cr_assert_eq(fx_csv_text(&b, "Smith, J"), 0);
	cr_assert_eq(fx_csv_end_row(&b), 0);
	cr_assert_str_eq(b.data, "\"Smith, J\"\r\n");
}

Test(csv, doubles_quotes_inside_a_quoted_cell)
{
	cr_assert_eq(fx_csv_text(&b, "The \"Big\" Shop"), 0);
	cr_assert_eq(fx_csv_text(&b, "\""), 0);
	cr_assert_eq(fx_csv_end_row(&b), 0);
	cr_assert_str_eq(b.data, "\"The \"\"Big\"\" Shop\",\"\"\"\"\r\n");
}

Test(csv, quotes_cells_holding_line_breaks)
{
	cr_assert_eq(fx_csv_text(&b, "line1\nline2"), 0);
	cr_assert_eq(fx_csv_text(&b, "a\rb"), 0);
	cr_assert_eq(fx_csv_end_row(&b), 0);
	cr_assert_str_eq(b.data, "\"line1\nline2\",\"a\rb\"\r\n");
}

Test(csv, leaves_plain_text_and_utf8_unquoted)
{
	cr_assert_eq(fx_csv_text(&b, "Pap & vleis: 2 × R49 — lekker"), 0);
	cr_assert_eq(fx_csv_end_row(&b), 0);
	cr_assert_str_eq(b.data, "Pap & vleis: 2 × R49 — lekker\r\n");
}

Test(csv, prefixes_formula_starts_with_a_single_quote)
{
	cr_assert_eq(fx_csv_text(&b, "=SUM(A1)"), 0);
	cr_assert_eq(fx_csv_text(&b, "+27 82 555 0101"), 0);
	cr_assert_eq(fx_csv_text(&b, "-2+3"), 0);
	cr_assert_eq(fx_csv_text(&b, "@cmd"), 0);
	cr_assert_eq(fx_csv_end_row(&b), 0);
	cr_assert_str_eq(b.data, "'=SUM(A1),'+27 82 555 0101,'-2+3,'@cmd\r\n");
}

Test(csv, prefixes_tab_and_cr_starts_and_still_quotes_the_cr)
{
	cr_assert_eq(fx_csv_text(&b, "\t=1"), 0);
	cr_assert_eq(fx_csv_text(&b, "\r=1"), 0);
	cr_assert_eq(fx_csv_end_row(&b), 0);
	cr_assert_str_eq(b.data, "'\t=1,\"'\r=1\"\r\n");
}

Test(csv, quotes_a_guarded_formula_that_holds_a_comma_or_quote)
{
	cr_assert_eq(fx_csv_text(&b, "=HYPERLINK(\"http://x\",\"y\")"), 0);
	cr_assert_eq(fx_csv_end_row(&b), 0);
	cr_assert_str_eq(b.data, "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"\r\n");
}

Test(csv, does_not_guard_a_formula_character_after_the_start)
{
	cr_assert_eq(fx_csv_text(&b, "A=B"), 0);
	cr_assert_eq(fx_csv_text(&b, " =1"), 0);
	cr_assert_eq(fx_csv_end_row(&b), 0);
	cr_assert_str_eq(b.data, "A=B, =1\r\n");
}

Test(csv, writes_cents_as_rand_with_two_decimals)
{
	cr_assert_eq(fx_csv_cents(&b, 123450), 0);
	cr_assert_eq(fx_csv_cents(&b, 5), 0);
	cr_assert_eq(fx_csv_cents(&b, 0), 0);
	cr_assert_eq(fx_csv_cents(&b, 100), 0);
	cr_assert_eq(fx_csv_end_row(&b), 0);
	cr_assert_str_eq(b.data, "1234.50,0.05,0.00,1.00\r\n");
}

Test(csv, keeps_the_minus_sign_of_negative_amounts)
{
	cr_assert_eq(fx_csv_cents(&b, -5), 0);
	cr_assert_eq(fx_csv_cents(&b, -123450), 0);
	cr_assert_eq(fx_csv_int(&b, -7), 0);
	cr_assert_eq(fx_csv_end_row(&b), 0);
	cr_assert_str_eq(b.data, "-0.05,-1234.50,-7\r\n", "numbers are not text: no ' prefix");
}

Test(csv, formats_the_int64_extremes)
{
	cr_assert_eq(fx_csv_cents(&b, INT64_MIN), 0);
	cr_assert_eq(fx_csv_cents(&b, INT64_MAX), 0);
	cr_assert_eq(fx_csv_int(&b, INT64_MIN), 0);
	cr_assert_eq(fx_csv_end_row(&b), 0);
	cr_assert_str_eq(b.data, "-92233720368547758.08,92233720368547758.07,-9223372036854775808\r\n");
}

Test(csv, an_empty_row_is_a_bare_crlf)
{
	cr_assert_eq(fx_csv_end_row(&b), 0);
	cr_assert_str_eq(b.data, "\r\n");
}

Test(csv, refuses_a_cell_past_the_cap_and_leaves_the_buffer_unchanged)
{
	struct fx_buf small;

	fx_buf_init(&small, 12);
	cr_assert_eq(fx_csv_text(&small, "abc"), 0);
	cr_assert_eq(fx_csv_text(&small, "de\"fghi"), -1, "quoted and doubled it needs 11 more bytes");
	cr_assert_str_eq(small.data, "abc,");
	cr_assert_eq(small.len, 4);
	cr_assert_eq(fx_csv_cents(&small, 123456789), -1);
	cr_assert_eq(small.len, 4);
	cr_assert_eq(fx_csv_end_row(&small), 0);
	cr_assert_str_eq(small.data, "abc\r\n");
	fx_buf_cleanup(&small);
}

Test(csv, refuses_a_row_end_past_the_cap_and_keeps_the_row_open)
{
	struct fx_buf small;

	fx_buf_init(&small, 4);
	cr_assert_eq(fx_csv_text(&small, "abc"), 0);
	cr_assert_eq(fx_csv_text(&small, "d"), -1);
	cr_assert_eq(fx_csv_end_row(&small), -1, "abc CRLF needs 5 bytes");
	cr_assert_str_eq(small.data, "abc,", "the refused row end leaves the separator");
	cr_assert_eq(small.len, 4);
	fx_buf_cleanup(&small);
}

Test(csv, fills_the_buffer_exactly_to_its_cap)
{
	struct fx_buf small;

	fx_buf_init(&small, 5);
	cr_assert_eq(fx_csv_text(&small, "abc"), 0);
	cr_assert_eq(fx_csv_end_row(&small), 0);
	cr_assert_str_eq(small.data, "abc\r\n");
	fx_buf_cleanup(&small);
}

Test(csv, guards_text_that_already_starts_with_quotes_before_a_formula)
{
	/* An importer removes one leading quote before a formula start: "'=x" must come back "'=x". */
	cr_assert_eq(fx_csv_text(&b, "'=x"), 0);
	cr_assert_eq(fx_csv_text(&b, "''+1"), 0);
	cr_assert_eq(fx_csv_text(&b, "'plain"), 0);
	cr_assert_eq(fx_csv_text(&b, "'"), 0);
	cr_assert_eq(fx_csv_end_row(&b), 0);
	cr_assert_str_eq(b.data, "''=x,'''+1,'plain,'\r\n");
}
