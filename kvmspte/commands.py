"""The click commands: each parses its options, calls one analysis and shows the result in
the (command, format) format; nothing else.

Heavy imports (rich, pydantic, the models) happen inside the commands that need them, so the
JSON path starts fast; ``kvmspte --version`` does not even import this module (kvmspte.cli).
"""

from __future__ import annotations

import sys

import click

from kvmspte import __version__
from kvmspte.errors import EXIT_FAIL, EXIT_OK, InputError, escape, set_debug, shown

from kvmspte.formats import CHECK_FORMATS, FORMATS
from kvmspte.frontend import compare_run, finish, resolve_scenarios, select_models, show


def _parse_kernel(ctx, param, value):
    from kvmspte.sim.release import DEFAULT, Release, ReleaseError

    if value is None:
        return DEFAULT
    try:
        return Release.parse(value)
    except ReleaseError as exc:
        raise click.BadParameter(str(exc)) from None


def _kernel_option(f):
    return click.option("--kernel", "kernel", metavar="X.Y[.Z]", callback=_parse_kernel,
                        help="Model this Linux release (2.6.32 to 6.10; default 6.9, the last "
                             "with .change_pte). Before an arch's port, or from 6.10 on, the "
                             "verdict is 'absent'.")(f)


def _format_option(f):
    return click.option("--format", "fmt", type=click.Choice(FORMATS), default="table",
                        show_default=True,
                        help="table for people, json for machines (stable, schema_version 1), "
                             "markdown for mails and docs.")(f)


def _check_format_option(f):
    return click.option("--format", "fmt", type=click.Choice(CHECK_FORMATS), default="table",
                        show_default=True,
                        help="table for people, json for machines (stable, schema_version 1), "
                             "markdown for mails and docs, junit (JUnit XML) or tap (TAP "
                             "version 13) for CI: one test case per checked scenario x arch.")(f)


def _color_option(f):
    return click.option("--color", type=click.Choice(("auto", "always", "never")),
                        default="auto", show_default=True,
                        help="Colour the table: auto means only on a terminal and when "
                             "NO_COLOR is unset.")(f)


def _arch_option(f):
    return click.option("--arch", "arches", multiple=True, metavar="ID",
                        help="Architecture model to run (repeatable); default: all. "
                             "See 'kvmspte arches'.")(f)


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
Exit status:
  0    all good
  1    an expectation or invariant did not hold
  2    bad usage or input (one line on stderr)
  3    kvmspte could not finish: a model or plugin raised, or the output
       could not be written (one line naming it; --debug for the traceback)
  130  interrupted
"""


def _debug_option(f):
    return click.option("--debug", is_flag=True, expose_value=False, is_eager=True,
                        callback=lambda _ctx, _param, on: set_debug(on),
                        help="Show the traceback when kvmspte cannot finish (exit 3); "
                             "KVMSPTE_DEBUG=1 does the same.")(f)


@click.group(help=HELP, context_settings={"help_option_names": ["-h", "--help"],
                                          "max_content_width": 100})
@click.version_option(__version__, "--version", "-V", prog_name="kvmspte",
                      message="%(prog)s %(version)s")
@_debug_option
def cli() -> None:
    pass


@cli.command()
@click.argument("scenario", default="ksm-merge", metavar="[SCENARIO-NAME-OR-FILE]")
@_arch_option
@_format_option
@_color_option
@_kernel_option
def compare(scenario: str, arches: tuple[str, ...], fmt: str, color: str, kernel) -> None:
    """Run one scenario on every selected architecture and show what change_pte did.

    SCENARIO is a built-in name (see 'kvmspte scenarios') or a TOML file;
    default: ksm-merge (KSM replaces a page mapped at 4 KiB, neighbours mapped).
    A result that differs from the scenario's [expect] table is marked in the
    table; compare itself always exits 0 on valid input (use 'check' to assert).
    """
    compare_run(scenario, arches, fmt, color, kernel)


@cli.command()
@click.argument("scenarios", nargs=-1, metavar="[SCENARIO...]")
@_arch_option
@click.option("--expect", "expect", metavar="VERDICT",
              help="Assert this verdict (no-op, flush-only, changes, n/a) for every selected "
                   "arch instead of the scenarios' [expect] tables.")
@_check_format_option
@_color_option
@_kernel_option
def check(scenarios, arches, expect, fmt, color, kernel) -> None:
    """Assert expected verdicts; for CI.

    With no SCENARIO, checks the whole built-in catalogue.  Each scenario's
    [expect] table (arch id -> verdict) is asserted for the selected arches that
    it names; --expect VERDICT asserts one verdict everywhere instead.

    Exit status: 0 all hold, 1 some do not, 2 bad usage or input, 3 a model
    raised (the others are still reported).
    """
    from kvmspte.analyses.runs import check_report
    from kvmspte.scenarios.loader import catalogue
    from kvmspte.sim.release import DEFAULT
    from kvmspte.vocabulary import VERDICTS

    if expect is not None and expect not in VERDICTS:
        raise InputError(f"--expect: unknown verdict '{shown(expect)}'; one of "
                         f"{', '.join(VERDICTS)}")
    chosen = resolve_scenarios(scenarios) if scenarios else list(catalogue().values())
    report, failures = check_report(chosen, select_models(arches), expect, kernel)
    if not report.results:
        where = "[expect]" if kernel == DEFAULT else f'[expect_at."{str(kernel)[1:]}"]'
        raise InputError(f"nothing to check: the selected scenarios have no {where} entry for "
                         f"the selected arches at {kernel}; add one or pass --expect VERDICT")
    show("check", fmt, report, color)
    if fmt == "table":
        checked = sum(r.expected is not None for r in report.results)
        print(f"{checked} expectations checked, {failures} failed", file=sys.stderr)
    finish(report.failures(), failures > 0)


@cli.command()
@click.argument("scenarios", nargs=-1, metavar="[SCENARIO...]")
@click.option("-e", "--regex", "patterns", multiple=True, metavar="REGEX",
              help="Keep scenarios whose name matches REGEX (repeatable; any match keeps).")
@_arch_option
@_format_option
@_color_option
@_kernel_option
def matrix(scenarios, patterns, arches, fmt, color, kernel) -> None:
    """One table for the whole catalogue: scenarios x architectures.

    Rows are scenarios, columns are architectures, plus the expected column (the
    verdict most architectures are expected to give).  A cell is '=' where the
    arch gives that verdict as its [expect] says, the verdict where the arch is
    expected to differ and does, and 'VERDICT!' where the model contradicts the
    expectation.  Ends with 'N cells, M mismatches'.  Where the verdict words do
    not fit the width (COLUMNS, the terminal, or 80 when piped), cells are one
    letter (N no-op, F flush-only, C changes, - n/a) under staggered arch names.

    Exit status as check: 0 no mismatches, 1 some, 2 bad usage or input, 3 a
    model raised (its cells read 'error').
    """
    import re

    from kvmspte.analyses import matrix as mx
    from kvmspte.scenarios.loader import catalogue

    try:
        [re.compile(p) for p in patterns]
    except re.error as exc:
        raise InputError(f"-e: bad regular expression: {exc}") from None
    chosen = resolve_scenarios(scenarios) if scenarios else list(catalogue().values())
    chosen = mx.filter_scenarios(chosen, patterns)
    if not chosen:
        raise InputError(f"-e: no scenario matches {' or '.join(map(shown, patterns))}")
    m = mx.build(chosen, select_models(arches), kernel)
    show("matrix", fmt, m, color)
    finish(m.failures(), m.mismatches > 0)


@cli.command()
@click.argument("scenario", metavar="SCENARIO-NAME-OR-FILE")
@click.option("--arch", "arch", required=True, metavar="ID",
              help="The architecture model to explain (see 'kvmspte arches').")
@_format_option
@_color_option
@_kernel_option
def explain(scenario, arch, fmt, color, kernel) -> None:
    """Step-by-step account of one scenario on one architecture.

    Every event (mm side and KVM side), the function chain it goes through with
    the kernel citation of each step (file:function @ release), the secondary
    page-table state for the gfn after each event, and the verdict with its
    reason.  --format markdown or json for pasting into a mail or a bug.
    """
    from kvmspte.analyses import explain as ex

    (sc,) = resolve_scenarios([scenario])
    (model,) = select_models((arch,))
    show("explain", fmt, ex.build(sc, model, kernel), color)


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
    Output is byte-identical on every run.  Everything is computed first, then
    the changed pages are staged inside DIR and renamed into place.  Nothing
    outside DIR is touched and no link is followed out of it; a page is removed
    only when the generator wrote it and it is unchanged since.  A folder left
    by an interrupted run is removed by the next run and reported by --check.
    """
    from kvmspte.docs import generate as docgen

    try:
        stale = docgen.run(out, readme, check=check_only, group=cli)
    except docgen.DocsError as exc:
        raise InputError(str(exc)) from None
    if check_only:
        for path in stale:
            print(f"stale: {escape(path)}", file=sys.stderr)
        if stale:
            print(f"{len(stale)} generated file(s) are stale; run 'kvmspte docs --out "
                  f"{escape(out)}'", file=sys.stderr)
        sys.exit(EXIT_FAIL if stale else EXIT_OK)
    print(f"wrote {len(stale)} changed file(s) under {escape(out)}", file=sys.stderr)


@cli.command()
@click.argument("races", nargs=-1, metavar="[RACE...]")
@_arch_option
@click.option("--max-states", default=200000, show_default=True, type=click.IntRange(1),
              help="Bound on distinct states per race and arch; the report says whether "
                   "the search finished within it.")
@click.option("--fail-on-violation", is_flag=True,
              help="Exit 1 when any invariant is violated (for CI).")
@_format_option
@_kernel_option
def explore(races, arches, max_states, fail_on_violation, fmt, kernel) -> None:
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
    from kvmspte.analyses.explore.checker import attempt
    from kvmspte.analyses.explore.races import RACES
    from kvmspte.util import suggest

    for name in races:
        if name not in RACES:
            raise InputError(f"unknown race '{shown(name)}'{suggest(name, RACES)}; known: "
                             f"{', '.join(RACES)}")
    chosen = [RACES[n] for n in dict.fromkeys(races or RACES)]
    given = click.get_current_context().get_parameter_source("kernel")
    at = None if given == click.core.ParameterSource.DEFAULT else kernel
    outcomes = [attempt(r, m, max_states=max_states, kernel=at) for r in chosen
                for m in select_models(arches)]
    show("explore", fmt, outcomes)
    bad = any(o.violations for o in outcomes)
    finish([f for o in outcomes for f in o.failures()], fail_on_violation and bad)


@cli.command()
@click.argument("scenario", default="ksm-merge", metavar="[SCENARIO-NAME-OR-FILE]")
@_arch_option
@_format_option
def history(scenario: str, arches: tuple[str, ...], fmt: str) -> None:
    """The verdict of one scenario across kernel releases, per architecture.

    Runs the models at every switch point (every release where the generic,
    mm or a selected arch's modelled code changes, plus v2.6.31, v2.6.32 and
    v6.10), merges adjacent releases with the same verdict into ranges, and
    names for each range the switch point at its start that changed the
    verdict (generic, mm or the arch's own table), with its commit and
    citation.  Default scenario: ksm-merge.  Exit 0, 2 bad input, 3 a model
    raised (its ranges read 'error').
    """
    from kvmspte.analyses import history as hs

    (sc,) = resolve_scenarios([scenario])
    h = hs.build(sc, select_models(arches))
    show("history", fmt, h)
    finish(h.failures())


@cli.command()
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@_kernel_option
def arches(fmt: str, kernel) -> None:
    """List the architecture models: id, family, modelled release, and their sources."""
    from kvmspte.analyses.listing import arches_doc

    given = click.get_current_context().get_parameter_source("kernel")
    at = None if given == click.core.ParameterSource.DEFAULT else kernel
    show("arches", fmt, arches_doc(select_models(()), at))


@cli.command()
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
def scenarios(fmt: str) -> None:
    """List the built-in scenario catalogue."""
    from kvmspte.scenarios.loader import catalogue

    show("scenarios", fmt, list(catalogue().values()))


SCHEMA_NAMES = ("compare", "check", "matrix", "explain", "explore", "history", "arches",
                "scenarios", "scenario")


@cli.command()
@click.argument("name", required=False, type=click.Choice(SCHEMA_NAMES), metavar="[NAME]")
@click.option("--scenario", "which", is_flag=True,
              help="Same as NAME scenario: the JSON Schema of a scenario file.")
@click.option("--explore", "explore_", is_flag=True,
              help="Same as NAME explore: the JSON Schema of the explore report.")
@click.option("--history", "history_", is_flag=True,
              help="Same as NAME history: the JSON Schema of the history report.")
def schema(name, which: bool, explore_: bool, history_: bool) -> None:
    """Print the JSON Schema of a command's --format json output.

    NAME is one of compare (the default), check, matrix, explain, explore,
    history, arches, scenarios, or scenario (a scenario file, the input of
    compare and check).
    """
    from kvmspte.formats.schemas import schema as published

    name = name or ("history" if history_ else "explore" if explore_ else
                    "scenario" if which else "compare")
    show("schema", "json", published(name))
