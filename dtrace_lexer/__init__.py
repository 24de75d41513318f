"""Pygments lexers for D (DTrace) and bpftrace, and the one vocabulary both share."""
