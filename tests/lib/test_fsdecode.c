/*
 * lib/fsdecode: Firestore answers decoded from their bytes into fx_doc and
 * fx_value in one pass. Every value kind, every refusal, escapes and
 * multi-byte UTF-8, the byte limits, documents and the streamed answers
 * (runQuery, batchGet) with their inline errors. The decoder's agreement
 * with json-c + fx_fsvalue_decode on arbitrary bytes is fuzz_fsdecode's.
 */
#include "fsdecode.h"
#include "fsvalue.h"
#include "map.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct fx_err err;

static int value(const char *text, struct fx_value *v)
{
	fx_err_clear(&err);
	return fx_fsdecode_value(text, strlen(text), v, &err);
}

/* Decodes text as one Value, which must succeed. */
static struct fx_value accepts(const char *text)
{
	struct fx_value v;

	cr_assert_eq(value(text, &v), 0, "refused %s: %s", text, err.message);
	return v;
}

/* text must be refused with a 502 whose message holds want. */
static void refuses(const char *text, const char *want)
{
	struct fx_value v;

	cr_assert_eq(value(text, &v), -1, "accepted %s", text);
	cr_assert_eq(fx_err_http(err.kind), 502, "%s", text);
	cr_assert(strstr(err.message, want), "%s: \"%s\" does not say \"%s\"", text, err.message, want);
	cr_assert_eq(v.type, FX_V_NULL, "a refused decode leaves nothing to free");
}

/* The string of a decoded {"stringValue": ...} */
static void string_is(const char *text, const char *want, size_t want_len)
{
	struct fx_value v = accepts(text);

	cr_assert_eq(v.type, FX_V_STRING);
	cr_assert_eq(v.u.s.n, want_len, "%s: %zu bytes", text, v.u.s.n);
	cr_assert_eq(memcmp(v.u.s.p, want, want_len), 0, "%s", text);
	fx_value_cleanup(&v);
}

Test(fsdecode, every_value_kind_decodes)
{
	struct fx_value v;

	v = accepts("{\"nullValue\": null}");
	cr_assert_eq(v.type, FX_V_NULL);
	v = accepts("{\"nullValue\":\"NULL_VALUE\"}");
	cr_assert_eq(v.type, FX_V_NULL);
	v = accepts("{\"booleanValue\": true}");
	cr_assert(v.type == FX_V_BOOL && v.u.b);
	v = accepts("{\"booleanValue\":false}");
	cr_assert(v.type == FX_V_BOOL && !v.u.b);
	v = accepts("{\"integerValue\": \"-9223372036854775808\"}");
	cr_assert(v.type == FX_V_INT && v.u.i == INT64_MIN);
	v = accepts("{\"integerValue\": 9223372036854775807}");
	cr_assert(v.type == FX_V_INT && v.u.i == INT64_MAX);
	v = accepts("{\"doubleValue\": 12.5}");
	cr_assert(v.type == FX_V_DOUBLE && v.u.d == 12.5);
	v = accepts("{\"doubleValue\": -1.5E-3}");
	cr_assert(v.type == FX_V_DOUBLE && v.u.d == -1.5e-3);
	v = accepts("{\"doubleValue\": 7}");
	cr_assert(v.type == FX_V_DOUBLE && v.u.d == 7);
	v = accepts("{\"doubleValue\": \"NaN\"}");
	cr_assert(v.type == FX_V_DOUBLE && isnan(v.u.d));
	v = accepts("{\"doubleValue\": \"-Infinity\"}");
	cr_assert(v.type == FX_V_DOUBLE && isinf(v.u.d) && v.u.d < 0);
	v = accepts("{\"timestampValue\": \"2026-11-24T08:39:14.175123Z\"}");
	cr_assert(v.type == FX_V_TIMESTAMP && v.u.ts.nanos == 175123000);
	v = accepts("{\"bytesValue\": \"AAECA/7/\"}");
	cr_assert(v.type == FX_V_BYTES && v.u.s.n == 6 && (unsigned char)v.u.s.p[5] == 0xff);
	fx_value_cleanup(&v);
	v = accepts("{\"referenceValue\": \"projects/p/databases/(default)/documents/a/b\"}");
	cr_assert(v.type == FX_V_REF);
	cr_assert_str_eq(v.u.s.p, "projects/p/databases/(default)/documents/a/b");
	fx_value_cleanup(&v);
	v = accepts("{\"geoPointValue\": {\"latitude\": -90, \"longitude\": 180.0}}");
	cr_assert(v.type == FX_V_GEO && v.u.geo.lat == -90 && v.u.geo.lng == 180);
	v = accepts("{\"geoPointValue\": {}}");
	cr_assert(v.type == FX_V_GEO && v.u.geo.lat == 0 && v.u.geo.lng == 0, "the emulator sends (0,0) as {}");
	v = accepts("{\"arrayValue\": {\"values\": [{\"integerValue\": \"1\"}, {\"stringValue\": \"b\"}]}}");
	cr_assert(v.type == FX_V_ARRAY && v.u.arr.n == 2 && v.u.arr.items[1].type == FX_V_STRING);
	fx_value_cleanup(&v);
	v = accepts("{\"arrayValue\": {}}");
	cr_assert(v.type == FX_V_ARRAY && v.u.arr.n == 0);
	v = accepts("{\"mapValue\": {\"fields\": {\"b\": {\"integerValue\": \"2\"}, \"a\": {\"nullValue\": null}}}}");
	cr_assert(v.type == FX_V_MAP && v.u.map.n == 2);
	cr_assert_str_eq(v.u.map.fields[0].name, "b", "fields keep the answer's order");
	fx_value_cleanup(&v);
	v = accepts("{\"mapValue\": {}}");
	cr_assert(v.type == FX_V_MAP && v.u.map.n == 0);
}

Test(fsdecode, every_kind_equals_what_fsvalue_decodes_from_a_tree)
{
	static const char *const texts[] = {
		"{\"mapValue\":{\"fields\":{\"s\":{\"stringValue\":\"x\\u00e9\\ud83d\\ude00\"},\"i\":{\"integerValue\":"
		"\"-7\"},"
		"\"d\":{\"doubleValue\":-0.0},\"z\":{\"doubleValue\":-0},\"t\":{\"timestampValue\":\"2020-02-29T23:59:"
		"59+01:00\"},"
		"\"b\":{\"bytesValue\":\"YQ\"},\"g\":{\"geoPointValue\":{\"latitude\":1e1}},\"n\":{\"nullValue\":null},"
		"\"a\":{\"arrayValue\":{\"values\":[{\"mapValue\":{}},{\"booleanValue\":true}]}}}}}",
		"{\"doubleValue\": 18446744073709551614}",
		"{\"doubleValue\": 1e-400}",
	};

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		json_object *j = json_tokener_parse(texts[i]);
		struct fx_value want, got = accepts(texts[i]);

		fx_err_clear(&err);
		cr_assert_eq(fx_fsvalue_decode(j, &want, &err), 0, "%s", err.message);
		cr_assert(fx_value_equal(&want, &got), "%s decodes differently", texts[i]);
		fx_value_cleanup(&want);
		fx_value_cleanup(&got);
		json_object_put(j);
	}
}

Test(fsdecode, escapes_surrogate_pairs_and_four_byte_characters_decode)
{
	string_is("{\"stringValue\": \"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"}", "a\"b\\c/d\b\f\n\r\t", 12);
	string_is("{\"stringValue\": \"\\u00e9\\u20AC\"}", "\xc3\xa9\xe2\x82\xac", 5);
	string_is("{\"stringValue\": \"\\ud83d\\ude00\"}", "\xf0\x9f\x98\x80", 4);
	string_is("{\"stringValue\": \"\xf0\x9f\x98\x80 raw\"}", "\xf0\x9f\x98\x80 raw", 8);
	string_is("{\"stringValue\": \"nul\\u0000inside\"}", "nul\0inside", 10);
	string_is("{\"stringValue\": \"\"}", "", 0);
	string_is("{\"\\u0073tringValue\": \"escaped key\"}", "escaped key", 11);
}

Test(fsdecode, lone_surrogates_and_bad_escapes_are_refused)
{
	refuses("{\"stringValue\": \"\\ud800\"}", "unpaired surrogate");
	refuses("{\"stringValue\": \"\\ud800x\"}", "unpaired surrogate");
	refuses("{\"stringValue\": \"\\udc00\"}", "unpaired surrogate");
	refuses("{\"stringValue\": \"\\ud800\\u0041\"}", "unpaired surrogate");
	refuses("{\"stringValue\": \"\\ud800\\ud800\"}", "unpaired surrogate");
	refuses("{\"stringValue\": \"\\x\"}", "bad escape");
	refuses("{\"stringValue\": \"\\u12G4\"}", "bad \\u escape");
	refuses("{\"stringValue\": \"\\u12\"}", "bad \\u escape");
	refuses("{\"stringValue\": \"\\U0041\"}", "bad escape");
}

Test(fsdecode, invalid_utf8_and_control_characters_are_refused)
{
	refuses("{\"stringValue\": \"\xc0\x80\"}", "invalid UTF-8");
	refuses("{\"stringValue\": \"\xed\xa0\x80\"}", "invalid UTF-8");
	refuses("{\"stringValue\": \"\xf4\x90\x80\x80\"}", "invalid UTF-8");
	refuses("{\"stringValue\": \"\xf0\x9f\x98\"}", "invalid UTF-8");
	refuses("{\"stringValue\": \"\x80\"}", "invalid UTF-8");
	refuses("{\"stringValue\": \"a\tb\"}", "control character");
	refuses("{\"mapValue\": {\"fields\": {\"\xff\": {\"nullValue\": null}}}}", "invalid UTF-8");
}

Test(fsdecode, strings_are_limited_in_bytes_not_characters)
{
	size_t max = FX_VALUE_MAX_BYTES, n = 4 * ((max + 1) / 4 + 1);
	char *text = malloc(n + 64), *p;
	struct fx_value v;

	/* 4-byte characters up to exactly the limit pass; one byte more does not. */
	p = text + sprintf(text, "{\"stringValue\": \"");
	for (size_t i = 0; i + 4 <= max; i += 4, p += 4)
		memcpy(p, "\xf0\x9f\x98\x80", 4);
	for (size_t i = (max / 4) * 4; i < max; i++)
		*p++ = 'a';
	strcpy(p, "\"}");
	v = accepts(text);
	cr_assert_eq(v.u.s.n, max);
	fx_value_cleanup(&v);
	memmove(p + 1, p, 3);
	*p = 'a';
	refuses(text, "stringValue too long");
	free(text);
}

Test(fsdecode, field_names_are_limited_to_1500_bytes_and_refuse_nul)
{
	char text[2048 + 128];
	char name[1502];
	struct fx_value v;

	memset(name, 'n', 1500);
	name[1500] = '\0';
	snprintf(text, sizeof(text), "{\"mapValue\": {\"fields\": {\"%s\": {\"nullValue\": null}}}}", name);
	v = accepts(text);
	cr_assert_eq(strlen(v.u.map.fields[0].name), 1500);
	fx_value_cleanup(&v);
	snprintf(text, sizeof(text), "{\"mapValue\": {\"fields\": {\"%sn\": {\"nullValue\": null}}}}", name);
	refuses(text, "field name too long");
	refuses("{\"mapValue\": {\"fields\": {\"a\\u0000b\": {\"nullValue\": null}}}}",
		"field name too long or not UTF-8");
}

/* The name of the only field of {"mapValue": {"fields": {NAME: null}}}, NAME as JSON text. */
static void field_name_is(const char *json_name, const char *want, size_t want_len)
{
	char text[4096];
	struct fx_value v;

	snprintf(text, sizeof(text), "{\"mapValue\": {\"fields\": {\"%s\": {\"nullValue\": null}}}}", json_name);
	v = accepts(text);
	cr_assert_eq(v.u.map.n, 1);
	cr_assert_eq(strlen(v.u.map.fields[0].name), want_len, "%s", json_name);
	cr_assert_eq(memcmp(v.u.map.fields[0].name, want, want_len), 0, "%s", json_name);
	fx_value_cleanup(&v);
}

static void field_name_refused(const char *json_name, const char *want)
{
	char text[4096];

	snprintf(text, sizeof(text), "{\"mapValue\": {\"fields\": {\"%s\": {\"nullValue\": null}}}}", json_name);
	refuses(text, want);
}

/* Field names are checked once, by the lexer (raw bytes) and the escapes: every kind of character, and every refusal. */
Test(fsdecode, field_names_take_every_utf8_character_raw_or_escaped_and_refuse_the_rest)
{
	char name[1510], text[1600];
	struct fx_value v;

	field_name_is("\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80", 4);
	field_name_is("a\xc3\xa9\xe2\x82\xac\xf4\x8f\xbf\xbfz", "a\xc3\xa9\xe2\x82\xac\xf4\x8f\xbf\xbfz", 11);
	field_name_is("\\ud83d\\ude00x", "\xf0\x9f\x98\x80x", 5);
	field_name_is("\\u00e9\\u20ac", "\xc3\xa9\xe2\x82\xac", 5);
	field_name_is("tab\\there", "tab\there", 8);
	field_name_is("\\u007f\\u0001", "\x7f\x01", 2);
	/* 375 4-byte characters are 1,500 bytes: the limit; one byte more is over. */
	for (size_t i = 0; i < 1500; i += 4)
		memcpy(name + i, "\xf0\x9f\x98\x80", 4);
	name[1500] = '\0';
	snprintf(text, sizeof(text), "{\"mapValue\": {\"fields\": {\"%s\": {\"nullValue\": null}}}}", name);
	v = accepts(text);
	cr_assert_eq(strlen(v.u.map.fields[0].name), 1500);
	fx_value_cleanup(&v);
	name[1500] = 'a';
	name[1501] = '\0';
	field_name_refused(name, "field name too long");
	field_name_refused("\\u0000", "field name too long or not UTF-8");
	field_name_refused("ab\\u0000", "field name too long or not UTF-8");
	field_name_refused("\xc0\x80", "invalid UTF-8");
	field_name_refused("\xed\xa0\x80", "invalid UTF-8");
	field_name_refused("\xf4\x90\x80\x80", "invalid UTF-8");
	field_name_refused("\xf0\x9f\x98", "invalid UTF-8");
	field_name_refused("a\x80", "invalid UTF-8");
	field_name_refused("a\x01", "control character");
	field_name_refused("\\ud800", "unpaired surrogate");
	field_name_refused("\\udc00x", "unpaired surrogate");
}

Test(fsdecode, integers_outside_int64_are_refused_in_either_form)
{
	refuses("{\"integerValue\": \"9223372036854775808\"}", "integerValue is not an int64");
	refuses("{\"integerValue\": 9223372036854775808}", "integerValue is not an int64");
	refuses("{\"integerValue\": -9223372036854775809}", "integerValue is not an int64");
	refuses("{\"integerValue\": \"-9223372036854775809\"}", "integerValue is not an int64");
	refuses("{\"integerValue\": 1.0}", "integerValue is not an int64");
	refuses("{\"integerValue\": \"1e3\"}", "integerValue is not an int64");
	refuses("{\"integerValue\": \"7\\u0000\"}", "integerValue is not an int64");
	refuses("{\"integerValue\": true}", "integerValue is not an int64");
	refuses("{\"doubleValue\": -99999999999999999999}", "doubleValue is not a finite number");
	refuses("{\"doubleValue\": 18446744073709551615}", "doubleValue is not a finite number");
}

Test(fsdecode, doubles_outside_the_finite_range_and_other_strings_are_refused)
{
	refuses("{\"doubleValue\": 1e400}", "doubleValue is not a finite number");
	refuses("{\"doubleValue\": \"nan\"}", "doubleValue string is not NaN/Infinity/-Infinity");
	refuses("{\"doubleValue\": \"1.5\"}", "doubleValue string is not NaN/Infinity/-Infinity");
	refuses("{\"doubleValue\": null}", "doubleValue is not a finite number");
}

Test(fsdecode, numbers_follow_rfc_8259_grammar)
{
	refuses("{\"doubleValue\": 01}", "malformed answer");
	refuses("{\"doubleValue\": 1.}", "bad number");
	refuses("{\"doubleValue\": .5}", "malformed answer");
	refuses("{\"doubleValue\": -.5}", "bad number");
	refuses("{\"doubleValue\": 1e}", "bad number");
	refuses("{\"doubleValue\": 1e+}", "bad number");
	refuses("{\"doubleValue\": NaN}", "malformed answer");
	refuses("{\"doubleValue\": Infinity}", "malformed answer");
	refuses("{\"doubleValue\": +1}", "malformed answer");
}

Test(fsdecode, malformed_values_are_refused)
{
	refuses("{}", "Value has no key");
	refuses("[]", "Value is not an object");
	refuses("{\"stringValue\": \"a\", \"integerValue\": \"1\"}", "more than one key");
	refuses("{\"fooValue\": 1}", "unknown value type");
	refuses("{\"stringValue\": 1}", "value of the wrong JSON type");
	refuses("{\"booleanValue\": \"true\"}", "booleanValue is not a boolean");
	refuses("{\"nullValue\": 0}", "nullValue is not null");
	refuses("{\"nullValue\": \"NULL\"}", "nullValue is not null");
	refuses("{\"timestampValue\": \"2026-13-01T00:00:00Z\"}", "timestampValue malformed");
	refuses("{\"timestampValue\": \"10000-01-01T00:00:00Z\"}", "timestampValue malformed");
	refuses("{\"bytesValue\": \"YQ=\"}", "bytesValue is not base64");
	refuses("{\"bytesValue\": \"Y-Q/\"}", "bytesValue is not base64");
	refuses("{\"referenceValue\": \"not/a/document\"}", "referenceValue is not a document name");
	refuses("{\"referenceValue\": \"projects/p/databases/(default)/documents/a/b\\u0000\"}", "referenceValue");
	refuses("{\"geoPointValue\": {\"latitude\": 90.5}}", "geoPointValue out of range");
	refuses("{\"geoPointValue\": {\"altitude\": 1}}", "unknown key in geoPointValue");
	refuses("{\"geoPointValue\": {\"latitude\": \"1\"}}", "coordinate is not a finite number");
	refuses("{\"arrayValue\": {\"items\": []}}", "unknown key in arrayValue");
	refuses("{\"arrayValue\": {\"values\": {}}}", "arrayValue.values is not an array");
	refuses("{\"arrayValue\": {\"values\": [{\"arrayValue\": {}}]}}", "array directly inside an array");
	refuses("{\"mapValue\": {\"field\": {}}}", "unknown key in mapValue");
	refuses("{\"mapValue\": {\"fields\": []}}", "fields is not an object");
	refuses("{\"mapValue\": []}", "mapValue is not an object");
}

Test(fsdecode, duplicate_keys_are_refused_wherever_they_are_read)
{
	refuses("{\"stringValue\": \"a\", \"stringValue\": \"b\"}", "duplicate key");
	refuses("{\"mapValue\": {\"fields\": {\"a\": {\"nullValue\": null}, \"a\": {\"nullValue\": null}}}}",
		"duplicate key");
	refuses("{\"mapValue\": {\"fields\": {\"a\": {\"nullValue\": null}, \"\\u0061\": {\"nullValue\": null}}}}",
		"duplicate key");
	refuses("{\"geoPointValue\": {\"latitude\": 1, \"latitude\": 2}}", "duplicate key");
}

Test(fsdecode, duplicate_field_names_are_found_in_a_large_map)
{
	char text[64 * 1024], *p = text;

	p += sprintf(p, "{\"mapValue\": {\"fields\": {");
	for (int i = 0; i < 1000; i++)
		p += sprintf(p, "\"f%d\": {\"integerValue\": \"%d\"},", i, i);
	sprintf(p, "\"f%d\": {\"nullValue\": null}}}}", 517);
	refuses(text, "duplicate key");
	sprintf(p, "\"g\": {\"nullValue\": null}}}}");
	{
		struct fx_value v = accepts(text);

		cr_assert_eq(v.u.map.n, 1001);
		cr_assert_eq(fx_value_field(&v, "f999", 4)->u.i, 999);
		fx_value_cleanup(&v);
	}
}

/* A Value nested depth maps deep: {"mapValue":{"fields":{"m":...}}} around a null. */
static char *nested_maps(int depth)
{
	char *text = malloc((size_t)depth * 40 + 64), *p = text;

	for (int i = 0; i < depth; i++)
		p += sprintf(p, "{\"mapValue\":{\"fields\":{\"m\":");
	p += sprintf(p, "{\"nullValue\":null}");
	for (int i = 0; i < depth; i++)
		p += sprintf(p, "}}}");
	return text;
}

Test(fsdecode, values_nest_at_most_20_levels)
{
	char *ok = nested_maps(20), *deep = nested_maps(21);
	struct fx_value v = accepts(ok);

	fx_value_cleanup(&v);
	refuses(deep, "nesting deeper than 20");
	free(ok);
	free(deep);
}

/* depth nested arrays (JSON containers) inside an ignored member of an element. */
static char *nested_stream(int depth)
{
	char *text = malloc((size_t)depth * 2 + 64), *p = text;

	p += sprintf(p, "[{\"readTime\":");
	for (int i = 0; i < depth - 2; i++)
		*p++ = '[';
	for (int i = 0; i < depth - 2; i++)
		*p++ = ']';
	sprintf(p, "}]");
	return text;
}

static int no_element(struct fx_fsdecode_el *el, void *ctx, struct fx_err *e)
{
	(void)el;
	(void)ctx;
	return fx_err_set(e, FX_INTERNAL, "no element expected");
}

Test(fsdecode, json_nesting_is_bounded_at_fx_fs_json_depth_containers)
{
	char *ok = nested_stream(FX_FS_JSON_DEPTH), *deep = nested_stream(FX_FS_JSON_DEPTH + 1);

	fx_err_clear(&err);
	cr_assert_eq(fx_fsdecode_stream(ok, strlen(ok), FX_FSDECODE_RUNQUERY, "q", no_element, NULL, &err), 0, "%s",
		     err.message);
	cr_assert_eq(fx_fsdecode_stream(deep, strlen(deep), FX_FSDECODE_RUNQUERY, "q", no_element, NULL, &err), -1);
	cr_assert(strstr(err.message, "nested too deeply"), "%s", err.message);
	free(ok);
	free(deep);
}

static const char doc_text[] =
	"{\n"
	"  \"name\": \"projects/p/databases/(default)/documents/organizations/o1/products/p1\",\n"
	"  \"fields\": {\n"
	"    \"name\": {\n"
	"      \"stringValue\": \"Caf\\u00e9 \\ud83d\\ude00\"\n"
	"    },\n"
	"    \"priceCents\": {\n"
	"      \"integerValue\": \"1299\"\n"
	"    }\n"
	"  },\n"
	"  \"createTime\": \"2026-11-24T08:39:14.175123Z\",\n"
	"  \"updateTime\": \"2026-11-24T08:39:15.000001Z\",\n"
	"  \"unknownMember\": {\"anything\": [1, true, null]}\n"
	"}\n";

Test(fsdecode, a_document_decodes_with_its_name_id_fields_and_times)
{
	struct fx_doc d;

	fx_err_clear(&err);
	cr_assert_eq(fx_fsdecode_doc(doc_text, strlen(doc_text), "firestore get", &d, &err), 0, "%s", err.message);
	cr_assert_str_eq(d.name, "projects/p/databases/(default)/documents/organizations/o1/products/p1");
	cr_assert_str_eq(d.id, "p1");
	cr_assert_str_eq(d.create_time, "2026-11-24T08:39:14.175123Z");
	cr_assert_str_eq(d.update_time, "2026-11-24T08:39:15.000001Z");
	cr_assert_str_eq(fx_value_path_str(&d.fields, "name"), "Caf\xc3\xa9 \xf0\x9f\x98\x80");
	cr_assert_eq(fx_value_field(&d.fields, "priceCents", 10)->u.i, 1299);
	fx_firestore_doc_cleanup(&d);
}

/* The document text with from replaced by to must be refused, the message holding want. */
static void doc_refused(const char *from, const char *to, const char *want)
{
	char text[2048];
	const char *at = strstr(doc_text, from);
	struct fx_doc d;

	cr_assert(at, "%s not in the document", from);
	snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - doc_text), doc_text, to, at + strlen(from));
	fx_err_clear(&err);
	cr_assert_eq(fx_fsdecode_doc(text, strlen(text), "firestore get", &d, &err), -1, "accepted %s", text);
	cr_assert_eq(fx_err_http(err.kind), 502);
	cr_assert(strstr(err.message, want), "\"%s\" does not say \"%s\"", err.message, want);
	cr_assert_null(d.name, "a refused document is left zeroed");
	cr_assert_eq(d.fields.type, FX_V_NULL);
}

Test(fsdecode, malformed_documents_are_refused)
{
	doc_refused("\"name\": \"projects", "\"nome\": \"projects", "document without a name");
	doc_refused("\"name\": \"projects/p/databases/(default)/documents/organizations/o1/products/p1\"",
		    "\"name\": \"nameless\"", "document without a name");
	doc_refused("\"name\": \"projects", "\"name\": 1, \"x\": \"projects", "document without a name");
	doc_refused("\"createTime\": \"2026-11-24T08:39:14.175123Z\"",
		    "\"createTime\": \"2026-11-24T08:39:14.1751234567890123456789Z\"", "createTime");
	doc_refused("\"updateTime\": \"", "\"updateTime\": 1, \"x\": \"", "updateTime");
	doc_refused("\"fields\": {", "\"fields\": 1, \"x\": {", "fields is not an object");
	doc_refused("\"integerValue\": \"1299\"", "\"integerValue\": \"12.99\"",
		    "integerValue is not an int64 at priceCents");
	doc_refused("\"createTime\"", "\"name\": \"a/b\", \"createTime\"", "duplicate key");
	doc_refused("\n}\n", "\n} x", "trailing bytes");
	doc_refused("\n}\n", "\n", "malformed answer");
	doc_refused("{\n  \"name\"", "{\n  'name'", "expected a string key");
	doc_refused("[1, true, null]", "[1, true, null,]", "malformed answer");
}

Test(fsdecode, malformed_json_wins_over_a_bad_value_as_a_parse_first_reader_says)
{
	doc_refused("\"1299\"\n    }\n  },", "\"12.99\"\n    }\n  },\"fields\":{},", "duplicate key");
	doc_refused("[1, true, null]", "[1, true, nul]", "malformed answer");
}

/* What a stream handed over, for the tests. */
struct seen {
	int docs, missing;
	char names[8][128];
	char status[64], message[128];
	bool error;
};

static int record(struct fx_fsdecode_el *el, void *ctx, struct fx_err *e)
{
	struct seen *s = ctx;

	switch (el->kind) {
	case FX_FSDECODE_DOC:
		snprintf(s->names[s->docs + s->missing], 128, "%s", el->doc.id);
		s->docs++;
		return 0;
	case FX_FSDECODE_MISSING:
		snprintf(s->names[s->docs + s->missing], 128, "-%s", el->missing);
		s->missing++;
		return 0;
	case FX_FSDECODE_ERROR:
		s->error = true;
		snprintf(s->status, sizeof(s->status), "%s", el->status ? el->status : "(none)");
		snprintf(s->message, sizeof(s->message), "%s", el->message ? el->message : "(none)");
		return fx_err_set(e, FX_UNAVAILABLE, "stopped at an error element");
	}
	return 0;
}

static int stream(const char *text, enum fx_fsdecode_stream_kind kind, struct seen *s)
{
	memset(s, 0, sizeof(*s));
	fx_err_clear(&err);
	return fx_fsdecode_stream(text, strlen(text), kind, "firestore query", record, s, &err);
}

#define DOC(id) "{\"name\":\"projects/p/databases/(default)/documents/c/" id "\",\"fields\":{}}"

Test(fsdecode, run_query_hands_over_documents_in_order_and_skips_the_rest)
{
	struct seen s;

	cr_assert_eq(stream("[{\"document\":" DOC("a") ",\"readTime\":\"2026-01-01T00:00:00Z\"},"
						       "{\"readTime\":\"x\",\"skippedResults\":3},7,\"text\",null,"
						       "{\"transaction\":\"abc\",\"document\":" DOC(
							       "b") "},{\"found\":" DOC("c") "}]",
			    FX_FSDECODE_RUNQUERY, &s),
		     0, "%s", err.message);
	cr_assert_eq(s.docs, 2);
	cr_assert_str_eq(s.names[0], "a");
	cr_assert_str_eq(s.names[1], "b");
	cr_assert_eq(stream("[{\"readTime\":\"2026-01-01T00:00:00Z\"}]", FX_FSDECODE_RUNQUERY, &s), 0);
	cr_assert_eq(s.docs, 0, "an empty query answers one element without a document");
	cr_assert_eq(stream("  [ ]  ", FX_FSDECODE_RUNQUERY, &s), 0);
}

Test(fsdecode, batch_get_hands_over_found_and_missing)
{
	struct seen s;

	cr_assert_eq(stream("[{\"found\":" DOC("a") "},{\"missing\":\"projects/p/databases/(default)/documents/c/z\","
						    "\"readTime\":\"t\"},{\"missing\":7},{\"document\":" DOC("d") "}]",
			    FX_FSDECODE_BATCHGET, &s),
		     0, "%s", err.message);
	cr_assert_eq(s.docs, 1);
	cr_assert_eq(s.missing, 1, "a missing that is not a string is skipped");
	cr_assert_str_eq(s.names[1], "-projects/p/databases/(default)/documents/c/z");
}

Test(fsdecode, an_error_element_is_handed_over_with_its_status_and_message)
{
	struct seen s;

	cr_assert_eq(
		stream("[{\"document\":" DOC(
			       "a") "},{\"error\":{\"code\":10,\"message\":\"too much "
				    "contention\",\"status\":\"ABORTED\",\"details\":[]}},{\"document\":" DOC("b") "}]",
		       FX_FSDECODE_RUNQUERY, &s),
		-1);
	cr_assert(s.error);
	cr_assert_eq(s.docs, 1, "elements after the error are not handed over");
	cr_assert_str_eq(s.status, "ABORTED");
	cr_assert_str_eq(s.message, "too much contention");
	cr_assert_str_eq(err.message, "stopped at an error element", "the callback's error is returned");
	cr_assert_eq(stream("[{\"error\":\"opaque\"}]", FX_FSDECODE_RUNQUERY, &s), -1);
	cr_assert_str_eq(s.status, "(none)", "an error that is not an object has no status");
	cr_assert_eq(stream("[{\"error\":{\"status\":5}}]", FX_FSDECODE_RUNQUERY, &s), -1);
	cr_assert_str_eq(s.status, "(none)", "a status that is not a string is absent");
}

Test(fsdecode, an_error_member_wins_over_a_bad_document_in_its_element)
{
	struct seen s;

	cr_assert_eq(stream("[{\"document\":{\"name\":\"x/y\",\"fields\":{\"a\":{\"bad\":1}}},\"error\":{\"status\":"
			    "\"UNAVAILABLE\"}}]",
			    FX_FSDECODE_RUNQUERY, &s),
		     -1);
	cr_assert(s.error, "%s", err.message);
	cr_assert_str_eq(s.status, "UNAVAILABLE");
	cr_assert_eq(
		stream("[{\"document\":{\"name\":\"x/y\",\"fields\":{\"a\":{\"bad\":1}}}}]", FX_FSDECODE_RUNQUERY, &s),
		-1);
	cr_assert(!s.error);
	cr_assert(strstr(err.message, "unknown value type at a"), "%s", err.message);
}

Test(fsdecode, malformed_streams_are_refused_before_anything_is_trusted)
{
	struct seen s;

	cr_assert_eq(stream("{\"document\":" DOC("a") "}", FX_FSDECODE_RUNQUERY, &s), -1);
	cr_assert(strstr(err.message, "not an array"), "%s", err.message);
	cr_assert_eq(stream("", FX_FSDECODE_RUNQUERY, &s), -1);
	cr_assert(strstr(err.message, "malformed answer"), "%s", err.message);
	cr_assert_eq(stream("[{\"document\":" DOC("a") "}] [", FX_FSDECODE_RUNQUERY, &s), -1);
	cr_assert(strstr(err.message, "trailing bytes"), "%s", err.message);
	cr_assert_eq(stream("[{\"document\":" DOC("a") "},]", FX_FSDECODE_RUNQUERY, &s), -1);
	cr_assert(strstr(err.message, "malformed answer"), "%s", err.message);
	cr_assert_eq(stream("[{\"error\":{\"status\":\"ABORTED\"}}, {\"x\": tru}]", FX_FSDECODE_RUNQUERY, &s), -1);
	cr_assert(strstr(err.message, "malformed answer"), "JSON broken after an error element: %s", err.message);
	cr_assert_eq(stream("[{\"document\":" DOC("a") ",\"document\":" DOC("b") "}]", FX_FSDECODE_RUNQUERY, &s), -1);
	cr_assert(strstr(err.message, "duplicate key"), "%s", err.message);
}

/* The bytes of a file under the source tree, NUL-terminated; *n its length. */
static char *read_file(const char *rel, size_t *n)
{
	const char *top = getenv("top_srcdir");
	char path[1024];
	FILE *f;
	char *text;
	long len;

	snprintf(path, sizeof(path), "%s/%s", top && *top ? top : ".", rel);
	f = fopen(path, "rb");
	cr_assert(f, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	text = malloc((size_t)len + 1);
	cr_assert_eq(fread(text, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	text[len] = '\0';
	*n = (size_t)len;
	return text;
}

/* The Documents of a stream, in order, for comparing. */
struct docs {
	struct fx_doc d[32];
	size_t n;
};

static int keep_doc(struct fx_fsdecode_el *el, void *ctx, struct fx_err *e)
{
	struct docs *ds = ctx;

	(void)e;
	cr_assert_eq(el->kind == FX_FSDECODE_ERROR, false);
	if (el->kind == FX_FSDECODE_DOC && ds->n < 32) {
		ds->d[ds->n++] = el->doc;
		memset(&el->doc, 0, sizeof(el->doc));
	}
	return 0;
}

/* The Document j as the reader before lib/fsdecode made it: name, and fields through fx_fsvalue_decode_fields. */
static void old_doc_equals(json_object *j, const struct fx_doc *d, const char *file)
{
	struct fx_value fields;

	cr_assert_str_eq(d->name, json_object_get_string(json_object_object_get(j, "name")), "%s", file);
	cr_assert_str_eq(d->update_time, json_object_get_string(json_object_object_get(j, "updateTime")), "%s", file);
	fx_err_clear(&err);
	cr_assert_eq(fx_fsvalue_decode_fields(json_object_object_get(j, "fields"), &fields, &err), 0, "%s",
		     err.message);
	cr_assert(fx_value_equal(&fields, &d->fields), "%s: %s decodes differently", file, d->name);
	fx_value_cleanup(&fields);
}

/* A captured answer decodes to what json-c + fx_fsvalue_decode made of it. */
static void capture_decodes_as_before(const char *rel, int kind /* 0 get, 1 runQuery, 2 batchGet */, size_t want_docs)
{
	size_t n;
	char *text = read_file(rel, &n);
	json_tokener *tok = json_tokener_new_ex(FX_FS_JSON_DEPTH);
	json_object *j = json_tokener_parse_ex(tok, text, (int)n);

	cr_assert(j, "%s does not parse", rel);
	fx_err_clear(&err);
	if (kind == 0) {
		struct fx_doc d;

		cr_assert_eq(fx_fsdecode_doc(text, n, "get", &d, &err), 0, "%s: %s", rel, err.message);
		old_doc_equals(j, &d, rel);
		fx_firestore_doc_cleanup(&d);
	} else {
		struct docs ds = {.n = 0};
		size_t k = 0;

		cr_assert_eq(fx_fsdecode_stream(text, n, kind == 1 ? FX_FSDECODE_RUNQUERY : FX_FSDECODE_BATCHGET, "s",
						keep_doc, &ds, &err),
			     0, "%s: %s", rel, err.message);
		cr_assert_eq(ds.n, want_docs, "%s: %zu documents", rel, ds.n);
		for (size_t i = 0; i < json_object_array_length(j); i++) {
			json_object *doc;

			if (json_object_object_get_ex(json_object_array_get_idx(j, i), kind == 1 ? "document" : "found",
						      &doc))
				old_doc_equals(doc, &ds.d[k++], rel);
		}
		cr_assert_eq(k, ds.n);
		for (size_t i = 0; i < ds.n; i++)
			fx_firestore_doc_cleanup(&ds.d[i]);
	}
	json_object_put(j);
	json_tokener_free(tok);
	free(text);
}

Test(fsdecode, emulator_answers_decode_as_json_c_and_fsvalue_decoded_them)
{
	capture_decodes_as_before("tests/data/firestore/get_after_commit.response.json", 0, 1);
	capture_decodes_as_before("tests/data/firestore/get_depth20.response.json", 0, 1);
	capture_decodes_as_before("tests/data/firestore/create_all_types.response.json", 0, 1);
	capture_decodes_as_before("tests/data/firestore/runquery_docsnap_cursor.response.json", 1, 3);
	capture_decodes_as_before("tests/data/firestore/runquery_empty.response.json", 1, 0);
	capture_decodes_as_before("tests/data/firestore/batchget.response.json", 2, 2);
	/* A products page, a product and a batchGet of two products and a missing one, from a bench stack. */
	capture_decodes_as_before("tests/fuzz/corpus/fsdecode/emulator-product-list.runquery.json", 1, 21);
	capture_decodes_as_before("tests/fuzz/corpus/fsdecode/emulator-product.get.json", 0, 1);
	capture_decodes_as_before("tests/fuzz/corpus/fsdecode/emulator-products.batchget.json", 2, 2);
}

/* The field count of each document a stream hands over, and that field i is named f<i> holding integer i. */
struct counts {
	size_t n[8];
	int docs;
};

static int count_fields(struct fx_fsdecode_el *el, void *ctx, struct fx_err *e)
{
	struct counts *c = ctx;
	const struct fx_value *f = &el->doc.fields;

	(void)e;
	cr_assert_eq(el->kind, FX_FSDECODE_DOC);
	cr_assert_eq(f->type, FX_V_MAP);
	cr_assert_leq(f->u.map.n, f->u.map.cap, "document %d", c->docs);
	for (size_t i = 0; i < f->u.map.n; i++) {
		char name[32];

		snprintf(name, sizeof(name), "f%zu", i);
		cr_assert_str_eq(f->u.map.fields[i].name, name, "document %d, field %zu", c->docs, i);
		cr_assert_eq(f->u.map.fields[i].value.type, FX_V_INT);
		cr_assert_eq(f->u.map.fields[i].value.u.i, (int64_t)i);
	}
	/* One allocation, sized by the document before, when this one has no more fields than it. */
	if (c->docs > 0 && c->n[c->docs - 1] > 0 && f->u.map.n <= c->n[c->docs - 1])
		cr_assert_eq(f->u.map.cap, c->n[c->docs - 1], "document %d: room for %zu fields, not %zu", c->docs,
			     c->n[c->docs - 1], f->u.map.cap);
	c->n[c->docs++] = f->u.map.n;
	return 0;
}

/* A runQuery element with a document of n fields f0..f<n-1>, or "fields": null when n is -1. */
static void query_doc(char **p, int n)
{
	*p += sprintf(*p, "{\"document\":{\"name\":\"projects/p/databases/(default)/documents/c/d%d\",\"fields\":", n);
	if (n < 0) {
		*p += sprintf(*p, "null");
	} else {
		*p += sprintf(*p, "{");
		for (int i = 0; i < n; i++)
			*p += sprintf(*p, "%s\"f%d\":{\"integerValue\":\"%d\"}", i ? "," : "", i, i);
		*p += sprintf(*p, "}");
	}
	*p += sprintf(*p, "}}");
}

/*
 * The documents of a stream get their field arrays sized by the one before
 * (one allocation each): a document with more fields than that, fewer,
 * none, or "fields": null still decodes whole.
 */
Test(fsdecode, documents_of_a_stream_with_more_fewer_or_no_fields_than_the_one_before_decode_whole)
{
	static const int shape[] = {18, 18, 3, 40, 0, -1, 1, 300};
	char *text = malloc(64 * 1024), *p = text;
	struct counts c = {0};

	*p++ = '[';
	for (size_t i = 0; i < sizeof(shape) / sizeof(shape[0]); i++) {
		if (i)
			*p++ = ',';
		query_doc(&p, shape[i]);
	}
	strcpy(p, "]");
	fx_err_clear(&err);
	cr_assert_eq(
		fx_fsdecode_stream(text, strlen(text), FX_FSDECODE_RUNQUERY, "firestore query", count_fields, &c, &err),
		0, "%s", err.message);
	cr_assert_eq(c.docs, 8);
	for (size_t i = 0; i < 8; i++)
		cr_assert_eq(c.n[i], (size_t)(shape[i] < 0 ? 0 : shape[i]), "document %zu", i);
	free(text);
}

Test(fsdecode, kept_field_names_decode_as_copies_did_raw_escaped_and_nested)
{
	static const char *const keep[] = {"name", "priceCents", "stock", "onHand", "caf\xc3\xa9", NULL};
	static const char text[] = "{\"name\":\"projects/p/databases/(default)/documents/o/p1\",\"fields\":{"
				   "\"na\\u006de\":{\"stringValue\":\"x\"},\"priceCents\":{\"integerValue\":\"5\"},"
				   "\"stock\":{\"mapValue\":{\"fields\":{\"onHand\":{\"integerValue\":\"1\"},"
				   "\"on\\u0000Hand\":{\"integerValue\":\"2\"}}}},"
				   "\"caf\\u00e9\":{\"nullValue\":null},\"caf\xc3\xa9s\":{\"nullValue\":null},"
				   "\"\xf0\x9f\x98\x80\":{\"booleanValue\":true}}}";
	struct fx_doc before, after, again;

	fx_err_clear(&err);
	cr_assert_eq(fx_fsdecode_doc(text, strlen(text), "get", &before, &err), -1, "a NUL in a field name");
	cr_assert(strstr(err.message, "field name"), "%s", err.message);
	fx_firestore_doc_cleanup(&before);
	{
		char ok[sizeof(text)];
		char *nul = strstr(strcpy(ok, text), "\\u0000");

		memcpy(nul, "__x___", 6); /* "on__x___Hand": another name of the same bytes' length */
		cr_assert_eq(fx_fsdecode_doc(ok, strlen(ok), "get", &before, &err), 0, "%s", err.message);
		cr_assert_eq(fx_value_keep_names(keep), 5);
		cr_assert_eq(fx_fsdecode_doc(ok, strlen(ok), "get", &after, &err), 0, "%s", err.message);
		cr_assert_eq(fx_fsdecode_doc(ok, strlen(ok), "get", &again, &err), 0, "%s", err.message);
	}
	cr_assert(fx_value_equal(&before.fields, &after.fields), "the same tree with kept names");
	cr_assert_eq(after.fields.u.map.n, 6);
	for (size_t i = 0; i < 4; i++) {
		const struct fx_field *f = &after.fields.u.map.fields[i];

		cr_assert_eq(f->name, again.fields.u.map.fields[i].name, "%s is kept", f->name);
		cr_assert_neq(f->name, before.fields.u.map.fields[i].name);
	}
	cr_assert_str_eq(after.fields.u.map.fields[0].name, "name", "an escaped name takes the kept one");
	cr_assert_neq(after.fields.u.map.fields[4].name, again.fields.u.map.fields[4].name, "cafés: not kept");
	cr_assert_neq(after.fields.u.map.fields[5].name, again.fields.u.map.fields[5].name);
	cr_assert_eq(fx_value_path(&after.fields, "stock")->u.map.fields[0].name,
		     fx_value_path(&again.fields, "stock")->u.map.fields[0].name, "nested: onHand is kept");
	cr_assert_neq(fx_value_path(&after.fields, "stock")->u.map.fields[1].name,
		      fx_value_path(&again.fields, "stock")->u.map.fields[1].name);
	cr_assert_eq(fx_value_path(&after.fields, "stock.onHand")->u.i, 1);
	fx_firestore_doc_cleanup(&before);
	fx_firestore_doc_cleanup(&after);
	fx_firestore_doc_cleanup(&again);
}

/* How many string values below v are lent, and how many are copies. */
static void count_lent(const struct fx_value *v, size_t *lent, size_t *copied)
{
	if (v->type == FX_V_STRING)
		++*(v->lent ? lent : copied);
	else if (v->type == FX_V_MAP)
		for (size_t i = 0; i < v->u.map.n; i++)
			count_lent(&v->u.map.fields[i].value, lent, copied);
	else if (v->type == FX_V_ARRAY)
		for (size_t i = 0; i < v->u.arr.n; i++)
			count_lent(&v->u.arr.items[i], lent, copied);
}

/*
 * text decoded with its strings lent from an arena of limit bytes and with
 * copies: the same documents; returns the lent and copied string counts.
 */
static void lend_decodes_as_copies(const char *text, size_t limit, size_t want_docs, size_t *lent, size_t *copied)
{
	static struct docs a, b;
	struct fx_arena arena;

	a.n = b.n = 0;
	*lent = *copied = 0;
	fx_arena_init(&arena, limit);
	fx_err_clear(&err);
	cr_assert_eq(fx_fsdecode_stream(text, strlen(text), FX_FSDECODE_RUNQUERY, "q", keep_doc, &a, &err), 0, "%s",
		     err.message);
	cr_assert_eq(fx_fsdecode_stream_lend(text, strlen(text), FX_FSDECODE_RUNQUERY, "q", &arena, keep_doc, &b, &err),
		     0, "%s", err.message);
	cr_assert_eq(a.n, want_docs);
	cr_assert_eq(b.n, want_docs);
	for (size_t i = 0; i < a.n; i++) {
		size_t l = 0, c = 0;

		cr_assert_str_eq(a.d[i].name, b.d[i].name);
		cr_assert(fx_value_equal(&a.d[i].fields, &b.d[i].fields), "document %zu decodes differently lent", i);
		count_lent(&a.d[i].fields, &l, &c);
		cr_assert_eq(l, 0, "copies only without an arena");
		count_lent(&b.d[i].fields, lent, copied);
		fx_firestore_doc_cleanup(&a.d[i]);
		fx_firestore_doc_cleanup(&b.d[i]);
	}
	/* The documents are gone before the arena, as a request's list frees them before its arena is reset. */
	fx_arena_cleanup(&arena);
}

/*
 * A page's string values lent from an arena (a list within its request)
 * decode as copies did: escapes, 4-byte UTF-8 raw and escaped, a NUL
 * inside, the empty string, strings in nested maps and arrays; past the
 * arena's budget they are copies again, and a document at the size cap
 * decodes either way. Cleanup frees only the copies (valgrind).
 */
Test(fsdecode, a_page_lending_its_strings_from_an_arena_decodes_as_copies_did)
{
	static const char doc[] =
		"{\"document\":{\"name\":\"projects/p/databases/(default)/documents/c/d%d\",\"fields\":{"
		"\"plain\":{\"stringValue\":\"Bench item %d\"},"
		"\"escaped\":{\"stringValue\":\"a\\\"b\\\\c\\n\\u00e9\\/\"},"
		"\"four\":{\"stringValue\":\"\xf0\x9f\x98\x80 and \\ud83d\\ude00\"},"
		"\"nul\":{\"stringValue\":\"a\\u0000b\"},"
		"\"empty\":{\"stringValue\":\"\"},"
		"\"n\":{\"integerValue\":\"%d\"},"
		"\"nested\":{\"mapValue\":{\"fields\":{\"in\":{\"mapValue\":{\"fields\":{"
		"\"s\":{\"stringValue\":\"deep\"},"
		"\"a\":{\"arrayValue\":{\"values\":[{\"stringValue\":\"x\"},{\"stringValue\":\"y\"}]}}}}}}}}"
		"}}}";
	char *text = malloc(64 * 1024), *p = text;
	size_t lent, copied, cap_doc = FX_VALUE_MAX_BYTES + 200;
	char *big;

	lend_decodes_as_copies("[]", 1 << 20, 0, &lent, &copied);
	cr_assert_eq(lent + copied, 0);

	*p++ = '[';
	for (int i = 0; i < 20; i++) {
		if (i)
			*p++ = ',';
		p += sprintf(p, "{\"readTime\":\"2026-12-03T05:49:56.176488Z\"},");
		p += sprintf(p, doc, i, i, i);
	}
	strcpy(p, "]");
	/* Room for all: 8 strings a document, each lent. */
	lend_decodes_as_copies(text, 1 << 20, 20, &lent, &copied);
	cr_assert_eq(lent, 20 * 8, "%zu lent", lent);
	cr_assert_eq(copied, 0);
	/* A budget of 10 strings' room (each short one takes one max_align_t): the first 10 lent, the rest copies. */
	lend_decodes_as_copies(text, 10 * sizeof(max_align_t), 20, &lent, &copied);
	cr_assert_eq(lent, 10, "%zu lent", lent);
	cr_assert_eq(copied, 20 * 8 - 10);
	free(text);

	/* A document holding a string at the size cap: lent when the arena has room, a copy when not. */
	big = malloc(cap_doc + 256);
	p = big + sprintf(big, "[{\"document\":{\"name\":\"projects/p/databases/(default)/documents/c/big\","
			       "\"fields\":{\"s\":{\"stringValue\":\"");
	memset(p, 'x', FX_VALUE_MAX_BYTES);
	strcpy(p + FX_VALUE_MAX_BYTES, "\"}}}}]");
	lend_decodes_as_copies(big, 2u << 20, 1, &lent, &copied);
	cr_assert_eq(lent, 1);
	lend_decodes_as_copies(big, 1u << 19, 1, &lent, &copied);
	cr_assert_eq(copied, 1);
	free(big);
}

/*
 * The lexer scans a string's plain bytes four at a time while four are left,
 * then one at a time: every byte value at every offset of a 9-byte string
 * (each place in and after a four-byte step), and each UTF-8 width and
 * escape there, decodes or is refused as the byte's class says.
 */
Test(fsdecode, every_byte_at_every_offset_of_a_string_is_classed_as_json_says)
{
	static const char *const inserts[] = {
		"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\\n", "\\u00e9", "\\ud83d\\ude00", "\\\\", "\\\""};
	static const char *const decoded[] = {
		"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\n", "\xc3\xa9", "\xf0\x9f\x98\x80", "\\", "\""};

	for (size_t pos = 0; pos < 9; pos++) {
		for (unsigned b = 0; b < 256; b++) {
			static const char open[] = "{\"stringValue\": \"";
			char text[64], want[16];
			size_t n = sizeof(open) - 1;
			const char *why = b == '"'    ? "expected"
					  : b == '\\' ? (pos < 8 ? "bad escape" : "unterminated string")
					  : b < 0x20  ? "control character"
					  : b >= 0x80 ? "invalid UTF-8"
						      : NULL;
			struct fx_value v;
			int rc;

			memset(want, 'a', 9);
			want[pos] = (char)b;
			memcpy(text, open, n);
			memcpy(text + n, want, 9);
			memcpy(text + n + 9, "\"}", 2);
			n += 11;
			fx_err_clear(&err);
			rc = fx_fsdecode_value(text, n, &v, &err);
			if (why) {
				cr_assert_eq(rc, -1, "byte 0x%02x at %zu accepted", b, pos);
				cr_assert(strstr(err.message, why), "byte 0x%02x at %zu: %s", b, pos, err.message);
				continue;
			}
			cr_assert_eq(rc, 0, "byte 0x%02x at %zu: %s", b, pos, err.message);
			cr_assert_eq(v.type, FX_V_STRING);
			cr_assert_eq(v.u.s.n, 9);
			cr_assert_eq(memcmp(v.u.s.p, want, 9), 0, "byte 0x%02x at %zu", b, pos);
			fx_value_cleanup(&v);
		}
		for (size_t i = 0; i < sizeof(inserts) / sizeof(inserts[0]); i++) {
			char text[96], want[32];

			snprintf(text, sizeof(text), "{\"stringValue\": \"%.*s%s%.*s\"}", (int)pos, "aaaaaaaa",
				 inserts[i], (int)(8 - pos), "aaaaaaaa");
			snprintf(want, sizeof(want), "%.*s%s%.*s", (int)pos, "aaaaaaaa", decoded[i], (int)(8 - pos),
				 "aaaaaaaa");
			string_is(text, want, strlen(want));
		}
	}
}

/* JSON's four whitespace bytes between every token of a stream; any other byte there is refused. */
Test(fsdecode, whitespace_is_json_s_four_bytes_between_any_tokens)
{
	static const char *const tokens[] = {"[",
					     "{",
					     "\"document\"",
					     ":",
					     "{",
					     "\"name\"",
					     ":",
					     "\"projects/p/databases/(default)/documents/c/d1\"",
					     ",",
					     "\"fields\"",
					     ":",
					     "{",
					     "\"n\"",
					     ":",
					     "{",
					     "\"integerValue\"",
					     ":",
					     "-12",
					     "}",
					     "}",
					     "}",
					     "}",
					     "]"};
	const size_t ntokens = sizeof(tokens) / sizeof(tokens[0]);
	static const char *const gaps[] = {"", " ", "\t", "\n", "\r", " \r\n\t \n      ", NULL};
	static const char *const not_ws[] = {"\v", "\f", "\xc2\xa0", "\x01"};

	for (size_t g = 0; gaps[g]; g++) {
		char text[512] = "";
		struct seen s;

		for (size_t i = 0; i < ntokens; i++)
			snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s%s", gaps[g], tokens[i]);
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s", gaps[g]);
		cr_assert_eq(stream(text, FX_FSDECODE_RUNQUERY, &s), 0, "gap %zu: %s", g, err.message);
		cr_assert_eq(s.docs, 1);
		cr_assert_str_eq(s.names[0], "d1");
	}
	for (size_t w = 0; w < sizeof(not_ws) / sizeof(not_ws[0]); w++) {
		for (size_t at = 0; at <= ntokens; at++) {
			char text[512] = "";
			struct seen s;

			for (size_t i = 0; i < ntokens; i++)
				snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s%s",
					 i == at ? not_ws[w] : "", tokens[i]);
			if (at == ntokens)
				snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s", not_ws[w]);
			cr_assert_eq(stream(text, FX_FSDECODE_RUNQUERY, &s), -1, "accepted byte %zu before token %zu",
				     w, at);
			cr_assert_eq(fx_err_http(err.kind), 502);
		}
	}
}

/*
 * Every proper prefix of a pretty-printed answer, each in a buffer of its
 * own exact size (so that valgrind sees a read past it), is refused as
 * malformed; the whole answer decodes.
 */
Test(fsdecode, every_truncation_of_an_answer_is_refused_without_reading_past_it)
{
	char *full = NULL;
	size_t n;
	struct seen s;

	cr_assert(asprintf(&full, "[\n{\n  \"document\": %s,\n  \"readTime\": \"2026-11-24T08:39:16Z\"\n}\n]\n",
			   "{\n  \"name\": \"projects/p/databases/(default)/documents/c/d1\",\n  \"fields\": {\n"
			   "    \"s\": {\n      \"stringValue\": \"plain text then \\u00e9\\ud83d\\ude00 \xe2\x82\xac"
			   " and \\\"quotes\\\"\"\n    },\n    \"i\": {\n      \"integerValue\": \"1299\"\n    }\n  "
			   "}\n}") > 0);
	n = strlen(full);
	cr_assert_eq(stream(full, FX_FSDECODE_RUNQUERY, &s), 0, "%s", err.message);
	cr_assert_eq(s.docs, 1);
	for (size_t k = 0; k < n; k++) {
		char *cut = malloc(k ? k : 1);
		int rc;

		memcpy(cut, full, k);
		fx_err_clear(&err);
		memset(&s, 0, sizeof(s));
		rc = fx_fsdecode_stream(cut, k, FX_FSDECODE_RUNQUERY, "firestore query", record, &s, &err);
		free(cut);
		/* Only the trailing newline may go. */
		if (k == n - 1) {
			cr_assert_eq(rc, 0, "the answer without its last newline: %s", err.message);
			continue;
		}
		cr_assert_eq(rc, -1, "accepted the first %zu of %zu bytes", k, n);
		cr_assert(strstr(err.message, "malformed answer"), "%zu bytes: %s", k, err.message);
	}
	free(full);
}
