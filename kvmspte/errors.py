"""Exit statuses and one-line error messages.

0 all good; 1 an expectation or invariant did not hold; 2 bad usage or input; 3 kvmspte
could not finish (a model or plugin raised, output could not be written); 130 interrupted.
Every failure is one line on stderr; ``--debug`` or ``KVMSPTE_DEBUG=1`` adds the traceback.
Anything echoed from the user is escaped and cut to a sane length (``shown``).
"""

from __future__ import annotations

import os
import sys

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
#: the longest user-supplied value echoed in a message, after escaping
MAX_SHOWN = 80
#: the longest message line
MAX_LINE = 1000

_debug = False


class InputError(Exception):
    """Bad usage or input: one line, exit status 2."""


class OutputError(Exception):
    """The output could not be written: one line, exit status 3."""


class ScenarioError(Exception):
    """Bad scenario input; the message is one line naming file, field and problem."""


class ModelError(Exception):
    """A model (built-in or plugin) raised while running: one line, exit status 3."""

    def __init__(self, arch: str, scenario: str, exc: BaseException) -> None:
        super().__init__(model_failure(arch, scenario, exc))
        self.exc = exc


def set_debug(on: bool) -> None:
    global _debug
    _debug = on


def debug() -> bool:
    return _debug or os.environ.get("KVMSPTE_DEBUG", "") not in ("", "0")


def escape(text: str) -> str:
    """Control characters, newlines and other unprintables as Python escapes."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


def shown(value, limit: int = MAX_SHOWN) -> str:
    """A user-supplied value, safe to echo: escaped, then cut to ``limit`` characters."""
    return cut(escape(str(value)), limit)


def one_line(text: str) -> str:
    return cut(escape(text), MAX_LINE)


def describe(exc: BaseException) -> str:
    """An exception as 'Type: message' on one bounded line."""
    text = str(exc)
    return shown(f"{type(exc).__name__}: {text}" if text else type(exc).__name__, 300)


def model_failure(arch: str, scenario: str, exc: BaseException) -> str:
    return f"model '{shown(arch)}' raised on scenario '{shown(scenario)}': {describe(exc)}"


def say(message: str) -> None:
    print(f"kvmspte: error: {one_line(message)}", file=sys.stderr)


def traceback_of(exc: BaseException | None) -> None:
    """With --debug or KVMSPTE_DEBUG=1, the traceback of exc on stderr."""
    if exc is not None and debug():
        import traceback

        traceback.print_exception(exc, file=sys.stderr)


HINT = " (--debug or KVMSPTE_DEBUG=1 shows the traceback)"


def report_failures(failures: list[tuple[str, BaseException | None]]) -> int:
    """One line per (message, exception) that kept a run from finishing; exit status 3
    when there is any, else 0."""
    for message, exc in failures:
        say(message + ("" if debug() else HINT))
        traceback_of(exc)
    return EXIT_ERROR if failures else EXIT_OK


def usage_message(exc) -> str:
    """A click usage error and where to read more, on one line."""
    ctx = exc.ctx
    where = ctx.command_path.split(" ", 1)[-1] if ctx and " " in ctx.command_path else ""
    hint = f" (see 'kvmspte {where} --help')" if where else " (see 'kvmspte --help')"
    return cut(escape(exc.format_message()), 300) + hint


def run_cli(group, args: list[str]) -> int:
    """Run the click group; map every outcome to an exit status and at most one line."""
    import click

    def invoke() -> None:
        try:
            with group.make_context("kvmspte", list(args)) as ctx:
                group.invoke(ctx)
        except click.exceptions.Exit as exc:
            raise SystemExit(exc.exit_code) from None
        except click.UsageError as exc:
            raise InputError(usage_message(exc)) from None
        except click.ClickException as exc:
            raise InputError(exc.format_message()) from None
        except click.exceptions.Abort:
            raise InputError("aborted") from None

    return guarded(invoke)


def guarded(call) -> int:
    """call(); map every outcome to an exit status and at most one line."""
    set_debug(False)
    try:
        call()
        return EXIT_OK
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR
    except InputError as exc:
        say(str(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:
        silence_stdout()
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        silence_stdout()
        return EXIT_OK
    except OutputError as exc:
        silence_stdout()
        say(str(exc))
        traceback_of(exc.__cause__)
        return EXIT_ERROR
    except ModelError as exc:
        return report_failures([(str(exc), exc.exc)])
    except Exception as exc:  # a bug or a plugin outside a model run: still one line
        return report_failures([(f"internal error: {describe(exc)}", exc)])


def silence_stdout() -> None:
    """After a failed write, point stdout at /dev/null so the interpreter's final flush
    cannot fail a second time (and print a traceback of its own)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
