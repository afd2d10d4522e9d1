"""Stand-in for `python3 -m dynamo.trtllm` (see dynamo/_entry.py)."""
