"""Tests for domain.approval: rule selection, chains, decisions, deadlines, business hours."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pydantic
import pytest

from domain.approval import (
    ApprovalChain,
    ApprovalPolicy,
    ApprovalPolicyError,
    ApprovalRule,
    ApprovalState,
    ApprovalSubject,
    ApprovalTimers,
    Approver,
    ApproverGroup,
    DecisionOutcome,
    Delegation,
    ExcludedApprover,
    LevelRule,
    MissingRate,
    Quorum,
    QuorumUnreachable,
    RateTable,
    UnknownGroup,
    UnknownTimeZone,
    add_business_hours,
    approval_chain,
    check_decision,
    escalate,
    escalation_target,
    expire,
    next_deadline,
    rates_missing,
    record_decision,
    record_reminder,
    waiting_on,
)

TODAY = date(2026, 3, 2)  # a Monday
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
T1 = T0 + timedelta(hours=1)
T2 = T0 + timedelta(hours=2)
T3 = T0 + timedelta(hours=3)

APPROVERS = [
    Approver(id=name, name=name.title(), email=f"{name}@example.com")
    for name in ["alice", "bob", "carol", "dave", "erin", "frank", "gina"]
]
GROUPS = [
    ApproverGroup(
        id="managers",
        name="Managers",
        members=["alice", "bob", "carol"],
        backup_approver_id="frank",
    ),
    ApproverGroup(
        id="finance", name="Finance", members=["dave", "erin"], backup_approver_id="frank"
    ),
    ApproverGroup(id="directors", name="Directors", members=["frank"]),
]
RATES = RateTable(
    base="GBP",
    rates={"EUR": Decimal("0.85"), "USD": Decimal("0.80"), "JPY": Decimal("0.005")},
)


def level(group_id: str, kind: str = "any", count: int | None = None) -> LevelRule:
    return LevelRule(group_id=group_id, quorum=Quorum(kind=kind, count=count))  # type: ignore[arg-type]


def rule(rule_id: str, *levels: LevelRule, **fields: Any) -> ApprovalRule:
    return ApprovalRule(
        id=rule_id,
        description=fields.pop("description", f"Rule {rule_id}"),
        levels=list(levels) or [level("managers")],
        **fields,
    )


def make_policy(*rules: ApprovalRule, **fields: Any) -> ApprovalPolicy:
    fields.setdefault("groups", GROUPS)
    fields.setdefault("approvers", APPROVERS)
    return ApprovalPolicy(rules=list(rules), **fields)


def subject(**overrides: Any) -> ApprovalSubject:
    fields: dict[str, Any] = {
        "document_type": "invoice",
        "amount_minor": 50_000,
        "currency": "GBP",
        "customer_id": "cus_1",
        "region": "GB",
        "po_variance_accepted": False,
        "created_by": "gina",
        "last_changed_by": "gina",
        "version": 3,
    }
    fields.update(overrides)
    return ApprovalSubject(**fields)


OVER_1K = rule(
    "over-1k",
    level("managers"),
    document_types={"invoice"},
    min_amount_minor=100_000,
    currency="GBP",
)
OVER_10K = rule(
    "over-10k",
    level("managers", "count", 2),
    level("finance"),
    document_types={"invoice"},
    min_amount_minor=1_000_000,
    currency="GBP",
)
STANDARD = make_policy(OVER_1K, OVER_10K)


def chain_for(policy: ApprovalPolicy = STANDARD, **overrides: Any) -> ApprovalChain:
    chain = approval_chain(policy, subject(**overrides), today=TODAY)
    assert chain is not None
    return chain


def ids(people: Any) -> list[str]:
    return [p.approver_id for p in people]


# --- which rule applies ------------------------------------------------------------------


def test_invoice_below_every_threshold_needs_no_approval() -> None:
    assert approval_chain(STANDARD, subject(amount_minor=99_999), today=TODAY) is None


@pytest.mark.parametrize(
    ("amount", "rule_id"),
    [
        (99_999, None),
        (100_000, "over-1k"),  # the threshold itself needs approval
        (999_999, "over-1k"),
        (1_000_000, "over-10k"),  # both match; the higher threshold wins
        (5_000_000, "over-10k"),
    ],
)
def test_the_highest_threshold_met_picks_the_rule(amount: int, rule_id: str | None) -> None:
    chain = approval_chain(STANDARD, subject(amount_minor=amount), today=TODAY)
    assert (chain.rule_id if chain else None) == rule_id


def test_the_rule_order_in_the_policy_does_not_change_which_threshold_wins() -> None:
    chain = approval_chain(
        make_policy(OVER_10K, OVER_1K), subject(amount_minor=2_000_000), today=TODAY
    )
    assert chain is not None and chain.rule_id == "over-10k"


def test_a_threshold_tie_goes_to_more_levels_then_to_the_rule_listed_first() -> None:
    one = rule("one", level("managers"), min_amount_minor=100_000, currency="GBP")
    two = rule("two", level("managers"), level("finance"), min_amount_minor=100_000, currency="GBP")
    also_one = rule("also-one", level("finance"), min_amount_minor=100_000, currency="GBP")
    big = subject(amount_minor=100_000)
    assert approval_chain(make_policy(one, two), big, today=TODAY).rule_id == "two"  # type: ignore[union-attr]
    assert approval_chain(make_policy(one, also_one), big, today=TODAY).rule_id == "one"  # type: ignore[union-attr]
    assert approval_chain(make_policy(also_one, one), big, today=TODAY).rule_id == "also-one"  # type: ignore[union-attr]


def test_a_rule_without_threshold_applies_at_any_amount_but_ranks_below_thresholds() -> None:
    credit_notes = rule("credit-notes", level("finance"), document_types={"credit_note"})
    big_credit = rule(
        "big-credit",
        level("directors"),
        document_types={"credit_note"},
        min_amount_minor=0,
        currency="GBP",
    )
    small = subject(document_type="credit_note", amount_minor=1)
    assert chain_for(
        make_policy(credit_notes), document_type="credit_note", amount_minor=1
    ).rule_id == ("credit-notes")
    chain = approval_chain(make_policy(credit_notes, big_credit), small, today=TODAY)
    assert chain is not None and chain.rule_id == "big-credit"


def test_a_credit_note_is_measured_by_the_size_of_its_amount() -> None:
    policy = make_policy(
        rule("big-credit", document_types={"credit_note"}, min_amount_minor=100_000, currency="GBP")
    )
    chain = chain_for(policy, document_type="credit_note", amount_minor=-150_000)
    assert (chain.rule_id, chain.compared_amount_minor) == ("big-credit", 150_000)
    assert (
        approval_chain(
            policy, subject(document_type="credit_note", amount_minor=-99_999), today=TODAY
        )
        is None
    )


@pytest.mark.parametrize(
    ("condition", "facts", "applies"),
    [
        ({"customer_ids": {"cus_big"}}, {"customer_id": "cus_big"}, True),
        ({"customer_ids": {"cus_big"}}, {"customer_id": "cus_1"}, False),
        ({"regions": {"CA-QC", "CA-ON"}}, {"region": "CA-QC"}, True),
        ({"regions": {"CA-QC", "CA-ON"}}, {"region": "GB"}, False),
        ({"document_types": {"credit_note"}}, {"document_type": "credit_note"}, True),
        ({"document_types": {"credit_note"}}, {"document_type": "invoice"}, False),
        ({"document_types": set()}, {"document_type": "credit_note"}, True),
        ({"requires_po_variance": True}, {"po_variance_accepted": True}, True),
        ({"requires_po_variance": True}, {"po_variance_accepted": False}, False),
        ({"requires_po_variance": False}, {"po_variance_accepted": False}, True),
        ({"requires_po_variance": False}, {"po_variance_accepted": True}, False),
        ({"requires_po_variance": None}, {"po_variance_accepted": True}, True),
        ({"requires_po_variance": None}, {"po_variance_accepted": False}, True),
    ],
)
def test_rules_match_on_customer_region_document_type_and_po_variance(
    condition: dict[str, Any], facts: dict[str, Any], applies: bool
) -> None:
    chain = approval_chain(make_policy(rule("r", **condition)), subject(**facts), today=TODAY)
    assert (chain.rule_id if chain else None) == ("r" if applies else None)


# --- currencies --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount_eur", "compared_gbp", "rule_id"),
    [
        (117_647, 100_000, "over-1k"),  # 1,176.47 x 0.85 = 999.9995 -> 1,000.00 (half up)
        (117_646, 99_999, None),  # 999.991 -> 999.99
    ],
)
def test_an_amount_in_another_currency_is_converted_to_the_rule_currency(
    amount_eur: int, compared_gbp: int, rule_id: str | None
) -> None:
    policy = make_policy(OVER_1K, rates=RATES)
    chain = approval_chain(policy, subject(currency="EUR", amount_minor=amount_eur), today=TODAY)
    assert (chain.rule_id if chain else None) == rule_id
    assert RATES.convert_minor(amount_eur, "EUR", "GBP") == compared_gbp
    if chain:
        assert (chain.threshold_minor, chain.threshold_currency) == (100_000, "GBP")
        assert chain.compared_amount_minor == compared_gbp


@pytest.mark.parametrize(
    ("amount", "source", "target", "converted"),
    [
        (1_000_000, "JPY", "GBP", 500_000),  # JPY has no minor unit: 1,000,000 x 0.005 = 5,000.00
        (500_000, "GBP", "JPY", 1_000_000),
        (10_000, "USD", "EUR", 9_412),  # 100.00 x 0.80 / 0.85 = 94.1176... EUR
        (10_000, "GBP", "GBP", 10_000),
    ],
)
def test_rates_convert_through_the_base_currency_with_each_minor_unit(
    amount: int, source: str, target: str, converted: int
) -> None:
    assert RATES.convert_minor(amount, source, target) == converted


def test_a_rule_without_currency_compares_in_the_rate_table_base_currency() -> None:
    policy = make_policy(rule("bare", min_amount_minor=100_000), rates=RATES)
    chain = chain_for(policy, currency="USD", amount_minor=125_000)  # USD 1,250 = GBP 1,000
    assert (chain.threshold_currency, chain.compared_amount_minor) == ("GBP", 100_000)
    assert (
        approval_chain(policy, subject(currency="USD", amount_minor=124_999), today=TODAY) is None
    )


def test_thresholds_in_different_currencies_are_ranked_by_value_not_by_number() -> None:
    gbp_1200 = rule("gbp-1200", min_amount_minor=120_000, currency="GBP")
    jpy_200k = rule("jpy-200k", min_amount_minor=200_000, currency="JPY")  # GBP 1,000.00
    chain = chain_for(make_policy(jpy_200k, gbp_1200, rates=RATES), amount_minor=150_000)
    assert chain.rule_id == "gbp-1200"


def test_a_missing_rate_is_an_approval_policy_error_naming_the_currency() -> None:
    with pytest.raises(MissingRate) as err:
        approval_chain(make_policy(OVER_1K, rates=RATES), subject(currency="CHF"), today=TODAY)
    assert isinstance(err.value, ApprovalPolicyError)
    assert err.value.code == "missing_rate"
    assert err.value.detail == (
        "no exchange rate for CHF in the rate table (base GBP; rates for: EUR, JPY, USD)"
    )


def test_a_foreign_currency_without_a_rate_table_is_a_missing_rate() -> None:
    with pytest.raises(MissingRate) as err:
        approval_chain(STANDARD, subject(currency="EUR"), today=TODAY)
    assert err.value.detail == (
        "rule 'over-1k' has its threshold in GBP but the document is in EUR, "
        "and the policy has no rate table"
    )


def test_a_rule_that_does_not_match_on_its_other_conditions_needs_no_rate() -> None:
    policy = make_policy(rule("vip", customer_ids={"cus_vip"}, min_amount_minor=1, currency="GBP"))
    assert approval_chain(policy, subject(currency="EUR"), today=TODAY) is None


def test_a_rule_never_reaches_a_document_outside_its_currency_scope() -> None:
    gbp_only = rule("gbp", min_amount_minor=500_000, currency="GBP", currencies={"GBP"})
    policy = make_policy(gbp_only)  # no rate table at all
    assert (
        approval_chain(policy, subject(currency="CAD", amount_minor=137_970), today=TODAY) is None
    )
    assert approval_chain(policy, subject(amount_minor=600_000), today=TODAY) is not None


def test_a_rule_scoped_to_other_currencies_converts_them_with_the_rate_table() -> None:
    wide = rule("wide", min_amount_minor=100_000, currency="GBP", currencies={"GBP", "EUR"})
    chain = approval_chain(
        make_policy(wide, rates=RATES), subject(currency="EUR", amount_minor=120_000), today=TODAY
    )
    assert chain is not None and chain.compared_amount_minor == 102_000
    assert (
        approval_chain(make_policy(wide, rates=RATES), subject(currency="USD"), today=TODAY) is None
    )


def test_rates_missing_names_the_scope_currencies_a_threshold_cannot_be_compared_with() -> None:
    gbp = {"min_amount_minor": 500_000, "currency": "GBP"}
    assert rates_missing(rule("a", currencies={"GBP"}, **gbp), None) == []
    assert rates_missing(rule("b", currencies={"GBP", "CAD"}, **gbp), None) == ["CAD"]
    assert rates_missing(rule("c", currencies={"GBP", "EUR", "CAD"}, **gbp), RATES) == ["CAD"]
    assert rates_missing(rule("d", currencies={"EUR"}), None) == []  # no threshold
    unscoped = rates_missing(rule("e", **gbp), RATES)
    assert "CAD" in unscoped and "EUR" not in unscoped and "GBP" not in unscoped


# --- the chain ---------------------------------------------------------------------------


def test_a_multi_level_chain_lists_its_levels_in_rule_order() -> None:
    chain = chain_for(amount_minor=1_000_000)
    assert chain.rule_id == "over-10k"
    assert chain.version == 3
    assert [
        (lv.index, lv.group_id, lv.group_name, lv.required, ids(lv.eligible)) for lv in chain.levels
    ] == [
        (0, "managers", "Managers", 2, ["alice", "bob", "carol"]),
        (1, "finance", "Finance", 1, ["dave", "erin"]),
    ]
    assert [lv.backup.approver_id if lv.backup else None for lv in chain.levels] == [
        "frank",
        "frank",
    ]
    assert chain.levels[0].eligible[0].email == "alice@example.com"


@pytest.mark.parametrize(
    ("kind", "count", "required"), [("any", None, 1), ("count", 2, 2), ("all", None, 3)]
)
def test_quorum_resolves_to_the_number_of_approvals_required(
    kind: str, count: int | None, required: int
) -> None:
    chain = chain_for(make_policy(rule("r", level("managers", kind, count))))
    assert chain.levels[0].required == required


def test_separation_of_duties_removes_the_creator_and_the_last_editor() -> None:
    chain = chain_for(
        make_policy(rule("r", level("managers", "all"))), created_by="alice", last_changed_by="bob"
    )
    managers = chain.levels[0]
    assert ids(managers.eligible) == ["carol"]
    assert managers.required == 1  # "all" means all who may approve
    assert managers.excluded == (
        ExcludedApprover(approver_id="alice", reason="created_document"),
        ExcludedApprover(approver_id="bob", reason="last_changed_document"),
    )


def test_separation_of_duties_makes_a_level_unreachable_when_too_few_remain() -> None:
    policy = make_policy(rule("r", level("finance"), level("managers", "count", 2)))
    with pytest.raises(QuorumUnreachable) as err:
        approval_chain(policy, subject(created_by="alice", last_changed_by="bob"), today=TODAY)
    assert err.value.code == "quorum_unreachable"
    assert (err.value.level_index, err.value.group_id) == (1, "managers")
    assert err.value.detail == (
        "level 2 of 2 (group 'managers') needs 2 approval(s) but has 1 eligible approver(s): "
        "'alice' created the document; 'bob' last changed the document"
    )


def test_an_all_quorum_with_nobody_left_is_unreachable_not_approved() -> None:
    policy = make_policy(rule("r", level("directors", "all")))
    with pytest.raises(QuorumUnreachable) as err:
        approval_chain(policy, subject(created_by="frank", last_changed_by="frank"), today=TODAY)
    assert err.value.detail == (
        "level 1 of 1 (group 'directors') needs an approval from every eligible member "
        "but has 0 eligible approver(s): 'frank' created the document"
    )


def test_levels_that_need_the_same_people_are_unreachable() -> None:
    policy = make_policy(rule("r", level("managers", "all"), level("managers")))
    with pytest.raises(QuorumUnreachable) as err:
        approval_chain(policy, subject(), today=TODAY)
    assert err.value.level_index == 1
    assert err.value.detail == (
        "level 2 of 2 (group 'managers') needs 1 approval(s) from 'alice', 'bob', 'carol', "
        "who are also needed at earlier levels, and one person cannot approve two levels"
    )


def test_levels_sharing_a_group_are_fine_while_enough_different_people_remain() -> None:
    chain = chain_for(make_policy(rule("r", level("managers", "count", 2), level("managers"))))
    assert [lv.required for lv in chain.levels] == [2, 1]


# --- delegation --------------------------------------------------------------------------

AWAY = Delegation(
    approver_id="alice", delegate_id="dave", starts=date(2026, 3, 2), ends=date(2026, 3, 6)
)


@pytest.mark.parametrize(
    ("today", "first_seat", "delegated_from"),
    [
        (date(2026, 3, 1), "alice", None),
        (date(2026, 3, 2), "dave", "alice"),  # first day included
        (date(2026, 3, 6), "dave", "alice"),  # last day included
        (date(2026, 3, 7), "alice", None),
    ],
)
def test_delegation_is_active_only_within_its_dates_and_is_recorded(
    today: date, first_seat: str, delegated_from: str | None
) -> None:
    policy = make_policy(rule("r"), delegations=[AWAY])
    chain = approval_chain(policy, subject(), today=today)
    assert chain is not None
    managers = chain.levels[0]
    assert ids(managers.eligible) == [first_seat, "bob", "carol"]
    assert managers.eligible[0].delegated_from == delegated_from


def test_a_delegate_who_is_already_a_member_keeps_one_seat_of_their_own() -> None:
    to_bob = Delegation(approver_id="alice", delegate_id="bob", starts=TODAY, ends=TODAY)
    chain = chain_for(make_policy(rule("r", level("managers", "all")), delegations=[to_bob]))
    managers = chain.levels[0]
    assert [(p.approver_id, p.delegated_from) for p in managers.eligible] == [
        ("bob", None),
        ("carol", None),
    ]
    assert managers.required == 2
    assert managers.excluded == (
        ExcludedApprover(approver_id="bob", reason="already_eligible", delegated_from="alice"),
    )


def test_a_delegate_who_created_the_document_is_not_eligible() -> None:
    chain = chain_for(make_policy(rule("r"), delegations=[AWAY]), created_by="dave")
    assert ids(chain.levels[0].eligible) == ["bob", "carol"]
    assert chain.levels[0].excluded == (
        ExcludedApprover(approver_id="dave", reason="created_document", delegated_from="alice"),
    )


def test_the_delegate_of_a_barred_approver_does_not_inherit_the_seat() -> None:
    chain = chain_for(make_policy(rule("r"), delegations=[AWAY]), last_changed_by="alice")
    assert ids(chain.levels[0].eligible) == ["bob", "carol"]


def test_the_backup_is_resolved_with_delegation_and_separation_of_duties() -> None:
    frank_away = Delegation(approver_id="frank", delegate_id="gina", starts=TODAY, ends=TODAY)
    policy = make_policy(rule("r"), delegations=[frank_away])
    backup = chain_for(policy, created_by="erin", last_changed_by="erin").levels[0].backup
    assert backup is not None and (backup.approver_id, backup.delegated_from) == ("gina", "frank")
    barred = chain_for(make_policy(rule("r")), created_by="frank").levels[0]
    assert barred.backup is None
    assert barred.excluded == (
        ExcludedApprover(approver_id="frank", reason="created_document", as_backup=True),
    )


def test_escalation_target_is_the_groups_backup_approver() -> None:
    assert escalation_target(STANDARD, "managers") == "frank"
    assert escalation_target(STANDARD, "directors") is None
    with pytest.raises(UnknownGroup) as err:
        escalation_target(STANDARD, "nobody")
    assert (err.value.code, err.value.detail) == (
        "unknown_group",
        "approver group 'nobody' is not in the policy",
    )


# --- policy data is checked when built ---------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"rules": [rule("r", level("nobody"))]}, "rule 'r' level 1 names unknown group 'nobody'"),
        (
            {"rules": [rule("r", level("finance", "count", 3))]},
            "rule 'r' level 1 needs 3 approvals but group 'finance' has 2 members",
        ),
        ({"rules": [rule("r"), rule("r")]}, "rule ids must be unique; repeated: r"),
        (
            {"groups": [*GROUPS, ApproverGroup(id="x", name="X", members=["zed"])]},
            "group 'x' names unknown approver 'zed'",
        ),
        (
            {"rules": [rule("r", min_amount_minor=1)]},
            "rule 'r' has a threshold without a currency, which needs a rate table",
        ),
        (
            {
                "delegations": [
                    AWAY,
                    AWAY.model_copy(update={"starts": date(2026, 3, 6), "ends": date(2026, 3, 9)}),
                ]
            },
            "delegations of 'alice' overlap: 2026-03-02..2026-03-06 and 2026-03-06..2026-03-09",
        ),
        (
            {
                "delegations": [
                    Delegation(approver_id="alice", delegate_id="zed", starts=TODAY, ends=TODAY)
                ]
            },
            "delegation names unknown approver 'zed'",
        ),
    ],
)
def test_inconsistent_policy_data_is_refused(fields: dict[str, Any], message: str) -> None:
    fields = dict(fields)
    rules = fields.pop("rules", [rule("ok")])
    with pytest.raises(pydantic.ValidationError, match=message):
        make_policy(*rules, **fields)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Quorum(kind="count"), "a 'count' quorum needs a count"),
        (lambda: Quorum(kind="all", count=2), "an 'all' quorum takes no count"),
        (
            lambda: Delegation(approver_id="a", delegate_id="a", starts=TODAY, ends=TODAY),
            "approver 'a' cannot delegate to themselves",
        ),
        (
            lambda: Delegation(
                approver_id="a", delegate_id="b", starts=TODAY, ends=date(2026, 3, 1)
            ),
            "delegation starts 2026-03-02, after it ends 2026-03-01",
        ),
        (
            lambda: RateTable(base="GBP", rates={"EUR": Decimal(0)}),
            "rate for EUR must be a positive",
        ),
        (
            lambda: RateTable(base="GBP", rates={"GBP": Decimal(2)}),
            "base currency GBP must have rate 1",
        ),
        (
            lambda: RateTable(base="GBP", rates={"XYZ": Decimal(1)}),
            "currency 'XYZ' is not supported",
        ),
        (
            lambda: Approver(id="a", name="A", email="a@example.com", time_zone="Mars/Olympus"),
            "time zone 'Mars/Olympus' is not in the tz database",
        ),
    ],
)
def test_invalid_policy_parts_are_refused(build: Any, message: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=message):
        build()


def test_approval_chain_wants_a_date_not_a_datetime() -> None:
    with pytest.raises(TypeError):
        approval_chain(STANDARD, subject(), today=T0)


# --- decisions ---------------------------------------------------------------------------


def start() -> ApprovalState:
    return ApprovalState(level_activated_at=T0)


def decide(
    chain: ApprovalChain,
    state: ApprovalState,
    who: str,
    level_index: int = 0,
    decision: str = "approve",
    *,
    version: int = 3,
    at: datetime = T1,
    reason: str | None = None,
) -> DecisionOutcome:
    return record_decision(
        chain,
        state,
        approver_id=who,
        level_index=level_index,
        decision=decision,  # type: ignore[arg-type]
        version=version,
        at=at,
        reason=reason,
    )


def test_a_quorum_of_two_completes_the_level_only_on_the_second_approval() -> None:
    chain = chain_for(amount_minor=1_000_000)
    first = decide(chain, start(), "alice", at=T1)
    assert (first.code, first.state.active_level, first.state.status) == ("applied", 0, "pending")
    second = decide(chain, first.state, "bob", at=T2)
    assert (second.code, second.state.active_level) == ("level_complete", 1)
    assert second.state.level_activated_at == T2
    last = decide(chain, second.state, "dave", 1, at=T3)
    assert (last.code, last.state.status, last.state.active_level, last.state.closed_at) == (
        "chain_complete",
        "approved",
        2,
        T3,
    )
    assert [
        (d.level_index, d.approver_id, d.decision, d.version, d.at) for d in last.state.decisions
    ] == [
        (0, "alice", "approve", 3, T1),
        (0, "bob", "approve", 3, T2),
        (1, "dave", "approve", 3, T3),
    ]


def test_one_approval_completes_a_single_level_any_chain() -> None:
    chain = chain_for(amount_minor=100_000)
    outcome = decide(chain, start(), "carol")
    assert (outcome.code, outcome.state.status, outcome.accepted) == (
        "chain_complete",
        "approved",
        True,
    )
    assert outcome.recorded is not None and outcome.recorded.approver_id == "carol"


def test_a_reject_closes_the_chain_with_its_reason() -> None:
    chain = chain_for(amount_minor=1_000_000)
    outcome = decide(chain, start(), "alice", decision="reject", reason="wrong PO", at=T2)
    assert (outcome.code, outcome.state.status, outcome.state.closed_at) == (
        "rejected",
        "rejected",
        T2,
    )
    assert outcome.recorded is not None and outcome.recorded.reason == "wrong PO"


def test_a_request_for_changes_closes_the_chain_with_its_note() -> None:
    chain = chain_for(amount_minor=1_000_000)
    outcome = decide(chain, start(), "bob", decision="request_changes", reason="split line 2")
    assert (outcome.code, outcome.state.status) == ("changes_requested", "changes_requested")
    assert outcome.state.decisions[-1].reason == "split line 2"


def test_a_second_click_is_already_decided_by_whom_and_when_and_changes_nothing() -> None:
    chain = chain_for(amount_minor=1_000_000)
    first = decide(chain, start(), "alice", at=T1)
    again = decide(chain, first.state, "alice", at=T2)
    assert again.code == "already_decided"
    assert again.state is first.state
    assert again.recorded is None and not again.accepted
    assert again.earlier is not None
    assert (again.earlier.approver_id, again.earlier.decision, again.earlier.at) == (
        "alice",
        "approve",
        T1,
    )


def test_a_click_on_a_level_someone_else_settled_is_already_decided_by_them() -> None:
    chain = chain_for(amount_minor=100_000)
    done = decide(chain, start(), "alice", at=T1)
    late = decide(chain, done.state, "bob", at=T2)
    assert late.code == "already_decided"
    assert late.earlier is not None and (late.earlier.approver_id, late.earlier.at) == ("alice", T1)


def test_a_rejected_level_is_already_decided_for_its_other_approvers() -> None:
    chain = chain_for(amount_minor=1_000_000)
    rejected = decide(chain, start(), "alice", decision="reject", at=T1)
    late = decide(chain, rejected.state, "bob", decision="approve", at=T2)
    assert late.code == "already_decided"
    assert late.earlier is not None and (late.earlier.approver_id, late.earlier.decision) == (
        "alice",
        "reject",
    )


def test_the_wrong_approver_is_not_your_approval() -> None:
    chain = chain_for(amount_minor=1_000_000)
    state = start()
    assert decide(chain, state, "dave", 0).code == "not_your_approval"
    assert decide(chain, state, "gina", 0).code == "not_your_approval"


def test_a_link_for_an_old_version_is_version_changed() -> None:
    chain = chain_for(amount_minor=1_000_000)
    outcome = decide(chain, start(), "alice", version=2)
    assert (outcome.code, outcome.state.decisions) == ("version_changed", ())


def test_a_later_level_is_not_active_yet() -> None:
    chain = chain_for(amount_minor=1_000_000)
    assert decide(chain, start(), "dave", 1).code == "level_not_active"
    assert decide(chain, start(), "dave", 7).code == "level_not_active"


def test_one_person_cannot_approve_two_levels_of_the_same_chain() -> None:
    chain = chain_for(make_policy(rule("r", level("managers"), level("managers"))))
    first = decide(chain, start(), "alice", 0, at=T1)
    assert first.code == "level_complete"
    twice = decide(chain, first.state, "alice", 1, at=T2)
    assert twice.code == "duplicate_level_approver"
    assert twice.earlier is not None and (twice.earlier.level_index, twice.earlier.at) == (0, T1)
    assert decide(chain, first.state, "bob", 1).code == "chain_complete"


def test_an_approver_of_an_earlier_level_may_still_reject_a_later_one() -> None:
    chain = chain_for(make_policy(rule("r", level("managers"), level("managers"))))
    first = decide(chain, start(), "alice", 0)
    assert decide(chain, first.state, "alice", 1, decision="reject").code == "rejected"


def test_a_closed_chain_refuses_approvers_of_levels_it_never_reached() -> None:
    chain = chain_for(amount_minor=1_000_000)
    rejected = decide(chain, start(), "alice", decision="reject", at=T1)
    closed = decide(chain, rejected.state, "dave", 1)
    assert closed.code == "chain_closed"
    assert closed.earlier is not None and closed.earlier.approver_id == "alice"
    expired = expire(start(), at=T2)
    assert (expired.status, expired.closed_at) == ("expired", T2)
    after = decide(chain, expired, "alice")
    assert (after.code, after.earlier) == ("chain_closed", None)


def test_a_delegates_decision_records_whom_they_stood_in_for() -> None:
    chain = chain_for(make_policy(rule("r"), delegations=[AWAY]))
    assert decide(chain, start(), "alice").code == "not_your_approval"
    outcome = decide(chain, start(), "dave")
    assert outcome.code == "chain_complete"
    assert outcome.recorded is not None and outcome.recorded.delegated_from == "alice"


def test_an_escalated_level_accepts_its_backup_who_decides_for_the_whole_level() -> None:
    chain = chain_for(amount_minor=1_000_000)
    state = start()
    assert decide(chain, state, "frank").code == "not_your_approval"
    escalated = escalate(state)
    assert escalated.escalated and escalated.escalated_levels == (0,)
    outcome = decide(chain, escalated, "frank")  # one approval, though the quorum is 2
    assert (outcome.code, outcome.state.active_level, outcome.state.escalated) == (
        "level_complete",
        1,
        False,
    )
    assert outcome.recorded is not None and outcome.recorded.as_backup
    # frank is finance's backup too, but he has already approved a level of this chain
    assert decide(chain, escalate(outcome.state), "frank", 1).code == "duplicate_level_approver"


def test_check_decision_gives_the_same_answer_as_record_decision_without_a_new_state() -> None:
    chain = chain_for(amount_minor=1_000_000)
    state = decide(chain, start(), "alice", at=T1).state
    clicks = [("alice", 0, 3), ("bob", 0, 3), ("dave", 0, 3), ("dave", 1, 3), ("bob", 0, 2)]
    answers = []
    for who, level_index, version in clicks:
        refusal = check_decision(
            chain,
            state,
            approver_id=who,
            level_index=level_index,
            decision="approve",
            version=version,
        )
        outcome = decide(chain, state, who, level_index, version=version)
        assert (refusal.code if refusal else None) == (None if outcome.accepted else outcome.code)
        answers.append(refusal.code if refusal else None)
    assert answers == [
        "already_decided",
        None,
        "not_your_approval",
        "level_not_active",
        "version_changed",
    ]
    refusal = check_decision(
        chain, state, approver_id="alice", level_index=0, decision="approve", version=3
    )
    assert refusal is not None and refusal.earlier is not None and refusal.earlier.at == T1


def test_recording_a_decision_leaves_its_inputs_unchanged() -> None:
    chain = chain_for(amount_minor=1_000_000)
    state = decide(chain, start(), "alice").state
    before_state, before_chain = state.model_dump(), chain.model_dump()
    decide(chain, state, "bob")
    assert (state.model_dump(), chain.model_dump()) == (before_state, before_chain)


def test_waiting_on_lists_who_has_yet_to_decide_the_active_level() -> None:
    chain = chain_for(amount_minor=1_000_000)
    state = start()
    assert ids(waiting_on(chain, state)) == ["alice", "bob", "carol"]
    state = decide(chain, state, "alice").state
    assert ids(waiting_on(chain, state)) == ["bob", "carol"]
    assert ids(waiting_on(chain, escalate(state))) == ["bob", "carol", "frank"]
    state = decide(chain, state, "bob").state
    assert ids(waiting_on(chain, state)) == ["dave", "erin"]
    assert waiting_on(chain, decide(chain, state, "erin", 1).state) == ()


def test_waiting_on_skips_someone_who_approved_an_earlier_level() -> None:
    chain = chain_for(make_policy(rule("r", level("managers"), level("managers"))))
    state = decide(chain, start(), "alice").state
    assert ids(waiting_on(chain, state)) == ["bob", "carol"]


def test_reminders_are_counted_per_level_and_not_after_close() -> None:
    chain = chain_for(amount_minor=1_000_000)
    state = record_reminder(record_reminder(start()))
    assert state.reminders_sent == 2
    state = decide(chain, decide(chain, state, "alice").state, "bob").state
    assert state.reminders_sent == 0
    closed = expire(state, at=T3)
    assert record_reminder(closed) is closed and escalate(closed) is closed
    assert expire(closed, at=T3 + timedelta(days=1)) is closed


# --- deadlines ---------------------------------------------------------------------------

TIMERS = ApprovalTimers(
    remind_after=timedelta(days=1), escalate_after=timedelta(days=3), expire_after=timedelta(days=5)
)


def test_deadlines_come_in_order_remind_then_escalate_then_expire() -> None:
    state = start()
    events = []
    while state.status == "pending":
        what, at = next_deadline(
            state.level_activated_at, TIMERS, state.reminders_sent, state.escalated
        )
        events.append((what, at - T0))
        if what == "remind":
            state = record_reminder(state)
        elif what == "escalate":
            state = escalate(state)
        else:
            state = expire(state, at=at)
    assert events == [
        ("remind", timedelta(days=1)),
        ("remind", timedelta(days=2)),
        ("escalate", timedelta(days=3)),
        ("expire", timedelta(days=5)),
    ]


def test_no_reminder_is_due_at_or_after_escalation() -> None:
    timers = ApprovalTimers(
        remind_after=timedelta(days=2),
        escalate_after=timedelta(days=2),
        expire_after=timedelta(days=4),
    )
    assert next_deadline(T0, timers, 0, False) == ("escalate", T0 + timedelta(days=2))


def test_business_hour_deadlines_skip_the_weekend() -> None:
    timers = ApprovalTimers(
        remind_after=timedelta(hours=8),
        escalate_after=timedelta(hours=16),
        expire_after=timedelta(hours=40),
        business_hours=True,
    )
    friday_3pm = datetime(2026, 1, 9, 15, 0, tzinfo=UTC)
    london = {"time_zone": "Europe/London"}
    assert next_deadline(friday_3pm, timers, 0, False, **london) == (
        "remind",
        datetime(2026, 1, 12, 15, 0, tzinfo=UTC),
    )
    assert next_deadline(friday_3pm, timers, 1, False, **london) == (
        "escalate",
        datetime(2026, 1, 13, 15, 0, tzinfo=UTC),
    )
    assert next_deadline(friday_3pm, timers, 1, True, **london) == (
        "expire",
        datetime(2026, 1, 16, 15, 0, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("remind", "escalate_", "expire_"),
    [(0, 2, 3), (2, 1, 3), (1, 3, 3)],
)
def test_timers_out_of_order_are_refused(remind: int, escalate_: int, expire_: int) -> None:
    with pytest.raises(pydantic.ValidationError):
        ApprovalTimers(
            remind_after=timedelta(days=remind),
            escalate_after=timedelta(days=escalate_),
            expire_after=timedelta(days=expire_),
        )


# --- business hours ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start_at", "hours", "zone", "expected"),
    [
        # Friday 16:00 in London (GMT in January) + 2 h: 1 h on Friday, 1 h on Monday.
        (
            datetime(2026, 1, 9, 16, 0, tzinfo=UTC),
            2,
            "Europe/London",
            datetime(2026, 1, 12, 10, 0, tzinfo=UTC),
        ),
        # Saturday: counting starts Monday 09:00.
        (
            datetime(2026, 1, 10, 11, 0, tzinfo=UTC),
            3,
            "Europe/London",
            datetime(2026, 1, 12, 12, 0, tzinfo=UTC),
        ),
        (
            datetime(2026, 1, 10, 11, 0, tzinfo=UTC),
            0,
            "Europe/London",
            datetime(2026, 1, 12, 9, 0, tzinfo=UTC),
        ),
        # Before opening on a weekday.
        (
            datetime(2026, 1, 12, 7, 0, tzinfo=UTC),
            1,
            "Europe/London",
            datetime(2026, 1, 12, 10, 0, tzinfo=UTC),
        ),
        # A whole day ends at closing time, not the next morning.
        (
            datetime(2026, 1, 12, 9, 0, tzinfo=UTC),
            8,
            "Europe/London",
            datetime(2026, 1, 12, 17, 0, tzinfo=UTC),
        ),
        (
            datetime(2026, 1, 12, 9, 0, tzinfo=UTC),
            8.5,
            "Europe/London",
            datetime(2026, 1, 13, 9, 30, tzinfo=UTC),
        ),
        # The same instant, Friday 15:00 UTC, in three zones, plus 4 business hours:
        # London 15:00 Fri -> 11:00 Mon; New York 10:00 Fri -> 14:00 Fri (19:00 UTC);
        # Tokyo is already Saturday 00:00 -> Monday 13:00 JST (04:00 UTC).
        (
            datetime(2026, 1, 9, 15, 0, tzinfo=UTC),
            4,
            "Europe/London",
            datetime(2026, 1, 12, 11, 0, tzinfo=UTC),
        ),
        (
            datetime(2026, 1, 9, 15, 0, tzinfo=UTC),
            4,
            "America/New_York",
            datetime(2026, 1, 9, 19, 0, tzinfo=UTC),
        ),
        (
            datetime(2026, 1, 9, 15, 0, tzinfo=UTC),
            4,
            "Asia/Tokyo",
            datetime(2026, 1, 12, 4, 0, tzinfo=UTC),
        ),
        # Across the US switch to summer time (Sunday 2026-03-08): Friday 16:00 EST + 2 h is
        # Monday 10:00 EDT, which is 14:00 UTC, not 15:00.
        (
            datetime(2026, 3, 6, 21, 0, tzinfo=UTC),
            2,
            "America/New_York",
            datetime(2026, 3, 9, 14, 0, tzinfo=UTC),
        ),
    ],
)
def test_business_hours_skip_nights_and_weekends_in_the_approvers_zone(
    start_at: datetime, hours: float, zone: str, expected: datetime
) -> None:
    result = add_business_hours(start_at, hours, zone)
    assert result == expected
    assert result.tzinfo is UTC


def test_business_hours_skip_holidays() -> None:
    friday_4pm = datetime(2026, 1, 9, 16, 0, tzinfo=UTC)
    result = add_business_hours(friday_4pm, 2, "Europe/London", holidays={date(2026, 1, 12)})
    assert result == datetime(2026, 1, 13, 10, 0, tzinfo=UTC)


def test_business_hours_refuse_naive_times_negative_hours_and_unknown_zones() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        add_business_hours(datetime(2026, 1, 9, 16, 0), 1, "UTC")
    with pytest.raises(ValueError, match="negative"):
        add_business_hours(T0, -1, "UTC")
    with pytest.raises(UnknownTimeZone) as err:
        add_business_hours(T0, 1, "Mars/Olympus")
    assert err.value.code == "unknown_time_zone"
