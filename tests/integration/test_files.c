/*
 * Files through nginx against the Storage emulator: direct upload and
 * download (binary-safe, 0 bytes, 10 MiB, 10 MiB + 1), type checks on the
 * bytes, hostile names, the signed-URL upload flow, product images, and
 * tenant isolation.
 */
#include "client.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tenant {
	struct test_user owner;
};

static void assert_error(struct http_resp *r, long code, const char *status)
{
	cr_assert_eq(r->status, code, "expected %ld, got %ld: %s", code, r->status, r->body);
	cr_assert_str_eq(json_str(r, "error.status"), status, "%s", r->body);
}

static void make_tenant(struct tenant *t)
{
	struct http_resp *r;

	cr_assert_eq(test_user_signup(&t->owner, "files"), 0);
	r = http_json("POST", "/v1/organizations", t->owner.id_token, "{\"name\":\"Files\"}");
	cr_assert_eq(r->status, 201, "%s", r->body);
	http_resp_free(r);
	cr_assert_eq(test_user_refresh(&t->owner), 0);
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
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(r->len, n, "downloaded %zu bytes, uploaded %zu", r->len, n);
	cr_assert(n == 0 || memcmp(r->body, data, n) == 0, "the bytes come back unchanged");
	cr_assert_str_eq(http_header(r, "Content-Type"), ctype);
	cr_assert_not_null(strstr(http_header(r, "Content-Disposition"), "attachment"));
	http_resp_free(r);
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
	r = upload(&t, "?kind=upload", "text/csv", "..%2F..%2Fetc%2Fpasswd", "a,b", 3);
	cr_assert_eq(r->status, 201, "%s", r->body);
	cr_assert_str_eq(json_str(r, "name"), "../../etc/passwd", "the name is kept as given");
	http_resp_free(r);
	r = upload(&t, "?kind=upload", "text/csv", "../../x.csv", "a,b", 3);
	cr_assert_eq(r->status, 201, "%s", r->body);
	{
		char path[200];
		struct http_resp *c;

		snprintf(path, sizeof(path), "/v1/files/%s/content", json_str(r, "id"));
		c = http_get(path, t.owner.id_token);
		cr_assert_not_null(strstr(http_header(c, "Content-Disposition"), "filename=\"x.csv\""), "%s",
				   http_header(c, "Content-Disposition"));
		http_resp_free(c);
	}
	http_resp_free(r);
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
	struct http_resp *r, *put;
	char id[64], path[200], url[4096], body[400];
	char *data = png_bytes(5000);
	const char *h[] = {"Content-Type: image/png", NULL};

	make_tenant(&t);
	snprintf(body, sizeof(body),
		 "{\"name\":\"shelf.png\",\"contentType\":\"image/png\",\"size\":5000,\"kind\":\"product_image\"}");
	r = http_json("POST", "/v1/files:signUpload", t.owner.id_token, body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	cr_assert_str_eq(json_str(r, "method"), "PUT");
	cr_assert_str_eq(json_str(r, "file.status"), "pending");
	cr_assert_str_eq(json_str(r, "headers.Content-Type"), "image/png");
	snprintf(id, sizeof(id), "%s", json_str(r, "file.id"));
	snprintf(url, sizeof(url), "%s", json_str(r, "uploadUrl"));
	http_resp_free(r);
	snprintf(path, sizeof(path), "/v1/files/%s:complete", id);
	r = http_json("POST", path, t.owner.id_token, NULL);
	assert_error(r, 409, "FAILED_PRECONDITION");
	http_resp_free(r);

	put = http_url("PUT", url, h, data, 5000);
	cr_assert(put->status == 200 || put->status == 201, "PUT to the signed URL: %ld %s", put->status, put->body);
	http_resp_free(put);
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
	struct http_resp *r, *put;
	char id[64], path[200], url[4096];
	const char *h[] = {"Content-Type: text/csv", NULL};

	make_tenant(&t);
	r = http_json("POST", "/v1/files:signUpload", t.owner.id_token,
		      "{\"name\":\"a.csv\",\"contentType\":\"text/csv\",\"size\":10,\"kind\":\"upload\"}");
	cr_assert_eq(r->status, 201, "%s", r->body);
	snprintf(id, sizeof(id), "%s", json_str(r, "file.id"));
	snprintf(url, sizeof(url), "%s", json_str(r, "uploadUrl"));
	http_resp_free(r);
	put = http_url("PUT", url, h, "abc", 3);
	http_resp_free(put);
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
	r = http_json("POST", "/v1/products", t.owner.id_token, "{\"sku\":\"IMG-1\",\"name\":\"Pic\",\"priceCents\":1}");
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
	r = http_json("POST", "/v1/products", t.owner.id_token, "{\"sku\":\"GONE-1\",\"name\":\"Gone\",\"priceCents\":1}");
	snprintf(p1, sizeof(p1), "%s", json_str(r, "id"));
	http_resp_free(r);
	r = http_json("POST", "/v1/products", t.owner.id_token, "{\"sku\":\"NEXT-1\",\"name\":\"Next\",\"priceCents\":1}");
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
