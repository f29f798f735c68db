"""Named HorNets, fresh or with their published weights: :func:`create_model`.

The network (``hornet_ref.hornet``) knows nothing of files or downloads, and the
weights code (``hornet_ref.checkpoint``, ``hornet_ref.pretrained``) builds no
network; this module, above both, joins them. The variants stay data in one place:
``hornet.py``'s table of :class:`~hornet_ref.hornet.HorNetConfig`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .checkpoint import gnconv_orders, load_pretrained
from .hornet import HorNet, model_config
from .pretrained import pretrained_cfg, pretrained_state_dict

__all__ = ["create_model"]


def create_model(
    name: str,
    pretrained: bool = False,
    pretrained_cfg_overlay: dict | None = None,
    **overrides,
) -> HorNet:
    """Build a named HorNet, e.g. ``create_model("hornet_tiny_gf", num_classes=10,
    drop_path_rate=0.2)``. See :func:`~hornet_ref.hornet.list_models` for the names.

    With ``pretrained=True`` it loads the published weights (see
    :func:`~hornet_ref.pretrained.list_pretrained`; downloaded once into torch.hub's
    cache), or the file ``pretrained_cfg_overlay={"file": path}`` names, in any layout
    :func:`~hornet_ref.read_state_dict` reads. The head follows the file (the Large
    models keep their ImageNet-22K head) unless ``num_classes`` asks for another, which
    is then fresh. So do the gnConv orders (a run trained with ``--orders 5``) unless
    ``orders`` is given. Every model carries ``model.pretrained_cfg`` (see
    :func:`~hornet_ref.pretrained.pretrained_cfg`).
    """
    if pretrained:
        return _with_published_weights(name, pretrained_cfg_overlay, overrides)
    model = HorNet(model_config(name, **overrides))
    base = model_config(name)
    model.pretrained_cfg = pretrained_cfg(
        name, pretrained_cfg_overlay, img_size=base.img_size, num_classes=base.num_classes
    )
    return model


def _with_published_weights(
    name: str, overlay: Mapping[str, Any] | None, overrides: dict[str, Any]
) -> HorNet:
    """create_model(name, pretrained=True, ...): the head follows the file unless
    ``num_classes`` is given and differs, then it is fresh."""
    base = model_config(name)
    cfg = pretrained_cfg(name, overlay, img_size=base.img_size, num_classes=base.num_classes)
    state = pretrained_state_dict(cfg)
    head = state.get("head.weight")
    file_classes = int(head.shape[0]) if head is not None else 0
    wanted = overrides.get("num_classes", file_classes)
    orders = gnconv_orders(state)  # (2, 3, 4, 5) for the paper's; a run's --orders otherwise
    if "orders" not in overrides and orders is not None and orders != base.orders:
        overrides = {**overrides, "orders": orders}
    model = HorNet(model_config(name, **{**overrides, "num_classes": wanted}))
    load_pretrained(model, state, skip_head=wanted != file_classes)
    cfg["num_classes"] = file_classes
    model.pretrained_cfg = cfg
    return model
