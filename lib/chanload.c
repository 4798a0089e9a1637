/*
 * fx_chanload: a channel document opened for a protocol call (see
 * chanload.h).
 */
#include "chanload.h"

#include "chandoc.h"
#include "config.h"
#include "insights.h"
#include "map.h"
#include "mem.h"
#include "seal.h"
#include "str.h"
#include "value.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

/* A copy kept by l (secret: wiped on cleanup); NULL for NULL. */
static const char *keep(struct fx_chanload *l, const char *s, bool secret)
{
	char *copy;

	if (!s)
		return NULL;
	copy = fx_mem_xstrdup(s);
	if (secret)
		l->secrets[l->nsecrets++] = copy;
	else
		l->strings[l->nstrings++] = copy;
	return copy;
}

/* Opens doc's sealed.{field} into *plain (wiped and freed by the caller); 1 when absent. */
static int open_sealed(const char *org, const struct fx_doc *doc, const char *field, char **plain, size_t *n,
		       struct fx_err *e)
{
	char path[80], aad[400];
	const char *sealed;

	*plain = NULL;
	*n = 0;
	if (fx_str_fmt(path, sizeof(path), "sealed.%s", field) < 0 ||
	    fx_str_fmt(aad, sizeof(aad), "organizations/%s/channels/%s", org, doc->id) < 0)
		return fx_err_set(e, FX_INTERNAL, "channel path over %zu bytes", sizeof(aad));
	sealed = fx_value_path_str(&doc->fields, path);
	if (!sealed)
		return 1;
	return fx_seal_open(sealed, aad, plain, n, e);
}

/* The credential key of the opened credentials object, kept as a secret; -1 when missing. */
static int credential(struct fx_chanload *l, json_object *creds, const char *key, const char **out, struct fx_err *e)
{
	json_object *v;

	if (!json_object_object_get_ex(creds, key, &v) || !json_object_is_type(v, json_type_string))
		return fx_err_set(e, FX_INTERNAL, "the channel's stored credentials lack %s", key);
	*out = keep(l, json_object_get_string(v), true);
	return 0;
}

int fx_chanload_open(const char *org, const struct fx_doc *doc, struct fx_chanload *out, struct fx_err *e)
{
	const struct fx_config *cfg = fx_config_get();
	const char *type_name = fx_value_path_str(&doc->fields, "type");
	const struct fx_value *settings = fx_value_path(&doc->fields, "settings");
	struct fx_channel *ch = &out->ch;
	json_object *creds = NULL;
	char *plain = NULL, target[FX_CHANDOC_URL_MAX + 64];
	size_t n = 0;
	bool overridden = false;
	int type, rc = -1;

	memset(out, 0, sizeof(*out));
	type = type_name ? fx_channel_type_parse(type_name) : -1;
	if (type < 0 || !doc->id || !settings) {
		fx_err_set(e, FX_INTERNAL, "the channel document has no valid type or settings");
		goto out;
	}
	ch->type = (enum fx_channel_type)type;
	ch->id = keep(out, doc->id, false);
	ch->organization_id = keep(out, org, false);
	ch->allow_private = cfg && cfg->project && fx_chandoc_demo(cfg->project);
	if (fx_chandoc_target(type_name, settings, target, sizeof(target), &overridden, e) < 0)
		goto out;
	ch->base_url = keep(out, target, false);
	ch->location_id = keep(out, fx_value_path_str(settings, "locationId"), false);
	ch->warehouse_id = keep(out, fx_value_path_str(settings, "merchantWarehouseId"), false);
	rc = open_sealed(org, doc, "credentials", &plain, &n, e);
	if (rc != 0) {
		if (rc > 0)
			fx_err_set(e, FX_INTERNAL, "the channel has no stored credentials");
		rc = -1;
		goto out;
	}
	rc = -1;
	creds = json_tokener_parse(plain);
	if (!creds || !json_object_is_type(creds, json_type_object)) {
		fx_err_set(e, FX_INTERNAL, "the channel's stored credentials are not a JSON object");
		goto out;
	}
	switch (ch->type) {
	case FX_CHANNEL_SHOPIFY: rc = credential(out, creds, "accessToken", &ch->access_token, e); break;
	case FX_CHANNEL_WOOCOMMERCE:
		rc = credential(out, creds, "consumerKey", &ch->consumer_key, e);
		if (rc == 0)
			rc = credential(out, creds, "consumerSecret", &ch->consumer_secret, e);
		break;
	case FX_CHANNEL_TAKEALOT: rc = credential(out, creds, "apiKey", &ch->api_key, e); break;
	}
	if (rc < 0)
		goto out;
	fx_seal_clear_free(plain, n);
	plain = NULL;
	rc = open_sealed(org, doc, "webhookSecret", &plain, &n, e);
	if (rc < 0)
		goto out;
	ch->webhook_secret = rc == 0 ? keep(out, plain, true) : NULL;
	rc = 0;
out:
	fx_seal_clear_free(plain, n);
	json_object_put(creds);
	if (rc < 0)
		fx_chanload_cleanup(out);
	return rc;
}

void fx_chanload_cleanup(struct fx_chanload *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->nsecrets; i++)
		fx_seal_clear_free(l->secrets[i], strlen(l->secrets[i]));
	for (size_t i = 0; i < l->nstrings; i++)
		free(l->strings[i]);
	memset(l, 0, sizeof(*l));
}

int fx_chanload_raise_refused(const char *org, const struct fx_doc *doc, const char *message, const char *by,
			      struct fx_err *e)
{
	struct fx_candidate cand;
	const char *name = fx_value_path_str(&doc->fields, "name");
	const char *type = fx_value_path_str(&doc->fields, "type");
	int rc;

	if (!doc->id)
		return fx_err_set(e, FX_INTERNAL, "no channel to raise an insight for");
	memset(&cand, 0, sizeof(cand));
	fx_str_text(cand.type, sizeof(cand.type), "%s", "channel_error");
	fx_str_text(cand.severity, sizeof(cand.severity), "%s", "critical");
	fx_str_text(cand.channel_id, sizeof(cand.channel_id), "%s", doc->id); /* the key: one open per channel */
	fx_str_text(cand.title, sizeof(cand.title), "%.100s refused Fluxori's credentials", name ? name : "A channel");
	fx_str_text(cand.summary, sizeof(cand.summary),
		    "The %s channel \"%.100s\" refused the stored credentials: stock is no longer pushed to it and its "
		    "orders are not polled. The channel said: %.300s",
		    type ? type : "sales", name ? name : doc->id, message && message[0] ? message : "(nothing)");
	fx_str_text(cand.recommendations[0], sizeof(cand.recommendations[0]), "%s",
		    "Create new credentials on the channel and save them on the channel in Fluxori.");
	fx_str_text(cand.recommendations[1], sizeof(cand.recommendations[1]), "%s",
		    "Set the channel active again and run its sync, so every listing gets its current quantity.");
	cand.nrec = 2;
	fx_value_map(&cand.metrics);
	rc = fx_insights_raise(org, by, &cand, e);
	fx_value_cleanup(&cand.metrics);
	return rc;
}
