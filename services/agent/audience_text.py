"""Text a live audience (or an organiser's phone) will read: no links, mentions, markup, or
characters that change how the rest of a line reads.

The platform shows an intervention's texts as they are, in a chat, a poll card or a push
notification. Our templates never need any of these; text written by anything else (a language
model, a producer through the API, a platform's session title filled into a template) might carry
them, and a link or a mention in front of a whole audience is how spam, phishing or an injected
instruction reaches it. `unsafe_reason` refuses such text (the payload gate uses it on every text
field); `strip_unsafe` cleans text we only quote, such as a session title.
"""

from __future__ import annotations

import re

# Web addresses, whole: a scheme, "www.", or a dotted name ending in a common top-level domain,
# then the rest of the address up to a space. The list is the TLDs link spam uses most, not all
# 1,500: a bare "foo.museum" reads as a name, and what matters is that nothing here becomes a
# clickable lure.
_LINK = re.compile(
    r"(?:"
    r"\b[a-z][a-z0-9+.-]{1,15}://"  # http://, https://, ftp://, any scheme
    r"|\bwww\d{0,3}\."
    r"|\b(?:mailto|javascript|data|tel):"
    r"|\b[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?"
    r"(?:\.[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?)*"
    r"\.(?:com|net|org|io|co|ly|gg|me|app|dev|xyz|info|biz|tv|link|click|shop|site|online|top"
    r"|ru|cn|tk|ml|ga|cf|gq|us|uk|de|fr|live|stream|zip|mov)\b"
    r")\S*",
    re.IGNORECASE,
)
# @name, as chat platforms turn into a notification to that person (or to @everyone).
_MENTION = re.compile(r"(?<![\w.@])@[a-z0-9_](?:[\w.-]{0,63})", re.IGNORECASE)
# HTML tags, Markdown links and images, code spans and HTML entities: whatever a renderer would
# turn into something other than the characters shown.
_MARKUP = re.compile(
    r"<\s*/?\s*[a-z!?][^<>]{0,500}>"
    r"|!?\[[^\]\n]{0,500}\]\([^)\n]{0,500}\)"
    r"|`"
    r"|&(?:#\d{1,7}|#x[0-9a-f]{1,6}|[a-z][a-z0-9]{1,31});",
    re.IGNORECASE,
)
# Control characters (a line break in a one-line field, a NUL) and the bidirectional overrides
# that make the rest of a line read backwards. Zero-width joiners stay: emoji are built with them.
_HIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

_CHECKS = (
    (_LINK, "a link"),
    (_MENTION, "a mention"),
    (_MARKUP, "markup"),
    (_HIDDEN, "a control character"),
)


def unsafe_reason(text: str) -> str | None:
    """What makes `text` unfit to show an audience ("contains a link: 'bit.ly'"), or None."""
    for pattern, what in _CHECKS:
        found = pattern.search(text)
        if found is not None:
            return f"contains {what}: {found.group(0)[:40]!r}"
    return None


def strip_unsafe(text: str) -> str:
    """`text` without links, mentions, markup and control characters, spaces tidied: for text we
    only quote, such as a platform's session title inside one of our templates."""
    for pattern, _ in _CHECKS:
        text = pattern.sub(" ", text)
    return " ".join(text.split())
