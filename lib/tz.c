#include "tz.h"

#include "mem.h"
#include "str.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_DIR "/usr/share/zoneinfo"
#define MAX_LIST_BYTES (8u * 1024 * 1024)
#define MAX_NAMES 4096

static const struct {
	const char *name;
	int32_t offset;
} fixed[] = {
	{"Africa/Johannesburg", 2 * 3600},
	{"UTC", 0},
	{"Etc/UTC", 0},
};

/* The names tzdata.zi lists, sorted, for the directory they were read from. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char *list_dir;
static char **names;
static size_t nnames;

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* IANA's shape: 1..FX_TZ_NAME_MAX of [A-Za-z0-9/_+-], '/'-separated components that start with a letter. */
static bool well_formed(const char *name)
{
	size_t n = strlen(name);
	bool start = true;

	if (n == 0 || n > FX_TZ_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		bool letter = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');

		if (start && !letter)
			return false;
		start = c == '/';
		if (!letter && !(c >= '0' && c <= '9') && c != '/' && c != '_' && c != '+' && c != '-')
			return false;
	}
	return !start;
}

/* Appends the word at *p (up to a blank or the end of the line) to the list when it is a zone name. */
static void add_name(const char *p)
{
	size_t n = strcspn(p, " \t\n");
	char *name;

	if (n == 0 || n > FX_TZ_NAME_MAX || nnames == MAX_NAMES)
		return;
	name = fx_mem_xstrndup(p, n);
	if (!well_formed(name)) {
		free(name);
		return;
	}
	names[nnames++] = name;
}

/* Skips n blank-separated words of the line at p; NULL when the line ends first. */
static const char *skip_words(const char *p, int n)
{
	for (int i = 0; i < n; i++) {
		p += strcspn(p, " \t\n");
		if (*p != ' ' && *p != '\t')
			return NULL;
		p += strspn(p, " \t");
	}
	return p;
}

/* (Re)reads dir's tzdata.zi under lock: "Z name ...", "L target name". Missing or unreadable: no names. */
static void load(const char *dir)
{
	char path[512], *text = NULL;
	FILE *f;
	size_t len = 0;

	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	free(list_dir);
	names = fx_mem_xcalloc(MAX_NAMES, sizeof(*names));
	nnames = 0;
	list_dir = fx_mem_xstrdup(dir);
	if (fx_str_fmt(path, sizeof(path), "%s/tzdata.zi", dir) < 0 || !(f = fopen(path, "r")))
		return;
	text = fx_mem_xmalloc(MAX_LIST_BYTES + 1);
	len = fread(text, 1, MAX_LIST_BYTES, f);
	fclose(f);
	text[len] = '\0';
	for (char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		const char *name = NULL;

		if (line[0] == 'Z' && line[1] == ' ')
			name = skip_words(line, 1);
		else if (line[0] == 'L' && line[1] == ' ')
			name = skip_words(line, 2);
		if (name)
			add_name(name);
	}
	free(text);
	qsort(names, nnames, sizeof(*names), cmp_name);
}

static bool listed(const char *dir, const char *name)
{
	bool found;

	pthread_mutex_lock(&lock);
	if (!list_dir || strcmp(list_dir, dir) != 0)
		load(dir);
	found = bsearch(&name, names, nnames, sizeof(*names), cmp_name) != NULL;
	pthread_mutex_unlock(&lock);
	return found;
}

bool fx_tz_installed(const char *name)
{
	const char *dir = getenv("TZDIR");
	char path[600], magic[4];
	FILE *f;
	bool ok;

	if (!dir || !*dir)
		dir = DEFAULT_DIR;
	if (!well_formed(name) || strcmp(name, "Factory") == 0 || !listed(dir, name))
		return false;
	/* Only a listed name of IANA's shape becomes a path. */
	if (fx_str_fmt(path, sizeof(path), "%s/%s", dir, name) < 0 || !(f = fopen(path, "rb")))
		return false;
	ok = fread(magic, 1, sizeof(magic), f) == sizeof(magic) && memcmp(magic, "TZif", 4) == 0;
	fclose(f);
	return ok;
}

bool fx_tz_fixed(const char *name, int32_t *offset)
{
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		if (strcmp(name, fixed[i].name) == 0) {
			*offset = fixed[i].offset;
			return true;
		}
	}
	return false;
}

bool fx_tz_known(const char *name)
{
	int32_t offset;

	return fx_tz_installed(name) || fx_tz_fixed(name, &offset);
}
