"""Denoising benchmark: the skip-connection autoencoder against unbiased non-local means and the noisy input.

Quality: the ``brain_mri_denoising`` bundle's own evaluation (``configs/evaluate.json``, so the numbers are the ones
its metadata and README report) on the test split of the demo data (``mri-monai make-data denoising --subjects 12
--seed 0``, made in ``demo_data/denoising``, the bundle default, when missing): PSNR and SSIM at each Rician noise
level, mean over the test subjects; the network as the bundle runs it (mean of axial, coronal and sagittal
slice-by-slice passes, ``planes: [0, 1, 2]``) and, as an ablation, on axial slices only (``--planes [2]``).
Speed: seconds per 160 x 192 x 160 volume on one CPU thread at 5 % noise, for both network variants and for NLM
(scikit-image, with its noise estimate). Prints the tables as markdown. All data are SYNTHETIC.

Usage::

    python benchmarks/denoising.py [--data DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch
from monai.bundle import ConfigParser

from mri_monai.bundle_run import evaluation_summary
from mri_monai.data.tasks import make_task_data
from mri_monai.denoising.baselines import nlm_denoise
from mri_monai.networks.weights import load_state

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "bundles" / "brain_mri_denoising"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT / "demo_data" / "denoising"))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = "1"  # also for the bundle's evaluate process
    data = Path(args.data)
    if not (data / "datalist.json").is_file():
        make_task_data("denoising", data, subjects=12, seed=0, progress=False)

    summary = evaluation_summary(BUNDLE, data, overrides={"num_workers": "0"})
    axial = evaluation_summary(BUNDLE, data, overrides={"num_workers": "0", "planes": "[2]"})
    methods = dict(summary["methods"], **{"network, axial slices only": axial["methods"]["network"]})
    levels = sorted({k.split("_")[1] for k in methods["network"] if "_" in k}, key=lambda s: float(s[:-3]))
    print("Rician noise on the SYNTHETIC test subjects (PSNR dB / SSIM, mean over subjects)\n")
    print("| method | " + " | ".join(f"{level}" for level in levels) + " |\n|---|" + "---|" * len(levels))
    for method, values in methods.items():
        cells = [f"{values[f'psnr_{lv}']:.2f} / {values[f'ssim_{lv}']:.3f}" for lv in levels]
        print(f"| {method} | " + " | ".join(cells) + " |")
    gaps = [methods["network"][f"psnr_{lv}"] - methods["nlm"][f"psnr_{lv}"] for lv in levels]
    print("\nnetwork - NLM, PSNR (dB): " + ", ".join(f"{lv} {g:+.2f}" for lv, g in zip(levels, gaps, strict=True)))

    config = ConfigParser()
    config.read_config(str(BUNDLE / "configs" / "inference.json"))
    config.update({"bundle_root": str(BUNDLE), "dataset_dir": str(data), "noise_level": 0.05})
    net = load_state(config.get_parsed_content("network_def"), BUNDLE / "models" / "model.pt").eval()
    case = dict(config.get_parsed_content("test_datalist")[0], noise_level=0.05)
    item = config.get_parsed_content("preprocessing")(case)
    image = item["image"][None].as_tensor()
    seconds = {}
    for name, planes in (("network (3 planes, the bundle)", [0, 1, 2]), ("network (axial slices only)", [2])):
        config["planes"] = planes
        inferer = config.get_parsed_content("inferer", lazy=False)
        with torch.no_grad():
            start = time.perf_counter()
            inferer(image, net)
            seconds[name] = time.perf_counter() - start
    start = time.perf_counter()
    nlm_denoise(image[0, 0])
    seconds["NLM (unbiased, scikit-image)"] = time.perf_counter() - start
    print(f"\n| method | seconds per {'x'.join(map(str, image.shape[2:]))} volume (1 CPU thread) |\n|---|---|")
    print("\n".join(f"| {name} | {value:.2f} |" for name, value in seconds.items()))
    params = sum(p.numel() for p in net.parameters())
    print(f"\nNetwork: {params:,} parameters.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
