"""The finished outputs of a video analysis: ``tracks.csv``, ``frames.csv``, ``annotated.mp4``,
``report.html`` and ``video.config.yaml``, written as one set: all of them are made in
``WORK/out/`` and moved into the output folder in one short final step, where the outputs of an
earlier run that this run does not make are removed, so the folder never mixes two runs.

``annotated.mp4`` is drawn in a second pass over the clip, after tracking, so every box carries its
track's final answer (attributes and age over the whole track, the gallery's name); that pass too
streams the clip and ``frames.csv``, never holding either.
"""

from __future__ import annotations

import html
import os
import shutil
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFont

from rostro.config import save_config
from rostro.files import atomic_path, atomic_write_text
from rostro.reports.html import Page
from rostro.video.analyse import Analysis, read_tracks
from rostro.video.decode import VideoReader

TRACK_FIXED = ["track", "shot", "first_frame", "last_frame", "first_time", "last_time", "n_frames", "n_detections"]
COLOURS = [(0, 220, 90), (255, 170, 0), (0, 170, 255), (255, 80, 160), (180, 120, 255), (255, 255, 0),
           (0, 255, 255), (255, 110, 80)]  # fmt: skip
OUTPUTS = ("frames.csv", "tracks.csv", "annotated.mp4", "report.html", "video.config.yaml")
TIME_BASE = Fraction(1, 90_000)  # the annotated video's clock: the source's frame times, kept to 11 us


def tracks_frame(analysis: Analysis, namer: Callable[[np.ndarray], tuple[str, float]] | None = None) -> pd.DataFrame:
    """One row per track: its span, its detections' mean probability per attribute and mean age, and the
    gallery's name and similarity for its mean face-network descriptor ('' and NaN without a gallery)."""
    rows = []
    for t in read_tracks(analysis.tracks_file):
        n = max(t["n_detections"], 1)
        row = {k: t[k] for k in TRACK_FIXED}
        row |= {name: round(p / n, 6) for name, p in zip(analysis.labels, t["probabilities"], strict=True)}
        row |= {name: round(v / n, 2) for name, v in zip(analysis.values, t["values"], strict=True)}
        row["name"], row["similarity"] = "", float("nan")
        if namer is not None and t["n_embedded"]:
            name, sim = namer(np.asarray(t["embedding"], np.float32) / t["n_embedded"])
            row["name"], row["similarity"] = name, round(float(sim), 6)
        rows.append(row)
    columns = [*TRACK_FIXED, *analysis.labels, *analysis.values, "name", "similarity"]
    return pd.DataFrame(rows, columns=columns).sort_values("track", ignore_index=True)


def top_attributes(row: pd.Series, labels: list[str], thresholds: np.ndarray, n: int = 3) -> list[str]:
    """The track's ``n`` most probable attributes at or above their thresholds."""
    called = [(name, float(row[name])) for name, t in zip(labels, thresholds, strict=True) if row[name] >= t]
    return [f"{name} {p:.2f}" for name, p in sorted(called, key=lambda c: -c[1])[:n]]


def track_caption(row: pd.Series, labels: list[str], values: list[str], thresholds: np.ndarray) -> list[str]:
    head = f"#{int(row['track'])}" + (f" {row['name']}" if isinstance(row["name"], str) and row["name"] else "")
    numbers = [f"{v} {row[v]:.0f}" for v in values]
    return [head, *numbers, *top_attributes(row, labels, thresholds)]


def read_frames(path: Path, *, chunk: int = 20_000) -> Iterator[tuple[int, pd.DataFrame]]:
    """``frames.csv`` one frame's rows at a time, in frame order, read in chunks."""
    cols = ["frame", "time", "track", "detected", "left", "top", "right", "bottom"]
    carry = None
    for part in pd.read_csv(path, usecols=cols, chunksize=chunk):
        if carry is not None:
            part = pd.concat([carry, part], ignore_index=True)
        if part.empty:
            continue
        last = part["frame"].iloc[-1]
        carry = part[part["frame"] == last]
        for frame, rows in part[part["frame"] != last].groupby("frame", sort=False):
            yield int(frame), rows
    if carry is not None and len(carry):
        yield int(carry["frame"].iloc[0]), carry


def segments(path: Path, fps: float | None) -> tuple[dict[int, list[tuple[float, float]]], int]:
    """Each track's on-screen spans [(start, end) seconds], a span broken where frames are missing, and
    the number of frames with a face."""
    step = 1 / (fps or 25.0)
    out: dict[int, list[list]] = {}
    last: dict[int, int] = {}
    n = 0
    for frame, rows in read_frames(path):
        n += 1
        for track, t in zip(rows["track"], rows["time"], strict=True):
            track = int(track)
            spans = out.setdefault(track, [])
            if spans and last.get(track) == frame - 1:
                spans[-1][1] = t + step
            else:
                spans.append([t, t + step])
            last[track] = frame
    return {k: [tuple(s) for s in v] for k, v in out.items()}, n


def render(clip: Path, frames_csv: Path, tracks: pd.DataFrame, out: Path, *, labels: list[str], values: list[str],
           thresholds: np.ndarray, max_seconds: float | None = None) -> int:  # fmt: skip
    """Draw every frame's boxes with its track's caption into ``out`` (H.264, else MPEG-4 part 2), at the
    source's frame times; returns the number of frames written."""
    import av

    reader = VideoReader(clip, max_seconds=max_seconds)
    captions = {int(r["track"]): track_caption(r, labels, values, thresholds) for _, r in tracks.iterrows()}
    w, h = reader.info.width // 2 * 2, reader.info.height // 2 * 2  # 4:2:0 needs even sides
    font = ImageFont.load_default(size=max(11, round(max(w, h) / 55)))
    width = max(2, round(max(w, h) / 400))
    rows = read_frames(frames_csv)
    pending = next(rows, None)
    written = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        container = av.open(str(tmp), "w", format="mp4")
        try:
            codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
            stream = container.add_stream(codec, rate=Fraction(reader.info.fps or 25).limit_denominator(10_000))
            stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
            stream.time_base = TIME_BASE
            stream.codec_context.time_base = TIME_BASE
            if codec == "libx264":
                stream.options = {"preset": "veryfast", "crf": "23"}
            else:
                stream.bit_rate = 2_000_000
            last_pts = -1
            painter = _YuvPainter(captions, font, width)
            for frame in reader:
                while pending is not None and pending[0] < frame.index:
                    pending = next(rows, None)
                drawn = pending[1] if pending is not None and pending[0] == frame.index else None
                vf = painter.paint(frame.source, drawn, w, h)
                if vf is None:  # a rotated, resized or not 4:2:0 frame: drawn in RGB
                    image = Image.fromarray(frame.image[:h, :w])
                    if drawn is not None:
                        _draw(ImageDraw.Draw(image), drawn, captions, font, width)
                    vf = av.VideoFrame.from_image(image)
                vf.pts = max(last_pts + 1, round(frame.time / TIME_BASE))
                vf.time_base = TIME_BASE
                last_pts = vf.pts
                for packet in stream.encode(vf):
                    container.mux(packet)
                written += 1
            for packet in stream.encode():
                container.mux(packet)
        finally:
            container.close()
    return written


def _yuv(rgb: tuple[int, int, int]) -> np.ndarray:
    """An RGB colour in limited-range BT.601 Y, U, V: what FFmpeg makes of it in an H.264 4:2:0 frame."""
    r, g, b = rgb
    return np.clip(np.round([16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255,
                             128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255,
                             128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255]), 0, 255).astype(np.uint8)  # fmt: skip


class _YuvPainter:
    """Boxes and captions drawn straight into a decoded 4:2:0 frame's planes, as ``_draw`` draws them in RGB:
    FFmpeg's conversions to RGB and back cost more than decoding and encoding together (2.9 s against 0.13 s
    for the Hamilton clip's 275 frames, measured). Each caption is rendered once, as a mask."""

    BLACK = np.array([16, 128, 128], np.uint8)

    def __init__(self, captions: dict, font, width: int):
        self.captions, self.font, self.width = captions, font, width
        self.masks: dict[int, tuple[np.ndarray, int, int]] = {}

    def _mask(self, track: int) -> tuple[np.ndarray, int, int]:
        if track not in self.masks:
            text = "\n".join(self.captions.get(track, [f"#{track}"]))
            scratch = ImageDraw.Draw(Image.new("L", (1, 1)))
            left, top, right, bottom = scratch.multiline_textbbox((0, 0), text, font=self.font)
            mask = Image.new("L", (max(1, right - left), max(1, bottom - top)))
            ImageDraw.Draw(mask).multiline_text((-left, -top), text, fill=255, font=self.font)
            self.masks[track] = (np.asarray(mask, np.float32) / 255, left, top)  # anti-aliased: a weight
        return self.masks[track]

    def paint(self, source, rows: pd.DataFrame | None, w: int, h: int):
        """The frame to encode, drawn; None where it must be drawn in RGB."""
        import av

        if (not isinstance(source, av.VideoFrame) or source.format.name != "yuv420p" or (source.rotation or 0)
                or (source.width, source.height) != (w, h)):  # fmt: skip
            return None
        data = source.to_ndarray()
        if rows is not None:
            flat = data.reshape(-1)
            planes = (flat[: h * w].reshape(h, w), flat[h * w : h * w * 5 // 4].reshape(h // 2, w // 2),
                      flat[h * w * 5 // 4 :].reshape(h // 2, w // 2))  # fmt: skip
            for r in rows.itertuples(index=False):
                self._face(planes, r, w, h)
        return av.VideoFrame.from_ndarray(data, format="yuv420p")

    def _face(self, planes: tuple, r, w: int, h: int) -> None:
        track = int(r.track)
        colour = _yuv(COLOURS[(track - 1) % len(COLOURS)])
        line = self.width if r.detected else max(1, self.width - 1)
        x0, y0, x1, y1 = int(r.left), int(r.top), int(r.right), int(r.bottom)
        for x, y, xe, ye in ((x0, y0, x1 + 1, y0 + line), (x0, y1 + 1 - line, x1 + 1, y1 + 1),
                             (x0, y0, x0 + line, y1 + 1), (x1 + 1 - line, y0, x1 + 1, y1 + 1)):  # fmt: skip
            _fill(planes, x, y, xe, ye, colour, w, h)
        mask, left, top = self._mask(track)
        x, y = x0 + left, y1 + self.width + 1 + top
        _fill(planes, x, y, x + mask.shape[1] + 1, y + mask.shape[0] + 1, self.BLACK, w, h)  # PIL's box: inclusive
        _fill(planes, x, y, x + mask.shape[1], y + mask.shape[0], colour, w, h, mask)


def _fill(planes: tuple, x0: int, y0: int, x1: int, y1: int, colour: np.ndarray, w: int, h: int,
          mask: np.ndarray | None = None) -> None:  # fmt: skip
    """Paint the pixels [x0, x1) x [y0, y1), clipped to the frame, or blend ``colour`` in by ``mask``'s weights (0 to
    1, its top left at x0, y0); chroma on the 2 x 2 blocks they touch."""
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if cx0 >= cx1 or cy0 >= cy1:
        return
    y_plane, u_plane, v_plane = planes
    if mask is None:
        y_plane[cy0:cy1, cx0:cx1] = colour[0]
        u_plane[cy0 // 2 : (cy1 + 1) // 2, cx0 // 2 : (cx1 + 1) // 2] = colour[1]
        v_plane[cy0 // 2 : (cy1 + 1) // 2, cx0 // 2 : (cx1 + 1) // 2] = colour[2]
        return
    m = mask[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]
    block = y_plane[cy0:cy1, cx0:cx1]
    block[...] = np.round(block + m * (float(colour[0]) - block)).astype(np.uint8)
    # a chroma sample takes the colour in the share of its 2 x 2 pixels the mask covers, over the black beneath
    # (as a conversion of the RGB drawing averages them): a glyph's edge does not bleed
    top, left = cy0 % 2, cx0 % 2
    padded = np.zeros((m.shape[0] + top + 1, m.shape[1] + left + 1), np.float32)
    padded[top : top + m.shape[0], left : left + m.shape[1]] = m
    rows, cols = padded.shape[0] // 2, padded.shape[1] // 2
    share = padded[: rows * 2, : cols * 2].reshape(rows, 2, cols, 2).mean(axis=(1, 3))
    ry, rx = cy0 // 2, cx0 // 2
    share = share[: u_plane.shape[0] - ry, : u_plane.shape[1] - rx]
    for plane, value in ((u_plane, colour[1]), (v_plane, colour[2])):
        block = plane[ry : ry + share.shape[0], rx : rx + share.shape[1]]
        block[...] = np.round(block + share * (float(value) - block)).astype(np.uint8)


def _draw(draw: ImageDraw.ImageDraw, rows: pd.DataFrame, captions: dict, font, width: int) -> None:
    for r in rows.itertuples(index=False):
        track = int(r.track)
        colour = COLOURS[(track - 1) % len(COLOURS)]
        box = (int(r.left), int(r.top), int(r.right), int(r.bottom))
        draw.rectangle(box, outline=colour, width=width if r.detected else max(1, width - 1))
        text = "\n".join(captions.get(track, [f"#{track}"]))
        at = (box[0], box[3] + width + 1)
        draw.rectangle(draw.multiline_textbbox(at, text, font=font), fill=(0, 0, 0))
        draw.multiline_text(at, text, fill=colour, font=font)


def timeline_svg(spans: dict[int, list[tuple[float, float]]], tracks: pd.DataFrame, duration: float,
                 cuts: list[list]) -> str:  # fmt: skip
    """Who is on screen when: a row per track, a bar per span, a dashed line at each shot cut."""
    names = {int(r["track"]): r["name"] for _, r in tracks.iterrows()}
    left, row_h, width = 150, 18, 900
    height = row_h * max(1, len(spans)) + 30
    x = lambda t: left + (width - left - 10) * t / max(duration, 1e-9)  # noqa: E731
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-size="12" '
             f'font-family="system-ui,sans-serif">']  # fmt: skip
    for i, track in enumerate(sorted(spans)):
        y = 5 + i * row_h
        colour = "#{:02x}{:02x}{:02x}".format(*COLOURS[(track - 1) % len(COLOURS)])
        label = f"#{track}" + (f" {names[track]}" if isinstance(names.get(track), str) and names[track] else "")
        parts.append(f'<text x="4" y="{y + 12}">{html.escape(label[:22])}</text>')
        for a, b in spans[track]:
            parts.append(f'<rect x="{x(a):.1f}" y="{y + 2}" width="{max(x(b) - x(a), 1):.1f}" height="{row_h - 5}" '
                         f'fill="{colour}" stroke="#333" stroke-width="0.5"/>')  # fmt: skip
    axis_y = height - 22
    for frame, t in cuts:
        parts.append(f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="0" y2="{axis_y}" stroke="#888" '
                     f'stroke-dasharray="3,3"><title>cut at frame {frame}</title></line>')  # fmt: skip
    step = max(1, round(duration / 10))
    for s in range(0, int(duration) + 1, step):
        parts.append(f'<text x="{x(s):.1f}" y="{axis_y + 16}" text-anchor="middle">{s} s</text>')
    parts.append("</svg>")
    return "".join(parts)


def write_report(path: Path, analysis: Analysis, tracks: pd.DataFrame, spans: dict, thresholds: np.ndarray,
                 *, annotated: str | None) -> Path:  # fmt: skip
    info = analysis.info
    duration = max([info.duration or 0.0, *[b for v in spans.values() for _, b in v]])
    page = Page(f"Video: {Path(info.path).name}")
    page.paragraph(f"{info.width} x {info.height}, {info.codec}, {analysis.n_frames} frames analysed "
                   f"({duration:.1f} s); faces detected on {analysis.n_detection_frames} frames; "
                   f"{len(analysis.cuts) + 1} shot(s); {len(tracks)} track(s).")  # fmt: skip
    if analysis.error:
        page.paragraph(f"The clip is damaged: {analysis.error}. What came before is analysed.")
    if annotated:
        page.parts.append(f'<p><a href="{html.escape(annotated)}">The annotated video</a></p>')
    page.heading("Who is on screen")
    page.parts.append(timeline_svg(spans, tracks, duration, analysis.cuts) if spans else "<p>No face.</p>")
    page.heading("Tracks")
    thumbs = {t["track"]: t["thumb"] for t in read_tracks(analysis.tracks_file)}
    cards = []
    for _, r in tracks.iterrows():
        caption = track_caption(r, analysis.labels, analysis.values, thresholds)
        span = f"{r['first_time']:.1f}-{r['last_time']:.1f} s, {int(r['n_frames'])} frames"
        img = f'<img src="data:image/jpeg;base64,{thumbs.get(r["track"], "")}" alt="track {int(r["track"])}">'
        text = "<br>".join(map(html.escape, [*caption, span]))
        cards.append(f'<figure style="display:inline-block;margin:4px;vertical-align:top;width:150px">{img}'
                     f"<figcaption>{text}</figcaption></figure>")  # fmt: skip
    page.parts.append("<div>" + "".join(cards) + "</div>")
    if len(tracks):
        shown = ["track", "name", "similarity", "first_time", "last_time", "n_frames", "n_detections",
                 *analysis.values, *analysis.labels]  # fmt: skip
        page.table(tracks[shown], index=False, float_format="{:.3f}")
    with atomic_path(path) as tmp:
        page.write(tmp)
    return path


def finish(analysis: Analysis, clip: Path, out: Path, *, thresholds: np.ndarray, namer=None, annotate: bool = True,
           report: bool = True, max_seconds: float | None = None, config: Any = None) -> dict:  # fmt: skip
    """Make the outputs in ``WORK/out/`` from the work folder, then :func:`publish` them and remove the work
    folder; returns the tracks, the counts and the published paths. ``config`` (a dataclass) is saved too."""
    work = analysis.work
    staged = work / "out"
    shutil.rmtree(staged, ignore_errors=True)  # a finish killed part-way starts again
    staged.mkdir(parents=True)
    tracks = tracks_frame(analysis, namer)
    atomic_write_text(staged / "tracks.csv", tracks.to_csv(index=False))
    frames_csv = work / "frames.csv"
    written = None
    if annotate:
        written = render(clip, frames_csv, tracks, staged / "annotated.mp4", labels=analysis.labels,
                         values=analysis.values, thresholds=thresholds, max_seconds=max_seconds)  # fmt: skip
    spans, with_faces = segments(frames_csv, analysis.info.fps)
    if report:
        write_report(staged / "report.html", analysis, tracks, spans, thresholds,
                     annotated="annotated.mp4" if annotate else None)  # fmt: skip
    if config is not None:
        save_config(config, staged / "video.config.yaml")
    os.replace(frames_csv, staged / "frames.csv")
    files = publish(staged, out)
    shutil.rmtree(work, ignore_errors=True)
    return {"tracks": tracks, "written": written, "spans": spans, "frames_with_faces": with_faces, "files": files}


def publish(staged: Path, out: Path) -> list[Path]:
    """Move the staged outputs into ``out`` and remove the ones an earlier run left that this run did not
    make: renames within one disk, a fraction of a second, so a kill leaves at worst a mix for that moment."""
    made = [name for name in OUTPUTS if (staged / name).is_file()]
    for name in OUTPUTS:
        if name not in made:
            (out / name).unlink(missing_ok=True)
    for name in made:
        os.replace(staged / name, out / name)
    return [out / name for name in made]
