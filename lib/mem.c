#include "mem.h"

#include "str.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void oom(void)
{
	static const char msg[] = "{\"severity\":\"CRITICAL\",\"message\":\"out of memory\"}\n";
	ssize_t r = write(2, msg, sizeof(msg) - 1);

	(void)r;
	abort();
}

void *fx_mem_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		oom();
	return p;
}

void *fx_mem_xcalloc(size_t count, size_t size)
{
	void *p = calloc(count ? count : 1, size ? size : 1);

	if (!p)
		oom();
	return p;
}

void *fx_mem_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q)
		oom();
	return q;
}

char *fx_mem_xvasprintf(const char *fmt, va_list ap)
{
	va_list again;
	char *p;
	int n;

	va_copy(again, ap);
	n = fx_str_vlen(fmt, ap);
	if (n < 0)
		abort(); /* a format bug of ours: nothing to recover */
	p = fx_mem_xmalloc((size_t)n + 1);
	if (fx_str_vfmt(p, (size_t)n + 1, fmt, again) < 0)
		abort();
	va_end(again);
	return p;
}

char *fx_mem_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = fx_mem_xvasprintf(fmt, ap);
	va_end(ap);
	return p;
}

char *fx_mem_xmemdup(const void *s, size_t n)
{
	char *p = fx_mem_xmalloc(n + 1);

	/* Cannot fail: p has n + 1 bytes. */
	if (fx_str_mem_copy(p, n + 1, s, n) < 0)
		abort();
	p[n] = '\0';
	return p;
}

char *fx_mem_xstrndup(const char *s, size_t n)
{
	return fx_mem_xmemdup(s, n);
}

char *fx_mem_xstrdup(const char *s)
{
	return fx_mem_xstrndup(s, strlen(s));
}
