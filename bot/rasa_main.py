"""Rasa's command line, with the HTTP API token read from the environment.

`rasa run --enable-api --auth-token X` shows X to anyone who can list processes. Run
`python -m bot.rasa_main run --enable-api ...` instead: the token comes from RASA_API_TOKEN and
is added inside the process. The API is refused without a token rather than left open.
"""
from __future__ import annotations

import sys
from typing import Mapping, Sequence

from clinic.settings import environment

TOKEN_VARIABLE = "RASA_API_TOKEN"


def argv_with_token(argv: Sequence[str], env: Mapping[str, str]) -> list[str]:
    argv = list(argv)
    if "--enable-api" not in argv or "--auth-token" in argv:
        return argv
    token = env.get(TOKEN_VARIABLE, "")
    if not token:
        raise SystemExit(f"--enable-api needs {TOKEN_VARIABLE} in the environment (the API would be open)")
    return [*argv, "--auth-token", token]


if __name__ == "__main__":
    sys.argv = argv_with_token(sys.argv, environment())
    from rasa.__main__ import main

    main()
