/*
 * fx_arena: request-scoped memory. Everything allocated from an arena is
 * freed at once by fx_arena_reset/fx_arena_cleanup; nothing is freed alone.
 * An arena has a byte budget; allocation past it aborts the request with
 * an error (NULL return), never the process.
 */
#ifndef FX_ARENA_H
#define FX_ARENA_H

#include "err.h"

#include <stddef.h>

struct fx_arena_block;

struct fx_arena {
	struct fx_arena_block *head;
	size_t used; /* bytes handed out since the last reset */
	size_t limit; /* budget for one request */
};

void fx_arena_init(struct fx_arena *a, size_t limit);

/* Frees every block. Accepts NULL. */
void fx_arena_cleanup(struct fx_arena *a);

/* Frees everything but the first block, ready for the next request. */
void fx_arena_reset(struct fx_arena *a);

/* Returns n bytes aligned for any type, or NULL when over budget. */
FX_MUST_USE void *fx_arena_alloc(struct fx_arena *a, size_t n);

/* Copies n bytes of s plus a NUL; NULL when over budget. */
FX_MUST_USE char *fx_arena_strndup(struct fx_arena *a, const char *s, size_t n);
FX_MUST_USE char *fx_arena_strdup(struct fx_arena *a, const char *s);

/* Formats into arena memory; NULL when over budget. */
FX_MUST_USE char *fx_arena_printf(struct fx_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
