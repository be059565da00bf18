"""Undo and redo: what is shown now, the steps back to what came before, and the steps forward again.

Each step is a whole value (the canvas keeps a snapshot of its drawing, a tuple of strokes, so a step
costs little). A new value starts a new line of history: what could be redone is gone. Only the newest
``limit`` steps back are kept, so a long session's history stays small.
"""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class History(Generic[T]):
    def __init__(self, now: T, limit: int):
        if limit < 1:
            raise ValueError(f"a history keeps at least one step (got {limit})")
        self.now = now
        self.limit = limit
        self._back: list[T] = []
        self._forward: list[T] = []

    @property
    def can_undo(self) -> bool:
        return bool(self._back)

    @property
    def can_redo(self) -> bool:
        return bool(self._forward)

    def commit(self, value: T) -> None:
        """``value`` is shown now; the value before it is one undo away, and nothing is left to redo."""
        self._back.append(self.now)
        del self._back[:-self.limit]
        self._forward.clear()
        self.now = value

    def undo(self) -> bool:
        """Step back; False (and nothing changes) when there is nothing before."""
        return self._step(self._back, self._forward)

    def redo(self) -> bool:
        """Step forward again; False (and nothing changes) when nothing was undone since the last commit."""
        return self._step(self._forward, self._back)

    def _step(self, towards: list[T], away: list[T]) -> bool:
        if not towards:
            return False
        away.append(self.now)
        self.now = towards.pop()
        return True
