"""How text leaves the product: column labels in words, CSV that is safe in a spreadsheet."""
