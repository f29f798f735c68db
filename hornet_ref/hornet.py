"""HorNet: a ConvNeXt-shaped backbone whose blocks mix space with gnConv.

Reference: Rao et al., "HorNet: Efficient High-Order Spatial Interactions with
Recursive Gated Convolutions", NeurIPS 2022, Section 3.3; facts in the project's
spec (shared/spec/HORNET.md). The layout follows ConvNeXt (Liu et al., 2022):
a 4x4 patchify stem, four stages at strides 4, 8, 16, 32 separated by 2x2
downsampling convs, and a pooled, normalised linear head.

Module and parameter names are those of the authors' checkpoints
(``downsample_layers``, ``stages``, ``gnconv``, ``pwconv1`` ...), so
``model.load_state_dict(official_state_dict)`` works with ``strict=True``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial

import torch
from einops import rearrange
from torch import Tensor, nn

from .gnconv import GlobalLocalFilter, GnConv, LayerNorm2d, MixerFactory, UngatedConv

__all__ = [
    "DropPath",
    "HorBlock",
    "HorNet",
    "HorNetConfig",
    "list_models",
    "model_config",
]


# Our own, not torchvision.ops.StochasticDepth: importing torchvision takes seconds.
class DropPath(nn.Module):
    """Stochastic depth per sample: (B, ...) -> (B, ...), Huang et al. (2016).

    In training, each sample's branch is zeroed with probability ``p`` and the kept
    ones are scaled by 1 / (1 - p), so the expectation is unchanged; in eval mode it
    is the identity. The same as torchvision's ``StochasticDepth(p, "row")``.
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"drop-path probability must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)  # (B, 1, ...)
        return x * mask.div_(keep)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class HorBlock(nn.Module):
    r"""One HorNet block on (B, C, H, W): a gnConv sub-block then an MLP sub-block.

    $$
    \begin{aligned}
    x &\leftarrow x + \mathrm{DropPath}(\gamma_1 \cdot \mathrm{gnConv}(\mathrm{LN}_1(x))), \\
    x &\leftarrow x + \mathrm{DropPath}(\gamma_2 \cdot W_2\,\mathrm{GELU}(W_1\,\mathrm{LN}_2(x)))
    \end{aligned}
    $$

    The MLP runs on the pixels as rows, (B*H*W, C), with ``nn.Linear`` layers, as
    ConvNeXt's runs on (B, H, W, C): the same math, but a layout that torch.compile's CPU
    code handles better (see :class:`~hornet_ref.gnconv.LayerNorm2d`). ``gamma1`` and
    ``gamma2`` are layer-scale vectors (initialised to ``layer_scale_init_value``); with
    ``layer_scale_init_value=0`` they are absent.

    Args:
        dim: channels C in and out.
        order: order n of the block's :class:`~hornet_ref.GnConv`.
        gating: False puts the no-gating control :class:`~hornet_ref.gnconv.UngatedConv`
            in the gnConv's place (``order`` is then unused).
        mixer: the gnConv's mixer factory (None: depthwise ``kernel_size`` conv).
        kernel_size: kernel of the default depthwise mixer.
        scale: the gnConv's scale s.
        drop_path: probability of dropping each residual branch (per sample).
        layer_scale_init_value: initial value of ``gamma1`` and ``gamma2``.
        mlp_ratio: hidden width of the MLP, in multiples of C.
    """

    def __init__(
        self,
        dim: int,
        *,
        order: int,
        gating: bool = True,
        mixer: MixerFactory | None = None,
        kernel_size: int = 7,
        scale: float = 1.0 / 3.0,
        drop_path: float = 0.0,
        layer_scale_init_value: float = 1e-6,
        mlp_ratio: int = 4,
    ) -> None:
        super().__init__()
        self.norm1 = LayerNorm2d(dim, eps=1e-6)
        # The spatial branch; under the authors' name even for the order-0 control.
        self.gnconv: nn.Module = (
            GnConv(dim, order=order, mixer=mixer, kernel_size=kernel_size, scale=scale)
            if gating
            else UngatedConv(dim, mixer=mixer, kernel_size=kernel_size)
        )
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, mlp_ratio * dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(mlp_ratio * dim, dim)
        if layer_scale_init_value > 0:
            self.gamma1 = nn.Parameter(torch.full((dim,), layer_scale_init_value))
            self.gamma2 = nn.Parameter(torch.full((dim,), layer_scale_init_value))
        else:
            self.gamma1 = self.gamma2 = None
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        y = self.gnconv(self.norm1(x))  # (B, C, H, W)
        if self.gamma1 is not None:
            y = rearrange(self.gamma1, "c -> c 1 1") * y
        x = x + self.drop_path(y)

        # The MLP acts on each pixel alone: pixels as rows, (B, C, H, W) -> (B*H*W, C).
        b, _, h, w = x.shape
        y = rearrange(x, "b c h w -> (b h w) c")
        y = self.pwconv2(self.act(self.pwconv1(self.norm2(y))))  # (B*H*W, C)
        if self.gamma2 is not None:
            y = self.gamma2 * y
        return x + self.drop_path(rearrange(y, "(b h w) c -> b c h w", b=b, h=h, w=w))


@dataclass(frozen=True)
class HorNetConfig:
    """Everything that defines a HorNet architecture (not its weights).

    Attributes:
        base_dim: width b of stage 1; stages 1-4 have b, 2b, 4b, 8b channels.
        depths: blocks per stage.
        orders: gnConv order n per stage; one int sets every stage.
        gating: False replaces every gnConv by the no-gating control
            :class:`~hornet_ref.gnconv.UngatedConv` (the order study's "order 0"; the
            orders are then unused).
        gf_sizes: per stage, ``None`` for the 7x7 depthwise mixer or ``(h, w)`` for a
            Global-Local Filter with an (h, w) stored filter.
        scale: the gnConv scale s = 1/alpha.
        kernel_size: kernel of the depthwise mixer.
        stem_patch: the stem's kernel and stride (4 in every published model; 1 or 2
            keeps small images large enough for four stages).
        img_size: the input side the model was designed (and its GF filters sized) for.
        num_classes: classes of the linear head; 0 for no head (features only).
        in_chans: channels of the input images.
        drop_path_rate: stochastic depth of the last block; it rises linearly from 0.
        train_drop_path: the drop_path_rate this variant is trained with by default
            (the paper's ImageNet-1K values: T 0.2, S 0.4, B 0.5); read by training
            code, not by the network.
        layer_scale_init_value: initial value of the layer-scale vectors gamma1 and
            gamma2 (0: no layer scale).
        head_init_scale: factor applied to the head's initial weights and bias.
    """

    base_dim: int = 64
    depths: tuple[int, int, int, int] = (2, 3, 18, 2)
    orders: tuple[int, int, int, int] | int = (2, 3, 4, 5)
    gating: bool = True
    gf_sizes: tuple[tuple[int, int] | None, ...] = (None, None, None, None)
    scale: float = 1.0 / 3.0
    kernel_size: int = 7
    stem_patch: int = 4
    img_size: int = 224
    num_classes: int = 1000
    in_chans: int = 3
    drop_path_rate: float = 0.0
    train_drop_path: float = 0.2
    layer_scale_init_value: float = 1e-6
    head_init_scale: float = 1.0

    def __post_init__(self) -> None:
        # orders=3 means (3, 3, 3, 3); a list from JSON becomes a tuple (hashable, comparable).
        orders = self.orders
        if isinstance(orders, int):
            orders = (orders,) * 4
        object.__setattr__(self, "orders", tuple(orders))

    @property
    def dims(self) -> list[int]:
        """Channels of the four stages: [b, 2b, 4b, 8b]."""
        return [self.base_dim * 2**i for i in range(4)]

    def validate(self) -> None:
        """Raise ValueError naming the field when the configuration cannot build."""
        for name in ("depths", "orders", "gf_sizes"):
            if len(getattr(self, name)) != 4:
                raise ValueError(f"HorNet needs 4 stages: {name} has {len(getattr(self, name))}")
        for i, (dim, order) in enumerate(zip(self.dims, self.orders)):
            if not isinstance(order, int) or order < 1:
                raise ValueError(f"stage {i}: a gnConv order is an integer >= 1, got {order!r}")
            if dim % 2 ** (order - 1):
                raise ValueError(
                    f"stage {i}: width {dim} (base_dim={self.base_dim}) is not divisible by "
                    f"2**(order-1) = {2 ** (order - 1)} for order {order}"
                )
        if any(d < 0 for d in self.depths):
            raise ValueError(f"depths must be >= 0, got {self.depths}")
        if not 0.0 <= self.drop_path_rate < 1.0:
            raise ValueError(f"drop_path_rate must be in [0, 1), got {self.drop_path_rate}")
        if self.num_classes < 0 or self.in_chans < 1 or self.stem_patch < 1:
            raise ValueError(
                f"need num_classes >= 0, in_chans >= 1, stem_patch >= 1; got "
                f"{self.num_classes}, {self.in_chans}, {self.stem_patch}"
            )


class HorNet(nn.Module):
    """The HorNet network: (B, in_chans, H, W) -> logits (B, num_classes).

    H and W must be divisible by ``stem_patch * 8`` (the total stride). Construct it
    from a :class:`HorNetConfig`, or by name with :func:`create_model`. Follows
    timm's backbone conventions: ``forward_features`` returns the last (unpooled)
    map, ``forward_head`` pools and classifies, ``forward_intermediates`` returns
    the stage maps, ``feature_info`` describes them, ``num_classes=0`` makes the
    head an identity (a feature extractor).

    Args:
        config: the architecture (default: ``HorNetConfig()``, HorNet-T 7x7).
        **overrides (Any): fields of the config to replace, e.g. ``num_classes=10``.
    """

    def __init__(self, config: HorNetConfig | None = None, **overrides) -> None:
        super().__init__()
        config = replace(config or HorNetConfig(), **overrides)
        config.validate()
        self.config = config
        dims = config.dims
        self.num_classes = config.num_classes
        self.num_features = dims[-1]

        # Stem (stride stem_patch) then 3 downsamplers (stride 2 each); names are the authors'.
        self.downsample_layers = nn.ModuleList()
        self.downsample_layers.append(
            nn.Sequential(
                nn.Conv2d(config.in_chans, dims[0], config.stem_patch, stride=config.stem_patch),
                LayerNorm2d(dims[0], eps=1e-6),
            )
        )
        for i in range(3):
            self.downsample_layers.append(
                nn.Sequential(
                    LayerNorm2d(dims[i], eps=1e-6),
                    nn.Conv2d(dims[i], dims[i + 1], kernel_size=2, stride=2),
                )
            )

        # Drop-path rate rises linearly from 0 over all blocks of all stages.
        total = sum(config.depths)
        rates = [config.drop_path_rate * i / max(total - 1, 1) for i in range(total)]
        self.stages = nn.ModuleList()
        for i, depth in enumerate(config.depths):
            gf = config.gf_sizes[i]
            mixer = None if gf is None else partial(GlobalLocalFilter, h=gf[0], w=gf[1])
            first = sum(config.depths[:i])
            self.stages.append(
                nn.Sequential(
                    *(
                        HorBlock(
                            dims[i],
                            order=config.orders[i],
                            gating=config.gating,
                            mixer=mixer,
                            kernel_size=config.kernel_size,
                            scale=config.scale,
                            drop_path=rates[first + j],
                            layer_scale_init_value=config.layer_scale_init_value,
                        )
                        for j in range(depth)
                    )
                )
            )

        self.norm = nn.LayerNorm(dims[-1], eps=1e-6)
        self.head = self._make_head(config.num_classes)
        self.grad_checkpointing = False
        self.feature_info = [
            {"num_chs": dims[i], "reduction": config.stem_patch * 2**i, "module": f"stages.{i}"}
            for i in range(4)
        ]
        self.apply(self._init_weights)
        if isinstance(self.head, nn.Linear):
            with torch.no_grad():
                self.head.weight.mul_(config.head_init_scale)
                self.head.bias.mul_(config.head_init_scale)

    def _make_head(self, num_classes: int) -> nn.Module:
        return nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.trunc_normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the head with a fresh one for ``num_classes`` (0: no head)."""
        self.num_classes = num_classes
        self.head = self._make_head(num_classes)
        if isinstance(self.head, nn.Linear):
            self._init_weights(self.head)

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute each block's activations in the backward pass instead of keeping
        them (activation checkpointing): less memory in training, more compute."""
        self.grad_checkpointing = enable

    def layer_id(self, param_name: str) -> int:
        """Depth of a parameter, for layer-wise lr decay: 0 for the stem, then one id
        per block in order (a downsampling layer shares its stage's first block's id),
        and ``sum(depths) + 1`` for the final norm and the head."""
        kind, *index = param_name.split(".")
        depths = self.config.depths
        if kind == "downsample_layers":
            stage = int(index[0])
            return 0 if stage == 0 else sum(depths[:stage]) + 1
        if kind == "stages":
            stage, block = int(index[0]), int(index[1])
            return sum(depths[:stage]) + block + 1
        return sum(depths) + 1

    def _stage(self, i: int, x: Tensor) -> Tensor:
        """Stage i's downsampling then its blocks, checkpointed block by block if enabled."""
        x = self.downsample_layers[i](x)
        if not (self.grad_checkpointing and self.training and torch.is_grad_enabled()):
            return self.stages[i](x)
        from torch.utils.checkpoint import checkpoint

        for block in self.stages[i]:
            x = checkpoint(block, x, use_reentrant=False)
        return x

    def _check_input(self, x: Tensor) -> None:
        c = self.config
        stride = c.stem_patch * 8
        if x.ndim != 4 or x.shape[1] != c.in_chans:
            raise ValueError(
                f"HorNet expects images (B, {c.in_chans}, H, W), got shape {tuple(x.shape)}"
            )
        if x.shape[-2] % stride or x.shape[-1] % stride:
            raise ValueError(
                f"HorNet with stem_patch={c.stem_patch} needs H and W divisible by {stride}, "
                f"got {tuple(x.shape[-2:])}"
            )

    def forward_intermediates(
        self,
        x: Tensor,
        indices: int | Sequence[int] | None = None,
        *,
        intermediates_only: bool = False,
        stop_early: bool = False,
    ) -> list[Tensor] | tuple[Tensor, list[Tensor]]:
        """The feature maps after the chosen stages.

        Args:
            x: images (B, in_chans, H, W).
            indices: stage indices (0-3) to return; an int n means the last n
                stages; None means all four.
            intermediates_only: return only the list of maps.
            stop_early: stop after the last requested stage (then the returned
                final map is that stage's map, not stage 4's).

        Returns:
            ``(last_map, [map_i for i in indices])`` or, with ``intermediates_only``,
            the list alone. Stage i's map has shape
            (B, base_dim * 2**i, H / (stem_patch * 2**i), W / (stem_patch * 2**i)).
        """
        self._check_input(x)
        if indices is None:
            wanted = [0, 1, 2, 3]
        elif isinstance(indices, int):
            if not 1 <= indices <= 4:
                raise ValueError(f"indices as an int counts the last stages: 1..4, got {indices}")
            wanted = list(range(4 - indices, 4))
        else:
            if not indices or any(not -4 <= int(i) <= 3 for i in indices):
                raise ValueError(f"stage indices must lie in 0..3 (or -4..-1), got {list(indices)}")
            wanted = sorted({int(i) % 4 for i in indices})
        last = wanted[-1] if (stop_early or intermediates_only) else 3
        maps = []
        for i in range(last + 1):
            x = self._stage(i, x)
            if i in wanted:
                maps.append(x)
        return maps if intermediates_only else (x, maps)

    def forward_features(self, x: Tensor) -> Tensor:
        """The last stage's map, unpooled: (B, 8 * base_dim, H / (8 * stem_patch), W / ...)."""
        self._check_input(x)
        for i in range(4):
            x = self._stage(i, x)
        return x

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        """Global average pool, LayerNorm, then the linear head: (B, C, h, w) -> (B, num_classes).

        With ``pre_logits`` it stops before the head and returns (B, C).
        """
        x = self.norm(x.mean(dim=(-2, -1)))  # (B, C)
        return x if pre_logits else self.head(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))


def _published(base_dim: int, gf: bool, drop_path: float, img_size: int = 224) -> HorNetConfig:
    gf_sizes = (None, None, None, None)
    if gf:
        # Stage 3 and 4 maps are img_size/16 and img_size/32; filters fit their rfft2 spectra.
        gf_sizes = (None, None, (14, 8), (7, 4))
        if img_size == 384:
            gf_sizes = (None, None, (24, 13), (12, 7))
    return HorNetConfig(
        base_dim=base_dim, gf_sizes=gf_sizes, img_size=img_size, train_drop_path=drop_path
    )


def _small(base_dim: int, depths, gf_sizes, stem_patch: int, img_size: int, num_classes: int):
    return HorNetConfig(
        base_dim=base_dim,
        depths=depths,
        gf_sizes=gf_sizes,
        stem_patch=stem_patch,
        img_size=img_size,
        num_classes=num_classes,
        train_drop_path=0.1,
    )


_MODELS: dict[str, HorNetConfig] = {
    # The ten published variants (Rao et al. 2022, Table 1 and the authors' model file),
    # with the paper's training drop path (L: its ImageNet-22K pre-training value).
    "hornet_tiny_7x7": _published(64, gf=False, drop_path=0.2),
    "hornet_tiny_gf": _published(64, gf=True, drop_path=0.2),
    "hornet_small_7x7": _published(96, gf=False, drop_path=0.4),
    "hornet_small_gf": _published(96, gf=True, drop_path=0.4),
    "hornet_base_7x7": _published(128, gf=False, drop_path=0.5),
    "hornet_base_gf": _published(128, gf=True, drop_path=0.5),
    "hornet_base_gf_img384": _published(128, gf=True, drop_path=0.5, img_size=384),
    "hornet_large_7x7": _published(192, gf=False, drop_path=0.2),
    "hornet_large_gf": _published(192, gf=True, drop_path=0.2),
    "hornet_large_gf_img384": _published(192, gf=True, drop_path=0.2, img_size=384),
    # Small models for CPU work. mini: the parity fixtures' architecture (64-224 px).
    "hornet_mini_7x7": _small(16, (1, 1, 2, 1), (None,) * 4, 4, 64, 10),
    "hornet_mini_gf": _small(16, (1, 1, 2, 1), (None, None, (14, 8), (7, 4)), 4, 224, 10),
    # nano: 32x32 images (CIFAR, the built-in data); a 2x2 stem keeps maps 16, 8, 4, 2.
    "hornet_nano_7x7": _small(32, (1, 1, 3, 1), (None,) * 4, 2, 32, 10),
    "hornet_nano_gf": _small(32, (1, 1, 3, 1), (None, None, (4, 3), (2, 2)), 2, 32, 10),
    # nano_s4: nano's widths and depths behind mini's 4x4 stem, for a folder's 64-224 px
    # images (docs/training.md, "Your own data": 83-86% against mini's 77% at 128 px).
    "hornet_nano_s4_7x7": _small(32, (1, 1, 3, 1), (None,) * 4, 4, 128, 10),
}

#: The ten variants with published checkpoints.
PUBLISHED = tuple(name for name in _MODELS if not name.startswith(("hornet_mini", "hornet_nano")))


def list_models() -> list[str]:
    """Names accepted by :func:`~hornet_ref.factory.create_model`: the ten published variants,
    then small ones."""
    return list(_MODELS)


def model_config(name: str, **overrides) -> HorNetConfig:
    """The :class:`HorNetConfig` of a named variant, with any fields overridden."""
    if name not in _MODELS:
        raise ValueError(f"unknown model {name!r}; valid names: {', '.join(_MODELS)}")
    fields = HorNetConfig.__dataclass_fields__
    unknown = sorted(set(overrides) - set(fields))
    if unknown:
        raise ValueError(f"unknown HorNet option(s) {unknown}; valid: {', '.join(fields)}")
    return replace(_MODELS[name], **overrides)
