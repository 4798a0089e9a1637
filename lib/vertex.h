/*
 * fx_vertex: Gemini on Vertex AI writes an insight's summary and
 * recommendations from aggregated, non-personal figures. The caller owns
 * everything it passes and gets back; nothing here allocates what the
 * caller must free. Gemini's answer is untrusted input: it is parsed
 * strictly, bounded and cleaned of control characters before it is
 * returned, and on any failure the caller keeps its rule-based text.
 */
#ifndef FX_VERTEX_H
#define FX_VERTEX_H

#include "buf.h"
#include "err.h"

#include <stdbool.h>
#include <stddef.h>

#define FX_VERTEX_MAX_SUMMARY 600 /* bytes of UTF-8 */
#define FX_VERTEX_MAX_RECOMMENDATION 200 /* bytes of UTF-8 */
#define FX_VERTEX_MAX_RECOMMENDATIONS 3
#define FX_VERTEX_MAX_FACTS 32
#define FX_VERTEX_MAX_FACT_NAME 64 /* [A-Za-z][A-Za-z0-9_]* */
#define FX_VERTEX_MAX_FACT_VALUE 128
#define FX_VERTEX_MAX_PRODUCT 200
/* Cap on Google's whole answer: 512 output tokens are a few KiB of text. */
#define FX_VERTEX_MAX_RESPONSE (32u << 10)
/* Total time for one fx_vertex_write call, retries included (lowered to the configured http timeout). */
#define FX_VERTEX_TIMEOUT_MS 8000L

/* Aggregated, non-personal figures of one insight, the only data that leaves for Gemini. */
struct fx_vertex_fact {
	const char *name; /* e.g. "daysOfCover"; a name ending in Cents is read as cents */
	const char *value; /* e.g. "9.5" */
};

struct fx_vertex_insight {
	const char *type; /* low_stock, stockout_risk, slow_mover, sales_trend, top_seller */
	const char *product_name; /* catalogue data (name/SKU), not personal data; NULL when none */
	const struct fx_vertex_fact *facts;
	size_t nfacts;
};

struct fx_vertex_text {
	char summary[FX_VERTEX_MAX_SUMMARY + 1];
	char recommendations[FX_VERTEX_MAX_RECOMMENDATIONS][FX_VERTEX_MAX_RECOMMENDATION + 1];
	int nrecommendations;
	char model[64]; /* the answer's modelVersion, else the configured model */
};

/* True when FLUXORI_VERTEX_MODEL is set (config vertex_model). Never fails. */
bool fx_vertex_enabled(void);

/*
 * Asks Gemini to write a summary and one to three recommendations for in.
 * Returns 0 with out filled, or -1 with e and out zeroed (the caller keeps
 * its rule-based text and logs a warning):
 *   400 INVALID_ARGUMENT before any request when in is malformed or a
 *       product name or fact value looks like personal data: an email
 *       address, or a phone number (a digit run, spaces, hyphens and
 *       brackets allowed inside, that starts with "+" and has 8 to 15
 *       digits, starts with 0 and has 9 to 12, is "27" and 9 more, or has
 *       9 to 15 digits in groups, the first of at most 3). Plain figures,
 *       decimals, barcodes and dates pass. The message never repeats the
 *       value;
 *   500 INTERNAL when Vertex AI is off or misconfigured (a location where
 *       Gemini is not served, such as africa-south1) or refuses the request;
 *   503 UNAVAILABLE when no token can be had, Vertex AI cannot be reached
 *       within FX_VERTEX_TIMEOUT_MS, or answers 429/5xx (after at most two
 *       attempts);
 *   502 UNAVAILABLE when the answer exceeds FX_VERTEX_MAX_RESPONSE, was
 *       blocked or cut short (finishReason other than STOP), or is not a
 *       JSON object of exactly {summary: 1..600 bytes, recommendations:
 *       1..3 strings of 1..200 bytes}.
 * Thread-safe.
 */
FX_MUST_USE int fx_vertex_write(const struct fx_vertex_insight *in, struct fx_vertex_text *out, struct fx_err *e);

/*
 * Appends the generateContent URL for the configured project, location and
 * model to url: https://{location}-aiplatform.googleapis.com/v1/projects/
 * {project}/locations/{location}/publishers/google/models/{model}:generateContent,
 * with host aiplatform.googleapis.com for location "global", and config
 * vertex_url in place of scheme and host when set. Returns 0, or -1 with
 * 500 INTERNAL when Vertex AI is off, the project, location or model is
 * unusable, or url's cap is too small.
 */
FX_MUST_USE int fx_vertex_endpoint(struct fx_buf *url, struct fx_err *e);

#endif
