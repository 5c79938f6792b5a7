"""bedrock-agent's one List* pager: `nextToken` and `maxResults` (default 1000), and the ValidationException
its operations model for a token this server did not give."""

from __future__ import annotations

from outcrop.protocol.errors import ValidationException
from outcrop.services.paging import Pager

PAGES = Pager(
    ValidationException, "The nextToken is not valid.", default=1000, token="nextToken", size="maxResults"
)
