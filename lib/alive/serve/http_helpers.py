"""The plumbing of one HTTP request, whatever its route: reading it under one deadline,
the Host check, conditional requests (ETag), gzip, and the query and form values."""
import functools
import gzip
import io
import time

MAX_BODY = 16 * 1024
SOCKET_TIMEOUT_S = 10           # one read, or one write of the answer
REQUEST_DEADLINE_S = 10         # the whole request, headers and body
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


def accepts_gzip(header):
    """Accept-Encoding (RFC 9110 12.5.3): gzip (or x-gzip, or else *) with a q-value above 0."""
    q = {}
    for part in (header or "").split(","):
        coding, _, params = part.strip().partition(";")
        weight = params.strip().lower().removeprefix("q=") if params.strip() else "1"
        try:
            q[coding.strip().lower()] = float(weight)
        except ValueError:
            q[coding.strip().lower()] = 0.0
    return q.get("gzip", q.get("x-gzip", q.get("*", 0.0))) > 0


@functools.lru_cache(maxsize=8)
def gzipped(data):
    """The snapshot's page is the same bytes for every client within CACHE_S: compressed once."""
    return gzip.compress(data, compresslevel=6, mtime=0)


def etag_matches(header, etag):
    """If-None-Match (weak comparison, RFC 9110 13.1.2): any listed tag, W/ or not, or *."""
    if header is None:
        return False
    bare = etag.removeprefix("W/")
    return any(tag.strip() == "*" or tag.strip().removeprefix("W/") == bare for tag in header.split(","))


def host_allowed(app, host_header):
    if app.remote or host_header is None:
        return True
    host = host_header.strip().lower()
    if host.startswith("["):                    # [::1]:8765
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    return host in LOOPBACK_NAMES


class DeadlineReader(io.RawIOBase):
    """A request's bytes under one deadline for the whole request: each read waits at most
    what is left of it, so a client that drips a byte every 2 s, never letting a single
    read time out, is cut off at the deadline all the same."""

    def __init__(self, sock):
        self.sock = sock
        self.deadline = time.monotonic() + REQUEST_DEADLINE_S

    def readable(self):
        return True

    def readinto(self, buffer):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"the request took longer than {REQUEST_DEADLINE_S} s")
        self.sock.settimeout(min(SOCKET_TIMEOUT_S, left))
        return self.sock.recv_into(buffer)


def wants_page(headers):
    """A browser's navigation (a form it submits) asks for text/html; curl and scripts do not."""
    return "text/html" in (headers.get("Accept") or "") or headers.get("Sec-Fetch-Mode") == "navigate"


def filtered(tag):
    """'?tag=<tag>' for the way back to a filtered page ('' for none); the tag quoted whole."""
    from urllib.parse import quote

    return f"?tag={quote(tag[:100], safe='')}" if tag else ""


def query_value(target, name):
    """The value of ?name= in a request target, or None (at most one, at most 100 characters)."""
    from urllib.parse import parse_qs

    values = parse_qs(target.partition("?")[2], max_num_fields=10).get(name) if "?" in target else None
    return values[0][:100] if values else None


def is_loopback(bind):
    import ipaddress

    if bind.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(bind.strip("[]")).is_loopback
    except ValueError:
        return False
