"""Build the manuscript from ``results/``: every number, table and figure is read, none typed.

``paper/paper.md.j2`` is Markdown with Jinja2 placeholders. :func:`build_paper` fills it
from the aggregate's tables and the workflow config (Methods), resolves ``[@key]``
citations against ``paper/references.bib`` into numbered references, and writes

- ``paper/paper.md``: figures linked relatively (``../results/figures/...``);
- ``paper/paper.html``: self-contained (CSS inline, figures embedded as data URIs);
- ``paper/paper.pdf`` only where pandoc and a LaTeX engine are installed; the
  ``pdf_log`` file says whether it was built or why not.

An undefined placeholder is an error (Jinja2 ``StrictUndefined``), so a template
that asks for a number the results lack fails loudly instead of printing a blank.
"""

from __future__ import annotations

import base64
import html
import re
import shutil
import subprocess
from pathlib import Path

import jinja2
from markdown_it import MarkdownIt

from ecgrepro.aggregate.paper_views import Results
from ecgrepro.aggregate.write import write_text
from ecgrepro.errors import EcgreproError

__all__ = ["build_paper", "parse_bibtex", "format_reference", "render_markdown"]

LATEX_ENGINES = ("pdflatex", "xelatex", "lualatex", "tectonic")
CSS = """
body { font-family: Georgia, 'DejaVu Serif', serif; max-width: 58rem; margin: 2rem auto;
       padding: 0 1rem; line-height: 1.5; color: #222; }
h1, h2, h3 { font-family: 'DejaVu Sans', Arial, sans-serif; }
table { border-collapse: collapse; font-size: 0.8rem; margin: 1rem 0; display: block;
        overflow-x: auto; }
th, td { border: 1px solid #bbb; padding: 0.2rem 0.4rem; vertical-align: top; }
th { background: #eee; }
img { max-width: 100%; height: auto; display: block; margin: 0.5rem auto; }
figure { margin: 1.5rem 0; }
code { font-size: 0.85em; }
.refs li { margin-bottom: 0.3rem; }
"""

_FIELD = re.compile(r"(\w+)\s*=\s*[{\"]((?:[^{}]|\{[^{}]*\})*)[}\"]\s*,?", re.S)
_ENTRY = re.compile(r"@(\w+)\s*\{\s*([^,\s]+)\s*,(.*?)\n\}", re.S)
_CITE = re.compile(r"\[@([\w:-]+(?:\s*;\s*@[\w:-]+)*)\]")


def parse_bibtex(text: str) -> dict[str, dict]:
    """Entries of a plain BibTeX file: ``{key: {"type": ..., field: value}}``.

    Handles the subset ``references.bib`` uses: ``@type{key, field = {value}, ...}``
    with at most one level of nested braces in a value.
    """
    out = {}
    for kind, key, body in _ENTRY.findall(text):
        fields = {k.lower(): re.sub(r"\s+", " ", v.replace("{", "").replace("}", "")).strip()
                  for k, v in _FIELD.findall(body)}
        out[key] = {"type": kind.lower(), **fields}
    return out


_ACCENTS = {'\\"a': "ä", '\\"o': "ö", '\\"u': "ü", '\\"A': "Ä", '\\"O': "Ö",
            '\\"U': "Ü", "\\'e": "é", "\\'a": "á", "\\`e": "è", "\\c c": "ç",
            "\\ss": "ß"}


def _latex_text(text: str) -> str:
    for code, char in _ACCENTS.items():
        text = text.replace(code, char)
    return text


def _author(name: str) -> str:
    """``Last, First Middle`` (or ``First Last``) as ``Last FM``."""
    if "," in name:
        last, first = (p.strip() for p in name.split(",", 1))
    else:
        *first_parts, last = name.split()
        first = " ".join(first_parts)
    initials = "".join(p[0] for p in re.split(r"[\s.-]+", first) if p)
    return f"{last} {initials}".strip()


def format_reference(entry: dict) -> str:
    """One reference as text: authors (year). Title. Venue volume(number):pages. doi/url."""
    authors = [_author(a.strip()) for a in _latex_text(entry.get("author", "")).split(" and ")
               if a.strip()]
    names = ", ".join(authors[:6]) + (", et al." if len(authors) > 6 else "")
    entry = {k: _latex_text(v) for k, v in entry.items()}
    venue = entry.get("journal") or entry.get("booktitle") or entry.get("publisher") or ""
    vol = entry.get("volume", "")
    if entry.get("number"):
        vol += f"({entry['number']})"
    if entry.get("pages"):
        vol += f":{entry['pages'].replace('--', '-')}"
    parts = [f"{names} ({entry.get('year', 'n.d.')}).", f"{entry.get('title', '')}."]
    if venue:
        parts.append(f"*{venue}*" + (f" {vol}" if vol else "") + ".")
    if entry.get("doi"):
        parts.append(f"doi:{entry['doi']}")
    elif entry.get("url"):
        parts.append(entry["url"])
    return " ".join(parts)


def _cite(markdown: str, bib: dict) -> tuple[str, list[str]]:
    """Replace ``[@a; @b]`` with numbered links; return the text and keys in order."""
    order: list[str] = []

    def number(m):
        keys = [k.strip().lstrip("@") for k in m.group(1).split(";")]
        unknown = [k for k in keys if k not in bib]
        if unknown:
            raise EcgreproError(f"paper: citation(s) {unknown} not in the bibliography")
        nums = []
        for k in keys:
            if k not in order:
                order.append(k)
            nums.append(f"[{order.index(k) + 1}](#ref-{k})")
        return "[" + ", ".join(nums) + "]"

    return _CITE.sub(number, markdown), order


def _fmt(x, digits=4) -> str:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return "n/a"
    return "n/a" if v != v else f"{v:.{digits}f}"


def _pct(x, digits=2) -> str:
    return "n/a" if _fmt(x) == "n/a" else f"{100 * float(x):.{digits}f}%"


def render_markdown(template: str, results: Results, bib: dict) -> str:
    """Fill the template, resolve citations, append the numbered reference list."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             autoescape=False)
    env.filters.update(f4=_fmt, f2=lambda x: _fmt(x, 2), pct=_pct,
                       int=lambda x: "n/a" if x in ("", None) else str(int(float(x))))
    text = env.from_string(template).render(r=results, config=results.config)
    text, order = _cite(text, bib)
    refs = "\n".join(f'{i}. <a id="ref-{k}"></a>{format_reference(bib[k])}'
                     for i, k in enumerate(order, 1))
    return text.rstrip() + "\n\n## References\n\n" + refs + "\n"


def _html(markdown: str, md_dir: Path, title: str) -> str:
    """Markdown to one self-contained HTML page (figures inlined as data URIs)."""
    body = MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown)

    def inline(m):
        src = html.unescape(m.group(1))
        path = (md_dir / src).resolve()
        if not path.is_file():
            raise EcgreproError(f"paper: image {src} not found from {md_dir}")
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return f'src="data:image/png;base64,{data}"'

    body = re.sub(r'src="([^"]+\.png)"', inline, body)
    body = body.replace("<ol>\n<li><a id=\"ref-", "<ol class=\"refs\">\n<li><a id=\"ref-", 1)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f"{body}</body>\n</html>\n"
    )


def _pdf(md_path: Path, log_path: Path) -> None:
    """paper.pdf via pandoc and a LaTeX engine where both exist; else say why not."""
    pandoc = shutil.which("pandoc")
    engine = next((e for e in LATEX_ENGINES if shutil.which(e)), None)
    if not pandoc or not engine:
        lacking = [n for n, ok in (("pandoc", pandoc), ("a LaTeX engine "
                   f"({', '.join(LATEX_ENGINES)})", engine)) if not ok]
        write_text(log_path, f"PDF skipped: {' and '.join(lacking)} not found on PATH. "
                             "paper.html and paper.md are complete without it.\n")
        return
    pdf = md_path.with_suffix(".pdf")
    cmd = [pandoc, md_path.name, "-o", pdf.name, f"--pdf-engine={engine}",
           "--resource-path=.", "-V", "geometry:margin=2cm"]
    res = subprocess.run(cmd, cwd=md_path.parent, capture_output=True, text=True)
    status = "PDF built" if res.returncode == 0 else f"PDF failed (exit {res.returncode})"
    write_text(log_path, f"{status} with pandoc and {engine}.\n{res.stderr}")


def build_paper(*, template, bibliography, tables_dir, figures_dir, config: dict,
                out_md, out_html, pdf_log) -> str:
    """Render the manuscript; return its Markdown.

    Parameters
    ----------
    template : str or Path
        ``paper/paper.md.j2``.
    bibliography : str or Path
        ``paper/references.bib``.
    tables_dir, figures_dir : str or Path
        The aggregate's outputs.
    config : dict
        The workflow config (Methods are written from it).
    out_md, out_html, pdf_log : str or Path
        Outputs; ``paper.pdf`` goes beside ``out_md`` when it can be built.
    """
    out_md, out_html = Path(out_md), Path(out_html)
    bib = parse_bibtex(Path(bibliography).read_text(encoding="utf-8"))
    results = Results(Path(tables_dir), Path(figures_dir), config, out_md.parent)
    markdown = render_markdown(Path(template).read_text(encoding="utf-8"), results, bib)
    write_text(out_md, markdown)
    title = markdown.splitlines()[0].lstrip("# ").strip()
    write_text(out_html, _html(markdown, out_md.parent, title))
    _pdf(out_md, Path(pdf_log))
    return markdown
