"""Tests of hornet_ref/gnconv.py: GnConv, its mixers, and what it records.

Parity with the authors' code, the algebra of the recursion (degree n + 1,
homogeneity), the receptive field, equivariance, gradients, error messages, and
autocast. Property tests use hypothesis and say the property in their names.
"""

from __future__ import annotations

import math
from functools import partial

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.func import functional_call

from hornet_ref import (
    GlobalLocalFilter,
    GnConv,
    channel_widths,
    depthwise_conv,
    resize_complex_weight,
)

GNCONV_FIXTURES = [f"gnconv_dw7_order{n}" for n in range(1, 6)] + ["gnconv_gf_order3"]
PROPERTY_SETTINGS = settings(max_examples=20, deadline=None)


def _gnconv_from_config(config: dict) -> GnConv:
    """The GnConv a parity fixture's "config" describes."""
    if config["mixer"] == "dwconv7x7":
        mixer = None
    elif config["mixer"] == "global_local_filter":
        mixer = partial(GlobalLocalFilter, h=config["h"], w=config["w"])
    else:
        raise AssertionError(f"fixture has an unknown mixer {config['mixer']!r}")
    return GnConv(config["dim"], order=config["order"], mixer=mixer, scale=config["s"])


def _randomize(module: nn.Module, seed: int, *, biases: bool = True) -> nn.Module:
    """Give every parameter O(1)-scaled random values in float64 (biases zero if asked).

    The default init (std 0.02, zero biases) makes high orders vanishingly small and
    hides the biases; these tests need every term of the polynomial to be visible.
    """
    gen = torch.Generator().manual_seed(seed)
    module.double()
    with torch.no_grad():
        for name, param in module.named_parameters():
            noise = torch.randn(param.shape, generator=gen, dtype=param.dtype)
            if name.endswith("bias"):
                param.copy_(0.5 * noise if biases else torch.zeros_like(param))
            elif param.ndim == 1:  # LayerNorm weight
                param.copy_(1.0 + 0.2 * noise)
            elif name == "dwconv.weight":  # per tap, so that 1x1 maps keep O(1) gates too
                param.copy_(0.5 * noise)
            else:
                fan_in = math.prod(param.shape[1:])
                param.copy_(noise / math.sqrt(fan_in))
    return module


def _randn(seed: int, *shape: int) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _assert_relatively_close(actual: torch.Tensor, expected: torch.Tensor, rtol: float) -> None:
    """max |actual - expected| <= rtol * max |expected|, and expected is not all zero."""
    scale = expected.abs().max().item()
    assert scale > 0, "the reference is identically zero: the comparison would prove nothing"
    err = (actual - expected).abs().max().item()
    assert err <= rtol * scale, f"max error {err:.3g} exceeds {rtol:g} * max |expected| {scale:.3g}"


@st.composite
def _gnconv_cases(draw: st.DrawFn, min_size: int = 1) -> dict:
    """Random order 1..5, a dim divisible by 2**(order-1), batch, map size and seed."""
    order = draw(st.integers(1, 5))
    return {
        "order": order,
        "dim": 2 ** (order - 1) * draw(st.integers(1, 3)),
        "batch": draw(st.integers(1, 2)),
        "height": draw(st.integers(min_size, 9)),
        "width": draw(st.integers(min_size, 9)),
        "seed": draw(st.integers(0, 2**31 - 1)),
    }


def _case_input(case: dict, seed_offset: int = 0) -> torch.Tensor:
    return _randn(
        case["seed"] + seed_offset, case["batch"], case["dim"], case["height"], case["width"]
    )


# --- parity with the authors' code ------------------------------------------------------


@pytest.mark.parametrize("name", GNCONV_FIXTURES)
def test_gnconv_matches_authors_outputs(parity, name):
    data = parity(name)
    model = _gnconv_from_config(data["config"])
    model.load_state_dict(data["state_dict"], strict=True)
    assert data["inputs"], "fixture without inputs"
    with torch.no_grad():
        for key, x in data["inputs"].items():
            torch.testing.assert_close(model(x), data["outputs"][key], rtol=0, atol=1e-5)


def test_gf_parity_fixture_exercises_filter_resizing(parity):
    """The 10x10 input gives a (10, 6) spectrum, not the stored (12, 7) filter."""
    data = parity("gnconv_gf_order3")
    h, w = data["config"]["h"], data["config"]["w"]
    sizes = {tuple(x.shape[-2:]) for x in data["inputs"].values()}
    assert (10, 10) in sizes
    assert any((hh, ww // 2 + 1) != (h, w) for hh, ww in sizes)


# --- channel widths ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dim", "order", "expected"),
    [(64, 2, [32, 64]), (128, 3, [32, 64, 128]), (512, 5, [32, 64, 128, 256, 512]), (8, 1, [8])],
)
def test_channel_widths_follow_the_spec_table(dim, order, expected):
    assert channel_widths(dim, order) == expected
    # proj_in's 2C outputs split into p_0 (d_0) and q (S = 2C - C / 2**(n-1)).
    assert expected[0] + sum(expected) == 2 * dim


# --- the polynomial structure -----------------------------------------------------------


@PROPERTY_SETTINGS
@given(
    case=_gnconv_cases(),
    magnitude=st.floats(0.2, 0.7) | st.floats(1.5, 3.0),
    negative=st.booleans(),
)
def test_gnconv_without_biases_is_homogeneous_of_degree_order_plus_one(case, magnitude, negative):
    """Property: with every bias zero, GnConv(a * x) == a ** (n + 1) * GnConv(x)."""
    a = -magnitude if negative else magnitude
    model = _randomize(GnConv(case["dim"], order=case["order"]), case["seed"], biases=False)
    x = _case_input(case, seed_offset=1)
    with torch.no_grad():
        _assert_relatively_close(model(a * x), a ** (case["order"] + 1) * model(x), rtol=1e-10)


def _forward_difference(values: list[torch.Tensor], k: int) -> torch.Tensor:
    """k-th forward difference of f from f(x), f(x + hv), ..., f(x + khv)."""
    return sum((-1) ** (k - j) * math.comb(k, j) * values[j] for j in range(k + 1))


@PROPERTY_SETTINGS
@given(case=_gnconv_cases(), step=st.floats(0.5, 1.5))
def test_gnconv_is_a_polynomial_of_degree_exactly_order_plus_one(case, step):
    """Property: along a line x + t*v, GnConv (with biases) has degree exactly n + 1 in t.

    The (n + 2)-th finite difference vanishes; the (n + 1)-th does not, and equals
    (n + 1)! h**(n + 1) H(v), where H is the same GnConv with every bias zero (the
    top-degree part of the polynomial).
    """
    n = case["order"]
    model = _randomize(GnConv(case["dim"], order=n, scale=1.0), case["seed"], biases=True)
    x, v = _case_input(case, seed_offset=1), _case_input(case, seed_offset=2)
    with torch.no_grad():
        values = [model(x + j * step * v) for j in range(n + 3)]
        top = _forward_difference(values, n + 1)
        beyond = _forward_difference(values, n + 2)
        for name, param in model.named_parameters():
            if name.endswith("bias"):
                param.zero_()
        leading = math.factorial(n + 1) * step ** (n + 1) * model(v)

    # Round-off in these differences is ~1e-14 of the values: the (n+1)-th difference
    # stays far above it, the (n+2)-th is round-off only. (A degree-(n+2) map would give
    # beyond ~ top; a degree-n map would give top ~ 0, far from `leading`.)
    size = max(t.abs().max().item() for t in values)
    assert top.abs().max().item() > 1e-11 * size, "the (n+1)-th difference vanished"
    assert beyond.abs().max().item() <= 1e-4 * top.abs().max().item()
    _assert_relatively_close(top, leading, rtol=1e-4)


# --- receptive field --------------------------------------------------------------------


def _input_gradient_support(model: nn.Module, x: torch.Tensor, i: int, j: int) -> torch.Tensor:
    """Where d(output pixel (i, j), all channels summed)/d(input) is non-zero: (H, W) bool."""
    x = x.clone().requires_grad_(True)
    model(x)[:, :, i, j].sum().backward()
    return (x.grad.abs().sum(dim=(0, 1)) > 0).cpu()


@pytest.mark.parametrize("order", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("pixel", [(7, 6), (1, 11)])
def test_gnconv_7x7_reaches_exactly_the_7x7_window(order, pixel):
    """Products are taken position by position: order adds degree, not reach."""
    height, width = 15, 13
    model = _randomize(GnConv(16, order=order), seed=order)
    support = _input_gradient_support(model, _randn(0, 1, 16, height, width), *pixel)
    window = torch.zeros(height, width, dtype=torch.bool)
    i, j = pixel
    window[max(i - 3, 0) : i + 4, max(j - 3, 0) : j + 4] = True
    assert torch.equal(support, window), f"support:\n{support.int()}"


def test_gnconv_with_global_local_filter_reaches_the_whole_map():
    model = _randomize(GnConv(16, order=3, mixer=partial(GlobalLocalFilter, h=9, w=5)), seed=0)
    support = _input_gradient_support(model, _randn(1, 1, 16, 9, 9), 2, 6)
    assert support.all(), f"support:\n{support.int()}"


# --- equivariance -----------------------------------------------------------------------


def _roll(x: torch.Tensor, shift: tuple[int, int]) -> torch.Tensor:
    return torch.roll(x, shifts=shift, dims=(-2, -1))


@PROPERTY_SETTINGS
@given(case=_gnconv_cases(min_size=3), shift=st.tuples(st.integers(-8, 8), st.integers(-8, 8)))
def test_gnconv_with_circular_padding_commutes_with_roll(case, shift):
    """Property: with a circularly padded mixer, GnConv(roll(x)) == roll(GnConv(x))."""
    mixer = partial(depthwise_conv, kernel_size=7, padding_mode="circular")
    model = _randomize(GnConv(case["dim"], order=case["order"], mixer=mixer), case["seed"])
    x = _case_input(case, seed_offset=1)
    with torch.no_grad():
        torch.testing.assert_close(model(_roll(x, shift)), _roll(model(x), shift))


@PROPERTY_SETTINGS
@given(
    order=st.integers(1, 5),
    seed=st.integers(0, 2**31 - 1),
    size=st.tuples(st.integers(12, 16), st.integers(12, 16)),
    shift=st.tuples(st.integers(1, 3), st.integers(1, 3)),
)
def test_gnconv_with_zero_padding_commutes_with_shifts_away_from_borders(order, seed, size, shift):
    """Property: with zero padding, GnConv(roll(x)) == roll(GnConv(x)) wherever neither
    side's 7x7 window touches a border or the wrapped rows/columns; at the border the
    two differ (zero padding is not circular)."""
    (height, width), (sh, sw) = size, shift
    model = _randomize(GnConv(2 ** (order - 1), order=order), seed)
    x = _randn(seed + 1, 1, 2 ** (order - 1), height, width)
    with torch.no_grad():
        shifted_first, shifted_after = model(_roll(x, shift)), _roll(model(x), shift)
    interior = (..., slice(sh + 3, height - 3), slice(sw + 3, width - 3))
    torch.testing.assert_close(shifted_first[interior], shifted_after[interior])
    assert not torch.allclose(shifted_first, shifted_after)


@PROPERTY_SETTINGS
@given(
    order=st.integers(1, 4),
    seed=st.integers(0, 2**31 - 1),
    size=st.tuples(st.integers(3, 10), st.integers(3, 10)),
    filter_size=st.tuples(st.integers(2, 8), st.integers(2, 6)),
    shift=st.tuples(st.integers(-9, 9), st.integers(-9, 9)),
)
def test_gf_gnconv_with_circular_local_conv_commutes_with_circular_shifts(
    order, seed, size, filter_size, shift
):
    """Property: a Global-Local Filter whose 3x3 conv pads circularly is shift-equivariant
    (the Fourier half is a circular convolution, resized filter or not), so GnConv with it
    commutes with torch.roll."""
    dim = 2 ** (order - 1) * 2  # S = 2C - C / 2**(n-1) must be even for the filter
    mixer = partial(GlobalLocalFilter, h=filter_size[0], w=filter_size[1], padding_mode="circular")
    model = _randomize(GnConv(dim, order=order, mixer=mixer), seed)
    x = _randn(seed + 1, 2, dim, *size)
    q = _randn(seed + 2, 2, model.dwconv.dw.in_channels * 2, *size)
    with torch.no_grad():
        torch.testing.assert_close(model.dwconv(_roll(q, shift)), _roll(model.dwconv(q), shift))
        torch.testing.assert_close(model(_roll(x, shift)), _roll(model(x), shift))


@pytest.mark.parametrize(
    "mixer", [None, partial(GlobalLocalFilter, h=6, w=4)], ids=["dwconv7x7", "global_local_filter"]
)
def test_gnconv_batch_elements_do_not_interact(mixer):
    model = _randomize(GnConv(16, order=3, mixer=mixer), seed=3)
    x = _randn(0, 3, 16, 6, 6)
    perturbed = x.clone()
    perturbed[1] += _randn(1, 16, 6, 6)
    with torch.no_grad():
        y, y_perturbed = model(x), model(perturbed)
    torch.testing.assert_close(y_perturbed[[0, 2]], y[[0, 2]], rtol=1e-12, atol=1e-12)
    assert not torch.allclose(y_perturbed[1], y[1])


# --- gradients --------------------------------------------------------------------------


def _gradcheck_inputs_and_parameters(model: nn.Module, x: torch.Tensor) -> None:
    names = [name for name, _ in model.named_parameters()]
    params = [p.detach().clone().requires_grad_(True) for p in model.parameters()]

    def run(x: torch.Tensor, *params: torch.Tensor) -> torch.Tensor:
        return functional_call(model, dict(zip(names, params, strict=True)), (x,))

    assert torch.autograd.gradcheck(run, (x.requires_grad_(True), *params), fast_mode=True)


@pytest.mark.parametrize("order", [1, 3])
def test_gnconv_gradcheck_float64(order):
    model = _randomize(GnConv(4, order=order, kernel_size=3), seed=order)
    _gradcheck_inputs_and_parameters(model, _randn(0, 1, 4, 4, 5))


@pytest.mark.parametrize("size", [(4, 4), (5, 3)], ids=["stored-size", "resized"])
def test_global_local_filter_gradcheck_float64(size):
    model = _randomize(GlobalLocalFilter(4, h=4, w=3), seed=0)
    _gradcheck_inputs_and_parameters(model, _randn(0, 1, 4, *size))


# --- what GnConv returns with return_interactions ---------------------------------------


@pytest.mark.parametrize("order", [1, 2, 3, 4, 5])
def test_return_interactions_follows_the_recursion(order):
    dim, scale = 16, 0.25
    model = GnConv(dim, order=order, scale=scale)
    x = torch.randn(2, dim, 5, 6)
    d = channel_widths(dim, order)
    with torch.no_grad():
        y, rec = model(x, return_interactions=True)
        torch.testing.assert_close(y, model(x), rtol=0, atol=0)

        assert rec.order == order
        assert [p.shape[1] for p in rec.p] == [d[0], *d]  # p_0 has d_0, p_{k+1} has d_k
        assert [g.shape[1] for g in rec.gates] == d
        assert all(t.shape[0] == 2 and t.shape[2:] == (5, 6) for t in rec.p + rec.gates)
        torch.testing.assert_close(model.proj_out(rec.p[-1]), y)

        # The gates are s * f(q), q the last S channels of proj_in.
        q = model.proj_in(x)[:, d[0] :]
        torch.testing.assert_close(torch.cat(rec.gates, dim=1), scale * model.dwconv(q))
        torch.testing.assert_close(rec.p[0], model.proj_in(x)[:, : d[0]])
        torch.testing.assert_close(rec.p[1], rec.p[0] * rec.gates[0])
        for k in range(1, order):
            torch.testing.assert_close(rec.p[k + 1], model.pws[k - 1](rec.p[k]) * rec.gates[k])


def test_scale_multiplies_the_gates():
    model = GnConv(8, order=2)
    x = torch.randn(1, 8, 4, 4)
    with torch.no_grad():
        model.scale = 1.0
        _, unscaled = model(x, return_interactions=True)
        model.scale = 0.1
        _, scaled = model(x, return_interactions=True)
    for g_scaled, g_unscaled in zip(scaled.gates, unscaled.gates, strict=True):
        torch.testing.assert_close(g_scaled, 0.1 * g_unscaled)


# --- errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dim", "order", "match"),
    [
        (8, 0, r"order must be an integer >= 1, got 0"),
        (8, -2, r"order must be an integer >= 1"),
        (12, 4, r"divisible by 2\*\*\(order-1\) = 8.*dim=12"),
        (6, 3, r"divisible by 2\*\*\(order-1\) = 4.*dim=6"),
    ],
)
def test_gnconv_rejects_bad_order_or_dim(dim, order, match):
    with pytest.raises(ValueError, match=match):
        GnConv(dim, order=order)


@pytest.mark.parametrize(
    ("shape", "match"),
    [
        ((8, 5, 5), r"4-D input \(B, C, H, W\), got shape \(8, 5, 5\)"),
        ((1, 1, 8, 5, 5), r"4-D input"),
        ((1, 4, 5, 5), r"expects 8 input channels, got 4"),
    ],
)
def test_gnconv_rejects_bad_inputs(shape, match):
    with pytest.raises(ValueError, match=match):
        GnConv(8, order=2)(torch.randn(shape))


def test_mixers_reject_bad_arguments():
    with pytest.raises(ValueError, match=r"even number of channels, got 5"):
        GlobalLocalFilter(5, h=4, w=3)
    with pytest.raises(ValueError, match=r"odd kernel_size, got 4"):
        depthwise_conv(8, kernel_size=4)


# --- the Global-Local Filter ------------------------------------------------------------


def test_resize_complex_weight_is_bilinear_with_aligned_corners():
    weight = torch.randn(3, 14, 8, 2)
    assert resize_complex_weight(weight, (14, 8)) is weight
    resized = resize_complex_weight(weight, (24, 13))
    assert resized.shape == (3, 24, 13, 2)
    for corner in [(0, 0), (0, -1), (-1, 0), (-1, -1)]:  # align_corners keeps the corners
        torch.testing.assert_close(
            resized[:, corner[0], corner[1]], weight[:, corner[0], corner[1]]
        )
    # Resizing a filter that is linear in (row, column) reproduces the same linear function.
    rows = torch.linspace(0.0, 1.0, 14).view(14, 1)
    cols = torch.linspace(0.0, 1.0, 8).view(1, 8)
    plane = 2.0 * rows - 3.0 * cols
    linear = torch.stack([plane, -plane], dim=-1).expand(2, 14, 8, 2)
    rows24 = torch.linspace(0.0, 1.0, 24).view(24, 1)
    cols13 = torch.linspace(0.0, 1.0, 13).view(1, 13)
    expected = 2.0 * rows24 - 3.0 * cols13
    torch.testing.assert_close(resize_complex_weight(linear, (24, 13))[0, ..., 0], expected)
    torch.testing.assert_close(resize_complex_weight(linear, (24, 13))[1, ..., 1], -expected)


def test_global_local_filter_interleaves_local_and_global_halves():
    """Output channels 2i come from the 3x3 conv (local), 2i+1 from the Fourier half."""
    gf = GlobalLocalFilter(8, h=6, w=4)
    gf.post_norm = nn.Identity()
    x = torch.randn(1, 8, 6, 6)
    with torch.no_grad():
        normed = gf.pre_norm(x)
        local = gf.dw(normed[:, :4])
        filt = torch.view_as_complex(gf.spectral_filter(6, 4))  # (4, 6, 4) complex
        spectrum = torch.fft.rfft2(normed[:, 4:], norm="ortho") * filt
        glob = torch.fft.irfft2(spectrum, s=(6, 6), norm="ortho")
        y = gf(x)
    torch.testing.assert_close(y[:, 0::2], local)
    torch.testing.assert_close(y[:, 1::2], glob)


def test_global_local_filter_under_bfloat16_autocast_keeps_the_fft_in_float32(monkeypatch):
    gf = GlobalLocalFilter(16, h=8, w=5)
    with torch.no_grad():
        gf.complex_weight.normal_()  # a filter that matters next to the local half
    x = torch.randn(2, 16, 8, 8)
    with torch.no_grad():
        reference = gf(x)

    fft_dtypes, local_dtypes = [], []
    for fn_name in ("rfft2", "irfft2"):
        original = getattr(torch.fft, fn_name)

        def recording(inp, *args, _original=original, **kwargs):
            out = _original(inp, *args, **kwargs)
            fft_dtypes.extend([inp.dtype, out.dtype])
            return out

        monkeypatch.setattr(torch.fft, fn_name, recording)
    gf.dw.register_forward_hook(lambda module, args, out: local_dtypes.append(out.dtype))

    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        y = gf(x)

    assert local_dtypes == [torch.bfloat16], "autocast did not lower the 3x3 conv"
    assert len(fft_dtypes) == 4
    assert set(fft_dtypes) <= {torch.float32, torch.complex64}, fft_dtypes
    assert y.dtype in (torch.float32, torch.bfloat16)
    assert torch.isfinite(y).all()
    torch.testing.assert_close(y.float(), reference, rtol=0.05, atol=0.05)


def test_gnconv_with_gf_mixer_runs_under_bfloat16_autocast():
    model = GnConv(16, order=3, mixer=partial(GlobalLocalFilter, h=8, w=5))
    x = torch.randn(2, 16, 8, 8)
    with torch.no_grad():
        reference = model(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = model(x)
    assert torch.isfinite(y).all()
    rel = (y.float() - reference).abs().max() / reference.abs().max()
    assert rel < 0.05, f"bf16 autocast drifted {rel:.3g} from float32"


def test_gnconv_default_mixer_is_depthwise_7x7_with_bias():
    model = GnConv(32, order=3)
    s = sum(channel_widths(32, 3))
    conv = model.dwconv
    assert isinstance(conv, nn.Conv2d)
    assert (conv.in_channels, conv.out_channels, conv.groups) == (s, s, s)
    assert conv.kernel_size == (7, 7) and conv.padding == (3, 3) and conv.bias is not None
    x = torch.randn(1, s, 9, 9)
    with torch.no_grad():
        expected = F.conv2d(x, conv.weight, conv.bias, padding=3, groups=s)
        torch.testing.assert_close(conv(x), expected)


def test_channel_splits_are_views_with_a_single_backward():
    """p_0 and the gates are views into one tensor each (no copies), and each split's
    backward is one op: slicing piece by piece (einops.unpack) would give every piece
    its own full-size gradient in backward (see docs/benchmarks.md)."""
    gnconv = GnConv(32, order=3)
    _, rec = gnconv(torch.randn(2, 32, 5, 5, requires_grad=True), return_interactions=True)
    gate_storages = {g.untyped_storage().data_ptr() for g in rec.gates}
    assert len(gate_storages) == 1
    assert {g.grad_fn.name() for g in rec.gates} == {"SplitWithSizesBackward0"}
    assert rec.p[0].grad_fn.name() == "SplitWithSizesBackward0"


@pytest.mark.parametrize("channels_last", [False, True])
def test_layer_norm_2d_equals_torchvisions_bit_for_bit(channels_last):
    """Our LayerNorm2d only reshapes differently from torchvision's: same values, same grads."""
    from torchvision.models.convnext import LayerNorm2d as TorchvisionLayerNorm2d

    from hornet_ref.gnconv import LayerNorm2d

    torch.manual_seed(0)
    ours, theirs = LayerNorm2d(12, eps=1e-6), TorchvisionLayerNorm2d(12, eps=1e-6)
    with torch.no_grad():
        ours.weight.normal_(), ours.bias.normal_()
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(3, 12, 5, 7) * 4 + 1
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    ya, yb = ours(xa), theirs(xb)
    assert ya.shape == (3, 12, 5, 7) and ya.stride() == yb.stride()
    assert torch.equal(ya, yb)
    grad = torch.randn_like(ya)
    ya.backward(grad), yb.backward(grad)
    assert torch.equal(xa.grad, xb.grad)
    assert torch.equal(ours.weight.grad, theirs.weight.grad)
    assert torch.equal(ours.bias.grad, theirs.bias.grad)


@pytest.mark.parametrize("shape", [(2, 12, 5), (2, 8, 5, 5)])
def test_layer_norm_2d_rejects_a_wrong_shape_clearly(shape):
    from hornet_ref.gnconv import LayerNorm2d

    with pytest.raises(ValueError, match=r"expects a \(B, 12, H, W\) input, got shape"):
        LayerNorm2d(12)(torch.randn(shape))


# --- separate widths (the decoder gnConv) -----------------------------------------------


def test_default_widths_keep_the_backbone_gnconv_state_dict_keys_and_shapes():
    """in_dim/out_dim default to dim and proj_out to a 1x1 conv: same keys, same shapes."""
    keys = {k: tuple(v.shape) for k, v in GnConv(16, order=3).state_dict().items()}
    assert keys["proj_in.weight"] == (32, 16, 1, 1)
    assert keys["proj_out.weight"] == (16, 16, 1, 1)
    explicit = GnConv(16, order=3, in_dim=16, out_dim=16, proj_out=True).state_dict()
    assert {k: tuple(v.shape) for k, v in explicit.items()} == keys


@pytest.mark.parametrize(("in_dim", "out_dim"), [(24, 16), (16, 40), (7, 5)])
def test_gnconv_with_separate_widths_maps_in_dim_to_out_dim(in_dim, out_dim):
    gnconv = GnConv(16, order=2, in_dim=in_dim, out_dim=out_dim, scale=1.0)
    y, rec = gnconv(torch.randn(2, in_dim, 9, 11), return_interactions=True)
    assert y.shape == (2, out_dim, 9, 11)
    assert [t.shape[1] for t in rec.p] == [8, 8, 16]  # the recursion runs at dim
    assert gnconv.proj_in.weight.shape == (32, in_dim, 1, 1)
    assert gnconv.proj_out.weight.shape == (out_dim, 16, 1, 1)
    with pytest.raises(ValueError, match=rf"expects {in_dim} input channels, got {in_dim + 1}"):
        gnconv(torch.randn(1, in_dim + 1, 9, 11))


def test_gnconv_without_proj_out_returns_p_n():
    gnconv = GnConv(16, order=3, in_dim=12, proj_out=False)
    y, rec = gnconv(torch.randn(2, 12, 6, 6), return_interactions=True)
    assert y.shape == (2, 16, 6, 6)
    torch.testing.assert_close(y, rec.p[-1])
    assert not any(k.startswith("proj_out") for k in gnconv.state_dict())
    with pytest.raises(ValueError, match=r"without proj_out writes its dim=16 channels"):
        GnConv(16, order=3, proj_out=False, out_dim=8)
    with pytest.raises(ValueError, match=r"in_dim must be a positive int"):
        GnConv(16, order=3, in_dim=0)


@pytest.mark.parametrize("size", [(8, 8), (20, 13), (64, 64)])
def test_decoder_gf_mixer_resizes_its_32x17_filter_to_any_map(size):
    """The authors' decoder GF filter is stored at (32, 17) and resized at run time."""
    mixer = partial(GlobalLocalFilter, h=32, w=17)
    gnconv = GnConv(32, order=2, mixer=mixer, scale=1.0, in_dim=48, out_dim=32)
    assert gnconv.dwconv.complex_weight.shape == (24, 32, 17, 2)
    x = torch.randn(1, 48, *size, requires_grad=True)
    y = gnconv(x)
    assert y.shape == (1, 32, *size)
    y.sum().backward()
    assert gnconv.dwconv.complex_weight.grad.abs().sum() > 0
    assert gnconv.dwconv.spectral_filter(size[0], size[1] // 2 + 1).shape == (
        24,
        size[0],
        size[1] // 2 + 1,
        2,  # real and imaginary parts
    )
