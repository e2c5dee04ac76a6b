"""`roadmap serve`: the subcommand the console script adds to the command line, so that
the client side (`clients/`) never imports the server."""

from __future__ import annotations

from typing import TYPE_CHECKING

from server import config

if TYPE_CHECKING:
    import argparse


def add_serve_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser("serve", help="run the gRPC service")
    config.add_arguments(serve)
    serve.set_defaults(handler=_serve, serve_parser=serve)


def _serve(args: argparse.Namespace) -> int:
    from server.app import serve  # noqa: PLC0415  (only `serve` needs the server stack)

    config.check(args, args.serve_parser)
    return serve(config.from_namespace(args))
