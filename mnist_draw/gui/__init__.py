"""The desktop app: draw a digit, watch the network read it live, train the network yourself.

This package is the only Qt code in the project, and its folders show how it is split:

* ``state/`` — what the app knows and decides, as plain Python objects, no Qt: the live model and
  its guesses, a training run from the form to its outcome, personal samples being taught, and
  :class:`~.state.app_state.AppState`, which decides what goes live and what to say;
* ``tasks/`` — the background work as plain generators, no Qt: reading the drawing, a training run,
  finding a model's mistakes;
* ``workers/`` — the one Qt pattern that runs a task in a thread of its own and hands what it yields
  to the GUI thread;
* ``views/`` — widgets that draw what they are given and emit what the user asked for (the canvas,
  the guess, the trainer panel and its plot, the mistakes and inside tabs, the samples browser);
* ``main_window`` connects views, state and workers; ``settings`` remembers what outlives the window;
  ``app`` starts it all; ``selftest/`` drives the real window as a user would.

PyTorch is slow to import, so no module here imports it at import time: the window comes up first
and the classifier's thread imports PyTorch in the background.
"""
