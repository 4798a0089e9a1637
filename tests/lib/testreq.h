/*
 * testreq: a FastCGI request for unit tests whose answer is written into
 * memory, as the worker would send it to nginx. Ownership: the caller owns
 * every argument; testreq_start fills req and arena and points out at the
 * caller's buffer; fx_http_req_cleanup and fx_arena_cleanup end them as usual.
 */
#ifndef FX_TESTREQ_H
#define FX_TESTREQ_H

#include "arena.h"
#include "http.h"

#include <stddef.h>

/*
 * Starts req from env (NULL-terminated "NAME=value" FastCGI params), reading
 * its body from in (NULL: none) and writing its answer through out into the
 * cap bytes at sent; an answer that outgrows them closes out with an error.
 * Fails the test when fx_http_req_init refuses.
 */
void testreq_start(struct fx_req *req, char **env, FCGX_Stream *in, FCGX_Stream *out, unsigned char *sent, size_t cap,
		   struct fx_arena *arena);

#endif
