import pytest

from rostro.commands import EdaConfig
from rostro.config import from_dict, load_config, save_config


def test_yaml_round_trip_and_overrides(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("data: some/where\nseed: 3\nfractions: [0.8, 0.1, 0.1]\n")
    cfg = load_config(EdaConfig, p, seed=None, target="Male")
    assert cfg.data == "some/where" and cfg.seed == 3 and cfg.target == "Male"
    assert cfg.fractions == (0.8, 0.1, 0.1)
    save_config(cfg, tmp_path / "saved.yaml")
    assert load_config(EdaConfig, tmp_path / "saved.yaml") == cfg


def test_unknown_key_and_wrong_type_are_named():
    with pytest.raises(ValueError, match="unknown EdaConfig key 'sed'. Did you mean 'seed'"):
        from_dict(EdaConfig, {"sed": 1})
    with pytest.raises(ValueError, match="config key 'seed': expected int, got 'x'"):
        from_dict(EdaConfig, {"seed": "x"})
    with pytest.raises(ValueError, match="expected int, got True"):
        from_dict(EdaConfig, {"samples": True})
