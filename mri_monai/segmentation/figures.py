"""PNG figures of tumour segmentations: each contrast, and the label maps over FLAIR."""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Hashable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from ignite.engine import Engine, Events
from monai.data.folder_layout import FolderLayout
from monai.transforms import LoadImage, MapTransform
from monai.utils import ImageMetaKey, convert_to_numpy

from mri_monai.data.provenance import source_title
from mri_monai.data.readers import ValidatedNibabelReader
from mri_monai.data.tumour import ED, ET, NCR
from mri_monai.figures import display_slice, grey_window, panel_figure, save_figure, to_grey

from .baselines import ThresholdSegmentation

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "LABEL_COLOURS",
    "METHOD_NAMES",
    "SaveSegmentationPNGd",
    "SegmentationPNGHandler",
    "hardest_case",
    "segmentation_figure",
    "write_case_figure",
]

#: the segmentation bundle's evaluated methods (``metrics.csv`` / ``metrics_summary.json`` keys), by their names in
#: tables and figures
METHOD_NAMES = {"network": "Vox2Vox", "no_gan": "same generator, no GAN", "segresnet": "SegResNet",
                "threshold": "thresholds"}  # fmt: skip
#: RGB colour of each BraTS label in the figures.
LABEL_COLOURS = {NCR: (0.9, 0.1, 0.1), ED: (0.1, 0.8, 0.1), ET: (0.1, 0.4, 1.0)}


def _overlay(grey: np.ndarray, labels: np.ndarray, alpha: float = 0.6) -> np.ndarray:
    """(H, W, 3) RGB picture of ``grey`` (H, W) in [0, 1] with ``labels`` (H, W) coloured by :data:`LABEL_COLOURS`."""
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    for label, colour in LABEL_COLOURS.items():
        mask = labels == label
        rgb[mask] = (1 - alpha) * rgb[mask] + alpha * np.asarray(colour)
    return rgb


def segmentation_figure(
    image: torch.Tensor | np.ndarray,
    prediction: torch.Tensor | np.ndarray,
    reference: torch.Tensor | np.ndarray | None = None,
    contrast_names: Sequence[str] = ("T1", "T1ce", "T2", "FLAIR"),
    overlay_channel: int = 3,
    title: str = "",
    others: Mapping[str, torch.Tensor | np.ndarray] | None = None,
    prediction_name: str = "prediction",
) -> Figure:
    """A matplotlib figure of the axial slice with the most tumour: each contrast, prediction and reference.

    Each contrast is drawn in its own grey window, the label maps over the ``overlay_channel`` contrast (orientation
    and window: :mod:`mri_monai.figures`).

    Args:
        image: (C, X, Y, Z) contrasts.
        prediction: (1, X, Y, Z) or (X, Y, Z) BraTS label map.
        reference: the ground truth, same shape, or None.
        contrast_names: one title per channel.
        overlay_channel: the contrast under the label maps (FLAIR).
        title: put before the colour legend in the figure's title (e.g. the input file).
        others: further label maps (panel title -> map, same shape as ``prediction``) drawn after the prediction,
            e.g. another method's on the same case.
        prediction_name: the prediction's panel title.

    Returns:
        the :class:`matplotlib.figure.Figure`.
    """
    img = convert_to_numpy(image, dtype=np.float32)
    maps = [(prediction_name, convert_to_numpy(prediction).reshape(img.shape[1:]))]
    maps += [(name, convert_to_numpy(m).reshape(img.shape[1:])) for name, m in (others or {}).items()]
    if reference is not None:
        maps.append(("reference", convert_to_numpy(reference).reshape(img.shape[1:])))
    tumour = maps[-1][1] > 0
    z = int(np.argmax(tumour.sum(axis=(0, 1)))) if tumour.any() else img.shape[-1] // 2
    contrasts = [display_slice(channel, 2, z) for channel in img]
    greys = [to_grey(picture, grey_window(picture)) for picture in contrasts]
    panels = list(zip(contrast_names, greys, strict=True))
    panels += [(name, _overlay(greys[overlay_channel], display_slice(m, 2, z))) for name, m in maps]
    legend = "red: necrotic core, green: oedema, blue: enhancing tumour"
    return panel_figure(panels, f"{title}; {legend}" if title else legend)


class SaveSegmentationPNGd(MapTransform):
    """Write a PNG of the contrasts and the label maps (see :func:`segmentation_figure`), named like ``SaveImaged``.

    ``<output_dir>/<first contrast's path relative to data_root_dir without its suffix>_<postfix>.png``, e.g.
    ``out/sub-003/t1_seg.png``.

    Args:
        image_key: key of the (C, X, Y, Z) contrasts.
        pred_key: key of the predicted label map.
        label_key: key of the reference label map, or of its file name (read here; left out when missing).
        output_dir: output folder.
        output_postfix: postfix of the file name.
        data_root_dir: the part of the input path left out of the output path.
    """

    def __init__(
        self,
        image_key: str = "image",
        pred_key: str = "pred",
        label_key: str = "label",
        output_dir: str | os.PathLike = "./eval",
        output_postfix: str = "seg",
        data_root_dir: str | os.PathLike = "",
    ) -> None:
        super().__init__([image_key, pred_key, label_key], allow_missing_keys=True)
        self.image_key, self.pred_key, self.label_key = image_key, pred_key, label_key
        self.layout = FolderLayout(
            output_dir, postfix=output_postfix, extension=".png", makedirs=True, data_root_dir=data_root_dir
        )
        self.data_root_dir = data_root_dir or None

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        """Write the figure of ``data``; return ``data`` unchanged."""
        d = dict(data)
        image, reference = d[self.image_key], d.get(self.label_key)
        if isinstance(reference, (str, os.PathLike)):  # a datalist path: read it for the figure only
            reference = LoadImage(reader=ValidatedNibabelReader, image_only=True)(reference)
        source = str(image.meta[ImageMetaKey.FILENAME_OR_OBJ])
        fig = segmentation_figure(image, d[self.pred_key], reference, title=source_title(source, self.data_root_dir))
        save_figure(fig, self.layout.filename(source), inputs=[source])
        return d


class SegmentationPNGHandler:
    """Engine handler writing :class:`SaveSegmentationPNGd`'s figure for every case once its iteration completes.

    A handler rather than a postprocessing transform, so that apps that run a bundle's ``postprocessing`` on their
    own (MONAI Label) do not write figures. It reads each case from the engine's output and batch (postprocessing has
    turned ``pred_key`` into the label map by then).

    Args:
        kwargs: arguments of :class:`SaveSegmentationPNGd`.
    """

    def __init__(self, **kwargs) -> None:
        self.writer = SaveSegmentationPNGd(**kwargs)

    def attach(self, engine: Engine) -> None:
        """Write the figures after each iteration."""
        engine.add_event_handler(Events.ITERATION_COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        for output, batch in zip(engine.state.output, engine.state.batch, strict=True):
            self.writer({**batch, **output})


def hardest_case(metrics_csv: str | os.PathLike, method: str = "network") -> str:
    """The case of an evaluate run's ``metrics.csv`` with the lowest ``dice_mean`` for ``method``.

    Raises:
        ValueError: the file has no row of ``method``.
    """
    with open(metrics_csv, newline="") as f:
        rows = [row for row in csv.DictReader(f) if row["method"] == method]
    if not rows:
        raise ValueError(f"{metrics_csv} has no row of method {method!r}")
    return min(rows, key=lambda row: float(row["dice_mean"]))["case"]


def write_case_figure(
    preprocessing: Callable,
    inferer: Callable,
    network: torch.nn.Module,
    item: dict,
    path: str | os.PathLike,
    title: str,
) -> Path:
    """Draw a datalist entry with its ground truth, ``network``'s labels and the thresholds' (PNG).

    Args:
        preprocessing: a bundle's inference preprocessing (``{"image": [4 files]}`` -> (4, X, Y, Z) z-scores).
        inferer: a bundle's inferer ((1, 4, X, Y, Z) -> (1, 4, X, Y, Z) class scores).
        network: the generator, its classes 0-3 being background, NCR, ED, ET.
        item: ``{"image": [t1, t1ce, t2, flair], "label": seg}`` (paths).
        path: the PNG file.
        title: the figure's title.
    """
    image = preprocessing({"image": item["image"]})["image"]
    with torch.no_grad():
        scores = inferer(image[None].as_tensor(), network.eval())[0]
    labels = torch.tensor([0, NCR, ED, ET], dtype=torch.uint8)[scores.argmax(0)]  # the bundle's MapLabelValued
    reference = LoadImage(image_only=True)(item["label"])
    others = {"thresholds": ThresholdSegmentation()(image.as_tensor())}
    figure = segmentation_figure(
        image, labels, reference, title=title, others=others, prediction_name=METHOD_NAMES["network"]
    )
    return save_figure(figure, path, inputs=[*item["image"], item["label"]])
