"""Every refusal the dispute rules can give has its HTTP status and title."""

from __future__ import annotations

from typing import get_args

from api.dispute_service import REFUSALS
from domain.disputes import DisputeRefusalCode
from domain.tasks import TaskRefusalCode


def test_every_domain_and_task_refusal_has_a_status() -> None:
    codes = set(get_args(DisputeRefusalCode)) | set(get_args(TaskRefusalCode))
    assert codes - set(REFUSALS) == set()
    assert REFUSALS["plan_sum_mismatch"][0] == 422
    assert REFUSALS["lines_already_disputed"][0] == 409
