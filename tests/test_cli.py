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
