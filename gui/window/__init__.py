"""The main window (main_window.py: composition only), the one place where tabs are wired to each other
(wiring.py), and one install function per tab (*_hookup.py). Tabs never import this package."""
