"""Conversation logs, triage outcomes and the staff console's tables (SQLAlchemy 1.4, 2.0 style)."""
