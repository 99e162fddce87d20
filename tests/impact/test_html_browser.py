"""The HTML report in a real browser: headless Chromium draws both charts.

The page is rendered twice: ``--dump-dom`` shows the DOM after load (the browser parsed
the SVG bars), and a screenshot's pixels show the bars' colour where the charts are, while
a report with no change has none of it. Skipped without Chromium on a user's machine;
under ``CI=true`` a missing browser fails (``.ci/run`` installs Debian's ``chromium``).
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from impact_helpers import Traffic

from compliance.impact import diff
from compliance.impact.html import BAR_COLOUR, render_html

CI = os.environ.get("CI", "").lower() == "true"
BROWSER = next((found for name in ("chromium", "chromium-browser", "google-chrome")
                if (found := shutil.which(name))), None)

if BROWSER is None and not CI:
    pytest.skip("headless Chromium is not installed (apt-get install chromium)",
                allow_module_level=True)


def _chromium(*args: str) -> subprocess.CompletedProcess[bytes]:
    assert BROWSER is not None, "CI=true: .ci/run must install chromium"
    return subprocess.run(
        [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--no-first-run", "--disable-extensions", *args],
        capture_output=True, timeout=120, check=False,
    )


def _pixels(png: bytes) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit RGB/RGBA PNG (what Chromium writes) into rows of raw pixels."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    height = channels = 0
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        body = png[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8
            channels = {2: 3, 6: 4}[colour]
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        at = y * (stride + 1)
        kind, line = raw[at], bytearray(raw[at + 1:at + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up, corner = prev[i], prev[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + pred) & 255
        rows.append(bytes(line))
        prev = line
    return width, channels, rows


def _bar_pixels(png: bytes) -> int:
    """How many pixels are (close to) the bar colour."""
    want = bytes.fromhex(BAR_COLOUR[1:])
    width, channels, rows = _pixels(png)
    count = 0
    for row in rows:
        for x in range(width):
            px = row[x * channels:x * channels + 3]
            if all(abs(a - b) <= 8 for a, b in zip(px, want, strict=True)):
                count += 1
    return count


def _screenshot(page: Path, out: Path) -> bytes:
    result = _chromium(f"--screenshot={out}", "--window-size=800,1000", page.as_uri())
    assert out.exists(), result.stderr.decode("utf-8", "replace")[-2000:]
    return out.read_bytes()


def test_charts_draw_in_headless_chromium(
    packsets: tuple[Path, Path], traffic: Callable[..., Traffic], tmp_path: Path,
) -> None:
    """Both charts are in the DOM after load, and their bars are on the screenshot."""
    files = [str(traffic().path)]
    report = diff(str(packsets[0]), str(packsets[1]), files)
    page = tmp_path / "report.html"
    page.write_text(render_html(report), encoding="utf-8")
    dom = _chromium("--dump-dom", page.as_uri()).stdout.decode("utf-8", "replace")
    for chart in ("chart-transitions", "chart-models"):
        svg = re.search(rf'<svg id="{chart}".*?</svg>', dom, re.DOTALL)
        assert svg is not None, chart
        assert len(re.findall(r'<rect class="bar"', svg.group())) >= 2, chart
    drawn = _bar_pixels(_screenshot(page, tmp_path / "report.png"))
    assert drawn > 500  # bars of 16 px height, tens of pixels wide, several of them

    unchanged = diff(str(packsets[0]), str(packsets[0]), files)
    blank = tmp_path / "blank.html"
    blank.write_text(render_html(unchanged), encoding="utf-8")
    assert _bar_pixels(_screenshot(blank, tmp_path / "blank.png")) == 0
