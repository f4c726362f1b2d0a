"""A small Chrome DevTools Protocol client on the standard library (for `make browser-check`).

Starts a headless Chromium with --remote-debugging-port=0, reads the port it picked from
DevToolsActivePort in its fresh profile, and speaks the protocol over one WebSocket (RFC
6455, client side: masked text frames out, unmasked frames in, fragments joined, pings
answered). Pages are targets attached in flat mode: every command names its sessionId.
Every wait is bounded in time.
"""
import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--force-device-scale-factor=1", "--mute-audio"]


class CdpError(RuntimeError):
    pass


class WebSocket:
    def __init__(self, host, port, path, timeout=30):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
                          .encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise CdpError("the browser closed the WebSocket during the handshake")
            head += chunk
        head, _, self.buffer = head.partition(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise CdpError(f"WebSocket handshake refused: {head.splitlines()[0]!r}")

    def _read(self, n):
        while len(self.buffer) < n:
            chunk = self.sock.recv(max(65536, n - len(self.buffer)))
            if not chunk:
                raise CdpError("the browser closed the WebSocket")
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def _frame(self, opcode, payload):
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([0x80 | opcode]) + (bytes([0x80 | n]) if n < 126 else
                                         struct.pack("!BH", 0x80 | 126, n) if n < 65536 else
                                         struct.pack("!BQ", 0x80 | 127, n))
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if n < 4096 else _mask(payload, mask)
        self.sock.sendall(head + mask + masked)

    def send(self, text):
        self._frame(0x1, text.encode("utf-8"))

    def recv(self, timeout):
        """One whole message (text), or None when none came within timeout seconds."""
        self.sock.settimeout(timeout)
        parts = []
        try:
            while True:
                b0, b1 = self._read(2)
                n = b1 & 0x7F
                if n == 126:
                    n = struct.unpack("!H", self._read(2))[0]
                elif n == 127:
                    n = struct.unpack("!Q", self._read(8))[0]
                payload = self._read(n)
                opcode = b0 & 0x0F
                if opcode == 0x9:                       # ping
                    self._frame(0xA, payload)
                    continue
                if opcode == 0x8:
                    raise CdpError("the browser closed the WebSocket")
                if opcode in (0x0, 0x1, 0x2):
                    parts.append(payload)
                    if b0 & 0x80:
                        return b"".join(parts).decode("utf-8")
        except socket.timeout:
            if parts:
                raise CdpError("a WebSocket message was cut short") from None
            return None


def _mask(payload, mask):
    """XOR of a long payload with the 4-byte mask, as one big integer (fast enough for axe's 600 KB)."""
    n = len(payload)
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big")


class Browser:
    """One Chromium process; page() opens a tab (a Page)."""

    def __init__(self, exe, timeout=60):
        self.profile = tempfile.mkdtemp(prefix="alive-chromium-")
        self.proc = subprocess.Popen([exe, *FLAGS, f"--user-data-dir={self.profile}", "--remote-debugging-port=0",
                                      "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.monotonic() + timeout
        while True:
            try:
                port, path = open(port_file).read().split("\n")[:2]
                break
            except (OSError, ValueError):
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.close()
                    raise CdpError("chromium did not open its DevTools port") from None
                time.sleep(0.1)
        self.ws = WebSocket("127.0.0.1", int(port), path)
        self.next_id = 0
        self.events = []

    def call(self, method, params=None, session=None, timeout=60):
        self.next_id += 1
        ident = self.next_id
        message = {"id": ident, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CdpError(f"{method}: no answer within {timeout}s")
            text = self.ws.recv(left)
            if text is None:
                continue
            doc = json.loads(text)
            if doc.get("id") == ident:
                if "error" in doc:
                    raise CdpError(f"{method}: {doc['error'].get('message')}")
                return doc.get("result", {})
            if "method" in doc:
                self.events.append(doc)

    def wait_event(self, method, session=None, timeout=30, since=0):
        """The first event `method` (of the session) at index >= since, waiting up to timeout."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events[since:]:
                if event["method"] == method and (session is None or event.get("sessionId") == session):
                    return event
            left = deadline - time.monotonic()
            if left <= 0:
                raise CdpError(f"no {method} within {timeout}s")
            text = self.ws.recv(min(left, 1))
            if text:
                doc = json.loads(text)
                if "method" in doc:
                    self.events.append(doc)

    def page(self, width, height, mobile=False, dark=False):
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session, target)
        for domain in ("Page", "Runtime", "Log"):
            page.call(f"{domain}.enable")
        page.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1,
                                                          "mobile": mobile})
        page.scheme(dark)
        return page

    def close(self):
        try:
            self.proc.terminate()
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)


class Page:
    def __init__(self, browser, session, target):
        self.browser, self.session, self.target = browser, session, target

    def call(self, method, params=None, timeout=60):
        return self.browser.call(method, params, self.session, timeout)

    def scheme(self, dark):
        self.call("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme",
                                                               "value": "dark" if dark else "light"}]})

    def mark(self):
        """An index into the event list: wait_for(..., since=mark) sees only what came after."""
        return len(self.browser.events)

    def wait_for(self, method, since, timeout=30):
        return self.browser.wait_event(method, self.session, timeout, since)

    def goto(self, url, timeout=30):
        since = self.mark()
        self.call("Page.navigate", {"url": url})
        self.wait_for("Page.loadEventFired", since, timeout)

    def js(self, expression, timeout=60):
        """The value of a JavaScript expression (promises awaited); a thrown error is a CdpError."""
        result = self.call("Runtime.evaluate", {"expression": expression, "awaitPromise": True,
                                                "returnByValue": True}, timeout)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise CdpError(f"JavaScript failed: {details.get('exception', {}).get('description') or details}")
        return result["result"].get("value")

    def wait_js(self, expression, timeout=30, every=0.2):
        """Wait until the expression is truthy -> its value; CdpError after timeout."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.js(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise CdpError(f"still false after {timeout}s: {expression}")
            time.sleep(every)

    def key(self, name):
        """Press and release a key (Tab, Enter, Space): real input events, as a keyboard sends them."""
        codes = {"Tab": (9, ""), "Enter": (13, "\r"), "Space": (32, " ")}
        code, text = codes[name]
        key = " " if name == "Space" else name
        down = {"type": "keyDown", "key": key, "code": name, "windowsVirtualKeyCode": code}
        if text:
            down["text"] = text
        self.call("Input.dispatchKeyEvent", down)
        self.call("Input.dispatchKeyEvent", {"type": "keyUp", "key": key, "code": name, "windowsVirtualKeyCode": code})

    def screenshot(self, path, width, max_height=6000):
        """The whole page (up to max_height) as a PNG file."""
        height = min(max_height, int(self.js("Math.ceil(document.documentElement.scrollHeight)")))
        data = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                    "clip": {"x": 0, "y": 0, "width": width, "height": height,
                                                             "scale": 1}})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def console_errors(self, since=0):
        """Log entries of level error (CSP violations among them) since a mark."""
        return [e["params"]["entry"]["text"] for e in self.browser.events[since:]
                if e.get("sessionId") == self.session and e["method"] == "Log.entryAdded"
                and e["params"]["entry"].get("level") == "error"]

    def close(self):
        self.browser.call("Target.closeTarget", {"targetId": self.target})
