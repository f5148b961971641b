"""The one figure module: orientation, grey window and PNG writing, and that every figure writer draws through it."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from matplotlib.image import imread
from monai.data import MetaTensor

from mri_monai.comparison_figures import SaveSuperResolutionPNGd
from mri_monai.data.acquisition import volume_to_slices
from mri_monai.demo import _figure
from mri_monai.denoising import SaveComparisonPNGd
from mri_monai.errors import InputError
from mri_monai.figures import display_slice, grey_window, panel_figure, save_figure, save_png, tile, to_grey
from mri_monai.recon import SaveComparisonFigured
from mri_monai.registration import pair_figure
from mri_monai.segmentation import segmentation_figure

SHAPE = (10, 12, 14)  # X, Y, Z
MARKER = (2, 3, 7)  # on the middle axial slice (Z // 2 = 7)


@pytest.fixture
def volume() -> np.ndarray:
    """(X, Y, Z) head-like volume: intensities in [1, 2] inside, 0 outside, and one bright marker voxel."""
    rng = np.random.default_rng(0)
    volume = np.zeros(SHAPE, np.float32)
    volume[1:-1, 1:-1, 1:-1] = rng.uniform(1.0, 2.0, (SHAPE[0] - 2, SHAPE[1] - 2, SHAPE[2] - 2))
    volume[MARKER] = 10.0
    return volume


@pytest.mark.parametrize(
    "axis, index, pixel",
    [
        (2, 7, (12 - 1 - 3, 2)),  # axial (Y, X): anterior (high Y) up, the subject's right (high X) right
        (1, 3, (14 - 1 - 7, 2)),  # coronal (Z, X): superior up
        (0, 2, (14 - 1 - 7, 3)),  # sagittal (Z, Y): superior up, anterior right
    ],
)
def test_marker_voxel_lands_on_the_expected_pixel(axis, index, pixel):
    volume = np.zeros(SHAPE, np.float32)
    volume[MARKER] = 1.0
    picture = display_slice(volume, axis, index)
    assert picture.shape == tuple(np.delete(SHAPE, axis)[::-1])
    assert list(zip(*np.nonzero(picture), strict=True)) == [pixel]
    for same in (volume[None], torch.from_numpy(volume)[None], np.take(volume, index, axis=axis)):
        assert np.array_equal(display_slice(same, axis, index), picture)  # channel-first, tensor, (X, Y) slice


def test_default_slice_is_the_middle_one_and_matches_the_reconstruction_layout(volume):
    assert np.array_equal(display_slice(volume), display_slice(volume, 2, SHAPE[2] // 2))
    assert np.array_equal(display_slice(volume, 2, 5), volume_to_slices(volume)[5])  # fastMRI's (S, H, W) slices
    with pytest.raises(ValueError, match="expected an"):
        display_slice(np.zeros(4))


def test_window_ignores_the_background_and_keeps_it_black():
    picture = np.zeros((20, 20), np.float32)
    picture[5:15, 5:15] = np.linspace(-2.0, 2.0, 100).reshape(10, 10)  # z-scored brain in a zero background
    low, high = grey_window(picture)
    inside = picture[5:15, 5:15]
    assert (low, high) == pytest.approx(tuple(np.percentile(inside, (0.5, 99.5))))
    grey = to_grey(picture, (low, high))
    assert grey.dtype == np.float32 and grey.min() == 0.0 and grey.max() == 1.0
    assert (grey[picture == 0] == 0).all() and grey[10, 10] > 0.4  # background black, mid-brain grey
    assert grey_window(np.zeros((4, 4))) == (0.0, 1.0)
    assert grey_window(np.full((4, 4), 3.0)) == (2.5, 3.5)


def _recorded_figures(monkeypatch: pytest.MonkeyPatch) -> list[Figure]:
    """Every figure saved from now on."""
    figures: list[Figure] = []
    save = Figure.savefig

    def record(fig, *args, **kwargs):
        figures.append(fig)
        return save(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", record)
    return figures


def _panels(fig: Figure) -> list[np.ndarray]:
    """The grey levels each image panel of a figure shows, left to right."""
    return [np.asarray(ax.images[0].get_array()) for ax in fig.axes if ax.images]


def test_every_writer_draws_the_same_slice_with_the_same_grey_levels(volume, tmp_path, monkeypatch):
    figures = _recorded_figures(monkeypatch)
    source = tmp_path / "data" / "sub-000" / "t1w.nii.gz"
    source.parent.mkdir(parents=True)
    nib.save(nib.Nifti1Image(volume, np.eye(4)), source)
    (tmp_path / "data" / "datalist.json").write_text(json.dumps({"test": [{"image": "sub-000/t1w.nii.gz"}]}))
    image = MetaTensor(torch.from_numpy(volume)[None], meta={"filename_or_obj": str(source)})
    out = tmp_path / "out"
    SaveComparisonPNGd(["image"], out, output_postfix="denoised", data_root_dir=tmp_path / "data")({"image": image})
    SaveSuperResolutionPNGd(["image"], ["input"], out, data_root_dir=tmp_path / "data", axis=2)({"image": image})
    slices = torch.from_numpy(volume_to_slices(volume))
    item = {"pred": slices, "zero_filled": slices, "filename": str(source)}
    SaveComparisonFigured("pred", out, tmp_path / "data", "varnet")(item)
    _figure("denoising", tmp_path / "data" / "datalist.json", out)
    drawn = [_panels(fig)[0] for fig in figures]
    drawn.append(_panels(pair_figure(volume, volume, volume, np.zeros((3, *SHAPE), np.float32)))[1])  # fixed
    drawn.append(_panels(segmentation_figure(np.stack([volume] * 4), np.zeros(SHAPE)))[0])  # T1
    expected = to_grey(display_slice(volume), grey_window(display_slice(volume)))
    assert len(drawn) == 6
    for picture in drawn:
        assert np.array_equal(picture, expected)
    assert expected[SHAPE[1] - 1 - MARKER[1], MARKER[0]] == 1.0 and expected[0, 0] == 0.0
    assert sorted(p.name for p in out.rglob("*.png")) == [
        "denoising_data.png",
        "t1w_denoised.png",
        "t1w_sr.png",
        "t1w_varnet.png",
    ]


def test_panels_of_one_figure_share_the_input_window(volume, tmp_path, monkeypatch):
    figures = _recorded_figures(monkeypatch)
    volume[MARKER] = 1.5  # no outlier: the window spans the head's intensities
    source = tmp_path / "t1w.nii.gz"
    image = MetaTensor(torch.from_numpy(volume)[None], meta={"filename_or_obj": str(source)})
    brighter = MetaTensor(image * 2, meta=image.meta)
    SaveComparisonPNGd(["image", "pred"], tmp_path / "out", data_root_dir=tmp_path)({"image": image, "pred": brighter})
    shown, twice = _panels(figures[0])
    window = grey_window(display_slice(volume))
    assert np.array_equal(twice, to_grey(2 * display_slice(volume), window))  # saturates where the input does not
    assert (twice >= shown).all() and (twice == 1).mean() > 0.3 > (shown == 1).mean()


def test_png_files_decode_to_the_expected_size(tmp_path):
    picture = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    path = save_png(picture, tmp_path / "x.png")
    assert np.allclose(imread(path), picture, atol=0.5 / 255)  # 8-bit grey, row 0 at the top
    path = save_png(picture * 10, tmp_path / "y.png", window=(0.0, 5.0))
    assert np.allclose(imread(path), np.clip(picture * 2, 0, 1), atol=0.5 / 255)
    grid = tile([[picture, picture], [picture]], gap=1)
    assert imread(save_png(grid, tmp_path / "grid.png")).shape == (7, 9)
    fig = panel_figure([("a", picture), ("b", picture)], "title")
    height, width, _ = imread(save_figure(fig, tmp_path / "fig.png", dpi=50)).shape
    assert (width, height) == (round(2 * 3.0 * 50), round(3.3 * 50))
    with pytest.raises(ValueError, match="expected an"):
        save_png(np.zeros((2, 2, 2)), tmp_path / "z.png")


def test_writers_never_overwrite_an_input(tmp_path):
    source = tmp_path / "x.png"
    save_png(np.ones((2, 2)), source)
    before = source.read_bytes()
    with pytest.raises(InputError, match="overwrite an input"):
        save_png(np.zeros((2, 2)), source, inputs=[source])
    with pytest.raises(InputError, match="overwrite an input"):
        save_figure(panel_figure([("a", np.zeros((2, 2)))]), source, inputs=[source])
    assert source.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["x.png"]
