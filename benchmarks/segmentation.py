"""Tumour segmentation benchmark: Vox2Vox against its no-GAN ablation, MONAI's SegResNet and a threshold baseline.

Quality: the bundle's own evaluation (``configs/evaluate.json`` of ``brats_mri_vox2vox_segmentation``, so the numbers
are the ones its metadata and README report) on the test split of the bundle's data (``mri-monai make-data
segmentation --subjects 40 --seed 0 --lesions realistic``, made in ``demo_data/segmentation``, the bundle default,
when missing): Dice and HD95 (mm) of the BraTS regions, mean over the test subjects. Speed: seconds per 96 x 112 x 96
subject on one CPU thread (sliding windows of the bundle's ``roi_size``), and parameter counts. Prints both tables as
markdown. With ``--figure PNG`` it also draws the hardest test case (lowest Vox2Vox mean Dice): the four contrasts, the
ground truth, Vox2Vox and the thresholds. All data are SYNTHETIC.

Usage::

    python benchmarks/segmentation.py [--data DIR] [--figure docs/hardest_case.png]
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile
import time
from pathlib import Path

import torch
from monai.bundle import ConfigParser
from monai.networks.nets import SegResNet

from mri_monai.bundle_run import evaluation_summary
from mri_monai.data.datalists import load_datalist_split
from mri_monai.data.tasks import make_task_data
from mri_monai.networks.weights import load_state
from mri_monai.segmentation import METHOD_NAMES, ThresholdSegmentation, hardest_case, write_case_figure

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "bundles" / "brats_mri_vox2vox_segmentation"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT / "demo_data" / "segmentation"))
    parser.add_argument("--figure", help="write the hardest test case's figure (PNG) here")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = "1"  # also for the bundle's evaluate process
    data = Path(args.data)
    if not (data / "datalist.json").is_file():
        make_task_data("segmentation", data, subjects=40, seed=0, progress=False, lesions="realistic")

    with tempfile.TemporaryDirectory() as tmp:
        summary = evaluation_summary(BUNDLE, data, Path(tmp) / "eval", overrides={"num_workers": "0"})
        hardest = hardest_case(Path(tmp) / "eval" / "metrics.csv")
    tests = load_datalist_split(data / "datalist.json", "test", data)
    print(f"BraTS regions on {len(tests)} SYNTHETIC test subjects (mean over subjects; HD95 in mm)\n")
    metrics = list(summary["methods"]["network"])
    print("| method | " + " | ".join(metrics) + " |\n|---|" + "---|" * len(metrics))
    for method, values in summary["methods"].items():
        print(f"| {METHOD_NAMES.get(method, method)} | " + " | ".join(f"{values[m]:.4f}" for m in metrics) + " |")

    config = ConfigParser()
    config.read_config(str(BUNDLE / "configs" / "inference.json"))
    config.update({"bundle_root": str(BUNDLE), "dataset_dir": str(data)})
    generator = config.get_parsed_content("network_def")
    networks = {
        "network": load_state(generator, BUNDLE / "models" / "model.pt"),
        "no_gan": load_state(copy.deepcopy(generator), BUNDLE / "models" / "no_gan.pt"),
        "segresnet": load_state(
            SegResNet(3, init_filters=8, in_channels=4, out_channels=4), BUNDLE / "models" / "segresnet.pt"
        ),
    }
    inferer, preprocessing = config.get_parsed_content("inferer"), config.get_parsed_content("preprocessing")
    if args.figure:
        item = next(t for t in tests if Path(t["image"][0]).parent == Path(hardest).parent)
        title = f"hardest test case {Path(item['image'][0]).parent.name}"
        write_case_figure(preprocessing, inferer, networks["network"], item, args.figure, title)
        print(f"\nhardest test case ({hardest}): {args.figure}")
    image = preprocessing({"image": tests[0]["image"]})["image"][None].as_tensor()
    print("\n| method | seconds per subject (1 CPU thread) | parameters |\n|---|---|---|")
    for name, net in networks.items():
        with torch.no_grad():
            inferer(image, net.eval())  # warm-up
            start = time.perf_counter()
            inferer(image, net)
        params = sum(p.numel() for p in net.parameters())
        print(f"| {METHOD_NAMES[name]} | {time.perf_counter() - start:.2f} | {params:,} |")
    start = time.perf_counter()
    ThresholdSegmentation()(image[0])
    print(f"| {METHOD_NAMES['threshold']} | {time.perf_counter() - start:.2f} | 0 |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
