/*
 * fx_webhook: outbound webhooks (issue 17, API.md § Webhooks out): the
 * event types, the events written to the outbox (lib/outbox, kind
 * "event") in the same commit as the change they report, and the pure
 * rules of their delivery (signature header, backoff, body, ordering key,
 * URL rules, secrets). The job that delivers them is lib/whdeliver.
 *
 * An event is the outbox document {kind: "event", resource: <id>, at,
 * organizationId, payload {type, resourceType, seq, sub, data}}; its id is
 * the event id, sent as X-Fluxori-Delivery on every attempt. seq orders the
 * events of one resource (resourceType/resource) without any machine's
 * clock: it is the nanoseconds of the version (Firestore updateTime) of
 * the resource document the writing transaction read and overwrote with a
 * precondition on that version, 0 for a resource the commit creates. Every
 * later change of the resource reads the version this commit made, which
 * Firestore gives a later commit time, so seq grows strictly with the
 * changes of one resource. sub orders the events one commit writes for one
 * resource (product.stock_changed 0 before product.low_stock 1).
 *
 * Ownership: every argument is borrowed for the call; nothing is kept.
 */
#ifndef FX_WEBHOOK_H
#define FX_WEBHOOK_H

#include "err.h"
#include "value.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The outbox kind of an event (lib/chanpush reads only FX_OUTBOX_STOCK). */
#define FX_OUTBOX_EVENT "event"

/* The event types of the contract, NULL-terminated. */
extern const char *const fx_webhook_events[];

#define FX_WEBHOOK_MAX_PER_ORG 20
#define FX_WEBHOOK_DESCRIPTION_MAX 500
#define FX_WEBHOOK_URL_MAX 2048
/* "whsec_" + base64url of 32 random bytes (43 characters) */
#define FX_WEBHOOK_SECRET_LEN 49
/* X-Fluxori-Signature with two v1 entries: "t=" 20 digits, 2 x ",v1=" + 64 */
#define FX_WEBHOOK_SIG_MAX 192

/* Defaults of the windows (API.md): backoff from 1 min doubling to 1 h, give up after 24 h, disable after 3 days. */
#define FX_WEBHOOK_BACKOFF_BASE_S 60
#define FX_WEBHOOK_BACKOFF_MAX_S 3600
#define FX_WEBHOOK_GIVE_UP_S (24 * 3600)
#define FX_WEBHOOK_DISABLE_S (3 * 24 * 3600)
/* How long the previous secret still signs after a rotation. */
#define FX_WEBHOOK_ROTATION_S (24 * 3600)

/* Whether type is one of fx_webhook_events. */
bool fx_webhook_event_known(const char *type);

/*
 * Checks a subscription's events (a JSON array: non-empty, at most one of
 * each type, every one known), field naming it in the error: -1 with 400
 * INVALID_ARGUMENT and a detail naming the offending element.
 */
FX_MUST_USE int fx_webhook_events_check(json_object *events, const char *field, struct fx_err *e);

/*
 * The ordering number of an event about a resource whose document the
 * transaction read at version update_time (RFC 3339; NULL or "" when the
 * commit creates the resource): its nanoseconds since the epoch, 0 for a
 * creation; -1 when update_time does not parse.
 */
int64_t fx_webhook_seq(const char *update_time);

/*
 * Whether event a (seq_a, sub_a) comes before b of the same resource:
 * negative, 0 (the same place) or positive, like strcmp.
 */
int fx_webhook_order_cmp(int64_t seq_a, int64_t sub_a, int64_t seq_b, int64_t sub_b);

/*
 * Appends to writes (a commit's writes) the outbox event {kind "event",
 * resource resource_id, payload {type, resourceType, seq
 * (fx_webhook_seq(version)), sub, data}}. type must be known,
 * resource_type a short word ("order", "product", "insight", "channel",
 * "import"), data a JSON object (borrowed, copied). -1 with 400
 * INVALID_ARGUMENT (500 for an unknown type: a programming error), writes
 * unchanged.
 */
FX_MUST_USE int fx_webhook_event_add(json_object *writes, const char *org, const char *type, const char *resource_type,
				     const char *resource_id, const char *version, int sub, json_object *data,
				     struct fx_err *e);

/*
 * Appends the event channel.error of channel (the document as read by the
 * writer that now sets its status to error; its version orders the event)
 * {channelId, type, name, status "error", message} to writes. Only when the
 * channel was not already in error: 0 and nothing appended otherwise.
 */
FX_MUST_USE int fx_webhook_channel_error(json_object *writes, const char *org, const char *channel_id,
					 const struct fx_value *channel, const char *version, const char *message,
					 struct fx_err *e);

/*
 * Appends the event import.finished of the import import_id to writes, the
 * commit that sets the import's final status (issue 16's importer): data is
 * record (FX_V_MAP: the import record's fields as written there, plain
 * values; may be NULL) with "id". version: the import document's version
 * the writer read and guards its write with, or NULL (one event per import:
 * nothing to order). -1 with e set, writes unchanged.
 */
FX_MUST_USE int fx_webhook_import_finished(json_object *writes, const char *org, const char *import_id,
					   const char *version, const struct fx_value *record, struct fx_err *e);

/*
 * The event body as sent: {"id","type","createdAt","organizationId","data"}
 * in that order, data the event's JSON object (NULL: {}). Malloc'd text,
 * or NULL when an argument is missing.
 */
char *fx_webhook_body(const char *id, const char *type, const char *created_at, const char *org, json_object *data);

/*
 * X-Fluxori-Signature for body signed at t: "t=<t>,v1=<hex>" with one v1
 * entry per secret (the HMAC key is the secret's text as shown, whsec_
 * included), nsecrets 1 or 2. 0, or -1 when out is too small (out "").
 */
FX_MUST_USE int fx_webhook_signature(int64_t t, const char *body, size_t body_len, const char *const *secrets,
				     size_t nsecrets, char *out, size_t out_len);

/*
 * The wait (seconds) after the attempt-th failed attempt (attempt >= 1):
 * base_s doubled per earlier failure, capped at max_s; saturating.
 */
int64_t fx_webhook_backoff_s(int64_t attempt, int64_t base_s, int64_t max_s);

/* Whether a delivery of an event created at created_s that failed at now_s is given up (give_up_s passed). */
bool fx_webhook_gives_up(int64_t created_s, int64_t now_s, int64_t give_up_s);

/* Whether a subscription failing since failing_since_s (0: not failing) is disabled at now_s. */
bool fx_webhook_disables(int64_t failing_since_s, int64_t now_s, int64_t disable_s);

/*
 * Whether url (absolute) targets a loopback address literal (127.0.0.0/8,
 * [::1]) over http or https: what a demo- project's tests may use. Host
 * names (localhost too) are not: they are judged by where they resolve.
 */
bool fx_webhook_url_loopback_literal(const char *url);

/*
 * A new secret "whsec_" + base64url(32 random bytes) into
 * out[FX_WEBHOOK_SECRET_LEN + 1]. 0, or -1 with 500 when the random source fails.
 */
FX_MUST_USE int fx_webhook_secret_new(char out[FX_WEBHOOK_SECRET_LEN + 1], struct fx_err *e);

/*
 * The webhook windows in seconds, from the environment or the .env file
 * for tests (fx_config_lookup: FLUXORI_WEBHOOK_BACKOFF_BASE_S,
 * _BACKOFF_MAX_S, _GIVE_UP_S, _DISABLE_S, _ROTATION_S; each 0..10 years,
 * empty or invalid: the contract's default), read on every call.
 */
struct fx_webhook_windows {
	int64_t backoff_base_s;
	int64_t backoff_max_s;
	int64_t give_up_s;
	int64_t disable_s;
	int64_t rotation_s;
};
void fx_webhook_windows(struct fx_webhook_windows *w);

#endif
