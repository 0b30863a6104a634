"""Lay a plan out as dependency layers joined by box-drawing edges.

Pure geometry (no Textual): the PlanGraph widget styles the cells this
returns. A subtask sits one layer below its deepest dependency; edges
between adjacent layers are drawn on one connector row where lines that
meet are merged with the right junction character. A dependency that
skips layers is written on the node ("+t1") rather than drawn through
other nodes, which keeps the picture legible at 45 columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from podium.domain import Subtask

UP, DOWN, LEFT, RIGHT = 1, 2, 4, 8
_BOX = {
    UP: "│", DOWN: "│", UP | DOWN: "│", LEFT: "─", RIGHT: "─", LEFT | RIGHT: "─",
    UP | RIGHT: "└", UP | LEFT: "┘", DOWN | RIGHT: "┌", DOWN | LEFT: "┐",
    UP | DOWN | RIGHT: "├", UP | DOWN | LEFT: "┤", LEFT | RIGHT | UP: "┴", LEFT | RIGHT | DOWN: "┬",
    UP | DOWN | LEFT | RIGHT: "┼",
}
NODE_LINES = 2


def layers_of(subtasks: list[Subtask]) -> list[list[Subtask]]:
    """Group subtasks by depth; unknown deps are ignored and cycles cut (never loop)."""
    by_id = {t.id: t for t in subtasks}
    depth: dict[str, int] = {}

    def visit(tid: str, trail: frozenset[str]) -> int:
        if tid in depth:
            return depth[tid]
        deps = [d for d in by_id[tid].depends_on if d in by_id and d not in trail]
        value = 1 + max((visit(d, trail | {tid}) for d in deps), default=-1)
        depth[tid] = value
        return value

    for t in subtasks:
        visit(t.id, frozenset())
    layers: list[list[Subtask]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for t in subtasks:  # plan order within a layer
        layers[depth[t.id]].append(t)
    return layers


@dataclass
class NodeBox:
    subtask: Subtask
    layer: int
    index: int
    x: int  # left column
    y: int  # top row
    width: int
    skipped_deps: list[str] = field(default_factory=list)

    @property
    def anchor(self) -> int:
        return self.x + 1  # under the status symbol


@dataclass
class GraphLayout:
    nodes: list[NodeBox]
    layers: list[list[NodeBox]]
    connectors: dict[int, str]  # row -> the connector line's text
    width: int
    height: int

    def node(self, subtask_id: str) -> NodeBox | None:
        return next((n for n in self.nodes if n.subtask.id == subtask_id), None)


def layout(subtasks: list[Subtask], available_width: int, *, min_node: int = 14,
           max_node: int = 24) -> GraphLayout:
    groups = layers_of(subtasks)
    widest = max((len(g) for g in groups), default=1)
    node_w = max(min_node, min(max_node, (max(available_width, min_node) - 1) // max(widest, 1)))
    nodes: list[NodeBox] = []
    layer_boxes: list[list[NodeBox]] = []
    y = 0
    connectors: dict[int, str] = {}
    layer_of: dict[str, int] = {}
    for li, group in enumerate(groups):
        boxes = []
        for i, task in enumerate(group):
            box = NodeBox(task, li, i, x=i * node_w, y=y, width=node_w)
            layer_of[task.id] = li
            boxes.append(box)
        layer_boxes.append(boxes)
        nodes.extend(boxes)
        y += NODE_LINES
        if li + 1 < len(groups):
            connectors[y] = ""
            y += 1
    by_id = {n.subtask.id: n for n in nodes}
    width = widest * node_w
    for row in connectors:
        below = next(li for li, boxes in enumerate(layer_boxes) if boxes and boxes[0].y == row + 1)
        cells = [0] * (width + 1)
        for child in layer_boxes[below]:
            for dep in child.subtask.depends_on:
                parent = by_id.get(dep)
                if parent is None:
                    continue
                if parent.layer != below - 1:
                    if dep not in child.skipped_deps:
                        child.skipped_deps.append(dep)
                    continue
                _edge(cells, parent.anchor, child.anchor)
        connectors[row] = "".join(_BOX.get(c, " ") for c in cells).rstrip()
    return GraphLayout(nodes, layer_boxes, connectors, width, y)


def _edge(cells: list[int], top: int, bottom: int) -> None:
    cells[top] |= UP
    cells[bottom] |= DOWN
    lo, hi = sorted((top, bottom))
    if lo == hi:
        return
    cells[lo] |= RIGHT
    cells[hi] |= LEFT
    for x in range(lo + 1, hi):
        cells[x] |= LEFT | RIGHT


def neighbour(graph: GraphLayout, current: str | None, direction: str) -> str | None:
    """The subtask an arrow key moves to: left/right within a layer, up/down to the nearest node."""
    if not graph.nodes:
        return None
    node = graph.node(current) if current else None
    if node is None:
        return graph.nodes[0].subtask.id
    layer = graph.layers[node.layer]
    if direction in ("left", "right"):
        step = -1 if direction == "left" else 1
        index = max(0, min(len(layer) - 1, node.index + step))
        return layer[index].subtask.id
    target = node.layer + (-1 if direction == "up" else 1)
    if not 0 <= target < len(graph.layers) or not graph.layers[target]:
        return node.subtask.id
    nearest = min(graph.layers[target], key=lambda n: abs(n.anchor - node.anchor))
    return nearest.subtask.id
