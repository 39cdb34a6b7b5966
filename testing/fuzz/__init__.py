"""Hostile input against the real bot: the bot under test and a fake of the messaging platforms'
APIs (stack.py), hypothesis strategies of what is sent (cases.py), the senders for each channel
and the problems an answer shows (send.py), fuzzing a channel and the tally of outcomes (run.py).

Used by the short run in the test suite (tests/fuzz/test_fuzz_channels.py) and the full run
(benchmarks/fuzz.py). Everything goes to 127.0.0.1: the messaging channels' *_API_URL settings
point at FakePlatformAPI, so no reply leaves the machine.

An outcome is the HTTP status (socket.io: the first event that came back), plus problem labels
that are failures even under a 2xx/4xx status:
  5xx, conn_error (the server dropped or refused the connection), fallback (the channel caught
  an exception from the dialogue and sent its apology), unexpected_400 (the channel's guard
  caught an exception it did not foresee), silent (a 200 with no message, or an empty one),
  degraded (the action server failed), no_reply (socket.io: nothing came back), wrong_413 (an
  over-limit body not answered 413), auth (an unsigned or forged request not answered 401/403).
"""
