"""`/metrics`: the task backend's figures in Prometheus's text format, for a scraper that
knows the token.

Off unless `settings.STRATUS_METRICS_TOKEN` is set (then every request without
`Authorization: Bearer <token>` is a 401). A bearer token rather than an address list: the
nodes sit behind a load balancer, where the client's address is only as trustworthy as
the proxies' headers, and a scraper inside the network and one outside are alike to it.
Any web process of any node answers the same: the figures are read from SQS and the
metrics store at each request, never kept in the process.
"""

from django.conf import settings
from django.http import Http404, HttpResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from . import exposition, figures


@require_safe
@never_cache
def metrics_view(request):
    """The exposition of `figures.gather()`, to a request bearing the token."""
    token = getattr(settings, "STRATUS_METRICS_TOKEN", "")
    if not token:
        raise Http404("Metrics are off (STRATUS_METRICS_TOKEN is not set).")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not constant_time_compare(given.strip(), token):
        response = HttpResponse("A bearer token is needed.\n", status=401,
                                content_type="text/plain; charset=utf-8")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(exposition.render(figures.gather()),
                        content_type=exposition.CONTENT_TYPE)
