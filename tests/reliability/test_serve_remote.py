"""`alive serve --allow-remote`: nothing but /healthz without the token (issue 10, item 1).

A browser cannot send `Authorization: Bearer`, so a person (on a phone) logs in once with
the token at /login and gets an HttpOnly cookie derived from it; scripts send the bearer.
Before that, every route that shows or changes anything answers 401 and reveals nothing:
not the page, not its CSRF token, not /status.json, not which source names exist.
--allow-remote on a loopback bind (behind a reverse proxy) means the same.
"""
import re
import socket
import time

import pytest
from conftest import run_alive
from test_serve import FLEET, TOKEN, queued, request, serving

BEARER = {"Authorization": f"Bearer {TOKEN}"}
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def remote(home):
    (home / "fleet.toml").write_text(FLEET)
    with serving(home, "--allow-remote", env={"TEST_SERVE_TOKEN": TOKEN}) as s:
        yield s


def login(server, token=TOKEN):
    """POST /login -> (status, headers, body)."""
    from urllib.parse import quote

    return request(server, "POST", "/login", body=f"user=alive&token={quote(token)}")


def session_cookie(server):
    status, headers, _ = login(server)
    assert status == 303 and headers["Location"] == "/"
    return headers["Set-Cookie"].split(";")[0]          # "name=value"


def page_csrf(page):
    [token] = set(re.findall(r'<input type="hidden" name="csrf" value="([^"]+)">', page))
    return token


# ---- without the token: 401 everywhere but /healthz --------------------------------------

def test_without_the_token_no_route_shows_or_changes_anything(remote, home):
    for method, path in [("GET", "/"), ("HEAD", "/"), ("GET", "/status.json"), ("GET", "/?x=1"),
                         ("GET", "/nope"), ("POST", "/trigger/track"), ("POST", "/trigger/nope")]:
        status, headers, body = request(remote, method, path, body="" if method == "POST" else None)
        assert status == 401, (method, path, status)
        assert 'name="csrf"' not in body and "sales.eu" not in body and "track" not in body
        assert headers["WWW-Authenticate"].startswith("Bearer")
        assert "Set-Cookie" not in headers
    assert queued(home) == []
    assert request(remote, "GET", "/healthz")[::2] == (200, "ok\n")


def test_the_page_without_the_token_is_a_login_form_that_reveals_nothing(remote):
    status, headers, page = request(remote, "GET", "/")
    assert status == 401 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert '<form method="post" action="/login">' in page and 'type="password" name="token"' in page
    assert "GREEN" not in page and "RED" not in page and "YELLOW" not in page and TOKEN not in page
    assert request(remote, "GET", "/login")[0] == 200


@pytest.mark.parametrize("auth", [f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}", "Bearer", "",
                                  f"bearer  {TOKEN} extra"])
def test_a_wrong_or_malformed_authorization_is_401(remote, home, auth):
    assert request(remote, "GET", "/status.json", headers={"Authorization": auth})[0] == 401
    assert request(remote, "POST", "/trigger/track", body="", headers={"Authorization": auth})[0] == 401
    assert queued(home) == []


# ---- the bearer: scripts ------------------------------------------------------------------

def test_the_bearer_opens_every_route_and_queues_without_a_form(remote, home):
    status, _, page = request(remote, "GET", "/", headers=BEARER)
    assert status == 200 and 'data-item="source:track"' in page and TOKEN not in page
    assert request(remote, "GET", "/status.json", headers=BEARER)[0] == 200
    assert request(remote, "POST", "/trigger/nope", body="", headers=BEARER)[0] == 404
    assert request(remote, "POST", "/trigger/track", body="", headers=BEARER)[0] == 303
    assert len(queued(home)) == 1


def test_a_foreign_host_name_is_fine_behind_a_proxy_with_the_token(remote):
    headers = dict(BEARER, Host="dash.example.org")
    assert request(remote, "GET", "/status.json", headers=headers)[0] == 200
    assert request(remote, "GET", "/status.json", headers={"Host": "dash.example.org"})[0] == 401


# ---- the login form and its cookie: browsers ------------------------------------------------

def test_logging_in_sets_an_http_only_same_site_cookie_that_is_not_the_token(remote):
    status, headers, _ = login(remote)
    assert status == 303 and headers["Location"] == "/"
    cookie = headers["Set-Cookie"]
    attributes = [a.strip().lower() for a in cookie.split(";")[1:]]
    assert "httponly" in attributes and "samesite=lax" in attributes and "path=/" in attributes
    assert any(a.startswith("max-age=") and int(a.split("=")[1]) > 86400 for a in attributes)
    value = cookie.split(";")[0].partition("=")[2]
    assert len(value) >= 32 and TOKEN not in value


def test_the_cookie_opens_the_page_and_a_trigger_needs_it_and_the_form_token(remote, home):
    cookie = {"Cookie": session_cookie(remote)}
    status, _, page = request(remote, "GET", "/", headers=cookie)
    assert status == 200 and TOKEN not in page
    csrf = page_csrf(page)
    assert request(remote, "GET", "/status.json", headers=cookie)[0] == 200
    assert request(remote, "POST", "/trigger/track", body="", headers=cookie)[0] == 403          # no form token
    assert request(remote, "POST", "/trigger/track", body=f"csrf={csrf}")[0] == 401              # no cookie
    assert queued(home) == []
    status, headers, _ = request(remote, "POST", "/trigger/track", body=f"csrf={csrf}", headers=cookie)
    assert status == 303 and headers["Location"] == "/#trigger-track"
    assert len(queued(home)) == 1


def test_other_cookies_beside_it_and_forged_ones(remote):
    name, _, value = session_cookie(remote).partition("=")
    assert request(remote, "GET", "/", headers={"Cookie": f"theme=dark; {name}={value}; x=1"})[0] == 200
    for forged in [f"{name}={value[:-1]}", f"{name}={TOKEN}", f"{name}=", f"other={value}", f"{name}={value}x",
                   "=;;==", f"{name}=\"{value}\""]:
        assert request(remote, "GET", "/", headers={"Cookie": forged})[0] == 401, forged


def test_a_pasted_token_with_spaces_or_a_newline_around_it_logs_in(remote):
    assert login(remote, f"  {TOKEN}\n")[0] == 303


@pytest.mark.parametrize("given", ["wrong", TOKEN + "x", TOKEN[:-1], "", TOKEN[:8] + " " + TOKEN[8:]])
def test_a_wrong_login_is_403_with_the_form_again_and_no_cookie(remote, given):
    status, headers, page = login(remote, given)
    assert status == 403 and "Set-Cookie" not in headers
    assert 'name="token"' in page and "wrong token" in page and TOKEN not in page


def test_a_login_body_over_16_KiB_is_413(remote):
    assert request(remote, "POST", "/login", body="token=" + "x" * (16 * 1024))[0] == 413


def test_a_restart_keeps_the_browser_in_and_a_new_token_logs_it_out(home):
    (home / "fleet.toml").write_text(FLEET)
    with socket.socket() as probe:          # one port for the three servers, as a restart has
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    with serving(home, "--allow-remote", "--port", port, env={"TEST_SERVE_TOKEN": TOKEN}) as first:
        cookie = {"Cookie": session_cookie(first)}
        assert request(first, "GET", "/", headers=cookie)[0] == 200
    with serving(home, "--allow-remote", "--port", port, env={"TEST_SERVE_TOKEN": TOKEN}) as same:
        assert request(same, "GET", "/", headers=cookie)[0] == 200
    with serving(home, "--allow-remote", "--port", port, env={"TEST_SERVE_TOKEN": TOKEN + "-rotated"}) as rotated:
        assert request(rotated, "GET", "/", headers=cookie)[0] == 401


# ---- the token never reaches the log, the page or the JSON ----------------------------------------

def test_the_token_never_reaches_the_log_even_when_put_in_a_url(remote, home):
    cookie = {"Cookie": session_cookie(remote)}
    login(remote, "wrong-" + TOKEN)
    for path in [f"/?token={TOKEN}", f"/login?token={TOKEN}", f"/status.json?t={TOKEN}", f"/{TOKEN}"]:
        request(remote, "GET", path)
        request(remote, "GET", path, headers=cookie)
    for body in [request(remote, "GET", "/", headers=BEARER)[2], request(remote, "GET", "/status.json", headers=cookie)[2]]:
        assert TOKEN not in body
    log = (home.parent / "serve.log").read_text()
    assert log and TOKEN not in log and cookie["Cookie"].partition("=")[2] not in log
    assert "login refused" in log and "logged in" in log


# ---- starting it ------------------------------------------------------------------------------

def test_allow_remote_on_loopback_also_needs_a_long_enough_token(home):
    (home / "fleet.toml").write_text(FLEET)
    r = run_alive("serve", "--port", "0", "--allow-remote", home=home, timeout=20, env={"TEST_SERVE_TOKEN": ""})
    assert r.returncode == 3 and "$TEST_SERVE_TOKEN is empty" in r.stderr and r.stderr.count("\n") == 1
    r = run_alive("serve", "--port", "0", "--allow-remote", home=home, timeout=20, env={"TEST_SERVE_TOKEN": "short"})
    assert r.returncode == 3 and "at least 16 characters" in r.stderr and "short" not in r.stderr.replace(
        "at least 16 characters", "")
    assert r.stdout == ""


def test_loopback_without_allow_remote_still_needs_no_token(home):
    (home / "fleet.toml").write_text(FLEET)
    with serving(home) as local:
        status, _, page = request(local, "GET", "/")
        assert status == 200 and request(local, "GET", "/status.json")[0] == 200
        assert request(local, "POST", "/trigger/track", body=f"csrf={page_csrf(page)}")[0] == 303
        assert request(local, "GET", "/login")[0] == 404                    # no login where none is needed


# ---- failed logins are limited per client; a logout (issue 19, item 9) ----------------------------

def test_wrong_logins_are_limited_per_client_and_then_even_the_right_token_waits(remote, home):
    from alive.serve import login as serve_login   # `login()` is this file's helper

    started = time.monotonic()
    for n in range(serve_login.LOGIN_FAILURES_ALLOWED):
        assert login(remote, f"wrong-{n}")[0] == 403, n
    status, headers, body = login(remote, "wrong-again")
    assert status == 429 and int(headers["Retry-After"]) == serve_login.LOGIN_REFILL_S and "Set-Cookie" not in headers
    assert "Too many wrong tokens" in body and 'name="token"' not in body
    status, headers, _ = login(remote)                      # not even tried: a guesser learns nothing more
    assert status == 429 and "Set-Cookie" not in headers
    assert request(remote, "GET", "/", headers=BEARER)[0] == 200       # the bearer is not a login: not limited
    assert time.monotonic() - started < 10
    assert "login refused" in (home.parent / "serve.log").read_text()


def test_the_failed_login_budget_refills_one_every_minute_and_forgets_a_good_client():
    from alive.serve import login as serve_login   # `login()` is this file's helper

    limit = serve_login.FailedLogins()
    t0 = 1000.0
    for _ in range(serve_login.LOGIN_FAILURES_ALLOWED):
        assert limit.wait_s("10.0.0.1", t0) == 0
        limit.failed("10.0.0.1", t0)
    assert limit.wait_s("10.0.0.1", t0) == serve_login.LOGIN_REFILL_S
    assert limit.wait_s("10.0.0.2", t0) == 0                           # per client
    assert limit.wait_s("10.0.0.1", t0 + serve_login.LOGIN_REFILL_S - 1) == 1   # 1 s before
    assert limit.wait_s("10.0.0.1", t0 + serve_login.LOGIN_REFILL_S) == 0       # at: one more try
    limit.failed("10.0.0.1", t0 + serve_login.LOGIN_REFILL_S)
    assert limit.wait_s("10.0.0.1", t0 + serve_login.LOGIN_REFILL_S + 1) == serve_login.LOGIN_REFILL_S - 1
    limit.succeeded("10.0.0.1")
    assert limit.wait_s("10.0.0.1", t0 + serve_login.LOGIN_REFILL_S + 1) == 0
    for n in range(serve_login.LOGIN_CLIENTS_KEPT + 50):                     # a bounded memory, whatever the senders
        limit.failed(f"client-{n}", t0)
    assert len(limit.buckets) <= serve_login.LOGIN_CLIENTS_KEPT


@pytest.fixture
def proxied(home):
    (home / "fleet.toml").write_text(FLEET)
    with serving(home, "--allow-remote", "--behind-proxy", env={"TEST_SERVE_TOKEN": TOKEN}) as s:
        yield s


def test_behind_a_local_proxy_the_client_is_the_one_the_proxy_names(proxied):
    from alive.serve import login as serve_login   # `login()` is this file's helper

    remote = proxied
    limited = {"X-Forwarded-For": "203.0.113.7"}
    for n in range(serve_login.LOGIN_FAILURES_ALLOWED + 1):
        login_with(remote, f"wrong-{n}", limited)
    assert login_with(remote, TOKEN, limited)[0] == 429
    assert login_with(remote, TOKEN, {"X-Forwarded-For": "203.0.113.7, 198.51.100.9"})[0] == 303   # the proxy's word
    assert login(remote)[0] == 303                                     # another client


def test_without_behind_proxy_a_forwarded_for_changes_nothing(remote):
    # a local process that rotates X-Forwarded-For is still one client (issue 19 review, item 2)
    from alive.serve import login as serve_login   # `login()` is this file's helper

    for n in range(serve_login.LOGIN_FAILURES_ALLOWED):
        assert login_with(remote, f"wrong-{n}", {"X-Forwarded-For": f"203.0.113.{n}"})[0] == 403
    assert login_with(remote, TOKEN, {"X-Forwarded-For": "198.51.100.99"})[0] == 429


def test_behind_proxy_needs_allow_remote(home):
    (home / "fleet.toml").write_text(FLEET)
    out = run_alive("serve", "--port", "0", "--behind-proxy", home=home, timeout=20, env={"TEST_SERVE_TOKEN": TOKEN})
    assert out.returncode == 3 and "--behind-proxy needs --allow-remote" in out.stderr and "Traceback" not in out.stderr


def test_failed_logins_are_capped_overall_then_everyone_waits_out_the_minute():
    # a guesser with many addresses (or a proxy that names many) is still capped: at most
    # LOGIN_FAILURES_OVERALL wrong tokens a minute in all; the clock is the `now` given
    from alive.serve import login as serve_login   # `login()` is this file's helper

    limit = serve_login.FailedLogins()
    t0, cap, window = 5000.0, serve_login.LOGIN_FAILURES_OVERALL, serve_login.LOGIN_OVERALL_WINDOW_S
    for n in range(cap - 1):
        limit.failed(f"10.1.{n // 250}.{n % 250}", t0 + n * 0.1)
    assert limit.wait_s("192.0.2.1", t0 + 10) == 0                      # one before the cap: still open
    limit.failed("192.0.2.2", t0 + 10)                                  # at the cap
    assert limit.wait_s("192.0.2.1", t0 + 10) == window - 10            # everyone, for the rest of the minute
    assert limit.wait_s("192.0.2.1", t0 + window - 1) == 1              # 1 s before the minute ends
    assert limit.wait_s("192.0.2.1", t0 + window) == 0                  # at: a new minute
    assert limit.wait_s("192.0.2.1", t0 + window + 1) == 0              # after
    limit.failed("192.0.2.3", t0 + window + 1)                          # the new minute counts from one
    assert limit.wait_s("192.0.2.1", t0 + window + 1) == 0


def test_the_overall_cap_answers_429_to_every_client_even_with_the_right_token(proxied, home):
    from alive.serve import login as serve_login   # `login()` is this file's helper

    for n in range(serve_login.LOGIN_FAILURES_OVERALL):
        assert login_with(proxied, f"wrong-{n}", {"X-Forwarded-For": f"203.0.{n // 200}.{n % 200}"})[0] == 403, n
    status, headers, body = login_with(proxied, TOKEN, {"X-Forwarded-For": "198.51.100.1"})
    assert status == 429 and 0 < int(headers["Retry-After"]) <= serve_login.LOGIN_OVERALL_WINDOW_S
    assert "Set-Cookie" not in headers and "Too many wrong tokens" in body
    assert request(proxied, "GET", "/", headers=BEARER)[0] == 200      # a bearer is not a login


def login_with(server, token, headers):
    from urllib.parse import quote

    return request(server, "POST", "/login", body=f"token={quote(token)}", headers=headers)


def test_log_out_forgets_the_cookie_and_the_page_offers_it(remote):
    cookie = {"Cookie": session_cookie(remote)}
    page = request(remote, "GET", "/", headers=cookie)[2]
    assert '<form class="logout" method="post" action="/logout">' in page
    status, headers, _ = request(remote, "POST", "/logout", body="", headers=cookie)
    assert status == 303 and headers["Location"] == "/login"
    # the saved page goes too where the browser honours it (https, or http on loopback):
    # https://w3c.github.io/webappsec-clear-site-data/#header
    assert headers["Clear-Site-Data"] == '"cache", "storage"'
    name = cookie["Cookie"].partition("=")[0]
    gone = headers["Set-Cookie"]
    assert gone.startswith(f"{name}=;") and "Max-Age=0" in gone and "HttpOnly" in gone and "Path=/" in gone
    assert request(remote, "POST", "/logout", body="")[0] == 303          # without a cookie: the same, harmless
    assert request(remote, "GET", "/logout")[0] == 405


def test_no_logout_button_where_there_is_no_login(home):
    (home / "fleet.toml").write_text(FLEET)
    with serving(home) as local:
        assert 'action="/logout"' not in request(local, "GET", "/")[2]
