/*
 * Imports through nginx, with real uploads through /v1/files: every route;
 * every refusal with nothing written; dryRun writes nothing; a partial
 * import and its errors CSV; a re-import changes nothing more; stock files
 * (onHand and delta) follow stock:adjust's rules and apply once; counts
 * grow while a 10,000-row import runs (its time and the load average are
 * logged); an import racing stock:adjust and orders on the same products
 * leaves onHand equal to the sum of the movements; roles and isolation.
 */
#include "audit.h"
#include "client.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct tenant {
	struct test_user owner;
	char id[64];
};

static void assert_error(struct http_resp *r, long code, const char *status)
{
	cr_assert_eq(r->status, code, "expected %ld, got %ld: %s", code, r->status, r->body);
	cr_assert_str_eq(json_str(r, "error.status"), status, "%s", r->body);
}

static void make_tenant(struct tenant *t)
{
	test_owner_signup(&t->owner, "imp", "Import Shop", t->id, sizeof(t->id));
}

/* A member of t's organization with role, signed in with its claims. */
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

/* Uploads data as a CSV (kind upload, or kind) and returns its file id (static per thread). */
static const char *upload_kind(const struct tenant *t, const char *kind, const char *ctype, const char *data, size_t n)
{
	static __thread char id[64];
	char path[100];
	const char *h[] = {"X-File-Name: catalogue.csv", NULL};
	struct http_resp *r;

	snprintf(path, sizeof(path), "/v1/files?kind=%s", kind);
	r = http_do("POST", path, t->owner.id_token, ctype, data, n, h);
	cr_assert_eq(r->status, 201, "upload: %s", r->body);
	snprintf(id, sizeof(id), "%s", json_str(r, "id"));
	http_resp_free(r);
	return id;
}

static const char *upload(const struct tenant *t, const char *csv)
{
	return upload_kind(t, "upload", "text/csv", csv, strlen(csv));
}

/* POST /v1/imports, waiting as long as nginx does for the imports group (300 s), not the client's usual 60 s. */
static struct http_resp *import_as(const char *token, const char *file_id, const char *kind, const char *extra)
{
	char body[400], url[300], auth[4200];
	const char *h[] = {auth, "Content-Type: application/json", NULL};

	snprintf(body, sizeof(body), "{\"fileId\":\"%s\",\"kind\":\"%s\"%s%s}", file_id, kind, extra ? "," : "",
		 extra ? extra : "");
	snprintf(url, sizeof(url), "%s/v1/imports", test_url());
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token ? token : "");
	return http_url_timeout("POST", url, token ? h : h + 1, body, strlen(body), 300000);
}

/* POST /v1/imports that must answer 201; the answer is the caller's. */
static struct http_resp *import_ok(const struct tenant *t, const char *file_id, const char *kind, const char *extra)
{
	struct http_resp *r = import_as(t->owner.id_token, file_id, kind, extra);

	cr_assert_eq(r->status, 201, "%s", r->body);
	return r;
}

static void assert_counts(const struct http_resp *r, long rows, long created, long updated, long unchanged, long failed)
{
	cr_assert_eq(json_int(r, "counts.rows"), rows, "rows: %s", r->body);
	cr_assert_eq(json_int(r, "counts.created"), created, "created: %s", r->body);
	cr_assert_eq(json_int(r, "counts.updated"), updated, "updated: %s", r->body);
	cr_assert_eq(json_int(r, "counts.unchanged"), unchanged, "unchanged: %s", r->body);
	cr_assert_eq(json_int(r, "counts.failed"), failed, "failed: %s", r->body);
}

/* Documents in a collection of t's organization, read from the emulator. */
static size_t stored(const struct tenant *t, const char *collection)
{
	char rel[200];
	json_object *docs;
	size_t n;

	snprintf(rel, sizeof(rel), "organizations/%s/%s", t->id, collection);
	docs = fs_list(rel);
	n = json_object_array_length(docs);
	json_object_put(docs);
	return n;
}

/* The product with sku, through GET /v1/products?q= (exact match among the hits); NULL when none. */
static json_object *product_by_sku(const struct tenant *t, const char *sku)
{
	char path[200];
	struct http_resp *r;
	json_object *data, *found = NULL;

	snprintf(path, sizeof(path), "/v1/products?q=%s&pageSize=200", sku);
	r = http_get(path, t->owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert(json_object_object_get_ex(r->json, "data", &data));
	for (size_t i = 0; i < json_object_array_length(data); i++) {
		json_object *p = json_object_array_get_idx(data, i), *s;

		if (json_object_object_get_ex(p, "sku", &s) && strcmp(json_object_get_string(s), sku) == 0)
			found = json_object_get(p);
	}
	http_resp_free(r);
	return found;
}

static long long pfield(json_object *p, const char *a, const char *b)
{
	json_object *v;

	cr_assert(json_object_object_get_ex(p, a, &v), "%s missing", a);
	if (b)
		cr_assert(json_object_object_get_ex(v, b, &v), "%s.%s missing", a, b);
	return json_object_get_int64(v);
}

static const char *pstr(json_object *p, const char *a, const char *b)
{
	json_object *v;

	if (!json_object_object_get_ex(p, a, &v))
		return NULL;
	if (b && !json_object_object_get_ex(v, b, &v))
		return NULL;
	return json_object_get_string(v);
}

/* The bytes of a file through GET /v1/files/{id}/content (the caller frees). */
static char *content(const struct tenant *t, const char *file_id)
{
	char path[200];
	struct http_resp *r;
	char *s;

	snprintf(path, sizeof(path), "/v1/files/%s/content", file_id);
	r = http_get(path, t->owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	s = strndup(r->body, r->len);
	http_resp_free(r);
	return s;
}

/* ---- products ---- */

Test(imports, a_partial_import_lists_refused_rows_and_a_rerun_changes_nothing_more, .timeout = 180)
{
	static const char csv[] =
		"SKU,Name,price,cost,status,reorderPoint,attributes.colour,description\r\n"
		"TEE-1,T-shirt,149.99,80,active,5,red,\"Soft, \"\"cotton\"\"\nwith a second line\"\r\n"
		"TEE-2,Bad price,abc,,,,,\r\n"
		"TEE-3,Cap,R 1 499.00,,draft,,blue,'=SUM(A1)\r\n"
		"TEE-4,Bad status,10,,sold,,,\r\n"
		"bad sku!,Bad SKU,10,,,,,\r\n"
		"TEE-1,Twice,10,,,,,\r\n";
	struct tenant t;
	struct http_resp *r, *g;
	json_object *p;
	char id[64], path[200], *errors;
	const char *file;

	make_tenant(&t);
	file = upload(&t, csv);
	r = import_ok(&t, file, "products", NULL);
	cr_assert_str_eq(json_str(r, "status"), "partial");
	cr_assert_str_eq(json_str(r, "kind"), "products");
	cr_assert_str_eq(json_str(r, "fileId"), file);
	cr_assert_str_eq(json_str(r, "createdBy"), t.owner.uid);
	cr_assert_not_null(json_str(r, "startedAt"));
	cr_assert_not_null(json_str(r, "finishedAt"));
	cr_assert_null(json_str(r, "organizationId"), "bookkeeping stays hidden");
	assert_counts(r, 6, 2, 0, 0, 4);
	snprintf(id, sizeof(id), "%s", json_str(r, "id"));
	snprintf(path, sizeof(path), "/v1/imports/%s", id);
	cr_assert_str_eq(http_header(r, "Location"), path);

	/* The errors CSV: one line per refused row, as a spreadsheet numbers them (header = 1). */
	errors = content(&t, json_str(r, "errorsFileId"));
	cr_assert_not_null(strstr(errors, "row,sku,field,reason\r\n"), "%s", errors);
	cr_assert_not_null(strstr(errors, "\r\n3,TEE-2,price,"), "%s", errors);
	cr_assert_not_null(strstr(errors, "\r\n5,TEE-4,status,must be draft, active or archived") ||
				   strstr(errors, "\r\n5,TEE-4,status,\"must be draft, active or archived\""),
			   "%s", errors);
	cr_assert_not_null(strstr(errors, "\r\n6,bad sku!,sku,"), "%s", errors);
	cr_assert_not_null(strstr(errors, "\r\n7,TEE-1,sku,appears already on row 2"), "%s", errors);
	cr_assert_null(strstr(errors, "TEE-3"), "%s", errors);
	free(errors);

	/* What was applied: the decoder of POST /v1/products, the cells as text. */
	p = product_by_sku(&t, "TEE-1");
	cr_assert_not_null(p);
	cr_assert_str_eq(pstr(p, "name", NULL), "T-shirt");
	cr_assert_eq(pfield(p, "priceCents", NULL), 14999);
	cr_assert_eq(pfield(p, "costCents", NULL), 8000);
	cr_assert_eq(pfield(p, "stock", "reorderPoint"), 5);
	cr_assert_str_eq(pstr(p, "attributes", "colour"), "red");
	cr_assert_str_eq(pstr(p, "description", NULL), "Soft, \"cotton\"\nwith a second line");
	cr_assert_str_eq(pstr(p, "status", NULL), "active");
	json_object_put(p);
	p = product_by_sku(&t, "TEE-3");
	cr_assert_not_null(p);
	cr_assert_eq(pfield(p, "priceCents", NULL), 149900);
	cr_assert_str_eq(pstr(p, "description", NULL), "=SUM(A1)", "the export escape is undone, the text kept");
	cr_assert_str_eq(pstr(p, "status", NULL), "draft");
	json_object_put(p);
	cr_assert_eq(stored(&t, "products"), 2);

	/* GET one and the list show the same record. */
	g = http_get(path, t.owner.id_token);
	cr_assert_eq(g->status, 200, "%s", g->body);
	cr_assert_str_eq(json_str(g, "status"), "partial");
	assert_counts(g, 6, 2, 0, 0, 4);
	http_resp_free(g);
	http_resp_free(r);

	/* The same file again: nothing more changes. */
	r = import_ok(&t, file, "products", NULL);
	assert_counts(r, 6, 0, 0, 2, 4);
	http_resp_free(r);
	cr_assert_eq(stored(&t, "products"), 2);

	/* An edited file: only what changed is written; attributes not named stay. */
	file = upload(&t, "sku,price,attributes.size\nTEE-1,\"149,99\",L\nTEE-3,1499,\n");
	r = import_ok(&t, file, "products", NULL);
	cr_assert_str_eq(json_str(r, "status"), "succeeded");
	cr_assert_null(json_str(r, "errorsFileId"));
	assert_counts(r, 2, 0, 1, 1, 0);
	http_resp_free(r);
	p = product_by_sku(&t, "TEE-1");
	cr_assert_str_eq(pstr(p, "attributes", "colour"), "red");
	cr_assert_str_eq(pstr(p, "attributes", "size"), "L");
	json_object_put(p);

	g = http_get("/v1/imports", t.owner.id_token);
	cr_assert_eq(g->status, 200, "%s", g->body);
	cr_assert_eq(json_object_array_length(json_object_object_get(g->json, "data")), 3);
	cr_assert_str_eq(json_str(g, "data.2.id"), id, "newest first: %s", g->body);
	http_resp_free(g);
}

Test(imports, semicolon_files_with_a_bom_and_decimal_commas_import, .timeout = 120)
{
	static const char csv[] = "\xEF\xBB\xBFsku;name;price;brand\r\n"
				  "ZA-1;Rooibos \xC3\xA9\xC3\xB1;R1 499,00;Caf\xC3\xA9\r\n"
				  "ZA-2;\"Semi; colon\";149,99;\r\n"
				  ";;;\r\n"; /* Excel's formatted empty row: skipped, not a row */
	struct tenant t;
	struct http_resp *r;
	json_object *p;

	make_tenant(&t);
	r = import_ok(&t, upload(&t, csv), "products", "\"mode\":\"create\"");
	cr_assert_str_eq(json_str(r, "status"), "succeeded", "%s", r->body);
	assert_counts(r, 2, 2, 0, 0, 0);
	http_resp_free(r);
	p = product_by_sku(&t, "ZA-1");
	cr_assert_eq(pfield(p, "priceCents", NULL), 149900);
	cr_assert_str_eq(pstr(p, "name", NULL), "Rooibos \xC3\xA9\xC3\xB1");
	cr_assert_str_eq(pstr(p, "brand", NULL), "Caf\xC3\xA9");
	json_object_put(p);
	p = product_by_sku(&t, "ZA-2");
	cr_assert_str_eq(pstr(p, "name", NULL), "Semi; colon");
	cr_assert_eq(pfield(p, "priceCents", NULL), 14999);
	json_object_put(p);
}

/* The fixture tests/data/imports/name (LibreOffice's output, see its README), malloc'd. */
static char *fixture(const char *name, size_t *n)
{
	char path[512];
	const char *src = getenv("FLUXORI_SRCDIR");
	FILE *f;
	char *data = malloc(1 << 20);

	snprintf(path, sizeof(path), "%s/tests/data/imports/%s", src ? src : ".", name);
	f = fopen(path, "rb");
	cr_assert_not_null(f, "fixture %s", path);
	*n = fread(data, 1, 1 << 20, f);
	fclose(f);
	return data;
}

Test(imports, libreoffice_csv_files_import_exactly, .timeout = 120)
{
	static const char *const files[] = {"products-semicolon.csv", "products-comma.csv"};

	for (size_t k = 0; k < 2; k++) {
		struct tenant t;
		struct http_resp *r;
		json_object *p;
		size_t n;
		char *data = fixture(files[k], &n);

		make_tenant(&t);
		r = import_ok(&t, upload_kind(&t, "upload", "text/csv", data, n), "products", NULL);
		cr_assert_str_eq(json_str(r, "status"), "succeeded", "%s: %s", files[k], r->body);
		assert_counts(r, 4, 4, 0, 0, 0);
		http_resp_free(r);
		p = product_by_sku(&t, "CAF-001");
		cr_assert_str_eq(pstr(p, "name", NULL), "Caf\xC3\xA9 cr\xC3\xA8me");
		cr_assert_str_eq(pstr(p, "description", NULL), "Smooth, creamy; \"barista\" style");
		cr_assert_eq(pfield(p, "priceCents", NULL), 149900, "%s: R 1 499,00 with a no-break space", files[k]);
		cr_assert_eq(pfield(p, "costCents", NULL), 89950);
		cr_assert_str_eq(pstr(p, "barcode", NULL), "6001234567899");
		cr_assert_str_eq(pstr(p, "attributes", "colour"), "cr\xC3\xA8me");
		cr_assert_eq(pfield(p, "stock", "reorderPoint"), 5);
		json_object_put(p);
		p = product_by_sku(&t, "MUS-002");
		cr_assert_str_eq(pstr(p, "description", NULL), "Line one\nLine two; with \"quotes\"");
		cr_assert_eq(pfield(p, "priceCents", NULL), 14999);
		cr_assert_str_eq(pstr(p, "status", NULL), "draft");
		json_object_put(p);
		p = product_by_sku(&t, "TEA-003");
		cr_assert_str_eq(pstr(p, "name", NULL), "\xE7\xB7\x91\xE8\x8C\xB6 Green tea \xF0\x9F\x8D\xB5");
		/* Formula-looking text is stored as the text it is. */
		cr_assert_str_eq(pstr(p, "description", NULL), "=SUM(A1:A2)");
		cr_assert_str_eq(pstr(p, "category", NULL), "+27 21 555 0100");
		cr_assert_str_eq(pstr(p, "brand", NULL), "@home");
		cr_assert_str_eq(pstr(p, "attributes", "colour"), "-10% promo");
		cr_assert_eq(pfield(p, "priceCents", NULL), 149900);
		cr_assert_eq(pfield(p, "costCents", NULL), 9995);
		json_object_put(p);
		p = product_by_sku(&t, "EMP-004");
		cr_assert_eq(pfield(p, "priceCents", NULL), 1234550);
		cr_assert_null(pstr(p, "description", NULL), "an empty cell gives no field");
		json_object_put(p);
		free(data);
	}
}

/* What LibreOffice writes when the merchant does not choose CSV UTF-8: refused at upload or import, never applied. */
Test(imports, libreoffice_files_that_are_not_utf8_csv_are_refused)
{
	static const char *const files[] = {"products-default.csv", "products-utf16.csv", "products-xlsx.csv",
					    "products-xls.csv"};
	struct tenant t;

	make_tenant(&t);
	for (size_t k = 0; k < 4; k++) {
		const char *h[] = {"X-File-Name: products.csv", NULL};
		size_t n;
		char *data = fixture(files[k], &n);
		struct http_resp *r =
			http_do("POST", "/v1/files?kind=upload", t.owner.id_token, "text/csv", data, n, h);

		if (r->status == 201) {
			char id[64];

			snprintf(id, sizeof(id), "%s", json_str(r, "id"));
			http_resp_free(r);
			r = import_as(t.owner.id_token, id, "products", NULL);
			cr_assert_str_eq(json_str(r, "error.details.0.field"), "file", "%s: %s", files[k], r->body);
		}
		assert_error(r, 400, "INVALID_ARGUMENT");
		http_resp_free(r);
		free(data);
	}
	cr_assert_eq(stored(&t, "products"), 0);
	cr_assert_eq(stored(&t, "imports"), 0);
}

Test(imports, mode_create_refuses_existing_skus_that_differ)
{
	struct tenant t;
	struct http_resp *r;
	char *errors;

	make_tenant(&t);
	r = import_ok(&t, upload(&t, "sku,name,price\nM-1,One,10\nM-2,Two,20\n"), "products", NULL);
	http_resp_free(r);
	r = import_ok(&t, upload(&t, "sku,name,price\nM-1,One,10\nM-2,Changed,20\nM-3,Three,30\n"), "products",
		      "\"mode\":\"create\"");
	cr_assert_str_eq(json_str(r, "status"), "partial");
	assert_counts(r, 3, 1, 0, 1, 1);
	errors = content(&t, json_str(r, "errorsFileId"));
	cr_assert_not_null(strstr(errors, "\r\n3,M-2,sku,a product with this SKU exists"), "%s", errors);
	free(errors);
	http_resp_free(r);
}

/* The export's onHand column imports back as a count (count_correction), with its movement, in the row's commit. */
Test(imports, products_files_carry_onhand_as_a_count, .timeout = 120)
{
	struct tenant t;
	struct http_resp *r;
	struct audit au;
	json_object *p;
	const char *again;

	make_tenant(&t);
	r = import_ok(&t, upload(&t, "sku,name,price,reorderPoint,onHand\nOH-1,Counted,10,2,7\nOH-2,Empty,10,,\n"),
		      "products", NULL);
	assert_counts(r, 2, 2, 0, 0, 0);
	http_resp_free(r);
	p = product_by_sku(&t, "OH-1");
	cr_assert_eq(pfield(p, "stock", "onHand"), 7);
	cr_assert_eq(pfield(p, "stock", "available"), 7);
	cr_assert_eq(pfield(p, "stock", "reorderPoint"), 2);
	json_object_put(p);
	/* A count and a field change together, then a count alone, then nothing. */
	r = import_ok(&t, upload(&t, "sku,name,reorderPoint,onHand\nOH-1,Recounted,1,4\nOH-2,Empty,,0\n"), "products",
		      NULL);
	assert_counts(r, 2, 0, 1, 1, 0);
	http_resp_free(r);
	p = product_by_sku(&t, "OH-1");
	cr_assert_str_eq(pstr(p, "name", NULL), "Recounted");
	cr_assert_eq(pfield(p, "stock", "onHand"), 4);
	cr_assert_eq(pfield(p, "stock", "reorderPoint"), 1);
	cr_assert_eq(json_object_get_boolean(json_object_object_get(p, "lowStock")), false);
	json_object_put(p);
	again = upload(&t, "sku,onHand\nOH-1,9\n");
	r = import_ok(&t, again, "products", NULL);
	assert_counts(r, 1, 0, 1, 0, 0);
	http_resp_free(r);
	r = import_ok(&t, again, "products", NULL);
	assert_counts(r, 1, 0, 0, 1, 0);
	http_resp_free(r);
	audit_org(t.id, &au); /* onHand = the sum of the movements: +7, -3, +5 */
	cr_assert_eq(au.on_hand, 9);
	cr_assert_eq(au.movements, 3);
}

Test(imports, a_wrong_barcode_check_digit_refuses_the_row)
{
	struct tenant t;
	struct http_resp *r;
	char *errors;
	json_object *p;

	make_tenant(&t);
	r = import_ok(&t, upload(&t, "sku,name,price,barcode\nBC-1,x,1,6001234567890\nBC-2,y,1,6001234567899\n"),
		      "products", NULL);
	assert_counts(r, 2, 1, 0, 0, 1);
	errors = content(&t, json_str(r, "errorsFileId"));
	cr_assert_not_null(strstr(errors, "\r\n2,BC-1,barcode,"), "%s", errors);
	free(errors);
	http_resp_free(r);
	p = product_by_sku(&t, "BC-2");
	cr_assert_str_eq(pstr(p, "barcode", NULL), "6001234567899");
	json_object_put(p);
}

Test(imports, dry_run_validates_everything_and_writes_no_product)
{
	struct tenant t;
	struct http_resp *r;
	const char *file;

	make_tenant(&t);
	file = upload(&t, "sku,name,price\nD-1,One,10\nD-2,,20\nD-3,Three,x\n");
	r = import_ok(&t, file, "products", "\"dryRun\":true");
	cr_assert_eq(json_object_get_boolean(json_object_object_get(r->json, "dryRun")), true);
	cr_assert_str_eq(json_str(r, "status"), "partial");
	assert_counts(r, 3, 1, 0, 0, 2);
	http_resp_free(r);
	cr_assert_eq(stored(&t, "products"), 0);
	cr_assert_eq(stored(&t, "skus"), 0);
	/* Then for real: what the dry run said. */
	r = import_ok(&t, file, "products", "\"dryRun\":false");
	assert_counts(r, 3, 1, 0, 0, 2);
	http_resp_free(r);
	cr_assert_eq(stored(&t, "products"), 1);
	/* A dry run of stock changes no stock and writes no movement. */
	r = import_ok(&t, upload(&t, "sku,onHand\nD-1,40\n"), "stock", "\"dryRun\":true");
	assert_counts(r, 1, 0, 1, 0, 0);
	http_resp_free(r);
	{
		json_object *p = product_by_sku(&t, "D-1");

		cr_assert_eq(pfield(p, "stock", "onHand"), 0);
		json_object_put(p);
	}
}

/* Every refusal answers before anything is written: no record, no product, no movement. */
Test(imports, refusals_write_nothing, .timeout = 180)
{
	struct tenant t, other;
	struct http_resp *r;
	char *big;
	size_t o = 0, cap = 10002 * 16;
	const char *file;

	make_tenant(&t);
	make_tenant(&other);
#define REFUSED(resp, code, status, field)                                                                    \
	do {                                                                                                  \
		struct http_resp *rr_ = (resp);                                                               \
		assert_error(rr_, code, status);                                                              \
		if (field)                                                                                    \
			cr_assert_str_eq(json_str(rr_, "error.details.0.field"), (const char *)(field), "%s", \
					 rr_->body);                                                          \
		http_resp_free(rr_);                                                                          \
	} while (0)
	file = upload(&t, "sku,name,price\nR-1,One,10\n");
	REFUSED(http_json("POST", "/v1/imports", t.owner.id_token, "{\"kind\":\"products\"}"), 400, "INVALID_ARGUMENT",
		"fileId");
	REFUSED(import_as(t.owner.id_token, file, "prices", NULL), 400, "INVALID_ARGUMENT", "kind");
	REFUSED(import_as(t.owner.id_token, file, "products", "\"mode\":\"replace\""), 400, "INVALID_ARGUMENT", "mode");
	REFUSED(import_as(t.owner.id_token, file, "products", "\"colour\":1"), 400, "INVALID_ARGUMENT", "colour");
	REFUSED(import_as(t.owner.id_token, file, "products", "\"dryRun\":\"yes\""), 400, "INVALID_ARGUMENT", "dryRun");
	REFUSED(import_as(t.owner.id_token, "nosuchfile", "products", NULL), 404, "NOT_FOUND", NULL);
	/* Another organization's file is one that does not exist. */
	REFUSED(import_as(other.owner.id_token, file, "products", NULL), 404, "NOT_FOUND", NULL);
	/* A file that is not an upload, not a CSV. */
	REFUSED(import_as(t.owner.id_token, upload_kind(&t, "document", "text/csv", "sku\nX\n", 6), "products", NULL),
		400, "INVALID_ARGUMENT", "fileId");
	REFUSED(import_as(t.owner.id_token, upload_kind(&t, "upload", "application/pdf", "%PDF-1.4\n", 9), "products",
			  NULL),
		400, "INVALID_ARGUMENT", "fileId");
	/* Headers: an unknown column named, sku missing, a column twice, stock columns mixed. */
	r = import_as(t.owner.id_token, upload(&t, "sku,name,price,colour\nR-1,One,10,red\n"), "products", NULL);
	cr_assert_not_null(strstr(r->body, "colour"), "the unknown column is named: %s", r->body);
	REFUSED(r, 400, "INVALID_ARGUMENT", "file");
	REFUSED(import_as(t.owner.id_token, upload(&t, "name,price\nOne,10\n"), "products", NULL), 400,
		"INVALID_ARGUMENT", "file");
	REFUSED(import_as(t.owner.id_token, upload(&t, "sku,name,Name\nR-1,a,b\n"), "products", NULL), 400,
		"INVALID_ARGUMENT", "file");
	REFUSED(import_as(t.owner.id_token, upload(&t, "sku,onHand,delta,reason\nR-1,1,1,lost\n"), "stock", NULL), 400,
		"INVALID_ARGUMENT", "file");
	REFUSED(import_as(t.owner.id_token, upload(&t, "sku,delta\nR-1,1\n"), "stock", NULL), 400, "INVALID_ARGUMENT",
		"file");
	REFUSED(import_as(t.owner.id_token, upload(&t, "sku,name\nR-1,x\n"), "stock", NULL), 400, "INVALID_ARGUMENT",
		"file");
	/* Malformed CSV late in the file: refused whole, the rows before it not applied. */
	REFUSED(import_as(t.owner.id_token, upload(&t, "sku,name,price\nR-1,One,10\nR-2,\"Two,20\n"), "products", NULL),
		400, "INVALID_ARGUMENT", "file");
	/* 10,001 rows. */
	big = malloc(cap);
	o += (size_t)snprintf(big + o, cap - o, "sku,name,price\n");
	for (int i = 0; i < 10001; i++)
		o += (size_t)snprintf(big + o, cap - o, "B-%d,n,1\n", i);
	r = import_as(t.owner.id_token, upload_kind(&t, "upload", "text/csv", big, o), "products", NULL);
	cr_assert_not_null(strstr(r->body, "10000"), "%s", r->body);
	REFUSED(r, 400, "INVALID_ARGUMENT", "file");
	free(big);
#undef REFUSED
	cr_assert_eq(stored(&t, "imports"), 0, "no import record");
	cr_assert_eq(stored(&t, "products"), 0, "no product");
	cr_assert_eq(stored(&other, "imports"), 0);
	r = http_get("/v1/imports", t.owner.id_token);
	cr_assert_eq(r->status, 200);
	cr_assert_eq(json_object_array_length(json_object_object_get(r->json, "data")), 0);
	http_resp_free(r);
}

Test(roles, managers_import_and_every_member_reads_imports)
{
	struct tenant t, other;
	struct test_user staff, manager, viewer;
	struct http_resp *r;
	char path[200];
	const char *file;

	make_tenant(&t);
	make_tenant(&other);
	add_member(&t, &staff, "staff");
	add_member(&t, &manager, "manager");
	add_member(&t, &viewer, "viewer");
	file = upload(&t, "sku,name,price\nROLE-1,One,10\n");
	r = import_as(staff.id_token, file, "products", NULL);
	assert_error(r, 403, "PERMISSION_DENIED");
	http_resp_free(r);
	r = import_as(staff.id_token, file, "stock", NULL);
	assert_error(r, 403, "PERMISSION_DENIED");
	http_resp_free(r);
	cr_assert_eq(stored(&t, "imports"), 0);
	r = import_as(manager.id_token, file, "products", NULL);
	cr_assert_eq(r->status, 201, "%s", r->body);
	snprintf(path, sizeof(path), "/v1/imports/%s", json_str(r, "id"));
	http_resp_free(r);
	r = http_get(path, viewer.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	http_resp_free(r);
	r = http_get("/v1/imports", staff.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(json_object_array_length(json_object_object_get(r->json, "data")), 1);
	http_resp_free(r);
	/* Another organization sees neither the record nor the list entry. */
	r = http_get(path, other.owner.id_token);
	assert_error(r, 404, "NOT_FOUND");
	http_resp_free(r);
	r = http_get("/v1/imports", other.owner.id_token);
	cr_assert_eq(json_object_array_length(json_object_object_get(r->json, "data")), 0);
	http_resp_free(r);
	r = http_get("/v1/imports", NULL);
	assert_error(r, 401, "UNAUTHENTICATED");
	http_resp_free(r);
}

/* ---- stock ---- */

Test(stock, onhand_and_delta_files_follow_stock_adjust_and_apply_once, .timeout = 180)
{
	struct tenant t;
	struct http_resp *r;
	struct audit au;
	json_object *p;
	char *errors;
	const char *delta_file;

	make_tenant(&t);
	r = import_ok(&t, upload(&t, "sku,name,price\nS-1,One,10\nS-2,Two,20\nS-3,Three,30\n"), "products", NULL);
	http_resp_free(r);
	r = import_ok(&t, upload(&t, "sku,onHand\nS-1,10\nS-2,0\nS-9,4\nS-3,-1\n"), "stock", NULL);
	cr_assert_str_eq(json_str(r, "status"), "partial");
	assert_counts(r, 4, 0, 1, 1, 2);
	errors = content(&t, json_str(r, "errorsFileId"));
	cr_assert_not_null(strstr(errors, "\r\n4,S-9,sku,no product has this SKU"), "%s", errors);
	cr_assert_not_null(strstr(errors, "\r\n5,S-3,onHand,"), "%s", errors);
	free(errors);
	http_resp_free(r);

	/* Two deltas of one product in one file both apply; one that would go below zero is refused. */
	delta_file = upload(&t, "sku,delta,reason\nS-1,5,received\nS-2,-1,damaged\nS-1,-3,sold_offline\nS-3,7,bogus\n");
	r = import_ok(&t, delta_file, "stock", NULL);
	assert_counts(r, 4, 0, 2, 0, 2);
	errors = content(&t, json_str(r, "errorsFileId"));
	cr_assert_not_null(strstr(errors, "\r\n3,S-2,delta,must keep onHand at or above reserved"), "%s", errors);
	cr_assert_not_null(strstr(errors, "\r\n5,S-3,reason,"), "%s", errors);
	free(errors);
	http_resp_free(r);
	p = product_by_sku(&t, "S-1");
	cr_assert_eq(pfield(p, "stock", "onHand"), 12);
	cr_assert_eq(pfield(p, "stock", "available"), 12);
	json_object_put(p);

	/* The same delta file again changes nothing; the onHand file neither. */
	r = import_ok(&t, delta_file, "stock", NULL);
	assert_counts(r, 4, 0, 0, 2, 2);
	http_resp_free(r);
	p = product_by_sku(&t, "S-1");
	cr_assert_eq(pfield(p, "stock", "onHand"), 12);
	json_object_put(p);
	audit_org(t.id, &au);
	cr_assert_eq(au.products, 3);
	cr_assert_eq(au.movements, 3, "one count_correction and two deltas");
	cr_assert_eq(au.on_hand, 12);
}

/* ---- scale, concurrency ---- */

struct bg_import {
	const struct tenant *t;
	const char *file;
	struct http_resp *r;
	double seconds;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *bg_run(void *arg)
{
	struct bg_import *b = arg;
	double t0 = now_s();

	b->r = import_as(b->t->owner.id_token, b->file, "products", NULL);
	b->seconds = now_s() - t0;
	return NULL;
}

static void loadavg(char *out, size_t n)
{
	FILE *f = fopen("/proc/loadavg", "r");

	if (!f || !fgets(out, (int)n, f))
		snprintf(out, n, "?");
	if (f)
		fclose(f);
	out[strcspn(out, "\n")] = '\0';
}

Test(scale, ten_thousand_rows_import_with_counts_growing_then_reimport_unchanged, .timeout = 900)
{
	struct tenant t;
	struct bg_import b = {0};
	pthread_t th;
	size_t cap = 10000 * 64, o = 0;
	char *csv = malloc(cap), load[128], id[64] = "";
	long seen[2] = {-1, -1};
	struct http_resp *r;

	make_tenant(&t);
	o += (size_t)snprintf(csv + o, cap - o, "sku,name,price,category,reorderPoint\n");
	for (int i = 0; i < 10000; i++)
		o += (size_t)snprintf(csv + o, cap - o, "BULK-%05d,Bulk item %d,%d.%02d,cat-%d,%d\n", i, i,
				      10 + i % 500, i % 100, i % 7, i % 10);
	b.t = &t;
	b.file = strdup(upload_kind(&t, "upload", "text/csv", csv, o));
	loadavg(load, sizeof(load));
	fprintf(stderr, "10,000-row import starting, load average %s\n", load);
	cr_assert_eq(pthread_create(&th, NULL, bg_run, &b), 0);
	/* While it runs: the record is listed, running, and its counts grow. */
	for (time_t end = time(NULL) + 600; time(NULL) < end && seen[1] < 0;) {
		if (!id[0]) {
			r = http_get("/v1/imports", t.owner.id_token);
			if (r->status == 200 && json_str(r, "data.0.id"))
				snprintf(id, sizeof(id), "%s", json_str(r, "data.0.id"));
			http_resp_free(r);
		}
		if (id[0]) {
			char path[200];

			snprintf(path, sizeof(path), "/v1/imports/%s", id);
			r = http_get(path, t.owner.id_token);
			if (r->status == 200 && strcmp(json_str(r, "status"), "running") == 0) {
				long rows = json_int(r, "counts.rows");

				if (seen[0] < 0 && rows > 0)
					seen[0] = rows;
				else if (seen[0] >= 0 && rows > seen[0])
					seen[1] = rows;
			} else if (r->status == 200) {
				http_resp_free(r);
				break;
			}
			http_resp_free(r);
		}
		struct timespec ts = {0, 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	pthread_join(th, NULL);
	cr_assert_eq(b.r->status, 201, "%s", b.r->body);
	cr_assert_str_eq(json_str(b.r, "status"), "succeeded", "%s", b.r->body);
	assert_counts(b.r, 10000, 10000, 0, 0, 0);
	loadavg(load, sizeof(load));
	fprintf(stderr, "10,000-row import: %.1f s (%.0f rows/s), load average after %s\n", b.seconds,
		10000 / b.seconds, load);
	cr_assert_gt(seen[1], seen[0], "counts grew while it ran (seen %ld then %ld)", seen[0], seen[1]);
	cr_assert_geq(seen[0], 1);
	http_resp_free(b.r);
	cr_assert_eq(stored(&t, "products"), 10000);
	cr_assert_eq(stored(&t, "skus"), 10000);

	b.r = NULL;
	bg_run(&b);
	cr_assert_eq(b.r->status, 201, "%s", b.r->body);
	assert_counts(b.r, 10000, 0, 0, 10000, 0);
	loadavg(load, sizeof(load));
	fprintf(stderr, "10,000-row re-import (nothing changed): %.1f s (%.0f rows/s), load average %s\n", b.seconds,
		10000 / b.seconds, load);
	http_resp_free(b.r);
	free((void *)b.file);
	free(csv);
}

/*
 * The cleanup job ends an import that made no progress for an hour
 * (handlers/jobs.c); should its importer carry on after all, it must not
 * write over that end. Here the end is written into the emulator while a
 * 5,000-row import runs, as the cleanup writes it: the importer's next
 * write of its record fails on the record's version, the import stops with
 * 409 ABORTED saying why, and the record keeps the end the cleanup gave it.
 */
Test(scale, an_import_ended_by_the_cleanup_while_it_runs_stops_and_keeps_that_end, .timeout = 600)
{
	static const char *const mask[] = {"status", "finishedAt", NULL};
	enum { ROWS = 5000 };
	struct tenant t;
	struct bg_import b = {0};
	pthread_t th;
	size_t cap = ROWS * 48, o = 0;
	char *csv = malloc(cap), id[64] = "", rel[300], fields[300], when[40];
	long rows = 0;
	time_t now;
	json_object *doc;

	make_tenant(&t);
	o += (size_t)snprintf(csv + o, cap - o, "sku,name,price\n");
	for (int i = 0; i < ROWS; i++)
		o += (size_t)snprintf(csv + o, cap - o, "END-%05d,Ended item %d,%d.50\n", i, i, 1 + i % 90);
	b.t = &t;
	b.file = strdup(upload_kind(&t, "upload", "text/csv", csv, o));
	cr_assert_eq(pthread_create(&th, NULL, bg_run, &b), 0);
	for (time_t end = time(NULL) + 300; time(NULL) < end && rows == 0;) {
		struct http_resp *r;
		char path[200];

		usleep(50 * 1000);
		if (!id[0]) {
			r = http_get("/v1/imports", t.owner.id_token);
			if (r->status == 200 && json_str(r, "data.0.id"))
				snprintf(id, sizeof(id), "%s", json_str(r, "data.0.id"));
			http_resp_free(r);
			continue;
		}
		snprintf(path, sizeof(path), "/v1/imports/%s", id);
		r = http_get(path, t.owner.id_token);
		if (r->status == 200 && strcmp(json_str(r, "status"), "running") == 0)
			rows = json_int(r, "counts.rows");
		http_resp_free(r);
	}
	cr_assert_gt(rows, 0, "the import committed rows");
	now = time(NULL);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	snprintf(rel, sizeof(rel), "organizations/%s/imports/%s", t.id, id);
	snprintf(fields, sizeof(fields),
		 "{\"status\":{\"stringValue\":\"failed\"},\"finishedAt\":{\"timestampValue\":\"%s\"}}", when);
	fs_write_fields(rel, mask, fields);
	pthread_join(th, NULL);
	cr_assert_eq(b.r->status, 409, "the import stopped: %s", b.r->body);
	cr_assert_str_eq(json_str(b.r, "error.status"), "ABORTED", "%s", b.r->body);
	cr_assert_not_null(strstr(json_str(b.r, "error.message"), "post the same file again"), "%s", b.r->body);
	http_resp_free(b.r);
	doc = fs_read(rel);
	cr_assert_str_eq(fs_str(doc, "status"), "failed", "the cleanup's end stays");
	cr_assert_lt(fs_int(doc, "counts.rows"), ROWS, "the importer wrote no more counts");
	json_object_put(doc);
	free((void *)b.file);
	free(csv);
}

struct racer {
	const struct tenant *t;
	char (*ids)[64];
	int n;
	atomic_int *stop;
	int ok;
};

static void *adjust_racer(void *arg)
{
	struct racer *a = arg;
	char path[200];

	for (int i = 0; !atomic_load(a->stop); i++) {
		struct http_resp *r;

		snprintf(path, sizeof(path), "/v1/products/%s/stock:adjust", a->ids[i % a->n]);
		r = http_json("POST", path, a->t->owner.id_token, "{\"delta\":1,\"reason\":\"received\"}");
		a->ok += r->status == 200;
		http_resp_free(r);
	}
	return NULL;
}

static void *order_racer(void *arg)
{
	struct racer *a = arg;
	char body[600];

	for (int i = 0; !atomic_load(a->stop); i++) {
		struct http_resp *r;

		snprintf(body, sizeof(body),
			 "{\"customer\":{\"name\":\"Race\"},\"shippingAddress\":{\"line1\":\"1 Long St\",\"city\":"
			 "\"Cape Town\",\"province\":\"Western Cape\",\"postalCode\":\"8001\"},\"items\":[{"
			 "\"productId\":\"%s\",\"quantity\":1}]}",
			 a->ids[i % a->n]);
		r = http_json("POST", "/v1/orders", a->t->owner.id_token, body);
		a->ok += r->status == 201;
		http_resp_free(r);
	}
	return NULL;
}

Test(stock, an_import_racing_adjustments_and_orders_keeps_onhand_equal_to_its_movements, .timeout = 600)
{
	struct tenant t;
	struct http_resp *r;
	char ids[8][64], *csv = malloc(64 * 1024);
	size_t o = 0;
	atomic_int stop = 0;
	struct racer ra = {&t, ids, 8, &stop, 0}, ro = {&t, ids, 8, &stop, 0};
	pthread_t a, b;
	struct audit au;
	char *delta_file;
	long applied;

	make_tenant(&t);
	o += (size_t)snprintf(csv + o, 64 * 1024 - o, "sku,name,price\n");
	for (int i = 0; i < 8; i++)
		o += (size_t)snprintf(csv + o, 64 * 1024 - o, "RACE-%d,Race %d,10\n", i, i);
	r = import_ok(&t, upload_kind(&t, "upload", "text/csv", csv, o), "products", "\"mode\":\"create\"");
	http_resp_free(r);
	for (int i = 0; i < 8; i++) {
		char sku[16];
		json_object *p;

		snprintf(sku, sizeof(sku), "RACE-%d", i);
		p = product_by_sku(&t, sku);
		snprintf(ids[i], sizeof(ids[i]), "%s", pstr(p, "id", NULL));
		json_object_put(p);
	}
	/* A file of many deltas and counts of the same eight products, applied while others change them. */
	o = (size_t)snprintf(csv, 64 * 1024, "sku,delta,reason\n");
	for (int i = 0; i < 160; i++)
		o += (size_t)snprintf(csv + o, 64 * 1024 - o, "RACE-%d,%d,received\n", i % 8, 1 + i % 5);
	cr_assert_eq(pthread_create(&a, NULL, adjust_racer, &ra), 0);
	cr_assert_eq(pthread_create(&b, NULL, order_racer, &ro), 0);
	delta_file = strdup(upload_kind(&t, "upload", "text/csv", csv, o));
	r = import_ok(&t, delta_file, "stock", NULL);
	fprintf(stderr, "racing import: %s\n", r->body);
	cr_assert_eq(json_int(r, "counts.rows"), 160);
	applied = json_int(r, "counts.updated");
	http_resp_free(r);
	r = import_ok(&t, upload(&t, "sku,onHand\nRACE-0,500\nRACE-1,500\nRACE-2,500\n"), "stock", NULL);
	http_resp_free(r);
	atomic_store(&stop, 1);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	fprintf(stderr, "%d adjustments and %d orders went through beside the imports\n", ra.ok, ro.ok);
	cr_assert_gt(ra.ok, 0);
	/* onHand = the sum of movements, reserved = the open orders' lines, for every product. */
	audit_org(t.id, &au);
	cr_assert_eq(au.products, 8);
	/* Re-running the delta file now: every row it applied is unchanged, none applied twice. */
	r = import_ok(&t, delta_file, "stock", NULL);
	assert_counts(r, 160, 0, 160 - applied, applied, 0);
	http_resp_free(r);
	audit_org(t.id, &au);
	free(delta_file);
	free(csv);
}
