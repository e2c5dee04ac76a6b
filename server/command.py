"""`roadmap serve`: the subcommand the console script adds to the command line, so that
the client side (`clients/`) never imports the server."""

from __future__ import annotations

from typing import TYPE_CHECKING

from server import config

#: The module of the work engine processes do whole (``contract.offload``), named here
#: so that starting the fork server early does not import protobuf in this module.
OFFLOAD = "contract.offload"

if TYPE_CHECKING:
    import argparse


def add_serve_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser("serve", help="run the gRPC service")
    config.add_arguments(serve)
    serve.set_defaults(handler=_serve, serve_parser=serve)


def _serve(args: argparse.Namespace) -> int:
    config.check(args, args.serve_parser)
    settings = config.from_namespace(args)
    if settings.engine_workers and settings.workers == 1:
        # The engine processes' fork server starts first, so that its start and imports
        # run on another core while this process imports the server stack. (Not with
        # several server processes: each must own its fork server, forked after it.)
        from engine.isolated import prestart  # noqa: PLC0415

        prestart(preload=[OFFLOAD])
    from server.app import serve  # noqa: PLC0415  (only `serve` needs the server stack)

    return serve(settings)
