"""The real-brain data (mri_monai.data.real_brain) on a small synthetic three-tissue head instead of Colin27."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
import torch

from mri_monai.data.acquisition import simulate_kspace
from mri_monai.data.real_brain import (
    real_brain_subject,
    simulation_snr,
    tissue_fractions,
    write_real_brain_kspace,
    write_real_brain_segmentation,
)
from mri_monai.data.realistic_tumour import RealisticLesions, make_realistic_tumour_subject
from mri_monai.data.tasks import TASKS, reconstruction_kspace_seed, reconstruction_slab
from mri_monai.recon import LoadFastMRId

WHITE_MATTER, GREY_MATTER, CSF = 100.0, 60.0, 25.0


@pytest.fixture(scope="module")
def brain_file(tmp_path_factory) -> str:
    """A skull-stripped 'T1w' ellipsoid (white matter core, grey matter shell, CSF rim) at 1.5 mm, off-centre."""
    shape = (100, 120, 96)
    grid = np.stack(np.meshgrid(*[np.arange(n, dtype=float) for n in shape], indexing="ij"))
    centre, radii = np.array([55.0, 62.0, 45.0]), np.array([38.0, 46.0, 34.0])
    r = np.sqrt((((grid - centre[:, None, None, None]) / radii[:, None, None, None]) ** 2).sum(axis=0))
    image = np.select([r < 0.6, r < 0.85, r < 1.0], [WHITE_MATTER, GREY_MATTER, CSF], 0.0).astype(np.float32)
    path = tmp_path_factory.mktemp("brain") / "brain.nii.gz"
    nib.save(nib.Nifti1Image(image, np.diag([1.5, 1.5, 1.5, 1.0])), path)
    return str(path)


@pytest.fixture(scope="module")
def subject(brain_file):
    return real_brain_subject(brain_file, "reconstruction")


@pytest.mark.parametrize("task", ["reconstruction", "denoising"])
def test_subject_on_the_task_grid_with_the_brain_centred(brain_file, task):
    spec = TASKS[task]
    subject = real_brain_subject(brain_file, task)
    image = subject.images["t1w"]
    assert image.shape == spec.shape and image.dtype == np.float32
    assert subject.voxel_size == pytest.approx((spec.voxel_size,) * 3)
    brain = np.argwhere(image > 0)
    centre = (brain.min(axis=0) + brain.max(axis=0)) / 2
    np.testing.assert_allclose(centre, (np.array(spec.shape) - 1) / 2, atol=1.0)
    # the brain keeps its size in mm: 2 x 38 voxels of 1.5 mm along X
    assert (brain.max(axis=0) - brain.min(axis=0) + 1)[0] * spec.voxel_size == pytest.approx(2 * 38 * 1.5, abs=3.0)


def test_white_matter_is_the_brightest_class(subject):
    image, labels = subject.images["t1w"], subject.tissue_labels
    assert GREY_MATTER < subject.parameters["white_matter_threshold"] < WHITE_MATTER
    assert np.median(image[labels == 3]) == pytest.approx(WHITE_MATTER)
    assert np.median(image[labels == 2]) == pytest.approx(GREY_MATTER)
    assert np.median(image[labels == 1]) == pytest.approx(CSF)
    assert not labels[image == 0].any()


def test_kspace_has_the_training_layout(subject, tmp_path):
    paths, slab = write_real_brain_kspace(subject, tmp_path / "snr30", 30.0, coils=8)
    height, width = TASKS["reconstruction"].shape[1], TASKS["reconstruction"].shape[0]
    np.testing.assert_array_equal(slab, reconstruction_slab(subject)[0])
    assert slab.shape == (16, height, width)
    multi = LoadFastMRId("multicoil")({"multicoil": str(paths["multicoil"])})
    single = LoadFastMRId("singlecoil")({"singlecoil": str(paths["singlecoil"])})
    assert multi["kspace"].shape == (16, 8, height, width) and multi["kspace"].dtype == torch.complex64
    assert single["kspace"].shape == (16, 1, height, width)
    assert multi["target"].shape == single["target"].shape == (16, height, width)
    assert multi["acquisition"] == "AXT1"


@pytest.mark.parametrize("white_matter_snr", [100.0, 10.0])
def test_white_matter_snr_is_the_one_asked(subject, tmp_path, white_matter_snr):
    paths, slab = write_real_brain_kspace(subject, tmp_path / "snr", white_matter_snr, coils=4)
    measured = LoadFastMRId("multicoil")({"multicoil": str(paths["multicoil"])})["kspace"]
    noiseless = simulate_kspace(slab, 4, float("inf"), seed=reconstruction_kspace_seed(subject, 4)).kspace
    noise = measured - torch.from_numpy(noiseless)
    sigma = float(torch.cat([noise.real.flatten(), noise.imag.flatten()]).std())
    white_matter = slab[slab >= subject.parameters["white_matter_threshold"]]
    assert white_matter.mean() / sigma == pytest.approx(white_matter_snr, rel=0.02)


def test_simulation_snr_rejects_bad_input():
    slab = np.ones((1, 4, 4), np.float32)
    with pytest.raises(ValueError):
        simulation_snr(slab, slab > 0, 0.0)
    with pytest.raises(ValueError):
        simulation_snr(slab, slab > 1, 30.0)


def test_tissue_fractions_follow_the_intensity_classes(subject):
    image, labels, fractions = subject.images["t1w"], subject.tissue_labels, subject.fractions
    total = fractions["csf"] + fractions["gm"] + fractions["wm"]
    np.testing.assert_allclose(total[image > 0], 1.0, atol=1e-6)
    assert not total[image == 0].any()
    for label, tissue in ((1, "csf"), (2, "gm"), (3, "wm")):  # mostly that tissue (the resampling mixes the edges)
        assert np.median(fractions[tissue][labels == label]) > 0.85
    # half-way between the grey and white matter means: half of each
    values = np.repeat([CSF, GREY_MATTER, WHITE_MATTER], 1000).astype(np.float32)
    volume = np.append(values, (GREY_MATTER + WHITE_MATTER) / 2).reshape(1, 1, -1)
    mixed = {tissue: f[0, 0, -1] for tissue, f in tissue_fractions(volume).items()}
    assert mixed["gm"] == pytest.approx(0.5, abs=0.02) and mixed["wm"] == pytest.approx(0.5, abs=0.02)


def test_lesions_go_into_the_anatomy_given(brain_file):
    anatomy = real_brain_subject(brain_file, "segmentation")
    lesions = RealisticLesions(tumour_free=0.0, mimics=False)
    subject = make_realistic_tumour_subject(3, lesions=lesions, anatomy=anatomy)
    assert subject.images["flair"].shape == TASKS["segmentation"].shape
    np.testing.assert_array_equal(subject.brain_mask, anatomy.brain_mask)
    np.testing.assert_array_equal(subject.affine, anatomy.affine)
    tumour = subject.tumour_labels > 0
    assert tumour.any() and not tumour[anatomy.brain_mask == 0].any()
    # outside the lesion the white matter is the anatomy's, moved a little by the mass effect
    healthy = ~tumour & (anatomy.brain_mask > 0)
    assert np.corrcoef(subject.fractions["wm"][healthy], anatomy.fractions["wm"][healthy])[0, 1] > 0.9


def test_real_brain_segmentation_cases_in_the_brats_layout(brain_file, tmp_path):
    datalist = write_real_brain_segmentation(brain_file, tmp_path / "seg", [5, 6])
    entries = json.loads(datalist.read_text())["test"]
    assert [e["subject"] for e in entries] == ["case-5", "case-6"]
    for entry in entries:
        images = [nib.load(tmp_path / "seg" / p) for p in entry["image"]]
        label = np.asarray(nib.load(tmp_path / "seg" / entry["label"]).dataobj)
        assert all(i.shape == TASKS["segmentation"].shape for i in images) and label.shape == images[0].shape
        assert set(np.unique(label)) - {0} and set(np.unique(label)) <= {0, 1, 2, 4}  # never tumour-free
        assert (tmp_path / "seg" / entry["subject"] / "lesions.json").is_file()
