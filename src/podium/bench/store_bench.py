"""Store benchmark: how fast events append, and what they cost on disk."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from podium import events as ev
from podium.store import ProjectStore, Tx


def _file_bytes(path: Path) -> int:
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


async def run(n: int = 10_000, batch: int = 1_000) -> dict[str, float]:
    # A real event type (writes are checked against its model): a subtask status with a reason.
    payload = {"subtask_id": "t3", "agent": "analyst", "status": "running", "reason": "x" * 80}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.podium"
        store = await ProjectStore.open(path)
        try:
            await store.set_meta("bench", "1")
            start = time.perf_counter()
            for _ in range(n):
                await store.append_event(ev.SUBTASK_STATUS, None, **payload)
            durable = n / (time.perf_counter() - start)

            def append_batch(tx: Tx) -> None:
                for _ in range(batch):
                    tx.emit(ev.SUBTASK_STATUS, None, **payload)

            await store.checkpoint()
            before = _file_bytes(path)
            start = time.perf_counter()
            for _ in range(n // batch):
                await store.write(append_batch)
            batched = (n // batch * batch) / (time.perf_counter() - start)
            await store.checkpoint()
            growth = (_file_bytes(path) - before) / (n // batch * batch) * 10_000
        finally:
            await store.close()
    figures = {
        "durable_events_per_s": durable,
        "batched_events_per_s": batched,
        "bytes_per_10k_events": growth,
    }
    print(f"store benchmark ({n} events each, WAL, synchronous=NORMAL)")
    print(f"  durable (1 event per transaction) {durable:>12,.0f} events/s   target >= 5,000")
    print(f"  batched ({batch} per transaction)   {batched:>12,.0f} events/s   target >= 100,000")
    print(f"  file growth                       {growth / 1024:>12,.1f} KiB per 10,000 events")
    return figures
