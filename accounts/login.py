from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.exceptions import ValidationError

from accounts import throttle


class ThrottledAuthenticationForm(AuthenticationForm):
    """The login form, refusing even a right password while the account or address must wait."""

    def clean(self):
        # The username as UsernameField cleaned it (NFKC), the one authenticate() checks: the raw
        # input would give "alice" with a full-width "a" a fresh count while "alice" is held back.
        username = self.cleaned_data.get("username", "")
        address = self.request.META.get("REMOTE_ADDR", "") if self.request else ""
        wait = throttle.seconds_to_wait(username, address)
        if wait:
            raise ValidationError(f"Too many failed sign-ins. Try again in {wait} seconds.", code="throttled")
        try:
            cleaned = super().clean()
        except ValidationError:
            throttle.record_failure(username, address)
            raise
        # Only a right password clears the count: a post with an empty password checks nothing.
        if self.user_cache is not None:
            throttle.clear(username, address)
        return cleaned


class ThrottledAdminAuthenticationForm(ThrottledAuthenticationForm, AdminAuthenticationForm):
    """The admin site's login form (staff only), held back by the same counts as the app's."""


class ThrottledLoginView(LoginView):
    form_class = ThrottledAuthenticationForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True
