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


def test_a_refused_resume_names_only_the_options_that_differ(tmp_path):
    from rostro.errors import RostroError
    from rostro.files import check_resumable

    def refusal(stored, wanted, **kw):
        with pytest.raises(RostroError) as info:
            check_resumable(tmp_path, stored, wanted, "rows", **kw)
        return str(info.value)

    said = refusal('{"every": 3, "model": "v4", "old": 1}', '{"every": 2, "model": "v4"}', work=tmp_path / ".work")
    assert 'made with {"every": 3, "old": 1}, not {"every": 2, "old": "(not recorded)"}' in said
    assert said.endswith(f"delete {tmp_path / '.work'} or choose another --out")
    assert '{"a": 1, "b": 2}, not {"b": 2,"a": 1}; delete it' in refusal('{"a": 1, "b": 2}', '{"b": 2,"a": 1}')
    assert "unknown options" in refusal(None, "{}")


def test_output_names_are_unique_and_short_where_they_can_be(tmp_path):
    from rostro.files import output_names

    paths = [tmp_path / p for p in ("a.jpg", "s1/p.jpg", "s1/p.png", "s2/p.jpg", "b.PNG")]
    assert output_names(paths, tmp_path) == ["a", "s1_p_jpg", "s1_p_png", "s2_p_jpg", "b"]
    assert output_names([tmp_path / "x.jpg", tmp_path / "x.jpg"], tmp_path) == ["x_jpg", "x_jpg_2"]
    taken = [tmp_path / p for p in ("a/b/c.jpg", "a_b/c.jpg", "a_b_c_jpg_2.jpg")]  # a file named as a numbered one
    assert output_names(taken, tmp_path) == ["a_b_c_jpg", "a_b_c_jpg_3", "a_b_c_jpg_2"]
