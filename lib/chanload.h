/*
 * fx_chanload: a stored channel document opened into the struct
 * fx_channel a protocol call needs (lib/channel): its type, the base URL
 * its calls go to (fx_chandoc_target), its settings, and its credentials
 * and webhook secret decrypted (fx_seal_open, aad = the document's
 * relative path). Used by the stock push and the order poll, which act
 * without a user request.
 * Ownership: everything the struct points to is its own, released (the
 * secrets wiped first) by fx_chanload_cleanup.
 */
#ifndef FX_CHANLOAD_H
#define FX_CHANLOAD_H

#include "channel.h"
#include "err.h"
#include "firestore.h"

struct fx_chanload {
	struct fx_channel ch;
	char *strings[12]; /* what ch points to (non-secret) */
	char *secrets[5]; /* what ch points to (secret: wiped on cleanup) */
	size_t nstrings, nsecrets;
};

/*
 * Opens the channel document doc (a full read) of organization org into
 * *out (overwritten). -1 with 500 INTERNAL when its type or settings are
 * not what the API stores, or its sealed credentials do not open or lack
 * what the type needs (the message never holds a secret); *out is then
 * cleaned up.
 */
FX_MUST_USE int fx_chanload_open(const char *org, const struct fx_doc *doc, struct fx_chanload *out, struct fx_err *e);

/* Wipes the secrets and frees what l holds; accepts NULL and a zeroed struct. */
void fx_chanload_cleanup(struct fx_chanload *l);

/*
 * Raises (or refreshes) the critical channel_error insight of the channel
 * doc (one open per channel, lib/insights) after it refused our
 * credentials; message is the channel's own text (never a secret). by is
 * recorded on it. Errors are Firestore's.
 */
FX_MUST_USE int fx_chanload_raise_refused(const char *org, const struct fx_doc *doc, const char *message,
					  const char *by, struct fx_err *e);

#endif
