"""The ``invoiceflow`` command line: database, API keys, the dev stack and the demo."""
