"""Stand-in for `python3 -m dynamo.sglang` (see dynamo/_entry.py)."""
