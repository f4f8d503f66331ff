"""The typed scale table (it builds ``RunSpec``s) and the paper's numbers with their bars."""
