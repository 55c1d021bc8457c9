"""A load generator in its own process: N senders, each on its own keep-alive connection, timing each answer.

Run apart from the fakes so that their work (copydesk's cards reaching the loopback Slack) does not share a GIL
with the clock that times the answers. Prints the latencies in milliseconds as JSON.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time

from bench.harness import FORM, ROOT, Connection, python_env, signed, slash_draft


def run_load(url: str, path: str, senders: int, per_sender: int, label: str, response_url: str) -> list[float]:
    """Run the load generator against `url` and return every answer's latency in milliseconds."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.load",
            url,
            path,
            "--senders",
            str(senders),
            "--requests",
            str(per_sender),
            "--label",
            label,
            "--response-url",
            response_url,
        ],
        env=python_env({}),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the load generator failed: {done.stderr[-2000:]}")
    result = json.loads(done.stdout)
    if result["errors"]:
        raise RuntimeError(f"{len(result['errors'])} request(s) to {path} were not answered 200: {result['errors'][:3]}")
    return result["latencies_ms"]


def send(
    url: str, path: str, texts: list[str], response_url: str, start: threading.Barrier, out: list[float], errors: list[str]
) -> None:
    conn = Connection(url)
    try:
        start.wait()
        for text in texts:
            body = slash_draft(text, response_url)
            headers = signed(body, FORM)
            began = time.perf_counter()
            status, answer = conn.post(path, body, headers)
            out.append((time.perf_counter() - began) * 1000)
            if status != 200:
                errors.append(f"{status} {answer[:200]!r}")
    finally:
        conn.close()


def main() -> int:
    args = argparse.ArgumentParser()
    args.add_argument("url")
    args.add_argument("path")
    args.add_argument("--senders", type=int, required=True)
    args.add_argument("--requests", type=int, required=True, help="per sender")
    args.add_argument("--label", required=True, help="makes each draft's text unique across the run")
    args.add_argument("--response-url", required=True)
    opts = args.parse_args()
    latencies: list[float] = []
    errors: list[str] = []
    start = threading.Barrier(opts.senders)
    senders = [
        threading.Thread(
            target=send,
            args=(
                opts.url,
                opts.path,
                [f"Benchmark {opts.label} sender {s} post {n}" for n in range(opts.requests)],
                opts.response_url,
                start,
                latencies,
                errors,
            ),
        )
        for s in range(opts.senders)
    ]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    json.dump({"latencies_ms": latencies, "errors": errors}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
