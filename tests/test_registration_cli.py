"""``mri-monai compare-registration``: its outputs on a generated pair, and bad input (clear error naming the file,
exit status 2, nothing written)."""

from __future__ import annotations

import csv
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from mri_monai.cli import main
from mri_monai.data import make_subject
from mri_monai.errors import InputError
from mri_monai.registration import load_pair

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "bundles" / "brain_mri_voxelmorph_registration"


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """A generated 4 mm pair (atlas moving, subject fixed) with labels, and broken variants, as NIfTI files."""
    folder = tmp_path_factory.mktemp("pair")
    atlas = make_subject(10**6, 4.0, (48, 56, 48), ("t1w",), deform=False, bias_strength=0.0, relaxation_jitter=0.0)
    subject = make_subject(77, 4.0, (48, 56, 48), ("t1w",))
    paths = {}

    def save(name: str, array: np.ndarray, affine: np.ndarray = subject.affine) -> None:
        paths[name] = folder / f"{name}.nii.gz"
        nib.save(nib.Nifti1Image(array, affine), paths[name])

    save("fixed", subject.images["t1w"])
    save("fixed_labels", subject.tissue_labels)
    save("moving", atlas.images["t1w"], atlas.affine)
    save("moving_labels", atlas.tissue_labels, atlas.affine)
    nan = subject.images["t1w"].copy()
    nan[10, 10, 10] = np.nan
    save("nan", nan)
    save("constant", np.full((48, 56, 48), 3.0, np.float32))
    save("slice_2d", subject.images["t1w"][:, :, 24])
    save("labels_wrong_shape", subject.tissue_labels[:40])
    save("labels_fractional", subject.tissue_labels.astype(np.float32) + 0.5)
    return paths


def cli(files: dict[str, Path], out: Path, *extra: str, **replace: str) -> int:
    args = {"fixed": str(files["fixed"]), "moving": str(files["moving"]), **replace}
    argv = ["compare-registration", "--fixed", args["fixed"], "--moving", args["moving"], "--out", str(out)]
    return main(argv + ["--bundle", str(BUNDLE), *extra])


@pytest.mark.parametrize(
    "replace, culprit, message",
    [
        ({"moving": "missing"}, "missing", "does not exist"),
        ({"moving": "nan"}, "nan", "NaN"),
        ({"fixed": "constant"}, "constant", "constant"),
        ({"moving": "slice_2d"}, "slice_2d", "expected a 3D image, got 2D"),
    ],
)
def test_bad_images_fail_naming_the_file_and_write_nothing(files, tmp_path, capsys, replace, culprit, message):
    given = {k: str(files.get(v, tmp_path / "missing.nii.gz")) for k, v in replace.items()}
    out = tmp_path / "out"
    assert cli(files, out, "--methods", "none", **given) == 2
    err = capsys.readouterr().err
    assert culprit in err and message in err, err
    assert not out.exists()


@pytest.mark.parametrize(
    "labels, message",
    [("labels_wrong_shape", "does not match its image"), ("labels_fractional", "non-negative integers")],
)
def test_label_maps_that_do_not_fit_their_image_are_refused(files, tmp_path, capsys, labels, message):
    out = tmp_path / "out"
    code = cli(files, out, "--fixed-labels", str(files[labels]), "--moving-labels", str(files["moving_labels"]),
               "--methods", "none")  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert labels in err and message in err, err
    assert not out.exists()


def test_one_label_map_alone_is_refused(files):
    with pytest.raises(InputError, match="for both images"):
        load_pair(files["fixed"], files["moving"], fixed_labels=files["fixed_labels"])


def test_unknown_method_is_refused(files, tmp_path, capsys):
    assert cli(files, tmp_path / "out", "--methods", "none,ants") == 2
    assert "ants" in capsys.readouterr().err


def test_compare_writes_csv_table_and_figure(files, tmp_path, capsys):
    out = tmp_path / "out"
    code = cli(files, out, "--fixed-labels", str(files["fixed_labels"]), "--moving-labels",
               str(files["moving_labels"]), "--methods", "none,elastix_affine,network", "--io-steps", "2")  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["comparison.csv", "comparison.md", "comparison.png"]
    rows = {r["method"]: r for r in csv.DictReader((out / "comparison.csv").open())}
    assert list(rows) == ["none", "elastix_affine", "network"]
    assert float(rows["elastix_affine"]["dice_mean"]) > float(rows["none"]["dice_mean"])
    assert float(rows["none"]["folding_percent"]) == 0.0 and float(rows["none"]["std_log_jacobian"]) == 0.0
    assert {"dice_csf", "dice_gm", "dice_wm", "hd95_mean", "seconds"} <= set(rows["none"])
    table = (out / "comparison.md").read_text()
    assert "| elastix_affine |" in table and "Dice GM" in table
    assert (out / "comparison.png").stat().st_size > 10_000
