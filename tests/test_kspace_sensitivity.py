"""Sensitivity estimation from the auto-calibration lines, checked against simulated coils."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mri_monai.errors import InputError
from mri_monai.kspace import (
    EstimateSensitivities,
    EstimateSensitivitiesd,
    RandUndersample,
    calibration_region,
    estimate_sensitivities,
    fft2c,
    ifft2c,
    rss,
    sensitivity_combine,
    sensitivity_expand,
    simulate_coil_sensitivities,
)

SIZE = 96


@pytest.fixture(scope="module")
def acquisition():
    y, x = torch.meshgrid(torch.linspace(-1, 1, SIZE), torch.linspace(-1, 1, SIZE), indexing="ij")
    r2 = (x / 0.7) ** 2 + (y / 0.85) ** 2
    magnitude = torch.clamp(1 - r2, min=0) ** 2 * (1 + 0.3 * torch.cos(3 * x) * torch.sin(2 * y))
    image = (magnitude * torch.exp(1j * 0.8 * x)).to(torch.complex64)
    sens = simulate_coil_sensitivities((SIZE, SIZE), 8, seed=4)
    return image, sens, fft2c(sensitivity_expand(image, sens))


@pytest.mark.parametrize("mask_type", ["random", "equispaced", "poisson", "radial"])
def test_sense_combination_with_estimated_maps_matches_ground_truth(acquisition, mask_type):
    image, sens, kspace = acquisition
    undersample = RandUndersample(mask_type, [0.08], [4]).set_random_state(2)
    masked = undersample(kspace)
    estimated = EstimateSensitivities()(masked, undersample.mask)
    assert estimated.shape == kspace.shape
    obj = image.abs() > 0.05 * image.abs().max()
    assert torch.allclose(rss(estimated)[obj], torch.ones(()), atol=1e-5)  # normalised maps
    combined = sensitivity_combine(ifft2c(kspace), estimated).abs()  # fully sampled, estimated maps
    correlation = np.corrcoef(combined.flatten().numpy(), image.abs().flatten().numpy())[0, 1]
    assert correlation > 0.99
    relative_error = float((combined[obj] - image.abs()[obj]).abs().mean() / image.abs()[obj].mean())
    assert relative_error < 0.03
    # the estimated maps equal the true ones up to one phase per pixel: |<S_est, S>| = 1 in the object
    overlap = sensitivity_combine(sens, estimated).abs()
    assert float(overlap[obj].min()) > 0.97


def test_calibration_region():
    mask = torch.zeros(1, 20, dtype=torch.bool)
    mask[0, 8:13] = True
    mask[0, 2] = True
    assert calibration_region(mask, (16, 20)) == (slice(0, 16), slice(8, 13))
    plane = torch.zeros(16, 20, dtype=torch.bool)
    plane[6:11, 7:12] = True
    plane[8, :] = True  # a spoke through the centre does not widen the fully sampled box
    assert calibration_region(plane, (16, 20)) == (slice(6, 11), slice(7, 12))
    with pytest.raises(InputError, match="does not sample the k-space centre"):
        calibration_region(torch.zeros(1, 20, dtype=torch.bool), (16, 20))


def test_only_calibration_data_is_used(acquisition):
    _, _, kspace = acquisition
    undersample = RandUndersample("random", [0.08], [4]).set_random_state(0)
    masked = undersample(kspace)
    _, columns = calibration_region(undersample.mask, (SIZE, SIZE))
    outside = masked.clone()
    outside[..., columns] = 0
    noisy = masked + torch.randn(masked.shape, dtype=torch.complex64) * (outside != 0)
    expected = estimate_sensitivities(masked, undersample.mask)
    assert torch.allclose(estimate_sensitivities(noisy, undersample.mask), expected)


def test_dictionary_version(acquisition):
    _, _, kspace = acquisition
    mask = torch.zeros(1, 1, SIZE, dtype=torch.bool)
    mask[..., 40:56] = True
    data = {"kspace": kspace * mask, "mask": mask, "id": 3}
    out = EstimateSensitivitiesd("kspace", sens_keys="maps")(data)
    assert set(out) == {"kspace", "mask", "id", "maps"} and out["kspace"] is data["kspace"]
    assert torch.allclose(out["maps"], estimate_sensitivities(kspace * mask, mask))
    with pytest.raises(InputError, match=r"data\['kspace'\]: mask of shape"):
        EstimateSensitivitiesd("kspace")({"kspace": kspace, "mask": torch.ones(SIZE + 1, dtype=torch.bool)})
