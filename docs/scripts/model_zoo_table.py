"""The Model zoo page's variants table: `hornet-ref info` next to the paper's numbers.

    python docs/scripts/model_zoo_table.py

Parameters and GFLOPs are parsed from the output of ``hornet-ref info`` (run
in-process); base width and GF filter sizes come from each model's config; the
published GFLOPs and ImageNet-1K top-1 are the paper's (spec/HORNET.md).
"""

from __future__ import annotations

import contextlib
import io

from hornet_ref import model_config
from hornet_ref.cli import main as cli

# (published GFLOPs, ImageNet-1K top-1 or a note), from the paper's tables.
PAPER = {
    "hornet_tiny_7x7": (3.98, "82.8"),
    "hornet_tiny_gf": (3.91, "83.0"),
    "hornet_small_7x7": (8.83, "83.8"),
    "hornet_small_gf": (8.73, "84.0"),
    "hornet_base_7x7": (15.58, "84.2"),
    "hornet_base_gf": (15.46, "84.3"),
    "hornet_base_gf_img384": (45.44, "-"),
    "hornet_large_7x7": (34.82, "- (22K pre-trained)"),
    "hornet_large_gf": (34.64, "- (22K pre-trained)"),
    "hornet_large_gf_img384": (101.81, "- (22K, 384 fine-tuned)"),
}


def info_rows() -> dict[str, tuple[str, int, float]]:
    """``hornet-ref info``'s rows: name -> (params as printed, input side, GFLOPs)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli(["info"])
    if code:
        raise RuntimeError(f"hornet-ref info exited with {code}")
    rows = {}
    for line in out.getvalue().splitlines()[1:]:
        name, params, size, gflops = line.split()
        rows[name] = (params, int(size), float(gflops))
    return rows


def main() -> None:
    rows = info_rows()
    print(
        "| name | b | GF filters, stages 3 / 4 | params | input | GFLOPs | paper GFLOPs | top-1 |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, (params, size, gflops) in rows.items():
        cfg = model_config(name)
        gf = [g for g in cfg.gf_sizes if g is not None]
        filters = " / ".join(f"({h}, {w})" for h, w in gf) if gf else "-"
        paper, top1 = PAPER.get(name, (None, "-"))
        paper_cell = f"{paper:.2f}" if paper is not None else "-"
        print(
            f"| `{name}` | {cfg.base_dim} | {filters} | {params} | {size} | {gflops:.2f} "
            f"| {paper_cell} | {top1} |"
        )


if __name__ == "__main__":
    main()
