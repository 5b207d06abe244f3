"""PO matching: an invoice against its purchase order (2-way) and the delivery records
(3-way), with tolerances, duplicate detection and what issuing it consumes.

Pure and deterministic (dates are arguments), so the match stage of the invoice workflow
calls it directly. `model` holds the values; `match` the matcher.
"""
