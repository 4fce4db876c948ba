"""One module per vendor product, grouped by nothing but name; `connectors.products` says which port each serves."""
