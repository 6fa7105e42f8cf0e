"""`promo serve --tls-cert/--tls-key [--tls-client-ca]` with real handshakes: a CA, server and
client certificates made by the `openssl` CLI for the test; plaintext and unknown clients are
refused, a client with a certificate the CA signed gets its answer.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from server_process import ROOT, ServerProcess, cart

from server.gen.promo.v1 import promo_pb2_grpc as pb_grpc

RULES = "examples/seed/parallel"
OPENSSL = "/usr/bin/openssl"


def openssl(*args: str | Path) -> None:
    subprocess.run([OPENSSL, *map(str, args)], check=True, capture_output=True, timeout=30)


def make_ca(folder: Path, name: str) -> tuple[Path, Path]:
    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", key, "-out", cert, "-subj", f"/CN={name}", "-days", "2")
    return cert, key


def make_cert(folder: Path, name: str, ca: tuple[Path, Path], extensions: str) -> tuple[Path, Path]:
    cert, key, csr, ext = (folder / f"{name}{suffix}" for suffix in (".pem", ".key", ".csr", ".ext"))
    ext.write_text(extensions + "\n")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", key, "-out", csr, "-subj", f"/CN={name}")
    openssl("x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-CAcreateserial", "-out", cert,
            "-days", "2", "-extfile", ext)
    return cert, key


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    folder = tmp_path_factory.mktemp("pki")
    ca, other_ca = make_ca(folder, "ca"), make_ca(folder, "other-ca")
    server = make_cert(folder, "server", ca, "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth")
    openssl("pkey", "-in", server[1], "-aes256", "-passout", "pass:secret", "-out", folder / "encrypted.key")
    return {
        "ca": ca,
        "server": server,
        "encrypted": (server[0], folder / "encrypted.key"),
        "client": make_cert(folder, "client", ca, "extendedKeyUsage=clientAuth"),
        "stranger": make_cert(folder, "stranger", other_ca, "extendedKeyUsage=clientAuth"),
    }


def credentials(pki, client: str | None = None) -> grpc.ChannelCredentials:
    """Trusts the test CA; presents `client`'s certificate if given."""
    cert, key = pki[client] if client else (None, None)
    return grpc.ssl_channel_credentials(root_certificates=pki["ca"][0].read_bytes(),
                                        private_key=key.read_bytes() if key else None,
                                        certificate_chain=cert.read_bytes() if cert else None)


def evaluate(target: str, creds: grpc.ChannelCredentials | None) -> str:
    with (grpc.secure_channel(target, creds) if creds else grpc.insecure_channel(target)) as channel:
        return pb_grpc.PromotionServiceStub(channel).Evaluate(cart(), timeout=10).totals.payable


def refused(target: str, creds: grpc.ChannelCredentials | None) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as err:
        evaluate(target, creds)
    return err.value.code()


def tls_args(pki, *extra: str) -> list[str]:
    return ["--tls-cert", str(pki["server"][0]), "--tls-key", str(pki["server"][1]), *extra]


def test_tls_answers_over_a_handshake_and_refuses_plaintext(pki, tmp_path):
    server = ServerProcess(RULES, tmp_path / "log.jsonl", *tls_args(pki), credentials=credentials(pki))
    try:
        server.wait_serving()
        assert server.wait_for("listening")["tls"] == "server"
        assert evaluate(server.target, credentials(pki)) == "170.00"
        assert evaluate(server.target, credentials(pki, "client")) == "170.00"  # a certificate is not asked for
        assert refused(server.target, None) == grpc.StatusCode.UNAVAILABLE
        untrusting = grpc.ssl_channel_credentials(root_certificates=pki["stranger"][0].read_bytes())
        assert refused(server.target, untrusting) == grpc.StatusCode.UNAVAILABLE  # the client checks the server too
    finally:
        assert server.stop() == 0


def test_mutual_tls_needs_a_client_certificate_the_ca_signed(pki, tmp_path):
    server = ServerProcess(RULES, tmp_path / "log.jsonl", *tls_args(pki, "--tls-client-ca", str(pki["ca"][0])),
                           credentials=credentials(pki, "client"))
    try:
        server.wait_serving()
        assert server.wait_for("listening")["tls"] == "mutual"
        assert evaluate(server.target, credentials(pki, "client")) == "170.00"
        assert refused(server.target, credentials(pki)) == grpc.StatusCode.UNAVAILABLE  # no certificate
        assert refused(server.target, credentials(pki, "stranger")) == grpc.StatusCode.UNAVAILABLE  # another CA
        assert refused(server.target, None) == grpc.StatusCode.UNAVAILABLE
        assert {e["code"] for e in server.events("call") if "PromotionService" in e["method"]} == {"OK"}
    finally:
        assert server.stop() == 0


@pytest.mark.parametrize("args, message", [
    (["--tls-cert", "{server_cert}"], "--tls-cert and --tls-key go together"),
    (["--tls-client-ca", "{ca}"], "--tls-cert and --tls-key go together (--tls-client-ca needs both)"),
    (["--tls-cert", "{server_cert}", "--tls-key", "{client_key}"], "key values mismatch"),
    (["--tls-cert", "{server_cert}", "--tls-key", "{encrypted_key}"], "the key is encrypted"),  # not a prompt
    (["--tls-cert", "{server_cert}", "--tls-key", "{server_key}", "--tls-client-ca", "{missing}"],
     "--tls-client-ca `{missing}`: [Errno 2] No such file or directory"),
], ids=["cert-alone", "ca-alone", "wrong-key", "encrypted-key", "missing-ca"])
def test_tls_files_are_checked_before_serving(pki, tmp_path, args, message):
    names = {"server_cert": pki["server"][0], "server_key": pki["server"][1], "client_key": pki["client"][1],
             "encrypted_key": pki["encrypted"][1], "ca": pki["ca"][0], "missing": tmp_path / "missing.pem"}
    out = subprocess.run([sys.executable, "-m", "server.cli", "serve", RULES, "--port", "0",
                          *(a.format(**names) for a in args)], cwd=ROOT, stdin=subprocess.DEVNULL,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.startswith("error: --tls-") and message.format(**names) in out.stderr, out.stderr
