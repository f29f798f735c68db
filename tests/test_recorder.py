"""Tests of hornet_ref/recorder.py: every gnConv's interaction maps from one forward pass."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hornet_ref import GnConv, HorNet, InteractionRecorder, channel_widths, create_model


@pytest.fixture(scope="module")
def model() -> HorNet:
    torch.manual_seed(0)
    return create_model("hornet_mini_7x7").eval()


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))


def _gnconv_outputs(model: nn.Module, images: torch.Tensor) -> dict[str, torch.Tensor]:
    """Each GnConv's output, caught by ordinary forward hooks (independent of the recorder)."""
    outputs, handles = {}, []
    for name, module in model.named_modules():
        if isinstance(module, GnConv):
            hook = (lambda key: lambda mod, args, out: outputs.__setitem__(key, out))(name)
            handles.append(module.register_forward_hook(hook))
    with torch.no_grad():
        model(images)
    for handle in handles:
        handle.remove()
    return outputs


def test_one_forward_records_every_gnconv(model, images):
    expected_outputs = _gnconv_outputs(model, images)
    with InteractionRecorder(model) as rec, torch.no_grad():
        model(images)

    config = model.config
    names = {f"stages.{i}.{j}.gnconv" for i, d in enumerate(config.depths) for j in range(d)}
    assert set(rec) == names and len(rec) == sum(config.depths) == 5
    for stage, depth in enumerate(config.depths):
        dim, order = config.dims[stage], config.orders[stage]
        side = 64 // (4 * 2**stage)
        for block in range(depth):
            record = rec[stage, block]
            assert record is rec[f"stages.{stage}.{block}.gnconv"]
            assert len(record.p) == order + 1 and len(record.gates) == order
            d = channel_widths(dim, order)
            assert [p.shape[1] for p in record.p] == [d[0], *d]
            assert record.p[-1].shape == (2, dim, side, side)
            gnconv = model.stages[stage][block].gnconv
            with torch.no_grad():
                torch.testing.assert_close(
                    gnconv.proj_out(record.p[-1]),
                    expected_outputs[f"stages.{stage}.{block}.gnconv"],
                )


def test_model_behaves_identically_after_recording(model, images):
    with torch.no_grad():
        before = model(images)
        with InteractionRecorder(model):
            during = model(images)
        after = model(images)
    assert all(m.interaction_sink is None for m in model.modules() if isinstance(m, GnConv))
    torch.testing.assert_close(during, before, rtol=0, atol=0)
    torch.testing.assert_close(after, before, rtol=0, atol=0)


def test_sinks_are_reset_when_the_forward_raises(model):
    with pytest.raises(ValueError, match="divisible by 32"):
        with InteractionRecorder(model):
            model(torch.randn(1, 3, 50, 50))
    assert all(m.interaction_sink is None for m in model.modules() if isinstance(m, GnConv))


def test_detach_true_stores_tensors_without_graph(images):
    model = create_model("hornet_mini_7x7")
    with InteractionRecorder(model) as rec:
        model(images)
    assert all(not t.requires_grad for t in rec[2, 1].p + rec[2, 1].gates)


def test_detach_false_keeps_the_graph(images):
    model = create_model("hornet_mini_7x7")
    with InteractionRecorder(model, detach=False) as rec:
        model(images)
    p_last = rec[1, 0].p[-1]
    assert p_last.requires_grad and p_last.grad_fn is not None
    p_last.pow(2).sum().backward()
    gnconv = model.stages[1][0].gnconv
    assert gnconv.proj_in.weight.grad is not None and gnconv.proj_in.weight.grad.abs().sum() > 0
    assert model.stages[3][0].gnconv.proj_in.weight.grad is None  # downstream of p: untouched


def test_include_records_only_the_named_modules(model, images):
    with InteractionRecorder(model, include=["stages.2.1.gnconv"]) as rec, torch.no_grad():
        model(images)
    assert list(rec) == ["stages.2.1.gnconv"]
    with pytest.raises(KeyError, match=r"nothing recorded for 'stages.0.0.gnconv'"):
        rec[0, 0]


def test_recorder_errors(model):
    with pytest.raises(ValueError, match="Linear contains no GnConv"):
        InteractionRecorder(nn.Linear(2, 2))
    with pytest.raises(ValueError, match=r"no GnConv named \['stages.9.9.gnconv'\]"):
        InteractionRecorder(model, include=["stages.9.9.gnconv"])
    rec = InteractionRecorder(model)
    with pytest.raises(KeyError, match="nothing recorded for 'stages.9.9.gnconv'"):
        rec[9, 9]
    with pytest.raises(KeyError, match="nothing recorded for 'nope'"):
        rec["nope"]
    with rec, pytest.raises(RuntimeError, match="already being recorded"):
        with InteractionRecorder(model):
            pass


def test_stage_block_parses_hornet_names(model):
    rec = InteractionRecorder(model)
    assert rec.stage_block("stages.2.5.gnconv") == (2, 5)
    assert rec.stage_block("head") is None


def test_gnconv_name_and_its_inverse_agree_with_the_model(model):
    from hornet_ref.recorder import gnconv_name, gnconv_stage_block

    names = [n for n, m in model.named_modules() if isinstance(m, GnConv)]
    pairs = [(s, b) for s, depth in enumerate(model.config.depths) for b in range(depth)]
    assert names == [gnconv_name(s, b) for s, b in pairs]
    assert [gnconv_stage_block(n) for n in names] == pairs
    assert gnconv_stage_block("module." + gnconv_name(3, 0)) == (3, 0)  # DDP's prefix
    assert gnconv_stage_block("stages.2.5.gnconv.pws.0") is None
    assert gnconv_stage_block("xstages.2.5.gnconv") is None


def test_refused_nested_recorder_leaves_no_sink_behind(model):
    """A recorder that cannot start (one of its modules is taken) hooks nothing at all."""
    with InteractionRecorder(model, include=["stages.3.0.gnconv"]):
        with pytest.raises(RuntimeError, match="stages.3.0.gnconv is already being recorded"):
            InteractionRecorder(model).__enter__()
        others = [
            m
            for n, m in model.named_modules()
            if isinstance(m, GnConv) and n != "stages.3.0.gnconv"
        ]
        assert all(m.interaction_sink is None for m in others)
    assert all(m.interaction_sink is None for m in model.modules() if isinstance(m, GnConv))
