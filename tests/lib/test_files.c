/*
 * lib/files.c: what may reach a response header or an object path (media
 * types against RFC 9110's grammar and the allowlist, base names,
 * Content-Disposition for any stored name), the sniff of a file's
 * first bytes, whole or a prefix, and the fields of a new file's document.
 */
#include "files.h"

#include "authz.h"
#include "buf.h"
#include "err.h"
#include "http.h"
#include "map.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static struct fx_err err;

static void setup(void)
{
	fx_err_clear(&err);
}

TestSuite(file_type, .init = setup);
TestSuite(file_sniff, .init = setup);
TestSuite(file_name, .init = setup);
TestSuite(file_disposition, .init = setup);
TestSuite(file_record, .init = setup);

static const char *accepted(const char *ctype)
{
	const char *canon = NULL;

	fx_err_clear(&err);
	cr_assert_eq(fx_files_check_type(ctype, "contentType", 400, &canon, &err), 0, "%s refused: %s", ctype,
		     err.ndetails ? err.details[0].reason : err.message);
	return canon;
}

static void refused(const char *ctype, int unlisted, int code)
{
	const char *canon = "untouched";

	fx_err_clear(&err);
	cr_assert_eq(fx_files_check_type(ctype, "Content-Type", unlisted, &canon, &err), -1, "%s accepted", ctype);
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
	return fx_files_sniff(ctype, (const unsigned char *)p, n, prefix, &err);
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
	cr_assert_eq(fx_files_base_name(name, "X-File-Name", &base, &err), 0, "%s refused: %s", name,
		     err.ndetails ? err.details[0].reason : err.message);
	return base;
}

static void no_base(const char *name)
{
	const char *base = NULL;

	fx_err_clear(&err);
	cr_assert_eq(fx_files_base_name(name, "X-File-Name", &base, &err), -1, "%s accepted as %s", name,
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
	cr_assert_eq(fx_files_disposition(name, &out), 0, "no room for %s", name ? name : "(null)");
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
	cr_assert_eq(fx_files_disposition("a-long-enough-name.csv", &small), -1);
	fx_buf_cleanup(&small);
}

/* ---- the document of a new file ---- */

#define HASH_A "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define HASH_B "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"

/* fx_files_record for m, made by uid "u-1" of organization "org-1", into *fields (the caller cleans it up). */
static void record(const struct fx_file_meta *m, struct fx_value *fields)
{
	struct fx_principal p = {.uid = "u-1", .organization_id = "org-1", .role = FX_ROLE_STAFF};
	struct fx_req r;

	memset(&r, 0, sizeof(r));
	r.principal = &p;
	memset(fields, 0, sizeof(*fields));
	fx_value_map(fields);
	fx_files_record(&r, m, fields);
}

static const char *str_field(const struct fx_value *fields, const char *name)
{
	const struct fx_value *v = fx_map_get(fields, name);

	cr_assert(v && v->type == FX_V_STRING, "%s is a string field", name);
	return v->u.s.p;
}

Test(file_record, of_a_direct_upload_holds_what_it_stored_and_no_declared_hash)
{
	struct fx_value f;
	const struct fx_value *size;

	record(&(struct fx_file_meta){.kind = "product_image",
				      .name = "shirt front.png",
				      .content_type = "image/png",
				      .size = 1234,
				      .sha256 = HASH_A,
				      .product_id = "p-7",
				      .object = "orgs/org-1/product_image/f1/shirt_front.png"},
	       &f);
	cr_assert_str_eq(str_field(&f, "kind"), "product_image");
	cr_assert_str_eq(str_field(&f, "name"), "shirt front.png");
	cr_assert_str_eq(str_field(&f, "contentType"), "image/png");
	size = fx_map_get(&f, "size");
	cr_assert(size && size->type == FX_V_INT && size->u.i == 1234);
	cr_assert_str_eq(str_field(&f, "sha256"), HASH_A);
	cr_assert_str_eq(str_field(&f, "productId"), "p-7");
	cr_assert_str_eq(str_field(&f, "object"), "orgs/org-1/product_image/f1/shirt_front.png");
	cr_assert_null(fx_map_get(&f, "declaredSha256"), "nothing was declared");
	fx_value_cleanup(&f);
}

Test(file_record, of_a_signed_upload_holds_the_declared_hash_and_no_product_unless_given)
{
	struct fx_value f;

	record(&(struct fx_file_meta){.kind = "document",
				      .name = "invoice.pdf",
				      .content_type = "application/pdf",
				      .size = 99,
				      .declared_sha256 = HASH_B,
				      .object = "orgs/org-1/document/f2/invoice.pdf"},
	       &f);
	cr_assert_str_eq(str_field(&f, "declaredSha256"), HASH_B);
	cr_assert_null(fx_map_get(&f, "sha256"), "the bytes are not in hand yet");
	cr_assert_null(fx_map_get(&f, "productId"));
	cr_assert_str_eq(str_field(&f, "kind"), "document");
	fx_value_cleanup(&f);
}

Test(file_record, is_pending_made_by_the_caller_in_its_organization_now)
{
	static const char *const names[] = {"kind",   "name",	   "contentType",    "size",	  "status",
					    "object", "createdBy", "organizationId", "createdAt", "updatedAt"};
	struct fx_value f;
	struct timespec now;
	int64_t before, after;

	/* CLOCK_REALTIME as the stamp is: time() reads a coarser clock that can lag it by a tick. */
	clock_gettime(CLOCK_REALTIME, &now);
	before = (int64_t)now.tv_sec;

	record(&(struct fx_file_meta){.kind = "upload",
				      .name = "a.csv",
				      .content_type = "text/csv",
				      .size = 1,
				      .object = "orgs/org-1/upload/f3/a.csv"},
	       &f);
	clock_gettime(CLOCK_REALTIME, &now);
	after = (int64_t)now.tv_sec;
	cr_assert_str_eq(str_field(&f, "status"), "pending");
	cr_assert_str_eq(str_field(&f, "createdBy"), "u-1");
	cr_assert_str_eq(str_field(&f, "organizationId"), "org-1");
	for (int i = 0; i < 2; i++) {
		const struct fx_value *t = fx_map_get(&f, i ? "updatedAt" : "createdAt");

		cr_assert(t && t->type == FX_V_TIMESTAMP);
		cr_assert(t->u.ts.secs >= before && t->u.ts.secs <= after, "stamped with the current time");
	}
	cr_assert_eq(f.u.map.n, sizeof(names) / sizeof(names[0]), "no other field");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		cr_assert_not_null(fx_map_get(&f, names[i]), "%s", names[i]);
	fx_value_cleanup(&f);
}
