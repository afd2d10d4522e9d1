"""Process- and network-level behaviour shared by every stand-in component.

What the real Dynamo runtime does that a deployment script can get wrong, and which the stand-in
therefore reproduces with the REAL services:
  * etcd discovery: each worker takes a lease (TTL 10 s, keep-alive every 3 s) and puts
    v1/instances/<namespace>/<component>/generate/<lease id hex> under it, through etcd's HTTP
    gRPC-gateway (etcd 3.4: /v3/lease/grant, /v3/kv/put, /v3/lease/keepalive, /v3/kv/range,
    /v3/lease/revoke). The lease id is the instance id, as upstream.
    Or, when the release is told so (--discovery-backend file|mem), the `file` backend (files under
    DYN_FILE_KV) or the in-process `mem` one (see Infra).
  * NATS: a plain TCP client (INFO, CONNECT, PING/PONG) that answers server PINGs; connected when
    NATS_SERVER is exported, or at the default nats://localhost:4222 when the release needs NATS.
  * endpoints bound on the node's routable IP, so a request really crosses nodes.
  * multi-node engines: the leader waits for its peers (like torch.distributed / MPI), peers die
    with the leader.
  * signals: SIGTERM/SIGINT revoke the lease (instance disappears at once) and exit 0.
Stdlib only (Python 3.11), because the testbed has no PyPI.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LEASE_TTL = 10
KEEPALIVE_EVERY = 3.0
CONNECT_TIMEOUT = float(os.environ.get("DYN_STANDIN_CONNECT_TIMEOUT", "10"))
PEER_TIMEOUT = float(os.environ.get("DYN_STANDIN_PEER_TIMEOUT", "120"))
INSTANCES_PREFIX = "v1/instances/"


class Fatal(Exception):
    """Stop the process with exit code `code` after printing `msg` (clean-up still runs)."""

    def __init__(self, code: int, msg: str):
        super().__init__(msg)
        self.code = code


# ----------------------------------------------------------------------------------------- logging
class Log:
    def __init__(self, label: str):
        self.label = label

    def __call__(self, msg: str, err: bool = False):
        ts = time.strftime("%H:%M:%S")
        line = f"{ts} [dyn-standin {self.label}] {msg}"
        print(line, file=sys.stderr if err else sys.stdout, flush=True)


def hostname() -> str:
    return socket.gethostname()


def host_ip() -> str:
    """The node's routable IP: DYN_STANDIN_HOST, else hostname resolution, else the first
    non-loopback address of `ip -4 addr` (on the testbed, hostname resolution gives 10.77.0.x)."""
    if os.environ.get("DYN_STANDIN_HOST"):
        return os.environ["DYN_STANDIN_HOST"]
    try:
        ip = socket.gethostbyname(socket.gethostname())
        if not ip.startswith("127."):
            return ip
    except OSError:
        pass
    try:
        out = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True,
                             timeout=5).stdout
        for line in out.splitlines():
            parts = line.split()
            if "inet" in parts:
                ip = parts[parts.index("inet") + 1].split("/")[0]
                if not ip.startswith("127."):
                    return ip
    except (OSError, subprocess.SubprocessError):
        pass
    return "127.0.0.1"


# ----------------------------------------------------------------------------------------- lifecycle
class Lifecycle:
    """One per process: the stop event set by signals, crashes (hooks) or fatal errors."""

    def __init__(self):
        self.stop = threading.Event()
        self.code = 0
        self.reason = ""
        self.crash = False      # True: exit without revoking leases (simulated crash)

    def request_exit(self, code: int, reason: str, crash: bool = False):
        if not self.stop.is_set():
            self.code, self.reason, self.crash = code, reason, crash
            self.stop.set()

    def install_signals(self, log: Log):
        def handler(signum, _frame):
            log(f"received {signal.Signals(signum).name}: shutting down")
            self.request_exit(0, signal.Signals(signum).name)
        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def sleep(self, seconds: float) -> bool:
        """Interruptible sleep; True if the process is stopping."""
        return self.stop.wait(seconds)


# ----------------------------------------------------------------------------------------- hooks
class Hooks:
    """Test hooks from the environment (see testbed/README.md).

    DYN_STANDIN_HOOKS_ONLY (comma list) restricts START_DELAY / EXIT_AFTER to processes whose
    tokens match (role: frontend|prefill|decode|agg, component name, hostname, rankN), because a
    job's environment is shared by every srun step.
    """

    def __init__(self, tokens):
        only = [t.strip() for t in os.environ.get("DYN_STANDIN_HOOKS_ONLY", "").split(",") if t.strip()]
        applies = not only or any(t in tokens for t in only)
        self.start_delay = float(os.environ.get("DYN_STANDIN_START_DELAY") or 0) if applies else 0.0
        ea = os.environ.get("DYN_STANDIN_EXIT_AFTER")
        self.exit_after = float(ea) if (ea and applies) else None
        # DYN_STANDIN_EMPTY_REPLY=1: registered and answering, with no tokens (HTTP 200, empty text).
        self.empty_reply = applies and os.environ.get("DYN_STANDIN_EMPTY_REPLY") == "1"
        # DYN_STANDIN_SKIP_PREFILL=1: a decode worker serves every request without the prefill workers
        # (prefills locally), as a misconfigured disaggregated deployment does: tokens come back and
        # the prefill workers stay idle. Only decode workers act on it.
        self.skip_prefill = applies and "decode" in tokens and os.environ.get("DYN_STANDIN_SKIP_PREFILL") == "1"
        da = os.environ.get("DYN_STANDIN_DEREGISTER_AFTER")
        self.deregister_after = float(da) if (da and applies) else None

    @staticmethod
    def log_secrets(log: Log):
        """Prove a secret reached the process without ever printing it."""
        for name in [n.strip() for n in os.environ.get("DYN_STANDIN_SECRETS", "").split(",") if n.strip()]:
            if name in os.environ:
                digest = hashlib.sha256(os.environ[name].encode()).hexdigest()[:12]
                log(f"secret {name} received sha256={digest}")
            else:
                log(f"secret {name} missing")

    def arm_exit_after(self, life: Lifecycle, log: Log):
        if self.exit_after is None:
            return

        def crash():
            if not life.stop.wait(self.exit_after):
                log(f"DYN_STANDIN_EXIT_AFTER={self.exit_after:g}: simulating a crash (exit 3)", err=True)
                life.request_exit(3, "simulated crash", crash=True)
        threading.Thread(target=crash, daemon=True).start()

    def arm_deregister_after(self, life: Lifecycle, log: Log, deregister):
        """DYN_STANDIN_DEREGISTER_AFTER=S: S seconds after registering, the instance leaves discovery
        (its lease revoked, as a worker whose runtime lost etcd) while the process keeps running.
        SIGUSR1 does the same at once, whenever a test chooses."""
        def on_usr1(_signum, _frame):
            log("SIGUSR1: deregistering, still running", err=True)
            threading.Thread(target=deregister, daemon=True).start()
        try:
            signal.signal(signal.SIGUSR1, on_usr1)
        except ValueError:  # not the main thread: only the timed hook then
            pass
        if self.deregister_after is None:
            return

        def leave():
            if not life.stop.wait(self.deregister_after):
                log(f"DYN_STANDIN_DEREGISTER_AFTER={self.deregister_after:g}: deregistering, still running", err=True)
                deregister()
        threading.Thread(target=leave, daemon=True).start()


# ----------------------------------------------------------------------------------------- etcd
def _b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def _unb64(s: str) -> str:
    return base64.b64decode(s).decode(errors="replace")


class Etcd:
    """Minimal etcd v3 client over the HTTP/JSON gateway (etcd 3.4 paths)."""

    def __init__(self, endpoints: str | None, log: Log):
        self.log = log
        self.explicit = bool(endpoints)
        raw = endpoints or "http://localhost:2379"   # upstream default when ETCD_ENDPOINTS is unset
        self.urls = []
        for ep in raw.split(","):
            ep = ep.strip().rstrip("/")
            if not ep:
                continue
            if "://" not in ep:
                ep = "http://" + ep           # upstream accepts host:port without scheme
            if ep.startswith("https://"):
                raise Fatal(1, f"ETCD_ENDPOINTS {ep}: TLS is not supported by the stand-in")
            self.urls.append(ep)
        self.url = self.urls[0]

    def _post(self, path: str, body: dict, timeout: float = 3.0) -> dict:
        last = None
        for url in [self.url] + [u for u in self.urls if u != self.url]:
            req = urllib.request.Request(url + path, data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=timeout) as r:
                    self.url = url
                    text = r.read().decode()
                    # streaming endpoints (keepalive) may return several JSON objects: take the first
                    return json.JSONDecoder().raw_decode(text.strip() or "{}")[0]
            except (urllib.error.URLError, OSError, ValueError) as e:
                last = e
        raise ConnectionError(f"etcd {','.join(self.urls)}{path}: {last}")

    def wait_ready(self, life: Lifecycle, timeout: float = CONNECT_TIMEOUT):
        """Bounded retries; Fatal(1) if etcd cannot be reached (like the real runtime failing)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._post("/v3/kv/range", {"key": _b64("v1/")})
                return
            except ConnectionError as e:
                if time.monotonic() >= deadline:
                    src = "ETCD_ENDPOINTS" if self.explicit else "default (ETCD_ENDPOINTS unset)"
                    raise Fatal(1, f"cannot reach etcd at {','.join(self.urls)} [{src}] after "
                                   f"{timeout:g}s: {e}")
            if life.sleep(0.3):
                raise Fatal(0, "stopped while waiting for etcd")

    def grant(self, ttl: int) -> int:
        return int(self._post("/v3/lease/grant", {"TTL": ttl})["ID"])

    def put(self, key: str, value: str, lease: int | None = None):
        body = {"key": _b64(key), "value": _b64(value)}
        if lease:
            body["lease"] = str(lease)
        self._post("/v3/kv/put", body)

    def keepalive(self, lease: int) -> int:
        """Returns the remaining TTL (0 = lease gone)."""
        res = self._post("/v3/lease/keepalive", {"ID": str(lease)})
        return int(res.get("result", {}).get("TTL", 0) or 0)

    def revoke(self, lease: int):
        self._post("/v3/lease/revoke", {"ID": str(lease)}, timeout=2.0)

    def get_prefix(self, prefix: str) -> list:
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        res = self._post("/v3/kv/range", {"key": _b64(prefix), "range_end": _b64(end)})
        return [(_unb64(kv["key"]), _unb64(kv.get("value", ""))) for kv in res.get("kvs", [])]


# ----------------------------------------------------------------------------------------- NATS
class Nats:
    """Holds one real NATS connection open and answers server PINGs (so the server keeps us)."""

    def __init__(self, url: str, log: Log, name: str):
        self.log, self.name, self.url = log, name, url
        self.sock = None
        self.closing = False

    @staticmethod
    def parse(url: str):
        url = url.split(",")[0].strip()
        if not url.startswith("nats://"):
            # upstream requires the scheme (ai-dynamo/dynamo#1520): fail like it does
            raise Fatal(1, f"NATS_SERVER={url!r}: expected nats://host[:port]")
        hostport = url[len("nats://"):].rstrip("/").split("@")[-1]
        host, _, port = hostport.partition(":")
        return host, int(port or 4222)

    def connect(self, life: Lifecycle, timeout: float = CONNECT_TIMEOUT, why: str = ""):
        host, port = self.parse(self.url)
        deadline = time.monotonic() + timeout
        err = None
        while time.monotonic() < deadline and not life.stop.is_set():
            try:
                s = socket.create_connection((host, port), timeout=3)
                f = s.makefile("rb")
                info = f.readline()
                if not info.startswith(b"INFO "):
                    raise OSError(f"unexpected greeting {info[:40]!r}")
                connect = {"verbose": False, "pedantic": False, "name": self.name, "lang": "python-standin",
                           "version": "0", "protocol": 1}
                s.sendall(b"CONNECT " + json.dumps(connect).encode() + b"\r\nPING\r\n")
                line = f.readline()
                if not line.startswith(b"PONG"):
                    raise OSError(f"expected PONG, got {line[:60]!r}")
                s.settimeout(None)
                self.sock, self.file = s, f
                threading.Thread(target=self._reader, daemon=True).start()
                self.log(f"connected to NATS {host}:{port}")
                return
            except OSError as e:
                err = e
                life.sleep(0.3)
        if life.stop.is_set():
            raise Fatal(0, "stopped while connecting to NATS")
        raise Fatal(1, f"cannot connect to NATS at {self.url} after {timeout:g}s: {err}"
                       + (f" ({why})" if why else ""))

    def _reader(self):
        try:
            for line in iter(self.file.readline, b""):
                if line.startswith(b"PING"):
                    self.sock.sendall(b"PONG\r\n")
                elif line.startswith(b"-ERR"):
                    self.log(f"NATS error: {line.decode().strip()}", err=True)
        except OSError:
            pass
        if not self.closing:
            self.log("NATS connection lost", err=True)

    def close(self):
        self.closing = True
        if self.sock:
            try:
                self.sock.close()
            except OSError:
                pass


class Infra:
    """What the impersonated release's runtime connects to, per shared/reference/dynamo-releases.md
    ("Infrastructure each release needs") and the tables' `infra` notes:
      * discovery: etcd in every release; `--discovery-backend` / DYN_DISCOVERY_BACKEND (1.0.0+;
        0.9.0: `--store-kv` / DYN_STORE_KV, the Rust runtime also reads DYN_DISCOVERY_BACKEND)
        file|mem means no etcd. kubernetes is not supported by the stand-in (exit 1).
      * NATS: "required through 0.9.x (0.3.2-0.6.1 have no plane flags at all), required by default
        in 1.0-1.1 (--event-plane nats), auto in 1.2 (nats with etcd discovery), optional from 1.3.0
        (event plane defaults to zmq)"; the request plane nats needs it too. "Whenever NATS_SERVER is
        exported the runtime connects to it and fails without a server" (lib/runtime/src/
        distributed.rs nats_enabled) - in every release.
    """

    def __init__(self, version: str, parser=None, opts=None):
        from ._flags import at_least
        self.version = version
        has = parser.has if parser else (lambda _n: False)
        get = opts.get if opts else (lambda _k, _d=None: None)
        disc = None
        if has("--discovery-backend"):
            disc = get("discovery_backend")
        elif has("--store-kv"):
            disc = get("store_kv") if ("store_kv" in opts.given or "store_kv" in opts.from_env) else None
        if not disc and at_least(version, "0.9.0"):
            disc = os.environ.get("DYN_DISCOVERY_BACKEND") or None
        self.discovery = disc or "etcd"
        ev = get("event_plane") if has("--event-plane") else None
        if not ev and at_least(version, "0.9.0"):          # DYN_EVENT_PLANE is read only from 0.9.0
            ev = os.environ.get("DYN_EVENT_PLANE") or None
        if not ev:
            if not at_least(version, "1.2.0"):
                ev = "nats"
            elif not at_least(version, "1.3.0"):           # 1.2: auto (#8614)
                ev = "nats" if self.discovery in ("etcd", "kubernetes") else "zmq"
            else:                                          # 1.3.0+: zmq for every backend (#10902)
                ev = "zmq"
        self.event_plane = ev
        rp = get("request_plane") if has("--request-plane") else None
        if not rp and at_least(version, "0.9.0"):
            rp = os.environ.get("DYN_REQUEST_PLANE") or None
        self.request_plane = rp or ("tcp" if at_least(version, "0.9.0") else "nats")
        if not at_least(version, "1.0.0"):
            self.nats_why = f"Dynamo {version} always needs NATS (through 0.9.x)"
        elif self.event_plane == "nats":
            self.nats_why = f"the event plane is nats in Dynamo {version}"
        elif self.request_plane == "nats":
            self.nats_why = "the request plane is nats"
        else:
            self.nats_why = None
        self.nats_required = self.nats_why is not None

    def describe(self) -> str:
        return (f"discovery={self.discovery} event-plane={self.event_plane} request-plane={self.request_plane} "
                f"NATS={'required: ' + self.nats_why if self.nats_required else 'not required'}")


def connect_services(life: Lifecycle, log: Log, name: str, infra: Infra, need_discovery: bool = True):
    """NATS (NATS_SERVER, or the default nats://localhost:4222 when the release needs NATS), then the
    discovery store (etcd: ETCD_ENDPOINTS or the upstream default; file; mem)."""
    nats = None
    url = os.environ.get("NATS_SERVER")
    if url:
        nats = Nats(url, log, name)
        nats.connect(life, why="NATS_SERVER is exported, so the runtime connects to it")
    elif infra.nats_required:
        nats = Nats("nats://localhost:4222", log, name)
        nats.connect(life, why=f"NATS_SERVER is unset, so the default; {infra.nats_why}")
    store = None
    if need_discovery:
        store = open_store(infra, log, life)
    return nats, store


def open_store(infra: Infra, log: Log, life: Lifecycle):
    if infra.discovery == "etcd":
        etcd = Etcd(os.environ.get("ETCD_ENDPOINTS"), log)
        etcd.wait_ready(life)
        log(f"connected to etcd {etcd.url}")
        return etcd
    if infra.discovery == "file":
        store = FileStore(os.environ.get("DYN_FILE_KV")
                          or os.path.join(os.environ.get("TMPDIR") or "/tmp", "dynamo_store_kv"))
        log(f"file discovery backend in {store.root} (single machine only, as upstream documents)")
        return store
    if infra.discovery == "mem":
        log("mem discovery backend: registrations are visible only inside this process")
        return MemStore()
    raise Fatal(1, f"discovery backend {infra.discovery!r} is not supported by the Dynamo stand-in "
                   f"(supported: etcd, file, mem)")


class FileStore:
    """The `file` discovery backend (DYN_FILE_KV, default $TMPDIR/dynamo_store_kv): one file per key
    under the root. A lease is the set of files a process wrote: keep-alives refresh their mtime,
    readers ignore files older than the lease TTL (a crashed process disappears after 10 s), and
    revoking deletes them."""

    def __init__(self, root: str):
        self.root = root
        self.url = "file://" + root
        self.leases = {}
        os.makedirs(root, exist_ok=True)

    def wait_ready(self, life=None, timeout=None):
        os.makedirs(self.root, exist_ok=True)

    def grant(self, ttl: int) -> int:
        lease = int.from_bytes(os.urandom(8), "big") & 0x7FFFFFFFFFFFFFFF
        self.leases[lease] = []
        return lease

    def _path(self, key: str) -> str:
        parts = [p for p in key.split("/") if p not in ("", ".", "..")]
        return os.path.join(self.root, *parts)

    def put(self, key: str, value: str, lease: int | None = None):
        path = self._path(key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.tmp{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(value)
        os.replace(tmp, path)
        if lease:
            self.leases.setdefault(lease, []).append(path)

    def keepalive(self, lease: int) -> int:
        alive = 0
        for path in self.leases.get(lease, []):
            try:
                os.utime(path)
                alive += 1
            except OSError:
                pass
        return LEASE_TTL if alive else 0

    def revoke(self, lease: int):
        for path in self.leases.pop(lease, []):
            try:
                os.unlink(path)
            except OSError:
                pass

    def get_prefix(self, prefix: str) -> list:
        out = []
        now = time.time()
        for dirpath, _dirs, files in os.walk(self.root):
            for fn in files:
                if ".tmp" in fn:
                    continue
                path = os.path.join(dirpath, fn)
                key = os.path.relpath(path, self.root).replace(os.sep, "/")
                if not key.startswith(prefix):
                    continue
                try:
                    if now - os.path.getmtime(path) > LEASE_TTL:
                        continue            # its lease expired (the writer died without revoking)
                    with open(path, encoding="utf-8") as f:
                        out.append((key, f.read()))
                except OSError:
                    continue
        return sorted(out)


class MemStore:
    """The `mem` discovery backend: an in-process map, so other processes never see the entries."""

    url = "mem://"

    def __init__(self):
        self.kv, self.leases = {}, {}

    def wait_ready(self, life=None, timeout=None):
        pass

    def grant(self, ttl: int) -> int:
        lease = int.from_bytes(os.urandom(8), "big") & 0x7FFFFFFFFFFFFFFF
        self.leases[lease] = []
        return lease

    def put(self, key, value, lease=None):
        self.kv[key] = value
        if lease:
            self.leases.setdefault(lease, []).append(key)

    def keepalive(self, lease):
        return LEASE_TTL if lease in self.leases else 0

    def revoke(self, lease):
        for k in self.leases.pop(lease, []):
            self.kv.pop(k, None)

    def get_prefix(self, prefix):
        return sorted((k, v) for k, v in self.kv.items() if k.startswith(prefix))


def system_port(version: str, log: Log | None = None):
    """The worker's system server port (/health, /live; 1.4.0+ also the self-hosted model card), or
    None when the release leaves it off. shared/reference/dynamo-releases.md, "Environment a launcher
    must set": 0.4.1/0.6.1 read DYN_SYSTEM_PORT only with DYN_SYSTEM_ENABLED=true (then default
    9090); from 0.9.0 a port >= 0 enables it (default -1, off). 0.3.2 does not read it (not in its
    env table)."""
    from ._flags import at_least
    raw = os.environ.get("DYN_SYSTEM_PORT", "").strip()
    if not at_least(version, "0.4.1"):
        return None
    if not at_least(version, "0.9.0"):
        if os.environ.get("DYN_SYSTEM_ENABLED", "").strip().lower() != "true":
            if raw and log:
                log(f"DYN_SYSTEM_PORT={raw} ignored: Dynamo {version} starts the system server only with "
                    f"DYN_SYSTEM_ENABLED=true")
            return None
        raw = raw or "9090"
    if not raw:
        return None
    try:
        port = int(raw)
    except ValueError:
        raise Fatal(1, f"DYN_SYSTEM_PORT={raw!r} is not a port number") from None
    return port if port >= 0 else None


# ----------------------------------------------------------------------------------------- HTTP
class JsonHandler(BaseHTTPRequestHandler):
    """Base handler: JSON in/out, quiet access log; subclasses set `routes`."""
    server_version = "dyn-standin/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):   # keep the job log readable
        pass

    def send_json(self, code: int, obj, headers=None):
        data = (json.dumps(obj) + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def read_json(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            return None


class _Server(ThreadingHTTPServer):
    # listen(2) backlog: socketserver's default of 5 drops the SYNs of a burst of new connections
    # (dyn bench at concurrency 16+), which the client retransmits only after 1 s.
    request_queue_size = 256


def serve(handler_cls, host: str, port: int, **attrs):
    """Start a threaded HTTP server in the background; returns it (server.server_address)."""
    cls = type(handler_cls.__name__, (handler_cls,), attrs)
    srv = _Server((host, port), cls)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    return srv


def post_json(url: str, body: dict, timeout: float = 30.0) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def reply_text(model: str, messages) -> str:
    """The deterministic 'generation': tests can predict it exactly."""
    last = ""
    if isinstance(messages, str):
        last = messages
    else:
        for m in messages or []:
            if isinstance(m, dict) and m.get("role") == "user":
                c = m.get("content")
                last = c if isinstance(c, str) else json.dumps(c)
    return f"[{model}] stand-in reply to: {last}"


# ----------------------------------------------------------------------------------------- peers
class PeerGroup:
    """Rendezvous of the N processes of one multi-node engine (stand-in for torch.distributed / MPI).

    Rank 0 listens on `addr` and waits (bounded) until ranks 1..N-1 connected and said
    "RANK r NNODES n"; then it answers READY to all. Peers retry connecting, wait for READY and then
    live as long as the leader: "BYE" (or EOF) from the leader ends them. A peer that vanishes
    without BYE kills the leader (a real engine dies when a rank dies).
    """

    def __init__(self, life: Lifecycle, log: Log, rank: int, nnodes: int, host: str, port: int):
        self.life, self.log = life, log
        self.rank, self.nnodes, self.host, self.port = rank, nnodes, host, port
        self.conns = {}
        self.sock = None
        self.leader_code = None

    def start(self, timeout: float = PEER_TIMEOUT, bind_any: bool = False):
        if self.nnodes <= 1:
            return
        if self.rank == 0:
            self._lead(timeout, bind_any)
        else:
            self._join(timeout)

    def _lead(self, timeout: float, bind_any: bool):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        bind_host = "0.0.0.0" if bind_any else self.host
        try:
            s.bind((bind_host, self.port))
        except OSError as e:
            raise Fatal(1, f"rank 0 cannot listen on {bind_host}:{self.port} ({e}); "
                           f"is the leader address this node's own IP?")
        s.listen(64)
        s.settimeout(0.3)
        self.sock = s
        self.log(f"rank 0: waiting for {self.nnodes - 1} peer(s) on {bind_host}:{self.port}")
        deadline = time.monotonic() + timeout
        while len(self.conns) < self.nnodes - 1:
            if self.life.stop.is_set():
                raise Fatal(0, "stopped while waiting for peers")
            if time.monotonic() > deadline:
                missing = sorted(set(range(1, self.nnodes)) - set(self.conns))
                raise Fatal(1, f"rank 0: timed out after {timeout:g}s waiting for ranks {missing}")
            try:
                c, peer = s.accept()
            except socket.timeout:
                continue
            c.settimeout(10)
            try:
                line = c.makefile("r").readline().split()
                r, n = int(line[1]), int(line[3])
            except (OSError, ValueError, IndexError):
                c.close()
                continue
            if n != self.nnodes or not 0 < r < self.nnodes or r in self.conns:
                c.sendall(f"ERR rank {r} nnodes {n} does not fit nnodes {self.nnodes}\n".encode())
                c.close()
                self.log(f"rank 0: rejected peer {peer[0]} (rank {r}, nnodes {n})", err=True)
                continue
            self.conns[r] = c
            self.log(f"rank 0: rank {r} joined from {peer[0]}")
        for r, c in self.conns.items():
            c.sendall(b"READY\n")
            c.settimeout(None)
            threading.Thread(target=self._watch_peer, args=(r, c), daemon=True).start()
        self.log(f"rank 0: all {self.nnodes} ranks present")

    def _watch_peer(self, r, c):
        data = b""
        try:
            while True:
                chunk = c.recv(64)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
        if b"BYE" in data or self.life.stop.is_set():
            return
        self.life.request_exit(1, f"rank {r} disappeared")

    def _join(self, timeout: float):
        deadline = time.monotonic() + timeout
        err = None
        while True:
            if self.life.stop.is_set():
                raise Fatal(0, "stopped while joining rank 0")
            try:
                c = socket.create_connection((self.host, self.port), timeout=2)
                c.sendall(f"RANK {self.rank} NNODES {self.nnodes}\n".encode())
                c.settimeout(max(1.0, deadline - time.monotonic()))
                line = c.makefile("r").readline().strip()
                if line == "READY":
                    c.settimeout(None)
                    self.sock = c
                    break
                c.close()
                if line.startswith("ERR"):
                    raise Fatal(1, f"rank {self.rank}: rank 0 refused us: {line}")
                err = f"no READY from rank 0 ({line!r})"
            except OSError as e:
                err = e
            if time.monotonic() > deadline:
                raise Fatal(1, f"rank {self.rank}: could not join rank 0 at {self.host}:{self.port} "
                               f"within {timeout:g}s: {err}")
            self.life.sleep(0.5)
        self.log(f"rank {self.rank}: joined rank 0 at {self.host}:{self.port}")
        threading.Thread(target=self._watch_leader, daemon=True).start()

    def _watch_leader(self):
        data = b""
        try:
            while True:
                chunk = self.sock.recv(64)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
        if self.life.stop.is_set():
            return
        if b"BYE" in data:
            self.life.request_exit(0, "rank 0 finished")
        else:
            self.life.request_exit(1, "lost rank 0")

    def close(self):
        for c in list(self.conns.values()) + ([self.sock] if self.sock and self.rank else []):
            try:
                c.sendall(b"BYE\n")
            except OSError:
                pass
        for c in list(self.conns.values()) + ([self.sock] if self.sock else []):
            try:
                c.close()
            except OSError:
                pass


def split_hostport(s: str, default_port: int) -> tuple:
    host, _, port = s.rpartition(":") if ":" in s else (s, "", "")
    return host or s, int(port) if port else default_port
