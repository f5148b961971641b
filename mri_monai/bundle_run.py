"""One workflow of a bundle in bundles/, run in its own process exactly as a user runs it.

The command is ``python -m monai.bundle run`` with the bundle's configs, metadata and logging file, its
``bundle_root``, and the data and output folders given as overrides, so what works here works on the command line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["WORKFLOWS", "BundleRun", "bundle_command", "run_bundle"]

#: workflow name -> config files merged in this order (evaluate.json is merged onto train.json)
WORKFLOWS: dict[str, tuple[str, ...]] = {
    "inference": ("inference.json",),
    "evaluate": ("train.json", "evaluate.json"),
}


@dataclass(frozen=True)
class BundleRun:
    """What one run of a bundle workflow did.

    Attributes:
        bundle: the bundle folder.
        workflow: a key of :data:`WORKFLOWS`.
        output_dir: the run's ``output_dir``.
        log: file holding the run's stdout and stderr.
        seconds: wall time.
        returncode: exit status of the process (0: success).
    """

    bundle: Path
    workflow: str
    output_dir: Path
    log: Path
    seconds: float
    returncode: int

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def error(self, lines: int = 12) -> str:
        """The last ``lines`` lines of the log ('' when the run succeeded)."""
        if self.ok:
            return ""
        text = self.log.read_text(errors="replace").strip().splitlines() if self.log.is_file() else []
        return "\n".join(text[-lines:]) or f"exit status {self.returncode}"

    def summary(self) -> dict | None:
        """``metrics_summary.json`` written by an evaluate run, ``None`` when there is none."""
        path = self.output_dir / "metrics_summary.json"
        return json.loads(path.read_text()) if path.is_file() else None


def bundle_command(bundle: Path, workflow: str, overrides: Mapping[str, str]) -> list[str]:
    """The ``python -m monai.bundle run`` command line of ``workflow`` of ``bundle`` with ``overrides``."""
    if workflow not in WORKFLOWS:
        raise ValueError(f"unknown workflow {workflow!r}; choose from {sorted(WORKFLOWS)}")
    configs = [str(bundle / "configs" / name) for name in WORKFLOWS[workflow]]
    command = [sys.executable, "-m", "monai.bundle", "run"]
    command += ["--config_file", configs[0] if len(configs) == 1 else json.dumps(configs)]
    command += ["--meta_file", str(bundle / "configs" / "metadata.json")]
    command += ["--logging_file", str(bundle / "configs" / "logging.conf")]
    command += ["--bundle_root", str(bundle)]
    for key, value in overrides.items():
        command += [f"--{key}", value]
    return command


def run_bundle(
    bundle: str | os.PathLike,
    workflow: str,
    dataset_dir: str | os.PathLike,
    output_dir: str | os.PathLike,
    overrides: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> BundleRun:
    """Run ``workflow`` of ``bundle`` on ``dataset_dir`` into ``output_dir``; its log goes to ``output_dir.log``.

    Args:
        bundle: bundle folder (holding ``configs/`` and ``models/``).
        workflow: ``"inference"`` or ``"evaluate"``.
        dataset_dir: the bundle's ``dataset_dir`` (a folder with ``datalist.json``).
        output_dir: the bundle's ``output_dir``.
        overrides: further ``--key value`` overrides.
        timeout: seconds after which the process is stopped (reported as a failure).

    Returns:
        the :class:`BundleRun`; a failed run does not raise.
    """
    bundle, output_dir = Path(bundle).resolve(), Path(output_dir).resolve()
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    log = output_dir.with_name(output_dir.name + ".log")
    options = {"dataset_dir": str(Path(dataset_dir).resolve()), "output_dir": str(output_dir), **(overrides or {})}
    command = bundle_command(bundle, workflow, options)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "MPLBACKEND": "Agg"}
    started = time.perf_counter()
    with open(log, "w") as stream:
        try:
            code = subprocess.run(command, stdout=stream, stderr=subprocess.STDOUT, env=env, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            stream.write(f"\nstopped after {timeout} s\n")
            code = -1
    return BundleRun(bundle, workflow, output_dir, log, time.perf_counter() - started, code)


def evaluation_summary(
    bundle: str | os.PathLike,
    dataset_dir: str | os.PathLike,
    output_dir: str | os.PathLike | None = None,
    overrides: Mapping[str, str] | None = None,
) -> dict:
    """Run the evaluate workflow of ``bundle`` (see :func:`run_bundle`) and return its ``metrics_summary.json``.

    ``output_dir=None`` runs it in a temporary folder that is removed afterwards (only the summary is wanted).

    Raises:
        RuntimeError: the run failed or wrote no summary; the message holds the end of its log.
    """
    if output_dir is None:
        with tempfile.TemporaryDirectory() as tmp:
            return evaluation_summary(bundle, dataset_dir, Path(tmp) / "eval", overrides)
    run = run_bundle(bundle, "evaluate", dataset_dir, output_dir, overrides)
    summary = run.summary() if run.ok else None
    if summary is None:
        raise RuntimeError(f"{Path(bundle).name} evaluate failed:\n{run.error() or 'no metrics_summary.json'}")
    return summary
