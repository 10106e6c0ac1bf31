"""The operator dashboard in a real headless Chromium (Debian's package), driven over the
Chrome DevTools Protocol on its loopback websocket: a controller on a scratch ledger with
two tenants made through the API (one with a backup taken through it) and a create that fails
because every server is full; the page is loaded, a wrong token is refused with the 401, the
right one typed in shows the tenants, the servers and the failed operation as the API has
them, and every request the page made went to the controller alone.

Screenshots (the board, and the login form refusing a token) are written to the test's tmp
directory, and to the directory in ODOO_SAAS_DASHBOARD_SCREENSHOTS when set: docs/images/
dashboard.png and dashboard-login.png are made that way."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from base64 import b64decode
from pathlib import Path

import pytest
import requests
import websocket

from . import tenants
from .controller import Controller, cli, write_settings

SCREENSHOTS_TO = "ODOO_SAAS_DASHBOARD_SCREENSHOTS"


def _token(settings_path, scope):
    done = cli(settings_path, "token", "create", "--name", f"dashboard {scope}", "--scope", scope)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


class Page:
    """One Chromium tab over the DevTools Protocol: commands answered in order, events kept."""

    def __init__(self, websocket_url):
        # Chromium refuses DevTools websockets whose Origin it was not told to allow; a
        # client that is no web page sends none.
        self.socket = websocket.create_connection(websocket_url, timeout=30, suppress_origin=True)
        self.last_id = 0
        self.events = []

    def send(self, method, **params):
        self.last_id += 1
        self.socket.send(json.dumps({"id": self.last_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.last_id:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                return message["result"]
            self.events.append(message)

    def evaluate(self, expression):
        answer = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in answer:
            raise AssertionError(f"{expression}: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def wait_for(self, expression, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.1)
        body = self.evaluate("document.body ? document.body.innerText : ''")
        raise AssertionError(f"timed out after {timeout}s waiting for {expression}; the page shows:\n{body}")

    def type_into(self, selector, text):
        self.evaluate(f"document.querySelector({json.dumps(selector)}).focus()")
        self.send("Input.insertText", text=text)

    def click(self, selector):
        box = self.evaluate(f"(() => {{ const r = document.querySelector({json.dumps(selector)}).getBoundingClientRect(); "
                            f"return [r.x + r.width / 2, r.y + r.height / 2]; }})()")
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)

    def screenshot(self, path, width=1280):
        height = self.evaluate("Math.ceil(document.documentElement.scrollHeight)")
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
        data = self.send("Page.captureScreenshot", format="png")["data"]
        Path(path).write_bytes(b64decode(data))

    def close(self):
        self.socket.close()


def _chromium(profile, log_path):
    """A headless Chromium with DevTools on a loopback port; returns (process, page websocket URL)."""
    binary = shutil.which("chromium")
    assert binary, "Debian's chromium is not installed: run hack/setup.sh"
    command = [
        binary, "--headless", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
        f"--user-data-dir={profile}",
        # As root Chromium will not start its sandbox (it needs an unprivileged user for its
        # namespaces and setuid helper) and exits unless told to run without one. The only page
        # it loads is the controller's own, on loopback, so nothing untrusted runs in it.
        "--no-sandbox",
        "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
        # No traffic but to 127.0.0.1: no background services, and no host name resolves.
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
        "--disable-default-apps", "--disable-domain-reliability", "--disable-client-side-phishing-detection",
        "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--window-size=1280,900", "about:blank",
    ]
    log = open(log_path, "w", encoding="utf-8")  # noqa: SIM115 - the child keeps it
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    port_file = Path(profile) / "DevToolsActivePort"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"chromium exited with {process.returncode}: {Path(log_path).read_text()[-2000:]}")
        if port_file.exists() and port_file.read_text().strip():
            port = port_file.read_text().split()[0]
            pages = [target for target in requests.get(f"http://127.0.0.1:{port}/json/list", timeout=5).json()
                     if target["type"] == "page"]
            if pages:
                return process, pages[0]["webSocketDebuggerUrl"]
        time.sleep(0.1)
    process.kill()
    raise AssertionError(f"chromium did not open its DevTools port: {Path(log_path).read_text()[-2000:]}")


@pytest.fixture(scope="module")
def fleet(ledger_db, tmp_path_factory):
    """A controller and what it shows: two tenants (a backup of the first), one failed create."""
    directory = tmp_path_factory.mktemp("dashboard")
    settings_path = write_settings(directory, ledger_db)
    admin, read = _token(settings_path, "admin"), _token(settings_path, "read")
    with tenants.connect(tenants.LEDGER, ledger_db) as conn:
        conn.execute("UPDATE servers SET capacity = 1")  # one tenant fills each server: a third create fails
    controller = Controller(settings_path, directory / "controller.log").start()
    try:
        names = [tenants.unique("dash") for _index in range(2)]
        queued = [controller.call("POST", "/v1/tenants", admin, json={"name": name, "plan": plan}).json()
                  for name, plan in zip(names, ("small", "medium"))]
        for operation in queued:
            assert controller.wait_operation(operation["id"], admin)["state"] == "succeeded", operation
        backup = controller.call("POST", f"/v1/tenants/{names[0]}/backups", admin).json()
        refused = controller.call("POST", "/v1/tenants", admin, json={"name": tenants.unique("full"), "plan": "small"}).json()
        assert controller.wait_operation(backup["id"], admin)["state"] == "succeeded", backup
        failed = controller.wait_operation(refused["id"], admin)
        assert failed["state"] == "failed" and "full" in failed["error"], failed
        yield controller, read, names, failed
    finally:
        controller.stop()


@pytest.fixture
def page(tmp_path):
    process, url = _chromium(tmp_path / "profile", tmp_path / "chromium.log")
    tab = Page(url)
    try:
        for domain in ("Page", "Runtime", "Network", "Log"):
            tab.send(f"{domain}.enable")
        yield tab
    finally:
        tab.close()
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


ROWS = "[...document.querySelectorAll('#{table} tbody tr')].map(row => [...row.cells].map(cell => cell.innerText.trim()))"


def test_the_dashboard_shows_the_fleet_to_a_token_and_refuses_a_wrong_one(fleet, page, tmp_path):
    controller, token, names, failed = fleet
    api = {item["name"]: item for item in controller.call("GET", "/v1/tenants?include=backup", token).json()["items"]}
    assert api[names[0]]["last_backup"]["kind"] == "manual" and api[names[1]]["last_backup"] is None
    assert {api[name]["health"]["status"] for name in names} == {"ok"}
    assert controller.call("GET", "/v1/tenants?include=everything", token).json()["errors"][0]["field"] == "include"

    page.send("Page.navigate", url=f"{controller.url}/dashboard")
    page.wait_for("document.readyState === 'complete' && !document.getElementById('login').hidden")
    page.type_into("#token", "osk_000000000000_" + "x" * 43)
    page.click("#sign-in")
    refused = page.wait_for("(e => !e.hidden && e.innerText)(document.getElementById('login-error'))")
    assert "401" in refused and "refused" in refused
    assert page.evaluate("document.getElementById('board').hidden")
    assert page.evaluate("sessionStorage.getItem('odoo-saas-kit.token')") is None  # a refused token is not kept
    page.screenshot(tmp_path / "dashboard-login.png")

    page.type_into("#token", token)
    page.click("#sign-in")
    page.wait_for("!document.getElementById('board').hidden && document.querySelectorAll('#tenants tr[data-tenant]').length == 2")
    tenants_shown = {row[0]: row for row in page.evaluate(ROWS.format(table="tenants"))}
    assert set(tenants_shown) == set(names)
    for name in names:
        shown, listed = tenants_shown[name], api[name]
        assert shown[1:4] == [listed["state"], listed["plan"], listed["database"]["server"]], shown
        assert shown[4] == listed["urls"][0] and shown[5] == "ok"
    assert tenants_shown[names[0]][6].endswith("ago (manual)") and tenants_shown[names[1]][6] == "none"

    servers_api = controller.call("GET", "/v1/servers", token).json()["items"]
    servers_shown = {row[0]: row for row in page.evaluate(ROWS.format(table="servers"))}
    assert set(servers_shown) == {server["name"] for server in servers_api}
    for server in servers_api:
        shown = servers_shown[server["name"]]
        assert shown[1] == f"{server['tenants']} / {server['capacity']} full"
        assert shown[2:6] == [str(server["connections"][key]) for key in ("limits", "reserved", "max_connections", "free")]

    failed_shown = page.evaluate(ROWS.format(table="failed"))
    assert [(row[0], row[1], row[2]) for row in failed_shown] == [(failed["id"], "create", failed["tenant"])]
    assert "every shared PostgreSQL server is full" in failed_shown[0][4]
    assert page.evaluate(ROWS.format(table="running")) == [["Nothing queued or running."]]

    # The token went as a header to the controller only: not in a URL, not in a cookie.
    assert page.evaluate("document.cookie") == "" and token not in page.evaluate("location.href")
    page.evaluate("1")  # collects the events that came after the last command
    sent = [event["params"]["request"] for event in page.events if event.get("method") == "Network.requestWillBeSent"]
    assert sent and all(request["url"].startswith(controller.url + "/") for request in sent), [r["url"] for r in sent]
    api_calls = [request for request in sent if "/v1/" in request["url"]]
    assert api_calls and all(token not in request["url"] for request in sent)
    assert {request["headers"].get("Authorization") for request in api_calls} >= {f"Bearer {token}"}

    # No script error and no request the page's Content-Security-Policy refused (the 401 is the
    # one resource that failed to load, on purpose).
    assert not [event for event in page.events if event.get("method") == "Runtime.exceptionThrown"]
    logged = [event["params"]["entry"] for event in page.events if event.get("method") == "Log.entryAdded"]
    assert [(entry["text"], entry.get("url")) for entry in logged if entry["level"] == "error" and "401" not in entry["text"]] == []

    page.screenshot(tmp_path / "dashboard.png")
    if os.environ.get(SCREENSHOTS_TO):
        for name in ("dashboard.png", "dashboard-login.png"):
            shutil.copyfile(tmp_path / name, Path(os.environ[SCREENSHOTS_TO]) / name)
