#include "report.h"

#include "ts.h"

#include <criterion/criterion.h>
#include <string.h>

static void init(void)
{
	struct fx_err e;

	fx_err_clear(&e);
	cr_assert_eq(fx_report_init(&e), 0);
}

TestSuite(window, .init = init);

static int64_t utc(const char *rfc3339)
{
	int64_t secs;
	int32_t nanos;

	cr_assert_eq(fx_ts_parse(rfc3339, &secs, &nanos), 0, "%s", rfc3339);
	return secs;
}

/* The window of from..to in tz at now, which must be valid. */
static struct fx_report_window ok(const char *from, const char *to, const char *tz, const char *now)
{
	struct fx_report_window w;
	struct fx_err e;

	fx_err_clear(&e);
	cr_assert_eq(fx_report_window(from, to, tz, utc(now), &w, &e), 0, "%s..%s in %s: %s", from ? from : "-",
		     to ? to : "-", tz, e.message);
	return w;
}

/* from..to must be refused with 400 naming field. */
static void refused(const char *from, const char *to, const char *field)
{
	struct fx_report_window w;
	struct fx_err e;

	fx_err_clear(&e);
	cr_assert_eq(fx_report_window(from, to, "Africa/Johannesburg", utc("2026-12-02T10:00:00Z"), &w, &e), -1,
		     "%s..%s", from ? from : "-", to ? to : "-");
	cr_assert_eq(fx_err_http(e.kind), 400, "%s..%s: %s", from, to, e.message);
	cr_assert_eq(e.ndetails, 1);
	cr_assert_str_eq(e.details[0].field, field, "%s..%s: %s", from, to, e.message);
}

Test(window, dates_are_whole_days_in_the_organization_timezone)
{
	struct fx_report_window w = ok("2026-12-01", "2026-12-02", "Africa/Johannesburg", "2026-12-10T00:00:00Z");

	cr_assert_eq(w.start_secs, utc("2026-11-30T22:00:00Z"), "SAST midnight starting 1 December");
	cr_assert_eq(w.end_secs, utc("2026-12-02T22:00:00Z"), "SAST midnight ending 2 December");
	cr_assert_eq(w.start_nanos + w.end_nanos, 0);
	cr_assert_str_eq(w.from, "2026-12-01");
	cr_assert_str_eq(w.to, "2026-12-02");
}

Test(window, rfc3339_times_are_the_exact_instants)
{
	struct fx_report_window w = ok("2026-12-02T06:00:00.000Z", "2026-12-02T18:00:00.5+02:00", "Africa/Johannesburg",
				       "2026-12-10T00:00:00Z");

	cr_assert_eq(w.start_secs, utc("2026-12-02T06:00:00Z"));
	cr_assert_eq(w.start_nanos, 0);
	cr_assert_eq(w.end_secs, utc("2026-12-02T16:00:00Z"), "the offset is applied");
	cr_assert_eq(w.end_nanos, 500000000);
	cr_assert_str_eq(w.from, "20261202T060000Z");
	cr_assert_str_eq(w.to, "20261202T160000Z");
	w = ok("2026-12-02T06:00:00.123456789Z", "2026-12-02T06:00:00.123456790Z", "UTC", "2026-12-10T00:00:00Z");
	cr_assert_eq(w.start_nanos, 123456789, "one nanosecond is a window");
	cr_assert_eq(w.end_nanos, 123456790);
	w = ok("2026-12-02t06:00:00z", "2026-12-02t08:00:00+01:00", "UTC", "2026-12-10T00:00:00Z");
	cr_assert_eq(w.start_secs, utc("2026-12-02T06:00:00Z"), "RFC 3339 allows a lower-case t and z");
	cr_assert_eq(w.end_secs, utc("2026-12-02T07:00:00Z"));
}

Test(window, a_date_and_a_time_mix)
{
	struct fx_report_window w =
		ok("2026-12-02", "2026-12-02T06:00:00-05:00", "Africa/Johannesburg", "2026-12-10T00:00:00Z");

	cr_assert_eq(w.start_secs, utc("2026-12-01T22:00:00Z"));
	cr_assert_eq(w.end_secs, utc("2026-12-02T11:00:00Z"));
	w = ok("2026-12-01T12:00:00Z", "2026-12-01", "Africa/Johannesburg", "2026-12-10T00:00:00Z");
	cr_assert_eq(w.end_secs, utc("2026-12-01T22:00:00Z"), "a date to ends with its local day");
}

Test(window, defaults_are_yesterday_and_thirty_days_before)
{
	struct fx_report_window w = ok(NULL, NULL, "Africa/Johannesburg", "2026-12-01T23:30:00Z");

	/* 01:30 on 2 December in Johannesburg: yesterday there is 1 December. */
	cr_assert_str_eq(w.to, "2026-12-01");
	cr_assert_str_eq(w.from, "2026-11-01");
	cr_assert_eq(w.end_secs, utc("2026-12-01T22:00:00Z"));
	cr_assert_eq(w.start_secs, utc("2026-10-31T22:00:00Z"));
	w = ok(NULL, "2026-12-02T06:00:00.250Z", "Africa/Johannesburg", "2026-12-10T00:00:00Z");
	cr_assert_eq(w.start_secs, utc("2026-11-02T06:00:00Z"), "30 × 24 h before a time");
	cr_assert_eq(w.start_nanos, 250000000);
}

Test(window, days_follow_daylight_saving_time)
{
	struct fx_report_window w = ok("2026-03-29", "2026-03-29", "Europe/London", "2026-12-10T00:00:00Z");

	cr_assert_eq(w.start_secs, utc("2026-03-29T00:00:00Z"));
	cr_assert_eq(w.end_secs, utc("2026-03-29T23:00:00Z"), "a 23-hour day");
	w = ok("2026-10-25", "2026-10-25", "Europe/London", "2026-12-10T00:00:00Z");
	cr_assert_eq(w.start_secs, utc("2026-10-24T23:00:00Z"));
	cr_assert_eq(w.end_secs, utc("2026-10-26T00:00:00Z"), "a 25-hour day");
}

Test(window, malformed_bounds_are_refused_naming_them)
{
	static const char *const bad[] = {
		"2026-12-02T06:00:00",
		"2026-12-02 06:00:00Z",
		"2026-12-02T06:00:00zz",
		"2026-12-02T24:00:00Z",
		"2026-12-02T06:00:60Z",
		"2026-12-02T06:00Z",
		"2026-02-30T06:00:00Z",
		"2026-12-02T06:00:00+25:00",
		"2026-12-02T06:00:00.Z",
		"2026-12-02T06:00:00.1234567890Z",
		"2026-12-02T06:00:00+0200",
		"1999-12-31T23:59:59.999Z",
		"9999-01-01T00:00:00Z",
		"2026-1-2",
		"20261202",
		"",
		"yesterday",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		refused(bad[i], "2026-12-03", "from");
		refused("2026-11-01", bad[i], "to");
	}
}

Test(window, empty_reversed_and_long_windows_are_refused_naming_from)
{
	refused("2026-12-02T06:00:00Z", "2026-12-02T08:00:00+02:00", "from"); /* the same instant */
	refused("2026-12-02T06:00:00.000000001Z", "2026-12-02T06:00:00Z", "from");
	refused("2026-12-03", "2026-12-02", "from");
	refused("2026-12-03", "2026-12-02T22:00:00Z", "from"); /* 3 December starts 22:00Z on the 2nd */
	ok("2026-12-03", "2026-12-02T22:00:00.001Z", "Africa/Johannesburg", "2026-12-10T00:00:00Z");
	refused("2024-01-01", "2025-01-02", "from");
	refused("2024-01-01T00:00:00Z", "2025-01-02T01:00:00.000000001Z", "from");
}

Test(window, the_longest_windows_are_accepted)
{
	ok("2024-01-01", "2025-01-01", "Africa/Johannesburg", "2026-12-10T00:00:00Z");
	ok("2024-01-01T00:00:00Z", "2025-01-02T01:00:00Z", "Africa/Johannesburg", "2026-12-10T00:00:00Z");
}

Test(window, an_unknown_zone_is_an_internal_error)
{
	struct fx_report_window w;
	struct fx_err e;

	fx_err_clear(&e);
	cr_assert_eq(fx_report_window("2026-12-01", "2026-12-02", "Mars/Olympus", utc("2026-12-10T00:00:00Z"), &w, &e),
		     -1);
	cr_assert_eq(fx_err_http(e.kind), 500);
}
