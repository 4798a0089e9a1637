/*
 * fx_report: the report engine (see report.h for what the reports hold).
 *
 * Time zones: day boundaries are the organization's local midnights
 * converted to UTC by the C library (TZ, tzset, mktime, localtime_r), so
 * DST and historical offsets are right wherever tzdata has them. TZ is
 * process-wide, so every conversion runs under tz_lock; the engine owns
 * its process's TZ (set once by fx_report_init, so later changes replace
 * the variable in place instead of growing environ under other threads).
 * Without tzdata for a zone, the zones of fx_tz_fixed fall back to their
 * fixed offset: Africa/Johannesburg is +02:00 without DST (since 1944),
 * UTC is +00:00. Any other zone without tzdata is a 500. The container
 * installs tzdata (Dockerfile).
 *
 * Orders are read newest first (the index the orders list uses) and
 * written oldest first: rows are kept in blocks that are reversed at the
 * end.
 */
#include "report.h"

#include "civil.h"
#include "csv.h"
#include "defaults.h"
#include "files.h"
#include "firestore.h"
#include "fsquery.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "model.h"
#include "str.h"
#include "tenant.h"
#include "ts.h"
#include "tz.h"
#include "value.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PAGE_SIZE 200 /* documents per query */
#define MAX_ROWS 50000 /* documents read, and rows written, by one report */
#define MAX_CSV_BYTES (32u * 1024 * 1024)
#define MAX_RANGE_DAYS 366 /* to - from */
#define DEFAULT_SPAN_DAYS 30 /* from = to - 30 when absent */
#define MIN_YEAR 2000
#define MAX_YEAR 9998 /* to + 1 must still be a date */
#define TZ_NAME_MAX FX_TZ_NAME_MAX

enum report_type { SALES, INVENTORY, ORDERS };
static const char *const types[] = {"sales", "inventory", "orders", NULL};

/* ---- calendar days (lib/civil) ---- */

static void format_day(int64_t day, char out[16])
{
	int64_t y;
	int m, d;

	fx_civil_date(day, &y, &m, &d);
	if (fx_str_fmt(out, 16, "%04" PRId64 "-%02d-%02d", y, m, d) < 0)
		out[0] = '\0'; /* cannot happen: years stay within MIN_YEAR..MAX_YEAR */
}

/* A calendar date "YYYY-MM-DD" (MIN_YEAR..MAX_YEAR) as a day number; -1 when malformed. */
static int parse_day(const char *s, int64_t *day)
{
	int y, m, d;

	if (strlen(s) != 10 || fx_civil_parse_date(s, &y, &m, &d) < 0 || y < MIN_YEAR || y > MAX_YEAR)
		return -1;
	*day = fx_civil_days(y, m, d);
	return 0;
}

/* ---- time zones ---- */

struct zone {
	char name[TZ_NAME_MAX + 1];
	bool fixed; /* no tzdata: offset applies at every instant */
	int32_t offset; /* seconds east of UTC, when fixed */
};

static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;
static char tz_current[TZ_NAME_MAX + 1]; /* the zone TZ names, under tz_lock */

/*
 * Resolves an organization's timezone name: tzdata when this system lists
 * and has the zone (fx_tz_installed), else its fixed offset (fx_tz_fixed).
 * 500 for any other name: organizations accept only fx_tz_known names, so
 * it is a zone stored before that check or tzdata missing since.
 */
static int zone_open(const char *name, struct zone *z, struct fx_err *e)
{
	z->fixed = false;
	z->offset = 0;
	if (strlen(name) > TZ_NAME_MAX || fx_str_set(z->name, sizeof(z->name), name) < 0)
		return fx_err_set(e, FX_INTERNAL, "the organization's timezone is not a time zone name");
	if (fx_tz_installed(name))
		return 0;
	if (fx_tz_fixed(name, &z->offset)) {
		z->fixed = true;
		return 0;
	}
	return fx_err_set(e, FX_INTERNAL, "time zone %.64s is not installed on this server", name);
}

/* Takes tz_lock and points the C library's local time at z (not fixed). */
static void tz_enter(const struct zone *z)
{
	char value[TZ_NAME_MAX + 2];

	pthread_mutex_lock(&tz_lock);
	if (strcmp(tz_current, z->name) == 0)
		return;
	/* value has room for ':' and any zone name, so TZ is always set. */
	if (fx_str_fmt(value, sizeof(value), ":%s", z->name) < 0)
		return;
	setenv("TZ", value, 1);
	tzset();
	FX_ARRAY_COPY(tz_current, z->name);
}

static void tz_leave(void)
{
	pthread_mutex_unlock(&tz_lock);
}

/* The UTC instant of the local midnight that starts day. */
static int64_t zone_midnight(const struct zone *z, int64_t day)
{
	struct tm tm = {0};
	int64_t y;
	int m, d;
	time_t t;

	if (z->fixed)
		return day * 86400 - z->offset;
	fx_civil_date(day, &y, &m, &d);
	tm.tm_year = (int)(y - 1900);
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	tm.tm_isdst = -1; /* a midnight skipped by DST normalises to the day's first instant */
	tz_enter(z);
	t = mktime(&tm);
	tz_leave();
	return (int64_t)t;
}

/* Local broken-down times of secs[0..n), converted under one hold of tz_lock. */
static void zone_local(const struct zone *z, const int64_t *secs, size_t n, struct tm *out)
{
	if (z->fixed) {
		for (size_t i = 0; i < n; i++) {
			time_t t = (time_t)(secs[i] + z->offset);

			gmtime_r(&t, &out[i]);
		}
		return;
	}
	tz_enter(z);
	for (size_t i = 0; i < n; i++) {
		time_t t = (time_t)secs[i];

		localtime_r(&t, &out[i]);
	}
	tz_leave();
}

static int64_t tm_day(const struct tm *tm)
{
	return fx_civil_days((int64_t)tm->tm_year + 1900, tm->tm_mon + 1, tm->tm_mday);
}

/* ---- the report being built ---- */

struct sale {
	char *sku;
	char *name;
	int64_t quantity;
	int64_t revenue;
};

/* One local day's sales, one entry per SKU (open addressing over entries). */
struct day_sales {
	int64_t day;
	bool open;
	struct sale *items;
	size_t n, cap;
	uint32_t *slots; /* index + 1 into items, 0 when free */
	size_t nslots;
	int64_t shipping;
};

struct report {
	struct fx_req *r;
	enum report_type type;
	struct zone zone;
	int64_t start_secs, end_secs; /* UTC [start, end) */
	int32_t start_nanos, end_nanos;
	struct fx_buf rows; /* orders and sales: blocks newest first */
	size_t *marks; /* where each block of rows starts */
	size_t nmarks, capmarks;
	size_t nrows;
	struct day_sales day;
	int64_t units, revenue; /* sales: sums of the rows written */
	int64_t order_totals; /* sales: sum of the orders' totalCents, a cross-check */
	struct fx_buf out; /* the CSV */
};

static int too_big(struct fx_err *e)
{
	return fx_err_set(e, FX_FAILED_PRECONDITION, "the report would exceed %u MiB: choose a shorter range",
			  MAX_CSV_BYTES / (1024 * 1024));
}

static int too_many(const struct report *rp, struct fx_err *e)
{
	if (rp->type == INVENTORY)
		return fx_err_set(e, FX_FAILED_PRECONDITION,
				  "the inventory report holds at most %d products: this catalogue has more", MAX_ROWS);
	return fx_err_set(e, FX_FAILED_PRECONDITION, "the report would have more than %d rows: choose a shorter range",
			  MAX_ROWS);
}

static int count_row(struct report *rp, struct fx_err *e)
{
	return ++rp->nrows > MAX_ROWS ? too_many(rp, e) : 0;
}

/* Starts a block of rows that stays together when the blocks are reversed. */
static void mark(struct report *rp)
{
	if (rp->nmarks == rp->capmarks) {
		rp->capmarks = rp->capmarks ? rp->capmarks * 2 : 256;
		rp->marks = fx_mem_xrealloc(rp->marks, rp->capmarks * sizeof(*rp->marks));
	}
	rp->marks[rp->nmarks++] = rp->rows.len;
}

static void day_reset(struct day_sales *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->items[i].sku);
		free(d->items[i].name);
	}
	d->n = 0;
	d->shipping = 0;
	d->open = false;
	if (d->slots)
		memset(d->slots, 0, d->nslots * sizeof(*d->slots));
}

static void day_cleanup(struct day_sales *d)
{
	day_reset(d);
	free(d->items);
	free(d->slots);
}

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static void day_rehash(struct day_sales *d, size_t nslots)
{
	free(d->slots);
	d->slots = fx_mem_xcalloc(nslots, sizeof(*d->slots));
	d->nslots = nslots;
	for (size_t i = 0; i < d->n; i++) {
		size_t h = (size_t)hash(d->items[i].sku) & (nslots - 1);

		while (d->slots[h])
			h = (h + 1) & (nslots - 1);
		d->slots[h] = (uint32_t)(i + 1);
	}
}

/* The day's entry for sku, added (with name) when new; NULL past MAX_ROWS. */
static struct sale *day_sale(struct report *rp, const char *sku, const char *name)
{
	struct day_sales *d = &rp->day;
	size_t h;

	if (2 * (d->n + 1) > d->nslots)
		day_rehash(d, d->nslots ? d->nslots * 2 : 256);
	for (h = (size_t)hash(sku) & (d->nslots - 1); d->slots[h]; h = (h + 1) & (d->nslots - 1))
		if (strcmp(d->items[d->slots[h] - 1].sku, sku) == 0)
			return &d->items[d->slots[h] - 1];
	if (rp->nrows + d->n + 1 > MAX_ROWS)
		return NULL;
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 64;
		d->items = fx_mem_xrealloc(d->items, d->cap * sizeof(*d->items));
	}
	d->items[d->n] = (struct sale){fx_mem_xstrdup(sku), fx_mem_xstrdup(name), 0, 0};
	d->slots[h] = (uint32_t)(++d->n);
	return &d->items[d->n - 1];
}

static int sale_cmp(const void *a, const void *b)
{
	const struct sale *x = a, *y = b;

	return strcmp(x->sku, y->sku);
}

/* Writes the open day's rows (by SKU, then its shipping) as one block. */
static int day_flush(struct report *rp, struct fx_err *e)
{
	struct day_sales *d = &rp->day;
	struct fx_buf *b = &rp->rows;
	char date[16];
	int rc = -1;

	if (!d->open)
		return 0;
	format_day(d->day, date);
	qsort(d->items, d->n, sizeof(*d->items), sale_cmp);
	mark(rp);
	for (size_t i = 0; i < d->n; i++) {
		const struct sale *s = &d->items[i];

		if (count_row(rp, e) < 0)
			goto out;
		if (fx_csv_text(b, date) < 0 || fx_csv_text(b, s->sku) < 0 || fx_csv_text(b, s->name) < 0 ||
		    fx_csv_int(b, s->quantity) < 0 || fx_csv_cents(b, s->revenue) < 0 || fx_csv_end_row(b) < 0) {
			too_big(e);
			goto out;
		}
		rp->units += s->quantity;
		rp->revenue += s->revenue;
	}
	if (d->shipping != 0) {
		if (count_row(rp, e) < 0)
			goto out;
		if (fx_csv_text(b, date) < 0 || fx_csv_text(b, "") < 0 || fx_csv_text(b, "Shipping") < 0 ||
		    fx_csv_text(b, "") < 0 || fx_csv_cents(b, d->shipping) < 0 || fx_csv_end_row(b) < 0) {
			too_big(e);
			goto out;
		}
		rp->revenue += d->shipping;
	}
	rc = 0;
out:
	day_reset(d);
	return rc;
}

static const char *str_or_empty(const struct fx_value *map, const char *path)
{
	const char *s = fx_value_path_str(map, path);

	return s ? s : "";
}

static int64_t int_or_zero(const struct fx_value *map, const char *path)
{
	int64_t n = 0;

	fx_value_path_int(map, path, &n);
	return n;
}

/* Local times of the documents' createdAt (the query filtered on it, so it is a timestamp). */
static void created_local(const struct report *rp, const struct fx_doc *docs, size_t n, struct tm *out)
{
	int64_t secs[PAGE_SIZE];

	for (size_t i = 0; i < n; i++) {
		const struct fx_value *v = fx_value_path(&docs[i].fields, "createdAt");

		secs[i] = v && v->type == FX_V_TIMESTAMP ? v->u.ts.secs : 0;
	}
	zone_local(&rp->zone, secs, n, out);
}

static int orders_page(void *ctx, struct fx_doc *docs, size_t n, struct fx_err *e)
{
	struct report *rp = ctx;
	struct fx_buf *b = &rp->rows;
	struct tm local[PAGE_SIZE];

	created_local(rp, docs, n, local);
	for (size_t i = 0; i < n; i++) {
		const struct fx_value *f = &docs[i].fields, *items = fx_value_path(f, "items");
		int64_t units = 0;
		char date[64];

		for (size_t j = 0; items && items->type == FX_V_ARRAY && j < items->u.arr.n; j++)
			units += int_or_zero(&items->u.arr.items[j], "quantity");
		if (fx_str_fmt(date, sizeof(date), "%04d-%02d-%02d %02d:%02d", local[i].tm_year + 1900,
			       local[i].tm_mon + 1, local[i].tm_mday, local[i].tm_hour, local[i].tm_min) < 0)
			return fx_err_set(e, FX_INTERNAL, "an order date does not fit");
		if (count_row(rp, e) < 0)
			return -1;
		mark(rp);
		if (fx_csv_text(b, str_or_empty(f, "number")) < 0 || fx_csv_text(b, date) < 0 ||
		    fx_csv_text(b, str_or_empty(f, "channel")) < 0 || fx_csv_text(b, str_or_empty(f, "status")) < 0 ||
		    fx_csv_text(b, str_or_empty(f, "customer.name")) < 0 || fx_csv_int(b, units) < 0 ||
		    fx_csv_cents(b, int_or_zero(f, "subtotalCents")) < 0 ||
		    fx_csv_cents(b, int_or_zero(f, "shippingCents")) < 0 ||
		    fx_csv_cents(b, int_or_zero(f, "vatCents")) < 0 ||
		    fx_csv_cents(b, int_or_zero(f, "totalCents")) < 0 || fx_csv_end_row(b) < 0)
			return too_big(e);
	}
	return 0;
}

static int sales_page(void *ctx, struct fx_doc *docs, size_t n, struct fx_err *e)
{
	struct report *rp = ctx;
	struct tm local[PAGE_SIZE];

	created_local(rp, docs, n, local);
	for (size_t i = 0; i < n; i++) {
		const struct fx_value *f = &docs[i].fields, *items = fx_value_path(f, "items");
		const char *status = fx_value_path_str(f, "status");
		int64_t day = tm_day(&local[i]);

		if (status && strcmp(status, "cancelled") == 0)
			continue;
		if (rp->day.open && rp->day.day != day && day_flush(rp, e) < 0)
			return -1;
		rp->day.day = day;
		rp->day.open = true;
		for (size_t j = 0; items && items->type == FX_V_ARRAY && j < items->u.arr.n; j++) {
			const struct fx_value *it = &items->u.arr.items[j];
			int64_t q = int_or_zero(it, "quantity"), line;
			struct sale *s;

			if (!fx_value_path_int(it, "lineTotalCents", &line))
				line = q * int_or_zero(it, "unitPriceCents");
			s = day_sale(rp, str_or_empty(it, "sku"), str_or_empty(it, "name"));
			if (!s)
				return too_many(rp, e);
			s->quantity += q;
			s->revenue += line;
		}
		rp->day.shipping += int_or_zero(f, "shippingCents");
		rp->order_totals += int_or_zero(f, "totalCents");
	}
	return 0;
}

static int inventory_page(void *ctx, struct fx_doc *docs, size_t n, struct fx_err *e)
{
	struct report *rp = ctx;
	struct fx_buf *b = &rp->out;

	for (size_t i = 0; i < n; i++) {
		const struct fx_value *f = &docs[i].fields, *low = fx_value_path(f, "lowStock");
		int64_t on_hand = int_or_zero(f, "stock.onHand"), reserved = int_or_zero(f, "stock.reserved"),
			available, cost = 0, value = 0;
		bool has_cost = fx_value_path_int(f, "costCents", &cost), has_value;

		if (!fx_value_path_int(f, "stock.available", &available))
			available = on_hand - reserved;
		has_value = has_cost && !__builtin_mul_overflow(on_hand, cost, &value);
		if (count_row(rp, e) < 0)
			return -1;
		if (fx_csv_text(b, str_or_empty(f, "sku")) < 0 || fx_csv_text(b, str_or_empty(f, "name")) < 0 ||
		    fx_csv_text(b, str_or_empty(f, "category")) < 0 || fx_csv_text(b, str_or_empty(f, "status")) < 0 ||
		    fx_csv_int(b, on_hand) < 0 || fx_csv_int(b, reserved) < 0 || fx_csv_int(b, available) < 0 ||
		    fx_csv_int(b, int_or_zero(f, "stock.reorderPoint")) < 0 ||
		    fx_csv_text(b, low && low->type == FX_V_BOOL ? (low->u.b ? "true" : "false") : "") < 0 ||
		    fx_csv_cents(b, int_or_zero(f, "priceCents")) < 0 ||
		    (has_cost ? fx_csv_cents(b, cost) : fx_csv_text(b, "")) < 0 ||
		    (has_value ? fx_csv_cents(b, value) : fx_csv_text(b, "")) < 0 || fx_csv_end_row(b) < 0)
			return too_big(e);
	}
	return 0;
}

/* ---- reading ---- */

struct scan {
	const char *collection;
	const char *order_field; /* then __name__, in the same direction */
	bool descending;
	bool ranged; /* order_field (a timestamp) in [start, end) */
	int (*page)(void *rp, struct fx_doc *docs, size_t n, struct fx_err *e); /* rp: struct report */
};

static int scan_over(void *rp, struct fx_err *e)
{
	return too_many(rp, e);
}

/* Reads the collection page by page through a cursor, at most MAX_ROWS documents. */
static int scan(struct report *rp, const struct scan *sc, struct fx_err *e)
{
	struct fx_scan run = {.order_field = sc->order_field,
			      .page_size = PAGE_SIZE,
			      .max = MAX_ROWS,
			      .page = sc->page,
			      .over = scan_over,
			      .ctx = rp};
	struct fx_value v = {0};
	int rc = -1;

	run.q = fx_tenant_query(rp->r, NULL, sc->collection, &run.parent_rel, e);
	if (!run.q)
		return -1;
	if (sc->ranged) {
		fx_value_ts(&v, rp->start_secs, rp->start_nanos);
		if (fx_fsquery_where(run.q, sc->order_field, ">=", &v, e) < 0)
			goto out;
		fx_value_ts(&v, rp->end_secs, rp->end_nanos);
		if (fx_fsquery_where(run.q, sc->order_field, "<", &v, e) < 0)
			goto out;
	}
	if (fx_fsquery_order_by(run.q, sc->order_field, sc->descending, e) < 0 ||
	    fx_fsquery_order_by(run.q, "__name__", sc->descending, e) < 0)
		goto out;
	rc = fx_model_scan_run(&run, e);
out:
	fx_fsquery_free(run.q);
	return rc;
}

static int header(struct fx_buf *b, const char *const *names)
{
	for (; *names; names++)
		if (fx_csv_text(b, *names) < 0)
			return -1;
	return fx_csv_end_row(b);
}

/* Appends the blocks of rows oldest first. */
static int unreverse(struct report *rp, struct fx_err *e)
{
	for (size_t i = rp->nmarks; i-- > 0;) {
		size_t end = i + 1 < rp->nmarks ? rp->marks[i + 1] : rp->rows.len;

		if (fx_buf_append(&rp->out, rp->rows.data + rp->marks[i], end - rp->marks[i]) < 0)
			return too_big(e);
	}
	return 0;
}

static int build(struct report *rp, struct fx_err *e)
{
	static const char *const orders_header[] = {"number",	"date",	    "channel", "status", "customer", "items",
						    "subtotal", "shipping", "vat",     "total",	 NULL};
	static const char *const sales_header[] = {"date", "sku", "name", "quantity", "revenue", NULL};
	static const char *const inventory_header[] = {
		"sku",		"name",	    "category", "status", "onHand",	"reserved", "available",
		"reorderPoint", "lowStock", "price",	"cost",	  "stockValue", NULL};
	static const struct scan orders_scan = {"orders", "createdAt", true, true, orders_page};
	static const struct scan sales_scan = {"orders", "createdAt", true, true, sales_page};
	static const struct scan inventory_scan = {"products", "skuKey", false, false, inventory_page};
	struct fx_buf *b = &rp->out;

	switch (rp->type) {
	case ORDERS:
		if (header(b, orders_header) < 0)
			return too_big(e);
		return scan(rp, &orders_scan, e) < 0 ? -1 : unreverse(rp, e);
	case SALES:
		if (header(b, sales_header) < 0)
			return too_big(e);
		if (scan(rp, &sales_scan, e) < 0 || day_flush(rp, e) < 0 || unreverse(rp, e) < 0)
			return -1;
		if (rp->revenue != rp->order_totals)
			fx_log_warn("sales report: rows add up to %" PRId64 " cents, the orders' totals to %" PRId64,
				    rp->revenue, rp->order_totals);
		if (fx_csv_text(b, "TOTAL") < 0 || fx_csv_text(b, "") < 0 || fx_csv_text(b, "") < 0 ||
		    fx_csv_int(b, rp->units) < 0 || fx_csv_cents(b, rp->revenue) < 0 || fx_csv_end_row(b) < 0)
			return too_big(e);
		return 0;
	case INVENTORY:
		if (header(b, inventory_header) < 0)
			return too_big(e);
		return scan(rp, &inventory_scan, e);
	}
	return fx_err_set(e, FX_INTERNAL, "unknown report type");
}

/* ---- the entry points ---- */

/* Single-threaded start: TZ exists from now on, so tz_enter only ever replaces it. */
int fx_report_init(struct fx_err *e)
{
	setenv("TZ", ":UTC", 1);
	tzset();
	if (fx_str_set(tz_current, sizeof(tz_current), "UTC") < 0)
		return fx_err_set(e, FX_INTERNAL, "time zone names do not fit");
	return 0;
}

/* The zone of r's organization (its timezone, FX_DEFAULT_TIMEZONE when unset). */
static int org_zone(struct fx_req *r, struct zone *z, struct fx_err *e)
{
	struct fx_doc org = {0};
	const char *tz, *root;
	int rc = -1;

	if (!(root = fx_tenant_root(r, e)) || fx_firestore_get(root, &org, e) < 0)
		goto out;
	tz = fx_value_path_str(&org.fields, "timezone");
	rc = zone_open(tz && *tz ? tz : FX_DEFAULT_TIMEZONE, z, e);
out:
	fx_firestore_doc_cleanup(&org);
	return rc;
}

/* The local day of instant secs in z. */
static int64_t zone_day_of(const struct zone *z, int64_t secs)
{
	struct tm local;

	zone_local(z, &secs, 1, &local);
	return tm_day(&local);
}

/* The local day it is now in z. */
static int64_t zone_today(const struct zone *z)
{
	int64_t now;
	int32_t nanos;

	fx_ts_now(&now, &nanos);
	return zone_day_of(z, now);
}

/* One end of a report's range: absent, a local day, or an exact instant. */
struct bound {
	bool given;
	bool is_day;
	int64_t day; /* is_day */
	int64_t secs; /* else */
	int32_t nanos;
};

/*
 * A date YYYY-MM-DD or an RFC 3339 time (fx_ts_parse, which also takes the
 * lower-case 't' and 'z' RFC 3339 allows) in MIN_YEAR..MAX_YEAR; 400
 * naming field otherwise.
 */
static int parse_bound(const char *s, const char *field, struct bound *b, struct fx_err *e)
{
	char t[48];
	size_t n;

	memset(b, 0, sizeof(*b));
	if (!s)
		return 0;
	b->given = true;
	if (parse_day(s, &b->day) == 0) {
		b->is_day = true;
		return 0;
	}
	n = strlen(s);
	if (fx_str_copy(t, sizeof(t), s, n) == 0) {
		if (n > 10 && t[10] == 't')
			t[10] = 'T';
		if (n > 0 && t[n - 1] == 'z')
			t[n - 1] = 'Z';
	} else {
		t[0] = '\0';
	}
	if (fx_ts_parse(t, &b->secs, &b->nanos) == 0 && b->secs >= fx_civil_days(MIN_YEAR, 1, 1) * 86400 &&
	    b->secs < fx_civil_days(MAX_YEAR + 1, 1, 1) * 86400)
		return 0;
	return fx_err_invalid(e, field,
			      "must be a date YYYY-MM-DD or an RFC 3339 time such as 2026-12-02T06:00:00.000Z, "
			      "between %d-01-01 and %d-12-31",
			      MIN_YEAR, MAX_YEAR);
}

/* How a file name shows a bound: the date, or the UTC instant as YYYYMMDDTHHMMSSZ. */
static void bound_label(const struct bound *b, char out[24])
{
	int64_t day, rem, y;
	int m, d;

	if (b->is_day) {
		char s[16];

		format_day(b->day, s);
		if (fx_str_set(out, 24, s) < 0)
			out[0] = '\0'; /* cannot happen: a date is 10 bytes */
		return;
	}
	day = b->secs / 86400;
	rem = b->secs % 86400;
	fx_civil_date(day, &y, &m, &d);
	/* Years stay within MIN_YEAR..MAX_YEAR: 16 bytes always fit 24. */
	if (fx_str_fmt(out, 24, "%04" PRId64 "%02d%02dT%02d%02d%02dZ", y, m, d, (int)(rem / 3600), (int)(rem / 60 % 60),
		       (int)(rem % 60)) < 0)
		out[0] = '\0';
}

/* (secs, nanos) a before b. */
static bool before(int64_t as, int32_t an, int64_t bs, int32_t bn)
{
	return as < bs || (as == bs && an < bn);
}

/* fx_report_window in the resolved zone z. */
static int window_in(const struct zone *z, const char *from, const char *to, int64_t now, struct fx_report_window *w,
		     struct fx_err *e)
{
	struct bound f, t;
	int64_t longest = (int64_t)(MAX_RANGE_DAYS + 1) * 86400 + 3600; /* 367 local days, one DST hour longer */

	memset(w, 0, sizeof(*w));
	if (parse_bound(from, "from", &f, e) < 0 || parse_bound(to, "to", &t, e) < 0)
		return -1;
	if (!t.given) {
		t.given = t.is_day = true;
		t.day = zone_day_of(z, now) - 1;
	}
	if (!f.given) {
		f.given = true;
		f.is_day = t.is_day;
		f.day = t.day - DEFAULT_SPAN_DAYS;
		f.secs = t.secs - (int64_t)DEFAULT_SPAN_DAYS * 86400;
		f.nanos = t.nanos;
	}
	bound_label(&f, w->from);
	bound_label(&t, w->to);
	if (f.is_day && t.is_day) {
		/* Whole days, both inclusive. */
		if (f.day > t.day)
			return fx_err_invalid(e, "from", "must be on or before to (%s)", w->to);
		if (t.day - f.day > MAX_RANGE_DAYS)
			return fx_err_invalid(e, "from", "must be at most %d days before to (%s)", MAX_RANGE_DAYS,
					      w->to);
	}
	w->start_secs = f.is_day ? zone_midnight(z, f.day) : f.secs;
	w->start_nanos = f.is_day ? 0 : f.nanos;
	w->end_secs = t.is_day ? zone_midnight(z, t.day + 1) : t.secs;
	w->end_nanos = t.is_day ? 0 : t.nanos;
	if (!before(w->start_secs, w->start_nanos, w->end_secs, w->end_nanos))
		return fx_err_invalid(e, "from", "must be before to (%s)", w->to);
	if (before(w->start_secs + longest, w->start_nanos, w->end_secs, w->end_nanos))
		return fx_err_invalid(e, "from", "must be at most %d days before to (%s)", MAX_RANGE_DAYS, w->to);
	return 0;
}

int fx_report_window(const char *from, const char *to, const char *tz, int64_t now, struct fx_report_window *w,
		     struct fx_err *e)
{
	struct bound b;
	struct zone z;

	/* Malformed bounds first, whatever the zone. */
	if (parse_bound(from, "from", &b, e) < 0 || parse_bound(to, "to", &b, e) < 0 || zone_open(tz, &z, e) < 0)
		return -1;
	return window_in(&z, from, to, now, w, e);
}

int fx_report_run(struct fx_req *r, const char *type, const char *from, const char *to, struct fx_doc *file,
		  struct fx_err *e)
{
	struct report *rp = fx_mem_xcalloc(1, sizeof(*rp));
	struct fx_report_window w;
	struct bound b;
	char name[96];
	int64_t now;
	int32_t nanos;
	int rc = -1;

	rp->r = r;
	fx_buf_init(&rp->rows, MAX_CSV_BYTES);
	fx_buf_init(&rp->out, MAX_CSV_BYTES);
	if (!type || fx_json_enum_index(type, types) < 0) {
		fx_err_invalid(e, "type", "must be sales, inventory or orders");
		goto out;
	}
	rp->type = (enum report_type)fx_json_enum_index(type, types);
	/* A malformed bound is refused before anything is read. */
	if (parse_bound(from, "from", &b, e) < 0 || parse_bound(to, "to", &b, e) < 0)
		goto out;
	if (org_zone(r, &rp->zone, e) < 0)
		goto out;
	fx_ts_now(&now, &nanos);
	if (window_in(&rp->zone, from, to, now, &w, e) < 0)
		goto out;
	rp->start_secs = w.start_secs;
	rp->start_nanos = w.start_nanos;
	rp->end_secs = w.end_secs;
	rp->end_nanos = w.end_nanos;

	if (build(rp, e) < 0)
		goto out;
	/* Inventory is stock as of now: its name carries today, not the ignored range. */
	if (rp->type == INVENTORY) {
		char today[16];

		format_day(zone_day_of(&rp->zone, now), today);
		if (fx_str_set(w.from, sizeof(w.from), today) < 0 || fx_str_set(w.to, sizeof(w.to), today) < 0) {
			fx_err_set(e, FX_INTERNAL, "report dates do not fit");
			goto out;
		}
	}
	if (fx_str_fmt(name, sizeof(name), "%s-%s-%s.csv", types[rp->type], w.from, w.to) < 0) {
		fx_err_set(e, FX_INTERNAL, "report file name does not fit");
		goto out;
	}
	rc = fx_files_store(r, "report", name, "text/csv", rp->out.data ? rp->out.data : "", rp->out.len, NULL, file,
			    e);
out:
	fx_buf_cleanup(&rp->rows);
	fx_buf_cleanup(&rp->out);
	day_cleanup(&rp->day);
	free(rp->marks);
	free(rp);
	return rc;
}

int fx_report_yesterday(struct fx_req *r, char out[11], struct fx_err *e)
{
	struct zone z;
	char day[16];

	if (org_zone(r, &z, e) < 0)
		return -1;
	format_day(zone_today(&z) - 1, day);
	if (strlen(day) != 10)
		return fx_err_set(e, FX_INTERNAL, "yesterday (%s) is not a date YYYY-MM-DD", day);
	return fx_str_set(out, 11, day) < 0 ? fx_err_set(e, FX_INTERNAL, "yesterday (%s) does not fit", day) : 0;
}
