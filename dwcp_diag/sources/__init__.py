"""Data sources: each loader turns one system's answers into tidy pandas frames."""
