#!/usr/bin/env python3
"""The load benchmark of `shop`: one command, both databases, a markdown report.

    scripts/bench.py            # full run: release build, 10,000 products, 500 users,
                                # 16 and 64 connections, 15 s per scenario; writes BENCHMARKS.md
    scripts/bench.py --smoke    # 40 products, 4 users, 2 s per scenario, report to stdout; the
                                # debug binary the test suite builds (`cargo test --no-run`), so
                                # right after scripts/test.sh it compiles nothing
    scripts/bench.py --webhook  # also: each order-placing scenario again with one webhook
                                # endpoint subscribed to "*", delivered to a local receiver
    scripts/bench.py --catalog-size 1000000 --only sqlite --scenarios category cursor
                                # a catalog of N products (2 variants each, in 20 categories)
                                # bulk-loaded by SQL straight into the bench database instead of
                                # seeded over HTTP; also measures the catalog reads one request
                                # at a time (median, no catalog cache) and the peak RSS

It builds `shop`, provides PostgreSQL (like scripts/test.sh: `SHOP_TEST_POSTGRES_URL` when set,
else a throw-away cluster, with fsync on as in production), installs wrk from Debian's packages
when missing (as root), starts `shop` on SQLite and then on PostgreSQL with a fresh database,
seeds it over the HTTP API (for the cart scenarios, also the README's discount code, shipping
option and tax rate, and guests' carts made with wrk itself), drives each scenario with wrk (a C load generator whose Lua scripts
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


# The PostgreSQL servers this run started, by role ("primary", "standby"): their data dirs, whose
# postmaster.pid names the process whose CPU time each result reports.
PG_SERVERS: dict[str, Path] = {}
PG_SETUP: dict = {}


def pg_cpu_seconds(data: Path) -> float:
    """CPU time (user + system) used so far by the PostgreSQL server of `data`: its postmaster,
    its live processes and the ones that have ended."""
    try:
        postmaster = int((data / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(stat.parent.name), int(fields[1])
        if pid == postmaster:
            ticks += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
        elif ppid == postmaster:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def start_standby(cleanup: Cleanup) -> str:
    """A hot standby of the primary start_postgres made (pg_basebackup -R); its server URL."""
    if not PG_SETUP:
        sys.exit("error: --read-replica needs the PostgreSQL this script starts (unset SHOP_BENCH_POSTGRES_URL)")
    pg_bin, as_pg, tmp, port = PG_SETUP["pg_bin"], PG_SETUP["as_pg"], PG_SETUP["tmp"], PG_SETUP["port"]
    data = tmp / "standby"
    subprocess.run([*as_pg, str(pg_bin / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(port), "-U",
                    "postgres", "-D", str(data), "-R", "-X", "stream"], check=True, cwd=tmp)
    standby_port = free_port()
    log(f"starting a PostgreSQL standby on port {standby_port}")
    subprocess.run([*as_pg, str(pg_bin / "pg_ctl"), "-D", str(data), "-w", "-l", str(tmp / "standby.log"),
                    "-o", f"-p {standby_port} -k {tmp} -c listen_addresses=127.0.0.1 -c max_connections=200",
                    "start"], check=True, stdout=subprocess.DEVNULL, cwd=tmp)
    PG_SERVERS["standby"] = data

    def stop() -> None:
        log("stopping the PostgreSQL standby")
        subprocess.run([*as_pg, str(pg_bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp)

    cleanup.add(stop)
    return f"postgres://postgres@127.0.0.1:{standby_port}/postgres"


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
    PG_SERVERS["primary"] = data
    PG_SETUP.update(pg_bin=pg_bin, as_pg=as_pg, tmp=tmp, port=port)

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


def ensure_nginx() -> str:
    path = shutil.which("nginx") or (os.path.exists("/usr/sbin/nginx") and "/usr/sbin/nginx")
    if path:
        return path
    apt_install("nginx-light", "error: nginx is not installed; install it (sudo apt-get install -y nginx-light) "
                "and run again")
    return shutil.which("nginx") or "/usr/sbin/nginx"


class WebhookReceiver:
    """The webhook receiver of `--webhook`: nginx on 127.0.0.1 answering 204 to every request
    (it checks no signature) and logging each request's `webhook-id`, from which the requests
    and the distinct ids are counted (delivery is at least once, so a repeat is allowed, and
    shown). nginx, not Python, so that the receiver takes as little as possible of the CPU
    that `shop` shares with it: a real receiver runs elsewhere."""

    def __init__(self, cleanup: Cleanup) -> None:
        nginx = ensure_nginx()
        self.dir = Path(tempfile.mkdtemp(prefix="bench-receiver-"))
        self.ids_log = self.dir / "ids.log"
        port = free_port()
        (self.dir / "nginx.conf").write_text(f"""worker_processes 1;
daemon off;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    client_body_temp_path {self.dir}/body;
    proxy_temp_path {self.dir}/proxy;
    fastcgi_temp_path {self.dir}/fastcgi;
    uwsgi_temp_path {self.dir}/uwsgi;
    scgi_temp_path {self.dir}/scgi;
    client_body_buffer_size 64k;
    keepalive_requests 10000000;
    log_format ids '$http_webhook_id';
    access_log {self.ids_log} ids buffer=64k flush=100ms;
    server {{
        listen 127.0.0.1:{port} backlog=1024;
        location / {{ return 204; }}
    }}
}}
""")
        self.proc = subprocess.Popen([nginx, "-c", str(self.dir / "nginx.conf"), "-p", str(self.dir)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{port}/hooks"

        def stop() -> None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
            shutil.rmtree(self.dir, ignore_errors=True)

        cleanup.add(stop)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    sys.exit(f"error: the webhook receiver (nginx) did not start; see {self.dir}/error.log")
                time.sleep(0.05)

    def counts(self) -> tuple[int, int]:
        """(requests, distinct webhook-ids) so far (as logged: nginx writes its log every 100 ms)."""
        try:
            lines = self.ids_log.read_text().split()
        except FileNotFoundError:
            return 0, 0
        return len(lines), len(set(lines))


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


def spawn_shop(binary: Path, command: str, env: dict, log_name: str,
               cleanup: Cleanup) -> subprocess.Popen:
    """Runs `shop COMMAND` with its stderr in DATA_DIR/LOG_NAME; the cleanup stops it with
    SIGTERM (then SIGKILL after 20 s)."""
    proc = subprocess.Popen([str(binary), command], env=env, stdout=subprocess.DEVNULL,
                            stderr=open(Path(env["DATA_DIR"]) / log_name, "w"))

    def stop() -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()

    cleanup.add(stop)
    return proc


def start_shop(binary: Path, env: dict, cleanup: Cleanup) -> Server:
    port = free_port()
    env = dict(env, HOST="127.0.0.1", PORT=str(port))
    base = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    proc = spawn_shop(binary, "serve", env, "shop.log", cleanup)
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


def start_worker(binary: Path, env: dict, cleanup: Cleanup) -> None:
    """Starts `shop worker` (the job runner alone) on the same database."""
    env = dict(env, SHOP_JOBS="true")
    proc = spawn_shop(binary, "worker", env, "worker.log", cleanup)
    time.sleep(0.5)
    if proc.poll() is not None:
        sys.exit(f"error: shop worker exited early; see {env['DATA_DIR']}/worker.log")


@dataclass
class Dataset:
    product_ids: list = field(default_factory=list)
    tokens: list = field(default_factory=list)
    admin: str = ""


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

    data = Dataset(admin=admin)
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        data.product_ids = list(pool.map(add_product, range(products)))
        data.tokens = list(pool.map(add_user, range(users)))
    log(f"seeded {products} products and {users} users in {time.monotonic() - started:.1f} s")
    return data


# --- a large catalog, bulk-loaded --------------------------------------------------------------

# Products in one statement per table, straight into the database the running `shop` migrated:
# as `shop` stores them (search_text = folded name, U+001F, folded description; the product row
# summarising its variants: first SKU, lowest price, stock sum), all active, each with sizes S
# and M, each in one of the 20 leaf categories made over HTTP. The kept totals follow by their
# triggers; the categories' counts are set at the end as `shop` keeps them.
BULK_SQL = """
INSERT INTO bulk_words (k, w) VALUES {words};
INSERT INTO products (id, sku, name, slug, status, description, price_minor, currency, stock,
    options, search_text, created_at, updated_at)
SELECT {id}, 'BULK-' || i || '-S', name, 'bulk-' || i, 'active', descr, price, 'EUR', 2000,
    '[{{"name":"Size","values":["S","M"]}}]', name || {sep} || descr, {now}, {now}
FROM (SELECT i, (SELECT w FROM bulk_words WHERE k = i % 20) || ' '
             || (SELECT w FROM bulk_words WHERE k = (i / 20) % 20) || ' '
             || (SELECT w FROM bulk_words WHERE k = (i * 7 + 3) % 20) || ' ' || i AS name,
             'catalog item ' || (SELECT w FROM bulk_words WHERE k = (i * 13 + 5) % 20) || ' '
             || (SELECT w FROM bulk_words WHERE k = (i * 17 + 11) % 20) AS descr,
             100 + (i * 7919) % 99900 AS price
      FROM ({series}) s) t;
INSERT INTO product_variants (id, product_id, sku, option_values, price_minor, currency, stock,
    position, created_at, updated_at)
SELECT {id}, id, sku, '["S"]', price_minor, currency, 1000, 0, created_at, updated_at
FROM products WHERE sku LIKE 'BULK-%';
INSERT INTO product_variants (id, product_id, sku, option_values, price_minor, currency, stock,
    position, created_at, updated_at)
SELECT {id}, id, replace(sku, '-S', '-M'), '["M"]', price_minor + 500, currency, 1000, 1,
    created_at, updated_at
FROM products WHERE sku LIKE 'BULK-%';
INSERT INTO product_categories (product_id, category_id, created_at, updated_at)
SELECT p.id, c.id, p.created_at, p.updated_at
FROM products p JOIN bulk_categories c ON c.k = {seq_mod}
WHERE p.sku LIKE 'BULK-%';
UPDATE categories SET product_count = (SELECT COUNT(*) FROM product_categories pc
    WHERE pc.category_id = categories.id);
UPDATE categories SET product_count = (SELECT COALESCE(SUM(c.product_count), 0) FROM categories c
    WHERE c.parent_id = categories.id) WHERE parent_id IS NULL;
"""


def bulk_catalog(server: Server, admin: str, database_url: str, n: int) -> list:
    """Loads `n` products into the database of the running `shop` (see BULK_SQL); returns the
    slugs of its categories (5 top-level, each with 4 leaves)."""
    started = time.monotonic()
    leaves, slugs = [], []
    for t in range(5):
        status, top = request(server.base, "POST", "/api/v1/categories", {"name": f"Bench {t}"}, admin)
        assert status == 201, (status, top)
        slugs.append(top["slug"])
        for c in range(4):
            status, leaf = request(server.base, "POST", "/api/v1/categories",
                                   {"name": f"Bench {t}.{c}", "parent_id": top["id"]}, admin)
            assert status == 201, (status, leaf)
            leaves.append(leaf["id"])
            slugs.append(leaf["slug"])
    words = ", ".join(f"({k}, '{w}')" for k, w in enumerate(WORDS))
    if database_url.startswith("sqlite"):
        import sqlite3
        import uuid
        path = database_url.split("://", 1)[1].split("?", 1)[0]
        db = sqlite3.connect(path, timeout=60, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TEMP TABLE bulk_words (k INTEGER PRIMARY KEY, w TEXT)")
        db.execute("CREATE TEMP TABLE bulk_categories (k INTEGER PRIMARY KEY, id BLOB)")
        db.executemany("INSERT INTO bulk_categories VALUES (?, ?)",
                       [(k, uuid.UUID(c).bytes) for k, c in enumerate(leaves)])
        sql = BULK_SQL.format(
            words=words, id="randomblob(16)", sep="char(31)", now="'2026-01-01T00:00:00+00:00'",
            series=f"WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) SELECT i FROM s",
            seq_mod="p.seq % 20")
        # One transaction (executescript commits any open one first, so it begins inside).
        db.executescript("BEGIN IMMEDIATE;" + sql + "COMMIT;")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.close()
    else:
        psql = shutil.which("psql") or str((find_pg_bin() or Path("/usr/bin")) / "psql")
        cats = ", ".join(f"({k}, '{c}'::uuid)" for k, c in enumerate(leaves))
        sql = ("BEGIN;\nCREATE TEMP TABLE bulk_words (k INTEGER PRIMARY KEY, w TEXT);\n"
               "CREATE TEMP TABLE bulk_categories (k INTEGER PRIMARY KEY, id UUID);\n"
               f"INSERT INTO bulk_categories VALUES {cats};\n"
               + BULK_SQL.format(words=words, id="gen_random_uuid()", sep="chr(31)", now="now()",
                                 series=f"SELECT generate_series(1, {n}) AS i",
                                 seq_mod="abs(hashtext(p.id::text)) % 20")
               + "COMMIT;\nVACUUM ANALYZE;\n")
        subprocess.run([psql, database_url, "-q", "-v", "ON_ERROR_STOP=1"], input=sql, text=True,
                       check=True, stdout=subprocess.DEVNULL)
    # The kept total counted them, and they read back whole (a row `shop` cannot read is left
    # out of its page).
    status, page = request(server.base, "GET", "/api/v1/products?per_page=1")
    assert status == 200 and page["total"] == n, (status, page)
    status, page = request(server.base, "GET", "/api/v1/products?per_page=20&category=" + slugs[0])
    assert status == 200 and len(page["items"]) == min(20, n // 5), (status, page)
    assert all(len(p["variants"]) == 2 and p["categories"] for p in page["items"]), page["items"][:1]
    log(f"bulk-loaded {n} products in {time.monotonic() - started:.1f} s")
    return slugs


def sample_ids(server: Server, admin: str, pages: int = 10) -> list:
    """Product ids of the first `pages` pages of 100, for the by-id and order scenarios."""
    ids, path = [], "/api/v1/products?per_page=100"
    for _ in range(pages):
        status, page = request(server.base, "GET", path, token=admin)
        assert status == 200, (status, page)
        ids += [p["id"] for p in page["items"]]
        if not page["next_cursor"]:
            break
        path = "/api/v1/products?per_page=100&cursor=" + page["next_cursor"]
    return ids


def walk_cursors(server: Server, pages: int) -> list:
    """The `next_cursor` of the first `pages` pages of 20 (newest first)."""
    cursors, path = [], "/api/v1/products?per_page=20"
    for _ in range(pages):
        status, page = request(server.base, "GET", path)
        assert status == 200, (status, page)
        if not page["next_cursor"]:
            break
        cursors.append(page["next_cursor"])
        path = "/api/v1/products?per_page=20&cursor=" + page["next_cursor"]
    return cursors or ["none"]


def catalog_latencies(server: Server, slugs: list, n: int = 100) -> list:
    """Each catalog read `n` times (or as many as 20 s allow, at least 10) one at a time over
    one keep-alive connection, after 5 unmeasured: (name,
    requests, median ms, p90 ms, peak RSS MiB since the first)."""
    import http.client
    import statistics
    import urllib.parse
    host, port = server.base.split("//", 1)[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=120)

    def get(path: str):
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read()
        assert r.status == 200, (path, r.status, body[:300])
        return json.loads(body)

    # The cursor past page 500 (or the last but one page of a smaller catalog).
    depth = max(1, min(500, get("/api/v1/products?per_page=1")["total"] // 20 - 1))
    deep = get(f"/api/v1/products?per_page=20&page={depth}")["next_cursor"]
    reads = [
        ("first page", lambda i: "/api/v1/products?per_page=20"),
        ("page 500", lambda i: "/api/v1/products?per_page=20&page=500"),
        (f"cursor page (after page {depth})", lambda i: "/api/v1/products?per_page=20&cursor="
         + urllib.parse.quote(deep or "")),
        ("category page (leaf)", lambda i: f"/api/v1/products?per_page=20&category={slugs[1 + i % 4]}"),
        ("category page (top, with its leaves)", lambda i: f"/api/v1/products?per_page=20&category={slugs[0]}"),
        ("filtered and sorted (price range, in stock, price_asc)",
         lambda i: "/api/v1/products?per_page=20&min_price=10.00&max_price=900.00&currency=EUR&in_stock=true&sort=price_asc"),
        ("search matching every product (q=catalog)", lambda i: "/api/v1/products?per_page=20&q=catalog"),
        ("relevance search (q=random word)", lambda i: f"/api/v1/products?per_page=20&q={WORDS[i % len(WORDS)]}"),
        ("two-letter search (q=ca)", lambda i: "/api/v1/products?per_page=20&q=ca"),
    ]
    server.reset_peak()
    out = []
    for name, path_of in reads:
        for i in range(5):
            get(path_of(i))
        times = []
        budget = time.monotonic() + 20  # a slow read at a million products: fewer requests
        for i in range(n):
            t = time.perf_counter()
            get(path_of(i))
            times.append((time.perf_counter() - t) * 1000)
            if i >= 9 and time.monotonic() > budget:
                break
        times.sort()
        row = (name, len(times), statistics.median(times), times[int(len(times) * 0.9) - 1],
               server.rss_kib("VmHWM") / 1024)
        log(f"one at a time: {name}: median {row[2]:.2f} ms, p90 {row[3]:.2f} ms, peak RSS {row[4]:.1f} MiB")
        out.append(row)
    conn.close()
    return out


# --- scenarios -------------------------------------------------------------------------------

LUA_COMMON = """
local ids = {%(ids)s}
local tokens = {%(tokens)s}
local words = {%(words)s}
local pages = %(pages)d
math.randomseed(os.time() + math.floor(os.clock() * 1000000))
local function pick(t) return t[math.random(#t)] end
local categories = {%(categories)s}
local cursors = {%(cursors)s}
local function catalog() return wrk.format("GET", "/api/v1/products?per_page=20&page=" .. math.random(pages)) end
local function category() return wrk.format("GET", "/api/v1/products?per_page=20&category=" .. pick(categories)) end
local function cursor() return wrk.format("GET", "/api/v1/products?per_page=20&cursor=" .. pick(cursors)) end
local function filtered() return wrk.format("GET", "/api/v1/products?per_page=20&min_price=" .. math.random(1, 400) .. ".00&max_price=900.00&currency=EUR&in_stock=true&sort=price_asc") end
local function relevance() return wrk.format("GET", "/api/v1/products?per_page=20&sort=relevance&q=" .. pick(words)) end
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
-- Guests' open carts ("id token" lines of the files named by CARTS, each thread its share): a
-- cart gets more of one of its own three products (so no cart passes 100 lines or a line 1000).
local carts = {}
local next_cart = 0
local function load_carts(files, share, of)
  for n, file in ipairs(files) do
    if n %% of == share then
      for line in io.lines(file) do
        local id, token = line:match("(%%S+) (%%S+)")
        carts[#carts + 1] = {id = id, token = token, n = #carts}
      end
    end
  end
end
local function cart_add()
  local c = pick(carts)
  return wrk.format("POST", "/api/v1/carts/" .. c.id .. "/items",
    {["X-Cart-Token"] = c.token, ["Content-Type"] = "application/json"},
    '{"product_id":"' .. ids[(c.n * 3 + math.random(3)) %% #ids + 1] .. '","quantity":1}')
end
local function cart_view()
  local c = pick(carts)
  return wrk.format("GET", "/api/v1/carts/" .. c.id, {["X-Cart-Token"] = c.token})
end
-- Each cart once, in turn (one checked out twice would be a 409: the pool is sized to last).
local function checkout()
  next_cart = next_cart + 1
  local c = carts[next_cart] or carts[#carts]
  return wrk.format("POST", "/api/v1/carts/" .. c.id .. "/checkout", {["X-Cart-Token"] = c.token})
end
"""

SCENARIOS = [
    ("floor", "framework floor: GET /health/live", 'request = function() return wrk.format("GET", "/health/live") end'),
    ("catalog", "catalog page: GET /products?page=random&per_page=20", "request = catalog"),
    ("product", "product by id: GET /products/{random id}", "request = product"),
    ("search", "search: GET /products?q={random word}", "request = search"),
    ("category", "category page: GET /products?category={random category slug}", "request = category"),
    ("cursor", "cursor page: GET /products?cursor={one of the first 50 pages' next_cursor}", "request = cursor"),
    ("filtered", "filtered and sorted page: GET /products?min_price=..&max_price=900.00&currency=EUR&in_stock=true&sort=price_asc",
     "request = filtered"),
    ("relevance", "relevance search: GET /products?q={random word}&sort=relevance", "request = relevance"),
    ("me", "signed-in GET /users/me (a random user's token)", "request = me"),
    ("order", "order placement: POST /orders (1-2 lines)", "request = order"),
    ("mix", "mix: 80% catalog, 15% product, 5% orders", "request = mix"),
    ("cart_add", "add to cart: POST /carts/{id}/items (a guest's cart, its token)", "request = cart_add"),
    ("cart_view", "view cart: GET /carts/{id} (1-3 lines, priced live)", "request = cart_view"),
    ("checkout", "checkout: POST /carts/{id}/checkout (1-3 lines, a 10% code, shipping, tax)",
     "request = checkout"),
]
# The scenarios on guests' carts: seeded before they run (see seed_carts).
CART_SCENARIOS = ("cart_add", "cart_view", "checkout")
# Makes guests' carts ready to check out, one connection per wrk thread so that each thread
# walks one cart at a time: create it, add 1-3 lines, set the address, the shipping option and the
# discount code; then writes "id token" to its own file.
LUA_SEED_CARTS = """
local counter = 0
function setup(thread)
  thread:set("thread_id", counter)
  counter = counter + 1
end
local state, cart, token, lines, want = 0, nil, nil, 0, 1
local out
function init(args)
  out = io.open(DIR .. "/carts-" .. thread_id .. ".txt", "w")
end
local json = {["Content-Type"] = "application/json"}
request = function()
  if state == 0 then
    return wrk.format("POST", "/api/v1/carts", json, '{"currency":"EUR","email":"bench-guest@example.com"}')
  end
  local headers = {["Content-Type"] = "application/json", ["X-Cart-Token"] = token}
  if state == 1 then
    return wrk.format("POST", "/api/v1/carts/" .. cart .. "/items", headers,
      '{"product_id":"' .. pick(ids) .. '","quantity":' .. math.random(3) .. '}')
  end
  return wrk.format("PUT", "/api/v1/carts/" .. cart, headers,
    '{"shipping_address":{"line1":"Hauptstr. 1","city":"Berlin","postal_code":"10115","country":"DE"},'
    .. '"shipping_option_id":"' .. SHIPPING .. '","discount_code":"BENCH-10"}')
end
response = function(status, headers, body)
  if state == 0 then
    if status == 201 then
      cart = body:match('"id":"([^"]+)"')
      token = body:match('"token":"([^"]+)"')
      lines, want, state = 0, math.random(3), 1
    end
  elseif state == 1 then
    if status == 200 then lines = lines + 1 end
    if lines >= want then state = 2 end
  else
    if status == 200 then
      out:write(cart .. " " .. token .. "\\n")
      out:flush()
    end
    state = 0
  end
end
"""


def seed_pricing(server: "Server", admin: str) -> str:
    """The checkout's rules, as the README's walk-through sets them: 10 % off with BENCH-10,
    shipping to Germany 4.90 EUR (free from 50 EUR), 19 % VAT. The shipping option's id."""
    for path, body in (("/api/v1/promotions", {"code": "BENCH-10", "kind": "percentage", "value": "10",
                                               "active": True}),
                       ("/api/v1/tax-rates", {"country": "DE", "rate": "19", "name": "VAT"})):
        code, made = request(server.base, "POST", path, body, admin)
        assert code == 201, (path, code, made)
    code, option = request(server.base, "POST", "/api/v1/shipping-options",
                           {"name": "Standard", "countries": ["DE"],
                            "price": {"amount": "4.90", "currency": "EUR"},
                            "free_over": {"amount": "50.00", "currency": "EUR"}}, admin)
    assert code == 201, (code, option)
    return option["id"]


def seed_carts(wrk: str, server: "Server", common: str, shipping: str, workdir: Path, seconds: int,
               threads: int) -> list:
    """Guests' carts made for `seconds` by `threads` wrk threads; the files that list them."""
    for old in workdir.glob("carts-*.txt"):
        old.unlink()
    script = workdir / "seed_carts.lua"
    script.write_text(common + f'\nDIR = "{workdir}"\nSHIPPING = "{shipping}"\n' + LUA_SEED_CARTS)
    subprocess.run([wrk, "-t", str(threads), "-c", str(threads), "-d", f"{seconds}s", "-s", str(script),
                    server.base], check=True, stdout=subprocess.DEVNULL)
    files = sorted(workdir.glob("carts-*.txt"))
    made = sum(1 for f in files for _ in f.open())
    log(f"seeded {made} carts ready to check out in {seconds} s")
    return files


# The scenarios that place orders: with `--webhook`, each runs again with an endpoint subscribed.
ORDER_SCENARIOS = ("order", "mix")
WEBHOOK_SUFFIX = "+webhook"

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
    webhook: dict | None = None  # with `--webhook`: what the endpoint was sent, see webhook_run
    db_cpu: dict | None = None  # PostgreSQL: CPU seconds each server (primary, standby) used in the run


def run_wrk(wrk: str, server: Server, script: Path, connections: int, seconds: int, warmup: int,
            scenario: str, warm_script: Path | None = None) -> Result:
    threads = str(min(2, connections))
    if warmup:
        subprocess.run([wrk, "-t", threads, "-c", str(connections), "-d", f"{warmup}s", "-s",
                        str(warm_script or script), server.base], check=True, stdout=subprocess.DEVNULL)
    server.reset_peak()
    cpu_before = {role: pg_cpu_seconds(data) for role, data in PG_SERVERS.items()}
    out = subprocess.run([wrk, "-t", threads, "-c", str(connections), "-d", f"{seconds}s", "--latency",
                          "-s", str(script), server.base], check=True, capture_output=True, text=True).stdout
    db_cpu = {role: pg_cpu_seconds(data) - cpu_before[role] for role, data in PG_SERVERS.items()} or None
    lat = {p: to_ms(v, u) for p, v, u in LAT.findall(out)}
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return Result(scenario, connections, rps, lat.get("50", 0.0), lat.get("99", 0.0), total,
                  int(non2xx.group(1)) if non2xx else 0, errors.group(1).strip() if errors else "",
                  server.rss_kib("VmHWM") / 1024, db_cpu=db_cpu)


def log_result(label: str, r: Result) -> None:
    log(f"{label} {r.scenario:8} c={r.connections:<3} {r.rps:9.0f} req/s  p50 {r.p50_ms:7.2f} ms  "
        f"p99 {r.p99_ms:7.2f} ms  non-2xx {r.non_2xx}  peak {r.peak_rss_mib:.1f} MiB"
        + "".join(f"  {role} CPU {cpu_ms_per_k(r, role):.0f} ms/1k req" for role in (r.db_cpu or {})))


def cpu_ms_per_k(r: "Result", role: str) -> float:
    """CPU milliseconds the PostgreSQL server `role` spent per 1,000 requests of the run."""
    return (r.db_cpu or {}).get(role, 0.0) * 1000 / max(1, r.requests) * 1000
    if r.webhook:
        w = r.webhook
        log(f"{label} {r.scenario:8} c={r.connections:<3} deliveries made {w['made']}, received by the "
            f"end of the run {w['received_in_run']}, pending then {w['pending_at_end']}; after "
            f"{w['drain_s']:.1f} s more: received {w['received']} ({w['distinct']} distinct), "
            f"pending {w['pending']}")


def deliveries(server: Server, admin: str, endpoint: str, status: str | None = None) -> int:
    """How many deliveries the endpoint has (of that status)."""
    query = "?per_page=1" + (f"&status={status}" if status else "")
    code, page = request(server.base, "GET", f"/api/v1/webhook-endpoints/{endpoint}/deliveries{query}",
                         token=admin)
    assert code == 200, (code, page)
    return page["total"]


def webhook_run(wrk: str, server: Server, script: Path, connections: int, args, name: str,
                admin: str, receiver: WebhookReceiver, label: str) -> Result:
    """Runs an order-placing scenario with one endpoint subscribed to "*" (warm-up included, so
    the runner is busy from the start of the measured run), then lets the job runner finish what
    is pending (up to --webhook-drain seconds, load-free) and deletes the endpoint, so the next
    scenario starts without a backlog."""
    code, endpoint = request(server.base, "POST", "/api/v1/webhook-endpoints",
                             {"url": receiver.url, "events": ["*"], "description": "bench.py --webhook"},
                             admin)
    if code != 201:
        sys.exit(f"error: could not subscribe a webhook endpoint ({code}): {endpoint}")
    before, before_ids = receiver.counts()
    r = run_wrk(wrk, server, script, connections, args.duration, args.warmup, name + WEBHOOK_SUFFIX)
    received_in_run = receiver.counts()[0] - before
    made = deliveries(server, admin, endpoint["id"])
    pending_at_end = deliveries(server, admin, endpoint["id"], "pending")
    log(f"{label} {r.scenario:8} c={connections:<3} {made} deliveries made, {received_in_run} received, "
        f"{pending_at_end} pending; waiting up to {args.webhook_drain} s for the rest")
    started = time.monotonic()
    pending = pending_at_end
    while pending and time.monotonic() - started < args.webhook_drain:
        time.sleep(0.25)
        pending = deliveries(server, admin, endpoint["id"], "pending")
    drain_s = time.monotonic() - started
    time.sleep(0.3)  # the last answers may still be on their way to the outcome's record, and
                     # the receiver's log to its file
    failed = deliveries(server, admin, endpoint["id"], "failed")
    requests, ids = receiver.counts()
    code, body = request(server.base, "DELETE", f"/api/v1/webhook-endpoints/{endpoint['id']}", token=admin)
    assert code == 204, (code, body)
    r.webhook = {"made": made, "received_in_run": received_in_run, "pending_at_end": pending_at_end,
                 "drain_s": drain_s, "received": requests - before, "distinct": ids - before_ids,
                 "pending": pending, "failed": failed}
    return r


def lua_list(items) -> str:
    return ",".join(f'"{x}"' for x in items)


def bench_backend(label: str, database_url: str, binary: Path, wrk: str, args, cleanup: Cleanup,
                  workdir: Path, read_url: str | None = None) -> dict:
    data_dir = workdir / label
    data_dir.mkdir(parents=True)
    env = dict(os.environ, DATABASE_URL=database_url, DATA_DIR=str(data_dir),
               RATE_LIMIT_ENABLED="false", ACCESS_TOKEN_TTL_SECONDS="86400",
               RUST_LOG="warn", LOG_FORMAT="text", DATABASE_MAX_CONNECTIONS="16")
    if args.webhook:
        # The receiver is http://127.0.0.1, which shop refuses without these two.
        env.update(WEBHOOK_ALLOW_HTTP="true", WEBHOOK_ALLOW_PRIVATE_NETWORKS="true")
    if args.rate_limits:
        # Every limiter on and keeping its books, with budgets no scenario exhausts: what the
        # limits cost, not what they refuse.
        env.update(RATE_LIMIT_ENABLED="true", RATE_LIMIT_AUTH_PER_MINUTE="1000000",
                   RATE_LIMIT_AUTH_BURST="1000000", RATE_LIMIT_WRITES_PER_MINUTE="1000000",
                   RATE_LIMIT_WRITES_BURST="1000000")
    if args.catalog_size is not None:
        # What the catalog's queries cost, not what the in-memory catalog cache saves: off.
        env["CATALOG_CACHE_MAX_BYTES"] = "0"
    if read_url:
        env["DATABASE_READ_URL"] = read_url
    worker = args.webhook_worker and database_url.startswith("postgres")
    if worker:
        # The scale-out shape: the API runs no job runner, a `shop worker` process does.
        env["SHOP_JOBS"] = "false"
    log(f"{label}: starting shop")
    server = start_shop(binary, env, cleanup)
    if worker:
        log(f"{label}: starting shop worker")
        start_worker(binary, env, cleanup)
    receiver = WebhookReceiver(cleanup) if args.webhook else None
    time.sleep(1)
    idle_rss = server.rss_kib() / 1024
    products = args.products
    if args.catalog_size is not None:
        products = args.catalog_size
        data = seed(server, binary, env, 0, args.users)
        slugs = bulk_catalog(server, data.admin, database_url, args.catalog_size)
        data.product_ids = sample_ids(server, data.admin)
    else:
        data = seed(server, binary, env, args.products, args.users)
        slugs = []
    cursors = walk_cursors(server, 50)
    latencies = catalog_latencies(server, slugs) if args.catalog_size is not None else None
    script_dir = data_dir / "lua"
    script_dir.mkdir()
    common = LUA_COMMON % {"ids": lua_list(data.product_ids), "tokens": lua_list(data.tokens),
                           "words": lua_list(WORDS), "pages": max(1, products // 20),
                           "categories": lua_list(slugs or ["none"]), "cursors": lua_list(cursors)}
    results = []
    shipping = None
    for name, _, body in SCENARIOS:
        if args.scenarios and name not in args.scenarios:
            continue
        if (name == "category" and not slugs) or (name == "cursor" and cursors == ["none"]):
            log(f"{label}: {name} skipped: no categories or no second page in this dataset")
            continue
        for c in args.connections:
            script = script_dir / f"{name}-{c}.lua"
            text = common + "\n" + body + "\n"
            warm_script = None
            if name in CART_SCENARIOS:
                shipping = shipping or seed_pricing(server, data.admin)

                def with_carts(tag: str, seconds: int) -> str:
                    cart_dir = script_dir / f"carts-{name}-{c}-{tag}"
                    cart_dir.mkdir()
                    files = seed_carts(wrk, server, common, shipping, cart_dir, seconds, 8)
                    return text + (f"local files = {{{lua_list(map(str, files))}}}\n"
                                   "local threads = 0\n"
                                   "function setup(thread) thread:set('share', threads); "
                                   "threads = threads + 1 end\n"
                                   f"function init(args) load_carts(files, share, {min(2, c)}) end\n")

                if name == "checkout":
                    # A cart a request, each checked out once: pools of their own for the
                    # warm-up and the run, made for 2.5 times as long as they must last.
                    text = with_carts("run", 2 + args.duration * 5 // 2)
                    if args.warmup:
                        warm_script = script_dir / f"{name}-{c}-warm-up.lua"
                        warm_script.write_text(with_carts("warm-up", 1 + args.warmup * 5 // 2))
                else:
                    # Adding to and viewing carts reuse a few hundred of them.
                    text = with_carts("run", max(2, args.duration // 5))
            script.write_text(text)
            r = run_wrk(wrk, server, script, c, args.duration, args.warmup, name, warm_script)
            log_result(label, r)
            results.append(r)
            if args.webhook and name in ORDER_SCENARIOS:
                # The same scenario right after, with one endpoint subscribed to every event.
                r = webhook_run(wrk, server, script, c, args, name, data.admin, receiver, label)
                log_result(label, r)
                results.append(r)
    return {"label": label, "cold_start_ms": server.cold_start_ms, "idle_rss_mib": idle_rss,
            "results": results, "latencies": latencies}


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
        f"- Dataset: {args.catalog_size if args.catalog_size is not None else args.products} products"
        f"{' (bulk-loaded by SQL, 2 variants each, in 20 categories; catalog cache off)' if args.catalog_size is not None else ''}, "
        f"{args.users} users with access tokens; "
        f"{args.duration} s per scenario after a {args.warmup} s warm-up",
        "- Rate limits: " + ("on, with budgets no scenario exhausts (`--rate-limits`)" if args.rate_limits
                             else "off (`RATE_LIMIT_ENABLED=false`); metrics: always on"),
    ]
    if args.webhook:
        lines += [
            "- Webhooks (`--webhook`): each order-placing scenario runs twice in a row, first with no",
            "  endpoint, then with one endpoint subscribed to `*` whose URL is a local receiver",
            "  (nginx on 127.0.0.1 answering 204 and logging each `webhook-id`, no signature check; it",
            "  shares the cores too). "
            + ("On PostgreSQL a separate `shop worker` delivers and the API runs with "
               "`SHOP_JOBS=false` (`--webhook-worker`); on SQLite the runner inside `shop serve` does."
               if args.webhook_worker else "The job runner inside `shop serve` delivers.")
            + " Default settings otherwise.",
            "  After the run the benchmark waits for the pending deliveries (at most",
            f"  {args.webhook_drain} s, no load) and deletes the endpoint before the next scenario.",
        ]
    lines.append("")
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
        titles.update({n + WEBHOOK_SUFFIX: t + ", one webhook endpoint (`*`)" for n, t, _ in SCENARIOS})
        for r in run["results"]:
            errors = f" ({r.errors})" if r.errors else ""
            lines.append(f"| {titles[r.scenario]} | {r.connections} | {r.rps:,.0f} | {r.p50_ms:.2f} | "
                         f"{r.p99_ms:.2f} | {r.requests:,} | {r.non_2xx}{errors} | {r.peak_rss_mib:.1f} |")
        lines.append("")
        cpu = [r for r in run["results"] if r.db_cpu]
        if cpu:
            roles = list(cpu[0].db_cpu)
            lines += [
                "PostgreSQL's CPU time during each run, per 1,000 requests"
                + (" (`--read-replica`: the standby serves visitors' catalog reads)" if "standby" in roles else "")
                + ":",
                "",
                "| scenario | connections | " + " | ".join(f"{role} CPU ms" for role in roles) + " |",
                "|---|---:|" + "---:|" * len(roles),
            ]
            for r in cpu:
                lines.append(f"| {titles[r.scenario]} | {r.connections} | "
                             + " | ".join(f"{cpu_ms_per_k(r, role):,.0f}" for role in roles) + " |")
            lines.append("")
        if run.get("latencies"):
            lines += [
                "One request at a time over one keep-alive connection (after 5 unmeasured):",
                "",
                "| read | requests | median ms | p90 ms | peak RSS MiB |",
                "|---|---:|---:|---:|---:|",
            ]
            for name, n, median, p90, rss in run["latencies"]:
                lines.append(f"| {name} | {n} | {median:.2f} | {p90:.2f} | {rss:.1f} |")
            lines.append("")
        lines += webhook_table(run["results"])
    return "\n".join(lines)


def webhook_table(results: list) -> list:
    """With `--webhook`: each order-placing scenario without and with the endpoint, and what the
    receiver got. `made` counts the endpoint's deliveries (warm-up included); `by the end` is what
    the receiver had when the measured run ended; `after` is after the load-free wait."""
    pairs = []
    for before, after in zip(results, results[1:]):
        if after.webhook is not None and before.scenario + WEBHOOK_SUFFIX == after.scenario \
                and before.connections == after.connections:
            pairs.append((before, after))
    if not pairs:
        return []
    lines = [
        "Webhook delivery: req/s without and with one endpoint subscribed to `*`; deliveries the",
        "endpoint got (warm-up included), what the receiver had when the measured run ended and the",
        "deliveries then pending, and the load-free wait for the rest.",
        "",
        "| scenario | connections | req/s without | req/s with | change | p99 ms without / with | "
        "deliveries made | received by the end | pending then | wait s | received in all "
        "(distinct) | left pending | failed |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for a, b in pairs:
        w = b.webhook
        change = (b.rps - a.rps) / a.rps * 100 if a.rps else 0.0
        lines.append(f"| {a.scenario} | {a.connections} | {a.rps:,.0f} | {b.rps:,.0f} | {change:+.1f}% | "
                     f"{a.p99_ms:.2f} / {b.p99_ms:.2f} | {w['made']:,} | {w['received_in_run']:,} | "
                     f"{w['pending_at_end']:,} | {w['drain_s']:.1f} | {w['received']:,} "
                     f"({w['distinct']:,}) | {w['pending']:,} | {w['failed']:,} |")
    lines.append("")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true",
                        help="40 products, 4 users, 2 s per scenario, report to stdout (used by CI); "
                             "measures the debug binary of `cargo test --workspace --no-run`")
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--catalog-size", type=int, metavar="N",
                        help="bulk-load N products by SQL (2 variants each, 20 categories) instead of "
                             "seeding --products over HTTP, and measure the catalog reads one at a time")
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
    parser.add_argument("--webhook", action="store_true",
                        help="run each order-placing scenario (order, mix) a second time with one "
                             "webhook endpoint subscribed to \"*\", delivered by the job runner to a "
                             "local receiver that answers 204; reports both and the deliveries")
    parser.add_argument("--webhook-drain", type=int, default=120, metavar="SECONDS",
                        help="with --webhook: how long to wait after a run for pending deliveries "
                             "(default 120)")
    parser.add_argument("--webhook-worker", action="store_true",
                        help="with --webhook, on PostgreSQL: run the job runner as a separate "
                             "`shop worker` process and the API with SHOP_JOBS=false (the scale-out "
                             "shape; SQLite serves one process, so it keeps its runner in-process)")
    parser.add_argument("--read-replica", action="store_true",
                        help="on PostgreSQL: also start a hot standby (pg_basebackup -R) and serve with "
                             "DATABASE_READ_URL naming it; the report gives each server's CPU time per "
                             "1,000 requests")
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
            name = f"shop_bench_{int(time.time())}"
            db_url = create_database(server_url, name)
            read_url = None
            if args.read_replica:
                # Made after the database, so the standby holds it from its first moment.
                read_url = start_standby(cleanup).rsplit("/", 1)[0] + f"/{name}"
            runs.append(bench_backend("PostgreSQL", db_url, binary, wrk, args, cleanup, workdir, read_url))
        text = report(runs, args, binary)
        if args.smoke:
            print(text)
            failed = [r for run in runs for r in run["results"] if r.non_2xx or r.requests == 0]
            if failed:
                sys.exit(f"error: smoke run had failing requests: {failed}")
            undelivered = [r for run in runs for r in run["results"]
                           if r.webhook and (r.webhook["pending"] or r.webhook["distinct"] < r.webhook["made"])]
            if undelivered:
                sys.exit(f"error: smoke run left webhook deliveries undelivered: {undelivered}")
            print("smoke run ok: every scenario answered 2xx"
                  + (", every webhook delivery arrived" if args.webhook else ""))
        else:
            args.output.write_text(text)
            log(f"report written to {args.output}")
    finally:
        cleanup.run()


if __name__ == "__main__":
    main()
