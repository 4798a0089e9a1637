#include "idempotency.h"

#include "fswrite.h"
#include "http.h"
#include "json.h"
#include "map.h"
#include "model.h"
#include "str.h"
#include "tenant.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int sha256_hex(const char *s, char *out, size_t len)
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *)s, strlen(s), md);
	return fx_str_hex(out, len, md, sizeof(md));
}

int fx_idempotency_init(struct fx_req *r, const char *scope, const char *subject, struct fx_idem *k, struct fx_err *e)
{
	const char *key = fx_http_req_header(r, "Idempotency-Key");
	char key_hash[65];
	const char *material;
	size_t n;

	memset(k, 0, sizeof(*k));
	if (!key)
		return 0;
	n = strlen(key);
	if (n == 0 || n > 255)
		return fx_err_invalid(e, "Idempotency-Key", "must be 1 to 255 characters");
	material = fx_arena_printf(r->arena, "%s\n%s", scope, key);
	if (!material)
		return fx_err_set(e, FX_INTERNAL, "out of request memory");
	if (sha256_hex(material, key_hash, sizeof(key_hash)) < 0)
		return fx_err_set(e, FX_INTERNAL, "idempotency key hash does not fit");
	k->rel = fx_tenant_path(r, NULL, "idempotency", key_hash, "key", e);
	material = fx_arena_printf(r->arena, "%s\n%s", subject ? subject : "", r->body ? r->body : "");
	if (!k->rel || !material)
		return -1;
	if (sha256_hex(material, k->request_hash, sizeof(k->request_hash)) < 0)
		return fx_err_set(e, FX_INTERNAL, "request hash does not fit");
	return 0;
}

void fx_idempotency_cleanup(struct fx_idem *k)
{
	json_object_put(k->answer);
	k->answer = NULL;
	k->status = 0;
}

int fx_idempotency_check(struct fx_idem *k, const struct fx_doc *doc, struct fx_err *e)
{
	const char *hash, *saved;
	int64_t expires = 0, status = 0;
	struct fx_err ignored;

	fx_idempotency_cleanup(k);
	if (!k->rel || !doc->name || !fx_value_path_int(&doc->fields, "expiresAt", &expires) ||
	    expires <= (int64_t)time(NULL))
		return 0;
	hash = fx_value_path_str(&doc->fields, "requestHash");
	saved = fx_value_path_str(&doc->fields, "response");
	if (!hash || strcmp(hash, k->request_hash) != 0)
		return fx_err_set(e, FX_ALREADY_EXISTS, "this Idempotency-Key was used with another request");
	fx_err_clear(&ignored);
	if (!saved || !fx_value_path_int(&doc->fields, "status", &status) ||
	    fx_json_parse_object(saved, strlen(saved), &k->answer, &ignored) < 0)
		return fx_err_set(e, FX_INTERNAL, "stored idempotent answer unreadable");
	k->status = (int)status;
	return 1;
}

int fx_idempotency_store(const struct fx_req *r, const struct fx_idem *k, json_object *writes, int status,
			 json_object *answer, struct fx_err *e)
{
	struct fx_value doc = {0};
	size_t len;
	char *name;
	int rc;

	if (!k->rel)
		return 0;
	fx_value_map(&doc);
	fx_map_set_str(&doc, "requestHash", k->request_hash);
	fx_map_set_str(&doc, "response", fx_json_text(answer, &len));
	fx_map_set_int(&doc, "status", status);
	fx_map_set_int(&doc, "expiresAt", (int64_t)time(NULL) + FX_IDEMPOTENCY_TTL);
	fx_model_map_set_now(&doc, "createdAt");
	fx_tenant_stamp(r, &doc);
	name = fx_tenant_name(k->rel);
	rc = fx_fswrite_set(writes, name, &doc, NULL, e);
	free(name);
	fx_value_cleanup(&doc);
	return rc;
}
