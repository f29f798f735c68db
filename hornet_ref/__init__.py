"""hornet-ref: a readable, instrumented reference implementation of gnConv and HorNet.

Start with :class:`GnConv` (hornet_ref/gnconv.py), then :class:`HorNet`
(hornet_ref/hornet.py). Which file holds what:

- gnconv.py: GnConv, its mixers (depthwise conv, GlobalLocalFilter), Interactions
- hornet.py: HorBlock, HorNet, the variants, create_model / list_models
- recorder.py: InteractionRecorder, the interaction maps of a whole network
- analysis/: interaction maps, measured order, effective receptive fields, comparisons
- plotting.py: figures of the analyses (matplotlib)
- checkpoint.py: load_pretrained, read_state_dict (every published layout), convert_checkpoint
- pretrained.py: the published weights by name (list_pretrained, eval_transform)
- flops.py: count_flops, count_params
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
from .checkpoint import CheckpointError, convert_checkpoint, load_pretrained, read_state_dict
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
from .pretrained import DownloadError, eval_transform, list_pretrained
from .recorder import InteractionRecorder
from .train import TrainConfig, fit

__version__ = "0.1.0"

__all__ = [
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
    "count_flops",
    "convert_checkpoint",
    "count_params",
    "create_model",
    "depthwise_conv",
    "effective_receptive_field",
    "eval_transform",
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
]
