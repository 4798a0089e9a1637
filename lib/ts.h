/*
 * fx_ts: timestamps as Firestore keeps them (UTC seconds and nanoseconds,
 * years 0001..9999) and their RFC 3339 text. Nothing here allocates or
 * keeps state; callers own every buffer.
 */
#ifndef FX_TS_H
#define FX_TS_H

#include "err.h"

#include <stdint.h>

#define FX_TS_MIN_SECS INT64_C(-62135596800) /* 0001-01-01T00:00:00Z */
#define FX_TS_MAX_SECS INT64_C(253402300799) /* 9999-12-31T23:59:59Z */

/*
 * Parses an RFC 3339 timestamp ("2026-01-02T03:04:05.123456789+01:00", 'T'
 * and 'Z' upper case, 0..9 fraction digits, seconds 00..59) and normalises
 * it to UTC. Returns 0, or -1 (outputs untouched) when malformed or outside
 * 0001-01-01T00:00:00Z..9999-12-31T23:59:59.999999999Z.
 */
FX_MUST_USE int fx_ts_parse(const char *rfc3339, int64_t *secs, int32_t *nanos);

/*
 * Formats UTC "YYYY-MM-DDTHH:MM:SS[.f]Z" into out. digits 0, 3, 6 or 9 give
 * exactly that many fraction digits (truncated); -1 gives the fewest of
 * 0/3/6/9 that keep every non-zero digit (Firestore style).
 */
void fx_ts_format(int64_t secs, int32_t nanos, int digits, char out[40]);

/* The current UTC time (CLOCK_REALTIME). */
void fx_ts_now(int64_t *secs, int32_t *nanos);

#endif
