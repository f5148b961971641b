"""k-space artefacts: motion on selected phase-encode lines and spikes."""

from __future__ import annotations

import pytest
import torch

from mri_monai.errors import InputError
from mri_monai.kspace import (
    RandKspaceSpike,
    RandKspaceSpiked,
    RandMotionLines,
    RandMotionLinesd,
    apply_kspace_spikes,
    apply_motion_lines,
    fft2c,
    ifft2c,
)


@pytest.fixture(scope="module")
def kspace():
    generator = torch.Generator().manual_seed(0)
    image = torch.randn(3, 40, 36, dtype=torch.complex64, generator=generator)
    return fft2c(image)


@pytest.mark.parametrize("shift", [(3.0, -2.0), (-5.0, 7.0)])
def test_shift_on_all_lines_is_a_roll(kspace, shift):
    width = kspace.shape[-1]
    moved = apply_motion_lines(kspace, torch.arange(width), torch.tensor([shift]).expand(width, 2))
    expected = torch.roll(ifft2c(kspace), shifts=(int(shift[0]), int(shift[1])), dims=(-2, -1))
    assert torch.allclose(ifft2c(moved), expected, atol=1e-5)


def test_motion_changes_only_the_chosen_lines(kspace):
    motion = RandMotionLines(prob=1.0, line_fraction=(0.2, 0.3), max_shift=4.0).set_random_state(5)
    moved = motion(kspace)
    lines = motion.lines
    assert 0.2 * 36 - 1 <= len(lines) <= 0.3 * 36 + 1 and len(set(lines.tolist())) == len(lines)
    assert motion.shifts.shape == (len(lines), 2) and float(motion.shifts.abs().max()) <= 4.0
    others = torch.ones(36, dtype=torch.bool)
    others[lines] = False
    assert torch.equal(moved[..., others], kspace[..., others])
    assert torch.allclose(moved.abs(), kspace.abs(), atol=1e-5)  # a phase ramp only
    changed = (moved[..., lines] - kspace[..., lines]).abs().amax(dim=(0, 1))
    assert bool((changed > 1e-3).all())
    again = RandMotionLines(prob=1.0, line_fraction=(0.2, 0.3), max_shift=4.0).set_random_state(5)(kspace)
    assert torch.equal(moved, again)
    other = RandMotionLines(prob=1.0, line_fraction=(0.2, 0.3), max_shift=4.0).set_random_state(6)(kspace)
    assert not torch.equal(moved, other)


def test_spikes(kspace):
    spike = RandKspaceSpike(prob=1.0, num_spikes=2, intensity_range=(0.5, 0.8)).set_random_state(1)
    spiked = spike(kspace)
    (y0, x0), (y1, x1) = spike.locations.tolist()
    changed = torch.zeros(40, 36, dtype=torch.bool)
    changed[[y0, y1], [x0, x1]] = True
    assert torch.equal(spiked[..., ~changed], kspace[..., ~changed])
    peak = kspace.abs().amax(dim=(-2, -1))
    for (y, x), intensity in zip(spike.locations.tolist(), spike.intensities.tolist(), strict=True):
        assert 0.5 <= intensity <= 0.8
        assert torch.allclose(spiked[:, y, x].abs(), intensity * peak, rtol=1e-5)
        assert torch.allclose(torch.angle(spiked[:, y, x]), torch.angle(kspace[:, y, x]), atol=1e-5)


def test_artefact_dicts_are_deterministic(kspace):
    for transform in (RandMotionLinesd("k", prob=1.0), RandKspaceSpiked("k", prob=1.0)):
        first = transform.set_random_state(4)({"k": kspace})["k"]
        assert torch.equal(first, transform.set_random_state(4)({"k": kspace})["k"])
        assert not torch.equal(first, transform.set_random_state(9)({"k": kspace})["k"])


def test_bad_arguments(kspace):
    with pytest.raises(ValueError, match="one \\(dy, dx\\) shift per line"):
        apply_motion_lines(kspace, torch.tensor([1, 2]), torch.zeros(3, 2))
    with pytest.raises(ValueError, match="line indices must lie in"):
        apply_motion_lines(kspace, torch.tensor([36]), torch.zeros(1, 2))
    with pytest.raises(ValueError, match="spike locations must lie inside"):
        apply_kspace_spikes(kspace, torch.tensor([[40, 0]]), torch.tensor([1.0]))
    with pytest.raises(InputError, match="real-valued"):
        apply_kspace_spikes(kspace.abs(), torch.tensor([[1, 1]]), torch.tensor([1.0]))
    with pytest.raises(ValueError, match="line_fraction"):
        RandMotionLines(line_fraction=(0.5, 0.2))
