"""Entry script of the PyInstaller bundle: the same ``main()`` as the installed ``mnist-draw``.

One addition for checking a build: with ``MNIST_DRAW_BUNDLE_CHECK=1`` in the environment the frozen app
prints a JSON report of what the bundle can load (torch, its CUDA state, cuDNN, torchvision's MNIST
reader, the shipped resources, the Qt plugins) and exits: 0 when every required piece loads.
``scripts/smoke-exe`` uses it; an installed ``mnist-draw`` never goes through this file.
"""

import os
import sys


def _bundle_check() -> int:
    import json

    report: dict = {"frozen": bool(getattr(sys, "frozen", False))}
    ok = True

    def attempt(name, fn, required=True):
        nonlocal ok
        try:
            report[name] = fn()
        except Exception as exc:  # report every failure, not just the first
            report[name] = f"FAILED: {type(exc).__name__}: {exc}"
            ok = ok and not required

    def torch_info():
        import torch

        return {"version": torch.__version__, "cuda_build": torch.version.cuda,
                "cuda_available": torch.cuda.is_available(),
                "matmul": float((torch.ones(2, 3) @ torch.ones(3, 2)).sum())}

    def cuda_reason():
        from mnist_draw.trainer.devices import cuda_unavailable_reason

        return cuda_unavailable_reason()

    def cudnn():
        import torch

        return {"available": torch.backends.cudnn.is_available(), "version": torch.backends.cudnn.version(),
                "enabled": torch.backends.cudnn.enabled}

    def cuda_libs():
        # Every CUDA library libtorch_cuda.so links to (already loaded by `import torch`, so this only
        # shows where they are), plus those loaded on demand, by file name: each must be in the bundle
        # and load with all its own dependencies. No GPU is needed for that.
        import ctypes

        import torch

        names = ["libcudart.so.13", "libcublas.so.13", "libcublasLt.so.13", "libcufft.so.12", "libcurand.so.10",
                 "libcusparse.so.12", "libcusparseLt.so.0", "libcusolver.so.12", "libnvrtc.so.13",
                 "libnvrtc-builtins.so.13.0", "libnvJitLink.so.13", "libcudnn.so.9", "libcudnn_graph.so.9",
                 "libcudnn_ops.so.9", "libnccl.so.2", "libnvshmem_host.so.3", "libcufile.so.0", "libcupti.so.13",
                 "libtorch_cuda.so", "libtorch_cuda_linalg.so", "libc10_cuda.so", "libtorch_nvshmem.so"]
        root = getattr(sys, "_MEIPASS", None) or os.path.dirname(os.path.dirname(torch.__file__))
        where = {}
        for dirpath, _dirs, files in os.walk(root):
            for f in files:
                if f in names and not os.path.islink(os.path.join(dirpath, f)):
                    where.setdefault(f, os.path.relpath(os.path.join(dirpath, f), root))
        missing = [n for n in names if n not in where]
        if missing:
            raise FileNotFoundError("not in the bundle: " + ", ".join(missing))
        for n in names:
            ctypes.CDLL(os.path.join(root, where[n]))
        return where

    def mnist_reader():
        from torchvision.datasets import MNIST  # noqa: F401
        from mnist_draw.trainer.data import load_mnist  # noqa: F401

        return "ok"

    def training():
        # A few steps of the default recipe (augmentation included) on MNIST from --data's sources
        # (MNIST_DRAW_DATA, then the per-user cache), never downloading: what the trainer panel does.
        import dataclasses

        from mnist_draw.model.recipe import preset
        from mnist_draw.trainer.data import has_mnist, load_mnist
        from mnist_draw.paths import mnist_root
        from mnist_draw.trainer.loop import fit

        root, source = mnist_root()
        if not has_mnist(root):
            return f"skipped: no MNIST in {root} ({source})"
        recipe = dataclasses.replace(preset("default"), hidden=(64,), epochs=1, max_steps=20)
        result = fit(recipe, load_mnist(download=False), device="cpu", seed=0, train_limit=2560)
        return {"data": f"{root} ({source})", "steps": 20, "test_accuracy": round(result.test_accuracy, 4)}

    def resources():
        from mnist_draw.paths import default_model_path, resource_path

        paths = [default_model_path(), resource_path("icons", "mnist-draw.png"),
                 resource_path("training", "typeface-digits.npz")]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise FileNotFoundError(", ".join(missing))
        return [str(p) for p in paths]

    def qt_plugins():
        from PySide6.QtCore import QLibraryInfo

        root = QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)
        found = {d: sorted(os.listdir(os.path.join(root, d))) for d in ("platforms", "imageformats")
                 if os.path.isdir(os.path.join(root, d))}
        plats = " ".join(found.get("platforms", []))
        for need in ("xcb", "offscreen"):
            if need not in plats:
                raise FileNotFoundError(f"Qt platform plugin {need} missing from {root}")
        return found

    attempt("torch", torch_info)
    attempt("cuda_unavailable_reason", cuda_reason)
    attempt("cudnn", cudnn)
    attempt("cuda_libraries", cuda_libs)
    attempt("mnist_reader", mnist_reader)
    attempt("training", training)
    attempt("resources", resources)
    attempt("qt_plugins", qt_plugins)
    report["ok"] = ok
    print(json.dumps(report, indent=1), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    if os.environ.get("MNIST_DRAW_BUNDLE_CHECK") == "1":
        sys.exit(_bundle_check())
    from mnist_draw.cli import main

    sys.exit(main())
