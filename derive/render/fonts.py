"""Names in any script on a sheet: pdflatex (T1, Latin Modern) typesets Latin text only, so a sheet
whose names or header hold other letters (Ζωή, 王小明, محمد, 😀) is typeset by lualatex with
Latin Modern and a fallback chain of the installed fonts that cover those letters (fontconfig's
fc-list finds them). Letters no installed font covers, or every such letter when lualatex is not
installed, are printed as their code (U+1F600) and named in a warning: a clear fallback, never a
failed roster."""
from __future__ import annotations

import dataclasses
import functools
import re
import shutil
import subprocess
import warnings

from derive.render.templates import Tex

# what pdflatex with T1 and inputenc's utf8 typesets: Latin-1, Latin Extended-A, common punctuation
PDFLATEX_TEXT = re.compile(r"[\x00-\u017f\u2013\u2014\u2018\u2019\u201a\u201c\u201d\u201e\u2026]*")
PREFERRED = ("DejaVu Serif", "DejaVu Sans", "Noto Serif", "Noto Sans", "FreeSerif", "Droid Sans Fallback",
             "Noto Sans CJK SC", "Noto Color Emoji", "Symbola")
MAX_LOOKUPS = 300             # distinct letters looked up with fc-list (each about 20 ms)


class FontWarning(UserWarning):
    """Some letters of a name cannot be typeset here; they are printed as their codes."""


def needs_unicode(text: str) -> bool:
    return not PDFLATEX_TEXT.fullmatch(text)


def unicode_engine() -> bool:
    return shutil.which("lualatex") is not None


@functools.lru_cache(maxsize=4096)
def _families(ch: str) -> tuple:
    """The installed font families with a glyph for ch (fontconfig), preferred ones first."""
    fc = shutil.which("fc-list")
    if fc is None:
        return ()
    try:
        out = subprocess.run([fc, f":charset={ord(ch):x}", "family"], capture_output=True, text=True,
                             timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    found = {f.split(",")[0].strip() for f in out.splitlines() if f.strip()}
    return tuple(sorted(found, key=lambda f: (PREFERRED.index(f) if f in PREFERRED else len(PREFERRED), f)))


def plan(texts) -> tuple[tuple, dict]:
    """(fallback families for lualatex, or () for pdflatex; {letter: its U+ code} to print instead)."""
    others = sorted({ch for t in texts for ch in t if needs_unicode(ch) and not ch.isspace()})
    if not others:
        return (), {}
    if not unicode_engine():
        codes = {ch: f"U+{ord(ch):04X}" for ch in others}
        warnings.warn(FontWarning(f"{len(others)} letter{'s' * (len(others) > 1)} of the names need a Unicode "
                                  f"TeX engine ({_shown(others)}); lualatex is not installed, so they are "
                                  "printed as their codes (on Debian: apt-get install texlive-luatex)"))
        return (), codes
    chain, codes = [], {}
    for k, ch in enumerate(others):
        fams = _families(ch) if k < MAX_LOOKUPS else ()
        if not fams:
            codes[ch] = f"U+{ord(ch):04X}"
        elif not any(f in chain for f in fams):
            chain.append(fams[0])
    if codes:
        warnings.warn(FontWarning(f"no installed font has {_shown(list(codes))}; printed as "
                                  f"{', '.join(list(codes.values())[:5])} (install a font that covers them, "
                                  "e.g. fonts-noto)"))
    return tuple(chain) or ("DejaVu Serif",), codes


def coded(text: str, codes: dict) -> str:
    """text with each letter of `codes` replaced by its code: Ann 😀 -> Ann [U+1F600]."""
    return "".join(f"[{codes[ch]}]" if ch in codes else ch for ch in text) if codes else text


def header_plan(header, texts=()) -> tuple:
    """(fonts as Tex, the header with uncovered letters coded, codes) for a sheet's header and names."""
    fields = dataclasses.fields(header)
    fams, codes = plan([*texts, *(getattr(header, f.name) for f in fields)])
    header = dataclasses.replace(header, **{f.name: coded(getattr(header, f.name), codes) for f in fields})
    return [Tex(re.sub(r"[^A-Za-z0-9 ._-]", "", f)) for f in fams], header, codes


def _shown(chars) -> str:
    return " ".join(chars[:8]) + (" ..." if len(chars) > 8 else "")
