"""How sknas computes, below every other part: results remembered by content, one-thread blocks.

Nothing here changes a result; both exist so that a search does the same work fewer times
(``docs/speed.md``).
"""

from .content_cache import ContentCache, content_key
from .threads import one_thread

__all__ = ["ContentCache", "content_key", "one_thread"]
