"""The instrumentation on decoders: InteractionRecorder, interaction maps and ERFs of
segmenters (hornet_ref/recorder.py and hornet_ref/analysis/ on hornet_ref/dense)."""

from __future__ import annotations

import torch

from hornet_ref import InteractionRecorder, create_model
from hornet_ref.analysis import effective_receptive_field, interaction_maps
from hornet_ref.dense import FPNSegHead, create_segmenter


def _segmenter(head: str):
    torch.manual_seed(0)
    backbone = create_model("hornet_nano_7x7", num_classes=0, base_dim=8, depths=(1, 1, 1, 1))
    return create_segmenter(backbone, 3, head=head, channels=16)


def test_recorder_reaches_the_decoder_gnconvs_of_a_segmenter():
    model = _segmenter("horfpn").eval()
    with InteractionRecorder(model) as rec:
        model(torch.randn(1, 3, 32, 32))
    decoder = sorted(n for n in rec if n.startswith("head."))  # FPN runs top-down
    assert decoder == [f"head.fpn.layer_blocks.{i}" for i in range(4)]
    assert rec["head.fpn.layer_blocks.0"].p[-1].shape == (1, 16, 16, 16)
    # (stage, block) still finds the backbone's records inside the segmenter.
    assert rec[2, 0] is rec["backbone.stages.2.0.gnconv"]
    uper = _segmenter("gnuper").eval()
    with InteractionRecorder(uper, include=["head.fpn_bottleneck.0"]) as rec:
        uper(torch.randn(1, 3, 32, 32))
    assert rec["head.fpn_bottleneck.0"].order == 2


def test_interaction_maps_of_a_decoder_gnconv_reach_its_7x7_window():
    model = _segmenter("horfpn")
    maps = interaction_maps(model, torch.randn(1, 3, 32, 32), module="head.fpn.layer_blocks.0")
    assert maps.maps.shape == (3, 16, 16)  # p_0, p_1, p_2 over the finest 16x16 map
    assert maps.reach() == [(1, 1), (7, 7), (7, 7)]
    assert model.training  # the analysis restored the mode


def test_a_horfpn_output_pixel_sees_7x7_where_an_fpn_one_sees_3x3():
    """The ERF of a one-level decoder's output over its input map: the FPN's 3x3 output
    conv against HorFPN's gnConv with its 7x7 mixer (lateral 1x1s add no reach)."""
    x = torch.randn(2, 8, 15, 15)
    reach = {}
    for neck in ("fpn", "horfpn"):
        torch.manual_seed(0)
        head = FPNSegHead([8], 2, channels=8, neck=neck).eval()  # BN: no batch statistics
        erf = effective_receptive_field(lambda m, h=head: h.forward_features([m]), x, recipe="luo")
        rows, cols = torch.nonzero(erf > 0, as_tuple=True)
        reach[neck] = (int(rows.max() - rows.min()) + 1, int(cols.max() - cols.min()) + 1)
    assert reach == {"fpn": (3, 3), "horfpn": (7, 7)}


def test_erf_of_a_segmenters_decoder_features_runs_in_eval_mode_and_restores_it():
    model = _segmenter("horfpn")
    erf = effective_receptive_field(model.features, torch.randn(2, 3, 32, 32))
    assert erf.shape == (32, 32) and erf.max() == 1.0
    assert model.training and model.head.norm.training
