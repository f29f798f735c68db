"""Tests of hornet_ref/checkpoint.py: reading and loading checkpoints, all or nothing."""

from __future__ import annotations

import copy
import pickle
import random
from functools import partial

import pytest
import torch

from hornet_ref import (
    CheckpointError,
    GlobalLocalFilter,
    GnConv,
    create_model,
    load_pretrained,
    read_state_dict,
    resize_complex_weight,
)

UNPICKLED_CALLS: list[str] = []


def _record_call() -> str:
    UNPICKLED_CALLS.append("called")
    return "ran code from the file"


class RunsCodeWhenUnpickled:
    """Pickles as a call to _record_call: loading it with plain pickle would run code."""

    def __reduce__(self):
        return (_record_call, ())


def _gnconv(h: int = 14, w: int = 8, seed: int = 0) -> GnConv:
    torch.manual_seed(seed)
    return GnConv(16, order=3, mixer=partial(GlobalLocalFilter, h=h, w=w))


def _snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def _assert_state_equal(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    ours = model.state_dict()
    assert set(ours) == set(state)
    for key, value in state.items():
        assert torch.equal(ours[key], value), key


@pytest.fixture
def source() -> dict[str, torch.Tensor]:
    """The state of a GnConv (GF mixer, (14, 8) filter) that differs from a fresh one."""
    return _snapshot(_gnconv(seed=1))


@pytest.mark.parametrize("wrap", ["bare", "model", "state_dict", "module_prefix"])
def test_load_pretrained_reads_every_file_layout(tmp_path, source, wrap):
    payload = {
        "bare": source,
        "model": {"model": source, "epoch": 3},
        "state_dict": {"state_dict": source},
        "module_prefix": {f"module.{k}": v for k, v in source.items()},
    }[wrap]
    path = tmp_path / "weights.pth"
    torch.save(payload, path)
    model = _gnconv(seed=2)
    assert load_pretrained(model, path) is model
    _assert_state_equal(model, source)
    assert read_state_dict(str(path)).keys() == source.keys()


def test_load_pretrained_accepts_a_mapping(source):
    model = _gnconv(seed=2)
    load_pretrained(model, source)
    _assert_state_equal(model, source)


def test_load_pretrained_resizes_gf_filters(source):
    """A (14, 8) filter loads into a (24, 13) model, resized bilinearly (corners kept)."""
    model = _gnconv(h=24, w=13, seed=2)
    load_pretrained(model, source)
    loaded = model.dwconv.complex_weight.detach()
    stored = source["dwconv.complex_weight"]
    assert loaded.shape == (stored.shape[0], 24, 13, 2)
    torch.testing.assert_close(loaded, resize_complex_weight(stored, (24, 13)))
    torch.testing.assert_close(loaded[:, [0, -1]][:, :, [0, -1]], stored[:, [0, -1]][:, :, [0, -1]])
    for key, value in source.items():
        if key != "dwconv.complex_weight":
            assert torch.equal(model.state_dict()[key], value), key


def test_load_pretrained_resizes_gf_filters_of_a_hornet(parity):
    state = parity("hornet_mini_gf")["state_dict"]
    model = create_model("hornet_mini_gf", gf_sizes=(None, None, (24, 13), (12, 7)))
    load_pretrained(model, state)
    key = "stages.3.0.gnconv.dwconv.complex_weight"
    assert state[key].shape[1:3] == (7, 4)
    torch.testing.assert_close(model.state_dict()[key], resize_complex_weight(state[key], (12, 7)))


def test_load_pretrained_loads_the_authors_weights_into_a_named_model(parity):
    data = parity("hornet_mini_7x7")
    model = load_pretrained(create_model("hornet_mini_7x7"), data["state_dict"]).eval()
    x = data["inputs"]["x_64"]
    with torch.no_grad():
        torch.testing.assert_close(model(x), data["outputs"]["x_64"], rtol=0, atol=1e-5)


@pytest.mark.parametrize("problem", ["missing", "unexpected", "misshaped", "all"])
def test_mismatched_checkpoint_names_the_keys_and_leaves_the_model_untouched(source, problem):
    state = dict(source)
    if problem in ("missing", "all"):
        del state["pws.1.bias"]
    if problem in ("unexpected", "all"):
        state["pws.7.weight"] = torch.zeros(3)
    if problem in ("misshaped", "all"):
        state["proj_out.weight"] = torch.zeros(16, 8, 1, 1)
    model = _gnconv(seed=2)
    before = _snapshot(model)
    with pytest.raises(CheckpointError, match="nothing was loaded") as info:
        load_pretrained(model, state)
    message = str(info.value)
    if problem in ("missing", "all"):
        assert "missing from checkpoint: pws.1.bias" in message
    if problem in ("unexpected", "all"):
        assert "unexpected in checkpoint: pws.7.weight" in message
    if problem in ("misshaped", "all"):
        assert "proj_out.weight (checkpoint (16, 8, 1, 1), model (16, 16, 1, 1))" in message
    _assert_state_equal(model, before)


def test_wrong_variant_is_reported_with_its_stem_width(parity):
    state = parity("hornet_mini_7x7")["state_dict"]  # base width 16
    model = create_model("hornet_nano_7x7")  # base width 32
    before = _snapshot(model)
    with pytest.raises(CheckpointError, match="stem width is 16"):
        load_pretrained(model, state)
    _assert_state_equal(model, before)


def test_skip_head_keeps_the_models_head(parity):
    state = dict(parity("hornet_mini_7x7")["state_dict"])
    state["head.weight"] = torch.randn(1000, 128)
    state["head.bias"] = torch.randn(1000)
    model = create_model("hornet_mini_7x7")  # 10 classes
    with pytest.raises(CheckpointError, match="skip_head=True"):
        load_pretrained(model, state)

    head = copy.deepcopy(model.head.state_dict())
    load_pretrained(model, state, skip_head=True)
    for key, value in head.items():
        assert torch.equal(model.head.state_dict()[key], value)
    assert torch.equal(model.state_dict()["norm.weight"], state["norm.weight"])

    without_head = {k: v for k, v in state.items() if not k.startswith("head.")}
    load_pretrained(create_model("hornet_mini_7x7", num_classes=0), without_head)


@pytest.mark.parametrize("keep", [0.5, 0.0], ids=["half", "empty"])
def test_a_cut_off_checkpoint_says_truncated_or_corrupt_in_one_line(tmp_path, keep):
    whole = tmp_path / "whole.pth"
    torch.save(_gnconv().state_dict(), whole)
    data = whole.read_bytes()
    path = tmp_path / "cut.pth"
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(CheckpointError) as info:
        load_pretrained(_gnconv(), path)
    message = str(info.value)
    assert f"{path} is not a readable PyTorch checkpoint, truncated or corrupt" in message
    assert "re-download or re-save it" in message and "\n" not in message
    assert "likelihood" not in message  # torch's advice, cut off mid-sentence before


def test_corrupt_file_raises_checkpoint_error(tmp_path):
    path = tmp_path / "corrupt.pth"
    path.write_bytes(random.Random(0).randbytes(4096))
    with pytest.raises(CheckpointError, match="corrupt.pth is not a readable PyTorch checkpoint"):
        load_pretrained(_gnconv(), path)


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        ([torch.zeros(2)], r"holds a list, expected a state_dict"),
        (torch.zeros(2), r"holds a Tensor, expected a state_dict"),
        ({"weight": torch.zeros(2), "epoch": 3}, r"entries \['epoch'\] are not tensors"),
    ],
    ids=["list", "tensor", "mixed-dict"],
)
def test_file_that_is_not_a_state_dict_raises(tmp_path, payload, match):
    path = tmp_path / "other.pth"
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match=match):
        read_state_dict(path)


def test_pickled_code_is_refused(tmp_path):
    path = tmp_path / "pickled.pth"
    torch.save({"model": RunsCodeWhenUnpickled()}, path)
    model = _gnconv()
    before = _snapshot(model)
    with pytest.raises(CheckpointError, match="weights_only=True") as info:
        load_pretrained(model, path)
    assert isinstance(info.value.__cause__, pickle.UnpicklingError)
    assert UNPICKLED_CALLS == [], "the file's code ran"
    _assert_state_equal(model, before)


def test_missing_path_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint file"):
        load_pretrained(_gnconv(), tmp_path / "nowhere.pth")


def test_load_exactly_names_a_few_keys_of_each_kind_on_one_line_and_loads_nothing():
    """A segmenter's or detector's weights that do not fit: one line with at most three
    keys of each kind (missing, unexpected, mis-shaped), the model left as it was."""
    from hornet_ref.checkpoint import load_exactly, run_weights

    net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    state = {k: torch.zeros_like(v) for k, v in before.items()}
    state["1.weight"] = torch.zeros(5, 3)  # mis-shaped
    del state["1.bias"]  # missing
    state |= {f"extra.{i}": torch.zeros(1) for i in range(5)}  # unexpected, more than 3
    with pytest.raises(CheckpointError) as caught:
        load_exactly(net, state, "the run's segmenter")
    message = str(caught.value)
    assert "\n" not in message and message.startswith("the weights do not fit the run's segmenter")
    assert "missing: 1.bias" in message
    assert "mis-shaped: 1.weight (weights (5, 3), model (2, 3))" in message
    assert "extra.0, extra.1, extra.2, ... (5 in all)" in message and "extra.3" not in message
    assert all(torch.equal(net.state_dict()[k], v) for k, v in before.items())
    # An AveragedModel's state: its counter dropped, then "module." from every key.
    ema = torch.optim.swa_utils.AveragedModel(net)
    weights = run_weights({"model": {}, "ema": ema.state_dict()}, ema=True)
    assert set(weights) == set(before)
    load_exactly(net, weights, "the run's segmenter")
