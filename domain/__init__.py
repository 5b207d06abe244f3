"""Pure, deterministic business logic (money, tax, invoicing); safe to import in workflows."""
