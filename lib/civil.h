/*
 * fx_civil: calendar arithmetic on the proleptic Gregorian calendar, days
 * counted from 1970-01-01 (day 0), after Howard Hinnant's days_from_civil
 * and civil_from_days. Pure functions: no time zones, no clocks, no state;
 * every year that fits an int64 day count works, negative ones included.
 */
#ifndef FX_CIVIL_H
#define FX_CIVIL_H

#include "err.h"

#include <stdint.h>

/* The day number of y-m-d (m 1..12, d 1..31; d past the month's end counts on into the next). */
int64_t fx_civil_days(int64_t y, int m, int d);

/* The date of day number days; never fails. */
void fx_civil_date(int64_t days, int64_t *y, int *m, int *d);

/* The number of days in month m (1..12) of year y: 28..31 (February has 29 in years divisible by 4, centuries only by 400). */
int fx_civil_month_days(int64_t y, int m);

/*
 * Reads the date "YYYY-MM-DD" from the first 10 bytes of s (what follows is
 * the caller's) into *y, *m, *d: four and two digits (fx_num_digits) with
 * '-' between, a month 01..12 and a day that exists in it (years 0000..9999;
 * callers narrow the range). Returns 0, or -1 with the outputs untouched.
 * Reads no byte past a NUL.
 */
FX_MUST_USE int fx_civil_parse_date(const char *s, int *y, int *m, int *d);

#endif
