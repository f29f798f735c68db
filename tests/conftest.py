"""Shared test data: the authors' parity vectors and the spec's table of checkpoint keys.

tests/fixtures/*.pt were made by running the authors' code with random weights
(layout in shared/spec/HORNET.md, "Checkpoint format");
tests/fixtures/official_state_dicts.json lists every key and shape of the authors'
checkpoints for the ten published variants.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

FIXTURES = Path(__file__).parent / "fixtures"


def _load_parity(name: str) -> dict[str, Any]:
    data = torch.load(FIXTURES / f"{name}.pt", map_location="cpu", weights_only=True)
    data["config"] = json.loads(data["config"])
    return data


@pytest.fixture(scope="session")
def parity() -> Callable[[str], dict[str, Any]]:
    """``parity("gnconv_dw7_order3")``: that fixture with its "config" parsed from JSON."""
    return _load_parity


@pytest.fixture(scope="session")
def official_state_dicts() -> dict[str, dict[str, Any]]:
    """Per published variant: {"num_params": int, "state_dict": {key: shape list}}."""
    return json.loads((FIXTURES / "official_state_dicts.json").read_text())


@pytest.fixture(autouse=True)
def _one_thread():
    """Each test runs with one torch thread (restored afterwards): on a busy 2-core
    machine, two threads spin against other processes and small ops ran ~50x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def published_weights(tmp_path):
    """``put(name, seed)``: random weights of variant ``name`` saved bare (as the authors'
    files are) where torch.hub's cache looks for its published file, in a temporary hub
    folder that is torch.hub's for the test; returns the state_dict. Nothing downloads."""
    from hornet_ref import create_model
    from hornet_ref.pretrained import pretrained_cfg

    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    before = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))

    def put(name: str, seed: int = 0) -> dict[str, torch.Tensor]:
        torch.manual_seed(seed)
        state = create_model(name).state_dict()  # the 1000-class head
        torch.save(state, cache / pretrained_cfg(name)["sources"][0].file_name)
        return state

    yield put
    torch.hub.set_dir(before)
