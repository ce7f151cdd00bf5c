"""The live form of an explorer: ipywidgets controls above its figure.

One control per knob (buttons for a few values or for names and switches, a slider for a
longer ordered scale: :func:`as_buttons`, the static player's choice too); moving one calls
:meth:`Explorer.update <virtmodel.explore.core.Explorer.update>`, which redraws the figure
into the ``Image`` widget under the controls.  A knob that does nothing at the current
setting of the others (:attr:`Knob.applies <virtmodel.explore.core.Knob.applies>`) is
disabled, its reason written under the controls.
"""

from __future__ import annotations

import html


def as_buttons(knob) -> bool:
    """Buttons for a few values or for names and switches, a slider for a longer ordered
    scale (the live form and the static player choose alike)."""
    return len(knob.values) <= 4 or all(isinstance(v, (str, bool)) for v in knob.values)


def widget(explorer):
    """``explorer``'s live form (made once, kept on the explorer): a VBox of its title, a
    control per knob, a line of reasons for disabled knobs, and the figure's image."""
    import ipywidgets as w

    if explorer._image is not None:
        return explorer._box
    rows = []
    for k in explorer.knobs:
        opts = [(k.fmt(v), v) for v in k.values]
        common = dict(
            options=opts,
            value=explorer.state[k.name],
            description=k.label,
            style={"description_width": "initial"},
        )
        if as_buttons(k):
            c = w.ToggleButtons(**common)
        else:
            c = w.SelectionSlider(**common, continuous_update=False, layout=w.Layout(width="32em"))
        c.observe(lambda ch, name=k.name: _moved(explorer, name, ch["new"]), names="value")
        explorer.controls[k.name] = c
        rows.append(c)
    explorer._inert_note = w.HTML()
    _show_inert(explorer)
    explorer._image = w.Image(
        value=explorer._live_png(), format="png", layout=w.Layout(max_width="100%")
    )
    explorer._box = w.VBox(
        [
            w.HTML(f"<b>{html.escape(explorer.title)}</b>"),
            *rows,
            explorer._inert_note,
            explorer._image,
        ]
    )
    return explorer._box


def _moved(explorer, name, value) -> None:
    explorer.update(**{name: value})
    _show_inert(explorer)


def _show_inert(explorer) -> None:
    """Disable the controls of the knobs that change nothing now, and say why."""
    inert = explorer.inert()
    for name, c in explorer.controls.items():
        c.disabled = name in inert
        c.tooltip = inert.get(name) or None
    explorer._inert_note.value = "".join(
        f'<div class="vm-inert"><i>{html.escape(explorer.knob(n).label)}: '
        f"{html.escape(why)}</i></div>"
        for n, why in inert.items()
    )
