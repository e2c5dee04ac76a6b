"""The `roadmap` console script's entry point, deliberately free of imports.

It is the one place where the command line meets the server: it adds `roadmap serve`
(``server.command``) to the client's parser.

multiprocessing makes each engine worker process re-import the script that started the
server. Through this module that costs nothing; importing the command line directly
would load gRPC, protobuf and rich into every engine worker (about 25 MB each).
"""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    from clients.cli import main as cli  # noqa: PLC0415  (see the module docstring)
    from server.command import add_serve_command  # noqa: PLC0415

    return cli(argv, extra_commands=[add_serve_command])
