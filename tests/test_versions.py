"""The pure part of aliases: how a draw picks one of an alias's versions by weight."""

from __future__ import annotations

import random
from collections import Counter

from engine.versions import Route, pick_route


def routes(w1: int, w2: int) -> tuple[Route, Route]:
    return Route("arn:m:1", 1, w1), Route("arn:m:2", 2, w2)


def test_draws_below_the_first_weight_take_the_first_version() -> None:
    r = routes(80, 20)
    assert [pick_route(r, d).version for d in (0.0, 0.5, 0.7999, 0.8, 0.9999)] == [
        1, 1, 1, 2, 2]


def test_a_version_of_weight_zero_is_never_taken() -> None:
    assert {pick_route(routes(0, 100), d / 100).version for d in range(100)} == {2}
    assert {pick_route(routes(100, 0), d / 100).version for d in range(100)} == {1}
    assert pick_route((Route("arn:m:3", 3, 100),), 0.99).version == 3


def test_seeded_draws_split_by_weight() -> None:
    rng = random.Random(16)
    counts = Counter(pick_route(routes(90, 10), rng.random()).version for _ in range(10_000))
    assert 8_800 < counts[1] < 9_200 and counts[1] + counts[2] == 10_000
