/*
 * Reports through nginx: each report type created, downloaded through the
 * files group and parsed back as RFC 4180 CSV; totals against the orders;
 * formula-safe and quoted text; local days in the organization's
 * timezone; validation; roles and tenant isolation.
 */
#include "client.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- a small RFC 4180 reader: CRLF rows, quoted cells with "" escapes ---- */

#define MAX_CELLS 16
#define MAX_ROWS 256

struct csv {
	int nrows;
	int ncells[MAX_ROWS];
	char *cell[MAX_ROWS][MAX_CELLS];
};

/* Parses p[0..n); -1 (with a message) when it is not RFC 4180 with CRLF row ends. */
static int csv_parse(const char *p, size_t n, struct csv *c, char *why, size_t why_len)
{
	size_t i = 0;

	memset(c, 0, sizeof(*c));
	while (i < n) {
		int row = c->nrows;

		if (row == MAX_ROWS)
			return snprintf(why, why_len, "more than %d rows", MAX_ROWS), -1;
		for (;;) {
			char *v = calloc(1, n + 1);
			size_t o = 0;

			if (c->ncells[row] == MAX_CELLS)
				return free(v), snprintf(why, why_len, "row %d: too many cells", row), -1;
			if (i < n && p[i] == '"') {
				for (i++;; i++) {
					if (i >= n)
						return free(v), snprintf(why, why_len, "row %d: open quote", row), -1;
					if (p[i] == '"' && i + 1 < n && p[i + 1] == '"')
						v[o++] = p[i++];
					else if (p[i] == '"')
						break;
					else
						v[o++] = p[i];
				}
				i++;
			} else {
				for (; i < n && p[i] != ',' && p[i] != '\r' && p[i] != '\n'; i++) {
					if (p[i] == '"')
						return free(v), snprintf(why, why_len, "row %d: bare quote", row), -1;
					v[o++] = p[i];
				}
			}
			c->cell[row][c->ncells[row]++] = v;
			if (i < n && p[i] == ',') {
				i++;
				continue;
			}
			if (i + 1 < n && p[i] == '\r' && p[i + 1] == '\n') {
				i += 2;
				break;
			}
			return snprintf(why, why_len, "row %d: not ended by CRLF at byte %zu", row, i), -1;
		}
		c->nrows++;
	}
	return 0;
}

static void csv_free(struct csv *c)
{
	for (int r = 0; r < MAX_ROWS; r++)
		for (int k = 0; k < c->ncells[r]; k++)
			free(c->cell[r][k]);
}

/* The cells of row r joined by '|', for comparing whole rows. */
static const char *row_text(const struct csv *c, int r)
{
	static __thread char s[2048];
	size_t o = 0;

	s[0] = '\0';
	for (int k = 0; k < c->ncells[r] && o < sizeof(s); k++)
		o += (size_t)snprintf(s + o, sizeof(s) - o, "%s%s", k ? "|" : "", c->cell[r][k]);
	return s;
}

/* ---- the shop the reports are about ---- */

struct tenant {
	struct test_user owner;
	char org[64];
};

struct shop {
	struct tenant t;
	char pa[64], pb[64], pc[64]; /* products A, B and the one named =SUM(A1) */
	char number[3][32]; /* orders in creation order; the third is cancelled */
	char created[3][40];
	long long total[3];
};

static const char address[] = "{\"line1\":\"12 Long St\",\"city\":\"Cape Town\",\"province\":\"Western Cape\","
			      "\"postalCode\":\"8001\"}";
static const char quoted_name[] = "Smith, Jo \"JJ\"";

static void assert_error(struct http_resp *r, long code, const char *status)
{
	cr_assert_eq(r->status, code, "expected %ld, got %ld: %s", code, r->status, r->body);
	cr_assert_str_eq(json_str(r, "error.status"), status, "%s", r->body);
}

static void make_tenant(struct tenant *t)
{
	test_owner_signup(&t->owner, "merchant", "Merchant", t->org, sizeof(t->org));
}

static void product(const struct tenant *t, const char *sku, const char *name, long price, long cost, int stock,
		    char id[64])
{
	char body[400];

	snprintf(body, sizeof(body),
		 "{\"sku\":\"%s\",\"name\":\"%s\",\"category\":\"Pantry\",\"priceCents\":%ld,\"costCents\":%ld,"
		 "\"status\":\"active\",\"stock\":{\"reorderPoint\":5}}",
		 sku, name, price, cost);
	test_product_stocked(t->owner.id_token, body, stock, id, 64);
}

/* Creates an order as customer (a JSON string literal) and records its number, time and total. */
static void order(struct shop *s, int k, const char *customer, const char *items, long shipping)
{
	char body[2048];
	struct http_resp *r;

	snprintf(body, sizeof(body),
		 "{\"customer\":{\"name\":%s},\"shippingAddress\":%s,\"items\":%s,\"shippingCents\":%ld}", customer,
		 address, items, shipping);
	r = http_json("POST", "/v1/orders", s->t.owner.id_token, body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	snprintf(s->number[k], sizeof(s->number[k]), "%s", json_str(r, "number"));
	snprintf(s->created[k], sizeof(s->created[k]), "%s", json_str(r, "createdAt"));
	s->total[k] = json_int(r, "totalCents");
	if (k == 2) {
		char path[200];

		snprintf(path, sizeof(path), "/v1/orders/%s:cancel", json_str(r, "id"));
		http_resp_free(r);
		r = http_json("POST", path, s->t.owner.id_token, "{\"reason\":\"changed their mind\"}");
		cr_assert_eq(r->status, 200, "%s", r->body);
	}
	http_resp_free(r);
}

/*
 * Products A (R199.99, cost R120), B (R50, cost R30), "=SUM(A1)" (R10,
 * cost R5); orders 1: 2×A + R60 shipping for a customer whose name holds
 * a comma and quotes; 2: 1×A + 1×B; 3: 3×B, cancelled.
 */
static void seed(struct shop *s)
{
	char items[300], customer[64];

	memset(s, 0, sizeof(*s));
	make_tenant(&s->t);
	product(&s->t, "REP-A", "Rooibos 80s", 19999, 12000, 20, s->pa);
	product(&s->t, "REP-B", "Mrs Ball's Chutney", 5000, 3000, 10, s->pb);
	product(&s->t, "REP-C", "=SUM(A1)", 1000, 500, 4, s->pc);
	snprintf(customer, sizeof(customer), "\"Smith, Jo \\\"JJ\\\"\"");
	snprintf(items, sizeof(items), "[{\"productId\":\"%s\",\"quantity\":2}]", s->pa);
	order(s, 0, customer, items, 6000);
	snprintf(items, sizeof(items), "[{\"productId\":\"%s\",\"quantity\":1},{\"productId\":\"%s\",\"quantity\":1}]",
		 s->pa, s->pb);
	order(s, 1, "\"Lerato\"", items, 0);
	snprintf(items, sizeof(items), "[{\"productId\":\"%s\",\"quantity\":3}]", s->pb);
	order(s, 2, "\"Sipho\"", items, 0);
}

/* ---- time in Africa/Johannesburg (+02:00 all year) ---- */

static time_t parse_utc(const char *rfc3339)
{
	struct tm tm = {0};

	cr_assert_eq(sscanf(rfc3339, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
			    &tm.tm_min, &tm.tm_sec),
		     6, "%s", rfc3339);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return timegm(&tm);
}

/* t shifted by offset seconds, formatted with fmt. */
static const char *local_fmt(time_t t, long offset, const char *fmt)
{
	static __thread char s[4][32];
	static __thread int k;
	struct tm tm;
	time_t l = t + offset;

	k = (k + 1) % 4;
	gmtime_r(&l, &tm);
	/* fmt is one of this file's literal formats (-Wformat=2 cannot see that). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	strftime(s[k], sizeof(s[k]), fmt, &tm);
#pragma GCC diagnostic pop
	return s[k];
}

#define SAST (2 * 3600)

static const char *sast_day(time_t t)
{
	return local_fmt(t, SAST, "%Y-%m-%d");
}

static long long cents_of(const char *rand)
{
	long long whole = 0, frac = 0;
	int neg = rand[0] == '-';

	cr_assert_eq(sscanf(rand + neg, "%lld.%2lld", &whole, &frac), 2, "amount %s", rand);
	return (neg ? -1 : 1) * (whole * 100 + frac);
}

/* ---- creating and reading reports ---- */

static struct http_resp *report(const struct tenant *t, const char *body)
{
	return http_json("POST", "/v1/reports", t->owner.id_token, body);
}

/*
 * Creates a report, checks the file answer and downloads the CSV into c.
 * name_out (may be NULL) gets the file's name, id_out its id.
 */
static void fetch(const struct tenant *t, const char *body, struct csv *c, char *name_out, char *id_out)
{
	struct http_resp *r = report(t, body), *d;
	char path[200], location[200], why[200];
	long long size;

	cr_assert_eq(r->status, 201, "%s: %s", body, r->body);
	cr_assert_str_eq(json_str(r, "kind"), "report");
	cr_assert_str_eq(json_str(r, "contentType"), "text/csv");
	cr_assert_str_eq(json_str(r, "status"), "ready");
	cr_assert_not_null(json_str(r, "downloadUrl"), "the answer carries a signed URL: %s", r->body);
	snprintf(location, sizeof(location), "/v1/files/%s", json_str(r, "id"));
	cr_assert_str_eq(http_header(r, "Location"), location);
	if (name_out)
		snprintf(name_out, 96, "%s", json_str(r, "name"));
	if (id_out)
		snprintf(id_out, 64, "%s", json_str(r, "id"));
	size = json_int(r, "size");
	snprintf(path, sizeof(path), "/v1/files/%s/content", json_str(r, "id"));
	http_resp_free(r);
	d = http_get(path, t->owner.id_token);
	cr_assert_eq(d->status, 200, "%s", d->body);
	cr_assert_eq((long long)d->len, size, "the file holds what its size says");
	cr_assert_eq(csv_parse(d->body, d->len, c, why, sizeof(why)), 0, "not RFC 4180: %s\n%s", why, d->body);
	http_resp_free(d);
}

static void range_body(char *out, size_t len, const char *type)
{
	time_t now = time(NULL);

	/* Yesterday through today (SAST): the seed's orders whatever midnight did meanwhile. */
	snprintf(out, len, "{\"type\":\"%s\",\"from\":\"%s\",\"to\":\"%s\"}", type, sast_day(now - 86400),
		 sast_day(now));
}

Test(reports, orders_report_has_one_row_per_order_in_local_time)
{
	static const char *const rest[] = {"direct|pending|Smith, Jo \"JJ\"|2|399.98|60.00|60.00|459.98",
					   "direct|pending|Lerato|2|249.99|0.00|32.61|249.99",
					   "direct|cancelled|Sipho|3|150.00|0.00|19.57|150.00"};
	struct shop s;
	struct csv c;
	char body[200], name[96], expected[300];
	time_t now;

	seed(&s);
	range_body(body, sizeof(body), "orders");
	now = time(NULL);
	fetch(&s.t, body, &c, name, NULL);
	snprintf(expected, sizeof(expected), "orders-%s-%s.csv", sast_day(now - 86400), sast_day(now));
	cr_assert_str_eq(name, expected);
	cr_assert_eq(c.nrows, 4, "header and one row per order, the cancelled one included");
	cr_assert_str_eq(row_text(&c, 0), "number|date|channel|status|customer|items|subtotal|shipping|vat|total");
	for (int k = 0; k < 3; k++) {
		snprintf(expected, sizeof(expected), "%s|%s|%s", s.number[k],
			 local_fmt(parse_utc(s.created[k]), SAST, "%Y-%m-%d %H:%M"), rest[k]);
		cr_assert_str_eq(row_text(&c, 1 + k), expected, "oldest first, time in Africa/Johannesburg (%s)",
				 s.created[k]);
		cr_assert_eq(cents_of(c.cell[1 + k][9]), s.total[k]);
	}
	cr_assert_str_eq(c.cell[1][4], quoted_name, "a name with a comma and quotes round-trips");
	csv_free(&c);
}

Test(reports, sales_report_sums_per_day_and_sku_without_cancelled_orders)
{
	struct shop s;
	struct csv c;
	char body[200], expected[200];
	const char *day;
	long long rows = 0;

	seed(&s);
	range_body(body, sizeof(body), "sales");
	fetch(&s.t, body, &c, NULL, NULL);
	cr_assert_str_eq(row_text(&c, 0), "date|sku|name|quantity|revenue");
	cr_assert_str_eq(c.cell[c.nrows - 1][0], "TOTAL", "the last row is the total");
	cr_assert_eq(cents_of(c.cell[c.nrows - 1][4]), s.total[0] + s.total[1],
		     "the total is the sum of the orders' totalCents, without the cancelled order");
	cr_assert_str_eq(c.cell[c.nrows - 1][3], "4", "units of the orders that stand");
	for (int k = 1; k < c.nrows - 1; k++)
		rows += cents_of(c.cell[k][4]);
	cr_assert_eq(rows, s.total[0] + s.total[1], "the rows add up to the total");
	day = sast_day(parse_utc(s.created[0]));
	if (strcmp(day, sast_day(parse_utc(s.created[1]))) == 0) { /* not split by midnight */
		cr_assert_eq(c.nrows, 5, "A, B, shipping and the total");
		snprintf(expected, sizeof(expected), "%s|REP-A|Rooibos 80s|3|599.97", day);
		cr_assert_str_eq(row_text(&c, 1), expected);
		snprintf(expected, sizeof(expected), "%s|REP-B|Mrs Ball's Chutney|1|50.00", day);
		cr_assert_str_eq(row_text(&c, 2), expected, "the cancelled 3×B are not sales");
		snprintf(expected, sizeof(expected), "%s||Shipping||60.00", day);
		cr_assert_str_eq(row_text(&c, 3), expected);
		cr_assert_str_eq(row_text(&c, 4), "TOTAL|||4|709.97");
	}
	csv_free(&c);
}

Test(reports, inventory_report_lists_products_with_stock_and_escapes_formulas)
{
	struct shop s;
	struct csv c;
	char body[200], name[96], expected[96];

	seed(&s);
	range_body(body, sizeof(body), "inventory");
	fetch(&s.t, body, &c, name, NULL);
	snprintf(expected, sizeof(expected), "inventory-%s-%s.csv", sast_day(time(NULL)), sast_day(time(NULL)));
	cr_assert_str_eq(name, expected, "inventory is as of today");
	cr_assert_eq(c.nrows, 4);
	cr_assert_str_eq(row_text(&c, 0), "sku|name|category|status|onHand|reserved|available|reorderPoint|lowStock|"
					  "price|cost|stockValue");
	cr_assert_str_eq(row_text(&c, 1), "REP-A|Rooibos 80s|Pantry|active|20|3|17|5|false|199.99|120.00|2400.00");
	cr_assert_str_eq(row_text(&c, 2), "REP-B|Mrs Ball's Chutney|Pantry|active|10|1|9|5|false|50.00|30.00|300.00",
			 "the cancelled order released its reservation");
	cr_assert_str_eq(c.cell[3][1], "'=SUM(A1)", "a formula-like name is written as text");
	cr_assert_str_eq(row_text(&c, 3), "REP-C|'=SUM(A1)|Pantry|active|4|0|4|5|true|10.00|5.00|20.00");
	csv_free(&c);
}

Test(reports, default_range_is_the_thirty_days_before_today)
{
	struct tenant t;
	struct csv c;
	char name[96], expected[96];
	time_t now = time(NULL);

	make_tenant(&t);
	fetch(&t, "{\"type\":\"orders\"}", &c, name, NULL);
	snprintf(expected, sizeof(expected), "orders-%s-%s.csv", sast_day(now - 31 * 86400), sast_day(now - 86400));
	cr_assert_str_eq(name, expected, "from = to - 30, to = yesterday");
	cr_assert_eq(c.nrows, 1, "only the header when nothing was sold");
	csv_free(&c);
}

Test(reports, days_follow_the_organization_timezone)
{
	struct shop s;
	struct csv c;
	struct http_resp *r;
	char path[100], body[200], expected[96];
	const long kiritimati = 14 * 3600; /* +14:00 since 1995, no DST */
	time_t created;
	const char *day;

	seed(&s);
	snprintf(path, sizeof(path), "/v1/organizations/%s", s.t.org);
	r = http_json("PATCH", path, s.t.owner.id_token, "{\"timezone\":\"Pacific/Kiritimati\"}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	http_resp_free(r);
	created = parse_utc(s.created[0]);
	day = local_fmt(created, kiritimati, "%Y-%m-%d");
	snprintf(body, sizeof(body), "{\"type\":\"orders\",\"from\":\"%s\",\"to\":\"%s\"}", day, day);
	fetch(&s.t, body, &c, NULL, NULL);
	cr_assert_geq(c.nrows, 2, "the order's Kiritimati day holds it");
	cr_assert_str_eq(c.cell[1][0], s.number[0]);
	snprintf(expected, sizeof(expected), "%s", local_fmt(created, kiritimati, "%Y-%m-%d %H:%M"));
	cr_assert_str_eq(c.cell[1][1], expected, "shown in the organization's time");
	csv_free(&c);
	day = local_fmt(created - 86400, kiritimati, "%Y-%m-%d");
	snprintf(body, sizeof(body), "{\"type\":\"orders\",\"from\":\"%s\",\"to\":\"%s\"}", day, day);
	fetch(&s.t, body, &c, NULL, NULL);
	cr_assert_eq(c.nrows, 1, "the day before in Kiritimati has no orders");
	csv_free(&c);
}

static void assert_invalid(const struct tenant *t, const char *body, const char *field)
{
	struct http_resp *r = report(t, body);

	cr_assert_eq(r->status, 400, "%s: %s", body, r->body);
	cr_assert_str_eq(json_str(r, "error.status"), "INVALID_ARGUMENT", "%s", r->body);
	cr_assert_str_eq(json_str(r, "error.details.0.field"), field, "%s: %s", body, r->body);
	http_resp_free(r);
}

/* t (an RFC 3339 UTC time with milliseconds) moved by ms, written with offset hours ("Z" for 0). */
static const char *shifted(const char *t, long ms, int offset_hours)
{
	static __thread char out[4][48];
	static __thread int k;
	long long whole_ms = (long long)parse_utc(t) * 1000 + atoi(t + 20) + ms + offset_hours * 3600000LL;
	time_t secs = (time_t)(whole_ms / 1000);
	struct tm tm;
	char zone[8];

	k = (k + 1) % 4;
	gmtime_r(&secs, &tm);
	if (offset_hours)
		snprintf(zone, sizeof(zone), "%+03d:00", offset_hours);
	else
		snprintf(zone, sizeof(zone), "Z");
	snprintf(out[k], sizeof(out[k]), "%04d-%02d-%02dT%02d:%02d:%02d.%03lld%s", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, whole_ms % 1000, zone);
	return out[k];
}

/* The order numbers of an orders report over [from, to), joined by ','. */
static const char *numbers_in(const struct tenant *t, const char *from, const char *to)
{
	static __thread char out[200];
	char body[300], name[96];
	struct csv c;
	size_t o = 0;

	snprintf(body, sizeof(body), "{\"type\":\"orders\",\"from\":\"%s\",\"to\":\"%s\"}", from, to);
	fetch(t, body, &c, name, NULL);
	cr_assert_null(strchr(name, ':'), "a file name without ':' (%s)", name);
	out[0] = '\0';
	for (int r = 1; r < c.nrows; r++)
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%s", r > 1 ? "," : "", c.cell[r][0]);
	csv_free(&c);
	return out;
}

Test(reports, rfc3339_times_make_an_exact_window_from_inclusive_to_exclusive)
{
	struct shop s;
	char all[120];

	seed(&s);
	snprintf(all, sizeof(all), "%s,%s,%s", s.number[0], s.number[1], s.number[2]);
	/* [created 2, created 3): only order 2. */
	cr_assert_str_eq(numbers_in(&s.t, s.created[1], s.created[2]), s.number[1]);
	/* to is exclusive: an order created at to is outside. */
	cr_assert_str_eq(numbers_in(&s.t, s.created[0], s.created[1]), s.number[0]);
	/* from is inclusive, to the millisecond: one after it, order 2 is outside. */
	cr_assert_str_eq(numbers_in(&s.t, shifted(s.created[1], 1, 0), s.created[2]), "");
	cr_assert_str_eq(numbers_in(&s.t, shifted(s.created[1], -1, 0), shifted(s.created[1], 1, 0)), s.number[1]);
	/* The same instants with an offset instead of Z. */
	cr_assert_str_eq(numbers_in(&s.t, shifted(s.created[0], 0, 2), shifted(s.created[2], 1, 2)), all);
	cr_assert_str_eq(numbers_in(&s.t, shifted(s.created[1], 0, -5), shifted(s.created[2], 0, -5)), s.number[1]);
	/* A date and a time together: the date's whole local day, then the exact end. */
	cr_assert_str_eq(numbers_in(&s.t, sast_day(time(NULL) - 86400), s.created[1]), s.number[0]);
}

Test(validation, malformed_or_empty_exact_windows_are_refused)
{
	struct tenant t;

	make_tenant(&t);
	assert_invalid(&t, "{\"type\":\"orders\",\"from\":\"2026-12-02T06:00:00.000Z\",\"to\":\"2026-12-02T06:00:00\"}",
		       "to");
	assert_invalid(&t, "{\"type\":\"orders\",\"from\":\"2026-12-02 06:00:00Z\",\"to\":\"2026-12-03\"}", "from");
	assert_invalid(&t, "{\"type\":\"orders\",\"from\":\"2026-12-02T24:00:00Z\",\"to\":\"2026-12-03\"}", "from");
	assert_invalid(&t, "{\"type\":\"orders\",\"from\":\"2026-12-02T06:00Z\",\"to\":\"2026-12-03\"}", "from");
	assert_invalid(&t, "{\"type\":\"orders\",\"from\":\"2026-02-30T06:00:00Z\",\"to\":\"2026-12-03\"}", "from");
	assert_invalid(&t, "{\"type\":\"orders\",\"from\":\"2026-12-02T06:00:00+25:00\",\"to\":\"2026-12-03\"}",
		       "from");
	assert_invalid(&t, "{\"type\":\"orders\",\"from\":\"1999-12-31T23:00:00Z\",\"to\":\"2000-01-02\"}", "from");
	/* An empty window, a reversed one and one over 366 days. */
	assert_invalid(&t, "{\"type\":\"orders\",\"from\":\"2026-12-02T06:00:00Z\",\"to\":\"2026-12-02T08:00:00+02:00\"}",
		       "from");
	assert_invalid(&t, "{\"type\":\"orders\",\"from\":\"2026-12-02T06:00:00.001Z\",\"to\":\"2026-12-02T06:00:00Z\"}",
		       "from");
	assert_invalid(&t, "{\"type\":\"orders\",\"from\":\"2025-01-01T00:00:00Z\",\"to\":\"2026-01-04T00:00:00Z\"}",
		       "from");
	/* The longest form RFC 3339 allows (nanoseconds and an offset) is a time like any other. */
	assert_invalid(&t,
		       "{\"type\":\"orders\",\"from\":\"2026-12-02T06:00:00.123456789+02:00\",\"to\":"
		       "\"2026-12-02T06:00:00.123456789+02:00\"}",
		       "from");
}

Test(validation, type_is_required)
{
	struct tenant t;

	make_tenant(&t);
	assert_invalid(&t, "{}", "type");
}

Test(validation, unknown_type_is_refused)
{
	struct tenant t;

	make_tenant(&t);
	assert_invalid(&t, "{\"type\":\"profit\"}", "type");
}

Test(validation, impossible_date_is_refused)
{
	struct tenant t;

	make_tenant(&t);
	assert_invalid(&t, "{\"type\":\"sales\",\"from\":\"2026-02-29\",\"to\":\"2026-03-01\"}", "from");
}

Test(validation, malformed_date_is_refused)
{
	struct tenant t;

	make_tenant(&t);
	assert_invalid(&t, "{\"type\":\"sales\",\"from\":\"2026-01-01\",\"to\":\"2026-1-31\"}", "to");
}

Test(validation, from_after_to_is_refused)
{
	struct tenant t;

	make_tenant(&t);
	assert_invalid(&t, "{\"type\":\"orders\",\"from\":\"2026-03-02\",\"to\":\"2026-03-01\"}", "from");
}

Test(validation, range_longer_than_366_days_is_refused)
{
	struct tenant t;

	make_tenant(&t);
	assert_invalid(&t, "{\"type\":\"sales\",\"from\":\"2024-01-01\",\"to\":\"2025-01-02\"}", "from");
}

Test(validation, range_of_exactly_366_days_is_accepted)
{
	struct tenant t;
	struct csv c;

	make_tenant(&t);
	fetch(&t, "{\"type\":\"sales\",\"from\":\"2024-01-01\",\"to\":\"2025-01-01\"}", &c, NULL, NULL);
	cr_assert_str_eq(row_text(&c, c.nrows - 1), "TOTAL|||0|0.00", "an empty range still totals");
	csv_free(&c);
}

Test(validation, unknown_field_is_named)
{
	struct tenant t;

	make_tenant(&t);
	assert_invalid(&t, "{\"type\":\"sales\",\"colour\":\"red\"}", "colour");
}

Test(roles, staff_cannot_create_reports)
{
	struct tenant t;
	struct test_user staff;
	struct http_resp *r;
	char body[300];

	make_tenant(&t);
	cr_assert_eq(test_user_signup(&staff, "staff"), 0);
	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"role\":\"staff\"}", staff.email);
	r = http_json("POST", "/v1/users", t.owner.id_token, body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	http_resp_free(r);
	cr_assert_eq(test_user_refresh(&staff), 0);
	r = http_json("POST", "/v1/reports", staff.id_token, "{\"type\":\"inventory\"}");
	assert_error(r, 403, "PERMISSION_DENIED");
	http_resp_free(r);
}

Test(isolation, another_organization_cannot_reach_a_report)
{
	struct tenant a, b;
	struct csv c;
	struct http_resp *r;
	char id[64], path[200];

	make_tenant(&a);
	make_tenant(&b);
	fetch(&a, "{\"type\":\"inventory\"}", &c, NULL, id);
	csv_free(&c);
	snprintf(path, sizeof(path), "/v1/files/%s", id);
	r = http_get(path, b.owner.id_token);
	assert_error(r, 404, "NOT_FOUND");
	http_resp_free(r);
	snprintf(path, sizeof(path), "/v1/files/%s/content", id);
	r = http_get(path, b.owner.id_token);
	assert_error(r, 404, "NOT_FOUND");
	http_resp_free(r);
}

Test(reports, reads_past_one_page_of_orders_in_order, .timeout = 240)
{
	struct tenant t;
	struct csv c;
	char pa[64], items[200], body[400], number[32];
	long long sum = 0;
	struct http_resp *r;
	const int n = 205; /* one page of 200 and a part page */

	make_tenant(&t);
	product(&t, "PAGE-A", "Paged", 1000, 600, n, pa);
	snprintf(items, sizeof(items), "[{\"productId\":\"%s\",\"quantity\":1}]", pa);
	for (int k = 0; k < n; k++) {
		snprintf(body, sizeof(body), "{\"customer\":{\"name\":\"C%d\"},\"shippingAddress\":%s,\"items\":%s}", k,
			 address, items);
		r = http_json("POST", "/v1/orders", t.owner.id_token, body);
		cr_assert_eq(r->status, 201, "%s", r->body);
		sum += json_int(r, "totalCents");
		http_resp_free(r);
	}
	range_body(body, sizeof(body), "orders");
	fetch(&t, body, &c, NULL, NULL);
	cr_assert_eq(c.nrows, n + 1, "every order once, none lost or repeated at the page edge");
	for (int k = 0; k < n; k++) {
		snprintf(number, sizeof(number), "FX-%06d", k + 1);
		cr_assert_str_eq(c.cell[1 + k][0], number, "oldest first across pages");
	}
	csv_free(&c);
	range_body(body, sizeof(body), "sales");
	fetch(&t, body, &c, NULL, NULL);
	cr_assert_eq(cents_of(c.cell[c.nrows - 1][4]), sum);
	csv_free(&c);
}
