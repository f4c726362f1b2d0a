"""notify against the limits of the real peers: one overall deadline per request, ntfy's
message size limit and its header rules, a message refused for good told to a person, and
no negative duration in any message.

The fake ntfy server and the helpers are test_notify's (a real ThreadingHTTPServer on
127.0.0.1, a real command script, real files); `now` is passed in.
"""
import socket
import threading
import time
from datetime import timedelta

from test_notify import (T0, check, item, log_text, make_reg, ntfy, outbox, recording_command,  # noqa: F401
                         records, token)

from alive import notify
from alive.health import RED


# ---------------------------------------------------------------- one overall deadline

class Trickler:
    """An ntfy stand-in that reads the request, sends its headers at once, then one byte of
    the body every `every_s` seconds for at most `for_s` seconds (the test's own bound)."""

    def __init__(self, every_s=1.5, for_s=12):
        self.every_s, self.for_s = every_s, for_s
        self.stop = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn):
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nContent-Type: application/json\r\n\r\n")
                ends = time.monotonic() + self.for_s
                while not self.stop.is_set() and time.monotonic() < ends:
                    conn.sendall(b" ")
                    self.stop.wait(self.every_s)
            except OSError:
                pass

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


def test_an_ntfy_server_that_trickles_its_answer_is_cut_off_at_one_overall_deadline(home, monkeypatch):
    # Each read gets a byte within 1.5 s, well inside the 2 s timeout: only a deadline for
    # the whole request ends it. No answer came: the message stays for the next run.
    monkeypatch.setattr(notify, "NTFY_TIMEOUT_S", 2)
    server = Trickler()
    try:
        reg = make_reg(home, server, token_env=None)
        started = time.monotonic()
        summary = check(home, reg, item("daily-dq", RED))
        took = time.monotonic() - started
    finally:
        server.close()
    assert took < 2 + 1.5, f"one POST took {took:.1f}s with a 2s deadline"
    assert summary["sent"] == 0 and summary["queued"] == 1
    assert "timed out: no complete answer within 2s" in log_text(home)
