"""One-off: build the brief's TTF fonts from the UI's Be Vietnam Pro woff2 subsets (OFL, see LICENSE).

The PDF needs TrueType outlines to embed; the UI ships woff2 split into latin / latin-ext / vietnamese
subsets, merged here into one font per weight. Needs fontTools and brotli (not project dependencies):
    python -m venv /tmp/fonts && /tmp/fonts/bin/pip install fonttools brotli
    /tmp/fonts/bin/python ioc/brief/fonts/convert_woff2.py
"""

from pathlib import Path

from fontTools.merge import Merger
from fontTools.ttLib import TTFont

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent.parent.parent / "assets" / "fonts"

for weight, name in (("400", "Regular"), ("700", "Bold")):
    parts = []
    for subset in ("latin", "latin-ext", "vietnamese"):
        font = TTFont(SOURCE / f"be-vietnam-pro-{subset}-{weight}-normal.woff2")
        font.flavor = None
        part = HERE / f"_{subset}-{weight}.ttf"
        font.save(part)
        parts.append(part)
    Merger().merge([str(p) for p in parts]).save(HERE / f"BeVietnamPro-{name}.ttf")
    for part in parts:
        part.unlink()
