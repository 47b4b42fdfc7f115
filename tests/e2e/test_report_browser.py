"""The HTML report as a person sees it: rendered by headless Chromium, checked in the DOM and in pixels.

CI installs Chromium with `.ci/install-browser.sh`; a missing browser fails the test (it does not skip),
so a green run always means the report was really drawn.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest
from PIL import Image

from migrator.run import report
from tests.unit.run.test_report import XSS, realistic_results

CHROMIUM = Path("/usr/bin/chromium")
WIDTH, HEIGHT = 1280, 2000


@dataclass(frozen=True)
class Rendered:
    run_dir: Path
    dom: str
    screenshot: Path


def _chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install it with `bash .ci/install-browser.sh` (CI runs it)")
    command = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--hide-scrollbars", f"--user-data-dir={profile}", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"chromium exited {done.returncode}: {done.stderr[-2000:]}"
    return done


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """A run directory as the executor leaves it (results plus the files they name), and its report drawn."""
    run_dir = tmp_path_factory.mktemp("run")
    results = realistic_results()
    (run_dir / "run_results.json").write_text(json.dumps(results), encoding="utf-8")
    named = [path for step in results["steps"] for path in step["files"].values()]
    named += [path for kind, path in results["files"].items() if kind not in ("report", "run_results")]
    for relative in named:
        (run_dir / relative).parent.mkdir(parents=True, exist_ok=True)
        (run_dir / relative).write_text("Legacy_Id__c\n", encoding="utf-8")
    page = report.write_report(run_dir)
    profile = tmp_path_factory.mktemp("chromium-profile")
    dom = _chromium(profile, "--dump-dom", page.as_uri()).stdout
    screenshot = run_dir.parent / f"{run_dir.name}-report.png"
    _chromium(profile, f"--screenshot={screenshot}", f"--window-size={WIDTH},{HEIGHT}", page.as_uri())
    return Rendered(run_dir, dom, screenshot)


class _Dom(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.title = ""
        self._in_title = False
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_title = tag == "title" and self.title == ""

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        self.text.append(data)

    def attr(self, tag: str, name: str) -> list[str]:
        return [str(attrs[name]) for t, attrs in self.tags if t == tag and name in attrs]


def _dom(rendered: Rendered) -> _Dom:
    dom = _Dom()
    dom.feed(rendered.dom)
    return dom


def test_browser_dom_has_the_title_steps_errors_and_chart(rendered: Rendered) -> None:
    results = realistic_results()
    dom = _dom(rendered)
    assert dom.title == "crm-migration · run 20261129-093012-4f1a · migrator report"
    assert dom.attr("tr", "data-step") == [step["id"] for step in results["steps"]]
    assert dom.attr("div", "data-code") == [error["code"] for error in results["top_errors"]]
    assert dom.attr("g", "data-step") == [step["id"] for step in results["steps"]] + ["Account"]  # level rejects
    assert dom.attr("svg", "role") == ["img"]  # one chart (the parser lowercases attribute names)
    segments = [cls for cls in dom.attr("rect", "class") if cls.startswith("seg ")]
    assert {"seg seg-succeeded", "seg seg-failed", "seg seg-skipped", "seg seg-rejected"} == set(segments)
    assert dom.attr("script", "type") == [] and not any(tag == "script" for tag, _ in dom.tags)
    text = "".join(dom.text)
    assert XSS in text  # the hostile message is shown as text, never run
    assert "Completed with failures" in text and "CON-3" in text and "data/crm/contacts.csv:4" in text


def test_browser_links_resolve_to_the_run_files(rendered: Rendered) -> None:
    hrefs = _dom(rendered).attr("a", "href")
    assert len(hrefs) >= 5 * 3 + 3
    for href in hrefs:
        assert (rendered.run_dir / unquote(href)).is_file(), href


def test_browser_screenshot_shows_the_chart_colours(rendered: Rendered) -> None:
    assert rendered.screenshot.is_file()
    with Image.open(rendered.screenshot) as image:
        assert image.size == (WIDTH, HEIGHT)
        pixels = image.convert("RGB")
        counts = {color: n for n, color in pixels.getcolors(maxcolors=WIDTH * HEIGHT)}
    assert len(counts) > 50, "the page looks blank"
    white_or_background = max(counts.values())
    assert white_or_background < WIDTH * HEIGHT * 0.8, "one colour covers the page"
    for outcome, (_, color) in report.OUTCOMES.items():
        if outcome == "pending":  # only a stopped run has rows with no outcome yet
            continue
        rgb = tuple(int(color[i: i + 2], 16) for i in (1, 3, 5))
        near = sum(n for c, n in counts.items() if max(abs(a - b) for a, b in zip(c, rgb, strict=True)) <= 3)
        assert near >= 100, f"{outcome} colour {color} barely appears in the screenshot ({near} px)"
