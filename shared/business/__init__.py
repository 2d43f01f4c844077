"""Business signals apps report about their users' outcomes (``POST /api/v1/events``)."""
