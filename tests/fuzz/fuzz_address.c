/*
 * fuzz_address: a client's postal address object (fx_model_address_decode, as
 * orders and organizations take it) from a strict-parsed JSON body.
 */
#include "fsvalue.h"
#include "json.h"
#include "model.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_object *o = NULL;
	struct fx_value v = {0};
	struct fx_err e;

	fx_err_clear(&e);
	if (fx_json_parse_object((const char *)data, size, &o, &e) < 0)
		return 0;
	if (fx_model_address_decode(o, "shippingAddress", &v, &e) == 0) {
		/* A decoded address is a map a builder may send to Firestore as is. */
		if (v.type != FX_V_MAP || fx_fsvalue_check(&v, &e) < 0)
			abort();
		fx_value_cleanup(&v);
	} else if (fx_err_http(e.kind) != 400) {
		abort();
	}
	json_object_put(o);
	return 0;
}
