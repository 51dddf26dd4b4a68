#!/usr/bin/env bash
# shellcheck disable=SC2317  # test.sh ends in `exit` when run, but returns early when sourced
# Two `shop` instances behind nginx on one PostgreSQL, on this machine:
#   scripts/cluster.sh [--release]
# - PostgreSQL: DATABASE_URL (postgres://...) when set; else a throw-away cluster, made and
#   started the way scripts/test.sh does it (installed with apt-get when missing and root).
# - nginx: Debian's package (nginx-light, or nginx), installed with apt-get when missing and
#   root; SHOP_TEST_NGINX names another binary. It runs with a generated configuration in a
#   temp dir (deploy/nginx/shop.conf, pointed at the two instances), as a foreground process
#   of this script, never as the system's service.
# - the shop: built with cargo (`--release` for a release build); SHOP_BIN names a binary.
#   Both instances share one DATA_DIR (as they would share a volume): one signing key for the
#   built-in identity provider, one image folder.
# - CLUSTER_PORT: nginx's port (default: the first free one from 8080).
# Ctrl-C (or TERM) stops everything it started: nginx, both instances (SIGTERM, so their
# requests finish), and PostgreSQL, and removes the temp dir.
set -euo pipefail

SHOP_TEST_SOURCE_ONLY=1
# shellcheck source=scripts/test.sh
source "$(dirname "${BASH_SOURCE[0]}")/test.sh"   # its functions; it cds to the repository

profile=debug
for arg in "$@"; do
    case "$arg" in
        --release) profile=release ;;
        -h|--help) sed -n '3,18p' "$0"; exit 0 ;;
        *) die "unknown argument: $arg (see --help)" ;;
    esac
done

CL_TMP=""
SHOP_PIDS=()
NGINX_PID=""

# shellcheck disable=SC2317  # invoked through trap
stop_all() {
    local rc=${1:-$?}
    trap '' INT TERM HUP
    if [ -n "$NGINX_PID" ] && kill -0 "$NGINX_PID" 2>/dev/null; then
        log "stopping nginx"
        kill -QUIT "$NGINX_PID" 2>/dev/null || true
        wait "$NGINX_PID" 2>/dev/null || true
    fi
    local pid
    for pid in "${SHOP_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${SHOP_PIDS[@]}"; do
        log "stopping shop (pid $pid)"
        wait "$pid" 2>/dev/null || true
    done
    [ -z "$CL_TMP" ] || rm -rf "$CL_TMP"
    cleanup "$rc"   # scripts/test.sh: stops PostgreSQL (when it started one) and exits
}
TRAPS_SET=1   # ours, not test.sh's: they stop more
trap stop_all EXIT
trap 'stop_all 130' INT
trap 'stop_all 143' TERM
trap 'stop_all 129' HUP

free_port_from() {
    local port=$1
    while ! port_is_free "$port"; do port=$((port + 1)); done
    printf '%s' "$port"
}

wait_http() {   # url what pid
    local deadline=$((SECONDS + 60))
    until curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null; do
        if [ -n "${3:-}" ] && ! kill -0 "$3" 2>/dev/null; then
            die "$2 exited while starting (log in $CL_TMP)"
        fi
        [ "$SECONDS" -lt "$deadline" ] || die "$2 did not answer $1 within 60 s"
        sleep 0.2
    done
}

provide_nginx || die "no nginx"
CL_TMP="$(mktemp -d "${TMPDIR:-/tmp}/shop-cluster.XXXXXX")"
chmod 755 "$CL_TMP"   # nginx's workers run as an unprivileged user when started as root

if [ -z "${DATABASE_URL:-}" ]; then
    start_cluster
    DATABASE_URL="$SHOP_TEST_POSTGRES_URL"
fi
case "$DATABASE_URL" in
    postgres://*|postgresql://*) ;;
    *) die "DATABASE_URL must be a PostgreSQL URL: SQLite serves one instance only" ;;
esac

if [ -n "${SHOP_BIN:-}" ]; then
    shop_bin="$SHOP_BIN"
else
    log "cargo build -p shop ($profile)"
    if [ "$profile" = release ]; then cargo build -q --locked --release -p shop; else cargo build -q --locked -p shop; fi
    shop_bin="$PWD/target/$profile/shop"
fi

mkdir -p "$CL_TMP/data"
# Once before the instances start, so they do not both wait on the migration lock.
if ! DATABASE_URL="$DATABASE_URL" DATA_DIR="$CL_TMP/data" "$shop_bin" migrate \
    </dev/null >/dev/null 2>"$CL_TMP/migrate.log"; then
    tail_log "$CL_TMP/migrate.log"
    die "shop migrate failed"
fi
ports=()
for n in 1 2; do
    port="$(free_port_from $((5000 + n)))"
    while [ "${#ports[@]}" -gt 0 ] && [ "$port" = "${ports[0]}" ]; do port="$(free_port_from $((port + 1)))"; done
    ports+=("$port")
    DATABASE_URL="$DATABASE_URL" DATA_DIR="$CL_TMP/data" HOST=127.0.0.1 PORT="$port" \
        SHUTDOWN_DRAIN_SECONDS="${SHUTDOWN_DRAIN_SECONDS:-0}" RUST_LOG="${RUST_LOG:-info}" \
        TRUSTED_PROXIES="${TRUSTED_PROXIES:-127.0.0.1}" \
        "$shop_bin" serve </dev/null >"$CL_TMP/shop-$n.log" 2>&1 &
    SHOP_PIDS+=("$!")
    log "shop instance $n on 127.0.0.1:$port (pid $!, log $CL_TMP/shop-$n.log)"
done
for n in 0 1; do
    wait_http "http://127.0.0.1:${ports[$n]}/health/ready" "shop instance $((n + 1))" "${SHOP_PIDS[$n]}"
done

lb_port="${CLUSTER_PORT:-$(free_port_from 8080)}"
mkdir -p "$CL_TMP/nginx"
sed -e "s/10\.0\.0\.11:5000/127.0.0.1:${ports[0]}/" \
    -e "s/10\.0\.0\.12:5000/127.0.0.1:${ports[1]}/" \
    -e "s/listen 80;/listen 127.0.0.1:$lb_port;/" \
    -e "s#/var/log/nginx/shop.access.log#$CL_TMP/nginx/access.log#" \
    deploy/nginx/shop.conf >"$CL_TMP/nginx/shop.conf"
cat >"$CL_TMP/nginx/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $CL_TMP/nginx/nginx.pid;
error_log $CL_TMP/nginx/error.log warn;
events { worker_connections 1024; }
http {
    client_body_temp_path $CL_TMP/nginx/client_body;
    proxy_temp_path $CL_TMP/nginx/proxy;
    fastcgi_temp_path $CL_TMP/nginx/fastcgi;
    uwsgi_temp_path $CL_TMP/nginx/uwsgi;
    scgi_temp_path $CL_TMP/nginx/scgi;
    include $CL_TMP/nginx/shop.conf;
}
CONF
"$SHOP_TEST_NGINX" -p "$CL_TMP/nginx/" -e "$CL_TMP/nginx/error.log" -c "$CL_TMP/nginx/nginx.conf" -t -q \
    || die "nginx refuses the generated configuration ($CL_TMP/nginx)"
"$SHOP_TEST_NGINX" -p "$CL_TMP/nginx/" -e "$CL_TMP/nginx/error.log" -c "$CL_TMP/nginx/nginx.conf" \
    </dev/null >"$CL_TMP/nginx/stdout.log" 2>&1 &
NGINX_PID=$!
wait_http "http://127.0.0.1:$lb_port/health/ready" nginx "$NGINX_PID"

cat >&2 <<MSG
==> the cluster is up:
      http://127.0.0.1:$lb_port          nginx (round robin over both instances)
      http://127.0.0.1:${ports[0]}, http://127.0.0.1:${ports[1]}   the instances
      logs in $CL_TMP (removed on exit)
    stop one instance to see the other take over:  kill -TERM ${SHOP_PIDS[0]}
    Ctrl-C stops everything.
MSG
# Runs until Ctrl-C, or until nginx exits.
wait "$NGINX_PID" || true
NGINX_PID=""
