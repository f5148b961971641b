"""Slice synthesis: DCGAN shapes, GAN losses, slice loading, sampling to PNG/NIfTI, evaluation metrics."""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import nibabel as nib
import numpy as np
import pytest
import torch

from mri_monai.errors import InputError
from mri_monai.generative import (
    DiscriminatorLoss,
    GaussianSampler,
    GeneratorLoss,
    InstanceNoiseSchedule,
    MeanImageSampler,
    SampleWriter,
    SynthesisEvaluation,
    dcgan_init,
    load_axial_slices,
)
from mri_monai.metrics import frechet_distance, ms_ssim_diversity, nearest_ncc, tissue_statistics
from mri_monai.networks.dcgan import DCGANDiscriminator, DCGANGenerator


@pytest.mark.parametrize("size", [32, 128])
def test_dcgan_shapes(size):
    g = DCGANGenerator(latent_size=8, image_size=size, base_channels=4)
    d = DCGANDiscriminator(image_size=size, base_channels=4)
    images = g(torch.randn(3, 8))
    assert images.shape == (3, 1, size, size) and images.abs().max() <= 1
    assert g(torch.randn(3, 8, 1, 1)).shape == images.shape
    assert d(images).shape == (3, 1)
    torch.jit.script(g)
    with pytest.raises(ValueError, match="power of two"):
        DCGANGenerator(image_size=100)


def test_dcgan_init_sets_the_paper_initialisation():
    torch.manual_seed(0)
    g = DCGANGenerator(latent_size=16, image_size=32, base_channels=8)
    assert dcgan_init(g) is g
    convs = [m for m in g.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    norms = [m for m in g.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    weights = torch.cat([m.weight.ravel() for m in convs])
    assert abs(float(weights.std()) - 0.02) < 0.002 and abs(float(weights.mean())) < 0.002
    assert float(convs[-1].bias.abs().max()) == 0.0
    scales = torch.cat([m.weight for m in norms])
    assert abs(float(scales.mean()) - 1.0) < 0.01 and all(float(m.bias.abs().max()) == 0.0 for m in norms)
    d = dcgan_init(DCGANDiscriminator(image_size=32, base_channels=4))
    assert all(abs(float(m.weight.std()) - 0.02) < 0.01 for m in d.modules() if isinstance(m, torch.nn.Conv2d))


def test_spectral_norm_discriminator_has_unit_spectral_norm_and_no_batch_norm():
    torch.manual_seed(0)
    d = dcgan_init(DCGANDiscriminator(image_size=32, base_channels=4, spectral_norm=True)).train()
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in d.modules())
    convs = [m for m in d.modules() if isinstance(m, torch.nn.Conv2d)]
    originals = torch.cat([m.parametrizations.weight.original.ravel() for m in convs])
    assert abs(float(originals.std()) - 0.02) < 0.005  # dcgan_init reached the stored weights
    for _ in range(30):  # power iterations run in training-mode forward passes
        d(torch.rand(2, 1, 32, 32))
    for m in convs:  # largest singular value of the flattened kernel, as torch's spectral_norm measures it
        sigma = torch.linalg.matrix_norm(m.weight.detach().flatten(1), ord=2)
        assert abs(float(sigma) - 1.0) < 0.05
    assert d(torch.rand(3, 1, 32, 32)).shape == (3, 1)


def test_gan_losses_train_the_right_network():
    d = DCGANDiscriminator(image_size=16, base_channels=4)
    g = DCGANGenerator(latent_size=4, image_size=16, base_channels=4)
    fakes, reals = g(torch.randn(2, 4)), torch.rand(2, 1, 16, 16)
    DiscriminatorLoss(d)(fakes, reals).backward()
    assert all(p.grad is None for p in g.parameters())
    GeneratorLoss(d)(fakes).backward()
    assert all(p.grad is not None for p in g.parameters())


def test_instance_noise_reaches_the_discriminator_only_when_asked():
    seen = []

    def discriminator(images):
        seen.append(images)
        return images.flatten(1).mean(1, keepdim=True)

    reals, fakes = torch.zeros(64, 1, 8, 8), torch.zeros(64, 1, 8, 8)
    torch.manual_seed(0)
    DiscriminatorLoss(discriminator)(fakes, reals)
    assert all(float(x.abs().max()) == 0.0 for x in seen)
    seen.clear()
    DiscriminatorLoss(discriminator, instance_noise=0.1)(fakes, reals)
    GeneratorLoss(discriminator, instance_noise=0.1)(fakes)
    assert len(seen) == 3 and all(abs(float(x.std()) - 0.1) < 0.01 for x in seen)
    assert float(reals.abs().max()) == 0.0  # the inputs themselves are not modified
    with pytest.raises(ValueError, match="instance_noise"):
        GeneratorLoss(discriminator, instance_noise=-0.1)


def test_r1_penalty_is_half_gamma_times_the_squared_input_gradient():
    torch.manual_seed(0)
    d = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 1))  # D(x) = w.x + b: gradient w everywhere
    fakes, reals = torch.rand(3, 1, 4, 4), torch.rand(3, 1, 4, 4)
    plain = DiscriminatorLoss(d)(fakes, reals)
    penalised = DiscriminatorLoss(d, r1_weight=4.0)(fakes, reals)
    w = d[1].weight.detach()
    assert float(penalised - plain) == pytest.approx(0.5 * 4.0 * float(w.pow(2).sum()), rel=1e-5)
    plain_grad = torch.autograd.grad(plain, d[1].weight)[0]
    penalised_grad = torch.autograd.grad(penalised, d[1].weight)[0]
    assert torch.allclose(penalised_grad - plain_grad, 4.0 * w, atol=1e-6)  # the penalty trains D: d(2||w||^2)/dw
    assert not reals.requires_grad and reals.grad is None
    with pytest.raises(ValueError, match="r1_weight"):
        DiscriminatorLoss(d, r1_weight=-1.0)


def test_instance_noise_schedule_anneals_to_zero_and_depends_only_on_the_iteration():
    from ignite.engine import Engine

    d = DCGANDiscriminator(image_size=16, base_channels=4)
    losses = [GeneratorLoss(d, instance_noise=0.1), DiscriminatorLoss(d, instance_noise=0.1)]
    schedule = InstanceNoiseSchedule(losses, start=0.1, stop_fraction=0.5)
    seen = []
    engine = Engine(lambda e, batch: seen.append([loss.instance_noise for loss in losses]))
    schedule.attach(engine)
    engine.run(range(5), max_epochs=2)  # 10 iterations; the noise reaches 0 after 5
    assert np.allclose([s[0] for s in seen], [0.1, 0.08, 0.06, 0.04, 0.02, 0, 0, 0, 0, 0])
    assert all(a == b for a, b in seen)
    assert schedule.std(4, 10) == pytest.approx(0.04)  # the same value a resumed run computes
    floor = InstanceNoiseSchedule(losses, start=0.1, end=0.02, stop_fraction=0.5)
    assert [floor.std(i, 10) for i in (1, 6, 10)] == pytest.approx([0.1, 0.02, 0.02])
    assert InstanceNoiseSchedule(losses, start=0.05, end=0.05).std(7, 10) == pytest.approx(0.05)
    with pytest.raises(ValueError, match="stop_fraction"):
        InstanceNoiseSchedule(losses, start=0.1, stop_fraction=0.0)


def _volume(path, shape=(16, 16, 10), value=None):
    data = np.zeros(shape, dtype=np.float32)
    data[4:12, 4:12, 2:8] = np.random.default_rng(0).random((8, 8, 6)) + 0.5 if value is None else value
    nib.save(nib.Nifti1Image(data, np.diag([1.5, 1.5, 1.5, 1])), str(path))
    return str(path)


def test_load_axial_slices_keeps_slices_with_head(tmp_path):
    slices = load_axial_slices([{"image": _volume(tmp_path / "a.nii.gz")}], size=(16, 16), min_foreground=0.1)
    assert slices.shape == (6, 1, 16, 16) and type(slices) is torch.Tensor
    assert slices.min() >= 0 and slices.max() <= 1
    assert load_axial_slices([{"image": _volume(tmp_path / "b.nii.gz")}], size=(32, 32), min_foreground=0.05).shape[
        -2:
    ] == (32, 32)
    nan = _volume(tmp_path / "nan.nii.gz", value=np.nan)
    with pytest.raises(InputError, match="NaN"):
        load_axial_slices([{"image": nan}])
    four_d = tmp_path / "4d.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((8, 8, 4, 2), np.float32), np.eye(4)), str(four_d))
    with pytest.raises(InputError, match="one 3D volume"):
        load_axial_slices([{"image": str(four_d)}])
    with pytest.raises(InputError, match="no volumes"):
        load_axial_slices([])
    entries = [
        {"image": _volume(tmp_path / "c.nii.gz")},
        {"image": _volume(tmp_path / "d.nii.gz", shape=(16, 16, 6), value=1.0)},
    ]
    both, subjects = load_axial_slices(entries, size=(16, 16), return_subjects=True)
    assert both.shape == (10, 1, 16, 16) and subjects.tolist() == [0] * 6 + [1] * 4


def test_sample_writer_writes_png_and_nifti(tmp_path):
    g = DCGANGenerator(latent_size=4, image_size=16, base_channels=4)
    writer = SampleWriter(g, torch.randn(5, 4), tmp_path, voxel_size=1.5, batch_size=2)
    samples = writer.run()
    assert samples.shape == (5, 1, 16, 16)
    stack = nib.load(tmp_path / "samples.nii.gz")
    assert stack.shape == (16, 16, 5) and np.allclose(np.diag(stack.affine)[:3], 1.5)
    assert plt.imread(tmp_path / "sample_004.png").shape == (16, 16)
    assert writer.sample(2).shape == (2, 1, 16, 16)
    with pytest.raises(ValueError, match="only 5 latents"):
        writer.sample(6)


def test_sample_writer_loads_its_checkpoint_at_the_first_sample(tmp_path):
    trained = DCGANGenerator(latent_size=4, image_size=16, base_channels=4)
    torch.save(trained.state_dict(), tmp_path / "model.pt")
    latents = torch.randn(3, 4)
    fresh = DCGANGenerator(latent_size=4, image_size=16, base_channels=4)
    writer = SampleWriter(fresh, latents, tmp_path / "out", checkpoint=tmp_path / "model.pt")  # nothing loaded yet
    trained.eval()
    with torch.no_grad():
        expected = ((trained(latents) + 1) / 2).clamp(0, 1)
    assert torch.allclose(writer.sample(), expected)
    missing = SampleWriter(fresh, latents, tmp_path / "out", checkpoint=tmp_path / "absent.pt")  # builds fine
    with pytest.raises(FileNotFoundError, match="weights not found"):
        missing.run()


def test_nearest_ncc_finds_copies():
    references = torch.rand(10, 1, 8, 8)
    ncc, index = nearest_ncc(references[[3, 7]] * 2 + 1, references, chunk=4)
    assert torch.allclose(ncc, torch.ones(2, dtype=torch.float64)) and index.tolist() == [3, 7]


def test_diversity_and_tissue_statistics():
    torch.manual_seed(0)
    varied, same = torch.rand(6, 1, 64, 64), torch.rand(1, 1, 64, 64).expand(6, 1, 64, 64)
    assert ms_ssim_diversity(same) == pytest.approx(1.0, abs=1e-4) and ms_ssim_diversity(varied) < 0.5
    features = tissue_statistics(varied)
    assert features.shape == (6, 6)
    assert frechet_distance(features, features) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(features, tissue_statistics(varied * 0.5)) > 0.01


def test_synthesis_evaluation_flags_a_copying_generator(tmp_path):
    torch.manual_seed(0)
    training, held_out = torch.rand(40, 1, 64, 64), torch.rand(24, 1, 64, 64)

    class Copier:
        def sample(self, n):
            return training[:n]

    methods = {"network": Copier(), "gaussian_matched": GaussianSampler(training), "mean": MeanImageSampler(training)}
    subjects = torch.tensor([0] * 12 + [1] * 12)
    kwargs = {"num_samples": 6, "grid_samples": 3, "c2st_samples": 20, "c2st_epochs": 10, "held_out_subjects": subjects}
    summary = SynthesisEvaluation(methods, training, held_out, tmp_path, **kwargs).run()
    assert summary["methods"]["network"]["copies"] == 1.0 and summary["methods"]["network"]["nearest_ncc"] == 1.0
    assert summary["methods"]["held_out_real"]["copies"] == 0.0
    assert summary["methods"]["mean"]["ms_ssim"] == pytest.approx(1.0, abs=1e-4)
    assert json.loads((tmp_path / "metrics_summary.json").read_text())["primary_metric"] == "tissue_fd"
    header = (tmp_path / "metrics.csv").read_text().splitlines()[0]
    assert header == "case,method,nearest_ncc,nearest_training,head_fraction,median_intensity"
    # C2ST: a CNN tells the mean image from uniform noise at once; copies of noise are noise, like the held-out
    c2st = {name: values["c2st"] for name, values in summary["methods"].items()}
    assert c2st["mean"] == 1.0 and summary["methods"]["mean"]["c2st_p"] < 1e-3
    assert c2st["network"] <= 0.75 and c2st["held_out_real"] <= 0.75
    assert summary["details"]["c2st_split"] == "subjects"  # trained on held-out subject 0, tested on subject 1
    # samples (top), their nearest training slices (middle; copies: the same images), held-out slices (bottom)
    grid = plt.imread(tmp_path / "samples_grid.png")
    assert grid.shape == (3 * 64 + 4, 3 * 64 + 4)
    assert np.allclose(grid[:64], grid[66:130], atol=1 / 255)
    assert not np.allclose(grid[:64], grid[132:], atol=0.1)
