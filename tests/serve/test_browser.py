"""End to end in a real headless browser (Debian's chromium + chromedriver): drop a photo on the
page served by a live server on 127.0.0.1, and see boxes and attributes appear (Analyze), a verdict
(Verify), or the face's gallery matches (Find).

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
