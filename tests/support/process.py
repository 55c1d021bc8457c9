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
from collections import deque
from pathlib import Path

ENTRY = "bot.runtime.cli"  # the module `python -m` runs as `copydesk`
ROOT = Path(__file__).parent.parent.parent


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
        # a deadline, not a pause
        code = self.process.wait(timeout=30)
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
        [sys.executable, "-m", ENTRY, *args],
        env={**os.environ, **env},
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )


# Imports what ENTRY imports (libraries and copydesk's modules, which only define things on import), then waits for
# the arguments and environment on stdin and runs ENTRY as `python -m` would: all of `main()` runs after the start.
WARM = """
import importlib, json, os, runpy, sys
entry = sys.argv[1]
importlib.import_module(entry)
del sys.modules[entry]  # run afresh as __main__, as `python -m` does
line = sys.stdin.readline()
if not line:
    sys.exit(0)
order = json.loads(line)
os.environ.clear()
os.environ.update(order["env"])
null = os.open(os.devnull, os.O_RDONLY)
os.dup2(null, 0)
os.close(null)
sys.argv = [entry, *order["args"]]
runpy.run_module(entry, run_name="__main__", alter_sys=True)
"""


class Launcher:
    """Starts `copydesk run` like `start`, from interpreters that did its imports ahead: a fifth of the wait."""

    def __init__(self, spares: int = 2) -> None:
        self.spares = spares
        self._ready: deque[subprocess.Popen] = deque()

    def start(self, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        self._fill()
        process = self._ready.popleft()
        self._fill()  # the next one warms up while this one runs
        assert process.stdin is not None
        try:
            process.stdin.write(json.dumps({"args": args, "env": {**os.environ, **env}}) + "\n")
            process.stdin.close()
        except BrokenPipeError:
            pass  # it died warming up: Running reports its log
        return process

    def close(self) -> None:
        """End the spares nobody started (they are this launcher's own children)."""
        while self._ready:
            process = self._ready.popleft()
            process.kill()
            process.wait()
            for pipe in (process.stdin, process.stderr):
                if pipe is not None:
                    pipe.close()

    def _fill(self) -> None:
        while len(self._ready) < self.spares:
            self._ready.append(
                subprocess.Popen(
                    [sys.executable, "-c", WARM, ENTRY],
                    stdin=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    text=True,
                    cwd=ROOT,
                )
            )
