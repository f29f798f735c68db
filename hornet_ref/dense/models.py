"""Dense-prediction models on a HorNet backbone: segmenters and Mask R-CNN.

- :func:`create_segmenter` puts a decode head (FPN, HorFPN, UPerNet, gnConv UPerNet)
  on the stage maps of a HorNet, or of any backbone with timm's
  ``forward_intermediates``, and returns logits at the input's resolution.
- :func:`maskrcnn_hornet` builds torchvision's Mask R-CNN on a HorNet with an FPN or
  HorFPN neck, in torchvision's ``BackboneWithFPN`` pattern.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

from ..factory import create_model
from ..hornet import HorNet
from .decoders import FPNSegHead, UPerHead, pyramid

__all__ = [
    "AUTHORS_WIDTH",
    "HEADS",
    "HorNetFPNBackbone",
    "Segmenter",
    "create_segmenter",
    "decoder_width",
    "maskrcnn_hornet",
]

#: Segmentation heads of :func:`create_segmenter`.
HEADS = ("fpn", "horfpn", "uper", "gnuper")
#: The authors' decoder widths (UPerNet 512, FPN 256), the same for every published size.
AUTHORS_WIDTH = {"uper": 512, "gnuper": 512, "fpn": 256, "horfpn": 256}


def decoder_width(head: str, stage_widths: Sequence[int]) -> int:
    """The default width of ``head`` on a backbone with ``stage_widths`` (finest first).

    UPerNet as wide as the last stage, an FPN half that, each at most the authors'
    width (512 / 256). At HorNet-T (last stage 512), the smallest size the authors
    trained dense heads on, this is their 512 / 256, kept for every larger size as
    they do; below it the head narrows with the backbone (nano: 256 / 128, mini:
    128 / 64) instead of dwarfing it.
    """
    if head not in AUTHORS_WIDTH:
        raise ValueError(f"head must be one of {HEADS}, got {head!r}")
    last = int(stage_widths[-1])
    own = last if head in ("uper", "gnuper") else last // 2
    return min(own, AUTHORS_WIDTH[head])


def _backbone(backbone: str | nn.Module, **kwargs: Any) -> nn.Module:
    """A feature backbone: a HorNet built by name (no classifier head), or the module."""
    if isinstance(backbone, str):
        return create_model(backbone, num_classes=0, **kwargs)
    if kwargs:
        raise ValueError(f"backbone options {sorted(kwargs)} apply only to a named backbone")
    if not callable(getattr(backbone, "forward_intermediates", None)):
        raise TypeError(
            f"the backbone must be a HorNet variant name or a module with forward_intermediates; "
            f"got {type(backbone).__name__}"
        )
    return backbone


def _stage_widths(backbone: nn.Module) -> list[int]:
    """Channels of the backbone's stage maps, finest first, from timm's ``feature_info``."""
    info = getattr(backbone, "feature_info", None)
    if info is None:
        raise ValueError(
            f"{type(backbone).__name__} has no feature_info; pass in_channels=[...] "
            "(the widths of the maps its forward_intermediates returns)"
        )
    if callable(getattr(info, "channels", None)):  # timm's FeatureInfo
        return list(info.channels())
    return [int(level["num_chs"]) for level in info]


def _name(backbone: nn.Module) -> str:
    return (
        f"{type(backbone).__name__}(base_dim={backbone.config.base_dim})"
        if isinstance(backbone, HorNet)
        else type(backbone).__name__
    )


class Segmenter(nn.Module):
    """Backbone + decode head: images (B, 3, H, W) -> logits (B, K, H, W).

    The head maps the backbone's stage maps (finest first) to logits at the finest
    map's resolution; they are upsampled bilinearly to the input's.

    Args:
        backbone: a module with ``forward_intermediates(x, intermediates_only=True)``.
        head: a decode head taking the list of stage maps (an :class:`UPerHead`, ...).
    """

    def __init__(self, backbone: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Activation checkpointing in the backbone, where it offers it (timm's name)."""
        setter = getattr(self.backbone, "set_grad_checkpointing", None)
        if setter is not None:
            setter(enable)
        elif enable:
            raise ValueError(f"{type(self.backbone).__name__} has no set_grad_checkpointing")

    def layer_id(self, param_name: str) -> int:
        """Depth of a parameter for layer-wise lr decay: the backbone's own ids, and
        one past its deepest for every decoder parameter (the decoder is not decayed)."""
        layer_id = getattr(self.backbone, "layer_id", None)
        if layer_id is None:
            raise ValueError(f"{type(self.backbone).__name__} has no layer_id for layer decay")
        top = layer_id("head.weight")  # the backbone's id for its last layers
        if param_name.startswith("backbone."):
            return layer_id(param_name.removeprefix("backbone."))
        return top

    def features(self, x: Tensor) -> Tensor:
        """The head's fused map before its classifier: (B, channels, h_0, w_0)."""
        return self.head.forward_features(self.backbone.forward_intermediates(x, **_ONLY))

    def forward(self, x: Tensor) -> Tensor:
        logits = self.head(self.backbone.forward_intermediates(x, **_ONLY))  # (B, K, h_0, w_0)
        return F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)


_ONLY = {"intermediates_only": True}


def create_segmenter(
    backbone: str | nn.Module,
    num_classes: int,
    head: str | nn.Module = "uper",
    *,
    channels: int | None = None,
    mixer: str = "7x7",
    in_channels: Sequence[int] | None = None,
    **backbone_kwargs: Any,
) -> Segmenter:
    """A semantic segmenter: images (B, 3, H, W) -> logits (B, num_classes, H, W).

    Args:
        backbone: a HorNet variant name (built with ``num_classes=0``; e.g. pass
            ``pretrained=True`` through ``backbone_kwargs`` for published weights), a
            :class:`~hornet_ref.HorNet`, or any module with ``forward_intermediates``
            returning its stage maps, finest first.
        num_classes: classes K (background included if it is a class).
        head: ``"fpn"`` / ``"horfpn"`` (:class:`FPNSegHead` with torchvision's FPN or
            :class:`HorFPN`), ``"uper"`` / ``"gnuper"`` (:class:`UPerHead` with conv or
            gnConv fusion), or a head module with ``in_channels``.
        channels: the head's width (default: :func:`decoder_width`, which follows the
            backbone: 512 for UPerNet and 256 for the FPN heads from HorNet-T up).
        mixer: the decoder gnConv's mixer, ``"7x7"`` or ``"gf"``.
        in_channels: the backbone's stage widths, where it has no ``feature_info``.
        **backbone_kwargs: options of :func:`~hornet_ref.create_model` for a named backbone.
    """
    net = _backbone(backbone, **backbone_kwargs)
    widths = list(in_channels) if in_channels is not None else _stage_widths(net)
    if isinstance(head, nn.Module):
        expected = list(getattr(head, "in_channels", widths))
        if expected != widths:
            raise ValueError(
                f"backbone {_name(net)} gives stage widths {widths}, "
                f"but the head {type(head).__name__} expects {expected}"
            )
        return Segmenter(net, head)
    if head not in HEADS:
        raise ValueError(f"head must be one of {HEADS} or a module, got {head!r}")
    width = channels or decoder_width(head, widths)
    if head in ("fpn", "horfpn"):
        decoder = FPNSegHead(widths, num_classes, channels=width, neck=head, mixer=mixer)
    else:
        fusion = "conv" if head == "uper" else "gnconv"
        decoder = UPerHead(widths, num_classes, channels=width, fusion=fusion, mixer=mixer)
    return Segmenter(net, decoder)


class HorNetFPNBackbone(nn.Module):
    """A HorNet's stage maps through an FPN or HorFPN: images -> OrderedDict of maps.

    Returns ``{"0": P2, "1": P3, "2": P4, "3": P5, "pool": P6}``, each (B,
    ``out_channels``, h_i, w_i), the layout torchvision's detection heads read.

    Args:
        body: a module with ``forward_intermediates`` (a HorNet).
        in_channels_list: the body's stage widths, finest first.
        out_channels: the pyramid's width.
        neck: ``"fpn"`` or ``"horfpn"``.
        mixer: the HorFPN gnConv's mixer, ``"7x7"`` or ``"gf"``.
    """

    def __init__(
        self,
        body: nn.Module,
        in_channels_list: Sequence[int],
        out_channels: int = 256,
        *,
        neck: str = "fpn",
        mixer: str = "7x7",
    ) -> None:
        super().__init__()
        self.body = body
        self.in_channels_list = list(in_channels_list)
        self.fpn = pyramid(
            self.in_channels_list, out_channels, neck=neck, mixer=mixer,
            extra_blocks=LastLevelMaxPool(),
        )  # fmt: skip
        self.out_channels = out_channels

    def forward(self, x: Tensor) -> OrderedDict[str, Tensor]:
        maps = self.body.forward_intermediates(x, **_ONLY)
        got = [m.shape[1] for m in maps]
        if got != self.in_channels_list:
            raise ValueError(
                f"backbone {_name(self.body)} gives stage widths {got}, "
                f"but the neck expects {self.in_channels_list}"
            )
        return self.fpn(OrderedDict((str(i), m) for i, m in enumerate(maps)))


def maskrcnn_hornet(
    backbone: str | nn.Module,
    num_classes: int,
    neck: str = "fpn",
    *,
    out_channels: int = 256,
    mixer: str = "7x7",
    anchor_sizes: Sequence[int] = (32, 64, 128, 256, 512),
    mask_channels: int = 256,
    representation_size: int = 1024,
    backbone_kwargs: dict[str, Any] | None = None,
    **maskrcnn_kwargs: Any,
) -> MaskRCNN:
    """torchvision's Mask R-CNN on a HorNet backbone with an FPN or HorFPN neck.

    In train mode ``model(images, targets)`` returns torchvision's loss dict; in eval
    mode ``model(images)`` returns, per image, ``boxes`` (N, 4), ``labels`` (N,),
    ``scores`` (N,) and ``masks`` (N, 1, H, W). A target with zero boxes (``boxes``
    of shape (0, 4), ``labels`` (0,), ``masks`` (0, H, W)) is an all-background image.

    Args:
        backbone: a HorNet variant name (``backbone_kwargs`` go to
            :func:`~hornet_ref.create_model`, e.g. ``{"pretrained": True}``) or a HorNet.
        num_classes: classes including the background (class 0).
        neck: ``"fpn"`` (torchvision's) or ``"horfpn"`` (:class:`HorFPN`).
        out_channels: the pyramid's width (256 in the authors' Mask R-CNN).
        mixer: the HorFPN gnConv's mixer.
        anchor_sizes: one anchor size (pixels) per pyramid level P2..P6; the default
            is torchvision's, for COCO-sized images; small images want small ones.
        mask_channels: width of the four 3x3 convs of the mask head (256 in
            torchvision and Mask R-CNN; smaller for quick CPU runs).
        representation_size: width of the box head's two fully connected layers
            (1024 in torchvision and Mask R-CNN; smaller for quick CPU runs).
        backbone_kwargs: options of :func:`~hornet_ref.create_model` for a named backbone.
        **maskrcnn_kwargs: any :class:`torchvision.models.detection.MaskRCNN` option,
            e.g. ``min_size=128, max_size=128`` for small images.
    """
    body = _backbone(backbone, **(backbone_kwargs or {}))
    fpn_backbone = HorNetFPNBackbone(
        body, _stage_widths(body), out_channels, neck=neck, mixer=mixer
    )
    if "rpn_anchor_generator" not in maskrcnn_kwargs:
        if len(anchor_sizes) != 5:
            raise ValueError(f"anchor_sizes needs one size per level P2..P6, got {anchor_sizes}")
        maskrcnn_kwargs["rpn_anchor_generator"] = AnchorGenerator(
            tuple((s,) for s in anchor_sizes), ((0.5, 1.0, 2.0),) * 5
        )
    # torchvision's default box and mask heads, with their widths exposed.
    maskrcnn_kwargs.setdefault(
        "mask_head", MaskRCNNHeads(out_channels, [mask_channels] * 4, dilation=1)
    )
    if "box_head" not in maskrcnn_kwargs:
        pool = maskrcnn_kwargs.get("box_roi_pool")
        side = pool.output_size[0] if pool is not None else 7  # torchvision's box RoIAlign: 7x7
        maskrcnn_kwargs["box_head"] = TwoMLPHead(out_channels * side**2, representation_size)
    return MaskRCNN(
        fpn_backbone,
        num_classes=None,
        box_predictor=FastRCNNPredictor(representation_size, num_classes),
        mask_predictor=MaskRCNNPredictor(mask_channels, mask_channels, num_classes),
        **maskrcnn_kwargs,
    )
