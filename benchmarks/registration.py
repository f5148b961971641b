"""Registration benchmark: no registration, Elastix affine, Elastix affine+B-spline, the VoxelMorph bundle's network
and the network with instance optimisation, all on the same held-out pairs in one run.

Data: the test split of ``mri-monai make-data registration --subjects 16 --seed 0`` (made in
``demo_data/registration``, the bundle default, when missing; the shipped weights were trained on its training
split), 2 mm, 96 x 112 x 96. Pairs: the atlas registered to each test subject (``atlas``) and consecutive test
subjects (``subjects``). Metrics: Dice per tissue (CSF, GM, WM) and mean, HD95 (mm), % voxels with det J <= 0,
SD of log det J, wall time per pair; every method runs with the same number of threads (default 1), after a
warm-up that loads ITK's modules and runs the network once. Prints one markdown table per pair mode, the speed
ratios and whether the targets hold. All data are SYNTHETIC (MNI152-derived).

Usage::

    python benchmarks/registration.py [--data DIR] [--bundle DIR] [--modes atlas subjects] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from monai.bundle import ConfigParser

from mri_monai.data.tasks import make_task_data
from mri_monai.registration import (
    METHODS,
    compare_pair,
    load_bundle_network,
    load_pair,
    make_methods,
    markdown_table,
    registration_pairs,
    summarise,
)

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "bundles" / "brain_mri_voxelmorph_registration"


def evaluate_defaults(bundle: Path) -> dict:
    """The instance optimisation settings of the bundle's ``evaluate.json`` (one source for both)."""
    parser = ConfigParser()
    parser.read_config(str(bundle / "configs" / "evaluate.json"))
    options = ("steps", "learning_rate", "regularization_weight", "stride")
    return {option: parser[f"io_{option}"] for option in options}


def targets(summary: dict[str, dict[str, float]]) -> list[str]:
    """The issue's targets, checked on the means of one pair mode."""
    bspline, net, io = summary["elastix_bspline"], summary["network"], summary["network_io"]
    checks = [
        (f"network {bspline['seconds'] / net['seconds']:.0f}x faster than Elastix affine+B-spline (target >= 20x)",
         bspline["seconds"] >= 20 * net["seconds"]),
        (f"network + IO mean Dice {io['dice_mean']:.3f} vs Elastix B-spline {bspline['dice_mean']:.3f} (target >=)",
         io["dice_mean"] >= bspline["dice_mean"]),
        (f"network + IO {bspline['seconds'] / io['seconds']:.1f}x faster than Elastix B-spline (target >= 5x)",
         bspline["seconds"] >= 5 * io["seconds"]),
        (f"folding: network {net['folding_percent']:.3f} %, network + IO {io['folding_percent']:.3f} % "
         "(target < 0.5 %)", max(net["folding_percent"], io["folding_percent"]) < 0.5),
    ]  # fmt: skip
    return [f"- {'PASS' if ok else 'FAIL'}: {text}" for text, ok in checks]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="demo_data/registration", help="registration data folder (made if missing)")
    parser.add_argument("--bundle", default=str(BUNDLE), help="the VoxelMorph bundle folder")
    parser.add_argument("--modes", nargs="+", default=["atlas", "subjects"], choices=["atlas", "subjects"])
    parser.add_argument("--threads", type=int, default=1, help="ITK and torch threads of every method")
    args = parser.parse_args(argv)

    data = Path(args.data)
    if not (data / "datalist.json").is_file():
        make_task_data("registration", data, subjects=16, seed=0, progress=False)
    bundle = Path(args.bundle)
    network = load_bundle_network(bundle)
    methods = make_methods(METHODS, network=network, threads=args.threads, **evaluate_defaults(bundle))
    for method in methods:
        method.warm_up()
    all_ok = True
    for mode in args.modes:
        rows = []
        pairs = registration_pairs(data / "datalist.json", "test", mode)
        for entry in pairs:
            pair = load_pair(entry["fixed_image"], entry["moving_image"], entry["fixed_label"], entry["moving_label"])
            pair_rows, _ = compare_pair(pair, methods)
            rows += pair_rows
            print(f"{mode}: {entry['moving_subject']} -> {entry['fixed_subject']} done", file=sys.stderr, flush=True)
        summary = summarise(rows)
        print(f"\n### Registration, {mode} pairs ({len(pairs)} held-out SYNTHETIC pairs, 2 mm, "
              f"{args.threads} thread(s), means per pair)\n")  # fmt: skip
        print(markdown_table(summary))
        checks = targets(summary)
        all_ok &= all(c.startswith("- PASS") for c in checks)
        print("\n".join(checks))
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
