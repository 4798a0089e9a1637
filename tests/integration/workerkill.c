/*
 * workerkill: killing a group's workers in the crash tests (see workerkill.h).
 */
#include "workerkill.h"

#include "client.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

long workerkill_pid(const char *unit)
{
	char cmd[400], out[64] = "";
	FILE *p;

	/* The generation nginx reaches (the socket symlink), then that generation's pid file. */
	snprintf(cmd, sizeof(cmd),
		 "g=$(readlink \"$FLUXORI_RUN_DIR/sock/%s.sock\" | sed 's/^%s\\.//; s/\\.sock$//') && "
		 "cat \"$FLUXORI_RUN_DIR/state/%s.$g.pid\" 2>/dev/null",
		 unit, unit, unit);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	if (!fgets(out, sizeof(out), p))
		out[0] = '\0';
	pclose(p);
	return strtol(out, NULL, 10);
}

void workerkill_group(const char *group)
{
	static const char *const instances[] = {"a", "b"};

	for (size_t i = 0; i < sizeof(instances) / sizeof(instances[0]); i++) {
		char unit[100];
		long victim;

		snprintf(unit, sizeof(unit), "%s.%s", group, instances[i]);
		victim = workerkill_pid(unit);
		cr_assert_gt(victim, 0, "instance %s runs", unit);
		cr_assert_eq(test_sh("kill -9 %ld", victim), 0, "kill -9 of %s (%ld)", unit, victim);
	}
}

bool workerkill_wait_up(const char *group, long deadline_s)
{
	char a[100], b[100];

	snprintf(a, sizeof(a), "%s.a", group);
	snprintf(b, sizeof(b), "%s.b", group);
	for (time_t end = time(NULL) + deadline_s;; usleep(200 * 1000)) {
		if (workerkill_pid(a) > 0 && workerkill_pid(b) > 0)
			return true;
		if (time(NULL) >= end)
			return false;
	}
}

void workerkill_settle_emulator(void)
{
	const char *port = getenv("FLUXORI_FIRESTORE_PORT");
	char url[300];
	long status = 0;

	cr_assert_not_null(port, "the stack's Firestore port is in the environment");
	snprintf(url, sizeof(url),
		 "http://127.0.0.1:%s/emulator/v1/projects/demo-fluxori/databases/(default)/documents", port);
	for (time_t end = time(NULL) + 180; time(NULL) < end;) {
		struct http_resp *r = http_url("DELETE", url, NULL, NULL, 0);

		status = r->status;
		http_resp_free(r);
		if (status == 200)
			break;
		usleep(500 * 1000);
	}
	cr_assert_eq(status, 200, "the emulator let go of the killed workers' transactions within 180 s");
}
