"""Latent diffusion slice synthesis: the autoencoder engine, the training latents and their scale, the diffusion
training step, the DDIM sampler (alone and in the synthesis evaluation), bad weights, and the pending bundle
``bundles/pending/brain_mri_t1_slice_diffusion`` run end to end with tiny overrides (the slow tests).

The bundle waits in ``bundles/pending/`` until its weights are trained: tests/test_bundles.py checks every folder
of ``bundles/`` against shipped weights and their measured metrics. The checks that need no weights run here.
"""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import nibabel as nib
import numpy as np
import pytest
import test_bundles  # the conformance suite of bundles/ (tests/ is on the path): its lists, runner and checks
import test_distributed
import torch
from ignite.engine import Events
from ignite.handlers import EMAHandler
from monai.engines import SupervisedTrainer
from monai.engines.utils import DiffusionPrepareBatch
from monai.inferers import DiffusionInferer
from monai.networks.nets import AutoencoderKL, DiffusionModelUNet, PatchDiscriminator
from monai.networks.schedulers import DDIMScheduler, DDPMScheduler
from torch.utils.data import DataLoader

import mri_monai
from mri_monai.case_metrics import SUMMARY_KEYS
from mri_monai.engines import AutoencoderKLTrainer, kl_divergence
from mri_monai.errors import InputError
from mri_monai.generative import (
    GaussianSampler,
    LatentDiffusionSampler,
    MeanImageSampler,
    ReconstructionInferer,
    SynthesisEvaluation,
    encode_slices,
    latent_items,
    latent_scale_factor,
    load_latent_scale,
    save_latent_scale,
    seeded_latents,
    slice_items,
)

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "bundles" / "pending" / "brain_mri_t1_slice_diffusion"
SCHEDULE = {"schedule": "scaled_linear_beta", "beta_start": 0.0015, "beta_end": 0.0195}


def _autoencoder() -> AutoencoderKL:
    """A tiny ``AutoencoderKL`` of the bundle's design: (B, 1, X, Y) -> (B, 2, X/4, Y/4) latents."""
    return AutoencoderKL(spatial_dims=2, channels=(8, 8, 8), latent_channels=2, num_res_blocks=1, norm_num_groups=4,
                         attention_levels=(False, False, False), with_encoder_nonlocal_attn=False,
                         with_decoder_nonlocal_attn=False)  # fmt: skip


def _unet() -> DiffusionModelUNet:
    """A tiny ``DiffusionModelUNet`` with attention at its second level, on 2-channel latents."""
    return DiffusionModelUNet(spatial_dims=2, in_channels=2, out_channels=2, channels=(8, 16),
                              attention_levels=(False, True), num_res_blocks=1, num_head_channels=8,
                              norm_num_groups=8)  # fmt: skip


def _discs(n: int, size: int, seed: int = 0) -> torch.Tensor:
    """(n, 1, size, size) bright discs of random centre, radius and brightness on a black background, in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    centre = size * (0.3 + 0.4 * torch.rand(n, 2, generator=g))
    radius, level = size * (0.1 + 0.2 * torch.rand(n, generator=g)), 0.5 + 0.5 * torch.rand(n, generator=g)
    discs = [((yy - c[0]) ** 2 + (xx - c[1]) ** 2 < r**2) * v for c, r, v in zip(centre, radius, level, strict=True)]
    return torch.stack(discs)[:, None].float()


def _ddim() -> DiffusionInferer:
    return DiffusionInferer(DDIMScheduler(num_train_timesteps=1000, clip_sample=False, **SCHEDULE))


def _sampler(out: Path, n: int = 3, size: int = 32, **kwargs) -> LatentDiffusionSampler:
    """A sampler of untrained tiny networks whose weights are drawn at random (an untrained UNet predicts 0)."""
    torch.manual_seed(0)
    unet, autoencoder = _unet(), _autoencoder()
    with torch.no_grad():
        for p in unet.parameters():
            p.normal_(0, 0.05)
    options = {"num_inference_steps": 3, "scale_factor": 1.0, "batch_size": 2, **kwargs}
    return LatentDiffusionSampler(unet, autoencoder, _ddim(), seeded_latents(n, (2, size // 4, size // 4)), out,
                                  **options)  # fmt: skip


def test_kl_divergence_of_the_standard_normal_is_zero():
    assert float(kl_divergence(torch.zeros(2, 3, 4, 4), torch.ones(2, 3, 4, 4))) == pytest.approx(0.0, abs=1e-7)
    # per value 0.5 * (1 + 4 - log 4 - 1), summed over the 12 values of a latent
    value = kl_divergence(torch.ones(2, 3, 2, 2), torch.full((2, 3, 2, 2), 2.0))
    assert float(value) == pytest.approx(12 * 0.5 * (4 - np.log(4)), rel=1e-6)


def test_autoencoder_trainer_reduces_the_loss_and_switches_the_adversarial_term_on():
    torch.manual_seed(0)
    autoencoder = _autoencoder()
    discriminator = PatchDiscriminator(spatial_dims=2, channels=4, in_channels=1, num_layers_d=2)
    d_weights = []  # the discriminator's first kernel after each iteration
    loader = DataLoader(slice_items(_discs(8, 32), "image"), batch_size=8)
    trainer = AutoencoderKLTrainer("cpu", 40, loader, autoencoder, torch.optim.Adam(autoencoder.parameters(), 3e-3),
                                   discriminator, torch.optim.Adam(discriminator.parameters(), 1e-3),
                                   adversarial_start=30)  # fmt: skip
    outputs = []

    @trainer.on(Events.ITERATION_COMPLETED)
    def record(engine):
        outputs.append({k: v for k, v in engine.state.output.items() if k.endswith("loss")})
        d_weights.append(next(discriminator.parameters()).detach().clone())

    trainer.run()
    assert set(outputs[29]) == {"loss", "recon_loss", "kl_loss"}  # iterations 1-30: no adversarial term
    assert set(outputs[30]) == {"loss", "recon_loss", "kl_loss", "g_adv_loss", "d_loss"}
    assert torch.equal(d_weights[0], d_weights[29]) and not torch.equal(d_weights[29], d_weights[30])
    first, last = outputs[0]["recon_loss"], np.mean([o["recon_loss"] for o in outputs[-5:]])
    assert last < 0.5 * first, (first, last)
    pred = trainer.state.output["pred"]
    assert pred.shape == (8, 1, 32, 32) and not pred.requires_grad
    reconstruction = ReconstructionInferer()(_discs(2, 32), autoencoder.eval())  # decoded posterior mean
    assert reconstruction.shape == (2, 1, 32, 32)
    with pytest.raises(ValueError, match="d_network and d_optimizer"):
        AutoencoderKLTrainer("cpu", 1, loader, autoencoder, torch.optim.Adam(autoencoder.parameters()), discriminator)


def test_training_latents_and_their_scale(tmp_path):
    torch.manual_seed(0)
    autoencoder, slices = _autoencoder(), _discs(6, 32)
    latents = encode_slices(autoencoder, slices, batch_size=4)
    assert latents.shape == (12, 2, 8, 8) and not latents.requires_grad
    with torch.no_grad():
        torch.testing.assert_close(latents[:6], autoencoder.encode(slices)[0])  # posterior means
        torch.testing.assert_close(latents[6:], autoencoder.encode(slices.flip(-2))[0])  # then the mirror images
    assert encode_slices(autoencoder, slices, flip=False).shape == (6, 2, 8, 8)
    factor = latent_scale_factor(latents)
    items = latent_items(latents, factor)
    scaled = torch.stack([item["image"] for item in items])
    assert len(items) == 12 and float(scaled.std()) == pytest.approx(1.0, rel=1e-5)
    with pytest.raises(ValueError, match="standard deviation"):
        latent_scale_factor(torch.zeros(3, 2, 4, 4))
    record = save_latent_scale(tmp_path / "scale.json", factor, latents, "ae.pt")
    loaded = load_latent_scale(tmp_path / "scale.json")
    assert loaded["scale_factor"] == pytest.approx(factor) and loaded["latents"] == 12
    assert loaded["latent_shape"] == record["latent_shape"] == [2, 8, 8]


def test_diffusion_training_step_reduces_the_noise_prediction_loss():
    """MONAI's SupervisedTrainer + DiffusionPrepareBatch + DiffusionInferer, with the EMA handler, as train.json."""
    torch.manual_seed(0)
    latents = encode_slices(_autoencoder(), _discs(8, 32), flip=False)
    latents = latents * latent_scale_factor(latents)
    unet, inferer = _unet(), DiffusionInferer(DDPMScheduler(num_train_timesteps=1000, clip_sample=False, **SCHEDULE))
    draw = torch.Generator().manual_seed(1)  # one fixed draw of noise and timesteps to compare losses on
    noise, timesteps = torch.randn(latents.shape, generator=draw), torch.randint(0, 1000, (8,), generator=draw)

    def fixed_loss() -> float:
        with torch.no_grad():
            return float(torch.nn.functional.mse_loss(inferer(latents, unet, noise=noise, timesteps=timesteps), noise))

    before = fixed_loss()  # MONAI's UNet starts with a zero output layer: the loss is the noise's mean square
    ema = EMAHandler(unet, momentum=0.1)
    trainer = SupervisedTrainer("cpu", 60, DataLoader(latent_items(latents, 1.0), batch_size=8), unet,
                                torch.optim.Adam(unet.parameters(), 2e-3), torch.nn.MSELoss(), inferer=inferer,
                                prepare_batch=DiffusionPrepareBatch(num_train_timesteps=1000), decollate=False,
                                train_handlers=[ema])  # fmt: skip
    trainer.run()
    assert fixed_loss() < 0.7 * before, (before, fixed_loss())
    assert not torch.equal(next(ema.ema_model.parameters()), next(unet.parameters()))


def test_sampler_is_deterministic_in_range_and_writes_pngs_and_nifti(tmp_path):
    sampler = _sampler(tmp_path / "a")
    samples = sampler.run()
    assert samples.shape == (3, 1, 32, 32) and samples.min() >= 0 and samples.max() <= 1
    assert float(samples.std()) > 0  # not a constant image
    assert torch.equal(sampler.sample(), samples)
    again = _sampler(tmp_path / "b", batch_size=3).sample(2)  # another batching: the same first samples
    torch.testing.assert_close(again, samples[:2], rtol=1e-4, atol=1e-5)
    stack = nib.load(tmp_path / "a" / "samples.nii.gz")
    assert stack.shape == (32, 32, 3) and np.allclose(np.diag(stack.affine)[:3], 1.5)
    assert plt.imread(tmp_path / "a" / "sample_002.png").shape == (32, 32)
    with pytest.raises(ValueError, match="only 3 latents"):
        sampler.sample(4)


def test_sampler_is_a_method_of_the_synthesis_evaluation(tmp_path):
    training, held_out = _discs(12, 64, seed=1), _discs(10, 64, seed=2)
    methods = {
        "network": _sampler(tmp_path / "samples", n=6, size=64, num_inference_steps=2),
        "gaussian_matched": GaussianSampler(training),
        "mean_image": MeanImageSampler(training),
    }
    summary = SynthesisEvaluation(methods, training, held_out, tmp_path, num_samples=4, grid_samples=2,
                                  c2st_samples=6, c2st_epochs=1).run()  # fmt: skip
    assert set(summary["methods"]) == {"held_out_real", "network", "gaussian_matched", "mean_image"}
    assert {"nearest_ncc", "copies", "ms_ssim", "tissue_fd", "c2st"} <= set(summary["methods"]["network"])
    assert (tmp_path / "samples_grid.png").is_file() and (tmp_path / "metrics.csv").is_file()


def test_sampler_names_missing_or_unfitting_weights_and_scale(tmp_path):
    absent = _sampler(tmp_path, autoencoder_checkpoint=tmp_path / "absent_autoencoder.pt")  # builds fine
    with pytest.raises(FileNotFoundError, match="absent_autoencoder.pt"):
        absent.sample()
    other = AutoencoderKL(spatial_dims=2, channels=(8, 8, 8), latent_channels=3, num_res_blocks=1, norm_num_groups=4,
                          attention_levels=(False, False, False), with_encoder_nonlocal_attn=False,
                          with_decoder_nonlocal_attn=False)  # fmt: skip
    torch.save(other.state_dict(), tmp_path / "three_channels.pt")
    with pytest.raises(InputError, match=r"three_channels\.pt: these weights do not fit AutoencoderKL"):
        _sampler(tmp_path, autoencoder_checkpoint=tmp_path / "three_channels.pt").sample()
    with pytest.raises(InputError, match=r"three_channels\.pt: these weights do not fit DiffusionModelUNet"):
        _sampler(tmp_path, checkpoint=tmp_path / "three_channels.pt").sample()
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match=r"garbage\.pt: not a PyTorch state dict file"):
        _sampler(tmp_path, checkpoint=tmp_path / "garbage.pt").sample()
    with pytest.raises(FileNotFoundError, match="no_scale.json: latent scale not found"):
        _sampler(tmp_path, scale_factor=None, scale_file=tmp_path / "no_scale.json").sample()
    save_latent_scale(tmp_path / "scale.json", 2.0, torch.zeros(4, 3, 8, 8), "ae.pt")
    with pytest.raises(InputError, match=r"scale\.json: recorded for latents of shape \[3, 8, 8\]"):
        _sampler(tmp_path, scale_factor=None, scale_file=tmp_path / "scale.json").sample()
    (tmp_path / "broken.json").write_text("{}")
    with pytest.raises(InputError, match="broken.json: not a latent scale record"):
        load_latent_scale(tmp_path / "broken.json")
    with pytest.raises(ValueError, match="one of scale_factor and scale_file"):
        _sampler(tmp_path, scale_file=tmp_path / "scale.json")
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        LatentDiffusionSampler(_unet(), _autoencoder(), _ddim(), torch.randn(3, 8), tmp_path, scale_factor=1.0)


# ---- the pending bundle -------------------------------------------------------------------------------------------
# tests/test_bundles.py's command builder, runner and checks serve here too (imported, not copied)

CONFIGS = {
    "autoencoder": ["train.json", "train_autoencoder.json"],
    "diffusion": ["train.json"],
    "inference": ["inference.json"],
    "evaluate": ["train.json", "evaluate.json"],
}


def test_pending_bundle_has_the_files_and_metadata_of_a_bundle_but_the_weights():
    from monai.bundle import verify_metadata

    missing = [f for f in test_bundles.REQUIRED if not f.startswith("models/") and not (BUNDLE / f).is_file()]
    assert not missing and (BUNDLE / "configs" / "train_autoencoder.json").is_file(), missing
    verify_metadata(meta_file=str(BUNDLE / "configs" / "metadata.json"), filepath=str(test_bundles.SCHEMA))
    meta = test_bundles.metadata(BUNDLE)
    assert meta["version"] == "0.1.0" and meta["version"] in meta["changelog"]
    pins = meta["required_packages_version"]
    assert pins["mri-monai"] == mri_monai.__version__ and "einops" in pins  # MONAI's attention blocks need einops
    assert all(importlib.metadata.version(package) == pin for package, pin in pins.items()), pins
    assert meta["eval_metrics"] == {}  # no weights, no numbers
    readme = (BUNDLE / "docs" / "README.md").read_text()
    assert "weights are pending" in readme
    for reason in meta["mri_monai"]["skip_checks"].values():
        assert reason in readme
    for name in ("multi_gpu_train.json", "multi_gpu_train_autoencoder.json"):
        test_distributed.test_multi_gpu_configs_use_the_helpers(BUNDLE / "configs" / name)


def _run(workflow: str, cwd: Path, *overrides: str) -> subprocess.CompletedProcess:
    """``python -m monai.bundle run`` of one workflow of the bundle; fails the test when the run fails."""
    return test_bundles.run([sys.executable, *test_bundles.bundle_cmd(BUNDLE, CONFIGS[workflow], *overrides)], cwd)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, Path]:
    """Both training stages of the bundle, 2 iterations each, on 3 tiny synthetic subjects; the first one resumed."""
    from mri_monai.data.tasks import make_task_data

    root = tmp_path_factory.mktemp("diffusion_bundle")
    data = make_task_data("synthesis", root / "data", subjects=3, seed=11, progress=False).parent
    ckpt = root / "ckpt"
    common = ["--dataset_dir", str(data), "--ckpt_dir", str(ckpt), "--num_workers", "0", "--batch_size", "2",
              "--epoch_length", "2"]  # fmt: skip
    autoencoder = [*common, "--adversarial_start", "1", "--val_interval", "1", "--output_dir", str(root / "ae")]
    _run("autoencoder", root, *autoencoder, "--epochs", "1")
    _run("autoencoder", root, *autoencoder, "--epochs", "2", "--resume", "true")  # iterations 3 and 4
    _run("diffusion", root, *common, "--epochs", "1", "--autoencoder_ckpt", str(ckpt / "autoencoder.pt"),
         "--output_dir", str(root / "dm"))  # fmt: skip
    return {"root": root, "data": data, "ckpt": ckpt}


@pytest.mark.slow
def test_bundle_trains_both_stages_and_resumes(trained):
    from monai.bundle import ConfigParser

    ckpt = trained["ckpt"]
    assert (ckpt / "autoencoder_checkpoint_final_iteration=4.pt").is_file()  # the resumed run went on from 2
    parser = ConfigParser()
    parser.read_config(str(BUNDLE / "configs" / "inference.json"))
    weights = {"autoencoder.pt": "autoencoder_def", "model.pt": "network_def", "model_raw.pt": "network_def"}
    for name, key in weights.items():
        state = torch.load(ckpt / name, weights_only=True, map_location="cpu")
        parser.get_parsed_content(key, instantiate=True).load_state_dict(state)  # strict: plain state dicts
    scale = load_latent_scale(ckpt / "latent_scale.json")
    assert scale["latent_shape"] == [3, 32, 32] and scale["scale_factor"] > 0
    assert scale["autoencoder"] == str(ckpt / "autoencoder.pt")


@pytest.mark.slow
def test_bundle_inference_and_evaluate_run_on_the_trained_stages(trained):
    root, data, ckpt = trained["root"], trained["data"], trained["ckpt"]
    infer = root / "infer"
    _run("inference", root, "--dataset_dir", str(data), "--ckpt_dir", str(ckpt), "--output_dir", str(infer),
         "--num_samples", "2", "--batch_size", "2", "--num_inference_steps", "2")  # fmt: skip
    test_bundles.check_inference_outputs(BUNDLE, data, infer)
    stack = nib.load(infer / "samples.nii.gz")
    assert stack.shape == (128, 128, 2) and np.allclose(np.diag(stack.affine)[:3], 1.5)
    values = stack.get_fdata()
    assert values.min() >= 0 and values.max() <= 1
    out = root / "eval"
    _run("evaluate", root, "--dataset_dir", str(data), "--ckpt_dir", str(ckpt), "--output_dir", str(out),
         "--autoencoder_ckpt", str(ckpt / "autoencoder.pt"), "--num_samples", "4", "--c2st_samples", "6",
         "--c2st_epochs", "1", "--batch_size", "6", "--num_inference_steps", "2")  # fmt: skip
    summary = json.loads((out / "metrics_summary.json").read_text())
    assert tuple(summary) == SUMMARY_KEYS and summary["primary_metric"] == "tissue_fd"
    assert {"network", "gaussian_matched", "mean_image", "held_out_real"} == set(summary["methods"])
    assert (out / "samples_grid.png").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("workflow", ["autoencoder", "diffusion", "inference"])
def test_bundle_workflows_have_their_properties(trained, workflow, tmp_path):
    from monai.bundle import ConfigWorkflow

    wf = ConfigWorkflow(
        config_file=[str(BUNDLE / "configs" / c) for c in CONFIGS[workflow]],
        meta_file=str(BUNDLE / "configs" / "metadata.json"),
        logging_file=str(BUNDLE / "configs" / "logging.conf"),
        workflow_type="infer" if workflow == "inference" else "train",
        bundle_root=str(BUNDLE),
        dataset_dir=str(trained["data"]),
        output_dir=str(tmp_path / "out"),
        ckpt_dir=str(tmp_path / "ckpt"),
        autoencoder_ckpt=str(trained["ckpt"] / "autoencoder.pt"),
    )
    wf.initialize()
    assert wf.check_properties() == []


@pytest.mark.slow
def test_bundle_stage_two_without_the_autoencoder_names_the_file(trained, tmp_path):
    missing = tmp_path / "missing_autoencoder.pt"
    command = test_bundles.bundle_cmd(BUNDLE, CONFIGS["diffusion"], "--dataset_dir", str(trained["data"]),
                                      "--ckpt_dir", str(tmp_path), "--autoencoder_ckpt", str(missing))  # fmt: skip
    result = subprocess.run([sys.executable, *command], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode != 0 and f"{missing}: weights not found" in result.stdout + result.stderr
    assert not (tmp_path / "model.pt").exists()


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["autoencoder", "diffusion"])
def test_bundle_trains_in_two_processes(trained, stage, tmp_path):
    configs = {"autoencoder": [*CONFIGS["autoencoder"], "multi_gpu_train_autoencoder.json"],
               "diffusion": [*CONFIGS["diffusion"], "multi_gpu_train.json"]}[stage]  # fmt: skip
    command = test_bundles.bundle_cmd(BUNDLE, configs, "--dataset_dir", str(trained["data"]), "--ckpt_dir",
                                      str(tmp_path), "--output_dir", str(tmp_path / "out"), "--epochs", "1",
                                      "--epoch_length", "2", "--batch_size", "2", "--num_workers", "0",
                                      "--autoencoder_ckpt", str(trained["ckpt"] / "autoencoder.pt"))  # fmt: skip
    distributed = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    test_bundles.run([*distributed, *command], cwd=tmp_path)
    assert (tmp_path / ("autoencoder.pt" if stage == "autoencoder" else "model.pt")).is_file()
