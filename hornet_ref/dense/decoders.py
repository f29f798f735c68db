r"""gnConv in decoders: HorFPN and the gnConv UPerNet head (Rao et al. 2022, Section 4.3).

The decoder gnConv keeps the backbone's recursion but sets its own widths and drops
the scale ($s = 1$): with inner width $C$ (the decoder's channels),

$$
[p_0,\ q] = \phi_{\text{in}}(x) \in \mathbb{R}^{2C}, \quad
[g_0, g_1] = f(q), \quad
p_1 = p_0 \odot g_0, \quad
y = \phi_{\text{out}}(\text{pws}_0(p_1) \odot g_1)
$$

for order 2, where $\phi_{\text{in}}$ reads the decoder's input width and $f$ is a 7x7
depthwise conv (or a Global-Local Filter stored at (32, 17) and resized to each map).

- :class:`HorFPN` is torchvision's FeaturePyramidNetwork whose per-level 3x3 output
  convs are that module (order 2, 7x7, proj_out, no norm, no activation).
- :class:`UPerHead` is UPerNet (Xiao et al., ECCV 2018): pyramid pooling on the last
  level, lateral 1x1 convs, a top-down sum, 3x3 per-level convs, everything upsampled
  to the finest level and concatenated, then a fusion layer: a 3x3 conv
  (``fusion="conv"``) or the decoder gnConv followed by the head's norm and
  activation (``fusion="gnconv"``, the authors' head).
- :class:`FPNSegHead` is a small semantic-segmentation head on an FPN or HorFPN: the
  pyramid's levels upsampled to the finest and summed, then a classifier.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.ops import Conv2dNormActivation, FeaturePyramidNetwork
from torchvision.ops.feature_pyramid_network import ExtraFPNBlock

from ..gnconv import GlobalLocalFilter, GnConv

__all__ = ["MIXERS", "FPNSegHead", "HorFPN", "UPerHead", "decoder_gnconv", "pyramid"]

#: Mixers of the decoder gnConv: the 7x7 depthwise conv, or the authors' decoder GF.
MIXERS = ("7x7", "gf")

#: The decoder GF filter's stored (h, w); it is resized to each map at run time.
DECODER_GF_SIZE = (32, 17)


def decoder_gnconv(
    in_channels: int,
    out_channels: int,
    *,
    order: int = 2,
    mixer: str = "7x7",
    proj_out: bool = True,
) -> GnConv:
    """The authors' decoder gnConv: (B, in_channels, H, W) -> (B, out_channels, H, W).

    Inner width C = ``out_channels``, $s = 1$, no residual; ``mixer`` is ``"7x7"`` (a
    depthwise 7x7 conv) or ``"gf"`` (a Global-Local Filter stored at (32, 17)). Norm
    and activation, where a decoder wants them, come after it.
    """
    if mixer not in MIXERS:
        raise ValueError(f"decoder gnConv mixer must be one of {MIXERS}, got {mixer!r}")
    h, w = DECODER_GF_SIZE
    factory = None if mixer == "7x7" else partial(GlobalLocalFilter, h=h, w=w)
    return GnConv(
        out_channels,
        order=order,
        mixer=factory,
        kernel_size=7,
        scale=1.0,
        in_dim=in_channels,
        out_dim=out_channels,
        proj_out=proj_out,
    )


class HorFPN(FeaturePyramidNetwork):
    """torchvision's FPN with gnConv output layers: dict of (B, c_i, h_i, w_i) -> dict of
    (B, out_channels, h_i, w_i).

    The lateral 1x1 convs and the top-down sum are torchvision's; each level's 3x3
    output conv becomes :func:`decoder_gnconv` (order 2, ``mixer``, s = 1, proj_out,
    no norm or activation), as in the authors' detection neck.

    Args:
        in_channels_list: channels of the backbone maps, finest first.
        out_channels: the pyramid's width (256 in the authors' Mask R-CNN).
        mixer: ``"7x7"`` or ``"gf"``.
        extra_blocks: as in torchvision (e.g. ``LastLevelMaxPool()`` for Mask R-CNN).
    """

    def __init__(
        self,
        in_channels_list: Sequence[int],
        out_channels: int = 256,
        *,
        mixer: str = "7x7",
        extra_blocks: ExtraFPNBlock | None = None,
    ) -> None:
        super().__init__(list(in_channels_list), out_channels, extra_blocks=extra_blocks)
        for i in range(len(self.layer_blocks)):
            self.layer_blocks[i] = decoder_gnconv(out_channels, out_channels, mixer=mixer)


def pyramid(
    in_channels: Sequence[int],
    channels: int,
    *,
    neck: str = "fpn",
    mixer: str = "7x7",
    **fpn_kwargs,
) -> FeaturePyramidNetwork:
    """torchvision's FPN (``neck="fpn"``) or :class:`HorFPN` (``"horfpn"``), the one
    choice every dense model here makes; ``fpn_kwargs`` go to the FPN (``extra_blocks``)."""
    if neck not in ("fpn", "horfpn"):
        raise ValueError(f"neck must be 'fpn' or 'horfpn', got {neck!r}")
    if neck == "fpn":
        return FeaturePyramidNetwork(list(in_channels), channels, **fpn_kwargs)
    return HorFPN(list(in_channels), channels, mixer=mixer, **fpn_kwargs)


def _check_levels(name: str, in_channels: Sequence[int], maps: Sequence[Tensor]) -> None:
    got = [m.shape[1] for m in maps]
    if got != list(in_channels):
        raise ValueError(
            f"{name} was built for input widths {list(in_channels)}, "
            f"got maps with widths {got} (shapes {[tuple(m.shape) for m in maps]})"
        )


class FPNSegHead(nn.Module):
    """Semantic-segmentation head on an FPN or HorFPN: list of (B, c_i, h_i, w_i), finest
    first -> logits (B, num_classes, h_0, w_0).

    The pyramid's outputs are upsampled (bilinear) to the finest level and summed,
    then a norm, ReLU and 1x1 classifier; the decoders differ only in the pyramid.

    Args:
        in_channels: channels of the backbone maps, finest first.
        num_classes: classes K of the logits.
        channels: the pyramid's width.
        neck: ``"fpn"`` (torchvision's 3x3 output convs) or ``"horfpn"``.
        mixer: the HorFPN gnConv's mixer, ``"7x7"`` or ``"gf"``.
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        num_classes: int,
        *,
        channels: int = 256,
        neck: str = "fpn",
        mixer: str = "7x7",
    ) -> None:
        super().__init__()
        self.in_channels = list(in_channels)
        self.fpn = pyramid(self.in_channels, channels, neck=neck, mixer=mixer)
        self.norm = nn.BatchNorm2d(channels)
        self.classifier = nn.Conv2d(channels, num_classes, kernel_size=1)

    def forward_features(self, maps: Sequence[Tensor]) -> Tensor:
        """The fused pyramid before the classifier: (B, channels, h_0, w_0)."""
        _check_levels(type(self).__name__, self.in_channels, maps)
        levels = self.fpn(OrderedDict((str(i), m) for i, m in enumerate(maps)))
        size = maps[0].shape[-2:]
        fused = sum(
            F.interpolate(y, size=size, mode="bilinear", align_corners=False) if i else y
            for i, y in enumerate(levels.values())
        )  # (B, channels, h_0, w_0)
        return F.relu(self.norm(fused))

    def forward(self, maps: Sequence[Tensor]) -> Tensor:
        return self.classifier(self.forward_features(maps))


def _conv_bn_relu(c_in: int, c_out: int, kernel_size: int, norm: Callable[[int], nn.Module]):
    return Conv2dNormActivation(c_in, c_out, kernel_size, norm_layer=norm, bias=False)


class UPerHead(nn.Module):
    """UPerNet's decode head: list of (B, c_i, h_i, w_i), finest first -> logits
    (B, num_classes, h_0, w_0).

    Pyramid pooling (average pools to ``pool_scales`` x ``pool_scales``, 1x1 conv,
    upsample, concatenate, 3x3 conv) turns the last map into the top of a pyramid;
    lateral 1x1 convs bring the others to ``channels``, a top-down pass sums each
    with the upsampled level above, 3x3 convs smooth them, and all levels are
    upsampled to the finest, concatenated (4 * channels) and fused to ``channels``.
    Every conv is followed by ``norm_layer`` and ReLU.

    Args:
        in_channels: channels of the backbone maps, finest first.
        num_classes: classes K of the logits.
        channels: the head's width (512 in UPerNet and the authors' head).
        fusion: ``"conv"``: a 3x3 conv fuses the concatenation; ``"gnconv"``: the
            decoder gnConv (order 2, 7x7, s = 1, proj_out) then norm and ReLU.
        mixer: the fusion gnConv's mixer, ``"7x7"`` or ``"gf"``.
        pool_scales: output sides of the pyramid-pooling branches.
        dropout: dropout before the classifier (0.1 in UPerNet).
        norm_layer: the norm after each conv (BatchNorm2d, as in UPerNet).
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        num_classes: int,
        *,
        channels: int = 512,
        fusion: str = "conv",
        mixer: str = "7x7",
        pool_scales: Sequence[int] = (1, 2, 3, 6),
        dropout: float = 0.1,
        norm_layer: Callable[[int], nn.Module] = nn.BatchNorm2d,
    ) -> None:
        super().__init__()
        if fusion not in ("conv", "gnconv"):
            raise ValueError(f"fusion must be 'conv' or 'gnconv', got {fusion!r}")
        self.in_channels = list(in_channels)
        levels, top = len(self.in_channels), self.in_channels[-1]
        block = partial(_conv_bn_relu, norm=norm_layer)
        self.ppm = nn.ModuleList(
            nn.Sequential(nn.AdaptiveAvgPool2d(s), block(top, channels, 1)) for s in pool_scales
        )
        self.ppm_bottleneck = block(top + len(pool_scales) * channels, channels, 3)
        self.lateral_convs = nn.ModuleList(block(c, channels, 1) for c in self.in_channels[:-1])
        self.fpn_convs = nn.ModuleList(block(channels, channels, 3) for _ in range(levels - 1))
        if fusion == "conv":
            self.fpn_bottleneck = block(levels * channels, channels, 3)
        else:
            self.fpn_bottleneck = nn.Sequential(
                decoder_gnconv(levels * channels, channels, mixer=mixer),
                norm_layer(channels),
                nn.ReLU(inplace=True),
            )
        self.dropout = nn.Dropout2d(dropout)
        self.classifier = nn.Conv2d(channels, num_classes, kernel_size=1)

    def _pyramid_pooling(self, x: Tensor) -> Tensor:
        size = x.shape[-2:]
        pooled = [
            F.interpolate(branch(x), size=size, mode="bilinear", align_corners=False)
            for branch in self.ppm
        ]  # each (B, channels, h, w)
        return self.ppm_bottleneck(torch.cat([x, *pooled], dim=1))  # (B, channels, h, w)

    def forward_features(self, maps: Sequence[Tensor]) -> Tensor:
        """The fused map before dropout and classifier: (B, channels, h_0, w_0)."""
        _check_levels(type(self).__name__, self.in_channels, maps)
        laterals = [conv(m) for conv, m in zip(self.lateral_convs, maps)]
        laterals.append(self._pyramid_pooling(maps[-1]))
        for i in range(len(laterals) - 1, 0, -1):  # top-down: coarse into fine
            laterals[i - 1] = laterals[i - 1] + F.interpolate(
                laterals[i], size=laterals[i - 1].shape[-2:], mode="bilinear", align_corners=False
            )
        outs = [conv(lat) for conv, lat in zip(self.fpn_convs, laterals)] + [laterals[-1]]
        size = outs[0].shape[-2:]
        outs = [outs[0]] + [
            F.interpolate(o, size=size, mode="bilinear", align_corners=False) for o in outs[1:]
        ]
        return self.fpn_bottleneck(torch.cat(outs, dim=1))  # (B, 4C, h0, w0) -> (B, C, h0, w0)

    def forward(self, maps: Sequence[Tensor]) -> Tensor:
        return self.classifier(self.dropout(self.forward_features(maps)))
