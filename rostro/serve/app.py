"""The REST service and its web page: analyse, explain, verify and embed faces over HTTP, offline.

Safe by default: it binds to loopback unless an API key is set, takes images only as
uploads (never a path or URL), decodes them in memory, caps upload size and pixel count,
and answers 503 with ``Retry-After`` when its bounded queue is full instead of growing.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import io
import os
import threading
import time
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import numpy as np
from fastapi import Depends, FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse
from fastapi.security import APIKeyHeader

from rostro._version import __version__
from rostro.data.images import ImageDecodeError, load_image
from rostro.errors import RostroError
from rostro.faces.status import NO_FACE

STATIC = Path(__file__).parent / "static"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
API_KEY_ENV = "ROSTRO_API_KEY"
Photo = Annotated[UploadFile, File(description="An image: JPEG, PNG, WebP, BMP, TIFF or GIF.")]


@dataclass
class ServeConfig:
    """How ``rostro serve`` runs; the API key may also come from ``ROSTRO_API_KEY``."""

    model: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    api_key: str | None = None
    cors_origins: list[str] = field(default_factory=list)
    max_upload_mb: float = 10.0
    max_pixels: int = 40_000_000
    max_queue: int = 32
    verify_threshold: float | None = None  # none: the one measured for the vectors --flip makes
    flip: bool = True  # /embed and /verify average each face with its mirror image (/identify: the gallery's way)
    gallery: str | None = None  # a gallery from `rostro index`, for /identify and /gallery


# open without the API key: the health check, and the API's description and its docs page (no data in them)
PUBLIC_PATHS = frozenset({"/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})
EXPLAIN_SIDE = 1600  # /explain's overlays are at most this many pixels a side
MAX_EXPLAIN = 8  # attributes per /explain request
MAX_VIDEO_SECONDS = 30.0  # /video's longest clip


class Busy(Exception):
    """The inference queue is full."""


class InferenceQueue:
    """One inference thread behind a bounded count of waiting jobs.

    A single thread keeps dlib and torch calls serial (their objects are not shared across
    threads) and off the event loop; beyond ``max_pending`` jobs, :meth:`run` refuses at once.
    """

    def __init__(self, max_pending: int):
        self.max_pending = max_pending
        self.pending = 0
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="rostro-infer")

    async def run(self, fn, *args) -> Any:
        with self._lock:
            if self.pending >= self.max_pending:
                raise Busy
            self.pending += 1
        try:
            return await asyncio.wrap_future(self._pool.submit(fn, *args))
        finally:
            with self._lock:
                self.pending -= 1

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class BodyLimit:
    """ASGI middleware: 413 for a body over ``max_mb`` megabytes.

    A declared Content-Length is checked before anything is read; a body without one
    (chunked) is read up to the limit and then replayed to the app.
    """

    def __init__(self, app, max_mb: float):
        self.app, self.max_mb, self.limit = app, max_mb, int(max_mb * 2**20)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if declared.isdigit() and int(declared) > self.limit:
                return await self._refuse(scope, send)
            return await self.app(scope, receive, send)
        chunks, total = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            total += len(chunks[-1])
            if total > self.limit:
                return await self._refuse(scope, send)
            if not message.get("more_body"):
                break
        replay = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replay_receive():
            return replay.pop() if replay else await receive()

        await self.app(scope, replay_receive, send)

    async def _refuse(self, scope, send):
        await JSONResponse({"detail": f"upload over the {self.max_mb:g} MB limit"}, status_code=413)(scope, None, send)


def _image(data: bytes, name: str, max_pixels: int) -> np.ndarray:
    """Decode an upload, mapping each failure to the status that names it."""
    try:
        return load_image(data, max_pixels=max_pixels)
    except ImageDecodeError as exc:
        reason = exc.reason
        if "exceeds the limit" in reason or "decompression bomb" in reason:
            raise HTTPException(413, f"{name}: {reason}") from None
        if "not a recognised image" in reason:
            raise HTTPException(415, f"{name}: {reason} (send a JPEG, PNG, WebP, BMP, TIFF or GIF)") from None
        raise HTTPException(422, f"{name}: {reason}") from None


def _box(box) -> dict | None:
    return None if box is None else dict(zip(("left", "top", "right", "bottom"), map(int, box), strict=True))


def check_settings(cfg: ServeConfig, api_key: str | None) -> None:
    """Refuse settings that would make every request fail or every verdict empty."""
    for name, value, low in (("max_upload_mb", cfg.max_upload_mb, 0), ("max_pixels", cfg.max_pixels, 0),
                             ("max_queue", cfg.max_queue, 0)):  # fmt: skip
        if not value > low:
            raise RostroError(f"{name}: expected a number above {low}, found {value}")
    t = cfg.verify_threshold
    if t is not None and not -1 <= t <= 1:  # NaN fails too
        raise RostroError(f"verify_threshold: expected a cosine similarity in [-1, 1] (e.g. 0.93), found {t}")
    if api_key is not None and not api_key.isascii():
        raise RostroError("api key: expected ASCII characters only (HTTP headers carry no others reliably), found "
                          "other characters; choose another key")  # fmt: skip


def create_app(cfg: ServeConfig | None = None) -> FastAPI:
    """The FastAPI app with the model loaded once; used by ``rostro serve`` and by tests."""
    from rostro.faces.embedding import default_threshold, embed_image, verify_faces
    from rostro.inference.predict import AttributePredictor

    cfg = cfg or ServeConfig()
    api_key = cfg.api_key or os.environ.get(API_KEY_ENV) or None
    check_settings(cfg, api_key)  # before the model loads
    predictor = AttributePredictor(cfg.model)
    threshold = cfg.verify_threshold if cfg.verify_threshold is not None else default_threshold(cfg.flip)
    card = predictor.run / "MODEL_CARD.md"
    queue = InferenceQueue(cfg.max_queue)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        queue.shutdown()

    # with a key, the schema declares it, so the docs page's "Authorize" sends it on every call it tries
    declared = [Depends(APIKeyHeader(name="X-API-Key", auto_error=False))] if api_key is not None else []
    app = FastAPI(title="rostro", version=__version__, description="Face attributes, verification and embeddings.",
                  lifespan=lifespan, dependencies=declared)  # fmt: skip
    app.state.queue = queue

    @app.middleware("http")
    async def check_key(request: Request, call_next):
        if api_key is not None and request.url.path not in PUBLIC_PATHS:
            given = request.headers.get("x-api-key", "")
            if request.method == "GET" and not given:
                given = request.query_params.get("key", "")
            if not hmac.compare_digest(given.encode(), api_key.encode()):
                return JSONResponse({"detail": "missing or wrong API key (header X-API-Key)"}, status_code=401)
        return await call_next(request)

    @app.exception_handler(Busy)
    async def busy(request: Request, exc: Busy):
        return JSONResponse({"detail": f"server busy: {queue.max_pending} requests already waiting; retry shortly"},
                            status_code=503, headers={"Retry-After": "1"})  # fmt: skip

    async def read(upload: UploadFile, name: str) -> np.ndarray:
        return _image(await upload.read(), name, cfg.max_pixels)

    def analyze_sync(img: np.ndarray) -> dict:
        start = time.perf_counter()
        result = predictor.analyze_image(img)
        faces = [{"box": _box(f.box), "detector": f.detector, "score": round(f.score, 4),
                  "attributes": {k: round(v, 6) for k, v in f.probabilities.items()}, "positive": f.positive,
                  **{k: round(v, 2) for k, v in f.values.items()}} for f in result.faces]  # fmt: skip
        seconds = round(time.perf_counter() - start, 4)
        return {"width": img.shape[1], "height": img.shape[0], "n_faces": len(faces), "faces": faces,
                "message": "" if faces else NO_FACE, "seconds": seconds}  # fmt: skip

    def embed_sync(img: np.ndarray) -> tuple[list, np.ndarray]:
        return embed_image(img, flip=cfg.flip)

    explainer = None

    def explain_sync(img: np.ndarray, names: list[str]) -> dict:
        from PIL import Image

        from rostro.inference.explain import Explainer, overlay

        nonlocal explainer
        explainer = explainer or Explainer(predictor=predictor)
        face = explainer.explain([img], names)[0]
        scale = min(1.0, EXPLAIN_SIDE / max(img.shape[:2]))  # the page shows a photo; no 40-MP overlays
        size = (round(img.shape[1] * scale), round(img.shape[0] * scale))
        shown = img if scale == 1 else np.asarray(Image.fromarray(img).resize(size))
        maps = {}
        for name in names if face is not None else []:
            buf = io.BytesIO()
            overlay(shown, face.on_photo(name, scale=scale)).save(buf, format="JPEG", quality=88)
            maps[name] = "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()
        return {"width": img.shape[1], "height": img.shape[0], "box": _box(face.box) if face else None, "maps": maps,
                "message": "" if face else NO_FACE}  # fmt: skip

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "version": __version__, "model": predictor.run.name, "pending": queue.pending}

    @app.get("/model")
    async def model() -> dict:
        thresholds = dict(zip(predictor.labels, map(float, predictor.thresholds), strict=True))
        return {"run": predictor.run.name, "model": predictor.info.model, "input_size": predictor.info.input_size,
                "labels": predictor.labels, "values": predictor.values, "thresholds": thresholds,
                "verify_threshold": threshold, "flip": cfg.flip,
                "model_card": card.read_text() if card.is_file() else None,
                "limits": {"upload_mb": cfg.max_upload_mb, "pixels": cfg.max_pixels,
                           "video_seconds": MAX_VIDEO_SECONDS}}  # fmt: skip

    @app.post("/analyze")
    async def analyze(file: Photo) -> dict:
        """Every face in the photo: its box and attribute probabilities (names as in `rostro predict`)."""
        return await queue.run(analyze_sync, await read(file, "file"))

    @app.post("/embed")
    async def embed(file: Photo) -> dict:
        """A 128-d dlib embedding per face, largest face first: flip-averaged (unit length) unless the service
        runs with --no-flip (``flip`` in /model)."""
        faces, vecs = await queue.run(embed_sync, await read(file, "file"))
        return {"n_faces": len(faces), "message": "" if faces else NO_FACE,
                "faces": [{"box": _box(f.box), "embedding": [round(float(x), 6) for x in v]}
                          for f, v in zip(faces, vecs, strict=True)]}  # fmt: skip

    @app.post("/explain")
    async def explain(file: Photo, attributes: Annotated[str, Form(description="Attribute names, comma-separated.")]):
        """Where the largest face's evidence for each named attribute lies: the photo with a Grad-CAM map over it
        (a JPEG data URL per attribute)."""
        names = [n.strip() for n in attributes.split(",") if n.strip()]
        unknown = [n for n in names if n not in predictor.labels]
        if not names or unknown or len(names) > MAX_EXPLAIN:
            found = unknown or (f"{len(names)} names" if names else "none")
            expected = f"1 to {MAX_EXPLAIN} names among the model's {len(predictor.labels)} labels"
            raise HTTPException(422, f"attributes: expected {expected} (e.g. Eyeglasses,Male), found {found}")
        return await queue.run(explain_sync, await read(file, "file"), names)

    @app.post("/verify")
    async def verify(a: Photo, b: Photo) -> dict:
        """Cosine similarity of the largest face in each photo, and same/different at the threshold."""
        img_a, img_b = await read(a, "a"), await read(b, "b")
        v = verify_faces(await queue.run(embed_sync, img_a), await queue.run(embed_sync, img_b), threshold=threshold)
        body = {"score": None if v.score is None else round(v.score, 6), "threshold": v.threshold, "same": v.same,
                "faces_a": len(v.faces_a), "faces_b": len(v.faces_b)}  # fmt: skip
        body |= {f"box_{k}": _box(faces[0].box) if faces else None for k, faces in (("a", v.faces_a), ("b", v.faces_b))}
        return body | {"message": v.message}

    galleries: dict = {}

    def gallery_sync():
        from rostro.search.gallery import open_gallery

        if cfg.gallery is None:
            raise HTTPException(404, "no gallery: start the service with --gallery G (a gallery from `rostro index`)")
        if "open" not in galleries:
            galleries["open"] = open_gallery(cfg.gallery)
        else:
            galleries["open"].refresh()  # `rostro index` may have changed it since
        return galleries["open"]

    def identify_sync(img: np.ndarray, k: int) -> dict:
        from rostro.search.gallery import photo_options, photo_stamp

        gallery = gallery_sync()
        options = photo_options(gallery.stamp)  # faces described as the gallery's were
        gallery.check_stamp(photo_stamp(**options), "this service's faces")
        faces, vecs = embed_image(img, **options)
        found = gallery.identify(vecs, k) if faces else []
        return {"n_faces": len(faces), "message": "" if faces else NO_FACE, "threshold": gallery.threshold.value,
                "faces": [{"box": _box(f.box), "name": name, "similarity": None if np.isnan(s) else round(s, 6),
                           "candidates": [{"name": n, "similarity": c} for n, c in cands]}
                          for f, (name, s, cands) in zip(faces, found, strict=True)]}  # fmt: skip

    def add_sync(img: np.ndarray, name: str) -> dict:
        from rostro.search.gallery import open_gallery, photo_options, photo_stamp

        options = photo_options(gallery_sync().stamp)  # faces described as the gallery's were
        faces, vecs = embed_image(img, **options)
        if not faces:
            raise HTTPException(422, f"file: {NO_FACE}; send a photo of {name}")
        import hashlib

        import pandas as pd

        digest = hashlib.sha256(vecs[0].tobytes()).hexdigest()[:32]
        row = pd.DataFrame([{"name": name, "path": f"upload:{digest[:12]}", "face": 0, "photo_hash": digest,
                             **_box(faces[0].box)}])  # fmt: skip
        with open_gallery(cfg.gallery, write=True) as gallery:
            gallery.check_stamp(photo_stamp(**options), "this service's faces")
            added = gallery.add(row, vecs[:1]) if digest not in gallery.photo_hashes() else 0
            if added:
                gallery.update_threshold()
            total = len(gallery)
        galleries.pop("open", None)  # the next /identify reads the gallery again
        return {"added": added, "name": name, "box": _box(faces[0].box), "faces": total}

    @app.post("/identify")
    async def identify(file: Photo, k: Annotated[int, Form(ge=1, le=100, description="Candidates per face.")] = 5):
        """Every face in the photo, largest first, with its best gallery matches: name (empty when the best is below
        the gallery's threshold), similarity and up to k candidates, one per person."""
        try:
            return await queue.run(identify_sync, await read(file, "file"), k)
        except RostroError as exc:
            raise HTTPException(409, str(exc)) from None

    @app.post("/gallery")
    async def gallery_add(file: Photo, name: Annotated[str, Form(min_length=1, max_length=200)]):
        """Add the largest face of the photo to the gallery as ``name``. Only when the service has an API key."""
        if api_key is None:
            raise HTTPException(403, "gallery additions need an API key: start the service with --api-key "
                                     f"(or {API_KEY_ENV}) and send it as X-API-Key")  # fmt: skip
        name = name.strip()
        if not name or any(unicodedata.category(c) == "Cc" for c in name):  # ZWNJ and the like stay allowed
            raise HTTPException(422, f"name: expected a person's name without control characters, found {name!r}")
        try:
            return await queue.run(add_sync, await read(file, "file"), name)
        except RostroError as exc:
            raise HTTPException(409, str(exc)) from None

    def video_sync(upload: BinaryIO, suffix: str) -> dict:
        import shutil
        import tempfile

        from rostro.video.analyse import VideoAnalyser
        from rostro.video.decode import DamagedVideoError, NotAVideoError, VideoLimits, VideoTooLargeError
        from rostro.video.outputs import tracks_frame

        limits = VideoLimits(max_seconds=MAX_VIDEO_SECONDS, max_frame_pixels=cfg.max_pixels)
        status = {VideoTooLargeError: 413, NotAVideoError: 415, DamagedVideoError: 422}
        with tempfile.TemporaryDirectory(prefix="rostro-video-") as tmp:
            clip = Path(tmp, "clip" + suffix)
            with open(clip, "wb") as fh:  # streamed from the spooled upload: no second copy in memory
                shutil.copyfileobj(upload, fh, 2**20)
            start = time.perf_counter()
            try:  # the service's predictor with BlazeFace alone (the photo chain's CNN fallback: seconds a frame)
                analysis = VideoAnalyser(clip, Path(tmp, "work"), predictor, detector="blazeface", every=3,
                                         limits=limits).run()  # fmt: skip
            except tuple(status) as exc:
                raise HTTPException(status[type(exc)], f"file: {str(exc).split(': ', 1)[-1]}") from None
            tracks = tracks_frame(analysis)
        names = predictor.labels
        out = [{"track": int(r["track"]), "shot": int(r["shot"]), "first_time": float(r["first_time"]),
                "last_time": float(r["last_time"]), "n_frames": int(r["n_frames"]),
                "n_detections": int(r["n_detections"]), **{v: round(float(r[v]), 2) for v in predictor.values},
                "attributes": {n: round(float(r[n]), 6) for n in names},
                "positive": [n for n, t in zip(names, predictor.thresholds, strict=True) if r[n] >= t]}
               for _, r in tracks.iterrows()]  # fmt: skip
        return {"width": analysis.info.width, "height": analysis.info.height, "duration": analysis.info.duration,
                "n_frames": analysis.n_frames, "n_shots": len(analysis.cuts) + 1, "n_tracks": len(out), "tracks": out,
                "message": analysis.error or ("" if out else NO_FACE),
                "seconds": round(time.perf_counter() - start, 3)}  # fmt: skip

    @app.post("/video")
    async def video(file: Annotated[UploadFile, File(description=f"A short clip (at most {MAX_VIDEO_SECONDS:g} s).")]):
        """Faces tracked through a short clip: each track's span and its attributes and age averaged over it."""
        ext = Path(file.filename or "").suffix[1:9]
        suffix = "." + ext if ext.isascii() and ext.isalnum() else ""  # FFmpeg may guess from it; nothing else
        return await queue.run(video_sync, file.file, suffix)

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    if cfg.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=cfg.cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["X-API-Key"])  # fmt: skip
    app.add_middleware(BodyLimit, max_mb=cfg.max_upload_mb)
    return app


def serve(cfg: ServeConfig) -> None:
    """Run the service with uvicorn; refuses a non-loopback address without an API key."""
    import uvicorn

    if cfg.host not in LOOPBACK and not (cfg.api_key or os.environ.get(API_KEY_ENV)):
        raise RostroError(f"binding to {cfg.host} exposes the service beyond this machine: set an API key "
                          f"(--api-key or {API_KEY_ENV}) or bind to 127.0.0.1")  # fmt: skip
    uvicorn.run(create_app(cfg), host=cfg.host, port=cfg.port, log_level="info")
