"""Undersampling masks: accelerations, fully sampled centre, determinism, broadcasting, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mri_monai.errors import InputError
from mri_monai.kspace import (
    MASK_TYPES,
    EquiSpacedMaskFunc,
    PoissonDiscMaskFunc,
    RandomMaskFunc,
    apply_mask,
    create_mask_func,
)

SETTINGS = [(0.08, 4), (0.04, 8)]  # fastMRI's (center fraction, acceleration) pairs
SHAPE_1D = (8, 320, 320)
SHAPE_2D = (4, 160, 160)
LINE_MASKS = ["random", "equispaced", "equispaced_fraction"]
PLANE_MASKS = ["poisson", "radial"]


def _shape(mask_type):
    return SHAPE_1D if mask_type in LINE_MASKS else SHAPE_2D


def _centre(size, num_low):
    start = (size - num_low + 1) // 2
    return slice(start, start + num_low)


@pytest.mark.parametrize("mask_type", ["equispaced_fraction", *PLANE_MASKS])
@pytest.mark.parametrize("fraction, acceleration", SETTINGS)
def test_acceleration_within_ten_percent(mask_type, fraction, acceleration):
    func = create_mask_func(mask_type, [fraction], [acceleration])
    for seed in range(3):
        sampled = func(_shape(mask_type), seed=seed)
        mask = sampled.mask
        assert sampled.acceleration == pytest.approx(mask.numel() / int(mask.sum()))
        assert abs(sampled.acceleration - acceleration) <= 0.1 * acceleration, (mask_type, seed, sampled.acceleration)


@pytest.mark.parametrize("fraction, acceleration", SETTINGS)
def test_random_mask_meets_acceleration_on_average(fraction, acceleration):
    func = RandomMaskFunc([fraction], [acceleration])
    lines = []
    for seed in range(60):
        sampled = func(SHAPE_1D, seed=seed)
        assert sampled.acceleration == pytest.approx(320 / int(sampled.mask.sum()))
        lines.append(int(sampled.mask.sum()))
    # fastMRI semantics: the expected number of lines is W / acceleration; one mask varies around it
    assert abs(np.mean(lines) - 320 / acceleration) <= 0.05 * 320 / acceleration
    assert np.std(lines) > 0


@pytest.mark.parametrize("fraction, acceleration", SETTINGS)
def test_equispaced_mask_is_exactly_spaced_and_reports_its_lower_acceleration(fraction, acceleration):
    sampled = EquiSpacedMaskFunc([fraction], [acceleration])(SHAPE_1D, seed=3)
    lines = set(torch.nonzero(sampled.mask[0]).flatten().tolist())
    centre = set(range(320)[_centre(320, sampled.num_low_frequencies)])
    outside = sorted(lines - centre)
    offset = outside[0] % acceleration
    assert lines == set(range(offset, 320, acceleration)) | centre
    assert sampled.acceleration == pytest.approx(320 / len(lines))
    assert sampled.acceleration < 0.9 * acceleration  # exact spacing plus the centre undershoots, as in fastMRI


@pytest.mark.parametrize("mask_type", list(MASK_TYPES))
def test_centre_fully_sampled(mask_type):
    sampled = create_mask_func(mask_type, [0.08], [4])(_shape(mask_type), seed=5)
    height, width = _shape(mask_type)[-2:]
    assert sampled.num_low_frequencies == round(width * 0.08)
    columns = _centre(width, sampled.num_low_frequencies)
    assert columns.start <= width // 2 < columns.stop
    if mask_type in LINE_MASKS:
        assert sampled.mask.shape == (1, width)
        assert bool(sampled.mask[0, columns].all())
    else:
        assert sampled.mask.shape == (height, width)
        assert bool(sampled.mask[_centre(height, round(height * 0.08)), columns].all())


@pytest.mark.parametrize("mask_type", list(MASK_TYPES))
def test_deterministic_by_seed_and_seeds_differ(mask_type):
    func = create_mask_func(mask_type, [0.08], [4])
    first, again, other = (func(_shape(mask_type), seed=s) for s in (11, 11, 12))
    assert torch.equal(first.mask, again.mask) and first.acceleration == again.acceleration
    assert not torch.equal(first.mask, other.mask)
    generator = np.random.default_rng(0)
    assert not torch.equal(func(_shape(mask_type), generator).mask, func(_shape(mask_type), generator).mask)


def test_pair_chosen_per_call():
    func = RandomMaskFunc([0.08, 0.04], [4, 8])
    num_low = {func(SHAPE_1D, seed=s).num_low_frequencies for s in range(20)}
    assert num_low == {26, 13}


def test_poisson_disc_is_variable_density_with_minimum_distance():
    mask = PoissonDiscMaskFunc([0.04], [8])((160, 160), seed=0).mask.numpy()
    ky, kx = np.meshgrid(np.arange(160) - 80, np.arange(160) - 80, indexing="ij")
    rho = np.hypot(ky, kx) / 80
    assert mask[rho < 0.2].mean() > 3 * mask[rho > 0.8].mean()
    outer = np.argwhere(mask & (rho > 0.8))
    distances = np.hypot(*(outer[:, None, :] - outer[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(distances, np.inf)
    assert distances.min() >= 1.9  # no neighbours in the sparse periphery


@pytest.mark.parametrize("mask_type", list(MASK_TYPES))
def test_masks_broadcast_over_coils(mask_type):
    kspace = torch.randn((3, 40, 320) if mask_type in LINE_MASKS else (3, 96, 96), dtype=torch.complex64)
    mask = create_mask_func(mask_type, [0.08], [4])(kspace.shape, seed=0).mask
    masked = apply_mask(kspace, mask)
    assert masked.shape == kspace.shape
    full = mask.broadcast_to(kspace.shape[-2:])
    for coil in range(kspace.shape[0]):
        assert bool((masked[coil][~full] == 0).all())
        assert torch.equal(masked[coil][full], kspace[coil][full])


def test_apply_mask_bad_input():
    kspace = torch.randn(4, 16, 12, dtype=torch.complex64)
    with pytest.raises(InputError, match=r"mask of shape \(16,\) does not broadcast over k-space of shape"):
        apply_mask(kspace, torch.ones(16, dtype=torch.bool))
    with pytest.raises(InputError, match="k-space is real-valued"):
        apply_mask(kspace.real, torch.ones(12, dtype=torch.bool))
    kspace[1, 2, 3] = float("nan")
    with pytest.raises(InputError, match="NaN"):
        apply_mask(kspace, torch.ones(12, dtype=torch.bool))
    with pytest.raises(InputError, match="only 0 and 1"):
        apply_mask(torch.ones(2, 4, dtype=torch.complex64), torch.full((4,), 0.5))


@pytest.mark.parametrize(
    "fractions, accelerations",
    [([0.08, 0.04], [4]), ([0.3], [4]), ([-0.1], [4]), ([0.08], [0.5])],
)
def test_invalid_settings(fractions, accelerations):
    with pytest.raises(ValueError):
        RandomMaskFunc(fractions, accelerations)


def test_invalid_names():
    with pytest.raises(ValueError, match="integer accelerations"):
        EquiSpacedMaskFunc([0.08], [4.5])
    with pytest.raises(ValueError, match="unknown mask_type"):
        create_mask_func("spiral", [0.08], [4])
