"""Reconstruction: data consistency, fastMRI metrics, networks, pipeline transforms and the shipped weights."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from monai.apps.reconstruction.networks.nets.complex_unet import ComplexUnet
from monai.bundle import ConfigParser
from monai.transforms import Compose

from mri_monai.data.tasks import make_task_data
from mri_monai.errors import InputError
from mri_monai.kspace import fft2c, ifft2c, rss
from mri_monai.metrics import nmse, psnr_fastmri, ssim_fastmri
from mri_monai.recon import (
    BlockMaxPool2d,
    DataConsistency,
    DeepCascadeCNN,
    E2EVarNet,
    FastMRISliceDataset,
    FastMRIUNet,
    KspaceSliceInferer,
    LeanBasicUNet,
    LoadFastMRId,
    Undersampled,
    ZeroFilledScaled,
    data_consistency,
    unet_features,
    zero_filled,
)

ROOT = Path(__file__).resolve().parents[1]


def _masked(shape=(2, 1, 32, 24), seed=0):
    g = torch.Generator().manual_seed(seed)
    kspace = torch.randn(shape, dtype=torch.complex64, generator=g)
    mask = torch.zeros(1, 1, 1, shape[-1], dtype=torch.bool)
    mask[..., ::3] = True
    mask[..., shape[-1] // 2 - 2 : shape[-1] // 2 + 2] = True
    return kspace, mask


@pytest.mark.parametrize("lam", [None, 0.5])
def test_data_consistency_is_exact_on_sampled_lines(lam):
    measured, mask = _masked()
    estimate = torch.randn_like(measured)
    out = data_consistency(estimate, measured * mask, mask, None if lam is None else torch.tensor(lam))
    sampled = mask.expand_as(out)
    expected = measured if lam is None else (estimate + lam * measured) / (1 + lam)
    assert torch.equal(out[~sampled], estimate[~sampled])
    torch.testing.assert_close(out[sampled], expected[sampled])


def test_cascade_output_is_data_consistent():
    """The cascade ends with noiseless DC: the k-space of its last complex image equals the measurements."""
    kspace, mask = _masked()
    net = DeepCascadeCNN(num_cascades=2, num_convs=3, features=4).eval()
    image = ifft2c(kspace * mask)
    for block, dc in zip(net.blocks, net.dc, strict=True):
        image = ifft2c(dc(fft2c(block(image)), kspace * mask, mask))
    final = fft2c(image)
    torch.testing.assert_close(final[mask.expand_as(final)], kspace[mask.expand_as(kspace)], atol=1e-5, rtol=1e-5)
    with torch.no_grad():
        torch.testing.assert_close(net(kspace * mask, mask), image.abs(), atol=1e-5, rtol=1e-5)
    noisy = DataConsistency(lam=2.0)
    assert noisy.lam.requires_grad and not DataConsistency().lam.requires_grad


def test_metrics_equal_fastmri_formulas():
    skimage_metrics = pytest.importorskip("skimage.metrics")
    rng = np.random.default_rng(0)
    gt = rng.random((3, 40, 30))
    pred = gt + 0.05 * rng.standard_normal(gt.shape)
    maxval = gt.max()
    assert nmse(gt, pred) == pytest.approx(np.linalg.norm(gt - pred) ** 2 / np.linalg.norm(gt) ** 2, rel=1e-12)
    assert psnr_fastmri(gt, pred) == pytest.approx(10 * np.log10(maxval**2 / np.mean((gt - pred) ** 2)), rel=1e-10)
    expected = np.mean([skimage_metrics.structural_similarity(gt[i], pred[i], data_range=maxval) for i in range(3)])
    assert ssim_fastmri(gt, pred) == pytest.approx(expected, rel=1e-10)
    assert ssim_fastmri(gt, gt) == pytest.approx(1.0) and nmse(gt, gt) == 0.0


@pytest.mark.parametrize("topology", ["monai", "fastmri"])
def test_networks_take_complex_kspace_and_script(topology):
    kspace, mask = _masked((2, 4, 32, 32))
    varnet = E2EVarNet(num_cascades=2, chans=2, sens_chans=2, unet_topology=topology).eval()
    with torch.no_grad():
        untrained = varnet(kspace * mask, mask)
        scripted = torch.jit.script(varnet)(kspace * mask, mask)
        implied = varnet(kspace * mask)  # mask from the non-zero points
    assert untrained.shape == (2, 1, 32, 32) and untrained.dtype == torch.float32
    torch.testing.assert_close(scripted, untrained)
    torch.testing.assert_close(implied, untrained)
    # the untrained VarNet returns the data-consistent zero-filled estimate (refinement starts at zero)
    torch.testing.assert_close(untrained[:, 0], rss(ifft2c(kspace * mask), dim=1), atol=1e-5, rtol=1e-4)
    single = E2EVarNet(num_cascades=1, chans=2, multicoil=False)
    assert single(kspace[:, :1] * mask, mask).shape == (2, 1, 32, 32)
    with pytest.raises(ValueError, match="single-coil"):
        DeepCascadeCNN(1, 2, 2)(kspace, mask)
    torch.jit.script(DeepCascadeCNN(1, 2, 2, lam=1.0))
    with pytest.raises(ValueError, match="unet_topology"):
        E2EVarNet(1, 2, 2, unet_topology="nnunet")


def test_fastmri_unet_layout():
    net = FastMRIUNet(chans=4).eval()
    # fastMRI's last up-sampling: 2c channels up-sampled to c, concatenated with the c skip channels
    assert net.upcat_1.convs.conv_0.conv.in_channels == 8
    assert net.upcat_1.convs.conv_0.conv.bias is None
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    torch.testing.assert_close(net.down_1.max_pooling(x), torch.tensor([[[[2.5, 4.5], [10.5, 12.5]]]]))
    assert net(torch.randn(2, 2, 32, 48)).shape == (2, 2, 32, 48)


def test_lean_basic_unet_is_monais_basic_unet():
    x = torch.randn(2, 3, 7, 9)
    assert torch.equal(BlockMaxPool2d()(x), torch.nn.MaxPool2d(2)(x))
    torch.manual_seed(0)
    monai_unet = ComplexUnet(features=unet_features(4)).unet  # the BasicUNet MONAI's ComplexUnet builds
    lean = LeanBasicUNet(4)
    lean.load_state_dict(monai_unet.state_dict())  # strict: the same parameter names and shapes
    for batch in (1, 3):
        x = torch.randn(batch, 2, 32, 48, requires_grad=True)
        expected, got = monai_unet(x), lean(x)
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
        (grad_expected,) = torch.autograd.grad(expected.square().sum(), monai_unet.conv_0.conv_0.conv.weight)
        (grad_got,) = torch.autograd.grad(got.square().sum(), lean.conv_0.conv_0.conv.weight)
        torch.testing.assert_close(grad_got, grad_expected, atol=1e-4, rtol=1e-4)


@pytest.fixture(scope="module")
def subject(tmp_path_factory) -> Path:
    """One synthetic subject (seed not used for training); about a minute to make, so its tests are slow."""
    return make_task_data("reconstruction", tmp_path_factory.mktemp("recon") / "d", subjects=1, seed=77, progress=False)


@pytest.mark.slow
def test_pipeline_transforms(subject):
    entry = json.loads(subject.read_text())["training"][0]
    path = str(subject.parent / entry["multicoil"])
    pipeline = Compose([LoadFastMRId("multicoil"), Undersampled("kspace"), ZeroFilledScaled("kspace")])
    a = pipeline({"multicoil": path, "acceleration": 8})
    b = pipeline({"multicoil": path, "acceleration": 8})
    assert torch.equal(a["mask"], b["mask"]) and a["mask"].shape == (1, 1, 1, 128)  # reproducible, one per volume
    assert a["kspace"].shape == (16, 8, 160, 128) and a["real_acceleration"] > 6
    assert a["acquisition"] in ("AXT1", "AXT2", "AXFLAIR")  # the file's label, for per-contrast summaries
    torch.testing.assert_close(a["zero_filled"], zero_filled(a["kspace"]) * a["scale"].reshape(-1, 1, 1))
    assert torch.allclose(a["zero_filled"].amax(dim=(1, 2)), a["scale"])
    with pytest.raises(InputError, match="not one of"):
        Undersampled("kspace")({"kspace": a["kspace"], "filename": path, "acceleration": 6})
    stored = Undersampled("kspace")({"kspace": a["kspace"], "mask": torch.ones(128, dtype=torch.bool)})
    assert stored["real_acceleration"] == 1.0  # a stored mask is used as it is ...
    with pytest.raises(InputError, match="does not broadcast"):  # ... and must fit the k-space
        Undersampled("kspace")({"kspace": a["kspace"], "mask": torch.ones(7, dtype=torch.bool), "filename": path})
    slices = FastMRISliceDataset([{"multicoil": path}], "multicoil")
    assert (
        len(slices) == 16 and slices[3]["kspace"].shape == (8, 160, 128) and slices[3]["target"].shape == (1, 160, 128)
    )
    with pytest.raises(InputError, match="does not exist"):
        FastMRISliceDataset([{"multicoil": path + ".missing"}], "multicoil")


def _shipped(bundle: str) -> torch.nn.Module:
    parser = ConfigParser()
    parser.read_config(str(ROOT / "bundles" / bundle / "configs" / "inference.json"))
    net = parser.get_parsed_content("network_def", instantiate=True)
    net.load_state_dict(torch.load(ROOT / "bundles" / bundle / "models" / "model.pt", weights_only=True))
    return net.eval()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("bundle", "key"),
    [("brain_mri_varnet_reconstruction", "multicoil"), ("brain_mri_cascade_reconstruction", "singlecoil")],
)
def test_shipped_weights_beat_zero_filled_on_a_generated_slice(subject, bundle, key):
    entry = json.loads(subject.read_text())["training"][0]
    d = Compose([LoadFastMRId(key), Undersampled("kspace"), ZeroFilledScaled("kspace")])(
        {key: str(subject.parent / entry[key]), "acceleration": 4}
    )
    middle = slice(7, 9)
    with torch.no_grad():
        pred = KspaceSliceInferer()(d["kspace"][None, middle], _shipped(bundle), d["mask"][None])[0]
    target, zf = d["target"][middle], d["zero_filled"][middle] / d["scale"][middle].reshape(-1, 1, 1)
    assert ssim_fastmri(target, pred) > ssim_fastmri(target, zf) + 0.02


@pytest.mark.parametrize("bundle", ["brain_mri_varnet_reconstruction", "brain_mri_cascade_reconstruction"])
@pytest.mark.parametrize(("show", "bars"), [(True, 1), ("true", 1), (False, 0), ("false", 0), ("False", 0)])
def test_show_progress_reads_command_line_strings(bundle, show, bars):
    # `--show_progress false` reaches the config as the string "false", which is truthy
    config = ConfigParser()
    config.read_config(str(ROOT / "bundles" / bundle / "configs" / "train.json"))
    config["show_progress"] = show
    assert len(config.get_parsed_content("train#progress_bar")) == bars
