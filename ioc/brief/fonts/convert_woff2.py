from fontTools.ttLib import TTFont
from fontTools.merge import Merger
import sys
src = "/work/wt-brief/assets/fonts"
for w in ("400", "700"):
    paths = []
    for sub in ("latin", "latin-ext", "vietnamese"):
        f = TTFont(f"{src}/be-vietnam-pro-{sub}-{w}-normal.woff2")
        f.flavor = None
        p = f"/tmp/fc/{sub}-{w}.ttf"
        f.save(p)
        paths.append(p)
        print(sub, w, f["maxp"].numGlyphs, "glyf" in f, len(f.getBestCmap()))
    merged = Merger().merge(paths)
    merged.save(f"/tmp/fc/BeVietnamPro-{w}.ttf")
    m = TTFont(f"/tmp/fc/BeVietnamPro-{w}.ttf")
    cmap = m.getBestCmap()
    print("merged", len(cmap), all(ord(c) in cmap for c in "Bắc Giang công suất giường bệnh ưu tiên Đ đ ỹ ự"))
