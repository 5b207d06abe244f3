"""Documents for people: the invoice e-mail (HTML and text), amounts in the customer's locale."""
