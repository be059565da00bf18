"""The model, by concern: what to build and how to train it (``recipe``, no PyTorch), the network
(``network``), reading digits with it (``predict``) and model files (``files``)."""
