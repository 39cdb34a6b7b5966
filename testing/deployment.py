"""Reads what the deployment says (docker-compose.yml, .env.example, docker/) and what the app reads.

Docker cannot run here, so the deployment tests compare these texts with the code: compose
interpolation as `docker compose` does it, the environment variables the app's code reads (from
its source), and the commands each service runs.
"""
from __future__ import annotations

import ast
import re
import shlex
from collections.abc import Iterator, Mapping
from functools import cache, lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from testing.servers import RABBITMQ_URL

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
TLS_OVERRIDE = ROOT / "docker" / "compose.tls.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "docker" / "Dockerfile"
APP_PACKAGES = ("clinic", "bot", "actions", "storage", "webapp", "knowledge", "scripts")
PROJECT_SERVICES = ("migrate", "actions", "rasa", "web", "projector", "retention", "checkins", "webhook")

# Values for the secrets .env.example leaves empty, to interpolate the file as a filled-in .env.
TEST_SECRETS = {"POSTGRES_PASSWORD": "pg0secret", "REDIS_PASSWORD": "redis0secret",
                "RABBITMQ_PASSWORD": "rabbit0secret", "CLINIC_SECRET_KEY": "key0secret",
                "CLINIC_ACTION_SERVER_TOKEN": "token0secret"}


# --- compose ------------------------------------------------------------------------------------

def load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


class MissingVariable(Exception):
    pass


# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}, and $$ (a literal $).
_VARIABLE = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's variable substitution (the subset of the spec docker-compose.yml uses)."""

    def substitute(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name", "op", "arg")
        value = env.get(name)
        unset_or_empty = not value
        if op in (":-", "-"):
            return arg if (unset_or_empty if op == ":-" else value is None) else value
        if op in (":?", "?"):
            if unset_or_empty if op == ":?" else value is None:
                raise MissingVariable(f"{name}: {arg}")
            return value
        return value or ""

    return _VARIABLE.sub(substitute, text)


def interpolate_tree(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [interpolate_tree(item, env) for item in node]
    if isinstance(node, dict):
        return {key: interpolate_tree(value, env) for key, value in node.items()}
    return node


def variables_in(node: Any) -> dict[str, set[str]]:
    """Every ${NAME} in a compose tree → the operators it is used with ('' for none)."""
    found: dict[str, set[str]] = {}
    if isinstance(node, str):
        for match in _VARIABLE.finditer(node):
            if match.group("name"):
                found.setdefault(match.group("name"), set()).add(match.group("op") or "")
    elif isinstance(node, (list, dict)):
        for item in (node.values() if isinstance(node, dict) else node):
            for name, ops in variables_in(item).items():
                found.setdefault(name, set()).update(ops)
    return found


def read_env_file(path: Path = ENV_EXAMPLE, *, commented: bool = False) -> dict[str, str]:
    """KEY=VALUE lines; with commented=True, also the documented `# KEY=VALUE` ones."""
    pattern = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")
    values = {}
    for line in path.read_text().splitlines():
        match = pattern.match(line.strip())
        if match and (commented or not match.group(1)):
            values[match.group(2)] = match.group(3)
    return values


def filled_env() -> dict[str, str]:
    """.env.example with its secrets filled in: what a correct .env looks like."""
    return {**read_env_file(), **TEST_SECRETS}


def compose(env: Mapping[str, str] | None = None) -> dict:
    """docker-compose.yml as `docker compose` sees it with the given .env (default: filled_env)."""
    return interpolate_tree(load_yaml(COMPOSE), filled_env() if env is None else env)


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def command_words(service: dict) -> list[str]:
    command = service.get("command") or []
    return shlex.split(command) if isinstance(command, str) else [str(word) for word in command]


def shell_commands(words: list[str]) -> list[list[str]]:
    """The simple commands a service runs: its argv, or each command of an `sh -c` script."""
    if words[:2] != ["sh", "-c"]:
        return [words]
    lexer = shlex.shlex(words[2], posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands, argv = [], []
    for token in [*lexer, ";"]:
        if token in ("&&", "||", ";", "|", "while", "do", "done"):
            if argv and argv[0] == "exec":
                argv = argv[1:]
            if argv and argv[0] not in ("true", "sleep", "echo"):
                commands.append(argv)
            argv = []
        else:
            argv.append(token)
    return commands


def dockerfile_env() -> dict[str, str]:
    """ENV settings of the image (every stage)."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    env = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            env.update(word.split("=", 1) for word in shlex.split(line[4:]) if "=" in word)
    return env


def healthcheck_words(service: dict) -> list[str]:
    test = (service.get("healthcheck") or {}).get("test") or []
    return test[1:] if test and test[0] in ("CMD", "CMD-SHELL") else test


def python_module(argv: list[str]) -> tuple[str, list[str]] | None:
    """`python -m MODULE ARGS...` → (MODULE, ARGS)."""
    if len(argv) >= 3 and argv[0] in ("python", "python3") and argv[1] == "-m":
        return argv[2], argv[3:]
    return None


def option(argv: list[str], name: str) -> str | None:
    for index, word in enumerate(argv):
        if word == name and index + 1 < len(argv):
            return argv[index + 1]
        if word.startswith(name + "="):
            return word.split("=", 1)[1]
    return None


def module_exists(module: str) -> bool:
    """A module of this repository (file or package), or an installed one."""
    path = ROOT.joinpath(*module.split("."))
    if path.with_suffix(".py").is_file() or (path / "__init__.py").is_file() \
            or (path / "__main__.py").is_file():
        return True
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


# --- what the app reads --------------------------------------------------------------------------

_READER_FUNCTIONS = {"_env", "_env_int", "_env_bool", "getenv"}


def _python_files() -> Iterator[Path]:
    for package in APP_PACKAGES:
        yield from (ROOT / package).rglob("*.py")


def _literal(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, int, bool)):
        return str(node.value)
    return None


def _is_os_environ(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "environ" \
        and isinstance(node.value, ast.Name) and node.value.id == "os"


@lru_cache(maxsize=1)
def _shown(default) -> str | None:
    """A setting's default as .env.example would write it."""
    if default is None or default == "":
        return None if default is None else ""
    if isinstance(default, bool):
        return "true" if default else "false"
    if isinstance(default, float) and default.is_integer():
        return str(int(default))
    return str(default)


def app_env_reads() -> dict[str, str | None]:
    """Environment variables the project's code reads → their literal default (None if none).

    Found in the source: _env*(NAME, ...), os.environ.get(NAME, ...), os.getenv(NAME, ...),
    os.environ[NAME]; the channels' credentials (bot/channels/credentials.py); and the ${NAME}
    references of bot/endpoints.yml, which Rasa expands.
    """
    reads: dict[str, str | None] = {}
    for path in _python_files():
        tree = ast.parse(path.read_text(), str(path))
        # Module constants used as names: TOKEN_ENV = "CLINIC_ACTION_SERVER_TOKEN".
        constants = {target.id: _literal(node.value) for node in tree.body if isinstance(node, ast.Assign)
                     for target in node.targets if isinstance(target, ast.Name)}

        def value(node: ast.AST, constants: dict = constants) -> str | None:
            return constants.get(node.id) if isinstance(node, ast.Name) else _literal(node)

        for node in ast.walk(tree):
            name = default = None
            if isinstance(node, ast.Call) and node.args:
                func = node.func
                called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
                if called in _READER_FUNCTIONS or (called == "get" and _is_os_environ(func.value)):
                    name = value(node.args[0])
                    default = value(node.args[1]) if len(node.args) > 1 else None
            elif isinstance(node, ast.Subscript) and _is_os_environ(node.value) \
                    and isinstance(node.ctx, ast.Load):
                name = value(node.slice)
            if name and re.fullmatch(r"[A-Z][A-Z0-9_]*", name):
                reads.setdefault(name, default)
    from bot.channels.credentials import CHANNELS
    from clinic.settings import Settings

    for field in Settings.__fields__.values():   # the one settings object: each field's variable(s)
        for env_name in field.field_info.extra.get("env_names", ()):
            reads.setdefault(env_name.upper(), _shown(field.default))
    for spec in CHANNELS:
        for name in (*spec.required.values(), *spec.optional.values()):
            reads.setdefault(name, None)
    for name in re.findall(r"\$\{([A-Z0-9_]+)\}", (ROOT / "bot" / "endpoints.yml").read_text()):
        reads.setdefault(name, None)
    return reads


@cache
def framework_reads(name: str) -> bool:
    """Read by the framework the services run on: a Sanic setting (SANIC_ + a config key, read
    when Rasa creates its app) or a name Rasa's own source reads (TensorFlow threads etc.)."""
    if name.startswith("SANIC_"):
        from sanic.config import DEFAULT_CONFIG

        return name.removeprefix("SANIC_") in DEFAULT_CONFIG
    import rasa

    source_root = Path(rasa.__file__).parent
    pattern = re.compile(rf"[\"']{re.escape(name)}[\"']")
    return any(pattern.search(path.read_text(errors="ignore")) for path in source_root.rglob("*.py"))


# Variables the third-party images read (their documentation), per image name.
IMAGE_READS = {
    "postgres": {"POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD"},
    "redis": {"REDISCLI_AUTH"},  # redis-cli's password, for the health check
    "rabbitmq": {"RABBITMQ_DEFAULT_USER", "RABBITMQ_DEFAULT_PASS"},
    "nginx": set(),
}


def image_name(service: dict) -> str:
    return str(service.get("image", "")).split("/")[-1].split(":")[0]


# --- the deployment's settings on this machine ---------------------------------------------------

def local_environment(service_name: str, *, database_url: str, redis_url: str, action_url: str,
                      rabbitmq_url: str = RABBITMQ_URL) -> dict[str, str]:
    """A compose service's environment with the compose hosts replaced by this machine's servers.

    Tests that run real servers start them with this, so they run with the deployment's variable
    names and values: a variable docker-compose.yml misnames is misnamed in the test too.
    """
    local = {"postgres": database_url, "redis": redis_url, "actions": action_url,
             "rabbitmq": rabbitmq_url}
    env = {}
    for name, value in environment(compose()["services"][service_name]).items():
        host = urlsplit(value).hostname if "://" in value else None
        env[name] = local.get(host, value) if host else value
        if value == "0.0.0.0":  # every interface of a container: the loopback here
            env[name] = "127.0.0.1"
    return env
