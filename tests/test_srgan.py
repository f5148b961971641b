"""3D SRGAN: the generator, its linear skip, the content loss, the sharpness metric, the grid transform and the
shipped weights of ``brain_mri_srgan_3d``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from scipy.ndimage import gaussian_filter

from mri_monai.metrics import foreground_mask, psnr_masked, sharpness_masked
from mri_monai.networks import SRGANGenerator, upsample_linear
from mri_monai.super_resolution.degrade import DegradeResolution
from mri_monai.super_resolution.losses import GradientDifferenceLoss, SuperResolutionContentLoss
from mri_monai.super_resolution.transforms import CopyGeometryd, InterpolateToGrid

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "bundles" / "brain_mri_srgan_3d"


@pytest.mark.parametrize("scale", [(1, 1, 2), (2, 2, 2), (1, 3, 1)])
def test_linear_upsampling_matches_the_trilinear_baseline(scale):
    x = torch.rand(2, 1, 7, 6, 5)
    expected = torch.stack([InterpolateToGrid(scale, order=1)(item) for item in x])
    assert torch.allclose(upsample_linear(x, list(scale)), expected, atol=1e-6)


@pytest.mark.parametrize(
    "spatial_dims, scale, shape", [(3, (1, 1, 2), (9, 8, 5)), (3, (2, 2, 2), (4, 5, 6)), (2, 2, (7, 6))]
)
def test_generator_upsamples_and_starts_as_linear_interpolation(spatial_dims, scale, shape):
    net = SRGANGenerator(spatial_dims, features=8, num_residual_blocks=2, scale=scale)
    x = torch.rand(2, 1, *shape)
    y = net(x)
    factors = (scale,) * spatial_dims if isinstance(scale, int) else scale
    assert y.shape == (2, 1, *(n * f for n, f in zip(shape, factors, strict=True)))
    assert torch.equal(y, upsample_linear(x, list(factors)))  # zero-initialised output layer
    torch.nn.init.normal_(net.tail.weight)
    assert not torch.allclose(net(x), y)
    assert torch.allclose(torch.jit.script(net)(x), net(x), atol=1e-5)
    with pytest.raises(ValueError, match="out_channels"):
        SRGANGenerator(out_channels=2)


def test_gradient_difference_loss_penalises_blur_not_offsets():
    target = torch.rand(1, 1, 12, 12, 12)
    blurred = torch.from_numpy(gaussian_filter(target.numpy(), sigma=(0, 0, 1, 1, 1))).float()
    gdl = GradientDifferenceLoss()
    assert gdl(target, target) == 0 and gdl(target + 0.3, target) < 1e-12
    assert gdl(blurred, target) > 0.01
    manual = np.mean(
        [((np.abs(np.diff(blurred, axis=a)) - np.abs(np.diff(target, axis=a))) ** 2).mean() for a in (2, 3, 4)]
    )
    assert gdl(blurred, target).item() == pytest.approx(manual, rel=1e-5)
    content = SuperResolutionContentLoss(gdl_weight=2.0)(blurred, target)
    assert content.item() == pytest.approx(float(((blurred - target) ** 2).mean()) + 2 * manual, rel=1e-5)
    with pytest.raises(ValueError, match="shapes differ"):
        gdl(target, target[..., :-1])


def test_sharpness_is_one_for_the_reference_and_below_for_a_blurred_image():
    reference = torch.from_numpy(gaussian_filter(np.random.default_rng(0).random((1, 20, 20, 20)), 1.0)).float()
    mask = torch.ones_like(reference, dtype=torch.bool)
    assert sharpness_masked(reference, reference, mask) == pytest.approx(1.0)
    blurred = torch.from_numpy(gaussian_filter(reference.numpy(), (0, 1.5, 1.5, 1.5))).float()
    assert sharpness_masked(blurred, reference, mask) < 0.7
    assert sharpness_masked(2 * reference, reference, mask) == pytest.approx(2.0)


def test_copy_geometry_crops_the_extra_slice_and_takes_the_reference_affine():
    affine = torch.diag(torch.tensor([1.0, 1.0, 1.0, 1.0]))
    affine[:3, 3] = torch.tensor([-5.0, 3.0, 7.0])
    reference = MetaTensor(torch.zeros(1, 6, 5, 9), affine=affine, meta={"filename_or_obj": "ref.nii.gz"})
    pred = MetaTensor(torch.arange(6 * 5 * 10.0).reshape(1, 6, 5, 10), affine=torch.eye(4) * 2)
    out = CopyGeometryd("pred", ref_key="cubic")({"pred": pred, "cubic": reference})["pred"]
    assert out.shape == (1, 6, 5, 9) and torch.equal(out.as_tensor(), pred.as_tensor()[..., :9])
    assert torch.equal(out.affine, reference.affine) and out.meta["filename_or_obj"] == "ref.nii.gz"
    with pytest.raises(ValueError, match="smaller"):
        CopyGeometryd("pred", ref_key="cubic")({"pred": pred[..., :8], "cubic": reference})


@pytest.fixture(scope="module")
def patch(tmp_path_factory):
    """A 64^3 crop of a generated subject (seed 321, not in the demo data), its LR version and cubic baseline."""
    from monai.transforms import LoadImage

    from mri_monai.data.readers import ValidatedNibabelReader
    from mri_monai.data.tasks import make_task_data

    out = tmp_path_factory.mktemp("srgan") / "data"
    make_task_data("super_resolution", out, subjects=1, seed=321, progress=False)
    hr = LoadImage(reader=ValidatedNibabelReader, image_only=True, ensure_channel_first=True)(
        out / "sub-000" / "t1w.nii.gz"
    )
    hr = hr[:, 48:112, 64:128, 48:112] / float(np.percentile(hr.numpy(), 99))
    lr = DegradeResolution((1, 1, 2), noise_level=0.02)(hr, seed=1)
    cubic = InterpolateToGrid((1, 1, 2), order=3)(lr, spatial_size=hr.shape[1:])
    return hr.as_tensor(), lr.as_tensor(), cubic.as_tensor()


def _shipped(name: str) -> SRGANGenerator:
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(str(BUNDLE / "configs" / "inference.json"))
    net = parser.get_parsed_content("network_def", instantiate=True)
    net.load_state_dict(torch.load(BUNDLE / "models" / name, weights_only=True, map_location="cpu"))
    return net.eval()


def test_shipped_generators_beat_interpolation_in_psnr_and_in_sharpness(patch):
    """Both generators (SRGAN and its no-GAN ablation) beat cubic interpolation clearly, and their sharpness is
    closer to the reference's than interpolation's (cubic and trilinear also carry the LR noise: above 1)."""
    hr, lr, cubic = patch
    mask = foreground_mask(hr)
    trilinear = upsample_linear(lr[None], [1, 1, 2])[0]
    with torch.no_grad():
        generators = {name: _shipped(name)(lr[None])[0] for name in ("model.pt", "no_gan.pt")}
    cubic_psnr = psnr_masked(cubic, hr, mask)
    interpolation_error = min(abs(sharpness_masked(image, hr, mask) - 1) for image in (cubic, trilinear))
    for name, image in generators.items():
        gain = psnr_masked(image, hr, mask) - cubic_psnr
        assert gain > 3.0, f"{name} only {gain:.2f} dB above cubic interpolation"
        assert abs(sharpness_masked(image, hr, mask) - 1) < interpolation_error / 2, name
