"""Outgoing HTTP requests with ONE overall deadline (the dead man's switch, ntfy).

urllib's `timeout` bounds each socket operation, not the request: an endpoint that sends
its headers and then one byte every 1.5 s keeps a 5 s timeout waiting for hours, and
`alive check` with it (under launchd or systemd the next check then never starts). Here
the exchange runs in a worker thread and the caller waits at most `seconds` in all
(connecting, sending, the answer's headers and body); then the connection is shut down,
which ends the worker's blocked read, and the caller gets DeadlineExceeded.

urllib and http.client are imported only when a request is made.
"""
import socket
import threading
from dataclasses import dataclass


class DeadlineExceeded(TimeoutError):
    pass


@dataclass
class Answer:
    status: int              # any status: an error status is an answer too
    headers: object          # http.client.HTTPMessage (or None)
    body: bytes              # at most `limit` bytes of it


def exchange(request, seconds, limit=65536, handlers=()):
    """Send a urllib Request and read its answer, all within `seconds`. -> Answer.
    Raises DeadlineExceeded, or what urllib raises when no answer came back (URLError,
    OSError, http.client.HTTPException, ValueError). `handlers` go to build_opener
    (e.g. one that refuses redirects)."""
    import urllib.error
    import urllib.request

    sockets = []
    opener = urllib.request.build_opener(*handlers, *_tracking_handlers(urllib.request, sockets))
    outcome = []

    def work():
        try:
            with opener.open(request, timeout=seconds) as response:
                outcome.append(Answer(response.status, response.headers, response.read(limit)))
        except urllib.error.HTTPError as exc:
            outcome.append(Answer(exc.code, exc.headers, _error_body(exc, limit)))
        except BaseException as exc:  # handed to the caller, who decides what it means
            outcome.append(exc)

    worker = threading.Thread(target=work, name="alive-http", daemon=True)
    worker.start()
    worker.join(seconds)
    if not outcome:
        for sock in sockets:
            _shut(sock)
        worker.join(1)
        raise DeadlineExceeded(f"timed out: no complete answer within {seconds:g}s")
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0]


def _error_body(exc, limit):
    try:
        return exc.read(limit)
    except Exception:  # the body of an error answer is a courtesy; any failure reading it is not ours
        return b""


def _shut(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _tracking_handlers(urllib_request, sockets):
    """HTTP(S) handlers whose connections record their TCP socket in `sockets`, so the
    caller can shut it down at the deadline (also under TLS: the raw socket is recorded)."""
    import http.client

    def tracked(base):
        class Connection(base):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                self._create_connection = self._tracked_create

            @staticmethod
            def _tracked_create(*args, **kwargs):
                sock = socket.create_connection(*args, **kwargs)
                sockets.append(sock)
                return sock

        return Connection

    class HTTPHandler(urllib_request.HTTPHandler):
        def http_open(self, req):
            return self.do_open(tracked(http.client.HTTPConnection), req)

    handlers = [HTTPHandler()]
    if hasattr(urllib_request, "HTTPSHandler"):        # Python built without ssl has none
        class HTTPSHandler(urllib_request.HTTPSHandler):
            def https_open(self, req):
                return self.do_open(tracked(http.client.HTTPSConnection), req, context=self._context)

        handlers.append(HTTPSHandler())
    return handlers
