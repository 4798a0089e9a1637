/*
 * fx_tz: time zone names. An organization's timezone must be a zone the
 * reports can convert: an IANA name that this system's tz database lists
 * and has installed, or one of the zones whose offset is fixed enough to
 * do without tzdata. Names are checked against the database's own list
 * before anything builds a path from them. Nothing to free.
 */
#ifndef FX_TZ_H
#define FX_TZ_H

#include <stdbool.h>
#include <stdint.h>

#define FX_TZ_NAME_MAX 64

/*
 * True when name is an IANA time zone name (a Zone or a Link) listed in
 * the tz database's list TZDIR/tzdata.zi (TZDIR defaults to
 * /usr/share/zoneinfo; the list is read once per directory) whose TZif
 * file is installed there. The name must also have IANA's shape (1 to 64
 * bytes of [A-Za-z0-9/_+-], components that start with a letter), so ".."
 * components, absolute paths, the posix/ and right/ trees, posixrules,
 * localtime and the database's own files are never zones. "Factory"
 * (local time unknown) is listed but is no place: false. Thread-safe.
 */
bool fx_tz_installed(const char *name);

/*
 * The zones with one UTC offset for as long as the reports can reach, so
 * they work without tzdata (a slim container): Africa/Johannesburg (+02:00
 * since 1944, no DST), UTC and Etc/UTC. True with *offset (seconds east of
 * UTC) for them.
 */
bool fx_tz_fixed(const char *name, int32_t *offset);

/* fx_tz_installed or fx_tz_fixed: the names an organization may choose. */
bool fx_tz_known(const char *name);

#endif
