/*
 * fx_b64: base64 (RFC 4648 §4, "+/" with "=" padding) and base64url
 * (§5, "-_", written without padding), and a reader of either. Encoders write into the caller's
 * buffer or append to an fx_buf; decoders are strict (no whitespace, no
 * foreign alphabet, no stray padding, no non-zero trailing bits) and never
 * write past the caller's bound. Nothing here allocates or keeps state.
 */
#ifndef FX_B64_H
#define FX_B64_H

#include "buf.h"
#include "err.h"

#include <stddef.h>

/* Length of the padded standard encoding of n bytes, without the NUL. */
size_t fx_b64_encoded_len(size_t n);

/* Length of the unpadded base64url encoding of n bytes, without the NUL. */
size_t fx_b64_url_encoded_len(size_t n);

/* An upper bound of the bytes that decoding n characters can produce. */
size_t fx_b64_decoded_max(size_t n);

/*
 * Encodes n bytes of p as padded standard base64 into out, NUL-terminated.
 * Returns 0, or -1 with 500 INTERNAL when out_len is below
 * fx_b64_encoded_len(n) + 1 (out is then left as "").
 */
FX_MUST_USE int fx_b64_encode(const void *p, size_t n, char *out, size_t out_len, struct fx_err *e);

/* Like fx_b64_encode, in the base64url alphabet without padding. */
FX_MUST_USE int fx_b64_url_encode(const void *p, size_t n, char *out, size_t out_len, struct fx_err *e);

/* Appends the padded standard encoding of p to b; -1 (b unchanged) past its cap. */
FX_MUST_USE int fx_b64_append(struct fx_buf *b, const void *p, size_t n);

/* Appends the unpadded base64url encoding of p to b; same contract. */
FX_MUST_USE int fx_b64_url_append(struct fx_buf *b, const void *p, size_t n);

/*
 * Decodes n characters of padded standard base64 into out (at most out_len
 * bytes) and sets *out_n. The length must be a multiple of 4 with at most
 * two "=" at the end. Returns 0, or -1 with 400 INVALID_ARGUMENT saying
 * what is wrong (never echoing the input), also when the result would not
 * fit in out_len. out is not NUL-terminated; on failure its contents are
 * unspecified (but nothing past out_len is written).
 */
FX_MUST_USE int fx_b64_decode(const char *s, size_t n, void *out, size_t out_len, size_t *out_n, struct fx_err *e);

/*
 * Decodes base64url; padding is optional but, when present, must make the
 * length a multiple of 4. Otherwise the contract of fx_b64_decode.
 */
FX_MUST_USE int fx_b64_url_decode(const char *s, size_t n, void *out, size_t out_len, size_t *out_n, struct fx_err *e);

/*
 * Decodes either alphabet, whichever the text uses (one character of
 * "+/" and one of "-_" in the same text is refused), padding optional as
 * for fx_b64_url_decode: what proto3 JSON readers accept for bytes
 * (Firestore's bytesValue). Otherwise the contract of fx_b64_decode.
 */
FX_MUST_USE int fx_b64_decode_any(const char *s, size_t n, void *out, size_t out_len, size_t *out_n, struct fx_err *e);

#endif
