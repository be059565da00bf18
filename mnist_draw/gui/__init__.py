"""The desktop app: draw a digit, watch the network read it live, train the network yourself.

This package is the only Qt code in the project. The window is split into parts that each do one
thing and talk through Qt signals:

* ``canvas`` keeps the strokes and paints them (undo, redo, resize, pictures dropped or pasted);
* ``classifier`` reads the canvas in a worker thread with its own copy of the model;
* ``prediction_view`` shows the guess, the ten probabilities and the 28x28 image the model sees;
* ``training`` runs a training run in another worker thread; ``trainer_panel`` and ``plot`` are its
  controls and its live loss and accuracy curves;
* ``main_window`` puts them together, ``settings`` remembers what should outlive the window, and
  ``app`` starts it all (``self_test`` drives the real window as a user would).

PyTorch is slow to import, so no module here imports it at import time: the window comes up first
and the classifier's thread imports PyTorch in the background.
"""
