"""app.yaml + environment → a frozen Config, or one clear message naming the bad key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.config import ENV_VARS, load_config
from bot.errors import ConfigError
from bot.review import Kind, reaction_kind
from tests.fakes.x_api import X_ENV
from tests.support.harness import BASE_CONFIG

ROOT = Path(__file__).parent.parent
ENV = {"SLACK_BOT_TOKEN": "xoxb-secret-value", **X_ENV}


def load(tmp_path: Path, data: dict, env: dict | None = None):
    path = tmp_path / "app.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_config(path, ENV if env is None else env)


def test_the_committed_example_app_yaml_is_valid() -> None:
    config = load_config(ROOT / "app.yaml", ENV)
    main = config.accounts["main"]
    assert (main.handle, main.review_channel, main.editors, main.approvals_required) == (
        "aplusk",
        "C0REVIEW01",
        ("U0EDITOR1", "U0EDITOR2"),
        2,
    )
    assert config.timezone.key == "America/Los_Angeles" and config.default_account == "main"


def test_defaults_fill_what_is_left_out(tmp_path: Path) -> None:
    config = load(tmp_path, {"accounts": {"solo": {"handle": "me", "review_channel": "C0R", "editors": ["U0E"]}}})
    solo = config.accounts["solo"]
    assert config.default_account == "solo"
    assert config.timezone.key == "UTC"
    assert config.approve_reactions == ("white_check_mark", "heavy_check_mark")
    assert config.reject_reactions == ("x", "no_entry_sign")
    assert (solo.network, solo.approvals_required, solo.allow_self_approval) == ("x", 1, False)
    assert solo.credentials.consumer_key.env_name == "X_CONSUMER_KEY"
    assert config.slack_api_url == "https://slack.com/api/" and config.x_api_url == "https://api.x.com"
    assert str(config.db_path) == "copydesk.db" and config.digest is None


def with_account(**changes):
    data = yaml.safe_load(yaml.safe_dump(BASE_CONFIG))
    data["accounts"]["main"].update(changes)
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({**BASE_CONFIG, "timezone": "Mars/Olympus"}, "timezone 'Mars/Olympus' is not an IANA time zone"),
        (with_account(editors=[]), "accounts.main.editors is empty"),
        (with_account(approvals_required=4), "approvals_required is 4 but only 3 editor(s) are listed"),
        (with_account(approval_required=1), "unknown key 'accounts.main.approval_required'"),
        (with_account(review_channel="#general"), "review_channel '#general' is not a Slack channel ID"),
        (with_account(editors=["dana"]), "editors has 'dana', which is not a Slack user or user group ID"),
        (with_account(network="myspace"), "'myspace' is not a network copydesk posts to (x, bluesky, mastodon)"),
        (with_account(credentials={"consumer_key": "NOT_SET_ANYWHERE"}), "NOT_SET_ANYWHERE, which is not set"),
        ({**BASE_CONFIG, "accounts": {}}, "accounts must define at least one account"),
        ({**BASE_CONFIG, "digest": {"channel": "C0D", "at": "6pm"}}, "digest.at '6pm' is not a time of day"),
        ({**BASE_CONFIG, "reactions": {"approve": ["x"]}}, "reactions.approve and reactions.reject share ['x']"),
        ({**BASE_CONFIG, "default_account": "brand"}, "default_account 'brand' is not one of the accounts"),
    ],
)
def test_a_bad_file_fails_with_one_message_naming_the_key(tmp_path: Path, data: dict, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, data)
    assert message in str(raised.value)


def test_a_missing_bot_token_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN is not set"):
        load(tmp_path, BASE_CONFIG, env=X_ENV)


def test_a_missing_or_broken_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "nope.yaml", ENV)
    (tmp_path / "broken.yaml").write_text("accounts: [\n")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_config(tmp_path / "broken.yaml", ENV)


def test_secrets_never_show_in_reprs_or_messages(tmp_path: Path) -> None:
    config = load(tmp_path, BASE_CONFIG)
    shown = repr(config) + str(config)
    for value in ENV.values():
        assert value not in shown
    assert config.slack_bot_token.reveal() == "xoxb-secret-value"


def test_environment_overrides_urls_and_paths(tmp_path: Path) -> None:
    env = {**ENV, "SLACK_API_URL": "http://127.0.0.1:9/api", "X_API_URL": "http://127.0.0.1:8/", "COPYDESK_DB": "/tmp/x.db"}
    config = load(tmp_path, BASE_CONFIG, env)
    assert (config.slack_api_url, config.x_api_url, str(config.db_path)) == (
        "http://127.0.0.1:9/api/",
        "http://127.0.0.1:8",
        "/tmp/x.db",
    )
    assert {v.name for v in ENV_VARS} >= {
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_APP_TOKEN",
        "COPYDESK_CONFIG",
        "COPYDESK_DB",
        "SLACK_API_URL",
        "X_API_URL",
    }


def with_digest(**changes):
    return {**BASE_CONFIG, "digest": {**BASE_CONFIG["digest"], **changes}}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({**BASE_CONFIG, "x_timeout_seconds": float("inf")}, "x_timeout_seconds is inf, which is not a finite number"),
        (
            {**BASE_CONFIG, "x_retry": {"first_delay_seconds": float("inf")}},
            "x_retry.first_delay_seconds is inf, which is not a finite",
        ),
        (
            {**BASE_CONFIG, "x_retry": {"give_up_after_minutes": float("nan")}},
            "x_retry.give_up_after_minutes is nan, which is not a finite",
        ),
        (
            {**BASE_CONFIG, "reminders": {"after_minutes": float("nan")}},
            "reminders.after_minutes is nan, which is not a finite number",
        ),
        (with_account(approvals_required=float("inf")), "accounts.main.approvals_required is inf, which is not a finite number"),
        (with_account(editors=["U0EDITOR1", float("nan")]), "accounts.main.editors[1] is nan, which is not a finite number"),
        ({**BASE_CONFIG, "admins": ["U0ADMIN01 "]}, "admins has 'U0ADMIN01 ', with whitespace in it; a Slack ID has none"),
        ({**BASE_CONFIG, "admins": ["U0ADMIN01\n"]}, "admins has 'U0ADMIN01\\n', with whitespace in it"),
        (with_account(editors=["U0EDITOR1", "U0 EDITOR2"]), "accounts.main.editors has 'U0 EDITOR2', with whitespace in it"),
        (with_account(editors=["S0GROUP01\t"]), "accounts.main.editors has 'S0GROUP01\\t', with whitespace in it"),
        (with_account(review_channel="C0REVIEW01\n"), "accounts.main.review_channel has 'C0REVIEW01\\n', with whitespace in it"),
        (with_digest(channel=" C0DIGEST01"), "digest.channel has ' C0DIGEST01', with whitespace in it"),
        (with_account(digest={"channel": "C0 OWN"}), "accounts.main.digest.channel has 'C0 OWN', with whitespace in it"),
        (
            {**BASE_CONFIG, "reactions": {"approve": ["+1"], "reject": ["+1::skin-tone-2"]}},
            "reactions.approve and reactions.reject share ['+1'] (a skin tone is the same reaction)",
        ),
        (
            {**BASE_CONFIG, "reactions": {"approve": [":thumbsup::skin-tone-5:"], "reject": ["thumbsup::skin-tone-3"]}},
            "reactions.approve and reactions.reject share ['thumbsup']",
        ),
        (
            {**BASE_CONFIG, "reactions": {"approve": ["white check mark"]}},
            "reactions.approve has 'white check mark', with whitespace",
        ),
    ],
)
def test_values_that_would_never_work_are_refused_naming_the_key(tmp_path: Path, data: dict, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, data)
    assert message in str(raised.value)


def test_inf_and_nan_as_written_in_yaml_are_refused(tmp_path: Path) -> None:
    base = yaml.safe_dump(BASE_CONFIG)
    for written, shown in ((".inf", "inf"), (".nan", "nan"), ("-.Inf", "-inf")):
        path = tmp_path / "app.yaml"
        path.write_text(f"{base}x_retry:\n  first_delay_seconds: {written}\n")
        with pytest.raises(ConfigError, match=f"x_retry.first_delay_seconds is {shown}, which is not a finite number"):
            load_config(path, ENV)


def test_a_reaction_named_with_a_skin_tone_counts_in_every_tone(tmp_path: Path) -> None:
    config = load(tmp_path, {**BASE_CONFIG, "reactions": {"approve": ["+1::skin-tone-2", "+1"], "reject": ["-1"]}})
    assert config.approve_reactions == ("+1",)
    assert reaction_kind("+1::skin-tone-4", config.approve_reactions, config.reject_reactions) is Kind.APPROVE
