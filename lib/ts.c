#include "ts.h"

#include "civil.h"
#include "num.h"
#include "str.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>

int fx_ts_parse(const char *s, int64_t *secs, int32_t *nanos)
{
	int y, mo, d, h, mi, sec, frac = 0, fdigits = 0, off = 0;
	const char *p;
	int64_t t;

	if (strlen(s) < 20 || fx_civil_parse_date(s, &y, &mo, &d) < 0 || s[10] != 'T' ||
	    fx_num_digits(s + 11, 2, &h) < 0 || s[13] != ':' || fx_num_digits(s + 14, 2, &mi) < 0 || s[16] != ':' ||
	    fx_num_digits(s + 17, 2, &sec) < 0)
		return -1;
	if (y < 1 || h > 23 || mi > 59 || sec > 59)
		return -1;
	p = s + 19;
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9') {
			if (++fdigits > 9)
				return -1;
			frac = frac * 10 + (*p++ - '0');
		}
		if (fdigits == 0)
			return -1;
		for (int i = fdigits; i < 9; i++)
			frac *= 10;
	}
	if (*p == 'Z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh, om;

		if (fx_num_digits(p + 1, 2, &oh) < 0 || p[3] != ':' || fx_num_digits(p + 4, 2, &om) < 0 || oh > 23 ||
		    om > 59)
			return -1;
		off = (oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
		p += 6;
	} else {
		return -1;
	}
	if (*p != '\0')
		return -1;
	t = fx_civil_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off;
	if (t < FX_TS_MIN_SECS || t > FX_TS_MAX_SECS)
		return -1;
	*secs = t;
	*nanos = frac;
	return 0;
}

/* Writes v as exactly n decimal digits ending just before end; returns where they start. */
static char *put_digits(char *end, int64_t v, int n)
{
	while (n-- > 0) {
		*--end = (char)('0' + v % 10);
		v /= 10;
	}
	return end;
}

void fx_ts_format(int64_t secs, int32_t nanos, int ndigits, char out[40])
{
	int64_t days, rem, y;
	int m, d;
	char frac[12] = "";

	secs += nanos / 1000000000;
	nanos %= 1000000000;
	if (nanos < 0) {
		nanos += 1000000000;
		secs--;
	}
	days = secs / 86400;
	rem = secs % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	fx_civil_date(days, &y, &m, &d);
	if (ndigits < 0)
		ndigits = nanos == 0 ? 0 : nanos % 1000000 == 0 ? 3 : nanos % 1000 == 0 ? 6 : 9;
	if (y >= 0 && y <= 9999 && (ndigits == 0 || ndigits == 3 || ndigits == 6 || ndigits == 9)) {
		/* Every request formats timestamps: digits by hand, the same text as the printf form below. */
		static const int32_t scale[10] = {1000000000, 100000000, 10000000, 1000000, 100000,
						  10000,      1000,	 100,	   10,	    1};

		put_digits(out + 4, y, 4);
		out[4] = '-';
		put_digits(out + 7, m, 2);
		out[7] = '-';
		put_digits(out + 10, d, 2);
		out[10] = 'T';
		put_digits(out + 13, rem / 3600, 2);
		out[13] = ':';
		put_digits(out + 16, rem / 60 % 60, 2);
		out[16] = ':';
		put_digits(out + 19, rem % 60, 2);
		if (ndigits > 0) {
			out[19] = '.';
			put_digits(out + 20 + ndigits, nanos / scale[ndigits], ndigits);
		}
		out[19 + (ndigits > 0) + ndigits] = 'Z';
		out[20 + (ndigits > 0) + ndigits] = '\0';
		return;
	}
	/* Neither can fail: nanos is in [0, 1e9), and 40 bytes hold any int64 second with nanoseconds. */
	if ((ndigits == 3 && fx_str_fmt(frac, sizeof(frac), ".%03d", (int)(nanos / 1000000)) < 0) ||
	    (ndigits == 6 && fx_str_fmt(frac, sizeof(frac), ".%06d", (int)(nanos / 1000)) < 0) ||
	    (ndigits == 9 && fx_str_fmt(frac, sizeof(frac), ".%09d", (int)nanos) < 0) ||
	    fx_str_fmt(out, 40, "%04" PRId64 "-%02d-%02dT%02d:%02d:%02d%sZ", y, m, d, (int)(rem / 3600),
		       (int)(rem / 60 % 60), (int)(rem % 60), frac) < 0)
		out[0] = '\0';
}

void fx_ts_now(int64_t *secs, int32_t *nanos)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	*secs = ts.tv_sec;
	*nanos = (int32_t)ts.tv_nsec;
}
