#include "http.h"

#include <criterion/criterion.h>
#include <string.h>

/* What fx_forwarded_client finds in xff behind a front end ("-" when nothing). */
static const char *client(const char *xff)
{
	static char out[64];

	if (fx_forwarded_client(xff, true, out, sizeof(out)) < 0)
		return "-";
	return out;
}

Test(forwarded_client, without_a_front_end_the_header_is_never_believed)
{
	char out[64] = "untouched";

	cr_assert_eq(fx_forwarded_client("203.0.113.9", false, out, sizeof(out)), -1);
	cr_assert_eq(fx_forwarded_client("203.0.113.9, 34.120.0.1", false, out, sizeof(out)), -1);
	cr_assert_str_eq(out, "untouched");
}

Test(forwarded_client, behind_the_load_balancer_is_the_second_entry_from_the_end)
{
	/* The load balancer appends "<client>,<load balancer>" after what the client sent. */
	cr_assert_str_eq(client("203.0.113.9,34.120.0.1"), "203.0.113.9");
	cr_assert_str_eq(client("203.0.113.9, 34.120.0.1"), "203.0.113.9");
	cr_assert_str_eq(client("198.51.100.7, 203.0.113.9, 34.120.0.1"), "203.0.113.9");
	cr_assert_str_eq(client("1.1.1.1, 2.2.2.2, 3.3.3.3, 203.0.113.9, 34.120.0.1"), "203.0.113.9");
	cr_assert_str_eq(client("evil <script>, 2001:db8::5 ,34.120.0.1"), "2001:db8::5");
	cr_assert_str_eq(client("\t203.0.113.9\t,34.120.0.1"), "203.0.113.9");
}

Test(forwarded_client, a_single_entry_is_the_one_cloud_run_appended)
{
	cr_assert_str_eq(client("203.0.113.9"), "203.0.113.9");
	cr_assert_str_eq(client(" ::1 "), "::1");
}

Test(forwarded_client, an_entry_that_is_not_an_address_is_no_client)
{
	cr_assert_str_eq(client(NULL), "-");
	cr_assert_str_eq(client(""), "-");
	cr_assert_str_eq(client("unknown, 34.120.0.1"), "-");
	cr_assert_str_eq(client("203.0.113.9, , 34.120.0.1"), "-", "the entry before the last is empty");
	cr_assert_str_eq(client(",34.120.0.1"), "-");
	cr_assert_str_eq(client("203.0.113.9:443, 34.120.0.1"), "-", "a port is not part of the address");
	cr_assert_str_eq(client("203.0.113.256, 34.120.0.1"), "-");
	cr_assert_str_eq(client("[2001:db8::5], 34.120.0.1"), "-");
}

Test(forwarded_client, fails_cleanly_when_out_is_too_small)
{
	char out[8];

	cr_assert_eq(fx_forwarded_client("203.0.113.9, 34.120.0.1", true, out, sizeof(out)), -1);
	cr_assert_eq(fx_forwarded_client("1.2.3.4, 34.120.0.1", true, out, sizeof(out)), 0);
	cr_assert_str_eq(out, "1.2.3.4");
}
