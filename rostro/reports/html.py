"""A minimal, dependency-free HTML page: headings, paragraphs, tables and images."""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;font-size:14px;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f3f3f3}
img{max-width:100%;border:1px solid #eee;margin:.5em 0}code{background:#f3f3f3;padding:0 3px}
"""


class Page:
    """Collects sections in order and writes them as one self-describing HTML file."""

    def __init__(self, title: str):
        self.title = title
        self.parts: list[str] = []

    def heading(self, text: str, level: int = 2) -> Page:
        self.parts.append(f"<h{level}>{html.escape(text)}</h{level}>")
        return self

    def paragraph(self, text: str) -> Page:
        self.parts.append(f"<p>{html.escape(text)}</p>")
        return self

    def table(self, frame: pd.DataFrame, *, index: bool = True, float_format: str = "{:.4f}") -> Page:
        self.parts.append(frame.to_html(index=index, float_format=float_format.format, border=0))
        return self

    def image(self, src: str | Path, alt: str) -> Page:
        self.parts.append(f'<img src="{html.escape(str(src))}" alt="{html.escape(alt)}">')
        return self

    def write(self, path: Path) -> Path:
        body = "\n".join(self.parts)
        path.write_text(
            f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(self.title)}</title>"
            f"<meta name='viewport' content='width=device-width,initial-scale=1'>"
            f"<style>{_STYLE}</style></head><body><h1>{html.escape(self.title)}</h1>\n{body}\n</body></html>\n",
            encoding="utf-8",
        )
        return path
