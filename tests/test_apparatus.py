"""A teaching book's apparatus: every chapter ends with a take-away and exercises whose
answers are folded; every figure of the built site has a numbered caption; the glossary's
terms are linked from the chapters; the references carry links and name the source book."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ("overview.md", "emulated.md", "virtio.md", "lab.md", "beyond.md")
FIGURE_CAPTION = re.compile(r"^```\{figure-caption\} (\S+)\n(.+?)^```$", re.MULTILINE | re.DOTALL)


def _sections(text):
    """The chapter's level-2 sections in order: [(title, body)], code cells kept in the body."""
    out, title, body, fence = [], None, [], None
    for line in text.splitlines():
        if line.startswith("```"):
            fence = None if fence else line
        if fence is None and line.startswith("## "):
            if title is not None:
                out.append((title, "\n".join(body)))
            title, body = line[3:].strip(), []
        else:
            body.append(line)
    if title is not None:
        out.append((title, "\n".join(body)))
    return out


def _exercises(body):
    """The numbered exercises of an Exercises section: [(question, answer admonition)]."""
    items = re.split(r"^\d+\. ", body, flags=re.MULTILINE)[1:]
    out = []
    for item in items:
        m = re.search(
            r"```\{admonition\} Answer\n\s*(:class: dropdown\n)?(.*?)```", item, re.DOTALL
        )
        out.append((item, m))
    return out


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_ends_with_takeaway_and_exercises_with_folded_answers(chapter):
    sections = _sections((ROOT / "book" / chapter).read_text())
    titles = [t for t, _ in sections]
    assert titles[-2:] == ["What to take away", "Exercises"], titles
    takeaway = sections[-2][1]
    bullets = re.findall(r"^- ", takeaway, re.MULTILINE)
    assert 3 <= len(bullets) <= 6, f"{chapter}: a short take-away of 3-6 points"
    exercises = _exercises(sections[-1][1])
    assert len(exercises) >= 3, f"{chapter}: at least three exercises"
    for question, answer in exercises:
        assert answer is not None, f"{chapter}: an exercise without an answer: {question[:80]}"
        assert answer.group(1), f"{chapter}: an answer that is not folded: {question[:80]}"
        assert answer.group(2).strip(), f"{chapter}: an empty answer: {question[:80]}"
    # the exercises use the chapter's figures: each names one by its numbered reference
    named = {m for q, _ in exercises for m in re.findall(r"\{numref\}`(fig-[\w-]+)`", q)}
    assert named, f"{chapter}: no exercise uses a figure"
    captions = {m.group(1) for m in FIGURE_CAPTION.finditer((ROOT / "book" / chapter).read_text())}
    assert named <= captions, named - captions


def test_every_figure_caption_follows_a_cell():
    """A caption sits right after the code cell whose output it describes (one blank line)."""
    for chapter in sorted((ROOT / "book").glob("*.md")):
        text = chapter.read_text()
        for m in FIGURE_CAPTION.finditer(text):
            before = text[: m.start()].rstrip("\n")
            assert before.endswith("```"), f"{chapter.name}: {m.group(1)} follows no cell"
            assert text[: m.start()].endswith("```\n\n"), f"{chapter.name}: {m.group(1)}"
            assert len(m.group(2).split()) >= 15, f"{chapter.name}: {m.group(1)}: say what to see"


def test_glossary_terms_are_linked_from_every_chapter():
    glossary = (ROOT / "book" / "glossary.md").read_text()
    assert glossary.count("```{glossary}") == 2
    for chapter in CHAPTERS:
        text = (ROOT / "book" / chapter).read_text()
        assert len(re.findall(r"\{term\}`", text)) >= 8, chapter


def test_references_link_and_name_the_source_book():
    refs = (ROOT / "book" / "references.md").read_text()
    entries = re.split(r"^\(ref-[\w-]+\)=$", refs, flags=re.MULTILINE)[1:]
    linked = [e for e in entries if "](https://" in e]
    assert len(linked) >= len(entries) - 4, "most references carry a link"
    for key in ("a5c262c5fd83", "ad56aa1177d6", "00bfecaaa5a4"):  # commits link to a commit
        assert re.search(rf"\[{key}\]\(https://[^)]*{key}\)", refs), key
    assert "doi.org/10.1145/2150976.2150991" in refs  # ELI, by DOI
    assert "lore.kernel.org" in refs  # list archives
    source = refs.split("(ref-source)=")[1]
    for part in ("任永杰", "KVM实战", "机械工业出版社", "2019"):
        assert part in source, part
    intro = (ROOT / "book" / "intro.md").read_text()
    assert "KVM in Practice" in intro and "ref-source" in intro


# ---- the built site --------------------------------------------------------------------


def _figures_without_caption(html):
    """Every figure of a page (an explorer's player, a picture in a cell's output, a figure
    element) that has no numbered caption, as short descriptions."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    main = soup.find("main") or soup
    missing = []
    for fig in main.find_all("figure"):
        number = fig.select_one("figcaption .caption-number")
        if number is None or not re.fullmatch(r"Figure \d+\s*", number.get_text()):
            missing.append(f"figure {fig.get('id')} without a numbered caption")
    for output in main.select("div.cell_output"):
        if not (output.select(".vm-player") or output.select("img")):
            continue
        if output.find_parent("figure"):
            continue
        cell = output.find_parent("div", class_="cell")
        after = cell.find_next_sibling() if cell else None
        if not (after and after.name == "figure" and "vm-caption" in after.get("class", [])):
            missing.append(f"cell output without a caption: {output.get_text()[:60]!r}")
    return missing


@pytest.mark.slow
def test_every_figure_in_the_built_site_has_a_numbered_caption(built_site):
    site, _ = built_site
    players = 0
    for page in sorted((site / "book").glob("*.html")):
        html = page.read_text()
        players += html.count('class="vm-player"')
        assert _figures_without_caption(html) == [], page.name
    assert players >= 15  # the check saw the explorers


@pytest.mark.slow
def test_the_exercises_answers_are_folded_and_computed_in_the_built_site(built_site):
    site, _ = built_site
    for chapter in CHAPTERS:
        html = (site / "book" / chapter.replace(".md", ".html")).read_text()
        assert html.count('<div class="dropdown admonition"') >= 3, chapter
        assert "pasted-text" in html, chapter  # numbers glued from the page's cells
        assert "{glue" not in html and "{term}" not in html, chapter


def test_caption_check_catches_a_figure_without_one():
    """The built-site check above is not vacuous: it flags an uncaptioned player."""
    ok = (
        '<main><div class="cell"><div class="cell_output"><div class="vm-player"></div></div>'
        '</div><figure class="vm-caption" id="fig-a"><figcaption><p>'
        '<span class="caption-number">Figure 1 </span>x</p></figcaption></figure></main>'
    )
    bare = '<main><div class="cell"><div class="cell_output"><div class="vm-player">'
    bare += "</div></div></div><p>text</p></main>"
    unnumbered = ok.replace('<span class="caption-number">Figure 1 </span>', "")
    assert _figures_without_caption(ok) == []
    assert len(_figures_without_caption(bare)) == 1
    assert len(_figures_without_caption(unnumbered)) == 1
