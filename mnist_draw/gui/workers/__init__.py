"""The one worker pattern: :class:`.worker.Worker` runs a task (a plain generator, see
:mod:`mnist_draw.gui.tasks`) in a thread of its own and hands what it yields to the GUI thread."""
