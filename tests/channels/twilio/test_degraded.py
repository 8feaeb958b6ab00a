"""The Twilio backlog's journal: notes outlive the process that took them, and are replayed once, in order."""

from __future__ import annotations

import asyncio
import signal
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contact_center.channels.twilio.degraded import (
    Backlog,
    BacklogFull,
    CallArrived,
    CallEnded,
    Pending,
    SmsArrived,
    VoicemailLeft,
)

AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
NOTES: list[Pending] = [
    SmsArrived({"MessageSid": "SM1", "From": "+14155550111", "Body": "Is my order late?"}, AT),
    CallArrived("CA1", "+14155550112", AT),
    VoicemailLeft("CA1", "+14155550112", "https://api.twilio.test/RE1", 12, AT),
    CallEnded("CA1", "completed", AT),
    SmsArrived({"MessageSid": "SM2", "From": "+14155550111", "Body": "Hello?"}, AT),
]


class Store:
    """The case store as the backlog sees it: it takes notes while up, and fails while down."""

    def __init__(self, *, up_for: int | None = None) -> None:
        self.written: list[Pending] = []
        self.up_for = up_for

    async def apply(self, note: Pending) -> None:
        if self.up_for is not None and len(self.written) >= self.up_for:
            raise OSError("connection refused")
        self.written.append(note)


async def killed_after_adding(directory: Path, notes: int, *, replayed: int = 0) -> None:
    """Run a process that journals the first `notes` notes, replays `replayed` of them, and is killed with -9."""
    script = textwrap.dedent(
        f"""
        import asyncio, os, sys
        from pathlib import Path
        from tests.channels.twilio.test_degraded import NOTES, Store
        from contact_center.channels.twilio.degraded import Backlog

        async def main():
            backlog = Backlog(Path({str(directory)!r}))
            await backlog.open()
            for note in NOTES[:{notes}]:
                await backlog.add(note)
            await backlog.flush(Store(up_for={replayed}).apply)
            print("ready", flush=True)
            await asyncio.sleep(60)

        asyncio.run(main())
        """
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, stdout=asyncio.subprocess.PIPE, cwd=Path(__file__).parents[3]
    )
    assert process.stdout is not None
    assert await asyncio.wait_for(process.stdout.readline(), 60) == b"ready\n"
    process.send_signal(signal.SIGKILL)
    assert await process.wait() == -signal.SIGKILL


async def test_notes_of_a_process_killed_with_sigkill_are_replayed_by_the_next_once_and_in_order(tmp_path):
    await killed_after_adding(tmp_path, len(NOTES), replayed=2)
    successor = Backlog(tmp_path)
    assert await successor.open() == 3  # the two replayed before the kill are not owed any more
    store = Store()
    assert await successor.flush(store.apply) == 3
    assert store.written == NOTES[2:]
    # The orphan journal is gone: a third process finds nothing to take over.
    third = Backlog(tmp_path)
    assert await third.open() == 0
    await successor.aclose()
    await third.aclose()
    assert list(tmp_path.iterdir()) == []


async def test_a_successor_that_cannot_reach_the_store_keeps_what_it_took_over(tmp_path):
    await killed_after_adding(tmp_path, 2)
    successor = Backlog(tmp_path)
    assert await successor.open() == 2
    assert await successor.flush(Store(up_for=0).apply) == 0
    await successor.aclose()  # stopped while the store is still away: its journal waits for the next process
    heir = Backlog(tmp_path)
    assert await heir.open() == 2
    store = Store()
    assert await heir.flush(store.apply) == 2
    assert store.written == NOTES[:2]
    await heir.aclose()


async def test_a_live_process_keeps_its_own_notes(tmp_path):
    alive = Backlog(tmp_path)
    await alive.open()
    await alive.add(NOTES[0])
    neighbour = Backlog(tmp_path)
    assert await neighbour.open() == 0
    assert len(alive) == 1
    assert len(neighbour) == 0
    await neighbour.aclose()
    await alive.aclose()


async def test_a_note_is_dropped_only_once_its_write_succeeded(tmp_path):
    backlog = Backlog(tmp_path)
    await backlog.open()
    for note in NOTES:
        await backlog.add(note)
    store = Store(up_for=3)
    assert await backlog.flush(store.apply) == 3
    assert len(backlog) == 2
    store.up_for = None
    assert await backlog.flush(store.apply) == 2
    assert store.written == NOTES
    assert len(backlog) == 0
    await backlog.aclose()


async def test_a_line_torn_by_a_crash_is_skipped_and_the_rest_replayed(tmp_path):
    await killed_after_adding(tmp_path, 2)
    [journal] = tmp_path.iterdir()
    with journal.open("ab") as torn:
        torn.write(b'{"seq": 3, "kind": "sms", "note": {"form": {"MessageS')
    successor = Backlog(tmp_path)
    assert await successor.open() == 2
    store = Store()
    await successor.flush(store.apply)
    assert store.written == NOTES[:2]
    await successor.aclose()


async def test_a_full_backlog_refuses_new_notes_keeps_every_one_it_took_and_takes_again_after_replay(tmp_path):
    backlog = Backlog(tmp_path, limit=2)
    await backlog.open()
    await backlog.add(NOTES[0])
    await backlog.add(NOTES[1])
    with pytest.raises(BacklogFull):
        await backlog.add(NOTES[2])
    assert len(backlog) == 2
    store = Store(up_for=1)
    assert await backlog.flush(store.apply) == 1  # the store takes one note, then fails again
    await backlog.add(NOTES[2])  # the place it freed is taken
    with pytest.raises(BacklogFull):
        await backlog.add(NOTES[3])
    await backlog.aclose()
    # Every note accepted is on disk: the next process replays them all, none lost and none twice.
    heir = Backlog(tmp_path)
    assert await heir.open() == 2
    rest = Store()
    assert await heir.flush(rest.apply) == 2
    assert store.written + rest.written == NOTES[:3]
    await heir.aclose()


async def test_notes_arriving_together_at_a_full_backlog_are_kept_in_arrival_order_up_to_the_limit(tmp_path):
    backlog = Backlog(tmp_path, limit=3)
    await backlog.open()
    answers = await asyncio.gather(*(backlog.add(note) for note in NOTES), return_exceptions=True)
    assert answers[:3] == [None, None, None]
    assert [type(answer) for answer in answers[3:]] == [BacklogFull, BacklogFull]
    store = Store()
    assert await backlog.flush(store.apply) == 3
    assert store.written == NOTES[:3]
    await backlog.aclose()


async def test_notes_taken_over_from_a_dead_process_are_kept_past_the_limit(tmp_path):
    await killed_after_adding(tmp_path, 3)
    successor = Backlog(tmp_path, limit=2)
    assert await successor.open() == 3
    with pytest.raises(BacklogFull):
        await successor.add(NOTES[3])
    store = Store()
    assert await successor.flush(store.apply) == 3
    assert store.written == NOTES[:3]
    await successor.add(NOTES[3])
    assert len(successor) == 1
    await successor.aclose()
