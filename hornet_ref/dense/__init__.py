"""Dense prediction with gnConv decoders: HorFPN, the gnConv UPerNet head, Mask R-CNN.

- decoders.py: decoder_gnconv, HorFPN, UPerHead, FPNSegHead
- models.py: create_segmenter (Segmenter), maskrcnn_hornet (HorNetFPNBackbone)

Not imported by ``import hornet_ref`` (it loads torchvision's detection models).
"""

from .decoders import MIXERS, FPNSegHead, HorFPN, UPerHead, decoder_gnconv
from .models import HEADS, HorNetFPNBackbone, Segmenter, create_segmenter, maskrcnn_hornet

__all__ = [
    "HEADS",
    "MIXERS",
    "FPNSegHead",
    "HorFPN",
    "HorNetFPNBackbone",
    "Segmenter",
    "UPerHead",
    "create_segmenter",
    "decoder_gnconv",
    "maskrcnn_hornet",
]
