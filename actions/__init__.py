"""The action server: thin rasa_sdk actions that translate the tracker to knowledge/ and back.

Run with `rasa run actions --actions actions` from the repo root.
"""
