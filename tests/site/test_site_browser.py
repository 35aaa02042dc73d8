"""The static site in a real browser (headless Chromium driven by Playwright, system executable).

Builds the site from the committed results/, then for every page: it loads without console errors or
failed requests, every internal link and image resolves (file and #fragment), and a screenshot is saved
under $REPRO_ARTIFACTS_DIR (default build/artifacts)/site-screenshots/. On one paper page a column is
sorted both ways. When run as root without Chromium (CI on a clean machine), Debian's `chromium` is
installed with apt-get.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=True, env=env, timeout=900,
                       stdout=subprocess.DEVNULL)
        path = shutil.which("chromium")
        if path:
            return path
    if os.environ.get("CI"):
        pytest.fail("no chromium and cannot install it (needs root and apt-get)")
    pytest.skip("no chromium on PATH (install Debian's chromium, or run as root to let the test install it)")


class _Refs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()
        self.refs: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        for key in ("href", "src"):
            if a.get(key) and not (tag == "a" and a.get("rel") == "external"):
                self.refs.append(a[key])


def _parse(path: Path) -> _Refs:
    p = _Refs()
    p.feed(path.read_text())
    return p


@pytest.fixture(scope="module")
def site():
    from reprorec.site import build

    art = Path(os.environ.get("REPRO_ARTIFACTS_DIR", REPO / "build" / "artifacts"))
    out = art / "site"
    pages = build(out, results_root=REPO / "results")
    shots = art / "site-screenshots"
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    return out, pages, shots


def test_internal_links_resolve(site):
    out, pages, _ = site
    assert len(pages) > 3
    parsed = {p.name: _parse(p) for p in out.glob("*.html")}
    bad = []
    for name, refs in list(parsed.items()):
        for ref in refs.refs:
            u = urlsplit(ref)
            if u.scheme in ("http", "https", "mailto"):
                bad.append(f"{name}: external link not marked rel=external: {ref}")
                continue
            target = name if not u.path else unquote(u.path)
            if not (out / target).exists():
                bad.append(f"{name}: missing {ref}")
            elif u.fragment and target.endswith(".html"):
                if target not in parsed:
                    parsed[target] = _parse(out / target)
                if u.fragment not in parsed[target].ids:
                    bad.append(f"{name}: no #{u.fragment} in {target}")
    assert not bad, "\n".join(bad[:30])


def test_pages_load_sort_and_screenshot(site):
    from playwright.sync_api import sync_playwright  # dev extra; never `playwright install`: the system chromium
    out, pages, shots = site
    exe = chromium()
    problems = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: problems.append(f"{page.url}: console {m.type}: {m.text}")
                if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(f"{page.url}: page error {e}"))
        page.on("requestfailed", lambda r: problems.append(f"{page.url}: request failed {r.url}"))
        for path in sorted(out.glob("*.html")):
            t0 = time.time()
            page.goto(path.as_uri(), wait_until="load")
            assert page.title(), path
            page.screenshot(path=str(shots / f"{path.stem}.png"))
            print(f"{path.name}: {time.time() - t0:.1f}s")
        # sorting: the first table of a paper page, by a numeric column and by the method column
        paper = sorted(out.glob("paper-*.html"))[0]
        page.goto(paper.as_uri(), wait_until="load")
        sizes = page.locator("table.sortable").evaluate_all("ts => ts.map(t => t.tBodies[0].rows.length)")
        table = page.locator("table.sortable").nth(max(range(len(sizes)), key=sizes.__getitem__))  # the longest
        heads = table.locator("thead th")
        names = [heads.nth(i).inner_text().strip() for i in range(heads.count())]
        col = next(i for i, n in enumerate(names) if n.startswith("test "))

        def column(i):
            return table.locator("tbody tr").evaluate_all(
                f"rows => rows.map(r => r.cells[{i}].getAttribute('data-v') ?? r.cells[{i}].textContent.trim())")

        heads.nth(col).click()
        up = [float(v) for v in column(col) if v != ""]
        heads.nth(col).click()
        down = [float(v) for v in column(col) if v != ""]
        assert up == sorted(up) and down == sorted(down, reverse=True) and len(up) > 1, (up, down)
        m = names.index("method")
        heads.nth(m).click()
        methods = [v.lower() for v in column(m)]
        assert methods == sorted(methods)
        browser.close()
    assert not problems, "\n".join(problems[:30])
    assert {p.stem for p in shots.glob("*.png")} == {p.stem for p in out.glob("*.html")}
