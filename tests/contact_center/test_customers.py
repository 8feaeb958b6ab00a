"""Customers and identities: tiers from value, normalised addresses, uniqueness, search and linking."""

from __future__ import annotations

import pytest

from contact_center.addresses import normalise_email, normalise_phone
from contact_center.errors import InvalidInput
from contact_center.models import CustomerTier


@pytest.mark.parametrize(
    ("score", "tier"),
    [
        (0, CustomerTier.LOW),
        (24, CustomerTier.LOW),
        (25, CustomerTier.SUB),
        (50, CustomerTier.POTENTIAL),
        (74, CustomerTier.POTENTIAL),
        (75, CustomerTier.HIGH),
        (100, CustomerTier.HIGH),
    ],
)
def test_the_tier_follows_the_value_score(score, tier):
    assert CustomerTier.for_score(score) is tier


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("(415) 555-0101", "US", "+14155550101"),
        ("+44 7700 900123", "US", "+447700900123"),
        ("07700 900123", "GB", "+447700900123"),
        ("+86 138 0013 8000", "US", "+8613800138000"),
    ],
)
def test_phone_numbers_are_stored_in_e164(raw, region, e164):
    assert normalise_phone(raw, region) == e164


def test_emails_are_normalised_and_garbage_refused():
    assert normalise_email("Grace Hopper <Grace@Example.COM>") == "grace@example.com"
    assert normalise_email("anna@bücher.example") == "anna@xn--bcher-kva.example"
    for bad in ("not an address", "@example.com", "a@", "two words@example.com"):
        with pytest.raises(InvalidInput):
            normalise_email(bad)
    with pytest.raises(InvalidInput):
        normalise_phone("12", "US")


async def test_customers_are_created_searched_and_their_tier_moves_with_value(login):
    bob = await login("bob")
    created = await bob.post(
        "/api/v1/customers",
        {
            "name": "Rosa Diaz",
            "value_score": 10,
            "lifetime_value": "150.50",
            "segment": "consumer",
            "identities": [{"kind": "phone", "address": "+14155550177"}],
        },
        expect=201,
    )
    assert created["tier"] == "low"
    assert created["lifetime_value"] == "150.50"
    updated = await bob.patch(f"/api/v1/customers/{created['id']}", {"value_score": 80}, expect=200)
    assert updated["tier"] == "high"
    assert [c["id"] for c in await bob.get("/api/v1/customers?q=rosa")] == [created["id"]]
    assert [c["id"] for c in await bob.get("/api/v1/customers?q=%2B14155550177")] == [created["id"]]
    assert [c["id"] for c in await bob.get("/api/v1/customers?tier=high")] == [created["id"]]
    assert await bob.get("/api/v1/customers?tier=gold", expect=400)
    found = await bob.get("/api/v1/identities?kind=phone&address=(415)%20555-0177", expect=200)
    assert found["customer_id"] == created["id"]
    await bob.get("/api/v1/identities?kind=phone&address=%2B14155550000", expect=404)
    await bob.get("/api/v1/customers/999", expect=404)
    await bob.post("/api/v1/customers", {"name": "x", "value_score": 101}, expect=400)


async def test_an_address_belongs_to_one_customer_until_linked(login, database):
    bob = await login("bob")
    grace = await bob.post(
        "/api/v1/customers",
        {"name": "Grace", "identities": [{"kind": "email", "address": "grace@example.com"}]},
        expect=201,
    )
    # Grace called from her mobile before anyone knew it was hers: a second customer record was made for it.
    caller = await bob.post(
        "/api/v1/contacts", {"channel": "voice", "external_id": "CA1", "address": "+14155550999"}, expect=201
    )
    error = await bob.post(
        f"/api/v1/customers/{grace['id']}/identities", {"kind": "phone", "address": "+1 415 555 0999"}, expect=409
    )
    identity_id = error["error"]["details"]["identity_id"]
    linked = await bob.post(f"/api/v1/identities/{identity_id}/link", {"customer_id": grace["id"]}, expect=200)
    assert {i["address"] for i in linked["identities"]} == {"grace@example.com", "+14155550999"}
    former = await bob.get(f"/api/v1/customers/{caller['case']['customer_id']}")
    assert former["merged_into_id"] == grace["id"]
    cases = await bob.get(f"/api/v1/customers/{grace['id']}/cases")
    assert [c["id"] for c in cases] == [caller["case"]["id"]]
    # The next call from that number is Grace's.
    again = await bob.post(
        "/api/v1/contacts", {"channel": "voice", "external_id": "CA2", "address": "+14155550999"}, expect=201
    )
    assert again["case"]["customer_id"] == grace["id"]
    assert [c["id"] for c in await bob.get("/api/v1/customers?q=%2B14155550999")] == [grace["id"]]
