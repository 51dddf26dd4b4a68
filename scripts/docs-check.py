#!/usr/bin/env python3
"""`/docs` in a real browser: headless Chromium loads the page, Swagger UI renders it, and

- every operation of the served OpenAPI document (each path and method of
  GET /api/v1/openapi.json) appears in the rendered page, and
- no request leaves the machine: every URL Chromium's network log records is the shop's own
  origin. Chromium also resolves no other name (`--host-resolver-rules`) and sends everything
  else to a closed local port (`--proxy-server`), so a page that reaches out fails to render
  what it needs from outside as well as being listed here.

The page is loaded by a made-up public-looking name (docs.shop.test, mapped to 127.0.0.1 inside
Chromium only) rather than 127.0.0.1: Swagger UI leaves some outside calls out for localhost
(its online validator badge), and production does not run on localhost.

Usage: scripts/docs-check.py   (builds the debug `shop`, or takes the binary SHOP_BIN names;
starts it on SQLite on a free port and stops it). Chromium comes from Debian's `chromium` package, installed with apt-get when missing
and running as root. Under CI=true a missing Chromium is a failure; otherwise the check is skipped
with a note.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOSTNAME = "docs.shop.test"
LOCAL_SCHEMES = ("data:", "blob:", "about:", "chrome:", "chrome-error:")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def log(msg):
    print(f"==> docs-check: {msg}", file=sys.stderr, flush=True)


def fail(msg):
    print(f"error: docs-check: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def is_ci():
    return os.environ.get("CI") == "true"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def provide_chromium():
    path = find_chromium()
    if path:
        return path
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("installing chromium with apt-get (not found on this machine)")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
        r = subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"],
            env=env, stdout=subprocess.DEVNULL, check=False,
        )
        if r.returncode == 0:
            return find_chromium()
    return None


class Operations(HTMLParser):
    """Collects Swagger UI's operation blocks: (method, path) per `opblock` summary."""

    def __init__(self):
        super().__init__()
        self.found = set()
        self._method = None
        self._in_method = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if "opblock-summary-method" in classes:
            self._in_method = True
            self._method = ""
        elif "opblock-summary-path" in classes or "opblock-summary-path__deprecated" in classes:
            path = a.get("data-path")
            if path and self._method:
                self.found.add((self._method.strip().lower(), path))

    def handle_data(self, data):
        if self._in_method:
            self._method += data

    def handle_endtag(self, tag):
        if self._in_method:
            self._in_method = False


def net_log_requests(path):
    """From Chromium's net log (a JSON file; a log cut off at the end is read too): the
    (url, initiator, request type) of every request, the address of every TCP connection
    attempt, and where every UDP datagram went."""
    text = Path(path).read_text(errors="replace")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        # A log that was not closed ends inside the events list.
        data = json.loads(text.rstrip().rstrip(",") + "]}")
    types = data["constants"]["logEventTypes"]
    wanted = {types[name] for name in ("URL_REQUEST_START_JOB", "URL_REQUEST_REDIRECT_JOB") if name in types}
    tcp = {types[name] for name in ("TCP_CONNECT_ATTEMPT",) if name in types}
    udp_sent = {types[name] for name in ("UDP_BYTES_SENT",) if name in types}
    requests, connects, datagrams = set(), set(), set()
    for event in data.get("events", []):
        params = event.get("params") or {}
        kind = event.get("type")
        if kind in wanted and isinstance(params.get("url"), str):
            requests.add((params["url"], params.get("initiator", ""), params.get("request_type", "")))
        elif kind in tcp and "address" in params:
            connects.add(params["address"])
        elif kind in udp_sent:
            datagrams.add(params.get("address", "?"))
    return requests, connects, datagrams


def main():
    chromium = provide_chromium()
    if not chromium:
        if is_ci():
            fail("Chromium is not installed and cannot be installed, and CI=true")
        log("warning: Chromium not found (apt-get install chromium): the /docs check is skipped")
        return 0

    if os.environ.get("SHOP_BIN"):
        shop = Path(os.environ["SHOP_BIN"])
    else:
        log("cargo build -p shop")
        subprocess.run(["cargo", "build", "-p", "shop", "--locked", "--quiet"], cwd=ROOT, check=True)
        shop = ROOT / "target" / "debug" / "shop"

    work = Path(tempfile.mkdtemp(prefix="shop-docs-check."))
    port = free_port()
    closed_port = free_port()  # nothing listens there: the proxy that refuses everything
    env = dict(
        os.environ,
        DATA_DIR=str(work / "data"),
        DATABASE_URL=f"sqlite://{work}/data/shop.db",
        HOST="127.0.0.1",
        PORT=str(port),
        RATE_LIMIT_ENABLED="false",
        AUTH_PROVIDER="local",
        STORAGE_BACKEND="local",
        RUST_LOG="warn",
    )
    shop_log = open(work / "shop.log", "wb")
    server = subprocess.Popen([str(shop), "serve"], env=env, stdout=shop_log, stderr=subprocess.STDOUT)
    try:
        local = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{local}/api/v1/openapi.json", timeout=2) as r:
                    document = json.load(r)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    print((work / "shop.log").read_text(errors="replace")[-3000:], file=sys.stderr)
                    fail("shop did not start")
                time.sleep(0.2)

        expected = {
            (method, path)
            for path, item in document.get("paths", {}).items()
            for method in item
            if method in METHODS
        }
        if not expected:
            fail("the OpenAPI document lists no operation")

        origin = f"http://{HOSTNAME}:{port}"
        net_log = work / "netlog.json"
        profile = work / "profile"
        args = [
            chromium,
            "--headless",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-default-apps",
            "--disable-domain-reliability",
            "--metrics-recording-only",
            "--no-pings",
            f"--user-data-dir={profile}",
            # Only the shop's name resolves, to 127.0.0.1; and everything that is not the shop
            # goes to a proxy that is a closed port.
            f"--host-resolver-rules=MAP {HOSTNAME} 127.0.0.1, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            f"--proxy-server=http://127.0.0.1:{closed_port}",
            f"--proxy-bypass-list={HOSTNAME};127.0.0.1",
            f"--log-net-log={net_log}",
            "--net-log-capture-mode=Default",
            "--virtual-time-budget=20000",
            "--dump-dom",
            f"{origin}/docs/",
        ]
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium's sandbox refuses to run as root
        log(f"loading {origin}/docs/ in {chromium}")
        result = subprocess.run(args, capture_output=True, text=True, timeout=180)
        dom = result.stdout
        if result.returncode != 0 or not dom.strip():
            print(result.stderr[-3000:], file=sys.stderr)
            fail(f"chromium failed (exit {result.returncode})")
        (work / "dom.html").write_text(dom)

        problems = []
        parser = Operations()
        parser.feed(dom)
        missing = sorted(expected - parser.found)
        if missing:
            problems.append(
                f"{len(missing)} of {len(expected)} operations are not rendered: "
                + ", ".join(f"{m.upper()} {p}" for m, p in missing)
            )
        requests, connects, datagrams = net_log_requests(net_log)
        # The proof that nothing left the machine: every TCP connection Chromium tried went to
        # the shop or to the closed proxy port, and it sent no datagram at all (no DNS, no QUIC).
        allowed = {f"127.0.0.1:{port}", f"127.0.0.1:{closed_port}"}
        if connects - allowed:
            problems.append("TCP connections to other places: " + ", ".join(sorted(connects - allowed)))
        if f"127.0.0.1:{port}" not in connects:
            problems.append("the net log shows no connection to the shop (is the log complete?)")
        if datagrams:
            problems.append("UDP datagrams sent to: " + ", ".join(sorted(datagrams)))
        if not any(u.startswith(f"{origin}/api/v1/openapi.json") for u, _, _ in requests):
            problems.append("the net log does not show the page fetching the OpenAPI document")

        def ours(url):
            return url == origin or url.startswith(origin + "/") or url.startswith(LOCAL_SCHEMES)

        # What the page asks for (its own loads and whatever its scripts, styles and images
        # fetch) names the page as initiator, or is the navigation itself. Chromium's own
        # background calls (component updates, account and autofill services) name none: they
        # are not the page's doing, and the resolver rules and the closed proxy stop them anyway.
        page = sorted(
            u for u, initiator, kind in requests
            if not ours(u) and (initiator.startswith(origin) or kind in ("main frame", "sub frame"))
        )
        if page:
            problems.append("the page made requests to other places than the shop: " + ", ".join(page))
        browser = sorted(u for u, initiator, kind in requests if not ours(u) and u not in page)
        if browser:
            log(f"note: Chromium's own background requests (not the page's; refused): {len(browser)}")
        if not re.search(r"swagger-ui", dom):
            problems.append("the page has no Swagger UI")
        if problems:
            for p in problems:
                print(f"error: docs-check: {p}", file=sys.stderr)
            keep = Path(tempfile.mkdtemp(prefix="shop-docs-check-failed."))
            for name in ("dom.html", "netlog.json", "shop.log"):
                if (work / name).exists():
                    shutil.copy(work / name, keep / name)
            print(f"the DOM, net log and shop log are kept in {keep}", file=sys.stderr)
            return 1
        log(f"all {len(expected)} operations rendered; every request went to {origin}")
        return 0
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        shop_log.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
