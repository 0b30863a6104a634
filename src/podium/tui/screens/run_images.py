"""The run screen's images: `i` opens the image the selected subtask made last (else the run's
latest) in the system's image viewer. Offered once the run has made one (an `image.generated`
event), live and in a replay alike; the transcript line says so ("image: PATH (“prompt…”)")."""

from __future__ import annotations

from typing import TYPE_CHECKING

from podium import events as ev
from podium.app import images as app_images
from podium.domain import Event
from podium.errors import PodiumError

if TYPE_CHECKING:
    from podium.tui.app import PodiumApp


class ImageActions:
    run_id: str
    _images: list[ev.ImageGenerated] | None = None
    _image_seqs: set[int]

    @property
    def images(self) -> list[ev.ImageGenerated]:
        """The images the run made, oldest first (for a replay: the whole run's)."""
        return list(self._images or [])

    def note_image(self, event: Event) -> None:
        if event.type != ev.IMAGE_GENERATED or not isinstance(event.payload, ev.ImageGenerated):
            return
        if self._images is None:
            self._images, self._image_seqs = [], set()
        if event.seq is not None:
            # A replay notes the whole log first, then folds it again as the timeline moves.
            if event.seq in self._image_seqs:
                return
            self._image_seqs.add(event.seq)
        first = not self._images
        self._images.append(event.payload)
        if first:
            self.refresh_bindings()  # type: ignore[attr-defined]  # the Screen it is mixed into

    def image_to_open(self) -> ev.ImageGenerated | None:
        """The selected subtask's latest image, else the run's latest."""
        images = self._images or []
        if not images:
            return None
        selected = self._selected()  # type: ignore[attr-defined]  # run_tasks.PlanChangeActions
        mine = [i for i in images if i.subtask_id is not None and i.subtask_id == selected]
        return (mine or images)[-1]

    def action_open_image(self) -> None:
        app: PodiumApp = self.app  # type: ignore[attr-defined]
        image = self.image_to_open()
        if image is None:
            app.notify("This run has made no image yet (generate_image needs image_model in podium.toml).",
                       severity="warning")
            return
        run_id = self.run_id

        async def open_it() -> None:
            try:
                path = await app.session.run_images.file_for(run_id, image.path, image.sha256 or None)
                await app_images.open_in_viewer(path)
            except PodiumError as exc:
                app.notify(str(exc), severity="error", title="image", timeout=10)
                return
            app.notify(f"opened {image.path} in the image viewer", title="image")

        app.run_worker(open_it(), group="open-image", exit_on_error=False)
