#include "arena.h"

#include "mem.h"
#include "str.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_SIZE 16384

struct fx_arena_block {
	struct fx_arena_block *next;
	size_t size;
	size_t used;
	max_align_t data[];
};

void fx_arena_init(struct fx_arena *a, size_t limit)
{
	a->head = NULL;
	a->used = 0;
	a->limit = limit;
}

void fx_arena_cleanup(struct fx_arena *a)
{
	struct fx_arena_block *b, *next;

	if (!a)
		return;
	for (b = a->head; b; b = next) {
		next = b->next;
		free(b);
	}
	a->head = NULL;
	a->used = 0;
}

void fx_arena_reset(struct fx_arena *a)
{
	struct fx_arena_block *b, *keep = NULL, *next;

	for (b = a->head; b; b = next) {
		next = b->next;
		if (!next && b->size == BLOCK_SIZE)
			keep = b;
		else
			free(b);
	}
	if (keep) {
		keep->next = NULL;
		keep->used = 0;
	}
	a->head = keep;
	a->used = 0;
}

void *fx_arena_alloc(struct fx_arena *a, size_t n)
{
	const size_t align = sizeof(max_align_t);
	struct fx_arena_block *b = a->head;
	size_t size;
	void *p;

	n = (n + align - 1) / align * align;
	if (n == 0)
		n = align;
	if (n > a->limit || a->used > a->limit - n)
		return NULL;
	if (!b || b->size - b->used < n) {
		size = n > BLOCK_SIZE ? n : BLOCK_SIZE;
		b = fx_mem_xmalloc(sizeof(*b) + size);
		b->size = size;
		b->used = 0;
		/* A large one-off block goes behind the current one so the
		 * current block's free space stays usable. */
		if (a->head && size > BLOCK_SIZE) {
			b->next = a->head->next;
			a->head->next = b;
		} else {
			b->next = a->head;
			a->head = b;
		}
	}
	p = (char *)b->data + b->used;
	b->used += n;
	a->used += n;
	return p;
}

char *fx_arena_strndup(struct fx_arena *a, const char *s, size_t n)
{
	char *p = fx_arena_alloc(a, n + 1);

	if (!p || fx_str_copy(p, n + 1, s, n) < 0)
		return NULL;
	return p;
}

char *fx_arena_strdup(struct fx_arena *a, const char *s)
{
	return fx_arena_strndup(a, s, strlen(s));
}

char *fx_arena_printf(struct fx_arena *a, const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n, rc;

	va_start(ap, fmt);
	n = fx_str_vlen(fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	p = fx_arena_alloc(a, (size_t)n + 1);
	if (!p)
		return NULL;
	va_start(ap, fmt);
	rc = fx_str_vfmt(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return rc < 0 ? NULL : p;
}
