"""Checks of raw responses against the project's OpenAPI spec, shared by
the scripts that drive the mock with the official Python SDK."""

import yaml
from openapi_schema_validator import OAS30Validator


class SpecCheck:
    """The spec, and a count of the checks that passed."""

    def __init__(self, spec_path):
        with open(spec_path) as f:
            self.spec = yaml.safe_load(f)
        self.passed = 0

    def inline(self, node):
        """The schema with every local $ref replaced by its target."""
        if isinstance(node, dict):
            if "$ref" in node:
                name = node["$ref"].rsplit("/", 1)[-1]
                return self.inline(self.spec["components"]["schemas"][name])
            # oneOf alone decides (the variants' `type` enums exclude each
            # other); the discriminator's mapping refs would not resolve here.
            return {k: self.inline(v) for k, v in node.items() if k != "discriminator"}
        if isinstance(node, list):
            return [self.inline(v) for v in node]
        return node

    def response_schema(self, path, method, status="200"):
        op = self.spec["paths"][path][method]
        response = op["responses"][status]
        if "$ref" in response:
            response = self.spec["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
        return self.inline(response["content"]["application/json"]["schema"])

    def validate(self, body, path, method, status="200"):
        OAS30Validator(self.response_schema(path, method, status)).validate(body)

    def ok(self, label):
        self.passed += 1
        print(f"ok {label}")

    def check(self, label, raw, path, method, status="200"):
        """Validates a raw SDK response against the spec and returns its parsed value."""
        assert raw.http_response.status_code == int(status), (label, raw.http_response.status_code)
        self.validate(raw.http_response.json(), path, method, status)
        assert raw.http_response.headers.get("request-id"), label
        self.ok(label)
        return raw.parse()

    def summary(self):
        print(f"{self.passed} passed, 0 failed")
