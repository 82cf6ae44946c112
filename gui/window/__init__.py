"""The main window and the one place where tabs are wired to each other (one *_hookup module per tab)."""
