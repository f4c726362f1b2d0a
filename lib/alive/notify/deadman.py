"""The dead man's switch outside: `[notify.deadman] url = "https://hc-ping.com/<uuid>"`.

alive runs on the machine it watches, so a machine that sleeps, dies or loses its network
cannot say so itself. Every `alive check` and `alive watchdog` run that completed GETs this
URL; an outside service (healthchecks.io, a self-hosted healthchecks, a `serve` of another
host's alive) pages when the GETs stop coming.

The ping is a side channel (DESIGN §8.5): it waits at most `timeout` (default 5s) for the
whole request (a trickling answer is cut off there too), never raises, never changes the
command's exit code, and a failure is one line on stderr. The URL itself is never printed
(a healthchecks ping URL is all it takes to ping that check): only its host is named.
urllib is imported only when a deadman is configured.
"""
import sys


def ping(reg, command):
    """GET the deadman URL, if one is configured. -> None when fine (or none configured),
    else the problem, which is also printed on stderr as one line."""
    deadman = reg.notify.deadman
    if deadman is None:
        return None
    problem = _get(deadman.url, deadman.timeout)
    if problem:
        print(f"alive {command}: the dead man's switch at {_host(deadman.url)} was not pinged: {problem}",
              file=sys.stderr, flush=True)
    return problem


def _get(url, timeout):
    """One GET, `timeout` being its whole deadline (outgoing.exchange), not a per-read one."""
    import urllib.request

    from alive.notify import outgoing

    request = urllib.request.Request(url, headers={"User-Agent": "alive deadman"}, method="GET")
    try:
        answer = outgoing.exchange(request, timeout, limit=4096)
    except outgoing.DeadlineExceeded as exc:
        return str(exc)
    except Exception as exc:  # a side channel never masks the run (refused, timeout, bad address, ...)
        reason = getattr(exc, "reason", None) or exc
        return f"{type(exc).__name__}: {reason}".replace(url, "[the url]")
    return f"HTTP {answer.status}" if answer.status >= 300 else None


def _host(url):
    from urllib.parse import urlsplit

    try:
        return urlsplit(url).hostname or "?"
    except ValueError:
        return "?"
