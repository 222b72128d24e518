"""A gallery in Milvus: a server (``milvus://HOST:PORT/COLLECTION``) or Milvus Lite, a local file
(``milvus:PATH.db/COLLECTION``, or ``milvus:///ABSOLUTE/PATH.db/COLLECTION``). The same class runs
on both, so the tests, which use Milvus Lite, exercise a real engine.

The faces live in COLLECTION (an auto id, the unit vector, and the face columns of a folder
gallery); the gallery's description (stamp, dimension, threshold) is one row of
COLLECTION__meta. Milvus searches with its own index (AUTOINDEX on inner products); Milvus does
the locking of its data, so two writers are not refused here as a folder gallery refuses them.
"""

from __future__ import annotations

import functools
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from rostro.errors import RostroError
from rostro.search.gallery import FACE_COLUMNS, FORMAT, MAX_FETCH, VERSION, Gallery, Hit, check_faces

log = logging.getLogger(__name__)
logging.getLogger("pymilvus").setLevel(logging.ERROR)  # Milvus Lite's iterator warns on every query of its own

META_SUFFIX = "__meta"
_TEXT = 4096  # longest name or path kept
_PAGE = 10_000  # rows per query page (Milvus caps one query at 16,384)
_INTS = ("face", "left", "top", "right", "bottom")


def parse_uri(uri: str) -> tuple[str, str]:
    """(what MilvusClient connects to, the collection) from a ``milvus:`` gallery address."""
    rest = uri[len("milvus:") :]
    local = not rest.startswith("//") or rest.startswith("///")
    if rest.startswith("///"):
        rest = rest[2:]
    elif rest.startswith("//"):
        rest = rest[2:]
    target, _, collection = rest.rstrip("/").rpartition("/")
    if not target or not collection or (local and not target.endswith(".db")):
        raise RostroError(f"{uri}: expected milvus://HOST:PORT/COLLECTION (a server) or milvus:PATH.db/COLLECTION "
                          f"(Milvus Lite, a local file ending .db)")  # fmt: skip
    if not collection.replace("_", "a").isalnum() or not collection[0].isalpha():
        raise RostroError(f"{uri}: collection {collection!r}: expected letters, digits and _ starting with a letter")
    if local:
        return str(Path(target).resolve()), collection
    return f"http://{target}", collection


def _quote(text: str) -> str:
    # a Milvus filter string literal: double quotes and backslash escapes, but not JSON's \u escapes
    return json.dumps(text, ensure_ascii=False)


def _milvus_errors(method):
    """``method`` with Milvus's own exceptions turned into a :class:`RostroError` that names the gallery, so the
    commands and the service report them as they report every other bad gallery."""

    @functools.wraps(method)
    def wrapped(self, *args, **kwargs):
        from pymilvus.exceptions import MilvusException

        try:
            return method(self, *args, **kwargs)
        except MilvusException as exc:
            raise RostroError(f"{self.uri}: Milvus refused {method.__name__.strip('_')} ({exc.message}); is this "
                              f"a gallery made by `rostro index`, and is the server healthy?") from None  # fmt: skip

    return wrapped


class MilvusGallery(Gallery):
    def __init__(self, uri: str, *, create: dict | None = None) -> None:
        try:
            from pymilvus import MilvusClient
        except ImportError as exc:  # pragma: no cover - a dependency
            raise RostroError(f"a milvus: gallery needs pymilvus ({exc}); pip install pymilvus milvus-lite") from None
        self.uri = uri
        target, self.collection = parse_uri(uri)
        self.meta_collection = self.collection + META_SUFFIX
        if not target.startswith("http"):  # Milvus Lite: no file made for a mistyped path that is only read
            if create is None and not Path(target).exists():
                raise RostroError(f"{uri}: no such gallery ({target} does not exist); create one with `rostro index "
                                  f"SOURCE --gallery {uri}`")  # fmt: skip
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.client = MilvusClient(target)
        except Exception as exc:  # pymilvus raises its own kinds for an unreachable server or a bad file
            raise RostroError(f"{uri}: cannot connect to Milvus ({type(exc).__name__}: {exc}); is the server running "
                              f"(or the .db file a Milvus Lite file)?") from None  # fmt: skip
        if not self.client.has_collection(self.meta_collection):
            if create is None:
                self.client.close()
                raise RostroError(f"{uri}: no such gallery; create one with `rostro index SOURCE --gallery {uri}`")
            self._create(create)
        self._open()

    @_milvus_errors
    def _open(self) -> None:
        # a collection made by another process is "released" until loaded: load both before reading
        for name in (self.meta_collection, self.collection):
            self.client.load_collection(name)
        self.meta = self._read_meta()

    @_milvus_errors
    def _create(self, meta: dict) -> None:
        from pymilvus import DataType

        schema = self.client.create_schema(auto_id=True, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=int(meta["dim"]))
        for c in ("name", "path", "photo_hash"):
            schema.add_field(c, DataType.VARCHAR, max_length=_TEXT)
        for c in _INTS:
            schema.add_field(c, DataType.INT64)
        index = self.client.prepare_index_params()
        index.add_index(field_name="vector", index_type="AUTOINDEX", metric_type="IP")
        if self.client.has_collection(self.collection):
            raise RostroError(f"{self.uri}: collection {self.collection} exists but is not a rostro gallery (no "
                              f"{self.meta_collection}); choose another collection name")  # fmt: skip
        self.client.create_collection(self.collection, schema=schema, index_params=index)
        mschema = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
        mschema.add_field("key", DataType.INT64, is_primary=True)
        mschema.add_field("vector", DataType.FLOAT_VECTOR, dim=2)
        mschema.add_field("meta", DataType.VARCHAR, max_length=65_535)
        mindex = self.client.prepare_index_params()
        mindex.add_index(field_name="vector", index_type="AUTOINDEX", metric_type="L2")
        self.client.create_collection(self.meta_collection, schema=mschema, index_params=mindex)
        self.meta = meta
        self._write_meta()

    def _read_meta(self) -> dict:
        rows = self.client.query(self.meta_collection, filter="key == 0", output_fields=["meta"])
        if not rows:
            raise RostroError(f"{self.uri}: {self.meta_collection} holds no gallery description; the gallery is "
                              f"damaged: drop both collections and index again")  # fmt: skip
        meta = json.loads(rows[0]["meta"])
        if meta.get("format") != FORMAT or meta.get("version") != VERSION:
            raise RostroError(f"{self.uri}: expected a rostro gallery of version {VERSION}, found "
                              f"{meta.get('format')!r} version {meta.get('version')}")  # fmt: skip
        return meta

    @_milvus_errors
    def _write_meta(self) -> None:
        meta = {k: v for k, v in self.meta.items() if k not in ("segments", "next_segment")}
        self.client.upsert(self.meta_collection, [{"key": 0, "vector": [0.0, 0.0], "meta": json.dumps(meta)}])

    @_milvus_errors
    def refresh(self) -> None:
        self.meta = self._read_meta()  # the faces are read from Milvus on every search already

    def close(self) -> None:
        self.client.close()

    @_milvus_errors
    def __len__(self) -> int:
        return int(self.client.query(self.collection, filter="", output_fields=["count(*)"])[0]["count(*)"])

    @_milvus_errors
    def _rows(self, fields: list[str], limit: int | None = None) -> list[dict]:
        """Every row's ``fields`` (or the first ``limit``), page by page."""
        it = self.client.query_iterator(self.collection, batch_size=_PAGE, filter="", output_fields=fields,
                                        limit=-1 if limit is None else limit)  # fmt: skip
        rows: list[dict] = []
        try:
            while page := it.next():
                rows.extend(page)
        finally:
            it.close()
        return rows

    def photo_hashes(self) -> set[str]:
        return {r["photo_hash"] for r in self._rows(["photo_hash"])}

    def names(self) -> pd.Series:
        return pd.Series([r["name"] for r in self._rows(["name"])], dtype=object)

    def faces(self) -> pd.DataFrame:
        return pd.DataFrame(self._rows(list(FACE_COLUMNS)), columns=list(FACE_COLUMNS))

    def sample(self, n: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        rows = [r for r in self._rows(["name", "vector"]) if r["name"]]
        if len(rows) > n:
            keep = np.random.default_rng(seed).choice(len(rows), n, replace=False)
            rows = [rows[i] for i in np.sort(keep)]
        vecs = np.asarray([r["vector"] for r in rows], np.float32).reshape(len(rows), self.dim)
        return np.asarray([r["name"] for r in rows], object), vecs

    @_milvus_errors
    def add(self, faces: pd.DataFrame, vectors: np.ndarray) -> int:
        faces, vectors = check_faces(faces, vectors, self.dim)
        if faces.empty:
            return 0
        faces["name"], faces["path"] = faces["name"].str.slice(0, _TEXT), faces["path"].str.slice(0, _TEXT)
        records = faces.to_dict(orient="records")
        for r, v in zip(records, vectors, strict=True):
            r["vector"] = v.tolist()
            for c in _INTS:
                r[c] = int(r[c])
        for start in range(0, len(records), _PAGE):
            self.client.insert(self.collection, records[start : start + _PAGE])
        return len(records)

    @_milvus_errors
    def remove(self, name: str) -> int:
        result = self.client.delete(self.collection, filter=f"name == {_quote(name)}")
        return int(result["delete_count"] if isinstance(result, dict) else len(result))

    @_milvus_errors
    def _search(self, queries: np.ndarray, k: int) -> list[list[Hit]]:
        k = min(k, MAX_FETCH)
        found = self.client.search(self.collection, data=queries.tolist(), limit=k, anns_field="vector",
                                   search_params={"metric_type": "IP"},
                                   output_fields=["name", "path", "face"])  # fmt: skip
        return [[Hit(name=h["entity"]["name"], path=h["entity"]["path"], face=int(h["entity"]["face"]),
                     similarity=float(h["distance"])) for h in hits] for hits in found]  # fmt: skip
