# shellcheck shell=bash
# bench/lib.sh: what bench/run, bench/startup and bench/soak share (sourced, not run).
#
#   bench_up              the stack in $run (emulators, workers, nginx); with BENCH_AUTH=rs256
#                         (the default when python3 has the cryptography module) the workers
#                         verify tokens as on Google: FLUXORI_AUTH_EMULATOR_TOKENS=false and a
#                         local key server (bench/rs256.py serve) as FLUXORI_FIREBASE_KEYS_URL,
#                         tokens minted with a throw-away key (bench/rs256.py mint)
#   merchant N            "token org product uid": a fresh organization with a stocked product
#   metrics FILE          GET /metrics into FILE
#   wrk_row NAME GROUP BEFORE AFTER WRKOUT
#                         one result row from wrk's output and two /metrics snapshots
#   bench_bg PID          notes a background process the script started (wrk, the key server):
#                         bench_down ends it
#   bench_traps           the exit path every script sets right after sourcing this: on any exit,
#                         INT, TERM or HUP, bench_down, then the run directory removed (kept with
#                         BENCH_KEEP); the script fails if anything of the run had to be killed
#   bench_cc OUT SOURCE...
#                         a C bench client OUT from SOURCE... with bench/lib/benchcall.c, linked
#                         with lib/libfluxori.a and the libraries configure found (after
#                         scripts/bootstrap); tests/integration's helpers (whreceiver.c,
#                         fakechannel.c) may be among the sources
# Callers set: run (a fresh directory), and may set BENCH_WORKER_THREADS, BENCH_LOG_LEVEL.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

bench_auth() {
	case ${BENCH_AUTH:-} in
	rs256 | emulator) echo "$BENCH_AUTH" ;;
	"") if python3 -c 'import cryptography' 2>/dev/null; then echo rs256; else echo emulator; fi ;;
	*) echo "bench: BENCH_AUTH must be rs256 or emulator" >&2; exit 64 ;;
	esac
}

bench_free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 12000))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
	done
}

bench_bg() { echo "$1" >>"$run/bg.pids"; }

bench_down() { # ends everything the script started; 1 if something had to be killed as a survivor
	local p rc=0
	[ -n "${run:-}" ] && [ -d "$run" ] || return 0
	if [ -s "$run/bg.pids" ]; then
		while read -r p; do kill "$p" 2>/dev/null || true; done <"$run/bg.pids"
	fi
	# stack down stops the stack, then ends and lists every other process of the run.
	"$here/scripts/stack" down "$run" >/dev/null 2>"$run/down.log" || rc=1
	if [ $rc -ne 0 ]; then
		echo "bench: FAIL: processes of the run outlived it (killed now):" >&2
		cat "$run/down.log" >&2
	fi
	return $rc
}

bench_exit() {
	local rc=$?
	trap '' INT TERM HUP
	bench_down || { [ $rc -ne 0 ] || rc=1; }
	if [ -n "${BENCH_KEEP:-}" ]; then echo "bench: kept $run" >&2; else rm -rf "$run"; fi
	exit $rc
}

bench_traps() {
	trap bench_exit EXIT
	trap 'echo "bench: interrupted" >&2; exit 130' INT TERM HUP
}

bench_up() {
	local extra="FLUXORI_WORKER_THREADS=${BENCH_WORKER_THREADS:-16}" kport kpid
	auth_mode=$(bench_auth)
	if [ "$auth_mode" = rs256 ]; then
		python3 "$here/bench/rs256.py" keys "$run/rs256"
		kport=$(bench_free_port)
		python3 "$here/bench/rs256.py" serve "$kport" "$run/rs256/keys.json" </dev/null >/dev/null 2>&1 &
		kpid=$!
		bench_bg "$kpid"
		# Ready when it serves the keys; failed when it exits; 60 s is a safety net.
		local deadline=$((SECONDS + 60))
		until curl -fsS -o /dev/null "http://127.0.0.1:$kport/certs" 2>/dev/null; do
			kill -0 "$kpid" 2>/dev/null || { echo "bench: the key server exited" >&2; return 1; }
			[ $SECONDS -lt $deadline ] || { echo "bench: the key server did not answer within 60 s" >&2; return 1; }
			sleep 0.05
		done
		extra+=$'\n'"FLUXORI_AUTH_EMULATOR_TOKENS=false"$'\n'"FLUXORI_FIREBASE_KEYS_URL=http://127.0.0.1:$kport/certs"
	fi
	FLUXORI_LOG_LEVEL=${BENCH_LOG_LEVEL:-INFO} FLUXORI_EXTRA_ENV=$extra FLUXORI_BIN_DIR=$here/handlers \
		"$here/scripts/stack" up "$run" >"$run/stack-up.log" 2>&1 || { cat "$run/stack-up.log" >&2; return 1; }
	# shellcheck disable=SC1091
	. "$run/env"
	base=http://127.0.0.1:$FLUXORI_HTTP_PORT
	mbase=http://127.0.0.1:$FLUXORI_METRICS_PORT
	authemu=http://127.0.0.1:$FLUXORI_AUTH_PORT
	# shellcheck disable=SC2034 # the environment fluxorictl needs, for the scripts that source this
	ctl_env=(FLUXORI_RUN_DIR="$run" FLUXORI_ENV_FILE="$run/env" FLUXORI_BIN_DIR="$here/handlers"
		FLUXORI_LISTEN="127.0.0.1:$FLUXORI_HTTP_PORT" FLUXORI_METRICS_LISTEN="127.0.0.1:$FLUXORI_METRICS_PORT")
}

mint() { # uid [n] [claims-json]
	python3 "$here/bench/rs256.py" mint "$run/rs256/key.pem" "$@"
}

json_field() { sed -n "s/.*\"$1\": *\"\\([^\"]*\\)\".*/\\1/p"; }

merchant() { # n -> "token org product uid"
	local signup token refresh org product uid
	signup=$(curl -fsS -H 'Content-Type: application/json' \
		-d "{\"email\":\"bench$1@example.co.za\",\"password\":\"bench-123\",\"returnSecureToken\":true}" \
		"$authemu/identitytoolkit.googleapis.com/v1/accounts:signUp?key=bench")
	uid=$(json_field localId <<<"$signup")
	if [ "$auth_mode" = rs256 ]; then
		token=$(mint "$uid")
	else
		token=$(json_field idToken <<<"$signup")
		refresh=$(json_field refreshToken <<<"$signup")
	fi
	org=$(curl -fsS -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
		-d "{\"name\":\"Bench Traders $1\"}" "$base/v1/organizations" | sed -n 's/^{"id":"\([^"]*\)".*/\1/p')
	if [ "$auth_mode" = rs256 ]; then
		token=$(mint "$uid" 1 "{\"organizationId\":\"$org\",\"role\":\"owner\"}")
	else
		token=$(curl -fsS -d "grant_type=refresh_token&refresh_token=$refresh" \
			"$authemu/securetoken.googleapis.com/v1/token?key=bench" | json_field id_token)
	fi
	product=$(curl -fsS -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
		-d "{\"sku\":\"BENCH-$1\",\"name\":\"Bench item\",\"priceCents\":1999,\"status\":\"active\"}" \
		"$base/v1/products" | sed -n 's/^{"id":"\([^"]*\)".*/\1/p')
	curl -fsS -o /dev/null -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
		-d '{"delta":1000000,"reason":"received"}' "$base/v1/products/$product/stock:adjust"
	echo "$token $org $product $uid"
}

# A small valid PNG (48x48 RGB, stored deflate: 7 KiB) on stdout.
bench_png() {
	python3 - <<'PY'
import os, struct, sys, zlib
w = h = 48
raw = b"".join(b"\x00" + os.urandom(w * 3) for _ in range(h))
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
sys.stdout.buffer.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                        + chunk(b"IDAT", zlib.compress(raw, 0)) + chunk(b"IEND", b""))
PY
}

metrics() { curl -fsS "$mbase/metrics" >"$1"; }

msum() { # file metric [label-regex]: sum of the samples
	awk -v m="$2" -v re="${3:-}" 'index($0, m "{") == 1 && (re == "" || $0 ~ re) {s += $NF} END {printf "%d\n", s}' "$1"
}

rss_kib() { # file group: each of the group's processes' RSS in KiB, "pid:KiB" space-separated
	awk -v g="$2" 'index($0, "fluxori_worker_resident_bytes{group=\"" g "\"") == 1 {
		match($0, /pid="[0-9]+"/); printf "%s%s:%d", (n++ ? " " : ""), substr($0, RSTART + 5, RLENGTH - 6), $NF / 1024
	} END {print ""}' "$1"
}

wrk_failed() { # wrk output -> non-2xx/3xx responses + socket errors
	awk '/Non-2xx or 3xx responses:/ {s += $NF}
	     /Socket errors:/ {gsub(/,/, ""); s += $4 + $6 + $8 + $10}
	     END {print s + 0}' <<<"$1"
}

# name group before after wrk-output ->
# "name rps p50 p99 requests failed conns/req cache-hit% rss" (- where not applicable)
wrk_row() {
	local name=$1 g=$2 before=$3 after=$4 out=$5 rps p50 p99 reqs failed conns hit miss cpr hitp rss
	rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
	p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
	p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
	reqs=$(awk '/requests in/ {print $1}' <<<"$out")
	failed=$(wrk_failed "$out")
	if [ "$g" = - ]; then
		echo "$name $rps $p50 $p99 $reqs $failed - - -"
		return
	fi
	conns=$(($(msum "$after" fluxori_backend_connections_total) - $(msum "$before" fluxori_backend_connections_total)))
	hit=$(($(msum "$after" fluxori_token_cache_total 'result="hit"') - $(msum "$before" fluxori_token_cache_total 'result="hit"')))
	miss=$(($(msum "$after" fluxori_token_cache_total 'result="miss"') - $(msum "$before" fluxori_token_cache_total 'result="miss"')))
	cpr=$(awk -v c="$conns" -v r="$reqs" 'BEGIN {printf "%.4f", r ? c / r : 0}')
	hitp=$( [ $((hit + miss)) -gt 0 ] && awk -v h="$hit" -v m="$miss" 'BEGIN {printf "%.1f%%", 100 * h / (h + m)}' || echo -)
	rss=$(rss_kib "$after" "$g" | tr ' ' ',')
	echo "$name $rps $p50 $p99 $reqs $failed $cpr $hitp ${rss:--}"
}

cpu_ticks() { # pids... -> their user+system CPU time so far, in clock ticks (gone ones count 0)
	local p
	for p in "$@"; do awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0; done | awk '{s += $1} END {print s + 0}'
}

group_pids() { # metrics-file group -> its worker pids
	rss_kib "$1" "$2" | tr ' ' '\n' | cut -d: -f1
}

nginx_pids() { pgrep -P "$(cat "$run/nginx.master")" | tr '\n' ' '; }

firestore_pids() { # the Firestore emulator's process group (scripts/emulators starts it as a group leader: the JVM and its launcher)
	local g
	g=$(cat "$run/emulators/firestore.pid" 2>/dev/null) || return 0
	ps -o pid= -g "$g" | tr '\n' ' '
}

load_now() { awk '{print $1 "/" $2 "/" $3}' /proc/loadavg; }

bench_cc() {
	local out=$1
	shift
	mk() { sed -n "s/^$1 = //p" "$here/Makefile"; }
	# shellcheck disable=SC2046
	cc -O2 -std=c11 -D_GNU_SOURCE -I"$here/lib" -I"$here/bench/lib" -I"$here/tests/integration" \
		$(mk JSONC_CFLAGS) $(mk CURL_CFLAGS) -o "$out" "$@" "$here/bench/lib/benchcall.c" \
		"$here/lib/libfluxori.a" $(mk FCGI_LIBS) $(mk JSONC_LIBS) $(mk CURL_LIBS) $(mk JWT_LIBS) \
		$(mk CRYPTO_LIBS) -lpthread
}
