/*
 * fuzz_json: the strict JSON scanner (fx_json_parse) on request bodies,
 * then the allowlist and typed getters handlers apply to what it accepts.
 * Whatever the scanner accepts must serialize to text it accepts again.
 */
#include "json.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const allowed[] = {"name", "sku", "priceCents", "active", "address", "items", "tags", NULL};

static void getters(json_object *o)
{
	struct fx_err e;
	const char *s;
	int64_t i;
	bool b, present;
	json_object *sub;

	fx_err_clear(&e);
	fx_err_ignore(fx_json_allow(o, allowed, "", &e));
	fx_err_ignore(fx_json_string(o, "name", "name", false, 1, 200, &s, &present, &e));
	fx_err_ignore(fx_json_string(o, "sku", "sku", true, 1, 64, &s, NULL, &e));
	fx_err_ignore(fx_json_int64(o, "priceCents", "priceCents", false, 0, INT64_MAX, &i, &present, &e));
	fx_err_ignore(fx_json_bool(o, "active", "active", false, &b, &present, &e));
	if (fx_json_object(o, "address", "address", false, &sub, &present, &e) == 0 && present)
		fx_err_ignore(fx_json_allow(sub, allowed, "address.", &e));
	if (fx_json_array(o, "items", "items", false, 100, &sub, &present, &e) == 0 && present)
		(void)json_object_array_length(sub);
	if (fx_json_string(o, "tags", "tags", false, 0, 32, &s, &present, &e) == 0 && present)
		fx_err_ignore(fx_json_enum_index(s, allowed));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	json_object *o = NULL, *again = NULL;
	struct fx_err e;
	const char *text;
	size_t len;

	if (fx_json_utf8_valid(p, size))
		(void)fx_json_utf8_len(p, size);
	fx_err_clear(&e);
	if (fx_json_parse(p, size, FX_JSON_MAX_DEPTH, &o, &e) < 0) {
		if (fx_err_http(e.kind) != 400)
			abort();
		return 0;
	}
	if (json_object_is_type(o, json_type_object))
		getters(o);
	text = fx_json_text(o, &len);
	fx_err_clear(&e);
	if (fx_json_parse(text, len, FX_JSON_MAX_DEPTH, &again, &e) < 0)
		abort(); /* what we accepted and printed must read back */
	json_object_put(again);
	json_object_put(o);
	return 0;
}
