"""Pagination (`pages.paginate`): page 1 is the newest stories, and the older pages are cut
from the oldest end, so that a new story leaves the pages after page 2 as they were."""

from __future__ import annotations

import random

from sahifa.pages import paginate


def stories(n: int) -> tuple[int, ...]:
    """n stories, newest first (a bigger number is a newer story)."""
    return tuple(range(n, 0, -1))


def test_every_story_once_in_order_with_working_links():
    for n in range(0, 60):
        pages = paginate(stories(n), "/x/", 5)
        assert [s for p in pages for s in p.items] == list(stories(n))
        assert [p.number for p in pages] == list(range(1, len(pages) + 1))
        assert all(p.total == len(pages) for p in pages)
        paths = [p.path for p in pages]
        assert paths[0] == "/x/" and paths[1:] == [
            f"/x/page/{k}/" for k in range(2, len(pages) + 1)
        ]
        assert [p.next_path for p in pages] == [*paths[1:], None]
        assert [p.prev_path for p in pages] == [None, *paths[:-1]]


def test_page_one_is_full_page_two_takes_the_rest_the_others_are_full():
    pages = paginate(stories(47), "/", 10)
    assert [len(p.items) for p in pages] == [10, 7, 10, 10, 10]
    assert pages[0].items == stories(47)[:10]
    assert pages[-1].items == stories(10)  # the oldest ten
    assert [len(p.items) for p in paginate(stories(40), "/", 10)] == [10, 10, 10, 10]
    assert [len(p.items) for p in paginate(stories(7), "/", 10)] == [7]


def test_a_new_story_moves_only_pages_one_and_two_until_page_two_starts_again():
    """Of `per_page` new stories in a row, only the one that starts a new page 2 moves the
    stories of the later pages; the others leave every page after page 2 alone."""
    per_page, moved = 10, []
    for n in range(25, 125):
        before = paginate(stories(n), "/", per_page)
        after = paginate(stories(n + 1), "/", per_page)
        same = [b.items == a.items for b, a in zip(before[2:], after[2:], strict=False)]
        if not all(same) or len(before) != len(after):
            moved.append(n)
    assert len(moved) == 10  # one in ten additions: when the leftover page starts again
    assert all((n - per_page) % per_page == 0 for n in moved)


def test_random_sizes_keep_stories_on_their_pages():
    rng = random.Random(5)
    for _ in range(200):
        n, per_page = rng.randint(0, 300), rng.randint(1, 30)
        pages = paginate(stories(n), "/", per_page)
        sizes = [len(p.items) for p in pages]
        assert sizes[0] == min(n, per_page)
        assert all(size == per_page for size in sizes[2:])
        assert all(0 < size for size in sizes[1:])
