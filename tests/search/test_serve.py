"""/identify and /gallery of the service, on a gallery of one real photo."""

import pytest
from fastapi.testclient import TestClient

from rostro.inference.predict import sample_photo
from rostro.search.gallery import new_meta, open_gallery, photo_stamp
from rostro.serve.app import ServeConfig, create_app


@pytest.fixture(scope="module")
def photo() -> bytes:
    return sample_photo().read_bytes()


def test_identify_and_add_behind_the_api_key(tiny_run, photo, tmp_path, monkeypatch):
    monkeypatch.delenv("ROSTRO_API_KEY", raising=False)
    g = tmp_path / "g"
    open_gallery(g, write=True, create=new_meta(photo_stamp(), 128)).close()
    with TestClient(create_app(ServeConfig(model=str(tiny_run), gallery=str(g)))) as c:
        r = c.post("/gallery", files={"file": ("p.jpg", photo)}, data={"name": "Grace"})
        assert r.status_code == 403 and "need an API key" in r.json()["detail"]
        r = c.post("/identify", files={"file": ("p.jpg", photo)})
        assert r.status_code == 409 and "the gallery is empty" in r.json()["detail"]
    with TestClient(create_app(ServeConfig(model=str(tiny_run), gallery=str(g), api_key="k"))) as c:
        key = {"X-API-Key": "k"}
        assert c.post("/gallery", files={"file": ("p.jpg", photo)}, data={"name": "Grace"}).status_code == 401
        r = c.post("/gallery", files={"file": ("p.jpg", photo)}, data={"name": "Grace"}, headers=key)
        assert r.status_code == 200 and r.json()["added"] == 1 and r.json()["faces"] == 1
        again = c.post("/gallery", files={"file": ("p.jpg", photo)}, data={"name": "Grace"}, headers=key)
        assert again.json()["added"] == 0
        for bad in (" ", "a\x00b", "\n\t"):
            r = c.post("/gallery", files={"file": ("p.jpg", photo)}, data={"name": bad}, headers=key)
            assert r.status_code == 422 and "name: expected a person's name without control characters" in r.text
        r = c.post("/identify", files={"file": ("p.jpg", photo)}, data={"k": "3"}, headers=key)
        body = r.json()
        assert r.status_code == 200 and body["n_faces"] == 1
        assert body["faces"][0]["name"] == "Grace" and body["faces"][0]["candidates"][0]["similarity"] > 0.999
        with open_gallery(g, write=True) as outside:  # `rostro index --remove Grace` while the service runs
            assert outside.remove("Grace") == 1
        r = c.post("/identify", files={"file": ("p.jpg", photo)}, headers=key)
        assert r.status_code == 409 and "the gallery is empty" in r.json()["detail"]


def test_identify_without_a_gallery_is_404(tiny_run, photo):
    with TestClient(create_app(ServeConfig(model=str(tiny_run)))) as c:
        r = c.post("/identify", files={"file": ("p.jpg", photo)})
        assert r.status_code == 404 and "--gallery" in r.json()["detail"]


def test_identify_and_add_describe_faces_as_the_gallery_holds_them(tiny_run, photo, tmp_path, monkeypatch):
    """A gallery of dlib's plain vectors (made before flip-averaging was the default) is searched and extended with
    plain vectors, whatever the service's --flip."""
    monkeypatch.delenv("ROSTRO_API_KEY", raising=False)
    g = tmp_path / "g"
    open_gallery(g, write=True, create=new_meta(photo_stamp(flip=False), 128)).close()
    with TestClient(create_app(ServeConfig(model=str(tiny_run), gallery=str(g), api_key="k"))) as c:
        key = {"X-API-Key": "k"}
        added = c.post("/gallery", files={"file": ("p.jpg", photo)}, data={"name": "Grace"}, headers=key)
        assert added.status_code == 200 and added.json()["added"] == 1
        body = c.post("/identify", files={"file": ("p.jpg", photo)}, headers=key).json()
    assert body["faces"][0]["name"] == "Grace" and body["faces"][0]["similarity"] > 0.99999
    assert open_gallery(g).stamp["flip"] is False and len(open_gallery(g)) == 1
