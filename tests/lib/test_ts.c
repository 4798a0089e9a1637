/* lib/ts: RFC 3339 timestamps, parsed to UTC seconds and nanoseconds and formatted back. */
#include "ts.h"

#include <criterion/criterion.h>

Test(ts, ts_format_gives_three_digits_for_the_api_and_minimal_digits_for_firestore)
{
	char out[40];
	int64_t secs;
	int32_t nanos;

	cr_assert_eq(fx_ts_parse("2026-11-24T06:00:00Z", &secs, &nanos), 0);
	fx_ts_format(secs, 0, 3, out);
	cr_assert_str_eq(out, "2026-11-24T06:00:00.000Z");
	fx_ts_format(secs, 123456789, 3, out);
	cr_assert_str_eq(out, "2026-11-24T06:00:00.123Z");
	fx_ts_format(secs, 123456789, 6, out);
	cr_assert_str_eq(out, "2026-11-24T06:00:00.123456Z");
	fx_ts_format(secs, 120000000, -1, out);
	cr_assert_str_eq(out, "2026-11-24T06:00:00.120Z");
	fx_ts_format(secs, 0, -1, out);
	cr_assert_str_eq(out, "2026-11-24T06:00:00Z");
	fx_ts_format(-1, 999999999, -1, out);
	cr_assert_str_eq(out, "1969-12-31T23:59:59.999999999Z");
	fx_ts_now(&secs, &nanos);
	cr_assert_gt(secs, INT64_C(1767225600), "now is after 2026-01-01");
	cr_assert(nanos >= 0 && nanos < 1000000000);
}

Test(ts, offsets_are_normalised_to_utc_and_fractions_scaled_to_nanoseconds)
{
	int64_t secs;
	int32_t nanos;

	cr_assert_eq(fx_ts_parse("2026-11-24T08:30:00.5+02:30", &secs, &nanos), 0);
	cr_assert_eq(secs, INT64_C(1795500000), "2026-11-24T06:00:00Z");
	cr_assert_eq(nanos, 500000000);
	cr_assert_eq(fx_ts_parse("2024-03-01T00:59:59+01:00", &secs, &nanos), 0);
	cr_assert_eq(secs, INT64_C(1709251199), "2024-02-29T23:59:59Z, a leap day");
	cr_assert_eq(fx_ts_parse("1970-01-01T00:00:00.000000001-00:01", &secs, &nanos), 0);
	cr_assert(secs == 60 && nanos == 1);
}

Test(ts, the_range_is_year_0001_to_9999_after_normalising)
{
	int64_t secs = 7;
	int32_t nanos = 7;

	cr_assert_eq(fx_ts_parse("0001-01-01T00:00:00Z", &secs, &nanos), 0);
	cr_assert_eq(secs, FX_TS_MIN_SECS);
	cr_assert_eq(fx_ts_parse("9999-12-31T23:59:59.999999999Z", &secs, &nanos), 0);
	cr_assert(secs == FX_TS_MAX_SECS && nanos == 999999999);
	secs = nanos = 7;
	cr_assert_eq(fx_ts_parse("0000-12-31T23:59:59Z", &secs, &nanos), -1);
	cr_assert_eq(fx_ts_parse("0001-01-01T00:30:00+01:00", &secs, &nanos), -1);
	cr_assert_eq(fx_ts_parse("9999-12-31T23:30:00-01:00", &secs, &nanos), -1);
	cr_assert(secs == 7 && nanos == 7, "outputs untouched on failure");
}

Test(ts, malformed_text_is_refused)
{
	static const char *const bad[] = {
		"2023-02-29T00:00:00Z",	    "2026-01-01T24:00:00Z",	 "2026-01-01T00:60:00Z",
		"2026-01-01T00:00:60Z",	    "2026-01-01t00:00:00Z",	 "2026-01-01T00:00:00z",
		"2026-01-01T00:00:00",	    "2026-01-01T00:00:00.Z",	 "2026-01-01T00:00:00.1234567890Z",
		"2026-01-01T00:00:00+0100", "2026-01-01T00:00:00+24:00", "2026-01-01T00:00:00Z ",
		"2026-1-01T00:00:00Z",	    "2026-01-01T0a:00:00Z",	 "",
	};
	int64_t secs;
	int32_t nanos;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(fx_ts_parse(bad[i], &secs, &nanos), -1, "accepted \"%s\"", bad[i]);
}
