#include "fakegcs.h"

#include "testserver.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OBJECTS 512

struct object {
	char *name;
	char type[128];
	char *data;
	size_t len;
	long long generation;
};

struct fakegcs {
	struct testserver *ts;
	char bucket[128];
	struct object obj[MAX_OBJECTS];
	int n;
	long long generation;
};

/* Decodes %XX in s[0..n) into a new string (no NUL survives: it ends the name). */
static char *decode(const char *s, size_t n)
{
	char *out = malloc(n + 1);
	size_t o = 0;

	if (!out)
		abort();
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n) {
			char hex[3] = {s[i + 1], s[i + 2], 0};

			out[o++] = (char)strtol(hex, NULL, 16);
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return out;
}

static struct object *find(struct fakegcs *g, const char *name)
{
	for (int i = 0; i < g->n; i++)
		if (strcmp(g->obj[i].name, name) == 0)
			return &g->obj[i];
	return NULL;
}

static void put(struct fakegcs *g, const char *name, const char *type, const char *data, size_t len)
{
	struct object *o = find(g, name);

	if (!o) {
		if (g->n == MAX_OBJECTS) { /* the oldest goes */
			free(g->obj[0].name);
			free(g->obj[0].data);
			memmove(&g->obj[0], &g->obj[1], sizeof(g->obj[0]) * (MAX_OBJECTS - 1));
			g->n--;
		}
		o = &g->obj[g->n++];
		memset(o, 0, sizeof(*o));
		o->name = strdup(name);
	}
	free(o->data);
	o->data = malloc(len ? len : 1);
	if (!o->name || !o->data)
		abort();
	memcpy(o->data, data, len);
	o->len = len;
	/* Storage keeps a type of printable ASCII; anything else is stored as bytes. */
	snprintf(o->type, sizeof(o->type), "%s",
		 type && *type && strlen(type) < 127 ? type : "application/octet-stream");
	for (char *p = o->type; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			snprintf(o->type, sizeof(o->type), "application/octet-stream");
	o->generation = ++g->generation;
}

static void answer_json(struct ts_response *resp, int status, json_object *j)
{
	resp->status = status;
	snprintf(resp->headers, sizeof(resp->headers), "Content-Type: application/json\r\n");
	resp->body_len = (size_t)snprintf(resp->body, sizeof(resp->body), "%s",
					  json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
	json_object_put(j);
}

static void answer_object(struct fakegcs *g, struct ts_response *resp, const struct object *o)
{
	json_object *j = json_object_new_object();
	char num[32];

	json_object_object_add(j, "kind", json_object_new_string("storage#object"));
	json_object_object_add(j, "name", json_object_new_string(o->name));
	json_object_object_add(j, "bucket", json_object_new_string(g->bucket));
	json_object_object_add(j, "contentType", json_object_new_string(o->type));
	snprintf(num, sizeof(num), "%zu", o->len);
	json_object_object_add(j, "size", json_object_new_string(num));
	snprintf(num, sizeof(num), "%lld", o->generation);
	json_object_object_add(j, "generation", json_object_new_string(num));
	json_object_object_add(j, "updated", json_object_new_string("2026-12-02T10:00:00.000Z"));
	answer_json(resp, 200, j);
}

static void not_found(struct ts_response *resp)
{
	resp->status = 404;
	resp->body_len = (size_t)snprintf(resp->body, sizeof(resp->body),
					  "{\"error\":{\"code\":404,\"message\":\"No such object\"}}");
}

/* multipart/related: a JSON metadata part, then the bytes. */
static void multipart(struct fakegcs *g, const struct ts_request *req, struct ts_response *resp)
{
	char ctype[256], delim[160];
	const char *b, *body = req->body, *end = body + req->body_len, *meta, *meta_end, *data, *data_end;
	json_object *m;

	if (!ts_header(req, "Content-Type", ctype, sizeof(ctype)) || !(b = strstr(ctype, "boundary="))) {
		resp->status = 400;
		return;
	}
	snprintf(delim, sizeof(delim), "\r\n--%s", b + 9);
	meta = memmem(body, req->body_len, "\r\n\r\n", 4);
	meta_end = meta ? memmem(meta, (size_t)(end - meta), delim, strlen(delim)) : NULL;
	data = meta_end ? memmem(meta_end + 2, (size_t)(end - meta_end - 2), "\r\n\r\n", 4) : NULL;
	data_end = data ? memmem(data + 4, (size_t)(end - data - 4), delim, strlen(delim)) : NULL;
	if (!data_end) {
		resp->status = 400;
		return;
	}
	{
		char *text = strndup(meta + 4, (size_t)(meta_end - meta - 4));

		m = text ? json_tokener_parse(text) : NULL;
		free(text);
	}
	if (!m || !json_object_object_get_ex(m, "name", NULL)) {
		json_object_put(m);
		resp->status = 400;
		return;
	}
	{
		json_object *n = NULL, *t = NULL;

		json_object_object_get_ex(m, "name", &n);
		json_object_object_get_ex(m, "contentType", &t);
		put(g, json_object_get_string(n), t ? json_object_get_string(t) : NULL, data + 4,
		    (size_t)(data_end - data - 4));
		answer_object(g, resp, find(g, json_object_get_string(n)));
	}
	json_object_put(m);
}

static void handle(const struct ts_request *req, struct ts_response *resp, void *ctx)
{
	struct fakegcs *g = ctx;
	char json_prefix[200], put_prefix[200], ctype[256];
	size_t plen = strcspn(req->path, "?");
	const char *query = req->path + plen;
	struct object *o;

	snprintf(json_prefix, sizeof(json_prefix), "/storage/v1/b/%s/o", g->bucket);
	snprintf(put_prefix, sizeof(put_prefix), "/%s/", g->bucket);
	if (strcmp(req->method, "POST") == 0 && strncmp(req->path, "/token", 6) == 0) {
		json_object *j = json_object_new_object();

		json_object_object_add(j, "access_token", json_object_new_string("fake-gcs-token"));
		json_object_object_add(j, "expires_in", json_object_new_int(3600));
		json_object_object_add(j, "token_type", json_object_new_string("Bearer"));
		answer_json(resp, 200, j);
		return;
	}
	if (strcmp(req->method, "POST") == 0 && strncmp(req->path, "/upload/storage/v1/b/", 21) == 0) {
		multipart(g, req, resp);
		return;
	}
	if (strncmp(req->path, json_prefix, strlen(json_prefix)) == 0) {
		const char *rest = req->path + strlen(json_prefix);
		char *name;

		if (*rest != '/') { /* a list: nothing to page through */
			json_object *j = json_object_new_object();

			json_object_object_add(j, "kind", json_object_new_string("storage#objects"));
			answer_json(resp, 200, j);
			return;
		}
		name = decode(rest + 1, (size_t)(req->path + plen - rest - 1));
		o = find(g, name);
		free(name);
		if (!o) {
			not_found(resp);
		} else if (strcmp(req->method, "DELETE") == 0) {
			free(o->name);
			free(o->data);
			*o = g->obj[--g->n];
			resp->status = 204;
		} else if (strstr(query, "alt=media")) {
			resp->status = 200;
			snprintf(resp->headers, sizeof(resp->headers), "Content-Type: %s\r\n", o->type);
			resp->body_len = o->len < sizeof(resp->body) ? o->len : sizeof(resp->body);
			memcpy(resp->body, o->data, resp->body_len);
		} else {
			answer_object(g, resp, o);
		}
		return;
	}
	if (strcmp(req->method, "PUT") == 0 && strncmp(req->path, put_prefix, strlen(put_prefix)) == 0) {
		/* A V4 signed URL: the signature is Google's business; the fake stores. */
		char *name = decode(req->path + strlen(put_prefix), plen - strlen(put_prefix));

		put(g, name, ts_header(req, "Content-Type", ctype, sizeof(ctype)), req->body, req->body_len);
		answer_object(g, resp, find(g, name));
		free(name);
		return;
	}
	not_found(resp);
}

struct fakegcs *fakegcs_start(const char *bucket)
{
	struct fakegcs *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	snprintf(g->bucket, sizeof(g->bucket), "%s", bucket);
	g->ts = ts_start();
	ts_handle(g->ts, handle, g);
	return g;
}

const char *fakegcs_url(const struct fakegcs *g)
{
	return ts_url(g->ts);
}

void fakegcs_stop(struct fakegcs *g)
{
	if (!g)
		return;
	ts_stop(g->ts);
	for (int i = 0; i < g->n; i++) {
		free(g->obj[i].name);
		free(g->obj[i].data);
	}
	free(g);
}
