"""The page's own files (``static/``) under versioned URLs, served from memory and cached for a year.

Templates link ``/static/<version>/css/site.css``: ``version`` is the first 12 hex digits of a
SHA-256 over every file's path and bytes, computed once per process, so changing any asset
changes every asset URL and a browser never keeps a stale one. ES modules import each other
relatively (``./api.js``), so they inherit the version of the page that loaded them.

- ``/static/<this version>/…`` → ``Cache-Control: public, max-age=31536000, immutable``.
- ``/static/<another version>/…`` (a page from an older or newer replica during a rolling
  deploy) → the current file with ``no-cache``: it still works, and nothing wrong is kept.
- ``/static/…`` without a version (old links) → the current file with ``no-cache``.

``static/`` is small (~90 KB), so every file is read once at startup with its gzip form and
ETag: a request costs a dictionary lookup, no disk access, no thread hop and no compression
(``benchmarks/load.py``: this doubled the rate of the page-and-assets mix).
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

import anyio.to_thread
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send

from app.serving.cache import CachedBody
from app.serving.responses import cached_response

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
VERSION_PATTERN = re.compile(r"[0-9a-f]{12}")


def read_tree(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory``: its path relative to it (``js/main.js``) → its bytes, in name order."""
    return {path.relative_to(directory).as_posix(): path.read_bytes()
            for path in sorted(p for p in directory.rglob("*") if p.is_file())}


def tree_version(files: Mapping[str, bytes]) -> str:
    """12 hex digits that change whenever any of ``files`` (a name or its bytes) changes."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name] + b"\0")
    return digest.hexdigest()[:12]


def media_type(path: Path) -> str:
    guessed = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return "text/javascript" if path.suffix in (".js", ".mjs") else guessed


class AssetFiles:
    """ASGI app for ``static/`` mounted at ``/static``: strips a leading ``<version>/``, sets Cache-Control by it."""

    def __init__(self, files: Mapping[str, bytes], version: str) -> None:
        """``files``: :func:`read_tree` of the folder; ``version``: :func:`tree_version` of the same files."""
        self.version = version
        self.files = {name: (CachedBody.of(body), media_type(Path(name))) for name, body in files.items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not await _http_get_or_head(scope, receive, send):
            return
        name = _mounted_name(scope)
        first, separator, rest = name.partition("/")
        versioned = bool(separator) and VERSION_PATTERN.fullmatch(first) is not None
        found = self.files.get(rest if versioned else name)
        if found is None:
            await _not_found(scope, receive, send)
            return
        entry, kind = found
        cache_control = IMMUTABLE if versioned and first == self.version else REVALIDATE
        await cached_response(Headers(scope=scope), entry, kind, cache_control)(scope, receive, send)


SAVED_FILES_KEPT = 16  # saved-result files kept in memory per worker (~0.1–1 MB each, plus gzip)


class SavedFiles:
    """ASGI app for the saved results at ``/data/`` (an export's ``data/``: megabytes, rarely read).

    A file is read and gzipped on its first request and kept in a small LRU (``SAVED_FILES_KEPT``
    files per worker); always ``no-cache``, revalidated by ETag. Names outside the folder are 404.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory.resolve()
        self._load = lru_cache(maxsize=SAVED_FILES_KEPT)(self._read)

    def _read(self, name: str) -> CachedBody | None:
        try:
            path = (self.directory / name).resolve()
            if not path.is_relative_to(self.directory) or not path.is_file():
                return None
            return CachedBody.of(path.read_bytes())
        except (OSError, ValueError):  # unreadable, or a name no file system accepts (NUL bytes)
            return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not await _http_get_or_head(scope, receive, send):
            return
        name = _mounted_name(scope)
        entry = await anyio.to_thread.run_sync(self._load, name)
        if entry is None:
            await _not_found(scope, receive, send)
            return
        await cached_response(Headers(scope=scope), entry, media_type(Path(name)), REVALIDATE)(scope, receive, send)


def _mounted_name(scope: Scope) -> str:
    """The request's path below the mount point (``/static/abc/js/main.js`` → ``abc/js/main.js``)."""
    return str(scope["path"]).removeprefix(scope.get("root_path", "")).lstrip("/")


async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
    await JSONResponse({"detail": "Not Found"}, 404)(scope, receive, send)


async def _http_get_or_head(scope: Scope, receive: Receive, send: Send) -> bool:
    """True for a GET or HEAD; anything else is answered here (405, or a closed WebSocket)."""
    if scope["type"] != "http":
        await send({"type": "websocket.close", "code": 1008})
        return False
    if scope["method"] not in ("GET", "HEAD"):
        await JSONResponse({"detail": "Method Not Allowed"}, 405, {"Allow": "GET, HEAD"})(scope, receive, send)
        return False
    return True
