"""brats_mri_vox2vox_segmentation: reading the contrasts, the baseline, the region metrics, the network, bad input."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
import torch
from monai.bundle import ConfigParser
from monai.data import MetaTensor
from monai.inferers import SimpleInferer
from monai.transforms import LoadImage, NormalizeIntensity
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from mri_monai.data.tasks import make_task_data
from mri_monai.data.tumour import ED, ET, NCR
from mri_monai.errors import InputError
from mri_monai.metrics import brats_region_metrics
from mri_monai.networks import Vox2VoxGenerator
from mri_monai.networks.weights import load_state
from mri_monai.segmentation import (
    InferWithNetworkd,
    MultiContrastReader,
    ThresholdSegmentation,
    hardest_case,
    segmentation_figure,
)

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "bundles" / "brats_mri_vox2vox_segmentation"


@pytest.fixture(scope="module")
def subject(tmp_path_factory) -> dict:
    """One generated tumour subject: {"image": [t1, t1ce, t2, flair], "label": seg} (absolute paths)."""
    out = tmp_path_factory.mktemp("seg") / "d"
    datalist = make_task_data("segmentation", out, subjects=3, seed=5, progress=False)
    entry = json.loads(datalist.read_text())["test"][0]
    return {"image": [str(out / p) for p in entry["image"]], "label": str(out / entry["label"]), "root": out}


@pytest.fixture(scope="module")
def realistic_subject(tmp_path_factory) -> dict:
    """One subject of the lesion model the shipped weights were trained on (``lesions="realistic"``), made from seed 6:
    not among the training data (seed 0), and a tumour with all three regions (about 1,300 necrotic/non-enhancing,
    24,900 oedema and 3,200 enhancing voxels)."""
    out = tmp_path_factory.mktemp("seg_realistic") / "d"
    datalist = make_task_data("segmentation", out, subjects=3, seed=6, progress=False, lesions="realistic")
    entry = json.loads(datalist.read_text())["test"][0]
    return {"image": [str(out / p) for p in entry["image"]], "label": str(out / entry["label"]), "root": out}


def read(names) -> MetaTensor:
    return LoadImage(reader=MultiContrastReader(4), image_only=True)(names)


# ---------------------------------------------------------------------------------------------------- reader


def test_reader_stacks_the_contrasts_in_order(subject):
    image = read(subject["image"])
    assert image.shape == (4, 96, 112, 96)
    for channel, name in enumerate(subject["image"]):
        assert np.allclose(image[channel].numpy(), nib.load(name).get_fdata(), atol=1e-5)
    assert np.allclose(image.affine.numpy(), nib.load(subject["image"][0]).affine, atol=1e-5)
    assert image.meta["filename_or_obj"] == subject["image"][0]


def test_reader_accepts_one_4d_file(subject, tmp_path):
    stacked = np.stack([nib.load(n).get_fdata(dtype=np.float32) for n in subject["image"]], axis=-1)
    path = tmp_path / "four.nii.gz"
    nib.save(nib.Nifti1Image(stacked, nib.load(subject["image"][0]).affine), path)
    assert torch.equal(read(str(path)), read(subject["image"]))


def _dicom_series(nifti: str, folder: Path, slices: int = 6) -> None:
    """The first ``slices`` axial slices of an axis-aligned RAS NIfTI volume as a DICOM series (MR_small's tags)."""
    image = nib.load(nifti)
    array, affine = image.get_fdata(dtype=np.float32)[..., :slices], image.affine
    ras_to_lps = np.diag([-1.0, -1.0, 1.0])
    folder.mkdir()
    series = generate_uid()
    for k in range(slices):
        ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
        ds.SeriesInstanceUID, ds.SOPInstanceUID, ds.InstanceNumber = series, generate_uid(), k + 1
        ds.ImageOrientationPatient = [*(ras_to_lps @ affine[:3, 0] / 2.0), *(ras_to_lps @ affine[:3, 1] / 2.0)]
        ds.ImagePositionPatient = list(ras_to_lps @ (affine[:3, 3] + k * affine[:3, 2]))
        ds.PixelSpacing, ds.SliceThickness = [2.0, 2.0], 2.0
        ds.Rows, ds.Columns = array.shape[1], array.shape[0]
        ds.RescaleSlope, ds.RescaleIntercept = 0.001, 0.0
        ds.PixelData = np.round(array[..., k].T * 1000).astype(np.int16).tobytes()
        ds.save_as(folder / f"{k:03d}.dcm")


def test_reader_reads_dicom_series(subject, tmp_path):
    folders = [tmp_path / name for name in ("t1", "t1ce", "t2", "flair")]
    for nifti, folder in zip(subject["image"], folders, strict=True):
        _dicom_series(nifti, folder)
    image = read([str(f) for f in folders])
    assert image.shape == (4, 96, 112, 6)
    expected = np.stack([nib.load(n).get_fdata()[..., :6] for n in subject["image"]])
    assert np.abs(image.numpy() - expected).max() < 1e-3
    assert np.allclose(image.affine.numpy(), nib.load(subject["image"][0]).affine, atol=1e-4)


def _copy_with(subject: dict, tmp_path: Path, index: int, data=None, affine=None) -> list[str]:
    names = list(subject["image"])
    source = nib.load(names[index])
    bad = tmp_path / f"bad_{index}.nii.gz"
    array = source.get_fdata(dtype=np.float32) if data is None else data
    nib.save(nib.Nifti1Image(array, source.affine if affine is None else affine), bad)
    names[index] = str(bad)
    return names


def test_reader_rejects_bad_inputs_naming_the_file(subject, tmp_path):
    with pytest.raises(InputError, match="expected 4 contrasts"):
        read(subject["image"][:3])
    shifted = nib.load(subject["image"][2]).affine.copy()
    shifted[0, 3] += 2.0
    names = _copy_with(subject, tmp_path, 2, affine=shifted)
    with pytest.raises(InputError, match=r"bad_2\.nii\.gz: geometry differs .* by 2 mm"):
        read(names)
    names = _copy_with(subject, tmp_path, 1, data=np.zeros((96, 112, 90), np.float32))
    with pytest.raises(InputError, match=r"bad_1\.nii\.gz: shape \(96, 112, 90\) differs"):
        read(names)
    nan = nib.load(subject["image"][3]).get_fdata(dtype=np.float32)
    nan[40, 50, 40] = np.nan
    with pytest.raises(InputError, match=r"bad_3\.nii\.gz: image contains 1 NaN"):
        read(_copy_with(subject, tmp_path, 3, data=nan))
    garbage = tmp_path / "garbage.nii.gz"
    garbage.write_bytes(b"not a nifti")
    with pytest.raises(InputError, match="garbage.nii.gz: not a readable NIfTI"):
        read([str(garbage), *subject["image"][1:]])
    with pytest.raises(InputError, match=r"shape is \(96, 112, 96\)"):
        read(subject["image"][0])


# ---------------------------------------------------------------------------------------------------- metrics


def _ball(shape, centre, radius) -> np.ndarray:
    grid = np.stack(np.meshgrid(*[np.arange(s) for s in shape], indexing="ij"))
    return np.sqrt(((grid - np.asarray(centre)[:, None, None, None]) ** 2).sum(0)) < radius


def test_region_metrics_on_known_label_maps():
    shape = (40, 40, 40)
    reference = np.zeros(shape, np.uint8)
    reference[_ball(shape, (20, 20, 20), 12)] = ED
    reference[_ball(shape, (20, 20, 20), 7)] = ET
    reference[_ball(shape, (20, 20, 20), 4)] = NCR
    perfect = brats_region_metrics(torch.as_tensor(reference), torch.as_tensor(reference))
    assert all(perfect[f"dice_{r}"] == 1.0 and perfect[f"hd95_{r}"] == 0.0 for r in ("wt", "tc", "et"))

    no_enhancing = np.where(reference == ET, ED, reference)  # ET called oedema: WT right, ET missed
    scores = brats_region_metrics(torch.as_tensor(no_enhancing), torch.as_tensor(reference), spacing=(2, 2, 2))
    ncr, tc = (reference == NCR).sum(), np.isin(reference, (NCR, ET)).sum()
    assert scores["dice_wt"] == 1.0 and scores["dice_et"] == 0.0 and np.isnan(scores["hd95_et"])
    assert scores["dice_tc"] == pytest.approx(2 * ncr / (ncr + tc), abs=1e-4)

    shifted = np.roll(reference, 3, axis=0)  # a 3-voxel shift at 2 mm: HD95 of WT close to 6 mm
    scores = brats_region_metrics(torch.as_tensor(shifted), torch.as_tensor(reference), spacing=(2, 2, 2))
    assert 4.0 <= scores["hd95_wt"] <= 6.0 + 1e-6
    assert 0.6 < scores["dice_wt"] < 0.9


# ---------------------------------------------------------------------------------------------------- baseline, network


def test_threshold_baseline_finds_the_tumour(subject):
    image = NormalizeIntensity(nonzero=True, channel_wise=True)(read(subject["image"]))
    labels = ThresholdSegmentation()(image)
    reference = LoadImage(image_only=True)(subject["label"])
    assert labels.shape == (1, *reference.shape) and labels.dtype == torch.uint8
    assert set(torch.unique(labels).tolist()) <= {0, NCR, ED, ET}
    scores = brats_region_metrics(labels, reference)
    assert scores["dice_wt"] > 0.85 and scores["dice_et"] > 0.7, scores


def test_vox2vox_generator_returns_probabilities():
    net = Vox2VoxGenerator(channels=(4, 8, 16), strides=(2, 2), num_res_units=1).eval()
    with torch.no_grad():
        out = net(torch.randn(2, 4, 16, 24, 16))
    assert out.shape == (2, 4, 16, 24, 16)
    assert torch.allclose(out.sum(dim=1), torch.ones(2, 16, 24, 16), atol=1e-5) and out.min() >= 0


def test_infer_with_network_keeps_meta_and_skips_missing_networks():
    image = MetaTensor(torch.randn(4, 16, 16, 16), affine=torch.diag(torch.tensor([2.0, 2.0, 2.0, 1.0])))
    net = Vox2VoxGenerator(channels=(4, 8), strides=(2,), num_res_units=1)
    out = InferWithNetworkd("image", net, SimpleInferer(), "other")({"image": image})
    assert out["other"].shape == (4, 16, 16, 16) and torch.equal(out["other"].affine, image.affine)
    assert InferWithNetworkd("image", None, SimpleInferer(), "other")({"image": image}).keys() == {"image"}


def test_figure_has_every_contrast_and_both_label_maps(subject):
    image = NormalizeIntensity(nonzero=True, channel_wise=True)(read(subject["image"]))
    reference = LoadImage(image_only=True, ensure_channel_first=True)(subject["label"])
    fig = segmentation_figure(image, ThresholdSegmentation()(image), reference)
    assert [ax.get_title() for ax in fig.axes] == ["T1", "T1ce", "T2", "FLAIR", "prediction", "reference"]
    empty = torch.zeros_like(reference)
    fig = segmentation_figure(image, empty, reference, others={"thresholds": empty}, prediction_name="Vox2Vox")
    assert [ax.get_title() for ax in fig.axes][4:] == ["Vox2Vox", "thresholds", "reference"]


def test_hardest_case_is_the_case_of_lowest_mean_dice(tmp_path):
    rows = "case,method,dice_mean\na/t1.nii.gz,network,0.8\nb/t1.nii.gz,network,0.4\nb/t1.nii.gz,threshold,0.9\n"
    rows += "c/t1.nii.gz,network,0.6\nc/t1.nii.gz,threshold,0.1\n"
    (tmp_path / "metrics.csv").write_text(rows)
    assert hardest_case(tmp_path / "metrics.csv") == "b/t1.nii.gz"
    assert hardest_case(tmp_path / "metrics.csv", "threshold") == "c/t1.nii.gz"
    with pytest.raises(ValueError, match="no_gan"):
        hardest_case(tmp_path / "metrics.csv", "no_gan")


# ---------------------------------------------------------------------------------------------------- bundle


def test_bundle_inference_rejects_a_nan_contrast_and_writes_nothing(subject, tmp_path):
    nan = nib.load(subject["image"][3]).get_fdata(dtype=np.float32)
    nan[10, 10, 10] = np.nan
    names = _copy_with(subject, tmp_path, 3, data=nan)
    datalist = tmp_path / "datalist.json"
    datalist.write_text(json.dumps({"training": [], "validation": [], "test": [{"image": names}]}))
    out = tmp_path / "out"
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "monai.bundle", "run", "--config_file", str(BUNDLE / "configs" / "inference.json"),
         "--bundle_root", str(BUNDLE), "--dataset_dir", str(subject["root"]), "--datalist", str(datalist),
         "--output_dir", str(out)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert result.returncode != 0
    assert "bad_3.nii.gz: image contains 1 NaN" in result.stderr
    assert not out.exists() or not list(out.rglob("*.nii.gz"))


def test_shipped_vox2vox_beats_its_no_gan_ablation(realistic_subject):
    """The paper's ablation, on a subject neither network saw: the adversarial term is what finds the oedema.

    Measured with the 0.2.0 weights: whole tumour 0.748 against 0.193, tumour core 0.780.
    """
    subject = realistic_subject
    parser = ConfigParser()
    parser.read_config(str(BUNDLE / "configs" / "inference.json"))
    parser.update({"bundle_root": str(BUNDLE), "dataset_dir": str(subject["root"])})
    image = parser.get_parsed_content("preprocessing")({"image": subject["image"]})["image"][None].as_tensor()
    inferer, generator = parser.get_parsed_content("inferer"), parser.get_parsed_content("network_def")
    reference = LoadImage(image_only=True)(subject["label"])
    to_brats = torch.tensor([0, NCR, ED, ET], dtype=torch.uint8)
    scores = {}
    for name in ("model", "no_gan"):
        net = load_state(copy.deepcopy(generator), BUNDLE / "models" / f"{name}.pt").eval()
        with torch.no_grad():
            labels = to_brats[inferer(image, net)[0].argmax(0)]
        scores[name] = brats_region_metrics(labels, reference)
    assert scores["model"]["dice_wt"] > 0.7 and scores["model"]["dice_tc"] > 0.7, scores["model"]
    assert scores["model"]["dice_wt"] > scores["no_gan"]["dice_wt"] + 0.3, scores
