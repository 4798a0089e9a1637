#include "gauth.h"

#include "config.h"

#include <stdio.h>

static bool emulated(enum fx_gauth_target target)
{
	const struct fx_config *c = fx_cfg();

	switch (target) {
	case FX_GAUTH_FIRESTORE: return c->firestore_emulator != NULL;
	case FX_GAUTH_IDENTITY: return c->auth_emulator != NULL;
	case FX_GAUTH_STORAGE: return c->storage_emulator != NULL;
	default: return false;
	}
}

int fx_gauth_header(enum fx_gauth_target target, char *out, size_t out_len, struct fx_err *e)
{
	if (emulated(target)) {
		snprintf(out, out_len, "Authorization: Bearer owner");
		return 0;
	}
	return fx_err_set(e, 503, "UNAVAILABLE", "no Google credentials available");
}
