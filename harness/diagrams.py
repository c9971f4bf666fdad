"""Pictures of a run: a message's path as a sequence diagram (a lifeline per node, an arrow
per hop labelled with what it came to) and the topology (networks as lines, nodes with their
addresses on each), as inline SVG for the HTML report and the failure output, and as Mermaid
text for Markdown (GitHub draws it).

Everything here is deterministic (the same input gives the same bytes, so that goldens hold)
and every piece of text is escaped. No scripts, fonts or files are referenced: the pictures
render without network access.
"""

from __future__ import annotations

from collections.abc import Iterable
from xml.sax.saxutils import escape, quoteattr

from harness.observe.logs import BOUNCED, DEFERRED, EXPIRED
from harness.observe.paths import (
    ACCEPTED,
    CAPTURED,
    DELIVERED,
    FAILED,
    FETCHED,
    FORWARDED,
    REJECTED,
    SUBMITTED,
    Hop,
    MessagePath,
    TopologyMap,
    alike,
    names_of,
)

COLOURS = {
    SUBMITTED: "#555555",
    ACCEPTED: "#1f6f3f",
    CAPTURED: "#1f4f9f",
    DELIVERED: "#1f6f3f",
    FORWARDED: "#555555",
    FETCHED: "#6a2f9f",
    DEFERRED: "#b86e00",
    BOUNCED: "#b02020",
    REJECTED: "#b02020",
    FAILED: "#b02020",
    EXPIRED: "#b02020",
}
DASHED = (DEFERRED, FAILED)
FONT = "font-family='system-ui,sans-serif'"

# Sequence diagram geometry (px).
COLUMN = 190
MARGIN = 16
HEAD_Y, HEAD_H = 24, 36
ROW = 46
SELF_W = 28
SELF_ROOM = 230  # right of the last lifeline, for a self-hop's label
MIN_WIDTH = 440
TITLE_CHAR = 8  # px per character of a bold 12 px caption, with room to spare
# Topology geometry.
LABEL_W = 170
BOX_W, BOX_H, BOX_GAP = 136, 54, 14
BUS_GAP = 44


def clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text(x: int, y: int, text: str, size: int = 11, anchor: str = "start", extra: str = "") -> str:
    return f"<text x='{x}' y='{y}' font-size='{size}' text-anchor='{anchor}'{extra}>{escape(text)}</text>"


def _head(x: int, y: int, towards: int) -> str:
    """An arrowhead at (x, y) pointing right (towards > 0) or left."""
    d = 8 if towards > 0 else -8
    return f"<polygon points='{x},{y} {x - d},{y - 4} {x - d},{y + 4}'/>"


def sequence_svg(path: MessagePath, topology: TopologyMap | None = None, caption: str | None = None) -> str:
    """A message's path: a lifeline per node it met, an arrow per hop."""
    nodes = path.nodes
    column = {node: i for i, node in enumerate(nodes)}
    self_hops = any(h.source == h.target for h in path.hops)
    title = caption if caption is not None else f"message {path.name} {path.message_id}"
    width = MARGIN * 2 + COLUMN * len(nodes) + (SELF_ROOM if self_hops else 0)
    width = max(MIN_WIDTH, width, MARGIN * 2 + TITLE_CHAR * len(title))
    top = HEAD_Y + HEAD_H + 22
    height = top + ROW * max(1, len(path.hops)) + 6
    out = [
        f"<svg xmlns='http://www.w3.org/2000/svg' class='sequence' data-message={quoteattr(path.name)} "
        f"width='{width}' height='{height}' viewBox='0 0 {width} {height}' {FONT}>",
        f"<title>{escape(title)}</title>",
        _text(MARGIN, 15, title, 12, extra=" font-weight='bold'"),
    ]

    def x_of(node: str) -> int:
        return MARGIN + COLUMN * column[node] + COLUMN // 2

    for node in nodes:
        x = x_of(node)
        kind = topology.kind_of(node) if topology else ""
        out.append(f"<g class='lifeline' data-node={quoteattr(node)}>")
        out.append(
            f"<rect x='{x - COLUMN // 2 + 10}' y='{HEAD_Y}' width='{COLUMN - 20}' height='{HEAD_H}' rx='4' "
            "fill='#eef2f7' stroke='#6b7b8f'/>"
        )
        out.append(_text(x, HEAD_Y + 16, clip(node, 26), 12, "middle", " font-weight='bold' class='node-name'"))
        if kind:
            out.append(_text(x, HEAD_Y + 30, kind, 10, "middle", " fill='#555555'"))
        out.append(
            f"<line x1='{x}' y1='{HEAD_Y + HEAD_H}' x2='{x}' y2='{height - 4}' stroke='#9aa7b6' stroke-dasharray='4 3'/>"
        )
        out.append("</g>")
    if not path.hops:
        out.append(_text(MARGIN, top + 16, "no hop observed", 11, extra=" fill='#b02020'"))
    for row, hop in enumerate(path.hops):
        out += _hop(hop, x_of(hop.source), x_of(hop.target), top + ROW * row + 14)
    out.append("</svg>")
    return "".join(out)


def _hop(hop: Hop, x1: int, x2: int, y: int) -> list[str]:
    colour = COLOURS.get(hop.outcome, "#333333")
    dash = " stroke-dasharray='6 4'" if hop.outcome in DASHED else ""
    label = (f"{hop.time} " if hop.time else "") + hop.label()
    tip = f"{hop.source} → {hop.target}: {hop.label()}" + (f" — {hop.detail}" if hop.detail else "")
    out = [
        f"<g class='hop outcome-{hop.outcome}' data-from={quoteattr(hop.source)} data-to={quoteattr(hop.target)} "
        f"data-outcome={quoteattr(hop.outcome)} fill='{colour}' stroke='{colour}'>",
        f"<title>{escape(tip)}</title>",
    ]
    if x1 == x2:
        out.append(
            f"<path d='M{x1},{y} H{x1 + SELF_W} V{y + 14} H{x1 + 8}' fill='none' stroke-width='1.5'{dash}/>"
            + _head(x1, y + 14, -1)
        )
        out.append(_text(x1 + SELF_W + 6, y + 4, clip(label, 44), 11, extra=" stroke='none' class='hop-label'"))
        if hop.detail:
            out.append(_text(x1 + SELF_W + 6, y + 17, clip(hop.detail, 52), 9, extra=" stroke='none' fill='#555555'"))
    else:
        towards = 1 if x2 > x1 else -1
        end = x2 - 2 * towards
        out.append(f"<line x1='{x1}' y1='{y}' x2='{end - 6 * towards}' y2='{y}' stroke-width='1.5'{dash}/>")
        out.append(_head(end, y, towards))
        if hop.outcome in (BOUNCED, REJECTED, FAILED, EXPIRED):
            cx = end - 14 * towards
            out.append(
                f"<path d='M{cx - 4},{y - 4} L{cx + 4},{y + 4} M{cx - 4},{y + 4} L{cx + 4},{y - 4}' stroke-width='2'/>"
            )
        mid, span = (x1 + x2) // 2, abs(x2 - x1) // 6
        out.append(_text(mid, y - 5, clip(label, max(24, span + 8)), 11, "middle", " stroke='none' class='hop-label'"))
        if hop.detail:
            out.append(
                _text(mid, y + 13, clip(hop.detail, max(30, span + 14)), 9, "middle", " stroke='none' fill='#555555'")
            )
    out.append("</g>")
    return out


def topology_svg(topology: TopologyMap, caption: str = "") -> str:
    """Networks as horizontal lines (name and subnet at the left), nodes as boxes above them
    (name, kind, hostname), a line from each node down to every network it is on, with its
    address there."""
    n = max(1, len(topology.nodes))
    width = LABEL_W + n * (BOX_W + BOX_GAP) + MARGIN
    box_top = 24 if caption else 8
    first_bus = box_top + BOX_H + 34
    bus_y = {net.name: first_bus + i * BUS_GAP for i, net in enumerate(topology.networks)}
    height = first_bus + max(0, len(topology.networks) - 1) * BUS_GAP + 20
    out = [
        f"<svg xmlns='http://www.w3.org/2000/svg' class='topology' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' {FONT}>",
        f"<title>{escape(caption or 'topology')}</title>",
    ]
    if caption:
        out.append(_text(MARGIN, 15, caption, 12, extra=" font-weight='bold'"))
    for net in topology.networks:
        y = bus_y[net.name]
        out.append(f"<g class='network' data-network={quoteattr(net.name)}>")
        out.append(f"<line x1='{MARGIN}' y1='{y}' x2='{width - MARGIN}' y2='{y}' stroke='#3b6ea5' stroke-width='4'/>")
        out.append(_text(MARGIN, y - 8, clip(net.name, 24), 12, extra=" font-weight='bold' fill='#3b6ea5'"))
        out.append(_text(MARGIN, y + 16, net.subnet, 10, extra=" fill='#3b6ea5'"))
        out.append("</g>")
    for i, node in enumerate(topology.nodes):
        x = LABEL_W + i * (BOX_W + BOX_GAP)
        cx = x + BOX_W // 2
        out.append(f"<g class='node' data-node={quoteattr(node.name)}>")
        ys = [bus_y[network] for network, _ in node.addresses if network in bus_y]
        if ys:
            out.append(
                f"<line x1='{cx}' y1='{box_top + BOX_H}' x2='{cx}' y2='{max(ys)}' stroke='#6b7b8f' stroke-width='1.5'/>"
            )
        for network, ip in node.addresses:
            if network in bus_y:
                y = bus_y[network]
                out.append(f"<circle cx='{cx}' cy='{y}' r='5' fill='#3b6ea5'/>")
                out.append(_text(cx + 7, y - 6, ip, 10, extra=f" class='address' data-network={quoteattr(network)}"))
        out.append(
            f"<rect x='{x}' y='{box_top}' width='{BOX_W}' height='{BOX_H}' rx='5' fill='#eef2f7' stroke='#6b7b8f'/>"
        )
        out.append(_text(cx, box_top + 17, clip(node.name, 20), 12, "middle", " font-weight='bold' class='node-name'"))
        out.append(_text(cx, box_top + 32, node.kind, 10, "middle", " fill='#555555'"))
        out.append(_text(cx, box_top + 46, clip(node.hostname, 24), 10, "middle", " fill='#555555'"))
        out.append("</g>")
    out.append("</svg>")
    return "".join(out)


def run_picture(topology: TopologyMap, paths: Iterable[MessagePath], caption: str) -> str:
    """One SVG document: the topology, then every message's sequence diagram below it (the
    failure picture written to the results folder); consecutive messages that took the same
    path are drawn once."""
    parts = [topology_svg(topology, caption)]
    for run in alike(paths):
        parts.append(sequence_svg(run[0], topology, caption=_caption(run)))
    heights = [_size(p)[1] for p in parts]
    width = max(_size(p)[0] for p in parts)
    out = [
        "<?xml version='1.0' encoding='UTF-8'?>\n",
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{sum(heights) + 10 * len(parts)}' "
        f"viewBox='0 0 {width} {sum(heights) + 10 * len(parts)}'>",
        f"<title>{escape(caption)}</title><rect width='100%' height='100%' fill='white'/>",
    ]
    y = 0
    for part, h in zip(parts, heights, strict=True):
        out.append(part.replace("<svg ", f"<svg y='{y}' ", 1))
        y += h + 10
    out.append("</svg>\n")
    return "".join(out)


def _caption(run: list[MessagePath]) -> str:
    if len(run) == 1:
        return f"message {run[0].name} {run[0].message_id}"
    return f"messages {names_of(run)}"


def _size(svg: str) -> tuple[int, int]:
    head = svg[: svg.index(">")]
    width = int(head.split("width='", 1)[1].split("'", 1)[0])
    height = int(head.split("height='", 1)[1].split("'", 1)[0])
    return width, height


# ---- Mermaid --------------------------------------------------------------------------------
_MERMAID_ENTITIES = {"#": "#35;", ";": "#59;", "<": "#lt;", ">": "#gt;", '"': "#quot;", "|": "#124;", "`": "#96;"}


def mermaid_text(text: str) -> str:
    """Text Mermaid shows as it is: its entity codes for what it would read as syntax."""
    return "".join(_MERMAID_ENTITIES.get(c, c) for c in " ".join(text.split()))


def _mermaid_id(prefix: str, name: str) -> str:
    return prefix + "".join(c if c.isalnum() else "_" for c in name)


ARROWS = {DEFERRED: "-->>", FAILED: "--x", BOUNCED: "-x", REJECTED: "-x", EXPIRED: "-x"}


def sequence_mermaid(path: MessagePath, topology: TopologyMap | None = None) -> str:
    lines = ["sequenceDiagram"]
    for node in path.nodes:
        kind = topology.kind_of(node) if topology else ""
        alias = f"{node} ({kind})" if kind else node
        lines.append(f"    participant {_mermaid_id('n_', node)} as {mermaid_text(alias)}")
    for hop in path.hops:
        arrow = ARROWS.get(hop.outcome, "->>")
        label = (f"{hop.time} " if hop.time else "") + hop.label()
        lines.append(
            f"    {_mermaid_id('n_', hop.source)}{arrow}{_mermaid_id('n_', hop.target)}: {mermaid_text(clip(label, 70))}"
        )
    if not path.hops:
        lines.append(f"    Note over {_mermaid_id('n_', path.origin)}: no hop observed")
    return "\n".join(lines)


def topology_mermaid(topology: TopologyMap) -> str:
    lines = ["flowchart TB"]
    for net in topology.networks:
        lines.append(f'    {_mermaid_id("net_", net.name)}[["{mermaid_text(net.name)} {mermaid_text(net.subnet)}"]]')
    for node in topology.nodes:
        text = f"{mermaid_text(node.name)}<br/>{mermaid_text(node.kind)}<br/>{mermaid_text(node.hostname)}"
        lines.append(f'    {_mermaid_id("node_", node.name)}["{text}"]')
    for node in topology.nodes:
        for network, ip in node.addresses:
            lines.append(
                f'    {_mermaid_id("node_", node.name)} ---|"{mermaid_text(ip)}"| {_mermaid_id("net_", network)}'
            )
    return "\n".join(lines)
