"""What is kept on disk: the answer cache, the rendered request files, the project's text files, atomic
writes and the digest of this code."""
