"""What the app knows and decides, as plain Python objects: no Qt here.

The live model and the guesses (:mod:`.live`), a training run from the form to its outcome
(:mod:`.run`), and the application state that decides what the window shows (:mod:`.app_state`).
A test can drive all of it without a display; the window only shows it and passes on what the user asks.
"""
