from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequired


class LoginRequiredMiddleware(DjangoLoginRequired):
    """Send anonymous visitors of any page to the login page.

    Django's own middleware, with the API left to DRF: an API client wants a 401/403
    answer, not a redirect to an HTML form. DRF's permission classes check the API.
    """

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path_info.startswith("/api/"):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)
