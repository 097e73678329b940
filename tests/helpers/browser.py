"""Open a page in headless Chromium and ask it what it shows, over the DevTools protocol (CDP).

Test-only helper, standard library only: Chromium is started with ``--remote-debugging-port=0``,
the port is read from its ``DevToolsActivePort`` file, and a minimal WebSocket client (RFC 6455
text frames, client-masked) talks to the page target. :func:`inspect_page` loads a file URL and
returns the console errors, page exceptions, network requests, every image's decoded size, the
section ids present and a full-page screenshot.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--remote-debugging-port=0",
    "--window-size=1400,1000",
]
START_TIMEOUT_S = 30.0
LOAD_TIMEOUT_S = 60.0
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
PAGE_FACTS = """JSON.stringify({
  images: Array.from(document.images).map(i => ({
    src: i.currentSrc.slice(0, 40), complete: i.complete, width: i.naturalWidth,
    height: i.naturalHeight})),
  sections: Array.from(document.querySelectorAll('main > section[id]')).map(s => s.id),
  scripts: document.scripts.length,
  title: document.title,
  height: document.documentElement.scrollHeight,
  width: document.documentElement.scrollWidth
})"""


def find_chromium() -> str | None:
    """A Chromium executable on PATH (Debian's ``chromium`` first)."""
    return next((p for name in CANDIDATES if (p := shutil.which(name))), None)


class WebSocket:
    """The smallest WebSocket client CDP needs: masked text frames out, text frames in."""

    def __init__(self, url: str, timeout: float = LOAD_TIMEOUT_S) -> None:
        rest = url.removeprefix("ws://")
        hostport, _, path = rest.partition("/")
        host, _, port = hostport.partition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("DevTools closed the connection during the handshake")
            response += chunk
        head, _, self.buffer = response.partition(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise ConnectionError(f"WebSocket handshake refused: {head[:200]!r}")

    def send(self, text: str) -> None:
        """Send one masked text frame."""
        payload = text.encode()
        header = bytes([0x81])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("DevTools closed the connection")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def receive(self) -> str:
        """One whole text message (continuation frames joined; control frames skipped)."""
        message = b""
        while True:
            first, second = self._read(2)
            n = second & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            mask = self._read(4) if second & 0x80 else b""
            payload = self._read(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            opcode = first & 0x0F
            if opcode == 0x8:
                raise ConnectionError("DevTools closed the WebSocket")
            if opcode in (0x9, 0xA):  # ping / pong
                continue
            message += payload
            if first & 0x80:
                return message.decode()

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()


@dataclass
class PageReport:
    """What Chromium saw on the page."""

    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    screenshot: bytes = b""
    pdf_bytes: int = 0


class Session:
    """A CDP session with one page target: commands by id, events collected meanwhile."""

    def __init__(self, ws: WebSocket) -> None:
        self.ws, self.next_id, self.events = ws, 0, []

    def call(self, method: str, **params: Any) -> dict:
        """Send a command and wait for its result (events that arrive first are kept)."""
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.receive())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method: str, timeout: float = LOAD_TIMEOUT_S) -> dict:
        """Wait for an event (already collected, or arriving within ``timeout``)."""
        deadline = time.monotonic() + timeout
        while True:
            found = next((e for e in self.events if e.get("method") == method), None)
            if found:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {method} within {timeout}s")
            self.events.append(json.loads(self.ws.receive()))


def _devtools_port(profile: Path, process: subprocess.Popen) -> int:
    """The port Chromium chose (first line of ``<profile>/DevToolsActivePort``)."""
    path = profile / "DevToolsActivePort"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"chromium exited with status {process.returncode}")
        if path.is_file() and path.read_text().strip():
            return int(path.read_text().splitlines()[0])
        time.sleep(0.1)
    raise TimeoutError("chromium did not open a DevTools port")


def _messages(events: list[dict]) -> tuple[list[str], list[str]]:
    """(console errors and exceptions, requested URLs) from the collected CDP events."""
    errors, requests = [], []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append(
                " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
            )
        elif method == "Runtime.exceptionThrown":
            errors.append(params["exceptionDetails"].get("text", "exception"))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            errors.append(params["entry"].get("text", ""))
        elif method == "Network.requestWillBeSent":
            requests.append(params["request"]["url"][:80])
    return errors, requests


def inspect_page(page: Path, chromium: str) -> PageReport:
    """Load ``page`` (a file) in headless Chromium; see :class:`PageReport`."""
    with tempfile.TemporaryDirectory(prefix="rg-chromium-", ignore_cleanup_errors=True) as profile:
        process = subprocess.Popen(
            [chromium, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            port = _devtools_port(Path(profile), process)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
                targets = json.load(r)
            target = next(t for t in targets if t.get("type") == "page")
            session = Session(WebSocket(target["webSocketDebuggerUrl"]))
            for domain in ("Page", "Runtime", "Log", "Network"):
                session.call(f"{domain}.enable")
            session.call("Page.navigate", url=page.resolve().as_uri())
            session.wait_for("Page.loadEventFired")
            facts = json.loads(
                session.call("Runtime.evaluate", expression=PAGE_FACTS, returnByValue=True)[
                    "result"
                ]["value"]
            )
            shot = session.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
            pdf = session.call("Page.printToPDF", printBackground=False)
            errors, requests = _messages(session.events)
            session.ws.close()
            return PageReport(
                console_errors=errors,
                requests=requests,
                facts=facts,
                screenshot=base64.b64decode(shot["data"]),
                pdf_bytes=len(base64.b64decode(pdf["data"])),
            )
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
