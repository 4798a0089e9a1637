/*
 * fuzz_fsvalue: Firestore REST answers as lib/firestore.c reads them
 * (json-c strict, UTF-8 checked, depth 96), decoded by fx_fsvalue_decode_fields (a
 * Document with "fields") or fx_fsvalue_decode (anything else). A decoded
 * value must encode and decode back to an equal value. The same bytes are
 * also tried as an RFC 3339 timestamp and as a field path, which must
 * format and parse back to the same segments.
 */
#include "buf.h"
#include "fieldpath.h"
#include "firestore.h"
#include "fsvalue.h"
#include "plain.h"
#include "ts.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void round_trip(const struct fx_value *v, bool fields)
{
	json_object *j = fields ? fx_fsvalue_encode_fields(v) : fx_fsvalue_encode(v);
	struct fx_value back = {0}, copy = {0};
	struct fx_err e;

	fx_err_clear(&e);
	if ((fields ? fx_fsvalue_decode_fields(j, &back, &e) : fx_fsvalue_decode(j, &back, &e)) < 0 ||
	    !fx_value_equal(v, &back))
		abort();
	fx_value_copy(&copy, v);
	if (!fx_value_equal(&copy, v))
		abort();
	json_object_put(fx_plain_encode(v));
	fx_err_ignore(fx_fsvalue_check(v, &e));
	fx_value_cleanup(&back);
	fx_value_cleanup(&copy);
	json_object_put(j);
}

static void as_text(const char *s)
{
	struct fx_fieldpath fp = {0}, again = {0};
	struct fx_buf b;
	struct fx_err e;
	int64_t secs;
	int32_t nanos;
	char out[40];

	if (fx_ts_parse(s, &secs, &nanos) == 0) {
		int64_t s2;
		int32_t n2;

		fx_ts_format(secs, nanos, -1, out);
		if (fx_ts_parse(out, &s2, &n2) < 0 || s2 != secs || n2 != nanos)
			abort();
	}
	fx_err_clear(&e);
	if (fx_fieldpath_parse(s, &fp, &e) < 0)
		return;
	fx_buf_init(&b, 1 << 20);
	if (fx_fieldpath_format((const char *const *)fp.segs, fp.n, &b) < 0 ||
	    fx_fieldpath_parse(b.data, &again, &e) < 0 || fx_fieldpath_cmp(&fp, &again) != 0 ||
	    !fx_fieldpath_is_prefix(&fp, &again))
		abort();
	fx_buf_cleanup(&b);
	fx_fieldpath_cleanup(&fp);
	fx_fieldpath_cleanup(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_tokener *tok;
	json_object *j, *fields;
	struct fx_value v = {0};
	struct fx_err e;
	char *s;

	s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	as_text(s);
	free(s);

	tok = json_tokener_new_ex(FX_FS_JSON_DEPTH);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	j = json_tokener_parse_ex(tok, (const char *)data, (int)size);
	json_tokener_free(tok);
	if (!j)
		return 0;
	fx_err_clear(&e);
	if (json_object_is_type(j, json_type_object) && json_object_object_get_ex(j, "fields", &fields)) {
		if (fx_fsvalue_decode_fields(fields, &v, &e) == 0)
			round_trip(&v, true);
	} else if (fx_fsvalue_decode(j, &v, &e) == 0) {
		round_trip(&v, false);
	}
	fx_value_cleanup(&v);
	json_object_put(j);
	return 0;
}
