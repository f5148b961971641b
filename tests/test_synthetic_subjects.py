"""Synthetic MNI152 subjects: realism, tissue contrast, tumours, deformations, k-space (numbers, not smoke)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mri_monai.data import ED, ET, NCR, jacobian_determinant, load_tissue_maps, make_subject, warp
from mri_monai.data.acquisition import simulate_kspace, slices_to_volume, volume_to_slices
from mri_monai.kspace import ifft2c, rss

GRID = dict(voxel_size=2.0, shape=(80, 96, 88))


@pytest.fixture(scope="module")
def subject():
    return make_subject(5, contrasts=("t1w", "t1ce", "t2w", "pdw", "flair"), tumour=True, **GRID)


def test_template_fractions_partition_the_brain():
    maps = load_tissue_maps(**GRID)
    total = maps.gm + maps.wm + maps.csf
    assert np.abs(total - maps.mask).max() < 1e-5
    inside = maps.mask > 0.5
    # MNI152 2009a: GM is the largest compartment, CSF the smallest, and the grid keeps the whole brain
    assert maps.gm[inside].mean() > maps.wm[inside].mean() > maps.csf[inside].mean() > 0.05
    assert maps.mask[0].max() < 0.5 and maps.mask[-1].max() < 0.5
    assert np.allclose(maps.voxel_size, 2.0)


def test_synthetic_t1w_correlates_with_the_real_template():
    maps = load_tissue_maps(**GRID)
    atlas = make_subject(0, contrasts=("t1w",), deform=False, bias_strength=0.0, relaxation_jitter=0.0, **GRID)
    inside = maps.mask > 0.5
    r = np.corrcoef(atlas.images["t1w"][inside], maps.t1[inside])[0, 1]
    assert r > 0.9, r


@pytest.mark.parametrize(
    "contrast, order",
    [("t1w", ("wm", "gm", "csf")), ("t2w", ("csf", "gm", "wm")), ("flair", ("gm", "wm", "csf"))],
)
def test_tissue_ordering(subject, contrast, order):
    img = subject.images[contrast]
    healthy = subject.tumour_labels == 0
    means = [img[(subject.fractions[t] > 0.9) & healthy].mean() for t in order]
    assert means[0] > means[1] > means[2], dict(zip(order, means, strict=True))
    if contrast == "flair":  # CSF suppressed: well below the darker of GM and WM
        assert means[2] < 0.35 * means[1]


def test_tumour_labels_and_appearance(subject):
    labels = subject.tumour_labels
    assert set(np.unique(labels)) == {0, NCR, ED, ET}
    assert np.all(subject.brain_mask[labels > 0] == 1)
    t1, t1ce, t2, flair = (subject.images[c] for c in ("t1w", "t1ce", "t2w", "flair"))
    wm = (subject.fractions["wm"] > 0.9) & (labels == 0)
    enhancing = labels == ET
    gain = t1ce[wm] / t1[wm]  # the two acquisitions differ by a receive gain only, outside the tumour
    assert gain.std() < 1e-4 * gain.mean()
    assert (t1ce[enhancing] / t1[enhancing]).mean() > 1.5 * gain.mean()  # gadolinium shortens T1
    assert flair[labels == ED].mean() > 1.4 * flair[wm].mean()  # oedema bright on FLAIR
    assert t2[labels == NCR].mean() > 2.0 * t2[wm].mean()  # necrosis bright on T2


def test_deformation_is_invertible_and_deterministic(subject):
    det = jacobian_determinant(subject.ddf)
    assert det.min() > 0.2 and (det <= 0).sum() == 0
    assert 1.0 < np.abs(subject.ddf).max() < 12.0  # it does move the anatomy
    again = make_subject(5, contrasts=("t1w",), tumour=True, **GRID)
    assert np.array_equal(again.ddf, subject.ddf)
    assert np.array_equal(again.tumour_labels, subject.tumour_labels)
    other = make_subject(6, contrasts=("t1w",), **GRID)
    assert np.abs(other.ddf - subject.ddf).mean() > 0.3


def test_kept_field_is_the_subjects_deformation(subject):
    """Warping the template's labels with the kept field reproduces the subject's labels."""
    maps = load_tissue_maps(**GRID)
    template = np.argmax(np.stack([1 - maps.mask, maps.csf, maps.gm, maps.wm]), axis=0).astype(np.float32)
    warped = warp(template, subject.ddf, mode="nearest")
    brain = subject.brain_mask > 0
    assert (warped[brain] == subject.tissue_labels[brain]).mean() > 0.9
    assert (template[brain] == subject.tissue_labels[brain]).mean() < 0.8  # the subject is not the template


@pytest.mark.parametrize("coils", [1, 8])
def test_kspace_round_trips_to_the_image(subject, coils):
    slab = volume_to_slices(subject.images["t2w"])[40:44]
    acq = simulate_kspace(slab, coils, snr=40.0, seed=1)
    assert acq.kspace.dtype == np.complex64
    assert acq.kspace.shape == ((4, coils, 96, 80) if coils > 1 else (4, 96, 80))
    k = torch.from_numpy(acq.kspace)
    recon = rss(ifft2c(k), dim=1) if coils > 1 else ifft2c(k).abs()
    assert np.allclose(recon.numpy(), acq.reconstruction_rss, atol=1e-5)
    # RSS of the noisy coil images equals the magnitude image within the noise
    err = acq.reconstruction_rss - slab
    brain = slab > 0.5 * slab.max()
    assert abs(err[brain].mean()) < 0.25 * acq.sigma
    assert 0.7 * acq.sigma < err[brain].std() < 1.3 * acq.sigma
    noiseless = simulate_kspace(slab, coils, snr=1e9, seed=1)
    assert np.abs(noiseless.reconstruction_rss - slab).max() < 1e-4 * slab.max()


def test_slice_layout_round_trips(subject):
    vol = subject.images["t1w"]
    assert np.array_equal(slices_to_volume(volume_to_slices(vol)), vol)
    assert volume_to_slices(vol).shape == (88, 96, 80)


def test_unknown_contrast_is_refused():
    with pytest.raises(ValueError, match="unknown contrast"):
        make_subject(0, contrasts=("t3w",), **GRID)
