"""Runs moto's server behind gunicorn, for the benchmark of the real binaries.

moto's own server (werkzeug) closes the connection after every response, so
a client measured against it pays a new TCP connection per call, which AWS
never makes it pay. Here moto's application runs in one gunicorn worker
(its state is that process's memory) with threads that keep connections
alive, as AWS's endpoints do. Every request is written to an access log,
one line each: the method, the path, the `X-Amz-Target` header, the status,
the milliseconds taken and the user agent, from which the benchmark counts
the calls each function made.

    python serve_keepalive.py --access-log FILE [--tls DIR]

With `--tls DIR` it serves HTTPS for 127.0.0.1 with a certificate signed
by an authority of its own, whose certificate it writes to `DIR/cert.pem`
(the client trusts it through `SSL_CERT_FILE`). Prints the URL on the first line of standard output, then
serves until standard input closes.
"""

import argparse
import datetime
import ipaddress
import os
import signal
import socket
import sys
import threading

from gunicorn.app.base import BaseApplication
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app


def write_certificate(folder: str) -> tuple[str, str]:
    """A certificate authority of its own (written to `cert.pem`, for the
    client to trust) and the server's certificate for 127.0.0.1, signed by
    it, with its key. Returns the server's certificate and key files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def name(common_name: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])

    def builder(subject: x509.Name, issuer: x509.Name, key) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
        )

    authority_key = ec.generate_private_key(ec.SECP256R1())
    authority_name = name("onboard benchmark authority")
    authority = (
        builder(authority_name, authority_name, authority_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .sign(authority_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = (
        builder(name("127.0.0.1"), authority_name, server_key)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(authority_key, hashes.SHA256())
    )

    def write(file: str, data: bytes) -> str:
        path = os.path.join(folder, file)
        with open(path, "wb") as out:
            out.write(data)
        return path

    write("cert.pem", authority.public_bytes(serialization.Encoding.PEM))
    server_cert = write("server-cert.pem", server.public_bytes(serialization.Encoding.PEM))
    server_key_file = write(
        "server-key.pem",
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    return server_cert, server_key_file


class Emulator(BaseApplication):
    def __init__(self, options: dict) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        return DomainDispatcherApplication(create_backend_app)


def stop_when_stdin_closes() -> None:
    sys.stdin.read()
    os.kill(os.getpid(), signal.SIGTERM)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--access-log", required=True)
    parser.add_argument("--tls", metavar="DIR")
    args = parser.parse_args()

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Each response is written in pieces (headers, then body): without this,
    # which accepted connections inherit, Nagle's algorithm holds the body
    # until the client's delayed acknowledgement, some 40 ms a call.
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    listener.set_inheritable(True)
    port = listener.getsockname()[1]

    options = {
        "bind": [f"fd://{listener.fileno()}"],
        # One process: moto keeps its state in memory.
        "workers": 1,
        "worker_class": "gthread",
        "threads": 8,
        "keepalive": 120,
        "timeout": 300,
        "accesslog": args.access_log,
        "access_log_format": '%(m)s %(U)s %({x-amz-target}i)s %(s)s %(M)s %({x-amz-user-agent}i)s %(a)s',
        "loglevel": "warning",
    }
    scheme = "http"
    if args.tls:
        options["certfile"], options["keyfile"] = write_certificate(args.tls)
        scheme = "https"

    threading.Thread(target=stop_when_stdin_closes, daemon=True).start()
    print(f"{scheme}://127.0.0.1:{port}", flush=True)
    Emulator(options).run()


if __name__ == "__main__":
    main()
