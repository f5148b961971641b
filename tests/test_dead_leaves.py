"""Dead-leaves training images for the denoiser (issue #28): seeded, covered, sharp, scale-spread; the transform."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mri_monai.denoising.dead_leaves import RandDeadLeavesd, dead_leaves


def test_dead_leaves_are_seeded_covered_and_sharp():
    a = dead_leaves((96, 96), np.random.default_rng(3))
    b = dead_leaves((96, 96), np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and a.shape == (96, 96)
    assert a.min() >= 0.0 and a.max() <= 1.0
    # piecewise constant: most neighbours are equal, and the steps between leaves are large (no blur)
    steps = np.abs(np.diff(a, axis=0))
    assert (steps == 0).mean() > 0.6
    assert np.median(steps[steps > 0]) > 0.15
    # many leaves of many sizes: dozens of distinct intensities, and both large flat regions and fine detail
    assert len(np.unique(a)) > 50
    blurred = dead_leaves((96, 96), np.random.default_rng(3), blur_sigma=1.0)
    assert (np.abs(np.diff(blurred, axis=0)) == 0).mean() < 0.2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"shape": (8, 8, 8)}, "two positive sizes"), ({"radius_range": (0, 4)}, "radius_range"),
     ({"exponent": 1.0}, "exponent")],
)  # fmt: skip
def test_bad_dead_leaves_options_are_refused(kwargs, message):
    options = {"shape": (16, 16), **kwargs}
    with pytest.raises(ValueError, match=message):
        dead_leaves(rng=np.random.default_rng(0), **options)


def test_transform_replaces_every_key_with_the_same_image_and_keeps_the_input():
    patch = torch.rand(1, 64, 64)
    data = {"image": patch, "label": patch.clone()}
    out = RandDeadLeavesd(["image", "label"], prob=1.0, intensity_range=(0.8, 0.8), blur_prob=0.0).set_random_state(1)(
        data
    )
    assert torch.equal(out["image"], out["label"]) and out["image"].shape == (1, 64, 64)
    assert not torch.equal(out["image"], patch) and torch.equal(data["image"], patch)  # the input dict is untouched
    assert float(out["image"].max()) <= 0.8 + 1e-6 and float(out["image"].max()) > 0.7
    kept = RandDeadLeavesd(["image", "label"], prob=0.0)(data)
    assert torch.equal(kept["image"], patch)
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        RandDeadLeavesd("image", prob=1.0)({"image": torch.rand(1, 8, 8, 8)})
