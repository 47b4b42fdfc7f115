"""'Did you mean ...?' hints: the closest known name to a misspelt one."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
    neighbouring characters (the commonest typo, `form` for `from`) each cost 1."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, char_b in enumerate(b, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            if i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


def closest(word: str, candidates: Iterable[str], *, cutoff: float = 0.6) -> str | None:
    """The candidate closest to `word`: a case-insensitive match first, then the fewest typos
    (at most one per three characters), then difflib's most similar."""
    names = [c for c in dict.fromkeys(candidates) if c != word]
    folded = word.casefold()
    by_fold = {name.casefold(): name for name in names}
    if folded in by_fold:
        return by_fold[folded]
    if len(by_fold) <= 5000:
        limit = max(1, len(folded) // 3)
        scored = sorted((edit_distance(folded, f), i, f) for i, f in enumerate(by_fold))
        if scored and scored[0][0] <= limit:
            return by_fold[scored[0][2]]
    match = difflib.get_close_matches(folded, list(by_fold), n=1, cutoff=cutoff)
    return by_fold[match[0]] if match else None


def did_you_mean(word: str, candidates: Iterable[str], *, cutoff: float = 0.6) -> str | None:
    """`did you mean 'X'?` for the closest candidate, or None when nothing is close."""
    match = closest(word, candidates, cutoff=cutoff)
    return f"did you mean {match!r}?" if match is not None else None
