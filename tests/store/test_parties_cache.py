"""The API's cache of customer and contract pairs (both are write-once), on both engines."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from schemas.tables import Contract
from store.db import create_engine, session_factory, transaction
from store.parties import PartiesCache
from tests.support.factories import customer_and_contract


async def test_a_kept_pair_is_answered_without_the_database(db_url: str, tmp_path: Path) -> None:
    engine = create_engine(db_url)
    sessions = session_factory(engine)
    customer, contract = await customer_and_contract(sessions)
    cache = PartiesCache()
    async with transaction(sessions, writes=False) as session:
        first = await cache.customer_and_contract(session, customer.id, contract.id)
    await engine.dispose()
    empty = create_engine(f"sqlite:///{tmp_path / 'no-tables.db'}")  # any read here fails

    async with transaction(session_factory(empty), writes=False) as session:
        again = await cache.customer_and_contract(session, customer.id, contract.id)
    await empty.dispose()

    assert (first[0].id, first[1].id) == (customer.id, contract.id)
    assert again[0] is first[0] and again[1] is first[1]
    assert (again[0].name, again[1].currency) == ("ACME Ltd", "GBP")  # detached, still readable


async def test_misses_and_mismatches_are_never_kept(db_url: str) -> None:
    engine = create_engine(db_url)
    sessions = session_factory(engine)
    customer, contract = await customer_and_contract(sessions)
    other, _ = await customer_and_contract(sessions)
    cache = PartiesCache()

    async with transaction(sessions, writes=False) as session:
        unknown = await cache.customer_and_contract(session, "cus_missing", contract.id)
        mismatched = await cache.customer_and_contract(session, other.id, contract.id)
        no_contract = await cache.customer_and_contract(session, customer.id, "con_missing")
    async with transaction(sessions) as session:  # the contract missed above, created now
        session.add(
            Contract(
                id="con_missing",
                customer_id=customer.id,
                currency="GBP",
                tax_region="GB",
                payment_terms_days=14,
                rates=[],
                created_at=datetime.now(UTC),
            )
        )
    async with transaction(sessions, writes=False) as session:
        found = await cache.customer_and_contract(session, customer.id, "con_missing")

    assert unknown[0] is None and unknown[1] is not None
    assert mismatched[0] is not None and mismatched[1] is not None
    assert mismatched[1].customer_id != mismatched[0].id
    assert no_contract[0] is not None and no_contract[1] is None
    assert found[1] is not None and found[1].payment_terms_days == 14  # the miss was not kept
    assert len(cache._pairs) == 1  # only the found, matching pair
    await engine.dispose()


async def test_the_least_recently_used_pair_goes_first(db_url: str) -> None:
    engine = create_engine(db_url)
    sessions = session_factory(engine)
    pairs = [await customer_and_contract(sessions) for _ in range(3)]
    cache = PartiesCache(max_pairs=2)
    async with transaction(sessions, writes=False) as session:
        for customer, contract in pairs[:2]:
            await cache.customer_and_contract(session, customer.id, contract.id)
        await cache.customer_and_contract(session, pairs[0][0].id, pairs[0][1].id)  # used again
        await cache.customer_and_contract(session, pairs[2][0].id, pairs[2][1].id)

    kept = set(cache._pairs)
    assert kept == {(pairs[0][0].id, pairs[0][1].id), (pairs[2][0].id, pairs[2][1].id)}
    await engine.dispose()
