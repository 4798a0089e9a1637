#include "model.h"

#include "fsvalue.h"
#include "http.h"
#include "b64.h"
#include "json.h"
#include "map.h"
#include "mem.h"
#include "num.h"
#include "plain.h"
#include "str.h"
#include "ts.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

void fx_model_id_new(char out[FX_ID_LEN + 1])
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char raw[FX_ID_LEN];
	size_t got = 0;

	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);

		if (n > 0)
			got += (size_t)n;
	}
	/* 248 = 4 * 62: rejection-free enough; the bias of raw % 62 is below 2 %. */
	for (int i = 0; i < FX_ID_LEN; i++)
		out[i] = alphabet[raw[i] % 62];
	out[FX_ID_LEN] = '\0';
}

bool fx_model_id_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 128)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		      c == '-'))
			return false;
	}
	return true;
}

/* Bytes that stand for themselves in a SKU id. */
static bool sku_plain(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

int fx_model_sku_id(const char *sku, char *out, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 2;

	if (!*sku || len < 4)
		return -1;
	out[0] = 's';
	out[1] = '_';
	for (const unsigned char *p = (const unsigned char *)sku; *p; p++) {
		unsigned char c = *p >= 'A' && *p <= 'Z' ? (unsigned char)(*p + 32) : *p;
		size_t need = sku_plain(c) || c == '.' ? 1 : 3;

		if (o + need >= len)
			return -1;
		if (sku_plain(c)) {
			out[o++] = (char)c;
		} else if (c == '.') {
			out[o++] = 'D';
		} else {
			out[o++] = 'X';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return 0;
}

static int upper_hex(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int fx_model_sku_id_decode(const char *id, char *out, size_t len)
{
	size_t o = 0;

	if (strncmp(id, "s_", 2) != 0 || !id[2])
		return -1;
	for (const char *p = id + 2; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (o + 1 >= len)
			return -1;
		if (c == 'D') {
			c = '.';
		} else if (c == 'X') {
			int hi = upper_hex(p[1]), lo = hi < 0 ? -1 : upper_hex(p[2]);

			if (lo < 0)
				return -1;
			c = (unsigned char)(hi * 16 + lo);
			/* Only bytes that fx_model_sku_id escapes this way: one id per SKU. */
			if (sku_plain(c) || c == '.' || (c >= 'A' && c <= 'Z') || c == '\0')
				return -1;
			p += 2;
		} else if (!sku_plain(c)) {
			return -1;
		}
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

int fx_model_etag(const struct fx_doc *d, char *out, size_t len)
{
	return fx_str_fmt(out, len, "\"%s\"", d->update_time);
}

int fx_model_if_match(const struct fx_req *r, const char **update_time, struct fx_err *e)
{
	const char *h = fx_http_req_header(r, "If-Match");
	static const char bad[] = "If-Match does not name a current version of this resource";
	size_t n;
	int64_t secs;
	int32_t nanos;
	char *t;

	*update_time = NULL;
	if (!h)
		return 0;
	n = strlen(h);
	if (n < 3 || n > 48 || h[0] != '"' || h[n - 1] != '"')
		return fx_err_set(e, FX_CONDITION_NOT_MET, bad);
	t = fx_arena_strndup(r->arena, h + 1, n - 2);
	if (!t || fx_ts_parse(t, &secs, &nanos) < 0)
		return fx_err_set(e, FX_CONDITION_NOT_MET, bad);
	*update_time = t;
	return 0;
}

/*
 * The top-level fields of a document in the order answers show them: by
 * name, bytewise. Firestore's order is not ours to rely on (the emulator
 * keeps a created document's fields as written but moves the fields an
 * update names after the others, in its own hash order), so a write can
 * answer what a read would return byte for byte (fx_model_doc_updated).
 * Up to FIELDS_ON_STACK fields need no allocation; sorted input is not sorted again.
 */
#define FIELDS_ON_STACK 64

struct field_order {
	const struct fx_field *stack[FIELDS_ON_STACK];
	const struct fx_field **f;
	size_t n;
};

static int field_name_cmp(const void *a, const void *b)
{
	return strcmp((*(const struct fx_field *const *)a)->name, (*(const struct fx_field *const *)b)->name);
}

static void field_order_init(struct field_order *o, const struct fx_value *map)
{
	bool sorted = true;

	o->n = map->type == FX_V_MAP ? map->u.map.n : 0;
	o->f = o->n <= FIELDS_ON_STACK ? o->stack : fx_mem_xmalloc(o->n * sizeof(*o->f));
	for (size_t i = 0; i < o->n; i++) {
		o->f[i] = &map->u.map.fields[i];
		if (i > 0 && strcmp(o->f[i - 1]->name, o->f[i]->name) > 0)
			sorted = false;
	}
	if (sorted)
		return;
	if (o->n > FIELDS_ON_STACK) {
		qsort(o->f, o->n, sizeof(*o->f), field_name_cmp);
		return;
	}
	/* A document's few fields: insertion sort, no call per comparison but strcmp. */
	for (size_t i = 1; i < o->n; i++) {
		const struct fx_field *f = o->f[i];
		size_t j = i;

		for (; j > 0 && strcmp(o->f[j - 1]->name, f->name) > 0; j--)
			o->f[j] = o->f[j - 1];
		o->f[j] = f;
	}
}

static void field_order_cleanup(struct field_order *o)
{
	if (o->f != o->stack)
		free(o->f);
}

json_object *fx_model_doc_json(const struct fx_doc *d, const char *const *hidden)
{
	json_object *out = json_object_new_object();
	struct field_order o;
	char etag[64];

	json_object_object_add(out, "id", json_object_new_string(d->id ? d->id : ""));
	field_order_init(&o, &d->fields);
	for (size_t i = 0; i < o.n; i++) {
		const struct fx_field *f = o.f[i];
		bool skip = false;

		for (const char *const *h = hidden; h && *h; h++)
			if (strcmp(*h, f->name) == 0)
				skip = true;
		if (!skip)
			json_object_object_add(out, f->name, fx_plain_encode(&f->value));
	}
	field_order_cleanup(&o);
	if (fx_model_etag(d, etag, sizeof(etag)) == 0)
		json_object_object_add(out, "etag", json_object_new_string(etag));
	return out;
}

int fx_model_doc_updated(struct fx_doc *doc, const struct fx_value *map, const char *const *mask,
			 const char *update_time, struct fx_err *e)
{
	struct fx_value *fields = &doc->fields;

	if (fields->type != FX_V_MAP)
		fx_value_map(fields);
	for (size_t m = 0; mask && mask[m]; m++) {
		const struct fx_value *v = fx_map_get(map, mask[m]);

		if (strchr(mask[m], '.') || strchr(mask[m], '`'))
			return fx_err_set(e, FX_INTERNAL, "an answer from a write of the nested field %s", mask[m]);
		if (v) {
			fx_value_copy(fx_map_set(fields, mask[m]), v);
			continue;
		}
		for (size_t i = 0; i < fields->u.map.n; i++)
			if (strcmp(fields->u.map.fields[i].name, mask[m]) == 0) {
				fx_err_ignore(fx_value_remove_field(fields, i)); /* i < n: cannot fail */
				break;
			}
	}
	if (update_time && fx_str_set(doc->update_time, sizeof(doc->update_time), update_time) < 0)
		return fx_err_set(e, FX_INTERNAL, "the commit did not answer the document's write");
	return 0;
}

int fx_model_doc_written(struct fx_doc *doc, json_object *write, struct fx_err *e)
{
	json_object *update, *fields = NULL, *m, *paths;
	const char *mask[FX_MODEL_WRITTEN_MAX + 1];
	struct fx_value map = {0};
	size_t n;
	int rc;

	if (!json_object_object_get_ex(write, "update", &update) ||
	    json_object_object_get_ex(write, "updateTransforms", NULL) ||
	    !json_object_object_get_ex(write, "updateMask", &m) ||
	    !json_object_object_get_ex(m, "fieldPaths", &paths) ||
	    (n = json_object_array_length(paths)) > FX_MODEL_WRITTEN_MAX)
		return 1;
	for (size_t i = 0; i < n; i++) {
		mask[i] = json_object_get_string(json_object_array_get_idx(paths, i));
		if (!mask[i] || strchr(mask[i], '.') || strchr(mask[i], '`'))
			return 1;
	}
	mask[n] = NULL;
	json_object_object_get_ex(update, "fields", &fields);
	if (fx_fsvalue_decode_fields(fields, &map, e) < 0)
		return -1;
	rc = fx_model_doc_updated(doc, &map, mask, NULL, e);
	fx_value_cleanup(&map);
	return rc;
}

void fx_model_doc_select(struct fx_doc *doc, const char *const *mask)
{
	struct fx_value *fields = &doc->fields;

	for (size_t i = fields->type == FX_V_MAP ? fields->u.map.n : 0; i-- > 0;) {
		bool keep = false;

		for (const char *const *m = mask; *m && !keep; m++)
			keep = strcmp(*m, fields->u.map.fields[i].name) == 0;
		if (!keep)
			fx_err_ignore(fx_value_remove_field(fields, i)); /* i < n: cannot fail */
	}
}

static bool is_hidden(const char *const *hidden, const char *name)
{
	/* The first byte first: most of a document's fields are hidden by none, and strcmp is a call each. */
	for (const char *const *h = hidden; h && *h; h++)
		if ((*h)[0] == name[0] && strcmp(*h, name) == 0)
			return true;
	return false;
}

int fx_model_doc_write(struct fx_buf *b, const struct fx_doc *d, const char *const *hidden)
{
	const char *id = d->id ? d->id : "";
	struct field_order o;
	char etag[64];

	for (size_t i = 0; i < d->fields.u.map.n; i++) {
		const char *name = d->fields.u.map.fields[i].name;

		/* json-c replaces a key in place: a stored id or etag field takes the tree's path. */
		if (((name[0] == 'i' && strcmp(name, "id") == 0) || (name[0] == 'e' && strcmp(name, "etag") == 0)) &&
		    !is_hidden(hidden, name)) {
			json_object *j = fx_model_doc_json(d, hidden);
			size_t len;
			const char *text = fx_json_text(j, &len);
			int rc = fx_buf_append(b, text, len);

			json_object_put(j);
			return rc;
		}
	}
	if (fx_buf_append(b, "{\"id\":", 6) < 0 || fx_plain_write_string(b, id, strlen(id)) < 0)
		return -1;
	field_order_init(&o, &d->fields);
	for (size_t i = 0; i < o.n; i++) {
		const struct fx_field *f = o.f[i];

		if (is_hidden(hidden, f->name))
			continue;
		if (fx_buf_append(b, ",", 1) < 0 || fx_plain_write_string(b, f->name, strlen(f->name)) < 0 ||
		    fx_buf_append(b, ":", 1) < 0 || fx_plain_write(b, &f->value) < 0) {
			field_order_cleanup(&o);
			return -1;
		}
	}
	field_order_cleanup(&o);
	if (fx_model_etag(d, etag, sizeof(etag)) == 0 &&
	    (fx_buf_append(b, ",\"etag\":", 8) < 0 || fx_plain_write_string(b, etag, strlen(etag)) < 0))
		return -1;
	return fx_buf_append(b, "}", 1);
}

void fx_model_map_set_now(struct fx_value *map, const char *name)
{
	int64_t secs;
	int32_t nanos;

	fx_ts_now(&secs, &nanos);
	/* The API speaks milliseconds: store what it will show. */
	fx_map_set_ts(map, name, secs, nanos / 1000000 * 1000000);
}

int fx_model_map_set_plain(struct fx_value *map, const char *name, json_object *plain, const char *field,
			   struct fx_err *e)
{
	struct fx_value v;

	if (fx_plain_decode(plain, field, &v, e) < 0)
		return -1;
	*fx_map_set(map, name) = v;
	return 0;
}

int fx_model_resp_doc(struct fx_req *r, int status, const struct fx_doc *doc, const char *const *hidden)
{
	struct fx_buf b;
	int rc;

	fx_buf_init(&b, FX_MODEL_ANSWER_MAX);
	if (fx_model_doc_write(&b, doc, hidden) == 0) {
		rc = fx_http_resp_send(r, status, "application/json", b.data, b.len);
	} else {
		/* Past the cap only json-c's text has no bound: the answer it always gave. */
		json_object *out = fx_model_doc_json(doc, hidden);

		rc = fx_http_resp_json(r, status, out);
		json_object_put(out);
	}
	fx_buf_cleanup(&b);
	return rc;
}

int fx_model_resp_created(struct fx_req *r, const char *location, json_object *body)
{
	fx_http_resp_header(r, "Location", location);
	return fx_http_resp_json(r, 201, body);
}

int fx_model_map_take_string(struct fx_value *map, json_object *in, const char *key, const char *field, bool required,
			     size_t min_len, size_t max_len, struct fx_err *e)
{
	const char *s = NULL;
	bool present = false;

	if (fx_json_string(in, key, field, required, min_len, max_len, &s, &present, e) < 0)
		return -1;
	if (present)
		fx_map_set_str(map, key, s);
	return 0;
}

static const char *const provinces[] = {"Eastern Cape", "Free State", "Gauteng",       "KwaZulu-Natal", "Limpopo",
					"Mpumalanga",	"North West", "Northern Cape", "Western Cape",	NULL};

int fx_model_address_decode(json_object *in, const char *field, struct fx_value *out, struct fx_err *e)
{
	static const char *const allowed[] = {"line1",	  "line2",	"suburb",  "city",
					      "province", "postalCode", "country", NULL};
	const char *country = "ZA", *province = NULL, *postal = NULL;
	char f[96], prefix[80];
	bool present;

	/* Field names in error details: text, as long as fits. */
	fx_str_text(prefix, sizeof(prefix), "%s.", field);
	if (!json_object_is_type(in, json_type_object))
		return fx_err_invalid(e, field, "must be an object");
	if (fx_json_allow(in, allowed, prefix, e) < 0)
		return -1;
	fx_value_map(out);
	fx_str_text(f, sizeof(f), "%scountry", prefix);
	if (fx_json_string(in, "country", f, false, 2, 2, &country, &present, e) < 0)
		goto fail;
	if (country[0] < 'A' || country[0] > 'Z' || country[1] < 'A' || country[1] > 'Z') {
		fx_err_invalid(e, f, "must be an ISO 3166-1 alpha-2 code such as ZA");
		goto fail;
	}
	fx_map_set_str(out, "country", country);
#define TAKE(key, req, max)                                                        \
	do {                                                                       \
		fx_str_text(f, sizeof(f), "%s%s", prefix, key);                    \
		if (fx_model_map_take_string(out, in, key, f, req, 1, max, e) < 0) \
			goto fail;                                                 \
	} while (0)
	TAKE("line1", true, 200);
	TAKE("line2", false, 200);
	TAKE("suburb", false, 100);
	TAKE("city", true, 100);
	TAKE("province", strcmp(country, "ZA") == 0, 100);
	TAKE("postalCode", true, 16);
#undef TAKE
	province = fx_value_path_str(out, "province");
	postal = fx_value_path_str(out, "postalCode");
	if (strcmp(country, "ZA") == 0) {
		if (fx_json_enum_index(province, provinces) < 0) {
			fx_str_text(f, sizeof(f), "%sprovince", prefix);
			fx_err_invalid(e, f, "must be one of the nine South African provinces");
			goto fail;
		}
		if (strlen(postal) != 4 || strspn(postal, "0123456789") != 4) {
			fx_str_text(f, sizeof(f), "%spostalCode", prefix);
			fx_err_invalid(e, f, "must be four digits in South Africa");
			goto fail;
		}
	}
	return 0;
fail:
	fx_value_cleanup(out);
	return -1;
}

int fx_model_page_size(const struct fx_req *r, int *out, struct fx_err *e)
{
	const char *s = fx_http_req_query(r, "pageSize");
	int64_t n;

	*out = FX_PAGE_SIZE_DEFAULT;
	if (!s)
		return 0;
	if (fx_num_parse(s, 1, FX_PAGE_SIZE_MAX, &n, NULL) < 0)
		return fx_err_invalid(e, "pageSize", "must be an integer from 1 to %d", FX_PAGE_SIZE_MAX);
	*out = (int)n;
	return 0;
}

static void sig_hash(const char *sig, char out[17])
{
	uint64_t h = 1469598103934665603ull;

	for (const unsigned char *p = (const unsigned char *)sig; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	if (fx_str_fmt(out, 17, "%016llx", (unsigned long long)h) < 0)
		out[0] = '\0'; /* cannot happen: 64 bits are 16 hex digits */
}

int fx_model_page_token_make(const char *sig, const struct fx_value *values, size_t n, struct fx_buf *out)
{
	json_object *o = json_object_new_object(), *arr = json_object_new_array();
	char h[17];
	const char *text;
	size_t len;
	int rc;

	sig_hash(sig, h);
	json_object_object_add(o, "q", json_object_new_string(h));
	for (size_t i = 0; i < n; i++)
		json_object_array_add(arr, fx_fsvalue_encode(&values[i]));
	json_object_object_add(o, "c", arr);
	text = fx_json_text(o, &len);
	rc = fx_b64_url_append(out, text, len);
	json_object_put(o);
	return rc;
}

int fx_model_page_token_next(const char *sig, const struct fx_doc *last, const char *const *cursor_fields,
			     struct fx_buf *out, struct fx_err *e)
{
	struct fx_value cur[8];
	size_t nc = 0;
	int made;

	for (const char *const *f = cursor_fields; f && *f && nc < 7; f++) {
		const struct fx_value *v = fx_value_path(&last->fields, *f);

		if (v)
			fx_value_copy(&cur[nc], v);
		else
			fx_value_null(&cur[nc]);
		nc++;
	}
	fx_value_string(&cur[nc++], last->id, strlen(last->id));
	made = fx_model_page_token_make(sig, cur, nc, out);
	for (size_t i = 0; i < nc; i++)
		fx_value_cleanup(&cur[i]);
	if (made < 0)
		return fx_err_set(e, FX_INTERNAL, "next page token over %zu bytes", out->max);
	return 0;
}

int fx_model_page_token_read(const char *token, const char *sig, struct fx_value *values, struct fx_err *e)
{
	size_t n = strlen(token), got = 0;
	json_object *o = NULL, *q, *c;
	struct fx_err ignored;
	char h[17], raw[4096];
	int rc = -1;

	fx_err_clear(&ignored);
	fx_value_array(values);
	if (n > 5000 || fx_b64_url_decode(token, n, raw, sizeof(raw) - 1, &got, &ignored) < 0)
		return fx_err_invalid(e, "pageToken", "is not a page token of this list");
	raw[got] = '\0';
	if (fx_json_parse(raw, got, 8, &o, &ignored) < 0 || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, "q", &q) || !json_object_object_get_ex(o, "c", &c) ||
	    !json_object_is_type(c, json_type_array) || json_object_array_length(c) > 8) {
		fx_err_invalid(e, "pageToken", "is not a page token of this list");
		goto out;
	}
	sig_hash(sig, h);
	if (strcmp(json_object_get_string(q), h) != 0) {
		fx_err_invalid(e, "pageToken", "belongs to a list with other filters or order");
		goto out;
	}
	for (size_t i = 0; i < json_object_array_length(c); i++) {
		if (fx_fsvalue_decode(json_object_array_get_idx(c, i), fx_value_push(values), &ignored) < 0) {
			fx_err_invalid(e, "pageToken", "is not a page token of this list");
			goto out;
		}
	}
	rc = 0;
out:
	json_object_put(o);
	if (rc < 0)
		fx_value_cleanup(values);
	return rc;
}

int fx_model_list_cursor(struct fx_req *r, struct fx_query *q, const char *sig, struct fx_err *e)
{
	const char *token = fx_http_req_query(r, "pageToken");
	struct fx_value values = {0};
	int rc;

	if (!token || !*token)
		return 0;
	if (fx_model_page_token_read(token, sig, &values, e) < 0)
		return -1;
	rc = fx_fsquery_cursor(q, FX_CURSOR_START_AFTER, values.u.arr.items, values.u.arr.n, e);
	fx_value_cleanup(&values);
	return rc;
}

/* The list answer as json-c wrote it: {"data":[...]} then "nextPageToken" when token is not NULL. */
static int list_write(struct fx_buf *b, const struct fx_doc *docs, size_t shown, const char *token,
		      const char *const *hidden)
{
	if (fx_buf_append(b, "{\"data\":[", 9) < 0)
		return -1;
	for (size_t i = 0; i < shown; i++) {
		if ((i > 0 && fx_buf_append(b, ",", 1) < 0) || fx_model_doc_write(b, &docs[i], hidden) < 0)
			return -1;
		/*
		 * Room for the rest of the page at once, a quarter over the first
		 * document's size for each: growing by doubling from 256 bytes
		 * reallocated and copied the answer six times for 20 products.
		 * Only an estimate: a larger answer still grows, and one that would
		 * pass the cap reserves nothing here (the appends refuse it).
		 */
		if (i == 0 && shown > 1)
			fx_err_ignore(fx_buf_reserve(b, (b->len + b->len / 4 + 1) * (shown - 1) + 256));
	}
	if (fx_buf_append(b, "]", 1) < 0)
		return -1;
	if (token &&
	    (fx_buf_append(b, ",\"nextPageToken\":", 17) < 0 || fx_plain_write_string(b, token, strlen(token)) < 0))
		return -1;
	return fx_buf_append(b, "}", 1);
}

int fx_model_list_answer(struct fx_req *r, const char *parent_rel, struct fx_query *q, int page_size, const char *sig,
			 const char *const *cursor_fields, const char *const *hidden, struct fx_err *e)
{
	struct fx_doc *docs = NULL;
	size_t n = 0, shown;
	struct fx_buf token, answer;
	int rc = -1;

	fx_buf_init(&token, 8192);
	fx_buf_init(&answer, FX_MODEL_ANSWER_MAX);
	fx_fsquery_limit(q, page_size + 1);
	/* The page's strings live in the request's arena: the documents are freed below, before it is reset. */
	if (fx_firestore_query_lend(parent_rel, q, NULL, r->arena, &docs, &n, e) < 0)
		goto done;
	shown = n > (size_t)page_size ? (size_t)page_size : n;
	if (n > (size_t)page_size && fx_model_page_token_next(sig, &docs[shown - 1], cursor_fields, &token, e) < 0)
		goto done;
	if (list_write(&answer, docs, shown, n > (size_t)page_size ? (token.data ? token.data : "") : NULL, hidden) <
	    0) {
		fx_err_set(e, FX_INTERNAL, "list answer over %zu bytes", answer.max);
		goto done;
	}
	rc = fx_http_resp_send(r, 200, "application/json", answer.data, answer.len);
done:
	fx_firestore_docs_free(docs, n);
	fx_buf_cleanup(&token);
	fx_buf_cleanup(&answer);
	return rc;
}

int fx_model_list_ordered(struct fx_req *r, const char *parent_rel, struct fx_query *q, const char *field,
			  bool descending, int page_size, const char *sig, const char *const *cursor_fields,
			  const char *const *hidden, struct fx_err *e)
{
	if (fx_fsquery_order_by(q, field, descending, e) < 0 || fx_fsquery_order_by(q, "__name__", descending, e) < 0 ||
	    fx_model_list_cursor(r, q, sig, e) < 0)
		return -1;
	return fx_model_list_answer(r, parent_rel, q, page_size, sig, cursor_fields, hidden, e);
}

/* Sets q to start after the last document of a page: its order_field value (if any), then its id. */
static int scan_cursor(const struct fx_scan *sc, const struct fx_doc *last, struct fx_err *e)
{
	struct fx_value cursor[2] = {{0}, {0}};
	size_t nc = 0;
	int rc;

	if (sc->order_field) {
		const struct fx_value *v = fx_value_path(&last->fields, sc->order_field);

		if (!v)
			return fx_err_set(e, FX_INTERNAL, "%s has no %s", last->id, sc->order_field);
		fx_value_copy(&cursor[nc++], v);
	}
	fx_value_string(&cursor[nc++], last->id, strlen(last->id));
	rc = fx_fsquery_start_after(sc->q, cursor, nc, e);
	for (size_t i = 0; i < nc; i++)
		fx_value_cleanup(&cursor[i]);
	return rc;
}

int fx_model_scan_run(const struct fx_scan *sc, struct fx_err *e)
{
	struct fx_doc *docs = NULL;
	size_t n = 0, seen = 0;
	int rc = -1;

	for (;;) {
		size_t want = sc->max - seen + 1;

		/* One more than the bound allows, so exceeding it is seen. */
		fx_fsquery_limit(sc->q, want < (size_t)sc->page_size ? (int)want : sc->page_size);
		if (fx_firestore_query(sc->parent_rel, sc->q, NULL, &docs, &n, e) < 0)
			goto out;
		seen += n;
		if (seen > sc->max) {
			sc->over(sc->ctx, e);
			goto out;
		}
		if (n == 0)
			break;
		if (scan_cursor(sc, &docs[n - 1], e) < 0 || sc->page(sc->ctx, docs, n, e) < 0)
			goto out;
		fx_firestore_docs_free(docs, n);
		docs = NULL;
		if (n < (size_t)sc->page_size)
			break;
		n = 0;
	}
	rc = 0;
out:
	fx_firestore_docs_free(docs, n);
	return rc;
}
