"""Feature visualization and concept tests (issue 22): what each unit wants to see, and which concepts a
class relies on, for any model the app trains or opens."""
