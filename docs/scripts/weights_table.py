"""The Model zoo page's table of published weights, from hornet_ref's registry.

    python docs/scripts/weights_table.py

One row per variant of ``list_pretrained()``: the files in the order
``create_model(name, pretrained=True)`` tries them, the head the weights carry and
mmpretrain's ImageNet-1K top-1 / top-5 (spec/HORNET.md, "Published weights").
"""

from __future__ import annotations

from hornet_ref import list_pretrained
from hornet_ref.pretrained import pretrained_cfg


def _link(source) -> str:
    host = "mmpretrain" if source.layout == "mmpretrain" else "authors"
    return f"[{host}]({source.url}): `{source.file_name}`"


def main() -> None:
    print("| name | sources, in the order tried (cache file name) | head | input | top-1 / top-5 |")
    print("|---|---|---|---|---|")
    for name in list_pretrained():
        cfg = pretrained_cfg(name)
        sources = "<br>".join(_link(s) for s in cfg["sources"])
        if cfg["label_set"] == "imagenet-22k":
            head = "ImageNet-22K (authors' subset; size read from the file)"
        else:
            head = f"ImageNet-1K ({cfg['num_classes']})"
        score = f"{cfg['top1']:.2f} / {cfg['top5']:.2f}" if cfg["top1"] is not None else "-"
        crop = f"crop {cfg['crop_pct']:g}" if cfg["crop_pct"] < 1 else "resized"
        size = f"{cfg['input_size'][-1]} ({crop})"
        print(f"| `{name}` | {sources} | {head} | {size} | {score} |")


if __name__ == "__main__":
    main()
