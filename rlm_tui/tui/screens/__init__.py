"""Modal dialogs: confirming a question, choosing an export path."""
