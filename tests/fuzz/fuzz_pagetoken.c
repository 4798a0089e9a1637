/*
 * fuzz_pagetoken: ?pageToken= (base64url of strict JSON holding the query's
 * hash and typed cursor values) through fx_model_page_token_read. A token that
 * reads must make a token that reads back to the same values.
 */
#include "buf.h"
#include "model.h"
#include "value.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SIG "orders|status=paid|createTime desc"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *token = malloc(size + 1);
	struct fx_value values = {0}, again = {0};
	struct fx_buf b;
	struct fx_err e;

	memcpy(token, data, size);
	token[size] = '\0';
	fx_err_clear(&e);
	if (fx_model_page_token_read(token, SIG, &values, &e) == 0) {
		fx_buf_init(&b, 1 << 16);
		if (values.type != FX_V_ARRAY || fx_model_page_token_make(SIG, values.u.arr.items, values.u.arr.n, &b) < 0 ||
		    fx_model_page_token_read(b.data, SIG, &again, &e) < 0 || !fx_value_equal(&values, &again))
			abort();
		fx_buf_cleanup(&b);
		fx_value_cleanup(&again);
		fx_value_cleanup(&values);
	} else if (fx_err_http(e.kind) != 400) {
		abort();
	}
	free(token);
	return 0;
}
