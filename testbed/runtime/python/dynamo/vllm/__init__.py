"""Stand-in for `python3 -m dynamo.vllm` (see dynamo/_entry.py)."""
