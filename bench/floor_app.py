"""The floors under copydesk's acknowledgement, in one process: a bare Bolt app and a no-op route.

Both are served exactly as `copydesk run` serves Slack: waitress through bot.runtime.server.serve_http, Bolt through its
WSGI adapter. The bare app's /draft handler only acknowledges (Bolt's defaults otherwise); POST /noop answers 200
without Bolt at all. `from_environ()` serves the same bare app under gunicorn, the conventional deployment.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import Ack, App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient

from bot.runtime.server import SLACK_PATH, serve_http, stop_on_signals

NOOP_PATH = "/noop"


def bare_app(token: str, secret: str, api_url: str) -> App:
    app = App(client=WebClient(token=token, base_url=api_url), signing_secret=secret)

    @app.command("/draft")
    def acknowledge(ack: Ack) -> None:
        ack()

    return app


def application(app: App) -> Callable[..., Iterable[bytes]]:
    slack = SlackRequestHandler(app, path=SLACK_PATH)

    def route(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == NOOP_PATH:
            environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))  # read the body, as Bolt does
            start_response("200 OK", [("Content-Length", "0")])
            return [b""]
        return slack(environ, start_response)

    return route


def from_environ() -> Callable[..., Iterable[bytes]]:
    """For gunicorn (`bench.floor_app:from_environ()`): the bare Bolt app as a team would deploy it, several workers."""
    return application(bare_app(os.environ["SLACK_BOT_TOKEN"], os.environ["SLACK_SIGNING_SECRET"], os.environ["SLACK_API_URL"]))


def main() -> int:
    args = argparse.ArgumentParser()
    args.add_argument("--port", type=int, default=0)
    opts = args.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop_on_signals()
    app = bare_app(os.environ["SLACK_BOT_TOKEN"], os.environ["SLACK_SIGNING_SECRET"], os.environ["SLACK_API_URL"])
    serve_http(application(app), host="127.0.0.1", port=opts.port)
    logging.getLogger("bench").info("floor app stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
