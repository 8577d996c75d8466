"""CSV cells that a spreadsheet shows as text: the guard against formula injection (OWASP).

Excel, LibreOffice and Google Sheets run a cell that starts with =, +, -, @, a tab or a
carriage return as a formula, so a title typed as `=HYPERLINK(...)` would run on the
computer of whoever opens the audit log or a chart's table. Such text cells get a leading
apostrophe, which the spreadsheet hides. Numbers are left alone (-3 stays a number).

The incident export is not guarded: it is the file the importer reads back, and an
apostrophe would change the incidents on the round trip.
"""

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """The value as written to a CSV meant for spreadsheets."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_row(values):
    return [safe_cell(value) for value in values]
