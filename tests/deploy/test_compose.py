"""docker-compose.yml and docker/Dockerfile against the repository: services, commands, ports, exposure."""
from __future__ import annotations

import re
import shlex
import subprocess
import sys
from urllib.parse import urlsplit

import pytest

from testing.deployment import (
    DOCKERFILE,
    PROJECT_SERVICES,
    ROOT,
    TLS_OVERRIDE,
    command_words,
    compose,
    environment,
    filled_env,
    healthcheck_words,
    interpolate_tree,
    load_yaml,
    module_exists,
    option,
    python_module,
    shell_commands,
)

LONG_RUNNING = ("postgres", "redis", "rabbitmq", "actions", "rasa", "web", "projector", "retention", "checkins", "nginx")


@pytest.fixture(scope="module")
def services() -> dict:
    return compose()["services"]


def test_the_compose_file_has_every_service_of_the_deployment(services):
    assert set(services) == {"postgres", "redis", "rabbitmq", "migrate", "actions", "rasa", "web",
                             "projector", "retention", "checkins", "webhook", "nginx"}
    assert services["rasa"]["deploy"]["replicas"] == 2
    # Replicas cannot share a fixed container name.
    assert "container_name" not in services["rasa"]


def test_project_services_run_one_image_built_from_the_dockerfile(services):
    images = {services[name]["image"] for name in PROJECT_SERVICES}
    assert len(images) == 1
    for name in PROJECT_SERVICES:
        build = services[name]["build"]
        assert (ROOT / build["context"]).resolve() == ROOT
        assert (ROOT / build["dockerfile"]).resolve() == DOCKERFILE


def test_every_long_running_service_restarts_and_has_a_health_check(services):
    for name in LONG_RUNNING:
        assert services[name]["restart"] in ("unless-stopped", "always"), name
        if name not in ("retention", "checkins"):  # a loop with nothing to probe
            assert healthcheck_words(services[name]), name
    assert services["migrate"]["restart"] == "no", "a one-shot job must not loop"
    # Off (exits 0) while CLINIC_WEBHOOK_URL is unset: it must then stay stopped, not loop.
    assert services["webhook"]["restart"] == "on-failure"
    assert python_module(healthcheck_words(services["webhook"])) == (
        "storage.outbox_worker", ["--healthcheck"])


def test_migrations_run_once_before_anything_uses_the_database(services):
    assert python_module(command_words(services["migrate"])) == ("storage.cli", ["migrate"])
    for name in ("actions", "rasa", "web", "projector", "retention", "checkins", "webhook"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_database_data_is_on_a_named_volume():
    raw = load_yaml(ROOT / "docker-compose.yml")
    volumes = raw["services"]["postgres"]["volumes"]
    assert "postgres-data:/var/lib/postgresql/data" in volumes
    assert "postgres-data" in raw["volumes"]


def _commands(services: dict, name: str) -> list[list[str]]:
    return shell_commands(command_words(services[name]))


def test_every_service_command_names_modules_and_files_that_exist(services):
    for name in PROJECT_SERVICES:
        commands = _commands(services, name) + [healthcheck_words(services[name])]
        for argv in filter(None, commands):
            module = python_module(argv)
            if module:
                assert module_exists(module[0]), f"{name}: python -m {module[0]}"
            elif argv[0] in ("python", "python3"):
                assert (ROOT / argv[1]).is_file(), f"{name}: {argv[1]}"
            else:
                assert argv[0] == "rasa", f"{name}: unexpected command {argv}"


@pytest.mark.parametrize("subcommand", ["migrate", "purge"])
def test_storage_cli_subcommands_the_services_run_exist(services, subcommand):
    used = [python_module(argv)[1][0] for name in PROJECT_SERVICES for argv in _commands(services, name)
            if (python_module(argv) or ("",))[0] == "storage.cli"]
    assert subcommand in used
    result = subprocess.run([sys.executable, "-m", "storage.cli", subcommand, "--help"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def _rasa_run(services: dict) -> list[str]:
    return next(argv for argv in _commands(services, "rasa") if argv[:2] == ["rasa", "run"])


def test_rasa_command_is_valid_for_rasa_and_uses_the_files_the_image_has(services):
    from rasa.__main__ import create_argument_parser

    argv = _rasa_run(services)
    args = create_argument_parser().parse_args(argv[1:])  # exits on an unknown option
    assert not args.enable_api, "Rasa's HTTP API must stay off"
    assert (ROOT / args.endpoints).is_file()
    # The credentials file is the one generated just before from the environment.
    generate = next(a for a in _commands(services, "rasa") if python_module(a) and python_module(a)[0] == "bot.channels.credentials")
    assert python_module(generate)[1] == [args.credentials]
    # The model is the one the image trains (docker/Dockerfile), as `make train` names it.
    train = _dockerfile_train_command()
    assert args.model == f"{option(train, '--out')}/{option(train, '--fixed-model-name')}.tar.gz"


def test_action_server_command_is_valid_and_checks_the_token(services):
    from rasa_sdk.endpoint import create_argument_parser

    argv = _commands(services, "actions")[0]
    # actions/server.py: rasa_sdk's server and arguments, plus the shared-token check.
    assert python_module(argv)[0] == "actions.server"
    args = create_argument_parser().parse_args(python_module(argv)[1])
    assert module_exists(args.actions)


def _dockerfile_runs() -> list[str]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    return [line.strip()[4:] for line in text.splitlines() if line.strip().startswith("RUN ")]


def _dockerfile_train_command() -> list[str]:
    for run in _dockerfile_runs():
        for part in run.split("&&"):
            argv = shlex.split(part)
            if argv[:2] == ["rasa", "train"]:
                return argv
    raise AssertionError("docker/Dockerfile does not train the model")


def test_the_image_trains_the_model_as_make_train_does():
    makefile = re.sub(r"\\\n", " ", (ROOT / "Makefile").read_text())
    domain = re.search(r"^DOMAIN := (\S+)", makefile, flags=re.MULTILINE).group(1)
    line = next(line for line in makefile.splitlines() if "$(RASA) train" in line)
    make_args = shlex.split(line.replace("$(RASA)", "rasa").replace("$(DOMAIN)", domain))
    train = _dockerfile_train_command()
    for flag in ("--config", "--domain", "--data", "--out", "--fixed-model-name"):
        assert option(train, flag) == option(make_args, flag), flag
    # The spaCy pipeline the config loads by path is built first.
    runs = " ".join(_dockerfile_runs())
    assert runs.index("knowledge.nlp.pipeline build") < runs.index("rasa train")
    assert module_exists("knowledge.nlp.pipeline")


def test_the_image_is_python_310_slim_with_the_pinned_requirements():
    text = DOCKERFILE.read_text()
    assert re.search(r"PYTHON_IMAGE=python:3\.10-slim", text)
    assert "pip install -c /tmp/requirements/lock.txt -r /tmp/requirements/app.in" in text
    for source in re.findall(r"^COPY (?!--from)(.+) \S+$", text, flags=re.MULTILINE):
        for path in source.split():
            assert (ROOT / path).exists(), f"COPY {path}"
    # The working directory is the repository root: Rasa loads build/spacy/... by relative path.
    assert "WORKDIR /app" in text and "PYTHONPATH=/app" in text


def test_the_image_runs_as_an_unprivileged_user():
    stages = DOCKERFILE.read_text().split("\nFROM ")
    assert re.search(r"^USER (?!root)\w+", stages[-1], flags=re.MULTILINE)


def _port(url: str) -> int:
    return urlsplit(url).port


def test_service_ports_agree_everywhere(services):
    rasa_env = environment(services["rasa"])
    # Rasa on 5005.
    assert option(_rasa_run(services), "--port") == "5005"
    assert services["rasa"]["expose"] == ["5005"]
    assert _port(healthcheck_words(services["rasa"])[-1]) == 5005
    # The action server on 5055, where Rasa calls it.
    actions_argv = _commands(services, "actions")[0]
    assert option(actions_argv, "--port") == "5055"
    assert services["actions"]["expose"] == ["5055"]
    assert _port(healthcheck_words(services["actions"])[-1]) == 5055
    action_url = urlsplit(rasa_env["CLINIC_ACTION_SERVER_URL"])
    assert (action_url.hostname, action_url.port, action_url.path) == ("actions", 5055, "/webhook")
    # The web app on 8000, on every interface of its container.
    web_env = environment(services["web"])
    assert web_env["CLINIC_WEB_PORT"] == "8000" and web_env["CLINIC_WEB_HOST"] == "0.0.0.0"
    assert services["web"]["expose"] == ["8000"]
    assert _port(healthcheck_words(services["web"])[-1]) == 8000


def test_only_nginx_is_published_and_the_action_server_is_internal():
    raw = load_yaml(ROOT / "docker-compose.yml")
    published = {name for name, service in raw["services"].items() if service.get("ports")}
    assert published == {"nginx"}
    assert raw["services"]["nginx"]["ports"] == ["${CLINIC_HTTP_PORT:-80}:80"]
    internal = {name for name, network in raw["networks"].items() if (network or {}).get("internal")}
    for name in ("actions", "postgres", "redis", "rabbitmq", "migrate", "projector", "retention"):
        assert set(raw["services"][name]["networks"]) <= internal, name
    # nginx shares no network with the action server.
    assert not set(raw["services"]["nginx"]["networks"]) & set(raw["services"]["actions"]["networks"])
    # Anything that is not internal can still reach out (Rasa calls Telegram, Slack ...).
    assert set(raw["services"]["rasa"]["networks"]) - internal


def test_the_tls_override_publishes_443_and_switches_the_web_app_to_secure_cookies():
    override = load_yaml(TLS_OVERRIDE)
    env = dict(filled_env(), CLINIC_TLS_CERT_DIR="/certs")
    override = interpolate_tree(override, env)
    assert override["services"]["nginx"]["ports"] == ["443:443"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in override["services"]["nginx"]["volumes"]}
    assert (ROOT / mounts["/etc/nginx/conf.d/default.conf"]).resolve() == ROOT / "docker/nginx/https.conf"
    assert mounts["/etc/nginx/certs"] == "/certs"
    assert environment(override["services"]["web"])["CLINIC_BEHIND_TLS"] == "true"


def _flags(argv: list[str]) -> dict[str, str]:
    return {word: argv[i + 1] for i, word in enumerate(argv[:-1]) if word.startswith("--")}


def test_rasa_and_the_action_server_run_as_the_test_servers_run_them(services, tmp_path):
    from testing.servers import action_server, rasa_server

    tested = _flags(rasa_server({}, tmp_path, port=5005).command)
    deployed = _flags(_rasa_run(services))
    assert set(tested) == set(deployed)
    for flag in ("--model", "--endpoints", "--credentials"):
        assert (ROOT / tested[flag]).resolve() == (ROOT / deployed[flag]).resolve(), flag
    tested_actions = action_server({}, tmp_path, port=5055).command
    deployed_actions = _commands(services, "actions")[0]
    assert tested_actions[1:3] == deployed_actions[1:3], "the same module"
    assert _flags(tested_actions) == _flags(deployed_actions)


def test_rasa_streams_to_the_rabbitmq_the_projector_worker_listens_on(services):
    """Both wait for RabbitMQ (Rasa's broker gives up after its connection attempts), and the
    worker's health check is its backlog."""
    for name in ("rasa", "projector"):
        assert services[name]["depends_on"]["rabbitmq"]["condition"] == "service_healthy", name
    assert python_module(_commands(services, "projector")[0]) == ("storage.projector_worker", [])
    assert python_module(healthcheck_words(services["projector"])) == (
        "storage.projector_worker", ["--check"])
    result = subprocess.run([sys.executable, "-m", "storage.projector_worker", "--help"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "--check" in result.stdout, result.stderr
