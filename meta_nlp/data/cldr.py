"""Source: CLDR names shipped with babel, as parallel text.

Every CLDR locale names the world's territories ('JP' -> '日本' in ja, 'Japan' in en) and languages
('ja' -> '日本語' / 'Japanese'). Two locales' names of the same code are a translation pair: short,
but in hundreds of languages and offline (babel is a dependency).
"""
from __future__ import annotations

import hashlib
from collections import Counter
from functools import lru_cache

from meta_nlp.errors import MetaNLPError

TABLES = ("territories", "languages")  # babel.Locale attributes; their codes never collide (JP vs ja)
Key = tuple[str, str]  # (table, code)


def name_table(locale: str) -> dict[Key, str]:
    """{(table, code): name} of one locale, codes sorted within each table."""
    from babel import Locale, UnknownLocaleError
    try:
        loc = Locale.parse(locale)
    except (UnknownLocaleError, ValueError):
        raise MetaNLPError(f"cldr_names has no locale {locale!r} (babel locale identifiers: ja, zh_Hant, ...)") from None
    return {(table, code): name for table in TABLES for code, name in sorted(getattr(loc, table).items()) if name}


@lru_cache(maxsize=1)
def available_locales() -> list[str]:
    """Locales with names of their own: a non-empty territories table, and a name table no shorter identifier
    already has (ja_JP repeats ja, en_GB ... most of en), so each set of names is listed once. ~2 s: cached."""
    from babel import localedata
    seen: dict[str, str] = {}
    for ident in sorted(localedata.locale_identifiers(), key=lambda s: (len(s), s)):
        table = name_table(ident)
        if any(table_name == "territories" for table_name, _ in table):
            # a digest, not the table: ~1000 tables of ~900 names each would cost tens of MB to keep
            seen.setdefault(hashlib.sha1(repr(sorted(table.items())).encode()).hexdigest(), ident)
    return sorted(seen.values())


def name_pairs(locale: str, pivot: str = "en") -> list[tuple[str, str]]:
    """(name in `locale`, name in `pivot`) for every code both name, territories then languages. A name two codes
    share on either side ('Congo'...) is dropped: a ranking task needs one right answer."""
    mine, theirs = name_table(locale), name_table(pivot)
    keys = [key for key in mine if key in theirs]
    shared = {side: {n for n, c in Counter(names[k] for k in keys).items() if c > 1}
              for side, names in (("mine", mine), ("theirs", theirs))}
    return [(mine[k], theirs[k]) for k in keys if mine[k] not in shared["mine"] and theirs[k] not in shared["theirs"]]
