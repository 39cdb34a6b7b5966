"""Chat with the running bot in a terminal, over the REST channel (what `make shell` runs).

Buttons are shown as numbers; type the number to press one. Ctrl-D or /quit leaves.
"""
from __future__ import annotations

import argparse
import json
import sys
import urllib.request


def send(url: str, conversation: dict, text: str) -> list[dict]:
    """The first message starts a conversation; the token the bot answers with continues it."""
    body = json.dumps({"message": text, **conversation}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        conversation.update(sender=response.headers["X-Conversation-Id"],
                            token=response.headers["X-Conversation-Token"])
        return json.loads(response.read() or b"[]")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="http://localhost:5005/webhooks/rest/webhook")
    args = parser.parse_args()
    conversation: dict = {}
    buttons: list[dict] = []
    print("Type a message (Ctrl-D or /quit to leave).")
    while True:
        try:
            text = input("you> ").strip()
        except EOFError:
            return 0
        if text == "/quit":
            return 0
        if text.isdigit() and 0 < int(text) <= len(buttons):
            text = buttons[int(text) - 1]["payload"]
        try:
            replies = send(args.url, conversation, text)
        except OSError as error:
            print(f"(cannot reach the bot at {args.url}: {error}; is `make run` running?)", file=sys.stderr)
            continue
        buttons = []
        for reply in replies:
            if reply.get("text"):
                print("bot>", reply["text"].replace("\n", "\n     "))
            for button in reply.get("buttons") or []:
                buttons.append(button)
                print(f"     {len(buttons)}. {button['title']}")
            triage = (reply.get("custom") or {}).get("triage")
            if triage:
                print(f"     [triage: {triage['level']} {', '.join(triage['red_flags']) or ''}]")


if __name__ == "__main__":
    sys.exit(main())
