"""The fastMRI HDF5 layout, read and written, so that real fastMRI files and ours go through the same code.

A fastMRI volume file holds:

- ``kspace``: complex64, (slices, coils, H, W) for multi-coil or (slices, H, W) for single-coil data, with H the
  readout (ISMRMRD ``x``) and W the phase-encoding (ISMRMRD ``y``) direction;
- ``reconstruction_rss`` (multi-coil) or ``reconstruction_esc`` (single-coil): float32 (slices, H', W') target
  images, absent from test files;
- ``mask``: (W,) sampled phase-encoding lines, in test (undersampled) files only;
- ``ismrmrd_header``: the ISMRMRD XML header, from which fastMRI takes the encoded and reconstructed matrix sizes;
- attributes ``acquisition``, ``patient_id`` and, with a target, ``max`` and ``norm``.

Reference: Zbontar et al., "fastMRI: An Open Dataset and Benchmarks for Accelerated MRI", arXiv:1811.08839.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from mri_monai.data.atomic import atomic_output
from mri_monai.errors import InputError, check_finite

__all__ = [
    "ISMRMRD_NAMESPACE",
    "RECONSTRUCTION_KEYS",
    "FastMRIVolume",
    "ismrmrd_header",
    "read_fastmri_h5",
    "write_fastmri_h5",
    "write_submission_h5",
]

ISMRMRD_NAMESPACE = "http://www.ismrm.org/ISMRMRD"
#: datasets that may hold the target image, in the order they are looked up.
RECONSTRUCTION_KEYS = ("reconstruction_rss", "reconstruction_esc", "reconstruction")
#: Larmor frequency of 1H per tesla, in Hz (CODATA 2018: 42.577478518 MHz/T).
_GAMMA_1H_HZ_PER_T = 42.577478518e6


@dataclass
class FastMRIVolume:
    """One fastMRI volume file, read by :func:`read_fastmri_h5`.

    Attributes:
        kspace: complex64 (slices, coils, H, W) multi-coil or (slices, H, W) single-coil k-space.
        reconstruction: float32 (slices, H', W') target, or ``None`` when the file holds none.
        mask: (W,) sampling mask as stored, or ``None``.
        attrs: the file's HDF5 attributes (``acquisition``, ``max``, ``norm``, ``patient_id``...).
        header_xml: the ISMRMRD XML header, or ``None``.
        recon_size: (H', W') reconstruction matrix size from the header, or ``None`` without a header.
        path: the file read.
    """

    kspace: np.ndarray
    reconstruction: np.ndarray | None
    mask: np.ndarray | None
    attrs: dict[str, Any]
    header_xml: str | None
    recon_size: tuple[int, int] | None
    path: Path

    @property
    def multicoil(self) -> bool:
        """Whether the k-space has a coil dimension."""
        return self.kspace.ndim == 4


def _sub(parent: ET.Element, tag: str, text: Any = None) -> ET.Element:
    element = ET.SubElement(parent, tag)
    if text is not None:
        element.text = str(text)
    return element


def _space(parent: ET.Element, tag: str, shape: Sequence[int], fov_mm: Sequence[float]) -> None:
    space = _sub(parent, tag)
    matrix = _sub(space, "matrixSize")
    fov = _sub(space, "fieldOfView_mm")
    for axis, n, length in zip("xyz", (*shape, 1), fov_mm, strict=True):
        _sub(matrix, axis, int(n))
        _sub(fov, axis, f"{float(length):g}")


def ismrmrd_header(
    encoded_shape: Sequence[int],
    recon_shape: Sequence[int],
    fov_mm: Sequence[float],
    recon_fov_mm: Sequence[float] | None = None,
    num_slices: int = 1,
    field_strength_t: float = 3.0,
) -> str:
    """Build the ISMRMRD XML header of a Cartesian 2D multi-slice acquisition, as fastMRI files carry it.

    fastMRI's ``SliceDataset`` reads ``encoding/encodedSpace/matrixSize``, ``encoding/reconSpace/matrixSize`` and
    ``encoding/encodingLimits/kspace_encoding_step_1`` (``center``, ``maximum``) from it; the phase-encoding lines
    are taken as fully covered (minimum 0, maximum W - 1, centre W // 2), so that fastMRI pads nothing.

    Args:
        encoded_shape: (H, W) k-space matrix: readout (``x``) and phase-encoding (``y``) sizes.
        recon_shape: (H', W') reconstructed image matrix (``reconSpace``).
        fov_mm: (x, y, z) field of view of the encoded space in mm, z being the slice thickness.
        recon_fov_mm: field of view of the reconstructed image; by default the central crop of the encoded
            field of view with the same pixel size, as fastMRI's centre crop to ``recon_shape``.
        num_slices: number of slices (``encodingLimits/slice``).
        field_strength_t: main field in tesla (``systemFieldStrength_T``, and the 1H resonance frequency).

    Returns:
        the XML document as a string, in the ISMRMRD namespace (elements in the order of ``ismrmrd.xsd``).

    Example::

        xml = ismrmrd_header((640, 368), (320, 320), (280.0, 161.0, 3.0), num_slices=36)
    """
    h, w = (int(n) for n in encoded_shape)
    rh, rw = (int(n) for n in recon_shape)
    if recon_fov_mm is None:
        recon_fov_mm = (fov_mm[0] * rh / h, fov_mm[1] * rw / w, fov_mm[2])
    root = ET.Element("ismrmrdHeader", xmlns=ISMRMRD_NAMESPACE)
    _sub(_sub(root, "acquisitionSystemInformation"), "systemFieldStrength_T", f"{field_strength_t:g}")
    _sub(_sub(root, "experimentalConditions"), "H1resonanceFrequency_Hz", round(_GAMMA_1H_HZ_PER_T * field_strength_t))
    encoding = _sub(root, "encoding")
    _space(encoding, "encodedSpace", (h, w), fov_mm)
    _space(encoding, "reconSpace", (rh, rw), recon_fov_mm)
    limits = _sub(encoding, "encodingLimits")
    for tag, n in (("kspace_encoding_step_1", w), ("slice", num_slices)):
        limit = _sub(limits, tag)
        _sub(limit, "minimum", 0)
        _sub(limit, "maximum", n - 1)
        _sub(limit, "center", n // 2)
    _sub(encoding, "trajectory", "cartesian")
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def _recon_size(header_xml: str, source: Path) -> tuple[int, int] | None:
    try:
        root = ET.fromstring(header_xml)
    except ET.ParseError as e:
        raise InputError(source, f"ismrmrd_header is not valid XML ({e})") from None
    ns = {"m": ISMRMRD_NAMESPACE}
    x = root.find(".//m:encoding/m:reconSpace/m:matrixSize/m:x", ns)
    y = root.find(".//m:encoding/m:reconSpace/m:matrixSize/m:y", ns)
    if x is None or y is None:
        return None
    try:
        return int(x.text or ""), int(y.text or "")
    except ValueError:
        problem = f"ismrmrd_header has a non-integer reconSpace matrixSize ({x.text}, {y.text})"
        raise InputError(source, problem) from None


def _as_text(value: Any) -> str:
    """The text of a string dataset, stored as bytes, str or a one-element array of either."""
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(-1)[0]
    return value.decode() if isinstance(value, bytes) else str(value)


def _attr_value(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _check_kspace(kspace: np.ndarray, source: str | os.PathLike) -> None:
    if not np.iscomplexobj(kspace):
        raise InputError(source, f"kspace must be complex, got {kspace.dtype}")
    if kspace.ndim not in (3, 4):
        raise InputError(
            source, f"kspace must be (slices, coils, H, W) or (slices, H, W), got {kspace.ndim}D shape {kspace.shape}"
        )
    check_finite(kspace, source, "kspace")


def _check_mask(mask: np.ndarray, width: int, source: str | os.PathLike) -> None:
    if mask.size != width:
        raise InputError(source, f"mask has {mask.size} entries but the k-space width (phase encoding) is {width}")


def _check_reconstruction(recon: np.ndarray, kspace: np.ndarray, source: str | os.PathLike, key: str) -> None:
    if recon.ndim != 3 or recon.shape[0] != kspace.shape[0]:
        raise InputError(source, f"{key} must be (slices={kspace.shape[0]}, H, W), got shape {recon.shape}")
    check_finite(recon, source, key)


def read_fastmri_h5(path: str | os.PathLike) -> FastMRIVolume:
    """Read a fastMRI volume file (real fastMRI data or written by :func:`write_fastmri_h5`).

    Args:
        path: the ``.h5`` file.

    Returns:
        a :class:`FastMRIVolume` with complex64 k-space and, when present, the float32 target
        (``reconstruction_rss``, else ``reconstruction_esc``, else ``reconstruction``).

    Raises:
        InputError: the file is missing, unreadable, truncated or not HDF5; ``kspace`` is missing, not complex,
            not 3D or 4D, or holds NaN/Inf; the target does not match the slices; the mask length differs from
            the k-space width; the header is not valid XML.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file does not exist")
    try:
        with h5py.File(path, "r") as f:
            if "kspace" not in f:
                raise InputError(path, f"key 'kspace' is missing (keys: {sorted(f.keys())})")
            kspace = f["kspace"][()]
            recon_key = next((k for k in RECONSTRUCTION_KEYS if k in f), None)
            recon = None if recon_key is None else np.asarray(f[recon_key][()], dtype=np.float32)
            mask = f["mask"][()] if "mask" in f else None
            header = f["ismrmrd_header"][()] if "ismrmrd_header" in f else None
            attrs = {k: _attr_value(v) for k, v in f.attrs.items()}
    except (OSError, KeyError) as e:
        raise InputError(path, f"cannot be read as HDF5 (unreadable, truncated or not HDF5: {e})") from None
    _check_kspace(kspace, path)
    kspace = kspace.astype(np.complex64, copy=False)
    if recon is not None:
        _check_reconstruction(recon, kspace, path, str(recon_key))
    if mask is not None:
        _check_mask(mask, kspace.shape[-1], path)
    header_xml = None if header is None else _as_text(header)
    recon_size = None if header_xml is None else _recon_size(header_xml, path)
    return FastMRIVolume(kspace, recon, mask, attrs, header_xml, recon_size, path)


def write_fastmri_h5(
    path: str | os.PathLike,
    kspace: np.ndarray,
    reconstruction_rss: np.ndarray | None = None,
    *,
    acquisition: str,
    mask: np.ndarray | None = None,
    header_xml: str | None = None,
    patient_id: str | None = None,
    extra_attrs: dict[str, Any] | None = None,
    inputs: Iterable[str | os.PathLike] = (),
    overwrite: bool = False,
) -> Path:
    """Write a volume in the fastMRI HDF5 layout, atomically (see :func:`~mri_monai.data.atomic.atomic_output`).

    Args:
        path: the ``.h5`` file to write.
        kspace: complex (slices, coils, H, W) multi-coil or (slices, H, W) single-coil k-space, stored as complex64.
        reconstruction_rss: optional float (slices, H', W') target, stored as float32; it sets the ``max``
            (maximum) and ``norm`` (L2 norm) attributes as in fastMRI.
        acquisition: fastMRI acquisition label, e.g. ``"AXT1"``, ``"AXT2"``, ``"AXFLAIR"``, ``"CORPD_FBK"``.
        mask: optional (W,) sampling mask of an undersampled (test-style) file, stored as bool if bool else float32.
        header_xml: ISMRMRD header; by default built by :func:`ismrmrd_header` from the shapes with 1 mm pixels
            and 1 mm slices.
        patient_id: the ``patient_id`` attribute; by default the file name without its suffix.
        extra_attrs: further HDF5 attributes, which may not replace the four above.
        inputs: files the output is derived from; writing onto any of them is refused.
        overwrite: whether to replace an existing ``path``.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        InputError: k-space not complex, not 3D/4D or not finite; a target or mask not matching the k-space;
            reserved keys in ``extra_attrs``; a refused ``path``.
    """
    path = Path(path)
    kspace = np.asarray(kspace)
    _check_kspace(kspace, path)
    kspace = kspace.astype(np.complex64, copy=False)
    attrs: dict[str, Any] = {"acquisition": acquisition, "patient_id": patient_id or path.name.split(".")[0]}
    if reconstruction_rss is not None:
        reconstruction_rss = np.asarray(reconstruction_rss, dtype=np.float32)
        _check_reconstruction(reconstruction_rss, kspace, path, "reconstruction_rss")
        attrs["max"] = float(reconstruction_rss.max())
        attrs["norm"] = float(np.linalg.norm(reconstruction_rss.astype(np.float64)))
    if mask is not None:
        mask = np.asarray(mask)
        _check_mask(mask, kspace.shape[-1], path)
        mask = mask.reshape(-1) if mask.dtype == np.bool_ else mask.reshape(-1).astype(np.float32)
    reserved = set(attrs) | {"max", "norm"}
    clash = sorted(reserved & set(extra_attrs or {}))
    if clash:
        raise InputError(path, f"extra_attrs may not replace {clash}")
    attrs.update(extra_attrs or {})
    if header_xml is None:
        recon_shape = kspace.shape[-2:] if reconstruction_rss is None else reconstruction_rss.shape[-2:]
        fov = (*kspace.shape[-2:], 1.0)
        header_xml = ismrmrd_header(kspace.shape[-2:], recon_shape, fov, num_slices=kspace.shape[0])
    with atomic_output(path, inputs=inputs, overwrite=overwrite) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("kspace", data=kspace)
        if reconstruction_rss is not None:
            f.create_dataset("reconstruction_rss", data=reconstruction_rss)
        if mask is not None:
            f.create_dataset("mask", data=mask)
        f.create_dataset("ismrmrd_header", data=np.bytes_(header_xml.encode()))
        f.attrs.update(attrs)
    return path


def write_submission_h5(
    path: str | os.PathLike,
    reconstruction: np.ndarray,
    inputs: Iterable[str | os.PathLike] = (),
    overwrite: bool = False,
) -> Path:
    """Write reconstructed images in fastMRI's submission layout: one float32 ``reconstruction`` dataset.

    Args:
        path: the ``.h5`` file to write, named as the k-space file it reconstructs.
        reconstruction: real (slices, H, W) images, stored as float32.
        inputs: files the output is derived from; writing onto any of them is refused.
        overwrite: whether to replace an existing ``path``.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        InputError: complex, non-3D or non-finite images; a refused ``path``.
    """
    path = Path(path)
    reconstruction = np.asarray(reconstruction)
    if np.iscomplexobj(reconstruction) or reconstruction.ndim != 3:
        problem = f"reconstruction must be real (slices, H, W), got {reconstruction.dtype} {reconstruction.shape}"
        raise InputError(path, problem)
    check_finite(reconstruction, path, "reconstruction")
    with atomic_output(path, inputs=inputs, overwrite=overwrite) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("reconstruction", data=reconstruction.astype(np.float32))
    return path
