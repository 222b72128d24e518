"""A gallery: named face vectors to search, kept in a folder (the default) or in Milvus.

A folder gallery holds ``meta.json`` (what made the vectors, the threshold, the list of segments),
one ``vectors-N.npy`` (unit float32 rows) and one ``faces-N.parquet`` (name, path, face, box,
photo hash) per segment, ``gallery.lock`` and, once the gallery outgrows exact search, a cached
IVF index (``index.faiss`` with ``index.json``: the segments and settings it was built from). Each addition
writes a new segment, then replaces ``meta.json`` atomically: a killed addition leaves the gallery
as it was before its last segment, and segment files no ``meta.json`` names are deleted by the
next writer. A writer holds an exclusive lock on ``gallery.lock`` (released by the system when
its process dies, however it died); a second writer is refused at once.

The gallery's *stamp* is the part of an embedding's stamp (``rostro embed``'s) that decides its
vector space: the network (dlib's weights' digest, or a run's fingerprint), ``flip`` and ``jitter``.
How a face was found (detector, centre, aligned crop) changes which pixels were described, not the
space, so it may differ between additions. A gallery refuses vectors with another stamp.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import logging
import os
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from rostro.errors import RostroError
from rostro.files import atomic_path, atomic_write_bytes, atomic_write_text
from rostro.search.index import EXACT_LIMIT, IVF_CODE, IvfIndex, check_vectors, exact_top_k, ivf_lists, normalise

log = logging.getLogger(__name__)

FORMAT = "rostro-gallery"
VERSION = 1
MAX_FETCH = 16_384  # the most faces identify fetches for one query (Milvus answers no more)
META = "meta.json"
META_KEYS = ("stamp", "dim", "threshold", "segments", "next_segment")  # what a folder gallery's meta.json holds
LOCK = "gallery.lock"
INDEX = "index.faiss"
INDEX_KEY = "index.json"
FACE_COLUMNS = ("name", "path", "face", "left", "top", "right", "bottom", "photo_hash")
MAX_SEGMENTS = 32  # more are merged into one on the next addition
DEFAULT_FAR = 1e-3
PAIR_FACES = 20_000  # named faces sampled for the gallery's genuine/impostor pairs


@cache
def dlib_network_id() -> str:
    """'dlib_resnet <sha256[:16]>' of the face network's weights file."""
    from rostro.faces.dlib_resnet import weights_digest
    from rostro.faces.models import model_file

    return f"dlib_resnet {weights_digest(model_file('resnet'))}"


def gallery_stamp(signature: str | dict | None) -> dict:
    """The stamp of vectors made with an embedding ``signature`` (``rostro embed``'s, JSON or dict)."""
    if signature is None:
        raise RostroError("these embeddings carry no stamp of what made them (a file from before rostro recorded "
                          "it); embed the photos again with `rostro embed`")  # fmt: skip
    sig = json.loads(signature) if isinstance(signature, str) else signature
    network = dlib_network_id() if sig.get("run") is None else f"run {sig['run']}"
    return {"network": network, "flip": bool(sig.get("flip", False)), "jitter": int(sig.get("jitter", 0))}


def photo_stamp(*, flip: bool = True, jitter: int = 0) -> dict:
    """The stamp of dlib vectors computed here from photos (flip-averaged by default, as ``rostro embed``)."""
    return {"network": dlib_network_id(), "flip": flip, "jitter": jitter}


def photo_options(stamp: dict) -> dict:
    """The ``flip`` and ``jitter`` that describe photos' faces as a gallery's were described (a stamp without
    ``flip`` is of dlib's plain vectors)."""
    return {"flip": bool(stamp.get("flip", False)), "jitter": int(stamp.get("jitter", 0))}


def stamp_threshold(stamp: dict) -> float:
    """The default verification threshold for vectors made as ``stamp`` says (with or without flip)."""
    from rostro.faces.embedding import default_threshold

    return default_threshold(photo_options(stamp)["flip"])


@dataclass(frozen=True, kw_only=True)
class Threshold:
    """The similarity at or above which a face is called the person it matched, and where it came from."""

    value: float
    far: float
    source: str  # 'gallery' (its own genuine/impostor pairs) or 'default' (rostro verify's threshold)
    n_genuine: int = 0
    n_impostor: int = 0

    def describe(self) -> str:
        if self.source == "gallery":
            return (f"{self.value:.4f} (FAR {self.far:g} on the gallery's {self.n_genuine:,} genuine and "
                    f"{self.n_impostor:,} impostor pairs)")  # fmt: skip
        return (f"{self.value:.4f} (the default verification threshold; too few pairs in the gallery for FAR "
                f"{self.far:g})")  # fmt: skip


def check_far(far: float) -> None:
    if not 0 < far < 1:
        raise RostroError(f"far: expected a false-accept rate between 0 and 1 (e.g. 0.001), found {far}")


def choose_threshold(names: np.ndarray, vectors: np.ndarray, far: float = DEFAULT_FAR, *, seed: int = 0,
                     default: float | None = None) -> Threshold:  # fmt: skip
    """The lowest cosine similarity whose false-accept rate on the gallery's own impostor pairs is at
    most ``far``, when it holds genuine pairs and enough impostor pairs to resolve ``far`` (ten times
    1 / far); else ``default``, the verification threshold measured for the gallery's kind of vectors
    (:func:`stamp_threshold`; none: :data:`rostro.faces.embedding.DEFAULT_THRESHOLD`, flip-averaged ones).
    Unnamed faces take no part."""
    from rostro.evaluation.verification import make_pairs, verification_curves
    from rostro.faces.embedding import DEFAULT_THRESHOLD

    check_far(far)
    named = np.flatnonzero(np.asarray(names, object) != "")
    if len(named) > PAIR_FACES:
        named = np.sort(np.random.default_rng(seed).choice(named, PAIR_FACES, replace=False))
    default = Threshold(value=DEFAULT_THRESHOLD if default is None else default, far=far, source="default")
    ids = np.asarray(names, object)[named].astype(str)
    if len(set(ids)) < 2 or len(ids) == len(set(ids)):
        return default
    need = int(np.ceil(10 / far))
    pairs = make_pairs(vectors[named], ids, max_genuine=200_000, max_impostor=max(need, 200_000), seed=seed)
    n_gen, n_imp = int(pairs.genuine.sum()), int((~pairs.genuine).sum())
    if n_imp < need:
        return default
    curves = verification_curves(pairs.scores, pairs.genuine)
    return Threshold(value=curves.threshold_at_far(far), far=far, source="gallery", n_genuine=n_gen, n_impostor=n_imp)


RERANK_IDENTIFY = (10, 6, 0.5)  # k, query expansion, Euclidean's share: chosen on validation (session 21)
RERANK_IDENTIFY_LIMIT = 10_000  # gallery and query faces together: every pairwise distance is held (about 9 s)


@dataclass(frozen=True, kw_only=True)
class Hit:
    """One gallery face matched by a query: its name ('' for an unlabelled photo's face), photo and similarity."""

    name: str
    path: str
    face: int
    similarity: float

    @property
    def label(self) -> str:
        """The name, or the photo and face for an unnamed face."""
        return self.name or f"{self.path}#{self.face}"


def _best_per_person(hits: list[Hit]) -> dict[str, float]:
    """Each person's (or unnamed face's) best similarity among ``hits`` (best first, as every search gives them)."""
    best: dict[str, float] = {}
    for h in hits:
        best.setdefault(h.label, h.similarity)
    return best


class Gallery(ABC):
    """What every gallery back-end does; a writer opens it with :func:`open_gallery` (``write=True``)."""

    uri: str
    meta: dict

    @property
    def stamp(self) -> dict:
        return self.meta["stamp"]

    @property
    def dim(self) -> int:
        return int(self.meta["dim"])

    @property
    def threshold(self) -> Threshold:
        return Threshold(**self.meta["threshold"])

    def check_stamp(self, stamp: dict, what: str) -> None:
        """Refuse vectors made otherwise than the gallery's, naming the options that make them alike."""
        if stamp != self.stamp:
            from rostro.inference.embed import option_flags

            ours = json.dumps(self.stamp, sort_keys=True)
            flags = option_flags(self.stamp, ("flip", "jitter"), than=stamp)
            fix = (f"embed with the gallery's options ({flags}: `rostro embed ... {flags}`, or `rostro index ... "
                   f"{flags}`)" if flags and stamp.get("network") == self.stamp.get("network")
                   else "embed with the gallery's network")  # fmt: skip
            raise RostroError(f"{self.uri}: the gallery holds vectors made with {ours}, "
                              f"but {what} were made with {json.dumps(stamp, sort_keys=True)}; {fix}, or index "
                              f"into a new gallery")  # fmt: skip

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def photo_hashes(self) -> set[str]:
        """Content hashes of the photos (or vectors) already in the gallery."""

    @abstractmethod
    def add(self, faces: pd.DataFrame, vectors: np.ndarray) -> int:
        """Add faces (``FACE_COLUMNS``) with their vectors (any length, normalised here); returns the count."""

    @abstractmethod
    def remove(self, name: str) -> int:
        """Remove every face named ``name``; returns the count."""

    @abstractmethod
    def names(self) -> pd.Series:
        """The name of every face in the gallery."""

    def people(self) -> int:
        """How many people (and unnamed faces) the gallery holds: the most candidates a search can give."""
        names = self.names()
        return int(names[names != ""].nunique() + (names == "").sum())

    @abstractmethod
    def sample(self, n: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(names, unit vectors) of up to ``n`` named faces, for the threshold."""

    @abstractmethod
    def _search(self, queries: np.ndarray, k: int) -> list[list[Hit]]: ...

    @abstractmethod
    def _write_meta(self) -> None: ...

    @abstractmethod
    def refresh(self) -> None:
        """Read the gallery's description again if another process changed it, so a long-lived reader (the
        service) sees faces added or removed by `rostro index` and the threshold chosen then."""

    def search(self, queries: np.ndarray, k: int = 5) -> list[list[Hit]]:
        """The ``k`` most similar gallery faces of each query vector, best first."""
        if k < 1:
            raise RostroError(f"k: expected at least 1 match per face, found {k}")
        if len(self) == 0:
            raise RostroError(f"{self.uri}: the gallery is empty; add faces first with `rostro index SOURCE "
                              f"--gallery {self.uri}`")  # fmt: skip
        return self._search(normalise(check_vectors(queries, dim=self.dim, what="query vectors")), k)

    def identify(self, queries: np.ndarray, k: int = 5, *, threshold: float | None = None
                 ) -> list[tuple[str, float, list[tuple[str, float]]]]:  # fmt: skip
        """For each query: (name, or '' when the best match is below ``threshold`` (the gallery's by default);
        best similarity; up to ``k`` candidates [label, similarity], one per person, best first)."""
        t = self.threshold.value if threshold is None else threshold
        queries = check_vectors(queries, dim=self.dim, what="query vectors")
        fetch = max(4 * k, k + 16)
        found, short = [], []
        for i, hits in enumerate(self.search(queries, fetch)):
            found.append(_best_per_person(hits))
            if len(found[-1]) < k and len(hits) == fetch:
                short.append(i)
        if short:  # one person with many photos filled the faces fetched: fetch more, up to the people there are
            k = min(k, self.people())
            short = [i for i in short if len(found[i]) < k]
        while short and fetch < MAX_FETCH:
            fetch, still = min(4 * fetch, MAX_FETCH), []
            for start in range(0, len(short), 64):  # a few queries at a time: each may bring MAX_FETCH hits
                part = short[start : start + 64]
                for i, hits in zip(part, self.search(queries[part], fetch), strict=True):
                    found[i] = _best_per_person(hits)
                    if len(found[i]) < k and len(hits) == fetch:
                        still.append(i)
            short = still
        out = []
        for best in found:
            cands = sorted(best.items(), key=lambda c: -c[1])[:k]
            top = cands[0] if cands else ("", float("nan"))
            out.append((top[0] if top[1] >= t else "", float(top[1]), [(n, round(float(s), 6)) for n, s in cands]))
        return out

    def identify_collection(self, queries: np.ndarray, k: int = 5, *, threshold: float | None = None
                            ) -> list[tuple[str, float, list[tuple[str, float]]]]:  # fmt: skip
        """:meth:`identify` for a collection of faces at once, its people ranked by k-reciprocal re-ranked distances
        over the gallery's and the collection's faces together (:func:`rostro.search.cluster.reranked_distances`):
        a probe whose nearest gallery face is a stranger is often nearer, through its person's other photos in the
        collection, to its own. Similarities stay cosines and a name is still given at or above the threshold.
        Plain :meth:`identify` where that cannot run: fewer than ``RERANK_MIN_FACES`` or more than
        ``RERANK_IDENTIFY_LIMIT`` faces in all, or unnamed gallery faces."""
        from rostro.search.cluster import RERANK_MIN_FACES

        queries = check_vectors(queries, dim=self.dim, what="query vectors")
        total = len(self) + len(queries)
        if k < 1 or not len(self) or not RERANK_MIN_FACES <= total <= RERANK_IDENTIFY_LIMIT:
            return self.identify(queries, k, threshold=threshold)  # which refuses an empty gallery
        names, vectors = self.sample(RERANK_IDENTIFY_LIMIT)
        if len(names) < len(self):
            return self.identify(queries, k, threshold=threshold)
        return reranked_matches(names, vectors, normalise(queries), k,
                                self.threshold.value if threshold is None else threshold)  # fmt: skip

    def update_threshold(self, far: float | None = None) -> Threshold:
        """Choose the threshold again from the gallery's faces (after an addition or removal)."""
        far = self.threshold.far if far is None else far
        names, vectors = self.sample(PAIR_FACES)
        self.meta["threshold"] = choose_threshold(names, vectors, far, default=stamp_threshold(self.stamp)).__dict__
        self._write_meta()
        return self.threshold

    def prepare_search(self) -> None:  # noqa: B027 - a back-end that indexes as it adds keeps this
        """Build what searching needs now, so that the first search after an addition does not wait for it."""

    def close(self) -> None:  # noqa: B027 - a back-end without resources keeps this
        """Release the writer's lock or the connection."""

    def __enter__(self) -> Gallery:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def new_meta(stamp: dict, dim: int, far: float = DEFAULT_FAR) -> dict:
    now = time.strftime("%Y-%m-%dT%H:%M:%S")
    return {"format": FORMAT, "version": VERSION, "stamp": stamp, "dim": dim, "segments": [], "next_segment": 1,
            "threshold": Threshold(value=stamp_threshold(stamp), far=far, source="default").__dict__, "created": now,
            "updated": now}  # fmt: skip


def check_faces(faces: pd.DataFrame, vectors: np.ndarray, dim: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Faces in the gallery's columns and types, beside their unit vectors."""
    absent = [c for c in FACE_COLUMNS if c not in faces.columns]
    if absent:
        raise RostroError(f"faces to add: no column(s) {absent}; expected {list(FACE_COLUMNS)}")
    vectors = normalise(check_vectors(vectors, dim=dim, what="vectors to add"), what="vectors to add")
    if len(vectors) != len(faces):
        raise RostroError(f"faces to add: {len(faces)} rows but {len(vectors)} vectors")
    frame = faces[list(FACE_COLUMNS)].reset_index(drop=True).copy()
    for c in ("name", "path", "photo_hash"):
        frame[c] = frame[c].fillna("").astype(str)
    for c in ("face", "left", "top", "right", "bottom"):
        frame[c] = pd.to_numeric(frame[c]).fillna(-1).astype(np.int64)
    return frame, vectors


class FolderGallery(Gallery):
    """A gallery in a folder (see the module's docstring), searched exactly up to
    :data:`~rostro.search.index.EXACT_LIMIT` faces and through a cached IVF index beyond."""

    def __init__(self, root: str | Path, *, write: bool = False, create: dict | None = None,
                 exact_limit: int | None = None) -> None:  # fmt: skip
        self.root = Path(root)
        self.uri = str(root)
        self.exact_limit = EXACT_LIMIT if exact_limit is None else exact_limit
        self._lock_fh = None
        self._cache: tuple[list, pd.DataFrame, np.ndarray] | None = None
        self._index: tuple[str, IvfIndex] | None = None
        self._people: tuple[list, int] | None = None
        meta_file = self.root / META
        if self.root.exists() and not self.root.is_dir():
            raise RostroError(f"{self.root}: expected a gallery folder (made by `rostro index`), found a file; give "
                              f"the gallery's folder, or a new folder to create one")  # fmt: skip
        if not meta_file.is_file():
            if create is None:
                self._refuse_missing()
            if self.root.exists() and any(p for p in self.root.iterdir() if p.name != LOCK):
                raise RostroError(f"{self.root}: expected an empty folder or a gallery ({META}), found a folder of "
                                  f"other files; choose a new --gallery folder")  # fmt: skip
            self.root.mkdir(parents=True, exist_ok=True)
        if write:
            self._lock()
        if not meta_file.is_file():
            self.meta = create
            self._write_meta()
        self.meta = self._read_meta()
        if write:
            self._clean()

    # -- opening ---------------------------------------------------------------------------------
    def _refuse_missing(self) -> None:
        if not self.root.exists():
            raise RostroError(f"{self.root}: no such gallery; create one with `rostro index SOURCE --gallery "
                              f"{self.root}`")  # fmt: skip
        raise RostroError(f"{self.root}: not a gallery (expected {META} in it, found "
                          f"{sorted(p.name for p in self.root.iterdir())[:5] or 'an empty folder'}); give the folder "
                          f"`rostro index` made")  # fmt: skip

    def _meta_version(self) -> tuple:
        st = (self.root / META).stat()
        return st.st_ino, st.st_mtime_ns, st.st_size  # meta.json is replaced whole (a new inode) on every write

    def refresh(self) -> None:
        try:
            changed = self._meta_version() != self._version
        except FileNotFoundError:
            raise RostroError(f"{self.root}: the gallery's {META} is gone (the folder was moved or deleted while "
                              f"open); give the gallery's new place, or index again") from None  # fmt: skip
        if changed:
            self.meta = self._read_meta()

    def _read_meta(self) -> dict:
        file = self.root / META
        self._version = self._meta_version()
        try:
            meta = json.loads(file.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RostroError(f"{file}: not a readable gallery description ({exc}); the gallery is damaged: index "
                              f"its photos again into a new folder") from None  # fmt: skip
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
            raise RostroError(f"{file}: expected a rostro gallery description (format {FORMAT!r}), found "
                              f"{found!r}")  # fmt: skip
        if meta.get("version") != VERSION:
            raise RostroError(f"{file}: gallery format version {meta.get('version')}, this rostro reads version "
                              f"{VERSION}; use the rostro that made it, or index again")  # fmt: skip
        absent = [k for k in META_KEYS if k not in meta]
        if absent:
            raise self._damaged(file, f"no {absent} in the gallery description")
        return meta

    def _lock(self) -> None:
        fh = open(self.root / LOCK, "a+")  # noqa: SIM115 - held until close()
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise RostroError(f"{self.root}: another writer holds the gallery ({holder}); wait for it to finish, "
                              f"then run this again (the lock ends with its process)") from None  # fmt: skip
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}")
        fh.flush()
        self._lock_fh = fh

    def close(self) -> None:
        if self._lock_fh is not None:
            with contextlib.suppress(OSError):
                self._lock_fh.seek(0)
                self._lock_fh.truncate()
            self._lock_fh.close()  # closing releases the lock
            self._lock_fh = None

    def _clean(self) -> None:
        """Delete what a killed writer left: segments no ``meta.json`` names, temporary files."""
        kept = {f"{kind}-{s['id']:06d}.{ext}" for s in self.meta["segments"]
                for kind, ext in (("vectors", "npy"), ("faces", "parquet"))}  # fmt: skip
        for p in self.root.iterdir():
            stray = (p.name.startswith(("vectors-", "faces-")) and p.name not in kept) or p.name.endswith(".tmp")
            if stray and p.is_file():
                log.info("%s: removing %s, left by an interrupted writer", self.root, p.name)
                p.unlink(missing_ok=True)

    def _write_meta(self) -> None:
        self.meta["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        atomic_write_text(self.root / META, json.dumps(self.meta, indent=2))
        self._version = self._meta_version()

    # -- reading ---------------------------------------------------------------------------------
    def _segment_files(self, seg: dict) -> tuple[Path, Path]:
        return self.root / f"vectors-{seg['id']:06d}.npy", self.root / f"faces-{seg['id']:06d}.parquet"

    def _load(self) -> tuple[pd.DataFrame, np.ndarray]:
        """Every face and vector, read once per version of ``meta.json``."""
        for attempt in range(3):
            if self._cache is not None and self._cache[0] == self.meta["segments"]:
                return self._cache[1], self._cache[2]
            try:
                frames, vectors = [], []
                for seg in self.meta["segments"]:
                    frames.append(self._read_faces(seg))
                    vectors.append(self._read_vectors(seg))
                break
            except FileNotFoundError as exc:  # a writer replaced the segments after we read meta.json
                if attempt == 2:
                    raise self._damaged(Path(exc.filename), "missing") from None
                time.sleep(0.2)
                self.meta = self._read_meta()
        faces = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(FACE_COLUMNS))
        vecs = np.concatenate(vectors) if vectors else np.zeros((0, self.dim), np.float32)
        self._cache = (list(self.meta["segments"]), faces, vecs)
        return faces, vecs

    def _read_vectors(self, seg: dict) -> np.ndarray:
        file = self._segment_files(seg)[0]
        try:
            vecs = np.load(file, allow_pickle=False)
        except (ValueError, EOFError, OSError) as exc:
            if isinstance(exc, FileNotFoundError):
                raise
            raise self._damaged(file, f"unreadable ({exc})") from None
        if vecs.dtype != np.float32 or vecs.ndim != 2 or vecs.shape != (seg["count"], self.dim):
            raise self._damaged(file, f"expected {seg['count']} x {self.dim} float32, found {vecs.shape} {vecs.dtype}")
        if not np.isfinite(vecs).all():
            raise self._damaged(file, f"{int((~np.isfinite(vecs)).any(axis=1).sum())} vector(s) hold NaN or infinity")
        return vecs

    def _read_faces(self, seg: dict) -> pd.DataFrame:
        file = self._segment_files(seg)[1]
        try:
            faces = pd.read_parquet(file)
        except FileNotFoundError:
            raise
        except Exception as exc:  # pyarrow raises several kinds for a damaged file
            raise self._damaged(file, f"unreadable ({type(exc).__name__}: {exc})") from None
        if len(faces) != seg["count"] or list(faces.columns) != list(FACE_COLUMNS):
            raise self._damaged(file, f"expected {seg['count']} rows of {list(FACE_COLUMNS)}, found {len(faces)} rows "
                                      f"of {list(faces.columns)}")  # fmt: skip
        return faces

    def _damaged(self, file: Path, what: str) -> RostroError:
        return RostroError(f"{file}: {what}; the gallery is damaged (a file changed outside rostro): remove the "
                           f"people it holds and add them again, or index into a new gallery")  # fmt: skip

    def __len__(self) -> int:
        return sum(s["count"] for s in self.meta["segments"])

    def faces(self) -> pd.DataFrame:
        return self._load()[0]

    def names(self) -> pd.Series:
        return self._load()[0]["name"]

    def people(self) -> int:
        key = list(self.meta["segments"])  # counted once per version of the gallery, not once per search
        if self._people is None or self._people[0] != key:
            self._people = (key, super().people())
        return self._people[1]

    def photo_hashes(self) -> set[str]:
        return set(self._load()[0]["photo_hash"])

    def sample(self, n: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        faces, vecs = self._load()
        named = np.flatnonzero(faces["name"].to_numpy(object) != "")
        if len(named) > n:
            named = np.sort(np.random.default_rng(seed).choice(named, n, replace=False))
        return faces["name"].to_numpy(object)[named], vecs[named]

    # -- searching -------------------------------------------------------------------------------
    def _search(self, queries: np.ndarray, k: int) -> list[list[Hit]]:
        faces, vecs = self._load()
        if len(vecs) <= self.exact_limit:
            rows, sims = exact_top_k(vecs, queries, k)
        else:
            rows, sims = self.ivf().search(queries, k)
        names, paths, face = faces["name"].to_numpy(object), faces["path"].to_numpy(object), faces["face"].to_numpy()
        return [[Hit(name=names[r], path=paths[r], face=int(face[r]), similarity=float(s))
                 for r, s in zip(rr, ss, strict=True) if r >= 0]
                for rr, ss in zip(rows, sims, strict=True)]  # fmt: skip

    def prepare_search(self) -> None:
        if len(self) > self.exact_limit:
            self.ivf()

    def _index_key(self) -> str:
        index = f"IVF{ivf_lists(len(self))},{IVF_CODE}"  # other settings: build again
        return json.dumps({"segments": self.meta["segments"], "dim": self.dim, "index": index}, sort_keys=True)

    def ivf(self) -> IvfIndex:
        """The IVF index of the gallery's vectors: cached here, else read from ``index.faiss`` when that was
        built from the same segments, else built and saved (a damaged file is rebuilt, with a warning)."""
        key = self._index_key()
        if self._index is not None and self._index[0] == key:
            return self._index[1]
        index = None
        file, key_file = self.root / INDEX, self.root / INDEX_KEY
        if file.is_file() and key_file.is_file():
            try:
                if json.loads(key_file.read_text()).get("key") == key:
                    index = IvfIndex.read(file)
                    if len(index) != len(self):
                        raise RostroError(f"{file}: {len(index)} vectors, the gallery holds {len(self)}")
            except (RostroError, json.JSONDecodeError, OSError) as exc:
                log.warning("%s; building the search index again", exc)
                index = None
        if index is None:
            log.info("%s: building the IVF search index of %d faces", self.root, len(self))
            index = IvfIndex.build(self._load()[1])
            try:
                with atomic_path(file) as tmp:
                    index.write(tmp)
                atomic_write_text(key_file, json.dumps({"key": key}))
            except OSError as exc:  # a read-only gallery is still searched; it is only slower to open
                log.warning("%s: could not save the search index (%s)", self.root, exc)
        self._index = (key, index)
        return index

    # -- writing ---------------------------------------------------------------------------------
    def _check_writer(self) -> None:
        if self._lock_fh is None:
            raise RostroError(f"{self.root}: opened for reading; open it with write=True to change it")

    def _write_segment(self, faces: pd.DataFrame, vectors: np.ndarray) -> dict:
        seg = {"id": int(self.meta["next_segment"]), "count": len(faces)}
        vec_file, face_file = self._segment_files(seg)
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(vectors, np.float32), allow_pickle=False)
        atomic_write_bytes(vec_file, buf.getvalue())
        buf = io.BytesIO()
        pq.write_table(pa.Table.from_pandas(faces, preserve_index=False), buf)
        atomic_write_bytes(face_file, buf.getvalue())
        self.meta["next_segment"] = seg["id"] + 1
        return seg

    def _replace(self, segments: list[dict]) -> None:
        """Point ``meta.json`` at ``segments`` (already written), then delete the files no longer named."""
        old = self.meta["segments"]
        self.meta["segments"] = segments
        self._write_meta()
        kept = {s["id"] for s in segments}
        for seg in old:
            if seg["id"] not in kept:
                for f in self._segment_files(seg):
                    f.unlink(missing_ok=True)

    def add(self, faces: pd.DataFrame, vectors: np.ndarray) -> int:
        self._check_writer()
        faces, vectors = check_faces(faces, vectors, self.dim)
        if faces.empty:
            return 0
        added = len(faces)
        segments = list(self.meta["segments"])
        if len(segments) >= MAX_SEGMENTS:  # merge, so that opening a gallery reads few files
            old_faces, old_vecs = self._load()
            faces, vectors = pd.concat([old_faces, faces], ignore_index=True), np.concatenate([old_vecs, vectors])
            segments = []
        self._replace([*segments, self._write_segment(faces, vectors)])
        return added

    def remove(self, name: str) -> int:
        self._check_writer()
        faces, vecs = self._load()
        drop = (faces["name"] == name).to_numpy()
        if not drop.any():
            return 0
        keep = ~drop
        segments = [self._write_segment(faces[keep].reset_index(drop=True), vecs[keep])] if keep.any() else []
        self._replace(segments)
        return int(drop.sum())


def open_gallery(uri: str | Path, *, write: bool = False, create: dict | None = None) -> Gallery:
    """The gallery at ``uri``: a folder, or ``milvus://HOST:PORT/COLLECTION`` (a Milvus server) or
    ``milvus:PATH.db/COLLECTION`` (Milvus Lite, a local file; ``milvus:///abs/PATH.db/COLLECTION`` too).
    ``create`` (a meta from :func:`new_meta`) makes it when it does not exist; ``write`` makes this the
    one writer (a folder gallery is locked)."""
    text = str(uri)
    if text.startswith("milvus:"):
        from rostro.search.milvus import MilvusGallery

        return MilvusGallery(text, create=create)
    return FolderGallery(text, write=write, create=create)


def reranked_matches(names: np.ndarray, gallery: np.ndarray, queries: np.ndarray, k: int, threshold: float
                     ) -> list[tuple[str, float, list[tuple[str, float]]]]:  # fmt: skip
    """For each query (unit vectors, as the gallery's): (name at or above ``threshold`` or ''; that person's
    cosine; up to ``k`` people [name, cosine], nearest first by the re-ranked distance of their nearest face;
    a person's cosine is their best face's, as :meth:`Gallery.identify` gives it)."""
    from rostro.search.cluster import condensed_index, reranked_distances

    g, n = len(gallery), len(gallery) + len(queries)
    condensed = reranked_distances(np.concatenate([gallery, queries]), *RERANK_IDENTIFY)
    j = np.arange(g)[None]
    i = g + np.arange(len(queries))[:, None]
    distances = condensed[condensed_index(n, j, i)]  # query i against gallery face j < i
    cosines = queries @ gallery.T
    people, person = np.unique(names, return_inverse=True)
    out = []
    for d, c in zip(distances, cosines, strict=True):
        nearest, closest = np.full(len(people), np.inf), np.full(len(people), -np.inf)
        np.minimum.at(nearest, person, d)
        np.maximum.at(closest, person, c)
        order = np.argsort(nearest, kind="stable")[:k]
        best_cos = [float(closest[p]) for p in order]
        cands = [(str(people[p]), round(s, 6)) for p, s in zip(order, best_cos, strict=True)]
        out.append((cands[0][0] if best_cos[0] >= threshold else "", best_cos[0], cands))
    return out
