"""`alive serve` against clients that drip their request one byte at a time (issue 10, item 4).

A byte every 2 s never trips a per-read socket timeout of 10 s, so without a deadline for
the whole request (headers and body) such a client holds a server thread for as long as
it likes, and a few hundred of them hold the server. With the deadline the server hangs
up on each of them, and serves everyone else meanwhile.
"""
import select
import socket
import time

from test_serve import FLEET, TOKEN, request, serving

DRIP_EVERY_S = 2.0          # well under the server's 10 s per-read timeout
GIVE_UP_S = 30.0            # the loop's bound: three times the deadline


def closed_by_server(sock):
    """True when the server has hung up (EOF or reset); never blocks."""
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return False
    try:
        return sock.recv(4096) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True


def drip(sock, data):
    """Send the next byte; a reset while sending also means the server hung up."""
    try:
        sock.sendall(data)
        return False
    except (ConnectionResetError, BrokenPipeError):
        return True


def test_a_client_dripping_a_byte_every_2_s_is_cut_off_at_the_request_deadline(home):
    (home / "fleet.toml").write_text(FLEET)
    with serving(home, env={"TEST_SERVE_TOKEN": TOKEN}) as server:
        host, port, _ = server
        headers = b"GET /status.json HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + b"x" * 64
        body_head = (b"POST /trigger/track HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 200\r\n"
                     b"Content-Type: application/x-www-form-urlencoded\r\n\r\n")
        slow = {"headers": socket.create_connection((host, port), timeout=5),
                "body": socket.create_connection((host, port), timeout=5)}
        slow["body"].sendall(body_head)                 # headers complete, then the body drips
        pending = {"headers": iter(headers), "body": iter(b"csrf=" + b"y" * 195)}
        cut_after = {}
        started = time.monotonic()
        try:
            while len(cut_after) < len(slow) and time.monotonic() - started < GIVE_UP_S:
                for name, sock in slow.items():
                    if name in cut_after:
                        continue
                    if closed_by_server(sock) or drip(sock, bytes([next(pending[name])])):
                        cut_after[name] = time.monotonic() - started
                # everyone else is served meanwhile
                assert request(server, "GET", "/healthz", timeout=5)[0] == 200
                time.sleep(DRIP_EVERY_S)
        finally:
            for sock in slow.values():
                sock.close()
        assert set(cut_after) == {"headers", "body"}, f"still connected after {GIVE_UP_S:.0f} s: {cut_after}"
        # cut at the 10 s deadline (checked on the next drip), long before the loop gave up
        assert all(8 < t < 16 for t in cut_after.values()), cut_after
    log = (home.parent / "serve.log").read_text()
    assert "Traceback" not in log
