#include "b64.h"

#include <criterion/criterion.h>
#include <string.h>

static struct fx_err err;

static void setup(void)
{
	fx_err_clear(&err);
}

TestSuite(b64, .init = setup);

/* RFC 4648 §10 test vectors. */
static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
static const char *const std_enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
static const char *const url_enc[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};

Test(b64, encodes_the_rfc4648_vectors_padded)
{
	char out[16];

	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		cr_assert_eq(fx_b64_encode(plain[i], strlen(plain[i]), out, sizeof(out), &err), 0);
		cr_assert_str_eq(out, std_enc[i]);
		cr_assert_eq(fx_b64_encoded_len(strlen(plain[i])), strlen(std_enc[i]));
	}
}

Test(b64, encodes_the_rfc4648_vectors_as_base64url_without_padding)
{
	char out[16];

	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		cr_assert_eq(fx_b64_url_encode(plain[i], strlen(plain[i]), out, sizeof(out), &err), 0);
		cr_assert_str_eq(out, url_enc[i]);
		cr_assert_eq(fx_b64_url_encoded_len(strlen(plain[i])), strlen(url_enc[i]));
	}
}

Test(b64, decodes_the_rfc4648_vectors)
{
	char out[16];
	size_t n;

	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		cr_assert_eq(fx_b64_decode(std_enc[i], strlen(std_enc[i]), out, sizeof(out), &n, &err), 0);
		cr_assert_eq(n, strlen(plain[i]));
		cr_assert_eq(memcmp(out, plain[i], n), 0);
		cr_assert_eq(fx_b64_url_decode(url_enc[i], strlen(url_enc[i]), out, sizeof(out), &n, &err), 0);
		cr_assert_eq(n, strlen(plain[i]));
		cr_assert_eq(memcmp(out, plain[i], n), 0);
	}
}

Test(b64, url_alphabet_uses_dash_and_underscore)
{
	const unsigned char bytes[] = {0xfb, 0xff, 0xbf};
	char out[8];
	unsigned char back[3];
	size_t n;

	cr_assert_eq(fx_b64_encode(bytes, 3, out, sizeof(out), &err), 0);
	cr_assert_str_eq(out, "+/+/");
	cr_assert_eq(fx_b64_url_encode(bytes, 3, out, sizeof(out), &err), 0);
	cr_assert_str_eq(out, "-_-_");
	cr_assert_eq(fx_b64_url_decode("-_-_", 4, back, sizeof(back), &n, &err), 0);
	cr_assert_eq(memcmp(back, bytes, 3), 0);
}

Test(b64, round_trips_every_byte_value)
{
	unsigned char in[256], back[256];
	char enc[400];
	size_t n;

	for (int i = 0; i < 256; i++)
		in[i] = (unsigned char)i;
	for (size_t len = 0; len <= 256; len += 37) {
		cr_assert_eq(fx_b64_encode(in, len, enc, sizeof(enc), &err), 0);
		cr_assert_eq(fx_b64_decode(enc, strlen(enc), back, sizeof(back), &n, &err), 0);
		cr_assert_eq(n, len);
		cr_assert_eq(memcmp(in, back, len), 0);
		cr_assert_eq(fx_b64_url_encode(in, len, enc, sizeof(enc), &err), 0);
		cr_assert_eq(fx_b64_url_decode(enc, strlen(enc), back, sizeof(back), &n, &err), 0);
		cr_assert_eq(n, len);
		cr_assert_eq(memcmp(in, back, len), 0);
	}
}

Test(b64, url_decoding_accepts_correct_padding_too)
{
	char out[8];
	size_t n;

	cr_assert_eq(fx_b64_url_decode("Zg==", 4, out, sizeof(out), &n, &err), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(out[0], 'f');
	cr_assert_eq(fx_b64_url_decode("Zg=", 3, out, sizeof(out), &n, &err), -1, "partial padding is malformed");
	cr_assert_eq(fx_err_http(err.kind), 400);
}

Test(b64, standard_decoding_requires_padding)
{
	char out[8];
	size_t n;

	cr_assert_eq(fx_b64_decode("Zg", 2, out, sizeof(out), &n, &err), -1);
	cr_assert_eq(fx_err_http(err.kind), 400);
	cr_assert_str_eq(fx_err_name(err.kind), "INVALID_ARGUMENT");
}

Test(b64, rejects_characters_outside_the_alphabet)
{
	static const char *const bad_std[] = {"Zm9v\n", "Zm 9v", "Zm9-", "Zm9_", "Z=9v", "Zm9v====", "Zm\0v"};
	static const size_t bad_std_len[] = {5, 5, 4, 4, 4, 8, 4};
	static const char *const bad_url[] = {"Zm9+", "Zm9/", "Zm9v.", "Z=9v", "Zm9v!"};
	char out[16];
	size_t n;

	for (size_t i = 0; i < sizeof(bad_std) / sizeof(bad_std[0]); i++)
		cr_assert_eq(fx_b64_decode(bad_std[i], bad_std_len[i], out, sizeof(out), &n, &err), -1, "case %zu", i);
	for (size_t i = 0; i < sizeof(bad_url) / sizeof(bad_url[0]); i++)
		cr_assert_eq(fx_b64_url_decode(bad_url[i], strlen(bad_url[i]), out, sizeof(out), &n, &err), -1,
			     "case %s", bad_url[i]);
}

Test(b64, rejects_an_impossible_length)
{
	char out[8];
	size_t n;

	cr_assert_eq(fx_b64_url_decode("Zm9vY", 5, out, sizeof(out), &n, &err), -1);
	cr_assert(strstr(err.message, "truncated"), "%s", err.message);
}

Test(b64, rejects_non_canonical_trailing_bits)
{
	char out[8];
	size_t n;

	/* "Zh" decodes to 'f' too, but leaves bits set that "Zg" does not. */
	cr_assert_eq(fx_b64_url_decode("Zh", 2, out, sizeof(out), &n, &err), -1);
	cr_assert(strstr(err.message, "trailing bits"), "%s", err.message);
	cr_assert_eq(fx_b64_decode("Zm9=", 4, out, sizeof(out), &n, &err), -1);
}

Test(b64, decoding_never_writes_past_the_bound)
{
	char out[8];
	size_t n = 99;

	memset(out, 'x', sizeof(out));
	cr_assert_eq(fx_b64_decode("Zm9vYmFy", 8, out, 5, &n, &err), -1);
	cr_assert(strstr(err.message, "exceeds 5 bytes"), "%s", err.message);
	cr_assert_eq(n, 0);
	cr_assert_eq(out[5], 'x');
	cr_assert_eq(fx_b64_decode("Zm9vYmFy", 8, out, 6, &n, &err), 0);
	cr_assert_eq(n, 6);
}

Test(b64, encoding_refuses_a_small_buffer)
{
	char out[4] = "abc";

	cr_assert_eq(fx_b64_encode("foo", 3, out, sizeof(out), &err), -1, "needs 5 bytes with the NUL");
	cr_assert_eq(fx_err_http(err.kind), 500);
	cr_assert_str_eq(out, "");
	cr_assert_eq(fx_b64_url_encode("fo", 2, out, sizeof(out), &err), 0);
	cr_assert_str_eq(out, "Zm8");
}

Test(b64, append_respects_the_buffer_cap)
{
	struct fx_buf b;

	fx_buf_init(&b, 10);
	cr_assert_eq(fx_buf_puts(&b, "x="), 0);
	cr_assert_eq(fx_b64_append(&b, "foobar", 6), 0);
	cr_assert_str_eq(b.data, "x=Zm9vYmFy");
	cr_assert_eq(fx_b64_url_append(&b, "f", 1), -1);
	cr_assert_str_eq(b.data, "x=Zm9vYmFy", "a refused append leaves the buffer unchanged");
	fx_buf_cleanup(&b);
}

Test(b64, append_encodes_large_inputs_in_one_piece)
{
	static unsigned char in[5000];
	struct fx_buf b;
	static unsigned char back[5000];
	size_t n;

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 7);
	fx_buf_init(&b, 1 << 16);
	cr_assert_eq(fx_b64_url_append(&b, in, sizeof(in)), 0);
	cr_assert_eq(b.len, fx_b64_url_encoded_len(sizeof(in)));
	cr_assert_eq(fx_b64_url_decode(b.data, b.len, back, sizeof(back), &n, &err), 0);
	cr_assert_eq(n, sizeof(in));
	cr_assert_eq(memcmp(in, back, n), 0);
	fx_buf_cleanup(&b);
}

/* fx_b64_decode_any of s into a small buffer: the bytes as a string, or NULL when refused. */
static const char *decoded_any(const char *s)
{
	static char out[64];
	size_t n = 0;

	fx_err_clear(&err);
	if (fx_b64_decode_any(s, strlen(s), out, sizeof(out) - 1, &n, &err) < 0) {
		cr_assert_eq(fx_err_http(err.kind), 400, "%s", s);
		return NULL;
	}
	out[n] = '\0';
	return out;
}

Test(b64, decode_any_takes_either_alphabet_padded_or_not)
{
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		cr_assert_str_eq(decoded_any(std_enc[i]), plain[i]);
		cr_assert_str_eq(decoded_any(url_enc[i]), plain[i]);
	}
	cr_assert_str_eq(decoded_any("-_8"), "\xfb\xff", "URL-safe without padding");
	cr_assert_str_eq(decoded_any("+/8="), "\xfb\xff");
	cr_assert_str_eq(decoded_any("----"), "\xfb\xef\xbe");
	cr_assert_str_eq(decoded_any("____"), "\xff\xff\xff");
	cr_assert_str_eq(decoded_any("////"), "\xff\xff\xff");
	cr_assert_str_eq(decoded_any("-_8_Pw"), "\xfb\xff\x3f\x3f");
	cr_assert_str_eq(decoded_any("+/8/Pw=="), "\xfb\xff\x3f\x3f");
}

Test(b64, decode_any_refuses_mixed_alphabets_bad_padding_and_stray_bits)
{
	static const char *const bad[] = {
		"AA-/", /* both alphabets */
		"-_8_Pz8+", /* both alphabets, further apart */
		"Y===", /* three padding characters */
		"YQ=", /* padding that does not make a multiple of 4 */
		"YR==", /* non-zero trailing bits */
		"A", /* one character carries no byte */
		"YQ== ",    "Y Q==", "=", "YQ=a", "\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_null(decoded_any(bad[i]), "accepted \"%s\"", bad[i]);
}
