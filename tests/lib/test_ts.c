/* lib/ts: RFC 3339 timestamps, parsed to UTC seconds and nanoseconds and formatted back. */
#include "ts.h"

#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

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

/* The text gmtime_r and printf give: the form fx_ts_format wrote before it formatted digits by hand. */
static void reference(int64_t secs, int32_t nanos, int digits, char out[64])
{
	time_t t = (time_t)secs;
	struct tm tm;
	char frac[16] = "";

	gmtime_r(&t, &tm);
	if (digits < 0)
		digits = nanos == 0 ? 0 : nanos % 1000000 == 0 ? 3 : nanos % 1000 == 0 ? 6 : 9;
	if (digits == 3)
		snprintf(frac, sizeof(frac), ".%03d", (int)(nanos / 1000000));
	else if (digits == 6)
		snprintf(frac, sizeof(frac), ".%06d", (int)(nanos / 1000));
	else if (digits == 9)
		snprintf(frac, sizeof(frac), ".%09d", (int)nanos);
	snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d%sZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, frac);
}

Test(ts, ts_format_equals_gmtime_and_printf_across_years_0001_to_9999_and_every_digit_count)
{
	static const int digits[] = {-1, 0, 3, 6, 9};
	uint64_t x = 88172645463325252ULL; /* xorshift64: the same sequence every run */
	char got[40], want[64];

	for (int i = 0; i < 200000; i++) {
		int64_t secs;
		int32_t nanos;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		secs = FX_TS_MIN_SECS + (int64_t)(x % (uint64_t)(FX_TS_MAX_SECS - FX_TS_MIN_SECS + 1));
		/* Whole, milli-, micro- and nanosecond fractions all occur. */
		nanos = (int32_t)((x >> 20) % 1000000000);
		nanos = i % 4 == 0   ? 0
			: i % 4 == 1 ? nanos / 1000000 * 1000000
			: i % 4 == 2 ? nanos / 1000 * 1000
				     : nanos;
		for (size_t k = 0; k < sizeof(digits) / sizeof(digits[0]); k++) {
			fx_ts_format(secs, nanos, digits[k], got);
			reference(secs, nanos, digits[k], want);
			cr_assert_str_eq(got, want, "%" PRId64 " s %d ns, %d digits", secs, (int)nanos, digits[k]);
		}
	}
}
