"""The upscale command: settings errors, definition checks, tokens, roles, demo data."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.factories import CAMPAIGNS, EMULATOR_HOST, ROOT
from upscale_api.settings import SettingsError, load_settings
from upscale_api.worker import pool_settings


def upscale(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("UPSCALE_", "FIREBASE_"))}
    environ |= {"FIREBASE_AUTH_EMULATOR_HOST": EMULATOR_HOST, "UPSCALE_DATA_DIR": str(ROOT / ".upscale")} | env
    return subprocess.run(
        [sys.executable, "-m", "upscale_api", *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
        check=False,
    )


def test_a_bad_setting_stops_start_up_with_one_line_naming_it() -> None:
    result = upscale("serve", UPSCALE_PORT="eighty")

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["upscale: invalid setting UPSCALE_PORT: Expected `int`, got `str`"]


def test_production_with_the_auth_emulator_refuses_to_start() -> None:
    result = upscale("serve", UPSCALE_ENV="production")

    assert result.returncode == 2
    assert "FIREBASE_AUTH_EMULATOR_HOST" in result.stderr


def test_settings_parse_numbers_and_flags() -> None:
    settings = load_settings({"UPSCALE_BACKDATE_DAYS": "3", "UPSCALE_DB_STATEMENT_CACHE": "false"})

    assert (settings.upscale_backdate_days, settings.upscale_db_statement_cache) == (3, False)
    for name, value in [("UPSCALE_BACKDATE_DAYS", "-1"), ("UPSCALE_ENV", "staging"), ("UPSCALE_DB_POOL_MAX", "x")]:
        try:
            load_settings({name: value})
        except SettingsError as exc:
            assert str(exc).startswith(f"{name}: ")
        else:
            raise AssertionError(f"{name}={value} was accepted")
    # A scoring tick holds a connection for each part and one more.
    with pytest.raises(SettingsError, match=r"^UPSCALE_SCORING_PARTS: must be below UPSCALE_DB_POOL_MAX"):
        load_settings({"UPSCALE_SCORING_PARTS": "4", "UPSCALE_DB_POOL_MAX": "4"})


def test_campaigns_validate_accepts_the_shipped_files() -> None:
    result = upscale("campaigns", "validate", str(CAMPAIGNS))

    assert result.returncode == 0, result.stderr
    assert "valid (3 cities" in result.stdout


def test_campaigns_validate_prints_every_problem_with_file_and_field(tmp_path: Path) -> None:
    shutil.copytree(CAMPAIGNS, tmp_path / "c")
    city = tmp_path / "c/kranj/city.toml"
    city.write_text(city.read_text().replace('country = "SI"', 'country = "Slovenia"'))

    result = upscale("campaigns", "validate", str(tmp_path / "c"))

    assert result.returncode == 1
    assert f"{tmp_path / 'c/kranj/city.toml'}: country:" in result.stderr
    assert "problem(s) in" in result.stderr
    assert "applied" not in result.stderr  # checking applies nothing, and says nothing of applying


def test_campaigns_validate_lists_the_allowed_values_and_says_a_share_is_a_fraction(tmp_path: Path) -> None:
    shutil.copytree(CAMPAIGNS, tmp_path / "c")
    contest = tmp_path / "c/kranj/mobility-contest-2027.toml"
    text = contest.read_text()
    assert "share = 0.5" in text and 'kind = "distinct_days"' in text
    contest.write_text(
        text.replace("share = 0.5", "share = 50", 1).replace('kind = "distinct_days"', 'kind = "collective"', 1)
    )

    result = upscale("campaigns", "validate", str(tmp_path / "c"))

    assert result.returncode == 1
    assert "'collective' is not one of quantity, distinct_days" in result.stderr
    assert "must be a fraction above 0 and at most 1 (0.5 is half, 1 is all), not 50" in result.stderr


def test_a_dev_token_is_printed_for_a_uid() -> None:
    result = upscale("token", "demo-resident-0001")

    assert result.returncode == 0
    assert result.stdout.count(".") == 2


def test_no_dev_tokens_in_production() -> None:
    result = upscale("token", "someone", UPSCALE_ENV="production", FIREBASE_AUTH_EMULATOR_HOST="")

    assert result.returncode == 1
    assert "production" in result.stderr


def test_migrate_and_grant_against_a_database(database_url: str, client: object) -> None:  # client: cities loaded
    migrate = upscale("migrate", DATABASE_URL=database_url)
    status = upscale("migrate", "--status", DATABASE_URL=database_url)
    dry_run = upscale("migrate", "--dry-run", DATABASE_URL=database_url)
    grant = upscale("grant", "cli-coordinator", "coordinator", "--city", "velenje", DATABASE_URL=database_url)
    again = upscale("grant", "cli-coordinator", "coordinator", "--city", "velenje", DATABASE_URL=database_url)
    unknown = upscale("grant", "cli-coordinator", "coordinator", "--city", "atlantis", DATABASE_URL=database_url)

    assert migrate.returncode == 0 and "schema is current" in migrate.stdout
    assert "0001_foundation" in status.stdout and status.stdout.rstrip().endswith("applied, 0 pending")
    assert dry_run.returncode == 0 and "schema is current" in dry_run.stdout
    assert "granted" in grant.stdout and "already granted" in again.stdout
    assert unknown.returncode == 1 and "unknown city: atlantis" in unknown.stderr


def test_rescore_reports_when_nothing_needs_it(database_url: str, client: object) -> None:
    result = upscale("rescore", "--from", "2100-01-01", DATABASE_URL=database_url)

    assert result.returncode == 0, result.stderr
    assert "already uses the factor versions in force" in result.stdout
    assert "recomputed 0 resident days" in result.stdout


def test_a_full_rescore_cannot_be_narrowed(database_url: str, client: object) -> None:
    result = upscale("rescore", "--full", "--campaign", "x", DATABASE_URL=database_url)

    assert result.returncode == 1
    assert "--full recomputes everything" in result.stderr


def test_the_worker_keeps_a_connection_open_for_each_scoring_part_and_the_tick() -> None:
    assert pool_settings(load_settings({"UPSCALE_SCORING_PARTS": "3"})).upscale_db_pool_min == 4
    assert pool_settings(load_settings({"UPSCALE_DB_POOL_MIN": "8"})).upscale_db_pool_min == 8
