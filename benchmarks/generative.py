"""Translation and synthesis quality (the GAN bundles against their baselines) and the speed of the GAN engines.

Usage: ``python benchmarks/generative.py [--iterations N] [--data DIR] [--synthesis-data DIR]``. Quality: the
``brain_mri_t1_t2_translation`` bundle's own evaluation (its metadata and README numbers) on the test split of
``mri-monai make-data translation --subjects 12 --seed 0`` (made in ``demo_data/translation``, the bundle default,
when missing): MAE, PSNR, SSIM and mutual information of the CycleGAN, the paired reference and histogram matching
in both directions; and the ``brain_mri_t1_slice_synthesis`` bundle's own evaluation on
``mri-monai make-data synthesis --subjects 12 --seed 0`` (``demo_data/synthesis``): nearest-training NCC, copies,
MS-SSIM diversity and tissue-statistics Fréchet distance of 64 samples, the two baselines and held-out real slices.
Speed: seconds per training iteration of ``CycleGanTrainer`` and ``ConditionalGanTrainer``
(batch 1, 128x128 slices) and seconds per 128x128x112 volume for ``SliceTranslator``; the threads are those torch
uses (set ``OMP_NUM_THREADS``). All data are SYNTHETIC.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from ignite.engine import Events
from monai.networks.nets import PatchDiscriminator
from torch.utils.data import DataLoader

from mri_monai.bundle_run import evaluation_summary
from mri_monai.data.tasks import make_task_data
from mri_monai.engines import ConditionalGanTrainer, CycleGanTrainer, PrepareBatchPair
from mri_monai.generative import SliceTranslator
from mri_monai.networks.resnet_generator import ResnetGenerator

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "bundles" / "brain_mri_t1_t2_translation"
SYNTHESIS_BUNDLE = ROOT / "bundles" / "brain_mri_t1_slice_synthesis"


def _summary(bundle: Path, task: str, data: Path) -> dict:
    """The bundle's evaluate summary on ``data``, made as the bundle's README says when missing."""
    if not (data / "datalist.json").is_file():
        make_task_data(task, data, subjects=12, seed=0, progress=False)
    return evaluation_summary(bundle, data)


def translation_table(data: Path) -> None:
    """Print the bundle's evaluation of every method and direction on ``data`` as a markdown table."""
    summary = _summary(BUNDLE, "translation", data)
    print("T1w <-> T2w translation on the SYNTHETIC test subjects (means over subjects)\n")
    print("| method | direction | MAE | PSNR (dB) | SSIM | MI |\n|---|---|---|---|---|---|")
    for method, values in summary["methods"].items():
        for direction in ("t1_to_t2", "t2_to_t1"):
            cells = [values.get(f"{m}_{direction}") for m in ("mae", "psnr", "ssim", "mi")]
            if all(c is not None for c in cells):
                print(f"| {method} | {direction} | " + " | ".join(f"{c:.4f}" for c in cells) + " |")
    print()


def synthesis_table(data: Path) -> None:
    """Print the synthesis bundle's evaluation of the generator, its baselines and real slices on ``data``."""
    methods = _summary(SYNTHESIS_BUNDLE, "synthesis", data)["methods"]
    print("T1w slice synthesis against the SYNTHETIC training and held-out slices (tissue_fd: lower is better)\n")
    print("| method | nearest_ncc | copies | ms_ssim | tissue_fd |\n|---|---|---|---|---|")
    for method, values in methods.items():
        cells = (values[m] for m in ("nearest_ncc", "copies", "ms_ssim", "tissue_fd"))
        print(f"| {method} | " + " | ".join(str(c) for c in cells) + " |")
    print()


def _adam(*nets: torch.nn.Module) -> torch.optim.Optimizer:
    return torch.optim.Adam([p for n in nets for p in n.parameters()], 2e-4, betas=(0.5, 0.999))


def _disc(in_channels: int, device: torch.device) -> torch.nn.Module:
    return PatchDiscriminator(spatial_dims=2, channels=32, in_channels=in_channels, norm="INSTANCE").to(device)


def seconds_per_iteration(kind: str, iterations: int, device: torch.device) -> float:
    """Mean wall time of one training iteration after one warm-up iteration."""
    data = [{"a": torch.rand(1, 128, 128) * 2 - 1, "b": torch.rand(1, 128, 128) * 2 - 1}] * (iterations + 1)
    loader = DataLoader(data, batch_size=1)
    g_ab, g_ba = ResnetGenerator(base_channels=16).to(device), ResnetGenerator(base_channels=16).to(device)
    if kind == "cycle":
        d_a, d_b = _disc(1, device), _disc(1, device)
        trainer = CycleGanTrainer(device, 1, loader, g_ab, g_ba, _adam(g_ab, g_ba), d_a, d_b, _adam(d_a, d_b),
                                  prepare_batch=PrepareBatchPair("a", "b"))  # fmt: skip
    else:
        d = _disc(2, device)
        trainer = ConditionalGanTrainer(device, 1, loader, g_ab, _adam(g_ab), d, _adam(d),
                                        prepare_batch=PrepareBatchPair("a", "b"))  # fmt: skip
    stamps: list[float] = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda _: stamps.append(time.perf_counter()))
    trainer.run()
    return (stamps[-1] - stamps[0]) / (len(stamps) - 1)


def seconds_per_volume(device: torch.device) -> float:
    """Wall time to translate one 128x128x112 volume slice by slice."""
    translate = SliceTranslator(ResnetGenerator(base_channels=16).to(device))
    volume = torch.rand(1, 1, 128, 128, 112, device=device)
    translate(volume[..., :16])
    start = time.perf_counter()
    translate(volume)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--data", default=str(ROOT / "demo_data" / "translation"))
    parser.add_argument("--synthesis-data", default=str(ROOT / "demo_data" / "synthesis"))
    args = parser.parse_args()
    translation_table(Path(args.data))
    synthesis_table(Path(args.synthesis_data))
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    print(f"device {device}, torch threads {torch.get_num_threads()}")
    rows = [
        ("CycleGAN iteration (2 G + 2 D, batch 1, 128x128)", seconds_per_iteration("cycle", args.iterations, device)),
        (
            "pix2pix iteration (1 G + 1 D, batch 1, 128x128)",
            seconds_per_iteration("conditional", args.iterations, device),
        ),
        ("translate one 128x128x112 volume", seconds_per_volume(device)),
    ]
    print("| what | seconds |\n|---|---|")
    for what, seconds in rows:
        print(f"| {what} | {seconds:.3f} |")


if __name__ == "__main__":
    main()
