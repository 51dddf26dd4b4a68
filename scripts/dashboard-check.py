#!/usr/bin/env python3
"""The dashboard (`/admin`) in a real browser: headless Chromium driven by Selenium.

- `/admin` sends a signed-out visitor to `/admin/login`;
- a user who is not an admin signs in and gets the 403 page, and no session;
- an admin (`shop create-admin`) signs in and sees the overview and the products page
  (searched, with products made through the API);
- the orders page lists an order a customer placed through the API, its filter by status
  keeps or drops it, and the order's page (lines, totals, address) marks it paid with its form;
- a form posted without its CSRF token, or with a wrong one, is refused (403) and the session
  stays (and the order's status with it);
- signing out ends the session: the old cookie no longer opens `/admin`.

Each page is looked at 1280 px and 390 px wide: no horizontal scroll at 390 px
(`document.documentElement.scrollWidth <= 390`), no serious or critical axe-core violation,
and a screenshot under target/dashboard-screenshots/ for a person to look at.

Usage: scripts/dashboard-check.py   (builds the debug `shop`, or takes the binary SHOP_BIN
names; starts it on SQLite on a free port and stops it). Chromium and its driver come from
Debian's `chromium` and `chromium-driver`, installed with apt-get when missing and running as
root; Selenium and axe-selenium-python (pinned below) from PyPI into the venv
scripts/schemathesis.sh caches (${XDG_CACHE_HOME:-~/.cache}/shop/venv). Under CI=true a missing
Chromium is a failure; otherwise the check is skipped with a note.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("selenium==4.51.0", "axe-selenium-python==2.1.6")
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path(os.environ.get("HOME", "/tmp")) / ".cache") / "shop"
VENV = CACHE / "venv"
MARKER = VENV / ".shop-dashboard-installed"
SCREENSHOTS = ROOT / "target" / "dashboard-screenshots"
PASSWORD = "dashboard check password"


def log(msg):
    print(f"==> dashboard-check: {msg}", file=sys.stderr, flush=True)


def fail(msg):
    print(f"error: dashboard-check: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def is_ci():
    return os.environ.get("CI") == "true"


def skip_or_fail(msg):
    if is_ci():
        fail(f"{msg}, and CI=true")
    log(f"warning: {msg}: the dashboard check is skipped")
    sys.exit(0)


def in_venv():
    """Runs this script with the cached venv's Python, installing the packages there once."""
    try:
        import selenium  # noqa: F401
        import axe_selenium_python  # noqa: F401
        return
    except ImportError:
        pass
    python = VENV / "bin" / "python"
    if Path(sys.prefix).resolve() == VENV.resolve() and MARKER.exists():
        fail("the venv has its marker but not the packages")
    if not python.exists():
        log(f"making the venv {VENV}")
        CACHE.mkdir(parents=True, exist_ok=True)
        if subprocess.run([sys.executable, "-m", "venv", str(VENV)]).returncode != 0:
            skip_or_fail("cannot make a venv (apt-get install python3-venv)")
    if not MARKER.exists() or MARKER.read_text() != " ".join(PACKAGES):
        log(f"installing {' '.join(PACKAGES)} into {VENV} (once)")
        r = subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", *PACKAGES])
        if r.returncode != 0:
            skip_or_fail(f"pip could not install {' '.join(PACKAGES)}")
        MARKER.write_text(" ".join(PACKAGES))
    os.execv(str(python), [str(python), *sys.argv])


def apt_install(package):
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log(f"installing {package} with apt-get (not found on this machine)")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        r = subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", package],
                           env=env, stdout=subprocess.DEVNULL, check=False)
        if r.returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
            subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", package],
                           env=env, stdout=subprocess.DEVNULL, check=False)


def provide(binary_names, package):
    for _ in range(2):
        for name in binary_names:
            path = shutil.which(name)
            if path:
                return path
        apt_install(package)
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def http(method, url, body=None, headers=None):
    """(status, headers, body) of one request, redirects not followed."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with OPENER.open(req, timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def api(base, method, path, payload, token=None):
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    status, _, body = http(method, f"{base}/api/v1{path}", json.dumps(payload).encode(), headers)
    if status // 100 != 2:
        fail(f"{method} {path} answered {status}: {body[:300]!r}")
    return json.loads(body) if body else None


def main():
    in_venv()
    from axe_selenium_python import Axe
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import Select, WebDriverWait

    chromium = provide(("chromium", "chromium-browser"), "chromium")
    if not chromium:
        skip_or_fail("Chromium is not installed and cannot be installed")
    driver_bin = provide(("chromedriver",), "chromium-driver")
    if not driver_bin:
        skip_or_fail("chromedriver is not installed and cannot be installed (chromium-driver)")

    if os.environ.get("SHOP_BIN"):
        shop = Path(os.environ["SHOP_BIN"])
    else:
        log("cargo build -p shop")
        subprocess.run(["cargo", "build", "-p", "shop", "--locked", "--quiet"], cwd=ROOT, check=True)
        shop = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target") / "debug" / "shop"

    work = Path(tempfile.mkdtemp(prefix="shop-dashboard-check."))
    port = free_port()
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
    (work / "data").mkdir()
    subprocess.run([str(shop), "create-admin", "--email", "owner@example.com", "--password", PASSWORD,
                    "--username", "owner"], env=env, check=True, stdout=subprocess.DEVNULL)
    shop_log = open(work / "shop.log", "wb")
    server = subprocess.Popen([str(shop), "serve"], env=env, stdout=shop_log, stderr=subprocess.STDOUT)
    driver = None
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if http("GET", f"{base}/health/live")[0] == 200:
                    break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                print((work / "shop.log").read_text(errors="replace")[-3000:], file=sys.stderr)
                fail("shop did not start")
            time.sleep(0.2)

        # A customer, and products to list, through the API.
        api(base, "POST", "/auth/register", {"email": "customer@example.com", "password": PASSWORD, "username": "customer"})
        token = api(base, "POST", "/auth/login", {"username": "owner", "password": PASSWORD})["access_token"]
        products = []
        for i, name in enumerate(["Stoneware mug", "Linen tea towel with a rather long name that has to wrap on a phone", "Oak serving board"], 1):
            products.append(api(base, "POST", "/products", {"sku": f"DASH-{i}", "name": name, "price": {"amount": f"{i}9.00", "currency": "EUR"}, "stock": 0 if i == 3 else 10}, token))
        # An order of the customer's, through the API, for the orders pages.
        customer = api(base, "POST", "/auth/login", {"username": "customer", "password": PASSWORD})["access_token"]
        order = api(base, "POST", "/orders", {
            "items": [{"product_id": products[0]["id"], "quantity": 2}, {"product_id": products[1]["id"], "quantity": 1}],
            "shipping_address": {"line1": "Rue de la Paix 12, appartement 34, escalier B", "city": "Saint-Rémy-de-Provence",
                                 "postal_code": "13210", "country": "FR"},
        }, customer)

        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1280,900",
                    f"--user-data-dir={work / 'profile'}"):
            options.add_argument(arg)
        started = time.monotonic()
        driver = webdriver.Chrome(service=Service(driver_bin), options=options)
        log(f"Chromium started in {time.monotonic() - started:.1f} s")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)

        def submit(element):
            """Clicks `element` (or submits its form) and waits for the next page."""
            page = driver.find_element(By.TAG_NAME, "html")
            if element.tag_name == "button":
                element.click()
            else:
                element.submit()

            def left(_):
                # Chromium sometimes reports the old page's node as no longer in the document
                # instead of as stale: either way, the next page is there.
                try:
                    return expected_conditions.staleness_of(page)(driver)
                except WebDriverException as e:
                    if "does not belong to the document" in str(e):
                        return True
                    raise

            WebDriverWait(driver, 10).until(left)

        def h1():
            return driver.find_element(By.TAG_NAME, "h1").text

        def look_at(name):
            """The page at 1280 and 390 px: screenshots, no scroll at 390, axe-core."""
            for width in (1280, 390):
                driver.set_window_size(width, 900)
                time.sleep(0.2)
                driver.save_screenshot(str(SCREENSHOTS / f"{name}-{width}.png"))
                if width == 390:
                    scroll = driver.execute_script("return document.documentElement.scrollWidth")
                    inner = driver.execute_script("return window.innerWidth")
                    if scroll > 390 or scroll > inner:
                        fail(f"{name}: scrolls sideways at 390 px (scrollWidth {scroll}, innerWidth {inner})")
                axe = Axe(driver)
                axe.inject()
                results = axe.run()
                bad = [v for v in results["violations"] if v.get("impact") in ("serious", "critical")]
                if bad:
                    fail(f"{name} at {width} px: axe-core: " + "; ".join(f"{v['id']}: {v['help']}" for v in bad))
            driver.set_window_size(1280, 900)
            log(f"{name}: fine at 1280 and 390 px")

        def sign_in(username):
            driver.get(f"{base}/admin/login")
            driver.find_element(By.ID, "username").send_keys(username)
            driver.find_element(By.ID, "password").send_keys(PASSWORD)
            submit(driver.find_element(By.CSS_SELECTOR, "form.stack button[type=submit]"))

        driver.get(f"{base}/admin")
        if not driver.current_url.endswith("/admin/login") or h1() != "Sign in":
            fail(f"/admin signed out did not lead to the sign-in page: {driver.current_url}")
        look_at("login")

        driver.get(f"{base}/admin/login")
        driver.find_element(By.ID, "username").send_keys("owner")
        driver.find_element(By.ID, "password").send_keys("not the password")
        submit(driver.find_element(By.CSS_SELECTOR, "form.stack button[type=submit]"))
        if h1() != "Sign in" or "Wrong" not in driver.find_element(By.CSS_SELECTOR, "[role=alert]").text:
            fail("a wrong password did not show the sign-in form again with its error")

        sign_in("customer")
        if h1() != "Not an admin":
            fail(f"a customer's sign-in showed {h1()!r}, not the 403 page")
        if driver.get_cookie("shop_admin"):
            fail("a customer was given a dashboard session")
        look_at("forbidden")

        sign_in("owner")
        if not driver.current_url.endswith("/admin") or h1() != "Overview":
            fail(f"the admin's sign-in led to {driver.current_url} ({h1()!r})")
        cookie = driver.get_cookie("shop_admin")
        if not cookie or not cookie.get("httpOnly") or cookie.get("sameSite") != "Strict" or cookie.get("path") != "/admin":
            fail(f"the session cookie is not HttpOnly, SameSite=Strict, Path=/admin: {cookie}")
        cards = driver.find_element(By.CSS_SELECTOR, ".cards").text
        if "Orders waiting for payment" not in cards or "Products out of stock" not in cards:
            fail(f"the overview lacks its counts: {cards!r}")
        look_at("overview")

        driver.get(driver.find_element(By.LINK_TEXT, "Products").get_attribute("href"))
        if h1() != "Products" or "Stoneware mug" not in driver.page_source:
            fail("the products page does not list the products")
        look_at("products")
        search = driver.find_element(By.ID, "q")
        search.send_keys("mug")
        submit(search)
        rows = driver.find_elements(By.CSS_SELECTOR, "tbody tr")
        if len(rows) != 1 or "Stoneware mug" not in rows[0].text:
            fail(f"searching for 'mug' showed {[r.text for r in rows]}")

        Select(driver.find_element(By.ID, "status")).select_by_value("draft")
        submit(driver.find_element(By.ID, "q"))
        if "No products match." not in driver.page_source:
            fail("filtering by the draft status still lists the active products")
        driver.get(f"{base}/admin/products?status=bogus&cursor=%00")
        if h1() != "Not understood":
            fail(f"a bad status showed {h1()!r}, not the error page")

        # The orders: the list, its filter, the order's page and its "Mark paid" form.
        driver.get(f"{base}/admin")
        driver.get(driver.find_element(By.LINK_TEXT, "Orders waiting for payment").get_attribute("href"))
        if h1() != "Orders" or not driver.current_url.endswith("/admin/orders?status=pending"):
            fail(f"the overview's card led to {driver.current_url} ({h1()!r})")
        detail = f"/admin/orders/{order['id']}"
        if not driver.find_elements(By.CSS_SELECTOR, f'a[href="{detail}"]'):
            fail("the pending orders do not list the order placed through the API")
        driver.get(driver.find_element(By.LINK_TEXT, "Orders").get_attribute("href"))
        look_at("orders")
        Select(driver.find_element(By.ID, "status")).select_by_value("shipped")
        submit(driver.find_element(By.CSS_SELECTOR, "form.search button[type=submit]"))
        if "No orders match." not in driver.page_source:
            fail("filtering by the shipped status still lists the pending order")
        driver.get(f"{base}/admin/orders")
        driver.get(driver.find_element(By.CSS_SELECTOR, f'a[href="{detail}"]').get_attribute("href"))
        if not h1().startswith("Order ") or driver.find_element(By.ID, "status").text != "pending":
            fail(f"the order's page shows {h1()!r}")
        for part in ("Stoneware mug", "Saint-Rémy-de-Provence", "67.00 EUR"):
            if part not in driver.page_source:
                fail(f"the order's page lacks {part!r}")
        look_at("order")
        submit(driver.find_element(By.XPATH, "//button[normalize-space()='Mark paid']"))
        if not driver.current_url.endswith(detail) or driver.find_element(By.ID, "status").text != "paid":
            fail(f"marking the order paid led to {driver.current_url} ({h1()!r})")
        if driver.find_element(By.ID, "payment").text != "paid":
            fail("the order marked paid is not paid")
        seen = json.loads(http("GET", f"{base}/api/v1/orders/{order['id']}",
                               headers={"authorization": f"Bearer {token}"})[2])
        if seen.get("status") != "paid":
            fail(f"the API shows the order marked paid as {seen.get('status')!r}")
        look_at("order-paid")
        driver.get(f"{base}/admin/orders/not-an-order")
        if h1() != "No such order":
            fail(f"a bad order id showed {h1()!r}, not the 404 page")

        # Forms without their token, or with a wrong one, are refused; the session stays.
        session = f"shop_admin={cookie['value']}"
        for body in (b"", b"csrf=wrong"):
            status, _, page = http("POST", f"{base}/admin/logout", body,
                                   {"cookie": session, "content-type": "application/x-www-form-urlencoded"})
            if status != 403 or b"Form refused" not in page:
                fail(f"POST /admin/logout with {body!r} answered {status}")
        status, _, _ = http("POST", f"{base}{detail}/status", b"status=shipped",
                            {"cookie": session, "content-type": "application/x-www-form-urlencoded"})
        if status != 403:
            fail(f"a status change without its token answered {status}")
        seen = json.loads(http("GET", f"{base}/api/v1/orders/{order['id']}",
                               headers={"authorization": f"Bearer {token}"})[2])
        if seen.get("status") != "paid":
            fail(f"a refused status change left the order {seen.get('status')!r}")
        if http("GET", f"{base}/admin", headers={"cookie": session})[0] != 200:
            fail("a refused form ended the session")
        driver.get(f"{base}/admin/no-such-page")
        if h1() != "Not found":
            fail("an unknown dashboard page is not the 404 page")

        driver.get(f"{base}/admin")
        submit(driver.find_element(By.CSS_SELECTOR, "header form button[type=submit]"))
        if not driver.current_url.endswith("/admin/login"):
            fail(f"signing out led to {driver.current_url}")
        status, headers, _ = http("GET", f"{base}/admin", headers={"cookie": session})
        if status != 303 or headers.get("location") != "/admin/login":
            fail(f"the signed-out session still opens /admin ({status})")
        log(f"all checks passed; screenshots in {SCREENSHOTS}")
        return 0
    finally:
        if driver is not None:
            driver.quit()
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        shop_log.close()
        log_text = (work / "shop.log").read_text(errors="replace")
        if "panicked" in log_text:
            print(log_text[-3000:], file=sys.stderr)
            fail("shop panicked")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
