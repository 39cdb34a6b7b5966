"""Container health check: `python docker/healthcheck.py URL` exits 0 when URL answers 2xx/3xx.

python:3.10-slim has no curl; this uses only the standard library.
"""
import sys
import urllib.request


def main(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5):
            return 0  # urlopen raises for 4xx/5xx
    except OSError:  # URLError, HTTPError, timeouts
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
