"""The http-kv trigger backend: the REST shape of Cloudflare Workers KV (DESIGN §4, §9).

    PUT    <url>/values/<key>                  queue a request (alive trigger, alive serve)
    GET    <url>/keys?prefix=<p>[&cursor=<c>]  {"success": true, "result": [{"name": ...}],
                                               "result_info": {"cursor": "..."}}; no cursor ends it
    GET    <url>/values/<key>                  a request's value (404: gone)
    DELETE <url>/values/<key>                  done with it (404: already gone)

A request is the key `<prefix><source>:<id>`; alive puts the same small JSON value as a
spool file in it, but the key alone is the request (other_source_in). Keys go into paths
URL-encoded whole, so no character of a key can change the path.

The token comes from the variable named by token_env at each call and only ever goes into
the Authorization header; every message this module makes is scrubbed of it anyway, and
redirects are not followed (urllib would carry the header to wherever they point).
urllib is imported inside the functions: a command on the spool backend never loads it.
"""
import json
import os

from alive.base.errors import UsageError
from alive.base.timeutil import format_iso

TIMEOUT_S = 10          # per HTTP request, all of it; `alive trigger(s) --timeout` overrides it
MAX_PAGES = 100         # of a key listing (1,000 keys a page at Cloudflare): a bound, not a goal
MAX_BODY = 1 << 20      # of any answer we read
MAX_RETRY_AFTER_S = 600


class KvError(OSError):
    """The KV store did not do what was asked. `transient`: 429, 5xx, a timeout or no
    connection (back off, try at the next poll); otherwise it said no (401, 404 on a list).
    An OSError, so `alive serve`'s enqueue path reports it as a queue it cannot write to."""

    def __init__(self, text, transient=True, retry_after=None):
        super().__init__(text)
        self.text, self.transient, self.retry_after = text, transient, retry_after

    def __str__(self):
        return self.text


def token(cfg):
    """The bearer token, or None when no token_env is configured. A configured variable
    that is empty is bad config (exit 3): every request would be refused."""
    if not cfg.token_env:
        return None
    value = (os.environ.get(cfg.token_env) or "").strip()
    if not value:
        raise UsageError(f"triggers.http_kv.token_env names ${cfg.token_env}, which is empty or not set")
    if not (value.isascii() and value.isprintable()) or " " in value:
        raise UsageError(f"${cfg.token_env} holds characters that cannot go in an HTTP header")
    return value


def key_for(cfg, source, request_id):
    return f"{cfg.prefix}{source}:{request_id}"


def value_url(cfg, key):
    from urllib.parse import quote

    return f"{cfg.url.rstrip('/')}/values/{quote(key, safe='')}"


def _no_redirects(urllib_request):
    class NoRedirect(urllib_request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    return NoRedirect


def request(cfg, secret, method, url, body=None, timeout=TIMEOUT_S, missing_ok=False):
    """One HTTP exchange -> the answer's body (bytes), or None for a 404 when missing_ok.
    Raises KvError with one scrubbed line for anything else."""
    import http.client
    import io
    import urllib.error
    import urllib.request

    from alive.notify import outgoing

    headers = {"Accept": "application/json"}
    if secret:
        headers["Authorization"] = f"Bearer {secret}"
    if body is not None:
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=body, headers=headers, method=method)
    what = f"{method} {_shown_url(cfg, url)}"
    try:
        # `timeout` is the deadline of the whole request, not of each read (outgoing).
        answer = outgoing.exchange(req, timeout, limit=MAX_BODY, handlers=[_no_redirects(urllib.request)])
    except (TimeoutError, OSError, http.client.HTTPException, ValueError) as exc:
        raise _network_error(cfg, secret, what, exc, timeout) from None
    if answer.status < 300:
        return answer.body
    if answer.status == 404 and missing_ok:
        return None
    exc = urllib.error.HTTPError(url, answer.status, "", answer.headers, io.BytesIO(answer.body))
    raise _http_error(cfg, secret, what, exc) from None


def _shown_url(cfg, url):
    """The URL as said in messages: the part after the configured base, so a line stays short."""
    base = cfg.url.rstrip("/")
    return url[len(base):] if url.startswith(base) else url


def _http_error(cfg, secret, what, exc):
    detail = _error_detail(exc)
    if exc.code == 429:
        wait = _retry_after(exc.headers.get("Retry-After") if exc.headers else None)
        return KvError(scrub(f"{what}: HTTP 429 (rate limited){detail}", secret), True, wait)
    if exc.code >= 500:
        return KvError(scrub(f"{what}: HTTP {exc.code} (server trouble){detail}", secret), True)
    if exc.code in (401, 403):
        where = f"${cfg.token_env}" if cfg.token_env else "no token (set triggers.http_kv.token_env)"
        return KvError(scrub(f"{what}: HTTP {exc.code}: the token was refused ({where}){detail}", secret), False)
    if 300 <= exc.code < 400:
        return KvError(scrub(f"{what}: HTTP {exc.code}: redirected, not followed; set triggers.http_kv.url "
                             f"to the final address", secret), False)
    return KvError(scrub(f"{what}: HTTP {exc.code}{detail}", secret), False)


def _network_error(cfg, secret, what, exc, timeout):
    from urllib.parse import urlsplit

    reason = getattr(exc, "reason", None) or exc
    if isinstance(reason, TimeoutError) or "timed out" in str(reason):
        text = f"{what}: no answer within {timeout}s"
    else:
        host = urlsplit(cfg.url).hostname or cfg.url
        text = f"{what}: cannot reach {host}: {getattr(reason, 'strerror', None) or reason}"
    return KvError(scrub(text, secret), True)


def _error_detail(exc):
    """The first words of an error answer (Cloudflare's errors[].message when it is JSON)."""
    try:
        raw = exc.read(2000)
    except Exception:  # the body of an error answer is a courtesy; failing to read it is not ours
        return ""
    try:
        errors = json.loads(raw).get("errors") or []
        text = "; ".join(str(e.get("message", e)) for e in errors if isinstance(e, dict))
    except (ValueError, AttributeError, RecursionError):
        text = raw.decode("utf-8", "replace")
    text = " ".join(text.split())[:200]
    return f": {text}" if text else ""


def _retry_after(value):
    try:
        return min(max(int(value), 0), MAX_RETRY_AFTER_S)
    except (TypeError, ValueError):
        return None


def scrub(text, secret):
    from alive.notify.message import scrub as scrub_secrets

    return scrub_secrets(text, [secret] if secret else [])


# ---------------------------------------------------------------- the four operations

def list_keys(cfg, secret, timeout=TIMEOUT_S):
    """Every key under the prefix, across pages (following result_info.cursor), in the
    order given. A cursor seen twice, or more than MAX_PAGES pages, stops the listing."""
    from urllib.parse import urlencode

    names, cursor, seen = [], None, set()
    for _ in range(MAX_PAGES):
        query = {"prefix": cfg.prefix} | ({"cursor": cursor} if cursor else {})
        raw = request(cfg, secret, "GET", f"{cfg.url.rstrip('/')}/keys?{urlencode(query)}", timeout=timeout)
        page, cursor = _parse_page(raw, secret)
        names += [n for n in page if n.startswith(cfg.prefix)]   # a server that ignores prefix: not ours
        if not cursor or cursor in seen:
            break
        seen.add(cursor)
    return names


def _parse_page(raw, secret):
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        doc = None
    if not isinstance(doc, dict) or doc.get("success") is not True or not isinstance(doc.get("result"), list):
        errors = doc.get("errors") if isinstance(doc, dict) else None
        why = f": {scrub(json.dumps(errors)[:200], secret)}" if errors else ""
        raise KvError(f"the key listing is not a Workers KV answer{why}", transient=True)
    names = [k["name"] for k in doc["result"] if isinstance(k, dict) and isinstance(k.get("name"), str)]
    info = doc.get("result_info")
    cursor = info.get("cursor") if isinstance(info, dict) else None
    return names, cursor if isinstance(cursor, str) else None


def get_value(cfg, secret, key, timeout=TIMEOUT_S):
    """The value's bytes, or None when the key is gone."""
    return request(cfg, secret, "GET", value_url(cfg, key), timeout=timeout, missing_ok=True)


def other_source_in(raw, source):
    """The source a request's value names when it is not `source`, else None. The key is
    the request (DESIGN §9): any Worker may post one whose value is empty, `{}`, a timestamp
    or any text; only alive's own JSON naming another source contradicts its key."""
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    named = doc.get("source") if isinstance(doc, dict) else None
    return named if isinstance(named, str) and named != source else None


def put_value(cfg, secret, key, data, timeout=TIMEOUT_S):
    request(cfg, secret, "PUT", value_url(cfg, key), body=data, timeout=timeout)


def delete_key(cfg, secret, key, timeout=TIMEOUT_S):
    """Remove a key; one that is already gone is just as removed."""
    request(cfg, secret, "DELETE", value_url(cfg, key), timeout=timeout, missing_ok=True)


# ---------------------------------------------------------------- queueing a request

class Queued:
    """What enqueue returns for a key: like the spool's Path, it has a .name to show."""

    def __init__(self, name):
        self.name = name


def enqueue(reg, source, origin, now, timeout=TIMEOUT_S):
    """PUT one request for a (registered: the caller checked) source -> Queued(key)."""
    cfg = reg.triggers.http_kv
    request_id = f"{now.strftime('%Y%m%dT%H%M%SZ')}.{os.urandom(6).hex()}"
    doc = {"source": source, "requested_at": format_iso(now), "origin": str(origin), "id": request_id}
    key = key_for(cfg, source, request_id)
    put_value(cfg, token(cfg), key, json.dumps(doc, ensure_ascii=False).encode("utf-8"), timeout)
    return Queued(key)
