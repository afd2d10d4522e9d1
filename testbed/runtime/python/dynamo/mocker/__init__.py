"""Stand-in for `python3 -m dynamo.mocker` (see dynamo/_entry.py)."""
