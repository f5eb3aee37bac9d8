"""Registries of extension points, filled by built-ins and by plugins alike.

A built-in check registers with ``@register_check("drift")`` exactly as a
third-party package would; a package may also register through the entry-point
group named by its registry (``loopwatch.checks``), loaded on first use.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Generic, TypeVar

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Named factories of one kind of extension.

    Examples
    --------
    >>> sinks: Registry[type] = Registry("sink", group="loopwatch.doctest-sinks")
    >>> @sinks.register("stdout")
    ... class Stdout: ...
    >>> sinks.get("stdout").__name__
    'Stdout'
    >>> sinks.get("stdot")
    Traceback (most recent call last):
    ...
    ValueError: unknown sink 'stdot'; did you mean 'stdout'? Known: stdout
    """

    def __init__(self, kind: str, *, group: str) -> None:
        self.kind = kind
        self.group = group
        self._items: dict[str, T] = {}
        self._loaded = False

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: register ``item`` under ``name`` (a name is registered once)."""
        def decorate(item: T) -> T:
            if name in self._items and self._items[name] is not item:
                raise ValueError(f"a {self.kind} named {name!r} is already registered")
            self._items[name] = item
            return item
        return decorate

    def unregister(self, name: str) -> None:
        """Remove ``name`` (a test's temporary registration); a ``KeyError`` if it is not there."""
        if name not in self._items:
            raise KeyError(f"no {self.kind} named {name!r} is registered")
        del self._items[name]

    def get(self, name: str) -> T:
        """The item registered as ``name``; a ``ValueError`` naming the known ones otherwise."""
        self._load()
        if name not in self._items:
            close = difflib.get_close_matches(name, list(self._items), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ";"
            raise ValueError(f"unknown {self.kind} {name!r}{hint} Known: {', '.join(sorted(self._items))}")
        return self._items[name]

    def names(self) -> list[str]:
        """Registered names, in order of registration."""
        self._load()
        return list(self._items)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for entry in entry_points(group=self.group):
            self.register(entry.name)(entry.load())
