"""The OpenAPI schema class: drf-spectacular's, plus the error answers every API view can give.

drf-spectacular documents the success answer only; clients (and tests/test_api_fuzz.py,
which checks every answer against the schema) also need the errors DRF sends on its own:
400 for input that fails validation, 403 for a missing or revoked token or a role without
access (403 and not 401: session authentication comes first and sends no challenge), 404
for an id that is not there or a page past the end of a list.
"""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

ERROR_DETAIL = inline_serializer("ErrorDetail", fields={"detail": serializers.CharField()})
# Field name (or non_field_errors) to its messages: strings from serializers, or
# {"message", "code"} objects from the forms the similar and summary views validate with.
VALIDATION_ERRORS = {"type": "object", "additionalProperties": {}, "description": "Messages by field name."}


class ErrorDocumentingAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code, response in self._error_responses().items():
            responses.setdefault(code, self._get_response_for_code(response, code, direction=direction))
        return responses

    def _error_responses(self):
        errors = {"403": OpenApiResponse(ERROR_DETAIL, description="Not signed in, or the role may not do this.")}
        if self.method != "DELETE":
            errors["400"] = OpenApiResponse(VALIDATION_ERRORS, description="The input failed validation.")
        if "{" in self.path or self._is_paginated_list():
            errors["404"] = OpenApiResponse(ERROR_DETAIL, description="No such object, or a page past the end.")
        return errors

    def _is_paginated_list(self):
        return self._is_list_view() and getattr(self.view, "pagination_class", None) is not None
