"""The realistic lesion model (issue 31): hard for thresholds, consistent labels, mimics, mass effect, acquisition.

Small grids (3 mm) keep the module fast; the geometry tests draw lesions on one template anatomy without making whole
subjects.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from monai.transforms import NormalizeIntensity
from scipy import ndimage

from mri_monai.cli import main
from mri_monai.data.deformation import jacobian_determinant
from mri_monai.data.glioma import draw_glioma, plan_lesions
from mri_monai.data.mass_effect import displace_tissue, mass_effect_field
from mri_monai.data.mimics import ventricles
from mri_monai.data.mni import load_tissue_maps
from mri_monai.data.realistic_tumour import (
    RealisticLesions,
    acquire_realistic,
    lesions_from_options,
    make_realistic_tumour_subject,
)
from mri_monai.data.scan_acquisition import misregister, thick_slices
from mri_monai.data.subject import make_subject
from mri_monai.data.tumour import ED, ET, NCR

VOXEL, SHAPE = 3.0, (56, 68, 56)
VS = np.full(3, VOXEL)


@pytest.fixture(scope="module")
def anatomy():
    maps = load_tissue_maps(VOXEL, SHAPE)
    return {"brain": maps.mask > 0.5, "wm": np.asarray(maps.wm), "csf": np.asarray(maps.csf), "gm": np.asarray(maps.gm)}


@pytest.fixture(scope="module")
def gliomas(anatomy):
    """12 lesion draws (no mass effect) on the template anatomy."""
    out = []
    for seed in range(12):
        rng = np.random.default_rng(seed)
        plans = plan_lesions(anatomy["brain"], anatomy["wm"], VS, rng, second_lesion=0.0)
        out.append(draw_glioma(plans, anatomy["brain"], anatomy["wm"], anatomy["csf"], VS, rng))
    return out


@pytest.fixture(scope="module")
def subjects():
    """Three whole realistic subjects with a tumour and their acquired images (z-scored over the brain)."""
    out = []
    for seed in (3, 4, 6):
        subject = make_realistic_tumour_subject(seed, VOXEL, SHAPE, RealisticLesions(tumour_free=0.0))
        images = acquire_realistic(subject, 0.03)
        stacked = torch.from_numpy(np.stack([images[c] for c in ("t1w", "t1ce", "t2w", "flair")]))
        z = NormalizeIntensity(nonzero=True, channel_wise=True)(stacked).numpy()
        out.append({"subject": subject, "images": images, "z": z})
    return out


def test_same_seed_same_subject_other_seed_other_subject(subjects):
    again = make_realistic_tumour_subject(3, VOXEL, SHAPE, RealisticLesions(tumour_free=0.0))
    first = subjects[0]
    assert np.array_equal(again.tumour_labels, first["subject"].tumour_labels)
    for contrast, image in acquire_realistic(again, 0.03).items():
        assert np.array_equal(image, first["images"][contrast]), contrast
    other = subjects[1]["subject"]
    assert (again.tumour_labels != other.tumour_labels).mean() > 0.005
    assert np.abs(first["images"]["flair"] - subjects[1]["images"]["flair"]).mean() > 0.05


def test_labels_match_the_compartments(gliomas):
    for maps in gliomas:
        labels = maps.labels
        assert set(np.unique(labels).tolist()) <= {0, NCR, ED, ET}
        core = maps.necrosis + maps.non_enhancing
        # a label is its compartment's: ET where enhancing dominates, NCR where necrosis / non-enhancing does
        assert np.all(maps.enhancing[labels == ET] >= 0.3)
        assert np.all(core[labels == NCR] >= 0.3)
        assert np.all(maps.oedema[labels == ED] > 0) and np.all(maps.total[labels == 0] < 0.7)
        # the whole tumour holds the core: no NCR or ET voxel is more than a voxel from a labelled region's inside
        tumour_core = np.isin(labels, (NCR, ET))
        assert np.all(ndimage.binary_fill_holes(labels > 0)[tumour_core])
        assert tumour_core.sum() < (labels > 0).sum()


def test_compartments_are_not_concentric(gliomas):
    offsets, spreads, rim_cover = [], [], []
    for maps in gliomas:
        plan = maps.plans[0]
        core = np.isin(maps.labels, (NCR, ET))
        components, _ = ndimage.label(core)
        main = components == components[tuple(np.round(plan.centre).astype(int))]
        if plan.necrosis and (maps.necrosis > 0.5).any():
            necrosis = (maps.necrosis > 0.5) & main
            offsets.append(np.linalg.norm((ndimage.center_of_mass(necrosis) - plan.centre) * VS))
        # oedema thickness along the core's surface: distance from each surface voxel to the whole tumour's edge
        surface = main & ~ndimage.binary_erosion(main)
        outside = ndimage.distance_transform_edt(maps.labels > 0, sampling=VS)
        spreads.append(outside[surface].std() / max(outside[surface].mean(), 1e-6))
        if plan.enhancement == "rim":
            rim_cover.append((maps.labels[surface] == ET).mean())
    print(f"necrosis offsets {np.round(offsets, 1)} mm; oedema thickness CV {np.round(spreads, 2)}; "
          f"rim coverage {np.round(rim_cover, 2)}")  # fmt: skip
    assert len(offsets) >= 3 and np.median(offsets) > 3.0  # necrosis off-centre
    assert np.median(spreads) > 0.3  # the oedema's reach varies along the surface
    assert rim_cover and min(rim_cover) < 0.9  # partial rims


def test_enhancement_is_sometimes_absent_and_subjects_sometimes_tumour_free(anatomy, gliomas):
    patterns = [m.plans[0].enhancement for m in gliomas]
    print("enhancement patterns", patterns)
    assert set(patterns) == {"rim", "patchy", "none"}
    for maps in gliomas:  # a lesion without enhancement has a core but no ET
        if all(p.enhancement == "none" for p in maps.plans):
            assert not (maps.labels == ET).any() and (maps.labels == NCR).any()
    rng = np.random.default_rng(0)
    plans = plan_lesions(anatomy["brain"], anatomy["wm"], VS, rng, no_enhancement=1.0)
    assert not (draw_glioma(plans, anatomy["brain"], anatomy["wm"], anatomy["csf"], VS, rng).labels == ET).any()
    free = make_realistic_tumour_subject(5, VOXEL, SHAPE, RealisticLesions(tumour_free=1.0, mass_effect=(0, 0)))
    assert free.parameters["tumour_free"] and not free.tumour_labels.any()
    # the mimics are there without a tumour: FLAIR-bright white matter that nobody labels
    hyper = free.fractions["hyperintensities"] > 0.5
    wm = (free.fractions["wm"] > 0.9) & ~hyper
    assert hyper.sum() > 5 and free.images["flair"][hyper].mean() > 1.15 * free.images["flair"][wm].mean()


def test_mimics_are_bright_but_not_labelled(subjects):
    flair_contrast, t1ce_contrast = [], []
    for item in subjects:
        subject, z = item["subject"], item["z"]
        labels, fractions, clean = subject.tumour_labels, subject.fractions, subject.images
        hyper = fractions["hyperintensities"] > 0.5
        enhancing = (fractions["vessels"] > 0.5) | (fractions["choroid_plexus"] > 0.5)
        wm = (fractions["wm"] > 0.9) & (labels == 0)
        assert hyper.sum() >= 5 and enhancing.sum() >= 5
        assert not labels[hyper].any() and not labels[enhancing].any()  # never labelled
        # bright in the clean images, like oedema on FLAIR and enhancing tumour on T1ce
        assert clean["flair"][hyper].mean() > 1.15 * clean["flair"][wm].mean()
        assert clean["t1ce"][enhancing].mean() > 1.3 * clean["t1ce"][wm].mean()
        # and still after the acquisition (thick slices blur small lesions): z-score above white matter's
        flair_contrast.append(z[3][hyper].mean() - z[3][wm].mean())
        t1ce_contrast.append(z[1][enhancing].mean() - z[1][wm].mean())
    print(f"z above white matter: FLAIR hyperintensities {np.round(flair_contrast, 2)}, "
          f"T1ce vessels and choroid plexus {np.round(t1ce_contrast, 2)}")  # fmt: skip
    assert min(flair_contrast) > 0.2 and np.mean(flair_contrast) > 0.5
    assert min(t1ce_contrast) > 1.0


def test_mass_effect_moves_the_ventricles_away(anatomy):
    brain, csf = anatomy["brain"], anatomy["csf"]
    before = ventricles(csf, brain, VS)
    centroid = np.array(ndimage.center_of_mass(before))
    centre = centroid + np.array([-25.0, 0.0, 5.0]) / VS  # 25 mm to the left of the ventricles
    ddf = mass_effect_field(brain, [centre], [20.0], VS)
    moved = displace_tissue({k: anatomy[k] for k in ("wm", "gm", "csf")}, ddf)
    after = ventricles(moved["csf"], brain, VS)
    direction = (centroid - centre) / np.linalg.norm(centroid - centre)
    shift_mm = float(np.dot((np.array(ndimage.center_of_mass(after)) - centroid) * VS, direction))
    near = np.indices(brain.shape)[0] < centroid[0]  # the lesion's side of the ventricles
    print(f"ventricle shift {shift_mm:.2f} mm; lesion side {before[near].sum()} -> {after[near].sum()} voxels")
    assert shift_mm > 1.5 and after[near].sum() < 0.85 * before[near].sum()
    jacobian = jacobian_determinant(ddf)
    beyond = np.linalg.norm((np.indices(brain.shape) - centre[:, None, None, None]) * VOXEL, axis=0) > 20.0 + VOXEL
    assert jacobian[brain].min() >= 0 and jacobian[brain & beyond].min() > 0  # no folding; the bulk ball collapses
    total = sum(anatomy[k] for k in ("wm", "gm", "csf"))
    assert np.allclose(sum(moved.values()), total, atol=1e-4)  # the brain's outline does not move
    far = np.linalg.norm((np.indices(brain.shape) - centre[:, None, None, None]) * VOXEL, axis=0) > 60
    assert np.abs(ddf[:, far & brain]).max() * VOXEL < 1.0


def test_single_contrasts_do_not_separate_oedema_or_tumour_from_grey_matter(subjects):
    """Best balanced accuracy of one threshold on one contrast's z-scores (pooled over the subjects, as a fixed
    threshold meets them): 0.5 is complete overlap, 1 full separation. The simple model's FLAIR separates them."""

    def best_threshold_accuracy(a: np.ndarray, b: np.ndarray) -> float:
        values = np.sort(np.concatenate([a, b]))
        cuts = values[:: max(1, len(values) // 400)]
        above_a = (a[None, :] > cuts[:, None]).mean(axis=1)
        above_b = (b[None, :] > cuts[:, None]).mean(axis=1)
        return float(np.max(np.maximum(above_a + 1 - above_b, above_b + 1 - above_a)) / 2)

    def oedema(subject):
        return subject.tumour_labels == ED

    def non_enhancing(subject):
        return subject.fractions["non_enhancing"] > 0.5

    accuracy = {}
    for channel, contrast in enumerate(("t1w", "t1ce", "t2w", "flair")):
        for name, select in (("oedema", oedema), ("non-enhancing tumour", non_enhancing)):
            tumour, grey = [], []
            for item in subjects:
                subject = item["subject"]
                grey_matter = (subject.fractions["gm"] > 0.7) & (subject.tumour_labels == 0)
                tumour.append(item["z"][channel][select(subject)])
                grey.append(item["z"][channel][grey_matter])
            accuracy[(contrast, name)] = best_threshold_accuracy(np.concatenate(tumour), np.concatenate(grey))
    print({f"{c} {k}": round(v, 3) for (c, k), v in accuracy.items()})
    assert max(accuracy.values()) < 0.85

    simple = make_subject(3, VOXEL, SHAPE, contrasts=("flair",), tumour=True)
    flair = NormalizeIntensity(nonzero=True)(torch.from_numpy(simple.images["flair"] * simple.brain_mask)).numpy()
    grey_matter = (simple.fractions["gm"] > 0.7) & (simple.tumour_labels == 0)
    separated = best_threshold_accuracy(flair[simple.tumour_labels == ED], flair[grey_matter])
    print(f"simple model, FLAIR oedema vs GM: {separated:.3f}")
    assert separated > 0.9


def test_acquisition_blurs_across_slices_and_moves_contrasts():
    rng = np.random.default_rng(0)
    image = ndimage.gaussian_filter(rng.standard_normal((40, 40, 40)), 1.0).astype(np.float32)
    thick = thick_slices(image, axis=2, factor=3.0)
    assert thick.shape == image.shape
    along, across = np.abs(np.diff(thick, axis=2)).mean(), np.abs(np.diff(thick, axis=0)).mean()
    assert along < 0.6 * across  # detail along the slice axis is lost, not within the slices
    blob = np.zeros((40, 40, 40), dtype=np.float32)
    blob[15:25, 15:25, 15:25] = 1.0
    moved = misregister(blob, (2.0, 2.0, 2.0), np.random.default_rng(1), max_mm=2.0, max_deg=0.0)
    shift = (np.array(ndimage.center_of_mass(moved)) - np.array(ndimage.center_of_mass(blob))) * 2.0
    assert 0.1 < np.abs(shift).max() <= 2.0 + 1e-3


def test_lesion_options_are_checked():
    assert lesions_from_options({}) is None and lesions_from_options({"lesions": "simple"}) is None
    assert lesions_from_options({"lesions": "realistic", "tumour_free": 0.5}).tumour_free == 0.5
    with pytest.raises(ValueError, match="no_enhancement must be a probability"):
        lesions_from_options({"lesions": "realistic", "no_enhancement": 2})


@pytest.mark.parametrize(
    "args, message",
    [
        (["segmentation", "--lesions", "fancy"], "unknown lesion model 'fancy'; choose from simple, realistic"),
        (["segmentation", "--lesions", "realistic", "--tumour-free", "1.5"], "tumour_free must be a probability"),
        (["segmentation", "--tumour-free", "0.2"], "tumour_free tune the realistic lesion model"),
        (["registration", "--lesions", "realistic"], "segmentation task only"),
        (["segmentation", "--lesions", "realistic", "--randomise"], "drop the randomisation"),
        (["all", "--lesions", "realistic", "--no-enhancement", "-1"], "no_enhancement must be a probability"),
    ],
)
def test_bad_lesion_options_exit_non_zero_and_write_nothing(tmp_path, capsys, args, message):
    out = tmp_path / "never"
    assert main(["make-data", args[0], "--out", str(out), "--subjects", "3", *args[1:]]) == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_make_data_writes_realistic_subjects(tmp_path):
    out = tmp_path / "seg"
    assert main(["make-data", "segmentation", "--out", str(out), "--subjects", "1", "--seed", "2",
                 "--lesions", "realistic", "--tumour-free", "0"]) == 0  # fmt: skip
    datalist = json.loads((out / "datalist.json").read_text())
    assert datalist["options"]["lesions"] == "realistic" and datalist["options"]["tumour_free"] == 0.0
    entry = datalist["training"][0]
    summary = json.loads((out / entry["subject"] / "lesions.json").read_text())
    assert summary["lesion_model"] == "realistic" and summary["tumour_free"] is False and summary["lesions"] >= 1
    import nibabel as nib

    label = np.asarray(nib.load(out / entry["label"]).dataobj)
    flair = np.asarray(nib.load(out / entry["image"][3]).dataobj)
    assert label.shape == flair.shape == (96, 112, 96) and label.any()
    assert np.all(flair[flair.shape[0] // 2 :, :, :2] == 0)  # skull-stripped
