"""Documents for people (the invoice and approval e-mails, the portal's pages) in the reader's
language and locale: gettext catalogs in ``rendering/locales``, Babel for numbers and units."""
