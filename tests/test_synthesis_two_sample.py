"""Classifier two-sample test (C2ST) of generated against real slices: chance for one distribution, ~1 for two."""

from __future__ import annotations

import pytest
import torch
from monai.transforms import GaussianSmooth

from mri_monai.generative import c2st_classifier, classifier_two_sample_test


def _phantoms(n: int, seed: int, size: int = 32, spot: int | None = None) -> torch.Tensor:
    """Head-like phantoms: an ellipse of random size and brightness, a darker ellipse inside, faint noise.

    A bright spot marks one of 8 places, at random, or always place ``spot`` (one subject's feature).
    """
    g = torch.Generator().manual_seed(seed)
    grid = torch.linspace(-1, 1, size)
    y, x = torch.meshgrid(grid, grid, indexing="ij")
    images = []
    for _ in range(n):
        a, b, inner, level = 0.55 + 0.3 * torch.rand(4, generator=g)
        head = ((x / a) ** 2 + (y / b) ** 2 <= 1).float() * (0.3 + 0.6 * level)
        ventricle = ((x / (0.4 * a * inner)) ** 2 + (y / (0.5 * b)) ** 2 <= 1).float()
        image = head * (1 - 0.5 * ventricle) + 0.03 * torch.randn(size, size, generator=g) * (head > 0)
        place = int(torch.randint(8, (1,), generator=g)) if spot is None else spot
        row, col = size // 2 - 4 + 2 * (place // 4) * 4, size // 2 - 8 + 4 * (place % 4)
        image[row : row + 3, col : col + 3] = 1.0
        images.append(image.clamp(0, 1))
    return torch.stack(images)[:, None]


@pytest.fixture(scope="module")
def real() -> torch.Tensor:
    return _phantoms(100, seed=1)


def test_c2st_is_near_chance_for_two_samples_of_one_distribution(real):
    result = classifier_two_sample_test(real, _phantoms(100, seed=2), seed=0)
    assert result["train_per_class"] == 50 and result["test_per_class"] == 50
    assert 0.35 <= result["accuracy"] <= 0.65, result
    assert result["p_value"] > 0.01


def test_c2st_tells_blurred_and_noise_images_from_real_ones(real):
    blurred = GaussianSmooth(sigma=1.0)(_phantoms(100, seed=2)[:, 0])[:, None]  # smooth edges, no noise
    blurred_result = classifier_two_sample_test(real, blurred, seed=0)
    assert blurred_result["accuracy"] >= 0.9 and blurred_result["p_value"] < 1e-6, blurred_result
    blobs = GaussianSmooth(sigma=2.0)(torch.rand(100, 32, 32, generator=torch.Generator().manual_seed(3)))[:, None]
    assert classifier_two_sample_test(real, blobs, seed=0)["accuracy"] >= 0.9


def test_c2st_split_by_subject_does_not_score_the_held_out_subjects_own_features():
    # two held-out "subjects", each with its spot in one place; the population has it in any of 8 places
    held_out = torch.cat([_phantoms(50, seed=5, spot=1), _phantoms(50, seed=6, spot=6)])
    subjects = torch.tensor([3] * 50 + [8] * 50)
    population = _phantoms(100, seed=7)
    by_slice = classifier_two_sample_test(held_out, population, seed=0)
    # the CNN learned the two subjects' spots, "anything else is generated" (0.75 here; p < 0.001 needs >= 0.66)
    assert by_slice["p_value"] < 1e-3, by_slice
    by_subject = classifier_two_sample_test(held_out, population, subjects, seed=0)
    assert by_subject["accuracy"] <= 0.6, by_subject  # trained on one subject, tested on the other
    assert by_subject["train_per_class"] == 50 and by_subject["test_per_class"] == 50
    with pytest.raises(ValueError, match="at least 2 groups"):
        classifier_two_sample_test(held_out, population, torch.zeros(100))
    with pytest.raises(ValueError, match="entries"):
        classifier_two_sample_test(held_out, population, subjects[:10])


def test_c2st_is_deterministic_and_leaves_the_global_state_alone(real):
    other = _phantoms(60, seed=4)
    threads = torch.get_num_threads()
    torch.manual_seed(123)
    expected_draw = torch.rand(3)
    torch.manual_seed(123)
    first = classifier_two_sample_test(real, other, size=40, epochs=3, seed=5)
    assert torch.equal(torch.rand(3), expected_draw)  # the global RNG was forked, not consumed
    assert torch.get_num_threads() == threads
    assert classifier_two_sample_test(real, other, size=40, epochs=3, seed=5) == first
    assert first["train_per_class"] == 20 and first["test_per_class"] == 20  # size caps both samples
    with pytest.raises(ValueError, match="alike"):
        classifier_two_sample_test(real, real[:, :, :16])
    with pytest.raises(ValueError, match="train_fraction"):
        classifier_two_sample_test(real, other, train_fraction=1.0)
    with pytest.raises(ValueError, match="at least 4"):
        classifier_two_sample_test(real, other[:3])


def test_c2st_quantises_away_differences_below_half_a_grey_level(real):
    # as a tanh generator's background of ~5e-4 instead of 0 is invisible in an 8-bit picture; here 4 grey levels
    other = _phantoms(100, seed=2)
    offset = torch.where(other == 0, 0.1, other)  # below half a grey level, 1 / 6
    assert classifier_two_sample_test(real, offset, levels=None, seed=0)["accuracy"] >= 0.9
    quantised = classifier_two_sample_test(real, offset, levels=4, seed=0)
    assert quantised == classifier_two_sample_test(real, other, levels=4, seed=0)  # the same pictures
    assert quantised["accuracy"] <= 0.65


def test_c2st_classifier_shapes():
    network = c2st_classifier((64, 32), channels=(4, 8))
    assert network(torch.rand(3, 1, 64, 32)).shape == (3, 1)
