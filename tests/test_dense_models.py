"""Tests of hornet_ref/dense/decoders.py and models.py: HorFPN, UPerHead, segmenters, Mask R-CNN.

Tiny backbones (base width 8, one block per stage) and 32-64 px inputs keep each
test to a fraction of a second on a CPU.
"""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
from torch import nn
from torchvision.ops import FeaturePyramidNetwork

from hornet_ref import GnConv, HorNet, count_params, create_model
from hornet_ref.dense import (
    HEADS,
    FPNSegHead,
    HorFPN,
    SceneDetection,
    UPerHead,
    create_segmenter,
    decoder_gnconv,
    decoder_width,
    maskrcnn_hornet,
)
from hornet_ref.hornet import model_config

TINY = {"base_dim": 8, "depths": (1, 1, 1, 1)}  # stage widths 8, 16, 32, 64; stride 2..16


def _tiny() -> HorNet:
    return create_model("hornet_nano_7x7", num_classes=0, **TINY)


def test_decoder_gnconv_is_the_spec_module():
    """order 2, s = 1, inner width = out_channels, dims [128, 256], depthwise over 384."""
    g = decoder_gnconv(256, 256)
    assert isinstance(g, GnConv) and g.order == 2 and g.scale == 1.0
    assert g.dims == [128, 256] and g.dwconv.weight.shape == (384, 1, 7, 7)
    wide = decoder_gnconv(4 * 512, 512)
    assert wide.proj_in.weight.shape == (1024, 2048, 1, 1)
    assert wide.proj_out.weight.shape == (512, 512, 1, 1)
    with pytest.raises(ValueError, match=r"mixer must be one of"):
        decoder_gnconv(8, 8, mixer="9x9")


def test_horfpn_replaces_only_the_output_convs_and_has_fewer_parameters_at_256():
    widths = [64, 128, 256, 512]
    fpn, horfpn = FeaturePyramidNetwork(widths, 256), HorFPN(widths, 256)
    assert all(isinstance(b, GnConv) for b in horfpn.layer_blocks)
    lateral = sum(count_params(b) for b in fpn.inner_blocks)
    assert lateral == sum(count_params(b) for b in horfpn.inner_blocks)
    # Per level: a 3x3 conv has 256*256*9 + 256 = 590,080; the gnConv 249,600.
    assert count_params(fpn.layer_blocks[0]) == 590_080
    assert count_params(horfpn.layer_blocks[0]) == 249_600
    maps = OrderedDict((str(i), torch.randn(1, c, 16 >> i, 16 >> i)) for i, c in enumerate(widths))
    out = horfpn(maps)
    assert [tuple(v.shape) for v in out.values()] == [(1, 256, 16 >> i, 16 >> i) for i in range(4)]


def test_gnconv_uperhead_fusion_is_the_decoder_gnconv_then_norm_and_relu():
    head = UPerHead([8, 16, 32, 64], 5, channels=32, fusion="gnconv")
    gnconv, norm, act = head.fpn_bottleneck
    assert isinstance(gnconv, GnConv) and gnconv.in_dim == 4 * 32 and gnconv.out_dim == 32
    assert isinstance(norm, nn.BatchNorm2d) and isinstance(act, nn.ReLU)
    conv_head = UPerHead([8, 16, 32, 64], 5, channels=32, fusion="conv")
    assert conv_head.fpn_bottleneck[0].kernel_size == (3, 3)
    # Everything but the fusion layer is the same module tree.
    assert [n for n, _ in head.ppm.named_parameters()] == [
        n for n, _ in conv_head.ppm.named_parameters()
    ]
    with pytest.raises(ValueError, match=r"fusion must be 'conv' or 'gnconv'"):
        UPerHead([8], 2, fusion="attention")


@pytest.mark.parametrize("head", HEADS)
def test_segmenter_runs_forward_and_backward_at_input_resolution(head):
    torch.manual_seed(0)
    model = create_segmenter(_tiny(), num_classes=4, head=head, channels=16)
    x = torch.randn(2, 3, 48, 64)
    logits = model(x)
    assert logits.shape == (2, 4, 48, 64)
    logits.logsumexp(1).mean().backward()
    grads = [p.grad for p in model.head.parameters() if p.requires_grad]
    assert all(g is not None for g in grads)
    assert model.backbone.stages[0][0].gnconv.proj_in.weight.grad.abs().sum() > 0


def test_segmenter_from_a_variant_name_and_with_a_gf_decoder():
    model = create_segmenter("hornet_nano_7x7", 3, head="horfpn", channels=16, mixer="gf", **TINY)
    assert model.backbone.num_classes == 0
    assert model.head.fpn.layer_blocks[0].dwconv.complex_weight.shape[1:3] == (32, 17)
    assert model(torch.randn(1, 3, 32, 48)).shape == (1, 3, 32, 48)


@pytest.mark.parametrize(
    ("variant", "uper", "fpn"),
    [
        ("hornet_mini_7x7", 128, 64),
        ("hornet_nano_7x7", 256, 128),
        ("hornet_tiny_7x7", 512, 256),  # the authors' widths at the smallest size they used
        ("hornet_small_gf", 512, 256),  # and kept above it
        ("hornet_large_7x7", 512, 256),
    ],
)
def test_default_decoder_width_follows_the_backbone_up_to_the_authors_widths(variant, uper, fpn):
    widths = model_config(variant).dims
    assert [decoder_width(head, widths) for head in HEADS] == [fpn, fpn, uper, uper]


def test_create_segmenter_takes_the_backbone_width_by_default_and_explicit_channels_win():
    """On a backbone of widths 8..64: UPerNet 64 wide, the FPN head 32, unless told."""
    for head, width in (("gnuper", 64), ("uper", 64), ("fpn", 32), ("horfpn", 32)):
        assert create_segmenter(_tiny(), 3, head=head).head.classifier.in_channels == width
        told = create_segmenter(_tiny(), 3, head=head, channels=24)
        assert told.head.classifier.in_channels == 24
    with pytest.raises(ValueError, match=r"head must be one of"):
        decoder_width("deeplab", [8, 16])


class _OtherBackbone(nn.Module):
    """Not a HorNet: two conv stages and timm's forward_intermediates / feature_info."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 6, 3, stride=2, padding=1)
        self.b = nn.Conv2d(6, 10, 3, stride=2, padding=1)
        self.feature_info = [{"num_chs": 6, "reduction": 2}, {"num_chs": 10, "reduction": 4}]

    def forward_intermediates(self, x, intermediates_only=False):
        a = self.a(x)
        return [a, self.b(a)]


def test_segmenter_on_any_backbone_with_forward_intermediates():
    model = create_segmenter(_OtherBackbone(), 2, head="gnuper", channels=8)
    assert model(torch.randn(2, 3, 20, 20)).shape == (2, 2, 20, 20)
    with pytest.raises(TypeError, match=r"module with forward_intermediates; got Linear"):
        create_segmenter(nn.Linear(2, 2), 2)


def test_mismatched_backbone_and_head_widths_name_both():
    head = FPNSegHead([16, 32, 64, 128], 3, channels=8)
    with pytest.raises(ValueError, match=r"stage widths \[8, 16, 32, 64\].*expects \[16, 32, 64"):
        create_segmenter(_tiny(), 3, head=head)
    uper = UPerHead([8, 16, 32, 64], 3, channels=8)
    with pytest.raises(ValueError, match=r"built for input widths \[8, 16, 32, 64\], got .*\[8, 8"):
        uper([torch.randn(1, 8, 8, 8)] * 4)
    with pytest.raises(ValueError, match=r"head must be one of"):
        create_segmenter(_tiny(), 3, head="deeplab")


#: Mask R-CNN options for 64 px images and fast tests (few proposals, a narrow mask head).
SMALL_DETECTOR = {
    "min_size": 64,
    "max_size": 64,
    "anchor_sizes": (8, 16, 32, 64, 128),
    "rpn_pre_nms_top_n_train": 200,
    "rpn_post_nms_top_n_train": 50,
    "rpn_pre_nms_top_n_test": 100,
    "rpn_post_nms_top_n_test": 20,
    "box_batch_size_per_image": 32,
    "box_detections_per_img": 10,
    "mask_channels": 16,
}


def _detection_batch():
    masks = torch.zeros(1, 64, 64, dtype=torch.uint8)
    masks[0, 8:40, 12:44] = 1
    with_box = {
        "boxes": torch.tensor([[12.0, 8.0, 44.0, 40.0]]),
        "labels": torch.tensor([2]),
        "masks": masks,
    }
    background = {  # zero boxes: an all-background image
        "boxes": torch.zeros(0, 4),
        "labels": torch.zeros(0, dtype=torch.int64),
        "masks": torch.zeros(0, 64, 64, dtype=torch.uint8),
    }
    return [torch.rand(3, 64, 64), torch.rand(3, 64, 64)], [with_box, background]


@pytest.mark.parametrize("neck", ["fpn", "horfpn"])
def test_maskrcnn_trains_and_predicts_with_either_neck(neck):
    torch.manual_seed(0)
    model = maskrcnn_hornet(_tiny(), 3, neck, out_channels=16, **SMALL_DETECTOR)
    assert isinstance(model.backbone.fpn, HorFPN) == (neck == "horfpn")
    images, targets = _detection_batch()
    losses = model(images, targets)
    assert set(losses) == {
        "loss_classifier",
        "loss_box_reg",
        "loss_mask",
        "loss_objectness",
        "loss_rpn_box_reg",
    }
    assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    assert model.backbone.body.stages[3][0].gnconv.proj_in.weight.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        (out, _) = model(images)
    assert set(out) == {"boxes", "labels", "scores", "masks"}
    assert out["masks"].shape[1:] == (1, 64, 64) and out["boxes"].shape[1:] == (4,)


def test_maskrcnn_accepts_a_batch_of_background_images_only():
    model = maskrcnn_hornet(_tiny(), 2, "horfpn", out_channels=16, **SMALL_DETECTOR)
    images, targets = _detection_batch()
    losses = model(images[1:], targets[1:])
    assert losses["loss_box_reg"].item() == 0.0 and losses["loss_classifier"].item() > 0
    with pytest.raises(ValueError, match=r"one size per level"):
        maskrcnn_hornet(_tiny(), 2, anchor_sizes=(8, 16))


@pytest.mark.slow
def test_maskrcnn_loss_falls_on_built_in_scenes():
    """A short built-in detection run: 8 scenes, 20 AdamW steps, HorFPN neck."""
    torch.manual_seed(0)
    data = SceneDetection(8, 64, seed=0, classes=("disk", "square", "triangle", "plus"))
    model = maskrcnn_hornet(_tiny(), data.num_classes, "horfpn", out_channels=16, **SMALL_DETECTOR)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    images, targets = zip(*(data[i] for i in range(len(data))))
    losses = []
    for _ in range(20):
        loss = sum(model(list(images), list(targets)).values())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    print(f"Mask R-CNN loss: first 3 steps {first:.3f}, last 3 {last:.3f}")
    assert last < 0.7 * first, losses


def test_segmenter_with_pretrained_backbone_loads_the_overlay_file(tmp_path):
    """``create_segmenter(name, pretrained=True, pretrained_cfg_overlay={"file": ...})``:
    the backbone holds the file's weights (its 1000-class head dropped), offline."""
    torch.manual_seed(5)
    source = create_model("hornet_mini_7x7").state_dict()
    path = tmp_path / "mini.pth"
    torch.save(source, path)
    overlay = {"file": str(path)}
    seg = create_segmenter(
        "hornet_mini_7x7",
        3,
        head="horfpn",
        channels=16,
        pretrained=True,
        pretrained_cfg_overlay=overlay,
    )
    loaded = seg.backbone.state_dict()
    assert not any(key.startswith("head.") for key in loaded)
    for key in loaded:
        torch.testing.assert_close(loaded[key], source[key], rtol=0, atol=0, msg=key)
    assert seg(torch.randn(1, 3, 64, 64)).shape == (1, 3, 64, 64)
