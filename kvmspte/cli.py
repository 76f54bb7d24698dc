"""Command-line interface: a thin layer over the engine.

Heavy imports (rich, pydantic, the models) happen inside the commands that need
them, so ``kvmspte --version`` and the JSON path start fast.
"""

from __future__ import annotations

import os
import sys

import click

from kvmspte import __version__

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
FORMATS = ("table", "json", "markdown")


class InputError(Exception):
    """Bad input from the user: one line, exit status 2."""


def _format_option(f):
    return click.option("--format", "fmt", type=click.Choice(FORMATS), default="table",
                        show_default=True,
                        help="table for people, json for machines (stable, schema_version 1), "
                             "markdown for mails and docs.")(f)


def _color_option(f):
    return click.option("--color", type=click.Choice(("auto", "always", "never")),
                        default="auto", show_default=True,
                        help="Colour the table: auto means only on a terminal and when "
                             "NO_COLOR is unset.")(f)


def _arch_option(f):
    return click.option("--arch", "arches", multiple=True, metavar="ID",
                        help="Architecture model to run (repeatable); default: all. "
                             "See 'kvmspte arches'.")(f)


def use_color(choice: str) -> bool:
    if choice != "auto":
        return choice == "always"
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def emit(text: str) -> None:
    """Write a fully rendered output in one go (never half a document)."""
    sys.stdout.write(text)
    sys.stdout.flush()


def select_models(ids: tuple[str, ...]) -> list[type]:
    from kvmspte import registry

    registry.install_warning_printer()
    if not ids:
        return list(registry.models().values())
    out = []
    for arch_id in dict.fromkeys(ids):
        try:
            out.append(registry.get(arch_id))
        except KeyError as exc:
            raise InputError(f"--arch: {exc.args[0]}") from None
    return out


def resolve_scenarios(refs) -> list:
    from kvmspte.scenario import ScenarioError, resolve

    try:
        return [resolve(ref) for ref in refs]
    except ScenarioError as exc:
        raise InputError(str(exc)) from None


HELP = """Execute models of KVM's .change_pte() MMU notifier, architecture by architecture.

Each architecture model is read from the Linux source at v6.9 (the last release
with .change_pte) and cites file, function and release for every step.  A
scenario builds a secondary-MMU state through the arch's own fault path, runs a
primary-MM trigger (KSM, CoW, uprobes, device migration) through the generic KVM
notifier layer, and reports what change_pte did: no-op, flush-only, changes, or
n/a when the starting state cannot exist there.

\b
Examples:
  kvmspte compare                         the default scenario on every arch
  kvmspte compare cow-4k --arch arm64     one scenario, one arch
  kvmspte check                           assert every built-in expectation
  kvmspte compare my.toml --format json   your own scenario file, for machines

\b
Exit status: 0 success, 1 an expectation did not hold, 2 bad usage or input.
"""


@click.group(help=HELP, context_settings={"help_option_names": ["-h", "--help"],
                                          "max_content_width": 100})
@click.version_option(__version__, "--version", "-V", prog_name="kvmspte",
                      message="%(prog)s %(version)s")
def cli() -> None:
    pass


@cli.command()
@click.argument("scenario", default="ksm-merge", metavar="[SCENARIO-NAME-OR-FILE]")
@_arch_option
@_format_option
@_color_option
def compare(scenario: str, arches: tuple[str, ...], fmt: str, color: str) -> None:
    """Run one scenario on every selected architecture and show what change_pte did.

    SCENARIO is a built-in name (see 'kvmspte scenarios') or a TOML file;
    default: ksm-merge (KSM replaces a page mapped at 4 KiB, neighbours mapped).
    A result that differs from the scenario's [expect] table is marked in the
    table; compare itself always exits 0 on valid input (use 'check' to assert).
    """
    from kvmspte.formats import render
    from kvmspte.runner import run_report

    report = run_report("compare", resolve_scenarios([scenario]), select_models(arches))
    emit(render(fmt, report, color=use_color(color)))


@cli.command()
@click.argument("scenarios", nargs=-1, metavar="[SCENARIO...]")
@_arch_option
@click.option("--expect", "expect", metavar="VERDICT",
              help="Assert this verdict (no-op, flush-only, changes, n/a) for every selected "
                   "arch instead of the scenarios' [expect] tables.")
@_format_option
@_color_option
def check(scenarios, arches, expect, fmt, color) -> None:
    """Assert expected verdicts; for CI.

    With no SCENARIO, checks the whole built-in catalogue.  Each scenario's
    [expect] table (arch id -> verdict) is asserted for the selected arches that
    it names; --expect VERDICT asserts one verdict everywhere instead.

    Exit status: 0 all hold, 1 some do not, 2 bad usage or input.
    """
    from kvmspte.formats import render
    from kvmspte.runner import check_report
    from kvmspte.scenario import VERDICTS, catalogue

    if expect is not None and expect not in VERDICTS:
        raise InputError(f"--expect: unknown verdict '{expect}'; one of {', '.join(VERDICTS)}")
    chosen = resolve_scenarios(scenarios) if scenarios else list(catalogue().values())
    report, failures = check_report(chosen, select_models(arches), expect)
    if not report.results:
        raise InputError("nothing to check: the selected scenarios have no [expect] entry for "
                         "the selected arches; add an [expect] table or pass --expect VERDICT")
    emit(render(fmt, report, color=use_color(color)))
    if fmt == "table":
        checked = sum(r.expected is not None for r in report.results)
        print(f"{checked} expectations checked, {failures} failed", file=sys.stderr)
    sys.exit(EXIT_FAIL if failures else EXIT_OK)


@cli.command()
@click.argument("scenarios", nargs=-1, metavar="[SCENARIO...]")
@click.option("-e", "--regex", "patterns", multiple=True, metavar="REGEX",
              help="Keep scenarios whose name matches REGEX (repeatable; any match keeps).")
@_arch_option
@_format_option
@_color_option
def matrix(scenarios, patterns, arches, fmt, color) -> None:
    """One table for the whole catalogue: scenarios x architectures.

    Rows are scenarios, columns are architectures, plus the expected column (the
    verdict most architectures are expected to give).  A cell is '=' where the
    arch gives that verdict as its [expect] says, the verdict where the arch is
    expected to differ and does, and 'VERDICT!' where the model contradicts the
    expectation.  Ends with 'N cells, M mismatches'.

    Exit status as check: 0 no mismatches, 1 some, 2 bad usage or input.
    """
    import re

    from kvmspte import matrix as mx
    from kvmspte.formats.matrixfmt import render_matrix
    from kvmspte.scenario import catalogue

    try:
        [re.compile(p) for p in patterns]
    except re.error as exc:
        raise InputError(f"-e: bad regular expression: {exc}") from None
    chosen = resolve_scenarios(scenarios) if scenarios else list(catalogue().values())
    chosen = mx.filter_scenarios(chosen, patterns)
    if not chosen:
        raise InputError(f"-e: no scenario matches {' or '.join(patterns)}")
    m = mx.build(chosen, select_models(arches))
    emit(render_matrix(m, fmt, color=use_color(color)))
    sys.exit(EXIT_FAIL if m.mismatches else EXIT_OK)


@cli.command()
@click.argument("scenario", metavar="SCENARIO-NAME-OR-FILE")
@click.option("--arch", "arch", required=True, metavar="ID",
              help="The architecture model to explain (see 'kvmspte arches').")
@_format_option
@_color_option
def explain(scenario, arch, fmt, color) -> None:
    """Step-by-step account of one scenario on one architecture.

    Every event (mm side and KVM side), the function chain it goes through with
    the kernel citation of each step (file:function @ release), the secondary
    page-table state for the gfn after each event, and the verdict with its
    reason.  --format markdown or json for pasting into a mail or a bug.
    """
    import json

    from kvmspte import explain as ex

    (sc,) = resolve_scenarios([scenario])
    (model,) = select_models((arch,))
    doc = ex.build(sc, model)
    if fmt == "json":
        emit(json.dumps(doc, indent=2) + "\n")
    elif fmt == "markdown":
        emit(ex.render_markdown(doc))
    elif use_color(color):
        emit(ex.render_rich(doc))
    else:
        emit(ex.render_plain(doc))


@cli.command()
@click.option("--out", "out", default="docs", show_default=True, metavar="DIR",
              type=click.Path(file_okay=False),
              help="Folder to write the generated Markdown into.")
@click.option("--readme", "readme", default=None, metavar="FILE", type=click.Path(dir_okay=False),
              help="README whose generated block (between kvmspte markers) is refreshed too; "
                   "default: README.md beside DIR when it has the markers.")
@click.option("--check", "check_only", is_flag=True,
              help="Write nothing; exit 1 and name the stale files when DIR (or the README "
                   "block) differs from what would be generated.")
def docs(out, readme, check_only) -> None:
    """Generate Markdown documentation from the models themselves.

    Writes DIR/index.md (the headline matrix), one page per architecture (hooks,
    change_pte call chain, a verdict table derived by running the model, every
    source it cites), one page per scenario, and DIR/cli.md (every --help).
    Output is byte-identical on every run.  Files are written to a temporary
    folder first and moved into place; files the generator did not write are
    never deleted.
    """
    from kvmspte import docgen

    try:
        stale = docgen.run(out, readme, check=check_only)
    except docgen.DocsError as exc:
        raise InputError(str(exc)) from None
    if check_only:
        for path in stale:
            print(f"stale: {path}", file=sys.stderr)
        if stale:
            print(f"{len(stale)} generated file(s) are stale; run 'kvmspte docs --out {out}'",
                  file=sys.stderr)
        sys.exit(EXIT_FAIL if stale else EXIT_OK)
    print(f"wrote {len(stale)} changed file(s) under {out}", file=sys.stderr)


@cli.command()
@click.argument("races", nargs=-1, metavar="[RACE...]")
@_arch_option
@click.option("--max-states", default=200000, show_default=True, type=click.IntRange(1),
              help="Bound on distinct states per race and arch; the report says whether "
                   "the search finished within it.")
@click.option("--fail-on-violation", is_flag=True,
              help="Exit 1 when any invariant is violated (for CI).")
@_format_option
def explore(races, arches, max_states, fail_on_violation, fmt) -> None:
    """Check every interleaving of concurrent notifier, mm and vCPU-fault steps.

    Each RACE (default: all built-in races) runs a few actors (an mm writer, an mm
    zapper, one or two vCPU faults with their arch's invalidation-retry check) on
    the same page.  Every reachable state is visited breadth-first, with duplicates
    (and permutations of identical vCPUs) merged, and three invariants are checked:
    coherence at quiescence (no invalidation in progress and no actor inside an
    operation), no use after free, no stale install.  For every violated invariant
    the shortest counter-example is printed as numbered steps with their kernel
    citations (and a Mermaid diagram in Markdown).

    \b
    Races: writer-fault, writer-zapper, unwrapped-fault, zapper-fault,
    vcpus-writer-zapper, ksm-wrprotect-fault, ksm-wrprotect-zapper,
    migrate-zapper, writer-neighbour-zapper.
    """
    from kvmspte.explore.checker import explore as run_explore
    from kvmspte.explore.races import RACES
    from kvmspte.formats.explorefmt import render_explore
    from kvmspte.scenario import suggest

    for name in races:
        if name not in RACES:
            raise InputError(f"unknown race '{name}'{suggest(name, RACES)}; known: "
                             f"{', '.join(RACES)}")
    chosen = [RACES[n] for n in (races or RACES)]
    outcomes = [run_explore(r, m, max_states=max_states) for r in chosen
                for m in select_models(arches)]
    emit(render_explore(outcomes, fmt, timing=fmt == "table"))
    bad = any(o.violations for o in outcomes)
    sys.exit(EXIT_FAIL if fail_on_violation and bad else EXIT_OK)


@cli.command()
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
def arches(fmt: str) -> None:
    """List the architecture models: id, family, modelled release, and their sources."""
    from kvmspte.listing import render_arches

    emit(render_arches(select_models(()), fmt))


@cli.command()
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
def scenarios(fmt: str) -> None:
    """List the built-in scenario catalogue."""
    from kvmspte.listing import render_scenarios
    from kvmspte.scenario import catalogue

    emit(render_scenarios(list(catalogue().values()), fmt))


@cli.command()
@click.option("--scenario", "which", is_flag=True,
              help="Print the JSON Schema of a scenario file instead of the report.")
@click.option("--explore", "explore_", is_flag=True,
              help="Print the JSON Schema of the explore report instead.")
def schema(which: bool, explore_: bool) -> None:
    """Print the JSON Schema of the report (--format json output)."""
    import json

    if explore_:
        from kvmspte.report_schema import EXPLORE_SCHEMA

        emit(json.dumps(EXPLORE_SCHEMA, indent=2) + "\n")
    elif which:
        from kvmspte.scenario_schema import scenario_json_schema

        emit(json.dumps(scenario_json_schema(), indent=2) + "\n")
    else:
        from kvmspte.report_schema import REPORT_SCHEMA

        emit(json.dumps(REPORT_SCHEMA, indent=2) + "\n")


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args in (["--version"], ["-V"]):  # the fast path: nothing else to import
        print(f"kvmspte {__version__}")
        sys.exit(EXIT_OK)
    try:
        cli.main(args=args, prog_name="kvmspte", standalone_mode=False)
    except InputError as exc:
        _die(str(exc))
    except click.UsageError as exc:
        hint = f" (see 'kvmspte {exc.ctx.command_path.split(' ', 1)[-1]} --help')" \
            if exc.ctx and " " in exc.ctx.command_path else " (see 'kvmspte --help')"
        _die(f"{exc.format_message()}{hint}")
    except click.exceptions.Abort:
        _die("aborted")
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(EXIT_OK)
    except click.ClickException as exc:
        _die(exc.format_message())
    sys.exit(EXIT_OK)


def _die(message: str) -> None:
    print(f"kvmspte: error: {message}", file=sys.stderr)
    sys.exit(EXIT_USAGE)
