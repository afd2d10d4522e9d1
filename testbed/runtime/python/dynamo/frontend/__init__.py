"""Stand-in for `python3 -m dynamo.frontend` (see dynamo/_entry.py)."""
