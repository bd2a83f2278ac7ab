"""Check every internal link of a built site: the page exists and so does the anchor.

Usage: python docs/_ext/check_links.py docs/_build/html
External links (http, https, mailto) are not checked: CI has no internet.
"""

from __future__ import annotations

import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("id", "name") and value:
                self.ids.add(value)
            if name == "href" and value and tag == "a":
                self.links.append(value)


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def main(root: Path) -> int:
    pages = {path: _parse(path) for path in root.rglob("*.html")}
    broken = []
    for path, page in sorted(pages.items()):
        if path.name in ("genindex.html", "search.html") or "_static" in path.parts:
            continue
        for link in page.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc:
                continue
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if target.is_dir():
                target = target / "index.html"
            if target not in pages and not target.exists():
                broken.append(f"{path.relative_to(root)}: {link}: no such page")
                continue
            if parts.fragment and target in pages and unquote(parts.fragment) not in pages[target].ids:
                broken.append(f"{path.relative_to(root)}: {link}: no such anchor")
    for line in broken:
        print(line)
    print(f"internal links: {sum(len(p.links) for p in pages.values())} links in {len(pages)} pages, "
          f"{len(broken)} broken")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]).resolve()))
