"""Dense prediction with gnConv decoders: HorFPN, the gnConv UPerNet head, Mask R-CNN.

- decoders.py: decoder_gnconv, HorFPN, UPerHead, FPNSegHead
- models.py: create_segmenter (Segmenter, decoder_width), maskrcnn_hornet (HorNetFPNBackbone)
- scenes (make_scenes, SceneSegmentation, SceneDetection) and SegmentationFolder, from
  the data layer (hornet_ref.datasets.scenes), re-exported here
- metrics.py: confusion_matrix, SegmentationMetrics (mIoU, pixel accuracy)

Not imported by ``import hornet_ref`` (it loads torchvision's detection models).
"""

from ..datasets.scenes import (
    IGNORE_INDEX,
    SceneDetection,
    Scenes,
    SceneSegmentation,
    SegmentationFolder,
    make_scenes,
)
from .decoders import MIXERS, FPNSegHead, HorFPN, UPerHead, decoder_gnconv
from .metrics import SegmentationMetrics, confusion_matrix
from .models import (
    HEADS,
    HorNetFPNBackbone,
    Segmenter,
    create_segmenter,
    decoder_width,
    maskrcnn_hornet,
)

__all__ = [
    "HEADS",
    "IGNORE_INDEX",
    "MIXERS",
    "FPNSegHead",
    "HorFPN",
    "HorNetFPNBackbone",
    "SceneDetection",
    "SceneSegmentation",
    "Scenes",
    "SegmentationFolder",
    "SegmentationMetrics",
    "Segmenter",
    "UPerHead",
    "confusion_matrix",
    "create_segmenter",
    "decoder_gnconv",
    "decoder_width",
    "make_scenes",
    "maskrcnn_hornet",
]
