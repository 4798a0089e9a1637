#include "err.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

Test(err, invalid_names_its_field_and_reason_in_the_message_and_a_detail)
{
	struct fx_err e;

	fx_err_clear(&e);
	cr_assert_eq(fx_err_invalid(&e, "sku", "must be at most %d characters", 64), -1);
	cr_assert_eq(e.code, 400);
	cr_assert_str_eq(e.status, "INVALID_ARGUMENT");
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
