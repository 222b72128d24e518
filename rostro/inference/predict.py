"""Attributes for any photo: detect, align to CelebA's crop, predict; batch over folders.

An image that cannot be read, or shows no face, becomes a result with ``error`` set; it
never stops a batch.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFont

from rostro.data.dataset import sort_by_paths
from rostro.data.images import ImageDecodeError, list_images, load_image
from rostro.data.transforms import resize_square
from rostro.distributed import World, run_sharded
from rostro.errors import RostroError
from rostro.faces.alignment import align_face, crop_landmarks
from rostro.faces.detection import DETECTION_CHAIN
from rostro.faces.embedding import aligned_chips, find_faces
from rostro.faces.network import CHIP_SIZE, face_chips, face_network
from rostro.faces.status import NO_FACE
from rostro.files import atomic_write_bytes, atomic_write_text, check_resumable, user_cache_dir
from rostro.models.calibration import Calibration
from rostro.models.export import OnnxModel, export_onnx
from rostro.models.fusion import Fusion, combine, mix_values
from rostro.models.inference import predict_logits
from rostro.progress import progress_bar
from rostro.runs import load_run, run_fingerprint, split_outputs
from rostro.workers import pool_map

log = logging.getLogger(__name__)
WEIGHTS = Path(__file__).parent.parent / "weights"
# the shipped models by name (``--model NAME``): the default and the earlier ones, kept for comparison
SHIPPED = {"default": "face_attr_v4", "v4": "face_attr_v4", "v3": "face_attr_v3", "v2": "face_attr_v2",
           "v1": "celeba_attr_net", "fast": "face_attr_fast"}  # fmt: skip
SHIPPED_RUN = WEIGHTS / SHIPPED["default"]
RUNTIMES = ("torch", "onnx")
CSV_FIXED = ["path", "face_found", "error", "n_faces", "left", "top", "right", "bottom"]


def default_run() -> Path:
    """The model shipped with the package (trained on CelebA; see its MODEL_CARD.md)."""
    if not (SHIPPED_RUN / "run.json").is_file():
        raise RostroError(f"no shipped model in {SHIPPED_RUN}; pass --model RUN")
    return SHIPPED_RUN


def int8_file(run: Path) -> Path:
    """Where ``rostro export --int8`` puts a run's quantized network: named by its weights, so never stale."""
    return run / f"model-{run_fingerprint(run)}.int8.onnx"


def resolve_run(run: str | Path | None) -> Path:
    """A run folder from ``--model``: None is the default, a shipped model's name (``default``, ``v2``,
    ``v1``) its folder unless a folder of that name exists here, anything else a path."""
    if run is None:
        return default_run()
    if str(run) in SHIPPED and not Path(run).exists():
        return WEIGHTS / SHIPPED[str(run)]
    return Path(run)


@dataclass
class FaceAttributes:
    """One face: its box (None for an aligned crop), detector, attribute probabilities and the
    model's numeric outputs (``values``: age in years for a model that predicts it)."""

    box: tuple[int, int, int, int] | None
    probabilities: dict[str, float]
    positive: list[str]
    detector: str = "aligned"
    score: float = float("nan")
    values: dict[str, float] = field(default_factory=dict)


@dataclass
class ImageResult:
    path: str
    faces: list[FaceAttributes] = field(default_factory=list)
    error: str = ""

    def row(self, labels: Sequence[str], values: Sequence[str] = ()) -> dict:
        """The CSV row: the largest face, or empty attribute cells with the reason; then the
        numeric outputs (``age``) of a model that has them."""
        face = self.faces[0] if self.faces else None
        box = face.box if face is not None and face.box is not None else (None,) * 4
        row = dict(zip(CSV_FIXED, (self.path, face is not None, self.error, len(self.faces), *box), strict=True))
        row.update({n: (round(face.probabilities[n], 6) if face else None) for n in labels})
        row.update({n: (round(face.values[n], 2) if face else None) for n in values})
        return row


class AttributePredictor:
    """A trained run (the shipped model by default) wrapped for photos and aligned crops."""

    def __init__(
        self, run: str | Path | None = None, *, runtime: str = "onnx", detector: str = "auto",
        threads: int | None = None, use_fusion: bool = True,
    ):  # fmt: skip
        if runtime not in RUNTIMES:
            raise ValueError(f"runtime must be one of {RUNTIMES}, got {runtime!r}")
        self.run = resolve_run(run)
        self.model, self.info = load_run(self.run)
        self.labels = self.info.labels
        self.values = list(self.info.regression)  # numeric outputs after the labels (age)
        self.calibration = Calibration.load(self.run, self.labels)
        self.fusion = Fusion.load(self.run) if use_fusion and self.info.input == "crop" else None
        if self.fusion is not None:
            self.fusion.check(self.run, self.labels)
        partner = self.fusion.partner_run(self.run) if self.fusion else None
        self.partner = None if partner is None else AttributePredictor(
            partner, runtime=runtime, detector=detector, threads=threads, use_fusion=False)  # fmt: skip
        self._partner_columns = partner_columns(self.partner, self.labels, self.values) if self.partner else None
        extra = str(use_fusion).encode() + (self.partner.fingerprint.encode() if self.partner else b"")
        self.fingerprint = run_fingerprint(self.run, extra)
        self.thresholds = np.asarray(self.fusion.thresholds if self.fusion else self.info.thresholds)
        self.detector = detector
        self.runtime = runtime
        self._recipe = (str(self.run), runtime, detector, use_fusion)  # how a worker process rebuilds it
        self.onnx, self.onnx_file = None, None
        if runtime == "onnx":
            self.onnx_file = self._onnx_file()
            self.onnx = OnnxModel(self.onnx_file, threads=threads)

    def _onnx_file(self) -> Path:
        """The run's int8 export where it ships one (``rostro export --int8``, named by the same fingerprint),
        else its float export."""
        int8 = int8_file(self.run)
        return int8 if int8.is_file() else self.float_onnx_file()

    def float_onnx_file(self) -> Path:
        """The run's ONNX export, named by the weights' fingerprint so a stale export is never used;
        written beside the run, or in the user's cache when the run folder is read-only (an install)."""
        name = f"model-{self.fingerprint}.onnx"
        cache = user_cache_dir("onnx")
        for folder in (self.run, cache):
            if (folder / name).is_file():
                return folder / name
        try:
            return export_onnx(self.model, self.run / name, input_size=self.info.input_size)
        except OSError:
            cache.mkdir(parents=True, exist_ok=True)
            return export_onnx(self.model, cache / name, input_size=self.info.input_size)

    def predict_crops(
        self, crops: np.ndarray, embeddings: np.ndarray | None = None, *, chips: np.ndarray | None = None
    ) -> np.ndarray:
        """Probabilities for N x S x S x 3 uint8 crops at the model's input size (chips for a
        model whose input is the face network's chip); calibrated where the run is.

        With a fused model, ``embeddings`` (N x 128 dlib vectors of the same faces) feed the
        attributes that mix in the embedding head; with a partner run, ``chips`` (N x 150 x 150 x 3,
        the face network's chips of the same faces) feed the partner.
        """
        return self.predict_outputs(crops, embeddings, chips=chips)[0]

    def predict_outputs(
        self, crops: np.ndarray, embeddings: np.ndarray | None = None, *, chips: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``predict_crops``'s probabilities and the numeric outputs (N x ``values``, e.g. age in years)."""
        if len(crops) == 0:
            return np.zeros((0, len(self.labels)), np.float32), np.zeros((0, len(self.values)), np.float32)
        if self.onnx is not None:
            logits = self.onnx.predict_logits(crops, mean=self.info.mean, std=self.info.std)
        else:
            logits = predict_logits(self.model, crops, mean=self.info.mean, std=self.info.std)
        probs, values = split_outputs(self.info, logits, self.calibration)
        if self.partner is not None:
            if chips is None or len(chips) != len(crops):
                raise RostroError(f"{self.run} mixes in {self.partner.run}, which reads the face network's chips: "
                                  f"expected chips= for the {len(crops)} faces, found "
                                  f"{'none' if chips is None else len(chips)}; cut them with "
                                  "rostro.faces.network.face_chips (predict_paths and analyze_image do)")  # fmt: skip
            p_partner, v_partner = self.partner.predict_outputs(chips)
            probs = self.fusion.mix(probs, p_partner[:, self._partner_columns])
            return probs, mix_values(values, v_partner, self.fusion.value_weights)
        if not self._wants_embedding:
            return probs, values
        p_emb = None if embeddings is None else self.fusion.head.predict_proba(embeddings)
        return combine(probs, p_emb, self.fusion.weights).astype(np.float32), values

    @property
    def _wants_embedding(self) -> bool:
        return self.fusion is not None and self.fusion.needs_embedding

    @property
    def needs_landmarks68(self) -> bool:
        """Whether faces need dlib's 68-point fit: for a crop model cut from them (else 5 points do)."""
        return self.info.input == "crop" and self.info.crop_points == 68

    def crop_landmarks(self, face) -> np.ndarray:
        """The landmarks this model's CelebA-layout crop of ``face`` is cut from."""
        return crop_landmarks(face, self.info.crop_points)

    @property
    def _wants_chips(self) -> bool:
        """Whether a face's chip is cut besides its crop: for the embedding head, or for the partner run."""
        return self._wants_embedding or self.partner is not None

    def align_faces(self, img: np.ndarray, *, pick: str = "largest") -> tuple[list, list[np.ndarray], list[np.ndarray]]:
        """Every face in a photo, its crop in CelebA's aligned layout (178 x 218) and, for a model fused
        with dlib's embedding, that embedding; largest first, or nearest the centre first with ``pick='centre'``."""
        faces, crops, chips = self._align(img, pick)
        return faces, crops, list(face_network().describe(chips)) if len(chips) else []

    def _align(self, img: np.ndarray, pick: str) -> tuple[list, list[np.ndarray], np.ndarray]:
        """Faces, CelebA-layout crops and (for a model fused with dlib's embedding) the face network's chips."""
        faces = find_faces(img, detector=self.detector, pick=pick, landmarks68=self.info.crop_points == 68)
        crops = [align_face(img, self.crop_landmarks(f)) for f in faces]
        return faces, crops, face_chips(img, [f.shape for f in faces]) if self._wants_embedding else _NO_CHIPS

    def _faces_of(self, img: np.ndarray, aligned: bool) -> tuple[list, list[np.ndarray], np.ndarray]:
        """Faces, their crops at the input size (their chips for a chip model), and (for a fused
        model) their face-network chips."""
        chip = self.info.input == "chip"
        if aligned and chip:
            return [None], list(aligned_chips([np.ascontiguousarray(img)])), _NO_CHIPS
        if aligned:
            crops = [resize_square(img, self.info.input_size)]
            return [None], crops, aligned_chips([img]) if self._wants_chips else _NO_CHIPS
        faces = find_faces(img, detector=self.detector, pick="largest", landmarks68=self.needs_landmarks68)
        return faces, *self._inputs(img, faces)

    def _inputs(self, img: np.ndarray, faces: list) -> tuple[list[np.ndarray], np.ndarray]:
        """The network's inputs for faces found in ``img`` (chips for a chip model, else CelebA-layout crops
        at the input size) and, for a fused model, the face network's chips."""
        if self.info.input == "chip":
            return list(face_chips(img, [f.shape for f in faces])), _NO_CHIPS
        crops = [resize_square(align_face(img, self.crop_landmarks(f)), self.info.input_size) for f in faces]
        return crops, face_chips(img, [f.shape for f in faces]) if self._wants_chips else _NO_CHIPS

    def predict_faces(self, img: np.ndarray, faces: list) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities and numeric outputs of faces already found in ``img`` (a video's detections),
        their inputs cut as ``predict`` cuts them."""
        if not faces:
            return self.predict_outputs(np.zeros((0,)))
        crops, chips = self._inputs(img, faces)
        return self._predict(crops, [chips])

    def _predict(self, crops: list[np.ndarray], chips: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities and numeric outputs for a batch of faces from many images: one call of each network."""
        cut = np.concatenate(chips) if self._wants_chips else None
        vecs = face_network().describe(cut) if self._wants_embedding else None
        return self.predict_outputs(_stack(crops), vecs, chips=cut)

    def _result(self, path: str, faces: list, probs: np.ndarray, values: np.ndarray) -> ImageResult:
        out = []
        for face, p, v in zip(faces, probs, values, strict=True):
            probabilities = {n: float(x) for n, x in zip(self.labels, p, strict=True)}
            positive = [n for n, x, t in zip(self.labels, p, self.thresholds, strict=True) if x >= t]
            numbers = {n: float(x) for n, x in zip(self.values, v, strict=True)}
            if face is None:
                out.append(FaceAttributes(None, probabilities, positive, values=numbers))
            else:
                out.append(FaceAttributes(face.box, probabilities, positive, face.detector, face.score, numbers))
        return ImageResult(path, out, "" if out else NO_FACE)

    def analyze_image(self, img: np.ndarray, *, aligned: bool = False, name: str = "<image>") -> ImageResult:
        faces, crops, chips = self._faces_of(img, aligned)
        return self._result(name, faces, *self._predict(crops, [chips]))

    def predict_paths(
        self,
        paths: Sequence[str | Path],
        *,
        aligned: bool = False,
        batch_size: int = 64,
        progress: bool = True,
        workers: int = 1,
    ) -> list[ImageResult]:
        """One result per path, in order; unreadable images and photos without a face are results too.

        ``workers`` > 1 spreads batches over that many processes, one thread each: detection,
        landmarks and alignment run one image at a time, so processes, not threads, fill the cores.
        """
        options = {"aligned": aligned, "batch_size": batch_size, "workers": workers, "progress": progress}
        return [result for batch in self.iter_batches(paths, **options) for result in batch]

    def iter_batches(
        self, paths: Sequence[str | Path], *, aligned: bool = False, batch_size: int = 64, workers: int = 1,
        progress: bool = False,
    ) -> Iterator[list[ImageResult]]:  # fmt: skip
        """The results of ``paths`` a batch at a time, in order, with a progress bar if asked."""
        chunks = [[str(p) for p in paths[i : i + batch_size]] for i in range(0, len(paths), batch_size)]
        with ExitStack() as stack:
            in_worker = partial(_predict_in_worker, self._recipe, aligned)
            batches = pool_map(stack, in_worker, chunks, workers, local=partial(self._predict_batch, aligned=aligned))
            bar = stack.enter_context(progress_bar("predict", enabled=progress))
            task = bar.add_task("predict", total=len(paths))
            for results in batches:
                yield results
                bar.advance(task, len(results))

    def draft_size(self, aligned: bool) -> tuple[int, int] | None:
        """A JPEG aligned crop for a small crop model decodes at the smallest power-of-two scale that still
        covers the input (CelebA's 178 x 218 at half size for 64 px): a full decode is most of a fast model's
        time. Not for a chip model or a fused one, whose face network reads the crop at full size."""
        if aligned and self.info.input == "crop" and not self._wants_chips:
            return (self.info.input_size, self.info.input_size)
        return None

    def aligned_inputs(self, paths: Sequence[str | Path]) -> np.ndarray:
        """The network's inputs for aligned crops, cut as ``predict --aligned`` cuts them (N x S x S x 3 uint8)."""
        draft = self.draft_size(aligned=True)
        return _stack([c for p in paths for c in self._faces_of(load_image(p, draft_size=draft), aligned=True)[1]])

    def _predict_batch(self, chunk: list[str], aligned: bool) -> list[ImageResult]:
        found, crops, chips = [], [], [_NO_CHIPS]
        draft = self.draft_size(aligned)
        for p in chunk:
            try:
                faces, face_crops, face_chips_ = self._faces_of(load_image(p, draft_size=draft), aligned)
            except ImageDecodeError as exc:
                faces, face_crops, face_chips_ = exc, [], _NO_CHIPS
            found.append(faces)
            crops.extend(face_crops)
            chips.append(face_chips_)
        probs, values = self._predict(crops, chips)
        results, at = [], 0
        for p, faces in zip(chunk, found, strict=True):
            if isinstance(faces, ImageDecodeError):
                results.append(ImageResult(p, [], faces.reason))
                continue
            results.append(self._result(p, faces, probs[at : at + len(faces)], values[at : at + len(faces)]))
            at += len(faces)
        return results


def partner_columns(partner: AttributePredictor, labels: list[str], values: list[str]) -> list[int]:
    """The fusion partner's column of each of ``labels``; it must read chips and give the same numeric outputs."""
    missing = [n for n in labels if n not in partner.labels]
    if missing or partner.values != values or partner.info.input != "chip":
        raise RostroError(f"fusion partner {partner.run}: expected a chip model with every label and the numeric "
                          f"outputs {values}; found input {partner.info.input!r}, outputs {partner.values}, missing "
                          f"labels {missing}")  # fmt: skip
    return [partner.labels.index(n) for n in labels]


_WORKER_PREDICTORS: dict = {}


def _predict_in_worker(recipe: tuple, aligned: bool, chunk: list[str]) -> list[ImageResult]:
    """One batch in a pool worker, with that worker's own predictor (loaded once) on one thread."""
    if recipe not in _WORKER_PREDICTORS:
        run, runtime, detector, use_fusion = recipe
        _WORKER_PREDICTORS[recipe] = AttributePredictor(run, runtime=runtime, detector=detector, threads=1,
                                                        use_fusion=use_fusion)  # fmt: skip
    return _WORKER_PREDICTORS[recipe]._predict_batch(chunk, aligned)


_NO_CHIPS = np.zeros((0, CHIP_SIZE, CHIP_SIZE, 3), np.uint8)


def _stack(arrays: list[np.ndarray]) -> np.ndarray:
    return np.stack(arrays) if arrays else np.zeros((0,))


def sample_photo() -> Path:
    """A portrait photo that matplotlib (a dependency) ships, for a demo with no photo of the user's."""
    import matplotlib

    return Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


def collect_paths(target: str | Path) -> list[Path]:
    """A single image, or every image below a folder (by extension or content)."""
    target = Path(target)
    if target.is_dir():
        paths = list_images(target)
        if not paths:
            raise RostroError(f"{target}: no images found (expected image files in it or below it)")
        return paths
    if not target.exists():
        raise RostroError(f"{target}: no such file or folder")
    return [target]


def results_frame(results: Sequence[ImageResult], labels: Sequence[str], values: Sequence[str] = ()) -> pd.DataFrame:
    """The documented CSV layout: path, face_found, error, n_faces, box, one column per attribute,
    then the model's numeric outputs (``age`` in years, for a model that predicts it)."""
    return pd.DataFrame([r.row(labels, values) for r in results], columns=[*CSV_FIXED, *labels, *values])


def predict_table(
    predictor: AttributePredictor,
    paths: Sequence[str | Path],
    out: str | Path,
    *,
    aligned: bool = False,
    batch_size: int = 64,
    progress: bool = True,
    workers: int = 1,
    rewrite: bool = False,
) -> pd.DataFrame:
    """``results_frame`` for ``paths``, kept in the CSV ``out`` and resumed from it.

    Each batch is appended and fsynced, so a killed run over a large folder keeps what it
    finished; a re-run drops a torn last line and predicts only the paths not in the file.
    A sidecar ``.OUT.json`` records the model and options: a file written by another model
    is refused rather than mixed. ``rewrite`` leaves ``out`` in the order of ``paths``, the rows
    it held for other images (earlier runs into the same file) after them.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    columns = [*CSV_FIXED, *predictor.labels, *predictor.values]
    sidecar = out.parent / f".{out.name}.json"
    signature = {"model": predictor.fingerprint, "aligned": aligned, "labels": predictor.labels}
    if not aligned:
        signature["detector"] = DETECTION_CHAIN if predictor.detector == "auto" else predictor.detector
    if predictor.onnx_file == int8_file(predictor.run):
        signature["int8"] = True  # the same weights, other numbers: never mixed with float rows
    if predictor.partner is not None and predictor.partner.onnx_file == int8_file(predictor.partner.run):
        signature["partner_int8"] = True
    if out.is_file():
        check_resumable(out, sidecar.read_text() if sidecar.is_file() else None, json.dumps(signature), "predictions")
        _drop_torn_line(out)
        done = pd.read_csv(out)
        if list(done.columns) != columns:
            raise RostroError(f"{out}: columns {list(done.columns)[:10]}... are not {columns[:10]}...; "
                              "delete it or choose another --out")  # fmt: skip
    else:
        atomic_write_text(sidecar, json.dumps(signature))
        atomic_write_text(out, ",".join(columns) + "\n")
        done = pd.DataFrame(columns=columns)
    have = set(done["path"].astype(str).map(_same_file))  # ./a.jpg, a.jpg and /abs/a.jpg are one image
    todo = [str(p) for p in paths if _same_file(p) not in have]
    parts = [done]
    options = {"aligned": aligned, "batch_size": batch_size, "workers": workers, "progress": progress}
    with open(out, "ab", buffering=0) as fh:
        for results in predictor.iter_batches(todo, **options):
            rows = results_frame(results, predictor.labels, predictor.values)
            _append(fh, rows.to_csv(index=False, header=False).encode("utf-8"), out)
            parts.append(rows)
    filled = [p for p in parts if len(p)]
    held = pd.concat(filled, ignore_index=True) if filled else done
    frame = _as_asked(held, paths)
    if rewrite:  # this run's rows in its order, then those the file holds for other images, which it keeps
        mine = set(frame["path"].astype(str).map(_same_file))
        others = held[~held["path"].astype(str).map(_same_file).isin(mine)]
        atomic_write_text(out, pd.concat([frame, others], ignore_index=True).to_csv(index=False))
    return frame


def _as_asked(frame: pd.DataFrame, paths: Sequence[str | Path]) -> pd.DataFrame:
    """The rows of ``paths``, in their order and spelled as they are (a file may hold them spelled otherwise)."""
    asked = {_same_file(p): str(p) for p in paths}
    keys = frame["path"].astype(str).map(_same_file)
    mine = keys.isin(asked)
    frame = frame[mine].assign(path=keys[mine].map(asked))
    return sort_by_paths(frame.drop_duplicates("path", keep="last"), paths)


def _same_file(path: str | Path) -> str:
    # links are not followed: two files that link to one image are two rows, as the user listed them
    return os.path.abspath(str(path))


def _append(fh: BinaryIO, data: bytes, out: Path) -> None:
    """Append whole rows or none: a failed write (disk full) is cut back before the error rises."""
    start = fh.tell()
    try:
        view = memoryview(data)
        while view:
            view = view[fh.write(view) :]
        os.fsync(fh.fileno())
    except OSError as exc:
        with contextlib.suppress(OSError):
            fh.truncate(start)
        raise OSError(exc.errno, exc.strerror, str(out)) from exc


def _drop_torn_line(path: Path) -> None:
    """Cut a last line that a kill left half-written (every complete row ends with a newline)."""
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        atomic_write_bytes(path, data[: data.rfind(b"\n") + 1])


def predict_sharded(
    predictor: AttributePredictor,
    paths: Sequence[str | Path],
    out: str | Path,
    world: World,
    *,
    aligned: bool = False,
    batch_size: int = 64,
) -> pd.DataFrame | None:
    """``predict_table`` under torchrun: rank r predicts ``paths[r::N]`` into its own part file,
    then rank 0 merges the parts into ``out`` in the order of ``paths`` (the single-process
    result). Parts live in ``.OUT.parts/`` and make a re-run after a kill resume. Returns the
    merged table on rank 0, None elsewhere.
    """
    out = Path(out)

    def work(rows: np.ndarray, part: Path) -> None:
        predict_table(predictor, [paths[i] for i in rows], part, aligned=aligned, batch_size=batch_size,
                      progress=world.main)  # fmt: skip

    def merge(parts: list[Path]) -> pd.DataFrame:
        frame = _as_asked(pd.concat([pd.read_csv(p) for p in parts], ignore_index=True), paths)
        atomic_write_text(out, frame.to_csv(index=False))
        return frame

    return run_sharded(len(paths), out, world, work, merge)


def annotate(img: np.ndarray, result: ImageResult, path: str | Path, *, top: int = 4) -> Path:
    """Draw each face's box and its most probable positive attributes."""
    canvas = Image.fromarray(img)
    draw = ImageDraw.Draw(canvas)
    side = max(img.shape[:2])
    width = max(2, round(side / 250))
    font = ImageFont.load_default(size=max(11, round(side / 45)))
    for face in result.faces:
        if face.box is None:
            continue
        draw.rectangle(face.box, outline=(0, 220, 90), width=width)
        shown = sorted(face.positive, key=lambda n: -face.probabilities[n])[:top]
        lines = [f"{n} {v:.0f}" for n, v in face.values.items()] + [f"{n} {face.probabilities[n]:.2f}" for n in shown]
        text = "\n".join(lines) or "(none)"
        at = (face.box[0], face.box[3] + width + 2)
        draw.rectangle(draw.multiline_textbbox(at, text, font=font), fill=(0, 0, 0))
        draw.multiline_text(at, text, fill=(0, 220, 90), font=font)
    canvas.save(path)
    return Path(path)
