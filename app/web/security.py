"""Security headers for every response: a strict Content-Security-Policy and its companions.

No inline script, no ``eval`` and no remote origin anywhere: scripts, styles, fonts and data
all come from this server. One concession, for plotly.js: ``style-src 'unsafe-inline'``. plotly
writes its own ``<style>`` rules and sets ``style`` attributes through d3's ``attr("style")``
(measured: ~20 CSP violations and unstyled charts without it). Inline *styles* cannot run code;
``script-src`` stays ``'self'`` only.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders

from app.serving.middleware import ResponseHeadersMiddleware


def content_security_policy(frame_ancestors: str = "'self'") -> str:
    """The policy for every page; ``frame_ancestors`` says who may frame it (embeds: from the settings)."""
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",  # plotly.js injects <style> rules and style attributes
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        f"frame-ancestors {frame_ancestors}",
    ])


HEADERS = {
    "Content-Security-Policy": content_security_policy(),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}


class SecurityHeadersMiddleware(ResponseHeadersMiddleware):
    """Add :data:`HEADERS` to every HTTP response that does not set them itself."""

    def edit(self, request: Headers, status: int, response: MutableHeaders) -> None:
        for name, value in HEADERS.items():
            if name not in response:
                response[name] = value
