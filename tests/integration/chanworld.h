/*
 * chanworld: an organization with channels pointed at the fake channel
 * server, products and listings, made through nginx, and the calls the
 * channel push tests (test_channelpush, test_channelcrash) make. Every
 * helper fails the test on an unexpected answer.
 */
#ifndef FX_TEST_CHANWORLD_H
#define FX_TEST_CHANWORLD_H

#include "client.h"
#include "fakechannel.h"

struct world {
	struct test_user owner;
	char org[128];
	struct fakechannel *fake;
};

/* A new owner and organization (prefix names the user), and a started fake channel server. */
void world_new(struct world *w, const char *prefix);

/* A channel of type t pointed at the fake, with settings.bufferDefault when >= 0; its id into id. */
void channel_new(const struct world *w, enum fx_channel_type t, int buffer_default, char *id, size_t len);

/* A product with stock units received; its id into id. */
void product_new(const struct world *w, const char *sku, int stock, char *id, size_t len);

/* A listing of pid on cid as external; buffer and max_quantity left out when < 0. */
void listing_new(const struct world *w, const char *cid, const char *pid, const char *external, int buffer,
		 int max_quantity);

/* stock:adjust of pid by delta; the answer's status (200, or what a killed worker left). */
long adjust(const struct world *w, const char *pid, int delta);

/* GET /v1/products/{pid}: stock.available. */
long long available(const struct world *w, const char *pid);

/* POST /v1/jobs/{job} as the owner, which must succeed: the run's summary.{counter} (-1 when absent). */
long long run_job(const struct world *w, const char *job, const char *counter);

/* The quantity the fake last received for (t, external); fails the test when it never received one. */
long long pushed(const struct world *w, enum fx_channel_type t, const char *external);

/* The organization's outbox stock entries (kind stock), read from the emulator. */
int outbox_entries(const struct world *w);

#endif
