"""What one amendment does to a PO, and the record of it kept in its revision.

Every check runs before anything is changed, so a refused amendment leaves the rows as they
were. The record (``changes``) names each field with its value before and after, which is
what the revision history shows: who changed what, from what, to what.
"""

from __future__ import annotations

from typing import Any

from domain.matching.model import POStatus
from schemas.po_api import LineChange, PurchaseOrderAmendment, PurchaseOrderLineIn
from schemas.po_tables import PurchaseOrderLineRow, PurchaseOrderRow, from_e4, to_e4
from store.po_errors import PurchaseOrderRefused


def tolerances_json(tolerances: Any) -> dict[str, Any] | None:
    """The limits set, as JSON (Decimal as text); None when there are no overrides."""
    if tolerances is None:
        return None
    dumped: dict[str, Any] = tolerances.model_dump(mode="json", exclude_none=True)
    return dumped


def line_row(po_id: str, line: PurchaseOrderLineIn) -> PurchaseOrderLineRow:
    return PurchaseOrderLineRow(
        po_id=po_id,
        line_number=line.line_number,
        item_code=line.item_code,
        description=line.description,
        unit=line.unit,
        unit_price_minor=line.unit_price_minor,
        quantity_e4=to_e4(line.quantity),
        allow_over_delivery=line.allow_over_delivery,
        tolerances=tolerances_json(line.tolerances),
    )


def _listed(numbers: list[int]) -> str:
    return ", ".join(str(n) for n in numbers)


def apply_amendment(
    po: PurchaseOrderRow, lines: dict[int, PurchaseOrderLineRow], body: PurchaseOrderAmendment
) -> dict[str, Any]:
    """Change ``po`` and its ``lines`` as ``body`` says (added lines are the caller's to
    insert) and return the record of the changes; empty if nothing would change."""
    taken = sorted(line.line_number for line in body.add_lines if line.line_number in lines)
    if taken:
        raise PurchaseOrderRefused(
            "duplicate_line_number",
            f"purchase order {po.number} already has line {_listed(taken)};"
            " new lines need new numbers",
        )
    unknown = sorted(c.line_number for c in body.change_lines if c.line_number not in lines)
    if unknown:
        raise PurchaseOrderRefused(
            "unknown_line", f"purchase order {po.number} has no line {_listed(unknown)}"
        )
    line_diffs = [
        (lines[change.line_number], diff)
        for change in body.change_lines
        if (diff := _line_diff(po, lines[change.line_number], change))
    ]
    validity = _validity_diff(po, body)
    status = (
        {"from": po.status, "to": body.status.value}
        if body.status is not None and body.status.value != po.status
        else None
    )

    changes: dict[str, Any] = {}
    if body.add_lines:
        changes["added_lines"] = [line.model_dump(mode="json") for line in body.add_lines]
    if line_diffs:
        changes["changed_lines"] = [
            {
                "line_number": line.line_number,
                **{_SHOWN_AS.get(column, column): record for column, (_, record) in diff.items()},
            }
            for line, diff in line_diffs
        ]
        for line, diff in line_diffs:
            for column, (value, _) in diff.items():
                setattr(line, column, value)
    if validity is not None:
        changes["valid_to"] = {"from": str(po.valid_to), "to": str(body.valid_to)}
        po.valid_to = body.valid_to
    if status is not None:
        changes["status"] = status
        po.status = POStatus(status["to"]).value
    return changes


_SHOWN_AS = {"quantity_e4": "quantity"}  # the record names fields as the API does


def _line_diff(
    po: PurchaseOrderRow, line: PurchaseOrderLineRow, change: LineChange
) -> dict[str, tuple[Any, dict[str, Any]]]:
    """Per column that really changes: its new value, and the record ({from, to})."""
    diff: dict[str, tuple[Any, dict[str, Any]]] = {}

    def changed(column: str, new: Any, shown: tuple[Any, Any] | None = None) -> None:
        old = getattr(line, column)
        if new != old:
            before, after = shown or (old, new)
            diff[column] = (new, {"from": before, "to": after})

    if change.quantity is not None:
        new_e4 = to_e4(change.quantity)
        for used, what in ((line.invoiced_e4, "invoiced"), (line.received_e4, "received")):
            if new_e4 < used and new_e4 != line.quantity_e4:
                raise PurchaseOrderRefused(
                    "quantity_below_used",
                    f"line {line.line_number} of purchase order {po.number}: quantity"
                    f" {from_e4(new_e4)} is below the {from_e4(used)} already {what}",
                )
        shown = (str(from_e4(line.quantity_e4)), str(from_e4(new_e4)))
        changed("quantity_e4", new_e4, shown)
    if change.unit_price_minor is not None:
        changed("unit_price_minor", change.unit_price_minor)
    if change.description is not None:
        changed("description", change.description)
    if change.allow_over_delivery is not None:
        changed("allow_over_delivery", change.allow_over_delivery)
    if "tolerances" in change.model_fields_set:
        changed("tolerances", tolerances_json(change.tolerances))
    return diff


def _validity_diff(po: PurchaseOrderRow, body: PurchaseOrderAmendment) -> bool | None:
    if body.valid_to is None or body.valid_to == po.valid_to:
        return None
    if po.valid_to is None:
        raise PurchaseOrderRefused(
            "validity_not_extended",
            f"purchase order {po.number} has no end of validity; a valid_to would shorten it",
        )
    if body.valid_to < po.valid_to:
        raise PurchaseOrderRefused(
            "validity_not_extended",
            f"valid_to {body.valid_to} is before the current {po.valid_to}:"
            " validity can only be extended",
        )
    return True
