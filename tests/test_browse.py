"""`copydesk ledger browse`: the ledger in Datasette, served by a real process beside a running bot, read-only.

The bot writes the ledger through Slack and X (the loopback fakes) while browse serves it; what browse answers over
HTTP is checked against the ledger's own rows.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import sqlite3
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from datasette import hookimpl
from datasette.plugins import pm

from bot.review import State
from bot.runtime import browse as serving
from bot.runtime.cli import main
from storage import Ledger, browse
from tests.support.harness import AUTHOR, EDITOR_1, EDITOR_2, EDITOR_3, Copydesk
from tests.support.ledger_file import peek, tamper
from tests.support.process import Running, start

BAD_REQUEST = {
    "title": "Invalid Request",
    "detail": "One or more parameters to your request was invalid.",
    "type": "about:blank",
    "status": 400,
}


@pytest.fixture
def browsing(bot: Copydesk, environ: dict[str, str]) -> Iterator[Running]:
    """`copydesk ledger browse` on the running bot's ledger, as a process of its own; stopped (cleanly) afterwards."""
    running = Running(start(["ledger", "browse", "--db", str(bot.config.db_path), "--port", "0", "--host", "127.0.0.1"], environ))
    yield running
    if running.process.poll() is None:
        assert running.stop() == 0


def fetch(running: Running, path: str, **params: str) -> tuple[int, Any]:
    """GET a page (or its JSON) from browse: the status and the decoded body."""
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    try:
        with urllib.request.urlopen(running.url + path + query, timeout=10) as response:
            status, body = response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read().decode()
    return status, json.loads(body) if path.endswith(".json") else body


def rows(running: Running, query: str, **params: str) -> list[dict[str, Any]]:
    status, found = fetch(running, f"/copydesk/{query}.json", _shape="array", **params)
    assert status == 200, found
    return found


def approve(bot: Copydesk, number: int) -> None:
    bot.react(EDITOR_1, "white_check_mark", number)
    bot.react(EDITOR_2, "white_check_mark", number)


def week_of(moment: str) -> str:
    """The Monday (UTC) that starts the week of a ledger time."""
    day = date.fromisoformat(moment[:10])
    return (day - timedelta(days=day.weekday())).isoformat()


def test_browse_serves_the_ledger_a_running_bot_writes_and_its_canned_queries_answer(bot: Copydesk, browsing: Running) -> None:
    assert rows(browsing, "drafts") == []  # browse is up before the bot wrote anything

    bot.command(AUTHOR, "Big news tomorrow")
    bot.react(EDITOR_3, "white_check_mark", 1)  # for version 1 only: the edit below clears it
    bot.submit_edit(AUTHOR, 1, "Big news tomorrow, at nine")
    approve(bot, 1)
    bot.wait_for_state(1, State.PUBLISHED)
    bot.x.answer_next(400, BAD_REQUEST)
    bot.command(AUTHOR, "Malformed")
    approve(bot, 2)
    bot.wait_for_state(2, State.FAILED)
    bot.command(AUTHOR, "Not this one")
    bot.react(EDITOR_1, "x", 3)
    bot.wait_for_state(3, State.REJECTED)
    db = bot.config.db_path

    assert [(d["id"], d["state"]) for d in rows(browsing, "drafts")] == [(1, "published"), (2, "failed"), (3, "rejected")]

    [post] = peek(db, "SELECT * FROM publications WHERE outcome = 'published'")
    assert rows(browsing, "who_approved_what") == [
        {
            "draft": 1,
            "account": "main",
            "network": "x",
            "part": 1,
            "published_at": post["finished_at"],
            "author": AUTHOR,
            "text": "Big news tomorrow, at nine",
            "approvers": f"{EDITOR_1} {EDITOR_2}",
            "approved_version": 2,
            "content_sha256": bot.draft(1).content_sha256,
            "url": post["url"],
            "outcome": "published",
            "retracted_at": None,
        }
    ]
    assert post["url"].endswith(f"/status/{bot.x.posts[0]['id']}")

    history = [(e["event"], e["actor"], e["action"]) for e in rows(browsing, "draft_history", draft_id="#1")]
    assert history == [(e.id, e.actor, e.action) for e in bot.ledger.events(1)]
    assert [json.loads(e["detail"]) for e in rows(browsing, "draft_history", draft_id="1")] == [
        e.detail for e in bot.ledger.events(1)
    ]
    assert rows(browsing, "draft_history", draft_id="99") == []

    [failed] = bot.ledger.publications(2)
    found = rows(browsing, "failures_and_holds")
    assert [r["at"] for r in found] == sorted((r["at"] for r in found), reverse=True)  # newest first
    assert sorted((r["what"], r["draft"], r["state"], r["network"], r["error"]) for r in found) == [
        ("draft failed", 2, "failed", None, bot.draft(2).notice),
        ("network failed", 2, "failed", "x", failed.error),
        ("publication failed", 2, "failed", "x", failed.error),
    ]

    week = week_of(post["finished_at"])
    assert week_of(peek(db, "SELECT MIN(created_at) AS at FROM drafts")[0]["at"]) == week  # all within one week
    assert rows(browsing, "per_person_per_week") == [
        {"week": week, "person": AUTHOR, "written": 3, "published": 1, "approved": 0},
        {"week": week, "person": EDITOR_1, "written": 0, "published": 0, "approved": 1},
        {"week": week, "person": EDITOR_2, "written": 0, "published": 0, "approved": 1},
    ]


def test_nothing_written_through_browse_reaches_the_ledger(bot: Copydesk, browsing: Running) -> None:
    bot.command(AUTHOR, "Keep me as I am")
    db = bot.config.db_path
    before = [dict(r) for r in peek(db, "SELECT * FROM drafts")] + [dict(r) for r in peek(db, "SELECT * FROM events")]

    status, refused = fetch(browsing, "/copydesk.json", sql="INSERT INTO meta (key, value) VALUES ('owned', 'yes')")
    assert status == 400 and refused["error"] == "Statement must be a SELECT"
    for sql in (  # Datasette lets WITH through: the read-only connection refuses the write itself
        "WITH t AS (SELECT 1) UPDATE drafts SET text = 'owned'",
        "WITH t AS (SELECT 1) DELETE FROM events",
        "WITH t AS (SELECT 1) INSERT INTO meta (key, value) VALUES ('owned', 'yes')",
    ):
        _, answer = fetch(browsing, "/copydesk.json", sql=sql)
        assert answer["ok"] is False and "readonly database" in answer["error"], (sql, answer)
    for method, path in [  # Datasette 1.0's write API, a form, a canned query: only GET and HEAD get through
        ("POST", "/copydesk/drafts/-/insert"),
        ("POST", "/copydesk/meta/chain/-/delete"),
        ("POST", "/copydesk"),
        ("POST", "/copydesk/who_approved_what"),
        ("PUT", "/copydesk/drafts"),
        ("DELETE", "/copydesk/drafts/1"),
    ]:
        request = urllib.request.Request(
            browsing.url + path,
            data=json.dumps({"row": {"key": "owned", "value": "yes"}, "sql": "DELETE FROM events"}).encode(),
            headers={"Content-Type": "application/json"},
            method=method,
        )
        with pytest.raises(urllib.error.HTTPError) as refused_write:
            urllib.request.urlopen(request, timeout=10)
        assert (refused_write.value.code, refused_write.value.headers["Allow"]) == (405, "GET, HEAD"), (method, path)
    status, _ = fetch(browsing, "/copydesk.db")  # no download of the whole file either
    assert status == 403

    after = [dict(r) for r in peek(db, "SELECT * FROM drafts")] + [dict(r) for r in peek(db, "SELECT * FROM events")]
    assert after == before
    assert [r["key"] for r in peek(db, "SELECT key FROM meta")] == ["chain"]
    assert bot.audited() == []


def test_browse_pages_describe_every_table_and_the_queries(bot: Copydesk, browsing: Running) -> None:
    status, index = fetch(browsing, "/")
    assert status == 200 and "copydesk ledger" in index
    status, database = fetch(browsing, "/copydesk")
    assert status == 200 and "Who approved what" in database and "Posts and approvals per person per week" in database
    status, table = fetch(browsing, "/copydesk/votes")
    assert status == 200 and "The version of the draft the card showed" in table  # a column's description on its page

    _, served = fetch(browsing, "/-/metadata.json")
    ledger = served["databases"]["copydesk"]
    assert (served["title"], served["description"]) == (browse.metadata()["title"], browse.metadata()["description"])
    assert {name: (t["description"], t["columns"]) for name, t in ledger["tables"].items()} == browse.TABLES
    assert {n: (q["title"], q["description"], q["sql"]) for n, q in ledger["queries"].items()} == {
        n: (q["title"], q["description"], q["sql"]) for n, q in browse.QUERIES.items()
    }
    assert not any(q.get("write") for q in ledger["queries"].values())
    _, query = fetch(browsing, "/copydesk/draft_history.json", draft_id="1")
    assert query["query"]["sql"] == browse.DRAFT_HISTORY


def columns_of(path: Path) -> dict[str, list[str]]:
    tables = [r["name"] for r in peek(path, "SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {t: [c["name"] for c in peek(path, "SELECT name FROM pragma_table_info(?)", [t])] for t in tables}


def test_every_table_and_column_of_a_freshly_migrated_ledger_is_described(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    Ledger.open(path).close()
    schema = columns_of(path)
    assert set(browse.TABLES) == set(schema), "describe each table in storage/browse.py (and only those there are)"
    for table, columns in schema.items():
        about, described = browse.TABLES[table]
        assert about.strip(), f"{table} has no description"
        assert set(described) == set(columns), f"describe each column of {table} in storage/browse.py"
        assert all(text.strip() for text in described.values()), f"a column of {table} has an empty description"
    served = browse.metadata()["databases"][browse.DATABASE]["tables"]
    assert {t: set(served[t]["columns"]) for t in served} == {t: set(c) for t, c in schema.items()}


def test_a_missing_ledger_is_named_and_nothing_is_created(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "nope.db"
    assert main(["ledger", "browse", "--db", str(missing), "--port", "0"]) == 2
    assert f"{missing}: there is no ledger here" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def not_a_ledger(path: Path) -> None:
    path.write_text("just some notes\n")


def someone_elses_database(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE things (id INTEGER PRIMARY KEY)")


def an_older_ledger(path: Path) -> None:
    Ledger.open(path).close()
    tamper(path, "DELETE FROM _sqlite_migrations WHERE name = 'm009_insights'")


@pytest.mark.parametrize(
    ("make", "said"),
    [
        (not_a_ledger, "cannot be opened as a copydesk ledger (file is not a database)"),
        (someone_elses_database, "is not a copydesk ledger"),
        (an_older_ledger, "was written by an older copydesk; start copydesk once to bring it up to date"),
    ],
)
def test_what_is_not_a_ledger_of_this_copydesk_is_refused_unchanged(tmp_path: Path, capsys, make, said: str) -> None:
    path = tmp_path / "other.db"
    make(path)
    before = path.read_bytes()

    assert main(["ledger", "browse", "--db", str(path), "--port", "0"]) == 2

    assert f"{path}: {said}" in capsys.readouterr().err
    assert path.read_bytes() == before


def test_a_path_datasette_cannot_put_in_a_uri_is_refused(tmp_path: Path, capsys) -> None:
    path = tmp_path / "100%.db"
    Ledger.open(path).close()
    assert main(["ledger", "browse", "--db", str(path), "--port", "0"]) == 2
    assert "a path with ?, # or % cannot be served" in capsys.readouterr().err


def test_a_port_in_use_is_named(tmp_path: Path, capsys) -> None:
    path = tmp_path / "ledger.db"
    Ledger.open(path).close()
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        assert main(["ledger", "browse", "--db", str(path), "--port", str(port)]) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_ctrl_c_stops_browse_cleanly_on_a_ledger_no_bot_holds(tmp_path: Path) -> None:
    import signal

    path = tmp_path / "ledger.db"
    Ledger.open(path).close()
    running = Running(start(["ledger", "browse", "--port", "0"], {"COPYDESK_DB": str(path)}))
    try:
        assert running.url.startswith("http://127.0.0.1:")  # the defaults: this machine only
        assert rows(running, "meta") == [{"key": "chain", "value": "sha256"}]
    finally:
        running.process.send_signal(signal.SIGINT)
        assert running.process.wait(timeout=30) == 0  # a deadline, as Running.stop's
    running.wait_for_log(r"copydesk stopped")


def test_who_approved_what_has_each_part_of_a_thread_on_each_network(make_everywhere, environ: dict[str, str]) -> None:
    bot = make_everywhere(only=("x", "bluesky"))
    running = Running(start(["ledger", "browse", "--db", str(bot.config.db_path), "--port", "0"], environ))
    try:
        bot.command(AUTHOR, "One: the news\n---\nTwo: the details")
        approve(bot, 1)
        bot.wait_for_state(1, State.PUBLISHED)

        found = rows(running, "who_approved_what")
    finally:
        assert running.stop() == 0
    posts = peek(bot.config.db_path, "SELECT id, network, part, url FROM publications ORDER BY finished_at DESC, id DESC")
    assert [(r["network"], r["part"], r["url"]) for r in found] == [(p["network"], p["part"], p["url"]) for p in posts]
    assert sorted((r["network"], r["part"]) for r in found) == [("bluesky", 1), ("bluesky", 2), ("x", 1), ("x", 2)]
    assert {(r["approvers"], r["approved_version"], r["author"]) for r in found} == {(f"{EDITOR_1} {EDITOR_2}", 1, AUTHOR)}
    assert all(r["url"] for r in found)


FORBIDDEN = {
    "title": "Forbidden",
    "detail": "You are not permitted to perform this action.",
    "type": "about:blank",
    "status": 403,
}


def test_who_approved_what_names_the_approvals_a_post_went_out_with_not_todays_votes(bot: Copydesk, browsing: Running) -> None:
    bot.x.answer_for("Two: the details", 403, FORBIDDEN)  # part 2 is refused: the thread stops with part 1 live
    bot.command(AUTHOR, "One: the news\n---\nTwo: the details\n---\nThree: the end")
    approve(bot, 1)
    bot.wait_for_state(1, State.FAILED)
    assert bot.x.texts() == ["One: the news"]

    bot.react(EDITOR_1, "white_check_mark", 1, removed=True)  # taken back after part 1 went out

    assert [v.user_id for v in bot.ledger.votes(1)] == [EDITOR_2]  # the live votes no longer name EDITOR_1…
    [claim] = [e for e in bot.ledger.events(1) if e.action == "publishing" and "approvers" in e.detail]
    assert claim.detail["approvers"] == [EDITOR_1, EDITOR_2]
    [part_1] = rows(browsing, "who_approved_what")
    assert (part_1["part"], part_1["approvers"]) == (1, f"{EDITOR_1} {EDITOR_2}")  # …the event part 1 went out with does
    [post] = peek(bot.config.db_path, "SELECT finished_at FROM publications WHERE outcome = 'published'")
    week = week_of(post["finished_at"])
    assert rows(browsing, "per_person_per_week") == [
        {"week": week, "person": AUTHOR, "written": 1, "published": 1, "approved": 0},
        {"week": week, "person": EDITOR_1, "written": 0, "published": 0, "approved": 1},
        {"week": week, "person": EDITOR_2, "written": 0, "published": 0, "approved": 1},
    ]


def schema_and_meta(path: Path) -> list[dict[str, Any]]:
    return [dict(r) for r in peek(path, "SELECT type, name, sql FROM sqlite_master ORDER BY name")] + [
        dict(r) for r in peek(path, "SELECT * FROM meta")
    ]


def test_datasettes_every_connection_to_the_ledger_refuses_to_write_even_the_one_it_writes_through(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    Ledger.open(path).close()
    before = schema_and_meta(path)
    database = serving.datasette(path).get_database(browse.DATABASE)
    try:
        writer = database.connect(write=True)
        with pytest.raises(sqlite3.OperationalError, match="readonly database"):
            writer.execute("INSERT INTO meta (key, value) VALUES ('owned', 'yes')")
        with pytest.raises(sqlite3.OperationalError, match="readonly database"):
            asyncio.run(database.execute_write("CREATE TABLE owned (x)"))  # through Datasette's own write thread
        assert database.connect().execute("PRAGMA query_only").fetchone() == (1,)
    finally:
        database.close()
    assert schema_and_meta(path) == before


def writer() -> ModuleType:
    """A Datasette plugin as one installed beside it would be (a module): its start-up hook writes to the ledger."""
    plugin = ModuleType("copydesk_test_writer")

    @hookimpl
    def startup(datasette):
        async def write() -> None:
            await datasette.get_database(browse.DATABASE).execute_write("CREATE TABLE owned (x)")

        return write

    plugin.startup = startup
    return plugin


def test_browse_runs_datasettes_own_plugins_only_and_says_which_it_left_out(tmp_path: Path, caplog) -> None:
    path = tmp_path / "ledger.db"
    Ledger.open(path).close()
    before = schema_and_meta(path)
    pm.register(writer(), name="copydesk-test-writer")
    try:
        with caplog.at_level(logging.WARNING, logger="copydesk"):
            app = serving.datasette(path)
        assert not pm.has_plugin("copydesk-test-writer")
        assert "leaves out the Datasette plugins installed beside it: copydesk-test-writer" in caplog.text
        asyncio.run(app.invoke_startup())  # what the first request runs: no hook of the plugin's is called
        app.get_database(browse.DATABASE).close()
    finally:
        if pm.has_plugin("copydesk-test-writer"):
            pm.unregister(name="copydesk-test-writer")
    assert schema_and_meta(path) == before


PLUGIN = """
from datasette import hookimpl


@hookimpl
def startup(datasette):
    async def write():
        await datasette.get_database("copydesk").execute_write("CREATE TABLE owned (x)")

    return write
"""


def test_a_datasette_plugin_installed_beside_browse_cannot_write_to_the_ledger(tmp_path: Path) -> None:
    site = tmp_path / "site"  # a plugin installed as pip would: its module and a dist-info naming its entry point
    (info := site / "copydesk_writer-1.0.dist-info").mkdir(parents=True)
    (site / "copydesk_writer.py").write_text(PLUGIN)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: copydesk-writer\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[datasette]\ncopydesk_writer = copydesk_writer\n")
    path = tmp_path / "ledger.db"
    Ledger.open(path).close()
    before = schema_and_meta(path)
    search = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH")) if p)
    running = Running(start(["ledger", "browse", "--port", "0"], {"COPYDESK_DB": str(path), "PYTHONPATH": search}))
    try:
        assert rows(running, "meta") == [{"key": "chain", "value": "sha256"}]  # the first request runs Datasette's start-up
        _, plugins = fetch(running, "/-/plugins.json")
    finally:
        assert running.stop() == 0
    assert schema_and_meta(path) == before
    assert plugins == []
    running.wait_for_log(r"leaves out the Datasette plugins installed beside it: copydesk_writer")
