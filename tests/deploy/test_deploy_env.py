"""Environment variables: what docker-compose.yml and .env.example set against what the code reads."""
from __future__ import annotations

import ast
import re
import subprocess
from urllib.parse import urlsplit

import pytest

from testing.deployment import (
    COMPOSE,
    ENV_EXAMPLE,
    IMAGE_READS,
    PROJECT_SERVICES,
    ROOT,
    TEST_SECRETS,
    TLS_OVERRIDE,
    MissingVariable,
    app_env_reads,
    command_words,
    compose,
    dockerfile_env,
    environment,
    filled_env,
    framework_reads,
    image_name,
    load_yaml,
    read_env_file,
    variables_in,
)

SECRETS = tuple(TEST_SECRETS)

# What each project service cannot run correctly without, and why.
REQUIRED = {
    "migrate": {"CLINIC_DATABASE_URL"},  # else it migrates a SQLite file inside the container
    "actions": {"CLINIC_DATABASE_URL",  # callback requests and outcomes are written there
                "CLINIC_ACTION_SERVER_TOKEN",  # else anyone on its network may call it
                "SANIC_HOST"},  # 127.0.0.1 by default: unreachable in a container
    "rasa": {"CLINIC_DATABASE_URL",  # PostgreSQL tracker store, shared by the replicas
             "CLINIC_REDIS_URL",  # Redis lock store, shared by the replicas
             "CLINIC_RABBITMQ_URL",  # the event broker: wakes the projector worker at each turn
             "CLINIC_ACTION_SERVER_URL",  # bot/endpoints.yml; Rasa refuses an unset ${VAR}
             "CLINIC_ACTION_SERVER_TOKEN",  # sent to the action server
             "CLINIC_SECRET_KEY",  # signs web conversations' tokens, the same on every replica
             "SANIC_PROXIES_COUNT",  # rate limits per patient, not per nginx address
             "CLINIC_SOCKET_ORIGINS",  # else any web page may open the widget's socket
             "CLINIC_NAME", "CLINIC_PHONE"},  # told to patients
    "web": {"CLINIC_DATABASE_URL", "CLINIC_SECRET_KEY",  # sessions valid across restarts
            "CLINIC_WEB_HOST", "CLINIC_WEB_PORT",  # 127.0.0.1 by default: unreachable in a container
            "CLINIC_RASA_PUBLIC_URL",  # where the widget connects
            "CLINIC_TRUSTED_PROXIES"},  # patients' addresses and https links behind nginx
    "projector": {"CLINIC_DATABASE_URL",  # the events it reads, the summaries it writes
                  "CLINIC_RABBITMQ_URL"},  # else it polls: seconds behind instead of at once
    "retention": {"CLINIC_DATABASE_URL", "CLINIC_SECRET_KEY"},  # the audit log's key
    "checkins": {"CLINIC_DATABASE_URL",  # the check-ins to send
                 "CLINIC_NAME", "CLINIC_PHONE"},  # told to patients in the check-in
    "webhook": {"CLINIC_DATABASE_URL",  # the outbox
                "CLINIC_SECRET_KEY"},  # conversations' pseudonyms, the same as the console's
}


@pytest.fixture(scope="module")
def services() -> dict:
    return compose()["services"]


def test_every_variable_a_project_service_gets_is_read_by_the_code(services):
    reads = app_env_reads()
    for name in PROJECT_SERVICES:
        unread = [var for var in environment(services[name]) if var not in reads and not framework_reads(var)]
        assert not unread, f"{name} sets variables nothing reads: {unread}"


def test_the_reader_finds_variables_and_rejects_made_up_ones():
    # Guards the test above against a reader that accepts everything or nothing.
    reads = app_env_reads()
    assert {"CLINIC_DATABASE_URL", "CLINIC_REDIS_URL", "CLINIC_ACTION_SERVER_URL", "CLINIC_RATE_LIMIT_BURST",
            "CLINIC_ACTION_TIMEOUT_SECONDS", "TELEGRAM_TOKEN", "CLINIC_ACTION_SERVER_TOKEN", "SANIC_HOST"} <= set(reads)
    assert "CLINIC_DATABASE_URI" not in reads and "CLINIC_REDIS" not in reads
    assert framework_reads("SANIC_PROXIES_COUNT") and framework_reads("TF_INTRA_OP_PARALLELISM_THREADS")
    assert not framework_reads("SANIC_PROXY_COUNT") and not framework_reads("TF_THREADS")


def test_third_party_images_get_only_what_they_read(services):
    for name, service in services.items():
        if name not in PROJECT_SERVICES:
            assert set(environment(service)) <= IMAGE_READS[image_name(service)], name


@pytest.mark.parametrize("service", sorted(REQUIRED))
def test_each_service_gets_the_settings_it_needs(services, service):
    env = environment(services[service])
    missing = [var for var in REQUIRED[service] if not env.get(var)]
    assert not missing, f"{service} lacks {missing}"


def test_every_service_uses_the_one_database_compose_runs(services):
    postgres = environment(services["postgres"])
    urls = {environment(services[name])["CLINIC_DATABASE_URL"] for name in PROJECT_SERVICES}
    assert len(urls) == 1, urls
    url = urlsplit(urls.pop())
    assert url.scheme == "postgresql+psycopg2"
    assert (url.hostname, url.port or 5432) == ("postgres", 5432)
    assert (url.username, url.password, url.path.lstrip("/")) == (
        postgres["POSTGRES_USER"], postgres["POSTGRES_PASSWORD"], postgres["POSTGRES_DB"])


def test_rasa_and_the_action_server_share_one_token_and_the_server_listens_on_its_network(services):
    rasa, actions = environment(services["rasa"]), environment(services["actions"])
    assert rasa["CLINIC_ACTION_SERVER_TOKEN"] == actions["CLINIC_ACTION_SERVER_TOKEN"] == \
        TEST_SECRETS["CLINIC_ACTION_SERVER_TOKEN"]
    assert actions["SANIC_HOST"] == "0.0.0.0"


def test_the_outbox_writer_and_the_webhook_worker_are_switched_on_by_the_same_variables(services):
    env = {**filled_env(), "CLINIC_WEBHOOK_URL": "https://records.clinic.example/triage",
           "CLINIC_WEBHOOK_SECRET": "hook0secret", "CLINIC_WEBHOOK_LEVELS": "emergency"}
    configured = compose(env)["services"]
    actions, webhook = environment(configured["actions"]), environment(configured["webhook"])
    for name in ("CLINIC_WEBHOOK_URL", "CLINIC_WEBHOOK_LEVELS"):
        assert actions[name] == webhook[name] == env[name], name
    assert webhook["CLINIC_WEBHOOK_SECRET"] == "hook0secret"
    assert "CLINIC_WEBHOOK_SECRET" not in actions    # the action server only writes the outbox
    assert not environment(services["webhook"])["CLINIC_WEBHOOK_URL"], "off unless configured"
    assert "outbound" in configured["webhook"]["networks"]
    assert compose(env)["networks"]["outbound"].get("internal") is not True


def test_rasa_uses_the_redis_compose_runs_with_its_password(services):
    url = urlsplit(environment(services["rasa"])["CLINIC_REDIS_URL"])
    redis_command = command_words(services["redis"])
    password = redis_command[redis_command.index("--requirepass") + 1]
    assert (url.scheme, url.hostname, url.port) == ("redis", "redis", 6379)
    assert url.password == password == TEST_SECRETS["REDIS_PASSWORD"]


def test_rasa_and_the_projector_worker_use_the_rabbitmq_compose_runs_with_its_password(services):
    rabbitmq = environment(services["rabbitmq"])
    urls = {environment(services[name])["CLINIC_RABBITMQ_URL"] for name in ("rasa", "projector")}
    assert len(urls) == 1, urls
    url = urlsplit(urls.pop())
    assert (url.scheme, url.hostname, url.port) == ("amqp", "rabbitmq", 5672)
    assert (url.username, url.password) == (rabbitmq["RABBITMQ_DEFAULT_USER"], rabbitmq["RABBITMQ_DEFAULT_PASS"])
    assert url.password == TEST_SECRETS["RABBITMQ_PASSWORD"]


def test_every_channel_can_be_enabled_from_the_env_file(services):
    from bot.channels.credentials import CHANNELS

    rasa_env = environment(services["rasa"])
    for spec in CHANNELS:
        assert set(spec.required.values()) <= set(rasa_env), spec.name


@pytest.mark.parametrize("secret", SECRETS)
def test_compose_refuses_to_start_without_each_secret(secret):
    env = {**read_env_file(), **TEST_SECRETS, secret: ""}
    with pytest.raises(MissingVariable, match=secret):
        compose(env)
    assert variables_in(load_yaml(COMPOSE))[secret] == {":?"}, "never a default for a secret"


def test_the_example_env_file_holds_no_secret():
    values = read_env_file(commented=True)
    secretish = [k for k in values if re.search(r"PASSWORD|SECRET|TOKEN|_KEY$|_SID$", k)]
    assert set(SECRETS) <= set(secretish)
    assert {k: values[k] for k in secretish if values[k]} == {}


def test_the_real_env_file_is_ignored_and_the_example_is_not():
    def ignored(path: str) -> bool:
        return subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT).returncode == 0

    assert ignored(".env")
    assert not ignored(".env.example")


def test_every_example_setting_is_used_by_compose_and_every_compose_variable_is_documented():
    documented = set(read_env_file(commented=True))
    used = set(variables_in(load_yaml(COMPOSE))) | set(variables_in(load_yaml(TLS_OVERRIDE)))
    assert documented - used == set(), "settings in .env.example that compose ignores"
    assert used - documented == set(), "compose variables .env.example does not mention"


def test_documented_defaults_are_the_codes_defaults():
    reads = app_env_reads()
    shown_defaults = {k: v for k, v in read_env_file(commented=True).items() if k not in read_env_file()}
    for name, value in shown_defaults.items():
        if name in reads and reads[name] is not None:
            assert value == reads[name], f"{ENV_EXAMPLE.name} says {name}={value}; the code's default is {reads[name]}"


def test_the_public_address_matches_the_published_port_and_may_open_the_socket():
    values = read_env_file()
    url = urlsplit(values["CLINIC_RASA_PUBLIC_URL"])
    assert url.port == int(values["CLINIC_HTTP_PORT"])
    # The widget's page is served from the public address; its socket must be allowed from there.
    assert f"{url.scheme}://{url.netloc}" in [o.strip() for o in values["CLINIC_SOCKET_ORIGINS"].split(",")]


def _env_names_set_for_test_servers() -> set[str]:
    """Variable names testing/servers.py and the session's bot (tests/conftest.py) start servers with."""
    names = set()
    for path in (ROOT / "testing" / "servers.py", ROOT / "tests" / "conftest.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                names |= {k.arg for k in node.keywords if k.arg and re.fullmatch(r"(CLINIC|SANIC|TF)_[A-Z0-9_]+", k.arg)}
    return names


def test_test_servers_are_configured_by_the_names_the_deployment_uses(services):
    names = _env_names_set_for_test_servers()
    assert {"CLINIC_DATABASE_URL", "CLINIC_ACTION_SERVER_URL"} <= names
    deployed = set(environment(services["rasa"])) | set(environment(services["actions"])) | set(dockerfile_env())
    assert names - deployed == set(), "tests run servers with settings production cannot set"


def test_every_variable_bot_endpoints_names_is_set_for_rasa(services):
    # Rasa refuses to start when bot/endpoints.yml names an unset ${VAR}.
    names = set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", (ROOT / "bot" / "endpoints.yml").read_text()))
    assert "CLINIC_ACTION_SERVER_URL" in names
    rasa_env = environment(services["rasa"])
    assert {name for name in names if not rasa_env.get(name)} == set()


def test_the_images_own_settings_are_read_by_something():
    standard = {"PATH", "HOME", "PYTHONPATH", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE",
                "PIP_NO_CACHE_DIR", "PIP_DISABLE_PIP_VERSION_CHECK"}
    reads = app_env_reads()
    unread = [name for name in dockerfile_env() if name not in standard | set(reads) and not framework_reads(name)]
    assert not unread
