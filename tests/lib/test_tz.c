#include "tz.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static void put(const char *name, const char *content)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	cr_assert_not_null(f, "%s", path);
	fputs(content, f);
	fclose(f);
}

/*
 * A tz directory of its own: tzdata.zi lists Africa/Johannesburg, Etc/UTC
 * (linked as UTC), America/Argentina/Buenos_Aires, Etc/GMT+2, Factory and
 * Mars/Olympus (listed, but no file is installed); besides the zone files
 * it holds every kind of file a real zoneinfo has that is not a zone.
 */
static void fake_tzdir(void)
{
	static const char *const dirs[] = {"Africa", "Etc", "America", "America/Argentina", "posix", "posix/Africa",
					   "right", NULL};
	static const char *const zones[] = {"Africa/Johannesburg", "Etc/UTC", "UTC", "America/Argentina/Buenos_Aires",
					    "Etc/GMT+2", "Factory", "posixrules", "localtime", "posix/Africa/Johannesburg",
					    "right/UTC", "Africa/Gotham", NULL};
	char path[128];

	snprintf(dir, sizeof(dir), "/tmp/fx-tz.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	for (int i = 0; dirs[i]; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, dirs[i]);
		cr_assert_eq(mkdir(path, 0700), 0, "%s", path);
	}
	for (int i = 0; zones[i]; i++)
		put(zones[i], "TZif2\n");
	put("zone.tab", "# not a zone\n");
	put("leapseconds", "TZif pretending\n");
	put("Africa/NotTZif", "#!/bin/sh\n");
	put("tzdata.zi", "# version 2025b\n"
			 "R SA 1942 1943 - S Su>=15 2 1 -\n"
			 "Z Africa/Johannesburg 1:52 - LMT 1892 F 8\n"
			 "2 SA SAST\n"
			 "Z Etc/UTC 0 - UTC\n"
			 "Z America/Argentina/Buenos_Aires -3:53:48 - LMT 1894 O 31\n"
			 "Z Etc/GMT+2 -2 - %z\n"
			 "Z Factory 0 - -00\n"
			 "Z Mars/Olympus 0 - MST\n"
			 "Z Africa/NotTZif 0 - X\n"
			 "Z ../../etc/passwd 0 - X\n"
			 "L Etc/UTC UTC\n");
	setenv("TZDIR", dir, 1);
}

static void cleanup_tzdir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(tz, .init = fake_tzdir, .fini = cleanup_tzdir);

Test(tz, zones_and_links_the_database_lists_and_installs_are_known)
{
	cr_assert(fx_tz_installed("Africa/Johannesburg"));
	cr_assert(fx_tz_installed("Etc/UTC"));
	cr_assert(fx_tz_installed("UTC"), "a Link");
	cr_assert(fx_tz_installed("America/Argentina/Buenos_Aires"));
	cr_assert(fx_tz_installed("Etc/GMT+2"));
}

Test(tz, a_listed_zone_without_its_tzif_file_is_not_installed)
{
	cr_assert_not(fx_tz_installed("Mars/Olympus"), "listed, no file");
	cr_assert_not(fx_tz_installed("Africa/NotTZif"), "listed, not a TZif file");
	cr_assert_not(fx_tz_known("Mars/Olympus"));
}

Test(tz, files_that_are_not_listed_zones_are_never_zones)
{
	static const char *const names[] = {"Africa/Gotham", "posixrules", "localtime", "posix/Africa/Johannesburg",
					    "right/UTC", "zone.tab", "leapseconds", "tzdata.zi", "Factory", "Africa",
					    "posix", NULL};

	for (int i = 0; names[i]; i++)
		cr_assert_not(fx_tz_installed(names[i]), "%s", names[i]);
}

Test(tz, names_shaped_like_paths_are_refused_before_any_file_is_opened)
{
	static const char *const names[] = {"../../etc/passwd", "/etc/passwd", "Africa/../Africa/Johannesburg",
					    "Africa/./Johannesburg", "Africa//Johannesburg", "Africa/Johannesburg/",
					    "/Africa/Johannesburg", ":Africa/Johannesburg", "Africa/Johannesburg ",
					    " UTC", "africa\\johannesburg", ".", "..", "", "9Zone/A", "_Africa/X",
					    "EST5EDT,M3.2.0,M11.1.0", "<+02>-2", NULL};
	char long_name[80];

	for (int i = 0; names[i]; i++)
		cr_assert_not(fx_tz_known(names[i]), "%s", names[i]);
	memset(long_name, 'A', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	cr_assert_not(fx_tz_known(long_name));
}

Test(tz, names_are_case_sensitive)
{
	cr_assert_not(fx_tz_known("africa/johannesburg"));
	cr_assert_not(fx_tz_known("AFRICA/JOHANNESBURG"));
}

Test(tz, fixed_zones_work_without_tzdata)
{
	int32_t offset = -1;

	setenv("TZDIR", "/nonexistent", 1);
	cr_assert_not(fx_tz_installed("Africa/Johannesburg"));
	cr_assert(fx_tz_fixed("Africa/Johannesburg", &offset));
	cr_assert_eq(offset, 7200);
	cr_assert(fx_tz_fixed("UTC", &offset));
	cr_assert_eq(offset, 0);
	cr_assert(fx_tz_known("Etc/UTC"));
	cr_assert_not(fx_tz_known("Europe/London"), "no tzdata, no fixed offset");
	cr_assert_not(fx_tz_fixed("Europe/London", &offset));
}

Test(tz, the_list_follows_tzdir)
{
	cr_assert(fx_tz_known("America/Argentina/Buenos_Aires"));
	setenv("TZDIR", "/nonexistent", 1);
	cr_assert_not(fx_tz_known("America/Argentina/Buenos_Aires"));
	setenv("TZDIR", dir, 1);
	cr_assert(fx_tz_known("America/Argentina/Buenos_Aires"));
}
