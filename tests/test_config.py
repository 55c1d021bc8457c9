"""app.yaml + environment → a frozen Config, or one clear message naming the bad key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import ENV_VARS, BlueskyCredentials, MastodonCredentials, Secret, load_config
from bot.errors import ConfigError
from bot.review import Kind, reaction_kind
from bot.runtime.cli import main
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


# the networks block: one account on X, Bluesky and Mastodon

EVERYWHERE = """\
accounts:
  everywhere:
    review_channel: C0REVIEW01
    editors: [U0EDITOR1, U0EDITOR2]
    approvals_required: 2
    networks:
      x:
        handle: aplusk
        credentials: {consumer_key: X_CONSUMER_KEY, consumer_secret: X_CONSUMER_SECRET,
                      access_token: X_ACCESS_TOKEN, access_token_secret: X_ACCESS_TOKEN_SECRET}
      bluesky:
        handle: aplusk.bsky.social
        service: https://bsky.social                         # the PDS base URL (default)
        credentials: {app_password: BLUESKY_APP_PASSWORD}
      mastodon:
        handle: aplusk@mastodon.social
        instance: https://mastodon.social                    # the instance base URL (required)
        credentials: {access_token: MASTODON_ACCESS_TOKEN}
"""
NETWORKS_ENV = {**ENV, "BLUESKY_APP_PASSWORD": "abcd-efgh-ijkl-mnop", "MASTODON_ACCESS_TOKEN": "mastodon-token-value"}


def everywhere(**changes: Any) -> dict:
    """The issue's example account, with its networks block changed for one case (None removes a key)."""
    data = yaml.safe_load(EVERYWHERE)
    networks = data["accounts"]["everywhere"]["networks"]
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = networks
        for key in parents:
            node = node.setdefault(key, {})
        if value is None:
            node.pop(last)
        else:
            node[last] = value
    return data


def test_the_issues_example_of_an_account_on_three_networks_loads(tmp_path: Path) -> None:
    path = tmp_path / "app.yaml"
    path.write_text(EVERYWHERE)
    account = load_config(path, NETWORKS_ENV).accounts["everywhere"]

    assert account.network_names == ("x", "bluesky", "mastodon")
    x, bluesky, mastodon = account.outlets
    assert (x.handle, x.base_url, x.credentials) == ("aplusk", None, account.credentials)
    assert x.credentials.consumer_key.reveal() == X_ENV["X_CONSUMER_KEY"]  # type: ignore[union-attr]
    assert (bluesky.handle, bluesky.base_url) == ("aplusk.bsky.social", "https://bsky.social")
    assert bluesky.credentials == BlueskyCredentials(Secret("BLUESKY_APP_PASSWORD", "abcd-efgh-ijkl-mnop"))
    assert bluesky.credentials.app_password.reveal() == "abcd-efgh-ijkl-mnop"  # type: ignore[union-attr]
    assert (mastodon.handle, mastodon.base_url) == ("aplusk@mastodon.social", "https://mastodon.social")
    assert mastodon.credentials == MastodonCredentials(Secret("MASTODON_ACCESS_TOKEN", "mastodon-token-value"))
    assert mastodon.credentials.access_token.reveal() == "mastodon-token-value"  # type: ignore[union-attr]
    assert account.handle == "aplusk" and account.on("bluesky") == bluesky and account.on("threads") is None
    assert "abcd-efgh-ijkl-mnop" not in repr(account) and "mastodon-token-value" not in repr(account)


def test_a_networks_block_may_leave_out_the_defaults_and_list_networks_in_any_order(tmp_path: Path) -> None:
    data = everywhere(bluesky__service=None, bluesky__credentials=None, mastodon__credentials=None)
    block = data["accounts"]["everywhere"]["networks"]
    data["accounts"]["everywhere"]["networks"] = {name: block[name] for name in ("mastodon", "bluesky")}
    account = load(tmp_path, data, NETWORKS_ENV).accounts["everywhere"]
    assert account.network_names == ("bluesky", "mastodon")  # the order a draft goes out, not the file's
    assert account.on("bluesky").base_url == "https://bsky.social"  # type: ignore[union-attr]
    assert (account.handle, account.on("x")) == ("aplusk.bsky.social", None)
    assert [n.credentials for n in account.outlets] == [  # the variables' default names
        BlueskyCredentials(Secret("BLUESKY_APP_PASSWORD", "")),
        MastodonCredentials(Secret("MASTODON_ACCESS_TOKEN", "")),
    ]


@pytest.mark.parametrize(
    ("data", "env", "message"),
    [
        (
            everywhere(),
            {k: v for k, v in NETWORKS_ENV.items() if k != "BLUESKY_APP_PASSWORD"},
            "accounts.everywhere.networks.bluesky.credentials.app_password names the environment variable "
            "BLUESKY_APP_PASSWORD, which is not set",
        ),
        (
            everywhere(),
            {k: v for k, v in NETWORKS_ENV.items() if k != "MASTODON_ACCESS_TOKEN"},
            "accounts.everywhere.networks.mastodon.credentials.access_token names the environment variable "
            "MASTODON_ACCESS_TOKEN, which is not set",
        ),
        (
            everywhere(myspace={"handle": "aplusk"}),
            NETWORKS_ENV,
            "accounts.everywhere.networks.myspace: 'myspace' is not a network copydesk posts to (x, bluesky, mastodon)",
        ),
        (
            everywhere(x__instance="https://mastodon.social"),
            NETWORKS_ENV,
            "accounts.everywhere.networks.x.instance belongs to mastodon, not x",
        ),
        (
            everywhere(bluesky__instance="https://mastodon.social"),
            NETWORKS_ENV,
            "accounts.everywhere.networks.bluesky.instance belongs to mastodon, not bluesky",
        ),
        (
            everywhere(mastodon__service="https://bsky.social"),
            NETWORKS_ENV,
            "accounts.everywhere.networks.mastodon.service belongs to bluesky, not mastodon",
        ),
        (
            everywhere(bluesky__credentials={"access_token": "MASTODON_ACCESS_TOKEN"}),
            NETWORKS_ENV,
            "accounts.everywhere.networks.bluesky.credentials.access_token belongs to x or mastodon, not bluesky",
        ),
        (
            everywhere(mastodon__credentials={"consumer_key": "X_CONSUMER_KEY"}),
            NETWORKS_ENV,
            "accounts.everywhere.networks.mastodon.credentials.consumer_key belongs to x, not mastodon",
        ),
        (
            everywhere(mastodon__credentials={"app_password": "BLUESKY_APP_PASSWORD"}),
            NETWORKS_ENV,
            "accounts.everywhere.networks.mastodon.credentials.app_password belongs to bluesky, not mastodon",
        ),
        (
            everywhere(mastodon__instance=None),
            NETWORKS_ENV,
            "accounts.everywhere.networks.mastodon.instance is missing: the Mastodon instance's base URL",
        ),
        (
            everywhere(mastodon__instance="mastodon.social"),
            NETWORKS_ENV,
            "accounts.everywhere.networks.mastodon.instance 'mastodon.social' is not a base URL",
        ),
        (
            everywhere(x__handle="not a handle"),
            NETWORKS_ENV,
            "accounts.everywhere.networks.x.handle 'not a handle' is not an X handle",
        ),
        (
            everywhere(bluesky__handle="aplusk"),
            NETWORKS_ENV,
            "accounts.everywhere.networks.bluesky.handle 'aplusk' is not a Bluesky handle such as aplusk.bsky.social",
        ),
        (
            everywhere(mastodon__handle="aplusk@mastodon"),
            NETWORKS_ENV,
            "accounts.everywhere.networks.mastodon.handle 'aplusk@mastodon' is not a Mastodon handle such as "
            "aplusk@mastodon.social",
        ),
        (
            everywhere(bluesky__handle=None),
            NETWORKS_ENV,
            "accounts.everywhere.networks.bluesky.handle is missing",
        ),
        (
            {"accounts": {"everywhere": {**yaml.safe_load(EVERYWHERE)["accounts"]["everywhere"], "handle": "aplusk"}}},
            NETWORKS_ENV,
            "accounts.everywhere lists networks, so accounts.everywhere.handle belongs inside one of them",
        ),
        (
            {"accounts": {"everywhere": {**yaml.safe_load(EVERYWHERE)["accounts"]["everywhere"], "networks": {}}}},
            NETWORKS_ENV,
            "accounts.everywhere.networks is empty: name at least one of x, bluesky, mastodon",
        ),
    ],
    ids=[
        "bluesky-variable-unset",
        "mastodon-variable-unset",
        "unknown-network",
        "instance-under-x",
        "instance-under-bluesky",
        "service-under-mastodon",
        "mastodon-credential-under-bluesky",
        "x-credential-under-mastodon",
        "bluesky-credential-under-mastodon",
        "mastodon-without-instance",
        "instance-not-a-url",
        "bad-x-handle",
        "bad-bluesky-handle",
        "bad-mastodon-handle",
        "bluesky-without-handle",
        "handle-beside-networks",
        "no-networks",
    ],
)
def test_a_bad_networks_block_is_named(tmp_path: Path, data: dict, env: dict, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, data, env)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"network": "myspace"}, "accounts.main.network: 'myspace' is not a network copydesk posts to (x, bluesky, mastodon)"),
        ({"network": "bluesky", "handle": "aplusk"}, "accounts.main.handle 'aplusk' is not a Bluesky handle"),
        ({"network": "mastodon", "handle": "aplusk@mastodon.social"}, "accounts.main.instance is missing"),
        ({"instance": "https://mastodon.social"}, "accounts.main.instance belongs to mastodon, not x"),
        (
            {"network": "bluesky", "handle": "aplusk.bsky.social", "credentials": {"app_password": "BLUESKY_APP_PASSWORD"}},
            "accounts.main.credentials.app_password names the environment variable BLUESKY_APP_PASSWORD, which is not set",
        ),
        (
            {"network": "bluesky", "handle": "aplusk.bsky.social", "credentials": {"access_token": "MASTODON_ACCESS_TOKEN"}},
            "accounts.main.credentials.access_token belongs to x or mastodon, not bluesky",
        ),
    ],
    ids=[
        "unknown-network",
        "bad-bluesky-handle",
        "mastodon-without-instance",
        "instance-on-x",
        "variable-unset",
        "mastodon-credential-on-bluesky",
    ],
)
def test_a_bad_single_network_account_is_named(tmp_path: Path, changes: dict, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, with_account(**changes))
    assert message in str(raised.value)


def test_copydesk_check_lists_each_network_with_its_handle_and_names_a_missing_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in {**NETWORKS_ENV, "COPYDESK_DB": str(tmp_path / "ledger.db")}.items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "app.yaml"
    path.write_text(EVERYWHERE)
    assert main(["check", "--config", str(path)]) == 0
    assert (
        "  everywhere: X @aplusk, Bluesky @aplusk.bsky.social, Mastodon @aplusk@mastodon.social, cards in C0REVIEW01, "
        "2 of 2 editor(s) to approve\n"
    ) in capsys.readouterr().out

    monkeypatch.delenv("BLUESKY_APP_PASSWORD")
    assert main(["check", "--config", str(path)]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line == (
        "copydesk: app.yaml: accounts.everywhere.networks.bluesky.credentials.app_password names the environment "
        "variable BLUESKY_APP_PASSWORD, which is not set"
    )
    assert not (tmp_path / "ledger.db").exists()


def test_copydesk_check_keeps_a_single_network_accounts_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in {**ENV, "COPYDESK_DB": str(tmp_path / "ledger.db")}.items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "app.yaml"
    path.write_text(yaml.safe_dump(BASE_CONFIG))
    assert main(["check", "--config", str(path)]) == 0
    assert "  main: @aplusk, cards in C0REVIEW01, 2 of 3 editor(s) to approve\n" in capsys.readouterr().out
