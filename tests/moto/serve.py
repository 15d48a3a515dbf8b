"""Runs moto's server on loopback for onboard's tests.

Prints the server's URL on the first line of standard output, then serves
until standard input closes. The test process holds the other end of that
pipe, so however it ends (passing, failing, killed) the emulator ends too.

    python serve.py [PORT]    # PORT 0 (the default) picks a free port
"""

import logging
import sys

from moto.moto_server.threaded_moto_server import ThreadedMotoServer


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    # Requests are the tests' business; moto's tracebacks for operations it
    # does not have (StartMessageMoveTask) reach the client as a 500 anyway.
    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, bound = server.get_host_and_port()
    print(f"http://{host}:{bound}", flush=True)
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main()
