/*
 * lib/files.c: what may reach a response header or an object path (media
 * types against RFC 9110's grammar and the allowlist, base names,
 * Content-Disposition for any stored name) and the sniff of a file's
 * first bytes, whole or a prefix.
 */
#include "files.h"

#include "buf.h"
#include "err.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static struct fx_err err;

static void setup(void)
{
	fx_err_clear(&err);
}

TestSuite(file_type, .init = setup);
TestSuite(file_sniff, .init = setup);
TestSuite(file_name, .init = setup);
TestSuite(file_disposition, .init = setup);

static const char *accepted(const char *ctype)
{
	const char *canon = NULL;

	fx_err_clear(&err);
	cr_assert_eq(fx_file_check_type(ctype, "contentType", 400, &canon, &err), 0, "%s refused: %s", ctype,
		     err.ndetails ? err.details[0].reason : err.message);
	return canon;
}

static void refused(const char *ctype, int unlisted, int code)
{
	const char *canon = "untouched";

	fx_err_clear(&err);
	cr_assert_eq(fx_file_check_type(ctype, "Content-Type", unlisted, &canon, &err), -1, "%s accepted", ctype);
	cr_assert_eq(fx_err_http(err.kind), code, "%s: %d %s", ctype, fx_err_http(err.kind), err.message);
	cr_assert_str_eq(canon, "untouched");
	if (code == 400) {
		cr_assert_geq(err.ndetails, 1);
		cr_assert_str_eq(err.details[0].field, "Content-Type");
	}
}

Test(file_type, answers_the_allowlist_entry_itself_in_lower_case)
{
	for (size_t i = 0; fx_file_types[i]; i++)
		cr_assert_eq(accepted(fx_file_types[i]), fx_file_types[i]);
	cr_assert_eq(accepted("IMAGE/PNG"), fx_file_types[1]);
	cr_assert_str_eq(accepted("Text/CSV"), "text/csv");
	cr_assert_str_eq(accepted(" text/csv\t"), "text/csv");
}

Test(file_type, takes_charset_utf8_on_csv_only_and_drops_it)
{
	cr_assert_str_eq(accepted("text/csv; charset=utf-8"), "text/csv");
	cr_assert_str_eq(accepted("text/csv;charset=UTF-8"), "text/csv");
	cr_assert_str_eq(accepted("text/csv ; Charset=\"utf-8\""), "text/csv");
	cr_assert_str_eq(accepted("text/csv; charset=\"utf\\-8\""), "text/csv", "a quoted-pair is unescaped");
	cr_assert_str_eq(accepted("text/csv;"), "text/csv", "an empty parameter is allowed by the grammar");
	refused("text/csv; charset=latin1", 415, 400);
	refused("text/csv; header=present", 415, 400);
	refused("image/png; charset=utf-8", 415, 400);
	refused("application/pdf; x=y", 415, 400);
}

Test(file_type, refuses_what_is_not_type_slash_subtype_naming_the_field)
{
	refused(NULL, 415, 400);
	refused("", 415, 400);
	refused("text", 415, 400);
	refused("text/", 415, 400);
	refused("/csv", 415, 400);
	refused("text /csv", 415, 400);
	refused("text/ csv", 415, 400);
	refused("text/csv x", 415, 400);
	refused("text/csv; charset", 415, 400);
	refused("text/csv; charset=", 415, 400);
	refused("text/csv; charset=\"utf-8", 415, 400);
	refused("text/csv; =utf-8", 415, 400);
	refused("text/csv, image/png", 415, 400);
}

Test(file_type, refuses_line_breaks_controls_and_non_ascii)
{
	refused("text/csv\r\nX-Injected: 1", 415, 400);
	refused("text/csv;\r\nX-Injected: 1", 415, 400);
	refused("text/csv\n", 415, 400);
	refused("text/csv; charset=\xc3\xa9", 415, 400);
	refused("text/csv; charset=\"\xc3\xa9\"", 415, 400);
	refused("text/c\x7fsv", 415, 400);
	refused("t\xc3\xa9xt/csv", 415, 400);
}

Test(file_type, refuses_more_than_127_bytes_even_when_well_formed)
{
	char ct[FX_FILE_TYPE_MAX + 2];
	size_t o = (size_t)snprintf(ct, sizeof(ct), "text/csv; p=");

	memset(ct + o, 'x', sizeof(ct) - 1 - o);
	ct[sizeof(ct) - 1] = '\0';
	refused(ct, 415, 400);
	ct[FX_FILE_TYPE_MAX] = '\0';
	/* 127 bytes parse; the parameter is then refused as a parameter, not as a length. */
	refused(ct, 415, 400);
	cr_assert_str_eq(err.details[0].reason, "takes no parameter but charset=utf-8 (on text/csv)");
}

Test(file_type, a_well_formed_type_off_the_list_is_the_callers_unlisted_code)
{
	refused("text/html", 415, 415);
	cr_assert_str_eq(fx_err_name(err.kind), "INVALID_ARGUMENT");
	refused("text/html; charset=utf-8", 415, 415);
	refused("text/html", 400, 400);
	refused("image/svg+xml", 400, 400);
	refused("application/octet-stream", 415, 415);
}

/* ---- sniffing ---- */

static int sniff(const char *ctype, const char *p, size_t n, bool prefix)
{
	fx_err_clear(&err);
	return fx_file_sniff(ctype, (const unsigned char *)p, n, prefix, &err);
}

Test(file_sniff, a_csv_prefix_may_end_inside_a_character)
{
	/* The first 16 bytes of files whose 16th byte starts or continues a character. */
	cr_assert_eq(sniff("text/csv", "sku,name\nA1,Caf\xc3", 16, true), 0, "é cut after its first byte");
	cr_assert_eq(sniff("text/csv", "sku,name\nA1,C\xe2\x82", 15, true), 0, "€ cut after two bytes");
	cr_assert_eq(sniff("text/csv", "sku,name\nA1,Ca\xe2", 15, true), 0, "€ cut after one byte");
	cr_assert_eq(sniff("text/csv", "sku,name\nA1,Ca\xf0\x9f", 16, true), 0, "an emoji cut after two bytes");
	cr_assert_eq(sniff("text/csv", "sku,name\nA1,C\xf0\x9f\x98", 16, true), 0, "an emoji cut after three bytes");
	cr_assert_eq(sniff("text/csv", "\xf4\x8f", 2, true), 0, "U+10FFFF's start");
	cr_assert_eq(sniff("text/csv", "", 0, true), 0);
}

Test(file_sniff, a_whole_csv_may_not_end_inside_a_character)
{
	cr_assert_eq(sniff("text/csv", "sku,name\nA1,Caf\xc3", 16, false), -1);
	cr_assert_eq(fx_err_http(err.kind), 400);
	cr_assert_eq(sniff("text/csv", "a\xf0\x9f\x98", 4, false), -1);
	cr_assert_eq(sniff("text/csv", "sku,name\nA1,Caf\xc3\xa9", 17, false), 0);
}

Test(file_sniff, a_csv_prefix_still_refuses_invalid_bytes)
{
	cr_assert_eq(sniff("text/csv", "sku,name\nA1,\xff\xfe", 14, true), -1, "bytes that start nothing");
	cr_assert_eq(sniff("text/csv", "sku,name\nA1,Caf\xff", 16, true), -1, "an invalid last byte");
	cr_assert_eq(sniff("text/csv", "sku,name\nA1,Caf\xc0", 16, true), -1, "an overlong lead");
	cr_assert_eq(sniff("text/csv", "sku,name\nA1,Ca\xc1", 15, true), -1, "an overlong lead");
	cr_assert_eq(sniff("text/csv", "sku,name\nA1,Ca\xe0\x80", 16, true), -1, "an overlong 3-byte start");
	cr_assert_eq(sniff("text/csv", "sku,name\nA1,Ca\xed\xa0", 16, true), -1, "a surrogate's start");
	cr_assert_eq(sniff("text/csv", "sku,name\nA1,Ca\xf0\x80", 16, true), -1, "an overlong 4-byte start");
	cr_assert_eq(sniff("text/csv", "sku,name\nA1,Ca\xf4\x90", 16, true), -1, "past U+10FFFF");
	cr_assert_eq(sniff("text/csv", "sku,name\nA1,Ca\xf5", 15, true), -1, "no such lead byte");
	cr_assert_eq(sniff("text/csv", "sku,name\nA1,C\xe2\x41", 15, true), -1, "a lead then ASCII");
	cr_assert_eq(sniff("text/csv", "sku,name\nA1,C\xe2\x82\x41", 16, true), -1, "two bytes then ASCII");
	cr_assert_eq(sniff("text/csv", "sku,name\nA1,Caf\x80", 16, true), -1, "a lone continuation byte");
	cr_assert_eq(sniff("text/csv", "sku,name\nA1\x80\x80\x80\x80", 15, true), -1, "continuation bytes only");
	cr_assert_eq(sniff("text/csv", "sku\0name", 8, true), -1, "NUL");
	cr_assert_eq(sniff("text/csv", "\xc3\xa9\xc3", 3, true), 0);
	cr_assert_eq(sniff("text/csv", "\xa9\xc3\xc3", 3, true), -1, "an invalid byte before the cut");
}

Test(file_sniff, magic_numbers_are_unchanged_by_prefix)
{
	cr_assert_eq(sniff("image/png", "\x89PNG\r\n\x1a\n", 8, true), 0);
	cr_assert_eq(sniff("image/png", "\x89PNG\r\n\x1a", 7, true), -1);
	cr_assert_eq(sniff("image/jpeg", "\xff\xd8\xff", 3, false), 0);
	cr_assert_eq(sniff("application/pdf", "%PDF-1.7", 8, true), 0);
	cr_assert_eq(sniff("image/webp", "RIFF\0\0\0\0WEBP", 12, true), 0);
	cr_assert_eq(sniff(fx_file_types[5], "PK\x03\x04", 4, true), 0);
	cr_assert_eq(sniff(fx_file_types[5], "PK\x05\x06", 4, true), -1);
}

/* ---- base names ---- */

static const char *base_of(const char *name)
{
	const char *base = NULL;

	fx_err_clear(&err);
	cr_assert_eq(fx_file_base_name(name, "X-File-Name", &base, &err), 0, "%s refused: %s", name,
		     err.ndetails ? err.details[0].reason : err.message);
	return base;
}

static void no_base(const char *name)
{
	const char *base = NULL;

	fx_err_clear(&err);
	cr_assert_eq(fx_file_base_name(name, "X-File-Name", &base, &err), -1, "%s accepted as %s", name,
		     base ? base : "?");
	cr_assert_eq(fx_err_http(err.kind), 400);
	cr_assert_str_eq(err.details[0].field, "X-File-Name");
}

Test(file_name, keeps_what_a_browser_would_send)
{
	cr_assert_str_eq(base_of("../../etc/passwd"), "passwd");
	cr_assert_str_eq(base_of("..\\..\\etc\\passwd"), "passwd");
	cr_assert_str_eq(base_of("/etc/passwd"), "passwd");
	cr_assert_str_eq(base_of("C:\\x\\y.png"), "y.png");
	cr_assert_str_eq(base_of("a/../b.csv"), "b.csv");
	cr_assert_str_eq(base_of("a\\b/c.csv"), "c.csv");
	cr_assert_str_eq(base_of("Pr\xc3\xafs lys.xlsx"), "Pr\xc3\xafs lys.xlsx");
	cr_assert_str_eq(base_of(".profile"), ".profile");
	cr_assert_str_eq(base_of("a..b.csv"), "a..b.csv", "'..' inside a name is no path segment");
	cr_assert_str_eq(base_of("C:y.png"), "C:y.png");
}

Test(file_name, refuses_a_name_that_names_no_file)
{
	no_base(NULL);
	no_base("");
	no_base(".");
	no_base("..");
	no_base("...");
	no_base("a/..");
	no_base("dir/");
	no_base("../");
	no_base("C:\\x\\");
	no_base("..\\..");
}

Test(file_name, refuses_control_characters_invalid_utf8_and_256_bytes)
{
	char longer[FX_FILE_NAME_MAX + 2];

	no_base("a\r\nb.csv");
	no_base("a\tb.csv");
	no_base("a\x7f.csv");
	no_base("caf\xc3.csv");
	memset(longer, 'n', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	no_base(longer);
	longer[FX_FILE_NAME_MAX] = '\0';
	cr_assert_eq(strlen(base_of(longer)), FX_FILE_NAME_MAX);
}

/* ---- Content-Disposition ---- */

static const char *disposition(const char *name)
{
	static struct fx_buf out;

	fx_buf_cleanup(&out);
	fx_buf_init(&out, FX_FILE_DISPOSITION_MAX);
	cr_assert_eq(fx_file_disposition(name, &out), 0, "no room for %s", name ? name : "(null)");
	return out.data;
}

Test(file_disposition, an_ascii_fallback_and_the_exact_name_percent_encoded)
{
	cr_assert_str_eq(disposition("report.csv"), "attachment; filename=\"report.csv\"; filename*=UTF-8''report.csv");
	cr_assert_str_eq(disposition("Pr\xc3\xafs lys 2026.xlsx"),
			 "attachment; filename=\"Pr_s lys 2026.xlsx\"; filename*=UTF-8''Pr%C3%AFs%20lys%202026.xlsx");
	cr_assert_str_eq(disposition("\xf0\x9f\x98\x80.png"),
			 "attachment; filename=\"_.png\"; filename*=UTF-8''%F0%9F%98%80.png", "one '_' per character");
}

Test(file_disposition, quotes_backslashes_and_separators_never_reach_the_quoted_form)
{
	cr_assert_str_eq(
		disposition("a \"b\"; c=d%20.csv"),
		"attachment; filename=\"a _b__ c_d_20.csv\"; filename*=UTF-8''a%20%22b%22%3B%20c%3Dd%2520.csv");
	cr_assert_str_eq(disposition("x:y*z?<>|.csv"),
			 "attachment; filename=\"x_y_z____.csv\"; filename*=UTF-8''x%3Ay%2Az%3F%3C%3E%7C.csv");
}

Test(file_disposition, a_stored_path_or_line_break_is_made_safe)
{
	cr_assert_str_eq(disposition("../../etc/passwd"), "attachment; filename=\"passwd\"; filename*=UTF-8''passwd");
	cr_assert_str_eq(disposition("..\\..\\win.ini"), "attachment; filename=\"win.ini\"; filename*=UTF-8''win.ini");
	cr_assert_str_eq(disposition("a\r\nSet-Cookie: x=1"),
			 "attachment; filename=\"a__Set-Cookie_ x_1\"; filename*=UTF-8''a__Set-Cookie%3A%20x%3D1");
	cr_assert_str_eq(disposition("../.."), "attachment; filename=\"file\"; filename*=UTF-8''file");
	cr_assert_str_eq(disposition(""), "attachment; filename=\"file\"; filename*=UTF-8''file");
	cr_assert_str_eq(disposition(NULL), "attachment; filename=\"file\"; filename*=UTF-8''file");
	cr_assert_str_eq(disposition("caf\xc3.csv"), "attachment; filename=\"caf_.csv\"", "not UTF-8: no filename*");
}

Test(file_disposition, a_stored_name_of_any_length_is_cut_at_a_character)
{
	char longer[1200];
	const char *d;
	size_t o = 0;

	while (o + 2 < sizeof(longer)) {
		memcpy(longer + o, "\xc3\xa9", 2);
		o += 2;
	}
	longer[o] = '\0';
	d = disposition(longer);
	/* 255 bytes cut to 254: 127 characters, each one '_' and 6 encoded bytes. */
	cr_assert_eq(strlen(d), strlen("attachment; filename=\"\"; filename*=UTF-8''") + 127 + 127 * 6, "%s", d);
	cr_assert_lt(strlen(d), FX_FILE_DISPOSITION_MAX);
}

Test(file_disposition, fails_cleanly_when_the_buffer_is_too_small)
{
	struct fx_buf small;

	fx_buf_init(&small, 32);
	cr_assert_eq(fx_file_disposition("a-long-enough-name.csv", &small), -1);
	fx_buf_cleanup(&small);
}
