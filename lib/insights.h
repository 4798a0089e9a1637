/*
 * fx_insights: the rules that turn an organization's products and recent
 * sales into insights (pure, no I/O), and the generation that applies them
 * to one organization and stores the result. Documents, all below
 * organizations/{org} and reached through lib/tenant: products/{id} and
 * orders/{id} (read), insights/{id} and insightKeys/{type}_{productId|org}
 * (written).
 * Ownership: fx_insights_rules returns a malloc'd candidate array that the
 * caller releases with fx_insights_candidates_free; every argument is borrowed.
 */
#ifndef FX_INSIGHTS_H
#define FX_INSIGHTS_H

#include "err.h"
#include "firestore.h"
#include "value.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Thresholds of the rules, as API.md states them. */
#define FX_INSIGHTS_COVER_DAYS 14 /* stockout_risk below this many days of cover */
#define FX_INSIGHTS_COVER_CRITICAL_DAYS 7 /* ... and critical below this */
#define FX_INSIGHTS_SALES_DAYS 30 /* the sales window of velocity and top sellers */
#define FX_INSIGHTS_SLOW_DAYS 60 /* slow_mover: no sale (and at least this old) */
#define FX_INSIGHTS_TREND_PCT 20 /* sales_trend: week-over-week change of at least this */
#define FX_INSIGHTS_TOP_SELLERS 3

/* What one generation reads at most; beyond it 409 FAILED_PRECONDITION. */
#define FX_INSIGHTS_MAX_PRODUCTS 20000
#define FX_INSIGHTS_MAX_ORDERS 100000

/* The insight types, NULL-terminated, as the API names them. */
extern const char *const fx_insight_types[];

/* One product's sales from non-cancelled orders. */
struct fx_sales {
	const char *product_id;
	int64_t units_30d;
	int64_t revenue_30d_cents;
	int64_t last_sale_secs; /* 0 = no sale known */
};

/* An insight the rules found, before it is stored. */
struct fx_candidate {
	char type[16];
	char severity[10];
	char product_id[129]; /* "" for organization-level insights */
	char channel_id[129]; /* channel_error: the channel (the key's subject when product_id is ""), else "" */
	char title[161];
	char summary[601];
	char recommendations[3][201];
	int nrec;
	struct fx_value metrics; /* FX_V_MAP */
};

/*
 * Applies every rule to one organization's data at time now (Unix
 * seconds). products are product documents (their id, and fields name,
 * sku, status, priceCents, stock {onHand, reserved, available,
 * reorderPoint}, createdAt); sales holds at most one entry per product
 * (a product without one sold nothing). Archived products never produce
 * insights.
 *
 *   low_stock      available <= reorderPoint; critical when available <= 0
 *   stockout_risk  sold in the last 30 days and available / (units / 30)
 *                  below 14 days of cover; critical below 7
 *   slow_mover     onHand > 0, no sale in the last 60 days, and the
 *                  product is at least 60 days old; info
 *   sales_trend    organization level: revenue_this_week changed by 20 %
 *                  or more against a non-zero revenue_last_week; warning
 *                  when down, info when up
 *   top_seller     the 3 products with the most 30-day revenue (> 0);
 *                  ties go to more units, then the smaller id; info
 *
 * Comparisons are exact (integer arithmetic), so 13.99 days of cover is
 * below 14 and +19.99 % is not a trend. Fills *out (NULL when *n is 0) for
 * fx_insights_candidates_free. Fails only with 409 FAILED_PRECONDITION when
 * nproducts exceeds FX_INSIGHTS_MAX_PRODUCTS.
 */
FX_MUST_USE int fx_insights_rules(const struct fx_doc *products, size_t nproducts, const struct fx_sales *sales,
				  size_t nsales, int64_t revenue_this_week, int64_t revenue_last_week, int64_t now,
				  struct fx_candidate **out, size_t *n, struct fx_err *e);

/* Cleans up c[0..n) and frees the array. Accepts NULL. */
void fx_insights_candidates_free(struct fx_candidate *c, size_t n);

/*
 * The id of the insightKeys document of (type, product_id) into out:
 * "{type}_{product_id}", or "{type}_org" when product_id is NULL or "".
 * -1 with 500 INTERNAL when it would not be a valid id (1..128 of
 * [A-Za-z0-9_-]).
 */
FX_MUST_USE int fx_insights_key(const char *type, const char *product_id, char *out, size_t len, struct fx_err *e);

/*
 * Generates the insights of organization org_id (given explicitly: the
 * jobs group runs it for every organization without a user request): reads
 * its products and the last 60 days of orders (pages through cursors;
 * beyond FX_INSIGHTS_MAX_PRODUCTS products or FX_INSIGHTS_MAX_ORDERS orders
 * 409 FAILED_PRECONDITION, before anything is written), applies
 * fx_insights_rules and upserts the result: an open insight (status open or
 * acknowledged) of the same (type, product) is updated (severity, title,
 * summary, metrics, recommendations, source, updatedAt; its status stays),
 * otherwise a new open one is created. The insightKeys document of the key
 * names the current open insight and is written in the same commit, with a
 * precondition on the version that was read, so concurrent generations
 * never open two. Open insights whose condition no longer holds are left
 * alone. by (a uid or a job name) is recorded on what it writes.
 * *created and *updated receive the counts; on failure some chunks of
 * insights may already be stored (each chunk commits atomically), and the
 * counts say how many. Errors are Firestore's (lib/firestore.h).
 */
FX_MUST_USE int fx_insights_generate(const char *org_id, const char *by, int *created, int *updated, struct fx_err *e);

struct fx_req;
struct fx_txn;

/*
 * Raises, inside transaction t, one open insight of candidate c (type,
 * severity, product_id, title, summary, recommendations, metrics) for the
 * organization of r, an event rather than a generation found it (an
 * oversold channel order; refused channel credentials). The key document
 * insightKeys/{type}_{product} is read in t: when it names an insight that
 * is still open (open or acknowledged), nothing is written (*raised
 * false); otherwise the insight is created and the key moved to it with a
 * precondition on the version read, so concurrent raises never open two.
 * Errors are Firestore's, or 500 when the key does not fit an id.
 */
FX_MUST_USE int fx_insights_raise(const struct fx_req *r, struct fx_txn *t, const struct fx_candidate *c, bool *raised,
				  struct fx_err *e);

/*
 * Raises one insight outside generation and outside any transaction (a
 * channel refusing our credentials, found by a job): c (borrowed) is created open, or updates the open insight
 * of its key (fx_insights_key of type and product_id, or channel_id when
 * product_id is ""), exactly as generation upserts. by is recorded on it.
 * Errors are Firestore's (lib/firestore.h).
 */
FX_MUST_USE int fx_insights_raise_now(const char *org_id, const char *by, const struct fx_candidate *c,
				      struct fx_err *e);

#endif
