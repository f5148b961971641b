"""Real-brain check: the shipped weights of the reconstruction, enhancement and segmentation bundles against their
classical baselines on data made from Colin27, a real brain that no bundle is trained on (issues #28, #31).

Colin27 is the skull-stripped 1 mm T1w template ``usr/share/mricron/templates/ch2bet.nii.gz`` of Debian's
``mricron-data`` (an average of 27 scans of one person): the script runs ``apt-get download mricron-data`` into
``--cache`` (default ``~/.cache/mri-monai``) and unpacks it with ``dpkg-deb -x``, or reads the file given with
``--colin``; where neither works it prints why and exits 0 (skipped). Colin27 is for validation only: it is never
used in training data. The data are made by :mod:`mri_monai.data.real_brain` and written under ``--out``:

- reconstruction: Colin27 resampled to the reconstruction task's 1.25 mm grid, its 16 axial slices around the
  largest brain section (the training slab), multi-coil (8 simulated coils) and single-coil k-space with a smooth
  background phase, as ``make-data reconstruction`` makes them, at three image SNRs in white matter (100, 30, 10:
  ``sigma`` of each real/imaginary part = mean white-matter magnitude / SNR; white matter = the brightest of three
  multi-level Otsu intensity classes of the brain voxels). The E2E VarNet (multi-coil) and the Deep Cascade
  (single-coil) run through their bundles' inference workflows (``configs/inference.json``: fastMRI random 1D masks,
  centre fraction 0.08 at 4x and 0.04 at 8x, one mask per volume seeded by the file name; ``ZeroFilledScaled``,
  ``KspaceSliceInferer``, ``RescaleOutputd``), against zero-filled and L1-wavelet compressed sensing (ESPIRiT maps
  for multi-coil; ``CompressedSensingd`` with the bundles' ``evaluate.json`` settings). Metrics: fastMRI's volume PSNR
  and SSIM (data range: the reference volume's maximum) against the NOISELESS fully sampled image (the magnitude of
  the object); the fully sampled noisy RSS is scored the same way for context.
- denoising: Colin27 on the denoising task's 1 mm grid (160 x 192 x 160), Rician noise of 3, 5 and 10 % of the image
  maximum added by the bundle's inference workflow (``RicianNoised``, the bundle's definition of the level), the
  network as the workflow runs it (three-plane average) against unbiased non-local means (``nlm_denoise`` with the
  ``evaluate.json`` settings) and the noisy input; PSNR and SSIM over the brain (the bundle's metric: inside the
  brain's bounding box, data range the clean image's maximum).
- super-resolution x2 through-plane: both SR bundles' inference workflows on the same 1 mm volume, which degrade it
  as their ``evaluate.json`` does (2 mm Gaussian slice profile, every second slice, Rician noise 2 %) and interpolate
  it with cubic B-splines; network against cubic, PSNR and SSIM over the brain (the bundles' metric: voxels above
  ``foreground_threshold`` of the reference maximum).
- segmentation: Colin27's anatomy on the segmentation task's 2 mm grid, its CSF / grey / white-matter fractions read
  from its T1w intensities, with one realistic lesion model draw per seed (:data:`LESION_SEEDS`, never tumour-free;
  lesion, mass effect, mimics, simulated T1 / T1ce / T2 / FLAIR and their acquisition as ``make-data segmentation
  --lesions realistic``; :func:`~mri_monai.data.real_brain.write_real_brain_segmentation`): the anatomy is real, the
  contrasts are simulated, since Colin27 is a T1w image only. The bundle's own ``evaluate.json`` scores Vox2Vox, its
  no-GAN ablation, SegResNet and the thresholds (BraTS-region Dice, mean over the cases); the check is the issue's
  ranking: Vox2Vox at least every other method. The figure is the case of lowest Vox2Vox Dice.

Networks come from each bundle's ``configs/inference.json`` with its ``models/model.pt`` (the config's own
``CheckpointLoader``), so retrained weights are picked up unchanged; ``--weights BUNDLE=PATH`` tries other weights
(not for segmentation, whose evaluate workflow reads its three models from the bundle).
Prints one markdown table per part with a pass/fail column against the issue's targets, and writes them with a PNG
figure per part to ``--out`` (default ``benchmarks/real_brain_out/``).

Usage::

    python benchmarks/real_brain.py [--colin PATH] [--cache DIR] [--out DIR] [--only recon,denoising,sr,segmentation]
        [--weights brain_mri_varnet_reconstruction=candidate.pt ...]
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ignite.engine import Events
from monai.bundle import ConfigParser
from monai.engines import Evaluator
from tqdm import tqdm

from mri_monai.bundle_run import WORKFLOWS, evaluation_summary
from mri_monai.data.atomic import save_nifti
from mri_monai.data.real_brain import real_brain_subject, write_real_brain_kspace, write_real_brain_segmentation
from mri_monai.denoising.baselines import nlm_denoise
from mri_monai.metrics import fastmri_metrics, foreground_mask, psnr_box, psnr_masked, ssim_box, ssim_masked
from mri_monai.networks.weights import load_state
from mri_monai.recon import CompressedSensingd
from mri_monai.segmentation import METHOD_NAMES, hardest_case, write_case_figure

ROOT = Path(__file__).resolve().parents[1]
COLIN27 = Path("usr/share/mricron/templates/ch2bet.nii.gz")
PARTS = ("recon", "denoising", "sr", "segmentation")
WHITE_MATTER_SNRS = (100, 30, 10)
ACCELERATIONS = (4, 8)
NOISE_LEVELS = (0.03, 0.05, 0.10)
#: reconstruction bundles by k-space key, with their networks' names
RECONSTRUCTION = {
    "multicoil": ("brain_mri_varnet_reconstruction", "E2E VarNet"),
    "singlecoil": ("brain_mri_cascade_reconstruction", "Deep Cascade CNN"),
}
DENOISING = "brain_mri_denoising"
#: super-resolution bundles, with their networks' names and the output key of the cubic interpolation
SUPER_RESOLUTION = {
    "brain_mri_super_resolution": ("multi-scale fusion CNN", "image"),
    "brain_mri_srgan_3d": ("3D SRGAN", "cubic"),
}
SEGMENTATION = "brats_mri_vox2vox_segmentation"
#: the segmentation cases' seeds: one lesion each in Colin27's anatomy
LESION_SEEDS = tuple(range(27000, 27008))
#: one table row: bundle, condition, method, two metrics (PSNR (dB) and SSIM, or two Dice), target check (empty for
#: baselines)
Row = tuple[str, str, str, float, float, str]


def fetch_colin27(cache: Path) -> tuple[Path | None, str]:
    """Colin27 from Debian's ``mricron-data`` under ``cache`` (downloaded and unpacked once), or why not."""
    target = cache / "mricron-data" / COLIN27
    if target.is_file():
        return target, ""
    cache.mkdir(parents=True, exist_ok=True)
    try:
        got = subprocess.run(["apt-get", "download", "mricron-data"], cwd=cache, capture_output=True, text=True)
        packages = sorted(cache.glob("mricron-data_*.deb"))
        if got.returncode != 0 or not packages:
            return None, f"apt-get download mricron-data failed: {got.stderr.strip()[-300:]}"
        subprocess.run(["dpkg-deb", "-x", str(packages[-1]), str(cache / "mricron-data")], check=True)
    except (OSError, subprocess.CalledProcessError) as error:  # no apt-get / dpkg-deb (not Debian), or a bad package
        return None, f"could not get mricron-data: {error}"
    return (target, "") if target.is_file() else (None, f"{packages[-1].name} holds no {COLIN27}")


def bundle_setting(bundle: str, key: str, workflow: str = "evaluate") -> Any:
    """A plain setting of ``bundle``'s ``workflow`` (its configs merged as :data:`~mri_monai.bundle_run.WORKFLOWS`)."""
    config = ConfigParser()
    config.read_config([str(ROOT / "bundles" / bundle / "configs" / name) for name in WORKFLOWS[workflow]])
    return config[key]


def bundle_version(bundle: str, weights: dict[str, Path]) -> str:
    """``name version`` from the bundle's metadata.json, or the candidate weights' file."""
    if bundle in weights:
        return f"{bundle} with candidate weights {weights[bundle]}"
    metadata = json.loads((ROOT / "bundles" / bundle / "configs" / "metadata.json").read_text())
    return f"{bundle} {metadata['version']}"


def run_inference(
    bundle: str, items: list[dict], dataset_dir: Path, weights: Path | None, progress: tqdm
) -> list[dict]:
    """Run ``bundle``'s inference workflow (``configs/inference.json``, its evaluator) on ``items`` in this process.

    The config's ``dataset#data`` is replaced by ``items`` (data loaded from ``dataset_dir``), its outputs go to a
    temporary folder that is removed, its INFO logs are silenced, and ``weights`` (when given) replaces the
    ``load_path`` of its ``CheckpointLoader``. Returns each item as the workflow's post-processing leaves it (the
    batch's keys and the outputs, e.g. ``pred``), in the order of ``items``.
    """
    root = ROOT / "bundles" / bundle
    config = ConfigParser()
    config.read_config(str(root / "configs" / "inference.json"))
    collected: list[dict] = []
    with tempfile.TemporaryDirectory() as output_dir:
        config.update({"bundle_root": str(root), "dataset_dir": str(dataset_dir), "output_dir": output_dir})
        config.update({"num_workers": 0, "dataset#data": items})
        for i, handler in enumerate(config["handlers"]):
            if weights is not None and handler["_target_"].endswith("CheckpointLoader"):
                config[f"handlers#{i}#load_path"] = str(weights)
        config.get_parsed_content("initialize")
        evaluator: Evaluator = config.get_parsed_content("evaluator")

        def collect(engine: Evaluator) -> None:
            collected.extend({**b, **o} for b, o in zip(engine.state.batch, engine.state.output, strict=True))
            progress.update()

        evaluator.add_event_handler(Events.ITERATION_COMPLETED, collect)
        logging.disable(logging.INFO)  # the workflow's savers log to standard output, which holds the tables
        try:
            evaluator.run()
        finally:
            logging.disable(logging.NOTSET)
    return collected


def volume_row(bundle: str, condition: str, method: str, reference: torch.Tensor, image: torch.Tensor) -> Row:
    """A reconstruction row: fastMRI's volume PSNR and SSIM of (S, H, W) ``image`` against ``reference``."""
    m = fastmri_metrics(reference, torch.as_tensor(image).float())
    return bundle, condition, method, m["psnr"], m["ssim"], ""


def checked(row: Row, check: str) -> Row:
    """``row`` with its target check."""
    return (*row[:5], check)


def verdict(met: bool, margins: str) -> str:
    """The target check of a network row: pass or FAIL, with the margins to its baselines."""
    return f"{'pass' if met else 'FAIL'} ({margins})"


def reconstruction(
    colin: Path, data: Path, weights: dict[str, Path]
) -> tuple[list[Row], dict[str, dict[str, np.ndarray]], dict[str, float]]:
    """Rows of the reconstruction part, the figure's panels (4x, SNR 30, middle slice) and timings."""
    subject = real_brain_subject(colin, "reconstruction")
    files, references = {}, {}
    for snr in WHITE_MATTER_SNRS:
        files[snr], slab = write_real_brain_kspace(subject, data / f"colin27_snr{snr}", snr)
        references[snr] = torch.from_numpy(slab)
    conditions = [(snr, a) for snr in WHITE_MATTER_SNRS for a in ACCELERATIONS]
    rows: list[Row] = []
    panels: dict[str, dict[str, np.ndarray]] = {}
    timings = {"cs_seconds": 0.0, "cs_slices": 0}
    with tqdm(total=4 * len(conditions), desc="[real_brain] reconstruction", file=sys.stderr) as progress:
        for coil_key, (bundle, network_name) in RECONSTRUCTION.items():
            items = [{coil_key: str(files[snr][coil_key]), "acceleration": a} for snr, a in conditions]
            outputs = run_inference(bundle, items, data, weights.get(bundle), progress)
            cs_name = "CS (L1-wavelet" + (", ESPIRiT)" if coil_key == "multicoil" else ")")
            cs = CompressedSensingd(
                "kspace", lamda=bundle_setting(bundle, "cs_lamda"), max_iter=bundle_setting(bundle, "cs_max_iter")
            )
            for (snr, acceleration), item in zip(conditions, outputs, strict=True):
                started = time.perf_counter()
                item = cs(item)
                timings["cs_seconds"] += time.perf_counter() - started
                timings["cs_slices"] += int(item["kspace"].shape[0])
                progress.update()
                reference, condition = references[snr], f"{acceleration}x, SNR {snr}"
                if acceleration == ACCELERATIONS[0]:
                    rows.append(
                        volume_row(bundle, f"SNR {snr}", "fully sampled (noisy RSS)", reference, item["target"])
                    )
                methods = {"zero-filled": "zero_filled", cs_name: "compressed_sensing", network_name: "pred"}
                zf, cs_row, net = (volume_row(bundle, condition, m, reference, item[k]) for m, k in methods.items())
                if coil_key == "multicoil":
                    met = net[4] >= zf[4] + 0.10 and net[4] >= cs_row[4] and net[3] >= cs_row[3] + 2.0
                    margins = f"SSIM {net[4] - zf[4]:+.3f} vs ZF, {net[4] - cs_row[4]:+.3f} vs CS; "
                    net = checked(net, verdict(met, margins + f"PSNR {net[3] - cs_row[3]:+.2f} dB vs CS"))
                else:
                    net = checked(net, verdict(net[4] >= zf[4] + 0.05, f"SSIM {net[4] - zf[4]:+.3f} vs ZF"))
                rows += [zf, cs_row, net]
                if (snr, acceleration) == (30, 4):
                    middle = reference.shape[0] // 2
                    panels[f"{coil_key}, 4x, SNR 30"] = {
                        "reference (noiseless)": reference[middle].numpy(),
                        "zero-filled": np.asarray(item["zero_filled"][middle]),
                        cs_name: np.asarray(item["compressed_sensing"][middle]),
                        network_name: np.asarray(item["pred"][middle]),
                    }
    return rows, panels, timings


def write_enhancement_volume(colin: Path, data: Path) -> Path:
    """Colin27 on the denoising / super-resolution tasks' 1 mm grid (the same grid), as NIfTI in ``data``."""
    subject = real_brain_subject(colin, "denoising")
    return save_nifti(subject.images["t1w"], subject.affine, data / "colin27_t1w.nii.gz")


def denoising(
    volume: Path, weights: dict[str, Path]
) -> tuple[list[Row], dict[str, dict[str, np.ndarray]], dict[str, float]]:
    """Rows of the denoising part, the figure's panels (5 %, middle axial slice) and the NLM seconds per volume."""
    items = [{"image": str(volume), "noise_level": level} for level in NOISE_LEVELS]
    nlm_options = {k: bundle_setting(DENOISING, f"nlm_{k}") for k in ("h_factor", "patch_size", "patch_distance")}
    rows: list[Row] = []
    panels: dict[str, dict[str, np.ndarray]] = {}
    nlm_seconds = 0.0
    with tqdm(total=2 * len(items), desc="[real_brain] denoising", file=sys.stderr) as progress:
        outputs = run_inference(DENOISING, items, volume.parent, weights.get(DENOISING), progress)
        for level, item in zip(NOISE_LEVELS, outputs, strict=True):
            reference, noisy, pred = (torch.as_tensor(item[k])[0].float() for k in ("reference", "image", "pred"))
            started = time.perf_counter()
            nlm = torch.from_numpy(nlm_denoise(noisy, rician=True, **nlm_options))
            nlm_seconds += time.perf_counter() - started
            progress.update()
            condition = f"Rician {level * 100:g} %"
            scored = {
                method: {"psnr": psnr_box(image, reference), "ssim": ssim_box(image, reference)}
                for method, image in (("noisy input", noisy), ("NLM (unbiased)", nlm), ("network", pred))
            }
            for method, m in scored.items():
                check = ""
                if method == "network":
                    gain = m["psnr"] - scored["NLM (unbiased)"]["psnr"]
                    check = verdict(gain >= 1.0, f"PSNR {gain:+.2f} dB vs NLM")
                rows.append((DENOISING, condition, method, m["psnr"], m["ssim"], check))
            if level == 0.05:
                middle = reference.shape[-1] // 2
                panels["Rician 5 %"] = {
                    "reference (clean)": np.rot90(reference[..., middle].numpy()),
                    "noisy input": np.rot90(noisy[..., middle].numpy()),
                    "NLM (unbiased)": np.rot90(nlm[..., middle].numpy()),
                    "network": np.rot90(pred[..., middle].numpy()),
                }
    return rows, panels, {"nlm_seconds": nlm_seconds / len(items)}


def super_resolution(
    volume: Path, weights: dict[str, Path]
) -> tuple[list[Row], dict[str, dict[str, np.ndarray]], dict[str, float]]:
    """Rows of the super-resolution part and the figure's panels (middle coronal slice)."""
    rows: list[Row] = []
    panel: dict[str, np.ndarray] = {}
    with tqdm(total=len(SUPER_RESOLUTION), desc="[real_brain] super-resolution", file=sys.stderr) as progress:
        for bundle, (network_name, cubic_key) in SUPER_RESOLUTION.items():
            item = run_inference(bundle, [{"image": str(volume)}], volume.parent, weights.get(bundle), progress)[0]
            reference, cubic, pred = (torch.as_tensor(item[k]).float() for k in ("label", cubic_key, "pred"))
            mask = foreground_mask(reference, bundle_setting(bundle, "foreground_threshold"))
            condition = f"x2 through-plane, Rician {bundle_setting(bundle, 'noise_level', 'inference') * 100:g} %"
            scored = {"cubic": cubic, network_name: pred}
            metrics = {k: (psnr_masked(v, reference, mask), ssim_masked(v, reference, mask)) for k, v in scored.items()}
            gain = metrics[network_name][0] - metrics["cubic"][0]
            check = verdict(gain >= 2.0, f"PSNR {gain:+.2f} dB vs cubic")
            rows += [
                (bundle, condition, "cubic", *metrics["cubic"], ""),
                (bundle, condition, network_name, *metrics[network_name], check),
            ]
            middle = reference.shape[2] // 2
            coronal = {"reference (1 mm)": reference, "cubic": cubic, network_name: pred}
            panel.update({k: np.rot90(v[0, :, middle, :].numpy()) for k, v in coronal.items()})
    return rows, {"x2 through-plane, coronal": panel}, {}


def segmentation(
    colin: Path, data: Path, out: Path
) -> tuple[list[Row], dict[str, dict[str, np.ndarray]], dict[str, float]]:
    """Rows of the segmentation part (mean and whole-tumour Dice per method); writes its figure,
    ``out / "segmentation.png"``, itself (label maps, not the |error| rows of :func:`save_figure`)."""
    with tqdm(total=2, desc="[real_brain] segmentation", file=sys.stderr) as progress:
        write_real_brain_segmentation(colin, data, LESION_SEEDS)
        progress.update()
        bundle = ROOT / "bundles" / SEGMENTATION
        summary = evaluation_summary(bundle, data, out / "segmentation_eval", overrides={"num_workers": "0"})
        progress.update()
    scores = summary["methods"]
    condition = f"Colin27 anatomy, {len(LESION_SEEDS)} simulated lesions"
    vox2vox = scores["network"]["dice_mean"]
    others = {name: scores[m]["dice_mean"] for m, name in METHOD_NAMES.items() if m != "network"}
    margins = ", ".join(f"{vox2vox - v:+.4f} vs {name}" for name, v in others.items())
    check = verdict(all(vox2vox >= v for v in others.values()), f"mean Dice {margins}")
    rows = [
        (SEGMENTATION, condition, name, scores[m]["dice_mean"], scores[m]["dice_wt"], check if m == "network" else "")
        for m, name in METHOD_NAMES.items()
    ]
    config = ConfigParser()
    config.read_config(str(bundle / "configs" / "inference.json"))
    config.update({"bundle_root": str(bundle), "dataset_dir": str(data)})
    network = load_state(config.get_parsed_content("network_def"), bundle / "models" / "model.pt")
    hardest = hardest_case(out / "segmentation_eval" / "metrics.csv")
    item = next(e for e in config.get_parsed_content("dataset#data") if e["label"] == hardest)
    title = f"Colin27 anatomy, lowest Vox2Vox Dice: {Path(hardest).parent.name}"
    write_case_figure(config.get_parsed_content("preprocessing"), config.get_parsed_content("inferer"), network, item,
                      out / "segmentation.png", title)  # fmt: skip
    return rows, {}, {}


def save_figure(path: Path, title: str, blocks: dict[str, dict[str, np.ndarray]]) -> None:
    """PNG of each block's images (the first is the reference) in a row and their |errors| in the row below.

    Args:
        path: the PNG file.
        title: the figure's title.
        blocks: block label -> {panel title: (H, W) image}; the first image of a block is its reference.
    """
    from matplotlib.figure import Figure

    columns = max(len(panels) for panels in blocks.values())
    fig = Figure(figsize=(2.6 * columns, 5.4 * len(blocks)))
    grid = fig.subplots(2 * len(blocks), columns, squeeze=False)
    for b, (label, panels) in enumerate(blocks.items()):
        reference = next(iter(panels.values()))
        errors = {name: np.abs(image - reference) for name, image in list(panels.items())[1:]}
        top = float(np.percentile(reference, 99.5)) or 1.0
        error_top = max(float(np.percentile(e, 99.5)) for e in errors.values()) or 1.0
        for c, (name, image) in enumerate(panels.items()):
            grid[2 * b, c].imshow(image, cmap="gray", vmin=0.0, vmax=top)
            grid[2 * b, c].set_title(f"{label}\n{name}" if c == 0 else name, fontsize=8)
            if name in errors:
                grid[2 * b + 1, c].imshow(errors[name], cmap="magma", vmin=0.0, vmax=error_top)
                grid[2 * b + 1, c].set_title(f"|{name} - reference|", fontsize=8)
        for ax in grid[2 * b : 2 * b + 2].ravel():
            ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


#: the two metrics of a table's rows: (column name, number format)
Metrics = tuple[tuple[str, str], tuple[str, str]]
PSNR_SSIM: Metrics = (("PSNR (dB)", ".2f"), ("SSIM", ".4f"))


def markdown_table(title: str, rows: list[Row], metrics: Metrics = PSNR_SSIM) -> str:
    """The rows as a markdown table under ``### title``, their two metrics named and formatted by ``metrics``."""
    (first, first_format), (second, second_format) = metrics
    lines = [
        f"### {title}",
        "",
        f"| bundle | condition | method | {first} | {second} | target |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {b} | {c} | {m} | {p:{first_format}} | {s:{second_format}} | {t} |" for b, c, m, p, s, t in rows]
    return "\n".join(lines)


#: part -> (table title, figure file)
PART_TITLES = {
    "recon": (
        "Reconstruction on Colin27 (REAL brain, simulated k-space: 16 axial slices at 1.25 mm, 8 coils or single-coil; "
        "reference: the NOISELESS fully sampled image, the magnitude of the object; fastMRI volume PSNR / SSIM, data "
        "range the reference's maximum; SNR = image SNR in white matter)",
        "reconstruction.png",
    ),
    "denoising": (
        "Denoising on Colin27 (REAL brain, 1 mm, Rician noise as a fraction of the image maximum; reference: the "
        "clean image; PSNR / SSIM inside the brain's bounding box)",
        "denoising.png",
    ),
    "sr": (
        "Super-resolution x2 through-plane on Colin27 (REAL brain, 1 mm reference degraded as the bundles' "
        "evaluate.json degrades; PSNR / SSIM over the brain)",
        "super_resolution.png",
    ),
    "segmentation": (
        "Tumour segmentation in Colin27's anatomy (REAL anatomy on the 2 mm grid, tissue fractions from its T1w; "
        "SIMULATED lesions, mimics and T1 / T1ce / T2 / FLAIR contrasts, as make-data segmentation --lesions "
        "realistic; BraTS-region Dice, mean over the cases)",
        "segmentation.png",
    ),
}
#: the two metrics of a part's rows, where they are not PSNR and SSIM
PART_METRICS: dict[str, Metrics] = {"segmentation": (("mean Dice", ".4f"), ("whole-tumour Dice", ".4f"))}


def run_part(
    part: str, colin: Path, out: Path, weights: dict[str, Path]
) -> tuple[list[Row], dict[str, dict[str, np.ndarray]], dict[str, float]]:
    """Make the part's data from Colin27 under ``out / "data"`` and run it."""
    data = out / "data"
    if part == "recon":
        return reconstruction(colin, data / "reconstruction", weights)
    if part == "segmentation":
        return segmentation(colin, data / "segmentation", out)
    volume = write_enhancement_volume(colin, data / "enhancement")
    runner: Callable = denoising if part == "denoising" else super_resolution
    return runner(volume, weights)


def parse_weights(values: list[str], parser: argparse.ArgumentParser) -> dict[str, Path]:
    """``BUNDLE=PATH`` options as a dict, checked against the bundles this script runs."""
    known = {b for b, _ in RECONSTRUCTION.values()} | {DENOISING} | set(SUPER_RESOLUTION)
    weights = {}
    for value in values:
        name, _, path = value.partition("=")
        if name not in known or not path:
            parser.error(f"--weights wants BUNDLE=PATH with BUNDLE one of {sorted(known)}, got {value!r}")
        if not Path(path).is_file():
            parser.error(f"--weights {value}: no such file")
        weights[name] = Path(path).resolve()
    return weights


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--colin", help="Colin27 ch2bet.nii.gz (default: from Debian's mricron-data)")
    parser.add_argument("--cache", default=str(Path.home() / ".cache" / "mri-monai"), help="download cache")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "real_brain_out"), help="output folder")
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts of {','.join(PARTS)}")
    parser.add_argument("--weights", action="append", default=[], help="BUNDLE=PATH: candidate weights (repeatable)")
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    if not parts or set(parts) - set(PARTS):
        parser.error(f"--only takes parts of {','.join(PARTS)}, got {args.only!r}")
    weights = parse_weights(args.weights, parser)
    if args.colin:
        colin, why = Path(args.colin), f"{args.colin}: no such file"
        colin = colin if colin.is_file() else None
    else:
        colin, why = fetch_colin27(Path(args.cache).expanduser())
    if colin is None:
        print(f"Real-brain check skipped: Colin27 is not available ({why}). Pass --colin PATH to ch2bet.nii.gz.")
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    bundles = {"recon": [b for b, _ in RECONSTRUCTION.values()], "denoising": [DENOISING], "sr": list(SUPER_RESOLUTION),
               "segmentation": [SEGMENTATION]}  # fmt: skip
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    report = [f"Real-brain check run {now}, {torch.get_num_threads()} torch thread(s); Colin27: {colin}."]
    print(report[0], flush=True)
    for part in parts:
        started = time.perf_counter()
        rows, panels, timings = run_part(part, colin, out, weights)
        seconds = time.perf_counter() - started
        title, figure = PART_TITLES[part]
        if panels:  # the segmentation part draws its own
            save_figure(out / figure, title.split(" (")[0], panels)
        versions = ", ".join(bundle_version(b, weights) for b in bundles[part])
        notes = [f"Weights: {versions}. Wall time {seconds:.0f} s."]
        if "cs_slices" in timings:
            per_slice = timings["cs_seconds"] / timings["cs_slices"]
            notes.append(f"CS: {timings['cs_seconds']:.0f} s in all, {per_slice:.2f} s per slice.")
        if "nlm_seconds" in timings:
            notes.append(f"NLM: {timings['nlm_seconds']:.1f} s per volume.")
        table = markdown_table(title, rows, PART_METRICS.get(part, PSNR_SSIM))
        report += ["", table, "", " ".join(notes), "", f"![{part}]({figure})"]
        print("\n".join(report[-5:]), flush=True)
    (out / "real_brain.md").write_text("\n".join(report) + "\n")
    print(f"[real_brain] wrote {out / 'real_brain.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
