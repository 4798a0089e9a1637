#include "outbox.h"

#include "firestore.h"
#include "fswrite.h"
#include "map.h"
#include "model.h"
#include "plain.h"
#include "str.h"
#include "value.h"

#include <stdlib.h>
#include <string.h>

int fx_outbox_add(json_object *writes, const char *org, const char *kind, const char *resource, json_object *payload,
		  struct fx_err *e)
{
	struct fx_value map = {0};
	char id[FX_ID_LEN + 1], rel[512], *name = NULL;
	int rc = -1;

	if (!org || !fx_model_id_valid(org))
		return fx_err_invalid(e, "organizationId", "must be an organization id");
	if (!kind || !kind[0] || strlen(kind) > 32)
		return fx_err_invalid(e, "kind", "must be 1 to 32 characters");
	if (!resource || !fx_model_id_valid(resource))
		return fx_err_invalid(e, "resource", "must be a document id");
	if (payload && !json_object_is_type(payload, json_type_object))
		return fx_err_invalid(e, "payload", "must be an object");
	fx_model_id_new(id);
	if (fx_str_fmt(rel, sizeof(rel), "organizations/%s/outbox/%s", org, id) < 0)
		return fx_err_set(e, FX_INTERNAL, "outbox path over %zu bytes", sizeof(rel));
	fx_value_map(&map);
	fx_map_set_str(&map, "kind", kind);
	fx_map_set_str(&map, "resource", resource);
	fx_model_map_set_now(&map, "at");
	fx_map_set_str(&map, "organizationId", org);
	if (payload && fx_model_map_set_plain(&map, "payload", payload, "payload", e) < 0)
		goto out;
	name = fx_firestore_name(rel);
	rc = fx_fswrite_create(writes, name, &map, NULL, e);
out:
	free(name);
	fx_value_cleanup(&map);
	return rc;
}
