"""PyInstaller runtime hook: turn cuDNN off in the frozen app, as soon as ``torch`` is imported.

The bundle leaves out cuDNN's kernel libraries (engines, heuristics, RNN/attention: ~0.8 GB; see the
spec), so PyInstaller's app must never pick a cuDNN kernel. With ``torch.backends.cudnn.enabled = False``
PyTorch uses its own CUDA kernels instead (for the small ``conv2d`` in the training augmentation, the
only op of this app that would otherwise go to cuDNN). ``torch`` itself is still imported lazily: this
hook only wraps its loader, so start-up does not pay for it.
"""

import importlib.abc
import sys


class _TorchLoader(importlib.abc.Loader):
    def __init__(self, inner):
        self._inner = inner

    def __getattr__(self, name):  # get_resource_reader, get_data, ... of PyInstaller's own loader
        return getattr(self._inner, name)

    def create_module(self, spec):
        return self._inner.create_module(spec)

    def exec_module(self, module):
        self._inner.exec_module(module)
        try:
            import torch.backends.cudnn

            torch.backends.cudnn.enabled = False
        except Exception:  # never stop the app for this
            pass


class _TorchFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname != "torch":
            return None
        sys.meta_path.remove(self)  # once: ask the finders after us
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            spec = find(fullname, path, target) if find else None
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _TorchLoader(spec.loader)
                return spec
        return None


sys.meta_path.insert(0, _TorchFinder())
