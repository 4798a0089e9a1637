/* lib/fieldpath: Firestore field paths. */
#include "fieldpath.h"
#include "map.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static struct fx_err err;

static const char *fmt(const char *const *segs, size_t n, char *out, size_t cap)
{
	struct fx_buf b;

	fx_buf_init(&b, 1024);
	cr_assert_eq(fx_fieldpath_format(segs, n, &b), 0);
	snprintf(out, cap, "%s", b.data ? b.data : "");
	fx_buf_cleanup(&b);
	return out;
}

Test(fieldpath, field_paths_back_quote_what_is_not_an_identifier)
{
	static const char *const plain[] = {"stock", "on_Hand2"};
	static const char *const odd[] = {"_0", "1", "+2", "a.b", "a`b", "c\\d", "é"};
	char out[256];

	cr_assert_str_eq(fmt(plain, 2, out, sizeof(out)), "stock.on_Hand2");
	cr_assert_str_eq(fmt(odd, 7, out, sizeof(out)), "_0.`1`.`+2`.`a.b`.`a\\`b`.`c\\\\d`.`é`");
}

Test(fieldpath, field_paths_parse_back_what_format_gives)
{
	static const char *const odd[] = {"_0", "1", "+2", "a.b", "a`b", "c\\d", "~*/[]"};
	char out[256];
	struct fx_fieldpath fp, other;

	fmt(odd, 7, out, sizeof(out));
	fx_err_clear(&err);
	cr_assert_eq(fx_fieldpath_parse(out, &fp, &err), 0, "%s", err.message);
	cr_assert_eq(fp.n, 7);
	for (size_t i = 0; i < 7; i++)
		cr_assert_str_eq(fp.segs[i], odd[i]);
	cr_assert_eq(fx_fieldpath_parse("_0.`1`", &other, &err), 0);
	cr_assert(fx_fieldpath_is_prefix(&other, &fp));
	cr_assert_not(fx_fieldpath_is_prefix(&fp, &other));
	cr_assert_lt(fx_fieldpath_cmp(&other, &fp), 0, "a prefix sorts first");
	fx_fieldpath_cleanup(&other);
	cr_assert_eq(fx_fieldpath_parse("__name__", &other, &err), 0);
	cr_assert_lt(fx_fieldpath_cmp(&fp, &other), 0, "'_0' sorts before '__name__' bytewise ('0' < '_')");
	fx_fieldpath_cleanup(&other);
	fx_fieldpath_cleanup(&fp);
	fx_fieldpath_cleanup(NULL);
}

Test(fieldpath, field_paths_refuse_empty_segments_and_reserved_characters)
{
	static const char *const bad[] = {"",	  ".",	 "a.", ".a", "a..b", "a~b",	"a*",  "a/b",
					  "a[0]", "a`b", "``", "`a", "`a`b", "`a\\nb`", "a.``"};
	struct fx_fieldpath fp;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fx_err_clear(&err);
		cr_assert_eq(fx_fieldpath_parse(bad[i], &fp, &err), -1, "accepted \"%s\"", bad[i]);
		cr_assert_eq(fx_err_http(err.kind), 400);
		cr_assert_eq(fp.n, 0);
	}
}

Test(fieldpath, get_reads_a_parsed_path_through_nested_maps)
{
	struct fx_value m, *inner;
	struct fx_fieldpath fp, empty = {0};

	fx_value_map(&m);
	inner = fx_map_set(&m, "a.b");
	fx_value_map(inner);
	fx_map_set_int(inner, "c", 3);
	fx_err_clear(&err);
	cr_assert_eq(fx_fieldpath_parse("`a.b`.c", &fp, &err), 0, "%s", err.message);
	cr_assert_eq(fx_fieldpath_get(&m, &fp)->u.i, 3, "a back-quoted segment is one field name");
	fx_fieldpath_cleanup(&fp);
	cr_assert_eq(fx_fieldpath_parse("a.b.c", &fp, &err), 0);
	cr_assert_null(fx_fieldpath_get(&m, &fp));
	fx_fieldpath_cleanup(&fp);
	cr_assert_null(fx_fieldpath_get(&m, &empty), "an empty path reads nothing");
	fx_value_cleanup(&m);
}

/* Parses text, expecting failure with why in the message, or success with n segments. */
static void expect(const char *text, const char *why, size_t n)
{
	struct fx_fieldpath fp;

	fx_err_clear(&err);
	if (why) {
		cr_assert_eq(fx_fieldpath_parse(text, &fp, &err), -1, "accepted %.40s…", text);
		cr_assert_eq(err.ndetails, 1);
		cr_assert(strstr(err.details[0].reason, why), "%s: want \"%s\"", err.details[0].reason, why);
		cr_assert_eq(fp.n, 0);
		cr_assert_null(fp.segs);
		return;
	}
	cr_assert_eq(fx_fieldpath_parse(text, &fp, &err), 0, "%s", err.message);
	cr_assert_eq(fp.n, n);
	fx_fieldpath_cleanup(&fp);
}

/*
 * A segment's limit is FX_VALUE_FIELD_NAME_MAX bytes of the segment itself
 * (escapes unescaped, 4-byte characters counted as 4), back-quoted or not;
 * a path has at most FX_FIELDPATH_MAX_SEGMENTS segments; each segment comes
 * back whole and NUL-terminated.
 */
Test(fieldpath, limits_are_bytes_of_each_segment_and_a_count_of_segments)
{
	static char text[8 * FX_VALUE_FIELD_NAME_MAX];
	struct fx_fieldpath fp;
	size_t n;

	memset(text, 'a', FX_VALUE_FIELD_NAME_MAX);
	text[FX_VALUE_FIELD_NAME_MAX] = '\0';
	expect(text, NULL, 1);
	text[FX_VALUE_FIELD_NAME_MAX] = 'a';
	text[FX_VALUE_FIELD_NAME_MAX + 1] = '\0';
	expect(text, "segment too long", 0);

	text[0] = '`';
	memset(text + 1, 'a', FX_VALUE_FIELD_NAME_MAX);
	snprintf(text + 1 + FX_VALUE_FIELD_NAME_MAX, 3, "`");
	expect(text, NULL, 1);
	snprintf(text + 1 + FX_VALUE_FIELD_NAME_MAX, 3, "a`");
	expect(text, "segment too long", 0);

	/* 375 four-byte characters are 1,500 bytes; one more is too long */
	n = 0;
	text[n++] = '`';
	for (int i = 0; i < FX_VALUE_FIELD_NAME_MAX / 4; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "\xF0\x9F\x98\x80");
	snprintf(text + n, sizeof(text) - n, "`");
	expect(text, NULL, 1);
	snprintf(text + n, sizeof(text) - n, "\xF0\x9F\x98\x80`");
	expect(text, "segment too long", 0);
	snprintf(text + 1, sizeof(text) - 1, "%s", "");
	memset(text + 1, '\\', 2 * FX_VALUE_FIELD_NAME_MAX); /* 1,500 escaped backslashes */
	snprintf(text + 1 + 2 * FX_VALUE_FIELD_NAME_MAX, 2, "`");
	cr_assert_eq(fx_fieldpath_parse(text, &fp, &err), 0, "%s", err.message);
	cr_assert_eq(strlen(fp.segs[0]), FX_VALUE_FIELD_NAME_MAX, "an escape is one byte of the segment");
	fx_fieldpath_cleanup(&fp);

	n = 0;
	for (int i = 0; i < FX_FIELDPATH_MAX_SEGMENTS; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%sf%d", i ? "." : "", i);
	expect(text, NULL, FX_FIELDPATH_MAX_SEGMENTS);
	cr_assert_eq(fx_fieldpath_parse(text, &fp, &err), 0);
	for (int i = 0; i < FX_FIELDPATH_MAX_SEGMENTS; i++) {
		char want[8];

		snprintf(want, sizeof(want), "f%d", i);
		cr_assert_str_eq(fp.segs[i], want);
	}
	fx_fieldpath_cleanup(&fp);
	snprintf(text + n, sizeof(text) - n, ".`x.y`");
	expect(text, "too many segments", 0);
}
