"""The action server: rasa_sdk's, plus a shared-token check. Run from the repo root:

    python -m actions.server --actions actions --port 5055

It takes the same arguments as `python -m rasa_sdk` (it builds the same Sanic app with
rasa_sdk.endpoint.create_app and runs the same plugins), and adds:

- CLINIC_ACTION_SERVER_TOKEN: when set, POST /webhook and GET /actions need it, as
  `Authorization: Bearer <token>` (what bot/endpoints.yml's `headers:` sends) or as Rasa's
  `?token=` query parameter (the `token:` endpoint setting; it ends up in access logs, so prefer
  the header). A request without it gets 401, a wrong one 403 (compared in constant time);
  GET /health stays open for health checks. Unset: no check, and a warning at start.
- It listens on 127.0.0.1 unless SANIC_HOST says otherwise (rasa_sdk listens on every
  interface); in a container set SANIC_HOST=0.0.0.0 and do not publish the port.
- An action that crashes is answered 500 {"error": ...} without the request: rasa_sdk's handler
  echoes the whole tracker (every message of the patient) back and logs the exception message;
  this one logs the exception type and its traceback frames only.
"""
from __future__ import annotations

import hmac
import logging
import sys
import traceback
from typing import Any, List, Optional, Text, Union

from rasa_sdk import utils
from rasa_sdk.constants import APPLICATION_ROOT_LOGGER_NAME
from rasa_sdk.endpoint import create_app, create_argument_parser, create_ssl_context
from rasa_sdk.plugin import plugin_manager
from sanic import Sanic, response
from sanic.exceptions import SanicException
from sanic.request import Request

from clinic.settings import get_settings

logger = logging.getLogger(__name__)

TOKEN_ENV = "CLINIC_ACTION_SERVER_TOKEN"
OPEN_PATHS = frozenset({"/health"})


def presented_token(request: Request) -> str:
    authorization = request.headers.get("Authorization") or ""
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.args.get("token") or ""


def require_token(app: Sanic, token: str) -> None:
    """Every route but /health needs the shared token."""
    expected = token.encode()

    @app.middleware("request")
    async def check_token(request: Request):
        if request.path in OPEN_PATHS:
            return None
        given = presented_token(request)
        if not given:
            return response.json({"error": "this server needs the shared token"}, status=401)
        if not hmac.compare_digest(given.encode(), expected):
            return response.json({"error": "the token does not match"}, status=403)
        return None


def answer_errors_without_the_request(app: Sanic) -> None:
    @app.exception(Exception)
    async def on_error(request: Request, exception: Exception):
        if isinstance(exception, SanicException):  # bad requests stay 4xx
            status = getattr(exception, "status_code", 500) or 500
            return response.json({"error": type(exception).__name__}, status=status)
        frames = "".join(traceback.format_tb(exception.__traceback__))
        logger.error("action server: %s while handling %s %s\n%s", type(exception).__name__,
                     request.method, request.path, frames)
        logger.debug("the failure in full", exc_info=exception)
        return response.json({"error": f"the action failed ({type(exception).__name__})"}, status=500)


def create_server_app(action_package_name: Union[Text, Any],
                      cors_origins: Union[Text, List[Text], None] = None,
                      auto_reload: bool = False, token: Optional[str] = None) -> Sanic:
    app = create_app(action_package_name, cors_origins=cors_origins, auto_reload=auto_reload)
    answer_errors_without_the_request(app)
    token = get_settings().action_server_token if token is None else token
    if token:
        require_token(app, token)
    else:
        logger.warning("%s is not set: the action server accepts calls from anyone who can reach it",
                       TOKEN_ENV)
    return app


def main(argv: Optional[List[str]] = None) -> None:
    args = create_argument_parser().parse_args(argv)
    logging.getLogger("matplotlib").setLevel(logging.WARN)
    utils.configure_colored_logging(args.loglevel)
    utils.configure_file_logging(logging.getLogger(APPLICATION_ROOT_LOGGER_NAME), args.log_file,
                                 args.loglevel, args.logging_config_file)
    utils.update_sanic_log_level()

    app = create_server_app(args.actions, cors_origins=args.cors, auto_reload=args.auto_reload)
    plugin_manager().hook.attach_sanic_app_extensions(app=app)
    ssl_context = create_ssl_context(args.ssl_certificate, args.ssl_keyfile, args.ssl_password)
    host = get_settings().sanic_host
    logger.info("Action endpoint is up and running on %s://%s:%s",
                "https" if ssl_context else "http", host, args.port)
    app.run(host, args.port, ssl=ssl_context, workers=utils.number_of_sanic_workers())


if __name__ == "__main__":
    sys.exit(main())
