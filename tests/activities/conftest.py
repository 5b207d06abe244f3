"""The sandbox (SMTP catcher and SMS/payments provider) and its reset, as the integration
tests have them."""

from tests.integrations.conftest import (  # noqa: F401 (fixtures)
    _fresh_sandbox,
    http,
    receiver,
    running,
    sandbox,
)
