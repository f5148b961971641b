"""A real brain laid out as the training data: a T1w volume on a task's grid, and its k-space at a white-matter SNR.

The real validation brain is Colin27 (``ch2bet.nii.gz`` of Debian's ``mricron-data``: the skull-stripped 1 mm
T1-weighted average of 27 scans of one person). It checks the shipped weights and is never used in training. The
functions here take any skull-stripped T1w NIfTI (background 0):

- :func:`real_brain_subject` resamples it to a :data:`~mri_monai.data.tasks.TASKS` grid (voxel size, then a crop or
  pad of the grid centred on the brain, as the synthetic subjects are placed), finds the white matter and estimates
  the tissue fractions (:func:`tissue_fractions`), so that the subject can also serve as the anatomy of simulated
  contrasts (e.g. :func:`~mri_monai.data.realistic_tumour.make_realistic_tumour_subject`'s ``anatomy``);
- :func:`write_real_brain_kspace` writes the multi-coil and single-coil k-space of its reconstruction slab
  (:func:`~mri_monai.data.tasks.reconstruction_slab`: 16 axial slices around the largest brain section) in the
  fastMRI layout the training data have (:func:`~mri_monai.data.acquisition.simulate_kspace`: smooth background
  phase, simulated coil sensitivities, complex Gaussian k-space noise), with the noise set by the image SNR in white
  matter: ``sigma`` (of each real and imaginary part) = mean white-matter magnitude / SNR;
- :func:`write_real_brain_segmentation` writes tumour cases on its anatomy: the realistic lesion model
  (:mod:`~mri_monai.data.realistic_tumour`) drawn into its tissue fractions, its four contrasts simulated from them
  and acquired as ``make-data segmentation --lesions realistic`` does, in the BraTS layout with a datalist.

White matter is the brightest of three intensity classes of the brain voxels (voxels > 0), split by the two
thresholds of multi-level Otsu (``skimage.filters.threshold_multiotsu``, three classes: CSF, grey matter, white
matter; in a T1w image white matter is the brightest tissue).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from monai.transforms import BorderPad, LoadImage, Orientation, Spacing, SpatialCrop
from skimage.filters import threshold_multiotsu

from .acquisition import simulate_kspace
from .fastmri_h5 import write_fastmri_h5
from .realistic_tumour import RealisticLesions, make_realistic_tumour_subject
from .subject import SyntheticSubject
from .tasks import TASKS, reconstruction_kspace_seed, reconstruction_slab

__all__ = [
    "load_on_grid",
    "real_brain_subject",
    "simulation_snr",
    "tissue_fractions",
    "tissue_thresholds",
    "write_real_brain_kspace",
    "write_real_brain_segmentation",
]

#: the contrast name the real T1w image is stored under (a subject's ``images`` key).
CONTRAST = "t1w"


def load_on_grid(
    path: str | os.PathLike, voxel_size: float, shape: tuple[int, int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """A skull-stripped volume resampled (bilinear) to RAS ``voxel_size`` mm voxels, cropped or padded to ``shape``.

    The crop or pad is centred on the bounding box of the brain (voxels > 0), so the whole brain is kept when it fits.

    Args:
        path: NIfTI file (any orientation; background 0).
        voxel_size: isotropic voxel size in mm.
        shape: output grid (X, Y, Z).

    Returns:
        float32 (X, Y, Z) image (negative interpolation overshoot set to 0) and its (4, 4) RAS affine.
    """
    image = LoadImage(image_only=True, ensure_channel_first=True, dtype=np.float32)(str(path))
    image = Orientation(axcodes="RAS")(image)
    if not np.allclose(image.pixdim[:3].numpy(), voxel_size):
        image = Spacing(pixdim=(voxel_size,) * 3, mode="bilinear", padding_mode="zeros")(image)
    brain = np.argwhere(image[0].numpy() > 0)
    centre = (brain.min(axis=0) + brain.max(axis=0)) / 2.0
    image = BorderPad(spatial_border=list(shape))(image)
    image = SpatialCrop(roi_center=[int(round(c)) + s for c, s in zip(centre, shape, strict=True)], roi_size=shape)(
        image
    )
    return np.clip(image[0].numpy(), 0.0, None).astype(np.float32), image.affine.numpy().astype(np.float64)


def tissue_thresholds(image: np.ndarray) -> tuple[float, float]:
    """The two multi-level Otsu thresholds of the brain voxels (> 0) of a T1w image: (CSF | GM, GM | WM).

    Args:
        image: (X, Y, Z) skull-stripped T1w image.
    """
    low, high = threshold_multiotsu(image[image > 0], classes=3)
    return float(low), float(high)


def tissue_fractions(image: np.ndarray) -> dict[str, np.ndarray]:
    """CSF, grey-matter and white-matter fractions of a skull-stripped T1w image, by partial volume between the means
    of its three intensity classes (:func:`tissue_thresholds`).

    A brain voxel at or below the CSF class mean is all CSF, at or above the white-matter mean all white matter; in
    between, its intensity is read as a linear mix of the two neighbouring class means (CSF and grey matter, or grey
    and white matter). Outside the brain (voxels <= 0) every fraction is 0.

    Args:
        image: (X, Y, Z) skull-stripped T1w image (background 0).

    Returns:
        ``{"csf", "gm", "wm"}`` -> float32 (X, Y, Z) fractions, summing to 1 in the brain.
    """
    brain = image > 0
    values = image[brain]
    classes = np.digitize(values, tissue_thresholds(image))
    means = [float(values[classes == c].mean()) for c in range(3)]
    # position on the CSF (0) - GM (1) - WM (2) axis, piecewise linear between the class means
    position = np.interp(image, means, [0.0, 1.0, 2.0])
    fractions = {
        "csf": np.clip(1.0 - position, 0.0, 1.0),
        "gm": 1.0 - np.abs(position - 1.0),
        "wm": np.clip(position - 1.0, 0.0, 1.0),
    }
    return {name: np.where(brain, f, 0.0).astype(np.float32) for name, f in fractions.items()}


def real_brain_subject(path: str | os.PathLike, task: str, seed: int = 27) -> SyntheticSubject:
    """A skull-stripped T1w volume on the grid of ``task`` (:data:`~mri_monai.data.tasks.TASKS`), as a subject.

    The subject holds the image under ``images["t1w"]``, tissue labels from :func:`tissue_thresholds`
    (:data:`~mri_monai.data.subject.TISSUE_LABELS`: 1 CSF, 2 GM, 3 WM by intensity class), the tissue fractions of
    :func:`tissue_fractions`, the brain mask (voxels > 0), no deformation, and in ``parameters`` the
    ``recon_contrast`` (``"t1w"``, for :func:`~mri_monai.data.tasks.reconstruction_slab`) and the
    ``white_matter_threshold``.

    Args:
        path: skull-stripped T1w NIfTI (background 0), e.g. Colin27's ``ch2bet.nii.gz``.
        task: a :data:`~mri_monai.data.tasks.TASKS` name; its voxel size and grid (X, Y, Z) are used.
        seed: the subject's seed (its k-space seeds derive from it as the synthetic subjects' do).
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose from {sorted(TASKS)}")
    spec = TASKS[task]
    image, affine = load_on_grid(path, spec.voxel_size, spec.shape)
    low, high = tissue_thresholds(image)
    labels = np.where(image > 0, 1 + np.digitize(image, [low, high]), 0).astype(np.uint8)
    return SyntheticSubject(
        images={CONTRAST: image},
        tissue_labels=labels,
        fractions=tissue_fractions(image),
        brain_mask=(image > 0).astype(np.uint8),
        ddf=np.zeros((3, *image.shape), np.float32),
        affine=affine,
        seed=seed,
        parameters={"recon_contrast": CONTRAST, "white_matter_threshold": high},
    )


def simulation_snr(slab: np.ndarray, white_matter: np.ndarray, white_matter_snr: float) -> float:
    """The ``snr`` of :func:`~mri_monai.data.acquisition.simulate_kspace` that gives ``white_matter_snr``.

    ``simulate_kspace`` sets ``sigma`` = mean of the non-zero pixels / ``snr``; this returns the ``snr`` for which
    ``sigma`` = mean white-matter magnitude / ``white_matter_snr``.

    Args:
        slab: float (S, H, W) noiseless magnitude slices.
        white_matter: bool (S, H, W) white-matter pixels.
        white_matter_snr: the wanted image SNR in white matter (> 0).
    """
    if white_matter_snr <= 0 or not white_matter.any():
        raise ValueError(f"need a positive SNR and some white matter, got {white_matter_snr}, {white_matter.sum()}")
    sigma = float(slab[white_matter].mean()) / white_matter_snr
    return float(slab[slab > 0].mean()) / sigma


def write_real_brain_kspace(
    subject: SyntheticSubject, folder: str | os.PathLike, white_matter_snr: float, coils: int = 8
) -> tuple[dict[str, Path], np.ndarray]:
    """Multi-coil and single-coil k-space of the subject's reconstruction slab at an image SNR in white matter.

    Writes ``<folder>/kspace_multicoil.h5`` (``coils`` coils) and ``<folder>/kspace_singlecoil.h5`` in the layout of
    ``make-data reconstruction`` (fastMRI HDF5 with the fully sampled noisy ``reconstruction_rss``, attributes
    ``affine`` and ``noise_sigma``), with the noise ``sigma`` = mean white-matter magnitude of the slab /
    ``white_matter_snr`` (white matter: at or above ``subject.parameters["white_matter_threshold"]``). The coil maps,
    background phase and noise are seeded by the subject's seed as in ``make-data``.

    Args:
        subject: from :func:`real_brain_subject` with task ``"reconstruction"``.
        folder: output folder (created).
        white_matter_snr: image SNR in white matter.
        coils: number of simulated coils of the multi-coil file.

    Returns:
        ``{"multicoil": path, "singlecoil": path}`` and the noiseless float32 (S, H, W) slab (the magnitude of the
        object: the reference a reconstruction is scored against).
    """
    slab, slab_affine = reconstruction_slab(subject)
    snr = simulation_snr(slab, slab >= subject.parameters["white_matter_threshold"], white_matter_snr)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for key, num_coils in (("multicoil", coils), ("singlecoil", 1)):
        acq = simulate_kspace(slab, num_coils, snr, seed=reconstruction_kspace_seed(subject, num_coils))
        paths[key] = write_fastmri_h5(
            folder / f"kspace_{key}.h5",
            acq.kspace,
            acq.reconstruction_rss,
            acquisition="AXT1",
            patient_id=folder.name,
            extra_attrs={"affine": slab_affine, "noise_sigma": acq.sigma, "white_matter_snr": white_matter_snr},
            overwrite=True,
        )
    return paths, slab


def write_real_brain_segmentation(
    path: str | os.PathLike, folder: str | os.PathLike, seeds: Sequence[int], noise: float = 0.03
) -> Path:
    """Tumour cases in the anatomy of a real brain, one per seed, with their datalist (all in its ``test`` split).

    The brain is put on the segmentation grid (:func:`real_brain_subject`); each seed draws a lesion
    (:func:`~mri_monai.data.realistic_tumour.make_realistic_tumour_subject` with ``anatomy``: never tumour-free),
    its mass effect on the real tissue fractions, mimics and the four contrasts; the segmentation task's writer adds
    the acquisition of ``make-data segmentation --lesions realistic --noise noise`` and writes ``case-<seed>/``
    (``t1``, ``t1ce``, ``t2``, ``flair``, ``seg`` NIfTI and ``lesions.json``). The anatomy is real; the contrasts
    and lesions are simulated (a real brain's T1w alone holds no T1ce, T2 or FLAIR).

    Args:
        path: skull-stripped T1w NIfTI (background 0), e.g. Colin27's ``ch2bet.nii.gz``.
        folder: output folder (created).
        seeds: one case per seed.
        noise: the central noise level of the acquisition (``make-data``'s ``--noise``).

    Returns:
        the datalist (``<folder>/datalist.json``).
    """
    anatomy = real_brain_subject(path, "segmentation")
    options = {"lesions": "realistic", "tumour_free": 0.0, "noise": noise}
    folder = Path(folder)
    entries = []
    for seed in seeds:
        subject = make_realistic_tumour_subject(seed, lesions=RealisticLesions(tumour_free=0.0), anatomy=anatomy)
        case = folder / f"case-{seed}"
        case.mkdir(parents=True, exist_ok=True)
        entries.append(TASKS["segmentation"].write(subject, case, folder, options))
    description = f"realistic lesions simulated in the anatomy of {Path(path).name} (real brain, simulated contrasts)"
    datalist = folder / "datalist.json"
    datalist.write_text(json.dumps({"description": description, "options": options, "test": entries}, indent=2))
    return datalist
