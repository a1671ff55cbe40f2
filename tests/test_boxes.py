"""Tests for the box losses beyond the registry suites: torchvision's formulas via an
independent float64 reference, hand-derived values, degenerate boxes, eps, and properties."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import losskit
from losskit import LossInputError, ciou_loss, diou_loss, giou_loss, iou_loss

LOSSES = {"iou": iou_loss, "giou": giou_loss, "diou": diou_loss, "ciou": ciou_loss}


# --- an independent reference: torchvision's formulas, one box pair at a time ------------------


def _reference(kind: str, a: list[float], b: list[float], eps: float = 1e-7) -> float:
    """torchvision's ``*_box_iou_loss`` for one pair, in plain Python floats.

    eps only where torchvision puts it: ``union + eps``, ``area_c + eps``, ``diag^2 + eps``,
    and in alpha; the CIoU aspect ratios are ``w / h`` without eps. One documented change: the
    IoU is ``(inter + eps) / (union + eps)`` (torchvision: ``inter / (union + eps)``), which
    keeps the losses continuous at zero-area boxes.
    """
    ax1, ay1, ax2, ay2 = a
    bx1, by1, bx2, by2 = b
    iw = max(0.0, min(ax2, bx2) - max(ax1, bx1))
    ih = max(0.0, min(ay2, by2) - max(ay1, by1))
    inter = iw * ih
    union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter
    iou = (inter + eps) / (union + eps)
    cw = max(ax2, bx2) - min(ax1, bx1)
    ch = max(ay2, by2) - min(ay1, by1)
    if kind == "iou":
        return 1 - iou
    if kind == "giou":
        return 1 - iou + (cw * ch - union) / (cw * ch + eps)
    rho2 = ((ax1 + ax2) / 2 - (bx1 + bx2) / 2) ** 2 + ((ay1 + ay2) / 2 - (by1 + by2) / 2) ** 2
    diou = 1 - iou + rho2 / (cw**2 + ch**2 + eps)
    if kind == "diou":
        return diou
    v = 4 / math.pi**2 * (math.atan((bx2 - bx1) / (by2 - by1)) - math.atan((ax2 - ax1) / (ay2 - ay1))) ** 2
    alpha = v / (1 - iou + v + eps)
    return diou + alpha * v


def _reference_torch(kind: str, b1: torch.Tensor, b2: torch.Tensor) -> torch.Tensor:
    """The same formulas with autograd (per box, stacked), for gradients; alpha is a constant."""
    out = []
    for a, b in zip(b1, b2, strict=True):
        iw = (torch.min(a[2], b[2]) - torch.max(a[0], b[0])).clamp(min=0)
        ih = (torch.min(a[3], b[3]) - torch.max(a[1], b[1])).clamp(min=0)
        inter = iw * ih
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
        iou = (inter + 1e-7) / (union + 1e-7)
        cw = torch.max(a[2], b[2]) - torch.min(a[0], b[0])
        ch = torch.max(a[3], b[3]) - torch.min(a[1], b[1])
        loss = 1 - iou
        if kind == "giou":
            loss = loss + (cw * ch - union) / (cw * ch + 1e-7)
        if kind in ("diou", "ciou"):
            centre = (a[:2] + a[2:]) / 2 - (b[:2] + b[2:]) / 2
            loss = loss + (centre**2).sum() / (cw**2 + ch**2 + 1e-7)
        if kind == "ciou":
            angle = torch.atan((b[2] - b[0]) / (b[3] - b[1])) - torch.atan((a[2] - a[0]) / (a[3] - a[1]))
            v = 4 / math.pi**2 * angle**2
            loss = loss + (v / (1 - iou + v + 1e-7)).detach() * v
        out.append(loss)
    return torch.stack(out)


def _random_pairs(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)

    def boxes():
        corner = 8 * torch.rand(n, 2, generator=gen, dtype=torch.float64)
        size = 0.5 + 4 * torch.rand(n, 2, generator=gen, dtype=torch.float64)
        return torch.cat([corner, corner + size], 1)

    return boxes(), boxes()


@pytest.mark.parametrize("kind", LOSSES)
def test_matches_torchvision_formulas(kind: str) -> None:
    b1, b2 = _random_pairs(64)
    ours = LOSSES[kind](b1, b2, reduction="none")
    ref = torch.tensor(
        [_reference(kind, a.tolist(), b.tolist()) for a, b in zip(b1, b2, strict=True)], dtype=torch.float64
    )
    # eps in the CIoU aspect ratios is the one intended difference: ~eps / h^2 with h >= 0.5
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-9 if kind != "ciou" else 1e-6)
    iou = 1 - iou_loss(b1, b2, reduction="none")
    assert (iou < 1e-6).any() and (iou > 0.1).any()  # disjoint and overlapping pairs both occur


@pytest.mark.parametrize("kind", LOSSES)
def test_gradients_match_reference(kind: str) -> None:
    b1, b2 = _random_pairs(16, seed=1)
    x1, x2 = b1.clone().requires_grad_(True), b2.clone().requires_grad_(True)
    r1, r2 = b1.clone().requires_grad_(True), b2.clone().requires_grad_(True)
    w = torch.rand(16, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    ours = torch.autograd.grad((LOSSES[kind](x1, x2, reduction="none") * w).sum(), (x1, x2))
    ref = torch.autograd.grad((_reference_torch(kind, r1, r2) * w).sum(), (r1, r2))
    for g, h in zip(ours, ref, strict=True):
        torch.testing.assert_close(g, h, rtol=1e-5, atol=1e-6)


# --- hand-derived values -------------------------------------------------------------------

_ASPECT_V = 4 / math.pi**2 * math.atan(0.75) ** 2  # atan(2) - atan(1/2) = atan(3/4)

HAND = [
    # Unit box inside a box of four times its area: IoU 1/4; the enclosing box is the big box
    # (no GIoU penalty); centres (0.5, 0.5) and (1, 1): rho^2 = 0.5 over diagonal^2 = 8; same
    # aspect ratio, so no CIoU term.
    ([0, 0, 1, 1], [0, 0, 2, 2], {"iou": 0.75, "giou": 0.75, "diou": 0.75 + 1 / 16, "ciou": 0.75 + 1 / 16}),
    # Disjoint unit boxes one unit apart: IoU 0; enclosing 3x1, union 2 -> GIoU penalty 1/3;
    # centres 2 apart: rho^2 = 4 over diagonal^2 = 3^2 + 1^2 = 10.
    ([0, 0, 1, 1], [2, 0, 3, 1], {"iou": 1.0, "giou": 4 / 3, "diou": 1.4, "ciou": 1.4}),
    # Two 2x1 boxes overlapping by half: I = 1, U = 3 -> IoU 1/3; the enclosing 3x1 box is the
    # union (no GIoU penalty); centres 1 apart over diagonal^2 = 10.
    ([0, 0, 2, 1], [1, 0, 3, 1], {"iou": 2 / 3, "giou": 2 / 3, "diou": 2 / 3 + 0.1, "ciou": 2 / 3 + 0.1}),
    # A 2x1 and a 1x2 box sharing a corner: I = 1, U = 3; enclosing 2x2 -> GIoU penalty 1/4;
    # centres (1, 0.5) and (0.5, 1): rho^2 = 0.5 over 8; aspect angles atan(2) and atan(1/2),
    # v = 4/pi^2 atan(3/4)^2, alpha = v / (2/3 + v).
    (
        [0, 0, 2, 1],
        [0, 0, 1, 2],
        {
            "iou": 2 / 3,
            "giou": 2 / 3 + 1 / 4,
            "diou": 2 / 3 + 1 / 16,
            "ciou": 2 / 3 + 1 / 16 + _ASPECT_V**2 / (2 / 3 + _ASPECT_V),
        },
    ),
]


@pytest.mark.parametrize(("a", "b", "expected"), HAND)
@pytest.mark.parametrize("kind", LOSSES)
def test_hand_derived_values(kind: str, a, b, expected) -> None:
    out = LOSSES[kind](torch.tensor([a], dtype=torch.float64), torch.tensor([b], dtype=torch.float64))
    assert out.item() == pytest.approx(expected[kind], abs=1e-6)


def test_eps_reaches_every_division() -> None:
    """With eps = 1 each denominator visibly grows by 1."""
    d = torch.float64
    # IoU 1/4 becomes (1 + 1) / (4 + 1)
    assert iou_loss(
        torch.tensor([[0, 0, 1, 1.0]], dtype=d), torch.tensor([[0, 0, 2, 2.0]], dtype=d), eps=1.0
    ).item() == (pytest.approx(1 - 2 / 5))
    disjoint = torch.tensor([[0, 0, 1, 1.0]], dtype=d), torch.tensor([[2, 0, 3, 1.0]], dtype=d)
    # IoU (0 + 1) / (2 + 1); GIoU: (|C| - U) / (|C| + 1) = 1 / 4; DIoU: rho^2 / (c^2 + 1) = 4 / 11
    assert giou_loss(*disjoint, eps=1.0).item() == pytest.approx(1 - 1 / 3 + 1 / 4)
    assert diou_loss(*disjoint, eps=1.0).item() == pytest.approx(1 - 1 / 3 + 4 / 11)
    # CIoU: a 2x1 box against a 1x1 box with eps = 1: aspect angles atan(2 / 2) and atan(1 / 2),
    # IoU (1 + 1) / (2 + 1) = 2/3, centres (1, 0.5) and (0.5, 0.5): rho^2 / (c^2 + 1) = 0.25 / 6.
    b1, b2 = torch.tensor([[0, 0, 2, 1.0]], dtype=d), torch.tensor([[0, 0, 1, 1.0]], dtype=d)
    v = 4 / math.pi**2 * (math.atan(0.5) - math.atan(1.0)) ** 2
    expected = 1 - 2 / 3 + 0.25 / 6 + v / (1 - 2 / 3 + v + 1.0) * v
    assert ciou_loss(b1, b2, eps=1.0).item() == pytest.approx(expected)


# --- degenerate boxes ----------------------------------------------------------------------

DEGENERATE = torch.tensor(
    [
        [1.0, 1.0, 1.0, 1.0],  # a point
        [0.0, 2.0, 3.0, 2.0],  # zero height
        [4.0, 0.0, 4.0, 5.0],  # zero width
        [0.0, 0.0, 0.0, 0.0],  # a point at the origin
    ]
)


@pytest.mark.parametrize("kind", LOSSES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_identical_boxes_give_exactly_zero(kind: str, dtype: torch.dtype) -> None:
    boxes = torch.cat([DEGENERATE, torch.tensor([[0.5, 1.5, 3.25, 7.0], [100.0, 200.0, 300.5, 260.0]])]).to(dtype)
    a, b = boxes.clone().requires_grad_(True), boxes.clone().requires_grad_(True)
    out = LOSSES[kind](a, b, reduction="none")
    assert (out == 0).all()  # torchvision's GIoU gives 1 for the zero-area pairs (vision #7746)
    out.sum().backward()
    assert torch.isfinite(a.grad.float()).all() and torch.isfinite(b.grad.float()).all()


@pytest.mark.parametrize("kind", LOSSES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_zero_width_and_height_boxes_give_finite_values_and_gradients(kind: str, dtype: torch.dtype) -> None:
    others = torch.tensor(
        [
            [0.0, 0.0, 2.0, 2.0],  # a box containing the point
            [0.0, 2.0, 1.0, 2.0],  # a collinear overlapping segment: U = 0, enclosing area 0
            [1.0, 1.0, 2.0, 3.0],  # a box overlapping the zero-width line
            [0.0, 0.0, 0.0, 3.0],  # a zero-width line from the point
        ]
    )
    a = DEGENERATE.to(dtype).clone().requires_grad_(True)
    b = others.to(dtype).requires_grad_(True)
    out = LOSSES[kind](a, b, reduction="none")
    assert torch.isfinite(out.float()).all() and (out >= 0).all()
    out.sum().backward()
    assert torch.isfinite(a.grad.float()).all() and torch.isfinite(b.grad.float()).all()
    # no slope of order 1 / eps at the degenerate configurations
    assert a.grad.abs().max() < 10 and b.grad.abs().max() < 10


@pytest.mark.parametrize("kind", LOSSES)
@pytest.mark.parametrize("gap", [0.0, 3.3e-85, 1e-15, 1e-12])
def test_continuous_at_zero_area_boxes(kind: str, gap: float) -> None:
    """Two zero-area boxes a hair apart score like identical ones (they used to jump to 1).

    The first pair is hypothesis's falsifying example: a point at the origin and one 3.3e-85
    to its right, which become identical after a shift by 1.0 in float64.
    """
    d = torch.float64
    for a in ([0.0, 0.0, 0.0, 0.0], [4.0, 0.0, 4.0, 5.0], [0.0, 2.0, 3.0, 2.0]):
        b1 = torch.tensor([a], dtype=d)
        b2 = b1 + torch.tensor([gap, 0.0, gap, 0.0], dtype=d)
        # GIoU's penalty is gap x height / eps here: 5e-12 / 1e-7 at the largest gap
        assert LOSSES[kind](b1, b2).item() == pytest.approx(0.0, abs=1e-4)
    # and a zero-width box next to a thin one of width 1e-9: the IoU is near 1, not near 0
    thin = torch.tensor([[4.0, 0.0, 4.0 + 1e-9, 5.0]], dtype=d)
    assert LOSSES[kind](torch.tensor([[4.0, 0.0, 4.0, 5.0]], dtype=d), thin).item() < 0.1


def test_half_precision_areas_beyond_fp16_range_are_computed_in_float32() -> None:
    # areas of 400 x 300 = 120000 overflow float16 (max 65504); computed in float32 they do not
    b1 = torch.tensor([[0.0, 0.0, 400.0, 300.0]])
    b2 = torch.tensor([[100.0, 0.0, 500.0, 300.0]])
    for kind, fn in LOSSES.items():
        half = fn(b1.half(), b2.half())
        assert half.dtype == torch.float16
        assert half.item() == pytest.approx(_reference(kind, b1[0].tolist(), b2[0].tolist()), abs=2e-3)


def test_leading_dimensions_are_kept_with_reduction_none() -> None:
    b1, b2 = _random_pairs(12)
    out = giou_loss(b1.view(3, 4, 4), b2.view(3, 4, 4), reduction="none")
    assert out.shape == (3, 4)
    torch.testing.assert_close(out.flatten(), giou_loss(b1, b2, reduction="none"))


def test_inverted_boxes_pass_when_validation_is_off() -> None:
    inverted = torch.tensor([[2.0, 0.0, 1.0, 1.0]])
    with pytest.raises(LossInputError, match=r"`boxes1`.*1 inverted boxes"):
        giou_loss(inverted, inverted.clone())
    with losskit.validation(False):
        assert torch.isfinite(giou_loss(inverted, torch.tensor([[0.0, 0.0, 1.0, 1.0]])))


# --- properties ----------------------------------------------------------------------------

_coord = st.floats(-50, 50, allow_nan=False, width=64)
_size = st.floats(0, 30, allow_nan=False, width=64)
_box = st.tuples(_coord, _coord, _size, _size).map(lambda t: [t[0], t[1], t[0] + t[2], t[1] + t[3]])


@settings(max_examples=60, deadline=None)
@given(a=_box, b=_box, shift=st.tuples(_coord, _coord), scale=st.floats(0.1, 10))
def test_properties(a, b, shift, scale) -> None:
    b1 = torch.tensor([a], dtype=torch.float64)
    b2 = torch.tensor([b], dtype=torch.float64)
    values = {k: fn(b1, b2).item() for k, fn in LOSSES.items()}
    # ranges and ordering: each penalty is non-negative
    assert 0 <= values["iou"] <= 1
    assert values["iou"] - 1e-12 <= values["giou"] <= 2
    assert values["iou"] - 1e-12 <= values["diou"] <= 2
    assert values["diou"] - 1e-12 <= values["ciou"]
    offset = torch.tensor([shift[0], shift[1], shift[0], shift[1]], dtype=torch.float64)
    big_enough = min(a[2] - a[0], a[3] - a[1], b[2] - b[0], b[3] - b[1]) > 1e-2
    for kind, fn in LOSSES.items():
        # symmetric in its two arguments
        assert fn(b2, b1).item() == pytest.approx(values[kind], abs=1e-9)
        # translation invariant, and scale invariant up to eps. Near zero-area boxes the losses
        # are continuous but steep (slope up to side / eps = 3e8), so the float64 rounding of a
        # shift by up to 50 (about 1e-14) can move them by a few 1e-6 there.
        shifted = fn(b1 + offset, b2 + offset).item()
        assert shifted == pytest.approx(values[kind], abs=1e-6 if big_enough else 1e-4)
        # eps / area moves with the scale: check where the scaled areas stay above 0.01
        if min(a[2] - a[0], a[3] - a[1], b[2] - b[0], b[3] - b[1]) * min(scale, 1.0) > 0.1:
            assert fn(b1 * scale, b2 * scale).item() == pytest.approx(values[kind], abs=1e-4)
