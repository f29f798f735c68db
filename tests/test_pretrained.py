"""Tests of hornet_ref/pretrained.py and the layouts of hornet_ref/checkpoint.py: weights by name.

Offline: the files are made here from random weights, in the authors', mmpretrain's
and our layout; downloads come from an HTTP server on 127.0.0.1 (or a closed port on
it), never from the real hosts.
"""

from __future__ import annotations

import argparse
import ast
import functools
import hashlib
import http.server
import json
import socket
import threading
from pathlib import Path

import pytest
import torch

import hornet_ref
from hornet_ref import (
    CheckpointError,
    DownloadError,
    create_model,
    eval_transform,
    list_pretrained,
    load_pretrained,
    read_state_dict,
)
from hornet_ref.checkpoint import gnconv_orders
from hornet_ref.cli import main
from hornet_ref.pretrained import (
    Source,
    download_pretrained,
    imagenet_1k_rows,
    imagenet_categories,
    pretrained_cfg,
)

ROOT = Path(__file__).resolve().parents[1]
X = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))


def _mini(seed: int = 0, name: str = "hornet_mini_7x7", **overrides) -> torch.nn.Module:
    torch.manual_seed(seed)
    # Layer scale 1: every block changes the logits, so a wrongly loaded key shows.
    return create_model(name, layer_scale_init_value=1.0, **overrides).eval()


def _logits(model: torch.nn.Module, x: torch.Tensor = X) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(x)


def _to_mmpretrain(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Our (the authors') key names written the way mmpretrain's converter writes them."""
    out = {}
    for key, value in state.items():
        if key.startswith("head."):
            out["head.fc." + key.removeprefix("head.")] = value
            continue
        if key.startswith("norm."):
            key = "norm3." + key.removeprefix("norm.")
        key = key.replace(".gnconv.pws.", ".gnconv.projs.")
        if key.endswith((".gamma1", ".gamma2")):
            key += ".weight"
        out["backbone." + key] = value
    return out


def _training_checkpoint(model, ema) -> dict:
    """A full training checkpoint of the authors' (ConvNeXt-derived) code."""
    return {
        "model": model.state_dict(),
        "model_ema": ema.state_dict(),
        "optimizer": {"state": {}, "param_groups": [{"lr": 4e-3, "params": [0, 1]}]},
        "epoch": 299,
        "scaler": {"scale": 65536.0, "_growth_tracker": 0},
        "args": argparse.Namespace(model="hornet_mini_7x7", lr=4e-3, drop_path=0.2),
    }


LAYOUTS = ["ours", "authors_model", "authors_training", "mmpretrain", "mmpretrain_state_dict"]


def _payload(layout: str, model, ema=None):
    state = model.state_dict()
    return {
        "ours": state,
        "authors_model": {"model": state},
        "authors_training": _training_checkpoint(model, ema if ema is not None else model),
        "mmpretrain": _to_mmpretrain(state),
        "mmpretrain_state_dict": {"state_dict": _to_mmpretrain(state), "meta": {"epoch": 300}},
    }[layout]


# -- the registry -------------------------------------------------------------------------


def test_every_published_variant_has_sources_preprocessing_and_scores():
    names = list_pretrained()
    assert names[:6] == [
        f"hornet_{size}_{mixer}" for size in ("tiny", "small", "base") for mixer in ("7x7", "gf")
    ]
    assert names[6:] == ["hornet_large_7x7", "hornet_large_gf", "hornet_large_gf_img384"]
    for name in names:
        cfg = pretrained_cfg(name)
        assert cfg["url"] == cfg["sources"][0].url and cfg["file"] is None
        assert cfg["sources"][-1].url.startswith("https://cloud.tsinghua.edu.cn/f/")
        assert cfg["interpolation"] == "bicubic"
        assert cfg["mean"] == (0.485, 0.456, 0.406) and cfg["std"] == (0.229, 0.224, 0.225)
        if name.startswith("hornet_large"):
            assert len(cfg["sources"]) == 1 and cfg["label_set"] == "imagenet-22k"
            assert cfg["num_classes"] is None and cfg["top1"] is None
        else:
            mm = cfg["sources"][0]
            assert (
                mm.url
                == f"https://download.openmmlab.com/mmclassification/v0/hornet/{mm.file_name}"
            )
            assert mm.hash_prefix == mm.file_name[-12:-4] and len(mm.hash_prefix) == 8
            assert cfg["sources"][1].hash_prefix is None  # the authors' links carry no hash
            assert cfg["num_classes"] == 1000 and 82 < cfg["top1"] < 85 < 96 < cfg["top5"] < 97
    assert pretrained_cfg("hornet_large_gf_img384")["input_size"] == (3, 384, 384)
    assert pretrained_cfg("hornet_large_gf_img384")["crop_pct"] == 1.0
    assert pretrained_cfg("hornet_tiny_7x7")["crop_pct"] == 0.875


def _spec() -> Path | None:
    for parent in ROOT.parents:
        if (parent / "shared" / "spec" / "HORNET.md").is_file():
            return parent / "shared" / "spec"
    return None


@pytest.mark.skipif(_spec() is None, reason="the project's spec is not beside this checkout")
def test_registry_links_and_rows_are_the_specs():
    spec = _spec()
    table = (spec / "HORNET.md").read_text()
    for name in list_pretrained():
        lines = table.splitlines()
        row = next(ln for ln in lines if ln.startswith(f"| {name} ") and "tsinghua" in ln)
        cfg = pretrained_cfg(name)
        for source in cfg["sources"]:
            assert (source.url if "tsinghua" in source.url else source.file_name) in row, name
        if cfg["top1"] is not None:
            assert f"| {cfg['top1']:.2f} / {cfg['top5']:.2f} |" in row, name
    assert imagenet_1k_rows() == json.loads((spec / "in1k_to_22k_rows.json").read_text())


def test_imagenet_rows_and_names():
    rows = imagenet_1k_rows()
    assert len(rows) == len(set(rows)) == 1000 and max(rows) == 10458
    names = imagenet_categories()
    assert len(names) == 1000 and names[0] == "tench" and names[207] == "golden retriever"


def test_a_model_without_published_weights_has_a_cfg_of_its_own():
    model = create_model("hornet_nano_gf", num_classes=7)
    cfg = model.pretrained_cfg
    assert cfg["url"] is None and cfg["sources"] == [] and cfg["input_size"] == (3, 32, 32)
    with pytest.raises(DownloadError, match="hornet_nano_gf has no published weights"):
        create_model("hornet_nano_gf", pretrained=True)
    with pytest.raises(ValueError, match="unknown pretrained_cfg key"):
        create_model("hornet_nano_gf", pretrained_cfg_overlay={"flie": "x.pth"})


# -- loading every layout -----------------------------------------------------------------


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_layout_gives_the_logits_of_the_same_weights(tmp_path, layout):
    """pretrained=True with a file, load_pretrained and ``convert`` agree with our layout."""
    source = _mini(seed=1)
    expected = _logits(source)
    path = tmp_path / f"{layout}.pth"
    torch.save(_payload(layout, source), path)

    model = create_model("hornet_mini_7x7", pretrained=True, pretrained_cfg_overlay={"file": path})
    assert model.pretrained_cfg["file"] == path and model.pretrained_cfg["num_classes"] == 10
    torch.testing.assert_close(_logits(model), expected, rtol=0, atol=0)
    loaded = load_pretrained(_mini(seed=2), path)
    torch.testing.assert_close(_logits(loaded), expected, rtol=0, atol=0)

    out = tmp_path / "converted.pth"
    assert main(["convert", str(path), str(out), "--model", "hornet_mini_7x7"]) == 0
    converted = torch.load(out, weights_only=True)
    assert set(converted) == set(source.state_dict())
    reloaded = load_pretrained(_mini(seed=3), out)
    torch.testing.assert_close(_logits(reloaded), expected, rtol=0, atol=0)


def test_the_ema_weights_of_a_training_checkpoint_load_on_request(tmp_path):
    model, ema = _mini(seed=1), _mini(seed=4)
    path = tmp_path / "checkpoint-best.pth"
    torch.save(_training_checkpoint(model, ema), path)
    plain = create_model("hornet_mini_7x7", pretrained=True, pretrained_cfg_overlay={"file": path})
    averaged = create_model(
        "hornet_mini_7x7", pretrained=True, pretrained_cfg_overlay={"file": path, "use_ema": True}
    )
    torch.testing.assert_close(_logits(plain), _logits(model), rtol=0, atol=0)
    torch.testing.assert_close(_logits(averaged), _logits(ema), rtol=0, atol=0)
    loaded = load_pretrained(_mini(seed=2), path, use_ema=True)
    torch.testing.assert_close(_logits(loaded), _logits(ema), rtol=0, atol=0)
    torch.save({"model": model.state_dict()}, path)
    with pytest.raises(CheckpointError, match="has no EMA weights"):
        read_state_dict(path, use_ema=True)


def test_a_22k_head_follows_the_file_unless_another_is_asked_for(tmp_path):
    source = _mini(seed=1, num_classes=10459)  # the Large models' head: rows up to 10458
    path = tmp_path / "in22k.pth"
    torch.save({"model": source.state_dict()}, path)
    overlay = {"file": path}
    kept = create_model("hornet_mini_7x7", pretrained=True, pretrained_cfg_overlay=overlay)
    assert kept.num_classes == kept.pretrained_cfg["num_classes"] == 10459
    torch.testing.assert_close(_logits(kept), _logits(source), rtol=0, atol=0)

    fresh = create_model(
        "hornet_mini_7x7", pretrained=True, pretrained_cfg_overlay=overlay, num_classes=1000
    )
    assert fresh.head.out_features == 1000
    torch.testing.assert_close(fresh.norm.weight, source.norm.weight, rtol=0, atol=0)
    with torch.no_grad():
        torch.testing.assert_close(
            fresh.forward_head(fresh.forward_features(X), pre_logits=True),
            source.forward_head(source.forward_features(X), pre_logits=True),
        )

    with pytest.raises(CheckpointError, match="pass num_classes=10459") as info:
        load_pretrained(create_model("hornet_mini_7x7", num_classes=1000), path)
    assert "ImageNet-22K" in str(info.value)


def test_a_file_for_another_variant_names_the_variant_it_fits(tmp_path):
    path = tmp_path / "gf.pth"
    torch.save(_mini(name="hornet_mini_gf").state_dict(), path)
    with pytest.raises(CheckpointError, match="fits hornet_mini_gf: create that model"):
        load_pretrained(create_model("hornet_mini_7x7"), path)
    with pytest.raises(CheckpointError, match="fits hornet_mini_gf"):
        create_model("hornet_mini_7x7", pretrained=True, pretrained_cfg_overlay={"file": path})


def test_the_published_variants_are_told_apart_by_their_keys(official_state_dicts):
    """A published GF file is recognised as its variant (shapes from the spec, on meta)."""
    from hornet_ref.checkpoint import variants_that_fit

    for name in ("hornet_tiny_gf", "hornet_large_7x7"):
        shapes = official_state_dicts[name]["state_dict"]
        state = {k: torch.empty(v, device="meta") for k, v in shapes.items()}
        assert variants_that_fit(state) == [name]
    base_gf = official_state_dicts["hornet_base_gf"]["state_dict"]
    fits = variants_that_fit({k: torch.empty(v, device="meta") for k, v in base_gf.items()})
    assert fits == ["hornet_base_gf", "hornet_base_gf_img384"]  # differ in filter size only


def test_convert_rejects_a_file_that_is_not_a_checkpoint(tmp_path, capsys):
    junk = tmp_path / "notes.pth"
    junk.write_text("not a checkpoint")
    out = tmp_path / "out.pth"
    assert main(["convert", str(junk), str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a readable PyTorch checkpoint" in err
    assert not out.exists()


@pytest.mark.parametrize("content", [b"", b"hello\n"], ids=["empty", "text"])
def test_evaluate_says_in_one_line_that_a_file_is_not_a_checkpoint(tmp_path, capsys, content):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(content)
    assert main(["evaluate", "--checkpoint", str(junk), "--model", "hornet_nano_7x7"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a readable PyTorch checkpoint" in err


# -- downloads ----------------------------------------------------------------------------


@pytest.fixture
def hub_dir(tmp_path):
    before = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    yield tmp_path / "hub" / "checkpoints"
    torch.hub.set_dir(before)


class _Server:
    """An HTTP server on 127.0.0.1 serving one folder, counting the requests."""

    def __init__(self, root: Path) -> None:
        self.requests: list[str] = []
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(root), **kwargs)

            def do_GET(self):
                server.requests.append(self.path)
                super().do_GET()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    s = _Server(root)
    s.root = root
    yield s
    s.close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _publish(server, model, name: str, *, layout: str = "mmpretrain") -> str:
    """Write the model's weights under ``name`` (its hash appended) on the server."""
    path = server.root / "tmp.pth"
    torch.save(_payload(layout, model), path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    final = server.root / f"{name}-{digest[:8]}.pth"
    path.rename(final)
    return server.url + final.name


def test_a_download_lands_in_the_hub_cache_once_and_loads(hub_dir, server):
    source = _mini(seed=1)
    url = _publish(server, source, "mini_3rdparty")
    overlay = {"url": url}
    model = create_model("hornet_mini_7x7", pretrained=True, pretrained_cfg_overlay=overlay)
    torch.testing.assert_close(_logits(model), _logits(source), rtol=0, atol=0)
    assert (hub_dir / url.rsplit("/", 1)[1]).is_file()
    again = create_model("hornet_mini_7x7", pretrained=True, pretrained_cfg_overlay=overlay)
    torch.testing.assert_close(_logits(again), _logits(source), rtol=0, atol=0)
    assert len(server.requests) == 1, "a cached file was fetched again"


def test_the_next_source_is_tried_when_one_fails(hub_dir, server):
    source = _mini(seed=1)
    url = _publish(server, source, "mini", layout="authors_model")
    dead = f"http://127.0.0.1:{_closed_port()}/mini-0e8eedff.pth"
    sources = [Source(dead, "mini-0e8eedff.pth", "mmpretrain"), Source(url, "mini.pth", "authors")]
    model = create_model(
        "hornet_mini_7x7", pretrained=True, pretrained_cfg_overlay={"sources": sources}
    )
    torch.testing.assert_close(_logits(model), _logits(source), rtol=0, atol=0)
    assert [p.name for p in hub_dir.iterdir()] == ["mini.pth"]


def test_a_file_whose_hash_differs_is_refused_and_not_cached(hub_dir, server):
    url = _publish(server, _mini(), "mini")
    (server.root / url.rsplit("/", 1)[1]).write_bytes(b"tampered")
    with pytest.raises(DownloadError, match="invalid hash value"):
        create_model("hornet_mini_7x7", pretrained=True, pretrained_cfg_overlay={"url": url})
    assert not hub_dir.exists() or not any(hub_dir.iterdir())


def test_a_truncated_download_is_removed_and_fetched_again(hub_dir, server):
    source = _mini(seed=1)
    good = server.root / "good.pth"
    torch.save(source.state_dict(), good)
    served = server.root / "mini.pth"  # no hash in the name, as on the authors' host
    served.write_bytes(good.read_bytes()[:5000])
    overlay = {"url": server.url + "mini.pth"}
    with pytest.raises(CheckpointError, match="truncated or corrupt download.*removed it"):
        create_model("hornet_mini_7x7", pretrained=True, pretrained_cfg_overlay=overlay)
    assert not (hub_dir / "mini.pth").exists()
    served.write_bytes(good.read_bytes())
    model = create_model("hornet_mini_7x7", pretrained=True, pretrained_cfg_overlay=overlay)
    torch.testing.assert_close(_logits(model), _logits(source), rtol=0, atol=0)
    assert len(server.requests) == 2


def test_without_network_a_published_variant_fails_fast_naming_every_url(hub_dir, monkeypatch):
    """No DNS, as on a machine without network: one error naming both hosts."""

    def no_network(*args, **kwargs):
        raise socket.gaierror(-3, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    with pytest.raises(DownloadError) as info:
        create_model("hornet_tiny_7x7", pretrained=True)
    message = str(info.value)
    assert "\n" not in message
    for source in pretrained_cfg("hornet_tiny_7x7")["sources"]:
        assert source.url in message
    assert 'pretrained_cfg_overlay={"file": PATH}' in message and "--checkpoint" in message


@pytest.mark.timeout(300)  # a guard against hanging, not a speed bound
def test_a_name_lookup_that_hangs_fails_within_the_timeout(hub_dir, monkeypatch):
    """getaddrinfo ignores socket timeouts; a resolver that never answers must not hang us.

    The fake resolver answers only once the test is over, so returning at all is the proof.
    """
    release = threading.Event()
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: release.wait())
    try:
        with pytest.raises(DownloadError, match="name lookup timed out after 1 s") as info:
            download_pretrained("hornet_tiny_7x7", timeout=1.0)
    finally:
        release.set()
    assert str(info.value).count("name lookup timed out") == 2


@pytest.mark.timeout(300)  # a guard against hanging, not a speed bound
def test_a_silent_host_times_out_within_seconds(hub_dir):
    """A server that accepts the connection but never answers: the socket timeout ends it."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/mini.pth"
    try:
        with pytest.raises(DownloadError, match="timed out"):
            download_pretrained(pretrained_cfg("hornet_mini_7x7", {"url": url}), timeout=1.0)
    finally:
        listener.close()


# -- predicting ---------------------------------------------------------------------------


def test_eval_transform_resizes_crops_and_normalises_a_photograph():
    from skimage.data import astronaut

    image = torch.from_numpy(astronaut()).permute(2, 0, 1)  # (3, 512, 512) uint8
    cfg = pretrained_cfg("hornet_tiny_7x7")
    out = eval_transform(cfg)(image)
    assert out.shape == (3, 224, 224) and out.dtype == torch.float32
    mean = torch.tensor(cfg["mean"])[:, None, None]
    std = torch.tensor(cfg["std"])[:, None, None]
    raw = (out * std + mean).clamp(0, 1)
    # Centre crop of a 256 resize: the middle pixel is the photograph's middle pixel.
    middle = image[:, 256, 256].float() / 255
    torch.testing.assert_close(raw[:, 112, 112], middle, atol=0.08, rtol=0)
    assert eval_transform(pretrained_cfg("hornet_large_gf_img384"))(image).shape == (3, 384, 384)
    assert eval_transform(create_model("hornet_mini_7x7"))(image).shape == (3, 64, 64)


@functools.cache
def _photographs(folder: str) -> list[str]:
    from matplotlib import cbook
    from PIL import Image
    from skimage.data import astronaut

    png = Path(folder) / "astronaut.png"
    Image.fromarray(astronaut()).save(png)
    return [str(png), str(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))]


def test_predict_prints_named_top5_classes_of_photographs(tmp_path, capsys):
    weights = tmp_path / "mini_1k.pth"
    torch.save({"model": _mini(seed=1, num_classes=1000).state_dict()}, weights)
    images = _photographs(str(tmp_path))
    argv = ["predict", *images, "--model", "hornet_mini_7x7", "--checkpoint", str(weights)]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == images[0] and lines[6] == images[1] and len(lines) == 12
    names = set(imagenet_categories())
    for line in lines[1:6] + lines[7:12]:
        percent, rest = line.split("%", 1)
        label = rest.strip().rsplit(" (", 1)[0]
        assert 0 < float(percent) <= 100 and label in names, line


def test_predict_reads_a_22k_head_through_the_1k_rows(tmp_path, capsys):
    source = _mini(seed=1, num_classes=10459)
    weights = tmp_path / "mini_22k.pth"
    torch.save(source.state_dict(), weights)
    image = _photographs(str(tmp_path))[:1]
    base = ["predict", *image, "--model", "hornet_mini_7x7", "--checkpoint", str(weights)]

    assert main([*base, "--imagenet-1k"]) == 0
    first = capsys.readouterr().out.splitlines()[1]
    index = int(first.rsplit("(", 1)[1].rstrip(")"))
    assert imagenet_categories()[index] in first
    from hornet_ref.predict import classify, load_image

    overlay = {"file": weights}
    model = create_model("hornet_mini_7x7", pretrained=True, pretrained_cfg_overlay=overlay)
    with torch.no_grad():
        x = eval_transform(model)(load_image(image[0]))[None]
        assert index == int(model(x)[0, imagenet_1k_rows()].argmax())
    assert classify(model, [load_image(image[0])], top_k=1, imagenet_1k=True)[0][0].index == index

    assert main(base) == 0
    assert "class " in capsys.readouterr().out.splitlines()[1]


def test_weights_trained_at_other_orders_load_at_those_orders(tmp_path, capsys):
    source = _mini(seed=2, orders=(1, 2, 5, 5), num_classes=10)  # a run's --orders 1,2,5,5
    weights = tmp_path / "orders.pth"
    torch.save({"model": source.state_dict()}, weights)
    assert gnconv_orders(source.state_dict()) == (1, 2, 5, 5)
    assert gnconv_orders(_mini().state_dict()) == (2, 3, 4, 5)  # the paper's
    assert gnconv_orders({"head.weight": torch.zeros(2, 4)}) is None

    overlay = {"file": weights}
    model = create_model("hornet_mini_7x7", pretrained=True, pretrained_cfg_overlay=overlay)
    assert model.config.orders == (1, 2, 5, 5)
    torch.testing.assert_close(_logits(model), _logits(source), rtol=0, atol=0)
    advice = r"orders by stage are \(1, 2, 5, 5\), the model's \(2, 3, 4, 5\).*--orders 1,2,5,5"
    with pytest.raises(CheckpointError, match=advice):  # a given orders= wins, and is told
        create_model(
            "hornet_mini_7x7", pretrained=True, pretrained_cfg_overlay=overlay, orders=(2, 3, 4, 5)
        )
    image = _photographs(str(tmp_path))[:1]
    assert (
        main(["predict", *image, "--model", "hornet_mini_7x7", "--checkpoint", str(weights)]) == 0
    )
    assert len(capsys.readouterr().out.splitlines()) == 6  # the path and its top 5


def test_predict_reports_a_bad_image_in_one_line(tmp_path, capsys):
    weights = tmp_path / "w.pth"
    torch.save(_mini().state_dict(), weights)
    notes = tmp_path / "notes.png"
    notes.write_text("not an image")
    argv = ["predict", str(notes), "--model", "hornet_mini_7x7", "--checkpoint", str(weights)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "notes.png is not an image" in err


@pytest.mark.parametrize("module", ["pretrained.py", "cli/weights.py"])
def test_the_registry_and_the_command_parsers_import_no_torch_at_module_level(module):
    tree = ast.parse((ROOT / "hornet_ref" / module).read_text())
    top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    names = [a.name for n in top if isinstance(n, ast.Import) for a in n.names]
    names += [n.module or "" for n in top if isinstance(n, ast.ImportFrom)]
    heavy = [n for n in names if n.split(".")[0] in ("torch", "torchvision", "numpy")]
    heavy += [n for n in names if n.startswith(("checkpoint", "hornet", "predict"))]
    assert not heavy, heavy


def test_the_rows_file_ships_with_the_package():
    assert (Path(hornet_ref.__file__).parent / "data" / "in1k_to_22k_rows.json").is_file()
    text = (ROOT / "pyproject.toml").read_text()
    assert '"data/*.json"' in text


@pytest.mark.parametrize("layout", ["authors_training", "mmpretrain_state_dict"])
def test_finetune_reads_the_published_layouts(tmp_path, layout, capsys):
    """--finetune with an authors' training checkpoint or an mmpretrain file, lr 0: the
    backbone after training is the file's (the 10-class head matches the built-in data)."""
    from hornet_ref import TrainConfig, fit

    source = _mini(seed=1)
    path = tmp_path / f"{layout}.pth"
    torch.save(_payload(layout, source), path)
    config = TrainConfig(
        model="hornet_mini_7x7",
        img_size=32,
        train_samples=16,
        val_samples=16,
        batch_size=8,
        epochs=1,
        lr=0.0,
        out=str(tmp_path / "run"),
        progress=False,
        workers=0,
        finetune=str(path),
    )
    tuned = fit(config).model.state_dict()
    assert "fine-tuning from" in capsys.readouterr().out
    for key, value in source.state_dict().items():
        assert torch.equal(tuned[key].cpu(), value), key
