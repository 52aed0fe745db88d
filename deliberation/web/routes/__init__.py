"""Every page route, one module per area; each module ends with its `ROUTES`."""

from deliberation.web.routes import accounts, admin, forum

ROUTES = [*forum.ROUTES, *accounts.ROUTES, *admin.ROUTES]
