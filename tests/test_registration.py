"""Registration: metrics against hand computations, the Elastix runner, the learned network and the bundle's pieces.

Numbers, not "runs": Dice equals a hand count, folding equals the voxels folded by construction, Elastix raises Dice
on a generated pair and its exported field reproduces its own label warping, the shipped network beats no
registration on a generated pair, and the warped image of the bundle's inference figure is closer to the fixed one
than the moving image is.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.image import imread

from mri_monai.bundle_run import run_bundle
from mri_monai.data import make_subject, warp
from mri_monai.data.tasks import make_task_data
from mri_monai.errors import InputError
from mri_monai.metrics import dice_per_label, folding_percent, hd95_per_label, std_log_jacobian
from mri_monai.registration import (
    TISSUES,
    ElastixRegistration,
    InstanceOptimization,
    LowResVoxelMorph,
    NetworkMethod,
    NoRegistration,
    PairDataset,
    PrepareRegistrationBatch,
    RegistrationLoss,
    RegistrationPair,
    Warpd,
    compare_pair,
    load_bundle_network,
    markdown_table,
    pair_figure,
    parameter_object,
    registration_pairs,
    summarise,
)

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "bundles" / "brain_mri_voxelmorph_registration"


@pytest.fixture(scope="module")
def pair() -> RegistrationPair:
    """Atlas (moving) and a deformed synthetic subject (fixed) at 2 mm, 96 x 112 x 96, as make-data writes them."""
    atlas = make_subject(10**6, 2.0, (96, 112, 96), ("t1w",), deform=False, bias_strength=0.0, relaxation_jitter=0.0)
    subject = make_subject(424242, 2.0, (96, 112, 96), ("t1w",))
    return RegistrationPair(
        fixed=subject.images["t1w"],
        fixed_affine=subject.affine,
        moving=atlas.images["t1w"],
        moving_affine=atlas.affine,
        fixed_labels=subject.tissue_labels.astype(np.int16),
        moving_labels=atlas.tissue_labels.astype(np.int16),
        names={"fixed": "subject", "moving": "atlas"},
    )


def mean_dice(warped_labels: np.ndarray, fixed_labels: np.ndarray) -> float:
    return float(np.mean(list(dice_per_label(warped_labels, fixed_labels, list(TISSUES.values())).values())))


def test_dice_per_label_equals_a_hand_count():
    pred = np.zeros((4, 4, 2), np.int16)
    ref = np.zeros((4, 4, 2), np.int16)
    pred[0, :, 0] = 1  # 4 voxels of label 1
    ref[0, :3, 0] = 1  # 3 of label 1, all inside pred's: overlap 3
    ref[1, :, 0] = 1  # 4 more of label 1 in ref only -> |R| = 7
    pred[2, :2, :] = 2  # 4 voxels of label 2
    ref[2, 1:3, :] = 2  # 4 voxels of label 2, overlap 2
    dice = dice_per_label(pred, ref, [1, 2, 3])
    assert dice[1] == pytest.approx(2 * 3 / (4 + 7))
    assert dice[2] == pytest.approx(2 * 2 / (4 + 4))
    assert np.isnan(dice[3])  # in neither map
    # per label, not MONAI's tutorial shortcut on integer maps (which gives a different number here)
    shortcut = 2 * np.sum((pred > 0) & (pred == ref)) / (np.sum(pred > 0) + np.sum(ref > 0))
    assert shortcut != pytest.approx((dice[1] + dice[2]) / 2)


def test_hd95_of_a_shifted_cube_is_the_shift_in_mm():
    a = np.zeros((20, 20, 20), np.int16)
    a[5:13, 5:13, 5:13] = 1
    b = np.roll(a, 2, axis=0)
    assert hd95_per_label(b, a, [1], spacing=(2.0, 2.0, 2.0))[1] == pytest.approx(4.0)
    assert dice_per_label(b, a, [1])[1] == pytest.approx(0.75)


def test_jacobian_metrics_find_folding_by_construction():
    identity = np.zeros((3, 20, 16, 12), np.float32)
    assert folding_percent(identity) == 0.0
    assert std_log_jacobian(identity) == 0.0
    # u_x = -2 x up to x = 10, then constant: d u_x / dx = -2 (det J = -1) for x < 10, -1 at x = 10 (det 0),
    # 0 beyond (det 1): 11 of 20 slices fold
    folded = identity.copy()
    x = np.arange(20, dtype=np.float32)
    folded[0] = (-2.0 * np.minimum(x, 10.0))[:, None, None]
    assert folding_percent(folded) == pytest.approx(100 * 11 / 20)
    assert std_log_jacobian(folded) > 5  # log of clipped non-positive determinants
    smooth = identity.copy()
    smooth[0] = (0.2 * x)[:, None, None]  # a uniform 20 % stretch: det J = 1.2 everywhere
    assert folding_percent(smooth) == 0.0
    assert std_log_jacobian(smooth) == pytest.approx(0.0, abs=1e-6)


def test_presets_are_parameter_files():
    params = parameter_object(["affine", "bspline"])
    assert params.GetNumberOfParameterMaps() == 2
    assert params.GetParameterMap(0)["Transform"] == ("AffineTransform",)
    assert params.GetParameterMap(1)["Transform"] == ("BSplineTransform",)
    with pytest.raises(ValueError, match="not a preset"):
        parameter_object(["no_such_preset"])


def test_elastix_affine_raises_dice_and_its_field_reproduces_its_label_warp(pair):
    before = mean_dice(pair.moving_labels, pair.fixed_labels)
    result = ElastixRegistration(("affine",), threads=1)(
        pair.fixed, pair.fixed_affine, pair.moving, pair.moving_affine, labels=[pair.moving_labels]
    )
    after = mean_dice(result.warped_labels[0], pair.fixed_labels)
    assert after > before + 0.1, (before, after)
    assert result.warped.shape == pair.fixed.shape and result.ddf.shape == (3, *pair.fixed.shape)
    # the exported voxel field, used by MONAI's Warp, gives transformix's nearest-neighbour labels
    agreement = np.mean(warp(pair.moving_labels, result.ddf, mode="nearest") == result.warped_labels[0])
    assert agreement > 0.999
    # the mm field is the voxel field through the affine's linear part (same grid)
    mm = ElastixRegistration(("affine",), threads=1, units="mm")(pair.fixed, pair.fixed_affine, pair.moving,
                                                                  pair.moving_affine).ddf  # fmt: skip
    expected = np.einsum("ij,j...->i...", pair.fixed_affine[:3, :3], result.ddf)
    assert np.abs(mm - expected).max() < 1e-3
    assert folding_percent(result.ddf) == 0.0


@pytest.mark.slow
def test_elastix_bspline_beats_affine(pair):
    affine = ElastixRegistration(("affine",), threads=1)(
        pair.fixed, pair.fixed_affine, pair.moving, pair.moving_affine, labels=[pair.moving_labels]
    )
    bspline = ElastixRegistration(("affine", "bspline"), threads=1)(
        pair.fixed, pair.fixed_affine, pair.moving, pair.moving_affine, labels=[pair.moving_labels]
    )
    assert mean_dice(bspline.warped_labels[0], pair.fixed_labels) > mean_dice(
        affine.warped_labels[0], pair.fixed_labels
    )
    assert folding_percent(bspline.ddf) < 0.5


def test_shipped_network_beats_no_registration(pair):
    network = load_bundle_network(BUNDLE)
    rows, results = compare_pair(
        pair,
        [
            NoRegistration(),
            NetworkMethod("network", network),
            NetworkMethod("network_io", network, InstanceOptimization(network, steps=5)),
        ],
    )
    by = {r["method"]: r for r in rows}
    assert by["network"]["dice_mean"] > by["none"]["dice_mean"] + 0.1, rows
    assert by["network_io"]["dice_mean"] >= by["network"]["dice_mean"] - 0.005, rows
    assert by["network"]["folding_percent"] < 0.5 and by["network_io"]["folding_percent"] < 0.5
    table = markdown_table(summarise(rows))
    assert table.count("\n") == 2 + 3 and "Dice CSF" in table
    assert results["network"].warped.shape == pair.fixed.shape


def test_network_keeps_any_input_shape_and_starts_near_the_identity():
    net = LowResVoxelMorph(channels=(4, 8, 8, 8), final_conv_channels=(4,), downsample=2)
    pair = torch.rand(2, 2, 19, 24, 30)
    assert net(pair).shape == (2, 3, 19, 24, 30)
    with torch.no_grad():  # a zero coarse field is the identity on the input grid
        assert float(net.to_input_grid(torch.zeros(1, 3, 16, 16, 16), (30, 31, 32)).abs().max()) == 0.0
    theta = torch.zeros(1, 12)
    theta[0, 9] = 1.5  # a pure translation of 1.5 coarse voxels along the first axis
    shifted = net._compose_affine(torch.zeros(1, 3, 8, 8, 8), theta)
    assert torch.allclose(shifted[0, 0], torch.full((8, 8, 8), 1.5)) and float(shifted[0, 1:].abs().max()) == 0.0


def test_instance_optimisation_recovers_a_shift():
    grid = torch.stack(torch.meshgrid(*[torch.arange(32.0)] * 3, indexing="ij"))
    fixed = torch.exp(-((grid - 15.5) ** 2).sum(0) / 60.0)[None, None]
    centre = torch.tensor([17.5, 15.5, 15.5])[:, None, None, None]
    moving = torch.exp(-((grid - centre) ** 2).sum(0) / 60.0)[None, None]
    net = LowResVoxelMorph(channels=(4, 8, 8, 8), final_conv_channels=(4,), downsample=2)
    for p in net.parameters():  # start from the identity
        torch.nn.init.zeros_(p)
    ddf = InstanceOptimization(net, steps=40, learning_rate=0.2, regularization_weight=0.1, margin=2)(moving, fixed)
    inside = (grid - 15.5).norm(dim=0) < 6
    assert float(ddf[0, 0][inside].mean()) == pytest.approx(2.0, abs=0.5)  # fixed p samples moving at p + 2 x


def test_loss_uses_labels_and_is_zero_gradient_free_of_nan():
    target = torch.zeros(1, 4, 16, 16, 16)
    target[:, :2] = torch.rand(1, 1, 16, 16, 16)
    target[:, 2:, 4:12, 4:12, 4:12] = 2
    ddf = torch.zeros(1, 3, 16, 16, 16, requires_grad=True)
    with_labels = RegistrationLoss(label_weight=1.0, downsample=2)(ddf, target)
    without = RegistrationLoss(label_weight=1.0, downsample=2)(ddf, target[:, :2])
    assert float(with_labels) < float(without) + 1e-6  # identical labels: Dice loss near 0
    with_labels.backward()
    assert torch.isfinite(ddf.grad).all()


def test_pairs_dataset_and_batch(tmp_path):
    import nibabel as nib

    entries = {}
    for name in ("atlas", "sub-000", "sub-001"):
        (tmp_path / name).mkdir()
        for file in ("t1w.nii.gz", "tissue_labels.nii.gz"):
            nib.save(nib.Nifti1Image(np.zeros((4, 4, 4), np.float32), np.eye(4)), tmp_path / name / file)
        entries[name] = {"subject": name, "image": f"{name}/t1w.nii.gz", "label": f"{name}/tissue_labels.nii.gz"}
    datalist = tmp_path / "datalist.json"
    datalist.write_text(json.dumps({"training": [entries["sub-000"], entries["sub-001"]], "validation": [],
                                    "atlas": entries["atlas"]}))  # fmt: skip
    atlas_pairs = registration_pairs(datalist, "training", "atlas")
    assert [(p["moving_subject"], p["fixed_subject"]) for p in atlas_pairs] == [
        ("atlas", "sub-000"),
        ("atlas", "sub-001"),
    ]
    assert atlas_pairs[0]["fixed_image"] == str(tmp_path / "sub-000" / "t1w.nii.gz")
    assert [p["fixed_subject"] for p in registration_pairs(datalist, "training", "subjects")] == ["sub-001", "sub-000"]
    assert len(registration_pairs(datalist, "training", "all")) == 2
    with pytest.raises(InputError, match="'validation' is empty"):
        registration_pairs(datalist, "validation", "atlas")
    subjects = [{"image": torch.rand(1, 8, 8, 8), "label": torch.ones(1, 8, 8, 8)} for _ in range(3)]
    dataset = PairDataset(subjects)
    assert len(dataset) == 6 and set(dataset[0]) == {"moving_image", "moving_label", "fixed_image", "fixed_label"}
    batch = {k: v[None] for k, v in dataset[0].items()}
    inputs, target = PrepareRegistrationBatch()(batch)
    assert inputs.shape == (1, 2, 8, 8, 8) and target.shape == (1, 4, 8, 8, 8)
    batch["moving_label"] = ["not/loaded.nii.gz"]  # file names that were not loaded are not labels
    assert PrepareRegistrationBatch()(batch)[1].shape == (1, 2, 8, 8, 8)


def test_warpd_gives_outputs_the_fixed_geometry():
    from monai.data import MetaTensor

    affine = torch.diag(torch.tensor([2.0, 2.0, 2.0, 1.0]))
    fixed = MetaTensor(torch.rand(1, 8, 8, 8), affine=affine, meta={"filename_or_obj": "sub-001/t1w.nii.gz"})
    moving = MetaTensor(torch.rand(1, 8, 8, 8), meta={"filename_or_obj": "atlas/t1w.nii.gz"})
    data = {"moving": moving, "fixed_image": fixed, "pred": torch.zeros(3, 8, 8, 8)}
    out = Warpd("moving", output_keys="warped")(data)["warped"]
    assert out.meta["filename_or_obj"] == "sub-001/t1w.nii.gz" and torch.equal(out.affine, fixed.affine)
    assert torch.allclose(out.as_tensor(), moving.as_tensor(), atol=1e-5)  # zero field: unchanged


def test_moving_image_on_another_grid_is_resampled_through_world_coordinates():
    rng = np.random.default_rng(0)
    fixed = np.zeros((32, 32, 32), np.float32)
    fixed[8:24, 8:24, 8:24] = rng.uniform(1, 2, (16, 16, 16))
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    moving = np.roll(fixed, 3, axis=0)  # moving voxel i + 3 holds fixed voxel i ...
    moving_affine = affine.copy()
    moving_affine[0, 3] -= 3 * 2.0  # ... and sits at the same world point
    pair = RegistrationPair(fixed, affine, moving, moving_affine)
    assert not pair.same_grid
    none = NoRegistration()(pair)
    assert np.allclose(none.ddf[0], 3.0) and np.allclose(none.warped, fixed, atol=1e-5)
    net = LowResVoxelMorph(channels=(4, 8, 8, 8), final_conv_channels=(4,), downsample=2)
    for p in net.parameters():  # a zero field: the network's result is the resampling alone
        torch.nn.init.zeros_(p)
    result = NetworkMethod("network", net)(pair)
    assert np.allclose(result.ddf, none.ddf, atol=1e-5) and np.allclose(result.warped, fixed, atol=1e-5)


@pytest.mark.slow
def test_inference_writes_a_figure_per_pair(tmp_path, one_thread_cpu, png_panels):
    datalist = make_task_data("registration", tmp_path / "data", subjects=3, seed=23, progress=False)
    content = json.loads(datalist.read_text())
    content["test"] = content["validation"] + content["test"]  # two pairs: the atlas to each of two subjects
    datalist.write_text(json.dumps(content))
    out = tmp_path / "out"
    run = run_bundle(BUNDLE, "inference", datalist.parent, out)
    assert run.ok, run.error(40)
    for entry in content["test"]:
        png = out / Path(entry["image"]).parent / "t1w_warped.png"  # named after the fixed image, as the NIfTI
        assert png.is_file() and png.with_suffix(".nii.gz").is_file()
        height, width, _ = imread(png).shape
        assert 150 <= height <= 1000 and 4 * height <= width <= 8 * height
        panels = png_panels(png)
        assert len(panels) == 6  # moving, fixed, warped, checkerboard, grid, det J (the colour bar left out)
        moving, fixed, warped = panels[:3]
        assert moving.shape[0] > 0.6 * height
        before, after = np.abs(moving - fixed).mean(), np.abs(warped - fixed).mean()
        assert after < 0.8 * before, (after, before)  # grey values in the fixed image's window, shared by the panels
        assert np.abs(warped - moving).mean() > 0.2 * before  # the warp moved the image


def test_pair_figure_refuses_images_on_different_grids():
    image = np.zeros((8, 8, 8), np.float32)
    with pytest.raises(ValueError, match="one grid"):
        pair_figure(image, image, image[:4], np.zeros((3, 8, 8, 8), np.float32))
    with pytest.raises(ValueError, match="one grid"):
        pair_figure(image, image, image, np.zeros((2, 8, 8, 8), np.float32))
