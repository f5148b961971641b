"""``make-data``: synthetic subjects written to disk for each task, with a MONAI datalist.

Every task writes ``<out>/sub-XXX/...`` files, ``<out>/datalist.json`` with ``training``,
``validation`` and ``test`` lists (paths relative to the datalist's folder, as MONAI's
``load_decathlon_datalist`` expects), and ``<out>/NOTICE.txt`` with the MNI152 copyright notice.

=================  ==========  ===============  ============================================================
task               voxel (mm)  grid (X, Y, Z)   datalist entry
=================  ==========  ===============  ============================================================
reconstruction     1.25        128 x 160 x 128  multicoil / singlecoil: fastMRI HDF5 of a 16-slice axial slab
denoising          1.0         160 x 192 x 160  image: clean T1w NIfTI
super_resolution   1.0         160 x 192 x 160  image: T1w NIfTI (the high-resolution reference)
synthesis          1.5         128 x 128 x 112  image: T1w NIfTI (axial slices are the samples)
translation        1.5         128 x 128 x 112  t1w, t2w: the same subject in both contrasts
segmentation       2.0          96 x 112 x  96  image: [t1, t1ce, t2, flair], label: BraTS labels (1, 2, 4);
                                                option ``lesions="realistic"``: realistic gliomas (issue 31)
registration       2.0          96 x 112 x  96  image: T1w, label: tissue labels, ddf: true deformation;
                                                top-level ``atlas`` (undeformed template) and ``test_pairs``
=================  ==========  ===============  ============================================================
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from .acquisition import simulate_kspace, volume_to_slices
from .atomic import save_nifti
from .fastmri_h5 import write_fastmri_h5
from .mni import MNI_NOTICE
from .randomise import DomainRandomisation
from .realistic_tumour import (
    TUNING_OPTIONS,
    RealisticLesions,
    acquire_realistic,
    lesions_from_options,
    make_realistic_tumour_subject,
)
from .scan_acquisition import add_rician_noise
from .subject import SyntheticSubject, make_subject

__all__ = [
    "TASKS",
    "TaskSpec",
    "check_options",
    "make_task_data",
    "make_task_subject",
    "reconstruction_kspace_seed",
    "reconstruction_slab",
    "split_counts",
]

_RECON_SLICES = 16
_RECON_CONTRASTS = {"t1w": "AXT1", "t2w": "AXT2", "flair": "AXFLAIR"}


@dataclass(frozen=True)
class TaskSpec:
    """How one task's subjects are made and written.

    Attributes:
        voxel_size: mm (isotropic).
        shape: grid (X, Y, Z).
        contrasts: contrasts simulated per subject.
        tumour: subjects carry a tumour.
        write: writes one subject's files into its folder and returns its datalist entry.
        description: one line for ``--help`` and summaries.
    """

    voxel_size: float
    shape: tuple[int, int, int]
    contrasts: tuple[str, ...]
    tumour: bool
    write: Callable[[SyntheticSubject, Path, Path, dict], dict]
    description: str


def _rel(path: Path, root: Path) -> str:
    return os.path.relpath(path, root)


def _nifti(array: np.ndarray, subject: SyntheticSubject, path: Path) -> Path:
    save_nifti(array, subject.affine, path)
    return path


def reconstruction_slab(subject: SyntheticSubject) -> tuple[np.ndarray, np.ndarray]:
    """The noiseless magnitude slab a reconstruction subject's k-space is simulated from.

    Returns:
        float32 (S, H, W) slices (16 axial slices around the largest brain section, fastMRI image layout), and the
        (4, 4) affine of the slab as an (X, Y, S) volume.
    """
    slices = volume_to_slices(subject.images[str(subject.parameters["recon_contrast"])])
    centre = int(np.argmax(volume_to_slices(subject.brain_mask.astype(np.float32)).sum(axis=(1, 2))))
    start = max(0, centre - _RECON_SLICES // 2)
    # affine of the slab as an (X, Y, S) volume: the subject's affine shifted to the first slice
    slab_affine = subject.affine @ np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, start], [0, 0, 0, 1]], float)
    return slices[start : start + _RECON_SLICES], slab_affine


def reconstruction_kspace_seed(subject: SyntheticSubject, num_coils: int) -> int:
    """The seed of :func:`~mri_monai.data.acquisition.simulate_kspace` for a subject's ``num_coils`` k-space."""
    return subject.seed * 7 + num_coils


def _random_acquisition(
    slab: np.ndarray, rng: np.random.Generator, coils_range: tuple[int, int]
) -> tuple[int, tuple, dict[str, float]]:
    """A randomised acquisition of a slab: the number of coils, the zero padding of the field of view (up to 1.2x, or
    2x readout oversampling along H for one slab in ten), and the ``simulate_kspace`` coil array distance and
    background-phase amplitude."""
    height, width = slab.shape[-2:]
    factor_h = 2.0 if rng.random() < 0.1 else rng.uniform(1.0, 1.2)
    pad_h = 2 * int(round(height * (factor_h - 1.0) / 2))
    pad_w = 2 * int(round(width * (rng.uniform(1.0, 1.2) - 1.0) / 2))
    pad = ((0, 0), (pad_h // 2, pad_h // 2), (pad_w // 2, pad_w // 2))
    coils = int(rng.integers(coils_range[0], coils_range[1] + 1))
    array = {"coil_distance": float(rng.uniform(1.2, 2.0)), "max_phase": float(rng.uniform(0.0, np.pi))}
    return coils, pad, array


def _write_reconstruction(subject: SyntheticSubject, folder: Path, root: Path, options: dict) -> dict:
    contrast = str(subject.parameters["recon_contrast"])
    slab, slab_affine = reconstruction_slab(subject)
    acquisition = "RANDOM" if subject.parameters.get("randomised") else _RECON_CONTRASTS[contrast]
    entry = {"subject": folder.name, "acquisition": acquisition}
    snr = float(options.get("snr", 40.0))
    coils, array = int(options.get("coils", 8)), {}
    if subject.parameters.get("randomised"):
        coils_range = tuple(int(c) for c in options.get("coils_range", (4, 24)))
        coils, pad, array = _random_acquisition(slab, np.random.default_rng(subject.seed + 31), coils_range)  # type: ignore[arg-type]
        slab = np.pad(slab, pad)
        (_, _), (_, pad_bottom), (pad_left, _) = pad
        # H runs along -Y: rows added at the bottom of the slices move the volume's first Y voxel
        slab_affine = slab_affine @ np.array(
            [[1, 0, 0, -pad_left], [0, 1, 0, -pad_bottom], [0, 0, 1, 0], [0, 0, 0, 1]], float
        )
    for key, num_coils in (("multicoil", coils), ("singlecoil", 1)):
        acq = simulate_kspace(
            slab,
            num_coils,
            None if np.isinf(snr) else snr,
            seed=reconstruction_kspace_seed(subject, num_coils),
            **array,
        )
        path = folder / f"kspace_{key}.h5"
        write_fastmri_h5(
            path,
            acq.kspace,
            acq.reconstruction_rss,
            acquisition=acquisition,
            patient_id=folder.name,
            extra_attrs={"affine": slab_affine, "noise_sigma": acq.sigma, "synthetic": "MNI152-derived"},
        )
        entry[key] = _rel(path, root)
    return entry


def _write_single_contrast(subject: SyntheticSubject, folder: Path, root: Path, options: dict) -> dict:
    return {"subject": folder.name, "image": _rel(_nifti(subject.images["t1w"], subject, folder / "t1w.nii.gz"), root)}


def _write_translation(subject: SyntheticSubject, folder: Path, root: Path, options: dict) -> dict:
    entry = {"subject": folder.name}
    for c in ("t1w", "t2w"):
        entry[c] = _rel(_nifti(subject.images[c], subject, folder / f"{c}.nii.gz"), root)
    return entry


def _write_segmentation(subject: SyntheticSubject, folder: Path, root: Path, options: dict) -> dict:
    names = {"t1w": "t1", "t1ce": "t1ce", "t2w": "t2", "flair": "flair"}
    level = float(options.get("noise", 0.03))
    lesions = lesions_from_options(options)
    if lesions is None:
        rng = np.random.default_rng(subject.seed + 17)
        acquired = {c: add_rician_noise(subject.images[c], subject.brain_mask, level, rng) for c in names}
    else:
        acquired = acquire_realistic(subject, level, lesions)
        summary = {k: v for k, v in subject.parameters.items() if k not in ("recon_contrast", "randomised")}
        (folder / "lesions.json").write_text(json.dumps(summary, indent=2))
    images = [_rel(_nifti(acquired[c], subject, folder / f"{n}.nii.gz"), root) for c, n in names.items()]
    label = _nifti(np.asarray(subject.tumour_labels, dtype=np.uint8), subject, folder / "seg.nii.gz")
    return {"subject": folder.name, "image": images, "label": _rel(label, root)}


def _write_registration(subject: SyntheticSubject, folder: Path, root: Path, options: dict) -> dict:
    return {
        "subject": folder.name,
        "image": _rel(_nifti(subject.images["t1w"], subject, folder / "t1w.nii.gz"), root),
        "label": _rel(_nifti(subject.tissue_labels, subject, folder / "tissue_labels.nii.gz"), root),
        "ddf": _rel(_nifti(np.moveaxis(subject.ddf, 0, -1), subject, folder / "ddf.nii.gz"), root),
    }


TASKS: dict[str, TaskSpec] = {
    "reconstruction": TaskSpec(
        1.25, (128, 160, 128), ("t1w", "t2w", "flair"), False, _write_reconstruction,
        "multi-coil and single-coil k-space (fastMRI HDF5) of axial slabs",
    ),
    "denoising": TaskSpec(
        1.0, (160, 192, 160), ("t1w",), False, _write_single_contrast, "clean 1 mm T1w volumes"
    ),
    "super_resolution": TaskSpec(
        1.0, (160, 192, 160), ("t1w",), False, _write_single_contrast, "1 mm T1w volumes (high-resolution references)"
    ),
    "synthesis": TaskSpec(
        1.5, (128, 128, 112), ("t1w",), False, _write_single_contrast, "1.5 mm T1w volumes for axial slices"
    ),
    "translation": TaskSpec(
        1.5, (128, 128, 112), ("t1w", "t2w"), False, _write_translation, "paired T1w and T2w volumes"
    ),
    "segmentation": TaskSpec(
        2.0, (96, 112, 96), ("t1w", "t1ce", "t2w", "flair"), True, _write_segmentation,
        "four contrasts with a tumour and BraTS labels",
    ),
    "registration": TaskSpec(
        2.0, (96, 112, 96), ("t1w",), False, _write_registration,
        "T1w, tissue labels and the true deformation; plus the atlas",
    ),
}  # fmt: skip


def check_options(options: dict[str, Any], task: str | None = None, randomised: bool = False) -> None:
    """Check ``make-data`` task options (see :func:`make_task_data`) before anything is written.

    Args:
        options: the task options.
        task: the task they are for (None: any); the lesion options apply to ``segmentation`` only.
        randomised: the subjects are domain-randomised (which the realistic lesion model does not combine with).

    Raises:
        ValueError: an unknown option, a non-positive SNR or number of coils, a bad coil range, a noise level
            outside [0, 1), an unknown lesion model, lesion tuning without the realistic model or out of range, a
            realistic lesion model for another task than segmentation or with domain randomisation.
    """
    known = {"coils", "snr", "coils_range", "noise", "lesions", *TUNING_OPTIONS}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(f"unknown option(s) {unknown}; choose from {', '.join(sorted(known))}")
    if "snr" in options and not float(options["snr"]) > 0:
        raise ValueError(f"snr must be positive (inf for noiseless k-space), got {options['snr']}")
    if "coils" in options and int(options["coils"]) < 1:
        raise ValueError(f"coils must be at least 1, got {options['coils']}")
    if "coils_range" in options:
        low, high = (int(c) for c in options["coils_range"])
        if not 2 <= low <= high:
            raise ValueError(f"coils_range must be (low, high) with 2 <= low <= high, got {options['coils_range']}")
    if "noise" in options and not 0 <= float(options["noise"]) < 1:
        raise ValueError(f"noise must be in [0, 1), got {options['noise']}")
    if lesions_from_options(options) is not None:
        if task not in (None, "segmentation"):
            raise ValueError(f"lesions='realistic' applies to the segmentation task only, not {task}")
        if randomised:
            raise ValueError("lesions='realistic' draws its own intensities and acquisition; drop the randomisation")


def split_counts(n: int, validation_fraction: float = 0.1, test_fraction: float = 0.2) -> tuple[int, int, int]:
    """Numbers of (training, validation, test) subjects out of ``n``: at least one of each when n >= 3."""
    if n < 1:
        raise ValueError(f"need at least one subject, got {n}")
    if n < 3:
        return n, 0, 0
    n_test = max(1, round(n * test_fraction))
    n_val = max(1, round(n * validation_fraction))
    return n - n_val - n_test, n_val, n_test


def _prepare_folder(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out}: exists and is not a folder")
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{out}: folder is not empty; pass overwrite=True (--overwrite) to replace it")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def make_task_subject(
    task: str,
    index: int,
    subjects: int,
    seed: int = 0,
    randomisation: DomainRandomisation | None = None,
    lesions: RealisticLesions | None = None,
) -> SyntheticSubject:
    """Subject ``index`` of ``make_task_data(task, ..., subjects, seed)``, made again (the same images and seeds).

    Args:
        task: one of :data:`TASKS`.
        index: the subject's number (``sub-{index:03d}``), below ``subjects``.
        subjects, seed: as given to :func:`make_task_data`.
        randomisation: as given to :func:`make_task_data`.
        lesions: segmentation: the realistic lesion model's settings
            (:func:`~mri_monai.data.realistic_tumour.lesions_from_options` of the options given to
            :func:`make_task_data`), None for the simple tumour. The subject is clean: the writer adds the acquisition.
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose from {sorted(TASKS)}")
    if not 0 <= index < subjects:
        raise ValueError(f"subject index {index} is outside 0..{subjects - 1}")
    spec = TASKS[task]
    recon_contrasts = np.random.default_rng(seed).choice(sorted(_RECON_CONTRASTS), size=subjects)
    if lesions is not None:
        if task != "segmentation" or randomisation is not None:
            raise ValueError("the realistic lesion model is for segmentation subjects without domain randomisation")
        return make_realistic_tumour_subject(seed * 1000 + index, spec.voxel_size, spec.shape, lesions)
    contrasts = spec.contrasts
    if task == "reconstruction" and randomisation is not None:  # only the slab's contrast is used
        contrasts = (str(recon_contrasts[index]),)
    subject = make_subject(
        seed * 1000 + index,
        spec.voxel_size,
        spec.shape,
        contrasts=contrasts,
        tumour=spec.tumour,
        randomisation=randomisation,
    )
    subject.parameters["recon_contrast"] = str(recon_contrasts[index])
    return subject


def make_task_data(
    task: str,
    out: str | os.PathLike,
    subjects: int = 10,
    seed: int = 0,
    overwrite: bool = False,
    progress: bool = True,
    randomisation: DomainRandomisation | None = None,
    **options: Any,
) -> Path:
    """Write ``subjects`` synthetic subjects for ``task`` into ``out`` and return the datalist path.

    Args:
        task: one of :data:`TASKS`.
        out: output folder; must be empty or absent unless ``overwrite``.
        subjects: number of subjects (split into training/validation/test by :func:`split_counts`).
        seed: base seed; subject ``i`` uses ``seed * 1000 + i`` (so a dataset is reproducible).
        overwrite: replace a non-empty ``out``.
        progress: show a tqdm progress bar.
        randomisation: domain randomisation of the subjects (:class:`~mri_monai.data.randomise.DomainRandomisation`);
            for reconstruction it also randomises each subject's acquisition: coils (``coils_range``), coil array,
            background phase, field of view (zero padding up to 1.2x, or 2x readout oversampling for one subject in
            ten); the acquisition label is then ``RANDOM``.
        options: task options, checked by :func:`check_options` (reconstruction: ``coils`` (8), ``snr`` (40; ``inf``
            writes noiseless k-space, for noise drawn during training), ``coils_range`` ((4, 24), randomised data);
            segmentation: ``noise`` (0.03, Rician noise as a fraction of each contrast's 99th brain percentile),
            ``lesions`` (``"simple"``, the default: one concentric tumour per subject; ``"realistic"``: the lesion model
            of :mod:`~mri_monai.data.realistic_tumour`, with a noise level per subject within a factor 2 of ``noise``,
            bias fields, thick slices and misregistration, and a ``lesions.json`` of its draws per subject), and with
            it ``tumour_free`` (0.1, probability of a subject without tumour) and ``no_enhancement`` (0.25,
            probability of a lesion without enhancing part)).

    Raises:
        ValueError: an unknown task or a bad option value, before anything is written.

    The data are written into ``<out>.partial`` first and moved into place when complete.
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose from {sorted(TASKS)}")
    spec = TASKS[task]
    check_options(options, task, randomisation is not None)
    lesions = lesions_from_options(options)
    n_train, n_val, _ = split_counts(subjects)
    out = Path(out)
    _prepare_folder(out, overwrite)
    work = out.with_name(out.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    entries = []
    started = time.time()
    try:
        for i in tqdm(range(subjects), desc=f"make-data {task}", disable=not progress):
            subject = make_task_subject(task, i, subjects, seed, randomisation, lesions)
            folder = work / f"sub-{i:03d}"
            folder.mkdir()
            entries.append(spec.write(subject, folder, work, options))
        datalist: dict = {
            "task": task,
            "description": f"SYNTHETIC {spec.description}{', domain-randomised' if randomisation else ''}, "
            "derived from the MNI152 2009a template (see NOTICE.txt)",
            "randomisation": None if randomisation is None else dataclasses.asdict(randomisation),
            "options": {k: v if not isinstance(v, float) or np.isfinite(v) else str(v) for k, v in options.items()},
            "voxel_size_mm": spec.voxel_size,
            "seed": seed,
            "training": entries[:n_train],
            "validation": entries[n_train : n_train + n_val],
            "test": entries[n_train + n_val :],
        }
        if task == "registration":
            atlas = make_subject(
                10**6 + seed,
                spec.voxel_size,
                spec.shape,
                ("t1w",),
                deform=False,
                bias_strength=0.0,
                relaxation_jitter=0.0,
            )
            folder = work / "atlas"
            folder.mkdir()
            datalist["atlas"] = _write_registration(atlas, folder, work, options)
            test = datalist["test"]
            datalist["test_pairs"] = [
                {"moving": test[k], "fixed": test[(k + 1) % len(test)]} for k in range(len(test)) if len(test) > 1
            ]
        (work / "datalist.json").write_text(json.dumps(datalist, indent=2))
        (work / "NOTICE.txt").write_text(MNI_NOTICE)
        if out.exists():
            out.rmdir()
        work.rename(out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    if progress:
        size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
        print(f"{task}: {subjects} subjects in {out} ({size / 1e6:.1f} MB, {time.time() - started:.1f} s)")
    return out / "datalist.json"


def describe(tasks: Sequence[str] = tuple(TASKS)) -> str:
    """A short table of the tasks for the command line."""
    return "\n".join(f"  {t:<17} {TASKS[t].voxel_size} mm {TASKS[t].shape}: {TASKS[t].description}" for t in tasks)
