"""A strict HTML check for generated pages (standard library only).

Stricter than browsers, which repair broken markup silently: every non-void element must be closed
explicitly and in order, elements must be known HTML5 elements in their allowed parents (table
rows in tables, cells in rows, list items in lists, no block inside a paragraph), attributes
unique, ids unique, in-page links must point at an id, images need ``alt`` and a ``src``, and
nothing may be loaded from the network. :func:`html_errors` returns every problem found.
"""

from __future__ import annotations

from html.parser import HTMLParser

VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "track",
    "wbr",
}
KNOWN = VOID | {
    "a",
    "abbr",
    "article",
    "aside",
    "b",
    "blockquote",
    "body",
    "caption",
    "code",
    "colgroup",
    "dd",
    "details",
    "div",
    "dl",
    "dt",
    "em",
    "figcaption",
    "figure",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "head",
    "header",
    "html",
    "i",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "q",
    "section",
    "small",
    "span",
    "strong",
    "style",
    "sub",
    "summary",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "title",
    "tr",
    "ul",
}
PARENTS = {
    "tr": {"table", "thead", "tbody", "tfoot"},
    "td": {"tr"},
    "th": {"tr"},
    "thead": {"table"},
    "tbody": {"table"},
    "tfoot": {"table"},
    "caption": {"table"},
    "li": {"ul", "ol"},
    "dt": {"dl"},
    "dd": {"dl"},
    "figcaption": {"figure"},
    "head": {"html"},
    "body": {"html"},
    "title": {"head"},
    "meta": {"head"},
    "style": {"head"},
}
BLOCK = {
    "div",
    "table",
    "ul",
    "ol",
    "dl",
    "figure",
    "section",
    "header",
    "footer",
    "main",
    "nav",
    "p",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "pre",
    "blockquote",
}
REMOTE = ("http://", "https://", "//")
LOADING_ATTRIBUTES = {"src", "srcset", "poster", "data"}


class _StrictParser(HTMLParser):
    """Collects structural errors while parsing."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.errors: list[str] = []
        self.stack: list[str] = []
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.doctype = False
        self.seen_element = False

    def _where(self) -> str:
        line, col = self.getpos()
        return f"line {line}:{col}"

    def handle_decl(self, decl: str) -> None:
        if decl.lower() == "doctype html" and not self.seen_element:
            self.doctype = True
        else:
            self.errors.append(f"{self._where()}: unexpected declaration <!{decl}>")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen_element = True
        if tag not in KNOWN:
            self.errors.append(f"{self._where()}: unknown element <{tag}>")
        parent = self.stack[-1] if self.stack else None
        if tag in PARENTS and parent not in PARENTS[tag]:
            self.errors.append(f"{self._where()}: <{tag}> inside <{parent}>")
        if parent == "p" and tag in BLOCK:
            self.errors.append(f"{self._where()}: block <{tag}> inside <p>")
        names = [name for name, _ in attrs]
        if len(names) != len(set(names)):
            self.errors.append(f"{self._where()}: repeated attribute in <{tag}>")
        values = dict(attrs)
        if "id" in values:
            if values["id"] in self.ids:
                self.errors.append(f"{self._where()}: duplicate id {values['id']!r}")
            self.ids.add(values["id"] or "")
        for name in LOADING_ATTRIBUTES & set(values):
            if (values[name] or "").startswith(REMOTE):
                self.errors.append(f"{self._where()}: <{tag} {name}> loads from the network")
        if tag == "link" and (values.get("href") or "").startswith(REMOTE):
            self.errors.append(f"{self._where()}: <link> loads from the network")
        if tag == "img" and (not values.get("src") or "alt" not in values):
            self.errors.append(f"{self._where()}: <img> without src or alt")
        if tag == "a" and (values.get("href") or "").startswith("#"):
            self.links.append(values["href"][1:])
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID:
            self.errors.append(f"{self._where()}: self-closing non-void <{tag}/>")
        self.handle_starttag(tag, attrs)
        if tag not in VOID and self.stack and self.stack[-1] == tag:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            self.errors.append(f"{self._where()}: end tag of void element </{tag}>")
        elif not self.stack or self.stack[-1] != tag:
            top = self.stack[-1] if self.stack else None
            self.errors.append(f"{self._where()}: </{tag}> closes <{top}>")
            if tag in self.stack:  # recover: unwind to the matching element
                while self.stack.pop() != tag:
                    pass
        else:
            self.stack.pop()


def html_errors(text: str) -> list[str]:
    """Every problem :class:`_StrictParser` finds in ``text`` (empty when the page is clean)."""
    parser = _StrictParser()
    parser.feed(text)
    parser.close()
    errors = list(parser.errors)
    if not parser.doctype:
        errors.append("no <!DOCTYPE html> before the first element")
    if parser.stack:
        errors.append(f"unclosed elements at the end: {parser.stack}")
    errors += [
        f"link to missing id #{target}" for target in parser.links if target not in parser.ids
    ]
    for required in ("<html lang=", '<meta charset="utf-8">', "<title>"):
        if required not in text:
            errors.append(f"missing {required}")
    return errors
