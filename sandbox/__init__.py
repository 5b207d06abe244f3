"""A local stand-in for the outside world: SMS, payment and accounting providers and a mail catcher.

We cannot reach real providers from development machines or CI, yet the idempotency promise
("a retried activity never sends a second e-mail or charges twice") has to be tested against
something that speaks real HTTP and SMTP and that dedupes, fails and lies the way providers
do. Run it with ``python -m sandbox``; tests start it in-process with
:func:`sandbox.runner.running_sandbox`.
"""
