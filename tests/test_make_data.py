"""``mri-monai make-data``: files, geometry, datalists and refusal to clobber, per task."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
from monai.data import load_decathlon_datalist
from monai.transforms import LoadImaged
from scipy import ndimage

from mri_monai.cli import main
from mri_monai.data.acquisition import simulate_kspace
from mri_monai.data.fastmri_h5 import read_fastmri_h5
from mri_monai.data.tasks import (
    TASKS,
    make_task_data,
    make_task_subject,
    reconstruction_kspace_seed,
    reconstruction_slab,
    split_counts,
)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    root = tmp_path_factory.mktemp("made")
    return {
        t: make_task_data(t, root / t, subjects=3, seed=1, progress=False) for t in ("segmentation", "registration")
    }


def test_split_counts():
    assert split_counts(1) == (1, 0, 0)
    assert split_counts(3) == (1, 1, 1)
    assert split_counts(10) == (7, 1, 2)
    assert sum(split_counts(37)) == 37


def test_segmentation_data_load_with_monai(made):
    datalist = made["segmentation"]
    meta = json.loads(datalist.read_text())
    assert (len(meta["training"]), len(meta["validation"]), len(meta["test"])) == (1, 1, 1)
    assert "SYNTHETIC" in meta["description"]
    assert "McGill" in (datalist.parent / "NOTICE.txt").read_text()
    items = load_decathlon_datalist(datalist, data_list_key="test", base_dir=datalist.parent)
    data = LoadImaged(["image", "label"], ensure_channel_first=True, image_only=True)(items[0])
    assert tuple(data["image"].shape) == (4, 96, 112, 96)
    assert set(np.unique(data["label"].numpy()).astype(int)) == {0, 1, 2, 4}
    assert np.allclose(np.diag(data["image"].affine.numpy())[:3], 2.0)
    assert np.array_equal(data["image"].affine.numpy(), data["label"].affine.numpy())
    image, label = data["image"].numpy(), data["label"].numpy()[0]
    outside = image[0] == 0  # skull-stripped like BraTS: zero outside the brain, on every contrast
    assert 0.5 < outside.mean() < 0.85 and np.all(image[:, outside] == 0)
    wm = image[0][(label == 0) & ~outside]  # Rician noise at 3 %: neighbouring healthy voxels differ
    assert np.std(np.diff(image[0], axis=0)[(label[1:] == 0) & ~outside[1:] & ~outside[:-1]]) > 0.02 * wm.max()


def test_tumours_are_heterogeneous():
    from mri_monai.data import make_subject

    subject = make_subject(5, contrasts=("t1w", "t1ce", "flair"), tumour=True, shape=(96, 112, 96))
    labels, oedema = subject.tumour_labels, subject.fractions["oedema"]
    rim = ndimage.binary_dilation(np.isin(labels, (1, 4)), iterations=1) & (labels == 2)
    edge = (labels == 2) & ~ndimage.binary_erosion(labels > 0, iterations=1)
    assert oedema[rim].mean() > oedema[edge].mean() + 0.2  # infiltrating oedema thins towards its edge
    ratio = subject.images["t1ce"][labels == 4] / subject.images["t1w"][labels == 4]
    assert ratio.std() > 0.1 * ratio.mean()  # gadolinium uptake varies across the enhancing rim


def test_registration_data_has_atlas_pairs_and_fields(made):
    meta = json.loads(made["registration"].read_text())
    root = made["registration"].parent
    assert {"image", "label", "ddf"} <= set(meta["atlas"])
    atlas_ddf = np.asarray(nib.load(root / meta["atlas"]["ddf"]).dataobj)
    assert atlas_ddf.shape == (96, 112, 96, 3) and np.abs(atlas_ddf).max() == 0
    subject_ddf = np.asarray(nib.load(root / meta["training"][0]["ddf"]).dataobj)
    assert np.abs(subject_ddf).max() > 1.0
    labels = np.asarray(nib.load(root / meta["test"][0]["label"]).dataobj)
    assert set(np.unique(labels)) == {0, 1, 2, 3}
    assert len(meta["test_pairs"]) == 0  # one test subject makes no pair


def test_reconstruction_writes_fastmri_layout(tmp_path):
    datalist = make_task_data("reconstruction", tmp_path / "r", subjects=1, seed=2, progress=False, coils=4)
    entry = json.loads(datalist.read_text())["training"][0]
    multi = read_fastmri_h5(datalist.parent / entry["multicoil"])
    single = read_fastmri_h5(datalist.parent / entry["singlecoil"])
    assert multi.kspace.shape == (16, 4, 160, 128) and multi.kspace.dtype == np.complex64
    assert single.kspace.shape == (16, 160, 128)
    assert multi.reconstruction is not None and multi.reconstruction.shape == (16, 160, 128)
    assert multi.attrs["acquisition"] in ("AXT1", "AXT2", "AXFLAIR")
    assert np.isclose(multi.attrs["max"], multi.reconstruction.max())

    # the subject made again gives the stored k-space exactly, and its noiseless k-space the noise of the file
    subject = make_task_subject("reconstruction", 0, 1, seed=2)
    slab = reconstruction_slab(subject)[0]
    seed = reconstruction_kspace_seed(subject, 4)
    assert np.array_equal(simulate_kspace(slab, 4, 40.0, seed=seed).kspace, multi.kspace)
    noise = multi.kspace - simulate_kspace(slab, 4, float("inf"), seed=seed).kspace
    assert np.isclose(np.concatenate([noise.real, noise.imag]).std(), multi.attrs["noise_sigma"], rtol=0.01)
    with pytest.raises(ValueError, match="outside 0..0"):
        make_task_subject("reconstruction", 1, 1, seed=2)


def test_same_seed_same_data_other_seed_other_data(tmp_path):
    a = make_task_data("synthesis", tmp_path / "a", subjects=1, seed=4, progress=False)
    b = make_task_data("synthesis", tmp_path / "b", subjects=1, seed=4, progress=False)
    c = make_task_data("synthesis", tmp_path / "c", subjects=1, seed=5, progress=False)
    img = [np.asarray(nib.load(d.parent / "sub-000" / "t1w.nii.gz").dataobj) for d in (a, b, c)]
    assert np.array_equal(img[0], img[1])
    assert np.abs(img[0] - img[2]).mean() > 0.01


def test_cli_refuses_a_non_empty_folder(tmp_path, capsys):
    out = tmp_path / "data"
    out.mkdir()
    (out / "keep.txt").write_text("user file")
    assert main(["make-data", "synthesis", "--out", str(out), "--subjects", "1"]) == 2
    assert "not empty" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "user file" and len(list(out.iterdir())) == 1
    assert main(["make-data", "synthesis", "--out", str(out), "--subjects", "1", "--overwrite"]) == 0
    assert (out / "datalist.json").is_file() and not (out / "keep.txt").exists()
    assert not (tmp_path / "data.partial").exists()


def test_every_task_is_described():
    for name, spec in TASKS.items():
        assert spec.description and len(spec.shape) == 3, name
