/* lib/civil: proleptic Gregorian day numbers and dates. */
#include "civil.h"

#include <criterion/criterion.h>

static void expect_date(int64_t days, int64_t y, int m, int d)
{
	int64_t gy;
	int gm, gd;

	fx_civil_date(days, &gy, &gm, &gd);
	cr_assert(gy == y && gm == m && gd == d, "day %lld is %04lld-%02d-%02d, want %04lld-%02d-%02d", (long long)days,
		  (long long)gy, gm, gd, (long long)y, m, d);
	cr_assert_eq(fx_civil_days(y, m, d), days, "%04lld-%02d-%02d", (long long)y, m, d);
}

Test(civil, known_days_from_the_epoch_both_ways)
{
	expect_date(0, 1970, 1, 1);
	expect_date(-1, 1969, 12, 31);
	expect_date(11017, 2000, 3, 1);
	expect_date(19782, 2024, 2, 29);
	expect_date(-135081, 1600, 2, 29);
	expect_date(-719162, 1, 1, 1);
	expect_date(2932896, 9999, 12, 31);
	expect_date(-719163, 0, 12, 31);
}

Test(civil, every_day_from_year_0001_to_9999_follows_the_one_before)
{
	int64_t y = 1;
	int m = 1, d = 1;

	for (int64_t day = fx_civil_days(1, 1, 1); day <= fx_civil_days(9999, 12, 31); day++) {
		int64_t gy;
		int gm, gd;

		fx_civil_date(day, &gy, &gm, &gd);
		cr_assert(gy == y && gm == m && gd == d, "day %lld", (long long)day);
		if (++d > fx_civil_month_days(y, m)) {
			d = 1;
			if (++m > 12) {
				m = 1;
				y++;
			}
		}
	}
	cr_assert_eq(y, 10000);
}

Test(civil, february_follows_the_gregorian_leap_rule)
{
	cr_assert_eq(fx_civil_month_days(2024, 2), 29);
	cr_assert_eq(fx_civil_month_days(2023, 2), 28);
	cr_assert_eq(fx_civil_month_days(2000, 2), 29, "divisible by 400");
	cr_assert_eq(fx_civil_month_days(1900, 2), 28, "a century not divisible by 400");
	cr_assert_eq(fx_civil_month_days(2100, 2), 28);
	cr_assert_eq(fx_civil_month_days(2026, 4), 30);
	cr_assert_eq(fx_civil_month_days(2026, 12), 31);
	cr_assert_eq(fx_civil_days(2026, 1, 32), fx_civil_days(2026, 2, 1), "days past the end count on");
}

Test(civil, parse_date_reads_an_existing_date_and_leaves_what_follows)
{
	int y = 0, m = 0, d = 0;

	cr_assert_eq(fx_civil_parse_date("2024-02-29", &y, &m, &d), 0);
	cr_assert(y == 2024 && m == 2 && d == 29);
	cr_assert_eq(fx_civil_parse_date("0000-01-01T00:00:00Z", &y, &m, &d), 0);
	cr_assert(y == 0 && m == 1 && d == 1);
}

Test(civil, parse_date_refuses_what_is_not_a_calendar_date)
{
	static const char *const bad[] = {"2023-02-29",	 "2026-04-31", "2026-13-01", "2026-00-10", "2026-01-00",
					  "2026-1-01",	 "2026/01/01", "26-01-01",   "2026-01-0",  "+026-01-01",
					  " 2026-01-01", "",	       "2026-0a-01"};
	int y = 7, m = 7, d = 7;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(fx_civil_parse_date(bad[i], &y, &m, &d), -1, "accepted \"%s\"", bad[i]);
	cr_assert(y == 7 && m == 7 && d == 7, "outputs untouched on failure");
}
