"""The page's own files (``static/``) under versioned URLs, cached for a year.

Templates link ``/static/<version>/css/site.css``: ``version`` is the first 12 hex digits of a
SHA-256 over every file's path and bytes, computed once per process, so changing any asset
changes every asset URL and a browser never keeps a stale one. ES modules import each other
relatively (``./api.js``), so they inherit the version of the page that loaded them.

- ``/static/<this version>/…`` → ``Cache-Control: public, max-age=31536000, immutable``.
- ``/static/<another version>/…`` (a page from an older or newer replica during a rolling
  deploy) → the current file with ``no-cache``: it still works, and nothing wrong is kept.
- ``/static/…`` without a version (old links) → the current file with ``no-cache``
  (revalidated by ``ETag`` / ``Last-Modified``).
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from fastapi.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
VERSION_PATTERN = re.compile(r"[0-9a-f]{12}")


def tree_version(directory: Path) -> str:
    """12 hex digits that change whenever any file under ``directory`` (its name or its bytes) changes."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(path.relative_to(directory).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


class AssetFiles(StaticFiles):
    """``StaticFiles`` that strips a leading ``<version>/`` and sets Cache-Control by whether it is current.

    ``version=None``: files that are never versioned (the saved results at ``/data/``), always revalidated.
    """

    def __init__(self, directory: Path, version: str | None) -> None:
        super().__init__(directory=directory)
        self.version = version

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.config_checked:
            await self.check_config()
            self.config_checked = True
        path = self.get_path(scope)
        first, separator, rest = path.partition(os.sep)
        versioned = bool(separator) and self.version is not None and VERSION_PATTERN.fullmatch(first) is not None
        response = await self.get_response(rest if versioned else path, scope)
        if response.status_code in (200, 304):
            response.headers["Cache-Control"] = IMMUTABLE if versioned and first == self.version else REVALIDATE
        await response(scope, receive, send)
