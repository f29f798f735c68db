"""torch.compile traces HorNet (7x7 and GF) as one graph: no graph breaks anywhere.

``fullgraph=True`` turns any graph break into an error. The "eager" backend runs
dynamo's tracing alone, which is what decides graph breaks, in seconds; one test
also runs inductor's code generation end to end (slow on a 2-core CPU).
"""

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
