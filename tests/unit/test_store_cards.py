"""Cards in the store: which card is ready, claims, dependency checks, and whether a worker lives."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from podium.domain import Card, CardColumn, CardPriority
from podium.errors import NotFoundError, PodiumError
from podium.store.cards import CardRepository, worker_alive


def _card(title: str, **fields) -> Card:
    return Card(id=0, title=title, **fields)


async def test_claims_take_ready_cards_by_priority_then_age(store):
    cards = CardRepository(store)
    first = await cards.add(_card("first"), by="user")
    after = await cards.add(_card("after first", depends_on=[first.id], priority=CardPriority.URGENT),
                            by="user")
    urgent = await cards.add(_card("urgent", priority=CardPriority.URGENT), by="user")
    await cards.add(_card("someday", column=CardColumn.BACKLOG, priority=CardPriority.URGENT), by="user")
    assert await cards.ready_count() == 2
    taken = await cards.claim_next("w:1")
    assert taken is not None and taken.id == urgent.id and taken.column is CardColumn.IN_PROGRESS
    taken = await cards.claim_next("w:2")
    assert taken is not None and taken.id == first.id and taken.claimed_by == "w:2"
    assert await cards.claim_next("w:1") is None  # "after first" waits for first to be done
    await cards.move(first.id, CardColumn.DONE, by="w:2")
    taken = await cards.claim_next("w:1")
    assert taken is not None and taken.id == after.id


async def test_team_filter_and_dependency_checks(store):
    cards = CardRepository(store)
    one = await cards.add(_card("for content", team="content"), by="user")
    two = await cards.add(_card("anyone's"), by="user")
    taken = await cards.claim_next("w:1", team="research")
    assert taken is not None and taken.id == two.id
    with pytest.raises(NotFoundError):
        await cards.add(_card("x", depends_on=[99]), by="user")
    await cards.edit(two.id, by="user", depends_on=[one.id])
    with pytest.raises(PodiumError, match="cycle"):
        await cards.edit(one.id, by="user", depends_on=[two.id])
    with pytest.raises(PodiumError, match="itself"):
        await cards.edit(one.id, by="user", depends_on=[one.id])


async def test_a_worker_lives_while_its_process_does(store):
    cards = CardRepository(store)
    await cards.add(_card("work me"), by="user")
    mine = await cards.claim_next(f"{socket.gethostname()}:{os.getpid()}")
    assert mine is not None and not mine.runs
    assert await worker_alive(store, mine)  # claimed a moment ago, no run (no heartbeat) yet
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    dead = mine.model_copy(update={"claimed_by": f"{socket.gethostname()}:{gone.stdout.strip()}"})
    assert not await worker_alive(store, dead)
    assert not await worker_alive(store, mine.model_copy(update={"claimed_by": None}))
    # Taking over is compare-and-swap: only from the worker that was seen.
    assert not await cards.claim(mine.id, "w:2", expected="someone-else:1")
    assert await cards.claim(mine.id, "w:2", expected=mine.claimed_by)
