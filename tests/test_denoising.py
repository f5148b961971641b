"""brain_mri_denoising: the network, the Rician noise model, the NLM baseline, the shipped weights and inference."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.bundle import ConfigParser, ConfigWorkflow
from pydicom.data import get_testdata_file

from mri_monai.data.datalists import load_datalist_split
from mri_monai.data.readers import DicomReader
from mri_monai.denoising.baselines import nlm_denoise
from mri_monai.denoising.inferers import MultiPlaneSliceInferer
from mri_monai.denoising.noise import RandRicianNoised, RicianNoised, estimate_noise_sigma, rician_noise
from mri_monai.errors import InputError
from mri_monai.metrics import denoising_scores, psnr_box
from mri_monai.networks.skip_autoencoder import SkipAutoencoder

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "bundles" / "brain_mri_denoising"
CONFIGS = BUNDLE / "configs"
MR_SMALL = get_testdata_file("MR_small.dcm")


# ---------------------------------------------------------------------------------------------------- network


@pytest.mark.parametrize(
    ("spatial_dims", "shape"),
    [(2, (3, 1, 64, 64)), (2, (2, 1, 61, 77)), (2, (1, 1, 160, 192)), (3, (1, 1, 24, 17, 33))],
)
def test_network_keeps_the_shape(spatial_dims, shape):
    net = SkipAutoencoder(spatial_dims, 1, 1, channels=(8, 16, 16, 32), strides=(1, 2, 2, 2)).eval()
    with torch.no_grad():
        assert net(torch.rand(shape)).shape == shape


def test_network_channels_skips_and_torchscript():
    net = SkipAutoencoder(2, 2, 3, channels=(8, 16), strides=(2, 2), residual=False).eval()
    x = torch.rand(2, 2, 30, 40)
    with torch.no_grad():
        assert net(x).shape == (2, 3, 30, 40)
        assert torch.allclose(torch.jit.script(net)(x), net(x), atol=1e-6)
    assert len(net.encoder) == 2 and len(net.decoder) == 1
    with pytest.raises(ValueError, match="residual"):
        SkipAutoencoder(2, 1, 2)
    with pytest.raises(ValueError, match="same non-zero length"):
        SkipAutoencoder(2, 1, 1, channels=(8, 16), strides=(1,))


def test_residual_network_with_zero_weights_is_the_identity():
    net = SkipAutoencoder(2, 1, 1, channels=(4, 8), strides=(1, 2))
    for p in net.parameters():
        torch.nn.init.zeros_(p)
    x = torch.rand(1, 1, 20, 20)
    assert torch.equal(net(x), x)


# ---------------------------------------------------------------------------------------------------- noise


def _half_empty_image() -> torch.Tensor:
    image = torch.zeros(1, 128, 128, 8)
    image[:, 64:] = 1.0
    return image


def test_multi_plane_inferer_averages_the_three_slicing_directions():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(1, 1, 3, padding=1)
    volume = torch.rand(1, 1, 12, 10, 8)
    with torch.no_grad():
        fused = MultiPlaneSliceInferer(planes=(0, 1, 2), sw_batch_size=4)(volume, conv)
        by_hand = []
        for axis in (2, 3, 4):  # slice along each spatial axis, run the 2D network, put the slices back
            slices = volume.movedim(axis, 0)
            by_hand.append(torch.stack([conv(s) for s in slices]).movedim(0, axis))
        assert fused.shape == volume.shape
        assert torch.allclose(fused, sum(by_hand) / 3, atol=1e-6)
        axial = MultiPlaneSliceInferer(planes=(2,), sw_batch_size=4)(volume, conv)
        assert torch.allclose(axial, by_hand[2], atol=1e-6)
        image = torch.rand(2, 1, 12, 10)  # a 2D image goes to the network once
        assert torch.equal(MultiPlaneSliceInferer()(image, conv), conv(image))
    for planes in [(), (0, 0), (3,)]:
        with pytest.raises(ValueError, match="planes"):
            MultiPlaneSliceInferer(planes=planes)


def test_rician_noise_has_the_requested_sigma():
    clean = _half_empty_image()
    noisy = RandRicianNoised("image", levels=(0.05,), reference_keys="label", level_key="level")
    out = noisy.set_random_state(0)({"image": clean})
    assert out["level"] == 0.05 and torch.equal(out["label"], clean)
    background, tissue = out["image"][:, :64], out["image"][:, 64:]
    # Rayleigh background: E[M^2] = 2 sigma^2; bright tissue (SNR 20): E[M^2] = A^2 + 2 sigma^2
    assert float(torch.sqrt((background**2).mean() / 2)) == pytest.approx(0.05, rel=0.02)
    assert float(torch.sqrt(((tissue**2).mean() - 1.0) / 2)) == pytest.approx(0.05, rel=0.05)
    assert float(background.mean()) == pytest.approx(0.05 * np.sqrt(np.pi / 2), rel=0.02)


def test_random_levels_and_determinism():
    clean = _half_empty_image()
    t = RandRicianNoised("image", levels=(0.03, 0.05, 0.1), level_key="level").set_random_state(1)
    levels = {t({"image": clean})["level"] for _ in range(30)}
    assert levels == {0.03, 0.05, 0.1}
    a = RandRicianNoised("image", levels=(0.05,)).set_random_state(3)({"image": clean})["image"]
    b = RandRicianNoised("image", levels=(0.05,)).set_random_state(3)({"image": clean})["image"]
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="positive"):
        RandRicianNoised("image", levels=(0.0,))


def test_level_range_is_log_uniform():
    clean = _half_empty_image()
    t = RandRicianNoised("image", level_range=(0.01, 0.16), level_key="level").set_random_state(2)
    levels = np.array([t({"image": clean})["level"] for _ in range(400)])
    assert levels.min() >= 0.01 and levels.max() <= 0.16
    # log-uniform over four octaves: about a quarter of the draws in each, the median near the geometric mean 0.04
    octaves = np.histogram(np.log2(levels / 0.01), bins=4, range=(0, 4))[0]
    assert octaves.min() > 70 and octaves.max() < 130
    assert np.median(levels) == pytest.approx(0.04, rel=0.15)
    for bad in [(0.0, 0.1), (0.1, 0.05), (0.05,)]:
        with pytest.raises(ValueError, match="level_range"):
            RandRicianNoised("image", level_range=bad)


def test_bias_free_network_is_positively_homogeneous():
    torch.manual_seed(0)
    net = SkipAutoencoder(2, 1, 1, channels=(8, 16, 16), strides=(1, 2, 2), bias=False).eval()
    assert not any("bias" in name for name, _ in net.named_parameters())
    x = torch.rand(2, 1, 30, 36)
    with torch.no_grad():
        assert torch.allclose(net(3.7 * x), 3.7 * net(x), atol=1e-5)
        biased = SkipAutoencoder(2, 1, 1, channels=(8, 16, 16), strides=(1, 2, 2)).eval()
        assert not torch.allclose(biased(3.7 * x), 3.7 * biased(x), atol=1e-3)


def test_fixed_noise_depends_on_file_and_level_only():
    from monai.data import MetaTensor

    clean = MetaTensor(_half_empty_image(), meta={"filename_or_obj": "sub-000/t1w.nii.gz"})
    t = RicianNoised("image", reference_keys="label", seed=5)
    a = t({"image": clean, "noise_level": 0.05})
    b = t({"image": clean, "noise_level": 0.05})
    c = t({"image": clean, "noise_level": 0.1})
    assert torch.equal(a["image"], b["image"]) and not torch.equal(a["image"], c["image"])
    clear = t({"image": clean, "noise_level": 0.0})
    assert "label" not in clear and torch.equal(clear["image"], clean)


def test_sigma_estimate_ignores_the_rayleigh_background():
    y, x = np.mgrid[:160, :192]
    phantom = 0.4 + 0.6 * ((x // 16 + y // 16) % 2)  # flat 16-pixel blocks: the finest Haar details see noise only
    phantom[(x - 96) ** 2 / 80**2 + (y - 80) ** 2 / 70**2 > 1] = 0.0
    noisy = rician_noise(torch.from_numpy(phantom), 0.04, torch.Generator().manual_seed(0)).numpy()
    assert estimate_noise_sigma(noisy) == pytest.approx(0.04, rel=0.1)
    assert estimate_noise_sigma(np.zeros((8, 8))) == 0.0


def test_unbiased_nlm_removes_the_rician_floor():
    image = np.zeros((96, 96), np.float32)
    image[24:72, 24:72] = 1.0
    noisy = rician_noise(torch.from_numpy(image), 0.1, torch.Generator().manual_seed(0)).numpy()
    plain, unbiased = nlm_denoise(noisy, rician=False), nlm_denoise(noisy, rician=True)
    assert plain[:16, :16].mean() > 0.08  # the Rayleigh mean is 0.125
    assert unbiased[:16, :16].mean() < 0.4 * plain[:16, :16].mean()
    scores = [psnr_box(torch.from_numpy(x), torch.from_numpy(image)) for x in (plain, unbiased)]
    assert scores[1] > scores[0]


# ---------------------------------------------------------------------------------------------------- data lists


def test_datalist_split_fails_loudly(tmp_path):
    (tmp_path / "a.nii.gz").write_bytes(b"")
    path = tmp_path / "datalist.json"
    path.write_text(json.dumps({"training": [{"image": "a.nii.gz"}], "test": []}))
    assert load_datalist_split(path, "training")[0]["image"] == str(tmp_path / "a.nii.gz")
    for split in ("test", "validation"):
        with pytest.raises(InputError, match=f"split '{split}' is missing or empty"):
            load_datalist_split(path, split)
    with pytest.raises(InputError, match="does not exist"):
        load_datalist_split(tmp_path / "missing.json", "test")


# ---------------------------------------------------------------------------------------------------- shipped weights


def _shipped_network_and_inferer() -> tuple[torch.nn.Module, Callable]:
    parser = ConfigParser()
    parser.read_config(str(CONFIGS / "inference.json"))
    net = parser.get_parsed_content("network_def", instantiate=True)
    net.load_state_dict(torch.load(BUNDLE / "models" / "model.pt", weights_only=True, map_location="cpu"))
    return net.eval(), parser.get_parsed_content("inferer")


@pytest.fixture(scope="module")
def held_out_quality() -> dict[str, dict[str, float]]:
    """Noisy input, network (the bundle's inferer) and NLM on a central 64^3 block of one held-out subject (seed 777;
    training used seeds 0-11), 5 % Rician noise: method -> {"psnr", "ssim"}."""
    from mri_monai.data import make_subject

    volume = torch.from_numpy(make_subject(777, 1.0, (160, 192, 160), contrasts=("t1w",)).images["t1w"]).float()
    noisy = rician_noise(volume, 0.05 * float(volume.max()), torch.Generator().manual_seed(0))
    factor = float(np.percentile(noisy.numpy(), 99.5))  # the bundle's normalisation, on the whole noisy volume
    block = (slice(48, 112), slice(64, 128), slice(48, 112))
    reference, noisy = volume[block], noisy[block]
    net, inferer = _shipped_network_and_inferer()
    with torch.no_grad():
        net_out = inferer(noisy[None, None] / factor, net)[0, 0] * factor
    return {
        "noisy": denoising_scores(noisy[None], reference[None]),
        "network": denoising_scores(net_out.clamp(min=0)[None], reference[None]),
        "nlm": denoising_scores(torch.from_numpy(nlm_denoise(noisy.numpy()))[None], reference[None]),
    }


def test_shipped_weights_denoise_and_beat_nlm_in_ssim_at_5_percent(held_out_quality):
    network, nlm, noisy = held_out_quality["network"], held_out_quality["nlm"], held_out_quality["noisy"]
    assert network["psnr"] >= noisy["psnr"] + 6.0, held_out_quality
    assert network["ssim"] >= nlm["ssim"] + 0.01, held_out_quality


def test_shipped_weights_beat_nlm_by_1db_at_5_percent(held_out_quality):
    """The issue's target at the bundle's default noise level (+2.26 dB on this block with 0.3.0; docs/README.md)."""
    assert held_out_quality["network"]["psnr"] >= held_out_quality["nlm"]["psnr"] + 1.0, held_out_quality


# ---------------------------------------------------------------------------------------------------- inference


def _workflow(dataset: Path, output: Path, **overrides) -> ConfigWorkflow:
    return ConfigWorkflow(
        config_file=str(CONFIGS / "inference.json"),
        meta_file=str(CONFIGS / "metadata.json"),
        logging_file=str(CONFIGS / "logging.conf"),
        workflow_type="infer",
        bundle_root=str(BUNDLE),
        dataset_dir=str(dataset),
        output_dir=str(output),
        **overrides,
    )


def _datalist(folder: Path, *images: str) -> Path:
    (folder / "datalist.json").write_text(json.dumps({"test": [{"image": name} for name in images]}))
    return folder


@pytest.mark.parametrize("noise_level", [0.0, 0.05])
def test_dicom_inference_keeps_the_geometry(tmp_path, noise_level):
    data = tmp_path / "data"
    (data / "mr").mkdir(parents=True)
    shutil.copy(MR_SMALL, data / "mr" / "MR_small.dcm")
    out = tmp_path / "out"
    wf = _workflow(_datalist(data, "mr/MR_small.dcm"), out, noise_level=noise_level)
    wf.initialize()
    wf.run()
    wf.finalize()
    written = nib.load(out / "mr" / "MR_small_denoised.nii.gz")
    array, meta = DicomReader().get_data(DicomReader().read(MR_SMALL))
    assert written.shape == array.shape == (64, 64)
    assert np.allclose(written.affine, meta["affine"], atol=1e-4)
    result = np.asarray(written.dataobj, dtype=np.float32)
    assert np.isfinite(result).all() and result.min() >= 0
    # the output is in the input's units (no simulated noise: close to the input)
    assert 0.5 < result.mean() / array.mean() < 1.5
    assert (out / "mr" / "MR_small_denoised.png").is_file()


def _nifti(path: Path, array: np.ndarray) -> str:
    nib.save(nib.Nifti1Image(array, np.diag([1.0, 1.0, 1.0, 1.0])), path)
    return path.name


def _bad_inputs(folder: Path) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    nan = np.ones((16, 16, 4), np.float32)
    nan[3, 3, 1] = np.nan
    (folder / "garbage.nii.gz").write_bytes(b"this is not a NIfTI file" * 10)
    return {
        "NaN": _nifti(folder / "nan.nii.gz", nan),
        "channel": _nifti(folder / "four_d.nii.gz", np.ones((16, 16, 4, 3), np.float32)),
        "empty": _nifti(folder / "zeros.nii.gz", np.zeros((16, 16, 4), np.float32)),
        "not a readable NIfTI": "garbage.nii.gz",
    }


def test_bad_inputs_raise_naming_the_file_and_write_nothing(tmp_path):
    cases = _bad_inputs(tmp_path / "data")
    for problem, name in cases.items():
        out = tmp_path / f"out_{name}"
        # the good file first: the bad one must stop the run before anything at all is written
        good = _nifti(tmp_path / "data" / "good.nii.gz", np.random.default_rng(0).random((16, 16, 4), np.float32))
        wf = _workflow(_datalist(tmp_path / "data", good, name), out)
        with pytest.raises(Exception) as err:
            wf.initialize()
            wf.run()
        chain, e = [], err.value
        while e is not None:
            chain.append(e)
            e = e.__cause__ or e.__context__
        errors = [e for e in chain if isinstance(e, InputError)]
        assert errors and name in str(errors[0]) and problem in str(errors[0]), [str(e) for e in chain]
        assert not out.exists() or not any(out.rglob("*")), f"{problem}: wrote {list(out.rglob('*'))}"


def test_bad_input_exits_non_zero_from_the_command_line(tmp_path):
    name = _bad_inputs(tmp_path / "data")["NaN"]
    _datalist(tmp_path / "data", name)
    out = tmp_path / "out"
    cmd = [
        sys.executable, "-m", "monai.bundle", "run",
        "--config_file", str(CONFIGS / "inference.json"),
        "--meta_file", str(CONFIGS / "metadata.json"),
        "--logging_file", str(CONFIGS / "logging.conf"),
        "--bundle_root", str(BUNDLE),
        "--dataset_dir", str(tmp_path / "data"),
        "--output_dir", str(out),
    ]  # fmt: skip
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert f"InputError: {tmp_path / 'data' / name}: image contains 1 NaN" in result.stderr
    assert not out.exists() or not any(out.rglob("*"))
