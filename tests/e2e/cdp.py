# SPDX-License-Identifier: Apache-2.0
"""A small Chrome DevTools Protocol client for the HTML report tests, with
python3's standard library only: Chromium runs headless with
--remote-debugging-pipe (it reads commands from fd 3 and writes replies and
events to fd 4, each message a JSON text ended by a NUL byte), so no
WebSocket client is needed and nothing listens on a port.

    with Browser() as b:
        p = b.page(width=1280, height=900)
        p.open("file:///tmp/r.html")          # waits for body[data-ready]
        p.eval("document.body.dataset.rows")
        p.screenshot("/tmp/r.png")
"""
import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time


class CDPError(Exception):
    pass


def chromium_path():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


def _is_open(fd):
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False


class Browser:
    def __init__(self, binary=None, timeout=120):
        self.binary = binary or chromium_path()
        if not self.binary:
            raise CDPError("chromium not found")
        self.timeout = timeout
        self.next_id = 0
        self.buf = b""
        self.events = []        # (sessionId, method, params), in arrival order

    def __enter__(self):
        self.profile = tempfile.mkdtemp(prefix="nxp-cdp-")
        to_b_r, to_b_w = os.pipe()      # we write commands, the browser reads fd 3
        from_b_r, from_b_w = os.pipe()  # the browser writes fd 4, we read
        # The browser's ends go to fds 3 and 4 by a shell's redirections
        # (subprocess closes what preexec_fn would dup2 there); moved to
        # high numbers first so that the redirections cannot clobber them.
        # (sh takes single-digit fds; 3 and 4 are the targets)
        free = [fd for fd in range(9, 4, -1) if not _is_open(fd)]
        if len(free) < 2:
            raise CDPError("no two free descriptors among 5-9 for the pipe")
        hi_r, hi_w = free[0], free[1]
        os.dup2(to_b_r, hi_r)
        os.dup2(from_b_w, hi_w)
        os.close(to_b_r)
        os.close(from_b_w)
        argv = [self.binary, "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-extensions",
                "--no-first-run", "--no-default-browser-check", "--hide-scrollbars",
                "--mute-audio", "--user-data-dir=" + self.profile,
                "--remote-debugging-pipe", "about:blank"]
        self.proc = subprocess.Popen(
            ["/bin/sh", "-c", 'exec "$@" 3<&%d 4>&%d %d<&- %d>&-' % (hi_r, hi_w, hi_r, hi_w),
             "sh"] + argv,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.profile, "stderr"), "wb"),
            pass_fds=(hi_r, hi_w))
        os.close(hi_r)
        os.close(hi_w)
        self.w, self.r = to_b_w, from_b_r
        return self

    def __exit__(self, *exc):
        try:
            self.send("Browser.close", timeout=10)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.w)
        os.close(self.r)
        shutil.rmtree(self.profile, ignore_errors=True)

    def stderr_tail(self):
        try:
            with open(os.path.join(self.profile, "stderr"), "rb") as f:
                return f.read()[-2000:].decode("utf-8", "replace")
        except OSError:
            return ""

    def _read_message(self, deadline):
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CDPError("timed out waiting for chromium")
            ready, _, _ = select.select([self.r], [], [], left)
            if not ready:
                continue
            chunk = os.read(self.r, 1 << 20)
            if not chunk:
                raise CDPError("chromium closed the pipe: " + self.stderr_tail())
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method, params=None, session=None, timeout=None):
        self.next_id += 1
        mid = self.next_id
        m = {"id": mid, "method": method, "params": params or {}}
        if session:
            m["sessionId"] = session
        data = json.dumps(m).encode() + b"\0"
        while data:
            n = os.write(self.w, data)
            data = data[n:]
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            msg = self._read_message(deadline)
            if msg.get("id") == mid:
                if "error" in msg:
                    raise CDPError("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})
            if "method" in msg:
                self.events.append((msg.get("sessionId"), msg["method"], msg.get("params", {})))

    def wait_event(self, session, method, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for k, (s, m, p) in enumerate(self.events):
                if s == session and m == method:
                    del self.events[k]
                    return p
            msg = self._read_message(deadline)
            if "method" in msg:
                self.events.append((msg.get("sessionId"), msg["method"], msg.get("params", {})))

    def page(self, width=1280, height=900, mobile=False):
        t = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        s = self.send("Target.attachToTarget", {"targetId": t, "flatten": True})["sessionId"]
        return Page(self, s, width, height, mobile)


class Page:
    def __init__(self, browser, session, width, height, mobile):
        self.b, self.s = browser, session
        self.width, self.height = width, height
        for m in ("Page.enable", "Runtime.enable", "Log.enable"):
            self.cmd(m)
        self.cmd("Emulation.setDeviceMetricsOverride",
                 {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})

    def cmd(self, method, params=None):
        return self.b.send(method, params, session=self.s)

    def events(self, *methods):
        """Events of this page seen so far (console errors, dialogs, ...)."""
        return [(m, p) for s, m, p in self.b.events if s == self.s and m in methods]

    def problems(self):
        """Script errors, console errors, CSP violations and dialogs, as text."""
        out = []
        for m, p in self.events("Runtime.exceptionThrown", "Runtime.consoleAPICalled",
                                "Log.entryAdded", "Page.javascriptDialogOpening"):
            if m == "Runtime.exceptionThrown":
                out.append("exception: " + json.dumps(p.get("exceptionDetails", {}))[:500])
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append("console: " + json.dumps(p.get("args", []))[:500])
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                e = p["entry"]
                if "favicon" not in (e.get("url") or ""):
                    out.append("log: %s %s" % (e.get("source"), e.get("text")))
            elif m == "Page.javascriptDialogOpening":
                out.append("dialog: " + p.get("message", ""))
        return out

    def open(self, url, ready="document.body && document.body.dataset.ready === '1'",
             timeout=120):
        self.cmd("Page.navigate", {"url": url})
        self.wait(ready, timeout)

    def wait(self, expr, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            if self.eval(expr):
                return
            if time.monotonic() > deadline:
                raise CDPError("timed out waiting for: %s (problems: %s)" % (expr, self.problems()))
            time.sleep(0.05)

    def eval(self, expr):
        r = self.cmd("Runtime.evaluate", {"expression": expr, "returnByValue": True,
                                          "awaitPromise": True})
        if "exceptionDetails" in r:
            raise CDPError("%s: %s" % (expr, r["exceptionDetails"].get("exception", {})
                                       .get("description", r["exceptionDetails"])))
        return r.get("result", {}).get("value")

    def screenshot(self, path, full=True):
        params = {"format": "png"}
        if full:
            params["captureBeyondViewport"] = True
            m = self.cmd("Page.getLayoutMetrics")
            size = m.get("cssContentSize") or m.get("contentSize")
            params["clip"] = {"x": 0, "y": 0, "width": self.width,
                              "height": min(int(size["height"]), 8000), "scale": 1}
        data = base64.b64decode(self.cmd("Page.captureScreenshot", params)["data"])
        with open(path, "wb") as f:
            f.write(data)
        return data


def png_size(data):
    """(width, height) of a PNG's IHDR."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise CDPError("not a PNG")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
