/*
 * fuzz_gcssign: V4 signed-URL canonicalisation (object names, extra query
 * parameters, signed headers, hosts and paths). The input is lines:
 * "style expires now", method, bucket, object, host, scheme, email, path
 * (an empty line is NULL for object, host, scheme and path), then header
 * lines up to an empty line, then query key and value lines. The signer
 * is a stub. A URL that is made must be printable ASCII without spaces,
 * and the canonical request must start with the method.
 */
#include "buf.h"
#include "gcssign.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINES 96

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int stub_signer(void *ctx, const char *p, size_t n, unsigned char *sig, size_t *sig_len, struct fx_err *e)
{
	(void)ctx;
	(void)e;
	if (*sig_len < 256)
		abort();
	for (size_t i = 0; i < 256; i++)
		sig[i] = (unsigned char)(n + i + (n ? (unsigned char)p[i % n] : 0));
	*sig_len = 256;
	return 0;
}

static const char *or_null(const char *s)
{
	return s && *s ? s : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *line[MAX_LINES] = {0}, *p, *end;
	const char *headers[MAX_LINES + 1] = {0}, *query[MAX_LINES + 1] = {0};
	struct fx_signed_url_req q = {0};
	struct fx_buf url, cr, sts;
	struct fx_err e;
	size_t n = 0, i, nh = 0, nq = 0;
	long long style;

	memcpy(text, data, size);
	text[size] = '\0';
	for (p = text; n < MAX_LINES; p = end + 1) {
		line[n++] = p;
		end = strchr(p, '\n');
		if (!end)
			break;
		*end = '\0';
	}
	style = strtoll(line[0], &p, 10);
	q.style = style == 1   ? FX_GCS_VIRTUAL_HOSTED_STYLE
		  : style == 2 ? FX_GCS_BUCKET_BOUND_HOSTNAME
			       : FX_GCS_PATH_STYLE;
	q.expires_s = strtoll(p, &p, 10);
	q.now = strtoll(p, &p, 10);
	q.method = n > 1 ? line[1] : NULL;
	q.bucket = n > 2 ? line[2] : NULL;
	q.object = n > 3 ? or_null(line[3]) : NULL;
	q.host = n > 4 ? or_null(line[4]) : NULL;
	q.scheme = n > 5 ? or_null(line[5]) : NULL;
	q.email = n > 6 ? line[6] : NULL;
	q.path = n > 7 ? or_null(line[7]) : NULL;
	for (i = 8; i < n && line[i][0]; i++)
		headers[nh++] = line[i];
	for (i++; i < n; i++)
		query[nq++] = line[i];
	q.headers = nh ? headers : NULL;
	q.query = nq ? query : NULL;

	fx_buf_init(&url, 16384);
	fx_buf_init(&cr, 65536);
	fx_buf_init(&sts, 4096);
	fx_err_clear(&e);
	if (fx_gcssign_signed_url(&q, stub_signer, NULL, &url, &cr, &sts, &e) == 0) {
		for (i = 0; i < url.len; i++)
			if ((unsigned char)url.data[i] <= 0x20 || (unsigned char)url.data[i] >= 0x7f)
				abort();
		if (strncmp(cr.data, q.method, strlen(q.method)) != 0 || cr.data[strlen(q.method)] != '\n')
			abort();
	} else if (fx_err_http(e.kind) != 400) {
		abort();
	}
	fx_buf_cleanup(&url);
	fx_buf_cleanup(&cr);
	fx_buf_cleanup(&sts);
	free(text);
	return 0;
}
