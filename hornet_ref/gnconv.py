r"""Recursive gated convolution (gnConv) and its spatial mixers.

Reference: Rao et al., "HorNet: Efficient High-Order Spatial Interactions with
Recursive Gated Convolutions", NeurIPS 2022, Section 3.1 (Eq. 3.3-3.5) and
Section 3.2 (the Global-Local Filter).

gnConv of order $n$ on $x \in \mathbb{R}^{B \times C \times H \times W}$, with
channel widths $d_k = C / 2^{n-1-k}$ for $k = 0 \dots n-1$:

$$
[p_0,\ q] = \phi_{\text{in}}(x), \qquad
[g_0, \dots, g_{n-1}] = s \cdot f(q)
$$

$$
p_1 = p_0 \odot g_0, \qquad
p_{k+1} = \text{pws}_{k-1}(p_k) \odot g_k \quad (k = 1 \dots n-1), \qquad
y = \phi_{\text{out}}(p_n)
$$

The paper writes the same recursion as $p_{k+1} = f_k(q_k) \odot g_k(p_k) / \alpha$,
with its $g_k$ the 1x1 projections (``pws`` here), its $f_k$ the depthwise mixer
applied to the $k$-th slice of $q$, and $\alpha = 1/s$. We name the mixer outputs
"gates", because that is what they do: each one gates $p_k$ elementwise.

All of $f$ runs as one depthwise conv over the $S = \sum_k d_k$ channels of $q$ at
once (the slices do not interact), which is both what the authors' checkpoints
hold and the fast way to compute it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

__all__ = [
    "GnConv",
    "GlobalLocalFilter",
    "Interactions",
    "LayerNorm2d",
    "UngatedConv",
    "MixerFactory",
    "channel_widths",
    "depthwise_conv",
    "resize_complex_weight",
]

#: A mixer factory takes the number of channels and returns a module that maps
#: (B, S, H, W) to (B, S, H, W). ``None`` in GnConv means :func:`depthwise_conv`.
MixerFactory = Callable[[int], nn.Module]


# Our own, not torchvision's convnext.LayerNorm2d: importing torchvision takes seconds.
class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of each pixel: (B, C, H, W) -> (B, C, H, W).

    torchvision's LayerNorm2d (same math, same ``weight`` and ``bias``), except that the
    pixels reach ``F.layer_norm`` as the rows of a (B*H*W, C) matrix rather than as a
    permuted (B, H, W, C) tensor. Eager PyTorch runs the two alike. Under torch.compile
    on the CPU the 4-D form made inductor store the normalised input it keeps for the
    backward pass in a transposed layout (H innermost), which its fused kernels then
    read element by element; with rows, every buffer stays in a plain layout (see
    docs/benchmarks.md). For a channels_last input the rows are a view; the output is
    channels_last-strided either way, as torchvision's is.
    """

    def forward(self, x: Tensor) -> Tensor:
        (channels,) = self.normalized_shape
        if x.ndim != 4 or x.shape[1] != channels:
            raise ValueError(
                f"LayerNorm2d({channels}) expects a (B, {channels}, H, W) input, "
                f"got shape {tuple(x.shape)}"
            )
        b, _, h, w = x.shape
        rows = rearrange(x, "b c h w -> (b h w) c")  # one row of C per pixel
        rows = F.layer_norm(rows, self.normalized_shape, self.weight, self.bias, self.eps)
        return rearrange(rows, "(b h w) c -> b c h w", b=b, h=h, w=w)


def channel_widths(dim: int, order: int) -> list[int]:
    """The widths $d_0, \\dots, d_{n-1}$ of $p_1 \\dots p_n$, smallest first.

    $p_{k+1}$ and the gate $g_k$ have $d_k$ channels; $p_0$ has $d_0$, as $p_1$ does.
    ``channel_widths(64, 3) == [16, 32, 64]``. Raises ValueError unless
    ``order >= 1`` and ``dim`` is divisible by ``2 ** (order - 1)``.
    """
    if not isinstance(order, int) or order < 1:
        raise ValueError(f"gnConv order must be an integer >= 1, got {order!r}")
    if not isinstance(dim, int) or dim < 1 or dim % 2 ** (order - 1):
        raise ValueError(
            f"gnConv of order {order} needs dim divisible by 2**(order-1) = {2 ** (order - 1)}, "
            f"got dim={dim!r}"
        )
    return [dim // 2 ** (order - 1 - k) for k in range(order)]


def depthwise_conv(
    channels: int, kernel_size: int = 7, *, dilation: int = 1, padding_mode: str = "zeros"
) -> nn.Conv2d:
    """The default mixer $f$: a depthwise ``kernel_size`` x ``kernel_size`` conv with bias.

    'Same' padding keeps (B, channels, H, W). Pass ``padding_mode="circular"`` for a
    mixer that commutes with ``torch.roll`` (used by the equivariance tests).
    """
    if kernel_size % 2 != 1:
        raise ValueError(f"depthwise_conv needs an odd kernel_size, got {kernel_size}")
    return nn.Conv2d(
        channels,
        channels,
        kernel_size,
        padding=dilation * (kernel_size - 1) // 2,
        dilation=dilation,
        groups=channels,
        bias=True,
        padding_mode=padding_mode,
    )


def resize_complex_weight(weight: Tensor, size: tuple[int, int]) -> Tensor:
    """Resize a GF filter stored as (C, h, w, 2) to (C, *size, 2).

    Bilinear with ``align_corners=True`` on the real and imaginary planes, as the
    authors do both at run time and when fine-tuning at another resolution.
    """
    if tuple(weight.shape[1:3]) == tuple(size):
        return weight
    planes = rearrange(weight, "c h w two -> two c h w")
    planes = F.interpolate(planes, size=tuple(size), mode="bilinear", align_corners=True)
    return rearrange(planes, "two c h w -> c h w two")


def _fft_dtype(dtype: torch.dtype) -> torch.dtype:
    """float32 for half/bfloat16/float32 inputs, float64 for float64: never below float32."""
    return torch.promote_types(dtype, torch.float32)


def _complex_multiply(a: Tensor, b: Tensor) -> Tensor:
    """(a_re + i a_im)(b_re + i b_im) on tensors of (real, imag) pairs, shape (..., 2).

    Done in real arithmetic because torch.compile's GPU code generator emits no kernels
    for complex tensors (docs/benchmarks.md).
    """
    a_re, a_im = a.unbind(-1)
    b_re, b_im = b.unbind(-1)
    return torch.stack([a_re * b_re - a_im * b_im, a_re * b_im + a_im * b_re], dim=-1)


@dataclass
class Interactions:
    """What one gnConv forward pass computed on the way to its output.

    Attributes:
        p: ``[p_0, ..., p_n]``; ``p[0]`` has shape (B, d_0, H, W), ``p[k + 1]`` has
            (B, d_k, H, W), so ``p[-1]`` has (B, dim, H, W) and ``proj_out(p[-1])`` is
            the output (B, out_dim, H, W). With a linear mixer (the depthwise conv) ``p[k]`` is a
            polynomial of degree ``k + 1`` in the input.
        gates: ``[g_0, ..., g_{n-1}]``, the scaled mixer outputs; ``gates[k]`` has
            shape (B, d_k, H, W).
    """

    p: list[Tensor] = field(default_factory=list)
    gates: list[Tensor] = field(default_factory=list)

    @property
    def order(self) -> int:
        """The gnConv's order n: the number of gates."""
        return len(self.gates)

    def detach(self) -> Interactions:
        """A copy whose tensors are cut from the autograd graph."""
        return Interactions([t.detach() for t in self.p], [t.detach() for t in self.gates])


class GnConv(nn.Module):
    r"""Recursive gated convolution of order $n$: (B, in_dim, H, W) -> (B, out_dim, H, W).

    By default ``in_dim = out_dim = dim``, the backbone's gnConv. A decoder (HorFPN, the
    gnConv UPerNet head) sets its own widths: $\phi_{\text{in}}$ reads ``in_dim``
    channels, the recursion runs at width ``dim``, and $\phi_{\text{out}}$ writes
    ``out_dim`` channels, or is left out (``proj_out=False``: $y = p_n$, ``dim`` channels).

    Args:
        dim: channels $C$ of the recursion (and in and out by default); divisible by
            ``2 ** (order - 1)``.
        order: $n$, the number of gated products; the output is a polynomial of
            degree $n + 1$ in the input.
        mixer: factory for the spatial mixer $f$, called with $S = \sum_k d_k$
            channels. ``None`` builds :func:`depthwise_conv` with ``kernel_size``;
            ``functools.partial(GlobalLocalFilter, h=14, w=8)`` gives HorNet's GF
            mixer; any module factory that keeps the shape plugs in.
        kernel_size: kernel of the default depthwise mixer (ignored with ``mixer``).
        scale: $s = 1/\alpha$, multiplied onto the mixer output (1/3 in HorNet, 1 in
            the authors' decoders).
        in_dim: channels of the input, read by ``proj_in`` (default ``dim``).
        out_dim: channels written by ``proj_out`` (default ``dim``); must be None or
            ``dim`` when ``proj_out`` is False.
        proj_out: False replaces $\phi_{\text{out}}$ by the identity.

    The submodule names (``proj_in``, ``dwconv``, ``pws``, ``proj_out``) are those of
    the authors' checkpoints, so their state dicts load unchanged.
    """

    def __init__(
        self,
        dim: int,
        order: int = 5,
        mixer: MixerFactory | None = None,
        kernel_size: int = 7,
        scale: float = 1.0 / 3.0,
        *,
        in_dim: int | None = None,
        out_dim: int | None = None,
        proj_out: bool = True,
    ) -> None:
        super().__init__()
        self.dim = dim
        self.order = order
        self.dims = channel_widths(dim, order)  # [d_0, ..., d_{n-1}], d_{n-1} = dim
        self.scale = scale
        if not proj_out and out_dim not in (None, dim):
            raise ValueError(
                f"GnConv without proj_out writes its dim={dim} channels; got out_dim={out_dim}"
            )
        for name, width in (("in_dim", in_dim), ("out_dim", out_dim)):
            if width is not None and (not isinstance(width, int) or width < 1):
                raise ValueError(f"GnConv {name} must be a positive int, got {width!r}")
        self.in_dim = dim if in_dim is None else in_dim
        self.out_dim = dim if out_dim is None else out_dim
        self.proj_in = nn.Conv2d(self.in_dim, 2 * dim, kernel_size=1)  # phi_in
        # f: one module over all S = sum(d_k) channels of q; the name is the authors'.
        self.dwconv = (
            depthwise_conv(sum(self.dims), kernel_size) if mixer is None else mixer(sum(self.dims))
        )
        # pws[k - 1]: d_{k-1} -> d_k, the paper's g_k for k = 1 .. n-1.
        self.pws = nn.ModuleList(
            nn.Conv2d(self.dims[k - 1], self.dims[k], kernel_size=1) for k in range(1, order)
        )
        # phi_out; the identity without proj_out (no parameters, so no checkpoint keys).
        self.proj_out = nn.Conv2d(dim, self.out_dim, kernel_size=1) if proj_out else nn.Identity()
        # Set by InteractionRecorder: called with the Interactions of every forward.
        self.interaction_sink: Callable[[Interactions], None] | None = None

    def _check_input(self, x: Tensor) -> None:
        if x.ndim != 4:
            raise ValueError(f"GnConv expects a 4-D input (B, C, H, W), got shape {tuple(x.shape)}")
        if x.shape[1] != self.in_dim:
            widths = f"dim={self.dim}" + (f", in_dim={self.in_dim}" * (self.in_dim != self.dim))
            raise ValueError(
                f"GnConv({widths}) expects {self.in_dim} input channels, "
                f"got {x.shape[1]} (input shape {tuple(x.shape)})"
            )

    def forward(
        self, x: Tensor, return_interactions: bool = False
    ) -> Tensor | tuple[Tensor, Interactions]:
        """Apply gnConv to x of shape (B, in_dim, H, W).

        Returns y of shape (B, out_dim, H, W), or ``(y, Interactions)`` when
        ``return_interactions`` is True.
        """
        self._check_input(x)
        record = return_interactions or self.interaction_sink is not None

        # torch.split, not einops.unpack: both give views, but split's backward is one
        # concatenation where each of unpack's slices writes a full-size gradient.
        # [p_0, q] = phi_in(x): (B, 2C, H, W) split into (B, d_0, H, W) and (B, S, H, W).
        p0, q = torch.split(self.proj_in(x), [self.dims[0], sum(self.dims)], dim=1)
        # [g_0, ..., g_{n-1}] = s * f(q): (B, S, H, W) split into (B, d_k, H, W) each.
        gates = torch.split(self.dwconv(q) * self.scale, self.dims, dim=1)

        p = p0 * gates[0]  # p_1 = p_0 * g_0: (B, d_0, H, W)
        ps = [p0, p] if record else []
        for k in range(1, self.order):
            p = self.pws[k - 1](p) * gates[k]  # p_{k+1} = pws_{k-1}(p_k) * g_k: (B, d_k, H, W)
            if record:
                ps.append(p)
        y = self.proj_out(p)  # y = phi_out(p_n): (B, out_dim, H, W)

        if not record:
            return y
        rec = Interactions(p=ps, gates=list(gates))
        if self.interaction_sink is not None:
            self.interaction_sink(rec)
        return (y, rec) if return_interactions else y

    def extra_repr(self) -> str:
        widths = ""
        if (self.in_dim, self.out_dim) != (self.dim, self.dim):
            widths = f", in_dim={self.in_dim}, out_dim={self.out_dim}"
        if isinstance(self.proj_out, nn.Identity):
            widths += ", proj_out=False"
        return (
            f"dim={self.dim}, order={self.order}, dims={self.dims}, scale={self.scale:.4g}" + widths
        )


def _real_dft_matrices(n: int, cols: int, like: Tensor) -> tuple[Tensor, Tensor]:
    r"""$\cos(2\pi jk/n)/\sqrt{n}$ and $\sin(2\pi jk/n)/\sqrt{n}$ for $j < n$, $k < $ ``cols``:
    two (n, cols) matrices in ``like``'s dtype and device."""
    j = torch.arange(n, device=like.device)
    k = torch.arange(cols, device=like.device)
    # jk mod n first (in integers): every angle lies in [0, 2 pi), built and evaluated in
    # float64, so each entry is the float32 rounding of the exact value.
    angle = (torch.outer(j, k) % n).to(torch.float64) * (2.0 * torch.pi / n)
    scale = n**-0.5
    return (torch.cos(angle) * scale).to(like.dtype), (torch.sin(angle) * scale).to(like.dtype)


def _half_spectrum_weights(width: int, like: Tensor) -> Tensor:
    """(W//2+1,): 1 for the DC column (and the Nyquist column of an even W), 2 for the rest."""
    cols = width // 2 + 1
    interior = (width - 1) // 2  # columns 1 .. (W-1)//2 stand for themselves and their mirror
    weights = torch.ones(cols, dtype=like.dtype, device=like.device)
    weights[1 : 1 + interior] = 2.0
    return weights


def _filter_as_matmul(x: Tensor, weight: Tensor) -> Tensor:
    r"""``irfft2(W * rfft2(x, norm="ortho"), s=(H, W), norm="ortho")`` as real matrix products.

    x: (B, C, H, W) real; weight: (C, H, L, 2) with L = W // 2 + 1, (real, imag) pairs.
    Returns (B, C, H, W). No DFT operator is needed, so any exporter and runtime runs it.

    With $C_n[j, k] = \cos(2\pi jk/n)/\sqrt{n}$ and $S_n[j, k] = \sin(2\pi jk/n)/\sqrt{n}$
    (:func:`_real_dft_matrices`), (W, L) along the width and (H, H) along the height:

    $$
    \begin{aligned}
    &\text{rfft along W:} & Y_r &= x\,C_W, & Y_i &= -x\,S_W & &(B, C, H, L) \\
    &\text{fft along H:} & X_r &= C_H Y_r + S_H Y_i, & X_i &= C_H Y_i - S_H Y_r \\
    &\text{filter:} & Z_r &= X_r W_r - X_i W_i, & Z_i &= X_r W_i + X_i W_r \\
    &\text{ifft along H:} & U_r &= C_H Z_r - S_H Z_i, & U_i &= C_H Z_i + S_H Z_r \\
    &\text{irfft along W:} & y &= U_r\,(a \odot C_W)^\top - U_i\,(a \odot S_W)^\top
        & & & &(B, C, H, W)
    \end{aligned}
    $$

    where $a$ (L,) weights column $l$ by 2 for $0 < l < W/2$ (it stands for itself and
    its mirror $W - l$ in the full spectrum) and by 1 for $l = 0$ and, for even W,
    $l = W/2$; $a \odot C_W$ scales column $l$ of $C_W$ by $a_l$. The imaginary parts of
    those self-mirrored columns drop out, because $S_W$ is zero there, which is exactly
    how ``irfft`` treats them. ``C_H`` is symmetric, so $C_H^\top = C_H$.
    """
    height, width = x.shape[-2:]
    cols = width // 2 + 1
    cos_w, sin_w = _real_dft_matrices(width, cols, x)  # (W, L) each
    cos_h, sin_h = _real_dft_matrices(height, height, x)  # (H, H) each, symmetric
    w_re, w_im = weight.unbind(-1)  # (C, H, L) each

    y_re, y_im = x @ cos_w, -(x @ sin_w)  # rfft along W: (B, C, H, L)
    x_re = cos_h @ y_re + sin_h @ y_im  # fft along H: (B, C, H, L)
    x_im = cos_h @ y_im - sin_h @ y_re
    z_re = x_re * w_re - x_im * w_im  # W * F(x): (B, C, H, L)
    z_im = x_re * w_im + x_im * w_re
    u_re = cos_h @ z_re - sin_h @ z_im  # ifft along H: (B, C, H, L)
    u_im = cos_h @ z_im + sin_h @ z_re
    a = _half_spectrum_weights(width, x)[:, None]  # (L, 1)
    return u_re @ (a * cos_w.T) - u_im @ (a * sin_w.T)  # irfft along W: (B, C, H, W)


class GlobalLocalFilter(nn.Module):
    r"""HorNet's Global-Local Filter, a mixer $f$ for gnConv: (B, D, H, W) -> (B, D, H, W).

    Half the channels are mixed locally by a 3x3 depthwise conv, the other half
    globally by a learned filter in the 2-D Fourier domain:

    $$
    \begin{aligned}
    x' &= \mathrm{LN}(x), & [x_l,\ x_g] &= x', \\
    z_l &= \mathrm{DW}_{3\times 3}(x_l), & z_g &= \mathcal{F}^{-1}(W \odot \mathcal{F}(x_g)), \\
    y &= \mathrm{LN}(\mathrm{interleave}(z_l, z_g))
    \end{aligned}
    $$

    where $\mathcal{F}$ is ``rfft2`` over (H, W) with ``norm="ortho"`` and $W$ a complex
    filter of shape (D/2, h, w). When the spectrum's size (H, W // 2 + 1) differs
    from (h, w), $W$ is resized bilinearly (``align_corners=True``) first
    (:meth:`spectral_filter`). The FFT runs in float32 for any lower-precision input
    (half-precision FFT is not supported on every device, and autocast would otherwise
    try it); float64 stays float64.

    Two ways compute $\mathcal{F}^{-1}(W \odot \mathcal{F}(x_g))$, chosen by the attribute
    ``dft``: ``"fft"`` (the default, used for training and inference) calls
    ``torch.fft.rfft2`` / ``irfft2``; ``"matmul"`` computes the same transforms as
    products with fixed cosine and sine matrices (``_filter_as_matmul``), equal to
    float32 rounding and needing no DFT operator, for exporters and runtimes without one
    (``hornet_ref.export`` sets it; see docs/export.md).

    Args:
        dim: channels D; must be even.
        h: the stored filter's height; (h, w) = (14, 8) matches a 14x14 map, (7, 4) a
            7x7 one.
        w: the stored filter's width, ``W // 2 + 1`` for a map of width W.
        padding_mode: padding of the local 3x3 conv ("circular" makes the whole
            filter commute with circular shifts).
    """

    #: How the Fourier half is computed: "fft" (torch.fft) or "matmul" (DFT matrices).
    dft: str = "fft"

    def __init__(self, dim: int, h: int = 14, w: int = 8, *, padding_mode: str = "zeros") -> None:
        super().__init__()
        if dim % 2:
            raise ValueError(f"GlobalLocalFilter needs an even number of channels, got {dim}")
        half = dim // 2
        self.pre_norm = LayerNorm2d(dim, eps=1e-6)
        self.dw = nn.Conv2d(
            half, half, 3, padding=1, groups=half, bias=False, padding_mode=padding_mode
        )
        # The complex filter W, stored as (real, imag) in the last axis: (D/2, h, w, 2).
        self.complex_weight = nn.Parameter(torch.empty(half, h, w, 2))
        nn.init.trunc_normal_(self.complex_weight, std=0.02)
        self.post_norm = LayerNorm2d(dim, eps=1e-6)

    def spectral_filter(self, height: int, width: int) -> Tensor:
        """The filter W for a (height, width) half spectrum: (D/2, height, width, 2), the
        stored filter resized if needed, as (real, imag) pairs in float32 (float64 for a
        float64 filter)."""
        weight = self.complex_weight
        return resize_complex_weight(weight.to(_fft_dtype(weight.dtype)), (height, width))

    def forward(self, x: Tensor) -> Tensor:
        x = self.pre_norm(x)
        # Contiguous halves, not interleaved: (B, D, H, W) -> two of (B, D/2, H, W).
        local, glob = rearrange(x, "b (two c) h w -> two b c h w", two=2)
        local = self.dw(local)

        # The FFT in float32 (or float64): the explicit cast suffices under autocast, which
        # lowers no FFT op, and needs no autocast context (one breaks torch.compile graphs
        # on older torch). Spectra are handled as (real, imag) pairs in a last axis of 2.
        height, width = glob.shape[-2:]
        glob = glob.to(_fft_dtype(glob.dtype))
        weight = self.spectral_filter(height, width // 2 + 1).to(glob.dtype)  # (D/2, H, L, 2)
        if self.dft == "matmul":
            glob = _filter_as_matmul(glob, weight)
        else:
            spectrum = torch.view_as_real(torch.fft.rfft2(glob, dim=(-2, -1), norm="ortho"))
            spectrum = _complex_multiply(spectrum, weight)  # W * F(x_g): (B, D/2, H, L, 2)
            spectrum = torch.view_as_complex(spectrum)
            glob = torch.fft.irfft2(spectrum, s=(height, width), dim=(-2, -1), norm="ortho")
        glob = glob.to(local.dtype)

        # Interleave: output channel 2i is local channel i, 2i + 1 is global channel i.
        x = rearrange([local, glob], "two b c h w -> b (c two) h w")
        return self.post_norm(x)

    def extra_repr(self) -> str:
        half, h, w, _ = self.complex_weight.shape
        return f"dim={2 * half}, filter=({h}, {w})"


class UngatedConv(nn.Module):
    r"""The no-gating control ("order 0"): gnConv's path without its products.

    $$ y = \phi_{\text{out}}(f(\phi_{\text{in}}(x))) $$

    (B, C, H, W) -> (B, C, H, W): a 1x1 conv, the depthwise mixer, a 1x1 conv, all at
    width C and with no multiplication of one map by another, so the spatial branch is
    linear in its input (degree 1, where gnConv of order n has degree n + 1). In a
    :class:`~hornet_ref.hornet.HorBlock` it gives a ConvNeXt-like block: all of the
    block's non-linearity is in the per-pixel MLP. The order study compares it with
    gnConv at the same widths and depths.

    Args:
        dim: channels C in and out.
        mixer: factory for the spatial mixer, called with C (None: ``depthwise_conv``).
        kernel_size: kernel of the default depthwise mixer.
    """

    def __init__(self, dim: int, mixer: MixerFactory | None = None, kernel_size: int = 7) -> None:
        super().__init__()
        self.dim = dim
        self.proj_in = nn.Conv2d(dim, dim, kernel_size=1)
        self.dwconv = depthwise_conv(dim, kernel_size) if mixer is None else mixer(dim)
        self.proj_out = nn.Conv2d(dim, dim, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != self.dim:
            raise ValueError(
                f"UngatedConv(dim={self.dim}) expects (B, {self.dim}, H, W), got {tuple(x.shape)}"
            )
        return self.proj_out(self.dwconv(self.proj_in(x)))  # (B, C, H, W)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
