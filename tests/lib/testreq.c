#include "testreq.h"

#include <criterion/criterion.h>
#include <string.h>

/* The output buffer is full: the stream ends as a broken connection would. */
static void full(FCGX_Stream *s, int do_close)
{
	(void)do_close;
	s->isClosed = 1;
	s->FCGI_errno = -1;
}

void testreq_start(struct fx_req *req, char **env, FCGX_Stream *in, FCGX_Stream *out, unsigned char *sent, size_t cap,
		   struct fx_arena *arena)
{
	struct fx_err e;

	memset(out, 0, sizeof(*out));
	out->wrNext = sent;
	out->stop = out->rdNext = sent + cap;
	out->emptyBuffProc = full;
	fx_arena_init(arena, 1 << 20);
	fx_err_clear(&e);
	cr_assert_eq(fx_http_req_init(req, env, in, out, arena, &e), 0, "%s", e.message);
}
