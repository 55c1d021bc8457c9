"""The floor under copydesk's timing: a bare APScheduler BackgroundScheduler firing N date jobs at the same instant.

Runs in its own process, as copydesk does, and prints each job's lateness (ms) as JSON.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler

LEAD = 2.0  # seconds from adding the jobs to their instant


def main() -> int:
    count = int(sys.argv[1])
    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.start()
    due = datetime.now(UTC) + timedelta(seconds=LEAD)
    lateness: list[float] = []
    lock, done = threading.Lock(), threading.Event()

    def job() -> None:
        fired = time.time()
        with lock:
            lateness.append((fired - due.timestamp()) * 1000)
            if len(lateness) == count:
                done.set()

    for n in range(count):
        scheduler.add_job(job, "date", run_date=due, id=f"job-{n}", misfire_grace_time=None)
    fired = done.wait(LEAD + 60)
    scheduler.shutdown(wait=True)
    json.dump({"lateness_ms": lateness, "all_fired": fired}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
