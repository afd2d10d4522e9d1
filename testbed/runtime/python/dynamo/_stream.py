"""Token streaming of the stand-in: how many tokens a request gets, how fast they come, and the two
wire formats that carry them.

  * Tokens are the reply's words, each with the whitespace before it, so the pieces joined are the
    reply (the stand-in's token = word, as its usage counts have always been).
  * max_tokens caps the reply (finish_reason "length"); with ignore_eos (Dynamo's root-level
    CommonExt extension, lib/llm/src/protocols/openai/common_ext.rs: "the model will ignore the end
    of string token and generate to max_tokens") the reply's words are repeated up to max_tokens.
  * DYN_STANDIN_TOKEN_DELAY_MS (default 0): the time each token takes, first one included (the
    decode worker sleeps it before each token), so TTFT and inter-token latency mean something.
  * worker -> frontend: HTTP/1.1 chunked NDJSON, one {"token": ...} line per token, then a last
    {"done": true, ...} line with the counts (the stand-in's own internal hop; upstream uses its
    request plane here).
  * frontend -> client: OpenAI server-sent events, `data: {chunk}` per token and `data: [DONE]`
    (https://platform.openai.com/docs/api-reference/chat-streaming); with
    stream_options.include_usage (or DYN_ENABLE_FORCE_INCLUDE_USAGE, shared/reference/dynamo-flags/
    releases-1.x.json) a last chunk with usage and no choices before [DONE].
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
import urllib.request

_TOKEN = re.compile(r"\s*\S+")


def split_tokens(text: str) -> list[str]:
    """The reply's tokens: each word with the whitespace before it ("".join gives the text back,
    but for trailing whitespace)."""
    return _TOKEN.findall(text or "")


def limit_tokens(tokens: list[str], max_tokens, ignore_eos=False) -> tuple[list[str], str]:
    """(tokens generated, finish_reason): capped at max_tokens ("length"), else the whole reply
    ("stop"); ignore_eos repeats the reply's words until max_tokens. No reply stays no reply."""
    if max_tokens is None or not tokens:
        return tokens, "stop"
    n = max(0, int(max_tokens))
    if ignore_eos and len(tokens) < n:
        words = [t.strip() for t in tokens]
        tokens = tokens + [" " + words[i % len(words)] for i in range(n - len(tokens))]
    return (tokens[:n], "length") if len(tokens) >= n else (tokens, "stop")


def token_delay() -> float:
    """Seconds per generated token (DYN_STANDIN_TOKEN_DELAY_MS, default 0)."""
    try:
        return max(0.0, float(os.environ.get("DYN_STANDIN_TOKEN_DELAY_MS") or 0) / 1000.0)
    except ValueError:
        return 0.0


def force_usage() -> bool:
    return os.environ.get("DYN_ENABLE_FORCE_INCLUDE_USAGE", "").strip().lower() in ("1", "true", "yes", "on")


def wants_usage(req: dict) -> bool:
    opts = req.get("stream_options")
    return force_usage() or (isinstance(opts, dict) and bool(opts.get("include_usage")))


class ChunkedWriter:
    """HTTP/1.1 chunked transfer coding on a request handler: send the headers, then write pieces
    as they are made (TCP_NODELAY, so a small piece leaves at once), then close."""

    def __init__(self, handler, content_type: str):
        self.h = handler
        try:
            handler.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        handler.send_response(200)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Cache-Control", "no-cache")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()

    def write(self, data: bytes):
        if data:
            self.h.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.h.wfile.flush()

    def close(self):
        self.h.wfile.write(b"0\r\n\r\n")
        self.h.wfile.flush()


def stream_ndjson(handler, out: dict, delay: float | None = None):
    """The worker's streamed answer: out["text"]'s tokens one line each, `delay` seconds apart
    (the first after one delay too), then the rest of `out` with done: true."""
    delay = token_delay() if delay is None else delay
    w = ChunkedWriter(handler, "application/x-ndjson")
    for tok in split_tokens(out.get("text", "")):
        if delay:
            time.sleep(delay)
        w.write((json.dumps({"token": tok}) + "\n").encode())
    w.write((json.dumps(dict({k: v for k, v in out.items() if k != "text"}, done=True)) + "\n").encode())
    w.close()


def open_ndjson(url: str, body: dict, timeout: float = 30.0):
    """POST `body` and return an iterator over the answer's JSON lines. The connection and the
    HTTP status are checked here (urllib raises before anything is returned); lines are read as
    the worker writes them."""
    req = urllib.request.Request(url, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    resp = urllib.request.urlopen(req, timeout=timeout)

    def lines():
        with resp:
            for raw in resp:
                raw = raw.strip()
                if raw:
                    yield json.loads(raw)
    return lines()


def sse(obj) -> bytes:
    """One server-sent event carrying `obj` (JSON) or the literal [DONE]."""
    return b"data: " + (obj if isinstance(obj, bytes) else json.dumps(obj).encode()) + b"\n\n"
