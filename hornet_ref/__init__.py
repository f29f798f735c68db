"""hornet-ref: a readable, instrumented reference implementation of gnConv and HorNet.

Start with :class:`GnConv` (hornet_ref/gnconv.py), then :class:`HorNet`
(hornet_ref/hornet.py). The package is six layers, bottom to top; a module imports
only from its own layer and those below (:data:`LAYERS` lists them, and
tests/test_layers.py holds the code to it, with no circles between modules):

1. model: gnconv.py (GnConv, its mixers, Interactions), hornet.py (HorBlock, HorNet,
   the variant table, list_models / model_config), recorder.py (InteractionRecorder),
   flops.py (count_flops, count_params); with constants.py (IMAGENET_MEAN / STD),
   files.py (the atomic writer) and lazy.py (lazy attributes)
2. weights: checkpoint.py (load_pretrained, read_state_dict, convert_checkpoint),
   pretrained.py (the published weights by name, downloads), factory.py
   (create_model, with ``pretrained=``), export.py (torch.export, ONNX),
   predict.py (ImageNet labels of one image)
3. data: datasets/ (the built-in shapes and scenes, what every dataset shares),
   reference.py (the small trained network shipped with the package)
4. analyses and plotting: analysis/ (interaction maps, measured order, effective
   receptive fields, comparisons), plotting.py (their figures)
5. tasks and training: dense/ (decoders, segmenters, segmentation metrics), train/
   (TrainConfig, fit, the task registry, the classify and segment tasks), study/ (the
   order study)
6. the command line: cli/ (``hornet-ref``, one module per command group), and this
   file, the package's front door

Every name below is a lazy attribute: its module is imported on first use, so
``import hornet_ref`` (and ``hornet-ref --help``) imports no torch, and using a
model never imports the analysis, training or plotting code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .lazy import lazy_attributes

if TYPE_CHECKING:  # what IDEs and the API docs see; at run time __getattr__ imports on use
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
    from .checkpoint import CheckpointError, convert_checkpoint, load_pretrained, read_state_dict
    from .constants import IMAGENET_MEAN, IMAGENET_STD
    from .export import export_onnx, export_program, verify_onnx
    from .factory import create_model
    from .flops import count_flops, count_params
    from .gnconv import (
        GlobalLocalFilter,
        GnConv,
        Interactions,
        channel_widths,
        depthwise_conv,
        resize_complex_weight,
    )
    from .hornet import HorBlock, HorNet, HorNetConfig, list_models, model_config
    from .pretrained import DownloadError, eval_transform, list_pretrained
    from .recorder import InteractionRecorder
    from .train import TrainConfig, fit

__version__ = "0.1.0"

#: The layers, bottom to top, each the top-level modules and packages it holds;
#: ``__init__`` is this file.
LAYERS = (
    ("model", ("constants", "files", "lazy", "gnconv", "hornet", "recorder", "flops")),
    ("weights", ("checkpoint", "pretrained", "factory", "export", "predict")),
    ("data", ("datasets", "reference")),
    ("analysis", ("analysis", "plotting")),
    ("tasks", ("train", "dense", "study")),
    ("cli", ("cli", "__init__")),
)

# Which submodule defines each public name (tests/test_imports.py checks it).
_SOURCES = {
    "analysis": (
        "effective_receptive_field",
        "harsanyi_dividends",
        "high_contribution_area_ratio",
        "interaction_energy",
        "interaction_maps",
        "measure_order",
        "sample_images",
        "stage_erfs",
    ),
    "checkpoint": ("CheckpointError", "convert_checkpoint", "load_pretrained", "read_state_dict"),
    "constants": ("IMAGENET_MEAN", "IMAGENET_STD"),
    "export": ("export_onnx", "export_program", "verify_onnx"),
    "flops": ("count_flops", "count_params"),
    "gnconv": (
        "GlobalLocalFilter",
        "GnConv",
        "Interactions",
        "channel_widths",
        "depthwise_conv",
        "resize_complex_weight",
    ),
    "factory": ("create_model",),
    "hornet": ("HorBlock", "HorNet", "HorNetConfig", "list_models", "model_config"),
    "pretrained": ("DownloadError", "eval_transform", "list_pretrained"),
    "recorder": ("InteractionRecorder",),
    "train": ("TrainConfig", "fit"),
}

# A literal list, so that static tools (griffe, IDEs) read it.
__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "CheckpointError",
    "DownloadError",
    "GlobalLocalFilter",
    "GnConv",
    "HorBlock",
    "HorNet",
    "HorNetConfig",
    "InteractionRecorder",
    "Interactions",
    "TrainConfig",
    "channel_widths",
    "convert_checkpoint",
    "count_flops",
    "count_params",
    "create_model",
    "depthwise_conv",
    "effective_receptive_field",
    "eval_transform",
    "export_onnx",
    "export_program",
    "fit",
    "harsanyi_dividends",
    "high_contribution_area_ratio",
    "interaction_energy",
    "interaction_maps",
    "list_models",
    "list_pretrained",
    "load_pretrained",
    "measure_order",
    "model_config",
    "read_state_dict",
    "resize_complex_weight",
    "sample_images",
    "stage_erfs",
    "verify_onnx",
]

__getattr__, __dir__ = lazy_attributes(__name__, _SOURCES, submodules=("cli", "plotting"))
