"""The copydesk command: run the bot, print the Slack manifest, check a config, show the digest."""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from bot import history
from bot.config import WEEKDAYS, Account, Config, Digest, Secret, chain_key, config_path, db_path, load_config, timezone_in
from bot.desk import Desk
from bot.digest import parse_since
from bot.dryrun import not_sent
from bot.errors import BadTime, ConfigError, CopydeskError, LedgerError, LedgerInUse
from bot.networks import label
from bot.runtime import history_render, logs
from bot.runtime.app import Services, build_services, create_app
from bot.runtime.manifest import manifest
from bot.runtime.server import (
    bind,
    check_free,
    operator_app,
    serve_bound,
    serve_socket_mode,
    serving_operators,
    stop_on_signals,
    wsgi_app,
)
from handlers import digest_render, weekly_render
from storage import Ledger
from storage.chain import KEYED
from storage.lock import LedgerLock

log = logging.getLogger("copydesk")


def parser() -> argparse.ArgumentParser:
    """Every subcommand and flag; the README is checked against this."""
    top = argparse.ArgumentParser(prog="copydesk", description="Editorial review in Slack for a team's X account.")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the bot (HTTP mode, or Socket Mode with --socket or SLACK_APP_TOKEN)")
    run.add_argument("--config", metavar="PATH", help="app.yaml to read (default: $COPYDESK_CONFIG or ./app.yaml)")
    run.add_argument("--db", metavar="PATH", help="ledger database (default: $COPYDESK_DB or ./copydesk.db)")
    run.add_argument("--port", type=port_number, default=3000, metavar="N", help="HTTP port (default: 3000; 0 picks a free one)")
    run.add_argument("--host", default="0.0.0.0", help="HTTP address to listen on (default: 0.0.0.0)")
    run.add_argument("--socket", action="store_true", help="use Socket Mode (needs SLACK_APP_TOKEN)")
    run.add_argument(
        "--dry-run", action="store_true", help="send nothing to any network, for every account (needs no network keys)"
    )
    run.add_argument(
        "--metrics-port",
        type=port_number,
        metavar="N",
        help="serve /metrics and /healthz on this port too (off unless given; in HTTP mode they are on --port anyway)",
    )
    run.add_argument("--metrics-host", default="0.0.0.0", metavar="HOST", help="address of --metrics-port (default: 0.0.0.0)")
    run.add_argument(
        "--log-format", choices=logs.FORMATS, default=logs.TEXT, help="text (default), or json: one JSON object a line"
    )

    show = sub.add_parser("manifest", help="print the Slack app manifest to paste at api.slack.com/apps")
    show.add_argument("--url", help="public base URL of the bot for HTTP mode; omit for Socket Mode")
    show.add_argument("--name", default="copydesk", help="the app's name in Slack (default: copydesk)")

    check = sub.add_parser("check", help="read app.yaml and the environment, and say what is wrong, if anything")
    check.add_argument("--config", metavar="PATH", help="app.yaml to read")
    check.add_argument("--dry-run", action="store_true", help="check it as copydesk run --dry-run reads it (no network keys)")

    digest = sub.add_parser("digest", help="print the digest so far (since the last daily digest), or post it")
    digest.add_argument(
        "--since", metavar="WHEN", help="from WHEN instead: 24h, 7d, 2026-11-20 or 2026-11-20T09:00 (in timezone)"
    )
    digest.add_argument("--post", action="store_true", help="post it to the digest channel(s) too, as an extra digest")
    digest.add_argument(
        "--weekly", action="store_true", help="the weekly report instead: the last 7 days so far, per day, with the top posts"
    )
    digest.add_argument("--config", metavar="PATH", help="app.yaml to read")
    digest.add_argument("--db", metavar="PATH", help="ledger database (default: $COPYDESK_DB or ./copydesk.db)")
    digest.add_argument(
        "--dry-run",
        action="store_true",
        help="as copydesk run --dry-run: no network keys needed, no counts read from any network",
    )

    ledger = sub.add_parser("ledger", help="look after the ledger database")
    ledger_sub = ledger.add_subparsers(dest="ledger_command", required=True, metavar="ACTION")
    backup = ledger_sub.add_parser("backup", help="copy the ledger consistently, even while the bot runs")
    backup.add_argument("path", metavar="PATH", help="where the copy goes (must not exist yet)")
    backup.add_argument("--db", metavar="PATH", help="ledger database (default: $COPYDESK_DB or ./copydesk.db)")
    verify = ledger_sub.add_parser(
        "verify",
        help="prove the event log was not changed (its hash chain) and that drafts, votes and publications agree with it",
    )
    verify.add_argument("--db", metavar="PATH", help="ledger database (default: $COPYDESK_DB or ./copydesk.db)")
    verify.add_argument(
        "--config",
        metavar="PATH",
        help="app.yaml whose ledger.hmac_key_env names the chain's secret "
        "(default: $COPYDESK_CONFIG or ./app.yaml, if it exists)",
    )
    key = ledger_sub.add_parser(
        "key", help="key a plain ledger's event chain with ledger.hmac_key_env's secret, once, after checking it"
    )
    key.add_argument("--db", metavar="PATH", help="ledger database (default: $COPYDESK_DB or ./copydesk.db)")
    key.add_argument(
        "--config",
        metavar="PATH",
        help="app.yaml whose ledger.hmac_key_env names the secret (default: $COPYDESK_CONFIG or ./app.yaml)",
    )
    history_ = ledger_sub.add_parser(
        "history", help="print a draft's whole story: its versions, votes, rules, cooling-off, publications and events"
    )
    history_.add_argument("id", metavar="ID", type=_draft_number, help="the draft's number: 12 or #12")
    history_.add_argument("--json", action="store_true", help="one JSON document for scripts (times in UTC)")
    history_.add_argument("--db", metavar="PATH", help="ledger database (default: $COPYDESK_DB or ./copydesk.db)")
    history_.add_argument(
        "--config",
        metavar="PATH",
        help="app.yaml whose timezone the times are shown in; only that key is read "
        "(default: $COPYDESK_CONFIG or ./app.yaml; UTC without one)",
    )
    browse = ledger_sub.add_parser(
        "browse", help="serve the ledger read-only in Datasette: its tables described, and canned queries (who approved what)"
    )
    browse.add_argument("--db", metavar="PATH", help="ledger database (default: $COPYDESK_DB or ./copydesk.db)")
    browse.add_argument(
        "--port", type=port_number, default=8001, metavar="N", help="HTTP port (default: 8001; 0 picks a free one)"
    )
    browse.add_argument("--host", default="127.0.0.1", help="HTTP address to listen on (default: 127.0.0.1, this machine only)")
    return top


def port_number(text: str) -> int:
    """A TCP port, 0 to 65535 (0 picks a free one): anything else is named before copydesk starts."""
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port: give 0 to 65535 (0 picks a free one)")
    return int(text)


def _draft_number(text: str) -> int:
    """A draft as people name it: 12 or #12."""
    found = re.fullmatch(r"#?([0-9]+)", text.strip())
    if not found:
        raise argparse.ArgumentTypeError(f"{text!r} is not a draft number; give it as 12 or #12")
    return int(found.group(1))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the copydesk console script."""
    args = parser().parse_args(argv)
    redactor = logs.configure(getattr(args, "log_format", logs.TEXT))
    try:
        if args.command == "ledger":
            return _ledger(args)
        if args.command == "manifest":
            sys.stdout.write(yaml.safe_dump(manifest(name=args.name, url=args.url), sort_keys=False, allow_unicode=True))
            return 0
        config = load_config(
            config_path(os.environ, args.config),
            os.environ,
            db=db_path(os.environ, getattr(args, "db", None)),
            dry_run=getattr(args, "dry_run", False),
        )
        redactor.hide(logs.secrets_in(config))
        if args.command == "check":
            print(_summary(config))
            return 0
        if args.command == "digest":
            if args.weekly:
                return _weekly(config, since=args.since, post=args.post)
            return _digest(config, since=args.since, post=args.post)
        metrics_at = (args.metrics_host, args.metrics_port) if args.metrics_port is not None else None
        return _run(
            config,
            socket=args.socket or config.slack_app_token is not None,
            host=args.host,
            port=args.port,
            metrics_at=metrics_at,
        )
    except LedgerInUse as e:
        _stopped_by(e, getattr(args, "log_format", logs.TEXT))
        return 1
    except CopydeskError as e:
        _stopped_by(e, getattr(args, "log_format", logs.TEXT))
        return 2


def _stopped_by(error: CopydeskError, log_format: str) -> None:
    """The one line that says why copydesk stopped: plain on stderr, or with --log-format json one more JSON object."""
    if log_format == logs.JSON:
        log.error("copydesk: %s", error)
    else:
        print(f"copydesk: {error}", file=sys.stderr)


def _run(config: Config, *, socket: bool, host: str, port: int, metrics_at: tuple[str, int] | None = None) -> int:
    if socket and config.slack_app_token is None:
        raise ConfigError("Socket Mode needs SLACK_APP_TOKEN (an xapp-… token with connections:write)")
    if not socket and config.slack_signing_secret is None:
        raise ConfigError("HTTP mode needs SLACK_SIGNING_SECRET (Basic Information → Signing Secret)")
    lock = LedgerLock.take(config.db_path)  # before anything is opened: a second copydesk stops here, the first goes on
    stop_on_signals()
    try:
        services = build_services(config)
    except BaseException:
        lock.release()
        raise
    try:
        app = create_app(services)
        health = lambda: {"mode": "socket" if socket else "http", **services.health()}  # noqa: E731
        with _operators(health, services, metrics_at):  # every port is checked before anything starts: a taken one stops it
            if socket:
                assert config.slack_app_token is not None  # checked above
                services.start(catch_up_aside=True)
                serve_socket_mode(app, config.slack_app_token.reveal(), services.listeners.answering, services.metrics)
            else:
                assert config.slack_signing_secret is not None  # HTTP mode requires it, checked above
                secret = config.slack_signing_secret.reveal()
                application = wsgi_app(app, health, services.listeners.answering, signing_secret=secret, metrics=services.metrics)
                check_free(host, port)
                services.start(catch_up_aside=True)
                serve_bound(bind(application, host=host, port=port), host=host)
    except KeyboardInterrupt:
        pass  # stopped before it was serving
    finally:
        services.stop()
        lock.release()
    log.info("copydesk stopped")
    return 0


def _operators(
    health: Callable[[], dict[str, Any]], services: Services, at: tuple[str, int] | None
) -> AbstractContextManager[None]:
    """/metrics and /healthz on --metrics-port while the bot runs, when it was given."""
    if at is None:
        return nullcontext()
    return serving_operators(operator_app(health, services.metrics), host=at[0], port=at[1])


def _digest(config: Config, *, since: str | None, post: bool) -> int:
    """Print (and with --post, send) the digest so far; the scheduled daily digests are not touched."""

    def start(desk: Desk) -> datetime | None:
        return parse_since(since, now=desk.core.clock(), zone=config.timezone) if since else None

    return _so_far(
        config,
        post=post,
        show=lambda desk: "\n\n".join(digest_render.plain(r) for r in desk.digests.digests_so_far(start(desk), read=post)),
        send=lambda desk: [(scope.channel, ts) for scope, ts in desk.digests.post_digests_now(start(desk))],
    )


def _weekly(config: Config, *, since: str | None, post: bool) -> int:
    """Print (and with --post, send) the weekly report so far; the scheduled weekly reports are not touched."""
    if since is not None:
        raise BadTime("--since does not go with --weekly: the weekly report always covers the last 7 days")
    return _so_far(
        config,
        post=post,
        show=lambda desk: "\n\n".join(weekly_render.plain(report) for report in desk.weekly.weekly_so_far()),
        send=lambda desk: [(scope.channel, ts) for scope, ts in desk.weekly.post_weekly_now()],
    )


def _so_far(config: Config, *, post: bool, show: Callable[[Desk], str], send: Callable[[Desk], list[tuple[str, str]]]) -> int:
    """A report so far in the terminal, and with --post in its channel(s) too, recorded as on demand."""
    if not config.db_path.exists():
        raise LedgerError(f"{config.db_path}: there is no ledger here (set --db or COPYDESK_DB)")
    lock = LedgerLock.take(config.db_path) if post else None  # posting writes the ledger; reading it goes beside a bot
    services = build_services(config)
    try:
        print(show(services.desk))
        if post:
            for channel, ts in send(services.desk):
                print(f"\nposted to {channel} (message {ts})")
        return 0
    finally:
        services.stop()
        if lock is not None:
            lock.release()


def _ledger(args: argparse.Namespace) -> int:
    """backup, verify, key, history and browse open the ledger themselves; none needs Slack, and of app.yaml only the chain's key
    (and for history, the timezone) is read."""
    source = db_path(os.environ, args.db)
    if not source.exists():
        raise LedgerError(f"{source}: there is no ledger here (set --db or COPYDESK_DB)")
    if args.ledger_command == "key":
        return _key(source, chain_key(config_path(os.environ, args.config), os.environ))
    if args.ledger_command == "browse":
        from bot.runtime import browse  # Datasette is imported only by the command that serves it

        return browse.serve(source, host=args.host, port=args.port)
    ledger = Ledger.open_readonly(source)
    try:
        if args.ledger_command == "history":
            return _history(ledger, source, args.id, as_json=args.json, config=config_path(os.environ, args.config))
        if args.ledger_command == "backup":
            target = Path(args.path)
            if target.exists():
                raise LedgerError(f"{target}: already exists; choose a new path for the backup")
            ledger.backup(target)
            print(f"{source} backed up to {target}")
            return 0
        return _verify(ledger, source, chain_key(config_path(os.environ, args.config), os.environ))
    finally:
        ledger.close()


def _history(ledger: Ledger, source: Path, draft_id: int, *, as_json: bool, config: Path) -> int:
    """A draft's whole story, read beside a running bot (no lock); exit 1 when the ledger has no such draft."""
    story = history.read(ledger, draft_id)
    if story is None:
        print(f"copydesk: {source}: there is no draft #{draft_id} in this ledger", file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps(story.record(), ensure_ascii=False, indent=2))
        return 0
    try:
        zone, why_utc = timezone_in(config), None
    except ConfigError as e:  # the story is in the ledger alone: told in UTC rather than not at all
        zone, why_utc = None, f"{e}"
    print(history_render.plain(story, zone, why_utc))
    return 0


def _key(source: Path, key: Secret | None) -> int:
    """Key a plain chain, once: the chain and the tables are checked first, and no bot may hold the ledger meanwhile."""
    if key is None:
        raise ConfigError("copydesk ledger key needs ledger.hmac_key_env in app.yaml, naming the variable that holds the secret")
    lock = LedgerLock.take(source)
    try:
        Ledger.open(source, key=key.reveal().encode(), rekey=True).close()
    finally:
        lock.release()
    print(
        f"{source}: the event chain is keyed (HMAC-SHA256 with the secret in {key.env_name}); keep the secret: "
        "copydesk cannot open or verify this ledger without it"
    )
    return 0


def _verify(ledger: Ledger, source: Path, key: Secret | None) -> int:
    """The chain (keyed when the ledger is), then the tables against the log; exit 1 naming what is wrong."""
    mode = ledger.chain_mode()
    if mode == KEYED and key is None:
        print(
            f"{source}: the event chain is keyed (HMAC-SHA256); set app.yaml's ledger.hmac_key_env and its variable to verify it",
            file=sys.stderr,
        )
        return 1
    if mode != KEYED and key is not None:
        print(
            f"{source}: the event chain is plain SHA-256 although ledger.hmac_key_env names {key.env_name}: it has not "
            "been keyed yet (copydesk ledger key does it, once), or someone rebuilt the chain without the key",
            file=sys.stderr,
        )
        return 1
    check = ledger.verify_chain(key.reveal().encode() if key else None)
    if check.first_broken is not None:
        print(
            f"{source}: the event log was changed after the fact: event {check.first_broken} does not match "
            f"the chain (checked {check.events - 1} event(s) before it; {_mode(mode, key)})",
            file=sys.stderr,
        )
        return 1
    problems = ledger.audit()
    for problem in problems:
        print(f"{source}: {problem}", file=sys.stderr)
    if problems:
        print(f"{source}: the tables disagree with the event log in {len(problems)} place(s)", file=sys.stderr)
        return 1
    print(f"{source}: {check.events} event(s), chain intact ({_mode(mode, key)}); head {check.head}")
    print(f"{source}: drafts, votes and publications agree with the event log")
    return 0


def _mode(mode: str, key: Secret | None) -> str:
    if mode == KEYED and key is not None:
        return f"keyed: HMAC-SHA256 with the secret in {key.env_name}; without it no one can rebuild the chain"
    return "plain SHA-256: it shows changes made without recomputing the chain; anyone who can write the file could"


def _chain_state(config: Config) -> str:
    """How the ledger's chain is hashed, read from the ledger itself, and what the configured key asks of it."""
    mode = None
    if config.db_path.exists():
        try:
            ledger = Ledger.open_readonly(config.db_path)
        except LedgerError:
            mode = None
        else:
            mode = ledger.chain_mode()
            ledger.close()
    if config.ledger_key is None:
        return (
            "keyed (HMAC-SHA256): set ledger.hmac_key_env, or copydesk cannot open it"
            if mode == KEYED
            else "plain SHA-256 (set ledger.hmac_key_env to key it)"
        )
    if mode == KEYED or mode is None:
        return f"keyed (HMAC-SHA256, the secret in {config.ledger_key.env_name})"
    return (
        f"plain SHA-256, although ledger.hmac_key_env names {config.ledger_key.env_name}: run copydesk ledger key "
        "once, or copydesk refuses to start"
    )


def _summary(config: Config) -> str:
    chain = _chain_state(config)
    lines = [f"{config.config_path}: OK", f"  timezone {config.timezone.key}; ledger {config.db_path}, its event chain {chain}"]
    for account in config.accounts.values():
        lines.append(
            f"  {account.name}: {_handles(account)}, cards in {account.review_channel}, "
            f"{account.approvals_required} of {len(account.editors)} editor(s) to approve"
        )
        policy = [f"owner {account.owner}"] if account.owner else []
        policy += [f"{account.cooling_off_minutes:g} min cooling-off"] if account.cooling_off_minutes else []
        policy += [f"expires after {account.expire_after_hours:g} h in review"] if account.expire_after_hours else []
        policy += ["expires at a missed time"] if account.on_missed_time == "expire" else []
        policy += [f"rules: {', '.join(r.name for r in account.rules)}"] if account.rules else []
        policy += [f"dry run: {not_sent(account.network_names)} (no network keys needed)"] if account.dry_run else []
        if policy:
            lines.append(f"    {'; '.join(policy)}")
        if account.digest is not None:
            lines.append(f"    its own digest: {_digest_summary(account.digest, [account])}")
    if config.digest is not None:
        rest = [account for account in config.accounts.values() if account.digest is None]
        lines.append(f"  digest: {_digest_summary(config.digest, rest)}")
    return "\n".join(lines)


def _digest_summary(digest: Digest, accounts: list[Account]) -> str:
    """Where and when the digest goes, whether it reads (and pays for) the posts' counts of its `accounts` (a dry run's
    never: nothing was sent), and the weekly report."""
    said = [f"{digest.channel} at {digest.at}"]
    dry = [f"@{account.handle}" for account in accounts if account.dry_run]
    if not digest.metrics:
        said.append("no engagement read")
    elif accounts and len(dry) == len(accounts):
        said.append("no engagement read (a dry run sends nothing, so there is nothing to read)")
    else:
        said.append("engagement read from the networks (X bills each read)")
        said += [f"not for {', '.join(dry)} (a dry run: nothing to read)"] if dry else []
    if digest.weekly is not None:
        said.append(f"weekly report {WEEKDAYS[digest.weekly.weekday]}s at {digest.weekly.at}")
    return ", ".join(said)


def _handles(account: Account) -> str:
    """@handle for an account on one network; each network with its handle for one on several."""
    if len(account.outlets) == 1:
        return f"@{account.handle}"
    return ", ".join(f"{label(network.name)} @{network.handle}" for network in account.outlets)


if __name__ == "__main__":
    sys.exit(main())
