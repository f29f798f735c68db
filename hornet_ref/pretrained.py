"""The published HorNet weights by name: where they live, what they hold, how to fetch them.

Each variant with weights has a registry entry (its ``pretrained_cfg``, following timm's
convention): the files it can be downloaded as, in the order they are tried, the head
they carry, and the evaluation preprocessing they were measured with. Facts from the
project's spec (shared/spec/HORNET.md, "Published weights"):

- The six ImageNet-1K models are on two hosts. mmpretrain's copies on
  download.openmmlab.com come first: their names end in the first 8 hex digits of the
  file's SHA-256, which torch.hub checks, and they have not moved. The authors' Tsinghua
  Cloud links (no file name; rotated three times) are the fallback.
- The three Large models (ImageNet-22K) are only on the authors' host. Their head is
  over the authors' ImageNet-22K subset; ``num_classes`` is None here because its size is
  read from the file. :func:`imagenet_1k_rows` gives, for each ImageNet-1K class, its row
  in that head.
- Evaluation: resize the short side to input / crop_pct with bicubic interpolation,
  centre-crop, normalise with the ImageNet mean and std; at 384 the authors resize to a
  square without cropping (crop_pct 1.0).

Downloads go through torch.hub's cache (``torch.hub.get_dir()/checkpoints``); a file
already there is never fetched again. This module imports torch only inside the
functions that download or build.
"""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from .constants import IMAGENET_MEAN, IMAGENET_STD

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "DownloadError",
    "Source",
    "download_pretrained",
    "eval_transform",
    "imagenet_1k_rows",
    "imagenet_categories",
    "list_pretrained",
    "pretrained_cfg",
    "pretrained_state_dict",
]

#: Seconds a connection may stay silent before a download gives up on that source.
DOWNLOAD_TIMEOUT_S = 4.0

_MMPRETRAIN = "https://download.openmmlab.com/mmclassification/v0/hornet/"
_TSINGHUA = "https://cloud.tsinghua.edu.cn/f/{}/?dl=1"


class DownloadError(OSError):
    """No source of a variant's weights could be downloaded."""


@dataclass(frozen=True)
class Source:
    """One place a variant's weights can be downloaded from.

    Attributes:
        url: the address.
        file_name: the file's name in torch.hub's cache.
        layout: "mmpretrain" (its key names) or "authors" (ours); both load.
    """

    url: str
    file_name: str
    layout: str

    @property
    def hash_prefix(self) -> str | None:
        """The SHA-256 prefix the file name ends in (``name-0e8eedff.pth``), if any."""
        stem = self.file_name.rsplit(".", 1)[0]
        tail = stem.rsplit("-", 1)[-1]
        is_hex = len(tail) >= 8 and all(c in "0123456789abcdef" for c in tail)
        return tail if "-" in stem and is_hex else None


def _authors(key: str, file_name: str) -> Source:
    return Source(_TSINGHUA.format(key), file_name, "authors")


def _mmpretrain(file_name: str) -> Source:
    return Source(_MMPRETRAIN + file_name, file_name, "mmpretrain")


# (mmpretrain file or None, the authors' link key, top-1, top-5): the spec's table.
_PUBLISHED: dict[str, tuple[str | None, str, float | None, float | None]] = {
    "hornet_tiny_7x7": (
        "hornet-tiny_3rdparty_in1k_20220915-0e8eedff.pth",
        "bac9690c72944d19aca1",
        82.84,
        96.24,
    ),
    "hornet_tiny_gf": (
        "hornet-tiny-gf_3rdparty_in1k_20220915-4c35a66b.pth",
        "460e759c82324ea6bfa3",
        82.98,
        96.38,
    ),
    "hornet_small_7x7": (
        "hornet-small_3rdparty_in1k_20220915-5935f60f.pth",
        "8ef64277da0e469ea857",
        83.79,
        96.75,
    ),
    "hornet_small_gf": (
        "hornet-small-gf_3rdparty_in1k_20220915-649ca492.pth",
        "959603ca287d4c09ad49",
        83.98,
        96.77,
    ),
    "hornet_base_7x7": (
        "hornet-base_3rdparty_in1k_20220915-a06176bb.pth",
        "13a748487711492e9704",
        84.24,
        96.94,
    ),
    "hornet_base_gf": (
        "hornet-base-gf_3rdparty_in1k_20220915-82c06fa7.pth",
        "c212d1d8a3914b47a5c1",
        84.32,
        96.95,
    ),
    "hornet_large_7x7": (None, "c2fc23caae084a3aa73d", None, None),
    "hornet_large_gf": (None, "8600206ebdfa485f98d0", None, None),
    "hornet_large_gf_img384": (None, "eec48d5eca5a48d98fd2", None, None),
}


def _registry_entry(name: str) -> dict[str, Any]:
    mm_file, key, top1, top5 = _PUBLISHED[name]
    in22k = mm_file is None
    sources = [] if in22k else [_mmpretrain(mm_file)]
    sources.append(_authors(key, f"{name}_in22k.pth" if in22k else f"{name}.pth"))
    return {
        "sources": sources,
        "num_classes": None if in22k else 1000,
        "label_set": "imagenet-22k" if in22k else "imagenet-1k",
        "top1": top1,
        "top5": top5,
    }


def list_pretrained() -> list[str]:
    """The variants with published weights: the six ImageNet-1K models, then the three
    Large (ImageNet-22K) ones."""
    return list(_PUBLISHED)


def pretrained_cfg(
    name: str,
    overlay: Mapping[str, Any] | None = None,
    *,
    img_size: int = 224,
    num_classes: int = 1000,
) -> dict[str, Any]:
    """The ``pretrained_cfg`` of a variant: its weights' sources and preprocessing.

    Keys: ``architecture``; ``url`` (the first source, None without published weights);
    ``sources`` (every :class:`Source`, in the order tried); ``file`` (a local file that
    replaces the download, None unless the overlay sets it); ``num_classes`` (of the
    weights' head; None for the Large models until a file is read: the authors'
    ImageNet-22K subset); ``label_set`` ("imagenet-1k", "imagenet-22k" or None);
    ``input_size`` (3, S, S); ``crop_pct``; ``interpolation``; ``mean``; ``std``;
    ``top1`` and ``top5`` (mmpretrain's ImageNet-1K evaluation, None where unpublished);
    ``use_ema`` (load a training checkpoint's EMA weights).

    Args:
        name: a variant name (see :func:`~hornet_ref.list_models`).
        overlay: keys to replace, e.g. ``{"file": "hornet_tiny_7x7.pth"}``; a ``url``
            alone becomes the only source.
        img_size: the variant's own input side, used for variants without published weights.
        num_classes: the variant's own classes, likewise.
    """
    overlay = dict(overlay or {})
    unknown = sorted(set(overlay) - _CFG_KEYS)
    if unknown:
        raise ValueError(f"unknown pretrained_cfg key(s) {unknown}; valid: {sorted(_CFG_KEYS)}")
    if name in _PUBLISHED:
        entry = _registry_entry(name)
        img_size = 384 if name.endswith("img384") else 224
    else:
        entry = {
            "sources": [],
            "num_classes": num_classes,
            "label_set": None,
            "top1": None,
            "top5": None,
        }
    cfg = {
        "architecture": name,
        **entry,
        "file": None,
        "input_size": (3, img_size, img_size),
        "crop_pct": 1.0 if img_size >= 384 else 0.875,
        "interpolation": "bicubic",
        "mean": IMAGENET_MEAN,
        "std": IMAGENET_STD,
        "use_ema": False,
    }
    if "url" in overlay and "sources" not in overlay:
        url = overlay["url"]
        overlay["sources"] = [] if url is None else [Source(url, _file_name(url), "auto")]
    cfg.update(overlay)
    cfg["sources"] = [s if isinstance(s, Source) else Source(**s) for s in cfg["sources"]]
    cfg["url"] = cfg["sources"][0].url if cfg["sources"] else None
    return cfg


_CFG_KEYS = {
    "url",
    "sources",
    "file",
    "num_classes",
    "label_set",
    "input_size",
    "crop_pct",
    "interpolation",
    "mean",
    "std",
    "top1",
    "top5",
    "use_ema",
}


def _file_name(url: str) -> str:
    name = Path(urlparse(url).path).name
    if not name:
        raise ValueError(f"{url} names no file; pass sources=[Source(url, file_name, ...)]")
    return name


@contextlib.contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    """urllib (and so torch.hub) waits forever by default; a dead network must fail fast."""
    before = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(before)


def _cache_dir() -> Path:
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def _by_hand(cfg: Mapping[str, Any], cache: Path) -> str:
    name = cfg["architecture"]
    return (
        f"Fetch one of them by hand and load it with create_model({name!r}, pretrained=True, "
        f'pretrained_cfg_overlay={{"file": PATH}}) or --checkpoint PATH, '
        f"or put it in {cache} under the name {cfg['sources'][0].file_name}"
    )


def download_pretrained(
    cfg: str | Mapping[str, Any], *, progress: bool = True, timeout: float = DOWNLOAD_TIMEOUT_S
) -> Path:
    """The path of a variant's weights in torch.hub's cache, downloading them if needed.

    A source already in the cache is used as it is. Otherwise the sources are tried in
    order (progress bar on stderr; the SHA-256 prefix checked where the file name has
    one); the first that downloads is returned. Each source gives up after ``timeout``
    seconds without data.

    Args:
        cfg: a variant name or its :func:`pretrained_cfg`.

    Raises:
        DownloadError: no source could be downloaded (or the variant has none); the
            message names every URL tried and how to load a file fetched by hand.
    """
    import torch.hub

    cfg = pretrained_cfg(cfg) if isinstance(cfg, str) else cfg
    name, sources = cfg["architecture"], cfg["sources"]
    cache = _cache_dir()
    if not sources:
        raise DownloadError(
            f"{name} has no published weights (variants with weights: "
            f"{', '.join(list_pretrained())}); load a file with create_model({name!r}, "
            f'pretrained=True, pretrained_cfg_overlay={{"file": PATH}}) or --checkpoint PATH'
        )
    for source in sources:
        if (cache / source.file_name).is_file():
            return cache / source.file_name
    cache.mkdir(parents=True, exist_ok=True)
    unresolved = _unresolved({urlparse(s.url).hostname or "" for s in sources}, timeout)
    failures = []
    for source in sources:
        if urlparse(source.url).hostname in unresolved:
            failures.append(f"{source.url} ({unresolved[urlparse(source.url).hostname]})")
            continue
        target = cache / source.file_name
        try:
            with _socket_timeout(timeout):
                torch.hub.download_url_to_file(
                    source.url, str(target), hash_prefix=source.hash_prefix, progress=progress
                )
            return target
        except Exception as e:  # URLError, timeouts, HTTP errors, a hash mismatch: next source
            failures.append(f"{source.url} ({_reason(e)})")
    raise DownloadError(
        f"could not download the weights of {name}; tried {'; '.join(failures)}. "
        + _by_hand(cfg, cache)
    )


def _unresolved(hosts: set[str], timeout: float) -> dict[str, str]:
    """The hosts whose names do not resolve within ``timeout`` seconds, with the reason.

    The socket timeout does not cover name lookups, which can hang for tens of seconds
    on a machine without network; looking all hosts up at once, with a deadline, keeps
    the failure fast.
    """
    import threading
    import time

    outcome: dict[str, BaseException | None] = {}

    def look_up(host: str) -> None:
        try:
            socket.getaddrinfo(host, 443)
            outcome[host] = None
        except BaseException as e:  # any failure is the reason the host is unusable
            outcome[host] = e

    # Daemon threads: a lookup that hangs must not keep the interpreter from exiting.
    threads = [threading.Thread(target=look_up, args=(h,), daemon=True) for h in hosts]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(deadline - time.monotonic(), 0.0))
    reasons = {}
    for host in hosts:
        if host not in outcome:
            reasons[host] = f"name lookup timed out after {timeout:g} s"
        elif outcome[host] is not None:
            reasons[host] = _reason(outcome[host])
    return reasons


def _reason(error: Exception) -> str:
    reason = getattr(error, "reason", None) or error
    text = str(reason).strip() or type(reason).__name__
    return text[:200]


def _rows_file() -> Any:
    return resources.files("hornet_ref") / "data" / "in1k_to_22k_rows.json"


def imagenet_1k_rows() -> list[int]:
    """For each of the 1000 ImageNet-1K classes (in torchvision's order), its row in the
    Large models' ImageNet-22K head: ``logits[:, imagenet_1k_rows()]`` are 1K logits."""
    return json.loads(_rows_file().read_text())


def imagenet_categories() -> list[str]:
    """The 1000 ImageNet-1K class names, from torchvision's weights metadata (offline)."""
    from torchvision.models import ResNet50_Weights

    return list(ResNet50_Weights.IMAGENET1K_V2.meta["categories"])


def eval_transform(model_or_cfg: Any) -> Any:
    """The evaluation preprocessing of a model's ``pretrained_cfg`` (or of the cfg itself).

    A torchvision transforms v2 pipeline: PIL image or (3, H, W) uint8 tensor in, a
    normalised float (3, S, S) tensor out, S = ``input_size[-1]``. With ``crop_pct`` < 1
    the short side is resized to S / crop_pct and the centre S x S is cropped; with 1.0
    the image is resized to S x S.
    """
    import torch
    from torchvision.transforms import InterpolationMode, v2

    cfg = getattr(model_or_cfg, "pretrained_cfg", model_or_cfg)
    if not isinstance(cfg, Mapping):
        raise TypeError("eval_transform needs a model from create_model or a pretrained_cfg dict")
    size = int(cfg["input_size"][-1])
    mode = InterpolationMode(cfg["interpolation"])
    if cfg["crop_pct"] >= 1.0:
        resize = [v2.Resize((size, size), interpolation=mode, antialias=True)]
    else:
        short = int(size / cfg["crop_pct"])
        resize = [v2.Resize(short, interpolation=mode, antialias=True), v2.CenterCrop(size)]
    return v2.Compose(
        [
            v2.ToImage(),
            v2.RGB(),
            *resize,
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(list(cfg["mean"]), list(cfg["std"])),
        ]
    )


def _cached(path: Path) -> bool:
    """Whether ``path`` lies in torch.hub's cache (a file we downloaded, not the user's)."""
    try:
        return path.resolve().parent == _cache_dir().resolve()
    except OSError:
        return False


def pretrained_state_dict(cfg: str | Mapping[str, Any], *, progress: bool = True) -> dict[str, Any]:
    """The weights of a variant (by name or ``pretrained_cfg``) in our key layout.

    Reads ``cfg["file"]`` if set, else the cached or downloaded file (see
    :func:`download_pretrained`); ``cfg["use_ema"]`` picks a training checkpoint's EMA
    weights. A downloaded file that does not read (truncated or corrupt) is removed from
    the cache, so the next call downloads it again; the CheckpointError says so.
    """
    from .checkpoint import CheckpointError, read_state_dict

    cfg = pretrained_cfg(cfg) if isinstance(cfg, str) else cfg
    path = Path(cfg["file"]) if cfg.get("file") else download_pretrained(cfg, progress=progress)
    try:
        return read_state_dict(path, use_ema=bool(cfg.get("use_ema")))
    except CheckpointError as e:
        if not cfg.get("file") and _cached(path):
            path.unlink(missing_ok=True)
            raise CheckpointError(
                f"the downloaded {path.name} does not read as a checkpoint (a truncated or "
                f"corrupt download?); removed it from {path.parent}, so the next call "
                f"downloads it again. ({e})"
            ) from e
        raise
