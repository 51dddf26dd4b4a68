#!/usr/bin/env python3
"""The load benchmark of `shop`: one command, both databases, a markdown report.

    scripts/bench.py            # full run: release build, 10,000 products, 500 users,
                                # 16 and 64 connections, 15 s per scenario; writes BENCHMARKS.md
    scripts/bench.py --smoke    # 40 products, 4 users, 2 s per scenario, report to stdout; the
                                # debug binary the test suite builds (`cargo test --no-run`), so
                                # right after scripts/test.sh it compiles nothing

It builds `shop`, provides PostgreSQL (like scripts/test.sh: `SHOP_TEST_POSTGRES_URL` when set,
else a throw-away cluster, with fsync on as in production), installs wrk from Debian's packages
when missing (as root), starts `shop` on SQLite and then on PostgreSQL with a fresh database,
seeds it over the HTTP API, drives each scenario with wrk (a C load generator whose Lua scripts
randomise paths, tokens and bodies per request; it costs far less CPU per request than a Python
or Rust client on the same two cores), and stops everything it started.

Python standard library only.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORDS = ("mug", "cotton", "canvas", "notebook", "brass", "candle", "bottle", "merino",
         "ceramic", "olive", "lamp", "chair", "table", "desk", "towel", "soap", "linen",
         "walnut", "copper", "wool")
PASSWORD = "bench password 123"


def log(msg: str) -> None:
    print(f"==> {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def is_root() -> bool:
    return os.geteuid() == 0


# --- things the benchmark starts -------------------------------------------------------------

class Cleanup:
    """Runs registered stop actions in reverse order, once, also on Ctrl-C or SIGTERM."""

    def __init__(self) -> None:
        self.actions: list = []

    def add(self, action) -> None:
        self.actions.append(action)

    def run(self) -> None:
        while self.actions:
            action = self.actions.pop()
            try:
                action()
            except Exception as e:  # noqa: BLE001 - cleanup must go on
                print(f"warning: cleanup step failed: {e}", file=sys.stderr)


def apt_install(package: str, refusal: str) -> None:
    """Installs a Debian package, or exits with `refusal` where that is not possible."""
    if not is_root() or not shutil.which("apt-get"):
        sys.exit(refusal)
    log(f"installing {package} with apt-get")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", package],
                   check=True, env=env, stdout=subprocess.DEVNULL)


def ensure_wrk() -> str:
    path = shutil.which("wrk")
    if path:
        return path
    apt_install("wrk", "error: wrk is not installed; install it (sudo apt-get install -y wrk) and run again")
    return shutil.which("wrk") or sys.exit("error: wrk still not found after installing it")


def find_pg_bin() -> Path | None:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
                        reverse=True)
    for c in candidates:
        if (c / "initdb").exists() and (c / "pg_ctl").exists():
            return c
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb and shutil.which("pg_ctl") else None


def start_postgres(cleanup: Cleanup) -> str:
    """A PostgreSQL server URL whose user may create databases."""
    url = os.environ.get("SHOP_BENCH_POSTGRES_URL") or os.environ.get("SHOP_TEST_POSTGRES_URL")
    if url:
        return url
    pg_bin = find_pg_bin()
    if pg_bin is None:
        apt_install("postgresql", "error: PostgreSQL (initdb, pg_ctl) not found; install it or set SHOP_BENCH_POSTGRES_URL")
        pg_bin = find_pg_bin() or sys.exit("error: initdb not found after installing PostgreSQL")
    tmp = Path(tempfile.mkdtemp(prefix="shop-bench-pg."))
    as_pg: list[str] = []
    if is_root():
        subprocess.run(["id", "postgres"], check=True, stdout=subprocess.DEVNULL)
        shutil.chown(tmp, "postgres")
        as_pg = ["runuser", "-u", "postgres", "--"]
    data = tmp / "data"
    port = free_port()
    subprocess.run([*as_pg, str(pg_bin / "initdb"), "-A", "trust", "-U", "postgres", "-D", str(data)],
                   check=True, stdout=subprocess.DEVNULL, cwd=tmp)
    log(f"starting PostgreSQL on port {port}")
    # Production-like durability (fsync on); more connections than the default for 64-connection runs.
    subprocess.run([*as_pg, str(pg_bin / "pg_ctl"), "-D", str(data), "-w", "-l", str(tmp / "log"),
                    "-o", f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c max_connections=200",
                    "start"], check=True, stdout=subprocess.DEVNULL, cwd=tmp)

    def stop() -> None:
        log("stopping PostgreSQL")
        subprocess.run([*as_pg, str(pg_bin / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp)
        shutil.rmtree(tmp, ignore_errors=True)

    cleanup.add(stop)
    return f"postgres://postgres@127.0.0.1:{port}/postgres"


def create_database(server_url: str, name: str) -> str:
    """A fresh database on the server; returns its URL."""
    base = server_url.rsplit("/", 1)[0]
    psql = shutil.which("psql") or str((find_pg_bin() or Path("/usr/bin")) / "psql")
    subprocess.run([psql, server_url, "-q", "-c", f'CREATE DATABASE "{name}"'], check=True)
    return f"{base}/{name}"


# --- talking to shop -------------------------------------------------------------------------

def request(base: str, method: str, path: str, body=None, token: str | None = None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


@dataclass
class Server:
    proc: subprocess.Popen
    base: str
    cold_start_ms: float

    def rss_kib(self, key: str = "VmRSS") -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
        return 0

    def reset_peak(self) -> None:
        # Writing 5 resets the process's peak resident set size (VmHWM).
        try:
            Path(f"/proc/{self.proc.pid}/clear_refs").write_text("5")
        except OSError:
            pass


def start_shop(binary: Path, env: dict, cleanup: Cleanup) -> Server:
    port = free_port()
    env = dict(env, HOST="127.0.0.1", PORT=str(port))
    base = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    proc = subprocess.Popen([str(binary), "serve"], env=env, stdout=subprocess.DEVNULL,
                            stderr=open(Path(env["DATA_DIR"]) / "shop.log", "w"))

    def stop() -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()

    cleanup.add(stop)
    deadline = started + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"error: shop exited early; see {env['DATA_DIR']}/shop.log")
        try:
            with urllib.request.urlopen(base + "/health/ready", timeout=1) as r:
                if r.status == 200:
                    return Server(proc, base, (time.monotonic() - started) * 1000)
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.005)
    sys.exit("error: shop did not become ready within 60 s")


@dataclass
class Dataset:
    product_ids: list = field(default_factory=list)
    tokens: list = field(default_factory=list)


def seed(server: Server, binary: Path, env: dict, products: int, users: int) -> Dataset:
    subprocess.run([str(binary), "create-admin", "--email", "bench-admin@example.com",
                    "--password", PASSWORD], env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    status, tokens = request(server.base, "POST", "/api/v1/auth/login",
                             {"username": "bench-admin@example.com", "password": PASSWORD})
    assert status == 200, tokens
    admin = tokens["access_token"]
    rng = random.Random(42)

    def add_product(i: int) -> str:
        name = " ".join(rng.choice(WORDS) for _ in range(3)) + f" {i}"
        body = {"sku": f"BENCH-{i:06d}", "name": name,
                "description": " ".join(rng.choice(WORDS) for _ in range(12)),
                "price": {"amount": f"{rng.randint(100, 99999) / 100:.2f}", "currency": "EUR"},
                "stock": 1_000_000_000}
        status, p = request(server.base, "POST", "/api/v1/products", body, admin)
        assert status == 201, (status, p)
        return p["id"]

    def add_user(i: int) -> str:
        email = f"bench-user-{i}@example.com"
        status, body = request(server.base, "POST", "/api/v1/auth/register",
                               {"email": email, "password": PASSWORD})
        assert status == 201, (status, body)
        status, body = request(server.base, "POST", "/api/v1/auth/login",
                               {"username": email, "password": PASSWORD})
        assert status == 200, (status, body)
        return body["access_token"]

    data = Dataset()
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        data.product_ids = list(pool.map(add_product, range(products)))
        data.tokens = list(pool.map(add_user, range(users)))
    log(f"seeded {products} products and {users} users in {time.monotonic() - started:.1f} s")
    return data


# --- scenarios -------------------------------------------------------------------------------

LUA_COMMON = """
local ids = {%(ids)s}
local tokens = {%(tokens)s}
local words = {%(words)s}
local pages = %(pages)d
math.randomseed(os.time() + math.floor(os.clock() * 1000000))
local function pick(t) return t[math.random(#t)] end
local function catalog() return wrk.format("GET", "/api/v1/products?per_page=20&page=" .. math.random(pages)) end
local function product() return wrk.format("GET", "/api/v1/products/" .. pick(ids)) end
local function search() return wrk.format("GET", "/api/v1/products?q=" .. pick(words)) end
local function me() return wrk.format("GET", "/api/v1/users/me", {["Authorization"] = "Bearer " .. pick(tokens)}) end
local function order()
  local items = '{"product_id":"' .. pick(ids) .. '","quantity":1}'
  if math.random(2) == 2 then items = items .. ',{"product_id":"' .. pick(ids) .. '","quantity":1}' end
  return wrk.format("POST", "/api/v1/orders",
    {["Authorization"] = "Bearer " .. pick(tokens), ["Content-Type"] = "application/json"},
    '{"items":[' .. items .. ']}')
end
local function mix()
  local r = math.random(100)
  if r <= 80 then return catalog() elseif r <= 95 then return product() else return order() end
end
"""

SCENARIOS = [
    ("floor", "framework floor: GET /health/live", 'request = function() return wrk.format("GET", "/health/live") end'),
    ("catalog", "catalog page: GET /products?page=random&per_page=20", "request = catalog"),
    ("product", "product by id: GET /products/{random id}", "request = product"),
    ("search", "search: GET /products?q={random word}", "request = search"),
    ("me", "signed-in GET /users/me (a random user's token)", "request = me"),
    ("order", "order placement: POST /orders (1-2 lines)", "request = order"),
    ("mix", "mix: 80% catalog, 15% product, 5% orders", "request = mix"),
]

LAT = re.compile(r"^\s+(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s)\s*$", re.M)


def to_ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


@dataclass
class Result:
    scenario: str
    connections: int
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    errors: str
    peak_rss_mib: float


def run_wrk(wrk: str, server: Server, script: Path, connections: int, seconds: int, warmup: int,
            scenario: str) -> Result:
    threads = str(min(2, connections))
    if warmup:
        subprocess.run([wrk, "-t", threads, "-c", str(connections), "-d", f"{warmup}s", "-s", str(script),
                        server.base], check=True, stdout=subprocess.DEVNULL)
    server.reset_peak()
    out = subprocess.run([wrk, "-t", threads, "-c", str(connections), "-d", f"{seconds}s", "--latency",
                          "-s", str(script), server.base], check=True, capture_output=True, text=True).stdout
    lat = {p: to_ms(v, u) for p, v, u in LAT.findall(out)}
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return Result(scenario, connections, rps, lat.get("50", 0.0), lat.get("99", 0.0), total,
                  int(non2xx.group(1)) if non2xx else 0, errors.group(1).strip() if errors else "",
                  server.rss_kib("VmHWM") / 1024)


def lua_list(items) -> str:
    return ",".join(f'"{x}"' for x in items)


def bench_backend(label: str, database_url: str, binary: Path, wrk: str, args, cleanup: Cleanup,
                  workdir: Path) -> dict:
    data_dir = workdir / label
    data_dir.mkdir(parents=True)
    env = dict(os.environ, DATABASE_URL=database_url, DATA_DIR=str(data_dir),
               RATE_LIMIT_ENABLED="false", ACCESS_TOKEN_TTL_SECONDS="86400",
               RUST_LOG="warn", LOG_FORMAT="text", DATABASE_MAX_CONNECTIONS="16")
    if args.rate_limits:
        # Every limiter on and keeping its books, with budgets no scenario exhausts: what the
        # limits cost, not what they refuse.
        env.update(RATE_LIMIT_ENABLED="true", RATE_LIMIT_AUTH_PER_MINUTE="1000000",
                   RATE_LIMIT_AUTH_BURST="1000000", RATE_LIMIT_WRITES_PER_MINUTE="1000000",
                   RATE_LIMIT_WRITES_BURST="1000000")
    log(f"{label}: starting shop")
    server = start_shop(binary, env, cleanup)
    time.sleep(1)
    idle_rss = server.rss_kib() / 1024
    data = seed(server, binary, env, args.products, args.users)
    script_dir = data_dir / "lua"
    script_dir.mkdir()
    common = LUA_COMMON % {"ids": lua_list(data.product_ids), "tokens": lua_list(data.tokens),
                           "words": lua_list(WORDS), "pages": max(1, args.products // 20)}
    results = []
    for name, _, body in SCENARIOS:
        if args.scenarios and name not in args.scenarios:
            continue
        script = script_dir / f"{name}.lua"
        script.write_text(common + "\n" + body + "\n")
        for c in args.connections:
            r = run_wrk(wrk, server, script, c, args.duration, args.warmup, name)
            log(f"{label} {name:8} c={c:<3} {r.rps:9.0f} req/s  p50 {r.p50_ms:7.2f} ms  "
                f"p99 {r.p99_ms:7.2f} ms  non-2xx {r.non_2xx}  peak {r.peak_rss_mib:.1f} MiB")
            results.append(r)
    return {"label": label, "cold_start_ms": server.cold_start_ms, "idle_rss_mib": idle_rss,
            "results": results}


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, {platform.system()} {platform.release()}"


def report(runs: list, args, binary: Path) -> str:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    lines = [
        "# Benchmarks",
        "",
        "Made by `scripts/bench.py` (see the README). The load generator (wrk, 2 threads) runs on",
        "the same cores as `shop` and the database, so every number here is a floor for a machine",
        "with the generator elsewhere. Each scenario runs after a warm-up; `non-2xx` counts every",
        "answer that was not 2xx. Peak RSS is the server process's high-water mark during the scenario.",
        "",
        f"- Date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Commit: `{commit}`{' (with uncommitted changes)' if dirty else ''}",
        f"- Machine: {machine()}",
        f"- Build: `{binary.relative_to(ROOT) if binary.is_relative_to(ROOT) else binary}`, "
        f"size {binary.stat().st_size / 2**20:.1f} MiB",
        f"- Dataset: {args.products} products, {args.users} users with access tokens; "
        f"{args.duration} s per scenario after a {args.warmup} s warm-up",
        "- Rate limits: " + ("on, with budgets no scenario exhausts (`--rate-limits`)" if args.rate_limits
                             else "off (`RATE_LIMIT_ENABLED=false`); metrics: always on"),
        "",
    ]
    for run in runs:
        lines += [
            f"## {run['label']}",
            "",
            f"Cold start to ready (new database, migrations): {run['cold_start_ms']:.0f} ms; "
            f"idle RSS {run['idle_rss_mib']:.1f} MiB.",
            "",
            "| scenario | connections | req/s | p50 ms | p99 ms | requests | non-2xx | peak RSS MiB |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        titles = {n: t for n, t, _ in SCENARIOS}
        for r in run["results"]:
            errors = f" ({r.errors})" if r.errors else ""
            lines.append(f"| {titles[r.scenario]} | {r.connections} | {r.rps:,.0f} | {r.p50_ms:.2f} | "
                         f"{r.p99_ms:.2f} | {r.requests:,} | {r.non_2xx}{errors} | {r.peak_rss_mib:.1f} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true",
                        help="40 products, 4 users, 2 s per scenario, report to stdout (used by CI); "
                             "measures the debug binary of `cargo test --workspace --no-run`")
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--duration", type=int, default=15, help="seconds per scenario")
    parser.add_argument("--warmup", type=int, default=5, help="seconds of warm-up per scenario")
    parser.add_argument("--connections", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--only", choices=["sqlite", "postgres"], help="one database only")
    parser.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--scenarios", nargs="+", choices=[s[0] for s in SCENARIOS],
                        help="run only these scenarios (default: all)")
    parser.add_argument("--rate-limits", action="store_true",
                        help="run with the rate limits on (budgets too large to refuse anything), "
                             "to measure what they cost")
    parser.add_argument("--binary", type=Path,
                        help="measure this already built shop binary instead of building one")
    args = parser.parse_args()
    profile = "release"
    if args.smoke:
        args.products, args.users, args.duration, args.warmup, args.connections = 40, 4, 2, 0, [4]
        profile = "dev"

    cleanup = Cleanup()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        if args.binary:
            binary = args.binary.resolve()
        else:
            if args.smoke:
                # The build scripts/test.sh makes: features unified with the tests', so after a
                # test run nothing is compiled again (a plain `cargo build -p shop` would be).
                log("building shop (debug, as `cargo test --workspace --no-run` builds it)")
                command = ["cargo", "test", "--workspace", "--locked", "--no-run"]
            else:
                log(f"building shop ({profile})")
                command = ["cargo", "build", "--locked", "-p", "shop", "--profile", profile]
            subprocess.run(command, cwd=ROOT, check=True)
            target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
            binary = target / ("debug" if profile == "dev" else profile) / "shop"
        wrk = ensure_wrk()
        workdir = Path(tempfile.mkdtemp(prefix="shop-bench."))
        cleanup.add(lambda: shutil.rmtree(workdir, ignore_errors=True))
        runs = []
        if args.only in (None, "sqlite"):
            runs.append(bench_backend("SQLite", f"sqlite://{workdir}/sqlite/shop.db", binary, wrk, args,
                                      cleanup, workdir))
            cleanup.actions.pop()()  # stop this shop before the next backend starts
        if args.only in (None, "postgres"):
            server_url = start_postgres(cleanup)
            db_url = create_database(server_url, f"shop_bench_{int(time.time())}")
            runs.append(bench_backend("PostgreSQL", db_url, binary, wrk, args, cleanup, workdir))
        text = report(runs, args, binary)
        if args.smoke:
            print(text)
            failed = [r for run in runs for r in run["results"] if r.non_2xx or r.requests == 0]
            if failed:
                sys.exit(f"error: smoke run had failing requests: {failed}")
            print("smoke run ok: every scenario answered 2xx")
        else:
            args.output.write_text(text)
            log(f"report written to {args.output}")
    finally:
        cleanup.run()


if __name__ == "__main__":
    main()
