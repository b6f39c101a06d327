"""Where a value sits in a configuration file: the file and the dotted key path inside
it (watches[2].key), as every error of the typed reader (schema) names it."""

from __future__ import annotations

import json
import re

from cloud_sync.contract.errors import ConfigError

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


class Place:
    """Where a value sits: the file and the dotted key path inside it.

    A place inside another only remembers its parent and its key or index; the dotted
    path is spelled out when first asked for (for an error message), so marking the
    place of every value of a large roster costs next to nothing.
    """

    __slots__ = ("source", "_parent", "_step", "_path")

    def __init__(self, source: str, path: str = "") -> None:
        self.source = source
        self._parent: Place | None = None
        self._step: str | int = ""
        self._path: str | None = path

    @property
    def path(self) -> str:
        """The dotted key path, like watches[2].key ("" for the file itself)."""
        if self._path is None:
            self._path = self._spelled()
        return self._path

    def key(self, name: str) -> Place:
        """The place of key name inside this table."""
        return self._inside(name)

    def index(self, position: int) -> Place:
        """The place of item position inside this array."""
        return self._inside(position)

    def error(self, message: str) -> ConfigError:
        """A ConfigError for a value at this place."""
        return ConfigError(f"{self}: {message}")

    def _inside(self, step: str | int) -> Place:
        child = Place(self.source)
        child._parent, child._step, child._path = self, step, None
        return child

    def _spelled(self) -> str:
        above = self._parent.path if self._parent is not None else ""
        if isinstance(self._step, int):
            return f"{above}[{self._step}]"
        name = self._step
        part = name if _BARE_KEY.fullmatch(name) else json.dumps(name, ensure_ascii=False)
        return f"{above}.{part}" if above else part

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Place):
            return NotImplemented
        return (self.source, self.path) == (other.source, other.path)

    def __hash__(self) -> int:
        return hash((self.source, self.path))

    def __repr__(self) -> str:
        return f"Place(source={self.source!r}, path={self.path!r})"

    def __str__(self) -> str:
        return f"{self.source}: {self.path}" if self.path else self.source
