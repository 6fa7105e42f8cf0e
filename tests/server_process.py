"""`promo serve` as a subprocess for the tests: on a free loopback port, its JSON log in a file."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from server.gen.promo.v1 import promo_pb2 as pb
from server.gen.promo.v1 import promo_pb2_grpc as pb_grpc

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 30.0


class ServerProcess:
    """`python -m server.cli serve RULES --port 0` with its log in a file (a pipe could fill up
    and block the server), the port read from its `listening` line; `credentials` for a TLS
    server."""

    def __init__(self, rules: str | Path, log_path: Path, *args: str,
                 credentials: grpc.ChannelCredentials | None = None):
        self.log_path = log_path
        self._log_file = open(log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "serve", str(rules), "--host", "127.0.0.1", "--port", "0", *args],
            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._log_file)
        self.port = self.wait_for("listening")["port"]
        self.target = f"127.0.0.1:{self.port}"
        self.channel = (grpc.secure_channel(self.target, credentials) if credentials
                        else grpc.insecure_channel(self.target))
        self.stub = pb_grpc.PromotionServiceStub(self.channel)
        self.health = health_pb2_grpc.HealthStub(self.channel)

    @classmethod
    @contextlib.contextmanager
    def serving(cls, rules: str | Path, folder: Path, *args: str):
        """A server that says SERVING, stopped gracefully (exit 0) at the end: a module fixture."""
        server = cls(rules, folder / "log.jsonl", *args)
        try:
            server.wait_serving()
            yield server
        finally:
            assert server.stop() == 0

    def events(self, name: str | None = None) -> list[dict]:
        out = []
        for line in self.log_path.read_text(encoding="utf-8").splitlines():
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue  # a traceback from outside the logger would not be JSON
            if name is None or event.get("event") == name:
                out.append(event)
        return out

    def wait_for(self, name: str, count: int = 1, timeout: float = START_TIMEOUT, **match) -> dict:
        """The `count`-th log event `name` whose fields include `match`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [e for e in self.events(name) if all(e.get(k) == v for k, v in match.items())]
            if len(found) >= count:
                return found[count - 1]
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited ({self.proc.returncode}):\n{self.log_path.read_text()}")
            time.sleep(0.05)
        raise AssertionError(f"no `{name}` {match} in the log within {timeout}s:\n{self.log_path.read_text()}")

    def status(self, service: str = "") -> int:
        return self.health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5).status

    def wait_serving(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while self.status() != health_pb2.HealthCheckResponse.SERVING:
            assert time.monotonic() < deadline, "health never said SERVING"
            time.sleep(0.05)

    def stop(self, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            self.channel.close()
            self._log_file.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.channel.close()
        self._log_file.close()


def cart(path: str = "examples/seed/parallel/cart.json", **changes) -> pb.EvaluateRequest:
    from google.protobuf import json_format

    data = json.loads((ROOT / path).read_text(encoding="utf-8"))
    data.update(changes)
    return json_format.ParseDict(data, pb.EvaluateRequest())


# ---- tests -------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used so far (utime + stime from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
