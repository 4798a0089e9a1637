#include "importer.h"

#include "authz.h"
#include "buf.h"
#include "clock.h"
#include "csv.h"
#include "csvin.h"
#include "files.h"
#include "fsquery.h"
#include "fswrite.h"
#include "gcs.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "map.h"
#include "mem.h"
#include "model.h"
#include "num.h"
#include "price.h"
#include "product.h"
#include "productdoc.h"
#include "stock.h"
#include "str.h"
#include "tenant.h"
#include "ts.h"
#include "webhook.h"

#include <openssl/sha.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define GROUP_ROWS 250 /* rows read and planned together (one batchGet each of keys, products, records) */
#define GROUP_ATTEMPTS 4 /* a group read, planned and committed again after a conflict */
#define ROW_ATTEMPTS 3 /* then each of its rows alone */
#define ERRORS_MAX (8u << 20) /* bytes of the errors CSV: 10,000 lines of at most ~400 */

enum col {
	C_SKU,
	C_NAME,
	C_DESCRIPTION,
	C_CATEGORY,
	C_BRAND,
	C_BARCODE,
	C_PRICE,
	C_COST,
	C_STATUS,
	C_REORDER,
	C_ONHAND,
	C_DELTA,
	C_REASON,
	C_COUNT
};
static const char *const col_names[C_COUNT] = {"sku",	  "name",  "description", "category", "brand",
					       "barcode", "price", "cost",	  "status",   "reorderPoint",
					       "onHand",  "delta", "reason"};
const char *const fx_import_hidden[] = {"organizationId", "fileSha256", NULL};

struct counts {
	int64_t rows, created, updated, unchanged, failed;
};

struct attr_col {
	char name[65];
	int col;
};

/* A later row with the SKU of an earlier one (products and onHand files). */
struct dup {
	long row, first;
	char key[80];
};

struct imp {
	struct fx_req *r;
	bool stock, set, create_only, dry_run;
	const char *file_id;
	char sha[65];
	char id[FX_ID_LEN + 1];
	const char *rel; /* the import record */
	struct fx_value shown; /* the record's fields as created, those GET shows (import.finished's data) */
	char version[40]; /* the record's updateTime after this run's last write of it: the next one's precondition */
	int col[C_COUNT]; /* column of each field, -1 when absent */
	struct attr_col attrs[FX_PRODUCTDOC_MAX_ATTRIBUTES];
	size_t nattrs;
	bool decimal_comma;
	int64_t default_reorder;
	struct counts n;
	struct fx_buf errors; /* the errors CSV */
	struct dup *dups; /* sorted by row */
	size_t ndups;
};

enum outcome { O_NONE, O_CREATED, O_UPDATED, O_UNCHANGED, O_FAILED };

struct row {
	long number; /* as a spreadsheet shows it: header 1, first data row 2 */
	char sku[FX_PRODUCT_SKU_MAX + 1];
	char key[80]; /* fx_product_sku_key */
	const char *sku_rel; /* its index document */
	const char *idem_rel; /* delta rows: the record of their application */
	json_object *in; /* product rows: the fields of the cells, as the API's JSON */
	int64_t value; /* stock rows: onHand or delta; product rows: onHand when has_on_hand */
	bool has_on_hand;
	char reason[33];
	enum outcome out;
	bool bad; /* refused by its cells alone: stays refused */
	size_t nw; /* writes its plan made (they follow the previous row's in the group's array) */
	char field[72];
	char why[200];
};

/* ---- the errors CSV and row outcomes ---- */

/* Marks w refused, field and reason for its line in the errors CSV; 0 (a refusal is not a failure of the run). */
static int refuse(struct row *w, const char *field, const char *why)
{
	w->out = O_FAILED;
	fx_str_text(w->field, sizeof(w->field), "%s", field ? field : "");
	fx_str_text(w->why, sizeof(w->why), "%s", why);
	return 0;
}

/* The column a decoder's JSON field came from. */
static const char *column_of(const char *field)
{
	if (strcmp(field, "priceCents") == 0)
		return "price";
	if (strcmp(field, "costCents") == 0)
		return "cost";
	if (strcmp(field, "stock.reorderPoint") == 0 || strcmp(field, "stock") == 0)
		return "reorderPoint";
	return field;
}

/* Refuses w with what e says (a 4xx of the rules), then clears e. */
static void refuse_err(struct row *w, struct fx_err *e)
{
	if (e->ndetails > 0)
		refuse(w, column_of(e->details[0].field), e->details[0].reason);
	else
		refuse(w, "", e->message);
	fx_err_clear(e);
}

static bool rule_refusal(const struct fx_err *e)
{
	return fx_err_is(e, FX_INVALID_ARGUMENT) || fx_err_is(e, FX_FAILED_PRECONDITION) ||
	       fx_err_is(e, FX_ALREADY_EXISTS);
}

static int count(struct imp *im, struct row *w, struct fx_err *e)
{
	char num[24];

	im->n.rows++;
	switch (w->out) {
	case O_CREATED: im->n.created++; return 0;
	case O_UPDATED: im->n.updated++; return 0;
	case O_UNCHANGED: im->n.unchanged++; return 0;
	case O_NONE:
	case O_FAILED: break;
	}
	im->n.failed++;
	fx_str_text(num, sizeof(num), "%ld", w->number);
	if (fx_csv_text(&im->errors, num) < 0 || fx_csv_text(&im->errors, w->sku) < 0 ||
	    fx_csv_text(&im->errors, w->field) < 0 || fx_csv_text(&im->errors, w->why) < 0 ||
	    fx_csv_end_row(&im->errors) < 0)
		return fx_err_set(e, FX_INTERNAL, "the errors file outgrew %u bytes", ERRORS_MAX);
	return 0;
}

/* ---- the file ---- */

static int sink(void *ctx, const char *p, size_t n)
{
	return fx_buf_append(ctx, p, n);
}

/* The file's bytes into data (capped at FX_CSVIN_MAX_BYTES): a ready text/csv upload of the organization. */
static int read_file(struct imp *im, struct fx_buf *data, struct fx_err *e)
{
	struct fx_doc doc = {0};
	const char *rel, *kind, *ctype, *status, *object;
	int64_t size = -1, generation = 0;
	unsigned char md[SHA256_DIGEST_LENGTH];
	int rc = -1;

	rel = fx_tenant_path(im->r, NULL, "files", im->file_id, "file", e);
	if (!rel || fx_tenant_get(im->r, rel, "file", &doc, e) < 0)
		goto out;
	kind = fx_value_path_str(&doc.fields, "kind");
	ctype = fx_value_path_str(&doc.fields, "contentType");
	status = fx_value_path_str(&doc.fields, "status");
	object = fx_value_path_str(&doc.fields, "object");
	fx_value_path_int(&doc.fields, "size", &size);
	if (!kind || strcmp(kind, "upload") != 0) {
		fx_err_invalid(e, "fileId", "must be a file of kind upload");
		goto out;
	}
	if (!ctype || strcmp(ctype, "text/csv") != 0) {
		fx_err_invalid(e, "fileId", "must be a text/csv file (save the sheet as CSV UTF-8)");
		goto out;
	}
	if (!status || strcmp(status, "ready") != 0 || !object || size < 0) {
		fx_err_invalid(e, "fileId", "must be ready: the upload is not complete");
		goto out;
	}
	if (size > (int64_t)FX_CSVIN_MAX_BYTES) {
		fx_err_invalid(e, "fileId", "must be at most %u MiB", FX_CSVIN_MAX_BYTES >> 20);
		goto out;
	}
	if ((fx_value_path_int(&doc.fields, "generation", &generation) && generation > 0
		     ? fx_gcs_download_generation(object, generation, size, FX_CSVIN_MAX_BYTES, sink, data, e)
		     : fx_gcs_download(object, FX_CSVIN_MAX_BYTES, sink, data, NULL, e)) < 0)
		goto out;
	SHA256((const unsigned char *)(data->len ? data->data : ""), data->len, md);
	if (fx_str_hex(im->sha, sizeof(im->sha), md, sizeof(md)) < 0) {
		fx_err_set(e, FX_INTERNAL, "sha256 does not fit its buffer");
		goto out;
	}
	rc = 0;
out:
	fx_firestore_doc_cleanup(&doc);
	return rc;
}

/* 400 naming "file" with the reason fmt says; -1. */
__attribute__((format(printf, 2, 3))) static int file_refusal(struct fx_err *e, const char *fmt, ...)
{
	char why[200];
	va_list ap;

	va_start(ap, fmt);
	fx_str_vtext(why, sizeof(why), fmt, ap);
	va_end(ap);
	fx_err_set(e, FX_INVALID_ARGUMENT, "the file cannot be imported: %s", why);
	fx_err_detail(e, "file", "%s", why);
	return -1;
}

/* A header name trimmed of spaces into out. */
static void trimmed(const char *s, char *out, size_t size)
{
	size_t n = strlen(s);

	while (n && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (fx_str_copy(out, size, s, n) < 0)
		fx_str_text(out, size, "%.*s", (int)n, s);
}

/* The columns of the header: known names once each, attributes.<name> for product files, the required ones. */
static int read_header(struct imp *im, const struct fx_csvin_row *h, struct fx_err *e)
{
	for (int c = 0; c < C_COUNT; c++)
		im->col[c] = -1;
	for (size_t i = 0; i < h->n; i++) {
		char name[128];
		int c;

		trimmed(h->field[i], name, sizeof(name));
		if (!*name)
			continue; /* a spreadsheet's empty trailing column */
		if (!im->stock && strncasecmp(name, "attributes.", 11) == 0 && name[11]) {
			struct attr_col *a;

			if (im->nattrs >= FX_PRODUCTDOC_MAX_ATTRIBUTES)
				return file_refusal(e, "has more than 50 attributes.* columns");
			a = &im->attrs[im->nattrs];
			if (strlen(name + 11) > 64)
				return file_refusal(e, "column \"%s\": attribute names are at most 64 characters",
						    name);
			for (size_t k = 0; k < im->nattrs; k++)
				if (strcmp(im->attrs[k].name, name + 11) == 0)
					return file_refusal(e, "column \"%s\" appears twice", name);
			fx_str_text(a->name, sizeof(a->name), "%s", name + 11);
			a->col = (int)i;
			im->nattrs++;
			continue;
		}
		for (c = 0; c < C_COUNT; c++)
			if (strcasecmp(name, col_names[c]) == 0)
				break;
		/* A products file may carry onHand (the export's column): a count of the product. */
		if (c == C_COUNT || (im->stock ? c != C_SKU && c < C_ONHAND : c > C_ONHAND))
			return file_refusal(e, "has an unknown column \"%s\"", name);
		if (im->col[c] >= 0)
			return file_refusal(e, "column \"%s\" appears twice", col_names[c]);
		im->col[c] = (int)i;
	}
	if (im->col[C_SKU] < 0)
		return file_refusal(e, "needs a column \"%s\"", "sku");
	if (im->stock) {
		if ((im->col[C_ONHAND] >= 0) == (im->col[C_DELTA] >= 0))
			return file_refusal(e,
					    "needs either a column \"onHand\" or the columns \"delta\" and \"reason\"");
		if (im->col[C_DELTA] >= 0 && im->col[C_REASON] < 0)
			return file_refusal(e, "needs a column \"%s\" beside delta", "reason");
		if (im->col[C_ONHAND] >= 0 && im->col[C_REASON] >= 0)
			return file_refusal(e,
					    "column \"%s\" goes with delta, not onHand (a count is a count_correction)",
					    "reason");
		im->set = im->col[C_ONHAND] >= 0;
	} else if (im->create_only) {
		if (im->col[C_NAME] < 0)
			return file_refusal(e, "needs a column \"%s\" to create products", "name");
		if (im->col[C_PRICE] < 0)
			return file_refusal(e, "needs a column \"%s\" to create products", "price");
	}
	return 0;
}

/* Cell c of row, "" when the row is short or the column absent; a lib/csv formula escape undone. */
static const char *cell(const struct fx_csvin_row *row, int col)
{
	const char *s;

	if (col < 0 || (size_t)col >= row->n)
		return "";
	s = row->field[col];
	/* lib/csv's escape: one quote more before quotes and a formula start ("''=x" is "'=x"). */
	if (s[0] == '\'' && s[strspn(s, "'")] && strchr("=+-@\t\r", s[strspn(s, "'")]))
		return s + 1;
	return s;
}

/* cell() without surrounding spaces, in out (size bytes); -1 when it does not fit. */
static int cell_trim(const struct fx_csvin_row *row, int col, char *out, size_t size)
{
	const char *s = cell(row, col);
	size_t n = strlen(s);

	while (n && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return fx_str_copy(out, size, s, n);
}

/* The SKU cell of row into w (sku, key): false when it is not a valid SKU. */
static bool take_sku(const struct fx_csvin_row *row, int col, struct row *w)
{
	return cell_trim(row, col, w->sku, sizeof(w->sku)) == 0 && fx_product_sku_valid(w->sku) &&
	       fx_product_sku_key(w->sku, w->key, sizeof(w->key)) == 0;
}

/* ---- first pass: the whole file is read once before anything is written ---- */

static int dup_by_key(const void *a, const void *b)
{
	const struct dup *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c ? c : (x->row > y->row) - (x->row < y->row);
}

static int dup_by_row(const void *a, const void *b)
{
	const struct dup *x = a, *y = b;

	return (x->row > y->row) - (x->row < y->row);
}

/*
 * Reads every row (the reader refuses malformed CSV), counts them (at most
 * FX_IMPORT_MAX_ROWS) and, unless rows are deltas, finds the rows whose SKU
 * an earlier row has: those are refused (applying both would never settle).
 */
static int scan(struct imp *im, const char *data, size_t len, struct fx_err *e)
{
	struct fx_csvin c = {0};
	struct fx_csvin_row h, row;
	struct dup *keys = NULL;
	size_t nkeys = 0, rows = 0;
	int got, rc = -1;

	if (fx_csvin_open(&c, data, len, &h, e) < 0 || read_header(im, &h, e) < 0)
		goto out;
	im->decimal_comma = c.decimal_comma;
	keys = fx_mem_xmalloc(sizeof(*keys) * FX_IMPORT_MAX_ROWS);
	while ((got = fx_csvin_next(&c, &row, e)) > 0) {
		struct row w = {0};

		if (fx_csvin_row_blank(&row)) /* a spreadsheet's formatted empty row */
			continue;
		if (++rows > FX_IMPORT_MAX_ROWS) {
			fx_err_set(e, FX_INVALID_ARGUMENT, "the file has more than %d rows", FX_IMPORT_MAX_ROWS);
			fx_err_detail(e, "file", "must have at most %d data rows: split it", FX_IMPORT_MAX_ROWS);
			goto out;
		}
		if (take_sku(&row, im->col[C_SKU], &w)) {
			keys[nkeys].row = c.row + 1;
			FX_ARRAY_COPY(keys[nkeys].key, w.key);
			nkeys++;
		}
	}
	if (got < 0)
		goto out;
	if (!(im->stock && !im->set) && nkeys > 1) {
		qsort(keys, nkeys, sizeof(*keys), dup_by_key);
		im->dups = fx_mem_xmalloc(sizeof(*im->dups) * nkeys);
		for (size_t i = 1, first = 0; i < nkeys; i++) {
			if (strcmp(keys[i].key, keys[first].key) != 0) {
				first = i;
				continue;
			}
			im->dups[im->ndups] = keys[i];
			im->dups[im->ndups].first = keys[first].row;
			im->ndups++;
		}
		qsort(im->dups, im->ndups, sizeof(*im->dups), dup_by_row);
	}
	rc = 0;
out:
	free(keys);
	fx_csvin_cleanup(&c);
	return rc;
}

static const struct dup *dup_of(const struct imp *im, long number)
{
	struct dup probe = {.row = number};

	return im->ndups ? bsearch(&probe, im->dups, im->ndups, sizeof(probe), dup_by_row) : NULL;
}

/* ---- rows from cells ---- */

static void json_set_text(json_object *in, const char *key, const char *s)
{
	if (*s)
		json_object_object_add(in, key, json_object_new_string(s));
}

/* A money cell into in[key] as cents; false when refused (w says why). */
static bool money(struct imp *im, const struct fx_csvin_row *row, int col, const char *column, json_object *in,
		  const char *key, struct row *w)
{
	char text[FX_PRICE_MAX_TEXT + 1];
	struct fx_err e;
	int64_t cents;

	if (col < 0 || !*cell(row, col))
		return true;
	fx_err_clear(&e);
	if (cell_trim(row, col, text, sizeof(text)) < 0) {
		refuse(w, column, "is too long for an amount");
		return false;
	}
	if (!*text)
		return true;
	if (fx_price_parse(text, im->decimal_comma, column, &cents, &e) < 0) {
		refuse_err(w, &e);
		return false;
	}
	json_object_object_add(in, key, json_object_new_int64(cents));
	return true;
}

/* A product row's cells as the JSON POST/PATCH /v1/products take (empty cells: not given). */
static int product_cells(struct imp *im, const struct fx_csvin_row *row, struct row *w)
{
	static const int text[] = {C_NAME, C_DESCRIPTION, C_CATEGORY, C_BRAND};
	json_object *in = json_object_new_object();
	char small[64] = "";
	const char *why;
	int64_t n;

	w->in = in;
	json_object_object_add(in, "sku", json_object_new_string(w->sku));
	for (size_t i = 0; i < sizeof(text) / sizeof(text[0]); i++)
		json_set_text(in, col_names[text[i]], cell(row, im->col[text[i]]));
	if (cell_trim(row, im->col[C_BARCODE], small, sizeof(small)) < 0)
		return refuse(w, "barcode", "must be at most 32 digits");
	json_set_text(in, "barcode", small);
	if (cell_trim(row, im->col[C_STATUS], small, sizeof(small)) < 0)
		return refuse(w, "status", "must be draft, active or archived");
	for (char *p = small; *p; p++)
		*p = (char)((*p >= 'A' && *p <= 'Z') ? *p - 'A' + 'a' : *p);
	json_set_text(in, "status", small);
	if (!money(im, row, im->col[C_PRICE], "price", in, "priceCents", w) ||
	    !money(im, row, im->col[C_COST], "cost", in, "costCents", w))
		return 0;
	if (cell_trim(row, im->col[C_REORDER], small, sizeof(small)) < 0)
		return refuse(w, "reorderPoint", "must be a whole number");
	if (*small) {
		json_object *stock = json_object_new_object();

		if (fx_num_parse(small, 0, FX_PRODUCT_MAX_STOCK, &n, &why) < 0) {
			json_object_put(stock);
			return refuse(w, "reorderPoint", why);
		}
		json_object_object_add(stock, "reorderPoint", json_object_new_int64(n));
		json_object_object_add(in, "stock", stock);
	}
	if (cell_trim(row, im->col[C_ONHAND], small, sizeof(small)) < 0)
		return refuse(w, "onHand", "must be a whole number");
	if (*small) {
		if (fx_num_parse(small, 0, FX_PRODUCT_MAX_STOCK, &w->value, &why) < 0)
			return refuse(w, "onHand", why);
		w->has_on_hand = true;
	}
	if (im->nattrs) {
		json_object *attrs = json_object_new_object();

		for (size_t i = 0; i < im->nattrs; i++)
			json_set_text(attrs, im->attrs[i].name, cell(row, im->attrs[i].col));
		if (json_object_object_length(attrs) > 0)
			json_object_object_add(in, "attributes", attrs);
		else
			json_object_put(attrs);
	}
	return 0;
}

/* A stock row's cells: onHand, or delta and reason. */
static int stock_cells(struct imp *im, const struct fx_csvin_row *row, struct row *w)
{
	char text[32] = "";
	const char *why;
	int col = im->set ? im->col[C_ONHAND] : im->col[C_DELTA];
	const char *field = im->set ? "onHand" : "delta";

	if (cell_trim(row, col, text, sizeof(text)) < 0 || !*text)
		return refuse(w, field, *text ? "must be a whole number" : "must not be empty");
	if (im->set ? fx_num_parse(text, 0, FX_PRODUCT_MAX_STOCK, &w->value, &why) < 0
		    : fx_num_parse(text, -FX_STOCK_MAX_DELTA, FX_STOCK_MAX_DELTA, &w->value, &why) < 0)
		return refuse(w, field, why);
	if (im->set)
		return 0;
	if (w->value == 0)
		return refuse(w, "delta", "must not be zero");
	if (cell_trim(row, im->col[C_REASON], w->reason, sizeof(w->reason)) < 0 ||
	    !fx_product_adjust_reason_valid(w->reason))
		return refuse(w, "reason",
			      "must be one of received, sold_offline, damaged, lost, returned, count_correction");
	return 0;
}

/* Row number of the reader's current row into w, its cells decoded; refusals by cells alone mark it bad. */
static void take_row(struct imp *im, const struct fx_csvin *c, const struct fx_csvin_row *row, struct row *w,
		     struct fx_err *e)
{
	const struct dup *d;
	char hash_in[200];
	unsigned char md[SHA256_DIGEST_LENGTH];
	char id[65];

	memset(w, 0, sizeof(*w));
	w->number = c->row + 1;
	if (!take_sku(row, im->col[C_SKU], w)) {
		char given[FX_PRODUCT_SKU_MAX + 1];

		if (cell_trim(row, im->col[C_SKU], given, sizeof(given)) == 0)
			fx_str_text(w->sku, sizeof(w->sku), "%s", given);
		refuse(w, "sku",
		       *w->sku ? "may hold only letters, digits, '.', '_' and '-' (at most 64)" : "must not be empty");
		w->bad = true;
		return;
	}
	if ((d = dup_of(im, w->number))) {
		char why[80];

		fx_str_text(why, sizeof(why), "appears already on row %ld", d->first);
		refuse(w, "sku", why);
		w->bad = true;
		return;
	}
	if (im->stock)
		(void)stock_cells(im, row, w);
	else
		(void)product_cells(im, row, w);
	if (w->out == O_FAILED) {
		w->bad = true;
		return;
	}
	w->sku_rel = fx_productdoc_sku_path(im->r, w->sku, e);
	if (!w->sku_rel) {
		refuse_err(w, e);
		w->bad = true;
		return;
	}
	if (im->stock && !im->set) {
		fx_str_text(hash_in, sizeof(hash_in), "%s:%ld", im->sha, w->number);
		SHA256((const unsigned char *)hash_in, strlen(hash_in), md);
		if (fx_str_hex(id, sizeof(id), md, sizeof(md)) == 0)
			w->idem_rel = fx_tenant_path(im->r, NULL, "importRows", id, "import row", e);
		if (!w->idem_rel) {
			fx_err_clear(e);
			refuse(w, "", "cannot be recorded");
			w->bad = true;
		}
	}
}

/* ---- planning a group against what is stored now ---- */

/* The fields of w's cells merged into product's attributes (an update never drops attributes it does not name). */
static json_object *merged(const struct row *w, const struct fx_doc *product)
{
	json_object *in = NULL, *attrs, *all;
	const struct fx_value *old = fx_value_path(&product->fields, "attributes");

	if (!json_object_object_get_ex(w->in, "attributes", &attrs) || !old || old->type != FX_V_MAP)
		return json_object_get(w->in);
	json_object_deep_copy(w->in, &in, NULL);
	all = json_object_new_object();
	for (size_t i = 0; i < old->u.map.n; i++)
		if (old->u.map.fields[i].value.type == FX_V_STRING)
			json_object_object_add(all, old->u.map.fields[i].name,
					       json_object_new_string_len(old->u.map.fields[i].value.u.s.p,
									  (int)old->u.map.fields[i].value.u.s.n));
	json_object_object_foreach(attrs, k, v) json_object_object_add(all, k, json_object_get(v));
	json_object_object_add(in, "attributes", all);
	return in;
}

/* The movement of a new product's first count: onHand is the sum of its movements from the start. */
static int first_count(struct imp *im, const struct row *w, const char *id, json_object *writes, struct fx_err *e)
{
	char note[80];

	fx_str_text(note, sizeof(note), "import %s, row %ld", im->id, w->number);
	return fx_stock_movement_write(im->r, writes, id, w->value, "count_correction", NULL, note, w->value, NULL, e);
}

/*
 * A product row's onHand cell as stock:adjust would apply it (a
 * count_correction, with its movement and outbox entry), written first and
 * guarded by the version read; *fields then receives a copy of product to
 * write the row's other fields after it in the same commit (no version: the
 * stock write carries it), its stock as it will be. 0 with *changed false
 * when the count is what is stored.
 */
static int count_writes(struct imp *im, const struct row *w, const struct fx_doc *product, json_object *writes,
			struct fx_doc *fields, bool *changed, struct fx_err *e)
{
	int64_t delta = w->value - fx_stock(product, "onHand"), after;
	char note[80];

	*changed = false;
	if (!w->has_on_hand || delta == 0)
		return 0;
	fx_str_text(note, sizeof(note), "import %s, row %ld", im->id, w->number);
	if (fx_stock_adjust(im->r, writes, product, delta, "count_correction", note, "onHand", &after, NULL, e) < 0)
		return -1;
	fx_value_copy(&fields->fields, &product->fields);
	fields->id = product->id;
	fields->update_time[0] = '\0';
	fx_stock_set(&fields->fields, after, fx_stock(product, "reserved"), fx_stock(product, "reorderPoint"));
	*changed = true;
	return 0;
}

static int plan_product(struct imp *im, struct row *w, const struct fx_doc *product, json_object *writes,
			struct fx_err *e)
{
	struct fx_productdoc d = {0};
	struct fx_doc after = {0};
	json_object *in = NULL;
	size_t before = json_object_array_length(writes);
	char id[FX_ID_LEN + 1];
	const char *rel;
	bool counted;
	int rc = 0;

	if (!product) {
		if (fx_productdoc_decode(w->in, true, &d, e) < 0)
			goto refused;
		fx_productdoc_complete_new(im->r, &d, im->default_reorder);
		if (w->has_on_hand)
			fx_stock_set(&d.map, w->value, 0, fx_stock(&(struct fx_doc){.fields = d.map}, "reorderPoint"));
		if (fx_productdoc_create_writes(im->r, writes, &d.map, id, e) < 0 ||
		    (w->has_on_hand && w->value > 0 && first_count(im, w, id, writes, e) < 0))
			goto refused;
		w->out = O_CREATED;
		goto out;
	}
	in = merged(w, product);
	if (fx_productdoc_decode(in, false, &d, e) < 0)
		goto refused;
	if (fx_productdoc_unchanged(product, &d) && !(w->has_on_hand && w->value != fx_stock(product, "onHand"))) {
		w->out = O_UNCHANGED;
		goto out;
	}
	if (im->create_only) {
		refuse(w, "sku", "a product with this SKU exists (mode create changes no product)");
		goto out;
	}
	if (count_writes(im, w, product, writes, &after, &counted, e) < 0)
		goto refused;
	if (!(rel = fx_tenant_path(im->r, NULL, "products", product->id, "product", e)) ||
	    (!fx_productdoc_unchanged(product, &d) &&
	     fx_productdoc_update_writes(im->r, writes, rel, counted ? &after : product, &d, e) < 0))
		goto refused;
	w->out = O_UPDATED;
	goto out;
refused:
	/* The row's writes go whole or not at all. */
	if (json_object_array_length(writes) > before)
		json_object_array_del_idx(writes, before, json_object_array_length(writes) - before);
	if (rule_refusal(e))
		refuse_err(w, e);
	else
		rc = -1;
out:
	json_object_put(in);
	fx_productdoc_cleanup(&d);
	fx_value_cleanup(&after.fields);
	return rc;
}

/* The record that a delta row was applied: created with its effect, so it is applied once. */
static int row_record(struct imp *im, const struct row *w, const struct fx_doc *product, json_object *writes,
		      struct fx_err *e)
{
	struct fx_value rec = {0};
	char *name = fx_tenant_name(w->idem_rel);
	int rc;

	fx_value_map(&rec);
	fx_map_set_str(&rec, "importId", im->id);
	fx_map_set_str(&rec, "fileSha256", im->sha);
	fx_map_set_int(&rec, "row", w->number);
	fx_map_set_str(&rec, "productId", product->id);
	fx_map_set_int(&rec, "delta", w->value);
	fx_model_map_set_now(&rec, "at");
	fx_tenant_stamp(im->r, &rec);
	rc = fx_fswrite_create(writes, name, &rec, NULL, e);
	fx_value_cleanup(&rec);
	free(name);
	return rc;
}

static int plan_stock(struct imp *im, struct row *w, const struct fx_doc *product, const struct fx_doc *record,
		      json_object *writes, struct fx_err *e)
{
	size_t before = json_object_array_length(writes);
	int64_t delta = w->value, after;
	char note[80];

	if (!product)
		return refuse(w, "sku", "no product has this SKU");
	if (im->set)
		delta = w->value - fx_stock(product, "onHand");
	if ((im->set && delta == 0) || (!im->set && record && record->name)) {
		w->out = O_UNCHANGED;
		return 0;
	}
	fx_str_text(note, sizeof(note), "import %s, row %ld", im->id, w->number);
	if (fx_stock_adjust(im->r, writes, product, delta, im->set ? "count_correction" : w->reason, note,
			    im->set ? "onHand" : "delta", &after, NULL, e) < 0 ||
	    (!im->set && row_record(im, w, product, writes, e) < 0)) {
		if (json_object_array_length(writes) > before)
			json_object_array_del_idx(writes, before, json_object_array_length(writes) - before);
		if (!rule_refusal(e))
			return -1;
		refuse_err(w, e);
		return 0;
	}
	w->out = O_UPDATED;
	return 0;
}

/* Reads the group's SKU index documents, their products and (deltas) row records, then plans every row. */
static int plan_group(struct imp *im, struct row *rows, size_t n, json_object *writes, const char *txn,
		      struct fx_err *e)
{
	const char *paths[GROUP_ROWS];
	struct fx_doc *keys, *products, *records;
	size_t at[GROUP_ROWS], m = 0, np = 0;
	const struct fx_doc *of[GROUP_ROWS];
	int rc = -1;

	if (n > GROUP_ROWS)
		return fx_err_set(e, FX_INTERNAL, "a group of %zu rows", n);
	keys = fx_mem_xcalloc(3 * n, sizeof(*keys));
	products = keys + n;
	records = keys + 2 * n;
	for (size_t i = 0; i < n; i++) {
		of[i] = NULL;
		if (!rows[i].bad) {
			rows[i].out = O_NONE;
			at[m] = i;
			paths[m++] = rows[i].sku_rel;
		}
	}
	if (m == 0) {
		free(keys);
		return 0;
	}
	if (fx_firestore_batch_get(paths, m, txn, keys, e) < 0)
		goto out;
	for (size_t k = 0; k < m; k++) {
		const char *pid = keys[k].name && fx_tenant_owns(im->r, &keys[k])
					  ? fx_value_path_str(&keys[k].fields, "productId")
					  : NULL;

		if (pid && (paths[np] = fx_tenant_path(im->r, NULL, "products", pid, "product", e)))
			at[np++] = at[k];
		else
			fx_err_clear(e);
	}
	if (np && fx_firestore_batch_get(paths, np, txn, products, e) < 0)
		goto out;
	for (size_t k = 0; k < np; k++)
		if (products[k].name && fx_tenant_owns(im->r, &products[k]))
			of[at[k]] = &products[k];
	if (im->stock && !im->set) {
		size_t nr = 0;

		for (size_t i = 0; i < n; i++)
			if (!rows[i].bad)
				paths[nr++] = rows[i].idem_rel;
		if (fx_firestore_batch_get(paths, nr, txn, records, e) < 0)
			goto out;
	}
	for (size_t i = 0, k = 0; i < n; i++) {
		size_t before = json_object_array_length(writes);

		rows[i].nw = 0;
		if (rows[i].bad)
			continue;
		if ((im->stock ? plan_stock(im, &rows[i], of[i], &records[k], writes, e)
			       : plan_product(im, &rows[i], of[i], writes, e)) < 0)
			goto out;
		rows[i].nw = json_object_array_length(writes) - before;
		k++;
	}
	rc = 0;
out:
	for (size_t k = 0; k < 3 * n; k++)
		fx_firestore_doc_cleanup(&keys[k]);
	free(keys);
	return rc;
}

/* A commit that failed on what another writer did meanwhile: read and plan again. */
static bool conflict(const struct fx_err *e)
{
	return fx_err_is(e, FX_ALREADY_EXISTS) || fx_err_is(e, FX_FAILED_PRECONDITION) || fx_err_is(e, FX_NOT_FOUND) ||
	       fx_err_is(e, FX_ABORTED);
}

struct row_txn {
	struct imp *im;
	struct row *w;
};

/* One row read and written in a transaction: its reads hold the documents until its commit. */
static int row_txn(struct fx_txn *t, void *arg, struct fx_err *e)
{
	struct row_txn *c = arg;

	return plan_group(c->im, c->w, 1, t->writes, t->id, e);
}

/* Commits writes[from..to) atomically. */
static int commit_range(json_object *writes, size_t from, size_t to, struct fx_err *e)
{
	json_object *part;
	int rc;

	if (from == 0 && to == json_object_array_length(writes))
		return fx_firestore_commit(writes, NULL, NULL, NULL, e);
	part = json_object_new_array();
	for (size_t i = from; i < to; i++)
		json_object_array_add(part, json_object_get(json_object_array_get_idx(writes, i)));
	rc = fx_firestore_commit(part, NULL, NULL, NULL, e);
	json_object_put(part);
	return rc;
}

/*
 * Plans rows[0..n) and commits their writes in as few commits as
 * FX_FS_MAX_WRITES allows, each row's writes whole in one of them. On a
 * conflict the rows not yet committed are read and planned again
 * (GROUP_ATTEMPTS in all, ROW_ATTEMPTS for one row), then each alone; a row
 * that keeps conflicting gets a transaction of its own (reads that hold
 * its documents, as stock:adjust has), and only when that gives up too is
 * it refused.
 */
static int apply(struct imp *im, struct row *rows, size_t n, struct fx_err *e)
{
	for (int attempt = 0;; attempt++) {
		json_object *writes = json_object_new_array();
		size_t done = 0, at = 0;
		int rc = plan_group(im, rows, n, writes, NULL, e);

		while (rc == 0 && !im->dry_run && done < n) {
			size_t end = done, nw = 0;

			while (end < n && nw + rows[end].nw <= FX_FS_MAX_WRITES)
				nw += rows[end++].nw;
			if (end == done) {
				rc = fx_err_set(e, FX_INTERNAL, "row %ld made %zu writes", rows[end].number,
						rows[end].nw);
				break;
			}
			if (nw > 0 && (rc = commit_range(writes, at, at + nw, e)) < 0)
				break;
			done = end;
			at += nw;
		}
		json_object_put(writes);
		if (rc == 0)
			return 0;
		if (!conflict(e))
			return -1;
		fx_err_clear(e);
		/* What committed stays as planned; the rest is planned again. */
		rows += done;
		n -= done;
		if (attempt + 1 < (n > 1 ? GROUP_ATTEMPTS : ROW_ATTEMPTS)) {
			fx_clock_sleep_ms(fx_clock_jitter_ms(50L << attempt));
			continue;
		}
		if (n == 1) {
			struct row_txn c = {im, rows};

			if (fx_firestore_run_transaction(row_txn, &c, e) == 0)
				return 0;
			if (!conflict(e))
				return -1;
			fx_err_clear(e);
			refuse(&rows[0], "sku", "changed by someone else while importing: run the import again");
			return 0;
		}
		for (size_t i = 0; i < n; i++)
			if (apply(im, &rows[i], 1, e) < 0)
				return -1;
		return 0;
	}
}

/* ---- the import record ---- */

static void set_counts(struct fx_value *map, const struct counts *n)
{
	struct fx_value *c = fx_map_set(map, "counts");

	fx_value_map(c);
	fx_map_set_int(c, "rows", n->rows);
	fx_map_set_int(c, "created", n->created);
	fx_map_set_int(c, "updated", n->updated);
	fx_map_set_int(c, "unchanged", n->unchanged);
	fx_map_set_int(c, "failed", n->failed);
}

static int record_new(struct imp *im, const char *kind, const char *mode, struct fx_err *e)
{
	struct fx_value rec = {0};
	struct fx_doc created = {0};
	int rc;

	fx_model_id_new(im->id);
	im->rel = fx_tenant_path(im->r, NULL, "imports", im->id, "import", e);
	if (!im->rel)
		return -1;
	fx_value_map(&rec);
	fx_map_set_str(&rec, "kind", kind);
	fx_map_set_str(&rec, "mode", mode);
	fx_map_set_str(&rec, "fileId", im->file_id);
	fx_map_set_bool(&rec, "dryRun", im->dry_run);
	fx_map_set_str(&rec, "status", "running");
	set_counts(&rec, &im->n);
	fx_map_set_str(&rec, "createdBy", im->r->principal->uid);
	fx_model_map_set_now(&rec, "startedAt");
	fx_model_map_set_now(&rec, "updatedAt");
	/* What GET shows; the fields of fx_import_hidden come after. */
	fx_value_copy(&im->shown, &rec);
	fx_tenant_stamp(im->r, &rec);
	fx_map_set_str(&rec, "fileSha256", im->sha);
	rc = fx_firestore_create(im->rel, &rec, &created, e);
	if (rc == 0 && fx_str_set(im->version, sizeof(im->version), created.update_time) < 0)
		rc = fx_err_set(e, FX_INTERNAL, "the record's updateTime over %zu bytes", sizeof(im->version));
	fx_firestore_doc_cleanup(&created);
	fx_value_cleanup(&rec);
	return rc;
}

/*
 * Appends import.finished to writes: its data is the record as GET shows it
 * once end (the fields this commit writes) is applied, with its id.
 */
static int finished_event(struct imp *im, json_object *writes, const struct fx_value *end, struct fx_err *e)
{
	struct fx_value data = {0};
	int rc;

	fx_value_copy(&data, &im->shown);
	for (size_t i = 0; i < end->u.map.n; i++)
		fx_value_copy(fx_map_set(&data, end->u.map.fields[i].name), &end->u.map.fields[i].value);
	rc = fx_webhook_import_finished(writes, im->r->principal->organization_id, im->id, NULL, &data, e);
	fx_value_cleanup(&data);
	return rc;
}

/*
 * Writes the record's counts, and when status is given its end (status,
 * finishedAt, errorsFileId), on the version this run wrote last: when
 * someone else wrote the record meanwhile (the cleanup job ending it as
 * stale, fx_import_fail_stale), 409 ABORTED and the record stays theirs.
 */
static int record_update(struct imp *im, const char *status, const char *errors_file, struct fx_err *e)
{
	static const char *const progress[] = {"counts", "updatedAt", NULL};
	static const char *const end[] = {"counts", "updatedAt", "status", "finishedAt", "errorsFileId", NULL};
	struct fx_value map = {0};
	json_object *writes = json_object_new_array();
	char *name = fx_tenant_name(im->rel);
	char(*times)[40] = NULL;
	int rc;

	fx_value_map(&map);
	set_counts(&map, &im->n);
	fx_model_map_set_now(&map, "updatedAt");
	if (status) {
		fx_map_set_str(&map, "status", status);
		fx_model_map_set_now(&map, "finishedAt");
		if (errors_file)
			fx_map_set_str(&map, "errorsFileId", errors_file);
	}
	rc = fx_fswrite_update(writes, name, &map, status ? end : progress, im->version, NULL, e);
	/* The end of a real import is an event for the merchant's systems, in the same commit (issue 17). */
	if (rc == 0 && status && !im->dry_run)
		rc = finished_event(im, writes, &map, e);
	if (rc == 0) {
		times = fx_mem_xcalloc(json_object_array_length(writes), sizeof(*times));
		rc = fx_firestore_commit(writes, NULL, NULL, times, e);
	}
	/* The record's write is the first of the commit. */
	if (rc == 0 && fx_str_set(im->version, sizeof(im->version), times[0]) < 0)
		rc = fx_err_set(e, FX_INTERNAL, "the record's updateTime over %zu bytes", sizeof(im->version));
	if (rc < 0 && fx_err_is(e, FX_FAILED_PRECONDITION)) {
		fx_err_clear(e);
		fx_err_set(e, FX_ABORTED,
			   "import %s was ended by the cleanup job while it ran (no progress for an hour): the rows "
			   "applied stay; post the same file again to complete it",
			   im->id);
	}
	free(times);
	json_object_put(writes);
	fx_value_cleanup(&map);
	free(name);
	return rc;
}

/* ---- the run ---- */

static void rows_cleanup(struct row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		json_object_put(rows[i].in);
		rows[i].in = NULL;
	}
}

/* Applies rows[0..n), counts them, and writes the record's counts. */
static int flush(struct imp *im, struct row *rows, size_t n, struct fx_err *e)
{
	if (n == 0)
		return 0;
	if (apply(im, rows, n, e) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (count(im, &rows[i], e) < 0)
			return -1;
	rows_cleanup(rows, n);
	return im->dry_run ? 0 : record_update(im, NULL, NULL, e);
}

/* Whether w's product is in rows[0..n) already (delta rows: two changes of one product need two commits). */
static bool repeats(const struct row *rows, size_t n, const struct row *w)
{
	for (size_t i = 0; !w->bad && i < n; i++)
		if (!rows[i].bad && strcmp(rows[i].key, w->key) == 0)
			return true;
	return false;
}

/* Second pass: the rows in groups of cap, each group read, planned and committed together. */
static int apply_all(struct imp *im, const char *data, size_t len, struct fx_err *e)
{
	size_t cap = GROUP_ROWS, n = 0;
	struct fx_csvin c = {0};
	struct fx_csvin_row h, row;
	struct row *rows = fx_mem_xcalloc(cap, sizeof(*rows)), next;
	int got, rc = -1;

	if (fx_csvin_open(&c, data, len, &h, e) < 0)
		goto out;
	while ((got = fx_csvin_next(&c, &row, e)) > 0) {
		if (fx_csvin_row_blank(&row)) /* a spreadsheet's formatted empty row */
			continue;
		take_row(im, &c, &row, &next, e);
		if (n == cap || repeats(rows, n, &next)) {
			if (flush(im, rows, n, e) < 0) {
				json_object_put(next.in);
				goto out;
			}
			n = 0;
		}
		rows[n++] = next;
	}
	if (got < 0 || flush(im, rows, n, e) < 0)
		goto out;
	n = 0;
	rc = 0;
out:
	rows_cleanup(rows, n);
	free(rows);
	fx_csvin_cleanup(&c);
	return rc;
}

static int store_errors(struct imp *im, struct fx_doc *file, struct fx_err *e)
{
	static const char header[] = "row,sku,field,reason\r\n";
	struct fx_buf all;
	char name[64];
	int rc;

	fx_buf_init(&all, ERRORS_MAX + sizeof(header));
	fx_str_text(name, sizeof(name), "import-%s-errors.csv", im->id);
	if (fx_buf_puts(&all, header) < 0 || fx_buf_append(&all, im->errors.data, im->errors.len) < 0) {
		fx_buf_cleanup(&all);
		return fx_err_set(e, FX_INTERNAL, "the errors file outgrew %u bytes", ERRORS_MAX);
	}
	rc = fx_files_store(im->r, "report", name, "text/csv", all.data, all.len, NULL, file, e);
	fx_buf_cleanup(&all);
	return rc;
}

static int parse_request(struct imp *im, const struct fx_import_req *q, const char **mode, struct fx_err *e)
{
	if (strcmp(q->kind, "products") == 0)
		im->stock = false;
	else if (strcmp(q->kind, "stock") == 0)
		im->stock = true;
	else
		return fx_err_invalid(e, "kind", "must be products or stock");
	*mode = q->mode ? q->mode : "upsert";
	if (strcmp(*mode, "create") == 0)
		im->create_only = true;
	else if (strcmp(*mode, "upsert") != 0)
		return fx_err_invalid(e, "mode", "must be upsert or create");
	if (im->stock && im->create_only)
		return fx_err_invalid(e, "mode", "applies to products imports only");
	if (!fx_model_id_valid(q->file_id)) {
		fx_err_set(e, FX_NOT_FOUND, "file not found");
		return -1;
	}
	im->file_id = q->file_id;
	im->dry_run = q->dry_run;
	return 0;
}

int fx_import_run(struct fx_req *r, const struct fx_import_req *q, struct fx_doc *record, struct fx_err *e)
{
	struct imp im = {0};
	struct fx_buf data;
	struct fx_doc errors = {0};
	const char *mode = "upsert", *status;
	int rc = -1;

	im.r = r;
	fx_buf_init(&data, FX_CSVIN_MAX_BYTES);
	fx_buf_init(&im.errors, ERRORS_MAX);
	if (parse_request(&im, q, &mode, e) < 0 || read_file(&im, &data, e) < 0 ||
	    scan(&im, data.data ? data.data : "", data.len, e) < 0)
		goto out;
	if (!im.stock && fx_productdoc_default_reorder(r, &im.default_reorder, e) < 0)
		goto out;
	/* Nothing was written so far: from here on the record says what happened. */
	if (record_new(&im, q->kind, mode, e) < 0)
		goto out;
	fx_log_info("import %s: %s of file %s (%s) started", im.id, q->kind, im.file_id, im.dry_run ? "dry run" : mode);
	if (apply_all(&im, data.data, data.len, e) < 0) {
		fx_log_error("import %s: stopped after %lld rows: %s", im.id, (long long)im.n.rows, e->message);
		goto out;
	}
	if (im.n.failed > 0 && store_errors(&im, &errors, e) < 0)
		goto out;
	status = im.n.failed == 0 ? "succeeded" : im.n.failed == im.n.rows ? "failed" : "partial";
	if (record_update(&im, status, errors.id, e) < 0 || fx_firestore_get(im.rel, record, e) < 0)
		goto out;
	fx_log_info("import %s: %s, %lld rows (%lld created, %lld updated, %lld unchanged, %lld failed)", im.id, status,
		    (long long)im.n.rows, (long long)im.n.created, (long long)im.n.updated, (long long)im.n.unchanged,
		    (long long)im.n.failed);
	rc = 0;
out:
	fx_buf_cleanup(&data);
	fx_buf_cleanup(&im.errors);
	fx_firestore_doc_cleanup(&errors);
	fx_value_cleanup(&im.shown);
	free(im.dups);
	return rc;
}

/* ---- imports whose worker died ---- */

/* The record's fields GET shows (fx_import_hidden left out), then end's over them, into out (a new map). */
static void shown_fields(const struct fx_value *stored, const struct fx_value *end, struct fx_value *out)
{
	fx_value_map(out);
	for (size_t i = 0; i < stored->u.map.n; i++) {
		const struct fx_field *f = &stored->u.map.fields[i];
		bool hidden = false;

		for (size_t k = 0; fx_import_hidden[k]; k++)
			hidden = hidden || strcmp(f->name, fx_import_hidden[k]) == 0;
		if (!hidden)
			fx_value_copy(fx_map_set(out, f->name), &f->value);
	}
	for (size_t i = 0; i < end->u.map.n; i++)
		fx_value_copy(fx_map_set(out, end->u.map.fields[i].name), &end->u.map.fields[i].value);
}

/* Its errors CSV, saying why it ended, as a report file into file. */
static int stale_errors(struct fx_req *r, const struct fx_doc *d, struct fx_doc *file, struct fx_err *e)
{
	const struct fx_value *at = fx_map_get(&d->fields, "updatedAt");
	char name[64], since[40] = "?", csv[600];
	int64_t rows = 0;

	fx_value_path_int(&d->fields, "counts.rows", &rows);
	if (at && at->type == FX_V_TIMESTAMP)
		fx_ts_format(at->u.ts.secs, at->u.ts.nanos, 3, since);
	fx_str_text(name, sizeof(name), "import-%s-errors.csv", d->id);
	if (fx_str_fmt(csv, sizeof(csv),
		       "row,sku,field,reason\r\n,,,\"the import stopped after %lld rows: no progress since %s (its "
		       "worker ended); every row is applied or not: post the same file again to complete it\"\r\n",
		       (long long)rows, since) < 0)
		return fx_err_set(e, FX_INTERNAL, "the stale import's reason over %zu bytes", sizeof(csv));
	return fx_files_store(r, "report", name, "text/csv", csv, strlen(csv), NULL, file, e);
}

/* Removes the errors file stored for an end of d that did not happen (best effort: logged when it stays). */
static void take_back(const struct fx_doc *d, const struct fx_doc *file)
{
	struct fx_err ignored;
	const char *object = fx_value_path_str(&file->fields, "object");
	json_object *undo = json_object_new_array();

	fx_err_clear(&ignored);
	if ((object && fx_gcs_delete(object, -1, &ignored) < 0) ||
	    fx_fswrite_delete(undo, file->name, -1, NULL, &ignored) < 0 ||
	    fx_firestore_commit(undo, NULL, NULL, NULL, &ignored) < 0)
		fx_log_warn("import %s: its unused errors file %s stays: %s", d->id, file->id, ignored.message);
	json_object_put(undo);
}

/* Whether the record d now names file_id as its errors file: 1 yes (the end was applied), 0 no, -1 unknown. */
static int end_applied(struct fx_req *r, const struct fx_doc *d, const char *file_id)
{
	struct fx_err ignored;
	struct fx_doc now = {0};
	const char *rel, *named;
	int got;

	fx_err_clear(&ignored);
	rel = fx_tenant_path(r, NULL, "imports", d->id, "import", &ignored);
	if (!rel)
		return -1;
	if (fx_firestore_get(rel, &now, &ignored) < 0)
		return fx_err_is(&ignored, FX_NOT_FOUND) ? 0 : -1;
	named = fx_value_path_str(&now.fields, "errorsFileId");
	got = named && strcmp(named, file_id) == 0;
	fx_firestore_doc_cleanup(&now);
	return got;
}

/*
 * Ends the stale record d as failed (see fx_import_fail_stale): 1 when
 * ended, 0 when its importer wrote meanwhile (the precondition failed).
 */
static int fail_stale(struct fx_req *r, const struct fx_doc *d, struct fx_err *e)
{
	static const char *const mask[] = {"status", "finishedAt", "updatedAt", "errorsFileId", NULL};
	struct fx_value end = {0}, data = {0};
	struct fx_doc file = {0};
	const struct fx_value *dry = fx_map_get(&d->fields, "dryRun");
	json_object *writes = json_object_new_array();
	int rc = -1;

	if (stale_errors(r, d, &file, e) < 0)
		goto out;
	fx_value_map(&end);
	fx_map_set_str(&end, "status", "failed");
	fx_model_map_set_now(&end, "finishedAt");
	fx_model_map_set_now(&end, "updatedAt");
	fx_map_set_str(&end, "errorsFileId", file.id);
	if (fx_fswrite_update(writes, d->name, &end, mask, d->update_time, NULL, e) < 0)
		goto out;
	if (!(dry && dry->type == FX_V_BOOL && dry->u.b)) {
		shown_fields(&d->fields, &end, &data);
		if (fx_webhook_import_finished(writes, r->principal->organization_id, d->id, NULL, &data, e) < 0)
			goto out;
	}
	if (fx_firestore_commit(writes, NULL, NULL, NULL, e) == 0) {
		fx_log_warn("import %s: no progress for too long, marked failed", d->id);
		rc = 1;
	} else if (fx_err_is(e, FX_FAILED_PRECONDITION) || fx_err_is(e, FX_NOT_FOUND)) {
		/* Its importer is alive after all (or the record went): leave it, and take the errors file back. */
		fx_err_clear(e);
		take_back(d, &file);
		rc = 0;
	} else {
		/*
		 * Another failure (a reset, a timeout): the commit may or may not have
		 * been applied. The record says which; the errors file goes only when
		 * it is sure the record does not name it.
		 */
		int applied = end_applied(r, d, file.id);

		if (applied == 1) {
			fx_err_clear(e);
			fx_log_warn("import %s: no progress for too long, marked failed (its commit's answer was lost)",
				    d->id);
			rc = 1;
		} else if (applied == 0) {
			take_back(d, &file);
		} else {
			fx_log_warn(
				"import %s: its end's commit failed and the record cannot be read: errors file %s may "
				"stay unused",
				d->id, file.id);
		}
	}
out:
	json_object_put(writes);
	fx_value_cleanup(&end);
	fx_value_cleanup(&data);
	fx_firestore_doc_cleanup(&file);
	return rc;
}

int fx_import_fail_stale(struct fx_req *r, int64_t now, int64_t stale_s, int64_t *failed, struct fx_err *e)
{
	*failed = 0;
	for (int pass = 0; pass < FX_IMPORT_STALE_PASSES; pass++) {
		const char *parent;
		struct fx_query *q = fx_tenant_query(r, NULL, "imports", &parent, e);
		struct fx_value cutoff = {0};
		struct fx_doc *docs = NULL;
		size_t n = 0, ended = 0;
		int rc;

		fx_value_ts(&cutoff, now - stale_s, 0);
		rc = q ? fx_fsquery_where_str(q, "status", "==", "running", e) : -1;
		if (rc == 0)
			rc = fx_fsquery_where(q, "updatedAt", "<", &cutoff, e);
		if (rc == 0) {
			fx_fsquery_limit(q, FX_IMPORT_STALE_BATCH);
			rc = fx_firestore_query(parent, q, NULL, &docs, &n, e);
		}
		fx_fsquery_free(q);
		fx_value_cleanup(&cutoff);
		for (size_t i = 0; rc == 0 && i < n; i++) {
			int got = fail_stale(r, &docs[i], e);

			if (got < 0)
				rc = -1;
			ended += got > 0;
		}
		fx_firestore_docs_free(docs, n);
		if (rc < 0)
			return -1;
		*failed += (int64_t)ended;
		/* A full page that ended nothing would be found again: the next run looks once more. */
		if (n < FX_IMPORT_STALE_BATCH || ended == 0)
			return 0;
	}
	return 0;
}
