"""The README is checked against the code: every setting, variable, command and flag, and the manifest."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bot.config import ENV_VARS, SETTINGS
from bot.runtime.cli import parser
from bot.runtime.manifest import manifest
from bot.syntax import SUBCOMMANDS
from handlers import commands, events, files, home
from tests.examples import EXAMPLES, block

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.path)
def test_every_app_yaml_setting_is_in_the_reference(setting) -> None:
    assert f"| `{setting.path}` |" in README


@pytest.mark.parametrize("variable", ENV_VARS, ids=lambda v: v.name)
def test_every_environment_variable_is_documented(variable) -> None:
    assert f"| `{variable.name}` |" in README


def cli_commands():
    subparsers = next(a for a in parser()._actions if a.dest == "command")
    return list(subparsers.choices.items())


@pytest.mark.parametrize(("name", "sub"), cli_commands(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_cli_command_and_flag_is_documented(name, sub) -> None:
    [row] = [line for line in README.splitlines() if line.startswith(f"| `copydesk {name}")]
    for action in sub._actions:
        for flag in action.option_strings:
            if flag.startswith("--") and flag != "--help":
                assert flag in row, f"copydesk {name} {flag} is missing from the README"


def cli_actions():
    """The actions of commands that have their own (copydesk ledger backup, verify, key, history)."""
    return [
        (name, action, parser)
        for name, sub in cli_commands()
        for group in sub._actions
        if group.dest.endswith("_command")
        for action, parser in group.choices.items()
    ]


@pytest.mark.parametrize(("name", "action", "sub"), cli_actions(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_cli_action_and_its_flags_are_documented(name, action, sub) -> None:
    [row] = [line for line in README.splitlines() if line.startswith(f"| `copydesk {name}")]
    usage = next((cell for cell in row.split("`") if cell.startswith(f"copydesk {name} {action}")), None)
    assert usage, f"copydesk {name} {action} is missing from the README"
    for flag in (f for a in sub._actions for f in a.option_strings if f.startswith("--") and f != "--help"):
        assert flag in usage, f"copydesk {name} {action} {flag} is missing from the README"


@pytest.mark.parametrize("sub", SUBCOMMANDS, ids=lambda s: s.name)
def test_every_draft_subcommand_is_documented(sub) -> None:
    assert f"`{sub.usage}`" in README


def test_the_readme_manifest_is_what_copydesk_prints() -> None:
    block = re.search(r"<!-- manifest:start -->\n```yaml\n(.*?)```\n<!-- manifest:end -->", README, re.S)
    assert block, "the README has no manifest block"
    assert yaml.safe_load(block.group(1)) == manifest()


def test_the_manifest_subscribes_to_what_the_app_listens_for() -> None:
    http = manifest(url="https://copydesk.example.com/")
    assert http["settings"]["event_subscriptions"]["bot_events"] == [*events.EVENTS, *home.EVENTS, *files.SUBSCRIPTIONS]
    assert http["features"]["app_home"]["home_tab_enabled"] is True
    assert http["settings"]["event_subscriptions"]["request_url"] == "https://copydesk.example.com/slack/events"
    [command] = http["features"]["slash_commands"]
    assert (command["command"], command["url"], command["should_escape"]) == (
        commands.COMMAND,
        "https://copydesk.example.com/slack/events",
        False,
    )
    assert manifest()["settings"]["socket_mode_enabled"] is True


def test_ci_runs_exactly_the_readmes_test_command() -> None:
    lines = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines()]
    last = [ln for ln in lines if ln and not ln.startswith(("#", "set ", "cd ", "export "))][-1]
    assert last == "make test"
    assert "make test " in README.split("\n## ")[0]  # on the first screen
    assert "make run " in README.split("\n## ")[0]


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_the_readme_pictures_are_what_copydesk_renders(name: str) -> None:
    found = block(name).search(README)
    assert found, f"the README has no {name} example"
    assert found.group(2) == EXAMPLES[name]() + "\n", "run `python -m tests.examples` to redraw it"


def test_the_readme_says_how_many_drafts_the_app_home_offers_to_vote_on() -> None:
    from handlers import render

    assert f"The first {render.HOME_VOTE_LIMIT} are shown whole" in " ".join(README.split())


def _tree() -> str:
    section = README[README.index("## Development") :]
    return section[section.index("```\n") + 4 : section.index("```\n", section.index("```\n") + 4)]


@pytest.mark.parametrize(
    "module",
    sorted(str(p.relative_to(ROOT)) for layer in ("bot", "handlers", "storage") for p in (ROOT / layer).rglob("*.py")),
)
def test_every_module_is_in_the_readmes_tree(module: str) -> None:
    tree = _tree()
    path = Path(module)
    named = path.name == "__init__.py" or re.search(rf"(?<![\w/]){re.escape(path.name)}\b", tree)
    folder = f"{path.parent.name}/" if len(path.parts) > 2 else f"{path.parts[0]}/"
    assert named and folder in tree, f"README's Development tree does not say what {module} owns"
