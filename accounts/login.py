from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.exceptions import ValidationError

from accounts import throttle


class ThrottledAuthenticationForm(AuthenticationForm):
    """The login form, refusing even a right password while the account or address must wait."""

    def clean(self):
        username = self.data.get("username", "")
        address = self.request.META.get("REMOTE_ADDR", "") if self.request else ""
        wait = throttle.seconds_to_wait(username, address)
        if wait:
            raise ValidationError(f"Too many failed sign-ins. Try again in {wait} seconds.", code="throttled")
        try:
            cleaned = super().clean()
        except ValidationError:
            throttle.record_failure(username, address)
            raise
        throttle.clear(username, address)
        return cleaned


class ThrottledLoginView(LoginView):
    form_class = ThrottledAuthenticationForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True
