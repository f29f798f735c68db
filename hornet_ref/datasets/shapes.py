"""The built-in dataset: coloured shapes on textured backgrounds, drawn from a seed.

Ten classes, one per shape. Every image is 32x32 RGB: a background made of two
random sinusoidal gratings blending two colours, one upright shape of a random
colour, size (radius 9-13 pixels) and position, and a little pixel noise. The
class is the shape alone, so a classifier must learn form, not colour or texture.

Shapes are large and textures mild so that the default run learns form within
its few CPU minutes, while it still has to tell a disk from a ring, a square
from a frame and a plus from a cross (how the sizes were chosen: the Training
guide, "The built-in data").

Everything is computed with vectorised tensor ops from a ``torch.Generator``: the
same ``(n, seed)`` gives the same bytes.
Shapes are drawn from signed distance functions ``d(a, b)`` in the shape's own
frame (``a`` right, ``b`` down, the shape spanning about ``[-1, 1]``), negative
inside; ``sigmoid(-d * r / 0.5)`` turns them into anti-aliased masks.
"""

from __future__ import annotations

import math

import torch
from einops import rearrange
from torch import Tensor

__all__ = ["SHAPE_CLASSES", "make_shapes", "shape_mask", "textured_background", "uniform"]

#: Class names, in label order.
SHAPE_CLASSES = (
    "disk",
    "ring",
    "square",
    "frame",
    "triangle",
    "diamond",
    "plus",
    "cross",
    "star",
    "crescent",
)

_SIDE = 32
_CHUNK = 2048  # images generated at once: bounds memory at a few tens of MB


def _box(a: Tensor, b: Tensor, half_a: float, half_b: float) -> Tensor:
    return torch.maximum(a.abs() - half_a, b.abs() - half_b)


def _plus(a: Tensor, b: Tensor) -> Tensor:
    return torch.minimum(_box(a, b, 0.3, 1.0), _box(a, b, 1.0, 0.3))


def _distance(shape: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """Signed distance (negative inside) of each image's shape: (N, H, W)."""
    rho = torch.sqrt(a**2 + b**2)
    phi = torch.atan2(b, a)
    # An upward triangle with apex (0, -1) and base corners (+-0.95, 0.75).
    edge = math.hypot(1.75, 0.95)
    triangle = torch.maximum(b - 0.75, (1.75 * a.abs() - 0.95 * (b + 1.0)) / edge)
    diagonal_a, diagonal_b = (a + b) / math.sqrt(2), (a - b) / math.sqrt(2)
    candidates = torch.stack(
        [
            rho - 1.0,  # disk
            (rho - 0.72).abs() - 0.28,  # ring
            _box(a, b, 0.8, 0.8),  # square
            (torch.maximum(a.abs(), b.abs()) - 0.72).abs() - 0.22,  # frame
            triangle,
            (a.abs() + b.abs() - 1.05) / math.sqrt(2),  # diamond
            _plus(a, b),
            _plus(diagonal_a, diagonal_b),  # cross
            rho - (0.62 + 0.38 * torch.cos(5 * phi - math.pi / 2)),  # star, a point upwards
            torch.maximum(rho - 1.0, 0.85 - torch.sqrt((a - 0.5) ** 2 + b**2)),  # crescent
        ]
    )  # (10, N, H, W)
    index = rearrange(shape, "n -> 1 n 1 1").expand(1, *candidates.shape[1:])
    return candidates.gather(0, index)[0]


def uniform(g: torch.Generator, *shape: int, low: float = 0.0, high: float = 1.0) -> Tensor:
    return torch.rand(*shape, generator=g) * (high - low) + low


def _grid(side: int) -> tuple[Tensor, Tensor]:
    """Pixel-centre coordinates y (1, side, 1) and x (1, 1, side)."""
    coords = torch.arange(side, dtype=torch.float32) + 0.5
    return rearrange(coords, "h -> 1 h 1"), rearrange(coords, "w -> 1 1 w")


def textured_background(n: int, side: int, g: torch.Generator) -> tuple[Tensor, Tensor]:
    """Textured backgrounds (N, 3, side, side) in [0, 1] and a shape colour (N, 3, 1, 1)
    that each background leans away from."""
    y, x = _grid(side)
    # Two gratings of random frequency, orientation and phase blend two colours.
    blend = torch.zeros(n, side, side)
    for _ in range(2):
        freq = rearrange(uniform(g, n, low=0.25, high=1.1), "n -> n 1 1")
        angle = rearrange(uniform(g, n, high=math.pi), "n -> n 1 1")
        phase = rearrange(uniform(g, n, high=2 * math.pi), "n -> n 1 1")
        blend += torch.sin(freq * (x * torch.cos(angle) + y * torch.sin(angle)) + phase)
    blend = rearrange(blend / 8 + 0.5, "n h w -> n 1 h w")  # in [0.25, 0.75]
    fg = uniform(g, n, 3)
    # Background colours lean away from the shape's colour so the shape stays visible.
    bg_mean = (1.0 - fg + uniform(g, n, 3, low=-0.25, high=0.25)).clamp(0, 1)
    bg_a = (bg_mean + uniform(g, n, 3, low=-0.3, high=0.3)).clamp(0, 1)
    bg_b = (bg_mean + uniform(g, n, 3, low=-0.3, high=0.3)).clamp(0, 1)
    bg_a, bg_b, fg = (rearrange(c, "n c -> n c 1 1") for c in (bg_a, bg_b, fg))
    return bg_a * blend + bg_b * (1 - blend), fg  # (N, 3, H, W), (N, 3, 1, 1)


def shape_mask(shape: Tensor, radius: Tensor, cx: Tensor, cy: Tensor, side: int) -> Tensor:
    """Anti-aliased masks in [0, 1], (N, side, side), of upright shapes of the given
    classes, radii and centres (each (N,), in pixels)."""
    y, x = _grid(side)
    radius, cx, cy = (rearrange(t, "n -> n 1 1") for t in (radius, cx, cy))
    a, b = (x - cx) / radius, (y - cy) / radius
    return torch.sigmoid(-_distance(shape, a, b) * radius / 0.5)


def _draw(labels: Tensor, g: torch.Generator) -> Tensor:
    """Images for the given labels: (N,) -> (N, 3, 32, 32) uint8."""
    n = labels.shape[0]
    background, fg = textured_background(n, _SIDE, g)

    # Shape: radius r pixels, centre kept inside the image, upright.
    radius = uniform(g, n, low=9.0, high=13.0)
    cx = uniform(g, n) * (_SIDE - 2 * radius) + radius
    cy = uniform(g, n) * (_SIDE - 2 * radius) + radius
    mask = rearrange(shape_mask(labels, radius, cx, cy, _SIDE), "n h w -> n 1 h w")

    image = (
        fg * mask + background * (1 - mask) + 0.04 * torch.randn(n, 3, _SIDE, _SIDE, generator=g)
    )
    return (image.clamp(0, 1) * 255).round().to(torch.uint8)


def make_shapes(n: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    """``n`` images of the built-in dataset and their labels, the same for the same seed.

    Returns ``(images, labels)``: images (n, 3, 32, 32) uint8, labels (n,) int64 in
    0..9 (names in :data:`SHAPE_CLASSES`), each class appearing ``n // 10`` or
    ``n // 10 + 1`` times in a random order.
    """
    if n < 1:
        raise ValueError(f"need at least one image, got n={n}")
    g = torch.Generator().manual_seed(seed)
    labels = (torch.arange(n) % len(SHAPE_CLASSES))[torch.randperm(n, generator=g)]
    images = torch.cat([_draw(chunk, g) for chunk in labels.split(_CHUNK)])
    return images, labels
