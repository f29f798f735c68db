"""torch.compile traces HorNet (7x7 and GF) as one graph: no graph breaks anywhere.

``fullgraph=True`` turns any graph break into an error. The "eager" backend runs
dynamo's tracing alone, which is what decides graph breaks, in seconds; one test
also runs inductor's code generation end to end (slow on a 2-core CPU).
"""

import re

import pytest
import torch

import hornet_ref as hr


@pytest.mark.parametrize("name", ["hornet_mini_7x7", "hornet_mini_gf"])
def test_hornet_traces_as_one_graph_in_train_and_eval(name):
    torch._dynamo.reset()
    model = hr.create_model(name, drop_path_rate=0.1)
    x = torch.randn(2, 3, 64, 64)
    compiled = torch.compile(model, fullgraph=True, backend="eager")
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x))
    model.train()
    compiled(x).sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_recorder_and_interactions_trace_as_one_graph():
    """The instrumented path (return_interactions and a recorder's sink) compiles too."""
    torch._dynamo.reset()
    gnconv = hr.GnConv(32, order=3)
    x = torch.randn(2, 32, 9, 9)
    y, rec = torch.compile(gnconv, fullgraph=True, backend="eager")(x, return_interactions=True)
    torch.testing.assert_close(y, gnconv(x))
    assert [t.shape[1] for t in rec.p] == [8, 8, 16, 32]

    model = hr.create_model("hornet_mini_7x7").eval()
    with hr.InteractionRecorder(model) as recorder, torch.no_grad():
        torch.compile(model, fullgraph=True, backend="eager")(torch.randn(1, 3, 64, 64))
    assert len(recorder) == 5


@pytest.mark.slow
def test_inductor_compiled_hornet_matches_eager():
    torch._dynamo.reset()
    model = hr.create_model("hornet_mini_gf").eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(
            torch.compile(model, fullgraph=True)(x), model(x), rtol=1e-4, atol=1e-4
        )


def _activation_layouts(code: str) -> dict[str, int]:
    """Count the 4-D buffers in inductor's generated code by memory order.

    "plain" is a (B, C, H, W) buffer that is contiguous or channels_last, or a (B, H, W, C)
    one (told apart by H == W != C) that is contiguous; anything else (a transposed
    layout such as H innermost) is counted under its stride order.
    """
    four = r"\((\d+), (\d+), (\d+), (\d+)\)"
    pattern = re.compile(rf"empty_strided_cpu\({four}, {four}")
    counts: dict[str, int] = {}
    for match in pattern.finditer(code):
        size = [int(v) for v in match.groups()[:4]]
        stride = [int(v) for v in match.groups()[4:]]
        dims = [i for i in range(4) if size[i] > 1]
        order = tuple(sorted(dims, key=lambda i: stride[i]))  # innermost first
        pixel_major = size[1] == size[2] != size[3]
        allowed = [(3, 2, 1, 0)] if pixel_major else [(3, 2, 1, 0), (1, 3, 2, 0)]
        plain = {tuple(d for d in o if d in dims) for o in allowed}
        key = "plain" if order in plain else f"order {order} for size {tuple(size)}"
        counts[key] = counts.get(key, 0) + 1
    return counts


@pytest.mark.slow
def test_inductor_forward_keeps_activations_in_plain_layouts():
    """The compiled training graph's forward stores no activation in a transposed layout.

    Regression guard for LayerNorm2d and the block's MLP: on a permuted (B, H, W, C)
    tensor, inductor stored the normalised input with H innermost (docs/benchmarks.md).
    """
    from torch._inductor.utils import run_fw_bw_and_get_code

    torch._dynamo.reset()
    model = hr.create_model("hornet_mini_7x7").to(memory_format=torch.channels_last).train()
    x = torch.randn(2, 3, 64, 64).contiguous(memory_format=torch.channels_last)
    compiled = torch.compile(model, fullgraph=True, dynamic=False)
    _, codes = run_fw_bw_and_get_code(lambda: compiled(x).sum())
    forward = _activation_layouts(codes[0])
    assert forward.get("plain", 0) >= 10, f"found too few buffers to judge: {forward}"
    assert set(forward) == {"plain"}, forward
