/*
 * Allocation that never returns NULL: out of memory is decided once, here.
 * The process logs and aborts; the supervisor restarts the worker.
 */
#ifndef FX_MEM_H
#define FX_MEM_H

#include <stdarg.h>
#include <stddef.h>

void *fx_mem_xmalloc(size_t n);
void *fx_mem_xcalloc(size_t count, size_t size);
void *fx_mem_xrealloc(void *p, size_t n);
char *fx_mem_xstrdup(const char *s);
char *fx_mem_xstrndup(const char *s, size_t n);

/* A copy of n bytes (NULs included) and a NUL after them. */
char *fx_mem_xmemdup(const void *p, size_t n);

/* Formats into a new string of exactly the size needed (caller frees). */
char *fx_mem_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *fx_mem_xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

#endif
