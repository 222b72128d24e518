"""Bad label files through the CLI (``rostro eda`` and ``rostro embed`` read them the same way as
train and audit-model): one line naming the file and, where there is one, the line; files whose
meaning is unambiguous (CRLF, BOM, tabs, trailing spaces) are accepted. The readers' own tests
in tests/data check the exceptions; these check what a user sees."""

import shutil

import pandas as pd
import pytest
from typer.testing import CliRunner

from rostro.cli import app

ATTR = "list_attr_celeba.txt"


def _edit(fn):
    def apply(root):
        path = root / ATTR
        lines = path.read_text().splitlines()
        path.write_text("\n".join(fn(lines)) + "\n")

    return apply


def _write(data: bytes):
    def apply(root):
        (root / ATTR).write_bytes(data)

    return apply


def _unix_to_dos(root):
    lines = (root / ATTR).read_text().splitlines()
    lines = lines[:2] + [ln.replace(" ", "\t", 1) + "  " for ln in lines[2:]]
    (root / ATTR).write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n")


CELEBA = {
    "count line disagrees": (_edit(lambda ls: ["97", *ls[1:]]), "declares 97 images but 96 rows follow"),
    "header longer than rows": (_edit(lambda ls: [ls[0], ls[1] + " Extra", *ls[2:]]), f"{ATTR}:3: expected 11"),
    "row missing a value": (_edit(lambda ls: [*ls[:5], ls[5].rsplit(" ", 1)[0], *ls[6:]]), f"{ATTR}:6: expected 10"),
    "row with an extra value": (_edit(lambda ls: [*ls[:6], ls[6] + " 1", *ls[7:]]), f"{ATTR}:7: expected 10"),
    "value 2": (_edit(lambda ls: [*ls[:4], ls[4][:-2] + " 2", *ls[5:]]), f"{ATTR}:5: column 'Smiling' must hold"),
    "-1 and 0 mixed": (_edit(lambda ls: [*ls[:4], ls[4][:-2] + " 0", *ls[5:]]), "mixes -1 and 0"),
    "duplicate id": (_edit(lambda ls: ["97", *ls[1:], ls[3]]), "duplicate image id '000002.jpg' on lines [4, 99]"),
    "empty file": (_write(b""), "empty attribute file"),
    "CRLF, BOM, tabs, trailing spaces": (_unix_to_dos, None),
}


@pytest.mark.parametrize("case", list(CELEBA))
def test_celeba_label_file_defects(case, celeba_dir, tmp_path):
    root = shutil.copytree(celeba_dir, tmp_path / "celeba")
    spoil, fragment = CELEBA[case]
    spoil(root)
    res = CliRunner().invoke(app, ["eda", str(root), "--out", str(tmp_path / "eda")])
    text = " ".join(res.output.split())
    assert "Traceback" not in res.output
    if fragment is None:
        assert res.exit_code == 0 and "96 images" in text, text
    else:
        assert res.exit_code == 2 and text.startswith("error:") and fragment in text, text
        assert str(root / ATTR) in text or fragment.startswith(ATTR), text


def _manifest(root, rows, columns=("path", "Male", "group", "identity")):
    pd.DataFrame(rows, columns=list(columns)).to_csv(root / "faces.csv", index=False)
    return root / "faces.csv"


@pytest.fixture
def images(celeba_dir, tmp_path):
    root = tmp_path / "m"
    shutil.copytree(celeba_dir / "img_align_celeba", root / "img")
    return root


def _rows(n=8):
    return [[f"img/{i + 1:06d}.jpg", i % 2, "AB"[i % 2], f"p{i // 2}"] for i in range(n)]


MANIFEST = {
    "no path column": (lambda r: _manifest(r, [row[1:] for row in _rows()], ("Male", "group", "identity")),
                       "no path column 'path'"),
    "parent folder": (lambda r: _manifest(r, [["../outside.jpg", 1, "A", "p9"], *_rows()]),
                      "faces.csv:2: image path '../outside.jpg' leaves the folder"),
    "absolute path": (lambda r: _manifest(r, [*_rows(), ["/etc/passwd", 1, "A", "p9"]]),
                      "faces.csv:10: absolute image path '/etc/passwd' refused"),
    "label value 5": (lambda r: _manifest(r, [*_rows(19), ["img/000020.jpg", 5, "A", "p99"]]),
                      "faces.csv:21: column 'Male' must hold -1/0/1 labels, found '5'"),
    "duplicate path": (lambda r: _manifest(r, [*_rows(), _rows()[0]]), "duplicate"),
    "header only": (lambda r: _manifest(r, []), "faces.csv"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(MANIFEST))
def test_manifest_defects(case, images, tmp_path):
    make, fragment = MANIFEST[case]
    csv = make(images)
    for command in (["eda", str(csv), "--out", str(tmp_path / "eda")],
                    ["embed", str(csv), "--aligned", "--out", str(tmp_path / "e.parquet")]):  # fmt: skip
        res = CliRunner().invoke(app, command)
        text = " ".join(res.output.split())
        assert res.exit_code == 2 and "Traceback" not in res.output, (command[0], res.output)
        assert text.startswith("error:") and fragment in text, (command[0], text)
    assert not (tmp_path / "e.parquet").exists()


def test_a_manifest_with_crlf_and_a_bom_is_accepted(images, tmp_path):
    csv = _manifest(images, _rows())
    csv.write_bytes(b"\xef\xbb\xbf" + csv.read_bytes().replace(b"\n", b"\r\n"))
    res = CliRunner().invoke(app, ["eda", str(csv), "--out", str(tmp_path / "eda")])
    assert res.exit_code == 0 and "8 images" in res.output, res.output
