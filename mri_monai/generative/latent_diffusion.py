"""Latent diffusion for slice synthesis (Rombach et al. 2022) on MONAI's generative components.

A frozen ``AutoencoderKL`` maps slices to latents; a ``DiffusionModelUNet`` learns to denoise the latents, scaled
to unit standard deviation; sampling denoises seeded Gaussian latents with a scheduler (DDIM) and decodes them.
This module holds the pieces between MONAI's components and the bundle: the latents of the training slices
(:func:`encode_slices`), their scale factor (:func:`latent_scale_factor`, stored beside the weights by
:func:`save_latent_scale`), the validation inferer of the autoencoder and the sampler the synthesis evaluation
runs (:class:`LatentDiffusionSampler`).

Rombach R, Blattmann A, Lorenz D, Esser P, Ommer B. High-Resolution Image Synthesis with Latent Diffusion Models.
CVPR 2022. https://arxiv.org/abs/2112.10752
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import torch
from monai.inferers import DiffusionInferer, Inferer
from torch import nn

from mri_monai.data.atomic import atomic_output
from mri_monai.errors import InputError
from mri_monai.networks.weights import load_state

from .synthesis import SampleWriter, slice_items

__all__ = [
    "LatentDiffusionSampler",
    "ReconstructionInferer",
    "encode_slices",
    "latent_items",
    "latent_scale_factor",
    "load_latent_scale",
    "save_latent_scale",
]


@torch.no_grad()
def encode_slices(
    autoencoder: nn.Module,
    slices: torch.Tensor,
    batch_size: int = 32,
    flip: bool = True,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """The posterior means of slices (and of their left-right mirror images) under a frozen ``AutoencoderKL``.

    The latents of a latent diffusion model's training set, computed once: the autoencoder does not change in the
    second stage. The posterior mean rather than a posterior sample: with the small KL weight of the first stage the
    posterior standard deviation is small, and a sample fixed once would only add a fixed perturbation.

    Args:
        autoencoder: trained autoencoder with ``encode(x) -> (z_mu, z_sigma)``; put in eval mode.
        slices: (N, 1, X, Y) slices in the autoencoder's intensity range (e.g. :func:`load_axial_slices`' [0, 1]).
        batch_size: slices per encoder call.
        flip: also encode each slice mirrored along X (left-right for RAS slices), the augmentation of the
            autoencoder's training.
        device: device of the autoencoder.

    Returns:
        (N, C, X/f, Y/f) latents on the CPU, f the autoencoder's downsampling factor; with ``flip``, (2N, C, X/f,
        Y/f): the N slices, then their N mirror images in the same order.

    Raises:
        ValueError: ``slices`` is not a non-empty (N, C, X, Y) stack.
    """
    if slices.ndim != 4 or slices.shape[0] < 1:
        raise ValueError(f"slices must be (N >= 1, C, X, Y), got shape {tuple(slices.shape)}")
    autoencoder.eval()
    images = torch.cat([slices, slices.flip(-2)]) if flip else slices
    chunks = [
        autoencoder.encode(images[i : i + batch_size].to(device))[0].cpu() for i in range(0, len(images), batch_size)
    ]
    return torch.cat(chunks)


def latent_scale_factor(latents: torch.Tensor) -> float:
    """``1 / std(latents)`` over every value: scaled by it, the latents have unit standard deviation.

    Rombach et al. 2022 (section 4.3.2, the "scale factor" of KL-regularised latent spaces) rescale the latents so
    that the diffusion model's noise schedule, made for unit-variance data, fits them; they estimate the standard
    deviation on a first batch, here on the whole training set.

    Raises:
        ValueError: the standard deviation is zero or not finite (e.g. an untrained or broken autoencoder).
    """
    std = float(latents.detach().double().std())
    if not math.isfinite(std) or std <= 0:
        raise ValueError(f"the latents' standard deviation is {std}: no scale factor (is the autoencoder trained?)")
    return 1.0 / std


def latent_items(latents: torch.Tensor, scale_factor: float, key: str = "image") -> list[dict[str, torch.Tensor]]:
    """Dataset items ``{key: scale_factor * latent}``, one per latent of a (N, C, H, W) stack.

    For MONAI's ``DiffusionPrepareBatch``, which takes the ``"image"`` key of a dictionary batch.
    """
    return slice_items(latents * scale_factor, key)


def save_latent_scale(
    path: str | os.PathLike, scale_factor: float, latents: torch.Tensor, autoencoder_ckpt: str | os.PathLike
) -> dict[str, Any]:
    """Write the scale factor of a diffusion model's latents beside its weights (JSON, atomically).

    Sampling divides the denoised latents by the same factor before decoding them, so it must be the one the model
    was trained with; :class:`LatentDiffusionSampler` reads it with :func:`load_latent_scale`.

    Args:
        path: the JSON file, e.g. ``<ckpt_dir>/latent_scale.json``.
        scale_factor: :func:`latent_scale_factor` of the training latents.
        latents: the (M, C, H, W) training latents (their shape and number are recorded).
        autoencoder_ckpt: the autoencoder weights the latents come from (recorded).

    Returns:
        the record: ``scale_factor``, ``latent_std``, ``latent_shape`` [C, H, W], ``latents`` M, ``encoding``
        and ``autoencoder``.
    """
    record = {
        "scale_factor": float(scale_factor),
        "latent_std": 1.0 / float(scale_factor),
        "latent_shape": list(latents.shape[1:]),
        "latents": int(latents.shape[0]),
        "encoding": "posterior means of the training slices and of their left-right mirror images",
        "autoencoder": str(autoencoder_ckpt),
    }
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(record, indent=2))
    return record


def load_latent_scale(path: str | os.PathLike) -> dict[str, Any]:
    """The record :func:`save_latent_scale` wrote: ``{"scale_factor": float > 0, "latent_shape": [C, H, W], ...}``.

    Raises:
        FileNotFoundError: no such file (the diffusion model has not been trained, or another ``ckpt_dir``).
        InputError: not JSON, or no positive finite ``scale_factor`` / no ``latent_shape`` in it.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: latent scale not found (train.json writes it beside model.pt)")
    try:
        record = json.loads(path.read_text())
        scale = float(record["scale_factor"])
        shape = [int(s) for s in record["latent_shape"]]
    except (ValueError, KeyError, TypeError) as error:
        raise InputError(path, f"not a latent scale record with 'scale_factor' and 'latent_shape' ({error})") from error
    if not math.isfinite(scale) or scale <= 0:
        raise InputError(path, f"scale_factor must be positive and finite, got {scale}")
    return {**record, "scale_factor": scale, "latent_shape": shape}


class ReconstructionInferer(Inferer):
    """Validation inferer of an ``AutoencoderKL``: ``network.reconstruct(x)`` (decoded posterior mean).

    ``SimpleInferer`` would return the training forward's ``(reconstruction, z_mu, z_sigma)`` from a posterior
    sample; this returns the deterministic reconstruction alone, for a metric such as ``MeanAbsoluteError``.

    Shapes: (B, C, *S) -> (B, C, *S).
    """

    def __call__(self, inputs: torch.Tensor, network: nn.Module, *args: Any, **kwargs: Any) -> torch.Tensor:
        return network.reconstruct(inputs)


class LatentDiffusionSampler(SampleWriter):
    """Sample slices from a latent diffusion model: denoise seeded latents, decode them, write PNGs and a NIfTI.

    For each batch of starting latents ``z_T`` (Gaussian noise): ``inferer.sample`` denoises them in
    ``num_inference_steps`` steps of its scheduler (e.g. MONAI's ``DDIMScheduler``, deterministic with its default
    ``eta`` 0, built with ``clip_sample=False``: scaled latents are not bounded by 1), the result is divided by the
    scale factor of the training latents and decoded by the autoencoder, and the slices are clipped to [0, 1], the
    intensity range of :func:`load_axial_slices`. ``sample(n)`` and ``run()`` are those of :class:`SampleWriter`
    (PNG per sample and ``samples.nii.gz``), so :class:`SynthesisEvaluation` takes this sampler as a method.

    The weights and the scale factor are loaded when sampling starts, not at construction, so a workflow can be
    built (e.g. for ``check_properties``) before they exist.

    Args:
        network: the diffusion model (MONAI ``DiffusionModelUNet``), ((B, C, H, W), timesteps) -> (B, C, H, W).
        autoencoder: the autoencoder whose ``decode_stage_2_outputs`` maps (B, C, H, W) latents to (B, 1, X, Y).
        inferer: MONAI ``DiffusionInferer`` holding the sampling scheduler.
        latents: (N, C, H, W) starting noise, one per sample (e.g. ``seeded_latents(N, (C, H, W), seed)``).
        output_dir: folder of ``sample_000.png``... and ``samples.nii.gz``.
        num_inference_steps: denoising steps (the scheduler's ``set_timesteps``).
        scale_factor: the training latents' scale factor; ``None``: read from ``scale_file``.
        scale_file: the JSON of :func:`save_latent_scale` (used when ``scale_factor`` is ``None``); its
            ``latent_shape`` must be that of ``latents``.
        voxel_size: in-plane voxel size (mm) of the NIfTI.
        batch_size: latents denoised together.
        device: device of both networks.
        checkpoint: state dict of ``network`` (e.g. ``model.pt``), loaded strictly when sampling starts.
        autoencoder_checkpoint: state dict of ``autoencoder`` (e.g. ``autoencoder.pt``), likewise.

    Raises:
        ValueError: ``latents`` not (N, C, H, W), or neither / both of ``scale_factor`` and ``scale_file``, or
            ``num_inference_steps`` out of the scheduler's range.
        FileNotFoundError / InputError (when sampling): a missing or unfitting checkpoint or scale file, naming it;
            a scale file recorded for latents of another shape.

    Example::

        sampler = LatentDiffusionSampler(unet, autoencoder, DiffusionInferer(DDIMScheduler(clip_sample=False)),
                                         seeded_latents(16, (3, 32, 32), seed=0), "samples", num_inference_steps=20,
                                         scale_file="models/latent_scale.json", checkpoint="models/model.pt",
                                         autoencoder_checkpoint="models/autoencoder.pt")
        slices = sampler.run()  # (16, 1, 128, 128) in [0, 1]; sample_000.png ... and samples.nii.gz written
    """

    def __init__(
        self,
        network: nn.Module,
        autoencoder: nn.Module,
        inferer: DiffusionInferer,
        latents: torch.Tensor,
        output_dir: str | os.PathLike,
        num_inference_steps: int = 20,
        scale_factor: float | None = None,
        scale_file: str | os.PathLike | None = None,
        voxel_size: float = 1.5,
        batch_size: int = 16,
        device: str | torch.device = "cpu",
        checkpoint: str | os.PathLike | None = None,
        autoencoder_checkpoint: str | os.PathLike | None = None,
    ) -> None:
        super().__init__(network, latents, output_dir, voxel_size, batch_size, device, checkpoint)
        if latents.ndim != 4:
            raise ValueError(f"latents must be (N, C, H, W) noise, got shape {tuple(latents.shape)}")
        if (scale_factor is None) == (scale_file is None):
            raise ValueError("give one of scale_factor and scale_file")
        inferer.scheduler.set_timesteps(num_inference_steps)
        self.autoencoder, self.inferer, self.num_inference_steps = autoencoder, inferer, num_inference_steps
        self.scale_factor, self.scale_file = scale_factor, scale_file
        self.autoencoder_checkpoint = autoencoder_checkpoint

    def _load(self) -> None:
        super()._load()
        if self.autoencoder_checkpoint is not None:
            load_state(self.autoencoder, self.autoencoder_checkpoint, self.device)
            self.autoencoder_checkpoint = None
        if self.scale_factor is None:
            record = load_latent_scale(self.scale_file)
            drawn = list(self.latents.shape[1:])
            if record["latent_shape"] != drawn:
                problem = f"recorded for latents of shape {record['latent_shape']}, the sampler draws {drawn}"
                raise InputError(self.scale_file, f"{problem} (latent_shape of the config)")
            self.scale_factor = record["scale_factor"]
        self.autoencoder.eval()

    def generate(self, latents: torch.Tensor) -> torch.Tensor:
        """Denoise a batch of starting latents and decode it: (B, C, H, W) -> (B, 1, X, Y) in [0, 1]."""
        denoised = self.inferer.sample(latents, self.network, verbose=False)
        return self.autoencoder.decode_stage_2_outputs(denoised / self.scale_factor).clamp(0, 1)
