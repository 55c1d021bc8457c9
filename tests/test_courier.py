"""The courier on its own: one message per queue at a time, no spinning however much is due, nothing left stuck."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from bot.courier import Courier
from bot.model import Outgoing
from bot.progress import Progress
from storage import Ledger


class CountingLedger(Ledger):
    """The real ledger, counting how often the courier asks what is due (a courier that spins asks without end)."""

    asked = 0

    def outbox_due(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.asked += 1
        return super().outbox_due(*args, **kwargs)


def now() -> datetime:
    return datetime.now(UTC)


def ledger_at(path: Path) -> CountingLedger:
    ledger = CountingLedger.open(path)
    assert isinstance(ledger, CountingLedger)
    return ledger


def test_a_hundred_queues_due_at_once_are_delivered_without_the_courier_spinning(tmp_path: Path) -> None:
    ledger = ledger_at(tmp_path / "ledger.db")
    delivered: list[int] = []
    lock = threading.Lock()

    def deliver(message: Outgoing) -> None:
        time.sleep(0.01)  # Slack takes a moment
        with lock:
            delivered.append(message.id)
        ledger.outgoing_sent([message.id], at=now())

    with ledger.transaction():
        for n in range(100):
            ledger.enqueue(f"channel:C{n:03d}", "announce", at=now(), channel=f"C{n:03d}", text="hello")
    courier = Courier(ledger, deliver, clock=now, workers=4)
    courier.start()
    try:
        assert courier.wait_idle(30)
    finally:
        courier.stop()
    assert sorted(delivered) == list(range(1, 101))
    assert ledger.asked < 150, f"the courier asked what is due {ledger.asked} times for 100 messages"


def test_a_follow_up_whose_check_fails_never_leaves_its_queue_stuck(tmp_path: Path) -> None:
    ledger = ledger_at(tmp_path / "ledger.db")
    progress = Progress()
    progress.watch(lambda: 1 / 0, lambda: None, timeout=0.2, key=7)  # its check fails (a ledger read that raises)
    courier = Courier(ledger, lambda m: ledger.outgoing_sent([m.id], at=now()), clock=now, progress=progress)
    courier.start()
    try:
        with ledger.transaction():
            ledger.enqueue("draft:7", "redraw", at=now(), draft_id=None)
            ledger.enqueue("draft:7", "redraw", at=now(), draft_id=None)
        assert courier.wait_idle(10), "the queue stayed in flight after the failed check"
        assert progress.wait_unwatched(5), "the watch's deadline never came"
    finally:
        courier.stop()
