"""Every registered spec passes the definition checks, and the checks catch each broken rule."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from chargeflow.domain.errors import MachineDefinitionError
from chargeflow.domain.statuses import ChargeStatus as S
from chargeflow.domain.triggers import Trigger
from chargeflow.statemachines.checks import check_definition, definition_problems
from chargeflow.statemachines.credit_only import CREDIT_ONLY
from chargeflow.statemachines.registry import SPECS
from chargeflow.statemachines.spec import MachineSpec, Row


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
def test_every_registered_spec_is_well_defined(spec: MachineSpec[Any, Any, Any, Any]) -> None:
    assert definition_problems(spec) == []


def test_the_registry_holds_both_settlement_modes_and_the_invoice() -> None:
    assert [spec.name for spec in SPECS] == ["credit_only", "credit_then_invoice", "invoice"]


def without_rows_into(status: S) -> MachineSpec[Any, Any, Any, Any]:
    return replace(CREDIT_ONLY, rows=tuple(r for r in CREDIT_ONLY.rows if r.dest is not status))


def test_an_unreachable_status_is_reported() -> None:
    problems = definition_problems(without_rows_into(S.FINAL))
    assert "status 'final' is unreachable from 'created'" in problems


def test_a_non_terminal_status_without_exit_is_reported() -> None:
    spec = replace(CREDIT_ONLY, rows=tuple(r for r in CREDIT_ONLY.rows if r.source is not S.FINAL))
    assert "non-terminal status 'final' has no exit" in definition_problems(spec)


def test_a_terminal_status_with_an_exit_is_reported() -> None:
    spec = replace(CREDIT_ONLY, rows=(*CREDIT_ONLY.rows, Row(Trigger.NEXT, S.DELETED, S.CREATED)))
    assert "terminal status 'deleted' has an exit" in definition_problems(spec)


def test_a_status_without_meta_status_is_reported() -> None:
    def meta(status: S) -> Any:
        raise ValueError(status)

    problems = definition_problems(replace(CREDIT_ONLY, meta=meta))
    assert "status 'created' has no meta status" in problems


def test_rows_naming_undeclared_statuses_are_reported() -> None:
    spec = replace(CREDIT_ONLY, statuses=CREDIT_ONLY.statuses[:-1])
    with pytest.raises(MachineDefinitionError, match="names undeclared 'deleted'"):
        check_definition(spec)
