"""A real brain laid out as the training data: a T1w volume on a task's grid, and its k-space at a white-matter SNR.

The real validation brain is Colin27 (``ch2bet.nii.gz`` of Debian's ``mricron-data``: the skull-stripped 1 mm
T1-weighted average of 27 scans of one person). It checks the shipped weights and is never used in training. The
functions here take any skull-stripped T1w NIfTI (background 0):

- :func:`real_brain_subject` resamples it to a :data:`~mri_monai.data.tasks.TASKS` grid (voxel size, then a crop or
  pad of the grid centred on the brain, as the synthetic subjects are placed) and finds the white matter;
- :func:`write_real_brain_kspace` writes the multi-coil and single-coil k-space of its reconstruction slab
  (:func:`~mri_monai.data.tasks.reconstruction_slab`: 16 axial slices around the largest brain section) in the
  fastMRI layout the training data have (:func:`~mri_monai.data.acquisition.simulate_kspace`: smooth background
  phase, simulated coil sensitivities, complex Gaussian k-space noise), with the noise set by the image SNR in white
  matter: ``sigma`` (of each real and imaginary part) = mean white-matter magnitude / SNR.

White matter is the brightest of three intensity classes of the brain voxels (voxels > 0), split by the two
thresholds of multi-level Otsu (``skimage.filters.threshold_multiotsu``, three classes: CSF, grey matter, white
matter; in a T1w image white matter is the brightest tissue).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from monai.transforms import BorderPad, LoadImage, Orientation, Spacing, SpatialCrop
from skimage.filters import threshold_multiotsu

from .acquisition import simulate_kspace
from .fastmri_h5 import write_fastmri_h5
from .subject import SyntheticSubject
from .tasks import TASKS, reconstruction_kspace_seed, reconstruction_slab

__all__ = ["load_on_grid", "real_brain_subject", "simulation_snr", "tissue_thresholds", "write_real_brain_kspace"]

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


def real_brain_subject(path: str | os.PathLike, task: str, seed: int = 27) -> SyntheticSubject:
    """A skull-stripped T1w volume on the grid of ``task`` (:data:`~mri_monai.data.tasks.TASKS`), as a subject.

    The subject holds the image under ``images["t1w"]``, tissue labels from :func:`tissue_thresholds`
    (:data:`~mri_monai.data.subject.TISSUE_LABELS`: 1 CSF, 2 GM, 3 WM by intensity class), the brain mask (voxels
    > 0), no deformation and no tissue fractions, and in ``parameters`` the ``recon_contrast`` (``"t1w"``, for
    :func:`~mri_monai.data.tasks.reconstruction_slab`) and the ``white_matter_threshold``.

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
        fractions={},
        brain_mask=(image > 0).astype(np.uint8),
        ddf=np.broadcast_to(np.zeros((1, 1, 1, 1), np.float32), (3, *image.shape)),
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
