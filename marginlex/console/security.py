"""What keeps the console safe to expose: a token off loopback, a strict CSP, escaped text,
and two guards a browser cannot get round: without a token, only a loopback ``Host`` is
served (a page whose name was rebound to 127.0.0.1 reads nothing), and a form or script of
another site cannot post (``Origin`` or ``Sec-Fetch-Site`` names it).

Pages work without JavaScript; the one script, the workbench's ``workbench.js`` (check as
typed), is served by the console itself, so the policy allows scripts only from itself (no
inline script) and styles only from its own stylesheet.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Awaitable, Callable
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

LOOPBACK = "http://127.0.0.1"
"""The console's address on this machine, as a client gives it (Starlette's ``TestClient``
says ``testserver``, which a console without a token does not answer)."""
TOKEN_ENV = "MARGINLEX_TOKEN"
TOKEN_COOKIE = "marginlex_token"
TOKEN_HEADER = "x-marginlex-token"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    # No address leaves for another site; the console's own posts keep their Origin (under
    # no-referrer a browser sends "Origin: null" even to the same site).
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}


class StartError(ValueError):
    """The console refuses to start as configured."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine.

    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("::1")
    (True, True, True)
    >>> is_loopback("0.0.0.0"), is_loopback("example.org")
    (False, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def start_token(host: str, token: str | None) -> str | None:
    """The token the console will require (the option, else ``$MARGINLEX_TOKEN``).

    Raises:
        StartError: a host other than loopback without a token.
    """
    chosen = token or os.environ.get(TOKEN_ENV) or None
    if chosen is None and not is_loopback(host):
        raise StartError(
            f"refusing to serve on {host} without a token: anyone who can reach it would "
            f"read the ledger; pass --token or set ${TOKEN_ENV} (or serve on 127.0.0.1)"
        )
    return chosen


def _presented(request: Request) -> str | None:
    header = request.headers.get(TOKEN_HEADER)
    bearer = request.headers.get("authorization", "")
    if bearer.lower().startswith("bearer "):
        header = header or bearer[7:]
    return header or request.cookies.get(TOKEN_COOKIE)


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def token_guard(
    token: str | None,
) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    """Middleware: with a token, every request must carry it (header, cookie, or ``?token=``,
    which sets the cookie and redirects to the same address without it); headers on all."""

    async def guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await _checked(request, call_next, token)
        response.headers.update(HEADERS)
        return response

    return guard


_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_SAME_SITE = frozenset({"same-origin", "none"})  # ``Sec-Fetch-Site`` of the console's own


def host_name(authority: str) -> str:
    """The name of a ``Host`` header or an origin's authority, without its port.

    >>> host_name("127.0.0.1:8765"), host_name("[::1]:8765"), host_name("localhost")
    ('127.0.0.1', '::1', 'localhost')
    """
    if authority.startswith("["):
        return authority[1:].partition("]")[0]
    return authority.rpartition(":")[0] if authority.count(":") == 1 else authority


def cross_site(request: Request) -> bool:
    """Whether a request that changes something was sent by another site's page:
    ``Sec-Fetch-Site`` says so (every current browser sends it), or, from a browser without
    it, its ``Origin`` is not this console's address (its ``Host``, or the
    ``X-Forwarded-Host`` a proxy passes on; ``null`` is no address). A client that sends
    neither (curl, a script) is not a browser carrying someone else's page."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site not in _SAME_SITE
    origin = request.headers.get("origin")
    if origin is None:
        return False
    served = {request.headers.get("host"), request.headers.get("x-forwarded-host")}
    return origin.partition("://")[2] not in served - {None}


async def _checked(
    request: Request, call_next: Callable[[Request], Awaitable[Response]], token: str | None
) -> Response:
    if request.method in _UNSAFE and cross_site(request):
        return PlainTextResponse(
            "403: a page of another site cannot post to this console", status_code=403
        )
    if token is None:
        if not is_loopback(host_name(request.headers.get("host", ""))):
            return PlainTextResponse(
                "421: this console, served without a token, answers only to a loopback "
                "address (http://127.0.0.1:PORT or http://localhost:PORT)",
                status_code=421,
            )
        return await _served(request, call_next)
    offered = request.query_params.get("token")
    if offered is not None and _same(offered, token):
        rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
        target = _same_site_path(request) + (f"?{urlencode(rest)}" if rest else "")
        redirect = RedirectResponse(target, status_code=303)
        redirect.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
        return redirect
    presented = _presented(request)
    if presented is None or not _same(presented, token):
        return PlainTextResponse(
            "401: this console needs its token: open it with ?token=... once", status_code=401
        )
    return await _served(request, call_next)


def _same_site_path(request: Request) -> str:
    """The address's path as the browser sent it (still percent-encoded: an id holding
    ``%2F`` or ``%3F`` stays that id), with one leading slash: ``//evil.example/x`` would
    redirect off the site.

    >>> from starlette.requests import Request
    >>> _same_site_path(Request({"type": "http", "path": "//evil.example/x",
    ...     "raw_path": b"//evil.example/x", "query_string": b"", "headers": []}))
    '/evil.example/x'
    >>> _same_site_path(Request({"type": "http", "path": "/accounts/a/b?c",
    ...     "raw_path": b"/accounts/a%2Fb%3Fc", "query_string": b"", "headers": []}))
    '/accounts/a%2Fb%3Fc'
    """
    raw = request.scope.get("raw_path")
    path = raw.decode("latin-1") if isinstance(raw, bytes) else quote(request.url.path)
    return "/" + path.lstrip("/")


async def _served(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """The page, unless the address holds a NUL character: no id, name or filter has one
    (books and rulebooks refuse it), and PostgreSQL refuses it in any text it compares (a
    500 naming the query, before this)."""
    query = request.query_params.multi_items()
    if "\x00" in request.url.path or any("\x00" in k + v for k, v in query):
        return PlainTextResponse(
            "400: the address holds a NUL character (%00), which no id, name or filter holds",
            status_code=400,
        )
    return await call_next(request)
