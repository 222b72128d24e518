"""End to end in a real headless browser (Debian's chromium + chromedriver): drop a photo on the
page served by a live server on 127.0.0.1, and see boxes and attributes appear (Analyze), a verdict
(Verify), or the face's gallery matches (Find); drop a clip and see its tracks on a timeline (Video).

Skipped where no browser is installed. Set ROSTRO_SCREENSHOT=path to keep the screenshot
(docs/service.png was taken this way).
"""

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rostro.inference.predict import sample_photo

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="no chromium and chromedriver installed")


def _serve(cfg):
    """A live server of ``cfg`` on a free port of 127.0.0.1, until the generator is closed."""
    import uvicorn

    from rostro.serve.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(cfg), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 60
    while not srv.started and time.time() < deadline:
        time.sleep(0.1)
    assert srv.started, "server did not start"
    yield f"http://127.0.0.1:{port}/"
    srv.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def server():
    from rostro.serve.app import ServeConfig

    yield from _serve(ServeConfig())


@pytest.fixture(scope="module")
def gallery_server(tmp_path_factory):
    """A server whose gallery holds the sample photo's face as Grace."""
    from rostro.commands.index import IndexConfig, index
    from rostro.serve.app import ServeConfig

    root = tmp_path_factory.mktemp("find")
    (root / "people" / "Grace").mkdir(parents=True)
    shutil.copy(sample_photo(), root / "people" / "Grace" / sample_photo().name)
    index(IndexConfig(source=str(root / "people"), gallery=str(root / "g"), workers=1, progress=False))
    yield from _serve(ServeConfig(gallery=str(root / "g")))


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1100,900"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    yield driver
    driver.quit()


def _wait(driver, condition, timeout=90):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


def test_drop_a_photo_and_see_faces(server, browser, tmp_path):
    from selenium.webdriver.common.by import By

    browser.get(server)
    _wait(browser, lambda d: "attributes" in d.find_element(By.ID, "model").text)
    browser.find_element(By.ID, "file").send_keys(str(sample_photo()))
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#faces .face .attr"))
    assert "1 face(s)" in browser.find_element(By.ID, "analyze-msg").text
    names = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#faces .attr.on .name")]
    assert names and all(n.replace(" ", "_") for n in names)
    canvas = browser.find_element(By.ID, "canvas")
    assert canvas.is_displayed() and int(canvas.get_attribute("width")) > 100
    # the box is drawn: the canvas holds pure green pixels the photo itself does not have
    png = tmp_path / "page.png"
    canvas.screenshot(str(png))
    pixels = np.asarray(Image.open(png).convert("RGB")).reshape(-1, 3).astype(int)
    green = (pixels[:, 1] > 180) & (pixels[:, 0] < 90) & (pixels[:, 2] < 150)
    assert green.sum() > 200
    shot = os.environ.get("ROSTRO_SCREENSHOT")
    if shot:
        browser.save_screenshot(str(Path(shot)))
    # a click on an attribute draws its map over the photo: the heat colours replace most of the face
    row = browser.find_element(By.CSS_SELECTOR, "#faces .attr.on")
    name = row.get_attribute("data-attr")
    row.click()
    _wait(browser, lambda d: "Map of" in d.find_element(By.ID, "map-caption").text)
    assert name.replace("_", " ") in browser.find_element(By.ID, "map-caption").text
    canvas.screenshot(str(png))
    mapped = np.asarray(Image.open(png).convert("RGB")).reshape(-1, 3).astype(int)
    assert np.abs(mapped - pixels).mean() > 2  # the canvas changed where the map lies
    row.click()  # again: back to the photo
    _wait(browser, lambda d: "Click an attribute" in d.find_element(By.ID, "map-caption").text)


def test_verify_tab_compares_two_photos(server, browser, tmp_path):
    from selenium.webdriver.common.by import By

    browser.get(server)
    browser.find_element(By.ID, "tab-verify").click()
    mirrored = tmp_path / "mirrored.png"
    Image.open(sample_photo()).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(mirrored)
    browser.find_element(By.ID, "file-a").send_keys(str(sample_photo()))
    browser.find_element(By.ID, "file-b").send_keys(str(mirrored))
    _wait(browser, lambda d: "similarity" in d.find_element(By.ID, "verdict").text)
    assert browser.find_element(By.ID, "verdict").text.startswith("Same person")
    # both photos are shown, each with the compared face boxed
    for side in ("a", "b"):
        canvas = browser.find_element(By.ID, f"canvas-{side}")
        _wait(browser, lambda d, c=canvas: c.is_displayed())
        png = tmp_path / f"{side}.png"
        canvas.screenshot(str(png))
        pixels = np.asarray(Image.open(png).convert("RGB")).reshape(-1, 3).astype(int)
        assert ((pixels[:, 1] > 180) & (pixels[:, 0] < 90) & (pixels[:, 2] < 150)).sum() > 100, side


def test_fits_a_phone_screen(server, browser):
    browser.set_window_size(390, 844)
    try:
        browser.get(server)
        assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    finally:
        browser.set_window_size(1100, 900)


def test_find_tab_names_the_face_from_the_gallery(gallery_server, browser):
    from selenium.webdriver.common.by import By

    browser.get(gallery_server)
    browser.find_element(By.ID, "tab-find").click()
    browser.find_element(By.ID, "file-find").send_keys(str(sample_photo()))
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#matches .face .match"))
    assert "1 face(s)" in browser.find_element(By.ID, "find-msg").text
    assert browser.find_element(By.CSS_SELECTOR, "#matches .face h3").text == "Face 1: Grace"
    best = browser.find_element(By.CSS_SELECTOR, "#matches .match.on")
    assert best.find_element(By.CSS_SELECTOR, ".name").text == "Grace" and best.text.endswith("1.000")
    _wait(browser, lambda d: d.find_element(By.ID, "canvas-find").is_displayed())


def test_video_tab_shows_tracks_on_a_timeline_and_refusals(server, browser, tmp_path, monkeypatch):
    from selenium.webdriver.common.by import By

    from rostro.serve import app as serve_app
    from tests.video.conftest import moving_face_frames, write_clip

    clip = write_clip(tmp_path / "moving.mp4", moving_face_frames())  # 2.4 s: face A, a cut at 1.2 s, face B
    browser.get(server)
    browser.find_element(By.ID, "tab-video").click()
    _wait(browser, lambda d: d.find_element(By.ID, "video-limits").text == "Clips of at most 30 s and 10 MB.")
    browser.find_element(By.ID, "file-video").send_keys(str(clip))
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#tracks .face"))
    msg = browser.find_element(By.ID, "video-msg")
    assert msg.text.startswith("2 track(s) in 24 frames, 2 shot(s)") and "ok" in msg.get_attribute("class")
    titles = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#tracks .face h3")]
    assert titles[0].startswith("Track 1: 0.0–1.1 s, 12 frames, age about ") and titles[1].startswith("Track 2: 1.2–")
    first = browser.find_elements(By.CSS_SELECTOR, "#tracks .face:first-child .attr.on > span:last-child")
    values = [float(e.text) for e in first]  # its attributes, most probable first
    assert values and values == sorted(values, reverse=True) and min(values) >= 0.5
    # the timeline spans the clip: track 1 on its first half, track 2 from the cut to the end
    lanes = browser.find_elements(By.CSS_SELECTOR, "#timeline .lane .span")
    spans = [[(b.rect["x"] - lane.rect["x"]) / lane.rect["width"], b.rect["width"] / lane.rect["width"]]
             for lane in lanes for b in [lane.find_element(By.CSS_SELECTOR, "span")]]  # fmt: skip
    assert len(spans) == 2 and spans[0][0] < 0.01 and 0.4 < spans[0][1] < 0.5 and 0.49 < spans[1][0] < 0.51
    assert "0 to 2.4 s" in browser.find_element(By.ID, "timeline-caption").text
    # the service's refusals, shown as the other tabs show them
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    browser.find_element(By.ID, "file-video").send_keys(str(junk))
    _wait(browser, lambda d: d.find_element(By.ID, "video-msg").text.startswith("415: file: "))
    assert not browser.find_elements(By.CSS_SELECTOR, "#tracks .face")
    monkeypatch.setattr(serve_app, "MAX_VIDEO_SECONDS", 1.0)
    browser.refresh()
    browser.find_element(By.ID, "tab-video").click()
    _wait(browser, lambda d: d.find_element(By.ID, "video-limits").text == "Clips of at most 1 s and 10 MB.")
    browser.find_element(By.ID, "file-video").send_keys(str(clip))
    _wait(browser, lambda d: d.find_element(By.ID, "video-msg").text.startswith("413: "))
    assert "at most 1 s" in browser.find_element(By.ID, "video-msg").text
    big = tmp_path / "big.mp4"  # over the upload limit: refused on the page, before any upload
    big.write_bytes(bytes(11 * 2**20))
    browser.find_element(By.ID, "file-video").send_keys(str(big))
    _wait(browser, lambda d: "over the service's 10 MB limit" in d.find_element(By.ID, "video-msg").text)
