"""Every metric of the package, defined once, and the case score of each bundle.

Tasks do not share one definition of "PSNR" or "SSIM": each follows its field's convention, so a metric with
several definitions has one function per definition, named by a suffix for what differs.

- ``_fastmri`` (reconstruction; Zbontar et al., arXiv:1811.08839, and fastMRI's ``evaluate.py``), for a reference
  volume ``gt`` and a reconstruction ``pred`` of shape (slices, H, W), with data range ``max(gt)`` of the volume:
  :func:`nmse` = ||gt - pred||^2 / ||gt||^2; :func:`psnr_fastmri` = 10 log10(max(gt)^2 / MSE) over the volume
  (MONAI's ``PSNRMetric``); :func:`ssim_fastmri` per slice with a uniform 7 x 7 window, k1 = 0.01, k2 = 0.03 and
  the sample (N - 1) covariance (``skimage.metrics.structural_similarity``'s defaults), averaged over the valid
  (unpadded) window positions, then over the slices. MONAI's ``SSIMMetric`` with ``kernel_type="uniform",
  win_size=7`` uses the population covariance (about 2 % lower local variances), hence the own computation.
- ``_box`` (denoising): inside the bounding box of the reference's foreground (:func:`foreground_box`, by default
  the nonzero voxels, so that the empty background around a skull-stripped brain does not dominate), data range
  = the reference's maximum. :func:`psnr_box` is MONAI's ``PSNRMetric`` over the box; :func:`ssim_box` is MONAI's
  ``SSIMMetric`` (Gaussian window 11, sigma 1.5) in 2D on each slice along the last axis (the slices the 2D
  networks see), averaged.
- ``_masked`` (super-resolution): over a boolean mask (:func:`foreground_mask`, by default the voxels above 5 % of
  the reference's maximum: the head), data range = the reference's maximum in the mask. :func:`psnr_masked` over
  the mask's voxels; :func:`ssim_masked` is MONAI's Gaussian SSIM map (window 11, sigma 1.5) in the image's own
  dimension (3D for volumes), averaged over the mask; :func:`sharpness_masked` the mean gradient magnitude in the
  mask relative to the reference's.
- Translation (:func:`translation_metrics`) uses MONAI's ``MAEMetric``, ``PSNRMetric`` and ``SSIMMetric`` (Gaussian
  window 11, sigma 1.5, 3D for volumes) on the whole image with a fixed data range, and :func:`mutual_information`.
- Sample sets (synthesis): :func:`nearest_ncc`, :func:`ms_ssim_diversity` (MONAI's ``MultiScaleSSIMMetric``),
  :func:`tissue_statistics` and their :func:`frechet_distance`.
- Label maps: :func:`dice_per_label` and :func:`hd95_per_label` (registration: one-hot masks of integer label
  values, NaN when a label is missing) and :func:`brats_region_metrics` (segmentation: the BraTS regions, a region
  empty in both maps scores Dice 1 and HD95 0), both on MONAI's ``compute_dice`` and ``compute_hausdorff_distance``.
- Displacement fields: :func:`folding_percent` and :func:`std_log_jacobian` (Learn2Reg's SDlogJ).

An "SSIM" of two bundles is therefore the same number only between bundles with the same definition.

The case scores, ``score(image, reference) -> {metric: value}`` for :class:`mri_monai.case_metrics.CaseMetricsWriter`
(bundle configs name them as ``mri_monai.metrics.<name>``): :func:`denoising_scores`, :func:`super_resolution_scores`,
:func:`reconstruction_scores`, :func:`segmentation_scores`; the registration and translation evaluations fill
their tables with :func:`registration_metrics` and :func:`translation_metrics`.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from monai.metrics import (
    MAEMetric,
    MultiScaleSSIMMetric,
    PSNRMetric,
    SSIMMetric,
    compute_dice,
    compute_hausdorff_distance,
)
from monai.networks.layers import separable_filtering
from monai.transforms import ConvertToMultiChannelBasedOnBratsClasses

from mri_monai.data.deformation import jacobian_determinant

__all__ = [
    # foregrounds
    "foreground_box",
    "foreground_mask",
    # fastMRI (reconstruction)
    "nmse",
    "psnr_fastmri",
    "ssim_fastmri",
    "fastmri_metrics",
    # in the foreground box (denoising)
    "psnr_box",
    "ssim_box",
    # in a foreground mask (super-resolution)
    "psnr_masked",
    "ssim_masked",
    "sharpness_masked",
    # intensities and sample sets (translation, synthesis)
    "mutual_information",
    "nearest_ncc",
    "ms_ssim_diversity",
    "tissue_statistics",
    "frechet_distance",
    # label maps and displacement fields (registration, segmentation)
    "REGIONS",
    "dice_per_label",
    "hd95_per_label",
    "brats_region_metrics",
    "folding_percent",
    "std_log_jacobian",
    # case scores
    "denoising_scores",
    "super_resolution_scores",
    "reconstruction_scores",
    "translation_metrics",
    "segmentation_scores",
    "registration_metrics",
]


# ---------------------------------------------------------------------------------------------------------- foregrounds


def foreground_box(reference: torch.Tensor, threshold: float = 0.0) -> tuple[slice, ...]:
    """Bounding box of the voxels of ``reference`` above ``threshold * reference.max()`` (the ``_box`` metrics).

    Args:
        reference: image (*spatial).
        threshold: fraction of the maximum; 0 keeps the nonzero voxels.

    Returns:
        one slice per spatial axis; the whole image when no voxel passes.
    """
    mask = reference > threshold * reference.max()
    if not bool(mask.any()):
        return tuple(slice(0, s) for s in reference.shape)
    idx = torch.nonzero(mask)
    low, high = idx.min(0).values, idx.max(0).values + 1
    return tuple(slice(int(lo), int(hi)) for lo, hi in zip(low, high, strict=True))


def foreground_mask(reference: torch.Tensor, threshold: float = 0.05) -> torch.Tensor:
    """Boolean mask of the voxels of ``reference`` above ``threshold`` times its maximum (the ``_masked`` metrics).

    Unlike :func:`foreground_box`, the voxels themselves, not their bounding box, and by default above 5 % of the
    maximum (the head without the background noise), not above zero.
    """
    return reference > threshold * reference.max()


# --------------------------------------------------------------------------------------------- fastMRI (reconstruction)

#: fastMRI's SSIM window (uniform, pixels a side) and constants.
FASTMRI_WIN_SIZE = 7
FASTMRI_K1, FASTMRI_K2 = 0.01, 0.03


def _volume(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x).detach().cpu().to(torch.float64)
    if x.ndim == 2:
        x = x.unsqueeze(0)
    if x.ndim != 3:
        raise ValueError(f"expected a (slices, H, W) or (H, W) volume, got shape {tuple(x.shape)}")
    return x


def nmse(gt: np.ndarray | torch.Tensor, pred: np.ndarray | torch.Tensor) -> float:
    """Normalised mean squared error ||gt - pred||^2 / ||gt||^2 of (slices, H, W) volumes (fastMRI's)."""
    gt, pred = _volume(gt), _volume(pred)
    return float(((gt - pred) ** 2).sum() / (gt**2).sum())


def psnr_fastmri(gt: np.ndarray | torch.Tensor, pred: np.ndarray | torch.Tensor, maxval: float | None = None) -> float:
    """PSNR in dB of (slices, H, W) volumes over the whole volume, data range ``maxval`` (default ``gt.max()``).

    MONAI's ``PSNRMetric`` with ``max_val = maxval``, in float64 (fastMRI's definition).
    """
    gt, pred = _volume(gt), _volume(pred)
    maxval = float(gt.max()) if maxval is None else maxval
    return float(PSNRMetric(max_val=maxval)(pred.unsqueeze(0), gt.unsqueeze(0)).item())


def ssim_fastmri(gt: np.ndarray | torch.Tensor, pred: np.ndarray | torch.Tensor, maxval: float | None = None) -> float:
    """Mean SSIM of (slices, H, W) volumes as fastMRI computes it (uniform 7 x 7 window, sample covariance).

    Per slice with data range ``maxval`` (default ``gt.max()`` of the volume), k1 = 0.01, k2 = 0.03, averaged over
    the valid window positions and then the slices (see the module docstring); not MONAI's Gaussian SSIM.
    """
    gt, pred = _volume(gt), _volume(pred)
    maxval = float(gt.max()) if maxval is None else maxval
    win = FASTMRI_WIN_SIZE
    kernel = torch.full((1, 1, win, win), 1.0 / win**2, dtype=torch.float64)
    x, y = gt.unsqueeze(1), pred.unsqueeze(1)
    ux, uy = F.conv2d(x, kernel), F.conv2d(y, kernel)
    uxx, uyy, uxy = F.conv2d(x * x, kernel), F.conv2d(y * y, kernel), F.conv2d(x * y, kernel)
    cov_norm = win**2 / (win**2 - 1)
    vx, vy, vxy = cov_norm * (uxx - ux * ux), cov_norm * (uyy - uy * uy), cov_norm * (uxy - ux * uy)
    c1, c2 = (FASTMRI_K1 * maxval) ** 2, (FASTMRI_K2 * maxval) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
    return float(s.mean(dim=(1, 2, 3)).mean())


def fastmri_metrics(gt: np.ndarray | torch.Tensor, pred: np.ndarray | torch.Tensor) -> dict[str, float]:
    """``{"nmse", "psnr", "ssim"}`` (:func:`nmse`, :func:`psnr_fastmri`, :func:`ssim_fastmri`) of a volume."""
    return {"nmse": nmse(gt, pred), "psnr": psnr_fastmri(gt, pred), "ssim": ssim_fastmri(gt, pred)}


# ------------------------------------------------------------------------------------ in the foreground box (denoising)


def _box_pair(image: torch.Tensor, reference: torch.Tensor, threshold: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``image`` and ``reference`` (float32) in the reference's :func:`foreground_box`, divided by its maximum,
    as (H, W, D) (a 2D image gets D = 1)."""
    image, reference = torch.as_tensor(image).float(), torch.as_tensor(reference).float()
    if image.shape != reference.shape or image.ndim not in (2, 3):
        raise ValueError(f"need two (H, W) or (H, W, D) images of one shape, got {image.shape}, {reference.shape}")
    data_range = float(reference.max())
    if data_range <= 0:
        raise ValueError("the reference has no positive value: PSNR and SSIM are undefined")
    box = foreground_box(reference, threshold)
    x, y = image[box] / data_range, reference[box] / data_range
    if x.ndim == 2:
        x, y = x[..., None], y[..., None]
    return x, y


def psnr_box(image: torch.Tensor, reference: torch.Tensor, threshold: float = 0.0) -> float:
    """PSNR (dB) of ``image`` against ``reference`` inside the reference's :func:`foreground_box`.

    MONAI's ``PSNRMetric`` over the box, data range = ``reference.max()``.

    Args:
        image: (H, W) or (H, W, D), in the units of ``reference``.
        reference: noise-free image of the same shape.
        threshold: foreground threshold, see :func:`foreground_box`.
    """
    x, y = _box_pair(image, reference, threshold)
    return float(PSNRMetric(max_val=1.0)(x[None, None], y[None, None]).mean())


def ssim_box(image: torch.Tensor, reference: torch.Tensor, threshold: float = 0.0, win_size: int = 11) -> float:
    """Mean 2D SSIM of the slices along the last axis of ``image`` against ``reference`` in its foreground box.

    MONAI's ``SSIMMetric`` (Gaussian window ``win_size``, sigma 1.5) on each slice of the box, data range =
    ``reference.max()``, averaged over the slices; not fastMRI's SSIM (:func:`ssim_fastmri`).

    Args:
        image: (H, W) or (H, W, D), in the units of ``reference``.
        reference: noise-free image of the same shape.
        threshold: foreground threshold, see :func:`foreground_box`.
        win_size: SSIM window; the box must be at least this large in-plane.
    """
    x, y = _box_pair(image, reference, threshold)
    if min(x.shape[:2]) < win_size:
        raise ValueError(f"foreground box {tuple(x.shape)} is smaller than the SSIM window {win_size}")
    slices_x, slices_y = x.permute(2, 0, 1)[:, None], y.permute(2, 0, 1)[:, None]  # (D, 1, H, W)
    return float(SSIMMetric(spatial_dims=2, data_range=1.0, win_size=win_size)(slices_x, slices_y).mean())


# ------------------------------------------------------------------------------ in a foreground mask (super-resolution)


def psnr_masked(image: torch.Tensor, reference: torch.Tensor, mask: torch.Tensor) -> float:
    """PSNR (dB) of ``image`` against ``reference`` inside ``mask``, data range = max of the reference in the mask.

    Args:
        image: (C, *spatial) or (*spatial).
        reference: same shape as ``image``.
        mask: boolean, same shape.
    """
    ref = reference[mask].double()
    mse = float(((image[mask].double() - ref) ** 2).mean())
    return float("inf") if mse == 0 else float(10.0 * np.log10(float(ref.max()) ** 2 / mse))


def _gaussian_1d(kernel_size: int, sigma: float) -> torch.Tensor:
    """The normalised 1D Gaussian window of MONAI's SSIM (``kernel_size`` taps, standard deviation ``sigma``)."""
    dist = torch.arange(kernel_size, dtype=torch.float32) - (kernel_size - 1) / 2
    window = torch.exp(-((dist / sigma) ** 2) / 2)
    return window / window.sum()


def ssim_masked(image: torch.Tensor, reference: torch.Tensor, mask: torch.Tensor, kernel_size: int = 11) -> float:
    """Mean SSIM of ``image`` against ``reference`` over ``mask`` (Gaussian window, sigma 1.5, 2D or 3D).

    The SSIM map is MONAI's (:func:`monai.metrics.regression.compute_ssim_and_cs`: the same window, constants and
    formula, data range = the reference's maximum in the mask) computed with the Gaussian window applied
    separably, one axis at a time (MONAI's ``separable_filtering``), which gives the same values about 40 times
    faster on a 3D volume than the full 11x11x11 convolution.

    Args:
        image: (C, *spatial) with 2 or 3 spatial dimensions, each at least ``kernel_size`` long.
        reference: same shape.
        mask: boolean, same shape; the SSIM map is valid for window centres only, so the mask is cropped to it.
        kernel_size: window size.
    """
    data_range = float(reference[mask].max())
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    x, y = image[None].float(), reference[None].float()
    half = kernel_size // 2
    valid = (slice(None), slice(None), *[slice(half, n - half) for n in x.shape[2:]])
    window = _gaussian_1d(kernel_size, 1.5)

    def local_mean(t: torch.Tensor) -> torch.Tensor:
        return separable_filtering(t, [window] * (t.ndim - 2))[valid]

    mu_x, mu_y = local_mean(x), local_mean(y)
    sigma_x, sigma_y = local_mean(x * x) - mu_x**2, local_mean(y * y) - mu_y**2
    sigma_xy = local_mean(x * y) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1)) * ((2 * sigma_xy + c2) / (sigma_x + sigma_y + c2))
    return float(ssim_map[0][mask[valid[1:]]].mean())


def _gradient_magnitude(image: torch.Tensor) -> torch.Tensor:
    """Central-difference gradient magnitude of a (C, *spatial) image, same shape."""
    gradients = torch.gradient(image.double(), dim=tuple(range(1, image.ndim)))
    return torch.sqrt(sum(g**2 for g in gradients))


def sharpness_masked(image: torch.Tensor, reference: torch.Tensor, mask: torch.Tensor) -> float:
    """Mean gradient magnitude of ``image`` inside ``mask`` divided by the reference's (1: as sharp).

    Interpolation blurs below 1; noise or GAN texture can push it above.

    Args:
        image: (C, *spatial), every spatial axis at least 2 long.
        reference: same shape.
        mask: boolean, same shape.
    """
    return float(_gradient_magnitude(image)[mask].mean() / _gradient_magnitude(reference)[mask].mean())


# ---------------------------------------------------------------------- intensities and sample sets (generative models)


def mutual_information(x: torch.Tensor | np.ndarray, y: torch.Tensor | np.ndarray, bins: int = 64) -> float:
    """Mutual information (nats) of the joint intensity histogram of two images of the same shape.

    Args:
        x, y: images of any identical shape.
        bins: histogram bins per image, over each image's own range.
    """
    x, y = np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
    joint, _, _ = np.histogram2d(x, y, bins=bins)
    p = joint / joint.sum()
    px, py = p.sum(1, keepdims=True), p.sum(0, keepdims=True)
    nz = p > 0
    return float((p[nz] * np.log(p[nz] / (px @ py)[nz])).sum())


def _normalised(images: torch.Tensor) -> torch.Tensor:
    flat = images.reshape(images.shape[0], -1).double()
    flat = flat - flat.mean(1, keepdim=True)
    return flat / flat.norm(dim=1, keepdim=True).clamp_min(1e-12)


def nearest_ncc(queries: torch.Tensor, references: torch.Tensor, chunk: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised cross-correlation of each query image to its most similar reference image.

    A generator that memorises its training set has samples whose nearest-training NCC exceeds that of
    held-out real images (Bermudez et al. 2018 check their samples this way).

    Args:
        queries: (N, C, *S) images. references: (M, C, *S) images (e.g. every training slice).
        chunk: references compared at once (memory).

    Returns:
        ``(ncc, index)``: (N,) best NCC in [-1, 1] and (N,) index of the nearest reference.
    """
    q = _normalised(queries)
    best = torch.full((q.shape[0],), -2.0, dtype=torch.float64)
    index = torch.zeros(q.shape[0], dtype=torch.long)
    for start in range(0, references.shape[0], chunk):
        ncc = q @ _normalised(references[start : start + chunk]).T
        value, arg = ncc.max(1)
        better = value > best
        best[better], index[better] = value[better], arg[better] + start
    return best, index


def ms_ssim_diversity(images: torch.Tensor, max_pairs: int = 300, data_range: float = 1.0, seed: int = 0) -> float:
    """Mean multi-scale SSIM over pairs of images: lower means more diverse samples (Odena et al. 2017).

    Uses MONAI's ``MultiScaleSSIMMetric`` with a 7-pixel window and 4 scales, valid from 49 pixels a side.

    Args:
        images: (N, C, H, W) with N >= 2, intensities in [0, ``data_range``].
        max_pairs: at most this many random pairs are compared.
        data_range: intensity range.
        seed: seed of the pair selection.
    """
    pairs = list(itertools.combinations(range(images.shape[0]), 2))
    if not pairs:
        raise ValueError("need at least two images")
    rng = np.random.default_rng(seed)
    if len(pairs) > max_pairs:
        pairs = [pairs[i] for i in rng.choice(len(pairs), max_pairs, replace=False)]
    first = torch.stack([images[i] for i, _ in pairs]).float()
    second = torch.stack([images[j] for _, j in pairs]).float()
    metric = MultiScaleSSIMMetric(
        spatial_dims=images.ndim - 2, data_range=data_range, kernel_size=7, weights=(0.0448, 0.2856, 0.3001, 0.2363)
    )
    return float(metric(first, second).mean())


def tissue_statistics(images: torch.Tensor, threshold: float = 0.05) -> torch.Tensor:
    """Per-image tissue statistics: head fraction and the 5th-95th intensity percentiles inside the head.

    The percentiles of a brain slice's foreground describe its tissue mixture (CSF, grey and white matter
    intensities and their proportions), without needing a segmentation.

    Args:
        images: (N, C, *S) in [0, 1]; foreground is ``> threshold``.
        threshold: head/background threshold.

    Returns:
        (N, 6): foreground fraction and the 5, 25, 50, 75, 95 percentiles of the foreground.
    """
    levels = torch.tensor([0.05, 0.25, 0.5, 0.75, 0.95], dtype=torch.float64)
    rows = []
    for image in images:
        values = image.double().ravel()
        foreground = values[values > threshold]
        fraction = foreground.numel() / values.numel()
        percentiles = torch.quantile(foreground, levels) if foreground.numel() else torch.zeros(5, dtype=torch.float64)
        rows.append(torch.cat([torch.tensor([fraction], dtype=torch.float64), percentiles]))
    return torch.stack(rows)


def frechet_distance(features_a: torch.Tensor, features_b: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (as FID, here on tissue statistics).

    Args:
        features_a: (N, F). features_b: (M, F); N, M >= 2.
    """
    from scipy import linalg

    a, b = np.asarray(features_a, dtype=np.float64), np.asarray(features_b, dtype=np.float64)
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    covmean = linalg.sqrtm(cov_a @ cov_b)
    covmean = np.real(covmean)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * covmean))


# ------------------------------------------------------ label maps and displacement fields (registration, segmentation)


def _one_hot(labels: np.ndarray | torch.Tensor, values: Sequence[int]) -> torch.Tensor:
    """(X, Y, Z) integer labels -> (1, L, X, Y, Z) float one-hot masks of ``values``."""
    t = torch.as_tensor(np.asarray(labels))
    return torch.stack([t == v for v in values])[None].float()


def dice_per_label(pred: np.ndarray, ref: np.ndarray, labels: Sequence[int]) -> dict[int, float]:
    """Dice ``2 |P & R| / (|P| + |R|)`` of each label value, on one-hot masks (MONAI's ``compute_dice``).

    Not the integer-label-map Dice of MONAI's OASIS tutorial, and not :func:`brats_region_metrics`' convention for
    empty regions.

    Args:
        pred: (X, Y, Z) integer labels (e.g. the warped moving labels).
        ref: (X, Y, Z) integer labels (the fixed labels).
        labels: label values to score (e.g. ``(1, 2, 3)``).

    Returns:
        label -> Dice; ``nan`` when the label is not in ``ref`` (MONAI's ``ignore_empty``), 0 when only ``pred``
        lacks it.
    """
    if np.shape(pred) != np.shape(ref):
        raise ValueError(f"label maps differ in shape: {np.shape(pred)} vs {np.shape(ref)}")
    scores = compute_dice(_one_hot(pred, labels), _one_hot(ref, labels), include_background=True, ignore_empty=True)
    return {int(v): float(s) for v, s in zip(labels, scores[0], strict=True)}


def hd95_per_label(
    pred: np.ndarray, ref: np.ndarray, labels: Sequence[int], spacing: Sequence[float]
) -> dict[int, float]:
    """95th-percentile symmetric Hausdorff distance (mm) of each label's surface (MONAI's, on one-hot masks).

    Args:
        pred: (X, Y, Z) integer labels.
        ref: (X, Y, Z) integer labels.
        labels: label values to score.
        spacing: voxel size (mm) along X, Y, Z.

    Returns:
        label -> HD95 in mm; ``nan`` when the label is missing from either map.
    """
    if np.shape(pred) != np.shape(ref):
        raise ValueError(f"label maps differ in shape: {np.shape(pred)} vs {np.shape(ref)}")
    p, r = _one_hot(pred, labels), _one_hot(ref, labels)
    with warnings.catch_warnings():  # MONAI 1.6 warns about its own internal use of a deprecated argument
        warnings.filterwarnings("ignore", message=".*always_return_as_numpy.*")
        distances = compute_hausdorff_distance(
            p, r, include_background=True, percentile=95, spacing=[float(s) for s in spacing]
        )[0]
    present = (p.flatten(2).sum(-1) > 0) & (r.flatten(2).sum(-1) > 0)
    return {int(v): float(d) if ok else float("nan") for v, d, ok in zip(labels, distances, present[0], strict=True)}


#: the BraTS regions in the channel order of MONAI's ``ConvertToMultiChannelBasedOnBratsClasses``.
REGIONS = ("tc", "wt", "et")
_TO_REGIONS = ConvertToMultiChannelBasedOnBratsClasses()


def brats_region_metrics(
    prediction: torch.Tensor, reference: torch.Tensor, spacing: tuple[float, ...] | None = None
) -> dict[str, float]:
    """Dice and 95th-percentile Hausdorff distance (mm) of the BraTS regions of two label maps.

    Regions (MONAI's BraTS conversion): tumour core TC = labels 1 and 4, whole tumour WT = 1, 2 and 4, enhancing
    tumour ET = 4. A region empty in both maps scores Dice 1 and HD95 0; empty in one only, Dice 0 and HD95 NaN
    (unlike :func:`dice_per_label` and :func:`hd95_per_label`, which give NaN).

    Args:
        prediction: (1, X, Y, Z) or (X, Y, Z) BraTS label map (0, 1, 2, 4).
        reference: the same for the ground truth.
        spacing: voxel size in mm (default 1).

    Returns:
        ``{"dice_tc", "dice_wt", "dice_et", "hd95_tc", "hd95_wt", "hd95_et"}``.
    """
    pred = torch.as_tensor(_TO_REGIONS(prediction.squeeze()))[None].float()
    ref = torch.as_tensor(_TO_REGIONS(reference.squeeze()))[None].float()
    dice = compute_dice(pred, ref, include_background=True, ignore_empty=False)[0]
    hd = compute_hausdorff_distance(pred, ref, include_background=True, percentile=95, spacing=spacing)[0]
    out: dict[str, float] = {}
    for i, region in enumerate(REGIONS):
        p_any, r_any = bool(pred[0, i].any()), bool(ref[0, i].any())
        out[f"dice_{region}"] = float(dice[i]) if (p_any or r_any) else 1.0
        out[f"hd95_{region}"] = float(hd[i]) if (p_any and r_any) else (0.0 if not (p_any or r_any) else float("nan"))
    return out


def folding_percent(ddf: np.ndarray | torch.Tensor) -> float:
    """Percentage of voxels whose Jacobian determinant is <= 0 (folding).

    Args:
        ddf: (3, X, Y, Z) displacement in voxels.
    """
    return float(100.0 * np.mean(jacobian_determinant(ddf) <= 0))


def std_log_jacobian(ddf: np.ndarray | torch.Tensor, eps: float = 1e-9) -> float:
    """Standard deviation of ``log(det J)``, with ``det J`` clipped to ``[eps, 1/eps]`` (Learn2Reg's SDlogJ).

    Args:
        ddf: (3, X, Y, Z) displacement in voxels.
        eps: lower clip of the determinant (folded voxels count as ``log(eps)``).
    """
    return float(np.std(np.log(np.clip(jacobian_determinant(ddf), eps, 1.0 / eps))))


# ---------------------------------------------------------------------------------------------------------- case scores


def denoising_scores(image: torch.Tensor, reference: torch.Tensor, threshold: float = 0.0) -> dict[str, float]:
    """The denoising bundle's case score: :func:`psnr_box` and :func:`ssim_box` of channel 0 of ``image``.

    Args:
        image: (C, H, W[, D]).
        reference: same shape, noise-free.
        threshold: foreground threshold, see :func:`foreground_box`.

    Returns:
        ``{"psnr", "ssim"}``; SSIM is MONAI's Gaussian SSIM (window 11, sigma 1.5) per slice, not fastMRI's
        (:func:`ssim_fastmri`).
    """
    ssim = ssim_box(image[0], reference[0], threshold)  # first: it checks the box against the window
    return {"psnr": psnr_box(image[0], reference[0], threshold), "ssim": ssim}


_SUPER_RESOLUTION_METRICS = {"psnr": psnr_masked, "ssim": ssim_masked, "sharpness": sharpness_masked}


def super_resolution_scores(
    image: torch.Tensor, reference: torch.Tensor, threshold: float = 0.05, metrics: Sequence[str] = ("psnr", "ssim")
) -> dict[str, float]:
    """The super-resolution bundles' case score: ``metrics`` of ``image`` inside the HR ``reference``'s
    :func:`foreground_mask`.

    Args:
        image: (C, *spatial) on the reference's grid.
        reference: same shape.
        threshold: foreground threshold (fraction of the reference maximum).
        metrics: names from ``"psnr"`` (:func:`psnr_masked`), ``"ssim"`` (:func:`ssim_masked`, Gaussian window,
            not fastMRI's) and ``"sharpness"`` (:func:`sharpness_masked`).

    Raises:
        ValueError: an unknown metric name.
    """
    unknown = sorted(set(metrics) - set(_SUPER_RESOLUTION_METRICS))
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; choose from {sorted(_SUPER_RESOLUTION_METRICS)}")
    mask = foreground_mask(reference, threshold)
    return {name: _SUPER_RESOLUTION_METRICS[name](image, reference, mask) for name in metrics}


def reconstruction_scores(image: torch.Tensor, reference: torch.Tensor) -> dict[str, float]:
    """The reconstruction bundles' case score: :func:`fastmri_metrics` of ``image`` (S, H, W) against ``reference``."""
    return fastmri_metrics(reference, image)


def translation_metrics(pred: torch.Tensor, target: torch.Tensor, data_range: float = 1.0) -> dict[str, float]:
    """MAE, PSNR, SSIM and mutual information of a translated volume against the true target contrast.

    Args:
        pred: (1, C, *S) translated image, intensities in [0, ``data_range``].
        target: (1, C, *S) true image of the target contrast, same scale.
        data_range: intensity range for PSNR and SSIM.

    Returns:
        ``{"mae", "psnr", "ssim", "mi"}``: MONAI's metrics on the whole image; SSIM: MONAI's default 11-voxel
        Gaussian window (sigma 1.5), 3D for volumes; MI: :func:`mutual_information`.
    """
    pred, target = torch.as_tensor(pred).float(), torch.as_tensor(target).float()
    dims = pred.ndim - 2
    return {
        "mae": float(MAEMetric()(pred, target).mean()),
        "psnr": float(PSNRMetric(max_val=data_range)(pred, target).mean()),
        "ssim": float(SSIMMetric(spatial_dims=dims, data_range=data_range)(pred, target).mean()),
        "mi": mutual_information(pred.cpu().numpy(), target.cpu().numpy()),
    }


def _spacing(image: torch.Tensor) -> tuple[float, ...] | None:
    affine = getattr(image, "affine", None)
    return None if affine is None else tuple(float(v) for v in np.linalg.norm(np.asarray(affine)[:3, :3], axis=0))


def segmentation_scores(image: torch.Tensor, reference: torch.Tensor) -> dict[str, float]:
    """The segmentation bundle's case score: BraTS region Dice and HD95 (mm, at the reference's voxel size).

    Args:
        image: (1, X, Y, Z) BraTS label map (0, 1, 2, 4).
        reference: the same for the ground truth, with its affine when it is a MetaTensor (default spacing 1).

    Returns:
        ``dice_mean`` (the mean of the three regions' Dice), ``dice_wt``, ``dice_tc``, ``dice_et``, ``hd95_wt``,
        ``hd95_tc``, ``hd95_et`` (see :func:`brats_region_metrics`).
    """
    scores = brats_region_metrics(image, reference, _spacing(reference))
    names = ("dice_mean", *(f"dice_{r}" for r in ("wt", "tc", "et")), *(f"hd95_{r}" for r in ("wt", "tc", "et")))
    scores["dice_mean"] = float(np.mean([scores[f"dice_{r}"] for r in REGIONS]))
    return {name: scores[name] for name in names}


def registration_metrics(
    warped_labels: np.ndarray | None,
    fixed_labels: np.ndarray | None,
    ddf: np.ndarray,
    labels: dict[str, int],
    spacing: Sequence[float],
) -> dict[str, float]:
    """All comparison metrics of one registration result, as a flat row.

    Args:
        warped_labels: (X, Y, Z) moving labels warped to the fixed grid, or None (no label metrics).
        fixed_labels: (X, Y, Z) fixed labels, or None.
        ddf: (3, X, Y, Z) displacement in voxels.
        labels: name -> label value, e.g. ``{"csf": 1, "gm": 2, "wm": 3}``.
        spacing: fixed voxel size (mm).

    Returns:
        ``dice_<name>``, ``dice_mean`` (:func:`dice_per_label`), ``hd95_<name>``, ``hd95_mean`` (mm,
        :func:`hd95_per_label`) when labels are given, and ``folding_percent``, ``std_log_jacobian``.
    """
    row: dict[str, float] = {}
    if warped_labels is not None and fixed_labels is not None:
        values = list(labels.values())
        dice = dice_per_label(warped_labels, fixed_labels, values)
        hd95 = hd95_per_label(warped_labels, fixed_labels, values, spacing)
        for name, value in labels.items():
            row[f"dice_{name}"] = dice[value]
        row["dice_mean"] = float(np.nanmean(list(dice.values())))
        for name, value in labels.items():
            row[f"hd95_{name}"] = hd95[value]
        row["hd95_mean"] = float(np.nanmean(list(hd95.values())))
    row["folding_percent"] = folding_percent(ddf)
    row["std_log_jacobian"] = std_log_jacobian(ddf)
    return row
