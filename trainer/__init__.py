"""The training engine: MNIST as tensors on the training device, augmentation, and the training loop.

It knows nothing of Qt. The desktop app drives it from a worker thread; ``mnist-train`` drives it from
the terminal; both see the same stream of events (one per batch, one per epoch).
"""
