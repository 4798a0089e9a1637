#include "insights.h"

#include "arena.h"
#include "authz.h"
#include "clock.h"
#include "fswrite.h"
#include "http.h"
#include "log.h"
#include "map.h"
#include "mem.h"
#include "model.h"
#include "str.h"
#include "tenant.h"
#include "webhook.h"
#include "ts.h"
#include "vertex.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DAY 86400
#define NAME_SHOWN 60 /* bytes of a product name in titles and summaries */
#define PRODUCT_PAGE 500
#define ORDER_PAGE 200 /* an order holds up to 100 lines: keeps a page far below the answer cap */
#define UPSERT_CHUNK 100 /* candidates per transaction: at most 200 reads and 200 writes */
#define UPSERT_TRIES 3 /* a chunk that lost a race to another generation is read again */
#define SCOPE_ARENA (4u * 1024 * 1024) /* paths of one chunk; reset between chunks */
#define VERTEX_BUDGET_MS 20000 /* Gemini time one generation may spend; then the rule text stands */

const char *const fx_insight_types[] = {"low_stock",  "stockout_risk", "slow_mover",	"sales_trend",
					"top_seller", "oversold",      "channel_error", NULL};

/* ---- the rules ---- */

struct list {
	struct fx_candidate *c;
	size_t n, cap;
};

static int64_t sat_add(int64_t a, int64_t b)
{
	if (b > 0 && a > INT64_MAX - b)
		return INT64_MAX;
	if (b < 0 && a < INT64_MIN - b)
		return INT64_MIN;
	return a + b;
}

static int64_t sat_mul(int64_t a, int64_t b)
{
	__int128 p = (__int128)a * b;

	return p > INT64_MAX ? INT64_MAX : p < INT64_MIN ? INT64_MIN : (int64_t)p;
}

/* "R1234.56": cents as rand for summaries. */
static void rand_text(int64_t cents, char out[32])
{
	uint64_t u = cents < 0 ? 0 - (uint64_t)cents : (uint64_t)cents;

	fx_str_text(out, 32, "%sR%llu.%02llu", cents < 0 ? "-" : "", (unsigned long long)(u / 100),
		    (unsigned long long)(u % 100));
}

/* "12.3" from tenths (non-negative). */
static void tenths_text(int64_t tenths, char out[32])
{
	uint64_t u = tenths < 0 ? 0 - (uint64_t)tenths : (uint64_t)tenths;

	fx_str_text(out, 32, "%s%llu.%llu", tenths < 0 ? "-" : "", (unsigned long long)(u / 10),
		    (unsigned long long)(u % 10));
}

/* A product's name as titles show it: at most NAME_SHOWN bytes, cut at a character boundary with an ellipsis. */
static void shown_name(const struct fx_doc *p, char out[NAME_SHOWN + 1])
{
	const char *s = fx_value_path_str(&p->fields, "name");
	size_t n;

	if (!s || !*s)
		s = fx_value_path_str(&p->fields, "sku");
	if (!s || !*s)
		s = p->id;
	n = strlen(s);
	if (n <= NAME_SHOWN) {
		fx_str_text(out, NAME_SHOWN + 1, "%s", s);
		return;
	}
	n = NAME_SHOWN - 3;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	fx_str_text(out, NAME_SHOWN + 1, "%.*s\xe2\x80\xa6", (int)n, s);
}

static struct fx_candidate *add(struct list *l, const char *type, const char *severity, const char *product_id)
{
	struct fx_candidate *c;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->c = fx_mem_xrealloc(l->c, l->cap * sizeof(*l->c));
	}
	c = &l->c[l->n];
	memset(c, 0, sizeof(*c));
	/* An id that does not fit is no product of ours: no insight rather than a cut id. */
	if (fx_str_set(c->type, sizeof(c->type), type) < 0 ||
	    fx_str_set(c->severity, sizeof(c->severity), severity) < 0 ||
	    fx_str_set(c->product_id, sizeof(c->product_id), product_id ? product_id : "") < 0)
		return NULL;
	l->n++;
	fx_value_map(&c->metrics);
	return c;
}

static void text(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void text(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fx_str_vtext(out, len, fmt, ap);
	va_end(ap);
}

static void rec(struct fx_candidate *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void rec(struct fx_candidate *c, const char *fmt, ...)
{
	va_list ap;

	if (c->nrec >= 3)
		return;
	va_start(ap, fmt);
	fx_str_vtext(c->recommendations[c->nrec++], sizeof(c->recommendations[0]), fmt, ap);
	va_end(ap);
}

static void metric_tenths(struct fx_candidate *c, const char *name, int64_t tenths)
{
	fx_value_double(fx_map_set(&c->metrics, name), (double)tenths / 10.0);
}

/* What the rules read of one product. */
struct facts {
	const struct fx_doc *doc;
	const struct fx_sales *sales; /* NULL: no sale known */
	char name[NAME_SHOWN + 1];
	int64_t on_hand, reserved, available, reorder, price;
	int64_t created; /* Unix seconds, -1 when unknown */
	int64_t units, revenue, last_sale;
};

static void read_facts(const struct fx_doc *p, const struct fx_sales *s, struct facts *f)
{
	const struct fx_value *created = fx_value_path(&p->fields, "createdAt");
	int64_t secs;
	int32_t nanos;

	memset(f, 0, sizeof(*f));
	f->doc = p;
	f->sales = s;
	shown_name(p, f->name);
	fx_value_path_int(&p->fields, "stock.onHand", &f->on_hand);
	fx_value_path_int(&p->fields, "stock.reserved", &f->reserved);
	if (!fx_value_path_int(&p->fields, "stock.available", &f->available))
		f->available = f->on_hand - f->reserved;
	fx_value_path_int(&p->fields, "stock.reorderPoint", &f->reorder);
	fx_value_path_int(&p->fields, "priceCents", &f->price);
	f->created = -1;
	if (created && created->type == FX_V_TIMESTAMP)
		f->created = created->u.ts.secs;
	else if (p->create_time[0] && fx_ts_parse(p->create_time, &secs, &nanos) == 0)
		f->created = secs;
	if (s) {
		f->units = s->units_30d;
		f->revenue = s->revenue_30d_cents;
		f->last_sale = s->last_sale_secs;
	}
}

static void low_stock(struct list *l, const struct facts *f)
{
	struct fx_candidate *c;
	bool out = f->available <= 0;

	if (f->available > f->reorder)
		return;
	c = add(l, "low_stock", out ? "critical" : "warning", f->doc->id);
	if (!c)
		return;
	text(c->title, sizeof(c->title), "%s: %s", out ? "Out of stock" : "Low stock", f->name);
	text(c->summary, sizeof(c->summary),
	     "%s has %lld available (%lld on hand, %lld reserved), at or below its reorder point of %lld. It sold "
	     "%lld in the last %d days.",
	     f->name, (long long)f->available, (long long)f->on_hand, (long long)f->reserved, (long long)f->reorder,
	     (long long)f->units, FX_INSIGHTS_SALES_DAYS);
	if (f->units > 0)
		rec(c,
		    "Reorder at least %lld units: the last %d days' sales plus the reorder point, less what is "
		    "available.",
		    (long long)(f->units + f->reorder - f->available), FX_INSIGHTS_SALES_DAYS);
	else
		rec(c, "Reorder enough to bring available stock above the reorder point of %lld.",
		    (long long)f->reorder);
	if (out)
		rec(c, "Mark the product out of stock on your sales channels until new stock arrives.");
	if (f->reserved > 0)
		rec(c, "Open orders reserve %lld of the stock on hand: ship or cancel them to free it.",
		    (long long)f->reserved);
	fx_map_set_int(&c->metrics, "available", f->available);
	fx_map_set_int(&c->metrics, "onHand", f->on_hand);
	fx_map_set_int(&c->metrics, "reserved", f->reserved);
	fx_map_set_int(&c->metrics, "reorderPoint", f->reorder);
	fx_map_set_int(&c->metrics, "unitsSold30d", f->units);
}

static void stockout_risk(struct list *l, const struct facts *f)
{
	struct fx_candidate *c;
	int64_t tenths, hundredths;
	char days[32];
	bool critical;

	/* available / (units / 30) < 14  <=>  available * 30 < 14 * units (units > 0). */
	if (f->units <= 0 || sat_mul(f->available, FX_INSIGHTS_SALES_DAYS) >= sat_mul(FX_INSIGHTS_COVER_DAYS, f->units))
		return;
	critical = sat_mul(f->available, FX_INSIGHTS_SALES_DAYS) < sat_mul(FX_INSIGHTS_COVER_CRITICAL_DAYS, f->units);
	/* Truncated, so the figure shown agrees with the comparison (13.99 shows 13.9). */
	tenths = f->available <= 0 ? 0 : f->available * FX_INSIGHTS_SALES_DAYS * 10 / f->units;
	hundredths = (sat_mul(f->units, 100) + FX_INSIGHTS_SALES_DAYS / 2) / FX_INSIGHTS_SALES_DAYS;
	tenths_text(tenths, days);
	c = add(l, "stockout_risk", critical ? "critical" : "warning", f->doc->id);
	if (!c)
		return;
	text(c->title, sizeof(c->title), "Stockout risk: %s", f->name);
	text(c->summary, sizeof(c->summary),
	     "%s sold %lld units in the last %d days (%lld.%02lld a day); the %lld available last about %s days.",
	     f->name, (long long)f->units, FX_INSIGHTS_SALES_DAYS, (long long)(hundredths / 100),
	     (long long)(hundredths % 100), (long long)(f->available > 0 ? f->available : 0), days);
	rec(c, "Reorder at least %lld units to cover the next %d days at this pace.",
	    (long long)(f->units - (f->available > 0 ? f->available : 0)), FX_INSIGHTS_SALES_DAYS);
	rec(c, "Check your supplier's lead time against the %s days of stock left.", days);
	if (f->reorder * FX_INSIGHTS_SALES_DAYS < FX_INSIGHTS_COVER_DAYS * f->units)
		rec(c, "Raise the reorder point to about %lld so low stock is flagged %d days ahead.",
		    (long long)((f->units * FX_INSIGHTS_COVER_DAYS + FX_INSIGHTS_SALES_DAYS - 1) /
				FX_INSIGHTS_SALES_DAYS),
		    FX_INSIGHTS_COVER_DAYS);
	fx_map_set_int(&c->metrics, "available", f->available);
	fx_map_set_int(&c->metrics, "unitsSold30d", f->units);
	fx_value_double(fx_map_set(&c->metrics, "dailyVelocity"), (double)hundredths / 100.0);
	metric_tenths(c, "daysOfCover", tenths);
	fx_map_set_int(&c->metrics, "reorderPoint", f->reorder);
}

static void slow_mover(struct list *l, const struct facts *f, int64_t now)
{
	const int64_t window = (int64_t)FX_INSIGHTS_SLOW_DAYS * DAY;
	struct fx_candidate *c;
	char value[32];
	int64_t stock_value = sat_mul(f->on_hand, f->price);

	if (f->on_hand <= 0 || f->created < 0 || now - f->created < window)
		return;
	if (f->last_sale > 0 && now - f->last_sale < window)
		return;
	rand_text(stock_value, value);
	c = add(l, "slow_mover", "info", f->doc->id);
	if (!c)
		return;
	text(c->title, sizeof(c->title), "Slow mover: %s", f->name);
	if (f->last_sale > 0)
		text(c->summary, sizeof(c->summary),
		     "%s has %lld on hand (%s at its price) and last sold %lld days ago.", f->name,
		     (long long)f->on_hand, value, (long long)((now - f->last_sale) / DAY));
	else
		text(c->summary, sizeof(c->summary), "%s has %lld on hand (%s at its price) and no sale in %d days.",
		     f->name, (long long)f->on_hand, value, FX_INSIGHTS_SLOW_DAYS);
	rec(c, "Run a promotion or bundle it with a top seller to turn the stock into cash.");
	if (f->reorder > 0)
		rec(c, "Lower its reorder point of %lld so no more stock is bought for now.", (long long)f->reorder);
	rec(c, "Archive it if it is discontinued, once the stock is cleared.");
	fx_map_set_int(&c->metrics, "onHand", f->on_hand);
	if (f->last_sale > 0)
		fx_map_set_int(&c->metrics, "daysSinceLastSale", (now - f->last_sale) / DAY);
	else
		fx_value_null(fx_map_set(&c->metrics, "daysSinceLastSale"));
	fx_map_set_int(&c->metrics, "daysSinceCreated", (now - f->created) / DAY);
	fx_map_set_int(&c->metrics, "priceCents", f->price);
	fx_map_set_int(&c->metrics, "stockValueCents", stock_value);
}

static void sales_trend(struct list *l, int64_t this_week, int64_t last_week)
{
	struct fx_candidate *c;
	__int128 diff = (__int128)this_week - last_week, limit = (__int128)FX_INSIGHTS_TREND_PCT * last_week;
	int64_t tenths;
	char change[32], now_text[32], before_text[32];
	bool down = diff < 0;

	if (last_week <= 0 || (diff * 100 < limit && diff * 100 > -limit))
		return;
	/* Truncated toward zero, as the comparison: +19.99 % is 19.9. */
	tenths = (int64_t)(diff * 1000 / last_week);
	tenths_text(tenths < 0 ? -tenths : tenths, change);
	rand_text(this_week, now_text);
	rand_text(last_week, before_text);
	c = add(l, "sales_trend", down ? "warning" : "info", NULL);
	if (!c)
		return;
	text(c->title, sizeof(c->title), "Sales %s %s %% week over week", down ? "down" : "up", change);
	text(c->summary, sizeof(c->summary),
	     "Revenue of the last 7 days was %s against %s in the 7 days before: %s %s %%.", now_text, before_text,
	     down ? "down" : "up", change);
	if (down) {
		rec(c, "Check whether your top sellers ran out of stock: missing stock often explains a drop.");
		rec(c, "Compare prices and listings on the channels that sold less.");
		rec(c, "Consider a promotion on well-stocked products to win back demand.");
	} else {
		rec(c, "Make sure your top sellers have stock for the higher demand.");
		rec(c, "Review reorder points so they keep up with the faster pace.");
	}
	fx_map_set_int(&c->metrics, "revenueThisWeekCents", this_week);
	fx_map_set_int(&c->metrics, "revenueLastWeekCents", last_week);
	metric_tenths(c, "changePct", tenths);
}

static void top_seller(struct list *l, const struct facts *f, int rank)
{
	struct fx_candidate *c = add(l, "top_seller", "info", f->doc->id);
	char revenue[32];

	if (!c)
		return;
	rand_text(f->revenue, revenue);
	text(c->title, sizeof(c->title), "Top seller #%d: %s", rank, f->name);
	text(c->summary, sizeof(c->summary),
	     "%s brought in %s from %lld units in the last %d days, number %d of your products by revenue.", f->name,
	     revenue, (long long)f->units, FX_INSIGHTS_SALES_DAYS, rank);
	if (f->available < f->units)
		rec(c, "Keep it in stock: the %lld available cover less than %d days at this pace.",
		    (long long)(f->available > 0 ? f->available : 0), FX_INSIGHTS_SALES_DAYS);
	else
		rec(c, "Keep it in stock: %lld available cover the next %d days at this pace.", (long long)f->available,
		    FX_INSIGHTS_SALES_DAYS);
	rec(c, "Feature it on your storefront and channels, and pair it with slower products.");
	fx_map_set_int(&c->metrics, "rank", rank);
	fx_map_set_int(&c->metrics, "revenue30dCents", f->revenue);
	fx_map_set_int(&c->metrics, "unitsSold30d", f->units);
	fx_map_set_int(&c->metrics, "available", f->available);
}

static int cmp_sales(const void *a, const void *b)
{
	const struct fx_sales *const *x = a, *const *y = b;

	return strcmp((*x)->product_id, (*y)->product_id);
}

/* True when a ranks before b as a top seller. */
static bool sells_better(const struct facts *a, const struct facts *b)
{
	if (a->revenue != b->revenue)
		return a->revenue > b->revenue;
	if (a->units != b->units)
		return a->units > b->units;
	return strcmp(a->doc->id, b->doc->id) < 0;
}

int fx_insights_rules(const struct fx_doc *products, size_t nproducts, const struct fx_sales *sales, size_t nsales,
		      int64_t revenue_this_week, int64_t revenue_last_week, int64_t now, struct fx_candidate **out,
		      size_t *n, struct fx_err *e)
{
	struct list l = {0};
	const struct fx_sales **index = NULL;
	struct facts top[FX_INSIGHTS_TOP_SELLERS], f;
	int ntop = 0;

	*out = NULL;
	*n = 0;
	if (nproducts > FX_INSIGHTS_MAX_PRODUCTS)
		return fx_err_set(e, FX_FAILED_PRECONDITION, "more than %d products: too many to generate insights for",
				  FX_INSIGHTS_MAX_PRODUCTS);
	if (nsales > 0) {
		index = fx_mem_xmalloc(nsales * sizeof(*index));
		for (size_t i = 0; i < nsales; i++)
			index[i] = &sales[i];
		qsort(index, nsales, sizeof(*index), cmp_sales);
	}
	sales_trend(&l, revenue_this_week, revenue_last_week);
	for (size_t i = 0; i < nproducts; i++) {
		const struct fx_doc *p = &products[i];
		const char *status = fx_value_path_str(&p->fields, "status");
		struct fx_sales key = {0}, *kp = &key;
		const struct fx_sales **hit = NULL;

		if (!p->id || !fx_model_id_valid(p->id) || (status && strcmp(status, "archived") == 0))
			continue;
		key.product_id = p->id;
		if (index)
			hit = bsearch(&kp, index, nsales, sizeof(*index), cmp_sales);
		read_facts(p, hit ? *hit : NULL, &f);
		low_stock(&l, &f);
		stockout_risk(&l, &f);
		slow_mover(&l, &f, now);
		if (f.revenue > 0) {
			/* Insertion into the short ranking. */
			int at = ntop;

			while (at > 0 && sells_better(&f, &top[at - 1]))
				at--;
			if (at < FX_INSIGHTS_TOP_SELLERS) {
				if (ntop < FX_INSIGHTS_TOP_SELLERS)
					ntop++;
				if (fx_str_mem_move(&top[at + 1],
						    (size_t)(FX_INSIGHTS_TOP_SELLERS - 1 - at) * sizeof(top[0]),
						    &top[at], (size_t)(ntop - 1 - at) * sizeof(top[0])) == 0)
					top[at] = f;
			}
		}
	}
	for (int i = 0; i < ntop; i++)
		top_seller(&l, &top[i], i + 1);
	free(index);
	*out = l.c;
	*n = l.n;
	return 0;
}

void fx_insights_candidates_free(struct fx_candidate *c, size_t n)
{
	if (!c)
		return;
	for (size_t i = 0; i < n; i++)
		fx_value_cleanup(&c[i].metrics);
	free(c);
}

int fx_insights_key(const char *type, const char *product_id, char *out, size_t len, struct fx_err *e)
{
	if (fx_str_fmt(out, len, "%s_%s", type, product_id && *product_id ? product_id : "org") < 0 ||
	    !fx_model_id_valid(out))
		return fx_err_set(e, FX_INTERNAL, "insight key of %s does not fit an id", type);
	return 0;
}

/* ---- generation ---- */

/*
 * The organization as lib/tenant sees a request of it: every path, filter
 * and stamp below comes from org_id through the same functions handlers
 * use, although no user request is behind a scheduled run.
 */
struct scope {
	struct fx_arena arena;
	struct fx_principal principal;
	struct fx_req req;
};

static void scope_init(struct scope *s, const char *org_id, const char *by)
{
	memset(s, 0, sizeof(*s));
	fx_arena_init(&s->arena, SCOPE_ARENA);
	s->principal.uid = by;
	s->principal.organization_id = org_id;
	s->req.arena = &s->arena;
	s->req.principal = &s->principal;
}

struct product_ref {
	const char *id;
	size_t i;
};

/* What generation gathers before the rules run. */
struct dataset {
	int64_t now;
	struct fx_doc *products;
	size_t nproducts, cap;
	struct product_ref *by_id; /* sorted by id */
	struct fx_sales *sales; /* parallel to products */
	int64_t this_week, last_week;
	size_t norders;
};

struct scan {
	const char *collection;
	const char *what; /* plural, for the bound's message */
	const char *order_field; /* then __name__ in the same direction; NULL: __name__ only */
	bool descending;
	int64_t since; /* order_field >= since (a timestamp) when order_field is set */
	const char *const *select;
	size_t nselect;
	int page_size;
	size_t max;
	int (*page)(void *sc, struct fx_doc *docs, size_t n, struct fx_err *e); /* sc: this struct scan */
	struct dataset *d;
};

static int scan_over(void *ctx, struct fx_err *e)
{
	const struct scan *sc = ctx;

	return fx_err_set(e, FX_FAILED_PRECONDITION, "more than %zu %s: too many to generate insights for", sc->max,
			  sc->what);
}

/* Reads a collection of the organization page by page through a cursor, at most sc->max documents. */
static int scan(struct scope *s, const struct scan *sc, struct fx_err *e)
{
	struct fx_scan run = {.order_field = sc->order_field,
			      .page_size = sc->page_size,
			      .max = sc->max,
			      .page = sc->page,
			      .over = scan_over,
			      .ctx = (void *)sc};
	struct fx_value v = {0};
	int rc = -1;

	run.q = fx_tenant_query(&s->req, NULL, sc->collection, &run.parent_rel, e);
	if (!run.q)
		return -1;
	if (sc->order_field) {
		fx_value_ts(&v, sc->since, 0);
		if (fx_fsquery_where(run.q, sc->order_field, ">=", &v, e) < 0 ||
		    fx_fsquery_order_by(run.q, sc->order_field, sc->descending, e) < 0)
			goto out;
	}
	if (fx_fsquery_order_by(run.q, "__name__", sc->descending, e) < 0 ||
	    fx_fsquery_select(run.q, sc->select, sc->nselect, e) < 0)
		goto out;
	rc = fx_model_scan_run(&run, e);
out:
	fx_value_cleanup(&v);
	fx_fsquery_free(run.q);
	return rc;
}

/* Takes the page's products (their structs move into d; the page keeps zeroed ones). */
static int products_page(void *sc, struct fx_doc *docs, size_t n, struct fx_err *e)
{
	struct dataset *d = ((const struct scan *)sc)->d;

	(void)e;
	for (size_t i = 0; i < n; i++) {
		if (!docs[i].name)
			continue;
		if (d->nproducts == d->cap) {
			d->cap = d->cap ? d->cap * 2 : 256;
			d->products = fx_mem_xrealloc(d->products, d->cap * sizeof(*d->products));
		}
		d->products[d->nproducts++] = docs[i];
		memset(&docs[i], 0, sizeof(docs[i]));
	}
	return 0;
}

static int cmp_product_ref(const void *a, const void *b)
{
	return strcmp(((const struct product_ref *)a)->id, ((const struct product_ref *)b)->id);
}

/* The index of product id in d, or -1. */
static long find_product(const struct dataset *d, const char *id)
{
	struct product_ref key = {id, 0};
	const struct product_ref *hit;

	hit = d->nproducts ? bsearch(&key, d->by_id, d->nproducts, sizeof(*d->by_id), cmp_product_ref) : NULL;
	return hit ? (long)hit->i : -1;
}

/* Adds the page's non-cancelled orders to the sales of their products and to the weekly revenue. */
static int orders_page(void *sc, struct fx_doc *docs, size_t n, struct fx_err *e)
{
	struct dataset *d = ((const struct scan *)sc)->d;

	(void)e;
	for (size_t i = 0; i < n; i++) {
		const struct fx_value *created = fx_value_path(&docs[i].fields, "createdAt");
		const struct fx_value *items = fx_value_path(&docs[i].fields, "items");
		const char *status = fx_value_path_str(&docs[i].fields, "status");
		int64_t at, total = 0;

		if (!created || created->type != FX_V_TIMESTAMP || (status && strcmp(status, "cancelled") == 0))
			continue;
		d->norders++;
		at = created->u.ts.secs;
		fx_value_path_int(&docs[i].fields, "totalCents", &total);
		if (at >= d->now - 7 * DAY)
			d->this_week = sat_add(d->this_week, total);
		else if (at >= d->now - 14 * DAY)
			d->last_week = sat_add(d->last_week, total);
		for (size_t k = 0; items && items->type == FX_V_ARRAY && k < items->u.arr.n; k++) {
			const struct fx_value *it = &items->u.arr.items[k];
			const char *pid = fx_value_path_str(it, "productId");
			int64_t q = 0, line = 0;
			struct fx_sales *s;
			long p;

			if (!pid || (p = find_product(d, pid)) < 0)
				continue;
			s = &d->sales[p];
			fx_value_path_int(it, "quantity", &q);
			fx_value_path_int(it, "lineTotalCents", &line);
			if (at >= d->now - (int64_t)FX_INSIGHTS_SALES_DAYS * DAY) {
				s->units_30d = sat_add(s->units_30d, q);
				s->revenue_30d_cents = sat_add(s->revenue_30d_cents, line);
			}
			if (at > s->last_sale_secs)
				s->last_sale_secs = at;
		}
	}
	return 0;
}

static void dataset_cleanup(struct dataset *d)
{
	fx_firestore_docs_free(d->products, d->nproducts);
	free(d->by_id);
	free(d->sales);
	memset(d, 0, sizeof(*d));
}

static int gather(struct scope *s, struct dataset *d, struct fx_err *e)
{
	static const char *const product_fields[] = {"name", "sku", "status", "priceCents", "stock", "createdAt"};
	static const char *const order_fields[] = {"status", "createdAt", "items", "totalCents"};
	const struct scan products = {.collection = "products",
				      .what = "products",
				      .select = product_fields,
				      .nselect = 6,
				      .page_size = PRODUCT_PAGE,
				      .max = FX_INSIGHTS_MAX_PRODUCTS,
				      .page = products_page,
				      .d = d};
	/* Newest first: the index the orders list uses. */
	const struct scan orders = {.collection = "orders",
				    .what = "orders in the last 60 days",
				    .order_field = "createdAt",
				    .descending = true,
				    .since = d->now - (int64_t)FX_INSIGHTS_SLOW_DAYS * DAY,
				    .select = order_fields,
				    .nselect = 4,
				    .page_size = ORDER_PAGE,
				    .max = FX_INSIGHTS_MAX_ORDERS,
				    .page = orders_page,
				    .d = d};

	if (scan(s, &products, e) < 0)
		return -1;
	d->by_id = fx_mem_xcalloc(d->nproducts ? d->nproducts : 1, sizeof(*d->by_id));
	d->sales = fx_mem_xcalloc(d->nproducts ? d->nproducts : 1, sizeof(*d->sales));
	for (size_t i = 0; i < d->nproducts; i++) {
		d->by_id[i].id = d->products[i].id;
		d->by_id[i].i = i;
		d->sales[i].product_id = d->products[i].id;
	}
	qsort(d->by_id, d->nproducts, sizeof(*d->by_id), cmp_product_ref);
	return scan(s, &orders, e);
}

/* Who wrote a candidate's summary and recommendations. */
struct origin {
	bool vertex; /* Gemini on Vertex AI, else the rules */
	char model[64];
};

/* One transaction's share of the candidates. */
struct upsert {
	struct scope *s;
	const struct fx_candidate *c;
	const struct origin *o; /* parallel to c */
	size_t n;
	const char *key_rel[UPSERT_CHUNK];
	int created, updated;
};

/* The fields generation writes on every run (FX_V_MAP map). */
static void insight_fields(struct fx_value *map, const struct fx_candidate *c, const struct origin *o, const char *by)
{
	struct fx_value *recs;

	fx_map_set_str(map, "severity", c->severity);
	fx_map_set_str(map, "title", c->title);
	fx_map_set_str(map, "summary", c->summary);
	fx_value_copy(fx_map_set(map, "metrics"), &c->metrics);
	recs = fx_map_set(map, "recommendations");
	fx_value_array(recs);
	for (int i = 0; i < c->nrec; i++)
		fx_value_string(fx_value_push(recs), c->recommendations[i], strlen(c->recommendations[i]));
	fx_map_set_str(map, "source", o->vertex ? "vertex-ai" : "rules");
	if (o->vertex)
		fx_map_set_str(map, "model", o->model);
	fx_map_set_str(map, "generatedBy", by);
	fx_model_map_set_now(map, "updatedAt");
}

/* True when doc is an open insight of the organization for c's key. */
static bool still_open(const struct fx_req *r, const struct fx_doc *doc, const struct fx_candidate *c)
{
	const char *status = fx_value_path_str(&doc->fields, "status");
	const char *type = fx_value_path_str(&doc->fields, "type");
	const char *product = fx_value_path_str(&doc->fields, "productId");
	const char *channel = fx_value_path_str(&doc->fields, "channelId");

	return fx_tenant_owns(r, doc) && status &&
	       (strcmp(status, "open") == 0 || strcmp(status, "acknowledged") == 0) && type &&
	       strcmp(type, c->type) == 0 && strcmp(product ? product : "", c->product_id) == 0 &&
	       strcmp(channel ? channel : "", c->channel_id) == 0;
}

static int write_update(struct upsert *u, json_object *writes, const struct fx_doc *cur, size_t i, struct fx_err *e)
{
	/* Without a model in map, a rule-written text drops the model of an earlier one. */
	static const char *const mask[] = {"severity", "title",	      "summary",   "metrics", "recommendations",
					   "source",   "generatedBy", "updatedAt", "model",   NULL};
	struct fx_value map = {0};
	char *name = fx_mem_xstrdup(cur->name);
	int rc;

	fx_value_map(&map);
	insight_fields(&map, &u->c[i], &u->o[i], u->s->principal.uid);
	rc = fx_fswrite_update(writes, name, &map, mask, cur->update_time, NULL, e);
	fx_value_cleanup(&map);
	free(name);
	return rc;
}

/* The webhook event insight.created of the new insight id (fields map), in the commit that creates it. */
static int insight_event(const struct fx_req *r, json_object *writes, const char *id, const struct fx_value *map,
			 struct fx_err *e)
{
	static const char *const hidden[] = {"organizationId", NULL};
	struct fx_doc d = {0};
	json_object *data;
	int rc;

	d.id = id;
	d.fields = *map;
	data = fx_model_doc_json(&d, hidden);
	json_object_object_del(data, "etag");
	rc = fx_webhook_event_add(writes, r->principal->organization_id, "insight.created", "insight", id, NULL, 0,
				  data, e);
	json_object_put(data);
	return rc;
}

static int write_create(struct upsert *u, json_object *writes, const struct fx_doc *key, size_t i, struct fx_err *e)
{
	static const char *const key_mask[] = {"insightId", "type", "productId", "organizationId", "updatedAt", NULL};
	struct fx_req *r = &u->s->req;
	const struct fx_candidate *c = &u->c[i];
	struct fx_value map = {0}, kmap = {0};
	char id[FX_ID_LEN + 1], *name = NULL, *key_name = NULL;
	const char *rel;
	int rc = -1;

	fx_model_id_new(id);
	rel = fx_tenant_path(r, NULL, "insights", id, "insight", e);
	if (!rel)
		return -1;
	fx_value_map(&map);
	fx_map_set_str(&map, "type", c->type);
	if (c->product_id[0])
		fx_map_set_str(&map, "productId", c->product_id);
	if (c->channel_id[0])
		fx_map_set_str(&map, "channelId", c->channel_id);
	insight_fields(&map, c, &u->o[i], u->s->principal.uid);
	fx_map_set_str(&map, "status", "open");
	fx_model_map_set_now(&map, "createdAt");
	fx_tenant_stamp(r, &map);
	fx_value_map(&kmap);
	fx_map_set_str(&kmap, "insightId", id);
	fx_map_set_str(&kmap, "type", c->type);
	if (c->product_id[0])
		fx_map_set_str(&kmap, "productId", c->product_id);
	fx_tenant_stamp(r, &kmap);
	fx_model_map_set_now(&kmap, "updatedAt");
	name = fx_tenant_name(rel);
	key_name = fx_tenant_name(u->key_rel[i]);
	if (fx_fswrite_create(writes, name, &map, NULL, e) < 0 || insight_event(r, writes, id, &map, e) < 0)
		goto out;
	/* The key moves to the new insight only if it is still the version read (or still missing). */
	if (key->name)
		rc = fx_fswrite_update(writes, key_name, &kmap, key_mask, key->update_time, NULL, e);
	else
		rc = fx_fswrite_create(writes, key_name, &kmap, NULL, e);
out:
	fx_value_cleanup(&map);
	fx_value_cleanup(&kmap);
	free(name);
	free(key_name);
	return rc;
}

static int upsert_txn(struct fx_txn *t, void *arg, struct fx_err *e)
{
	struct upsert *u = arg;
	struct fx_req *r = &u->s->req;
	struct fx_doc keys[UPSERT_CHUNK], cur[UPSERT_CHUNK];
	const char *cur_rel[UPSERT_CHUNK];
	size_t at[UPSERT_CHUNK], ncur = 0;
	int rc = -1;

	memset(keys, 0, sizeof(keys));
	memset(cur, 0, sizeof(cur));
	u->created = u->updated = 0;
	if (fx_firestore_batch_get(u->key_rel, u->n, t->id, keys, e) < 0)
		return -1;
	for (size_t i = 0; i < u->n; i++) {
		const char *id = fx_tenant_owns(r, &keys[i]) ? fx_value_path_str(&keys[i].fields, "insightId") : NULL;

		at[i] = SIZE_MAX;
		if (!id || !fx_model_id_valid(id))
			continue;
		if (!(cur_rel[ncur] = fx_tenant_path(r, NULL, "insights", id, "insight", e)))
			goto out;
		at[i] = ncur++;
	}
	if (ncur > 0 && fx_firestore_batch_get(cur_rel, ncur, t->id, cur, e) < 0)
		goto out;
	for (size_t i = 0; i < u->n; i++) {
		if (at[i] != SIZE_MAX && still_open(r, &cur[at[i]], &u->c[i])) {
			if (write_update(u, t->writes, &cur[at[i]], i, e) < 0)
				goto out;
			u->updated++;
		} else {
			if (write_create(u, t->writes, &keys[i], i, e) < 0)
				goto out;
			u->created++;
		}
	}
	rc = 0;
out:
	for (size_t i = 0; i < u->n; i++)
		fx_firestore_doc_cleanup(&keys[i]);
	for (size_t i = 0; i < ncur; i++)
		fx_firestore_doc_cleanup(&cur[i]);
	return rc;
}

/* True for the commit errors of a chunk that raced another writer of the same keys. */
static bool lost_race(const struct fx_err *e)
{
	return fx_err_is(e, FX_ALREADY_EXISTS) || fx_err_is(e, FX_FAILED_PRECONDITION);
}

static int upsert(struct scope *s, const struct fx_candidate *c, const struct origin *o, size_t n, int *created,
		  int *updated, struct fx_err *e)
{
	for (size_t from = 0; from < n; from += UPSERT_CHUNK) {
		struct upsert u = {0};
		char key[160];
		int rc = -1;

		fx_arena_reset(&s->arena);
		u.s = s;
		u.c = c + from;
		u.o = o + from;
		u.n = n - from < UPSERT_CHUNK ? n - from : UPSERT_CHUNK;
		for (size_t i = 0; i < u.n; i++) {
			const char *subject = u.c[i].product_id[0] ? u.c[i].product_id : u.c[i].channel_id;

			if (fx_insights_key(u.c[i].type, subject, key, sizeof(key), e) < 0 ||
			    !(u.key_rel[i] = fx_tenant_path(&s->req, NULL, "insightKeys", key, "insight key", e)))
				return -1;
		}
		for (int attempt = 0; attempt < UPSERT_TRIES && rc < 0; attempt++) {
			fx_err_clear(e);
			rc = fx_firestore_run_transaction(upsert_txn, &u, e);
			if (rc < 0 && !lost_race(e))
				return -1;
		}
		if (rc < 0)
			return -1;
		*created += u.created;
		*updated += u.updated;
	}
	return 0;
}

/* A metric as Gemini reads it: integers and decimals as they are, null as "none". */
static void fact_text(const struct fx_value *v, char *out, size_t len)
{
	switch (v->type) {
	case FX_V_INT: fx_str_text(out, len, "%lld", (long long)v->u.i); break;
	case FX_V_DOUBLE: fx_str_text(out, len, "%.10g", v->u.d); break;
	case FX_V_STRING: fx_str_text(out, len, "%s", v->u.s.p); break;
	default: fx_str_text(out, len, "none"); break;
	}
}

static int severity_rank(const char *severity)
{
	return strcmp(severity, "critical") == 0 ? 0 : strcmp(severity, "warning") == 0 ? 1 : 2;
}

/*
 * With Vertex AI configured, Gemini rewrites the candidates' summary and
 * recommendations from their metrics and the product's name only, most
 * severe first. Any failure keeps that candidate's rule text; one that is
 * not about the candidate itself (Vertex AI down, refusing or
 * misconfigured) and the time budget end the rewriting for this run.
 */
static void vertex_rewrite(const struct dataset *d, struct fx_candidate *c, struct origin *o, size_t n)
{
	struct fx_vertex_fact facts[FX_VERTEX_MAX_FACTS];
	char values[FX_VERTEX_MAX_FACTS][FX_VERTEX_MAX_FACT_VALUE + 1];
	long start;

	if (!fx_vertex_enabled())
		return;
	start = fx_clock_ms();
	for (int rank = 0; rank < 3; rank++) {
		for (size_t i = 0; i < n; i++) {
			struct fx_vertex_insight in = {c[i].type, NULL, facts, 0};
			struct fx_vertex_text text;
			struct fx_err e;
			long p;

			if (severity_rank(c[i].severity) != rank)
				continue;
			if (fx_clock_ms() - start > VERTEX_BUDGET_MS) {
				fx_log_warn("insights: Vertex AI time budget spent, later insights keep the rule text");
				return;
			}
			if (c[i].product_id[0] && (p = find_product(d, c[i].product_id)) >= 0) {
				const struct fx_doc *prod = &d->products[p];
				const char *name = fx_value_path_str(&prod->fields, "name");

				if (!name || strlen(name) > FX_VERTEX_MAX_PRODUCT)
					name = fx_value_path_str(&prod->fields, "sku");
				in.product_name = name;
			}
			for (size_t k = 0; k < c[i].metrics.u.map.n && in.nfacts < FX_VERTEX_MAX_FACTS; k++) {
				const struct fx_field *f = &c[i].metrics.u.map.fields[k];

				fact_text(&f->value, values[in.nfacts], sizeof(values[0]));
				facts[in.nfacts].name = f->name;
				facts[in.nfacts].value = values[in.nfacts];
				in.nfacts++;
			}
			fx_err_clear(&e);
			if (fx_vertex_write(&in, &text, &e) < 0) {
				fx_log_warn("insights: Vertex AI text for %s %s failed, the rule text stands: %d %s",
					    c[i].type, c[i].product_id[0] ? c[i].product_id : "(organization)",
					    fx_err_http(e.kind), e.message);
				if (fx_err_http(e.kind) == 500 || fx_err_http(e.kind) == 503)
					return;
				continue;
			}
			fx_str_text(c[i].summary, sizeof(c[i].summary), "%s", text.summary);
			c[i].nrec = 0;
			for (int k = 0; k < text.nrecommendations && k < 3; k++)
				fx_str_text(c[i].recommendations[c[i].nrec++], sizeof(c[i].recommendations[0]), "%s",
					    text.recommendations[k]);
			o[i].vertex = true;
			if (fx_str_set(o[i].model, sizeof(o[i].model), text.model) < 0)
				o[i].model[0] = '\0'; /* a name that long is no model we asked for: none recorded */
		}
	}
}

int fx_insights_generate(const char *org_id, const char *by, int *created, int *updated, struct fx_err *e)
{
	struct scope *s = NULL;
	struct dataset d = {0};
	struct fx_candidate *c = NULL;
	struct origin *o = NULL;
	size_t n = 0;
	int32_t nanos;
	int rc = -1;

	*created = *updated = 0;
	if (!org_id || !fx_model_id_valid(org_id))
		return fx_err_set(e, FX_NOT_FOUND, "%s not found", "organization");
	s = fx_mem_xmalloc(sizeof(*s));
	scope_init(s, org_id, by && *by ? by : "unknown");
	fx_ts_now(&d.now, &nanos);
	if (gather(s, &d, e) < 0 || fx_insights_rules(d.products, d.nproducts, d.sales, d.nproducts, d.this_week,
						      d.last_week, d.now, &c, &n, e) < 0)
		goto out;
	o = fx_mem_xcalloc(n ? n : 1, sizeof(*o));
	vertex_rewrite(&d, c, o, n);
	if (upsert(s, c, o, n, created, updated, e) < 0)
		goto out;
	fx_log_info("insights of %s: %d created, %d updated from %zu products and %zu orders", org_id, *created,
		    *updated, d.nproducts, d.norders);
	rc = 0;
out:
	fx_insights_candidates_free(c, n);
	free(o);
	dataset_cleanup(&d);
	if (s)
		fx_arena_cleanup(&s->arena);
	free(s);
	return rc;
}

int fx_insights_raise_now(const char *org_id, const char *by, const struct fx_candidate *c, struct fx_err *e)
{
	struct scope *s;
	struct origin o = {0};
	int created = 0, updated = 0, rc;

	if (!org_id || !fx_model_id_valid(org_id))
		return fx_err_set(e, FX_NOT_FOUND, "%s not found", "organization");
	s = fx_mem_xcalloc(1, sizeof(*s));
	scope_init(s, org_id, by && *by ? by : "unknown");
	rc = upsert(s, c, &o, 1, &created, &updated, e);
	fx_arena_cleanup(&s->arena);
	free(s);
	return rc;
}

/* ---- one insight raised by an event (oversold order, refused credentials) ---- */

int fx_insights_raise(const struct fx_req *r, struct fx_txn *t, const struct fx_candidate *c, bool *raised,
		      struct fx_err *e)
{
	static const char *const key_mask[] = {"insightId", "type", "productId", "organizationId", "updatedAt", NULL};
	struct fx_doc key = {0}, cur = {0};
	struct fx_value map = {0}, kmap = {0}, *recs;
	char kid[160], id[FX_ID_LEN + 1], *name = NULL, *key_name = NULL;
	const char *key_rel, *rel, *paths[1], *cur_id;
	int rc = -1;

	*raised = false;
	if (fx_insights_key(c->type, c->product_id, kid, sizeof(kid), e) < 0 ||
	    !(key_rel = fx_tenant_path(r, NULL, "insightKeys", kid, "insight key", e)))
		return -1;
	paths[0] = key_rel;
	if (fx_firestore_batch_get(paths, 1, t->id, &key, e) < 0)
		return -1;
	cur_id = fx_tenant_owns(r, &key) ? fx_value_path_str(&key.fields, "insightId") : NULL;
	if (cur_id) {
		if (!(paths[0] = fx_tenant_path(r, NULL, "insights", cur_id, "insight", e)) ||
		    fx_firestore_batch_get(paths, 1, t->id, &cur, e) < 0)
			goto out;
		if (still_open(r, &cur, c)) {
			rc = 0; /* one open insight per (type, product): it already says so */
			goto out;
		}
	}
	fx_model_id_new(id);
	if (!(rel = fx_tenant_path(r, NULL, "insights", id, "insight", e)))
		goto out;
	fx_value_map(&map);
	fx_map_set_str(&map, "type", c->type);
	if (c->product_id[0])
		fx_map_set_str(&map, "productId", c->product_id);
	fx_map_set_str(&map, "severity", c->severity);
	fx_map_set_str(&map, "title", c->title);
	fx_map_set_str(&map, "summary", c->summary);
	if (c->metrics.type == FX_V_MAP)
		fx_value_copy(fx_map_set(&map, "metrics"), &c->metrics);
	else
		fx_value_map(fx_map_set(&map, "metrics"));
	recs = fx_map_set(&map, "recommendations");
	fx_value_array(recs);
	for (int i = 0; i < c->nrec; i++)
		fx_value_string(fx_value_push(recs), c->recommendations[i], strlen(c->recommendations[i]));
	fx_map_set_str(&map, "source", "rules");
	fx_map_set_str(&map, "generatedBy", r->principal->uid);
	fx_map_set_str(&map, "status", "open");
	fx_model_map_set_now(&map, "createdAt");
	fx_model_map_set_now(&map, "updatedAt");
	fx_tenant_stamp(r, &map);
	fx_value_map(&kmap);
	fx_map_set_str(&kmap, "insightId", id);
	fx_map_set_str(&kmap, "type", c->type);
	if (c->product_id[0])
		fx_map_set_str(&kmap, "productId", c->product_id);
	fx_tenant_stamp(r, &kmap);
	fx_model_map_set_now(&kmap, "updatedAt");
	name = fx_tenant_name(rel);
	key_name = fx_tenant_name(key_rel);
	if (fx_fswrite_create(t->writes, name, &map, NULL, e) < 0 || insight_event(r, t->writes, id, &map, e) < 0)
		goto out;
	/* The key moves to the new insight only if it is still the version read (or still missing). */
	rc = key.name ? fx_fswrite_update(t->writes, key_name, &kmap, key_mask, key.update_time, NULL, e)
		      : fx_fswrite_create(t->writes, key_name, &kmap, NULL, e);
	*raised = rc == 0;
out:
	fx_value_cleanup(&map);
	fx_value_cleanup(&kmap);
	free(name);
	free(key_name);
	fx_firestore_doc_cleanup(&key);
	fx_firestore_doc_cleanup(&cur);
	return rc;
}
