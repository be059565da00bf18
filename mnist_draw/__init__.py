"""mnist-draw: draw a digit, watch a small neural network (an MLP) read it, and train it yourself.

The package is split so that the heavy, testable parts never need Qt:

* ``mnist_draw.preprocess`` turns any picture of a digit into the 28x28 form MNIST digits have;
* ``mnist_draw.model`` holds the recipes (``recipe``), the MLP (``network``), reading digits (``predict``)
  and model files (``files``);
* ``mnist_draw.paths`` knows where shipped resources and per-user files live;
* ``mnist_draw.gui`` is the only code that imports Qt, and only the entry point (``cli``) imports it.
"""

__version__ = "0.1.0"
