/*
 * defaults: the product's defaults and the backend-call caps that more than
 * one module uses, each named once (as curl lists its DYN_* caps in
 * dynbuf.h). A cap that only one module uses is named in that module: its
 * header when callers see it (FX_PAGE_SIZE_MAX in model.h,
 * FX_DEFAULT_MAX_BODY in router.h, FX_FILE_MAX_DIRECT in files.h), else
 * its .c. Values the contract fixes cite ../shared/API.md.
 */
#ifndef FX_DEFAULTS_H
#define FX_DEFAULTS_H

/* ---- a new organization (POST /v1/organizations) ---- */

/* API.md "money": integer cents, currency ZAR. */
#define FX_DEFAULT_CURRENCY "ZAR"

/* API.md "VAT": an organization's vatRateBps until it sets one (15 %, in basis points). */
#define FX_DEFAULT_VAT_RATE_BPS 1500

/* API.md "time": an organization's timezone until it sets one; report day boundaries follow it. */
#define FX_DEFAULT_TIMEZONE "Africa/Johannesburg"

/* ---- calls to Google (lib/httpc.c and its callers) ---- */

/* A call's total time, retries included, when FLUXORI_HTTP_TIMEOUT_MS is unset. */
#define FX_DEFAULT_HTTP_TIMEOUT_MS 10000

/*
 * A streamed body (a file's bytes) is bounded by how long it stalls, not by
 * its total time: the call's budget becomes the time in which at least
 * FX_STREAM_MIN_BYTES_PER_S must keep arriving, and FX_STREAM_MAX_MS caps
 * the whole transfer (10 MiB at the floor's speed would take hours).
 */
#define FX_STREAM_MIN_BYTES_PER_S 1024
#define FX_STREAM_MAX_MS (10L * 60 * 1000)

/* Time to connect, when FLUXORI_CONNECT_TIMEOUT_MS is unset. */
#define FX_DEFAULT_CONNECT_TIMEOUT_MS 3000

/* Attempts of one call when its request does not say. */
#define FX_DEFAULT_HTTP_ATTEMPTS 4

/*
 * Token endpoints and key servers (OAuth2 token, metadata server, Google's
 * public keys): small answers that gate every request, so a short total
 * time and few attempts, whatever FLUXORI_HTTP_TIMEOUT_MS says.
 */
#define FX_TOKEN_CALL_TIMEOUT_MS 5000
#define FX_TOKEN_CALL_ATTEMPTS 3

#endif
