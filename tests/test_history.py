"""Undo and redo as a plain object (mnist_draw.gui.state.history), without a display."""

import pytest

from mnist_draw.gui.state.history import History


def test_undo_and_redo_step_between_whole_values_and_a_new_value_drops_what_could_be_redone():
    h = History("", limit=10)
    assert not h.can_undo and not h.can_redo and not h.undo() and not h.redo() and h.now == ""
    for text in ("a", "ab", "abc"):
        h.commit(text)
    assert h.undo() and h.undo() and h.now == "a" and h.can_redo
    assert h.redo() and h.now == "ab"
    h.commit("ab!")  # a new line of history: "abc" can no longer be redone
    assert not h.can_redo and not h.redo() and h.now == "ab!"
    assert [h.undo() for _ in range(4)] == [True, True, True, False] and h.now == ""


def test_only_the_newest_steps_back_are_kept():
    h = History(0, limit=3)
    for n in range(1, 8):
        h.commit(n)
    undone = 0
    while h.undo():
        undone += 1
    assert undone == 3 and h.now == 4  # 7 -> 6 -> 5 -> 4: older steps were dropped
    while h.redo():
        pass
    assert h.now == 7
    with pytest.raises(ValueError, match="at least one step"):
        History(0, limit=0)
