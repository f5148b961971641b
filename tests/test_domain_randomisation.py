"""Domain-randomised subjects and acquisitions (issue #28): ranges honoured, seeded, options checked."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import torch
from scipy import ndimage

from mri_monai.cli import main
from mri_monai.data import make_subject
from mri_monai.data.randomise import DomainRandomisation, head_shells, sharpen_fractions
from mri_monai.kspace import RandComplexNoise, fft2c, ifft2c, rss
from mri_monai.recon import SeededComplexNoised

GRID = dict(voxel_size=3.0, shape=(48, 56, 48))


def _correlation(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    return float(np.corrcoef(a[mask], b[mask])[0, 1])


def test_randomised_subjects_are_seeded_and_differ_in_contrast():
    r = DomainRandomisation(intensity="gmm")
    a = make_subject(5, **GRID, contrasts=("t1w",), randomisation=r)
    again = make_subject(5, **GRID, contrasts=("t1w",), randomisation=r)
    np.testing.assert_array_equal(a.images["t1w"], again.images["t1w"])
    # random Gaussian intensities: grey matter is brighter than white matter in some subjects, darker in others
    gm_brighter = set()
    for seed in range(8):
        s = make_subject(seed, **GRID, contrasts=("t1w",), randomisation=r)
        gm, wm = (s.images["t1w"][s.tissue_labels == k].mean() for k in (2, 3))
        gm_brighter.add(bool(gm > wm))
    assert gm_brighter == {True, False}
    plain = make_subject(5, **GRID, contrasts=("t1w",))
    assert plain.parameters["randomised"] is False and a.parameters["randomised"] is True


def test_physics_randomisation_keeps_t1w_tissue_order():
    r = DomainRandomisation(intensity="physics", head_probability=0.0, log_gamma_std=0.0)
    for seed in range(3):
        s = make_subject(seed, **GRID, contrasts=("t1w",), randomisation=r)
        csf, gm, wm = (s.images["t1w"][s.tissue_labels == k].mean() for k in (1, 2, 3))
        assert csf < gm < wm


def test_hard_skull_strip_cuts_the_image_to_zero_at_an_unblurred_edge():
    strip = DomainRandomisation(head_probability=0.0, strip_probability=1.0, blur_sigma_vox=(0.8, 0.8))
    soft = DomainRandomisation(head_probability=0.0, strip_probability=0.0, blur_sigma_vox=(0.8, 0.8))
    a = make_subject(2, **GRID, contrasts=("t1w",), randomisation=strip)
    b = make_subject(2, **GRID, contrasts=("t1w",), randomisation=soft)
    assert a.parameters["hard_skull_strip"] and not b.parameters["hard_skull_strip"]

    def edge_contrast(image: np.ndarray) -> float:
        # mean intensity of the foreground voxels that touch a zero voxel, relative to the foreground's median
        fg = image > 0
        edge = fg & ~ndimage.binary_erosion(fg)
        return float(image[edge].mean() / np.median(image[fg]))

    # a blurred soft edge falls off gradually (never exactly zero after the blur); the strip leaves a cut
    assert (a.images["t1w"] == 0).mean() > 0.2
    assert edge_contrast(a.images["t1w"]) > 0.3
    assert edge_contrast(a.images["t1w"]) > 3 * edge_contrast(b.images["t1w"] * (b.images["t1w"] > 1e-3))
    with pytest.raises(ValueError, match="strip_probability"):
        DomainRandomisation(strip_probability=1.5)


def test_sharpening_keeps_totals_and_steepens_edges():
    x = np.linspace(0, 1, 11, dtype=np.float32)
    fractions = {"gm": x, "background": 1 - x}
    sharp = sharpen_fractions(fractions, 4.0)
    np.testing.assert_allclose(sharp["gm"] + sharp["background"], 1.0, atol=1e-6)
    assert sharp["gm"][3] < 0.05 and sharp["gm"][7] > 0.95  # 0.3 -> 0.03, 0.7 -> 0.97
    np.testing.assert_allclose(sharpen_fractions(fractions, 1.0)["gm"], x, atol=1e-6)
    with pytest.raises(ValueError, match="power"):
        sharpen_fractions(fractions, 0.5)


def test_head_shells_lie_outside_the_brain_at_the_drawn_distance():
    brain = np.zeros((40, 40, 40), bool)
    brain[10:30, 10:30, 10:30] = True
    shells = head_shells(brain, (1.0, 1.0, 1.0), np.random.default_rng(0))
    assert shells["skull"][brain].max() == 0 and shells["scalp"][brain].max() == 0
    assert shells["skull"][20, 20, 5:10].max() > 0.9  # skull within 1 + 7 mm of the brain's face at z = 10
    assert shells["skull"].sum() > 0 and shells["scalp"].sum() > 0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"intensity": "lognormal"}, "unknown intensity model 'lognormal'"),
        ({"gmm_mean": (200.0, 100.0)}, "gmm_mean"),
        ({"sharpen": (0.5, 2.0)}, "sharpen"),
        ({"head_probability": 1.5}, "head_probability"),
        ({"log_gamma_std": -1.0}, "log_gamma_std"),
    ],
)
def test_bad_randomisation_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DomainRandomisation(**kwargs)


def test_randomised_reconstruction_data_vary_the_acquisition(tmp_path):
    out = tmp_path / "recon"
    assert main(["make-data", "reconstruction", "--out", str(out), "--subjects", "3", "--seed", "4", "--randomise",
                 "--snr", "inf", "--coils-range", "4", "12"]) == 0  # fmt: skip
    datalist = json.loads((out / "datalist.json").read_text())
    entries = datalist["training"] + datalist["validation"] + datalist["test"]
    assert datalist["randomisation"]["intensity"] == "mixed" and "domain-randomised" in datalist["description"]
    shapes = set()
    for entry in entries:
        with h5py.File(out / entry["multicoil"]) as f:
            kspace, target = f["kspace"][()], f["reconstruction_rss"][()]
            assert f.attrs["acquisition"] == "RANDOM" and f.attrs["noise_sigma"] == 0.0
        assert 4 <= kspace.shape[1] <= 12
        assert kspace.shape[2] >= 160 and kspace.shape[3] >= 128
        shapes.add(kspace.shape[1:])
        # noiseless: the target is exactly the RSS of the stored k-space
        np.testing.assert_allclose(rss(ifft2c(torch.from_numpy(kspace)), dim=1).numpy(), target, atol=1e-5)
    assert len(shapes) == 3


@pytest.mark.parametrize(
    "args, message",
    [
        (["--snr", "-1"], "snr must be positive"),
        (["--coils", "0"], "coils must be at least 1"),
        (["--randomise", "--intensity", "uniform"], "unknown intensity model 'uniform'"),
        (["--randomise", "--coils-range", "8", "4"], "coils_range"),
        (["--subjects", "0"], "at least one subject"),
    ],
)
def test_make_data_bad_options_exit_non_zero_and_write_nothing(tmp_path, capsys, args, message):
    out = tmp_path / "never"
    assert main(["make-data", "reconstruction", "--out", str(out), *args]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.iterdir())


def test_log_uniform_noise_spans_decades():
    noise = RandComplexNoise(prob=1.0, snr_range=(5.0, 200.0), log_uniform=True).set_random_state(0)
    snrs = []
    for _ in range(400):
        noise.randomize()
        snrs.append(noise.snr)
    snrs = np.log(snrs)
    assert np.log(5) <= snrs.min() and snrs.max() <= np.log(200)
    assert abs(np.median(snrs) - np.log(np.sqrt(5 * 200))) < 0.25  # the geometric mean, not (5 + 200) / 2


def test_seeded_noise_is_reproducible_and_has_the_drawn_snr():
    image = torch.zeros(1, 64, 64, dtype=torch.complex64)
    image[:, 16:48, 16:48] = 1.0
    kspace = fft2c(image.repeat(4, 1, 1) / 2.0)  # 4 coils of 0.5: RSS 1 in the square
    transform = SeededComplexNoised("kspace", (10.0, 10.0))
    item = {"kspace": kspace, "filename": "/data/sub-001.h5", "slice": 3}
    first, second = transform(item)["kspace"], transform(item)["kspace"]
    torch.testing.assert_close(first, second)
    other = transform({**item, "slice": 4})["kspace"]
    assert not torch.equal(first, other)
    sigma = (ifft2c(first) - ifft2c(kspace)).real.std().item()
    assert abs(sigma - 0.1) < 0.01  # mean RSS over the object is 1, SNR 10
    torch.testing.assert_close(SeededComplexNoised("kspace", (10.0, 10.0), prob=0.0)(item)["kspace"], kspace)
