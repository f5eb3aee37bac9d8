"""Stable randomized assignment of decisions to holdout and canary, by a hash of an id.

A decision's position ``u`` in [0, 1) is the first 8 bytes of SHA-256 of
``salt:key`` read as an integer over 2^64: the same key always lands in the same
place (a retried request, or every decision of one customer when the key is a
customer id), and positions are uniform, so a share ``p`` of keys falls below ``p``.
Holdout takes ``[0, holdout)``, canary ``[holdout, holdout + canary)``; the two never
overlap, and growing a share keeps every key already assigned.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

__all__ = ["Assignment", "assign", "position"]

Arm = Literal["model", "holdout", "canary"]


def position(key: str, *, salt: str) -> float:
    """The key's stable position in [0, 1).

    Examples
    --------
    >>> position("customer-17", salt="q1") == position("customer-17", salt="q1")
    True
    >>> 0 <= position("customer-17", salt="q1") < 1
    True
    """
    digest = hashlib.sha256(f"{salt}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0 ** 64


@dataclass(frozen=True, slots=True)
class Assignment:
    """Which arm a decision is in and the probability of that assignment."""

    arm: Arm
    holdout_probability: float


def assign(key: str, *, salt: str, holdout: float, canary: float) -> Assignment:
    """The arm of the decision keyed ``key``.

    Examples
    --------
    >>> assign("d-1", salt="s", holdout=0.0, canary=0.0)
    Assignment(arm='model', holdout_probability=0.0)
    """
    if holdout == 0.0 and canary == 0.0:
        return Assignment("model", 0.0)
    u = position(key, salt=salt)
    if u < holdout:
        return Assignment("holdout", holdout)
    if u < holdout + canary:
        return Assignment("canary", holdout)
    return Assignment("model", holdout)
