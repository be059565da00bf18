"""The app's background work, as plain Python generators: no Qt here.

Each task takes the newest requests posted to it (a dict: what was posted under each key) and yields
what it has to say, one plain record at a time: the classifier's guesses (:mod:`.reading`), a training
run's progress and outcome (:mod:`.training`), a model's mistakes on MNIST (:mod:`.mistakes`). One Qt
class, :class:`mnist_draw.gui.workers.worker.Worker`, runs any of them in a thread of its own and
passes each record to the window; a test can run them directly, without a display.
"""
