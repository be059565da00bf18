"""A run's own random numbers: PyTorch's global random state is never read or changed.

Everything random in a training run (the first weights, the order of the digits, augmentation,
dropout, sampling with replacement) is drawn from ``torch.Generator`` objects that belong to the run
(:class:`Streams`). A seeded run therefore repeats exactly, and two runs in one process (the app's
window, a test suite) cannot disturb each other or anyone else who uses ``torch.manual_seed``.

The draws are the ones the run made when it still seeded PyTorch's global generator (the first
weights as ``nn.Linear`` draws them, the order and augmentation from one generator, dropout from a
second one seeded alike), so a seed gives the same model as before. A run that goes back to the end
of an epoch (after a device failure) takes its generators back to where they stood then. Under
several processes the order of the digits is drawn alike in all of them (each then takes its own
share of it) while augmentation and dropout differ from process to process.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass

import torch
from torch import nn


def fresh_seed() -> int:
    """A seed from the operating system's entropy (not from PyTorch's global generator), below 2**31, so
    that it fits any seed field (the window's too: mnist_draw.gui.state.run.SEED_RANGE)."""
    return secrets.randbits(31)


def derive(seed: int, *keys: object) -> int:
    """A seed for one stream of a run (say ``("order", epoch)``), the same in every process and session."""
    text = repr((int(seed), *keys)).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little") >> 1


@dataclass(frozen=True)
class Streams:
    """A run's generators: ``order`` shuffles the digits (alike in every process of a group), ``local``
    drives augmentation and sampling with replacement, ``dropout`` the dropout masks. A run alone draws
    the order and ``local`` from one generator, as PyTorch's examples do."""

    order: torch.Generator
    local: torch.Generator
    dropout: torch.Generator

    @classmethod
    def start(cls, seed: int, device: torch.device, rank: int | None = None) -> "Streams":
        """The streams of a run alone (``rank`` None) or of process ``rank`` of a group."""
        def make(s: int) -> torch.Generator:
            return torch.Generator(device=device).manual_seed(s)

        if rank is None:
            one = make(seed)
            return cls(one, one, make(seed))
        return cls(make(seed), make(derive(seed, "local", rank)), make(derive(seed, "dropout", rank)))

    def state(self) -> dict[str, torch.Tensor]:
        return {name: getattr(self, name).get_state() for name in ("order", "local", "dropout")}

    def restore(self, state: dict[str, torch.Tensor]) -> "Streams":
        for name, value in state.items():
            getattr(self, name).set_state(value)
        return self


def init_weights(model: nn.Module, seed: int) -> nn.Module:
    """Give every ``nn.Linear`` PyTorch's own default initialisation, drawn from the run's generator.

    The draws are the ones ``torch.manual_seed(seed)`` followed by building the network would make,
    so a seeded network is the same as before this module existed, without touching the global state.
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in model.modules():
            if isinstance(layer, nn.Linear):
                nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=g)
                if layer.bias is not None:
                    bound = 1 / math.sqrt(layer.in_features) if layer.in_features else 0.0
                    nn.init.uniform_(layer.bias, -bound, bound, generator=g)
    return model


class Dropout(nn.Module):
    """``nn.Dropout`` drawing its masks from a generator the run owns (the same draws on the CPU)."""

    def __init__(self, p: float, generator: torch.Generator | None = None):
        super().__init__()
        self.p = p
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        noise = torch.empty_like(x).bernoulli_(1 - self.p, generator=self.generator)
        return x * noise.div_(1 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"
