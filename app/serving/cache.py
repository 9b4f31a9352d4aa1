"""Finished response bodies kept in memory: each with its gzip form and an ETag, in an LRU bounded by count and bytes.

Shared by the API (computed results) and the web layer (pages, assets, plotly.js).
"""

from __future__ import annotations

import gzip
import hashlib
from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True)
class CachedBody:
    """A finished body, with its gzip form (None: sent as it is, like an event stream) and an ETag from its content.

    The ETag is weak (``W/"…"``) because the same tag names both encodings: equivalent content,
    different bytes, which is what weak validators are for (RFC 9110 §8.8.1).
    """

    body: bytes
    gzipped: bytes | None
    etag: str

    @classmethod
    def of(cls, body: bytes, level: int = 6, compress: bool = True) -> CachedBody:
        digest = hashlib.sha256(body).hexdigest()[:32]
        return cls(body, gzip.compress(body, compresslevel=level, mtime=0) if compress else None, f'W/"{digest}"')

    @property
    def size(self) -> int:
        return len(self.body) + len(self.gzipped or b"")


class ResponseCache:
    """LRU of :class:`CachedBody` bounded by entry count and total bytes.

    The bytes count everything held: bodies (both encodings), keys, and the aliases' names (a URL may be ~64 KB).
    Over the limit, the oldest aliases go first (they only save a parse), then the least recently used entries.
    """

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self._entries: OrderedDict[str, CachedBody] = OrderedDict()
        self._aliases: OrderedDict[str, str] = OrderedDict()  # another name (the raw URL) → key
        self._max_entries, self._max_bytes, self._bytes = max_entries, max_bytes, 0

    def get(self, key: str) -> CachedBody | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, key: str, body: bytes, compress: bool = True) -> CachedBody:
        """Keep ``body`` (and, if ``compress``, its gzip form) under ``key``; the entry, even if too large to keep."""
        entry = CachedBody.of(body, compress=compress)
        if key in self._entries:
            self._bytes -= self._entries.pop(key).size + len(key)
        if entry.size + len(key) <= self._max_bytes and self._max_entries > 0:
            self._entries[key] = entry
            self._bytes += entry.size + len(key)
        self._shrink()
        return entry

    def alias(self, name: str, key: str) -> None:
        """Let ``name`` find the entry of ``key`` too (bounded: at most 4 names per entry slot, and by bytes)."""
        if name in self._aliases:
            self._bytes -= len(name) + len(self._aliases.pop(name))
        self._aliases[name] = key
        self._bytes += len(name) + len(key)
        self._shrink()

    @property
    def nbytes(self) -> int:
        """Bytes held: bodies in both encodings, keys and alias names."""
        return self._bytes

    def _shrink(self) -> None:
        while self._aliases and (len(self._aliases) > 4 * self._max_entries or self._bytes > self._max_bytes):
            name, key = self._aliases.popitem(last=False)
            self._bytes -= len(name) + len(key)
        while len(self._entries) > self._max_entries or self._bytes > self._max_bytes:
            key, entry = self._entries.popitem(last=False)
            self._bytes -= entry.size + len(key)

    def by_alias(self, name: str) -> CachedBody | None:
        key = self._aliases.get(name)
        return None if key is None else self.get(key)

    def __len__(self) -> int:
        return len(self._entries)
