"""Embeddings for a whole dataset: dlib's 128-d ResNet, or a trained rostro model's features.

Results go to one Parquet file (path, identity, groups, labels, face_found, error,
embedding). A re-run reads what is already there and embeds only the images that are not.
"""

from __future__ import annotations

import io
import json
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from rostro.data.dataset import FaceDataset, sort_by_paths
from rostro.data.images import ImageDecodeError, load_image
from rostro.distributed import World, run_sharded
from rostro.errors import RostroError
from rostro.faces.detection import DETECTION_CHAIN
from rostro.faces.network import BACKENDS
from rostro.faces.status import NO_FACE
from rostro.files import atomic_write_bytes, check_resumable, check_writable
from rostro.progress import progress_bar
from rostro.runs import run_fingerprint
from rostro.workers import default_workers, pool_map

_RUN_CACHE: dict = {}
RESULT_COLUMNS = ("face_found", "found_by", "error", "embedding")


def _chip_one(img: np.ndarray, aligned: bool, centre: bool, pick: str) -> tuple[str, str, np.ndarray | None]:
    """(how the face was found, error, the face network's chip) for one decoded image. The first
    field is '' when no face was found, else 'aligned', the detector, or 'centre'."""
    from rostro.faces.chips import find_chip

    found, chip = find_chip(img, aligned=aligned, pick=pick, centre=centre)
    return found, "" if chip is not None else NO_FACE, chip


def _features_one(img: np.ndarray, aligned: bool, run: str, pick: str) -> tuple[str, str, np.ndarray | None]:
    """(how the face was found, error, vector) for one decoded image from a trained run's features."""
    from rostro.data.transforms import resize_square
    from rostro.faces.alignment import align_face
    from rostro.faces.embedding import find_faces
    from rostro.models.inference import extract_features
    from rostro.runs import load_run

    if run not in _RUN_CACHE:
        _RUN_CACHE[run] = load_run(run)
    model, info = _RUN_CACHE[run]
    found = "aligned"
    if not aligned:
        faces = find_faces(img, pick=pick)
        if not faces:
            return "", NO_FACE, None
        img, found = align_face(img, faces[0].landmarks), faces[0].detector
    crop = resize_square(img, info.input_size)[None]
    return found, "", extract_features(model, crop, mean=info.mean, std=info.std)[0]


def _one(path: str, options: dict) -> tuple[str, str, np.ndarray | None]:
    """One image through the chosen route; a file that cannot be decoded is a row, never an exception."""
    try:
        img = load_image(path)
    except ImageDecodeError as exc:
        return "", exc.reason, None
    if options["run"] is not None:
        return _features_one(img, options["aligned"], options["run"], options["pick"])
    return _chip_one(img, options["aligned"], options["centre"], options["pick"])


def _embed_chunk(args: tuple[list[str], dict]) -> list[tuple[str, str, np.ndarray | None]]:
    """One chunk of images; dlib vectors are computed in one batch for the whole chunk."""
    paths, options = args
    found = [_one(p, options) for p in paths]
    if options["run"] is not None:
        return found
    from rostro.faces.network import face_network

    chips = [chip for _, _, chip in found if chip is not None]
    vecs = iter(face_network(options["backend"]).describe(np.stack(chips), jitter=options["jitter"],
                                                          flip=options["flip"]) if chips else [])  # fmt: skip
    return [(how, error, None if chip is None else next(vecs)) for how, error, chip in found]


def embed_dataset(
    ds: FaceDataset,
    out: str | Path,
    *,
    aligned: bool = False,
    run: str | Path | None = None,
    workers: int | None = None,
    chunk: int = 32,
    centre_fallback: bool = False,
    pick: str = "largest",
    flip: bool = True,
    jitter: int = 0,
    backend: str = "onnx",
    progress: bool = True,
) -> pd.DataFrame:
    """Embed every image of ``ds`` into ``out`` (Parquet), skipping images already there.

    The file is rewritten atomically after every 20 chunks of ``chunk`` images, or a minute of
    work, whichever comes first, so a killed run keeps what it finished and the next run picks up
    from there. ``centre_fallback`` embeds the image
    centre when no face is detected (pre-cropped sets such as LFW); the ``found_by`` column
    then says 'centre'. ``pick`` chooses the largest face or the one nearest the centre;
    ``flip`` (the default) averages each dlib vector with its mirror image's (unit vectors; ``flip=False``
    keeps dlib's own descriptor); ``jitter`` > 0 replaces each chip's
    vector by the mean over that many randomly jittered copies (dlib's). ``backend`` runs dlib's
    network with onnxruntime (default), PyTorch or dlib itself (for checking). The options, the detector
    chain and the run's fingerprint are stored in the file's metadata: resuming with other ones is
    refused rather than mixing two kinds of vectors in one file.
    """
    if chunk < 1:
        raise ValueError(f"chunk must be at least 1 image, got {chunk}")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    out = Path(out)
    check_writable(out.parent)
    signature = embedding_signature(aligned=aligned, run=run, centre_fallback=centre_fallback, pick=pick,
                                    flip=flip, jitter=jitter)  # fmt: skip
    done = _read_done(out, signature)
    todo = ds.frame if done is None else ds.frame[~ds.frame["path"].isin(set(done["path"]))]
    keep = ["path", "image_id", "split", *(["identity"] if ds.has_identity else []), *ds.groups, *ds.labels]
    parts = [] if done is None else [done]
    workers = workers or default_workers()
    paths = todo["path"].tolist()
    run_arg = None if run is None else str(run)
    options = {"aligned": aligned, "run": run_arg, "centre": centre_fallback, "pick": pick, "flip": flip,
               "jitter": jitter, "backend": backend}  # fmt: skip
    jobs = [(paths[i : i + chunk], options) for i in range(0, len(paths), chunk)]
    with ExitStack() as stack:
        results = pool_map(stack, _embed_chunk, jobs, workers)
        bar = stack.enter_context(progress_bar("embed", enabled=progress))
        task = bar.add_task("embed", total=len(paths))
        saved = time.monotonic()
        for n, (job, res) in enumerate(zip(jobs, results, strict=True)):
            rows = todo[todo["path"].isin(job[0])][keep].copy()
            rows["face_found"] = [bool(r[0]) for r in res]
            rows["found_by"] = [r[0] for r in res]
            rows["error"] = [r[1] for r in res]
            rows["embedding"] = [None if r[2] is None else r[2].astype(np.float32).tolist() for r in res]
            parts.append(rows)
            bar.advance(task, len(job[0]))
            if (n + 1) % 20 == 0 or n + 1 == len(jobs) or time.monotonic() - saved > 60:
                _write(pd.concat(parts, ignore_index=True), out, signature)
                saved = time.monotonic()
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[*keep, *RESULT_COLUMNS])
    frame = sort_by_paths(frame, ds.frame["path"])
    _write(frame, out, signature)
    return frame


def embed_sharded(ds: FaceDataset, out: str | Path, world: World, **options) -> pd.DataFrame | None:
    """``embed_dataset`` under torchrun: rank r embeds rows ``r::N`` into its own part file, then
    rank 0 merges the parts into ``out`` in the dataset's order. Parts (``.OUT.parts/``) make
    a re-run after a kill resume. Returns the merged frame on rank 0, None elsewhere.
    """
    out = Path(out)

    def work(rows: np.ndarray, part: Path) -> None:
        progress = options.get("progress", True) and world.main
        embed_dataset(ds.with_frame(ds.frame.iloc[rows]), part, **{**options, "progress": progress})

    def merge(parts: list[Path]) -> pd.DataFrame:
        frame = sort_by_paths(pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True), ds.frame["path"])
        _write(frame, out, pq.read_schema(parts[0]).metadata[SIGNATURE_KEY].decode())
        return frame

    return run_sharded(len(ds.frame), out, world, work, merge)


SIGNATURE_KEY = b"rostro.embed"  # the stamp's key in files written before the move; kept so they resume


def embedding_signature(
    *, aligned: bool, run: str | Path | None, centre_fallback: bool, pick: str, flip: bool, jitter: int
) -> str:
    """What made the vectors of an embeddings file: options, detector chain, the run's weights."""
    sig = {"aligned": aligned, "centre_fallback": centre_fallback, "pick": pick, "flip": flip, "jitter": jitter,
           "detector": None if aligned else DETECTION_CHAIN, "run": None}  # fmt: skip
    if run is not None:
        sig["run"] = run_fingerprint(run)
    return json.dumps(sig, sort_keys=True)


OPTION_KEYS = ("aligned", "pick", "flip", "jitter")  # signature keys that are `rostro embed` options


def option_flags(made: dict, keys: tuple[str, ...] = OPTION_KEYS, *, than: dict | None = None) -> str:
    """The command-line options that make vectors as ``made`` says (a signature or a gallery's stamp), e.g.
    '--no-flip --jitter 2'; with ``than``, only those where ``made`` differs from it."""
    flags = []
    for key in keys:
        if key not in made or (than is not None and than.get(key) == made[key]):
            continue
        flag = "--" + key.replace("_", "-")
        value = made[key]
        flags.append((flag if value else f"--no-{flag[2:]}") if isinstance(value, bool) else f"{flag} {value}")
    return " ".join(flags)


def check_plain_vectors(path: str | Path, use: str) -> None:
    """Refuse an embeddings file of flip-averaged or jittered vectors for ``use``: fusion heads score dlib's plain
    vector, which prediction computes once per face. A file without a stamp (made before stamps) is let through."""
    stored = stored_signature(path)
    made = {} if stored is None else json.loads(stored)
    if made.get("flip") or made.get("jitter"):
        made_with = option_flags({k: v for k, v in made.items() if k in ("flip", "jitter") and v})
        raise RostroError(f"{path}: vectors made with {made_with}; {use} needs dlib's plain vectors, as prediction "
                          "computes them: make the file with `rostro embed ... --no-flip`")  # fmt: skip


def stored_signature(path: str | Path) -> str | None:
    """The signature an embeddings file was written with (None: a file from before signatures)."""
    stored = (pq.read_schema(path).metadata or {}).get(SIGNATURE_KEY)
    return None if stored is None else stored.decode()


def _read_done(out: Path, signature: str) -> pd.DataFrame | None:
    if not out.is_file():
        return None
    stored = stored_signature(out)
    try:
        check_resumable(out, stored, signature, "embeddings")
    except RostroError as exc:
        made, wanted = json.loads(stored) if stored is not None else None, json.loads(signature)
        hint = option_flags(made, than=wanted) if made is not None and made.get("run") == wanted["run"] else ""
        if not hint:
            raise
        raise RostroError(f"{exc}; or resume it with the options that made it: {hint}") from None
    return pd.read_parquet(out)


def _write(frame: pd.DataFrame, out: Path, signature: str) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), SIGNATURE_KEY: signature.encode()})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    atomic_write_bytes(out, buf.getvalue())


def embedding_matrix(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(N x D float32 matrix of the rows with a face, boolean mask of those rows)."""
    mask = frame["face_found"].to_numpy(bool)
    vecs = frame.loc[mask, "embedding"].tolist()
    dim = len(vecs[0]) if vecs else 0
    return np.asarray(vecs, dtype=np.float32).reshape(len(vecs), dim), mask
