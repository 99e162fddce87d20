"""Bounded hot-path caches: a full cache drops its oldest eighth, never all of it."""

from __future__ import annotations

import threading

from compliance.cel.memo import batch, evict_oldest, remember
from compliance.planner import Memo


def test_the_oldest_entry_goes() -> None:
    cache = {"a": 1, "b": 2, "c": 3}
    evict_oldest(cache)
    assert cache == {"b": 2, "c": 3}


def test_the_oldest_entries_go_in_one_walk() -> None:
    cache = {key: key for key in range(10)}
    evict_oldest(cache, 4)
    assert list(cache) == [4, 5, 6, 7, 8, 9]
    evict_oldest(cache, 100)  # more than it holds: it empties, nothing raises
    assert cache == {}


def test_a_full_cache_drops_its_oldest_eighth() -> None:
    """A full 64-entry cache loses its 8 oldest on the next insert, then has room for 7
    more before it drops again: most inserts into a full cache drop nothing."""
    cache: dict[int, int] = {}
    for key in range(64):
        remember(cache, key, key, 64)
    remember(cache, 64, 64, 64)
    assert batch(64) == 8
    assert list(cache) == list(range(8, 65))
    for key in range(65, 72):
        remember(cache, key, key, 64)
    assert len(cache) == 64
    assert min(cache) == 8
    remember(cache, 72, 72, 64)
    assert min(cache) == 16
    assert len(cache) == 57


def test_an_empty_cache_is_left_alone() -> None:
    cache: dict[str, int] = {}
    evict_oldest(cache)
    assert cache == {}


def test_remember_stays_within_its_limit_and_keeps_the_newest() -> None:
    cache: dict[int, str] = {}
    for key in range(5):
        remember(cache, key, str(key), 3)
    assert cache == {2: "2", 3: "3", 4: "4"}


def test_a_full_big_memo_keeps_all_but_its_oldest_eighth() -> None:
    memo: Memo[int, str] = Memo(size=16)
    for key in range(17):
        memo.put(key, str(key))
    assert sorted(memo) == list(range(2, 17))


def test_a_full_memo_keeps_all_but_its_oldest() -> None:
    memo: Memo[int, str] = Memo(size=3)
    for key in range(3):
        memo.put(key, str(key))
    assert memo.put(3, "3") == "3"
    assert sorted(memo) == [1, 2, 3]  # one key went, the others are still hits
    assert memo.put(2, "other") == "2"  # first writer wins


def test_concurrent_writers_stay_bounded_and_never_raise() -> None:
    memo: Memo[int, int] = Memo(size=16)
    plain: dict[int, int] = {}
    errors: list[BaseException] = []

    def write(offset: int) -> None:
        try:
            for i in range(2000):
                memo.put(offset + i, i)
                plain[offset + i] = i
                if len(plain) > 16:
                    evict_oldest(plain)
        except BaseException as exc:  # the test wants to see any of them
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n * 10_000,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(memo) <= 16
    assert len(plain) <= 16 + len(threads)
