/*
 * Files through nginx against the Storage emulator: direct upload and
 * download (binary-safe, 0 bytes, 10 MiB, 10 MiB + 1), type checks on the
 * bytes, content types and names that reach response headers, hostile
 * names, the signed-URL upload flow and what :complete checks (objects
 * written straight into the emulator, as anyone holding the URL could),
 * product images, and tenant isolation.
 */
#include "client.h"

#include <criterion/criterion.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tenant {
	struct test_user owner;
	char org[64];
};

static void assert_error(struct http_resp *r, long code, const char *status)
{
	cr_assert_eq(r->status, code, "expected %ld, got %ld: %s", code, r->status, r->body);
	cr_assert_str_eq(json_str(r, "error.status"), status, "%s", r->body);
}

static void make_tenant(struct tenant *t)
{
	test_owner_signup(&t->owner, "files", "Files", t->org, sizeof(t->org));
}

static struct http_resp *upload(const struct tenant *t, const char *query, const char *ctype, const char *name,
				const void *data, size_t n)
{
	char path[256], header[4200];
	const char *h[] = {header, NULL};

	snprintf(path, sizeof(path), "/v1/files%s", query);
	snprintf(header, sizeof(header), "X-File-Name: %s", name ? name : "");
	return http_do("POST", path, t->owner.id_token, ctype, data, n, name ? h : NULL);
}

/* PNG magic, then every byte value including NULs. */
static char *png_bytes(size_t n)
{
	char *p = malloc(n);

	for (size_t i = 0; i < n; i++)
		p[i] = (char)(i * 7);
	memcpy(p, "\x89PNG\r\n\x1a\n", 8);
	return p;
}

static void assert_content(const struct tenant *t, const char *id, const void *data, size_t n, const char *ctype)
{
	char path[200];
	struct http_resp *r;

	snprintf(path, sizeof(path), "/v1/files/%s/content", id);
	r = http_get(path, t->owner.id_token);
	/* At most 300 bytes of a body in a message: Criterion's report of a 10 MiB one never arrives. */
	cr_assert_eq(r->status, 200, "%.300s", r->body);
	cr_assert_eq(r->len, n, "downloaded %zu bytes, uploaded %zu", r->len, n);
	cr_assert(n == 0 || memcmp(r->body, data, n) == 0, "the bytes come back unchanged");
	cr_assert_str_eq(http_header(r, "Content-Type"), ctype);
	cr_assert_not_null(strstr(http_header(r, "Content-Disposition"), "attachment"));
	http_resp_free(r);
}

/* s percent-encoded: every byte but A-Za-z0-9 - . _ ~ (so '/' too), as in a URL path segment. */
static void pct(const char *s, char *out, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s && o + 4 < len; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
		    c == '.' || c == '_' || c == '~') {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	cr_assert_eq(*s, '\0', "test buffer too small to encode %s", s);
	out[o] = '\0';
}

/* The Storage emulator's JSON API URL of object (its metadata), or of the bucket's objects when object is NULL. */
static void storage_url(const char *object, char *out, size_t len)
{
	char enc[3200] = "";

	if (object)
		pct(object, enc, sizeof(enc));
	snprintf(out, len, "http://127.0.0.1:%s/storage/v1/b/%s/o%s%s", test_env("FLUXORI_STORAGE_PORT"),
		 test_env("FLUXORI_BUCKET"), object ? "/" : "", enc);
}

/*
 * Writes object straight into the Storage emulator with its own content
 * type (a multipart upload keeps it), as anyone holding a signed upload
 * URL could: the emulator checks no signature and ignores preconditions.
 */
static void storage_write(const char *object, const char *ctype, const void *data, size_t n)
{
	char url[600], head[1600];
	const char *tail = "\r\n--fxb--\r\n";
	const char *h[] = {"Content-Type: multipart/related; boundary=fxb", NULL};
	char *body;
	size_t hlen;
	struct http_resp *r;

	snprintf(url, sizeof(url), "http://127.0.0.1:%s/upload/storage/v1/b/%s/o?uploadType=multipart",
		 test_env("FLUXORI_STORAGE_PORT"), test_env("FLUXORI_BUCKET"));
	hlen = (size_t)snprintf(head, sizeof(head),
				"--fxb\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n"
				"{\"name\":\"%s\",\"contentType\":\"%s\"}\r\n--fxb\r\nContent-Type: %s\r\n\r\n",
				object, ctype, ctype);
	cr_assert_lt(hlen, sizeof(head));
	body = malloc(hlen + n + strlen(tail));
	memcpy(body, head, hlen);
	memcpy(body + hlen, data, n);
	memcpy(body + hlen + n, tail, strlen(tail));
	r = http_url("POST", url, h, body, hlen + n + strlen(tail));
	cr_assert_eq(r->status, 200, "storage emulator write of %s: %ld %s", object, r->status, r->body);
	http_resp_free(r);
	free(body);
}

/* 200 when object exists in the Storage emulator, 404 when not. */
static long storage_status(const char *object)
{
	char url[3400];
	struct http_resp *r;
	long status;

	storage_url(object, url, sizeof(url));
	r = http_url("GET", url, NULL, NULL, 0);
	status = r->status;
	http_resp_free(r);
	return status;
}

/* The names of the emulator's objects under prefix, each followed by '\n', into out. */
static void storage_names(const char *prefix, char *out, size_t len)
{
	char url[3400], enc[1200];
	struct http_resp *r;
	json_object *items = NULL;
	size_t o = 0;

	storage_url(NULL, url, sizeof(url));
	pct(prefix, enc, sizeof(enc));
	snprintf(url + strlen(url), sizeof(url) - strlen(url), "?prefix=%s", enc);
	r = http_url("GET", url, NULL, NULL, 0);
	cr_assert_eq(r->status, 200, "%s", r->body);
	out[0] = '\0';
	if (r->json && json_object_object_get_ex(r->json, "items", &items)) {
		for (size_t i = 0; i < json_object_array_length(items); i++) {
			json_object *name = json_object_object_get(json_object_array_get_idx(items, i), "name");
			int w = snprintf(out + o, len - o, "%s\n", json_object_get_string(name));

			cr_assert(w > 0 && (size_t)w < len - o, "object list outgrew the test buffer");
			o += (size_t)w;
		}
	}
	http_resp_free(r);
}

/* The Content-Disposition of a ready file's content, copied into out. */
static void disposition_of(const struct tenant *t, const char *id, char *out, size_t len)
{
	char path[200];
	struct http_resp *r;
	const char *d;

	snprintf(path, sizeof(path), "/v1/files/%s/content", id);
	r = http_get(path, t->owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	d = http_header(r, "Content-Disposition");
	cr_assert_not_null(d, "the download names the file");
	snprintf(out, len, "%s", d);
	http_resp_free(r);
}

/* Writes fields (Firestore typed JSON) straight into the emulator: what older code could have stored. */
static void fs_patch(const char *rel, const char *mask, const char *fields)
{
	char url[600], body[4096];
	const char *h[] = {"Authorization: Bearer owner", "Content-Type: application/json", NULL};
	struct http_resp *r;

	snprintf(url, sizeof(url), "http://127.0.0.1:%s/v1/projects/demo-fluxori/databases/(default)/documents/%s%s%s",
		 test_env("FLUXORI_FIRESTORE_PORT"), rel, mask ? "?updateMask.fieldPaths=" : "", mask ? mask : "");
	snprintf(body, sizeof(body), "{\"fields\":%s}", fields);
	r = http_url("PATCH", url, h, body, strlen(body));
	cr_assert_eq(r->status, 200, "%s", r->body);
	http_resp_free(r);
}

/* PUTs data to a signed upload URL with exactly the headers :signUpload answered. */
static long put_signed(const struct http_resp *signed_answer, const void *data, size_t n)
{
	char lines[8][300];
	const char *h[9] = {NULL};
	json_object *headers = NULL;
	size_t i = 0;
	struct http_resp *put;
	long status;

	cr_assert(json_object_object_get_ex(signed_answer->json, "headers", &headers), "%s", signed_answer->body);
	json_object_object_foreach(headers, name, value)
	{
		cr_assert_lt(i, 8);
		snprintf(lines[i], sizeof(lines[i]), "%s: %s", name, json_object_get_string(value));
		h[i] = lines[i];
		i++;
	}
	put = http_url("PUT", json_str(signed_answer, "uploadUrl"), h, data, n);
	status = put->status;
	http_resp_free(put);
	return status;
}

Test(files, binary_upload_round_trips_with_its_hash)
{
	struct tenant t;
	struct http_resp *r;
	char *data = png_bytes(70000), id[64], path[200];

	make_tenant(&t);
	r = upload(&t, "?kind=document", "image/png", "logo.png", data, 70000);
	cr_assert_eq(r->status, 201, "%s", r->body);
	cr_assert_str_eq(json_str(r, "status"), "ready");
	cr_assert_eq(json_int(r, "size"), 70000);
	cr_assert_eq(strlen(json_str(r, "sha256")), 64);
	cr_assert_str_eq(json_str(r, "contentType"), "image/png");
	cr_assert_null(json_str(r, "object"), "the storage path stays internal");
	snprintf(id, sizeof(id), "%s", json_str(r, "id"));
	http_resp_free(r);
	assert_content(&t, id, data, 70000, "image/png");
	snprintf(path, sizeof(path), "/v1/files/%s", id);
	r = http_get(path, t.owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_not_null(json_str(r, "downloadUrl"));
	cr_assert_not_null(strstr(json_str(r, "downloadUrl"), "X-Goog-Signature="), "a V4 signed URL");
	{
		struct http_resp *d = http_url("GET", json_str(r, "downloadUrl"), NULL, NULL, 0);

		cr_assert_eq(d->status, 200);
		cr_assert_eq(d->len, 70000);
		cr_assert(memcmp(d->body, data, 70000) == 0, "the signed URL serves the same bytes");
		http_resp_free(d);
	}
	http_resp_free(r);
	free(data);
}

Test(files, empty_and_ten_mebibyte_files_and_one_byte_more)
{
	struct tenant t;
	struct http_resp *r;
	size_t big = 10u * 1024 * 1024;
	char *data = malloc(big + 1), id[64];

	make_tenant(&t);
	r = upload(&t, "?kind=upload", "text/csv", "empty.csv", "", 0);
	cr_assert_eq(r->status, 201, "%s", r->body);
	snprintf(id, sizeof(id), "%s", json_str(r, "id"));
	http_resp_free(r);
	assert_content(&t, id, "", 0, "text/csv");

	memset(data, 'x', big + 1);
	memcpy(data, "%PDF-1.7\n", 9);
	r = upload(&t, "?kind=document", "application/pdf", "big.pdf", data, big);
	cr_assert_eq(r->status, 201, "10 MiB exactly is accepted: %s", r->body);
	snprintf(id, sizeof(id), "%s", json_str(r, "id"));
	http_resp_free(r);
	assert_content(&t, id, data, big, "application/pdf");
	r = upload(&t, "?kind=document", "application/pdf", "bigger.pdf", data, big + 1);
	assert_error(r, 413, "INVALID_ARGUMENT");
	http_resp_free(r);
	free(data);
}

Test(files, types_are_checked_against_the_bytes)
{
	struct tenant t;
	struct http_resp *r;

	make_tenant(&t);
	r = upload(&t, "?kind=document", "image/png", "fake.png", "\xff\xd8\xff\xe0 jpeg", 9);
	assert_error(r, 400, "INVALID_ARGUMENT");
	http_resp_free(r);
	r = upload(&t, "?kind=document", "text/html", "page.html", "<html>", 6);
	assert_error(r, 415, "INVALID_ARGUMENT");
	http_resp_free(r);
	r = upload(&t, "?kind=document", "text/csv", "bad.csv", "a,\xff\xfe", 4);
	assert_error(r, 400, "INVALID_ARGUMENT");
	http_resp_free(r);
	r = upload(&t, "?kind=report", "text/csv", "r.csv", "a", 1);
	cr_assert_str_eq(json_str(r, "error.details.0.field"), "kind", "reports are written by the API only");
	http_resp_free(r);
	r = upload(&t, "?kind=document&productId=nope", "text/csv", "r.csv", "a", 1);
	cr_assert_str_eq(json_str(r, "error.details.0.field"), "productId");
	http_resp_free(r);
	r = http_get("/v1/files", t.owner.id_token);
	cr_assert_eq(json_object_array_length(json_object_object_get(r->json, "data")), 0, "nothing was stored");
	http_resp_free(r);
}

Test(files, hostile_names_are_made_safe_or_refused)
{
	struct tenant t;
	struct http_resp *r;
	char longname[2100];

	make_tenant(&t);
	r = upload(&t, "?kind=upload", "text/csv", "a%00b.csv", "a", 1);
	cr_assert_eq(r->status, 400, "NUL is refused: %s", r->body);
	cr_assert_str_eq(json_str(r, "error.details.0.field"), "X-File-Name");
	http_resp_free(r);
	r = upload(&t, "?kind=upload", "text/csv", "a%0Ab.csv", "a", 1);
	cr_assert_eq(r->status, 400, "control characters are refused: %s", r->body);
	http_resp_free(r);
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	r = upload(&t, "?kind=upload", "text/csv", longname, "a", 1);
	cr_assert_eq(r->status, 400, "a 2 KB name is refused: %s", r->body);
	http_resp_free(r);
	r = upload(&t, "?kind=upload", "text/csv", NULL, "a", 1);
	cr_assert_str_eq(json_str(r, "error.details.0.field"), "X-File-Name");
	http_resp_free(r);
}

Test(files, signed_upload_then_complete_makes_a_ready_file)
{
	struct tenant t;
	struct http_resp *r, *sign;
	char id[64], path[200], body[400];
	char *data = png_bytes(5000);
	long put;

	make_tenant(&t);
	snprintf(body, sizeof(body),
		 "{\"name\":\"shelf.png\",\"contentType\":\"image/png\",\"size\":5000,\"kind\":\"product_image\"}");
	sign = http_json("POST", "/v1/files:signUpload", t.owner.id_token, body);
	cr_assert_eq(sign->status, 201, "%s", sign->body);
	cr_assert_str_eq(json_str(sign, "method"), "PUT");
	cr_assert_str_eq(json_str(sign, "file.status"), "pending");
	cr_assert_str_eq(json_str(sign, "headers.Content-Type"), "image/png");
	snprintf(id, sizeof(id), "%s", json_str(sign, "file.id"));
	snprintf(path, sizeof(path), "/v1/files/%s:complete", id);
	r = http_json("POST", path, t.owner.id_token, NULL);
	assert_error(r, 409, "FAILED_PRECONDITION");
	http_resp_free(r);

	put = put_signed(sign, data, 5000);
	cr_assert(put == 200 || put == 201, "PUT to the signed URL: %ld", put);
	http_resp_free(sign);
	r = http_json("POST", path, t.owner.id_token, NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "status"), "ready");
	cr_assert_eq(strlen(json_str(r, "sha256")), 64);
	http_resp_free(r);
	assert_content(&t, id, data, 5000, "image/png");

	r = http_json("POST", "/v1/files:signUpload", t.owner.id_token,
		      "{\"name\":\"x.png\",\"contentType\":\"image/png\",\"size\":104857601,\"kind\":\"upload\"}");
	cr_assert_str_eq(json_str(r, "error.details.0.field"), "size", "%s", r->body);
	http_resp_free(r);
	free(data);
}

Test(files, a_signed_upload_of_the_wrong_size_stays_pending)
{
	struct tenant t;
	struct http_resp *r;
	char id[64], path[200];

	make_tenant(&t);
	r = http_json("POST", "/v1/files:signUpload", t.owner.id_token,
		      "{\"name\":\"a.csv\",\"contentType\":\"text/csv\",\"size\":10,\"kind\":\"upload\"}");
	cr_assert_eq(r->status, 201, "%s", r->body);
	snprintf(id, sizeof(id), "%s", json_str(r, "file.id"));
	/* Google would refuse this PUT (the size range is signed); the emulator stores it. */
	put_signed(r, "abc", 3);
	http_resp_free(r);
	snprintf(path, sizeof(path), "/v1/files/%s:complete", id);
	r = http_json("POST", path, t.owner.id_token, NULL);
	assert_error(r, 409, "FAILED_PRECONDITION");
	http_resp_free(r);
	snprintf(path, sizeof(path), "/v1/files/%s", id);
	r = http_get(path, t.owner.id_token);
	cr_assert_str_eq(json_str(r, "status"), "pending");
	cr_assert_null(json_str(r, "downloadUrl"), "no download for a pending file");
	http_resp_free(r);
}

Test(files, product_images_attach_in_order_and_deleting_the_file_detaches_it)
{
	struct tenant t;
	struct http_resp *r;
	char pid[64], f1[64], f2[64], doc[64], path[200], body[200];
	char *data = png_bytes(100);

	make_tenant(&t);
	r = http_json("POST", "/v1/products", t.owner.id_token,
		      "{\"sku\":\"IMG-1\",\"name\":\"Pic\",\"priceCents\":1}");
	snprintf(pid, sizeof(pid), "%s", json_str(r, "id"));
	http_resp_free(r);
	r = upload(&t, "?kind=product_image", "image/png", "a.png", data, 100);
	snprintf(f1, sizeof(f1), "%s", json_str(r, "id"));
	http_resp_free(r);
	r = upload(&t, "?kind=product_image", "image/png", "b.png", data, 100);
	snprintf(f2, sizeof(f2), "%s", json_str(r, "id"));
	http_resp_free(r);
	r = upload(&t, "?kind=document", "image/png", "c.png", data, 100);
	snprintf(doc, sizeof(doc), "%s", json_str(r, "id"));
	http_resp_free(r);

	snprintf(path, sizeof(path), "/v1/products/%s/images", pid);
	snprintf(body, sizeof(body), "{\"fileId\":\"%s\",\"position\":5}", f1);
	r = http_json("POST", path, t.owner.id_token, body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	http_resp_free(r);
	snprintf(body, sizeof(body), "{\"fileId\":\"%s\",\"position\":1}", f2);
	r = http_json("POST", path, t.owner.id_token, body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	cr_assert_str_eq(json_str(r, "images.0.fileId"), f2, "ordered by position");
	cr_assert_str_eq(json_str(r, "images.1.fileId"), f1);
	http_resp_free(r);
	r = http_json("POST", path, t.owner.id_token, body);
	assert_error(r, 409, "ALREADY_EXISTS");
	http_resp_free(r);
	snprintf(body, sizeof(body), "{\"fileId\":\"%s\"}", doc);
	r = http_json("POST", path, t.owner.id_token, body);
	cr_assert_eq(r->status, 400, "a document is not a product image: %s", r->body);
	cr_assert_str_eq(json_str(r, "error.details.0.field"), "fileId");
	http_resp_free(r);

	snprintf(path, sizeof(path), "/v1/files/%s", f2);
	r = http_json("DELETE", path, t.owner.id_token, NULL);
	cr_assert_eq(r->status, 204, "%s", r->body);
	http_resp_free(r);
	r = http_get(path, t.owner.id_token);
	assert_error(r, 404, "NOT_FOUND");
	http_resp_free(r);
	snprintf(path, sizeof(path), "/v1/products/%s", pid);
	r = http_get(path, t.owner.id_token);
	cr_assert_eq(json_object_array_length(json_object_object_get(r->json, "images")), 1, "%s", r->body);
	cr_assert_str_eq(json_str(r, "images.0.fileId"), f1);
	http_resp_free(r);
	snprintf(path, sizeof(path), "/v1/products/%s/images/%s", pid, f1);
	r = http_json("DELETE", path, t.owner.id_token, NULL);
	cr_assert_eq(r->status, 204, "%s", r->body);
	http_resp_free(r);
	free(data);
}

Test(isolation, another_organization_cannot_reach_files)
{
	struct tenant a, b;
	struct http_resp *r;
	char path[200], content[220];

	make_tenant(&a);
	make_tenant(&b);
	r = upload(&a, "?kind=document", "text/csv", "secret.csv", "salary,1", 8);
	snprintf(path, sizeof(path), "/v1/files/%s", json_str(r, "id"));
	snprintf(content, sizeof(content), "%s/content", path);
	http_resp_free(r);
	r = http_get(path, b.owner.id_token);
	assert_error(r, 404, "NOT_FOUND");
	http_resp_free(r);
	r = http_get(content, b.owner.id_token);
	assert_error(r, 404, "NOT_FOUND");
	http_resp_free(r);
	r = http_json("DELETE", path, b.owner.id_token, NULL);
	assert_error(r, 404, "NOT_FOUND");
	http_resp_free(r);
	r = http_get("/v1/files", b.owner.id_token);
	cr_assert_eq(json_object_array_length(json_object_object_get(r->json, "data")), 0);
	http_resp_free(r);
	r = http_get(content, a.owner.id_token);
	cr_assert_eq(r->status, 200, "A still has it");
	http_resp_free(r);
}

Test(files, product_images_are_images_and_a_deleted_product_lets_its_images_go)
{
	struct tenant t;
	struct http_resp *r;
	char p1[64], p2[64], f[64], path[200], body[200];
	char *data = png_bytes(100);

	make_tenant(&t);
	r = upload(&t, "?kind=product_image", "text/csv", "list.csv", "a,b", 3);
	cr_assert_eq(r->status, 400, "a CSV is no product image: %s", r->body);
	cr_assert_str_eq(json_str(r, "error.details.0.field"), "Content-Type");
	http_resp_free(r);
	r = http_json("POST", "/v1/products", t.owner.id_token,
		      "{\"sku\":\"GONE-1\",\"name\":\"Gone\",\"priceCents\":1}");
	snprintf(p1, sizeof(p1), "%s", json_str(r, "id"));
	http_resp_free(r);
	r = http_json("POST", "/v1/products", t.owner.id_token,
		      "{\"sku\":\"NEXT-1\",\"name\":\"Next\",\"priceCents\":1}");
	snprintf(p2, sizeof(p2), "%s", json_str(r, "id"));
	http_resp_free(r);
	r = upload(&t, "?kind=product_image", "image/png", "p.png", data, 100);
	snprintf(f, sizeof(f), "%s", json_str(r, "id"));
	http_resp_free(r);
	snprintf(body, sizeof(body), "{\"fileId\":\"%s\"}", f);
	snprintf(path, sizeof(path), "/v1/products/%s/images", p1);
	r = http_json("POST", path, t.owner.id_token, body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	http_resp_free(r);
	snprintf(path, sizeof(path), "/v1/products/%s/images", p2);
	r = http_json("POST", path, t.owner.id_token, body);
	assert_error(r, 409, "FAILED_PRECONDITION");
	http_resp_free(r);
	snprintf(path, sizeof(path), "/v1/products/%s", p1);
	r = http_json("DELETE", path, t.owner.id_token, NULL);
	cr_assert_eq(r->status, 204, "%s", r->body);
	http_resp_free(r);
	snprintf(path, sizeof(path), "/v1/products/%s/images", p2);
	r = http_json("POST", path, t.owner.id_token, body);
	cr_assert_eq(r->status, 201, "the image is free again: %s", r->body);
	http_resp_free(r);
	free(data);
}

/* ---- issue 12: what reaches response headers (defect 3), signed uploads (8), the CSV sniff (11), names (1b) ---- */

/* A :signUpload body, built by json-c so that any name or type is sent exactly. */
static struct http_resp *sign_upload(const struct tenant *t, const char *name, const char *ctype, long long size,
				     const char *sha256)
{
	json_object *o = json_object_new_object();
	struct http_resp *r;

	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "contentType", json_object_new_string(ctype));
	json_object_object_add(o, "size", json_object_new_int64(size));
	json_object_object_add(o, "kind", json_object_new_string("upload"));
	if (sha256)
		json_object_object_add(o, "sha256", json_object_new_string(sha256));
	r = http_json("POST", "/v1/files:signUpload", t->owner.id_token, json_object_to_json_string(o));
	json_object_put(o);
	return r;
}

static void assert_invalid_field(struct http_resp *r, const char *field)
{
	assert_error(r, 400, "INVALID_ARGUMENT");
	cr_assert_str_eq(json_str(r, "error.details.0.field"), field, "%s", r->body);
}

static size_t file_count(const struct tenant *t)
{
	struct http_resp *r = http_get("/v1/files", t->owner.id_token);
	size_t n;

	cr_assert_eq(r->status, 200, "%s", r->body);
	n = json_object_array_length(json_object_object_get(r->json, "data"));
	http_resp_free(r);
	return n;
}

static long long complete_file(const struct tenant *t, const char *id, struct http_resp **out)
{
	char path[200];

	snprintf(path, sizeof(path), "/v1/files/%s:complete", id);
	*out = http_json("POST", path, t->owner.id_token, NULL);
	return (*out)->status;
}

static void assert_pending(const struct tenant *t, const char *id)
{
	char path[200];
	struct http_resp *r;

	snprintf(path, sizeof(path), "/v1/files/%s", id);
	r = http_get(path, t->owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "status"), "pending", "%s", r->body);
	http_resp_free(r);
}

static void sha256_hex(const void *p, size_t n, char out[65])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256(p, n, md);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

Test(files, content_types_outside_the_media_type_grammar_are_refused_naming_the_field)
{
	struct tenant t;
	struct http_resp *r;
	char long_ct[509], emoji_ct[600];
	size_t o;

	make_tenant(&t);
	/* 508 bytes: an allowed type with a long parameter (what used to reach the header writer). */
	o = (size_t)snprintf(long_ct, sizeof(long_ct), "text/csv; p=");
	memset(long_ct + o, 'x', sizeof(long_ct) - 1 - o);
	long_ct[sizeof(long_ct) - 1] = '\0';
	cr_assert_eq(strlen(long_ct), 508);
	r = upload(&t, "?kind=upload", long_ct, "a.csv", "a,b", 3);
	assert_invalid_field(r, "Content-Type");
	http_resp_free(r);
	r = upload(&t, "?kind=upload", "text/csv; charset=\xc3\xa9", "a.csv", "a,b", 3);
	assert_invalid_field(r, "Content-Type");
	http_resp_free(r);

	/* 127 characters, 481 bytes: within the field's character limit. */
	o = (size_t)snprintf(emoji_ct, sizeof(emoji_ct), "text/csv;");
	for (int i = 0; i < 118; i++, o += 4)
		memcpy(emoji_ct + o, "\xf0\x9f\x98\x80", 4);
	emoji_ct[o] = '\0';
	r = sign_upload(&t, "a.csv", emoji_ct, 3, NULL);
	assert_invalid_field(r, "contentType");
	http_resp_free(r);
	r = sign_upload(&t, "a.csv", "text/csv;\r\nX-Injected: 1", 3, NULL);
	assert_invalid_field(r, "contentType");
	http_resp_free(r);
	r = sign_upload(&t, "a.csv", "text/csv; charset=\"\xc3\xa9\"", 3, NULL);
	assert_invalid_field(r, "contentType");
	http_resp_free(r);
	r = sign_upload(&t, "a.csv", "text/csv\n", 3, NULL);
	assert_invalid_field(r, "contentType");
	http_resp_free(r);
	cr_assert_eq(file_count(&t), 0, "nothing was stored");
}

Test(files, an_allowed_type_is_stored_and_signed_in_its_plain_lower_case_form)
{
	struct tenant t;
	struct http_resp *r;

	make_tenant(&t);
	r = upload(&t, "?kind=upload", "Text/CSV; charset=UTF-8", "a.csv", "a,b", 3);
	cr_assert_eq(r->status, 201, "%s", r->body);
	cr_assert_str_eq(json_str(r, "contentType"), "text/csv");
	http_resp_free(r);
	r = sign_upload(&t, "a.csv", "Text/CSV ; charset=\"utf-8\"", 3, NULL);
	cr_assert_eq(r->status, 201, "%s", r->body);
	cr_assert_str_eq(json_str(r, "file.contentType"), "text/csv");
	cr_assert_str_eq(json_str(r, "headers.Content-Type"), "text/csv", "the client sends what was signed");
	http_resp_free(r);
	r = sign_upload(&t, "a.png", "image/png; foo=bar", 3, NULL);
	assert_invalid_field(r, "contentType");
	http_resp_free(r);
	r = sign_upload(&t, "a.csv", "text/csv; charset=latin1", 3, NULL);
	assert_invalid_field(r, "contentType");
	http_resp_free(r);
}

Test(files, file_names_with_line_breaks_or_raw_non_ascii_are_refused)
{
	struct tenant t;
	struct http_resp *r;

	make_tenant(&t);
	r = upload(&t, "?kind=upload", "text/csv", "a%0D%0Ab.csv", "a", 1);
	assert_invalid_field(r, "X-File-Name");
	http_resp_free(r);
	r = upload(&t, "?kind=upload", "text/csv", "caf\xc3\xa9.csv", "a", 1);
	assert_invalid_field(r, "X-File-Name");
	http_resp_free(r);
	r = sign_upload(&t, "a\r\nb.csv", "text/csv", 3, NULL);
	assert_invalid_field(r, "name");
	http_resp_free(r);
	cr_assert_eq(file_count(&t), 0, "nothing was stored");
}

Test(files, a_non_ascii_name_gets_an_ascii_fallback_and_its_exact_form_in_content_disposition)
{
	struct tenant t;
	struct http_resp *r;
	char id[64], d[1024];

	make_tenant(&t);
	r = upload(&t, "?kind=upload", "text/csv", "Pr%C3%AFs%20%22lys%22%3B%202026.csv", "a,b", 3);
	cr_assert_eq(r->status, 201, "%s", r->body);
	cr_assert_str_eq(json_str(r, "name"), "Pr\xc3\xafs \"lys\"; 2026.csv");
	snprintf(id, sizeof(id), "%s", json_str(r, "id"));
	http_resp_free(r);
	disposition_of(&t, id, d, sizeof(d));
	cr_assert_str_eq(
		d,
		"attachment; filename=\"Pr_s _lys__ 2026.csv\"; filename*=UTF-8''Pr%C3%AFs%20%22lys%22%3B%202026.csv");
}

Test(files, a_stored_bad_content_type_or_name_never_reaches_the_headers)
{
	struct tenant t;
	struct http_resp *r;
	char id[64], rel[200], path[200], bad_ct[509], fields[2048];
	json_object *f, *v;
	const char *d;
	size_t o;

	make_tenant(&t);
	r = upload(&t, "?kind=upload", "text/csv", "a.csv", "a,b", 3);
	cr_assert_eq(r->status, 201, "%s", r->body);
	snprintf(id, sizeof(id), "%s", json_str(r, "id"));
	http_resp_free(r);
	/* What :signUpload stored before the fix: a 508-byte type, and a name with a path and a line break. */
	o = (size_t)snprintf(bad_ct, sizeof(bad_ct), "text/csv; p=");
	memset(bad_ct + o, 'x', sizeof(bad_ct) - 1 - o);
	bad_ct[sizeof(bad_ct) - 1] = '\0';
	f = json_object_new_object();
	v = json_object_new_object();
	json_object_object_add(v, "stringValue", json_object_new_string(bad_ct));
	json_object_object_add(f, "contentType", v);
	v = json_object_new_object();
	json_object_object_add(v, "stringValue",
			       json_object_new_string("../../etc/passwd\\x\"\r\nSet-Cookie: a=b;.csv"));
	json_object_object_add(f, "name", v);
	snprintf(fields, sizeof(fields), "%s", json_object_to_json_string(f));
	json_object_put(f);
	snprintf(rel, sizeof(rel), "organizations/%s/files/%s", t.org, id);
	fs_patch(rel, "contentType&updateMask.fieldPaths=name", fields);

	snprintf(path, sizeof(path), "/v1/files/%s/content", id);
	r = http_get(path, t.owner.id_token);
	cr_assert_eq(r->status, 200, "%ld %s", r->status, r->body);
	cr_assert_eq(r->len, 3);
	cr_assert(memcmp(r->body, "a,b", 3) == 0);
	cr_assert_str_eq(http_header(r, "Content-Type"), "application/octet-stream",
			 "an unknown type is served opaque");
	cr_assert_eq(strtol(http_header(r, "Content-Length"), NULL, 10), 3);
	cr_assert_null(http_header(r, "Set-Cookie"), "nothing of the name becomes a header");
	d = http_header(r, "Content-Disposition");
	cr_assert_not_null(d, "still named");
	cr_assert_str_eq(d, "attachment; filename=\"x___Set-Cookie_ a_b_.csv\"; "
			    "filename*=UTF-8''x%22__Set-Cookie%3A%20a%3Db%3B.csv");
	http_resp_free(r);
}

Test(files, x_file_name_keeps_only_the_base_name_in_name_object_and_disposition)
{
	static const struct {
		const char *sent; /* the X-File-Name header as sent */
		const char *name; /* what the file is called */
	} forms[] = {
		{"../../etc/passwd", "passwd"},	   {"..%2F..%2Fetc%2Fpasswd", "passwd"},
		{"..\\..\\etc\\passwd", "passwd"}, {"..%5C..%5Cetc%5Cpasswd", "passwd"},
		{"/etc/passwd", "passwd"},	   {"C:\\x\\y.png", "y.png"},
		{"a/../b.csv", "b.csv"},
	};
	static const char *const empty[] = {"..", ".", "a/..", "dir/", "..%2F", "%2E%2E", "C:\\x\\", "..\\.."};
	struct tenant t;
	struct http_resp *r;
	char id[64], prefix[300], names[1024], want[400], d[1024];

	make_tenant(&t);
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		r = upload(&t, "?kind=upload", "text/csv", forms[i].sent, "a,b", 3);
		cr_assert_eq(r->status, 201, "%s: %s", forms[i].sent, r->body);
		cr_assert_str_eq(json_str(r, "name"), forms[i].name, "%s", forms[i].sent);
		snprintf(id, sizeof(id), "%s", json_str(r, "id"));
		http_resp_free(r);
		snprintf(prefix, sizeof(prefix), "orgs/%s/upload/%s/", t.org, id);
		storage_names(prefix, names, sizeof(names));
		snprintf(want, sizeof(want), "%s%s\n", prefix, forms[i].name);
		cr_assert_str_eq(names, want, "%s: the object sits under its file", forms[i].sent);
		disposition_of(&t, id, d, sizeof(d));
		snprintf(want, sizeof(want), "attachment; filename=\"%s\"; filename*=UTF-8''%s", forms[i].name,
			 forms[i].name);
		cr_assert_str_eq(d, want, "%s", forms[i].sent);
	}
	for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
		r = upload(&t, "?kind=upload", "text/csv", empty[i], "a,b", 3);
		assert_invalid_field(r, "X-File-Name");
		http_resp_free(r);
	}
	cr_assert_eq(file_count(&t), sizeof(forms) / sizeof(forms[0]), "the refused names stored nothing");
}

Test(files, sign_upload_names_keep_only_the_base_name_in_name_object_and_disposition)
{
	static const struct {
		const char *sent; /* the name field as sent (decoded JSON) */
		const char *name;
	} forms[] = {
		{"../../etc/passwd", "passwd"},
		{"..\\..\\etc\\passwd", "passwd"},
		{"/etc/passwd", "passwd"},
		{"C:\\x\\y.png", "y.png"},
	};
	struct tenant t;
	struct http_resp *r, *c;
	char id[64], prefix[300], names[1024], want[400], d[1024];

	make_tenant(&t);
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		r = sign_upload(&t, forms[i].sent, "text/csv", 3, NULL);
		cr_assert_eq(r->status, 201, "%s: %s", forms[i].sent, r->body);
		cr_assert_str_eq(json_str(r, "file.name"), forms[i].name, "%s", forms[i].sent);
		snprintf(id, sizeof(id), "%s", json_str(r, "file.id"));
		cr_assert_eq(put_signed(r, "a,b", 3), 200);
		http_resp_free(r);
		snprintf(prefix, sizeof(prefix), "orgs/%s/upload/%s/", t.org, id);
		storage_names(prefix, names, sizeof(names));
		snprintf(want, sizeof(want), "%s%s\n", prefix, forms[i].name);
		cr_assert_str_eq(names, want, "%s: the object sits under its file", forms[i].sent);
		cr_assert_eq(complete_file(&t, id, &c), 200, "%s", c->body);
		http_resp_free(c);
		disposition_of(&t, id, d, sizeof(d));
		snprintf(want, sizeof(want), "attachment; filename=\"%s\"; filename*=UTF-8''%s", forms[i].name,
			 forms[i].name);
		cr_assert_str_eq(d, want, "%s", forms[i].sent);
	}
	r = sign_upload(&t, "dir/..", "text/csv", 3, NULL);
	assert_invalid_field(r, "name");
	http_resp_free(r);
}

Test(files, signed_upload_urls_are_bound_to_the_declared_size_and_create_only)
{
	struct tenant t;
	struct http_resp *r;
	const char *url;

	make_tenant(&t);
	r = sign_upload(&t, "a.csv", "text/csv", 5000, NULL);
	cr_assert_eq(r->status, 201, "%s", r->body);
	cr_assert_str_eq(json_str(r, "headers.Content-Type"), "text/csv");
	cr_assert_str_eq(json_str(r, "headers.x-goog-content-length-range"), "5000,5000", "%s", r->body);
	cr_assert_str_eq(json_str(r, "headers.x-goog-if-generation-match"), "0", "%s", r->body);
	url = json_str(r, "uploadUrl");
	cr_assert_not_null(strstr(url, "X-Goog-SignedHeaders=content-type%3Bhost%3Bx-goog-content-length-range%3Bx-"
				       "goog-if-generation-match&"),
			   "%s", url);
	http_resp_free(r);
}

Test(files, complete_refuses_an_object_whose_bytes_size_or_type_differ_and_removes_it)
{
	static const char good[] = "sku,qty\nA-1,5\n", other[] = "sku,qty\nA-1,9\n";
	const size_t n = sizeof(good) - 1;
	struct tenant t;
	struct http_resp *r;
	char id[64], object[300], hash[65];

	make_tenant(&t);
	sha256_hex(good, n, hash);

	/* Bytes: the declared sha256 does not match. */
	r = sign_upload(&t, "a.csv", "text/csv", (long long)n, hash);
	cr_assert_eq(r->status, 201, "%s", r->body);
	cr_assert_null(json_str(r, "file.sha256"), "a pending file shows no hash");
	snprintf(id, sizeof(id), "%s", json_str(r, "file.id"));
	http_resp_free(r);
	snprintf(object, sizeof(object), "orgs/%s/upload/%s/a.csv", t.org, id);
	storage_write(object, "text/csv", other, n);
	cr_assert_eq(complete_file(&t, id, &r), 409, "%s", r->body);
	cr_assert_str_eq(json_str(r, "error.status"), "FAILED_PRECONDITION");
	cr_assert_not_null(strstr(json_str(r, "error.message"), "sha256"), "%s", r->body);
	http_resp_free(r);
	cr_assert_eq(storage_status(object), 404, "the wrong bytes are removed");
	assert_pending(&t, id);
	storage_write(object, "text/csv", good, n);
	cr_assert_eq(complete_file(&t, id, &r), 200, "the right bytes complete: %s", r->body);
	cr_assert_str_eq(json_str(r, "sha256"), hash);
	http_resp_free(r);

	/* Size. */
	r = sign_upload(&t, "a.csv", "text/csv", (long long)n, NULL);
	snprintf(id, sizeof(id), "%s", json_str(r, "file.id"));
	http_resp_free(r);
	snprintf(object, sizeof(object), "orgs/%s/upload/%s/a.csv", t.org, id);
	storage_write(object, "text/csv", "a,b", 3);
	cr_assert_eq(complete_file(&t, id, &r), 409, "%s", r->body);
	cr_assert_not_null(strstr(json_str(r, "error.message"), "bytes"), "%s", r->body);
	http_resp_free(r);
	cr_assert_eq(storage_status(object), 404, "the wrong size is removed");
	assert_pending(&t, id);

	/* Type. */
	r = sign_upload(&t, "a.csv", "text/csv", (long long)n, NULL);
	snprintf(id, sizeof(id), "%s", json_str(r, "file.id"));
	http_resp_free(r);
	snprintf(object, sizeof(object), "orgs/%s/upload/%s/a.csv", t.org, id);
	storage_write(object, "image/png", good, n);
	cr_assert_eq(complete_file(&t, id, &r), 409, "%s", r->body);
	cr_assert_not_null(strstr(json_str(r, "error.message"), "content type"), "%s", r->body);
	http_resp_free(r);
	cr_assert_eq(storage_status(object), 404, "the wrong type is removed");
	assert_pending(&t, id);
	storage_write(object, "text/csv", good, n);
	cr_assert_eq(complete_file(&t, id, &r), 200, "%s", r->body);
	http_resp_free(r);

	r = sign_upload(&t, "a.csv", "text/csv", (long long)n, "not-a-hash");
	assert_invalid_field(r, "sha256");
	http_resp_free(r);
}

Test(files, a_csv_with_a_character_across_byte_16_completes)
{
	static const char *const ok[] = {
		"sku,name\nA1,Caf\xc3\xa9\n", /* é is bytes 15-16 */
		"sku,name\nA1,Ca\xf0\x9f\x98\x80\n", /* an emoji is bytes 14-17 */
		"sku,name\nA1,C\xe2\x82\xac\n", /* € is bytes 13-15, ending exactly at 16 */
	};
	static const char bad[] = "sku,name\nA1,\xff\xfe\xfd\xfc\n"; /* invalid bytes within the first 16 */
	struct tenant t;
	struct http_resp *r;
	char id[64];

	make_tenant(&t);
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		r = sign_upload(&t, "a.csv", "text/csv", (long long)strlen(ok[i]), NULL);
		cr_assert_eq(r->status, 201, "%s", r->body);
		snprintf(id, sizeof(id), "%s", json_str(r, "file.id"));
		cr_assert_eq(put_signed(r, ok[i], strlen(ok[i])), 200);
		http_resp_free(r);
		cr_assert_eq(complete_file(&t, id, &r), 200, "case %zu: %s", i, r->body);
		http_resp_free(r);
	}
	r = sign_upload(&t, "a.csv", "text/csv", (long long)strlen(bad), NULL);
	snprintf(id, sizeof(id), "%s", json_str(r, "file.id"));
	cr_assert_eq(put_signed(r, bad, strlen(bad)), 200);
	http_resp_free(r);
	cr_assert_eq(complete_file(&t, id, &r), 409, "%s", r->body);
	cr_assert_str_eq(json_str(r, "error.status"), "FAILED_PRECONDITION");
	http_resp_free(r);
	assert_pending(&t, id);
}

struct attach_race {
	const struct tenant *t;
	const char *product, *file;
	long status;
};

static void *race_attach(void *arg)
{
	struct attach_race *x = arg;
	char path[200], body[200];
	struct http_resp *r;

	snprintf(path, sizeof(path), "/v1/products/%s/images", x->product);
	snprintf(body, sizeof(body), "{\"fileId\":\"%s\"}", x->file);
	r = http_json("POST", path, x->t->owner.id_token, body);
	x->status = r->status;
	http_resp_free(r);
	return NULL;
}

static void *race_delete(void *arg)
{
	struct attach_race *x = arg;
	char path[200];
	struct http_resp *r;

	snprintf(path, sizeof(path), "/v1/files/%s", x->file);
	r = http_json("DELETE", path, x->t->owner.id_token, NULL);
	x->status = r->status;
	http_resp_free(r);
	return NULL;
}

/* Every image of the product is a file that exists and says it hangs on this product. */
static void assert_images_are_files(const struct tenant *t, const char *pid, int round)
{
	char path[200];
	struct http_resp *p, *f;
	json_object *images;

	snprintf(path, sizeof(path), "/v1/products/%s", pid);
	p = http_get(path, t->owner.id_token);
	cr_assert_eq(p->status, 200, "%s", p->body);
	images = json_object_object_get(p->json, "images");
	for (size_t i = 0; images && i < json_object_array_length(images); i++) {
		const char *id =
			json_object_get_string(json_object_object_get(json_object_array_get_idx(images, i), "fileId"));

		snprintf(path, sizeof(path), "/v1/files/%s", id);
		f = http_get(path, t->owner.id_token);
		cr_assert_eq(f->status, 200, "round %d: the product lists image %s, whose file is gone: %s", round, id,
			     p->body);
		cr_assert_str_eq(json_str(f, "attachedTo"), pid, "round %d: file %s: %s", round, id, f->body);
		http_resp_free(f);
	}
	http_resp_free(p);
}

/*
 * DELETE /v1/files/{id} read the file's attachedTo before its transaction and
 * deleted the document unconditionally inside it: an attach that committed
 * in between left the product listing an image whose file no longer
 * existed. Attach and delete race many times; after each round the
 * product's images are files that exist and hang on it, and a deleted file
 * is on no product.
 */
Test(files, a_file_deleted_while_it_is_attached_leaves_no_dangling_image, .timeout = 240)
{
	struct tenant t;
	struct http_resp *r;
	char pid[64];
	char *data = png_bytes(100);
	int both = 0;

	make_tenant(&t);
	r = http_json("POST", "/v1/products", t.owner.id_token,
		      "{\"sku\":\"RACE-IMG\",\"name\":\"Race\",\"priceCents\":1}");
	cr_assert_eq(r->status, 201, "%s", r->body);
	snprintf(pid, sizeof(pid), "%s", json_str(r, "id"));
	http_resp_free(r);
	for (int round = 0; round < 25; round++) {
		struct attach_race a = {&t, pid, NULL, 0}, d = {&t, pid, NULL, 0};
		pthread_t ta, td;
		char fid[64];

		r = upload(&t, "?kind=product_image", "image/png", "race.png", data, 100);
		cr_assert_eq(r->status, 201, "%s", r->body);
		snprintf(fid, sizeof(fid), "%s", json_str(r, "id"));
		http_resp_free(r);
		a.file = d.file = fid;
		pthread_create(&td, NULL, race_delete, &d);
		pthread_create(&ta, NULL, race_attach, &a);
		pthread_join(ta, NULL);
		pthread_join(td, NULL);
		cr_assert_eq(d.status, 204, "round %d: the delete answers 204, not %ld", round, d.status);
		cr_assert(a.status == 201 || a.status == 400 || a.status == 404,
			  "round %d: the attach answers 201, or finds no file (400/404): %ld", round, a.status);
		both += a.status == 201;
		assert_images_are_files(&t, pid, round);
	}
	fprintf(stderr, "files: attach and delete raced 25 times, the attach was answered 201 in %d\n", both);
	free(data);
}

/*
 * A download serves the generation whose bytes were checked when the file
 * became ready, not whatever the object holds later (here replaced behind
 * the API, which the emulator allows: it ignores the signed URL's
 * create-only precondition).
 */
Test(files, a_download_never_serves_bytes_that_replaced_the_checked_ones)
{
	struct tenant t;
	struct http_resp *r;
	char *data = png_bytes(5000), *other = png_bytes(5000), id[64], object[300], path[200];

	for (size_t i = 8; i < 5000; i++)
		other[i] = (char)(other[i] ^ 0x5a);
	make_tenant(&t);
	r = upload(&t, "?kind=document", "image/png", "gen.png", data, 5000);
	cr_assert_eq(r->status, 201, "%s", r->body);
	cr_assert_null(json_object_object_get(r->json, "generation"), "the generation stays internal: %s", r->body);
	snprintf(id, sizeof(id), "%s", json_str(r, "id"));
	http_resp_free(r);
	assert_content(&t, id, data, 5000, "image/png");

	snprintf(object, sizeof(object), "orgs/%s/document/%s/gen.png", t.org, id);
	storage_write(object, "image/png", other, 5000);
	snprintf(path, sizeof(path), "/v1/files/%s/content", id);
	r = http_get(path, t.owner.id_token);
	cr_assert(r->status != 200 || r->len != 5000 || memcmp(r->body, other, 5000) != 0,
		  "the replacing bytes were served as the checked file");
	http_resp_free(r);
	free(data);
	free(other);
}

/* Files made before generations were recorded still download (their generation is asked of Storage). */
Test(files, a_file_recorded_without_its_generation_still_downloads)
{
	struct tenant t;
	struct http_resp *r;
	char *data = png_bytes(3000), id[64], rel[200];

	make_tenant(&t);
	r = upload(&t, "?kind=document", "image/png", "old.png", data, 3000);
	cr_assert_eq(r->status, 201, "%s", r->body);
	snprintf(id, sizeof(id), "%s", json_str(r, "id"));
	http_resp_free(r);
	snprintf(rel, sizeof(rel), "organizations/%s/files/%s", t.org, id);
	/* A masked field absent from the body is deleted: the record as it was written before. */
	fs_patch(rel, "generation", "{}");
	assert_content(&t, id, data, 3000, "image/png");
	free(data);
}
