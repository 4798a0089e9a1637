/*
 * GET /v1/products:export?format=csv and GET /v1/products?barcode= through
 * nginx (issue 16): the export holds what was created, in the columns the
 * importer reads, formula-looking text escaped; a catalogue of many pages
 * arrives whole and in SKU order while the worker's peak memory (VmHWM, as
 * test_bounds reads it) stays flat in the catalogue's size; every role
 * exports its own organization's catalogue and never another's.
 */
#include "client.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEADER "sku,name,description,category,brand,barcode,price,cost,status,reorderPoint,onHand"

struct tenant {
	struct test_user owner;
	char org[64];
};

static void make_tenant(struct tenant *t, const char *prefix)
{
	test_owner_signup(&t->owner, prefix, "Export", t->org, sizeof(t->org));
}

static void assert_error(struct http_resp *r, long code, const char *status, const char *field)
{
	cr_assert_eq(r->status, code, "expected %ld, got %ld: %.300s", code, r->status, r->body);
	cr_assert_str_eq(json_str(r, "error.status"), status, "%.300s", r->body);
	if (field)
		cr_assert(strstr(r->body, field), "the error names %s: %.300s", field, r->body);
}

/* ---- a small RFC 4180 reader for what the export writes ---- */

struct csv {
	size_t nrows;
	size_t *ncells;
	char ***cells; /* cells[row][col], NUL-terminated */
};

/* Parses data (after a UTF-8 BOM, which must be there) into rows of cells; fails the test on bad quoting. */
static void csv_parse(const char *data, size_t len, struct csv *c)
{
	size_t i = 3, cap = 0;
	char *cell = malloc(len + 1);
	size_t cl = 0;
	char **row = NULL;
	size_t nrow = 0;

	cr_assert_not_null(cell);
	memset(c, 0, sizeof(*c));
	cr_assert(len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0, "the export starts with a UTF-8 BOM");
	while (i < len) {
		bool quoted = false, end_row = false;

		cl = 0;
		if (data[i] == '"') {
			quoted = true;
			i++;
			for (;;) {
				cr_assert_lt(i, len, "unterminated quote");
				if (data[i] == '"') {
					if (i + 1 < len && data[i + 1] == '"') {
						cell[cl++] = '"';
						i += 2;
						continue;
					}
					i++;
					break;
				}
				cell[cl++] = data[i++];
			}
		}
		while (!quoted && i < len && data[i] != ',' && data[i] != '\r')
			cell[cl++] = data[i++];
		cr_assert_lt(i, len, "a row ends with CRLF");
		if (data[i] == ',')
			i++;
		else {
			cr_assert(data[i] == '\r' && i + 1 < len && data[i + 1] == '\n', "CRLF after a cell at %zu", i);
			i += 2;
			end_row = true;
		}
		cell[cl] = '\0';
		row = realloc(row, (nrow + 1) * sizeof(*row));
		row[nrow++] = strdup(cell);
		if (end_row) {
			if (c->nrows == cap) {
				cap = cap ? cap * 2 : 64;
				c->cells = realloc(c->cells, cap * sizeof(*c->cells));
				c->ncells = realloc(c->ncells, cap * sizeof(*c->ncells));
			}
			c->cells[c->nrows] = row;
			c->ncells[c->nrows++] = nrow;
			row = NULL;
			nrow = 0;
		}
	}
	cr_assert_eq(nrow, 0, "the last row ends with CRLF");
	free(cell);
}

static void csv_free(struct csv *c)
{
	for (size_t r = 0; r < c->nrows; r++) {
		for (size_t k = 0; k < c->ncells[r]; k++)
			free(c->cells[r][k]);
		free(c->cells[r]);
	}
	free(c->cells);
	free(c->ncells);
}

/* The header row joined with ',' (no quoting needed for our column names). */
static void header_line(const struct csv *c, char *out, size_t len)
{
	size_t n = 0;

	out[0] = '\0';
	for (size_t k = 0; k < c->ncells[0]; k++)
		n += (size_t)snprintf(out + n, len - n, "%s%s", k ? "," : "", c->cells[0][k]);
}

/* The row whose sku is sku, or -1. */
static long row_of(const struct csv *c, const char *sku)
{
	for (size_t r = 1; r < c->nrows; r++)
		if (strcmp(c->cells[r][0], sku) == 0)
			return (long)r;
	return -1;
}

static struct http_resp *export(const char *token)
{
	return http_get("/v1/products:export?format=csv", token);
}

static void export_ok(const char *token, struct csv *c)
{
	struct http_resp *r = export(token);

	cr_assert_eq(r->status, 200, "%.300s", r->body);
	cr_assert_str_eq(http_header(r, "Content-Type"), "text/csv; charset=utf-8");
	csv_parse(r->body, r->len, c);
	http_resp_free(r);
}

static void add_member(const struct tenant *t, struct test_user *u, const char *role)
{
	char body[400];
	struct http_resp *r;

	cr_assert_eq(test_user_signup(u, role), 0);
	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"role\":\"%s\"}", u->email, role);
	r = http_json("POST", "/v1/users", t->owner.id_token, body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	http_resp_free(r);
	cr_assert_eq(test_user_refresh(u), 0);
}

Test(export, holds_every_field_as_created_with_formulas_escaped)
{
	struct tenant t;
	struct csv c;
	struct http_resp *r;
	char id[64], line[1024];
	long a, b;

	make_tenant(&t, "exp");
	test_product_stocked(
		t.owner.id_token,
		"{\"sku\":\"EXP-A\",\"name\":\"=SUM(A1:A9)\",\"description\":\"line one\\nsays \\\"hi\\\", "
		"then more\",\"category\":\"-5% off\",\"brand\":\"@home\",\"barcode\":\"4006381333931\","
		"\"priceCents\":149999,\"costCents\":5,\"status\":\"draft\",\"attributes\":{\"colour\":"
		"\"r\xc3\xa9"
		"d\",\"size\":\"+XL\"},\"stock\":{\"reorderPoint\":7}}",
		42, id, sizeof(id));
	test_product_stocked(t.owner.id_token, "{\"sku\":\"EXP-B\",\"name\":\"Plain, simple\",\"priceCents\":0}", 0, id,
			     sizeof(id));
	r = export(t.owner.id_token);
	cr_assert_eq(r->status, 200, "%.300s", r->body);
	cr_assert_str_eq(http_header(r, "Content-Type"), "text/csv; charset=utf-8");
	cr_assert(strstr(http_header(r, "Content-Disposition"), "attachment; filename=\"products-"), "%s",
		  http_header(r, "Content-Disposition"));
	cr_assert(strstr(http_header(r, "Content-Disposition"), ".csv\""));
	/* The escape is what a spreadsheet sees: a quote before the formula, inside the CSV quoting. */
	cr_assert(strstr(r->body, "\r\nEXP-A,'=SUM(A1:A9),\"line one\nsays \"\"hi\"\", then more\",'-5% off,'@home,"
				  "4006381333931,1499.99,0.05,draft,7,42,r\xc3\xa9"
				  "d,'+XL\r\n"),
		  "%s", r->body);
	csv_parse(r->body, r->len, &c);
	http_resp_free(r);
	header_line(&c, line, sizeof(line));
	cr_assert_str_eq(line, HEADER ",attributes.colour,attributes.size");
	cr_assert_eq(c.nrows, 3, "a header and two products");
	a = row_of(&c, "EXP-A");
	b = row_of(&c, "EXP-B");
	cr_assert(a == 1 && b == 2, "rows in SKU order");
	for (size_t r2 = 1; r2 < c.nrows; r2++)
		cr_assert_eq(c.ncells[r2], c.ncells[0], "every row has the header's columns");
	cr_assert_str_eq(c.cells[a][1], "'=SUM(A1:A9)");
	cr_assert_str_eq(c.cells[a][2], "line one\nsays \"hi\", then more");
	cr_assert_str_eq(c.cells[a][6], "1499.99");
	cr_assert_str_eq(c.cells[a][10], "42");
	cr_assert_str_eq(c.cells[b][1], "Plain, simple");
	cr_assert_str_eq(c.cells[b][6], "0.00");
	cr_assert_str_eq(c.cells[b][7], "", "no cost is an empty cell");
	cr_assert_str_eq(c.cells[b][8], "draft");
	cr_assert_str_eq(c.cells[b][10], "0");
	cr_assert_str_eq(c.cells[b][11], "", "no attribute is an empty cell");
	csv_free(&c);
}

Test(export, every_role_exports_its_own_catalogue_and_never_another)
{
	static const char *const roles[] = {"admin", "manager", "staff", "viewer"};
	struct tenant t, other;
	char id[64];
	struct http_resp *r;

	make_tenant(&t, "exp-own");
	make_tenant(&other, "exp-other");
	test_product_stocked(t.owner.id_token, "{\"sku\":\"MINE-1\",\"name\":\"Mine\",\"priceCents\":100}", 3, id,
			     sizeof(id));
	test_product_stocked(
		other.owner.id_token,
		"{\"sku\":\"THEIRS-1\",\"name\":\"Theirs\",\"priceCents\":100,\"attributes\":{\"secret\":\"x\"}}", 5,
		id, sizeof(id));
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]) + 1; i++) {
		struct test_user u;
		struct csv c;
		char line[512];
		const char *token = t.owner.id_token;

		if (i < sizeof(roles) / sizeof(roles[0])) {
			add_member(&t, &u, roles[i]);
			token = u.id_token;
		}
		export_ok(token, &c);
		header_line(&c, line, sizeof(line));
		cr_assert_str_eq(line, HEADER, "no attribute column of another organization");
		cr_assert_eq(c.nrows, 2, "only the organization's product");
		cr_assert_str_eq(c.cells[1][0], "MINE-1");
		cr_assert_str_eq(c.cells[1][10], "3");
		csv_free(&c);
	}
	r = export(NULL);
	assert_error(r, 401, "UNAUTHENTICATED", NULL);
	http_resp_free(r);
}

Test(export, refuses_another_format_and_unknown_parameters)
{
	struct tenant t;
	struct http_resp *r;

	make_tenant(&t, "exp-fmt");
	r = http_get("/v1/products:export?format=xlsx", t.owner.id_token);
	assert_error(r, 400, "INVALID_ARGUMENT", "format");
	http_resp_free(r);
	r = http_get("/v1/products:export?format=csv&orgId=x", t.owner.id_token);
	assert_error(r, 400, "INVALID_ARGUMENT", "orgId");
	http_resp_free(r);
	r = http_get("/v1/products:export", t.owner.id_token);
	cr_assert_eq(r->status, 200, "csv is the default: %.300s", r->body);
	cr_assert_eq(r->len, 3 + strlen(HEADER "\r\n"), "an empty catalogue is its header: %s", r->body);
	http_resp_free(r);
}

/* ---- barcode lookup ---- */

Test(barcode, finds_the_product_by_exact_barcode_in_its_own_organization)
{
	struct tenant t, other;
	char id[64], mine[64];
	struct http_resp *r;
	json_object *data;

	make_tenant(&t, "bc");
	make_tenant(&other, "bc-other");
	test_product_stocked(t.owner.id_token,
			     "{\"sku\":\"BC-1\",\"name\":\"Coke\",\"priceCents\":1500,\"barcode\":\"5449000000996\"}",
			     0, mine, sizeof(mine));
	test_product_stocked(t.owner.id_token,
			     "{\"sku\":\"BC-2\",\"name\":\"Noodles\",\"priceCents\":900,\"barcode\":\"737628064502\"}",
			     0, id, sizeof(id));
	test_product_stocked(
		other.owner.id_token,
		"{\"sku\":\"BC-X\",\"name\":\"Their coke\",\"priceCents\":1,\"barcode\":\"5449000000996\"}", 0, id,
		sizeof(id));
	r = http_get("/v1/products?barcode=5449000000996", t.owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	data = json_object_object_get(r->json, "data");
	cr_assert_eq(json_object_array_length(data), 1, "exactly the organization's product: %s", r->body);
	cr_assert_str_eq(json_object_get_string(json_object_object_get(json_object_array_get_idx(data, 0), "id")),
			 mine);
	http_resp_free(r);
	/* A UPC-A is looked up as stored, not as its EAN-13 form. */
	r = http_get("/v1/products?barcode=0737628064502", t.owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(json_object_array_length(json_object_object_get(r->json, "data")), 0, "%s", r->body);
	http_resp_free(r);
	r = http_get("/v1/products?barcode=737628064502", t.owner.id_token);
	cr_assert_eq(json_object_array_length(json_object_object_get(r->json, "data")), 1, "%s", r->body);
	http_resp_free(r);
	/* Not stored anywhere: an empty list. */
	r = http_get("/v1/products?barcode=4006381333931", t.owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(json_object_array_length(json_object_object_get(r->json, "data")), 0, "%s", r->body);
	http_resp_free(r);
}

Test(barcode, refuses_a_lookup_no_barcode_could_match)
{
	static const char *const bad[] = {"5449000000997", "544900000099", "54490000009x6", "", "%205449000000996"};
	struct tenant t;

	make_tenant(&t, "bc-bad");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char path[128];
		struct http_resp *r;

		snprintf(path, sizeof(path), "/v1/products?barcode=%s", bad[i]);
		r = http_get(path, t.owner.id_token);
		assert_error(r, 400, "INVALID_ARGUMENT", "barcode");
		http_resp_free(r);
	}
}

/* ---- a catalogue of many pages, written straight to Firestore (the emulator's REST API) ---- */

#define DESC_BYTES 1000

/* Writes n products SKU prefix-0000.. into t's organization, 400 per commit, as the API stores them. */
static void seed(const struct tenant *t, const char *prefix, int n)
{
	static const char *const h[] = {"Authorization: Bearer owner", "Content-Type: application/json", NULL};
	char url[300], desc[DESC_BYTES + 1];
	size_t cap = 400 * (DESC_BYTES + 1500) + 64;
	char *body = malloc(cap);

	cr_assert_not_null(body);
	memset(desc, 'd', DESC_BYTES);
	desc[DESC_BYTES] = '\0';
	snprintf(url, sizeof(url), "http://127.0.0.1:%s/v1/projects/demo-fluxori/databases/(default)/documents:commit",
		 test_env("FLUXORI_FIRESTORE_PORT"));
	for (int from = 0; from < n; from += 400) {
		size_t len = (size_t)snprintf(body, cap, "{\"writes\":[");
		struct http_resp *r;

		for (int i = from; i < n && i < from + 400; i++) {
			char sku[64];

			snprintf(sku, sizeof(sku), "%s-%05d", prefix, i);
			len += (size_t)snprintf(
				body + len, cap - len,
				"%s{\"update\":{\"name\":\"projects/demo-fluxori/databases/(default)/documents/"
				"organizations/%s/products/"
				"p%s\",\"fields\":{\"organizationId\":{\"stringValue\":\"%s\"},"
				"\"sku\":{\"stringValue\":\"%s\"},\"skuKey\":{\"stringValue\":\"s_%s\"},"
				"\"name\":{\"stringValue\":\"Item %d\"},\"nameLower\":{\"stringValue\":\"item %d\"},"
				"\"description\":{\"stringValue\":\"%s\"},\"priceCents\":{\"integerValue\":\"%d\"},"
				"\"currency\":{\"stringValue\":\"ZAR\"},\"status\":{\"stringValue\":\"active\"},"
				"\"stock\":{\"mapValue\":{\"fields\":{\"onHand\":{\"integerValue\":\"%d\"},"
				"\"reserved\":{\"integerValue\":\"0\"},\"available\":{\"integerValue\":\"%d\"},"
				"\"reorderPoint\":{\"integerValue\":\"0\"}}}}}}}",
				i > from ? "," : "", t->org, sku, t->org, sku, sku, i, i, desc, 100 + i, i % 97,
				i % 97);
			cr_assert_lt(len, cap);
		}
		len += (size_t)snprintf(body + len, cap - len, "]}");
		r = http_url("POST", url, h, body, len);
		cr_assert_eq(r->status, 200, "seeding: %.300s", r->body);
		http_resp_free(r);
	}
	free(body);
}

/* VmHWM summed over the products group's instances, as test_bounds reads it. */
static long long products_peak_kib(void)
{
	char line[512];
	const char *p;
	long pids[2];
	long long sum = 0;
	FILE *f = popen("\"$FLUXORI_SRCDIR/scripts/fluxorictl\" status | grep '^products '", "r");

	cr_assert_not_null(f);
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	pclose(f);
	p = strstr(line, "pids=");
	cr_assert_not_null(p, "fluxorictl status shows products: %s", line);
	cr_assert_eq(sscanf(p, "pids=%ld,%ld", &pids[0], &pids[1]), 2, "%s", line);
	for (int i = 0; i < 2; i++) {
		char path[64], status[256];
		FILE *s;

		snprintf(path, sizeof(path), "/proc/%ld/status", pids[i]);
		s = fopen(path, "r");
		cr_assert_not_null(s, "%s", path);
		while (fgets(status, sizeof(status), s)) {
			long long kib;

			if (sscanf(status, "VmHWM: %lld kB", &kib) == 1)
				sum += kib;
		}
		fclose(s);
	}
	return sum;
}

/* Exports t's catalogue rounds times (both instances serve it); checks n rows in SKU order; the CSV's bytes. */
static size_t export_rounds(const struct tenant *t, const char *prefix, int n, int rounds)
{
	size_t bytes = 0;

	for (int round = 0; round < rounds; round++) {
		struct http_resp *r = export(t->owner.id_token);
		struct csv c;

		cr_assert_eq(r->status, 200, "%.300s", r->body);
		csv_parse(r->body, r->len, &c);
		bytes = r->len;
		http_resp_free(r);
		cr_assert_eq(c.nrows, (size_t)n + 1, "every product once: %zu rows for %d", c.nrows - 1, n);
		for (int i = 0; i < n; i++) {
			char sku[64], on_hand[16];

			snprintf(sku, sizeof(sku), "%s-%05d", prefix, i);
			snprintf(on_hand, sizeof(on_hand), "%d", i % 97);
			cr_assert_str_eq(c.cells[i + 1][0], sku, "row %d in SKU order", i + 1);
			cr_assert_eq(strlen(c.cells[i + 1][2]), DESC_BYTES);
			cr_assert_str_eq(c.cells[i + 1][10], on_hand);
		}
		csv_free(&c);
	}
	return bytes;
}

Test(export, a_catalogue_of_many_pages_arrives_whole_with_flat_worker_memory, .timeout = 600)
{
	struct tenant small, large;
	long long before, after_small, after_large;
	size_t small_bytes, large_bytes;

	make_tenant(&small, "exp-small");
	make_tenant(&large, "exp-large");
	/*
	 * One export page (300 products) against 10,000, the importer's most: the pages are alike, the
	 * catalogue 33 times larger. The small one is exported more often, so that every worker thread
	 * likely to serve the large one has held a page already.
	 */
	seed(&small, "SMALL", 300);
	seed(&large, "LARGE", 10000);
	before = products_peak_kib();
	small_bytes = export_rounds(&small, "SMALL", 300, 16);
	after_small = products_peak_kib();
	large_bytes = export_rounds(&large, "LARGE", 10000, 4);
	after_large = products_peak_kib();
	fprintf(stderr,
		"export: products workers' peak memory %lld KiB before, %lld after 300 products (%zu bytes of CSV), "
		"%lld after 10,000 (%zu bytes): +%lld KiB for 33 times the catalogue\n",
		before, after_small, small_bytes, after_large, large_bytes, after_large - after_small);
	cr_assert_gt(large_bytes, 30 * small_bytes, "the large catalogue is 33 times the CSV");
	/*
	 * Holding the file would add at least its 10 MiB (the buffer alone). What a flat export may still
	 * add is a page's memory in a worker thread that had not served one yet (each thread has its own
	 * malloc arena; 0.9 and 5.9 MiB in two runs): under the file's size, not a fraction of it.
	 */
	cr_assert_lt((after_large - after_small) * 1024, (long long)(large_bytes - small_bytes),
		     "the peak grew by %lld KiB for %zu more bytes of CSV", after_large - after_small,
		     large_bytes - small_bytes);
}

/*
 * A product whose CSV row outgrows the export's row cap (a description of 900,000 quotes, each
 * doubled in CSV: 1.8 MB; only writable straight to Firestore) fails the export after the first
 * pages went out. The client must see a broken response, not a CSV that looks whole without its
 * last rows: a chunked response that ends cleanly is indistinguishable from a complete one.
 */
Test(export, a_failure_after_the_first_bytes_breaks_the_response_instead_of_ending_it, .timeout = 300)
{
	static const char *const h[] = {"Authorization: Bearer owner", "Content-Type: application/json", NULL};
	struct tenant t;
	struct http_resp *r;
	char url[300];
	size_t cap = 2 * 900000 + 4096, n;
	char *body = malloc(cap);

	cr_assert_not_null(body);
	make_tenant(&t, "exp-cut");
	seed(&t, "CUT", 400); /* 440 KB of CSV before the bad row: several flushes */
	n = (size_t)snprintf(body, cap,
			     "{\"writes\":[{\"update\":{\"name\":\"projects/demo-fluxori/databases/(default)/documents/"
			     "organizations/%s/products/pzzz\",\"fields\":{\"organizationId\":{\"stringValue\":\"%s\"},"
			     "\"sku\":{\"stringValue\":\"ZZZ-QUOTES\"},\"skuKey\":{\"stringValue\":\"s_zzz-quotes\"},"
			     "\"name\":{\"stringValue\":\"Quotes\"},\"priceCents\":{\"integerValue\":\"1\"},"
			     "\"status\":{\"stringValue\":\"active\"},\"description\":{\"stringValue\":\"",
			     t.org, t.org);
	for (int i = 0; i < 900000; i++) {
		body[n++] = '\\';
		body[n++] = '"';
	}
	n += (size_t)snprintf(body + n, cap - n, "\"}}}}]}");
	snprintf(url, sizeof(url), "http://127.0.0.1:%s/v1/projects/demo-fluxori/databases/(default)/documents:commit",
		 test_env("FLUXORI_FIRESTORE_PORT"));
	r = http_url("POST", url, h, body, n);
	cr_assert_eq(r->status, 200, "seeding: %.300s", r->body);
	http_resp_free(r);
	free(body);
	r = export(t.owner.id_token);
	cr_assert_eq(r->status, 0, "a cut export must not end as if whole: %ld with %zu bytes, last row %.80s",
		     r->status, r->len, r->len > 80 ? r->body + r->len - 80 : r->body);
	cr_assert_gt(r->len, 65536, "rows went out before the failure (%zu bytes)", r->len);
	http_resp_free(r);
}

Test(export, refuses_a_catalogue_with_more_attribute_names_than_an_import_reads)
{
	struct tenant t;
	struct http_resp *r;
	char body[4096], id[64];
	size_t n;

	make_tenant(&t, "exp-attrs");
	n = (size_t)snprintf(body, sizeof(body),
			     "{\"sku\":\"ATTR-1\",\"name\":\"Fifty\",\"priceCents\":1,\"attributes\":{");
	for (int i = 0; i < 50; i++)
		n += (size_t)snprintf(body + n, sizeof(body) - n, "%s\"a%02d\":\"v\"", i ? "," : "", i);
	snprintf(body + n, sizeof(body) - n, "}}");
	test_product_stocked(t.owner.id_token, body, 0, id, sizeof(id));
	r = export(t.owner.id_token);
	cr_assert_eq(r->status, 200, "fifty names are fifty columns: %.300s", r->body);
	http_resp_free(r);
	test_product_stocked(t.owner.id_token,
			     "{\"sku\":\"ATTR-2\",\"name\":\"One more\",\"priceCents\":1,\"attributes\":{\"z\":\"v\"}}",
			     0, id, sizeof(id));
	r = export(t.owner.id_token);
	assert_error(r, 409, "FAILED_PRECONDITION", "attribute names");
	http_resp_free(r);
}

/* ---- export -> edit -> import -> export (needs the imports group) ---- */

static bool needs_quotes(const char *s)
{
	return strpbrk(s, ",\"\r\n") != NULL;
}

/* c as the export writes it (BOM, cells quoted when needed, CRLF); malloc'd, *len its bytes. */
static char *csv_write(const struct csv *c, size_t *len)
{
	size_t cap = 64, n = 0;
	char *out;

	for (size_t r = 0; r < c->nrows; r++)
		for (size_t k = 0; k < c->ncells[r]; k++)
			cap += 2 * strlen(c->cells[r][k]) + 4;
	out = malloc(cap);
	cr_assert_not_null(out);
	memcpy(out, "\xef\xbb\xbf", 3);
	n = 3;
	for (size_t r = 0; r < c->nrows; r++) {
		for (size_t k = 0; k < c->ncells[r]; k++) {
			const char *s = c->cells[r][k];

			if (k)
				out[n++] = ',';
			if (!needs_quotes(s)) {
				memcpy(out + n, s, strlen(s));
				n += strlen(s);
				continue;
			}
			out[n++] = '"';
			for (; *s; s++) {
				if (*s == '"')
					out[n++] = '"';
				out[n++] = *s;
			}
			out[n++] = '"';
		}
		out[n++] = '\r';
		out[n++] = '\n';
	}
	out[n] = '\0';
	*len = n;
	return out;
}

static void set_cell(struct csv *c, long row, size_t col, const char *v)
{
	cr_assert(row > 0 && col < c->ncells[row]);
	free(c->cells[row][col]);
	c->cells[row][col] = strdup(v);
}

static char *export_bytes(const char *token, size_t *len)
{
	struct http_resp *r = export(token);
	char *out;

	cr_assert_eq(r->status, 200, "%.300s", r->body);
	out = malloc(r->len + 1);
	cr_assert_not_null(out);
	memcpy(out, r->body, r->len + 1);
	*len = r->len;
	http_resp_free(r);
	return out;
}

static const char *upload_csv(const struct tenant *t, const char *data, size_t n)
{
	static char id[64];
	const char *h[] = {"X-File-Name: edited export.csv", NULL};
	struct http_resp *r = http_do("POST", "/v1/files?kind=upload", t->owner.id_token, "text/csv", data, n, h);

	cr_assert_eq(r->status, 201, "upload: %s", r->body);
	snprintf(id, sizeof(id), "%s", json_str(r, "id"));
	http_resp_free(r);
	return id;
}

/* POST /v1/imports of kind that must answer 201, waiting as long as nginx does for the group. */
static struct http_resp *import_file(const struct tenant *t, const char *file_id, const char *kind)
{
	char body[200], url[300], auth[4200];
	const char *h[] = {auth, "Content-Type: application/json", NULL};
	struct http_resp *r;

	snprintf(body, sizeof(body), "{\"fileId\":\"%s\",\"kind\":\"%s\"}", file_id, kind);
	snprintf(url, sizeof(url), "%s/v1/imports", test_url());
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", t->owner.id_token);
	r = http_url_timeout("POST", url, h, body, strlen(body), 300000);
	cr_assert_eq(r->status, 201, "%s", r->body);
	cr_assert_eq(json_int(r, "counts.failed"), 0, "failed: %s", r->body);
	cr_assert_str_eq(json_str(r, "status"), "succeeded", "%s", r->body);
	return r;
}

/* Imports c as one products file, onHand included, as a merchant saves the edited export; the answer's. */
static struct http_resp *import_edited(const struct tenant *t, const struct csv *c)
{
	size_t n;
	char *f = csv_write(c, &n);
	struct http_resp *r = import_file(t, upload_csv(t, f, n), "products");

	free(f);
	return r;
}

/* The products every round trip starts from: formulas, quotes, newlines, accents, attributes, stock. */
static void round_trip_catalogue(const struct tenant *t)
{
	char id[64];

	test_product_stocked(
		t->owner.id_token,
		"{\"sku\":\"RT-A\",\"name\":\"=HYPERLINK(\\\"http://x\\\")\",\"description\":\"Caf\xc3\xa9 "
		"\\\"cr\xc3\xa8me\\\", 1 kg\\r\\nsecond line\",\"category\":\"-50%\",\"brand\":\"@brand\","
		"\"barcode\":\"5449000000996\",\"priceCents\":149900,\"costCents\":99,\"status\":\"active\","
		"\"attributes\":{\"colour\":\"+red\",\"size\":\"M, L\"},\"stock\":{\"reorderPoint\":4}}",
		12, id, sizeof(id));
	test_product_stocked(t->owner.id_token,
			     "{\"sku\":\"RT-B\",\"name\":\"Plain bottle\",\"priceCents\":2500,\"status\":\"draft\","
			     "\"attributes\":{\"colour\":\"blue\"}}",
			     0, id, sizeof(id));
	test_product_stocked(
		t->owner.id_token,
		"{\"sku\":\"RT-C\",\"name\":\"\xe6\x9d\xb1\xe4\xba\xac tea \xf0\x9f\x8d\xb5\",\"priceCents\":1,"
		"\"brand\":\"'=not a formula\","
		"\"costCents\":0,\"status\":\"archived\"}",
		5, id, sizeof(id));
}

Test(roundtrip, an_edited_export_imports_back_to_exactly_the_edit, .timeout = 300)
{
	struct tenant t;
	struct csv c;
	struct http_resp *r;
	size_t n1, n2, ne;
	char *e1, *e2, *edited;
	long b, cr;

	make_tenant(&t, "rt");
	round_trip_catalogue(&t);
	e1 = export_bytes(t.owner.id_token, &n1);
	csv_parse(e1, n1, &c);
	edited = csv_write(&c, &ne);
	cr_assert_eq(ne, n1, "the test's writer writes the export's bytes");
	cr_assert(memcmp(edited, e1, n1) == 0, "the test's writer writes the export's bytes");
	free(edited);
	/* The edits a merchant makes in a spreadsheet: a name (now with a comma), a price, a count. */
	b = row_of(&c, "RT-B");
	cr = row_of(&c, "RT-C");
	set_cell(&c, b, 1, "Plain bottle, 750 ml");
	set_cell(&c, b, 6, "27.50");
	set_cell(&c, cr, 10, "9");
	edited = csv_write(&c, &ne);
	r = import_edited(&t, &c);
	cr_assert_eq(json_int(r, "counts.updated"), 2, "RT-B and RT-C: %s", r->body);
	cr_assert_eq(json_int(r, "counts.unchanged"), 1, "RT-A: %s", r->body);
	http_resp_free(r);
	e2 = export_bytes(t.owner.id_token, &n2);
	cr_assert_eq(n2, ne, "export after import:\n%s\nexpected:\n%s", e2, edited);
	cr_assert(memcmp(e2, edited, ne) == 0, "export after import:\n%s\nexpected:\n%s", e2, edited);
	/* The same file again changes nothing. */
	r = import_edited(&t, &c);
	cr_assert_eq(json_int(r, "counts.unchanged"), 3, "%s", r->body);
	http_resp_free(r);
	free(e1);
	free(e2);
	free(edited);
	csv_free(&c);
}

Test(roundtrip, an_export_imported_into_an_empty_organization_exports_the_same, .timeout = 300)
{
	struct tenant from, to;
	struct csv c;
	struct http_resp *r;
	size_t n1, n2;
	char *e1, *e2;

	make_tenant(&from, "rt-from");
	make_tenant(&to, "rt-to");
	round_trip_catalogue(&from);
	e1 = export_bytes(from.owner.id_token, &n1);
	csv_parse(e1, n1, &c);
	r = import_edited(&to, &c);
	cr_assert_eq(json_int(r, "counts.created"), 3, "%s", r->body);
	http_resp_free(r);
	e2 = export_bytes(to.owner.id_token, &n2);
	cr_assert_eq(n2, n1, "the copy:\n%s\nthe original:\n%s", e2, e1);
	cr_assert(memcmp(e2, e1, n1) == 0, "the copy:\n%s\nthe original:\n%s", e2, e1);
	free(e1);
	free(e2);
	csv_free(&c);
}
