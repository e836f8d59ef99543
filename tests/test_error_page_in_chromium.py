"""The static error page in a real browser (Debian's ``chromium``, headless): a document text, a label, a
document id and a title holding markup, quotes and ``../`` stay data (no injected script or handler runs), and
the label and error-kind check boxes hide and show documents.

A small harness page loads ``errors.html`` in a frame, clicks the check boxes and writes what it saw as JSON
into its own DOM, which ``chromium --dump-dom`` prints. Without chromium the test skips with one line; under
CI (``CI=true``, set by ``.ci/run``, which installs chromium) it fails instead.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from medner.corpus.document import Document, Entity
from medner.error_browser import script_json, write_error_page

#: Markup that changes the page's title, and marks the harness, if it ever runs.
PAYLOAD = ("<script>document.title='pwned';parent.pwned=1</script>"
           "<img src=x onerror=\"document.title='pwned';parent.pwned=1\">")
TEXT = f"Take aspirin daily. {PAYLOAD} 'single' \"double\" & ../../etc/passwd"
EVIL_LABEL = "<b onmouseover=\"parent.pwned=1\">Drug & 'name'</b>"
EVIL_ID = f"</script>{PAYLOAD}../../id"
TITLE = f"run {PAYLOAD}"

#: What the harness does, in order: (check box group, value, checked) -> documents shown afterwards.
STEPS: list[tuple[str, str, bool, set[str]]] = [
    ("label", EVIL_LABEL, False, {"plain", "route"}),
    ("label", EVIL_LABEL, True, {"plain", "route", EVIL_ID}),
    ("kind", "missed", False, {"route", EVIL_ID}),
    ("kind", "spurious", False, {"route"}),
    ("kind", "missed", True, {"plain", "route"}),
]

HARNESS = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>harness</title></head><body>
<iframe id="page" src="errors.html"></iframe><pre id="report">the harness did not run</pre>
<script>
const steps = STEPS;
document.getElementById('page').addEventListener('load', () => setTimeout(() => {
  const page = document.getElementById('page').contentDocument;
  const shown = () => [...page.querySelectorAll('.medner-doc')]
    .filter(d => d.style.display !== 'none').map(d => d.querySelector('h3').textContent);
  const report = {
    title: page.title, pwned: window.pwned || 0, scripts: page.scripts.length, images: page.images.length,
    handlers: page.querySelectorAll('[onerror], [onmouseover]').length,
    labels: [...page.querySelectorAll('input[name=label]')].map(box => box.value),
    shown: [shown()],
  };
  for (const [group, value, checked] of steps) {
    const box = [...page.querySelectorAll(`input[name=${group}]`)].find(b => b.value === value);
    if (box.checked !== checked) box.click();
    report.shown.push(shown());
  }
  document.getElementById('report').textContent = JSON.stringify(report);
}, 0));
</script></body></html>
"""


def chromium_or_skip() -> str:
    """The chromium executable; skip (fail under CI=true) with one line where there is none."""
    found = shutil.which("chromium")
    if found is None:
        reason = "chromium not found (Debian: apt-get install chromium): the error page's browser test needs it"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: the browser test must run, not skip)")
        pytest.skip(reason)
    return found


def entity(eid: str, label: str, word: str) -> Entity:
    start = TEXT.index(word)
    return Entity(eid, label, ((start, start + len(word)),), word)


def hostile_page(folder: Path) -> Path:
    """errors.html of three documents: a missed Drug, a spurious hostile label beside a correct one, and a
    Route with a wrong boundary; the hostile one's id, text and label carry :data:`PAYLOAD`."""
    gold = [Document("plain", TEXT, [entity("T1", "Drug", "aspirin")]),
            Document(EVIL_ID, TEXT, [entity("T1", EVIL_LABEL, "daily")]),
            Document("route", TEXT, [entity("T1", "Route", "aspirin")])]
    pred = [Document("plain", TEXT, []),
            Document(EVIL_ID, TEXT, [entity("T1", EVIL_LABEL, "daily"), entity("T2", EVIL_LABEL, "single")]),
            Document("route", TEXT, [entity("T1", "Route", "aspiri")])]
    return write_error_page(gold, pred, folder / "errors.html", title=TITLE)


def browse(chromium: str, page: Path) -> dict:
    """Open the harness around ``page`` in headless chromium; the report it wrote into its DOM."""
    harness = page.with_name("harness.html")
    harness.write_text(HARNESS.replace("STEPS", script_json([step[:3] for step in STEPS])), encoding="utf-8")
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--no-first-run", f"--user-data-dir={page.parent / 'profile'}", "--allow-file-access-from-files",
               "--virtual-time-budget=5000", "--dump-dom", harness.as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    found = re.search(r'<pre id="report">(.*?)</pre>', done.stdout, re.S)
    assert found, f"chromium printed no report (exit {done.returncode}): {done.stderr[-2000:]}"
    return json.loads(html.unescape(found.group(1)))


@pytest.mark.chromium
def test_hostile_text_labels_and_ids_stay_data_and_the_filters_work(tmp_path) -> None:
    report = browse(chromium_or_skip(), hostile_page(tmp_path))
    assert report["title"] == TITLE and report["pwned"] == 0  # no injected script ran
    assert (report["scripts"], report["images"], report["handlers"]) == (2, 0, 0)  # the page's own scripts only
    assert sorted(report["labels"]) == sorted(["Drug", "Route", EVIL_LABEL])
    assert set(report["shown"][0]) == {"plain", "route", EVIL_ID}  # every id shown as it is, all at first
    assert [set(shown) for shown in report["shown"][1:]] == [step[3] for step in STEPS]
