#!/usr/bin/env bash
# Checks the served OpenAPI document as its users will, with the tools they use:
#   1. openapi-spec-validator                      no error
#   2. redocly lint (recommended rules, redocly.yaml)  no error; each warning left is explained
#                                                  in redocly.yaml
#   3. openapi-typescript, then tsc --strict over scripts/openapi/usage.ts (typed usage)
#   4. openapi-python-client, then scripts/openapi/walkthrough.py: the README's walk-through
#      (register, sign in, create a product, place an order with an idempotency key, cancel it)
#      with nothing but the generated client, against the real binary
#
#   scripts/openapi-check.sh
#
# The tools (pinned below) are installed once, from PyPI into a venv and from npm into a
# prefix, both cached under ${XDG_CACHE_HOME:-~/.cache}/shop/. The `shop` binary is the debug
# build (built here when stale) or SHOP_BIN; it runs on a fresh SQLite database in a temp dir,
# rate limits off, and is stopped at the end. A tool that cannot be installed is always a
# failure (under CI=true too), never a skip. Takes about 15 s once the tools are cached; the
# first install of the tools takes a minute or two more.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"

OPENAPI_SPEC_VALIDATOR_VERSION=0.9.0
OPENAPI_PYTHON_CLIENT_VERSION=0.29.1
PYTHON_DATEUTIL_VERSION=2.9.0.post0   # the generated client parses date-times with it
REDOCLY_VERSION=2.77.0
OPENAPI_TYPESCRIPT_VERSION=7.13.0
TYPESCRIPT_VERSION=5.9.3

log() { printf '==> openapi-check: %s\n' "$*" >&2 || true; }
die() { printf 'error: openapi-check: %s\n' "$*" >&2; exit 1; }
is_root() { [ "$(id -u)" -eq 0 ]; }

CACHE="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/shop"
VENV="$CACHE/openapi-venv"
NPM_PREFIX="$CACHE/openapi-npm"

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

install_python_tools() {
    local want="$OPENAPI_SPEC_VALIDATOR_VERSION $OPENAPI_PYTHON_CLIENT_VERSION $PYTHON_DATEUTIL_VERSION"
    # The marker is written last: a venv that a failed or cut-off install left is made anew.
    if [ -x "$VENV/bin/openapi-python-client" ] && [ "$(cat "$VENV/.shop-installed" 2>/dev/null)" = "$want" ]; then
        return 0
    fi
    local py
    py="$(python_bin)" || die "no Python 3.10 or newer found"
    mkdir -p "$CACHE"
    if ! "$py" -c 'import venv, ensurepip' 2>/dev/null; then
        if is_root && command -v apt-get >/dev/null 2>&1; then
            log "installing python3-venv with apt-get"
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
        else
            die "$py cannot make a venv (apt-get install python3-venv)"
        fi
    fi
    log "installing openapi-spec-validator and openapi-python-client into $VENV (once)"
    rm -rf "$VENV"
    "$py" -m venv "$VENV" || die "$py -m venv failed"
    "$VENV/bin/pip" install -q --disable-pip-version-check \
        "openapi-spec-validator==$OPENAPI_SPEC_VALIDATOR_VERSION" \
        "openapi-python-client==$OPENAPI_PYTHON_CLIENT_VERSION" \
        "python-dateutil==$PYTHON_DATEUTIL_VERSION" \
        || die "pip could not install the Python tools"
    printf '%s' "$want" >"$VENV/.shop-installed"
}

install_node_tools() {
    local want="$REDOCLY_VERSION $OPENAPI_TYPESCRIPT_VERSION $TYPESCRIPT_VERSION"
    if [ -x "$NPM_PREFIX/node_modules/.bin/tsc" ] && [ "$(cat "$NPM_PREFIX/.shop-installed" 2>/dev/null)" = "$want" ]; then
        return 0
    fi
    if ! command -v npm >/dev/null 2>&1; then
        if is_root && command -v apt-get >/dev/null 2>&1; then
            log "installing nodejs and npm with apt-get"
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
        else
            die "npm not found (apt-get install nodejs npm)"
        fi
    fi
    log "installing @redocly/cli, openapi-typescript and typescript into $NPM_PREFIX (once)"
    rm -rf "$NPM_PREFIX"
    mkdir -p "$NPM_PREFIX"
    npm install --prefix "$NPM_PREFIX" --no-audit --no-fund --loglevel=error \
        "@redocly/cli@$REDOCLY_VERSION" "openapi-typescript@$OPENAPI_TYPESCRIPT_VERSION" \
        "typescript@$TYPESCRIPT_VERSION" >/dev/null \
        || die "npm could not install the Node tools"
    printf '%s' "$want" >"$NPM_PREFIX/.shop-installed"
}

# --- shop on a fresh database -----------------------------------------------------------------

SHOP_PID=""
WORK=""

stop_shop() {
    if [ -n "$SHOP_PID" ] && kill -0 "$SHOP_PID" 2>/dev/null; then
        kill -TERM "$SHOP_PID" 2>/dev/null || true
        wait "$SHOP_PID" 2>/dev/null || true
    fi
    SHOP_PID=""
    if [ -n "$WORK" ] && [ -z "${SHOP_OPENAPI_KEEP:-}" ]; then
        rm -rf "$WORK"
    fi
}
trap 'stop_shop' EXIT
trap 'exit 130' INT TERM

start_shop() {
    local port
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    export DATA_DIR="$WORK/data" HOST=127.0.0.1 PORT="$port" RATE_LIMIT_ENABLED=false \
        AUTH_PROVIDER=local STORAGE_BACKEND=local DATABASE_URL="sqlite://$WORK/data/shop.db" \
        RUST_LOG="${RUST_LOG:-warn}" LOG_FORMAT=text
    BASE="http://127.0.0.1:$port"
    "$SHOP" serve >"$WORK/shop.log" 2>&1 &
    SHOP_PID=$!
    local deadline=$((SECONDS + 60))
    until curl -fsS -o /dev/null --max-time 2 "$BASE/health/ready" 2>/dev/null; do
        kill -0 "$SHOP_PID" 2>/dev/null || { tail -n 30 "$WORK/shop.log" >&2; die "shop exited while starting"; }
        [ "$SECONDS" -lt "$deadline" ] || { tail -n 30 "$WORK/shop.log" >&2; die "shop did not get ready in 60 s"; }
        sleep 0.2
    done
}

# --- main ---------------------------------------------------------------------------------------

started=$SECONDS
install_python_tools
install_node_tools
BIN="$NPM_PREFIX/node_modules/.bin"
if ! command -v cargo >/dev/null 2>&1 && [ -x "${HOME:-}/.cargo/bin/cargo" ]; then
    PATH="${HOME:-}/.cargo/bin:$PATH"
fi
if [ -n "${SHOP_BIN:-}" ]; then
    SHOP="$SHOP_BIN"
else
    cargo build -p shop --locked --quiet
    SHOP="$ROOT/target/debug/shop"
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/shop-openapi.XXXXXX")"
start_shop
curl -fsS "$BASE/api/v1/openapi.json" -o "$WORK/openapi.json"
status=0

log "openapi-spec-validator $OPENAPI_SPEC_VALIDATOR_VERSION"
"$VENV/bin/openapi-spec-validator" "$WORK/openapi.json" || status=1

log "redocly lint $REDOCLY_VERSION (recommended rules; redocly.yaml)"
# No telemetry, no update check: nothing leaves the machine. Errors fail; so does a warning
# that redocly.yaml does not explain on an `explained:` line.
(cd "$ROOT" && REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
    "$BIN/redocly" lint --config redocly.yaml --format json "$WORK/openapi.json" \
    >"$WORK/redocly.json" 2>"$WORK/redocly.log") || true
python3 - "$WORK/redocly.json" redocly.yaml <<'PY' || status=1
import json, sys
try:
    report = json.load(open(sys.argv[1]))
except ValueError:
    sys.exit("redocly lint wrote no report")
explained = {
    tuple(line.split(":", 1)[1].split())
    for line in open(sys.argv[2])
    if line.startswith("# explained:")
}
failed = False
for p in report["problems"]:
    where = p["location"][0]["pointer"] if p.get("location") else "?"
    ok = p["severity"] == "warn" and (p["ruleId"], where) in explained
    print(f"  {p['severity']:5} {p['ruleId']} {where}: {p['message']}" + ("" if ok else "  <- not allowed"))
    failed |= not ok
totals = report["totals"]
print(f"  redocly: {totals['errors']} errors, {totals['warnings']} warnings ({len(explained)} explained in redocly.yaml)")
sys.exit(1 if failed else 0)
PY

log "openapi-typescript $OPENAPI_TYPESCRIPT_VERSION, then tsc $TYPESCRIPT_VERSION --strict"
mkdir -p "$WORK/ts"
cp scripts/openapi/usage.ts scripts/openapi/tsconfig.json "$WORK/ts/"
if "$BIN/openapi-typescript" "$WORK/openapi.json" --output "$WORK/ts/schema.d.ts" >/dev/null 2>"$WORK/ts/generate.log"; then
    (cd "$WORK/ts" && "$BIN/tsc" --project tsconfig.json) || status=1
else
    cat "$WORK/ts/generate.log" >&2
    status=1
fi

log "openapi-python-client $OPENAPI_PYTHON_CLIENT_VERSION, then the README's walk-through"
# The venv first on PATH: the generator formats its output with the ruff it installed.
if (cd "$WORK" && PATH="$VENV/bin:$PATH" openapi-python-client generate --path openapi.json \
        --config "$ROOT/scripts/openapi/python-client.yaml" \
        --meta none --output-path shop_client --fail-on-warning >"$WORK/generate.log" 2>&1); then
    SHOP_CLI="$SHOP" SHOP_BASE_URL="$BASE" PYTHONPATH="$WORK" \
        "$VENV/bin/python" scripts/openapi/walkthrough.py || status=1
else
    cat "$WORK/generate.log" >&2
    status=1
fi

if grep -qE 'panicked|ERROR' "$WORK/shop.log"; then
    log "shop logged errors:"
    grep -E 'panicked|ERROR' "$WORK/shop.log" | head -n 20 >&2
    status=1
fi
if [ "$status" = 0 ]; then log "no failures ($((SECONDS - started)) s)"; else log "FAILED (see above)"; fi
exit "$status"
