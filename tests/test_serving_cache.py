"""The response cache holds no more bytes than it is given, aliases (whole URLs, up to ~64 KB each) included."""

from __future__ import annotations

from app.serving.cache import ResponseCache


def _held(cache: ResponseCache) -> int:
    """Bytes the cache holds, counted from its contents, not from its own tally."""
    entries = sum(len(key) + entry.size for key, entry in cache._entries.items())
    return entries + sum(len(name) + len(key) for name, key in cache._aliases.items())


def test_long_aliases_count_against_the_byte_limit() -> None:
    cache = ResponseCache(max_entries=256, max_bytes=1_000_000)
    cache.put("drift:a", b"{}" * 1000)
    for k in range(1024):
        cache.alias("/api/v1/experiments/drift?" + f"{k:08d}" + "x" * 62_000, "drift:a")
    assert _held(cache) == cache.nbytes <= 1_000_000  # was ~63 MB of names beside a 1 MB limit
    assert cache.get("drift:a") is not None  # aliases go first: the result itself stays


def test_the_newest_alias_still_finds_its_entry() -> None:
    cache = ResponseCache(max_entries=4, max_bytes=200_000)
    cache.put("key", b"body")
    names = [f"/u{k}" + "x" * 30_000 for k in range(10)]
    for name in names:
        cache.alias(name, "key")
    assert cache.by_alias(names[-1]) is not None and cache.by_alias(names[0]) is None


def test_entries_and_aliases_are_tallied_exactly_through_replacements() -> None:
    cache = ResponseCache(max_entries=3, max_bytes=10_000)
    for k in range(20):
        cache.put(f"k{k % 5}", bytes(k * 100))
        cache.alias(f"/n{k % 7}", f"k{k % 5}")
        assert cache.nbytes == _held(cache) <= 10_000
