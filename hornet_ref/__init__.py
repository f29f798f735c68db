"""hornet-ref: a readable, instrumented reference implementation of gnConv and HorNet.

Start with :class:`GnConv` (hornet_ref/gnconv.py), then :class:`HorNet`
(hornet_ref/hornet.py). Which file holds what:

- gnconv.py: GnConv, its mixers (depthwise conv, GlobalLocalFilter), Interactions
- hornet.py: HorBlock, HorNet, the variants, create_model / list_models
- recorder.py: InteractionRecorder, the interaction maps of a whole network
- analysis/: interaction maps, measured order, effective receptive fields, comparisons
- plotting.py: figures of the analyses (matplotlib)
- checkpoint.py: load_pretrained (the authors' checkpoints), read_state_dict
- flops.py: count_flops, count_params
- export.py: export_program (torch.export), export_onnx / verify_onnx (ONNX, onnxruntime)
- train/: training (TrainConfig, fit), the ``hornet-ref train`` / ``evaluate`` commands
- cli.py: the ``hornet-ref`` command
"""

from .analysis import (
    effective_receptive_field,
    harsanyi_dividends,
    high_contribution_area_ratio,
    interaction_energy,
    interaction_maps,
    measure_order,
    sample_images,
    stage_erfs,
)
from .checkpoint import CheckpointError, load_pretrained, read_state_dict
from .flops import count_flops, count_params
from .gnconv import (
    GlobalLocalFilter,
    GnConv,
    Interactions,
    channel_widths,
    depthwise_conv,
    resize_complex_weight,
)
from .hornet import HorBlock, HorNet, HorNetConfig, create_model, list_models, model_config
from .recorder import InteractionRecorder
from .train import TrainConfig, fit

__version__ = "0.1.0"

__all__ = [
    "CheckpointError",
    "GlobalLocalFilter",
    "GnConv",
    "HorBlock",
    "HorNet",
    "HorNetConfig",
    "InteractionRecorder",
    "Interactions",
    "TrainConfig",
    "channel_widths",
    "count_flops",
    "count_params",
    "create_model",
    "depthwise_conv",
    "effective_receptive_field",
    "export_onnx",
    "export_program",
    "fit",
    "harsanyi_dividends",
    "high_contribution_area_ratio",
    "interaction_energy",
    "interaction_maps",
    "list_models",
    "load_pretrained",
    "measure_order",
    "model_config",
    "read_state_dict",
    "resize_complex_weight",
    "sample_images",
    "stage_erfs",
    "verify_onnx",
]

_LAZY = {"export_onnx": "export", "export_program": "export", "verify_onnx": "export"}


def __getattr__(name: str):
    # Export tools load on first use: the model stack never imports them.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
