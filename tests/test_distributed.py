"""mri_monai.distributed in one process (gloo, world size 1) and the bundles' multi-GPU configs that use it."""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path

import ignite.distributed.utils as ignite_dist
import pytest
import torch
import torch.distributed as dist
from ignite.handlers import EMAHandler, ProgressBar
from monai.bundle import ConfigParser
from monai.data import DistributedSampler
from monai.engines import SupervisedTrainer
from monai.handlers import CheckpointLoader, CheckpointSaver, LrScheduleHandler, StatsHandler, ValidationHandler
from monai.utils import set_determinism
from torch.utils.data import DataLoader

from mri_monai import distributed

ROOT = Path(__file__).resolve().parents[1]
MULTI_GPU_CONFIGS = sorted((ROOT / "bundles").glob("*/configs/multi_gpu_train.json"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def one_rank(monkeypatch):
    """The environment ``torchrun`` sets for a single process; the process group is destroyed afterwards."""
    env = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port()), "RANK": "0", "WORLD_SIZE": "1"}
    for key, value in {**env, "LOCAL_RANK": "0"}.items():
        monkeypatch.setenv(key, value)
    yield
    if dist.is_initialized():
        dist.destroy_process_group()
    # Ignite keeps the process group it saw (a CheckpointSaver asks it for the rank) and would still use it in later
    # tests of this worker: back to its serial model
    ignite_dist._set_model(ignite_dist._SerialModel())


@pytest.fixture
def rank(monkeypatch):
    """``rank(r)`` makes the helpers see rank ``r`` of an initialised process group."""

    def set_rank(r: int) -> None:
        monkeypatch.setattr(distributed.dist, "is_initialized", lambda: True)
        monkeypatch.setattr(distributed.dist, "get_rank", lambda: r)

    return set_rank


def test_device_and_backend_follow_cuda(monkeypatch):
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert distributed.ddp_device() == torch.device("cpu")
    assert distributed.ddp_backend() == "gloo"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert distributed.ddp_device() == torch.device("cuda:1")
    assert distributed.ddp_backend() == "nccl"


def test_initialize_wrap_finalize_in_one_process(one_rank):
    assert not dist.is_initialized()
    assert distributed.ddp_initialize(seed=5) == 0
    assert dist.is_initialized() and dist.get_backend() == "gloo" and dist.get_world_size() == 1
    drawn = torch.rand(3)
    set_determinism(seed=5)
    torch.testing.assert_close(drawn, torch.rand(3))  # rank 0 seeds with seed + 0
    assert distributed.ddp_initialize(seed=5) == 0  # an initialised group is joined, not initialised again

    net = torch.nn.Linear(3, 2)
    wrapped = distributed.ddp_wrap(net, distributed.ddp_device())
    assert isinstance(wrapped, torch.nn.parallel.DistributedDataParallel) and wrapped.module is net
    assert wrapped.device_ids is None  # the CPU: no device ids
    x = torch.rand(4, 3)
    torch.testing.assert_close(wrapped(x), net(x))

    distributed.ddp_finalize()
    assert not dist.is_initialized()
    distributed.ddp_finalize()  # nothing to finalise: no error
    set_determinism(seed=None)


def test_each_rank_seeds_with_seed_plus_rank(one_rank, monkeypatch):
    distributed.ddp_initialize(seed=0)
    monkeypatch.setattr(distributed.dist, "get_rank", lambda: 3)
    assert distributed.ddp_initialize(seed=7) == 3
    drawn = torch.rand(3)
    set_determinism(seed=10)
    torch.testing.assert_close(drawn, torch.rand(3))
    set_determinism(seed=None)


def test_rank_zero_handlers(rank):
    lr = LrScheduleHandler(torch.optim.lr_scheduler.StepLR(torch.optim.SGD([torch.zeros(1)], lr=1.0), 1))
    val, loader = ValidationHandler(interval=1), CheckpointLoader(load_path="x.pt", load_dict={"a": lr})
    stats, saver = StatsHandler(), CheckpointSaver(save_dir=".", save_dict={"a": lr})
    handlers = [lr, None, val, stats, saver, loader]
    assert distributed.rank_zero_handlers(handlers) == [lr, val, stats, saver, loader]  # no process group: rank 0
    rank(0)
    assert distributed.rank_zero_handlers(handlers) == [lr, val, stats, saver, loader]
    assert distributed.rank_zero_handlers(handlers, every_rank=[]) == [lr, val, stats, saver, loader]
    assert distributed.rank_zero_handlers(None) == []
    rank(1)
    assert distributed.rank_zero_handlers(handlers) == [lr, val, loader]
    assert distributed.rank_zero_handlers(handlers, every_rank=[]) == []
    assert distributed.rank_zero_handlers(handlers, every_rank=[StatsHandler]) == [stats]
    assert distributed.rank_zero_handlers(None) == []


def test_translation_schedules_step_on_every_rank(one_rank, rank):
    """DDP averages the gradients but each rank's optimizers apply their own learning rates: every rank steps the
    schedules, else the ranks' weights diverge after the first decay; rank 0 alone averages (EMA), saves and logs."""
    dist.init_process_group("gloo")  # the checkpoint savers ask the process group for the rank
    configs = ROOT / "bundles" / "brain_mri_t1_t2_translation" / "configs"
    parser = ConfigParser()
    parser.read_config([str(configs / "train.json"), str(configs / "multi_gpu_train.json")])
    rank(1)
    handlers = parser.get_parsed_content("train#trainer#train_handlers", lazy=False)
    assert [type(h) for h in handlers] == [LrScheduleHandler, LrScheduleHandler]
    schedulers = {id(parser.get_parsed_content(k)) for k in ("g_lr_scheduler", "d_lr_scheduler")}
    assert {id(h.lr_scheduler) for h in handlers} == schedulers
    rank(0)
    handlers = parser.get_parsed_content("train#trainer#train_handlers", lazy=False)
    assert [type(h) for h in handlers] == [
        EMAHandler,
        CheckpointSaver,
        CheckpointSaver,
        LrScheduleHandler,
        LrScheduleHandler,
        StatsHandler,
        ProgressBar,
    ]


def test_quiet_other_ranks(rank):
    engine, named = logging.getLogger("mri_monai.test.engine"), logging.getLogger("mri_monai.test.named")
    try:
        rank(0)
        distributed.quiet_other_ranks(engine, "mri_monai.test.named")
        assert engine.level == named.level == logging.NOTSET  # rank 0 left as it is
        distributed.quiet_other_ranks(engine, rank_zero_level="INFO")
        assert engine.level == logging.INFO
        rank(2)
        distributed.quiet_other_ranks(engine, "mri_monai.test.named", rank_zero_level="INFO")
        assert engine.level == named.level == logging.WARNING
    finally:
        engine.setLevel(logging.NOTSET)
        named.setLevel(logging.NOTSET)


def test_monai_engines_set_the_sampler_epoch():
    """Why the configs need no ``set_epoch`` handler: MONAI's workflow sets it when an epoch starts."""
    sampler = DistributedSampler(list(range(4)), num_replicas=2, rank=1, shuffle=True)
    seen = []
    net = torch.nn.Linear(1, 1)
    trainer = SupervisedTrainer(
        device=torch.device("cpu"),
        max_epochs=3,
        train_data_loader=DataLoader(list(range(4)), sampler=sampler),
        network=net,
        optimizer=torch.optim.SGD(net.parameters(), lr=0.0),
        loss_function=torch.nn.MSELoss(),
        iteration_update=lambda engine, batch: seen.append((engine.state.epoch, sampler.epoch)),
    )
    trainer.run()
    assert seen == [(1, 1), (1, 1), (2, 2), (2, 2), (3, 3), (3, 3)]


@pytest.mark.parametrize("path", MULTI_GPU_CONFIGS, ids=[p.parents[1].name for p in MULTI_GPU_CONFIGS])
def test_multi_gpu_configs_use_the_helpers(path):
    """The process-group plumbing lives in mri_monai.distributed, not in the bundle's JSON."""
    text = path.read_text()
    config = json.loads(text)
    for string in ("torch.distributed", "dist.", "DistributedDataParallel", "LOCAL_RANK", "set_determinism"):
        assert string not in text.replace("mri_monai.distributed.", ""), string
    assert _calls(config["device"], "ddp_device")
    assert _calls(config["+initialize"][0], "ddp_initialize")
    assert len(config["finalize"]) == 1 and _calls(config["finalize"][0], "ddp_finalize")
    assert _calls(config["train#trainer#train_handlers"], "rank_zero_handlers")


def _calls(value, name: str) -> bool:
    """A config entry calls ``mri_monai.distributed.<name>``: a ``_target_`` component or a ``$`` expression."""
    if isinstance(value, dict):
        return value.get("_target_") == f"mri_monai.distributed.{name}"
    return isinstance(value, str) and value.startswith(f"$mri_monai.distributed.{name}(")


def test_quiet_other_ranks_keywords_set_named_loggers_and_engine_loggers():
    """``names`` and ``engines`` (the keywords a config component can pass) are set like positional loggers."""
    engine = SupervisedTrainer(
        device=torch.device("cpu"),
        max_epochs=1,
        train_data_loader=DataLoader([0]),
        network=torch.nn.Linear(1, 1),
        optimizer=torch.optim.SGD(torch.nn.Linear(1, 1).parameters(), lr=0.1),
        loss_function=torch.nn.MSELoss(),
    )
    named = logging.getLogger("mri_monai.test.quiet")
    named.setLevel(logging.DEBUG)
    engine.logger.setLevel(logging.DEBUG)
    distributed.quiet_other_ranks(names=["mri_monai.test.quiet"], engines=[engine], rank_zero_level="ERROR")
    assert named.level == logging.ERROR and engine.logger.level == logging.ERROR  # rank 0 in one process
