import json

from typer.testing import CliRunner

from rostro.cli import app

runner = CliRunner()


def test_eda_on_a_celeba_folder(celeba_dir, tmp_path):
    res = runner.invoke(app, ["eda", str(celeba_dir), "--out", str(tmp_path / "r"), "--seed", "1"])
    assert res.exit_code == 0, res.output
    assert "96 images" in res.output and "Male:" in res.output
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["n_images"] == 96
    assert "seed: 1" in (tmp_path / "r" / "config.yaml").read_text()


def test_eda_with_config_file_on_folders(folders_dir, tmp_path):
    cfg = tmp_path / "eda.yaml"
    cfg.write_text(f"data: {folders_dir}\nout: {tmp_path / 'f'}\n")
    res = runner.invoke(app, ["eda", "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "f" / "summary.json").read_text())["target"] == "eyeglasses"


def test_errors_are_one_line_with_exit_code_2(celeba_dir, tmp_path):
    res = runner.invoke(app, ["eda", str(tmp_path / "missing"), "--out", str(tmp_path / "r")])
    assert res.exit_code == 2 and "error:" in res.output and "does not exist" in res.output
    assert "Traceback" not in res.output
    res = runner.invoke(app, ["eda", str(celeba_dir), "--target", "Eyeglass", "--out", str(tmp_path / "r")])
    assert res.exit_code == 2 and "Did you mean 'Eyeglasses'" in res.output


def test_synth_writes_both_layouts(tmp_path):
    res = runner.invoke(app, ["synth", str(tmp_path / "s"), "--n", "12", "--layout", "folders"])
    assert res.exit_code == 0, res.output
    assert len(list((tmp_path / "s").rglob("*.jpg"))) == 12
    res = runner.invoke(app, ["synth", str(tmp_path / "t"), "--layout", "zip"])
    assert res.exit_code == 2 and "layout must be" in res.output


def test_every_command_but_version_takes_config_and_its_flags_come_from_the_config_dataclass():
    import dataclasses

    import typer.main

    from rostro import commands as C

    group = typer.main.get_command(app)
    names = set(group.commands)
    assert names >= {"eda", "train", "predict", "embed", "audit", "audit-model", "verify-eval", "serve"}
    for name, command in group.commands.items():
        options = {opt for p in command.params for opt in p.opts}
        assert ("--config" in options) == (name != "version"), name
        assert all(p.default is None for p in command.params if p.name not in ("help",)), name
    predict = {p.name: p for p in group.commands["predict"].params}
    assert set(predict) - {"config"} == {f.name for f in dataclasses.fields(C.PredictConfig)}
    assert "(default 64)" in predict["batch_size"].help  # the one default, from PredictConfig


def test_a_flag_overrides_the_yaml_and_a_flag_of_another_mode_is_refused(tmp_path):
    cfg = tmp_path / "synth.yaml"
    cfg.write_text(f"out: {tmp_path / 'a'}\nn: 5\nlayout: folders\n")
    res = runner.invoke(app, ["synth", "--config", str(cfg), "--n", "6"])
    assert res.exit_code == 0, res.output
    assert len(list((tmp_path / "a").rglob("*.jpg"))) == 6 and "n: 6" in (tmp_path / "a" / "config.yaml").read_text()
    res = runner.invoke(app, ["verify-eval", str(tmp_path / "e.parquet"), "--jitter", "3"])
    assert res.exit_code == 2 and "--jitter: not an option of VerifyEvalConfig" in res.output
    res = runner.invoke(app, ["predict"])
    assert res.exit_code == 2 and "missing TARGET" in res.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("out: [unclosed\n")
    res = runner.invoke(app, ["synth", "--config", str(bad)])
    assert res.exit_code == 2 and "not valid YAML" in res.output and "Traceback" not in res.output


def test_a_command_imports_only_what_it_needs():
    """``rostro video --help`` builds only video's command: no scikit-learn, FastAPI or torch is imported."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "sys.argv = ['rostro', 'video', '--help']\n"
        "from rostro.cli import run\n"
        "try:\n"
        "    run()\n"
        "except SystemExit as exc:\n"
        "    assert exc.code in (0, None), exc.code\n"
        "print('loaded:', sorted(m for m in ('sklearn', 'fastapi', 'torch', 'rostro.serve.app') if m in sys.modules))\n"
        "print('commands:', sorted(m for m in sys.modules if m.startswith('rostro.commands.')))\n"
    )
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "--every" in res.stdout and "Track every face of a clip" in res.stdout
    assert "loaded: []" in res.stdout
    assert "commands: ['rostro.commands._base', 'rostro.commands.video']" in res.stdout


def test_commands_load_lazily_and_a_commands_name_is_its_function():
    """Every name of ``rostro.commands`` imports; ``video`` stays the function once its module is imported."""
    import subprocess
    import sys

    script = (
        "import sys, types\n"
        "import rostro.commands as C\n"
        "assert 'rostro.commands.audit' not in sys.modules\n"
        "import rostro.commands.video\n"
        "from rostro.commands import video, VideoConfig\n"
        "assert callable(video) and not isinstance(video, types.ModuleType)\n"
        "assert video is sys.modules['rostro.commands.video'].video and C.train.__module__ == 'rostro.commands.train'\n"
        "assert set(C.__all__) == set(C._MODULE_OF) and set(C.__all__) <= set(dir(C))\n"
        "assert all(getattr(C, n) is not None for n in C.__all__)\n"
        "print('ok')\n"
    )
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and "ok" in res.stdout, res.stderr
