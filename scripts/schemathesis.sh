#!/usr/bin/env bash
# Property-based tests of the served OpenAPI document with Schemathesis
# (https://schemathesis.readthedocs.io): every operation of GET /api/v1/openapi.json is called
# with generated data, valid and invalid, once with a signed-in user's token and once with an
# admin's, and every answer must be no 5xx and conform to the document (status code, content
# type, headers, body schema), among the other checks of `--checks all`.
#
#   scripts/schemathesis.sh                 on SQLite, and on PostgreSQL when
#                                           SHOP_TEST_POSTGRES_URL is set (scripts/test.sh sets it)
#
# Schemathesis (pinned below) is installed from PyPI into a venv cached under
# ${XDG_CACHE_HOME:-~/.cache}/shop/. The `shop` binary is the debug build (built here when
# stale). Each run starts shop on a free port with a fresh data folder and database, rate
# limits off, an admin (`shop create-admin`), a user and a few products, and stops it at the end.
#
# Switches: SHOP_SCHEMATHESIS_EXAMPLES (test cases per operation and phase, default 50),
# SHOP_SCHEMATHESIS_SEED (reproduce a run), SHOP_BIN (a shop binary to test instead of the
# debug build). Under CI=true a failure to install is a failure.
#
# Under CI=true the cases are generated deterministically (Hypothesis' advice for CI: the same
# commit gets the same cases, so a change is judged by what it changed, not by a new draw);
# elsewhere each run draws new ones, to find what CI's draw does not. SHOP_SCHEMATHESIS_RANDOM=1
# draws anew under CI too.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"

SCHEMATHESIS_VERSION=4.32.5
EXAMPLES="${SHOP_SCHEMATHESIS_EXAMPLES:-50}"

log() { printf '==> schemathesis: %s\n' "$*" >&2 || true; }
die() { printf 'error: schemathesis: %s\n' "$*" >&2; exit 1; }
is_ci() { [ "${CI:-}" = true ]; }
is_root() { [ "$(id -u)" -eq 0 ]; }

# --- Schemathesis in a cached venv ------------------------------------------------------------

CACHE="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/shop"
VENV="$CACHE/venv"

python_bin() {
    local p
    for p in python3.11 python3.12 python3.13 python3; do
        if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
            command -v "$p"
            return 0
        fi
    done
    return 1
}

install_schemathesis() {
    # The marker is written last: a venv that a failed or cut-off install left is made anew.
    if [ -x "$VENV/bin/schemathesis" ] && [ "$(cat "$VENV/.shop-installed" 2>/dev/null)" = "$SCHEMATHESIS_VERSION" ]; then
        return 0
    fi
    local py
    py="$(python_bin)" || die "no Python 3.10 or newer found (Schemathesis needs one)"
    mkdir -p "$CACHE"
    if ! "$py" -c 'import venv, ensurepip' 2>/dev/null; then
        if is_root && command -v apt-get >/dev/null 2>&1; then
            log "installing python3-venv with apt-get"
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
        else
            die "$py cannot make a venv (apt-get install python3-venv)"
        fi
    fi
    log "installing schemathesis $SCHEMATHESIS_VERSION into $VENV (once)"
    rm -rf "$VENV"
    "$py" -m venv "$VENV" || die "$py -m venv failed"
    "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" \
        || die "pip could not install schemathesis==$SCHEMATHESIS_VERSION"
    printf '%s' "$SCHEMATHESIS_VERSION" >"$VENV/.shop-installed"
}

# --- shop on a fresh database -----------------------------------------------------------------

SHOP_PID=""
RUN_DIR=""
PG_ADMIN_URL=""
PG_DB=""

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

json_field() {   # json_field KEY < JSON
    python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

psql_admin() {
    local psql=psql
    command -v psql >/dev/null 2>&1 || psql="$(find /usr/lib/postgresql -name psql -type f 2>/dev/null | sort -rV | head -1)"
    [ -n "$psql" ] || die "psql not found (apt-get install postgresql-client)"
    "$psql" "$PG_ADMIN_URL" -X -q -v ON_ERROR_STOP=1 -c "$1" >/dev/null
}

stop_shop() {
    if [ -n "$SHOP_PID" ] && kill -0 "$SHOP_PID" 2>/dev/null; then
        kill -TERM "$SHOP_PID" 2>/dev/null || true
        wait "$SHOP_PID" 2>/dev/null || true
    fi
    SHOP_PID=""
    if [ -n "$PG_DB" ]; then
        psql_admin "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" || true
        PG_DB=""
    fi
    if [ -n "$RUN_DIR" ]; then
        rm -rf "$RUN_DIR"
        RUN_DIR=""
    fi
}
trap 'stop_shop' EXIT
trap 'exit 130' INT TERM

# start_shop sqlite|postgres: sets BASE and the environment of the shop commands.
start_shop() {
    RUN_DIR="$(mktemp -d "${TMPDIR:-/tmp}/shop-schemathesis.XXXXXX")"
    local port
    port="$(free_port)"
    export DATA_DIR="$RUN_DIR/data" HOST=127.0.0.1 PORT="$port" RATE_LIMIT_ENABLED=false \
        AUTH_PROVIDER=local STORAGE_BACKEND=local ACCESS_TOKEN_TTL_SECONDS=3600 \
        RUST_LOG="${RUST_LOG:-warn}" LOG_FORMAT=text
    if [ "$1" = postgres ]; then
        PG_ADMIN_URL="$SHOP_TEST_POSTGRES_URL"
        PG_DB="shop_schemathesis_$$"
        psql_admin "CREATE DATABASE \"$PG_DB\""
        DATABASE_URL="$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$PG_ADMIN_URL" "$PG_DB")"
    else
        DATABASE_URL="sqlite://$RUN_DIR/data/shop.db"
    fi
    export DATABASE_URL
    BASE="http://127.0.0.1:$port"
    "$SHOP" serve >"$RUN_DIR/shop.log" 2>&1 &
    SHOP_PID=$!
    local deadline=$((SECONDS + 60))
    until curl -fsS -o /dev/null --max-time 2 "$BASE/health/ready" 2>/dev/null; do
        kill -0 "$SHOP_PID" 2>/dev/null || { tail -n 30 "$RUN_DIR/shop.log" >&2; die "shop exited while starting"; }
        [ "$SECONDS" -lt "$deadline" ] || { tail -n 30 "$RUN_DIR/shop.log" >&2; die "shop did not get ready in 60 s"; }
        sleep 0.2
    done
}

api() {   # api METHOD PATH [TOKEN] [JSON]: prints the body, fails on a non-2xx answer
    local args=(-fsS -X "$1" "$BASE/api/v1$2" -H 'content-type: application/json')
    [ -z "${3:-}" ] || args+=(-H "authorization: Bearer $3")
    [ -z "${4:-}" ] || args+=(-d "$4")
    curl "${args[@]}"
}

seed() {
    local password="schemathesis password" admin_email="admin@example.com" user_email="user@example.com"
    "$SHOP" create-admin --email "$admin_email" --password "$password" --username admin >/dev/null
    api POST /auth/register "" "{\"email\": \"$user_email\", \"password\": \"$password\", \"username\": \"user\"}" >/dev/null
    ADMIN_TOKEN="$(api POST /auth/login "" "{\"username\": \"admin\", \"password\": \"$password\"}" | json_field access_token)"
    USER_TOKEN="$(api POST /auth/login "" "{\"username\": \"user\", \"password\": \"$password\"}" | json_field access_token)"
    local i product orders=() products=() images=()
    for i in 1 2 3; do
        product="$(api POST /products "$ADMIN_TOKEN" \
            "{\"sku\": \"SEED-$i\", \"name\": \"Seed product $i\", \"description\": \"for the property tests\", \"price\": {\"amount\": \"$i.50\", \"currency\": \"EUR\"}, \"stock\": 1000}" \
            | json_field id)"
        products+=("$product")
        orders+=("$(api POST /orders "$USER_TOKEN" "{\"items\": [{\"product_id\": \"$product\", \"quantity\": 1}]}" | json_field id)")
        # An image each, so that the links to the file and image routes carry real ids.
        printf 'GIF89a seed image %s' "$i" >"$RUN_DIR/seed.gif"
        images+=("$(curl -fsS -X POST "$BASE/api/v1/products/$product/images" \
            -H "authorization: Bearer $ADMIN_TOKEN" -F "file=@$RUN_DIR/seed.gif" | json_field id)")
    done
    # Real ids for the operations on one order or image (scripts/schemathesis.toml): generated
    # ids name nothing (404), and the stateful phase's links from generated lists seldom find
    # an item, so these would otherwise meet only 404s. One order is cancelled, another moved
    # through the statuses; one image's bytes are fetched. (Deleting an image is reached by the
    # stateful phase's upload-then-delete link; see scripts/schemathesis.toml.)
    export SHOP_ST_ORDER_TO_CANCEL="${orders[0]}" SHOP_ST_ORDER_TO_MOVE="${orders[1]}" \
        SHOP_ST_IMAGE_TO_FETCH="${images[2]}"
}

# run_as WHO TOKEN: one Schemathesis run over every operation with that bearer token.
run_as() {
    local who="$1" token="$2" args=()
    [ -z "${SHOP_SCHEMATHESIS_SEED:-}" ] || args+=(--seed "$SHOP_SCHEMATHESIS_SEED")
    if is_ci && [ "${SHOP_SCHEMATHESIS_RANDOM:-}" != 1 ]; then
        args+=(--generation-deterministic)
    fi
    log "$DB_NAME, as $who: every operation, up to $EXAMPLES cases each"
    # --checks all, positive_data_acceptance included: data valid by the document must be
    # accepted (2xx, or 401/403/404/409 as the state of the shop decides). The few rules that
    # no schema states (an order naming a product that does not exist) are allowed per
    # operation in scripts/schemathesis.toml, each with its reason. The stateful phase follows
    # the document's `links`: the product created is ordered, the order placed is fetched,
    # cancelled and moved on, the image uploaded is fetched and deleted, with real ids.
    # One worker: Hypothesis parses source with `ast` from each worker thread, and CPython
    # 3.11 (Debian 12's) fails that now and then under threads ("AST constructor recursion
    # depth mismatch"), which Schemathesis reports as errors.
    # From the run's folder: Schemathesis keeps its example database in ./.schemathesis.
    (cd "$RUN_DIR" && "$VENV/bin/schemathesis" --config-file "$ROOT/scripts/schemathesis.toml" \
        run "$BASE/api/v1/openapi.json" \
        --url "$BASE" \
        --header "Authorization: Bearer $token" \
        --checks all \
        --max-examples "$EXAMPLES" \
        --workers 1 \
        --request-timeout 30 \
        --suppress-health-check all \
        --no-color \
        "${args[@]}")
}

run_on() {
    DB_NAME="$1"
    start_shop "$1"
    seed
    local status=0
    run_as user "$USER_TOKEN" || status=1
    run_as admin "$ADMIN_TOKEN" || status=1
    if grep -qE 'panicked|ERROR' "$RUN_DIR/shop.log"; then
        log "shop logged errors on $DB_NAME:"
        grep -E 'panicked|ERROR' "$RUN_DIR/shop.log" | head -n 20 >&2
        status=1
    fi
    stop_shop
    return "$status"
}

# --- main ---------------------------------------------------------------------------------------

install_schemathesis
if ! command -v cargo >/dev/null 2>&1 && [ -x "${HOME:-}/.cargo/bin/cargo" ]; then
    PATH="${HOME:-}/.cargo/bin:$PATH"
fi
if [ -n "${SHOP_BIN:-}" ]; then
    SHOP="$SHOP_BIN"
else
    cargo build -p shop --locked --quiet
    SHOP="$PWD/target/debug/shop"
fi

status=0
run_on sqlite || status=1
if [ -n "${SHOP_TEST_POSTGRES_URL:-}" ]; then
    run_on postgres || status=1
elif is_ci; then
    die "SHOP_TEST_POSTGRES_URL is not set, and CI=true: the PostgreSQL run must happen in CI"
else
    log "SHOP_TEST_POSTGRES_URL is not set: the PostgreSQL run is skipped"
fi
if [ "$status" = 0 ]; then log "no failures"; else log "FAILED (see above)"; fi
exit "$status"
