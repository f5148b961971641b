"""Classifier two-sample test (C2ST): can a small CNN tell generated images from real ones?

Lopez-Paz and Oquab (ICLR 2017): train a classifier on part of two samples, test it on the rest; its held-out
accuracy estimates how distinguishable the two distributions are (0.5: not at all, 1.0: perfectly). Unlike
distances on hand-picked features (tissue statistics, NCC), it finds whatever difference a CNN can see: speckle,
missing gyri, wrong contrast, a repeated mode.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from monai.networks.nets import Classifier
from torch import nn

__all__ = ["c2st_classifier", "classifier_two_sample_test"]


def c2st_classifier(spatial_shape: Sequence[int], channels: Sequence[int] = (8, 16, 32, 64)) -> nn.Module:
    """The C2ST's default CNN: MONAI ``Classifier`` with stride-2 convolutions, batch norm, one logit.

    Args:
        spatial_shape: image size, e.g. (128, 128); each side divisible by ``2 ** len(channels)``.
        channels: output channels of the stride-2 convolutions (one residual unit each).

    Shapes: (B, 1, *spatial_shape) -> (B, 1) logits (positive: "generated").
    """
    return Classifier(
        in_shape=(1, *spatial_shape),
        classes=1,
        channels=tuple(channels),
        strides=(2,) * len(channels),
        num_res_units=1,
        norm="BATCH",
    )


def _quantise(images: torch.Tensor, levels: int | None) -> torch.Tensor:
    images = images.float().clamp(0, 1)
    return images if levels is None else torch.round(images * (levels - 1)) / (levels - 1)


def _split(
    n_real: int, n_generated: int, groups: torch.Tensor | None, size: int | None, fraction: float, rng: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Indices (real train, real test, generated train, generated test), as many of each class in each set."""
    real = torch.randperm(n_real, generator=rng)
    if groups is None:
        n = min(n_real, n_generated, size or n_real)
        n_train = int(round(n * fraction))
        real_train, real_test = real[:n_train], real[n_train:n]
    else:
        names = groups.unique()
        if names.numel() < 2:
            raise ValueError(f"a split by group needs at least 2 groups of real images, got {names.numel()}")
        names = names[torch.randperm(names.numel(), generator=rng)]
        counts = torch.stack([(groups == g).sum() for g in names]).cumsum(0)
        n_groups = min(int((counts < fraction * n_real).sum()) + 1, names.numel() - 1)  # reach the fraction
        in_train = torch.isin(groups[real], names[:n_groups])
        real_train, real_test = real[in_train], real[~in_train]
        n = min(n_generated, size or n_generated)
        real_train = real_train[: min(real_train.numel(), int(round(n * fraction)))]
        real_test = real_test[: min(real_test.numel(), n - real_train.numel())]
    generated = torch.randperm(n_generated, generator=rng)
    n_train, n_test = real_train.numel(), real_test.numel()
    return real_train, real_test, generated[:n_train], generated[n_train : n_train + n_test]


def classifier_two_sample_test(
    real: torch.Tensor,
    generated: torch.Tensor,
    real_groups: torch.Tensor | Sequence[int] | None = None,
    size: int | None = None,
    train_fraction: float = 0.5,
    epochs: int = 15,
    batch_size: int = 32,
    learning_rate: float = 1e-3,
    levels: int | None = 256,
    flip_dim: int | None = 2,
    channels: Sequence[int] = (8, 16, 32, 64),
    num_threads: int | None = 1,
    seed: int = 0,
) -> dict[str, Any]:
    """Classifier two-sample test of real against generated images: held-out accuracy of a small CNN.

    Each sample is split into a training and a test part (``train_fraction`` of the images for training), with as
    many real as generated images in each part, at most ``size`` images per class in all (seeded random subsets).
    The CNN (:func:`c2st_classifier`) is trained with Adam and binary cross-entropy for ``epochs`` epochs, with
    random flips along ``flip_dim`` (left-right for RAS axial slices: a symmetry of the head, applied to both
    classes alike), and its accuracy on the test part is reported, with the one-sided binomial p-value of that
    accuracy under "indistinguishable" (accuracy 0.5). The images are quantised to ``levels`` grey levels first, as
    an 8-bit picture shows them, so that differences below what a person could see (a ``tanh`` generator's
    background of 0.0005 instead of 0) do not give the generated images away.

    ``real_groups`` (e.g. the subject of each slice) splits the real images by group, whole groups to training or
    to test: the slices of one subject are alike, and with a few held-out subjects a random split lets the CNN
    learn those subjects (their head shape, their bias field) and call anything else generated; even real slices of
    other subjects would then score far above 0.5. The generated images are split at random.

    The run is deterministic for a given ``seed``: the global torch RNG is forked (left as it was) and, with
    ``num_threads`` set, torch runs on that many threads during the test (restored after), so that the result does
    not depend on the machine's thread count.

    Args:
        real: (N, 1, *S) real images in [0, 1].
        generated: (M, 1, *S) generated images in [0, 1]; N, M >= 4.
        real_groups: (N,) group of each real image (at least 2 groups), or ``None`` for a random split.
        size: images per class at most, training and test together (``None``: as many as there are).
        train_fraction: fraction of each sample used for training, in (0, 1); with groups, whole groups are
            taken until this fraction of the real images is reached (at least one group is left for testing).
        epochs: training epochs.
        batch_size: images per step.
        learning_rate: Adam learning rate.
        levels: grey levels the images are quantised to (``None``: not quantised).
        flip_dim: tensor dimension of the random flips (``None``: no flips).
        channels: channels of the CNN's stride-2 convolutions.
        num_threads: torch threads during the test (``None``: unchanged).
        seed: seed of the subsets, the split, the initialisation and the batches.

    Returns:
        ``{"accuracy", "p_value", "train_per_class", "test_per_class"}``: test accuracy in [0, 1] (0.5: the CNN
        cannot tell the samples apart), the binomial p-value of at least that many correct test images by chance,
        and the images per class in each part.

    Raises:
        ValueError: samples of other shapes, fewer than 4 images in one of them, ``train_fraction`` outside
            (0, 1), ``real_groups`` of another length than ``real`` or with one group, or an empty part.
    """
    from scipy.stats import binomtest

    if real.shape[1:] != generated.shape[1:] or real.ndim < 3:
        raise ValueError(f"real {tuple(real.shape)} and generated {tuple(generated.shape)} must be (N, C, *S) alike")
    if not 0 < train_fraction < 1:
        raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction}")
    if min(real.shape[0], generated.shape[0]) < 4:
        raise ValueError(f"need at least 4 images per sample, got {real.shape[0]} real, {generated.shape[0]} generated")
    groups = None if real_groups is None else torch.as_tensor(real_groups).ravel()
    if groups is not None and groups.numel() != real.shape[0]:
        raise ValueError(f"real_groups has {groups.numel()} entries for {real.shape[0]} real images")
    threads = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            rng = torch.Generator().manual_seed(seed)
            real_train, real_test, gen_train, gen_test = _split(
                real.shape[0], generated.shape[0], groups, size, train_fraction, rng
            )
            n_train, n_test = real_train.numel(), real_test.numel()
            if n_train == 0 or n_test == 0:
                raise ValueError(f"empty part: {n_train} images per class to train, {n_test} to test")
            train_x = _quantise(torch.cat([real[real_train], generated[gen_train]]), levels) * 2 - 1
            test_x = _quantise(torch.cat([real[real_test], generated[gen_test]]), levels) * 2 - 1
            train_y = torch.cat([torch.zeros(n_train), torch.ones(n_train)])
            test_y = torch.cat([torch.zeros(n_test), torch.ones(n_test)])
            network = c2st_classifier(real.shape[2:], channels)
            optimiser = torch.optim.Adam(network.parameters(), lr=learning_rate)
            criterion = nn.BCEWithLogitsLoss()
            network.train()
            for _ in range(epochs):
                order = torch.randperm(train_x.shape[0], generator=rng)
                for start in range(0, order.numel(), batch_size):
                    index = order[start : start + batch_size]
                    if index.numel() < 2:  # batch norm needs two images
                        continue
                    x = train_x[index]
                    if flip_dim is not None:
                        flip = torch.rand(x.shape[0], generator=rng) < 0.5
                        x = torch.where(flip.view(-1, *[1] * (x.ndim - 1)), x.flip(flip_dim), x)
                    optimiser.zero_grad()
                    criterion(network(x).view(-1), train_y[index]).backward()
                    optimiser.step()
            network.eval()
            with torch.no_grad():
                logits = torch.cat([network(x).view(-1) for x in torch.split(test_x, batch_size)])
    finally:
        torch.set_num_threads(threads)
    correct = int(((logits > 0).float() == test_y).sum())
    return {
        "accuracy": correct / test_y.numel(),
        "p_value": float(binomtest(correct, test_y.numel(), 0.5, alternative="greater").pvalue),
        "train_per_class": n_train,
        "test_per_class": n_test,
    }
