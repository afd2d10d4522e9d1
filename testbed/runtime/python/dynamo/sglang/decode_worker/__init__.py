"""Stand-in for `python3 -m dynamo.sglang.decode_worker` (Dynamo 0.4.0 only; see dynamo/_entry.py)."""
