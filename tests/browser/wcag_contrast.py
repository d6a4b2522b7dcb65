"""Colour contrast as WCAG 2.2 defines it, measured on what the browser computed (getComputedStyle).

`contrast_of(locator)` takes an element's text colour and the background it is actually drawn on: its
own background or, while that is transparent, its ancestors', composited over the white canvas (alpha
included). Success criterion 1.4.3 (AA) asks 4.5:1 for normal text (`AA_NORMAL_TEXT`), 3:1 for large
text. Any page test may use it:

    assert_contrast(page.get_by_role("button", name="Entrar"))

`assert_page_contrast(page)` checks every text the page shows at once (each visible element with text
of its own, and the values of form fields).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

AA_NORMAL_TEXT = 4.5
AA_LARGE_TEXT = 3.0
WHITE = (1.0, 1.0, 1.0, 1.0)
_RGB = re.compile(r"rgba?\(\s*([\d.]+)[\s,]+([\d.]+)[\s,]+([\d.]+)(?:\s*[,/]\s*([\d.]+%?))?\s*\)")

# For the element: its computed text colour, and the computed background colours of it and each ancestor
# up to <html>, innermost first. Background images are not looked at (the dashboard has none).
_COLOURS_JS = """el => {
  const backgrounds = [];
  for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
    backgrounds.push(getComputedStyle(node).backgroundColor);
  }
  const style = getComputedStyle(el);
  return {color: style.color, opacity: style.opacity, backgrounds};
}"""

RGBA = tuple[float, float, float, float]  # channels and alpha, 0..1


def parse_colour(css: str) -> RGBA:
    """A computed colour, as Chromium serialises it (`rgb(r, g, b)` or `rgba(r, g, b, a)`)."""
    match = _RGB.fullmatch(css.strip())
    if not match:
        raise ValueError(f"unexpected computed colour {css!r}")
    r, g, b, alpha = match.groups()
    if alpha is None:
        a = 1.0
    elif alpha.endswith("%"):
        a = float(alpha[:-1]) / 100
    else:
        a = float(alpha)
    return float(r) / 255, float(g) / 255, float(b) / 255, a


def over(top: RGBA, bottom: RGBA) -> RGBA:
    """`top` drawn over an opaque `bottom` (source-over compositing)."""
    a = top[3]
    return (*(t * a + b * (1 - a) for t, b in zip(top[:3], bottom[:3])), 1.0)


def relative_luminance(colour: RGBA) -> float:
    """WCAG's relative luminance of an opaque sRGB colour."""
    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in colour[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(first: RGBA, second: RGBA) -> float:
    """(L1 + 0.05) / (L2 + 0.05), lighter over darker: 1 to 21."""
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


@dataclass(frozen=True)
class Contrast:
    """An element's text colour, the background it is drawn on, and their ratio."""

    foreground: RGBA
    background: RGBA
    ratio: float

    def __str__(self) -> str:
        def hex_(c: RGBA) -> str:
            return "#" + "".join(f"{round(v * 255):02x}" for v in c[:3])

        return f"{hex_(self.foreground)} on {hex_(self.background)}: {self.ratio:.2f}:1"


def contrast_of(locator) -> Contrast:
    """The contrast of a Playwright locator's (single) element, as the browser computed its styles."""
    return _contrast(locator.evaluate(_COLOURS_JS))


def assert_contrast(locator, minimum: float = AA_NORMAL_TEXT, what: str = "") -> Contrast:
    """Fail unless the element's text reaches `minimum`:1 against its background."""
    contrast = contrast_of(locator)
    assert contrast.ratio >= minimum, f"{what or locator}: contrast {contrast} is below {minimum}:1"
    return contrast


# Every visible element of the page that draws text of its own (a non-blank text node child, or a form
# control's value or placeholder), enabled, with its colours as _COLOURS_JS finds them and a short name.
_PAGE_TEXT_JS = """() => {
  const found = [];
  for (const el of document.body.querySelectorAll('*')) {
    if (['SCRIPT', 'STYLE', 'OPTION'].includes(el.tagName) || el.disabled) continue;
    const ownText = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())
      || (['INPUT', 'SELECT', 'TEXTAREA'].includes(el.tagName) && el.type !== 'hidden' && (el.value || el.placeholder));
    if (!ownText) continue;
    const rect = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (rect.width <= 1 || rect.height <= 1 || style.visibility !== 'visible') continue;  // hidden, or visually hidden
    const backgrounds = [];
    for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
      backgrounds.push(getComputedStyle(node).backgroundColor);
    }
    const text = (el.value || el.textContent || '').trim().replace(/\\s+/g, ' ').slice(0, 40);
    found.push({what: `<${el.tagName.toLowerCase()}${el.className ? '.' + el.className : ''}> "${text}"`,
                color: style.color, opacity: style.opacity, backgrounds});
  }
  return found;
}"""


def _contrast(found: dict) -> Contrast:
    """The contrast of colours as _COLOURS_JS finds them: the backgrounds composited over the white canvas."""
    background = WHITE  # the canvas
    for layer in reversed(found["backgrounds"]):  # outermost first
        background = over(parse_colour(layer), background)
    fg = parse_colour(found["color"])
    foreground = over((*fg[:3], fg[3] * float(found["opacity"])), background)
    return Contrast(foreground, background, contrast_ratio(foreground, background))


def page_text_contrasts(page) -> list[tuple[str, Contrast]]:
    """(what, contrast) of every piece of text the page shows: headings, paragraphs, table cells, labels,
    links, buttons, form fields' values."""
    return [(found["what"], _contrast(found)) for found in page.evaluate(_PAGE_TEXT_JS)]


def assert_page_contrast(page, minimum: float = AA_NORMAL_TEXT) -> int:
    """Fail unless every text of the page reaches `minimum`:1 against its background; how many were checked."""
    checked = page_text_contrasts(page)
    low = [f"{what}: {contrast}" for what, contrast in checked if contrast.ratio < minimum]
    assert not low, f"{page.url}: text below {minimum}:1:\n" + "\n".join(low)
    return len(checked)
