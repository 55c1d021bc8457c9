"""`copydesk run` as a real process, for the tests and the benchmarks: its log as it arrives, and HTTP to it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path


class Running:
    """A `copydesk run` subprocess, its log as it arrives, and the base URL it listens on."""

    def __init__(self, process: subprocess.Popen, ready: str = r"listening on (http://127\.0\.0\.1:\d+)") -> None:
        self.process = process
        self.log: list[str] = []
        self._more = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        found = self.wait_for_log(ready)
        self.url = found.group(1) if found.groups() else ""

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._more:
                self.log.append(line)
                self._more.notify_all()
        with self._more:
            self.log.append("")  # end of output
            self._more.notify_all()

    def wait_for_log(self, pattern: str, timeout: float = 20) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        with self._more:
            while True:
                for line in self.log:
                    if found := re.search(pattern, line):
                        return found
                assert "" not in self.log, "copydesk run exited:\n" + "".join(self.log)
                assert self._more.wait(deadline - time.monotonic()), f"no log line like {pattern!r} in {timeout}s"

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=15)
        self.wait_for_log(r"copydesk stopped")
        return code

    def post(self, path: str, body: str, headers: dict[str, list[str]]) -> tuple[int, str]:
        request = urllib.request.Request(self.url + path, data=body.encode(), method="POST")
        for name, values in headers.items():
            request.add_header(name, values[0])
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def get(self, path: str) -> tuple[int, dict]:
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            return response.status, json.loads(response.read())


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "bot.runtime.cli", *args],
        env={**os.environ, **env},
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        cwd=Path(__file__).parent.parent.parent,
    )
