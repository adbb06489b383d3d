"""The ``recforge`` command line (Typer + rich).

Commands live in :mod:`recforge.commands` (one module each, imported lazily by name here) so
that ``recforge --help`` stays fast: no numpy-heavy or torch imports happen before a command
runs. Errors that recforge raises on purpose print one line on stderr and exit with status 2.
"""

from __future__ import annotations

import importlib
import sys

import typer

app = typer.Typer(
    name="recforge",
    help=(
        "recforge: turn interaction logs into a tuned, honestly evaluated, servable recommender.\n\n"
        "Start with 'recforge quickstart' (embedded MovieLens latest-small), then 'recforge data info', "
        "'recforge fit', 'recforge evaluate' and 'recforge search' on your own data."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

#: Command modules; each defines ``register(app)`` and imports heavy libraries inside commands.
COMMAND_MODULES = [
    "recforge.commands.data",
    "recforge.commands.models",
    "recforge.commands.quickstart",
    "recforge.commands.report",
    "recforge.commands.serve",
    "recforge.commands.search",
    "recforge.commands.ope",
    # further command modules are appended below (one line each)
]

for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - interactive
        print("interrupted", file=sys.stderr)
        raise SystemExit(130) from None


if __name__ == "__main__":  # pragma: no cover
    main()
