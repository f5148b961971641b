"""Super-resolution: degradation, interpolation, metrics, the multi-scale fusion network and the bundle's inference."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import LoadImage

from mri_monai.denoising.noise import rician_noise
from mri_monai.errors import InputError
from mri_monai.metrics import foreground_mask, psnr_masked, ssim_masked
from mri_monai.networks.multiscale_fusion import MultiScaleFusionNet
from mri_monai.super_resolution.degrade import (
    DegradeResolution,
    DegradeResolutiond,
    check_scale,
    degrade_resolution,
    low_resolution_affine,
)
from mri_monai.super_resolution.transforms import InterpolateToGrid, InterpolateToGridd, high_resolution_affine

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "bundles" / "brain_mri_super_resolution"
SRGAN_BUNDLE = ROOT / "bundles" / "brain_mri_srgan_3d"
# bundle, output postfix, sliding-window ROI of its network input (the SRGAN's is on the low-resolution grid)
INFERENCE_BUNDLES = pytest.mark.parametrize(
    "bundle, postfix, roi",
    [(BUNDLE, "sr", "[48, 48, 48]"), (SRGAN_BUNDLE, "srgan", "[48, 48, 24]")],
    ids=["multiscale_fusion", "srgan"],
)
AFFINE = np.array([[0.0, 0.0, 1.0, -30.0], [-1.0, 0.0, 0.0, 40.0], [0.0, 1.2, 0.0, -10.0], [0.0, 0.0, 0.0, 1.0]])


def _image(shape=(12, 10, 16)) -> MetaTensor:
    return MetaTensor(torch.rand(1, *shape), affine=torch.as_tensor(AFFINE), meta={"filename_or_obj": "a.nii.gz"})


@pytest.mark.parametrize("scale", [(1, 1, 2), (1, 1, 4), (2, 2, 2), (1, 3, 1)])
def test_degradation_gives_the_low_resolution_shape_and_affine(scale):
    hr = _image((12, 10, 17))
    lr = DegradeResolution(scale)(hr)
    assert isinstance(lr, MetaTensor) and lr.dtype == torch.float32
    assert lr.shape[1:] == tuple(math.ceil(n / f) for n, f in zip(hr.shape[1:], scale, strict=True))
    assert np.allclose(lr.affine.numpy(), AFFINE @ np.diag([*scale, 1]))
    # LR voxel k sits on HR voxel k * f: the same world point
    assert np.allclose(lr.affine.numpy() @ [1, 1, 1, 1], AFFINE @ [scale[0], scale[1], scale[2], 1])
    # back on the HR grid: the HR affine
    assert np.allclose(high_resolution_affine(lr.affine, scale).numpy(), AFFINE)
    up = InterpolateToGrid(scale)(lr)
    assert up.shape[1:] == tuple(n * f for n, f in zip(lr.shape[1:], scale, strict=True))
    assert np.allclose(up.affine.numpy(), AFFINE)


@pytest.mark.parametrize("factor", [2, 4])
def test_slice_profile_has_the_new_slice_thickness_as_fwhm(factor):
    """A thin bright plane blurred by a Gaussian of FWHM f is 1/16 of its peak one LR slice (f HR voxels) away."""
    hr = torch.zeros(1, 4, 4, 16 * factor)
    hr[..., 8 * factor] = 1.0
    lr = degrade_resolution(hr, (1, 1, factor), noise_level=0.0)[0, 0, 0]
    assert int(lr.argmax()) == 8
    assert lr[7] / lr[8] == pytest.approx(1 / 16, rel=1e-3) and lr[9] / lr[8] == pytest.approx(1 / 16, rel=1e-3)


def test_noise_levels_and_determinism():
    hr = torch.full((1, 32, 32, 32), 10.0)
    gaussian = degrade_resolution(hr, (1, 1, 2), noise_level=0.05, noise="gaussian")
    assert float(gaussian.std()) == pytest.approx(0.5, rel=0.05)
    background = degrade_resolution(torch.zeros(1, 32, 32, 32).index_fill_(1, torch.tensor([0]), 1.0), (1, 1, 2), 0.1)
    rayleigh_mean = 0.1 * math.sqrt(math.pi / 2)  # Rician noise in the background: Rayleigh
    assert float(background[:, 1:].mean()) == pytest.approx(rayleigh_mean, rel=0.05)
    t = DegradeResolutiond("image", (1, 1, 2), deterministic=True)
    a, b = _image(), _image()
    b.copy_(a)
    assert torch.equal(t({"image": a})["image"], t({"image": b})["image"])
    random = DegradeResolutiond("image", (1, 1, 2)).set_random_state(0)
    assert not torch.equal(random({"image": a})["image"], random({"image": a})["image"])
    with pytest.raises(ValueError, match="scale"):
        check_scale((1, 1.5, 2))
    with pytest.raises(ValueError, match="noise"):
        degrade_resolution(hr, (1, 1, 2), noise="poisson")


def test_rician_degradation_is_the_denoising_noise_model():
    """The LR noise is :func:`rician_noise` (same draws for the same generator); Gaussian noise is its real part."""
    hr = _image((12, 10, 16)) * 100
    noiseless = degrade_resolution(hr, (1, 1, 2), noise_level=0.0)
    sigma = 0.03 * float(noiseless.max())
    for seed in (0, 7):
        lr = degrade_resolution(hr, (1, 1, 2), 0.03, "rician", torch.Generator().manual_seed(seed))
        expected = rician_noise(noiseless.as_tensor(), sigma, torch.Generator().manual_seed(seed))
        assert torch.equal(lr.as_tensor(), expected)
        lr = degrade_resolution(hr, (1, 1, 2), 0.03, "gaussian", torch.Generator().manual_seed(seed))
        n = torch.randn((2, *noiseless.shape), generator=torch.Generator().manual_seed(seed)) * sigma
        assert torch.equal(lr.as_tensor(), noiseless.as_tensor() + n[0])


def test_randomised_slice_profile_and_noise_level():
    """Training may draw the slice profile's FWHM and the noise level per image; by default both stay fixed."""
    plane = torch.zeros(1, 4, 4, 32)
    plane[..., 16] = 1.0
    # FWHM 1.5 x the slice thickness: the neighbouring LR slice is at 2^(-4 / 1.5^2) of the peak, not 1/16
    wide = degrade_resolution(plane, (1, 1, 2), noise_level=0.0, relative_fwhm=1.5)[0, 0, 0]
    assert wide[7] / wide[8] == pytest.approx(2 ** (-4 / 1.5**2), rel=1e-3)
    assert torch.equal(
        degrade_resolution(plane, (1, 1, 2), 0.0, relative_fwhm=1.0), degrade_resolution(plane, (1, 1, 2), 0.0)
    )
    # defaults: the fixed acquisition, identical to before the ranges existed
    hr = _image((16, 16, 16))
    fixed = DegradeResolution((1, 1, 2), noise_level=0.02)
    assert fixed.acquisition(5) == (1.0, 0.02)
    expected = degrade_resolution(hr, (1, 1, 2), 0.02, generator=torch.Generator().manual_seed(5))
    assert torch.equal(fixed(hr, seed=5), expected)
    # ranges: draws inside them, varying from image to image, reproducible from the seed
    t = DegradeResolution((1, 1, 2), fwhm_range=(0.75, 1.25), noise_range=(0.005, 0.05)).set_random_state(0)
    draws = np.array([t.acquisition(s) for s in range(200)])
    assert draws[:, 0].min() >= 0.75 and draws[:, 0].max() <= 1.25 and draws[:, 0].std() > 0.1
    assert draws[:, 1].min() >= 0.005 and draws[:, 1].max() <= 0.05 and draws[:, 1].std() > 0.01
    assert torch.equal(t(hr, seed=3), t(hr, seed=3))
    fwhm, level = t.acquisition(3)
    same = degrade_resolution(hr, (1, 1, 2), level, generator=torch.Generator().manual_seed(3), relative_fwhm=fwhm)
    assert torch.equal(t(hr, seed=3), same)
    flat = torch.full((1, 32, 32, 32), 10.0)
    d = DegradeResolutiond("image", (1, 1, 2), noise="gaussian", noise_range=(0.01, 0.05)).set_random_state(1)
    stds = [float(d({"image": flat})["image"].std()) / 10.0 for _ in range(20)]
    assert min(stds) >= 0.01 * 0.9 and max(stds) <= 0.05 * 1.1 and max(stds) - min(stds) > 0.01
    for bad in [{"fwhm_range": (1.25, 0.75)}, {"fwhm_range": (0.0, 1.0)}, {"noise_range": (-0.01, 0.02)}]:
        with pytest.raises(ValueError, match="range"):
            DegradeResolution((1, 1, 2), **bad)
    with pytest.raises(ValueError, match="relative_fwhm"):
        degrade_resolution(plane, (1, 1, 2), relative_fwhm=0.0)


def test_interpolation_onto_a_reference_grid_and_baseline_quality():
    z = torch.linspace(0, 2 * math.pi, 40)
    hr = MetaTensor(torch.sin(z).expand(1, 8, 8, 40).clone() + 2, affine=torch.as_tensor(AFFINE))
    lr = degrade_resolution(hr, (1, 1, 2), noise_level=0.0)
    d = InterpolateToGridd("lr", (1, 1, 2), order=3, output_keys="cubic", ref_key="hr")({"lr": lr, "hr": hr})
    d = InterpolateToGridd("lr", (1, 1, 2), order=1, output_keys="linear", ref_key="hr")(d)
    assert d["cubic"].shape == hr.shape and np.allclose(d["cubic"].affine.numpy(), AFFINE)
    mask = torch.ones_like(hr, dtype=torch.bool)
    mask[..., 36:] = False  # beyond the last LR slice the edge is repeated
    assert psnr_masked(d["cubic"], hr, mask) > psnr_masked(d["linear"], hr, mask) > 25


def test_metrics():
    ref = torch.zeros(1, 20, 20, 20)
    ref[:, 5:15, 5:15, 5:15] = 1.0
    mask = foreground_mask(ref)
    assert int(mask.sum()) == 1000
    assert psnr_masked(ref + 0.1 * mask, ref, mask) == pytest.approx(20.0)
    assert ssim_masked(ref, ref, mask) == pytest.approx(1.0)
    noise = torch.randn_like(ref, generator=torch.Generator().manual_seed(0))
    assert ssim_masked(ref + 0.3 * noise, ref, mask) < ssim_masked(ref + 0.1 * noise, ref, mask) < 0.99


@pytest.mark.parametrize("shape", [(1, 30, 26, 22), (1, 24, 20)])
def test_separable_ssim_equals_monai_ssim(shape):
    from monai.metrics.regression import compute_ssim_and_cs

    generator = torch.Generator().manual_seed(1)
    ref = torch.rand(shape, generator=generator)
    image = ref + 0.2 * torch.randn(shape, generator=generator)
    mask = foreground_mask(ref, 0.3)
    dims = len(shape) - 1
    full, _ = compute_ssim_and_cs(
        image[None], ref[None], dims, [11] * dims, [1.5] * dims, data_range=float(ref[mask].max())
    )
    inner = mask[(slice(None), *[slice(5, n - 5) for n in shape[1:]])]
    assert ssim_masked(image, ref, mask) == pytest.approx(float(full[0][inner].mean()), abs=1e-5)


@pytest.mark.parametrize("spatial_dims, shape", [(3, (9, 16, 7)), (2, (17, 10))])
def test_network_shapes_identity_at_init_and_torchscript(spatial_dims, shape):
    net = MultiScaleFusionNet(spatial_dims, features=8, branch_channels=4, kernel_sizes=(3, 5, 7), num_blocks=2)
    x = torch.rand(2, 1, *shape)
    assert torch.equal(net(x), x)  # the zero-initialised last layer: the network starts as the interpolation
    torch.nn.init.normal_(net.tail.weight)
    y = net(x)
    assert y.shape == x.shape and not torch.equal(y, x)
    assert torch.allclose(torch.jit.script(net)(x), y, atol=1e-5)
    with pytest.raises(ValueError, match="odd"):
        MultiScaleFusionNet(kernel_sizes=(3, 4))


def _shipped_network() -> MultiScaleFusionNet:
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(str(BUNDLE / "configs" / "inference.json"))
    net = parser.get_parsed_content("network_def", instantiate=True)
    net.load_state_dict(torch.load(BUNDLE / "models" / "model.pt", weights_only=True, map_location="cpu"))
    return net.eval()


@pytest.fixture(scope="module")
def subject(tmp_path_factory) -> Path:
    """One generated super-resolution subject (seed 123, not in the demo data)."""
    from mri_monai.data.tasks import make_task_data

    out = tmp_path_factory.mktemp("sr") / "data"
    make_task_data("super_resolution", out, subjects=1, seed=123, progress=False)
    return out


def test_shipped_weights_beat_cubic_interpolation(subject):
    from monai.transforms import LoadImage

    from mri_monai.data.readers import ValidatedNibabelReader

    hr = LoadImage(reader=ValidatedNibabelReader, image_only=True, ensure_channel_first=True)(
        subject / "sub-000" / "t1w.nii.gz"
    )
    hr = hr[:, 40:104, 60:124, 48:112] / float(np.percentile(hr.numpy(), 99))
    lr = DegradeResolution((1, 1, 2), noise_level=0.02)(hr, seed=1)
    cubic = InterpolateToGrid((1, 1, 2), order=3)(lr, spatial_size=hr.shape[1:])
    with torch.no_grad():
        sr = _shipped_network()(cubic[None].as_tensor())[0]
    mask = foreground_mask(hr)
    gain = psnr_masked(sr, hr, mask) - psnr_masked(cubic, hr, mask)
    assert gain > 1.0, f"network only {gain:.2f} dB above cubic interpolation"


def _bundle_inference(bundle: Path, roi: str, data: Path, out: Path, *overrides: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
    configs = bundle / "configs"
    cmd = [sys.executable, "-m", "monai.bundle", "run", "--config_file", str(configs / "inference.json"),
           "--logging_file", str(configs / "logging.conf"), "--bundle_root", str(bundle),
           "--dataset_dir", str(data), "--output_dir", str(out), "--num_workers", "0",
           "--roi_size", roi, *overrides]  # fmt: skip
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)


def _write_datalist(folder: Path, images: list[str]) -> None:
    items = [{"image": name} for name in images]
    (folder / "datalist.json").write_text(json.dumps({"training": items, "validation": items, "test": items}))


@pytest.mark.slow
@INFERENCE_BUNDLES
def test_inference_keeps_the_geometry_of_dicom_and_nifti_inputs(tmp_path, subject, bundle, postfix, roi):
    from pydicom.data import get_testdata_file

    from mri_monai.data.readers import DicomReader

    data = tmp_path / "data"
    (data / "sub-a").mkdir(parents=True)
    shutil.copy(get_testdata_file("MR_small.dcm"), data / "sub-a" / "MR_small.dcm")
    hr = nib.load(subject / "sub-000" / "t1w.nii.gz")
    crop = hr.slicer[50:90, 70:110, 60:90]
    nib.save(nib.Nifti1Image(crop.get_fdata(dtype=np.float32), AFFINE), data / "sub-b.nii.gz")
    _write_datalist(data, ["sub-a/MR_small.dcm", "sub-b.nii.gz"])
    result = _bundle_inference(bundle, roi, data, tmp_path / "out")
    assert result.returncode == 0, result.stderr[-3000:]

    dicom_out = nib.load(tmp_path / "out" / "sub-a" / f"MR_small_{postfix}.nii.gz")
    dicom_in = DicomReader().get_data(DicomReader().read(data / "sub-a" / "MR_small.dcm"))
    assert dicom_out.shape[:2] == dicom_in[0].shape and np.prod(dicom_out.shape) == dicom_in[0].size  # one slice
    assert np.allclose(dicom_out.affine, dicom_in[1]["affine"], atol=1e-4)
    nifti_out = nib.load(tmp_path / "out" / f"sub-b_{postfix}.nii.gz")
    assert nifti_out.shape == (40, 40, 30) and np.allclose(nifti_out.affine, AFFINE, atol=1e-4)
    assert nifti_out.get_data_dtype() == np.float32
    assert (tmp_path / "out" / f"sub-b_{postfix}.png").is_file()
    assert (tmp_path / "out" / "sub-a" / f"MR_small_{postfix}.png").is_file()


@pytest.mark.slow
@INFERENCE_BUNDLES
def test_low_resolution_input_goes_onto_the_thin_slice_grid(tmp_path, subject, bundle, postfix, roi):
    data = tmp_path / "data"
    data.mkdir()
    hr = nib.load(subject / "sub-000" / "t1w.nii.gz").slicer[50:90, 70:110, 60:90]
    lr = degrade_resolution(torch.as_tensor(hr.get_fdata(dtype=np.float32))[None], (1, 1, 2), 0.02)[0].numpy()
    lr_affine = low_resolution_affine(AFFINE, (1, 1, 2)).numpy()
    nib.save(nib.Nifti1Image(lr, lr_affine), data / "thick.nii.gz")
    _write_datalist(data, ["thick.nii.gz"])
    result = _bundle_inference(bundle, roi, data, tmp_path / "out", "--input_is_low_resolution", "true")
    assert result.returncode == 0, result.stderr[-3000:]
    out = nib.load(tmp_path / "out" / f"thick_{postfix}.nii.gz")
    assert out.shape == (40, 40, 30) and np.allclose(out.affine, AFFINE, atol=1e-4)


def _bad_input(folder: Path, problem: str) -> None:
    folder.mkdir()
    arrays = {
        "nan": np.full((8, 8, 8), np.nan, np.float32),
        "4d": np.ones((8, 8, 8, 3), np.float32),
        "empty": np.zeros((8, 0, 8), np.float32),
        "zeros": np.zeros((8, 8, 8), np.float32),
    }
    if problem == "unreadable":
        (folder / "bad.nii.gz").write_bytes(b"not an image at all")
    else:
        nib.save(nib.Nifti1Image(arrays[problem], np.eye(4)), folder / "bad.nii.gz")
    _write_datalist(folder, ["bad.nii.gz"])


@pytest.mark.parametrize("bundle", [BUNDLE, SRGAN_BUNDLE], ids=["multiscale_fusion", "srgan"])
@pytest.mark.parametrize("problem", ["nan", "4d", "empty", "unreadable", "zeros"])
def test_bad_input_raises_an_input_error_naming_the_file(tmp_path, problem, bundle):
    """The bundle's inference preprocessing, run in-process on each kind of bad input."""
    from monai.bundle import ConfigParser

    _bad_input(tmp_path / "data", problem)
    parser = ConfigParser()
    parser.read_config(str(bundle / "configs" / "inference.json"))
    parser.update({"bundle_root": str(bundle), "dataset_dir": str(tmp_path / "data")})
    with pytest.raises(Exception) as info:
        parser.get_parsed_content("preprocessing")(parser.get_parsed_content("data")[0])
    errors = list(_chain(info.value))
    assert any(isinstance(e, InputError) and "bad.nii.gz" in str(e) for e in errors), errors


@pytest.mark.slow
@INFERENCE_BUNDLES
def test_bad_input_exits_non_zero_with_nothing_written(tmp_path, bundle, postfix, roi):
    _bad_input(tmp_path / "data", "nan")
    result = _bundle_inference(bundle, roi, tmp_path / "data", tmp_path / "out")
    assert result.returncode != 0 and "InputError" in result.stderr and "bad.nii.gz" in result.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*"))


@pytest.mark.parametrize("low_resolution", [False, True], ids=["hr_input", "lr_input"])
@pytest.mark.parametrize("bundle", [BUNDLE, SRGAN_BUNDLE], ids=["multiscale_fusion", "srgan"])
def test_inference_postprocessing_restores_the_input_units_on_the_hr_grid(tmp_path, bundle, low_resolution):
    """The inference configs divide by the 99th percentile before the network and Invertd multiplies back after
    it, through the degradation and interpolation (they keep the record of the scaling); the output keeps the HR
    grid. The network is left out: ``pred`` is the (scaled) cubic interpolation on the HR grid."""
    from monai.bundle import ConfigParser

    from mri_monai.data.readers import NiftiOrDicomReader

    data = tmp_path / "data"
    data.mkdir()
    volume = (torch.rand(12, 10, 16, generator=torch.Generator().manual_seed(3)) * 500).numpy()
    nib.save(nib.Nifti1Image(volume, AFFINE), data / "scan.nii.gz")
    _write_datalist(data, ["scan.nii.gz"])
    parser = ConfigParser()
    parser.read_config(str(bundle / "configs" / "inference.json"))
    parser.update({"bundle_root": str(bundle), "dataset_dir": str(data), "input_is_low_resolution": low_resolution})
    item = parser.get_parsed_content("preprocessing")(parser.get_parsed_content("data")[0])
    hr_grid = "cubic" if bundle == SRGAN_BUNDLE else "image"
    item["pred"] = item[hr_grid].clone()
    factor = float(np.percentile(volume, parser.get_parsed_content("intensity_percentile")))
    hr_input = item[hr_grid].numpy() * factor
    out = parser.get_parsed_content("postprocessing")
    restore = [t for t in out.transforms if type(t).__name__ in ("Invertd", "CopyGeometryd")]
    for t in restore:
        item = t(item)
    loaded = LoadImage(reader=NiftiOrDicomReader, image_only=True)(data / "scan.nii.gz").numpy()
    np.testing.assert_allclose(item["pred"].numpy(), hr_input, rtol=1e-6)
    np.testing.assert_allclose(item[hr_grid].numpy(), hr_input, rtol=1e-6)
    # the geometry of the written output; the SRGAN's cubic and label end with the LR input's meta (Invertd gives
    # each key the meta of "image"), used only for the figure's file name
    if low_resolution:
        assert item["pred"].shape[1:] == (12, 10, 32)
        assert np.allclose(item["pred"].affine.numpy(), high_resolution_affine(AFFINE, (1, 1, 2)).numpy())
    else:
        np.testing.assert_allclose(item["label"].numpy()[0], loaded, rtol=1e-6)
        assert item["pred"].shape[1:] == (12, 10, 16) and np.allclose(item["pred"].affine.numpy(), AFFINE)


def _chain(error: BaseException | None):
    while error is not None:
        yield error
        error = error.__cause__


def test_load_state_starts_from_a_checkpoint_or_from_the_initialisation(tmp_path):
    from mri_monai.networks.weights import load_state

    source = torch.nn.Linear(3, 2)
    torch.save(source.state_dict(), tmp_path / "w.pt")
    loaded = load_state(torch.nn.Linear(3, 2), tmp_path / "w.pt")
    assert torch.equal(loaded.weight, source.weight)
    fresh = torch.nn.Linear(3, 2)
    before = fresh.weight.clone()
    assert load_state(fresh, None) is fresh and torch.equal(fresh.weight, before)
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_state(torch.nn.Linear(3, 2), tmp_path / "missing.pt")
