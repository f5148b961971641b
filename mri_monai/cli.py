"""The ``mri-monai`` command.

Sub-commands:

- ``make-data TASK --out DIR [--subjects N] [--seed S] [--overwrite]``: synthetic data and a datalist
  (``TASK`` may be ``all``: one folder per task under ``DIR``).
- ``demo [--out DIR]``: the main job: demo data for every task, then every bundle on it, with a report.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .errors import InputError

__all__ = ["main", "build_parser"]


def _make_data(args: argparse.Namespace) -> int:
    from .data.tasks import TASKS, make_task_data

    tasks = sorted(TASKS) if args.task == "all" else [args.task]
    options = {"coils": args.coils, "snr": args.snr}
    for task in tasks:
        out = Path(args.out) / task if args.task == "all" else Path(args.out)
        make_task_data(task, out, args.subjects, args.seed, overwrite=args.overwrite, **options)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(Path(args.out), Path(args.data), subjects=args.subjects)


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
    make.add_argument("--snr", type=float, default=40.0, help="reconstruction: image SNR (default 40)")
    make.set_defaults(func=_make_data)

    demo = sub.add_parser("demo", help="demo data for every task, every bundle run on it, and a report")
    demo.add_argument("--out", default="demo_output", help="report folder (default demo_output)")
    demo.add_argument("--data", default="demo_data", help="demo data folder, made if missing (default demo_data)")
    demo.add_argument("--subjects", type=int, default=6, help="subjects per task (default 6)")
    demo.set_defaults(func=_demo)
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
