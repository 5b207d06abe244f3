"""The approval pages in the approver's browser language: approvers have no locale of their
own, so the page, its answers and the decision shown follow Accept-Language (en-GB default)."""

from __future__ import annotations

import re

import httpx
from temporalio.client import Client

from tests.e2e.test_approval_links import finance_policy
from tests.e2e.test_approval_page import BUTTON, six_thousand, text
from tests.support.approvals import wait_for_links
from tests.support.stack import running_stack

FRENCH = {"Accept-Language": "fr-CA,fr;q=0.9,en;q=0.5"}
NB = " "  # text() folds every space, no-break ones too


async def test_a_french_browser_gets_the_approval_page_its_answers_and_the_decision_in_french(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        await finance_policy(stack)
        await six_thousand(stack, "nw@acme.test")
        alice, bob = (
            (await wait_for_links(stack, "alice"))[0],
            (await wait_for_links(stack, "bob"))[0],
        )
        async with httpx.AsyncClient() as browser:
            page = await browser.get(bob, headers=FRENCH)
            assert '<html lang="fr-CA">' in page.text
            words = text(page.text)
            for expected in (
                "Demande d’approbation · niveau 1",
                "Client Northwind Traders Ltd",
                "Bon de commande PO-4471",
                "30 heures",
                f"Sous-total 6{NB}000,00{NB}£",
                f"TVA 20{NB}% sur 6{NB}000,00{NB}£ 1{NB}200,00{NB}£",
                f"Total (GBP) 7{NB}200,00{NB}£",
                "Approuver",
                "Refuser",
                "Demander des modifications",
            ):
                assert expected in words, (expected, words)
            assert len(BUTTON.findall(page.text)) == 3

            refused = await browser.post(
                bob, data={"decision": "reject", "reason": "Mauvais bon"}, headers=FRENCH
            )
            assert refused.status_code == 200
            assert '<html lang="fr-CA">' in refused.text
            assert "Refusée. La facture retourne en correction." in text(refused.text)

            again = text((await browser.get(alice, headers=FRENCH)).text)
            assert "Refusée" in again and "Par Bob le" in again and "«" in again
            assert re.search(r"le \d{1,2} \w+ 20\d\d à \d\d:\d\d UTC", again), again
            twice = await browser.post(bob, data={"decision": "approve"}, headers=FRENCH)
            assert twice.status_code == 409
            assert "Cette approbation a déjà été décidée." in text(twice.text)

            english = text((await browser.get(alice)).text)  # no Accept-Language: en-GB
            assert "Rejected" in english and "By Bob on" in english
