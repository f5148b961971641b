"""Array and dictionary k-space transforms: FFTs, channel layout, undersampling, coil combination, noise."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import Compose, CopyItemsd

from mri_monai.errors import InputError
from mri_monai.kspace import (
    ApplyMaskd,
    CoilCombine,
    CoilCombined,
    EstimateSensitivitiesd,
    Fourier,
    Fourierd,
    FromChannels,
    FromChannelsd,
    InverseFourier,
    InverseFourierd,
    RandComplexNoise,
    RandComplexNoised,
    RandKspaceSpiked,
    RandMotionLinesd,
    RandSimulateCoils,
    RandSimulateCoilsd,
    RandUndersample,
    RandUndersampled,
    ToChannels,
    ToChannelsd,
    ZeroFilled,
    ZeroFilledd,
    fft2c,
    sensitivity_expand,
    simulate_coil_sensitivities,
)

SIZE = 64


def phantom(size: int = SIZE) -> torch.Tensor:
    """Smooth complex object: an ellipse-like blob with a smooth texture and a linear phase, zero outside."""
    y, x = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    r2 = (x / 0.7) ** 2 + (y / 0.85) ** 2
    magnitude = torch.clamp(1 - r2, min=0) ** 2 * (1 + 0.3 * torch.cos(3 * x) * torch.sin(2 * y))
    return (magnitude * torch.exp(1j * 0.8 * x)).to(torch.complex64)


@pytest.fixture(scope="module")
def multicoil():
    image = phantom()
    sens = simulate_coil_sensitivities((SIZE, SIZE), 6, seed=1)
    return image, sens, fft2c(sensitivity_expand(image, sens))


@pytest.mark.parametrize("shape, spatial_dims", [((4, 32, 24), 2), ((3, 8, 16, 12), 3)])
def test_fft_round_trip_and_parseval(shape, spatial_dims):
    image = torch.randn(shape, dtype=torch.complex64, generator=torch.Generator().manual_seed(0))
    kspace = Fourier(spatial_dims)(image)
    assert kspace.dtype == torch.complex64 and kspace.shape == image.shape
    assert torch.allclose(InverseFourier(spatial_dims)(kspace), image, atol=1e-5)
    assert float((kspace.abs() ** 2).sum()) == pytest.approx(float((image.abs() ** 2).sum()), rel=1e-5)
    # the DC term sits at the centre: a constant image has all its energy there
    constant = Fourier(spatial_dims)(torch.ones(shape[-spatial_dims:]))
    centre = tuple(n // 2 for n in shape[-spatial_dims:])
    assert float(constant.abs()[centre]) == pytest.approx(float(np.sqrt(np.prod(shape[-spatial_dims:]))), rel=1e-5)


def test_fourier_keeps_metatensor_and_promotes_real():
    image = MetaTensor(torch.rand(1, 16, 16), affine=torch.diag(torch.tensor([2.0, 2.0, 3.0, 1.0])))
    kspace = Fourier()(image)
    assert isinstance(kspace, MetaTensor) and kspace.dtype == torch.complex64
    assert torch.equal(kspace.affine, image.affine)
    assert Fourier()(torch.rand(1, 8, 8, dtype=torch.float64)).dtype == torch.complex128


def test_channels_round_trip():
    image = torch.randn(3, 8, 8, dtype=torch.complex64)
    channels = ToChannels()(image)
    assert channels.shape == (6, 8, 8) and channels.dtype == torch.float32
    assert torch.equal(channels[:3], image.real) and torch.equal(channels[3:], image.imag)
    assert torch.equal(FromChannels()(channels), image)
    with pytest.raises(InputError, match="real two-channel layout"):
        FromChannels()(image)
    with pytest.raises(InputError, match="real-valued"):
        ToChannels()(channels)


def test_rand_undersample_array(multicoil):
    _, _, kspace = multicoil
    undersample = RandUndersample("equispaced_fraction", [0.08], [4]).set_random_state(0)
    masked = undersample(kspace)
    assert undersample.mask.shape == (1, 1, SIZE) and undersample.mask.dtype == torch.bool
    assert undersample.acceleration == pytest.approx(SIZE / int(undersample.mask.sum()))
    assert abs(undersample.acceleration - 4) <= 0.4
    assert undersample.num_low_frequencies == 5
    assert torch.equal(masked, kspace * undersample.mask)
    single = RandUndersample("poisson", [0.08], [4]).set_random_state(0)
    assert single(kspace[0]).shape == (SIZE, SIZE) and single.mask.shape == (SIZE, SIZE)


def test_rand_undersampled_dict(multicoil):
    _, _, kspace = multicoil
    original = kspace.clone()
    data = {"kspace": kspace, "name": "slice-3", "target": torch.ones(1)}
    transform = RandUndersampled("kspace", "poisson", [0.08, 0.04], [4, 8], mask_key="m", acceleration_key="r")
    first = transform.set_random_state(7)(data)
    again = transform.set_random_state(7)(data)
    other = transform.set_random_state(8)(data)
    assert torch.equal(kspace, original), "input k-space modified"
    assert set(data) == {"kspace", "name", "target"}, "input dictionary modified"
    assert first["name"] == "slice-3" and first["target"] is data["target"]
    assert set(first) == {"kspace", "name", "target", "m", "r", "num_low_frequencies"}
    assert first["m"].shape == (1, SIZE, SIZE)
    assert torch.equal(first["kspace"], kspace * first["m"])
    assert abs(first["r"] - SIZE * SIZE / int(first["m"].sum())) < 1e-9
    assert torch.equal(first["m"], again["m"]) and first["r"] == again["r"]
    assert not torch.equal(first["m"], other["m"])


def test_apply_maskd_with_file_mask(multicoil):
    _, _, kspace = multicoil
    mask = np.zeros(SIZE, dtype=np.float32)  # as stored in fastMRI test files: (W,) of 0/1
    mask[::4] = 1
    out = ApplyMaskd("kspace")({"kspace": kspace, "mask": mask})
    assert torch.equal(out["kspace"][..., 1::4], torch.zeros_like(kspace[..., 1::4]))
    assert torch.equal(out["kspace"][..., ::4], kspace[..., ::4])
    with pytest.raises(InputError, match=r"^data\['kspace'\]: mask of shape \(32,\) does not broadcast"):
        ApplyMaskd("kspace")({"kspace": kspace, "mask": np.ones(32)})


def test_coil_combination(multicoil):
    image, sens, kspace = multicoil
    coil_images = InverseFourier()(kspace)
    magnitude = CoilCombine("rss")(coil_images)
    assert magnitude.shape == (1, SIZE, SIZE) and not magnitude.is_complex()
    assert torch.allclose(magnitude[0], image.abs(), atol=1e-5)  # sum_c |S_c|^2 = 1
    combined = CoilCombine("sense")(coil_images, sens)
    assert combined.shape == (1, SIZE, SIZE) and combined.is_complex()
    assert torch.allclose(combined[0], image, atol=1e-5)
    assert torch.allclose(ZeroFilled()(kspace), magnitude, atol=1e-6)
    with pytest.raises(ValueError, match="needs the coil sensitivities"):
        CoilCombine("sense")(coil_images)
    with pytest.raises(InputError, match="do not match coil images"):
        CoilCombine("sense")(coil_images, sens[:3])


def test_zero_filled_and_coil_combined_dicts(multicoil):
    image, sens, kspace = multicoil
    data = {"kspace": kspace, "sens": sens}
    out = Compose([CopyItemsd("kspace", names="zf"), ZeroFilledd("zf", method="sense")])(data)
    assert torch.allclose(out["zf"][0], image, atol=1e-5)
    assert out["kspace"] is kspace and set(data) == {"kspace", "sens"}
    coils = InverseFourierd("kspace")(data)
    assert torch.allclose(CoilCombined("kspace")(coils)["kspace"][0], image.abs(), atol=1e-5)


def test_simulate_coils(multicoil):
    image, _, _ = multicoil
    coils = RandSimulateCoils(num_coils=4).set_random_state(3)
    coil_images = coils(image.abs()[None])
    assert coil_images.shape == (4, SIZE, SIZE) and coil_images.dtype == torch.complex64
    assert torch.allclose(CoilCombine()(coil_images)[0], image.abs(), atol=1e-5)
    out = RandSimulateCoilsd("image", num_coils=4, sens_key="s").set_random_state(3)({"image": image.abs()[None]})
    assert torch.equal(out["image"], coil_images) and torch.equal(out["s"], coils.sens)


def test_complex_noise_level(multicoil):
    image, _, kspace = multicoil
    noise = RandComplexNoise(prob=1.0, snr_range=(20, 20)).set_random_state(0)
    noisy = noise(kspace)
    expected_sigma = float(image.abs()[image.abs() >= 0.1 * image.abs().max()].mean()) / 20
    assert noise.sigma == pytest.approx(expected_sigma, rel=1e-4)
    residual = noisy - kspace
    assert float(residual.real.std()) == pytest.approx(expected_sigma, rel=0.05)
    assert float(residual.imag.std()) == pytest.approx(expected_sigma, rel=0.05)
    assert torch.equal(noisy, RandComplexNoise(prob=1.0, snr_range=(20, 20)).set_random_state(0)(kspace))
    assert not torch.equal(noisy, RandComplexNoise(prob=1.0, snr_range=(20, 20)).set_random_state(1)(kspace))
    assert torch.equal(RandComplexNoise(prob=0.0)(kspace), kspace)


def test_random_dict_wrappers_keep_keys_and_inputs(multicoil):
    _, _, kspace = multicoil
    original = kspace.clone()
    for transform in (
        RandComplexNoised("kspace", prob=1.0),
        RandMotionLinesd("kspace", prob=1.0),
        RandKspaceSpiked("kspace", prob=1.0),
        Fourierd("kspace"),
        ToChannelsd("kspace"),
    ):
        data = {"kspace": kspace, "other": [1, 2]}
        out = transform(data)
        assert out is not data and out["other"] is data["other"] and data["kspace"] is kspace
        assert not torch.equal(out["kspace"], kspace)
    assert torch.equal(kspace, original)
    back = FromChannelsd("x")(ToChannelsd("x")({"x": kspace}))
    assert torch.equal(back["x"], kspace)


def test_random_dict_wrappers_skip_with_prob_zero(multicoil):
    _, _, kspace = multicoil
    for transform in (RandComplexNoised, RandMotionLinesd, RandKspaceSpiked):
        assert transform("kspace", prob=0.0)({"kspace": kspace})["kspace"] is kspace


@pytest.mark.parametrize(
    "transform",
    [InverseFourier(), RandUndersample(), RandComplexNoise(prob=1.0), ZeroFilled(), ToChannels()],
    ids=lambda t: type(t).__name__,
)
def test_bad_kspace(transform):
    with pytest.raises(InputError, match=r"k-space is real-valued \(torch.float32\)"):
        transform(torch.ones(2, 8, 8))
    bad = torch.ones(2, 8, 8, dtype=torch.complex64)
    bad[0, 1, 1] = complex("nan")
    with pytest.raises(InputError, match="contains 1 NaN or infinite"):
        transform(bad)


def test_dict_errors_name_the_key():
    with pytest.raises(InputError, match=r"^data\['kspace'\]: k-space is real-valued"):
        RandUndersampled("kspace")({"kspace": torch.ones(2, 8, 8)})
    with pytest.raises(InputError, match=r"^data\['k'\]: .*NaN"):
        InverseFourierd("k")({"k": torch.full((2, 8, 8), complex("nan"), dtype=torch.complex64)})


def test_pipeline_from_module_docstring(multicoil):
    image, _, kspace = multicoil
    pipeline = Compose(
        [
            RandComplexNoised("kspace", prob=1.0, snr_range=(200, 400)),
            CopyItemsd("kspace", names="target"),
            ZeroFilledd("target"),
            RandUndersampled("kspace", "random", [0.08, 0.04], [4, 8]),
            EstimateSensitivitiesd("kspace", mask_key="mask", sens_keys="sens"),
        ]
    )
    pipeline.set_random_state(0)
    out = pipeline({"kspace": kspace})
    assert set(out) == {"kspace", "target", "mask", "acceleration", "num_low_frequencies", "sens"}
    assert out["target"].shape == (1, SIZE, SIZE) and out["sens"].shape == kspace.shape
    assert float((out["target"][0] - image.abs()).abs().mean()) < 0.01
