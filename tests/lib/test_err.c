#include "err.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

Test(err, invalid_names_its_field_and_reason_in_the_message_and_a_detail)
{
	struct fx_err e;

	fx_err_clear(&e);
	cr_assert_eq(fx_err_invalid(&e, "sku", "must be at most %d characters", 64), -1);
	cr_assert_eq(fx_err_http(e.kind), 400);
	cr_assert_str_eq(fx_err_name(e.kind), "INVALID_ARGUMENT");
	cr_assert_str_eq(e.message, "invalid sku: must be at most 64 characters");
	cr_assert_eq(e.ndetails, 1);
	cr_assert_str_eq(e.details[0].field, "sku");
	cr_assert_str_eq(e.details[0].reason, "must be at most 64 characters");
}

/*
 * Past FX_ERR_MAX_DETAILS details the detail is dropped, but the message is
 * still this error's: it said the reason of the last detail kept, another
 * field's.
 */
Test(err, invalid_past_the_detail_cap_still_says_its_own_reason)
{
	struct fx_err e;
	char field[32];

	fx_err_clear(&e);
	for (int i = 0; i < FX_ERR_MAX_DETAILS; i++) {
		snprintf(field, sizeof(field), "items[%d].quantity", i);
		fx_err_detail(&e, field, "must be at least 1");
	}
	cr_assert_eq(fx_err_invalid(&e, "items[16].sku", "is required"), -1);
	cr_assert_str_eq(e.message, "invalid items[16].sku: is required");
	cr_assert_eq(e.ndetails, FX_ERR_MAX_DETAILS, "the detail itself is dropped");
	cr_assert_str_eq(e.details[FX_ERR_MAX_DETAILS - 1].field, "items[15].quantity");
}

/* Google's canonical names (google.rpc.Code), the only names a client may see. */
static const char *const canonical[] = {
	"OK",	     "CANCELLED",      "UNKNOWN",	    "INVALID_ARGUMENT",	  "DEADLINE_EXCEEDED",
	"NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
	"ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",	    "INTERNAL",		  "UNAVAILABLE",
	"DATA_LOSS", "UNAUTHENTICATED"};
#define NCANONICAL (sizeof(canonical) / sizeof(canonical[0]))

static bool is_canonical(const char *name)
{
	for (size_t i = 0; i < NCANONICAL; i++)
		if (strcmp(canonical[i], name) == 0)
			return true;
	return false;
}

Test(err, every_code_has_an_http_status_and_a_canonical_name)
{
	for (int c = FX_OK; c < FX_CODE_COUNT; c++) {
		const char *name = fx_err_name((enum fx_code)c);
		int http = fx_err_http((enum fx_code)c);

		cr_assert_not_null(name, "code %d has no name", c);
		cr_assert(is_canonical(name), "code %d: %s is no canonical name", c, name);
		cr_assert(c == FX_OK ? http == 200 : http >= 400 && http <= 599, "code %d (%s): HTTP %d", c, name,
			  http);
	}
}

Test(err, no_two_codes_share_a_pair)
{
	for (int a = FX_OK; a < FX_CODE_COUNT; a++)
		for (int b = a + 1; b < FX_CODE_COUNT; b++)
			cr_assert(fx_err_http((enum fx_code)a) != fx_err_http((enum fx_code)b) ||
					  strcmp(fx_err_name((enum fx_code)a), fx_err_name((enum fx_code)b)) != 0,
				  "codes %d and %d are both %d %s", a, b, fx_err_http((enum fx_code)a),
				  fx_err_name((enum fx_code)a));
}

Test(err, every_canonical_name_has_a_code_and_reads_back)
{
	for (size_t i = 0; i < NCANONICAL; i++) {
		enum fx_code c = fx_err_from_name(canonical[i]);

		cr_assert_str_eq(fx_err_name(c), canonical[i]);
	}
	cr_assert_eq(fx_err_from_name("FAILED_PRECONDITION"), FX_FAILED_PRECONDITION, "the 409, not the 412");
	cr_assert_eq(fx_err_from_name("UNAVAILABLE"), FX_UNAVAILABLE, "the 503, not the 502");
	cr_assert_eq(fx_err_from_name("NO_SUCH_STATUS"), FX_OK);
	cr_assert_eq(fx_err_from_name("invalid_argument"), FX_OK, "names are upper case");
	cr_assert_eq(fx_err_from_name(NULL), FX_OK);
}

/* The pairs nginx's own error pages use, as the contract gives them (API.md, docs/fuzzing.md). */
Test(err, status_for_gives_the_contracts_name_of_each_http_status)
{
	static const struct {
		int http;
		const char *name;
	} pairs[] = {
		{400, "INVALID_ARGUMENT"},
		{401, "UNAUTHENTICATED"},
		{403, "PERMISSION_DENIED"},
		{404, "NOT_FOUND"},
		{405, "UNIMPLEMENTED"},
		{408, "DEADLINE_EXCEEDED"},
		{409, "ABORTED"},
		{411, "INVALID_ARGUMENT"},
		{412, "FAILED_PRECONDITION"},
		{413, "INVALID_ARGUMENT"},
		{414, "INVALID_ARGUMENT"},
		{415, "INVALID_ARGUMENT"},
		{429, "RESOURCE_EXHAUSTED"},
		{431, "INVALID_ARGUMENT"},
		{499, "CANCELLED"},
		{500, "INTERNAL"},
		{501, "UNIMPLEMENTED"},
		{502, "UNAVAILABLE"},
		{503, "UNAVAILABLE"},
		{504, "DEADLINE_EXCEEDED"},
		{505, "INTERNAL"},
		{418, "UNKNOWN"},
	};

	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
		cr_assert_str_eq(fx_err_status_for(pairs[i].http), pairs[i].name, "HTTP %d", pairs[i].http);
}

Test(err, a_code_with_an_http_status_of_its_own_answers_it)
{
	struct fx_err e;

	fx_err_clear(&e);
	cr_assert_eq(fx_err_set(&e, FX_CONDITION_NOT_MET, "the %s changed since that etag", "order"), -1);
	cr_assert_eq(fx_err_http(e.kind), 412);
	cr_assert_str_eq(fx_err_name(e.kind), "FAILED_PRECONDITION");
	cr_assert_str_eq(e.message, "the order changed since that etag");
	cr_assert_eq(fx_err_http(FX_BAD_GATEWAY), 502);
	cr_assert_str_eq(fx_err_name(FX_BAD_GATEWAY), "UNAVAILABLE");
	cr_assert_eq(fx_err_http(FX_PAYLOAD_TOO_LARGE), 413);
	cr_assert_str_eq(fx_err_name(FX_PAYLOAD_TOO_LARGE), "INVALID_ARGUMENT");
	cr_assert_eq(fx_err_http(FX_METHOD_NOT_ALLOWED), 405);
	cr_assert_str_eq(fx_err_name(FX_METHOD_NOT_ALLOWED), "UNIMPLEMENTED");
}

Test(err, is_tells_codes_of_one_name_apart)
{
	struct fx_err e;

	fx_err_clear(&e);
	cr_assert(fx_err_is(&e, FX_OK), "a cleared error holds none");
	fx_err_set(&e, FX_CONDITION_NOT_MET, "stale etag");
	cr_assert(fx_err_is(&e, FX_CONDITION_NOT_MET));
	cr_assert_not(fx_err_is(&e, FX_FAILED_PRECONDITION), "a 412 is not the 409 of a state rule");
	fx_err_set(&e, FX_FAILED_PRECONDITION, "order is shipped");
	cr_assert(fx_err_is(&e, FX_FAILED_PRECONDITION));
	cr_assert_not(fx_err_is(&e, FX_CONDITION_NOT_MET));
	cr_assert_not(fx_err_is(&e, FX_OK));
}

Test(err, a_value_outside_the_enum_is_an_internal_error)
{
	struct fx_err e;

	fx_err_clear(&e);
	fx_err_set(&e, (enum fx_code)FX_CODE_COUNT, "bad code");
	cr_assert(fx_err_is(&e, FX_INTERNAL));
	fx_err_set(&e, FX_OK, "an error that says none");
	cr_assert(fx_err_is(&e, FX_INTERNAL), "setting an error always sets one");
	cr_assert_eq(fx_err_http((enum fx_code) - 1), 500);
	cr_assert_str_eq(fx_err_name((enum fx_code)FX_CODE_COUNT), "INTERNAL");
}
