/*
 * tests/openapi/check: docs/openapi.yaml against the route tables the
 * worker binaries print (`fluxori-GROUP --routes`); the rules are in
 * contract.h. A make check test: every disagreement is a line on stderr
 * and the exit status is 1; 99 when the document or a binary cannot be read.
 *
 *   tests/openapi/check                  $top_srcdir/docs/openapi.yaml and the programs
 *                                        of $FLUXORI_GROUP_PROGRAMS under $top_builddir
 *                                        (Makefile.am passes $(sbin_PROGRAMS))
 *   tests/openapi/check DOC PROGRAM...   by hand
 */
#include "contract.h"
#include "yaml.h"

#include "mem.h"

#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_DOC (16 * 1024 * 1024)
#define MAX_TABLE (1024 * 1024)
#define MAX_PROGRAMS 64

extern char **environ;

/* The whole of a file, or NULL (message on stderr). */
static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct fx_buf b;
	char chunk[65536];
	size_t n;

	if (!f) {
		fprintf(stderr, "openapi: cannot open %s: %s\n", path, strerror(errno));
		return NULL;
	}
	fx_buf_init(&b, MAX_DOC);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (fx_buf_append(&b, chunk, n) < 0) {
			fprintf(stderr, "openapi: %s is over %d bytes\n", path, MAX_DOC);
			fclose(f);
			fx_buf_cleanup(&b);
			return NULL;
		}
	fclose(f);
	*len = b.len;
	return fx_buf_take(&b);
}

/* PROGRAM --routes, parsed; NULL (message on stderr) unless it exits 0 with a JSON object. */
static json_object *route_table(const char *program)
{
	char *argv[] = {(char *)program, "--routes", NULL};
	posix_spawn_file_actions_t fa;
	struct fx_buf b;
	char chunk[8192];
	json_object *o = NULL;
	int fds[2], status = 0, rc;
	ssize_t n;
	pid_t pid;

	if (pipe(fds) < 0)
		return NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_addclose(&fa, fds[0]);
	rc = posix_spawn(&pid, program, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	if (rc != 0) {
		fprintf(stderr, "openapi: cannot run %s: %s\n", program, strerror(rc));
		close(fds[0]);
		return NULL;
	}
	fx_buf_init(&b, MAX_TABLE);
	while ((n = read(fds[0], chunk, sizeof(chunk))) > 0 || (n < 0 && errno == EINTR))
		if (n > 0 && fx_buf_append(&b, chunk, (size_t)n) < 0)
			break;
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && b.data)
		o = json_tokener_parse(b.data);
	if (!o || !json_object_is_type(o, json_type_object)) {
		fprintf(stderr, "openapi: %s --routes gave no route table (status %d): %.200s\n", program, status,
			b.data ? b.data : "");
		json_object_put(o);
		o = NULL;
	}
	fx_buf_cleanup(&b);
	return o;
}

/* The programs from FLUXORI_GROUP_PROGRAMS, under top_builddir; their number, or -1. */
static int programs_from_env(char **programs)
{
	const char *list = getenv("FLUXORI_GROUP_PROGRAMS"), *dir = getenv("top_builddir");
	char *copy, *save = NULL, *word;
	int n = 0;

	if (!list || !*list) {
		fprintf(stderr, "openapi: FLUXORI_GROUP_PROGRAMS is not set (run through make check)\n");
		return -1;
	}
	copy = fx_mem_xstrdup(list);
	for (word = strtok_r(copy, " \t\n", &save); word; word = strtok_r(NULL, " \t\n", &save)) {
		if (n == MAX_PROGRAMS) {
			fprintf(stderr, "openapi: more than %d programs\n", MAX_PROGRAMS);
			free(copy);
			return -1;
		}
		programs[n++] = fx_mem_xasprintf("%s/%s", dir && *dir ? dir : ".", word);
	}
	free(copy);
	return n;
}

int main(int argc, char **argv)
{
	char *programs[MAX_PROGRAMS], *text = NULL, *doc_path, err[512];
	json_object *tables[MAX_PROGRAMS] = {0}, *doc = NULL;
	struct fx_buf out;
	struct oa_stats st;
	size_t len = 0;
	int nprog = 0, rc = 99, problems;

	fx_buf_init(&out, 1024 * 1024);
	if (argc >= 3) {
		doc_path = fx_mem_xstrdup(argv[1]);
		for (int i = 2; i < argc && nprog < MAX_PROGRAMS; i++)
			programs[nprog++] = fx_mem_xstrdup(argv[i]);
	} else {
		const char *top = getenv("top_srcdir");

		doc_path = fx_mem_xasprintf("%s/docs/openapi.yaml", top && *top ? top : ".");
		nprog = programs_from_env(programs);
		if (nprog <= 0) {
			nprog = 0;
			goto out;
		}
	}
	text = read_file(doc_path, &len);
	if (!text)
		goto out;
	doc = oa_yaml_parse(text, len, err, sizeof(err));
	if (!doc) {
		fprintf(stderr, "openapi: %s: %s (tests/openapi/yaml.h lists the YAML it reads)\n", doc_path, err);
		goto out;
	}
	for (int i = 0; i < nprog; i++)
		if (!(tables[i] = route_table(programs[i])))
			goto out;
	problems = oa_contract_check(doc, tables, (size_t)nprog, &out, &st);
	if (out.len)
		fprintf(stderr, "%s", out.data);
	if (problems < 0)
		goto out;
	printf("openapi: %d routes of %d programs, %d operations in %s (%d served by nginx, %d planned): "
	       "%d disagreements\n",
	       st.routes, nprog, st.operations, doc_path, st.nginx, st.planned, problems);
	rc = problems == 0 ? 0 : 1;
out:
	for (int i = 0; i < nprog; i++) {
		json_object_put(tables[i]);
		free(programs[i]);
	}
	json_object_put(doc);
	free(text);
	free(doc_path);
	fx_buf_cleanup(&out);
	return rc;
}
