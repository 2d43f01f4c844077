"""Azure Functions entry point: builds the FunctionApp and registers each trigger family's blueprint.

Nothing else happens here: the services are built lazily on the first invocation
(``shared.runtime.get_platform``), so importing this module stays cheap (cold start).
"""

import azure.functions as func

from functions import business, feedback, gateway, grounding, health, openapi, orchestration, retraining, unrouted

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(gateway.bp)
app.register_functions(health.bp)
app.register_functions(feedback.bp)
app.register_functions(retraining.bp)
app.register_functions(grounding.bp)
app.register_functions(orchestration.bp)
app.register_functions(business.bp)
app.register_functions(openapi.bp)
unrouted.serve_routes_of(app)  # last: 404/405 for what no route above serves
