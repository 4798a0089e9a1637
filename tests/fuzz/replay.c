/*
 * replay: a main() for a fuzz target built with the normal compiler, so
 * `make check` runs every committed corpus input through it. Arguments
 * are corpus directories or files; without any, the program's name picks
 * $top_srcdir/tests/fuzz/corpus/<target> (fuzz_json -> corpus/json).
 * A crashing input names itself on stderr before the process dies.
 */
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char current[4096];

static void on_fatal(int sig)
{
	static const char msg[] = "replay: died on input ";

	if (write(2, msg, sizeof(msg) - 1) < 0 || write(2, current, strlen(current)) < 0 || write(2, "\n", 1) < 0)
		_exit(128 + sig);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Feeds one file to the target; -1 when it cannot be read. */
static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	long n;
	int rc = -1;

	if (!f)
		goto out;
	if (fseek(f, 0, SEEK_END) < 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0)
		goto out;
	/* A copy of exactly n bytes, so ASan sees reads past the input's end. */
	data = malloc(n > 0 ? (size_t)n : 1);
	if (!data || fread(data, 1, (size_t)n, f) != (size_t)n)
		goto out;
	snprintf(current, sizeof(current), "%s", path);
	LLVMFuzzerTestOneInput(data, (size_t)n);
	rc = 0;
out:
	if (rc < 0)
		fprintf(stderr, "replay: cannot read %s\n", path);
	free(data);
	if (f)
		fclose(f);
	return rc;
}

/* Replays path (a file, or every file of a directory); returns the count or -1. */
static long replay(const char *path)
{
	struct stat st;
	struct dirent *d;
	DIR *dir;
	long count = 0;
	char file[4096];

	if (stat(path, &st) < 0) {
		fprintf(stderr, "replay: no corpus at %s\n", path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return replay_file(path) < 0 ? -1 : 1;
	if (!(dir = opendir(path)))
		return -1;
	while ((d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, d->d_name);
		if (replay_file(file) < 0) {
			closedir(dir);
			return -1;
		}
		count++;
	}
	closedir(dir);
	return count;
}

int main(int argc, char **argv)
{
	const char *name = strrchr(argv[0], '/'), *top = getenv("top_srcdir");
	char dir[4096];
	long total = 0, n;

	signal(SIGABRT, on_fatal);
	signal(SIGSEGV, on_fatal);
	signal(SIGBUS, on_fatal);
	signal(SIGFPE, on_fatal);
	name = name ? name + 1 : argv[0];
	if (strncmp(name, "lt-", 3) == 0)
		name += 3;
	if (argc < 2) {
		snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/%s", top ? top : ".",
			 strncmp(name, "fuzz_", 5) == 0 ? name + 5 : name);
		if ((total = replay(dir)) <= 0) {
			fprintf(stderr, "replay: %s: no inputs in %s\n", name, dir);
			return 1;
		}
		printf("replay: %s: %ld inputs from %s ok\n", name, total, dir);
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		if ((n = replay(argv[i])) < 0)
			return 1;
		total += n;
	}
	printf("replay: %s: %ld inputs ok\n", name, total);
	return 0;
}
