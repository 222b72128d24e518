"""The REST service: every endpoint, and every kind of bad input, through FastAPI's TestClient."""

import asyncio
import io
import re
import threading

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from rostro.data.images import load_image
from rostro.errors import RostroError
from rostro.faces.embedding import compare_photos
from rostro.inference.predict import sample_photo
from rostro.serve.app import Busy, InferenceQueue, ServeConfig, create_app, serve


def _png(img: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def photo() -> bytes:
    return sample_photo().read_bytes()


@pytest.fixture(scope="module")
def client(tiny_run):
    with TestClient(create_app(ServeConfig(model=str(tiny_run), max_pixels=4_000_000))) as c:
        yield c


def test_health_model_page_and_docs(client, tiny_run):
    assert client.get("/health").json()["status"] == "ok"
    model = client.get("/model").json()
    assert model["labels"] == ["Male", "Smiling"] and set(model["thresholds"]) == {"Male", "Smiling"}
    assert 0 < model["verify_threshold"] < 1
    assert model["limits"] == {"upload_mb": 10.0, "pixels": 4_000_000, "video_seconds": 30.0}  # the page shows them
    page = client.get("/")
    assert page.status_code == 200 and 'id="drop"' in page.text and "verify" in page.text
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/analyze", "/verify", "/embed", "/health", "/model"} <= set(paths)


def test_page_posts_the_fields_each_endpoint_takes(client):
    """Each form the page's script sends (post(path, { fields })) names the fields of its endpoint's form."""
    page = client.get("/").text
    spec = client.get("/openapi.json").json()
    sent = {path: {f.split(":")[0].strip() for f in fields.split(",")}
            for path, fields in re.findall(r'post\("(\w+)", \{([^}]*)\}\)', page)}  # fmt: skip
    assert {"analyze", "explain", "identify", "video"} <= set(sent)
    for path, fields in sent.items():
        ref = spec["paths"]["/" + path]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"]
        form = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
        assert set(form["required"]) <= fields <= set(form["properties"]), path
    assert sent["video"] == {"file"}


def test_page_has_a_video_tab(client):
    page = client.get("/").text
    assert '<button id="tab-video" type="button">Video</button>' in page and '<section id="video"' in page
    assert '<input id="file-video" type="file" accept="video/*"' in page
    assert 'for (const n of ["analyze", "verify", "find", "video"])' in page  # the tab switch shows and hides it


def test_analyze_a_photo(client, photo):
    r = client.post("/analyze", files={"file": ("portrait.jpg", photo, "image/jpeg")})
    assert r.status_code == 200
    body = r.json()
    assert body["n_faces"] == 1 and body["message"] == ""
    face = body["faces"][0]
    box = face["box"]
    assert 0 <= box["left"] < box["right"] <= body["width"] and 0 <= box["top"] < box["bottom"] <= body["height"]
    assert set(face["attributes"]) == {"Male", "Smiling"}
    assert all(0 <= p <= 1 for p in face["attributes"].values())
    assert set(face["positive"]) <= set(face["attributes"])


def test_no_face_is_an_empty_list(client, rgb):
    r = client.post("/analyze", files={"file": ("noise.png", _png(np.kron(rgb, np.ones((4, 4, 1), np.uint8))))})
    assert r.status_code == 200 and r.json()["faces"] == [] and r.json()["message"] == "no face found"


def test_embed_and_verify(client, photo):
    e = client.post("/embed", files={"file": ("p.jpg", photo)}).json()
    assert e["n_faces"] == 1 and len(e["faces"][0]["embedding"]) == 128
    img = np.asarray(Image.open(io.BytesIO(photo)).convert("RGB"))
    mirrored = _png(np.ascontiguousarray(img[:, ::-1]))
    v = client.post("/verify", files={"a": ("a.jpg", photo), "b": ("b.png", mirrored)}).json()
    assert v["same"] is True and v["score"] > v["threshold"] and v["faces_a"] == v["faces_b"] == 1
    assert list(v) == ["score", "threshold", "same", "faces_a", "faces_b", "box_a", "box_b", "message"]
    cli = compare_photos(load_image(photo), load_image(mirrored))  # `rostro verify`: the same decision
    assert v["score"] == round(cli["score"], 6) and v["threshold"] == cli["threshold"]
    blank = _png(np.full((200, 200, 3), 128, np.uint8))
    v = client.post("/verify", files={"a": ("a.jpg", photo), "b": ("b.png", blank)}).json()
    assert v["same"] is None and v["message"] == "no face found in b"
    assert list(v) == ["score", "threshold", "same", "faces_a", "faces_b", "box_a", "box_b", "message"]
    assert v["box_a"] is not None and v["box_b"] is None  # one shape, whichever photo has a face


def test_embed_and_verify_are_flip_averaged_unless_the_service_runs_with_no_flip(client, tiny_run, photo):
    from rostro.faces.embedding import DEFAULT_THRESHOLD, UNFLIPPED_THRESHOLD, embed_image

    img = load_image(photo)
    flipped, plain = embed_image(img)[1][0], embed_image(img, flip=False)[1][0]
    assert client.get("/model").json()["flip"] is True
    e = client.post("/embed", files={"file": ("p.jpg", photo)}).json()["faces"][0]["embedding"]
    assert np.allclose(e, flipped, atol=1e-6) and np.linalg.norm(e) == pytest.approx(1, abs=1e-5)
    v = client.post("/verify", files={"a": ("a.jpg", photo), "b": ("b.jpg", photo)}).json()
    assert v["threshold"] == DEFAULT_THRESHOLD
    with TestClient(create_app(ServeConfig(model=str(tiny_run), flip=False))) as c:
        model = c.get("/model").json()
        assert model["flip"] is False and model["verify_threshold"] == UNFLIPPED_THRESHOLD
        e = c.post("/embed", files={"file": ("p.jpg", photo)}).json()["faces"][0]["embedding"]
        assert np.allclose(e, plain, atol=1e-6)
        assert c.post("/verify", files={"a": ("a.jpg", photo), "b": ("b.jpg", photo)}).json()["threshold"] == (
            UNFLIPPED_THRESHOLD
        )


@pytest.mark.parametrize(
    ("payload", "status", "says"),
    [
        (b"hello, not an image", 415, "not a recognised image"),
        (b"", 422, "empty upload"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 40, 422, "corrupt"),
    ],
)
def test_bad_uploads_name_the_problem(client, payload, status, says):
    r = client.post("/analyze", files={"file": ("x.jpg", payload)})
    assert r.status_code == status and says in r.json()["detail"]


def test_truncated_jpeg_and_missing_field(client, photo):
    r = client.post("/analyze", files={"file": ("cut.jpg", photo[: len(photo) // 3])})
    assert r.status_code == 422 and "truncated" in r.json()["detail"]
    r = client.post("/analyze", data={"file": "/etc/passwd"})  # a path is not an upload
    assert r.status_code == 422
    assert client.post("/verify", files={"a": ("a.jpg", photo)}).status_code == 422


def test_decompression_bomb_refused_by_pixel_count(client):
    bomb = _png(np.zeros((2500, 2500, 3), np.uint8))  # 6.25 M pixels, a few KB on the wire
    r = client.post("/analyze", files={"file": ("bomb.png", bomb)})
    assert len(bomb) < 100_000 and r.status_code == 413 and "exceeds the limit" in r.json()["detail"]


def test_upload_size_limit_with_and_without_content_length(tiny_run):
    with TestClient(create_app(ServeConfig(model=str(tiny_run), max_upload_mb=0.01))) as c:
        r = c.post("/analyze", files={"file": ("big.bin", b"\x00" * 20_000)})
        assert r.status_code == 413 and "0.01 MB" in r.json()["detail"]

        def chunks():
            for _ in range(20):
                yield b"\x00" * 1000

        r = c.post("/analyze", content=chunks(), headers={"content-type": "multipart/form-data; boundary=x"})
        assert r.status_code == 413


def test_full_queue_answers_503_with_retry_after(tiny_run, photo):
    app = create_app(ServeConfig(model=str(tiny_run), max_queue=1))
    app.state.queue.pending = 1  # one job waiting already: the queue is full
    with TestClient(app) as c:
        r = c.post("/analyze", files={"file": ("p.jpg", photo)})
        assert r.status_code == 503 and r.headers["retry-after"] == "1" and "busy" in r.json()["detail"]
        assert c.get("/health").status_code == 200


def test_queue_is_bounded_and_serial():
    q = InferenceQueue(max_pending=1)
    gate = threading.Event()

    async def scenario():
        first = asyncio.ensure_future(q.run(gate.wait, 5))
        await asyncio.sleep(0.05)
        assert q.pending == 1
        with pytest.raises(Busy):
            await q.run(lambda: None)
        gate.set()
        assert await first is True
        assert q.pending == 0 and await q.run(lambda: 7) == 7

    asyncio.run(scenario())
    q.shutdown()


def test_api_key_on_every_route_but_health_and_the_docs(tiny_run, photo, monkeypatch):
    monkeypatch.delenv("ROSTRO_API_KEY", raising=False)
    with TestClient(create_app(ServeConfig(model=str(tiny_run), api_key="s3cret"))) as c:
        assert c.get("/health").status_code == 200 and c.get("/docs").status_code == 200
        schema = c.get("/openapi.json").json()  # the docs page reads it without the key, and declares the key
        assert schema["components"]["securitySchemes"]["APIKeyHeader"] == {"type": "apiKey", "in": "header",
                                                                            "name": "X-API-Key"}  # fmt: skip
        assert c.get("/model").status_code == 401 and c.get("/").status_code == 401
        r = c.post("/analyze", files={"file": ("p.jpg", photo)}, headers={"X-API-Key": "wrong"})
        assert r.status_code == 401 and "API key" in r.json()["detail"]
        assert c.get("/model", headers={"X-API-Key": "s3cret"}).status_code == 200
        assert c.get("/?key=s3cret").status_code == 200  # the page, opened from a link
        assert c.post("/analyze?key=s3cret", files={"file": ("p.jpg", photo)}).status_code == 401
    monkeypatch.setenv("ROSTRO_API_KEY", "from-env")
    with TestClient(create_app(ServeConfig(model=str(tiny_run)))) as c:
        assert c.get("/model", headers={"X-API-Key": "from-env"}).status_code == 200
        assert c.get("/model").status_code == 401


def test_cors_is_off_unless_origins_are_given(tiny_run, client):
    pre = {"Origin": "http://elsewhere.example", "Access-Control-Request-Method": "POST"}
    assert "access-control-allow-origin" not in client.options("/analyze", headers=pre).headers
    assert "access-control-allow-origin" not in client.get("/health", headers={"Origin": pre["Origin"]}).headers
    with TestClient(create_app(ServeConfig(model=str(tiny_run), cors_origins=["http://elsewhere.example"]))) as c:
        assert c.options("/analyze", headers=pre).headers["access-control-allow-origin"] == pre["Origin"]


@pytest.mark.parametrize(
    "setting,says",
    [
        ({"max_upload_mb": -1}, "max_upload_mb: expected a number above 0"),
        ({"max_queue": 0}, "max_queue: expected a number above 0"),
        ({"verify_threshold": float("nan")}, "verify_threshold: expected a cosine"),
        ({"api_key": "clé"}, "api key: expected ASCII characters only"),
    ],
)
def test_settings_that_would_fail_every_request_are_refused_at_start(setting, says):
    with pytest.raises(RostroError, match=says):
        create_app(ServeConfig(model="no-such-model", **setting))  # refused before the model loads


def test_non_loopback_bind_needs_a_key(monkeypatch):
    monkeypatch.delenv("ROSTRO_API_KEY", raising=False)
    with pytest.raises(RostroError, match="API key"):
        serve(ServeConfig(host="0.0.0.0"))


def test_explain_returns_a_map_per_attribute_named(client, photo):
    r = client.post("/explain", files={"file": ("p.jpg", photo, "image/jpeg")}, data={"attributes": "Smiling, Male"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body["maps"]) == {"Smiling", "Male"} and body["box"]["right"] > body["box"]["left"]
    assert body["maps"]["Male"].startswith("data:image/jpeg;base64,")
    r = client.post("/explain", files={"file": ("p.jpg", photo, "image/jpeg")}, data={"attributes": "Eyeglass"})
    assert r.status_code == 422 and "Eyeglass" in r.json()["detail"]
    nine = ",".join(["Male"] * 9)
    r = client.post("/explain", files={"file": ("p.jpg", photo, "image/jpeg")}, data={"attributes": nine})
    detail = r.json()["detail"]
    assert r.status_code == 422 and "expected 1 to 8 names" in detail and "found 9 names" in detail


def test_explain_without_a_face_is_an_answer_not_an_error(client, rgb):
    noise = _png(np.kron(rgb, np.ones((4, 4, 1), np.uint8)))
    r = client.post("/explain", files={"file": ("noise.png", noise)}, data={"attributes": "Male"})
    assert r.status_code == 200 and r.json()["maps"] == {} and r.json()["message"] == "no face found"
