/*
 * fx_metrics: what this process counts, readable by the metrics group.
 *
 * Each worker process keeps its counters in one file of a fixed layout,
 * FLUXORI_METRICS_DIR/<group>.<pid>.metrics, mapped shared and updated with
 * relaxed atomics: counting is a few lock-free adds per request and nothing
 * is sent anywhere. The process holds a shared flock on its file while it
 * lives, so a reader can tell a live process from one that exited, and
 * whether it exited cleanly (a SIGKILLed worker never marks its file).
 * Files of exited processes are kept, so sums never go backwards while the
 * stack runs. Without a directory the counters live in process memory.
 *
 * fx_metrics_render (GET /metrics) sums every file per group and writes the
 * Prometheus text exposition format.
 */
#ifndef FX_METRICS_H
#define FX_METRICS_H

#include "buf.h"
#include "err.h"
#include "router.h"

#include <stddef.h>

/* Opens this process's counters for group and its route table. Call once, before threads start. */
FX_MUST_USE int fx_metrics_open(const char *dir, const char *group, const struct fx_route *routes, size_t nroutes,
				struct fx_err *e);

/* Marks this process's file as cleanly exited. */
void fx_metrics_close(void);

/* A request answered: route index into the table of fx_metrics_open, or -1 when none matched. */
void fx_metrics_request(int route, int status, double seconds);

/* Requests being served now (+1 when one starts, -1 when it ends). */
void fx_metrics_in_flight(int delta);

/* One HTTP attempt to a Google service: status 0 when no answer came; connects = new connections made. */
void fx_metrics_backend(const char *service, long status, long connects, double seconds);
void fx_metrics_backend_retry(const char *service);

/* Verified-token cache lookups. */
void fx_metrics_token_cache(int hit);

/* Firestore transactions. */
enum fx_txn_event { FX_TXN_STARTED, FX_TXN_RETRIED, FX_TXN_GAVE_UP };
void fx_metrics_transaction(enum fx_txn_event ev);

/* This process's totals, for its last log line. */
struct fx_metrics_totals {
	unsigned long long calls, retries, unreachable, connects; /* to Google, all services */
	unsigned long long txn[3]; /* by enum fx_txn_event */
};
void fx_metrics_totals(struct fx_metrics_totals *out);

/* Appends the Prometheus text of every process file in dir to out. */
FX_MUST_USE int fx_metrics_render(const char *dir, struct fx_buf *out, struct fx_err *e);

#endif
