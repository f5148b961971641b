"""Run every task's benchmark and collect their tables into ``benchmarks/RESULTS.md``.

Each ``benchmarks/<task>.py`` is a script that prints its quality table (method vs baselines) and its
speed table (this project vs the named peer or baseline) as markdown on standard output; ``real_brain.py``
prints the shipped weights against their baselines on the real Colin27 brain (skipped, with a message, where
Debian's ``mricron-data`` cannot be had). This runner
runs them one after another (they share the machine: never in parallel, so timings are fair), shows
their progress on standard error, and writes the collected markdown with the machine and the date.

Usage::

    python benchmarks/run_all.py [--only reconstruction registration] [--out benchmarks/RESULTS.md]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


#: scripts of this folder that are not task benchmarks: this runner and the metadata check (it takes a bundle)
TOOLS = (Path(__file__).name, "reproduce_metadata.py")


def benchmark_scripts() -> list[Path]:
    """The task benchmark scripts: every ``benchmarks/*.py`` except :data:`TOOLS`."""
    return sorted(p for p in HERE.glob("*.py") if p.name not in TOOLS and not p.name.startswith("_"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", help="task names (script stems) to run; default all")
    parser.add_argument("--out", default=str(HERE / "RESULTS.md"), help="markdown file to write")
    args = parser.parse_args(argv)
    scripts = [s for s in benchmark_scripts() if not args.only or s.stem in args.only]
    if not scripts:
        print(f"no benchmark scripts matched {args.only}", file=sys.stderr)
        return 2
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    sections = [
        "# Benchmarks",
        "",
        f"Run {now} on {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
        f"Python {platform.python_version()}. All data are SYNTHETIC subjects derived from MNI152, except the "
        "real_brain section's (Colin27, a real brain used only for validation).",
        "",
    ]
    failed = []
    for script in scripts:
        print(f"[benchmarks] {script.stem} ...", file=sys.stderr, flush=True)
        started = time.time()
        result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=HERE.parent)
        seconds = time.time() - started
        sections += [f"## {script.stem}", ""]
        if result.returncode == 0:
            sections += [result.stdout.strip(), "", f"_{script.name}: {seconds:.0f} s._", ""]
        else:
            failed.append(script.stem)
            sections += [f"**FAILED** (exit {result.returncode}):", "", "```", result.stderr.strip()[-3000:], "```", ""]
        print(f"[benchmarks] {script.stem}: {'ok' if result.returncode == 0 else 'FAILED'} in {seconds:.0f} s",
              file=sys.stderr, flush=True)  # fmt: skip
    Path(args.out).write_text("\n".join(sections) + "\n")
    print(f"[benchmarks] wrote {args.out}" + (f"; failed: {', '.join(failed)}" if failed else ""), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
