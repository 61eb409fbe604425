"""The report renders in a real browser: headless Chromium, driven over the DevTools protocol.

Chromium is Debian's ``chromium`` package (/usr/bin/chromium); this test installs nothing and is
skipped when it is absent. The browser is spoken to over ``--remote-debugging-pipe`` (file
descriptors 3 and 4, NUL-terminated JSON), so no extra Python dependency is needed. Collected as
errors: uncaught exceptions, ``console.error``/``console.assert`` calls, browser log entries of
level ``error``, and any request that leaves the machine (the report must be self-contained).
"""

from __future__ import annotations

import base64
import fcntl
import importlib.util
import json
import os
import queue
import struct
import subprocess
import sys
import threading
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mlfactory.evaluation.report import write_report

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.is_file(),
        reason="headless Chromium not installed (/usr/bin/chromium); install Debian's `chromium` package",
    ),
]
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--remote-debugging-pipe",
)
HANG_GUARD_S = 120.0  # only guards against a wedged browser; nothing asserts on time
_BUILDER = Path(__file__).resolve().parents[1] / "unit" / "evaluation" / "report" / "report_run_builder.py"


def _load_builder() -> Any:
    spec = importlib.util.spec_from_file_location("report_run_builder", _BUILDER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("report_run_builder", module)
    spec.loader.exec_module(module)
    return module


@dataclass
class Rendered:
    errors: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    plot_divs: int = 0
    plots_drawn: int = 0
    screenshot: Path | None = None


class DevTools:
    """A minimal DevTools-protocol client over Chromium's debugging pipe."""

    def __init__(self, profile: Path) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def wire_fds() -> None:  # in the child: the browser reads fd 3 and writes fd 4
            a = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=wire_fds,
            pass_fds=(3, 4),  # keep the two descriptors wire_fds sets up (they exist in the parent too:
        )  # os.pipe() took the lowest free numbers, so fds 3 and 4 are open there)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._next_id = 0
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.session: str | None = None
        self.seen: list[dict[str, Any]] = []  # every message read so far, events included

    def _read(self) -> None:
        buf = b""
        while chunk := os.read(self._from_browser, 1 << 16):
            buf += chunk
            *messages, buf = buf.split(b"\0")
            for raw in messages:
                self.events.put(json.loads(raw))

    def send(
        self, method: str, params: dict[str, Any] | None = None, *, session: bool = True
    ) -> dict[str, Any]:
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(msg).encode() + b"\0")
        reply = self.wait(lambda m: m.get("id") == msg["id"])
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def wait(self, predicate: Any) -> dict[str, Any]:
        deadline = time.monotonic() + HANG_GUARD_S
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeError("Chromium stopped answering the DevTools protocol")
            try:
                msg = self.events.get(timeout=remaining)
            except queue.Empty:
                raise RuntimeError("Chromium stopped answering the DevTools protocol") from None
            self.seen.append(msg)
            if predicate(msg):
                return msg

    def close(self) -> None:
        try:
            self.send("Browser.close", session=False)
        except (RuntimeError, OSError):
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_browser)
        self._reader.join(timeout=20)  # the browser is gone, so its end of the pipe is closed: EOF
        os.close(self._from_browser)


def render(html_path: Path, png_path: Path, *, width: int = 1400) -> Rendered:
    """Open ``html_path`` in headless Chromium, wait for every plotly div to draw, screenshot the page."""
    tools = DevTools(png_path.parent / "chromium-profile")
    out = Rendered()
    try:
        target = tools.send("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        attached = tools.send("Target.attachToTarget", {"targetId": target, "flatten": True}, session=False)
        tools.session = attached["sessionId"]
        for domain in ("Runtime", "Log", "Page", "Network"):
            tools.send(f"{domain}.enable")
        tools.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False},
        )
        tools.send("Page.navigate", {"url": html_path.resolve().as_uri()})
        tools.wait(lambda m: m.get("method") == "Page.loadEventFired")
        counts = tools.send(
            "Runtime.evaluate",
            {
                "expression": _WAIT_FOR_PLOTS,
                "awaitPromise": True,
                "returnByValue": True,
            },
        )["result"]["value"]
        out.plot_divs, out.plots_drawn = counts["divs"], counts["drawn"]
        height = tools.send("Page.getLayoutMetrics")["cssContentSize"]["height"]
        shot = tools.send(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
            },
        )
        png_path.write_bytes(base64.b64decode(shot["data"]))
        out.screenshot = png_path
        tools.send("Runtime.evaluate", {"expression": "1"})  # flush events raised while drawing
    finally:
        tools.close()
    for msg in tools.seen + _drain(tools.events):
        out.errors += _errors_of(msg)
        if msg.get("method") == "Network.requestWillBeSent":
            url = msg["params"]["request"]["url"]
            if not url.startswith(("file:", "data:", "about:", "blob:")):
                out.external_requests.append(url)
    return out


_WAIT_FOR_PLOTS = """
new Promise(resolve => {
  const count = () => {
    const divs = Array.from(document.querySelectorAll('div.plotly-graph-div'));
    return {divs: divs.length, drawn: divs.filter(d => d.querySelector('svg.main-svg')).length};
  };
  const poll = (left) => {
    const c = count();
    if (c.drawn >= c.divs || left === 0) resolve(c); else setTimeout(() => poll(left - 1), 100);
  };
  poll(300);
})
"""


def _drain(q: queue.Queue[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    while not q.empty():
        out.append(q.get_nowait())
    return out


def _errors_of(msg: dict[str, Any]) -> list[str]:
    method, params = msg.get("method"), msg.get("params", {})
    if method == "Runtime.exceptionThrown":
        d = params["exceptionDetails"]
        return [f"uncaught: {d.get('exception', {}).get('description') or d.get('text')}"]
    if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
        return [
            "console."
            + params["type"]
            + ": "
            + " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
        ]
    if method == "Log.entryAdded" and params["entry"].get("level") == "error":
        return [f"log: {params['entry'].get('text')} {params['entry'].get('url', '')}"]
    return []


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    return struct.unpack(">II", data[16:24])


def png_distinct_bytes(path: Path) -> int:
    """Distinct byte values in the decompressed image data: a blank page has only a handful."""
    data = path.read_bytes()
    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    return len(set(zlib.decompress(idat)))


@pytest.fixture(scope="module")
def report_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = _load_builder().build_run(tmp_path_factory.mktemp("chromium-run"))
    return write_report(run).path


def test_report_renders_every_plot_without_console_errors(report_path: Path, tmp_path: Path) -> None:
    rendered = render(report_path, tmp_path / "report.png")
    assert rendered.errors == []
    assert rendered.external_requests == []
    assert rendered.plot_divs >= 8  # labels, equity, 4 confusion, calibration, importance, OOF correlation
    assert rendered.plots_drawn == rendered.plot_divs
    assert rendered.screenshot is not None and rendered.screenshot.is_file()
    width, height = png_size(rendered.screenshot)
    assert width == 1400 and height > 3000  # the whole page, not a blank viewport
    assert rendered.screenshot.stat().st_size > 100_000
    assert png_distinct_bytes(rendered.screenshot) > 100


def test_an_injected_javascript_error_is_caught(report_path: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.html"
    html = report_path.read_text(encoding="utf-8")
    injected = "<script>console.error('planted console error'); undefinedFunctionInReport();</script></body>"
    broken.write_text(html.replace("</body>", injected), encoding="utf-8")
    rendered = render(broken, tmp_path / "broken.png")
    assert any("planted console error" in e for e in rendered.errors)
    assert any("undefinedFunctionInReport" in e for e in rendered.errors)


def test_a_network_request_is_caught(tmp_path: Path) -> None:
    page = tmp_path / "remote.html"
    page.write_text('<html><body><img src="http://127.0.0.1:9/pixel.png"></body></html>', encoding="utf-8")
    rendered = render(page, tmp_path / "remote.png")
    assert rendered.external_requests == ["http://127.0.0.1:9/pixel.png"]
