"""``mnist-draw --self-test``: the real window driven with real mouse events, as a user would."""
