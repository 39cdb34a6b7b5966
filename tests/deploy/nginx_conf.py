"""A small reader of nginx configuration, enough to ask where nginx sends a request path.

Parses directives and blocks, follows `include` through the files docker-compose.yml mounts,
and chooses a location as nginx does: an exact match (=), else the longest prefix, which wins
outright with ^~, else the first matching regex (~, ~*) in order, else that longest prefix.
"""
from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Directive:
    name: str
    args: list[str]
    block: list[Directive] | None = None
    source: str = ""

    def find(self, name: str) -> list[Directive]:
        return [child for child in self.block or [] if child.name == name]

    def first(self, name: str) -> Directive | None:
        found = self.find(name)
        return found[0] if found else None


_TOKEN = re.compile(r"""#[^\n]*|"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|[{};]|[^\s{};"'#]+""")


def _tokens(text: str) -> list[str]:
    tokens = []
    for token in _TOKEN.findall(text):
        if token.startswith("#"):
            continue
        if token[:1] in "\"'" and token[-1:] == token[:1]:
            token = token[1:-1]
        tokens.append(token)
    return tokens


def parse(text: str, source: str = "") -> list[Directive]:
    tokens = _tokens(text)
    position = 0

    def block() -> list[Directive]:
        nonlocal position
        directives: list[Directive] = []
        words: list[str] = []
        while position < len(tokens):
            token = tokens[position]
            position += 1
            if token == ";":
                directives.append(Directive(words[0], words[1:], None, source))
                words = []
            elif token == "{":
                directives.append(Directive(words[0], words[1:], block(), source))
                words = []
            elif token == "}":
                if words:
                    raise ValueError(f"{source}: missing ';' after {' '.join(words)}")
                return directives
            else:
                words.append(token)
        if words:
            raise ValueError(f"{source}: missing ';' after {' '.join(words)}")
        return directives

    parsed = block()
    if position != len(tokens):
        raise ValueError(f"{source}: unbalanced braces")
    return parsed


def load(path: Path, mounts: dict[str, Path]) -> list[Directive]:
    """Parse a file and expand its includes; `mounts` maps container paths to repository files."""

    def expand(directives: list[Directive]) -> list[Directive]:
        result = []
        for directive in directives:
            if directive.name == "include":
                pattern = directive.args[0]
                matched = sorted(target for container, target in mounts.items()
                                 if fnmatch.fnmatch(container, pattern))
                if not matched and not pattern.endswith("mime.types"):
                    raise FileNotFoundError(f"{directive.source}: include {pattern} is not mounted")
                for target in matched:
                    result += expand(parse(target.read_text(), str(target)))
            else:
                if directive.block is not None:
                    directive.block = expand(directive.block)
                result.append(directive)
        return result

    return expand(parse(path.read_text(), str(path)))


@dataclass
class Server:
    directive: Directive
    listen: list[list[str]] = field(default_factory=list)

    @property
    def locations(self) -> list[Directive]:
        return self.directive.find("location")

    def route(self, path: str) -> Directive | None:
        """The location block nginx picks for a request path."""
        prefixes, regexes = [], []
        for location in self.locations:
            args = location.args
            if args[0] == "=":
                if path == args[1]:
                    return location
            elif args[0] in ("~", "~*"):
                regexes.append(location)
            else:
                prefix = args[1] if args[0] == "^~" else args[0]
                if path.startswith(prefix):
                    prefixes.append((len(prefix), location))
        longest = max(prefixes, key=lambda item: item[0])[1] if prefixes else None
        if longest is not None and longest.args[0] == "^~":
            return longest
        for location in regexes:
            flags = re.IGNORECASE if location.args[0] == "~*" else 0
            if re.search(location.args[1], path, flags):
                return location
        return longest


def http_block(directives: list[Directive]) -> Directive:
    return next(d for d in directives if d.name == "http")


def servers(http: Directive) -> list[Server]:
    return [Server(s, [d.args for d in s.find("listen")]) for s in http.find("server")]


def upstreams(http: Directive) -> dict[str, Directive]:
    return {u.args[0]: u for u in http.find("upstream")}


def proxy_upstream(location: Directive) -> str | None:
    """The upstream name a location proxies to (http://NAME[/...]), or None."""
    proxy = location.first("proxy_pass")
    if proxy is None:
        return None
    match = re.fullmatch(r"https?://([^/:]+)(?::\d+)?(/.*)?", proxy.args[0])
    return match.group(1) if match else None


def headers(location: Directive) -> dict[str, str]:
    return {d.args[0].lower(): " ".join(d.args[1:]) for d in location.find("proxy_set_header")}
