"""``mri_monai.metrics``: every metric against a number computed independently of it (by hand, numpy or skimage).

Also: the definitions that share a name in the literature give different numbers here (hence one name each), and
the bundle configs take their case scores from this module.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from monai.bundle import ConfigParser
from monai.data import MetaTensor

import mri_monai.metrics as metrics
from mri_monai.metrics import (
    brats_region_metrics,
    denoising_scores,
    dice_per_label,
    fastmri_metrics,
    folding_percent,
    foreground_box,
    foreground_mask,
    frechet_distance,
    hd95_per_label,
    ms_ssim_diversity,
    mutual_information,
    nearest_ncc,
    nmse,
    psnr_box,
    psnr_fastmri,
    psnr_masked,
    reconstruction_scores,
    registration_metrics,
    segmentation_scores,
    sharpness_masked,
    ssim_box,
    ssim_fastmri,
    ssim_masked,
    std_log_jacobian,
    super_resolution_scores,
    tissue_statistics,
    translation_metrics,
)

ROOT = Path(__file__).resolve().parents[1]


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _head(shape=(40, 36), box=(slice(6, 30), slice(5, 31)), seed=0) -> torch.Tensor:
    """Zeros with a positive block in ``box`` (values in [0.5, 1], maximum exactly 1)."""
    ref = torch.zeros(shape, dtype=torch.float64)
    block = 0.5 + 0.5 * _rng(seed).random(ref[box].shape)
    block.flat[0] = 1.0
    ref[box] = torch.from_numpy(block)
    return ref


# ------------------------------------------------------------------------------------------------------ foregrounds


def test_foreground_box_and_mask_by_hand():
    ref = torch.zeros(10, 12, 8)
    ref[2:7, 3:9, 1:5] = 0.5
    ref[4, 5, 2] = 1.0
    assert foreground_box(ref) == (slice(2, 7), slice(3, 9), slice(1, 5))
    assert foreground_box(ref, threshold=0.6) == (slice(4, 5), slice(5, 6), slice(2, 3))
    assert foreground_box(torch.zeros(3, 4)) == (slice(0, 3), slice(0, 4))  # nothing passes: the whole image
    assert int(foreground_mask(ref).sum()) == 5 * 6 * 4
    assert int(foreground_mask(ref, threshold=0.6).sum()) == 1
    assert int(foreground_mask(ref, threshold=0.0).sum()) == 5 * 6 * 4  # default 0.05, not 0 as the box's


# ---------------------------------------------------------------------------------------------------------- fastMRI


def test_fastmri_nmse_and_psnr_by_hand():
    gt = np.ones((2, 8, 8))
    assert nmse(gt, 0.9 * gt) == pytest.approx(0.01, rel=1e-12)
    assert nmse(gt, gt) == 0.0
    pred = gt + 0.1  # MSE 0.01 with max(gt) = 1: 20 dB
    assert psnr_fastmri(gt, pred) == pytest.approx(20.0, rel=1e-12)
    assert psnr_fastmri(gt, pred, maxval=10.0) == pytest.approx(40.0, rel=1e-12)
    assert psnr_fastmri(gt, gt) == math.inf
    assert psnr_fastmri(gt[0], pred[0]) == pytest.approx(20.0, rel=1e-12)  # (H, W) is one slice
    with pytest.raises(ValueError, match="volume"):
        nmse(np.ones(4), np.ones(4))


def test_ssim_fastmri_equals_skimage_with_fastmri_settings():
    skimage_metrics = pytest.importorskip("skimage.metrics")
    rng = _rng(1)
    gt = rng.random((3, 33, 28))
    pred = gt + 0.08 * rng.standard_normal(gt.shape)
    for maxval in (None, 2.5):
        data_range = gt.max() if maxval is None else maxval
        expected = np.mean(
            [
                skimage_metrics.structural_similarity(
                    gt[i], pred[i], win_size=7, K1=0.01, K2=0.03, use_sample_covariance=True, data_range=data_range
                )
                for i in range(3)
            ]
        )
        assert ssim_fastmri(gt, pred, maxval) == pytest.approx(expected, rel=1e-10)
    assert ssim_fastmri(gt, gt) == pytest.approx(1.0, abs=1e-12)
    assert fastmri_metrics(gt, pred) == {
        "nmse": nmse(gt, pred),
        "psnr": psnr_fastmri(gt, pred),
        "ssim": ssim_fastmri(gt, pred),
    }


def test_reconstruction_scores_take_the_image_first():
    gt, pred = torch.ones(1, 8, 8), torch.full((1, 8, 8), 0.5)
    # NMSE normalises by the reference: 0.25 with the reference ones (1.0 if the arguments were swapped)
    assert reconstruction_scores(pred, gt)["nmse"] == pytest.approx(0.25, rel=1e-12)


# ------------------------------------------------------------------------------------------------------- the box


def test_psnr_box_by_hand_and_uses_the_box_only():
    ref = _head()
    box = foreground_box(ref)
    image = ref.clone()
    image[box] += 0.1  # inside the box: MSE 0.01, data range 1 -> 20 dB
    assert psnr_box(image, ref) == pytest.approx(20.0, rel=1e-5)
    image[0, :] = 5.0  # outside the box: no effect
    assert psnr_box(image, ref) == pytest.approx(20.0, rel=1e-5)
    outside = ref.clone()
    outside[:3] = 0.7
    assert psnr_box(outside, ref) == math.inf and ssim_box(outside, ref) == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match="no positive value"):
        psnr_box(ref, torch.zeros_like(ref))


def test_ssim_box_equals_skimage_gaussian_ssim_per_slice_in_the_box():
    skimage_metrics = pytest.importorskip("skimage.metrics")
    ref = torch.stack([_head(seed=s) for s in range(3)], dim=-1)  # (H, W, 3): three slices
    image = (ref + 0.1 * torch.from_numpy(_rng(2).standard_normal(ref.shape))).abs()
    box = foreground_box(ref)
    x, y = (t[box].numpy() / float(ref.max()) for t in (image, ref))
    kwargs = {"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False, "data_range": 1.0}
    expected = np.mean([skimage_metrics.structural_similarity(x[..., k], y[..., k], **kwargs) for k in range(3)])
    assert ssim_box(image, ref) == pytest.approx(expected, abs=1e-5)
    assert ssim_box(image[..., 0], ref[..., 0]) == pytest.approx(
        skimage_metrics.structural_similarity(x[..., 0], y[..., 0], **kwargs), abs=1e-5
    )
    with pytest.raises(ValueError, match="smaller than the SSIM window"):
        ssim_box(image, ref, win_size=31)


def test_denoising_scores_are_the_box_metrics_of_channel_0():
    ref = _head()[None]
    image = torch.cat([ref + 0.05, torch.zeros_like(ref)])  # channel 1 is ignored
    scores = denoising_scores(image, ref)
    assert list(scores) == ["psnr", "ssim"]
    assert scores["psnr"] == pytest.approx(26.0206, abs=1e-3)  # 20 log10(1 / 0.05)
    assert scores["ssim"] == ssim_box(image[0], ref[0])


# --------------------------------------------------------------------------------------------------- the mask


def test_psnr_masked_by_hand_and_uses_the_mask_only():
    ref = torch.zeros(1, 12, 12, 12, dtype=torch.float64)
    ref[:, 3:9, 3:9, 3:9] = 2.0
    mask = foreground_mask(ref)
    ref_bright = ref.clone()
    ref_bright[0, 0, 0, 0] = 100.0  # outside the mask: changes neither the data range nor the MSE
    image = ref + 0.2 * mask.double()
    image[0, 0] = 7.0
    assert psnr_masked(image, ref, mask) == pytest.approx(20.0, rel=1e-12)  # 20 log10(2 / 0.2)
    assert psnr_masked(image, ref_bright, mask) == pytest.approx(20.0, rel=1e-12)
    assert psnr_masked(ref, ref, mask) == math.inf


@pytest.mark.parametrize("shape", [(1, 30, 27), (1, 22, 20, 19)])
def test_ssim_masked_equals_skimage_gaussian_ssim_map_over_the_mask(shape):
    skimage_metrics = pytest.importorskip("skimage.metrics")
    rng = _rng(3)
    ref = torch.from_numpy(rng.random(shape)).float()
    image = ref + 0.2 * torch.from_numpy(rng.standard_normal(shape)).float()
    mask = foreground_mask(ref, 0.3)
    data_range = float(ref[mask].max())
    _, full = skimage_metrics.structural_similarity(
        image[0].numpy().astype(np.float64),
        ref[0].numpy().astype(np.float64),
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=data_range,
        full=True,
    )
    inner = tuple(slice(5, n - 5) for n in shape[1:])  # the window centres MONAI's valid convolution keeps
    expected = full[inner][mask[0][inner].numpy()].mean()
    assert ssim_masked(image, ref, mask) == pytest.approx(expected, abs=1e-5)
    assert ssim_masked(ref, ref, mask) == pytest.approx(1.0, abs=1e-6)


def test_sharpness_masked_by_hand():
    ramp = (0.5 * torch.arange(10, dtype=torch.float64)[:, None, None]).expand(10, 10, 10).clone()[None]
    mask = torch.ones_like(ramp, dtype=torch.bool)
    assert sharpness_masked(ramp, ramp, mask) == pytest.approx(1.0, rel=1e-12)
    assert sharpness_masked(3 * ramp, ramp, mask) == pytest.approx(3.0, rel=1e-12)  # gradient 1.5 vs 0.5


def test_super_resolution_scores_inside_the_foreground_mask():
    ref = torch.zeros(1, 16, 16, 16)
    ref[:, 2:14, 2:14, 2:14] = 1.0
    image = ref + 0.1 * (ref > 0)
    scores = super_resolution_scores(image, ref, metrics=("psnr", "sharpness"))
    assert list(scores) == ["psnr", "sharpness"] and scores["psnr"] == pytest.approx(20.0, rel=1e-6)
    with pytest.raises(ValueError, match="unknown metrics"):
        super_resolution_scores(image, ref, metrics=("psnr", "lpips"))


def test_the_definitions_differ_hence_their_names():
    """On one image pair the three SSIMs (and the PSNRs) are different numbers."""
    ref = _head(shape=(48, 44), box=(slice(8, 40), slice(6, 38)))
    ref[8:20, 6:16] = 0.02  # in the foreground box (nonzero) but not in the foreground mask (below 5 %)
    image = (ref + 0.1 * torch.from_numpy(_rng(4).standard_normal(ref.shape))).abs()
    ssims = (
        ssim_fastmri(ref, image),
        ssim_box(image, ref),
        ssim_masked(image[None], ref[None], foreground_mask(ref[None])),
    )
    psnrs = (
        psnr_fastmri(ref, image),
        psnr_box(image, ref),
        psnr_masked(image[None], ref[None], foreground_mask(ref[None])),
    )
    for values in (ssims, psnrs):
        assert (
            min(abs(a - b) for a, b in [(values[0], values[1]), (values[0], values[2]), (values[1], values[2])]) > 1e-3
        )


# -------------------------------------------------------------------------------------------- generative models


def test_mutual_information_by_hand():
    x = np.array([0.0, 1.0, 0.0, 1.0])
    assert mutual_information(x, x, bins=2) == pytest.approx(math.log(2), rel=1e-12)
    assert mutual_information(x, np.array([0.0, 0.0, 1.0, 1.0]), bins=2) == pytest.approx(0.0, abs=1e-15)


def test_nearest_ncc_finds_the_affine_copy():
    references = torch.from_numpy(_rng(5).random((7, 1, 8, 8)))
    queries = torch.stack([3 * references[4] + 1, -references[2]])
    ncc, index = nearest_ncc(queries, references, chunk=3)
    assert ncc[0] == pytest.approx(1.0, abs=1e-12) and int(index[0]) == 4
    assert ncc[1] < 0.9


def test_ms_ssim_diversity_averages_the_pairs():
    images = torch.from_numpy(_rng(6).random((2, 1, 64, 64))).float()
    assert ms_ssim_diversity(torch.stack([images[0], images[0]])) == pytest.approx(1.0, abs=1e-5)
    s = ms_ssim_diversity(images)
    # pairs (0, 1) identical, (0, 2) and (1, 2) each s: the mean is (1 + 2 s) / 3
    assert ms_ssim_diversity(torch.stack([images[0], images[0], images[1]])) == pytest.approx((1 + 2 * s) / 3, abs=1e-5)
    with pytest.raises(ValueError, match="two images"):
        ms_ssim_diversity(images[:1])


def test_tissue_statistics_and_frechet_distance_by_hand():
    image = np.zeros((1, 10, 10))
    image[0, :5, :4] = np.linspace(0.1, 0.9, 20).reshape(5, 4)
    stats = tissue_statistics(torch.from_numpy(image[None]))[0].numpy()
    foreground = image[image > 0.05]
    assert stats[0] == pytest.approx(0.2) and stats[1:] == pytest.approx(np.percentile(foreground, [5, 25, 50, 75, 95]))
    a, b = _rng(7).normal(1.0, 2.0, (50, 1)), _rng(8).normal(-1.0, 0.5, (40, 1))
    # 1D Gaussians: (mu_a - mu_b)^2 + (sigma_a - sigma_b)^2
    expected = (a.mean() - b.mean()) ** 2 + (a.std(ddof=1) - b.std(ddof=1)) ** 2
    assert frechet_distance(torch.from_numpy(a), torch.from_numpy(b)) == pytest.approx(expected, rel=1e-9)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)


def test_translation_metrics_by_hand():
    target = torch.rand(1, 1, 16, 16, 16, generator=torch.Generator().manual_seed(0))
    perfect = translation_metrics(target, target)
    assert perfect["mae"] == 0.0 and perfect["psnr"] == math.inf and perfect["ssim"] == pytest.approx(1.0, abs=1e-6)
    offset = translation_metrics(target + 0.1, target)
    assert offset["mae"] == pytest.approx(0.1, rel=1e-5) and offset["psnr"] == pytest.approx(20.0, rel=1e-5)


# ------------------------------------------------------------------------------------ label maps and displacements


def test_dice_and_hd95_per_label_by_hand():
    ref = np.zeros((6, 6, 6), dtype=int)
    pred = np.zeros_like(ref)
    ref[1:3, 1:3, 1:3] = 1  # 8 voxels
    pred[1:3, 1:3, 1:2] = 1  # 4 of them
    ref[0, 0, 5], pred[3, 0, 5] = 2, 2  # one voxel each, 3 voxels apart along X
    pred[5, 5, 5] = 3  # label 3 only in the prediction
    ref[5, 5, 0] = 5  # label 5 only in the reference
    dice = dice_per_label(pred, ref, [1, 2, 3, 4, 5])
    assert dice[1] == pytest.approx(2 * 4 / (8 + 4)) and dice[2] == 0.0 and dice[5] == 0.0
    assert math.isnan(dice[3]) and math.isnan(dice[4])  # not in the reference: NaN (MONAI's ignore_empty)
    hd95 = hd95_per_label(pred, ref, [2, 3, 4], spacing=(2.0, 1.0, 1.0))
    assert hd95[2] == pytest.approx(6.0) and math.isnan(hd95[3]) and math.isnan(hd95[4])
    with pytest.raises(ValueError, match="differ in shape"):
        dice_per_label(pred, ref[:5], [1])


def test_brats_regions_by_hand():
    ref = torch.zeros(1, 8, 8, 8)
    ref[0, 2:6, 2:6, 2:4] = 2  # edema: 32 voxels
    ref[0, 3:5, 3:5, 2:4] = 4  # enhancing inside it: 8 voxels
    pred = ref.clone()
    pred[pred == 4] = 1  # enhancing called necrosis: TC and WT right, ET missed
    scores = brats_region_metrics(pred, ref)
    assert scores["dice_wt"] == pytest.approx(1.0) and scores["dice_tc"] == pytest.approx(1.0)
    assert scores["dice_et"] == 0.0 and math.isnan(scores["hd95_et"]) and scores["hd95_wt"] == pytest.approx(0.0)
    empty = brats_region_metrics(torch.zeros(1, 4, 4, 4), torch.zeros(1, 4, 4, 4))
    assert all(empty[f"dice_{r}"] == 1.0 and empty[f"hd95_{r}"] == 0.0 for r in ("tc", "wt", "et"))


def test_segmentation_scores_use_the_reference_voxel_size():
    ref = torch.zeros(1, 10, 8, 8)
    ref[0, 2:5, 2:5, 2:5] = 2
    pred = torch.zeros_like(ref)
    pred[0, 3:6, 2:5, 2:5] = 2  # shifted by one voxel along X
    affine = torch.diag(torch.tensor([3.0, 1.0, 1.0, 1.0], dtype=torch.float64))
    scores = segmentation_scores(pred, MetaTensor(ref, affine=affine))
    assert list(scores) == ["dice_mean", "dice_wt", "dice_tc", "dice_et", "hd95_wt", "hd95_tc", "hd95_et"]
    assert scores["dice_wt"] == pytest.approx(2 * 18 / 54) and scores["hd95_wt"] == pytest.approx(3.0)
    assert scores["dice_mean"] == pytest.approx((scores["dice_wt"] + 1.0 + 1.0) / 3)  # TC, ET empty in both


def test_jacobian_metrics_by_hand():
    grid = np.stack(np.meshgrid(*[np.arange(6.0)] * 3, indexing="ij"))
    assert folding_percent(np.zeros((3, 6, 6, 6))) == 0.0 and std_log_jacobian(np.zeros((3, 6, 6, 6))) == 0.0
    scaled = 0.1 * grid  # det J = 1.1^3 everywhere
    assert folding_percent(scaled) == 0.0 and std_log_jacobian(torch.from_numpy(scaled)) == pytest.approx(0, abs=1e-6)
    folded = np.zeros_like(grid)
    folded[0] = -2 * grid[0]  # x -> -x: det J = -1 everywhere
    assert folding_percent(folded) == 100.0
    half = folded.copy()
    half[0, :, :3] = 0  # half of the voxels unfolded (det 1, log 0), half at log(eps)
    assert std_log_jacobian(half, eps=1e-4) == pytest.approx(abs(math.log(1e-4)) / 2, rel=1e-5)


def test_registration_metrics_row():
    ref = np.zeros((6, 6, 6), dtype=int)
    ref[1:3, 1:3, 1:3] = 1
    pred = ref.copy()
    pred[1:3, 1:3, 2] = 0
    row = registration_metrics(pred, ref, np.zeros((3, 6, 6, 6)), {"a": 1, "b": 2}, (1.0, 1.0, 1.0))
    assert list(row) == ["dice_a", "dice_b", "dice_mean", "hd95_a", "hd95_b", "hd95_mean", "folding_percent",
                         "std_log_jacobian"]  # fmt: skip
    assert row["dice_a"] == pytest.approx(2 / 3) and math.isnan(row["dice_b"]) and row["dice_mean"] == row["dice_a"]
    assert list(registration_metrics(None, None, np.zeros((3, 4, 4, 4)), {"a": 1}, (1, 1, 1))) == [
        "folding_percent",
        "std_log_jacobian",
    ]


# ---------------------------------------------------------------------------------------------------- the configs


def _targets(node):
    if isinstance(node, dict):
        if isinstance(node.get("_target_"), str):
            yield node
        for value in node.values():
            yield from _targets(value)
    elif isinstance(node, list):
        for value in node:
            yield from _targets(value)


def test_bundle_configs_take_their_case_scores_from_the_metrics_module():
    found = {}
    for path in sorted(ROOT.glob("bundles/*/configs/*.json")):
        for node in _targets(json.loads(path.read_text())):
            target = node["_target_"]
            assert ".metrics." not in target or target.startswith(("mri_monai.metrics.", "monai.")), (path, target)
            if target.startswith("mri_monai.metrics."):
                # the target alone (its arguments may refer to other config files): the path must resolve
                parser = ConfigParser({"score": {"_target_": target, "_mode_": "callable"}})
                found[f"{path.parent.parent.name}/{path.name}"] = parser.get_parsed_content("score")
    assert len(found) >= 6, found  # denoising, two super-resolution, two reconstruction, segmentation
    for where, score in found.items():
        assert score is getattr(metrics, score.__name__) and score.__name__ in metrics.__all__, where
