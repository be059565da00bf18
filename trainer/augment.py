"""Data augmentation on the training device, a whole batch at a time.

A drawing on the canvas differs from an MNIST scan: it is a little rotated, slanted, bigger or smaller,
off-centre, drawn with a thicker or thinner pen. Showing the network MNIST digits that were randomly
distorted in those same ways teaches it to ignore them (Simard et al., 2003, reach 99.3% with a
two-layer MLP this way).

Everything here works on a batch tensor ``[B, 28, 28]`` already on the device: one random affine
matrix per digit (rotation, scale, shear, translation) applied with ``affine_grid``/``grid_sample``,
an optional smooth random displacement field (elastic distortion), and a random change of stroke
thickness (grey-level dilation or erosion, done with max-pooling). No per-sample Python, no PIL.

One distortion needs the labels: people outside North America often start a "1" with a short
up-stroke, a flag, which MNIST's (American) 1s almost never have. A network trained on MNIST alone
reads such a 1 as a 7. So a share of the 1s in each batch get a flag drawn on: a short line from the
top of the stroke going down to the left, at a random angle and length, as wide as the 1's own stroke
(:func:`add_flags`). A 7's bar is long and level, a flag short and steep, and the network learns the
difference.

The same kind of stroke hooking the free end of 6s and 9s, as printed-style digits end, was tried and
removed: it reads more pen-plotter-font 6s and 9s and fewer of the first development set's, on the
committed sets and again on fresh samples of them (docs/recognition.md, the sixth to eighth sessions; the
code is in commit 29f564e; curls that bend a 6's top over smoothly did worse and were removed before).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentSettings:
    rotate_deg: float = 0.0
    scale: tuple[float, float] = (1.0, 1.0)
    shear: float = 0.0  # tan of the largest shear angle
    translate_px: float = 0.0
    thickness_p: float = 0.0  # probability of a thickness change per digit
    elastic_alpha_px: float = 0.0  # size of the elastic displacement, pixels
    elastic_sigma_px: float = 4.0  # smoothness of the elastic displacement field
    flag_ones_p: float = 0.0  # share of the 1s that get a flag (needs the labels)


LEVELS = {
    "none": None,
    "light": AugmentSettings(rotate_deg=12, scale=(0.85, 1.1), shear=0.25, translate_px=2.0, thickness_p=0.5,
                             flag_ones_p=0.3),
    "strong": AugmentSettings(rotate_deg=15, scale=(0.8, 1.15), shear=0.3, translate_px=2.5, thickness_p=0.6,
                              elastic_alpha_px=2.0, elastic_sigma_px=4.0, flag_ones_p=0.3),
}

FLAG_ANGLE_DEG = (20.0, 65.0)  # how steeply a flag leaves the top of a 1, below the horizontal
FLAG_LENGTH = (0.2, 0.45)  # a flag's length, as a share of the digit's height


def _uniform(n: int, lo: float, hi: float, g: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.rand(n, generator=g, device=device) * (hi - lo) + lo


def _gaussian_kernel(sigma: float, device: torch.device) -> torch.Tensor:
    radius = max(1, int(math.ceil(3 * sigma)))
    t = torch.arange(-radius, radius + 1, device=device, dtype=torch.float32)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    return k / k.sum()


def add_flags(x: torch.Tensor, labels: torch.Tensor, p: float, generator: torch.Generator) -> torch.Tensor:
    """Draw a flag on a share ``p`` of the 1s in a batch ``[B, 28, 28]``; returns a new tensor.

    The flag starts at the top of the 1 (the ink-weighted middle of its top row) and goes down to the
    left, at an angle in FLAG_ANGLE_DEG below the horizontal and a length in FLAG_LENGTH. Its width is
    the digit's mean width (ink per row). It is drawn anti-aliased from each pixel's distance to the line.
    """
    b, h, w = x.shape
    dev = x.device
    idx = ((labels == 1) & (torch.rand(b, generator=generator, device=dev) < p)).nonzero().squeeze(1)
    k = idx.numel()
    if k == 0:
        return x
    digits = x[idx]
    rows = (digits > 0.5).any(dim=2)  # [k, h]: which rows have ink
    has_ink = rows.any(dim=1)
    top = rows.float().argmax(dim=1)  # the first row with ink
    bottom = h - 1 - rows.flip(1).float().argmax(dim=1)
    height = (bottom - top + 1).float()
    top_row = digits[torch.arange(k, device=dev), top]  # [k, w]
    cols = torch.arange(w, device=dev, dtype=torch.float32)
    x0 = (top_row * cols).sum(1) / top_row.sum(1).clamp_min(1e-6)
    y0 = top.float()
    width = (digits.sum(dim=(1, 2)) / height).clamp(1.0, 4.0)
    angle = _uniform(k, *FLAG_ANGLE_DEG, generator, dev) * (math.pi / 180)
    size = _uniform(k, *FLAG_LENGTH, generator, dev) * height
    dx = -size * torch.cos(angle)  # to the left
    dy = size * torch.sin(angle)  # and down
    yy, xx = torch.meshgrid(cols[:h], cols, indexing="ij")
    px = xx - x0.view(k, 1, 1)
    py = yy - y0.view(k, 1, 1)
    dx, dy = dx.view(k, 1, 1), dy.view(k, 1, 1)
    t = ((px * dx + py * dy) / (dx * dx + dy * dy).clamp_min(1e-6)).clamp(0, 1)
    distance = torch.hypot(px - t * dx, py - t * dy)
    stroke = (width.view(k, 1, 1) / 2 + 0.5 - distance).clamp(0, 1)
    stroke = stroke * has_ink.view(k, 1, 1)  # a blank digit (never in MNIST) stays blank
    out = x.clone()
    out[idx] = torch.maximum(digits, stroke)
    return out


def augment(x: torch.Tensor, level: str | AugmentSettings | None, generator: torch.Generator,
            labels: torch.Tensor | None = None) -> torch.Tensor:
    """Randomly distort a batch of digits ``[B, 28, 28]`` (pixels in [0, 1]); returns a new tensor.

    ``labels`` (``[B]``) are needed only for the distortions that depend on the digit (flags on 1s).
    """
    s = LEVELS[level] if isinstance(level, str) else level
    if s is None:
        return x
    if s.flag_ones_p > 0 and labels is not None:
        x = add_flags(x, labels, s.flag_ones_p, generator)
    b, h, w = x.shape
    dev = x.device
    img = x.unsqueeze(1)

    if s.thickness_p > 0:
        grown = F.max_pool2d(img, 3, stride=1, padding=1)
        thinned = -F.max_pool2d(-img, 3, stride=1, padding=1)
        pick = torch.rand(b, 1, 1, 1, generator=generator, device=dev)
        amount = torch.rand(b, 1, 1, 1, generator=generator, device=dev)
        half = s.thickness_p / 2
        img = torch.where(pick < half, img + amount * (grown - img),
                          torch.where(pick < s.thickness_p, img + 0.6 * amount * (thinned - img), img))


    # Affine: output coordinate -> input coordinate, in affine_grid's [-1, 1] units.
    angle = _uniform(b, -s.rotate_deg, s.rotate_deg, generator, dev) * (math.pi / 180)
    scale = _uniform(b, s.scale[0], s.scale[1], generator, dev)
    shear = _uniform(b, -s.shear, s.shear, generator, dev)
    tx = _uniform(b, -s.translate_px, s.translate_px, generator, dev) * (2.0 / w)
    ty = _uniform(b, -s.translate_px, s.translate_px, generator, dev) * (2.0 / h)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos, -sin + shear * cos, tx], 1), torch.stack([sin, cos + shear * sin, ty], 1)], 1
    )
    grid = F.affine_grid(theta, [b, 1, h, w], align_corners=False)

    if s.elastic_alpha_px > 0:
        k = _gaussian_kernel(s.elastic_sigma_px, dev)
        field = torch.rand(b, 2, h, w, generator=generator, device=dev) * 2 - 1
        pad = k.numel() // 2
        field = F.conv2d(F.pad(field.reshape(b * 2, 1, h, w), (pad, pad, 0, 0), mode="reflect"), k.view(1, 1, 1, -1))
        field = F.conv2d(F.pad(field, (0, 0, pad, pad), mode="reflect"), k.view(1, 1, -1, 1))
        field = field.reshape(b, 2, h, w)
        field = field / field.abs().amax(dim=(2, 3), keepdim=True).clamp_min(1e-6)
        alpha = _uniform(b, 0, s.elastic_alpha_px, generator, dev).view(b, 1, 1, 1) * (2.0 / w)
        grid = grid + (field * alpha).permute(0, 2, 3, 1)

    out = F.grid_sample(img, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    # Preprocessing scales the darkest stroke to full ink; so do we, so thinned digits stay bright.
    out = out / out.amax(dim=(2, 3), keepdim=True).clamp_min(0.05)
    return out.squeeze(1).clamp_(0, 1)
