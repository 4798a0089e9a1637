#include "str.h"

#include <criterion/criterion.h>
#include <string.h>

/* Every buffer sits between guards that no call may touch. */
struct guarded {
	char before[8];
	char buf[8];
	char after[8];
};

static void guard(struct guarded *g)
{
	memset(g, 'G', sizeof(*g));
}

static void assert_guards(const struct guarded *g)
{
	for (size_t i = 0; i < sizeof(g->before); i++) {
		cr_assert_eq(g->before[i], 'G', "byte %zu before the buffer was written", i);
		cr_assert_eq(g->after[i], 'G', "byte %zu after the buffer was written", i);
	}
}

Test(str, copy_fits_exactly_or_fails_empty)
{
	struct guarded g;

	guard(&g);
	cr_assert_eq(fx_str_copy(g.buf, sizeof(g.buf), "1234567", 7), 0);
	cr_assert_str_eq(g.buf, "1234567");
	cr_assert_eq(fx_str_copy(g.buf, sizeof(g.buf), "12345678", 8), -1, "8 bytes and a NUL do not fit in 8");
	cr_assert_str_eq(g.buf, "", "a failed copy leaves an empty string, not a cut one");
	cr_assert_eq(fx_str_copy(g.buf, sizeof(g.buf), "abcdef", 3), 0);
	cr_assert_str_eq(g.buf, "abc");
	cr_assert_eq(fx_str_copy(g.buf, 0, "a", 1), -1);
	assert_guards(&g);
}

Test(str, set_counts_bytes_not_characters)
{
	struct guarded g;

	guard(&g);
	/* Two characters, eight bytes: a limit of 7 characters would let them through. */
	cr_assert_eq(fx_str_set(g.buf, sizeof(g.buf), "\xf0\x9f\x98\x80\xf0\x9f\x98\x80"), -1);
	cr_assert_str_eq(g.buf, "");
	cr_assert_eq(fx_str_set(g.buf, sizeof(g.buf),
				"\xf0\x9f\x98\x80"
				"abc"),
		     0);
	assert_guards(&g);
}

Test(str, fmt_fails_instead_of_truncating)
{
	struct guarded g;

	guard(&g);
	cr_assert_eq(fx_str_fmt(g.buf, sizeof(g.buf), "%s-%d", "ab", 1234), 0);
	cr_assert_str_eq(g.buf, "ab-1234");
	cr_assert_eq(fx_str_fmt(g.buf, sizeof(g.buf), "%s-%d", "ab", 12345), -1);
	cr_assert_str_eq(g.buf, "");
	assert_guards(&g);
}

Test(str, add_appends_or_keeps_the_old_text)
{
	struct guarded g;
	size_t len = 0;

	guard(&g);
	g.buf[0] = '\0';
	cr_assert_eq(fx_str_add(g.buf, sizeof(g.buf), &len, "%s", "GET"), 0);
	cr_assert_eq(fx_str_add(g.buf, sizeof(g.buf), &len, ",%s", "PUT"), 0);
	cr_assert_str_eq(g.buf, "GET,PUT");
	cr_assert_eq(len, 7);
	cr_assert_eq(fx_str_add(g.buf, sizeof(g.buf), &len, "%s", "X"), -1, "7 + 1 bytes and a NUL do not fit");
	cr_assert_eq(len, 7);
	cr_assert_str_eq(g.buf, "GET,PUT");
	len = sizeof(g.buf);
	cr_assert_eq(fx_str_add(g.buf, sizeof(g.buf), &len, "%s", ""), -1, "a length past the buffer is refused");
	assert_guards(&g);
}

Test(str, mem_copy_and_move_refuse_more_than_the_destination_holds)
{
	struct guarded g;

	guard(&g);
	cr_assert_eq(fx_str_mem_copy(g.buf, sizeof(g.buf), "12345678", 8), 0);
	cr_assert(memcmp(g.buf, "12345678", 8) == 0);
	cr_assert_eq(fx_str_mem_copy(g.buf, sizeof(g.buf), "123456789", 9), -1);
	cr_assert(memcmp(g.buf, "12345678", 8) == 0, "a refused copy writes nothing");
	cr_assert_eq(fx_str_mem_move(g.buf + 1, sizeof(g.buf) - 1, g.buf, 7), 0);
	cr_assert(memcmp(g.buf, "11234567", 8) == 0);
	cr_assert_eq(fx_str_mem_move(g.buf + 1, sizeof(g.buf) - 1, g.buf, 8), -1);
	assert_guards(&g);
}

Test(str, text_is_cut_at_a_whole_character)
{
	struct guarded g;

	guard(&g);
	/* "abcde" and a four-byte character: only 7 bytes fit, the character is dropped whole. */
	fx_str_text(g.buf, sizeof(g.buf), "abcde%s", "\xf0\x9f\x98\x80");
	cr_assert_str_eq(g.buf, "abcde");
	fx_str_text(g.buf, sizeof(g.buf), "ab%s", "\xf0\x9f\x98\x80\xc3\xa9");
	cr_assert_str_eq(g.buf, "ab\xf0\x9f\x98\x80", "whole characters are kept");
	fx_str_text(g.buf, sizeof(g.buf), "abcdef\xc3\xa9");
	cr_assert_str_eq(g.buf, "abcdef");
	fx_str_text(g.buf, sizeof(g.buf), "%s", "short");
	cr_assert_str_eq(g.buf, "short");
	assert_guards(&g);
}

/* Text reaches JSON answers and log lines: bytes that are not UTF-8 never do. */
Test(str, text_replaces_every_byte_that_is_not_utf8)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"a\xff"
		 "b",
		 "a?b"},
		{"\xc3\x28", "?("},
		{"\xed\xa0\x80", "???"}, /* a surrogate */
		{"\xc0\xaf", "??"}, /* an overlong '/' */
		{"\xf4\x90\x80\x80", "????"}, /* past U+10FFFF */
		{"\xf0\x9f\x98", "???"}, /* cut short */
		{"caf\xc3\xa9 \xf0\x9f\x98\x80", "caf\xc3\xa9 \xf0\x9f\x98\x80"},
	};
	char out[32];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fx_str_text(out, sizeof(out), "%s", cases[i].in);
		cr_assert_str_eq(out, cases[i].out, "case %zu", i);
	}
	/* Cut and replaced: the cut keeps whole characters, what is left is UTF-8. */
	fx_str_text(out, 5, "\xff\xff\xe2\x82\xac");
	cr_assert_str_eq(out, "??");
}

Test(str, utf8_char_measures_one_valid_character)
{
	cr_assert_eq(fx_str_utf8_char("A", 1), 1);
	cr_assert_eq(fx_str_utf8_char("\xe2\x82\xac", 3), 3);
	cr_assert_eq(fx_str_utf8_char("\xe2\x82\xac", 2), 0, "cut short by n");
	cr_assert_eq(fx_str_utf8_char("", 1), 0, "NUL");
	cr_assert_eq(fx_str_utf8_char("A", 0), 0, "no bytes");
	cr_assert_eq(fx_str_utf8_char("\x80", 1), 0, "continuation byte");
}

Test(str, hex_needs_two_bytes_per_byte_and_a_nul)
{
	struct guarded g;

	guard(&g);
	cr_assert_eq(fx_str_hex(g.buf, sizeof(g.buf), "\x01\xab\xff", 3), 0);
	cr_assert_str_eq(g.buf, "01abff");
	cr_assert_eq(fx_str_hex(g.buf, sizeof(g.buf), "\x01\x02\x03\x04", 4), -1, "8 digits and a NUL do not fit");
	cr_assert_str_eq(g.buf, "");
	assert_guards(&g);
}

static int vlen(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int vlen(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = fx_str_vlen(fmt, ap);
	va_end(ap);
	return n;
}

Test(str, vlen_measures_without_writing)
{
	cr_assert_eq(vlen("%s=%d", "key", 42), 6);
	cr_assert_eq(vlen("%s", ""), 0);
}

/* fx_str_json_unescape_u on text s (its \u escapes written with a real backslash). */
static int unescape_u(const char *s, char out[4], size_t *used, const char **why)
{
	return fx_str_json_unescape_u(s, strlen(s), out, used, why);
}

Test(str, json_unescape_u_gives_the_utf8_of_each_code_point_size)
{
	char out[4];
	size_t used;
	const char *why = NULL;

	cr_assert_eq(unescape_u("\\u0041", out, &used, &why), 1);
	cr_assert(out[0] == 'A' && used == 6);
	cr_assert_eq(unescape_u("\\u00e9x", out, &used, &why), 2);
	cr_assert(memcmp(out, "\xc3\xa9", 2) == 0 && used == 6);
	cr_assert_eq(unescape_u("\\u20AC", out, &used, &why), 3);
	cr_assert(memcmp(out, "\xe2\x82\xac", 3) == 0 && used == 6);
	cr_assert_eq(unescape_u("\\ud83d\\ude00", out, &used, &why), 4, "a surrogate pair is one 4-byte character");
	cr_assert(memcmp(out, "\xf0\x9f\x98\x80", 4) == 0 && used == 12);
	cr_assert_eq(unescape_u("\\u0000", out, &used, &why), 1, "U+0000 is the caller's to refuse");
	cr_assert(out[0] == '\0');
}

Test(str, json_unescape_u_refuses_bad_hex_short_input_and_unpaired_surrogates)
{
	char out[4];
	size_t used;
	const char *why = NULL;

	cr_assert_eq(unescape_u("\\u00g1", out, &used, &why), -1);
	cr_assert_str_eq(why, "bad \\u escape");
	cr_assert_eq(fx_str_json_unescape_u("\\u0041", 5, out, &used, &why), -1, "the escape cut by the end");
	cr_assert_eq(unescape_u("\\ud800", out, &used, &why), -1);
	cr_assert_str_eq(why, "unpaired surrogate");
	cr_assert_eq(unescape_u("\\ud800\\u0041", out, &used, &why), -1);
	cr_assert_eq(unescape_u("\\udc00\\ud800", out, &used, &why), -1, "a low surrogate first");
	cr_assert_eq(fx_str_json_unescape_u("\\ud83d\\ude00", 11, out, &used, &why), -1, "the pair cut by the end");
}

/* fx_str_text_join is fx_str_text of its parts one after the other: the same bytes, cut and made UTF-8 alike. */
Test(str, text_join_is_text_of_the_parts_one_after_the_other)
{
	static const char *const inputs[] = {"",
					     "GET",
					     " ",
					     "/v1/products/abc",
					     "200",
					     ": ",
					     "caf\xc3\xa9",
					     "\xf0\x9f\x98\x80",
					     "a\xff"
					     "b",
					     "\xf0\x9f\x98",
					     "abcdefghijklmnopqrstuvwxyz0123456789"};
	const size_t n = sizeof(inputs) / sizeof(inputs[0]);
	size_t sizes[] = {1, 2, 5, 8, 9, 12, 16, 33, 64, 512};

	for (size_t a = 0; a < n; a++)
		for (size_t b = 0; b < n; b++)
			for (size_t c = 0; c < n; c++)
				for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
					const char *parts[] = {inputs[a], inputs[b], inputs[c]};
					char want[512], got[512];

					memset(got, 'x', sizeof(got));
					fx_str_text(want, sizes[s], "%s%s%s", parts[0], parts[1], parts[2]);
					fx_str_text_join(got, sizes[s], parts, 3);
					cr_assert_str_eq(got, want, "parts %zu %zu %zu, size %zu", a, b, c, sizes[s]);
					if (sizes[s] < sizeof(got))
						cr_assert_eq(got[sizes[s]], 'x', "nothing written past size %zu",
							     sizes[s]);
				}
}
