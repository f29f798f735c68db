"""Per-stage tables of HorNet-T for the Concepts page: channel widths, or receptive field.

    python docs/scripts/stage_tables.py widths
    python docs/scripts/stage_tables.py receptive-field

Both are read off the model's own config and ``hornet_ref.channel_widths``.
"""

from __future__ import annotations

import argparse

from hornet_ref import channel_widths, model_config

MODEL = "hornet_tiny_7x7"


def widths() -> None:
    cfg = model_config(MODEL)
    print("| stage | C | map at 224 | n | split $p_0$ / $q$ | $d_0, \\dots, d_{n-1}$ |")
    print("|---|---|---|---|---|---|")
    for i, (dim, order) in enumerate(zip(cfg.dims, cfg.orders, strict=True)):
        side = cfg.img_size // (cfg.stem_patch * 2**i)
        d = channel_widths(dim, order)
        print(
            f"| {i + 1} | {dim} | {side}x{side} | {order} | {d[0]} / {sum(d)} "
            f"| {', '.join(map(str, d))} |"
        )


def receptive_field() -> None:
    """Theoretical receptive field after each stage: every k x k layer at stride j adds (k-1) j."""
    cfg = model_config(MODEL)
    print("| after | input pixels per map pixel (stride) | receptive field | blocks so far |")
    print("|---|---|---|---|")
    rf, jump, blocks = 1, 1, 0
    for i, depth in enumerate(cfg.depths):
        # The stem (stem_patch x stem_patch, stride stem_patch) or a 2x2 stride-2 downsampler.
        kernel = cfg.stem_patch if i == 0 else 2
        rf, jump = rf + (kernel - 1) * jump, jump * kernel
        # Each block: one gnConv reaching kernel_size x kernel_size, then 1x1 layers.
        rf += depth * (cfg.kernel_size - 1) * jump
        blocks += depth
        print(f"| stage {i + 1} | {jump} | {rf}x{rf} | {blocks} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table", choices=["widths", "receptive-field"])
    args = parser.parse_args()
    if args.table == "widths":
        widths()
    else:
        receptive_field()


if __name__ == "__main__":
    main()
