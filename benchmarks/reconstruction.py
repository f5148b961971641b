"""Reconstruction benchmark: E2E VarNet and Deep Cascade CNN against zero-filled and compressed sensing.

Quality: the test split of the demo data (``mri-monai make-data reconstruction --subjects 12 --seed 0``, made in
``demo_data/reconstruction``, the bundles' default, when missing; the two test subjects are not used in training),
fastMRI random 1D Cartesian masks at 4x (centre 0.08) and 8x (centre 0.04), one mask per volume seeded by the file
name, NMSE / PSNR / SSIM per volume as fastMRI defines them (means over the test volumes). Multi-coil rows compare
the VarNet with zero-filled RSS and L1-wavelet CS with ESPIRiT maps; single-coil rows the cascade with zero-filled
and L1-wavelet CS. Speed: seconds per slice (8 coils, the data's 160 x 128, and the same slice's k-space zero-padded
to fastMRI's 320 x 320 with a 4x mask drawn at that width) on one CPU thread (``--threads``: more torch threads; the
cores the CS pipeline keeps busy are printed, as it sets its own), medians of repeated runs, side by side in
one run: the whole CS pipeline (ESPIRiT + L1-wavelet) against the VarNet forward pass (with its sensitivity
estimation), and our VarNet against ``fastmri.models.VarNet`` at the same configuration (``pip install fastmri``;
benchmark only), both with the shipped U-Net layout (``unet_topology`` of the bundle's inference config) and with
the other one (same configuration, untrained: the forward's cost does not depend on the weights), with a
torch-profiler breakdown of the forwards by operator group. Sizes: the CS pipeline against untrained E2E VarNets
from the shipped configuration down to 1.2 M parameters, to show how far a smaller network moves the speed ratio
(:data:`SMALLER_CONFIGS`). Ceiling: the SSIM the noisy RSS references leave
reachable, from oracles that know each test subject's noiseless image (the subjects are made again from their seeds;
see :func:`ceiling`). Prints the tables as markdown. All data are SYNTHETIC.

Usage::

    python benchmarks/reconstruction.py [--data DIR] [--repeats 5] [--threads 1] [--only quality|speed|sizes|ceiling]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from monai.bundle import ConfigParser
from monai.data import load_decathlon_datalist
from monai.transforms import Compose, SpatialPad
from torch import Tensor

from mri_monai.data.acquisition import simulate_kspace
from mri_monai.data.tasks import make_task_data, make_task_subject, reconstruction_kspace_seed, reconstruction_slab
from mri_monai.kspace import ifft2c, rss
from mri_monai.metrics import fastmri_metrics
from mri_monai.recon import (
    CompressedSensingd,
    E2EVarNet,
    KspaceSliceInferer,
    LoadFastMRId,
    Undersampled,
    ZeroFilledScaled,
    compressed_sensing,
)

ROOT = Path(__file__).resolve().parents[1]
BUNDLES = {"multicoil": "brain_mri_varnet_reconstruction", "singlecoil": "brain_mri_cascade_reconstruction"}
NETWORK_NAMES = {"multicoil": "E2E VarNet", "singlecoil": "Deep Cascade CNN"}


def inference_config(coil_key: str) -> ConfigParser:
    """The inference configuration of the bundle for ``coil_key``, with its ``bundle_root``."""
    bundle = ROOT / "bundles" / BUNDLES[coil_key]
    config = ConfigParser()
    config.read_config(str(bundle / "configs" / "inference.json"))
    config["bundle_root"] = str(bundle)
    return config


def load_network(coil_key: str) -> tuple[torch.nn.Module, ConfigParser]:
    """The bundle's network with its shipped weights, and its inference configuration."""
    bundle = ROOT / "bundles" / BUNDLES[coil_key]
    config = inference_config(coil_key)
    network = config.get_parsed_content("network_def", instantiate=True)
    network.load_state_dict(torch.load(bundle / "models" / "model.pt", weights_only=True, map_location="cpu"))
    return network.eval(), config


def quality(data: Path, accelerations: list[int]) -> list[tuple[str, str, str, dict[str, float]]]:
    """(data, acceleration, method, mean metrics) rows over the test split."""
    rows = []
    test = load_decathlon_datalist(str(data / "datalist.json"), True, "test")
    for coil_key in ("multicoil", "singlecoil"):
        network, config = load_network(coil_key)
        prepare = Compose(
            [
                LoadFastMRId(coil_key),
                Undersampled("kspace", config["mask_type"], config["center_fractions"], config["accelerations"]),
                ZeroFilledScaled("kspace"),
                CompressedSensingd("kspace"),
            ]
        )
        inferer = KspaceSliceInferer(slice_batch=4)
        for acceleration in accelerations:
            per_method: dict[str, list[dict[str, float]]] = {}
            for entry in test:
                d = prepare(dict(entry, acceleration=acceleration))
                scale = d["scale"].reshape(-1, 1, 1)
                with torch.no_grad():
                    pred = inferer(d["kspace"][None], network, d["mask"][None])[0] * scale
                target = d["target"] * scale
                for method, image in (
                    ("zero-filled", d["zero_filled"]),
                    ("CS (L1-wavelet" + (", ESPIRiT)" if coil_key == "multicoil" else ")"), d["compressed_sensing"]),
                    (NETWORK_NAMES[coil_key], pred),
                ):
                    per_method.setdefault(method, []).append(fastmri_metrics(target, image))
            for method, values in per_method.items():
                means = {m: statistics.mean(v[m] for v in values) for m in ("nmse", "psnr", "ssim")}
                rows.append((coil_key, f"{acceleration}x", method, means))
            print(f"[reconstruction] quality {coil_key} {acceleration}x done", file=sys.stderr, flush=True)
    return rows


def ceiling(data: Path, accelerations: list[int]) -> list[tuple[str, str, dict[str, float]]]:
    """(acceleration, oracle, mean metrics) rows: how close to the noisy RSS reference a reconstruction can come.

    Each multi-coil test subject is made again (:func:`~mri_monai.data.tasks.make_task_subject`), which gives its
    noiseless coil k-space and so the exact noise of the stored k-space. The oracles know the noiseless image:

    - ``noiseless image``: the magnitude image before noise (what a perfect denoiser returns);
    - ``noiseless + RSS floor``: ``sqrt(m^2 + 2 C sigma^2)``, the root mean square of the noisy RSS given the
      image ``m`` (C coils, sigma per real/imaginary part), i.e. the noiseless image with the background level the
      reference has;
    - ``data-consistent``: the noiseless coil k-space with the measured (noisy) k-space at the sampled columns, RSS
      (a perfect network with hard data consistency: the noise it cannot know is the noise at the unsampled columns);
    - ``data-consistent + floor``: the same with the missing noise power ``(1 - s) 2 C sigma^2`` added under the
      root (``s`` the sampled fraction).

    Raises:
        ValueError: the stored k-space is not the one ``make-data`` makes for the subject (other seeds or options).
    """
    datalist = json.loads((data / "datalist.json").read_text())
    subjects = sum(len(datalist[split]) for split in ("training", "validation", "test"))
    config = inference_config("multicoil")
    undersample = Undersampled("kspace", config["mask_type"], config["center_fractions"], config["accelerations"])
    load = LoadFastMRId("multicoil")
    per_oracle: dict[tuple[str, str], list[dict[str, float]]] = {}
    for entry in datalist["test"]:
        d = load({"multicoil": str(data / entry["multicoil"])})
        measured, target = d["kspace"], d["target"]
        subject = make_task_subject(
            "reconstruction", int(entry["subject"].removeprefix("sub-")), subjects, int(datalist["seed"])
        )
        slab = reconstruction_slab(subject)[0]
        coils = measured.shape[1]
        noiseless = torch.from_numpy(
            simulate_kspace(slab, coils, float("inf"), seed=reconstruction_kspace_seed(subject, coils)).kspace
        )
        noise = measured - noiseless
        sigma = float(torch.cat([noise.real.flatten(), noise.imag.flatten()]).std())
        # complex Gaussian noise has mean |n| = sqrt(pi / 2) sigma; structured k-space (another subject) does not
        if abs(float(noise.abs().mean()) / sigma - (torch.pi / 2) ** 0.5) > 0.05:
            raise ValueError(f"{d['filename']}: the k-space is not the one make-data makes for this subject")
        image = torch.from_numpy(slab)
        floor = 2 * coils * sigma**2
        per_oracle.setdefault(("any", "noiseless image"), []).append(fastmri_metrics(target, image))
        per_oracle.setdefault(("any", "noiseless + RSS floor"), []).append(
            fastmri_metrics(target, (image**2 + floor).sqrt())
        )
        for acceleration in accelerations:
            mask = undersample({"kspace": measured, "filename": d["filename"], "acceleration": acceleration})["mask"]
            consistent = rss(ifft2c(torch.where(mask.bool(), measured, noiseless)), dim=1)
            sampled = float(mask.float().mean())
            key = f"{acceleration}x"
            per_oracle.setdefault((key, "data-consistent"), []).append(fastmri_metrics(target, consistent))
            per_oracle.setdefault((key, "data-consistent + floor"), []).append(
                fastmri_metrics(target, (consistent**2 + (1 - sampled) * floor).sqrt())
            )
        print(f"[reconstruction] ceiling {entry['subject']} done", file=sys.stderr, flush=True)
    return [
        (key, oracle, {m: statistics.mean(v[m] for v in values) for m in ("nmse", "psnr", "ssim")})
        for (key, oracle), values in per_oracle.items()
    ]


def median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up (numba compilation, allocator)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


OPERATOR_GROUPS = {
    "convolution": ("aten::mkldnn_convolution", "aten::_slow_conv2d_forward"),
    "pooling": ("aten::max_pool2d_with_indices", "aten::avg_pool2d", "aten::maximum"),
    "normalisation": ("aten::native_batch_norm", "aten::native_group_norm"),
    "FFT": ("aten::_fft_c2c",),
}


def profile_ms(forward: Callable[[], None], calls: int = 3) -> dict[str, float]:
    """Self CPU milliseconds of ``calls`` runs of ``forward`` per :data:`OPERATOR_GROUPS` group, and ``total``."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(calls):
            forward()
    self_ms = {e.key: e.self_cpu_time_total / 1000 for e in prof.key_averages()}
    groups = {name: sum(self_ms.get(op, 0.0) for op in ops) for name, ops in OPERATOR_GROUPS.items()}
    return {**groups, "total": sum(self_ms.values())}


def speed_slices(
    data: Path, config: ConfigParser, sizes: tuple[tuple[int, int] | None, ...]
) -> dict[str, tuple[Tensor, Tensor]]:
    """The middle slice of the first test volume, 4x undersampled and scaled, at each of ``sizes``.

    ``None`` keeps the data's matrix; (H, W) zero-pads the fully sampled k-space to it first (the same field of view
    at a finer grid, as a 320 x 320 fastMRI matrix), and the 4x mask is drawn at the new width. Returns
    ``"H x W"``: (complex k-space (C, H, W), mask (1, W)).
    """
    entry = load_decathlon_datalist(str(data / "datalist.json"), True, "test")[0]
    loaded = LoadFastMRId("multicoil")(entry)
    full = loaded["kspace"][loaded["kspace"].shape[0] // 2]
    undersample = Compose(
        [
            Undersampled("kspace", config["mask_type"], config["center_fractions"], config["accelerations"]),
            ZeroFilledScaled("kspace"),
        ]
    )
    slices = {}
    for size in sizes:
        kspace = full if size is None else SpatialPad(size, method="symmetric")(full).as_tensor()
        d = undersample({"kspace": kspace, "filename": loaded["filename"], "acceleration": 4})
        slices[f"{kspace.shape[-2]} x {kspace.shape[-1]}"] = d["kspace"], d["mask"][0]
    return slices


def varnet_forward(net: torch.nn.Module, kspace: Tensor, mask: Tensor) -> Callable[[], None]:
    """A no-argument call of ``net`` on one (C, H, W) slice and its mask, without gradients, to time or profile."""

    def forward() -> None:
        with torch.no_grad():
            net(kspace[None], mask[None])

    return forward


def million_parameters(net: torch.nn.Module) -> float:
    """Number of parameters of ``net`` in millions."""
    return sum(p.numel() for p in net.parameters()) / 1e6


def cs_timing(kspace: Tensor, mask: Tensor, repeats: int) -> tuple[float, float]:
    """The whole CS pipeline (ESPIRiT maps + L1-wavelet) on one (C, H, W) slice: median seconds, and the cores it kept
    busy (process CPU time / wall time over the warm-up and the timed runs)."""
    cpu_started, wall_started = time.process_time(), time.perf_counter()
    seconds = median_seconds(lambda: compressed_sensing(kspace, mask), repeats)
    return seconds, (time.process_time() - cpu_started) / (time.perf_counter() - wall_started)


def speed(
    kspace: Tensor, mask: Tensor, cs_seconds: float, network: torch.nn.Module, config: ConfigParser, repeats: int
) -> tuple[list[tuple[str, float]], dict[str, dict[str, float]]]:
    """(what, seconds per slice) rows for one (C, H, W) slice and its CS pipeline seconds (:func:`cs_timing`, same
    run), and the forwards' profiles."""
    shipped = config["network_def#unet_topology"]
    ours = varnet_forward(network, kspace, mask)
    rows = [
        ("CS pipeline: ESPIRiT + L1-wavelet, 30 iterations (sigpy)", cs_seconds),
        (f"E2E VarNet forward (mri_monai, shipped weights, unet_topology={shipped})", median_seconds(ours, repeats)),
    ]
    try:
        import fastmri.models
    except ImportError:
        rows.append(("fastmri.models.VarNet: not installed (pip install fastmri)", float("nan")))
        return rows, {}
    reference = fastmri.models.VarNet(
        num_cascades=config["num_cascades"], chans=config["chans"], sens_chans=config["sens_chans"]
    ).eval()
    kspace_2ch, mask_2ch = torch.view_as_real(kspace)[None], mask.reshape(1, 1, 1, -1, 1)
    num_low = int(kspace.shape[-1] * config["center_fractions"][0])

    def fastmri_forward() -> None:
        with torch.no_grad():
            reference(kspace_2ch, mask_2ch, num_low)

    other = "monai" if shipped == "fastmri" else "fastmri"
    topology = E2EVarNet(config["num_cascades"], config["chans"], config["sens_chans"], unet_topology=other).eval()
    forwards = {
        f"ours, {shipped} topology": ours,
        "fastMRI": fastmri_forward,
        f"ours, {other} topology": varnet_forward(topology, kspace, mask),
    }
    seconds: dict[str, list[float]] = {name: [] for name in forwards}
    for _ in range(3):  # interleaved, so that load changes hit all alike
        for name, forward in forwards.items():
            seconds[name].append(median_seconds(forward, repeats))
    ours_m, theirs_m, topology_m = (million_parameters(n) for n in (network, reference, topology))
    rows += [
        (
            f"E2E VarNet forward (mri_monai, unet_topology={shipped}, {ours_m:.2f} M parameters), interleaved",
            statistics.median(seconds[f"ours, {shipped} topology"]),
        ),
        (
            f"fastmri.models.VarNet forward, same configuration ({theirs_m:.2f} M parameters)",
            statistics.median(seconds["fastMRI"]),
        ),
        (
            f"E2E VarNet forward, unet_topology={other} ({topology_m:.2f} M parameters, untrained)",
            statistics.median(seconds[f"ours, {other} topology"]),
        ),
    ]
    return rows, {name: profile_ms(forward) for name, forward in forwards.items()}


#: (num_cascades, chans, sens_chans) of the size sweep after the shipped configuration: ever smaller networks.
SMALLER_CONFIGS = ((6, 8, 4), (4, 8, 4), (4, 6, 4))


def size_sweep(
    kspace: Tensor, mask: Tensor, config: ConfigParser, repeats: int
) -> list[tuple[tuple[int, int, int], float, float]]:
    """(configuration, M parameters, forward seconds) of untrained E2E VarNets on one (C, H, W) slice.

    The configurations are the shipped one (``config``'s ``num_cascades``, ``chans``, ``sens_chans``, with its
    ``unet_topology``) and :data:`SMALLER_CONFIGS`. The forward time does not depend on the weights, so untrained
    networks tell how far a smaller network would move the CS / VarNet speed ratio; each size's quality would need
    its own training.
    """
    shipped = (config["num_cascades"], config["chans"], config["sens_chans"])
    rows = []
    for cfg in (shipped, *SMALLER_CONFIGS):
        net = E2EVarNet(*cfg, unet_topology=config["network_def#unet_topology"]).eval()
        rows.append((cfg, million_parameters(net), median_seconds(varnet_forward(net, kspace, mask), repeats)))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT / "demo_data" / "reconstruction"))
    parser.add_argument("--accelerations", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch threads for the speed parts (default 1)")
    parser.add_argument("--only", choices=["quality", "speed", "sizes", "ceiling"], help="run one of the four parts")
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
    torch.set_num_threads(args.threads)
    data = Path(args.data)
    if not (data / "datalist.json").is_file():
        make_task_data("reconstruction", data, subjects=12, seed=0, progress=False)

    if args.only in (None, "quality"):
        print_quality(data, args.accelerations)
    if args.only in (None, "speed", "sizes"):
        config = inference_config("multicoil")
        slices = speed_slices(data, config, (None, (320, 320)))  # the data's matrix, and fastMRI's
        cs = {size: cs_timing(kspace, mask, args.repeats) for size, (kspace, mask) in slices.items()}
        busy = ", ".join(f"{size} {cores:.2f}" for size, (_, cores) in cs.items())
        print(f"\nCS pipeline, cores kept busy (CPU time / wall time) with {threads_label()}: {busy}.")
        if args.only in (None, "speed"):
            print_speed(slices, {size: seconds for size, (seconds, _) in cs.items()}, config, args.repeats)
        if args.only in (None, "sizes"):
            print_sizes(slices, {size: seconds for size, (seconds, _) in cs.items()}, config, args.repeats)
    if args.only in (None, "ceiling"):
        print_ceiling(data, args.accelerations)
    return 0


def threads_label() -> str:
    """How many torch threads the timings use, for the table titles."""
    threads = torch.get_num_threads()
    return "one CPU thread" if threads == 1 else f"{threads} torch threads"


def print_quality(data: Path, accelerations: list[int]) -> None:
    print("### Quality (synthetic test subjects, random 1D Cartesian masks; means over volumes)\n")
    print("| data | acceleration | method | NMSE | PSNR (dB) | SSIM |")
    print("|---|---|---|---|---|---|")
    for coil_key, acceleration, method, m in quality(data, accelerations):
        print(f"| {coil_key} | {acceleration} | {method} | {m['nmse']:.4f} | {m['psnr']:.2f} | {m['ssim']:.4f} |")


def print_ceiling(data: Path, accelerations: list[int]) -> None:
    print("\n### Ceiling (multi-coil test subjects against their noisy RSS references; oracles that know the noiseless")
    print("image, see `ceiling`)\n")
    print("| acceleration | oracle | NMSE | PSNR (dB) | SSIM |")
    print("|---|---|---|---|---|")
    for acceleration, oracle, m in ceiling(data, accelerations):
        print(f"| {acceleration} | {oracle} | {m['nmse']:.4f} | {m['psnr']:.2f} | {m['ssim']:.4f} |")


def print_speed(
    slices: dict[str, tuple[Tensor, Tensor]], cs: dict[str, float], config: ConfigParser, repeats: int
) -> None:
    network, _ = load_network("multicoil")
    results = {size: speed(k, m, cs[size], network, config, repeats) for size, (k, m) in slices.items()}
    rows = {size: size_rows for size, (size_rows, _) in results.items()}
    print(f"\n### Speed (seconds per slice, 8 coils, {threads_label()}, median)\n")
    print("| what | " + " | ".join(rows) + " |")
    print("|---|" + "---|" * len(rows))
    for i, (what, _) in enumerate(next(iter(rows.values()))):
        print(f"| {what} | " + " | ".join(f"{r[i][1]:.3f}" for r in rows.values()) + " |")
    for size, r in rows.items():
        ratios = f"CS pipeline / VarNet {r[0][1] / r[1][1]:.1f}x"
        if len(r) == 5:
            ratios += f"; fastMRI VarNet / ours: shipped layout {r[3][1] / r[2][1]:.2f}x, "
            ratios += f"other layout {r[3][1] / r[4][1]:.2f}x"
        print(f"\n{size}: {ratios}.")
    for size, (_, profiles) in results.items():
        if not profiles:
            continue
        title = f"VarNet forward by operator, {size} (torch profiler, self CPU ms over 3 forwards, {threads_label()})"
        print(f"\n### {title}\n")
        groups = list(next(iter(profiles.values())))
        print("| VarNet | " + " | ".join(groups) + " |")
        print("|---|" + "---|" * len(groups))
        for name, ms in profiles.items():
            print(f"| {name} | " + " | ".join(f"{ms[g]:.0f}" for g in groups) + " |")


def print_sizes(
    slices: dict[str, tuple[Tensor, Tensor]], cs: dict[str, float], config: ConfigParser, repeats: int
) -> None:
    results = {size: (cs[size], size_sweep(k, m, config, repeats)) for size, (k, m) in slices.items()}
    print(f"\n### VarNet size sweep (untrained networks; seconds per slice, {threads_label()}, median; CS / VarNet)\n")
    print("| (cascades, chans, sens_chans) | M parameters | " + " | ".join(results) + " |")
    print("|---|---|" + "---|" * len(results))
    print("| CS pipeline | - | " + " | ".join(f"{cs:.3f}" for cs, _ in results.values()) + " |")
    for i, (cfg, millions, _) in enumerate(next(iter(results.values()))[1]):
        cells = [f"{rows[i][2]:.3f} ({cs / rows[i][2]:.1f}x)" for cs, rows in results.values()]
        print(f"| {cfg} | {millions:.2f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    sys.exit(main())
