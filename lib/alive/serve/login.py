"""Who is asking `alive serve`, and the login of --allow-remote: the bearer or the login
cookie (an HMAC of the token, never the token), the CSRF check of a trigger, the limit on
wrong tokens (FailedLogins), and the one page a stranger gets (the login form)."""
import hashlib
import hmac
import threading

from alive.report import html_kit

MIN_REMOTE_TOKEN_CHARS = 16     # the login form is open to the network: no guessable token
SESSION_MAX_AGE_S = 30 * 86400  # a phone stays logged in for a month
# Failed logins, per client, as a token bucket (healthchecks does the same for its password
# logins: hc/api/models.py TokenBucket.authorize_login_password, 20 a day per account): a
# person who mistypes has 10 tries at once and one more a minute; a guesser 1,440 a day.
LOGIN_FAILURES_ALLOWED = 10
LOGIN_REFILL_S = 60
LOGIN_CLIENTS_KEPT = 10_000     # the memory it takes is bounded, whoever sends
# And overall, whoever sends: a guesser with many addresses (or a proxy naming many) gets
# LOGIN_FAILURES_OVERALL wrong tokens a minute in all; then every login waits out that minute.
LOGIN_FAILURES_OVERALL = 100
LOGIN_OVERALL_WINDOW_S = 60
BEARER, COOKIE = "bearer", "cookie"


class FailedLogins:
    """Per client: a bucket of LOGIN_FAILURES_ALLOWED tries, each failure takes one, one
    comes back every LOGIN_REFILL_S; and LOGIN_FAILURES_OVERALL per LOGIN_OVERALL_WINDOW_S
    from all clients together. `now`: a monotonic time, given (tests pass their own)."""

    def __init__(self):
        self.buckets = {}               # client -> (tries left, as of when)
        self.window = (float("-inf"), 0)  # (when the minute began, failures in it), all clients
        self.lock = threading.Lock()

    def left(self, client, now):
        tries, since = self.buckets.get(client, (LOGIN_FAILURES_ALLOWED, now))
        return min(LOGIN_FAILURES_ALLOWED, tries + max(0.0, now - since) / LOGIN_REFILL_S)

    def wait_s(self, client, now):
        """0 when the client may try a token now, else the seconds until it may."""
        import math

        with self.lock:
            tries = self.left(client, now)
            began, failures = self.window
        overall = 0
        if failures >= LOGIN_FAILURES_OVERALL and now - began < LOGIN_OVERALL_WINDOW_S:
            overall = math.ceil(began + LOGIN_OVERALL_WINDOW_S - now - 1e-6)
        return max(overall, 0 if tries >= 1 else math.ceil((1 - tries) * LOGIN_REFILL_S - 1e-6))

    def failed(self, client, now):
        with self.lock:
            self.buckets[client] = (self.left(client, now) - 1, now)
            began, failures = self.window
            self.window = (began, failures + 1) if now - began < LOGIN_OVERALL_WINDOW_S else (now, 1)
            if len(self.buckets) > LOGIN_CLIENTS_KEPT:
                self.forget_some(now)

    def succeeded(self, client):
        with self.lock:
            self.buckets.pop(client, None)

    def forget_some(self, now):
        """The clients whose bucket is full again, then the oldest, down to the bound."""
        for client in [c for c in self.buckets if self.left(c, now) >= LOGIN_FAILURES_ALLOWED]:
            del self.buckets[client]
        while len(self.buckets) > LOGIN_CLIENTS_KEPT:
            del self.buckets[next(iter(self.buckets))]


def same(given, expected):
    """Constant time, whatever `given` holds."""
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


def session_value(token):
    """What the login cookie holds: derived from the token, never the token itself."""
    return hmac.new(token.encode("utf-8"), b"alive serve login cookie v1", hashlib.sha256).hexdigest()


def cookie_values(headers, name):
    for header in headers.get_all("Cookie") or []:
        for pair in header.split(";"):
            key, sep, value = pair.strip().partition("=")
            if sep and key == name:
                yield value


def who_is_asking(app, headers):
    """BEARER, COOKIE or None. A request that sends Authorization is judged by it alone."""
    auth = headers.get("Authorization")
    if auth is not None:
        scheme, _, given = auth.partition(" ")
        right = bool(app.token) and scheme.lower() == "bearer" and same(given.strip(), app.token)
        return BEARER if right else None
    if app.session and any(same(value, app.session) for value in cookie_values(headers, app.cookie_name)):
        return COOKIE
    return None


def form_field(body, name):
    from urllib.parse import parse_qs

    try:
        fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=20)
    except ValueError:
        return ""
    return fields.get(name, [""])[0]


def may_trigger(app, who, headers, body):
    """A bearer alone; else the page's CSRF token in the form (a wrong bearer is not rescued
    by a form). With --allow-remote a form reaches here only with the login cookie."""
    if who == BEARER:
        return True
    if headers.get("Authorization") is not None:
        return False
    given = form_field(body, "csrf")
    return bool(given) and same(given, app.csrf)


def login_page(app, problem=None):
    """The one page a stranger gets with --allow-remote: a form for the token, nothing of the fleet."""
    esc = html_kit.esc
    note = f'<p class="problem">{esc(problem)}</p>\n' if problem else ""
    where = f" (the value of ${esc(app.reg.serve.token_env)})" if app.reg.serve.token_env else ""
    return html_kit.page_start("alive · log in", LOGIN_CSS) + f"""
<h1>alive</h1>
<p>This dashboard needs the serve token{where}. You log in once per browser.</p>
{note}<form method="post" action="/login">
<input type="hidden" name="user" value="alive" autocomplete="username">
<label>Token <input type="password" name="token" autocomplete="current-password" required autofocus></label>
<button type="submit">Log in</button>
</form>
</body>
</html>
"""


def too_many_logins_page(wait):
    return html_kit.page_start("alive · log in", LOGIN_CSS) + f"""
<h1>alive</h1>
<p class="problem" role="alert">Too many wrong tokens: try again in {wait} s.</p>
<p><a href="/login">Back to the login form</a></p>
</body>
</html>
"""


LOGIN_CSS = """body{font:16px/1.45 system-ui,sans-serif;max-width:420px;margin:12vh auto;padding:0 16px}
input,button{font:inherit;width:100%;padding:10px;margin-top:8px;box-sizing:border-box}
button{font-weight:700;color:#fff;background:#0969da;border:0;border-radius:8px}.problem{color:#cf222e}"""
