"""The ``mri-monai`` command.

Sub-commands:

- ``make-data TASK --out DIR [--subjects N] [--seed S] [--overwrite] [--randomise] [--lesions realistic]``: synthetic
  data and a datalist (``TASK`` may be ``all``: one folder per task under ``DIR``; ``--randomise`` for
  domain-randomised subjects; ``--lesions realistic`` for segmentation subjects with realistic gliomas).
- ``demo [--out DIR]``: the main job: demo data for every task, then every bundle on it, with a report.
- ``compare-registration --fixed F --moving M [--fixed-labels FL --moving-labels ML] --out DIR``: no registration,
  Elastix affine and affine+B-spline, and the VoxelMorph bundle's network (alone and with instance optimisation) on
  one pair: ``comparison.csv``, ``comparison.md`` and ``comparison.png`` in ``DIR``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .errors import InputError

__all__ = ["main", "build_parser"]


def _make_data(args: argparse.Namespace) -> int:
    from .data.randomise import DomainRandomisation
    from .data.tasks import TASKS, check_options, make_task_data

    tasks = sorted(TASKS) if args.task == "all" else [args.task]
    options = {"coils": args.coils, "snr": args.snr, "noise": args.noise, "coils_range": tuple(args.coils_range)}
    lesion_options = {  # given only when set, so that the default datalists do not change
        name: value
        for name, value in (("lesions", args.lesions), ("tumour_free", args.tumour_free),
                            ("no_enhancement", args.no_enhancement))
        if value is not None
    }  # fmt: skip
    try:  # make_task_data checks every option before it writes anything
        randomisation = DomainRandomisation(intensity=args.intensity) if args.randomise else None
        if args.task == "all":  # the lesion options are the segmentation task's: check them before any task runs
            check_options({**options, **lesion_options}, "segmentation", args.randomise)
        for task in tasks:
            out = Path(args.out) / task if args.task == "all" else Path(args.out)
            task_options = options if args.task == "all" and task != "segmentation" else {**options, **lesion_options}
            make_task_data(task, out, args.subjects, args.seed, args.overwrite, True, randomisation, **task_options)
    except ValueError as e:
        raise InputError("make-data", str(e)) from None
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    bundles = Path(args.bundles) if args.bundles else None
    return run_demo(Path(args.out), Path(args.data), subjects=args.subjects, bundles_dir=bundles)


def _compare_registration(args: argparse.Namespace) -> int:
    from .registration import METHODS, compare_pair, load_bundle_network, load_pair, make_methods, markdown_table
    from .registration.compare import summarise, write_csv, write_text
    from .registration.report import comparison_figure

    methods = tuple(args.methods.split(",")) if args.methods else METHODS
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise InputError("--methods", f"unknown method(s) {unknown}; choose from {', '.join(METHODS)}")
    pair = load_pair(args.fixed, args.moving, args.fixed_labels, args.moving_labels)
    network = load_bundle_network(args.bundle) if {"network", "network_io"} & set(methods) else None
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError(out, "exists and is not a folder")
    io_options = {"steps": args.io_steps} if args.io_steps is not None else {}
    runners = make_methods(methods, network=network, threads=args.threads, **io_options)
    for runner in runners:
        runner.warm_up()
    rows, results = compare_pair(pair, runners)
    table = markdown_table(summarise(rows))
    write_csv(rows, out / "comparison.csv")
    write_text(f"moving {args.moving} -> fixed {args.fixed}\n\n{table}", out / "comparison.md")
    comparison_figure(pair, results, out / "comparison.png")
    print(table, end="")
    print(f"written: {out / 'comparison.csv'}, {out / 'comparison.md'}, {out / 'comparison.png'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``mri-monai`` command."""
    from .data.tasks import TASKS, describe

    parser = argparse.ArgumentParser(prog="mri-monai", description="MONAI bundles for deep learning across MRI.")
    sub = parser.add_subparsers(dest="command", required=True)

    make = sub.add_parser(
        "make-data",
        help="write synthetic MNI152-derived subjects and a MONAI datalist for a task",
        description="Tasks:\n" + describe(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    make.add_argument("task", choices=[*sorted(TASKS), "all"])
    make.add_argument("--out", required=True, help="output folder (must be empty unless --overwrite)")
    make.add_argument("--subjects", type=int, default=10, help="number of subjects (default 10)")
    make.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    make.add_argument("--overwrite", action="store_true", help="replace a non-empty output folder")
    make.add_argument("--coils", type=int, default=8, help="reconstruction: receive coils (default 8)")
    make.add_argument(
        "--snr", type=float, default=40.0, help="reconstruction: image SNR (default 40; inf: noiseless k-space)"
    )
    make.add_argument(
        "--randomise",
        action="store_true",
        help="domain-randomised subjects: random anatomy, intensities, gamma, bias, blur, head; for reconstruction "
        "also random coils, coil array, phase and field of view (mri_monai.data.randomise)",
    )
    make.add_argument("--intensity", default="mixed", help="with --randomise: physics, gmm or mixed (default mixed)")
    make.add_argument(
        "--coils-range", type=int, nargs=2, default=(4, 24), metavar=("LOW", "HIGH"),
        help="with --randomise, reconstruction: range of the number of coils (default 4 24)",
    )  # fmt: skip
    make.add_argument(
        "--noise", type=float, default=0.03, help="segmentation: Rician noise, fraction of the 99th percentile (0.03)"
    )
    make.add_argument(
        "--lesions",
        help="segmentation: lesion model, simple (default: one concentric tumour per subject, separable by intensity) "
        "or realistic (irregular non-concentric compartments, patchy or absent enhancement, off-centre necrosis, "
        "satellites and second lesions, mass effect, overlapping per-subject intensities, white-matter "
        "hyperintensities and enhancing vessels that are not tumour, bias field, thick slices, misregistration, a "
        "noise level per subject within a factor 2 of --noise, tumour-free subjects; mri_monai.data.realistic_tumour)",
    )
    make.add_argument(
        "--tumour-free", type=float, help="with --lesions realistic: probability of a subject without tumour (0.1)"
    )
    make.add_argument(
        "--no-enhancement",
        type=float,
        help="with --lesions realistic: probability of a lesion without enhancing part (0.25)",
    )
    make.set_defaults(func=_make_data)

    demo = sub.add_parser("demo", help="demo data for every task, every bundle run on it, and a report")
    demo.add_argument("--out", default="demo_output", help="report folder (default demo_output)")
    demo.add_argument("--data", default="demo_data", help="demo data folder, made if missing (default demo_data)")
    demo.add_argument("--subjects", type=int, default=6, help="subjects per task (default 6)")
    demo.add_argument("--bundles", help="folder of the bundles to run (default: those of the installed project)")
    demo.set_defaults(func=_demo)

    reg = sub.add_parser(
        "compare-registration",
        help="register one pair with none / Elastix affine / Elastix B-spline / VoxelMorph (+ instance optimisation)",
        description="Writes comparison.csv, comparison.md and comparison.png (overlays, checkerboard, deformation "
        "grid, Jacobian map) into --out. Label maps give Dice and HD95 per label (1 CSF, 2 GM, 3 WM).",
    )
    reg.add_argument("--fixed", required=True, help="fixed image (NIfTI)")
    reg.add_argument("--moving", required=True, help="moving image (NIfTI)")
    reg.add_argument("--fixed-labels", help="label map of the fixed image (with --moving-labels)")
    reg.add_argument("--moving-labels", help="label map of the moving image (with --fixed-labels)")
    reg.add_argument("--out", required=True, help="output folder")
    reg.add_argument(
        "--bundle",
        default="bundles/brain_mri_voxelmorph_registration",
        help="the VoxelMorph bundle folder (default bundles/brain_mri_voxelmorph_registration)",
    )
    reg.add_argument("--methods", help="comma-separated subset of: none, elastix_affine, elastix_bspline, network, "
                     "network_io (default all)")  # fmt: skip
    reg.add_argument("--threads", type=int, default=1, help="ITK and torch threads of every method (default 1)")
    reg.add_argument("--io-steps", type=int, help="instance optimisation steps (default: InstanceOptimization's)")
    reg.set_defaults(func=_compare_registration)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; bad input and existing outputs give a one-line error and exit status 2."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (InputError, FileExistsError, FileNotFoundError) as e:
        print(f"mri-monai: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
