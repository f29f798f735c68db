"""GPU paths: parity on CUDA, the GF filter under fp16/bf16 autocast, AMP training
steps, and inductor compilation. Skipped (and reported as skipped) without a GPU;
the lead runs them on a lent GPU machine and quotes the result in the docs.
"""

import pytest
import torch
from test_gnconv import GNCONV_FIXTURES, _gnconv_from_config
from test_hornet import _hornet_from_config

import hornet_ref as hr

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(autouse=True)
def _exact_fp32():
    """No TF32: fp32 parity on CUDA must be float32 math."""
    old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


@pytest.mark.parametrize("name", GNCONV_FIXTURES + ["hornet_mini_7x7", "hornet_mini_gf"])
def test_parity_fixtures_match_on_cuda(parity, name):
    data = parity(name)
    config = data["config"]
    build = _hornet_from_config if "depths" in config else _gnconv_from_config
    module = build(config)
    module.load_state_dict(data["state_dict"])
    module = module.cuda().eval()
    with torch.no_grad():
        for key, x in data["inputs"].items():
            y = module(x.cuda()).cpu()
            torch.testing.assert_close(y, data["outputs"][key], rtol=0, atol=1e-4)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_global_local_filter_runs_under_cuda_autocast(dtype):
    torch.manual_seed(0)
    gf = hr.GlobalLocalFilter(64, h=14, w=8).cuda()
    x = torch.randn(4, 64, 10, 10, device="cuda")  # 10x10: the filter is resized too
    reference = gf(x)
    with torch.autocast("cuda", dtype=dtype):
        y = gf(x)
    assert torch.isfinite(y).all()
    torch.testing.assert_close(y.float(), reference, rtol=0.05, atol=0.05)


@pytest.mark.parametrize("name", ["hornet_tiny_7x7", "hornet_tiny_gf"])
def test_amp_training_step_is_finite(name):
    torch.manual_seed(0)
    model = hr.create_model(name).cuda().to(memory_format=torch.channels_last)
    x = torch.randn(8, 3, 224, 224, device="cuda").contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, 1000, (8,), device="cuda")
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    with torch.autocast("cuda", dtype=dtype):
        loss = torch.nn.functional.cross_entropy(model(x), labels)
    loss.backward()
    assert torch.isfinite(loss)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


def test_inductor_fullgraph_matches_eager_on_cuda():
    torch._dynamo.reset()
    model = hr.create_model("hornet_tiny_gf").cuda().eval()
    x = torch.randn(2, 3, 224, 224, device="cuda")
    with torch.no_grad():
        torch.testing.assert_close(
            torch.compile(model, fullgraph=True)(x), model(x), rtol=1e-3, atol=1e-3
        )


def test_inductor_compiles_a_gf_training_step_on_cuda():
    """The GF filter's backward compiles too (inductor emits no complex-valued kernels)."""
    torch._dynamo.reset()
    torch.manual_seed(0)
    model = hr.create_model("hornet_mini_gf").cuda()
    x = torch.randn(2, 3, 224, 224, device="cuda")
    compiled = torch.compile(model, fullgraph=True)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        compiled(x).float().sum().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
