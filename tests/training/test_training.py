"""The training loop on small synthetic data: learning, callbacks, resume, transfer."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from rostro.commands import EvaluateConfig, evaluate, train
from rostro.data.synthetic import make_faces, write_celeba
from rostro.data.transforms import resize_square
from rostro.errors import RostroError
from rostro.models import create_model
from rostro.runs import load_checkpoint, load_run
from rostro.training.config import TrainConfig
from rostro.training.loop import TrainData, fit

NAMES = ["Eyeglasses", "Male", "Smiling"]


def _arrays(n: int, size: int) -> TrainData:
    imgs, frame = make_faces(n, size=(64, 78), seed=0)
    images = np.stack([resize_square(i, size) for i in imgs])
    test = frame["identity"].astype(int).to_numpy() % 5 == 0
    return TrainData(
        images=images,
        labels=frame[NAMES].to_numpy(np.int8),
        train_idx=np.flatnonzero(~test),
        val_idx=np.flatnonzero(test),
    )


@pytest.fixture(scope="module")
def arrays():
    return _arrays(480, 48)


@pytest.fixture(scope="module")
def tiny():
    return _arrays(160, 32)


def _cfg(tmp_path, **kw):
    base = dict(out=str(tmp_path), epochs=3, batch_size=32, lr=3e-3, progress=False, seed=0, rotation=5.0,
                zoom=0.1, patience=10)  # fmt: skip
    return TrainConfig(**{**base, **kw})


def test_small_cnn_learns_synthetic_attributes(arrays, tmp_path):
    torch.manual_seed(0)
    model = create_model("small_cnn", num_outputs=3, input_size=48)
    res = fit(model, arrays, _cfg(tmp_path, epochs=10, lr=3e-3), tmp_path, NAMES)
    last = res.history[-1]
    assert last["val_mean_accuracy"] > 0.85, res.history
    assert last["val_mean_accuracy"] > last["val_mean_majority_baseline"] + 0.15
    assert res.history[0]["train_loss"] > last["train_loss"]
    assert res.images_per_second > 0 and (tmp_path / "history.csv").is_file()


def test_attr_net_learns_synthetic_attributes(arrays, tmp_path):
    torch.manual_seed(0)
    model = create_model("attr_net", num_outputs=3, input_size=48, widths=(16, 32, 64), depths=(1, 1, 1))
    res = fit(model, arrays, _cfg(tmp_path, epochs=10, lr=5e-3), tmp_path, NAMES)
    last = res.history[-1]
    assert last["val_mean_accuracy"] > 0.9, res.history
    assert last["val_mean_accuracy"] > last["val_mean_majority_baseline"] + 0.2


def test_best_checkpoint_and_early_stop(tiny, tmp_path):
    torch.manual_seed(0)  # lr 5 diverges from this start (some starts recover and never stop early)
    model = create_model("small_cnn", num_outputs=3, input_size=32)
    cfg = _cfg(tmp_path, epochs=12, lr=5.0, schedule="constant", patience=2, monitor="val_loss")
    res = fit(model, tiny, cfg, tmp_path, NAMES)
    losses = [h["val_loss"] for h in res.history]
    assert res.stopped_early and len(res.history) < 12
    assert res.best_epoch == int(np.argmin(losses)) + 1
    assert len(res.history) == res.best_epoch + 2  # patience epochs after the best, then stop
    best = load_checkpoint(tmp_path / "best.pt")
    assert set(best) == set(model.state_dict())
    history = pd.read_csv(tmp_path / "history.csv")
    assert history["val_loss"].tolist() == pytest.approx(losses)


class Killed(Exception):
    pass


def _tiny_attr_net():
    return create_model("attr_net", num_outputs=3, input_size=32, widths=(8, 16), depths=(1, 1))


def test_resume_after_a_kill_matches_an_uninterrupted_run(tiny, tmp_path):
    whole = _tiny_attr_net()
    start = {k: v.clone() for k, v in whole.state_dict().items()}
    ref = fit(whole, tiny, _cfg(tmp_path / "a", epochs=3), tmp_path / "a", NAMES)

    def kill_after_second(history):
        if len(history) == 2:
            raise Killed

    broken = _tiny_attr_net()
    broken.load_state_dict(start)
    with pytest.raises(Killed):
        fit(
            broken,
            tiny,
            _cfg(tmp_path / "b", epochs=3),
            tmp_path / "b",
            NAMES,
            on_epoch_end=kill_after_second,
        )
    fresh = _tiny_attr_net()
    res = fit(fresh, tiny, _cfg(tmp_path / "b", epochs=3, resume=True), tmp_path / "b", NAMES)
    assert res.resumed_from == 2 and len(res.history) == 3
    for k, v in whole.state_dict().items():
        assert torch.allclose(v.float(), fresh.state_dict()[k].float(), atol=1e-6), k
    assert res.history[-1]["val_loss"] == pytest.approx(ref.history[-1]["val_loss"], abs=1e-6)


@pytest.fixture(scope="module")
def synthetic_celeba(tmp_path_factory):
    return write_celeba(tmp_path_factory.mktemp("syn"), 300, size=(64, 78), seed=1)


def test_train_evaluate_and_transfer_through_run_folders(synthetic_celeba, tmp_path):
    common = dict(data=str(synthetic_celeba), input_size=48, epochs=3, progress=False,
                  cache_dir=str(tmp_path / "cache"), model="small_cnn")  # fmt: skip
    trained = train(TrainConfig(out=str(tmp_path / "base"), labels=["Male", "Smiling"], **common))
    info, run = trained.info, trained.run_dir
    assert info.labels == ["Male", "Smiling"] and len(info.thresholds) == 2 and info.input_size == 48
    assert {"config.yaml", "run.json", "best.pt", "last.pt", "history.csv", "curves.png"} <= {
        p.name for p in run.iterdir()
    }
    with pytest.raises(RostroError, match="already holds a run"):
        train(TrainConfig(out=str(run), **common))
    evaluated = evaluate(EvaluateConfig(run=str(run), split="test", progress=False))
    result, html = evaluated.metrics, evaluated.html
    assert html.is_file() and (run / "eval-test" / "metrics.json").is_file()
    assert result.n > 0 and list(result.thresholds) == ["Male", "Smiling"]

    base_model, _ = load_run(run)
    transfer = dict(common, labels=["Eyeglasses"], init_from=str(run), freeze_trunk=True)
    cfg = TrainConfig(out=str(tmp_path / "glasses"), **transfer)
    trained = train(cfg)
    tinfo, trun = trained.info, trained.run_dir
    tuned, _ = load_run(trun)
    assert tinfo.labels == ["Eyeglasses"] and tinfo.model_kwargs["num_outputs"] == 1
    for (k, v), (_, w) in zip(base_model.trunk.state_dict().items(), tuned.trunk.state_dict().items(), strict=True):
        assert torch.equal(v, w), f"frozen trunk tensor {k} changed"

    thaw = TrainConfig(out=str(tmp_path / "thaw"), unfreeze_after=1, unfreeze_blocks=2, **transfer)
    trained = train(thaw)
    thaw_run = trained.run_dir
    thawed, _ = load_run(thaw_run)
    thawed.load_state_dict(load_checkpoint(thaw_run / "last.pt")["model"])  # the final epoch's weights
    blocks_before, blocks_after = base_model.trunk_blocks(), thawed.trunk_blocks()
    assert torch.equal(blocks_before[0][0][0].weight, blocks_after[0][0][0].weight), "early blocks stay frozen"
    changed = [not torch.equal(a.weight, b.weight) for a, b in zip(blocks_before, blocks_after, strict=True)
               if isinstance(a, torch.nn.Linear)]  # fmt: skip
    assert any(changed), "the last blocks were unfrozen and trained"


def test_a_transfer_changes_the_input_size_only_where_the_network_allows(synthetic_celeba, tmp_path):
    """attr_net's trunk ends in a global pool, so a new task may use more pixels; small_cnn's dense layer may not."""
    common = dict(data=str(synthetic_celeba), epochs=1, schedule="constant", progress=False,
                  cache_dir=str(tmp_path / "cache"))  # fmt: skip
    trained = train(TrainConfig(out=str(tmp_path / "base"), model="attr_net", input_size=32, labels=["Male"],
                                   **common))  # fmt: skip
    base = trained.run_dir
    new_task = dict(common, labels=["Eyeglasses"], init_from=str(base), freeze_trunk=True)
    trained = train(TrainConfig(out=str(tmp_path / "big"), input_size=48, **new_task))
    info, run = trained.info, trained.run_dir
    model, loaded = load_run(run)
    assert info.input_size == loaded.input_size == 48 and loaded.model_kwargs["input_size"] == 48
    assert model(torch.zeros(2, 3, 48, 48)).shape == (2, 1)
    base_model, _ = load_run(base)
    for (k, v), (_, w) in zip(base_model.trunk.state_dict().items(), model.trunk.state_dict().items(), strict=True):
        assert torch.equal(v, w), f"frozen trunk tensor {k} changed"
    trained = train(TrainConfig(out=str(tmp_path / "kept"), **new_task))
    kept = trained.info
    assert kept.input_size == 32, "unset, the input size is the trunk's"

    trained = train(TrainConfig(out=str(tmp_path / "small"), model="small_cnn", input_size=32, labels=["Male"],
                                    **common))  # fmt: skip
    small = trained.run_dir
    with pytest.raises(ValueError, match=r"input_size 48: small_cnn .* built for 32 px"):
        train(TrainConfig(out=str(tmp_path / "bad"), input_size=48, **dict(new_task, init_from=str(small))))
    assert not (tmp_path / "bad").exists(), "refused before any work"


def test_evaluation_replays_the_training_split(synthetic_celeba, tmp_path):
    """Stratification follows the config as trained; setting labels afterwards would re-split identities."""
    from rostro.runs import RunInfo
    from rostro.training.data import prepare_dataset, run_dataset

    cfg = TrainConfig(data=str(synthetic_celeba), out=str(tmp_path), progress=False)  # all labels, stratified on Male
    trained = prepare_dataset(cfg)
    info = RunInfo(model="attr_net", model_kwargs={}, labels=trained.labels, input_size=48, mean=0.5, std=0.5,
                   thresholds=[0.5] * len(trained.labels), data=dataclasses.asdict(cfg))  # fmt: skip
    replayed, _ = run_dataset(info)
    assert replayed.frame["split"].tolist() == trained.frame["split"].tolist()


@pytest.mark.parametrize("name", ["small_cnn", "attr_net"])
def test_unfreezing_the_last_blocks_opens_layers_with_weights(name):
    """Blocks are layers with weights: unfreezing 'the last 2' must never land on pooling or flatten."""
    from rostro.models import create_model
    from rostro.training.loop import set_trainable

    model = create_model(name, num_outputs=3, input_size=64)
    blocks = model.trunk_blocks()
    assert all(sum(p.numel() for p in b.parameters()) > 0 for b in blocks)
    cfg = TrainConfig(freeze_trunk=True, unfreeze_after=2, unfreeze_blocks=2)
    set_trainable(model, cfg, epoch=0)
    assert not any(p.requires_grad for p in model.trunk.parameters())
    set_trainable(model, cfg, epoch=2)
    opened = sum(p.numel() for p in model.trunk.parameters() if p.requires_grad)
    assert opened == sum(p.numel() for b in blocks[-2:] for p in b.parameters()) > 0


@pytest.mark.parametrize("steps", [1, 2, 3, 4, 5, 40])
def test_one_cycle_schedule_survives_runs_of_a_few_steps(steps):
    """One epoch on a few images is a handful of steps; OneCycleLR divided by zero on 4 of them."""
    from rostro.models import create_model
    from rostro.training.loop import _optimizer

    model = create_model("small_cnn", num_outputs=1, input_size=32)
    opt, sched = _optimizer(model, TrainConfig(schedule="onecycle", lr=0.01), steps)
    rates = []
    for _ in range(steps):
        rates.append(opt.param_groups[1]["lr"])  # the rate this step uses
        opt.step()
        sched.step()
    assert all(0 < r <= 0.01 + 1e-12 for r in rates)
    if steps >= 4:
        assert rates[0] < max(rates) > rates[-1], "the rate rises then falls"


def test_config_names_a_bad_threshold_metric_before_any_work():
    with pytest.raises(ValueError, match="threshold_metric must be one of .*'none'.* got 'recall'"):
        TrainConfig(threshold_metric="recall")
    assert TrainConfig(threshold_metric="none").threshold_metric == "none"


def test_config_names_a_too_small_input_size_before_any_work():
    with pytest.raises(ValueError, match="input_size must be at least 16 px .* got 8"):
        TrainConfig(input_size=8)
    assert TrainConfig().input_size is None and TrainConfig(input_size=16).input_size == 16


def _probe_many(folder: str) -> None:
    from rostro.files import check_writable

    for _ in range(300):
        check_writable(folder)


def test_ranks_checking_one_folder_at_once_do_not_trip_on_each_others_probe(tmp_path):
    """torchrun's ranks check the same parts folder together; a shared probe name once failed one of them."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_probe_many, args=(str(tmp_path),)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    assert list(tmp_path.iterdir()) == []
