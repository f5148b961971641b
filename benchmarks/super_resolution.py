"""Super-resolution benchmark: the bundle's network against trilinear and cubic B-spline interpolation.

Quality: x2 through-plane (2 mm slices: Gaussian slice profile, every second slice, Rician noise at 2 % of the
maximum) on the test split of the demo data (``mri-monai make-data super_resolution --subjects 12 --seed 0``, made
in ``demo_data/super_resolution``, the bundle default, when missing), PSNR and SSIM inside the head (reference > 5 %
of its maximum). Speed: seconds per 160 x 192 x 160 volume on one CPU thread, for interpolation and for the network
(sliding windows of the bundle's ``roi_size``). Then the 3D SRGAN bundle's own evaluate run on the same test split:
SRGAN, the same generator trained without the adversarial term, cubic and trilinear interpolation, with PSNR, SSIM
and sharpness (mean gradient magnitude in the head relative to the reference). Prints the tables as markdown. All
data are SYNTHETIC.

Usage::

    python benchmarks/super_resolution.py [--data DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from monai.bundle import ConfigParser
from monai.inferers import SlidingWindowInferer
from monai.transforms import LoadImage

from mri_monai.bundle_run import evaluation_summary
from mri_monai.data.datalists import load_datalist_split
from mri_monai.data.readers import ValidatedNibabelReader
from mri_monai.data.tasks import make_task_data
from mri_monai.metrics import foreground_mask, psnr_masked, ssim_masked
from mri_monai.super_resolution.degrade import DegradeResolutiond
from mri_monai.super_resolution.transforms import InterpolateToGrid

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "bundles" / "brain_mri_super_resolution"
SRGAN_BUNDLE = ROOT / "bundles" / "brain_mri_srgan_3d"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT / "demo_data" / "super_resolution"))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    data = Path(args.data)
    if not (data / "datalist.json").is_file():
        make_task_data("super_resolution", data, subjects=12, seed=0, progress=False)

    config = ConfigParser()
    config.read_config(str(BUNDLE / "configs" / "inference.json"))
    scale, noise_level = config["scale"], config["noise_level"]
    net = config.get_parsed_content("network_def", instantiate=True)
    net.load_state_dict(torch.load(BUNDLE / "models" / "model.pt", weights_only=True, map_location="cpu"))
    net.eval()
    inferer = SlidingWindowInferer(roi_size=config["roi_size"], overlap=0.25, mode="gaussian")
    degrade = DegradeResolutiond("image", scale, noise_level=noise_level, deterministic=True)
    load = LoadImage(reader=ValidatedNibabelReader, image_only=True, ensure_channel_first=True)

    scores: dict[str, list[tuple[float, float]]] = {"trilinear": [], "cubic": [], "network": []}
    seconds: dict[str, list[float]] = {name: [] for name in scores}
    for item in load_datalist_split(data / "datalist.json", "test", data):
        hr = load(item["image"])
        hr = hr / float(np.percentile(hr.numpy(), 99))
        lr = degrade({"image": hr})["image"]
        mask = foreground_mask(hr)
        outputs = {}
        for name, order in (("trilinear", 1), ("cubic", 3)):
            start = time.perf_counter()
            outputs[name] = InterpolateToGrid(scale, order=order)(lr, spatial_size=hr.shape[1:])
            seconds[name].append(time.perf_counter() - start)
        start = time.perf_counter()
        with torch.no_grad():
            outputs["network"] = inferer(outputs["cubic"][None].as_tensor(), net)[0]
        seconds["network"].append(time.perf_counter() - start + seconds["cubic"][-1])
        for name, image in outputs.items():
            scores[name].append((psnr_masked(image, hr, mask), ssim_masked(image, hr, mask)))

    n = len(scores["cubic"])
    print(f"x2 through-plane on {n} SYNTHETIC test subjects (PSNR/SSIM inside the head, mean over subjects)\n")
    print("| method | PSNR (dB) | SSIM | gain over cubic (dB) |\n|---|---|---|---|")
    cubic_psnr = np.mean([s[0] for s in scores["cubic"]])
    for name, values in scores.items():
        psnr, ssim = np.mean([v[0] for v in values]), np.mean([v[1] for v in values])
        print(f"| {name} | {psnr:.2f} | {ssim:.4f} | {psnr - cubic_psnr:+.2f} |")
    print("\n| method | seconds per volume (1 CPU thread) |\n|---|---|")
    for name, values in seconds.items():
        print(f"| {name} | {np.mean(values):.2f} |")
    params = sum(p.numel() for p in net.parameters())
    print(f"\nNetwork: {params} parameters, {json.dumps(config['network_def'])}")
    print_srgan_table(data)
    return 0


def print_srgan_table(data: Path) -> None:
    """The SRGAN bundle's evaluate run on ``data``'s test split, as one markdown table."""
    summary = evaluation_summary(SRGAN_BUNDLE, data, overrides={"num_workers": "0"})
    names = {
        "network": "SRGAN",
        "no_gan": "same generator, no adversarial term",
        "cubic": "cubic",
        "trilinear": "trilinear",
    }
    print("\n3D SRGAN (brain_mri_srgan_3d evaluate), x2 through-plane, same test subjects\n")
    print("| method | PSNR (dB) | SSIM | sharpness (1 = reference) |\n|---|---|---|---|")
    for method, values in summary["methods"].items():
        print(f"| {names.get(method, method)} | {values['psnr']} | {values['ssim']} | {values['sharpness']} |")


if __name__ == "__main__":
    sys.exit(main())
