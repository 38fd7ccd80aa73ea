"""Database operations, keyword-only; callers commit, so a change and its audit entry are atomic."""
