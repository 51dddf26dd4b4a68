#!/usr/bin/env bash
# Runs the whole test suite: `scripts/test.sh [cargo test args...]`,
# e.g. `scripts/test.sh -- place_order` to run only matching tests.
#
# PostgreSQL:
#   - If SHOP_TEST_POSTGRES_URL is set (your own server or docker compose; the URL needs the
#     right to CREATE DATABASE, e.g. postgres://postgres:postgres@127.0.0.1:5432/postgres),
#     it is used as is.
#   - Otherwise a throw-away cluster is created in a temp dir, started on a free port, and
#     stopped and deleted when the script exits (also when tests fail or on Ctrl-C).
#     PostgreSQL is installed with apt-get when it is missing and the script runs as root.
#
# Switches:
#   SHOP_TEST_ONLY_DB=1   provide PostgreSQL, run `select version()` against it, and stop
#                         (no cargo); handy to check the database part alone.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf '==> %s\n' "$*" >&2 || true; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }
redact() { printf '%s' "$1" | sed -E 's#(://[^:@/]*):[^@/]*@#\1:***@#'; }   # hide a password

# --- finding PostgreSQL ------------------------------------------------------------------

PG_BIN=""   # directory holding initdb and pg_ctl, when found

find_pg_bin() {
    PG_BIN=""
    local dir
    # Debian/Ubuntu layout: /usr/lib/postgresql/<major>/bin, newest major first.
    # (postgresql-client alone creates that bin dir with psql only, hence the checks.)
    while IFS= read -r dir; do
        if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
            PG_BIN="$dir"
            return 0
        fi
    done < <(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -rV)
    # Anything else on PATH (Fedora, Homebrew, a source build, ...).
    local initdb pg_ctl
    initdb="$(command -v initdb 2>/dev/null || true)"
    pg_ctl="$(command -v pg_ctl 2>/dev/null || true)"
    if [ -n "$initdb" ] && [ -n "$pg_ctl" ]; then
        PG_BIN="$(dirname "$(readlink -f "$initdb")")"
        # readlink may land somewhere without pg_ctl next to it; fall back to PATH's dir.
        [ -x "$PG_BIN/pg_ctl" ] || PG_BIN="$(dirname "$initdb")"
        return 0
    fi
    return 1
}

install_pg() {
    if ! is_root; then
        cat >&2 <<'MSG'
error: PostgreSQL server binaries (initdb, pg_ctl) were not found, and this script is not
running as root, so it cannot install them. Either:
  - install PostgreSQL:   sudo apt-get install -y postgresql     (Debian/Ubuntu)
    then run this script again (it starts its own throw-away cluster; nothing else needed), or
  - point the tests at a server you already have, with a user allowed to CREATE DATABASE:
      SHOP_TEST_POSTGRES_URL=postgres://postgres:postgres@127.0.0.1:5432/postgres scripts/test.sh
    (`docker compose up -d postgres` starts one; see docker-compose.yml)
MSG
        exit 1
    fi
    command -v apt-get >/dev/null 2>&1 \
        || die "PostgreSQL is not installed and apt-get is not available; install PostgreSQL (initdb, pg_ctl) or set SHOP_TEST_POSTGRES_URL"
    log "installing PostgreSQL with apt-get (not found on this machine)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # The package may create and start a default cluster on 5432; we do not use it.
    apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    find_pg_bin || die "apt-get installed postgresql but initdb/pg_ctl are still not found"
}

# --- the throw-away cluster ----------------------------------------------------------------

PG_TMP=""
PG_DATA=""

# Runs a PostgreSQL tool as the right user: PostgreSQL refuses to run as root.
as_pg() {
    if is_root; then
        (cd "$PG_TMP" && runuser -u postgres -- "$@")
    else
        (cd "$PG_TMP" && "$@")
    fi
}

# Stops the cluster if it runs (postmaster.pid exists from the moment it starts, so a signal
# that arrives while pg_ctl is still starting it is covered too) and removes the temp dir.
# shellcheck disable=SC2317  # invoked through trap
cleanup() {
    local rc=${1:-$?}
    trap - EXIT INT TERM HUP
    trap '' PIPE   # output may go to a closed pipe (`scripts/test.sh | head`): still clean up
    local keep=0
    if [ -n "$PG_DATA" ] && [ -f "$PG_DATA/postmaster.pid" ]; then
        log "stopping PostgreSQL"
        if ! as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 stop >/dev/null 2>&1 \
            && ! as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w -t 30 stop >/dev/null 2>&1 \
            && as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
            echo "warning: could not stop PostgreSQL; left it and its files in $PG_TMP" >&2
            keep=1
        fi
    fi
    if [ "$keep" = 0 ] && [ -n "$PG_TMP" ] && [ -d "$PG_TMP" ]; then
        rm -rf "$PG_TMP"
    fi
    exit "$rc"
}

port_is_free() {
    local port=$1
    if command -v python3 >/dev/null 2>&1; then
        python3 - "$port" <<'PY' 2>/dev/null
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as PostgreSQL does (TIME_WAIT is fine)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
PY
    else
        # Nothing accepts a connection there: good enough; a lost race is retried below.
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 1
        fi
    fi
}

tail_log() {
    local file=$1
    if [ -f "$file" ]; then
        echo "---- last lines of $file ----" >&2
        tail -n 30 "$file" >&2 || true
        echo "----" >&2
    fi
}

start_cluster() {
    find_pg_bin || install_pg

    local version
    version="$("$PG_BIN/pg_ctl" --version | awk '{print $3}' | cut -d. -f1)"

    if is_root; then
        command -v runuser >/dev/null 2>&1 || die "running as root needs runuser (util-linux) to start PostgreSQL as the postgres user"
        if ! id -u postgres >/dev/null 2>&1; then
            log "creating system user postgres"
            useradd --system --user-group --home-dir /nonexistent --no-create-home \
                --shell /usr/sbin/nologin postgres
        fi
    fi

    # Short path (Unix socket paths are limited to ~107 bytes) that the postgres user can
    # reach when we are root.
    local base="${TMPDIR:-/tmp}"
    if [ "${#base}" -gt 60 ] || { is_root && [ "$base" != /tmp ]; }; then
        base=/tmp
    fi
    PG_TMP="$(mktemp -d "$base/shop-pg.XXXXXX")"
    PG_DATA="$PG_TMP/data"
    trap cleanup EXIT
    trap 'cleanup 130' INT
    trap 'cleanup 143' TERM
    trap 'cleanup 129' HUP
    trap 'cleanup 141' PIPE
    if is_root; then
        chown postgres: "$PG_TMP"
        chmod 700 "$PG_TMP"
    fi

    if ! as_pg "$PG_BIN/initdb" -D "$PG_DATA" -A trust -U postgres -E UTF8 --locale=C \
        --no-sync >"$PG_TMP/initdb.log" 2>&1; then
        echo "error: initdb failed" >&2
        tail_log "$PG_TMP/initdb.log"
        exit 1
    fi

    local port=55432 attempt
    for attempt in $(seq 1 20); do
        while ! port_is_free "$port"; do
            port=$((port + 1))
            [ "$port" -lt 56432 ] || die "no free TCP port found in 55432-56431"
        done
        log "starting PostgreSQL $version on port $port"
        rm -f "$PG_TMP/postgres.log"
        if as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_TMP/postgres.log" -w -t 60 start \
            -o "-p $port -k $PG_TMP -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400" \
            >/dev/null 2>&1; then
            export SHOP_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
            return 0
        fi
        # If pg_ctl timed out, the server may still be coming up: make sure it is gone.
        as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w stop >/dev/null 2>&1 || true
        if grep -qE 'could not bind|Address already in use|could not create any TCP/IP sockets' \
            "$PG_TMP/postgres.log" 2>/dev/null; then
            port=$((port + 1))   # somebody took the port in the meantime; try the next one
            continue
        fi
        echo "error: PostgreSQL did not start" >&2
        tail_log "$PG_TMP/postgres.log"
        exit 1
    done
    echo "error: PostgreSQL did not start after $attempt attempts" >&2
    tail_log "$PG_TMP/postgres.log"
    exit 1
}

# --- main ------------------------------------------------------------------------------------

if [ -n "${SHOP_TEST_POSTGRES_URL:-}" ]; then
    log "using SHOP_TEST_POSTGRES_URL from the environment: $(redact "$SHOP_TEST_POSTGRES_URL")"
else
    start_cluster
fi

if [ "${SHOP_TEST_ONLY_DB:-}" = 1 ]; then
    psql="psql"
    if [ -n "$PG_BIN" ] && [ -x "$PG_BIN/psql" ]; then psql="$PG_BIN/psql"; fi
    command -v "$psql" >/dev/null 2>&1 || die "psql not found (apt-get install postgresql-client)"
    log "SHOP_TEST_ONLY_DB=1: checking the database, not running cargo"
    log "SHOP_TEST_POSTGRES_URL=$(redact "$SHOP_TEST_POSTGRES_URL")"
    probe="shop_test_probe_$$"
    "$psql" "$SHOP_TEST_POSTGRES_URL" -X -q -v ON_ERROR_STOP=1 -At \
        -c 'select version()' \
        -c 'show max_connections' \
        -c "create database $probe" \
        -c "drop database $probe" \
        -c "select 'CREATE DATABASE ok'"
    exit 0
fi

if ! command -v cargo >/dev/null 2>&1 && [ -x "${HOME:-}/.cargo/bin/cargo" ]; then
    PATH="${HOME:-}/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null 2>&1 || die "cargo not found; install Rust from https://rustup.rs"

log "cargo test --workspace --locked $*"
status=0
cargo test --workspace --locked "$@" || status=$?
exit "$status"
