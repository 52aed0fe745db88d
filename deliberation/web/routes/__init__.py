"""Every page route, one module per area; each module ends with its `ROUTES`."""

from deliberation.web.routes import accounts, admin, board, deciding, forum, moderating, moderation, threads

ROUTES = [
    *forum.ROUTES,
    *accounts.ROUTES,
    *admin.ROUTES,
    *threads.ROUTES,
    *moderation.ROUTES,
    *deciding.ROUTES,
    *moderating.ROUTES,
    *board.ROUTES,
]
