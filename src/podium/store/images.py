"""Images tools made, as the project file holds them: an `image.generated` event per image (its path,
prompt, model, size and hash). The PNG itself is a workspace file, stored with the `tool.called`
event of the call that wrote it (store/tools.py), so it is exported and restored like any other."""

from __future__ import annotations

from typing import Any

from podium import events as ev
from podium.store.project import ProjectStore, Tx

PROMPT_LIMIT = 4000  # characters of a prompt kept (the tool takes no longer ones)


class ImageLog:
    def __init__(self, store: ProjectStore) -> None:
        self.store = store

    async def record(self, execution_id: str | None, *, subtask_id: str | None, agent: str, path: str,
                     prompt: str, model: str, size: str | None, data_size: int, sha256: str,
                     revised_prompt: str | None = None) -> bool:
        """Record one image; False (nothing written) for a run this file does not hold."""
        if execution_id is None or self.store.readonly:
            return False
        payload: dict[str, Any] = {
            "subtask_id": subtask_id, "agent": agent, "path": path, "prompt": prompt[:PROMPT_LIMIT],
            "model": model, "size": size, "bytes": data_size, "sha256": sha256,
            "revised_prompt": revised_prompt[:PROMPT_LIMIT] if revised_prompt else None,
        }

        def write(tx: Tx) -> bool:
            cur = tx.execute("SELECT 1 FROM executions WHERE id = ?", (execution_id,))
            try:
                if cur.fetchone() is None:
                    return False
            finally:
                cur.close()
            tx.emit(ev.IMAGE_GENERATED, execution_id, **payload)
            return True

        return await self.store.write(write)
