"""Unconditional slice synthesis: real axial slices, sampling to PNG/NIfTI, and the sample-quality evaluation."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.transforms import LoadImage, Orientation, ResizeWithPadOrCrop, ScaleIntensityRangePercentiles
from monai.utils import convert_to_tensor
from torch import nn

from mri_monai.case_metrics import MetricsTable
from mri_monai.data.atomic import save_nifti
from mri_monai.data.readers import ValidatedNibabelReader
from mri_monai.errors import InputError
from mri_monai.figures import display_slice, save_png, tile
from mri_monai.metrics import frechet_distance, ms_ssim_diversity, nearest_ncc, tissue_statistics
from mri_monai.networks.weights import load_state

from .two_sample import classifier_two_sample_test

__all__ = [
    "load_axial_slices",
    "dcgan_init",
    "seeded_latents",
    "slice_items",
    "SampleWriter",
    "SynthesisEvaluation",
]


def load_axial_slices(
    entries: Sequence[dict],
    key: str = "image",
    size: Sequence[int] = (128, 128),
    min_foreground: float = 0.1,
    return_subjects: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Axial slices of every volume, intensities scaled to [0, 1], keeping slices that show enough head.

    Each volume is read with :class:`~mri_monai.data.ValidatedNibabelReader`, reoriented to RAS, scaled from
    0 to its 99.5th percentile onto [0, 1] (clipped), padded or cropped in-plane to ``size``; slices whose
    fraction of voxels above 0.05 is below ``min_foreground`` (top and bottom of the head) are dropped.

    Args:
        entries: datalist items (absolute paths, as ``load_decathlon_datalist`` gives).
        key: key of the image in the items.
        size: in-plane size (X, Y) of the slices.
        min_foreground: least head fraction of a kept slice.
        return_subjects: also return the index in ``entries`` of each slice's volume.

    Returns:
        (N, 1, X, Y) float tensor; with ``return_subjects``, ``(slices, subjects)``, subjects (N,) long.

    Raises:
        InputError: no items, an unreadable or NaN file (from the reader), a file that is not one 3D volume,
            or no slice with enough head.
    """
    if not entries:
        raise InputError("<datalist>", "no volumes to take slices from")
    load = LoadImage(reader=ValidatedNibabelReader, image_only=True, ensure_channel_first=True)
    orient, resize = Orientation(axcodes="RAS"), ResizeWithPadOrCrop((*size, -1))
    scale = ScaleIntensityRangePercentiles(lower=0, upper=99.5, b_min=0.0, b_max=1.0, clip=True)
    slices, subjects = [], []
    for subject, entry in enumerate(entries):
        volume = load(entry[key])
        if volume.ndim != 4 or volume.shape[0] != 1:
            raise InputError(entry[key], f"expected one 3D volume (X, Y, Z), got shape {tuple(volume.shape[1:])}")
        volume = convert_to_tensor(resize(scale(orient(volume))), dtype=torch.float32, track_meta=False)
        fraction = (volume > 0.05).float().mean(dim=(0, 1, 2))
        keep = torch.nonzero(fraction >= min_foreground).ravel()
        slices += [volume[..., int(z)] for z in keep]
        subjects += [subject] * keep.numel()
    if not slices:
        raise InputError(entries[0][key], f"no axial slice has a head fraction >= {min_foreground}")
    return (torch.stack(slices), torch.tensor(subjects)) if return_subjects else torch.stack(slices)


def slice_items(slices: torch.Tensor, key: str = "reals") -> list[dict[str, torch.Tensor]]:
    """Dataset items ``{key: slice}``, one per slice of a (N, 1, X, Y) stack (e.g. :func:`load_axial_slices`).

    Returns:
        N dicts, each holding one (1, X, Y) slice (a view of ``slices``).
    """
    return [{key: s} for s in slices]


def seeded_latents(num_samples: int, latent_size: int, seed: int = 0) -> torch.Tensor:
    """(``num_samples``, ``latent_size``) standard-normal latents drawn from a CPU generator seeded with ``seed``.

    The same seed gives the same latents whatever the global random state, so samples are reproducible;
    the first rows do not depend on ``num_samples`` (``torch.randn`` fills the rows in order).
    """
    return torch.randn(num_samples, latent_size, generator=torch.Generator().manual_seed(seed))


def dcgan_init(network: nn.Module, std: float = 0.02, device: str | torch.device | None = None) -> nn.Module:
    """DCGAN weight initialisation (Radford et al. 2016), in place; returns ``network`` (moved to ``device``).

    Convolution and transposed-convolution weights ~ N(0, ``std``), their biases 0; batch-norm scales
    ~ N(1, ``std``), shifts 0 (the paper's initialisation; PyTorch's default Kaiming-uniform one gives the
    generator a much larger output scale at the start of training). A spectrally normalised weight is initialised
    through its stored original (the normalised weight is computed from it).
    """
    for module in network.modules():
        if isinstance(
            module, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
        ):
            parametrized = nn.utils.parametrize.is_parametrized(module, "weight")
            nn.init.normal_(module.parametrizations.weight.original if parametrized else module.weight, 0.0, std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.modules.batchnorm._BatchNorm) and module.affine:
            nn.init.normal_(module.weight, 1.0, std)
            nn.init.zeros_(module.bias)
    return network if device is None else network.to(device)


class SampleWriter:
    """Sample slices from a generator: one PNG per sample and all samples as one NIfTI stack.

    Args:
        network: generator, (B, L) latents -> (B, 1, X, Y) in [-1, 1].
        latents: (N, L) latent vectors (e.g. drawn from a seeded generator).
        output_dir: folder of ``sample_000.png``... and ``samples.nii.gz``.
        voxel_size: in-plane voxel size (mm) written into the NIfTI affine (slices stacked 1 slice apart).
        batch_size: latents per network call.
        device: device of the network.
        checkpoint: optional state dict file (``torch.load(weights_only=True)``) loaded strictly into
            ``network`` before the first sample, not at construction, so a workflow can be built (e.g. for
            ``check_properties``) before the weights exist.

    ``run()`` returns the samples, (N, 1, X, Y) in [0, 1]. The NIfTI holds them as (X, Y, N), in [0, 1]; the PNGs
    draw them as :mod:`mri_monai.figures` orients RAS axial slices, [0, 1] from black to white.
    """

    def __init__(
        self,
        network: nn.Module,
        latents: torch.Tensor,
        output_dir: str | os.PathLike,
        voxel_size: float = 1.5,
        batch_size: int = 16,
        device: str | torch.device = "cpu",
        checkpoint: str | os.PathLike | None = None,
    ) -> None:
        if latents.ndim != 2 or latents.shape[0] < 1:
            raise ValueError(f"latents must be (N >= 1, L), got shape {tuple(latents.shape)}")
        self.network, self.latents, self.output_dir = network, latents, Path(output_dir)
        self.voxel_size, self.batch_size, self.device = voxel_size, batch_size, torch.device(device)
        self.checkpoint = checkpoint

    def _load(self) -> None:
        if self.checkpoint is not None:
            load_state(self.network, self.checkpoint, self.device)
            self.checkpoint = None

    @torch.no_grad()
    def sample(self, n: int | None = None) -> torch.Tensor:
        """The samples of the first ``n`` (default all) latents, (n, 1, X, Y) in [0, 1]."""
        latents = self.latents if n is None else self.latents[:n]
        if n is not None and latents.shape[0] < n:
            raise ValueError(f"asked for {n} samples, only {self.latents.shape[0]} latents")
        self._load()
        self.network.eval()
        chunks = [
            self.network(latents[i : i + self.batch_size].to(self.device)).cpu()
            for i in range(0, latents.shape[0], self.batch_size)
        ]
        return ((torch.cat(chunks) + 1) / 2).clamp(0, 1)

    def run(self) -> torch.Tensor:
        samples = self.sample()
        for i, image in enumerate(samples):
            save_png(display_slice(image[0]), self.output_dir / f"sample_{i:03d}.png")
        affine = np.diag([self.voxel_size, self.voxel_size, self.voxel_size, 1.0])
        save_nifti(samples[:, 0].permute(1, 2, 0).numpy(), affine, self.output_dir / "samples.nii.gz")
        return samples


class SynthesisEvaluation:
    """Score generated slices and baselines against real slices; write metrics and a figure of samples.

    For each method (the network and each baseline sampler, plus the held-out real slices as a reference):

    - ``nearest_ncc``: mean over samples of the normalised cross-correlation to the nearest training slice
      (Bermudez et al. 2018): a copying generator scores above the held-out real slices' value;
    - ``copies``: fraction of samples whose nearest NCC exceeds the largest held-out real slice's;
    - ``ms_ssim``: mean pairwise MS-SSIM between samples (lower = more diverse; the real slices' value is the
      natural level);
    - ``tissue_fd`` (primary, lower is better): Fréchet distance between per-slice tissue statistics
      (:func:`~mri_monai.metrics.tissue_statistics`) of the samples and of the held-out real slices (for
      ``held_out_real``: training slices against held-out slices, the level real data reach);
    - ``c2st`` (0.5 is best): held-out accuracy of a small CNN trained to tell samples from held-out real slices
      (:func:`~mri_monai.generative.classifier_two_sample_test`), at most ``c2st_samples`` of each, about half for
      training and half for testing; 0.5 means it cannot tell them apart, 1.0 that it always can; ``c2st_p`` is
      the binomial p-value of that accuracy under "indistinguishable" (for ``held_out_real``: training slices
      against held-out slices). With ``held_out_subjects`` naming at least 2 subjects the held-out slices are split
      by subject (the CNN is tested on subjects it was not trained on; ``c2st_split`` ``"subjects"``), else at
      random (``"slices"``: the CNN can learn the few held-out subjects, and even real slices score above 0.5).

    The metrics other than ``c2st`` use the first ``num_samples`` samples of each method; the C2ST the first
    ``c2st_samples`` (each method is asked once for the larger number).
    The files are those of :class:`~mri_monai.case_metrics.MetricsTable`: one row per sample and method (``case``
    ``sample_<i>``, with its nearest NCC, nearest training slice, head fraction and median intensity as descriptive
    columns), the metrics above as set metrics of ``methods``, and in ``details`` the held-out slices' largest
    nearest NCC and the C2ST split.

    Args:
        methods: ``{name: sampler}``, each with ``sample(n) -> (n, 1, X, Y)`` in [0, 1]; must include
            ``"network"`` and ``baseline``.
        training: (M, 1, X, Y) training slices in [0, 1] (the nearest-neighbour references).
        held_out: (K, 1, X, Y) held-out real slices in [0, 1].
        output_dir: where ``metrics.csv``, ``metrics_summary.json`` and ``samples_grid.png`` go.
        num_samples: samples per method for the NCC, MS-SSIM and tissue metrics.
        baseline: method the network must beat on ``tissue_fd``.
        grid_samples: columns of ``samples_grid.png``: network samples (top row), the nearest training slice of
            each (middle row) and random held-out slices (bottom row).
        c2st_samples: images per class in the C2ST at most (fewer when there are fewer held-out slices).
        c2st_epochs: training epochs of the C2ST's CNN.
        seed: seed of the C2ST and of the held-out slices shown.
        held_out_subjects: (K,) subject of each held-out slice (``load_axial_slices(..., return_subjects=True)``),
            for the C2ST's split by subject.
    """

    def __init__(
        self,
        methods: dict[str, Any],
        training: torch.Tensor,
        held_out: torch.Tensor,
        output_dir: str | os.PathLike,
        num_samples: int = 64,
        baseline: str = "gaussian_matched",
        grid_samples: int = 8,
        c2st_samples: int = 160,
        c2st_epochs: int = 15,
        seed: int = 0,
        held_out_subjects: torch.Tensor | None = None,
    ) -> None:
        if "network" not in methods or baseline not in methods:
            raise ValueError(f"methods must include 'network' and {baseline!r}; got {sorted(methods)}")
        if held_out.shape[0] < 2 or training.shape[0] < 1:
            raise ValueError("need at least 2 held-out and 1 training slice")
        self.methods, self.training, self.held_out = methods, training, held_out
        self.output_dir, self.num_samples = Path(output_dir), num_samples
        self.baseline, self.grid_samples = baseline, grid_samples
        self.c2st_samples, self.c2st_epochs, self.seed = c2st_samples, c2st_epochs, seed
        if held_out_subjects is not None and len(held_out_subjects) != held_out.shape[0]:
            raise ValueError(f"held_out_subjects has {len(held_out_subjects)} entries for {held_out.shape[0]} slices")
        by_subject = held_out_subjects is not None and len(torch.as_tensor(held_out_subjects).unique()) >= 2
        self.held_out_subjects = held_out_subjects if by_subject else None
        self.table = MetricsTable("tissue_fd", higher_is_better=False, baseline=baseline)

    def _c2st(self, images: torch.Tensor) -> dict[str, float]:
        test = classifier_two_sample_test(
            self.held_out,
            images,
            self.held_out_subjects,
            size=self.c2st_samples,
            epochs=self.c2st_epochs,
            seed=self.seed,
        )
        return {"c2st": round(test["accuracy"], 4), "c2st_p": float(f"{test['p_value']:.3g}")}

    def _score(
        self, name: str, images: torch.Tensor, held_out_max: float, real_features: torch.Tensor
    ) -> tuple[dict[str, float], torch.Tensor]:
        """The set metrics of ``images`` (N, 1, X, Y); one row per image in :attr:`table`; nearest training slices."""
        ncc, index = nearest_ncc(images, self.training)
        features = tissue_statistics(images)
        for i in range(images.shape[0]):
            columns = {"nearest_ncc": round(float(ncc[i]), 5), "nearest_training": int(index[i]),
                       "head_fraction": round(float(features[i, 0]), 5),
                       "median_intensity": round(float(features[i, 3]), 5)}  # fmt: skip
            self.table.add(f"sample_{i}", name, {}, columns=columns)
        summary = {
            "nearest_ncc": round(float(ncc.mean()), 4),
            "copies": round(float((ncc > held_out_max).float().mean()), 4),
            "ms_ssim": round(ms_ssim_diversity(images), 4),
            "tissue_fd": round(frechet_distance(features, real_features), 5),
        }
        return summary, index

    def _grid(self, images: torch.Tensor, index: torch.Tensor) -> np.ndarray:
        """Network samples (top), their nearest training slices (middle), random held-out slices (bottom)."""
        shown = min(self.grid_samples, images.shape[0], self.held_out.shape[0])
        held_out = torch.randperm(self.held_out.shape[0], generator=torch.Generator().manual_seed(self.seed))[:shown]
        return tile(
            [
                [display_slice(images[i, 0]) for i in range(shown)],
                [display_slice(self.training[index[i], 0]) for i in range(shown)],
                [display_slice(self.held_out[int(j), 0]) for j in held_out],
            ]
        )

    def run(self) -> dict[str, Any]:
        """Evaluate and write the files; returns the summary."""
        self.table.clear()
        real_features = tissue_statistics(self.held_out)
        held_ncc, _ = nearest_ncc(self.held_out, self.training)
        held_out_max = float(held_ncc.max())
        methods = {}
        summary, _ = self._score("held_out_real", self.held_out, held_out_max, real_features)
        summary["tissue_fd"] = round(frechet_distance(tissue_statistics(self.training), real_features), 5)
        summary.update(self._c2st(self.training))  # real against real: the level a perfect generator reaches
        methods["held_out_real"] = summary
        for name, sampler in self.methods.items():
            drawn = sampler.sample(max(self.num_samples, self.c2st_samples))
            images = drawn[: self.num_samples]
            summary, index = self._score(name, images, held_out_max, real_features)
            methods[name] = {**summary, **self._c2st(drawn[: self.c2st_samples])}
            if name == "network":
                save_png(self._grid(images, index), self.output_dir / "samples_grid.png")
        details = {
            "held_out_max_nearest_ncc": round(held_out_max, 4),
            "c2st_split": "slices" if self.held_out_subjects is None else "subjects",
        }
        return self.table.write(self.output_dir, set_metrics=methods, details=details)
