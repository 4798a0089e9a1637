#include "webhook.h"

#include "b64.h"
#include "config.h"
#include "model.h"
#include "num.h"
#include "outbox.h"
#include "plain.h"
#include "sig.h"
#include "str.h"
#include "ts.h"
#include "value.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const fx_webhook_events[] = {
	"order.created",   "order.updated",   "product.stock_changed", "product.low_stock",
	"insight.created", "import.finished", "channel.error",	       NULL};

bool fx_webhook_event_known(const char *type)
{
	for (size_t i = 0; type && fx_webhook_events[i]; i++)
		if (strcmp(type, fx_webhook_events[i]) == 0)
			return true;
	return false;
}

int fx_webhook_events_check(json_object *events, const char *field, struct fx_err *e)
{
	size_t n;
	bool seen[16] = {false};

	if (!events || !json_object_is_type(events, json_type_array))
		return fx_err_invalid(e, field, "must be an array of event types");
	n = json_object_array_length(events);
	if (n == 0)
		return fx_err_invalid(e, field, "must name at least one event type");
	for (size_t i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(events, i);
		const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
		char where[64];
		size_t k;

		fx_str_text(where, sizeof(where), "%s[%zu]", field, i);
		for (k = 0; s && fx_webhook_events[k]; k++)
			if (strcmp(s, fx_webhook_events[k]) == 0)
				break;
		if (!s || !fx_webhook_events[k])
			return fx_err_invalid(e, where,
					      "must be one of order.created, order.updated, product.stock_changed, "
					      "product.low_stock, insight.created, import.finished, channel.error");
		if (seen[k])
			return fx_err_invalid(e, where, "repeats an event type");
		seen[k] = true;
	}
	return 0;
}

int64_t fx_webhook_seq(const char *update_time)
{
	int64_t secs;
	int32_t nanos;

	if (!update_time || !update_time[0])
		return 0;
	if (fx_ts_parse(update_time, &secs, &nanos) < 0 || secs < 0 || secs > INT64_MAX / 1000000000 - 1)
		return -1;
	return secs * 1000000000 + nanos;
}

int fx_webhook_order_cmp(int64_t seq_a, int64_t sub_a, int64_t seq_b, int64_t sub_b)
{
	if (seq_a != seq_b)
		return seq_a < seq_b ? -1 : 1;
	if (sub_a != sub_b)
		return sub_a < sub_b ? -1 : 1;
	return 0;
}

int fx_webhook_event_add(json_object *writes, const char *org, const char *type, const char *resource_type,
			 const char *resource_id, const char *version, int sub, json_object *data, struct fx_err *e)
{
	json_object *payload;
	int64_t seq = fx_webhook_seq(version);
	int rc;

	if (!fx_webhook_event_known(type))
		return fx_err_set(e, FX_INTERNAL, "unknown webhook event type");
	if (!resource_type || !resource_type[0] || strlen(resource_type) > 16)
		return fx_err_invalid(e, "resourceType", "must be 1 to 16 characters");
	if (seq < 0)
		return fx_err_set(e, FX_INTERNAL, "the resource's version does not parse");
	if (data && !json_object_is_type(data, json_type_object))
		return fx_err_invalid(e, "data", "must be an object");
	payload = json_object_new_object();
	json_object_object_add(payload, "type", json_object_new_string(type));
	json_object_object_add(payload, "resourceType", json_object_new_string(resource_type));
	json_object_object_add(payload, "seq", json_object_new_int64(seq));
	json_object_object_add(payload, "sub", json_object_new_int64(sub));
	json_object_object_add(payload, "data", data ? json_object_get(data) : json_object_new_object());
	rc = fx_outbox_add(writes, org, FX_OUTBOX_EVENT, resource_id, payload, e);
	json_object_put(payload);
	return rc;
}

int fx_webhook_channel_error(json_object *writes, const char *org, const char *channel_id,
			     const struct fx_value *channel, const char *version, const char *message, struct fx_err *e)
{
	const char *status = fx_value_path_str(channel, "status");
	const char *type = fx_value_path_str(channel, "type"), *name = fx_value_path_str(channel, "name");
	json_object *data;
	int rc;

	if (status && strcmp(status, "error") == 0)
		return 0;
	data = json_object_new_object();
	json_object_object_add(data, "channelId", json_object_new_string(channel_id));
	json_object_object_add(data, "type", type ? json_object_new_string(type) : NULL);
	json_object_object_add(data, "name", name ? json_object_new_string(name) : NULL);
	json_object_object_add(data, "status", json_object_new_string("error"));
	json_object_object_add(data, "message", json_object_new_string(message ? message : ""));
	rc = fx_webhook_event_add(writes, org, "channel.error", "channel", channel_id, version, 0, data, e);
	json_object_put(data);
	return rc;
}

int fx_webhook_import_finished(json_object *writes, const char *org, const char *import_id, const char *version,
			       const struct fx_value *record, struct fx_err *e)
{
	json_object *data = record && record->type == FX_V_MAP ? fx_plain_encode(record) : json_object_new_object();
	int rc;

	if (!data || !json_object_is_type(data, json_type_object)) {
		json_object_put(data);
		return fx_err_invalid(e, "record", "must be a map");
	}
	json_object_object_add(data, "id", json_object_new_string(import_id ? import_id : ""));
	rc = fx_webhook_event_add(writes, org, "import.finished", "import", import_id, version, 0, data, e);
	json_object_put(data);
	return rc;
}

char *fx_webhook_body(const char *id, const char *type, const char *created_at, const char *org, json_object *data)
{
	json_object *o;
	char *out;

	if (!id || !type || !created_at || !org)
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "type", json_object_new_string(type));
	json_object_object_add(o, "createdAt", json_object_new_string(created_at));
	json_object_object_add(o, "organizationId", json_object_new_string(org));
	json_object_object_add(o, "data", data ? json_object_get(data) : json_object_new_object());
	out = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return out;
}

int fx_webhook_signature(int64_t t, const char *body, size_t body_len, const char *const *secrets, size_t nsecrets,
			 char *out, size_t out_len)
{
	char head[32], *msg = NULL;
	size_t head_len, used;
	int rc = -1;

	if (out_len > 0)
		out[0] = '\0';
	if (nsecrets < 1 || nsecrets > 2 || fx_str_fmt(head, sizeof(head), "%lld.", (long long)t) < 0)
		return -1;
	head_len = strlen(head);
	if (body_len > SIZE_MAX - head_len - 1)
		return -1;
	msg = malloc(head_len + body_len + 1);
	if (!msg)
		return -1;
	if (fx_str_mem_copy(msg, head_len + body_len + 1, head, head_len) < 0 ||
	    (body_len && fx_str_mem_copy(msg + head_len, body_len + 1, body, body_len) < 0))
		goto out;
	if (fx_str_fmt(out, out_len, "t=%lld", (long long)t) < 0)
		goto out;
	for (size_t i = 0; i < nsecrets; i++) {
		char mac[FX_SIG_HEX_LEN + 1];

		if (!secrets[i] || fx_sig_hmac_sha256(secrets[i], strlen(secrets[i]), msg, head_len + body_len,
						      FX_SIG_HEX, mac, sizeof(mac)) < 0)
			goto out;
		used = strlen(out);
		if (fx_str_fmt(out + used, out_len - used, ",v1=%s", mac) < 0)
			goto out;
	}
	rc = 0;
out:
	if (rc < 0 && out_len > 0)
		out[0] = '\0';
	free(msg);
	return rc;
}

int64_t fx_webhook_backoff_s(int64_t attempt, int64_t base_s, int64_t max_s)
{
	int64_t wait = base_s < 0 ? 0 : base_s;

	if (max_s < 0)
		max_s = 0;
	for (int64_t i = 1; i < attempt && wait < max_s; i++)
		wait = wait > INT64_MAX / 2 ? INT64_MAX : wait * 2;
	return wait < max_s ? wait : max_s;
}

bool fx_webhook_gives_up(int64_t created_s, int64_t now_s, int64_t give_up_s)
{
	return now_s - created_s >= give_up_s;
}

bool fx_webhook_disables(int64_t failing_since_s, int64_t now_s, int64_t disable_s)
{
	return failing_since_s > 0 && now_s - failing_since_s >= disable_s;
}

bool fx_webhook_url_loopback_literal(const char *url)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	bool ok = false;

	if (!u || !url)
		goto out;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		goto out;
	if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)
		goto out;
	if (strcmp(host, "[::1]") == 0) {
		ok = true;
	} else {
		unsigned char a[4];

		/* inet_pton's strict dotted quad: no octal, no short forms */
		ok = inet_pton(AF_INET, host, a) == 1 && a[0] == 127;
	}
out:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ok;
}

int fx_webhook_secret_new(char out[FX_WEBHOOK_SECRET_LEN + 1], struct fx_err *e)
{
	unsigned char raw[32];
	int rc = -1;

	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		fx_err_set(e, FX_INTERNAL, "the random source failed");
		goto out;
	}
	if (fx_str_set(out, FX_WEBHOOK_SECRET_LEN + 1, "whsec_") < 0) {
		fx_err_set(e, FX_INTERNAL, "secret buffer too small");
		goto out;
	}
	if (fx_b64_url_encode(raw, sizeof(raw), out + 6, FX_WEBHOOK_SECRET_LEN + 1 - 6, e) < 0)
		goto out;
	rc = 0;
out:
	OPENSSL_cleanse(raw, sizeof(raw));
	return rc;
}

static int64_t window(const char *name, int64_t def)
{
	int64_t n;

	if (fx_num_parse(fx_config_lookup(name), 0, 10LL * 366 * 24 * 3600, &n, NULL) < 0)
		return def;
	return n;
}

void fx_webhook_windows(struct fx_webhook_windows *w)
{
	w->backoff_base_s = window("FLUXORI_WEBHOOK_BACKOFF_BASE_S", FX_WEBHOOK_BACKOFF_BASE_S);
	w->backoff_max_s = window("FLUXORI_WEBHOOK_BACKOFF_MAX_S", FX_WEBHOOK_BACKOFF_MAX_S);
	w->give_up_s = window("FLUXORI_WEBHOOK_GIVE_UP_S", FX_WEBHOOK_GIVE_UP_S);
	w->disable_s = window("FLUXORI_WEBHOOK_DISABLE_S", FX_WEBHOOK_DISABLE_S);
	w->rotation_s = window("FLUXORI_WEBHOOK_ROTATION_S", FX_WEBHOOK_ROTATION_S);
}
