"""Tests of hornet_ref/export.py and GlobalLocalFilter's matrix DFT: torch.export of every
variant family, ONNX round trips through onnxruntime, and the bad-input cases."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hornet_ref import create_model
from hornet_ref.export import (
    ExportDependencyError,
    export_onnx,
    export_program,
    onnx_metadata,
    verify_onnx,
)
from hornet_ref.gnconv import GlobalLocalFilter, _complex_multiply, _filter_as_matmul

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def _fft_filter(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """The eager FFT path of the Fourier half, as GlobalLocalFilter.forward runs it."""
    height, width = x.shape[-2:]
    spectrum = torch.view_as_real(torch.fft.rfft2(x, norm="ortho"))
    spectrum = torch.view_as_complex(_complex_multiply(spectrum, weight))
    return torch.fft.irfft2(spectrum, s=(height, width), norm="ortho")


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / b.abs().max()).item()


# --- the matrix formulation of rfft2 / irfft2 -------------------------------------------


@settings(max_examples=40, deadline=None)
@given(height=st.integers(1, 30), width=st.integers(1, 30), seed=st.integers(0, 2**16))
def test_matrix_dft_filter_equals_the_fft_filter_in_float64_to_rounding(height, width, seed):
    """For any (H, W), odd and even, the matrix products are the FFT path, exactly: in
    float64 they agree to 1e-12 relative, so the formulas leave nothing out."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 3, height, width, generator=g, dtype=torch.float64)
    weight = torch.randn(3, height, width // 2 + 1, 2, generator=g, dtype=torch.float64)
    assert _rel(_filter_as_matmul(x, weight), _fft_filter(x, weight)) < 1e-12


@pytest.mark.parametrize(
    "size, filt",
    [
        ((14, 14), (14, 8)),  # stage 3 at 224
        ((7, 7), (7, 4)),  # stage 4 at 224: odd W
        ((24, 24), (24, 13)),  # stage 3 at 384
        ((12, 12), (12, 7)),  # stage 4 at 384
        ((24, 24), (14, 8)),  # a 224 filter resized to a 384 map
        ((5, 9), (7, 4)),  # odd, non-square, resized
    ],
)
def test_global_local_filter_matmul_path_equals_the_fft_path_in_float32(size, filt):
    """The whole module with ``dft="matmul"`` equals the FFT module to float32 rounding
    (the FFT itself differs from float64 by about 2e-7 here)."""
    torch.manual_seed(0)
    gf = GlobalLocalFilter(16, *filt).eval()
    with torch.no_grad():
        gf.complex_weight.normal_()
        x = torch.randn(2, 16, *size)
        fft = gf(x)
        gf.dft = "matmul"
        matmul = gf(x)
        exact = gf.double()(x.double())
    assert _rel(matmul, fft) < 2e-6
    assert _rel(matmul.double(), exact) < 2e-6


def test_global_local_filter_matmul_path_has_the_fft_paths_gradients():
    torch.manual_seed(0)
    gf = GlobalLocalFilter(8, 6, 4)
    x = torch.randn(2, 8, 6, 7, requires_grad=True)
    grads = []
    for dft in ("fft", "matmul"):
        gf.dft = dft
        gf.zero_grad()
        x.grad = None
        (gf(x) ** 2).sum().backward()
        grads.append((x.grad.clone(), gf.complex_weight.grad.clone()))
    torch.testing.assert_close(grads[0][0], grads[1][0], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(grads[0][1], grads[1][1], rtol=1e-4, atol=1e-5)


# --- torch.export ------------------------------------------------------------------------

# Every variant family, with one block in stages 3 and 4 (where GF sits): the graph
# repeats per block, so more blocks add export time and nothing to check.
FAMILIES = [
    "hornet_tiny_7x7",
    "hornet_tiny_gf",
    "hornet_base_gf_img384",
    "hornet_mini_7x7",
    "hornet_mini_gf",
    "hornet_nano_7x7",
    "hornet_nano_gf",
]
FEW = (0, 0, 1, 1)
ONE = (0, 0, 0, 1)


def _small(name: str, **overrides) -> torch.nn.Module:
    torch.manual_seed(0)
    overrides = {"depths": FEW, **overrides}
    if name.startswith(("hornet_tiny", "hornet_base")):
        overrides = {"base_dim": 16, **overrides}  # the stage-3/4 GF filters stay as published
    return create_model(name, **overrides).eval()


@pytest.mark.parametrize("name", FAMILIES)
def test_torch_export_of_every_family_matches_eager_at_another_batch_size(name):
    """Non-strict tracing here (4x faster); the strict tracer is tested below."""
    model = _small(name)
    program = export_program(model, strict=False)
    side = model.config.img_size
    x = torch.randn(3, 3, side, side)  # the example had batch 2
    with torch.no_grad():
        torch.testing.assert_close(program.module()(x), model(x), rtol=1e-5, atol=1e-5)
    if "gf" in name:
        assert any(n.target == torch.ops.aten.fft_rfft2.default for n in program.graph.nodes)


def test_strict_torch_export_of_a_7x7_model_has_a_dynamic_batch_and_input_size():
    model = _small("hornet_nano_7x7")
    program = export_program(model)
    stride = model.config.stem_patch * 8
    for shape in [(1, 3, 3 * stride, 5 * stride), (5, 3, 32, 32)]:
        x = torch.randn(shape)
        with torch.no_grad():
            torch.testing.assert_close(program.module()(x), model(x), rtol=1e-5, atol=1e-5)


def test_strict_torch_export_of_a_gf_model_is_per_size():
    model = _small("hornet_nano_gf")
    with pytest.raises(ValueError, match="one input size"):
        export_program(model, dynamic_size=True)
    program = export_program(model, input_size=64, dft="matmul")  # another fixed size
    assert not any("fft" in str(n.target) for n in program.graph.nodes)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(program.module()(x), model(x), rtol=1e-5, atol=1e-5)
    with pytest.raises(Exception, match="(?i)shape|size|guard|expected"):
        program.module()(torch.randn(2, 3, 32, 32))


# --- ONNX and onnxruntime ----------------------------------------------------------------


def _session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def nano_7x7_onnx(tmp_path_factory):
    model = _small("hornet_nano_7x7")
    return model, export_onnx(model, tmp_path_factory.mktemp("onnx") / "nano.onnx")


@pytest.mark.parametrize(
    "name, depths, dft",
    [
        ("hornet_nano_gf", (1, 1, 3, 1), "onnx"),  # the whole nano GF model
        ("hornet_nano_gf", FEW, "matmul"),
        ("hornet_mini_gf", FEW, "onnx"),
    ],
)
def test_onnxruntime_reproduces_pytorch_at_dynamic_batch_sizes(name, depths, dft, tmp_path):
    model = _small(name, depths=depths)
    path = export_onnx(model, tmp_path / "m.onnx", dft=dft)
    ops = {node.op_type for node in onnx.load(path).graph.node}
    assert ("DFT" in ops) == (dft == "onnx"), sorted(ops)
    for batch in (1, 4):  # the file's batch axis is dynamic
        assert verify_onnx(model, path, batch=batch) < 1e-4


def test_onnxruntime_reproduces_a_7x7_model_on_real_digits(nano_7x7_onnx):
    """scikit-learn's handwritten digits, upsampled to 32x32 RGB, as well as noise."""
    datasets = pytest.importorskip("sklearn.datasets")
    model, path = nano_7x7_onnx
    digits = torch.from_numpy(datasets.load_digits().images[:6]).float() / 16.0  # (6, 8, 8)
    x = torch.nn.functional.interpolate(digits[:, None], size=32, mode="bilinear")
    assert verify_onnx(model, path, x.expand(-1, 3, -1, -1).contiguous()) < 1e-4
    assert verify_onnx(model, path, batch=3) < 1e-4


def test_onnx_metadata_carries_the_input_and_the_preprocessing(nano_7x7_onnx):
    session = _session(nano_7x7_onnx[1])
    (inp,) = session.get_inputs()
    assert inp.name == "images"
    assert inp.shape[1:] == [3, 32, 32] and isinstance(inp.shape[0], str)
    meta = session.get_modelmeta().custom_metadata_map
    assert json.loads(meta["input_shape"]) == ["batch", 3, 32, 32]
    assert json.loads(meta["input_size"]) == [3, 32, 32]
    assert json.loads(meta["mean"]) == pytest.approx([0.485, 0.456, 0.406])
    assert json.loads(meta["std"]) == pytest.approx([0.229, 0.224, 0.225])
    assert float(meta["crop_pct"]) == 0.875 and meta["interpolation"] == "bicubic"
    assert meta["gf_dft"] == "none" and "class_names" not in meta  # 10 classes, no weights


def test_onnx_metadata_reads_pretrained_cfg_and_names_imagenet_classes():
    model = _small("hornet_nano_7x7", depths=ONE, num_classes=1000)
    model.pretrained_cfg = {
        "architecture": "hornet_nano_7x7",
        "label_set": "imagenet-1k",
        "mean": (0.5, 0.5, 0.5),
        "std": (0.25, 0.25, 0.25),
        "crop_pct": 0.9,
        "interpolation": "bilinear",
    }
    meta = onnx_metadata(model, (3, 32, 32))
    names = json.loads(meta["class_names"])
    assert len(names) == 1000 and names[0] == "tench" and names[-1] == "toilet tissue"
    assert json.loads(meta["mean"]) == [0.5, 0.5, 0.5] and meta["crop_pct"] == "0.9"
    assert meta["preprocessing_source"] == "pretrained_cfg"
    assert meta["model_name"] == "hornet_nano_7x7"
    with pytest.raises(ValueError, match="3 class names for a model with 1000"):
        onnx_metadata(model, (3, 32, 32), class_names=["a", "b", "c"])


@pytest.mark.parametrize("size, dft", [((5, 9), "fft"), ((5, 9), "matmul"), ((6, 11), "fft")])
def test_a_global_local_filter_at_odd_sizes_round_trips_through_onnxruntime(size, dft, tmp_path):
    """The bare module, filter resized to each odd spectrum, through both DFT paths."""
    from hornet_ref.export import _spectral_path

    torch.manual_seed(0)
    gf = GlobalLocalFilter(8, 7, 4).eval()
    with torch.no_grad():
        gf.complex_weight.normal_()
    x = torch.randn(2, 8, *size)
    with _spectral_path(gf, dft):
        onnx_program = torch.onnx.export(gf, (x,), dynamo=True, opset_version=20, verbose=False)
    onnx_program.save(tmp_path / "gf.onnx")
    session = _session(tmp_path / "gf.onnx")
    (got,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    with torch.no_grad():
        assert _rel(torch.from_numpy(got), gf(x)) < 1e-4
    assert gf.dft == "fft"  # restored


# --- bad input ---------------------------------------------------------------------------


def test_a_model_in_training_mode_is_exported_in_eval_mode_and_restored(tmp_path, caplog):
    model = _small("hornet_nano_7x7", depths=ONE, drop_path_rate=0.5).train()
    with caplog.at_level(logging.WARNING, logger="hornet_ref.export"):
        path = export_onnx(model, tmp_path / "m.onnx")
    assert "training mode" in caplog.text and "eval mode" in caplog.text
    assert model.training and all(m.training for m in model.modules())
    # drop path at rate 0.5 would make a training-mode graph random; the file is not
    model.eval()
    assert verify_onnx(model, path) < 1e-4


def test_a_missing_folder_is_a_clear_error_and_leaves_no_file(tmp_path):
    model = _small("hornet_nano_7x7", depths=ONE)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        export_onnx(model, tmp_path / "no" / "such" / "m.onnx")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_leaves_neither_the_file_nor_a_temporary(tmp_path, monkeypatch):
    model = _small("hornet_nano_7x7", depths=ONE)

    def half_written(proto, path, *args, **kwargs):
        with open(path, "wb") as f:
            f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(onnx, "save_model", half_written)
    with pytest.raises(OSError, match="disk full"):
        export_onnx(model, tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("missing", ["onnx", "onnxscript", "onnxruntime"])
def test_a_missing_export_dependency_names_the_extra(missing, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, missing, None)  # import of it raises ImportError
    model = _small("hornet_nano_7x7", depths=ONE)
    with pytest.raises(ExportDependencyError, match=r'pip install "hornet-ref\[export\]"'):
        if missing == "onnxruntime":
            verify_onnx(model, tmp_path / "m.onnx")
        else:
            export_onnx(model, tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []


# --- the command line --------------------------------------------------------------------


def test_cli_export_parser_imports_no_torch():
    """The module that declares ``hornet-ref export`` builds its parser without torch
    (loaded from its file, since the package root on this branch imports the model)."""
    import hornet_ref.cli.export as commands

    code = (
        "import argparse, importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('m', {commands.__file__!r})\n"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
        "parser = argparse.ArgumentParser(); module.register(parser.add_subparsers())\n"
        "assert parser.parse_args(['export', '--model', 'm', '--out', 'f']).format == 'onnx'\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cli_exports_onnx_and_checks_it_in_onnxruntime(tmp_path, capsys):
    from hornet_ref.cli import main

    out = tmp_path / "nano.onnx"
    assert main(["export", "--model", "hornet_nano_7x7", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "max relative error" in printed and out.is_file()
    error = float(printed.split("max relative error ")[1].split()[0])
    assert error < 1e-4


def test_cli_exports_a_checkpoint_trained_at_other_orders(tmp_path, capsys):
    """A run's --orders 1,2,5,5 weights export as they were trained, head included."""
    import onnxruntime as ort

    from hornet_ref.cli import main

    torch.manual_seed(0)
    source = create_model("hornet_nano_7x7", orders=(1, 2, 5, 5), num_classes=7).eval()
    weights, out = tmp_path / "orders.pth", tmp_path / "orders.onnx"
    torch.save(source.state_dict(), weights)
    argv = ["export", "--model", "hornet_nano_7x7", "--checkpoint", str(weights), "--out", str(out)]
    assert main(argv) == 0 and "max relative error" in capsys.readouterr().out
    x = torch.randn(2, 3, 32, 32)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    with torch.no_grad():
        torch.testing.assert_close(torch.from_numpy(logits), source(x), rtol=1e-4, atol=1e-5)


def test_cli_export_keeps_the_exporters_chatter_out_of_the_terminal(tmp_path):
    """A fresh process, as a user runs it: the check and the file, nothing else; the
    exporter's logs come back with --verbose."""
    out = tmp_path / "nano.onnx"
    argv = [sys.executable, "-m", "hornet_ref.cli", "export", "--model", "hornet_nano_7x7"]
    argv += ["--out", str(out), "--no-verify"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    quiet = subprocess.run(argv, capture_output=True, text=True, env=env, check=True)
    assert quiet.stdout == f"wrote {out}\n" and quiet.stderr == ""
    loud = subprocess.run([*argv, "--verbose"], capture_output=True, text=True, env=env)
    assert loud.returncode == 0 and len((loud.stdout + loud.stderr).splitlines()) > 5


@pytest.mark.slow
def test_cli_writes_an_exported_program_that_loads(tmp_path):
    from hornet_ref.cli import main

    out = tmp_path / "nano.pt2"
    args = ["export", "--model", "hornet_nano_7x7", "--format", "exported-program"]
    assert main([*args, "--out", str(out)]) == 0
    program = torch.export.load(out)
    x = torch.randn(3, 3, 32, 32)
    torch.manual_seed(0)
    assert program.module()(x).shape == (3, 10)


def test_cli_errors_are_one_line_with_exit_code_2(tmp_path, capsys):
    from hornet_ref.cli import main

    assert main(["export", "--model", "nope", "--out", str(tmp_path / "m.onnx")]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err
    missing = tmp_path / "no" / "m.onnx"
    assert main(["export", "--model", "hornet_nano_7x7", "--out", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err
