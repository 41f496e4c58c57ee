"""Production without usable Google credentials refuses to start, naming the setting.

Without them firebase-admin cannot verify any ID token: the service would start, report
ready and answer 500 to every signed-in request. ``NO_GCE_CHECK=true`` (Google's own
switch) keeps the check from asking for a metadata server this machine does not have,
and an empty home folder hides any gcloud credentials of the machine's user.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from tests.factories import CAMPAIGNS, settings_for_tests
from upscale_api.app import create_app
from upscale_api.core import StartupError
from upscale_api.settings import SettingsError, load_settings

PRODUCTION = {
    "UPSCALE_ENV": "production",
    "FIREBASE_PROJECT_ID": "upscale-production",
    "UPSCALE_CAMPAIGNS_DIR": str(CAMPAIGNS),
    "DATABASE_URL": "postgresql://upscale@127.0.0.1:1/upscale",  # never reached: it stops before
}


def _environment_without_credentials(home: Path, **extra: str) -> dict[str, str]:
    inherited = {
        name: value
        for name, value in os.environ.items()
        if name not in {"FIREBASE_AUTH_EMULATOR_HOST", "GOOGLE_APPLICATION_CREDENTIALS", "DATABASE_URL"}
    }
    return inherited | PRODUCTION | {"HOME": str(home), "CLOUDSDK_CONFIG": str(home), "NO_GCE_CHECK": "true"} | extra


def _serve(environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    upscale = Path(sys.executable).parent / "upscale"
    return subprocess.run(
        [str(upscale), "serve"], env=environment, capture_output=True, text=True, timeout=120, check=False
    )


def test_production_without_credentials_refuses_to_start_naming_the_setting(tmp_path: Path) -> None:
    result = _serve(_environment_without_credentials(tmp_path))

    assert result.returncode != 0
    assert "GOOGLE_APPLICATION_CREDENTIALS: no usable Google credentials" in result.stderr
    assert "Uvicorn running" not in result.stderr


def test_credentials_naming_a_missing_file_refuse_to_start_too(tmp_path: Path) -> None:
    missing = tmp_path / "service-account.json"

    result = _serve(_environment_without_credentials(tmp_path, GOOGLE_APPLICATION_CREDENTIALS=str(missing)))

    assert result.returncode != 0
    assert "GOOGLE_APPLICATION_CREDENTIALS:" in result.stderr
    assert str(missing) in result.stderr


def test_usable_credentials_let_production_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    credentials = tmp_path / "credentials.json"
    credentials.write_text(
        json.dumps({"type": "authorized_user", "client_id": "c", "client_secret": "s", "refresh_token": "r"})
    )
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(credentials))

    app = create_app(load_settings(PRODUCTION))

    assert app.state.settings.upscale_env == "production"


def test_without_credentials_the_app_is_not_even_built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "nothing-here.json"))

    with pytest.raises(SettingsError, match=r"^GOOGLE_APPLICATION_CREDENTIALS: "):
        create_app(load_settings(PRODUCTION))


async def test_an_unreachable_database_stops_start_up_naming_the_setting() -> None:
    app = create_app(settings_for_tests(), database_url="postgresql://upscale@127.0.0.1:1/upscale")

    with pytest.raises(ExceptionGroup) as stopped:  # the test client runs the start-up in a task group
        async with AsyncTestClient(app=app):
            pass

    assert stopped.group_contains(StartupError, match=r"^DATABASE_URL: cannot connect to the database \(Connection")
