/*
 * fx_report: CSV reports of an organization, stored as files of kind
 * report. Shared by the reports group (POST /v1/reports) and the jobs
 * group (scheduled reports). Reads organizations/{org} (its timezone),
 * orders/{id} and products/{id}; writes through fx_files_store. The
 * organization is always r->principal's, and only r->arena and
 * r->principal are used, so a synthetic request context will do.
 * Arguments are borrowed; the stored file document belongs to the caller.
 *
 * A report covers a window of time (fx_report_window): days (YYYY-MM-DD)
 * in the organization's timezone, both inclusive, or exact RFC 3339
 * times, from inclusive and to exclusive, or one of each: to defaults to
 * yesterday, from to 30 days before to; to is at most 366 days after
 * from. The CSV is RFC 4180 (csv.h: CRLF rows,
 * header row first, formula-safe text), money in rand with two decimals,
 * dates local.
 *
 *   orders     one row per order created in the range
 *   sales      one row per local day and SKU of the orders in the range
 *              that are not cancelled, a "Shipping" row per day that
 *              charged shipping, then a TOTAL row equal to the sum of
 *              those orders' totalCents
 *   inventory  one row per product as it is now (the range is ignored)
 *
 * Reads are bounded: pages of 200 through a cursor, and a report that
 * would read or hold more than 50000 documents or rows, or grow past
 * 32 MiB, is refused with 409 FAILED_PRECONDITION.
 */
#ifndef FX_REPORT_H
#define FX_REPORT_H

#include "err.h"
#include "firestore.h"

#include <stdint.h>

struct fx_req;

/*
 * Once per process, before threads start: the engine takes over the
 * process's TZ (converting under its own lock), so nothing else in the
 * process may use local time. Cannot fail today.
 */
FX_MUST_USE int fx_report_init(struct fx_err *e);

/* The span of time a report covers, [start, end), and how its file name shows it. */
struct fx_report_window {
	int64_t start_secs; /* inclusive */
	int32_t start_nanos;
	int64_t end_secs; /* exclusive */
	int32_t end_nanos;
	char from[24]; /* "YYYY-MM-DD" for a date, "YYYYMMDDTHHMMSSZ" (UTC) for a time */
	char to[24];
};

/*
 * The window of from..to in time zone tz (a name fx_tz_known accepts) at
 * the instant now (Unix seconds). Each bound is NULL, a date YYYY-MM-DD
 * (whole local days: from starts at its day's local midnight, to ends at
 * the local midnight after its day) or an RFC 3339 time as fx_ts_parse
 * reads it (that instant exactly: from inclusive, to exclusive), in years
 * 2000..9998. to defaults to yesterday (a date); from to 30 days before to
 * (the day 30 days earlier for a date, 30 × 24 h earlier for a time).
 * Fails with 400 naming from or to for a malformed bound and naming from
 * for a reversed or empty window or one longer than 366 days after from's
 * day (dates) or 367 days and an hour (times); 500 for a zone this server
 * cannot convert. Needs fx_report_init (local time) first.
 */
FX_MUST_USE int fx_report_window(const char *from, const char *to, const char *tz, int64_t now,
				 struct fx_report_window *w, struct fx_err *e);

/*
 * Builds the report type ("sales", "inventory" or "orders") of r's
 * organization over fx_report_window(from, to) in the organization's
 * timezone and stores it as a file of kind report named
 * "<type>-<from>-<to>.csv" with the window's labels (today's date twice
 * for inventory). *file,
 * zeroed by the caller, receives the stored file document; the caller
 * releases it with fx_firestore_doc_cleanup whatever the result. Fails with 400
 * naming type, from or to for a bad argument or range, 409
 * FAILED_PRECONDITION for a report over the bounds, 500 for a timezone
 * this server cannot convert, and as Firestore and Cloud Storage fail.
 */
FX_MUST_USE int fx_report_run(struct fx_req *r, const char *type, const char *from, const char *to, struct fx_doc *file,
			      struct fx_err *e);

/*
 * Yesterday's date (YYYY-MM-DD) in the timezone of r's organization
 * (Africa/Johannesburg when it has none) into out. Reads the organization
 * document; fails as fx_firestore_get does, or with 500 for a timezone this
 * server cannot convert.
 */
FX_MUST_USE int fx_report_yesterday(struct fx_req *r, char out[11], struct fx_err *e);

#endif
