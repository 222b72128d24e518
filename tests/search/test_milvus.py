"""The Milvus back-end on Milvus Lite (a local file): the same class a Milvus server gets."""

import numpy as np
import pytest

from rostro.errors import RostroError
from rostro.search.gallery import new_meta, open_gallery
from rostro.search.milvus import parse_uri
from tests.search.conftest import faces_frame, people_vectors

pytest.importorskip("milvus_lite", reason="milvus-lite is not installed")


def test_uri_forms(tmp_path):
    assert parse_uri("milvus://db.example:19530/faces") == ("http://db.example:19530", "faces")
    assert parse_uri(f"milvus://{tmp_path}/g.db/faces") == (str(tmp_path / "g.db"), "faces")
    assert parse_uri(f"milvus:{tmp_path}/g.db/faces")[1] == "faces"
    for bad in ("milvus:g.txt/faces", "milvus://host:1/", "milvus:g.db/9bad"):
        with pytest.raises(RostroError, match="expected"):
            parse_uri(bad)


def test_milvus_lite_round_trip(tmp_path, stamp):
    uri = f"milvus:{tmp_path}/g.db/faces"
    with pytest.raises(RostroError, match="no such gallery"):
        open_gallery(uri)
    assert not (tmp_path / "g.db").exists()  # a mistyped path that is only read leaves nothing behind
    vecs, names = people_vectors(8, 3)
    with open_gallery(uri, write=True, create=new_meta(stamp, 128)) as g:
        assert g.add(faces_frame(names), vecs) == 24 and len(g) == 24
        assert g.photo_hashes() == {f"p{i}" for i in range(24)}
    with open_gallery(uri) as g:
        assert g.stamp == stamp and g.dim == 128
        name, sim, cands = g.identify(vecs[4:5], 3)[0]
        assert name == "person_001" and sim > 0.99 and len(cands) == 3
        with pytest.raises(RostroError, match="jitter"):
            g.check_stamp({**stamp, "jitter": 2}, "these")
        assert g.remove("person_001") == 3 and len(g) == 21
        assert g.search(vecs[4:5], 1)[0][0].name != "person_001"
        assert g.update_threshold(1e-3).source == "default"  # 21 faces: too few impostor pairs for 1e-3
        names_, sample = g.sample(100)
        assert len(names_) == 21 and np.allclose(np.linalg.norm(sample, axis=1), 1, atol=1e-5)


def test_a_gallery_made_by_one_process_is_opened_by_the_next_and_any_name_is_removed(tmp_path):
    """Milvus Lite leaves a collection made by another process unloaded; names are not ASCII-only. Each step
    runs in its own process, as two commands would (Milvus Lite holds its file while a process has it open)."""
    import subprocess
    import sys

    uri = f"milvus:{tmp_path}/g.db/faces"
    quoted = 'say "hi" \\ bye'
    make = ("import sys, numpy as np; from rostro.search.gallery import new_meta, open_gallery\n"
            "from tests.search.conftest import faces_frame, people_vectors\n"
            "vecs, _ = people_vectors(3, 2); names = np.repeat(['José', '日本', sys.argv[2]], 2)\n"
            "with open_gallery(sys.argv[1], write=True, create=new_meta({'model': 'x'}, 128)) as g:\n"
            "    print(g.add(faces_frame(names), vecs))")  # fmt: skip
    remove = ("import sys; from rostro.search.gallery import open_gallery\n"
              "with open_gallery(sys.argv[1], write=True) as g:\n"
              "    print(len(g), g.remove('José'), g.remove('日本'), g.remove(sys.argv[2]), len(g))")  # fmt: skip
    outs = [subprocess.run([sys.executable, "-c", code, uri, quoted], capture_output=True, text=True, timeout=120)
            for code in (make, remove)]  # fmt: skip
    for out in outs:
        assert out.returncode == 0, out.stderr[-2000:]
    assert outs[0].stdout.split() == ["6"] and outs[1].stdout.split() == ["6", "2", "2", "2", "0"]
