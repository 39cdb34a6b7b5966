"""Send the check-ins that are due: `python -m bot.followups send-due`.

Run it from cron (every 15 minutes is plenty; it sends each check-in once). It sends nothing, and
says why, unless:
- check-ins are on (CLINIC_FOLLOW_UPS_ENABLED);
- the clinic is open (CLINIC_HOURS), so that a reply that things got worse reaches someone
  (`--any-time` sends anyway);
- a way to reach the patient is configured: text messages through Twilio (TWILIO_ACCOUNT_SID,
  TWILIO_AUTH_TOKEN, TWILIO_NUMBER; TWILIO_API_URL points at a fake API in tests) for numbers
  patients gave and for conversations that came by SMS, or the patient's Telegram or Slack chat
  when that channel's credentials are set (bot/channels/credentials.py). A check-in with no way to
  send it stays scheduled.

Each check-in goes through the channel adapter's own rendering and delivery (bot/channels): SMS
splits, numbered options, the platform's API. A failed send is tried again on the next run, three
tries in all (storage/followups.py). It prints and logs counts, ids and exception classes only:
never a number or a message.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Awaitable, Callable, Mapping, Protocol

from sqlalchemy.engine import Engine

from bot.channels.credentials import CHANNELS, ChannelSpec
from bot.channels.messaging import BufferedOutput
from bot.channels.rendering import merge_response, render
from clinic.hours import OpeningHours
from clinic.settings import contact_details, environment, get_settings
from knowledge.follow_up import check_in_messages
from storage.db import get_engine, session_factory
from storage.followups import claim_due, count_due, mark_failed, mark_sent
from storage.models import FollowUp, utcnow

logger = logging.getLogger(__name__)

SMS = "sms"
TWILIO_SMS = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_NUMBER")
CHAT_CHANNELS = ("telegram", "slack")   # the chats the clinic may write to first (storage/followups.py)
NO_GATEWAY = ("no way to send is configured: set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_NUMBER "
              "for text messages, or the Telegram or Slack channel's credentials")


class Sender(Protocol):
    async def send(self, recipient_id: str, messages: list[dict]) -> None: ...

    async def close(self) -> None: ...


@dataclass
class Gateway:
    """A channel adapter's output: its rendering for the platform and its delivery."""
    output: BufferedOutput
    closer: Callable[[], Awaitable[None]]

    async def send(self, recipient_id: str, messages: list[dict]) -> None:
        """Every part delivered, or the platform's error raised (the output's own flush only logs)."""
        pending = [merge_response(recipient_id, message) for message in messages]
        for outgoing in render(pending, self.output.profile_for(recipient_id)):
            await self.output.deliver(recipient_id, outgoing)

    async def close(self) -> None:
        await self.closer()


def _credentials(spec: ChannelSpec, env: Mapping[str, str]) -> dict[str, Any]:
    keys = {**spec.required, **spec.optional}
    return {**spec.fixed, **{key: env[var] for key, var in keys.items() if env.get(var, "").strip()}}


def twilio_sms(env: Mapping[str, str]) -> Gateway:
    from bot.channels.twilio import ClinicTwilioOutput, twilio_api_client

    client = twilio_api_client(env["TWILIO_ACCOUNT_SID"], env["TWILIO_AUTH_TOKEN"], env.get("TWILIO_API_URL") or None)
    return Gateway(ClinicTwilioOutput(client, env["TWILIO_NUMBER"], "", collect=True), client.http_client.close)


def chat_gateway(spec: ChannelSpec, env: Mapping[str, str]) -> Gateway:
    """The channel's own output, made from the same credentials as the running channel."""
    from importlib import import_module

    module, _, name = spec.class_path.rpartition(".")
    channel = getattr(import_module(module), name).from_credentials(_credentials(spec, env))
    output = channel.get_output_channel(collect=True)
    if spec.name == "slack":
        output.slack_channel, output.thread_id = None, None   # the person's direct messages, never a shared channel

    async def close() -> None:
        if channel._api is not None:
            await channel.close_api_client(channel._api)
    return Gateway(output, close)


def configured_gateways(env: Mapping[str, str]) -> dict[str, Sender]:
    """Every way to send that the environment configures (made inside the running event loop)."""
    gateways: dict[str, Sender] = {}
    if all(env.get(var, "").strip() for var in TWILIO_SMS):
        gateways[SMS] = twilio_sms(env)
    for spec in CHANNELS:
        if spec.name in CHAT_CHANNELS and not spec.missing(env):
            gateways[spec.name] = chat_gateway(spec, env)
    return gateways


def route(follow_up: FollowUp) -> tuple[str, str]:
    """(gateway, recipient): the number given, or the chat's own id on its platform (a
    conversation that came by SMS is answered by SMS)."""
    if follow_up.contact_method == SMS:
        return SMS, follow_up.contact_value
    platform_id = follow_up.conversation_id.removeprefix(f"{follow_up.channel}:")
    return (SMS if follow_up.channel == "twilio" else follow_up.channel or "?"), platform_id


@dataclass
class Tally:
    sent: int = 0
    failed: int = 0
    gave_up: int = 0
    waiting: Counter = field(default_factory=Counter)    # no gateway for them, by gateway

    def summary(self) -> str:
        parts = [f"sent {self.sent} check-in(s)"]
        if self.failed:
            parts.append(f"{self.failed} failed ({self.gave_up} after the last try, the rest are tried again "
                         "next run)")
        for gateway, count in sorted(self.waiting.items()):
            parts.append(f"{count} wait for a way to send by {gateway} (not configured)")
        return "; ".join(parts)


async def send_due(engine: Engine, gateways: Mapping[str, Sender], contact: Mapping[str, str], now: datetime,
                   limit: int = 500) -> Tally:
    """Send every check-in due at `now`, each in its own transaction, holding its row while it is sent."""
    tally, passed = Tally(), set()
    sessions = session_factory(engine)
    for _ in range(limit):
        with sessions() as session, session.begin():
            follow_up = claim_due(session, now, passed)
            if follow_up is None:
                break
            gateway_name, recipient = route(follow_up)
            gateway = gateways.get(gateway_name)
            if gateway is None:
                passed.add(follow_up.id)
                tally.waiting[gateway_name] += 1
                continue
            messages = check_in_messages(follow_up.presentation, follow_up.presentations, follow_up.after_days,
                                         follow_up.level, contact)
            try:
                await gateway.send(recipient, messages)
            except Exception as error:  # noqa: BLE001  one failure must not stop the others
                mark_failed(follow_up, error, now)
                passed.add(follow_up.id)
                tally.failed += 1
                tally.gave_up += follow_up.status == "failed"
                logger.warning("check-in %d not sent by %s (%s)", follow_up.id, gateway_name, type(error).__name__)
            else:
                mark_sent(follow_up, now)
                tally.sent += 1
    return tally


async def _send(engine: Engine, due: int, now: datetime, limit: int) -> int:
    gateways = configured_gateways(environment())
    if not gateways:
        print(f"{due} check-in(s) due, none sent: {NO_GATEWAY}")
        return 0
    try:
        tally = await send_due(engine, gateways, contact_details(), now, limit)
    finally:
        for gateway in gateways.values():
            await gateway.close()
    print(tally.summary())
    return 1 if tally.failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.followups", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    send = commands.add_parser("send-due", help="send the check-ins that are due")
    send.add_argument("--any-time", action="store_true", help="send even when the clinic is closed")
    send.add_argument("--limit", type=int, default=500, help="at most this many in one run")
    args = parser.parse_args(argv)

    settings = get_settings()
    if not settings.follow_ups_enabled:
        print("check-ins are off (CLINIC_FOLLOW_UPS_ENABLED is not set): nothing sent")
        return 0
    engine = get_engine(settings.database_url)
    now = utcnow()
    with session_factory(engine)() as session:
        due = count_due(session, now)
    if not due:
        print("no check-in is due")
        return 0
    if not args.any_time and not OpeningHours.parse(settings.clinic_hours, settings.clinic_timezone).is_open(now):
        print(f"{due} check-in(s) due; the clinic is closed, so they wait until it opens (--any-time sends now)")
        return 0
    return asyncio.run(_send(engine, due, now, args.limit))


if __name__ == "__main__":
    sys.exit(main())
