"""The generated state diagrams as files: writing them for every registered machine, checking
the committed ones are fresh (generated artefacts are checked: docs/architecture.md), and
drawing one charge's path, titled with the charge, headed with what it was read from and as of
when, with a legend of its marks (never committed: it is a snapshot of one charge).

This module owns the files under `diagrams/` and the one call to Graphviz. What a diagram says
comes from `statemachines.diagrams`; nothing here decides it, and nothing here draws by hand.

Run ``python -m chargeflow.diagrams [--check] [--out diagrams]`` (``make diagrams``,
``make diagrams-check``).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from chargeflow.app import App
from chargeflow.domain.errors import ChargeflowError
from chargeflow.domain.timestamps import format_instant
from chargeflow.statemachines.diagrams import Highlight, render_dot, render_mermaid
from chargeflow.statemachines.registry import CHARGE_SPECS, SPECS

DESCRIPTIONS: Mapping[str, str] = {
    "credit_only": "A usage-based charge whose usage is settled from credits alone: realized "
    "at the end of its period, final once its collection window closes "
    "(docs/lifecycle.md section 4).",
    "credit_then_invoice": "A usage-based charge settled from credits first, then on an invoice; "
    "billing realizes it, issues it and, once every invoiced run is paid, makes it final "
    "(docs/lifecycle.md section 5).",
    "invoice": "A standard invoice: created, waiting for collection, collecting once its "
    "collection window closes, approved (by hand or automatically), issued, then paid "
    "(docs/lifecycle.md section 8).",
}
"""The one line the README says about each registered machine, by spec name."""

_README_INTRO = """\
# State diagrams

Generated from the machine specs (`statemachines.registry.SPECS`) by `make diagrams`: do not
edit by hand. `make check` fails when a committed `.mmd` or `.dot` file, or this README, differs
from what the specs render.

Each machine is drawn as Mermaid (`.mmd`, shown below), Graphviz DOT (`.dot`) and an SVG made
from the DOT (`.svg`). An edge reads `trigger [guards]`. A status lists its actions:
`entry (trigger)` actions run while that trigger's row enters it, `activate` actions after
every transition into it.

`chargeflow diagram --charge ID` (and `chargeflow demo`) draws one charge's machine the same
way, marked from that charge's persisted status and audit log: its title names the charge (id,
customer, feature, settlement mode, status), its header comment says as of which instant it was
read, and a legend explains the marks (the current status, the statuses passed through, the
transitions taken numbered by step, the untaken ones, guards and actions). Such a drawing is a
snapshot of one charge, never committed here.
"""


class GraphvizError(ChargeflowError):
    """Graphviz could not draw an SVG: its `dot` program is missing (``make install`` installs
    it) or rejected the DOT text."""


def svg_from_dot(dot: str) -> str:
    """`dot` (Graphviz DOT text) drawn as SVG by ``dot -Tsvg``.

    Raises `GraphvizError` when the ``dot`` program is not installed or fails.
    """
    program = shutil.which("dot")
    if program is None:
        raise GraphvizError(
            "Graphviz's `dot` program is not installed: run `make install`, which installs "
            "graphviz where `dot` is missing"
        )
    result = subprocess.run(
        [program, "-Tsvg"], input=dot, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise GraphvizError(f"`dot -Tsvg` failed ({result.returncode}): {result.stderr.strip()}")
    return result.stdout


def write_diagrams(directory: Path) -> list[Path]:
    """Write, for every spec of `statemachines.registry.SPECS`, ``<name>.mmd``, ``<name>.dot``
    and ``<name>.svg`` into `directory` (created if missing), then ``README.md`` embedding each
    Mermaid source; the paths written, in that order.

    Every SVG is drawn before any file is written, so a `GraphvizError` leaves `directory` as
    it was.
    """
    texts = _sources()
    texts.update({f"{spec.name}.svg": svg_from_dot(texts[f"{spec.name}.dot"]) for spec in SPECS})
    names = [f"{spec.name}.{suffix}" for spec in SPECS for suffix in ("mmd", "dot", "svg")]
    directory.mkdir(parents=True, exist_ok=True)
    return [_write(directory / name, texts[name]) for name in [*names, "README.md"]]


def stale_diagrams(directory: Path) -> list[str]:
    """The names of the files in `directory` that differ from what the specs render now: each
    ``<name>.mmd``, ``<name>.dot`` and ``README.md`` that is missing or has other content, in
    registry order, then any ``.mmd`` or ``.dot`` file no spec renders. Empty when fresh.

    SVGs are not compared: their bytes depend on the Graphviz version.
    """
    expected = _sources()
    stale = [
        name
        for name, text in expected.items()
        if not (directory / name).is_file()
        or (directory / name).read_text(encoding="utf-8") != text
    ]
    orphans = sorted(
        path.name
        for pattern in ("*.mmd", "*.dot")
        for path in directory.glob(pattern)
        if path.name not in expected
    )
    return stale + orphans


def charge_diagram(app: App, charge_id: str) -> tuple[str, str]:
    """``(mermaid, dot)`` of the machine of charge `charge_id`'s settlement mode, marking the
    status it stands in and the transitions its audit log (`app.charges.history`) records, with
    a legend of the marks.

    The title names the charge: its id, customer, feature, settlement mode and status. The
    header comment says what the drawing is: this charge's persisted status and audit log as of
    the app's clock now, not a file generated from the specs.

    Raises `NotFoundError` when there is no such charge.
    """
    as_of = format_instant(app.clock.now())
    charge = app.charges.get(charge_id)
    history = app.charges.history(charge_id)
    customer = app.customers.get(charge.intent.customer_id)
    mode = charge.intent.settlement_mode
    status = charge.state.status
    highlight = Highlight(
        current=status,
        taken=tuple((record.from_status, record.trigger, record.to_status) for record in history),
        title=f"charge {charge.id} | customer {customer.name} ({customer.id}) | feature "
        f"{charge.intent.feature_key} | {mode} | status {status}",
        provenance=f"Charge {charge.id} on the {mode} machine as of {as_of} (the app's clock): "
        f"its status ({status}) and path ({len(history)} transition"
        f"{'' if len(history) == 1 else 's'}) are read from the "
        "charge's persisted status and audit log, not generated from the specs. Redraw it "
        f"with `chargeflow diagram --charge {charge.id}`; do not edit.",
    )
    spec = CHARGE_SPECS[mode]
    return render_mermaid(spec, highlight), render_dot(spec, highlight)


def write_charge_diagram(app: App, charge_id: str, directory: Path) -> list[Path]:
    """Write `charge_diagram` of charge `charge_id` into `directory` (created if missing) as
    ``charge-<id>.mmd``, ``charge-<id>.dot`` and ``charge-<id>.svg``; the paths written.

    Raises `NotFoundError` when there is no such charge, `GraphvizError` (before writing
    anything) when Graphviz cannot draw.
    """
    mermaid, dot = charge_diagram(app, charge_id)
    texts = {"mmd": mermaid, "dot": dot, "svg": svg_from_dot(dot)}
    directory.mkdir(parents=True, exist_ok=True)
    return [_write(directory / f"charge-{charge_id}.{suffix}", texts[suffix]) for suffix in texts]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m chargeflow.diagrams [--check] [--out DIRECTORY]``: write the diagrams into
    DIRECTORY (default ``diagrams``), or with ``--check`` print the stale files and return 1
    when there are any (0 and "diagrams are up to date" otherwise). Returns 2 when Graphviz
    cannot draw."""
    parser = argparse.ArgumentParser(
        prog="python -m chargeflow.diagrams",
        description="Write the state diagrams of every machine, or check the committed ones.",
    )
    parser.add_argument("--out", type=Path, default=Path("diagrams"), help="the directory")
    parser.add_argument(
        "--check", action="store_true", help="compare instead of writing; exit 1 when stale"
    )
    arguments = parser.parse_args(argv)
    directory: Path = arguments.out
    if arguments.check:
        stale = stale_diagrams(directory)
        if not stale:
            print("diagrams are up to date")
            return 0
        print("stale diagrams (run `make diagrams`; delete files no spec renders):")
        print("\n".join(f"  {directory / name}" for name in stale))
        return 1
    try:
        written = write_diagrams(directory)
    except GraphvizError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print("\n".join(f"wrote {path}" for path in written))
    return 0


def _sources() -> dict[str, str]:
    """Every generated text but the SVGs, by file name: each spec's ``.mmd`` and ``.dot`` in
    registry order, then ``README.md``."""
    texts: dict[str, str] = {}
    for spec in SPECS:
        texts[f"{spec.name}.mmd"] = render_mermaid(spec)
        texts[f"{spec.name}.dot"] = render_dot(spec)
    texts["README.md"] = _readme(texts)
    return texts


def _readme(texts: Mapping[str, str]) -> str:
    """The README of the diagrams directory: per spec a heading, its description, links and its
    Mermaid source in a ``mermaid`` block."""
    sections = [
        f"## {name}\n\n{DESCRIPTIONS[name]}\n\n"
        f"[SVG]({name}.svg) · [DOT source]({name}.dot) · [Mermaid source]({name}.mmd)\n\n"
        f"```mermaid\n{texts[f'{name}.mmd']}```\n"
        for name in (spec.name for spec in SPECS)
    ]
    return "\n".join([_README_INTRO, *sections])


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8", newline="\n")
    return path


if __name__ == "__main__":
    raise SystemExit(main())
