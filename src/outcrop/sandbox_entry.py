"""The first process inside a user-code sandbox: limits, the relay to the server's port, then the command.

Run by path with the server's Python (`python sandbox_entry.py CONFIG -- COMMAND...`), so it imports
nothing of Outcrop. CONFIG is JSON: `memory_mb` (RLIMIT_AS), `cpus` (which cores, by affinity), and
`relay` ({"port", "socket"}): the sandbox has its own network namespace with only loopback, so a listener
on 127.0.0.1:port there copies each connection to a Unix socket the server bound in, and the server's
port is the one address the code can reach. With a relay this process stays as the command's parent and
ignores SIGTERM/SIGINT (a job's stop signal is for the command, whose exit ends the sandbox).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import socket
import sys
import threading

HEADROOM_MB = 256  # address space that is not memory: shared libraries, thread stacks, allocator arenas


def _limit(config: dict[str, object]) -> None:
    memory = config.get("memory_mb")
    if isinstance(memory, int) and memory > 0:
        limit = (memory + HEADROOM_MB) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    cpus = config.get("cpus")
    if isinstance(cpus, list) and cpus:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {int(c) for c in cpus})


def pipe(source: socket.socket, target: socket.socket) -> None:
    """Copy one direction of a connection until it ends, then close both ways."""
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def _serve(listener: socket.socket, path: str) -> None:
    while True:
        client, _ = listener.accept()
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            upstream.connect(path)
        except OSError:
            client.close()
            upstream.close()
            continue
        for pair in ((client, upstream), (upstream, client)):
            threading.Thread(target=pipe, args=pair, daemon=True).start()


def main() -> None:
    config = json.loads(sys.argv[1])
    command = sys.argv[sys.argv.index("--") + 1 :]
    _limit(config)
    relay = config.get("relay")
    if not isinstance(relay, dict):
        os.execvp(command[0], command)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", int(relay["port"])))
    listener.listen(64)
    listener.set_inheritable(False)
    child = os.fork()
    if child == 0:
        os.execvp(command[0], command)
    os.closerange(3, listener.fileno())  # the command's pipes: only the command may hold them open
    os.closerange(listener.fileno() + 1, 65536)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_serve, args=(listener, str(relay["socket"])), daemon=True).start()
    _, status = os.waitpid(child, 0)
    code = os.waitstatus_to_exitcode(status)
    os._exit(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    main()
