"""Cross-origin reads (CORS): what other origins' scripts may read, and the preflight for everything else.

Two kinds of cross-origin caller, two rules:

- **Public reads, open to every origin.** An embed framed with ``<iframe sandbox="allow-scripts">`` (no
  ``allow-same-origin``, as some course platforms frame third-party content) runs in an opaque origin: each of its
  requests, even to this server, is cross-origin with ``Origin: null``, and module scripts (``<script type="module">``,
  ``import()``, ``modulepreload``) are always fetched in CORS mode, so without ``Access-Control-Allow-Origin`` it
  draws nothing. Every sandboxed document on the web has the origin ``null``, so "readable by sandboxed embeds" is
  "readable by everyone": ``GET`` and ``HEAD`` under :data:`PUBLIC_PREFIXES` (assets, plotly.js, the saved results,
  the API's reads) answer ``Access-Control-Allow-Origin: *``, whatever the setting. They hold nothing private: the app
  has no cookies, no accounts and no credentials of any kind, and ``*`` is never honoured for a credentialed request.
- **Everything else, only for the origins the operator lists** (``Settings.cors_origins``, ``LANES_CORS_ORIGINS``):
  empty (the default) allows none, ``*`` any, or a space-separated list of origins, each echoed back with
  ``Vary: Origin``. That is what a course page's own scripts need for ``POST /api/v1/kernels`` and ``/predictions``
  (JSON bodies: the browser sends a preflight ``OPTIONS`` first) and for reads with headers of their own. A preflight
  from an allowed origin for an allowed method and headers gets 204 and is cached by the browser for
  :data:`MAX_AGE` seconds; any other preflight gets 403 saying why. An ``OPTIONS`` that is not a preflight
  (no ``Origin`` or no ``Access-Control-Request-Method``) goes on to the routes, which answer 405 with ``Allow``.

Every allowed response also exposes ``Retry-After`` (a 503's advice) and ``ETag`` to the caller's script.
"""

from __future__ import annotations

from fastapi.responses import JSONResponse, Response
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PUBLIC_PREFIXES = ("/static/", "/vendor/", "/data/", "/api/v1/")  # GET/HEAD here: readable by any origin
PUBLIC_METHODS = frozenset({"GET", "HEAD"})
ALLOWED_METHODS = ("GET", "HEAD", "POST")  # every method the app answers, for the listed origins
ALLOWED_HEADERS = ("Accept", "Content-Type")  # request headers a listed origin's script may send (preflighted)
EXPOSED_HEADERS = "ETag, Retry-After"  # response headers its script may read beyond the safelisted ones
MAX_AGE = 7200  # seconds a browser keeps a preflight's answer (Chromium's cap; Firefox allows a day)


def is_public(method: str, path: str) -> bool:
    """Whether any origin, ``null`` included, may read the answer to ``method path`` (module docstring)."""
    return method in PUBLIC_METHODS and path.startswith(PUBLIC_PREFIXES)


class CorsMiddleware:
    """Add the CORS headers to every response and answer preflights, by the rules of this module's docstring.

    ``origins``: ``Settings.cors_origins`` as validated there: ``""``, ``"*"``, or space-separated origins.
    """

    def __init__(self, app: ASGIApp, origins: str) -> None:
        self.app = app
        self.any = origins == "*"
        self.listed = frozenset(origins.split()) - {"*"}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Headers(scope=scope)
        origin = request.get("origin")
        if scope["method"] == "OPTIONS" and origin is not None and "access-control-request-method" in request:
            await self._preflight(origin, request)(scope, receive, send)
            return
        public = is_public(scope["method"], scope["path"])

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._allow(MutableHeaders(scope=message), origin, public)
            await send(message)

        await self.app(scope, receive, with_cors)

    def _allow(self, response: MutableHeaders, origin: str | None, public: bool) -> None:
        """Allow the response to be read by ``origin``'s script if the rules say so."""
        if public or self.any:
            allowed = "*"
        else:
            if self.listed:  # the answer depends on the Origin: a shared cache must keep one per origin
                response.add_vary_header("Origin")
            if origin not in self.listed:
                return
            allowed = origin
        response["Access-Control-Allow-Origin"] = allowed
        response["Access-Control-Expose-Headers"] = EXPOSED_HEADERS

    def _preflight(self, origin: str, request: Headers) -> Response:
        """204 with the permissions for an allowed origin, method and headers; otherwise 403 saying which is not."""
        method = request["access-control-request-method"].strip()
        headers = [h.strip() for h in request.get("access-control-request-headers", "").split(",") if h.strip()]
        refused_headers = [h for h in headers if h.lower() not in {a.lower() for a in ALLOWED_HEADERS}]
        if not (self.any or origin in self.listed):
            problem = (f"scripts on {origin} may not call this server across origins beyond its public reads "
                       "(the server's LANES_CORS_ORIGINS does not list that origin)")
        elif method not in ALLOWED_METHODS:
            problem = f"cross-origin {method} is not allowed: only {', '.join(ALLOWED_METHODS)}"
        elif refused_headers:
            problem = (f"cross-origin requests may not send {', '.join(refused_headers)}: "
                       f"only {', '.join(ALLOWED_HEADERS)} beyond the CORS-safelisted headers")
        else:
            response = Response(status_code=204, headers={
                "Access-Control-Allow-Origin": "*" if self.any else origin,
                "Access-Control-Allow-Methods": ", ".join(ALLOWED_METHODS),
                "Access-Control-Allow-Headers": ", ".join(ALLOWED_HEADERS),
                "Access-Control-Max-Age": str(MAX_AGE),
            })
            if not self.any:
                response.headers.add_vary_header("Origin")
            return response
        refusal = JSONResponse({"detail": problem}, status_code=403)
        refusal.headers.add_vary_header("Origin")
        return refusal
