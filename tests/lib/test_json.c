#include "json.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static struct fx_err err;

static int parse(const char *s, json_object **out)
{
	fx_err_clear(&err);
	return fx_json_parse(s, strlen(s), FX_JSON_MAX_DEPTH, out, &err);
}

Test(json, parses_a_plain_object)
{
	json_object *o = NULL;

	cr_assert_eq(parse("{\"a\":1,\"b\":[true,null,\"x\"],\"c\":{\"d\":-2.5e3}}", &o), 0);
	cr_assert(json_object_is_type(o, json_type_object));
	json_object_put(o);
}

Test(json, parses_a_number_that_ends_the_text)
{
	json_object *o = NULL;

	/* json-c alone waits for more digits; found by fuzz_json ("8\r" printed back as "8"). */
	cr_assert_eq(parse("8", &o), 0, "%s", err.message);
	cr_assert_eq(json_object_get_int64(o), 8);
	json_object_put(o);
	cr_assert_eq(parse("-1.5e3", &o), 0, "%s", err.message);
	cr_assert_float_eq(json_object_get_double(o), -1500.0, 1e-9);
	json_object_put(o);
	cr_assert_eq(parse("1.", &o), -1);
}

Test(json, rejects_duplicate_keys_naming_the_key)
{
	json_object *o = NULL;

	cr_assert_eq(parse("{\"sku\":\"a\",\"name\":\"n\",\"sku\":\"b\"}", &o), -1);
	cr_assert_eq(fx_err_http(err.kind), 400);
	cr_assert(strstr(err.message, "duplicate key \"sku\""), "%s", err.message);
}

Test(json, rejects_duplicates_that_differ_only_by_escaping)
{
	json_object *o = NULL;

	cr_assert_eq(parse("{\"role\":\"viewer\",\"r\\u006fle\":\"owner\"}", &o), -1);
	cr_assert(strstr(err.message, "duplicate key"));
}

Test(json, rejects_nesting_past_the_bound)
{
	char deep[200] = "";
	json_object *o = NULL;

	for (int i = 0; i < 33; i++)
		strcat(deep, "[");
	for (int i = 0; i < 33; i++)
		strcat(deep, "]");
	cr_assert_eq(parse(deep, &o), -1);
	cr_assert(strstr(err.message, "nesting deeper than 32"), "%s", err.message);
	deep[0] = '\0';
	for (int i = 0; i < 32; i++)
		strcat(deep, "[");
	for (int i = 0; i < 32; i++)
		strcat(deep, "]");
	cr_assert_eq(parse(deep, &o), 0, "32 levels are allowed: %s", err.message);
	json_object_put(o);
}

Test(json, rejects_trailing_data_bad_utf8_and_nul_escapes)
{
	json_object *o = NULL;

	cr_assert_eq(parse("{} {}", &o), -1);
	cr_assert(strstr(err.message, "trailing data"));
	cr_assert_eq(parse("{\"a\":\"\xc3\x28\"}", &o), -1);
	cr_assert(strstr(err.message, "invalid UTF-8"));
	cr_assert_eq(parse("{\"a\":\"x\\u0000y\"}", &o), -1);
	cr_assert_eq(parse("{\"a\":\"\\ud800\"}", &o), -1);
	cr_assert_eq(parse("{\"a\":01}", &o), -1);
	cr_assert_eq(parse("{\"a\":NaN}", &o), -1);
	cr_assert_eq(parse("{'a':1}", &o), -1);
	cr_assert_eq(parse("", &o), -1);
}

Test(json, allowlist_names_the_unknown_field)
{
	static const char *const allowed[] = {"name", "sku", NULL};
	json_object *o = NULL;

	cr_assert_eq(parse("{\"name\":\"x\",\"organizationId\":\"evil\"}", &o), 0);
	fx_err_clear(&err);
	cr_assert_eq(fx_json_allow(o, allowed, "", &err), -1);
	cr_assert_eq(fx_err_http(err.kind), 400);
	cr_assert_str_eq(err.details[0].field, "organizationId");
	json_object_put(o);
}

Test(json, typed_getters_check_type_and_bounds)
{
	json_object *o = NULL;
	const char *s = NULL;
	int64_t n = 0;
	bool present;

	cr_assert_eq(parse("{\"name\":\"héllo\",\"qty\":5,\"big\":99999999999999999999,\"f\":1.5}", &o), 0);
	cr_assert_eq(fx_json_string(o, "name", "name", true, 1, 5, &s, &present, &err), 0,
		     "length counts characters, not bytes");
	cr_assert_str_eq(s, "héllo");
	cr_assert_eq(fx_json_string(o, "name", "name", true, 1, 4, &s, &present, &err), -1);
	cr_assert_eq(fx_json_int64(o, "qty", "items[0].quantity", true, 1, 1000, &n, &present, &err), 0);
	cr_assert_eq(n, 5);
	fx_err_clear(&err);
	cr_assert_eq(fx_json_int64(o, "qty", "items[0].quantity", true, 6, 1000, &n, &present, &err), -1);
	cr_assert_str_eq(err.details[0].field, "items[0].quantity");
	fx_err_clear(&err);
	cr_assert_eq(fx_json_int64(o, "big", "big", true, 0, INT64_MAX - 1, &n, &present, &err), -1);
	fx_err_clear(&err);
	cr_assert_eq(fx_json_int64(o, "f", "f", true, 0, 10, &n, &present, &err), -1);
	cr_assert_eq(fx_json_int64(o, "missing", "missing", false, 0, 10, &n, &present, &err), 0);
	cr_assert_not(present);
	fx_err_clear(&err);
	cr_assert_eq(fx_json_int64(o, "missing", "missing", true, 0, 10, &n, &present, &err), -1);
	cr_assert_str_eq(err.details[0].reason, "is required");
	json_object_put(o);
}

/* {"0":0,"1":0,...} filling just under limit bytes (16 spare bytes after it); *nkeys gets the count. */
static char *many_keys(size_t limit, size_t *len, int *nkeys)
{
	char *b = malloc(limit + 16);
	size_t n = 0;
	int i;

	cr_assert_not_null(b);
	b[n++] = '{';
	for (i = 0;; i++) {
		char k[32];
		int w = snprintf(k, sizeof(k), "%s\"%d\":0", i ? "," : "", i);

		if (n + (size_t)w + 1 > limit)
			break;
		memcpy(b + n, k, (size_t)w);
		n += (size_t)w;
	}
	b[n++] = '}';
	b[n] = '\0';
	*len = n;
	*nkeys = i;
	return b;
}

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

#ifndef UNDER_ASAN
/* The address space this process has mapped now, in bytes (VmSize). */
static size_t mapped_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long pages = 0;

	cr_assert_not_null(f);
	cr_assert_eq(fscanf(f, "%lu", &pages), 1);
	fclose(f);
	return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}
#endif

/*
 * Issue 12, defect 1: a mebibyte of small keys cost ~440 MiB (a buffer the
 * size of the rest of the body per key). Criterion runs each test in its own
 * process, so the address-space limit set here binds this parse alone: the
 * scanner and json-c's tree together must fit in 64 MiB more than the test
 * process already maps. ASan reserves terabytes of shadow up front, so under
 * it the bound cannot be set and only the answer is checked.
 */
Test(json, parses_a_mebibyte_of_keys_within_a_small_multiple_of_its_size, .timeout = 60)
{
	size_t n;
	int nkeys;
	char *body = many_keys(1024 * 1024, &n, &nkeys);
	json_object *o = NULL;

#ifndef UNDER_ASAN
	struct rlimit lim;

	lim.rlim_cur = lim.rlim_max = mapped_bytes() + 64 * 1024 * 1024;
	cr_assert_eq(setrlimit(RLIMIT_AS, &lim), 0);
#endif
	fx_err_clear(&err);
	cr_assert_eq(fx_json_parse(body, n, FX_JSON_MAX_DEPTH, &o, &err), 0, "%s", err.message);
	cr_assert_eq(json_object_object_length(o), nkeys);
	cr_assert_gt(nkeys, 100000);
	json_object_put(o);
	free(body);
}

Test(json, finds_a_duplicate_key_far_from_its_first_occurrence, .timeout = 60)
{
	size_t n;
	int nkeys;
	char *body = many_keys(1024 * 1024 - 16, &n, &nkeys);
	json_object *o = NULL;

	/* Replace the closing brace by a second "0" at the very end. */
	memcpy(body + n - 1, ",\"0\":1}", 8);
	fx_err_clear(&err);
	cr_assert_eq(fx_json_parse(body, n + 6, FX_JSON_MAX_DEPTH, &o, &err), -1);
	cr_assert_eq(fx_err_http(err.kind), 400);
	cr_assert(strstr(err.message, "duplicate key \"0\""), "%s", err.message);
	/* The same key once in every object is no duplicate. */
	free(body);
	cr_assert_eq(parse("{\"a\":{\"a\":{\"a\":1},\"b\":{\"a\":2}},\"b\":[{\"a\":1},{\"a\":1}],\"c\":{}}", &o), 0,
		     "%s", err.message);
	json_object_put(o);
	cr_assert_eq(parse("{\"a\":{\"x\":1},\"b\":{\"x\":1,\"y\":{\"x\":1},\"x\":2}}", &o), -1,
		     "a duplicate after a nested object is found");
	cr_assert(strstr(err.message, "duplicate key \"x\""), "%s", err.message);
}

Test(json, keys_are_compared_after_unescaping)
{
	json_object *o = NULL;

	cr_assert_eq(parse("{\"a\":1,\"\\u0061\":2}", &o), -1);
	cr_assert(strstr(err.message, "duplicate key \"a\""), "%s", err.message);
	cr_assert_eq(parse("{\"a/b\":1,\"x\":0,\"a\\/b\":2}", &o), -1);
	cr_assert_eq(parse("{\"\xf0\x9f\x98\x80\":1,\"\\ud83d\\ude00\":2}", &o), -1);
	cr_assert_eq(parse("{\"\xc3\xa9\":1,\"\\u00E9\":2}", &o), -1);
	cr_assert_eq(parse("{\"a\":1,\"ab\":2,\"\":3,\"b\":4,\"a\\t\":5}", &o), 0, "%s", err.message);
	cr_assert_eq(json_object_object_length(o), 5);
	json_object_put(o);
}

/* Parses text as JSON and reads it with fx_json_get_int64 in [min, max]; *out is 77 when refused. */
static bool get_int64(const char *text, int64_t min, int64_t max, int64_t *out)
{
	json_object *v = json_tokener_parse(text);
	bool ok;

	cr_assert(v || strcmp(text, "null") == 0, "test JSON does not parse: %s", text);
	*out = 77;
	ok = fx_json_get_int64(v, min, max, out);
	json_object_put(v);
	return ok;
}

Test(json, get_int64_reads_proto3_numbers_and_decimal_strings)
{
	int64_t n;

	cr_assert(get_int64("42", 0, INT64_MAX, &n));
	cr_assert_eq(n, 42);
	cr_assert(get_int64("\"42\"", 0, INT64_MAX, &n));
	cr_assert_eq(n, 42);
	cr_assert(get_int64("\"-9223372036854775808\"", INT64_MIN, INT64_MAX, &n));
	cr_assert_eq(n, INT64_MIN);
	cr_assert(get_int64("9223372036854775807", INT64_MIN, INT64_MAX, &n));
	cr_assert_eq(n, INT64_MAX);
	cr_assert(get_int64("\"00000000000000000042\"", 0, INT64_MAX, &n), "20 bytes are the most");
	cr_assert_eq(n, 42);
}

Test(json, get_int64_refuses_saturated_out_of_range_and_malformed_values)
{
	static const char *const bad[] = {
		"9223372036854775808",
		"18446744073709551616",
		"\"9223372036854775808\"",
		"\"000000000000000000042\"",
		"\" 1\"",
		"\"+1\"",
		"\"1x\"",
		"\"\"",
		"\"-\"",
		"1.5",
		"true",
		"null",
		"[1]",
		"{}",
	};
	int64_t n;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_not(get_int64(bad[i], INT64_MIN, INT64_MAX, &n), "accepted %s", bad[i]);
		cr_assert_eq(n, 77, "%s: untouched on failure", bad[i]);
	}
	cr_assert_not(get_int64("-1", 0, INT64_MAX, &n), "below min as a number");
	cr_assert_not(get_int64("\"-1\"", 0, INT64_MAX, &n), "below min as a string");
	cr_assert_not(get_int64("\"11\"", 0, 10, &n), "above max");
}

Test(json, get_int64_sees_a_nul_inside_the_string)
{
	json_object *v = json_object_new_string_len("12\0003", 4);
	int64_t n = 77;

	cr_assert_not(fx_json_get_int64(v, 0, INT64_MAX, &n), "\"12\\u00003\" is not 12");
	cr_assert_eq(n, 77);
	json_object_put(v);
}
