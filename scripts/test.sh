#!/usr/bin/env bash
# Runs the whole test suite: `scripts/test.sh [cargo test args...]`,
# e.g. `scripts/test.sh -- place_order` to run only matching tests.
#
# PostgreSQL:
#   - If SHOP_TEST_POSTGRES_URL is set (your own server or docker compose; the URL needs the
#     right to CREATE DATABASE, e.g. postgres://postgres:postgres@127.0.0.1:5432/postgres),
#     it is used as is.
#   - Otherwise a throw-away cluster is created in a temp dir, started on a free port, and
#     stopped and deleted when the script exits (also when tests fail or on Ctrl-C). A hot
#     standby of it (pg_basebackup -R) runs beside it for the read replica's test; without one
#     (your own server) that test is skipped (under CI=true it fails).
#     PostgreSQL is installed with apt-get when it is missing and the script runs as root.
#
# Keycloak (the identity provider the auth and users tests also run against):
#   - If SHOP_TEST_KEYCLOAK_URL is set (your own Keycloak, e.g. `docker compose up -d keycloak`),
#     it is used as is. It must hold the realm of keycloak/shop-realm.json and be reached at
#     exactly that URL (the tokens' issuer). Set with it:
#       SHOP_TEST_KEYCLOAK_CLIENT_SECRET   the `shop` client's secret
#       SHOP_TEST_KEYCLOAK_ADMIN_USER, SHOP_TEST_KEYCLOAK_ADMIN_PASSWORD
#                                          an admin of the master realm (the tests create users,
#                                          realms and signing keys through the admin API)
#       SHOP_TEST_KEYCLOAK_REALM, SHOP_TEST_KEYCLOAK_CLIENT_ID   when not `shop`
#   - Otherwise the Keycloak server distribution (org.keycloak:keycloak-quarkus-dist, version
#     below) is fetched from Maven Central with mvn once and cached under
#     ${XDG_CACHE_HOME:-~/.cache}/shop; each run starts a copy of it in dev mode on a free port,
#     with a fresh database and the realm imported, and stops it when the script exits (also
#     when tests fail or on Ctrl-C). It needs Java 21+ (any JDK under /usr/lib/jvm, JAVA_HOME,
#     or java on PATH) and Maven (installed with apt-get when missing and running as root).
#     The first start on a machine takes about a minute; later ones reuse its build.
#
# After the cargo tests, a whole run (no cargo arguments) also runs scripts/schemathesis.sh
# (Schemathesis over the OpenAPI document, on SQLite and this PostgreSQL),
# scripts/openapi-check.sh (the document through openapi-spec-validator, Redocly, openapi-typescript
# with tsc --strict, and a generated Python client's walk-through), scripts/docs-check.py
# (/docs in headless Chromium, nothing fetched from outside) and scripts/dashboard-check.py
# (/admin in headless Chromium with Selenium: sign-in, 403, CSRF, sign-out, 390 px, axe-core).
#
# Switches:
#   SHOP_TEST_ONLY_DB=1   provide PostgreSQL, run `select version()` against it, and stop
#                         (no cargo); handy to check the database part alone.
#   SHOP_TEST_ONLY_KEYCLOAK=1  provide Keycloak, sign in with the client's service account, and
#                         stop (no cargo, no PostgreSQL).
#   SHOP_TEST_NO_KEYCLOAK=1    do not provide Keycloak: the Keycloak tests are skipped (under
#                         CI=true they fail instead).
#
# nginx (the load balancer of the cluster tests): SHOP_TEST_NGINX names its binary; when unset,
# nginx on PATH or /usr/sbin/nginx is used, installed with apt-get when missing and root.
# Without one the cluster tests are skipped (under CI=true they fail).
#
# redis-server (the shared rate limits' test starts, stops and restarts its own): named by
# SHOP_TEST_REDIS_SERVER; when unset, redis-server on PATH or /usr/bin/redis-server is used,
# installed with apt-get when missing and root. Without one that test is skipped (under
# CI=true it fails).
#
# stripe-mock (Stripe's official API mock; the payments tests run the Stripe adapter against it):
# SHOP_TEST_STRIPE_MOCK_URL, when set, is used as is. Otherwise the binary SHOP_TEST_STRIPE_MOCK
# names, or else github.com/stripe/stripe-mock at the version below, built once with
# `go install` and cached under ${XDG_CACHE_HOME:-~/.cache}/shop, is started on a free port
# and stopped when the script exits; its URL is exported as SHOP_TEST_STRIPE_MOCK_URL. Without
# one the Stripe API tests are skipped (under CI=true they fail).
#
# scripts/cluster.sh sources this file with SHOP_TEST_SOURCE_ONLY=1 to reuse its functions.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf '==> %s\n' "$*" >&2 || true; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }
is_ci() { [ "${CI:-}" = true ]; }
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

# Stops Keycloak and the cluster if they run (postmaster.pid exists from the moment PostgreSQL
# starts, so a signal that arrives while pg_ctl is still starting it is covered too) and
# removes their temp dirs.
# shellcheck disable=SC2317  # invoked through trap
cleanup() {
    local rc=${1:-$?}
    trap - EXIT
    # A second Ctrl-C must not cut the cleanup short: Keycloak runs in its own process group
    # and stops only when told to here.
    trap '' INT TERM HUP
    trap '' PIPE   # output may go to a closed pipe (`scripts/test.sh | head`): still clean up
    stop_keycloak
    stop_stripe_mock
    local keep=0
    if [ -n "$PG_REPLICA" ] && [ -f "$PG_REPLICA/postmaster.pid" ]; then
        log "stopping the PostgreSQL standby"
        as_pg "$PG_BIN/pg_ctl" -D "$PG_REPLICA" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
    fi
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

TRAPS_SET=0

# Makes sure whatever the script starts is stopped when it ends, however it ends.
install_traps() {
    [ "$TRAPS_SET" = 0 ] || return 0
    TRAPS_SET=1
    trap cleanup EXIT
    trap 'cleanup 130' INT
    trap 'cleanup 143' TERM
    trap 'cleanup 129' HUP
    trap 'cleanup 141' PIPE
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
    install_traps
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

PG_REPLICA=""   # the standby's data dir, when one runs

# A hot standby of the cluster (`pg_basebackup -R`, streaming from it) on its own port, for the
# read replica's test. Exports SHOP_TEST_POSTGRES_REPLICA_URL (its server, as
# SHOP_TEST_POSTGRES_URL names the primary) and SHOP_TEST_POSTGRES_REPLICA_CTL, a command the
# test stops (`stop`) and starts again (`start`) it with.
start_replica() {
    local primary_port=${SHOP_TEST_POSTGRES_URL##*:}
    primary_port=${primary_port%%/*}
    PG_REPLICA="$PG_TMP/replica"
    if ! as_pg "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$primary_port" -U postgres \
        -D "$PG_REPLICA" -R -X stream --no-sync >"$PG_TMP/basebackup.log" 2>&1; then
        echo "error: pg_basebackup failed" >&2
        tail_log "$PG_TMP/basebackup.log"
        exit 1
    fi
    local port=$((primary_port + 1))
    while ! port_is_free "$port"; do
        port=$((port + 1))
    done
    cat >>"$PG_REPLICA/postgresql.auto.conf" <<CONF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PG_TMP'
max_connections = 400
CONF
    local ctl="$PG_TMP/replica-ctl"
    local run_as=""
    if is_root; then run_as="runuser -u postgres --"; fi
    cat >"$ctl" <<CTL
#!/bin/sh
# Stops or starts the test's PostgreSQL standby: replica-ctl stop|start
cd "$PG_TMP" || exit 1
case "\$1" in
    stop) exec $run_as "$PG_BIN/pg_ctl" -D "$PG_REPLICA" -m fast -w -t 30 stop ;;
    start) exec $run_as "$PG_BIN/pg_ctl" -D "$PG_REPLICA" -l "$PG_TMP/replica.log" -w -t 60 start ;;
    *) echo "usage: \$0 stop|start" >&2; exit 2 ;;
esac
CTL
    chmod 755 "$ctl"
    log "starting a PostgreSQL standby on port $port"
    if ! "$ctl" start >/dev/null 2>&1; then
        echo "error: the PostgreSQL standby did not start" >&2
        tail_log "$PG_TMP/replica.log"
        exit 1
    fi
    export SHOP_TEST_POSTGRES_REPLICA_URL="postgres://postgres@127.0.0.1:$port/postgres"
    export SHOP_TEST_POSTGRES_REPLICA_CTL="$ctl"
}

# --- Keycloak ----------------------------------------------------------------------------------

KEYCLOAK_VERSION=26.7.3
KC_REALM=shop
KC_CLIENT_ID=shop
KC_JAVA=""      # a java binary Keycloak accepts (21+)
KC_TMP=""       # the run's copy of the distribution
KC_PID=""       # kc.sh, leader of its own process group (it forwards TERM to its java child)
KC_LAUNCHED_AT=""

# Java's major version (17, 21, 25, ...), or nothing when it does not run.
java_major() {
    "$1" -XshowSettings:properties -version 2>&1 \
        | awk -F'= ' '/java.specification.version/ {split($2, v, "."); print (v[1] == "1" ? v[2] : v[1]); exit}'
}

# The newest Java that Keycloak 26.7 supports (21 or newer; 17 is deprecated, refused here)
# among the JDKs under /usr/lib/jvm, JAVA_HOME and java on PATH.
scan_java() {
    KC_JAVA=""
    local candidate major best=0
    while IFS= read -r candidate; do
        major="$(java_major "$candidate")"
        if [ -n "$major" ] && [ "$major" -ge 21 ] && [ "$major" -gt "$best" ]; then
            KC_JAVA="$candidate"
            best=$major
        fi
    done < <(
        find /usr/lib/jvm -mindepth 3 -maxdepth 3 -path '*/bin/java' -type f 2>/dev/null
        if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then echo "$JAVA_HOME/bin/java"; fi
        command -v java 2>/dev/null || true
    )
    [ -n "$KC_JAVA" ]
}

find_keycloak_java() {
    scan_java && return 0
    # Debian/Ubuntu may package a new enough one (bookworm does not; trixie and later do).
    if is_root && command -v apt-get >/dev/null 2>&1; then
        local pkg
        for pkg in openjdk-25-jre-headless openjdk-21-jre-headless; do
            if apt-cache show "$pkg" >/dev/null 2>&1; then
                log "installing $pkg with apt-get for Keycloak"
                DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null
                scan_java && return 0
            fi
        done
    fi
    return 1
}

# The unpacked distribution in the cache (downloaded with Maven the first time).
keycloak_dist() {
    local cache="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/shop"
    local dist="$cache/keycloak-$KEYCLOAK_VERSION"
    if [ -x "$dist/bin/kc.sh" ]; then
        printf '%s' "$dist"
        return 0
    fi
    if ! command -v mvn >/dev/null 2>&1; then
        if is_root && command -v apt-get >/dev/null 2>&1; then
            log "installing Maven with apt-get (needed once, to fetch Keycloak)"
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends maven >/dev/null
        else
            echo "error: mvn not found; install Maven (it fetches Keycloak from Maven Central once)" >&2
            return 1
        fi
    fi
    mkdir -p "$cache"
    local work
    work="$(mktemp -d "$cache/.keycloak-download.XXXXXX")"
    log "fetching Keycloak $KEYCLOAK_VERSION from Maven Central (once; cached in $cache)"
    # The zip also stays in ~/.m2, so a cleared cache is refilled without the network.
    # Its output goes to a file (Maven 3.8 writes colour codes even in batch mode), shown on failure.
    if ! mvn -B -q org.apache.maven.plugins:maven-dependency-plugin:3.11.0:copy \
        "-Dartifact=org.keycloak:keycloak-quarkus-dist:$KEYCLOAK_VERSION:zip" \
        "-DoutputDirectory=$work" >"$work/mvn.log" 2>&1; then
        tail_log "$work/mvn.log"
        rm -rf "$work"
        echo "error: could not fetch org.keycloak:keycloak-quarkus-dist:$KEYCLOAK_VERSION:zip" >&2
        return 1
    fi
    (cd "$work" && unzip -q "keycloak-quarkus-dist-$KEYCLOAK_VERSION.zip")
    # Another run may have won the race: keep its copy.
    mv -T "$work/keycloak-$KEYCLOAK_VERSION" "$dist" 2>/dev/null || true
    rm -rf "$work"
    [ -x "$dist/bin/kc.sh" ] || { echo "error: $dist/bin/kc.sh missing after unpacking" >&2; return 1; }
    printf '%s' "$dist"
}

random_secret() {
    od -An -N24 -tx1 /dev/urandom | tr -d ' \n'
}

# Starts a copy of the cached distribution in the background; `wait_for_keycloak` waits for it.
start_keycloak() {
    find_keycloak_java || {
        echo "error: no Java 21 or newer found (looked under /usr/lib/jvm, JAVA_HOME and PATH); Keycloak $KEYCLOAK_VERSION needs one." >&2
        echo "  Debian 12's packages stop at Java 17. Install a newer JDK, e.g. Eclipse Temurin 21 from" >&2
        echo "  Adoptium's Debian repository (apt-get install temurin-21-jdk, after adding" >&2
        echo "  https://packages.adoptium.net/artifactory/deb as Adoptium's instructions say), Debian 13's" >&2
        echo "  openjdk-21-jdk, or unpack a JDK and set JAVA_HOME to it; or point the tests at a running" >&2
        echo "  Keycloak with SHOP_TEST_KEYCLOAK_URL (see the README)." >&2
        return 1
    }
    local dist
    dist="$(keycloak_dist)" || return 1
    KC_TMP="$(mktemp -d "${TMPDIR:-/tmp}/shop-keycloak.XXXXXX")"
    install_traps
    # A copy per run: runs in parallel do not share a database, and the cached copy keeps the
    # build that the first start makes (about half a minute) for later runs.
    cp -a "$dist/." "$KC_TMP/kc"
    rm -rf "$KC_TMP/kc/data"
    mkdir -p "$KC_TMP/kc/data/import"
    cp keycloak/shop-realm.json "$KC_TMP/kc/data/import/"

    local port=58080
    while ! port_is_free "$port" || ! port_is_free $((port + 1000)); do
        port=$((port + 1))
        [ "$port" -lt 59000 ] || { echo "error: no free TCP port found in 58080-58999" >&2; return 1; }
    done
    export SHOP_TEST_KEYCLOAK_URL="http://127.0.0.1:$port"
    export SHOP_TEST_KEYCLOAK_REALM="$KC_REALM"
    export SHOP_TEST_KEYCLOAK_CLIENT_ID="$KC_CLIENT_ID"
    export SHOP_TEST_KEYCLOAK_CLIENT_SECRET
    SHOP_TEST_KEYCLOAK_CLIENT_SECRET="$(random_secret)"
    export SHOP_TEST_KEYCLOAK_ADMIN_USER=admin
    export SHOP_TEST_KEYCLOAK_ADMIN_PASSWORD
    SHOP_TEST_KEYCLOAK_ADMIN_PASSWORD="$(random_secret)"

    log "starting Keycloak $KEYCLOAK_VERSION on port $port (Java $(java_major "$KC_JAVA"): $KC_JAVA)"
    KC_LAUNCHED_AT=$(date +%s)
    # setsid: kc.sh leads its own process group, so stopping it reaches its java child too.
    # The realm file's ${SHOP_KEYCLOAK_CLIENT_SECRET} is filled from the environment on import.
    # With brute-force detection on, Keycloak refuses a sign-in of an account while another
    # one of it is still being processed, even one that finished a moment ago (its bookkeeping
    # is asynchronous); the tests sign the same account in back to back, so they allow that.
    # Brute-force detection itself stays on.
    JAVA="$KC_JAVA" \
        KC_BOOTSTRAP_ADMIN_USERNAME="$SHOP_TEST_KEYCLOAK_ADMIN_USER" \
        KC_BOOTSTRAP_ADMIN_PASSWORD="$SHOP_TEST_KEYCLOAK_ADMIN_PASSWORD" \
        SHOP_KEYCLOAK_CLIENT_SECRET="$SHOP_TEST_KEYCLOAK_CLIENT_SECRET" \
        setsid "$KC_TMP/kc/bin/kc.sh" start-dev \
        --http-port="$port" --http-management-port=$((port + 1000)) \
        --hostname="http://127.0.0.1:$port" --import-realm \
        --spi-brute-force-protector--default-brute-force-detector--allow-concurrent-requests=true \
        </dev/null >"$KC_TMP/keycloak.log" 2>&1 &
    KC_PID=$!
}

# Waits until the realm answers (up to 3 minutes: the first start builds the server).
wait_for_keycloak() {
    local url="$SHOP_TEST_KEYCLOAK_URL/realms/$KC_REALM/.well-known/openid-configuration"
    local deadline=$((SECONDS + 180))
    until curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; do
        if ! kill -0 "$KC_PID" 2>/dev/null; then
            echo "error: Keycloak exited while starting" >&2
            tail_log "$KC_TMP/keycloak.log"
            return 1
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "error: Keycloak did not answer within 3 minutes" >&2
            tail_log "$KC_TMP/keycloak.log"
            return 1
        fi
        sleep 0.5
    done
    # The wait starts only once the tests are compiled: the time of Keycloak's "started" log
    # line says how long it really took.
    local started took=""
    started="$(grep -m 1 ' started in ' "$KC_TMP/keycloak.log" 2>/dev/null | cut -c1-19 || true)"
    if [ -n "$started" ] && started="$(date -d "$started" +%s 2>/dev/null)"; then
        took="up $((started - KC_LAUNCHED_AT)) s after its launch"
    fi
    log "Keycloak answers at $SHOP_TEST_KEYCLOAK_URL (${took:-started})"
    # Keep this run's server build for the next runs (only the first start makes one).
    local dist="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/shop/keycloak-$KEYCLOAK_VERSION"
    if [ ! -e "$dist/.built" ] && [ -f "$KC_TMP/kc/lib/quarkus/build-system.properties" ]; then
        local staged="$dist/lib/.quarkus.$$"
        if cp -a "$KC_TMP/kc/lib/quarkus" "$staged" 2>/dev/null; then
            rm -rf "$dist/lib/quarkus" && mv "$staged" "$dist/lib/quarkus" && touch "$dist/.built"
        fi
        rm -rf "$staged"
    fi
}

# Stops the Keycloak this script started (TERM to its process group, then KILL), if any.
stop_keycloak() {
    [ -n "$KC_PID" ] || return 0
    if kill -0 "$KC_PID" 2>/dev/null; then
        log "stopping Keycloak"
        kill -TERM -- "-$KC_PID" 2>/dev/null || kill -TERM "$KC_PID" 2>/dev/null || true
        local waited=0
        while kill -0 -- "-$KC_PID" 2>/dev/null && [ "$waited" -lt 60 ]; do
            sleep 0.5
            waited=$((waited + 1))
        done
        kill -KILL -- "-$KC_PID" 2>/dev/null || true
    fi
    KC_PID=""
    if [ -n "$KC_TMP" ] && [ -d "$KC_TMP" ]; then
        rm -rf "$KC_TMP"
    fi
}

# Provides Keycloak for the tests (or says why not); returns 1 when there is none to wait for.
provide_keycloak() {
    if [ -n "${SHOP_TEST_KEYCLOAK_URL:-}" ]; then
        log "using SHOP_TEST_KEYCLOAK_URL from the environment: $SHOP_TEST_KEYCLOAK_URL"
        return 1
    fi
    if [ "${SHOP_TEST_NO_KEYCLOAK:-}" = 1 ]; then
        is_ci && die "SHOP_TEST_NO_KEYCLOAK=1 under CI=true: the Keycloak tests must run in CI"
        log "SHOP_TEST_NO_KEYCLOAK=1: the Keycloak tests are skipped"
        return 1
    fi
    if start_keycloak; then
        return 0
    fi
    stop_keycloak
    unset SHOP_TEST_KEYCLOAK_URL
    is_ci && die "cannot provide Keycloak, and CI=true: the Keycloak tests must run in CI"
    log "warning: cannot provide Keycloak; the Keycloak tests are skipped"
    return 1
}

# --- nginx -------------------------------------------------------------------------------------

# Installs the first of the Debian packages given that installs, without starting the service
# it brings: its package would start the system's server (nginx on port 80, which fails when
# that port is taken), and a policy-rc.d that says "no" (only while installing) keeps it off.
apt_install_stopped() {
    local policy=/usr/sbin/policy-rc.d ours=0 rc=1 pkg
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && ours=1
    fi
    if DEBIAN_FRONTEND=noninteractive apt-get update -qq; then
        for pkg in "$@"; do
            if DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null; then
                rc=0
                break
            fi
        done
    fi
    [ "$ours" = 0 ] || rm -f "$policy"
    [ "$rc" = 0 ] || echo "error: apt-get could not install $*" >&2
    return 0
}

# Exports the variable named $1 as the path of program $2 (on PATH, or at $3), installing the
# Debian packages $4... (the first that installs) when it is missing and we are root; returns
# 1 (after saying what to install) when there is none. A value already set wins.
provide_program() {
    local var=$1 program=$2 path=$3 bin
    shift 3
    if [ -n "${!var:-}" ]; then
        return 0
    fi
    bin="$(command -v "$program" 2>/dev/null || true)"
    [ -n "$bin" ] || [ ! -x "$path" ] || bin=$path
    if [ -z "$bin" ] && is_root && command -v apt-get >/dev/null 2>&1; then
        log "installing $program with apt-get (not found on this machine)"
        apt_install_stopped "$@"
        [ ! -x "$path" ] || bin=$path
    fi
    if [ -z "$bin" ]; then
        echo "$program not found; install it (sudo apt-get install -y ${1:-$program}) or set $var to its binary" >&2
        return 1
    fi
    export "$var=$bin"
}

# nginx (SHOP_TEST_NGINX): the cluster tests' load balancer.
provide_nginx() {
    provide_program SHOP_TEST_NGINX nginx /usr/sbin/nginx nginx-light nginx
}

# --- redis-server ------------------------------------------------------------------------------

# redis-server (SHOP_TEST_REDIS_SERVER): the shared rate limits' test starts its own.
provide_redis() {
    provide_program SHOP_TEST_REDIS_SERVER redis-server /usr/bin/redis-server redis-server
}

# The Kubernetes manifests of deploy/k8s parse, and each document names its kind (no cluster
# here to dry-run them against).
# --- stripe-mock -------------------------------------------------------------------------------

STRIPE_MOCK_VERSION=0.203.0
STRIPE_MOCK_PID=""

# The stripe-mock binary: SHOP_TEST_STRIPE_MOCK, or the cached build (made with Go when missing).
stripe_mock_bin() {
    if [ -n "${SHOP_TEST_STRIPE_MOCK:-}" ]; then
        [ -x "$SHOP_TEST_STRIPE_MOCK" ] || return 1
        printf '%s' "$SHOP_TEST_STRIPE_MOCK"
        return 0
    fi
    local dir="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/shop/stripe-mock-$STRIPE_MOCK_VERSION/bin"
    if [ ! -x "$dir/stripe-mock" ]; then
        # Go on PATH, or where the official tarball puts it (a login shell's PATH may lack it).
        local go
        go=$(command -v go 2>/dev/null || true)
        [ -n "$go" ] || { [ -x /usr/local/go/bin/go ] && go=/usr/local/go/bin/go; } || return 1
        log "building stripe-mock v$STRIPE_MOCK_VERSION with $go install (once; cached in $dir)"
        mkdir -p "$dir"
        GOBIN="$dir" "$go" install "github.com/stripe/stripe-mock@v$STRIPE_MOCK_VERSION" >&2 || return 1
    fi
    printf '%s' "$dir/stripe-mock"
}

# Starts stripe-mock on a free port (HTTP only) and exports SHOP_TEST_STRIPE_MOCK_URL.
provide_stripe_mock() {
    if [ -n "${SHOP_TEST_STRIPE_MOCK_URL:-}" ]; then
        log "stripe-mock: using SHOP_TEST_STRIPE_MOCK_URL=$SHOP_TEST_STRIPE_MOCK_URL"
        return 0
    fi
    local bin port log_file
    bin=$(stripe_mock_bin) || return 1
    port=$(( 20000 + RANDOM % 20000 ))
    while ! port_is_free "$port"; do port=$(( 20000 + RANDOM % 20000 )); done
    log_file=$(mktemp "${TMPDIR:-/tmp}/stripe-mock.XXXXXX.log")
    install_traps
    "$bin" -http-port "$port" >"$log_file" 2>&1 &
    STRIPE_MOCK_PID=$!
    local i
    for i in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            export SHOP_TEST_STRIPE_MOCK_URL="http://127.0.0.1:$port"
            log "stripe-mock v$STRIPE_MOCK_VERSION on $SHOP_TEST_STRIPE_MOCK_URL"
            return 0
        fi
        kill -0 "$STRIPE_MOCK_PID" 2>/dev/null || break
        sleep 0.1
    done
    tail_log "$log_file"
    stop_stripe_mock
    return 1
}

# shellcheck disable=SC2317  # invoked through cleanup
stop_stripe_mock() {
    if [ -n "$STRIPE_MOCK_PID" ]; then
        kill "$STRIPE_MOCK_PID" 2>/dev/null || true
        wait "$STRIPE_MOCK_PID" 2>/dev/null || true
        STRIPE_MOCK_PID=""
    fi
}

check_manifests() {
    if ! python3 -c 'import yaml' 2>/dev/null && is_root && command -v apt-get >/dev/null 2>&1; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-yaml >/dev/null
    fi
    python3 - deploy/k8s/*.yaml <<'PY' || die "deploy/k8s: a manifest does not parse (python3-yaml needed)"
import sys, yaml
for f in sys.argv[1:]:
    for doc in yaml.safe_load_all(open(f)):
        assert isinstance(doc, dict) and doc.get("apiVersion") and doc.get("kind") \
            and doc.get("metadata", {}).get("name"), f"{f}: apiVersion, kind or metadata.name missing"
print(f"==> deploy/k8s: {len(sys.argv) - 1} manifest files parse", file=sys.stderr)
PY
}

[ "${SHOP_TEST_SOURCE_ONLY:-}" != 1 ] || return 0

# --- main ------------------------------------------------------------------------------------

if [ "${SHOP_TEST_ONLY_KEYCLOAK:-}" = 1 ]; then
    if provide_keycloak; then
        wait_for_keycloak
    fi
    [ -n "${SHOP_TEST_KEYCLOAK_URL:-}" ] || die "no Keycloak"
    log "SHOP_TEST_ONLY_KEYCLOAK=1: checking the realm's client, not running cargo"
    token_url="$SHOP_TEST_KEYCLOAK_URL/realms/${SHOP_TEST_KEYCLOAK_REALM:-shop}/protocol/openid-connect/token"
    curl -fsS "$token_url" -d grant_type=client_credentials \
        --data-urlencode "client_id=${SHOP_TEST_KEYCLOAK_CLIENT_ID:-shop}" \
        --data-urlencode "client_secret=${SHOP_TEST_KEYCLOAK_CLIENT_SECRET:-}" -o /dev/null
    log "the service account signs in"
    exit 0
fi

# Keycloak boots (about 20 s warm) while PostgreSQL starts and the tests compile.
keycloak_started=0
if [ "${SHOP_TEST_ONLY_DB:-}" != 1 ] && provide_keycloak; then
    keycloak_started=1
fi

if [ -n "${SHOP_TEST_POSTGRES_URL:-}" ]; then
    log "using SHOP_TEST_POSTGRES_URL from the environment: $(redact "$SHOP_TEST_POSTGRES_URL")"
else
    start_cluster
    start_replica
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

check_manifests
if ! provide_nginx; then
    is_ci && die "no nginx, and CI=true: the cluster tests must run in CI"
    log "warning: no nginx; the cluster tests are skipped"
fi
if ! provide_redis; then
    is_ci && die "no redis-server, and CI=true: the shared rate limits must be tested in CI"
    log "warning: no redis-server; the shared rate limit test is skipped"
fi
if ! provide_stripe_mock; then
    is_ci && die "no stripe-mock, and CI=true: the Stripe adapter must be tested in CI"
    log "warning: no stripe-mock; the Stripe API tests are skipped"
fi

if ! command -v cargo >/dev/null 2>&1 && [ -x "${HOME:-}/.cargo/bin/cargo" ]; then
    PATH="${HOME:-}/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null 2>&1 || die "cargo not found; install Rust from https://rustup.rs"

if [ "$keycloak_started" = 1 ]; then
    log "cargo test --workspace --locked --no-run $* (while Keycloak starts)"
    cargo test --workspace --locked --no-run "$@"
    wait_for_keycloak
fi

log "cargo test --workspace --locked $*"
status=0
cargo test --workspace --locked "$@" || status=$?

# The API from outside, on whole-suite runs (not with a cargo filter): Schemathesis over every
# operation of the OpenAPI document (SQLite, and the PostgreSQL above), the document as client
# generators and linters see it, and /docs rendered by headless Chromium with no request
# leaving the machine.
if [ "$#" -eq 0 ]; then
    export SHOP_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/shop"   # built by the cargo tests above
    log "scripts/schemathesis.sh"
    bash scripts/schemathesis.sh || status=1
    log "scripts/openapi-check.sh"
    bash scripts/openapi-check.sh || status=1
    log "scripts/docs-check.py"
    python3 scripts/docs-check.py || status=1
    log "scripts/dashboard-check.py"
    python3 scripts/dashboard-check.py || status=1
fi
exit "$status"
